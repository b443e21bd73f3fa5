"""Gradients of 100-step rollout losses against central finite differences (float64)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxpde as jp
from jaxpde import ic
from jaxpde.spectral import ETDRK, Burgers, KuramotoSivashinsky, kolmogorov_flow

NUM_STEPS = 100


def _ks(p):
    return KuramotoSivashinsky(jp.PeriodicGrid(64, 22.0), fourth_order=p)  # p: hyper-viscosity


def _burgers(p):
    return Burgers(jp.PeriodicGrid(64), p)


def _ns(p):
    return kolmogorov_flow(jp.PeriodicGrid(24, ndim=2), p, drag=0.1, forcing_amplitude=1.0, forcing_wavenumber=2)


CASES = {"ks": (_ks, 1.0, 0.05), "burgers": (_burgers, 0.05, 0.01), "navier_stokes": (_ns, 0.02, 0.01)}


def _setup(name):
    make, p0, dt = CASES[name]
    pde = make(p0)
    k1, k2, k3 = jax.random.split(jax.random.PRNGKey(7), 3)
    u0 = ic.random_fourier(pde.grid, key=k1, num_channels=pde.num_channels, max_wavenumber=3)
    target = ic.random_fourier(pde.grid, key=k2, num_channels=pde.num_channels, max_wavenumber=3)
    direction = ic.random_fourier(pde.grid, key=k3, num_channels=pde.num_channels, max_wavenumber=4)

    def loss(u0, p):
        stepper = ETDRK(make(p), dt, order=4)  # built inside: coefficients depend on p
        traj = jp.rollout(stepper, u0, NUM_STEPS, save_every=10, checkpoint=True)
        return jnp.mean((traj - target) ** 2)

    return loss, u0, p0, direction


@pytest.mark.parametrize("name", list(CASES))
def test_gradient_wrt_viscosity_matches_central_fd(name):
    loss, u0, p0, _ = _setup(name)
    g = jax.jit(jax.grad(loss, argnums=1))(u0, jnp.asarray(p0))
    h = 1e-5 * p0
    f = jax.jit(loss)
    fd = (f(u0, p0 + h) - f(u0, p0 - h)) / (2 * h)
    np.testing.assert_allclose(float(g), float(fd), rtol=1e-5)
    assert abs(float(g)) > 1e-8


@pytest.mark.parametrize("name", list(CASES))
def test_gradient_wrt_initial_condition_matches_central_fd(name):
    loss, u0, p0, v = _setup(name)
    g = jax.jit(jax.grad(loss))(u0, p0)
    f = jax.jit(loss)
    h = 1e-5
    fd = (f(u0 + h * v, p0) - f(u0 - h * v, p0)) / (2 * h)
    np.testing.assert_allclose(float(jnp.vdot(g, v)), float(fd), rtol=1e-5)


def test_checkpointing_does_not_change_gradient():
    loss, u0, p0, _ = _setup("burgers")
    make, _, dt = CASES["burgers"]

    def loss_plain(u0):
        return jnp.sum(jp.rollout_final(ETDRK(make(p0), dt), u0, 60) ** 2)

    def loss_ckpt(u0, levels):
        return jnp.sum(jp.rollout_final(ETDRK(make(p0), dt), u0, 60, checkpoint=levels) ** 2)

    g0 = jax.grad(loss_plain)(u0)
    for levels in (1, 2, 3):
        np.testing.assert_allclose(jax.grad(loss_ckpt)(u0, levels), g0, rtol=1e-11, atol=1e-14)
