"""φ-functions of exponential integrators by Kassam-Trefethen contour integrals.

φ_0(z) = e^z,  φ_1(z) = (e^z - 1)/z,  φ_2(z) = (e^z - 1 - z)/z²,
φ_3(z) = (e^z - 1 - z - z²/2)/z³.

Direct evaluation cancels catastrophically for small |z|. Following Kassam & Trefethen,
"Fourth-order time-stepping for stiff PDEs", SIAM J. Sci. Comput. 26 (2005), each
φ_k(z) is the mean of φ_k over a circle of radius r centred at z (mean-value property
of the entire function φ_k), approximated by the trapezoidal rule on M points. The
circle is a *full* circle and the result is kept complex, so complex symbols (odd
derivatives: advection, dispersion) are handled correctly; only when z is real is the
(round-off) imaginary part dropped.
"""

import jax
import jax.numpy as jnp
import numpy as np


def _phis_on_points(w, xp, max_order):
    ew = xp.exp(w)
    out = [ew]
    if max_order >= 1:
        out.append((ew - 1) / w)
    if max_order >= 2:
        out.append((ew - 1 - w) / w**2)
    if max_order >= 3:
        out.append((ew - 1 - w - w**2 / 2) / w**3)
    return out


def phi_functions(z, max_order: int = 3, *, num_points: int = 32, radius: float = 1.0):
    """Return ``[φ_0(z), ..., φ_max_order(z)]`` elementwise for an array ``z``.

    If `z` is concrete (not traced), the integrals are evaluated in float64/complex128
    with numpy regardless of the dtype of `z`, and returned as numpy arrays. Under
    tracing (e.g. differentiating with respect to a viscosity), they are evaluated with
    jax.numpy in the dtype of `z` (complex128 when ``jax_enable_x64`` is on).

    Real `z` gives real results; complex `z` gives complex results.

    **Arguments:**

    - `z`: the arguments (any shape; real or complex), e.g. ``dt L`` on the Fourier grid.
    - `max_order`: the highest ``φ_k`` (0 to 3).
    - `num_points`: points of the contour integral around each ``z`` (Kassam & Trefethen, 2005).
    - `radius`: the contour's radius.

    **Returns:** a list of ``max_order + 1`` arrays of the shape of `z`.
    """
    if max_order < 0 or max_order > 3:
        raise ValueError(f"max_order must be in 0..3, got {max_order}.")
    if num_points < 4:
        raise ValueError(f"num_points must be >= 4, got {num_points}.")
    traced = isinstance(z, jax.core.Tracer)
    xp = jnp if traced else np
    if traced:
        z_is_complex = jnp.iscomplexobj(z)
        z = z.astype(jnp.result_type(z.dtype, jnp.complex64))
        cdtype = z.dtype
    else:
        z_arr = np.asarray(z)
        z_is_complex = np.iscomplexobj(z_arr)
        z = z_arr.astype(np.complex128)
        cdtype = np.complex128
    theta = 2 * np.pi * (np.arange(num_points) + 0.5) / num_points
    shifts = (radius * np.exp(1j * theta)).astype(cdtype)
    # all contour points at once along a trailing axis: one fused op per φ_k. The
    # concrete (numpy) path works in chunks so that 3D grids stay within memory.
    if traced:
        w = z[..., None] + shifts
        acc = [xp.sum(v, axis=-1) for v in _phis_on_points(w, xp, max_order)]
    else:
        flat = z.reshape(-1)
        acc = [np.empty(flat.shape, np.complex128) for _ in range(max_order + 1)]
        chunk = 1 << 15
        for start in range(0, max(flat.size, 1), chunk):
            w = flat[start : start + chunk, None] + shifts
            for a, v in zip(acc, _phis_on_points(w, np, max_order)):
                a[start : start + chunk] = v.sum(axis=-1)
        acc = [a.reshape(z.shape) for a in acc]
    phis = [a / num_points for a in acc]
    phis[0] = xp.exp(z)  # φ_0 needs no contour
    if not z_is_complex:
        phis = [p.real for p in phis]
    return phis
