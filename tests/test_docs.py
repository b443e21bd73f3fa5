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
    return [line.split(":::", 1)[1].strip() for p in pages for line in p.read_text().splitlines()
            if line.startswith(":::")]


def test_every_subpackage_has_an_api_page():
    subpackages = {f"jaxpde.{m.name}" for m in pkgutil.iter_modules(jaxpde.__path__)
                   if m.ispkg and m.name != "cli"}
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


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("*.ipynb")), ids=lambda p: p.name)
def test_notebooks_are_stored_without_outputs(path):
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [] and cell.get("execution_count") is None, (
                f"{path.name}: strip outputs before committing (jupyter nbconvert --clear-output --inplace)")
