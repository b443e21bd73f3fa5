"""Config files for ``jaxpde simulate``: parsing and validation with one-line errors."""

import difflib
import inspect
import math
from dataclasses import dataclass
from pathlib import Path

import yaml

from .. import ic as ic_module
from .. import spectral


from ._schema import ConfigError as ConfigError


EQUATIONS = {
    "diffusion": spectral.Diffusion,
    "advection": spectral.Advection,
    "advection_diffusion": spectral.AdvectionDiffusion,
    "dispersion": spectral.Dispersion,
    "hyper_diffusion": spectral.HyperDiffusion,
    "burgers": spectral.Burgers,
    "korteweg_de_vries": spectral.KortewegDeVries,
    "kuramoto_sivashinsky": spectral.KuramotoSivashinsky,
    "allen_cahn": spectral.AllenCahn,
    "fisher_kpp": spectral.FisherKPP,
    "cahn_hilliard": spectral.CahnHilliard,
    "swift_hohenberg": spectral.SwiftHohenberg,
    "gray_scott": spectral.GrayScott,
    "navier_stokes_2d": spectral.NavierStokes2D,
    "kolmogorov_flow": spectral.kolmogorov_flow,
    "klein_gordon": spectral.KleinGordon,
}

INITIAL_CONDITIONS = {
    "random_fourier": ic_module.random_fourier,
    "gaussian_random_field": ic_module.gaussian_random_field,
    "gray_scott_seeds": ic_module.gray_scott_seeds,
    "sine": ic_module.sine,
    "gaussian_blob": ic_module.gaussian_blob,
    "kdv_soliton": ic_module.kdv_soliton,
    "taylor_green_vorticity": ic_module.taylor_green_vorticity,
    "kink": ic_module.kink,
    "breather": ic_module.breather,
}

METHODS = ("etdrk", "exact", "stormer_verlet")
TOP_KEYS = {
    "equation": True, "parameters": False, "grid": True, "stepper": False, "dt": True,
    "num_steps": True, "save_every": False, "initial_condition": True, "seed": False,
    "precision": False, "name": False,
    # diffrax integrators (see _diffrax.py); they replace stepper/dt/num_steps/save_every
    "integrator": False, "solve": False, "noise": False, "t_final": False, "save_interval": False,
}


@dataclass
class SimulationConfig:
    path: Path
    name: str
    equation: str
    parameters: dict
    num_points: tuple
    extent: tuple
    method: str
    order: int
    substeps: int
    dealias: float | None
    dt: float
    num_steps: int
    save_every: int
    ic_kind: str
    ic_params: dict
    seed: int
    precision: str
    raw: dict
    integrator: object = None


def _unknown(key_path, key, allowed, file):
    close = difflib.get_close_matches(key, list(allowed), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else f" (allowed: {', '.join(sorted(allowed))})"
    return ConfigError(f"{file}: unknown key '{key_path}'{hint}")


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _number(v, key, file, *, positive=False, integer=False, nonnegative=False):
    if integer:
        if isinstance(v, bool) or not isinstance(v, int):
            raise ConfigError(f"{file}: key '{key}' must be an integer, got {v!r}")
    elif not _is_number(v):
        raise ConfigError(f"{file}: key '{key}' must be a number, got {v!r}")
    if not math.isfinite(v):
        raise ConfigError(f"{file}: key '{key}' must be finite, got {v!r}")
    if positive and not v > 0:
        raise ConfigError(f"{file}: key '{key}' must be positive, got {v!r}")
    if nonnegative and v < 0:
        raise ConfigError(f"{file}: key '{key}' must be non-negative, got {v!r}")
    return v


def _keyword_params(fn, skip=("grid", "key", "dtype")):
    sig = inspect.signature(fn)
    return {n: p.default for n, p in sig.parameters.items() if n not in skip and n != "self"}


def _check_params(given, fn, section, file):
    if given is None:
        return {}
    if not isinstance(given, dict):
        raise ConfigError(f"{file}: key '{section}' must be a mapping, got {type(given).__name__}")
    allowed = _keyword_params(fn)
    out = {}
    for k, v in given.items():
        if k not in allowed:
            raise _unknown(f"{section}.{k}", k, allowed, file)
        default = allowed[k]
        where = f"{section}.{k}"
        if isinstance(default, str):
            if not isinstance(v, str):
                raise ConfigError(f"{file}: key '{where}' must be a string, got {v!r}")
        elif isinstance(default, bool):
            if not isinstance(v, bool):
                raise ConfigError(f"{file}: key '{where}' must be true or false, got {v!r}")
        elif isinstance(default, int) and not isinstance(default, bool):
            _number(v, where, file, integer=True)
        elif isinstance(v, list):
            for i, vi in enumerate(v):
                _number(vi, f"{where}[{i}]", file)
        elif v is not None and not isinstance(v, str):
            _number(v, where, file)
        elif isinstance(v, str) and not isinstance(default, str):
            raise ConfigError(f"{file}: key '{where}' must be a number, got {v!r}")
        out[k] = v
    return out


def parse_any(kind: str, raw: dict, path: Path):
    """Validate a config of the given kind (``kind`` already checked)."""
    raw = {k: v for k, v in raw.items() if k != "kind"}
    if kind == "design":
        from ._design import parse

        return parse({"kind": "design", **raw}, path)
    if kind == "train":
        from ._train import parse_train_config

        return parse_train_config(raw, path)
    return parse_config(raw, path)


def load_config(path) -> SimulationConfig:
    """Parse and validate a simulation config; raise :class:`ConfigError` on any problem."""
    path = Path(path)
    file = str(path)
    if not path.exists():
        raise ConfigError(f"{file}: file not found")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{file}: invalid YAML{where}: {getattr(e, 'problem', e)}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{file}: the top level must be a mapping of keys to values")
    if "training" in raw:  # a training config
        from ._train import parse_train_config

        return parse_train_config(raw, path)
    return parse_config(raw, path)


def parse_config(raw: dict, path) -> SimulationConfig:
    """Validate a simulation config already read from YAML (see :func:`load_config`)."""
    file = str(path)
    if "law" in raw:  # a finite-volume config
        from ._fv import load_fv_config

        return load_fv_config(raw, path)
    for k in raw:
        if k not in TOP_KEYS:
            raise _unknown(k, k, TOP_KEYS, file)
    diffrax_run = "integrator" in raw
    for k, required in TOP_KEYS.items():
        if required and k not in raw and not (diffrax_run and k in ("dt", "num_steps")):
            raise ConfigError(f"{file}: missing required key '{k}'")
    if not diffrax_run:
        for k in ("solve", "noise", "t_final", "save_interval"):
            if k in raw:
                raise ConfigError(f"{file}: key '{k}' needs 'integrator: adaptive | imex | sde'")

    eq = raw["equation"]
    if not isinstance(eq, str) or eq not in EQUATIONS:
        close = difflib.get_close_matches(str(eq), EQUATIONS, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else f" (known: {', '.join(sorted(EQUATIONS))})"
        raise ConfigError(f"{file}: key 'equation': unknown equation {eq!r}{hint}")
    params = _check_params(raw.get("parameters"), EQUATIONS[eq], "parameters", file)

    grid = raw["grid"]
    if not isinstance(grid, dict):
        raise ConfigError(f"{file}: key 'grid' must be a mapping with num_points and extent")
    for k in grid:
        if k not in ("num_points", "extent"):
            raise _unknown(f"grid.{k}", k, ("num_points", "extent"), file)
    if "num_points" not in grid:
        raise ConfigError(f"{file}: missing required key 'grid.num_points'")
    npts = grid["num_points"]
    npts = tuple(npts) if isinstance(npts, list) else (npts,)
    for i, n in enumerate(npts):
        _number(n, "grid.num_points", file, integer=True)
        if n < 2:
            raise ConfigError(f"{file}: key 'grid.num_points' must be >= 2, got {n}")
    ext = grid.get("extent", 2 * math.pi)
    ext = tuple(ext) if isinstance(ext, list) else (ext,)
    for e in ext:
        _number(e, "grid.extent", file, positive=True)
    if len(npts) == 1 and len(ext) > 1:
        npts = npts * len(ext)
    if len(ext) == 1 and len(npts) > 1:
        ext = ext * len(npts)
    if len(npts) != len(ext):
        raise ConfigError(f"{file}: key 'grid.extent' has {len(ext)} entries but grid.num_points has {len(npts)}")
    if not 1 <= len(npts) <= 3:
        raise ConfigError(f"{file}: key 'grid.num_points' must describe 1 to 3 dimensions, got {len(npts)}")

    stepper = raw.get("stepper") or {}
    if not isinstance(stepper, dict):
        raise ConfigError(f"{file}: key 'stepper' must be a mapping")
    for k in stepper:
        if k not in ("method", "order", "substeps", "dealias"):
            raise _unknown(f"stepper.{k}", k, ("method", "order", "substeps", "dealias"), file)
    default_method = "stormer_verlet" if eq == "klein_gordon" else "etdrk"
    method = stepper.get("method", default_method)
    if method not in METHODS:
        raise ConfigError(f"{file}: key 'stepper.method' must be one of {', '.join(METHODS)}, got {method!r}")
    if (eq == "klein_gordon") != (method == "stormer_verlet"):
        raise ConfigError(
            f"{file}: key 'stepper.method': '{method}' cannot integrate '{eq}' "
            f"(klein_gordon needs stormer_verlet; first-order-in-time equations need etdrk or exact)"
        )
    order = stepper.get("order", 4)
    _number(order, "stepper.order", file, integer=True)
    if order not in (1, 2, 3, 4):
        raise ConfigError(f"{file}: key 'stepper.order' must be 1, 2, 3 or 4, got {order}")
    substeps = _number(stepper.get("substeps", 1), "stepper.substeps", file, integer=True, positive=True)
    dealias = stepper.get("dealias")
    if dealias is not None:
        _number(dealias, "stepper.dealias", file, positive=True)
        if dealias > 1:
            raise ConfigError(f"{file}: key 'stepper.dealias' must be in (0, 1], got {dealias}")
        if eq == "klein_gordon":
            raise ConfigError(f"{file}: key 'stepper.dealias' does not apply to klein_gordon")

    integrator = None
    if diffrax_run:
        from ._diffrax import parse_integrator

        integrator = parse_integrator(raw, file, eq)
        raw = {**raw, "dt": integrator.save_interval, "num_steps": integrator.num_frames}
    dt = _number(raw["dt"], "dt", file, positive=True)
    num_steps = _number(raw["num_steps"], "num_steps", file, integer=True, positive=True)
    save_every = _number(raw.get("save_every", 1), "save_every", file, integer=True, positive=True)
    if num_steps % save_every:
        raise ConfigError(f"{file}: key 'save_every' ({save_every}) must divide num_steps ({num_steps})")

    icc = raw["initial_condition"]
    if not isinstance(icc, dict) or "kind" not in icc:
        raise ConfigError(f"{file}: key 'initial_condition' must be a mapping with a 'kind'")
    kind = icc["kind"]
    if kind not in INITIAL_CONDITIONS:
        close = difflib.get_close_matches(str(kind), INITIAL_CONDITIONS, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else f" (known: {', '.join(sorted(INITIAL_CONDITIONS))})"
        raise ConfigError(f"{file}: key 'initial_condition.kind': unknown initial condition {kind!r}{hint}")
    ic_params = _check_params({k: v for k, v in icc.items() if k != "kind"}, INITIAL_CONDITIONS[kind], "initial_condition", file)

    seed = _number(raw.get("seed", 0), "seed", file, integer=True, nonnegative=True)
    precision = raw.get("precision", "float32")
    if precision not in ("float32", "float64"):
        raise ConfigError(f"{file}: key 'precision' must be 'float32' or 'float64', got {precision!r}")
    name = raw.get("name", path.stem)
    if not isinstance(name, str) or not name or "/" in name:
        raise ConfigError(f"{file}: key 'name' must be a non-empty string without '/', got {name!r}")
    return SimulationConfig(
        path=path, name=name, equation=eq, parameters=params, num_points=npts, extent=tuple(float(e) for e in ext),
        method=method, order=order, substeps=substeps, dealias=dealias, dt=float(dt), num_steps=num_steps,
        save_every=save_every, ic_kind=kind, ic_params=ic_params, seed=seed, precision=precision, raw=raw,
        integrator=integrator,
    )
