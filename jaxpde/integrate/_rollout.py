"""Autoregressive rollouts of any stepper as one ``lax.scan``."""

import equinox as eqx
import jax
import jax.numpy as jnp

from .._abstract import AbstractStepper, check_state_dtype, check_state_finite
from .._checks import check_int
from .._types import Args, Field, Trajectory


def _advance(step, carry, n: int, levels: int, xs=None, *, step_rematerialised: bool = False):
    """Apply ``step(carry, x)`` ``n`` times, ``x`` running over the leading axis of the
    pytree `xs` (``None``: no per-step input). With ``levels >= 2`` the steps are split
    into about ``n^(1/levels)`` rematerialised chunks per level, so reverse mode stores
    ``O(levels * n^(1/levels))`` states instead of ``O(n)`` (at ~``levels``× the
    forward cost). With ``levels >= 1`` every step of the innermost scan is
    rematerialised too: reverse mode keeps the states between steps and recomputes one
    step's intermediates just before its backward pass, so they are never stacked over
    the scan (an explicit finite-volume step has ~100× more intermediates than state;
    stacking them made its gradient memory-bound). ``step_rematerialised=True``: `step`
    rematerialises its own work already (as `solve_to`'s step does inside its ``lax.cond``)."""
    if n <= 0:
        return carry
    if levels <= 1 or n < 4:
        if levels >= 1 and not step_rematerialised:
            # (a closure: jax.checkpoint hashes what it wraps, a bound method of a module is not hashable)
            inner = step
            step = jax.checkpoint(lambda c, x: inner(c, x))
        return jax.lax.scan(lambda c, x: (step(c, x), None), carry, xs, length=n)[0]
    num_chunks = max(2, round(n ** (1.0 / levels)))
    size = n // num_chunks
    rem = n - num_chunks * size
    head = jax.tree.map(lambda a: a[: num_chunks * size].reshape(num_chunks, size, *a.shape[1:]), xs)
    tail = jax.tree.map(lambda a: a[num_chunks * size :], xs)
    remat = step_rematerialised
    body = jax.checkpoint(lambda c, x: _advance(step, c, size, levels - 1, x, step_rematerialised=remat))
    carry = jax.lax.scan(lambda c, x: (body(c, x), None), carry, head, length=num_chunks)[0]
    return _advance(step, carry, rem, levels - 1, tail, step_rematerialised=remat)


def _levels(checkpoint) -> int:
    if checkpoint is None or checkpoint is False:
        return 0
    if checkpoint is True:
        return 2
    if isinstance(checkpoint, int) and checkpoint >= 1:
        return int(checkpoint)
    raise ValueError(
        f"checkpoint must be None/False (store everything), True (two levels, memory ~ sqrt(n)) "
        f"or a positive int (number of levels), got {checkpoint!r}."
    )


def rollout(
    stepper: AbstractStepper,
    u0: Field,
    num_steps: int,
    *,
    save_every: int = 1,
    include_initial: bool = True,
    args: Args = None,
    controls: Args = None,
    checkpoint: bool | int | None = None,
    check_finite: bool = False,
) -> Trajectory:
    """Advance ``u0`` by ``num_steps`` steps of ``stepper`` in one ``lax.scan``.

    **Arguments:**

    - `stepper`: any [`AbstractStepper`][jaxpde.AbstractStepper] (or a callable ``(u, args) -> u``).
      The scan advances the stepper's carry (``init_carry``/``step_carry``/
      ``read_carry``): ETDRK and ExactLinear stay in Fourier space between steps and
      only saved frames are transformed back; Störmer-Verlet reuses its last force.
    - `u0`: initial state ``(C, *N)``.
    - `num_steps`: number of steps (a Python int), a multiple of `save_every`.
    - `save_every`: keep every `save_every`-th state.
    - `include_initial`: prepend `u0` to the trajectory.
    - `args`: constant ``args`` passed to every step (e.g. a forcing field).
    - `controls`: a pytree whose leaves have a leading axis of length `num_steps`;
      step ``i`` receives ``controls[i]`` as its ``args`` (time-dependent forcing or
      control; differentiable). Mutually exclusive with `args`.
    - `checkpoint`: gradient checkpointing for reverse mode. ``None`` stores every
      intermediate of every step. ``True`` (= 2) stores ``O(√n)`` states between saved
      frames; an int ``L`` uses ``L`` nested levels (``O(L n^{1/L})`` states, about
      ``L``× the forward work in the backward pass; ``1`` stores every state). With any
      level, a step's intermediates are recomputed from its state just before its
      backward pass and never stored across steps. Saved frames are always stored.
    - `check_finite`: raise if a saved frame holds NaN or inf (through ``eqx.error_if``
      under ``jit``; one reduction over the saved frames). A concrete `u0` is always
      checked.

    Raises ``TypeError`` for a state that is not floating point, and
    ``FloatingPointError`` for a non-finite concrete `u0`.

    **Returns:** the trajectory ``(T, C, *N)`` with ``T = num_steps // save_every``
    (``+ 1`` with `include_initial`).
    """
    num_steps = check_int(num_steps, "num_steps", minimum=0)
    save_every = check_int(save_every, "save_every")
    if num_steps % save_every:
        raise ValueError(f"num_steps ({num_steps}) must be a multiple of save_every ({save_every}).")
    if not isinstance(stepper, AbstractStepper) and not callable(stepper):
        raise TypeError(f"stepper must be an AbstractStepper or callable, got {type(stepper).__name__}.")
    if args is not None and controls is not None:
        raise ValueError("pass either args (constant) or controls (one per step), not both.")
    levels = _levels(checkpoint)
    u0 = jnp.asarray(u0)
    check_state_dtype(u0, "u0")
    u0 = check_state_finite(u0, "the initial state u0") if (check_finite or not isinstance(u0, jax.core.Tracer)) else u0
    num_saves = num_steps // save_every
    if controls is not None:
        for leaf in jax.tree.leaves(controls):
            if jnp.shape(leaf)[:1] != (num_steps,):
                raise ValueError(
                    f"every leaf of controls needs a leading axis of length num_steps={num_steps}, "
                    f"got shape {jnp.shape(leaf)}."
                )
        controls = jax.tree.map(lambda c: jnp.reshape(c, (num_saves, save_every, *jnp.shape(c)[1:])), controls)

    if isinstance(stepper, AbstractStepper):
        stepper = stepper.prepare()  # derived coefficients: once per rollout, from the leaves
        encode, raw_step = stepper.init_carry, stepper.step_carry
        decode = lambda v: stepper.read_carry(v).astype(u0.dtype)  # noqa: E731
    else:  # a plain callable u -> u_next
        encode, raw_step, decode = (lambda u: u), stepper, (lambda v: v)

    def block(carry, ctrl):
        """Advance ``save_every`` steps; return the new carry and the frame to save."""
        if ctrl is None:
            new = _advance(lambda c, _: raw_step(c, args), carry, save_every, levels)
        else:  # per-step controls are checkpointed in the same nested chunks
            new = _advance(raw_step, carry, save_every, levels, ctrl)
        return new, decode(new)

    if levels:
        block = jax.checkpoint(block)
    v0 = encode(u0)
    if num_saves == 0:
        frames = jnp.zeros((0, *u0.shape), u0.dtype)
    else:
        _, frames = jax.lax.scan(block, v0, controls, length=num_saves)
    if check_finite and num_saves:
        frames = eqx.error_if(
            frames,
            ~jnp.all(jnp.isfinite(frames)),
            "rollout produced a non-finite state (NaN or inf); reduce dt or check the parameters.",
        )
    if include_initial:
        frames = jnp.concatenate([u0[None], frames.astype(u0.dtype)])
    return frames


def rollout_final(stepper: AbstractStepper, u0: Field, num_steps: int, **kwargs) -> Field:
    """The final state of [`rollout`][jaxpde.integrate.rollout] (no trajectory kept).

    **Arguments:** `stepper`, the initial state `u0` ``(C, *N)``, `num_steps`, and any
    keyword of [`rollout`][jaxpde.integrate.rollout] (``args``, ``controls``,
    ``checkpoint``, ``check_finite``).

    **Returns:** the state after `num_steps` steps, ``(C, *N)``.
    """
    if num_steps == 0:
        return jnp.asarray(u0)
    return rollout(stepper, u0, num_steps, save_every=num_steps, include_initial=False, **kwargs)[0]
