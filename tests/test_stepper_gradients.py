"""Gradients by construction: for every stepper the library has, however it was built,
``eqx.filter_grad`` and ``eqx.filter_jvp`` with respect to each floating-point leaf agree
with central finite differences (float64).

The steppers are built *outside* the differentiated function, as a user holding a
stepper in a model would; nothing they derive from their leaves may be a constant.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxpde as jp
from jaxpde import fv, ic, nn
from jaxpde import integrate as I
from jaxpde import spectral as S

G1 = jp.PeriodicGrid(16, 2 * np.pi)
G2 = jp.PeriodicGrid(8, ndim=2)
C1 = jp.CellGrid(16, 0.0, 1.0)
NUM_STEPS = 4


def _fno(channels, key):
    return nn.FNO(channels, channels, modes=4, width=4, depth=1, key=key)


class _Pointwise(eqx.Module):
    """A tiny smooth correction network (1x1 convolution and tanh)."""

    w: jax.Array
    b: jax.Array

    def __call__(self, u, args=None):
        return 0.1 * jnp.tanh(jnp.tensordot(self.w, u, axes=1) + self.b[:, None])


STEPPERS = {
    **{
        f"etdrk{k}-burgers": (lambda k=k: S.ETDRK(S.Burgers(G1, 0.1, convection=0.8), 0.05, order=k))
        for k in (1, 2, 3, 4)
    },
    "etdrk4-kdv-complex": lambda: S.ETDRK(S.KortewegDeVries(G1, viscosity=0.02), 0.01),
    "etdrk4-substeps-ks": lambda: S.ETDRK(
        S.KuramotoSivashinsky(jp.PeriodicGrid(16, 12.0), second_order=1.1), 0.05, substeps=2
    ),
    "etdrk4-gray-scott-2d": lambda: S.ETDRK(S.GrayScott(G2, diffusivity_u=2e-2, diffusivity_v=1e-2), 0.2),
    "etdrk4-kolmogorov": lambda: S.ETDRK(S.kolmogorov_flow(G2, 0.05, forcing_wavenumber=1), 0.05),
    "exact-advection-diffusion": lambda: S.ExactLinear(S.AdvectionDiffusion(G1, 0.7, 0.05), 0.1),
    "exact-diffusion-2d": lambda: S.ExactLinear(S.Diffusion(G2, 0.05), 0.1),
    "stormer-verlet": lambda: S.StormerVerlet(S.KleinGordon(G1, "phi4", wave_speed=1.1, mass=0.3, coupling=0.7), 0.05),
    **{
        f"{n}-spectral-burgers": (lambda c=c: c(S.Burgers(G1, 0.1), 0.01))
        for n, c in (("euler", I.ForwardEuler), ("ssprk2", I.SSPRK2), ("ssprk3", I.SSPRK3), ("rk4", I.RK4))
    },
    **{
        f"{n}-fv-burgers": (lambda c=c: c(fv.FiniteVolume(fv.Burgers(0.05), C1, fv.WENO5(), fv.Rusanov()), 0.005))
        for n, c in (("euler", I.ForwardEuler), ("rk4", I.RK4))
    },
    "ssprk3-fv-euler": lambda: I.SSPRK3(fv.FiniteVolume(fv.Euler(1.4), C1, fv.PiecewiseConstant(), fv.HLL()), 0.002),
    "ssprk2-fv-shallow-water-bed": lambda: I.SSPRK2(
        fv.FiniteVolume(
            fv.ShallowWater(9.81, bathymetry=0.1 * jnp.exp(-50 * (C1.axis_centres(0) - 0.5) ** 2)),
            C1,
            fv.PiecewiseConstant(),
            fv.HLL(),
            bc="reflective",
        ),
        0.002,
    ),
    "operator-fno": lambda: nn.OperatorStepper(_fno(1, jax.random.PRNGKey(1)), 0.05),
    "corrected-etdrk": lambda: nn.CorrectedStepper(
        S.ETDRK(S.Burgers(G1, 0.1), 0.05),
        _Pointwise(0.3 * jax.random.normal(jax.random.PRNGKey(2), (1, 1)), jnp.array([0.05])),
    ),
}


def _initial_state(stepper):
    pde = stepper.solver.pde if isinstance(stepper, nn.CorrectedStepper) else getattr(stepper, "pde", None)
    if pde is None:  # a pure operator on G1
        return 0.5 * jnp.sin(G1.coordinates()[0])[None]
    grid = pde.grid
    shape = pde.state_shape
    if isinstance(grid, jp.CellGrid):
        x = grid.axis_centres(0)
        bump = jnp.exp(-30 * (x - 0.4) ** 2)
        if shape[0] == 3:  # Euler: smooth density and pressure, zero velocity
            rho, p = 1.0 + 0.2 * bump, 1.0 + 0.3 * bump
            return jnp.stack([rho, 0.1 * rho, p / 0.4 + 0.5 * rho * 0.01])
        if shape[0] == 2:  # shallow water: lake plus a bump, at rest
            return jnp.stack([1.0 + 0.05 * bump, jnp.zeros_like(x)])
        return (0.5 + 0.3 * bump)[None]
    u = ic.random_fourier(grid, key=jax.random.PRNGKey(0), num_channels=shape[0], max_wavenumber=2, amplitude=0.4)
    if shape[0] == 2 and isinstance(pde, S.GrayScott):
        u = 0.1 * u + jnp.array([1.0, 0.2]).reshape(2, 1, 1)
    return u


def _pde_of(stepper):
    if isinstance(stepper, nn.CorrectedStepper):
        return stepper.solver.pde
    return getattr(stepper, "pde", None)


def _directions(stepper):
    """Tangents to check: each floating-point leaf of the PDE alone, and one random
    direction over every floating-point leaf of the stepper (network weights included)."""
    params = eqx.filter(stepper, eqx.is_inexact_array)
    leaves, treedef = jax.tree.flatten(params)
    pde_ids = {id(x) for x in jax.tree.leaves(eqx.filter(_pde_of(stepper), eqx.is_inexact_array))}
    # each leaf's part scaled to the leaf's own magnitude, so one step size fits all
    rand = [
        jax.random.normal(jax.random.fold_in(jax.random.PRNGKey(11), i), x.shape, x.dtype)
        * max(float(jnp.max(jnp.abs(x))), 1e-2)
        for i, x in enumerate(leaves)
    ]
    out = {}
    for i, x in enumerate(leaves):
        if id(x) in pde_ids:
            out[f"pde leaf {i} {x.shape}"] = [
                r if j == i else jnp.zeros_like(y) for j, (r, y) in enumerate(zip(rand, leaves))
            ]
    out["all leaves"] = rand
    assert len(out) == len(pde_ids) + 1
    return {k: (jax.tree.unflatten(treedef, v), 1e-5) for k, v in out.items()}


def _dot(a, b):
    return sum(jnp.sum(x * y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


# the heaviest cases (2D, finite-volume systems) run with the slow validation (-m slow, also in CI);
# every kind of stepper keeps a case in the default suite
HEAVY = {
    "ssprk3-fv-euler",
    "ssprk2-fv-shallow-water-bed",
    "etdrk4-gray-scott-2d",
    "etdrk4-kolmogorov",
    "rk4-fv-burgers",
}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in HEAVY else n for n in STEPPERS])
def test_stepper_gradient_matches_central_differences(name):
    stepper = STEPPERS[name]()
    u0 = _initial_state(stepper)
    weights = jax.random.normal(jax.random.PRNGKey(5), u0.shape)
    params, static = eqx.partition(stepper, eqx.is_inexact_array)

    def stepper_loss(st):
        return jnp.sum(weights * jp.rollout_final(st, u0, NUM_STEPS))

    # the equinox idiom on the stepper as built, in both modes
    grad = eqx.filter(eqx.filter_jit(eqx.filter_grad(stepper_loss))(stepper), eqx.is_inexact_array)
    jvp = eqx.filter_jit(lambda t: eqx.filter_jvp(stepper_loss, (stepper,), (t,))[1])
    # central differences: one compiled function for every shifted evaluation
    shifted = jax.jit(lambda t, s: stepper_loss(eqx.combine(jax.tree.map(lambda p, d: p + s * d, params, t), static)))
    directions = _directions(stepper)
    derivs = {k: (float(_dot(grad, t)), float(jvp(t))) for k, (t, _) in directions.items()}
    floor = 1e-6 * max(max(abs(r), abs(f)) for r, f in derivs.values())
    for k, (t, eps) in directions.items():
        fd = float((shifted(t, eps) - shifted(t, -eps)) / (2 * eps))
        reverse, forward = derivs[k]
        tol = 1e-6 * max(abs(fd), floor)
        np.testing.assert_allclose(reverse, fd, rtol=0, atol=tol, err_msg=f"{name}: reverse mode, {k}")
        np.testing.assert_allclose(forward, fd, rtol=0, atol=tol, err_msg=f"{name}: forward mode, {k}")
    # the PDE's coefficients matter: at least one has a nonzero derivative
    pde_derivs = [abs(r) for k, (r, _) in derivs.items() if k.startswith("pde")]
    if _pde_of(stepper) is not None:
        assert pde_derivs and max(pde_derivs) > 1e-8


def test_issue_snippet_prebuilt_equals_fresh():
    """The equinox idiom: a stepper built outside, differentiated with filter_grad."""
    grid = jp.PeriodicGrid(64)
    u0 = jnp.sin(grid.coordinates()[0])[None]
    stepper = S.ETDRK(S.Burgers(grid, viscosity=0.05), dt=0.01)
    g = eqx.filter_grad(lambda st: jnp.sum(jp.rollout_final(st, u0, 100) ** 2))(stepper)
    fresh = jax.grad(
        lambda nu: jnp.sum(jp.rollout_final(S.ETDRK(S.Burgers(grid, viscosity=nu), dt=0.01), u0, 100) ** 2)
    )(0.05)
    np.testing.assert_allclose(float(g.pde.viscosity), float(fresh), rtol=1e-8)
    assert abs(float(fresh)) > 1.0
    # a single call and a jitted call agree too
    one = eqx.filter_grad(lambda st: jnp.sum(st(u0) ** 2))(stepper).pde.viscosity
    one_fresh = jax.grad(lambda nu: jnp.sum(S.ETDRK(S.Burgers(grid, viscosity=nu), dt=0.01)(u0) ** 2))(0.05)
    np.testing.assert_allclose(float(one), float(one_fresh), rtol=1e-10)
    jitted = eqx.filter_jit(eqx.filter_grad(lambda st: jnp.sum(jp.rollout_final(st, u0, 100) ** 2)))(stepper)
    np.testing.assert_allclose(float(jitted.pde.viscosity), float(fresh), rtol=1e-8)


def test_prepare_is_idempotent_and_not_stored_at_construction():
    stepper = S.ETDRK(S.Burgers(G1, 0.1), 0.05)
    assert stepper.coefficients is None
    prepared = stepper.prepare()
    assert prepared.prepare() is prepared
    u = jnp.sin(G1.coordinates()[0])[None]
    np.testing.assert_allclose(prepared(u), stepper(u), rtol=1e-14, atol=1e-15)


def test_corrected_stepper_learns_viscosity_jointly_with_its_network():
    """Solver-in-the-loop with a learnable physical parameter: data from ν = 0.08; the
    model starts at ν = 0.03 with a correction network and recovers ν."""
    grid = jp.PeriodicGrid(32)
    dt = 0.05
    truth = S.ETDRK(S.Burgers(grid, 0.08), dt)
    keys = jax.random.split(jax.random.PRNGKey(3), 8)
    u0s = jnp.stack([ic.random_fourier(grid, key=k, max_wavenumber=3, amplitude=0.8) for k in keys])
    trajs = jax.vmap(lambda u: jp.rollout(truth, u, 6))(u0s)  # (B, 7, 1, 32)
    net = _Pointwise(0.01 * jax.random.normal(jax.random.PRNGKey(4), (1, 1)), jnp.zeros(1))
    model = nn.CorrectedStepper(S.ETDRK(S.Burgers(grid, 0.03), dt), net)

    def loss(m):
        pred = jax.vmap(lambda u: jp.rollout(m, u, 6))(trajs[:, 0])
        return jnp.mean((pred - trajs) ** 2)

    opt = optax.adam(3e-3)
    state = opt.init(eqx.filter(model, eqx.is_inexact_array))

    @eqx.filter_jit
    def step(m, s):
        value, g = eqx.filter_value_and_grad(loss)(m)
        updates, s = opt.update(g, s, eqx.filter(m, eqx.is_inexact_array))
        return eqx.apply_updates(m, updates), s, value

    first = None
    for _ in range(300):
        model, state, value = step(model, state)
        first = value if first is None else first
    assert float(value) < 1e-3 * float(first)
    np.testing.assert_allclose(float(model.solver.pde.viscosity), 0.08, rtol=2e-2)
