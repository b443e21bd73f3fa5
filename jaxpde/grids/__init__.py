"""Grids: static descriptions of where a field lives."""

from ._abstract import AbstractGrid as AbstractGrid
from ._cell import CellGrid as CellGrid
from ._periodic import PeriodicGrid as PeriodicGrid
