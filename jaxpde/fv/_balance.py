"""How a finite-volume scheme forms the flux divergence along one axis: plainly
conservative, or balanced against a source (shallow water over a bed)."""

import abc

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array

from ._util import add_to_channel
from ._util import take as _take


class AbstractBalance(eqx.Module):
    """A strategy for ``-∂_a F_a(u)`` (plus any source it must balance) along one axis of
    a [`FiniteVolume`][jaxpde.fv.FiniteVolume]. A law chooses its own through ``law.balance()``."""

    @property
    def plain_flux_divergence(self) -> bool:
        """Whether ``-∂_a F_a(u)`` is the whole balance: the faces carry nothing but the
        numerical flux of the reconstructed values (single-stage steps such as
        [`MUSCLHancock`][jaxpde.fv.MUSCLHancock] rely on it). Returns ``False`` unless a
        strategy says otherwise."""
        return False

    @abc.abstractmethod
    def check(self, law, grid) -> None:
        """Raise ``ValueError`` if the strategy cannot serve `law` on `grid`."""

    @abc.abstractmethod
    def axis_term(self, fv, u: Array, axis: int) -> Array:
        """The contribution of spatial `axis` to ``du/dt`` at the cell averages `u` ``(C, *N)``."""

    @abc.abstractmethod
    def pointwise_term(self, law, field, x: Array) -> Array:
        """The local form of the same terms at the point `x` ``(d,)`` of a pointwise field
        ``field: x -> (C,)``, by autodiff (PINN-style residuals); ``(C,)``."""


class Conservative(AbstractBalance):
    """``-(F_{i+½} - F_{i-½}) / Δx``: reconstruct the faces, apply the numerical flux."""

    @property
    def plain_flux_divergence(self) -> bool:
        """Returns ``True``: the faces carry only the numerical flux."""
        return True

    def check(self, law, grid):
        pass

    def pointwise_term(self, law, field, x):
        import jax

        du = 0.0
        for axis in range(x.shape[0]):
            e = jnp.zeros_like(x).at[axis].set(1.0)
            du = du - jax.jvp(lambda y, a=axis: law.flux(field(y), a), (x,), (e,))[1]
        return du

    def axis_term(self, fv, u, axis):
        law = fv.law
        ext = fv.pad(u, axis, fv.reconstruction.num_ghost)
        wl, wr = fv.faces(law.to_reconstruction(ext), axis)
        flux = fv.riemann_solver(law, law.from_reconstruction(wl), law.from_reconstruction(wr), axis)
        n = u.shape[axis + 1]
        return -(_take(flux, 1, n, axis + 1) - _take(flux, 0, n, axis + 1)) / fv.grid.spacing[axis]


class HydrostaticReconstruction(AbstractBalance):
    """Shallow water over a bed ``b`` (``law.bathymetry``), well balanced: the hydrostatic
    reconstruction of Audusse, Bouchut, Bristeau, Klein & Perthame (SIAM J. Sci. Comput.
    25, 2004) in second-order form. Reconstruct ``(h, 𝐮, η = h + b)``, set ``b = η - h``
    at faces, cut the depths at ``max(b_L, b_R)``, and add the face pressure corrections
    and the centred bed-slope source ``-g h ∂_a b``; the lake at rest (``h + b = const``,
    ``𝐮 = 0``) is kept exactly with any reconstruction and Riemann solver."""

    def check(self, law, grid):
        if tuple(law.bathymetry.shape) != grid.shape:
            raise ValueError(f"bathymetry has shape {tuple(law.bathymetry.shape)}, the grid has {grid.shape}.")

    def pointwise_term(self, law, field, x):
        raise ValueError(
            "the well-balanced shallow-water terms have no pointwise form here (the bed enters through "
            "reconstructed faces); PINN-style residuals need a plainly conservative law."
        )

    def axis_term(self, fv, u, axis):
        law = fv.law
        g = fv.reconstruction.num_ghost
        ax = axis + 1
        n = u.shape[ax]
        b = fv.pad_field(law.bathymetry.astype(u.dtype), axis, g)
        prim = law.to_primitive(fv.pad(u, axis, g))
        w = jnp.concatenate([prim, (prim[0] + b)[None]])
        wl, wr = fv.faces(w, axis)
        hl, hr = wl[0], wr[0]
        bl, br = wl[-1] - hl, wr[-1] - hr
        b_star = jnp.maximum(bl, br)
        hl_star = jnp.maximum(0.0, wl[-1] - b_star)
        hr_star = jnp.maximum(0.0, wr[-1] - b_star)
        ul_star = law.to_conserved(jnp.concatenate([hl_star[None], wl[1:-1]]))
        ur_star = law.to_conserved(jnp.concatenate([hr_star[None], wr[1:-1]]))
        flux = fv.riemann_solver(law, ul_star, ur_star, axis)
        half_g = 0.5 * law.gravity
        f_minus = add_to_channel(flux, 1 + axis, half_g * (hl**2 - hl_star**2))  # seen by the cell on the left
        f_plus = add_to_channel(flux, 1 + axis, half_g * (hr**2 - hr_star**2))  # seen by the cell on the right
        dx = fv.grid.spacing[axis]
        du = -(_take(f_minus, 1, n, ax) - _take(f_plus, 0, n, ax)) / dx
        h_in, h_out = _take(hr, 0, n, axis), _take(hl, 1, n, axis)  # depth at each cell's lower/upper face
        b_in, b_out = _take(br, 0, n, axis), _take(bl, 1, n, axis)
        return add_to_channel(du, 1 + axis, -law.gravity * 0.5 * (h_in + h_out) * (b_out - b_in) / dx)
