"""The single-stage MUSCL-Hancock step: equal to van Leer's limited Lax-Wendroff scheme
for linear advection (independent NumPy implementations), second order on smooth data,
more accurate than MUSCL + SSP-RK2 on Sod at half the fluxes, conservative, positive,
and differentiable (float64 finite differences)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxpde as jp
from jaxpde import fv


def _van_leer(dm, dp):
    prod = dm * dp
    total = np.where(dm + dp != 0, dm + dp, 1.0)
    return np.where(prod > 0, 2 * prod / total, 0.0)


def _limited_lax_wendroff(v, courants):
    """One step of van Leer's limited Lax-Wendroff scheme along each axis of a periodic
    array `v` (positive Courant numbers), the axes' fluxes summed from the same state."""
    out = v.copy()
    for axis, c in enumerate(courants):
        slope = _van_leer(v - np.roll(v, 1, axis), np.roll(v, -1, axis) - v)
        face = v + 0.5 * (1 - c) * slope  # upper face of each cell, from upwind
        out = out - c * (face - np.roll(face, 1, axis))
    return out


def _advection(shape, velocity, riemann=None, limiter="van_leer"):
    grid = jp.CellGrid(shape)
    law = fv.LinearAdvection(velocity, ndim=len(shape))
    return fv.FiniteVolume(law, grid, fv.MUSCL(limiter), riemann or fv.Rusanov(), bc="periodic")


@pytest.mark.parametrize("shape,velocity", [((48,), (1.0,)), ((24, 16), (1.0, 0.5))])
def test_linear_advection_is_the_limited_lax_wendroff_scheme(shape, velocity):
    rng = np.random.default_rng(0)
    v = rng.uniform(size=shape)
    v[tuple(slice(2, 9) for _ in shape)] += 1.0  # a plateau: the limiter acts
    pde = _advection(shape, velocity)
    dt = 0.35 * min(pde.grid.spacing)
    courants = [a * dt / h for a, h in zip(velocity, pde.grid.spacing)]
    stepper = fv.MUSCLHancock(pde, dt, transverse=False)
    step = jax.jit(lambda u: stepper(u))
    u = jnp.asarray(v[None])
    for _ in range(15):
        u = step(u)
        v = _limited_lax_wendroff(v, courants)
    np.testing.assert_allclose(np.asarray(u[0]), v, rtol=0, atol=1e-13)


def test_unsplit_step_is_second_order_and_the_dimensional_one_first_order_obliquely():
    """Unlimited slopes on a smooth periodic profile advected obliquely (dt ∝ h). Without
    the transverse terms the cross derivative of the Lax-Wendroff expansion is missing,
    so the dimension-by-dimension scheme (jax-cfd's van Leer scheme) is first order."""
    velocity = (1.0, 0.5)

    def error(n, transverse):
        pde = _advection((n, n), velocity, limiter="none")
        f = lambda x, y: np.sin(2 * np.pi * x) * np.cos(2 * np.pi * y)  # noqa: E731
        u0 = pde.grid.cell_average(f, order=4)[None]
        steps = n  # t = 0.4
        u = jp.rollout_final(fv.MUSCLHancock(pde, 0.4 / steps, transverse=transverse), jnp.asarray(u0), steps)
        exact = pde.grid.cell_average(lambda x, y: f(x - velocity[0] * 0.4, y - velocity[1] * 0.4), order=4)
        return float(np.abs(np.asarray(u[0]) - exact).mean())

    for transverse, order in ((True, 2), (False, 1)):
        e = [error(n, transverse) for n in (16, 32, 64)]
        orders = np.log2(np.asarray(e[:-1]) / np.asarray(e[1:]))
        # measured: 2.66, 2.38 (tending to 2) with, 0.98, 1.00 without
        assert np.all(orders > order - 0.1) and orders[-1] < order + 0.5, (transverse, e, orders)


@pytest.mark.slow  # ~15 s: three grids
def test_euler_smooth_wave_second_order_and_conservative():
    law = fv.Euler(1.4, ndim=2)

    def run(n):
        grid = jp.CellGrid((n, n))
        pde = fv.FiniteVolume(law, grid, fv.MUSCL("mc"), fv.HLLC(), bc="periodic")
        u0 = fv.density_wave(law, grid, velocity=(1.0, 0.5))
        u = jp.solve_to(pde, u0, 0.2, cfl=0.8, stepper="muscl_hancock", differentiable=False)
        shifted = grid.cell_average(
            lambda x, y: 1 + 0.2 * np.sin(2 * np.pi * ((x - 0.2) + (y - 0.1))), order=4
        )  # the density at t = 0.2
        np.testing.assert_allclose(grid.integrate(u), grid.integrate(u0), rtol=1e-13, atol=1e-13)
        return float(np.abs(np.asarray(u[0]) - shifted).mean())

    e = [run(n) for n in (16, 32, 64)]
    orders = np.log2(np.asarray(e[:-1]) / np.asarray(e[1:]))
    assert np.all(orders > 1.8), (e, orders)


def test_sod_more_accurate_than_ssprk2_at_half_the_fluxes():
    left, right, x0, t_final = fv.SOD
    law = fv.Euler(1.4)
    grid = jp.CellGrid(400)
    (x,) = grid.coordinates()
    exact = fv.exact_riemann(left, right, np.asarray(x), t_final, x0=x0)
    u0 = fv.riemann_problem(law, grid, left, right, x0)
    pde = fv.FiniteVolume(law, grid, fv.MUSCL("mc"), fv.HLLC(), bc="outflow")
    err = {}
    for name, stepper, cfl in (("hancock", "muscl_hancock", 0.9), ("ssprk2", "ssprk2", 0.5)):
        sol = jp.solve_to(pde, u0, t_final, cfl=cfl, stepper=stepper, differentiable=False, full_output=True)
        err[name] = float(np.abs(np.asarray(sol.u[0]) - exact[0]).mean())
        err[name + "_steps"] = int(sol.num_steps)
    # measured: 1.32e-3 in 99 steps against 1.46e-3 in 178 two-stage steps
    assert err["hancock"] < err["ssprk2"] < 2e-3, err
    assert err["hancock_steps"] < 0.6 * err["ssprk2_steps"], err


def test_toro_123_stays_positive():
    left, right, x0, t_final = fv.TORO_123
    law = fv.Euler(1.4)
    grid = jp.CellGrid(200)
    pde = fv.FiniteVolume(law, grid, fv.MUSCL("mc"), fv.HLLC(), bc="outflow")
    u = jp.solve_to(pde, fv.riemann_problem(law, grid, left, right, x0), t_final, cfl=0.9, stepper="muscl_hancock")
    w = law.to_primitive(u)
    assert float(w[0].min()) > 0 and float(w[-1].min()) > 0


def test_fixed_cells_are_held_and_sources_enter():
    law = fv.Euler(1.4)
    grid = jp.CellGrid(32)
    u0 = fv.riemann_problem(law, grid, *fv.SOD[:3])
    pde = fv.FiniteVolume(law, grid, fv.MUSCL("mc"), fv.HLLC(), bc=(("fixed", "outflow"),))
    u = jp.rollout_final(fv.MUSCLHancock(pde, 2e-3), u0, 20)
    np.testing.assert_array_equal(np.asarray(u[:, 0]), np.asarray(u0[:, 0]))
    # a uniform state with a constant source gains exactly dt * source per step
    still = jnp.ones((3, 16)) * jnp.asarray([1.0, 0.0, 2.5])[:, None]
    source = jnp.asarray([0.1, 0.2, 0.3])[:, None]
    pde = fv.FiniteVolume(law, jp.CellGrid(16), fv.MUSCL("mc"), fv.HLLC(), source=source)
    u = fv.MUSCLHancock(pde, 0.01)(still)
    np.testing.assert_allclose(np.asarray(u), np.asarray(still + 0.01 * source), rtol=1e-14)


@pytest.mark.parametrize("transverse", [pytest.param(True, marks=pytest.mark.slow), False])  # True: ~18 s
def test_periodic_axis_commutes_with_shifts_and_forcing_reaches_every_cell(transverse):
    """A shift along the periodic axis of both the state and a cell-varying forcing shifts
    the step (the ghost cells, which the step without transverse terms evolves in place,
    see the forcing of the cells they copy), and the increment is the same whether the
    forcing comes as `args` or as the `source`."""
    law = fv.Euler(1.4, ndim=2)
    grid = jp.CellGrid((12, 10))
    rng = np.random.default_rng(0)
    u0 = fv.density_wave(law, grid, velocity=(1.0, 0.5))
    u0 = u0 * (1 + 0.1 * jnp.asarray(rng.normal(size=u0.shape)))
    force = jnp.asarray(rng.normal(size=u0.shape))
    bc = ("periodic", ("reflective", "outflow"))
    pde = fv.FiniteVolume(law, grid, fv.MUSCL("mc"), fv.HLLC(), bc=bc)
    step = fv.MUSCLHancock(pde, 2e-3, transverse=transverse)
    ref = step(u0, force)
    for k in (1, 5):
        shifted = step(jnp.roll(u0, k, axis=1), jnp.roll(force, k, axis=1))
        np.testing.assert_allclose(np.asarray(shifted), np.roll(np.asarray(ref), k, axis=1), rtol=1e-13, atol=1e-14)
    sourced = fv.FiniteVolume(law, grid, fv.MUSCL("mc"), fv.HLLC(), bc=bc, source=force)
    np.testing.assert_allclose(
        np.asarray(fv.MUSCLHancock(sourced, 2e-3, transverse=transverse)(u0)), np.asarray(ref), rtol=1e-13
    )
    assert not np.allclose(np.asarray(ref), np.asarray(step(u0)))


@pytest.mark.slow  # ~22 s per case on 2 cores; tests/test_contract.py checks the state gradient by default
@pytest.mark.parametrize("transverse", [True, False])
def test_gradients_match_finite_differences(transverse):
    grid = jp.CellGrid((8, 6))
    u0 = fv.density_wave(fv.Euler(1.4, ndim=2), grid, velocity=(1.0, 0.5))
    u0 = u0 * (1 + 0.05 * jnp.asarray(np.random.default_rng(1).normal(size=u0.shape)))
    w = jnp.asarray(np.random.default_rng(2).normal(size=u0.shape))

    @jax.jit
    def loss(u, gamma):
        pde = fv.FiniteVolume(fv.Euler(gamma, ndim=2), grid, fv.MUSCL("mc"), fv.HLLC(), bc=("reflective", "periodic"))
        return jnp.sum(w * jp.rollout_final(fv.MUSCLHancock(pde, 0.01, transverse=transverse), u, 4))

    g_u, g_gamma = jax.jit(jax.grad(loss, argnums=(0, 1)))(u0, 1.4)
    direction = jnp.asarray(np.random.default_rng(3).normal(size=u0.shape))
    eps = 1e-6
    fd = (loss(u0 + eps * direction, 1.4) - loss(u0 - eps * direction, 1.4)) / (2 * eps)
    np.testing.assert_allclose(float(jnp.sum(g_u * direction)), float(fd), rtol=1e-7)
    fd = (loss(u0, 1.4 + eps) - loss(u0, 1.4 - eps)) / (2 * eps)
    np.testing.assert_allclose(float(g_gamma), float(fd), rtol=1e-7)


def test_errors_are_clear():
    grid = jp.CellGrid(16)
    with pytest.raises(ValueError, match="WENO5 is not"):
        fv.MUSCLHancock(fv.FiniteVolume(fv.Euler(), grid, fv.WENO5(), fv.HLLC()), 0.01)
    with pytest.raises(ValueError, match="viscous"):
        fv.MUSCLHancock(fv.FiniteVolume(fv.Burgers(viscosity=0.01), grid, fv.MUSCL()), 0.01)
    bed = np.zeros(16)
    with pytest.raises(ValueError, match="plainly conservative"):
        fv.MUSCLHancock(fv.FiniteVolume(fv.ShallowWater(bathymetry=bed), grid, fv.MUSCL(), fv.HLLC()), 0.01)
    with pytest.raises(TypeError, match="FiniteVolume"):
        fv.MUSCLHancock(jp.integrate.SSPRK2, 0.01)
    with pytest.raises(ValueError, match="muscl_hancock"):
        jp.solve_to(fv.FiniteVolume(fv.Euler(), grid), jnp.ones((3, 16)), 0.1, stepper="nope")


def test_scalar_step_pads_each_axis_once_in_the_compiled_program():
    """On one channel the step is one fusion reading shifts of the padded state; the padded
    state must be written once per axis, not once per shift (XLA splits a sliced
    concatenation into copies unless the padding is kept whole)."""
    import re

    n = 32
    pde = fv.FiniteVolume(
        fv.LinearAdvection((1.0, 0.5), ndim=2), jp.CellGrid((n, n)), fv.MUSCL("van_leer"), fv.Godunov(), bc="periodic"
    )
    for transverse in (False, True):
        step = fv.MUSCLHancock(pde, 0.01, transverse=transverse)
        txt = jax.jit(lambda u, step=step: step(u)).lower(jnp.zeros((1, n, n), jnp.float32)).compile().as_text()
        entry = txt[txt.index("ENTRY") :]
        # the padded copies: concatenations (or fusions rooted in one) of the state
        copies = re.findall(r"^\s*%\S*concatenate\S* = f32\[([\d,]+)\]", entry, re.M)
        # the state padded by 2 along each axis (before: a copy per shift, 6 arrays), and
        # with transverse terms the evolved state padded by 1 along each axis
        assert len(copies) == (4 if transverse else 2), (transverse, copies)


def test_scalar_gradients_match_finite_differences():
    """The kept-whole padding of a one-channel state passes derivatives through: the
    gradient of a few van Leer steps with respect to the state and the velocity."""
    grid = jp.CellGrid((12, 10))
    rng = np.random.default_rng(4)
    u0 = jnp.asarray(rng.normal(size=(1, 12, 10)))
    w = jnp.asarray(rng.normal(size=u0.shape))

    @jax.jit
    def loss(u, a):
        law = fv.LinearAdvection((a, 0.5), ndim=2)
        pde = fv.FiniteVolume(law, grid, fv.MUSCL("van_leer"), fv.Godunov(), bc="periodic")
        return jnp.sum(w * jp.rollout_final(fv.MUSCLHancock(pde, 0.02, transverse=False), u, 3))

    g_u, g_a = jax.jit(jax.grad(loss, argnums=(0, 1)))(u0, 1.0)
    direction = jnp.asarray(rng.normal(size=u0.shape))
    eps = 1e-6
    fd = (loss(u0 + eps * direction, 1.0) - loss(u0 - eps * direction, 1.0)) / (2 * eps)
    np.testing.assert_allclose(float(jnp.sum(g_u * direction)), float(fd), rtol=1e-6)
    fd = (loss(u0, 1.0 + eps) - loss(u0, 1.0 - eps)) / (2 * eps)
    np.testing.assert_allclose(float(g_a), float(fd), rtol=1e-6)


def test_float32_state_is_stepped_in_float32_with_x64_on():
    """A float64 coefficient (the velocity, built while x64 is on) must not lift a float32
    state's arithmetic to float64: no float64 array in the traced step."""
    import re

    n = 16
    law = fv.LinearAdvection((1.0, 0.5), ndim=2)
    assert law.velocity.dtype == jnp.float64  # tests/conftest.py turns x64 on
    pde = fv.FiniteVolume(law, jp.CellGrid((n, n)), fv.MUSCL("van_leer"), fv.Godunov(), bc="periodic")
    for step in (fv.MUSCLHancock(pde, 0.01), jp.integrate.SSPRK2(pde, 0.01)):
        u = jnp.zeros((1, n, n), jnp.float32)
        txt = jax.jit(lambda u, step=step: step(u)).lower(u).as_text()
        assert not re.findall(r"tensor<(?:\d+x){2,}f64>", txt)  # arrays of cells or faces
        assert step(u).dtype == jnp.float32
