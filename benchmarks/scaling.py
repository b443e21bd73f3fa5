"""Strong and weak scaling over 1, 2, 4 and 8 devices.

Cases:

- ``ns2d``: a 2D Navier-Stokes (Kolmogorov flow) ETDRK4 rollout with the field split over
  the devices (distributed FFT: all_to_all transposes);
- ``euler2d``: a 2D Euler rollout (MUSCL + HLLC, SSP-RK3, fixed step) with the field split
  over the devices (halo exchange: ppermute);
- ``fno``: one data-parallel FNO training step (AdamW, one-step loss), the batch split.

Strong scaling keeps the problem fixed; weak scaling grows it with the device count
(the first grid axis, or the batch). For each case and device count we report the wall time
per step (best of 3 after compilation), XLA's cost analysis of one compiled step per
device (FLOPs, bytes accessed), and the bytes each device sends through collectives per
step (read from the compiled HLO), against the size of the field (or batch).

On a CPU the device counts are simulated (``XLA_FLAGS=--xla_force_host_platform_device_count``):
all "devices" share the same cores, so the wall times there say nothing about speed-up;
FLOPs, bytes and collective volumes per device are meaningful. On a machine with
accelerators the same script uses the first n real devices and skips counts it does not
have.

Run:  python benchmarks/scaling.py [--quick] [--devices 1 2 4 8] [--size N] [--json out.json]
"""

import argparse
import json
import os
import re
import subprocess
import sys

from _common import best_time

DTYPE_BYTES = {"f16": 2, "bf16": 2, "f32": 4, "f64": 8, "c64": 8, "c128": 16, "s32": 4, "u32": 4, "s64": 8, "pred": 1}
COLLECTIVES = ("all-to-all", "collective-permute", "all-reduce", "all-gather", "reduce-scatter")


def collective_bytes(hlo: str) -> dict:
    """Bytes produced per device by each kind of collective in a compiled HLO module
    (a loop body counts once: compile one step)."""
    out = dict.fromkeys(COLLECTIVES, 0)
    pattern = re.compile(r"= (\(?[^=]*?) (" + "|".join(COLLECTIVES) + r")(?:-start)?\(")
    for line in hlo.splitlines():
        m = pattern.search(re.sub(r"/\*.*?\*/", "", line))  # drop /*index=5*/ comments
        if not m:
            continue
        total = 0
        for dtype, dims in re.findall(r"([a-z]+\d*)\[([\d,]*)\]", m.group(1)):
            size = 1
            for d in filter(None, dims.split(",")):
                size *= int(d)
            total += size * DTYPE_BYTES.get(dtype, 4)
        out[m.group(2)] += total
    return out


def _cost(compiled) -> dict:
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    return {"flops": float(cost.get("flops", 0.0)), "bytes": float(cost.get("bytes accessed", 0.0))}


def run_case(case: str, n: int, mode: str, size: int, steps: int) -> dict:
    import equinox as eqx
    import jax
    import jax.numpy as jnp
    import optax

    import jaxpde
    from jaxpde import fv, ic, nn, spectral, train
    from jaxpde.grids import CellGrid, PeriodicGrid, spatial_mesh

    grow = n if mode == "weak" else 1
    if case in ("ns2d", "euler2d"):
        mesh = spatial_mesh(n) if n > 1 else None
        shape = (size * grow, size)
        if case == "ns2d":
            grid = PeriodicGrid(shape, mesh=mesh)
            stepper = spectral.ETDRK(spectral.EQUATIONS["kolmogorov_flow"](grid), 0.01)
            u0 = ic.gaussian_random_field(PeriodicGrid(shape), key=jax.random.key(0), amplitude=3.0)
        else:
            grid = CellGrid(shape, mesh=mesh)
            law = fv.Euler(ndim=2)
            pde = fv.FiniteVolume(law, grid, fv.MUSCL(), fv.HLLC(), bc="outflow")
            stepper = jaxpde.integrate.SSPRK3(pde, 0.1 / max(shape))
            u0 = fv.riemann_2d(law, CellGrid(shape))
        u0 = grid.put(jnp.asarray(u0, jnp.float32))
        one = jax.jit(lambda s, u: s(u)).lower(stepper, u0).compile()
        roll = jax.jit(lambda s, u: jaxpde.rollout(s, u, steps, save_every=steps)[-1])
        seconds = best_time(roll, stepper, u0) / steps
        field_bytes = u0.size * u0.dtype.itemsize
        what = f"{shape[0]}x{shape[1]}"
    else:
        mesh = train.data_mesh(jax.devices()[:n])
        batch_size = 8 * grow
        model = nn.OperatorStepper(nn.FNO(1, 1, modes=12, width=32, depth=4, ndim=2, key=jax.random.key(0)), 0.1)
        trajs = jax.random.normal(jax.random.key(1), (batch_size, 2, 1, size, size), jnp.float32)
        opt = optax.adamw(1e-3)
        state = opt.init(eqx.filter(model, eqx.is_inexact_array))
        model, state = train.replicate(model, mesh), train.replicate(state, mesh)
        batch = train.shard_batch({"trajectories": trajs, "parameters": {}}, mesh)
        step = train.make_step(lambda m, b: train.one_step_loss(m, b), opt, mesh=mesh)
        one = step.lower(model, state, batch).compile().compiled  # equinox wraps jax's Compiled
        seconds = best_time(lambda: step(model, state, batch)[2])
        field_bytes = trajs.size * trajs.dtype.itemsize
        what = f"batch {batch_size} of {size}x{size}"
    comm = collective_bytes(one.as_text())
    return {
        "case": case,
        "mode": mode,
        "devices": n,
        "problem": what,
        "seconds_per_step": seconds,
        **{f"{k}_per_device": v for k, v in _cost(one).items()},
        "collective_bytes_per_device": sum(comm.values()),
        "collectives": {k: v for k, v in comm.items() if v},
        "field_bytes": field_bytes,
        "platform": jax.devices()[0].platform,
    }


def _child(args) -> list:
    """Run every case for one device count in a fresh process (the device count of a
    simulated CPU is fixed when jax starts)."""
    env = dict(os.environ)
    if args.simulate:
        env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={args.n}"
        env.setdefault("JAX_PLATFORMS", "cpu")
    cmd = [sys.executable, __file__, "--child", str(args.n), "--size", str(args.size), "--steps", str(args.steps)]
    cmd += ["--cases", *args.cases]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(proc.stderr[-3000:])
    return json.loads(proc.stdout.split("RESULT", 1)[1])


def table(rows: list) -> str:
    lines = [
        "| case | scaling | devices | problem | s/step | GFLOP/device | MB accessed/device | "
        "collective MB/device/step | field MB |",
        "|---|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['case']} | {r['mode']} | {r['devices']} | {r['problem']} | {r['seconds_per_step']:.4f} | "
            f"{r['flops_per_device'] / 1e9:.3f} | {r['bytes_per_device'] / 1e6:.1f} | "
            f"{r['collective_bytes_per_device'] / 1e6:.2f} | {r['field_bytes'] / 1e6:.2f} |"
        )
    return "\n".join(lines)


def cases(quick=False):
    """The suite's rows (``python -m benchmarks``): FLOPs per device on n devices against
    an ideal division of the one-device FLOPs (strong scaling; ratio 1 = the work is
    divided exactly), with the collective traffic per step."""
    import types

    import jax
    from _common import row

    platform = jax.devices()[0].platform
    args = types.SimpleNamespace(
        simulate=platform == "cpu",
        size=64 if quick else (256 if platform == "cpu" else 1024),
        steps=3 if quick else 10,
        cases=["ns2d", "euler2d", "fno"],
    )
    counts = [1, 2] if quick else [1, 2, 4, 8]
    if not args.simulate:
        counts = [n for n in counts if n <= len(jax.devices())]
    rows = []
    for n in counts:
        args.n = n
        rows.extend(_child(args))
    one = {r["case"]: r for r in rows if r["devices"] == 1 and r["mode"] == "strong"}
    out = []
    for r in rows:
        if r["mode"] != "strong" or r["devices"] == 1:
            continue
        ideal = one[r["case"]]["flops_per_device"] / r["devices"]
        out.append(
            row(
                "scaling",
                f"{r['case']} {r['problem']}, {r['devices']} {'simulated ' if args.simulate else ''}devices",
                "GFLOP per device per step",
                r["flops_per_device"] / 1e9,
                peer=ideal / 1e9,
                peer_name="ideal: 1 device / n",
                higher_is_better=False,
                note=f"collectives {r['collective_bytes_per_device'] / 1e6:.2f} MB/device/step; {r['seconds_per_step'] * 1e3:.1f} ms/step"
                + ("; XLA counts a one-device 2D FFT differently from split 1D FFTs" if r["case"] == "ns2d" else ""),
            )
        )
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--devices", type=int, nargs="+", default=[1, 2, 4, 8])
    p.add_argument("--size", type=int, default=None, help="grid points per axis (default 256 on CPU, 1024 on GPU)")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--cases", nargs="+", default=["ns2d", "euler2d", "fno"])
    p.add_argument("--quick", action="store_true", help="64^2 grids, 3 steps, 1 and 2 devices")
    p.add_argument("--json", default=None)
    p.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child is not None:
        import jax

        rows = []
        for case in args.cases:
            for mode in ("strong", "weak"):
                rows.append(run_case(case, args.child, mode, args.size, args.steps))
        print("RESULT" + json.dumps(rows))
        return
    import jax

    platform = jax.devices()[0].platform
    available = len(jax.devices())
    args.simulate = platform == "cpu"
    if args.quick:
        args.devices, args.steps, args.size = [1, 2], 3, args.size or 64
    args.size = args.size or (256 if platform == "cpu" else 1024)
    rows = []
    for n in args.devices:
        if not args.simulate and n > available:
            print(f"skipping {n} devices: {available} available")
            continue
        args.n = n
        rows.extend(_child(args))
        print(f"{n} device(s) done", flush=True)
    print(table(rows))
    if args.simulate:
        print("\nSimulated CPU devices share the same cores: wall times do not show speed-up; per-device FLOPs,")
        print("bytes and collective volumes do.")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
