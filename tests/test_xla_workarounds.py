"""jaxpde's guard against known XLA miscompilations (jaxpde/_xla_workarounds.py)."""

import os
import subprocess
import sys
import textwrap

# A reduction that jaxlib 0.10.2's CPU compiler gets wrong by more than 100 % without the
# work-around (jax-ml/jax#39103): checked against NumPy in float64.
PROBE = textwrap.dedent(
    """
    import jax, jax.numpy as jnp, numpy as np
    rng = np.random.default_rng(0)
    u = rng.normal(size=(3, 40000)).astype(np.float32)
    g = rng.normal(size=(3, 3, 40000)).astype(np.float32)
    y = np.asarray(jax.jit(lambda u, g: jnp.sum(u[None] * g, axis=1))(u, g))
    ref = np.sum(u[None].astype(np.float64) * g, axis=1)
    print("ERR", np.linalg.norm(y - ref) / np.linalg.norm(ref))
    """
)


def _run(code, **env):
    full = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "JAXPDE_XLA_WORKAROUNDS")}
    full.update(env)
    out = subprocess.run([sys.executable, "-c", code], env=full, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return out


def test_reductions_are_right_after_importing_jaxpde():
    out = _run("import jaxpde\nprint('STATUS', jaxpde._xla_workarounds.STATUS)\n" + PROBE)
    status = out.stdout.split("STATUS ")[1].split("\n")[0]
    assert status in ("applied", "not affected")
    err = float(out.stdout.split("ERR ")[1])
    assert err < 1e-6, (status, err)


def test_workaround_can_be_switched_off_and_respects_the_users_flags():
    import jaxlib

    from jaxpde import _xla_workarounds as w

    affected = jaxlib.__version__ in w.AFFECTED_JAXLIB
    code = "import os, jaxpde\nprint(jaxpde._xla_workarounds.STATUS, '|', os.environ.get('XLA_FLAGS', ''))"
    off = _run(code, JAXPDE_XLA_WORKAROUNDS="0").stdout.strip()
    assert off == ("disabled |" if affected else "not affected |")
    own = "--xla_cpu_experimental_ynn_fusion_type=+reduce"
    mine = _run(code, XLA_FLAGS=own).stdout.strip()
    assert mine == (f"set by user | {own}" if affected else f"not affected | {own}")
    kept = _run(code, XLA_FLAGS="--xla_force_host_platform_device_count=2").stdout.strip()
    if affected:
        assert kept == f"applied | --xla_force_host_platform_device_count=2 {w.YNN_REDUCE_FLAG}"


def test_importing_jaxpde_after_jax_has_started_warns():
    import jaxlib

    from jaxpde import _xla_workarounds as w

    out = _run("import jax.numpy as jnp\njnp.ones(1)\nimport jaxpde\nprint(jaxpde._xla_workarounds.STATUS)")
    if jaxlib.__version__ in w.AFFECTED_JAXLIB:
        assert out.stdout.strip() == "too late"
        assert "jax-ml/jax#39103" in out.stderr
    else:
        assert out.stdout.strip() == "not affected"
