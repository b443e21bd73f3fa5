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


def assert_tree_allclose(a, b, rtol=1e-7, atol=0.0):
    la, lb = jax.tree.leaves(a), jax.tree.leaves(b)
    assert len(la) == len(lb)
    for x, y in zip(la, lb):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=rtol, atol=atol)


@pytest.fixture
def key():
    return jax.random.PRNGKey(0)
