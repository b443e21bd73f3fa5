"""A semi-implicit step for the staggered solver: Crank-Nicolson viscosity solved
matrix-free by a Krylov method (lineax), explicit advection, forcing and penalisation,
and a pressure correction at every stage."""

import equinox as eqx
import jax
import jax.numpy as jnp
import lineax as lx

from .._abstract import AbstractStepper
from .._types import Args, Field
from ._navier_stokes import NavierStokes


class CrankNicolson(AbstractStepper):
    r"""One step of the IMEX trapezoidal scheme (Crank-Nicolson for the viscosity, Heun
    for the rest) with a projection after each stage:

    ``(I - ½dt L) ũ = u + dt E(u) + ½dt (ν Δu + b)``, ``ũ ← P ũ``,

    ``(I - ½dt L) u* = u + ½dt (E(u) + E(ũ)) + ½dt (ν Δu + b)``, ``u_{n+1} = P u*``,

    where ``ν Δu = L u + b`` is the viscous term (``b`` from moving walls), ``E(u) =``
    [`explicit_momentum`][jaxpde.incompressible.NavierStokes.explicit_momentum] ``- G p(u)``
    carries the pressure of the state (so each projection only corrects the splitting
    error: an incremental pressure correction) and ``P`` is
    [`project`][jaxpde.incompressible.NavierStokes.project]. Second order in time (the
    IMEX trapezoidal rule; Ascher, Ruuth & Spiteri, Appl. Numer. Math. 25, 1997). The
    step is limited by advection alone: the viscous limit ``dt ≲ h²/(4ν)`` of the explicit
    steppers is gone (see ``cfl_dt(..., implicit_viscosity=True)``).

    The two Helmholtz-type solves per step are matrix-free BiCGStab through lineax (the
    wall ghosts make ``L`` non-symmetric), started from the current state;
    differentiable implicitly (lineax's adjoint: one more solve).

    **Arguments:** the [`NavierStokes`][jaxpde.incompressible.NavierStokes] `pde`, the
    step `dt`, and the solves' `rtol`, `atol` and `max_steps`.

    Differentiable: everything the `pde` is, and the state.
    """

    pde: NavierStokes
    dt: float
    rtol: float = eqx.field(static=True)
    atol: float = eqx.field(static=True)
    max_steps: int = eqx.field(static=True)

    def __init__(self, pde: NavierStokes, dt, *, rtol: float = 1e-10, atol: float = 1e-12, max_steps: int = 1000):
        if not isinstance(pde, NavierStokes):
            raise TypeError(f"CrankNicolson needs an incompressible NavierStokes, got {type(pde).__name__}.")
        if not (isinstance(dt, (int, float)) and dt > 0):
            raise ValueError(f"dt must be a positive number, got {dt!r}.")
        self.pde = pde
        self.dt = float(dt)
        self.rtol, self.atol, self.max_steps = float(rtol), float(atol), int(max_steps)

    def __call__(self, u: Field, args: Args = None) -> Field:
        pde, dt = self.pde, self.dt
        pde.check_state(u)
        b = pde.viscous(jnp.zeros_like(u))

        def helmholtz(v):
            return v - 0.5 * dt * (pde.viscous(v) - b)

        operator = lx.FunctionLinearOperator(helmholtz, jax.ShapeDtypeStruct(u.shape, u.dtype))
        solver = lx.BiCGStab(rtol=self.rtol, atol=self.atol, max_steps=self.max_steps)

        def solve(rhs):
            sol = lx.linear_solve(operator, rhs, solver, options={"y0": jax.lax.stop_gradient(u)}, throw=False)
            return eqx.error_if(
                sol.value,
                sol.result != lx.RESULTS.successful,
                "the Crank-Nicolson viscous solve did not converge (lower dt or raise max_steps)",
            )

        def explicit(v):
            return pde.explicit_momentum(v, args) - pde.pressure_term(v, args)

        base = u + 0.5 * dt * (pde.viscous(u) + b)
        e0 = explicit(u)
        u1 = pde.project(solve(base + dt * e0))
        return pde.project(solve(base + 0.5 * dt * (e0 + explicit(u1))))
