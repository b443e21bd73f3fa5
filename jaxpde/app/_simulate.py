"""``jaxpde simulate``: advance a validated config's problem with [`jaxpde.integrate`][jaxpde.integrate]'s
chunked advances (the config's `plan`), write the trajectory with
[`jaxpde.io.record_trajectory`][jaxpde.io.record_trajectory], then one picture."""

from pathlib import Path

from ._schema import require_precision


def simulate(cfg, out_dir, *, progress=None) -> dict:
    """Run a validated simulation config into `out_dir`: ``<name>.h5`` (the trajectory
    ``(T, C, *N)``, its times and metadata) and ``<name>.png``.

    **Arguments:** `cfg` (from [`load`][jaxpde.app.load]), `out_dir`, `progress` (``None``: a bar on a
    terminal, plain lines otherwise; ``False``: none).

    **Returns:** a dict with the file paths, wall time, steps and frames.
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
    steps = rec.info.get("steps", rec.info.get("num_steps", 0))
    return {"h5": h5, "png": png, "wall_s": rec.wall_s, "steps": steps, "frames": len(plan.times) - 1, "info": rec.info}
