"""Second-order-in-time Hamiltonian fields and the Störmer-Verlet stepper."""

import abc
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from .._abstract import AbstractPDE, AbstractStepper
from .._checks import check_dt as _check_dt
from .._checks import check_int, check_periodic_grid
from .._types import Args, Field
from ..grids import PeriodicGrid
from ._registry import EQUATIONS
from ._semilinear import as_coefficient


class AbstractHamiltonianPDE(AbstractPDE):
    """``φ_tt = L φ + F(φ) + f`` with state ``(2, *N) = (φ, π = φ_t)``.

    ``L`` is a real, non-positive Fourier multiplier (`linear_symbol`) and
    ``F(φ) = -V'(φ)`` a local nonlinear force (`nonlinear_force`), so without
    forcing the energy ``H = ∫ π²/2 - φ L φ / 2 + V(φ) dx`` is conserved. A forcing or
    control ``f`` enters through ``args``: ``None`` or a physical-space array
    broadcastable to ``(*N)``, added to the force.
    """

    grid: eqx.AbstractVar[PeriodicGrid]

    @property
    def num_channels(self):
        return 2

    @abc.abstractmethod
    def linear_symbol(self) -> Array:
        """Real multiplier ``L(k) <= 0`` broadcastable to ``grid.rfft_shape``."""

    @abc.abstractmethod
    def nonlinear_force(self, phi: Array) -> Array:
        """``F(φ) = -V'(φ)``."""

    @abc.abstractmethod
    def potential(self, phi: Array) -> Array:
        """Local potential density ``V(φ)``."""

    def force(self, phi: Array, args: Args = None) -> Array:
        """``L φ + F(φ) + f``, with ``f`` from ``args`` (``0`` when ``None``)."""
        lin = self.grid.irfft(self.linear_symbol() * self.grid.rfft(phi))
        return self.forcing(lin + self.nonlinear_force(phi), args)

    def forcing(self, force: Array, args: Args = None) -> Array:
        """Add the forcing from ``args`` to a force field."""
        if args is None:
            return force
        return force + jnp.broadcast_to(jnp.asarray(args), force.shape)

    def rhs(self, t, u: Field, args: Args = None) -> Field:
        self.check_state(u)
        return jnp.stack([u[1], self.force(u[0], args).astype(u.dtype)])

    def energy(self, u: Field) -> Array:
        """The conserved Hamiltonian ``∫ π²/2 - φ L φ/2 + V(φ) dx`` (spectral quadrature)."""
        self.check_state(u)
        phi, pi = u[0], u[1]
        lin = self.grid.irfft(self.linear_symbol() * self.grid.rfft(phi))
        density = 0.5 * pi**2 - 0.5 * phi * lin + self.potential(phi)
        return jnp.sum(density) * self.grid.cell_volume


@EQUATIONS.register("klein_gordon")
class KleinGordon(AbstractHamiltonianPDE):
    r"""Nonlinear Klein-Gordon ``φ_tt = c² Δφ - m² φ - V'(φ)`` (1D, 2D or 3D).

    Potentials: ``"phi4"``: ``V = (λ/4)(φ² - 1)²`` (kinks ``φ = tanh(√(λ/2) x)``);
    ``"sine_gordon"``: ``V = λ (1 - cos φ)`` (breathers, kinks); ``"none"``: linear.

    Differentiable: `wave_speed` (c), `mass` (m), `coupling` (λ).

    **Arguments:**

    - `grid`: a [`PeriodicGrid`][jaxpde.PeriodicGrid] (1D-3D). The state is ``(2, *N)``: ``(φ, φ_t)``.
    - `potential`: ``"phi4"``, ``"sine_gordon"`` or ``"none"``.
    - `wave_speed`: ``c``; `mass`: ``m``; `coupling`: ``λ``.
    """

    grid: PeriodicGrid
    wave_speed: Array
    mass: Array
    coupling: Array
    potential_name: str = eqx.field(static=True)

    def __init__(self, grid, potential="phi4", *, wave_speed=1.0, mass=0.0, coupling=1.0):
        if potential not in ("phi4", "sine_gordon", "none"):
            raise ValueError(f"potential must be 'phi4', 'sine_gordon' or 'none', got {potential!r}.")
        self.grid = check_periodic_grid(grid, "KleinGordon")
        self.potential_name = potential
        self.wave_speed = as_coefficient(wave_speed, "wave_speed")
        self.mass = as_coefficient(mass, "mass")
        self.coupling = as_coefficient(coupling, "coupling")

    def linear_symbol(self):
        return -(self.wave_speed**2) * self.grid.wavenumber_norm_squared() - self.mass**2

    def potential(self, phi):
        if self.potential_name == "phi4":
            return 0.25 * self.coupling * (phi**2 - 1) ** 2
        if self.potential_name == "sine_gordon":
            return self.coupling * (1 - jnp.cos(phi))
        return jnp.zeros_like(phi)

    def nonlinear_force(self, phi):
        if self.potential_name == "phi4":
            return -self.coupling * (phi**3 - phi)
        if self.potential_name == "sine_gordon":
            return -self.coupling * jnp.sin(phi)
        return jnp.zeros_like(phi)

    def max_frequency(self) -> float:
        """Largest linear frequency ``sqrt(c² |k|²_max + m²)`` (concrete parameters only)."""
        k2 = float(np.max(self.grid.wavenumber_norm_squared()))
        return math.sqrt(float(self.wave_speed) ** 2 * k2 + float(self.mass) ** 2)


class StormerVerlet(AbstractStepper):
    r"""Symplectic Störmer-Verlet (velocity Verlet) pseudo-spectral stepper for
    ``φ_tt = L φ + F(φ)``:

    ``π_{1/2} = π + h/2 f(φ)``,  ``φ' = φ + h π_{1/2}``,  ``π' = π_{1/2} + h/2 f(φ')``,

    with the linear force evaluated spectrally. The force at the end of a step is the
    one the next step starts with, so the rollout carry holds it: one force
    evaluation per step. Second order, time-reversible and
    symplectic: the energy error stays bounded (no drift) for stable ``h``, which
    requires ``h ω_max < 2`` (checked when parameters are concrete).

    **Arguments:**

    - `pde`: an [`AbstractHamiltonianPDE`][jaxpde.spectral.AbstractHamiltonianPDE] such as
      [`KleinGordon`][jaxpde.spectral.KleinGordon].
    - `dt`: time step. `substeps`: internal steps per call.

    Reference: E. Hairer, C. Lubich, G. Wanner, "Geometric numerical integration
    illustrated by the Störmer-Verlet method", Acta Numerica 12 (2003).
    """

    pde: AbstractHamiltonianPDE
    dt: float
    substeps: int = eqx.field(static=True)

    def __init__(self, pde: AbstractHamiltonianPDE, dt, *, substeps: int = 1):
        if not isinstance(pde, AbstractHamiltonianPDE):
            raise TypeError(f"StormerVerlet needs an AbstractHamiltonianPDE, got {type(pde).__name__}.")
        self.pde = pde
        self.dt = _check_dt(dt)
        self.substeps = check_int(substeps, "substeps")
        h = self.dt / self.substeps
        if not isinstance(h, jax.core.Tracer) and hasattr(pde, "max_frequency"):
            try:
                w = pde.max_frequency()
            except jax.errors.ConcretizationTypeError:
                w = None
            if w is not None and h * w >= 2:
                raise ValueError(
                    f"StormerVerlet is unstable for dt/substeps = {h:g}: it needs dt * ω_max < 2 with "
                    f"ω_max = {w:.4g}; use dt < {2 / w:.4g} or more substeps."
                )

    def init_carry(self, u: Field):
        """``(φ, π, L φ + F(φ))``: the unforced force is reused by the next step."""
        self.pde.check_state(u)
        return u[0], u[1], self.pde.force(u[0]).astype(u.dtype)

    def step_carry(self, carry, args: Args = None):
        h = self.dt / self.substeps
        dtype = carry[0].dtype

        def one(_, state):
            phi, pi, f = state
            pi = pi + 0.5 * h * self.pde.forcing(f, args)
            phi = phi + h * pi
            f = self.pde.force(phi)
            pi = pi + 0.5 * h * self.pde.forcing(f, args)
            return phi.astype(dtype), pi.astype(dtype), f.astype(dtype)

        return jax.lax.fori_loop(0, self.substeps, one, carry)

    def read_carry(self, carry) -> Field:
        return jnp.stack(carry[:2])

    def __call__(self, u: Field, args: Args = None) -> Field:
        return self.read_carry(self.step_carry(self.init_carry(u), args)).astype(u.dtype)
