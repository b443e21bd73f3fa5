"""jaxpde: differentiable PDE simulation in JAX."""

from . import fv as fv, grids as grids, ic as ic, integrate as integrate, metrics as metrics, nn as nn
from . import pointwise as pointwise, spectral as spectral
from ._abstract import AbstractPDE as AbstractPDE, AbstractPointwise as AbstractPointwise
from ._abstract import AbstractStepper as AbstractStepper
from ._version import __version__ as __version__
from .grids import CellGrid as CellGrid, PeriodicGrid as PeriodicGrid
from .integrate import rollout as rollout, rollout_final as rollout_final, solve as solve, solve_to as solve_to
