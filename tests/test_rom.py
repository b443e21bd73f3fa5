"""jaxpde.rom: decoders and the Φ-ROM latent velocity (least-squares projection of the
solver's right-hand side onto the decoder's latent tangent space)."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxpde
from jaxpde import rom, spectral

GRID = jaxpde.PeriodicGrid(32, 2 * np.pi)
KEY = jax.random.key(0)


class LinearDecoder(eqx.Module):
    """D(x, α) = Σ_j α_j φ_j(x), φ = (cos x, sin x, cos 2x, sin 2x, cos 3x)."""

    def basis(self, x):
        x = jnp.atleast_1d(x)[0]
        return jnp.stack([jnp.cos(x), jnp.sin(x), jnp.cos(2 * x), jnp.sin(2 * x), jnp.cos(3 * x)])

    def __call__(self, x, alpha):
        return jnp.dot(self.basis(x), alpha)[None]


def test_least_squares_velocity_of_a_linear_decoder_is_the_galerkin_projection():
    dec = LinearDecoder()
    alpha = jnp.array([0.8, -0.3, 0.5, 0.2, -0.1])
    pde = spectral.Burgers(GRID, 0.1)
    x = GRID.axis_coordinates(0)
    phi = np.stack([np.asarray(dec.basis(jnp.asarray([xi]))) for xi in x])  # (N, k)
    u = phi @ np.asarray(alpha)
    r = np.asarray(pde.rhs(0.0, jnp.asarray(u)[None]))[0]
    # orthogonal modes on the uniform grid: the projection is <φ_j, r> / <φ_j, φ_j>
    galerkin = (phi.T @ r) / np.sum(phi**2, axis=0)
    got = jax.jit(lambda a: rom.latent_velocity(dec, a, pde, GRID))(alpha)
    np.testing.assert_allclose(np.asarray(got), galerkin, rtol=1e-10, atol=1e-12)
    # hyper-reduced: the least-squares solution on the sampled rows
    key = jax.random.key(3)
    sub = jax.jit(lambda a: rom.latent_velocity(dec, a, pde, GRID, key=key, fraction=0.4))(alpha)
    idx = np.asarray(jax.random.choice(key, 32, (13,), replace=False))
    ref = np.linalg.lstsq(phi[idx], r[idx], rcond=None)[0]
    np.testing.assert_allclose(np.asarray(sub), ref, rtol=1e-9, atol=1e-12)


def test_stepper_difference_quotient_approaches_the_rhs():
    dec = LinearDecoder()
    alpha = jnp.array([0.8, -0.3, 0.5, 0.2, -0.1])
    pde = spectral.Burgers(GRID, 0.1)
    exact = rom.latent_velocity(dec, alpha, pde, GRID)
    errs = [float(jnp.linalg.norm(rom.latent_velocity(dec, alpha, spectral.ETDRK(pde, dt, order=1), GRID) - exact))
            for dt in (1e-2, 5e-3)]
    assert errs[1] < 0.6 * errs[0] and errs[1] < 1e-2  # first order in dt
    with pytest.raises(TypeError, match="AbstractPDE or an AbstractStepper"):
        rom.field_velocity(lambda u: u, jnp.ones((1, 32)))


@pytest.mark.parametrize("kind", ["sine", "modulated"])
def test_decoders_are_continuous_fields_conditioned_on_the_latent(kind):
    bounds = rom.domain_bounds(GRID)
    cls = rom.SineDecoder if kind == "sine" else rom.ModulatedDecoder
    dec = cls(2, 4, bounds, width=16, depth=2, key=KEY)
    alpha = jax.random.normal(jax.random.key(1), (4,))
    u = jax.jit(lambda a: rom.decode_grid(dec, GRID, a))(alpha)
    assert u.shape == (2, 32)
    pts = jnp.asarray(rom.grid_points(GRID))
    np.testing.assert_allclose(np.asarray(rom.decode(dec, pts, alpha)), np.asarray(u).reshape(2, -1), rtol=1e-12)
    off = rom.decode(dec, jnp.array([[0.123], [4.56]]), alpha)  # anywhere in the domain
    assert off.shape == (2, 2) and np.all(np.isfinite(np.asarray(off)))
    assert not np.allclose(np.asarray(rom.decode_grid(dec, GRID, alpha + 1.0)), np.asarray(u))


def test_phi_rom_dynamics_loss_gradient_matches_finite_differences():
    """Gradients flow through the least-squares solve, the solver's rhs and the decoder."""
    pde = spectral.Burgers(GRID, 0.1)
    dec = rom.SineDecoder(1, 3, rom.domain_bounds(GRID), width=12, depth=2, omega0=3.0, key=KEY)
    alpha = jnp.array([0.3, -0.2, 0.5])
    psi = jnp.array([0.1, 0.0, -0.2])  # a stand-in for Ψ(α)
    key = jax.random.key(7)

    def loss(dec, alpha):
        v = rom.latent_velocity(dec, alpha, pde, GRID, key=key, fraction=0.5)
        return jnp.sum((psi - v) ** 2)

    g_dec, g_alpha = jax.jit(jax.grad(loss, argnums=(0, 1)))(dec, alpha)
    f = jax.jit(loss)
    eps = 1e-6
    d_alpha = jnp.array([0.4, -1.0, 0.7])
    fd = (f(dec, alpha + eps * d_alpha) - f(dec, alpha - eps * d_alpha)) / (2 * eps)
    np.testing.assert_allclose(float(jnp.dot(g_alpha, d_alpha)), float(fd), rtol=1e-6)
    w = dec.siren.layers[1].weight
    d_w = jax.random.normal(jax.random.key(9), w.shape)
    shift = lambda s: eqx.tree_at(lambda d: d.siren.layers[1].weight, dec, w + s * d_w)
    fd = (f(shift(eps), alpha) - f(shift(-eps), alpha)) / (2 * eps)
    np.testing.assert_allclose(float(jnp.sum(g_dec.siren.layers[1].weight * d_w)), float(fd), rtol=1e-6)


def test_latent_velocity_works_with_a_finite_volume_solver_unchanged():
    """Any AbstractPDE through rhs: here a finite-volume Burgers law on a cell grid."""
    from jaxpde import fv

    grid = jaxpde.CellGrid(40, 0.0, 2 * np.pi)
    pde = fv.FiniteVolume(fv.Burgers(), grid, fv.WENO5("z"), fv.Rusanov(), bc="periodic")
    dec = LinearDecoder()
    alpha = jnp.array([0.8, -0.3, 0.5, 0.2, -0.1])
    x = grid.axis_centres(0)
    phi = np.stack([np.asarray(dec.basis(jnp.asarray([xi]))) for xi in x])
    r = np.asarray(pde.rhs(0.0, jnp.asarray(phi @ np.asarray(alpha))[None]))[0]
    got = jax.jit(lambda a: rom.latent_velocity(dec, a, pde, grid))(alpha)
    np.testing.assert_allclose(np.asarray(got), np.linalg.lstsq(phi, r, rcond=None)[0], rtol=1e-9, atol=1e-12)
