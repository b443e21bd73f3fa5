import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from jaxpde.cli import main
from jaxpde.io import load_trajectory

ROOT = Path(__file__).resolve().parents[1]

SMALL = """\
kind: simulate
equation: burgers
parameters: {viscosity: 0.05}
grid: {num_points: 32, extent: 6.283185307179586}
stepper: {method: etdrk, order: 4}
dt: 0.01
num_steps: 40
save_every: 4
initial_condition: {kind: sine, amplitude: 1.0}
precision: float64
"""


def _write(tmp_path, text, name="case.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_simulate_writes_h5_with_metadata_and_png(tmp_path):
    cfg = _write(tmp_path, SMALL)
    out = tmp_path / "out"
    assert main(["simulate", str(cfg), "--out", str(out), "--no-progress"]) == 0
    traj, times, meta = load_trajectory(out / "case.h5")
    assert traj.shape == (11, 1, 32)
    np.testing.assert_allclose(times, np.arange(11) * 0.04)
    assert meta["equation"] == "burgers" and meta["parameters"]["viscosity"] == 0.05
    assert meta["grid"]["num_points"] == [32] and meta["dt"] == 0.01 and "jaxpde_version" in meta
    assert (out / "case.png").stat().st_size > 1000
    assert not list(out.glob("*.partial*"))
    # the solution matches the library called directly
    import jaxpde as jp
    from jaxpde import ic
    from jaxpde.spectral import ETDRK, Burgers

    g = jp.PeriodicGrid(32)
    ref = jp.rollout(ETDRK(Burgers(g, 0.05), 0.01), ic.sine(g), 40, save_every=4)
    np.testing.assert_allclose(traj, np.asarray(ref).reshape(traj.shape), rtol=1e-10, atol=1e-12)


def test_two_dimensional_config(tmp_path):
    cfg = _write(tmp_path, SMALL.replace("burgers", "navier_stokes_2d").replace("{viscosity: 0.05}", "{viscosity: 0.01}")
                 .replace("num_points: 32", "num_points: [16, 16]").replace("extent: 6.283185307179586", "extent: [6.283185307179586, 6.283185307179586]")
                 .replace("kind: sine, amplitude: 1.0", "kind: taylor_green_vorticity"))
    assert main(["simulate", str(cfg), "--out", str(tmp_path / "o"), "--no-progress"]) == 0
    traj, _, _ = load_trajectory(tmp_path / "o" / "case.h5")
    assert traj.shape == (11, 1, 16, 16)


def test_blow_up_leaves_no_file(tmp_path, capsys):
    # a legitimate config whose time step is far too large for its reaction rate
    cfg = _write(tmp_path, "kind: simulate\nequation: allen_cahn\nparameters: {diffusivity: 0.01, reactivity: 50.0}\n"
                           "grid: {num_points: 32}\ndt: 0.5\nnum_steps: 40\ninitial_condition: {kind: sine, amplitude: 2.0}\n")
    out = tmp_path / "out"
    assert main(["simulate", str(cfg), "--out", str(out), "--no-progress"]) == 1
    assert "non-finite" in capsys.readouterr().err
    assert not any(out.glob("*.h5*"))


def test_console_script_and_missing_file(tmp_path):
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    r = subprocess.run([sys.executable, "-m", "jaxpde.cli", "simulate", str(tmp_path / "nope.yaml")], capture_output=True, text=True, env=env, cwd=ROOT)
    assert r.returncode == 2 and "no such file" in r.stderr and "Traceback" not in r.stderr
    r = subprocess.run([sys.executable, "-m", "jaxpde.cli", "simulate", str(_write(tmp_path, "equation: [unclosed"))], capture_output=True, text=True, env=env, cwd=ROOT)
    assert r.returncode == 2 and "not valid YAML" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("path", sorted((ROOT / "configs").glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_config_validates(path, capsys):
    # validation builds the problem through the library's constructors (cheap; nothing runs)
    assert main(["validate", str(path)]) == 0
    assert "a valid" in capsys.readouterr().out


def test_cli_is_a_thin_acyclic_layer_nobody_imports():
    import ast
    import re

    cli = ROOT / "jaxpde" / "cli"
    graph = {}
    for f in cli.glob("*.py"):
        deps = set()
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
                deps.add(node.module)
        graph[f.stem] = deps
    seen, stack = set(), []

    def visit(m):
        assert m not in stack, f"import cycle in jaxpde.cli: {' -> '.join(stack + [m])}"
        if m in seen:
            return
        stack.append(m)
        for d in graph.get(m, ()):
            visit(d)
        stack.pop()
        seen.add(m)

    for m in graph:
        visit(m)
    # the library never imports the command line; tests, benchmarks and notebooks use only its entry point
    private = re.compile(r"jaxpde\.cli\._|from jaxpde\.cli import _")
    for folder in ("jaxpde", "tests", "benchmarks", "notebooks"):
        for f in (ROOT / folder).rglob("*"):
            if f.suffix in (".py", ".ipynb") and cli not in f.parents and f.name != "test_cli.py":
                assert not private.search(f.read_text()), f"{f} imports a private jaxpde.cli module"
    for f in (ROOT / "jaxpde").rglob("*.py"):
        if cli not in f.parents:
            assert "from ..cli" not in f.read_text() and "jaxpde.cli" not in f.read_text().replace("``jaxpde", ""), f


def test_schema_version_and_set(tmp_path, capsys):
    assert main(["schema"]) == 0
    schemas = json.loads(capsys.readouterr().out)
    assert set(schemas) == {"simulate (spectral)", "simulate (finite volume)", "train", "design"}
    assert schemas["train"]["properties"]["kind"] == {"const": "train"}
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out.startswith("jaxpde ")
    cfg = _write(tmp_path, SMALL)
    assert main(["simulate", str(cfg), "--out", str(tmp_path / "o"), "--no-progress", "--set", "num_steps=8",
                 "--set", "save_every=2"]) == 0
    traj, _, _ = load_trajectory(tmp_path / "o" / "case.h5")
    assert traj.shape[0] == 5
