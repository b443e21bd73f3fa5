"""Every benchmark in one run: one table, and JSON with the machine and the versions.

    python -m benchmarks [--quick] [--only spectral fv ...] [--json results.json]

Each group runs in its own process (groups set jax's precision differently, and the
scaling group needs several simulated devices) and reports rows: jaxpde's figure, the
peer's figure measured in the same run (or a published figure, where the peer cannot
be installed; the row says so) and their ratio, > 1 where jaxpde is better. ``--quick``
runs smaller problems, fewer steps and repeats (a few minutes on 2 CPU cores): a smoke
test of the suite, not figures to quote. The suite runs unchanged on a GPU.
"""

import argparse
import importlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from importlib import metadata

# group -> (module, what it measures)
GROUPS = {
    "spectral": ("bench_exponax", "ETDRK steppers against exponax (float32)"),
    "fv": ("bench_fv", "finite volumes: Sod forward and gradient, 2D Euler, van Leer advection against jax-cfd"),
    "incompressible": ("bench_cavity", "Taylor-Green against jax-cfd (same scheme), float64"),
    "imex": ("bench_imex", "stiff KS: jaxpde's IMEX stage solve against diffrax's default"),
    "fno": ("bench_fno_train", "FNO training step against neuraloperator (PyTorch)"),
    "memory": ("memory_rollout", "reverse-mode memory with and without checkpointing"),
    "elliptic": ("bench_elliptic", "pressure solvers on a channel with a cylinder"),
    "scaling": ("scaling", "work and communication per device over 1-8 devices"),
    "compile": ("compile_times", "compile time of the shipped configs, first run and second (cache)"),
}
PEERS = ("jax", "jaxlib", "equinox", "diffrax", "optax", "lineax", "exponax", "jax-cfd", "torch", "neuraloperator")


def machine() -> dict:
    import jax

    dev = jax.devices()[0]
    return {
        "platform": dev.platform,
        "device_kind": dev.device_kind,
        "device_count": jax.device_count(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "system": platform.platform(),
        "python": platform.python_version(),
    }


def versions() -> dict:
    out = {"jaxpde": _version("jaxpde")}
    for name in PEERS:
        out[name] = _version(name)
    return out


def _version(name):
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _child(group: str, quick: bool, out: str) -> None:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    module = importlib.import_module(GROUPS[group][0])
    rows = module.cases(quick)
    with open(out, "w") as fh:
        json.dump(rows, fh)


def run_group(group: str, quick: bool) -> tuple[list, float, str | None]:
    """The rows of one group from a fresh process, its wall time, and its error (if any)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "rows.json")
        cmd = [sys.executable, "-m", "benchmarks", "--child", group, "--out", out] + (["--quick"] if quick else [])
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
        seconds = time.perf_counter() - t0
        if proc.returncode != 0 or not os.path.exists(out):
            return [], seconds, (proc.stderr.strip().splitlines() or ["no output"])[-1][:300]
        with open(out) as fh:
            return json.load(fh), seconds, None


def _fmt(x):
    if x is None:
        return "—"
    if x == 0 or 1e-2 <= abs(x) < 1e5:
        return f"{x:,.3g}" if abs(x) < 100 else f"{x:,.0f}"
    return f"{x:.3g}"


def table(rows: list) -> str:
    lines = [
        "| group | case | metric | jaxpde | peer | peer's figure | ratio (> 1: jaxpde better) | note |",
        "|---|---|---|---:|---|---:|---:|---|",
    ]
    for r in rows:
        ratio = "—" if r["ratio"] is None else f"**{r['ratio']:.2f}**" if r["ratio"] < 1 else f"{r['ratio']:.2f}"
        lines.append(
            f"| {r['group']} | {r['case']} | {r['metric']} | {_fmt(r['ours'])} | {r['peer_name'] or '—'} | "
            f"{_fmt(r['peer'])} | {ratio} | {r['note']} |"
        )
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small problems, few repeats: a smoke test (minutes)")
    ap.add_argument("--only", nargs="+", choices=list(GROUPS), default=None, help="run these groups only")
    ap.add_argument("--json", default=None, help="write the results, the machine and the versions here")
    ap.add_argument("--child", choices=list(GROUPS), default=None, help=argparse.SUPPRESS)
    ap.add_argument("--out", default=None, help=argparse.SUPPRESS)
    ns = ap.parse_args(argv)
    if ns.child:
        _child(ns.child, ns.quick, ns.out)
        return 0
    info = {"machine": machine(), "versions": versions(), "quick": ns.quick, "groups": {}, "results": []}
    m = info["machine"]
    print(
        f"jaxpde {info['versions']['jaxpde']}, jax {info['versions']['jax']} on {m['device_kind']} "
        f"({m['platform']}, {m['cpu_count']} CPU cores){', quick' if ns.quick else ''}",
        flush=True,
    )
    failed = []
    for group in ns.only or list(GROUPS):
        print(f"  {group}: {GROUPS[group][1]} ...", end="", flush=True)
        rows, seconds, error = run_group(group, ns.quick)
        info["groups"][group] = {"seconds": round(seconds, 1), "error": error}
        info["results"].extend(rows)
        print(f" {seconds:.0f} s" + (f"  FAILED: {error}" if error else ""), flush=True)
        if error:
            failed.append(group)
    print()
    print(table(info["results"]))
    if ns.json:
        with open(ns.json, "w") as fh:
            json.dump(info, fh, indent=1)
        print(f"\nwritten: {ns.json}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
