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
  `jaxpde.cli._rom`).
"""

import difflib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import pydantic
import yaml

from ._build import _dataset, build_optimiser, build_sampler, run_fit
from ._config import ConfigError, parse_config
from ._rom import ROM_TASKS, evaluate_rom, parse_rom, train_rom
from ._schema import PlainName, devices_section, require_precision

TASKS = ("operator", "emulator", "solver_in_the_loop", *ROM_TASKS)
OPTIMISERS = ("adam", "adamw", "sgd", "lion")
SCHEDULES = ("constant", "cosine", "warmup_cosine", "exponential")
UNROLLED_LOSSES = ("rollout", "assimilation", "refiner")  # the losses that read training.horizon


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
    devices: int | None = None
    refiner: dict | None = None
    observer: dict | None = None

    def mesh(self):
        """The data mesh of the run: the first `devices` devices (default: all)."""
        return config_data_mesh(self.devices, self.path)


def config_data_mesh(count: int | None, file):
    """A data mesh over the first `count` devices (``None``: all); a config error when
    there are fewer."""
    import jax

    from ..train import data_mesh

    available = jax.devices()
    if count is not None and count > len(available):
        raise ConfigError(
            f"{file}: key 'devices': {count} devices asked for, {len(available)} available (on CPU, simulate "
            f"more with XLA_FLAGS=--xla_force_host_platform_device_count={count} set before jax is imported)"
        )
    return data_mesh(available if count is None else available[:count])


def _model_registry():
    from .. import nn

    return nn.OPERATORS


class _Strict(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")


class _DataExtra(_Strict):
    train_samples: pydantic.PositiveInt = 1000
    test_samples: pydantic.PositiveInt = 100
    online: bool = False
    parameter_ranges: dict[str, tuple[float, float]] | None = None
    train_parameters: dict[str, list[float]] | None = None
    test_parameters: dict[str, list[float]] | None = None
    burn_in: pydantic.NonNegativeInt = 0


class _Training(_Strict):
    batch_size: pydantic.PositiveInt = 16
    num_steps: pydantic.PositiveInt = 1000
    optimiser: Literal[OPTIMISERS] = "adamw"  # type: ignore[valid-type]
    learning_rate: pydantic.PositiveFloat = 1e-3
    weight_decay: pydantic.NonNegativeFloat = 0.0
    schedule: Literal[SCHEDULES] = "cosine"  # type: ignore[valid-type]
    warmup_steps: pydantic.NonNegativeInt = 0
    clip_norm: pydantic.PositiveFloat | None = None
    learning_rates: dict[Literal["decoder", "latents", "dynamics"], pydantic.PositiveFloat] | None = None
    decay_rate: Annotated[float, pydantic.Field(gt=0, le=1)] = 0.5
    decay_steps: pydantic.PositiveInt | None = None
    staircase: bool = False
    final_learning_rate: pydantic.PositiveFloat | None = None
    loss: Literal["one_step", "rollout", "refiner", "assimilation"] = "one_step"
    horizon: pydantic.PositiveInt = 1
    pushforward: bool = False
    curriculum: bool = False
    curriculum_fraction: Annotated[float, pydantic.Field(gt=0, le=1)] = 0.5
    normalise: bool = False
    window: pydantic.PositiveInt | None = None
    checkpoint_every: pydantic.PositiveInt = 500
    keep: pydantic.PositiveInt = 3
    eval_every: pydantic.NonNegativeInt = 0
    eval_horizon: pydantic.PositiveInt | None = None


class _Coarse(_Strict):
    order: Literal[1, 2, 3, 4] = 1
    substeps: pydantic.PositiveInt = 1


class _Refiner(_Strict):
    num_refinements: pydantic.PositiveInt = 3
    min_noise: Annotated[float, pydantic.Field(gt=0, lt=1)] = 1e-3
    base_fraction: Annotated[float, pydantic.Field(ge=0, le=1)] | None = None  # share of k = 0 draws
    precondition: bool = False  # nn.SpectralPreconditioner of the refinement steps (fitted with the normalisation)
    gate: bool = False  # the refinement step also gates every hidden layer (an FNO's ChannelAttention)


class _Observer(_Strict):
    model: dict | None = None  # the observer network; default: the model's kind and size
    sensor_every: pydantic.PositiveInt = 10
    noise: pydantic.NonNegativeFloat = 0.05
    guess: pydantic.NonNegativeFloat = 1.0


class _Train(_Strict):
    """A ``kind: train`` config."""

    name: PlainName | None = None
    seed: pydantic.NonNegativeInt | None = None
    precision: Literal["float32", "float64"] | None = None
    task: Literal[TASKS] = "emulator"  # type: ignore[valid-type]
    data: dict
    model: dict
    training: _Training = _Training()
    coarse: _Coarse | None = None
    refiner: _Refiner | None = None
    observer: _Observer | None = None
    rom: dict | None = None
    devices: devices_section("data") | None = None  # type: ignore[valid-type]


def _err(file, key, msg):
    return ConfigError(f"{file}: key '{key}' {msg}")


def parse_train_config(raw: dict, path) -> TrainConfig:
    """Validate a training config: its sections against their schemas, the ``data``
    section as a simulation config, then the rules that tie them together."""
    from ._schema import validate

    path = Path(path)
    file = str(path)
    c = validate(_Train, raw, file)
    extra_keys = set(_DataExtra.model_fields)
    data = validate(_DataExtra, {k: v for k, v in c.data.items() if k in extra_keys}, file, prefix=("data",))
    data_raw = {k: v for k, v in c.data.items() if k not in extra_keys}
    for k in ("seed", "precision"):
        if getattr(c, k) is not None:
            data_raw[k] = getattr(c, k)
    data_raw.setdefault("name", c.name or path.stem)
    if "integrator" in data_raw:
        raise _err(file, "data.integrator", ": training data uses fixed-step solvers (stepper, dt)")
    try:
        if "flow" in data_raw:
            from ._incompressible import load_incompressible_config

            sim = load_incompressible_config(data_raw, path)
            if sim.dt is None or sim.num_steps is None:
                raise ConfigError(f"{file}: key 'data.dt': training data takes fixed steps; give dt and num_steps")
        elif "law" in data_raw:
            from ._fv import load_fv_config

            sim = load_fv_config(data_raw, path)
            if sim.dt is None:
                raise ConfigError(
                    f"{file}: key 'data.t_final': training data takes fixed steps; give dt, num_steps and save_every"
                )
        else:
            sim = parse_config(data_raw, path)
    except ConfigError as e:
        raise ConfigError(f"{e} (in section 'data')") from None
    ranges = {k: list(v) for k, v in (data.parameter_ranges or {}).items()}
    known = sim.parameter_names()
    for key, names in (
        ("parameter_ranges", ranges),
        ("train_parameters", data.train_parameters or {}),
        ("test_parameters", data.test_parameters or {}),
    ):
        for name in names:
            if name not in known:
                close = difflib.get_close_matches(name, known, n=1)
                hint = f"; did you mean '{close[0]}'?" if close else f"; allowed: {', '.join(known)}"
                raise ConfigError(f"{file}: unknown key 'data.{key}.{name}'{hint}")
    for name, (low, high) in ranges.items():
        if low > high:
            raise _err(file, f"data.parameter_ranges.{name}", "needs low <= high")
    listed = _listed_parameters(data, ranges, raw.get("data") or {}, file)
    frames = sim.num_steps // sim.save_every + 1
    if c.task == "operator" and frames != 2:
        raise ConfigError(
            f"{file}: task 'operator' maps one frame to the next: set data.save_every = "
            f"data.num_steps (got {frames} frames)"
        )
    if c.task in ROM_TASKS:
        model, rom = parse_rom(raw, file, frames, c.task)
    else:
        if c.rom is not None:
            raise _err(file, "rom", f"only applies to the tasks {', '.join(ROM_TASKS)}")
        model, rom = _parse_model(c.model, file, {**ranges, **(data.train_parameters or {})}), None
    data = {**data.model_dump(), "parameter_ranges": ranges, **listed}
    snapshots = bool(rom) and rom["batch"] == "snapshots"
    training = _check_training(
        c.training.model_dump(), file, data, frames, rom["train_frames"] if snapshots else None, rom=bool(rom)
    )
    if c.training.learning_rates is not None and "learning_rate" in c.training.model_fields_set:
        raise _err(
            file,
            "training.learning_rate",
            "is not used when training.learning_rates gives one rate per part; give one or the other",
        )
    coarse = {}
    if c.task == "solver_in_the_loop":
        coarse = (c.coarse or _Coarse()).model_dump()
        if "law" in data_raw:
            raise _err(file, "data.law", ": solver_in_the_loop's coarse solver is spectral (ETDRK); use an equation")
        if ranges or listed:
            raise _err(
                file,
                "data.parameter_ranges",
                ": the coarse solver of solver_in_the_loop uses the fixed "
                "data.parameters; sampled parameters are not supported for this task",
            )
    elif c.coarse is not None:
        raise _err(file, "coarse", "only applies to task 'solver_in_the_loop'")
    if training["normalise"] and c.task not in ("operator", "emulator"):
        raise _err(file, "training.normalise", f"applies to the tasks operator and emulator, not {c.task!r}")
    refiner = None
    if training["loss"] == "refiner":
        if c.task != "emulator":
            raise _err(file, "training.loss", f"'refiner' (PDE-Refiner) applies to task 'emulator', not {c.task!r}")
        refiner = (c.refiner or _Refiner()).model_dump()
        if refiner["gate"] and model.get("kind") != "fno":
            raise _err(
                file, "refiner.gate", f"needs a model with parameter conditioning ('fno'), not {model.get('kind')!r}"
            )
        if refiner["precondition"] and not training["normalise"]:
            raise _err(file, "refiner.precondition", "is fitted with the normalisation: set 'training.normalise: true'")
    elif c.refiner is not None:
        raise _err(file, "refiner", "applies with 'training.loss: refiner'")
    observer = _parse_observer(c, training, model, data_raw, sim, file)
    return TrainConfig(
        path=path,
        name=sim.name,
        seed=sim.seed,
        precision=sim.precision,
        task=c.task,
        sim=sim,
        data=data,
        model=model,
        training=training,
        coarse=coarse,
        raw=raw,
        rom=rom,
        devices=_data_devices(c.devices, path),
        refiner=refiner,
        observer=observer,
    )


def _parse_observer(c, training, model, data_raw, sim, file) -> dict | None:
    """The ``observer`` section of a data-assimilation run (``training.loss:
    assimilation``), with the observer network's spec filled in."""
    if training["loss"] != "assimilation":
        if c.observer is not None:
            raise _err(file, "observer", "applies with 'training.loss: assimilation'")
        return None
    if c.task != "emulator":
        raise _err(file, "training.loss", f"'assimilation' applies to task 'emulator', not {c.task!r}")
    if "law" in data_raw or "flow" in data_raw:
        raise _err(
            file,
            "training.loss",
            "'assimilation' builds on the exact linear step of a spectral equation (data.equation), "
            "not a finite-volume law or an incompressible flow",
        )
    for key in ("normalise", "curriculum", "pushforward"):
        if training[key]:
            raise _err(file, f"training.{key}", "does not apply with 'loss: assimilation'")
    if model.get("num_parameters"):
        raise _err(file, "model.num_parameters", "does not apply with 'loss: assimilation'")
    obs = (c.observer or _Observer()).model_dump()
    obs["model"] = _parse_model(obs["model"], file, {}) if obs["model"] is not None else dict(model)
    smallest = min(sim.num_points)
    if obs["sensor_every"] > smallest:
        raise _err(file, "observer.sensor_every", f"({obs['sensor_every']}) exceeds the grid ({smallest} points)")
    return obs


def _listed_parameters(data, ranges, raw_data, file) -> dict:
    """Explicit train/test parameter lists: one length per split (it sets the split's
    sample count), the same names in both, no name also sampled."""
    out = {}
    train, test = data.train_parameters, data.test_parameters
    if (train is None) != (test is None):
        missing = "test_parameters" if test is None else "train_parameters"
        raise ConfigError(f"{file}: missing key 'data.{missing}' (listed parameters need both splits)")
    if train is None:
        return {}
    if set(train) != set(test):
        raise _err(
            file, "data.test_parameters", f"must name the same parameters as data.train_parameters ({sorted(train)})"
        )
    both = set(train) & set(ranges)
    if both:
        raise _err(file, "data.parameter_ranges", f"and the listed parameters both set {sorted(both)}")
    if data.online:
        raise _err(file, "data.online", "does not apply to listed parameters (the data set is fixed)")
    for split, values in (("train", train), ("test", test)):
        lengths = {len(v) for v in values.values()}
        if len(lengths) != 1 or 0 in lengths:
            raise _err(file, f"data.{split}_parameters", "needs non-empty lists of one length")
        n = lengths.pop()
        if f"{split}_samples" in raw_data and raw_data[f"{split}_samples"] != n:
            raise _err(
                file, f"data.{split}_samples", f"({raw_data[f'{split}_samples']}) differs from the {n} listed values"
            )
        out[f"{split}_samples"] = n
    return out


def _data_devices(devices, file) -> int | None:
    if devices is None:
        return None
    if devices.spatial is not None:
        raise ConfigError(
            f"{file}: key 'devices.spatial': training splits the batch over devices ('devices.data'); "
            "fields are not split in training runs"
        )
    return devices.data


def _parse_model(model, file, ranges) -> dict:
    from ._schema import keyword_model, validate

    model = dict(model)
    registry = _model_registry()
    kind = model.pop("kind", None)
    if kind not in registry:
        close = difflib.get_close_matches(str(kind), registry, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else f" (known: {', '.join(sorted(registry))})"
        raise ConfigError(f"{file}: key 'model.kind': unknown model {kind!r}{hint}")
    for k in ("in_channels", "out_channels", "ndim"):
        if k in model:
            raise _err(file, f"model.{k}", "is set from the data (do not give it)")
    kwargs = validate(
        keyword_model(registry[kind], f"model_{kind}", skip=("key", "in_channels", "out_channels", "ndim")),
        model,
        file,
        prefix=("model",),
    ).model_dump(exclude_unset=True)
    if kwargs.get("num_parameters") and kwargs["num_parameters"] != len(ranges):
        raise _err(
            file,
            "model.num_parameters",
            f"({kwargs['num_parameters']}) must equal the number of sampled PDE "
            f"parameters in data.parameter_ranges ({len(ranges)})",
        )
    return {"kind": kind, **kwargs}


def _check_training(t, file, data, frames, snapshot_frames=None, rom=False) -> dict:
    if t["learning_rates"] is not None:
        if not rom:
            raise _err(file, "training.learning_rates", "applies to reduced-order models (one rate per part)")
        missing = {"decoder", "latents", "dynamics"} - set(t["learning_rates"])
        if missing:
            raise _err(file, "training.learning_rates", f"needs a rate for each part; missing {sorted(missing)}")
    if t["schedule"] != "exponential":
        for k, default in (
            ("decay_rate", 0.5),
            ("decay_steps", None),
            ("staircase", False),
            ("final_learning_rate", None),
        ):
            if t[k] != default:
                raise _err(file, f"training.{k}", f"applies to 'schedule: exponential', not {t['schedule']!r}")
    if t["loss"] in UNROLLED_LOSSES and t["horizon"] >= frames:
        raise _err(file, "training.horizon", f"({t['horizon']}) needs more frames; the data has {frames}")
    if t["curriculum"]:
        if t["loss"] not in ("rollout", "refiner") or t["pushforward"]:
            raise _err(file, "training.curriculum", "applies to 'loss: rollout' (without pushforward) or 'refiner'")
        if t["loss"] == "refiner" and t["horizon"] < 2:
            raise _err(file, "training.curriculum", "needs 'training.horizon' of 2 or more steps to unroll")
        if data["online"]:
            raise _err(file, "training.curriculum", "applies to data on disk (online batches carry no schedule)")
    elif t["curriculum_fraction"] != 0.5:
        raise _err(file, "training.curriculum_fraction", "applies with 'curriculum: true'")
    if t["normalise"] and rom:
        raise _err(file, "training.normalise", "applies to emulators (reduced-order models scale their own data)")
    if t["window"] is not None:
        if data["online"]:
            raise _err(
                file,
                "training.window",
                "applies to data on disk; online batches use whole trajectories (shorten data.num_steps instead)",
            )
        need = t["horizon"] + 1 if t["loss"] in UNROLLED_LOSSES else 2
        if not need <= t["window"] <= frames:
            raise _err(file, "training.window", f"must be between {need} and {frames} (frames per trajectory)")
    if t["eval_horizon"] is None:
        t["eval_horizon"] = frames - 1
    if t["eval_horizon"] >= frames:
        raise _err(file, "training.eval_horizon", f"must be < {frames} (the number of frames)")
    if snapshot_frames is not None:
        if t["batch_size"] > data["train_samples"] * snapshot_frames:
            raise _err(file, "training.batch_size", "exceeds the number of training snapshots (samples x train_frames)")
    elif t["batch_size"] > data["train_samples"] and not data["online"]:
        raise _err(file, "training.batch_size", "exceeds data.train_samples")
    return t


# ------------------------------------------------------------------------------------------
# building the pieces (imports JAX lazily)


def build_model(cfg, pde, key):
    """The network of the config and the stepper the loss trains."""
    from .. import nn

    cls = nn.OPERATORS[cfg.model["kind"]]
    kwargs = {k: v for k, v in cfg.model.items() if k != "kind"}
    c = pde.num_channels
    ndim = pde.grid.ndim
    refined = cfg.refiner is not None
    if refined and cfg.refiner.get("gate"):  # the refinement step is one more parameter of the net
        kwargs["num_parameters"] = kwargs.get("num_parameters", 0) + 1
    try:
        net = cls(2 * c + 1 if refined else c, c, ndim=ndim, key=key, **kwargs)
        import equinox as eqx
        import jax.numpy as jnp

        probe = jnp.zeros((2 * c + 1, *pde.state_shape[1:]) if refined else pde.state_shape)
        extra = (jnp.zeros(kwargs["num_parameters"]),) if kwargs.get("num_parameters") else ()
        eqx.filter_eval_shape(lambda m: m(probe, *extra), net)  # shape checks (modes vs grid) before any work
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{cfg.path}: key 'model': {e}") from None
    interval = cfg.sim.dt * cfg.sim.save_every
    if cfg.task == "solver_in_the_loop":
        return nn.CorrectedStepper(coarse_solver(cfg, pde), net)
    norms = {}
    if cfg.training["normalise"]:  # placeholders: train() fits them, a checkpoint restores them
        import jax.numpy as jnp

        norms = {k: nn.Normalisation(jnp.zeros(c), jnp.ones(c)) for k in ("inputs", "outputs")}
    if cfg.observer is not None:
        return _semilinear_model(cfg, pde, net, interval, key)
    if refined:
        import jax
        import jax.numpy as jnp

        noise_key = jax.random.fold_in(key, 1)
        kwargs = {k: v for k, v in cfg.refiner.items() if k not in ("base_fraction", "precondition", "gate")}
        kwargs["step_parameter"] = cfg.refiner.get("gate", False)
        if cfg.refiner.get("precondition"):  # a placeholder as the normalisations are
            rfft_shape = jax.eval_shape(lambda: jnp.fft.rfftn(jnp.zeros(pde.state_shape[1:]))).shape
            kwargs["preconditioner"] = nn.SpectralPreconditioner(jnp.ones((c, *rfft_shape)))
        return nn.PDERefiner(net, interval, **kwargs, **norms, key=noise_key)
    return nn.OperatorStepper(net, interval, residual=cfg.task == "emulator", **norms)


def _semilinear_model(cfg, pde, net, interval, key):
    """The semilinear operator with an observer of a data-assimilation run: the exact
    linear step of the data's PDE, `net` as the learned nonlinear term, and an observer
    network ``(2C + 1) -> C``."""
    import jax

    from .. import nn
    from ..spectral import AbstractSemilinearPDE

    if not isinstance(pde, AbstractSemilinearPDE):
        raise ConfigError(
            f"{cfg.path}: key 'training.loss': 'assimilation' needs a semilinear spectral equation "
            f"(one with a linear symbol); {type(pde).__name__} is not"
        )
    spec = dict(cfg.observer["model"])
    cls = nn.OPERATORS[spec.pop("kind")]
    c = pde.num_channels
    try:
        observer = cls(2 * c + 1, c, ndim=pde.grid.ndim, key=jax.random.fold_in(key, 3), **spec)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{cfg.path}: key 'observer.model': {e}") from None
    return nn.SemilinearOperator(pde, net, interval, observer=observer)


def _assimilation_curves(cfg, pde, model, trajs, horizon) -> dict:
    """nRMSE against horizon (mean over the held-out trajectories) of the model fed the
    sensor data, of the same model running free, and of the data's solver, all three
    from the same perturbed initial guess (one guess and one noise draw per trajectory,
    fixed by the run's seed)."""
    import jax
    import numpy as np

    from ..integrate import rollout
    from ..metrics import nrmse
    from ..train import assimilation_inputs
    from ._config import make_stepper

    obs = cfg.observer
    mask = _sensor_mask(cfg, pde).astype(trajs.dtype)
    solver, every = make_stepper(cfg.sim, pde), cfg.sim.save_every
    keys = jax.random.split(jax.random.fold_in(jax.random.key(cfg.seed), 11), trajs.shape[0])

    def one(traj, key):
        start, controls = assimilation_inputs(traj, key, horizon, mask=mask, noise=obs["noise"], guess=obs["guess"])
        return (
            rollout(model, start, horizon, controls=controls, include_initial=False),
            rollout(model, start, horizon, include_initial=False),
            rollout(solver, start, horizon * every, save_every=every, include_initial=False),
        )

    runs = jax.jit(jax.vmap(one))(trajs, keys)
    sensors = float(mask.mean())
    names = (
        f"model + observer ({sensors:.0%} sensors, {obs['noise']:.0%} noise)",
        "model from the guess (no data)",
        "solver from the guess (no data)",
    )
    truth = trajs[:, 1:]
    return {
        n: np.asarray(nrmse(r, truth, num_spatial_dims=pde.grid.ndim)).mean(axis=0).tolist()
        for n, r in zip(names, runs)
    }


def _sensor_mask(cfg, pde):
    """The sensor mask ``(*N)`` of a data-assimilation run: 1 at every
    ``observer.sensor_every``-th point along each axis.

    **Arguments:** `cfg` (a train config with an ``observer`` section), `pde`.

    **Returns:** the mask (default float dtype; callers cast it to the data's)."""
    import jax.numpy as jnp

    every = cfg.observer["sensor_every"]
    mask = jnp.zeros(pde.grid.shape)
    return mask.at[tuple(slice(None, None, every) for _ in pde.grid.shape)].set(1.0)


_STATISTICS_SAMPLES = 256  # training trajectories the normalisation statistics are taken from


def _fit_statistics(model, data, ndim, key):
    """The stepper with normalisations from (up to 256 of) the training trajectories, or
    from one online batch."""
    import jax
    import numpy as np

    if data.online:
        trajs = jax.jit(data.make)(key)["trajectories"]
    else:
        trajs = data.dataset.read(np.arange(min(_STATISTICS_SAMPLES, len(data.dataset))))["trajectories"]
    return model.with_statistics(trajs, num_spatial_dims=ndim)


def coarse_solver(cfg, pde):
    from ..spectral import ETDRK

    interval = cfg.sim.dt * cfg.sim.save_every
    return ETDRK(pde, interval, order=cfg.coarse["order"], substeps=cfg.coarse["substeps"])


def _conditioned(cfg) -> bool:
    return bool(cfg.model.get("num_parameters"))


def _loss(cfg, pde):
    from ..train import assimilation_loss, one_step_loss, refiner_loss, rollout_loss

    t, cond = cfg.training, _conditioned(cfg)
    if t["loss"] == "assimilation":  # the free-running model and its observer, trained together
        obs, horizon = cfg.observer, t["horizon"]
        mask = _sensor_mask(cfg, pde)
        return lambda m, b: (
            rollout_loss(m, b, horizon)
            + assimilation_loss(m, b, horizon, mask=mask, noise=obs["noise"], guess=obs["guess"])
        )
    if t["loss"] == "rollout":
        return lambda m, b: rollout_loss(m, b, t["horizon"], pushforward=t["pushforward"], conditioned=cond)
    if t["loss"] == "refiner":
        share = cfg.refiner.get("base_fraction")
        unrolled = t["horizon"] if t["horizon"] > 1 else None
        return lambda m, b: refiner_loss(m, b, conditioned=cond, base_fraction=share, horizon=unrolled)
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

    require_precision(cfg)
    sampler, pde = build_sampler(cfg)
    k_model, k_fit = jax.random.split(jax.random.fold_in(jax.random.key(cfg.seed), 2))
    return sampler, pde, build_model(cfg, pde, k_model), k_fit


def train(cfg: TrainConfig, run_dir: Path, *, resume: bool = False, progress=None) -> dict:
    """Run a training config into `run_dir` (data, checkpoints, metrics, plots).

    **Arguments:** `cfg` (a train config), `run_dir`, `resume` (continue the run there), `progress`.

    **Returns:** a summary (final loss, test errors, throughput).
    """
    from ..train import Curriculum, DatasetBatches, OnlineBatches, maybe_initialize_distributed, rollout_nrmse

    maybe_initialize_distributed()
    run_dir = Path(run_dir)
    cfg_copy = run_dir / "config.yaml"
    if resume:
        if not cfg_copy.exists():
            raise ConfigError(f"{run_dir}: no run to resume here (no config.yaml); start without --resume")
        if yaml.safe_load(cfg_copy.read_text()) != cfg.raw:
            raise ConfigError(
                f"{run_dir}: the run was started with a different config ({cfg_copy}); "
                "resume with the same file or choose a new --out"
            )
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
        data = DatasetBatches(
            _dataset(cfg, sampler, run_dir, "train", cfg.data["train_samples"], progress),
            t["batch_size"],
            seed=cfg.seed,
            window=t["window"],
        )
    if t["normalise"]:
        import jax

        model = _fit_statistics(model, data, pde.grid.ndim, jax.random.fold_in(k_fit, 7))
    if t["curriculum"]:
        data = Curriculum(data, horizon=t["horizon"], num_steps=t["num_steps"], fraction=t["curriculum_fraction"])
    horizon = t["eval_horizon"]
    test_trajs, test_params = _test_data(cfg, test, horizon)
    mesh = cfg.mesh()
    eval_fn = lambda m: {"nrmse": rollout_nrmse(m, test_trajs, horizon=horizon, parameters=test_params, mesh=mesh)}
    print(
        f"training {cfg.name}: {cfg.model['kind']} ({cfg.task}), {len(mesh.devices.flat)} device(s), "
        f"batch {t['batch_size']}, {t['num_steps']} steps -> {run_dir}"
    )
    final_loss, rate, last = run_fit(
        cfg,
        model,
        _loss(cfg, pde),
        data,
        run_dir,
        key=k_fit,
        eval_fn=eval_fn,
        mesh=mesh,
        resume=resume,
        progress=progress,
    )
    return {"run_dir": run_dir, "final_loss": final_loss, "test_nrmse": last["nrmse"], "samples_per_s": rate}


def run_config(run_dir) -> TrainConfig:
    """The validated config a training run directory was started with.

    **Arguments:** `run_dir`. **Returns:** the config.
    """
    cfg_path = Path(run_dir) / "config.yaml"
    if not cfg_path.exists():
        raise ConfigError(f"{run_dir}: not a training run directory (no config.yaml)")
    return parse_train_config(yaml.safe_load(cfg_path.read_text()), cfg_path)


def _restore(cfg, run_dir):
    import equinox as eqx

    from ..train import Checkpointer, trainable

    sampler, pde, model, k_fit = _setup(cfg)
    opt = build_optimiser(cfg)
    ckpt = Checkpointer(run_dir / "checkpoints", every=cfg.training["checkpoint_every"])
    model, _, _, meta = ckpt.restore(model, opt.init(eqx.filter(model, trainable(model))), k_fit)
    ckpt.close()
    return sampler, pde, model, meta


def trained_model(run_dir) -> tuple:
    """The trained stepper of an emulator, operator or solver-in-the-loop run, restored
    from its latest checkpoint (normalisation statistics included), with its PDE: ready
    for [`jaxpde.rollout`][jaxpde.rollout].

    **Arguments:** `run_dir`, a directory written by [`train`][jaxpde.app.train].

    **Returns:** ``(model, pde, step)``, the stepper, the PDE of the data, and the
    optimisation step of the checkpoint."""
    run_dir = Path(run_dir)
    cfg = run_config(run_dir)
    if cfg.task in ROM_TASKS:
        raise ConfigError(f"{run_dir}: a reduced-order-model run; evaluate it with 'jaxpde evaluate'")
    require_precision(cfg)
    _, pde, model, meta = _restore(cfg, run_dir)
    return model, pde, int(meta["step"])


def evaluate(run_dir: Path, *, compare=(), samples: int = 1, progress=None) -> dict:
    """Restore the latest checkpoint of a run and measure nRMSE and the correlation with
    the solver against rollout horizon on the held-out trajectories (and, for
    solver-in-the-loop, the uncorrected coarse solver's; for an emulator, persistence's),
    with each one's high-correlation time (correlation ≥ 0.8). On a periodic grid it
    also compares the energy spectrum of the model's rollout with the solver's at an
    early step, half the horizon and the horizon
    ([`train.rollout_spectra`][jaxpde.train.rollout_spectra]; ``"spectrum"``, with the
    distance in decades of [`metrics.spectrum_log_error`][jaxpde.metrics.spectrum_log_error]).
    Writes ``eval.json``, ``nrmse.png``, ``correlation.png`` (and ``spectrum.png``) into
    the run directory.

    A stochastic model (PDE-Refiner) draws its refinement noise from its key, so the
    figures above are one noise sample's. With ``samples > 1`` the evaluation also rolls
    out ``samples`` noise samples ([`train.ensemble_correlation`][jaxpde.train.ensemble_correlation];
    the first is the model's own) and reports each one's high-correlation time under
    ``"noise_samples"``, and the ensemble mean's as a curve of its own.

    **Arguments:** `run_dir`, `compare` (other ROM run directories, already evaluated),
    `samples` (noise samples of a stochastic model), `progress`.

    **Returns:** the evaluation (also written to ``eval.json``), with the plot's path.
    """
    import numpy as np

    from ..metrics import correlation, high_correlation_time, nrmse
    from ..train import ensemble_correlation, rollout_predictions
    from ..viz import plot_correlation_curves, plot_error_curves

    run_dir = Path(run_dir)
    cfg = run_config(run_dir)
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise ConfigError(f"samples must be a positive integer, got {samples!r}")
    if cfg.task in ROM_TASKS:
        if samples > 1:
            raise ConfigError("--samples applies to stochastic models (a 'refiner' run), not to reduced-order models")
        return evaluate_rom(cfg, run_dir, compare=compare, progress=progress)
    if compare:
        raise ConfigError("--compare applies to reduced-order-model runs")
    sampler, pde, model, meta = _restore(cfg, run_dir)
    if samples > 1 and not hasattr(model, "with_key"):
        raise ConfigError(f"--samples applies to stochastic models (a 'refiner' run); {run_dir} is deterministic")
    test = _dataset(cfg, sampler, run_dir, "test", cfg.data["test_samples"], progress)
    horizon = test.shape[0] - 1
    trajs, params = _test_data(cfg, test, horizon)
    steppers = {"model": (model, params)}
    if cfg.task == "solver_in_the_loop":
        order = cfg.coarse["order"]
        steppers = {
            f"coarse ETDRK{order} + correction": steppers["model"],
            f"coarse ETDRK{order} alone": (coarse_solver(cfg, pde), None),
        }
    if cfg.task == "emulator":  # context: how far the state moves away from where it started
        steppers["persistence (u_n = u_0)"] = (lambda u: u, None)
    curves, corr = {}, {}
    interval = cfg.sim.dt * cfg.sim.save_every
    noise = None
    if samples > 1:  # its sample 0 is the model's own rollout
        per_sample, ensemble = ensemble_correlation(
            model, trajs, num_samples=samples, horizon=horizon, parameters=params
        )
        corr["model"] = np.asarray(per_sample[0])
    truth, dims = trajs[:, 1 : horizon + 1], trajs.ndim - 3
    for k, (m, p) in steppers.items():  # one rollout per stepper for both metrics
        preds = rollout_predictions(m, trajs, horizon=horizon, parameters=p)
        curves[k] = np.asarray(nrmse(preds, truth, num_spatial_dims=dims)).mean(axis=0)
        if k not in corr:
            corr[k] = np.asarray(correlation(preds, truth, num_spatial_dims=dims))
    if samples > 1:
        corr[f"model, mean of {samples} noise samples"] = np.asarray(ensemble)
        times = np.asarray(high_correlation_time(per_sample, threshold=0.8, dt=interval)).mean(axis=1)
        noise = {"num_samples": samples, "per_sample": times.tolist(), "mean": float(times.mean())}
        noise |= {"std": float(times.std()), "min": float(times.min()), "max": float(times.max())}
    above = {k: np.asarray(high_correlation_time(c, threshold=0.8, dt=interval)) for k, c in corr.items()}
    out = {
        "step": meta["step"],
        "horizon_time": (np.arange(1, horizon + 1) * interval).tolist(),
        "nrmse": {k: v.tolist() for k, v in curves.items()},
        "correlation": {k: c.mean(axis=0).tolist() for k, c in corr.items()},
        "high_correlation_time": {
            k: {"mean": float(a.mean()), "std": float(a.std()), "per_trajectory": a.tolist()} for k, a in above.items()
        },
    }
    if noise is not None:
        out["noise_samples"] = noise
    if cfg.observer is not None:
        out["assimilation"] = _assimilation_curves(cfg, pde, model, trajs, horizon)
    spectrum = _rollout_spectrum(pde, steppers, trajs, horizon, interval)
    if spectrum is not None:
        out["spectrum"] = spectrum
    (run_dir / "eval.json").write_text(json.dumps(out, indent=1))
    import matplotlib.pyplot as plt

    if cfg.observer is not None:
        fig = plot_error_curves(
            out["assimilation"],
            out["horizon_time"],
            title=f"{cfg.name}: from a perturbed guess ({len(trajs)} test trajectories)",
        )
        fig.savefig(run_dir / "assimilation.png", dpi=110)
        plt.close(fig)
        out["assimilation_png"] = run_dir / "assimilation.png"

    title = f"{cfg.name}: {len(trajs)} held-out trajectories, step {meta['step']}"
    fig = plot_error_curves(curves, out["horizon_time"], title=title)
    fig.savefig(run_dir / "nrmse.png", dpi=110)
    plt.close(fig)
    means = {k: v["mean"] for k, v in out["high_correlation_time"].items()}
    fig = plot_correlation_curves(out["correlation"], out["horizon_time"], times_above=means, title=title)
    fig.savefig(run_dir / "correlation.png", dpi=110)
    plt.close(fig)
    out["png"] = run_dir / "nrmse.png"
    out["correlation_png"] = run_dir / "correlation.png"
    if spectrum is not None:
        from ..viz import plot_spectra

        label = next(iter(steppers))
        lines = {f"{label}, t = {t:.3g}": e for t, e in zip(spectrum["times"], spectrum["model"])}
        refs = {f"{label}, t = {t:.3g}": e for t, e in zip(spectrum["times"], spectrum["solver"])}
        fig = plot_spectra(spectrum["wavenumbers"], lines, refs, title=f"{title}\nrollout (solid) and solver (dashed)")
        fig.savefig(run_dir / "spectrum.png", dpi=110)
        plt.close(fig)
        out["spectrum_png"] = run_dir / "spectrum.png"
    return out


def _rollout_spectrum(pde, steppers, trajs, horizon, interval):
    """The energy spectra of the first stepper's rollout and of the solver's frames at
    three rollout steps (an early one, half the horizon, the horizon), with their
    distance in decades; ``None`` where the data do not live on the PDE's periodic grid."""
    import numpy as np

    from ..grids import PeriodicGrid
    from ..metrics import spectrum_log_error
    from ..train import rollout_spectra

    grid = getattr(pde, "grid", None)
    if not isinstance(grid, PeriodicGrid) or tuple(grid.shape) != tuple(trajs.shape[3:]):
        return None
    steps = sorted({min(10, horizon), max(1, horizon // 2), horizon})
    stepper, params = next(iter(steppers.values()))
    k, model, solver = rollout_spectra(stepper, trajs, grid, steps=steps, parameters=params)
    return {
        "wavenumbers": np.asarray(k).tolist(),
        "steps": steps,
        "times": [s * interval for s in steps],
        "model": np.asarray(model).tolist(),
        "solver": np.asarray(solver).tolist(),
        "log_error": np.asarray(spectrum_log_error(model, solver)).tolist(),
    }
