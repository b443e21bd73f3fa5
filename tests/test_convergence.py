"""Temporal convergence orders of ETDRK1-4 from a log-log fit (float64)."""

import jax.numpy as jnp
import numpy as np
import pytest

import jaxpde as jp
from jaxpde import ic
from jaxpde.spectral import ETDRK, Burgers, KortewegDeVries, KuramotoSivashinsky


def _observed_order(pde, u0, T, dts, order):
    ref = jp.rollout_final(ETDRK(pde, T / 4000, order=4), u0, 4000)
    errs = []
    for dt in dts:
        n = int(round(T / dt))
        u = jp.rollout_final(ETDRK(pde, T / n, order=order), u0, n)
        errs.append(float(jnp.linalg.norm(u - ref) / jnp.linalg.norm(ref)))
    assert min(errs) > 1e-12, errs  # stay above round-off so the fit measures truncation
    return np.polyfit(np.log(dts), np.log(errs), 1)[0]


def _ks_case():
    g = jp.PeriodicGrid(64, 32 * np.pi)
    x = jnp.asarray(g.coordinates())
    return KuramotoSivashinsky(g), jnp.cos(x / 16) * (1 + jnp.sin(x / 16)), 5.0, [0.5, 0.25, 0.125, 0.0625]


def _burgers_case():
    g = jp.PeriodicGrid(64)
    return Burgers(g, 0.1), ic.sine(g), 1.0, [0.1, 0.05, 0.025, 0.0125]


def _kdv_case():  # complex (dispersive) linear symbol
    g = jp.PeriodicGrid(64, 30.0)
    return KortewegDeVries(g), ic.kdv_soliton(g, speed=1.0), 2.0, [0.1, 0.05, 0.025, 0.0125]


@pytest.mark.parametrize("case", [_ks_case, _burgers_case, _kdv_case], ids=["ks", "burgers", "kdv-complex"])
@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_etdrk_order(case, order):
    pde, u0, T, dts = case()
    p = _observed_order(pde, u0, T, dts, order)
    assert abs(p - order) < 0.3, p


def test_substeps_equal_smaller_steps():
    pde, u0, T, _ = _burgers_case()
    a = jp.rollout_final(ETDRK(pde, 0.1, order=3, substeps=4), u0, 5)
    b = jp.rollout_final(ETDRK(pde, 0.025, order=3), u0, 20)
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
