"""Learnable vector fields ``(t, u, args) -> du/dt``."""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array

from .._checks import check_int


class MLPField(eqx.Module):
    """An MLP vector field on vectors ``u`` of shape ``(size,)``: ``f(u)`` or, with
    ``time_dependent=True``, ``f(t, u)`` (time is appended to the input).

    **Arguments:**

    - `size`: state dimension.
    - `width`, `depth`: hidden width and number of hidden layers.
    - `activation`: hidden activation (default ``tanh``, smooth for ODE solvers).
    - `final_activation`: applied to the output (default identity).
    - `time_dependent`: feed ``t`` as an extra input.
    - `key`: PRNG key for the initialisation.
    """

    mlp: eqx.nn.MLP
    time_dependent: bool = eqx.field(static=True)

    def __init__(
        self,
        size,
        *,
        width=64,
        depth=2,
        activation: Callable = jnp.tanh,
        final_activation: Callable = lambda x: x,
        time_dependent=False,
        key,
    ):
        size = check_int(size, "size")
        self.time_dependent = bool(time_dependent)
        self.mlp = eqx.nn.MLP(
            size + int(self.time_dependent),
            size,
            check_int(width, "width"),
            check_int(depth, "depth", minimum=0),
            activation=activation,
            final_activation=final_activation,
            key=key,
        )

    def __call__(self, t, u, args=None) -> Array:
        if u.ndim != 1:
            raise ValueError(f"MLPField acts on vectors (size,), got shape {u.shape}; vmap for batches.")
        x = jnp.concatenate([u, jnp.reshape(jnp.asarray(t, u.dtype), (1,))]) if self.time_dependent else u
        return self.mlp(x)


class SpectralConv1d(eqx.Module):
    r"""Fourier layer of a neural operator (Li et al., "Fourier Neural Operator for
    Parametric PDEs", ICLR 2021) on a 1D periodic field ``(C_in, N)``:
    ``IFFT[W(k) FFT[v](k)]`` with a learned complex channel-mixing matrix ``W(k)`` on
    the lowest `modes` wavenumbers (higher ones are dropped).

    **Arguments:** `in_channels`, `out_channels`, `modes`, and a PRNG `key`.
    """

    weights: Array  # (modes, out, in) complex as real pairs: (2, modes, out, in)
    modes: int = eqx.field(static=True)

    def __init__(self, in_channels, out_channels, modes, *, key):
        self.modes = check_int(modes, "modes")
        scale = 1.0 / (in_channels * out_channels)
        self.weights = scale * jax.random.uniform(key, (2, self.modes, out_channels, in_channels))

    def __call__(self, v: Array) -> Array:
        n = v.shape[-1]
        m = min(self.modes, n // 2 + 1)
        v_hat = jnp.fft.rfft(v, axis=-1)[:, :m]  # (in, m)
        w = (self.weights[0] + 1j * self.weights[1])[:m]  # (m, out, in)
        out_hat = jnp.einsum("koi,ik->ok", w, v_hat)
        out_hat = jnp.pad(out_hat, ((0, 0), (0, n // 2 + 1 - m)))
        return jnp.fft.irfft(out_hat, n=n, axis=-1).astype(v.dtype)


class FourierField(eqx.Module):
    """A Fourier-neural-operator vector field on 1D periodic fields ``(C, N)``:
    lift (pointwise linear) → `depth` × [spectral conv + pointwise linear, GELU] →
    project. Resolution-independent: the same weights act on any ``N``.

    **Arguments:**

    - `channels`: channels ``C`` of the field.
    - `width`: hidden channels; `modes`: Fourier modes kept; `depth`: Fourier layers.
    - `key`: PRNG key.
    """

    lift: eqx.nn.Conv1d
    spectral: list
    pointwise: list
    project: eqx.nn.Conv1d

    def __init__(self, channels, *, width=16, modes=8, depth=2, key):
        keys = jax.random.split(key, 2 * depth + 2)
        self.lift = eqx.nn.Conv1d(channels, width, 1, key=keys[0])
        self.spectral = [SpectralConv1d(width, width, modes, key=k) for k in keys[1 : depth + 1]]
        self.pointwise = [eqx.nn.Conv1d(width, width, 1, key=k) for k in keys[depth + 1 : 2 * depth + 1]]
        self.project = eqx.nn.Conv1d(width, channels, 1, key=keys[-1])

    def __call__(self, t, u, args=None) -> Array:
        if u.ndim != 2:
            raise ValueError(f"FourierField acts on 1D fields (C, N), got shape {u.shape}; vmap for batches.")
        v = self.lift(u)
        for spec, point in zip(self.spectral, self.pointwise):
            v = jax.nn.gelu(spec(v) + point(v))
        return self.project(v)
