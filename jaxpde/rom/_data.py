"""Batches of training trajectories for the reduced-order models, with the schedules
(physics warm-up, teacher forcing) and the sparse observation masks of a run."""

import numpy as np

from .._checks import check_int


def sensor_indices(num_points: int, fraction: float, *, count: int, seed: int = 0, stream: int = 0) -> np.ndarray:
    """Fixed random observation points: ``(count, m)`` sorted flat grid indices,
    ``m = max(round(fraction · num_points), 1)`` distinct points per row, row ``i`` drawn
    from ``(seed, stream, i)`` (a different `stream` gives an independent set).

    **Arguments:** `num_points` (of the grid), `fraction`, `count` (rows), `seed`, `stream`.

    **Returns:** ``(count, m)`` integers.
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"observed_fraction must be in (0, 1], got {fraction}.")
    m = max(int(round(fraction * num_points)), 1)
    return np.stack(
        [np.sort(np.random.default_rng([seed, stream, i]).choice(num_points, m, replace=False)) for i in range(count)]
    )


class SnapshotBatches:
    r"""Host-side batches for [`rom_loss`][jaxpde.rom.rom_loss] and [`fit`][jaxpde.train.fit].

    Batch `step` holds `batch_size` whole trajectories (all frames of the training
    window), in an epoch order that is a pure function of ``(seed, epoch)``, so a resumed
    run sees the same batches.

    **Arguments:**

    - `trajectories` ``(S, T, C, *N)`` and `parameters` ``(S, p)`` (``p`` may be 0).
    - `warmup_steps`: steps with ``coupling = 0`` (the physics loss trains ``Ψ`` only);
      after them ``coupling`` is `coupling` (1 in the paper).
    - `coupling_ramp_steps`: after the warm-up, the coupling grows linearly from 0 to
      `coupling` over these steps instead of switching on at once. The physics gradient
      into the decoder is several times the reconstruction's when it switches on; Adam's
      second-moment estimate (β₂ = 0.999) needs ~1/(1 − β₂) steps to follow such a jump,
      and until it does the decoder's steps are several times the learning rate, which
      can wreck the reconstruction. A ramp lets the estimate follow.
    - `teacher_forcing_steps`: the teacher-forcing probability of the data-driven
      baseline decays linearly from `teacher_forcing_start` to 0 over these steps; or,
      with `teacher_forcing_decay_rate` ``r``, it is ``start · r^⌊step / steps⌋`` (the
      exponential schedule of DINo, Yin et al., ICLR 2023).
    - `observed_fraction`: if given, each trajectory is observed only at a fixed random
      subset of that fraction of the grid points (drawn once from `seed`); the batch
      carries their indices as ``observed``.
    - `snapshots`: if True, a batch is `batch_size` snapshots (trajectory, frame) drawn
      without replacement from all of them in each epoch, rather than `batch_size` whole
      trajectories; the batch then has one frame per row and carries the frame numbers as
      ``frame`` (for the physics-informed losses, which treat snapshots independently; the
      data-driven loss needs whole trajectories).
    """

    online = False

    def __init__(
        self,
        trajectories,
        parameters,
        batch_size: int,
        *,
        seed: int = 0,
        warmup_steps: int = 0,
        coupling: float = 1.0,
        coupling_ramp_steps: int = 0,
        teacher_forcing_steps: int = 0,
        teacher_forcing_start: float = 1.0,
        teacher_forcing_decay_rate: float | None = None,
        observed_fraction: float | None = None,
        snapshots: bool = False,
    ):
        self.trajectories = np.asarray(trajectories)
        if self.trajectories.ndim < 4:
            raise ValueError(f"trajectories must be (S, T, C, *N), got shape {self.trajectories.shape}.")
        s = self.trajectories.shape[0]
        self.parameters = np.asarray(parameters, dtype=self.trajectories.dtype).reshape(s, -1)
        self.batch_size = check_int(batch_size, "batch_size")
        self.snapshots = bool(snapshots)
        units = s * self.trajectories.shape[1] if self.snapshots else s
        what = "snapshots" if self.snapshots else "trajectories"
        if self.batch_size > units:
            raise ValueError(f"batch_size {batch_size} exceeds the number of {what} ({units}).")
        self.seed = int(seed)
        self.warmup_steps = check_int(warmup_steps, "warmup_steps", minimum=0)
        self.coupling_ramp_steps = check_int(coupling_ramp_steps, "coupling_ramp_steps", minimum=0)
        self.teacher_forcing_steps = check_int(teacher_forcing_steps, "teacher_forcing_steps", minimum=0)
        self.steps_per_epoch = units // self.batch_size
        if not 0.0 <= teacher_forcing_start <= 1.0:
            raise ValueError(f"teacher_forcing_start must be in [0, 1], got {teacher_forcing_start}.")
        if teacher_forcing_decay_rate is not None:
            if not 0.0 < teacher_forcing_decay_rate <= 1.0:
                raise ValueError(f"teacher_forcing_decay_rate must be in (0, 1], got {teacher_forcing_decay_rate}.")
            if not self.teacher_forcing_steps:
                raise ValueError("an exponential teacher-forcing schedule needs teacher_forcing_steps (its period).")
        self.teacher_forcing_start = float(teacher_forcing_start)
        self.teacher_forcing_decay_rate = teacher_forcing_decay_rate
        if not 0.0 <= coupling <= 1.0:
            raise ValueError(f"coupling must be in [0, 1], got {coupling}.")
        self.coupling_value = float(coupling)
        self.observed = None
        self.observed_fraction = observed_fraction
        if observed_fraction is not None:
            self.observed = sensor_indices(
                int(np.prod(self.trajectories.shape[3:])), observed_fraction, count=s, seed=self.seed, stream=17
            )

    def position(self, step: int) -> dict:
        return {"epoch": step // self.steps_per_epoch, "batch": step % self.steps_per_epoch}

    def describe(self) -> dict:
        return {
            "kind": "rom_snapshots",
            "shape": list(self.trajectories.shape),
            "batch_size": self.batch_size,
            "seed": self.seed,
            "warmup_steps": self.warmup_steps,
            "coupling": self.coupling_value,
            "coupling_ramp_steps": self.coupling_ramp_steps,
            "teacher_forcing_steps": self.teacher_forcing_steps,
            "teacher_forcing_start": self.teacher_forcing_start,
            "teacher_forcing_decay_rate": self.teacher_forcing_decay_rate,
            "observed_fraction": self.observed_fraction,
            "snapshots": self.snapshots,
        }

    def coupling(self, step: int) -> float:
        if step < self.warmup_steps:
            return 0.0
        if self.coupling_ramp_steps:
            return self.coupling_value * min(1.0, (step - self.warmup_steps + 1) / self.coupling_ramp_steps)
        return self.coupling_value

    def teacher_forcing(self, step: int) -> float:
        if not self.teacher_forcing_steps:
            return 0.0
        p0 = self.teacher_forcing_start
        if self.teacher_forcing_decay_rate is not None:
            return p0 * self.teacher_forcing_decay_rate ** (step // self.teacher_forcing_steps)
        return max(0.0, p0 * (1.0 - step / self.teacher_forcing_steps))

    def __call__(self, step: int) -> dict:
        pos = self.position(step)
        s, t = self.trajectories.shape[:2]
        order = np.random.default_rng([self.seed, pos["epoch"]]).permutation(s * t if self.snapshots else s)
        picked = np.sort(order[pos["batch"] * self.batch_size : (pos["batch"] + 1) * self.batch_size])
        idx, frame = (picked // t, picked % t) if self.snapshots else (picked, None)
        b = len(idx)
        keys = np.random.default_rng([self.seed, int(step), 3]).integers(0, 2**32, (b, 2), dtype=np.uint32)
        batch = {
            "trajectories": self.trajectories[idx] if frame is None else self.trajectories[idx, frame][:, None],
            "index": idx.astype(np.int32),
            "parameters": self.parameters[idx],
            "key": keys,
            "coupling": np.full(b, self.coupling(step), self.trajectories.dtype),
            "teacher_forcing": np.full(b, self.teacher_forcing(step), self.trajectories.dtype),
        }
        if frame is not None:
            batch["frame"] = frame.astype(np.int32)
        if self.observed is not None:
            batch["observed"] = self.observed[idx].astype(np.int32)
        return batch
