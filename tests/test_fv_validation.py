"""Finite-volume validation against exact solutions (float64): Riemann problems, measured
orders, conservation, positivity, well-balancing, gradients against finite differences."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxpde as jp
from jaxpde import fv
from jaxpde.integrate import SSPRK3

EULER = fv.Euler(1.4)


@pytest.mark.parametrize(
    "case,p_star,u_star",
    [("SOD", 0.30313, 0.92745), ("LAX", 2.4661, 1.52872), ("TORO_123", 0.00189, 0.0)],
)
def test_exact_riemann_star_states(case, p_star, u_star):
    left, right, x0, t = getattr(fv, case)
    p, u = fv.riemann_star_state(left, right)
    assert abs(p - p_star) <= 5e-5 * max(1.0, p_star) and abs(u - u_star) <= 5e-5 * max(1.0, abs(u_star))
    # the sampled solution is the data far away and the star state at the contact
    x = np.array([0.0, x0 + u * t - 1e-9, x0 + u * t + 1e-9, 1.0])
    sol = fv.exact_riemann(left, right, x, t, x0=x0)
    np.testing.assert_allclose(sol[:, 0], left, rtol=1e-12)
    np.testing.assert_allclose(sol[:, -1], right, rtol=1e-12)
    np.testing.assert_allclose(sol[2, 1:3], p, rtol=1e-10)


def test_sod_exact_densities():
    p, u = fv.riemann_star_state(*fv.SOD[:2])
    x = np.array([0.5 + u * 0.2 - 1e-6, 0.5 + u * 0.2 + 1e-6])
    rho = fv.exact_riemann(*fv.SOD[:2], x, 0.2, x0=0.5)[0]
    np.testing.assert_allclose(rho, [0.42632, 0.26557], atol=1e-5)


def _sod_l1(reconstruction):
    left, right, x0, t = fv.SOD
    g = jp.CellGrid(400)
    u0 = fv.riemann_problem(EULER, g, left, right, x0)
    pde = fv.FiniteVolume(EULER, g, reconstruction, fv.HLLC(), bc="outflow")
    u = jax.jit(lambda v: jp.solve_to(pde, v, t, cfl=0.5, differentiable=False))(u0)
    exact = g.cell_average(lambda x: fv.exact_riemann(left, right, x, t, x0=x0)[0], order=8)
    return float(np.sum(np.abs(np.asarray(u[0]) - exact)) * g.spacing[0])


def test_sod_l1_muscl_hllc_ssprk3():
    err = _sod_l1(fv.MUSCL("mc"))
    print("Sod 400 cells MUSCL-MC HLLC SSPRK3 density L1", err)
    assert err <= 2e-3


def test_sod_l1_weno5z_hllc_ssprk3():
    err = _sod_l1(fv.WENO5("z"))
    print("Sod 400 cells WENO5-Z HLLC SSPRK3 density L1", err)
    assert err <= 1.5e-3


def _density_wave_errors(reconstruction, sizes, time_power):
    """L1 density error after one period of a density wave advected at u = 1 (p = 1),
    SSP-RK3 with dt ∝ dx^time_power so the time error does not mask the space error."""
    errs = []
    for n in sizes:
        g = jp.CellGrid(n)
        u0 = fv.density_wave(EULER, g, amplitude=0.2)
        pde = fv.FiniteVolume(EULER, g, reconstruction, fv.HLLC(), bc="periodic")
        max_speed = 1 + np.sqrt(1.4 / 0.8)
        steps = int(np.ceil(max_speed / (0.4 * (1 / n) ** time_power)))
        u = jax.jit(lambda v: jp.rollout_final(SSPRK3(pde, 1.0 / steps), v, steps))(u0)
        errs.append(float(np.mean(np.abs(np.asarray(u[0] - u0[0])))))
    return np.array(errs)


def _order(sizes, errs):
    return -np.polyfit(np.log(sizes), np.log(errs), 1)[0]


@pytest.mark.parametrize(
    "name,reconstruction,sizes,time_power,low,high",
    [
        ("first order", fv.PiecewiseConstant(), [128, 256, 512], 1.0, 0.85, 1.15),
        ("MUSCL-MC", fv.MUSCL("mc"), [64, 128, 256], 1.0, 1.8, 2.3),
        ("WENO5-JS", fv.WENO5("js"), [16, 32, 64], 5 / 3, 4.5, 5.5),
        ("WENO5-Z", fv.WENO5("z"), [16, 32, 64], 5 / 3, 4.5, 5.5),
    ],
)
def test_measured_orders_on_density_wave(name, reconstruction, sizes, time_power, low, high):
    errs = _density_wave_errors(reconstruction, sizes, time_power)
    order = _order(sizes, errs)
    print(name, "errors", errs, "order", order)
    assert low <= order <= high, (name, errs, order)


def test_conservation_to_round_off_2d_periodic():
    law = fv.Euler(1.4, ndim=2)
    g = jp.CellGrid((24, 20), upper=(1.0, 0.8))
    u0 = fv.riemann_2d(law, g, centre=(0.45, 0.35))
    for rec, rs in ((fv.WENO5("z"), fv.HLLC()), (fv.MUSCL("minmod"), fv.Rusanov())):
        pde = fv.FiniteVolume(law, g, rec, rs, bc="periodic")
        u = jax.jit(lambda v: jp.solve_to(pde, v, 0.15, differentiable=False))(u0)
        np.testing.assert_allclose(g.integrate(u), g.integrate(u0), rtol=0, atol=5e-14)


def test_conservation_shallow_water_and_burgers():
    g = jp.CellGrid(64, 0.0, 10.0)
    sw = fv.ShallowWater(9.81)
    u0 = fv.dam_break(sw, g, 2.0, 0.5).at[1].set(0.3)
    u = jp.solve_to(fv.FiniteVolume(sw, g, fv.WENO5(), fv.HLLC(), bc="periodic"), u0, 0.5, differentiable=False)
    np.testing.assert_allclose(g.integrate(u), g.integrate(u0), rtol=0, atol=1e-12)
    gb = jp.CellGrid(64)
    ub = jnp.asarray(gb.cell_average(lambda x: np.sin(2 * np.pi * x) + 0.5)[None])
    pde = fv.FiniteVolume(fv.Burgers(), gb, fv.MUSCL("mc"), fv.Godunov(), bc="periodic")
    u = jp.solve_to(pde, ub, 0.5, differentiable=False)  # past the shock time 1/(2π)
    np.testing.assert_allclose(gb.integrate(u), gb.integrate(ub), atol=1e-14)
    assert float(u.max()) <= float(ub.max()) + 1e-12 and float(u.min()) >= float(ub.min()) - 1e-12  # TVD


def test_burgers_shock_speed_and_viscous_decay():
    # Riemann problem u_L = 1, u_R = 0: a shock at speed 1/2 (Rankine-Hugoniot)
    g = jp.CellGrid(200, 0.0, 2.0)
    law = fv.Burgers()
    u0 = fv.riemann_problem(law, g, [1.0], [0.0], 0.5)
    u = jp.solve_to(fv.FiniteVolume(law, g, fv.WENO5(), fv.Godunov(), bc="outflow"), u0, 1.0, differentiable=False)
    position = 0.0 + g.integrate(u[0])  # mass = shock position for this data
    np.testing.assert_allclose(position, 1.0, atol=1e-12)
    # a single Fourier mode decays like exp(-ν k² t) when viscous and linearised (small amplitude)
    law = fv.Burgers(viscosity=0.05)
    g = jp.CellGrid(128)
    amp = 1e-6
    u0 = jnp.asarray(g.cell_average(lambda x: amp * np.sin(2 * np.pi * x))[None])
    u = jp.solve_to(fv.FiniteVolume(law, g, fv.WENO5(), fv.Rusanov(), bc="periodic"), u0, 0.5, differentiable=False)
    ratio = float(jnp.max(u)) / float(jnp.max(u0))
    np.testing.assert_allclose(ratio, np.exp(-0.05 * (2 * np.pi) ** 2 * 0.5), rtol=2e-3)


@pytest.mark.parametrize("case", ["SOD", "LAX", "TORO_123"])
@pytest.mark.parametrize("reconstruction", [fv.MUSCL("mc"), fv.WENO5("z")], ids=["muscl_mc", "weno5_z"])
def test_positivity(case, reconstruction):
    left, right, x0, t = getattr(fv, case)
    g = jp.CellGrid(200)
    u0 = fv.riemann_problem(EULER, g, left, right, x0)
    pde = fv.FiniteVolume(EULER, g, reconstruction, fv.HLLC(), bc="outflow")
    sol = jax.jit(lambda v: jp.solve_to(pde, v, t, cfl=0.5, differentiable=False, full_output=True))(u0)
    w = EULER.to_primitive(sol.u)
    np.testing.assert_allclose(sol.t, t, rtol=1e-14)
    assert float(w[0].min()) > 0 and float(w[-1].min()) > 0, (case, float(w[0].min()), float(w[-1].min()))
    exact = g.cell_average(lambda x: fv.exact_riemann(left, right, x, t, x0=x0)[0], order=8)
    assert np.mean(np.abs(np.asarray(w[0]) - exact)) < 1.2e-2


@pytest.mark.slow  # ~22 s: every reconstruction x flux in 1D and 2D
def test_lake_at_rest_is_preserved():
    g = jp.CellGrid(64, 0.0, 1.0)
    x = g.axis_centres(0)
    b = 0.5 * np.exp(-50 * (x - 0.5) ** 2) + 0.1 * np.sin(6 * x)
    sw = fv.ShallowWater(9.81, bathymetry=b)
    u0 = fv.lake_at_rest(sw, g, surface=1.0)
    for rec in (fv.PiecewiseConstant(), fv.MUSCL("mc"), fv.WENO5("z")):
        for rs in (fv.HLLC(), fv.HLL(), fv.Rusanov()):
            pde = fv.FiniteVolume(sw, g, rec, rs, bc="reflective")
            assert float(jnp.max(jnp.abs(pde.rhs(0.0, u0)))) < 1e-12, (rec, rs)
    # the bed is padded like the state at every kind of boundary (mirrored at walls)
    for bc in ("outflow", ("reflective", "outflow")):
        pde = fv.FiniteVolume(sw, g, fv.WENO5("js"), fv.HLLC(), bc=[bc] if isinstance(bc, tuple) else bc)
        assert float(jnp.max(jnp.abs(pde.rhs(0.0, u0)))) < 1e-12, bc
    pde = fv.FiniteVolume(sw, g, fv.WENO5("z"), fv.HLLC(), bc="periodic")
    u = jp.solve_to(pde, u0, 0.5, differentiable=False)
    np.testing.assert_allclose(u, u0, atol=1e-12)
    # 2D, periodic in x, walls in y
    g2 = jp.CellGrid((16, 12))
    xx, yy = g2.coordinates()
    b2 = 0.3 * np.exp(-20 * ((xx - 0.5) ** 2 + (yy - 0.4) ** 2))
    sw2 = fv.ShallowWater(9.81, ndim=2, bathymetry=b2)
    pde2 = fv.FiniteVolume(sw2, g2, fv.MUSCL("van_leer"), fv.HLLC(), bc=("periodic", "reflective"))
    assert float(jnp.max(jnp.abs(pde2.rhs(0.0, fv.lake_at_rest(sw2, g2))))) < 1e-12
    # a bump in the bed with a perturbed surface does move (the source term is active)
    u1 = u0.at[0].add(0.01 * np.exp(-200 * (x - 0.3) ** 2))
    assert float(jnp.max(jnp.abs(fv.FiniteVolume(sw, g, fv.WENO5(), fv.HLLC()).rhs(0.0, u1)))) > 1e-3


def _smooth_state(g):
    x = jnp.asarray(g.axis_centres(0))
    w = jnp.stack(
        [1 + 0.2 * jnp.sin(2 * jnp.pi * x), 0.5 + 0.1 * jnp.cos(2 * jnp.pi * x), 1 + 0.1 * jnp.sin(4 * jnp.pi * x + 1)]
    )
    return EULER.to_conserved(w)


@pytest.mark.parametrize(
    "reconstruction,riemann",
    [  # ~15 s each on 2 cores; tests/test_contract.py checks the state gradient by default
        pytest.param(fv.WENO5("z"), fv.HLLC(), marks=pytest.mark.slow),
        pytest.param(fv.WENO5("js"), fv.HLL(), marks=pytest.mark.slow),
    ],
    ids=["weno5z-hllc", "weno5js-hll"],
)
def test_gradient_wrt_initial_state_and_gamma_matches_finite_differences(reconstruction, riemann):
    g = jp.CellGrid(24)
    u0 = _smooth_state(g)
    target = jnp.roll(u0, 3, axis=-1)

    def loss(u, gamma):
        pde = fv.FiniteVolume(fv.Euler(gamma), g, reconstruction, riemann, bc="periodic")
        return jnp.sum((jp.rollout_final(SSPRK3(pde, 0.005), u, 30, checkpoint=True) - target) ** 2)

    f = jax.jit(loss)
    grad_u, grad_gamma = jax.jit(jax.grad(loss, argnums=(0, 1)))(u0, 1.4)
    eps = 1e-6
    fd_gamma = (f(u0, 1.4 + eps) - f(u0, 1.4 - eps)) / (2 * eps)
    np.testing.assert_allclose(grad_gamma, fd_gamma, rtol=1e-5)
    for k in range(2):
        v = jax.random.normal(jax.random.PRNGKey(k), u0.shape)
        fd_u = (f(u0 + eps * v, 1.4) - f(u0 - eps * v, 1.4)) / (2 * eps)
        np.testing.assert_allclose(jnp.vdot(grad_u, v), fd_u, rtol=1e-5)


@pytest.mark.slow  # ~65 s on 2 cores: three compiled gradients of a 40-step WENO5 solve
def test_gradient_through_cfl_adaptive_solve_to():
    g = jp.CellGrid(24)
    u0 = _smooth_state(g)
    target = jnp.roll(u0, 3, axis=-1)

    def make(differentiate_dt, checkpoint):
        def loss(u, gamma):
            pde = fv.FiniteVolume(fv.Euler(gamma), g, fv.WENO5("z"), fv.HLLC(), bc="periodic")
            uT = jp.solve_to(
                pde, u, 0.15, cfl=0.4, max_steps=40, differentiate_dt=differentiate_dt, checkpoint=checkpoint
            )
            return jnp.sum((uT - target) ** 2)

        return loss

    eps = 1e-6
    v = jax.random.normal(jax.random.PRNGKey(3), u0.shape)
    # with the step sizes differentiated, the gradient is that of the whole adaptive map
    loss = make(True, True)
    f = jax.jit(loss)
    gu, gg = jax.jit(jax.grad(loss, argnums=(0, 1)))(u0, 1.4)
    np.testing.assert_allclose(gg, (f(u0, 1.4 + eps) - f(u0, 1.4 - eps)) / (2 * eps), rtol=1e-6)
    np.testing.assert_allclose(jnp.vdot(gu, v), (f(u0 + eps * v, 1.4) - f(u0 - eps * v, 1.4)) / (2 * eps), rtol=1e-5)
    # default (dt held fixed): exact gradient of the discrete map with the taken steps,
    # within time-discretisation-sized terms of the above
    g_fixed = jax.jit(jax.grad(make(False, True), argnums=1))(u0, 1.4)
    np.testing.assert_allclose(g_fixed, gg, rtol=1e-3)
    assert abs(float(g_fixed - gg)) > 0  # the two definitions do differ
    sol = jp.solve_to(
        fv.FiniteVolume(EULER, g, fv.WENO5("z"), fv.HLLC()), u0, 0.15, cfl=0.4, max_steps=40, full_output=True
    )
    assert 10 < int(sol.num_steps) < 40
    np.testing.assert_allclose(sol.t, 0.15, rtol=1e-14)
    # the same as a fixed-step rollout with those steps: forward path == differentiable path
    fast = jp.solve_to(fv.FiniteVolume(EULER, g, fv.WENO5("z"), fv.HLLC()), u0, 0.15, cfl=0.4, differentiable=False)
    np.testing.assert_allclose(fast, sol.u, rtol=1e-13)


@pytest.mark.slow  # 40 s; float64 finite-difference gradients of the same solver stay in the default suite
def test_float32_gradients_on_a_shock_tube_are_finite_and_agree():
    """Constant regions (zero slopes, zero smoothness indicators) must give neither 0/0 nor
    ill-conditioned huge gradients in reverse mode: every reconstruction gives the same
    dloss/dγ to a few percent (they are all consistent discretisations of one problem)."""
    g = jp.CellGrid(64)
    u0 = fv.riemann_problem(fv.Euler(1.4), g, *fv.SOD[:3]).astype(jnp.float32)
    grads = {}
    for name, rec in (("weno5z", fv.WENO5("z")), ("mc", fv.MUSCL("mc"))):

        def loss(u, gamma, rec=rec):
            pde = fv.FiniteVolume(fv.Euler(gamma), g, rec, fv.HLLC(), bc="outflow")
            return jnp.sum(jp.solve_to(pde, u, 0.1, max_steps=60, checkpoint=None) ** 2)

        gu, gg = jax.jit(jax.grad(loss, argnums=(0, 1)))(u0, jnp.float32(1.4))
        assert gu.dtype == jnp.float32 and bool(jnp.all(jnp.isfinite(gu))), name
        grads[name] = float(gg)
    ref = grads["mc"]
    for value in grads.values():
        assert abs(value - ref) <= 0.05 * abs(ref), grads
