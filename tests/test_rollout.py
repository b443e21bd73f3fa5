import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxpde as jp
from jaxpde import ic
from jaxpde.spectral import ETDRK, Burgers, Diffusion, ExactLinear, KleinGordon, StormerVerlet


def _setup():
    g = jp.PeriodicGrid(32)
    return ETDRK(Burgers(g, 0.05), 0.02), ic.random_fourier(g, key=jax.random.PRNGKey(0), max_wavenumber=3)


def test_shapes_and_saving():
    st, u0 = _setup()
    tr = jp.rollout(st, u0, 12, save_every=3)
    assert tr.shape == (5, 1, 32)
    np.testing.assert_array_equal(tr[0], u0)
    tr2 = jp.rollout(st, u0, 12, include_initial=False)
    assert tr2.shape == (12, 1, 32)
    np.testing.assert_allclose(tr[1:], tr2[2::3], rtol=1e-13, atol=1e-15)
    # equals repeated calls of the stepper (physical-space path)
    u = u0
    for _ in range(3):
        u = st(u)
    np.testing.assert_allclose(tr[1], u, rtol=1e-12, atol=1e-14)
    assert jp.rollout(st, u0, 0).shape == (1, 1, 32)


@pytest.mark.parametrize(
    "kwargs,err",
    [
        (dict(num_steps=10, save_every=3), ValueError),
        (dict(num_steps=-1), ValueError),
        (dict(num_steps=4, checkpoint="yes"), ValueError),
        (dict(num_steps=4, save_every=0), ValueError),
    ],
)
def test_bad_arguments(kwargs, err):
    st, u0 = _setup()
    with pytest.raises(err):
        jp.rollout(st, u0, **kwargs)


def test_wrong_state_shape_message():
    st, u0 = _setup()
    with pytest.raises(ValueError, match="vmap"):
        jp.rollout(st, jnp.stack([u0, u0]), 2)
    with pytest.raises(ValueError, match="channel axis"):
        st(u0[0])


def test_controls_time_dependent_forcing_and_gradient():
    g = jp.PeriodicGrid(16)
    pde = Diffusion(g, 0.1)
    n, dt = 8, 0.1
    f = jnp.ones((n, 1, 16)) * jnp.arange(n)[:, None, None]  # spatially constant, grows in time
    tr = jp.rollout(ExactLinear(pde, dt), jnp.zeros((1, 16)), n, controls=f)
    # the mean obeys m' = f(t) exactly (piecewise constant forcing)
    np.testing.assert_allclose(tr[-1].mean(), dt * jnp.arange(n).sum(), rtol=1e-12)
    grad = jax.grad(lambda c: jp.rollout(ExactLinear(pde, dt), jnp.zeros((1, 16)), n, controls=c)[-1].sum())(f)
    np.testing.assert_allclose(grad, dt * np.ones_like(f), rtol=1e-12)
    with pytest.raises(ValueError, match="leading axis"):
        jp.rollout(ExactLinear(pde, dt), jnp.zeros((1, 16)), n + 1, controls=f)


def test_non_fourier_stepper_rollout():
    g = jp.PeriodicGrid(64, 40.0)
    st = StormerVerlet(KleinGordon(g, "sine_gordon"), 0.05)
    u0 = ic.breather(g)
    tr = jp.rollout(st, u0, 6, save_every=2)
    np.testing.assert_allclose(tr[1], st(st(u0)), rtol=1e-13)


def _temp_bytes(num_steps, checkpoint):
    g = jp.PeriodicGrid(64, 22.0)
    st = ETDRK(Burgers(g, 0.05), 0.01)
    u0 = jnp.zeros((1, 64))

    def loss(u):
        return jnp.sum(jp.rollout_final(st, u, num_steps, checkpoint=checkpoint) ** 2)

    stats = jax.jit(jax.grad(loss)).lower(u0).compile().memory_analysis()
    return stats.temp_size_in_bytes


def test_checkpointed_gradient_memory_is_sublinear():
    plain = [_temp_bytes(n, None) for n in (400, 1600)]
    ckpt = [_temp_bytes(n, True) for n in (400, 1600)]
    # without checkpointing, memory grows ~linearly (×4); with it ~ sqrt (×2)
    assert plain[1] / plain[0] > 3.0, plain
    assert ckpt[1] / ckpt[0] < 2.6, ckpt
    assert ckpt[1] < plain[1] / 5


def test_verlet_carried_force_exact_with_per_step_controls():
    g = jp.PeriodicGrid(64, 40.0)
    st = StormerVerlet(KleinGordon(g, "phi4"), 0.05, substeps=2)
    u0 = ic.kink(g, velocity=0.1)
    f = 0.01 * jax.random.normal(jax.random.PRNGKey(2), (5, 64))
    tr = jp.rollout(st, u0, 5, controls=f)
    u = u0
    for i in range(5):
        u = st(u, f[i])
        np.testing.assert_allclose(tr[i + 1], u, rtol=1e-13, atol=1e-14)
