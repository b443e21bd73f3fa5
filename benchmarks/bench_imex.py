"""Stiff Kuramoto-Sivashinsky with error-controlled diffrax solvers, in one process.

Compares, at equal tolerance, the number of steps, wall time and final error of
- ``jaxpde.solve`` with Tsit5 (explicit), KenCarp4 (IMEX: Fourier-diagonal one-shot
  stage solve) and Kvaerno5 (implicit, dense Newton);
- plain ``diffrax.diffeqsolve`` with KenCarp4 and its default root finder (VeryChord
  with a dense LU of the Jacobian), on the same split;
- jaxpde's fixed-step ETDRK4 at a step giving a similar error.
Errors are max-norm against a KenCarp5 solve at rtol = atol = 1e-10. float64, best of 3
after compilation.

    python benchmarks/bench_imex.py [--n 256] [--t1 20] [--tol 1e-5]
"""

import argparse
import time

import diffrax
import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)

import jaxpde  # noqa: E402
from jaxpde import spectral as sp  # noqa: E402


def timed(fn, *args, repeats=3):
    out = fn(*args)
    jax.block_until_ready(out)
    best = np.inf
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn(*args)
        jax.block_until_ready(out)
        best = min(best, time.perf_counter() - t)
    return out, best


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=256)
    p.add_argument("--extent", type=float, default=32 * np.pi)
    p.add_argument("--t1", type=float, default=20.0)
    p.add_argument("--tol", type=float, default=1e-5)
    p.add_argument("--etdrk-dt", type=float, default=0.05)
    a = p.parse_args()
    rows = run(a)
    print("\n| method | steps | rejected | wall time (s) | max error |")
    print("|---|---:|---:|---:|---:|")
    for name, n, rej, secs, err in rows:
        print(f"| {name} | {n} | {rej} | {secs:.3f} | {err:.1e} |")


def run(a):
    """Every method on the case `a` (``n``, ``extent``, ``t1``, ``tol``, ``etdrk_dt``);
    rows ``(name, steps, rejected, seconds, max error)``."""
    grid = jaxpde.PeriodicGrid(a.n, a.extent)
    pde = sp.KuramotoSivashinsky(grid)
    x = grid.coordinates()[0]
    u0 = jnp.asarray(np.cos(2 * np.pi * x / a.extent) * (1 + np.sin(2 * np.pi * x / a.extent)))[None]
    kmax = np.pi * a.n / a.extent
    print(f"KS, N={a.n}, L={a.extent:.4g}, t1={a.t1}: stiffest linear rate {kmax**4 - kmax**2:.3g}; rtol=atol={a.tol}")
    ref = jaxpde.solve(pde, u0, 0.0, a.t1, solver="kencarp5", rtol=1e-10, atol=1e-10, max_steps=200_000).u_final

    rows = []
    for name in ("tsit5", "kencarp4", "kvaerno5"):
        f = jax.jit(
            lambda u, name=name: jaxpde.solve(pde, u, 0.0, a.t1, solver=name, rtol=a.tol, atol=a.tol, max_steps=500_000)
        )
        sol, secs = timed(f, u0)
        rows.append(
            (
                f"jaxpde.solve {name}",
                int(sol.stats["num_steps"]),
                int(sol.stats["num_rejected_steps"]),
                secs,
                float(jnp.max(jnp.abs(sol.u_final - ref))),
            )
        )

    # the same split jaxpde.solve hands diffrax: N(u) explicit, L u implicit (public API only)
    terms = diffrax.MultiTerm(
        diffrax.ODETerm(lambda t, u, args: grid.irfft(pde.nonlinear(grid.rfft(u), args)).astype(u.dtype)),
        diffrax.ODETerm(lambda t, u, args: grid.irfft(pde.linear_symbol() * grid.rfft(u)).astype(u.dtype)),
    )

    @jax.jit
    def plain(u):
        sol = diffrax.diffeqsolve(
            terms,
            diffrax.KenCarp4(),
            0.0,
            a.t1,
            None,
            u,
            stepsize_controller=diffrax.PIDController(rtol=a.tol, atol=a.tol),
            max_steps=500_000,
        )
        return sol.ys[-1], sol.stats

    (u1, stats), secs = timed(plain, u0)
    rows.append(
        (
            "diffrax KenCarp4 (default root finder)",
            int(stats["num_steps"]),
            int(stats["num_rejected_steps"]),
            secs,
            float(jnp.max(jnp.abs(u1 - ref))),
        )
    )

    steps = int(round(a.t1 / a.etdrk_dt))
    stepper = sp.ETDRK(pde, a.etdrk_dt, order=4)
    g = jax.jit(lambda u: jaxpde.rollout_final(stepper, u, steps))
    u2, secs = timed(g, u0)
    rows.append((f"jaxpde ETDRK4, fixed dt={a.etdrk_dt}", steps, 0, secs, float(jnp.max(jnp.abs(u2 - ref)))))
    return rows


def cases(quick=False):
    """The suite's rows (``python -m benchmarks``): KenCarp4 with jaxpde's Fourier-diagonal
    stage solve against the same solver with diffrax's default root finder."""
    import types

    from _common import row

    a = types.SimpleNamespace(n=256, extent=32 * np.pi, t1=5.0 if quick else 20.0, tol=1e-5, etdrk_dt=0.05)
    rows = {name: (n, secs, err) for name, n, _, secs, err in run(a)}
    (n_ours, ours, e_ours), (n_theirs, theirs, e_theirs) = (
        rows["jaxpde.solve kencarp4"],
        rows["diffrax KenCarp4 (default root finder)"],
    )
    return [
        row(
            "imex",
            f"stiff KS N={a.n}, t = {a.t1:g}, KenCarp4, rtol = atol = {a.tol:g}, float64",
            "wall time (s)",
            ours,
            peer=theirs,
            peer_name="diffrax KenCarp4, default root finder",
            higher_is_better=False,
            note=f"steps {n_ours} / {n_theirs}; max errors {e_ours:.1e} / {e_theirs:.1e}",
        )
    ]


if __name__ == "__main__":
    main()
