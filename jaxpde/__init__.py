"""jaxpde: differentiable PDE simulation in JAX."""

from . import _xla_workarounds  # first: before anything can start JAX's backend  # noqa: I001
from . import fv as fv
from . import grids as grids
from . import ic as ic
from . import incompressible as incompressible
from . import integrate as integrate
from . import linalg as linalg
from . import metrics as metrics
from . import nn as nn
from . import pointwise as pointwise
from . import spectral as spectral
from ._abstract import AbstractFrozen as AbstractFrozen
from ._abstract import AbstractPartlyFrozen as AbstractPartlyFrozen
from ._abstract import AbstractPDE as AbstractPDE
from ._abstract import AbstractPointwise as AbstractPointwise
from ._abstract import AbstractStepper as AbstractStepper
from ._cache import default_cache_dir as default_cache_dir
from ._cache import enable_compilation_cache as enable_compilation_cache
from ._version import __version__ as __version__
from .grids import CellGrid as CellGrid
from .grids import PeriodicGrid as PeriodicGrid
from .integrate import rollout as rollout
from .integrate import rollout_final as rollout_final
from .integrate import solve as solve
from .integrate import solve_to as solve_to
