"""``jaxpde simulate`` for finite-volume configs (those with a ``law`` key).

Config keys: ``law`` (euler | shallow_water | burgers | advection), ``parameters``
(keyword arguments of the law), ``grid`` (``num_cells``, ``lower``, ``upper``),
``scheme`` (``reconstruction``, ``riemann_solver``, ``stepper``, ``cfl``), ``boundary``
(one name for all sides, or one entry per axis: a name or ``[lower, upper]``),
``t_final``, ``num_frames``, ``initial_condition`` (``kind`` and its arguments),
``precision`` and ``name``.
"""


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
        first = str(e).split(" ", 1)[0]
        key = f"parameters.{first}" if first in cfg.parameters else "parameters"
        raise ConfigError(f"{file}: key '{key}' (law '{cfg.law}'): {e}") from None
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
