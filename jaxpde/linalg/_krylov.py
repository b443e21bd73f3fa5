"""Matrix-free Krylov solves of cell-centred elliptic problems through lineax (CG for the
symmetric operators, BiCGStab for anything else), with a pluggable preconditioner and
initial guess. lineax differentiates the solve implicitly: the backward pass is one more
solve with the transposed operator, not backpropagation through the iterations."""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import lineax as lx
from jaxtyping import Array

from ._abstract import AbstractEllipticSolver
from ._laplacian import CellLaplacian

METHODS = ("cg", "bicgstab")


class Jacobi(eqx.Module):
    """The Jacobi preconditioner ``r ↦ r / |diag L|`` (positive definite for the negative
    definite ``L``; lineax's CG solves ``-L p = -f``).

    **Arguments:** the `operator` ([`CellLaplacian`][jaxpde.linalg.CellLaplacian]) and the `dtype` of
    its stored diagonal."""

    inverse_diagonal: Array

    def __init__(self, operator: CellLaplacian, dtype=float):
        self.inverse_diagonal = 1.0 / jnp.abs(operator.diagonal(dtype))

    def __call__(self, r: Array) -> Array:
        return r * self.inverse_diagonal.astype(r.dtype)


def _positive_definite(fn, shape, dtype):
    return lx.FunctionLinearOperator(
        fn, jax.ShapeDtypeStruct(shape, dtype), tags=(lx.symmetric_tag, lx.positive_semidefinite_tag)
    )


class Krylov(AbstractEllipticSolver):
    r"""``L p = f`` by a Krylov method from lineax, matrix-free.

    - ``method="cg"``: conjugate gradients, for the symmetric definite
      [`CellLaplacian`][jaxpde.linalg.CellLaplacian] (with a mask, variable coefficients,
      any sides). On a singular operator (no Dirichlet side, no shift) the mean of `f`
      over the fluid cells is removed first and that of ``p`` afterwards.
    - ``method="bicgstab"``: BiCGStab, for non-symmetric operators or preconditioners.

    **Arguments:**

    - `operator`: the [`CellLaplacian`][jaxpde.linalg.CellLaplacian] ``L``.
    - `method`: ``"cg"`` or ``"bicgstab"``.
    - `preconditioner`: ``None``, or a function ``r ↦ M r`` approximating ``(-L)^{-1}``
      (positive definite for CG): [`Jacobi`][jaxpde.linalg.Jacobi], a multigrid cycle, or a
      learned map.
    - `initial_guess`: ``None``, or a function ``f ↦ p₀`` used when no ``guess`` is passed
      (e.g. a network trained to predict the solution).
    - `rtol`, `atol`, `max_steps`: stop when ``|r_i| ≤ atol + rtol (‖f‖∞ + |f_i|)`` on every
      cell (lineax's element-wise rule with the absolute part scaled by the largest entry).

    Differentiable: the right-hand side and the operator's coefficients (implicitly, one
    more solve). The guess and the preconditioner change the iterations, not the answer,
    so they receive no gradient through the solution.
    """

    operator_: CellLaplacian
    method: str = eqx.field(static=True)
    preconditioner: Callable | None
    initial_guess: Callable | None
    rtol: float = eqx.field(static=True)
    atol: float = eqx.field(static=True)
    max_steps: int | None = eqx.field(static=True)

    def __init__(
        self,
        operator,
        method="cg",
        *,
        preconditioner=None,
        initial_guess=None,
        rtol=1e-8,
        atol=0.0,
        max_steps=10_000,
    ):
        if not isinstance(operator, CellLaplacian):
            raise TypeError(f"Krylov needs a CellLaplacian operator, got {type(operator).__name__}.")
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}.")
        self.operator_ = operator
        self.method = method
        self.preconditioner = preconditioner
        self.initial_guess = initial_guess
        self.rtol, self.atol, self.max_steps = float(rtol), float(atol), max_steps

    @property
    def operator(self) -> CellLaplacian:
        return self.operator_

    def solve(self, rhs: Array, guess: Array | None = None) -> tuple[Array, Array]:
        """``(p, number of iterations)``."""
        op = self.operator_
        if rhs.shape != op.shape:
            raise ValueError(f"expected a cell field of shape {op.shape}, got {rhs.shape} (vmap over channels).")
        dtype = rhs.dtype
        rhs = op.remove_mean(rhs)  # a singular operator sees a consistent right-hand side
        # lineax's CG wants a positive (semi-)definite operator: solve (-L) p = -f
        neg = _positive_definite(lambda p: -op(p), op.shape, dtype)
        options = {}
        if guess is None and self.initial_guess is not None:
            guess = self.initial_guess(rhs)
        if guess is not None:
            options["y0"] = jax.lax.stop_gradient(jnp.asarray(guess, dtype))
        if self.preconditioner is not None:
            options["preconditioner"] = _positive_definite(self.preconditioner, op.shape, dtype)
        # lineax scales the tolerance per element (atol + rtol |f_i|); where f_i = 0 (solid
        # cells, quiet regions) that asks for an exact zero, so the absolute part is
        # measured against the largest entry: ‖r‖∞ ≲ atol + rtol ‖f‖∞
        atol = self.atol + self.rtol * jax.lax.stop_gradient(jnp.max(jnp.abs(rhs)))
        cls = lx.CG if self.method == "cg" else lx.BiCGStab
        solver = cls(rtol=self.rtol, atol=atol, max_steps=self.max_steps)
        sol = lx.linear_solve(neg, -rhs, solver, options=options, throw=False)
        p = sol.value
        p = op.remove_mean(p)
        p = eqx.error_if(
            p,
            sol.result != lx.RESULTS.successful,
            f"the {self.method} pressure solve did not converge within {self.max_steps} steps",
        )
        return p, sol.stats["num_steps"]

    def __call__(self, rhs: Array, guess: Array | None = None) -> Array:
        return self.solve(rhs, guess)[0]
