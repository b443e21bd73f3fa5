"""Training checkpoints with orbax: model parameters, optimiser state and PRNG key as
one array tree, and the loop position (step, data epoch and batch, seed) as JSON.
Writes are asynchronous and atomic (orbax commits a step directory only when it is
complete, so a run killed mid-write leaves the previous checkpoint intact)."""

from pathlib import Path

import equinox as eqx
import jax
import orbax.checkpoint as ocp


class CheckpointError(RuntimeError):
    """A checkpoint is missing, unreadable or does not match the model being restored."""


def _arrays(tree):
    return eqx.filter(tree, eqx.is_array)


class Checkpointer:
    """Save and restore ``(model, opt_state, key)`` plus a JSON dict of loop metadata.

    **Arguments:**

    - `directory`: where the step directories go (created if needed).
    - `every`: save when ``step % every == 0`` (``save(..., force=True)`` always saves).
    - `keep`: how many of the most recent checkpoints to keep.
    """

    def __init__(self, directory, *, every: int = 100, keep: int = 3):
        if int(every) < 1 or int(keep) < 1:
            raise ValueError(f"checkpoint every ({every}) and keep ({keep}) must be >= 1.")
        self.directory = Path(directory).absolute()
        self.every = int(every)
        options = ocp.CheckpointManagerOptions(max_to_keep=int(keep), create=True)
        self._manager = ocp.CheckpointManager(self.directory, options=options)

    @property
    def steps(self) -> list[int]:
        return sorted(self._manager.all_steps())

    def latest_step(self) -> int | None:
        return self._manager.latest_step()

    def save(self, step: int, model, opt_state, key, meta: dict, *, force: bool = False) -> bool:
        """Start an asynchronous save at `step` (when due, or always with `force`)."""
        if not force and step % self.every:
            return False
        if step in self._manager.all_steps():
            return False
        state = {"model": _arrays(model), "opt_state": _arrays(opt_state), "key": jax.random.key_data(key)}
        return self._manager.save(
            int(step),
            args=ocp.args.Composite(state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(dict(meta))),
            force=True,
        )

    def restore(self, model, opt_state, key, *, step: int | None = None):
        """Restore into the structure of a freshly built ``(model, opt_state, key)``.

        Returns ``(model, opt_state, key, meta)``. Raises [`CheckpointError`][jaxpde.train.CheckpointError] when
        there is no checkpoint, when it cannot be read, or when its arrays do not match
        the model's (a different config).
        """
        self.wait()
        available = self.steps
        if not available:
            raise CheckpointError(f"no checkpoint in {self.directory}; start the run without --resume.")
        step = available[-1] if step is None else int(step)
        if step not in available:
            raise CheckpointError(f"no checkpoint for step {step} in {self.directory} (have {available}).")
        template = {"model": _arrays(model), "opt_state": _arrays(opt_state), "key": jax.random.key_data(key)}
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, template)
        try:
            restored = self._manager.restore(
                step, args=ocp.args.Composite(state=ocp.args.StandardRestore(abstract), meta=ocp.args.JsonRestore())
            )
        except Exception as e:  # orbax raises many types (FileNotFoundError, ValueError, tensorstore errors)
            raise CheckpointError(
                f"checkpoint {self.directory / str(step)} cannot be restored ({type(e).__name__}: "
                f"{str(e).splitlines()[0] if str(e) else ''}). It is corrupt or was written by a different "
                f"model/optimiser config; delete that step directory to resume from an earlier one "
                f"(available: {available})."
            ) from e
        state, meta = restored["state"], restored["meta"]
        for name in ("model", "opt_state"):
            want = jax.tree.map(lambda x: (x.shape, x.dtype), template[name])
            got = jax.tree.map(lambda x: (x.shape, x.dtype), state[name])
            if want != got:
                raise CheckpointError(
                    f"checkpoint {self.directory / str(step)}: the saved {name} does not match "
                    "the config's (different architecture or optimiser)."
                )
        model = eqx.combine(state["model"], model)
        opt_state = eqx.combine(state["opt_state"], opt_state)
        key = jax.random.wrap_key_data(state["key"], impl=jax.random.key_impl(key))
        return model, opt_state, key, meta

    def wait(self):
        """Block until pending asynchronous saves are on disk."""
        self._manager.wait_until_finished()

    def close(self):
        self._manager.wait_until_finished()
        self._manager.close()
