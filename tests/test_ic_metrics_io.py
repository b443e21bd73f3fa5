import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxpde as jp
from jaxpde import ic, metrics
from jaxpde.io import load_trajectory, save_trajectory


def test_random_fourier_is_band_limited_and_seeded():
    g = jp.PeriodicGrid((32, 16), (1.0, 2.0))
    a = ic.random_fourier(g, key=jax.random.PRNGKey(0), num_channels=2, max_wavenumber=3)
    b = ic.random_fourier(g, key=jax.random.PRNGKey(0), num_channels=2, max_wavenumber=3)
    c = ic.random_fourier(g, key=jax.random.PRNGKey(1), num_channels=2, max_wavenumber=3)
    assert a.shape == (2, 32, 16)
    np.testing.assert_array_equal(a, b)
    assert float(jnp.max(jnp.abs(a - c))) > 1e-3
    np.testing.assert_allclose(jnp.max(jnp.abs(a), axis=(1, 2)), 1.0)
    spec = np.abs(np.asarray(g.rfft(a)))
    mx, my = np.broadcast_arrays(*g.wavenumber_indices())
    assert spec[:, (np.abs(mx) > 3) | (np.abs(my) > 3)].max() < 1e-10
    np.testing.assert_allclose(jnp.mean(a, axis=(1, 2)), 0.0, atol=1e-12)


def test_gaussian_random_field_spectrum_decays_with_power():
    g = jp.PeriodicGrid(256)
    k, E_smooth = metrics.energy_spectrum(ic.gaussian_random_field(g, key=jax.random.PRNGKey(0), power=4.0), g)
    _, E_rough = metrics.energy_spectrum(ic.gaussian_random_field(g, key=jax.random.PRNGKey(0), power=1.0), g)
    hi = slice(40, 100)
    assert E_smooth[hi].sum() / E_smooth.sum() < 0.1 * E_rough[hi].sum() / E_rough.sum()


def test_energy_spectrum_parseval_and_peak():
    g = jp.PeriodicGrid((32, 32))
    x, y = g.coordinates()
    u = jnp.asarray(np.cos(3 * x) + 0.5 * np.sin(4 * y))[None]
    k, E = metrics.energy_spectrum(u, g)
    np.testing.assert_allclose(E.sum(), float(jnp.mean(u**2)) / 2, rtol=1e-12)
    np.testing.assert_allclose(E[3], 0.25, rtol=1e-12)
    np.testing.assert_allclose(E[4], 0.0625, rtol=1e-12)


def test_nrmse_and_correlation():
    ref = jnp.stack([jnp.ones((1, 8)), 2 * jnp.ones((1, 8))])
    pred = ref * jnp.array([1.1, 1.0])[:, None, None]
    np.testing.assert_allclose(metrics.nrmse(pred, ref, num_spatial_dims=1), [0.1, 0.0], atol=1e-12)
    x = jnp.sin(jnp.linspace(0, 6, 50))[None]
    traj = jnp.stack([x, x, -x])
    np.testing.assert_allclose(
        metrics.correlation(traj, jnp.stack([x, 2 * x + 1, x]), num_spatial_dims=1), [1, 1, -1], atol=1e-12
    )
    assert metrics.correlation_time(traj, jnp.stack([x, x, x]), dt=0.5) == 1.0
    with pytest.raises(ValueError):
        metrics.nrmse(ref, ref[0])


def test_named_ics():
    g = jp.PeriodicGrid(128, 40.0)
    s = ic.kdv_soliton(g, speed=2.0)
    np.testing.assert_allclose(float(s.max()), 1.0, rtol=1e-12)
    b = ic.breather(g, frequency=0.5)
    assert b.shape == (2, 128)
    np.testing.assert_allclose(b[0], 0.0, atol=1e-14)  # at t = 0 the breather is at rest shape 0
    k = ic.kink(g, velocity=0.1)
    np.testing.assert_allclose([k[0, 0], k[0, 64]], [-1.0, 1.0], atol=1e-5)
    assert ic.gray_scott_seeds(jp.PeriodicGrid(32, ndim=2), key=jax.random.PRNGKey(0)).shape == (2, 32, 32)
    assert ic.gaussian_blob(jp.PeriodicGrid(16, ndim=2)).shape == (1, 16, 16)
    with pytest.raises(ValueError):
        ic.kdv_soliton(jp.PeriodicGrid(8, ndim=2))


def test_hdf5_roundtrip_and_atomicity(tmp_path):
    traj = np.random.default_rng(0).normal(size=(5, 2, 8))
    save_trajectory(tmp_path / "t.h5", traj, {"equation": "x", "grid": {"num_points": [8]}}, times=np.arange(5.0))
    t2, times, meta = load_trajectory(tmp_path / "t.h5")
    np.testing.assert_array_equal(t2, traj)
    assert meta["grid"] == {"num_points": [8]}
    from jaxpde.io import TrajectoryWriter

    with pytest.raises(RuntimeError):
        with TrajectoryWriter(tmp_path / "u.h5", (3, 1, 4), "f8", {}) as w:
            w.write(np.zeros((1, 1, 4)))
    assert not list(tmp_path.glob("u.h5*"))
    with pytest.raises(FileNotFoundError):
        load_trajectory(tmp_path / "missing.h5")
