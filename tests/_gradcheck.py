"""A shared check of a gradient against central differences along a random direction."""

import jax
import jax.numpy as jnp
import numpy as np


def assert_directional_derivative(loss, params, *, seed: int, rtol: float, eps: float = 1e-6):
    """``<grad loss(params), d>`` equals ``(loss(p + eps d) - loss(p - eps d)) / 2 eps`` for a
    random pytree direction ``d`` (float64)."""
    grads = jax.grad(loss)(params)
    direction = jax.tree.map(lambda a: jnp.asarray(np.random.default_rng(seed).normal(size=a.shape)), params)
    shifted = lambda s: jax.tree.map(lambda a, d: a + s * eps * d, params, direction)  # noqa: E731
    fd = (loss(shifted(1)) - loss(shifted(-1))) / (2 * eps)
    dot = sum(jnp.sum(g * d) for g, d in zip(jax.tree.leaves(grads), jax.tree.leaves(direction)))
    np.testing.assert_allclose(float(dot), float(fd), rtol=rtol)
