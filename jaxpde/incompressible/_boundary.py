"""Velocity boundary conditions of the staggered incompressible solver, one per side.

Each condition says three things: the normal velocity on its boundary face, the ghost
value of a tangential component half a cell outside (so that walls, lids and slip come
out of the same centred stencils), and the pressure condition it implies for the
projection (Neumann where the normal velocity is prescribed, Dirichlet ``p = 0`` at an
outflow, periodic)."""

import abc
from typing import ClassVar

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array

from .._checks import side_pairs


class AbstractVelocityBC(eqx.Module):
    """A boundary condition of the velocity on one side of a box.

    - ``pressure``: the pressure condition it implies (``"neumann"``, ``"dirichlet"`` or
      ``"periodic"``).
    - ``prescribes_normal``: the normal velocity on the side is given (it is not evolved).
    - ``normal_value(n, dtype)``: that normal velocity, ``(n,)`` along the side.
    - ``tangential_ghost(first, second)``: the ghost value of a tangential component half
      a cell outside, from the values half and one and a half cells inside: the quadratic
      through the face value and the two interior values where the face value is given
      (walls, inflow), so a parabolic profile (Poiseuille flow) is differentiated exactly.
    - ``tangential_face(first)``: the tangential component on the boundary face."""

    pressure: ClassVar[str]
    prescribes_normal: ClassVar[bool]
    upper_side_only: ClassVar[bool] = False

    @property
    def periodic(self) -> bool:
        return self.pressure == "periodic"

    def normal_value(self, n: int, dtype) -> Array:
        return jnp.zeros((n,), dtype)

    @abc.abstractmethod
    def tangential_face(self, first: Array) -> Array:
        """The tangential velocity on the boundary face."""

    def tangential_ghost(self, first: Array, second: Array) -> Array:
        """The tangential velocity half a cell outside: ``(8 w - 6 u_½ + u_{3/2}) / 3`` for a
        face value ``w``, the quadratic extrapolation."""
        return (8 * self.tangential_face(first) - 6 * first + second) / 3


class Wall(AbstractVelocityBC):
    """No slip: zero normal velocity, tangential velocity equal to the wall's own
    (``velocity``, along the side; nonzero for a moving lid). Differentiable: `velocity`."""

    velocity: Array
    pressure: ClassVar[str] = "neumann"
    prescribes_normal: ClassVar[bool] = True

    def __init__(self, velocity=0.0):
        self.velocity = jnp.asarray(velocity)

    def tangential_face(self, first):
        return jnp.broadcast_to(self.velocity.astype(first.dtype), first.shape)


class FreeSlip(AbstractVelocityBC):
    """Zero normal velocity and zero tangential stress (a symmetry plane)."""

    pressure: ClassVar[str] = "neumann"
    prescribes_normal: ClassVar[bool] = True

    def tangential_face(self, first):
        return first

    def tangential_ghost(self, first, second):
        return first


class Inflow(AbstractVelocityBC):
    """A prescribed normal velocity ``profile`` (a scalar or one value per boundary face,
    positive along the axis) and zero tangential velocity. Differentiable: `profile`
    (inflow control)."""

    profile: Array
    pressure: ClassVar[str] = "neumann"
    prescribes_normal: ClassVar[bool] = True

    def __init__(self, profile):
        self.profile = jnp.asarray(profile)
        if self.profile.ndim > 1:
            raise ValueError(f"Inflow profile must be a scalar or 1D (one value per face), got {self.profile.shape}.")

    def normal_value(self, n, dtype):
        if self.profile.ndim == 1 and self.profile.shape[0] != n:
            raise ValueError(f"Inflow profile has {self.profile.shape[0]} values, the side has {n} faces.")
        return jnp.broadcast_to(self.profile.astype(dtype), (n,))

    def tangential_face(self, first):
        return jnp.zeros_like(first)


class Outflow(AbstractVelocityBC):
    """Zero-gradient outflow: the normal velocity on the side evolves with the interior
    (its ghost is the value on the face), tangential velocities have zero normal
    derivative, and the pressure is held at zero. Only on the upper side of an axis."""

    pressure: ClassVar[str] = "dirichlet"
    prescribes_normal: ClassVar[bool] = False
    upper_side_only: ClassVar[bool] = True

    def tangential_face(self, first):
        return first

    def tangential_ghost(self, first, second):
        return first


class Periodic(AbstractVelocityBC):
    """Periodic along the axis (both sides)."""

    pressure: ClassVar[str] = "periodic"
    prescribes_normal: ClassVar[bool] = False

    def tangential_face(self, first):  # pragma: no cover - periodic axes wrap instead
        raise TypeError("periodic sides wrap; they have no boundary face")


BOUNDARY_CONDITIONS = {"wall": Wall, "free_slip": FreeSlip, "inflow": Inflow, "outflow": Outflow, "periodic": Periodic}


def normalise_velocity_bc(bc, ndim: int):
    """Per-axis ``(lower, upper)`` velocity conditions: one condition or name for every
    side, or one (or a pair) per axis. Names: ``"wall"``, ``"free_slip"``, ``"outflow"``,
    ``"periodic"`` (an inflow needs its profile: ``Inflow(profile)``).

    **Arguments:** the conditions `bc` and the number of axes `ndim`.

    **Returns:** ``((lower, upper), ...)`` of [`AbstractVelocityBC`][jaxpde.incompressible.AbstractVelocityBC]."""

    def make(x):
        if isinstance(x, AbstractVelocityBC):
            return x
        if isinstance(x, str) and x in BOUNDARY_CONDITIONS and x != "inflow":
            return BOUNDARY_CONDITIONS[x]()
        raise ValueError(
            f"a velocity boundary condition must be one of 'wall', 'free_slip', 'outflow', 'periodic' "
            f"or an AbstractVelocityBC (e.g. Inflow(profile)), got {x!r}."
        )

    out = []
    single = lambda x: isinstance(x, (str, AbstractVelocityBC))  # noqa: E731
    for axis, pair in enumerate(side_pairs(bc, ndim, single, "velocity boundary condition")):
        lo, hi = make(pair[0]), make(pair[1])
        if lo.periodic != hi.periodic:
            raise ValueError(f"axis {axis}: 'periodic' must be on both sides.")
        if lo.upper_side_only:
            raise ValueError(
                f"axis {axis}: an outflow must be on the upper side of its axis (let the flow run "
                "towards increasing coordinates)."
            )
        out.append((lo, hi))
    return tuple(out)
