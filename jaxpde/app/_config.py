"""Spectral ``kind: simulate`` configs: schema, validation with one-line errors.

A config either takes fixed steps (``stepper``, ``dt``, ``num_steps``, ``save_every``) or
names a diffrax integrator:

.. code-block:: yaml

    integrator: imex            # adaptive | imex | sde
    solve: {solver: kencarp4, rtol: 1.0e-6, atol: 1.0e-6, dt0: 0.01, adaptive: true, max_steps: 100000}
    noise: {amplitude: 0.1, correlation_length: 0.5, dealias: 0.6667, multiplicative: false}  # sde only
    t_final: 100.0
    save_interval: 1.0

Defaults: ``solver`` is ``tsit5`` (adaptive), ``kencarp4`` (imex), ``shark`` (sde with
additive noise) or ``euler`` (sde with multiplicative noise); SDEs take fixed steps of
``dt0`` unless ``adaptive: true``.
"""

import difflib
import inspect
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import pydantic

from .. import ic as ic_module
from .. import spectral
from ._schema import ConfigError as ConfigError
from ._schema import PlainName, Plan, device_mesh, devices_section, run_metadata, spatial_devices

EQUATIONS = spectral.EQUATIONS
INITIAL_CONDITIONS = ic_module.INITIAL_CONDITIONS


def _registered(registry, what):
    def check(name):
        if name not in registry:
            close = difflib.get_close_matches(str(name), registry, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else f" (known: {', '.join(sorted(registry))})"
            raise ValueError(f"must name {what}, got {name!r}{hint}")
        return name

    return pydantic.AfterValidator(check)


METHODS = ("etdrk", "exact", "stormer_verlet")


@dataclass
class IntegratorConfig:
    kind: str
    solver: str
    rtol: float
    atol: float
    dt0: float | None
    adaptive: bool
    max_steps: int
    noise: dict | None
    t_final: float
    save_interval: float

    @property
    def num_frames(self) -> int:
        return int(round(self.t_final / self.save_interval))


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
    devices: tuple | None = None

    def build(self):
        """``(pde, stepper, u0)`` (fixed steps) or ``(pde, u0)`` (a diffrax integrator),
        built through the library's constructors."""
        pde, u0 = build_problem(self)
        return (pde, u0) if self.integrator is not None else (pde, make_stepper(self, pde), u0)

    def plan(self) -> Plan:
        """How the config runs (see [`jaxpde.app.simulate`][jaxpde.app.simulate])."""
        return _plan(self)

    # the interface training data uses (shared with the finite-volume FVConfig)
    def parameter_names(self) -> tuple[str, ...]:
        """Names a training config may sample or list: the equation's keywords."""
        from ._schema import keyword_model

        return tuple(keyword_model(EQUATIONS[self.equation], "p", skip=("grid", "key", "dtype")).model_fields)

    def make_pde(self, grid, **overrides):
        """The equation on `grid` with `overrides` (traceable)."""
        return make_pde(self, grid, **overrides)

    def make_stepper(self, pde):
        """The fixed-step stepper of the config for `pde`."""
        return make_stepper(self, pde)

    def initial_sampler(self, pde):
        """``(key -> u0, takes_key)`` of the initial condition."""
        return ic_sampler(self, pde)


class _Grid(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    num_points: int | list[int]
    extent: float | list[float] = 2 * math.pi

    @pydantic.field_validator("num_points")
    @classmethod
    def _points(cls, v):
        if any(n < 2 for n in (v if isinstance(v, list) else [v])):
            raise ValueError("must be >= 2 on every axis")
        return v


class _Stepper(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    method: Literal[METHODS] | None = None  # type: ignore[valid-type]
    order: Literal[1, 2, 3, 4] = 4
    substeps: pydantic.PositiveInt = 1
    dealias: Annotated[float, pydantic.Field(gt=0, le=1)] | None = None


class _Solve(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    solver: str | None = None
    rtol: pydantic.PositiveFloat = 1e-6
    atol: pydantic.PositiveFloat = 1e-6
    dt0: pydantic.PositiveFloat | None = None
    adaptive: bool | None = None
    max_steps: pydantic.PositiveInt = 100_000


class _Noise(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    amplitude: pydantic.NonNegativeFloat
    correlation_length: pydantic.PositiveFloat | None = None
    dealias: Annotated[float, pydantic.Field(gt=0, le=1)] | None = None
    multiplicative: bool = False


class _Simulation(pydantic.BaseModel):
    """A spectral ``kind: simulate`` config (fixed steps, or a diffrax integrator)."""

    model_config = pydantic.ConfigDict(extra="forbid")
    name: PlainName | None = None
    equation: Annotated[str, _registered(EQUATIONS, "an equation of jaxpde.spectral.EQUATIONS")]
    parameters: dict = {}
    grid: _Grid
    stepper: _Stepper = _Stepper()
    dt: pydantic.PositiveFloat | None = None
    num_steps: pydantic.PositiveInt | None = None
    save_every: pydantic.PositiveInt = 1
    integrator: Literal["adaptive", "imex", "sde"] | None = None
    solve: _Solve | None = None
    noise: _Noise | None = None
    t_final: pydantic.PositiveFloat | None = None
    save_interval: pydantic.PositiveFloat | None = None
    initial_condition: dict
    seed: pydantic.NonNegativeInt = 0
    precision: Literal["float32", "float64"] = "float32"
    devices: devices_section("spatial") | None = None  # type: ignore[valid-type]


def _fail(file, key, msg):
    raise ConfigError(f"{file}: key '{key}' {msg}")


def parse_config(raw: dict, path) -> SimulationConfig:
    """Validate a spectral simulation config against its schema; the sections are the
    keywords of the library's constructors."""
    from ._schema import keyword_model, validate

    file = str(path)
    c = validate(_Simulation, raw, file)
    eq = c.equation
    params = validate(
        keyword_model(EQUATIONS[eq], f"parameters_{eq}", skip=("grid", "key", "dtype")),
        c.parameters,
        file,
        prefix=("parameters",),
    ).model_dump(exclude_unset=True)
    ic = dict(c.initial_condition)
    kind = ic.pop("kind", None)
    if kind not in INITIAL_CONDITIONS:
        close = difflib.get_close_matches(str(kind), INITIAL_CONDITIONS, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else f" (known: {', '.join(sorted(INITIAL_CONDITIONS))})"
        _fail(file, "initial_condition.kind", f"must name an initial condition, got {kind!r}{hint}")
    ic_params = validate(
        keyword_model(INITIAL_CONDITIONS[kind], f"ic_{kind}", skip=("grid", "key", "dtype")),
        ic,
        file,
        prefix=("initial_condition",),
    ).model_dump(exclude_unset=True)
    npts = tuple(c.grid.num_points) if isinstance(c.grid.num_points, list) else (c.grid.num_points,)
    ext = tuple(c.grid.extent) if isinstance(c.grid.extent, list) else (c.grid.extent,)
    if len(npts) == 1 and len(ext) > 1:
        npts = npts * len(ext)
    if len(ext) == 1 and len(npts) > 1:
        ext = ext * len(npts)
    if len(npts) != len(ext):
        _fail(file, "grid.extent", f"has {len(ext)} entries but grid.num_points has {len(npts)}")
    if not 1 <= len(npts) <= 3:
        _fail(file, "grid.num_points", f"must describe 1 to 3 dimensions, got {len(npts)}")
    st = c.stepper
    method = st.method or ("stormer_verlet" if eq == "klein_gordon" else "etdrk")
    if (eq == "klein_gordon") != (method == "stormer_verlet"):
        _fail(
            file,
            "stepper.method",
            f"'{method}' cannot integrate '{eq}' (klein_gordon needs stormer_verlet; "
            "first-order-in-time equations need etdrk or exact)",
        )
    if st.dealias is not None and eq == "klein_gordon":
        _fail(file, "stepper.dealias", "does not apply to klein_gordon")
    integrator = None
    if c.integrator is not None:
        integrator = _integrator(c, raw, file, eq)
        dt, num_steps, save_every = integrator.save_interval, integrator.num_frames, 1
    else:
        for k in ("solve", "noise", "t_final", "save_interval"):
            if k in raw:
                _fail(file, k, "needs 'integrator: adaptive | imex | sde'")
        for k in ("dt", "num_steps"):
            if getattr(c, k) is None:
                raise ConfigError(f"{file}: missing key '{k}'")
        dt, num_steps, save_every = c.dt, c.num_steps, c.save_every
        if num_steps % save_every:
            _fail(file, "save_every", f"({save_every}) must divide num_steps ({num_steps})")
    return SimulationConfig(
        path=Path(path),
        name=c.name or Path(path).stem,
        equation=eq,
        parameters=params,
        num_points=npts,
        extent=tuple(float(e) for e in ext),
        method=method,
        order=st.order,
        substeps=st.substeps,
        dealias=st.dealias,
        dt=float(dt),
        num_steps=num_steps,
        save_every=save_every,
        ic_kind=kind,
        ic_params=ic_params,
        seed=c.seed,
        precision=c.precision,
        raw=raw,
        integrator=integrator,
        devices=spatial_devices(c.devices, file),
    )


def _integrator(c, raw, file, equation):
    """The diffrax settings of a spectral config with an ``integrator``."""
    from ..integrate import ODE_SOLVERS, SDE_SOLVERS

    kind = c.integrator
    for k in ("stepper", "dt", "num_steps", "save_every"):
        if k in raw:
            _fail(
                file,
                k,
                f"belongs to the fixed-step integrator; with 'integrator: {kind}' use 't_final', "
                "'save_interval' and the 'solve' section",
            )
    for k in ("t_final", "save_interval"):
        if getattr(c, k) is None:
            raise ConfigError(f"{file}: missing key '{k}' (needed with 'integrator: {kind}')")
    frames = c.t_final / c.save_interval
    if abs(frames - round(frames)) > 1e-9 * max(1.0, frames):
        _fail(file, "save_interval", f"({c.save_interval:g}) must divide t_final ({c.t_final:g})")
    if equation == "klein_gordon":
        _fail(file, "integrator", "klein_gordon is second order in time; use its stormer_verlet stepper")
    if (kind == "sde") != (c.noise is not None):
        if kind == "sde":
            raise ConfigError(
                f"{file}: missing key 'noise' ('integrator: sde' needs amplitude, correlation_length, ...)"
            )
        _fail(file, "noise", "only applies with 'integrator: sde'")
    solve = c.solve or _Solve()
    multiplicative = bool(c.noise and c.noise.multiplicative)
    solver = (
        solve.solver or {"adaptive": "tsit5", "imex": "kencarp4", "sde": "euler" if multiplicative else "shark"}[kind]
    )
    table = SDE_SOLVERS if kind == "sde" else ODE_SOLVERS
    if solver not in table:
        close = difflib.get_close_matches(solver, table, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        _fail(file, "solve.solver", f"must be one of {', '.join(sorted(table))}, got {solver!r}{hint}")
    if kind == "imex" and not solver.startswith("kencarp"):
        _fail(file, "solve.solver", "'integrator: imex' needs kencarp3, kencarp4 or kencarp5")
    adaptive = solve.adaptive if solve.adaptive is not None else kind != "sde"
    if solve.dt0 is None and (kind == "sde" or not adaptive):
        raise ConfigError(f"{file}: missing key 'solve.dt0' (the {'SDE ' if kind == 'sde' else ''}step size)")
    if kind == "sde" and adaptive and solver == "euler":
        _fail(file, "solve.solver", "euler (Euler-Maruyama) cannot take adaptive steps; use spark or heun")
    return IntegratorConfig(
        kind=kind,
        solver=solver,
        rtol=solve.rtol,
        atol=solve.atol,
        dt0=solve.dt0,
        adaptive=adaptive,
        max_steps=solve.max_steps,
        noise=c.noise.model_dump() if c.noise else None,
        t_final=c.t_final,
        save_interval=c.save_interval,
    )


def make_pde(cfg, grid, **overrides):
    """The equation of a validated spectral config on `grid`; `overrides` replace
    parameters (traceable: used inside ``vmap`` for sampled parameters)."""
    kwargs = dict(cfg.parameters)
    if cfg.dealias is not None:
        kwargs["dealias"] = cfg.dealias
    kwargs.update(overrides)
    try:
        return EQUATIONS[cfg.equation](grid, **kwargs)
    except (TypeError, ValueError) as e:
        first = str(e).split(" ", 1)[0]  # the library's messages start with the argument's name
        key = f"parameters.{first}" if first in cfg.parameters else "parameters"
        raise ConfigError(f"{cfg.path}: key '{key}' (equation '{cfg.equation}'): {e}") from None


def ic_sampler(cfg, pde):
    """``(key -> u0, takes_key)``: the config's initial condition on the PDE's grid, in
    the config's precision (`takes_key` is False for deterministic ones)."""
    fn = INITIAL_CONDITIONS[cfg.ic_kind]
    params = dict(cfg.ic_params)
    accepted = inspect.signature(fn).parameters
    if "num_channels" in accepted and "num_channels" not in params:
        params["num_channels"] = pde.num_channels
    takes_key = "key" in accepted
    dtype = "float64" if cfg.precision == "float64" else "float32"

    def sample(key):
        return fn(pde.grid, **params, **({"key": key} if takes_key else {})).astype(dtype)

    return sample, takes_key


def make_stepper(cfg, pde):
    """The fixed-step stepper of a validated config for `pde`."""
    from ..spectral import ETDRK, ExactLinear, StormerVerlet

    try:
        if cfg.method == "etdrk":
            return ETDRK(pde, cfg.dt, order=cfg.order, substeps=cfg.substeps)
        if cfg.method == "exact":
            return ExactLinear(pde, cfg.dt)
        return StormerVerlet(pde, cfg.dt, substeps=cfg.substeps)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{cfg.path}: key 'stepper' / 'dt': {e}") from None


def build_problem(cfg):
    """Build ``(pde, u0)`` from a validated spectral config (imports JAX lazily)."""
    import jax

    from ..grids import PeriodicGrid

    file = cfg.path
    mesh = device_mesh(cfg.devices, file)
    try:
        grid = PeriodicGrid(cfg.num_points, cfg.extent)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{file}: key 'grid': {e}") from None
    try:
        grid = grid.distribute(mesh)
    except ValueError as e:
        raise ConfigError(f"{file}: key 'devices': {e}") from None
    pde = make_pde(cfg, grid)
    sample, _ = ic_sampler(cfg, pde)
    try:
        u0 = sample(jax.random.PRNGKey(cfg.seed))
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{file}: key 'initial_condition': {e}") from None
    if tuple(u0.shape) != pde.state_shape:
        raise ConfigError(
            f"{file}: key 'initial_condition': '{cfg.ic_kind}' gives shape {tuple(u0.shape)} but "
            f"'{cfg.equation}' needs {pde.state_shape} (channels, *grid.num_points)"
        )
    return pde, grid.put(u0)


# frames per solve of an adaptive or stochastic run: fixed, so that runs of different
# lengths take the same steps (and, with noise, see the same path) on their common interval
SOLVE_CHUNK = 10


def _plan(cfg) -> Plan:
    """How a spectral config runs (fixed steps, or a diffrax integrator)."""
    import jax
    import numpy as np

    from .. import integrate

    pde, u0 = build_problem(cfg)
    problem = {
        "equation": cfg.equation,
        "parameters": cfg.parameters,
        "grid": {"num_points": list(cfg.num_points), "extent": list(cfg.extent)},
        "initial_condition": {"kind": cfg.ic_kind, **cfg.ic_params},
        "seed": cfg.seed,
        "state_layout": "(time, channel, *space)",
    }
    ic = cfg.integrator
    if ic is None:
        stepper = make_stepper(cfg, pde)
        times = np.arange(cfg.num_steps // cfg.save_every + 1) * cfg.dt * cfg.save_every
        advance = integrate.rollout_advance(stepper, cfg.save_every)
        meta = run_metadata(
            cfg,
            **problem,
            stepper={"method": cfg.method, "order": cfg.order, "substeps": cfg.substeps, "dealias": cfg.dealias},
            dt=cfg.dt,
            num_steps=cfg.num_steps,
            save_every=cfg.save_every,
        )
        title = f"{cfg.equation}  (dt={cfg.dt:g}, {cfg.method}{cfg.order if cfg.method == 'etdrk' else ''})"
        return Plan(advance, u0, times, meta, title, _picture, pde)
    noise = None
    if ic.kind == "sde":
        n = ic.noise
        try:
            noise = integrate.SpectralNoise(
                pde.grid,
                n["amplitude"],
                correlation_length=n.get("correlation_length"),
                dealias=n.get("dealias"),
                num_channels=pde.num_channels,
            )
        except (TypeError, ValueError) as e:
            raise ConfigError(f"{cfg.path}: key 'noise': {e}") from None
        if n.get("multiplicative", False):
            noise = integrate.MultiplicativeNoise(noise)
    times = np.arange(ic.num_frames + 1) * ic.save_interval
    advance = integrate.solve_advance(
        pde,
        times,
        max_steps=ic.max_steps,
        noise=noise,
        key=jax.random.key(cfg.seed) if noise is not None else None,
        solver=ic.solver,
        rtol=ic.rtol,
        atol=ic.atol,
        dt0=ic.dt0,
        adaptive=ic.adaptive,
    )
    meta = run_metadata(
        cfg,
        **problem,
        integrator=ic.kind,
        solve={
            "solver": ic.solver,
            "rtol": ic.rtol,
            "atol": ic.atol,
            "dt0": ic.dt0,
            "adaptive": ic.adaptive,
            "max_steps": ic.max_steps,
        },
        noise=ic.noise,
        t_final=ic.t_final,
        save_interval=ic.save_interval,
    )
    return Plan(advance, u0, times, meta, f"{cfg.equation}  ({ic.kind}: {ic.solver})", _picture, pde, chunk=SOLVE_CHUNK)


def _picture(cfg, rec, title, pde):
    """A space-time image (1D) or snapshots (2D; the middle slice in 3D)."""
    from ..viz import plot_snapshots, plot_spacetime

    if len(cfg.num_points) == 1:
        return plot_spacetime(rec.frames, cfg.extent[0], rec.times, title=title)
    frames = rec.frames if len(cfg.num_points) == 2 else rec.frames[..., rec.frames.shape[-1] // 2]
    return plot_snapshots(frames, cfg.extent[:2], rec.times, title=title, num=4)
