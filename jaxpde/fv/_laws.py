"""Hyperbolic conservation laws ``u_t + Σ_a ∂_a F_a(u) = S(u)``: fluxes, wave speeds,
primitive/conserved maps. Array fields are differentiable."""

import abc

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array

from .._checks import as_coefficient, check_int
from ._balance import AbstractBalance, Conservative, HydrostaticReconstruction
from ._registry import LAWS
from ._util import add_to_channel, safe_divide


def _check_ndim(ndim) -> int:
    ndim = check_int(ndim, "ndim")
    if ndim > 3:
        raise ValueError(f"ndim must be 1, 2 or 3, got {ndim}.")
    return ndim


class AbstractConservationLaw(eqx.Module):
    """A system ``u_t + Σ_a ∂F_a(u)/∂x_a = 0 (+ ν Δu)`` in conserved variables ``u`` ``(C, ...)``.

    Every method works on arrays whose first axis is the channel axis and whose other
    axes are anything (cells, faces); `axis` is the spatial direction ``a`` (0 = x).
    A new law subclasses [`AbstractScalarLaw`][jaxpde.fv.AbstractScalarLaw] (one or more independent scalars,
    identity variable maps, Davis wave-speed bounds) or [`AbstractFluidLaw`][jaxpde.fv.AbstractFluidLaw]
    (systems with pressure and a contact wave, which HLLC resolves), or this class
    directly, and defines every abstract method below.
    """

    ndim: eqx.AbstractVar[int]

    @property
    @abc.abstractmethod
    def num_channels(self) -> int:
        """Number of conserved variables ``C``."""

    @property
    @abc.abstractmethod
    def viscosity(self) -> Array | None:
        """A diffusion coefficient ``ν`` adding ``ν Δu`` (``None`` for inviscid laws)."""

    @abc.abstractmethod
    def flux(self, u: Array, axis: int) -> Array:
        """The physical flux ``F_axis(u)``, same shape as `u`."""

    @abc.abstractmethod
    def wave_speeds(self, u: Array, axis: int) -> tuple[Array, Array]:
        """Smallest and largest characteristic speed along `axis`, each of shape ``u.shape[1:]``."""

    @abc.abstractmethod
    def wave_speed_bounds(self, u_left: Array, u_right: Array, axis: int) -> tuple[Array, Array]:
        """Signal-speed bounds ``(S_L, S_R)`` of the Riemann problem at a face, for HLL-type
        fluxes ([`davis_bounds`][jaxpde.fv.davis_bounds] is the simple choice)."""

    @abc.abstractmethod
    def to_primitive(self, u: Array) -> Array:
        """Primitive variables of the conserved `u`."""

    @abc.abstractmethod
    def to_conserved(self, w: Array) -> Array:
        """Conserved variables from primitive ones."""

    @abc.abstractmethod
    def reflect(self, u: Array, axis: int) -> Array:
        """The mirror state behind a reflective wall normal to `axis`."""

    @abc.abstractmethod
    def to_reconstruction(self, u: Array) -> Array:
        """The variables reconstructions work in (primitive for the Euler equations)."""

    @abc.abstractmethod
    def from_reconstruction(self, w: Array) -> Array:
        """Conserved variables from reconstruction variables."""

    @abc.abstractmethod
    def admissible(self, w: Array) -> Array | None:
        """Where reconstructed values `w` are physically admissible (``None``: always)."""

    @abc.abstractmethod
    def balance(self) -> AbstractBalance:
        """How [`FiniteVolume`][jaxpde.fv.FiniteVolume] forms the flux divergence along an axis (and any source
        that must balance it): [`Conservative`][jaxpde.fv.Conservative], or e.g.
        [`HydrostaticReconstruction`][jaxpde.fv.HydrostaticReconstruction]
        for shallow water over a bed."""

    def flux_state(self, u: Array):
        """The form in which a numerical flux hands a face state to this law's methods.

        **Arguments:** `u`, a state ``(C, ...)``.

        **Returns:** `u` itself here; a fluid law returns its list of channels."""
        return u

    def max_wave_speed(self, u: Array, axis: int) -> Array:
        """``max |λ|`` along `axis` per cell."""
        lo, hi = self.wave_speeds(u, axis)
        return jnp.maximum(jnp.abs(lo), jnp.abs(hi))


def davis_bounds(law: AbstractConservationLaw, u_left: Array, u_right: Array, axis: int) -> tuple[Array, Array]:
    """Davis' signal-speed bounds: ``min``/``max`` of both sides' characteristic speeds.

    **Arguments:** `law`, the face states `u_left` and `u_right` ``(C, ...)``, the spatial `axis`.

    **Returns:** ``(S_L, S_R)``, each of shape ``u_left.shape[1:]``.
    """
    lo_l, hi_l = law.wave_speeds(u_left, axis)
    lo_r, hi_r = law.wave_speeds(u_right, axis)
    return jnp.minimum(lo_l, lo_r), jnp.maximum(hi_l, hi_r)


class AbstractScalarLaw(AbstractConservationLaw):
    """Independent scalar conservation laws: conserved, primitive and reconstruction
    variables coincide, every state is admissible, Davis' wave-speed bounds. Subclasses
    define the flux, wave speeds, reflection and the exact (Godunov) face flux."""

    def wave_speed_bounds(self, u_left, u_right, axis):
        return davis_bounds(self, u_left, u_right, axis)

    def to_primitive(self, u):
        return u

    def to_conserved(self, w):
        return w

    def to_reconstruction(self, u):
        return u

    def from_reconstruction(self, w):
        return w

    def admissible(self, w):
        return None

    def balance(self):
        return Conservative()

    @abc.abstractmethod
    def exact_flux(self, u_left: Array, u_right: Array, axis: int) -> Array:
        """The flux of the exact solution of the Riemann problem at the face (Godunov's flux)."""


def channels(u) -> list:
    """The channels of a state: `u` ``(C, *N)`` taken apart along its first axis, or a
    tuple/list of channels returned as a list.

    **Arguments:** `u`, an array or a sequence of channel arrays.

    **Returns:** a list of ``C`` arrays ``(*N)``."""
    if isinstance(u, (tuple, list)):
        return list(u)
    return [u[k] for k in range(u.shape[0])]


class AbstractFluidLaw(AbstractConservationLaw):
    """Systems with a pressure and a contact wave (the laws the HLLC flux supports):
    conserved ``(density-like, momentum..., [energy])``.

    The numerical fluxes hand a fluid law's state-taking methods (``flux``,
    ``wave_speeds``, ``wave_speed_bounds``, ``max_wave_speed``, ``velocity``,
    ``pressure``, ``hllc_star``) the state either as an array ``(C, ...)`` or as a list of
    its ``C`` channels, taken apart once per face; a subclass reads it with
    [`channels`][jaxpde.fv.channels], which accepts both. (Each method slicing the stacked
    state itself made reverse mode add one zero-padded copy of the state per slice: the
    HLLC flux's reverse pass cost twice as much.)"""

    def flux_state(self, u):
        """The state taken apart into its channels, once per face (see the class note).

        **Arguments:** `u`, a state ``(C, ...)`` or a list of its channels.

        **Returns:** a list of ``C`` channel arrays."""
        return channels(u)

    @abc.abstractmethod
    def velocity(self, u: Array, axis: int) -> Array:
        """The velocity component along `axis`."""

    @abc.abstractmethod
    def pressure(self, u: Array) -> Array:
        """The pressure (``g h²/2`` for shallow water)."""

    @abc.abstractmethod
    def hllc_star(self, u: Array, s: Array, s_star: Array, axis: int) -> Array:
        """The HLLC intermediate state on the `s` side of the contact moving at `s_star`."""


@LAWS.register("advection")
class LinearAdvection(AbstractScalarLaw):
    r"""Linear advection ``u_t + Σ_a c_a ∂_a u = 0`` of `num_channels` scalars with constant
    velocity ``c`` (one entry per axis, or a scalar used on every axis).
    Differentiable: `velocity`. A reflective wall mirrors the state (zero normal gradient).

    **Arguments:** `velocity`, `ndim` (1-3), `num_channels`."""

    velocity: Array
    ndim: int = eqx.field(static=True)
    channels: int = eqx.field(static=True)

    def __init__(self, velocity=1.0, *, ndim: int = 1, num_channels: int = 1):
        self.ndim = _check_ndim(ndim)
        v = as_coefficient(velocity, "velocity", scalar=False)
        if v.ndim == 0:
            v = jnp.full((self.ndim,), v)
        if v.shape != (self.ndim,):
            raise ValueError(
                f"velocity must be a scalar or have one entry per axis ({self.ndim}), got shape {v.shape}."
            )
        self.velocity = v
        self.channels = check_int(num_channels, "num_channels")

    @property
    def num_channels(self):
        return self.channels

    @property
    def viscosity(self):
        return None

    def flux(self, u, axis):
        # in the state's precision: a float64 velocity (x64 on) must not lift a float32 state
        return self.velocity[axis].astype(u.dtype) * u

    def wave_speeds(self, u, axis):
        c = jnp.broadcast_to(self.velocity[axis].astype(u.dtype), u.shape[1:])
        return c, c

    def reflect(self, u, axis):
        return u

    def exact_flux(self, u_left, u_right, axis):
        c = self.velocity[axis].astype(u_left.dtype)
        return jnp.where(c >= 0, c * u_left, c * u_right)  # upwind


@LAWS.register("burgers")
class Burgers(AbstractScalarLaw):
    r"""Burgers' equation ``u_t + Σ_a ∂_a (u²/2) = ν Δu`` (inviscid when ``viscosity=None``).

    In several dimensions the same flux acts along every axis. Differentiable:
    `viscosity`. A reflective wall is odd (``u → -u``), so the face velocity vanishes.

    **Arguments:** `viscosity` (``None`` or ``ν ≥ 0``), `ndim` (1-3)."""

    viscosity_: Array | None
    ndim: int = eqx.field(static=True)

    def __init__(self, viscosity=None, *, ndim: int = 1):
        self.ndim = _check_ndim(ndim)
        self.viscosity_ = None if viscosity is None else as_coefficient(viscosity, "viscosity", minimum=0.0)

    @property
    def num_channels(self):
        return 1

    @property
    def viscosity(self):
        return self.viscosity_

    def flux(self, u, axis):
        return 0.5 * u * u

    def wave_speeds(self, u, axis):
        return u[0], u[0]

    def reflect(self, u, axis):
        return -u

    def exact_flux(self, u_left, u_right, axis):
        # convex flux u²/2: Godunov's formula (Toro, §2.4)
        return jnp.maximum(0.5 * jnp.maximum(u_left, 0.0) ** 2, 0.5 * jnp.minimum(u_right, 0.0) ** 2)


@LAWS.register("shallow_water")
class ShallowWater(AbstractFluidLaw):
    r"""Shallow-water equations in 1D/2D, conserved ``(h, h u[, h v])``:

    ``h_t + ∇·(h𝐮) = 0``, ``(h𝐮)_t + ∇·(h𝐮𝐮 + ½ g h² I) = -g h ∇b``.

    Primitive variables are ``(h, u[, v])``. `bathymetry` is ``None`` (flat bed) or the
    bed height ``b`` as cell averages of shape ``grid.shape``; with it the
    [`FiniteVolume`][jaxpde.fv.FiniteVolume] discretisation uses the hydrostatic reconstruction of Audusse
    et al. (SIAM J. Sci. Comput. 25, 2004), which keeps the lake at rest
    (``h + b = const``, ``𝐮 = 0``) exactly, with any reconstruction and Riemann solver.
    Differentiable: `gravity`, `bathymetry`.

    **Arguments:** `gravity` ``g > 0``, `ndim` (1 or 2), `bathymetry` (``None`` or
    ``grid.shape``), `dry_tolerance` (depths below it have zero velocity).
    """

    gravity: Array
    bathymetry: Array | None
    ndim: int = eqx.field(static=True)
    dry_tolerance: float = eqx.field(static=True)

    def __init__(self, gravity=9.81, *, ndim: int = 1, bathymetry=None, dry_tolerance: float = 1e-10):
        self.ndim = _check_ndim(ndim)
        if self.ndim > 2:
            raise ValueError(f"ShallowWater is defined in 1D and 2D, got ndim={ndim}.")
        self.gravity = as_coefficient(gravity, "gravity", minimum=0.0, strict=True)
        self.bathymetry = None if bathymetry is None else jnp.asarray(bathymetry, dtype=jnp.result_type(float))
        if self.bathymetry is not None and self.bathymetry.ndim != self.ndim:
            raise ValueError(
                f"bathymetry must have shape grid.shape ({self.ndim} axes), got shape {self.bathymetry.shape}."
            )
        self.dry_tolerance = float(dry_tolerance)

    @property
    def num_channels(self):
        return self.ndim + 1

    @property
    def viscosity(self):
        return None

    def balance(self):
        return Conservative() if self.bathymetry is None else HydrostaticReconstruction()

    # channels taken apart once per method (see Euler)
    def _velocities(self, h, mom):
        wet = h > self.dry_tolerance
        return [safe_divide(m, h, wet) for m in mom]

    def velocity(self, u, axis):
        h, *mom = _unpack(u)
        return self._velocities(h, mom)[axis]

    def to_primitive(self, u):
        h, *mom = _unpack(u)
        return jnp.stack([h, *self._velocities(h, mom)])

    def to_conserved(self, w):
        h, *vel = _unpack(w)
        return jnp.stack([h, *[h * v for v in vel]])

    def pressure(self, u):
        return 0.5 * self.gravity * _unpack(u)[0] ** 2

    def sound_speed(self, u):
        return jnp.sqrt(self.gravity * jnp.maximum(_unpack(u)[0], 0.0))

    def flux(self, u, axis):
        h, *mom = _unpack(u)
        vel = self._velocities(h, mom)[axis]
        p = 0.5 * self.gravity * h**2
        return jnp.stack([h * vel, *[m * vel + (p if a == axis else 0.0) for a, m in enumerate(mom)]])

    def wave_speeds(self, u, axis):
        h, *mom = _unpack(u)
        v = self._velocities(h, mom)[axis]
        c = jnp.sqrt(self.gravity * jnp.maximum(h, 0.0))
        return v - c, v + c

    def wave_speed_bounds(self, u_left, u_right, axis):
        return davis_bounds(self, u_left, u_right, axis)

    def reflect(self, u, axis):
        return add_to_channel(u, 1 + axis, -2 * u[1 + axis])

    def to_reconstruction(self, u):
        return u

    def from_reconstruction(self, w):
        return w

    def admissible(self, w):
        return _unpack(w)[0] >= 0

    def hllc_star(self, u, s, s_star, axis):
        """The HLLC intermediate state on the `s` side of the contact moving at `s_star`."""
        h, *mom = _unpack(u)
        vel = self._velocities(h, mom)
        h_star = h * (s - vel[axis]) / (s - s_star)  # HLLC keeps s - s_star away from zero
        vels = [s_star if a == axis else vel[a] for a in range(self.ndim)]
        return jnp.stack([h_star, *[h_star * v for v in vels]])


def _unpack(u):
    return channels(u)


@LAWS.register("euler")
class Euler(AbstractFluidLaw):
    r"""Compressible Euler equations of an ideal gas in 1D/2D/3D, conserved
    ``(ρ, ρ𝐮, E)``, primitive ``(ρ, 𝐮, p)``, ``p = (γ - 1)(E - ½ρ|𝐮|²)``:

    ``ρ_t + ∇·(ρ𝐮) = 0``, ``(ρ𝐮)_t + ∇·(ρ𝐮𝐮 + p I) = 0``, ``E_t + ∇·((E + p)𝐮) = 0``.

    Reconstruction is done in primitive variables. HLL/HLLC use Einfeldt's signal-speed
    bounds (Roe averages with the sides' own speeds), which make HLL and HLLC positively
    conservative (Einfeldt et al., J. Comput. Phys. 92, 1991; Batten et al., SIAM J. Sci.
    Comput. 18, 1997). Differentiable: `gamma`.

    **Arguments:** `gamma` ``γ > 1``, `ndim` (1-3).
    """

    gamma: Array
    ndim: int = eqx.field(static=True)

    def __init__(self, gamma=1.4, *, ndim: int = 1):
        self.ndim = _check_ndim(ndim)
        self.gamma = as_coefficient(gamma, "gamma", minimum=1.0, strict=True)

    @property
    def num_channels(self):
        return self.ndim + 2

    @property
    def viscosity(self):
        return None

    def balance(self):
        return Conservative()

    # Each method takes the channels apart once, computes the pressure and velocities once
    # from them, and stacks its result; written on whole arrays (``u * vel``,
    # ``concatenate``) the same formulas cost 1.9x the time per 2D MUSCL-HLLC step (42-46 ms
    # against 21-25 ms at 256², back to back).
    def _parts(self, u):
        c = channels(u)
        return c[0], c[1:-1], c[-1]

    def _pressure(self, rho, mom, energy):
        return (self.gamma - 1) * (energy - 0.5 * sum(m**2 for m in mom) / rho)

    def pressure(self, u):
        return self._pressure(*self._parts(u))

    def velocity(self, u, axis):
        rho, mom, _ = self._parts(u)
        return mom[axis] / rho

    def sound_speed_primitive(self, w):
        rho, _, p = self._parts(w)
        return jnp.sqrt(jnp.maximum(self.gamma * p / rho, 0.0))

    def _primitive_parts(self, u):
        rho, mom, energy = self._parts(u)
        return rho, [m / rho for m in mom], self._pressure(rho, mom, energy)

    def to_primitive(self, u):
        rho, vel, p = self._primitive_parts(u)
        return jnp.stack([rho, *vel, p])

    def to_conserved(self, w):
        rho, vel, p = self._parts(w)
        energy = p / (self.gamma - 1) + 0.5 * rho * sum(v**2 for v in vel)
        return jnp.stack([rho, *[rho * v for v in vel], energy])

    def flux(self, u, axis):
        rho, mom, energy = self._parts(u)
        p = self._pressure(rho, mom, energy)
        vel = mom[axis] / rho
        momentum = [m * vel + (p if a == axis else 0.0) for a, m in enumerate(mom)]
        return jnp.stack([mom[axis], *momentum, (energy + p) * vel])

    def wave_speeds(self, u, axis):
        rho, vel, p = self._primitive_parts(u)
        c = jnp.sqrt(jnp.maximum(self.gamma * p / rho, 0.0))
        return vel[axis] - c, vel[axis] + c

    def wave_speed_bounds(self, u_left, u_right, axis):
        (rl, ml, el), (rr, mr, er) = self._parts(u_left), self._parts(u_right)
        pl, pr = self._pressure(rl, ml, el), self._pressure(rr, mr, er)
        vl, vr = [m / rl for m in ml], [m / rr for m in mr]
        cl = jnp.sqrt(jnp.maximum(self.gamma * pl / rl, 0.0))
        cr = jnp.sqrt(jnp.maximum(self.gamma * pr / rr, 0.0))
        sl, sr = jnp.sqrt(rl), jnp.sqrt(rr)
        hl, hr = (el + pl) / rl, (er + pr) / rr
        vel = [(sl * a + sr * b) / (sl + sr) for a, b in zip(vl, vr)]
        enthalpy = (sl * hl + sr * hr) / (sl + sr)
        c2 = (self.gamma - 1) * (enthalpy - 0.5 * sum(v**2 for v in vel))
        c = jnp.sqrt(jnp.maximum(c2, 0.0))
        vn = vel[axis]
        return jnp.minimum(vl[axis] - cl, vn - c), jnp.maximum(vr[axis] + cr, vn + c)

    def reflect(self, u, axis):
        return add_to_channel(u, 1 + axis, -2 * u[1 + axis])

    def to_reconstruction(self, u):
        return self.to_primitive(u)

    def from_reconstruction(self, w):
        return self.to_conserved(w)

    def admissible(self, w):
        rho, _, p = self._parts(w)
        return (rho > 0) & (p > 0)

    def hllc_star(self, u, s, s_star, axis):
        """Toro's HLLC intermediate state (eq. 10.39) on the `s` side of the contact."""
        rho, mom, energy = self._parts(u)
        p = self._pressure(rho, mom, energy)
        vel = [m / rho for m in mom]
        vn = vel[axis]
        inv = 1 / (s - s_star)
        factor = rho * (s - vn) * inv
        vels = [s_star if a == axis else vel[a] for a in range(self.ndim)]
        # Toro's E* = factor (E/ρ + (S* - u)(S* + p / (ρ (S - u)))), with factor · p / (ρ (S - u))
        # written as p / (S - S*): no division by S - u, which vanishes for a side at rest
        # with no pressure
        star_energy = factor * (energy / rho + (s_star - vn) * s_star) + (s_star - vn) * p * inv
        return jnp.stack([factor, *[factor * v for v in vels], star_energy])
