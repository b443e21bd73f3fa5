"""Hand-written CPU kernels, compiled on first use and called through XLA's FFI.

A kernel is C++ source shipped with the package. The first program that needs it compiles
it with the machine's C++ compiler (``$CXX``, else ``c++``, ``g++`` or ``clang++``) for
this CPU (``-O3 -march=native``) into ``$JAXPDE_CACHE_DIR/native`` (default
``~/.cache/jaxpde/native``), under a name that hashes the source, the compiler, jaxlib's
version and the CPU, so a changed source, a new jaxlib or another machine sharing the
directory gets its own build. Every user of a kernel keeps a pure-JAX path with the same
numbers: without a compiler, with ``JAXPDE_NATIVE=0``, or when a build fails (a warning
says why), the JAX path runs instead.
"""

import ctypes
import functools
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import warnings
from pathlib import Path

DISABLE_ENV = "JAXPDE_NATIVE"
_SOURCES = Path(__file__).parent / "_kernels"


def enabled() -> bool:
    """Whether hand-written kernels may be used (``$JAXPDE_NATIVE`` is not ``0``).

    **Returns:** a bool."""
    return os.environ.get(DISABLE_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def _compiler() -> str | None:
    for name in (os.environ.get("CXX"), "c++", "g++", "clang++"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def _cpu_identity() -> str:
    """The CPU model and feature flags (``-march=native`` builds for them)."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor() or platform.machine()
    keep = [ln for ln in lines if ln.split(":")[0].strip() in ("model name", "flags", "Features", "CPU part")]
    return "\n".join(sorted(set(keep)))


def _cache_dir() -> Path:
    from ._cache import DIR_ENV

    if os.environ.get(DIR_ENV):
        return Path(os.environ[DIR_ENV]).expanduser() / "native"
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "jaxpde" / "native"


@functools.cache
def library(name: str) -> ctypes.CDLL | None:
    """The compiled kernel library `name` (``_kernels/<name>.cc``), built on first use.

    **Arguments:** `name`.

    **Returns:** the loaded library, or ``None`` when kernels are off or cannot be built
    (the caller then takes its JAX path)."""
    if not enabled():
        return None
    cxx = _compiler()
    if cxx is None:
        return None
    import jax
    import jaxlib

    source = (_SOURCES / f"{name}.cc").read_bytes()
    flags = ["-O3", "-march=native", "-std=c++17", "-shared", "-fPIC", "-w", f"-I{jax.ffi.include_dir()}"]
    key = hashlib.sha256(
        b"\0".join(
            [source, cxx.encode(), " ".join(flags).encode(), jaxlib.__version__.encode(), _cpu_identity().encode()]
        )
    ).hexdigest()[:16]
    target = _cache_dir() / f"{name}-{key}.so"
    if not target.exists():
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
                src, out = Path(tmp) / f"{name}.cc", Path(tmp) / f"{name}.so"
                src.write_bytes(source)
                subprocess.run([cxx, *flags, str(src), "-o", str(out)], check=True, capture_output=True, timeout=300)
                os.replace(out, target)  # atomic: concurrent builds leave one complete file
        except (OSError, subprocess.SubprocessError) as e:
            detail = getattr(e, "stderr", b"") or b""
            warnings.warn(
                f"jaxpde could not build its {name} kernel ({e}; {detail.decode(errors='replace')[-500:]}); "
                f"using the JAX path instead (set {DISABLE_ENV}=0 to silence this).",
                RuntimeWarning,
                stacklevel=2,
            )
            return None
    return ctypes.CDLL(str(target))


@functools.cache
def ffi_target(library_name: str, symbol: str) -> str | None:
    """Register the FFI handler `symbol` of a kernel library for the CPU (once) and return
    its target name, or ``None`` when the library is unavailable.

    **Arguments:** `library_name`, `symbol`.

    **Returns:** the target name to pass to ``jax.ffi.ffi_call``, or ``None``."""
    import jax

    lib = library(library_name)
    if lib is None:
        return None
    target = f"jaxpde_{symbol}"
    jax.ffi.register_ffi_target(target, jax.ffi.pycapsule(getattr(lib, symbol)), platform="cpu")
    return target
