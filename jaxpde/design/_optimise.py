"""Design loops: first-order (optax) and Gauss–Newton / Levenberg–Marquardt / BFGS
(optimistix), with a history, a progress bar, and orbax checkpoints with resume."""

import math
import time
from collections.abc import Callable, Sequence
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import optimistix as optx
from jax.flatten_util import ravel_pytree

from .._checks import check_int
from ..train._loop import RunLoop
from ._regularise import AbstractRegulariser, Box, _is_float


class DesignResult(NamedTuple):
    """What [`minimise`][jaxpde.design.minimise] and [`least_squares`][jaxpde.design.least_squares] return.

    - `design`: the optimised design (same pytree structure as the initial one).
    - `objective`: the objective at `design` (misfit plus regularisation).
    - `history`: one dict per iteration: ``step``, ``objective``, ``misfit`` (the
      objective without the regularisers), ``grad_norm`` (global 2-norm of the gradient
      with respect to the design) and ``time``.
    - `opt_state`: the optax state (``None`` for [`least_squares`][jaxpde.design.least_squares]).
    - `converged`: whether a stopping tolerance was met before the step budget ran out.
    """

    design: object
    objective: float
    history: list
    opt_state: object
    converged: bool


def _check_regularisers(regularisers) -> tuple:
    regs = tuple(regularisers or ())
    for r in regs:
        if not isinstance(r, AbstractRegulariser):
            raise TypeError(
                f"regularisers must be jaxpde.design regularisers (Tikhonov, Smoothness, "
                f"TotalVariation, ...), got {type(r).__name__}."
            )
    return regs


def _check_design(design):
    leaves = jax.tree.leaves(design)
    if not leaves or not all(_is_float(x) for x in leaves):
        raise TypeError(
            "the design must be a pytree of floating-point arrays (e.g. an initial condition, a "
            "dict of coefficients, a control field); wrap Python numbers with jnp.asarray(1.0)."
        )
    bad = [x for x in leaves if not bool(jnp.all(jnp.isfinite(x)))]
    if bad:
        raise ValueError("the initial design contains non-finite values.")
    return jax.tree.map(jnp.asarray, design)


def minimise(
    objective: Callable,
    design,
    optimiser: optax.GradientTransformation,
    *,
    num_steps: int,
    bounds: Box | None = None,
    regularisers: Sequence[AbstractRegulariser] = (),
    gtol: float | None = None,
    steps_per_call: int = 10,
    run_dir=None,
    checkpoint_every: int | None = None,
    keep: int = 2,
    resume: bool = False,
    progress: bool | None = None,
    config: dict | None = None,
) -> DesignResult:
    r"""Minimise ``J(x) = f(x) + Σ_j R_j(x)`` over a design ``x`` with an optax optimiser.

    Each iteration takes ``g = ∇J(x)`` by reverse-mode autodiff through whatever
    simulation `objective` runs (use ``rollout(..., checkpoint=True)`` or a diffrax
    adjoint inside it to bound memory on long rollouts), applies the optimiser, and
    projects onto `bounds`. ``steps_per_call`` iterations run in one compiled
    ``lax.scan``; every iteration is still recorded.

    Line-search optimisers work: ``value``, ``grad`` and ``value_fn`` are passed to
    ``optimiser.update``, so ``optax.lbfgs()`` can be used directly.

    **Arguments:**

    - `objective`: ``x -> scalar``, differentiable (the misfit ``f``).
    - `design`: the initial design, any pytree of float arrays.
    - `optimiser`: an optax gradient transformation.
    - `num_steps`: the total iteration budget (a resumed run counts the iterations
      already done; raise it to continue a finished run).
    - `bounds`: a [`Box`][jaxpde.design.Box] (projected after each update).
    - `regularisers`: penalties added to the objective ([`Tikhonov`][jaxpde.design.Tikhonov],
      [`Smoothness`][jaxpde.design.Smoothness], [`TotalVariation`][jaxpde.design.TotalVariation]).
    - `gtol`: stop once the gradient norm falls below `gtol` times its value at the
      initial design.
    - `run_dir`: if given, ``history.jsonl`` is written there, and with
      `checkpoint_every` orbax checkpoints of ``(design, optimiser state)`` go to
      ``run_dir/checkpoints`` (also at the end, on Ctrl-C and before a non-finite
      objective). ``resume=True`` continues from the latest one; the iterates then equal
      those of an uninterrupted run.
    - `keep`: the number of checkpoints kept; `resume`: continue the run in `run_dir`.
    - `progress`: show a progress bar (default: when attached to a terminal).
    - `config`: JSON-able settings stored with checkpoints and compared on resume.

    **Returns:** a [`DesignResult`][jaxpde.design.DesignResult].
    """
    num_steps = check_int(num_steps, "num_steps", minimum=0)
    steps_per_call = check_int(steps_per_call, "steps_per_call")
    regs = _check_regularisers(regularisers)
    design = _check_design(design)
    if bounds is not None:
        if not isinstance(bounds, Box):
            raise TypeError(f"bounds must be a jaxpde.design.Box, got {type(bounds).__name__}.")
        design = bounds.project(design)

    def total(x):
        f = objective(x)
        if jnp.ndim(f) != 0:
            raise ValueError(f"the objective must return a scalar, got shape {jnp.shape(f)}.")
        return f + sum((r(x) for r in regs), jnp.zeros((), jnp.result_type(f))), f

    def value_fn(x):
        return total(x)[0]

    @eqx.filter_jit
    def run_chunk(x, state, n):
        def body(carry, _):
            x, state = carry
            (j, f), g = jax.value_and_grad(total, has_aux=True)(x)
            updates, state = optimiser.update(g, state, x, value=j, grad=g, value_fn=value_fn)
            x_new = optax.apply_updates(x, updates)
            if bounds is not None:
                x_new = bounds.project(x_new)
            return (x_new, state), (j, f, optax.tree.norm(g))

        return jax.lax.scan(body, (x, state), None, length=n)

    opt_state = optimiser.init(design)
    identity = {"method": "optax", "config": config}  # num_steps may grow on resume
    converged = False
    with RunLoop(
        run_dir,
        total=num_steps,
        identity=identity,
        checkpoint_every=checkpoint_every,
        keep=keep,
        resume=resume,
        progress=progress,
        unit="it",
    ) as run:
        step = 0
        if resume:
            design, opt_state, _, meta = run.restore(design, opt_state)
            step = int(meta["step"])
        run.start(step)
        every = checkpoint_every or num_steps or 1
        run.track(step, design, opt_state)
        while step < num_steps and not converged:
            n = min(steps_per_call, num_steps - step, every - step % every)
            (new_design, new_state), (js, fs, gs) = run_chunk(design, opt_state, n)
            js, fs, gs = (np.asarray(a, dtype=float) for a in (js, fs, gs))
            bad = ~np.isfinite(js) | ~np.isfinite(gs)
            if bad.any():
                run.nonfinite(
                    step,
                    design,
                    opt_state,
                    message=(
                        f"the design objective or its gradient became non-finite at iteration "
                        f"{step + int(np.argmax(bad))}. Lower the learning rate, add bounds, or check the "
                        "simulation for instability (CFL, time step)"
                    ),
                )
            now = time.time()
            g0 = run.history[0]["grad_norm"] if run.history else gs[0]
            for i in range(n):
                run.record({"step": step + i, "objective": js[i], "misfit": fs[i], "grad_norm": gs[i], "time": now})
                if gtol is not None and gs[i] <= gtol * g0:
                    converged = True
            design, opt_state = new_design, new_state
            step += n
            run.bar.update(n, objective=f"{js[-1]:.3e}", grad_norm=f"{gs[-1]:.2e}")
            run.save(step, design, opt_state)
        run.save(step, design, opt_state, force=True)
        history = run.history
    final = float(eqx.filter_jit(value_fn)(design))
    return DesignResult(design, final, history, opt_state, converged)


_LSQ_SOLVERS = {
    "gauss_newton": lambda rtol, atol: optx.GaussNewton(rtol=rtol, atol=atol),
    "levenberg_marquardt": lambda rtol, atol: optx.LevenbergMarquardt(rtol=rtol, atol=atol),
    "dogleg": lambda rtol, atol: optx.Dogleg(rtol=rtol, atol=atol),
    "bfgs": lambda rtol, atol: optx.BFGS(rtol=rtol, atol=atol),
}


def _residual_vector(residuals, regs, bounds, like):
    """``z -> r`` flat: the model residuals and the regulariser residuals at ``x(z)``."""

    def fn(z, args):
        x = z if bounds is None else bounds.from_unconstrained(z, like)
        r = ravel_pytree(residuals(x))[0]
        if regs:
            r = jnp.concatenate([r, *(reg.residuals(x) for reg in regs)])
        return r, None

    return fn


def least_squares(
    residuals: Callable,
    design,
    solver: str | optx.AbstractLeastSquaresSolver | optx.AbstractMinimiser = "levenberg_marquardt",
    *,
    max_steps: int = 100,
    rtol: float = 1e-8,
    atol: float = 1e-8,
    gtol: float | None = None,
    bounds: Box | None = None,
    regularisers: Sequence[AbstractRegulariser] = (),
    run_dir=None,
    checkpoint_every: int | None = None,
    resume: bool = False,
    progress: bool | None = None,
    config: dict | None = None,
) -> DesignResult:
    r"""Minimise ``½‖r(x)‖² + Σ_j R_j(x)`` with an optimistix solver (Gauss–Newton,
    Levenberg–Marquardt, dogleg, or BFGS on the scalar objective).

    The right tool for few parameters and residuals that are nearly linear near the
    optimum (coefficient estimation, a handful of shape parameters): second-order
    convergence in a few tens of simulations, where a first-order method needs
    hundreds. Jacobian-vector products come from forward-mode autodiff through the
    simulation.

    **Arguments:**

    - `residuals`: ``x -> pytree of residuals`` (e.g. ``(prediction - data) / σ``).
    - `design`: initial design (pytree of float arrays).
    - `solver`: ``"levenberg_marquardt"``, ``"gauss_newton"``, ``"dogleg"``,
      ``"bfgs"``, or any optimistix least-squares solver or minimiser.
    - `max_steps`, `rtol`, `atol`: iteration budget and the optimistix Cauchy
      tolerances (on the change of ``x`` and of the objective).
    - `gtol`: also stop once the gradient norm falls below `gtol` times its value at
      the initial design (useful with noisy data, where a converged trust-region
      solver can keep rejecting round-off-sized steps).
    - `bounds`: a [`Box`][jaxpde.design.Box]; the solver then works on an unconstrained variable
      mapped smoothly into the box.
    - `regularisers`: their residuals are appended to ``r``.
    - `run_dir`, `checkpoint_every`, `resume`, `progress`, `config`: as in
      [`minimise`][jaxpde.design.minimise]. A resumed solve restarts the solver (its damping or Hessian
      estimate) from the last checkpointed design.

    **Returns:** a [`DesignResult`][jaxpde.design.DesignResult] with ``objective = ½‖r‖² + Σ R_j`` and
    ``converged`` from the solver's own termination test. ``grad_norm`` in the history
    is taken with respect to the solver's variable (the unconstrained one when
    `bounds` are given).
    """
    max_steps = check_int(max_steps, "max_steps")
    regs = _check_regularisers(regularisers)
    design = _check_design(design)
    if isinstance(solver, str):
        if solver not in _LSQ_SOLVERS:
            raise ValueError(
                f"unknown solver {solver!r}; choose one of {sorted(_LSQ_SOLVERS)} or pass an optimistix solver."
            )
        solver = _LSQ_SOLVERS[solver](rtol, atol)
    if not isinstance(solver, (optx.AbstractLeastSquaresSolver, optx.AbstractMinimiser)):
        raise TypeError(
            f"solver must be a name or an optimistix least-squares solver / minimiser, got {type(solver).__name__}."
        )
    if bounds is not None and not isinstance(bounds, Box):
        raise TypeError(f"bounds must be a jaxpde.design.Box, got {type(bounds).__name__}.")
    like = design
    to_x = (lambda z: z) if bounds is None else (lambda z: bounds.from_unconstrained(z, like))  # noqa: E731
    rfn = _residual_vector(residuals, regs, bounds, like)
    minimiser = isinstance(solver, optx.AbstractMinimiser)
    fn = (lambda z, a: (0.5 * jnp.sum(rfn(z, a)[0] ** 2), None)) if minimiser else rfn  # noqa: E731

    def misfit(x):
        return 0.5 * jnp.sum(ravel_pytree(residuals(x))[0] ** 2)

    identity = {"method": type(solver).__name__, "config": config}
    converged = False
    with RunLoop(
        run_dir,
        total=max_steps,
        identity=identity,
        checkpoint_every=checkpoint_every,
        keep=2,
        resume=resume,
        progress=progress,
        unit="it",
    ) as run:
        step = 0
        if resume:
            design, _, _, meta = run.restore(design, {})
            step = int(meta["step"])
        run.start(step)
        z = design if bounds is None else bounds.to_unconstrained(bounds.project(design))
        tags = frozenset()
        f_struct, aux_struct = jax.eval_shape(lambda: fn(z, None))
        state = eqx.filter_jit(solver.init)(fn, z, None, {}, f_struct, aux_struct, tags)

        @eqx.filter_jit
        def step_fn(z, state):
            # optimistix returns the last accepted iterate; ``state.f_info`` is evaluated there
            z, state, _ = solver.step(fn, z, None, {}, state, tags)
            done, result = solver.terminate(fn, z, None, {}, state, tags)
            info = state.f_info
            grad = info.compute_grad() if hasattr(info, "compute_grad") else info.grad
            return z, state, done, result == optx.RESULTS.successful, info.as_min(), optax.tree.norm(grad)

        misfit_fn = eqx.filter_jit(misfit)
        run.track(step, to_x(z), {})
        while step < max_steps:
            z_next, state_next, done, ok, j, g = step_fn(z, state)
            j, g = float(j), float(g)
            if not (math.isfinite(j) and math.isfinite(g)):
                run.nonfinite(
                    step,
                    to_x(z),
                    {},
                    message=(
                        f"the least-squares objective became non-finite at iteration {step}; add bounds or check "
                        "the simulation for instability"
                    ),
                )
            z, state = z_next, state_next
            x = to_x(z)
            run.record(
                {
                    "step": step,
                    "objective": j,
                    "misfit": float(misfit_fn(x)) if regs else j,
                    "grad_norm": g,
                    "time": time.time(),
                }
            )
            step += 1
            run.bar.update(1, objective=f"{j:.3e}", grad_norm=f"{g:.2e}")
            run.save(step, x, {})
            if bool(done):
                converged = bool(ok)
                break
            if gtol is not None and g <= gtol * run.history[0]["grad_norm"]:
                converged = True
                break
        run.save(step, to_x(z), {}, force=True)
        history = run.history
    x = to_x(z)
    final = float(eqx.filter_jit(lambda z: 0.5 * jnp.sum(rfn(z, None)[0] ** 2))(z))
    return DesignResult(x, final, history, None, bool(converged))
