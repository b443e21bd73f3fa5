"""ProbConserv's constrained update: exact on a linear-Gaussian case (against the
null-space form of the conditional Gaussian, computed independently in NumPy), the
constraint met to round-off, variances that only shrink, the low-rank covariance of an
ensemble, and a noisy constraint that interpolates to the prior."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxpde as jp
from jaxpde import nn


def _null_space_posterior(mu, cov, g, b):
    """The Gaussian N(mu, cov) conditioned on g u = b, parametrised on the constraint
    surface u = u_p + N z: z has precision Nᵀ cov⁻¹ N and mean from the prior's."""
    u_p = np.linalg.lstsq(g, b, rcond=None)[0]
    _, sv, vt = np.linalg.svd(g)
    n = vt[np.sum(sv > 1e-12) :].T  # an orthonormal basis of the null space
    prec = np.linalg.inv(cov)
    a = n.T @ prec @ n
    z = np.linalg.solve(a, n.T @ prec @ (mu - u_p))
    return u_p + n @ z, n @ np.linalg.inv(a) @ n.T


@pytest.mark.parametrize("low_rank", [False, True])
def test_exact_on_a_linear_gaussian_case(low_rank):
    rng = np.random.default_rng(0)
    shape = (2, 6)
    n = 12
    mu = rng.normal(size=shape)
    var = rng.uniform(0.1, 1.0, size=shape)
    factor = rng.normal(size=(3, *shape)) * 0.5 if low_rank else None
    cov = np.diag(var.ravel()) + (factor.reshape(3, n).T @ factor.reshape(3, n) if low_rank else 0)
    g = np.stack([rng.normal(size=shape), np.r_[np.ones(6), np.zeros(6)].reshape(shape)])
    b = np.asarray([0.7, -1.3])
    layer = nn.ProbConserv(jnp.asarray(g))
    f = None if factor is None else jnp.asarray(factor)
    mean, variance = layer(jnp.asarray(mu), jnp.asarray(var), jnp.asarray(b), factor=f)
    want_mean, want_cov = _null_space_posterior(mu.ravel(), cov, g.reshape(2, n), b)
    np.testing.assert_allclose(np.asarray(mean).ravel(), want_mean, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(np.asarray(variance).ravel(), np.diag(want_cov), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(np.asarray(layer.residual(mean)), b, rtol=1e-13, atol=1e-13)
    assert np.all(np.asarray(variance).ravel() <= np.diag(cov) + 1e-14)


def test_mass_correction_goes_where_the_variance_is():
    grid = jp.CellGrid(32)
    g = nn.ProbConserv.total(grid, 1)
    layer = nn.ProbConserv(g)
    mean = jnp.ones((1, 32))
    variance = jnp.full((1, 32), 1e-6).at[0, 10:14].set(1.0)  # uncertain near a 'shock'
    new, new_var = layer(mean, variance, jnp.asarray([1.1]))
    np.testing.assert_allclose(float(jnp.sum(new) * grid.spacing[0]), 1.1, rtol=1e-14)
    moved = np.asarray(new - mean)[0]
    assert moved[10:14].sum() > 0.999 * moved.sum()
    assert float(new_var[0, 12]) < 1.0
    # a noisy constraint moves the mean less, and an infinitely noisy one not at all
    soft, _ = nn.ProbConserv(g, noise=1e-2)(mean, variance, jnp.asarray([1.1]))
    assert 0 < float(jnp.sum(soft - mean)) < float(jnp.sum(new - mean))
    none, var_none = nn.ProbConserv(g, noise=1e12)(mean, variance, jnp.asarray([1.1]))
    np.testing.assert_allclose(np.asarray(none), np.asarray(mean), atol=1e-10)
    np.testing.assert_allclose(np.asarray(var_none), np.asarray(variance), rtol=1e-10)


def test_ensemble_covariance_and_gradients():
    """With the low-rank covariance of an ensemble the update is differentiable (float64
    central differences) and vmaps over a batch."""
    rng = np.random.default_rng(1)
    grid = jp.PeriodicGrid(16)
    layer = nn.ProbConserv(nn.ProbConserv.total(grid, 1))
    members = jnp.asarray(rng.normal(size=(5, 1, 16)))

    def update(members, b):
        mean = members.mean(axis=0)
        dev = (members - mean) / np.sqrt(members.shape[0] - 1)
        return layer(mean, jnp.full(mean.shape, 1e-8), b, factor=dev)

    def loss(members):
        m, v = update(members, jnp.asarray([0.3]))
        return jnp.sum(jnp.sin(m)) + jnp.sum(v**2)

    g = jax.grad(loss)(members)
    d = jnp.asarray(rng.normal(size=members.shape))
    eps = 1e-6
    fd = (loss(members + eps * d) - loss(members - eps * d)) / (2 * eps)
    np.testing.assert_allclose(float(jnp.sum(g * d)), float(fd), rtol=1e-7)
    batch = jnp.stack([members, 2 * members])
    mb, _ = jax.vmap(lambda m: update(m, jnp.asarray([0.3])))(batch)
    np.testing.assert_allclose(np.asarray(mb[1]), np.asarray(update(2 * members, jnp.asarray([0.3]))[0]), rtol=1e-13)
    np.testing.assert_allclose(np.asarray(jax.vmap(layer.residual)(mb)), 0.3, rtol=1e-12)


def test_errors_are_clear():
    layer = nn.ProbConserv(jnp.ones((1, 1, 8)))
    with pytest.raises(ValueError, match="acts on fields"):
        layer(jnp.ones((1, 9)), jnp.ones((1, 9)), jnp.ones(1))
    with pytest.raises(ValueError, match="shape of the mean"):
        layer(jnp.ones((1, 8)), jnp.ones((8,)), jnp.ones(1))
    with pytest.raises(ValueError, match="one weight field per constraint"):
        nn.ProbConserv(jnp.ones(8))
    with pytest.raises(ValueError, match="noise"):
        nn.ProbConserv(jnp.ones((1, 1, 8)), noise=-1.0)
