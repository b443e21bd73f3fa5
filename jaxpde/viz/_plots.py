"""Matplotlib figures of trajectories (no global style changes)."""

import numpy as np


def _plt():
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "module://matplotlib_inline.backend_inline"):
        try:
            matplotlib.use("Agg", force=False)
        except Exception:  # pragma: no cover - backend already fixed by the user
            pass
    import matplotlib.pyplot as plt

    return plt


def plot_spacetime(trajectory, extent: float, times=None, *, channel: int = 0, title=None, ax=None, cmap="RdBu_r"):
    """Space-time image of a 1D trajectory ``(T, C, N)``: x horizontal, t vertical."""
    plt = _plt()
    traj = np.asarray(trajectory)
    if traj.ndim != 3:
        raise ValueError(f"plot_spacetime needs a 1D trajectory (T, C, N), got shape {traj.shape}.")
    t = np.arange(traj.shape[0]) if times is None else np.asarray(times)
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 4.5), constrained_layout=True)
    data = traj[:, channel]
    vmax = np.max(np.abs(data)) or 1.0
    sym = data.min() < 0
    im = ax.imshow(
        data, origin="lower", aspect="auto", cmap=cmap if sym else "viridis",
        extent=(0, extent, t[0], t[-1] if t.size > 1 else t[0] + 1),
        vmin=-vmax if sym else None, vmax=vmax if sym else None, interpolation="nearest",
    )
    ax.set_xlabel("x")
    ax.set_ylabel("t")
    if title:
        ax.set_title(title)
    (fig or ax.figure).colorbar(im, ax=ax, label=f"u[{channel}]")
    return fig or ax.figure


def plot_snapshots(trajectory, extent=(1.0, 1.0), times=None, *, channel: int = 0, num: int = 4, title=None, cmap="RdBu_r"):
    """A row of `num` evenly spaced 2D snapshots of a trajectory ``(T, C, Nx, Ny)``
    (x horizontal, y vertical)."""
    plt = _plt()
    traj = np.asarray(trajectory)
    if traj.ndim != 4:
        raise ValueError(f"plot_snapshots needs a 2D trajectory (T, C, Nx, Ny), got shape {traj.shape}.")
    num = max(1, min(num, traj.shape[0]))
    idx = np.linspace(0, traj.shape[0] - 1, num).round().astype(int)
    t = np.arange(traj.shape[0]) if times is None else np.asarray(times)
    fig, axes = plt.subplots(1, num, figsize=(3.2 * num, 3.4), constrained_layout=True, squeeze=False)
    data = traj[idx, channel]
    lo, hi = float(data.min()), float(data.max())
    sym = lo < 0 < hi
    vmax = max(abs(lo), abs(hi)) or 1.0
    for ax, i in zip(axes[0], idx):
        im = ax.imshow(
            traj[i, channel].T, origin="lower", cmap=cmap if sym else "viridis",
            extent=(0, extent[0], 0, extent[1]), vmin=-vmax if sym else lo, vmax=vmax if sym else hi,
        )
        ax.set_title(f"t = {t[i]:.4g}")
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(im, ax=axes[0].tolist(), shrink=0.85, label=f"u[{channel}]")
    if title:
        fig.suptitle(title)
    return fig
