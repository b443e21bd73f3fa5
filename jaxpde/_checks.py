"""Argument checks shared by every layer (static values only; nothing traced)."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from .grids import PeriodicGrid


def check_int(value, name: str, *, minimum: int = 1) -> int:
    """Return `value` as an ``int`` if it is an integer ``>= minimum``, else raise ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}.")
    return int(value)


def check_periodic_grid(grid, name: str, ndims: tuple[int, ...] = (1, 2, 3)) -> PeriodicGrid:
    """Return `grid` if it is a [`PeriodicGrid`][jaxpde.PeriodicGrid] with ``grid.ndim in ndims``."""
    if not isinstance(grid, PeriodicGrid):
        raise TypeError(f"{name} needs a PeriodicGrid, got {type(grid).__name__}.")
    if grid.ndim not in ndims:
        dims = " or ".join(f"{d}D" for d in ndims)
        raise ValueError(f"{name} is defined on {dims} grids, got a {grid.ndim}D grid.")
    return grid


def as_coefficient(
    value, name: str, *, scalar: bool = True, minimum: float | None = None, strict: bool = False
) -> Array:
    """Turn a physical coefficient into a differentiable array leaf (a scalar unless
    ``scalar=False``).

    A concrete value must be finite and, with `minimum`, ``>= minimum`` (``> minimum``
    when `strict`); a traced value (inside ``jit``/``grad``/``vmap``) passes unchecked.
    """
    if isinstance(value, (bool, str)) or value is None:
        raise TypeError(f"{name} must be a real number or array, got {value!r}.")
    arr = jnp.asarray(value)
    if jnp.iscomplexobj(arr):
        raise TypeError(f"{name} must be real, got a complex value.")
    if not jnp.issubdtype(arr.dtype, jnp.floating):
        arr = arr.astype(jnp.result_type(float))
    if scalar and arr.ndim != 0:
        raise ValueError(f"{name} must be a scalar, got an array of shape {arr.shape}; use jax.vmap for many values.")
    if not isinstance(arr, jax.core.Tracer):
        values = np.asarray(arr)
        if not np.all(np.isfinite(values)):
            raise ValueError(f"{name} must be finite, got {value!r}.")
        if minimum is not None:
            bad = values <= minimum if strict else values < minimum
            if np.any(bad):
                rel = ">" if strict else ">="
                raise ValueError(f"{name} must be {rel} {minimum:g}, got {value!r}.")
    return arr


def check_dt(dt) -> float | Array:
    """A positive finite time step as a ``float``; a traced ``dt`` passes through unchecked."""
    if isinstance(dt, jax.core.Tracer):
        return dt
    try:
        val = float(dt)
    except TypeError as e:
        raise TypeError(f"dt must be a positive number, got {dt!r}.") from e
    if not (val > 0 and math.isfinite(val)):
        raise ValueError(f"dt must be positive and finite, got {dt!r}.")
    return val


def raise_if(u, pred, message: str):
    """`u`, with a runtime error (``eqx.error_if``) when the scalar `pred` holds. The check
    rides on a scalar rather than on `u`, so a state split over devices is never gathered
    onto one device to be checked."""
    token = eqx.error_if(jnp.zeros((), jnp.result_type(u)), pred, message)
    return u + token


def branched_raise_if(u, pred, index, messages):
    """`raise_if` with one of several `messages`, chosen by the traced `index`."""
    token = eqx.branched_error_if(jnp.zeros((), jnp.result_type(u)), pred, index, messages)
    return u + token


def side_pairs(bc, ndim: int, single, what: str = "boundary condition") -> list[tuple]:
    """Per-axis ``(lower, upper)`` pairs from one entry for every side, or one entry (or a
    pair) per axis; `single(x)` says whether `x` is one side's entry rather than a pair.
    Raises ``ValueError`` naming the axis for a wrong count."""
    if single(bc):
        bc = [bc] * ndim
    bc = list(bc)
    if len(bc) != ndim:
        raise ValueError(f"need one {what} (or pair) per axis: {ndim} axes, got {len(bc)}.")
    pairs = []
    for axis, side in enumerate(bc):
        pair = (side, side) if single(side) else tuple(side)
        if len(pair) != 2:
            raise ValueError(f"axis {axis}: need a (lower, upper) pair of {what}s, got {side!r}.")
        pairs.append(pair)
    return pairs
