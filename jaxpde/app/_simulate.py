"""``jaxpde simulate``: build the problem of a validated config through the library's
constructors, advance it with :mod:`jaxpde.integrate`'s chunked advances, and write the
trajectory with :func:`jaxpde.io.record_trajectory`; then one picture."""

from pathlib import Path

import numpy as np

from ._config import ConfigError


def _metadata(cfg, **method) -> dict:
    import jax

    from .._version import __version__

    return {
        **method,
        "precision": cfg.precision,
        "jaxpde_version": __version__,
        "jax_version": jax.__version__,
        "config_file": str(cfg.path),
    }


def _spectral(cfg):
    """``(advance, u0, times, metadata, title)`` of a spectral config."""
    import jax

    from .. import integrate
    from ._build import build_problem, make_stepper

    pde, u0 = build_problem(cfg)
    problem = {
        "equation": cfg.equation,
        "parameters": cfg.parameters,
        "grid": {"num_points": list(cfg.num_points), "extent": list(cfg.extent)},
        "initial_condition": {"kind": cfg.ic_kind, **cfg.ic_params},
        "seed": cfg.seed,
        "state_layout": "(time, channel, *space)",
    }
    ic = cfg.integrator
    if ic is None:
        stepper = make_stepper(cfg, pde)
        times = np.arange(cfg.num_steps // cfg.save_every + 1) * cfg.dt * cfg.save_every
        advance = integrate.rollout_advance(stepper, cfg.save_every)
        meta = _metadata(
            cfg,
            **problem,
            stepper={"method": cfg.method, "order": cfg.order, "substeps": cfg.substeps, "dealias": cfg.dealias},
            dt=cfg.dt,
            num_steps=cfg.num_steps,
            save_every=cfg.save_every,
        )
        title = f"{cfg.equation}  (dt={cfg.dt:g}, {cfg.method}{cfg.order if cfg.method == 'etdrk' else ''})"
        return advance, u0, times, meta, title
    noise = None
    if ic.kind == "sde":
        n = ic.noise
        try:
            noise = integrate.SpectralNoise(
                pde.grid,
                n["amplitude"],
                correlation_length=n.get("correlation_length"),
                dealias=n.get("dealias"),
                num_channels=pde.num_channels,
            )
        except (TypeError, ValueError) as e:
            raise ConfigError(f"{cfg.path}: key 'noise': {e}") from None
        if n.get("multiplicative", False):
            noise = integrate.MultiplicativeNoise(noise)
    times = np.arange(ic.num_frames + 1) * ic.save_interval
    advance = integrate.solve_advance(
        pde,
        times,
        max_steps=ic.max_steps,
        noise=noise,
        key=jax.random.key(cfg.seed) if noise is not None else None,
        solver=ic.solver,
        rtol=ic.rtol,
        atol=ic.atol,
        dt0=ic.dt0,
        adaptive=ic.adaptive,
    )
    meta = _metadata(
        cfg,
        **problem,
        integrator=ic.kind,
        solve={
            "solver": ic.solver,
            "rtol": ic.rtol,
            "atol": ic.atol,
            "dt0": ic.dt0,
            "adaptive": ic.adaptive,
            "max_steps": ic.max_steps,
        },
        noise=ic.noise,
        t_final=ic.t_final,
        save_interval=ic.save_interval,
    )
    return advance, u0, times, meta, f"{cfg.equation}  ({ic.kind}: {ic.solver})"


# frames per solve of an adaptive or stochastic run: fixed, so that runs of different
# lengths take the same steps (and, with noise, see the same path) on their common interval
SOLVE_CHUNK = 10


def _finite_volume(cfg):
    from .. import integrate
    from ._fv import build_fv

    pde, u0 = build_fv(cfg)
    times = np.linspace(0.0, cfg.t_final, cfg.num_frames + 1)
    advance = integrate.cfl_advance(pde, times, cfl=cfg.scheme["cfl"], stepper=cfg.scheme["stepper"])
    boundary = (
        cfg.boundary
        if isinstance(cfg.boundary, str)
        else [list(b) if isinstance(b, tuple) else b for b in cfg.boundary]
    )
    meta = _metadata(
        cfg,
        law=cfg.law,
        parameters=cfg.parameters,
        solver="finite_volume",
        grid={"num_cells": list(cfg.num_cells), "lower": list(cfg.lower), "upper": list(cfg.upper)},
        scheme=cfg.scheme,
        boundary=boundary,
        t_final=cfg.t_final,
        initial_condition={"kind": cfg.ic_kind, **cfg.ic_params},
        state_layout="(time, channel, *space), conserved variables",
    )
    s = cfg.scheme
    title = f"{cfg.law}: {s['reconstruction']} + {s['riemann_solver']} + {s['stepper']}, CFL {s['cfl']:g}"
    return advance, u0, times, meta, title, pde


def _picture(cfg, rec, title, pde=None):
    from ..viz import plot_fv_profiles, plot_snapshots, plot_spacetime

    if pde is not None:  # finite volume: profiles (with the exact solution of a 1D Euler Riemann problem)
        law = pde.law
        if len(cfg.num_cells) == 1:
            exact = None
            if cfg.law == "euler" and cfg.ic_kind == "riemann":
                from ..fv import exact_riemann

                p = {"x0": 0.5, **cfg.ic_params}
                exact = lambda x: exact_riemann(
                    p["left"],
                    p["right"],
                    x,
                    cfg.t_final,
                    gamma=float(law.gamma),  # noqa: E731
                    x0=p["x0"],
                )
            return plot_fv_profiles(law, pde.grid, rec.frames, rec.times, exact=exact, title=title)
        prim = np.stack([np.asarray(law.to_primitive(f)) for f in rec.frames])
        sl = prim if prim.ndim == 4 else prim[..., prim.shape[-1] // 2]
        extent = tuple(b - a for a, b in zip(cfg.lower, cfg.upper))
        return plot_snapshots(sl, extent, rec.times, title=title + " (density)", num=4)
    if len(cfg.num_points) == 1:
        return plot_spacetime(rec.frames, cfg.extent[0], rec.times, title=title)
    frames = rec.frames if len(cfg.num_points) == 2 else rec.frames[..., rec.frames.shape[-1] // 2]
    return plot_snapshots(frames, cfg.extent[:2], rec.times, title=title, num=4)


def simulate(cfg, out_dir, *, progress=None) -> dict:
    """Run a validated simulation config: ``<name>.h5`` and ``<name>.png`` in `out_dir`."""
    import matplotlib

    from ..io import record_trajectory
    from ._fv import FVConfig
    from ._schema import require_precision

    require_precision(cfg)
    pde = None
    if isinstance(cfg, FVConfig):
        advance, u0, times, meta, title, pde = _finite_volume(cfg)
    else:
        advance, u0, times, meta, title = _spectral(cfg)
    out_dir = Path(out_dir)
    h5 = out_dir / f"{cfg.name}.h5"
    chunk = SOLVE_CHUNK if not isinstance(cfg, FVConfig) and cfg.integrator is not None else None
    rec = record_trajectory(
        h5,
        advance,
        u0,
        times,
        metadata=meta,
        progress=progress,
        chunk=chunk,
        describe=f" (config {cfg.path}; "
        + ("lower scheme.cfl" if pde is not None else "reduce the time step")
        + ", or check the parameters)",
    )
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = _picture(cfg, rec, title, pde)
    png = out_dir / f"{cfg.name}.png"
    tmp = png.with_name(png.name + ".partial.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(png)
    steps = rec.info.get("steps", rec.info.get("num_steps", 0))
    return {"h5": h5, "png": png, "wall_s": rec.wall_s, "steps": steps, "frames": len(times) - 1, "info": rec.info}
