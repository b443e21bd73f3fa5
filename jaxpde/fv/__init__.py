"""Finite-volume discretisations of conservation laws: laws, reconstructions, numerical
fluxes, boundary conditions, the CFL step, an exact Euler Riemann solver and test problems."""

from ._boundary import (
    AbstractBoundaryCondition as AbstractBoundaryCondition,
    Inflow as Inflow,
    Outflow as Outflow,
    Periodic as Periodic,
    Reflective as Reflective,
    normalise_bc as normalise_bc,
)
from ._balance import (
    AbstractBalance as AbstractBalance,
    Conservative as Conservative,
    HydrostaticReconstruction as HydrostaticReconstruction,
)
from ._exact_riemann import exact_riemann as exact_riemann, riemann_star_state as riemann_star_state
from ._finite_volume import FiniteVolume as FiniteVolume, cfl_dt as cfl_dt
from ._laws import (
    AbstractConservationLaw as AbstractConservationLaw,
    AbstractFluidLaw as AbstractFluidLaw,
    AbstractScalarLaw as AbstractScalarLaw,
    Burgers as Burgers,
    Euler as Euler,
    davis_bounds as davis_bounds,
    LinearAdvection as LinearAdvection,
    ShallowWater as ShallowWater,
)
from ._problems import (
    LAX as LAX,
    LAX_LIU_3 as LAX_LIU_3,
    SOD as SOD,
    TORO_123 as TORO_123,
    dam_break as dam_break,
    density_wave as density_wave,
    lake_at_rest as lake_at_rest,
    riemann_2d as riemann_2d,
    riemann_problem as riemann_problem,
    shu_osher as shu_osher,
)
from ._registry import LAWS as LAWS, PROBLEMS as PROBLEMS
from ._reconstruct import (
    AbstractReconstruction as AbstractReconstruction,
    MUSCL as MUSCL,
    PiecewiseConstant as PiecewiseConstant,
    WENO5 as WENO5,
    make_reconstruction as make_reconstruction,
)
from ._riemann import (
    AbstractRiemannSolver as AbstractRiemannSolver,
    Godunov as Godunov,
    HLL as HLL,
    HLLC as HLLC,
    Rusanov as Rusanov,
    make_riemann_solver as make_riemann_solver,
)
