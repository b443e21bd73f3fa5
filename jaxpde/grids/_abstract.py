"""The interface every grid satisfies."""

import abc

import equinox as eqx
import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding

from ._mesh import field_sharding, is_split


class AbstractGrid(eqx.Module):
    """A static, hashable description of where a field lives: a box ``[lower, upper]``
    (one entry per axis) sampled by ``shape`` points or cells. A state on a grid is a
    channel-first array ``(C, *shape)``.

    Concrete grids: [`jaxpde.PeriodicGrid`][jaxpde.PeriodicGrid] (pseudo-spectral, points from ``lower``)
    and [`jaxpde.CellGrid`][jaxpde.CellGrid] (finite volume, cell averages)."""

    lower: eqx.AbstractVar[tuple[float, ...]]
    upper: eqx.AbstractVar[tuple[float, ...]]
    extent: eqx.AbstractVar[tuple[float, ...]]
    mesh: eqx.AbstractVar[Mesh | None]
    periodic: eqx.AbstractClassVar[bool]

    @property
    @abc.abstractmethod
    def ndim(self) -> int:
        """Number of spatial dimensions ``d``."""

    @property
    @abc.abstractmethod
    def shape(self) -> tuple[int, ...]:
        """Points or cells per axis ``(N_1, ..., N_d)``."""

    @property
    @abc.abstractmethod
    def spacing(self) -> tuple[float, ...]:
        """Point or cell spacing per axis."""

    @abc.abstractmethod
    def coordinates(self) -> np.ndarray:
        """Coordinates of every point or cell centre, ``(d, *shape)`` (float64 numpy)."""

    @property
    def is_split(self) -> bool:
        """Whether fields on this grid are split over several devices (a `mesh` of more
        than one device)."""
        return is_split(self.mesh)

    def sharding(self, num_leading: int = 1) -> NamedSharding | None:
        """The ``NamedSharding`` of an array ``(*lead, *shape)`` on this grid with
        `num_leading` leading axes (1 for a state ``(C, *N)``); ``None`` without a mesh."""
        if self.mesh is None:
            return None
        return field_sharding(self.mesh, self.ndim, num_leading)

    def put(self, u):
        """Place a field ``(*lead, *shape)`` (NumPy or JAX) on the grid's devices, split
        like the grid; without a mesh it is returned as a JAX array.

        **Arguments:** `u`, the field. **Returns:** the placed array."""
        if self.mesh is None:
            return jax.numpy.asarray(u)
        return jax.device_put(u, self.sharding(np.ndim(u) - self.ndim))

    def constrain(self, u):
        """Inside ``jit``: `u` ``(*lead, *shape)`` held split like the grid (a sharding
        constraint, so XLA never gathers it whole); unchanged without a mesh.

        **Arguments:** `u`, a field on this grid. **Returns:** the same values."""
        if self.mesh is None:
            return u
        return jax.lax.with_sharding_constraint(u, self.sharding(u.ndim - self.ndim))
