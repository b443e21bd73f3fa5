r"""Noise models for stochastic PDEs ``du = rhs(t, u) dt + G(t, u) dW``.

A noise model says what the Brownian motion ``W`` is (its shape) and how the diffusion
acts on an increment: ``G(t, u) ΔW = apply(coefficient(t, u), ΔW)``. The Brownian
motion itself is a `diffrax.VirtualBrownianTree` built by [`jaxpde.solve`][jaxpde.solve]
from one PRNG key, so one key fixes the whole noise path however finely or in whatever
order it is queried.

Space-time white noise on a grid with cell volume ``ΔV`` is approximated by one
independent Brownian motion per grid point scaled by ``1/sqrt(ΔV)``: the
``Q``-Wiener process whose covariance is the identity on the resolved modes
(Lord, Powell & Shardlow, *An Introduction to Computational Stochastic PDEs*, 2014,
§10.5). Coloured noise filters that process with a spectral multiplier ``q(k)``.
"""

import abc
from collections.abc import Callable

import diffrax
import equinox as eqx
import numpy as np
from jaxtyping import Array

from .._checks import as_coefficient, check_periodic_grid
from ..grids import PeriodicGrid


class AbstractNoise(eqx.Module):
    """The diffusion ``G(t, u) dW`` of an SDE, for [`jaxpde.solve`][jaxpde.solve].

    Subclasses define `brownian_shape`, `coefficient` (evaluated at the
    state) and `apply` (bilinear in the coefficient and the increment), and say
    whether the noise is `additive` (``G`` independent of ``u``), which solvers
    such as ShARK, SRA1 and SEA require.
    """

    @property
    @abc.abstractmethod
    def additive(self) -> bool:
        """``True`` when ``G`` does not depend on the state."""

    @abc.abstractmethod
    def brownian_shape(self, state_shape: tuple[int, ...]) -> tuple[int, ...]:
        """Shape of the Brownian motion ``W`` for states of shape `state_shape`."""

    @abc.abstractmethod
    def coefficient(self, t, u: Array, args=None) -> Array:
        """The state-dependent part of ``G`` at ``(t, u)``."""

    @abc.abstractmethod
    def apply(self, coefficient: Array, dw: Array) -> Array:
        """``G ΔW`` given `coefficient` and an increment (or Lévy area) ``ΔW``."""


def _spectral_filter(grid: PeriodicGrid, spectrum, correlation_length, dealias) -> np.ndarray | None:
    """The real multiplier ``q(k)`` on rfft modes (``None`` for unfiltered white noise)."""
    q = None
    if correlation_length is not None and spectrum is not None:
        raise ValueError("give either correlation_length (Gaussian spectrum) or spectrum, not both.")
    k2 = grid.wavenumber_norm_squared()
    if correlation_length is not None:
        ell = float(correlation_length)
        if not ell > 0:
            raise ValueError(f"correlation_length must be positive, got {correlation_length}.")
        # Gaussian covariance exp(-|x|²/(2ℓ²)) up to normalisation: q(k)² ∝ exp(-ℓ²|k|²/2)
        q = np.exp(-(ell**2) * k2 / 4)
    elif spectrum is not None:
        q = np.asarray(spectrum(np.sqrt(k2)), dtype=float)
        if q.shape != k2.shape or not np.all(np.isfinite(q)) or np.any(q < 0):
            raise ValueError("spectrum(|k|) must return finite, non-negative values on the rfft grid.")
    if dealias is not None:
        mask = grid.dealias_mask(dealias).astype(float)
        q = mask if q is None else q * mask
    return q


class SpectralNoise(AbstractNoise):
    r"""Additive noise ``σ Q^{1/2} dW`` on a periodic grid: space-time white noise, or
    spatially coloured noise through a spectral filter.

    ``Q^{1/2} ΔW = IFFT[q(k) FFT[ΔW]] / sqrt(ΔV)`` with one independent Brownian motion
    per grid point and channel. ``q ≡ 1`` is space-time white noise; otherwise the noise
    is coloured with spectral density ``q(|k|)²``.

    **Arguments:**

    - `grid`: the [`PeriodicGrid`][jaxpde.grids.PeriodicGrid].
    - `amplitude`: ``σ`` (differentiable; a scalar or one value per channel).
    - `correlation_length`: if given, a Gaussian filter ``q = exp(-ℓ²|k|²/4)``
      (covariance ``∝ exp(-|x - y|²/(2ℓ²))``).
    - `spectrum`: alternatively a function ``|k| ↦ q`` evaluated on the rfft grid.
    - `dealias`: if given (e.g. ``2/3``), project the noise onto the modes the
      dealiasing rule keeps, so it only forces resolved modes.
    - `num_channels`: channels of the state (default 1).
    """

    grid: PeriodicGrid
    amplitude: Array
    filter: np.ndarray | None = eqx.field(static=True)
    num_channels: int = eqx.field(static=True)

    def __init__(self, grid, amplitude=1.0, *, correlation_length=None, spectrum=None, dealias=None, num_channels=1):
        self.grid = check_periodic_grid(grid, "SpectralNoise")
        self.amplitude = as_coefficient(amplitude, "amplitude", scalar=False)
        if self.amplitude.ndim > 1 or (self.amplitude.ndim == 1 and self.amplitude.shape[0] != num_channels):
            raise ValueError(f"amplitude must be a scalar or have one value per channel ({num_channels}).")
        q = _spectral_filter(self.grid, spectrum, correlation_length, dealias)
        self.filter = None if q is None else _HashableArray(q)
        self.num_channels = int(num_channels)

    @property
    def additive(self) -> bool:
        return True

    def brownian_shape(self, state_shape):
        return tuple(state_shape)

    def coefficient(self, t, u, args=None):
        amp = self.amplitude
        return amp if amp.ndim == 0 else amp.reshape((-1,) + (1,) * self.grid.ndim)

    def _q(self, dw):
        if self.filter is not None:
            dw = self.grid.irfft(self.filter.array * self.grid.rfft(dw)).astype(dw.dtype)
        return dw / np.sqrt(self.grid.cell_volume)

    def apply(self, coefficient, dw):
        return coefficient * self._q(dw)

    def mode_variance(self) -> np.ndarray:
        """``E|FFT[Q^{1/2} W(1)]_k|²`` per rfft mode (unnormalised FFT), per unit amplitude:
        the forcing variance rate that sets each mode's stationary variance."""
        n = int(np.prod(self.grid.shape))
        q2 = np.ones(self.grid.rfft_shape) if self.filter is None else self.filter.array**2
        return n * q2 / self.grid.cell_volume


class MultiplicativeNoise(AbstractNoise):
    r"""Multiplicative noise ``g(u) ⊙ σ Q^{1/2} dW``: a pointwise function of the state
    times a [`SpectralNoise`][jaxpde.integrate.SpectralNoise] (white or coloured).

    With ``g(u) = u`` this is the stochastic Allen-Cahn / geometric noise of
    Lord, Powell & Shardlow (2014, §10.8). Interpreted in the Itô sense with
    ``solver="euler"`` (Euler-Maruyama) and in the Stratonovich sense with ``"heun"``,
    ``"euler_heun"`` or ``"spark"``.

    **Arguments:**

    - `noise`: the [`SpectralNoise`][jaxpde.integrate.SpectralNoise] (amplitude, colour).
    - `g`: a function ``u ↦ g(u)`` applied pointwise (default: the identity).
    """

    noise: SpectralNoise
    g: Callable | None = eqx.field(static=True)

    def __init__(self, noise: SpectralNoise, g: Callable | None = None):
        if not isinstance(noise, SpectralNoise):
            raise TypeError(f"MultiplicativeNoise wraps a SpectralNoise, got {type(noise).__name__}.")
        self.noise = noise
        self.g = g

    @property
    def additive(self) -> bool:
        return False

    def brownian_shape(self, state_shape):
        return tuple(state_shape)

    def coefficient(self, t, u, args=None):
        gu = u if self.g is None else self.g(u)
        return self.noise.coefficient(t, u, args) * gu

    def apply(self, coefficient, dw):
        return coefficient * self.noise._q(dw)


class DiagonalNoise(AbstractNoise):
    r"""Diagonal noise ``σ(t, u) ⊙ dW`` with one Brownian motion per state entry, for
    states without a grid (neural SDEs) or pointwise noise on a grid.

    **Arguments:**

    - `diffusion`: a callable (an equinox module for learned noise) ``(t, u, args) ↦
      σ``, broadcastable to the state.
    - `additive`: ``True`` if ``σ`` does not depend on ``u`` (enables ShARK, SRA1, SEA).
    """

    diffusion: Callable
    is_additive: bool = eqx.field(static=True)

    def __init__(self, diffusion: Callable, *, additive: bool = False):
        if not callable(diffusion):
            raise TypeError("DiagonalNoise needs a callable diffusion(t, u, args).")
        self.diffusion = diffusion
        self.is_additive = bool(additive)

    @property
    def additive(self) -> bool:
        return self.is_additive

    def brownian_shape(self, state_shape):
        return tuple(state_shape)

    def coefficient(self, t, u, args=None):
        return self.diffusion(t, u, args)

    def apply(self, coefficient, dw):
        return coefficient * dw


class _HashableArray:
    """A numpy array held as static module data (hashable by identity of its bytes)."""

    def __init__(self, array):
        self.array = np.asarray(array)
        self._hash = hash((self.array.shape, self.array.tobytes()))

    def __hash__(self):
        return self._hash

    def __eq__(self, other):
        return (
            isinstance(other, _HashableArray) and self._hash == other._hash and np.array_equal(self.array, other.array)
        )


class NoiseTerm(diffrax.AbstractTerm):
    """The diffrax term ``G(t, u) dW`` of a noise model driven by a Brownian path.

    **Arguments:** `noise` (an [`AbstractNoise`][jaxpde.integrate.AbstractNoise]) and the Brownian
    `path` (e.g. [`brownian_tree`][jaxpde.integrate.brownian_tree])."""

    noise: AbstractNoise
    path: diffrax.AbstractBrownianPath

    def vf(self, t, y, args):
        return self.noise.coefficient(t, y, args)

    def contr(self, t0, t1, **kwargs):
        return self.path.evaluate(t0, t1, **kwargs)

    def prod(self, vf, control):
        return self.noise.apply(vf, control)
