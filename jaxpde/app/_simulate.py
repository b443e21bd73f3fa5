"""``jaxpde simulate``: advance a validated config's problem with [`jaxpde.integrate`][jaxpde.integrate]'s
chunked advances (the config's `plan`), write the trajectory with
[`jaxpde.io.record_trajectory`][jaxpde.io.record_trajectory], then one picture."""

from pathlib import Path

from ._schema import require_precision


def simulate(cfg, out_dir, *, progress=None, animate=False) -> dict:
    """Run a validated simulation config into `out_dir`: ``<name>.h5`` (the trajectory
    ``(T, C, *N)``, its times and metadata) and ``<name>.png``.

    **Arguments:** `cfg` (from [`load`][jaxpde.app.load]), `out_dir`, `progress` (``None``: a bar on a
    terminal, plain lines otherwise; ``False``: none), `animate` (also write ``<name>.gif``,
    an animation of the kept frames: the config's main channel, the vorticity for
    incompressible flows).

    **Returns:** a dict with the file paths (``gif`` is ``None`` without `animate`), wall
    time, steps and frames.
    """
    import matplotlib

    from ..io import record_trajectory
    from ..train import maybe_initialize_distributed

    require_precision(cfg)
    maybe_initialize_distributed()
    plan = cfg.plan()
    out_dir = Path(out_dir)
    h5 = out_dir / f"{cfg.name}.h5"
    rec = record_trajectory(
        h5,
        plan.advance,
        plan.u0,
        plan.times,
        metadata=plan.metadata,
        progress=progress,
        chunk=plan.chunk,
        describe=f" (config {cfg.path}; {plan.hint}, or check the parameters)",
        observe=plan.observe,
        extra=plan.extra,
    )
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plan.picture(cfg, rec, plan.title, plan.pde)
    png = out_dir / f"{cfg.name}.png"
    tmp = png.with_name(png.name + ".partial.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(png)
    gif = _animation(plan, rec, cfg, out_dir) if animate else None
    steps = rec.info.get("steps", rec.info.get("num_steps", 0))
    frames = len(plan.times) - 1
    return {"h5": h5, "png": png, "gif": gif, "wall_s": rec.wall_s, "steps": steps, "frames": frames, "info": rec.info}


def _animation(plan, rec, cfg, out_dir):
    """``<name>.gif`` of the frames `rec` kept (written atomically)."""
    from ..viz import animate

    grid = getattr(plan.pde, "grid", None)
    extent = 1.0 if grid is None else tuple(n * h for n, h in zip(grid.shape, grid.spacing))
    if len(extent) == 1:
        extent = extent[0]
    anim = animate(rec.frames, extent, rec.times, channel=plan.movie_channel, title=cfg.name)
    gif = out_dir / f"{cfg.name}.gif"
    tmp = gif.with_name(gif.name + ".partial.gif")
    anim.save(tmp, writer="pillow", fps=12)
    tmp.replace(gif)
    return gif
