"""``jaxpde train`` / ``jaxpde evaluate``: every shipped training config runs one step, a
real run killed mid-way resumes to the uninterrupted loss trajectory, bad configs and
missing/corrupt runs give one-line errors."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from jaxpde.cli import main

CONFIGS = sorted((Path(__file__).parent.parent / "configs").glob("train_*.yaml"))


def _shrink(raw: dict, *, steps=1) -> dict:
    """The same config at smoke-test size: few samples, `steps` optimiser steps."""
    raw = json.loads(json.dumps(raw))
    t, d = raw["training"], raw["data"]
    frames = d["num_steps"] // d.get("save_every", 1)
    keep = min(frames, max(t.get("horizon", 1) + 1, t.get("window") or 2))
    d["num_steps"] = keep * d.get("save_every", 1)
    d["burn_in"] = min(d.get("burn_in", 0), 10)
    d["train_samples"], d["test_samples"] = 2, 2
    t.update(num_steps=steps, batch_size=2, eval_every=0, checkpoint_every=max(steps, 1))
    t.pop("eval_horizon", None)
    return raw


def test_there_are_training_configs():
    names = {p.stem for p in CONFIGS}
    assert {
        "train_fno_burgers1d",
        "train_kolmogorov2d_emulator",
        "train_sil_ks1d",
        "train_cape_burgers1d",
        "train_ks1d_emulator",
    } <= names


# ~20 s or more each on 2 cores; the others keep one training config of each kind here
_SLOW_CONFIGS = {
    "train_cylinder_wake",
    "train_cape_burgers1d",
    "train_kolmogorov2d_emulator",
    "train_kolmogorov2d_refiner",
    "train_ks1d_emulator",  # ~21 s each on 2 cores, like the next two
    "train_ks1d_refiner",  # tests/test_long_rollout.py checks its keys and the refiner itself
    "train_sil_ks1d",
    "train_ks1d_assimilation",  # tests/test_semilinear_operator.py runs it in the default suite
}


@pytest.mark.parametrize(
    "path",
    [pytest.param(p, marks=pytest.mark.slow) if p.stem in _SLOW_CONFIGS else p for p in CONFIGS],
    ids=[p.stem for p in CONFIGS],
)
def test_every_training_config_runs_one_step(path, tmp_path, capsys):
    cfg = tmp_path / path.name
    cfg.write_text(yaml.safe_dump(_shrink(yaml.safe_load(path.read_text()))))
    assert main(["train", str(cfg), "--out", str(tmp_path / "run"), "--no-progress"]) == 0
    assert "trained" in capsys.readouterr().out
    assert main(["evaluate", str(tmp_path / "run"), "--no-progress"]) == 0
    ev = json.loads((tmp_path / "run" / "eval.json").read_text())
    assert ev["step"] == 1 and all(np.all(np.isfinite(v)) for v in ev["nrmse"].values())
    assert (tmp_path / "run" / "nrmse.png").exists() and (tmp_path / "run" / "loss.png").exists()
    assert (tmp_path / "run" / "correlation.png").exists()
    if "spectrum" in ev:  # data on the PDE's periodic grid: the rollout's spectra against the solver's
        sp = ev["spectrum"]
        assert (tmp_path / "run" / "spectrum.png").exists()
        assert sp["steps"][-1] == len(ev["horizon_time"]) and len(sp["model"]) == len(sp["solver"]) == len(sp["steps"])
        assert len(sp["log_error"]) == len(sp["steps"]) and all(np.isfinite(sp["log_error"]))
    horizon_time = ev["horizon_time"]
    for name, c in ev["correlation"].items():
        assert len(c) == len(horizon_time) and all(-1 - 1e-6 <= x <= 1 + 1e-6 for x in c), name
        times = ev["high_correlation_time"][name]["per_trajectory"]
        assert all(0 <= t <= horizon_time[-1] + 1e-9 for t in times), (name, times)


def _records(run):
    out = []
    for line in (run / "metrics.jsonl").read_text().splitlines():
        out.append(json.loads(line))
    return [r["loss"] for r in out if "loss" in r]


@pytest.mark.slow
def test_a_killed_run_resumes_to_the_uninterrupted_loss_trajectory(tmp_path):
    raw = yaml.safe_load((Path(__file__).parent.parent / "configs" / "train_fno_burgers1d.yaml").read_text())
    raw = _shrink(raw, steps=300)
    raw["data"]["train_samples"], raw["data"]["grid"]["num_points"] = 16, 64
    raw["model"].update(modes=8, width=16, depth=2)
    raw["training"].update(batch_size=8, checkpoint_every=20)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(raw))
    cmd = [sys.executable, "-m", "jaxpde.cli", "train", str(cfg), "--no-progress", "--out"]
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    ref = subprocess.run(cmd + [str(tmp_path / "ref")], env=env, capture_output=True, text=True, timeout=600)
    assert ref.returncode == 0, ref.stderr[-2000:]

    run = tmp_path / "killed"
    proc = subprocess.Popen(cmd + [str(run)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ckpts = run / "checkpoints"
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if ckpts.exists() and any(p.name.isdigit() and int(p.name) >= 60 for p in ckpts.iterdir()):
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    killed_at = len(_records(run))
    assert 60 <= killed_at < 300

    # resume after moving the run directory, through an absolute path spelled another way:
    # a run is recognised by its content (config and data hashes), not by its path
    moved = tmp_path / "elsewhere" / "moved"
    moved.parent.mkdir()
    run.rename(moved)
    spelled = os.path.join(str(tmp_path.absolute()), ".", "elsewhere", "..", "elsewhere", "moved")
    res = subprocess.run(cmd + [spelled, "--resume"], env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    run = moved
    np.testing.assert_array_equal(_records(run), _records(tmp_path / "ref"))
    # resuming with a different config is refused
    raw["training"]["learning_rate"] = 0.5
    cfg.write_text(yaml.safe_dump(raw))
    assert main(["train", str(cfg), "--out", str(run), "--resume", "--no-progress"]) == 2


def test_resume_without_a_run_is_refused(tmp_path, capsys):
    base = _shrink(yaml.safe_load((Path(__file__).parent.parent / "configs" / "train_fno_burgers1d.yaml").read_text()))
    ok = tmp_path / "ok.yaml"
    ok.write_text(yaml.safe_dump(base))
    assert main(["train", str(ok), "--out", str(tmp_path / "fresh"), "--resume", "--no-progress"]) == 2
    assert "no run to resume" in capsys.readouterr().err
