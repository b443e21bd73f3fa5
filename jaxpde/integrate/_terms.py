"""Diffrax terms of a PDE: its right-hand side, the explicit/implicit split of a
semilinear PDE for IMEX methods, and drift plus noise on a Virtual Brownian Tree."""

import diffrax
import equinox as eqx

from .._abstract import AbstractPDE
from ..spectral import AbstractSemilinearPDE
from ._noise import AbstractNoise, NoiseTerm


class PDETerm(eqx.Module):
    """``pde.rhs`` as a pytree, so every adjoint (backsolve included) sees the PDE's
    parameters as differentiable leaves rather than closed-over constants.

    **Arguments:** `pde`: any [`AbstractPDE`][jaxpde.AbstractPDE]."""

    pde: AbstractPDE

    def __call__(self, t, u, args):
        return self.pde.rhs(t, u, args)


class _Nonlinear(eqx.Module):
    pde: AbstractSemilinearPDE

    def __call__(self, t, u, args):
        grid = self.pde.grid
        return grid.irfft(self.pde.nonlinear(grid.rfft(u), args)).astype(u.dtype)


class _Linear(eqx.Module):
    pde: AbstractSemilinearPDE

    def __call__(self, t, u, args):
        grid = self.pde.grid
        return grid.irfft(self.pde.linear_symbol() * grid.rfft(u)).astype(u.dtype)


def is_imex(solver) -> bool:
    """Whether `solver` splits its vector field into explicit and implicit parts (an
    additive Runge-Kutta method: KenCarp, Sil3)."""
    return isinstance(getattr(solver, "tableau", None), diffrax.MultiButcherTableau)


def ode_terms(pde: AbstractPDE, solver):
    """``rhs`` as one term, or the split ``N(u)`` (explicit) + ``L u`` (implicit) of a
    semilinear PDE for an IMEX solver."""
    if not is_imex(solver):
        return diffrax.ODETerm(PDETerm(pde))
    if not isinstance(pde, AbstractSemilinearPDE):
        raise TypeError(
            "IMEX solvers (KenCarp, Sil3) need a semilinear PDE u_t = L u + N(u) with a diagonal "
            f"Fourier symbol (a jaxpde.spectral equation); got {type(pde).__name__}. "
            "Use an implicit solver (kvaerno3/4/5) for other PDEs."
        )
    return diffrax.MultiTerm(diffrax.ODETerm(_Nonlinear(pde)), diffrax.ODETerm(_Linear(pde)))


def brownian_tree(t0, t1, shape, *, key, tol, levy_area=None) -> diffrax.VirtualBrownianTree:
    """A `diffrax.VirtualBrownianTree` on ``[t0, t1]``: one `key` fixes the whole
    path; `tol` is its time resolution (queries closer than `tol` are approximated by
    a Brownian bridge). `levy_area` is ``None``, `diffrax.SpaceTimeLevyArea` or
    `diffrax.SpaceTimeTimeLevyArea`.

    **Arguments:** the interval `t0`, `t1`, the `shape` of one increment, `key`, `tol`,
    `levy_area`. **Returns:** the tree."""
    if levy_area is None:
        levy_area = diffrax.BrownianIncrement
    return diffrax.VirtualBrownianTree(t0, t1, tol=tol, shape=tuple(shape), key=key, levy_area=levy_area)


def _levy_area(solver):
    """The concrete Lévy area a solver needs, from its declared minimum."""
    need = getattr(solver, "minimal_levy_area", diffrax.AbstractBrownianIncrement)
    if issubclass(need, diffrax.AbstractSpaceTimeTimeLevyArea):
        return diffrax.SpaceTimeTimeLevyArea
    if issubclass(need, diffrax.AbstractSpaceTimeLevyArea):
        return diffrax.SpaceTimeLevyArea
    return diffrax.BrownianIncrement


def sde_terms(pde, noise: AbstractNoise, u0, t0, t1, solver, *, key, tol) -> diffrax.MultiTerm:
    """Drift and diffusion terms for [`jaxpde.solve`][jaxpde.solve]."""
    if not isinstance(noise, AbstractNoise):
        raise TypeError(f"noise must be a jaxpde.integrate.AbstractNoise, got {type(noise).__name__}.")
    inner = getattr(solver, "solver", solver)  # HalfSolver and friends
    if isinstance(inner, diffrax.AbstractSRK) and inner.tableau.is_additive_noise() and not noise.additive:
        raise ValueError(
            f"{type(inner).__name__} is only correct for additive noise; for "
            f"{type(noise).__name__} use 'euler' (Itô), 'heun', 'euler_heun' or 'spark' (Stratonovich)."
        )
    shape = noise.brownian_shape(tuple(u0.shape))
    path = brownian_tree(t0, t1, shape, key=key, tol=tol, levy_area=_levy_area(inner))
    return diffrax.MultiTerm(diffrax.ODETerm(PDETerm(pde)), NoiseTerm(noise, path))
