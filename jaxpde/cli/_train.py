"""``jaxpde train CONFIG.yaml [--resume]`` and ``jaxpde evaluate RUN_DIR``.

A training config has a ``data`` section (a simulation config, as for ``jaxpde simulate``,
that makes one trajectory per random initial condition), a ``model`` section, a ``task``
and a ``training`` section:

- ``task: operator``: learn the map from the first saved frame to the next (e.g.
  ``u(0) -> u(1)``); the model output is the next frame.
- ``task: emulator``: an autoregressive stepper ``u_{n+1} = u_n + model(u_n)`` between
  saved frames, trained one step at a time or unrolled (``loss.kind: rollout``).
- ``task: solver_in_the_loop``: a coarse differentiable solver (one ETDRK step of the
  frame interval, order ``coarse.order``) corrected by the model,
  ``u_{n+1} = S(u_n) + model(S(u_n))``; the loss back-propagates through the solver.
- ``task: phirom | dino | pinn_rom``: a neural-field reduced-order model (see
  :mod:`jaxpde.cli._rom`).
"""

import difflib
import json
from dataclasses import dataclass
from pathlib import Path

import yaml

from ._config import ConfigError, _number, _unknown, parse_config

from ._rom import ROM_TASKS, evaluate_rom, parse_rom, train_rom

TASKS = ("operator", "emulator", "solver_in_the_loop", *ROM_TASKS)
TOP_KEYS = ("name", "seed", "precision", "task", "data", "model", "training", "coarse", "rom")
DATA_EXTRA = {"train_samples": 1000, "test_samples": 100, "online": False, "parameter_ranges": None, "burn_in": 0}
TRAINING_KEYS = {
    "batch_size": 16, "num_steps": 1000, "optimiser": "adamw", "learning_rate": 1e-3, "weight_decay": 0.0,
    "schedule": "cosine", "warmup_steps": 0, "clip_norm": None, "loss": "one_step", "horizon": 1,
    "pushforward": False, "window": None, "checkpoint_every": 500, "keep": 3, "eval_every": 0, "eval_horizon": None,
}
OPTIMISERS = ("adam", "adamw", "sgd", "lion")
SCHEDULES = ("constant", "cosine", "warmup_cosine", "exponential")


@dataclass
class TrainConfig:
    path: Path
    name: str
    seed: int
    precision: str
    task: str
    sim: object  # SimulationConfig of one trajectory
    data: dict
    model: dict
    training: dict
    coarse: dict
    raw: dict
    rom: dict | None = None


def _model_registry():
    from .. import nn

    return nn.OPERATORS


def parse_train_config(raw: dict, path) -> TrainConfig:
    path = Path(path)
    file = str(path)
    for k in raw:
        if k not in TOP_KEYS:
            raise _unknown(k, k, TOP_KEYS, file)
    for k in ("data", "model", "training"):
        if not isinstance(raw.get(k), dict):
            raise ConfigError(f"{file}: key '{k}' must be a mapping (required)")
    task = raw.get("task", "emulator")
    if task not in TASKS:
        raise ConfigError(f"{file}: key 'task' must be one of {', '.join(TASKS)}, got {task!r}")
    data_raw = dict(raw["data"])
    data = {k: data_raw.pop(k, v) for k, v in DATA_EXTRA.items()}
    _number(data["train_samples"], "data.train_samples", file, integer=True, positive=True)
    _number(data["test_samples"], "data.test_samples", file, integer=True, positive=True)
    _number(data["burn_in"], "data.burn_in", file, integer=True, nonnegative=True)
    if not isinstance(data["online"], bool):
        raise ConfigError(f"{file}: key 'data.online' must be true or false")
    ranges = data["parameter_ranges"] or {}
    if not isinstance(ranges, dict):
        raise ConfigError(f"{file}: key 'data.parameter_ranges' must map parameter names to [low, high]")
    for k in ("seed", "precision"):
        if k in raw:
            data_raw[k] = raw[k]
    data_raw.setdefault("name", raw.get("name", path.stem))
    if "integrator" in data_raw:
        raise ConfigError(f"{file}: key 'data.integrator': training data uses fixed-step solvers (stepper, dt)")
    try:
        sim = parse_config(data_raw, path)
    except ConfigError as e:
        raise ConfigError(f"{e} (in section 'data')") from None
    from ._config import EQUATIONS, _keyword_params

    known = _keyword_params(EQUATIONS[sim.equation])
    for name, bounds in ranges.items():
        if name not in known:
            raise _unknown(f"data.parameter_ranges.{name}", name, known, file)
        if not (isinstance(bounds, list) and len(bounds) == 2):
            raise ConfigError(f"{file}: key 'data.parameter_ranges.{name}' must be [low, high]")
        for b in bounds:
            _number(b, f"data.parameter_ranges.{name}", file)
        if bounds[0] > bounds[1]:
            raise ConfigError(f"{file}: key 'data.parameter_ranges.{name}' needs low <= high")
    data["parameter_ranges"] = ranges
    frames = sim.num_steps // sim.save_every + 1
    if task == "operator" and frames != 2:
        raise ConfigError(f"{file}: task 'operator' maps one frame to the next: set data.save_every = "
                          f"data.num_steps (got {frames} frames)")

    if task in ROM_TASKS:
        model, rom = parse_rom(raw, file, frames, task)
    else:
        if "rom" in raw:
            raise ConfigError(f"{file}: key 'rom' only applies to the tasks {', '.join(ROM_TASKS)}")
        model, rom = _parse_model(raw, file, ranges), None
    training = _parse_training(raw, file, data, frames)
    coarse = dict(raw.get("coarse") or {})
    if task == "solver_in_the_loop":
        for k in coarse:
            if k not in ("order", "substeps"):
                raise _unknown(f"coarse.{k}", k, ("order", "substeps"), file)
        coarse.setdefault("order", 1)
        coarse.setdefault("substeps", 1)
        _number(coarse["order"], "coarse.order", file, integer=True, positive=True)
        _number(coarse["substeps"], "coarse.substeps", file, integer=True, positive=True)
        if coarse["order"] > 4:
            raise ConfigError(f"{file}: key 'coarse.order' must be 1 to 4")
        if ranges:
            raise ConfigError(f"{file}: key 'data.parameter_ranges': the coarse solver of solver_in_the_loop uses "
                              "the fixed data.parameters; sampled parameters are not supported for this task")
    elif coarse:
        raise ConfigError(f"{file}: key 'coarse' only applies to task 'solver_in_the_loop'")
    return TrainConfig(path=path, name=sim.name, seed=sim.seed, precision=sim.precision, task=task, sim=sim,
                       data=data, model=model, training=training, coarse=coarse, raw=raw, rom=rom)


def _parse_model(raw, file, ranges) -> dict:
    model = dict(raw["model"])
    registry = _model_registry()
    kind = model.pop("kind", None)
    if kind not in registry:
        close = difflib.get_close_matches(str(kind), registry, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else f" (known: {', '.join(sorted(registry))})"
        raise ConfigError(f"{file}: key 'model.kind': unknown model {kind!r}{hint}")
    from ._config import _check_params

    model_kwargs = _check_params(model, registry[kind], "model", file)
    for k in ("in_channels", "out_channels", "ndim"):
        if k in model_kwargs:
            raise ConfigError(f"{file}: key 'model.{k}' is set from the data (do not give it)")
    if model_kwargs.get("num_parameters") and model_kwargs["num_parameters"] != len(ranges):
        raise ConfigError(f"{file}: key 'model.num_parameters' ({model_kwargs['num_parameters']}) must equal the "
                          f"number of sampled PDE parameters in data.parameter_ranges ({len(ranges)})")
    return {"kind": kind, **model_kwargs}


def _parse_training(raw, file, data, frames) -> dict:
    training = dict(TRAINING_KEYS)
    for k, v in raw["training"].items():
        if k not in TRAINING_KEYS:
            raise _unknown(f"training.{k}", k, TRAINING_KEYS, file)
        training[k] = v
    for k in ("batch_size", "num_steps", "horizon", "checkpoint_every", "keep"):
        _number(training[k], f"training.{k}", file, integer=True, positive=True)
    for k in ("warmup_steps", "eval_every"):
        _number(training[k], f"training.{k}", file, integer=True, nonnegative=True)
    _number(training["learning_rate"], "training.learning_rate", file, positive=True)
    _number(training["weight_decay"], "training.weight_decay", file, nonnegative=True)
    if training["clip_norm"] is not None:
        _number(training["clip_norm"], "training.clip_norm", file, positive=True)
    if training["optimiser"] not in OPTIMISERS:
        raise ConfigError(f"{file}: key 'training.optimiser' must be one of {', '.join(OPTIMISERS)}")
    if training["schedule"] not in SCHEDULES:
        raise ConfigError(f"{file}: key 'training.schedule' must be one of {', '.join(SCHEDULES)}")
    if training["loss"] not in ("one_step", "rollout"):
        raise ConfigError(f"{file}: key 'training.loss' must be one_step or rollout")
    if training["loss"] == "rollout" and training["horizon"] >= frames:
        raise ConfigError(f"{file}: key 'training.horizon' ({training['horizon']}) needs more frames; "
                          f"the data has {frames}")
    if training["window"] is not None:
        if data["online"]:
            raise ConfigError(f"{file}: key 'training.window' applies to data on disk; online batches use whole "
                              "trajectories (shorten data.num_steps instead)")
        _number(training["window"], "training.window", file, integer=True)
        need = training["horizon"] + 1 if training["loss"] == "rollout" else 2
        if not need <= training["window"] <= frames:
            raise ConfigError(f"{file}: key 'training.window' must be between {need} and {frames} (frames per "
                              "trajectory)")
    if training["eval_horizon"] is None:
        training["eval_horizon"] = frames - 1
    _number(training["eval_horizon"], "training.eval_horizon", file, integer=True, positive=True)
    if training["eval_horizon"] >= frames:
        raise ConfigError(f"{file}: key 'training.eval_horizon' must be < {frames} (the number of frames)")
    if training["batch_size"] > data["train_samples"] and not data["online"]:
        raise ConfigError(f"{file}: key 'training.batch_size' exceeds data.train_samples")
    return training


# ------------------------------------------------------------------------------------------
# building the pieces (imports JAX lazily)


def _setup_precision(cfg):
    import jax

    if cfg.precision == "float64":
        jax.config.update("jax_enable_x64", True)


def build_sampler(cfg):
    """The solver sampler ``key -> (trajectory, parameters)`` of the data section."""
    from ..train import make_sampler
    from ._build import build_problem, ic_sampler, make_pde, make_stepper

    sim = cfg.sim
    pde, _ = build_problem(sim)  # validates the equation and the IC shape
    sample_ic, takes_key = ic_sampler(sim, pde)
    if not takes_key and not cfg.data["parameter_ranges"]:
        raise ConfigError(f"{cfg.path}: key 'data.initial_condition.kind': training data needs a random initial "
                          f"condition (one with a key), not '{sim.ic_kind}', or sampled parameters "
                          "(data.parameter_ranges)")
    return make_sampler(lambda p: make_stepper(sim, make_pde(sim, pde.grid, **p)), sample_ic,
                        num_steps=sim.num_steps, save_every=sim.save_every,
                        parameter_ranges=cfg.data["parameter_ranges"], burn_in=cfg.data["burn_in"]), pde


def build_model(cfg, pde, key):
    """The network of the config and the stepper the loss trains."""
    from .. import nn

    cls = nn.OPERATORS[cfg.model["kind"]]
    kwargs = {k: v for k, v in cfg.model.items() if k != "kind"}
    c = pde.num_channels
    ndim = len(cfg.sim.num_points)
    try:
        net = cls(c, c, ndim=ndim, key=key, **kwargs)
        import equinox as eqx
        import jax.numpy as jnp

        probe = jnp.zeros(pde.state_shape)
        extra = (jnp.zeros(len(cfg.data["parameter_ranges"])),) if kwargs.get("num_parameters") else ()
        eqx.filter_eval_shape(lambda m: m(probe, *extra), net)  # shape checks (modes vs grid) before any work
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{cfg.path}: key 'model': {e}") from None
    interval = cfg.sim.dt * cfg.sim.save_every
    if cfg.task == "solver_in_the_loop":
        return nn.CorrectedStepper(coarse_solver(cfg, pde), net)
    return nn.OperatorStepper(net, interval, residual=cfg.task == "emulator")


def coarse_solver(cfg, pde):
    from ..spectral import ETDRK

    interval = cfg.sim.dt * cfg.sim.save_every
    return ETDRK(pde, interval, order=cfg.coarse["order"], substeps=cfg.coarse["substeps"])


def build_optimiser(cfg):
    from ..train import make_optimiser

    t = cfg.training
    return make_optimiser(t["optimiser"], t["learning_rate"], num_steps=t["num_steps"], schedule=t["schedule"],
                          warmup_steps=t["warmup_steps"], weight_decay=t["weight_decay"], clip_norm=t["clip_norm"])


def _dataset(cfg, sampler, run_dir: Path, split: str, num: int, progress):
    """The train or test HDF5 file of a run (generated once)."""
    import jax
    import numpy as np

    from ..train import cached_dataset

    key = jax.random.fold_in(jax.random.key(cfg.seed), {"train": 0, "test": 1}[split])
    source = {"config": cfg.raw["data"], "split": split, "seed": cfg.seed}
    times = np.arange(cfg.sim.num_steps // cfg.sim.save_every + 1) * cfg.sim.dt * cfg.sim.save_every
    return cached_dataset(run_dir / "data" / f"{split}.h5", sampler, num_samples=num, key=key, source=source,
                          times=times, progress=progress)


def _conditioned(cfg) -> bool:
    return bool(cfg.model.get("num_parameters"))


def _loss(cfg):
    from ..train import one_step_loss, rollout_loss

    t, cond = cfg.training, _conditioned(cfg)
    if t["loss"] == "rollout":
        return lambda m, b: rollout_loss(m, b, t["horizon"], pushforward=t["pushforward"], conditioned=cond)
    return lambda m, b: one_step_loss(m, b, conditioned=cond)


def _test_data(cfg, test, horizon):
    """Held-out trajectories ``(B, horizon + 1, C, *N)`` and, for a conditioned model,
    their PDE parameters ``(B, P)``."""
    import jax.numpy as jnp

    from ..train import parameter_vector

    batch = test.read(list(range(len(test))))
    params = parameter_vector(batch) if _conditioned(cfg) else None
    return jnp.asarray(batch["trajectories"][:, : horizon + 1]), params


def _setup(cfg):
    """``(sampler, pde, model, fit_key)`` of a config: the same in ``train`` and
    ``evaluate``, so a checkpoint restores into the model it was saved from."""
    import jax

    _setup_precision(cfg)
    sampler, pde = build_sampler(cfg)
    k_model, k_fit = jax.random.split(jax.random.fold_in(jax.random.key(cfg.seed), 2))
    return sampler, pde, build_model(cfg, pde, k_model), k_fit


def train(cfg: TrainConfig, run_dir: Path, *, resume: bool = False, progress=None) -> dict:
    """Run a training config into `run_dir` (data, checkpoints, metrics, plots)."""
    from ..train import DatasetBatches, OnlineBatches, data_mesh, fit, maybe_initialize_distributed, rollout_nrmse

    maybe_initialize_distributed()
    run_dir = Path(run_dir)
    cfg_copy = run_dir / "config.yaml"
    if resume:
        if not cfg_copy.exists():
            raise ConfigError(f"{run_dir}: no run to resume here (no config.yaml); start without --resume")
        if yaml.safe_load(cfg_copy.read_text()) != cfg.raw:
            raise ConfigError(f"{run_dir}: the run was started with a different config ({cfg_copy}); "
                              "resume with the same file or choose a new --out")
    elif (run_dir / "checkpoints").exists() and any((run_dir / "checkpoints").iterdir()):
        raise ConfigError(f"{run_dir} already holds a run; pass --resume to continue it or choose a new --out")
    run_dir.mkdir(parents=True, exist_ok=True)
    cfg_copy.write_text(yaml.safe_dump(cfg.raw, sort_keys=False))
    if cfg.task in ROM_TASKS:
        return train_rom(cfg, run_dir, resume=resume, progress=progress)

    sampler, pde, model, k_fit = _setup(cfg)
    t = cfg.training
    test = _dataset(cfg, sampler, run_dir, "test", cfg.data["test_samples"], progress)
    if cfg.data["online"]:
        data = OnlineBatches(sampler, t["batch_size"])
    else:
        data = DatasetBatches(_dataset(cfg, sampler, run_dir, "train", cfg.data["train_samples"], progress),
                              t["batch_size"], seed=cfg.seed, window=t["window"])
    horizon = t["eval_horizon"]
    test_trajs, test_params = _test_data(cfg, test, horizon)
    eval_fn = lambda m: {"nrmse": rollout_nrmse(m, test_trajs, horizon=horizon, parameters=test_params)}
    mesh = data_mesh()
    print(f"training {cfg.name}: {cfg.model['kind']} ({cfg.task}), {len(mesh.devices.flat)} device(s), "
          f"batch {t['batch_size']}, {t['num_steps']} steps -> {run_dir}")
    result = fit(model, build_optimiser(cfg), _loss(cfg), data, num_steps=t["num_steps"], key=k_fit,
                 run_dir=run_dir, checkpoint_every=t["checkpoint_every"], keep=t["keep"], resume=resume,
                 eval_fn=eval_fn, eval_every=t["eval_every"] or None, mesh=mesh, progress=progress,
                 config=cfg.raw)
    losses = [r for r in result.history if "loss" in r]
    rates = [r["samples_per_s"] for r in losses[len(losses) // 2 :]]
    final = [r for r in result.history if "eval" in r][-1]["eval"]["nrmse"]
    return {"run_dir": run_dir, "final_loss": losses[-1]["loss"], "test_nrmse": final,
            "samples_per_s": sum(rates) / max(len(rates), 1)}


def evaluate(run_dir: Path, *, compare=(), progress=None) -> dict:
    """Restore the latest checkpoint of a run and measure nRMSE against rollout horizon on
    the held-out trajectories (and, for solver-in-the-loop, the uncorrected coarse
    solver's error). Writes ``eval.json`` and ``nrmse.png`` into the run directory."""
    import equinox as eqx
    import numpy as np

    from ..train import Checkpointer, rollout_nrmse

    run_dir = Path(run_dir)
    cfg_path = run_dir / "config.yaml"
    if not cfg_path.exists():
        raise ConfigError(f"{run_dir}: not a training run directory (no config.yaml)")
    raw = yaml.safe_load(cfg_path.read_text())
    cfg = parse_train_config(raw, cfg_path)
    if cfg.task in ROM_TASKS:
        return evaluate_rom(cfg, run_dir, compare=compare, progress=progress)
    if compare:
        raise ConfigError("--compare applies to reduced-order-model runs")
    sampler, pde, model, k_fit = _setup(cfg)
    opt = build_optimiser(cfg)

    ckpt = Checkpointer(run_dir / "checkpoints", every=cfg.training["checkpoint_every"])
    model, _, _, meta = ckpt.restore(model, opt.init(eqx.filter(model, eqx.is_inexact_array)), k_fit)
    ckpt.close()
    test = _dataset(cfg, sampler, run_dir, "test", cfg.data["test_samples"], progress)
    horizon = test.shape[0] - 1
    trajs, params = _test_data(cfg, test, horizon)
    curves = {"model": np.asarray(rollout_nrmse(model, trajs, horizon=horizon, parameters=params))}
    if cfg.task == "solver_in_the_loop":
        order = cfg.coarse["order"]
        curves = {f"coarse ETDRK{order} + correction": curves["model"],
                  f"coarse ETDRK{order} alone": np.asarray(rollout_nrmse(coarse_solver(cfg, pde), trajs, horizon=horizon))}
    if cfg.task == "emulator":  # context: how far the state moves away from where it started
        curves["persistence (u_n = u_0)"] = np.asarray(rollout_nrmse(lambda u: u, trajs, horizon=horizon))
    interval = cfg.sim.dt * cfg.sim.save_every
    out = {"step": meta["step"], "horizon_time": (np.arange(1, horizon + 1) * interval).tolist(),
           "nrmse": {k: v.tolist() for k, v in curves.items()}}
    (run_dir / "eval.json").write_text(json.dumps(out, indent=1))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for k, v in curves.items():
        ax.semilogy(out["horizon_time"], v, "o-", ms=3, label=k)
    ax.set_xlabel("rollout time")
    ax.set_ylabel("nRMSE (mean over test trajectories)")
    ax.set_title(f"{cfg.name}: {len(trajs)} held-out trajectories, step {meta['step']}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(run_dir / "nrmse.png", dpi=110)
    plt.close(fig)
    out["png"] = run_dir / "nrmse.png"
    return out
