"""Command line interface (``jaxpde simulate CONFIG.yaml``)."""

from ._main import main as main
