"""Longer validation runs: ``pytest -m slow``."""

import jax
import numpy as np
import pytest

import jaxpde as jp
from jaxpde import ic, metrics
from jaxpde.spectral import ETDRK, Burgers, KuramotoSivashinsky

from .test_exact_solutions import cole_hopf


@pytest.mark.slow
def test_ks_dominant_wavelength():
    # KS on L = 100 settles into chaos whose dominant wavelength is ≈ 2π√2 ≈ 8.9
    # (the most unstable linear mode, k = 1/√2).
    L = 100.0
    g = jp.PeriodicGrid(256, L)
    u0 = ic.random_fourier(g, key=jax.random.PRNGKey(0), max_wavenumber=4)
    traj = jax.jit(lambda u: jp.rollout(ETDRK(KuramotoSivashinsky(g), 0.25), u, 8000, save_every=20))(u0)
    spectra = np.stack([metrics.energy_spectrum(u, g)[1] for u in np.asarray(traj[100:])])
    mean = spectra.mean(axis=0)
    m_peak = int(np.argmax(mean[1:])) + 1
    wavelength = L / m_peak
    assert abs(wavelength - 2 * np.pi * np.sqrt(2)) / (2 * np.pi * np.sqrt(2)) < 0.15, wavelength


@pytest.mark.slow
def test_burgers_cole_hopf_small_viscosity():
    nu = 0.01
    g = jp.PeriodicGrid(1024)
    x = g.coordinates()[0]
    u = jp.rollout_final(ETDRK(Burgers(g, nu), 1e-3), ic.sine(g), 1500)
    exact = cole_hopf(x, 1.5, nu, num_quad=80001)
    assert np.linalg.norm(u[0] - exact) / np.linalg.norm(exact) < 1e-4
