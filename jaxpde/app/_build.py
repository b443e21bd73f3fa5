"""Spectral problems of a validated simulation config, built through the library's
constructors (the equation and initial-condition registries)."""

from pathlib import Path

from ._config import ConfigError


# --------------------------------------------------------------- training pieces
def build_sampler(cfg, split: str = "train"):
    """The solver sampler of the data section for `split` (``"train"`` or ``"test"``):
    ``key -> (trajectory, parameters)``, or ``(key, index) -> ...`` when the split's
    parameters are listed (``data.train_parameters`` / ``data.test_parameters``)."""
    from ..train import make_sampler

    sim = cfg.sim
    pde, _ = _pde_u0(sim)  # validates the problem (equation or law, initial state's shape)
    sample_ic, takes_key = sim.initial_sampler(pde)
    listed = cfg.data[f"{split}_parameters"]
    if not takes_key and not cfg.data["parameter_ranges"] and not listed:
        raise ConfigError(
            f"{cfg.path}: key 'data.initial_condition.kind': training data needs a random initial "
            f"condition (one with a key), not '{sim.ic_kind}', or sampled or listed parameters "
            "(data.parameter_ranges, data.train_parameters / data.test_parameters)"
        )
    return make_sampler(
        lambda p: sim.make_stepper(sim.make_pde(pde.grid, **p)),
        sample_ic,
        num_steps=sim.num_steps,
        save_every=sim.save_every,
        parameter_ranges=cfg.data["parameter_ranges"],
        burn_in=cfg.data["burn_in"],
        parameter_values=listed,
    ), pde


def _pde_u0(sim):
    built = sim.build()
    return built[0], built[-1]


def build_optimiser(cfg):
    """The config's optimiser; with ``training.learning_rates`` (reduced-order models) one
    per part of the model (decoder, latents, dynamics), each with its own rate."""
    t = cfg.training
    if t.get("learning_rates"):
        from ..rom import partitioned_optimiser

        return partitioned_optimiser({k: _optimiser(t, lr) for k, lr in t["learning_rates"].items()})
    return _optimiser(t, t["learning_rate"])


def _optimiser(t, learning_rate):
    from ..train import make_optimiser

    return make_optimiser(
        t["optimiser"],
        learning_rate,
        num_steps=t["num_steps"],
        schedule=t["schedule"],
        warmup_steps=t["warmup_steps"],
        weight_decay=t["weight_decay"],
        clip_norm=t["clip_norm"],
        decay_rate=t["decay_rate"],
        decay_steps=t["decay_steps"],
        staircase=t["staircase"],
        final_learning_rate=t["final_learning_rate"],
    )


def _dataset(cfg, sampler, run_dir: Path, split: str, num: int, progress):
    """The train or test HDF5 file of a run (generated once). With listed parameters the
    split has its own sampler (built here)."""
    import jax
    import numpy as np

    from ..train import cached_dataset

    if cfg.data[f"{split}_parameters"]:
        sampler, _ = build_sampler(cfg, split)
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


def run_fit(cfg, model, loss_fn, data, run_dir, *, key, eval_fn, mesh, resume, progress, has_aux=False, eval_steps=()):
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
        has_aux=has_aux,
        eval_steps=eval_steps,
    )
    losses = [r for r in result.history if "loss" in r]
    rates = [r["samples_per_s"] for r in losses[len(losses) // 2 :]]
    last_eval = [r for r in result.history if "eval" in r][-1]["eval"]
    return losses[-1]["loss"], sum(rates) / max(len(rates), 1), last_eval
