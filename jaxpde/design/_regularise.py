"""Regularisers and box constraints for designs (any pytree of arrays)."""

import abc
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree


def _is_float(x) -> bool:
    """A floating-point array (concrete or traced) or a Python float."""
    return isinstance(x, float) or (hasattr(x, "dtype") and jnp.issubdtype(x.dtype, jnp.inexact))


def _select(design, where):
    """The arrays a regulariser acts on: ``where(design)`` or every inexact leaf."""
    part = design if where is None else where(design)
    return [x for x in jax.tree.leaves(part) if _is_float(x)]


class AbstractRegulariser(eqx.Module):
    r"""A penalty written as a sum of squares, ``R(x) = Σ_i r_i(x)²``.

    Writing every penalty through its residuals ``r`` lets one object serve both
    optimisers: [`minimise`][jaxpde.design.minimise] adds ``R(x)`` to the objective and
    [`least_squares`][jaxpde.design.least_squares] (and [`laplace`][jaxpde.design.laplace], as a
    Gaussian prior) appends ``r(x)`` to the residual vector.
    """

    @abc.abstractmethod
    def residuals(self, design) -> jax.Array:
        """The residual vector ``r(x)`` (1D)."""

    def __call__(self, design) -> jax.Array:
        """The penalty ``R(x) = Σ r_i(x)²``."""
        return jnp.sum(self.residuals(design) ** 2)


def _check_weight(weight):
    if isinstance(weight, (bool, str)) or not float(weight) >= 0:
        raise ValueError(f"a regulariser weight must be a number >= 0, got {weight!r}.")
    return float(weight)


class Tikhonov(AbstractRegulariser):
    r"""``R(x) = w · mean((x - x_ref)²)`` over the selected leaves (ridge / L2 penalty;
    with a reference, a Gaussian prior of variance ``1/(2w)`` per entry and mean ``x_ref``).

    **Arguments:**

    - `weight`: ``w >= 0``.
    - `reference`: ``x_ref``, a pytree like the selected part of the design (default 0).
    - `where`: ``design -> part`` selecting what is penalised (default: every leaf).
    """

    weight: float = eqx.field(static=True)
    reference: object = None
    where: Callable | None = eqx.field(static=True, default=None)

    def __init__(self, weight: float, *, reference=None, where: Callable | None = None):
        self.weight = _check_weight(weight)
        self.reference = reference
        self.where = where

    def residuals(self, design):
        flat, _ = ravel_pytree(_select(design, self.where))
        if self.reference is not None:
            flat = flat - ravel_pytree(_select(self.reference, None))[0]
        return jnp.sqrt(self.weight / max(flat.size, 1)) * flat


def _gradient_components(x, grid, axes, periodic: bool):
    """Forward differences ``Δu/h`` along each spatial axis of one array."""
    if grid is not None:
        axes = tuple(range(x.ndim - grid.ndim, x.ndim))
        spacings = grid.spacing
    else:
        axes = tuple(a % x.ndim for a in axes)
        spacings = (1.0,) * len(axes)
    out = []
    for ax, h in zip(axes, jnp.broadcast_to(jnp.asarray(spacings, dtype=x.dtype), (len(axes),))):
        d = (jnp.roll(x, -1, axis=ax) - x) if periodic else jnp.diff(x, axis=ax)
        out.append(d / h)
    return out


class _DifferenceRegulariser(AbstractRegulariser):
    weight: float = eqx.field(static=True)
    grid: object = eqx.field(static=True)
    axes: tuple = eqx.field(static=True)
    periodic: bool = eqx.field(static=True)
    where: Callable | None = eqx.field(static=True)

    def __init__(
        self, weight: float, *, grid=None, axes=(-1,), periodic: bool | None = None, where: Callable | None = None
    ):
        self.weight = _check_weight(weight)
        self.grid = grid
        self.axes = tuple(int(a) for a in ((axes,) if isinstance(axes, int) else axes))
        self.periodic = bool((grid is not None and grid.periodic) if periodic is None else periodic)
        self.where = where

    def _components(self, design):
        return [
            c for x in _select(design, self.where) for c in _gradient_components(x, self.grid, self.axes, self.periodic)
        ]


class Smoothness(_DifferenceRegulariser):
    r"""``R(u) = w · Σ_axes mean((∂u)²)`` with ``∂`` the forward difference divided by
    the grid spacing (an H¹ seminorm; penalises rough designs).

    **Arguments:**

    - `weight`: ``w >= 0``.
    - `grid`: a [`PeriodicGrid`][jaxpde.PeriodicGrid] or [`CellGrid`][jaxpde.CellGrid]; if given,
      differences run along the last ``grid.ndim`` axes of every selected array with
      the grid's spacing (periodic for a periodic grid); otherwise along `axes` with
      spacing 1.
    - `axes`: axes to difference without a grid (default the last one: e.g. time for a
      control of shape ``(K, ...)`` needs ``axes=0``).
    - `periodic`: wrap around (default: true for a periodic grid, else false).
    - `where`: ``design -> part`` selecting what is penalised.
    """

    def residuals(self, design):
        comps = self._components(design)
        m = sum(c.size for c in comps) / max(len(comps), 1)
        return jnp.sqrt(self.weight / max(m, 1)) * jnp.concatenate([c.ravel() for c in comps])


class TotalVariation(_DifferenceRegulariser):
    r"""Smoothed total variation ``R(u) = w · mean(√(|∇u|² + ε²) - ε)`` (favours
    piecewise-constant designs: sharp edges cost no more than smooth ramps).

    Arguments as for [`Smoothness`][jaxpde.design.Smoothness], plus `epsilon` (``ε > 0``: smooths the kink
    at ``∇u = 0`` so that gradients exist).

    **Arguments:** `weight`, `epsilon`, and the keywords of [`Smoothness`][jaxpde.design.Smoothness].
    """

    epsilon: float = eqx.field(static=True)

    def __init__(self, weight: float, *, epsilon: float = 1e-3, **kwargs):
        super().__init__(weight, **kwargs)
        if not float(epsilon) > 0:
            raise ValueError(f"epsilon must be > 0, got {epsilon!r}.")
        self.epsilon = float(epsilon)

    def residuals(self, design):
        parts = []
        for x in _select(design, self.where):
            comps = _gradient_components(x, self.grid, self.axes, self.periodic)
            shape = tuple(max(d) for d in zip(*(c.shape for c in comps)))  # non-periodic: pad the short axes
            sq = sum(jnp.pad(c, [(0, s - n) for s, n in zip(shape, c.shape)]) ** 2 for c in comps)
            density = jnp.sqrt(sq + self.epsilon**2) - self.epsilon
            parts.append(density.ravel())
        dens = jnp.concatenate(parts)
        return jnp.sqrt(self.weight / max(dens.size, 1) * dens)


def _bound_tree(bound, design, name):
    if bound is None:
        return jax.tree.map(lambda x: None, design)
    if not isinstance(bound, (dict, list, tuple, eqx.Module)) and jnp.ndim(bound) == 0:
        return jax.tree.map(lambda x: jnp.asarray(bound, dtype=jnp.result_type(x)), design)
    try:
        return jax.tree.map(
            lambda x, b: None if b is None else jnp.broadcast_to(jnp.asarray(b, jnp.result_type(x)), jnp.shape(x)),
            design,
            bound,
            is_leaf=lambda b: b is None,
        )
    except (ValueError, TypeError) as e:
        raise ValueError(
            f"Box {name} must be a number or a pytree like the design (None for unbounded entries): {e}"
        ) from None


class Box(eqx.Module):
    r"""Box constraints ``lower ≤ x ≤ upper`` on a design.

    `lower` and `upper` are numbers (the same bound for every entry) or pytrees shaped
    like the design, with ``None`` for an unbounded leaf. [`minimise`][jaxpde.design.minimise] projects
    onto the box after each optimiser update (projected gradient); the Gauss–Newton
    and quasi-Newton solvers of [`least_squares`][jaxpde.design.least_squares] instead optimise an unconstrained
    ``z`` with ``x = l + (u - l)·sigmoid(z)`` (both bounds) or ``x = l + softplus(z)``
    (one bound), which keeps their quadratic models smooth.
    """

    lower: object = None
    upper: object = None

    def __check_init__(self):
        if self.lower is None and self.upper is None:
            raise ValueError("Box needs a lower or an upper bound.")

    def _bounds(self, design):
        return _bound_tree(self.lower, design, "lower"), _bound_tree(self.upper, design, "upper")

    def project(self, design):
        """Clip every leaf into the box."""
        lo, hi = self._bounds(design)
        return jax.tree.map(lambda x, l, u: jnp.clip(x, l, u), design, lo, hi, is_leaf=lambda b: b is None)

    def contains(self, design) -> bool:
        """Whether every entry lies in the box."""
        return bool(jax.tree.all(jax.tree.map(lambda x, p: jnp.all(x == p), design, self.project(design))))

    def to_unconstrained(self, design):
        """The ``z`` with ``from_unconstrained(z) == design`` (entries must lie strictly inside)."""
        lo, hi = self._bounds(design)

        def f(x, l, u):
            if l is not None and u is not None:
                s = jnp.clip((x - l) / (u - l), 1e-6, 1 - 1e-6)
                return jnp.log(s) - jnp.log1p(-s)
            if l is not None:
                d = jnp.maximum(x - l, 1e-12)
                return d + jnp.log(-jnp.expm1(-d))  # inverse softplus
            if u is not None:
                d = jnp.maximum(u - x, 1e-12)
                return -(d + jnp.log(-jnp.expm1(-d)))
            return x

        return jax.tree.map(f, design, lo, hi, is_leaf=lambda b: b is None)

    def from_unconstrained(self, z, like=None):
        """Map an unconstrained ``z`` into the box (smooth, differentiable)."""
        lo, hi = self._bounds(z if like is None else like)

        def f(x, l, u):
            if l is not None and u is not None:
                return l + (u - l) * jax.nn.sigmoid(x)
            if l is not None:
                return l + jax.nn.softplus(x)
            if u is not None:
                return u - jax.nn.softplus(-x)
            return x

        return jax.tree.map(f, z, lo, hi, is_leaf=lambda b: b is None)
