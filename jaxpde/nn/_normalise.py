"""Per-channel normalisation of a network's inputs and outputs, stored with the model as
fixed statistics of the training data."""

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from .._abstract import AbstractFrozen
from .._checks import check_int


class Normalisation(AbstractFrozen):
    r"""Per-channel affine map ``z_c = (u_c - shift_c) / scale_c`` of a channel-first
    field ``(C, *N)``, and its inverse.

    An [`AbstractFrozen`][jaxpde.AbstractFrozen] part: training
    ([`train.make_step`][jaxpde.train.make_step], [`train.fit`][jaxpde.train.fit]) holds
    `shift` and `scale` fixed, and they are saved and restored with the model like any
    other array leaf.

    **Arguments:**

    - `shift`: ``(C,)`` per-channel shift (usually the mean).
    - `scale`: ``(C,)`` per-channel scale (usually the standard deviation), positive.
    """

    shift: Float[Array, " c"]
    scale: Float[Array, " c"]

    def __init__(self, shift, scale):
        shift, scale = jnp.asarray(shift), jnp.asarray(scale)
        if shift.ndim != 1 or shift.shape != scale.shape:
            raise ValueError(
                f"Normalisation needs a shift and a scale of shape (C,), got {shift.shape} and {scale.shape}."
            )
        if not isinstance(scale, jax.core.Tracer) and not bool(np.all(np.asarray(scale) > 0)):
            raise ValueError(f"Normalisation scales must be positive, got {np.asarray(scale)}.")
        self.shift, self.scale = shift, scale

    @classmethod
    def from_samples(cls, samples, *, num_spatial_dims: int, eps: float = 1e-8) -> "Normalisation":
        """The mean and standard deviation of each channel over every other axis of
        `samples` ``(..., C, *N)``.

        **Arguments:** `samples`; `num_spatial_dims` (the length of ``N``); `eps`, a floor
        for the scale relative to the largest channel's (a constant channel gets scale
        ``eps * max_scale``, or 1 when every channel is constant).

        **Returns:** the `Normalisation`."""
        d = check_int(num_spatial_dims, "num_spatial_dims", minimum=1)
        x = jnp.asarray(samples)
        if x.ndim < d + 1:
            raise ValueError(f"samples of shape {x.shape} have no channel axis before {d} spatial axes.")
        x = jnp.moveaxis(x, -(d + 1), 0).reshape(x.shape[-(d + 1)], -1)
        shift, scale = jnp.mean(x, axis=1), jnp.std(x, axis=1)
        top = jnp.max(scale)
        floor = jnp.where(top > 0, eps * top, 1.0)
        return cls(shift, jnp.maximum(scale, floor))

    def _per_channel(self, a, u):
        if u.ndim < 1 or u.shape[0] != a.shape[0]:
            raise ValueError(f"Normalisation of {a.shape[0]} channels got a field of shape {u.shape} (C, *N).")
        return a.reshape((-1,) + (1,) * (u.ndim - 1)).astype(u.dtype)

    def normalise(self, u: Array) -> Array:
        """``(u - shift) / scale`` per channel of `u` ``(C, *N)``. **Returns:** ``(C, *N)``."""
        return (u - self._per_channel(self.shift, u)) / self._per_channel(self.scale, u)

    def denormalise(self, z: Array) -> Array:
        """``z * scale + shift`` per channel of `z` ``(C, *N)``. **Returns:** ``(C, *N)``."""
        return z * self._per_channel(self.scale, z) + self._per_channel(self.shift, z)


def stepper_statistics(trajectories, *, residual: bool, num_spatial_dims: int):
    """Input and output normalisations for a stepper trained on `trajectories`
    ``(..., T, C, *N)``: inputs from every frame but the last, outputs from the targets
    (increments ``u_{t+1} - u_t`` with `residual`, else the next frames)."""
    t = jnp.asarray(trajectories)
    axis = t.ndim - num_spatial_dims - 2
    if axis < 0 or t.shape[axis] < 2:
        raise ValueError(f"trajectories of shape {t.shape} need a time axis of at least 2 frames before (C, *N).")
    n = t.shape[axis]
    first = jnp.take(t, jnp.arange(n - 1), axis=axis)
    nxt = jnp.take(t, jnp.arange(1, n), axis=axis)
    targets = nxt - first if residual else nxt
    return (
        Normalisation.from_samples(first, num_spatial_dims=num_spatial_dims),
        Normalisation.from_samples(targets, num_spatial_dims=num_spatial_dims),
    )
