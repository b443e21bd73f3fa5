"""Data parallelism with ``jax.sharding``: one mesh axis ``"data"`` over every device, the
batch split along it, parameters and optimiser state replicated. XLA inserts the
gradient all-reduce, so the training step is an ordinary ``eqx.filter_jit`` function
and runs unchanged on one CPU device, eight simulated ones, or a pod."""

import os

import equinox as eqx
import jax
import numpy as np
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

DATA_AXIS = "data"


def maybe_initialize_distributed() -> bool:
    """Start multi-host JAX (``jax.distributed.initialize()``) when the environment asks
    for it: ``JAXPDE_DISTRIBUTED=1`` or a ``JAX_COORDINATOR_ADDRESS``, with the number of
    processes and this one's index from ``JAXPDE_NUM_PROCESSES`` and ``JAXPDE_PROCESS_ID``
    when set. On TPU pods and SLURM/Open MPI clusters jax detects all three itself.

    **Returns:** whether it ran."""
    wanted = os.environ.get("JAXPDE_DISTRIBUTED", "") not in ("", "0") or "JAX_COORDINATOR_ADDRESS" in os.environ
    if wanted and not jax.distributed.is_initialized():
        kwargs = {}
        if "JAXPDE_NUM_PROCESSES" in os.environ:
            kwargs["num_processes"] = int(os.environ["JAXPDE_NUM_PROCESSES"])
        if "JAXPDE_PROCESS_ID" in os.environ:
            kwargs["process_id"] = int(os.environ["JAXPDE_PROCESS_ID"])
        jax.distributed.initialize(**kwargs)
        return True
    return False


def data_mesh(devices=None) -> jax.sharding.Mesh:
    """A 1D mesh with axis ``"data"`` over `devices` (default: all of ``jax.devices()``).

    **Returns:** the ``jax.sharding.Mesh``."""
    devices = list(jax.devices() if devices is None else devices)
    return jax.sharding.Mesh(np.asarray(devices), (DATA_AXIS,), axis_types=(jax.sharding.AxisType.Auto,))


def replicate(tree, mesh: jax.sharding.Mesh):
    """Place every array leaf of `tree` (a model, an optimiser state) on all devices of `mesh`.

    **Returns:** the replicated tree."""
    return eqx.filter_shard(tree, NamedSharding(mesh, P()))


def batch_sharding(mesh: jax.sharding.Mesh) -> NamedSharding:
    """Leading (batch) axis split over the ``"data"`` axis."""
    return NamedSharding(mesh, P(DATA_AXIS))


def check_batch_size(batch_size: int, mesh: jax.sharding.Mesh) -> None:
    n = mesh.devices.size
    if batch_size % n:
        raise ValueError(
            f"batch size {batch_size} must be a multiple of the number of devices ({n}); "
            f"use a batch size of {max(n, batch_size // n * n)} or {(batch_size // n + 1) * n}."
        )


def shard_batch(batch, mesh: jax.sharding.Mesh):
    """Put a host batch (a pytree of arrays with a common leading batch axis) on the mesh,
    split along the batch. With several processes each passes its own slice (the
    process-local part of the global batch).

    **Arguments:** the host `batch` and the `mesh`. **Returns:** the sharded batch."""
    sharding = batch_sharding(mesh)
    if jax.process_count() > 1:
        return jax.tree.map(lambda x: jax.make_array_from_process_local_data(sharding, np.asarray(x)), batch)
    return jax.device_put(batch, sharding)
