"""The interfaces every discretisation and time stepper in jaxpde implements."""

import abc
import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from ._checks import raise_if
from ._types import Args, Field
from .grids import AbstractGrid


def check_state_shape(u: Array, expected: tuple[int, ...], what: str = "state") -> None:
    """Raise a ``ValueError`` unless ``u.shape == expected`` (static check, jit-safe)."""
    shape = tuple(getattr(u, "shape", ()))
    if shape == tuple(expected):
        return
    hint = ""
    if len(shape) == len(expected) + 1 and shape[1:] == tuple(expected):
        hint = " It looks like a batched state: jaxpde has no batch axis; use jax.vmap over the leading axis."
    elif len(shape) == len(expected) - 1 and shape == tuple(expected[1:]):
        hint = " The channel axis is missing: use u[None] for a single-channel field."
    raise ValueError(f"{what} has shape {shape}, expected {tuple(expected)} (channels, *grid.shape).{hint}")


def check_state_dtype(u, what: str = "state") -> None:
    """Refuse a state that is not floating point: an integer state would be stepped in
    integer arithmetic."""
    dtype = jnp.result_type(u)
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(
            f"{what} has dtype {dtype}; jaxpde integrates floating-point states. "
            "Convert it first, e.g. u.astype(jnp.float32)."
        )


def check_state_finite(u, what: str = "state"):
    """Raise if `u` holds NaN or inf: at once for a concrete array, at run time (through
    ``eqx.error_if`` on a scalar, so a field split over devices is not gathered) for a
    traced one. Returns `u` (use the returned value under jit so the check is kept)."""
    if not isinstance(u, jax.core.Tracer):
        if not np.all(np.isfinite(np.asarray(u))):
            raise FloatingPointError(f"{what} is not finite (it holds NaN or inf).")
        return u
    return raise_if(u, ~jnp.all(jnp.isfinite(u)), f"{what} is not finite (it holds NaN or inf).")


class AbstractPDE(eqx.Module):
    """A semi-discrete PDE ``du/dt = rhs(t, u, args)`` on a grid.

    The state is a channel-first array ``(C, *N)``. Physical coefficients are array
    leaves, so ``jax.grad`` can differentiate with respect to them. Every
    discretisation in jaxpde (pseudo-spectral or finite volume) implements ``rhs``;
    diffrax, explicit Runge-Kutta steppers and reduced-order models only need this.
    """

    grid: eqx.AbstractVar[AbstractGrid]

    @property
    @abc.abstractmethod
    def num_channels(self) -> int:
        """Number of channels ``C`` of the state."""

    @property
    def state_shape(self) -> tuple[int, ...]:
        """The expected shape ``(C, *grid.shape)`` of a state."""
        return (self.num_channels, *self.grid.shape)  # pyright: ignore

    def check_state(self, u: Array, what: str = "state") -> None:
        """Raise ``ValueError`` if ``u`` does not have shape `state_shape`, and
        ``TypeError`` if it is not floating point."""
        check_state_shape(u, self.state_shape, what)
        check_state_dtype(u, what)

    @property
    def periodic_axes(self) -> tuple[bool, ...]:
        """Per spatial axis, whether the solution is periodic along it (the grid's kind;
        a finite-volume PDE reads its boundary conditions)."""
        return (bool(self.grid.periodic),) * self.grid.ndim  # pyright: ignore

    @abc.abstractmethod
    def rhs(self, t, u: Field, args: Args = None) -> Field:
        """The semi-discrete vector field ``du/dt`` at time ``t`` in physical space."""


class AbstractPointwise(eqx.Module):
    """An interface for PDEs whose right-hand side is local: ``du/dt`` at a point follows
    from the field's derivatives at that point. Physics-informed models that differentiate
    a neural field in ``x`` (PINN-ROM) use it; see [`jaxpde.pointwise`][jaxpde.pointwise] for the
    derivative helpers. Equations implement it next to ``rhs``."""

    @abc.abstractmethod
    def pointwise_rhs(self, field, x: Array, args: Args = None) -> Array:
        """``du/dt`` ``(C,)`` at the point `x` ``(d,)`` of a pointwise field
        ``field: x -> (C,)``, from autodiff derivatives of `field`."""


class AbstractStepper(eqx.Module):
    """A fixed-step map ``u_n -> u_{n+1}`` with time step `dt`.

    ``__call__(u, args=None)`` advances one step. Built-in integrators (ETDRK,
    Störmer-Verlet) and learned emulators all satisfy this interface, so
    [`jaxpde.rollout`][jaxpde.rollout] works with any of them.

    [`jaxpde.rollout`][jaxpde.rollout] advances a *carry* rather than the field itself:
    ``init_carry(u)`` once, ``step_carry(carry, args)`` per step, ``read_carry(carry)``
    for each saved frame. By default the carry is the field. A stepper overrides the
    three together when another carry saves work between steps (a Fourier state, a
    force that the next step would recompute); ``read_carry(step_carry(init_carry(u)))``
    must equal ``__call__(u)``.

    **Gradients by construction.** A stepper never stores anything derived from its
    leaves at construction. What it would precompute (ETDRK's φ-function coefficients)
    it derives at use: `prepare` returns a copy with that work done, and
    [`jaxpde.rollout`][jaxpde.rollout] calls it once per rollout inside the traced computation, so
    derivatives with respect to every floating-point leaf are exact wherever the
    stepper was built. A prepared stepper is for the loop that made it: keep the
    unprepared one in models and optimiser states.
    """

    dt: eqx.AbstractVar[float]

    @abc.abstractmethod
    def __call__(self, u: Field, args: Args = None) -> Field:
        """Advance ``u`` by one step of size `dt`."""

    def prepare(self) -> "AbstractStepper":
        """This stepper with its per-use precomputation done (default: itself).

        Call it inside the function being differentiated, once before a loop of steps.
        """
        return self

    def init_carry(self, u: Field):
        """The carry [`rollout`][jaxpde.rollout] advances, built from a field ``u``."""
        return u

    def step_carry(self, carry, args: Args = None):
        """Advance a carry by one step."""
        return self(carry, args)

    def read_carry(self, carry) -> Field:
        """The field held by a carry."""
        return carry


class AbstractFrozen(eqx.Module):
    """A part of a model whose array leaves are fixed statistics of the data (e.g. the
    per-channel shifts and scales of [`nn.Normalisation`][jaxpde.nn.Normalisation]), not
    parameters: [`train.trainable`][jaxpde.train.trainable] leaves them out, so training
    neither updates nor weight-decays them. They stay ordinary array leaves: saved with
    the model, and differentiable when a user asks for it explicitly."""


class AbstractPartlyFrozen(eqx.Module):
    """A module some of whose fields training leaves alone: the fields named by
    ``frozen_fields()`` (e.g. the PDE of a [`nn.SemilinearOperator`][jaxpde.nn.SemilinearOperator]
    whose linear part is held exact, or values derived from other leaves).
    [`train.trainable`][jaxpde.train.trainable] leaves them out; the other fields are
    searched as usual. The frozen leaves stay ordinary differentiable array leaves."""

    @abc.abstractmethod
    def frozen_fields(self) -> tuple[str, ...]:
        """The names of the fields training leaves alone. **Returns:** a tuple of names."""


def trainable(model) -> object:
    """The filter spec of the trainable leaves of `model`: every inexact array leaf except
    those inside an [`AbstractFrozen`][jaxpde.AbstractFrozen] part, and those under the
    fields an [`AbstractPartlyFrozen`][jaxpde.AbstractPartlyFrozen] module names in its
    ``frozen_fields()``. Both stay ordinary differentiable leaves; only training leaves
    them alone.

    **Arguments:** `model` (any pytree).

    **Returns:** a pytree of booleans with the structure of `model`, for
    ``eqx.filter(model, spec)`` / ``eqx.partition(model, spec)``."""

    def special(node):
        return isinstance(node, (AbstractFrozen, AbstractPartlyFrozen))

    def spec(node):
        if isinstance(node, AbstractFrozen):
            return jax.tree.map(lambda _: False, node)
        if isinstance(node, AbstractPartlyFrozen):
            frozen = set(node.frozen_fields())
            names = [
                f.name
                for f in dataclasses.fields(node)
                if not f.metadata.get("static", False) and jax.tree.leaves(getattr(node, f.name))
            ]
            values = [
                jax.tree.map(lambda _: False, getattr(node, n)) if n in frozen else trainable(getattr(node, n))
                for n in names
            ]
            if not names:
                return node
            return eqx.tree_at(lambda m: [getattr(m, n) for n in names], node, values)
        return eqx.is_inexact_array(node)

    return jax.tree.map(spec, model, is_leaf=special)
