"""The interface every grid satisfies."""

import abc

import equinox as eqx
import numpy as np


class AbstractGrid(eqx.Module):
    """A static, hashable description of where a field lives: a box ``[lower, upper]``
    (one entry per axis) sampled by ``shape`` points or cells. A state on a grid is a
    channel-first array ``(C, *shape)``.

    Concrete grids: [`jaxpde.PeriodicGrid`][jaxpde.PeriodicGrid] (pseudo-spectral, points from ``lower``)
    and [`jaxpde.CellGrid`][jaxpde.CellGrid] (finite volume, cell averages)."""

    lower: eqx.AbstractVar[tuple[float, ...]]
    upper: eqx.AbstractVar[tuple[float, ...]]
    extent: eqx.AbstractVar[tuple[float, ...]]
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
