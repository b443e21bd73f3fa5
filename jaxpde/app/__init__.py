"""Configs as library objects: the application layer behind the ``jaxpde`` command.

A YAML config (``kind: simulate | train | design``) is validated against a pydantic
schema whose sections are the keywords of the library's constructors; the functions
here run it exactly as the command line does, so a notebook reaches every command in
a few lines::

    import jax
    from jaxpde import app

    kind, cfg = app.load("configs/burgers1d.yaml", overrides=["num_steps=200"])
    pde, stepper, u0 = app.build(cfg)          # library objects, ready for jp.rollout
    summary = app.simulate(cfg, "out/burgers")  # the trajectory file and its picture

Float64 configs need ``jax.config.update("jax_enable_x64", True)`` first (the library
never changes JAX's global settings; the command does it for you).
"""

from ._design import design as design
from ._load import KINDS as KINDS
from ._load import build as build
from ._load import check as check
from ._load import check_size as check_size
from ._load import load as load
from ._load import schemas as schemas
from ._schema import ConfigError as ConfigError
from ._schema import require_precision as require_precision
from ._simulate import simulate as simulate
from ._train import evaluate as evaluate
from ._train import run_config as run_config
from ._train import train as train
from ._train import trained_model as trained_model

__all__ = [
    "ConfigError",
    "KINDS",
    "build",
    "check",
    "check_size",
    "design",
    "evaluate",
    "load",
    "require_precision",
    "run_config",
    "schemas",
    "simulate",
    "train",
    "trained_model",
]
