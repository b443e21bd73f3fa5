"""The interface every elliptic solver of this package satisfies."""

import abc

import equinox as eqx
from jaxtyping import Array

from ._laplacian import CellLaplacian


class AbstractEllipticSolver(eqx.Module):
    """A solver of ``L p = f`` for one cell-centred elliptic operator ``L`` (fixed at
    construction; see [`CellLaplacian`][jaxpde.linalg.CellLaplacian]). Pressure
    projections, implicit viscosity and anything else that needs an elliptic solve take one
    of these, so a direct, iterative, multigrid or learned solver can be swapped in.

    ``__call__(rhs, guess=None)`` returns ``p`` ``(*N)``; ``guess`` is a starting point
    that iterative solvers may use and direct ones ignore. Gradients with respect to
    ``rhs`` (and the operator's coefficients) are those of the exact solution."""

    @abc.abstractmethod
    def __call__(self, rhs: Array, guess: Array | None = None) -> Array:
        """``p`` with ``L p = rhs``, both ``(*N)``."""

    @property
    @abc.abstractmethod
    def operator(self) -> CellLaplacian:
        """The operator ``L`` this solver inverts."""
