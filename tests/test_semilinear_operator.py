"""The semilinear neural operator: with the PDE's own nonlinear term as its 'network' it
is the first-order exponential integrator (ETDRK1) of that PDE; its observer leaves a
step without data alone and, with an identity gain on full noise-free data, returns
the data; the assimilation loss differentiates (float64 central differences)."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxpde as jp
from jaxpde import ic, nn, train
from jaxpde import spectral as S

from ._gradcheck import assert_directional_derivative


class _ExactNonlinear(eqx.Module):
    pde: S.AbstractSemilinearPDE

    def __call__(self, u):
        return self.pde.grid.irfft(self.pde.nonlinear(self.pde.grid.rfft(u)))


class _IdentityGain(eqx.Module):
    channels: int = eqx.field(static=True)

    def __call__(self, z):
        return z[: self.channels]


def _ks():
    grid = jp.PeriodicGrid(32, 22.0)
    pde = S.KuramotoSivashinsky(grid)
    u = ic.random_fourier(grid, key=jax.random.key(0), max_wavenumber=3)
    return pde, u


def test_with_the_exact_nonlinear_term_it_is_etdrk1():
    pde, u = _ks()
    model = nn.SemilinearOperator(pde, _ExactNonlinear(pde), 0.1)
    ref = S.ETDRK(pde, 0.1, order=1)
    prepared = model.prepare()
    assert prepared.prepared is not None and prepared.prepare() is prepared
    np.testing.assert_array_equal(np.asarray(prepared(u)), np.asarray(model(u)))
    np.testing.assert_allclose(
        np.asarray(jp.rollout(model, u, 5)), np.asarray(jp.rollout(ref, u, 5)), rtol=1e-11, atol=1e-12
    )


def test_training_holds_the_linear_part_unless_asked_and_it_stays_differentiable():
    pde, u = _ks()
    pde = eqx.tree_at(lambda p: p.fourth_order, pde, jnp.asarray(1.0))
    net = nn.FNO(1, 1, modes=6, width=4, depth=1, key=jax.random.key(1))
    held = nn.SemilinearOperator(pde, net, 0.1).prepare()
    spec = train.trainable(held)
    assert not any(jax.tree.leaves((spec.pde, spec.prepared)))  # coefficients and derived ones
    assert all(jax.tree.leaves(spec.net))
    learned = train.trainable(nn.SemilinearOperator(pde, net, 0.1, learn_linear=True))
    assert jax.tree.leaves(learned.pde) and all(jax.tree.leaves(learned.pde))
    # held out of training, not out of differentiation: d/d(fourth_order) of a step by central differences
    g = jax.grad(
        lambda c: jnp.sum(nn.SemilinearOperator(eqx.tree_at(lambda p: p.fourth_order, pde, c), net, 0.1)(u) ** 2)
    )
    f = lambda c: float(jnp.sum(nn.SemilinearOperator(eqx.tree_at(lambda p: p.fourth_order, pde, c), net, 0.1)(u) ** 2))
    fd = (f(1.0 + 1e-6) - f(1.0 - 1e-6)) / 2e-6
    assert abs(fd) > 1e-3
    np.testing.assert_allclose(float(g(jnp.asarray(1.0))), fd, rtol=1e-6)


class _Affine(jp.AbstractPartlyFrozen):
    weight: jax.Array
    bias: jax.Array
    inner: object

    def frozen_fields(self):
        return ("bias",)


def test_partly_frozen_modules_name_their_held_fields():
    """Any module can hold fields out of training through the interface; the others,
    nested modules included, are searched as usual."""
    leaf = _Affine(jnp.ones(2), jnp.zeros(2), None)
    model = (_Affine(jnp.ones(3), jnp.zeros(3), leaf), jnp.ones(4))
    spec = train.trainable(model)
    assert spec[0].weight is True and spec[0].bias is False and spec[1] is True
    assert spec[0].inner.weight is True and spec[0].inner.bias is False and spec[0].inner.inner is None
    params, _ = eqx.partition(model, spec)
    assert [x.shape for x in jax.tree.leaves(params)] == [(3,), (2,), (4,)]
    with pytest.raises(TypeError):  # the interface must be implemented

        class _Missing(jp.AbstractPartlyFrozen):
            x: jax.Array

        _Missing(jnp.ones(1))


def test_observer_without_data_is_the_prediction_and_with_full_data_the_data():
    pde, u = _ks()
    observer = nn.FNO(3, 1, modes=6, width=8, depth=1, key=jax.random.key(1))
    model = nn.SemilinearOperator(pde, _ExactNonlinear(pde), 0.1, observer=observer)
    pred = model.predict(u)
    values = u + 1.0
    np.testing.assert_allclose(
        np.asarray(model(u, {"values": values, "mask": jnp.zeros(32)})), np.asarray(pred), rtol=1e-13, atol=1e-13
    )
    exact = nn.SemilinearOperator(pde, _ExactNonlinear(pde), 0.1, observer=_IdentityGain(1))
    out = exact(u, {"values": values, "mask": jnp.ones(32)})
    np.testing.assert_allclose(np.asarray(out), np.asarray(values), rtol=1e-13)
    half = jnp.zeros(32).at[::2].set(1.0)  # sensors on every other point: corrected there only
    out = exact(u, {"values": values, "mask": half})
    np.testing.assert_allclose(np.asarray(out[0, ::2]), np.asarray(values[0, ::2]), rtol=1e-13)
    np.testing.assert_allclose(np.asarray(out[0, 1::2]), np.asarray(pred[0, 1::2]), rtol=1e-13)
    with pytest.raises(ValueError, match="no observer"):
        nn.SemilinearOperator(pde, _ExactNonlinear(pde), 0.1).correct(u, values, half)
    with pytest.raises(TypeError, match="semilinear"):
        nn.SemilinearOperator(object(), _ExactNonlinear(pde), 0.1)


@pytest.mark.slow  # ~20 s on 2 cores
def test_assimilation_loss_gradient_matches_finite_differences():
    pde, u = _ks()
    traj = jp.rollout(S.ETDRK(pde, 0.1), u, 4, include_initial=True)
    batch = {"trajectories": jnp.stack([traj, 0.5 * traj]), "keys": jnp.asarray([[1, 2], [3, 4]], jnp.uint32)}
    net = nn.FNO(1, 1, modes=6, width=6, depth=1, key=jax.random.key(2))
    observer = nn.FNO(3, 1, modes=6, width=6, depth=1, key=jax.random.key(3))
    model = nn.SemilinearOperator(pde, net, 0.1, observer=observer)
    mask = jnp.zeros(32).at[::5].set(1.0)
    params, static = eqx.partition(model, eqx.is_inexact_array)

    def loss(p):
        return train.assimilation_loss(eqx.combine(p, static), batch, 3, mask=mask)

    assert_directional_derivative(loss, params, seed=5, rtol=1e-6)


def test_smooth_perturbation_has_unit_rms_and_only_low_modes():
    z = train.smooth_perturbation(jax.random.key(0), (2, 32, 16), max_wavenumber=3, dtype=jnp.float64)
    np.testing.assert_allclose(float(jnp.sqrt(jnp.mean(z**2))), 1.0, rtol=1e-12)
    spec = np.abs(np.fft.fft(np.asarray(z), axis=1))
    assert spec[:, 4:29].max() < 1e-10 * spec.max()


def test_assimilation_inputs_are_the_documented_guess_and_sensor_data():
    pde, u = _ks()
    traj = jp.rollout(S.ETDRK(pde, 0.1), u.astype(jnp.float64), 40, include_initial=True)
    mask = jnp.zeros(32).at[::4].set(1.0)
    start, controls = train.assimilation_inputs(traj, jax.random.key(7), 30, mask=mask, noise=0.1, guess=0.5)
    rms = float(jnp.sqrt(jnp.mean(traj[0] ** 2)))
    error = np.asarray(start - traj[0])
    np.testing.assert_allclose(np.sqrt(np.mean(error**2)), 0.5 * rms, rtol=1e-12)  # guess · rms, exactly
    assert np.abs(np.fft.rfft(error, axis=-1))[:, 5:].max() < 1e-10 * np.abs(error).max()  # smooth: low modes only
    assert controls["values"].shape == (30, 1, 32) and controls["mask"].shape == (30, 32)
    np.testing.assert_array_equal(np.asarray(controls["mask"]), np.broadcast_to(np.asarray(mask), (30, 32)))
    noise = np.asarray(controls["values"] - traj[1:31]).ravel()  # 960 draws of N(0, (0.1 rms)²)
    assert abs(noise.mean()) < 4 * 0.1 * rms / np.sqrt(noise.size)
    np.testing.assert_allclose(noise.std(), 0.1 * rms, rtol=0.1)
    # the loss trains on exactly these inputs: one trajectory, the same key
    model = nn.SemilinearOperator(pde, _ExactNonlinear(pde), 0.1, observer=_IdentityGain(1))
    batch = {"trajectories": traj[None, :31], "keys": jax.random.key_data(jax.random.key(7))[None]}
    preds = jp.rollout(model, start, 30, controls=controls, include_initial=False)
    expected = np.mean(np.sum((preds - traj[1:31]) ** 2, axis=(1, 2)) / np.sum(traj[1:31] ** 2, axis=(1, 2)))
    np.testing.assert_allclose(
        float(train.assimilation_loss(model, batch, 30, mask=mask, noise=0.1, guess=0.5)), expected, rtol=1e-10
    )


def _assimilation_config(tmp_path, observer=None, **training):
    from pathlib import Path

    import yaml

    raw = yaml.safe_load((Path(__file__).parent.parent / "configs" / "train_ks1d_assimilation.yaml").read_text())
    raw["data"].update(num_steps=140, burn_in=200, train_samples=2, test_samples=2)
    raw["model"].update(modes=8, width=8, depth=1)
    raw["observer"].update(observer or {})
    raw["training"].update(batch_size=2, num_steps=2, checkpoint_every=2, eval_every=0, horizon=3, window=4, **training)
    path = tmp_path / "assim.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_cli_assimilation_run_reports_errors_from_a_perturbed_guess(tmp_path, capsys):
    """``training.loss: assimilation`` trains a semilinear operator with an observer, and
    ``jaxpde evaluate`` adds three error curves from the same guess. With no perturbation
    and no noise the solver's curve is the data's own solver again (zero error), which
    pins its step and save interval."""
    import json

    from jaxpde import app
    from jaxpde.cli import main

    cfg = _assimilation_config(
        tmp_path, {"guess": 0.0, "noise": 0.0, "model": {"kind": "fno", "modes": 4, "width": 4, "depth": 1}}
    )
    run = tmp_path / "run"
    assert main(["train", str(cfg), "--out", str(run), "--no-progress"]) == 0
    assert main(["evaluate", str(run), "--no-progress"]) == 0
    assert "from a perturbed guess" in capsys.readouterr().out
    ev = json.loads((run / "eval.json").read_text())
    curves = ev["assimilation"]
    assert len(curves) == 3 and all(len(c) == 7 for c in curves.values())  # 8 frames: 7 steps
    assert max(curves["solver from the guess (no data)"]) < 1e-5
    assert (run / "assimilation.png").exists()
    model, pde, step = app.trained_model(run)
    assert isinstance(model, nn.SemilinearOperator) and step == 2
    for name in ("convection", "second_order", "fourth_order"):  # the exact linear part, held in training
        assert float(getattr(model.pde, name)) == float(getattr(pde, name))
    assert model.observer.lift.weight.shape[0] == 4  # the observer section's width, not the model's


@pytest.mark.parametrize(
    "top,training,message",
    [
        ({}, {"loss": "rollout"}, "'observer' applies with 'training.loss: assimilation'"),
        ({}, {"normalise": True}, "training.normalise"),
        ({"task": "solver_in_the_loop"}, {}, "applies to task 'emulator'"),
        ({"observer": {"sensor_every": 100}}, {}, "observer.sensor_every"),
        ({"observer": {"noise": -1}}, {}, "observer.noise"),
    ],
)
def test_cli_assimilation_keys_are_checked(tmp_path, capsys, top, training, message):
    import yaml

    from jaxpde.cli import main

    path = _assimilation_config(tmp_path, **training)
    raw = yaml.safe_load(path.read_text())
    for k, v in top.items():
        raw[k] = {**raw[k], **v} if isinstance(v, dict) else v
    path.write_text(yaml.safe_dump(raw))
    assert main(["validate", str(path)]) == 2
    assert message in capsys.readouterr().err
