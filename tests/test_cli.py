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
    cfg = _write(
        tmp_path,
        SMALL.replace("burgers", "navier_stokes_2d")
        .replace("{viscosity: 0.05}", "{viscosity: 0.01}")
        .replace("num_points: 32", "num_points: [16, 16]")
        .replace("extent: 6.283185307179586", "extent: [6.283185307179586, 6.283185307179586]")
        .replace("kind: sine, amplitude: 1.0", "kind: taylor_green_vorticity"),
    )
    assert main(["simulate", str(cfg), "--out", str(tmp_path / "o"), "--no-progress"]) == 0
    traj, _, _ = load_trajectory(tmp_path / "o" / "case.h5")
    assert traj.shape == (11, 1, 16, 16)


def test_blow_up_leaves_no_file(tmp_path, capsys):
    # a legitimate config whose time step is far too large for its reaction rate
    cfg = _write(
        tmp_path,
        "kind: simulate\nequation: allen_cahn\nparameters: {diffusivity: 0.01, reactivity: 50.0}\n"
        "grid: {num_points: 32}\ndt: 0.5\nnum_steps: 40\ninitial_condition: {kind: sine, amplitude: 2.0}\n",
    )
    out = tmp_path / "out"
    assert main(["simulate", str(cfg), "--out", str(out), "--no-progress"]) == 1
    assert "non-finite" in capsys.readouterr().err
    assert not any(out.glob("*.h5*"))


def test_console_script_and_missing_file(tmp_path):
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    r = subprocess.run(
        [sys.executable, "-m", "jaxpde.cli", "simulate", str(tmp_path / "nope.yaml")],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert r.returncode == 2 and "no such file" in r.stderr and "Traceback" not in r.stderr
    r = subprocess.run(
        [sys.executable, "-m", "jaxpde.cli", "simulate", str(_write(tmp_path, "equation: [unclosed"))],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert r.returncode == 2 and "not valid YAML" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("path", sorted((ROOT / "configs").glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_config_validates(path, capsys):
    # validation builds the problem through the library's constructors (cheap; nothing runs)
    assert main(["validate", str(path)]) == 0
    assert "a valid" in capsys.readouterr().out


def test_cli_is_a_thin_acyclic_layer_nobody_imports():
    import ast
    import re

    cli, app = ROOT / "jaxpde" / "cli", ROOT / "jaxpde" / "app"
    # no module imports another of its package that imports it back, not even inside a function
    for package in [p for p in (ROOT / "jaxpde").iterdir() if (p / "__init__.py").exists()]:
        graph = {}
        for f in package.glob("*.py"):
            deps = set()
            for node in ast.walk(ast.parse(f.read_text())):
                if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
                    deps.add(node.module)
            graph[f.stem] = deps
        seen, stack = set(), []

        def visit(m):
            assert m not in stack, f"import cycle in {package.name}: {' -> '.join(stack + [m])}"
            if m in seen:
                return
            stack.append(m)
            for d in graph.get(m, ()):
                visit(d)
            stack.pop()
            seen.add(m)

        for m in graph:
            visit(m)
    # thin: the command line only parses arguments and prints; the application layer is the library's
    assert sum(len(f.read_text().splitlines()) for f in cli.glob("*.py")) <= 800
    # the library never imports the command line, and only the command line imports the application
    # layer; tests, benchmarks and notebooks use public names only
    private = re.compile(r"jaxpde\.(cli|app)\._|from jaxpde\.(cli|app) import _")
    for folder in ("jaxpde", "tests", "benchmarks", "notebooks"):
        for f in (ROOT / folder).rglob("*"):
            if f.suffix in (".py", ".ipynb") and not {cli, app} & set(f.parents) and f.name != "test_cli.py":
                assert not private.search(f.read_text()), f"{f} imports a private jaxpde.cli or jaxpde.app module"
    for f in (ROOT / "jaxpde").rglob("*.py"):
        if not {cli, app} & set(f.parents):
            text = f.read_text().replace("``jaxpde", "")
            assert not re.search(r"from \.\.(cli|app)|jaxpde\.(cli|app)", text), f
    for f in app.glob("*.py"):
        assert "from ..cli" not in f.read_text(), f


def test_schema_version_and_set(tmp_path, capsys):
    assert main(["schema"]) == 0
    schemas = json.loads(capsys.readouterr().out)
    assert set(schemas) == {
        "simulate (spectral)",
        "simulate (finite volume)",
        "simulate (incompressible)",
        "train",
        "design",
    }
    assert schemas["train"]["properties"]["kind"] == {"const": "train"}
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out.startswith("jaxpde ")
    cfg = _write(tmp_path, SMALL)
    assert (
        main(
            [
                "simulate",
                str(cfg),
                "--out",
                str(tmp_path / "o"),
                "--no-progress",
                "--set",
                "num_steps=8",
                "--set",
                "save_every=2",
            ]
        )
        == 0
    )
    traj, _, _ = load_trajectory(tmp_path / "o" / "case.h5")
    assert traj.shape[0] == 5


def test_every_command_is_reachable_from_python(tmp_path):
    """`jaxpde.app` runs a config exactly as the command does (same bits), and hands out
    the library objects it describes."""
    import jaxpde as jp
    from jaxpde import app

    cfg_path = _write(tmp_path, SMALL)
    assert main(["simulate", str(cfg_path), "--out", str(tmp_path / "cli"), "--no-progress"]) == 0
    kind, cfg = app.load(cfg_path, overrides=["seed=0"])
    assert kind == "simulate" and cfg.precision == "float64"
    pde, stepper, u0 = app.build(cfg)
    res = app.simulate(cfg, tmp_path / "py", progress=False)
    a, _, _ = load_trajectory(tmp_path / "cli" / "case.h5")
    b, _, _ = load_trajectory(res["h5"])
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(b[-1], np.asarray(jp.rollout_final(stepper, u0, 40)), rtol=1e-12, atol=1e-13)
    with pytest.raises(app.ConfigError, match=r"case.yaml: key 'dt'"):
        app.load(cfg_path, overrides=["dt=-1"])
    assert set(app.schemas()) == {
        "simulate (spectral)",
        "simulate (finite volume)",
        "simulate (incompressible)",
        "train",
        "design",
    }


def test_the_library_leaves_jax_precision_to_the_caller(tmp_path):
    code = (
        "from jaxpde import app\n"
        f"kind, cfg = app.load({str(_write(tmp_path, SMALL))!r})\n"
        "try:\n    app.simulate(cfg, 'never')\nexcept ValueError as e:\n    print(e)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert "runs in float64; enable it first with jax.config.update('jax_enable_x64', True)" in r.stdout, r.stderr
    assert not (tmp_path / "never").exists()


def test_the_compilation_cache_stays_off_when_asked(tmp_path, monkeypatch):
    import jaxpde

    monkeypatch.setenv("JAXPDE_NO_COMPILATION_CACHE", "1")
    assert jaxpde.enable_compilation_cache(tmp_path / "c") is None and not (tmp_path / "c").exists()
    monkeypatch.setenv("JAXPDE_CACHE_DIR", str(tmp_path / "d"))
    assert jaxpde.default_cache_dir() == tmp_path / "d"


@pytest.mark.slow  # ~25 s: three fresh processes
def test_a_second_run_of_a_config_compiles_nothing(tmp_path):
    """The command line's persistent compilation cache: the first run fills it, the second
    writes no new entry (every program came from disk), and --no-cache leaves it alone."""
    cache = tmp_path / "cache"
    env = {k: v for k, v in os.environ.items() if k != "JAXPDE_NO_COMPILATION_CACHE"}
    env.update(JAXPDE_CACHE_DIR=str(cache), JAX_PLATFORMS="cpu")
    config = str(Path(__file__).resolve().parents[1] / "configs" / "cavity_re100.yaml")

    def run(*extra, out):
        cmd = [sys.executable, "-m", "jaxpde.cli", *extra, "simulate", config, "--set", "t_final=0.5", "--no-progress"]
        r = subprocess.run([*cmd, "--out", str(tmp_path / out)], env=env, capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        return sorted(p.name for p in cache.iterdir()) if cache.exists() else []

    first = run(out="a")
    assert len(first) > 3, first
    assert run(out="b") == first
    env["JAXPDE_CACHE_DIR"] = str(tmp_path / "other")
    run("--no-cache", out="c")
    assert not (tmp_path / "other").exists()
