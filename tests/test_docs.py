"""The API reference covers every public name with its own docstring, and notebooks are
stored without outputs (CI executes them: ``python -m pytest --nbmake notebooks``)."""

import importlib
import inspect
import json
import pkgutil
import types
from pathlib import Path

import pytest

import jaxpde

ROOT = Path(__file__).resolve().parents[1]


def _documented_modules():
    pages = sorted((ROOT / "docs" / "api").glob("*.md"))
    return [
        line.split(":::", 1)[1].strip() for p in pages for line in p.read_text().splitlines() if line.startswith(":::")
    ]


def test_every_subpackage_has_an_api_page():
    subpackages = {f"jaxpde.{m.name}" for m in pkgutil.iter_modules(jaxpde.__path__) if m.ispkg and m.name != "cli"}
    assert subpackages | {"jaxpde"} <= set(_documented_modules())


def _own_doc(obj) -> str | None:
    if isinstance(obj, type):
        return obj.__dict__.get("__doc__")
    return inspect.getdoc(obj)


@pytest.mark.parametrize("module", _documented_modules())
def test_every_public_name_has_its_own_docstring(module):
    mod = importlib.import_module(module)
    missing = []
    for name in dir(mod):
        obj = getattr(mod, name)
        if name.startswith("_") or isinstance(obj, types.ModuleType):
            continue
        if not callable(obj) and not isinstance(obj, type):
            continue  # constants (tables of names) are described in their module's docstring
        doc = _own_doc(obj)
        # dataclasses (equinox modules) make up ``Name(field, ...)`` when there is no docstring
        if not doc or not doc.strip() or doc.startswith(f"{getattr(obj, '__name__', name)}("):
            missing.append(name)
    assert not missing, f"{module}: public names without a docstring: {missing}"


def test_docstrings_use_links_not_sphinx_roles():
    """mkdocstrings renders Sphinx roles as literal text; cross-references are markdown
    links (``[`rollout`][jaxpde.rollout]``), which ``mkdocs build --strict`` resolves."""
    import re

    role = re.compile(r":(func|class|meth|mod|data|attr|obj|exc):`")
    found = [
        f"{f}:{i + 1}"
        for f in (ROOT / "jaxpde").rglob("*.py")
        for i, line in enumerate(f.read_text().splitlines())
        if role.search(line)
    ]
    assert not found, f"Sphinx roles (render as literal text): {found}"


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("*.ipynb")), ids=lambda p: p.name)
def test_notebooks_are_stored_without_outputs(path):
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [] and cell.get("execution_count") is None, (
                f"{path.name}: strip outputs before committing (jupyter nbconvert --clear-output --inplace)"
            )


def _python_blocks(page: Path) -> list[str]:
    blocks, current = [], None
    for line in page.read_text().splitlines():
        if line.strip() == "```python":
            current = []
        elif line.strip() == "```" and current is not None:
            blocks.append("\n".join(current))
            current = None
        elif current is not None:
            current.append(line)
    return blocks


def test_adding_an_equation_page_runs_and_its_equation_is_exact(tmp_path):
    """The guide's new equation joins the registry by one decorator, integrates its exact
    travelling front, differentiates, and a config can name it."""
    import numpy as np

    from jaxpde import app, spectral

    ns: dict = {}
    for block in _python_blocks(ROOT / "docs" / "guides" / "adding-an-equation.md"):
        exec(compile(block, "adding-an-equation.md", "exec"), ns)
    assert ns["error"] < 1e-7, ns["error"]
    assert ns["d_mass_d_rate"] > 0
    # the derivative agrees with central differences
    st = spectral.ETDRK(ns["pde"], 0.05)
    h = 1e-5
    fd = [float(ns["speed"](eqx_tree_at(st, ns["pde"].rate + s))) for s in (h, -h)]
    np.testing.assert_allclose(ns["d_mass_d_rate"], (fd[0] - fd[1]) / (2 * h), rtol=1e-6)
    cfg = tmp_path / "front.yaml"
    cfg.write_text(
        "kind: simulate\nequation: zeldovich\nparameters: {diffusivity: 1.0, rate: 2.0}\n"
        "grid: {num_points: 64, extent: 50.0}\ndt: 0.05\nnum_steps: 4\n"
        "initial_condition: {kind: gaussian_blob, amplitude: 1.0}\n"
    )
    kind, c = app.load(cfg)
    pde, stepper, u0 = app.build(c)
    assert type(pde).__name__ == "Zeldovich" and float(pde.rate) == 2.0
    assert stepper(u0).shape == u0.shape


def eqx_tree_at(stepper, rate):
    import equinox as eqx

    return eqx.tree_at(lambda s: s.pde.rate, stepper, rate)


@pytest.mark.slow  # 35 s: a worked inverse problem, a WENO5 Sod run and a simulation (runs in CI's slow pass)
def test_readme_tour_runs(tmp_path, monkeypatch):
    """The front page's examples run as written (from a directory holding the configs)."""
    (tmp_path / "configs").symlink_to(ROOT / "configs")
    monkeypatch.chdir(tmp_path)
    ns: dict = {}
    for block in _python_blocks(ROOT / "README.md"):
        exec(compile(block, "README.md", "exec"), ns)
    assert float(ns["g"].pde.viscosity) > 0  # the loss falls towards the true viscosity 0.02
    assert ns["result"].summary["max_z_score"] < 3
    assert (tmp_path / "out" / "burgers" / "burgers1d.h5").exists()


def _undocumented_arguments(module: str) -> list:
    """Public callables of `module` whose docstring does not name each argument (in
    backticks) or, for functions, does not say what they return."""
    mod = importlib.import_module(module)
    out = []
    for name in dir(mod):
        obj = getattr(mod, name)
        if name.startswith("_") or isinstance(obj, types.ModuleType) or not callable(obj):
            continue
        if not getattr(obj, "__module__", "").startswith("jaxpde"):
            continue
        doc = _own_doc(obj) or ""
        try:
            sig = inspect.signature(obj.__init__ if isinstance(obj, type) else obj)
        except (TypeError, ValueError):
            continue
        params = [
            p.name
            for p in sig.parameters.values()
            if p.name not in ("self", "cls") and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]
        missing = [p for p in params if f"`{p}`" not in doc]
        if missing or (not isinstance(obj, type) and "Returns" not in doc):
            out.append((name, missing))
    return out


# every documented module: each public callable names its arguments and says what it returns
ARGUMENTS_DOCUMENTED = _documented_modules()


@pytest.mark.parametrize("module", ARGUMENTS_DOCUMENTED)
def test_public_callables_document_arguments_and_returns(module):
    missing = _undocumented_arguments(module)
    assert not missing, f"{module}: arguments or returns not documented: {missing}"
