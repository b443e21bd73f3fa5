"""Design loops: first-order (optax) and Gauss–Newton / Levenberg–Marquardt / BFGS
(optimistix), with a history, a progress bar, and orbax checkpoints with resume."""

import json
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import optimistix as optx
from jax.flatten_util import ravel_pytree

from .._checks import check_int
from ..train._checkpoint import Checkpointer, CheckpointError
from ..train._fit import _read_log
from ._regularise import AbstractRegulariser, Box, _is_float


class DesignResult(NamedTuple):
    """What :func:`minimise` and :func:`least_squares` return.

    - `design`: the optimised design (same pytree structure as the initial one).
    - `objective`: the objective at `design` (misfit plus regularisation).
    - `history`: one dict per iteration: ``step``, ``objective``, ``misfit`` (the
      objective without the regularisers), ``grad_norm`` (global 2-norm of the gradient
      with respect to the design) and ``time``.
    - `opt_state`: the optax state (``None`` for :func:`least_squares`).
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
            raise TypeError(f"regularisers must be jaxpde.design regularisers (Tikhonov, Smoothness, "
                            f"TotalVariation, ...), got {type(r).__name__}.")
    return regs


def _check_design(design):
    leaves = jax.tree.leaves(design)
    if not leaves or not all(_is_float(x) for x in leaves):
        raise TypeError("the design must be a pytree of floating-point arrays (e.g. an initial condition, a "
                        "dict of coefficients, a control field); wrap Python numbers with jnp.asarray(1.0).")
    bad = [x for x in leaves if not bool(jnp.all(jnp.isfinite(x)))]
    if bad:
        raise ValueError("the initial design contains non-finite values.")
    return jax.tree.map(jnp.asarray, design)


class _Log:
    """JSONL history in a run directory (or in memory), with its checkpointer."""

    def __init__(self, run_dir, checkpoint_every, keep, resume, describe):
        self.run_dir = None if run_dir is None else Path(run_dir)
        self.describe = json.loads(json.dumps(describe))
        if resume and self.run_dir is None:
            raise ValueError("resume=True needs a run_dir.")
        self.ckpt = None
        self.history = []
        self.path = None
        if self.run_dir is None:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.run_dir / "history.jsonl"
        if checkpoint_every:
            self.ckpt = Checkpointer(self.run_dir / "checkpoints", every=checkpoint_every, keep=keep)
            if not resume and self.ckpt.steps:
                self.ckpt.close()
                raise CheckpointError(f"{self.run_dir} already has checkpoints {self.ckpt.steps}; pass resume=True "
                                      "(--resume) to continue it, or choose a new run directory.")
        elif resume:
            raise ValueError("resume=True needs checkpointing (checkpoint_every).")

    def restore(self, design, opt_state):
        try:
            design, opt_state, _, meta = self.ckpt.restore(design, opt_state, jax.random.PRNGKey(0))
        except CheckpointError:
            self.ckpt.close()
            raise
        if meta.get("describe") != self.describe:
            self.ckpt.close()
            raise CheckpointError(f"{self.run_dir}: the checkpoint was written by a different design problem or "
                                  "optimiser; resume with the same settings, or start a new run directory.")
        return design, opt_state, int(meta["step"])

    def start(self, step):
        if self.path is not None:
            self.history = _read_log(self.path, step)
            self.path.write_text("".join(json.dumps(r) + "\n" for r in self.history))

    def record(self, rec):
        self.history.append(rec)
        if self.path is not None:
            with open(self.path, "a") as f:
                f.write(json.dumps(rec) + "\n")

    def save(self, step, design, opt_state, *, force=False):
        if self.ckpt is not None:
            self.ckpt.save(step, design, opt_state, jax.random.PRNGKey(0), {"step": step, "describe": self.describe},
                           force=force)

    def close(self):
        if self.ckpt is not None:
            self.ckpt.close()


def _progress(total, initial, progress):
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, unit="it", disable=None if progress is None else not progress,
                dynamic_ncols=True)


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
    - `bounds`: a :class:`Box` (projected after each update).
    - `regularisers`: penalties added to the objective (:class:`Tikhonov`,
      :class:`Smoothness`, :class:`TotalVariation`).
    - `gtol`: stop once the gradient norm falls below `gtol` times its value at the
      initial design.
    - `run_dir`: if given, ``history.jsonl`` is written there, and with
      `checkpoint_every` orbax checkpoints of ``(design, optimiser state)`` go to
      ``run_dir/checkpoints`` (also at the end, on Ctrl-C and before a non-finite
      objective). ``resume=True`` continues from the latest one; the iterates then equal
      those of an uninterrupted run.
    - `progress`: show a progress bar (default: when attached to a terminal).
    - `config`: JSON-able settings stored with checkpoints and compared on resume.

    **Returns:** a :class:`DesignResult`.
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
    describe = {"method": "optax", "config": config}  # num_steps may grow on resume
    log = _Log(run_dir, checkpoint_every, keep, resume, describe)
    step = 0
    if resume:
        design, opt_state, step = log.restore(design, opt_state)
    log.start(step)
    every = checkpoint_every or num_steps or 1
    bar = _progress(num_steps, step, progress)
    converged = False
    try:
        while step < num_steps and not converged:
            n = min(steps_per_call, num_steps - step, every - step % every)
            (new_design, new_state), (js, fs, gs) = run_chunk(design, opt_state, n)
            js, fs, gs = (np.asarray(a, dtype=float) for a in (js, fs, gs))
            bad = ~np.isfinite(js) | ~np.isfinite(gs)
            if bad.any():
                log.save(step, design, opt_state, force=True)
                where = "" if log.ckpt is None else f"; the design before it is checkpointed as step {step}"
                raise FloatingPointError(
                    f"the design objective or its gradient became non-finite at iteration "
                    f"{step + int(np.argmax(bad))}{where}. Lower the learning rate, add bounds, or check the "
                    "simulation for instability (CFL, time step).")
            now = time.time()
            g0 = log.history[0]["grad_norm"] if log.history else gs[0]
            for i in range(n):
                log.record({"step": step + i, "objective": js[i], "misfit": fs[i], "grad_norm": gs[i], "time": now})
                if gtol is not None and gs[i] <= gtol * g0:
                    converged = True
            design, opt_state = new_design, new_state
            step += n
            bar.update(n)
            bar.set_postfix(objective=f"{js[-1]:.3e}", grad_norm=f"{gs[-1]:.2e}")
            log.save(step, design, opt_state)
        log.save(step, design, opt_state, force=True)
    except KeyboardInterrupt:
        log.save(step, design, opt_state, force=True)
        if log.ckpt is not None:
            log.ckpt.wait()
            bar.write(f"interrupted at iteration {step}; checkpoint saved in {log.ckpt.directory} (resume with --resume)")
        raise
    finally:
        bar.close()
        log.close()
    final = float(eqx.filter_jit(value_fn)(design))
    return DesignResult(design, final, log.history, opt_state, converged)


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
    - `bounds`: a :class:`Box`; the solver then works on an unconstrained variable
      mapped smoothly into the box.
    - `regularisers`: their residuals are appended to ``r``.
    - `run_dir`, `checkpoint_every`, `resume`, `progress`, `config`: as in
      :func:`minimise`. A resumed solve restarts the solver (its damping or Hessian
      estimate) from the last checkpointed design.

    **Returns:** a :class:`DesignResult` with ``objective = ½‖r‖² + Σ R_j`` and
    ``converged`` from the solver's own termination test. ``grad_norm`` in the history
    is taken with respect to the solver's variable (the unconstrained one when
    `bounds` are given).
    """
    max_steps = check_int(max_steps, "max_steps")
    regs = _check_regularisers(regularisers)
    design = _check_design(design)
    if isinstance(solver, str):
        if solver not in _LSQ_SOLVERS:
            raise ValueError(f"unknown solver {solver!r}; choose one of {sorted(_LSQ_SOLVERS)} or pass an "
                             "optimistix solver.")
        solver = _LSQ_SOLVERS[solver](rtol, atol)
    if not isinstance(solver, (optx.AbstractLeastSquaresSolver, optx.AbstractMinimiser)):
        raise TypeError(f"solver must be a name or an optimistix least-squares solver / minimiser, got "
                        f"{type(solver).__name__}.")
    if bounds is not None and not isinstance(bounds, Box):
        raise TypeError(f"bounds must be a jaxpde.design.Box, got {type(bounds).__name__}.")
    like = design
    to_x = (lambda z: z) if bounds is None else (lambda z: bounds.from_unconstrained(z, like))  # noqa: E731
    rfn = _residual_vector(residuals, regs, bounds, like)
    minimiser = isinstance(solver, optx.AbstractMinimiser)
    fn = (lambda z, a: (0.5 * jnp.sum(rfn(z, a)[0] ** 2), None)) if minimiser else rfn  # noqa: E731

    def misfit(x):
        return 0.5 * jnp.sum(ravel_pytree(residuals(x))[0] ** 2)

    describe = {"method": type(solver).__name__, "config": config}
    log = _Log(run_dir, checkpoint_every, 2, resume, describe)
    step = 0
    if resume:
        design, _, step = log.restore(design, {})
    log.start(step)
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
    bar = _progress(max_steps, step, progress)
    converged = False
    try:
        while step < max_steps:
            z_next, state_next, done, ok, j, g = step_fn(z, state)
            j, g = float(j), float(g)
            if not (math.isfinite(j) and math.isfinite(g)):
                log.save(step, to_x(z), {}, force=True)
                raise FloatingPointError(f"the least-squares objective became non-finite at iteration {step}; "
                                         "add bounds or check the simulation for instability.")
            z, state = z_next, state_next
            x = to_x(z)
            log.record({"step": step, "objective": j, "misfit": float(misfit_fn(x)) if regs else j,
                        "grad_norm": g, "time": time.time()})
            step += 1
            bar.update(1)
            bar.set_postfix(objective=f"{j:.3e}", grad_norm=f"{g:.2e}")
            log.save(step, x, {})
            if bool(done):
                converged = bool(ok)
                break
            if gtol is not None and g <= gtol * log.history[0]["grad_norm"]:
                converged = True
                break
        log.save(step, to_x(z), {}, force=True)
    except KeyboardInterrupt:
        log.save(step, to_x(z), {}, force=True)
        raise
    finally:
        bar.close()
        log.close()
    x = to_x(z)
    final = float(eqx.filter_jit(lambda z: 0.5 * jnp.sum(rfn(z, None)[0] ** 2))(z))
    return DesignResult(x, final, log.history, None, bool(converged))

