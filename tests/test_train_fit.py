"""jaxpde.train.fit: exact resume from orbax checkpoints, clear checkpoint errors,
online-data training, and 8 simulated devices against one."""

import json
import os
import subprocess
import sys
import textwrap

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxpde
from jaxpde import ic, nn, spectral, train

GRID = jaxpde.PeriodicGrid(32)


def _sampler():
    return train.make_sampler(
        lambda p: spectral.ETDRK(spectral.Burgers(GRID, p["viscosity"]), 0.02),
        lambda k: ic.random_fourier(GRID, key=k, max_wavenumber=3),
        num_steps=20,
        save_every=5,
        parameter_ranges={"viscosity": (0.05, 0.2)},
    )


def _model():
    return nn.OperatorStepper(nn.FNO(1, 1, modes=6, width=8, depth=2, key=jax.random.key(0)), 0.1)


def _losses(history):
    return np.array([r["loss"] for r in history if "loss" in r])


def test_online_training_learns_and_resumes_exactly(tmp_path):
    data = train.OnlineBatches(_sampler(), 4)
    opt = optax.adam(3e-3)
    kw = dict(key=jax.random.key(1), checkpoint_every=10, progress=False)
    full = train.fit(_model(), opt, train.one_step_loss, data, num_steps=40, run_dir=tmp_path / "a", **kw)
    losses = _losses(full.history)
    assert len(losses) == 40 and np.mean(losses[-10:]) < 0.5 * np.mean(losses[:5])  # it learns
    # stop at 20 (as if killed after the checkpoint of step 20), then resume to 40
    train.fit(_model(), opt, train.one_step_loss, data, num_steps=20, run_dir=tmp_path / "b", **kw)
    resumed = train.fit(
        _model(), opt, train.one_step_loss, data, num_steps=40, run_dir=tmp_path / "b", resume=True, **kw
    )
    np.testing.assert_array_equal(_losses(resumed.history), losses)
    for a, b in zip(
        jax.tree.leaves(eqx.filter(full.model, eqx.is_array)), jax.tree.leaves(eqx.filter(resumed.model, eqx.is_array))
    ):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert (tmp_path / "b" / "loss.png").stat().st_size > 0
    records = [json.loads(line) for line in (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "loss" in r] == list(range(40))
    assert sorted(int(p.name) for p in (tmp_path / "b" / "checkpoints").iterdir() if p.name.isdigit()) == [20, 30, 40]


def test_checkpoint_errors_are_clear(tmp_path):
    data = train.OnlineBatches(_sampler(), 2)
    opt = optax.adam(1e-3)
    kw = dict(key=jax.random.key(1), checkpoint_every=5, progress=False)
    with pytest.raises(train.CheckpointError, match="no checkpoint"):
        train.fit(_model(), opt, train.one_step_loss, data, num_steps=5, run_dir=tmp_path / "none", resume=True, **kw)
    train.fit(_model(), opt, train.one_step_loss, data, num_steps=5, run_dir=tmp_path / "r", **kw)
    with pytest.raises(train.CheckpointError, match="already has checkpoints"):
        train.fit(_model(), opt, train.one_step_loss, data, num_steps=5, run_dir=tmp_path / "r", **kw)
    # a different architecture
    other = nn.OperatorStepper(nn.FNO(1, 1, modes=6, width=4, depth=2, key=jax.random.key(0)), 0.1)
    with pytest.raises(train.CheckpointError, match="cannot be restored|does not match"):
        train.fit(other, opt, train.one_step_loss, data, num_steps=10, run_dir=tmp_path / "r", resume=True, **kw)
    # corrupt the array data of the checkpoint
    step_dir = tmp_path / "r" / "checkpoints" / "5"
    for f in step_dir.rglob("*"):
        if f.is_file() and "state" in str(f.relative_to(step_dir)) and f.name != "_METADATA":
            f.write_bytes(b"garbage")
    with pytest.raises(train.CheckpointError, match="corrupt"):
        train.fit(_model(), opt, train.one_step_loss, data, num_steps=10, run_dir=tmp_path / "r", resume=True, **kw)


def test_non_finite_loss_stops_with_the_last_good_state_saved(tmp_path):
    data = train.OnlineBatches(_sampler(), 2)

    def loss(model, batch):
        base = train.one_step_loss(model, batch)
        return jnp.where(jnp.sum(jnp.abs(batch["trajectories"])) > 0, base * jnp.inf, base)

    with pytest.raises(FloatingPointError, match="step 0.*checkpointed"):
        train.fit(
            _model(),
            optax.adam(1e-3),
            loss,
            data,
            num_steps=3,
            key=jax.random.key(0),
            run_dir=tmp_path,
            checkpoint_every=10,
            progress=False,
        )
    assert (tmp_path / "checkpoints" / "0").exists()


def test_dataset_batches_follow_the_epoch_order(tmp_path):
    path = train.generate_dataset(tmp_path / "d.h5", _sampler(), num_samples=6, key=jax.random.key(0), progress=False)
    ds = train.TrajectoryDataset(path)
    batches = train.DatasetBatches(ds, 2, seed=3)
    assert batches.steps_per_epoch == 3 and batches.position(4) == {"epoch": 1, "batch": 1}
    expected = list(ds.batches(2, seed=3, epoch=1))[1]
    np.testing.assert_array_equal(batches(4)["trajectories"], expected["trajectories"])
    with pytest.raises(ValueError, match="multiple of the number of devices"):
        train.fit(
            _model(),
            optax.adam(1e-3),
            train.one_step_loss,
            train.DatasetBatches(ds, 3),
            num_steps=1,
            key=jax.random.key(0),
            mesh=train.data_mesh(jax.devices() * 2),
            progress=False,
        )


def test_rollout_nrmse_is_zero_for_the_data_stepper_and_grows_for_others():
    fine = spectral.ETDRK(spectral.Burgers(GRID, 0.1), 0.02)
    sampler = train.make_sampler(
        lambda p: fine, lambda k: ic.random_fourier(GRID, key=k, max_wavenumber=3), num_steps=20, save_every=5
    )
    trajs = jax.vmap(lambda k: sampler(k)[0])(jax.random.split(jax.random.key(0), 3))
    frame = lambda u: jaxpde.rollout(fine, u, 5)[-1]  # the data's own map between frames
    np.testing.assert_allclose(np.asarray(train.rollout_nrmse(frame, trajs)), 0.0, atol=1e-6)
    coarse = train.rollout_nrmse(spectral.ETDRK(spectral.Burgers(GRID, 0.1), 0.1, order=1), trajs, horizon=4)
    assert coarse.shape == (4,) and np.all(np.asarray(coarse) > 1e-4)
    ident = np.asarray(train.rollout_nrmse(lambda u: u, trajs, horizon=4))
    assert np.all(np.diff(ident) > 0)  # Burgers decays: the identity drifts further each step
    with pytest.raises(ValueError, match="frames"):
        train.rollout_nrmse(frame, trajs, horizon=5)


_MULTI = textwrap.dedent("""
    import json, sys
    import jax, jax.numpy as jnp, numpy as np, optax, equinox as eqx
    jax.config.update("jax_enable_x64", True)
    import jaxpde
    from jaxpde import ic, nn, spectral, train
    assert len(jax.devices()) == 8, jax.devices()
    grid = jaxpde.PeriodicGrid(32)
    sampler = train.make_sampler(lambda p: spectral.ETDRK(spectral.Burgers(grid, p["viscosity"]), 0.02),
        lambda k: ic.random_fourier(grid, key=k, max_wavenumber=3), num_steps=20, save_every=5,
        parameter_ranges={"viscosity": (0.05, 0.2)})
    ds = train.TrajectoryDataset(sys.argv[1])
    out = {}
    for mode in ("dataset", "online"):
        for n in (1, 8):
            model = nn.OperatorStepper(nn.FNO(1, 1, modes=6, width=8, depth=2, key=jax.random.key(0)), 0.1)
            data = train.DatasetBatches(ds, 8, seed=0) if mode == "dataset" else train.OnlineBatches(sampler, 8)
            aux = mode == "dataset"  # logged loss terms (has_aux), averaged over devices like the loss
            def loss(m, b):
                value = train.rollout_loss(m, b, 2)
                return (value, {"half": value / 2}) if aux else value
            res = train.fit(model, optax.adamw(3e-3), loss, data, num_steps=6, has_aux=aux,
                            key=jax.random.key(1), mesh=train.data_mesh(jax.devices()[:n]), progress=False)
            w = res.model.model.spectral[0].weights.pair
            out[f"{mode}{n}"] = {"losses": [r["loss"] for r in res.history], "weights": np.asarray(w).ravel().tolist(),
                                 "devices": len(w.sharding.device_set),
                                 "half": [r.get("half", 0.0) for r in res.history]}
    print("RESULT" + json.dumps(out))
""")


@pytest.mark.slow  # ~20 s; test_data_parallel keeps an 8-device check in the default suite
def test_eight_devices_match_one_device(tmp_path):
    path = train.generate_dataset(tmp_path / "d.h5", _sampler(), num_samples=16, key=jax.random.key(0), progress=False)
    env = {
        **os.environ,
        "XLA_FLAGS": f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count=8",
        "JAX_PLATFORMS": "cpu",
    }
    script = tmp_path / "multi.py"
    script.write_text(_MULTI)
    proc = subprocess.run(
        [sys.executable, str(script), str(path)], env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.split("RESULT", 1)[1])
    for mode in ("dataset", "online"):
        one, eight = out[f"{mode}1"], out[f"{mode}8"]
        assert one["devices"] == 1 and eight["devices"] == 8  # parameters replicated on all 8
        np.testing.assert_allclose(eight["losses"], one["losses"], rtol=1e-10)
        if mode == "dataset":
            np.testing.assert_allclose(eight["half"], np.asarray(one["losses"]) / 2, rtol=1e-10)
        np.testing.assert_allclose(eight["weights"], one["weights"], rtol=1e-8, atol=1e-12)
        assert one["losses"][-1] < one["losses"][0]


def test_conditioned_losses_feed_each_trajectory_its_parameters():
    sampler = _sampler()
    batch = jax.jit(train.online_batches(sampler, 3))(jax.random.key(2))
    p = train.parameter_vector(batch)
    assert p.shape == (3, 1)
    model = nn.OperatorStepper(nn.FNO(1, 1, modes=4, width=6, depth=1, num_parameters=1, key=jax.random.key(0)), 0.1)
    model = eqx.tree_at(
        lambda m: m.model.attention[0].mlp.layers[-1].weight,
        model,
        jnp.ones_like(model.model.attention[0].mlp.layers[-1].weight),
    )
    trajs = batch["trajectories"]
    loss = eqx.filter_jit(lambda m, b: train.one_step_loss(m, b, conditioned=True))(model, batch)
    num = [
        np.sum((np.asarray(model(trajs[b, t], p[b])) - np.asarray(trajs[b, t + 1])) ** 2)
        / np.sum(np.asarray(trajs[b, t + 1]) ** 2)
        for b in range(3)
        for t in range(trajs.shape[1] - 1)
    ]
    np.testing.assert_allclose(float(loss), np.mean(num), rtol=1e-10)
    # one unrolled step is the first pair's one-step loss; the nRMSE of that step matches too
    first = {"trajectories": trajs[:, :2], "parameters": batch["parameters"]}
    np.testing.assert_allclose(
        float(train.rollout_loss(model, batch, 1, conditioned=True)),
        float(train.one_step_loss(model, first, conditioned=True)),
        rtol=1e-10,
    )
    err = train.rollout_nrmse(model, trajs, horizon=1, parameters=p)
    manual = np.mean(
        [
            np.linalg.norm(np.asarray(model(trajs[b, 0], p[b]) - trajs[b, 1])) / np.linalg.norm(np.asarray(trajs[b, 1]))
            for b in range(3)
        ]
    )
    np.testing.assert_allclose(float(err[0]), manual, rtol=1e-8)
    with pytest.raises(ValueError, match="parameter_ranges"):
        train.parameter_vector({"trajectories": trajs})
