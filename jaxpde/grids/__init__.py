"""Grids: static descriptions of where a field lives."""

from ._periodic import PeriodicGrid as PeriodicGrid
