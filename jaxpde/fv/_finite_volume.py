"""The finite-volume semi-discretisation ``du/dt = -div F + S`` of a conservation law."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.sharding import PartitionSpec as P

from .._abstract import AbstractPDE, AbstractPointwise
from .._types import Args, Field
from ..grids import CellGrid
from ._boundary import AbstractBoundaryCondition, normalise_bc, pad, pad_scalar
from ._laws import AbstractConservationLaw
from ._reconstruct import AbstractReconstruction, PiecewiseConstant
from ._riemann import AbstractRiemannSolver, Rusanov
from ._util import materialise, whole
from ._util import take as _take


class FiniteVolume(AbstractPDE, AbstractPointwise):
    r"""Conservative finite-volume discretisation of ``u_t + Σ_a ∂_a F_a(u) = S(u) (+ ν Δu)``.

    Dimension by dimension, for each axis: ghost cells from the boundary conditions,
    face values by the reconstruction (in the law's reconstruction variables: primitive
    for Euler), a numerical flux at every face, and the flux difference

    ``du_i/dt = -Σ_a (F_{a,i+½} - F_{a,i-½}) / Δx_a + S(u_i) + ν Δ_h u_i + f_i``.

    The scheme is conservative: with periodic boundaries the sums of all conserved
    variables are constant to round-off. Viscosity (Burgers) uses the second-order
    central Laplacian. A source ``S(x)`` that does not depend on the state (a body force,
    a parametric forcing) is the `source` field; a forcing `f` may also come through
    ``args`` (an array broadcastable to ``(C, *N)``).

    **Positivity.** With ``positivity=True`` (default) a face whose reconstructed value
    is not admissible (density or pressure ≤ 0 for Euler, negative depth for shallow
    water) falls back to the first-order (cell-average) values on both sides of that
    face. Together with a positively conservative flux (HLL/HLLC with Einfeldt speeds,
    or Rusanov) and an SSP Runge-Kutta step under a CFL number ≤ 0.5, this keeps density
    and pressure positive on the standard tests (Sod, Lax, Toro's 123 problem).

    **Arguments:**

    - `law`: an [`AbstractConservationLaw`][jaxpde.fv.AbstractConservationLaw]; its dimension must match the grid.
    - `grid`: a [`CellGrid`][jaxpde.grids.CellGrid].
    - `reconstruction`: default [`PiecewiseConstant`][jaxpde.fv.PiecewiseConstant].
    - `riemann_solver`: default [`Rusanov`][jaxpde.fv.Rusanov].
    - `bc`: boundary conditions (see [`normalise_bc`][jaxpde.fv.normalise_bc]): one for all sides, e.g.
      ``"periodic"``, or one per axis, each a condition or a ``(lower, upper)`` pair.
    - `positivity`: the first-order fallback described above.
    - `source`: ``None`` or an array broadcastable to ``(C, *N)`` added to ``du/dt`` (see
      [`jaxpde.fv.SOURCES`][jaxpde.fv.SOURCES] for named parametric profiles).

    Differentiable: the law's coefficients, inflow states, the source, the state itself.

    **Pointwise form.** ``pointwise_rhs`` is the law's local form ``-Σ_a ∂_a F_a(u) + ν Δu
    + S(x) + f(x)`` at a point, with the derivatives taken by autodiff of a pointwise field
    (the residual PINN-ROM fits; see [`jaxpde.AbstractPointwise`][jaxpde.AbstractPointwise]).
    ``S`` and ``f`` are cell fields, read at ``x`` by multilinear interpolation between
    cell centres (exact at the centres). Boundary conditions do not enter it.
    """

    law: AbstractConservationLaw
    grid: CellGrid
    reconstruction: AbstractReconstruction
    riemann_solver: AbstractRiemannSolver
    bc: tuple[tuple[AbstractBoundaryCondition, AbstractBoundaryCondition], ...]
    source: jax.Array | None
    positivity: bool = eqx.field(static=True)

    def __init__(
        self,
        law,
        grid,
        reconstruction=None,
        riemann_solver=None,
        bc="periodic",
        *,
        positivity: bool = True,
        source=None,
    ):
        if not isinstance(law, AbstractConservationLaw):
            raise TypeError(f"law must be an AbstractConservationLaw (e.g. Euler()), got {type(law).__name__}.")
        if not isinstance(grid, CellGrid):
            raise TypeError(f"FiniteVolume needs a CellGrid, got {type(grid).__name__}.")
        if law.ndim != grid.ndim:
            raise ValueError(
                f"the law is {law.ndim}D but the grid is {grid.ndim}D; build the law with ndim={grid.ndim}."
            )
        reconstruction = PiecewiseConstant() if reconstruction is None else reconstruction
        riemann_solver = Rusanov() if riemann_solver is None else riemann_solver
        if not isinstance(reconstruction, AbstractReconstruction):
            raise TypeError(
                f"reconstruction must be an AbstractReconstruction (e.g. WENO5()), got {type(reconstruction).__name__}."
            )
        if not isinstance(riemann_solver, AbstractRiemannSolver):
            raise TypeError(
                f"riemann_solver must be an AbstractRiemannSolver (e.g. HLLC()), got {type(riemann_solver).__name__}."
            )
        riemann_solver.check_law(law)
        law.balance().check(law, grid)
        self.law = law
        self.grid = grid
        self.reconstruction = reconstruction
        self.riemann_solver = riemann_solver
        self.bc = normalise_bc(bc, grid.ndim)
        self.positivity = bool(positivity)
        if source is not None:
            source = jnp.asarray(source)
            if not jnp.issubdtype(source.dtype, jnp.inexact):
                source = source.astype(jnp.result_type(float))
            try:
                jnp.broadcast_shapes(source.shape, (law.num_channels, *grid.shape))
            except ValueError:
                raise ValueError(
                    f"source of shape {source.shape} does not broadcast to the state shape "
                    f"{(law.num_channels, *grid.shape)}."
                ) from None
        self.source = source

    @property
    def num_channels(self) -> int:
        return self.law.num_channels

    @property
    def periodic_axes(self) -> tuple[bool, ...]:
        return tuple(bool(lo.periodic and hi.periodic) for lo, hi in self.bc)

    # --- right-hand side -----------------------------------------------------------
    def pad(self, u: Field, axis: int, num_ghost: int) -> Field:
        """`u` ``(C, *N)`` with `num_ghost` ghost cells from the boundary conditions on both
        sides of spatial `axis`."""
        out = pad(u, self.bc, num_ghost, axis, self.law, self.grid)
        # One channel: the faces' `materialise` is no fusion boundary, so a stencil reads
        # shifts of the padding inside one fusion, and XLA would otherwise split the
        # padding into a copy per shift (`whole`; 1D WENO5 Burgers 2.5x, 2D van Leer
        # advection 1.3-2.4x faster). With several channels (2D Euler: 0.9x) it is left.
        return whole(out) if u.shape[0] == 1 else out

    def pad_field(self, b, axis: int, num_ghost: int):
        """A cell field ``(*N)`` padded like the state (see ``ghost_field`` of the conditions)."""
        return pad_scalar(b, self.bc, num_ghost, axis, self.grid)

    def faces(self, w, axis: int):
        """Reconstructed face values ``(w_L, w_R)`` of padded `w` along spatial `axis`, with
        the positivity fallback."""
        g = self.reconstruction.num_ghost
        ax = axis + 1
        wl, wr = self.reconstruction(w, ax)
        if self.positivity:
            # the test reads two channels of both sides at every face: without this, each
            # face value is recomputed in it (measured 4x the WENO5 work)
            wl, wr = materialise(wl), materialise(wr)
            ok_l, ok_r = self.law.admissible(wl), self.law.admissible(wr)
            if ok_l is not None:
                n = w.shape[ax] - 2 * g
                ok = ok_l & ok_r
                wl = jnp.where(ok, wl, _take(w, g - 1, n + 1, ax))
                wr = jnp.where(ok, wr, _take(w, g, n + 1, ax))
        return materialise(wl), materialise(wr)

    def _laplacian(self, u):
        total = 0.0
        for axis in range(self.grid.ndim):
            ext = self.pad(u, axis, 1)
            n = u.shape[axis + 1]
            lo, mid, hi = (_take(ext, s, n, axis + 1) for s in (0, 1, 2))
            total = total + (lo - 2 * mid + hi) / self.grid.spacing[axis] ** 2
        return total

    def rhs(self, t, u: Field, args: Args = None) -> Field:
        """``du/dt`` at the cell averages `u` ``(C, *N)``. On a grid split over a mesh it
        is computed per device on its block (see [`CellGrid`][jaxpde.grids.CellGrid])."""
        self.check_state(u)
        du = self.blockwise(lambda pde, t, u, args: pde._block_rhs(t, u, args), t, u, args)
        return self.hold_boundary_cells(du)

    def hold_boundary_cells(self, du: Field) -> Field:
        """`du` ``(C, *N)`` with zeros in the cells that a boundary condition holds
        (``holds_boundary_cell``; e.g. [`FixedCell`][jaxpde.fv.FixedCell]).

        **Arguments:** `du`, an increment or rate on the whole grid.

        **Returns:** `du` with those cells zeroed."""
        for axis, (lo, hi) in enumerate(self.bc):
            for side, cond in ((0, lo), (-1, hi)):
                if cond.holds_boundary_cell:
                    du = du.at[(slice(None),) * (axis + 1) + (side,)].set(0)
        return du

    def _block_rhs(self, t, u: Field, args: Args) -> Field:
        """``rhs`` without the held boundary cells, on the whole grid or one device's block."""
        balance = self.law.balance()
        du = sum(balance.axis_term(self, u, axis) for axis in range(self.grid.ndim))
        if self.law.viscosity is not None:
            du = du + self.law.viscosity.astype(u.dtype) * self._laplacian(u)
        if self.source is not None:
            du = du + jnp.broadcast_to(self.source, u.shape).astype(u.dtype)
        if args is not None:
            du = du + jnp.broadcast_to(jnp.asarray(args), u.shape)
        return du.astype(u.dtype)

    def pointwise_rhs(self, field, x, args: Args = None):
        """``du/dt`` ``(C,)`` at the point `x` ``(d,)`` of a pointwise field ``field: x -> (C,)``:
        ``-Σ_a ∂_a F_a(field)(x) + ν Δfield(x) + S(x) + f(x)`` with autodiff derivatives.
        Laws with a balanced source (shallow water over a bed) have no pointwise form here."""
        from .. import pointwise as pw

        x = jnp.asarray(x)
        du = self.law.balance().pointwise_term(self.law, field, x)
        u = field(x)
        if self.law.viscosity is not None:
            du = du + self.law.viscosity.astype(u.dtype) * pw.laplacian(field, x)
        for extra in (self.source, args):
            if extra is not None:
                du = du + self.cell_value(extra, x).astype(u.dtype)
        return jnp.broadcast_to(du, u.shape).astype(u.dtype)

    def cell_value(self, values, x):
        """A cell field `values` (broadcastable to ``(C, *N)``) at the point `x` ``(d,)``,
        multilinear between cell centres and constant beyond the outer centres; ``(C,)``.
        Differentiable in `values`."""
        values = jnp.broadcast_to(jnp.asarray(values), (self.law.num_channels, *self.grid.shape))
        index = [(x[a] - self.grid.lower[a]) / self.grid.spacing[a] - 0.5 for a in range(self.grid.ndim)]
        return jax.vmap(lambda v: jax.scipy.ndimage.map_coordinates(v, index, order=1, mode="nearest"))(values)

    def blockwise(self, fn, scalar, u: Field, args: Args = None):
        """``fn(pde, scalar, u, args)`` on the whole grid, or, on a grid split over a mesh,
        under ``jax.shard_map`` with every device computing its block with a copy of this
        PDE on a [`CellBlock`][jaxpde.grids.CellBlock] (ghost cells then come by halo
        exchange). Leaves shaped like the grid (a bed, a forcing) are split like the
        state; an inflow state along a boundary is split along that boundary's axes;
        every other leaf is replicated, and so is `scalar` (a time or a step).

        **Arguments:** `fn` (returns a field shaped like `u`), a scalar `scalar`, the state
        `u` ``(C, *N)`` and `args` (``None`` or a pytree of arrays).

        **Returns:** the field `fn` computes, split like `u`."""
        grid = self.grid
        if not grid.is_split:
            return fn(self, scalar, u, args)
        names = tuple(grid.mesh.axis_names)
        local = eqx.tree_at(lambda p: p.grid, self, grid.block())
        arrays, static = eqx.partition(local, eqx.is_array)

        per_axis = names + (None,) * (grid.ndim - len(names))

        def spec_rule(shape, axis_names):
            def rule(x):
                k = len(shape)
                if x.ndim >= k and tuple(x.shape[x.ndim - k :]) == shape:
                    return P(*([None] * (x.ndim - k)), *axis_names)
                return P()

            return rule

        specs = jax.tree.map(spec_rule(grid.shape, per_axis), arrays)
        bc_specs = tuple(
            jax.tree.map(spec_rule(grid.shape[:a] + grid.shape[a + 1 :], per_axis[:a] + per_axis[a + 1 :]), pair)
            for a, pair in enumerate(arrays.bc)
        )
        specs = eqx.tree_at(lambda s: s.bc, specs, bc_specs)
        field = P(None, *per_axis)
        scalar = jnp.asarray(scalar)
        if args is None:

            def fn_none(arrays, u, scalar):
                return fn(eqx.combine(arrays, static), scalar, u, None)

            return jax.shard_map(fn_none, mesh=grid.mesh, in_specs=(specs, field, P()), out_specs=field)(
                arrays, u, scalar
            )
        args = jax.tree.map(jnp.asarray, args)
        args_specs = jax.tree.map(spec_rule(grid.shape, per_axis), args)

        def fn_args(arrays, u, scalar, args):
            return fn(eqx.combine(arrays, static), scalar, u, args)

        return jax.shard_map(fn_args, mesh=grid.mesh, in_specs=(specs, field, P(), args_specs), out_specs=field)(
            arrays, u, scalar, args
        )

    # --- time-step restriction ----------------------------------------------------------
    def max_signal_rate(self, u: Field) -> jax.Array:
        """``Σ_a max_i |λ_a(u_i)| / Δx_a + 2 ν Σ_a 1/Δx_a²``: the inverse of the largest
        stable explicit step at CFL number 1."""
        rate = sum(jnp.max(self.law.max_wave_speed(u, a)) / self.grid.spacing[a] for a in range(self.grid.ndim))
        if self.law.viscosity is not None:
            rate = rate + 2 * self.law.viscosity * sum(1 / dx**2 for dx in self.grid.spacing)
        return rate


def cfl_dt(pde: FiniteVolume, u: Field, cfl: float = 0.5) -> jax.Array:
    """The explicit time step ``dt = cfl / (Σ_a max|λ_a| / Δx_a + 2 ν Σ_a 1/Δx_a²)`` for the
    state `u` (jit-safe; a scalar array). For SSP Runge-Kutta steps with MUSCL or WENO
    reconstructions, ``cfl ≤ 0.5`` is a safe choice in 1D and 2D.

    **Arguments:** `pde` (a [`FiniteVolume`][jaxpde.fv.FiniteVolume]),
    the state `u` ``(C, *N)`` and the CFL number `cfl` ``> 0``.

    **Returns:** the step, a scalar array.
    """
    if not isinstance(pde, FiniteVolume):
        raise TypeError(f"cfl_dt needs a FiniteVolume (a PDE with wave speeds), got {type(pde).__name__}.")
    if isinstance(cfl, (int, float)) and not (cfl > 0 and math.isfinite(cfl)):
        raise ValueError(f"cfl must be positive and finite, got {cfl!r}.")
    rate = pde.max_signal_rate(u)
    tiny = jnp.finfo(jnp.result_type(u.dtype, rate.dtype)).tiny
    return cfl / jnp.maximum(rate, tiny**0.5)
