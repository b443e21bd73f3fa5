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
