"""Run a simulation chunk by chunk into a trajectory file with its metadata."""

import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .._progress import Progress
from ._hdf5 import TrajectoryWriter


class RecordedTrajectory(NamedTuple):
    """What [`record_trajectory`][jaxpde.io.record_trajectory] returns.

    - `path`: the HDF5 file.
    - `frames`, `times`: the initial state and up to about `keep` evenly thinned
      frames (for plots; as written, i.e. after `observe`) with their times.
    - `final`: the last state.
    - `wall_s`: wall time of the integration (compilation included).
    - `info`: the integer counters the advance function reported, summed (e.g. steps).
    """

    path: Path
    frames: np.ndarray
    times: np.ndarray
    final: np.ndarray
    wall_s: float
    info: dict


def record_trajectory(
    path,
    advance: Callable,
    u0,
    times,
    *,
    metadata: dict,
    chunk: int | None = None,
    progress: bool | None = None,
    keep: int = 400,
    unit: str = "frame",
    describe: str = "",
    observe: Callable | None = None,
    extra: dict | None = None,
) -> RecordedTrajectory:
    r"""Integrate from `u0` through the save `times` and write every frame to an HDF5
    file with `metadata` (atomically: a failed or interrupted run leaves no file).

    **Arguments:**

    - `path`: the ``.h5`` file to write.
    - `advance`: ``(u, index, n) -> (frames, info)``: the `n` frames after ``u`` (the
      frame at ``times[index]``), shape ``(n, C, *N)``, and a dict of integer counters
      (or ``None``). Typically a jitted [`jaxpde.rollout`][jaxpde.rollout] or [`jaxpde.solve`][jaxpde.solve]
      over one chunk; `index` lets it know the start time.
    - `u0`: the initial state; `times`: the ``T + 1`` save times, ``times[0]`` at `u0`.
    - `chunk`: frames per call of `advance` (default: about 50 calls).
    - `progress`: see [`jaxpde.train.Progress`][jaxpde.train.Progress]; `describe`: a label for errors.
    - `keep`: about how many frames to keep in memory for the returned picture data;
      `unit`: the progress unit's name.
    - `observe`: ``None`` (write the states), or ``frames -> written`` mapping a block of
      states ``(n, C, *N)`` to what the file holds ``(n, C', *N')`` (e.g. face velocities to
      cell-centre velocities and pressure); the integration continues from the state.
    - `extra`: more datasets for the file (see [`TrajectoryWriter`][jaxpde.io.TrajectoryWriter]).

    **Returns:** a [`RecordedTrajectory`][jaxpde.io.RecordedTrajectory] (thinned frames, times, counters, wall time).

    Raises ``FloatingPointError`` naming the time when a frame holds NaN or inf.
    """
    times = np.asarray(times, dtype=float)
    num_frames = len(times) - 1
    if num_frames < 1:
        raise ValueError(f"times needs at least two entries (the initial and one saved frame), got {len(times)}.")
    chunk = max(1, num_frames // 50) if chunk is None else int(chunk)
    u0 = np.asarray(u0)
    if not np.all(np.isfinite(u0)):
        raise FloatingPointError(f"the initial state is not finite (it holds NaN or inf){describe}.")
    keep_every = max(1, (num_frames + 1) // max(int(keep), 1))
    look = (lambda f: f) if observe is None else (lambda f: np.asarray(observe(f)))
    first = look(u0[None])[0]
    kept, kept_t = [first], [times[0]]
    info_total: dict = {}
    bar = Progress(num_frames, 0, enabled=progress, unit=unit)
    t0 = time.perf_counter()
    try:
        with TrajectoryWriter(path, (num_frames + 1, *first.shape), first.dtype, metadata, times, extra) as writer:
            writer.write(first[None])
            u, done = u0, 0
            while done < num_frames:
                n = min(chunk, num_frames - done)
                frames, info = advance(u, done, n)
                frames = np.asarray(frames)
                if frames.shape != (n, *u0.shape):
                    raise ValueError(f"advance returned frames of shape {frames.shape}, expected {(n, *u0.shape)}.")
                finite = np.all(np.isfinite(frames.reshape(n, -1)), axis=1)
                if not finite.all():
                    bad = done + int(np.argmin(finite)) + 1
                    raise FloatingPointError(
                        f"the solution became non-finite by t = {times[bad]:.6g} (frame {bad}){describe}"
                    )
                seen = frames if observe is None else look(frames)
                writer.write(seen)
                for k, v in (info or {}).items():
                    info_total[k] = info_total.get(k, 0) + int(v)
                for j in range(n):
                    if (done + j + 1) % keep_every == 0:
                        kept.append(seen[j])
                        kept_t.append(times[done + j + 1])
                u, done = frames[-1], done + n
                bar.update(n, **{k: v for k, v in info_total.items() if k in ("steps", "num_steps")})
    finally:
        bar.close()
    return RecordedTrajectory(Path(path), np.stack(kept), np.asarray(kept_t), u, time.perf_counter() - t0, info_total)
