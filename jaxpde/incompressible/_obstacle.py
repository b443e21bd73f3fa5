"""Immersed obstacles for the staggered solver: shapes given by a level set, turned into a
smooth solid fraction on the velocity faces, which the Brinkman penalisation uses.

The level set is negative inside the body. The solid fraction of a face is a smoothed
Heaviside of the level set at the face's centre, ``χ = H_ε(-φ)``, with the compactly
supported ``H_ε(s) = ½ (1 + s/ε + sin(π s/ε)/π)`` on ``|s| < ε`` (Peskin, Acta Numerica
11, 2002), so ``χ`` is differentiable in the shape's parameters and exactly 0 or 1 more
than ``ε`` away from the boundary."""

import abc

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array

from ..grids import CellGrid


class AbstractObstacle(eqx.Module):
    """A solid body given by a level set ``φ(x, y)``: negative inside, positive outside, and
    close to the signed distance near the boundary (so the smoothing width is measured in
    length). Concrete obstacles hold their shape parameters as array leaves, so gradients
    reach them through every quantity built from the solid fraction, and a `centre`
    ``(2,)`` (the axis a rotating body turns about)."""

    centre: eqx.AbstractVar[Array]

    @abc.abstractmethod
    def level_set(self, x: Array, y: Array) -> Array:
        """``φ`` at the points ``(x, y)`` (arrays of one shape)."""

    @abc.abstractmethod
    def area(self) -> Array:
        """The body's area (differentiable in its parameters)."""


class Circle(AbstractObstacle):
    """A disc of `radius` about `centre` ``(2,)``. Differentiable: both."""

    centre: Array
    radius: Array

    def __init__(self, centre, radius):
        self.centre = jnp.asarray(centre, float)
        self.radius = jnp.asarray(radius, float)
        if self.centre.shape != (2,):
            raise ValueError(f"Circle: centre must have shape (2,), got {self.centre.shape}.")
        if self.radius.ndim != 0:
            raise ValueError(f"Circle: radius must be a scalar, got shape {self.radius.shape}.")

    def level_set(self, x, y):
        """The signed distance to the circle."""
        return jnp.hypot(x - self.centre[0], y - self.centre[1]) - self.radius

    def area(self):
        """``π r²``."""
        return jnp.pi * self.radius**2


class StarShape(AbstractObstacle):
    r"""A star-shaped body ``r(θ) = R (1 + Σ_k a_k cos kθ + b_k sin kθ)`` about `centre`.

    **Arguments:**

    - `centre`: ``(2,)``.
    - `radius`: ``R``, the mean radius.
    - `cosines`, `sines`: ``a_1..a_K`` and ``b_1..b_K`` (same length; ``K ≥ 0``). Keep
      ``Σ |a_k| + |b_k| < 1`` so the radius stays positive.

    Differentiable: every argument. The level set ``|x - c| - r(θ)`` is the signed distance
    for a circle and close to it for gentle shapes. The area is
    ``π R² (1 + ½ Σ a_k² + b_k²)`` (Parseval)."""

    centre: Array
    radius: Array
    cosines: Array
    sines: Array

    def __init__(self, centre, radius, cosines=(), sines=()):
        self.centre = jnp.asarray(centre, float)
        self.radius = jnp.asarray(radius, float)
        self.cosines = jnp.asarray(cosines, float).reshape(-1)
        self.sines = jnp.asarray(sines, float).reshape(-1)
        if self.centre.shape != (2,):
            raise ValueError(f"StarShape: centre must have shape (2,), got {self.centre.shape}.")
        if self.cosines.shape != self.sines.shape:
            raise ValueError(
                f"StarShape: cosines and sines need the same length, got {self.cosines.shape[0]} "
                f"and {self.sines.shape[0]}."
            )

    def boundary_radius(self, theta: Array) -> Array:
        """``r(θ)``.

        **Arguments:** the angles `theta`. **Returns:** the radii, same shape."""
        k = jnp.arange(1, self.cosines.shape[0] + 1)
        kt = theta[..., None] * k
        return self.radius * (1 + jnp.sum(self.cosines * jnp.cos(kt) + self.sines * jnp.sin(kt), axis=-1))

    def level_set(self, x, y):
        """``|x - c| - r(θ)``."""
        dx, dy = x - self.centre[0], y - self.centre[1]
        return jnp.hypot(dx, dy) - self.boundary_radius(jnp.arctan2(dy, dx))

    def area(self):
        """``½ ∫ r² dθ`` in closed form."""
        return jnp.pi * self.radius**2 * (1 + 0.5 * jnp.sum(self.cosines**2 + self.sines**2))


def smooth_heaviside(s: Array, width) -> Array:
    """``H_ε(s)``: 0 below ``-ε``, 1 above ``ε``, ``½ (1 + s/ε + sin(π s/ε)/π)`` between.

    **Arguments:** the values `s` and the half width `width` ``ε > 0``.

    **Returns:** an array of the shape of `s`."""
    r = jnp.clip(s / width, -1.0, 1.0)
    inside = 0.5 * (1 + r + jnp.sin(jnp.pi * r) / jnp.pi)
    return jnp.where(r <= -1, 0.0, jnp.where(r >= 1, 1.0, inside)).astype(inside.dtype)


def face_coordinates(grid: CellGrid) -> tuple[tuple[Array, Array], tuple[Array, Array]]:
    """The centres of the stored faces of the staggered state: ``((x, y) of the u-faces,
    (x, y) of the v-faces)``, each ``(Nx, Ny)`` (the upper face of every cell).

    **Arguments:** the 2D `grid`. **Returns:** the two coordinate pairs."""
    xc, yc = grid.axis_centres(0), grid.axis_centres(1)
    hx, hy = grid.spacing
    xu, yu = jnp.meshgrid(xc + 0.5 * hx, yc, indexing="ij")
    xv, yv = jnp.meshgrid(xc, yc + 0.5 * hy, indexing="ij")
    return (xu, yu), (xv, yv)


def solid_fraction(grid: CellGrid, obstacle: AbstractObstacle, width: float = 1.0) -> Array:
    """The solid fraction ``χ`` ``(2, Nx, Ny)`` of the stored faces: ``H_ε(-φ)`` at the
    u-faces (channel 0) and the v-faces (channel 1), with ``ε = width · max(Δx, Δy)``.

    **Arguments:**

    - `grid`: the 2D [`CellGrid`][jaxpde.grids.CellGrid].
    - `obstacle`: an [`AbstractObstacle`][jaxpde.incompressible.AbstractObstacle].
    - `width`: the smoothing half width in cells (default 1).

    **Returns:** ``χ`` in ``[0, 1]``, differentiable in the obstacle's parameters."""
    eps = width * max(grid.spacing)
    (xu, yu), (xv, yv) = face_coordinates(grid)
    return jnp.stack([smooth_heaviside(-obstacle.level_set(x, y), eps) for x, y in ((xu, yu), (xv, yv))])
