"""Domain decomposition: one field split over a device mesh along its leading spatial axes.

A grid built with ``mesh=`` splits spatial axis ``i`` over the mesh axis
``mesh.axis_names[i]`` (slabs with a 1D mesh, pencils with a 2D one). Everything here is
the machinery the grids use: the partition specs of a field, the distributed real FFT
(local transforms and ``all_to_all`` transposes under ``jax.shard_map``) and the halo
exchange of a finite-volume stencil (``ppermute`` to the neighbours)."""

import math
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P
from jaxtyping import Array

SPATIAL_AXIS_NAMES = ("x", "y", "z")


def spatial_mesh(shape: int | Sequence[int], names: Sequence[str] | None = None, *, devices=None) -> Mesh:
    """A device mesh for splitting fields over their leading spatial axes.

    ``spatial_mesh(8)`` gives slabs (axis ``x`` split over 8 devices);
    ``spatial_mesh((4, 2))`` gives pencils (``x`` over 4, ``y`` over 2). The mesh axes
    are of JAX's ``Auto`` type, so everything outside the transforms and halo exchanges
    is partitioned by XLA.

    **Arguments:**

    - `shape`: devices per split axis, an ``int`` or a tuple (at most 3 entries).
    - `names`: the mesh axis names (default ``("x", "y", "z")[:len(shape)]``).
    - `devices`: the devices to use (default the first ``prod(shape)`` of ``jax.devices()``).

    **Returns:** a ``jax.sharding.Mesh``.
    """
    shape = (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(s) for s in shape)
    if not 1 <= len(shape) <= 3 or any(s < 1 for s in shape):
        raise ValueError(f"spatial_mesh: shape must be 1 to 3 positive device counts, got {shape}.")
    names = SPATIAL_AXIS_NAMES[: len(shape)] if names is None else tuple(names)
    if len(names) != len(shape):
        raise ValueError(f"spatial_mesh: {len(shape)} mesh axes but {len(names)} names {names}.")
    devices = list(jax.devices() if devices is None else devices)
    need = math.prod(shape)
    if len(devices) < need:
        raise ValueError(
            f"spatial_mesh: a {shape} mesh needs {need} devices, only {len(devices)} are available "
            f"(on CPU, simulate more with XLA_FLAGS=--xla_force_host_platform_device_count={need} "
            "set before jax is imported)."
        )
    grid = np.asarray(devices[:need], dtype=object).reshape(shape)
    return Mesh(grid, names, axis_types=(jax.sharding.AxisType.Auto,) * len(shape))


def _good_sizes(n: int, k: int) -> str:
    lower = n // k * k
    options = [s for s in (lower, lower + k) if s > 0]
    return " or ".join(str(s) for s in options)


def check_mesh(mesh, shape: tuple[int, ...], max_axes: int, owner: str) -> None:
    """Refuse a mesh that cannot split a grid of `shape` (mesh axis ``i`` splits spatial
    axis ``i``; at most `max_axes` of them)."""
    if mesh is None:
        return
    if not isinstance(mesh, Mesh):
        raise TypeError(f"{owner}: mesh must be a jax.sharding.Mesh (see jaxpde.grids.spatial_mesh), got {mesh!r}.")
    names = mesh.axis_names
    if len(names) > max_axes:
        what = "the last axis stays whole for the real FFT" if owner == "PeriodicGrid" else "one per axis"
        raise ValueError(
            f"{owner}: a {len(shape)}D grid can be split over at most {max_axes} mesh axes ({what}); "
            f"the mesh has {len(names)}: {names}."
        )
    for i, name in enumerate(names):
        k = mesh.shape[name]
        if shape[i] % k:
            raise ValueError(
                f"{owner}: axis {i} has {shape[i]} points, which the {k} devices of mesh axis {name!r} do not "
                f"divide; use a size divisible by {k}, e.g. {_good_sizes(shape[i], k)}."
            )


def split_sizes(mesh) -> tuple[int, ...]:
    """Devices along each mesh axis (``()`` without a mesh)."""
    return () if mesh is None else tuple(mesh.shape[a] for a in mesh.axis_names)


def is_split(mesh) -> bool:
    """Whether `mesh` splits anything (a mesh of one device does not)."""
    return mesh is not None and math.prod(split_sizes(mesh)) > 1


def field_spec(mesh: Mesh, ndim: int, num_leading: int) -> P:
    """The partition spec of an array ``(*lead, *N)`` whose leading spatial axes are split."""
    names = tuple(mesh.axis_names)
    return P(*([None] * num_leading), *names, *([None] * (ndim - len(names))))


def field_sharding(mesh: Mesh, ndim: int, num_leading: int = 1) -> NamedSharding:
    """``NamedSharding`` of a field ``(*lead, *N)`` split over `mesh`."""
    return NamedSharding(mesh, field_spec(mesh, ndim, num_leading))


def _transposed_apply(x: Array, mesh: Mesh, ndim: int, transform: Callable[[Array, tuple[int, ...]], Array]) -> Array:
    """Apply `transform` along the split spatial axes of a local block `x` ``(*lead, *n)``.

    The last axis is zero-padded to a multiple of the device count and split over every
    mesh axis in turn (``all_to_all``), which gathers the split axes; `transform` runs
    along them; the transposes are undone and the padding dropped. The block keeps its
    layout, so symbols and masks on the global grid apply to it unchanged."""
    names = mesh.axis_names
    nd = x.ndim
    spatial = tuple(range(nd - ndim, nd))
    k = x.shape[-1]
    total = math.prod(split_sizes(mesh))
    kp = -(-k // total) * total
    if kp != k:
        x = jnp.pad(x, [(0, 0)] * (nd - 1) + [(0, kp - k)])
    for i, name in enumerate(names):
        x = lax.all_to_all(x, name, split_axis=nd - 1, concat_axis=spatial[i], tiled=True)
    x = transform(x, spatial[: len(names)])
    for i, name in reversed(list(enumerate(names))):
        x = lax.all_to_all(x, name, split_axis=spatial[i], concat_axis=nd - 1, tiled=True)
    return x[..., :k] if kp != k else x


def distributed_rfftn(u: Array, mesh: Mesh, ndim: int) -> Array:
    """``jnp.fft.rfftn`` over the trailing `ndim` axes of `u`, split over `mesh`.

    The input and the output are split the same way (leading spatial axes over the mesh
    axes); the real transform runs locally along the unsplit trailing axes, the complex
    ones along the split axes after ``all_to_all`` transposes (two per mesh axis).
    Differentiable. Called with the global array; the work runs under ``jax.shard_map``.

    **Arguments:** `u`, real, ``(*lead, *N)`` split over `mesh` along its leading spatial
    axes; `mesh`; `ndim`, the number of spatial (trailing) axes.

    **Returns:** the transform ``(*lead, N_1, ..., N_d // 2 + 1)``, split like `u`."""
    names = mesh.axis_names
    spec = field_spec(mesh, ndim, u.ndim - ndim)

    def local(v):
        nd = v.ndim
        v = jnp.fft.rfftn(v, axes=tuple(range(nd - ndim + len(names), nd)))
        return _transposed_apply(v, mesh, ndim, lambda y, axes: jnp.fft.fftn(y, axes=axes))

    return jax.shard_map(local, mesh=mesh, in_specs=spec, out_specs=spec)(u)


def distributed_irfftn(u_hat: Array, mesh: Mesh, shape: tuple[int, ...]) -> Array:
    """The inverse of [`distributed_rfftn`][jaxpde.grids.distributed_rfftn] for a grid of
    `shape` (real output).

    **Arguments:** `u_hat` ``(*lead, N_1, ..., N_d // 2 + 1)`` split over `mesh`; `mesh`;
    `shape`, the grid's ``(N_1, ..., N_d)``.

    **Returns:** the real field ``(*lead, *shape)``, split like `u_hat`."""
    names = mesh.axis_names
    ndim = len(shape)
    spec = field_spec(mesh, ndim, u_hat.ndim - ndim)

    def local(v):
        nd = v.ndim
        v = _transposed_apply(v, mesh, ndim, lambda y, axes: jnp.fft.ifftn(y, axes=axes))
        return jnp.fft.irfftn(v, s=shape[len(names) :], axes=tuple(range(nd - ndim + len(names), nd)))

    return jax.shard_map(local, mesh=mesh, in_specs=spec, out_specs=spec)(u_hat)


def exchange_halo(
    u: Array,
    axis: int,
    num_ghost: int,
    mesh_axis: str,
    periodic: bool,
    lower: Callable[[], Array],
    upper: Callable[[], Array],
) -> Array:
    """Inside ``jax.shard_map``: the local block `u` padded with `num_ghost` cells on both
    sides of array `axis`, which is split over `mesh_axis`.

    Interior ghosts are the neighbours' edge cells (one ``ppermute`` each way). At the
    physical edges a periodic axis wraps around; otherwise the ghosts come from
    ``lower()`` / ``upper()`` (the boundary condition applied to the edge block)."""
    n = u.shape[axis]
    if num_ghost > n:
        raise ValueError(
            f"each device holds {n} cells along axis {axis} but the stencil needs {num_ghost} ghost cells; "
            "use fewer devices along this axis or a larger grid."
        )
    k = lax.axis_size(mesh_axis)
    right = [(i, i + 1) for i in range(k - 1)] + ([(k - 1, 0)] if periodic else [])
    left = [(i + 1, i) for i in range(k - 1)] + ([(0, k - 1)] if periodic else [])
    from_left = lax.ppermute(lax.slice_in_dim(u, n - num_ghost, n, axis=axis), mesh_axis, right)
    from_right = lax.ppermute(lax.slice_in_dim(u, 0, num_ghost, axis=axis), mesh_axis, left)
    if not periodic:
        index = lax.axis_index(mesh_axis)
        from_left = jnp.where(index == 0, lower(), from_left)
        from_right = jnp.where(index == k - 1, upper(), from_right)
    return jnp.concatenate([from_left, u, from_right], axis=axis)
