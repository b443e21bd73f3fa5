"""JAX's persistent compilation cache, switched on for jaxpde's command line: a second run of
the same config loads its compiled programs from disk instead of compiling them again."""

import os
from pathlib import Path

DISABLE_ENV = "JAXPDE_NO_COMPILATION_CACHE"
DIR_ENV = "JAXPDE_CACHE_DIR"


def default_cache_dir() -> Path:
    """Where the cache lives: ``$JAXPDE_CACHE_DIR``, else ``$XDG_CACHE_HOME/jaxpde/xla``,
    else ``~/.cache/jaxpde/xla``.

    **Returns:** the directory (not created)."""
    if os.environ.get(DIR_ENV):
        return Path(os.environ[DIR_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "jaxpde" / "xla"


def enable_compilation_cache(path=None, *, min_compile_time: float = 0.0) -> Path | None:
    """Switch on JAX's persistent compilation cache (``jax_compilation_cache_dir``), unless
    ``$JAXPDE_NO_COMPILATION_CACHE`` is set or the cache is already configured elsewhere.
    Call it before the first compilation. The cache is trusted code: keep it in a directory
    only you can write to.

    **Arguments:**

    - `path`: the cache directory (default [`default_cache_dir`][jaxpde.default_cache_dir]).
    - `min_compile_time`: programs that compile faster than this many seconds are not stored
      (default 0: every program, so a repeated run compiles nothing).

    **Returns:** the directory in use, or ``None`` when the cache stays off.
    """
    import jax

    if os.environ.get(DISABLE_ENV, "") not in ("", "0"):
        return None
    current = jax.config.jax_compilation_cache_dir
    if current:
        return Path(current)
    path = Path(path).expanduser() if path is not None else default_cache_dir()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None  # an unwritable home: run without the cache rather than fail
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", float(min_compile_time))
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
    return path
