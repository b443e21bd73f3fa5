"""Elliptic solvers of `jaxpde.linalg` on the pressure problem of a channel with a cylinder
(Neumann walls and inflow, Dirichlet outflow, solid cells masked), float64:
iterations and wall time of CG, Jacobi-preconditioned CG, multigrid-preconditioned CG and
multigrid V-cycles, each to ‖r‖∞ ≤ 1e-8 ‖f‖∞; and fast diagonalisation on the same box
without the cylinder (the direct solve the incompressible solver uses where it can).

Run:  python benchmarks/bench_elliptic.py [--sizes 64 128 256] [--repeats 5]
"""

import argparse
import time

import jax

jax.config.update("jax_enable_x64", True)

import equinox as eqx  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from jaxpde import linalg as la  # noqa: E402
from jaxpde.grids import CellGrid  # noqa: E402


def problem(n):
    grid = CellGrid((2 * n, n), (0.0, 0.0), (2.0, 1.0))
    x, y = np.meshgrid(grid.axis_centres(0), grid.axis_centres(1), indexing="ij")
    mask = ((x - 0.5) ** 2 + (y - 0.5) ** 2 > 0.1**2).astype(float)
    sides = [("neumann", "dirichlet"), "neumann"]
    rhs = jnp.asarray(np.sin(3 * x) * np.cos(2 * y) * mask)
    return grid, sides, mask, rhs


def timed(solver, rhs, repeats):
    run = eqx.filter_jit(lambda s, f: s.solve(f) if hasattr(s, "solve") else (s(f), jnp.zeros((), jnp.int32)))
    p, k = run(solver, rhs)
    jax.block_until_ready(p)
    best = np.inf
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(run(solver, rhs)[0])
        best = min(best, time.perf_counter() - t)
    return int(k), best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    print(f"jax {jax.__version__} on {jax.devices()[0].platform}; channel 2n x n with a cylinder, float64")
    print(f"{'grid':>10} {'solver':<28} {'iterations':>10} {'time (ms)':>10}")
    for n in args.sizes:
        grid, sides, mask, rhs = problem(n)
        op = la.CellLaplacian(grid, sides, mask=mask)
        mg = la.Multigrid(op, rtol=1e-8)
        cases = {
            "CG": la.Krylov(op, rtol=1e-8, max_steps=100_000),
            "Jacobi-CG": la.Krylov(op, rtol=1e-8, preconditioner=la.Jacobi(op), max_steps=100_000),
            "multigrid-CG": la.Krylov(op, rtol=1e-8, preconditioner=mg.preconditioner()),
            "multigrid V-cycles": mg,
            "fast diagonalisation (no cylinder)": la.FastDiagonalisation(grid, sides),
        }
        for name, solver in cases.items():
            k, t = timed(solver, rhs, args.repeats)
            print(f"{2 * n:>4} x {n:<4} {name:<28} {k if k else '-':>10} {1e3 * t:>10.1f}")


def cases(quick=False):
    """The suite's rows (``python -m benchmarks``): multigrid-preconditioned CG against
    plain CG, both jaxpde's (no JAX peer solves this masked problem), time per solve."""
    from _common import row

    out = []
    for n in (64,) if quick else (64, 128):
        grid, sides, mask, rhs = problem(n)
        op = la.CellLaplacian(grid, sides, mask=mask)
        k_cg, t_cg = timed(la.Krylov(op, rtol=1e-8, max_steps=100_000), rhs, 3)
        mg = la.Multigrid(op, rtol=1e-8)
        k_mg, t_mg = timed(la.Krylov(op, rtol=1e-8, preconditioner=mg.preconditioner()), rhs, 3)
        out.append(
            row(
                "elliptic",
                f"masked pressure problem {2 * n} x {n}, to 1e-8, float64",
                "ms per solve, multigrid-CG",
                1e3 * t_mg,
                peer=1e3 * t_cg,
                peer_name="jaxpde's plain CG (baseline, no peer)",
                higher_is_better=False,
                note=f"iterations {k_mg} / {k_cg}",
            )
        )
    return out


if __name__ == "__main__":
    main()
