"""Reduced-order-model runs of ``jaxpde train`` / ``jaxpde evaluate``.

Tasks ``phirom`` (physics-informed, the solver's right-hand side in the loss), ``dino``
(data-driven latent dynamics, the baseline) and ``pinn_rom`` (the right-hand side from
autodiff of the decoder). The config's ``model`` section has a ``decoder`` and a
``dynamics`` mapping; the ``rom`` section holds the method's settings::

    rom:
      train_frames: 21        # frames of [0, T_train]; the rest is the extrapolation window
      weight: 0.5             # λ of λ L_rec + (1 − λ) L_dyn
      fraction: 0.1           # hyper-reduction: share of grid points in each least-squares fit
      warmup_steps: 200       # steps before the physics gradient reaches decoder and latents
      coupling: 1.0           # the scale of that gradient afterwards
      coupling_ramp_steps: 0  # reach it linearly over these steps after the warm-up
      physics: rhs            # rhs: the PDE's du/dt; step: (S(u) - u) / dt of the data's stepper
      teacher_forcing_steps: 0  # teacher forcing decays linearly to 0 over these steps, or
      teacher_forcing_start: 1.0
      teacher_forcing_decay_rate: null  # ... times this rate every teacher_forcing_steps
      observed_fraction: null # sparse training: each trajectory seen at this share of points
      encode_steps: 500       # Adam steps fitting the initial latent at inference
      projected_forecast: false  # evaluate also integrates the solver's projected velocity
      batch: trajectories     # training.batch_size counts trajectories, or (snapshots) snapshots

``jaxpde evaluate`` forecasts every training trajectory (seen parameters) and every test
trajectory (unseen) from its initial state and reports the mean relative L2 error on the
interpolation window ``[0, T_train]`` and the extrapolation window ``(T_train, T_test]``,
beside a POD-Galerkin ROM of the same rank built on the same right-hand side, and the
decoder's best fit to every frame. With ``rom.projected_forecast`` it also forecasts with
the solver's right-hand side projected on the decoder's tangent space in place of the
learned dynamics (a Galerkin-type ROM on the learned manifold): where that forecast is no
better than the learned one, the manifold, not the dynamics, limits the error.
"""

import functools
import json
from pathlib import Path
from typing import Annotated, Literal

import pydantic

from ._schema import ConfigError

ROM_TASKS = ("phirom", "dino", "pinn_rom")


def _decoders():
    from .. import rom

    return rom.DECODERS


class _Strict(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")


_Unit = Annotated[float, pydantic.Field(ge=0, le=1)]
_Fraction = Annotated[float, pydantic.Field(gt=0, le=1)]


class _Rom(_Strict):
    """The ``rom`` section (keywords of [`jaxpde.rom.SnapshotBatches`][jaxpde.rom.SnapshotBatches], the loss and the
    forecasts)."""

    train_frames: int
    weight: _Unit = 0.5
    fraction: _Fraction = 0.1
    warmup_steps: pydantic.NonNegativeInt = 0
    coupling: _Unit = 1.0
    coupling_ramp_steps: pydantic.NonNegativeInt = 0
    physics: Literal["rhs", "step"] = "rhs"
    teacher_forcing_steps: pydantic.NonNegativeInt = 0
    teacher_forcing_start: _Unit = 1.0
    teacher_forcing_decay_rate: Annotated[float, pydantic.Field(gt=0, le=1)] | None = None
    observed_fraction: _Fraction | None = None
    encode_steps: pydantic.PositiveInt = 500
    encode_learning_rate: pydantic.PositiveFloat = 0.01
    projected_forecast: pydantic.StrictBool = False
    batch: Literal["trajectories", "snapshots"] = "trajectories"
    dynamics_fit_steps: pydantic.NonNegativeInt = 0
    dynamics_fit_learning_rate: pydantic.PositiveFloat = 1e-3


class _Dynamics(_Strict):
    width: pydantic.PositiveInt = 64
    depth: pydantic.PositiveInt = 3


class _RomModel(_Strict):
    decoder: dict
    dynamics: _Dynamics = _Dynamics()


def parse_rom(raw: dict, file: str, frames: int, task: str) -> tuple[dict, dict]:
    """Validate the ``model`` and ``rom`` sections of a ROM config."""
    from ._schema import keyword_model, validate

    model = validate(_RomModel, raw["model"], file, prefix=("model",))
    dec = dict(model.decoder)
    kind = dec.pop("kind", "sine")
    decoders = _decoders()
    if kind not in decoders:
        raise ConfigError(f"{file}: key 'model.decoder.kind' must be one of {', '.join(decoders)}, got {kind!r}")
    for k in ("num_channels", "bounds", "periodic"):
        if k in dec:
            raise ConfigError(f"{file}: key 'model.decoder.{k}' is set from the data (do not give it)")
    if "latent_size" not in dec:
        raise ConfigError(f"{file}: missing key 'model.decoder.latent_size'")
    k = dec.pop("latent_size")
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ConfigError(f"{file}: key 'model.decoder.latent_size' must be a positive integer, got {k!r}")
    dec = validate(
        keyword_model(
            decoders[kind], f"decoder_{kind}", skip=("key", "num_channels", "bounds", "latent_size", "periodic")
        ),
        dec,
        file,
        prefix=("model", "decoder"),
    ).model_dump(exclude_unset=True)
    dec["latent_size"] = k
    rom = validate(_Rom, raw.get("rom") or {}, file, prefix=("rom",)).model_dump()
    if not 2 <= rom["train_frames"] < frames:
        raise ConfigError(
            f"{file}: key 'rom.train_frames' must be between 2 and {frames - 1} (the data has "
            f"{frames} frames; the rest is the extrapolation window)"
        )
    if task == "pinn_rom" and rom["physics"] != "rhs":
        raise ConfigError(f"{file}: key 'rom.physics' does not apply to 'pinn_rom' (its residual comes from autodiff)")
    tf_keys = ("teacher_forcing_steps", "teacher_forcing_start", "teacher_forcing_decay_rate")
    if task != "dino":
        for k in tf_keys:
            if rom[k] != _Rom.model_fields[k].default:
                raise ConfigError(f"{file}: key 'rom.{k}' applies to 'dino' (the data-driven baseline), not {task!r}")
    if rom["teacher_forcing_decay_rate"] is not None and not rom["teacher_forcing_steps"]:
        raise ConfigError(
            f"{file}: key 'rom.teacher_forcing_decay_rate' needs rom.teacher_forcing_steps (the decay period)"
        )
    if task == "dino" and rom["batch"] == "snapshots":
        raise ConfigError(f"{file}: key 'rom.batch': 'dino' fits whole latent trajectories; use 'trajectories'")
    for k in ("coupling", "coupling_ramp_steps", "physics", "dynamics_fit_steps"):
        if task == "dino" and rom[k] != _Rom.model_fields[k].default:
            raise ConfigError(f"{file}: key 'rom.{k}' applies to the physics-informed tasks, not 'dino'")
    return {"decoder": {"kind": kind, **dec}, "dynamics": model.dynamics.model_dump()}, rom


# ------------------------------------------------------------------------------------------


def _names(cfg):
    return sorted([*cfg.data["parameter_ranges"], *(cfg.data["train_parameters"] or {})])


def _read(ds):
    import numpy as np

    from ..train import parameter_vector

    batch = ds.read(list(range(len(ds))))
    trajs = np.asarray(batch["trajectories"])
    params = np.asarray(parameter_vector(batch)) if batch.get("parameters") else np.zeros((len(trajs), 0), trajs.dtype)
    return trajs, params.astype(trajs.dtype)


def _interval(cfg):
    return cfg.sim.dt * cfg.sim.save_every


def _pde_of(cfg, grid):
    """``beta -> AbstractPDE`` with the sampled parameters (sorted names) set to beta."""
    names = _names(cfg)
    return lambda beta: cfg.sim.make_pde(grid, **{n: beta[i] for i, n in enumerate(names)})


def _physics(cfg, grid):
    """``beta -> AbstractPDE`` (``rom.physics: rhs``) or the data's stepper on it
    (``step``: the one-step difference quotient)."""
    pde = _pde_of(cfg, grid)
    return (lambda beta: cfg.sim.make_stepper(pde(beta))) if cfg.rom["physics"] == "step" else pde


def _loss_fn(cfg, grid):
    """The ROM loss ``(model, batch) -> (loss, {reconstruction, dynamics})``."""
    from ..rom import rom_loss

    phys = _physics(cfg, grid)
    method = {"phirom": "phirom", "pinn_rom": "pinn", "dino": "dino"}[cfg.task]
    return functools.partial(
        rom_loss,
        method=method,
        grid=grid,
        physics=phys,
        weight=cfg.rom["weight"],
        fraction=cfg.rom["fraction"],
        interval=_interval(cfg),
        terms=True,
    )


def _setup(cfg, run_dir, progress):
    import jax

    from .. import rom
    from ._build import _dataset, build_sampler
    from ._schema import require_precision

    require_precision(cfg)
    sampler, pde = build_sampler(cfg)
    data = []
    for split, num in (("train", cfg.data["train_samples"]), ("test", cfg.data["test_samples"])):
        ds = _dataset(cfg, sampler, run_dir, split, num, progress)
        data.append(_read(ds))
        ds.close()
    r, t = cfg.rom, cfg.training
    batches = rom.SnapshotBatches(
        data[0][0][:, : r["train_frames"]],
        data[0][1],
        t["batch_size"],
        seed=cfg.seed,
        warmup_steps=r["warmup_steps"],
        coupling=r["coupling"],
        coupling_ramp_steps=r["coupling_ramp_steps"],
        teacher_forcing_steps=r["teacher_forcing_steps"],
        teacher_forcing_start=r["teacher_forcing_start"],
        teacher_forcing_decay_rate=r["teacher_forcing_decay_rate"],
        observed_fraction=r["observed_fraction"],
        snapshots=r["batch"] == "snapshots",
    )
    k_model, k_fit = jax.random.split(jax.random.fold_in(jax.random.key(cfg.seed), 2))
    dec = dict(cfg.model["decoder"])
    kind, k = dec.pop("kind"), dec.pop("latent_size")
    try:
        model = rom.initial_model(
            batches,
            pde.grid,
            latent_size=k,
            key=k_model,
            decoder=kind,
            decoder_options=dec,
            dynamics_options=cfg.model["dynamics"],
            periodic=pde.periodic_axes,
        )
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{cfg.path}: key 'model': {e}") from None
    return pde, model, batches, data[0], data[1], k_fit


def _test_observed(cfg, trajs):
    """Sparse runs encode test states from the same share of points (fixed per trajectory)."""
    import numpy as np

    from ..rom import sensor_indices

    frac = cfg.rom["observed_fraction"]
    if frac is None:
        return None
    return sensor_indices(int(np.prod(trajs.shape[3:])), frac, count=len(trajs), seed=cfg.seed, stream=29)


def _errors(cfg, model, pde, trajs, params, observed, physics=None):
    from ..rom import forecast_errors

    return forecast_errors(
        model,
        trajs,
        params,
        pde.grid,
        _interval(cfg),
        observed=observed,
        encode_steps=cfg.rom["encode_steps"],
        encode_learning_rate=cfg.rom["encode_learning_rate"],
        physics=physics,
    )


def train_rom(cfg, run_dir: Path, *, resume: bool = False, progress=None) -> dict:
    import equinox as eqx
    import jax.numpy as jnp

    from .. import rom
    from ..train import maybe_initialize_distributed
    from ._build import run_fit

    maybe_initialize_distributed()
    pde, model, batches, train_data, test_data, k_fit = _setup(cfg, run_dir, progress)
    t, n_tr = cfg.training, cfg.rom["train_frames"]
    test_trajs, test_params = test_data
    test_obs = _test_observed(cfg, test_trajs)

    physics_informed = cfg.task != "dino"
    if physics_informed:  # the probe of the two gradients at the end of the warm-up
        probe = {k: jnp.asarray(v) for k, v in batches(0).items()}
        ratio = eqx.filter_jit(
            lambda m: rom.gradient_ratio(
                m,
                probe,
                method="pinn" if cfg.task == "pinn_rom" else "phirom",
                grid=pde.grid,
                physics=_physics(cfg, pde.grid),
                weight=cfg.rom["weight"],
                fraction=cfg.rom["fraction"],
            )
        )

    def eval_fn(m):
        curves, _ = _errors(cfg, m, pde, test_trajs, test_params, test_obs)
        out = {f"unseen_{k}": v for k, v in rom.window_summary(curves, n_tr).items()}
        if physics_informed:  # the physics gradient against the reconstruction's, coupling on
            out["gradient_ratio"] = float(ratio(m))
        return out

    print(
        f"training {cfg.name}: {cfg.task} ROM, latent size {cfg.model['decoder']['latent_size']}, "
        f"{len(batches.trajectories)} trajectories x {n_tr} frames, batch {t['batch_size']}, "
        f"{t['num_steps']} steps -> {run_dir}"
    )
    final_loss, rate, last = run_fit(
        cfg,
        model,
        _loss_fn(cfg, pde.grid),
        batches,
        run_dir,
        key=k_fit,
        eval_fn=eval_fn,
        mesh=cfg.mesh(),
        resume=resume,
        progress=progress,
        has_aux=True,
        eval_steps=(cfg.rom["warmup_steps"],) if cfg.rom["warmup_steps"] else (),
    )
    if physics_informed and cfg.rom["dynamics_fit_steps"]:
        last = _fit_dynamics(cfg, run_dir, model, pde, train_data[1], k_fit, eval_fn) or last
    final = {k: last[f"unseen_{k}"] for k in ("interpolation", "extrapolation")}
    return {"run_dir": run_dir, "final_loss": final_loss, "unseen": final, "samples_per_s": rate}


def _fit_dynamics(cfg, run_dir, template, pde, train_params, key, eval_fn):
    """After training: refit the dynamics to the full-grid projected velocity
    ([`jaxpde.rom.fit_dynamics`][jaxpde.rom.fit_dynamics]) and checkpoint the result one
    step after the last (its metadata marks it, so a resumed run does not refit twice).
    Returns the evaluation after the fit, or None when it was already done."""
    import time

    import equinox as eqx

    from .. import rom
    from ..train import Checkpointer, trainable
    from ..train._loop import append_history, read_history
    from ._build import build_optimiser

    r = cfg.rom
    opt_state = build_optimiser(cfg).init(eqx.filter(template, trainable(template)))
    ckpt = Checkpointer(run_dir / "checkpoints", every=cfg.training["checkpoint_every"], keep=cfg.training["keep"])
    try:
        model, opt_state, key, meta = ckpt.restore(template, opt_state, key)
        done = meta.get("dynamics_fit")
        if done:  # a resumed run: keep its record (the resume trims the history to the steps before)
            if not any("dynamics_fit" in rec for rec in read_history(run_dir / "metrics.jsonl")):
                append_history(run_dir / "metrics.jsonl", {"step": int(meta["step"]), "dynamics_fit": done})
            return None
        t0 = time.perf_counter()
        model, info = eqx.filter_jit(
            lambda m: rom.fit_dynamics(
                m,
                train_params,
                _physics(cfg, pde.grid),
                pde.grid,
                num_steps=r["dynamics_fit_steps"],
                learning_rate=r["dynamics_fit_learning_rate"],
                autodiff=cfg.task == "pinn_rom",
            )
        )(model)
        info = {k: float(v) for k, v in info.items()}
        seconds = time.perf_counter() - t0
        step = int(meta["step"])
        fit_info = {**info, "steps": r["dynamics_fit_steps"], "seconds": seconds}
        ckpt.save(step + 1, model, opt_state, key, {**meta, "dynamics_fit": fit_info}, force=True)
    finally:
        ckpt.close()
    print(
        f"dynamics refit to the full-grid projected velocity: {r['dynamics_fit_steps']} steps in {seconds:.1f} s, "
        f"loss {info['loss_before']:.3e} -> {info['loss_after']:.3e}"
    )
    last = {k: (v.tolist() if hasattr(v, "tolist") else v) for k, v in eval_fn(model).items()}
    append_history(run_dir / "metrics.jsonl", {"step": step, "dynamics_fit": fit_info, "eval": last})
    return last


def _parameter_groups(train_params, test_params) -> dict:
    """Test trajectories by their parameters: inside the box of the training parameters
    (interpolating) or outside it (out of range); empty when there are no parameters or
    only one group."""
    import numpy as np

    if not train_params.shape[1]:
        return {}
    lo, hi = train_params.min(axis=0), train_params.max(axis=0)
    tol = 1e-9 * np.maximum(np.abs(hi - lo), 1e-30)
    inside = np.all((test_params >= lo - tol) & (test_params <= hi + tol), axis=1)
    if inside.all() or not inside.any():
        return {}
    return {"unseen_interpolating": np.flatnonzero(inside), "unseen_out_of_range": np.flatnonzero(~inside)}


def _grouped(curve, groups, n_tr) -> dict:
    from ..rom import window_summary

    out = {s: window_summary(curve[s], n_tr) for s in curve}
    for name, rows in groups.items():
        if "unseen" in curve:
            out[name] = window_summary(curve["unseen"][rows], n_tr)
    return out


def evaluate_rom(cfg, run_dir: Path, *, compare=(), progress=None) -> dict:
    import equinox as eqx
    import numpy as np

    from ..rom import plot_errors, pod_errors, projection_errors
    from ..train import Checkpointer, trainable
    from ._build import build_optimiser

    pde, model, batches, (train_trajs, train_params), (test_trajs, test_params), k_fit = _setup(cfg, run_dir, progress)
    opt = build_optimiser(cfg)
    ckpt = Checkpointer(run_dir / "checkpoints", every=cfg.training["checkpoint_every"])
    model, _, _, meta = ckpt.restore(model, opt.init(eqx.filter(model, trainable(model))), k_fit)
    ckpt.close()
    n_tr = cfg.rom["train_frames"]
    label = {"phirom": "Φ-ROM", "dino": "DINo-style (data-driven)", "pinn_rom": "PINN-ROM"}[cfg.task]
    seen, _ = _errors(cfg, model, pde, train_trajs, train_params, batches.observed)
    unseen, unseen_pred = _errors(cfg, model, pde, test_trajs, test_params, _test_observed(cfg, test_trajs))
    curves = {label: {"seen": seen, "unseen": unseen}}
    # how far the decoder alone can go: the best code per frame, no dynamics involved
    fit = dict(encode_learning_rate=cfg.rom["encode_learning_rate"], encode_steps=cfg.rom["encode_steps"])
    curves[f"{label}: decoder best fit"] = {
        "seen": projection_errors(model, train_trajs, pde.grid, **fit),
        "unseen": projection_errors(model, test_trajs, pde.grid, **fit),
    }
    if cfg.rom["projected_forecast"]:  # the learned manifold with the solver's own dynamics
        phys = _physics(cfg, pde.grid)
        curves[f"{label}: solver-projected dynamics"] = {
            "seen": _errors(cfg, model, pde, train_trajs, train_params, batches.observed, phys)[0],
            "unseen": _errors(cfg, model, pde, test_trajs, test_params, _test_observed(cfg, test_trajs), phys)[0],
        }
    notes = {}
    if cfg.rom["observed_fraction"] is None:
        rank = cfg.model["decoder"]["latent_size"]
        snaps, make = train_trajs[:, :n_tr], _pde_of(cfg, pde.grid)
        curves[f"POD-Galerkin (rank {rank})"] = {
            "seen": pod_errors(snaps, train_trajs, train_params, make, _interval(cfg), rank),
            "unseen": pod_errors(snaps, test_trajs, test_params, make, _interval(cfg), rank),
        }
    else:
        notes["pod_galerkin"] = "skipped: POD needs full-grid snapshots and this run trains on sparse observations"
    times = (np.arange(test_trajs.shape[1]) * _interval(cfg)).tolist()
    groups = _parameter_groups(train_params, test_params)
    out = {
        "step": meta["step"],
        "task": cfg.task,
        "times": times,
        "train_frames": n_tr,
        "t_train": times[n_tr - 1],
        "t_test": times[-1],
        "errors": {k: _grouped(v, groups, n_tr) for k, v in curves.items()},
        "curves": {k: {s: v[s].mean(axis=0).tolist() for s in v} for k, v in curves.items()},
        **notes,
    }
    for other in compare:
        path = Path(other) / "eval.json"
        if not path.exists():
            raise ConfigError(f"{other}: no eval.json to compare with; run 'jaxpde evaluate {other}' first")
        o = json.loads(path.read_text())
        if o["times"] != times:
            raise ConfigError(f"{other}: its frames differ from this run's; compare runs on the same data")
        first = next(iter(o["curves"]))
        out["curves"][f"{first} ({Path(other).name})"] = o["curves"][first]
        out["errors"][f"{first} ({Path(other).name})"] = o["errors"][first]
    (run_dir / "eval.json").write_text(json.dumps(out, indent=1))
    out["png"] = run_dir / "rom_errors.png"
    plot_errors(out, test_trajs[0], unseen_pred[0], pde.grid, out["png"], title=f"{cfg.name} (step {out['step']})")
    return out
