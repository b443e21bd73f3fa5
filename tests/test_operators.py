"""Shared contract for the neural operators in jaxpde.nn: shapes, jit == eager,
vmap == loop, gradients reach every parameter, resolution independence."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxpde
from jaxpde import nn

KEY = jax.random.key(0)

MODELS = {
    "fno1d": (lambda: nn.FNO(2, 3, modes=5, width=8, depth=2, ndim=1, key=KEY), (2, 24), (3, 24)),
    "fno2d": (lambda: nn.FNO(1, 1, modes=(4, 3), width=6, depth=2, ndim=2, key=KEY), (1, 12, 10), (1, 12, 10)),
    "fno3d": (lambda: nn.FNO(1, 2, modes=2, width=4, depth=1, ndim=3, key=KEY), (1, 6, 6, 8), (2, 6, 6, 8)),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_operator_contract(name):
    make, in_shape, out_shape = MODELS[name]
    model = make()
    u = jax.random.normal(jax.random.key(1), in_shape)
    out = model(u)  # eager, once
    assert out.shape == out_shape and out.dtype == u.dtype
    jitted = eqx.filter_jit(model)
    np.testing.assert_allclose(np.asarray(jitted(u)), np.asarray(out), rtol=1e-10, atol=1e-12)
    batch = jax.random.normal(jax.random.key(2), (3, *in_shape))
    batched = eqx.filter_jit(lambda b: jax.vmap(model)(b))(batch)
    for i in range(3):
        np.testing.assert_allclose(np.asarray(batched[i]), np.asarray(jitted(batch[i])), rtol=1e-10, atol=1e-12)
    grads = eqx.filter_jit(eqx.filter_grad(lambda m: jnp.sum(m(u) ** 2)))(model)
    for leaf in jax.tree.leaves(eqx.filter(grads, eqx.is_inexact_array)):
        assert np.all(np.isfinite(np.asarray(leaf))) and np.any(np.asarray(leaf) != 0)
    with pytest.raises(ValueError, match="vmap"):
        model(batch)


def test_fno_gradient_matches_finite_differences():
    model = nn.FNO(1, 1, modes=4, width=4, depth=2, key=KEY)
    u = jnp.asarray(np.sin(np.linspace(0, 2 * np.pi, 16, endpoint=False)))[None]
    loss = lambda m: jnp.sum(jnp.sin(m(u)))
    g = eqx.filter_jit(eqx.filter_grad(loss))(model)
    loss = eqx.filter_jit(loss)
    direction = jax.random.normal(jax.random.key(3), model.spectral[0].weights.shape)
    eps = 1e-6
    shift = lambda s: eqx.tree_at(lambda m: m.spectral[0].weights, model, model.spectral[0].weights + s * direction)
    fd = (loss(shift(eps)) - loss(shift(-eps))) / (2 * eps)
    np.testing.assert_allclose(float(jnp.sum(g.spectral[0].weights * direction)), float(fd), rtol=1e-6)


def test_spectral_conv_is_resolution_independent_on_band_limited_fields():
    conv = nn.SpectralConv(1, 1, modes=(3, 3), ndim=2, key=KEY)
    x = np.linspace(0, 2 * np.pi, 32, endpoint=False)
    X, Y = np.meshgrid(x, x, indexing="ij")
    field = lambda X, Y: jnp.asarray(np.sin(X) * np.cos(2 * Y) + np.cos(X + Y))[None]
    fine = eqx.filter_jit(conv)(field(X, Y))
    coarse = eqx.filter_jit(conv)(field(X[::2, ::2], Y[::2, ::2]))
    np.testing.assert_allclose(np.asarray(fine)[:, ::2, ::2], np.asarray(coarse), atol=1e-12)


def test_operator_stepper_rolls_out():
    model = nn.FNO(1, 1, modes=4, width=4, depth=1, key=KEY)
    stepper = nn.OperatorStepper(model, 0.1)
    u0 = jnp.ones((1, 16))
    traj = jaxpde.rollout(stepper, u0, 5)
    assert traj.shape == (6, 1, 16)
    np.testing.assert_allclose(np.asarray(traj[1]), np.asarray(u0 + model(u0)), rtol=1e-12)
