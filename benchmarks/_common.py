"""What every benchmark group of the suite shares: the result row, and timing helpers."""

import time


def row(group, case, metric, ours, *, peer=None, peer_name=None, higher_is_better=True, note=""):
    """One result of the suite: jaxpde's figure `ours` for `metric` on `case`, and, when
    there is one, the peer's figure `peer` measured in the same run (or, where
    `peer_name` says so, a published figure). `ratio` is > 1 where jaxpde is better."""
    ratio = None
    if peer is not None and ours:
        ratio = ours / peer if higher_is_better else peer / ours
    return {
        "group": group,
        "case": case,
        "metric": metric,
        "ours": float(ours),
        "peer_name": peer_name,
        "peer": None if peer is None else float(peer),
        "ratio": ratio,
        "higher_is_better": bool(higher_is_better),
        "note": note,
    }


def best_time(fn, *args, repeats=3):
    """The shortest of `repeats` timed calls of ``fn(*args)`` after one untimed call
    (which compiles); seconds."""
    import jax

    jax.block_until_ready(fn(*args))
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(*args))
        best = min(best, time.perf_counter() - t0)
    return best


def interleaved(fns: dict, args: dict, rounds=3, repeats=2) -> dict:
    """Best times of several functions measured in alternation (``rounds`` passes over all
    of them), so that machine noise hits each alike; ``{name: seconds}``."""
    import jax

    for name, fn in fns.items():
        jax.block_until_ready(fn(*args[name]))
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(rounds):
        for name, fn in fns.items():
            for _ in range(repeats):
                t0 = time.perf_counter()
                jax.block_until_ready(fn(*args[name]))
                best[name] = min(best[name], time.perf_counter() - t0)
    return best
