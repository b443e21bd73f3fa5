"""The cell-centred second-order Laplacian ``∇·(a ∇p)`` on a box of cells, with a
boundary condition per side and an optional mask of solid cells: the operator that every
elliptic solver of this package inverts."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from .._checks import side_pairs
from ..grids import CellGrid

KINDS = ("periodic", "neumann", "dirichlet")


def normalise_sides(bc, ndim: int) -> tuple[tuple[str, str], ...]:
    """Per-axis ``(lower, upper)`` boundary kinds from a config-like description.

    `bc` is one kind for every side (``"neumann"``), one kind or pair per axis
    (``["periodic", ("dirichlet", "neumann")]``). Kinds: ``"periodic"`` (both sides of the
    axis), ``"neumann"`` (zero normal derivative at the face), ``"dirichlet"`` (zero value at
    the face). Inhomogeneous values belong in the right-hand side.

    **Arguments:** `bc`, the number of axes `ndim`. **Returns:** ``((lo, hi), ...)``.
    """
    out = []
    for axis, pair in enumerate(side_pairs(bc, ndim, lambda x: isinstance(x, str))):
        if any(k not in KINDS for k in pair):
            raise ValueError(f"axis {axis}: boundary kinds must be two of {KINDS}, got {pair!r}.")
        if ("periodic" in pair) and pair != ("periodic", "periodic"):
            raise ValueError(f"axis {axis}: 'periodic' must be on both sides, got {pair}.")
        out.append(pair)
    return tuple(out)


def matrix_1d(n: int, spacing: float, sides: tuple[str, str]) -> np.ndarray:
    """The ``(n, n)`` matrix of ``d²/dx²`` (three-point, cell-centred) along one axis with
    the given `sides`: a Neumann face mirrors the boundary cell (ghost ``= p_0``), a
    Dirichlet face negates it (ghost ``= -p_0``, zero at the face), periodic wraps.

    **Arguments:** cells `n`, `spacing`, `sides`. **Returns:** a symmetric numpy matrix."""
    h2 = spacing**2
    m = (np.diag(np.full(n, -2.0)) + np.diag(np.ones(n - 1), 1) + np.diag(np.ones(n - 1), -1)) / h2
    if sides == ("periodic", "periodic"):
        m[0, -1] += 1 / h2
        m[-1, 0] += 1 / h2
    else:
        for i, kind in ((0, sides[0]), (-1, sides[1])):
            m[i, i] += (1.0 if kind == "neumann" else -1.0) / h2
    return m


class CellLaplacian(eqx.Module):
    r"""``L p = ∇·(a ∇p)`` on the cells of a [`CellGrid`][jaxpde.grids.CellGrid], the
    five-point (2D) / seven-point (3D) stencil with face coefficients, minus a shift:

    ``(L p)_i = Σ_a [a_{i+½} (p_{i+1} - p_i) - a_{i-½} (p_i - p_{i-1})] / Δx_a² - σ p_i``.

    Symmetric and negative semi-definite (definite with a Dirichlet side, a shift
    ``σ > 0`` or a solid cell). Solid cells (``mask = 0``) decouple: their faces carry no
    flux (so the fluid sees a Neumann wall) and their rows are ``-p_i`` (so the operator
    stays definite and they solve to zero).

    **Arguments:**

    - `grid`: the [`CellGrid`][jaxpde.grids.CellGrid].
    - `bc`: the boundary kinds, see [`normalise_sides`][jaxpde.linalg.normalise_sides].
    - `coefficient`: ``None`` (``a = 1``) or per-axis face coefficients, a tuple whose
      entry ``a`` has shape ``N`` with ``N_a + 1`` faces along axis ``a`` (variable-coefficient
      problems, e.g. ``1/ρ``); on a periodic axis the first face is also the last.
    - `mask`: ``None`` or ``(*N)`` with 1 on fluid and 0 on solid cells.
    - `shift`: ``σ ≥ 0`` (Helmholtz problems, e.g. ``1 / (ν Δt)``).

    Differentiable: `coefficient`, `shift` (and `mask`, as a coefficient).
    """

    grid: CellGrid
    sides: tuple = eqx.field(static=True)
    coefficient: tuple | None
    mask: Array | None
    shift: Array

    def __init__(self, grid, bc="neumann", *, coefficient=None, mask=None, shift=0.0):
        if not isinstance(grid, CellGrid):
            raise TypeError(f"CellLaplacian needs a CellGrid, got {type(grid).__name__}.")
        self.grid = grid
        self.sides = normalise_sides(bc, grid.ndim)
        if coefficient is not None:
            coefficient = tuple(jnp.asarray(c) for c in coefficient)
            if len(coefficient) != grid.ndim:
                raise ValueError(f"coefficient needs one face array per axis ({grid.ndim}), got {len(coefficient)}.")
            for a, c in enumerate(coefficient):
                want = tuple(n + (a == b) for b, n in enumerate(grid.shape))
                if c.shape != want:
                    raise ValueError(f"coefficient[{a}] must have the face shape {want}, got {c.shape}.")
        self.coefficient = coefficient
        if mask is not None:
            mask = jnp.asarray(mask)
            if mask.shape != grid.shape:
                raise ValueError(f"mask must have the grid's shape {grid.shape}, got {mask.shape}.")
        self.mask = mask
        self.shift = jnp.asarray(shift)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.grid.shape

    def face_coefficients(self, dtype=float) -> tuple[Array, ...]:
        """The coefficient on every face ``(N_a + 1 along axis a)`` with the mask and the
        boundary kinds folded in: zero on faces next to a solid cell and on Neumann faces;
        on a periodic axis the first face is also the last (its last entry is ignored)."""
        out = []
        for a, (lo, hi) in enumerate(self.sides):
            shape = tuple(n + (a == b) for b, n in enumerate(self.shape))
            c = jnp.ones(shape, dtype) if self.coefficient is None else self.coefficient[a].astype(dtype)
            if lo == "periodic":  # the wrap face is both the first and the last
                first = jax.lax.slice_in_dim(c, 0, 1, axis=a)
                c = jnp.concatenate([jax.lax.slice_in_dim(c, 0, shape[a] - 1, axis=a), first], axis=a)
            if self.mask is not None:
                m = self.mask.astype(dtype)
                if lo == "periodic":
                    lower = jnp.concatenate([jnp.take(m, jnp.array([-1]), axis=a), m], axis=a)
                    upper = jnp.concatenate([m, jnp.take(m, jnp.array([0]), axis=a)], axis=a)
                else:
                    edge = jnp.take(m, jnp.array([0]), axis=a), jnp.take(m, jnp.array([-1]), axis=a)
                    lower = jnp.concatenate([edge[0], m], axis=a)
                    upper = jnp.concatenate([m, edge[1]], axis=a)
                c = c * lower * upper
            idx_lo = [slice(None)] * len(shape)
            idx_hi = [slice(None)] * len(shape)
            idx_lo[a], idx_hi[a] = 0, -1
            for idx, kind in ((tuple(idx_lo), lo), (tuple(idx_hi), hi)):
                if kind == "neumann":
                    c = c.at[idx].set(0.0)
            out.append(c)
        return tuple(out)

    def __call__(self, p: Array) -> Array:
        """``L p`` for a cell field `p` ``(*N)``."""
        if p.shape != self.shape:
            raise ValueError(f"expected a cell field of shape {self.shape}, got {p.shape} (vmap over channels).")
        coeffs = self.face_coefficients(p.dtype)
        out = -self.shift.astype(p.dtype) * p
        for a, (lo, _) in enumerate(self.sides):
            h2 = self.grid.spacing[a] ** 2
            if lo == "periodic":
                ext = jnp.concatenate([jnp.take(p, jnp.array([-1]), axis=a), p, jnp.take(p, jnp.array([0]), axis=a)], a)
            else:  # the ghost values do not matter: Neumann faces carry zero, Dirichlet faces see -p
                ext = jnp.concatenate(
                    [-jnp.take(p, jnp.array([0]), axis=a), p, -jnp.take(p, jnp.array([-1]), axis=a)], a
                )
            grad = jnp.diff(ext, axis=a) * coeffs[a]
            out = out + jnp.diff(grad, axis=a) / h2
        if self.mask is not None:
            m = self.mask.astype(p.dtype)
            out = m * out - (1 - m) * p
        return out

    @property
    def may_be_singular(self) -> bool:
        """No Dirichlet side: with ``σ = 0`` the constants on the fluid cells are a null
        space (one per connected fluid region; this package assumes one)."""
        return all("dirichlet" not in s for s in self.sides)

    def remove_mean(self, x: Array) -> Array:
        """`x` minus its mean over the fluid cells (on the fluid cells only) where the
        operator is singular (``σ = 0`` and no Dirichlet side); `x` unchanged otherwise."""
        if not self.may_be_singular:
            return x
        m = jnp.ones_like(x) if self.mask is None else self.mask.astype(x.dtype)
        mean = jnp.sum(m * x) / jnp.sum(m)
        return jnp.where(self.shift == 0, x - m * mean, x)

    def diagonal(self, dtype=float) -> Array:
        """The operator's diagonal ``(*N)`` (for Jacobi smoothing and preconditioning)."""
        coeffs = self.face_coefficients(dtype)
        out = -jnp.broadcast_to(self.shift.astype(dtype), self.shape)
        for a, (lo_kind, hi_kind) in enumerate(self.sides):
            c = coeffs[a]
            n = self.shape[a]
            # a Dirichlet face holds zero half a cell away: ghost = -p, twice the coupling
            idx = [slice(None)] * c.ndim
            for i, kind in ((0, lo_kind), (-1, hi_kind)):
                if kind == "dirichlet":
                    idx[a] = i
                    c = c.at[tuple(idx)].multiply(2.0)
            lo = jax.lax.slice_in_dim(c, 0, n, axis=a)
            hi = jax.lax.slice_in_dim(c, 1, n + 1, axis=a)
            out = out - (lo + hi) / self.grid.spacing[a] ** 2
        if self.mask is not None:
            m = self.mask.astype(dtype)
            out = m * out - (1 - m)
        return out

    def as_linear_operator(self, dtype=float):
        """The operator as a ``lineax.FunctionLinearOperator`` on ``(*N)`` fields, tagged
        symmetric and negative semi-definite (so ``lineax.CG`` applies)."""
        import lineax as lx

        return lx.FunctionLinearOperator(
            self, jax.ShapeDtypeStruct(self.shape, dtype), tags=(lx.symmetric_tag, lx.negative_semidefinite_tag)
        )
