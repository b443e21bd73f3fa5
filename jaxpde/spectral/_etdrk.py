"""Exponential time differencing Runge-Kutta steppers (Cox & Matthews 2002)."""

import abc

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array

from .._abstract import AbstractStepper
from .._checks import check_dt as _check_dt
from .._checks import check_int
from .._types import Args, Field, SpectralField
from ._phi import phi_functions
from ._semilinear import AbstractLinearPDE, AbstractSemilinearPDE


def _cast(c, like: Array):
    """Cast a coefficient to the (complex or real) precision of the spectral state."""
    real = jnp.finfo(like.dtype).dtype
    if jnp.iscomplexobj(c):
        return jnp.asarray(c).astype(like.dtype)
    return jnp.asarray(c).astype(real)


def _with_coefficients(stepper, coeffs):
    if stepper.coefficients is not None:  # already prepared
        return stepper
    return eqx.tree_at(lambda s: s.coefficients, stepper, coeffs, is_leaf=lambda x: x is None)


class AbstractFourierStepper(AbstractStepper):
    """A stepper whose natural state is the rfft of the field.

    Its carry is the Fourier state, so [`jaxpde.rollout`][jaxpde.rollout] stays in Fourier space
    between steps and transforms back only the frames it saves.
    """

    pde: eqx.AbstractVar[AbstractSemilinearPDE]

    @abc.abstractmethod
    def step_fourier(self, u_hat: SpectralField, args: Args = None) -> SpectralField:
        """Advance the Fourier-space state by `dt` (all substeps)."""

    def init_carry(self, u: Field) -> SpectralField:
        self.pde.check_state(u)
        return self.pde.grid.rfft(u)

    def step_carry(self, carry: SpectralField, args: Args = None) -> SpectralField:
        return self.step_fourier(carry, args)

    def read_carry(self, carry: SpectralField) -> Field:
        return self.pde.grid.irfft(carry)

    def __call__(self, u: Field, args: Args = None) -> Field:
        return self.read_carry(self.step_fourier(self.init_carry(u), args)).astype(u.dtype)


class ETDRK(AbstractFourierStepper):
    r"""Exponential time differencing Runge-Kutta stepper of order 1-4 for
    ``u_t = L u + N(u)`` with diagonal (possibly complex) ``L``.

    The linear part is integrated exactly; the nonlinear part by the schemes of
    Cox & Matthews, "Exponential time differencing for stiff systems", J. Comput.
    Phys. 176 (2002): ETD1 (exponential Euler), ETD2 (ETD2RK), ETD3RK and ETDRK4.
    Coefficients ``h φ_k(hL)`` come from Kassam-Trefethen contour integrals (see
    [`phi_functions`][jaxpde.spectral.phi_functions]; float64 when the PDE's coefficients are
    concrete) and are cast to the state's precision at each step; complex symbols keep
    complex coefficients.

    **Arguments:**

    - `pde`: an [`AbstractSemilinearPDE`][jaxpde.spectral.AbstractSemilinearPDE].
    - `dt`: time step of one call (``> 0``).
    - `order`: 1, 2, 3 or 4.
    - `substeps`: internal steps of size ``dt / substeps`` per call.
    - `num_contour_points`, `contour_radius`: trapezoidal rule on the contour.

    **Gradients by construction.** The coefficients are derived from the PDE's leaves
    when the stepper is used, never stored at construction: a single call computes
    them, and [`jaxpde.rollout`][jaxpde.rollout] computes them once per rollout through
    `prepare`. So ``eqx.filter_grad`` with respect to a stepper (or a model
    holding one) gives the derivative with respect to, e.g., the viscosity wherever the
    stepper was built. Differentiable: every floating-point leaf of `pde`.
    """

    pde: AbstractSemilinearPDE
    dt: float
    order: int = eqx.field(static=True)
    substeps: int = eqx.field(static=True)
    num_contour_points: int = eqx.field(static=True)
    contour_radius: float = eqx.field(static=True)
    coefficients: tuple | None

    def __init__(
        self,
        pde: AbstractSemilinearPDE,
        dt,
        *,
        order: int = 4,
        substeps: int = 1,
        num_contour_points: int = 32,
        contour_radius: float = 1.0,
    ):
        if not isinstance(pde, AbstractSemilinearPDE):
            raise TypeError(f"ETDRK needs an AbstractSemilinearPDE, got {type(pde).__name__}.")
        if order not in (1, 2, 3, 4):
            raise ValueError(f"ETDRK order must be 1, 2, 3 or 4, got {order!r}.")
        self.pde = pde
        self.dt = _check_dt(dt)
        self.order = int(order)
        self.substeps = check_int(substeps, "substeps")
        self.num_contour_points = check_int(num_contour_points, "num_contour_points", minimum=4)
        self.contour_radius = float(contour_radius)
        self.coefficients = None

    def compute_coefficients(self) -> tuple:
        """The φ-function coefficients of one substep, derived from the current leaves.

        When the leaves are concrete (a stepper closed over by a jitted function) they
        are evaluated once, in float64, at trace time; when they are traced (a stepper
        passed to ``jit`` or differentiated) they are part of the computation, so
        derivatives reach the PDE's coefficients.
        """
        with jax.ensure_compile_time_eval():
            return self._coefficients_now()

    def _coefficients_now(self) -> tuple:
        h = self.dt / self.substeps
        L = self.pde.linear_symbol()
        kw = dict(num_points=self.num_contour_points, radius=self.contour_radius)
        if self.order == 1:
            e, p1 = phi_functions(h * L, 1, **kw)
            coeffs = (e, h * p1)
        elif self.order == 2:
            e, p1, p2 = phi_functions(h * L, 2, **kw)
            coeffs = (e, h * p1, h * p2)
        else:
            e2, p1h = phi_functions(h * L / 2, 1, **kw)
            e, p1, p2, p3 = phi_functions(h * L, 3, **kw)
            f1 = h * (p1 - 3 * p2 + 4 * p3)
            f2 = h * (p2 - 2 * p3)
            f3 = h * (4 * p3 - p2)
            if self.order == 3:
                coeffs = (e2, h / 2 * p1h, e, h * p1, f1, 4 * f2, f3)
            else:
                coeffs = (e2, h / 2 * p1h, e, f1, 2 * f2, f3)
        return tuple(jnp.asarray(c) for c in coeffs)

    def prepare(self) -> "ETDRK":
        return self if self.coefficients is not None else _with_coefficients(self, self.compute_coefficients())

    def _single_step(self, u_hat, args, c):
        N = lambda v: self.pde.nonlinear(v, args)  # noqa: E731
        if self.order == 1:
            e, q = c
            return e * u_hat + q * N(u_hat)
        if self.order == 2:
            e, q1, q2 = c
            n0 = N(u_hat)
            a = e * u_hat + q1 * n0
            return a + q2 * (N(a) - n0)
        if self.order == 3:
            e2, q2, e, q, f1, f2, f3 = c
            n0 = N(u_hat)
            a = e2 * u_hat + q2 * n0
            na = N(a)
            b = e * u_hat + q * (2 * na - n0)
            nb = N(b)
            return e * u_hat + f1 * n0 + f2 * na + f3 * nb
        e2, q2, e, f1, f2, f3 = c
        n0 = N(u_hat)
        eu = e2 * u_hat
        a = eu + q2 * n0
        na = N(a)
        b = eu + q2 * na
        nb = N(b)
        cc = e2 * a + q2 * (2 * nb - n0)
        nc = N(cc)
        return e * u_hat + f1 * n0 + f2 * (na + nb) + f3 * nc

    def step_fourier(self, u_hat: SpectralField, args: Args = None) -> SpectralField:
        coeffs = self.coefficients if self.coefficients is not None else self.compute_coefficients()
        c = tuple(_cast(ci, u_hat) for ci in coeffs)
        # coefficient leaves may be wider than the state (e.g. float64 viscosity, float32
        # state): keep the state's precision so scans see a fixed carry type
        one = lambda _, v: self._single_step(v, args, c).astype(u_hat.dtype)  # noqa: E731
        if self.substeps == 1:
            return one(0, u_hat)
        return jax.lax.fori_loop(0, self.substeps, one, u_hat)


class ExactLinear(AbstractFourierStepper):
    r"""The exact step of a linear PDE ``u_t = L u + f`` with constant forcing ``f``:

    ``û(t + dt) = e^{dt L} û(t) + dt φ_1(dt L) f̂``.

    Exact to round-off for any ``dt`` (no time-discretisation error).

    **Arguments:**

    - `pde`: an [`AbstractLinearPDE`][jaxpde.spectral.AbstractLinearPDE] (diffusion, advection, dispersion, ...).
    - `dt`: time step.
    - `num_contour_points`, `contour_radius`: the contour integral of ``φ_1`` (see
      [`phi_functions`][jaxpde.spectral.phi_functions]).

    The coefficients are derived from the PDE's leaves at use (once per rollout), so
    derivatives with respect to every floating-point leaf of `pde` are exact wherever
    the stepper was built.
    """

    pde: AbstractLinearPDE
    dt: float
    num_contour_points: int = eqx.field(static=True)
    contour_radius: float = eqx.field(static=True)
    coefficients: tuple | None

    def __init__(self, pde: AbstractLinearPDE, dt, *, num_contour_points: int = 32, contour_radius: float = 1.0):
        if not isinstance(pde, AbstractLinearPDE):
            raise TypeError(
                f"ExactLinear needs a linear PDE (AbstractLinearPDE), got {type(pde).__name__}; "
                "use ETDRK for nonlinear equations."
            )
        self.pde = pde
        self.dt = _check_dt(dt)
        self.num_contour_points = check_int(num_contour_points, "num_contour_points", minimum=4)
        self.contour_radius = float(contour_radius)
        self.coefficients = None

    def compute_coefficients(self) -> tuple:
        """``(e^{dt L}, dt φ_1(dt L))`` derived from the current leaves (see
        [`ETDRK.compute_coefficients`][jaxpde.spectral.ETDRK.compute_coefficients])."""
        with jax.ensure_compile_time_eval():
            e, p1 = phi_functions(
                self.dt * self.pde.linear_symbol(), 1, num_points=self.num_contour_points, radius=self.contour_radius
            )
            return (jnp.asarray(e), jnp.asarray(self.dt * p1))

    def prepare(self) -> "ExactLinear":
        return self if self.coefficients is not None else _with_coefficients(self, self.compute_coefficients())

    def step_fourier(self, u_hat: SpectralField, args: Args = None) -> SpectralField:
        coeffs = self.coefficients if self.coefficients is not None else self.compute_coefficients()
        e, q = (_cast(c, u_hat) for c in coeffs)
        out = e * u_hat
        if args is not None:
            out = out + q * self.pde.forcing_hat(args, u_hat.dtype)
        return out.astype(u_hat.dtype)
