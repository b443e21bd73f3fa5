"""Training throughput of a 1D FNO step (forward, backward, Adam update): jaxpde vs the
reference PyTorch implementation (neuraloperator), same architecture, batch and data size.

Configuration (the FNO Burgers benchmark): N = 256 points, 16 Fourier modes, width 64,
4 Fourier layers, projection width 128, batch 20, float32, Adam. neuraloperator is set up
to match: no positional embedding, no channel MLP, a linear lift, ``n_modes=30`` (it
keeps ``n_modes // 2 + 1 = 16`` rfft modes). Parameter counts are printed.

    python benchmarks/bench_fno_train.py [--torch-python PATH] [--steps 200]

The PyTorch side runs in a subprocess with ``--torch-python`` (an interpreter that has
``torch`` and ``neuraloperator``; default: this one), in the same run, on the same machine.
"""

import argparse
import json
import os
import subprocess
import sys
import textwrap
import time

N, MODES, WIDTH, DEPTH, BATCH = 256, 16, 64, 4, 20

TORCH = textwrap.dedent(f"""
    import json, sys, time
    import torch
    from neuralop.models import FNO
    torch.manual_seed(0)
    steps = int(sys.argv[1])
    model = FNO(n_modes=({2 * MODES - 2},), in_channels=1, out_channels=1, hidden_channels={WIDTH}, n_layers={DEPTH},
                positional_embedding=None, use_channel_mlp=False, lifting_channel_ratio=1,
                projection_channel_ratio=2)
    params = sum(p.numel() * (2 if p.is_complex() else 1) for p in model.parameters())
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randn({BATCH}, 1, {N}); y = torch.randn({BATCH}, 1, {N})
    def step():
        opt.zero_grad()
        loss = torch.mean((model(x) - y) ** 2)
        loss.backward()
        opt.step()
        return loss.item()
    for _ in range(10):
        step()
    times = []
    for _ in range(3):
        t = time.perf_counter()
        for _ in range(steps):
            step()
        times.append((time.perf_counter() - t) / steps)
    print("RESULT" + json.dumps({{"time": min(times), "params": params, "threads": torch.get_num_threads(),
                                  "version": torch.__version__}}))
""")


def bench_jax(steps):
    import equinox as eqx
    import jax
    import jax.numpy as jnp
    import optax

    from jaxpde import nn, train

    model = nn.FNO(1, 1, modes=MODES, width=WIDTH, depth=DEPTH, key=jax.random.key(0))
    params = sum(x.size for x in jax.tree.leaves(eqx.filter(model, eqx.is_inexact_array)))
    opt = optax.adam(1e-3)
    opt_state = opt.init(eqx.filter(model, eqx.is_inexact_array))
    batch = {
        "x": jax.random.normal(jax.random.key(1), (BATCH, 1, N)),
        "y": jax.random.normal(jax.random.key(2), (BATCH, 1, N)),
    }
    loss = lambda m, b: jnp.mean((jax.vmap(m)(b["x"]) - b["y"]) ** 2)
    step = train.make_step(loss, opt)
    for _ in range(10):
        model, opt_state, val = step(model, opt_state, batch)
    float(val)
    times = []
    for _ in range(3):
        t = time.perf_counter()
        for _ in range(steps):
            model, opt_state, val = step(model, opt_state, batch)
            float(val)  # the fit loop also reads the loss every step
        times.append((time.perf_counter() - t) / steps)
    return {"time": min(times), "params": params, "version": jax.__version__}


def _torch(python, steps):
    proc = subprocess.run([python, "-c", TORCH, str(steps)], capture_output=True, text=True, env={**os.environ})
    if proc.returncode != 0 or "RESULT" not in proc.stdout:
        return None, proc.stderr
    return json.loads(proc.stdout.split("RESULT", 1)[1]), ""


def cases(quick=False):
    """The suite's rows (``python -m benchmarks``): training samples/s against
    neuraloperator when this interpreter has torch and neuraloperator."""
    from _common import row

    steps = 20 if quick else 200
    ours = bench_jax(steps)
    theirs, _ = _torch(sys.executable, steps)
    return [
        row(
            "fno",
            f"FNO 1D training step, N={N}, modes {MODES}, width {WIDTH}, depth {DEPTH}, batch {BATCH}, float32, Adam",
            "samples/s",
            BATCH / ours["time"],
            peer=None if theirs is None else BATCH / theirs["time"],
            peer_name="neuraloperator (PyTorch)" if theirs else "neuraloperator: not installed here",
            note=f"{ours['params']:,} parameters" + (f" / {theirs['params']:,}" if theirs else ""),
        )
    ]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--torch-python", default=sys.executable)
    ap.add_argument("--steps", type=int, default=200)
    ns = ap.parse_args()
    ours = bench_jax(ns.steps)
    theirs, err = _torch(ns.torch_python, ns.steps)
    if theirs is None:
        print(f"PyTorch/neuraloperator not runnable with {ns.torch_python}:\n{err[-1500:]}")
    print(f"FNO 1D training step: N={N}, modes={MODES}, width={WIDTH}, depth={DEPTH}, batch={BATCH}, float32, Adam")
    print(f"{'implementation':32s} {'params':>9s} {'ms/step':>9s} {'samples/s':>10s}")
    rows = [(f"jaxpde (jax {ours['version']})", ours)]
    if theirs:
        rows.append((f"neuraloperator (torch {theirs['version']}, {theirs['threads']} thr)", theirs))
    for name, r in rows:
        print(f"{name:32s} {r['params']:9d} {1e3 * r['time']:9.2f} {BATCH / r['time']:10.0f}")
    if theirs:
        print(f"speed-up of jaxpde over neuraloperator: {theirs['time'] / ours['time']:.2f}x")


if __name__ == "__main__":
    main()
