"""Initial conditions by name (the names configs use)."""

from .._registry import Registry

INITIAL_CONDITIONS = Registry("initial condition")
"""Every initial condition on a periodic grid by its config name; a new one joins with
``@INITIAL_CONDITIONS.register("name")`` above its function."""
