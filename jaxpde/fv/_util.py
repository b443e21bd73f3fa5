"""Array helpers shared by the finite-volume modules."""

import jax
from jax import numpy as jnp
from jaxtyping import Array


def take(v: Array, start: int, length: int, axis: int) -> Array:
    """``length`` entries of `v` from `start` along array `axis` (a static slice)."""
    return jax.lax.slice_in_dim(v, start, start + length, axis=axis)


def safe_divide(num, den, ok) -> Array:
    """``num / den`` where `ok`, 0 elsewhere, with finite gradients on both branches."""
    return jnp.where(ok, num / jnp.where(ok, den, 1.0), 0.0)


def add_to_channel(u: Array, channel: int, value) -> Array:
    """``u`` with ``value`` added to one channel, built by stacking (a static-index
    ``.at[].add`` lowers to a scatter, whose transpose is slow on CPU)."""
    channel = channel % u.shape[0]
    return jnp.stack([u[c] + value if c == channel else u[c] for c in range(u.shape[0])])


def materialise(v: Array) -> Array:
    """`v` ``(C, ...)`` unchanged, computed once into memory instead of being fused into
    each of its consumers.

    XLA's CPU backend fuses cheap elementwise producers into every consumer and drops
    ``lax.optimization_barrier`` before fusion; the face values of a limited
    reconstruction feed ~15 consumers (the positivity test, the variable map, each term
    of the numerical flux), so the limiter was recomputed in each, up to 40× the work
    (MUSCL-MC: 235 µs per 1D Sod right-hand side, against 35 µs materialised). A product
    with the identity over the channel axis is a fusion boundary (the product is a
    library call) and costs ``C²`` multiply-adds per entry; it is exact for finite `v`.
    On other backends `v` is returned as it is."""
    if jax.default_backend() != "cpu":
        return v
    eye = jnp.eye(v.shape[0], dtype=v.dtype)
    return jnp.einsum("cd,d...->c...", eye, v)


def whole(v: Array) -> Array:
    """`v` unchanged, kept as one array through XLA's simplification (a primal-only
    ``lax.optimization_barrier``; derivatives pass through as they are).

    A padded array is a concatenation, and XLA rewrites each shifted slice of a
    concatenation into a concatenation of its own: a stencil that reads three shifts of a
    padded axis then copies the array three times (six copies per step in 2D), each a
    full pass over memory. The barrier stops that rewrite, so the padding is written
    once and the shifts are read from it inside the consumers' fusion (2D van Leer
    advection: 1.3–2.4× the steps/s of the unbarred step, measured interleaved).
    Only the primal is barred, so that reverse mode fuses as before. On other backends
    `v` is returned as it is."""
    if jax.default_backend() != "cpu":
        return v
    return _primal_barrier(v)


@jax.custom_jvp
def _primal_barrier(v):
    return jax.lax.optimization_barrier(v)


@_primal_barrier.defjvp
def _primal_barrier_jvp(primals, tangents):
    return _primal_barrier(primals[0]), tangents[0]
