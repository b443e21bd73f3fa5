"""``jaxpde simulate`` for incompressible-flow configs (those with ``flow: incompressible``).

Config keys: ``viscosity``, ``grid`` (``num_cells``, ``lower``, ``upper``; 2D), ``boundary``
(one entry per axis, each a condition or a ``[lower, upper]`` pair; a condition is a name
``wall | free_slip | outflow | periodic`` or a mapping ``{kind: wall, velocity: U}`` (a
moving lid) or ``{kind: inflow, profile: parabolic | uniform, speed: U}``), ``force``
(a constant body force ``[fx, fy]``), ``pressure_solver`` (``fast | cg | multigrid |
mgcg``), ``advection`` (``central``, default, or ``upwind``: van Leer-limited, for high
Reynolds numbers on coarse grids), ``stepper`` (``ssprk2 | ssprk3 | rk4``, or ``crank_nicolson``: implicit
viscosity, the step sized by advection alone), ``cfl``, ``velocity_scale`` (the speed
the CFL step is sized for; default the largest boundary speed, or 1), ``t_final``,
``num_frames``, ``precision`` and ``name``. The flow starts at rest.

An immersed body: ``obstacle`` (``{kind: circle, centre: [x, y], radius: r}`` or
``{kind: star, centre, radius, cosines: [...], sines: [...]}``), with ``penalty`` (the
Brinkman time ``η``; default ``h²/(16ν)``) and ``smoothing`` (cells); ``reference``
(``{speed, length}``) sets the force coefficients' scales (default: the mean inflow speed
and the body's mean diameter). The file then also holds ``force_coefficients`` ``(S, 2)``
(drag, lift after every step) and ``force_time`` ``(S,)``.

The trajectory file holds ``trajectory`` ``(T, 4, Nx, Ny)``: the velocity components at
the cell centres, the pressure and the vorticity; datasets ``x`` and ``y`` with the
cell-centre coordinates, and ``time``.
"""

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pydantic

from ._config import ConfigError
from ._schema import PlainName, Plan, run_metadata

_SIDES = ("wall", "free_slip", "outflow", "periodic")


class _Grid(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    num_cells: list[pydantic.PositiveInt]
    lower: float | list[float] = 0.0
    upper: float | list[float] = 1.0


class _Wall(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    kind: Literal["wall"]
    velocity: float = 0.0


class _Inflow(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    kind: Literal["inflow"]
    profile: Literal["parabolic", "uniform"] = "parabolic"
    speed: float = 1.0


_Side = Literal[_SIDES] | _Wall | _Inflow  # type: ignore[valid-type]


class _Circle(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    kind: Literal["circle"]
    centre: tuple[float, float]
    radius: pydantic.PositiveFloat


class _Star(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    kind: Literal["star"]
    centre: tuple[float, float]
    radius: pydantic.PositiveFloat
    cosines: list[float] = []
    sines: list[float] = []


class _Reference(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    speed: pydantic.PositiveFloat
    length: pydantic.PositiveFloat


class _Incompressible(pydantic.BaseModel):
    """An incompressible ``kind: simulate`` config."""

    model_config = pydantic.ConfigDict(extra="forbid")
    flow: Literal["incompressible"]
    name: PlainName | None = None
    viscosity: pydantic.PositiveFloat
    grid: _Grid
    boundary: list[_Side | tuple[_Side, _Side]]
    force: tuple[float, float] | None = None
    pressure_solver: Literal["fast", "cg", "multigrid", "mgcg"] = "fast"
    stepper: Literal["ssprk2", "ssprk3", "rk4", "crank_nicolson"] = "ssprk3"
    cfl: pydantic.PositiveFloat = 0.45
    velocity_scale: pydantic.PositiveFloat | None = None
    t_final: pydantic.PositiveFloat | None = None
    dt: pydantic.PositiveFloat | None = None
    num_steps: pydantic.PositiveInt | None = None
    save_every: pydantic.PositiveInt = 1
    seed: pydantic.NonNegativeInt = 0
    num_frames: pydantic.PositiveInt = 40
    precision: Literal["float32", "float64"] = "float64"
    obstacle: _Circle | _Star | None = pydantic.Field(None, discriminator="kind")
    penalty: pydantic.PositiveFloat | None = None
    smoothing: pydantic.PositiveFloat = 1.0
    advection: Literal["central", "upwind"] = "central"
    reference: _Reference | None = None


@dataclass
class IncompressibleConfig:
    path: Path
    name: str
    raw: dict
    spec: _Incompressible

    @property
    def precision(self) -> str:
        return self.spec.precision

    @property
    def num_cells(self) -> tuple[int, ...]:
        return tuple(self.spec.grid.num_cells)

    # the interface training data uses (shared with the spectral and finite-volume configs)
    @property
    def dt(self):
        return self.spec.dt

    @property
    def num_steps(self):
        return self.spec.num_steps

    @property
    def save_every(self) -> int:
        return self.spec.save_every

    @property
    def seed(self) -> int:
        return self.spec.seed

    ic_kind = "rest"

    def parameter_names(self) -> tuple[str, ...]:
        """Names a training config may sample or list: ``viscosity``, and with a body
        ``obstacle.centre_x``, ``obstacle.centre_y`` and ``obstacle.radius``."""
        body = ("obstacle.centre_x", "obstacle.centre_y", "obstacle.radius") if self.spec.obstacle else ()
        return ("viscosity", *body)

    def make_stepper(self, pde):
        """The fixed-step stepper of ``stepper`` with step ``dt``."""
        from .. import incompressible as inc
        from ..integrate import EXPLICIT_STEPPERS

        if self.spec.dt is None:
            raise ConfigError(f"{self.path}: missing key 'dt' (training data takes fixed steps: dt, num_steps)")
        if self.spec.stepper == "crank_nicolson":
            return inc.CrankNicolson(pde, self.spec.dt)
        return EXPLICIT_STEPPERS[self.spec.stepper](pde, self.spec.dt)

    def initial_sampler(self, pde):
        """``(key -> u0, takes_key)``: the flow at rest with its boundary faces set
        (deterministic; ``burn_in`` develops it)."""
        u0 = self.build()[1]
        return (lambda key: u0), False

    def build(self):
        """``(pde, u0)`` through the library's constructors (the flow at rest, with its
        boundary faces set)."""
        import jax.numpy as jnp

        pde = self.make_pde()
        dtype = jnp.float64 if self.spec.precision == "float64" else jnp.float32
        try:
            u0 = pde.project(jnp.zeros((2, *pde.grid.shape), dtype))
        except ValueError as e:
            raise ConfigError(f"{self.path}: key 'boundary': {e}") from None
        return pde, u0

    def make_pde(self, grid=None, **overrides):
        """The [`NavierStokes`][jaxpde.incompressible.NavierStokes] of the config;
        `overrides` replace ``viscosity`` and the body's ``obstacle.centre_x``,
        ``obstacle.centre_y``, ``obstacle.radius`` (traceable: built inside ``vmap`` for
        sampled or listed training parameters)."""
        from .. import incompressible as inc
        from ..grids import CellGrid

        c = self.spec
        if grid is None:
            grid = CellGrid(tuple(c.grid.num_cells), c.grid.lower, c.grid.upper)
        sides = []
        for axis, entry in enumerate(c.boundary):
            pair = entry if isinstance(entry, tuple) else (entry, entry)
            made = []
            for side in pair:
                if isinstance(side, str):
                    made.append(side)
                elif side.kind == "wall":
                    made.append(inc.Wall(side.velocity))
                else:
                    across = grid.axis_centres(1 - axis)
                    lo, hi = grid.lower[1 - axis], grid.upper[1 - axis]
                    s = (across - lo) / (hi - lo)
                    shape = 4 * s * (1 - s) if side.profile == "parabolic" else 1 + 0 * s
                    made.append(inc.Inflow(side.speed * shape))
            sides.append(tuple(made))
        obstacle = None
        if c.obstacle is not None:
            import jax.numpy as jnp

            o = c.obstacle
            centre = jnp.stack(
                [
                    jnp.asarray(overrides.get("obstacle.centre_x", o.centre[0]), float),
                    jnp.asarray(overrides.get("obstacle.centre_y", o.centre[1]), float),
                ]
            )
            radius = overrides.get("obstacle.radius", o.radius)
            if o.kind == "circle":
                obstacle = inc.Circle(centre, radius)
            else:
                if len(o.cosines) != len(o.sines):
                    raise ConfigError(f"{self.path}: key 'obstacle': cosines and sines need the same length")
                obstacle = inc.StarShape(centre, radius, o.cosines, o.sines)
        try:
            return inc.NavierStokes(
                grid,
                overrides.get("viscosity", c.viscosity),
                sides,
                force=c.force,
                solver=c.pressure_solver,
                obstacle=obstacle,
                penalty=c.penalty,
                smoothing=c.smoothing,
                advection=c.advection,
            )
        except ValueError as e:
            raise ConfigError(f"{self.path}: key 'boundary': {e}") from None

    def reference(self) -> tuple[float, float]:
        """The force coefficients' speed and length: ``reference``, or the mean inflow speed
        (the largest boundary speed without an inflow) and the body's mean diameter."""
        c = self.spec
        if c.reference is not None:
            return c.reference.speed, c.reference.length
        speeds = []
        for entry in c.boundary:
            for side in entry if isinstance(entry, tuple) else (entry,):
                if not isinstance(side, str) and side.kind == "inflow":
                    speeds.append(abs(side.speed) * (2 / 3 if side.profile == "parabolic" else 1.0))
        return (max(speeds) if speeds else _speed(c)), 2 * c.obstacle.radius

    def plan(self) -> Plan:
        """How the config runs (see [`jaxpde.app.simulate`][jaxpde.app.simulate])."""
        return _plan(self)


def load_incompressible_config(raw: dict, path: Path) -> IncompressibleConfig:
    """Validate an incompressible-flow config; the library's constructors check the rest."""
    from ._schema import validate

    file = str(path)
    c = validate(_Incompressible, raw, file)
    n = c.grid.num_cells
    if len(n) != 2:
        raise ConfigError(f"{file}: key 'grid.num_cells' needs two entries (the solver is 2D), got {len(n)}")
    if any(k < 4 for k in n):
        raise ConfigError(f"{file}: key 'grid.num_cells' needs at least 4 cells per axis, got {n}")
    if len(c.boundary) != 2:
        raise ConfigError(f"{file}: key 'boundary' needs one entry per axis (2), got {len(c.boundary)}")
    for k in ("lower", "upper"):
        v = getattr(c.grid, k)
        if isinstance(v, list) and len(v) != 2:
            raise ConfigError(f"{file}: key 'grid.{k}' needs one number or two, got {len(v)}")
    cfg = IncompressibleConfig(Path(path), c.name or Path(path).stem, raw, c)
    cfg.make_pde()  # boundary errors surface now, as one line
    return cfg


def _speed(c) -> float:
    speeds = [1.0 if c.velocity_scale is None else c.velocity_scale]
    if c.velocity_scale is None:
        speeds = [0.0]
        for entry in c.boundary:
            for side in entry if isinstance(entry, tuple) else (entry,):
                if not isinstance(side, str):
                    speeds.append(abs(side.velocity if side.kind == "wall" else side.speed))
        speeds = [max(speeds) or 1.0]
    return speeds[0]


def _plan(cfg: IncompressibleConfig) -> Plan:
    """Fixed steps sized by the CFL number for ``velocity_scale`` and the viscous limit;
    the file holds the cell-centre velocity, pressure and vorticity."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from .. import incompressible as inc
    from .. import integrate

    c = cfg.spec
    if c.t_final is None:
        raise ConfigError(f"{cfg.path}: missing key 't_final' (a simulation runs to t_final)")
    pde, u0 = cfg.build()
    implicit = c.stepper == "crank_nicolson"
    dt_max = float(inc.cfl_dt(pde, jnp.full_like(u0, _speed(c)), c.cfl, implicit_viscosity=implicit))
    frame_dt = c.t_final / c.num_frames
    per_frame = max(1, math.ceil(frame_dt / dt_max))
    dt = frame_dt / per_frame
    stepper = inc.CrankNicolson(pde, dt) if implicit else integrate.EXPLICIT_STEPPERS[c.stepper](pde, dt)
    times = np.linspace(0.0, c.t_final, c.num_frames + 1)
    extra = {"x": pde.grid.axis_centres(0), "y": pde.grid.axis_centres(1)}
    if pde.obstacle is None:
        advance = integrate.rollout_advance(stepper, per_frame)
    else:
        advance, history = _advance_with_forces(pde, stepper, per_frame, cfg.reference())
        extra["force_coefficients"] = lambda: np.concatenate(history)
        extra["force_time"] = dt * np.arange(1, c.num_frames * per_frame + 1)

    @jax.jit
    def observe(frames):
        def one(u):
            return jnp.concatenate([pde.cell_velocity(u), pde.pressure(u)[None], pde.vorticity(u)[None]])

        return jax.lax.map(one, frames)

    grid = pde.grid
    meta = run_metadata(
        cfg,
        flow="incompressible",
        solver="staggered_projection",
        viscosity=c.viscosity,
        grid={"num_cells": list(grid.shape), "lower": list(grid.lower), "upper": list(grid.upper)},
        boundary=[
            [s if isinstance(s, str) else s.model_dump() for s in (e if isinstance(e, tuple) else (e, e))]
            for e in c.boundary
        ],
        force=None if c.force is None else list(c.force),
        pressure_solver=c.pressure_solver,
        stepper=c.stepper,
        advection=c.advection,
        dt=dt,
        steps_per_frame=per_frame,
        t_final=c.t_final,
        state_layout="(time, channel, x, y): u, v at cell centres, pressure, vorticity",
    )
    if pde.obstacle is not None:
        speed, length = cfg.reference()
        meta.update(
            obstacle=c.obstacle.model_dump(),
            penalty=float(pde.penalty_time()),
            smoothing=c.smoothing,
            reference={"speed": speed, "length": length},
        )
    size = f"{grid.shape[0]}×{grid.shape[1]}"
    title = f"incompressible, ν = {c.viscosity:g}, {size}, {c.stepper}, {c.advection}, dt {dt:.3g}"
    return Plan(
        advance, u0, times, meta, title, _picture, pde, hint="lower cfl", observe=observe, extra=extra, movie_channel=3
    )


def _advance_with_forces(pde, stepper, per_frame, reference):
    """A chunked advance that also keeps the drag and lift coefficients after every step
    (appended to the returned list, one array per chunk)."""
    import equinox as eqx
    import jax
    import jax.numpy as jnp
    import numpy as np

    speed, length = reference
    history: list = []

    @eqx.filter_jit
    def chunk(u, n):
        def frame(u, _):
            def step(u, _):
                u = stepper(u)
                return u, pde.force_coefficients(u, speed, length)

            u, c = jax.lax.scan(step, u, None, length=per_frame)
            return u, (u, c)

        _, (frames, c) = jax.lax.scan(frame, u, None, length=n)
        return frames, c.reshape(-1, 2)

    def advance(u, index, n):
        del index
        frames, c = chunk(jnp.asarray(u), n)
        history.append(np.asarray(c))
        return frames, {"steps": n * per_frame}

    return advance, history


def _picture(cfg, rec, title, pde):
    """The last frame: speed with streamlines, and vorticity; with an obstacle, its
    outline and the force coefficients over time."""
    import h5py
    import jax.numpy as jnp

    from ..viz import plot_flow

    solid = forces = None
    if pde.obstacle is not None:
        x, y = jnp.meshgrid(pde.grid.axis_centres(0), pde.grid.axis_centres(1), indexing="ij")
        solid = pde.obstacle.level_set(x, y)
        with h5py.File(rec.path, "r") as f:
            forces = (f["force_time"][:], f["force_coefficients"][:])
    return plot_flow(pde.grid, rec.frames[-1], title=f"{title}, t = {rec.times[-1]:.3g}", solid=solid, forces=forces)
