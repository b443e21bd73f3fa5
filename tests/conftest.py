import os

import jax
import numpy as np
import pytest

import jaxpde  # noqa: F401  (first: its XLA work-arounds must precede any computation)

# The command line's persistent compilation cache stays off in tests (hermetic runs, nothing
# written to the home directory); tests/test_cli.py switches it on where it tests it.
os.environ["JAXPDE_NO_COMPILATION_CACHE"] = "1"

# Accuracy is judged in float64; tests that need float32 ask for it explicitly.
jax.config.update("jax_enable_x64", True)


def pytest_configure(config):
    """The default suite is bound by XLA's compile time (hundreds of small programs, each
    run a few times), so it compiles them with LLVM's optimisation off
    (``--xla_backend_optimization_level=0``): 10 min 45 s instead of 17 min on 2 cores.
    XLA's optimised HLO is the same (checked on the Sod gradient); the machine code may
    round differently in the last bit (e.g. fused multiply-adds), so comparisons between
    two differently compiled programs need round-off tolerances, as they do across
    machines anyway. The slow validation runs (``-m slow``), whose long loops run the
    compiled code for longer, and a user who sets the option keep their build."""
    flags = os.environ.get("XLA_FLAGS", "")
    if (config.getoption("markexpr") or "").strip() == "not slow" and "xla_backend_optimization_level" not in flags:
        os.environ["XLA_FLAGS"] = f"{flags} --xla_backend_optimization_level=0".strip()


def assert_tree_allclose(a, b, rtol=1e-7, atol=0.0):
    la, lb = jax.tree.leaves(a), jax.tree.leaves(b)
    assert len(la) == len(lb)
    for x, y in zip(la, lb):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=rtol, atol=atol)


@pytest.fixture
def key():
    return jax.random.PRNGKey(0)
