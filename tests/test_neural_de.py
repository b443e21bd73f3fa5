"""Neural ODE/SDEs (jaxpde.nn) and the solver-heuristic regularisers."""

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxpde
from jaxpde import nn
from jaxpde import spectral as sp
from jaxpde.integrate import HeuristicSolver, local_heuristics, solve


def _single_mode():
    # u = sin(3x) under diffusion ν: the ODE y' = -9ν y in one Fourier mode.
    grid = jaxpde.PeriodicGrid(16, 2 * np.pi)
    x = grid.coordinates()[0]
    return grid, jnp.asarray(np.sin(3 * x))[None]


def test_stiffness_estimate_is_exact_on_a_linear_problem():
    grid, u0 = _single_mode()
    pde = sp.Diffusion(grid, 0.1)  # λ = -0.9
    sol = solve(pde, u0, 0.0, 2.0, heuristics=True, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(float(sol.heuristics["stiffness"]), 0.9 * 2.0, rtol=1e-9)
    local = local_heuristics(pde, u0, 0.3)
    np.testing.assert_allclose(float(local["stiffness"]), 0.9, rtol=1e-9)


def test_error_integral_sums_the_controllers_scaled_errors():
    # With constant steps every step is accepted: recompute Σ E_j h_j step by step.
    grid, u0 = _single_mode()
    pde = burgers = sp.Burgers(grid, 0.05)
    rtol = atol = 1e-4
    dt = 0.1
    sol = solve(pde, u0, 0.0, 1.0, solver="tsit5", dt0=dt, adaptive=False, heuristics=True, rtol=rtol, atol=atol)
    solver = diffrax.Tsit5()
    terms = diffrax.ODETerm(lambda t, u, a: burgers.rhs(t, u, a))
    y, state, total = u0, solver.init(terms, 0.0, dt, u0, None), 0.0
    for i in range(10):
        t0, t1 = i * dt, (i + 1) * dt
        y1, err, _, state, _ = solver.step(terms, t0, t1, y, None, state, False)
        scale = atol + rtol * jnp.maximum(jnp.abs(y), jnp.abs(y1))
        total += float(jnp.sqrt(jnp.mean((err / scale) ** 2))) * dt
        y = y1
    np.testing.assert_allclose(float(sol.heuristics["error"]), total, rtol=1e-10)
    np.testing.assert_allclose(np.asarray(sol.u_final), np.asarray(y), atol=1e-13)


def test_heuristics_only_count_accepted_steps():
    # A first step of 1.0 on a stiff mode is rejected (E >> 1); accepted steps have
    # E <= 1, so if only they are summed, Σ E h <= t1 - t0.
    grid, u0 = _single_mode()
    pde = sp.Diffusion(grid, 2.0)
    sol = solve(pde, u0, 0.0, 1.0, dt0=1.0, heuristics=True, rtol=1e-7, atol=1e-7)
    assert int(sol.stats["num_rejected_steps"]) > 0
    assert 0 < float(sol.heuristics["error"]) <= 1.0


@pytest.mark.parametrize("adjoint", ["recursive", "direct", "forward"])
def test_global_regulariser_gradients_match_finite_differences(adjoint):
    grid, u0 = _single_mode()

    def reg(nu):
        pde = sp.Burgers(grid, nu)
        sol = solve(pde, u0, 0.0, 1.0, dt0=0.1, adaptive=False, heuristics=True, adjoint=adjoint)
        return sol.heuristics["error"] + sol.heuristics["stiffness"]

    if adjoint == "forward":
        d = float(jax.jit(lambda s: jax.jvp(reg, (jnp.asarray(0.1),), (s,))[1])(jnp.asarray(1.0)))
    else:
        d = float(jax.jit(jax.grad(reg))(jnp.asarray(0.1)))
    eps = 1e-5
    r = jax.jit(reg)
    fd = float((r(0.1 + eps) - r(0.1 - eps)) / (2 * eps))
    np.testing.assert_allclose(d, fd, rtol=1e-5)


def test_global_regulariser_refuses_backsolve_and_local_works_with_it():
    grid, u0 = _single_mode()
    pde = sp.Burgers(grid, 0.1)
    with pytest.raises(ValueError, match="local_heuristics"):
        solve(pde, u0, 0.0, 1.0, heuristics=True, adjoint="backsolve")

    def local_reg(nu, adjoint):
        p = sp.Burgers(grid, nu)
        t_r = 0.37
        u_r = solve(p, u0, 0.0, 1.0, saveat=jnp.asarray([t_r, 1.0]), adjoint=adjoint, rtol=1e-10, atol=1e-10).us[0]
        return local_heuristics(p, u_r, t_r, dt=0.05)["error"]

    grads = {adj: float(jax.jit(jax.grad(lambda nu: local_reg(nu, adj)))(0.1)) for adj in ("recursive", "backsolve")}
    f = jax.jit(lambda nu: local_reg(nu, "recursive"))
    # Richardson-extrapolated central differences: steps of 1e-3 and 5e-4 keep the adaptive
    # solve's round-off (~1e-5 relative at a step of 1e-5, which flips with the build's
    # rounding) well below the O(h^4) remainder
    central = lambda h: float((f(0.1 + h) - f(0.1 - h)) / (2 * h))  # noqa: E731
    fd = (4 * central(5e-4) - central(1e-3)) / 3
    np.testing.assert_allclose(grads["recursive"], fd, rtol=1e-5)
    np.testing.assert_allclose(grads["backsolve"], fd, rtol=1e-4)


def test_heuristic_solver_is_transparent():
    grid, u0 = _single_mode()
    pde = sp.Burgers(grid, 0.05)
    plain = solve(pde, u0, 0.0, 1.0, rtol=1e-6, atol=1e-6)
    wrapped = solve(pde, u0, 0.0, 1.0, rtol=1e-6, atol=1e-6, heuristics=True)
    np.testing.assert_array_equal(np.asarray(plain.us), np.asarray(wrapped.us))
    for k in ("num_steps", "num_accepted_steps", "num_rejected_steps", "num_rhs_evals"):
        assert int(plain.stats[k]) == int(wrapped.stats[k])
    assert isinstance(HeuristicSolver(diffrax.Tsit5(), 1e-6, 1e-6).term_structure, type(diffrax.Tsit5().term_structure))


# --------------------------------------------------------------------------------------
# Neural ODEs and SDEs
# --------------------------------------------------------------------------------------
def test_neural_ode_fits_a_linear_system():
    # Learn y' = M y (a damped rotation) from one trajectory: the loss must fall 100x.
    M = jnp.asarray([[-0.1, 1.0], [-1.0, -0.1]])
    ts = jnp.linspace(0.0, 3.0, 16)
    y0 = jnp.asarray([1.0, 0.0])
    target = jax.vmap(lambda t: jax.scipy.linalg.expm(M * t) @ y0)(ts)
    model = nn.NeuralODE(nn.MLPField(2, width=16, depth=1, key=jax.random.key(0)), (2,))
    opt = optax.adam(1e-2)
    state = opt.init(eqx.filter(model, eqx.is_inexact_array))

    def loss(m):
        return jnp.mean((m.solve(y0, 0.0, 3.0, saveat=ts, rtol=1e-5, atol=1e-5).us - target) ** 2)

    @eqx.filter_jit
    def step(m, s):
        value, g = eqx.filter_value_and_grad(loss)(m)
        updates, s = opt.update(g, s)
        return eqx.apply_updates(m, updates), s, value

    first = None
    for _ in range(300):
        model, state, value = step(model, state)
        first = float(value) if first is None else first
    assert float(loss(model)) < first / 100


def test_fourier_field_is_resolution_independent():
    field = nn.FourierField(1, width=8, modes=4, depth=2, key=jax.random.key(1))
    x64 = np.linspace(0, 2 * np.pi, 64, endpoint=False)
    x32 = x64[::2]
    u = lambda x: jnp.asarray(np.sin(x) + 0.5 * np.cos(2 * x))[None]  # band-limited
    out64, out32 = field(0.0, u(x64)), field(0.0, u(x32))
    # the same function, sampled at two resolutions (pointwise layers commute with sampling
    # only up to the GELU, which creates harmonics: compare on the kept modes)
    np.testing.assert_allclose(np.fft.rfft(out64[0])[:4] / 64, np.fft.rfft(out32[0])[:4] / 32, atol=5e-3)
    ode = nn.NeuralODE(field, (1, 32))
    sol = solve(ode, u(x32), 0.0, 0.5)
    assert sol.us.shape == (1, 1, 32)
    with pytest.raises(ValueError, match="expected"):
        solve(ode, u(x64), 0.0, 0.5)


@pytest.mark.parametrize(
    "cls",
    [
        pytest.param(nn.LangevinSDE, marks=pytest.mark.slow),
        pytest.param(nn.LinearNoiseSDE, marks=pytest.mark.slow),  # ~14 s on 2 cores
        nn.GeometricSDE,
    ],
)
def test_neural_sdes_solve_and_differentiate(cls):
    model = cls(3, width=8, depth=1, key=jax.random.key(0))
    z0 = jnp.asarray([0.5, -1.0, 0.0])
    key = jax.random.key(4)
    solver = "shark" if cls is nn.LangevinSDE else "euler"

    def loss(m):
        sol = m.solve(z0, 0.0, 1.0, key=key, dt0=0.05, adaptive=False, solver=solver, saveat=jnp.linspace(0.1, 1, 10))
        return jnp.sum(sol.us**2)

    value, grads = eqx.filter_jit(eqx.filter_value_and_grad(loss))(model)
    assert np.isfinite(float(value))
    # directional derivative along the drift network's last bias vs central differences
    bias = lambda m: m.gamma.mlp.layers[-1].bias
    direction = jnp.asarray([1.0, -0.5, 0.25])
    eps = 1e-6
    shift = lambda s: eqx.tree_at(bias, model, bias(model) + s * direction)
    fd = (loss(shift(eps)) - loss(shift(-eps))) / (2 * eps)
    np.testing.assert_allclose(float(jnp.sum(bias(grads) * direction)), float(fd), rtol=1e-5)
    sol = model.solve(z0, 0.0, 1.0, key=key, dt0=0.05, adaptive=False, solver=solver)
    if cls is nn.GeometricSDE:
        assert float(sol.u_final[2]) == 0.0  # zero is absorbing for geometric noise
    assert model.noise.additive == (cls is nn.LangevinSDE)
