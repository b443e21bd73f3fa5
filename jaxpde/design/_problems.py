"""The worked inverse-design and control problems, as library objects.

Each constructor builds a [`DesignProblem`][jaxpde.design.DesignProblem]: a synthetic truth, noisy observations,
the residuals ``r(x)`` whitened by the noise, an initial design, bounds, and how to
report and plot a result. [`solve_problem`][jaxpde.design.solve_problem] runs any of them with an optax or
optimistix optimiser and writes ``design.json``, ``history.jsonl`` and ``design.png``.
``jaxpde design CONFIG.yaml`` is a thin face of these functions.

- [`burgers_initial_condition`][jaxpde.design.burgers_initial_condition]: recover the initial condition of viscous
  Burgers
  from a noisy final state seen at a few sensors.
- [`kolmogorov_parameters`][jaxpde.design.kolmogorov_parameters]: the viscosity and forcing amplitude of 2D Kolmogorov
  flow from noisy vorticity at sparse sensors, with Laplace uncertainty.
- [`burgers_control`][jaxpde.design.burgers_control]: a space-time forcing, piecewise constant in time, that
  drives 1D Burgers to a target profile.
- [`shallow_water_bump`][jaxpde.design.shallow_water_bump]: height, centre and width of a bump on the bed of a
  finite-volume shallow-water flow, from the free surface at sparse gauges.
"""

import json
import math
import re
import time
from collections.abc import Callable
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from .._checks import check_int
from ._analysis import fourier_series, laplace, piecewise_constant_rollout, smooth_indicator
from ._optimise import DesignResult, least_squares, minimise
from ._regularise import Box, Smoothness, Tikhonov, TotalVariation

OPTAX_OPTIMISERS = ("lbfgs", "adam")
OPTIMISTIX_OPTIMISERS = ("levenberg_marquardt", "gauss_newton", "dogleg", "bfgs")


class DesignProblem(eqx.Module):
    """A worked design problem: what to minimise, from where, and how to report it.

    - `name`: the problem's name.
    - `residuals`: ``x -> r(x)``; the misfit is ``½‖r‖²`` (whitened by the noise where
      there is noise, so the misfit at the truth is about half the number of data).
    - `design0`: the initial design; `bounds`: a [`Box`][jaxpde.design.Box] or ``None``.
    - `regularisers`: penalties added to the misfit.
    - `noise_std`, `noise_floor`: the observation noise and the expected misfit at the
      truth (``None`` for a control problem without noise).
    - `truth`: the design that made the data (``None`` when there is none).
    - `report`: ``(design, posterior | None) -> dict`` of problem-specific results.
    - `plot`: ``(design, axes) -> None``, two panels.
    - `baseline`: reference numbers (e.g. the uncontrolled misfit).
    - `default_optimiser`: the optimiser the problem is meant for.
    """

    name: str = eqx.field(static=True)
    residuals: Callable
    design0: object
    bounds: Box | None
    regularisers: tuple
    noise_std: float | None = eqx.field(static=True)
    noise_floor: float | None = eqx.field(static=True)
    truth: object
    report: Callable
    plot: Callable
    baseline: dict
    default_optimiser: str = eqx.field(static=True)

    def misfit(self, x):
        """``½‖r(x)‖²``."""
        return 0.5 * jnp.sum(ravel_pytree(self.residuals(x))[0] ** 2)

    def objective(self, x):
        """The misfit plus the regularisers."""
        return self.misfit(x) + sum((r(x) for r in self.regularisers), jnp.zeros(()))


# ------------------------------------------------------------------------------ checks
def _positive(name, value, *, integer=False, allow_zero=False):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {value!r}.")
    if integer and not float(value).is_integer():
        raise ValueError(f"{name} must be an integer, got {value!r}.")
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name} must be {'>= 0' if allow_zero else '> 0'} and finite, got {value!r}.")
    return int(value) if integer else float(value)


def num_steps_of(final_time: float, dt: float) -> int:
    """The number of steps of size `dt` in `final_time`; ``ValueError`` unless `dt`
    divides `final_time` (to 1e-9 relative) into at least one step.

    **Arguments:** `final_time`, `dt`. **Returns:** the number of steps.
    """
    final_time, dt = _positive("final_time", final_time), _positive("dt", dt)
    n = round(final_time / dt)
    if n < 1 or abs(n * dt - final_time) > 1e-9 * final_time:
        raise ValueError(
            f"dt ({dt:g}) must divide final_time ({final_time:g}) into a whole number of steps "
            f"(final_time / dt = {final_time / dt:.6g})."
        )
    return n


def _divides(what, k, n, of):
    if n % k:
        raise ValueError(f"{what} ({k}) must divide {of} ({n}).")
    return n // k


def _sensors(num, total, key):
    num = _positive("sensors", num, integer=True)
    if num > total:
        raise ValueError(f"sensors ({num}) cannot exceed the number of points ({total}).")
    return np.sort(np.asarray(jax.random.choice(key, total, (num,), replace=False)))


def _dtype(dtype):
    dtype = jnp.dtype(dtype)
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(f"dtype must be a floating-point type, got {dtype}.")
    if dtype == jnp.float64 and not jax.config.jax_enable_x64:
        raise ValueError("dtype float64 needs jax_enable_x64 (jax.config.update('jax_enable_x64', True)).")
    return dtype


def _parameter_report(truth):
    def report(p, post):
        out = {f"true_{k}": float(v) for k, v in truth.items()}
        out.update({f"recovered_{k}": float(v) for k, v in p.items()})
        if post is not None:
            out.update({f"std_{k}": float(v) for k, v in post.std.items()})
            out["max_z_score"] = max(abs(float(p[k] - truth[k])) / float(post.std[k]) for k in truth)
        return out

    return report


# ---------------------------------------------------------------------------- problems
def burgers_initial_condition(
    *,
    key,
    num_points: int = 128,
    extent: float = 2 * math.pi,
    viscosity: float = 0.05,
    final_time: float = 1.0,
    dt: float = 0.01,
    modes: int = 4,
    amplitude: float = 0.5,
    sensors: int = 24,
    noise: float = 0.01,
    design: str = "fourier",
    smoothness: float = 0.0,
    total_variation: float = 0.0,
    tikhonov: float = 0.0,
    dtype="float64",
    checkpoint: bool = True,
    mesh=None,
) -> DesignProblem:
    r"""Recover the initial condition of 1D viscous Burgers (ETDRK4) from its final
    state at `final_time`, observed at `sensors` random points with Gaussian noise of
    standard deviation `noise`.

    The truth is a Fourier series with `modes` modes (coefficients ~ `amplitude`/k).
    ``design="fourier"`` searches those ``2 modes + 1`` coefficients; ``"grid"`` the
    whole field (add `smoothness` or `total_variation` to make it well-posed).
    `checkpoint`: gradient-checkpoint the rollout (for reverse-mode optimisers).

    **Arguments:** a PRNG `key` (truth, sensors, noise), `num_points`, `extent` ``L``, `viscosity`, `final_time`,
    `dt` (must divide it), `modes`, `amplitude`, `sensors`, `noise`, `design`, the penalty weights `smoothness`,
    `total_variation`, `tikhonov`, `dtype`, `checkpoint`.

    `mesh`: a device mesh to split the fields over (see [`jaxpde.grids.spatial_mesh`][jaxpde.grids.spatial_mesh]).

    **Returns:** a [`DesignProblem`][jaxpde.design.DesignProblem].
    """
    from .. import spectral
    from ..grids import PeriodicGrid
    from ..integrate import rollout_final

    dtype = _dtype(dtype)
    if design not in ("fourier", "grid"):
        raise ValueError(f"design must be 'fourier' or 'grid', got {design!r}.")
    grid = PeriodicGrid(num_points, extent, mesh=mesh)
    steps = num_steps_of(final_time, dt)
    k_max = _positive("modes", modes, integer=True)
    noise = _positive("noise", noise)
    k1, k2, k3 = jax.random.split(key, 3)
    scale = jnp.concatenate([jnp.ones(1), jnp.repeat(1.0 / jnp.arange(1, k_max + 1), 2)])
    c_true = (amplitude * scale * jax.random.normal(k1, (2 * k_max + 1,))).astype(dtype)[None]
    u_true = fourier_series(c_true, grid)
    idx = _sensors(sensors, grid.num_points[0], k2)
    stepper = spectral.ETDRK(spectral.Burgers(grid, viscosity=viscosity), dt)
    final = jax.jit(lambda u0: rollout_final(stepper, u0, steps, checkpoint=checkpoint))
    u_final = final(u_true)
    obs = u_final[0, idx] + noise * jax.random.normal(k3, idx.shape, dtype)
    as_field = (lambda c: fourier_series(c, grid)) if design == "fourier" else (lambda u: u)

    def residuals(x):
        return (final(as_field(x))[0, idx] - obs) / noise

    on_grid = grid if design == "grid" else None
    regs = []
    if smoothness:
        regs.append(Smoothness(smoothness, grid=on_grid))
    if total_variation:
        regs.append(TotalVariation(total_variation, grid=on_grid))
    if tikhonov:
        regs.append(Tikhonov(tikhonov))
    x_grid = np.asarray(grid.coordinates()[0])

    def report(x, post):
        u_hat = as_field(x)
        out = {
            "initial_condition_relative_l2_error": float(jnp.linalg.norm(u_hat - u_true) / jnp.linalg.norm(u_true)),
            "final_state_relative_l2_error": float(jnp.linalg.norm(final(u_hat) - u_final) / jnp.linalg.norm(u_final)),
        }
        if design == "fourier":
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

    design0 = jnp.zeros_like(c_true) if design == "fourier" else jnp.zeros_like(u_true)
    return DesignProblem(
        "burgers_initial_condition",
        residuals,
        design0,
        None,
        tuple(regs),
        noise,
        0.5 * len(idx),
        c_true if design == "fourier" else u_true,
        report,
        plot,
        {},
        DEFAULT_OPTIMISERS["burgers_initial_condition"],
    )


def kolmogorov_parameters(
    *,
    key,
    num_points: int = 32,
    extent: float = 2 * math.pi,
    viscosity: float = 0.05,
    forcing_amplitude: float = 1.0,
    forcing_wavenumber: int = 4,
    drag: float = 0.1,
    dt: float = 0.02,
    final_time: float = 2.0,
    snapshots: int = 4,
    sensors: int = 48,
    noise: float = 0.05,
    initial_viscosity: float = 0.1,
    initial_forcing_amplitude: float = 0.5,
    dtype="float64",
    checkpoint: bool = True,
    mesh=None,
) -> DesignProblem:
    r"""Estimate the viscosity ``ν`` and forcing amplitude ``A`` of 2D Kolmogorov flow
    (vorticity form, ETDRK4) from the vorticity at `sensors` random points at
    `snapshots` equally spaced times, with Gaussian noise `noise`. Differentiated with
    respect to both, through the whole rollout; bounds ``ν ∈ [1e-4, 1]``,
    ``A ∈ [0, 10]``.

    **Arguments:** a PRNG `key`, `num_points` per axis, `extent` ``L``, the true `viscosity`, `forcing_amplitude`,
    `forcing_wavenumber` and `drag`, `dt` (must divide the snapshot interval), `final_time`, `snapshots`, `sensors`,
    `noise`, the starting guesses `initial_viscosity` and `initial_forcing_amplitude`, `dtype`, `checkpoint`
    (gradient-checkpoint the rollout).

    `mesh`: a device mesh to split the fields over (see [`jaxpde.grids.spatial_mesh`][jaxpde.grids.spatial_mesh]).

    **Returns:** a [`DesignProblem`][jaxpde.design.DesignProblem].
    """
    from .. import ic, spectral
    from ..grids import PeriodicGrid
    from ..integrate import rollout

    dtype = _dtype(dtype)
    grid = PeriodicGrid((num_points,) * 2, extent, mesh=mesh)
    steps = num_steps_of(final_time, dt)
    snapshots = _positive("snapshots", snapshots, integer=True)
    every = _divides("snapshots", snapshots, steps, "final_time / dt")
    noise = _positive("noise", noise)
    for name, v in (("viscosity", viscosity), ("initial_viscosity", initial_viscosity)):
        _positive(name, v)
    k1, k2, k3 = jax.random.split(key, 3)
    w0 = ic.gaussian_random_field(grid, key=k1, length_scale=1.0).astype(dtype)
    w0 = w0 / jnp.std(w0)

    def simulate(p):
        pde = spectral.kolmogorov_flow(
            grid,
            p["viscosity"],
            drag=drag,
            forcing_amplitude=p["forcing_amplitude"],
            forcing_wavenumber=forcing_wavenumber,
        )
        return rollout(
            spectral.ETDRK(pde, dt), w0, steps, save_every=every, include_initial=False, checkpoint=checkpoint
        )

    idx = _sensors(sensors, grid.num_points[0] * grid.num_points[1], k2)
    simulate = jax.jit(simulate)
    truth = {"viscosity": jnp.asarray(viscosity, dtype), "forcing_amplitude": jnp.asarray(forcing_amplitude, dtype)}
    traj = simulate(truth)

    def observe(tr):
        return tr.reshape(tr.shape[0], -1)[:, idx]

    obs = observe(traj) + noise * jax.random.normal(k3, (snapshots, len(idx)), dtype)

    def residuals(p):
        return (observe(simulate(p)) - obs) / noise

    design0 = {
        "viscosity": jnp.asarray(initial_viscosity, dtype),
        "forcing_amplitude": jnp.asarray(initial_forcing_amplitude, dtype),
    }
    bounds = Box({"viscosity": 1e-4, "forcing_amplitude": 0.0}, {"viscosity": 1.0, "forcing_amplitude": 10.0})

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

    return DesignProblem(
        "kolmogorov_parameters",
        residuals,
        design0,
        bounds,
        (),
        noise,
        0.5 * len(idx) * snapshots,
        truth,
        _parameter_report(truth),
        plot,
        {},
        DEFAULT_OPTIMISERS["kolmogorov_parameters"],
    )


def burgers_control(
    *,
    key=None,
    num_points: int = 64,
    extent: float = 2 * math.pi,
    viscosity: float = 0.02,
    final_time: float = 1.0,
    dt: float = 0.01,
    intervals: int = 10,
    control_weight: float = 1e-7,
    smoothness: float = 0.0,
    tikhonov: float = 0.0,
    dtype="float64",
    checkpoint: bool | int = True,
    mesh=None,
) -> DesignProblem:
    r"""Find a forcing ``f(x, t)``, constant on each of `intervals` equal time
    intervals, that drives 1D Burgers from ``sin x`` to ``0.5 cos 2x + 0.3 sin x`` at
    `final_time`; misfit ``‖u(T) - target‖² / (2N)`` plus ``control_weight ‖f‖²``.
    Deterministic: `key` is accepted for a uniform signature and unused. `checkpoint`:
    as in [`piecewise_constant_rollout`][jaxpde.design.piecewise_constant_rollout] (``True``, or a number of nested
    levels).

    **Arguments:** `key`, `num_points`, `extent` ``L``, `viscosity`, `final_time`, `dt` (must divide it),
    `intervals`, `control_weight`, the optional `smoothness` and `tikhonov` penalty weights, `dtype`, `checkpoint`.

    `mesh`: a device mesh to split the fields over (see [`jaxpde.grids.spatial_mesh`][jaxpde.grids.spatial_mesh]).

    **Returns:** a [`DesignProblem`][jaxpde.design.DesignProblem].
    """
    from .. import spectral
    from ..grids import PeriodicGrid

    del key
    dtype = _dtype(dtype)
    grid = PeriodicGrid(num_points, extent, mesh=mesh)
    steps = num_steps_of(final_time, dt)
    k = _positive("intervals", intervals, integer=True)
    _divides("intervals", k, steps, "final_time / dt")
    _positive("control_weight", control_weight, allow_zero=True)
    x = jnp.asarray(grid.coordinates()[0], dtype)
    u0 = jnp.sin(x)[None]
    target = (0.5 * jnp.cos(2 * x) + 0.3 * jnp.sin(x))[None]
    stepper = spectral.ETDRK(spectral.Burgers(grid, viscosity=viscosity), dt)
    final = jax.jit(lambda f: piecewise_constant_rollout(stepper, u0, f, steps, checkpoint=checkpoint))
    n = grid.num_points[0]

    def residuals(f):
        return (final(f) - target).ravel() / jnp.sqrt(n)

    regs = [Tikhonov(control_weight)] if control_weight else []
    if smoothness:
        regs.append(Smoothness(smoothness, axes=0))
    if tikhonov:
        regs.append(Tikhonov(tikhonov))
    design0 = jnp.zeros((k, 1, n), dtype)
    uncontrolled = float(0.5 * jnp.sum(residuals(design0) ** 2))

    def report(f, post):
        misfit = float(0.5 * jnp.sum(residuals(f) ** 2))
        return {
            "uncontrolled_misfit": uncontrolled,
            "controlled_misfit": misfit,
            "misfit_reduction": uncontrolled / max(misfit, 1e-300),
            "control_rms": float(jnp.sqrt(jnp.mean(f**2))),
        }

    xs = np.asarray(x)

    def plot(f, axes):
        axes[0].plot(xs, np.asarray(target[0]), "k", label="target")
        axes[0].plot(xs, np.asarray(final(design0)[0]), "C0:", label="uncontrolled u(T)")
        axes[0].plot(xs, np.asarray(final(f)[0]), "C1--", label="controlled u(T)")
        axes[0].legend(fontsize=7)
        axes[0].set(title="final state", xlabel="x")
        im = axes[1].imshow(
            np.asarray(f[:, 0]),
            aspect="auto",
            origin="lower",
            cmap="RdBu_r",
            extent=(0, float(grid.extent[0]), 0, final_time),
        )
        axes[1].figure.colorbar(im, ax=axes[1])
        axes[1].set(title="control f(x, t)", xlabel="x", ylabel="t")

    return DesignProblem(
        "burgers_control",
        residuals,
        design0,
        None,
        tuple(regs),
        None,
        None,
        None,
        report,
        plot,
        {"uncontrolled_misfit": uncontrolled},
        DEFAULT_OPTIMISERS["burgers_control"],
    )


def bump_bathymetry(params, x, interface_width):
    r"""``b(x) = a · χ(w - |x - c|)``: a plateau bump of height ``a``, centre ``c`` and
    half-width ``w`` described by a smooth indicator of the level set
    ``φ = w - |x - c|`` (``|·|`` smoothed near 0).

    **Arguments:** `params` ``(a, c, w)``, the cell centres `x`, and the `interface_width` of the indicator.

    **Returns:** ``b(x)``.
    """
    dist = jnp.sqrt((x - params["centre"]) ** 2 + 1e-4)
    return params["height"] * smooth_indicator(params["half_width"] - dist, interface_width)


def shallow_water_bump(
    *,
    key,
    num_cells: int = 100,
    length: float = 10.0,
    surface: float = 1.0,
    discharge: float = 1.0,
    height: float = 0.2,
    centre: float = 5.0,
    half_width: float = 1.0,
    interface_width: float = 0.3,
    final_time: float = 2.0,
    snapshots: int = 4,
    sensors: int = 24,
    noise: float = 0.001,
    initial_height: float = 0.1,
    initial_centre: float = 4.5,
    initial_half_width: float = 1.3,
    reconstruction: str = "muscl_van_leer",
    cfl: float = 0.4,
    dtype="float64",
    checkpoint: bool = True,
    mesh=None,
) -> DesignProblem:
    r"""Recover the height, centre and half-width of a plateau bump on the bed
    ([`bump_bathymetry`][jaxpde.design.bump_bathymetry]) of a periodic shallow-water channel (finite volumes,
    HLL, SSPRK3) from the free surface at `sensors` gauges at `snapshots` times, with
    Gaussian noise `noise`. The time step divides each snapshot interval into the
    whole number of steps nearest to a CFL number of `cfl`.

    **Arguments:** a PRNG `key`, `num_cells`, the channel `length`, the still-water `surface`, the `discharge`, the
    true bump `height`, `centre` and `half_width`, the `interface_width` of its smooth edges, `final_time`,
    `snapshots`, `sensors`, `noise`, the starting guesses `initial_height`, `initial_centre`, `initial_half_width`,
    the `reconstruction` name, `cfl`, `dtype`, `checkpoint`.

    `mesh`: a device mesh to split the fields over (see [`jaxpde.grids.spatial_mesh`][jaxpde.grids.spatial_mesh]).

    **Returns:** a [`DesignProblem`][jaxpde.design.DesignProblem].
    """
    from .. import fv
    from ..grids import CellGrid
    from ..integrate import SSPRK3, rollout

    dtype = _dtype(dtype)
    grid = CellGrid(num_cells, 0.0, length, mesh=mesh)
    for name, v in (
        ("surface", surface),
        ("final_time", final_time),
        ("cfl", cfl),
        ("interface_width", interface_width),
        ("half_width", half_width),
        ("initial_half_width", initial_half_width),
    ):
        _positive(name, v)
    _positive("height", height, allow_zero=True)
    _positive("initial_height", initial_height, allow_zero=True)
    if height >= surface or initial_height >= surface:
        raise ValueError(
            f"the bump (height {height}, initial_height {initial_height}) must stay below the surface ({surface})."
        )
    noise = _positive("noise", noise)
    snapshots = _positive("snapshots", snapshots, integer=True)
    x = jnp.asarray(grid.coordinates()[0], dtype)
    speed = abs(discharge) / (surface - height) + np.sqrt(9.81 * surface)
    dt = cfl * length / num_cells / speed
    steps_per = max(1, round(final_time / snapshots / dt))
    dt = final_time / snapshots / steps_per
    recon = fv.make_reconstruction(reconstruction)

    def simulate(p):
        b = bump_bathymetry(p, x, interface_width)
        law = fv.ShallowWater(bathymetry=b)
        pde = fv.FiniteVolume(law, grid, recon, fv.HLL(), bc="periodic")
        u0 = jnp.stack([surface - b, jnp.full_like(b, discharge)])
        traj = rollout(
            SSPRK3(pde, dt),
            u0,
            steps_per * snapshots,
            save_every=steps_per,
            include_initial=False,
            checkpoint=checkpoint,
        )
        return traj[:, 0] + b  # free surface

    simulate = jax.jit(simulate)
    k2, k3 = jax.random.split(key)
    idx = _sensors(sensors, num_cells, k2)
    truth = {
        "height": jnp.asarray(height, dtype),
        "centre": jnp.asarray(centre, dtype),
        "half_width": jnp.asarray(half_width, dtype),
    }
    surf = simulate(truth)
    obs = surf[:, idx] + noise * jax.random.normal(k3, (snapshots, len(idx)), dtype)

    def residuals(p):
        return (simulate(p)[:, idx] - obs) / noise

    design0 = {
        "height": jnp.asarray(initial_height, dtype),
        "centre": jnp.asarray(initial_centre, dtype),
        "half_width": jnp.asarray(initial_half_width, dtype),
    }
    bounds = Box(
        {"height": 0.0, "centre": 0.0, "half_width": 0.2},
        {"height": 0.8 * surface, "centre": length, "half_width": 0.4 * length},
    )
    xs = np.asarray(x)

    def plot(p, axes):
        axes[0].plot(xs, np.asarray(bump_bathymetry(truth, x, interface_width)), "k", label="true bed")
        axes[0].plot(xs, np.asarray(bump_bathymetry(design0, x, interface_width)), "C0:", label="initial guess")
        axes[0].plot(xs, np.asarray(bump_bathymetry(p, x, interface_width)), "C1--", label="recovered bed")
        axes[0].legend(fontsize=7)
        axes[0].set(title="bed shape", xlabel="x")
        est = simulate(p)
        for j in range(snapshots):
            axes[1].plot(xs, np.asarray(surf[j]), "k", lw=0.8)
            axes[1].plot(xs, np.asarray(est[j]), "C1--", lw=0.8)
            axes[1].plot(xs[idx], np.asarray(obs[j]), "C3.", ms=3)
        axes[1].set(title="free surface (true, fitted, gauges)", xlabel="x")

    return DesignProblem(
        "shallow_water_bump",
        residuals,
        design0,
        bounds,
        (),
        noise,
        0.5 * len(idx) * snapshots,
        truth,
        _parameter_report(truth),
        plot,
        {},
        DEFAULT_OPTIMISERS["shallow_water_bump"],
    )


def _one_device(mesh):
    if mesh is not None:
        raise ValueError("mesh: the staggered incompressible solver runs on one device; leave mesh as None.")


def _dfg_start(num_cells_y, case, settle_time, cfl, dtype, extra_speed=0.0, **kwargs):
    """The DFG channel, a stable step for it (for speeds up to 1.5 times the peak inflow
    plus `extra_speed`), and the flow past the circle after `settle_time` from rest (a
    fixed starting state, not a design variable)."""
    from .. import incompressible as inc
    from ..integrate import SSPRK3, rollout_final

    pde, speed, diameter = inc.dfg_channel(num_cells_y, case, **kwargs)
    u_rest = pde.project(jnp.zeros((2, *pde.grid.shape), dtype))
    scale = 1.5 * inc.DFG[case]["u_max"] + extra_speed
    dt = float(inc.cfl_dt(pde, jnp.full_like(u_rest, scale), cfl))
    steps = max(1, round(settle_time / dt))
    u_start = jax.jit(lambda u: rollout_final(SSPRK3(pde, settle_time / steps), u, steps))(u_rest)
    return pde, speed, diameter, dt, jax.lax.stop_gradient(u_start)


def obstacle_drag(
    *,
    key=None,
    num_cells_y: int = 41,
    harmonics: int = 3,
    bound: float = 0.2,
    settle_time: float = 3.0,
    final_time: float = 1.0,
    samples: int = 10,
    cfl: float = 0.9,
    dtype="float64",
    checkpoint: bool | int = True,
    mesh=None,
) -> DesignProblem:
    r"""Minimise the drag of a body of fixed area in the DFG channel at Re = 20
    ([`dfg_channel`][jaxpde.incompressible.dfg_channel], case 2D-1), over the shape
    ``r(θ) = R (1 + Σ_k a_k cos kθ + b_k sin kθ)`` with ``R`` set so that the area is the
    cylinder's ``π (D/2)²`` ([`StarShape`][jaxpde.incompressible.StarShape]).

    The flow past the cylinder after `settle_time` is the starting state; each candidate
    shape is run for `final_time` (checkpointed, so reverse mode stores ``O(√steps)``
    states), and the objective is its drag coefficient ``2 F_x / (Ū² D)`` averaged over
    the last half of `samples` equally spaced times. Deterministic: `key` is accepted
    for a uniform signature and unused.

    **Arguments:** `key`, `num_cells_y` (cells across the channel), the number of
    `harmonics` ``K``, the `bound` on every ``|a_k|, |b_k|``, `settle_time`, `final_time`,
    `samples`, `cfl`, `dtype`, `checkpoint`; `mesh` must be ``None`` (the staggered
    solver runs on one device).

    **Returns:** a [`DesignProblem`][jaxpde.design.DesignProblem] whose design is
    ``{"cosines": (K,), "sines": (K,)}`` (the circle at the start).
    """
    from .. import incompressible as inc
    from ..integrate import SSPRK3, rollout

    del key
    _one_device(mesh)
    dtype = _dtype(dtype)
    harmonics = _positive("harmonics", harmonics, integer=True)
    samples = _positive("samples", samples, integer=True)
    for name, v in (("bound", bound), ("settle_time", settle_time), ("final_time", final_time), ("cfl", cfl)):
        _positive(name, v)
    if samples < 2:
        raise ValueError(f"samples must be at least 2, got {samples}.")
    pde0, speed, diameter, dt, u_start = _dfg_start(num_cells_y, "2D-1", settle_time, cfl, dtype)
    per = max(1, math.ceil(final_time / samples / dt))
    dt = final_time / samples / per
    radius0 = 0.5 * diameter
    centre = pde0.obstacle.centre

    def body(x):
        spread = 1 + 0.5 * jnp.sum(x["cosines"] ** 2 + x["sines"] ** 2)
        return inc.StarShape(centre, radius0 / jnp.sqrt(spread), x["cosines"], x["sines"])

    def history(x):
        pde = eqx.tree_at(lambda p: p.obstacle, pde0, body(x))
        traj = rollout(SSPRK3(pde, dt), u_start, per * samples, save_every=per, checkpoint=checkpoint)
        return jax.vmap(lambda u: pde.force_coefficients(u, speed, diameter))(traj)[:, 0]

    history = jax.jit(history)

    def residuals(x):
        drag = jnp.mean(history(x)[samples // 2 + 1 :])
        return jnp.sqrt(2 * drag)[None]  # misfit = ½ r² = the mean drag coefficient

    design0 = {"cosines": jnp.zeros(harmonics, dtype), "sines": jnp.zeros(harmonics, dtype)}
    initial = float(0.5 * residuals(design0)[0] ** 2)
    times = np.linspace(0, final_time, samples + 1)

    def report(x, post):
        drag = float(0.5 * residuals(x)[0] ** 2)
        return {
            "initial_drag": initial,
            "final_drag": drag,
            "drag_reduction_percent": 100 * (1 - drag / initial),
            "area": float(body(x).area()),
            "cylinder_area": float(np.pi * radius0**2),
        }

    theta = jnp.linspace(0, 2 * np.pi, 241)

    def plot(x, axes):
        for d, style, label in ((design0, "C0:", "cylinder"), (x, "C1-", "optimised")):
            b = body(d)
            r = np.asarray(b.boundary_radius(theta))
            axes[0].plot(0.2 + r * np.cos(theta), 0.2 + r * np.sin(theta), style, label=label)
            axes[1].plot(times, np.asarray(history(d)), style, label=label)
        axes[0].set(title="shape (equal area, flow from the left)", xlabel="x", ylabel="y", aspect="equal")
        axes[0].legend(fontsize=7)
        axes[1].set(title="drag coefficient over the horizon", xlabel="t", ylabel="$C_D$")
        axes[1].legend(fontsize=7)

    return DesignProblem(
        "obstacle_drag",
        residuals,
        design0,
        Box(-bound, bound),
        (),
        None,
        None,
        None,
        report,
        plot,
        {"initial_drag": initial},
        DEFAULT_OPTIMISERS["obstacle_drag"],
    )


def cylinder_rotary_control(
    *,
    key=None,
    num_cells_y: int = 41,
    settle_time: float = 6.0,
    final_time: float = 1.0,
    intervals: int = 20,
    samples_per_interval: int = 2,
    bound: float = 2.0,
    control_weight: float = 1e-3,
    cfl: float = 0.9,
    dtype="float64",
    checkpoint: bool | int = True,
    mesh=None,
) -> DesignProblem:
    r"""Damp the lift oscillation of vortex shedding behind the DFG cylinder at Re = 100
    (case 2D-2) by rotating it: the rotation rate ``Ω(t) = 2Ū α(t) / D`` is constant on
    each of `intervals` equal time intervals (``α`` the surface speed over the mean
    inflow speed, ``|α| ≤`` `bound`).

    The developed shedding flow after `settle_time` is the starting state; the objective
    is ``½ mean(C_L²)`` over `samples_per_interval` times in every interval plus
    ``½ control_weight mean(α²)``. Deterministic: `key` is unused.

    **Arguments:** `key`, `num_cells_y`, `settle_time`, `final_time`, `intervals`,
    `samples_per_interval`, `bound`, `control_weight`, `cfl`, `dtype`, `checkpoint`
    (each interval's rollout is checkpointed, and the scan over intervals too); `mesh`
    must be ``None`` (the staggered solver runs on one device).

    **Returns:** a [`DesignProblem`][jaxpde.design.DesignProblem] whose design is ``α``
    ``(intervals,)`` (zero at the start).
    """
    from ..integrate import SSPRK3, rollout_final

    del key
    _one_device(mesh)
    dtype = _dtype(dtype)
    k = _positive("intervals", intervals, integer=True)
    m = _positive("samples_per_interval", samples_per_interval, integer=True)
    for name, v in (("settle_time", settle_time), ("final_time", final_time), ("bound", bound), ("cfl", cfl)):
        _positive(name, v)
    _positive("control_weight", control_weight, allow_zero=True)
    # the rotating surface moves at up to `bound` Ū = `bound`: the step stays stable for it
    pde0, speed, diameter, dt, u_start = _dfg_start(
        num_cells_y, "2D-2", settle_time, cfl, dtype, extra_speed=bound, rotation=0.0
    )
    per = max(1, math.ceil(final_time / (k * m) / dt))
    dt = final_time / (k * m) / per

    def lift_history(alpha):
        def interval(u, a):
            pde = eqx.tree_at(lambda p: p.rotation, pde0, 2 * speed * a / diameter)
            stepper = SSPRK3(pde, dt)

            def sample(u, _):
                u = rollout_final(stepper, u, per, checkpoint=checkpoint)
                return u, pde.force_coefficients(u, speed, diameter)[1]

            return jax.lax.scan(sample, u, None, length=m)

        body = jax.checkpoint(interval) if checkpoint else interval
        return jax.lax.scan(body, u_start, alpha)[1].ravel()

    lift_history = jax.jit(lift_history)

    def residuals(alpha):
        lift = lift_history(alpha)
        return jnp.concatenate([lift / jnp.sqrt(lift.size), jnp.sqrt(control_weight / k) * alpha])

    design0 = jnp.zeros(k, dtype)
    free = np.asarray(lift_history(design0))
    times = np.arange(1, k * m + 1) * final_time / (k * m)

    def report(alpha, post):
        lift = np.asarray(lift_history(alpha))
        return {
            "uncontrolled_lift_rms": float(np.sqrt(np.mean(free**2))),
            "controlled_lift_rms": float(np.sqrt(np.mean(lift**2))),
            "uncontrolled_lift_amplitude": float(np.abs(free).max()),
            "controlled_lift_amplitude": float(np.abs(lift).max()),
            "lift_rms_reduction": float(np.sqrt(np.mean(free**2) / max(np.mean(lift**2), 1e-300))),
            "alpha_rms": float(jnp.sqrt(jnp.mean(alpha**2))),
        }

    def plot(alpha, axes):
        axes[0].plot(times, free, "C0:", label="uncontrolled")
        axes[0].plot(times, np.asarray(lift_history(alpha)), "C1-", label="rotary control")
        axes[0].set(title="lift coefficient", xlabel="t", ylabel="$C_L$")
        axes[0].legend(fontsize=7)
        edges = np.linspace(0, final_time, k + 1)
        axes[1].stairs(np.asarray(alpha), edges, color="C1")
        axes[1].set(title="rotation (surface speed / mean inflow)", xlabel="t", ylabel="α")

    return DesignProblem(
        "cylinder_rotary_control",
        residuals,
        design0,
        Box(-bound, bound),
        (),
        None,
        None,
        None,
        report,
        plot,
        {"uncontrolled_lift_rms": float(np.sqrt(np.mean(free**2)))},
        DEFAULT_OPTIMISERS["cylinder_rotary_control"],
    )


DEFAULT_OPTIMISERS = {
    "burgers_initial_condition": "levenberg_marquardt",
    "kolmogorov_parameters": "levenberg_marquardt",
    "burgers_control": "lbfgs",
    "shallow_water_bump": "levenberg_marquardt",
    "obstacle_drag": "lbfgs",
    "cylinder_rotary_control": "lbfgs",
}

PROBLEMS = {
    "burgers_initial_condition": burgers_initial_condition,
    "kolmogorov_parameters": kolmogorov_parameters,
    "burgers_control": burgers_control,
    "shallow_water_bump": shallow_water_bump,
    "obstacle_drag": obstacle_drag,
    "cylinder_rotary_control": cylinder_rotary_control,
}


def uses_reverse_mode(optimiser: str) -> bool:
    """Whether a named optimiser differentiates in reverse mode (optax, BFGS) rather than
    forward mode (the Jacobians of Gauss–Newton, Levenberg–Marquardt, dogleg). Reverse
    mode wants checkpointed rollouts (``checkpoint=True`` of the problem constructors).

    **Arguments:** the `optimiser` name. **Returns:** a bool.
    """
    if optimiser not in OPTAX_OPTIMISERS + OPTIMISTIX_OPTIMISERS:
        raise ValueError(
            f"unknown optimiser {optimiser!r}; choose one of {', '.join(OPTAX_OPTIMISERS + OPTIMISTIX_OPTIMISERS)}."
        )
    return optimiser in (*OPTAX_OPTIMISERS, "bfgs")


class ProblemResult(eqx.Module):
    """What [`solve_problem`][jaxpde.design.solve_problem] returns: the optimiser's
    [`DesignResult`][jaxpde.design.DesignResult], the
    Laplace posterior (or ``None``), and the `summary` written to ``design.json``.

    **Fields:** `result`, `posterior`, `summary`.
    """

    result: DesignResult
    posterior: object
    summary: dict


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def solve_problem(
    problem: DesignProblem,
    optimiser: str | None = None,
    *,
    steps: int = 100,
    learning_rate: float = 1e-2,
    rtol: float = 1e-8,
    atol: float = 1e-8,
    gtol: float | None = 1e-7,
    run_dir=None,
    checkpoint_every: int | None = 10,
    resume: bool = False,
    progress: bool | None = None,
    config: dict | None = None,
    name: str | None = None,
) -> ProblemResult:
    """Solve a [`DesignProblem`][jaxpde.design.DesignProblem] and report it.

    **Arguments:**

    - `problem`: from one of the constructors (or built by hand).
    - `optimiser`: ``"lbfgs"``, ``"adam"`` (optax, [`minimise`][jaxpde.design.minimise]) or
      ``"levenberg_marquardt"``, ``"gauss_newton"``, ``"dogleg"``, ``"bfgs"``
      (optimistix, [`least_squares`][jaxpde.design.least_squares]); default: the problem's own.
    - `steps`: the iteration budget; `learning_rate` (adam); `rtol`, `atol`
      (optimistix); `gtol` (relative gradient norm).
    - `run_dir`: where ``history.jsonl``, ``checkpoints/``, ``design.json`` and
      ``design.png`` go (``None``: nothing written). `checkpoint_every`, `resume`,
      `progress`: as in [`minimise`][jaxpde.design.minimise]. `config`: JSON-able identity of the run
      (compared on resume). `name`: a label for the summary and plot.

    With noisy data and at most 64 unknowns, the Laplace posterior around the result
    gives standard deviations and z-scores against the truth.

    **Returns:** a [`ProblemResult`][jaxpde.design.ProblemResult].
    """
    import optax

    optimiser = problem.default_optimiser if optimiser is None else optimiser
    uses_reverse_mode(optimiser)  # validates the name
    steps = check_int(steps, "steps")
    name = problem.name if name is None else str(name)
    if not _NAME.match(name):
        raise ValueError(f"name must be a plain file name (letters, digits, '_', '-', '.'), got {name!r}.")
    run_dir = None if run_dir is None else Path(run_dir)
    if run_dir is not None and not resume and (run_dir / "design.json").exists():
        raise FileExistsError(f"{run_dir} already holds a finished design run; choose another directory or resume.")
    t0 = time.perf_counter()
    total = jax.jit(lambda x: problem.objective(x))
    initial = float(total(problem.design0))
    identity = {
        "problem": problem.name,
        "optimiser": optimiser,
        "learning_rate": learning_rate,
        "rtol": rtol,
        "atol": atol,
        "gtol": gtol,
        "config": config,
    }
    common = dict(
        bounds=problem.bounds,
        regularisers=problem.regularisers,
        run_dir=run_dir,
        checkpoint_every=checkpoint_every if run_dir is not None else None,
        resume=resume,
        progress=progress,
        config=identity,
    )
    if optimiser in OPTAX_OPTIMISERS:
        opt = optax.lbfgs() if optimiser == "lbfgs" else optax.adam(learning_rate)
        res = minimise(lambda x: problem.misfit(x), problem.design0, opt, num_steps=steps, gtol=gtol, **common)
    else:
        res = least_squares(
            problem.residuals, problem.design0, optimiser, max_steps=steps, rtol=rtol, atol=atol, gtol=gtol, **common
        )
    post = None
    if problem.noise_std is not None and ravel_pytree(res.design)[0].size <= 64:
        post = laplace(
            lambda x: problem.residuals(x) * problem.noise_std,
            res.design,
            noise_std=problem.noise_std,
            regularisers=problem.regularisers,
        )
    summary = {
        "name": name,
        "problem": problem.name,
        "optimiser": optimiser,
        "iterations": len(res.history),
        "initial_objective": initial,
        "final_objective": res.objective,
        "reduction": initial / max(res.objective, 1e-300),
        "noise_floor": problem.noise_floor,
        "converged": res.converged,
        "wall_s": time.perf_counter() - t0,
        **problem.baseline,
        **problem.report(res.design, post),
    }
    if run_dir is not None:
        run_dir.mkdir(parents=True, exist_ok=True)
        plot_problem(problem, res, run_dir / "design.png", title=f"{name} ({optimiser})")
        tmp = run_dir / "design.json.tmp"
        tmp.write_text(json.dumps(summary, indent=2))
        tmp.replace(run_dir / "design.json")
        summary["png"] = str(run_dir / "design.png")
    return ProblemResult(res, post, summary)


def plot_problem(problem: DesignProblem, result: DesignResult, path, *, title: str | None = None) -> None:
    """Three panels to a PNG: the objective and gradient-norm history (with the noise
    floor), and the problem's own two panels at the result.

    **Arguments:** the `problem`, the optimiser's `result`, the PNG `path`, a `title`. **Returns:** ``None``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    fig, ax = plt.subplots(1, 3, figsize=(13, 3.6))
    rec = result.history
    if rec:
        s = [r["step"] for r in rec]
        ax[0].semilogy(s, [r["objective"] for r in rec], label="objective")
        ax[0].semilogy(s, [r["grad_norm"] for r in rec], label="gradient norm")
        if problem.noise_floor:
            ax[0].axhline(problem.noise_floor, color="k", ls=":", lw=0.8, label="noise floor")
        ax[0].legend(fontsize=7)
    ax[0].set(title=title or problem.name, xlabel="iteration")
    ax[0].grid(True, which="both", alpha=0.3)
    problem.plot(result.design, ax[1:])
    fig.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)
