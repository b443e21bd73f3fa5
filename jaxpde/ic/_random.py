"""Random initial conditions. Every function takes an explicit keyword-only ``key``."""

import jax
import jax.numpy as jnp
import numpy as np

from .._checks import check_int, check_periodic_grid
from ..grids import PeriodicGrid
from ._registry import INITIAL_CONDITIONS


def _check(grid, num_channels):
    check_periodic_grid(grid, "random initial condition")
    check_int(num_channels, "num_channels")


def _normalise(u, max_one):
    if max_one:
        u = u / jnp.max(jnp.abs(u), axis=tuple(range(1, u.ndim)), keepdims=True)
    return u


@INITIAL_CONDITIONS.register("random_fourier")
def random_fourier(
    grid: PeriodicGrid,
    *,
    key,
    num_channels: int = 1,
    max_wavenumber: int = 5,
    amplitude: float = 1.0,
    zero_mean: bool = True,
    normalise: bool = True,
    dtype=None,
):
    """A random truncated Fourier series ``Σ_{0<|m|_∞<=K} a_m e^{i 2π m·x/L}``.

    Complex coefficients are i.i.d. standard normal for integer modes ``|m_i| <= K`` on
    every axis. With `normalise`, each channel is scaled to max-abs `amplitude`.

    **Arguments:** `grid`, `key` (a PRNG key), `num_channels`, `max_wavenumber` ``K``,
    `amplitude`, `zero_mean` (drop the mean mode), `normalise`, `dtype`.

    **Returns:** ``(num_channels, *grid.shape)``.
    """
    _check(grid, num_channels)
    check_int(max_wavenumber, "max_wavenumber")
    dtype = dtype or jnp.result_type(float)
    shape = (num_channels, *grid.rfft_shape)
    kr, ki = jax.random.split(key)
    coef = jax.random.normal(kr, shape) + 1j * jax.random.normal(ki, shape)
    keep = np.ones(grid.rfft_shape, bool)
    for m in grid.wavenumber_indices():
        keep &= np.abs(m) <= max_wavenumber
    if zero_mean:
        keep = keep & ~np.all([m == 0 for m in np.broadcast_arrays(*grid.wavenumber_indices())], axis=0)
    u = grid.irfft(coef * keep)
    return (amplitude * _normalise(u, normalise)).astype(dtype)


@INITIAL_CONDITIONS.register("gaussian_random_field")
def gaussian_random_field(
    grid: PeriodicGrid,
    *,
    key,
    num_channels: int = 1,
    power: float = 3.0,
    length_scale: float | None = None,
    amplitude: float = 1.0,
    zero_mean: bool = True,
    normalise: bool = True,
    dtype=None,
):
    """A Gaussian random field with power spectrum ``∝ (1 + (ℓ|k|)²)^(-power)``.

    White noise filtered in Fourier space; `length_scale` ``ℓ`` defaults to
    ``L/(2π)`` of the first axis. Larger `power` gives smoother fields.

    **Arguments:** `grid`, `key`, `num_channels`, `power`, `length_scale` ``ℓ``,
    `amplitude`, `zero_mean`, `normalise` (scale each channel to max-abs `amplitude`),
    `dtype`.

    **Returns:** ``(num_channels, *grid.shape)``.
    """
    _check(grid, num_channels)
    if power <= 0:
        raise ValueError(f"power must be positive, got {power}.")
    dtype = dtype or jnp.result_type(float)
    ell = grid.extent[0] / (2 * np.pi) if length_scale is None else float(length_scale)
    noise = jax.random.normal(key, (num_channels, *grid.shape))
    k2 = grid.wavenumber_norm_squared()
    filt = (1.0 + ell**2 * k2) ** (-power / 2)
    if zero_mean:
        filt = np.where(k2 == 0, 0.0, filt)
    u = grid.irfft(grid.rfft(noise) * filt)
    return (amplitude * _normalise(u, normalise)).astype(dtype)


@INITIAL_CONDITIONS.register("gray_scott_seeds")
def gray_scott_seeds(grid: PeriodicGrid, *, key, num_seeds: int = 5, size: float = 0.1, dtype=None):
    """Gray-Scott start: ``u = 1, v = 0`` with `num_seeds` random square patches where
    ``u = 0.5, v = 0.25`` (side `size` × extent).

    **Arguments:** `grid`, `key`, `num_seeds`, `size`, `dtype`.

    **Returns:** ``(2, *grid.shape)``."""
    dtype = dtype or jnp.result_type(float)
    x = jnp.asarray(grid.coordinates())
    ext = jnp.asarray(grid.extent).reshape((-1,) + (1,) * grid.ndim)
    centres = jax.random.uniform(key, (num_seeds, grid.ndim)) * jnp.asarray(grid.extent)
    mask = jnp.zeros(grid.shape, bool)
    for c in centres:
        d = jnp.abs((x - c.reshape((-1,) + (1,) * grid.ndim) + ext / 2) % ext - ext / 2)
        mask = mask | jnp.all(d < size * ext / 2, axis=0)
    u = jnp.where(mask, 0.5, 1.0)
    v = jnp.where(mask, 0.25, 0.0)
    return jnp.stack([u, v]).astype(dtype)
