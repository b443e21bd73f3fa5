"""Incompressible Navier-Stokes on a staggered (MAC) grid of cells: face velocities,
conservative second-order central advection, viscosity (explicit here, or implicit with
`CrankNicolson`), Brinkman-penalised obstacles, and an exact discrete
projection, written as a projected semi-discrete vector field so that every explicit
Runge-Kutta stepper of the library (and diffrax) integrates it."""

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array

from .._abstract import AbstractPDE
from .._types import Args, Field
from ..grids import CellGrid
from ..linalg import AbstractEllipticSolver, CellLaplacian, FastDiagonalisation, Krylov, Multigrid
from ._boundary import AbstractVelocityBC, normalise_velocity_bc
from ._obstacle import AbstractObstacle, face_coordinates, solid_fraction

SOLVERS = ("fast", "cg", "multigrid", "mgcg")
ADVECTION = ("central", "upwind")


def _sl(x: Array, start: int, stop: int | None, axis: int) -> Array:
    """``x[start:stop]`` along `axis` (negative indices count from the end)."""
    n = x.shape[axis]
    stop = n if stop is None else (stop if stop >= 0 else n + stop)
    return jax.lax.slice_in_dim(x, start if start >= 0 else n + start, stop, axis=axis)


def _lower_face(bc: AbstractVelocityBC, stored: Array, axis: int) -> Array:
    """The normal velocity on the lower boundary faces of `axis`: one layer along `axis`."""
    if bc.periodic:
        return _sl(stored, -1, None, axis)
    return jnp.expand_dims(bc.normal_value(stored.shape[1 - axis], stored.dtype), axis)


def _ghost_pad(x: Array, lo: AbstractVelocityBC, hi: AbstractVelocityBC, axis: int) -> Array:
    """`x` with one tangential ghost layer on both sides of `axis`."""
    first, last = _sl(x, 0, 1, axis), _sl(x, -1, None, axis)
    if lo.periodic:
        return jnp.concatenate([last, x, first], axis=axis)
    ghost_lo = lo.tangential_ghost(first, _sl(x, 1, 2, axis))
    ghost_hi = hi.tangential_ghost(last, _sl(x, -2, -1, axis))
    return jnp.concatenate([ghost_lo, x, ghost_hi], axis=axis)


def _corners(x: Array, lo: AbstractVelocityBC, hi: AbstractVelocityBC, axis: int) -> Array:
    """A tangential component on the faces along `axis` (one more than cells): the mean of
    its neighbours inside, the condition's face value on the boundary."""
    if lo.periodic:
        padded = _ghost_pad(x, lo, hi, axis)
        return 0.5 * (_sl(padded, 0, -1, axis) + _sl(padded, 1, None, axis))
    mid = 0.5 * (_sl(x, 0, -1, axis) + _sl(x, 1, None, axis))
    ends = lo.tangential_face(_sl(x, 0, 1, axis)), hi.tangential_face(_sl(x, -1, None, axis))
    return jnp.concatenate([ends[0], mid, ends[1]], axis=axis)


def _van_leer(far, up, down):
    """The van Leer-limited value between `up` and `down` on the side of `up`:
    ``up + ½ δ`` with ``δ = (a|b| + |a|b)/(|a| + |b|)``, ``a = up - far``, ``b = down - up``
    (the harmonic mean of the two differences where they agree in sign, zero at an extremum;
    second order where the field is smooth, no new extrema)."""
    a, b = up - far, down - up
    den = jnp.abs(a) + jnp.abs(b)
    safe = jnp.where(den > 0, den, 1.0)
    return up + 0.5 * jnp.where(den > 0, (a * jnp.abs(b) + jnp.abs(a) * b) / safe, 0.0)


def _upwind_value(q: Array, vel: Array, axis: int) -> Array:
    """The advected value on the faces between neighbours of `q` along `axis`: `q` holds
    ``n + 4`` values (two beyond each end), the result the ``n + 1`` faces between values
    ``1 .. n + 2``, reconstructed from the side the velocity `vel` ``(n + 1)`` comes from."""
    q0, q1, q2, q3 = (_sl(q, k, q.shape[axis] - 3 + k, axis) for k in range(4))
    return jnp.where(vel >= 0, _van_leer(q0, q1, q2), _van_leer(q3, q2, q1))


def _pad2(x: Array, lo: AbstractVelocityBC, hi: AbstractVelocityBC, axis: int) -> Array:
    """`x` with two layers beyond each end of `axis`: wrapped on a periodic axis, else the
    tangential ghost twice (the limiter then falls back to first order at the wall)."""
    if lo.periodic:
        return jnp.concatenate([_sl(x, -2, None, axis), x, _sl(x, 0, 2, axis)], axis=axis)
    g = _ghost_pad(x, lo, hi, axis)
    return jnp.concatenate([_sl(g, 0, 1, axis), g, _sl(g, -1, None, axis)], axis=axis)


def _momentum(u: Array, a: int, bc, spacing, upwind: bool = False) -> tuple[Array, Array]:
    """``(-∇·(u u_a), Δu_a)`` at the stored faces of component `a` ``(Nx, Ny)``: ``u`` the
    state ``(2, Nx, Ny)`` (component ``c`` on the upper c-faces), ``bc`` the side pairs,
    ``spacing`` the cell sizes; `upwind` reconstructs the advected component with the van
    Leer limiter instead of the central mean (the advecting velocity stays central).
    Written along the axes, without transposes."""
    b = 1 - a
    ua, ub = u[a], u[b]
    (alo, ahi), (blo, bhi) = bc[a], bc[b]
    h_a, h_b = spacing[a], spacing[b]
    full = jnp.concatenate([_lower_face(alo, ua, a), ua], axis=a)  # faces 0..Na
    beyond = _sl(full, 1, 2, a) if ahi.periodic else _sl(full, -1, None, a)  # Na+1: wrap or zero gradient
    ext = jnp.concatenate([full, beyond], axis=a)  # Na+2 along a
    centre = 0.5 * (_sl(ext, 0, -1, a) + _sl(ext, 1, None, a))  # cells 0..Na (Na: ghost)
    normal = centre * centre
    if upwind:  # faces -1 .. Na+2 around the cells 0..Na
        if alo.periodic:
            ext2 = jnp.concatenate([_sl(ua, -2, None, a), ua, _sl(ua, 0, 2, a)], axis=a)
        else:
            ext2 = jnp.concatenate([_sl(ext, 0, 1, a), ext, _sl(ext, -1, None, a)], axis=a)
        normal = centre * _upwind_value(ext2, centre, a)
    adv = (_sl(normal, 1, None, a) - _sl(normal, 0, -1, a)) / h_a
    # corners (a-face i+1, b-face j), j = 0..Nb
    ua_corner = _corners(ua, blo, bhi, b)
    ub_full = jnp.concatenate([_lower_face(blo, ub, b), ub], axis=b)  # with the lower b-faces
    ub_corner = _sl(_corners(ub_full, alo, ahi, a), 1, None, a)  # on the a-faces 1..Na
    if upwind:
        limited = _upwind_value(_pad2(ua, blo, bhi, b), ub_corner, b)
        if blo.periodic:
            ua_corner = limited
        else:  # the boundary corners keep the condition's face value
            ends = _sl(ua_corner, 0, 1, b), _sl(ua_corner, -1, None, b)
            ua_corner = jnp.concatenate([ends[0], _sl(limited, 1, -1, b), ends[1]], axis=b)
    flux = ua_corner * ub_corner
    adv = adv + (_sl(flux, 1, None, b) - _sl(flux, 0, -1, b)) / h_b
    ua_b = _ghost_pad(ua, blo, bhi, b)  # (Na, Nb+2) in the (a, b) frame
    visc = (_sl(ext, 2, None, a) - 2 * _sl(ext, 1, -1, a) + _sl(ext, 0, -2, a)) / h_a**2
    visc = visc + (_sl(ua_b, 2, None, b) - 2 * _sl(ua_b, 1, -1, b) + _sl(ua_b, 0, -2, b)) / h_b**2
    return -adv, visc


class NavierStokes(AbstractPDE):
    r"""Incompressible Navier-Stokes ``u_t + ∇·(u ⊗ u) = -∇p + ν Δu + f``, ``∇·u = 0`` on a
    staggered (MAC) grid of cells in 2D.

    **State.** ``(2, Nx, Ny)``: channel ``a`` is the velocity component ``a`` on the
    *upper* ``a``-face of every cell (``u`` at ``(i+½, j)``, ``v`` at ``(i, j+½)``). The
    lower boundary faces come from the boundary conditions; the upper boundary faces are
    stored and pinned to the condition's value (walls, inflows) or evolve (outflow,
    periodic). [`cell_velocity`][jaxpde.incompressible.NavierStokes.cell_velocity] gives
    the velocity at cell centres.

    **Discretisation.** Conservative second-order central differences for advection (or limited upwind: `advection`; the
    momentum flux at cell centres and corners from averaged face velocities), the
    five-point Laplacian for viscosity (ghost values from the conditions: a wall with
    tangential velocity ``w`` has the quadratic ghost ``(8w - 6u_½ + u_{3/2})/3``, exact for
    Poiseuille flow), and an exact discrete projection:
    ``rhs`` returns ``P(F) = F - G p`` with ``D G p = D F``, where ``D`` is the cell
    divergence, ``G`` the face gradient and ``D G`` the
    [`CellLaplacian`][jaxpde.linalg.CellLaplacian] of the implied pressure conditions.
    Integrating ``u_t = P(F(u))`` with any explicit Runge-Kutta stepper is a projection
    method with one pressure solve per stage (the stage-wise projection of explicit RK
    schemes, e.g. Sanderse & Koren, J. Comput. Phys. 231, 2012); the divergence of
    ``u`` keeps its initial value to solver precision. Start from
    [`project`][jaxpde.incompressible.NavierStokes.project]ed states.

    **Arguments:**

    - `grid`: a 2D [`CellGrid`][jaxpde.grids.CellGrid].
    - `viscosity`: ``ν > 0`` (differentiable).
    - `bc`: velocity conditions, one for all sides or one (or a ``(lower, upper)`` pair)
      per axis: [`Wall`][jaxpde.incompressible.Wall] (``"wall"``),
      [`FreeSlip`][jaxpde.incompressible.FreeSlip], [`Inflow`][jaxpde.incompressible.Inflow],
      [`Outflow`][jaxpde.incompressible.Outflow] (upper sides only),
      [`Periodic`][jaxpde.incompressible.Periodic].
    - `force`: ``None``, a constant body force ``(2,)``, or a face field ``(2, Nx, Ny)``
      (differentiable). A forcing field may also come through ``args``.
    - `solver`: the pressure solver: ``"fast"`` (fast diagonalisation, default),
      ``"cg"``, ``"multigrid"``, ``"mgcg"`` (multigrid-preconditioned CG), or a function
      ``CellLaplacian -> AbstractEllipticSolver`` (a learned solver, say).
    - `obstacle`: an immersed body at rest, an
      [`AbstractObstacle`][jaxpde.incompressible.AbstractObstacle] (e.g.
      [`Circle`][jaxpde.incompressible.Circle]), or ``None``. It enters by Brinkman
      penalisation (Angot, Bruneau & Fabrie, Numer. Math. 81, 1999): the momentum gains
      ``-χ u / η`` with ``χ`` the [`solid_fraction`][jaxpde.incompressible.solid_fraction]
      of the faces, so the velocity relaxes to zero inside the body on the time scale ``η``.
      The force on the body is the momentum the penalisation removes
      ([`obstacle_force`][jaxpde.incompressible.NavierStokes.obstacle_force]).
    - `penalty`: ``η``. Default ``h²/(16 ν)`` with ``h`` the larger spacing: the
      penalised boundary layer ``√(ν η)`` is then a quarter of a cell, and the explicit
      step it allows is twice the viscous one. Explicit steppers need ``dt ≲ 2.5 η``
      ([`cfl_dt`][jaxpde.incompressible.cfl_dt] accounts for it).
    - `smoothing`: the half width of the solid fraction's transition, in cells (default 1).
    - `advection`: ``"central"`` (default; second order, energy-conserving, needs the cell
      Reynolds number ``|u| h/ν`` below about 2 to stay free of wiggles) or ``"upwind"``: the
      advected component reconstructed from the upwind side with the van Leer limiter
      (van Leer, J. Comput. Phys. 32, 1979), the advecting velocity still central. Still
      conservative and second order where the flow is smooth, it adds dissipation only at
      steep gradients and extrema: the option for high Reynolds numbers on coarse grids.
    - `rotation`: ``Ω``, the body's rotation rate about its centre (counter-clockwise
      positive; default ``None``, at rest): the penalisation drives the velocity inside
      the body to ``Ω × (x - c)``. The shape does not move, so this is a rotating body
      only for a circle (rotary control of a cylinder).

    Differentiable: `viscosity`, `force`, the conditions' values (lid speed, inflow
    profile), the obstacle's shape parameters, `penalty`, `rotation`, the state. The solid fraction is
    computed from the obstacle at every evaluation, so a gradient with respect to the
    shape is exact whichever way the model was built.
    """

    grid: CellGrid
    viscosity: Array
    bc: tuple
    force: Array | None
    pressure_solver: AbstractEllipticSolver
    obstacle: AbstractObstacle | None
    penalty: Array | None
    smoothing: float = eqx.field(static=True)
    rotation: Array | None
    advection: str = eqx.field(static=True)

    def __init__(
        self,
        grid,
        viscosity,
        bc="wall",
        *,
        force=None,
        solver="fast",
        obstacle=None,
        penalty=None,
        smoothing=1.0,
        rotation=None,
        advection="central",
    ):
        if not isinstance(grid, CellGrid):
            raise TypeError(f"NavierStokes needs a CellGrid, got {type(grid).__name__}.")
        if grid.ndim != 2:
            raise ValueError(f"NavierStokes is implemented in 2D; the grid is {grid.ndim}D.")
        self.grid = grid
        self.viscosity = jnp.asarray(viscosity)
        self.bc = normalise_velocity_bc(bc, 2)
        if force is not None:
            force = jnp.asarray(force)
            if force.shape not in ((2,), (2, *grid.shape)):
                raise ValueError(f"force must have shape (2,) or {(2, *grid.shape)}, got {force.shape}.")
        self.force = force
        op = CellLaplacian(grid, self.pressure_sides)
        if isinstance(solver, str):
            if solver not in SOLVERS:
                raise ValueError(f"solver must be one of {SOLVERS} or a function of the operator, got {solver!r}.")
            if solver == "fast":
                made = FastDiagonalisation(grid, self.pressure_sides)
            elif solver == "cg":
                made = Krylov(op, rtol=1e-12)
            elif solver == "multigrid":
                made = Multigrid(op, rtol=1e-12)
            else:
                made = Krylov(op, rtol=1e-12, preconditioner=Multigrid(op).preconditioner())
        else:
            made = solver(op)
        if not isinstance(made, AbstractEllipticSolver):
            raise TypeError(f"the pressure solver must be an AbstractEllipticSolver, got {type(made).__name__}.")
        if made.operator.sides != self.pressure_sides:
            raise ValueError(f"the pressure solver's sides {made.operator.sides} are not {self.pressure_sides}.")
        self.pressure_solver = made
        if obstacle is not None and not isinstance(obstacle, AbstractObstacle):
            raise TypeError(f"obstacle must be an AbstractObstacle (e.g. Circle), got {type(obstacle).__name__}.")
        self.obstacle = obstacle
        self.penalty = None if penalty is None else jnp.asarray(penalty)
        if not smoothing > 0:
            raise ValueError(f"smoothing must be positive (cells), got {smoothing}.")
        self.smoothing = float(smoothing)
        if rotation is not None and obstacle is None:
            raise ValueError("rotation needs an obstacle to rotate.")
        self.rotation = None if rotation is None else jnp.asarray(rotation)
        if advection not in ADVECTION:
            raise ValueError(f"advection must be one of {ADVECTION}, got {advection!r}.")
        self.advection = advection

    @property
    def num_channels(self) -> int:
        return 2

    @property
    def periodic_axes(self) -> tuple[bool, ...]:
        return tuple(lo.periodic for lo, _ in self.bc)

    @property
    def pressure_sides(self) -> tuple[tuple[str, str], ...]:
        """The pressure's boundary kinds implied by the velocity conditions."""
        return tuple((lo.pressure, hi.pressure) for lo, hi in self.bc)

    # --- discrete operators -------------------------------------------------------------
    def full_faces(self, u: Field) -> tuple[Array, Array]:
        """Every face's normal velocity: ``(Nx+1, Ny)`` and ``(Nx, Ny+1)``."""
        return tuple(jnp.concatenate([_lower_face(self.bc[a][0], u[a], a), u[a]], axis=a) for a in range(2))

    def divergence(self, u: Field) -> Array:
        """``D u`` at the cells ``(Nx, Ny)`` (zero for a projected state)."""
        ua, vb = self.full_faces(u)
        hx, hy = self.grid.spacing
        return (ua[1:] - ua[:-1]) / hx + (vb[:, 1:] - vb[:, :-1]) / hy

    def gradient(self, p: Array) -> Field:
        """``G p`` on the stored faces ``(2, Nx, Ny)``: centred differences; zero on the
        upper faces of Neumann sides, ``-2p/h`` at a Dirichlet (outflow) side."""
        out = []
        for a in range(2):
            h = self.grid.spacing[a]
            kind = self.pressure_sides[a][1]
            if kind == "periodic":
                nxt = _sl(p, 0, 1, a)
            elif kind == "dirichlet":
                nxt = -_sl(p, -1, None, a)
            else:
                nxt = _sl(p, -1, None, a)  # zero gradient: the face is pinned anyway
            out.append((jnp.concatenate([_sl(p, 1, None, a), nxt], axis=a) - p) / h)
        return jnp.stack(out)

    def _pin(self, du: Field) -> Field:
        """Zero the tendency on upper boundary faces whose normal velocity is prescribed."""
        if self.bc[0][1].prescribes_normal:
            du = du.at[0, -1, :].set(0)
        if self.bc[1][1].prescribes_normal:
            du = du.at[1, :, -1].set(0)
        return du

    def _parts(self, u):
        upwind = self.advection == "upwind"
        (ax, vx), (ay, vy) = (_momentum(u, a, self.bc, self.grid.spacing, upwind) for a in range(2))
        return jnp.stack([ax, ay]), jnp.stack([vx, vy])

    def momentum(self, u: Field, args: Args = None) -> Field:
        """``F(u) = -∇·(u ⊗ u) + ν Δu + f`` (and the penalisation) on the stored faces,
        before projection.

        **Arguments:** the state `u`, `args` (an extra forcing field or ``None``).

        **Returns:** ``(2, Nx, Ny)``."""
        adv, lap = self._parts(u)
        return self._pin(self._explicit(adv, u, args) + self.viscosity.astype(u.dtype) * lap)

    def viscous(self, u: Field) -> Field:
        """``ν Δu`` on the stored faces (with the walls' ghosts: affine in `u` when a wall
        moves), zero on the pinned boundary faces.

        **Arguments:** the state `u`. **Returns:** ``(2, Nx, Ny)``."""
        return self._pin(self.viscosity.astype(u.dtype) * self._parts(u)[1])

    def explicit_momentum(self, u: Field, args: Args = None) -> Field:
        """Everything in ``F(u)`` but the viscosity: advection, forcing and penalisation
        (what a semi-implicit step treats explicitly).

        **Arguments:** the state `u`, `args`. **Returns:** ``(2, Nx, Ny)``."""
        return self._pin(self._explicit(self._parts(u)[0], u, args))

    def _explicit(self, du, u, args):
        if self.force is not None:
            f = self.force.astype(u.dtype)
            du = du + (f[:, None, None] if f.ndim == 1 else f)
        if args is not None:
            du = du + jnp.broadcast_to(jnp.asarray(args, u.dtype), u.shape)
        if self.obstacle is not None:
            du = du - self._penalisation(u)
        return du

    def solid(self, dtype=None) -> Array | None:
        """The obstacle's solid fraction ``χ`` ``(2, Nx, Ny)`` on the stored faces (``None``
        without an obstacle).

        **Arguments:** the `dtype` of the result (default the obstacle's).

        **Returns:** ``χ`` or ``None``."""
        if self.obstacle is None:
            return None
        chi = solid_fraction(self.grid, self.obstacle, self.smoothing)
        return chi if dtype is None else chi.astype(dtype)

    def penalty_time(self) -> Array:
        """``η``: `penalty`, or ``h²/(16 ν)`` from the current viscosity when it is ``None``.

        **Returns:** a scalar array."""
        if self.penalty is not None:
            return self.penalty
        return max(self.grid.spacing) ** 2 / (16 * self.viscosity)

    def body_velocity(self, dtype=None) -> Array | None:
        """The velocity the body imposes on the stored faces ``(2, Nx, Ny)``:
        ``Ω × (x - c)`` for a rotating body, ``None`` for a body at rest.

        **Arguments:** the `dtype` of the result. **Returns:** the field or ``None``."""
        if self.rotation is None:
            return None
        (xu, yu), (xv, yv) = face_coordinates(self.grid)
        c, omega = self.obstacle.centre, self.rotation
        out = jnp.stack([-omega * (yu - c[1]), omega * (xv - c[0])])
        return out if dtype is None else out.astype(dtype)

    def _penalisation(self, u):
        rel = u if self.rotation is None else u - self.body_velocity(u.dtype)
        return self.solid(u.dtype) * rel / self.penalty_time().astype(u.dtype)

    def obstacle_force(self, u: Field) -> Array:
        """The force ``(F_x, F_y)`` of the fluid on the obstacle per unit depth and density:
        ``Σ χ (u - u_body) / η ΔxΔy``, the momentum the penalisation takes from the fluid (at a steady
        state, the pressure and viscous force on the body).

        **Arguments:** the state `u`. **Returns:** ``(2,)``."""
        if self.obstacle is None:
            raise ValueError("obstacle_force needs a NavierStokes with an obstacle.")
        hx, hy = self.grid.spacing
        return jnp.sum(self._penalisation(u), axis=(1, 2)) * hx * hy

    def force_coefficients(self, u: Field, speed, length) -> Array:
        """The drag and lift coefficients ``2 F / (U² L)`` (unit density).

        **Arguments:** the state `u`, the reference `speed` ``U`` and `length` ``L``.

        **Returns:** ``(C_D, C_L)``."""
        return 2 * self.obstacle_force(u) / (jnp.asarray(speed) ** 2 * length)

    def _divergence_of_tendency(self, du):
        # prescribed lower faces do not change; periodic lower faces are the stored last ones
        out = 0.0
        for a, h in enumerate(self.grid.spacing):
            q = du[a]
            lo = _sl(q, -1, None, a) if self.bc[a][0].periodic else jnp.zeros_like(_sl(q, 0, 1, a))
            full = jnp.concatenate([lo, q], axis=a)
            out = out + (_sl(full, 1, None, a) - _sl(full, 0, -1, a)) / h
        return out

    def pressure(self, u: Field, args: Args = None) -> Array:
        """The pressure ``p`` ``(Nx, Ny)`` (per unit density) of the state: the solution of
        ``D G p = D F(u)``, zero mean on closed boxes."""
        return self.pressure_solver(self._divergence_of_tendency(self.momentum(u, args)))

    def pressure_term(self, u: Field, args: Args = None) -> Field:
        """``G p`` of the state's pressure on the stored faces (zero on the pinned boundary
        faces): ``rhs = momentum - pressure_term``.

        **Arguments:** the state `u`, `args`. **Returns:** ``(2, Nx, Ny)``."""
        return self._pin(self.gradient(self.pressure(u, args)))

    def rhs(self, t, u: Field, args: Args = None) -> Field:
        """``P(F(u)) = F(u) - G p``: the projected tendency ``(2, Nx, Ny)``."""
        self.check_state(u)
        du = self.momentum(u, args)
        p = self.pressure_solver(self._divergence_of_tendency(du))
        return self._pin(du - self.gradient(p)).astype(u.dtype)

    def project(self, u: Field) -> Field:
        """The divergence-free state nearest to `u` (``u - G φ`` with ``D G φ = D u``),
        with the prescribed boundary faces set first. Use it on initial states."""
        self.check_state(u)
        u = self.apply_boundary(u)
        phi = self.pressure_solver(self.divergence(u))
        return self._pin(u - self.gradient(phi)) + (u - self._pin(u))

    def apply_boundary(self, u: Field) -> Field:
        """`u` with the stored upper boundary faces set to the prescribed normal velocity."""
        for a in range(2):
            hi = self.bc[a][1]
            if hi.prescribes_normal:
                n = self.grid.shape[1 - a]
                val = hi.normal_value(n, u.dtype)
                u = u.at[0, -1, :].set(val) if a == 0 else u.at[1, :, -1].set(val)
        return u

    def cell_velocity(self, u: Field) -> Field:
        """The velocity at the cell centres ``(2, Nx, Ny)``: the mean of the two faces."""
        ua, vb = self.full_faces(u)
        return jnp.stack([0.5 * (ua[1:] + ua[:-1]), 0.5 * (vb[:, 1:] + vb[:, :-1])])

    def vorticity(self, u: Field) -> Array:
        """``ω = ∂v/∂x - ∂u/∂y`` at the cell centres ``(Nx, Ny)`` (centred differences of the
        cell velocities, one-sided at the box edges)."""
        c = self.cell_velocity(u)
        hx, hy = self.grid.spacing
        return jnp.gradient(c[1], hx, axis=0) - jnp.gradient(c[0], hy, axis=1)


def cfl_dt(pde: NavierStokes, u: Field, cfl: float = 0.5, *, implicit_viscosity: bool = False) -> Array:
    """The explicit step ``dt = cfl / (Σ_a max|u_a| / Δx_a + 2 ν Σ_a 1/Δx_a² + 1/η)`` for
    the state `u` (jit-safe; the last term with an obstacle only). ``cfl ≤ 0.5`` with
    SSP-RK3 is a safe choice.

    **Arguments:** the `pde`, the state `u`, the CFL number `cfl`, and
    `implicit_viscosity` (leave out the viscous term, for
    [`CrankNicolson`][jaxpde.incompressible.CrankNicolson]).

    **Returns:** a scalar array."""
    if not isinstance(pde, NavierStokes):
        raise TypeError(f"cfl_dt needs an incompressible NavierStokes, got {type(pde).__name__}.")
    hx, hy = pde.grid.spacing
    rate = jnp.max(jnp.abs(u[0])) / hx + jnp.max(jnp.abs(u[1])) / hy
    if not implicit_viscosity:
        rate = rate + 2 * pde.viscosity.astype(u.dtype) * (1 / hx**2 + 1 / hy**2)
    if pde.obstacle is not None:
        rate = rate + 1 / pde.penalty_time().astype(u.dtype)
    return cfl / rate
