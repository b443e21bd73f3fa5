import math

import jax.numpy as jnp
import numpy as np
import pytest

from jaxpde import PeriodicGrid


def test_shapes_and_coordinates():
    g = PeriodicGrid((16, 8), (2.0, 1.0))
    assert g.ndim == 2 and g.shape == (16, 8) and g.rfft_shape == (16, 5)
    x = g.coordinates()
    assert x.shape == (2, 16, 8)
    np.testing.assert_allclose(x[0, :, 0], np.arange(16) * 2.0 / 16)
    np.testing.assert_allclose(x[1, 0, :], np.arange(8) * 1.0 / 8)
    assert hash(g) == hash(PeriodicGrid((16, 8), (2.0, 1.0)))
    assert PeriodicGrid(8, ndim=3).shape == (8, 8, 8)
    assert PeriodicGrid(8, (1.0, 2.0)).shape == (8, 8)


@pytest.mark.parametrize(
    "bad",
    [
        dict(num_points=1),
        dict(num_points=(8, 8), extent=(1.0,) * 3),
        dict(num_points=8, extent=-1.0),
        dict(num_points=(4,) * 4),
    ],
)
def test_bad_grids(bad):
    with pytest.raises(ValueError):
        PeriodicGrid(**bad)


def test_spectral_derivatives_exact_anisotropic():
    g = PeriodicGrid((32, 24), (2.0, 3.0))
    x, y = g.coordinates()
    a, b = 2 * np.pi * 3 / 2.0, 2 * np.pi * 2 / 3.0
    u = jnp.asarray(np.sin(a * x) * np.cos(b * y))[None]
    np.testing.assert_allclose(g.derivative(u, 1, 0)[0], a * np.cos(a * x) * np.cos(b * y), atol=1e-11)
    np.testing.assert_allclose(g.derivative(u, 3, 1)[0], b**3 * np.sin(a * x) * np.sin(b * y), atol=1e-9)
    np.testing.assert_allclose(g.laplacian(u)[0], -(a**2 + b**2) * np.asarray(u[0]), atol=1e-9)
    grad = g.gradient(u)
    assert grad.shape == (2, 32, 24)
    np.testing.assert_allclose(grad[1], -b * np.sin(a * x) * np.sin(b * y), atol=1e-11)
    np.testing.assert_allclose(float(g.integrate(u**2)[0]), 2.0 * 3.0 / 4, rtol=1e-12)


def test_dealias_mask_two_thirds():
    g = PeriodicGrid(12)
    m = g.dealias_mask(2 / 3)
    np.testing.assert_array_equal(np.nonzero(m)[0], np.arange(5))  # |m| <= 4
    assert g.dealias_mask(1.0).all()
    with pytest.raises(ValueError):
        g.dealias_mask(0.0)


def test_wavenumbers_nyquist():
    g = PeriodicGrid(8, 2 * math.pi)
    (k,) = g.wavenumbers()
    (ko,) = g.wavenumbers(zero_nyquist=True)
    np.testing.assert_allclose(k, [0, 1, 2, 3, 4])
    np.testing.assert_allclose(ko, [0, 1, 2, 3, 0])


@pytest.mark.parametrize("fraction", [2 / 3, 0.5, 1.0])
def test_quadratic_alias_free_against_a_padded_product(fraction):
    # the rule's answer against the definition: the kept modes of a product computed on
    # the grid equal those of the exact product (computed on a grid twice as fine)
    rng = np.random.default_rng(0)
    for n in range(6, 40):
        g = PeriodicGrid(n)
        mask = g.dealias_mask(fraction)
        (k,) = g.kept_wavenumber_indices(fraction)
        assert mask.sum() == k + 1
        a_hat, b_hat = (mask * (rng.normal(size=mask.shape) + 1j * rng.normal(size=mask.shape)) for _ in range(2))
        a_hat[0] = a_hat[0].real
        b_hat[0] = b_hat[0].real
        on_grid = np.fft.rfft(np.fft.irfft(a_hat, n) * np.fft.irfft(b_hat, n)) * mask
        pad = np.zeros(n + 1, complex)
        fine = np.fft.rfft(np.fft.irfft(np.r_[a_hat, pad], 2 * n) * np.fft.irfft(np.r_[b_hat, pad], 2 * n))
        exact = 2 * fine[: mask.size] * mask
        assert g.quadratic_alias_free(fraction) == np.allclose(on_grid, exact, atol=1e-10), n
    assert PeriodicGrid((32, 48)).kept_wavenumber_indices() == (10, 16)
    assert PeriodicGrid((32, 40)).quadratic_alias_free() and not PeriodicGrid((32, 48)).quadratic_alias_free()
