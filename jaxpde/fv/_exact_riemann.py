"""The exact solution of the Riemann problem of the 1D Euler equations (ideal gas).

After E. F. Toro, "Riemann Solvers and Numerical Methods for Fluid Dynamics", 3rd ed.,
Springer 2009, chapter 4: Newton iteration on the pressure function for the star
pressure, then sampling of the self-similar solution. Evaluated in float64 numpy; this is
a reference for tests and plots, not a differentiable flux.
"""

import math

import numpy as np


def _check_state(state, name):
    s = tuple(float(v) for v in state)
    if len(s) != 3:
        raise ValueError(f"{name} must be a primitive state (rho, u, p), got {state!r}.")
    if not (s[0] > 0 and s[2] > 0):
        raise ValueError(f"{name} needs positive density and pressure, got {state!r}.")
    return s


def _pressure_function(p, rho, pk, ck, gamma):
    """Toro's f_K(p) and its derivative (shock branch for p > p_K, rarefaction otherwise)."""
    if p > pk:
        a = 2 / ((gamma + 1) * rho)
        b = (gamma - 1) / (gamma + 1) * pk
        q = math.sqrt(a / (p + b))
        return (p - pk) * q, q * (1 - 0.5 * (p - pk) / (p + b))
    r = p / pk
    return 2 * ck / (gamma - 1) * (r ** ((gamma - 1) / (2 * gamma)) - 1), r ** (-(gamma + 1) / (2 * gamma)) / (rho * ck)


def riemann_star_state(
    left, right, gamma: float = 1.4, *, tol: float = 1e-14, max_iter: int = 100
) -> tuple[float, float]:
    """The star-region pressure and velocity ``(p*, u*)`` of the Euler Riemann problem
    with primitive states ``left = (ρ_L, u_L, p_L)`` and ``right = (ρ_R, u_R, p_R)``.

    Raises ``ValueError`` if the data generate vacuum (the pressure positivity condition
    ``2(c_L + c_R)/(γ - 1) > u_R - u_L`` fails) or the iteration does not converge.

    **Arguments:** the primitive states `left` and `right`, `gamma`, and the Newton
    iteration's relative pressure tolerance `tol` and `max_iter`.

    **Returns:** ``(p*, u*)`` as floats.
    """
    rl, ul, pl = _check_state(left, "left")
    rr, ur, pr = _check_state(right, "right")
    if not gamma > 1:
        raise ValueError(f"gamma must be > 1, got {gamma}.")
    cl, cr = math.sqrt(gamma * pl / rl), math.sqrt(gamma * pr / rr)
    du = ur - ul
    if 2 * (cl + cr) / (gamma - 1) <= du:
        raise ValueError("the Riemann data generate vacuum; the star state does not exist.")
    # two-rarefaction initial guess (Toro eq. 4.46), robust near vacuum
    z = (gamma - 1) / (2 * gamma)
    p = ((cl + cr - 0.5 * (gamma - 1) * du) / (cl / pl**z + cr / pr**z)) ** (1 / z)
    p = max(p, 1e-14 * min(pl, pr))
    for _ in range(max_iter):
        fl, dfl = _pressure_function(p, rl, pl, cl, gamma)
        fr, dfr = _pressure_function(p, rr, pr, cr, gamma)
        p_new = p - (fl + fr + du) / (dfl + dfr)
        p_new = max(p_new, 1e-14 * min(pl, pr))
        if abs(p_new - p) <= tol * 0.5 * (p_new + p):
            p = p_new
            break
        p = p_new
    else:
        raise ValueError("riemann_star_state: Newton iteration did not converge.")
    fl, _ = _pressure_function(p, rl, pl, cl, gamma)
    fr, _ = _pressure_function(p, rr, pr, cr, gamma)
    return p, 0.5 * (ul + ur) + 0.5 * (fr - fl)


def _sample(s, left, right, p_star, u_star, gamma):
    """Primitive state at the similarity coordinate ``s = (x - x0) / t``."""
    g1, g2 = (gamma - 1) / (gamma + 1), (gamma - 1) / (2 * gamma)
    if s <= u_star:  # left of the contact
        rho, u, p, sign = *left, 1.0
    else:
        rho, u, p, sign = *right, -1.0
    c = math.sqrt(gamma * p / rho)
    # mirror the right side onto the left-side formulas: x -> -x, u -> -u
    ss, uu, us = sign * s, sign * u, sign * u_star
    if p_star > p:  # shock
        rho_star = rho * (p_star / p + g1) / (g1 * p_star / p + 1)
        speed = uu - c * math.sqrt((gamma + 1) / (2 * gamma) * p_star / p + g2)
        out = (rho, uu, p) if ss <= speed else (rho_star, us, p_star)
    else:  # rarefaction
        rho_star = rho * (p_star / p) ** (1 / gamma)
        c_star = c * (p_star / p) ** g2
        head, tail = uu - c, us - c_star
        if ss <= head:
            out = (rho, uu, p)
        elif ss >= tail:
            out = (rho_star, us, p_star)
        else:
            f = 2 / (gamma + 1) + (gamma - 1) / ((gamma + 1) * c) * (uu - ss)
            out = (
                rho * f ** (2 / (gamma - 1)),
                2 / (gamma + 1) * (c + (gamma - 1) / 2 * uu + ss),
                p * f ** (2 * gamma / (gamma - 1)),
            )
    return out[0], sign * out[1], out[2]


def exact_riemann(left, right, x, t: float, *, gamma: float = 1.4, x0: float = 0.0) -> np.ndarray:
    """The exact solution of the 1D Euler Riemann problem at time `t > 0`.

    **Arguments:** primitive states ``left``/``right`` = ``(ρ, u, p)`` separated at `x0`,
    sample points `x` (any shape), time `t`, ratio of specific heats `gamma`.

    **Returns:** float64 array ``(3, *x.shape)`` of ``(ρ, u, p)``. To compare with cell
    averages of a finite-volume solution, average this over each cell (e.g. with
    [`cell_average`][jaxpde.grids.CellGrid.cell_average]).
    """
    if not t > 0:
        raise ValueError(f"t must be positive, got {t}.")
    left, right = _check_state(left, "left"), _check_state(right, "right")
    p_star, u_star = riemann_star_state(left, right, gamma)
    xs = np.asarray(x, dtype=np.float64)
    out = np.empty((3, xs.size))
    for i, xi in enumerate(xs.ravel()):
        out[:, i] = _sample((xi - x0) / t, left, right, p_star, u_star, gamma)
    return out.reshape((3, *xs.shape))
