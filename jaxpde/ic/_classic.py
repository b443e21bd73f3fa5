"""Named initial conditions with closed forms (deterministic)."""

import jax.numpy as jnp
import numpy as np

from ..grids import PeriodicGrid
from ._registry import INITIAL_CONDITIONS


def _dtype(dtype):
    return dtype or jnp.result_type(float)


@INITIAL_CONDITIONS.register("sine")
def sine(grid: PeriodicGrid, *, wavenumber=1, amplitude=1.0, phase=0.0, dtype=None):
    """``A sin(2π m·x / L + phase)`` with integer mode(s) `wavenumber` (one per axis or
    one for the first axis).

    **Arguments:** `grid` (a [`PeriodicGrid`][jaxpde.PeriodicGrid]), `wavenumber` ``m``,
    `amplitude` ``A``, `phase`, `dtype` (default: JAX's float).

    **Returns:** ``(1, *grid.shape)``."""
    x = grid.coordinates()
    if np.ndim(wavenumber) == 0:
        m = np.array([wavenumber] + [0] * (grid.ndim - 1), float)
    else:
        m = np.asarray(wavenumber, float)
        if m.shape != (grid.ndim,):
            raise ValueError(f"wavenumber needs one entry per axis ({grid.ndim}), got {wavenumber!r}.")
    arg = sum(2 * np.pi * m[i] * x[i] / grid.extent[i] for i in range(grid.ndim))
    return jnp.asarray(amplitude * np.sin(arg + phase)[None], _dtype(dtype))


@INITIAL_CONDITIONS.register("gaussian_blob")
def gaussian_blob(grid: PeriodicGrid, *, center=None, width=None, amplitude=1.0, dtype=None):
    """A periodised Gaussian ``A exp(-|x - c|² / (2 w²))`` (distance on the torus).
    Defaults: centre of the domain, width ``L/20``.

    **Arguments:** `grid`, `center` ``c`` (one entry per axis), `width` ``w``, `amplitude`
    ``A``, `dtype`.

    **Returns:** ``(1, *grid.shape)``."""
    x = grid.coordinates()
    ext = np.asarray(grid.extent).reshape((-1,) + (1,) * grid.ndim)
    c = np.asarray(center if center is not None else np.asarray(grid.extent) / 2, float).reshape(
        (-1,) + (1,) * grid.ndim
    )
    w = float(width) if width is not None else grid.extent[0] / 20
    d = (x - c + ext / 2) % ext - ext / 2
    return jnp.asarray(amplitude * np.exp(-np.sum(d**2, axis=0) / (2 * w**2))[None], _dtype(dtype))


@INITIAL_CONDITIONS.register("kdv_soliton")
def kdv_soliton(grid: PeriodicGrid, *, speed=1.0, position=None, time=0.0, nonlinear_coefficient=6.0, dtype=None):
    """KdV soliton ``u = (c/2)(6/a) sech²(√c/2 (x - x0 - c t))`` of
    ``u_t + a u u_x + u_xxx = 0`` (periodised).

    **Arguments:** `grid` (1D), `speed` ``c > 0``, `position` ``x0`` (default: the centre),
    `time` ``t``, `nonlinear_coefficient` ``a``, `dtype`.

    **Returns:** ``(1, N)``."""
    if grid.ndim != 1:
        raise ValueError("kdv_soliton is 1D.")
    x = grid.coordinates()[0]
    L = grid.extent[0]
    x0 = L / 2 if position is None else float(position)
    xi = (x - x0 - speed * time + L / 2) % L - L / 2
    u = (speed / 2) * (6.0 / nonlinear_coefficient) / np.cosh(np.sqrt(speed) / 2 * xi) ** 2
    return jnp.asarray(u[None], _dtype(dtype))


@INITIAL_CONDITIONS.register("taylor_green_vorticity")
def taylor_green_vorticity(grid: PeriodicGrid, *, wavenumber=1, amplitude=1.0, dtype=None):
    """Taylor-Green vortex vorticity ``ω = 2 k A cos(k x) cos(k y)`` on a square 2D grid
    (``k = 2π m / L``); under Navier-Stokes it decays as ``exp(-2 ν k² t)``.

    **Arguments:** `grid` (2D), `wavenumber` ``m``, `amplitude` ``A``, `dtype`.

    **Returns:** ``(1, N_x, N_y)``."""
    if grid.ndim != 2:
        raise ValueError("taylor_green_vorticity is 2D.")
    x, y = grid.coordinates()
    kx = 2 * np.pi * wavenumber / grid.extent[0]
    ky = 2 * np.pi * wavenumber / grid.extent[1]
    k = np.sqrt((kx**2 + ky**2) / 2)
    return jnp.asarray((2 * k * amplitude * np.cos(kx * x) * np.cos(ky * y))[None], _dtype(dtype))


@INITIAL_CONDITIONS.register("kink")
def kink(
    grid: PeriodicGrid, *, position=None, width=1.4142135623730951, antikink_position=None, velocity=0.0, dtype=None
):
    """φ⁴ kink-antikink pair for [`KleinGordon`][jaxpde.spectral.KleinGordon] on a periodic
    domain: ``φ = tanh(γ(x-a)/w) - tanh(γ(x-b)/w) - 1`` with Lorentz factor ``γ``; the
    kink (at ``a``) moves with ``+velocity`` and the antikink (at ``b > a``) with
    ``-velocity``, so a positive velocity makes them collide. ``π = φ_t``.

    **Arguments:** `grid` (1D), `position` ``a`` (default ``L/4``), `width` ``w``,
    `antikink_position` ``b`` (default ``3L/4``), `velocity` (``|v| < 1``), `dtype`.

    **Returns:** ``(2, N)``: ``(φ, φ_t)``."""
    if grid.ndim != 1:
        raise ValueError("kink is 1D.")
    x = grid.coordinates()[0]
    L = grid.extent[0]
    a = L / 4 if position is None else float(position)
    b = 3 * L / 4 if antikink_position is None else float(antikink_position)
    if not abs(velocity) < 1:
        raise ValueError(f"velocity must satisfy |v| < 1, got {velocity}.")
    g = 1 / np.sqrt(1 - velocity**2)
    sa, sb = g * (x - a) / width, g * (x - b) / width
    phi = np.tanh(sa) - np.tanh(sb) - 1
    # φ = tanh(γ(x - a - v t)/w) - tanh(γ(x - b + v t)/w) - 1, differentiated at t = 0
    pi = -g * velocity / width * (1 / np.cosh(sa) ** 2 + 1 / np.cosh(sb) ** 2)
    return jnp.asarray(np.stack([phi, pi]), _dtype(dtype))


@INITIAL_CONDITIONS.register("breather")
def breather(grid: PeriodicGrid, *, frequency=0.5, position=None, time=0.0, dtype=None):
    """Sine-Gordon breather ``φ = 4 arctan(√(1-ω²)/ω · sin(ω t) / cosh(√(1-ω²) (x-x0)))``
    and its time derivative, at time `time` (exact for ``φ_tt = φ_xx - sin φ`` on the line;
    exponentially accurate on a long periodic domain).

    **Arguments:** `grid` (1D), `frequency` ``ω ∈ (0, 1)``, `position` ``x0`` (default: the
    centre), `time` ``t``, `dtype`.

    **Returns:** ``(2, N)``: ``(φ, φ_t)``."""
    if grid.ndim != 1:
        raise ValueError("breather is 1D.")
    if not 0 < frequency < 1:
        raise ValueError(f"frequency must be in (0, 1), got {frequency}.")
    x = grid.coordinates()[0]
    L = grid.extent[0]
    x0 = L / 2 if position is None else float(position)
    xi = (x - x0 + L / 2) % L - L / 2
    w = frequency
    s = np.sqrt(1 - w**2)
    q = s / w * np.sin(w * time) / np.cosh(s * xi)
    phi = 4 * np.arctan(q)
    dq = s * np.cos(w * time) / np.cosh(s * xi)
    pi = 4 * dq / (1 + q**2)
    return jnp.asarray(np.stack([phi, pi]), _dtype(dtype))
