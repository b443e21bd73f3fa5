"""Grids: static descriptions of where a field lives."""

from ._cell import CellGrid as CellGrid
from ._periodic import PeriodicGrid as PeriodicGrid
