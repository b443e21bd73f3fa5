"""Loading a config of any kind: read, apply overrides, validate against its schema."""

import math
import os
from pathlib import Path

from ._schema import ConfigError, apply_overrides, read_yaml

KINDS = ("simulate", "train", "design")


def load(path, overrides=()):
    """Read, override and validate a config file.

    **Arguments:**

    - `path`: a YAML config file (``kind: simulate | train | design``).
    - `overrides`: ``"dotted.key=value"`` strings (values parsed as YAML), applied before
      validation, e.g. ``["training.num_steps=2000"]``.

    **Returns:** ``(kind, config)``: the validated config object of that kind.

    Raises [`ConfigError`][jaxpde.app.ConfigError] with one line naming the file and the dotted key.
    """
    from ._config import parse_config
    from ._design import parse
    from ._fv import load_fv_config
    from ._train import parse_train_config

    path = Path(path)
    raw = apply_overrides(read_yaml(path), overrides, path)
    kind = raw.get("kind")
    if kind not in KINDS:
        guess = "design" if "problem" in raw else "train" if "training" in raw else "simulate"
        if kind is None:
            raise ConfigError(
                f"{path}: missing key 'kind' (simulate | train | design); this looks like 'kind: {guess}'"
            )
        raise ConfigError(f"{path}: key 'kind' must be simulate, train or design, got {kind!r}")
    raw = {k: v for k, v in raw.items() if k != "kind"}
    if kind == "design":
        return kind, parse({"kind": "design", **raw}, path)
    if kind == "train":
        return kind, parse_train_config(raw, path)
    if "flow" in raw:
        from ._incompressible import load_incompressible_config

        return kind, load_incompressible_config(raw, path)
    return kind, (load_fv_config(raw, path) if "law" in raw else parse_config(raw, path))


def build(cfg):
    """The library objects of a validated config, built through the library's constructors
    (which check them).

    **Returns:** ``(pde, stepper, u0)`` for a fixed-step spectral simulation,
    ``(pde, u0)`` for a diffrax or finite-volume one, ``(problem, optimiser_name)`` for a
    design config.

    **Arguments:** `cfg`, from [`load`][jaxpde.app.load].
    """
    return cfg.build()


def check_size(cfg):
    """Refuse ([`ConfigError`][jaxpde.app.ConfigError]) a simulation or training config whose grid cannot fit
    in this machine's memory, before anything is allocated.

    **Arguments:** `cfg`. **Returns:** ``None``.
    """
    cfg = getattr(cfg, "sim", cfg)
    cells = getattr(cfg, "num_points", None) or getattr(cfg, "num_cells", None)
    if cells is None:
        return
    cells = math.prod(cells)
    need = 12 * 4 * cells * (8 if cfg.precision == "float64" else 4)  # a few states and transforms, 4 channels
    try:
        have = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return
    if need > have:
        raise ConfigError(
            f"{cfg.path}: key 'grid': {cells:,} points need about {need / 2**30:.0f} GiB, more than "
            f"this machine's {have / 2**30:.0f} GiB; use a smaller grid"
        )


def check(kind, cfg):
    """Everything that can be checked without running: the schema (done by [`load`][jaxpde.app.load]),
    the memory estimate, and for simulations the library constructors themselves.

    **Arguments:** the `kind` and `cfg` that [`load`][jaxpde.app.load] returns. **Returns:** ``None``.
    """
    check_size(cfg)
    if kind == "simulate":
        from ._schema import require_precision

        require_precision(cfg)
        cfg.build()


def schemas() -> dict:
    """JSON schemas of every kind of config (for editor completion). Sections that depend
    on a choice (an equation's ``parameters``, a model's keywords, a problem's ``setup``)
    are open objects here and checked against the constructor on load.

    **Returns:** ``{kind: JSON schema}``.
    """
    from ._config import _Simulation
    from ._design import DesignConfig
    from ._fv import _FVSimulation
    from ._incompressible import _Incompressible
    from ._train import _Train

    out = {}
    for name, model in {
        "simulate (spectral)": _Simulation,
        "simulate (finite volume)": _FVSimulation,
        "simulate (incompressible)": _Incompressible,
        "train": _Train,
        "design": DesignConfig,
    }.items():
        schema = model.model_json_schema()
        schema.setdefault("properties", {})["kind"] = {"const": name.split()[0]}
        schema.setdefault("required", []).append("kind")
        out[name] = schema
    return out
