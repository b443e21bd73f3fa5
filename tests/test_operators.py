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

P = jnp.array([0.3, -1.2])  # PDE parameters of the conditioned model


class _Conditioned(eqx.Module):
    """Wraps a parameter-conditioned FNO into the plain (C, *N) contract for the test."""

    model: nn.FNO

    def __call__(self, u):
        return self.model(u, P)


def _trained_attention(model):
    """Move the zero-initialised last attention layers off zero, as training would, so
    that gradients reach the earlier attention layers too."""
    where = lambda m: [a.mlp.layers[-1].weight for a in m.attention]
    new = [0.1 * jax.random.normal(jax.random.fold_in(KEY, i), w.shape) for i, w in enumerate(where(model))]
    return eqx.tree_at(where, model, new)


MODELS = {
    "fno1d": (lambda: nn.FNO(2, 3, modes=5, width=8, depth=2, ndim=1, key=KEY), (2, 24), (3, 24)),
    "fno2d": (lambda: nn.FNO(1, 1, modes=(4, 3), width=6, depth=2, ndim=2, key=KEY), (1, 12, 10), (1, 12, 10)),
    "fno3d": (lambda: nn.FNO(1, 2, modes=2, width=4, depth=1, ndim=3, key=KEY), (1, 6, 6, 8), (2, 6, 6, 8)),
    "tfno_tucker2d": (
        lambda: nn.FNO(1, 1, modes=4, width=6, depth=2, ndim=2, factorisation="tucker", rank=0.5, key=KEY),
        (1, 12, 12),
        (1, 12, 12),
    ),
    "tfno_cp1d": (
        lambda: nn.FNO(1, 1, modes=5, width=6, depth=2, factorisation="cp", rank=0.3, key=KEY),
        (1, 20),
        (1, 20),
    ),
    "fno_cape1d": (
        lambda: _Conditioned(_trained_attention(nn.FNO(1, 1, modes=4, width=6, depth=2, num_parameters=2, key=KEY))),
        (1, 16),
        (1, 16),
    ),
    "unet1d": (lambda: nn.UNet(2, 1, width=4, levels=1, ndim=1, key=KEY), (2, 16), (1, 16)),
    "unet2d": (lambda: nn.UNet(1, 2, width=4, levels=1, ndim=2, key=KEY), (1, 8, 12), (2, 8, 12)),
    "dilated_resnet1d": (
        lambda: nn.DilatedResNet(1, 1, width=6, num_blocks=1, dilations=(1, 2, 1), key=KEY),
        (1, 16),
        (1, 16),
    ),
    "dilated_resnet2d": (
        lambda: nn.DilatedResNet(2, 2, width=4, num_blocks=1, dilations=(1, 2), ndim=2, key=KEY),
        (2, 8, 8),
        (2, 8, 8),
    ),
    "deeponet1d": (lambda: nn.DeepONet(1, 2, num_points=16, basis=8, width=16, depth=2, key=KEY), (1, 16), (2, 16)),
    "deeponet2d": (
        lambda: nn.DeepONet(1, 1, num_points=(6, 8), basis=8, width=16, depth=2, ndim=2, key=KEY),
        (1, 6, 8),
        (1, 6, 8),
    ),
}

# neural fields: a point x in R^d -> R^m
FIELDS = {
    "siren": (lambda: nn.SIREN(2, 3, width=16, depth=3, key=KEY), (2,), (3,)),
    "fourier_features": (
        lambda: nn.FourierFeatureMLP(2, 1, num_features=8, scale=3.0, width=16, depth=2, key=KEY),
        (2,),
        (1,),
    ),
}


def _contract(model, in_shape, out_shape):
    u = jax.random.normal(jax.random.key(1), in_shape)
    out = model(u)  # eager, once
    assert out.shape == out_shape and out.dtype == u.dtype
    jitted = eqx.filter_jit(model)
    np.testing.assert_allclose(np.asarray(jitted(u)), np.asarray(out), rtol=1e-10, atol=1e-12)
    batch = jax.random.normal(jax.random.key(2), (3, *in_shape))
    batched = eqx.filter_jit(lambda b: jax.vmap(model)(b))(batch)
    for i in range(3):
        np.testing.assert_allclose(np.asarray(batched[i]), np.asarray(jitted(batch[i])), rtol=1e-10, atol=1e-12)
    grads = eqx.filter_jit(eqx.filter_grad(lambda m: jnp.sum(jnp.sin(m(u)) + m(u) ** 2)))(model)
    for leaf in jax.tree.leaves(eqx.filter(grads, eqx.is_inexact_array)):
        assert np.all(np.isfinite(np.asarray(leaf))) and np.any(np.asarray(leaf) != 0)
    return batch


@pytest.mark.parametrize("name", sorted(MODELS))
def test_operator_contract(name):
    make, in_shape, out_shape = MODELS[name]
    model = make()
    batch = _contract(model, in_shape, out_shape)
    with pytest.raises(ValueError, match="vmap"):
        model(batch)


@pytest.mark.parametrize("name", sorted(FIELDS))
def test_neural_field_contract(name):
    make, in_shape, out_shape = FIELDS[name]
    _contract(make(), in_shape, out_shape)


def test_tensor_factorised_weights_are_smaller_and_reconstruct():
    dense = nn.SpectralConv(8, 8, 6, ndim=2, key=KEY)
    sizes = {}
    for fact in ("tucker", "cp"):
        conv = nn.SpectralConv(8, 8, 6, ndim=2, factorisation=fact, rank=0.25, key=KEY)
        assert conv.full_weights().shape == dense.full_weights().shape
        sizes[fact] = sum(x.size for x in jax.tree.leaves(eqx.filter(conv, eqx.is_inexact_array)))
    # CP keeps ~rank of the dense count; Tucker a core of rank^4 of it plus the factors
    assert sizes["cp"] < 0.3 * dense.weights.size and sizes["tucker"] < 0.05 * dense.weights.size, sizes
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
