"""The training loop: a jitted ``make_step`` called once per batch, with orbax
checkpoints and exact resume, evaluation, a progress bar, a JSONL metrics log and a
loss-curve plot. The loop state is explicit (model, optimiser state, PRNG key, step);
the data order is a pure function of ``(seed, step)``, so a resumed run sees exactly the
batches an uninterrupted one would have seen."""

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._abstract import AbstractStepper, trainable
from .._checks import check_int
from ..metrics import correlation, energy_spectrum, nrmse
from ._data import TrajectoryDataset, online_batches
from ._loop import RunLoop
from ._parallel import batch_sharding, check_batch_size, data_mesh, replicate, shard_batch
from ._step import make_step


class DatasetBatches:
    """Host-side batches of a [`TrajectoryDataset`][jaxpde.train.TrajectoryDataset], reshuffled every epoch.

    ``batches(step)`` is the batch of optimisation step `step`: epoch
    ``step // steps_per_epoch`` in the order ``dataset.epoch_order(seed, epoch)``. With
    several processes each reads its own slice of the global batch.

    `window`: if given, each trajectory is cut to a random window of that many
    consecutive frames (e.g. 2 for a one-step loss, ``horizon + 1`` for an unrolled one),
    drawn from ``(seed, step)`` so that a resumed run sees the same windows. Every batch
    also holds ``"keys"`` ``(B, 2)``: raw PRNG key data per sample, drawn from
    ``(seed, step)`` too, for stochastic losses such as
    [`refiner_loss`][jaxpde.train.refiner_loss].

    **Arguments:** the `dataset`, the global `batch_size`, the shuffling `seed`, `window`.
    """

    online = False

    def __init__(self, dataset: TrajectoryDataset, batch_size: int, *, seed: int = 0, window: int | None = None):
        self.dataset = dataset
        self.window = None if window is None else check_int(window, "window")
        if self.window is not None and not 2 <= self.window <= dataset.shape[0]:
            raise ValueError(f"window must be between 2 and the number of frames ({dataset.shape[0]}), got {window}.")
        self.batch_size = check_int(batch_size, "batch_size")
        self.seed = int(seed)
        if self.batch_size > len(dataset):
            raise ValueError(f"batch_size {batch_size} exceeds the dataset size {len(dataset)}.")
        self.steps_per_epoch = len(dataset) // self.batch_size
        self._order = (None, None)

    def position(self, step: int) -> dict:
        return {"epoch": step // self.steps_per_epoch, "batch": step % self.steps_per_epoch}

    def describe(self) -> dict:
        return {
            "kind": "dataset",
            "sha256": self.dataset.fingerprint(),
            "size": len(self.dataset),
            "batch_size": self.batch_size,
            "seed": self.seed,
            "window": self.window,
        }

    def __call__(self, step: int) -> dict:
        pos = self.position(step)
        if self._order[0] != pos["epoch"]:
            self._order = (pos["epoch"], self.dataset.epoch_order(self.seed, pos["epoch"]))
        s = pos["batch"] * self.batch_size
        idx = self._order[1][s : s + self.batch_size]
        n, p = jax.process_count(), jax.process_index()
        if self.window is not None:
            frames = self.dataset.shape[0]
            starts = np.random.default_rng([self.seed, int(step), 1]).integers(0, frames - self.window + 1, len(idx))
        keys = np.random.default_rng([self.seed, int(step), 2]).integers(0, 2**32, (len(idx), 2), dtype=np.uint32)
        if n > 1:
            idx = np.array_split(idx, n)[p]
            starts = np.array_split(starts, n)[p] if self.window is not None else None
            keys = np.array_split(keys, n)[p]
        batch = self.dataset.read(idx)
        batch["keys"] = keys
        if self.window is not None:
            take = starts[:, None] + np.arange(self.window)
            batch["trajectories"] = np.take_along_axis(
                batch["trajectories"], take.reshape(take.shape + (1,) * (batch["trajectories"].ndim - 2)), axis=1
            )
        return batch


class Curriculum:
    """Batches of `data` with a teacher-forcing length that falls linearly during training,
    for [`rollout_loss`][jaxpde.train.rollout_loss]: step `step` gets
    ``batch["teacher_forcing"]`` ``= round(start + (end - start) * min(step / (fraction *
    num_steps), 1))`` for every trajectory, so training moves from one-step teacher
    forcing (``start = horizon``) to free-running unrolls (``end = 0``) over the first
    `fraction` of the run and stays free running after (Takamoto, Alesiani & Niepert,
    ICML 2023). The length is data, so the jitted step compiles once.

    **Arguments:**

    - `data`: a [`DatasetBatches`][jaxpde.train.DatasetBatches] (online batches are made
      inside the compiled step and cannot carry a schedule).
    - `horizon`: the unroll length of the loss.
    - `num_steps`: the length of the run.
    - `start`, `end`: teacher-forced steps at the beginning (default `horizon`) and at the
      end of the transition (default 0).
    - `fraction`: the part of the run over which the length falls (default 0.5).
    """

    online = False

    def __init__(self, data, *, horizon: int, num_steps: int, start: int | None = None, end: int = 0, fraction=0.5):
        if getattr(data, "online", False):
            raise ValueError(
                "Curriculum needs host-side batches (DatasetBatches); online batches are made inside the step."
            )
        self.data = data
        self.horizon = check_int(horizon, "horizon")
        self.num_steps = check_int(num_steps, "num_steps")
        self.start = self.horizon if start is None else check_int(start, "start", minimum=0)
        self.end = check_int(end, "end", minimum=0)
        if max(self.start, self.end) > self.horizon:
            raise ValueError(f"teacher-forced steps must be at most the horizon {self.horizon}, got {start}, {end}.")
        self.fraction = float(fraction)
        if not 0 < self.fraction <= 1:
            raise ValueError(f"fraction must be in (0, 1], got {fraction}.")
        self.batch_size = data.batch_size

    def teacher_forcing(self, step: int) -> int:
        """The teacher-forced steps at optimisation step `step`. **Returns:** an ``int``."""
        done = min(step / (self.fraction * self.num_steps), 1.0)
        return int(round(self.start + (self.end - self.start) * done))

    def position(self, step: int) -> dict:
        return self.data.position(step)

    def describe(self) -> dict:
        sched = {"horizon": self.horizon, "start": self.start, "end": self.end, "fraction": self.fraction}
        return {**self.data.describe(), "curriculum": sched}

    def __call__(self, step: int) -> dict:
        batch = self.data(step)
        n = len(batch["trajectories"])
        return {**batch, "teacher_forcing": np.full((n,), self.teacher_forcing(step), np.int32)}


class OnlineBatches:
    """Fresh samples made by the solver inside the jitted training step (no disk): the
    batch of a step is ``online_batches(sampler, batch_size)(key)`` with that step's key.

    **Arguments:** the `sampler` (see [`make_sampler`][jaxpde.train.make_sampler]) and the global `batch_size`."""

    online = True

    def __init__(self, sampler: Callable, batch_size: int):
        self.batch_size = check_int(batch_size, "batch_size")
        self.make = online_batches(sampler, self.batch_size)

    def position(self, step: int) -> dict:
        return {}

    def describe(self) -> dict:
        return {"kind": "online", "batch_size": self.batch_size}


def _rollout_window(trajectories, horizon, parameters):
    """The first ``horizon + 1`` frames of `trajectories` (all of them for ``None``),
    checked, and the `parameters` as an array."""
    trajectories = jnp.asarray(trajectories)
    horizon = trajectories.shape[1] - 1 if horizon is None else check_int(horizon, "horizon")
    if horizon >= trajectories.shape[1]:
        raise ValueError(f"horizon {horizon} needs at least {horizon + 1} frames, got {trajectories.shape[1]}.")
    return trajectories[:, : horizon + 1], (None if parameters is None else jnp.asarray(parameters))


def rollout_nrmse(
    model: Callable, trajectories, *, horizon: int | None = None, parameters=None, mesh=None
) -> jax.Array:
    r"""Mean nRMSE ``‖û_h - u_h‖/‖u_h‖`` against rollout step ``h = 1..horizon`` of the
    model's autoregressive rollout from each trajectory's first frame.

    `trajectories` is ``(B, T, C, *N)``; returns ``(horizon,)`` (default ``T - 1``).
    `parameters` ``(B, P)``: PDE parameters for a conditioned model (``model(u, p)``).
    With a data `mesh` of several devices (see [`data_mesh`][jaxpde.train.data_mesh]) and
    ``B`` divisible by their number, every device rolls out its share of the trajectories
    under ``jax.shard_map`` and one sum over devices forms the mean.

    **Arguments:** the `model` (a stepper ``u -> u_next``), `trajectories`, `horizon`,
    `parameters`, `mesh`.

    **Returns:** ``(horizon,)``."""
    trajectories, parameters = _rollout_window(trajectories, horizon, parameters)
    if mesh is not None and mesh.devices.size > 1 and trajectories.shape[0] % mesh.devices.size == 0:
        return _split_rollout_nrmse(model, trajectories, parameters, mesh)
    return jnp.mean(_nrmse_curves(model, trajectories, parameters), axis=0)


def rollout_predictions(model: Callable, trajectories, *, horizon: int | None = None, parameters=None) -> jax.Array:
    r"""The model's autoregressive rollout from each trajectory's first frame, the
    states ``û_1..û_horizon`` (the carry protocol of [`jaxpde.rollout`][jaxpde.rollout]:
    a stochastic model draws fresh noise each step). Any metric of
    [`jaxpde.metrics`][jaxpde.metrics] against ``trajectories[:, 1:horizon + 1]`` then
    costs no second rollout.

    **Arguments:** the `model` (a stepper ``u -> u_next``), `trajectories`
    ``(B, T, C, *N)``, `horizon` (default ``T - 1``), `parameters` ``(B, P)`` for a
    conditioned model.

    **Returns:** ``(B, horizon, C, *N)``."""
    trajectories, parameters = _rollout_window(trajectories, horizon, parameters)
    return _predictions(model, trajectories, parameters)


def rollout_correlation(model: Callable, trajectories, *, horizon: int | None = None, parameters=None) -> jax.Array:
    r"""Pearson correlation (over channels and space) of the model's autoregressive
    rollout from each trajectory's first frame with the trajectory, at rollout steps
    ``h = 1..horizon``; [`metrics.high_correlation_time`][jaxpde.metrics.high_correlation_time]
    turns it into the time the rollout stays correlated.

    **Arguments:** the `model` (a stepper ``u -> u_next``), `trajectories`
    ``(B, T, C, *N)``, `horizon` (default ``T - 1``), `parameters` ``(B, P)`` for a
    conditioned model.

    **Returns:** ``(B, horizon)``, one curve per trajectory."""
    trajectories, parameters = _rollout_window(trajectories, horizon, parameters)
    return _correlation_curves(model, trajectories, parameters)


def ensemble_correlation(
    model, trajectories, *, num_samples: int, horizon: int | None = None, parameters=None
) -> tuple[jax.Array, jax.Array]:
    r"""Rollout correlations of a stochastic model (one with ``with_key``, e.g. a
    [`PDERefiner`][jaxpde.nn.PDERefiner]) over `num_samples` noise samples, and of their
    ensemble mean: sample 0 is the model with its own key (what
    [`rollout_correlation`][jaxpde.train.rollout_correlation] measures), sample ``s``
    the model with its key folded with ``s``. The spread over samples shows how much of
    a high-correlation time is the noise draw's; the ensemble mean is the forecast the
    samples make together.

    **Arguments:** `model`, `trajectories` ``(B, T, C, *N)``, `num_samples`, `horizon`
    (default ``T - 1``), `parameters` ``(B, P)`` for a conditioned model.

    **Returns:** ``(per_sample, mean)``: ``(num_samples, B, horizon)`` and the ensemble
    mean's ``(B, horizon)``."""
    if not hasattr(model, "with_key"):
        raise TypeError(f"ensemble_correlation needs a stochastic model with with_key, got {type(model).__name__}.")
    num_samples = check_int(num_samples, "num_samples")
    trajectories, parameters = _rollout_window(trajectories, horizon, parameters)
    base = jax.random.wrap_key_data(jnp.asarray(model.key))
    per_sample, total = [], None
    for s in range(num_samples):
        sample = model if s == 0 else model.with_key(jax.random.fold_in(base, s))
        preds = _predictions(sample, trajectories, parameters)
        per_sample.append(correlation(preds, trajectories[:, 1:], num_spatial_dims=trajectories.ndim - 3))
        total = preds if total is None else total + preds
    mean = correlation(total / num_samples, trajectories[:, 1:], num_spatial_dims=trajectories.ndim - 3)
    return jnp.stack(per_sample), mean


def rollout_spectra(model, trajectories, grid, *, steps, parameters=None) -> tuple:
    r"""Energy spectra of the model's autoregressive rollout from each trajectory's
    first frame and of the trajectory itself, at rollout `steps`, averaged over the
    trajectories ([`metrics.energy_spectrum`][jaxpde.metrics.energy_spectrum] per frame).
    Past the high-correlation time a chaotic rollout no longer follows its trajectory,
    but a faithful one keeps its statistics, the spectrum among them;
    [`metrics.spectrum_log_error`][jaxpde.metrics.spectrum_log_error] turns each pair
    into one number.

    **Arguments:** the `model` (a stepper ``u -> u_next``), `trajectories`
    ``(B, T, C, *N)``, their periodic `grid`, `steps` (rollout steps in ``1..T - 1``),
    `parameters` ``(B, P)`` for a conditioned model.

    **Returns:** ``(k, model, reference)``: the shell wavenumbers ``(K + 1,)`` and the
    spectra ``(len(steps), K + 1)`` of the rollout and of the trajectories."""
    steps = [check_int(s, "steps") for s in np.atleast_1d(np.asarray(steps)).tolist()]
    if not steps:
        raise ValueError("rollout_spectra needs at least one step.")
    preds = np.asarray(rollout_predictions(model, trajectories, horizon=max(steps), parameters=parameters))
    trajectories = np.asarray(trajectories)

    def mean_spectrum(frames):
        spectra = [energy_spectrum(u, grid) for u in frames]
        return spectra[0][0], np.mean([e for _, e in spectra], axis=0)

    k = mean_spectrum(trajectories[:1, 0])[0]
    model_spectra = np.stack([mean_spectrum(preds[:, s - 1])[1] for s in steps])
    reference = np.stack([mean_spectrum(trajectories[:, s])[1] for s in steps])
    return k, model_spectra, reference


def _curves(model, trajs, parameters, metric=nrmse):
    """Per-trajectory error curves ``(B, horizon)`` (nRMSE, or another `metric`)."""
    prepared = model.prepare() if isinstance(model, AbstractStepper) else model

    def unroll(u0, p):
        if isinstance(prepared, AbstractStepper):  # the carry protocol, as in jaxpde.rollout

            def body(c, _):
                c = prepared.step_carry(c, p)
                return c, prepared.read_carry(c)

            return jax.lax.scan(body, prepared.init_carry(u0), None, length=trajs.shape[1] - 1)[1]
        step = prepared if p is None else (lambda u: prepared(u, p))

        def body(u, _):
            nxt = step(u)
            return nxt, nxt

        return jax.lax.scan(body, u0, None, length=trajs.shape[1] - 1)[1]

    preds = jax.vmap(unroll)(trajs[:, 0], parameters)
    return metric(preds, trajs[:, 1:], num_spatial_dims=trajs.ndim - 3)


_nrmse_curves = eqx.filter_jit(_curves)
_predictions = eqx.filter_jit(lambda m, t, p: _curves(m, t, p, lambda pred, ref, num_spatial_dims: pred))
_correlation_curves = eqx.filter_jit(lambda m, t, p: _curves(m, t, p, correlation))


@eqx.filter_jit
def _split_rollout_nrmse(model, trajs, parameters, mesh):
    from jax.sharding import PartitionSpec as P

    axis = mesh.axis_names[0]
    arrays, static = eqx.partition(model, eqx.is_array)

    def local(arrays, trajs, *parameters):
        curves = _curves(eqx.combine(arrays, static), trajs, parameters[0] if parameters else None)
        return jax.lax.psum(jnp.sum(curves, axis=0), axis)

    extra = () if parameters is None else (parameters,)
    specs = (P(), P(axis), *(P(axis) for _ in extra))
    total = jax.shard_map(local, mesh=mesh, in_specs=specs, out_specs=P())(arrays, trajs, *extra)
    return total / trajs.shape[0]


class FitResult(NamedTuple):
    """What [`fit`][jaxpde.train.fit] returns: the trained `model`, the optimiser state `opt_state`,
    the PRNG `key` after the last step, and the `history` (the JSONL records of the run
    directory, or of this call without one)."""

    model: eqx.Module
    opt_state: object
    key: jax.Array
    history: list  # the JSONL records of this run directory (or of this call)


def plot_losses(history: list, path) -> None:
    """Training loss (and any scalar eval metrics) against step, log scale, to a PNG.

    **Arguments:** the `history` records of [`fit`][jaxpde.train.fit] and the PNG `path`.

    **Returns:** ``None``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train = [(r["step"], r["loss"]) for r in history if "loss" in r]
    evals = [r for r in history if "eval" in r]
    skip = {"step", "loss", "time", "samples_per_s"}
    terms = sorted({k for r in history if "loss" in r for k, v in r.items() if k not in skip and isinstance(v, float)})
    fig, ax = plt.subplots(figsize=(6, 4))
    if train:
        s, l = np.asarray(train).T
        ax.semilogy(s, l, lw=0.8, alpha=0.5, label="train loss")
        if len(l) >= 20:
            w = max(len(l) // 50, 5)
            ax.semilogy(s[w - 1 :], np.convolve(l, np.ones(w) / w, mode="valid"), lw=1.5, label=f"train (mean of {w})")
    for k in terms:  # terms of the loss the step logged (fit's has_aux)
        pts = np.asarray([(r["step"], r[k]) for r in history if k in r and r[k] > 0])
        if len(pts):
            w = max(len(pts) // 50, 1)
            ax.semilogy(pts[w - 1 :, 0], np.convolve(pts[:, 1], np.ones(w) / w, mode="valid"), lw=1.2, label=k)
    scalars = sorted({k for r in evals for k, v in r["eval"].items() if isinstance(v, (int, float))})
    for k in scalars:
        pts = [(r["step"], r["eval"][k]) for r in evals if k in r["eval"]]
        ax.semilogy(*np.asarray(pts).T, "o-", ms=3, label=f"eval {k}")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _strongly_typed(model):
    """`model` with its weakly typed array leaves (e.g. a PDE coefficient given as a
    Python float) made strongly typed in their own dtype: the first optimiser update
    would make them so anyway, and the training step would compile a second time."""
    return jax.tree.map(lambda x: jnp.asarray(x, x.dtype) if getattr(x, "weak_type", False) else x, model)


def fit(
    model,
    optimiser,
    loss_fn: Callable,
    data,
    *,
    num_steps: int,
    key,
    run_dir=None,
    checkpoint_every: int | None = None,
    keep: int = 3,
    resume: bool = False,
    eval_fn: Callable | None = None,
    eval_every: int | None = None,
    mesh=None,
    progress: bool | None = None,
    config: dict | None = None,
    has_aux: bool = False,
    eval_steps=(),
) -> FitResult:
    r"""Train `model` for `num_steps` optimiser steps.

    Each step draws a fresh key (``key, sub = split(key)``), gets its batch (from a
    [`DatasetBatches`][jaxpde.train.DatasetBatches] on the host, or made by the solver inside the jitted step
    from ``sub`` for [`OnlineBatches`][jaxpde.train.OnlineBatches]), and applies ``optimiser`` to the gradient
    of ``loss_fn(model, batch)``. The batch is split over the devices of `mesh` (default:
    all devices, axis ``"data"``); model and optimiser state are replicated.

    With a `run_dir`:

    - ``metrics.jsonl``: one record per step (``step``, ``loss``, ``time``,
      ``samples_per_s``) and one per evaluation (``step``, ``eval``);
    - ``loss.png``: the loss curve, rewritten at each evaluation and at the end;
    - ``checkpoints/``: orbax checkpoints every `checkpoint_every` steps (and at the
      end, on Ctrl-C, and of the last good state when the loss turns non-finite), the last `keep` kept.
      ``resume=True`` restores the latest one and continues; the losses then equal those
      of an uninterrupted run with the same seed (data order and PRNG key are restored).

    **Arguments:**

    - `model`, `optimiser` (optax), `loss_fn` ``(model, batch) -> scalar``, `data`.
    - `has_aux`: `loss_fn` returns ``(loss, {name: scalar})``; the named terms are
      recorded with the loss at every step and drawn in ``loss.png``.
    - `num_steps`: total steps (a resumed run stops at the same total).
    - `key`: PRNG key of the run.
    - `eval_fn`: ``model -> {name: value}`` run every `eval_every` steps, at the steps
      listed in `eval_steps`, and at the end.
    - `config`: a JSON-able dict stored in the checkpoint metadata and compared on resume.
    - `resume`: continue the run in `run_dir` from its latest checkpoint.
    - `progress`: ``None`` (a bar on a terminal, plain lines otherwise), ``True`` or ``False``.

    **Returns:** [`FitResult`][jaxpde.train.FitResult] ``(model, opt_state, key, history)``.
    """
    num_steps = check_int(num_steps, "num_steps")
    mesh = data_mesh() if mesh is None else mesh
    check_batch_size(data.batch_size, mesh)
    model = _strongly_typed(model)
    opt_state = optimiser.init(eqx.filter(model, trainable(model)))
    identity = {"data": data.describe(), "config": config}
    with RunLoop(
        run_dir,
        total=num_steps,
        identity=identity,
        history="metrics.jsonl",
        checkpoint_every=checkpoint_every,
        keep=keep,
        resume=resume,
        progress=progress,
    ) as run:
        start = 0
        if resume:
            model, opt_state, key, meta = run.restore(model, opt_state, key)
            start = int(meta["step"])
        run.start(start)
        model, opt_state = replicate(model, mesh), replicate(opt_state, mesh)
        if data.online:
            step_fn = make_step(
                loss_fn,
                optimiser,
                make_batch=data.make,
                batch_sharding=batch_sharding(mesh),
                mesh=mesh,
                has_aux=has_aux,
            )
        else:
            step_fn = make_step(loss_fn, optimiser, mesh=mesh, has_aux=has_aux)

        def evaluate(step):
            if eval_fn is None:
                return
            out = {k: np.asarray(v).tolist() for k, v in eval_fn(model).items()}
            run.record({"step": step, "eval": out})
            if run.run_dir is not None:
                plot_losses(run.history, run.run_dir / "loss.png")

        step = start
        t_last, n_since = time.perf_counter(), 0
        run.track(step, model, opt_state, key, meta=data.position(step))
        while step < num_steps:
            next_key, sub = jax.random.split(key)
            batch = sub if data.online else shard_batch(data(step), mesh)
            new_model, new_opt_state, loss, *terms = step_fn(model, opt_state, batch)
            loss = float(loss)
            terms = {k: float(v) for k, v in (terms[0] if terms else {}).items()}
            if not math.isfinite(loss):
                run.nonfinite(
                    step,
                    model,
                    opt_state,
                    key,
                    meta=data.position(step),
                    message=(
                        f"training loss became {loss} at step {step}. Lower the learning rate, add gradient "
                        "clipping, or check the data for non-finite values"
                    ),
                )
            model, opt_state, key = new_model, new_opt_state, next_key
            now = time.perf_counter()
            n_since += data.batch_size
            rate = n_since / max(now - t_last, 1e-9)
            run.record({"step": step, "loss": loss, **terms, "time": time.time(), "samples_per_s": rate})
            if now - t_last > 2.0:
                t_last, n_since = now, 0
            step += 1
            run.bar.update(1, loss=f"{loss:.3e}", samples_per_s=f"{rate:.0f}")
            if ((eval_every and step % eval_every == 0) or step in eval_steps) and step < num_steps:
                evaluate(step)
            run.save(step, model, opt_state, key, meta=data.position(step))
        evaluate(step)
        run.save(step, model, opt_state, key, meta=data.position(step), force=True)
        history = run.history
    if run_dir is not None:
        plot_losses(history, Path(run_dir) / "loss.png")
    return FitResult(model, opt_state, key, history)
