"""The neural operators of jaxpde.nn beyond the shared contract (tests/test_contract.py):
factorised weights, conditioning, sizes, off-grid evaluation, gradients, resolution
independence, learned and corrected steppers."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxpde
from jaxpde import nn

KEY = jax.random.key(0)
P = jnp.array([0.3, -1.2])  # PDE parameters of a conditioned model


def test_tensor_factorised_weights_are_smaller_and_reconstruct():
    dense = nn.SpectralConv(8, 8, 6, ndim=2, key=KEY)
    sizes = {}
    for fact in ("tucker", "cp"):
        conv = nn.SpectralConv(8, 8, 6, ndim=2, factorisation=fact, rank=0.25, key=KEY)
        assert conv.full_weights().shape == dense.full_weights().shape
        sizes[fact] = sum(x.size for x in jax.tree.leaves(eqx.filter(conv, eqx.is_inexact_array)))
    # CP keeps ~rank of the dense count; Tucker a core of rank^4 of it plus the factors
    assert sizes["cp"] < 0.3 * dense.weights.pair.size and sizes["tucker"] < 0.05 * dense.weights.pair.size, sizes
    with pytest.raises(ValueError, match="factorisation"):
        nn.SpectralConv(2, 2, 3, factorisation="svd", key=KEY)


def test_parameter_conditioning_starts_as_identity_and_changes_with_parameters():
    cond = nn.FNO(1, 1, modes=4, width=6, depth=2, num_parameters=2, key=KEY)
    plain = eqx.tree_at(lambda m: m.attention, cond, None, is_leaf=lambda x: x is None)
    u = jax.random.normal(jax.random.key(4), (1, 16))
    call = eqx.filter_jit(lambda m, *a: m(u, *a))
    # the last attention layer starts at zero: gate 2σ(0) = 1, i.e. the unconditioned network
    np.testing.assert_allclose(np.asarray(call(cond, P)), np.asarray(call(plain)), rtol=1e-6)
    grads = eqx.filter_jit(eqx.filter_grad(lambda m: jnp.sum(m(u, P) ** 2)))(cond)
    assert np.any(np.asarray(grads.attention[0].mlp.layers[-1].weight) != 0)
    bumped = eqx.tree_at(lambda m: m.attention[0].mlp.layers[-1].bias, cond, jnp.ones(6))
    assert not np.allclose(np.asarray(call(bumped, P)), np.asarray(call(cond, P)))
    with pytest.raises(ValueError, match="model\\(u, p\\)"):
        cond(u)


def test_unet_rejects_indivisible_sizes():
    with pytest.raises(ValueError, match="divisible by 4"):
        nn.UNet(1, 1, width=4, levels=2, key=KEY)(jnp.ones((1, 18)))
    with pytest.raises(ValueError, match="1D and 2D"):
        nn.UNet(1, 1, ndim=3, key=KEY)


def test_deeponet_evaluates_off_grid_consistently():
    model = nn.DeepONet(1, 1, num_points=16, basis=8, width=16, depth=2, key=KEY)
    u = jax.random.normal(jax.random.key(5), (1, 16))
    on_grid = model(u)
    x = jnp.arange(16)[:, None] / 16.0
    np.testing.assert_allclose(np.asarray(model.evaluate(u, x)), np.asarray(on_grid), rtol=1e-12)
    with pytest.raises(ValueError, match="sensor grid"):
        model(jnp.ones((1, 32)))


def test_fno_gradient_matches_finite_differences():
    model = nn.FNO(1, 1, modes=4, width=4, depth=2, key=KEY)
    u = jnp.asarray(np.sin(np.linspace(0, 2 * np.pi, 16, endpoint=False)))[None]
    loss = lambda m: jnp.sum(jnp.sin(m(u)))
    g = eqx.filter_jit(eqx.filter_grad(loss))(model)
    loss = eqx.filter_jit(loss)
    direction = jax.random.normal(jax.random.key(3), model.spectral[0].weights.pair.shape)
    eps = 1e-6
    w0 = model.spectral[0].weights.pair
    shift = lambda s: eqx.tree_at(lambda m: m.spectral[0].weights.pair, model, w0 + s * direction)
    fd = (loss(shift(eps)) - loss(shift(-eps))) / (2 * eps)
    np.testing.assert_allclose(float(jnp.sum(g.spectral[0].weights.pair * direction)), float(fd), rtol=1e-6)


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


def test_corrected_stepper_is_solver_plus_correction_and_differentiates_through_the_solver():
    grid = jaxpde.PeriodicGrid(16)
    solver = jaxpde.spectral.ETDRK(jaxpde.spectral.Burgers(grid, 0.1), 0.05, order=1)
    net = nn.FNO(1, 1, modes=4, width=4, depth=1, key=KEY)
    stepper = nn.CorrectedStepper(solver, net)
    u0 = jnp.sin(jnp.asarray(grid.coordinates()[0]))[None]
    v = solver(u0)
    np.testing.assert_allclose(np.asarray(stepper(u0)), np.asarray(v + net(v)), rtol=1e-12)
    assert stepper.dt == solver.dt

    # the gradient wrt the solver's viscosity flows through the unrolled, corrected rollout
    def final(nu):
        s = nn.CorrectedStepper(jaxpde.spectral.ETDRK(jaxpde.spectral.Burgers(grid, nu), 0.05, order=1), net)
        return jnp.sum(jaxpde.rollout(s, u0, 3)[-1] ** 2)

    g = jax.grad(final)(jnp.asarray(0.1))
    assert np.isfinite(float(g)) and float(g) != 0.0
