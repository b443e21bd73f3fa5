"""Peak memory of reverse-mode gradients through long rollouts, with and without
gradient checkpointing.

Memory is XLA's own accounting of the compiled gradient program
(``compiled.memory_analysis()``: temporaries + arguments + outputs), which is what the
program needs at its peak on any backend; it is deterministic and measured without
running the program. With ``--run`` the gradients are also executed and timed.

Run:  python benchmarks/memory_rollout.py [--run]
"""

import argparse
import time

import jax
import jax.numpy as jnp

import jaxpde as jp
from jaxpde import ic
from jaxpde.spectral import ETDRK, KuramotoSivashinsky


def measure(num_steps, checkpoint, run):
    g = jp.PeriodicGrid(256, 100.0)
    u0 = ic.random_fourier(g, key=jax.random.PRNGKey(0), max_wavenumber=4)

    def loss(u, fourth_order):
        stepper = ETDRK(KuramotoSivashinsky(g, fourth_order=fourth_order), 0.05)
        return jnp.mean(jp.rollout_final(stepper, u, num_steps, checkpoint=checkpoint) ** 2)

    grad = jax.jit(jax.grad(loss, argnums=(0, 1)))
    compiled = grad.lower(u0, 1.0).compile()
    m = compiled.memory_analysis()
    peak = m.temp_size_in_bytes + m.argument_size_in_bytes + m.output_size_in_bytes
    seconds = None
    if run:
        jax.block_until_ready(compiled(u0, 1.0))
        t0 = time.perf_counter()
        jax.block_until_ready(compiled(u0, 1.0))
        seconds = time.perf_counter() - t0
    return peak, seconds


def cases(quick=False):
    """The suite's rows (``python -m benchmarks``): peak memory of the gradient with two
    checkpoint levels against none (jaxpde both: the cost checkpointing saves)."""
    from _common import row

    out = []
    for n in (1000,) if quick else (1000, 10000):
        plain, t_plain = measure(n, None, True)
        ck, t_ck = measure(n, True, True)
        out.append(
            row(
                "memory",
                f"gradient of a {n:,}-step KS rollout, ETDRK4, float32",
                "peak MiB, checkpoint=True",
                ck / 2**20,
                peer=plain / 2**20,
                peer_name="jaxpde without checkpointing",
                higher_is_better=False,
                note=f"time {t_ck:.2f} s / {t_plain:.2f} s",
            )
        )
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", action="store_true", help="also execute and time the gradients")
    ns = ap.parse_args()
    print("gradient of mean(u_T^2) w.r.t. (u0, hyper-viscosity), KS 1D N=256, ETDRK4, float32")
    print(f"{'steps':>7s} {'checkpoint':>12s} {'peak memory':>14s} {'time':>9s}")
    for n in (1000, 10000):
        for ck, label in ((None, "none"), (True, "2 levels"), (3, "3 levels")):
            peak, sec = measure(n, ck, ns.run)
            t = f"{sec:8.3f}s" if sec is not None else "        -"
            print(f"{n:7d} {label:>12s} {peak / 2**20:11.2f} MiB {t}", flush=True)


if __name__ == "__main__":
    main()
