"""The interfaces every discretisation and time stepper in jaxpde implements."""

import abc

import equinox as eqx
from jaxtyping import Array

from ._types import Args, Field


def check_state_shape(u: Array, expected: tuple[int, ...], what: str = "state") -> None:
    """Raise a ``ValueError`` unless ``u.shape == expected`` (static check, jit-safe)."""
    shape = tuple(getattr(u, "shape", ()))
    if shape == tuple(expected):
        return
    hint = ""
    if len(shape) == len(expected) + 1 and shape[1:] == tuple(expected):
        hint = (
            " It looks like a batched state: jaxpde has no batch axis; "
            "use jax.vmap over the leading axis."
        )
    elif len(shape) == len(expected) - 1 and shape == tuple(expected[1:]):
        hint = " The channel axis is missing: use u[None] for a single-channel field."
    raise ValueError(
        f"{what} has shape {shape}, expected {tuple(expected)} (channels, *grid.shape).{hint}"
    )


class AbstractPDE(eqx.Module):
    """A semi-discrete PDE ``du/dt = rhs(t, u, args)`` on a grid.

    The state is a channel-first array ``(C, *N)``. Physical coefficients are array
    leaves, so ``jax.grad`` can differentiate with respect to them. Every
    discretisation in jaxpde (pseudo-spectral or finite volume) implements ``rhs``;
    diffrax, explicit Runge-Kutta steppers and reduced-order models only need this.
    """

    grid: eqx.AbstractVar[object]

    @property
    @abc.abstractmethod
    def num_channels(self) -> int:
        """Number of channels ``C`` of the state."""

    @property
    def state_shape(self) -> tuple[int, ...]:
        """The expected shape ``(C, *grid.shape)`` of a state."""
        return (self.num_channels, *self.grid.shape)  # pyright: ignore

    def check_state(self, u: Array, what: str = "state") -> None:
        """Raise ``ValueError`` if ``u`` does not have shape :attr:`state_shape`."""
        check_state_shape(u, self.state_shape, what)

    @abc.abstractmethod
    def rhs(self, t, u: Field, args: Args = None) -> Field:
        """The semi-discrete vector field ``du/dt`` at time ``t`` in physical space."""


class AbstractStepper(eqx.Module):
    """A fixed-step map ``u_n -> u_{n+1}`` with time step :attr:`dt`.

    ``__call__(u, args=None)`` advances one step. Built-in integrators (ETDRK,
    Störmer-Verlet) and learned emulators all satisfy this interface, so
    :func:`jaxpde.rollout` works with any of them.

    :func:`jaxpde.rollout` advances a *carry* rather than the field itself:
    ``init_carry(u)`` once, ``step_carry(carry, args)`` per step, ``read_carry(carry)``
    for each saved frame. By default the carry is the field. A stepper overrides the
    three together when another carry saves work between steps (a Fourier state, a
    force that the next step would recompute); ``read_carry(step_carry(init_carry(u)))``
    must equal ``__call__(u)``.
    """

    dt: eqx.AbstractVar[float]

    @abc.abstractmethod
    def __call__(self, u: Field, args: Args = None) -> Field:
        """Advance ``u`` by one step of size :attr:`dt`."""

    def init_carry(self, u: Field):
        """The carry :func:`~jaxpde.rollout` advances, built from a field ``u``."""
        return u

    def step_carry(self, carry, args: Args = None):
        """Advance a carry by one step."""
        return self(carry, args)

    def read_carry(self, carry) -> Field:
        """The field held by a carry."""
        return carry
