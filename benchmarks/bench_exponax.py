"""jaxpde vs exponax on identical problems, measured in one process.

For each case both libraries build an ETDRK stepper of the same order, dt, grid and
de-aliasing (2/3), roll out from the same initial condition, and we report:

- steps/s of a jitted rollout that saves every step (``traj``) and of one that keeps
  only the final state (``final``), best of several repeats, after compilation;
- the ratio jaxpde / exponax (> 1: jaxpde is faster);
- each library's relative L2 error against a fine reference (jaxpde ETDRK4 at dt/16,
  float32, so errors below ~1e-6 are at round-off level) after a short horizon, so that speed is compared at equal accuracy;
- the FFT floor: a scan doing only the FFTs one jaxpde step performs (same shapes,
  same count), and the ratio of a jaxpde step to that floor.

Run:  python benchmarks/bench_exponax.py [--quick] [--json out.json]
Needs the ``bench`` extra (``pip install -e ".[bench]"``).
"""

import argparse
import json
import platform
import time

import exponax as ex
import jax
import jax.numpy as jnp
import numpy as np

import jaxpde as jp
from jaxpde import ic
from jaxpde.spectral import ETDRK, Burgers, KuramotoSivashinsky, kolmogorov_flow

ORDER = 4


def case_ks(batch):
    L, N, dt = 100.0, 256, 0.25
    g = jp.PeriodicGrid(N, L)
    ours = lambda d: ETDRK(KuramotoSivashinsky(g), d, order=ORDER)  # noqa: E731
    theirs = ex.stepper.KuramotoSivashinskyConservative(1, L, N, dt, order=ORDER)
    return dict(
        name=f"KS 1D N={N}" + (f" vmap batch {batch}" if batch > 1 else ""),
        grid=g,
        ours=ours,
        theirs=theirs,
        dt=dt,
        channels=1,
        batch=batch,
        steps=2000 if batch == 1 else 500,
        err_steps=40,
        ffts=dict(evals=4, irfft=1, rfft=1),
    )


def case_burgers(ndim=1):
    """Viscous Burgers: 1D at N = 256, or the 3D vector equation at 32³."""
    L = 2 * np.pi
    N, dt, nu, steps, err_steps = (256, 0.002, 0.01, 2000, 200) if ndim == 1 else (32, 0.01, 0.05, 100, 20)
    g = jp.PeriodicGrid(N, L, ndim=ndim)
    ours = lambda d: ETDRK(Burgers(g, nu), d, order=ORDER)  # noqa: E731
    # exponax's 2/3 rule keeps |m| <= N/3 - 1 (9 at N = 32, 84 at 256), ours |m| <= N/3
    # (10, 85): give exponax the fraction that keeps the same modes
    (kept, *_) = g.kept_wavenumber_indices(2 / 3)
    theirs = ex.stepper.Burgers(ndim, L, N, dt, diffusivity=nu, order=ORDER, dealiasing_fraction=(kept + 1) / (N // 2))
    # 1D: u back, u² forward; 3D: u, ∇·u back, u_i u_j (6) and u_i ∇·u (3) forward
    ffts = dict(evals=4, irfft=1, rfft=1) if ndim == 1 else dict(evals=4, irfft=4, rfft=9)
    return dict(
        name=f"Burgers 1D N={N}" if ndim == 1 else f"Burgers 3D {N}^3",
        grid=g,
        ours=ours,
        theirs=theirs,
        dt=dt,
        channels=ndim,
        batch=1,
        steps=steps,
        err_steps=err_steps,
        ffts=ffts,
    )


def case_kolmogorov(order=ORDER):
    L, N, dt, nu = 2 * np.pi, 128, 0.01, 1e-3
    g = jp.PeriodicGrid(N, ndim=2)
    ours = lambda d: ETDRK(
        kolmogorov_flow(g, nu, drag=0.1, forcing_amplitude=1.0, forcing_wavenumber=4), d, order=order
    )  # noqa: E731
    # exponax's vorticity has the opposite sign to ours relative to the velocity it
    # advects with (its stream function is Δ⁻¹ω with u = ∂_y of it); the identical
    # problem is exponax on -ω with the forcing sign flipped, mapped back by -1.
    theirs = ex.stepper.KolmogorovFlowVorticity(
        2, L, N, dt, diffusivity=nu, drag=-0.1, injection_mode=4, injection_scale=-1.0, order=order
    )
    return dict(
        name=f"Kolmogorov 2D {N}x{N}" + ("" if order == ORDER else f" ETDRK{order}"),
        grid=g,
        ours=ours,
        theirs=theirs,
        dt=dt,
        channels=1,
        batch=1,
        steps=200,
        err_steps=50,
        ffts=dict(evals=4, irfft=2, rfft=2),  # Basdevant's form: u, v back; uv, v² - u² forward
        sign=-1.0,
    )


def _best_time(fn, x, repeats):
    jax.block_until_ready(fn(x))  # compile + warm up
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(x))
        best = min(best, time.perf_counter() - t0)
    return best


def _initial(case, key, dtype):
    g = case["grid"]
    if case["batch"] == 1:
        amplitude = 1.0 if g.ndim != 2 else 3.0
        c = case["channels"]
        return ic.random_fourier(g, key=key, num_channels=c, max_wavenumber=4, amplitude=amplitude).astype(dtype)
    keys = jax.random.split(key, case["batch"])
    return jax.vmap(lambda k: ic.random_fourier(g, key=k, max_wavenumber=4))(keys).astype(dtype)


def _fft_floor_fn(case, n, save):
    """The FFTs of ``n`` jaxpde steps and nothing else (one scan, same shapes)."""
    g, f = case["grid"], case["ffts"]

    c = case["channels"]  # f["irfft"] / f["rfft"]: channel transforms per evaluation

    def tile(x, k):  # exactly k channels made of x's (repeated, then cut)
        return jnp.concatenate([x] * -(-k // x.shape[0]))[:k]

    def fold(x, k):  # x's channels summed in groups of k (so that none is dead code)
        pad = -x.shape[0] % k
        x = jnp.concatenate([x, jnp.zeros((pad, *x.shape[1:]), x.dtype)]) if pad else x
        return x.reshape(-1, k, *x.shape[1:]).sum(0)

    def step(v):
        for _ in range(f["evals"]):
            v = fold(g.rfft(tile(g.irfft(tile(v, f["irfft"])), f["rfft"])), c)
        return v

    def run(u):
        v0 = g.rfft(u)

        def body(v, _):
            v = step(v)
            return v, (g.irfft(v) if save else None)

        vf, tr = jax.lax.scan(body, v0, None, length=n)
        return tr if save else vf

    return jax.jit(jax.vmap(run) if case["batch"] > 1 else run)


def run_case(case, repeats, quick):
    n = case["steps"] // (4 if quick else 1)
    ours_st = case["ours"](case["dt"])
    sign = case.get("sign", 1.0)
    raw = case["theirs"]
    vm = (lambda f: jax.vmap(f)) if case["batch"] > 1 else (lambda f: f)
    fns = {
        ("jaxpde", "traj"): jax.jit(vm(lambda u: jp.rollout(ours_st, u, n, include_initial=False))),
        ("exponax", "traj"): jax.jit(vm(lambda u: sign * ex.rollout(raw, n, include_init=False)(sign * u))),
        ("jaxpde", "final"): jax.jit(vm(lambda u: jp.rollout_final(ours_st, u, n))),
        ("exponax", "final"): jax.jit(vm(lambda u: sign * ex.repeat(raw, n)(sign * u))),
        ("fft floor", "traj"): _fft_floor_fn(case, n, True),
        ("fft floor", "final"): _fft_floor_fn(case, n, False),
    }
    u0 = _initial(case, jax.random.PRNGKey(0), jnp.float32)
    times = {k: np.inf for k in fns}
    for _ in range(2):  # interleave the libraries to share machine noise
        for k, fn in fns.items():
            times[k] = min(times[k], _best_time(fn, u0, repeats))
    total = n * case["batch"]
    sps = {k: total / t for k, t in times.items()}

    # accuracy at equal dt, against a fine float64 reference
    ue = u0 if case["batch"] == 1 else u0[0]
    m = case["err_steps"]
    ref = jp.rollout_final(case["ours"](case["dt"] / 16), ue, 16 * m)
    e_ours = jp.rollout_final(ours_st, ue, m)
    e_theirs = sign * ex.repeat(raw, m)(sign * ue)
    rel = lambda a: float(jnp.linalg.norm(a - ref) / jnp.linalg.norm(ref))  # noqa: E731
    return dict(
        case=case["name"],
        steps=n,
        batch=case["batch"],
        steps_per_s={f"{a}/{b}": v for (a, b), v in sps.items()},
        ratio_traj=sps[("jaxpde", "traj")] / sps[("exponax", "traj")],
        ratio_final=sps[("jaxpde", "final")] / sps[("exponax", "final")],
        step_over_fft_floor_traj=sps[("fft floor", "traj")] / sps[("jaxpde", "traj")],
        step_over_fft_floor_final=sps[("fft floor", "final")] / sps[("jaxpde", "final")],
        fft_floor_us_per_step=1e6 / sps[("fft floor", "final")],
        err_steps=m,
        err_jaxpde=rel(e_ours),
        err_exponax=rel(e_theirs),
    )


def cases(quick=False):
    """The suite's rows (``python -m benchmarks``): steps/s of the saved trajectory, jaxpde
    against exponax, each case timed interleaved in this process."""
    from _common import row

    out = []
    for c in [case_ks(1), case_ks(64), case_burgers(), case_kolmogorov(4), case_kolmogorov(2), case_burgers(3)]:
        r = run_case(c, 2 if quick else 5, quick)
        name = r["case"] + ("" if "ETDRK" in r["case"] else f" ETDRK{ORDER}")
        s = r["steps_per_s"]
        out.append(
            row(
                "spectral",
                name + ", float32",
                "steps/s, trajectory saved",
                s["jaxpde/traj"],
                peer=s["exponax/traj"],
                peer_name="exponax",
                note=f"final state only: {r['ratio_final']:.2f}; errors {r['err_jaxpde']:.1e} / {r['err_exponax']:.1e}",
            )
        )
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer steps and repeats (smoke test)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", default=None, help="also write the results to this file")
    ns = ap.parse_args()
    repeats = 2 if ns.quick else ns.repeats
    cases = [case_ks(1), case_ks(64), case_burgers(), case_kolmogorov(), case_burgers(3)]
    print(
        f"jax {jax.__version__} on {jax.devices()[0].platform} ({platform.processor() or platform.machine()}), "
        f"ETDRK{ORDER}, float32, exponax {getattr(ex, '__version__', '?')}"
    )
    hdr = (
        f"{'case':30s} {'jaxpde st/s':>12s} {'exponax st/s':>12s} {'ratio':>6s} | {'final: ratio':>12s} | "
        f"{'step/FFT floor':>14s} | {'err jaxpde':>10s} {'err exponax':>11s}"
    )
    print(hdr)
    print("-" * len(hdr))
    results = []
    for c in cases:
        r = run_case(c, repeats, ns.quick)
        results.append(r)
        s = r["steps_per_s"]
        print(
            f"{r['case']:30s} {s['jaxpde/traj']:12.0f} {s['exponax/traj']:12.0f} {r['ratio_traj']:6.2f} | "
            f"{r['ratio_final']:12.2f} | {r['step_over_fft_floor_traj']:6.2f} / {r['step_over_fft_floor_final']:5.2f} | "
            f"{r['err_jaxpde']:10.2e} {r['err_exponax']:11.2e}",
            flush=True,
        )
    print("steps/s count batch members; ratio > 1 means jaxpde is faster; 'step/FFT floor' is traj / final;")
    print("errors: relative L2 vs a float32 jaxpde ETDRK4 reference at dt/16 after the case's err_steps steps.")
    if ns.json:
        with open(ns.json, "w") as fh:
            json.dump(results, fh, indent=2)


if __name__ == "__main__":
    main()
