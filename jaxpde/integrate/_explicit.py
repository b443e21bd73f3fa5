"""Explicit strong-stability-preserving Runge-Kutta steppers for any [`AbstractPDE`][jaxpde.AbstractPDE]."""

import abc

import equinox as eqx

from .._abstract import AbstractPDE, AbstractStepper
from .._checks import check_dt as _check_dt
from .._types import Args, Field


class AbstractExplicitStepper(AbstractStepper):
    """An explicit one-step method for ``du/dt = pde.rhs(t, u, args)``.

    `dt` may be a traced scalar, so a stepper can be built inside ``jit`` with a step
    chosen from the state (see [`jaxpde.solve_to`][jaxpde.solve_to]); building one is free.
    """

    pde: eqx.AbstractVar[AbstractPDE]

    def _f(self, u, args):
        return self.pde.rhs(0.0, u, args)

    def __call__(self, u: Field, args: Args = None) -> Field:
        self.pde.check_state(u)
        return self.step(u, args).astype(u.dtype)

    @abc.abstractmethod
    def step(self, u: Field, args: Args) -> Field:
        """One step from `u` (no shape check; `__call__` does it)."""


class ForwardEuler(AbstractExplicitStepper):
    """``u_{n+1} = u_n + dt f(u_n)`` (first order; SSP with coefficient 1).

    **Arguments:** `pde` (any [`AbstractPDE`][jaxpde.AbstractPDE]) and the step `dt`."""

    pde: AbstractPDE
    dt: float

    def __init__(self, pde: AbstractPDE, dt):
        self.pde = pde
        self.dt = _check_dt(dt)

    def step(self, u, args):
        return u + self.dt * self._f(u, args)


class SSPRK2(AbstractExplicitStepper):
    """Two-stage second-order SSP Runge-Kutta (Heun / Shu-Osher), SSP coefficient 1:

    ``u¹ = u + dt f(u)``, ``u_{n+1} = ½ u + ½ (u¹ + dt f(u¹))``.

    Reference: S. Gottlieb, C.-W. Shu, "Total variation diminishing Runge-Kutta schemes",
    Math. Comp. 67 (1998) 73-85.

    **Arguments:** `pde` (any [`AbstractPDE`][jaxpde.AbstractPDE]) and the step `dt`.
    """

    pde: AbstractPDE
    dt: float

    def __init__(self, pde: AbstractPDE, dt):
        self.pde = pde
        self.dt = _check_dt(dt)

    def step(self, u, args):
        dt = self.dt
        u1 = u + dt * self._f(u, args)
        return 0.5 * u + 0.5 * (u1 + dt * self._f(u1, args))


class SSPRK3(AbstractExplicitStepper):
    """Three-stage third-order SSP Runge-Kutta of Shu & Osher, SSP coefficient 1:

    ``u¹ = u + dt f(u)``, ``u² = ¾ u + ¼ (u¹ + dt f(u¹))``,
    ``u_{n+1} = ⅓ u + ⅔ (u² + dt f(u²))``.

    Reference: C.-W. Shu, S. Osher, J. Comput. Phys. 77 (1988) 439-471.

    **Arguments:** `pde` (any [`AbstractPDE`][jaxpde.AbstractPDE]) and the step `dt`.
    """

    pde: AbstractPDE
    dt: float

    def __init__(self, pde: AbstractPDE, dt):
        self.pde = pde
        self.dt = _check_dt(dt)

    def step(self, u, args):
        dt = self.dt
        u1 = u + dt * self._f(u, args)
        u2 = 0.75 * u + 0.25 * (u1 + dt * self._f(u1, args))
        return u / 3 + 2 / 3 * (u2 + dt * self._f(u2, args))


class RK4(AbstractExplicitStepper):
    """The classical fourth-order Runge-Kutta method (not SSP; for smooth problems).

    **Arguments:** `pde` (any [`AbstractPDE`][jaxpde.AbstractPDE]) and the step `dt`."""

    pde: AbstractPDE
    dt: float

    def __init__(self, pde: AbstractPDE, dt):
        self.pde = pde
        self.dt = _check_dt(dt)

    def step(self, u, args):
        dt = self.dt
        k1 = self._f(u, args)
        k2 = self._f(u + 0.5 * dt * k1, args)
        k3 = self._f(u + 0.5 * dt * k2, args)
        k4 = self._f(u + dt * k3, args)
        return u + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)


EXPLICIT_STEPPERS = {"euler": ForwardEuler, "ssprk2": SSPRK2, "ssprk3": SSPRK3, "rk4": RK4}
