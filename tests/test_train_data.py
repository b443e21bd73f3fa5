"""jaxpde.train data: solver-generated HDF5 datasets read lazily, and online batches."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxpde
from jaxpde import ic, spectral
from jaxpde.train import TrajectoryDataset, generate_dataset, make_sampler, online_batches

GRID = jaxpde.PeriodicGrid(32)


def _sampler():
    return make_sampler(
        lambda p: spectral.ETDRK(spectral.Burgers(GRID, p["viscosity"]), 0.02),
        lambda k: ic.random_fourier(GRID, key=k, max_wavenumber=3),
        num_steps=20,
        save_every=5,
        parameter_ranges={"viscosity": (0.05, 0.2)},
    )


def test_generated_dataset_matches_the_solver_and_reads_lazily(tmp_path):
    sampler = _sampler()
    key = jax.random.key(0)
    path = generate_dataset(
        tmp_path / "burgers.h5",
        sampler,
        num_samples=10,
        key=key,
        chunk_size=4,
        metadata={"equation": "burgers"},
        times=np.arange(5) * 0.1,
        progress=False,
    )
    ds = TrajectoryDataset(path)
    assert len(ds) == 10 and ds.shape == (5, 1, 32) and ds.parameter_names == ["viscosity"]
    assert ds.metadata["equation"] == "burgers" and ds.metadata["num_samples"] == 10
    assert not list(tmp_path.glob("*.partial"))
    # sample i is sampler(fold_in(key, i)): regenerate two of them exactly
    for i in (0, 7):
        traj, params = jax.jit(sampler)(jax.random.fold_in(key, i))
        sample = ds[i]
        np.testing.assert_allclose(sample["trajectories"], np.asarray(traj), rtol=1e-12)
        np.testing.assert_allclose(sample["parameters"]["viscosity"], float(params["viscosity"]))
        assert 0.05 <= sample["parameters"]["viscosity"] <= 0.2
    # an epoch is a permutation, fixed by (seed, epoch); resuming mid-epoch continues it
    seen = np.concatenate([b["parameters"]["viscosity"] for b in ds.batches(3, seed=1, epoch=0, drop_last=False)])
    np.testing.assert_allclose(np.sort(seen), np.sort(ds.read(np.arange(10))["parameters"]["viscosity"]))
    first = [b["trajectories"] for b in ds.batches(3, seed=1, epoch=0)]
    again = [b["trajectories"] for b in ds.batches(3, seed=1, epoch=0)]
    resumed = [b["trajectories"] for b in ds.batches(3, seed=1, epoch=0, start=1)]
    other = [b["trajectories"] for b in ds.batches(3, seed=1, epoch=1)]
    assert len(first) == 3
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(first[1:], resumed):
        np.testing.assert_array_equal(a, b)
    assert not all(np.array_equal(a, b) for a, b in zip(first, other))
    ds.close()


def test_online_batches_are_the_same_distribution_inside_jit():
    sampler = _sampler()
    batch = jax.jit(online_batches(sampler, 3))(jax.random.key(5))
    assert batch["trajectories"].shape == (3, 5, 1, 32) and batch["parameters"]["viscosity"].shape == (3,)
    traj, params = jax.jit(sampler)(jax.random.fold_in(jax.random.key(5), 2))
    np.testing.assert_allclose(np.asarray(batch["trajectories"][2]), np.asarray(traj), rtol=1e-12)


def test_dataset_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="generate_dataset"):
        TrajectoryDataset(tmp_path / "nope.h5")
    with pytest.raises(ValueError, match="divide"):
        make_sampler(lambda p: None, lambda k: None, num_steps=10, save_every=3)
    with pytest.raises(ValueError, match="low <= high"):
        make_sampler(lambda p: None, lambda k: None, num_steps=10, parameter_ranges={"nu": (1.0, 0.5)})
    # a blow-up raises and leaves no file (a traced, sampled negative diffusivity passes
    # the constructor's check, which only sees concrete values)
    bad = make_sampler(
        lambda p: spectral.ETDRK(spectral.Diffusion(GRID, p["nu"]), 0.5),
        lambda k: ic.random_fourier(GRID, key=k),
        num_steps=40,
        parameter_ranges={"nu": (-51.0, -50.0)},
    )
    with pytest.raises(FloatingPointError, match="non-finite"):
        generate_dataset(tmp_path / "bad.h5", bad, num_samples=2, key=jax.random.key(0), progress=False)
    assert not list(tmp_path.glob("bad.h5*"))


def test_make_step_trains_an_fno_stepper_on_solver_data():
    import equinox as eqx
    import optax

    from jaxpde import nn
    from jaxpde.train import make_step, one_step_loss, online_batches, rollout_loss

    sampler = make_sampler(
        lambda p: spectral.ETDRK(spectral.Diffusion(GRID, 0.1), 0.1),
        lambda k: ic.random_fourier(GRID, key=k, max_wavenumber=4),
        num_steps=4,
    )
    data = jax.jit(online_batches(sampler, 8))
    model = nn.OperatorStepper(nn.FNO(1, 1, modes=6, width=8, depth=2, key=jax.random.key(0)), 0.1)
    opt = optax.adam(3e-3)
    opt_state = opt.init(eqx.filter(model, eqx.is_inexact_array))
    step = make_step(one_step_loss, opt)
    losses = []
    for i in range(60):
        model, opt_state, loss = step(model, opt_state, data(jax.random.key(i)))
        losses.append(float(loss))
    assert losses[-1] < losses[0] / 10
    batch = data(jax.random.key(999))
    # horizon 1 unroll is the one-step loss on the first pair; pushforward has the same value
    one_step_loss = eqx.filter_jit(one_step_loss)
    rollout_loss = eqx.filter_jit(rollout_loss)
    one = one_step_loss(model, {"trajectories": batch["trajectories"][:, :2]})
    np.testing.assert_allclose(float(rollout_loss(model, batch, 1)), float(one), rtol=1e-10)
    np.testing.assert_allclose(float(rollout_loss(model, batch, 1, pushforward=True)), float(one), rtol=1e-10)
    # pushforward: no gradient through the earlier steps of the unroll
    g_full = eqx.filter_jit(eqx.filter_grad(lambda m: rollout_loss(m, batch, 3)))(model)
    g_push = eqx.filter_jit(eqx.filter_grad(lambda m: rollout_loss(m, batch, 3, pushforward=True)))(model)
    g_last = eqx.filter_jit(
        eqx.filter_grad(
            lambda m: one_step_loss(
                m,
                {
                    "trajectories": jnp.stack(
                        [jax.vmap(lambda u: model(model(u)))(batch["trajectories"][:, 0]), batch["trajectories"][:, 3]],
                        axis=1,
                    )
                },
            )
        )
    )(model)
    leaf = lambda g: np.asarray(g.model.spectral[0].weights.pair)
    np.testing.assert_allclose(leaf(g_push), leaf(g_last), rtol=1e-8, atol=1e-14)
    assert not np.allclose(leaf(g_full), leaf(g_push))
