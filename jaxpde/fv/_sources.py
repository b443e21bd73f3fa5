"""Named source profiles ``S(x)`` of finite-volume laws (the ``source`` of
[`FiniteVolume`][jaxpde.fv.FiniteVolume]), by the names configs use. Their parameters may be traced values,
so a source can depend on a parameter that is sampled, listed or differentiated."""

import jax.numpy as jnp

from ._registry import SOURCES


def _centres(grid, axis):
    if not 0 <= axis < grid.ndim:
        raise ValueError(f"axis must be in [0, {grid.ndim}), got {axis}.")
    shape = [1] * grid.ndim
    shape[axis] = grid.shape[axis]
    return grid.axis_centres(axis).reshape(shape)


def _dtype(*values):
    return jnp.result_type(float, *values)


@SOURCES.register("exponential")
def exponential_source(grid, amplitude=0.02, rate=0.02, *, axis: int = 0):
    r"""``S(x) = a · exp(μ x_axis)`` at the cell centres, shape ``(*N)``: the source of the
    parametric Burgers benchmark (Rewienski 2003; Φ-ROM, Hosseini Dashtbayaz et al.,
    NeurIPS 2025, with ``a = 0.02``).

    **Arguments:** the `grid`, the `amplitude` ``a`` and `rate` ``μ`` (differentiable),
    the `axis`. **Returns:** ``(*N)``."""
    x = jnp.asarray(_centres(grid, axis), _dtype(amplitude, rate))
    return jnp.broadcast_to(amplitude * jnp.exp(rate * x), grid.shape)


@SOURCES.register("constant")
def constant_source(grid, value=0.0):
    """A uniform source ``S = value``, shape ``(*N)``.

    **Arguments:** the `grid`, the `value` (differentiable). **Returns:** ``(*N)``."""
    return jnp.full(grid.shape, value, _dtype(value))


@SOURCES.register("gaussian")
def gaussian_source(grid, amplitude=1.0, centre=0.5, width=0.1, *, axis: int = 0):
    r"""``S(x) = a · exp(-(x_axis - c)² / (2 w²))``, shape ``(*N)``.

    **Arguments:** the `grid`, `amplitude` ``a``, `centre` ``c`` and `width` ``w``
    (differentiable), the `axis`. **Returns:** ``(*N)``."""
    x = jnp.asarray(_centres(grid, axis), _dtype(amplitude, centre, width))
    return jnp.broadcast_to(amplitude * jnp.exp(-((x - centre) ** 2) / (2 * width**2)), grid.shape)


@SOURCES.register("sine")
def sine_source(grid, amplitude=1.0, wavenumber=1.0, *, axis: int = 0):
    r"""``S(x) = a · sin(2π k (x_axis - lower) / L)``, shape ``(*N)`` (``L`` the domain's
    length along `axis`).

    **Arguments:** the `grid`, `amplitude` ``a`` and `wavenumber` ``k`` (differentiable),
    the `axis`. **Returns:** ``(*N)``."""
    x = jnp.asarray(_centres(grid, axis), _dtype(amplitude, wavenumber))
    length = grid.upper[axis] - grid.lower[axis]
    s = amplitude * jnp.sin(2 * jnp.pi * wavenumber * (x - grid.lower[axis]) / length)
    return jnp.broadcast_to(s, grid.shape)
