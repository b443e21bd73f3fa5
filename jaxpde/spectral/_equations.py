"""The semilinear PDE zoo. Every class states its PDE; array fields are differentiable.

All equations take ``dealias`` (fraction of modes kept by the de-aliasing rule; ``2/3``
by default, ``1`` disables it) and accept a physical-space forcing through ``args``.
"""

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from .. import pointwise as pw
from .._abstract import AbstractPointwise
from .._checks import check_int, check_periodic_grid
from .._types import Args, SpectralField
from ..grids import PeriodicGrid
from ._registry import EQUATIONS
from ._semilinear import AbstractLinearPDE, AbstractSemilinearPDE, as_coefficient, check_dealias


def _velocity(value, ndim: int, name: str) -> Array:
    v = as_coefficient(value, name, scalar=False)
    if v.ndim == 0:
        v = jnp.full((ndim,), v)
    if v.shape != (ndim,):
        raise ValueError(f"{name} must be a scalar or have one entry per axis ({ndim}), got shape {v.shape}.")
    return v


def _ik(grid: PeriodicGrid) -> tuple[np.ndarray, ...]:
    return tuple(1j * k for k in grid.wavenumbers(zero_nyquist=True))


def _k2(grid: PeriodicGrid) -> np.ndarray:
    return grid.wavenumber_norm_squared()


# ----------------------------------------------------------------------------- linear
@EQUATIONS.register("diffusion")
class Diffusion(AbstractLinearPDE, AbstractPointwise):
    r"""Diffusion (heat equation) ``u_t = ν Δu``. Differentiable: `diffusivity`.

    **Arguments:**

    - `grid`: a [`PeriodicGrid`][jaxpde.PeriodicGrid] (1D-3D).
    - `diffusivity`: ``ν ≥ 0``.
    - `num_channels`: independent fields evolved alike (default 1).
    - `dealias`: fraction of the modes kept by the de-aliasing rule (``2/3``; ``1`` disables it).
    """

    grid: PeriodicGrid
    diffusivity: Array
    channels: int = eqx.field(static=True)
    dealias: float = eqx.field(static=True)

    def __init__(self, grid, diffusivity=0.01, *, num_channels: int = 1, dealias=2 / 3):
        self.grid = check_periodic_grid(grid, "Diffusion")
        self.diffusivity = as_coefficient(diffusivity, "diffusivity", minimum=0.0)
        self.channels = check_int(num_channels, "num_channels")
        self.dealias = check_dealias(dealias)

    @property
    def num_channels(self):
        return self.channels

    def linear_symbol(self):
        return -self.diffusivity * _k2(self.grid)

    def pointwise_rhs(self, field, x, args=None):
        return self.diffusivity * pw.laplacian(field, x)


@EQUATIONS.register("advection")
class Advection(AbstractLinearPDE):
    r"""Linear advection ``u_t + c · ∇u = 0`` with constant velocity ``c`` (one entry per
    axis, or a scalar used on every axis). Differentiable: `velocity`.

    **Arguments:**

    - `grid`: a [`PeriodicGrid`][jaxpde.PeriodicGrid] (1D-3D).
    - `velocity`: ``c``, a scalar or one entry per axis.
    - `num_channels`: independent fields evolved alike (default 1).
    - `dealias`: fraction of the modes kept by the de-aliasing rule (``2/3``; ``1`` disables it).
    """

    grid: PeriodicGrid
    velocity: Array
    channels: int = eqx.field(static=True)
    dealias: float = eqx.field(static=True)

    def __init__(self, grid, velocity=1.0, *, num_channels: int = 1, dealias=2 / 3):
        self.grid = check_periodic_grid(grid, "Advection")
        self.velocity = _velocity(velocity, grid.ndim, "velocity")
        self.channels = check_int(num_channels, "num_channels")
        self.dealias = check_dealias(dealias)

    @property
    def num_channels(self):
        return self.channels

    def linear_symbol(self):
        return -sum(self.velocity[i] * ik for i, ik in enumerate(_ik(self.grid)))


@EQUATIONS.register("advection_diffusion")
class AdvectionDiffusion(AbstractLinearPDE):
    r"""Advection-diffusion ``u_t + c · ∇u = ν Δu``. Differentiable: `velocity`, `diffusivity`.

    **Arguments:**

    - `grid`: a [`PeriodicGrid`][jaxpde.PeriodicGrid] (1D-3D).
    - `velocity`: ``c``, a scalar or one entry per axis.
    - `diffusivity`: ``ν ≥ 0``.
    - `num_channels`: independent fields evolved alike (default 1).
    - `dealias`: fraction of the modes kept by the de-aliasing rule (``2/3``; ``1`` disables it).
    """

    grid: PeriodicGrid
    velocity: Array
    diffusivity: Array
    channels: int = eqx.field(static=True)
    dealias: float = eqx.field(static=True)

    def __init__(self, grid, velocity=1.0, diffusivity=0.01, *, num_channels: int = 1, dealias=2 / 3):
        self.grid = check_periodic_grid(grid, "AdvectionDiffusion")
        self.velocity = _velocity(velocity, grid.ndim, "velocity")
        self.diffusivity = as_coefficient(diffusivity, "diffusivity", minimum=0.0)
        self.channels = check_int(num_channels, "num_channels")
        self.dealias = check_dealias(dealias)

    @property
    def num_channels(self):
        return self.channels

    def linear_symbol(self):
        adv = sum(self.velocity[i] * ik for i, ik in enumerate(_ik(self.grid)))
        return -adv - self.diffusivity * _k2(self.grid)


@EQUATIONS.register("dispersion")
class Dispersion(AbstractLinearPDE):
    r"""Linear dispersion ``u_t = a Σ_i ∂³u/∂x_i³`` (Airy equation in 1D). The symbol
    ``-i a Σ k_i³`` is purely imaginary. Differentiable: `coefficient`.

    **Arguments:**

    - `grid`: a [`PeriodicGrid`][jaxpde.PeriodicGrid] (1D-3D).
    - `coefficient`: ``a``.
    - `num_channels`: independent fields evolved alike (default 1).
    - `dealias`: fraction of the modes kept by the de-aliasing rule (``2/3``; ``1`` disables it).
    """

    grid: PeriodicGrid
    coefficient: Array
    channels: int = eqx.field(static=True)
    dealias: float = eqx.field(static=True)

    def __init__(self, grid, coefficient=0.01, *, num_channels: int = 1, dealias=2 / 3):
        self.grid = check_periodic_grid(grid, "Dispersion")
        self.coefficient = as_coefficient(coefficient, "coefficient")
        self.channels = check_int(num_channels, "num_channels")
        self.dealias = check_dealias(dealias)

    @property
    def num_channels(self):
        return self.channels

    def linear_symbol(self):
        return self.coefficient * sum(ik**3 for ik in _ik(self.grid))


@EQUATIONS.register("hyper_diffusion")
class HyperDiffusion(AbstractLinearPDE):
    r"""Hyper-diffusion ``u_t = -μ Δ²u``. Differentiable: `coefficient`.

    **Arguments:**

    - `grid`: a [`PeriodicGrid`][jaxpde.PeriodicGrid] (1D-3D).
    - `coefficient`: ``μ ≥ 0``.
    - `num_channels`: independent fields evolved alike (default 1).
    - `dealias`: fraction of the modes kept by the de-aliasing rule (``2/3``; ``1`` disables it).
    """

    grid: PeriodicGrid
    coefficient: Array
    channels: int = eqx.field(static=True)
    dealias: float = eqx.field(static=True)

    def __init__(self, grid, coefficient=1e-4, *, num_channels: int = 1, dealias=2 / 3):
        self.grid = check_periodic_grid(grid, "HyperDiffusion")
        self.coefficient = as_coefficient(coefficient, "coefficient", minimum=0.0)
        self.channels = check_int(num_channels, "num_channels")
        self.dealias = check_dealias(dealias)

    @property
    def num_channels(self):
        return self.channels

    def linear_symbol(self):
        return -self.coefficient * _k2(self.grid) ** 2


# -------------------------------------------------------------------------- nonlinear
@EQUATIONS.register("burgers")
class Burgers(AbstractSemilinearPDE, AbstractPointwise):
    r"""Viscous Burgers.

    1D (one channel): ``u_t + b (u²/2)_x = ν u_xx`` (conservative form).
    2D/3D (``d`` channels, the velocity): ``u_t + b (u · ∇) u = ν Δu``.

    Differentiable: `viscosity`, `convection` (``b``).

    **Arguments:**

    - `grid`: a [`PeriodicGrid`][jaxpde.PeriodicGrid] (1D-3D; ``d`` channels in ``d`` dimensions).
    - `viscosity`: ``ν ≥ 0``.
    - `convection`: ``b``.
    - `dealias`: fraction of the modes kept by the de-aliasing rule (``2/3``; ``1`` disables it).
    """

    grid: PeriodicGrid
    viscosity: Array
    convection: Array
    dealias: float = eqx.field(static=True)

    def __init__(self, grid, viscosity=0.01, *, convection=1.0, dealias=2 / 3):
        self.grid = check_periodic_grid(grid, "Burgers")
        self.viscosity = as_coefficient(viscosity, "viscosity", minimum=0.0)
        self.convection = as_coefficient(convection, "convection")
        self.dealias = check_dealias(dealias)

    @property
    def num_channels(self):
        return self.grid.ndim

    def linear_symbol(self):
        return -self.viscosity * _k2(self.grid)

    def pointwise_rhs(self, field, x, args=None):
        # 1D: u u_x is the conservative (u²/2)_x; nD: (u·∇)u = J u
        return self.viscosity * pw.laplacian(field, x) - self.convection * pw.jacobian(field, x) @ field(x)

    def nonlinear(self, u_hat: SpectralField, args: Args = None) -> SpectralField:
        iks = _ik(self.grid)
        if self.grid.ndim == 1:
            u = self.to_physical(u_hat)
            n = -0.5 * self.convection * iks[0] * self.to_fourier(u * u)
        elif self.grid.ndim == 3 and self.grid.quadratic_alias_free(self.dealias):
            # (u·∇)u = ∇·(u⊗u) - u (∇·u): the velocity and its divergence back (4
            # transforms), the 6 distinct u_i u_j and the 3 u_i ∇·u forward (9), instead of
            # 12 + 3 (in 2D both forms need 8). Both are exact on the kept modes when those
            # are free of aliasing from quadratic products; elsewhere the plain form is used.
            div_hat = sum(u_hat[j : j + 1] * iks[j] for j in range(3))
            phys = self.to_physical(jnp.concatenate([u_hat, div_hat]))
            u, div = phys[:3], phys[3]
            pairs = {(i, j): k for k, (i, j) in enumerate((i, j) for i in range(3) for j in range(i, 3))}
            prods = self.to_fourier(jnp.stack([u[i] * u[j] for i, j in pairs] + [u[i] * div for i in range(3)]))
            conv = [
                sum(iks[j] * prods[pairs[min(i, j), max(i, j)]] for j in range(3)) - prods[len(pairs) + i]
                for i in range(3)
            ]
            n = -self.convection * jnp.stack(conv)
        else:
            d = self.grid.ndim
            # velocity and its gradient in one batched inverse FFT: (d + d*d, *N)
            grads = jnp.concatenate([u_hat] + [u_hat * ik for ik in iks], axis=0)
            phys = self.to_physical(grads)
            u, g = phys[:d], phys[d:].reshape(d, d, *self.grid.shape)  # g[j, i] = ∂_j u_i
            # (u·∇)u_i = Σ_j u_j ∂_j u_i as d fused multiply-adds (an einsum over the
            # spatial batch axes becomes a batched matrix product with transposes)
            adv = sum(u[j] * g[j] for j in range(d))
            n = -self.convection * self.to_fourier(adv)
        return n + self.forcing_hat(args, u_hat.dtype)


@EQUATIONS.register("korteweg_de_vries")
class KortewegDeVries(AbstractSemilinearPDE, AbstractPointwise):
    r"""Korteweg-de Vries ``u_t + a u u_x + b u_xxx = ν u_xx`` in 1D (``a = 6, b = 1``
    gives the soliton ``u = (c/2) sech²(√c/2 (x - ct))``). Complex linear symbol
    ``i b k³ - ν k²``. Differentiable: `nonlinear_coefficient`, `dispersion`, `viscosity`.

    **Arguments:**

    - `grid`: a [`PeriodicGrid`][jaxpde.PeriodicGrid] (1D).
    - `nonlinear_coefficient`: ``a``.
    - `dispersion`: ``b``.
    - `viscosity`: ``ν ≥ 0``.
    - `dealias`: fraction of the modes kept by the de-aliasing rule (``2/3``; ``1`` disables it).
    """

    grid: PeriodicGrid
    nonlinear_coefficient: Array
    dispersion: Array
    viscosity: Array
    dealias: float = eqx.field(static=True)

    def __init__(self, grid, *, nonlinear_coefficient=6.0, dispersion=1.0, viscosity=0.0, dealias=2 / 3):
        self.grid = check_periodic_grid(grid, "KortewegDeVries", (1,))
        self.nonlinear_coefficient = as_coefficient(nonlinear_coefficient, "nonlinear_coefficient")
        self.dispersion = as_coefficient(dispersion, "dispersion")
        self.viscosity = as_coefficient(viscosity, "viscosity", minimum=0.0)
        self.dealias = check_dealias(dealias)

    @property
    def num_channels(self):
        return 1

    def linear_symbol(self):
        (ik,) = _ik(self.grid)
        return -self.dispersion * ik**3 - self.viscosity * _k2(self.grid)

    def pointwise_rhs(self, field, x, args=None):
        ux = pw.partial(field)
        return (
            -self.nonlinear_coefficient * field(x) * ux(x)
            - self.dispersion * pw.partial(field, order=3)(x)
            + self.viscosity * pw.partial(field, order=2)(x)
        )

    def nonlinear(self, u_hat, args=None):
        (ik,) = _ik(self.grid)
        u = self.to_physical(u_hat)
        return -0.5 * self.nonlinear_coefficient * ik * self.to_fourier(u * u) + self.forcing_hat(args, u_hat.dtype)


@EQUATIONS.register("kuramoto_sivashinsky")
class KuramotoSivashinsky(AbstractSemilinearPDE):
    r"""Kuramoto-Sivashinsky.

    ``form="conservative"`` (1D only): ``u_t + b (u²/2)_x + ψ₁ u_xx + ψ₂ u_xxxx = 0``.
    ``form="combustion"`` (any dimension): ``u_t + (b/2)|∇u|² + ψ₁ Δu + ψ₂ Δ²u = 0``.

    Differentiable: `convection` (``b``), `second_order` (``ψ₁``, the anti-diffusion),
    `fourth_order` (``ψ₂``, the hyper-viscosity).

    **Arguments:**

    - `grid`: a [`PeriodicGrid`][jaxpde.PeriodicGrid] (1D-3D).
    - `convection`: ``b``.
    - `second_order`: ``ψ₁``.
    - `fourth_order`: ``ψ₂ ≥ 0``.
    - `form`: ``"conservative"`` (the 1D default) or ``"combustion"`` (the default in 2D/3D).
    - `dealias`: fraction of the modes kept by the de-aliasing rule (``2/3``; ``1`` disables it).
    """

    grid: PeriodicGrid
    convection: Array
    second_order: Array
    fourth_order: Array
    form: str = eqx.field(static=True)
    dealias: float = eqx.field(static=True)

    def __init__(self, grid, *, convection=1.0, second_order=1.0, fourth_order=1.0, form=None, dealias=2 / 3):
        self.grid = check_periodic_grid(grid, "KuramotoSivashinsky")
        if form is None:
            form = "conservative" if grid.ndim == 1 else "combustion"
        if form not in ("conservative", "combustion"):
            raise ValueError(f"form must be 'conservative' or 'combustion', got {form!r}.")
        if form == "conservative" and grid.ndim != 1:
            raise ValueError("the conservative Kuramoto-Sivashinsky form is 1D only; use form='combustion'.")
        self.form = form
        self.convection = as_coefficient(convection, "convection")
        self.second_order = as_coefficient(second_order, "second_order")
        self.fourth_order = as_coefficient(fourth_order, "fourth_order", minimum=0.0)
        self.dealias = check_dealias(dealias)

    @property
    def num_channels(self):
        return 1

    def linear_symbol(self):
        k2 = _k2(self.grid)
        return self.second_order * k2 - self.fourth_order * k2**2

    def nonlinear(self, u_hat, args=None):
        iks = _ik(self.grid)
        if self.form == "conservative":
            u = self.to_physical(u_hat)
            n = -0.5 * self.convection * iks[0] * self.to_fourier(u * u)
        else:
            grad = self.to_physical(jnp.concatenate([u_hat * ik for ik in iks], axis=0))
            n = -0.5 * self.convection * self.to_fourier(jnp.sum(grad**2, axis=0, keepdims=True))
        return n + self.forcing_hat(args, u_hat.dtype)


@EQUATIONS.register("allen_cahn")
class AllenCahn(AbstractSemilinearPDE):
    r"""Allen-Cahn ``u_t = ε Δu + r (u - u³)``. Differentiable: `diffusivity` (ε), `reactivity` (r).

    **Arguments:**

    - `grid`: a [`PeriodicGrid`][jaxpde.PeriodicGrid] (1D-3D).
    - `diffusivity`: ``ε ≥ 0``.
    - `reactivity`: ``r``.
    - `dealias`: fraction of the modes kept by the de-aliasing rule (``2/3``; ``1`` disables it).
    """

    grid: PeriodicGrid
    diffusivity: Array
    reactivity: Array
    dealias: float = eqx.field(static=True)

    def __init__(self, grid, diffusivity=1e-3, *, reactivity=1.0, dealias=2 / 3):
        self.grid = check_periodic_grid(grid, "AllenCahn")
        self.diffusivity = as_coefficient(diffusivity, "diffusivity", minimum=0.0)
        self.reactivity = as_coefficient(reactivity, "reactivity")
        self.dealias = check_dealias(dealias)

    @property
    def num_channels(self):
        return 1

    def linear_symbol(self):
        return self.reactivity - self.diffusivity * _k2(self.grid)

    def nonlinear(self, u_hat, args=None):
        u = self.to_physical(u_hat)
        return -self.reactivity * self.to_fourier(u**3) + self.forcing_hat(args, u_hat.dtype)


@EQUATIONS.register("fisher_kpp")
class FisherKPP(AbstractSemilinearPDE):
    r"""Fisher-KPP ``u_t = D Δu + r u (1 - u)``. Differentiable: `diffusivity`, `reactivity`.

    **Arguments:**

    - `grid`: a [`PeriodicGrid`][jaxpde.PeriodicGrid] (1D-3D).
    - `diffusivity`: ``D ≥ 0``.
    - `reactivity`: ``r``.
    - `dealias`: fraction of the modes kept by the de-aliasing rule (``2/3``; ``1`` disables it).
    """

    grid: PeriodicGrid
    diffusivity: Array
    reactivity: Array
    dealias: float = eqx.field(static=True)

    def __init__(self, grid, diffusivity=1e-3, *, reactivity=1.0, dealias=2 / 3):
        self.grid = check_periodic_grid(grid, "FisherKPP")
        self.diffusivity = as_coefficient(diffusivity, "diffusivity", minimum=0.0)
        self.reactivity = as_coefficient(reactivity, "reactivity")
        self.dealias = check_dealias(dealias)

    @property
    def num_channels(self):
        return 1

    def linear_symbol(self):
        return self.reactivity - self.diffusivity * _k2(self.grid)

    def nonlinear(self, u_hat, args=None):
        u = self.to_physical(u_hat)
        return -self.reactivity * self.to_fourier(u * u) + self.forcing_hat(args, u_hat.dtype)


@EQUATIONS.register("cahn_hilliard")
class CahnHilliard(AbstractSemilinearPDE):
    r"""Cahn-Hilliard ``u_t = M Δ(u³ - u - γ Δu)``; conserves the mean.
    Differentiable: `mobility` (M), `gamma` (γ, the squared interface width).

    **Arguments:**

    - `grid`: a [`PeriodicGrid`][jaxpde.PeriodicGrid] (1D-3D).
    - `gamma`: ``γ ≥ 0``.
    - `mobility`: ``M ≥ 0``.
    - `dealias`: fraction of the modes kept by the de-aliasing rule (``2/3``; ``1`` disables it).
    """

    grid: PeriodicGrid
    mobility: Array
    gamma: Array
    dealias: float = eqx.field(static=True)

    def __init__(self, grid, gamma=1e-3, *, mobility=1.0, dealias=2 / 3):
        self.grid = check_periodic_grid(grid, "CahnHilliard")
        self.mobility = as_coefficient(mobility, "mobility", minimum=0.0)
        self.gamma = as_coefficient(gamma, "gamma", minimum=0.0)
        self.dealias = check_dealias(dealias)

    @property
    def num_channels(self):
        return 1

    def linear_symbol(self):
        k2 = _k2(self.grid)
        return self.mobility * (k2 - self.gamma * k2**2)

    def nonlinear(self, u_hat, args=None):
        u = self.to_physical(u_hat)
        return -self.mobility * _k2(self.grid) * self.to_fourier(u**3) + self.forcing_hat(args, u_hat.dtype)


@EQUATIONS.register("swift_hohenberg")
class SwiftHohenberg(AbstractSemilinearPDE):
    r"""Swift-Hohenberg ``u_t = r u - (k₀² + Δ)² u + g u² - u³``.
    Differentiable: `reactivity` (r), `critical_wavenumber` (k₀), `quadratic` (g).

    **Arguments:**

    - `grid`: a [`PeriodicGrid`][jaxpde.PeriodicGrid] (1D-3D).
    - `reactivity`: ``r``.
    - `critical_wavenumber`: ``k₀``.
    - `quadratic`: ``g``.
    - `dealias`: fraction of the modes kept by the de-aliasing rule (``2/3``; ``1`` disables it).
    """

    grid: PeriodicGrid
    reactivity: Array
    critical_wavenumber: Array
    quadratic: Array
    dealias: float = eqx.field(static=True)

    def __init__(self, grid, reactivity=0.7, *, critical_wavenumber=1.0, quadratic=0.0, dealias=2 / 3):
        self.grid = check_periodic_grid(grid, "SwiftHohenberg")
        self.reactivity = as_coefficient(reactivity, "reactivity")
        self.critical_wavenumber = as_coefficient(critical_wavenumber, "critical_wavenumber")
        self.quadratic = as_coefficient(quadratic, "quadratic")
        self.dealias = check_dealias(dealias)

    @property
    def num_channels(self):
        return 1

    def linear_symbol(self):
        return self.reactivity - (self.critical_wavenumber**2 - _k2(self.grid)) ** 2

    def nonlinear(self, u_hat, args=None):
        u = self.to_physical(u_hat)
        return self.to_fourier(self.quadratic * u**2 - u**3) + self.forcing_hat(args, u_hat.dtype)


@EQUATIONS.register("gray_scott")
class GrayScott(AbstractSemilinearPDE):
    r"""Gray-Scott reaction-diffusion, two species (channels ``u, v``):

    ``u_t = D_u Δu - u v² + F (1 - u)``,  ``v_t = D_v Δv + u v² - (F + κ) v``.

    Differentiable: `diffusivity_u`, `diffusivity_v`, `feed` (F), `kill` (κ).

    **Arguments:**

    - `grid`: a [`PeriodicGrid`][jaxpde.PeriodicGrid] (1D-3D; two channels).
    - `diffusivity_u`, `diffusivity_v`: ``D_u, D_v ≥ 0``.
    - `feed`: ``F``.
    - `kill`: ``κ``.
    - `dealias`: fraction of the modes kept by the de-aliasing rule (``2/3``; ``1`` disables it).
    """

    grid: PeriodicGrid
    diffusivity_u: Array
    diffusivity_v: Array
    feed: Array
    kill: Array
    dealias: float = eqx.field(static=True)

    def __init__(self, grid, *, diffusivity_u=2e-5, diffusivity_v=1e-5, feed=0.04, kill=0.06, dealias=2 / 3):
        self.grid = check_periodic_grid(grid, "GrayScott")
        self.diffusivity_u = as_coefficient(diffusivity_u, "diffusivity_u", minimum=0.0)
        self.diffusivity_v = as_coefficient(diffusivity_v, "diffusivity_v", minimum=0.0)
        self.feed = as_coefficient(feed, "feed", minimum=0.0)
        self.kill = as_coefficient(kill, "kill", minimum=0.0)
        self.dealias = check_dealias(dealias)

    @property
    def num_channels(self):
        return 2

    def linear_symbol(self):
        k2 = _k2(self.grid)
        return jnp.stack([-self.diffusivity_u * k2 - self.feed, -self.diffusivity_v * k2 - (self.feed + self.kill)])

    def nonlinear(self, u_hat, args=None):
        uv = self.to_physical(u_hat)
        u, v = uv[0], uv[1]
        r = u * v * v
        n = jnp.stack([-r + self.feed, r])
        return self.to_fourier(n) + self.forcing_hat(args, u_hat.dtype)


@EQUATIONS.register("navier_stokes_2d")
class NavierStokes2D(AbstractSemilinearPDE):
    r"""2D incompressible Navier-Stokes in vorticity form:

    ``ω_t + u · ∇ω = ν Δω - λ ω + f``,

    with vorticity ``ω = ∂_x v - ∂_y u`` (counter-clockwise positive), stream function
    ``Δψ = -ω`` and velocity ``(u, v) = (∂_y ψ, -∂_x ψ)``. State layout ``(1, N_x, N_y)``
    (axis 1 is x, axis 2 is y). ``λ`` is a linear drag.

    Optional Kolmogorov forcing: the body force ``A sin(κ y) e_x`` with
    ``κ = 2π n / L_y``, i.e. ``f = -A κ cos(κ y)`` in the vorticity equation.

    Differentiable: `viscosity`, `drag`, `forcing_amplitude`.

    The advection term is evaluated in Basdevant's form ``u·∇ω = (∂xx - ∂yy)(uv) +
    ∂x∂y(v² - u²)`` (two inverse and two forward transforms instead of four and one;
    Basdevant, J. Comput. Phys. 50, 1983) wherever the de-aliasing rule leaves the kept
    modes free of aliasing (``3K < N`` on each axis, ``K`` the largest kept index; with
    the 2/3 rule, ``N`` not divisible by 3), where it equals the plain form
    ``u ∂x ω + v ∂y ω`` to rounding; otherwise the plain form is used.

    **Arguments:**

    - `grid`: a [`PeriodicGrid`][jaxpde.PeriodicGrid] (2D).
    - `viscosity`: ``ν ≥ 0``.
    - `drag`: ``λ ≥ 0``.
    - `forcing_amplitude`: ``A`` (0: unforced).
    - `forcing_wavenumber`: ``n``, an integer.
    - `dealias`: fraction of the modes kept by the de-aliasing rule (``2/3``; ``1`` disables it).
    """

    grid: PeriodicGrid
    viscosity: Array
    drag: Array
    forcing_amplitude: Array
    forcing_wavenumber: int = eqx.field(static=True)
    dealias: float = eqx.field(static=True)

    def __init__(self, grid, viscosity=1e-3, *, drag=0.0, forcing_amplitude=0.0, forcing_wavenumber=4, dealias=2 / 3):
        self.grid = check_periodic_grid(grid, "NavierStokes2D", (2,))
        self.viscosity = as_coefficient(viscosity, "viscosity", minimum=0.0)
        self.drag = as_coefficient(drag, "drag", minimum=0.0)
        self.forcing_amplitude = as_coefficient(forcing_amplitude, "forcing_amplitude")
        self.forcing_wavenumber = check_int(forcing_wavenumber, "forcing_wavenumber")
        self.dealias = check_dealias(dealias)

    @property
    def num_channels(self):
        return 1

    def linear_symbol(self):
        return -self.viscosity * _k2(self.grid) - self.drag

    def _kolmogorov_hat(self):
        kappa = 2 * np.pi * self.forcing_wavenumber / self.grid.extent[1]
        y = self.grid.axis_coordinates(1)
        f = -kappa * np.cos(kappa * y)[None, None, :] * np.ones((1, *self.grid.shape))
        return np.fft.rfftn(f, axes=(1, 2))

    def velocity(self, omega):
        """Velocity ``(2, N_x, N_y)`` from the vorticity ``(1, N_x, N_y)``."""
        w_hat = self.grid.rfft(omega)
        ikx, iky = _ik(self.grid)
        k2 = _k2(self.grid)
        psi_hat = w_hat / np.where(k2 == 0, 1.0, k2)
        return self.grid.irfft(jnp.concatenate([iky * psi_hat, -ikx * psi_hat]))

    def nonlinear(self, u_hat, args=None):
        ikx, iky = _ik(self.grid)
        k2 = _k2(self.grid)
        inv_k2 = np.where(k2 == 0, 0.0, 1.0 / np.where(k2 == 0, 1.0, k2))
        psi_hat = u_hat * inv_k2
        if self.grid.quadratic_alias_free(self.dealias):
            # Basdevant's form (J. Comput. Phys. 50, 1983): for a divergence-free velocity
            # u·∇ω = (∂xx - ∂yy)(uv) + ∂x∂y(v² - u²), two inverse and two forward transforms
            # instead of four and one. Without aliasing both forms give the same retained
            # modes, to rounding.
            u, v = self.to_physical(jnp.concatenate([iky * psi_hat, -ikx * psi_hat]))
            prod = self.to_fourier(jnp.stack([u * v, v * v - u * u]))
            n = (iky * iky - ikx * ikx).real * prod[0:1] - (ikx * iky).real * prod[1:2]
        else:
            stack = jnp.concatenate([iky * psi_hat, -ikx * psi_hat, ikx * u_hat, iky * u_hat])
            u, v, wx, wy = self.to_physical(stack)
            n = -self.to_fourier((u * wx + v * wy)[None])
        if self.forcing_wavenumber:
            n = n + self.forcing_amplitude * self._kolmogorov_hat()
        return n + self.forcing_hat(args, u_hat.dtype)


@EQUATIONS.register("kolmogorov_flow")
def kolmogorov_flow(grid, viscosity=1e-3, *, drag=0.1, forcing_amplitude=1.0, forcing_wavenumber=4, dealias=2 / 3):
    """[`NavierStokes2D`][jaxpde.spectral.NavierStokes2D] with Kolmogorov forcing ``A sin(κ y) e_x`` and linear drag.

    **Arguments:** `grid` (2D), `viscosity` ``ν``, `drag` ``λ``, `forcing_amplitude` ``A``,
    `forcing_wavenumber` ``n`` and `dealias`, as for [`NavierStokes2D`][jaxpde.spectral.NavierStokes2D].

    **Returns:** the equation.
    """
    return NavierStokes2D(
        grid,
        viscosity,
        drag=drag,
        forcing_amplitude=forcing_amplitude,
        forcing_wavenumber=forcing_wavenumber,
        dealias=dealias,
    )
