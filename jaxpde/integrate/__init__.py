"""Time integration: rollouts of any stepper, explicit SSP Runge-Kutta steppers, CFL-limited
integration to a final time, and diffrax-based method-of-lines integration
([`solve`][jaxpde.integrate.solve]: adaptive explicit/implicit/IMEX ODE solves, SDEs on a Virtual Brownian
Tree with the noise models below, solver-heuristic regularisers)."""

from ._advance import (
    brownian_horizon as brownian_horizon,
)
from ._advance import (
    cfl_advance as cfl_advance,
)
from ._advance import (
    rollout_advance as rollout_advance,
)
from ._advance import (
    solve_advance as solve_advance,
)
from ._cfl import AUTO_CHECKPOINT_BYTES as AUTO_CHECKPOINT_BYTES
from ._cfl import FV_STEPPERS as FV_STEPPERS
from ._cfl import CFLSolution as CFLSolution
from ._cfl import solve_to as solve_to
from ._explicit import EXPLICIT_STEPPERS as EXPLICIT_STEPPERS
from ._explicit import (
    RK4 as RK4,
)
from ._explicit import (
    SSPRK2 as SSPRK2,
)
from ._explicit import (
    SSPRK3 as SSPRK3,
)
from ._explicit import (
    AbstractExplicitStepper as AbstractExplicitStepper,
)
from ._explicit import (
    ForwardEuler as ForwardEuler,
)
from ._heuristics import (
    HeuristicSolver as HeuristicSolver,
)
from ._heuristics import (
    local_heuristics as local_heuristics,
)
from ._heuristics import (
    random_time as random_time,
)
from ._imex import FourierMultiplierSolver as FourierMultiplierSolver
from ._imex import LinearStageSolve as LinearStageSolve
from ._names import ADJOINTS as ADJOINTS
from ._names import ODE_SOLVERS as ODE_SOLVERS
from ._names import SDE_SOLVERS as SDE_SOLVERS
from ._noise import (
    AbstractNoise as AbstractNoise,
)
from ._noise import (
    DiagonalNoise as DiagonalNoise,
)
from ._noise import (
    MultiplicativeNoise as MultiplicativeNoise,
)
from ._noise import (
    NoiseTerm as NoiseTerm,
)
from ._noise import (
    SpectralNoise as SpectralNoise,
)
from ._rollout import rollout as rollout
from ._rollout import rollout_final as rollout_final
from ._solve import Solution as Solution
from ._solve import solve as solve
from ._terms import PDETerm as PDETerm
from ._terms import brownian_tree as brownian_tree
