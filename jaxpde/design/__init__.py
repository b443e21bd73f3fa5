"""Gradient-based inverse design and control through any jaxpde solver.

A *design* is any pytree of float arrays that a simulation depends on: an initial
condition, PDE coefficients, a space-time control, inflow values, the parameters of a
shape. [`minimise`][jaxpde.design.minimise] optimises it with optax (projected onto a [`Box`][jaxpde.design.Box], with
[`Tikhonov`][jaxpde.design.Tikhonov] / [`Smoothness`][jaxpde.design.Smoothness] /
[`TotalVariation`][jaxpde.design.TotalVariation] penalties),
[`least_squares`][jaxpde.design.least_squares] with optimistix (Gauss–Newton, Levenberg–Marquardt, dogleg,
BFGS); both record a history, show progress and checkpoint with orbax so that a run
can be resumed. [`laplace`][jaxpde.design.laplace] gives a Gaussian uncertainty around a least-squares
estimate, [`check_gradient`][jaxpde.design.check_gradient] compares the gradients used with finite differences,
and [`peak_memory`][jaxpde.design.peak_memory] measures what a gradient program needs.

The worked problems are library objects: [`burgers_initial_condition`][jaxpde.design.burgers_initial_condition],
[`kolmogorov_parameters`][jaxpde.design.kolmogorov_parameters], [`burgers_control`][jaxpde.design.burgers_control]
, [`shallow_water_bump`][jaxpde.design.shallow_water_bump],
[`obstacle_drag`][jaxpde.design.obstacle_drag] (the drag of a body of fixed area in a channel)
and [`cylinder_rotary_control`][jaxpde.design.cylinder_rotary_control] (rotation that damps
vortex shedding) build a [`DesignProblem`][jaxpde.design.DesignProblem], and
[`solve_problem`][jaxpde.design.solve_problem] solves and reports it::

    problem = design.kolmogorov_parameters(key=jax.random.key(0))
    out = design.solve_problem(problem, run_dir="runs/kolmogorov")
    out.summary["recovered_viscosity"], out.summary["std_viscosity"]
"""

from ._analysis import (
    LaplacePosterior as LaplacePosterior,
)
from ._analysis import (
    check_gradient as check_gradient,
)
from ._analysis import (
    fourier_series as fourier_series,
)
from ._analysis import (
    laplace as laplace,
)
from ._analysis import (
    peak_memory as peak_memory,
)
from ._analysis import (
    piecewise_constant as piecewise_constant,
)
from ._analysis import (
    piecewise_constant_rollout as piecewise_constant_rollout,
)
from ._analysis import (
    plot_history as plot_history,
)
from ._analysis import (
    smooth_indicator as smooth_indicator,
)
from ._optimise import DesignResult as DesignResult
from ._optimise import least_squares as least_squares
from ._optimise import minimise as minimise
from ._problems import (
    DEFAULT_OPTIMISERS as DEFAULT_OPTIMISERS,
)
from ._problems import (
    PROBLEMS as PROBLEMS,
)
from ._problems import (
    DesignProblem as DesignProblem,
)
from ._problems import (
    ProblemResult as ProblemResult,
)
from ._problems import (
    bump_bathymetry as bump_bathymetry,
)
from ._problems import (
    burgers_control as burgers_control,
)
from ._problems import (
    burgers_initial_condition as burgers_initial_condition,
)
from ._problems import cylinder_rotary_control as cylinder_rotary_control
from ._problems import (
    kolmogorov_parameters as kolmogorov_parameters,
)
from ._problems import (
    num_steps_of as num_steps_of,
)
from ._problems import obstacle_drag as obstacle_drag
from ._problems import (
    plot_problem as plot_problem,
)
from ._problems import (
    shallow_water_bump as shallow_water_bump,
)
from ._problems import (
    solve_problem as solve_problem,
)
from ._problems import (
    uses_reverse_mode as uses_reverse_mode,
)
from ._regularise import (
    AbstractRegulariser as AbstractRegulariser,
)
from ._regularise import (
    Box as Box,
)
from ._regularise import (
    Smoothness as Smoothness,
)
from ._regularise import (
    Tikhonov as Tikhonov,
)
from ._regularise import (
    TotalVariation as TotalVariation,
)
