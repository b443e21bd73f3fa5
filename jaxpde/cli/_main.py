"""``jaxpde simulate | train | evaluate | design | validate | schema``: parse, build
through library constructors, call library functions. Every bad input is one line on
stderr naming the file and the key, exit status 2, and nothing left behind."""

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

from ..app import ConfigError, load


def _load(ns, kind=None):
    """The validated config of the command line, with float64 enabled when it asks for it."""
    got, cfg = load(ns.config, ns.set)
    if kind is not None and got != kind:
        raise ConfigError(f"{ns.config}: a '{got}' config; run it with 'jaxpde {got}'")
    return got, _precision(cfg)


def _precision(cfg):
    if cfg.precision == "float64":
        import jax

        jax.config.update("jax_enable_x64", True)
    return cfg


def _out_dir(ns, default: Path) -> Path:
    """The run directory: refuse a file, an unwritable place, or a path inside /proc."""
    out = Path(ns.out) if ns.out else default
    probe = out
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out}: is a file, not a directory")
    if str(out.absolute()).startswith(("/proc/", "/sys/")) or not os.access(probe, os.W_OK):
        raise ConfigError(f"--out {out}: cannot write there")
    return out


def _simulate(ns, progress):
    from ..app import check_size, simulate

    _, cfg = _load(ns, "simulate")
    check_size(cfg)
    out = _out_dir(ns, Path("out") / cfg.name)
    res = _cleanup_on_failure(out, lambda: simulate(cfg, out, progress=progress, animate=ns.animate))
    rejected = res["info"].get("num_rejected_steps")
    extra = f" ({rejected} rejected)" if rejected is not None else ""
    gif = f", {res['gif']}" if res["gif"] else ""
    print(
        f"wrote {res['h5']}, {res['png']}{gif}  ({res['wall_s']:.2f} s, {res['frames']} frames, "
        f"{res['steps']} steps{extra}, {res['steps'] / res['wall_s']:.0f} steps/s incl. compile and I/O)"
    )


def _design(ns, progress):
    from ..app import design

    _, cfg = _load(ns, "design")
    run_dir = _out_dir(ns, Path("runs") / cfg.name)
    res = _cleanup_on_failure(
        run_dir, lambda: design(cfg, run_dir, resume=ns.resume, progress=progress), keep_if_resume=ns.resume
    )
    floor = f" (noise floor {res['noise_floor']:.3g})" if res["noise_floor"] else ""
    print(
        f"{cfg.name}: objective {res['initial_objective']:.3e} -> {res['final_objective']:.3e}{floor}, "
        f"{res['reduction']:.3g}x in {res['iterations']} iterations ({res['wall_s']:.1f} s) -> {run_dir}"
    )


def _train(ns, progress):
    from ..app import check_size, train

    _, cfg = _load(ns, "train")
    check_size(cfg)
    run_dir = _out_dir(ns, Path("runs") / cfg.name)
    res = _cleanup_on_failure(
        run_dir, lambda: train(cfg, run_dir, resume=ns.resume, progress=progress), keep_if_resume=ns.resume
    )
    if "unseen" in res:
        e = res["unseen"]
        print(
            f"trained {cfg.name}: final loss {res['final_loss']:.3e}, unseen relative L2 error "
            f"{e['interpolation']:.3e} (interpolation) / {e['extrapolation']:.3e} (extrapolation); "
            f"{res['samples_per_s']:.0f} trajectories/s -> {run_dir}"
        )
        return
    nrmse = res["test_nrmse"]
    print(
        f"trained {cfg.name}: final loss {res['final_loss']:.3e}, test nRMSE at 1 step {nrmse[0]:.3e}"
        f", at {len(nrmse)} steps {nrmse[-1]:.3e}; {res['samples_per_s']:.0f} samples/s -> {run_dir}"
    )


def _evaluate(ns, progress):
    from ..app import evaluate, run_config

    _precision(run_config(ns.run_dir))
    res = evaluate(ns.run_dir, compare=ns.compare, samples=ns.samples, progress=progress)
    if "errors" in res:
        for name, e in res["errors"].items():
            print(
                f"{name}: "
                + ", ".join(f"{split} {v['interpolation']:.3e} / {v['extrapolation']:.3e}" for split, v in e.items())
                + " (interpolation / extrapolation)"
            )
        print(f"evaluated step {res['step']}; wrote {res['png']}")
        return
    parts = ", ".join(f"{k} {v[0]:.3e} (1 step) / {v[-1]:.3e} ({len(v)} steps)" for k, v in res["nrmse"].items())
    print(f"evaluated step {res['step']}: nRMSE {parts}; wrote {res['png']}")
    hct = ", ".join(f"{k} {v['mean']:.3g} ± {v['std']:.2g}" for k, v in res["high_correlation_time"].items())
    print(f"high-correlation time (correlation ≥ 0.8): {hct}; wrote {res['correlation_png']}")
    if "noise_samples" in res:
        ns_ = res["noise_samples"]
        print(
            f"over {ns_['num_samples']} noise samples: {ns_['mean']:.3g} ± {ns_['std']:.2g} "
            f"(from {ns_['min']:.3g} to {ns_['max']:.3g})"
        )
    if "spectrum" in res:
        sp = res["spectrum"]
        parts = ", ".join(f"t = {t:.3g}: {e:.2f}" for t, e in zip(sp["times"], sp["log_error"]))
        print(f"energy spectrum of the rollout against the solver's, decades off: {parts}; wrote {res['spectrum_png']}")
    if "assimilation" in res:
        parts = ", ".join(f"{k} {v[0]:.3e} / {v[-1]:.3e}" for k, v in res["assimilation"].items())
        n = len(next(iter(res["assimilation"].values())))
        print(f"from a perturbed guess, nRMSE after 1 / {n} steps: {parts}; wrote {res['assimilation_png']}")


def _validate(ns, progress):
    from ..app import check

    kind, cfg = _load(ns)
    check(kind, cfg)
    print(f"{ns.config}: a valid '{kind}' config")


def _schema(ns, progress):
    from ..app import schemas

    print(json.dumps(schemas(), indent=1))


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
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="do not use the persistent compilation cache (also: JAXPDE_NO_COMPILATION_CACHE=1; "
        "location: JAXPDE_CACHE_DIR, default ~/.cache/jaxpde/xla)",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name, help, *, out=None, resume=False, config=True):
        p = sub.add_parser(name, help=help)
        if config:
            p.add_argument("config", help="YAML config file (see configs/)")
            p.add_argument(
                "--set",
                action="append",
                default=[],
                metavar="KEY=VALUE",
                help="override a config value, e.g. --set training.num_steps=2000 "
                "(repeatable; KEY=null removes the key)",
            )
        if out:
            p.add_argument("--out", default=None, help=f"output directory (default: {out}/<name>)")
            p.add_argument("--no-progress", action="store_true", help="hide progress")
        if resume:
            p.add_argument("--resume", action="store_true", help="continue the run in the run directory")
        return p

    p_sim = command("simulate", "run a simulation", out="out")
    p_sim.add_argument("--animate", action="store_true", help="also write <name>.gif, an animation of the run")
    command("train", "train a neural operator, emulator or reduced-order model", out="runs", resume=True)
    command("design", "solve an inverse-design or control problem", out="runs", resume=True)
    command("validate", "check a config (and build its problem) without running it")
    command("schema", "print the JSON schema of the config files", config=False)
    p_eval = sub.add_parser("evaluate", help="rollout errors of a trained run on its held-out trajectories")
    p_eval.add_argument("run_dir", help="a run directory written by 'jaxpde train'")
    p_eval.add_argument(
        "--compare",
        nargs="+",
        default=(),
        metavar="RUN_DIR",
        help="ROM runs on the same data (already evaluated) to plot beside this one",
    )
    p_eval.add_argument(
        "--samples",
        type=int,
        default=1,
        metavar="N",
        help="noise samples of a stochastic model (PDE-Refiner): the high-correlation time of each and of their mean",
    )
    p_eval.add_argument("--no-progress", action="store_true", help="hide progress")
    ns = parser.parse_args(argv)
    handlers = {
        "simulate": _simulate,
        "train": _train,
        "design": _design,
        "evaluate": _evaluate,
        "validate": _validate,
        "schema": _schema,
    }
    progress = False if getattr(ns, "no_progress", False) else None
    if not ns.no_cache and ns.command != "schema":
        from .._cache import enable_compilation_cache

        enable_compilation_cache()
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
