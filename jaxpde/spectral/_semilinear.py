"""Semilinear PDEs ``u_t = L u + N(u)`` with a diagonal Fourier multiplier ``L``."""

import abc

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from .._abstract import AbstractPDE
from .._checks import as_coefficient as as_coefficient
from .._types import Args, Field, SpectralField
from ..grids import PeriodicGrid


def check_dealias(fraction) -> float:
    fraction = float(fraction)
    if not 0 < fraction <= 1:
        raise ValueError(f"dealias must be in (0, 1] (2/3 is the usual rule, 1 disables it), got {fraction}.")
    return fraction


class AbstractSemilinearPDE(AbstractPDE):
    """``u_t = L u + N(u, args)`` on a [`PeriodicGrid`][jaxpde.grids.PeriodicGrid].

    Subclasses provide `linear_symbol` (the Fourier multiplier of ``L``, real or
    complex, broadcastable to ``(C, *grid.rfft_shape)``) and `nonlinear` (the
    Fourier transform of ``N``, dealiased). `rhs` follows from both.

    A forcing or control enters through ``args``: ``None`` (no forcing) or a
    physical-space array broadcastable to ``(C, *N)`` added to the right-hand side.
    """

    grid: eqx.AbstractVar[PeriodicGrid]
    dealias: eqx.AbstractVar[float]

    @abc.abstractmethod
    def linear_symbol(self) -> Array:
        """The multiplier ``L(k)``, broadcastable to ``(C, *grid.rfft_shape)``."""

    @abc.abstractmethod
    def nonlinear(self, u_hat: SpectralField, args: Args = None) -> SpectralField:
        """``FFT[N(u, args)]`` (dealiased) given ``u_hat = FFT[u]``."""

    # --- helpers for subclasses ----------------------------------------------------
    def dealias_mask(self) -> np.ndarray:
        return self.grid.dealias_mask(self.dealias)

    def to_physical(self, u_hat: SpectralField) -> Field:
        """Dealiased inverse FFT (the input modes outside the rule are zeroed)."""
        if self.dealias < 1:
            u_hat = u_hat * self.dealias_mask()
        return self.grid.irfft(u_hat)

    def to_fourier(self, u: Field) -> SpectralField:
        """FFT of a product, truncated to the retained modes."""
        u_hat = self.grid.rfft(u)
        if self.dealias < 1:
            u_hat = u_hat * self.dealias_mask()
        return u_hat

    def forcing_hat(self, args: Args, dtype) -> SpectralField | float:
        """FFT of the forcing passed through ``args`` (``0`` when ``args is None``)."""
        if args is None:
            return 0.0
        f = jnp.asarray(args)
        f = jnp.broadcast_to(f, self.state_shape).astype(jnp.finfo(dtype).dtype)
        return self.grid.rfft(f)

    def rhs(self, t, u: Field, args: Args = None) -> Field:
        """``du/dt = IFFT[L û + N̂(û)]`` in physical space."""
        self.check_state(u)
        u_hat = self.grid.rfft(u)
        du_hat = self.linear_symbol() * u_hat + self.nonlinear(u_hat, args)
        return self.grid.irfft(du_hat).astype(u.dtype)


class AbstractLinearPDE(AbstractSemilinearPDE):
    """A linear PDE ``u_t = L u + f``: `nonlinear` is only the forcing.

    These can be advanced exactly by [`ExactLinear`][jaxpde.spectral.ExactLinear].
    """

    def nonlinear(self, u_hat: SpectralField, args: Args = None) -> SpectralField:
        return jnp.zeros_like(u_hat) + self.forcing_hat(args, u_hat.dtype)
