"""`jaxpde simulate` with `integrator: adaptive | imex | sde`."""

from pathlib import Path

import numpy as np
import pytest
import yaml

from jaxpde.cli import main
from jaxpde.io import load_trajectory

ROOT = Path(__file__).resolve().parents[1]


def _shrink(name, tmp_path, **overrides):
    raw = yaml.safe_load((ROOT / "configs" / f"{name}.yaml").read_text())
    raw["grid"]["num_points"] = 32 if name != "ks1d_imex" else 64
    raw.update(overrides)
    p = tmp_path / f"{name}.yaml"
    p.write_text(yaml.safe_dump(raw))
    return p


@pytest.mark.parametrize(
    "name, overrides",
    [
        ("ks1d_imex", {"t_final": 4.0, "save_interval": 1.0}),
        ("burgers1d_adaptive", {"t_final": 0.2, "save_interval": 0.05}),
    ],
)
def test_shipped_diffrax_configs_run(tmp_path, name, overrides):
    cfg = _shrink(name, tmp_path, **overrides)
    out = tmp_path / "out"
    assert main(["simulate", str(cfg), "--out", str(out), "--no-progress"]) == 0
    traj, times, meta = load_trajectory(out / f"{name}.h5")
    assert traj.shape == (5, 1, 32 if name != "ks1d_imex" else 64)
    np.testing.assert_allclose(times, np.arange(5) * overrides["save_interval"])
    assert np.all(np.isfinite(traj))
    assert meta["integrator"] == yaml.safe_load((ROOT / "configs" / f"{name}.yaml").read_text())["integrator"]
    assert (out / f"{name}.png").stat().st_size > 1000


def test_adaptive_config_matches_the_library(tmp_path):
    import jax.numpy as jnp

    import jaxpde as jp
    from jaxpde import ic
    from jaxpde.spectral import Burgers

    cfg = _shrink("burgers1d_adaptive", tmp_path, t_final=0.2, save_interval=0.05)
    main(["simulate", str(cfg), "--out", str(tmp_path / "o"), "--no-progress"])
    traj, _, _ = load_trajectory(tmp_path / "o" / "burgers1d_adaptive.h5")
    g = jp.PeriodicGrid(32)
    ref = jp.solve(
        Burgers(g, 0.01),
        ic.sine(g, dtype=jnp.float64),
        0.0,
        0.2,
        solver="dopri5",
        rtol=1e-6,
        atol=1e-6,
        saveat=jnp.arange(1, 5) * 0.05,
    )
    np.testing.assert_allclose(traj[1:], np.asarray(ref.us), atol=1e-6)


@pytest.mark.slow  # 30 s; the SDE path itself is fixed by its key in test_sde.py
def test_sde_config_is_fixed_by_its_seed(tmp_path):
    a = _shrink("allen_cahn1d_sde", tmp_path, t_final=0.2, save_interval=0.05)
    main(["simulate", str(a), "--out", str(tmp_path / "a"), "--no-progress"])
    main(["simulate", str(a), "--out", str(tmp_path / "b"), "--no-progress"])
    c = _shrink("allen_cahn1d_sde", tmp_path, t_final=0.2, save_interval=0.05, seed=7)
    main(["simulate", str(c), "--out", str(tmp_path / "c"), "--no-progress"])
    ta, tb, tc = (load_trajectory(tmp_path / d / "allen_cahn1d_sde.h5")[0] for d in "abc")
    _, times, meta = load_trajectory(tmp_path / "a" / "allen_cahn1d_sde.h5")
    assert ta.shape == (5, 1, 32) and np.all(np.isfinite(ta))
    np.testing.assert_allclose(times, np.arange(5) * 0.05)
    assert meta["integrator"] == "sde" and meta["noise"]["amplitude"] == 0.2
    assert (tmp_path / "a" / "allen_cahn1d_sde.png").stat().st_size > 1000
    np.testing.assert_array_equal(ta, tb)
    assert np.max(np.abs(ta[-1] - tc[-1])) > 1e-3


def test_failed_solve_is_reported_without_a_traceback(tmp_path, capsys):
    cfg = _shrink(
        "ks1d_imex",
        tmp_path,
        t_final=4.0,
        save_interval=1.0,
        integrator="adaptive",
        solve={"solver": "tsit5", "max_steps": 5},
    )
    assert main(["simulate", str(cfg), "--out", str(tmp_path / "o"), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "maximum number of steps" in err and "Traceback" not in err
