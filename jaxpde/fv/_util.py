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
