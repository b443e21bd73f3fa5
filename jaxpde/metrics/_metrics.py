"""Error metrics and diagnostics on channel-first fields and trajectories."""

import jax.numpy as jnp
import numpy as np

from ..grids import PeriodicGrid


def nrmse(pred, ref, *, num_spatial_dims: int | None = None, eps: float = 1e-12):
    """Normalised RMSE ``‖pred - ref‖₂ / ‖ref‖₂`` over the channel and spatial axes.

    Leading axes beyond ``(C, *N)`` (time, batch) are kept when `num_spatial_dims` is
    given: a trajectory ``(T, C, *N)`` with ``num_spatial_dims=len(N)`` gives shape
    ``(T,)``. By default the whole array is one state (``num_spatial_dims = ndim - 1``).

    **Arguments:** `pred`, `ref` (same shape), `num_spatial_dims`, and `eps` guarding the
    division by a zero reference.

    **Returns:** a scalar, or one value per leading index.
    """
    pred, ref = jnp.asarray(pred), jnp.asarray(ref)
    if pred.shape != ref.shape:
        raise ValueError(f"nrmse: shapes differ, pred {pred.shape} vs ref {ref.shape}.")
    d = ref.ndim - 1 if num_spatial_dims is None else num_spatial_dims
    axes = tuple(range(ref.ndim - d - 1, ref.ndim))
    num = jnp.sqrt(jnp.sum((pred - ref) ** 2, axis=axes))
    den = jnp.sqrt(jnp.sum(ref**2, axis=axes))
    return num / jnp.maximum(den, eps)


def energy_spectrum(u, grid: PeriodicGrid):
    """Shell-summed energy spectrum ``E(k) = Σ_{|m| ∈ [k-½, k+½)} |û_m|² / 2`` of a state ``(C, *N)``.

    Integer shells use the mode number ``|m|`` (``m`` = integer wavenumbers); channels
    are summed. Normalised so that ``Σ_k E(k) = mean(u²)/2 · C`` (Parseval).

    **Arguments:** the state `u` ``(C, *N)`` and its `grid` (a [`PeriodicGrid`][jaxpde.PeriodicGrid]).

    **Returns:** ``(k, E)`` with ``k = 0, 1, ..., K`` (numpy arrays).
    """
    u = jnp.asarray(u)
    u_hat = grid.rfft(u) / np.prod(grid.shape)
    power = jnp.sum(jnp.abs(u_hat) ** 2, axis=0)
    # rfft stores half the spectrum: double the modes that have a conjugate partner
    n_last = grid.shape[-1]
    m_last = np.arange(grid.rfft_shape[-1])
    weight = np.where((m_last == 0) | ((n_last % 2 == 0) & (m_last == n_last // 2)), 1.0, 2.0)
    power = power * weight
    ms = np.broadcast_arrays(*grid.wavenumber_indices())
    shell = np.rint(np.sqrt(sum(m.astype(float) ** 2 for m in ms))).astype(int)
    kmax = int(shell.max())
    E = np.bincount(shell.ravel(), weights=np.asarray(power).ravel(), minlength=kmax + 1) / 2
    return np.arange(kmax + 1), E


def correlation(pred, ref, *, num_spatial_dims: int | None = None):
    """Pearson correlation between `pred` and `ref` over channel and spatial axes;
    with `num_spatial_dims` given, leading axes are kept (a trajectory ``(T, C, *N)``
    gives ``(T,)``), as in [`nrmse`][jaxpde.metrics.nrmse].

    **Returns:** a scalar in ``[-1, 1]``, or one per leading index."""
    pred, ref = jnp.asarray(pred), jnp.asarray(ref)
    if pred.shape != ref.shape:
        raise ValueError(f"correlation: shapes differ, pred {pred.shape} vs ref {ref.shape}.")
    d = ref.ndim - 1 if num_spatial_dims is None else num_spatial_dims
    axes = tuple(range(ref.ndim - d - 1, ref.ndim))
    p = pred - jnp.mean(pred, axis=axes, keepdims=True)
    r = ref - jnp.mean(ref, axis=axes, keepdims=True)
    num = jnp.sum(p * r, axis=axes)
    return num / jnp.sqrt(jnp.sum(p**2, axis=axes) * jnp.sum(r**2, axis=axes) + 1e-30)


def correlation_time(pred_traj, ref_traj, *, threshold: float = 0.8, dt: float = 1.0):
    """Time until the correlation of two trajectories ``(T, C, *N)`` first drops
    below `threshold` (``T * dt`` if it never does).

    **Arguments:** `pred_traj`, `ref_traj` ``(T, C, *N)``, `threshold`, and the time `dt`
    between frames.

    **Returns:** the time, a scalar."""
    ref_traj = jnp.asarray(ref_traj)
    c = np.asarray(correlation(pred_traj, ref_traj, num_spatial_dims=ref_traj.ndim - 2))
    below = np.nonzero(c < threshold)[0]
    return (below[0] if below.size else c.size) * dt


def high_correlation_time(correlations, *, threshold: float = 0.8, dt: float = 1.0):
    """The high-correlation time of rollout correlation curves: ``dt`` times the number
    of leading steps whose correlation with the reference stays at or above `threshold`
    (the metric of Lippe et al., "PDE-Refiner", NeurIPS 2023, with 0.8; the whole
    horizon when it never drops).

    **Arguments:** `correlations` ``(..., H)``, one per rollout step ``h = 1..H`` (e.g.
    from [`train.rollout_correlation`][jaxpde.train.rollout_correlation]), `threshold`,
    and the time `dt` between steps.

    **Returns:** ``(...)``, the time per curve."""
    c = jnp.asarray(correlations)
    below = c < threshold
    first = jnp.where(jnp.any(below, axis=-1), jnp.argmax(below, axis=-1), c.shape[-1])
    return first * dt


def spectrum_log_error(spectrum, reference, *, floor: float = 1e-30):
    r"""How far an energy spectrum is from a reference one, in decades: the mean over
    the shells ``k = 1..K`` of ``|log₁₀ E(k) - log₁₀ E_ref(k)|`` (the mean mode, ``k = 0``,
    is left out: it is the conserved mean of most periodic problems, often zero).

    A rollout that keeps the right amount of energy at every scale scores near 0; one
    that piles energy into the high wavenumbers, where the solver has almost none, scores
    the decades by which it overshoots there (the failure Lippe et al., "PDE-Refiner",
    NeurIPS 2023, show for emulators trained on one-step MSE).

    **Arguments:** `spectrum`, `reference` ``(..., K + 1)`` (e.g. from
    [`energy_spectrum`][jaxpde.metrics.energy_spectrum]), and `floor`, added to both
    before the logarithm.

    **Returns:** ``(...)``, decades.
    """
    spectrum, reference = np.asarray(spectrum, float), np.asarray(reference, float)
    if spectrum.shape != reference.shape or spectrum.shape[-1] < 2:
        raise ValueError(
            f"spectrum_log_error: need matching spectra of 2 or more shells, got {spectrum.shape}, {reference.shape}."
        )
    ratio = np.log10(spectrum[..., 1:] + floor) - np.log10(reference[..., 1:] + floor)
    return np.mean(np.abs(ratio), axis=-1)
