"""``jaxpde design CONFIG.yaml [--out DIR] [--resume]``: the worked inverse-design and
control problems.

A design config names a ``problem`` and may override its ``setup`` (grid, physics,
observations, noise), the ``optimiser`` and the ``regularisation``:

- ``burgers_initial_condition``: recover the initial condition of viscous Burgers from
  a noisy final state seen at a few sensors (design: its lowest Fourier modes, or the
  whole field with a smoothness penalty).
- ``kolmogorov_parameters``: estimate the viscosity and the forcing amplitude of 2D
  Kolmogorov flow from noisy vorticity at sparse sensors, with Laplace uncertainty.
- ``burgers_control``: a space-time forcing, piecewise constant in time, that drives 1D
  Burgers to a target profile (compared with the uncontrolled run).
- ``shallow_water_bump``: the height, centre and width of a bump on the bed of a
  finite-volume shallow-water flow, from the free surface at sparse gauges.

Outputs in the run directory: ``design.json`` (objective before/after, reduction,
recovered vs true values), ``history.jsonl``, ``design.png`` and orbax checkpoints.
"""

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from ._config import ConfigError, _number, _unknown

TOP_KEYS = ("name", "problem", "seed", "precision", "setup", "optimiser", "regularisation", "checkpoint_every")
OPTAX = ("lbfgs", "adam")
OPTIMISTIX = ("levenberg_marquardt", "gauss_newton", "dogleg", "bfgs")
OPTIMISER_KEYS = {"name": None, "steps": 100, "learning_rate": 1e-2, "rtol": 1e-8, "atol": 1e-8, "gtol": 1e-7}
REGULARISATION_KEYS = {"smoothness": 0.0, "total_variation": 0.0, "tikhonov": 0.0}

SETUPS = {
    "burgers_initial_condition": {
        "num_points": 128, "extent": 6.283185307179586, "viscosity": 0.05, "final_time": 1.0, "dt": 0.01,
        "modes": 4, "amplitude": 0.5, "sensors": 24, "noise": 0.01, "design": "fourier",
    },
    "kolmogorov_parameters": {
        "num_points": 32, "extent": 6.283185307179586, "viscosity": 0.05, "forcing_amplitude": 1.0,
        "forcing_wavenumber": 4, "drag": 0.1, "dt": 0.02, "final_time": 2.0, "snapshots": 4, "sensors": 48,
        "noise": 0.05, "initial_viscosity": 0.1, "initial_forcing_amplitude": 0.5,
    },
    "burgers_control": {
        "num_points": 64, "extent": 6.283185307179586, "viscosity": 0.02, "final_time": 1.0, "dt": 0.01,
        "intervals": 10, "control_weight": 1e-7,
    },
    "shallow_water_bump": {
        "num_cells": 100, "length": 10.0, "surface": 1.0, "discharge": 1.0, "height": 0.2, "centre": 5.0,
        "half_width": 1.0, "interface_width": 0.3, "final_time": 2.0, "snapshots": 4, "sensors": 24,
        "noise": 0.001, "initial_height": 0.1, "initial_centre": 4.5, "initial_half_width": 1.3,
        "reconstruction": "muscl_van_leer", "cfl": 0.4,
    },
}
DEFAULT_OPTIMISER = {"burgers_initial_condition": "levenberg_marquardt", "kolmogorov_parameters": "levenberg_marquardt",
                     "burgers_control": "lbfgs", "shallow_water_bump": "levenberg_marquardt"}


@dataclass
class DesignConfig:
    path: Path
    name: str
    problem: str
    seed: int
    precision: str
    setup: dict
    optimiser: dict
    regularisation: dict
    checkpoint_every: int
    raw: dict = field(default_factory=dict)


def parse_design_config(raw: dict, path) -> DesignConfig:
    """Validate a design config (one clear :class:`ConfigError` per problem)."""
    path = Path(path)
    file = str(path)
    for k in raw:
        if k not in TOP_KEYS:
            raise _unknown(k, k, TOP_KEYS, file)
    problem = raw.get("problem")
    if problem not in SETUPS:
        raise ConfigError(f"{file}: key 'problem' must be one of {', '.join(SETUPS)}, got {problem!r}")

    def section(key, defaults):
        given = raw.get(key) or {}
        if not isinstance(given, dict):
            raise ConfigError(f"{file}: key '{key}' must be a mapping")
        for k in given:
            if k not in defaults:
                raise _unknown(f"{key}.{k}", k, tuple(defaults), file)
        return {**defaults, **given}

    setup = section("setup", SETUPS[problem])
    for k, v in setup.items():
        if isinstance(SETUPS[problem][k], str):
            continue
        integer = isinstance(SETUPS[problem][k], int)
        _number(v, f"setup.{k}", file, integer=integer, positive=k not in ("control_weight",), nonnegative=True)
    if problem == "burgers_initial_condition" and setup["design"] not in ("fourier", "grid"):
        raise ConfigError(f"{file}: key 'setup.design' must be 'fourier' or 'grid', got {setup['design']!r}")
    opt = section("optimiser", {**OPTIMISER_KEYS, "name": DEFAULT_OPTIMISER[problem]})
    if opt["name"] not in OPTAX + OPTIMISTIX:
        raise ConfigError(f"{file}: key 'optimiser.name' must be one of {', '.join(OPTAX + OPTIMISTIX)}, "
                          f"got {opt['name']!r}")
    _number(opt["steps"], "optimiser.steps", file, integer=True, positive=True)
    for k in ("learning_rate", "rtol", "atol", "gtol"):
        _number(opt[k], f"optimiser.{k}", file, positive=True)
    reg = section("regularisation", REGULARISATION_KEYS)
    for k, v in reg.items():
        _number(v, f"regularisation.{k}", file, nonnegative=True)
    precision = raw.get("precision", "float64")
    if precision not in ("float32", "float64"):
        raise ConfigError(f"{file}: key 'precision' must be float32 or float64, got {precision!r}")
    seed = raw.get("seed", 0)
    _number(seed, "seed", file, integer=True, nonnegative=True)
    every = raw.get("checkpoint_every", 10)
    _number(every, "checkpoint_every", file, integer=True, positive=True)
    return DesignConfig(path, str(raw.get("name", path.stem)), problem, int(seed), precision, setup, opt, reg,
                        int(every), raw)


def load_design_config(path) -> DesignConfig:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(raw, dict) or "problem" not in raw:
        raise ConfigError(f"{path}: not a design config (no 'problem' key); use 'jaxpde simulate' or 'jaxpde train'")
    return parse_design_config(raw, path)


@dataclass
class Problem:
    """A worked problem: residuals ``r(x)`` (whitened by the noise where there is
    noise), an initial design, the truth (when known), and how to report and plot."""

    residuals: object
    design0: object
    bounds: object
    regularisers: tuple
    noise_floor: float | None  # expected ½‖r‖² at the truth (None: no noise)
    truth: object = None
    report: object = None  # (design, posterior) -> dict
    plot: object = None  # (design, axes) -> None
    baseline: dict = field(default_factory=dict)
    noise_std: float | None = None


def _observe(num_points, sensors, key):
    import jax

    return np.sort(np.asarray(jax.random.choice(key, num_points, (sensors,), replace=False)))


def _burgers_ic(s, reg, dtype, key):
    import jax
    import jax.numpy as jnp

    from .. import design as D, spectral
    from ..grids import PeriodicGrid
    from ..integrate import rollout_final

    grid = PeriodicGrid(s["num_points"], s["extent"])
    k_max = s["modes"]
    steps = round(s["final_time"] / s["dt"])
    k1, k2, k3 = jax.random.split(key, 3)
    scale = jnp.concatenate([jnp.ones(1), jnp.repeat(1.0 / jnp.arange(1, k_max + 1), 2)])
    c_true = (s["amplitude"] * scale * jax.random.normal(k1, (2 * k_max + 1,))).astype(dtype)[None]
    u_true = D.fourier_series(c_true, grid)
    idx = _observe(grid.num_points[0], s["sensors"], k2)

    def final(u0):
        stepper = spectral.ETDRK(spectral.Burgers(grid, viscosity=s["viscosity"]), s["dt"])
        return rollout_final(stepper, u0, steps, checkpoint=s["_checkpoint"])

    final = jax.jit(final)
    u_final = final(u_true)
    obs = u_final[0, idx] + s["noise"] * jax.random.normal(k3, idx.shape, dtype)
    as_field = (lambda c: D.fourier_series(c, grid)) if s["design"] == "fourier" else (lambda u: u)

    def residuals(x):
        return (final(as_field(x))[0, idx] - obs) / s["noise"]

    design0 = jnp.zeros_like(c_true) if s["design"] == "fourier" else jnp.zeros_like(u_true)
    regs = []
    if reg["smoothness"]:
        regs.append(D.Smoothness(reg["smoothness"], grid=grid if s["design"] == "grid" else None))
    if reg["total_variation"]:
        regs.append(D.TotalVariation(reg["total_variation"], grid=grid if s["design"] == "grid" else None))
    if reg["tikhonov"]:
        regs.append(D.Tikhonov(reg["tikhonov"]))
    x_grid = np.asarray(grid.coordinates()[0])

    def report(x, post):
        u_hat = as_field(x)
        out = {"initial_condition_relative_l2_error": float(jnp.linalg.norm(u_hat - u_true) / jnp.linalg.norm(u_true)),
               "final_state_relative_l2_error": float(jnp.linalg.norm(final(u_hat) - u_final)
                                                      / jnp.linalg.norm(u_final))}
        if s["design"] == "fourier":
            out["true_coefficients"] = np.asarray(c_true[0]).tolist()
            out["recovered_coefficients"] = np.asarray(x[0]).tolist()
            if post is not None:
                z = np.abs(np.asarray(x - c_true)) / np.asarray(post.std)
                out["coefficient_std"] = np.asarray(post.std[0]).tolist()
                out["max_z_score"] = float(z.max())
        return out

    def plot(x, axes):
        u_hat = as_field(x)
        axes[0].plot(x_grid, np.asarray(u_true[0]), "k", label="true u(0)")
        axes[0].plot(x_grid, np.asarray(u_hat[0]), "C1--", label="recovered u(0)")
        axes[0].legend(fontsize=7)
        axes[0].set(title="initial condition", xlabel="x")
        axes[1].plot(x_grid, np.asarray(u_final[0]), "k", label="true u(T)")
        axes[1].plot(x_grid, np.asarray(final(u_hat)[0]), "C1--", label="from recovered u(0)")
        axes[1].plot(x_grid[idx], np.asarray(obs), "C3o", ms=3, label="noisy sensors")
        axes[1].legend(fontsize=7)
        axes[1].set(title="final state", xlabel="x")

    return Problem(residuals, design0, None, tuple(regs), 0.5 * s["sensors"], c_true if s["design"] == "fourier"
                   else u_true, report, plot, noise_std=s["noise"])


def _kolmogorov(s, reg, dtype, key):
    import jax
    import jax.numpy as jnp

    from .. import design as D, ic, spectral
    from ..grids import PeriodicGrid
    from ..integrate import rollout

    grid = PeriodicGrid((s["num_points"],) * 2, s["extent"])
    steps = round(s["final_time"] / s["dt"])
    every = steps // s["snapshots"]
    if every * s["snapshots"] != steps:
        raise ConfigError("setup.snapshots must divide final_time / dt")
    k1, k2, k3 = jax.random.split(key, 3)
    w0 = ic.gaussian_random_field(grid, key=k1, length_scale=1.0).astype(dtype)
    w0 = w0 / jnp.std(w0)

    def simulate(p):
        pde = spectral.kolmogorov_flow(grid, p["viscosity"], drag=s["drag"], forcing_amplitude=p["forcing_amplitude"],
                                       forcing_wavenumber=s["forcing_wavenumber"])
        return rollout(spectral.ETDRK(pde, s["dt"]), w0, steps, save_every=every, include_initial=False,
                       checkpoint=s["_checkpoint"])

    idx = _observe(grid.num_points[0] * grid.num_points[1], s["sensors"], k2)
    simulate = jax.jit(simulate)
    truth = {"viscosity": jnp.asarray(s["viscosity"], dtype), "forcing_amplitude": jnp.asarray(s["forcing_amplitude"],
                                                                                                dtype)}
    traj = simulate(truth)

    def observe(tr):
        return tr.reshape(tr.shape[0], -1)[:, idx]

    obs = observe(traj) + s["noise"] * jax.random.normal(k3, (s["snapshots"], s["sensors"]), dtype)

    def residuals(p):
        return (observe(simulate(p)) - obs) / s["noise"]

    design0 = {"viscosity": jnp.asarray(s["initial_viscosity"], dtype),
               "forcing_amplitude": jnp.asarray(s["initial_forcing_amplitude"], dtype)}
    bounds = D.Box({"viscosity": 1e-4, "forcing_amplitude": 0.0}, {"viscosity": 1.0, "forcing_amplitude": 10.0})

    def report(p, post):
        out = {f"true_{k}": float(v) for k, v in truth.items()}
        out.update({f"recovered_{k}": float(v) for k, v in p.items()})
        if post is not None:
            out.update({f"std_{k}": float(v) for k, v in post.std.items()})
            out["max_z_score"] = max(abs(float(p[k] - truth[k])) / float(post.std[k]) for k in truth)
        return out

    def plot(p, axes):
        est = simulate(p)
        axes[0].imshow(np.asarray(traj[-1, 0]).T, origin="lower", cmap="RdBu_r")
        axes[0].set(title="true vorticity at T")
        flat = np.unravel_index(idx, grid.num_points)
        axes[0].plot(flat[0], flat[1], "k.", ms=2)
        axes[1].plot(np.asarray(obs).ravel(), np.asarray(observe(est)).ravel(), ".", ms=3)
        lim = float(np.abs(np.asarray(obs)).max())
        axes[1].plot([-lim, lim], [-lim, lim], "k", lw=0.5)
        axes[1].set(title="fitted vs observed vorticity", xlabel="observed", ylabel="fitted")

    return Problem(residuals, design0, bounds, (), 0.5 * s["sensors"] * s["snapshots"], truth, report, plot,
                   noise_std=s["noise"])


def _burgers_control(s, reg, dtype, key):
    import jax
    import jax.numpy as jnp

    from .. import design as D, spectral
    from ..grids import PeriodicGrid

    grid = PeriodicGrid(s["num_points"], s["extent"])
    steps = round(s["final_time"] / s["dt"])
    x = jnp.asarray(grid.coordinates()[0], dtype)
    u0 = jnp.sin(x)[None]
    target = (0.5 * jnp.cos(2 * x) + 0.3 * jnp.sin(x))[None]
    k = s["intervals"]
    if steps % k:
        raise ConfigError("setup.intervals must divide final_time / dt")

    def final(f):
        stepper = spectral.ETDRK(spectral.Burgers(grid, viscosity=s["viscosity"]), s["dt"])
        return D.piecewise_constant_rollout(stepper, u0, f, steps, checkpoint=s["_checkpoint"])

    final = jax.jit(final)
    n = grid.num_points[0]

    def residuals(f):
        return (final(f) - target).ravel() / jnp.sqrt(n)

    regs = [D.Tikhonov(s["control_weight"])]
    if reg["smoothness"]:
        regs.append(D.Smoothness(reg["smoothness"], axes=0))
    if reg["tikhonov"]:
        regs.append(D.Tikhonov(reg["tikhonov"]))
    design0 = jnp.zeros((k, 1, n), dtype)
    uncontrolled = float(0.5 * jnp.sum(residuals(design0) ** 2))

    def report(f, post):
        misfit = float(0.5 * jnp.sum(residuals(f) ** 2))
        return {"uncontrolled_misfit": uncontrolled, "controlled_misfit": misfit,
                "misfit_reduction": uncontrolled / max(misfit, 1e-300),
                "control_rms": float(jnp.sqrt(jnp.mean(f**2)))}

    xs = np.asarray(x)

    def plot(f, axes):
        axes[0].plot(xs, np.asarray(target[0]), "k", label="target")
        axes[0].plot(xs, np.asarray(final(design0)[0]), "C0:", label="uncontrolled u(T)")
        axes[0].plot(xs, np.asarray(final(f)[0]), "C1--", label="controlled u(T)")
        axes[0].legend(fontsize=7)
        axes[0].set(title="final state", xlabel="x")
        im = axes[1].imshow(np.asarray(f[:, 0]), aspect="auto", origin="lower", cmap="RdBu_r",
                            extent=(0, float(grid.extent[0]), 0, s["final_time"]))
        axes[1].figure.colorbar(im, ax=axes[1])
        axes[1].set(title="control f(x, t)", xlabel="x", ylabel="t")

    return Problem(residuals, design0, None, tuple(regs), None, None, report, plot,
                   baseline={"uncontrolled_misfit": uncontrolled})


def bump_bathymetry(params, x, interface_width):
    r"""``b(x) = a · χ(w - |x - c|)``: a plateau bump of height ``a``, centre ``c`` and
    half-width ``w`` described by a smooth indicator of the level set
    ``φ = w - |x - c|`` (``|·|`` smoothed near 0)."""
    from .. import design as D
    import jax.numpy as jnp

    dist = jnp.sqrt((x - params["centre"]) ** 2 + 1e-4)
    return params["height"] * D.smooth_indicator(params["half_width"] - dist, interface_width)


def _shallow_water(s, reg, dtype, key):
    import jax
    import jax.numpy as jnp

    from .. import design as D, fv
    from ..grids import CellGrid
    from ..integrate import SSPRK3, rollout

    grid = CellGrid(s["num_cells"], 0.0, s["length"])
    x = jnp.asarray(grid.coordinates()[0], dtype)
    speed = s["discharge"] / (s["surface"] - s["height"]) + np.sqrt(9.81 * s["surface"])
    dt = s["cfl"] * s["length"] / s["num_cells"] / speed
    steps_per = max(1, round(s["final_time"] / s["snapshots"] / dt))
    dt = s["final_time"] / s["snapshots"] / steps_per
    recon = fv.make_reconstruction(s["reconstruction"])

    def simulate(p):
        b = bump_bathymetry(p, x, s["interface_width"])
        law = fv.ShallowWater(bathymetry=b)
        pde = fv.FiniteVolume(law, grid, recon, fv.HLL(), bc="periodic")
        u0 = jnp.stack([s["surface"] - b, jnp.full_like(b, s["discharge"])])
        traj = rollout(SSPRK3(pde, dt), u0, steps_per * s["snapshots"], save_every=steps_per,
                       include_initial=False, checkpoint=s["_checkpoint"])
        return traj[:, 0] + b  # free surface

    simulate = jax.jit(simulate)
    k2, k3 = jax.random.split(key)
    idx = _observe(s["num_cells"], s["sensors"], k2)
    truth = {k: jnp.asarray(s[k], dtype) for k in ("height", "centre", "half_width")}
    surf = simulate(truth)
    obs = surf[:, idx] + s["noise"] * jax.random.normal(k3, (s["snapshots"], s["sensors"]), dtype)

    def residuals(p):
        return (simulate(p)[:, idx] - obs) / s["noise"]

    design0 = {k: jnp.asarray(s[f"initial_{k}"], dtype) for k in ("height", "centre", "half_width")}
    bounds = D.Box({"height": 0.0, "centre": 0.0, "half_width": 0.2},
                   {"height": 0.8 * s["surface"], "centre": s["length"], "half_width": 0.4 * s["length"]})

    def report(p, post):
        out = {f"true_{k}": float(v) for k, v in truth.items()}
        out.update({f"recovered_{k}": float(v) for k, v in p.items()})
        if post is not None:
            out.update({f"std_{k}": float(v) for k, v in post.std.items()})
            out["max_z_score"] = max(abs(float(p[k] - truth[k])) / float(post.std[k]) for k in truth)
        return out

    xs = np.asarray(x)

    def plot(p, axes):
        axes[0].plot(xs, np.asarray(bump_bathymetry(truth, x, s["interface_width"])), "k", label="true bed")
        axes[0].plot(xs, np.asarray(bump_bathymetry(design0, x, s["interface_width"])), "C0:", label="initial guess")
        axes[0].plot(xs, np.asarray(bump_bathymetry(p, x, s["interface_width"])), "C1--", label="recovered bed")
        axes[0].legend(fontsize=7)
        axes[0].set(title="bed shape", xlabel="x")
        est = simulate(p)
        for j in range(s["snapshots"]):
            axes[1].plot(xs, np.asarray(surf[j]), "k", lw=0.8)
            axes[1].plot(xs, np.asarray(est[j]), "C1--", lw=0.8)
            axes[1].plot(xs[idx], np.asarray(obs[j]), "C3.", ms=3)
        axes[1].set(title="free surface (true, fitted, gauges)", xlabel="x")

    return Problem(residuals, design0, bounds, (), 0.5 * s["sensors"] * s["snapshots"], truth, report, plot,
                   noise_std=s["noise"])


BUILDERS = {"burgers_initial_condition": _burgers_ic, "kolmogorov_parameters": _kolmogorov,
            "burgers_control": _burgers_control, "shallow_water_bump": _shallow_water}


def uses_reverse_mode(cfg: DesignConfig) -> bool:
    """Whether the config's optimiser differentiates in reverse mode (optax, BFGS) rather
    than forward mode (the Jacobians of Gauss–Newton, Levenberg–Marquardt, dogleg)."""
    return cfg.optimiser["name"] in (*OPTAX, "bfgs")


def build_design_problem(cfg: DesignConfig) -> Problem:
    """The residuals, initial design, truth and reports of a validated design config.
    Rollouts are gradient-checkpointed when the optimiser uses reverse mode (memory
    bounded in the number of steps); forward mode needs no checkpoints."""
    import jax

    dtype = "float64" if cfg.precision == "float64" else "float32"
    setup = {**cfg.setup, "_checkpoint": uses_reverse_mode(cfg)}
    try:
        return BUILDERS[cfg.problem](setup, cfg.regularisation, dtype, jax.random.PRNGKey(cfg.seed))
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{cfg.path}: key 'setup' (problem '{cfg.problem}'): {e}") from None


def run_design(cfg: DesignConfig, run_dir: Path, *, resume: bool = False, progress=None) -> dict:
    """Solve a design config; write ``design.json``, ``history.jsonl`` and ``design.png``."""
    import jax

    if cfg.precision == "float64":
        jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import optax
    from jax.flatten_util import ravel_pytree

    from .. import design as D

    run_dir = Path(run_dir)
    if not resume and (run_dir / "design.json").exists():
        raise ConfigError(f"{run_dir} already holds a finished design run; pass --out to choose another directory")
    t0 = time.perf_counter()
    prob = build_design_problem(cfg)

    def objective(x):
        return 0.5 * jnp.sum(prob.residuals(x) ** 2)

    total = jax.jit(lambda x: objective(x) + sum(r(x) for r in prob.regularisers))
    initial = float(total(prob.design0))
    opt = cfg.optimiser
    common = dict(bounds=prob.bounds, regularisers=prob.regularisers, run_dir=run_dir,
                  checkpoint_every=cfg.checkpoint_every, resume=resume, progress=progress,
                  config={"problem": cfg.problem, "setup": cfg.setup,
                          "optimiser": {k: v for k, v in opt.items() if k != "steps"},
                          "regularisation": cfg.regularisation, "seed": cfg.seed, "precision": cfg.precision})
    if opt["name"] in OPTAX:
        optimiser = optax.lbfgs() if opt["name"] == "lbfgs" else optax.adam(opt["learning_rate"])
        res = D.minimise(objective, prob.design0, optimiser, num_steps=opt["steps"], gtol=opt["gtol"], **common)
    else:
        res = D.least_squares(prob.residuals, prob.design0, opt["name"], max_steps=opt["steps"], rtol=opt["rtol"],
                              atol=opt["atol"], gtol=opt["gtol"], **common)
    post = None
    if prob.noise_std is not None and ravel_pytree(res.design)[0].size <= 64:
        post = D.laplace(lambda x: prob.residuals(x) * prob.noise_std, res.design, noise_std=prob.noise_std,
                         regularisers=prob.regularisers)
    summary = {
        "name": cfg.name, "problem": cfg.problem, "optimiser": opt["name"], "iterations": len(res.history),
        "initial_objective": initial, "final_objective": res.objective,
        "reduction": initial / max(res.objective, 1e-300), "noise_floor": prob.noise_floor,
        "converged": res.converged, "wall_s": time.perf_counter() - t0, **prob.baseline,
        **prob.report(res.design, post),
    }
    (run_dir / "design.json").write_text(json.dumps(summary, indent=2))
    _plot(cfg, prob, res, run_dir / "design.png")
    summary["png"] = str(run_dir / "design.png")
    return summary


def _plot(cfg, prob, res, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 3, figsize=(13, 3.6))
    rec = res.history
    if rec:
        s = [r["step"] for r in rec]
        ax[0].semilogy(s, [r["objective"] for r in rec], label="objective")
        ax[0].semilogy(s, [r["grad_norm"] for r in rec], label="gradient norm")
        if prob.noise_floor:
            ax[0].axhline(prob.noise_floor, color="k", ls=":", lw=0.8, label="noise floor")
        ax[0].legend(fontsize=7)
    ax[0].set(title=f"{cfg.name} ({cfg.optimiser['name']})", xlabel="iteration")
    ax[0].grid(True, which="both", alpha=0.3)
    prob.plot(res.design, ax[1:])
    fig.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)
