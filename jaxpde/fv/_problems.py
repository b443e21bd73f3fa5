"""Initial data for the standard finite-volume test problems, as conserved cell averages.

Each function takes the law and the [`CellGrid`][jaxpde.grids.CellGrid] and returns a state
``(C, *N)``. Discontinuities are averaged exactly over the cells they cut (the
fraction of each cell on either side), so a jump that does not sit on a face does not
shift the solution by half a cell.
"""

import jax.numpy as jnp
import numpy as np

from ..grids import CellGrid
from ._laws import AbstractConservationLaw, Euler, ShallowWater
from ._registry import PROBLEMS


def _primitive(law, w) -> np.ndarray:
    w = jnp.asarray(w, dtype=jnp.result_type(float))
    ok = law.admissible(w)
    if ok is not None and not bool(jnp.all(ok)):
        raise ValueError(
            f"the state {np.asarray(w).tolist()} is not admissible for {type(law).__name__} "
            "(density, depth and pressure must be positive)."
        )
    return np.asarray(law.to_conserved(w))


def _fraction_below(grid: CellGrid, x0: float, axis: int) -> np.ndarray:
    """Fraction of each cell along `axis` with ``x < x0``, broadcastable to ``grid.shape``."""
    faces = grid.axis_faces(axis)
    frac = np.clip((x0 - faces[:-1]) / grid.spacing[axis], 0.0, 1.0)
    shape = [1] * grid.ndim
    shape[axis] = frac.size
    return frac.reshape(shape)


def _check(law, grid, cls=None):
    if not isinstance(grid, CellGrid):
        raise TypeError(f"need a CellGrid, got {type(grid).__name__}.")
    if not isinstance(law, AbstractConservationLaw):
        raise TypeError(f"need a conservation law, got {type(law).__name__}.")
    if law.ndim != grid.ndim:
        raise ValueError(f"the law is {law.ndim}D but the grid is {grid.ndim}D.")
    if cls is not None and not isinstance(law, cls):
        raise TypeError(f"this problem is defined for {cls.__name__}, got {type(law).__name__}.")


@PROBLEMS.register("riemann")
def riemann_problem(law, grid, left, right, x0: float = 0.5, *, axis: int = 0):
    """A plane Riemann problem: primitive state `left` for ``x_axis < x0``, `right` beyond.
    States are in the law's primitive variables (``(ρ, u[, v], p)`` for Euler, ``(h, u[, v])``
    for shallow water; ``(u,)`` for scalar laws). The jump is averaged in conserved variables.

    **Arguments:** `law` (its dimension matches the grid) and `grid` (a [`CellGrid`][jaxpde.CellGrid]), the
    primitive states `left` and `right`, the
    interface position `x0`, and the `axis` normal to it.

    **Returns:** the conserved cell averages ``(C, *grid.shape)``."""
    _check(law, grid)
    c = law.num_channels
    left, right = np.asarray(left, dtype=np.float64), np.asarray(right, dtype=np.float64)
    if left.shape != (c,) or right.shape != (c,):
        raise ValueError(
            f"left and right must have {c} primitive entries for {type(law).__name__}, "
            f"got {left.shape} and {right.shape}."
        )
    ul = _primitive(law, left).reshape((c,) + (1,) * grid.ndim)
    ur = _primitive(law, right).reshape((c,) + (1,) * grid.ndim)
    f = _fraction_below(grid, x0, axis)[None]
    return jnp.asarray(np.broadcast_to(f * ul + (1 - f) * ur, (c, *grid.shape)))


SOD = ((1.0, 0.0, 1.0), (0.125, 0.0, 0.1), 0.5, 0.2)
"""Sod's shock tube ``(left, right, x0, t_final)`` on [0, 1], γ = 1.4."""
LAX = ((0.445, 0.698, 3.528), (0.5, 0.0, 0.571), 0.5, 0.14)
"""Lax's shock tube ``(left, right, x0, t_final)`` on [0, 1], γ = 1.4."""
TORO_123 = ((1.0, -2.0, 0.4), (1.0, 2.0, 0.4), 0.5, 0.15)
"""Toro's test 2, the "123" problem (two strong rarefactions, near vacuum) on [0, 1]."""


@PROBLEMS.register("shu_osher")
def shu_osher(law, grid):
    """Shu & Osher's shock-entropy wave interaction on [0, 10] (or [-5, 5] shifted): a
    Mach 3 shock at ``x = 1`` running into ``ρ = 1 + 0.2 sin(5x)``; usually run to
    ``t = 1.8`` (J. Comput. Phys. 83, 1989).

    **Arguments:** `law` (1D [`Euler`][jaxpde.fv.Euler]) and `grid`.

    **Returns:** the conserved cell averages ``(C, *grid.shape)``."""
    _check(law, grid, Euler)
    if grid.ndim != 1:
        raise ValueError("shu_osher is a 1D problem.")
    x0 = grid.lower[0] + 1.0
    f = _fraction_below(grid, x0, 0)
    left = _primitive(law, np.array([3.857143, 2.629369, 10.33333]))[:, None]
    # cell average of 1 + 0.2 sin(5x) on the right part of each cell
    faces = grid.axis_faces(0)
    a, b = np.maximum(faces[:-1], x0), np.maximum(faces[1:], x0)
    width = b - a
    rho_avg = np.where(width > 0, 1 + 0.2 * (np.cos(5 * a) - np.cos(5 * b)) / np.maximum(5 * width, 1e-300), 1.0)
    right = np.stack([rho_avg, 0 * rho_avg, np.full_like(rho_avg, 1.0 / (float(law.gamma) - 1))])
    return jnp.asarray(f * left + (1 - f) * right)


@PROBLEMS.register("dam_break")
def dam_break(law, grid, h_left: float = 2.0, h_right: float = 1.0, x0: float | None = None):
    """Shallow-water dam break at rest: depth `h_left` for ``x < x0`` and `h_right` beyond
    (``x0`` defaults to the domain centre). A wet bed (``h_right > 0``) gives Stoker's
    solution (a rarefaction and a bore); ``h_right = 0`` Ritter's dry-bed solution.

    **Arguments:** `law` ([`ShallowWater`][jaxpde.fv.ShallowWater]), `grid`, `h_left`, `h_right`, `x0`.

    **Returns:** the conserved cell averages ``(C, *grid.shape)``."""
    _check(law, grid, ShallowWater)
    x0 = 0.5 * (grid.lower[0] + grid.upper[0]) if x0 is None else x0
    zeros = [0.0] * grid.ndim
    return riemann_problem(law, grid, [h_left, *zeros], [h_right, *zeros], x0, axis=0)


LAX_LIU_3 = (
    (1.5, 0.0, 0.0, 1.5),  # x > 0.5, y > 0.5
    (0.5323, 1.206, 0.0, 0.3),  # x < 0.5, y > 0.5
    (0.138, 1.206, 1.206, 0.029),  # x < 0.5, y < 0.5
    (0.5323, 0.0, 1.206, 0.3),  # x > 0.5, y < 0.5
)
"""Configuration 3 of Lax & Liu (SIAM J. Sci. Comput. 19, 1998): four shocks, on
[0, 1]², usually run to ``t = 0.3`` with outflow boundaries."""


@PROBLEMS.register("riemann_2d")
def riemann_2d(law, grid, quadrants=LAX_LIU_3, centre=(0.5, 0.5)):
    """A 2D four-quadrant Riemann problem; `quadrants` are the primitive states of the
    quadrants I-IV (counter-clockwise from upper right) around `centre`.

    **Arguments:** `law` (2D), `grid` (2D), `quadrants` (four primitive states), `centre`.

    **Returns:** the conserved cell averages ``(C, *grid.shape)``."""
    _check(law, grid, Euler)
    if grid.ndim != 2:
        raise ValueError("riemann_2d is a 2D problem.")
    fx = _fraction_below(grid, centre[0], 0)
    fy = _fraction_below(grid, centre[1], 1)
    q = [_primitive(law, np.asarray(s, dtype=np.float64))[:, None, None] for s in quadrants]
    out = (1 - fx) * (1 - fy) * q[0] + fx * (1 - fy) * q[1] + fx * fy * q[2] + (1 - fx) * fy * q[3]
    return jnp.asarray(out)


@PROBLEMS.register("density_wave")
def density_wave(law, grid, amplitude: float = 0.2, velocity=1.0, pressure: float = 1.0):
    """A smooth density wave ``ρ = 1 + a sin(2π Σ_a x_a / L_a)`` advected at constant
    velocity and pressure: the Euler solution is the translated profile. Cell averages
    are exact (Gauss-Legendre quadrature of a trigonometric polynomial).

    **Arguments:** `law` ([`Euler`][jaxpde.fv.Euler], any dimension), `grid`, `amplitude` ``a``, the
    `velocity` (a scalar or one entry per axis) and `pressure`.

    **Returns:** the conserved cell averages ``(C, *grid.shape)``."""
    _check(law, grid, Euler)
    vel = np.broadcast_to(np.asarray(velocity, dtype=np.float64), (grid.ndim,))

    def rho(*xs):
        phase = sum((x - lo) / e for x, lo, e in zip(xs, grid.lower, grid.extent))
        return 1 + amplitude * np.sin(2 * np.pi * phase)

    r = grid.cell_average(rho, order=6)
    w = np.stack([r, *[np.full_like(r, v) for v in vel], np.full_like(r, pressure)])
    # ρu and E are linear in ρ when u and p are constant, so converting averages is exact
    return jnp.asarray(_primitive(law, w))


@PROBLEMS.register("lake_at_rest")
def lake_at_rest(law, grid, surface: float = 1.0):
    """Still water ``h = surface - b``, ``u = 0`` over the law's bathymetry.

    **Arguments:** `law` ([`ShallowWater`][jaxpde.fv.ShallowWater] with a bathymetry), `grid`, the
    free-`surface` height.

    **Returns:** the conserved cell averages ``(C, *grid.shape)``."""
    _check(law, grid, ShallowWater)
    if law.bathymetry is None:
        raise ValueError("lake_at_rest needs a ShallowWater law with bathymetry.")
    h = surface - np.asarray(law.bathymetry)
    if np.any(h < 0):
        raise ValueError("the bathymetry pokes above the surface; lower it or raise the surface.")
    return jnp.asarray(np.concatenate([h[None], np.zeros((grid.ndim, *grid.shape))]))
