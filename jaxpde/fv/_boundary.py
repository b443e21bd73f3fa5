"""Boundary conditions as ghost cells, set per side of every axis. Ghost cells exist only
inside the right-hand side; gradients flow through them (e.g. to an inflow state)."""

import abc
from collections.abc import Sequence
from typing import ClassVar

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array

from ._laws import AbstractConservationLaw
from ._util import take as _take


class AbstractBoundaryCondition(eqx.Module):
    """Fills `num_ghost` ghost cells beyond one side of the domain along one axis.

    A new condition defines ``periodic`` (whether it pairs the two ends of an axis),
    `ghost` for the state and `ghost_field` for a cell field such as the bed
    height of shallow water."""

    periodic: eqx.AbstractClassVar[bool]
    holds_boundary_cell: ClassVar[bool] = False
    """Whether the cell next to this side keeps its value (its ``du/dt`` is zero)."""

    @abc.abstractmethod
    def ghost(self, u: Array, num_ghost: int, axis: int, side: str, law: AbstractConservationLaw) -> Array:
        """Ghost cells for state `u` ``(C, *N)`` on `side` (``"lower"``/``"upper"``) of spatial
        `axis`, ordered along the axis like the cells (outermost first on the lower side)."""

    @abc.abstractmethod
    def ghost_field(self, b: Array, num_ghost: int, axis: int, side: str) -> Array:
        """Ghost cells of a cell field `b` ``(*N)`` (no channel axis) on `side` of `axis`."""


def _wrap(b, num_ghost, axis, side):
    n = b.shape[axis]
    if num_ghost > n:
        raise ValueError(f"periodic boundary needs at least {num_ghost} cells along axis {axis}, got {n}.")
    return _take(b, n - num_ghost, num_ghost, axis) if side == "lower" else _take(b, 0, num_ghost, axis)


def _mirror(b, num_ghost, axis, side):
    n = b.shape[axis]
    if num_ghost > n:
        raise ValueError(f"reflective boundary needs at least {num_ghost} cells along axis {axis}, got {n}.")
    inner = _take(b, 0, num_ghost, axis) if side == "lower" else _take(b, n - num_ghost, num_ghost, axis)
    return jnp.flip(inner, axis=axis)


def _edge(b, num_ghost, axis, side):
    edge = _take(b, 0, 1, axis) if side == "lower" else _take(b, b.shape[axis] - 1, 1, axis)
    return jnp.repeat(edge, num_ghost, axis=axis)


class Periodic(AbstractBoundaryCondition):
    """Periodic: the ghost cells are the cells at the opposite end. Must be set on both
    sides of an axis."""

    periodic: ClassVar[bool] = True

    def ghost(self, u, num_ghost, axis, side, law):
        return _wrap(u, num_ghost, axis + 1, side)

    def ghost_field(self, b, num_ghost, axis, side):
        return _wrap(b, num_ghost, axis, side)


class Outflow(AbstractBoundaryCondition):
    """Outflow / transmissive: zero normal gradient (the boundary cell is repeated)."""

    periodic: ClassVar[bool] = False

    def ghost(self, u, num_ghost, axis, side, law):
        return _edge(u, num_ghost, axis + 1, side)

    def ghost_field(self, b, num_ghost, axis, side):
        return _edge(b, num_ghost, axis, side)


class Reflective(AbstractBoundaryCondition):
    """Reflective (slip) wall: the cells next to the wall mirrored, with the normal
    momentum negated by the law (``law.reflect``), so the normal mass flux through the
    wall vanishes."""

    periodic: ClassVar[bool] = False

    def ghost(self, u, num_ghost, axis, side, law):
        return law.reflect(_mirror(u, num_ghost, axis + 1, side), axis)

    def ghost_field(self, b, num_ghost, axis, side):
        # mirrored, so that h + b is continuous across a wall and the lake at rest stays exact
        return _mirror(b, num_ghost, axis, side)


class Inflow(AbstractBoundaryCondition):
    """A fixed (Dirichlet) state in the ghost cells, in conserved variables.

    `state` has shape ``(C,)`` (uniform along the boundary) or ``(C, *boundary_shape)``.
    Differentiable: `state`. Build it from primitive variables with
    ``law.to_conserved(w)``."""

    state: Array
    periodic: ClassVar[bool] = False

    def __init__(self, state):
        state = jnp.asarray(state)
        if not jnp.issubdtype(state.dtype, jnp.floating):
            state = state.astype(jnp.result_type(float))
        if state.ndim < 1:
            raise ValueError(
                f"Inflow state needs a channel axis, shape (C,) or (C, *boundary_shape); got shape {state.shape}."
            )
        self.state = state

    def ghost(self, u, num_ghost, axis, side, law):
        ax = axis + 1
        if self.state.shape[0] != u.shape[0]:
            raise ValueError(f"Inflow state has {self.state.shape[0]} channels, the law has {u.shape[0]}.")
        shape = list(u.shape)
        shape[ax] = num_ghost
        s = self.state
        if s.ndim == 1:
            s = s.reshape((-1,) + (1,) * (u.ndim - 1))
        else:
            s = jnp.expand_dims(s, ax)
        return jnp.broadcast_to(s, shape).astype(u.dtype)

    def ghost_field(self, b, num_ghost, axis, side):
        return _edge(b, num_ghost, axis, side)


class FixedCell(AbstractBoundaryCondition):
    """A Dirichlet condition held in the boundary cell itself: the cell next to this side
    keeps its initial value (its ``du/dt`` is zero) and the ghost cells repeat it. This
    is the inflow of the parametric Burgers benchmark of Rewienski (2003), used by the
    Φ-ROM paper (Hosseini Dashtbayaz et al., NeurIPS 2025): the first cell holds the
    inflow state, and the upwind flux out of it feeds the domain.

    **Reference:** M. Rewienski, "A trajectory piecewise-linear approach to model order
    reduction of nonlinear dynamical systems", PhD thesis, MIT, 2003."""

    periodic: ClassVar[bool] = False
    holds_boundary_cell: ClassVar[bool] = True

    def ghost(self, u, num_ghost, axis, side, law):
        return _edge(u, num_ghost, axis + 1, side)

    def ghost_field(self, b, num_ghost, axis, side):
        return _edge(b, num_ghost, axis, side)


_NAMED = {"periodic": Periodic, "outflow": Outflow, "reflective": Reflective, "fixed": FixedCell}


def _one(bc):
    if isinstance(bc, AbstractBoundaryCondition):
        return bc
    if isinstance(bc, str) and bc in _NAMED:
        return _NAMED[bc]()
    raise TypeError(
        f"a boundary condition must be 'periodic', 'outflow', 'reflective', 'fixed' or an "
        f"AbstractBoundaryCondition (e.g. Inflow(state)), got {bc!r}."
    )


def normalise_bc(bc, ndim: int) -> tuple[tuple[AbstractBoundaryCondition, AbstractBoundaryCondition], ...]:
    """Turn the user's `bc` into one ``(lower, upper)`` pair per axis.

    Accepted: one condition for every side; or a sequence with one entry per axis,
    each a condition for both sides or a ``(lower, upper)`` pair. A condition is a
    name (``"periodic"``, ``"outflow"``, ``"reflective"``, ``"fixed"``) or an instance.

    **Arguments:** `bc` as above and the grid's `ndim`.

    **Returns:** a tuple of `ndim` ``(lower, upper)`` pairs of conditions."""
    if isinstance(bc, (str, AbstractBoundaryCondition)):
        pairs = [(bc, bc)] * ndim
    elif isinstance(bc, Sequence):
        if len(bc) != ndim:
            raise ValueError(
                f"bc has {len(bc)} entries but the grid has {ndim} axes; give one per axis (or one for all)."
            )
        pairs = []
        for entry in bc:
            if isinstance(entry, (str, AbstractBoundaryCondition)):
                pairs.append((entry, entry))
            elif isinstance(entry, Sequence) and len(entry) == 2:
                pairs.append(tuple(entry))
            else:
                raise ValueError(f"each bc entry must be a condition or a (lower, upper) pair, got {entry!r}.")
    else:
        raise TypeError(f"bc must be a condition name, a condition, or one entry per axis, got {bc!r}.")
    out = []
    for axis, (lo, hi) in enumerate(pairs):
        lo, hi = _one(lo), _one(hi)
        if lo.periodic != hi.periodic:
            raise ValueError(
                f"axis {axis}: a periodic boundary must be periodic on both sides, "
                f"got {type(lo).__name__}/{type(hi).__name__}."
            )
        out.append((lo, hi))
    return tuple(out)


def pad(u: Array, bcs, num_ghost: int, axis: int, law: AbstractConservationLaw, grid) -> Array:
    """`u` ``(C, *N)`` with `num_ghost` ghost cells added on both sides of spatial `axis`
    (through ``grid.pad_axis``, which exchanges halos on a device's block of a split grid)."""
    lo, hi = bcs[axis]
    return grid.pad_axis(
        u,
        axis + 1,
        num_ghost,
        lo.periodic,
        lambda: lo.ghost(u, num_ghost, axis, "lower", law),
        lambda: hi.ghost(u, num_ghost, axis, "upper", law),
    )


def pad_scalar(b: Array, bcs, num_ghost: int, axis: int, grid) -> Array:
    """A cell field ``(*N)`` (e.g. bathymetry) padded along `axis` by each side's
    [`AbstractBoundaryCondition.ghost_field`][jaxpde.fv.AbstractBoundaryCondition.ghost_field]."""
    lo, hi = bcs[axis]
    return grid.pad_axis(
        b,
        axis,
        num_ghost,
        lo.periodic,
        lambda: lo.ghost_field(b, num_ghost, axis, "lower"),
        lambda: hi.ghost_field(b, num_ghost, axis, "upper"),
    )
