"""``jaxpde simulate`` for finite-volume configs (those with a ``law`` key).

Config keys: ``law`` (euler | shallow_water | burgers | advection), ``parameters``
(keyword arguments of the law), ``grid`` (``num_cells``, ``lower``, ``upper``),
``scheme`` (``reconstruction``, ``riemann_solver``, ``stepper`` incl. ``muscl_hancock``, ``cfl``), ``boundary``
(one name for all sides, or one entry per axis: a name or ``[lower, upper]``; names
periodic | outflow | reflective | fixed), ``source`` (``kind`` of
[`jaxpde.fv.SOURCES`][jaxpde.fv.SOURCES] and its arguments), ``initial_condition`` (``kind`` and its
arguments), ``precision`` and ``name``; then either CFL-limited steps to each frame
(``t_final``, ``num_frames``) or fixed steps (``dt``, ``num_steps``, ``save_every``; what
training data uses).
"""

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import pydantic

from .. import fv
from ._config import ConfigError, _registered
from ._schema import PlainName, Plan, device_mesh, devices_section, run_metadata, spatial_devices

BOUNDARIES = ("periodic", "outflow", "reflective", "fixed")


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
    devices: tuple | None = None
    source: dict | None = None
    dt: float | None = None
    num_steps: int | None = None
    save_every: int = 1
    seed: int = 0

    def build(self):
        """``(pde, u0)`` built through the library's constructors."""
        return build_fv(self)

    # the interface training data uses (shared with the spectral SimulationConfig)
    def parameter_names(self) -> tuple[str, ...]:
        """Names a training config may sample or list: the law's keywords, and
        ``source.<keyword>`` for the source's."""
        from ._schema import keyword_model

        law = tuple(keyword_model(fv.LAWS[self.law], "p", skip=("ndim",)).model_fields)
        if self.source is None:
            return law
        fn = fv.SOURCES[self.source["kind"]]
        return law + tuple(f"source.{k}" for k in keyword_model(fn, "s", skip=("grid",)).model_fields)

    def make_pde(self, grid, **overrides):
        """The finite-volume PDE on `grid`, `overrides` replacing law or ``source.*``
        parameters (traceable: built inside ``vmap`` for listed or sampled parameters)."""
        return make_fv_pde(self, grid, **overrides)

    def make_stepper(self, pde):
        """The fixed-step stepper (``scheme.stepper`` with step ``dt``)."""
        from ..integrate import FV_STEPPERS

        if self.dt is None:
            raise ConfigError(f"{self.path}: missing key 'dt' (training data takes fixed steps: dt, num_steps)")
        return FV_STEPPERS[self.scheme["stepper"]](pde, self.dt)

    def initial_sampler(self, pde):
        """``(key -> u0, takes_key)``: the deterministic initial state (finite-volume
        initial conditions take no key)."""
        _, u0 = build_fv(self)
        return (lambda key: u0), False

    def plan(self) -> Plan:
        """How the config runs (see [`jaxpde.app.simulate`][jaxpde.app.simulate])."""
        return _plan(self)


_NAMES = {
    "reconstruction": ("constant", "muscl_minmod", "muscl_mc", "muscl_van_leer", "weno5_js", "weno5_z"),
    "riemann_solver": ("rusanov", "hll", "hllc", "godunov"),
    "stepper": ("euler", "ssprk2", "ssprk3", "rk4", "muscl_hancock"),
}
_Side = Literal[BOUNDARIES]  # type: ignore[valid-type]


class _Grid(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    num_cells: pydantic.PositiveInt | list[pydantic.PositiveInt]
    lower: float | list[float] = 0.0
    upper: float | list[float] = 1.0


class _Scheme(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    reconstruction: Literal[_NAMES["reconstruction"]] = "weno5_z"  # type: ignore[valid-type]
    riemann_solver: Literal[_NAMES["riemann_solver"]] = "hllc"  # type: ignore[valid-type]
    stepper: Literal[_NAMES["stepper"]] = "ssprk3"  # type: ignore[valid-type]
    cfl: pydantic.PositiveFloat = 0.5


class _FVSimulation(pydantic.BaseModel):
    """A finite-volume ``kind: simulate`` config (it names a ``law``)."""

    model_config = pydantic.ConfigDict(extra="forbid")
    name: PlainName | None = None
    law: Annotated[str, _registered(fv.LAWS, "a law of jaxpde.fv.LAWS")]
    parameters: dict = {}
    grid: _Grid
    scheme: _Scheme = _Scheme()
    boundary: _Side | list[_Side | tuple[_Side, _Side]] = "periodic"
    source: dict | None = None
    t_final: pydantic.PositiveFloat | None = None
    num_frames: pydantic.PositiveInt | None = None
    dt: pydantic.PositiveFloat | None = None
    num_steps: pydantic.PositiveInt | None = None
    save_every: pydantic.PositiveInt | None = None
    initial_condition: dict
    seed: pydantic.NonNegativeInt = 0
    precision: Literal["float32", "float64"] = "float64"
    devices: devices_section("spatial") | None = None  # type: ignore[valid-type]


def load_fv_config(raw: dict, path: Path) -> FVConfig:
    """Validate a finite-volume config against its schema; the library's constructors
    check the rest when it is built."""
    from ._schema import keyword_model, validate

    file = str(path)
    c = validate(_FVSimulation, raw, file)
    params = validate(
        keyword_model(fv.LAWS[c.law], f"law_{c.law}", skip=("ndim",)), c.parameters, file, prefix=("parameters",)
    ).model_dump(exclude_unset=True)
    per_axis = lambda v: tuple(v) if isinstance(v, list) else (v,)  # noqa: E731
    n = per_axis(c.grid.num_cells)
    ndim = len(n)
    lower, upper = per_axis(c.grid.lower), per_axis(c.grid.upper)
    lower, upper = (lower * ndim if len(lower) == 1 else lower), (upper * ndim if len(upper) == 1 else upper)
    if not 1 <= ndim <= 3 or len(lower) != ndim or len(upper) != ndim:
        raise ConfigError(f"{file}: key 'grid': num_cells, lower and upper need one entry per axis (1 to 3 axes)")
    if any(b <= a for a, b in zip(lower, upper)):
        raise ConfigError(f"{file}: key 'grid.upper' must exceed grid.lower on every axis")
    boundary = c.boundary
    if not isinstance(boundary, str) and len(boundary) != ndim:
        raise ConfigError(f"{file}: key 'boundary' needs one entry per axis ({ndim}), got {len(boundary)}")
    ic = dict(c.initial_condition)
    kind = ic.pop("kind", None)
    if kind not in fv.PROBLEMS:
        close = difflib.get_close_matches(str(kind), fv.PROBLEMS, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else f" (known: {', '.join(fv.PROBLEMS)})"
        raise ConfigError(
            f"{file}: key 'initial_condition.kind' must name an initial condition of jaxpde.fv.PROBLEMS, "
            f"got {kind!r}{hint}"
        )
    ic = validate(
        keyword_model(fv.PROBLEMS[kind], f"ic_{kind}", skip=("law", "grid")), ic, file, prefix=("initial_condition",)
    ).model_dump(exclude_unset=True)
    source = _parse_source(c.source, file)
    fixed = c.dt is not None or c.num_steps is not None
    if fixed:
        for k in ("t_final", "num_frames"):
            if getattr(c, k) is not None:
                raise ConfigError(
                    f"{file}: key '{k}' belongs to CFL-limited runs; with fixed steps give dt, num_steps, save_every"
                )
        for k in ("dt", "num_steps"):
            if getattr(c, k) is None:
                raise ConfigError(f"{file}: missing key '{k}' (fixed steps need dt and num_steps)")
        if "cfl" in (raw.get("scheme") or {}):
            raise ConfigError(f"{file}: key 'scheme.cfl' does not apply to fixed steps (dt is given)")
        save_every = c.save_every or 1
        if c.num_steps % save_every:
            raise ConfigError(f"{file}: key 'save_every' ({save_every}) must divide num_steps ({c.num_steps})")
        t_final, frames = c.dt * c.num_steps, c.num_steps // save_every
    else:
        if c.save_every is not None:
            raise ConfigError(f"{file}: key 'save_every' needs fixed steps (dt, num_steps)")
        if c.t_final is None:
            raise ConfigError(f"{file}: missing key 't_final' (or fixed steps: dt, num_steps)")
        t_final, frames, save_every = c.t_final, c.num_frames or 40, 1
    return FVConfig(
        Path(path),
        c.name or Path(path).stem,
        c.law,
        params,
        n,
        tuple(map(float, lower)),
        tuple(map(float, upper)),
        c.scheme.model_dump(),
        boundary,
        float(t_final),
        frames,
        kind,
        ic,
        c.precision,
        raw,
        spatial_devices(c.devices, file),
        source,
        None if c.dt is None else float(c.dt),
        c.num_steps,
        save_every,
        c.seed,
    )


def _parse_source(raw, file):
    from ._schema import keyword_model, validate

    if raw is None:
        return None
    src = dict(raw)
    kind = src.pop("kind", None)
    if kind not in fv.SOURCES:
        close = difflib.get_close_matches(str(kind), fv.SOURCES, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else f" (known: {', '.join(fv.SOURCES)})"
        raise ConfigError(f"{file}: key 'source.kind' must name a source of jaxpde.fv.SOURCES, got {kind!r}{hint}")
    params = validate(
        keyword_model(fv.SOURCES[kind], f"source_{kind}", skip=("grid",)), src, file, prefix=("source",)
    ).model_dump(exclude_unset=True)
    return {"kind": kind, **params}


def make_fv_pde(cfg: FVConfig, grid, **overrides):
    """The config's finite-volume PDE on `grid`; `overrides` replace law keywords or
    source keywords (named ``source.<keyword>``)."""
    file = cfg.path
    law_kw = {**cfg.parameters, **{k: v for k, v in overrides.items() if not k.startswith("source.")}}
    try:
        law = fv.LAWS[cfg.law](ndim=grid.ndim, **law_kw)
    except (TypeError, ValueError) as e:
        first = str(e).split(" ", 1)[0]
        key = f"parameters.{first}" if first in cfg.parameters else "parameters"
        raise ConfigError(f"{file}: key '{key}' (law '{cfg.law}'): {e}") from None
    source = None
    if cfg.source is not None:
        src = {k: v for k, v in cfg.source.items() if k != "kind"}
        src.update({k.split(".", 1)[1]: v for k, v in overrides.items() if k.startswith("source.")})
        try:
            source = fv.SOURCES[cfg.source["kind"]](grid, **src)
        except (TypeError, ValueError) as e:
            raise ConfigError(f"{file}: key 'source': {e}") from None
    try:
        return fv.FiniteVolume(
            law,
            grid,
            fv.make_reconstruction(cfg.scheme["reconstruction"]),
            fv.make_riemann_solver(cfg.scheme["riemann_solver"]),
            bc=cfg.boundary,
            source=source,
        )
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{file}: key 'scheme' / 'boundary' / 'source': {e}") from None


def build_fv(cfg: FVConfig):
    """``(pde, u0)`` from a validated config."""
    import jax.numpy as jnp

    from ..grids import CellGrid

    file = cfg.path
    grid = CellGrid(cfg.num_cells, cfg.lower, cfg.upper)
    try:
        grid = grid.distribute(device_mesh(cfg.devices, file))
    except ValueError as e:
        raise ConfigError(f"{file}: key 'devices': {e}") from None
    pde = make_fv_pde(cfg, grid)
    law = pde.law
    params = dict(cfg.ic_params)
    if "quadrants" in params:
        params["quadrants"] = tuple(tuple(q) for q in params["quadrants"])
    try:
        u0 = fv.PROBLEMS[cfg.ic_kind](law, grid, **params)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{file}: key 'initial_condition': {e}") from None
    return pde, grid.put(u0.astype(jnp.float64 if cfg.precision == "float64" else jnp.float32))


def _plan(cfg) -> Plan:
    """How a finite-volume config runs: CFL-limited steps to each frame time, or fixed
    steps of ``dt``."""
    import numpy as np

    from .. import integrate

    pde, u0 = build_fv(cfg)
    s = cfg.scheme
    if cfg.dt is None:
        times = np.linspace(0.0, cfg.t_final, cfg.num_frames + 1)
        advance = integrate.cfl_advance(pde, times, cfl=s["cfl"], stepper=s["stepper"])
        steps = {"t_final": cfg.t_final}
        title = f"{cfg.law}: {s['reconstruction']} + {s['riemann_solver']} + {s['stepper']}, CFL {s['cfl']:g}"
        hint = "lower scheme.cfl"
    else:
        times = np.arange(cfg.num_frames + 1) * cfg.dt * cfg.save_every
        advance = integrate.rollout_advance(cfg.make_stepper(pde), cfg.save_every)
        steps = {"dt": cfg.dt, "num_steps": cfg.num_steps, "save_every": cfg.save_every}
        title = f"{cfg.law}: {s['reconstruction']} + {s['riemann_solver']} + {s['stepper']}, dt {cfg.dt:g}"
        hint = "lower dt"
    boundary = (
        cfg.boundary
        if isinstance(cfg.boundary, str)
        else [list(b) if isinstance(b, tuple) else b for b in cfg.boundary]
    )
    meta = run_metadata(
        cfg,
        law=cfg.law,
        parameters=cfg.parameters,
        solver="finite_volume",
        grid={"num_cells": list(cfg.num_cells), "lower": list(cfg.lower), "upper": list(cfg.upper)},
        scheme={k: v for k, v in s.items() if cfg.dt is None or k != "cfl"},
        boundary=boundary,
        source=cfg.source,
        **steps,
        initial_condition={"kind": cfg.ic_kind, **cfg.ic_params},
        state_layout="(time, channel, *space), conserved variables",
    )
    return Plan(advance, u0, times, meta, title, _picture, pde, hint=hint)


def _picture(cfg, rec, title, pde):
    """Profiles in 1D (with the exact solution of an Euler Riemann problem), density
    snapshots in 2D (the middle slice in 3D)."""
    import numpy as np

    from ..viz import plot_fv_profiles, plot_snapshots

    law = pde.law
    if len(cfg.num_cells) == 1:
        exact = None
        if cfg.law == "euler" and cfg.ic_kind == "riemann":
            p = {"x0": 0.5, **cfg.ic_params}
            exact = lambda x: fv.exact_riemann(
                p["left"], p["right"], x, cfg.t_final, gamma=float(law.gamma), x0=p["x0"]
            )

        return plot_fv_profiles(law, pde.grid, rec.frames, rec.times, exact=exact, title=title)
    prim = np.stack([np.asarray(law.to_primitive(f)) for f in rec.frames])
    sl = prim if prim.ndim == 4 else prim[..., prim.shape[-1] // 2]
    extent = tuple(b - a for a, b in zip(cfg.lower, cfg.upper))
    return plot_snapshots(sl, extent, rec.times, title=title + " (density)", num=4)
