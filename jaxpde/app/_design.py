"""``jaxpde design CONFIG.yaml``: a config names one of [`jaxpde.design.PROBLEMS`][jaxpde.design.PROBLEMS];
``setup`` holds the keywords of its constructor, ``regularisation`` its penalty weights,
``optimiser`` those of [`jaxpde.design.solve_problem`][jaxpde.design.solve_problem]."""

import inspect
from pathlib import Path
from typing import Literal

import pydantic

from ._schema import (
    ConfigError,
    PlainName,
    device_mesh,
    devices_section,
    keyword_model,
    plain_name,
    spatial_devices,
    validate,
)

OPTIMISERS = ("lbfgs", "adam", "levenberg_marquardt", "gauss_newton", "dogleg", "bfgs")
REGULARISERS = ("smoothness", "total_variation", "tikhonov")


def _problems():
    from ..design import PROBLEMS

    return PROBLEMS


class Optimiser(pydantic.BaseModel):
    """The ``optimiser`` section (keywords of [`jaxpde.design.solve_problem`][jaxpde.design.solve_problem])."""

    model_config = pydantic.ConfigDict(extra="forbid")
    name: Literal[OPTIMISERS] | None = None  # type: ignore[valid-type]
    steps: pydantic.PositiveInt = 100
    learning_rate: pydantic.PositiveFloat = 1e-2
    rtol: pydantic.PositiveFloat = 1e-8
    atol: pydantic.PositiveFloat = 1e-8
    gtol: pydantic.PositiveFloat = 1e-7


class Regularisation(pydantic.BaseModel):
    """Penalty weights (keywords of the problem constructors that take them)."""

    model_config = pydantic.ConfigDict(extra="forbid")
    smoothness: pydantic.NonNegativeFloat = 0.0
    total_variation: pydantic.NonNegativeFloat = 0.0
    tikhonov: pydantic.NonNegativeFloat = 0.0


class DesignConfig(pydantic.BaseModel):
    """A ``kind: design`` config."""

    model_config = pydantic.ConfigDict(extra="forbid")
    kind: Literal["design"]
    name: PlainName | None = None
    problem: Literal[
        "burgers_initial_condition",
        "kolmogorov_parameters",
        "burgers_control",
        "shallow_water_bump",
        "obstacle_drag",
        "cylinder_rotary_control",
    ]
    seed: pydantic.NonNegativeInt = 0
    precision: Literal["float32", "float64"] = "float64"
    setup: dict = {}
    optimiser: Optimiser = Optimiser()
    regularisation: Regularisation = Regularisation()
    checkpoint_every: pydantic.PositiveInt = 10
    devices: devices_section("spatial") | None = None  # type: ignore[valid-type]
    _path: Path = pydantic.PrivateAttr(default=Path("design.yaml"))

    def build(self):
        """``(problem, optimiser_name)`` built through the library's constructors."""
        return build(self)

    @property
    def path(self) -> Path:
        """The config file it was read from."""
        return self._path


def parse(raw: dict, path) -> DesignConfig:
    """Validate a design config: its sections, then ``setup`` against the keywords of
    the problem's constructor, and that ``dt`` divides ``final_time``."""
    from ..design import num_steps_of

    cfg = validate(DesignConfig, raw, path)
    fn = _problems()[cfg.problem]
    model = keyword_model(fn, f"setup_{cfg.problem}", skip=("key", "dtype", "checkpoint", "mesh", *REGULARISERS))
    cfg.setup = validate(model, cfg.setup, path, prefix=("setup",)).model_dump()
    if "dt" in cfg.setup and "final_time" in cfg.setup:
        try:
            num_steps_of(cfg.setup["final_time"], cfg.setup["dt"])
        except ValueError as e:
            raise ConfigError(f"{path}: key 'setup.dt': {e}") from None
    accepted = set(inspect.signature(_problems()[cfg.problem]).parameters)
    for k in REGULARISERS:
        if getattr(cfg.regularisation, k) and k not in accepted:
            raise ConfigError(f"{path}: key 'regularisation.{k}': problem '{cfg.problem}' takes no {k} penalty")
    cfg._path = Path(path)
    if cfg.name is None:
        stem = Path(path).stem
        cfg.name = stem if plain_name(stem) else "design"
    return cfg


def build(cfg: DesignConfig):
    """The [`DesignProblem`][jaxpde.design.DesignProblem] of a validated config, and its optimiser."""
    import jax

    from .. import design as D
    from ._schema import require_precision

    require_precision(cfg)
    fn = _problems()[cfg.problem]
    optimiser = cfg.optimiser.name or D.DEFAULT_OPTIMISERS[cfg.problem]
    accepted = set(inspect.signature(fn).parameters)
    regs = {k: v for k, v in cfg.regularisation.model_dump().items() if k in accepted and v}
    mesh = device_mesh(spatial_devices(cfg.devices, cfg.path, "a design run"), cfg.path)
    try:
        problem = fn(
            key=jax.random.PRNGKey(cfg.seed),
            dtype=cfg.precision,
            checkpoint=D.uses_reverse_mode(optimiser),
            mesh=mesh,
            **cfg.setup,
            **regs,
        )
    except (TypeError, ValueError) as e:
        first = str(e).split(" ", 1)[0]  # the library's messages start with the argument's name
        key = f"setup.{first}" if first in cfg.setup else "setup"
        if mesh is not None and first.rstrip(":") in ("PeriodicGrid", "CellGrid"):
            key = "devices"
        raise ConfigError(f"{cfg.path}: key '{key}' (problem '{cfg.problem}'): {e}") from None
    return problem, optimiser


def design(cfg: DesignConfig, run_dir, *, resume: bool = False, progress=None) -> dict:
    """Solve a validated design config's problem into `run_dir` (history, checkpoints,
    result and plots); returns the summary (objective before and after, iterations).

    **Arguments:** `cfg` (a design config), `run_dir`, `resume` (continue the run there), `progress`.

    **Returns:** the summary.
    """
    from .. import design as D

    problem, optimiser = build(cfg)
    o = cfg.optimiser
    identity = cfg.model_dump(exclude={"optimiser": {"steps"}, "name": True})
    try:
        out = D.solve_problem(
            problem,
            optimiser,
            steps=o.steps,
            learning_rate=o.learning_rate,
            rtol=o.rtol,
            atol=o.atol,
            gtol=o.gtol,
            run_dir=run_dir,
            checkpoint_every=cfg.checkpoint_every,
            resume=resume,
            progress=progress,
            config=identity,
            name=cfg.name,
        )
    except FileExistsError as e:
        raise ConfigError(f"{e} (pass --resume, or --out to choose another directory)") from None
    return out.summary
