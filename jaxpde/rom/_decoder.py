"""Conditional neural fields ``D_θ(x, α) ∈ R^C`` used as auto-decoders by the reduced-order
models: the field at any point ``x`` given a latent code ``α ∈ R^k``."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from .._checks import check_int
from ..nn import SIREN


def domain_bounds(grid) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """``(lower, upper)`` corners of a grid's domain (any [`AbstractGrid`][jaxpde.grids.AbstractGrid]).

    **Arguments:** `grid`.

    **Returns:** ``(lower, upper)``, tuples of floats.
    """
    return tuple(float(v) for v in grid.lower), tuple(float(v) for v in grid.upper)


def grid_points(grid) -> np.ndarray:
    """The grid's points as ``(prod(N), d)`` (the order of a C-ordered reshape of
    ``(C, *N)``).

    **Arguments:** `grid`. **Returns:** a numpy array ``(prod(N), d)``.
    """
    c = grid.coordinates()
    return c.reshape(c.shape[0], -1).T


class _Embedded(eqx.Module):
    """A field on a box domain that sees an embedding of its coordinate: a bounded axis
    scaled to ``[-1, 1]``; a periodic axis as ``(cos θ, sin θ)``, ``θ = 2π (x - lower) /
    (upper - lower)``, so that anything computed from it is exactly periodic."""

    lower: tuple = eqx.field(static=True)
    upper: tuple = eqx.field(static=True)
    periodic: tuple = eqx.field(static=True)

    def _set_domain(self, bounds, periodic):
        self.lower, self.upper = _as_bounds(bounds)
        d = len(self.lower)
        periodic = (False,) * d if periodic is None else tuple(bool(p) for p in np.broadcast_to(periodic, (d,)))
        self.periodic = periodic

    @property
    def embedding_size(self) -> int:
        """Length of the embedded coordinate: ``d`` plus one per periodic axis."""
        return len(self.lower) + sum(self.periodic)

    def _embed(self, x):
        lo = jnp.asarray(self.lower, x.dtype)
        hi = jnp.asarray(self.upper, x.dtype)
        s = (x - lo) / (hi - lo)
        parts = []
        for i, p in enumerate(self.periodic):
            if p:
                theta = 2 * jnp.pi * s[i]
                parts += [jnp.cos(theta), jnp.sin(theta)]
            else:
                parts.append(2.0 * s[i] - 1.0)
        return jnp.stack(parts)


def _as_bounds(bounds) -> tuple[tuple[float, ...], tuple[float, ...]]:
    lower, upper = (tuple(float(v) for v in b) for b in bounds)
    if len(lower) != len(upper) or not all(h > lo for lo, h in zip(lower, upper)):
        raise ValueError(f"bounds must be (lower, upper) with upper > lower per axis, got {bounds}.")
    return lower, upper


class SineDecoder(_Embedded):
    r"""Coordinate MLP on ``[x̃, α]`` with sine activations (a [`SIREN`][jaxpde.nn.SIREN]
    on the concatenation). ``x̃`` embeds the coordinate: bounded axes scaled to
    ``[-1, 1]``, periodic axes as ``(cos θ, sin θ)`` with ``θ = 2π (x - lower) / L``, so
    the decoded field is exactly periodic on a periodic domain (its values and every
    derivative match at ``x = lower`` and ``x = upper``). A decoder of the Φ-ROM paper
    (Hosseini Dashtbayaz et al., NeurIPS 2025).

    **Arguments:** `num_channels` C, `latent_size` k, `bounds` ``(lower, upper)`` of the
    domain ([`domain_bounds`][jaxpde.rom.domain_bounds]), `periodic` (one flag per axis, or one for all; default
    none: e.g. ``pde.periodic_axes``), `width`, `depth`, `omega0`, `key`.
    """

    siren: SIREN
    num_channels: int = eqx.field(static=True)
    latent_size: int = eqx.field(static=True)

    def __init__(self, num_channels, latent_size, bounds, *, periodic=None, width=64, depth=3, omega0=10.0, key):
        self._set_domain(bounds, periodic)
        self.latent_size = check_int(latent_size, "latent_size")
        self.num_channels = check_int(num_channels, "num_channels")
        self.siren = SIREN(
            self.embedding_size + self.latent_size, num_channels, width=width, depth=depth, omega0=omega0, key=key
        )

    def __call__(self, x: Array, alpha: Array) -> Array:
        return self.siren(jnp.concatenate([self._embed(jnp.atleast_1d(x)), alpha.astype(x.dtype)]))


class ModulatedDecoder(_Embedded):
    r"""Multiplicative filter network modulated by the latent (DINo-style):
    ``h₀ = [sin ω₀x̃, cos ω₀x̃]``, ``h_{i+1} = (W_i h_i + b_i + V_i α) ⊙ [sin ω_{i+1}x̃,
    cos ω_{i+1}x̃]`` with trainable frequencies ``ω_i``, linear output. The latent shifts
    every layer. ``x̃`` is the coordinate embedding of [`SineDecoder`][jaxpde.rom.SineDecoder] (periodic axes as
    ``(cos θ, sin θ)``).

    **References:** Fathony, Sahu, Willmott & Kolter, "Multiplicative Filter Networks",
    ICLR 2021; Yin, Kirchmeyer, Franceschi, Rakotomamonjy & Gallinari, "Continuous PDE
    Dynamics Forecasting with Implicit Neural Representations" (DINo), ICLR 2023.

    **Arguments:** `num_channels` ``C``, `latent_size` ``k``, the domain `bounds` ``(lower, upper)``, the
    `periodic` axes, the hidden `width` and `depth`, `frequency_scale` (of the initial ``ω_i``), and a PRNG `key`.
    """

    filters: list  # (width // 2, d) frequency matrices
    linears: list
    modulations: list
    output: eqx.nn.Linear
    num_channels: int = eqx.field(static=True)
    latent_size: int = eqx.field(static=True)

    def __init__(
        self, num_channels, latent_size, bounds, *, periodic=None, width=64, depth=3, frequency_scale=8.0, key
    ):
        self._set_domain(bounds, periodic)
        d = self.embedding_size
        self.latent_size = check_int(latent_size, "latent_size")
        width, depth = check_int(width, "width"), check_int(depth, "depth")
        if width % 2:
            raise ValueError(f"width must be even (sine and cosine halves), got {width}.")
        keys = jax.random.split(key, 3 * depth + 2)
        scale = float(frequency_scale) / np.sqrt(depth + 1)
        self.filters = [scale * jax.random.normal(k, (width // 2, d)) for k in keys[: depth + 1]]
        self.linears = [eqx.nn.Linear(width, width, key=k) for k in keys[depth + 1 : 2 * depth + 1]]
        self.modulations = [
            eqx.nn.Linear(self.latent_size, width, use_bias=False, key=k) for k in keys[2 * depth + 1 : 3 * depth + 1]
        ]
        self.num_channels = check_int(num_channels, "num_channels")
        self.output = eqx.nn.Linear(width, self.num_channels, key=keys[-1])

    def _filter(self, i, x):
        z = self.filters[i].astype(x.dtype) @ x
        return jnp.concatenate([jnp.sin(z), jnp.cos(z)])

    def __call__(self, x: Array, alpha: Array) -> Array:
        xs = self._embed(jnp.atleast_1d(x))
        alpha = alpha.astype(xs.dtype)
        h = self._filter(0, xs)
        for i, (lin, mod) in enumerate(zip(self.linears, self.modulations)):
            h = (lin(h) + mod(alpha)) * self._filter(i + 1, xs)
        return self.output(h)


def decode(decoder, points: Array, alpha: Array) -> Array:
    """The decoded field at `points` ``(P, d)``: ``(C, P)``.

    **Arguments:** the `decoder`, the `points`, the latent `alpha` ``(k,)``.

    **Returns:** ``(C, P)``.
    """
    return jax.vmap(lambda x: decoder(x, alpha), out_axes=1)(jnp.asarray(points))


def decode_grid(decoder, grid, alpha: Array, dtype=None) -> Array:
    """The decoded field on a jaxpde grid as a state ``(C, *N)``.

    **Arguments:** the `decoder`, the `grid`, the latent `alpha`, and the `dtype` of the points.

    **Returns:** ``(C, *N)``.
    """
    pts = jnp.asarray(grid_points(grid), dtype or jnp.result_type(float))
    return decode(decoder, pts, alpha).reshape((-1, *grid.shape))
