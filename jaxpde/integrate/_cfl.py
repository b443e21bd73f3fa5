"""Integration to a final time with CFL-limited steps chosen inside ``jit``."""

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp

from .._abstract import AbstractPDE
from .._checks import check_int, raise_if
from .._types import Args, Field
from ..fv import MUSCLHancock, cfl_dt
from ._explicit import EXPLICIT_STEPPERS
from ._rollout import _advance, _levels

FV_STEPPERS = {**EXPLICIT_STEPPERS, "muscl_hancock": MUSCLHancock}
"""The steppers [`solve_to`][jaxpde.integrate.solve_to] takes by name: the explicit
Runge-Kutta ones and the single-stage [`MUSCLHancock`][jaxpde.fv.MUSCLHancock]."""


AUTO_CHECKPOINT_BYTES = 64 * 2**20
"""The memory below which [`solve_to`][jaxpde.integrate.solve_to]'s ``checkpoint="auto"``
keeps the state of every step for reverse mode (one checkpoint level) instead of
``O(√max_steps)`` of them (two levels)."""


class CFLSolution(NamedTuple):
    """What [`solve_to`][jaxpde.integrate.solve_to] returns with ``full_output=True``."""

    u: Field
    """The state at `t_final`."""
    t: jax.Array
    """The time reached (equal to `t_final` on success)."""
    num_steps: jax.Array
    """The number of steps taken."""


def _stepper_factory(stepper):
    if isinstance(stepper, str):
        if stepper not in FV_STEPPERS:
            raise ValueError(f"unknown stepper {stepper!r}; choose one of {', '.join(FV_STEPPERS)} or pass a class.")
        return FV_STEPPERS[stepper]
    if callable(stepper):
        return stepper
    raise TypeError(
        f"stepper must be a name ({', '.join(FV_STEPPERS)}) or a class (pde, dt) -> stepper, got {stepper!r}."
    )


def _is_split(pde) -> bool:
    return pde.grid is not None and pde.grid.is_split


def _constrain(pde, u):
    """Keep a state split like its grid (a no-op on one device or without a grid)."""
    return u if pde.grid is None else pde.grid.constrain(u)


def _is_traced(x) -> bool:
    return isinstance(x, jax.core.Tracer)


def solve_to(
    pde: AbstractPDE,
    u0: Field,
    t_final,
    *,
    t0=0.0,
    cfl: float = 0.5,
    stepper="ssprk3",
    args: Args = None,
    max_steps: int | None = None,
    differentiable: bool = True,
    checkpoint: bool | int | str | None = "auto",
    differentiate_dt: bool = False,
    full_output: bool = False,
    throw: bool = True,
):
    """Integrate ``du/dt = pde.rhs(u)`` from `t0` to `t_final` with steps
    ``dt = cfl_dt(pde, u, cfl)`` chosen from the current state inside ``jit``; the last
    step is shortened to land exactly on `t_final`.

    Two paths:

    - ``differentiable=True`` (default): a ``lax.scan`` of exactly `max_steps` steps in
      which steps after `t_final` is reached are skipped (``lax.cond``; both branches
      are evaluated under ``vmap``). Reverse-mode differentiable (no ``while_loop`` in
      the gradient path), with nested gradient checkpointing (`checkpoint`, as in
      [`rollout`][jaxpde.rollout]), so memory grows like ``O(√max_steps)``.
    - ``differentiable=False``: a ``lax.while_loop`` that stops as soon as `t_final` is
      reached; faster, forward mode only.

    **Is dt differentiated?** By default no (``differentiate_dt=False``): the CFL step
    is wrapped in ``stop_gradient``, so the gradient is the exact derivative of the
    discrete solution *for the sequence of time steps that was taken*, which is what a
    loss on a well-resolved solution needs (the dependence of dt on the state through
    ``max |λ|`` is non-smooth and adds only time-discretisation-sized terms). The last,
    shortened step still depends on `t_final`. With ``differentiate_dt=True`` the
    step sizes are differentiated too, and the gradient matches finite differences of
    the whole adaptive map wherever the step count does not change.

    **Arguments:**

    - `pde`: a [`FiniteVolume`][jaxpde.fv.FiniteVolume].
    - `u0`: initial state ``(C, *N)``; `t0`, `t_final`: start and end times.
    - `cfl`: CFL number (0.5 is safe for SSP-RK3 with MUSCL/WENO in 1D and 2D).
    - `stepper`: ``"ssprk3"`` (default), ``"ssprk2"``, ``"euler"``, ``"rk4"``,
      ``"muscl_hancock"`` (single stage, [`MUSCLHancock`][jaxpde.fv.MUSCLHancock]) or a
      class ``(pde, dt) -> AbstractStepper``.
    - `args`: passed to every ``rhs`` call (e.g. a forcing).
    - `max_steps`: the scan length of the differentiable path and a bound for the
      forward path. Required when `u0` or `t_final` are traced (inside ``jit``/``grad``)
      on the differentiable path; otherwise estimated as ``2 · (t_final - t0) / dt(u0) + 16``.
    - `checkpoint`: ``"auto"`` (default), ``True`` (two levels), an int number of
      levels, or ``None``; as in [`rollout`][jaxpde.rollout], with any level each step's
      intermediates are recomputed in the backward pass rather than stored (memory:
      states only). ``"auto"`` is one level (every step's state kept: ``max_steps``
      states, one forward pass recomputed) when those states take at most
      `AUTO_CHECKPOINT_BYTES` (64 MiB), and two levels (``O(√max_steps)`` states, one
      more forward pass) beyond. On the 1,000-cell Sod case one level takes 23 MiB and
      the gradient 0.8x the time of two levels.
    - `differentiable`: the fixed-length scan described above (``True``) or the
      early-stopping while-loop (``False``, forward only).
    - `differentiate_dt`: whether the derivative also flows through the CFL step sizes
      (see above; default ``False``: the step sizes taken are held fixed).
    - `full_output`: return a [`CFLSolution`][jaxpde.integrate.CFLSolution] ``(u, t, num_steps)`` instead of the state.
    - `throw`: raise the runtime errors below; with ``False`` the caller checks the
      returned state and time itself.

    **Returns:** the state at `t_final` ``(C, *N)``, or a
    [`CFLSolution`][jaxpde.integrate.CFLSolution] with `full_output`.

    **Errors:** if `t_final` is not reached within `max_steps` or the state becomes
    non-finite, a runtime error (``eqx.error_if``) names the cause.
    """
    if not isinstance(pde, AbstractPDE):
        raise TypeError(f"pde must be an AbstractPDE, got {type(pde).__name__}.")
    make = _stepper_factory(stepper)
    u0 = jnp.asarray(u0)
    pde.check_state(u0, "u0")
    if not _is_traced(t_final) and not _is_traced(t0) and not float(t_final) >= float(t0):
        raise ValueError(f"t_final ({t_final}) must be >= t0 ({t0}).")
    if isinstance(cfl, (int, float)) and not (cfl > 0 and math.isfinite(cfl)):
        raise ValueError(f"cfl must be positive and finite, got {cfl!r}.")
    if max_steps is None:
        if differentiable and (_is_traced(u0) or _is_traced(t_final) or _is_traced(t0)):
            raise ValueError(
                "solve_to(..., differentiable=True) inside jit/grad needs max_steps (the static scan length): "
                "pass max_steps=... a little above the number of CFL steps to t_final."
            )
        if differentiable:
            dt0 = float(cfl_dt(pde, u0, cfl))
            max_steps = int(2 * math.ceil(max(float(t_final) - float(t0), 0.0) / dt0)) + 16
    else:
        max_steps = check_int(max_steps, "max_steps")
    if isinstance(checkpoint, str):
        if checkpoint != "auto":
            raise ValueError(f"checkpoint must be 'auto', True/False/None or a number of levels, got {checkpoint!r}.")
        checkpoint = 1 if (max_steps or 0) * u0.size * u0.dtype.itemsize <= AUTO_CHECKPOINT_BYTES else 2
    levels = _levels(checkpoint)

    dtype = u0.dtype
    t_final = jnp.asarray(t_final, dtype)

    def advance(carry):
        u, t, n = carry
        dt_cfl = cfl_dt(pde, u, cfl).astype(dtype)
        if not differentiate_dt:
            dt_cfl = jax.lax.stop_gradient(dt_cfl)
        remaining = t_final - t
        last = dt_cfl >= remaining
        dt = jnp.where(last, remaining, dt_cfl)
        u_new = _constrain(pde, make(pde, dt)(u, args))
        return u_new, jnp.where(last, t_final, t + dt), n + 1

    carry = (u0, jnp.asarray(t0, dtype), jnp.asarray(0, jnp.int32))
    if differentiable:
        if _is_split(pde):
            # a branch holding the collectives of a split grid (halo exchanges, the CFL
            # reduction) is mispartitioned by XLA inside lax.cond: step, then select
            def step(c, _):
                going = c[1] < t_final
                return jax.tree.map(lambda new, old: jnp.where(going, new, old), advance(c), c)

            remat = False
        else:
            # the rematerialisation inside the branch: around the lax.cond, the cond's
            # reverse pass would carry every intermediate of the step out of both branches
            # (zeros from the skipping one); inside, only the step's input (Sod gradient
            # 411 -> 348 ms with the WENO5 kernel, alternated)
            taken = jax.checkpoint(advance) if levels >= 1 else advance
            remat = levels >= 1

            def step(c, _):
                return jax.lax.cond(c[1] < t_final, taken, lambda c: c, c)

        u, t, n = _advance(step, carry, max_steps, levels, step_rematerialised=remat)
    else:

        def cond(c):
            going = c[1] < t_final
            return going if max_steps is None else going & (c[2] < max_steps)

        u, t, n = jax.lax.while_loop(cond, advance, carry)
    if throw:
        u = raise_if(
            u, ~jnp.all(jnp.isfinite(u)), "solve_to: the state became non-finite; lower cfl or check the initial state."
        )
        u = raise_if(u, t < t_final, "solve_to: max_steps was reached before t_final; raise max_steps.")
    u = _constrain(pde, u)
    if full_output:
        return CFLSolution(u, t, n)
    return u
