"""Periodic tensor-product grids for pseudo-spectral methods."""

import math
from collections.abc import Sequence
from typing import ClassVar

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh
from jaxtyping import Array

from ._abstract import AbstractGrid
from ._mesh import check_mesh, distributed_irfftn, distributed_rfftn, is_split


def _integer(value, name: str) -> int:
    """An integer count; a non-integral number is refused rather than truncated."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"PeriodicGrid: {name} must be an integer, got {value!r}.")
    if not float(value).is_integer():
        raise ValueError(f"PeriodicGrid: {name} must be an integer, got {value!r}.")
    return int(value)


def _as_tuple(value, ndim: int | None, name: str, kind) -> tuple:
    if kind is int:
        kind = lambda v: _integer(v, name)  # noqa: E731
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        if ndim is None:
            return (kind(value),)
        return (kind(value),) * ndim
    if isinstance(value, Sequence) and not isinstance(value, str):
        return tuple(kind(v) for v in value)
    raise TypeError(f"PeriodicGrid: {name} must be a number or a sequence of numbers, got {value!r}.")


class PeriodicGrid(AbstractGrid):
    """A uniform periodic grid on ``[0, L_1) x ... x [0, L_d)`` for ``d = 1, 2, 3``.

    Points sit at ``x_j = j * L / N`` along each axis. The grid is static (no array
    leaves): it is hashable and can be closed over freely inside ``jax.jit``.

    **Arguments:**

    - `num_points`: points per axis, an ``int`` or one per axis, e.g. ``(128, 64)``.
    - `extent`: domain length per axis, a number or one per axis (default ``2π``).
      Anisotropic grids (different ``N`` or ``L`` per axis) are allowed.
    - `ndim`: number of dimensions when `num_points` and `extent` are scalars
      (default 1).
    - `mesh`: a ``jax.sharding.Mesh`` to split fields over (see
      [`spatial_mesh`][jaxpde.grids.spatial_mesh]); mesh axis ``i`` splits spatial axis ``i``
      (slabs, or pencils in 3D). The last axis stays whole. ``rfft``/``irfft`` are then
      distributed (``all_to_all`` transposes), spectral arrays are split like physical
      ones, and every spectral equation and stepper runs unchanged on split fields. Place a
      field with [`put`][jaxpde.grids.AbstractGrid.put]. Default ``None``: one device.
    """

    num_points: tuple[int, ...] = eqx.field(static=True)
    extent: tuple[float, ...] = eqx.field(static=True)
    mesh: Mesh | None = eqx.field(static=True)
    periodic: ClassVar[bool] = True

    def __init__(self, num_points, extent=2 * math.pi, *, ndim: int | None = None, mesh: Mesh | None = None):
        n = _as_tuple(num_points, ndim, "num_points", int)
        if ndim is None and len(n) == 1:
            ndim_ = None
            if not isinstance(extent, (int, float, np.integer, np.floating)):
                ndim_ = len(extent)
                n = n * ndim_
        e = _as_tuple(extent, len(n), "extent", float)
        if len(n) == 1 and len(e) > 1:
            n = n * len(e)
        if len(n) != len(e):
            raise ValueError(
                f"PeriodicGrid: num_points has {len(n)} axes but extent has {len(e)}; give one value per axis."
            )
        if not 1 <= len(n) <= 3:
            raise ValueError(f"PeriodicGrid supports 1, 2 or 3 dimensions, got {len(n)}.")
        for ni in n:
            if ni < 2:
                raise ValueError(f"PeriodicGrid: num_points must be >= 2 per axis, got {n}.")
        for ei in e:
            if not (ei > 0 and math.isfinite(ei)):
                raise ValueError(f"PeriodicGrid: extent must be positive and finite, got {e}.")
        check_mesh(mesh, n, len(n) - 1, "PeriodicGrid")
        self.num_points = n
        self.extent = e
        self.mesh = mesh

    def distribute(self, mesh: Mesh | None) -> "PeriodicGrid":
        """This grid with its fields split over `mesh` (``None``: on one device)."""
        return PeriodicGrid(self.num_points, self.extent, mesh=mesh)

    # --- sizes -------------------------------------------------------------------
    @property
    def ndim(self) -> int:
        return len(self.num_points)

    @property
    def lower(self) -> tuple[float, ...]:
        """The domain starts at the origin on every axis."""
        return (0.0,) * self.ndim

    @property
    def upper(self) -> tuple[float, ...]:
        """``extent`` (the point at ``upper`` is the periodic image of ``lower``)."""
        return self.extent

    @property
    def shape(self) -> tuple[int, ...]:
        """Physical-space shape ``(N_1, ..., N_d)``."""
        return self.num_points

    @property
    def rfft_shape(self) -> tuple[int, ...]:
        """Shape of a real FFT: ``(N_1, ..., N_{d-1}, N_d // 2 + 1)``."""
        return (*self.num_points[:-1], self.num_points[-1] // 2 + 1)

    @property
    def spacing(self) -> tuple[float, ...]:
        return tuple(e / n for e, n in zip(self.extent, self.num_points))

    @property
    def cell_volume(self) -> float:
        return math.prod(self.spacing)

    @property
    def volume(self) -> float:
        return math.prod(self.extent)

    @property
    def rfft_axes(self) -> tuple[int, ...]:
        """The spatial axes of a channel-first state ``(C, *N)``."""
        return tuple(range(-self.ndim, 0))

    # --- coordinates ---------------------------------------------------------------
    def axis_coordinates(self, axis: int) -> np.ndarray:
        """1D coordinates ``j * L / N`` along `axis` (float64 numpy)."""
        n, e = self.num_points[axis], self.extent[axis]
        return np.arange(n, dtype=np.float64) * (e / n)

    def coordinates(self) -> np.ndarray:
        """All coordinates, shape ``(d, *N)`` (``ij`` indexing, float64 numpy)."""
        axes = [self.axis_coordinates(i) for i in range(self.ndim)]
        return np.stack(np.meshgrid(*axes, indexing="ij"), axis=0)

    # --- wavenumbers -----------------------------------------------------------------
    def _wavenumber_1d(self, axis: int, zero_nyquist: bool) -> np.ndarray:
        n, e = self.num_points[axis], self.extent[axis]
        if axis == self.ndim - 1:
            m = np.fft.rfftfreq(n, 1.0 / n)
        else:
            m = np.fft.fftfreq(n, 1.0 / n)
        if zero_nyquist and n % 2 == 0:
            m = np.where(np.abs(m) == n // 2, 0.0, m)
        return 2 * np.pi / e * m

    def wavenumbers(self, *, zero_nyquist: bool = False) -> tuple[np.ndarray, ...]:
        """Angular wavenumbers per axis for the rfft layout, each broadcastable to
        `rfft_shape` (float64 numpy).

        With ``zero_nyquist=True`` the Nyquist mode of even-sized axes is set to 0;
        use this for odd derivatives, whose Nyquist symbol is not real.
        """
        out = []
        for axis in range(self.ndim):
            k = self._wavenumber_1d(axis, zero_nyquist)
            shape = [1] * self.ndim
            shape[axis] = k.size
            out.append(k.reshape(shape))
        return tuple(out)

    def wavenumber_indices(self) -> tuple[np.ndarray, ...]:
        """Integer mode numbers per axis (rfft layout), broadcastable to `rfft_shape`."""
        out = []
        for axis in range(self.ndim):
            n = self.num_points[axis]
            m = np.fft.rfftfreq(n, 1.0 / n) if axis == self.ndim - 1 else np.fft.fftfreq(n, 1.0 / n)
            shape = [1] * self.ndim
            shape[axis] = m.size
            out.append(np.rint(m).astype(np.int64).reshape(shape))
        return tuple(out)

    def wavenumber_norm_squared(self) -> np.ndarray:
        """``|k|^2`` on the rfft layout (float64 numpy, shape `rfft_shape`)."""
        ks = self.wavenumbers()
        total = np.zeros(self.rfft_shape)
        for k in ks:
            total = total + k**2
        return total

    def dealias_mask(self, fraction: float = 2 / 3) -> np.ndarray:
        """Boolean mask of the retained modes of the ``fraction`` rule (``2/3`` is Orszag's).

        A mode is kept when ``|m_i| <= fraction * (N_i // 2)`` on every axis;
        ``fraction = 1`` keeps everything.
        """
        mask = np.ones(self.rfft_shape, dtype=bool)
        for m, k in zip(self.wavenumber_indices(), self.kept_wavenumber_indices(fraction)):
            mask = mask & (np.abs(m) <= k)
        return mask

    def kept_wavenumber_indices(self, fraction: float = 2 / 3) -> tuple[int, ...]:
        """Largest index ``K_i`` with ``|m| <= K_i`` kept by `dealias_mask` on each axis.

        Args:
            `fraction`: the de-aliasing fraction, as for `dealias_mask`.

        Returns:
            A tuple of ``ndim`` integers, one per spatial axis.
        """
        if not 0 < fraction <= 1:
            raise ValueError(f"dealias fraction must be in (0, 1], got {fraction}.")
        out = []
        for axis, m in enumerate(self.wavenumber_indices()):
            m = np.abs(m).ravel()
            out.append(int(m[m <= fraction * (self.num_points[axis] // 2)].max()))
        return tuple(out)

    def quadratic_alias_free(self, fraction: float = 2 / 3) -> bool:
        """Whether the modes kept by `dealias_mask` are free of aliasing from quadratic products.

        A product of two fields band-limited to ``|m_i| <= K_i`` has modes up to ``2 K_i``;
        those alias onto ``2 K_i - N_i``, which misses the kept band exactly when
        ``3 K_i < N_i`` on every axis. With the 2/3 rule that is every ``N_i`` not divisible
        by 3; at ``N_i = 3 K_i`` the boundary mode ``K_i`` receives an alias.

        Args:
            `fraction`: the de-aliasing fraction, as for `dealias_mask`.

        Returns:
            ``True`` when every axis satisfies ``3 K_i < N_i``.
        """
        kept = self.kept_wavenumber_indices(fraction)
        return all(3 * k < n for k, n in zip(kept, self.num_points))

    # --- transforms and derivatives ------------------------------------------------------
    def rfft(self, u: Array) -> Array:
        """Real FFT over the spatial (trailing ``ndim``) axes; distributed when the grid
        has a mesh (the result is split like the input)."""
        if is_split(self.mesh):
            return distributed_rfftn(u, self.mesh, self.ndim)
        return jnp.fft.rfftn(u, axes=self.rfft_axes)

    def irfft(self, u_hat: Array) -> Array:
        """Inverse of `rfft` (real output of shape ``(..., *N)``)."""
        if is_split(self.mesh):
            return distributed_irfftn(u_hat, self.mesh, self.num_points)
        return jnp.fft.irfftn(u_hat, s=self.num_points, axes=self.rfft_axes)

    def derivative(self, u: Array, order: int = 1, axis: int = 0) -> Array:
        """Spectral derivative ``∂^order u / ∂x_axis^order`` of a field ``(..., *N)``.

        `axis` counts spatial axes (0 = x). Odd derivatives drop the Nyquist mode.
        """
        if not 0 <= axis < self.ndim:
            raise ValueError(f"axis must be in [0, {self.ndim}), got {axis}.")
        k = self.wavenumbers(zero_nyquist=order % 2 == 1)[axis]
        symbol = (1j * k) ** order
        return self.irfft(self.rfft(u) * symbol).astype(u.dtype)

    def gradient(self, u: Array) -> Array:
        """Spectral gradient of a scalar field ``(*N)`` or ``(1, *N)``: shape ``(d, *N)``."""
        u_hat = self.rfft(u.reshape(self.shape))
        ks = self.wavenumbers(zero_nyquist=True)
        g = jnp.stack([u_hat * (1j * k) for k in ks])
        return self.irfft(g).astype(u.dtype)

    def laplacian(self, u: Array) -> Array:
        """Spectral Laplacian of a field ``(..., *N)``."""
        return self.irfft(-self.wavenumber_norm_squared() * self.rfft(u)).astype(u.dtype)

    def integrate(self, u: Array) -> Array:
        """Trapezoidal (spectrally accurate) integral over the domain, per leading index."""
        return jnp.sum(u, axis=self.rfft_axes) * self.cell_volume

    def __repr__(self):
        split = "" if self.mesh is None else f", mesh={dict(self.mesh.shape)}"
        return f"PeriodicGrid(num_points={self.num_points}, extent={self.extent}{split})"
