"""Command line interface (``jaxpde simulate CONFIG.yaml``)."""

from ._config import ConfigError as ConfigError, load_config as load_config
from ._main import main as main, simulate as simulate
