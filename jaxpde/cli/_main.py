"""``jaxpde`` command line: ``jaxpde simulate CONFIG.yaml [--out DIR]``,
``jaxpde train CONFIG.yaml [--out DIR] [--resume]``, ``jaxpde evaluate RUN_DIR`` and
``jaxpde design CONFIG.yaml [--out DIR] [--resume]``."""

import argparse
import inspect
import sys
import time
from pathlib import Path

from ._config import ConfigError, EQUATIONS, INITIAL_CONDITIONS, load_config
from ._fv import FVConfig, simulate_fv


def make_pde(cfg, grid, **overrides):
    """The equation of a validated spectral config on `grid`; `overrides` replace
    parameters (traceable: used inside ``vmap`` for sampled parameters)."""
    kwargs = dict(cfg.parameters)
    if cfg.dealias is not None:
        kwargs["dealias"] = cfg.dealias
    kwargs.update(overrides)
    try:
        return EQUATIONS[cfg.equation](grid, **kwargs)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{cfg.path}: key 'parameters' (equation '{cfg.equation}'): {e}") from None


def ic_sampler(cfg, pde):
    """``(key -> u0, takes_key)``: the config's initial condition on the PDE's grid, in
    the config's precision (`takes_key` is False for deterministic ones)."""
    fn = INITIAL_CONDITIONS[cfg.ic_kind]
    params = dict(cfg.ic_params)
    accepted = inspect.signature(fn).parameters
    if "num_channels" in accepted and "num_channels" not in params:
        params["num_channels"] = pde.num_channels
    takes_key = "key" in accepted
    dtype = "float64" if cfg.precision == "float64" else "float32"

    def sample(key):
        return fn(pde.grid, **params, **({"key": key} if takes_key else {})).astype(dtype)

    return sample, takes_key


def make_stepper(cfg, pde):
    """The fixed-step stepper of a validated config for `pde`."""
    from ..spectral import ETDRK, ExactLinear, StormerVerlet

    try:
        if cfg.method == "etdrk":
            return ETDRK(pde, cfg.dt, order=cfg.order, substeps=cfg.substeps)
        if cfg.method == "exact":
            return ExactLinear(pde, cfg.dt)
        return StormerVerlet(pde, cfg.dt, substeps=cfg.substeps)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{cfg.path}: key 'stepper' / 'dt': {e}") from None


def build_problem(cfg):
    """Build ``(pde, u0)`` from a validated spectral config (imports JAX lazily)."""
    import jax

    from ..grids import PeriodicGrid

    file = cfg.path
    try:
        grid = PeriodicGrid(cfg.num_points, cfg.extent)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{file}: key 'grid': {e}") from None
    pde = make_pde(cfg, grid)
    sample, _ = ic_sampler(cfg, pde)
    try:
        u0 = sample(jax.random.PRNGKey(cfg.seed))
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{file}: key 'initial_condition': {e}") from None
    if tuple(u0.shape) != pde.state_shape:
        raise ConfigError(
            f"{file}: key 'initial_condition': '{cfg.ic_kind}' gives shape {tuple(u0.shape)} but "
            f"'{cfg.equation}' needs {pde.state_shape} (channels, *grid.num_points)"
        )
    return pde, u0


def build(cfg):
    """Build ``(pde, stepper, u0)`` from a validated fixed-step config (imports JAX lazily)."""
    pde, u0 = build_problem(cfg)
    return pde, make_stepper(cfg, pde), u0


def problem_metadata(cfg, **method) -> dict:
    """The HDF5 metadata of a spectral run: the problem (equation, parameters, grid,
    initial condition, seed, precision, versions) plus the `method` entries."""
    import jax

    from .._version import __version__

    return {
        "equation": cfg.equation,
        "parameters": {k: (list(v) if isinstance(v, (list, tuple)) else v) for k, v in cfg.parameters.items()},
        "grid": {"num_points": list(cfg.num_points), "extent": list(cfg.extent)},
        **method,
        "initial_condition": {"kind": cfg.ic_kind, **cfg.ic_params}, "seed": cfg.seed,
        "precision": cfg.precision, "jaxpde_version": __version__, "jax_version": jax.__version__,
        "state_layout": "(time, channel, *space)", "config_file": str(cfg.path),
    }


def simulate(cfg, out_dir: Path, *, progress: bool | None = None) -> dict:
    """Run a validated config, write ``<name>.h5`` and ``<name>.png`` into `out_dir`."""
    import jax
    import numpy as np
    from tqdm.auto import tqdm

    from ..integrate import rollout
    from ..io import TrajectoryWriter
    from ..viz import plot_snapshots, plot_spacetime

    if cfg.precision == "float64":
        jax.config.update("jax_enable_x64", True)
    pde, stepper, u0 = build(cfg)
    num_frames = cfg.num_steps // cfg.save_every
    # chunk so that the progress bar moves ~50 times, each chunk one compiled scan
    frames_per_chunk = max(1, num_frames // 50)

    def make_advance(frames):
        return jax.jit(lambda u: rollout(stepper, u, frames * cfg.save_every, save_every=cfg.save_every, include_initial=False))

    advance = make_advance(frames_per_chunk)
    advance_rest = make_advance(max(1, num_frames % frames_per_chunk))

    meta = problem_metadata(
        cfg, stepper={"method": cfg.method, "order": cfg.order, "substeps": cfg.substeps, "dealias": cfg.dealias},
        dt=cfg.dt, num_steps=cfg.num_steps, save_every=cfg.save_every)
    out_dir = Path(out_dir)
    h5_path = out_dir / f"{cfg.name}.h5"
    png_path = out_dir / f"{cfg.name}.png"
    times = np.arange(num_frames + 1) * cfg.dt * cfg.save_every
    shape = (num_frames + 1, *u0.shape)
    frames_kept = []
    keep_every = max(1, (num_frames + 1) // 400)  # thin what the picture needs
    t0 = time.perf_counter()
    with TrajectoryWriter(h5_path, shape, np.dtype(u0.dtype), meta, times) as writer:
        writer.write(np.asarray(u0)[None])
        frames_kept.append(np.asarray(u0))
        u = u0
        done = 0
        bar = tqdm(total=cfg.num_steps, unit="step", desc=cfg.name, disable=progress is False if progress is not None else None)
        with bar:
            while done < num_frames:
                n = min(frames_per_chunk, num_frames - done)
                frames = advance(u) if n == frames_per_chunk else advance_rest(u)
                frames = np.asarray(frames)
                if not np.all(np.isfinite(frames)):
                    bad = done + int(np.argmax(~np.all(np.isfinite(frames.reshape(n, -1)), axis=1))) + 1
                    raise FloatingPointError(
                        f"the solution became non-finite by t = {times[bad]:.6g} (frame {bad}); "
                        f"reduce dt or add substeps (config {cfg.path})"
                    )
                writer.write(frames)
                for j in range(n):
                    if (done + j + 1) % keep_every == 0:
                        frames_kept.append(frames[j])
                u = frames[-1]
                done += n
                bar.update(n * cfg.save_every)
    wall = time.perf_counter() - t0
    kept = np.stack(frames_kept)
    kept_times = np.concatenate([[0.0], times[1:][(np.arange(1, num_frames + 1) % keep_every) == 0]])
    title = f"{cfg.equation}  (dt={cfg.dt:g}, {cfg.method}{cfg.order if cfg.method == 'etdrk' else ''})"
    if len(cfg.num_points) == 1:
        fig = plot_spacetime(kept, cfg.extent[0], kept_times, title=title)
    elif len(cfg.num_points) == 2:
        fig = plot_snapshots(kept, cfg.extent, kept_times, title=title, num=4)
    else:
        mid = kept[..., kept.shape[-1] // 2]
        fig = plot_snapshots(mid, cfg.extent[:2], kept_times, title=title + " (mid z-slice)", num=4)
    tmp_png = png_path.with_name(png_path.name + ".partial.png")
    fig.savefig(tmp_png, dpi=110)
    import matplotlib.pyplot as plt

    plt.close(fig)
    tmp_png.replace(png_path)
    return {"h5": h5_path, "png": png_path, "wall_s": wall, "steps_per_s": cfg.num_steps / wall}


def main(argv=None) -> int:
    from .._version import __version__

    parser = argparse.ArgumentParser(prog="jaxpde", description="Differentiable PDE simulation in JAX.")
    parser.add_argument("--version", action="version", version=f"jaxpde {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    p_sim = sub.add_parser("simulate", help="run a simulation from a YAML config")
    p_sim.add_argument("config", help="YAML config file (see configs/)")
    p_sim.add_argument("--out", default=None, help="output directory (default: out/<name>)")
    p_sim.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p_train = sub.add_parser("train", help="train a neural operator / emulator from a YAML config")
    p_train.add_argument("config", help="training config (see configs/train_*.yaml)")
    p_train.add_argument("--out", default=None, help="run directory (default: runs/<name>)")
    p_train.add_argument("--resume", action="store_true", help="continue the run in the run directory")
    p_train.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    p_eval = sub.add_parser("evaluate", help="rollout nRMSE of a trained run on its held-out trajectories")
    p_eval.add_argument("run_dir", help="a run directory written by 'jaxpde train'")
    p_eval.add_argument("--compare", nargs="+", default=(), metavar="RUN_DIR",
                        help="ROM runs on the same data (already evaluated) to plot beside this one")
    p_eval.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    p_design = sub.add_parser("design", help="solve an inverse-design / control problem from a YAML config")
    p_design.add_argument("config", help="design config (see configs/design_*.yaml)")
    p_design.add_argument("--out", default=None, help="run directory (default: runs/<name>)")
    p_design.add_argument("--resume", action="store_true", help="continue the run in the run directory")
    p_design.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p_design.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                          help="override a config value, e.g. --set optimiser.steps=20 (repeatable)")
    ns = parser.parse_args(argv)
    if ns.command in ("train", "evaluate"):
        return _train_main(ns)
    if ns.command == "design":
        return _design_main(ns)
    if ns.command == "simulate":
        try:
            cfg = load_config(ns.config)
            out = Path(ns.out) if ns.out else Path("out") / cfg.name
            if isinstance(cfg, FVConfig):
                res = simulate_fv(cfg, out, progress=False if ns.no_progress else None)
            elif cfg.integrator is not None:
                from ._diffrax import simulate_diffrax

                res = simulate_diffrax(cfg, out, progress=False if ns.no_progress else None)
            else:
                res = simulate(cfg, out, progress=False if ns.no_progress else None)
        except ConfigError as e:
            print(f"jaxpde: error: {e}", file=sys.stderr)
            return 2
        except FloatingPointError as e:
            print(f"jaxpde: error: {e}", file=sys.stderr)
            return 1
        if "stats" in res:
            st = res["stats"]
            speed = (f"{res['frames']} frames, {st['num_steps']} steps "
                     f"({st['num_rejected_steps']} rejected) incl. compile and I/O")
        elif "cell_steps_per_s" in res:
            speed = f"{res['steps']} steps, {res['cell_steps_per_s']:.3g} cell-steps/s incl. compile and I/O"
        else:
            speed = f"{res['steps_per_s']:.0f} steps/s incl. compile and I/O"
        print(f"wrote {res['h5']} and {res['png']}  ({res['wall_s']:.2f} s, {speed})")
        return 0
    return 2  # pragma: no cover


def _design_main(ns) -> int:
    from ..train import CheckpointError
    from . import _design
    from ._schema import apply_overrides, read_yaml

    try:
        raw = apply_overrides(read_yaml(ns.config), ns.set, ns.config)
        if raw.get("kind") != "design" and "problem" not in raw:
            raise ConfigError(f"{ns.config}: not a design config (it needs 'kind: design'); use 'jaxpde simulate' "
                              "or 'jaxpde train'")
        cfg = _design.parse(raw, ns.config)
        run_dir = Path(ns.out) if ns.out else Path("runs") / cfg.name
        res = _design.run(cfg, ns.config, run_dir, resume=ns.resume, progress=False if ns.no_progress else None)
    except (ConfigError, CheckpointError) as e:
        print(f"jaxpde: error: {e}", file=sys.stderr)
        return 2
    except FloatingPointError as e:
        print(f"jaxpde: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("jaxpde: interrupted", file=sys.stderr)
        return 130
    floor = f" (noise floor {res['noise_floor']:.3g})" if res["noise_floor"] else ""
    print(f"{cfg.name}: objective {res['initial_objective']:.3e} -> {res['final_objective']:.3e}{floor}, "
          f"{res['reduction']:.3g}x in {res['iterations']} iterations ({res['wall_s']:.1f} s) -> {run_dir}")
    return 0


def _train_main(ns) -> int:
    from ..train import CheckpointError
    from ._train import TrainConfig, evaluate, train

    progress = False if ns.no_progress else None
    try:
        if ns.command == "train":
            cfg = load_config(ns.config)
            if not isinstance(cfg, TrainConfig):
                raise ConfigError(f"{ns.config}: not a training config (no 'training' section); "
                                  "use 'jaxpde simulate' for simulation configs")
            run_dir = Path(ns.out) if ns.out else Path("runs") / cfg.name
            res = train(cfg, run_dir, resume=ns.resume, progress=progress)
            if "unseen" in res:
                e = res["unseen"]
                print(f"trained {cfg.name}: final loss {res['final_loss']:.3e}, unseen relative L2 error "
                      f"{e['interpolation']:.3e} (interpolation) / {e['extrapolation']:.3e} (extrapolation); "
                      f"{res['samples_per_s']:.0f} trajectories/s -> {run_dir}")
                return 0
            nrmse = res["test_nrmse"]
            print(f"trained {cfg.name}: final loss {res['final_loss']:.3e}, test nRMSE at 1 step {nrmse[0]:.3e}"
                  f", at {len(nrmse)} steps {nrmse[-1]:.3e}; {res['samples_per_s']:.0f} samples/s -> {run_dir}")
        else:
            res = evaluate(Path(ns.run_dir), compare=ns.compare, progress=progress)
            if "errors" in res:
                for name, e in res["errors"].items():
                    print(f"{name}: " + ", ".join(f"{split} {v['interpolation']:.3e} / {v['extrapolation']:.3e}"
                                                  for split, v in e.items()) + " (interpolation / extrapolation)")
                print(f"evaluated step {res['step']}; wrote {res['png']}")
                return 0
            parts = ", ".join(f"{k} {v[0]:.3e} (1 step) / {v[-1]:.3e} ({len(v)} steps)" for k, v in res["nrmse"].items())
            print(f"evaluated step {res['step']}: nRMSE {parts}; wrote {res['png']}")
    except (ConfigError, CheckpointError) as e:
        print(f"jaxpde: error: {e}", file=sys.stderr)
        return 2
    except FloatingPointError as e:
        print(f"jaxpde: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("jaxpde: interrupted", file=sys.stderr)
        return 130
    return 0
