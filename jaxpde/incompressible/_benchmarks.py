"""Published reference data for the incompressible solver's validation."""

import numpy as np

#: Lid-driven cavity at Re = 100 (unit box, lid velocity 1 on the top wall): the
#: horizontal velocity ``u`` along the vertical centreline ``x = 0.5`` at heights ``y``, and
#: the vertical velocity ``v`` along the horizontal centreline ``y = 0.5`` at ``x``.
#: Ghia, Ghia & Shin, "High-Re solutions for incompressible flow using the Navier-Stokes
#: equations and a multigrid method", J. Comput. Phys. 48 (1982) 387-411, Tables I and II.
GHIA_RE100 = {
    "y": np.array(
        [
            1.0,
            0.9766,
            0.9688,
            0.9609,
            0.9531,
            0.8516,
            0.7344,
            0.6172,
            0.5,
            0.4531,
            0.2813,
            0.1719,
            0.1016,
            0.0703,
            0.0625,
            0.0547,
            0.0,
        ]
    ),
    "u": np.array(
        [
            1.0,
            0.84123,
            0.78871,
            0.73722,
            0.68717,
            0.23151,
            0.00332,
            -0.13641,
            -0.20581,
            -0.21090,
            -0.15662,
            -0.10150,
            -0.06434,
            -0.04775,
            -0.04192,
            -0.03717,
            0.0,
        ]
    ),
    "x": np.array(
        [
            1.0,
            0.9688,
            0.9609,
            0.9531,
            0.9453,
            0.9063,
            0.8594,
            0.8047,
            0.5,
            0.2344,
            0.2266,
            0.1563,
            0.0938,
            0.0781,
            0.0703,
            0.0625,
            0.0,
        ]
    ),
    "v": np.array(
        [
            0.0,
            -0.05906,
            -0.07391,
            -0.08864,
            -0.10313,
            -0.16914,
            -0.22445,
            -0.24533,
            0.05454,
            0.17527,
            0.17507,
            0.16077,
            0.12317,
            0.10890,
            0.10091,
            0.09233,
            0.0,
        ]
    ),
}


#: The channel-with-cylinder benchmarks of Schäfer & Turek, "Benchmark computations of
#: laminar flow around a cylinder", in Flow Simulation with High-Performance Computers II,
#: Notes Numer. Fluid Mech. 52 (1996) 547-566: a channel ``[0, 2.2] × [0, 0.41]``, a
#: cylinder of diameter ``D = 0.1`` centred at ``(0.2, 0.2)``, ``ν = 10⁻³``, a parabolic
#: inflow of peak ``U_max`` (mean ``Ū = 2 U_max / 3``), coefficients ``2 F / (Ū² D)``. The
#: published intervals ("lower and upper bounds") of the steady case 2D-1 (Re = 20) and the
#: periodic case 2D-2 (Re = 100; the Strouhal number ``St = D f / Ū``).
DFG = {
    "2D-1": {"u_max": 0.3, "drag": (5.57, 5.59), "lift": (0.0104, 0.0110)},
    "2D-2": {"u_max": 1.5, "drag_max": (3.22, 3.24), "lift_max": (0.99, 1.01), "strouhal": (0.295, 0.305)},
}


def dfg_channel(num_cells_y: int, case: str = "2D-1", **kwargs):
    """The DFG channel with its cylinder: a [`NavierStokes`][jaxpde.incompressible.NavierStokes]
    on ``round(5.37 n) × n`` cells of (nearly) equal spacing, parabolic inflow on the left,
    outflow on the right, walls above and below, the cylinder as a penalised
    [`Circle`][jaxpde.incompressible.Circle].

    **Arguments:** the cells across the channel `num_cells_y`, the `case` (``"2D-1"`` or
    ``"2D-2"``, see `jaxpde.incompressible.DFG`), and keywords for the
    `NavierStokes` (``solver``, ``penalty``, ``smoothing``).

    **Returns:** ``(pde, mean_speed, diameter)``: the coefficients are
    ``pde.force_coefficients(u, mean_speed, diameter)``."""
    from ..grids import CellGrid
    from ._boundary import Inflow
    from ._navier_stokes import NavierStokes
    from ._obstacle import Circle

    if case not in DFG:
        raise ValueError(f"case must be one of {tuple(DFG)}, got {case!r}.")
    height, length = 0.41, 2.2
    grid = CellGrid((round(num_cells_y * length / height), num_cells_y), (0.0, 0.0), (length, height))
    y = grid.axis_centres(1)
    u_max = DFG[case]["u_max"]
    inflow = Inflow(4 * u_max * y * (height - y) / height**2)
    pde = NavierStokes(grid, 1e-3, [(inflow, "outflow"), "wall"], obstacle=Circle((0.2, 0.2), 0.05), **kwargs)
    return pde, 2 * u_max / 3, 0.1


def shedding_frequency(times, signal) -> float:
    """The frequency of a periodic signal (a lift coefficient) from its upward crossings
    of its mid-range, located by linear interpolation: (crossings - 1) / (last - first).

    **Arguments:** the sample `times` and the `signal` (1D, same length).

    **Returns:** the frequency; ``nan`` with fewer than two full periods."""
    t, s = np.asarray(times, float), np.asarray(signal, float)
    if t.shape != s.shape or t.ndim != 1:
        raise ValueError(f"times and signal must be 1D of one length, got {t.shape} and {s.shape}.")
    m = s - 0.5 * (s.max() + s.min())
    up = np.nonzero((m[:-1] < 0) & (m[1:] >= 0))[0]
    if len(up) < 3:
        return float("nan")
    crossing = t[up] - m[up] * (t[up + 1] - t[up]) / (m[up + 1] - m[up])
    return float((len(crossing) - 1) / (crossing[-1] - crossing[0]))
