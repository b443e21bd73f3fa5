"""Spectral problems of a validated simulation config, built through the library's
constructors (the equation and initial-condition registries)."""

from pathlib import Path

from ._config import ConfigError, build_problem, ic_sampler, make_pde, make_stepper


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
        mesh=cfg.mesh(),
    )


def run_fit(cfg, model, loss_fn, data, run_dir, *, key, eval_fn, mesh, resume, progress):
    """[`fit`][jaxpde.train.fit] with the config's training section; returns the final loss,
    the throughput over the second half of the run and the last evaluation."""
    from ..train import fit

    t = cfg.training
    result = fit(
        model,
        build_optimiser(cfg),
        loss_fn,
        data,
        num_steps=t["num_steps"],
        key=key,
        run_dir=run_dir,
        checkpoint_every=t["checkpoint_every"],
        keep=t["keep"],
        resume=resume,
        eval_fn=eval_fn,
        eval_every=t["eval_every"] or None,
        mesh=mesh,
        progress=progress,
        config=cfg.raw,
    )
    losses = [r for r in result.history if "loss" in r]
    rates = [r["samples_per_s"] for r in losses[len(losses) // 2 :]]
    last_eval = [r for r in result.history if "eval" in r][-1]["eval"]
    return losses[-1]["loss"], sum(rates) / max(len(rates), 1), last_eval
