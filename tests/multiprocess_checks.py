"""Multi-process checks, run by tests/test_multiprocess.py.

``python multiprocess_checks.py PROCESS_ID NUM_PROCESSES PORT OUT_DIR``: with two
processes (each with two simulated CPU devices, gloo collectives, a coordinator on
127.0.0.1) or as one process with four devices (``PROCESS_ID = 0, NUM_PROCESSES = 1``),
the reference. Both run the same work on a four-device mesh:

1. `generate_dataset` with a data mesh: each process writes only its devices' samples;
2. one data-parallel training step on batches read from that file (each process reads
   only its slice of the global batch);
3. a domain-decomposed Kolmogorov rollout and its gradient, the grid split over all four
   devices of both processes.

Each process writes ``OUT_DIR/process<i>.npz`` with what it holds and a JSON line with what
it read and wrote."""

import json
import sys
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)

process_id, num_processes, port, out_dir = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4])
if num_processes > 1:
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(
        coordinator_address=f"127.0.0.1:{port}", num_processes=num_processes, process_id=process_id
    )

import equinox as eqx  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

import jaxpde  # noqa: E402
from jaxpde import ic, nn, spectral, train  # noqa: E402
from jaxpde.grids import PeriodicGrid, spatial_mesh  # noqa: E402

assert len(jax.devices()) == 4, jax.devices()
out: dict = {"process": jax.process_index(), "processes": jax.process_count()}
arrays: dict = {}

# 1. dataset generation, split over the data axis of all devices
mesh = train.data_mesh()
grid = PeriodicGrid(16)
sampler = train.make_sampler(
    lambda p: spectral.ETDRK(spectral.Burgers(grid, p["viscosity"]), 0.05),
    lambda k: ic.random_fourier(grid, key=k, max_wavenumber=3),
    num_steps=4,
    parameter_ranges={"viscosity": (0.02, 0.05)},
)
path = out_dir / "data.h5"
train.generate_dataset(path, sampler, num_samples=12, key=jax.random.key(3), chunk_size=8, mesh=mesh, progress=False)
chunk = jax.jit(jax.shard_map(lambda i: i, mesh=mesh, in_specs=jax.P("data"), out_specs=jax.P("data")))(jnp.arange(8))
out["rows_written_per_chunk"] = sorted(int(first) for first, _ in train._data._local_rows(chunk))

# 2. one data-parallel step on batches read from the file
dataset = train.TrajectoryDataset(path)
batches = train.DatasetBatches(dataset, 8, seed=0, window=2)
read = []
original_read = dataset.read


def recording_read(indices):
    read.extend(int(i) for i in np.asarray(indices))
    return original_read(indices)


dataset.read = recording_read
host_batch = batches(0)
out["samples_read"] = sorted(read)
model = nn.OperatorStepper(nn.FNO(1, 1, modes=4, width=8, depth=2, ndim=1, key=jax.random.key(0)), 0.05)
opt = optax.adamw(1e-3)
model, state = train.replicate(model, mesh), train.replicate(opt.init(eqx.filter(model, eqx.is_inexact_array)), mesh)
step = train.make_step(lambda m, b: train.one_step_loss(m, b), opt, mesh=mesh)
new_model, _, loss = step(model, state, train.shard_batch(host_batch, mesh))
out["loss"] = float(loss)
weights = new_model.model.spectral[0].weights.pair
arrays["weights"] = np.asarray(weights.addressable_data(0))

# 3. a Kolmogorov rollout on a grid split over all four devices, with its gradient
split = PeriodicGrid(32, ndim=2, mesh=spatial_mesh(4))
u0 = np.asarray(ic.gaussian_random_field(PeriodicGrid(32, ndim=2), key=jax.random.key(1), amplitude=3.0))


@jax.jit
def run(nu, u):
    pde = spectral.EQUATIONS["kolmogorov_flow"](split, viscosity=nu)
    return jaxpde.rollout(spectral.ETDRK(pde, 0.05), u, 5, checkpoint=True)[-1]


u_split = split.put(u0)
final = run(0.01, u_split)
gradient = jax.jit(jax.grad(lambda nu, u: jnp.sum(run(nu, u) ** 2)))(0.01, u_split)
out["gradient"] = float(gradient)
for shard in final.addressable_shards:
    rows = shard.index[1]
    arrays[f"final_rows_{rows.start}"] = np.asarray(shard.data)
out["final_rows"] = sorted(int(s.index[1].start) for s in final.addressable_shards)

np.savez(out_dir / f"process{process_id}.npz", **arrays)
print("RESULT" + json.dumps(out), flush=True)
