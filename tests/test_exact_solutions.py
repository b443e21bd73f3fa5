"""Exact-solution checks of the spectral steppers (float64)."""

import jax.numpy as jnp
import numpy as np
import pytest

import jaxpde as jp
from jaxpde import ic
from jaxpde.spectral import (
    ETDRK,
    Advection,
    AdvectionDiffusion,
    Burgers,
    Diffusion,
    ExactLinear,
    KortewegDeVries,
    NavierStokes2D,
)


@pytest.mark.parametrize("make", [lambda p, dt: ExactLinear(p, dt), lambda p, dt: ETDRK(p, dt, order=4)])
def test_heat_2d_exact(make):
    g = jp.PeriodicGrid((32, 16), (2 * np.pi, np.pi))
    x, y = g.coordinates()
    u0 = jnp.asarray(np.sin(3 * x) * np.cos(4 * y) + 0.5 * np.cos(x))[None]
    nu, dt, n = 0.05, 0.1, 20
    u = jp.rollout_final(make(Diffusion(g, nu), dt), u0, n)
    t = dt * n
    exact = np.exp(-nu * 25 * t) * np.sin(3 * x) * np.cos(4 * y) + 0.5 * np.exp(-nu * t) * np.cos(x)
    np.testing.assert_allclose(u[0], exact, atol=1e-10)


def test_advection_1d_and_advection_diffusion_exact():
    g = jp.PeriodicGrid(64, 2.0)
    x = g.coordinates()[0]
    u0 = jnp.asarray(np.sin(2 * np.pi * 3 * x) + np.cos(2 * np.pi * x))[None]
    c, t = 0.37, 1.3
    u = jp.rollout_final(ExactLinear(Advection(g, c), t / 10), u0, 10)
    np.testing.assert_allclose(u[0], np.sin(2 * np.pi * 3 * (x - c * t)) + np.cos(2 * np.pi * (x - c * t)), atol=1e-10)
    nu = 0.01
    u = jp.rollout_final(ETDRK(AdvectionDiffusion(g, c, nu), t / 10, order=2), u0, 10)
    k3, k1 = 2 * np.pi * 3, 2 * np.pi
    exact = np.exp(-nu * k3**2 * t) * np.sin(k3 * (x - c * t)) + np.exp(-nu * k1**2 * t) * np.cos(k1 * (x - c * t))
    np.testing.assert_allclose(u[0], exact, atol=1e-10)


def test_advection_2d_anisotropic_exact():
    g = jp.PeriodicGrid((16, 32), (1.0, 2.0))
    x, y = g.coordinates()
    f = lambda x, y: np.sin(2 * np.pi * x) * np.cos(2 * np.pi * 2 * y / 2.0)  # noqa: E731
    c = np.array([0.3, -0.8])
    u = jp.rollout_final(ExactLinear(Advection(g, c), 0.25), jnp.asarray(f(x, y))[None], 4)
    np.testing.assert_allclose(u[0], f(x - c[0], y - c[1]), atol=1e-10)


def cole_hopf(x, t, nu, num_quad=40001):
    """Viscous Burgers with u0 = sin(x): the Cole-Hopf solution written as

    u(x, t) = ∫ sin(x-η) e^{E(η)} dη / ∫ e^{E(η)} dη,  E = cos(x-η)/(2ν) - η²/(4νt),

    evaluated by the trapezoidal rule (spectrally accurate for this smooth, rapidly
    decaying integrand) with the maximum exponent subtracted to avoid overflow."""
    width = np.sqrt(4 * nu * t)
    eta = np.linspace(-14 * width, 14 * width, num_quad)
    xi = x[:, None] - eta[None, :]
    E = np.cos(xi) / (2 * nu) - eta[None, :] ** 2 / (4 * nu * t)
    w = np.exp(E - E.max(axis=1, keepdims=True))
    return np.sum(np.sin(xi) * w, axis=1) / np.sum(w, axis=1)


@pytest.mark.parametrize("nu,n_points", [(0.1, 128), (0.02, 512)])
def test_burgers_cole_hopf(nu, n_points):
    g = jp.PeriodicGrid(n_points)
    x = g.coordinates()[0]
    u0 = jnp.asarray(np.sin(x))[None]
    t, n = 1.0, 500
    u = jp.rollout_final(ETDRK(Burgers(g, nu), t / n, order=4), u0, n)
    exact = cole_hopf(x, t, nu)
    rel = np.linalg.norm(u[0] - exact) / np.linalg.norm(exact)
    assert rel < 1e-4, rel


def test_kdv_soliton_one_period():
    L, c = 40.0, 4.0
    g = jp.PeriodicGrid(256, L)
    u0 = ic.kdv_soliton(g, speed=c, position=10.0)
    period = L / c
    n = 5000
    traj = jp.rollout(ETDRK(KortewegDeVries(g), period / n, order=4), u0, n, save_every=n // 4)
    for i, frame in enumerate(traj):
        exact = ic.kdv_soliton(g, speed=c, position=10.0, time=i * period / 4)
        rel = float(jnp.linalg.norm(frame - exact) / jnp.linalg.norm(exact))
        assert rel < 1e-3, (i, rel)
    # shape and speed: peak height and position after one period
    assert abs(float(traj[-1].max()) - c / 2) < 1e-3 * c / 2
    np.testing.assert_allclose(float(jnp.argmax(traj[-1][0])), float(jnp.argmax(u0[0])))


def test_taylor_green_decay():
    g = jp.PeriodicGrid(32, ndim=2)
    w0 = ic.taylor_green_vorticity(g, wavenumber=2)
    nu, dt, n = 0.01, 0.05, 100
    w = jp.rollout_final(ETDRK(NavierStokes2D(g, nu), dt, order=4), w0, n)
    k = 2.0
    exact = np.asarray(w0) * np.exp(-2 * nu * k**2 * dt * n)
    err = np.max(np.abs(np.asarray(w) - exact)) / np.max(np.abs(exact))
    assert err < 1e-8, err


@pytest.mark.parametrize("shape", [(16, 20, 14), (12, 16, 14)])
def test_burgers_3d_advection_term_against_the_plain_form(shape):
    """Where the kept modes are free of aliasing (here 16, 20, 14 points), Burgers 3D
    evaluates (u·∇)u as ∇·(u⊗u) - u(∇·u) (13 transforms instead of 15); it must equal the
    plain Σ_j u_j ∂_j u_i computed here with NumPy, to rounding. With 12 points (divisible
    by 3) on one axis the boundary mode aliases and the plain form is kept. A non-cubic grid
    and domain catch a swapped axis; the field is compressible (∇·u ≠ 0)."""
    extent = (6.0, 9.0, 7.0)
    g = jp.PeriodicGrid(shape, extent)
    pde = Burgers(g, 0.01)
    assert g.quadratic_alias_free() == (shape[0] == 16)
    rshape = g.rfft_shape
    axes = (1, 2, 3)
    rng = np.random.default_rng(0)
    mask = np.broadcast_to(np.asarray(pde.dealias_mask()), rshape)
    u_hat = (rng.standard_normal((3, *rshape)) + 1j * rng.standard_normal((3, *rshape))) * mask
    u_hat = 1e3 * np.fft.rfftn(np.fft.irfftn(u_hat, s=shape, axes=axes), axes=axes)  # a real field's coefficients
    ks = []
    for a, (n, ell) in enumerate(zip(shape, extent)):
        m = np.fft.rfftfreq(n, 1 / n) if a == 2 else np.fft.fftfreq(n, 1 / n)
        k = 1j * 2 * np.pi * m / ell * (np.abs(m) != n // 2)  # odd derivatives drop the Nyquist modes
        ks.append(k.reshape([-1 if b == a else 1 for b in range(3)]))
    u = np.fft.irfftn(u_hat * mask, s=shape, axes=axes)
    grad = [np.fft.irfftn(u_hat * mask * k, s=shape, axes=axes) for k in ks]  # grad[j][i] = ∂_j u_i
    div = sum(grad[j][j] for j in range(3))
    assert np.abs(div).max() > 1.0
    expected = -np.fft.rfftn(sum(u[j] * grad[j] for j in range(3)), axes=axes) * mask
    got = np.asarray(pde.nonlinear(jnp.asarray(u_hat)))
    scale = np.abs(expected).max()
    assert scale > 1.0
    np.testing.assert_allclose(got, expected, atol=1e-12 * scale)


@pytest.mark.parametrize("dealias", [2 / 3, 1.0])
def test_navier_stokes_2d_advection_term_against_the_jacobian_form(dealias):
    """Where the 2/3 rule leaves the kept modes free of aliasing (3K < N on each axis; here
    32 and 40 points), NavierStokes2D evaluates u·∇ω in Basdevant's form
    (∂xx - ∂yy)(uv) + ∂x∂y(v² - u²) (four transforms instead of five); it must equal the
    plain u ∂x ω + v ∂y ω computed here with NumPy, to rounding. Without de-aliasing the
    plain form is kept. A non-square grid and domain catch a swapped axis."""
    g = jp.PeriodicGrid((32, 40), (6.0, 9.0))
    pde = NavierStokes2D(g, 0.01, dealias=dealias)
    kx = 2 * np.pi * np.fft.fftfreq(32, 6.0 / 32)[:, None]
    ky = 2 * np.pi * np.fft.rfftfreq(40, 9.0 / 40)[None, :]
    rng = np.random.default_rng(0)
    mask = np.broadcast_to(np.asarray(pde.dealias_mask()), (32, 21)) if dealias < 1 else np.ones((32, 21), bool)
    w_hat = (rng.standard_normal((32, 21)) + 1j * rng.standard_normal((32, 21))) * mask
    w_hat[0, 0] = 0.0
    w_hat = 50 * np.fft.rfft2(np.fft.irfft2(w_hat, s=(32, 40)))  # a real field's coefficients
    k2 = kx**2 + ky**2
    psi_hat = np.where(k2 == 0, 0.0, w_hat / np.where(k2 == 0, 1.0, k2))
    # odd derivatives drop the Nyquist modes, as the library's do
    ikx = 1j * kx * (np.abs(np.fft.fftfreq(32, 1 / 32))[:, None] != 16)
    iky = 1j * ky * (np.fft.rfftfreq(40, 1 / 40)[None, :] != 20)
    u, v, wx, wy = (np.fft.irfft2(a, s=(32, 40)) for a in (iky * psi_hat, -ikx * psi_hat, ikx * w_hat, iky * w_hat))
    expected = -np.fft.rfft2(u * wx + v * wy) * mask
    got = np.asarray(pde.nonlinear(jnp.asarray(w_hat)[None]))[0]
    scale = np.abs(expected).max()
    assert scale > 1.0
    np.testing.assert_allclose(got, expected, atol=1e-12 * scale)
