"""Long-rollout emulators, compared on the same data and training budget: a one-step
MSE emulator, the unrolled emulator with a teacher-forcing curriculum, and PDE-Refiner
(Lippe et al., NeurIPS 2023), over several seeds. Every run is a shipped config run as
``jaxpde train`` + ``jaxpde evaluate`` would run it (``jaxpde.app``), and the table
reports each model's high-correlation time (correlation with the solver >= 0.8), its
nRMSE after 1 and 10 steps, when (if ever) it falls behind persistence, and how far the
energy spectrum of its rollout is from the solver's at the horizon (mean absolute log10
ratio over the wavenumbers, ``metrics.spectrum_log_error``).

    python benchmarks/long_rollout.py [--problems ks1d kolmogorov2d] [--seeds 0 1 2]
        [--models LABEL ...] [--steps N] [--set KEY=VALUE] [--out runs/long_rollout] [--json results.json]

The seed sets the data and the network initialisation together, so for each seed the
three models see identical trajectories. A run that finished (its ``benchmark.json`` is
in the run directory under ``--out``) is read back instead of trained again, so an
interrupted benchmark continues where it stopped.
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = {
    "ks1d": {
        "one-step MSE": (
            "train_ks1d_emulator.yaml",
            ["training.loss=one_step", "training.curriculum=false", "training.window=2"],
        ),
        "unrolled + curriculum": ("train_ks1d_emulator.yaml", []),
        "PDE-Refiner": ("train_ks1d_refiner.yaml", []),
    },
    "kolmogorov2d": {
        "one-step MSE": ("train_kolmogorov2d_emulator.yaml", ["training.normalise=true"]),
        "unrolled + curriculum": (
            "train_kolmogorov2d_emulator.yaml",
            [
                "training.normalise=true",
                "training.loss=rollout",
                "training.horizon=4",
                "training.window=5",
                "training.curriculum=true",
            ],
        ),
        "PDE-Refiner": ("train_kolmogorov2d_refiner.yaml", []),
    },
}
PERSISTENCE = "persistence (u_n = u_0)"


def run_one(problem, label, seed, out, steps=None, progress=False, extra=()):
    """Train and evaluate one model (`extra`: further ``KEY=VALUE`` config overrides);
    returns its summary."""
    import jax

    from jaxpde import app

    file, overrides = CONFIGS[problem][label]
    overrides = [*overrides, *extra, f"seed={seed}"] + ([f"training.num_steps={steps}"] if steps else [])
    kind, cfg = app.load(ROOT / "configs" / file, overrides=overrides)
    if cfg.precision == "float64":
        jax.config.update("jax_enable_x64", True)
    run_dir = Path(out) / problem / label.replace(" ", "_").replace("+", "and") / f"seed{seed}"
    done = run_dir / "benchmark.json"
    if done.exists():  # finished by an earlier invocation with the same --out: reuse it
        result = json.loads(done.read_text())
        if "spectrum_log_error" in result:
            return result
    if (run_dir / "eval.json").exists():  # trained and evaluated, the time not recorded
        seconds, ev = None, json.loads((run_dir / "eval.json").read_text())
        if "spectrum" not in ev:  # evaluated before the spectra were: measure them
            ev = app.evaluate(run_dir, progress=progress)
        if done.exists():
            seconds = json.loads(done.read_text())["train_seconds"]
    else:
        t0 = time.perf_counter()
        app.train(cfg, run_dir, progress=progress)
        seconds = time.perf_counter() - t0
        ev = app.evaluate(run_dir, progress=progress)
    model = np.asarray(ev["nrmse"]["model"])
    persistence = np.asarray(ev["nrmse"][PERSISTENCE])
    behind = np.nonzero(model > persistence)[0]
    result = {
        "high_correlation_time": ev["high_correlation_time"]["model"]["mean"],
        "persistence_high_correlation_time": ev["high_correlation_time"][PERSISTENCE]["mean"],
        "nrmse_1": float(model[0]),
        "nrmse_10": float(model[min(9, len(model) - 1)]),
        "behind_persistence_at_step": int(behind[0]) + 1 if behind.size else None,
        "horizon_steps": len(model),
        # distance of the rollout's energy spectrum from the solver's at the horizon, decades
        "spectrum_log_error": ev["spectrum"]["log_error"][-1] if "spectrum" in ev else None,
        "train_seconds": seconds,
        "run_dir": str(run_dir),
    }
    done.write_text(json.dumps(result, indent=1))
    return result


def _decades(result):
    e = result.get("spectrum_log_error")
    return "n/a" if e is None else f"{e:.2f}"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--problems", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--models", nargs="+", default=None, help="a subset of the compared models (default: all), by label")
    p.add_argument("--steps", type=int, default=None, help="optimiser steps (default: the configs')")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a config override for every model, e.g. 'model={kind: unet, width: 32, levels: 3}'",
    )
    p.add_argument("--out", default="runs/long_rollout")
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    results = {}
    for problem in args.problems:
        for seed in args.seeds:  # every model for one seed before the next: partial runs still compare
            for label in CONFIGS[problem]:
                if args.models and label not in args.models:
                    continue
                r = run_one(problem, label, seed, args.out, args.steps, extra=args.set)
                results.setdefault(problem, {}).setdefault(label, []).append(r)
                print(
                    f"{problem:13s} {label:22s} seed {seed}: high-correlation time {r['high_correlation_time']:.2f} "
                    f"(persistence {r['persistence_high_correlation_time']:.2f}), nRMSE {r['nrmse_1']:.3f} / "
                    f"{r['nrmse_10']:.3f} (1 / 10 steps), behind persistence at step "
                    f"{r['behind_persistence_at_step']}, spectrum off by {_decades(r)} at the horizon, "
                    f"{r['train_seconds'] or float('nan'):.0f} s",
                    flush=True,
                )
    print(
        "\nproblem        model                   high-correlation time (mean ± std over seeds; each seed)"
        "   spectrum error at the horizon (decades, each seed)"
    )
    for problem, models in results.items():
        for label, rs in models.items():
            t = np.asarray([r["high_correlation_time"] for r in rs])
            print(
                f"{problem:13s}  {label:22s}  {t.mean():.2f} ± {t.std():.2f}  ({', '.join(f'{x:.2f}' for x in t)})"
                f"   {', '.join(_decades(r) for r in rs)}"
            )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return results


if __name__ == "__main__":
    main()
