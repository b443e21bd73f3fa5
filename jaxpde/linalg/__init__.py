"""Elliptic solves shared by every discretisation: the cell-centred Laplacian with
per-side boundary kinds, masks and variable coefficients; direct fast-diagonalisation
(FFT/DCT/DST) solvers; matrix-free Krylov solvers through lineax with pluggable
preconditioners and initial guesses; all differentiable."""

from ._abstract import AbstractEllipticSolver as AbstractEllipticSolver
from ._fast import FastDiagonalisation as FastDiagonalisation
from ._krylov import Jacobi as Jacobi
from ._krylov import Krylov as Krylov
from ._laplacian import CellLaplacian as CellLaplacian
from ._laplacian import matrix_1d as matrix_1d
from ._laplacian import normalise_sides as normalise_sides
from ._multigrid import Multigrid as Multigrid
