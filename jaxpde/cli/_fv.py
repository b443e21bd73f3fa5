"""``jaxpde simulate`` for finite-volume configs (those with a ``law`` key).

Config keys: ``law`` (euler | shallow_water | burgers | advection), ``parameters``
(keyword arguments of the law), ``grid`` (``num_cells``, ``lower``, ``upper``),
``scheme`` (``reconstruction``, ``riemann_solver``, ``stepper``, ``cfl``), ``boundary``
(one name for all sides, or one entry per axis: a name or ``[lower, upper]``),
``t_final``, ``num_frames``, ``initial_condition`` (``kind`` and its arguments),
``precision`` and ``name``.
"""

import time
from dataclasses import dataclass
from pathlib import Path

from ._config import ConfigError, _check_params, _number, _unknown

LAWS = ("euler", "shallow_water", "burgers", "advection")
BOUNDARIES = ("periodic", "outflow", "reflective")
IC_KINDS = {
    "riemann": ("left", "right", "x0", "axis"),
    "shu_osher": (),
    "dam_break": ("h_left", "h_right", "x0"),
    "riemann_2d": ("quadrants", "centre"),
    "density_wave": ("amplitude", "velocity", "pressure"),
}
TOP = {
    "law": True, "parameters": False, "grid": True, "scheme": False, "boundary": False, "t_final": True,
    "num_frames": False, "initial_condition": True, "precision": False, "name": False,
}
SCHEME = {"reconstruction": "weno5_z", "riemann_solver": "hllc", "stepper": "ssprk3", "cfl": 0.5}


@dataclass
class FVConfig:
    path: Path
    name: str
    law: str
    parameters: dict
    num_cells: tuple
    lower: tuple
    upper: tuple
    scheme: dict
    boundary: object
    t_final: float
    num_frames: int
    ic_kind: str
    ic_params: dict
    precision: str
    raw: dict


def _law_class(name):
    from .. import fv

    return {"euler": fv.Euler, "shallow_water": fv.ShallowWater, "burgers": fv.Burgers, "advection": fv.LinearAdvection}[name]


def _tuple(v, key, file, *, integer=False, positive=False):
    vals = v if isinstance(v, list) else [v]
    for x in vals:
        _number(x, key, file, integer=integer, positive=positive)
    return tuple(vals)


def load_fv_config(raw: dict, path: Path) -> FVConfig:
    """Validate a finite-volume config; raise :class:`ConfigError` naming the key."""
    from ..fv._reconstruct import RECONSTRUCTIONS
    from ..fv._riemann import RIEMANN_SOLVERS
    from ..integrate._explicit import EXPLICIT_STEPPERS

    file = str(path)
    for k in raw:
        if k not in TOP:
            raise _unknown(k, k, TOP, file)
    for k, required in TOP.items():
        if required and k not in raw:
            raise ConfigError(f"{file}: missing required key '{k}'")
    law = raw["law"]
    if law not in LAWS:
        raise ConfigError(f"{file}: key 'law': unknown law {law!r} (known: {', '.join(LAWS)})")
    params = _check_params(raw.get("parameters"), _law_class(law), "parameters", file)
    grid = raw["grid"]
    if not isinstance(grid, dict):
        raise ConfigError(f"{file}: key 'grid' must be a mapping with num_cells, lower, upper")
    for k in grid:
        if k not in ("num_cells", "lower", "upper"):
            raise _unknown(f"grid.{k}", k, ("num_cells", "lower", "upper"), file)
    if "num_cells" not in grid:
        raise ConfigError(f"{file}: missing required key 'grid.num_cells'")
    n = _tuple(grid["num_cells"], "grid.num_cells", file, integer=True, positive=True)
    ndim = len(n)
    lower = _tuple(grid.get("lower", 0.0), "grid.lower", file)
    upper = _tuple(grid.get("upper", 1.0), "grid.upper", file)
    lower, upper = (lower * ndim if len(lower) == 1 else lower), (upper * ndim if len(upper) == 1 else upper)
    if not 1 <= ndim <= 3 or len(lower) != ndim or len(upper) != ndim:
        raise ConfigError(f"{file}: key 'grid': num_cells, lower and upper need one entry per axis (1 to 3 axes)")
    if any(b <= a for a, b in zip(lower, upper)):
        raise ConfigError(f"{file}: key 'grid.upper' must exceed grid.lower on every axis")
    scheme = dict(SCHEME)
    given = raw.get("scheme") or {}
    if not isinstance(given, dict):
        raise ConfigError(f"{file}: key 'scheme' must be a mapping")
    for k, v in given.items():
        if k not in SCHEME:
            raise _unknown(f"scheme.{k}", k, SCHEME, file)
        scheme[k] = v
    for key, allowed in (("reconstruction", RECONSTRUCTIONS), ("riemann_solver", RIEMANN_SOLVERS), ("stepper", tuple(EXPLICIT_STEPPERS))):
        if scheme[key] not in allowed:
            raise ConfigError(f"{file}: key 'scheme.{key}' must be one of {', '.join(allowed)}, got {scheme[key]!r}")
    _number(scheme["cfl"], "scheme.cfl", file, positive=True)
    boundary = raw.get("boundary", "periodic")
    entries = [boundary] if isinstance(boundary, str) else boundary
    if not isinstance(entries, list) or (not isinstance(boundary, str) and len(entries) != ndim):
        raise ConfigError(f"{file}: key 'boundary' must be one of {', '.join(BOUNDARIES)} or a list with one entry per axis")
    for e in entries:
        for side in (e if isinstance(e, list) else [e]):
            if side not in BOUNDARIES:
                raise ConfigError(f"{file}: key 'boundary': unknown boundary {side!r} (known: {', '.join(BOUNDARIES)})")
    boundary = boundary if isinstance(boundary, str) else [tuple(e) if isinstance(e, list) else e for e in entries]
    t_final = _number(raw["t_final"], "t_final", file, positive=True)
    num_frames = _number(raw.get("num_frames", 40), "num_frames", file, integer=True, positive=True)
    icc = raw["initial_condition"]
    if not isinstance(icc, dict) or "kind" not in icc:
        raise ConfigError(f"{file}: key 'initial_condition' must be a mapping with a 'kind'")
    kind = icc["kind"]
    if kind not in IC_KINDS:
        raise ConfigError(f"{file}: key 'initial_condition.kind': unknown kind {kind!r} (known: {', '.join(IC_KINDS)})")
    ic_params = {k: v for k, v in icc.items() if k != "kind"}
    for k in ic_params:
        if k not in IC_KINDS[kind]:
            raise _unknown(f"initial_condition.{k}", k, IC_KINDS[kind] or ("(none)",), file)
    precision = raw.get("precision", "float64")
    if precision not in ("float32", "float64"):
        raise ConfigError(f"{file}: key 'precision' must be 'float32' or 'float64', got {precision!r}")
    name = raw.get("name", path.stem)
    if not isinstance(name, str) or not name or "/" in name:
        raise ConfigError(f"{file}: key 'name' must be a non-empty string without '/', got {name!r}")
    return FVConfig(path, name, law, params, n, tuple(map(float, lower)), tuple(map(float, upper)), scheme, boundary,
                    float(t_final), num_frames, kind, ic_params, precision, raw)


def build_fv(cfg: FVConfig):
    """``(pde, u0)`` from a validated config."""
    import jax.numpy as jnp

    from .. import fv
    from ..grids import CellGrid

    file = cfg.path
    grid = CellGrid(cfg.num_cells, cfg.lower, cfg.upper)
    try:
        law = _law_class(cfg.law)(ndim=grid.ndim, **cfg.parameters)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{file}: key 'parameters' (law '{cfg.law}'): {e}") from None
    try:
        pde = fv.FiniteVolume(law, grid, fv.make_reconstruction(cfg.scheme["reconstruction"]),
                              fv.make_riemann_solver(cfg.scheme["riemann_solver"]), bc=cfg.boundary)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{file}: key 'scheme' / 'boundary': {e}") from None
    builders = {
        "riemann": fv.riemann_problem, "shu_osher": fv.shu_osher, "dam_break": fv.dam_break,
        "riemann_2d": fv.riemann_2d, "density_wave": fv.density_wave,
    }
    params = dict(cfg.ic_params)
    if "quadrants" in params:
        params["quadrants"] = tuple(tuple(q) for q in params["quadrants"])
    try:
        u0 = builders[cfg.ic_kind](law, grid, **params)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{file}: key 'initial_condition': {e}") from None
    return pde, u0.astype(jnp.float64 if cfg.precision == "float64" else jnp.float32)


def simulate_fv(cfg: FVConfig, out_dir: Path, *, progress=None) -> dict:
    """Run a finite-volume config; write ``<name>.h5`` (conserved variables) and ``<name>.png``."""
    import jax
    import numpy as np
    from tqdm.auto import tqdm

    from .. import fv
    from .._version import __version__
    from ..integrate import solve_to
    from ..io import TrajectoryWriter
    from ..viz import plot_fv_profiles, plot_snapshots

    if cfg.precision == "float64":
        jax.config.update("jax_enable_x64", True)
    pde, u0 = build_fv(cfg)
    cfl, stepper = cfg.scheme["cfl"], cfg.scheme["stepper"]
    advance = jax.jit(lambda u, t0, t1: solve_to(pde, u, t1, t0=t0, cfl=cfl, stepper=stepper, differentiable=False, full_output=True))
    times = np.linspace(0.0, cfg.t_final, cfg.num_frames + 1)
    meta = {
        "law": cfg.law, "parameters": cfg.parameters, "solver": "finite_volume",
        "grid": {"num_cells": list(cfg.num_cells), "lower": list(cfg.lower), "upper": list(cfg.upper)},
        "scheme": cfg.scheme, "boundary": cfg.boundary if isinstance(cfg.boundary, str) else [list(b) if isinstance(b, tuple) else b for b in cfg.boundary],
        "t_final": cfg.t_final, "initial_condition": {"kind": cfg.ic_kind, **cfg.ic_params},
        "precision": cfg.precision, "jaxpde_version": __version__, "jax_version": jax.__version__,
        "state_layout": "(time, channel, *space), conserved variables", "config_file": str(cfg.path),
    }
    out_dir = Path(out_dir)
    h5_path, png_path = out_dir / f"{cfg.name}.h5", out_dir / f"{cfg.name}.png"
    frames = [np.asarray(u0)]
    steps = 0
    t0 = time.perf_counter()
    with TrajectoryWriter(h5_path, (cfg.num_frames + 1, *u0.shape), np.dtype(u0.dtype), meta, times) as writer:
        writer.write(np.asarray(u0)[None])
        u = u0
        bar = tqdm(total=cfg.num_frames, unit="frame", desc=cfg.name, disable=progress is False if progress is not None else None)
        with bar:
            for k in range(cfg.num_frames):
                try:
                    sol = advance(u, times[k], times[k + 1])
                    u = jax.block_until_ready(sol.u)
                except Exception as e:  # eqx.error_if surfaces as a runtime error
                    if "non-finite" in str(e):
                        raise FloatingPointError(f"the solution became non-finite before t = {times[k + 1]:.6g}; lower scheme.cfl (config {cfg.path})") from None
                    raise
                steps += int(sol.num_steps)
                frame = np.asarray(u)
                writer.write(frame[None])
                frames.append(frame)
                bar.update(1)
                bar.set_postfix(steps=steps)
    wall = time.perf_counter() - t0
    traj = np.stack(frames)
    title = f"{cfg.law}: {cfg.scheme['reconstruction']} + {cfg.scheme['riemann_solver']} + {cfg.scheme['stepper']}, CFL {cfl:g}"
    law = pde.law
    if len(cfg.num_cells) == 1:
        exact = None
        if cfg.law == "euler" and cfg.ic_kind == "riemann":
            p = {"x0": 0.5, **cfg.ic_params}
            try:
                exact = lambda x: fv.exact_riemann(p["left"], p["right"], x, cfg.t_final, gamma=float(law.gamma), x0=p["x0"])  # noqa: E731
            except ValueError:
                exact = None
        fig = plot_fv_profiles(law, pde.grid, traj, times, exact=exact, title=title)
    else:
        prim = np.stack([np.asarray(law.to_primitive(f)) for f in traj])
        sl = prim if prim.ndim == 4 else prim[..., prim.shape[-1] // 2]
        extent = tuple(b - a for a, b in zip(cfg.lower, cfg.upper))
        fig = plot_snapshots(sl, extent, times, title=title + " (density)", num=4)
    tmp_png = png_path.with_name(png_path.name + ".partial.png")
    fig.savefig(tmp_png, dpi=110)
    import matplotlib.pyplot as plt

    plt.close(fig)
    tmp_png.replace(png_path)
    cells = int(np.prod(cfg.num_cells))
    return {"h5": h5_path, "png": png_path, "wall_s": wall, "steps": steps, "cell_steps_per_s": cells * steps / wall}
