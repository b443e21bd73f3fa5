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
    """Space-time image of a 1D trajectory ``(T, C, N)``: x horizontal, t vertical.

    **Arguments:** `trajectory`, the domain length `extent`, the `times` (default: frame
    numbers), the `channel` to show, `title`, an `ax` to draw on, the colour map `cmap`.

    **Returns:** the figure."""
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
        data,
        origin="lower",
        aspect="auto",
        cmap=cmap if sym else "viridis",
        extent=(0, extent, t[0], t[-1] if t.size > 1 else t[0] + 1),
        vmin=-vmax if sym else None,
        vmax=vmax if sym else None,
        interpolation="nearest",
    )
    ax.set_xlabel("x")
    ax.set_ylabel("t")
    if title:
        ax.set_title(title)
    (fig or ax.figure).colorbar(im, ax=ax, label=f"u[{channel}]")
    return fig or ax.figure


def plot_snapshots(
    trajectory, extent=(1.0, 1.0), times=None, *, channel: int = 0, num: int = 4, title=None, cmap="RdBu_r"
):
    """A row of `num` evenly spaced 2D snapshots of a trajectory ``(T, C, Nx, Ny)``
    (x horizontal, y vertical).

    **Arguments:** `trajectory`, the domain size `extent` ``(Lx, Ly)``, the `times`, the
    `channel`, `num`, `title`, `cmap`.

    **Returns:** the figure."""
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
            traj[i, channel].T,
            origin="lower",
            cmap=cmap if sym else "viridis",
            extent=(0, extent[0], 0, extent[1]),
            vmin=-vmax if sym else lo,
            vmax=vmax if sym else hi,
        )
        ax.set_title(f"t = {t[i]:.4g}")
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(im, ax=axes[0].tolist(), shrink=0.85, label=f"u[{channel}]")
    if title:
        fig.suptitle(title)
    return fig


def plot_fv_profiles(law, grid, trajectory, times=None, *, exact=None, title=None):
    """A 1D finite-volume run: a space-time image of the first primitive variable (density
    or depth) and the final profiles of every primitive variable, with an optional exact
    solution ``exact(x) -> (C, len(x))`` (primitive) drawn on top.

    `trajectory` holds conserved variables ``(T, C, N)``; `law` maps them to primitive ones.

    **Arguments:** `law`, `grid` (a 1D [`CellGrid`][jaxpde.CellGrid]), `trajectory`, the `times`,
    `exact` and `title`.

    **Returns:** the figure.
    """
    plt = _plt()
    traj = np.asarray(trajectory)
    if traj.ndim != 3:
        raise ValueError(f"plot_fv_profiles needs a 1D trajectory (T, C, N), got shape {traj.shape}.")
    prim = np.stack([np.asarray(law.to_primitive(f)) for f in traj])
    names = {3: ["density", "velocity", "pressure"], 2: ["depth", "velocity"]}.get(
        prim.shape[1], [f"u[{i}]" for i in range(prim.shape[1])]
    )
    x = grid.axis_centres(0)
    t = np.arange(traj.shape[0]) if times is None else np.asarray(times)
    ncol = prim.shape[1] + 1
    fig, axes = plt.subplots(1, ncol, figsize=(3.6 * ncol, 3.4), constrained_layout=True)
    im = axes[0].imshow(
        prim[:, 0],
        origin="lower",
        aspect="auto",
        cmap="viridis",
        interpolation="nearest",
        extent=(grid.lower[0], grid.upper[0], t[0], t[-1] if t.size > 1 else 1.0),
    )
    axes[0].set_xlabel("x")
    axes[0].set_ylabel("t")
    axes[0].set_title(names[0])
    fig.colorbar(im, ax=axes[0])
    fine = np.linspace(grid.lower[0], grid.upper[0], 2000)
    ref = None if exact is None else np.asarray(exact(fine))
    for c in range(prim.shape[1]):
        ax = axes[c + 1]
        if ref is not None:
            ax.plot(fine, ref[c], "k-", lw=1, label="exact")
        ax.plot(x, prim[-1, c], ".", ms=2.5, color="C3", label="jaxpde")
        ax.set_title(f"{names[c]} at t = {t[-1]:.4g}")
        ax.set_xlabel("x")
    if ref is not None:
        axes[1].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return fig


def plot_error_curves(curves: dict, times, *, ylabel="nRMSE (mean over test trajectories)", title=None, ax=None):
    """Error against rollout time, one line per model or baseline, on a log scale.

    **Arguments:**

    - `curves`: ``{label: errors}``, one error per entry of `times`.
    - `times`: the rollout times of the errors.
    - `ylabel`, `title`: axis label and title; `ax`: an axis to draw on (default: a new figure).

    **Returns:** the figure.
    """
    plt = _plt()
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    for label, errors in curves.items():
        ax.semilogy(np.asarray(times), np.asarray(errors), "o-", ms=3, label=label)
    ax.set_xlabel("rollout time")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    ax.figure.tight_layout()
    return ax.figure


def plot_correlation_curves(curves: dict, times, *, threshold: float = 0.8, times_above=None, title=None, ax=None):
    """Correlation with the reference against rollout time, one line per model or
    baseline, with the `threshold` that defines the high-correlation time.

    **Arguments:**

    - `curves`: ``{label: correlations}``, one per entry of `times`.
    - `times`: the rollout times.
    - `threshold`: drawn as a dashed line.
    - `times_above`: optional ``{label: time}``, the high-correlation times, added to the
      legend.
    - `title`; `ax`: an axis to draw on (default: a new figure).

    **Returns:** the figure.
    """
    plt = _plt()
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    for label, corr in curves.items():
        extra = ""
        if times_above and label in times_above:
            extra = f" (above {threshold:g} for {times_above[label]:.3g})"
        ax.plot(np.asarray(times), np.asarray(corr), "o-", ms=3, label=label + extra)
    ax.axhline(threshold, color="k", ls="--", lw=1)
    ax.set_xlabel("rollout time")
    ax.set_ylabel("correlation with the solver (mean over test trajectories)")
    ax.set_ylim(min(-0.05, float(np.nanmin([np.min(np.asarray(c)) for c in curves.values()]))), 1.02)
    if title:
        ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    ax.figure.tight_layout()
    return ax.figure


def plot_spectra(wavenumbers, spectra: dict, reference, *, reference_label="solver", title=None, ax=None):
    """Energy spectra on a log scale: the `reference` (the solver's, black) and one line
    per entry of `spectra`, e.g. a model's rollout at a few rollout times.

    **Arguments:**

    - `wavenumbers`: the shells ``k`` ``(K + 1,)``; the mean mode ``k = 0`` is not drawn.
    - `spectra`: ``{label: E}``, each ``(K + 1,)``.
    - `reference`: ``(K + 1,)``, or ``{label: E}`` for one reference per line (drawn
      dashed in the same colour).
    - `reference_label`: the legend entry of a single reference.
    - `title`; `ax`: an axis to draw on (default: a new figure).

    **Returns:** the figure.
    """
    plt = _plt()
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    k = np.asarray(wavenumbers)[1:]
    if not isinstance(reference, dict):
        ax.loglog(k, np.asarray(reference)[1:], "k-", lw=2, label=reference_label)
    for label, E in spectra.items():
        (line,) = ax.loglog(k, np.asarray(E)[1:], "-", lw=1.2, label=label)
        if isinstance(reference, dict) and label in reference:
            ax.loglog(k, np.asarray(reference[label])[1:], "--", lw=1, color=line.get_color())
    ax.set_xlabel("wavenumber k (mode number)")
    ax.set_ylabel("energy E(k) (mean over test trajectories)")
    if title:
        ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    ax.figure.tight_layout()
    return ax.figure


def animate(trajectory, extent=1.0, times=None, *, channel: int = 0, interval: int = 80, title=None, cmap="RdBu_r"):
    """A matplotlib animation of a 1D ``(T, C, N)`` (line) or 2D ``(T, C, Nx, Ny)``
    (image) trajectory, one frame per saved state.

    `extent` is the domain length (1D) or ``(Lx, Ly)`` (2D); 2D colours span the 99.5th
    percentile of the magnitude (so one extreme does not wash out the rest). Returns a
    ``matplotlib.animation.FuncAnimation``: in a notebook show it with
    ``IPython.display.HTML(anim.to_jshtml())``, or write it with
    ``anim.save("run.gif", writer="pillow")``.

    **Arguments:** `trajectory`, `extent`, the `times` (shown in the title), the `channel`,
    the frame `interval` in milliseconds, `title`, `cmap`.
    """
    plt = _plt()
    from matplotlib.animation import FuncAnimation

    traj = np.asarray(trajectory)
    if traj.ndim not in (3, 4):
        raise ValueError(f"animate needs a 1D (T, C, N) or 2D (T, C, Nx, Ny) trajectory, got shape {traj.shape}.")
    t = np.arange(traj.shape[0]) if times is None else np.asarray(times)
    data = traj[:, channel]
    lo, hi = float(data.min()), float(data.max())
    if traj.ndim == 3:
        size = (5, 3.4)
    else:
        ratio = float(np.broadcast_to(np.asarray(extent, dtype=float), (2,))[1] / np.ravel(extent)[0])
        size = (4, 3.6) if ratio > 0.6 else (9, 9 * ratio + 1.2)
    fig, ax = plt.subplots(figsize=size)
    if traj.ndim == 3:
        x = np.linspace(0, float(np.ravel(extent)[0]), traj.shape[-1], endpoint=False)
        (art,) = ax.plot(x, data[0])
        pad = 0.05 * (hi - lo or 1.0)
        ax.set(xlim=(x[0], x[-1]), ylim=(lo - pad, hi + pad), xlabel="x", ylabel=f"u[{channel}]")

        def draw(i):
            art.set_ydata(data[i])
            ax.set_title(f"{title + ': ' if title else ''}t = {t[i]:.4g}")
            return (art,)
    else:
        ext = np.broadcast_to(np.asarray(extent, dtype=float), (2,))
        vmax = float(np.percentile(np.abs(data), 99.5)) or max(abs(lo), abs(hi)) or 1.0
        art = ax.imshow(data[0].T, origin="lower", cmap=cmap, vmin=-vmax, vmax=vmax, extent=(0, ext[0], 0, ext[1]))
        fig.colorbar(art, ax=ax)

        def draw(i):
            art.set_data(data[i].T)
            ax.set_title(f"{title + ': ' if title else ''}t = {t[i]:.4g}")
            return (art,)

    draw(0)
    anim = FuncAnimation(fig, draw, frames=traj.shape[0], interval=interval, blit=False)
    plt.close(fig)
    return anim


def plot_flow(grid, frame, *, title=None, solid=None, forces=None):
    """A 2D incompressible flow at one time: the speed with streamlines, and the
    vorticity; optionally a body's outline and its force coefficients over time.

    **Arguments:**

    - `grid`: a 2D [`CellGrid`][jaxpde.grids.CellGrid].
    - `frame`: ``(C ≥ 2, Nx, Ny)`` with the cell-centre velocity in its first two channels
      and, if present, the vorticity in channel 3 (the layout of ``jaxpde simulate`` for
      incompressible configs).
    - `title`: an optional figure title.
    - `solid`: ``None``, or a level set at the cell centres ``(Nx, Ny)`` (negative in the
      body): the body is drawn in grey.
    - `forces`: ``None``, or ``(times, coefficients (S, 2))``: drag and lift over time, in
      a panel below.

    Wide domains (height under 0.6 of the width) stack the panels.

    **Returns:** the figure."""
    plt = _plt()
    frame = np.asarray(frame)
    x, y = grid.axis_centres(0), grid.axis_centres(1)
    u, v = frame[0], frame[1]
    if frame.shape[0] > 3:
        vort = frame[3]
    else:
        vort = np.gradient(v, x, axis=0) - np.gradient(u, y, axis=1)
    extent = (grid.lower[0], grid.upper[0], grid.lower[1], grid.upper[1])
    aspect = (extent[3] - extent[2]) / (extent[1] - extent[0])
    wide = aspect < 0.6
    panels = 2 + (forces is not None)
    if wide:
        height = 11 * aspect + 1.0
        fig, axes = plt.subplots(panels, 1, figsize=(11, panels * height + (1.5 if forces is not None else 0)))
    else:
        fig, axes = plt.subplots(1, panels, figsize=(5.5 * panels, 1.2 + 4.5 * min(max(aspect, 0.25), 1.5)))
    axes = list(np.atleast_1d(axes))
    speed = np.hypot(u, v)
    im = axes[0].imshow(speed.T, origin="lower", extent=extent, cmap="viridis", aspect="equal")
    axes[0].streamplot(x, y, u.T, v.T, color="w", linewidth=0.6, density=1.2, arrowsize=0.6)
    axes[0].set_title("speed and streamlines")
    fig.colorbar(im, ax=axes[0], shrink=0.8)
    lim = float(np.percentile(np.abs(vort), 99)) or 1.0
    im = axes[1].imshow(vort.T, origin="lower", extent=extent, cmap="RdBu_r", vmin=-lim, vmax=lim, aspect="equal")
    axes[1].set_title("vorticity")
    fig.colorbar(im, ax=axes[1], shrink=0.8)
    for ax in axes[:2]:
        ax.set_xlabel("x")
        ax.set_ylabel("y")
        if solid is not None:
            ax.contourf(x, y, np.asarray(solid).T, levels=[-np.inf, 0.0], colors=["0.6"])
    if forces is not None:
        t, c = (np.asarray(a) for a in forces)
        ax = axes[2]
        ax.plot(t, c[:, 0], color="C0", label="drag $C_D$")
        ax.set_xlabel("t")
        ax.set_ylabel("$C_D$", color="C0")
        twin = ax.twinx()
        twin.plot(t, c[:, 1], color="C3", label="lift $C_L$")
        for a, axis in ((0, ax), (1, twin)):  # the scale of the later (settled) part
            late = c[len(c) // 4 :, a]
            if len(late):
                span = max(float(late.max() - late.min()), 0.05 * abs(float(late.mean())), 1e-12)
                axis.set_ylim(float(late.min()) - span, float(late.max()) + span)
        twin.set_ylabel("$C_L$", color="C3")
        ax.set_title("force coefficients")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
