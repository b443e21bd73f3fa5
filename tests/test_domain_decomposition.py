"""Domain decomposition: one field split over 8 simulated CPU devices runs through the
unchanged PDE classes. Spectral transforms are distributed (all_to_all transposes) and
finite-volume stencils exchange halos (ppermute); results and gradients equal the
single-device ones (float64), the compiled programs gather no field, and the memory per
device falls close to 1/8. The checks run in a subprocess (tests/split_checks.py) because
the device count is fixed when jax starts."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

N = 8
SCRIPT = Path(__file__).with_name("split_checks.py")


def _run(group: str, *extra: str) -> dict:
    env = {
        **os.environ,
        "XLA_FLAGS": f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count={N}",
        "JAX_PLATFORMS": "cpu",
    }
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), group, *extra], env=env, capture_output=True, text=True, timeout=1500
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.split("RESULT", 1)[1])


def _check_case(name: str, case: dict, gradient_tol: float = 1e-12):
    assert case["value"] <= 1e-12, (name, case)
    assert case["gradient"] <= gradient_tol, (name, case)
    # the result stays split, and neither the forward nor the gradient program gathers it
    assert "'x'" in case["split_output"], (name, case)
    assert case["communication"]["all-gather"] == 0, (name, case)
    assert case["forward_communication"]["all-gather"] == 0, (name, case)


def _check_memory(case: dict):
    # per-device bytes (arguments + outputs + temporaries) close to 1/N of one device's
    assert case["split"] <= 1.5 * case["one"] / N, case


@pytest.mark.slow  # ~1 min; the kolmogorov2d command-line case below keeps a split spectral run by default
def test_split_spectral_fields():
    out = _run("spectral")
    for name in ("kolmogorov2d_etdrk4", "burgers3d_pencils_etdrk4", "diffusion_exact_linear"):
        _check_case(name, out[name])
        # the distributed FFT communicates by all_to_all transposes, never by halos
        assert out[name]["forward_communication"]["all-to-all"] > 0
    _check_case("klein_gordon_stormer_verlet", out["klein_gordon_stormer_verlet"])
    each = out["every_equation_2d"]
    assert len(each) >= 14, each
    assert max(each.values()) <= 1e-12, each
    _check_memory(out["memory_kolmogorov_256"])
    errors = out["errors"]
    assert "36 points" in errors["not_divisible"] and "32 or 40" in errors["not_divisible"], errors
    assert "last axis stays whole" in errors["spectral_1d"], errors
    assert "16 devices" in errors["too_many_devices"], errors
    assert "30 points" in errors["cells_not_divisible"] and "28 or 32" in errors["cells_not_divisible"], errors


@pytest.mark.slow  # ~2 min on 2 cores
def test_split_finite_volume_fields():
    out = _run("fv")
    for name in (
        "shallow_water_walls",
        "euler2d_inflow_profile",
        "euler2d_muscl_hancock",
        "euler2d_muscl_hancock_dimensional",
    ):
        _check_case(name, out[name])
        # halos travel by ppermute; nothing is transposed
        assert out[name]["forward_communication"]["collective-permute"] > 0
        assert out[name]["forward_communication"]["all-to-all"] == 0


@pytest.mark.slow
def test_split_finite_volume_cfl_steps_weno5():
    """2D Euler (Lax-Liu configuration 3, walls and a periodic axis) and shallow water with walls, WENO5 + HLLC,
    CFL-limited steps (a global max-reduction) to a final time, with gradients."""
    out = _run("fv", "--slow")
    for name in ("euler2d_lax_liu_walls_periodic", "shallow_water_walls"):
        # WENO5's nonlinear weights make its gradient sensitive to rounding at the 1e-12
        # level: on one device, jit and eager gradients of the same scheme differ by ~3e-13
        _check_case(name, out[name], gradient_tol=5e-12)
        assert out[name]["forward_communication"]["all-reduce"] > 0  # the global CFL step
    _check_memory(out["memory_euler_256"])


@pytest.mark.slow
def test_split_spectral_adaptive_solve():
    out = _run("spectral", "--slow")
    _check_case("kolmogorov2d_solve_tsit5", out["kolmogorov2d_solve_tsit5"])


@pytest.mark.parametrize(
    "config, sets",
    [  # ~22 s each on 2 cores; tests/test_data_parallel.py checks the division of work by default
        pytest.param(
            "kolmogorov2d.yaml", ["num_steps=20", "save_every=10", "grid.num_points=[32,32]"], marks=pytest.mark.slow
        ),
        pytest.param(
            "riemann2d.yaml",
            ["grid.num_cells=[32,32]", "t_final=0.02", "num_frames=2", "scheme.reconstruction=constant"],
            marks=pytest.mark.slow,
        ),
    ],
)
def test_command_line_devices_reproduce_the_one_device_file(tmp_path, config, sets):
    """``--set devices=8`` splits the grid over 8 devices and writes the trajectory the
    one-device run writes."""
    import h5py
    import numpy as np

    env = {
        **os.environ,
        "XLA_FLAGS": f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count={N}",
        "JAX_PLATFORMS": "cpu",
    }
    cfg = Path(__file__).parents[1] / "configs" / config
    files = {}
    for label, extra in (("one", []), ("split", ["devices=8"])):
        args = [a for s in sets + extra for a in ("--set", s)]
        out = tmp_path / label
        cmd = [sys.executable, "-m", "jaxpde.cli", "simulate", str(cfg), *args, "--out", str(out), "--no-progress"]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
        files[label] = next(out.glob("*.h5"))
    with h5py.File(files["one"]) as a, h5py.File(files["split"]) as b:
        np.testing.assert_allclose(b["trajectory"][()], a["trajectory"][()], rtol=0, atol=1e-12)
        np.testing.assert_array_equal(b["time"][()], a["time"][()])
        assert "devices" in b.attrs and "devices" not in a.attrs
    bad_cmd = [sys.executable, "-m", "jaxpde.cli", "simulate", str(cfg), "--set", "devices=6"]
    bad = subprocess.run(
        [*bad_cmd, "--out", str(tmp_path / "bad")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert bad.returncode == 2 and "key 'devices'" in bad.stderr and "divisible by 6" in bad.stderr, bad.stderr
    assert not (tmp_path / "bad").exists() or not any((tmp_path / "bad").iterdir())


def test_devices_section_is_validated():
    """A train config's bare ``devices: n`` is data parallelism; asking for more devices
    than there are, or for spatial splitting in training, is a one-line config error."""
    from jaxpde import app

    root = Path(__file__).parents[1] / "configs"
    _, cfg = app.load(root / "train_fno_burgers1d.yaml", ["devices=64"])
    assert cfg.devices == 64
    with pytest.raises(app.ConfigError, match="key 'devices': 64 devices asked for"):
        cfg.mesh()
    with pytest.raises(app.ConfigError, match="devices.spatial"):
        app.load(root / "train_fno_burgers1d.yaml", ["devices={spatial: 2}"])
    with pytest.raises(app.ConfigError, match="devices.data"):
        app.load(root / "kolmogorov2d.yaml", ["devices={data: 2}"])
    with pytest.raises(app.ConfigError, match="devices"):
        app.load(root / "kolmogorov2d.yaml", ["devices={pencils: 2}"])
    _, sim = app.load(root / "kolmogorov2d.yaml", ["devices=[4, 2]"])
    assert sim.devices == (4, 2)
    with pytest.raises(app.ConfigError, match="key 'devices'"):
        sim.build()  # one device here: the mesh cannot be made


@pytest.mark.slow
def test_design_with_split_fields_matches_one_device(tmp_path):
    """``jaxpde design`` of the Kolmogorov parameter estimate with the flow split over 4
    devices recovers what the one-device run recovers."""
    env = {
        **os.environ,
        "XLA_FLAGS": f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count=4",
        "JAX_PLATFORMS": "cpu",
    }
    cfg = Path(__file__).parents[1] / "configs" / "design_kolmogorov.yaml"
    sets = ["optimiser.steps=3", "setup.final_time=0.4", "setup.snapshots=2"]
    summaries = {}
    for label, extra in (("one", []), ("split", ["devices=4"])):
        out = tmp_path / label
        args = [a for s in sets + extra for a in ("--set", s)]
        cmd = [sys.executable, "-m", "jaxpde.cli", "design", str(cfg), *args, "--out", str(out), "--no-progress"]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
        summaries[label] = json.loads((out / "design.json").read_text())
    for key in ("final_objective", "recovered_viscosity", "recovered_forcing_amplitude", "std_viscosity"):
        assert abs(summaries["split"][key] - summaries["one"][key]) <= 1e-10 * abs(summaries["one"][key]), key
