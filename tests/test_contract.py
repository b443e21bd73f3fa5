"""One contract, run over every stepper and equation: shapes, dtypes, jit == eager,
vmap == loop, finite output, clear shape errors."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxpde as jp
from jaxpde import ic
from jaxpde import spectral as S

g1 = jp.PeriodicGrid(32, 20.0)
g2 = jp.PeriodicGrid(16, ndim=2)
g3 = jp.PeriodicGrid(8, ndim=3)

STEPPERS = {
    "diffusion-exact": lambda: S.ExactLinear(S.Diffusion(g2, 0.01), 0.1),
    "advection-exact-3d": lambda: S.ExactLinear(S.Advection(g3, (1.0, 0.5, -0.2)), 0.1),
    "advdiff-etdrk2": lambda: S.ETDRK(S.AdvectionDiffusion(g1, 0.5, 0.01), 0.05, order=2),
    "dispersion-etdrk1": lambda: S.ETDRK(S.Dispersion(g1, 0.01), 0.05, order=1),
    "hyperdiffusion-etdrk3": lambda: S.ETDRK(S.HyperDiffusion(g1, 0.01), 0.05, order=3),
    "burgers-etdrk4": lambda: S.ETDRK(S.Burgers(g1, 0.05), 0.02),
    "burgers2d-etdrk4": lambda: S.ETDRK(S.Burgers(g2, 0.05), 0.02),
    "kdv-etdrk4": lambda: S.ETDRK(S.KortewegDeVries(g1), 0.001),
    "ks-etdrk4": lambda: S.ETDRK(S.KuramotoSivashinsky(g1), 0.05),
    "ks2d-etdrk4": lambda: S.ETDRK(S.KuramotoSivashinsky(g2), 0.05),
    "allen_cahn": lambda: S.ETDRK(S.AllenCahn(g2, 0.01), 0.05),
    "fisher_kpp": lambda: S.ETDRK(S.FisherKPP(g1, 0.01), 0.05),
    "cahn_hilliard": lambda: S.ETDRK(S.CahnHilliard(g2, 0.01), 0.001),
    "swift_hohenberg": lambda: S.ETDRK(S.SwiftHohenberg(g2), 0.05),
    "gray_scott": lambda: S.ETDRK(S.GrayScott(g2, diffusivity_u=2e-3, diffusivity_v=1e-3), 0.5),
    "navier_stokes": lambda: S.ETDRK(S.kolmogorov_flow(g2, 0.01), 0.01),
    "ks-substeps": lambda: S.ETDRK(S.KuramotoSivashinsky(g1), 0.1, substeps=2),
    "klein_gordon-verlet": lambda: S.StormerVerlet(S.KleinGordon(g1, "phi4"), 0.05),
    "klein_gordon2d-verlet": lambda: S.StormerVerlet(S.KleinGordon(g2, "sine_gordon"), 0.05),
}


def _state(stepper, key, dtype=jnp.float64):
    pde = stepper.pde
    u = ic.random_fourier(pde.grid, key=key, num_channels=pde.num_channels, max_wavenumber=2, amplitude=0.5)
    if isinstance(pde, S.GrayScott):
        u = u * 0.1 + jnp.array([1.0, 0.0]).reshape(2, *([1] * pde.grid.ndim))
    return u.astype(dtype)


@pytest.mark.parametrize("name", list(STEPPERS))
def test_contract(name):
    stepper = STEPPERS[name]()
    assert isinstance(stepper, jp.AbstractStepper)
    u = _state(stepper, jax.random.PRNGKey(0))
    out = stepper(u)
    assert out.shape == u.shape and out.dtype == u.dtype
    assert bool(jnp.all(jnp.isfinite(out)))
    # the rhs agrees with the state layout
    assert stepper.pde.rhs(0.0, u).shape == u.shape
    # jit == eager
    np.testing.assert_allclose(eqx.filter_jit(stepper)(u), out, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(jax.jit(lambda s, v: s(v))(stepper, u), out, rtol=1e-12, atol=1e-13)
    # vmap == loop
    batch = jnp.stack([_state(stepper, k) for k in jax.random.split(jax.random.PRNGKey(1), 3)])
    vm = jax.vmap(lambda v: jp.rollout(stepper, v, 3))(batch)
    loop = jnp.stack([jp.rollout(stepper, v, 3) for v in batch])
    np.testing.assert_allclose(vm, loop, rtol=1e-12, atol=1e-13)
    # float32 in, float32 out, close to float64
    u32 = u.astype(jnp.float32)
    out32 = stepper(u32)
    assert out32.dtype == jnp.float32
    np.testing.assert_allclose(out32, out, rtol=1e-3, atol=1e-4 * float(jnp.max(jnp.abs(out))))
    # a batched state is refused with a hint
    with pytest.raises(ValueError, match="vmap"):
        stepper(batch)


@pytest.mark.parametrize("name", [n for n in STEPPERS if "verlet" not in n])
def test_rhs_is_consistent_with_small_step(name):
    stepper = STEPPERS[name]()
    pde = stepper.pde
    u = _state(stepper, jax.random.PRNGKey(3))
    h = 1e-6
    fine = S.ETDRK(pde, h, order=4) if not isinstance(stepper, S.ExactLinear) else S.ExactLinear(pde, h)
    np.testing.assert_allclose(
        (fine(u) - u) / h, pde.rhs(0.0, u), rtol=1e-4, atol=1e-4 * float(jnp.max(jnp.abs(pde.rhs(0.0, u))))
    )


def test_constructor_errors():
    with pytest.raises(ValueError, match="dt"):
        S.ETDRK(S.Burgers(g1), -0.1)
    with pytest.raises(ValueError, match="order"):
        S.ETDRK(S.Burgers(g1), 0.1, order=5)
    with pytest.raises(ValueError, match="substeps"):
        S.ETDRK(S.Burgers(g1), 0.1, substeps=0)
    with pytest.raises(TypeError, match="linear"):
        S.ExactLinear(S.Burgers(g1), 0.1)
    with pytest.raises(ValueError, match="2D"):
        S.NavierStokes2D(g1)
    with pytest.raises(ValueError, match="conservative"):
        S.KuramotoSivashinsky(g2, form="conservative")
    with pytest.raises(ValueError, match="dealias"):
        S.Burgers(g1, dealias=1.5)
    with pytest.raises(ValueError, match="one entry per axis"):
        S.Advection(g2, (1.0, 2.0, 3.0))
    with pytest.raises(TypeError):
        S.Burgers(g1, viscosity="a lot")


def test_forcing_through_args():
    pde = S.Diffusion(g1, 0.0)
    f = jnp.ones((1, 32)) * 2.0
    u = S.ExactLinear(pde, 0.5)(jnp.zeros((1, 32)), f)
    np.testing.assert_allclose(u, 1.0, rtol=1e-12)
    u = S.ETDRK(S.Burgers(g1, 0.0), 0.5, order=1)(jnp.zeros((1, 32)), f)
    np.testing.assert_allclose(u, 1.0, rtol=1e-12)
