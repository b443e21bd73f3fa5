"""Training data from jaxpde's own solvers: HDF5 datasets written by vmapped rollouts and
read back lazily in shuffled batches, and an online mode that makes fresh samples inside
a jitted training step.

Sample ``i`` of a dataset generated with key ``k`` is a pure function of
``fold_in(k, i)``: its initial condition and its PDE parameters (uniform in the given
ranges). [`make_sampler`][jaxpde.train.make_sampler] exposes that function, so online training and an HDF5
file describe the same distribution, and any sample can be regenerated exactly.
"""

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import equinox as eqx
import h5py
import jax
import jax.numpy as jnp
import numpy as np

from .._checks import check_int
from ..integrate import rollout


def _check_ranges(parameter_ranges) -> dict:
    ranges = dict(parameter_ranges or {})
    for name, bounds in ranges.items():
        try:
            lo, hi = (float(b) for b in bounds)
        except (TypeError, ValueError):
            raise ValueError(f"parameter range {name!r} must be (low, high), got {bounds!r}.") from None
        if not lo <= hi:
            raise ValueError(f"parameter range {name!r} needs low <= high, got ({lo}, {hi}).")
        ranges[name] = (lo, hi)
    return ranges


def make_sampler(
    make_stepper: Callable,
    sample_ic: Callable,
    *,
    num_steps: int,
    save_every: int = 1,
    parameter_ranges: dict | None = None,
    burn_in: int = 0,
    parameter_values: dict | None = None,
) -> Callable:
    """A pure function ``key -> (trajectory (T, C, *N), parameters {name: scalar})``, or
    ``(key, index) -> ...`` with listed `parameter_values`.

    **Arguments:**

    - `make_stepper`: ``parameters -> AbstractStepper``, traceable (it is built inside
      ``vmap``/``jit``; e.g. ``lambda p: ETDRK(Burgers(grid, p["viscosity"]), dt)``).
    - `sample_ic`: ``key -> u0`` of shape ``(C, *N)`` (e.g. a [`jaxpde.ic`][jaxpde.ic] function).
    - `num_steps`, `save_every`: the rollout; ``T = num_steps // save_every + 1`` frames
      including the initial condition.
    - `parameter_ranges`: ``{name: (low, high)}``, sampled uniformly per trajectory.
    - `burn_in`: solver steps run (and discarded) before the first saved frame, so that
      trajectories start on the attractor rather than at the random initial condition.
    - `parameter_values`: ``{name: values}``, equal-length lists: sample ``i`` takes the
      ``i``-th value of each (explicit training or test parameters, e.g. values outside the
      training range). The sampler then takes the sample's index as a second argument and
      has ``takes_index = True``; [`generate_dataset`][jaxpde.train.generate_dataset] passes it.

    **Returns:** the sampler.
    """
    num_steps = check_int(num_steps, "num_steps")
    save_every = check_int(save_every, "save_every")
    if num_steps % save_every:
        raise ValueError(f"save_every ({save_every}) must divide num_steps ({num_steps}).")
    ranges = _check_ranges(parameter_ranges)
    burn_in = int(burn_in)
    if burn_in < 0:
        raise ValueError(f"burn_in must be >= 0, got {burn_in}.")

    listed = {k: np.asarray(v, dtype=float).ravel() for k, v in (parameter_values or {}).items()}
    if listed:
        if len({len(v) for v in listed.values()}) != 1 or not len(next(iter(listed.values()))):
            raise ValueError(
                f"parameter_values need non-empty lists of one length, got lengths "
                f"{ {k: len(v) for k, v in listed.items()} }."
            )
        if set(listed) & set(ranges):
            raise ValueError(f"parameters {sorted(set(listed) & set(ranges))} are both listed and sampled.")

    def sample(key, index=None):
        k_ic, k_par = jax.random.split(key)
        names = sorted(ranges)
        draws = jax.random.uniform(k_par, (len(names),))
        params = {n: ranges[n][0] + (ranges[n][1] - ranges[n][0]) * draws[i] for i, n in enumerate(names)}
        if listed:
            if index is None:
                raise ValueError(
                    "a sampler with listed parameter_values needs the sample's index: sampler(key, index)."
                )
            params.update({n: jnp.asarray(v)[index] for n, v in listed.items()})
        u0 = sample_ic(k_ic)
        stepper = make_stepper(params)
        if burn_in:
            u0 = rollout(stepper, u0, burn_in, save_every=burn_in, include_initial=False)[-1]
        traj = rollout(stepper, u0, num_steps, save_every=save_every)
        return traj, params

    sample.takes_index = bool(listed)
    sample.num_listed = len(next(iter(listed.values()))) if listed else None
    return sample


def _draw(sampler, key, index):
    """Sample `index` of `sampler`: ``sampler(fold_in(key, index)[, index])``."""
    k = jax.random.fold_in(key, index)
    return sampler(k, index) if getattr(sampler, "takes_index", False) else sampler(k)


def _sample_keys(key, index):
    """Per-sample noise keys of an online batch (raw ``(B, 2) uint32``), independent of
    the keys that made the samples."""
    noise = jax.random.fold_in(key, 0x6E6F6973)
    return jax.vmap(lambda i: jax.random.key_data(jax.random.fold_in(noise, i)))(index)


def online_batches(sampler: Callable, batch_size: int) -> Callable:
    """``key -> batch``: `batch_size` fresh samples made inside the caller's ``jit``
    (``{"trajectories": (B, T, C, *N), "parameters": {name: (B,)}, "keys": (B, 2)}``, the
    last raw PRNG key data for stochastic losses); no disk, no I/O.
    Sample ``i`` is ``sampler(fold_in(key, i))``; ``batch.part(key, start, count)`` makes
    samples ``start .. start + count - 1`` only (one device's share of a data-parallel
    batch; `start` may be traced).

    **Arguments:** the `sampler` and `batch_size`. **Returns:** ``key -> batch``."""
    return _OnlineBatch(sampler, check_int(batch_size, "batch_size"))


class _OnlineBatch:
    def __init__(self, sampler, batch_size):
        self.sampler, self.batch_size = sampler, batch_size

    def part(self, key, start, count: int):
        index = start + jnp.arange(count)
        trajs, params = jax.vmap(lambda i: _draw(self.sampler, key, i))(index)
        return {"trajectories": trajs, "parameters": params, "keys": _sample_keys(key, index)}

    def __call__(self, key):
        return self.part(key, 0, self.batch_size)


def _local_rows(x) -> list[tuple[int, np.ndarray]]:
    """The rows of a batch-split array this process holds: ``(first row, block)`` per
    addressable shard, each block once (replicas dropped)."""
    seen, out = set(), []
    for shard in x.addressable_shards:
        rows = shard.index[0] if shard.index else slice(None)
        first = rows.start or 0
        if first not in seen:
            seen.add(first)
            out.append((first, np.asarray(shard.data)))
    return sorted(out, key=lambda r: r[0])


def _barrier(name: str) -> None:
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(name)


def generate_dataset(
    path,
    sampler: Callable,
    *,
    num_samples: int,
    key,
    chunk_size: int = 64,
    metadata: dict | None = None,
    times=None,
    progress: bool | None = None,
    mesh=None,
) -> Path:
    """Write `num_samples` trajectories of `sampler` (see [`make_sampler`][jaxpde.train.make_sampler]) to HDF5.

    Sample ``i`` is ``sampler(fold_in(key, i))``. Samples are made `chunk_size` at a
    time by one compiled ``vmap`` and streamed to disk, so memory does not grow with
    `num_samples`. Layout: ``trajectories`` ``(S, T, C, *N)`` chunked by sample,
    ``parameters/<name>`` ``(S,)``, ``time`` ``(T,)`` if `times` is given, and the
    metadata as JSON in the ``metadata_json`` attribute. The file appears at `path`
    only when complete; a non-finite trajectory raises and leaves nothing.

    With a data `mesh` (see [`data_mesh`][jaxpde.train.data_mesh]) every device makes its
    share of each chunk (``jax.shard_map``; the chunk is rounded up to a multiple of the
    device count), and with several processes each process writes only the samples its
    devices made, taking turns on the one file (no parallel HDF5 needed). The file is the
    same whatever the number of devices or processes.

    **Arguments:** `path`, `sampler`, `num_samples`, the PRNG `key`, `chunk_size`,
    `metadata` (a JSON-able dict), the frame `times`, `progress` (``None``: a bar on a
    terminal, plain lines otherwise) and `mesh` (``None``: one device).

    **Returns:** the path of the file.
    """
    from jax.sharding import PartitionSpec as P
    from tqdm.auto import tqdm

    num_samples = check_int(num_samples, "num_samples")
    listed = getattr(sampler, "num_listed", None)
    if listed is not None and num_samples > listed:
        raise ValueError(f"num_samples ({num_samples}) exceeds the {listed} listed parameter values of the sampler.")
    chunk_size = min(check_int(chunk_size, "chunk_size"), num_samples)
    path = Path(path)
    tmp = path.with_name(path.name + ".partial")
    me, num_processes = jax.process_index(), jax.process_count()

    def make(indices):
        return jax.vmap(lambda i: _draw(sampler, key, i))(indices)

    if mesh is None:
        make_chunk = eqx.filter_jit(lambda start: make(start + jnp.arange(chunk_size)))
    else:
        devices = mesh.devices.size
        chunk_size = -(-chunk_size // devices) * devices
        axis = mesh.axis_names[0]

        @eqx.filter_jit
        def make_chunk(start):
            indices = jax.lax.with_sharding_constraint(
                start + jnp.arange(chunk_size), jax.sharding.NamedSharding(mesh, P(axis))
            )
            # no collectives inside; samples may start from a device-invariant state (a fixed
            # initial condition), which the varying-axis check would refuse in the rollout's scan
            return jax.shard_map(make, mesh=mesh, in_specs=P(axis), out_specs=P(axis), check_vma=False)(indices)

    @eqx.filter_jit
    def first_bad(trajs):
        ok = jnp.all(jnp.isfinite(trajs.reshape(trajs.shape[0], -1)), axis=1)
        return jnp.where(jnp.all(ok), -1, jnp.argmin(ok))

    if me == 0:
        path.parent.mkdir(parents=True, exist_ok=True)
    created = False
    try:
        with tqdm(
            total=num_samples,
            unit="sample",
            desc=path.name,
            disable=True if me != 0 else (progress is False if progress is not None else None),
        ) as bar:
            for start in range(0, num_samples, chunk_size):
                trajs, params = make_chunk(jnp.asarray(start))
                n = min(chunk_size, num_samples - start)
                bad = int(first_bad(trajs))
                if 0 <= bad < n:
                    raise FloatingPointError(
                        f"sample {start + bad} became non-finite; reduce dt or the parameter ranges."
                    )
                rows = _local_rows(trajs)
                prows = {name: dict(_local_rows(v)) for name, v in params.items()}
                for turn in range(num_processes):
                    if turn == me:
                        with h5py.File(tmp, "r+" if created or me != 0 else "w") as f:
                            if "trajectories" not in f:
                                f.create_dataset(
                                    "trajectories",
                                    shape=(num_samples, *trajs.shape[1:]),
                                    dtype=rows[0][1].dtype,
                                    chunks=(1, *trajs.shape[1:]),
                                )
                                for name in params:
                                    f.create_dataset(f"parameters/{name}", shape=(num_samples,), dtype="f8")
                            for first, block in rows:
                                keep = min(len(block), n - first)
                                if keep > 0:
                                    f["trajectories"][start + first : start + first + keep] = block[:keep]
                                    for name in params:
                                        values = prows[name][first]
                                        f[f"parameters/{name}"][start + first : start + first + keep] = values[:keep]
                    created = True
                    _barrier(f"jaxpde-dataset-{start}-{turn}")
                bar.update(n)
            if me == 0:
                with h5py.File(tmp, "r+") as f:
                    if times is not None:
                        f.create_dataset("time", data=np.asarray(times))
                    meta = dict(metadata or {})
                    meta.setdefault("num_samples", num_samples)
                    f.attrs["metadata_json"] = json.dumps(meta)
                os.replace(tmp, path)
            _barrier("jaxpde-dataset-done")
    finally:
        if me == 0 and tmp.exists():
            os.remove(tmp)
    return path


class TrajectoryDataset:
    """A dataset file written by [`generate_dataset`][jaxpde.train.generate_dataset], read lazily.

    Only the requested samples are read: `batches` reads one batch at a time
    (h5py reads the chunks of those samples), never the whole file.

    ``len(ds)``, ``ds.shape`` (one sample's ``(T, C, *N)``), ``ds.metadata``,
    ``ds.parameter_names`` and ``ds[i]`` / ``ds.read(indices)`` are available.

    **Arguments:** `path`: the ``.h5`` file.
    """

    def __init__(self, path):
        self.path = Path(path)
        if not self.path.exists():
            raise FileNotFoundError(f"dataset {self.path} not found (generate it with jaxpde.train.generate_dataset).")
        with h5py.File(self.path, "r") as f:
            if "trajectories" not in f:
                raise ValueError(f"{self.path} is not a jaxpde dataset (no 'trajectories').")
            self._len, *shape = f["trajectories"].shape
            self.shape = tuple(shape)
            self.dtype = f["trajectories"].dtype
            self.parameter_names = sorted(f["parameters"]) if "parameters" in f else []
            self.metadata = json.loads(f.attrs.get("metadata_json", "{}"))
        self._file = None
        self._fingerprint = None

    def __len__(self):
        return self._len

    def fingerprint(self) -> str:
        """A SHA-256 of the dataset's content (trajectories, parameters, metadata), not of
        its path: a run resumed through another spelling of the path, or after its
        directory moved, recognises its data; a regenerated dataset is told apart."""
        if getattr(self, "_fingerprint", None) is None:
            import hashlib

            h = hashlib.sha256()
            h.update(
                json.dumps(
                    {
                        "shape": self.shape,
                        "len": self._len,
                        "dtype": str(self.dtype),
                        "parameters": self.parameter_names,
                        "metadata": self.metadata,
                    },
                    sort_keys=True,
                ).encode()
            )
            f = self._f()
            step = max(1, (64 << 20) // max(1, int(np.prod(self.shape)) * self.dtype.itemsize))
            for s in range(0, self._len, step):
                h.update(np.ascontiguousarray(f["trajectories"][s : s + step]).tobytes())
            for n in self.parameter_names:
                h.update(np.ascontiguousarray(f[f"parameters/{n}"][...]).tobytes())
            self._fingerprint = h.hexdigest()
        return self._fingerprint

    def _f(self):
        if self._file is None:
            self._file = h5py.File(self.path, "r")
        return self._file

    def close(self):
        if self._file is not None:
            self._file.close()
            self._file = None

    def read(self, indices) -> dict:
        """Samples at `indices` (any order, no repeats): ``{"trajectories", "parameters"}``."""
        indices = np.asarray(indices, dtype=np.int64)
        if indices.ndim != 1 or np.any(indices < 0) or np.any(indices >= self._len):
            raise IndexError(f"indices must be a 1D array in [0, {self._len}).")
        order = np.argsort(indices)
        sorted_idx = indices[order]
        if np.any(np.diff(sorted_idx) == 0):
            raise IndexError("indices must not repeat.")
        inverse = np.empty_like(order)
        inverse[order] = np.arange(len(order))
        f = self._f()
        trajs = f["trajectories"][sorted_idx][inverse]  # h5py needs increasing indices
        params = {n: f[f"parameters/{n}"][sorted_idx][inverse] for n in self.parameter_names}
        return {"trajectories": trajs, "parameters": params}

    def __getitem__(self, i):
        out = self.read([int(i)])
        return {"trajectories": out["trajectories"][0], "parameters": {k: v[0] for k, v in out["parameters"].items()}}

    def epoch_order(self, seed: int, epoch: int) -> np.ndarray:
        """The shuffled sample order of an epoch: a pure function of ``(seed, epoch)``,
        so a resumed run sees the same data order as an uninterrupted one."""
        return np.random.default_rng([int(seed), int(epoch)]).permutation(self._len)

    def batches(
        self, batch_size: int, *, seed: int = 0, epoch: int = 0, start: int = 0, drop_last: bool = True
    ) -> Iterator[dict]:
        """Shuffled batches of one epoch, from batch number `start` on (for resuming)."""
        batch_size = check_int(batch_size, "batch_size")
        if batch_size > self._len:
            raise ValueError(f"batch_size {batch_size} exceeds the dataset size {self._len}.")
        order = self.epoch_order(seed, epoch)
        stop = (self._len // batch_size) * batch_size if drop_last else self._len
        for b, s in enumerate(range(0, stop, batch_size)):
            if b >= start:
                yield self.read(order[s : s + batch_size])

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def cached_dataset(
    path,
    sampler: Callable,
    *,
    num_samples: int,
    key,
    source: dict,
    times=None,
    progress: bool | None = None,
    mesh=None,
) -> "TrajectoryDataset":
    """The dataset at `path`, generated by `sampler` the first time (or again when the file
    was made from a different `source`, a JSON-able description of the data: config,
    split, seed). Later calls, and resumed runs, reuse it.

    **Arguments:** `path`, `sampler`, `num_samples`, the PRNG `key`, `source`, the frame
    `times`, `progress` and `mesh`, as in [`generate_dataset`][jaxpde.train.generate_dataset].

    **Returns:** the [`TrajectoryDataset`][jaxpde.train.TrajectoryDataset]."""
    path = Path(path)
    source = json.loads(json.dumps(source))
    if path.exists():
        ds = TrajectoryDataset(path)
        if len(ds) == num_samples and ds.metadata.get("source") == source:
            return ds
        ds.close()
        path.unlink()
    path.parent.mkdir(parents=True, exist_ok=True)
    generate_dataset(
        path,
        sampler,
        num_samples=num_samples,
        key=key,
        metadata={"source": source},
        times=times,
        progress=progress,
        mesh=mesh,
    )
    return TrajectoryDataset(path)
