"""Optimisers and learning-rate schedules by name (optax)."""

import optax

OPTIMISERS = ("adam", "adamw", "sgd", "lion")
SCHEDULES = ("constant", "cosine", "warmup_cosine", "exponential")


def make_optimiser(
    name: str = "adamw",
    learning_rate: float = 1e-3,
    *,
    num_steps: int = 1000,
    schedule: str = "cosine",
    warmup_steps: int = 0,
    weight_decay: float = 0.0,
    clip_norm: float | None = None,
    decay_rate: float = 0.5,
    decay_steps: int | None = None,
    staircase: bool = False,
    final_learning_rate: float | None = None,
) -> optax.GradientTransformation:
    """An optax optimiser with a learning-rate schedule over `num_steps` steps.

    **Arguments:**

    - `name`: ``"adamw"``, ``"adam"``, ``"lion"`` (decoupled `weight_decay`) or ``"sgd"``
      (momentum 0.9).
    - `learning_rate`: the peak rate.
    - `schedule`: ``"constant"``, ``"cosine"`` (decay to 0 over `num_steps`),
      ``"warmup_cosine"`` (linear warm-up over `warmup_steps`, then cosine) or
      ``"exponential"``: multiplied by `decay_rate` every `decay_steps` steps (default:
      halved every `num_steps / 10` steps), in steps when `staircase`, never below
      `final_learning_rate`.
    - `weight_decay`: the decoupled weight decay of ``"adamw"`` and ``"lion"``.
    - `clip_norm`: clip the global gradient norm first (``None``: no clipping).

    **Returns:** the ``optax.GradientTransformation``.
    """
    if name not in OPTIMISERS:
        raise ValueError(f"optimiser must be one of {', '.join(OPTIMISERS)}, got {name!r}.")
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, got {schedule!r}.")
    if not learning_rate > 0:
        raise ValueError(f"learning_rate must be > 0, got {learning_rate!r}.")
    n = int(num_steps)
    if schedule == "constant":
        sched = optax.constant_schedule(learning_rate)
    elif schedule == "cosine":
        sched = optax.cosine_decay_schedule(learning_rate, n)
    elif schedule == "warmup_cosine":
        sched = optax.warmup_cosine_decay_schedule(0.0, learning_rate, max(int(warmup_steps), 1), n)
    else:
        if not 0 < decay_rate <= 1:
            raise ValueError(f"decay_rate must be in (0, 1], got {decay_rate!r}.")
        steps = max(n // 10, 1) if decay_steps is None else int(decay_steps)
        if steps < 1:
            raise ValueError(f"decay_steps must be >= 1, got {decay_steps!r}.")
        sched = optax.exponential_decay(
            learning_rate,
            transition_steps=steps,
            decay_rate=decay_rate,
            staircase=bool(staircase),
            end_value=final_learning_rate,
        )
    if name == "adamw":
        opt = optax.adamw(sched, weight_decay=weight_decay)
    elif name == "adam":
        opt = optax.adam(sched)
    elif name == "lion":
        opt = optax.lion(sched, weight_decay=weight_decay)
    else:
        opt = optax.sgd(sched, momentum=0.9)
    if clip_norm is not None:
        opt = optax.chain(optax.clip_by_global_norm(clip_norm), opt)
    return opt
