"""The outer loop every long run shares: a run directory with a JSONL history, orbax
checkpoints with resume, progress on a terminal or as plain lines in a log, a checkpoint
on Ctrl-C and of the last good state before a non-finite value.

[`fit`][jaxpde.train.fit], [`minimise`][jaxpde.design.minimise] and
[`least_squares`][jaxpde.design.least_squares] are written on it.
"""

import json
from pathlib import Path

import jax

from .._progress import Progress
from ._checkpoint import Checkpointer, CheckpointError


def append_history(path, rec: dict) -> None:
    """Append one JSON record as a line to the JSONL history file `path`.

    **Arguments:** `path` and the record `rec`. **Returns:** nothing."""
    with open(path, "a") as f:
        f.write(json.dumps(rec) + "\n")


def read_history(path, before: int | None = None) -> list:
    """The records of a JSONL history file (those with ``step < before`` when given);
    a half-written last line of a killed run is skipped.

    **Arguments:** the JSONL `path` and the step bound `before`. **Returns:** a list of dicts."""
    path = Path(path)
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if before is None or rec.get("step", -1) < before:
            out.append(rec)
    return out


class RunLoop:
    """Bookkeeping of one long run, shared by training and design loops.

    **Arguments:**

    - `run_dir`: the run directory (``None``: nothing is written, history in memory).
    - `total`: the step budget (for progress).
    - `identity`: a JSON-able description of what is run (config, content hashes of the
      data). It is stored with every checkpoint and compared on resume, so a run is
      recognised by its content whatever path it is reached through.
    - `history`: the JSONL file name in `run_dir`.
    - `checkpoint_every`, `keep`: orbax checkpoints in ``run_dir/checkpoints``.
    - `resume`: continue from the latest checkpoint (`restore`).
    - `progress`: as [`Progress`][jaxpde.train.Progress]; `unit` names a step.

    Use it as a context manager. Keep `state` (``(step, trees)``) current: on
    Ctrl-C it is checkpointed before the interrupt propagates.
    """

    def __init__(
        self,
        run_dir,
        *,
        total: int,
        identity: dict,
        history: str = "history.jsonl",
        checkpoint_every: int | None = None,
        keep: int = 3,
        resume: bool = False,
        progress: bool | None = None,
        unit: str = "step",
    ):
        self.run_dir = None if run_dir is None else Path(run_dir)
        self.identity = json.loads(json.dumps(identity))
        self.total = int(total)
        self.progress_enabled, self.unit = progress, unit
        self.ckpt = None
        self.history: list = []
        self.path = None
        self.state = None  # (step, (a, b, key)) to save on interrupt
        self.bar = None
        if resume and self.run_dir is None:
            raise ValueError("resume=True needs a run_dir.")
        if self.run_dir is None:
            if checkpoint_every:
                raise ValueError("checkpoint_every needs a run_dir.")
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.run_dir / history
        if checkpoint_every:
            self.ckpt = Checkpointer(self.run_dir / "checkpoints", every=checkpoint_every, keep=keep)
            if not resume and self.ckpt.steps:
                steps = self.ckpt.steps
                self.ckpt.close()
                raise CheckpointError(
                    f"{self.run_dir} already has checkpoints {steps}; pass resume=True "
                    "(--resume) to continue it, or choose a new run directory."
                )
        elif resume:
            raise ValueError("resume=True needs checkpointing (checkpoint_every).")

    # --- resume ---------------------------------------------------------------------
    def restore(self, a, b, key=None):
        """Restore ``(a, b, key)`` (e.g. model, optimiser state, PRNG key) from the latest
        checkpoint into the structure of freshly built ones. Returns ``(a, b, key, meta)``;
        raises [`CheckpointError`][jaxpde.train.CheckpointError] if the checkpoint belongs to another run."""
        key = jax.random.PRNGKey(0) if key is None else key
        try:
            a, b, key, meta = self.ckpt.restore(a, b, key)
        except CheckpointError:
            self.ckpt.close()
            raise
        if meta.get("identity") != self.identity:
            self.ckpt.close()
            raise CheckpointError(
                f"{self.run_dir}: the checkpoint was written by a different run (other data, "
                "config or optimiser); resume with the same settings, or start a new run directory."
            )
        return a, b, key, meta

    def start(self, step: int):
        """Begin at `step`: keep the history before it (dropping a killed run's tail) and
        open the progress display."""
        if self.path is not None:
            self.history = read_history(self.path, step)
            self.path.write_text("".join(json.dumps(r) + "\n" for r in self.history))
        self.bar = Progress(self.total, step, enabled=self.progress_enabled, unit=self.unit)

    # --- during the run -------------------------------------------------------------
    def record(self, rec: dict):
        self.history.append(rec)
        if self.path is not None:
            append_history(self.path, rec)

    def save(self, step: int, a, b, key=None, *, meta: dict | None = None, force: bool = False):
        """Checkpoint ``(a, b, key)`` at `step` (when due, or always with `force`)."""
        self.state = (step, (a, b, key), meta)
        if self.ckpt is not None:
            key = jax.random.PRNGKey(0) if key is None else key
            self.ckpt.save(step, a, b, key, {**(meta or {}), "step": step, "identity": self.identity}, force=force)

    def track(self, step: int, a, b, key=None, *, meta: dict | None = None):
        """Remember the current state (checkpointed on Ctrl-C) without saving it."""
        self.state = (step, (a, b, key), meta)

    def nonfinite(self, step: int, a, b, key=None, *, message: str, meta: dict | None = None):
        """Checkpoint the last good state and raise ``FloatingPointError(message)``,
        saying where that state is."""
        where = ""
        if self.ckpt is not None:
            self.save(step, a, b, key, meta=meta, force=True)
            self.ckpt.wait()
            where = f"; the state before it is checkpointed as step {step} in {self.ckpt.directory}"
        raise FloatingPointError(f"{message}{where}")

    # --- context --------------------------------------------------------------------
    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is KeyboardInterrupt and self.state is not None and self.ckpt is not None:
                step, (a, b, key), meta = self.state
                self.save(step, a, b, key, meta=meta, force=True)
                self.ckpt.wait()
                if self.bar is not None:
                    self.bar.write(
                        f"interrupted at step {step}; checkpoint saved in {self.ckpt.directory} "
                        "(resume with --resume / resume=True)"
                    )
        finally:
            if self.bar is not None:
                self.bar.close()
            if self.ckpt is not None:
                self.ckpt.close()
        return False
