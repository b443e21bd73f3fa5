"""Uniform Cartesian cell grids for finite-volume methods."""

import math
from collections.abc import Sequence
from typing import ClassVar

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh
from jaxtyping import Array

from ._abstract import AbstractGrid
from ._mesh import check_mesh, exchange_halo


def _per_axis(value, ndim: int, name: str, kind) -> tuple:
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return (kind(value),) * ndim
    if isinstance(value, Sequence) and not isinstance(value, str):
        out = tuple(kind(v) for v in value)
        if len(out) != ndim:
            raise ValueError(f"CellGrid: {name} has {len(out)} entries but the grid has {ndim} axes.")
        return out
    raise TypeError(f"CellGrid: {name} must be a number or a sequence of numbers, got {value!r}.")


class CellGrid(AbstractGrid):
    """A uniform grid of cells on ``[lower_1, upper_1] x ... x [lower_d, upper_d]``, ``d = 1, 2, 3``.

    Cell ``i`` along an axis covers ``[lower + i Δx, lower + (i + 1) Δx]`` and its
    centre is ``lower + (i + ½) Δx``. A state on this grid is a channel-first array
    ``(C, *num_cells)`` of cell averages. Ghost cells are created by the boundary
    conditions inside the solver; they are never part of the user's state. The grid is
    static (no array leaves) and hashable.

    **Arguments:**

    - `num_cells`: cells per axis, an ``int`` or one per axis, e.g. ``(200, 100)``.
    - `lower`, `upper`: domain bounds, a number (used on every axis) or one per axis.
      Default ``[0, 1]`` on every axis.
    - `mesh`: a ``jax.sharding.Mesh`` to split fields over (see
      [`spatial_mesh`][jaxpde.grids.spatial_mesh]); mesh axis ``i`` splits spatial axis
      ``i``. A [`FiniteVolume`][jaxpde.fv.FiniteVolume] on a split grid computes its
      right-hand side per device on its block, with ghost cells exchanged with the
      neighbours (``ppermute``) and filled by the boundary conditions at the physical
      edges. Default ``None``: one device.
    """

    num_cells: tuple[int, ...] = eqx.field(static=True)
    lower: tuple[float, ...] = eqx.field(static=True)
    upper: tuple[float, ...] = eqx.field(static=True)
    mesh: Mesh | None = eqx.field(static=True)
    periodic: ClassVar[bool] = False

    def __init__(self, num_cells, lower=0.0, upper=1.0, *, mesh: Mesh | None = None):
        if isinstance(num_cells, (int, np.integer)) and not isinstance(num_cells, bool):
            n = (int(num_cells),)
            for bound in (lower, upper):
                if isinstance(bound, Sequence) and not isinstance(bound, str):
                    n = n * len(bound)
                    break
        elif isinstance(num_cells, Sequence) and not isinstance(num_cells, str):
            n = tuple(num_cells)
        else:
            raise TypeError(f"CellGrid: num_cells must be an int or a sequence of ints, got {num_cells!r}.")
        for ni in n:
            if isinstance(ni, bool) or not isinstance(ni, (int, np.integer)) or ni < 1:
                raise ValueError(f"CellGrid: num_cells must be positive integers, got {num_cells!r}.")
        n = tuple(int(ni) for ni in n)
        if not 1 <= len(n) <= 3:
            raise ValueError(f"CellGrid supports 1, 2 or 3 dimensions, got {len(n)}.")
        lo = _per_axis(lower, len(n), "lower", float)
        hi = _per_axis(upper, len(n), "upper", float)
        for a, b in zip(lo, hi):
            if not (math.isfinite(a) and math.isfinite(b) and b > a):
                raise ValueError(
                    f"CellGrid: need finite bounds with upper > lower on every axis, got lower={lo}, upper={hi}."
                )
        check_mesh(mesh, n, len(n), "CellGrid")
        self.num_cells = n
        self.lower = lo
        self.upper = hi
        self.mesh = mesh

    def distribute(self, mesh: Mesh | None) -> "CellGrid":
        """This grid with its fields split over `mesh` (``None``: on one device)."""
        return CellGrid(self.num_cells, self.lower, self.upper, mesh=mesh)

    def block(self) -> "CellBlock":
        """The part of this grid one device holds (used inside ``jax.shard_map``)."""
        return CellBlock(self)

    def pad_axis(self, u: Array, axis: int, num_ghost: int, periodic: bool, lower, upper) -> Array:
        """`u` with ghost cells ``lower()`` and ``upper()`` concatenated on both sides of
        array `axis` (the boundary conditions' ghosts; `num_ghost` and `periodic` matter
        only on a [`CellBlock`][jaxpde.grids.CellBlock])."""
        del num_ghost, periodic
        return jnp.concatenate([lower(), u, upper()], axis=axis)

    @property
    def ndim(self) -> int:
        return len(self.num_cells)

    @property
    def shape(self) -> tuple[int, ...]:
        """The state's spatial shape ``(N_1, ..., N_d)``."""
        return self.num_cells

    @property
    def extent(self) -> tuple[float, ...]:
        """Domain length per axis."""
        return tuple(b - a for a, b in zip(self.lower, self.upper))

    @property
    def spacing(self) -> tuple[float, ...]:
        """Cell width ``Δx`` per axis."""
        return tuple(e / n for e, n in zip(self.extent, self.num_cells))

    @property
    def cell_volume(self) -> float:
        return math.prod(self.spacing)

    @property
    def volume(self) -> float:
        return math.prod(self.extent)

    def axis_centres(self, axis: int) -> np.ndarray:
        """Cell centres along `axis` (float64 numpy)."""
        if not 0 <= axis < self.ndim:
            raise ValueError(f"axis must be in [0, {self.ndim}), got {axis}.")
        return self.lower[axis] + (np.arange(self.num_cells[axis]) + 0.5) * self.spacing[axis]

    def axis_faces(self, axis: int) -> np.ndarray:
        """The ``N + 1`` face positions along `axis` (float64 numpy)."""
        return self.lower[axis] + np.arange(self.num_cells[axis] + 1) * self.spacing[axis]

    def coordinates(self) -> np.ndarray:
        """Cell centres, shape ``(d, *N)`` (``ij`` indexing, float64 numpy)."""
        axes = [self.axis_centres(i) for i in range(self.ndim)]
        return np.stack(np.meshgrid(*axes, indexing="ij"), axis=0)

    def integrate(self, u: Array) -> Array:
        """Integral over the domain of cell averages ``(..., *N)``: the sum times the cell volume."""
        return jnp.sum(u, axis=tuple(range(-self.ndim, 0))) * self.cell_volume

    def cell_average(self, fn, order: int = 5) -> np.ndarray:
        """Cell averages of ``fn(*coords) -> array (C, *N)`` by tensor Gauss-Legendre
        quadrature with `order` points per axis (float64 numpy). High-order schemes
        need cell averages, not point values, as initial data for their measured
        orders to show."""
        nodes, weights = np.polynomial.legendre.leggauss(order)
        total = None
        for idx in np.ndindex(*(order,) * self.ndim):
            coords = []
            for axis, i in enumerate(idx):
                c = self.axis_centres(axis) + 0.5 * nodes[i] * self.spacing[axis]
                shape = [1] * self.ndim
                shape[axis] = c.size
                coords.append(np.broadcast_to(c.reshape(shape), self.shape))
            w = np.prod([weights[i] / 2 for i in idx])
            val = w * np.asarray(fn(*coords), dtype=np.float64)
            total = val if total is None else total + val
        return total

    def __repr__(self):
        split = "" if self.mesh is None else f", mesh={dict(self.mesh.shape)}"
        return f"CellGrid(num_cells={self.num_cells}, lower={self.lower}, upper={self.upper}{split})"


class CellBlock(eqx.Module):
    """One device's block of a [`CellGrid`][jaxpde.grids.CellGrid] split over a mesh, as seen
    inside ``jax.shard_map``: the local `shape`, the global `spacing`, and a `pad_axis` that
    takes ghost cells from the neighbouring blocks along split axes.

    **Arguments:** `grid`, the split grid."""

    grid: CellGrid
    periodic: ClassVar[bool] = False

    def __check_init__(self):
        if self.grid.mesh is None:
            raise ValueError("CellBlock needs a grid with a mesh.")

    @property
    def mesh(self) -> Mesh:
        return self.grid.mesh

    @property
    def is_split(self) -> bool:
        """``False``: a block is whole on its device."""
        return False

    @property
    def ndim(self) -> int:
        return self.grid.ndim

    @property
    def shape(self) -> tuple[int, ...]:
        """The cells this device holds per axis."""
        names = self.mesh.axis_names
        return tuple(n // self.mesh.shape[names[i]] if i < len(names) else n for i, n in enumerate(self.grid.num_cells))

    @property
    def spacing(self) -> tuple[float, ...]:
        return self.grid.spacing

    @property
    def cell_volume(self) -> float:
        return self.grid.cell_volume

    def pad_axis(self, u: Array, axis: int, num_ghost: int, periodic: bool, lower, upper) -> Array:
        """`u` (a local block) with `num_ghost` ghost cells on both sides of array `axis`:
        from the neighbouring blocks along a split spatial axis (wrapping around when
        `periodic`), from ``lower()``/``upper()`` at the physical edges."""
        spatial = axis - (u.ndim - self.ndim)
        names = self.mesh.axis_names
        if spatial < len(names) and self.mesh.shape[names[spatial]] > 1:
            return exchange_halo(u, axis, num_ghost, names[spatial], periodic, lower, upper)
        return jnp.concatenate([lower(), u, upper()], axis=axis)
