import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxpde.spectral import phi_functions


def _series(z, k, terms=40):
    # φ_k(z) = Σ_j z^j / (j + k)!
    out = np.zeros_like(z, dtype=complex)
    fact = [1.0]
    for j in range(1, terms + k + 2):
        fact.append(fact[-1] * j)
    for j in range(terms):
        out += z**j / fact[j + k]
    return out


def _direct(z, k):
    e = np.exp(z)
    return [e, (e - 1) / z, (e - 1 - z) / z**2, (e - 1 - z - z**2 / 2) / z**3][k]


@pytest.mark.parametrize("k", [1, 2, 3])
def test_small_and_large_arguments_real_and_complex(k):
    small = np.array([1e-12, -1e-6, 1e-3 + 2e-3j, -0.3j, 0.5 - 0.2j])
    large = np.array([-50.0, -3.0 + 20j, 40j, -200 - 300j, -1e4])
    ps = phi_functions(small, 3)[k]
    pl = phi_functions(large, 3)[k]
    np.testing.assert_allclose(ps, _series(small, k), rtol=1e-13)
    np.testing.assert_allclose(pl, _direct(large, k), rtol=1e-12)


def test_complex_symbol_keeps_imaginary_part():
    # A pure dispersion symbol: taking only the real part is wrong.
    z = 1j * np.linspace(-5, 5, 11)
    p1 = phi_functions(z, 1)[1]
    exact = np.where(z == 0, 1.0, (np.exp(z) - 1) / np.where(z == 0, 1, z))
    np.testing.assert_allclose(p1, exact, rtol=1e-13, atol=1e-15)
    assert np.max(np.abs(np.imag(p1))) > 0.1


def test_real_input_gives_real_output_and_float64_for_float32_input():
    z = np.array([-10.0, -4.0, -1.5, 0.75], np.float32)  # exactly representable
    out = phi_functions(z, 3)
    assert all(o.dtype == np.float64 for o in out)
    np.testing.assert_allclose(out[3], _direct(z.astype(np.float64), 3), rtol=1e-12)


def test_traced_path_matches_concrete_and_differentiates():
    z = np.array([-2.0, -1e-5, 0.3])
    ref = phi_functions(z, 3)
    traced = jax.jit(lambda zz: phi_functions(zz, 3))(jnp.asarray(z))
    for a, b in zip(traced, ref):
        np.testing.assert_allclose(a, b, rtol=1e-13)
    # d/dz φ_1(z) = φ_1 - φ_2 ... check against finite differences at z = -2
    g = jax.grad(lambda s: phi_functions(s, 1)[1])(-2.0)
    h = 1e-6
    fd = (_direct(-2.0 + h, 1) - _direct(-2.0 - h, 1)) / (2 * h)
    np.testing.assert_allclose(g, fd, rtol=1e-8)
