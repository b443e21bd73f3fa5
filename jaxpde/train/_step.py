"""Losses for learned steppers and the training step: thin, functional, no hidden state."""

import functools
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jax import lax

from .._abstract import AbstractStepper, trainable
from .._checks import check_int


def _relative_mse(pred, target):
    axes = tuple(range(1, pred.ndim))
    return jnp.mean(jnp.sum((pred - target) ** 2, axis=axes) / (jnp.sum(target**2, axis=axes) + 1e-12))


def _check_horizon(horizon: int, trajs) -> None:
    if horizon >= trajs.shape[1]:
        raise ValueError(
            f"horizon {horizon} needs trajectories of at least {horizon + 1} frames, got {trajs.shape[1]}."
        )


def _unroll(advance, traj, horizon: int, forced):
    """Scan ``advance(u, u_true_next) -> (next state, output)`` over `horizon` steps from
    ``traj[0]``; the steps before `forced` (a per-trajectory count, ``None``: none) start
    from the true frame instead of the carried state. Returns the stacked outputs."""

    def body(u, xs):
        n, truth, truth_next = xs
        if forced is not None:
            u = jnp.where(n < forced, truth, u)
        return advance(u, truth_next)

    return lax.scan(body, traj[0], (jnp.arange(horizon), traj[:horizon], traj[1 : horizon + 1]))[1]


def parameter_vector(batch: dict) -> jax.Array:
    """The PDE parameters of a batch as ``(B, P)``, in sorted name order (the order a
    parameter-conditioned model, e.g. ``nn.FNO(..., num_parameters=P)``, receives).

    **Arguments:** a `batch` with ``"parameters"``. **Returns:** ``(B, P)``."""
    params = batch.get("parameters") or {}
    if not params:
        raise ValueError(
            "a conditioned model needs PDE parameters in the batch (sample them with parameter_ranges in make_sampler)."
        )
    return jnp.stack([jnp.asarray(params[k]) for k in sorted(params)], axis=-1)


def _stepper(model, p):
    if isinstance(model, AbstractStepper):
        model = model.prepare()  # a solver inside the model: its coefficients once per loss
    return model if p is None else (lambda u: model(u, p))


def one_step_loss(model: Callable, batch: dict, *, conditioned: bool = False) -> jax.Array:
    r"""Mean relative squared error of one step, over every consecutive pair of frames:
    ``mean_i |model(u_t) - u_{t+1}|² / |u_{t+1}|²``.

    `model` maps a state ``(C, *N)`` to the next one (e.g. an
    [`OperatorStepper`][jaxpde.nn.OperatorStepper]); ``batch["trajectories"]`` is ``(B, T, C, *N)``.
    With ``conditioned=True`` it is called as ``model(u, p)`` with each trajectory's PDE
    parameters ([`parameter_vector`][jaxpde.train.parameter_vector]).

    **Arguments:** `model`, `batch`, `conditioned`. **Returns:** the scalar loss.
    """
    trajs = batch["trajectories"]
    p = parameter_vector(batch) if conditioned else None

    def per_trajectory(traj, p):
        return jax.vmap(_stepper(model, p))(traj[:-1])

    preds = jax.vmap(per_trajectory)(trajs, p)
    return _relative_mse(preds.reshape((-1, *trajs.shape[2:])), trajs[:, 1:].reshape((-1, *trajs.shape[2:])))


def rollout_loss(
    model: Callable,
    batch: dict,
    horizon: int,
    *,
    pushforward: bool = False,
    conditioned: bool = False,
    teacher_forcing: int | None = None,
) -> jax.Array:
    r"""Mean relative squared error of an autoregressive unroll of `horizon` steps from
    each trajectory's first frame, with gradients through the unroll.

    ``pushforward=True`` is the pushforward trick of Brandstetter, Worrall & Welling
    ("Message Passing Neural PDE Solvers", ICLR 2022): the gradient flows only through
    the last step, whose input is the model's own (stopped-gradient) prediction, so the
    model learns to correct its own error distribution at the cost of one step of
    backpropagation. ``conditioned`` as in [`one_step_loss`][jaxpde.train.one_step_loss].

    **Teacher forcing.** With ``teacher_forcing=k`` the first ``k`` steps start from the
    solver's frames (``û_{t+1} = model(u_t)`` for ``t < k``) and the rest from the
    model's own predictions: ``k = horizon`` is one-step training on the first `horizon`
    pairs, ``k = 0`` the free-running unroll. Without the argument, a per-trajectory
    ``batch["teacher_forcing"]`` ``(B,)`` is used when present, which is how a
    [`Curriculum`][jaxpde.train.Curriculum] moves training from teacher forcing to free
    running (the curriculum of Takamoto, Alesiani & Niepert, "Learning Neural PDE Solvers
    with Parameter-Guided Channel Attention", ICML 2023) without recompiling.

    **Arguments:** `model`, `batch`, `horizon`, `pushforward`, `conditioned`,
    `teacher_forcing`.

    **Returns:** the scalar loss.
    """
    horizon = check_int(horizon, "horizon")
    trajs = batch["trajectories"]
    _check_horizon(horizon, trajs)
    if teacher_forcing is not None:
        forced = jnp.full((trajs.shape[0],), check_int(teacher_forcing, "teacher_forcing", minimum=0))
    else:
        forced = batch.get("teacher_forcing")
    if forced is not None and pushforward:
        raise ValueError("rollout_loss: choose either pushforward or teacher forcing, not both.")

    def unroll(traj, p, k):
        step = _stepper(model, p)

        def advance(u, _):
            nxt = step(lax.stop_gradient(u) if pushforward else u)
            return nxt, nxt

        return _unroll(advance, traj, horizon, k)

    p = parameter_vector(batch) if conditioned else None
    preds = jax.vmap(unroll)(trajs, p, forced)
    target = trajs[:, 1 : horizon + 1]
    if pushforward:
        return _relative_mse(preds[:, -1], target[:, -1])
    return _relative_mse(preds.reshape((-1, *preds.shape[2:])), target.reshape((-1, *target.shape[2:])))


def refiner_loss(
    model,
    batch: dict,
    *,
    conditioned: bool = False,
    base_fraction: float | None = None,
    horizon: int | None = None,
) -> jax.Array:
    r"""The denoising objective of a [`PDERefiner`][jaxpde.nn.PDERefiner] over every
    consecutive pair of frames: per pair a refinement step ``k`` uniform in ``0..K`` and
    noise ``ε ~ N(0, I)``, then the mean squared error of ``f(x, 0, 0)`` against the
    (normalised) target ``y`` for ``k = 0``, and of the noise estimate in ``y + σ_k ε``
    ([`PDERefiner.estimate`][jaxpde.nn.PDERefiner.estimate]) against ``ε`` otherwise
    (Lippe et al., "PDE-Refiner", NeurIPS 2023).

    With `base_fraction` ``q``, ``k = 0`` is drawn with probability ``q`` and each
    ``k = 1..K`` with ``(1 - q) / K`` instead: on a small training budget the uniform
    draw leaves the one-step prediction, the start of every refinement, with only
    ``1 / (K + 1)`` of the samples.

    The randomness comes from ``batch["keys"]`` ``(B, 2)`` (raw PRNG key data per
    trajectory, which [`DatasetBatches`][jaxpde.train.DatasetBatches] and
    [`OnlineBatches`][jaxpde.train.OnlineBatches] provide), so a step is a pure function
    of its batch and a resumed run repeats the same noise. ``conditioned`` as in
    [`one_step_loss`][jaxpde.train.one_step_loss].

    **Unrolled one-step prediction** (`horizon`, jaxpde's addition, not in the paper):
    the ``k = 0`` term becomes the mean squared error (in the normalised target space)
    of the one-step prediction ``f(x, 0, 0)`` fed its own output for `horizon` steps
    from the first frame of each trajectory, the first ``batch["teacher_forcing"]`` of
    them fed the true frames instead (the curriculum of
    [`Curriculum`][jaxpde.train.Curriculum], as in
    [`rollout_loss`][jaxpde.train.rollout_loss]); the refinement steps keep the denoising
    objective over every pair, with ``k`` uniform in ``1..K``. The two terms are weighted
    ``q`` and ``1 - q``, ``q`` the `base_fraction` (0.5 if ``None``), the expected
    weights of the random draw.

    **Arguments:** `model` (a `PDERefiner`), `batch`, `conditioned`, `base_fraction`
    (``None``: uniform), `horizon` (``None``: one step, as published).

    **Returns:** the scalar loss.
    """
    if base_fraction is not None and not 0 <= base_fraction <= 1:
        raise ValueError(f"base_fraction must be in [0, 1], got {base_fraction}.")
    trajs = batch["trajectories"]
    if "keys" not in batch:
        raise ValueError(
            'refiner_loss needs batch["keys"] (B, 2) uint32 noise keys; DatasetBatches and OnlineBatches provide them.'
        )
    keys = jnp.asarray(batch["keys"], jnp.uint32)
    K = model.num_refinements
    sigmas = model.noise_levels()
    share = base_fraction if horizon is None else 0.0  # unrolled: the pairs train the refinement steps only

    def per_pair(traj, key, p, t):
        k_step, k_noise = jax.random.split(jax.random.fold_in(jax.random.wrap_key_data(key), t))
        if share is None:
            k = jax.random.randint(k_step, (), 0, K + 1)
        else:
            k_base, k_level = jax.random.split(k_step)
            k = jnp.where(jax.random.uniform(k_base) < share, 0, jax.random.randint(k_level, (), 1, K + 1))
        x, y = model.encode(traj[t], traj[t + 1])
        eps = jax.random.normal(k_noise, y.shape, jnp.float32).astype(y.dtype)
        sigma = jnp.where(k == 0, 0.0, sigmas[jnp.maximum(k - 1, 0)]).astype(y.dtype)
        noisy = jnp.where(k == 0, jnp.zeros_like(y), y + sigma * eps)
        target = jnp.where(k == 0, y, eps)
        return jnp.mean((model.estimate(x, noisy, k, p) - target) ** 2)

    def per_trajectory(traj, key, p):
        return jnp.mean(jax.vmap(lambda t: per_pair(traj, key, p, t))(jnp.arange(traj.shape[0] - 1)))

    p = parameter_vector(batch) if conditioned else None
    if horizon is None:
        return jnp.mean(jax.vmap(per_trajectory)(trajs, keys, p))
    horizon = check_int(horizon, "horizon", minimum=1)
    _check_horizon(horizon, trajs)
    q = 0.5 if base_fraction is None else base_fraction
    forced = batch.get("teacher_forcing")

    def unroll(traj, p, forced):
        def advance(u, truth_next):
            x, y = model.encode(u, truth_next)
            pred = model.estimate(x, jnp.zeros_like(y), 0, p)
            return model.decode(u, pred), jnp.mean((pred - y) ** 2)

        return _unroll(advance, traj, horizon, forced)

    base = jnp.mean(jax.vmap(unroll)(trajs, p, forced))
    if q == 1:
        return base
    return q * base + (1 - q) * jnp.mean(jax.vmap(per_trajectory)(trajs, keys, p))


def smooth_perturbation(key, shape, *, max_wavenumber: int = 4, dtype=jnp.float32) -> jax.Array:
    """A random periodic field of unit RMS made of the Fourier modes up to `max_wavenumber`
    along each spatial axis of `shape` ``(C, *N)`` (for perturbed initial guesses).

    **Arguments:** `key`, `shape`, `max_wavenumber`, `dtype`. **Returns:** ``shape``."""
    z = jax.random.normal(key, shape, jnp.float32).astype(dtype)  # the same draw in any precision
    axes = tuple(range(1, len(shape)))
    z_hat = jnp.fft.rfftn(z, axes=axes)
    keep = jnp.ones(z_hat.shape[1:], bool)
    for a, n in enumerate(shape[1:]):
        k = jnp.fft.rfftfreq(n, 1.0 / n) if a == len(shape) - 2 else jnp.fft.fftfreq(n, 1.0 / n)
        k = jnp.abs(k).reshape([-1 if b == a else 1 for b in range(len(shape) - 1)])
        keep = keep & (k <= max_wavenumber)
    field = jnp.fft.irfftn(z_hat * keep, s=shape[1:], axes=axes)
    return field / jnp.sqrt(jnp.mean(field**2) + 1e-30)


def assimilation_inputs(traj, key, horizon: int, *, mask, noise: float = 0.05, guess: float = 1.0):
    r"""What a data-assimilating model sees of one trajectory: a perturbed initial guess
    ``u_0 + guess · rms(u_0) · ξ`` (``ξ`` a smooth random field of unit RMS,
    [`smooth_perturbation`][jaxpde.train.smooth_perturbation]) and, for each of the next
    `horizon` frames, the true frame on the sensors `mask` with Gaussian noise of standard
    deviation ``noise · rms(u_0)``. [`assimilation_loss`][jaxpde.train.assimilation_loss]
    trains on these and `jaxpde evaluate` measures on them, so both draw alike.

    **Arguments:** `traj` ``(T, C, *N)`` with ``T > horizon``, `key` (a PRNG key),
    `horizon`, `mask` ``(*N)`` (1 on sensors), `noise`, `guess`.

    **Returns:** ``(start, controls)``: the guess ``(C, *N)`` and the per-step
    observations ``{"values": (horizon, C, *N), "mask": (horizon, *N)}`` for
    ``rollout(model, start, horizon, controls=controls)``.
    """
    mask = jnp.asarray(mask, traj.dtype)
    k_guess, k_obs = jax.random.split(key)
    u0 = traj[0]
    rms = jnp.sqrt(jnp.mean(u0**2))
    start = u0 + guess * rms * smooth_perturbation(k_guess, u0.shape, dtype=u0.dtype)
    eps = jax.random.normal(k_obs, traj[1 : horizon + 1].shape, jnp.float32).astype(traj.dtype)
    values = traj[1 : horizon + 1] + noise * rms * eps
    return start, {"values": values, "mask": jnp.broadcast_to(mask, (horizon, *mask.shape))}


def assimilation_loss(model, batch: dict, horizon: int, *, mask, noise: float = 0.05, guess: float = 1.0) -> jax.Array:
    r"""Mean relative squared error of a data-assimilating rollout of `horizon` steps (a
    [`SemilinearOperator`][jaxpde.nn.SemilinearOperator] with an observer, or any stepper
    taking ``{"values", "mask"}`` as `args`).

    Each trajectory starts from a perturbed guess ``u_0 + guess · rms(u_0) · ξ`` (``ξ`` a
    smooth random field of unit RMS, [`smooth_perturbation`][jaxpde.train.smooth_perturbation]) and every step sees the
    true next frame on the sensors `mask` with Gaussian noise of standard deviation
    ``noise · rms(u)``; the loss compares the corrected states with the truth. The
    randomness comes from ``batch["keys"]``.

    **Arguments:** `model`, `batch`, `horizon`, `mask` ``(*N)`` (1 on sensors), `noise`,
    `guess`.

    **Returns:** the scalar loss.
    """
    horizon = check_int(horizon, "horizon")
    trajs = batch["trajectories"]
    _check_horizon(horizon, trajs)
    if "keys" not in batch:
        raise ValueError('assimilation_loss needs batch["keys"] (B, 2) uint32 noise keys.')
    model = _stepper(model, None)  # a solver inside the model: its coefficients once per loss

    def per_trajectory(traj, key):
        start, controls = assimilation_inputs(
            traj, jax.random.wrap_key_data(key), horizon, mask=mask, noise=noise, guess=guess
        )

        def body(u, obs):
            nxt = model(u, obs)
            return nxt, nxt

        _, preds = lax.scan(body, start, controls)
        return preds

    preds = jax.vmap(per_trajectory)(trajs, jnp.asarray(batch["keys"], jnp.uint32))
    target = trajs[:, 1 : horizon + 1]
    return _relative_mse(preds.reshape((-1, *preds.shape[2:])), target.reshape((-1, *target.shape[2:])))


def make_step(
    loss_fn: Callable,
    optimiser,
    *,
    make_batch: Callable | None = None,
    batch_sharding=None,
    mesh=None,
    has_aux: bool = False,
) -> Callable:
    """A jitted training step ``(model, opt_state, batch) -> (model, opt_state, loss)``.

    `loss_fn(model, batch)` returns a scalar (a mean over the batch), or with `has_aux`
    a pair ``(loss, {name: scalar})`` of the loss and terms to log (then the step returns
    ``(model, opt_state, loss, terms)``); `optimiser` is an optax
    ``GradientTransformation`` initialised with
    ``optimiser.init(eqx.filter(model, train.trainable(model)))`` (every inexact array
    leaf outside the fixed statistics of an [`AbstractFrozen`][jaxpde.AbstractFrozen] part).

    With `make_batch` (online data), the third argument is a PRNG key and the batch is
    ``make_batch(key)``, made inside the compiled step (constrained to `batch_sharding`
    when given). Steps are cached on their arguments, so calling ``make_step`` (or
    [`fit`][jaxpde.train.fit]) again with the same loss and optimiser reuses the
    compiled step. A model leaf that is weakly typed (a coefficient given as a Python
    float) comes back strongly typed from the first update, so the second call compiles
    the step again; [`fit`][jaxpde.train.fit] makes such leaves strongly typed before it
    starts (by hand: ``jnp.asarray(x, x.dtype)`` on each array leaf).

    **Data parallelism.** With a `mesh` of several devices (axis ``"data"``, see
    [`data_mesh`][jaxpde.train.data_mesh]) the loss and its gradient run per device under
    ``jax.shard_map`` on that device's part of the batch (online batches are made per
    device too), with one ``pmean`` of the loss inside the differentiated function: the
    gradient is the global mean, every FFT and convolution sees ``B / n`` samples, and
    no activation is gathered (XLA's automatic partitioning would gather the batch around
    every FFT and repeat the whole batch's spectral work on each device). The optimiser
    update runs on the replicated parameters.

    **Arguments:** `loss_fn`, `optimiser`, `make_batch`, `batch_sharding`, `mesh`, `has_aux`.

    **Returns:** the step function.
    """
    if mesh is not None and mesh.devices.size == 1:
        mesh = None
    args = (loss_fn, optimiser, make_batch, batch_sharding, mesh, bool(has_aux))
    try:
        return _cached_step(*args)
    except TypeError:  # something unhashable: build an uncached step
        return _cached_step.__wrapped__(*args)


def _with_aux(loss_fn, has_aux):
    """``loss_fn`` as ``(model, batch) -> (loss, terms)``."""
    return loss_fn if has_aux else (lambda m, b: (loss_fn(m, b), {}))


def _data_parallel_grad(loss_fn, make_batch, mesh):
    """``(params, static, batch) -> (loss, grads)`` computed per device under shard_map."""
    from jax.sharding import PartitionSpec as P

    from ._parallel import DATA_AXIS

    n = mesh.devices.size

    def local(params, static, batch):
        if make_batch is not None:  # a key: this device makes its own share of the samples
            count = make_batch.batch_size // n
            batch = make_batch.part(batch, lax.axis_index(DATA_AXIS) * count, count)

        def mean_loss(p):
            # pmean inside the differentiated function: parameters are device-invariant, so
            # the gradient of the global mean is already summed over devices (no extra pmean)
            return lax.pmean(loss_fn(eqx.combine(p, static), batch), DATA_AXIS)

        return jax.value_and_grad(mean_loss, has_aux=True)(params)

    def run(params, static, batch):
        batch_spec = P() if make_batch is not None else jax.tree.map(lambda _: P(DATA_AXIS), batch)
        frozen, rest = eqx.partition(static, eqx.is_array)  # fixed statistics enter replicated
        return jax.shard_map(
            lambda p, f, b: local(p, eqx.combine(f, rest), b),
            mesh=mesh,
            in_specs=(P(), P(), batch_spec),
            out_specs=((P(), P()), P()),
        )(params, frozen, batch)

    return run


@functools.lru_cache(maxsize=32)
def _cached_step(loss_fn, optimiser, make_batch, batch_sharding, mesh, has_aux=False):
    full_loss = _with_aux(loss_fn, has_aux)
    grad_fn = None if mesh is None else _data_parallel_grad(full_loss, make_batch, mesh)

    @eqx.filter_jit
    def step(model, opt_state, batch):
        params, static = eqx.partition(model, trainable(model))
        if grad_fn is not None:
            (loss, terms), grads = grad_fn(params, static, batch)
        else:
            if make_batch is not None:
                batch = make_batch(batch)
                if batch_sharding is not None:
                    batch = jax.lax.with_sharding_constraint(batch, batch_sharding)
            (loss, terms), grads = jax.value_and_grad(lambda p: full_loss(eqx.combine(p, static), batch), has_aux=True)(
                params
            )
        updates, opt_state = optimiser.update(grads, opt_state, params)
        if has_aux:
            return eqx.apply_updates(model, updates), opt_state, loss, terms
        return eqx.apply_updates(model, updates), opt_state, loss

    return step
