"""Finite-volume laws and test problems by name (the names configs use)."""

from .._registry import Registry

LAWS = Registry("conservation law")
"""Every conservation law by its config name; a new law joins with
``@LAWS.register("name")`` above its class."""

PROBLEMS = Registry("finite-volume initial condition")
"""Initial states ``(law, grid, **keywords) -> u0`` by config name (Riemann problems,
Shu-Osher, dam break, ...); join with ``@PROBLEMS.register("name")``."""

SOURCES = Registry("finite-volume source")
"""Source profiles ``(grid, **keywords) -> S (*N)`` by config name (the ``source`` of a
[`FiniteVolume`][jaxpde.fv.FiniteVolume]); join with ``@SOURCES.register("name")``."""
