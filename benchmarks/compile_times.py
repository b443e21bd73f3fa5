"""Compile time of every shipped config, and what a second run compiles.

Each config runs twice through the command line, each time in a fresh process that shares
one empty persistent-compilation-cache directory (``JAXPDE_CACHE_DIR``): the first run
compiles everything and fills the cache, the second should take every program from disk.
The runs are shortened (two saved frames, one optimiser step, two training steps; the
problem sizes and therefore the compiled programs are the config's own), and JAX's own
monitoring events are summed in the process:

- *trace + lower*: ``/jax/core/compile/jaxpr_trace_duration`` and
  ``jaxpr_to_mlir_module_duration`` (Python work, paid on every run; the cache cannot
  hold it);
- *XLA compile*: ``/jax/core/compile/backend_compile_duration`` (on a cache hit, the
  time to read the program from disk);
- *compiled*: programs compiled because the cache did not hold them
  (``/jax/compilation_cache/cache_misses``); 0 on the second run means every cacheable
  program came from disk;
- *uncacheable*: programs JAX never offers to the cache (it refuses executables with
  host callbacks, e.g. ``jax.debug.callback`` or diffrax's progress meters), compiled on
  every run.

Run:  python benchmarks/compile_times.py [--only NAME ...] [--json FILE]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"
COMMANDS = {"simulate": "simulate", "train": "train", "design": "design"}
# a quick subset for the suite's --quick mode: one of each kind
QUICK = ("sod1d", "kolmogorov2d", "cavity_re100", "design_burgers_ic", "train_fno_burgers1d")


def shorten(raw: dict) -> list[str]:
    """``--set`` overrides that shorten a run without changing what it compiles."""
    kind = raw.get("kind")
    sets = []
    if kind == "simulate":
        if "num_steps" in raw and "save_every" in raw:
            sets.append(f"num_steps={2 * int(raw['save_every'])}")
        elif "num_frames" in raw and "t_final" in raw:
            sets += [f"t_final={2 * float(raw['t_final']) / int(raw['num_frames'])}", "num_frames=2"]
        elif "save_interval" in raw and "t_final" in raw:
            sets.append(f"t_final={2 * float(raw['save_interval'])}")
    elif kind == "design":
        sets.append("optimiser.steps=1")
    elif kind == "train":
        sets.append("training.num_steps=2")
    return sets


def probe(argv: list[str]) -> None:
    """In this process: sum JAX's compile events while the command line runs `argv`."""
    import jax

    totals = {"trace_lower_s": 0.0, "xla_compile_s": 0.0, "programs": 0, "compiled": 0, "cache_hits": 0}

    def duration(event, seconds, **_):
        if event in ("/jax/core/compile/jaxpr_trace_duration", "/jax/core/compile/jaxpr_to_mlir_module_duration"):
            totals["trace_lower_s"] += seconds
        elif event == "/jax/core/compile/backend_compile_duration":
            totals["xla_compile_s"] += seconds
            totals["programs"] += 1

    def count(event, **_):
        if event == "/jax/compilation_cache/cache_misses":
            totals["compiled"] += 1
        elif event == "/jax/compilation_cache/cache_hits":
            totals["cache_hits"] += 1

    jax.monitoring.register_event_duration_secs_listener(duration)
    jax.monitoring.register_event_listener(count)
    from jaxpde.cli import main

    start = time.perf_counter()
    code = main(argv)
    totals["wall_s"] = time.perf_counter() - start
    totals["exit"] = code
    # programs JAX does not offer to the cache (those with host callbacks) compile every time
    totals["uncacheable"] = totals["programs"] - totals["compiled"] - totals["cache_hits"]
    print("RESULT" + json.dumps(totals))


def measure(path: Path, workdir: Path) -> dict:
    """Two runs of the config at `path` sharing a fresh cache; ``{"first": ..., "second": ...}``."""
    import yaml

    raw = yaml.safe_load(path.read_text())
    command = COMMANDS[raw["kind"]]
    env = {k: v for k, v in os.environ.items() if k != "JAXPDE_NO_COMPILATION_CACHE"}
    env["JAXPDE_CACHE_DIR"] = str(workdir / "cache")
    sets = [a for s in shorten(raw) for a in ("--set", s)]
    out = {}
    for run in ("first", "second"):
        argv = [command, str(path), "--out", str(workdir / run), "--no-progress", *sets]
        proc = subprocess.run(
            [sys.executable, __file__, "--probe", json.dumps(argv)], env=env, capture_output=True, text=True
        )
        if proc.returncode != 0 or "RESULT" not in proc.stdout:
            raise RuntimeError(f"{path.name} ({run} run) failed:\n{proc.stderr[-3000:]}")
        out[run] = json.loads(proc.stdout.rsplit("RESULT", 1)[1])
    return out


def run_all(names=None, quiet=False) -> dict:
    paths = sorted(CONFIGS.glob("*.yaml"))
    if names:
        paths = [p for p in paths if p.stem in names]
    results = {}
    for path in paths:
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            res = measure(path, Path(tmp))
        results[path.stem] = res
        if not quiet:
            a, b = res["first"], res["second"]
            print(
                f"{path.stem:28s} first: trace+lower {a['trace_lower_s']:5.1f} s, XLA {a['xla_compile_s']:5.1f} s "
                f"({a['compiled']} programs, {a['uncacheable']} uncacheable), run {a['wall_s']:5.1f} s | "
                f"second: XLA {b['xla_compile_s']:4.1f} s, compiled {b['compiled']} (+{b['uncacheable']} uncacheable), "
                f"run {b['wall_s']:5.1f} s  [{time.perf_counter() - start:.0f} s]",
                flush=True,
            )
    return results


def cases(quick=False):
    """The suite's rows (``python -m benchmarks``): per config, the first run's XLA
    compile time against the second run's (the cache's gain)."""
    from _common import row

    out = []
    for name, res in run_all(QUICK if quick else None, quiet=True).items():
        a, b = res["first"], res["second"]
        out.append(
            row(
                "compile",
                f"config {name}: XLA compile time, first run vs second (cache)",
                "seconds",
                b["xla_compile_s"],
                peer=a["xla_compile_s"],
                peer_name="the same config's first run",
                higher_is_better=False,
                note=f"{a['compiled']} programs compiled first, {b['compiled']} second; "
                f"trace + lower {a['trace_lower_s']:.1f} s per run",
            )
        )
    return out


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--probe":
        probe(json.loads(sys.argv[2]))
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="config names (file stems)")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    results = run_all(args.only)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
