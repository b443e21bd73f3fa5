"""The mean (zero Fourier mode) is conserved wherever the PDE conserves it.

(Vector Burgers in 2D/3D, (u·∇)u, and the combustion form of KS do not conserve it.)"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxpde as jp
from jaxpde import ic
from jaxpde.spectral import (
    ETDRK,
    Advection,
    Burgers,
    CahnHilliard,
    Diffusion,
    Dispersion,
    HyperDiffusion,
    KortewegDeVries,
    KuramotoSivashinsky,
    NavierStokes2D,
    kolmogorov_flow,
)

g1 = jp.PeriodicGrid(64, 20.0)
g2 = jp.PeriodicGrid(32, ndim=2)
CASES = {
    "diffusion": (Diffusion(g1, 0.1), g1),
    "advection": (Advection(g1, 0.5), g1),
    "dispersion": (Dispersion(g1, 0.1), g1),
    "hyper_diffusion": (HyperDiffusion(g1, 0.01), g1),
    "burgers": (Burgers(g1, 0.05), g1),
    "kdv": (KortewegDeVries(g1), g1),
    "ks": (KuramotoSivashinsky(g1), g1),
    "cahn_hilliard": (CahnHilliard(g1, 0.05), g1),
    "navier_stokes": (NavierStokes2D(g2, 0.01), g2),
    "kolmogorov_no_drag": (kolmogorov_flow(g2, 0.01, drag=0.0), g2),  # drag damps the mean
}


@pytest.mark.parametrize("name", list(CASES))
def test_mean_conserved(name):
    pde, g = CASES[name]
    u0 = (
        ic.random_fourier(
            g, key=jax.random.PRNGKey(1), num_channels=pde.num_channels, max_wavenumber=3, zero_mean=False
        )
        + 0.3
    )
    u = jp.rollout_final(ETDRK(pde, 0.01, order=4), u0, 200)
    m0 = jnp.mean(u0, axis=tuple(range(1, u0.ndim)))
    m = jnp.mean(u, axis=tuple(range(1, u.ndim)))
    assert bool(jnp.all(jnp.isfinite(u)))
    np.testing.assert_allclose(m, m0, atol=1e-12)
    # and the solution actually moved
    assert float(jnp.max(jnp.abs(u - u0))) > 1e-3


def test_allen_cahn_does_not_conserve_mean():
    # sanity check that the test above can fail: Allen-Cahn changes the mean
    from jaxpde.spectral import AllenCahn

    u0 = ic.random_fourier(g1, key=jax.random.PRNGKey(1), max_wavenumber=3, zero_mean=False, amplitude=0.5) + 0.3
    u = jp.rollout_final(ETDRK(AllenCahn(g1, 0.05), 0.01), u0, 200)
    assert abs(float(jnp.mean(u) - jnp.mean(u0))) > 1e-3
