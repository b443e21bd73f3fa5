"""Störmer-Verlet on nonlinear Klein-Gordon: energy, accuracy, order."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxpde as jp
from jaxpde import ic
from jaxpde.spectral import KleinGordon, StormerVerlet


def test_energy_bounded_without_drift_over_1e4_steps():
    g = jp.PeriodicGrid(128, 40.0)
    pde = KleinGordon(g, "sine_gordon")
    u0 = ic.breather(g, frequency=0.5)
    stepper = StormerVerlet(pde, 0.05)
    traj = jax.jit(lambda u: jp.rollout(stepper, u, 10_000, save_every=10))(u0)
    E = np.asarray(jax.vmap(pde.energy)(traj))
    rel = np.abs(E - E[0]) / abs(E[0])
    assert rel.max() < 1e-3, rel.max()
    # no secular drift: the error in the last tenth is no larger than in the first tenth
    n = len(rel) // 10
    assert rel[-n:].max() < 2.0 * rel[:n].max() + 1e-12
    slope = np.polyfit(np.arange(len(E)), E - E[0], 1)[0] * len(E)
    assert abs(slope) / abs(E[0]) < 1e-5


def test_breather_matches_exact_solution_second_order():
    g = jp.PeriodicGrid(128, 40.0)
    pde = KleinGordon(g, "sine_gordon")
    u0 = ic.breather(g, frequency=0.6)
    T = 2.0
    errs = []
    dts = [0.04, 0.02, 0.01]
    for dt in dts:
        u = jp.rollout_final(StormerVerlet(pde, dt), u0, int(round(T / dt)))
        errs.append(float(jnp.max(jnp.abs(u[0] - ic.breather(g, frequency=0.6, time=T)[0]))))
    p = np.polyfit(np.log(dts), np.log(errs), 1)[0]
    assert abs(p - 2) < 0.3, (p, errs)
    assert errs[-1] < 1e-4


def test_phi4_kink_antikink_energy_and_instability_error():
    g = jp.PeriodicGrid(256, 100.0)
    pde = KleinGordon(g, "phi4")
    u0 = ic.kink(g, position=30.0, antikink_position=70.0, velocity=0.2)
    E0 = float(pde.energy(u0))
    u = jp.rollout_final(StormerVerlet(pde, 0.05), u0, 2000)
    assert abs(float(pde.energy(u)) - E0) / E0 < 1e-3
    with pytest.raises(ValueError, match="unstable"):
        StormerVerlet(pde, 1.0)
