"""Stochastic PDEs through jaxpde.solve: strong orders against exact solutions, the
Virtual Brownian Tree's consistency, stationary statistics, adaptive SDE steps."""

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import Array

import jaxpde
from jaxpde import spectral as sp
from jaxpde.integrate import MultiplicativeNoise, SpectralNoise, brownian_tree, solve


class LinearDrift(jaxpde.AbstractPDE):
    """``du/dt = mu u`` pointwise: with white noise, one independent scalar SDE per point."""

    grid: jaxpde.PeriodicGrid
    mu: Array

    @property
    def num_channels(self):
        return 1

    def rhs(self, t, u, args=None):
        return self.mu * u


NUM_PATHS = 256
GRID = jaxpde.PeriodicGrid(NUM_PATHS, float(NUM_PATHS))  # cell volume 1: unit Brownian motions
BTOL = 2.0**-12


def _fit_order(hs, errors):
    return np.polyfit(np.log(hs), np.log(errors), 1)[0]


def test_euler_maruyama_strong_order_half_on_geometric_brownian_motion():
    mu, sigma, x0 = 0.5, 1.0, 1.0
    pde = LinearDrift(GRID, jnp.asarray(mu))
    noise = MultiplicativeNoise(SpectralNoise(GRID, sigma))
    key = jax.random.key(3)
    u0 = jnp.full((1, NUM_PATHS), x0)
    w1 = brownian_tree(0.0, 1.0, (1, NUM_PATHS), key=key, tol=BTOL).evaluate(0.0, 1.0)
    exact = x0 * np.exp((mu - sigma**2 / 2) + sigma * np.asarray(w1))
    hs = [2.0**-k for k in range(3, 8)]
    errors = []
    for h in hs:
        run = eqx.filter_jit(
            lambda k: (
                solve(
                    pde,
                    u0,
                    0.0,
                    1.0,
                    noise=noise,
                    key=k,
                    solver="euler",
                    dt0=h,
                    adaptive=False,
                    brownian_tol=BTOL,
                    max_steps=1024,
                ).u_final
            )
        )
        errors.append(np.mean(np.abs(np.asarray(run(key)) - exact)))
    order = _fit_order(hs, errors)
    print("Euler-Maruyama on GBM: strong errors", errors, "order", order)
    assert 0.4 < order < 0.65


def _ou_exact(path_w, theta, sigma, x0, t1, n_quad=2**12):
    """X(T) = e^{-θT} x0 + σ (W(T) - θ ∫_0^T e^{-θ(T-s)} W(s) ds) (Itô integration by
    parts), the integral by the trapezoid rule on a fine evaluation of the same path."""
    s = np.linspace(0.0, t1, n_quad + 1)
    w = np.asarray(jax.vmap(path_w)(jnp.asarray(s)))  # (n_quad+1, 1, P)
    weights = np.exp(-theta * (t1 - s))[:, None, None]
    integral = np.trapezoid(weights * w, s, axis=0)
    return np.exp(-theta * t1) * x0 + sigma * (w[-1] - theta * integral)


@pytest.mark.slow  # ~20 s per solver on 2 cores
@pytest.mark.parametrize("solver", ["sra1", "shark"])
def test_additive_noise_solvers_have_strong_order_at_least_one_on_ornstein_uhlenbeck(solver):
    theta, sigma, x0 = 2.0, 0.8, 1.0
    pde = LinearDrift(GRID, jnp.asarray(-theta))
    noise = SpectralNoise(GRID, sigma)
    key = jax.random.key(5)
    u0 = jnp.full((1, NUM_PATHS), x0)
    tree = brownian_tree(0.0, 1.0, (1, NUM_PATHS), key=key, tol=BTOL, levy_area=diffrax.SpaceTimeLevyArea)
    exact = _ou_exact(lambda t: tree.evaluate(0.0, t), theta, sigma, x0, 1.0)
    hs = [2.0**-k for k in range(2, 6)]
    errors = []
    for h in hs:
        run = eqx.filter_jit(
            lambda k: (
                solve(
                    pde, u0, 0.0, 1.0, noise=noise, key=k, solver=solver, dt0=h, adaptive=False, brownian_tol=BTOL
                ).u_final
            )
        )
        errors.append(np.mean(np.abs(np.asarray(run(key)) - exact)))
    order = _fit_order(hs, errors)
    print(f"{solver} on OU: strong errors", errors, "order", order)
    assert order > 0.9


def test_brownian_path_is_fixed_by_the_key():
    key = jax.random.key(11)
    tree = brownian_tree(0.0, 1.0, (3, 4), key=key, tol=2.0**-10)
    times = np.linspace(0.0, 1.0, 33)
    w = jax.jit(lambda t: tree.evaluate(0.0, t))
    forward = np.stack([np.asarray(w(t)) for t in times])
    backward = np.stack([np.asarray(w(t)) for t in times[::-1]])[::-1]
    shuffled_order = np.random.default_rng(0).permutation(len(times))
    shuffled = np.empty_like(forward)
    for i in shuffled_order:
        shuffled[i] = np.asarray(w(times[i]))
    batched = np.asarray(jax.vmap(w)(jnp.asarray(times)))
    np.testing.assert_array_equal(forward, backward)
    np.testing.assert_array_equal(forward, shuffled)
    np.testing.assert_allclose(batched, forward, atol=1e-14)
    # a rebuilt tree with the same key is the same path
    again = brownian_tree(0.0, 1.0, (3, 4), key=key, tol=2.0**-10)
    np.testing.assert_array_equal(np.asarray(again.evaluate(0.3, 0.7)), np.asarray(tree.evaluate(0.3, 0.7)))
    # increments over a fine partition add up to the coarse increment
    inc = jax.jit(lambda a, b: tree.evaluate(a, b))
    fine = sum(np.asarray(inc(a, b)) for a, b in zip(times[:-1], times[1:]))
    np.testing.assert_allclose(fine, np.asarray(tree.evaluate(0.0, 1.0)), atol=1e-12)


def test_pure_noise_solve_is_the_same_path_at_every_step_size():
    # du = σ dW: Euler-Maruyama is exact, so every step size must return σ W(1) of the
    # one path fixed by the key.
    grid = jaxpde.PeriodicGrid(8, 8.0)
    pde = LinearDrift(grid, jnp.asarray(0.0))
    noise = SpectralNoise(grid, 0.7)
    key = jax.random.key(2)
    u0 = jnp.zeros((1, 8))
    finals = [
        np.asarray(
            solve(
                pde, u0, 0.0, 1.0, noise=noise, key=key, solver="euler", dt0=h, adaptive=False, brownian_tol=2.0**-10
            ).u_final
        )
        for h in (2.0**-3, 0.1)
    ]
    w1 = np.asarray(brownian_tree(0.0, 1.0, (1, 8), key=key, tol=2.0**-10).evaluate(0.0, 1.0))
    for f in finals:
        np.testing.assert_allclose(f, 0.7 * w1, atol=1e-12)


@pytest.mark.slow  # a 2048-member ensemble: validation, run with -m slow
def test_stochastic_heat_equation_stationary_mode_variance():
    # du = ν u_xx dt + σ dW (space-time white noise): each Fourier mode is an
    # Ornstein-Uhlenbeck process with stationary E|û_k|² = r_k / (2 ν k²), r_k the
    # forcing rate of the mode (SpectralNoise.mode_variance).
    n, nu, sigma = 8, 1.0, 0.5
    members, dt = 2048, 2.0**-7
    grid = jaxpde.PeriodicGrid(n, 2 * np.pi)
    # The ensemble is the channel axis: one solve, one Brownian tree of shape (M, n).
    pde = sp.Diffusion(grid, nu, num_channels=members)
    noise = SpectralNoise(grid, sigma, num_channels=members)
    ts = jnp.asarray([4.0, 5.0, 6.0, 7.0])  # after a burn-in of 4 slowest relaxation times
    run = jax.jit(
        lambda k: (
            solve(
                pde,
                jnp.zeros((members, n)),
                0.0,
                7.0,
                noise=noise,
                key=k,
                solver="shark",
                dt0=dt,
                adaptive=False,
                saveat=ts,
                max_steps=1024,
            ).us
        )
    )
    us = np.asarray(run(jax.random.key(0)))  # (T, M, n)
    u_hat = np.fft.rfft(us, axis=-1)
    measured = np.mean(np.abs(u_hat) ** 2, axis=(0, 1))
    k = np.abs(grid.wavenumbers()[0])
    analytic = sigma**2 * noise.mode_variance() / (2 * nu * np.where(k == 0, 1, k**2))
    modes = slice(1, n // 2)  # skip the mean (a random walk) and the real Nyquist mode
    rel = measured[modes] / analytic[modes] - 1
    print("stochastic heat: relative variance error per mode", np.round(rel, 4))
    assert np.all(np.abs(rel) < 0.05)


def test_adaptive_sde_solve_on_the_tree_matches_fine_fixed_steps():
    # Stochastic Allen-Cahn-like additive forcing of a stiff-ish heat equation.
    grid = jaxpde.PeriodicGrid(16, 2 * np.pi)
    pde = sp.AllenCahn(grid, 0.1, reactivity=1.0)
    noise = SpectralNoise(grid, 0.2, correlation_length=0.5)
    x = grid.coordinates()[0]
    u0 = jnp.asarray(0.5 * np.sin(x))[None]
    key = jax.random.key(7)
    tol = 2.0**-14
    adaptive = solve(
        pde, u0, 0.0, 1.0, noise=noise, key=key, solver="shark", dt0=0.05, rtol=1e-4, atol=1e-4, brownian_tol=tol
    )
    fine = solve(
        pde,
        u0,
        0.0,
        1.0,
        noise=noise,
        key=key,
        solver="shark",
        dt0=2.0**-10,
        adaptive=False,
        brownian_tol=tol,
        max_steps=2048,
    )
    steps = int(adaptive.stats["num_steps"])
    print("adaptive SDE steps", {k: int(v) for k, v in adaptive.stats.items()})
    assert 0 < steps < 1024
    np.testing.assert_allclose(np.asarray(adaptive.u_final), np.asarray(fine.u_final), atol=2e-3)


def test_sde_argument_errors():
    grid = jaxpde.PeriodicGrid(8, 8.0)
    pde = LinearDrift(grid, jnp.asarray(0.0))
    u0 = jnp.zeros((1, 8))
    noise = SpectralNoise(grid, 1.0)
    with pytest.raises(ValueError, match="PRNG key"):
        solve(pde, u0, 0.0, 1.0, noise=noise, dt0=0.1)
    with pytest.raises(ValueError, match="dt0"):
        solve(pde, u0, 0.0, 1.0, noise=noise, key=jax.random.key(0))
    with pytest.raises(ValueError, match="additive"):
        solve(pde, u0, 0.0, 1.0, noise=MultiplicativeNoise(noise), key=jax.random.key(0), dt0=0.1, solver="shark")
    with pytest.raises(ValueError, match="correlation_length"):
        SpectralNoise(grid, 1.0, correlation_length=-1.0)


def test_stochastically_forced_navier_stokes_energy_injection():
    # From rest, coloured and de-aliased noise injects E[Σ ω² ΔV] = σ² t Σ_k q(k)² over
    # the full spectrum (dynamics are negligible at t = 0.01).
    grid = jaxpde.PeriodicGrid((16, 16), 2 * np.pi)
    pde = sp.NavierStokes2D(grid, 1e-3)
    sigma, t1 = 0.5, 0.01
    noise = SpectralNoise(grid, sigma, correlation_length=0.4, dealias=2 / 3)

    @jax.jit
    def energy(key):
        w = solve(pde, jnp.zeros((1, 16, 16)), 0.0, t1, noise=noise, key=key, dt0=t1 / 4, adaptive=False).u_final
        return jnp.sum(w**2) * grid.cell_volume

    energies = jax.vmap(energy)(jax.random.split(jax.random.key(3), 128))
    # q on the full FFT grid: rfft half plus its mirror (ky > 0 columns count twice)
    q2 = noise.filter.array**2
    weights = np.full(q2.shape[-1], 2.0)
    weights[0] = 1.0
    weights[-1] = 1.0  # Nyquist column (even N)
    expected = sigma**2 * t1 * np.sum(q2 * weights)
    np.testing.assert_allclose(float(jnp.mean(energies)), expected, rtol=0.03)
