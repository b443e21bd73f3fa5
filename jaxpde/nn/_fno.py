"""Fourier neural operators on periodic fields of any dimension, and learned steppers."""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from .._abstract import AbstractStepper
from .._checks import check_int


def _as_modes(modes, ndim: int) -> tuple[int, ...]:
    modes = (modes,) * ndim if isinstance(modes, (int, np.integer)) else tuple(modes)
    if len(modes) != ndim:
        raise ValueError(f"modes needs one entry per spatial axis ({ndim}), got {modes}.")
    return tuple(check_int(m, "modes") for m in modes)


def _mode_index(n: int, m: int, last: bool) -> np.ndarray:
    """Indices of the kept modes along one axis of an rfftn array of a length-`n` axis."""
    if last:
        return np.arange(min(m, n // 2 + 1))
    m = min(m, n // 2)
    return np.concatenate([np.arange(m), np.arange(n - m, n)])


class SpectralConv(eqx.Module):
    r"""Fourier layer of a neural operator on a periodic field ``(C_in, *N)`` in 1, 2 or 3
    dimensions: ``IFFT[W(k) FFT[v](k)]`` with a learned complex channel-mixing matrix on
    the lowest `modes` wavenumbers per axis (both signs on all but the last, rfft, axis)
    and zero above (Li et al., "Fourier Neural Operator for Parametric PDEs", ICLR 2021).

    The weights are stored as real pairs so optimisers see real arrays. When the grid
    has fewer modes than the weights, the lowest ones are used (resolution independence).
    """

    weights: Array  # (2, out, in, 2m_1, ..., 2m_{d-1}, m_d)
    modes: tuple[int, ...] = eqx.field(static=True)

    def __init__(self, in_channels, out_channels, modes, *, ndim=1, key):
        self.modes = _as_modes(modes, check_int(ndim, "ndim"))
        shape = (2, out_channels, in_channels, *(2 * m for m in self.modes[:-1]), self.modes[-1])
        scale = 1.0 / (in_channels * out_channels)
        self.weights = scale * jax.random.uniform(key, shape)

    def __call__(self, v: Array) -> Array:
        ndim = len(self.modes)
        spatial = v.shape[1:]
        if len(spatial) != ndim:
            raise ValueError(f"SpectralConv is {ndim}D: expected (C, *N) with {ndim} spatial axes, got {v.shape}.")
        axes = tuple(range(1, ndim + 1))
        v_hat = jnp.fft.rfftn(v, axes=axes)
        idx = [_mode_index(n, m, last=(i == ndim - 1)) for i, (n, m) in enumerate(zip(spatial, self.modes))]
        block = v_hat[(slice(None), *np.ix_(*idx))]
        w = self.weights[0] + 1j * self.weights[1]
        # keep the weights of the modes present at this resolution
        w_idx = []
        for i, (m, ix) in enumerate(zip(self.modes, idx)):
            k = len(ix)
            if i == ndim - 1:
                w_idx.append(np.arange(k))
            else:
                half = k // 2
                w_idx.append(np.concatenate([np.arange(half), np.arange(2 * m - half, 2 * m)]))
        w = w[(slice(None), slice(None), *np.ix_(*w_idx))]
        out_block = jnp.einsum("oi...,i...->o...", w, block)
        out_hat = jnp.zeros((w.shape[0], *v_hat.shape[1:]), v_hat.dtype)
        out_hat = out_hat.at[(slice(None), *np.ix_(*idx))].set(out_block)
        return jnp.fft.irfftn(out_hat, s=spatial, axes=axes).astype(v.dtype)


class _Pointwise(eqx.Module):
    """A pointwise (1×1) linear map of channels, for fields of any dimension."""

    weight: Array
    bias: Array

    def __init__(self, in_channels, out_channels, *, key):
        lim = 1.0 / np.sqrt(in_channels)
        k1, k2 = jax.random.split(key)
        self.weight = jax.random.uniform(k1, (out_channels, in_channels), minval=-lim, maxval=lim)
        self.bias = jax.random.uniform(k2, (out_channels,), minval=-lim, maxval=lim)

    def __call__(self, v):
        out = jnp.einsum("oi,i...->o...", self.weight.astype(v.dtype), v)
        return out + self.bias.astype(v.dtype).reshape((-1,) + (1,) * (v.ndim - 1))


class FNO(eqx.Module):
    r"""Fourier neural operator ``(C_in, *N) -> (C_out, *N)`` in 1D, 2D or 3D.

    Lift (pointwise) → `depth` × [``σ(SpectralConv(v) + W v)``] → pointwise projection
    through a hidden layer of `projection_width`. No batch axis: vmap over samples.

    **Arguments:**

    - `in_channels`, `out_channels`: field channels in and out.
    - `modes`: Fourier modes kept per axis (int or one per axis).
    - `width`: hidden channels; `depth`: Fourier layers; `ndim`: spatial dimensions.
    - `activation`: default GELU; `projection_width`: hidden width of the projection
      (default ``2 * width``).
    - `key`: PRNG key.

    **Reference:** Li, Kovachki, Azizzadenesheli, Liu, Bhattacharya, Stuart & Anandkumar,
    "Fourier Neural Operator for Parametric Partial Differential Equations", ICLR 2021.
    """

    lift: _Pointwise
    spectral: list
    pointwise: list
    project1: _Pointwise
    project2: _Pointwise
    activation: Callable = eqx.field(static=True)
    ndim: int = eqx.field(static=True)

    def __init__(self, in_channels, out_channels, *, modes=12, width=32, depth=4, ndim=1,
                 activation: Callable = jax.nn.gelu, projection_width=None, key):
        self.ndim = check_int(ndim, "ndim")
        if self.ndim > 3:
            raise ValueError(f"FNO supports 1 to 3 spatial dimensions, got ndim={ndim}.")
        depth = check_int(depth, "depth")
        width = check_int(width, "width")
        proj = check_int(projection_width or 2 * width, "projection_width")
        keys = jax.random.split(key, 2 * depth + 3)
        self.lift = _Pointwise(check_int(in_channels, "in_channels"), width, key=keys[0])
        self.spectral = [SpectralConv(width, width, modes, ndim=self.ndim, key=k) for k in keys[1 : depth + 1]]
        self.pointwise = [_Pointwise(width, width, key=k) for k in keys[depth + 1 : 2 * depth + 1]]
        self.project1 = _Pointwise(width, proj, key=keys[-2])
        self.project2 = _Pointwise(proj, check_int(out_channels, "out_channels"), key=keys[-1])
        self.activation = activation

    def __call__(self, u: Array) -> Array:
        if u.ndim != self.ndim + 1:
            hint = " It looks batched: vmap over samples." if u.ndim == self.ndim + 2 else ""
            raise ValueError(f"FNO ({self.ndim}D) expects (C, *N) with {self.ndim} spatial axes, got {u.shape}.{hint}")
        v = self.lift(u)
        for i, (spec, point) in enumerate(zip(self.spectral, self.pointwise)):
            v = spec(v) + point(v)
            if i < len(self.spectral) - 1:
                v = self.activation(v)
        return self.project2(self.activation(self.project1(v)))


class OperatorStepper(AbstractStepper):
    """A learned map used as a time stepper: ``u_next = u + model(u)`` (``residual=True``,
    the default) or ``model(u)``. It satisfies :class:`~jaxpde.AbstractStepper`, so a
    trained operator rolls out with :func:`jaxpde.rollout` like any solver.

    **Arguments:**

    - `model`: a module mapping ``(C, *N) -> (C, *N)`` (e.g. :class:`FNO`).
    - `dt`: the time step the model was trained for (metadata; not used in the map).
    - `residual`: predict the increment rather than the next state.
    """

    model: Callable
    dt: float = eqx.field(static=True)
    residual: bool = eqx.field(static=True)

    def __init__(self, model, dt, *, residual=True):
        self.model = model
        self.dt = float(dt)
        self.residual = bool(residual)

    def __call__(self, u, args=None):
        out = self.model(u)
        return u + out if self.residual else out
