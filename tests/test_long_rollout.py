"""Training for long rollouts: per-channel normalisation stored with a learned stepper
(fixed statistics that training leaves alone), unrolled losses with teacher forcing and a
curriculum from teacher forcing to free running (float64 finite differences)."""

import json
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxpde as jp
from jaxpde import AbstractFrozen, nn, train

from ._gradcheck import assert_directional_derivative


def _trajectories(key=0, shape=(3, 5, 2, 12)):
    rng = np.random.default_rng(key)
    base = np.asarray([2.0, -1.0])[None, None, :, None]
    return jnp.asarray(base + np.asarray([0.5, 3.0])[None, None, :, None] * rng.normal(size=shape))


def _conv(key=0):
    return eqx.nn.Conv1d(2, 2, 3, padding=1, padding_mode="CIRCULAR", key=jax.random.key(key))


def test_normalisation_statistics_and_round_trip():
    trajs = _trajectories()
    norm = nn.Normalisation.from_samples(trajs, num_spatial_dims=1)
    flat = np.moveaxis(np.asarray(trajs), 2, 0).reshape(2, -1)
    np.testing.assert_allclose(np.asarray(norm.shift), flat.mean(axis=1), rtol=1e-13)
    np.testing.assert_allclose(np.asarray(norm.scale), flat.std(axis=1), rtol=1e-13)
    z = jax.vmap(jax.vmap(norm.normalise))(trajs)
    zf = np.moveaxis(np.asarray(z), 2, 0).reshape(2, -1)
    np.testing.assert_allclose(zf.mean(axis=1), 0, atol=1e-13)
    np.testing.assert_allclose(zf.std(axis=1), 1, rtol=1e-13)
    np.testing.assert_allclose(np.asarray(norm.denormalise(norm.normalise(trajs[0, 0]))), trajs[0, 0], rtol=1e-14)
    # a constant channel gets a floor, not a division by zero
    const = nn.Normalisation.from_samples(
        jnp.stack([trajs[:, :, 0], 0 * trajs[:, :, 1] + 4.0], axis=2), num_spatial_dims=1
    )
    assert float(const.scale[1]) > 0 and float(const.shift[1]) == 4.0
    with pytest.raises(ValueError, match="positive"):
        nn.Normalisation(jnp.zeros(2), jnp.asarray([1.0, 0.0]))
    with pytest.raises(ValueError, match=r"\(C,\)"):
        nn.Normalisation(jnp.zeros(2), jnp.ones(3))
    with pytest.raises(ValueError, match="2 channels"):
        norm.normalise(jnp.ones((3, 12)))


def test_normalised_stepper_is_the_documented_map():
    trajs = _trajectories()
    net = _conv()
    for residual in (True, False):
        stepper = nn.OperatorStepper(net, 0.1, residual=residual).with_statistics(trajs, num_spatial_dims=1)
        first = np.asarray(trajs[:, :-1])
        target = np.asarray(trajs[:, 1:]) - (first if residual else 0)
        np.testing.assert_allclose(np.asarray(stepper.inputs.shift), first.mean(axis=(0, 1, 3)), rtol=1e-12)
        np.testing.assert_allclose(np.asarray(stepper.outputs.scale), target.std(axis=(0, 1, 3)), rtol=1e-12)
        u = trajs[0, 0]
        sh = lambda a: np.asarray(a)[:, None]  # noqa: E731
        x = (np.asarray(u) - sh(stepper.inputs.shift)) / sh(stepper.inputs.scale)
        out = np.asarray(net(jnp.asarray(x))) * sh(stepper.outputs.scale) + sh(stepper.outputs.shift)
        expected = np.asarray(u) + out if residual else out
        np.testing.assert_allclose(np.asarray(stepper(u)), expected, rtol=1e-12)


def test_training_leaves_the_statistics_alone():
    trajs = _trajectories()
    model = nn.OperatorStepper(_conv(), 0.1).with_statistics(trajs, num_spatial_dims=1)
    spec = train.trainable(model)
    assert not any(
        jax.tree.leaves(
            eqx.filter(spec, lambda s: isinstance(s, AbstractFrozen), is_leaf=lambda x: isinstance(x, AbstractFrozen))
        )
    )
    assert jax.tree.leaves(spec.inputs) == [False, False] and all(jax.tree.leaves(spec.model))
    opt = optax.adamw(1e-2, weight_decay=0.5)  # a decay that would move any trained leaf
    state = opt.init(eqx.filter(model, spec))
    step = train.make_step(lambda m, b: train.one_step_loss(m, b), opt)
    new = model
    for _ in range(3):
        new, state, _ = step(new, state, {"trajectories": trajs})
    for a, b in zip(jax.tree.leaves((model.inputs, model.outputs)), jax.tree.leaves((new.inputs, new.outputs))):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert not np.allclose(np.asarray(new.model.weight), np.asarray(model.model.weight))


def _manual_unroll(step, traj, horizon, k):
    u, preds = traj[0], []
    for t in range(horizon):
        u = step(traj[t] if t < k else u)
        preds.append(u)
    return jnp.stack(preds)


def test_teacher_forcing_spans_one_step_and_free_running():
    trajs = _trajectories(shape=(3, 6, 2, 12))
    model = nn.OperatorStepper(_conv(), 0.1).with_statistics(trajs, num_spatial_dims=1)
    batch = {"trajectories": trajs}
    horizon = 4
    # k = horizon: one-step training on the first `horizon` pairs
    short = {"trajectories": trajs[:, : horizon + 1]}
    np.testing.assert_allclose(
        float(train.rollout_loss(model, batch, horizon, teacher_forcing=horizon)),
        float(train.one_step_loss(model, short)),
        rtol=1e-13,
    )
    # k = 0: the free-running unroll
    np.testing.assert_allclose(
        float(train.rollout_loss(model, batch, horizon, teacher_forcing=0)),
        float(train.rollout_loss(model, batch, horizon)),
        rtol=1e-13,
    )
    # per-trajectory lengths from the batch, against a plain Python unroll
    ks = np.asarray([0, 2, 3], np.int32)
    got = float(train.rollout_loss(model, {**batch, "teacher_forcing": jnp.asarray(ks)}, horizon))
    preds = jnp.stack([_manual_unroll(model, trajs[i], horizon, ks[i]) for i in range(3)])
    target = trajs[:, 1 : horizon + 1]
    rel = jnp.sum((preds - target) ** 2, axis=(2, 3)) / jnp.sum(target**2, axis=(2, 3))
    np.testing.assert_allclose(got, float(jnp.mean(rel)), rtol=1e-12)
    with pytest.raises(ValueError, match="pushforward or teacher forcing"):
        train.rollout_loss(model, batch, horizon, teacher_forcing=1, pushforward=True)


def test_partly_forced_loss_gradient_matches_finite_differences():
    trajs = _trajectories(shape=(2, 5, 2, 12))
    model = nn.OperatorStepper(_conv(), 0.1).with_statistics(trajs, num_spatial_dims=1)
    batch = {"trajectories": trajs, "teacher_forcing": jnp.asarray([1, 2], np.int32)}
    params, static = eqx.partition(model, train.trainable(model))

    def loss(p):
        return train.rollout_loss(eqx.combine(p, static), batch, 4)

    assert_directional_derivative(loss, params, seed=3, rtol=1e-7)


def test_curriculum_schedule_and_fit(tmp_path):
    trajs = np.asarray(_trajectories(shape=(4, 6, 2, 12)))

    class Data:  # a minimal host-side batch source
        online, batch_size = False, 2

        def position(self, step):
            return {"epoch": step // 2, "batch": step % 2}

        def describe(self):
            return {"kind": "test"}

        def __call__(self, step):
            i = 2 * (step % 2)
            return {"trajectories": trajs[i : i + 2]}

    cur = train.Curriculum(Data(), horizon=4, num_steps=10, fraction=0.5)
    assert [cur.teacher_forcing(s) for s in (0, 1, 2, 5, 9)] == [4, 3, 2, 0, 0]
    assert cur(3)["teacher_forcing"].tolist() == [2, 2]  # 4 - 4 * 3 / 5 = 1.6
    assert cur.describe()["curriculum"]["start"] == 4
    with pytest.raises(ValueError, match="online"):
        train.Curriculum(train.OnlineBatches.__new__(train.OnlineBatches), horizon=2, num_steps=4)
    with pytest.raises(ValueError, match="at most the horizon"):
        train.Curriculum(Data(), horizon=2, num_steps=4, start=3)
    model = nn.OperatorStepper(_conv(), 0.1).with_statistics(jnp.asarray(trajs), num_spatial_dims=1)
    result = train.fit(
        model,
        optax.adam(1e-2),
        lambda m, b: train.rollout_loss(m, b, 4),
        cur,
        num_steps=10,
        key=jax.random.key(0),
        progress=False,
    )
    losses = [r["loss"] for r in result.history if "loss" in r]
    assert len(losses) == 10 and all(np.isfinite(losses))


def _ks_config(tmp_path, top=None, **training):
    import yaml

    raw = yaml.safe_load((Path(__file__).parent.parent / "configs" / "train_ks1d_emulator.yaml").read_text())
    raw.update(top or {})
    raw["data"].update(num_steps=100, burn_in=200, train_samples=4, test_samples=2)
    raw["model"].update(modes=8, width=8, depth=2)
    raw["training"].update(batch_size=2, num_steps=4, checkpoint_every=4, eval_every=0, **training)
    path = tmp_path / "ks.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.mark.slow  # ~30 s on 2 cores; every config's one-step smoke test stays in the default suite
def test_cli_normalised_curriculum_run_restores_its_statistics(tmp_path, capsys):
    from jaxpde import app
    from jaxpde.cli import main

    cfg = _ks_config(tmp_path)
    run = tmp_path / "run"
    assert main(["train", str(cfg), "--out", str(run), "--no-progress"]) == 0
    assert main(["evaluate", str(run), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "high-correlation time" in printed and "decades off" in printed
    model, pde, step = app.trained_model(run)
    assert step == 4
    data = train.TrajectoryDataset(run / "data" / "train.h5")
    trajs = data.read(np.arange(len(data)))["trajectories"]
    expected = nn.OperatorStepper(model.model, model.dt).with_statistics(trajs, num_spatial_dims=1)
    for got, want in zip(
        jax.tree.leaves((model.inputs, model.outputs)), jax.tree.leaves((expected.inputs, expected.outputs))
    ):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-6)
    ev = json.loads((run / "eval.json").read_text())
    hct = ev["high_correlation_time"]
    assert set(hct) == {"model", "persistence (u_n = u_0)"}
    # the recorded times follow from the recorded per-trajectory rule: 0.5 time units per frame
    assert all(t % 0.5 == 0 for v in hct.values() for t in v["per_trajectory"])
    # the spectra are the restored model's rollout's and the held-out frames' (mean over trajectories)
    sp = ev["spectrum"]
    assert len(ev["horizon_time"]) == 5  # an early step (min(10, horizon)), half the horizon, the horizon
    assert (run / "spectrum.png").exists() and sp["steps"] == [2, 5] and sp["times"] == [1.0, 2.5]
    test = train.TrajectoryDataset(run / "data" / "test.h5")
    held = test.read(np.arange(len(test)))["trajectories"]
    rolls = np.asarray(jax.vmap(lambda u: jp.rollout(model, u, 5, include_initial=False))(jnp.asarray(held[:, 0])))
    for i, n in enumerate(sp["steps"]):
        mine = np.mean([jp.metrics.energy_spectrum(u, pde.grid)[1] for u in rolls[:, n - 1]], axis=0)
        theirs = np.mean([jp.metrics.energy_spectrum(u, pde.grid)[1] for u in held[:, n]], axis=0)
        np.testing.assert_allclose(sp["model"][i], mine, rtol=1e-4, atol=1e-12)
        np.testing.assert_allclose(sp["solver"][i], theirs, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(
        sp["log_error"], jp.metrics.spectrum_log_error(np.asarray(sp["model"]), np.asarray(sp["solver"])), rtol=1e-12
    )


@pytest.mark.parametrize(
    "training,message",
    [
        ({"loss": "one_step", "curriculum": True}, "training.curriculum"),
        ({"pushforward": True}, "training.curriculum"),
        ({"curriculum": False, "curriculum_fraction": 0.3}, "training.curriculum_fraction"),
        ({"curriculum_fraction": 0.0}, "curriculum_fraction"),
    ],
)
def test_cli_rejects_inconsistent_long_rollout_keys(tmp_path, capsys, training, message):
    from jaxpde.cli import main

    assert main(["validate", str(_ks_config(tmp_path, **training))]) == 2
    assert message in capsys.readouterr().err


def test_cli_refiner_keys_are_checked(tmp_path, capsys):
    from jaxpde.cli import main

    refiner = {"refiner": {"num_refinements": 2, "min_noise": 0.01}}
    ok = {"loss": "refiner", "curriculum": False, "window": 2, "horizon": 1}
    assert main(["validate", str(_ks_config(tmp_path, refiner, **ok))]) == 0
    capsys.readouterr()
    unrolled = {**ok, "curriculum": True, "window": 5, "horizon": 4}  # the unrolled one-step prediction
    assert main(["validate", str(_ks_config(tmp_path, refiner, **unrolled))]) == 0
    capsys.readouterr()
    assert main(["validate", str(_ks_config(tmp_path, refiner, **{**unrolled, "window": 3}))]) == 2
    assert "training.window" in capsys.readouterr().err
    assert main(["validate", str(_ks_config(tmp_path, refiner, **{**unrolled, "horizon": 1}))]) == 2
    assert "needs 'training.horizon' of 2 or more" in capsys.readouterr().err
    assert main(["validate", str(_ks_config(tmp_path, refiner))]) == 2  # a rollout loss
    assert "'refiner' applies with 'training.loss: refiner'" in capsys.readouterr().err
    sil = {"task": "solver_in_the_loop"}
    assert main(["validate", str(_ks_config(tmp_path, sil, **ok, normalise=False))]) == 2
    assert "applies to task 'emulator'" in capsys.readouterr().err
    assert main(["validate", str(_ks_config(tmp_path, {"refiner": {"min_noise": 2.0}}, **ok))]) == 2
    assert "refiner.min_noise" in capsys.readouterr().err
    assert main(["validate", str(_ks_config(tmp_path, {"refiner": {"base_fraction": -0.1}}, **ok))]) == 2
    assert "refiner.base_fraction" in capsys.readouterr().err
    assert main(["validate", str(_ks_config(tmp_path, {"refiner": {"precondition": True}}, **ok))]) == 0
    capsys.readouterr()
    assert (
        main(["validate", str(_ks_config(tmp_path, {"refiner": {"precondition": True}}, **ok, normalise=False))]) == 2
    )
    assert "'training.normalise: true'" in capsys.readouterr().err
    import yaml

    path = _ks_config(tmp_path, {"refiner": {"gate": True}}, **ok)
    raw = yaml.safe_load(path.read_text())
    raw["model"] = {"kind": "unet", "width": 8, "levels": 2}
    path.write_text(yaml.safe_dump(raw))
    assert main(["validate", str(path)]) == 2
    assert "refiner.gate" in capsys.readouterr().err


class _Affine(eqx.Module):
    """A linear 'network' ``(2C + 1, N) -> (C, N)`` whose output is known in closed form."""

    a: jax.Array
    b: jax.Array
    c: jax.Array

    def __call__(self, z):
        x, y, level = z[:2], z[2:4], z[4:5]
        return self.a * x + self.b * y + self.c * level


def _refiner(**kw):
    net = _Affine(jnp.asarray(0.3), jnp.asarray(-0.2), jnp.asarray(0.5))
    return nn.PDERefiner(net, 0.1, **{"num_refinements": 2, "min_noise": 1e-2, **kw})


def test_refiner_steps_follow_the_published_recursion():
    trajs = _trajectories()
    ref = _refiner().with_statistics(trajs, num_spatial_dims=1)
    u = trajs[0, 0]
    key = jax.random.key(5)
    x = ref.inputs.normalise(u)
    sig = np.asarray([1e-2**0.5, 1e-2])
    np.testing.assert_allclose(np.asarray(ref.noise_levels()), sig, rtol=1e-12)
    y = 0.3 * x  # step 0: f(x, 0, 0)
    keys = jax.random.split(key, 2)
    for k in (1, 2):
        eps = jax.random.normal(keys[k - 1], y.shape, jnp.float32).astype(y.dtype)
        noisy = y + sig[k - 1] * eps
        y = noisy - sig[k - 1] * (0.3 * x - 0.2 * noisy + 0.5 * k / 2)
    expected = u + ref.outputs.denormalise(y)
    np.testing.assert_allclose(np.asarray(ref.predict(u, key=key)), np.asarray(expected), rtol=1e-12)
    plain = u + ref.outputs.denormalise(0.3 * x)
    np.testing.assert_allclose(np.asarray(ref.predict(u, key=key, refinements=0)), np.asarray(plain), rtol=1e-12)
    # one step of __call__ is the first step of a rollout; later steps get fresh noise
    roll = jp.rollout(ref, u, 3, include_initial=False)
    np.testing.assert_allclose(np.asarray(roll[0]), np.asarray(ref(u)), rtol=1e-12)
    assert not np.allclose(np.asarray(roll[1]), np.asarray(ref(roll[0])))
    # samples differ by their keys only, and spread by about the last noise levels
    samples = ref.sample_rollouts(u, 2, key=jax.random.key(1), num_samples=4)
    assert samples.shape == (4, 3, 2, 12)
    spread = float(jnp.std(samples[:, 1], axis=0).mean())
    assert 0 < spread < 1.0
    with pytest.raises(ValueError, match="min_noise"):
        _refiner(min_noise=1.5)
    with pytest.raises(ValueError, match="PRNG key"):
        ref.with_key(jnp.zeros(3))


def test_ensemble_correlation_is_each_noise_sample_and_their_mean():
    trajs = _trajectories(shape=(2, 4, 2, 12))
    ref = _refiner().with_statistics(trajs, num_spatial_dims=1)
    per_sample, mean = train.ensemble_correlation(ref, trajs, num_samples=3)
    assert per_sample.shape == (3, 2, 3) and mean.shape == (2, 3)
    base = jax.random.wrap_key_data(jnp.asarray(ref.key))
    models = [ref] + [ref.with_key(jax.random.fold_in(base, s)) for s in (1, 2)]
    for got, m in zip(per_sample, models):  # sample 0 is the model's own key
        np.testing.assert_allclose(np.asarray(got), np.asarray(train.rollout_correlation(m, trajs)), rtol=1e-12)
    assert not np.allclose(np.asarray(per_sample[0]), np.asarray(per_sample[1]), rtol=0, atol=1e-14)
    rolls = [jax.vmap(lambda u, m=m: jp.rollout(m, u, 3, include_initial=False))(trajs[:, 0]) for m in models]
    expected = jp.metrics.correlation(sum(rolls) / 3, trajs[:, 1:], num_spatial_dims=1)
    np.testing.assert_allclose(np.asarray(mean), np.asarray(expected), rtol=1e-12)
    one, mean_one = train.ensemble_correlation(ref, trajs, num_samples=1, horizon=2)
    np.testing.assert_allclose(np.asarray(mean_one), np.asarray(one[0]), rtol=1e-12)
    with pytest.raises(TypeError, match="with_key"):
        train.ensemble_correlation(nn.OperatorStepper(ref.net, 0.1), trajs, num_samples=2)


def test_spectrum_log_error_is_the_mean_decades_apart():
    ref = np.array([5.0, 1.0, 1e-2, 1e-6])
    assert jp.metrics.spectrum_log_error(ref, ref) == 0.0
    # the mean mode is left out; a factor 10 up at one shell and 100 down at another
    got = jp.metrics.spectrum_log_error(np.array([0.0, 10.0, 1e-4, 1e-6]), ref)
    np.testing.assert_allclose(got, (1 + 2 + 0) / 3, rtol=1e-12)
    both = jp.metrics.spectrum_log_error(np.stack([ref, 1e3 * ref]), np.stack([ref, ref]))
    np.testing.assert_allclose(both, [0.0, 3.0], rtol=1e-12)
    with pytest.raises(ValueError, match="matching spectra"):
        jp.metrics.spectrum_log_error(ref, ref[:3])


def test_rollout_predictions_are_the_rollouts_the_metrics_see():
    trajs = _trajectories(shape=(2, 4, 2, 12))
    ref = _refiner().with_statistics(trajs, num_spatial_dims=1)  # stochastic: fresh noise per step
    preds = train.rollout_predictions(ref, trajs, horizon=3)
    assert preds.shape == (2, 3, 2, 12)
    rolls = jax.vmap(lambda u: jp.rollout(ref, u, 3, include_initial=False))(trajs[:, 0])
    np.testing.assert_allclose(np.asarray(preds), np.asarray(rolls), rtol=1e-12)
    np.testing.assert_allclose(
        np.asarray(jp.metrics.correlation(preds, trajs[:, 1:], num_spatial_dims=1)),
        np.asarray(train.rollout_correlation(ref, trajs)),
        rtol=1e-12,
    )
    np.testing.assert_allclose(
        np.asarray(jp.metrics.nrmse(preds[:, :2], trajs[:, 1:3], num_spatial_dims=1).mean(axis=0)),
        np.asarray(train.rollout_nrmse(ref, trajs, horizon=2)),
        rtol=1e-12,
    )


def test_rollout_spectra_of_a_growing_stepper_are_exact():
    # a stepper that doubles the state multiplies every shell's energy by 4 a step; the
    # trajectories keep their first frame, so the reference is its spectrum at every step
    grid = jp.PeriodicGrid((16,), 2 * np.pi)
    x = jnp.asarray(grid.axis_coordinates(0))
    amplitudes = 0.5 ** np.arange(1, 8)  # every shell 1..7 holds energy, the Nyquist shell none
    frame = sum(a * jnp.cos(m * x + 0.3 * m) for m, a in enumerate(amplitudes, start=1))
    trajs = jnp.broadcast_to(frame, (2, 6, 1, 16))
    k, model, reference = train.rollout_spectra(lambda u: 2.0 * u, trajs, grid, steps=[1, 3, 5])
    _, first = jp.metrics.energy_spectrum(frame[None], grid)
    np.testing.assert_allclose(k, np.arange(9))
    np.testing.assert_allclose(first[1:8], amplitudes**2 / 4, rtol=1e-10)  # Parseval: amplitude² / 4
    np.testing.assert_allclose(reference, np.stack([first] * 3), rtol=1e-12, atol=1e-30)
    np.testing.assert_allclose(model, np.stack([4.0**n * first for n in (1, 3, 5)]), rtol=1e-12, atol=1e-30)
    # seven shells n·log10(4) decades off; the empty Nyquist shell (round-off) sits under the floor
    np.testing.assert_allclose(
        jp.metrics.spectrum_log_error(model, reference, floor=1e-20),
        [7 * n * np.log10(4.0) / 8 for n in (1, 3, 5)],
        rtol=1e-9,
    )
    with pytest.raises(ValueError, match="frames"):
        train.rollout_spectra(lambda u: u, trajs, grid, steps=[6])


@pytest.mark.slow  # ~30 s on 2 cores
def test_cli_evaluate_reports_noise_samples_of_a_refiner(tmp_path, capsys):
    from jaxpde.cli import main

    refiner = {"refiner": {"num_refinements": 2, "min_noise": 0.01}}
    cfg = _ks_config(tmp_path, refiner, loss="refiner", curriculum=False, window=2, horizon=1)
    run = tmp_path / "run"
    assert main(["train", str(cfg), "--out", str(run), "--no-progress"]) == 0
    assert main(["evaluate", str(run), "--samples", "3", "--no-progress"]) == 0
    assert "over 3 noise samples" in capsys.readouterr().out
    ev = json.loads((run / "eval.json").read_text())
    noise, hct = ev["noise_samples"], ev["high_correlation_time"]
    assert noise["num_samples"] == 3 and len(noise["per_sample"]) == 3
    np.testing.assert_allclose(noise["per_sample"][0], hct["model"]["mean"], rtol=1e-12)  # sample 0: the model's key
    assert noise["min"] <= noise["mean"] <= noise["max"]
    assert set(hct) == {"model", "model, mean of 3 noise samples", "persistence (u_n = u_0)"}
    assert main(["evaluate", str(run), "--samples", "0", "--no-progress"]) == 2
    assert "samples must be a positive integer" in capsys.readouterr().err
    plain = tmp_path / "plain"
    (tmp_path / "p").mkdir()
    assert main(["train", str(_ks_config(tmp_path / "p")), "--out", str(plain), "--no-progress"]) == 0
    assert main(["evaluate", str(plain), "--samples", "2", "--no-progress"]) == 2
    assert "stochastic models" in capsys.readouterr().err


def _refiner_case():
    trajs = _trajectories(shape=(2, 3, 2, 12))
    ref = _refiner().with_statistics(trajs, num_spatial_dims=1)
    keys = np.asarray([[1, 2], [3, 4]], np.uint32)
    return trajs, ref, keys, {"trajectories": trajs, "keys": jnp.asarray(keys)}


def _expected_refiner_loss(ref, trajs, keys, draw):
    """The documented objective of the affine 'network', the refinement step of each pair
    given by ``draw(k_step)``: per pair t, split(fold_in(key, t)) -> (k_step, noise)."""
    sig = np.asarray(ref.noise_levels())
    total = []
    for b in range(2):
        for t in range(2):
            k_step, k_noise = jax.random.split(jax.random.fold_in(jax.random.wrap_key_data(keys[b]), t))
            k = draw(k_step)
            x = ref.inputs.normalise(trajs[b, t])
            y = ref.outputs.normalise(trajs[b, t + 1] - trajs[b, t])
            eps = jax.random.normal(k_noise, y.shape, jnp.float32).astype(y.dtype)
            noisy = 0 * y if k == 0 else y + sig[k - 1] * eps
            target = y if k == 0 else eps
            total.append(float(jnp.mean((0.3 * x - 0.2 * noisy + 0.5 * k / 2 - target) ** 2)))
    return np.mean(total)


def test_refiner_loss_is_the_denoising_objective():
    trajs, ref, keys, batch = _refiner_case()
    value = _expected_refiner_loss(ref, trajs, keys, lambda k_step: int(jax.random.randint(k_step, (), 0, 3)))
    np.testing.assert_allclose(float(train.refiner_loss(ref, batch)), value, rtol=1e-12)
    with pytest.raises(ValueError, match="keys"):
        train.refiner_loss(ref, {"trajectories": trajs})


def test_refiner_loss_base_fraction_sets_the_share_of_one_step_draws():
    trajs, ref, keys, batch = _refiner_case()

    def draw(q):  # k = 0 with probability q, else uniform in 1..K
        def k_of(k_step):
            k_base, k_level = jax.random.split(k_step)
            return 0 if float(jax.random.uniform(k_base)) < q else int(jax.random.randint(k_level, (), 1, 3))

        return k_of

    for q in (0.0, 0.5, 1.0):
        value = _expected_refiner_loss(ref, trajs, keys, draw(q))
        np.testing.assert_allclose(float(train.refiner_loss(ref, batch, base_fraction=q)), value, rtol=1e-12)
    # q = 1 is the plain one-step objective of the k = 0 prediction alone
    x = jax.vmap(jax.vmap(ref.inputs.normalise))(trajs[:, :-1])
    y = jax.vmap(jax.vmap(ref.outputs.normalise))(trajs[:, 1:] - trajs[:, :-1])
    np.testing.assert_allclose(
        float(train.refiner_loss(ref, batch, base_fraction=1.0)), float(jnp.mean((0.3 * x - y) ** 2)), rtol=1e-12
    )
    with pytest.raises(ValueError, match="base_fraction"):
        train.refiner_loss(ref, batch, base_fraction=1.5)


def test_unrolled_refiner_loss_unrolls_the_one_step_prediction_under_the_curriculum():
    trajs, ref, keys, batch = _refiner_case()  # 3 frames: two unrolled steps
    refine_only = _expected_refiner_loss(  # the pairs draw k in 1..K as base_fraction 0 does
        ref, trajs, keys, lambda k_step: int(jax.random.randint(jax.random.split(k_step)[1], (), 1, 3))
    )

    def base(forced):  # f(x, 0, 0) = 0.3 x fed its own output after the first `forced` steps
        total = []
        for b in range(2):
            u = trajs[b, 0]
            for n in range(2):
                if n < forced[b]:
                    u = trajs[b, n]
                x, y = ref.inputs.normalise(u), ref.outputs.normalise(trajs[b, n + 1] - u)
                total.append(float(jnp.mean((0.3 * x - y) ** 2)))
                u = u + ref.outputs.denormalise(0.3 * x)
        return np.mean(total)

    for forced in ([0, 0], [0, 1], [2, 2]):
        b = {**batch, "teacher_forcing": jnp.asarray(forced)}
        for q in (0.6, 1.0):
            value = train.refiner_loss(ref, b, base_fraction=q, horizon=2)
            np.testing.assert_allclose(float(value), q * base(forced) + (1 - q) * refine_only, rtol=1e-12)
    # without a schedule it runs free from the first frame; fully forced it is the one-step term
    np.testing.assert_allclose(
        float(train.refiner_loss(ref, batch, base_fraction=0.6, horizon=2)),
        0.6 * base([0, 0]) + 0.4 * refine_only,
        rtol=1e-12,
    )
    forced = {**batch, "teacher_forcing": jnp.asarray([2, 2])}
    one_step = train.refiner_loss(ref, batch, base_fraction=1.0)
    np.testing.assert_allclose(float(train.refiner_loss(ref, forced, base_fraction=1.0, horizon=2)), float(one_step))
    assert abs(float(train.refiner_loss(ref, batch, base_fraction=1.0, horizon=2)) - float(one_step)) > 1e-6
    with pytest.raises(ValueError, match="horizon 3"):
        train.refiner_loss(ref, batch, horizon=3)
    with pytest.raises(ValueError, match="horizon"):
        train.refiner_loss(ref, batch, horizon=0)


def test_unrolled_refiner_loss_gradient_matches_finite_differences():
    trajs = _trajectories(shape=(2, 4, 2, 12))
    batch = {
        "trajectories": trajs,
        "keys": jnp.asarray([[1, 2], [3, 4]], jnp.uint32),
        "teacher_forcing": jnp.asarray([1, 0]),
    }
    net = nn.FNO(5, 2, modes=4, width=6, depth=1, key=jax.random.key(2))
    ref = nn.PDERefiner(net, 0.1, num_refinements=2, min_noise=1e-3).with_statistics(trajs, num_spatial_dims=1)
    params, static = eqx.partition(ref, train.trainable(ref))

    def loss(p):
        return train.refiner_loss(eqx.combine(p, static), batch, base_fraction=0.7, horizon=3)

    assert_directional_derivative(loss, params, seed=5, rtol=1e-6)


def test_spectral_preconditioner_is_exact_for_its_own_target_and_recovers_noise_in_quiet_modes():
    key = jax.random.key(7)
    n = 16
    k = np.arange(n // 2 + 1)
    power = jnp.asarray(np.stack([10.0 ** (-k / 2.0), np.full(k.size, 0.5)]))  # two channels, (2, 9)
    pre = nn.SpectralPreconditioner(power)
    y, eps = jax.random.normal(key, (2, 2, n))
    sigma = 0.03
    noisy = y + sigma * eps

    def hat(f):
        return jnp.fft.rfft(f, axis=-1, norm="ortho")

    def inv(f):
        return jnp.fft.irfft(f, n=n, axis=-1, norm="ortho")

    # the network's view is the noisy target divided by √(S + σ²) in every mode
    np.testing.assert_allclose(
        np.asarray(hat(pre.whiten(noisy, sigma))), np.asarray(hat(noisy) / jnp.sqrt(power + sigma**2)), atol=1e-13
    )
    # the unit-variance target of the network, (σ y - S ε) / (√S √(S + σ²)), gives ε exactly
    target = inv((sigma * hat(y) - power * hat(eps)) / (jnp.sqrt(power) * jnp.sqrt(power + sigma**2)))
    np.testing.assert_allclose(np.asarray(pre.noise_estimate(noisy, target, sigma)), np.asarray(eps), atol=1e-10)
    # where the data have no power the noise is found without the network
    quiet = nn.SpectralPreconditioner(jnp.zeros((2, n // 2 + 1)))
    np.testing.assert_allclose(
        np.asarray(quiet.noise_estimate(sigma * eps, jnp.ones_like(eps), sigma)), np.asarray(eps), atol=1e-12
    )
    # the power spectrum of samples: one Fourier mode of amplitude a has power a² n / 4 there
    x = np.arange(n) / n
    fields = jnp.asarray([[np.cos(2 * np.pi * 3 * x)], [2 * np.cos(2 * np.pi * 3 * x)]])  # (2, 1, n)
    fitted = nn.SpectralPreconditioner.from_samples(fields, num_spatial_dims=1).power
    expected = np.zeros((1, n // 2 + 1))
    expected[0, 3] = (1 + 4) / 2 * n / 4
    np.testing.assert_allclose(np.asarray(fitted), expected, atol=1e-12)
    with pytest.raises(ValueError, match="power spectrum"):
        pre.whiten(jnp.zeros((3, n)), sigma)


def test_preconditioned_refiner_fits_its_spectrum_and_trains_on_the_noise_estimate():
    trajs, ref, keys, batch = _refiner_case()
    placeholder = nn.SpectralPreconditioner(jnp.ones((2, 7)))
    pre = _refiner(preconditioner=placeholder).with_statistics(trajs, num_spatial_dims=1)
    targets = jax.vmap(jax.vmap(pre.outputs.normalise))(trajs[:, 1:] - trajs[:, :-1])
    power = jnp.mean(jnp.abs(jnp.fft.rfft(targets, axis=-1, norm="ortho")) ** 2, axis=(0, 1))
    np.testing.assert_allclose(np.asarray(pre.preconditioner.power), np.asarray(power), rtol=1e-12)
    assert ref.preconditioner is None  # the published form unless asked for
    asked = _refiner().with_statistics(trajs, num_spatial_dims=1, precondition=True)
    np.testing.assert_allclose(np.asarray(asked.preconditioner.power), np.asarray(power), rtol=1e-12)
    assert pre.with_statistics(trajs, num_spatial_dims=1, precondition=False).preconditioner is None
    # the loss is the MSE of the estimate: of y at k = 0, of the noise through the preconditioner else
    sig = np.asarray(pre.noise_levels())
    total = []
    for b in range(2):
        for t in range(2):
            k_step, k_noise = jax.random.split(jax.random.fold_in(jax.random.wrap_key_data(keys[b]), t))
            k = int(jax.random.randint(k_step, (), 0, 3))
            x = pre.inputs.normalise(trajs[b, t])
            y = pre.outputs.normalise(trajs[b, t + 1] - trajs[b, t])
            if k == 0:
                err = 0.3 * x - y
            else:
                eps = jax.random.normal(k_noise, y.shape, jnp.float32).astype(y.dtype)
                noisy = y + sig[k - 1] * eps
                out = 0.3 * x - 0.2 * pre.preconditioner.whiten(noisy, sig[k - 1]) + 0.5 * k / 2
                err = pre.preconditioner.noise_estimate(noisy, out, sig[k - 1]) - eps
            total.append(float(jnp.mean(err**2)))
    np.testing.assert_allclose(float(train.refiner_loss(pre, batch)), np.mean(total), rtol=1e-12)
    # with step_parameter, k / K reaches the net as its last parameter (after the PDE's)
    seen = []

    class _Probe(eqx.Module):
        def __call__(self, z, p):
            seen.append(p)
            return z[:2]

    probe = nn.PDERefiner(_Probe(), 0.1, num_refinements=2, step_parameter=True)
    probe.network(x := jnp.zeros((2, 12)), x, 1)
    probe.network(x, x, 2, jnp.asarray([0.7]))
    np.testing.assert_allclose(np.asarray(seen[0]), [0.5])
    np.testing.assert_allclose(np.asarray(seen[1]), [0.7, 1.0])
    # a traced step gives what a known one does
    x, y = pre.encode(trajs[0, 0], trajs[0, 1])
    for k in range(3):
        traced = jax.jit(lambda k: pre.estimate(x, y, k))(k)
        np.testing.assert_allclose(np.asarray(traced), np.asarray(pre.estimate(x, y, k)), atol=1e-13)


@pytest.mark.slow  # ~20 s on 2 cores
def test_refiner_loss_gradient_matches_finite_differences():
    trajs = _trajectories(shape=(2, 3, 2, 12))
    batch = {"trajectories": trajs, "keys": jnp.asarray([[1, 2], [3, 4]], jnp.uint32)}
    net = nn.FNO(5, 2, modes=4, width=6, depth=1, key=jax.random.key(2))
    for pre in (None, nn.SpectralPreconditioner(jnp.ones((2, 7)))):
        ref = nn.PDERefiner(net, 0.1, num_refinements=3, min_noise=1e-3, preconditioner=pre)
        ref = ref.with_statistics(trajs, num_spatial_dims=1)
        params, static = eqx.partition(ref, train.trainable(ref))
        assert pre is None or not jax.tree.leaves(eqx.filter(params.preconditioner, eqx.is_array))  # held fixed

        def loss(p, static=static):
            return train.refiner_loss(eqx.combine(p, static), batch)

        assert_directional_derivative(loss, params, seed=4, rtol=1e-6)


def test_batches_carry_per_sample_noise_keys(tmp_path):
    sampler = train.make_sampler(
        lambda p: jp.spectral.ETDRK(jp.spectral.Burgers(jp.PeriodicGrid(16), 0.1), 0.01),
        lambda key: jax.random.normal(key, (1, 16)) * 0.1,
        num_steps=4,
        save_every=2,
    )
    online = train.online_batches(sampler, 3)(jax.random.key(0))
    assert online["keys"].shape == (3, 2) and online["keys"].dtype == jnp.uint32
    assert len({tuple(np.asarray(k)) for k in online["keys"]}) == 3
    path = train.generate_dataset(tmp_path / "d.h5", sampler, num_samples=4, key=jax.random.key(0), progress=False)
    data = train.DatasetBatches(train.TrajectoryDataset(path), 2, seed=3)
    a, b = data(5)["keys"], data(5)["keys"]
    np.testing.assert_array_equal(a, b)  # a function of (seed, step): a resumed run repeats it
    assert a.shape == (2, 2) and not np.array_equal(a, data(6)["keys"])
