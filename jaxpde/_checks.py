"""Argument checks shared by every layer (static values only; nothing traced)."""

import numpy as np

from .grids import PeriodicGrid


def check_int(value, name: str, *, minimum: int = 1) -> int:
    """Return `value` as an ``int`` if it is an integer ``>= minimum``, else raise ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}.")
    return int(value)


def check_periodic_grid(grid, name: str, ndims: tuple[int, ...] = (1, 2, 3)) -> PeriodicGrid:
    """Return `grid` if it is a :class:`PeriodicGrid` with ``grid.ndim in ndims``."""
    if not isinstance(grid, PeriodicGrid):
        raise TypeError(f"{name} needs a PeriodicGrid, got {type(grid).__name__}.")
    if grid.ndim not in ndims:
        dims = " or ".join(f"{d}D" for d in ndims)
        raise ValueError(f"{name} is defined on {dims} grids, got a {grid.ndim}D grid.")
    return grid
