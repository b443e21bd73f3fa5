"""``jaxpde simulate | train | evaluate | design | validate | schema``: parse, build
through library constructors, call library functions. Every bad input is one line on
stderr naming the file and the key, exit status 2, and nothing left behind."""

import argparse
import json
import shutil
import sys
from pathlib import Path

from ._schema import ConfigError, apply_overrides, read_yaml

KINDS = ("simulate", "train", "design")


def parse_any(kind: str, raw: dict, path: Path):
    """Validate a config of the given kind (``kind`` already checked)."""
    from ._config import parse_config
    from ._design import parse
    from ._fv import load_fv_config
    from ._train import parse_train_config

    raw = {k: v for k, v in raw.items() if k != "kind"}
    if kind == "design":
        return parse({"kind": "design", **raw}, path)
    if kind == "train":
        return parse_train_config(raw, path)
    return load_fv_config(raw, path) if "law" in raw else parse_config(raw, path)


def load(path, overrides=()):
    """``(kind, validated config)`` of a config file with ``--set`` overrides applied."""
    raw = apply_overrides(read_yaml(path), overrides, path)
    kind = raw.get("kind")
    if kind not in KINDS:
        guess = "design" if "problem" in raw else "train" if "training" in raw else "simulate"
        if kind is None:
            raise ConfigError(f"{path}: missing key 'kind' (simulate | train | design); this looks like "
                              f"'kind: {guess}'")
        raise ConfigError(f"{path}: key 'kind' must be simulate, train or design, got {kind!r}")
    return kind, parse_any(kind, raw, Path(path))


def _out_dir(ns, default: Path) -> Path:
    """The run directory: refuse a file, an unwritable place, or a path inside /proc."""
    out = Path(ns.out) if ns.out else default
    probe = out
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out}: is a file, not a directory")
    import os

    if str(out.absolute()).startswith(("/proc/", "/sys/")) or not os.access(probe, os.W_OK):
        raise ConfigError(f"--out {out}: cannot write there")
    return out


def _check_size(cfg):
    import math
    import os

    cells = None
    if hasattr(cfg, "num_points"):
        cells = math.prod(cfg.num_points)
    elif hasattr(cfg, "num_cells"):
        cells = math.prod(cfg.num_cells)
    if cells is None:
        return
    itemsize = 8 if cfg.precision == "float64" else 4
    need = 12 * 4 * cells * itemsize  # a few states and their Fourier transforms, 4 channels
    try:
        have = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return
    if need > have:
        raise ConfigError(f"{cfg.path}: key 'grid': {cells:,} points need about {need / 2**30:.0f} GiB, more than "
                          f"this machine's {have / 2**30:.0f} GiB; use a smaller grid")


def _simulate(ns, progress):
    from ._simulate import simulate

    kind, cfg = load(ns.config, ns.set)
    if kind != "simulate":
        raise ConfigError(f"{ns.config}: a '{kind}' config; run it with 'jaxpde {kind}'")
    _check_size(cfg)
    out = _out_dir(ns, Path("out") / cfg.name)
    res = _cleanup_on_failure(out, lambda: simulate(cfg, out, progress=progress))
    rejected = res["info"].get("num_rejected_steps")
    extra = f" ({rejected} rejected)" if rejected is not None else ""
    print(f"wrote {res['h5']} and {res['png']}  ({res['wall_s']:.2f} s, {res['frames']} frames, "
          f"{res['steps']} steps{extra}, {res['steps'] / res['wall_s']:.0f} steps/s incl. compile and I/O)")


def _design(ns, progress):
    from . import _design

    kind, cfg = load(ns.config, ns.set)
    if kind != "design":
        raise ConfigError(f"{ns.config}: a '{kind}' config; run it with 'jaxpde {kind}'")
    run_dir = _out_dir(ns, Path("runs") / cfg.name)
    res = _cleanup_on_failure(run_dir, lambda: _design.run(cfg, ns.config, run_dir, resume=ns.resume,
                                                           progress=progress), keep_if_resume=ns.resume)
    floor = f" (noise floor {res['noise_floor']:.3g})" if res["noise_floor"] else ""
    print(f"{cfg.name}: objective {res['initial_objective']:.3e} -> {res['final_objective']:.3e}{floor}, "
          f"{res['reduction']:.3g}x in {res['iterations']} iterations ({res['wall_s']:.1f} s) -> {run_dir}")


def _train(ns, progress):
    from ._train import train

    kind, cfg = load(ns.config, ns.set)
    if kind != "train":
        raise ConfigError(f"{ns.config}: a '{kind}' config; run it with 'jaxpde {kind}'")
    _check_size(cfg.sim)
    run_dir = _out_dir(ns, Path("runs") / cfg.name)
    res = _cleanup_on_failure(run_dir, lambda: train(cfg, run_dir, resume=ns.resume, progress=progress),
                              keep_if_resume=ns.resume)
    if "unseen" in res:
        e = res["unseen"]
        print(f"trained {cfg.name}: final loss {res['final_loss']:.3e}, unseen relative L2 error "
              f"{e['interpolation']:.3e} (interpolation) / {e['extrapolation']:.3e} (extrapolation); "
              f"{res['samples_per_s']:.0f} trajectories/s -> {run_dir}")
        return
    nrmse = res["test_nrmse"]
    print(f"trained {cfg.name}: final loss {res['final_loss']:.3e}, test nRMSE at 1 step {nrmse[0]:.3e}"
          f", at {len(nrmse)} steps {nrmse[-1]:.3e}; {res['samples_per_s']:.0f} samples/s -> {run_dir}")


def _evaluate(ns, progress):
    from ._train import evaluate

    res = evaluate(Path(ns.run_dir), compare=ns.compare, progress=progress)
    if "errors" in res:
        for name, e in res["errors"].items():
            print(f"{name}: " + ", ".join(f"{split} {v['interpolation']:.3e} / {v['extrapolation']:.3e}"
                                          for split, v in e.items()) + " (interpolation / extrapolation)")
        print(f"evaluated step {res['step']}; wrote {res['png']}")
        return
    parts = ", ".join(f"{k} {v[0]:.3e} (1 step) / {v[-1]:.3e} ({len(v)} steps)" for k, v in res["nrmse"].items())
    print(f"evaluated step {res['step']}: nRMSE {parts}; wrote {res['png']}")


def _validate(ns, progress):
    kind, cfg = load(ns.config, ns.set)
    if kind == "simulate":
        import jax

        from ._build import build_any

        if cfg.precision == "float64":
            jax.config.update("jax_enable_x64", True)
        build_any(cfg)
    elif kind == "train":
        _check_size(cfg.sim)
    print(f"{ns.config}: a valid '{kind}' config")


def _schema(ns, progress):
    """JSON schemas of every kind of config (for editor completion). Sections that
    depend on a choice (an equation's ``parameters``, a model's keywords, a problem's
    ``setup``) are open objects here and checked against the constructor on load."""
    from ._config import _Simulation
    from ._design import DesignConfig
    from ._fv import _FVSimulation
    from ._train import _Train

    schemas = {"simulate (spectral)": _Simulation, "simulate (finite volume)": _FVSimulation, "train": _Train,
               "design": DesignConfig}
    out = {}
    for name, model in schemas.items():
        schema = model.model_json_schema()
        schema.setdefault("properties", {})["kind"] = {"const": name.split()[0]}
        schema.setdefault("required", []).append("kind")
        out[name] = schema
    print(json.dumps(out, indent=1))


def _cleanup_on_failure(run_dir: Path, fn, *, keep_if_resume=False):
    """Run `fn`; if it fails before the run directory held anything of a previous run,
    remove what it created (a bad config leaves nothing behind). Checkpoints of a run
    that failed later are kept, so that it can be resumed."""
    existed = run_dir.exists()
    try:
        return fn()
    except BaseException as e:
        if not existed and run_dir.exists() and not keep_if_resume:
            keep = any((run_dir / "checkpoints").glob("*")) and not isinstance(e, ConfigError)
            if not keep:
                shutil.rmtree(run_dir, ignore_errors=True)
        raise


def main(argv=None) -> int:
    from .._version import __version__
    from ..train import CheckpointError

    parser = argparse.ArgumentParser(prog="jaxpde", description="Differentiable PDE simulation in JAX.")
    parser.add_argument("--version", action="version", version=f"jaxpde {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name, help, *, out=None, resume=False, config=True):
        p = sub.add_parser(name, help=help)
        if config:
            p.add_argument("config", help="YAML config file (see configs/)")
            p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                           help="override a config value, e.g. --set training.num_steps=2000 (repeatable)")
        if out:
            p.add_argument("--out", default=None, help=f"output directory (default: {out}/<name>)")
            p.add_argument("--no-progress", action="store_true", help="hide progress")
        if resume:
            p.add_argument("--resume", action="store_true", help="continue the run in the run directory")
        return p

    command("simulate", "run a simulation", out="out")
    command("train", "train a neural operator, emulator or reduced-order model", out="runs", resume=True)
    command("design", "solve an inverse-design or control problem", out="runs", resume=True)
    command("validate", "check a config (and build its problem) without running it")
    command("schema", "print the JSON schema of the config files", config=False)
    p_eval = sub.add_parser("evaluate", help="rollout errors of a trained run on its held-out trajectories")
    p_eval.add_argument("run_dir", help="a run directory written by 'jaxpde train'")
    p_eval.add_argument("--compare", nargs="+", default=(), metavar="RUN_DIR",
                        help="ROM runs on the same data (already evaluated) to plot beside this one")
    p_eval.add_argument("--no-progress", action="store_true", help="hide progress")
    ns = parser.parse_args(argv)
    handlers = {"simulate": _simulate, "train": _train, "design": _design, "evaluate": _evaluate,
                "validate": _validate, "schema": _schema}
    progress = False if getattr(ns, "no_progress", False) else None
    try:
        handlers[ns.command](ns, progress)
    except (ConfigError, CheckpointError) as e:
        print(f"jaxpde: error: {e}", file=sys.stderr)
        return 2
    except (FloatingPointError, RuntimeError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        print(f"jaxpde: error: {first}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("jaxpde: interrupted (SIGINT)", file=sys.stderr)
        return 130
    return 0
