"""Grids: static descriptions of where a field lives."""

from ._abstract import AbstractGrid as AbstractGrid
from ._cell import CellBlock as CellBlock
from ._cell import CellGrid as CellGrid
from ._mesh import distributed_irfftn as distributed_irfftn
from ._mesh import distributed_rfftn as distributed_rfftn
from ._mesh import spatial_mesh as spatial_mesh
from ._periodic import PeriodicGrid as PeriodicGrid
