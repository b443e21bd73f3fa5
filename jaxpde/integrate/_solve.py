"""Method-of-lines integration of any [`AbstractPDE`][jaxpde.AbstractPDE] with diffrax.

One entry point, [`solve`][jaxpde.integrate.solve], covers explicit, implicit and IMEX Runge-Kutta methods
with error control, and stochastic PDEs driven by a Virtual Brownian Tree. It only
needs ``pde.rhs`` (plus ``linear_symbol``/``nonlinear`` for IMEX, and a noise model for
SDEs), so every discretisation in jaxpde and every neural vector field in
[`jaxpde.nn`][jaxpde.nn] goes through the same code.
"""

import math
from typing import Any

import diffrax
import equinox as eqx
import jax.numpy as jnp
import numpy as np
import optimistix as optx
from jaxtyping import Array

from .._abstract import AbstractPDE, check_state_finite
from .._checks import branched_raise_if, check_int, raise_if
from ._heuristics import HeuristicSolver
from ._imex import LinearStageSolve
from ._names import ADJOINTS, ODE_SOLVERS, SDE_SOLVERS, resolve, resolve_saveat
from ._terms import is_imex, ode_terms, sde_terms

_FAILURES = (
    (
        "max_steps_reached",
        "the maximum number of steps ({max_steps}) was reached before t1. "
        "Increase max_steps, loosen rtol/atol, or use an implicit/IMEX solver if the problem is stiff.",
    ),
    ("max_steps_rejected", "too many consecutive steps were rejected. The solution may have blown up."),
    ("dt_min_reached", "the step size fell below dtmin. The solution may have blown up or be singular."),
    (
        "nonlinear_max_steps_reached",
        "the implicit stage equations did not converge. Try a smaller dt0 or looser tolerances.",
    ),
    ("nonlinear_divergence", "the implicit stage equations diverged. Try a smaller dt0 or looser tolerances."),
    ("singular", "a singular linear system appeared in an implicit stage."),
    ("nonfinite", "the state became non-finite (NaN or inf)."),
    ("internal_error", "diffrax reported an internal error."),
)


def _evals_per_step(solver) -> tuple[int, int] | None:
    """(right-hand-side evaluations per attempted step, evaluations at initialisation)
    for explicit Runge-Kutta tableaus; ``None`` where it is not a fixed number."""
    tableau = getattr(solver, "tableau", None)
    if not isinstance(tableau, diffrax.ButcherTableau) or isinstance(solver, diffrax.AbstractImplicitSolver):
        return None
    if not np.all(np.asarray(tableau.a_diagonal if tableau.a_diagonal is not None else 0) == 0):
        return None
    if tableau.fsal:
        return tableau.num_stages - 1, 1
    return tableau.num_stages, 0


def _with_root_finder(solver, rtol, atol, imex: bool):
    """Give implicit solvers a root finder at the solve's tolerances (and, for IMEX on a
    semilinear PDE, a Fourier-diagonal linear solve instead of a dense LU)."""
    if not isinstance(solver, diffrax.AbstractImplicitSolver):
        return solver
    if imex:
        # The implicit term L u is linear: one Fourier-diagonal solve is the exact root.
        root_finder = LinearStageSolve()
    else:
        # The controller's RMS norm (VeryChord's default max-norm is stricter than the
        # error control and makes it reject steps whose stage solves were good enough).
        root_finder = diffrax.VeryChord(rtol=rtol, atol=atol, norm=optx.rms_norm)
    return eqx.tree_at(lambda s: s.root_finder, solver, root_finder)


# --------------------------------------------------------------------------------------
# Solution
# --------------------------------------------------------------------------------------
class Solution(eqx.Module):
    """The result of [`solve`][jaxpde.integrate.solve].

    **Fields:**

    - `ts`: the save times, shape ``(T,)``.
    - `us`: the saved states, shape ``(T, C, *N)``.
    - `stats`: a dict of integer arrays: ``num_steps`` (attempted), ``num_accepted_steps``,
      ``num_rejected_steps`` and ``num_rhs_evals`` (right-hand-side evaluations of the
      steps, rejected ones included, for explicit Runge-Kutta methods: stages per step
      times steps, plus one initial evaluation for FSAL methods; diffrax may spend a few
      more re-evaluating a first stage after rejected steps; ``-1`` where the count is not fixed, e.g. the
      Newton iterations of implicit methods, and for SDEs).
    - `result`: diffrax's result code (``diffrax.RESULTS.successful`` when it worked).
    - `heuristics`: ``None`` unless ``heuristics=True``; then a dict with the
      step-size-weighted sums of the accepted steps' error estimates (``"error"``) and
      stiffness estimates (``"stiffness"``), see `jaxpde.integrate.solver_heuristics`.
    - `solution`: the underlying `diffrax.Solution` (dense output, events, …).
    """

    ts: Array
    us: Array
    stats: dict
    result: Any
    heuristics: dict | None
    solution: diffrax.Solution

    @property
    def u_final(self) -> Array:
        """The last saved state."""
        return self.us[-1]


_NONFINITE = (
    "jaxpde.solve produced a non-finite state (NaN or inf). With fixed steps this usually "
    "means dt is too large for stability; use an adaptive solver or a smaller dt0."
)


def failure_message(result, ys, max_steps: int) -> str | None:
    """The error [`solve`][jaxpde.solve] would raise for a finished solve, checked on the
    host (for ``solve(..., throw=False)`` inside a compiled function: a runtime check
    inside would make the program uncacheable, since JAX does not store programs with
    host callbacks in its persistent compilation cache).

    **Arguments:** the diffrax `result`, the saved states `ys` and the `max_steps` used.

    **Returns:** the message, or ``None`` if the solve succeeded with finite states."""
    if not bool(result == diffrax.RESULTS.successful):
        for name, message in _FAILURES:
            item = getattr(diffrax.RESULTS, name, None)
            if item is not None and bool(result == item):
                return "jaxpde.solve failed: " + message.format(max_steps=max_steps)
        return "jaxpde.solve failed: diffrax did not report success."
    if not bool(jnp.all(jnp.isfinite(jnp.asarray(ys)))):
        return _NONFINITE
    return None


def _check_result(sol: diffrax.Solution, ys, max_steps: int):
    """Turn a failed diffrax result, or a non-finite state, into a runtime error."""
    result = sol.result
    messages, preds = [], []
    for name, message in _FAILURES:
        item = getattr(diffrax.RESULTS, name, None)
        if item is None:
            continue
        preds.append(result == item)
        messages.append("jaxpde.solve failed: " + message.format(max_steps=max_steps))
    failed = result != diffrax.RESULTS.successful
    index = jnp.argmax(jnp.stack(preds)) if preds else 0
    messages.append("jaxpde.solve failed: diffrax did not report success.")
    index = jnp.where(jnp.any(jnp.stack(preds)), index, len(messages) - 1)
    ys = branched_raise_if(ys, failed, index, messages)
    nonfinite = ~jnp.all(jnp.isfinite(ys))
    return raise_if(ys, nonfinite, _NONFINITE)


def solve(
    pde: AbstractPDE,
    u0: Array,
    t0: float,
    t1: float,
    *,
    solver: str | diffrax.AbstractSolver | None = None,
    rtol: float = 1e-6,
    atol: float = 1e-6,
    dt0: float | None = None,
    adaptive: bool = True,
    saveat=None,
    adjoint: str | diffrax.AbstractAdjoint = "recursive",
    max_steps: int = 4096,
    args=None,
    stepsize_controller: diffrax.AbstractStepSizeController | None = None,
    noise=None,
    key: Array | None = None,
    brownian_tol: float | None = None,
    brownian_interval: tuple | None = None,
    heuristics: bool = False,
    throw: bool = True,
    progress: bool = False,
) -> Solution:
    r"""Integrate ``du/dt = pde.rhs(t, u, args)`` (optionally ``+ noise``) with diffrax.

    The method of lines: the spatial discretisation (spectral, finite volume, or a
    neural vector field) is an ODE system, integrated by any diffrax solver.

    - **Explicit** (``"tsit5"``, ``"dopri5"``, ``"dopri8"``, ``"bosh3"``, ``"heun"``,
      ``"euler"``): integrate ``rhs``.
    - **Implicit** (``"kvaerno3/4/5"``, ``"implicit_euler"``): integrate ``rhs`` with
      simplified Newton iterations (a dense Jacobian: fine for small systems).
    - **IMEX** (``"kencarp3/4/5"``): for a semilinear PDE ``u_t = L u + N(u)`` (every
      [`jaxpde.spectral`][jaxpde.spectral] equation), ``N`` is explicit and ``L`` implicit. The implicit
      stage equations are solved in Fourier space, where ``L`` is diagonal, at the cost
      of two FFTs ([`FourierMultiplierSolver`][jaxpde.integrate.FourierMultiplierSolver]).
    - **Stochastic** (``noise`` given, see [`jaxpde.integrate`][jaxpde.integrate] noise models):
      ``du = rhs dt + G(t, u) dW`` with ``W`` a `diffrax.VirtualBrownianTree`
      fixed by ``key``; solvers ``"euler"`` (Euler-Maruyama, Itô), ``"shark"``,
      ``"sra1"``, ``"sea"`` (additive noise; space-time Lévy area is supplied),
      ``"spark"``, ``"heun"``, ``"euler_heun"`` (Stratonovich), ``"general_shark"``,
      ``"slow_rk"``.

    Steps are adaptive (diffrax's PID controller at ``rtol``/``atol``) unless
    ``adaptive=False``, which takes constant steps of ``dt0``.

    **Arguments:**

    - `pde`: any [`AbstractPDE`][jaxpde.AbstractPDE] (its array leaves are differentiable).
    - `u0`: initial state ``(C, *N)``.
    - `t0`, `t1`: time interval.
    - `solver`: a name (see [`ODE_SOLVERS`][jaxpde.integrate.ODE_SOLVERS],
      [`SDE_SOLVERS`][jaxpde.integrate.SDE_SOLVERS]) or a diffrax solver.
      Default: ``"tsit5"`` for ODEs; for SDEs ``"shark"`` with additive noise and
      ``"euler"`` (Euler-Maruyama, fixed steps) otherwise.
    - `rtol`, `atol`: tolerances of the step-size controller (and of implicit stage solves). The
      explicit pairs keep the global error below the tolerance on smooth problems; the
      embedded estimates of implicit/IMEX methods are optimistic on stiff decaying modes
      (global errors up to ~15x the tolerance measured on the heat equation), so ask them
      for a tighter tolerance. With an array `saveat` they step onto the save times,
      since their dense output is only third order.
    - `dt0`: initial step (``None``: chosen automatically for ODEs); required with
      ``adaptive=False`` and for SDEs.
    - `adaptive`: error-controlled steps (``True``) or constant steps of ``dt0``.
    - `saveat`: ``None`` (final state only), an array of times, ``"steps"`` (every
      step), or a `diffrax.SaveAt`.
    - `adjoint`: ``"recursive"`` (default), ``"direct"``, ``"backsolve"``, ``"forward"``
      (see [`ADJOINTS`][jaxpde.integrate.ADJOINTS]), or a diffrax adjoint.
    - `max_steps`: maximum number of steps.
    - `args`: passed to ``pde.rhs`` (forcing, controls).
    - `stepsize_controller`: overrides the controller built from the arguments above.
    - `noise`: a noise model ([`AbstractNoise`][jaxpde.integrate.AbstractNoise]) for an SDE.
    - `key`: PRNG key of the Brownian motion (required with `noise`). One key fixes the
      whole path, however it is queried.
    - `brownian_tol`: time resolution of the Virtual Brownian Tree (default:
      ``dt0 / 4`` for constant steps, ``min(dt0, (t1 - t0) / max_steps) / 8`` for
      adaptive ones, which also sets ``dtmin`` above it).
    - `brownian_interval`: ``(a, b)`` containing ``[t0, t1]``: the interval of the
      Brownian tree (default ``(t0, t1)``). Solves of consecutive pieces of one run that
      share `key`, `brownian_interval` and `brownian_tol` follow one Brownian path.
    - `heuristics`: also accumulate the solver heuristics (local error and stiffness
      estimates of accepted steps) used by the regulariser of Pal et al.
    - `throw`: raise a runtime error if the solve fails (max steps, failed implicit
      solve, non-finite state). With ``False`` the failure is reported in
      ``Solution.result`` only.
    - `progress`: show a tqdm progress bar.

    **Returns:**

    A [`Solution`][jaxpde.integrate.Solution] with ``ts``, ``us`` ``(T, C, *N)``, ``stats`` (steps and
    evaluations) and ``result``.

    **References:** Hairer, Nørsett & Wanner (1993); Kennedy & Carpenter, "Additive
    Runge-Kutta schemes for convection-diffusion-reaction equations" (2003); Kidger,
    "On Neural Differential Equations" (2021) for diffrax.
    """
    if not isinstance(pde, AbstractPDE):
        raise TypeError(f"solve needs an AbstractPDE, got {type(pde).__name__}.")
    u0 = jnp.asarray(u0)
    pde.check_state(u0, "u0")
    max_steps = check_int(max_steps, "max_steps")
    if isinstance(t0, (int, float)) and isinstance(t1, (int, float)) and not t1 > t0:
        raise ValueError(f"solve needs t1 > t0, got t0={t0}, t1={t1}.")
    if dt0 is not None and isinstance(dt0, (int, float)) and not dt0 > 0:
        raise ValueError(f"dt0 must be positive, got {dt0}.")
    if not adaptive and dt0 is None:
        raise ValueError("adaptive=False takes constant steps of dt0: pass dt0.")
    for name, tol in (("rtol", rtol), ("atol", atol)):
        if isinstance(tol, (int, float)) and not (tol > 0 and math.isfinite(tol)):
            raise ValueError(f"{name} must be positive and finite, got {tol!r}.")
    u0 = check_state_finite(u0, "u0")

    is_sde = noise is not None
    if solver is None:
        solver = ("shark" if noise.additive else "euler") if is_sde else "tsit5"
    table = SDE_SOLVERS if is_sde else ODE_SOLVERS
    solver = resolve(solver, table, "SDE solver" if is_sde else "solver", diffrax.AbstractSolver)
    adjoint = resolve(adjoint, ADJOINTS, "adjoint", diffrax.AbstractAdjoint)
    imex = is_imex(solver)

    if is_sde:
        if imex:
            raise ValueError("IMEX solvers are for ODEs; choose an SDE solver, e.g. 'shark' or 'euler'.")
        if key is None:
            raise ValueError("an SDE solve needs a PRNG key: solve(..., noise=noise, key=jax.random.key(0)).")
        if dt0 is None:
            raise ValueError("an SDE solve needs dt0 (the first step, or the constant step with adaptive=False).")
        span = float(t1 - t0) if isinstance(t1 - t0, (int, float)) else None
        if brownian_tol is None:
            brownian_tol = dt0 / 4 if not adaptive else min(dt0, (span or dt0) / max_steps) / 8
        a, b = (t0, t1) if brownian_interval is None else brownian_interval
        terms = sde_terms(pde, noise, u0, a, b, solver, key=key, tol=brownian_tol)
    else:
        terms = ode_terms(pde, solver)
    solver = _with_root_finder(solver, rtol, atol, imex)
    save = resolve_saveat(saveat)

    if stepsize_controller is None:
        if adaptive:
            dtmin = 2 * brownian_tol if is_sde else None
            step_ts = None
            if isinstance(solver, diffrax.AbstractImplicitSolver) and getattr(save.subs, "ts", None) is not None:
                # Their dense output is only third order: step onto the save times
                # instead of interpolating to them.
                step_ts = save.subs.ts
            stepsize_controller = diffrax.PIDController(rtol=rtol, atol=atol, dtmin=dtmin, step_ts=step_ts)
        else:
            stepsize_controller = diffrax.ConstantStepSize()
    heuristic_solver = None
    if heuristics and isinstance(adjoint, diffrax.BacksolveAdjoint):
        raise ValueError(
            "heuristics=True accumulates the regulariser in the solver state, which the backsolve "
            "adjoint does not differentiate. Use jaxpde.integrate.local_heuristics (the local "
            "regulariser, which works with every adjoint) or another adjoint."
        )
    if heuristics:
        heuristic_solver = HeuristicSolver(solver, rtol=rtol, atol=atol)
        solver = heuristic_solver
        save = eqx.tree_at(lambda s: s.solver_state, save, True)
    meter = diffrax.TqdmProgressMeter() if progress else diffrax.NoProgressMeter()
    sol = diffrax.diffeqsolve(
        terms,
        solver,
        t0,
        t1,
        dt0,
        u0,
        args=args,
        saveat=save,
        stepsize_controller=stepsize_controller,
        adjoint=adjoint,
        max_steps=max_steps,
        throw=False,
        progress_meter=meter,
    )
    ys = sol.ys if pde.grid is None else pde.grid.constrain(sol.ys)
    if throw:
        ys = _check_result(sol, ys, max_steps)

    stats = dict(sol.stats)
    per_step = _evals_per_step(solver if heuristic_solver is None else heuristic_solver.solver)
    if per_step is None or is_sde:
        stats["num_rhs_evals"] = jnp.asarray(-1)
    else:
        evals, init = per_step
        stats["num_rhs_evals"] = evals * stats["num_steps"] + init
    heur = None
    if heuristic_solver is not None:
        heur = heuristic_solver.read(sol.solver_state)
    return Solution(ts=sol.ts, us=ys, stats=stats, result=sol.result, heuristics=heur, solution=sol)
