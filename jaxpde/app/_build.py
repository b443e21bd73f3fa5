"""Spectral problems of a validated simulation config, built through the library's
constructors (the equation and initial-condition registries)."""

import inspect
from pathlib import Path

from ._config import EQUATIONS, INITIAL_CONDITIONS, ConfigError


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
        first = str(e).split(" ", 1)[0]  # the library's messages start with the argument's name
        key = f"parameters.{first}" if first in cfg.parameters else "parameters"
        raise ConfigError(f"{cfg.path}: key '{key}' (equation '{cfg.equation}'): {e}") from None


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
    """The library objects of a validated config, built through the library's
    constructors (which check it): ``(pde, stepper, u0)`` for a fixed-step spectral
    simulation, ``(pde, u0)`` for a diffrax or finite-volume one, and
    ``(problem, optimiser_name)`` for a design config."""
    from ._design import DesignConfig
    from ._fv import FVConfig, build_fv

    if isinstance(cfg, DesignConfig):
        from ._design import build as build_design

        return build_design(cfg)
    if isinstance(cfg, FVConfig):
        return build_fv(cfg)
    pde, u0 = build_problem(cfg)
    return (pde, u0) if cfg.integrator is not None else (pde, make_stepper(cfg, pde), u0)


# --------------------------------------------------------------- training pieces
def build_sampler(cfg):
    """The solver sampler ``key -> (trajectory, parameters)`` of the data section."""
    from ..train import make_sampler

    sim = cfg.sim
    pde, _ = build_problem(sim)  # validates the equation and the IC shape
    sample_ic, takes_key = ic_sampler(sim, pde)
    if not takes_key and not cfg.data["parameter_ranges"]:
        raise ConfigError(
            f"{cfg.path}: key 'data.initial_condition.kind': training data needs a random initial "
            f"condition (one with a key), not '{sim.ic_kind}', or sampled parameters "
            "(data.parameter_ranges)"
        )
    return make_sampler(
        lambda p: make_stepper(sim, make_pde(sim, pde.grid, **p)),
        sample_ic,
        num_steps=sim.num_steps,
        save_every=sim.save_every,
        parameter_ranges=cfg.data["parameter_ranges"],
        burn_in=cfg.data["burn_in"],
    ), pde


def build_optimiser(cfg):
    from ..train import make_optimiser

    t = cfg.training
    return make_optimiser(
        t["optimiser"],
        t["learning_rate"],
        num_steps=t["num_steps"],
        schedule=t["schedule"],
        warmup_steps=t["warmup_steps"],
        weight_decay=t["weight_decay"],
        clip_norm=t["clip_norm"],
    )


def _dataset(cfg, sampler, run_dir: Path, split: str, num: int, progress):
    """The train or test HDF5 file of a run (generated once)."""
    import jax
    import numpy as np

    from ..train import cached_dataset

    key = jax.random.fold_in(jax.random.key(cfg.seed), {"train": 0, "test": 1}[split])
    source = {"config": cfg.raw["data"], "split": split, "seed": cfg.seed}
    times = np.arange(cfg.sim.num_steps // cfg.sim.save_every + 1) * cfg.sim.dt * cfg.sim.save_every
    return cached_dataset(
        run_dir / "data" / f"{split}.h5",
        sampler,
        num_samples=num,
        key=key,
        source=source,
        times=times,
        progress=progress,
    )
