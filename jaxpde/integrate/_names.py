"""Diffrax solvers, adjoints and save points by name: the one place where the string
conveniences of [`jaxpde.solve`][jaxpde.solve] become diffrax objects."""

from collections.abc import Callable

import diffrax
import jax.numpy as jnp

# --------------------------------------------------------------------------------------
# Solvers and adjoints by name
# --------------------------------------------------------------------------------------
ODE_SOLVERS: dict[str, type] = {
    "euler": diffrax.Euler,
    "heun": diffrax.Heun,
    "bosh3": diffrax.Bosh3,
    "tsit5": diffrax.Tsit5,
    "dopri5": diffrax.Dopri5,
    "dopri8": diffrax.Dopri8,
    "implicit_euler": diffrax.ImplicitEuler,
    "kvaerno3": diffrax.Kvaerno3,
    "kvaerno4": diffrax.Kvaerno4,
    "kvaerno5": diffrax.Kvaerno5,
    "kencarp3": diffrax.KenCarp3,
    "kencarp4": diffrax.KenCarp4,
    "kencarp5": diffrax.KenCarp5,
}
"""ODE solvers selectable by name in [`solve`][jaxpde.integrate.solve] (any diffrax solver instance works too)."""

SDE_SOLVERS: dict[str, type] = {
    "euler": diffrax.Euler,
    "euler_heun": diffrax.EulerHeun,
    "heun": diffrax.Heun,
    "spark": diffrax.SPaRK,
    "shark": diffrax.ShARK,
    "sra1": diffrax.SRA1,
    "sea": diffrax.SEA,
    "general_shark": diffrax.GeneralShARK,
    "slow_rk": diffrax.SlowRK,
}
"""SDE solvers selectable by name when [`solve`][jaxpde.integrate.solve] is given a noise model."""

ADJOINTS: dict[str, Callable[[], diffrax.AbstractAdjoint]] = {
    "recursive": diffrax.RecursiveCheckpointAdjoint,
    "direct": diffrax.DirectAdjoint,
    "backsolve": diffrax.BacksolveAdjoint,
    "forward": diffrax.ForwardMode,
}
"""Adjoints selectable by name in [`solve`][jaxpde.integrate.solve]:

- ``"recursive"`` (default): exact gradient of the discrete solution, with binomial
  checkpointing (memory ``O(log steps)`` extra recomputation).
- ``"direct"``: differentiates the unrolled loop; supports forward and reverse mode.
- ``"backsolve"``: solves the continuous adjoint ODE backwards; ``O(1)`` memory but
  only an approximation of the discrete gradient, unreliable for stiff or chaotic
  problems.
- ``"forward"``: forward-mode (``jax.jvp``/``jax.jacfwd``); cheap for few parameters.
"""


def resolve(value, table: dict, what: str, cls):
    """`value` if it is a `cls`, else the entry of `table` it names (case-insensitive)."""
    if isinstance(value, str):
        try:
            return table[value.lower()]()
        except KeyError:
            raise ValueError(
                f"unknown {what} {value!r}; choose one of {sorted(table)} or pass a diffrax object."
            ) from None
    if isinstance(value, cls):
        return value
    raise TypeError(f"{what} must be a name ({sorted(table)}) or a diffrax {cls.__name__}, got {value!r}.")


def resolve_saveat(saveat) -> diffrax.SaveAt:
    """A `diffrax.SaveAt` from ``None`` (final state), ``"steps"``, an array of times or itself."""
    if saveat is None:
        return diffrax.SaveAt(t1=True)
    if isinstance(saveat, diffrax.SaveAt):
        return saveat
    if isinstance(saveat, str):
        if saveat == "steps":
            return diffrax.SaveAt(steps=True)
        raise ValueError(
            f"saveat must be None (final state), 'steps', an array of times or a diffrax.SaveAt, got {saveat!r}."
        )
    ts = jnp.asarray(saveat)
    if ts.ndim != 1 or ts.shape[0] == 0:
        raise ValueError(f"saveat times must be a non-empty 1D array, got shape {ts.shape}.")
    return diffrax.SaveAt(ts=ts)
