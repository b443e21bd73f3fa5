"""Derivatives of pointwise fields ``f: x (d,) -> (C,)`` by forward-mode autodiff, for
the local right-hand sides of [`jaxpde.AbstractPointwise`][jaxpde.AbstractPointwise] equations."""

import jax
import jax.numpy as jnp


def partial(f, axis: int = 0, order: int = 1):
    """``x -> ∂^order f / ∂x_axis^order`` of a pointwise field ``f: (d,) -> (C,)``.

    **Arguments:** the field `f`, the `axis` and the derivative's `order`.

    **Returns:** the derivative, a function of ``x`` with values ``(C,)``."""
    for _ in range(order):
        f = (lambda g: lambda x: jax.jacfwd(g)(x)[..., axis])(f)
    return f


def jacobian(f, x):
    """``J[i, j] = ∂f_i/∂x_j`` at `x`, shape ``(C, d)``.

    **Arguments:** the field `f` and the point `x` ``(d,)``. **Returns:** ``J``."""
    return jax.jacfwd(f)(x)


def laplacian(f, x):
    """``Σ_j ∂²f/∂x_j²`` at `x`, shape ``(C,)``.

    **Arguments:** the field `f` and the point `x` ``(d,)``. **Returns:** the Laplacian."""
    return jnp.trace(jax.jacfwd(jax.jacfwd(f))(x), axis1=-2, axis2=-1)
