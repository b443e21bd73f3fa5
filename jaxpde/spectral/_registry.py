"""The spectral equations by name (the names configs use)."""

from .._registry import Registry

EQUATIONS = Registry("equation")
"""Every spectral equation by its config name; a new equation joins with
``@EQUATIONS.register("name")`` above its class."""
