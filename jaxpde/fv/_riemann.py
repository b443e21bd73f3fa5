"""Numerical fluxes (approximate and exact Riemann solvers) at cell faces."""

import abc

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array

from ._laws import AbstractConservationLaw, AbstractFluidLaw, AbstractScalarLaw


class AbstractRiemannSolver(eqx.Module):
    """A consistent numerical flux ``F(u_L, u_R)`` along one axis."""

    @abc.abstractmethod
    def __call__(self, law: AbstractConservationLaw, u_left: Array, u_right: Array, axis: int) -> Array:
        """The face flux, shape of `u_left`."""

    @abc.abstractmethod
    def check_law(self, law: AbstractConservationLaw) -> None:
        """Raise ``TypeError`` if this flux cannot be used with `law`."""


class Rusanov(AbstractRiemannSolver):
    """Rusanov / local Lax-Friedrichs flux
    ``½(F(u_L) + F(u_R)) - ½ s_max (u_R - u_L)``, ``s_max`` the largest ``|λ|`` of both sides.
    Positivity preserving and the most dissipative. (Rusanov, 1961.)"""

    def check_law(self, law):
        pass

    def __call__(self, law, u_left, u_right, axis):
        cl, cr = law.flux_state(u_left), law.flux_state(u_right)
        smax = jnp.maximum(law.max_wave_speed(cl, axis), law.max_wave_speed(cr, axis))
        return 0.5 * (law.flux(cl, axis) + law.flux(cr, axis)) - 0.5 * smax * (u_right - u_left)


def _hll(fl, fr, ul, ur, sl, sr):
    denom = sr - sl
    denom = jnp.where(denom > 0, denom, 1.0)
    mid = (sr * fl - sl * fr + sl * sr * (ur - ul)) / denom
    return jnp.where(sl >= 0, fl, jnp.where(sr <= 0, fr, mid))


class HLL(AbstractRiemannSolver):
    """Harten-Lax-van Leer flux with the law's signal-speed bounds (Einfeldt's for Euler,
    i.e. HLLE). Two waves; resolves shocks but smears contacts.
    (Harten, Lax & van Leer, SIAM Rev. 25, 1983.)"""

    def check_law(self, law):
        pass

    def __call__(self, law, u_left, u_right, axis):
        cl, cr = law.flux_state(u_left), law.flux_state(u_right)
        sl, sr = law.wave_speed_bounds(cl, cr, axis)
        return _hll(law.flux(cl, axis), law.flux(cr, axis), u_left, u_right, sl, sr)


class HLLC(AbstractRiemannSolver):
    """HLLC flux (HLL with the contact restored) for the laws with a contact wave
    ([`AbstractFluidLaw`][jaxpde.fv.AbstractFluidLaw]: the Euler and shallow-water equations).

    Contact speed ``S* = (p_R - p_L + ρ_L u_L (S_L - u_L) - ρ_R u_R (S_R - u_R)) /
    (ρ_L (S_L - u_L) - ρ_R (S_R - u_R))`` (``ρ → h``, ``p → g h²/2`` for shallow water)
    and star states of Toro, "Riemann Solvers and Numerical Methods for Fluid Dynamics",
    3rd ed., §10.4 (Toro, Spruce & Speares, Shock Waves 4, 1994).
    """

    def check_law(self, law):
        if not isinstance(law, AbstractFluidLaw):
            raise TypeError(
                f"HLLC needs a law with a contact wave (an AbstractFluidLaw such as Euler or ShallowWater), "
                f"got {type(law).__name__}; use HLL or Rusanov."
            )

    def __call__(self, law, u_left, u_right, axis):
        self.check_law(law)
        cl, cr = law.flux_state(u_left), law.flux_state(u_right)
        sl, sr = law.wave_speed_bounds(cl, cr, axis)
        rl, rr = cl[0], cr[0]
        vl, vr = law.velocity(cl, axis), law.velocity(cr, axis)
        pl, pr = law.pressure(cl), law.pressure(cr)
        ml, mr = rl * (sl - vl), rr * (sr - vr)
        denom = ml - mr
        ok = jnp.abs(denom) > 0
        s_star = jnp.where(ok, (pr - pl + ml * vl - mr * vr) / jnp.where(ok, denom, 1.0), 0.5 * (vl + vr))
        # One side is upwind of the face: the left one if S_L ≥ 0 or S* ≥ 0. Its flux is
        # F_K + S_K⁻ (U*_K - U_K) with S_L⁻ = min(S_L, 0), S_R⁻ = max(S_R, 0), which gives
        # F_L, F*_L, F*_R or F_R in Toro's four cases. Choosing the side first computes one
        # star state and one physical flux per face instead of two of each (and reverse
        # mode carries one instead of four candidate fluxes).
        left = (sl >= 0) | (s_star >= 0)
        side = [jnp.where(left, a, b) for a, b in zip(cl, cr)]
        s = jnp.where(left, sl, sr)
        # keep the star state's denominator S_K - S* away from zero where its weight is zero
        gap = jnp.where(jnp.where(left, sl < s_star, sr > s_star), s, jnp.where(left, s_star - 1.0, s_star + 1.0))
        weight = jnp.where(left, jnp.minimum(sl, 0.0), jnp.maximum(sr, 0.0))
        return law.flux(side, axis) + weight * (law.hllc_star(side, gap, s_star, axis) - jnp.stack(side))


class Godunov(AbstractRiemannSolver):
    """Godunov's flux: the flux of the exact Riemann solution at the face, which scalar laws
    provide ([`AbstractScalarLaw.exact_flux`][jaxpde.fv.AbstractScalarLaw.exact_flux]; for Burgers ``max(f(max(u_L, 0)),
    f(min(u_R, 0)))`` with ``f(u) = u²/2``, upwinding for linear advection)."""

    def check_law(self, law):
        if not isinstance(law, AbstractScalarLaw):
            raise TypeError(
                f"the Godunov flux needs a scalar law with an exact Riemann solution (an AbstractScalarLaw "
                f"such as Burgers), got {type(law).__name__}; use HLLC, HLL or Rusanov."
            )

    def __call__(self, law, u_left, u_right, axis):
        self.check_law(law)
        return law.exact_flux(u_left, u_right, axis)


def make_riemann_solver(name: str) -> AbstractRiemannSolver:
    """A numerical flux from its config `name`: ``rusanov``, ``hll``, ``hllc``, ``godunov``.

    **Returns:** the [`AbstractRiemannSolver`][jaxpde.fv.AbstractRiemannSolver]."""
    table = {"rusanov": Rusanov, "hll": HLL, "hllc": HLLC, "godunov": Godunov}
    if name not in table:
        raise ValueError(f"unknown riemann_solver {name!r}; choose one of {', '.join(table)}.")
    return table[name]()


RIEMANN_SOLVERS = ("rusanov", "hll", "hllc", "godunov")
