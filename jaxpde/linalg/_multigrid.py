"""Geometric multigrid for the cell-centred elliptic operator: a symmetric V-cycle
(weighted Jacobi smoothing, cell-average restriction, piecewise-constant prolongation,
rediscretised coarse operators with averaged face coefficients, a dense coarsest solve
whose pseudo-inverse is built once per hierarchy)
usable as a solver and as a CG preconditioner, on masked and variable-coefficient
domains where fast diagonalisation does not apply."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array

from ..grids import CellGrid
from ._abstract import AbstractEllipticSolver
from ._laplacian import CellLaplacian


def _restrict(x: Array) -> Array:
    """Average over ``2^d`` children: ``(*N) -> (*N/2)``."""
    shape = []
    for n in x.shape:
        shape += [n // 2, 2]
    return jnp.mean(x.reshape(shape), axis=tuple(range(1, 2 * x.ndim, 2)))


def _prolong(x: Array) -> Array:
    """Copy each coarse value to its ``2^d`` children: ``(*N/2) -> (*N)``.

    Written as a transposed convolution (stride 2, a kernel of ones) on purpose: a
    broadcast would let XLA fuse every coarser level's smoothing into the fine level's
    kernel, recomputing each coarse value once per fine cell (measured ~8x slower per
    V-cycle on CPU); a convolution is a fusion boundary."""
    d = x.ndim
    out = jax.lax.conv_general_dilated(
        x[None, None],
        jnp.ones((1, 1) + (2,) * d, x.dtype),
        window_strides=(1,) * d,
        padding=[(1, 1)] * d,
        lhs_dilation=(2,) * d,
    )
    return out[0, 0]


def _coarse_faces(c: Array, axis: int) -> Array:
    """Coarse face coefficients along `axis` from fine ones: every other face along `axis`,
    averaged over the two fine faces across each other axis."""
    c = jax.lax.slice_in_dim(c, 0, c.shape[axis], 2, axis=axis)
    for b in range(c.ndim):
        if b != axis:
            shape = list(c.shape)
            shape[b : b + 1] = [c.shape[b] // 2, 2]
            c = jnp.mean(c.reshape(shape), axis=b + 1)
    return c


def _coarsen(op: CellLaplacian) -> CellLaplacian:
    g = op.grid
    grid = CellGrid(tuple(n // 2 for n in g.shape), g.lower, g.upper)
    faces = op.face_coefficients(jnp.result_type(float))
    coeff = tuple(_coarse_faces(c, a) for a, c in enumerate(faces))
    mask = None if op.mask is None else (_restrict(op.mask.astype(coeff[0].dtype)) > 0).astype(coeff[0].dtype)
    return CellLaplacian(grid, op.sides, coefficient=coeff, mask=mask, shift=op.shift)


class Multigrid(AbstractEllipticSolver):
    r"""Geometric multigrid for a [`CellLaplacian`][jaxpde.linalg.CellLaplacian] ``L``.

    The hierarchy halves every axis while all sizes stay even and at least `min_size`;
    coarse operators are rediscretised on the coarse cells with face coefficients
    averaged from the fine faces (walls of a mask stay walls), and the coarsest level is
    solved densely (least squares, so singular Neumann problems are fine). One V-cycle
    is `smoothing` weighted-Jacobi sweeps, the coarse correction, and `smoothing` sweeps
    again: a symmetric linear map, so ``-cycle`` is a valid CG preconditioner for ``-L``
    ([`preconditioner`][jaxpde.linalg.Multigrid.preconditioner]).

    As a solver (``__call__``) it repeats V-cycles until ``‖f - L p‖∞ ≤ rtol ‖f‖∞`` or
    `max_cycles`; the solve is wrapped in ``jax.lax.custom_linear_solve``, so gradients
    come from one more (transposed) solve, not from the cycles.

    **Arguments:** the `operator`; `smoothing` sweeps; Jacobi weight `omega` (default
    ``4/5`` in 2D-3D, ``2/3`` in 1D); `min_size` of the coarsest grid per axis;
    `rtol` and `max_cycles` (solver use).

    Differentiable: the right-hand side and the operator's coefficients (as a solver).
    """

    operator_: CellLaplacian
    smoothing: int = eqx.field(static=True)
    omega: float = eqx.field(static=True)
    min_size: int = eqx.field(static=True)
    rtol: float = eqx.field(static=True)
    max_cycles: int = eqx.field(static=True)

    def __init__(self, operator, *, smoothing=2, omega=None, min_size=4, rtol=1e-8, max_cycles=200):
        if not isinstance(operator, CellLaplacian):
            raise TypeError(f"Multigrid needs a CellLaplacian operator, got {type(operator).__name__}.")
        if smoothing < 1:
            raise ValueError(f"smoothing must be at least 1, got {smoothing}.")
        self.operator_ = operator
        self.smoothing = int(smoothing)
        self.omega = float((2 / 3 if operator.grid.ndim == 1 else 0.8) if omega is None else omega)
        self.min_size = int(min_size)
        self.rtol = float(rtol)
        self.max_cycles = int(max_cycles)

    @property
    def operator(self) -> CellLaplacian:
        return self.operator_

    def levels(self) -> list[CellLaplacian]:
        """The operators from fine to coarse."""
        ops = [self.operator_]
        while all(n % 2 == 0 and n // 2 >= self.min_size for n in ops[-1].shape):
            ops.append(_coarsen(ops[-1]))
        return ops

    @property
    def num_levels(self) -> int:
        return len(self.levels())

    def _coarsest_inverse(self, ops, dtype) -> Array:
        """The pseudo-inverse of the coarsest operator as a dense matrix (built once per
        hierarchy, not once per cycle; minimum-norm, so singular Neumann problems are fine)."""
        op = ops[-1]
        n = math.prod(op.shape)
        dense = jax.vmap(lambda e: op(e.reshape(op.shape)).ravel())(jnp.eye(n, dtype=dtype)).T
        return jax.lax.stop_gradient(jnp.linalg.pinv(dense, hermitian=True))

    def _smoothing_weights(self, ops, dtype) -> list[Array]:
        """``ω / diag`` on every level but the coarsest (built once per hierarchy)."""
        return [jax.lax.stop_gradient(self.omega / op.diagonal(dtype)) for op in ops[:-1]]

    def _cycle(self, ops, level, r, coarse_inverse, weights):
        op = ops[level]
        if level == len(ops) - 1:
            return (coarse_inverse.astype(r.dtype) @ r.ravel()).reshape(op.shape)
        inv_diag = weights[level].astype(r.dtype)
        e = inv_diag * r
        for _ in range(self.smoothing - 1):
            e = e + inv_diag * (r - op(e))
        e = e + _prolong(self._cycle(ops, level + 1, _restrict(r - op(e)), coarse_inverse, weights))
        for _ in range(self.smoothing):
            e = e + inv_diag * (r - op(e))
        return e

    def cycle(self, r: Array, levels=None) -> Array:
        """One V-cycle from zero: ``e ≈ L⁻¹ r`` ``(*N)``, linear and symmetric in `r`.
        `levels` (from [`levels`][jaxpde.linalg.Multigrid.levels]) saves rebuilding the
        coarse operators when cycling repeatedly."""
        if r.shape != self.operator_.shape:
            raise ValueError(f"expected a cell field of shape {self.operator_.shape}, got {r.shape}.")
        ops = jax.lax.stop_gradient(self.levels() if levels is None else levels)
        return self._cycle(ops, 0, r, self._coarsest_inverse(ops, r.dtype), self._smoothing_weights(ops, r.dtype))

    def preconditioner(self):
        """``r ↦ -cycle(r)``: a positive definite approximation of ``(-L)⁻¹`` for
        [`Krylov`][jaxpde.linalg.Krylov] (whose CG solves ``-L p = -f``). The coarse
        operators are built once, here."""
        levels = jax.lax.stop_gradient(self.levels())
        inverse = self._coarsest_inverse(levels, jnp.result_type(float))
        weights = self._smoothing_weights(levels, jnp.result_type(float))

        def apply(r):
            if r.shape != self.operator_.shape:
                raise ValueError(f"expected a cell field of shape {self.operator_.shape}, got {r.shape}.")
            return -self._cycle(levels, 0, r, inverse, weights)

        return apply

    def solve(self, rhs: Array, guess: Array | None = None) -> tuple[Array, Array]:
        """``(p, number of V-cycles)``: V-cycles as a stationary iteration from `guess`."""
        op = self.operator_
        if rhs.shape != op.shape:
            raise ValueError(f"expected a cell field of shape {op.shape}, got {rhs.shape} (vmap over channels).")
        rhs = op.remove_mean(rhs)
        tol = self.rtol * jnp.max(jnp.abs(rhs))
        p0 = jnp.zeros_like(rhs) if guess is None else jax.lax.stop_gradient(jnp.asarray(guess, rhs.dtype))

        levels = jax.lax.stop_gradient(self.levels())
        inverse = self._coarsest_inverse(levels, rhs.dtype)
        weights = self._smoothing_weights(levels, rhs.dtype)

        def iterate(b):
            def cond(state):
                p, k = state
                return (jnp.max(jnp.abs(b - op(p))) > tol) & (k < self.max_cycles)

            def body(state):
                p, k = state
                return p + self._cycle(levels, 0, b - op(p), inverse, weights), k + 1

            return jax.lax.while_loop(cond, body, (p0, jnp.zeros((), jnp.int32)))

        def solve_fn(matvec, b):
            return iterate(b)

        # L is symmetric: the transposed solve is the same iteration
        p, cycles = jax.lax.custom_linear_solve(op, rhs, solve_fn, solve_fn, symmetric=True, has_aux=True)
        return op.remove_mean(p), cycles

    def __call__(self, rhs: Array, guess: Array | None = None) -> Array:
        return self.solve(rhs, guess)[0]
