"""Time integration: rollouts of any stepper, explicit SSP Runge-Kutta steppers, CFL-limited
integration to a final time, and diffrax-based method-of-lines integration
(:func:`solve`: adaptive explicit/implicit/IMEX ODE solves, SDEs on a Virtual Brownian
Tree with the noise models below, solver-heuristic regularisers)."""

from ._advance import (
    brownian_horizon as brownian_horizon,
    cfl_advance as cfl_advance,
    rollout_advance as rollout_advance,
    solve_advance as solve_advance,
)
from ._cfl import CFLSolution as CFLSolution, solve_to as solve_to
from ._explicit import (
    AbstractExplicitStepper as AbstractExplicitStepper,
    ForwardEuler as ForwardEuler,
    RK4 as RK4,
    SSPRK2 as SSPRK2,
    SSPRK3 as SSPRK3,
)
from ._rollout import rollout as rollout, rollout_final as rollout_final
from ._imex import FourierMultiplierSolver as FourierMultiplierSolver, LinearStageSolve as LinearStageSolve
from ._names import ADJOINTS as ADJOINTS, ODE_SOLVERS as ODE_SOLVERS, SDE_SOLVERS as SDE_SOLVERS
from ._solve import Solution as Solution, solve as solve
from ._noise import (
    AbstractNoise as AbstractNoise,
    DiagonalNoise as DiagonalNoise,
    MultiplicativeNoise as MultiplicativeNoise,
    NoiseTerm as NoiseTerm,
    SpectralNoise as SpectralNoise,
)
from ._terms import PDETerm as PDETerm, brownian_tree as brownian_tree
from ._heuristics import (
    HeuristicSolver as HeuristicSolver,
    local_heuristics as local_heuristics,
    random_time as random_time,
)
