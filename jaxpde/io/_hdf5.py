"""Trajectory files: HDF5 with metadata, written atomically."""

import json
import os
from pathlib import Path

import h5py
import numpy as np


class TrajectoryWriter:
    """Stream a trajectory ``(T, C, *N)`` into an HDF5 file, frame block by block.

    Writes go to ``<path>.partial``; the file is renamed to `path` only when the
    context exits without an exception, so a failed run never leaves a
    half-written file at `path`.

    Layout: dataset ``trajectory`` (T, C, *N), dataset ``time`` (T,), and root
    attributes holding the metadata (nested values are stored as JSON strings;
    ``metadata_json`` holds the whole dictionary).

    **Arguments:** `path`, the full `shape` ``(T, C, *N)`` and `dtype` of the trajectory,
    its `metadata` (a JSON-serialisable dict) and, optionally, the `times` ``(T,)`` and
    `extra` datasets (a dict of name to array, e.g. the cell-centre coordinates ``x``, ``y``;
    a value that is a function of no arguments is called when the last frame is written,
    for data gathered during the run, such as a force history).
    """

    def __init__(self, path, shape, dtype, metadata: dict, times=None, extra: dict | None = None):
        self.path = Path(path)
        self.tmp = self.path.with_name(self.path.name + ".partial")
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)
        self.metadata = dict(metadata)
        self.times = None if times is None else np.asarray(times)
        self.extra = {k: v if callable(v) else np.asarray(v) for k, v in (extra or {}).items()}
        for k in self.extra:
            if k in ("trajectory", "time"):
                raise ValueError(f"extra dataset name {k!r} is reserved.")
        self._file = None
        self._pos = 0

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = h5py.File(self.tmp, "w")
        chunks = (1, *self.shape[1:]) if self.shape[0] > 0 else None
        self._dset = self._file.create_dataset("trajectory", shape=self.shape, dtype=self.dtype, chunks=chunks)
        if self.times is not None:
            self._file.create_dataset("time", data=self.times)
        for k, v in self.extra.items():
            if not callable(v):
                self._file.create_dataset(k, data=v)
        for k, v in self.metadata.items():
            self._file.attrs[k] = v if isinstance(v, (int, float, str, bool)) else json.dumps(v)
        self._file.attrs["metadata_json"] = json.dumps(self.metadata)
        return self

    def write(self, frames):
        frames = np.asarray(frames)
        n = frames.shape[0]
        if self._pos + n > self.shape[0]:
            raise ValueError(f"too many frames: {self._pos + n} > {self.shape[0]}.")
        self._dset[self._pos : self._pos + n] = frames
        self._pos += n

    def __exit__(self, exc_type, exc, tb):
        ok = False
        try:
            if exc_type is None:
                for k, v in self.extra.items():
                    if callable(v):
                        self._file.create_dataset(k, data=np.asarray(v()))
                ok = True
        finally:
            self._file.close()
            if not ok and self.tmp.exists():
                os.remove(self.tmp)
        if not ok:
            return False
        if self._pos != self.shape[0]:
            os.remove(self.tmp)
            raise RuntimeError(f"trajectory incomplete: wrote {self._pos} of {self.shape[0]} frames.")
        os.replace(self.tmp, self.path)
        return False


def save_trajectory(path, trajectory, metadata: dict | None = None, times=None):
    """Write a whole trajectory ``(T, C, *N)`` and its metadata to `path` (atomic).

    **Arguments:** `path`, `trajectory`, `metadata` (a JSON-serialisable dict), `times` ``(T,)``.

    **Returns:** ``None``."""
    trajectory = np.asarray(trajectory)
    with TrajectoryWriter(path, trajectory.shape, trajectory.dtype, metadata or {}, times) as w:
        w.write(trajectory)


def load_trajectory(path):
    """Read a file written by [`save_trajectory`][jaxpde.io.save_trajectory] or the CLI.

    **Arguments:** `path`: the ``.h5`` file.

    **Returns:** ``(trajectory, times, metadata)``; `times` is ``None`` if absent.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no trajectory file at {path}.")
    with h5py.File(path, "r") as f:
        if "trajectory" not in f:
            raise ValueError(f"{path} is not a jaxpde trajectory file (no 'trajectory' dataset).")
        traj = f["trajectory"][...]
        times = f["time"][...] if "time" in f else None
        meta = json.loads(f.attrs["metadata_json"]) if "metadata_json" in f.attrs else dict(f.attrs)
    return traj, times, meta
