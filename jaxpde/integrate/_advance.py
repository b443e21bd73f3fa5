"""Chunked advances of a run, for [`jaxpde.io.record_trajectory`][jaxpde.io.record_trajectory]: each is
``(u, index, n) -> (frames, info)``, the `n` saved frames after the frame at
``times[index]``. One compiled program per chunk size."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._abstract import AbstractPDE, AbstractStepper
from .._checks import check_int
from ._cfl import solve_to
from ._rollout import rollout
from ._solve import failure_message, solve


def rollout_advance(stepper: AbstractStepper, save_every: int = 1):
    """Advance by fixed steps: each saved frame is `save_every` steps of `stepper`
    ([`jaxpde.rollout`][jaxpde.rollout] in one ``lax.scan``). Reports ``steps``.

    **Arguments:** `stepper`, `save_every`.

    **Returns:** ``advance(u, index, n) -> (u_after_n_frames (n, C, *N), info)``, the chunked advance that
    [`jaxpde.io.record_trajectory`][jaxpde.io.record_trajectory] drives."""

    save_every = check_int(save_every, "save_every")

    @eqx.filter_jit
    def chunk(u, n):
        return rollout(stepper, u, n * save_every, save_every=save_every, include_initial=False)

    def advance(u, index, n):
        del index
        return chunk(jnp.asarray(u), n), {"steps": n * save_every}

    return advance


def brownian_horizon(t_final: float) -> float:
    """The length of the Brownian tree of a stochastic run: ``1024``, or the next power
    of two above `t_final` for longer runs. A seed fixes one path on it, so runs of any
    length up to the horizon (and any chunking or save interval) see the same noise on
    their common interval.

    **Arguments:** `t_final`: the length of the run. **Returns:** the horizon."""
    return float(2 ** max(10, math.ceil(math.log2(max(float(t_final), 1.0)))))


def solve_advance(pde: AbstractPDE, times, *, max_steps: int = 100_000, noise=None, key=None, **solve_kwargs):
    """Advance with [`jaxpde.solve`][jaxpde.solve] between the save `times` (adaptive, implicit,
    IMEX or stochastic). `max_steps` bounds the steps of the *whole* run, not of one
    chunk. With `noise`, one Brownian tree keyed by `key` on
    ``[times[0], times[0] + brownian_horizon(span)]`` drives every chunk, so the path
    is fixed by the key alone. Reports ``num_steps``, ``num_accepted_steps``,
    ``num_rejected_steps``.

    **Arguments:** `pde`, the save `times`, `max_steps`, `noise` and `key` (a stochastic
    run), and any keyword of [`jaxpde.solve`][jaxpde.solve] in `solve_kwargs`.

    **Returns:** ``advance(u, index, n) -> (u_after_n_frames (n, C, *N), info)``, the chunked advance that
    [`jaxpde.io.record_trajectory`][jaxpde.io.record_trajectory] drives."""

    times = np.asarray(times, dtype=float)
    max_steps = check_int(max_steps, "max_steps")
    extra = {}
    if noise is not None:
        if key is None:
            raise ValueError("a stochastic run needs a PRNG key.")
        horizon = brownian_horizon(times[-1] - times[0])
        extra = dict(noise=noise, key=key, brownian_interval=(float(times[0]), float(times[0]) + horizon))
        if solve_kwargs.get("brownian_tol") is None:
            dt0 = solve_kwargs.get("dt0")
            extra["brownian_tol"] = dt0 / 4 if dt0 is not None else horizon / max_steps / 8
    used = {"num_steps": 0}

    # no runtime check inside (throw=False): a program holding one is never stored in the
    # persistent compilation cache; the result is checked here on the host instead
    @eqx.filter_jit
    def chunk(u, ts, budget):
        sol = solve(pde, u, ts[0], ts[-1], saveat=ts[1:], max_steps=budget, throw=False, **solve_kwargs, **extra)
        return sol.us, sol.stats, sol.result

    def advance(u, index, n):
        left = max_steps - used["num_steps"]
        if left <= 0:
            raise RuntimeError(
                f"the run needs more than max_steps = {max_steps} solver steps by t = "
                f"{times[index]:.6g}; raise max_steps or loosen the tolerances."
            )
        # the budget is static in diffrax: round it up to a power of two to bound recompiles
        budget = min(max_steps, 2 ** math.ceil(math.log2(left)))
        frames, stats, result = chunk(jnp.asarray(u), jnp.asarray(times[index : index + n + 1]), budget)
        failure = failure_message(result, frames, budget)
        if failure is not None:
            raise RuntimeError(f"{failure} (between t = {times[index]:.6g} and {times[index + n]:.6g})")
        info = {k: int(stats[k]) for k in ("num_steps", "num_accepted_steps", "num_rejected_steps")}
        used["num_steps"] += info["num_steps"]
        if used["num_steps"] > max_steps:
            raise RuntimeError(
                f"the run needs more than max_steps = {max_steps} solver steps by t = "
                f"{times[index + n]:.6g}; raise max_steps or loosen the tolerances."
            )
        return frames, info

    return advance


def cfl_advance(pde: AbstractPDE, times, *, cfl: float = 0.5, stepper: str = "ssprk3"):
    """Advance a finite-volume PDE by CFL-limited steps between the save `times`
    ([`jaxpde.solve_to`][jaxpde.solve_to]), one frame per call. Reports ``steps``.

    **Arguments:** `pde` (a [`FiniteVolume`][jaxpde.fv.FiniteVolume]), the save `times`, `cfl`,
    `stepper` (a name, as in [`jaxpde.solve_to`][jaxpde.solve_to]).

    **Returns:** ``advance(u, index, n) -> (u_after_n_frames (n, C, *N), info)``, the chunked advance that
    [`jaxpde.io.record_trajectory`][jaxpde.io.record_trajectory] drives."""

    times = np.asarray(times, dtype=float)

    @jax.jit
    def one(u, t0, t1):
        sol = solve_to(pde, u, t1, t0=t0, cfl=cfl, stepper=stepper, differentiable=False, full_output=True, throw=False)
        return sol.u, sol.num_steps

    def advance(u, index, n):
        frames, steps = [], 0
        for k in range(index, index + n):
            u, s = one(jnp.asarray(u), times[k], times[k + 1])
            frames.append(np.asarray(u))
            steps += int(s)
            if not np.all(np.isfinite(frames[-1])):  # the caller reports where
                frames += [frames[-1]] * (n - len(frames))
                break
        return np.stack(frames), {"steps": steps}

    return advance
