"""Every bad input and fault the command line has been tried with, in one table: one line
on stderr naming the file and the key (or the path, or the signal), the right exit
status, nothing left behind — or, for the faults that used to give a wrong result, the
right result. Library-level bad input is in ``test_validation.py``."""

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
from jaxpde.io import load_trajectory

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"


def _cfg(tmp_path, name, edit=None, text=None):
    """A shipped config (edited) or a literal text, written to tmp_path."""
    path = tmp_path / f"{name}.yaml"
    if text is not None:
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        return path
    raw = yaml.safe_load((CONFIGS / f"{name}.yaml").read_text())
    if edit:
        edit(raw)
    path.write_text(yaml.safe_dump(raw))
    return path


def _small_train(raw):
    d, t = raw["data"], raw["training"]
    d.update(num_steps=2, save_every=2, train_samples=2, test_samples=2)
    t.update(num_steps=1, batch_size=2, checkpoint_every=1)


def _set(section, **kw):
    return lambda raw: raw.setdefault(section, {}).update(kw)


# (command, config name or None, edit or literal text, extra argv, exit status, message)
CASES = {
    # files
    "missing file": ("simulate", None, None, [], 2, "no such file"),
    "directory as config": ("simulate", "@dir", None, [], 2, "is a directory"),
    "non-UTF-8 config": ("simulate", "bin", b"\xff\xfe\x00binary", [], 2, "not valid UTF-8"),
    "invalid YAML": ("simulate", "bad", "equation: [unclosed", [], 2, "not valid YAML"),
    "not a mapping": ("simulate", "bad", "- a list", [], 2, "must be a mapping"),
    "no kind": ("simulate", "bad", "equation: burgers\n", [], 2, "missing key 'kind'"),
    "wrong kind for the command": ("simulate", "train_fno_burgers1d", None, [], 2, "run it with 'jaxpde train'"),
    "design config to train": ("train", "design_burgers_control", None, [], 2, "run it with 'jaxpde design'"),
    # output directories
    "--out under /proc": ("simulate", "burgers1d", None, ["--out", "/proc/x"], 2, "--out /proc/x"),
    "--out names a file": ("simulate", "burgers1d", None, ["--out", "@file"], 2, "is a file"),
    # simulate configs
    "unknown equation": (
        "simulate",
        "burgers1d",
        lambda r: r.update(equation="burgerz"),
        [],
        2,
        "did you mean 'burgers'",
    ),
    "huge grid": ("simulate", "kolmogorov2d", _set("grid", num_points=[1000000, 1000000]), [], 2, "use a smaller grid"),
    "negative viscosity": ("simulate", "burgers1d", _set("parameters", viscosity=-0.1), [], 2, "parameters.viscosity"),
    "nan viscosity": ("simulate", "burgers1d", _set("parameters", viscosity=float("nan")), [], 2, "finite"),
    "negative initial density": (
        "simulate",
        "sod1d",
        _set("initial_condition", left=[-1.0, 0.0, 1.0]),
        [],
        2,
        "initial_condition",
    ),
    "save_every not dividing": ("simulate", "burgers1d", lambda r: r.update(save_every=7), [], 2, "save_every"),
    "--set override": ("simulate", "burgers1d", None, ["--set", "stepper.order=7"], 2, "stepper.order"),
    "--set without value": ("simulate", "burgers1d", None, ["--set", "stepper.order"], 2, "KEY=VALUE"),
    "max_steps over the whole run": (
        "simulate",
        "burgers1d_adaptive",
        _set("solve", max_steps=3),
        [],
        1,
        "more than max_steps = 3",
    ),
    "finite-volume blow-up": ("simulate", "sod1d", _set("scheme", cfl=5.0), [], 1, "lower scheme.cfl"),
    "spectral blow-up": (
        "simulate",
        "bad",
        "kind: simulate\nequation: allen_cahn\nparameters: {reactivity: 50.0}\n"
        "grid: {num_points: 32}\ndt: 0.5\nnum_steps: 40\ninitial_condition: {kind: sine}\n",
        [],
        1,
        "non-finite",
    ),
    # design configs
    "dt not dividing the horizon": (
        "design",
        "design_burgers_control",
        _set("setup", dt=0.03, final_time=0.2),
        [],
        2,
        "setup.dt",
    ),
    "dt beyond the horizon": (
        "design",
        "design_burgers_control",
        _set("setup", dt=5.0, final_time=0.2),
        [],
        2,
        "setup.dt",
    ),
    "name escaping the run directory": (
        "design",
        "design_burgers_control",
        lambda r: r.update(name="../../x"),
        [],
        2,
        "plain file name",
    ),
    "simulate name escaping": ("simulate", "sod1d", lambda r: r.update(name="../x"), [], 2, "plain file name"),
    "fractional grid size": (
        "design",
        "design_burgers_control",
        _set("setup", num_points=64.7),
        [],
        2,
        "setup.num_points",
    ),
    "design typo": (
        "design",
        "design_burgers_control",
        _set("setup", viscositty=1.0),
        [],
        2,
        "did you mean 'viscosity'",
    ),
    # training configs
    "fno with more modes than the grid": (
        "train",
        "train_fno_burgers1d",
        lambda r: (_small_train(r), r["model"].update(modes=40), r["data"]["grid"].update(num_points=32)),
        [],
        2,
        "model",
    ),
    "negative learning rate": (
        "train",
        "train_fno_burgers1d",
        _set("training", learning_rate=-1.0),
        [],
        2,
        "training.learning_rate",
    ),
    "resume with nothing to resume": (
        "train",
        "train_fno_burgers1d",
        _small_train,
        ["--resume"],
        2,
        "no run to resume",
    ),
}


# ------------------------------------------------- the earlier per-command tables
from .test_cli import SMALL as SPECTRAL  # noqa: E402  (the same small configs as the command tests)
from .test_cli_fv import SMALL as FINITE_VOLUME  # noqa: E402

for old, new, key, hint in [
    ("equation: burgers", "equation: burgerz", "equation", "did you mean 'burgers'"),
    ("dt: 0.01", "dt: -0.01", "'dt'", "positive"),
    ("dt: 0.01", "dt: fast", "'dt'", "number"),
    ("parameters: {viscosity: 0.05}", "parameters: {viscosty: 0.05}", "parameters.viscosty", "viscosity"),
    ("parameters: {viscosity: 0.05}", "parameters: {viscosity: [1, 2]}", "parameters", "shape"),
    ("num_steps: 40", "num_step: 40", "num_step", "num_steps"),
    ("save_every: 4", "save_every: 3", "save_every", "divide"),
    (
        "grid: {num_points: 32, extent: 6.283185307179586}",
        "grid: {num_points: [32, 32], extent: [1.0, 2.0, 3.0]}",
        "grid.extent",
        "entries",
    ),
    ("kind: sine, amplitude: 1.0", "kind: taylor_green_vorticity", "initial_condition", "2D"),
    ("kind: sine, amplitude: 1.0", "kind: gray_scott_seeds", "initial_condition", "shape"),
    ("method: etdrk", "method: stormer_verlet", "stepper.method", "cannot integrate"),
    ("order: 4", "order: 7", "stepper.order", "1, 2, 3 or 4"),
    ("precision: float64", "precision: float16", "precision", "float32"),
]:
    CASES[f"spectral {new}"] = ("simulate", "case", SPECTRAL.replace(old, new), [], 2, (key, hint))
for old, new, key, hint in [
    ("law: euler", "law: eulr", "'law'", "did you mean 'euler'"),
    ("parameters: {gamma: 1.4}", "parameters: {gama: 1.4}", "parameters.gama", "gamma"),
    ("reconstruction: muscl_mc", "reconstruction: weno7", "scheme.reconstruction", "weno5_z"),
    ("riemann_solver: hllc", "riemann_solver: roe", "scheme.riemann_solver", "hllc"),
    ("cfl: 0.5", "cfl: -1", "scheme.cfl", "positive"),
    ("boundary: outflow", "boundary: wall", "'boundary'", "reflective"),
    ("t_final: 0.1", "t_final: 0", "t_final", "positive"),
    ("x0: 0.5}", "x0: 0.5, y0: 1}", "initial_condition.y0", "x0"),
    ("left: [1.0, 0.0, 1.0]", "left: [1.0, 1.0]", "initial_condition", "3 primitive"),
    ("riemann_solver: hllc", "riemann_solver: godunov", "scheme", "Burgers"),
]:
    CASES[f"finite volume {new}"] = ("simulate", "tube", FINITE_VOLUME.replace(old, new), [], 2, (key, hint))
for over, message in [
    ({"integrator": "implicit"}, "key 'integrator' must be one of"),
    ({"dt": 0.1}, "key 'dt' belongs to the fixed-step integrator"),
    ({"save_interval": 0.3}, "must divide t_final"),
    ({"solve": {"solver": "tsit5"}}, "key 'solve.solver' must be one of"),
    ({"solve": {"solver": "shark"}}, "missing key 'solve.dt0'"),
    ({"noise": {"amplitude": 0.1, "colour": 2}}, "unknown key 'noise.colour'"),
    ({"noise": {"correlation_length": 0.5}}, "missing key 'noise.amplitude'"),
]:
    CASES[f"sde {over}"] = ("simulate", "allen_cahn1d_sde", lambda r, o=over: r.update(o), [], 2, message)
for i, (edit, message) in enumerate(
    [
        (lambda r: r["model"].update(kind="fn0"), "did you mean 'fno'"),
        (lambda r: r["model"].update(widht=3), "model.widht"),
        (lambda r: r["training"].update(optimiser="adamx"), "training.optimiser"),
        (lambda r: r["data"].update(save_every=1), "task 'operator'"),
        (lambda r: r["data"].update(equation="burger"), "in section 'data'"),
        (lambda r: r.update(coarse={"order": 2}), "solver_in_the_loop"),
        (lambda r: r["model"].update(num_parameters=1), "number of sampled PDE parameters"),
        (lambda r: r.update(model={"kind": "unet", "num_parameters": 1}), "model.num_parameters"),
        (lambda r: (r["data"].update(online=True), r["training"].update(window=2)), "applies to data on disk"),
    ]
):
    CASES[f"training {i}: {message}"] = ("train", "train_fno_burgers1d", edit, [], 2, message)
for i, (edit, message) in enumerate(
    [
        (lambda r: r["rom"].pop("train_frames"), "rom.train_frames"),
        (lambda r: r["rom"].update(train_frames=999), "rom.train_frames"),
        (lambda r: r["rom"].update(fractoin=0.1), "did you mean 'fraction'"),
        (lambda r: r["model"]["decoder"].update(kind="mlp"), "model.decoder.kind"),
        (lambda r: r["rom"].update(coupling=2.0), "rom.coupling"),
        (lambda r: r.update(task="dino"), "rom.coupling"),
        (lambda r: r["rom"].update(physics="euler"), "rom.physics"),
        (lambda r: (r.update(task="pinn_rom"), r["rom"].update(physics="step")), "rom.physics"),
    ]
):
    CASES[f"rom {i}: {message}"] = ("train", "phirom_burgers", edit, [], 2, message)
for text, message in [
    ("problem: nope\n", "key 'problem'"),
    ("problem: burgers_control\noptimiser: {name: sgd}\n", "optimiser.name"),
    ("problem: burgers_control\nsetup: {dt: -1}\n", "dt"),
    ("problem: burgers_control\nregularisation: {total_variation: 1.0}\n", "no total_variation"),
]:
    CASES[f"design {text.strip()}"] = ("design", "bad", "kind: design\n" + text, [], 2, message)


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_gives_one_line_and_leaves_nothing(name, tmp_path, capsys):
    command, cfg_name, edit, extra, status, message = CASES[name]
    if cfg_name is None:
        cfg = tmp_path / "nope.yaml"
    elif cfg_name == "@dir":
        cfg = tmp_path
    elif isinstance(edit, (str, bytes)):
        cfg = _cfg(tmp_path, cfg_name, text=edit)
    else:
        cfg = _cfg(tmp_path, cfg_name, edit)
    out = tmp_path / "out"
    extra = [str(tmp_path / "a_file") if a == "@file" else a for a in extra]
    if "--out" in extra:
        (tmp_path / "a_file").write_text("x")
        argv = [command, str(cfg), "--no-progress", *extra]
    else:
        argv = [command, str(cfg), "--out", str(out), "--no-progress", *extra]
    assert main(argv) == status
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    messages = message if isinstance(message, tuple) else (message,)
    assert err.startswith("jaxpde: error:") and all(m in err for m in messages), err
    assert not out.exists(), f"{name} left {sorted(p.name for p in out.rglob('*'))}"


def test_evaluate_without_a_run(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path / "nothing")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "not a training run" in err


def test_simulate_interrupted_by_sigint(tmp_path):
    # 2,000,000 steps in calls of 40,000 (the signal is seen between calls): long enough not
    # to end before the signal, short calls so that it is answered at once even under load
    cfg = _cfg(tmp_path, "ks1d", lambda r: r.update(num_steps=2_000_000, save_every=200))
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "jaxpde.cli", "simulate", str(cfg), "--out", str(tmp_path / "o"), "--no-progress"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not list((tmp_path / "o").glob("*.partial")):
            time.sleep(0.05)
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        err = proc.communicate(timeout=120)[1].strip()
    finally:  # never leave the run behind, whatever failed
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130 and err.splitlines() == ["jaxpde: interrupted (SIGINT)"], err
    assert not (tmp_path / "o").exists()


@pytest.mark.slow  # ~12 s
def test_sde_noise_is_fixed_by_the_seed_whatever_the_run_length(tmp_path, capsys):
    """The same seed gives the same path on the common interval of a short and a long run."""
    out = {}
    for t_final in (1.0, 2.0):
        cfg = _cfg(
            tmp_path,
            "allen_cahn1d_sde",
            lambda r: r.update(t_final=t_final, grid={"num_points": 64, "extent": r["grid"]["extent"]}),
        )
        assert main(["simulate", str(cfg), "--out", str(tmp_path / f"t{t_final}"), "--no-progress"]) == 0
        out[t_final] = load_trajectory(tmp_path / f"t{t_final}" / "allen_cahn1d_sde.h5")[0]
    short, long = out[1.0], out[2.0]
    assert np.abs(short).max() > 0.05  # the noise did something
    np.testing.assert_array_equal(short, long[: len(short)])


@pytest.mark.slow  # ~17 s: a design run, moved, resumed
def test_design_resumes_from_a_moved_directory_through_another_spelling(tmp_path, capsys):
    cfg = _cfg(
        tmp_path,
        "design_burgers_control",
        lambda r: (
            r["setup"].update(num_points=32, final_time=0.2, dt=0.02, intervals=2),
            r["optimiser"].update(steps=4),
            r.update(checkpoint_every=2),
        ),
    )
    assert main(["design", str(cfg), "--out", str(tmp_path / "a"), "--no-progress"]) == 0
    first = [json.loads(line) for line in (tmp_path / "a" / "history.jsonl").read_text().splitlines()]
    (tmp_path / "b").mkdir()
    (tmp_path / "a").rename(tmp_path / "b" / "moved")
    spelled = os.path.join(str(tmp_path), "b", "..", "b", ".", "moved")
    assert main(["design", str(cfg), "--out", spelled, "--resume", "--no-progress", "--set", "optimiser.steps=6"]) == 0
    history = [json.loads(line) for line in (tmp_path / "b" / "moved" / "history.jsonl").read_text().splitlines()]
    assert history[: len(first)] == first and len(history) > len(first)


@pytest.mark.slow
def test_corrupt_checkpoint_is_one_line(tmp_path, capsys):
    cfg = _cfg(tmp_path, "train_fno_burgers1d", lambda r: (_small_train(r), r["training"].update(num_steps=2)))
    run = tmp_path / "run"
    assert main(["train", str(cfg), "--out", str(run), "--no-progress"]) == 0
    capsys.readouterr()
    for f in (run / "checkpoints").rglob("*"):
        if f.is_file() and "state" in str(f):
            f.write_bytes(b"garbage")
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    r = subprocess.run(
        [sys.executable, "-m", "jaxpde.cli", "evaluate", str(run), "--no-progress"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 2, r.stderr[-2000:]
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot be restored" in lines[0], r.stderr[-3000:]
