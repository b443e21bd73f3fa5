"""Direct solves of ``(Δ_h - σ) p = f`` on a box by fast diagonalisation: the discrete
Laplacian is a sum of one-dimensional operators, each diagonalised by a fixed transform
(FFT for periodic axes, DCT-II for Neumann-Neumann, DST-II for Dirichlet-Dirichlet,
DCT-IV for Neumann on one side and Dirichlet on the other, a dense eigenbasis otherwise)."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.scipy.fft as jfft
import numpy as np
from jaxtyping import Array

from ..grids import CellGrid
from ._abstract import AbstractEllipticSolver
from ._laplacian import CellLaplacian, matrix_1d, normalise_sides


def _eigenvalues(n: int, h: float, sides) -> np.ndarray:
    k = np.arange(n)
    if sides == ("periodic", "periodic"):
        return -4 / h**2 * np.sin(np.pi * k / n) ** 2
    if sides == ("neumann", "neumann"):
        return -4 / h**2 * np.sin(np.pi * k / (2 * n)) ** 2
    if sides == ("dirichlet", "dirichlet"):
        return -4 / h**2 * np.sin(np.pi * (k + 1) / (2 * n)) ** 2
    if sides in (("neumann", "dirichlet"), ("dirichlet", "neumann")):
        return -4 / h**2 * np.sin(np.pi * (k + 0.5) / (2 * n)) ** 2
    return np.linalg.eigvalsh(matrix_1d(n, h, sides))


def _dct4(x: Array, axis: int) -> Array:
    """The orthonormal DCT-IV ``√(2/n) Σ_j x_j cos(π (j+½)(k+½)/n)`` along `axis` (its own
    inverse), through one complex FFT of length ``2n``."""
    n = x.shape[axis]
    x = jnp.moveaxis(x, axis, -1)
    j = np.arange(n)
    ctype = jnp.result_type(x.dtype, jnp.complex64)
    pre = jnp.asarray(np.exp(-1j * np.pi * j / (2 * n)), ctype)
    post = jnp.asarray(np.sqrt(2 / n) * np.exp(-1j * np.pi * (j + 0.5) / (2 * n)), ctype)
    y = jnp.fft.fft(x * pre, n=2 * n, axis=-1)[..., :n]
    return jnp.moveaxis((y * post).real.astype(x.dtype), -1, axis)


def _transform(kind: str, x: Array, axis: int, basis: np.ndarray | None, inverse: bool) -> Array:
    if kind == "dct":
        return (jfft.idct if inverse else jfft.dct)(x, type=2, axis=axis, norm="ortho")
    if kind == "dst":  # DST-II = reverse(DCT-II(x · (-1)^n)), orthonormal
        n = x.shape[axis]
        sign = jnp.asarray((-1.0) ** np.arange(n), x.dtype).reshape([n if a == axis else 1 for a in range(x.ndim)])
        if inverse:
            return sign * jfft.idct(jnp.flip(x, axis), type=2, axis=axis, norm="ortho")
        return jnp.flip(jfft.dct(x * sign, type=2, axis=axis, norm="ortho"), axis)
    if kind == "dct4":  # Neumann below, Dirichlet above: cos((k+½)π(j+½)/n)
        return _dct4(x, axis)
    if kind == "dct4_flipped":  # Dirichlet below, Neumann above
        return jnp.flip(_dct4(x, axis), axis) if inverse else _dct4(jnp.flip(x, axis), axis)
    # dense orthonormal eigenbasis (columns): forward V^T x, inverse V y
    v = jnp.asarray(basis.T if not inverse else basis, x.dtype)
    return jnp.moveaxis(jnp.tensordot(v, x, axes=([1], [axis])), 0, axis)


class FastDiagonalisation(AbstractEllipticSolver):
    r"""Direct solve of ``(Δ_h - σ) p = f`` on a box of cells (no mask, unit coefficient):
    transform, divide by the eigenvalues ``Σ_a λ_a(k_a) - σ``, transform back.
    ``O(N log N)`` for every box whose axes are periodic or have a Neumann or Dirichlet
    condition on each side (DCT-IV, through an FFT of twice the length, where the two
    differ); other combinations use a dense ``n × n`` eigenbasis (``O(n)`` more work
    per point along that axis).

    The eigenvalues are those of the discrete operator (``λ = -4/h² sin²(θ/2)``), so the
    solution is exact to round-off for [`CellLaplacian`][jaxpde.linalg.CellLaplacian]
    with the same sides and shift. With no Dirichlet side and ``σ = 0`` the operator is
    singular: the constant mode of ``f`` is dropped and ``p`` has zero mean.

    **Arguments:** the `grid`, the boundary kinds `bc` (see
    [`normalise_sides`][jaxpde.linalg.normalise_sides]), the `shift` ``σ ≥ 0``.

    Differentiable: the right-hand side and `shift`.
    """

    grid: CellGrid
    sides: tuple = eqx.field(static=True)
    shift: Array

    def __init__(self, grid, bc="neumann", *, shift=0.0):
        if not isinstance(grid, CellGrid):
            raise TypeError(f"FastDiagonalisation needs a CellGrid, got {type(grid).__name__}.")
        self.grid = grid
        self.sides = normalise_sides(bc, grid.ndim)
        self.shift = jnp.asarray(shift)

    @property
    def operator(self) -> CellLaplacian:
        return CellLaplacian(self.grid, self.sides, shift=self.shift)

    def _plan(self):
        plan = []
        for a, sides in enumerate(self.sides):
            n, h = self.grid.shape[a], self.grid.spacing[a]
            if sides == ("periodic", "periodic"):
                plan.append(("fft", None))
            elif sides == ("neumann", "neumann"):
                plan.append(("dct", None))
            elif sides == ("dirichlet", "dirichlet"):
                plan.append(("dst", None))
            elif sides == ("neumann", "dirichlet"):
                plan.append(("dct4", None))
            elif sides == ("dirichlet", "neumann"):
                plan.append(("dct4_flipped", None))
            else:
                plan.append(("eig", np.linalg.eigh(matrix_1d(n, h, sides))[1]))
        return plan

    def __call__(self, rhs: Array, guess: Array | None = None) -> Array:
        del guess
        shape = self.grid.shape
        if rhs.shape != shape:
            raise ValueError(f"expected a cell field of shape {shape}, got {rhs.shape} (vmap over channels).")
        plan = self._plan()
        dtype = rhs.dtype
        lam = jnp.zeros(shape, dtype) - self.shift.astype(dtype)
        for a, sides in enumerate(self.sides):
            ev = _eigenvalues(shape[a], self.grid.spacing[a], sides)
            lam = lam + jnp.asarray(ev, dtype).reshape([-1 if b == a else 1 for b in range(len(shape))])
        real_axes = [a for a, (kind, _) in enumerate(plan) if kind != "fft"]
        fft_axes = tuple(a for a, (kind, _) in enumerate(plan) if kind == "fft")
        x = rhs
        for a in real_axes:
            x = _transform(plan[a][0], x, a, plan[a][1], inverse=False)
        if fft_axes:
            # real transform: the last periodic axis keeps its n//2 + 1 non-negative wavenumbers
            # (the eigenvalues are even in the wavenumber)
            x = jnp.fft.rfftn(x, axes=fft_axes)
            last = fft_axes[-1]
            lam = jax.lax.slice_in_dim(lam, 0, shape[last] // 2 + 1, axis=last)
        # the zero eigenvalue (pure Neumann/periodic Poisson) is the constant null space
        singular = lam == 0
        x = jnp.where(singular, 0, x / jnp.where(singular, 1, lam))
        if fft_axes:
            x = jnp.fft.irfftn(x, s=[shape[a] for a in fft_axes], axes=fft_axes).astype(dtype)
        for a in real_axes:
            x = _transform(plan[a][0], x, a, plan[a][1], inverse=True)
        return x
