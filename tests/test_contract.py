"""One contract, run over every stepper and model the library has: spectral (ETDRK,
ExactLinear), Hamiltonian (Störmer-Verlet), the explicit Runge-Kutta steppers on spectral
and finite-volume PDEs, learned (OperatorStepper, PDERefiner) and corrected (CorrectedStepper)
steppers, every registered equation and conservation law, and the neural operators:
shapes, dtypes, finite output, jit == eager, vmap == loop, float32 in -> float32 out
close to float64, refusal of a batched state with a hint, and the derivative with respect
to the state against central differences (float64)."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxpde as jp
from jaxpde import fv, ic, nn
from jaxpde import spectral as S
from jaxpde.integrate import RK4, SSPRK2, SSPRK3, ForwardEuler

g1 = jp.PeriodicGrid(32, 20.0)
g2 = jp.PeriodicGrid(16, ndim=2)
g3 = jp.PeriodicGrid(8, ndim=3)
KEY = jax.random.key(0)

STEPPERS = {
    "diffusion-exact": lambda: S.ExactLinear(S.Diffusion(g2, 0.01), 0.1),
    "advection-exact-3d": lambda: S.ExactLinear(S.Advection(g3, (1.0, 0.5, -0.2)), 0.1),
    "advdiff-etdrk2": lambda: S.ETDRK(S.AdvectionDiffusion(g1, 0.5, 0.01), 0.05, order=2),
    "dispersion-etdrk1": lambda: S.ETDRK(S.Dispersion(g1, 0.01), 0.05, order=1),
    "hyperdiffusion-etdrk3": lambda: S.ETDRK(S.HyperDiffusion(g1, 0.01), 0.05, order=3),
    "burgers2d-etdrk4": lambda: S.ETDRK(S.Burgers(g2, 0.05), 0.02),
    "ks2d-etdrk4": lambda: S.ETDRK(S.KuramotoSivashinsky(g2), 0.05),
    "allen_cahn": lambda: S.ETDRK(S.AllenCahn(g2, 0.01), 0.05),
    "cahn_hilliard": lambda: S.ETDRK(S.CahnHilliard(g2, 0.01), 0.001),
    "swift_hohenberg": lambda: S.ETDRK(S.SwiftHohenberg(g2), 0.05),
    "gray_scott": lambda: S.ETDRK(S.GrayScott(g2, diffusivity_u=2e-3, diffusivity_v=1e-3), 0.5),
    "ks-substeps": lambda: S.ETDRK(S.KuramotoSivashinsky(g1), 0.1, substeps=2),
    "klein_gordon2d-verlet": lambda: S.StormerVerlet(S.KleinGordon(g2, "sine_gordon"), 0.05),
    "burgers-ssprk3": lambda: SSPRK3(S.Burgers(g1, 0.05), 0.01),
    "ks-rk4": lambda: RK4(S.KuramotoSivashinsky(g1), 0.005),
    "fno-operator-stepper": lambda: nn.OperatorStepper(nn.FNO(1, 1, modes=6, width=8, depth=2, key=KEY), 0.1),
    "unet2d-operator-stepper": lambda: nn.OperatorStepper(nn.UNet(1, 1, width=4, levels=1, ndim=2, key=KEY), 0.1),
    "fno-pde-refiner": lambda: nn.PDERefiner(nn.FNO(3, 1, modes=6, width=8, depth=2, key=KEY), 0.1, num_refinements=2),
    "unet2d-pde-refiner": lambda: nn.PDERefiner(
        nn.UNet(3, 1, width=4, levels=1, ndim=2, key=KEY), 0.1, num_refinements=2, min_noise=0.01
    ),
    "corrected-etdrk2": lambda: nn.CorrectedStepper(
        S.ETDRK(S.Burgers(g1, 0.05), 0.05, order=2), nn.FNO(1, 1, modes=6, width=8, depth=1, key=KEY)
    ),
}

# the explicit Runge-Kutta steppers on a finite-volume PDE with a wall and an inflow (the
# high-order scheme once; the other steppers on the first-order one, which compiles faster)
_gc = jp.CellGrid(24)
_euler = fv.Euler(1.4)
_bc = [("reflective", fv.Inflow(_euler.to_conserved(jnp.array([0.5, 0.0, 0.4]))))]
_sod = fv.FiniteVolume(_euler, _gc, fv.MUSCL("van_leer"), fv.HLLC(), bc=_bc)
_sod1 = fv.FiniteVolume(_euler, _gc, fv.PiecewiseConstant(), fv.Rusanov(), bc=_bc)
STEPPERS["fv-euler-muscl-hllc-ssprk3"] = lambda: SSPRK3(_sod, 0.004)
STEPPERS["fv-euler-muscl-hancock"] = lambda: fv.MUSCLHancock(_sod, 0.004)
for _cls in (ForwardEuler, SSPRK2, RK4):
    STEPPERS[f"fv-euler-{_cls.__name__.lower()}"] = lambda c=_cls: c(_sod1, 0.004)


def _registered_equation(name):
    """The registry's equation on the smallest grid it accepts, with its own stepper."""
    cls = S.EQUATIONS[name]
    for grid in (g1, g2):
        try:
            pde = cls(grid)
        except (TypeError, ValueError):
            continue
        if isinstance(pde, S.AbstractHamiltonianPDE):
            return S.StormerVerlet(pde, 0.01)
        return S.ETDRK(pde, 1e-3)
    raise AssertionError(f"{name}: no default construction on a 1D or 2D grid")


def _registered_law(name):
    """The registry's law in 1D with its default parameters, a robust scheme and SSP-RK2."""
    law = fv.LAWS[name](ndim=1)
    return SSPRK2(fv.FiniteVolume(law, _gc, fv.MUSCL("minmod"), fv.HLL(), bc="periodic"), 1e-3)


for _name in S.EQUATIONS:
    STEPPERS[f"equation:{_name}"] = lambda n=_name: _registered_equation(n)
for _name in fv.LAWS:
    STEPPERS[f"law:{_name}"] = lambda n=_name: _registered_law(n)


def _pde(stepper):
    """The PDE a stepper advances (None for a purely learned one)."""
    inner = getattr(stepper, "solver", stepper)
    return getattr(inner, "pde", None)


def _state(stepper, key, dtype=jnp.float64):
    pde = _pde(stepper)
    if pde is None:  # a learned stepper on a 1D or 2D grid of one channel
        net = getattr(stepper, "model", None) or stepper.net
        shape = (1, 32) if isinstance(net, nn.FNO) else (1, 8, 8)
        return (0.5 * jax.random.normal(key, shape)).astype(dtype)
    if isinstance(pde.grid, jp.CellGrid):  # positive density and pressure, positive depth
        law = pde.law
        w = 1.0 + 0.2 * jax.random.uniform(key, (law.num_channels, *pde.grid.shape))
        if isinstance(law, fv.AbstractFluidLaw):
            w = w.at[1 : 1 + law.ndim].add(-1.0)  # small velocities
            return law.to_conserved(w).astype(dtype)
        return w.astype(dtype)
    u = ic.random_fourier(pde.grid, key=key, num_channels=pde.num_channels, max_wavenumber=2, amplitude=0.5)
    if isinstance(pde, S.GrayScott):
        u = u * 0.1 + jnp.array([1.0, 0.0]).reshape(2, *([1] * pde.grid.ndim))
    return u.astype(dtype)


# ~20 s on 2 cores: the SSP-RK3 MUSCL-HLLC step runs with the slow tests (the Hancock step, same pieces, stays)
_SLOW_STEPPERS = {"fv-euler-muscl-hllc-ssprk3", "unet2d-pde-refiner"}  # the latter ~20 s


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) if n in _SLOW_STEPPERS else n for n in STEPPERS]
)
def test_contract(name):
    stepper = STEPPERS[name]()
    assert isinstance(stepper, jp.AbstractStepper)
    u = _state(stepper, jax.random.PRNGKey(0))
    out = stepper(u)
    assert out.shape == u.shape and out.dtype == u.dtype
    assert bool(jnp.all(jnp.isfinite(out)))
    if _pde(stepper) is not None:  # the rhs agrees with the state layout
        assert _pde(stepper).rhs(0.0, u).shape == u.shape
    # jit == eager
    np.testing.assert_allclose(eqx.filter_jit(stepper)(u), out, rtol=1e-12, atol=1e-13)
    # vmap == loop
    batch = jnp.stack([_state(stepper, k) for k in jax.random.split(jax.random.PRNGKey(1), 3)])
    roll = eqx.filter_jit(lambda v: jp.rollout(stepper, v, 3))
    vm = eqx.filter_jit(jax.vmap(lambda v: jp.rollout(stepper, v, 3)))(batch)
    loop = jnp.stack([roll(v) for v in batch])
    np.testing.assert_allclose(vm, loop, rtol=1e-11, atol=1e-12)
    # float32 in, float32 out, close to float64
    u32 = u.astype(jnp.float32)
    out32 = eqx.filter_jit(stepper)(u32)
    assert out32.dtype == jnp.float32
    np.testing.assert_allclose(out32, out, rtol=1e-3, atol=1e-4 * float(jnp.max(jnp.abs(out))))
    # a batched state is refused with a hint
    with pytest.raises(ValueError, match="vmap"):
        stepper(batch)
    # the derivative in a random direction of the state agrees with central differences
    v = jax.random.normal(jax.random.PRNGKey(7), u.shape)
    f = eqx.filter_jit(lambda x: jnp.sum(jnp.sin(stepper(x))))
    h = 1e-6
    fd = (f(u + h * v) - f(u - h * v)) / (2 * h)
    g = eqx.filter_jit(jax.grad(lambda x: jnp.sum(jnp.sin(stepper(x)))))(u)
    np.testing.assert_allclose(float(jnp.vdot(g, v)), float(fd), rtol=1e-5, atol=1e-7 * float(jnp.sum(jnp.abs(out))))


@pytest.mark.parametrize("name", [n for n in STEPPERS if isinstance(STEPPERS[n](), S.AbstractFourierStepper)])
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


# ------------------------------------------------------------------ neural operators and fields
P = jnp.array([0.3, -1.2])  # PDE parameters of the conditioned model


class _Conditioned(eqx.Module):
    """Wraps a parameter-conditioned FNO into the plain (C, *N) contract for the test."""

    model: nn.FNO

    def __call__(self, u):
        return self.model(u, P)


def _trained_attention(model):
    """Move the zero-initialised last attention layers off zero, as training would, so
    that gradients reach the earlier attention layers too."""
    where = lambda m: [a.mlp.layers[-1].weight for a in m.attention]
    new = [0.1 * jax.random.normal(jax.random.fold_in(KEY, i), w.shape) for i, w in enumerate(where(model))]
    return eqx.tree_at(where, model, new)


MODELS = {
    "fno1d": (lambda: nn.FNO(2, 3, modes=5, width=8, depth=2, ndim=1, key=KEY), (2, 24), (3, 24)),
    "fno2d": (lambda: nn.FNO(1, 1, modes=(4, 3), width=6, depth=2, ndim=2, key=KEY), (1, 12, 10), (1, 12, 10)),
    "fno3d": (lambda: nn.FNO(1, 2, modes=2, width=4, depth=1, ndim=3, key=KEY), (1, 6, 6, 8), (2, 6, 6, 8)),
    "tfno_tucker2d": (
        lambda: nn.FNO(1, 1, modes=4, width=6, depth=2, ndim=2, factorisation="tucker", rank=0.5, key=KEY),
        (1, 12, 12),
        (1, 12, 12),
    ),
    "tfno_cp1d": (
        lambda: nn.FNO(1, 1, modes=5, width=6, depth=2, factorisation="cp", rank=0.3, key=KEY),
        (1, 20),
        (1, 20),
    ),
    "fno_cape1d": (
        lambda: _Conditioned(_trained_attention(nn.FNO(1, 1, modes=4, width=6, depth=2, num_parameters=2, key=KEY))),
        (1, 16),
        (1, 16),
    ),
    "unet1d": (lambda: nn.UNet(2, 1, width=4, levels=1, ndim=1, key=KEY), (2, 16), (1, 16)),
    "unet2d": (lambda: nn.UNet(1, 2, width=4, levels=1, ndim=2, key=KEY), (1, 8, 12), (2, 8, 12)),
    "dilated_resnet1d": (
        lambda: nn.DilatedResNet(1, 1, width=6, num_blocks=1, dilations=(1, 2, 1), key=KEY),
        (1, 16),
        (1, 16),
    ),
    "dilated_resnet2d": (
        lambda: nn.DilatedResNet(2, 2, width=4, num_blocks=1, dilations=(1, 2), ndim=2, key=KEY),
        (2, 8, 8),
        (2, 8, 8),
    ),
    "deeponet1d": (lambda: nn.DeepONet(1, 2, num_points=16, basis=8, width=16, depth=2, key=KEY), (1, 16), (2, 16)),
    "deeponet2d": (
        lambda: nn.DeepONet(1, 1, num_points=(6, 8), basis=8, width=16, depth=2, ndim=2, key=KEY),
        (1, 6, 8),
        (1, 6, 8),
    ),
}

# neural fields: a point x in R^d -> R^m
FIELDS = {
    "siren": (lambda: nn.SIREN(2, 3, width=16, depth=3, key=KEY), (2,), (3,)),
    "fourier_features": (
        lambda: nn.FourierFeatureMLP(2, 1, num_features=8, scale=3.0, width=16, depth=2, key=KEY),
        (2,),
        (1,),
    ),
}


def _contract(model, in_shape, out_shape):
    u = jax.random.normal(jax.random.key(1), in_shape)
    out = model(u)  # eager, once
    assert out.shape == out_shape and out.dtype == u.dtype
    jitted = eqx.filter_jit(model)
    np.testing.assert_allclose(np.asarray(jitted(u)), np.asarray(out), rtol=1e-10, atol=1e-12)
    batch = jax.random.normal(jax.random.key(2), (3, *in_shape))
    batched = eqx.filter_jit(lambda b: jax.vmap(model)(b))(batch)
    for i in range(3):
        np.testing.assert_allclose(np.asarray(batched[i]), np.asarray(jitted(batch[i])), rtol=1e-10, atol=1e-12)
    grads = eqx.filter_jit(eqx.filter_grad(lambda m: jnp.sum(jnp.sin(m(u)) + m(u) ** 2)))(model)
    for leaf in jax.tree.leaves(eqx.filter(grads, eqx.is_inexact_array)):
        assert np.all(np.isfinite(np.asarray(leaf))) and np.any(np.asarray(leaf) != 0)
    return batch


@pytest.mark.parametrize(
    "name",
    # the U-Nets (~20 s each on 2 cores) run with the slow tests
    [pytest.param(n, marks=pytest.mark.slow) if n.startswith("unet") else n for n in sorted(MODELS)],
)
def test_operator_contract(name):
    make, in_shape, out_shape = MODELS[name]
    model = make()
    batch = _contract(model, in_shape, out_shape)
    with pytest.raises(ValueError, match="vmap"):
        model(batch)


@pytest.mark.parametrize("name", sorted(FIELDS))
def test_neural_field_contract(name):
    make, in_shape, out_shape = FIELDS[name]
    _contract(make(), in_shape, out_shape)
