"""Peak memory of the gradient of a long design rollout, with and without gradient
checkpointing: the Burgers control problem of configs/design_burgers_control.yaml
(here on 256 points; ETDRK4, a forcing piecewise constant on 10 intervals) run for 1,000 and
10,000 steps. Memory is XLA's accounting of the compiled gradient program
(:func:`jaxpde.design.peak_memory`); ``--run`` also executes and times it.

Run:  python benchmarks/memory_design.py [--run]
"""

import argparse
import time

import jax
import jax.numpy as jnp

from jaxpde import design


def gradient(num_steps, checkpoint, n=256, intervals=10, dt=0.01):
    """The gradient of the library's Burgers control problem (misfit only)."""
    problem = design.burgers_control(
        num_points=n,
        final_time=num_steps * dt,
        dt=dt,
        intervals=intervals,
        dtype=jnp.zeros(()).dtype,
        checkpoint=checkpoint,
    )
    return jax.grad(problem.misfit), problem.design0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", action="store_true", help="also execute and time the gradients")
    ns = ap.parse_args()
    print(f"gradient of a Burgers control objective w.r.t. a (10, 1, 256) forcing, ETDRK4, {jnp.zeros(()).dtype}")
    print("(dt = 0.01: 10,000 steps reach t = 100)")
    print(f"{'steps':>7s} {'checkpoint':>12s} {'peak memory':>14s} {'time':>9s}")
    for steps in (1000, 10000):
        for ck, label in ((None, "none"), (True, "2 levels"), (3, "3 levels")):
            grad, f = gradient(steps, ck)
            peak = design.peak_memory(grad, f)
            t = "        -"
            if ns.run:
                g = jax.jit(grad)
                jax.block_until_ready(g(f))
                t0 = time.perf_counter()
                jax.block_until_ready(g(f))
                t = f"{time.perf_counter() - t0:8.3f}s"
            print(f"{steps:7d} {label:>12s} {peak / 2**20:11.2f} MiB {t}", flush=True)


if __name__ == "__main__":
    main()
