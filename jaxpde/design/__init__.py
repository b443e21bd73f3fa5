"""Gradient-based inverse design and control through any jaxpde solver.

A *design* is any pytree of float arrays that a simulation depends on: an initial
condition, PDE coefficients, a space-time control, inflow values, the parameters of a
shape. :func:`minimise` optimises it with optax (projected onto a :class:`Box`, with
:class:`Tikhonov` / :class:`Smoothness` / :class:`TotalVariation` penalties),
:func:`least_squares` with optimistix (Gauss–Newton, Levenberg–Marquardt, dogleg,
BFGS); both record a history, show progress and checkpoint with orbax so that a run
can be resumed. :func:`laplace` gives a Gaussian uncertainty around a least-squares
estimate, :func:`check_gradient` compares the gradients used with finite differences,
and :func:`peak_memory` measures what a gradient program needs.

The worked problems are library objects: :func:`burgers_initial_condition`,
:func:`kolmogorov_parameters`, :func:`burgers_control` and :func:`shallow_water_bump`
build a :class:`DesignProblem`, and :func:`solve_problem` solves and reports it::

    problem = design.kolmogorov_parameters(key=jax.random.key(0))
    out = design.solve_problem(problem, run_dir="runs/kolmogorov")
    out.summary["recovered_viscosity"], out.summary["std_viscosity"]
"""

from ._analysis import (
    LaplacePosterior as LaplacePosterior,
    check_gradient as check_gradient,
    fourier_series as fourier_series,
    laplace as laplace,
    peak_memory as peak_memory,
    piecewise_constant as piecewise_constant,
    piecewise_constant_rollout as piecewise_constant_rollout,
    plot_history as plot_history,
    smooth_indicator as smooth_indicator,
)
from ._optimise import DesignResult as DesignResult, least_squares as least_squares, minimise as minimise
from ._problems import (
    DEFAULT_OPTIMISERS as DEFAULT_OPTIMISERS,
    PROBLEMS as PROBLEMS,
    DesignProblem as DesignProblem,
    ProblemResult as ProblemResult,
    bump_bathymetry as bump_bathymetry,
    burgers_control as burgers_control,
    burgers_initial_condition as burgers_initial_condition,
    kolmogorov_parameters as kolmogorov_parameters,
    num_steps_of as num_steps_of,
    plot_problem as plot_problem,
    shallow_water_bump as shallow_water_bump,
    solve_problem as solve_problem,
    uses_reverse_mode as uses_reverse_mode,
)
from ._regularise import (
    AbstractRegulariser as AbstractRegulariser,
    Box as Box,
    Smoothness as Smoothness,
    TotalVariation as TotalVariation,
    Tikhonov as Tikhonov,
)
