"""Finite-volume discretisations of conservation laws: laws, reconstructions, numerical
fluxes, boundary conditions, the CFL step, an exact Euler Riemann solver and test problems."""

from ._balance import (
    AbstractBalance as AbstractBalance,
)
from ._balance import (
    Conservative as Conservative,
)
from ._balance import (
    HydrostaticReconstruction as HydrostaticReconstruction,
)
from ._boundary import (
    AbstractBoundaryCondition as AbstractBoundaryCondition,
)
from ._boundary import (
    FixedCell as FixedCell,
)
from ._boundary import (
    Inflow as Inflow,
)
from ._boundary import (
    Outflow as Outflow,
)
from ._boundary import (
    Periodic as Periodic,
)
from ._boundary import (
    Reflective as Reflective,
)
from ._boundary import (
    normalise_bc as normalise_bc,
)
from ._exact_riemann import exact_riemann as exact_riemann
from ._exact_riemann import riemann_star_state as riemann_star_state
from ._finite_volume import FiniteVolume as FiniteVolume
from ._finite_volume import cfl_dt as cfl_dt
from ._hancock import MUSCLHancock as MUSCLHancock
from ._laws import (
    AbstractConservationLaw as AbstractConservationLaw,
)
from ._laws import (
    AbstractFluidLaw as AbstractFluidLaw,
)
from ._laws import (
    AbstractScalarLaw as AbstractScalarLaw,
)
from ._laws import (
    Burgers as Burgers,
)
from ._laws import (
    Euler as Euler,
)
from ._laws import (
    LinearAdvection as LinearAdvection,
)
from ._laws import (
    ShallowWater as ShallowWater,
)
from ._laws import (
    channels as channels,
)
from ._laws import (
    davis_bounds as davis_bounds,
)
from ._problems import (
    LAX as LAX,
)
from ._problems import (
    LAX_LIU_3 as LAX_LIU_3,
)
from ._problems import (
    SOD as SOD,
)
from ._problems import (
    TORO_123 as TORO_123,
)
from ._problems import (
    dam_break as dam_break,
)
from ._problems import (
    density_wave as density_wave,
)
from ._problems import (
    lake_at_rest as lake_at_rest,
)
from ._problems import (
    riemann_2d as riemann_2d,
)
from ._problems import (
    riemann_problem as riemann_problem,
)
from ._problems import (
    shu_osher as shu_osher,
)
from ._reconstruct import (
    MUSCL as MUSCL,
)
from ._reconstruct import (
    WENO5 as WENO5,
)
from ._reconstruct import (
    AbstractReconstruction as AbstractReconstruction,
)
from ._reconstruct import (
    PiecewiseConstant as PiecewiseConstant,
)
from ._reconstruct import (
    make_reconstruction as make_reconstruction,
)
from ._registry import LAWS as LAWS
from ._registry import PROBLEMS as PROBLEMS
from ._registry import SOURCES as SOURCES
from ._riemann import (
    HLL as HLL,
)
from ._riemann import (
    HLLC as HLLC,
)
from ._riemann import (
    AbstractRiemannSolver as AbstractRiemannSolver,
)
from ._riemann import (
    Godunov as Godunov,
)
from ._riemann import (
    Rusanov as Rusanov,
)
from ._riemann import (
    make_riemann_solver as make_riemann_solver,
)
from ._sources import constant_source as constant_source
from ._sources import exponential_source as exponential_source
from ._sources import gaussian_source as gaussian_source
from ._sources import sine_source as sine_source
