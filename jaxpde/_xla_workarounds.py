"""Work-arounds for XLA bugs in the jax releases jaxpde installs with.

jaxlib 0.10.2's CPU compiler hands some reductions to YNNPACK fusions that return wrong
values, silently, once the arrays pass a size threshold (2^15 float32 / 2^14 float64
elements of output in the reported cases): for example ``jnp.sum(u[None] * g, axis=1)``
with ``u`` of shape ``(3, 40000)`` (float32) is off by more than 100 %, and
``vmap(lambda r: jnp.sum((M @ r) ** 2))`` over 16,385 rows (float64) by 0.8 %.
Reported upstream as jax-ml/jax#39103 (0.10.1 is not affected). A 3D vector Burgers
step written with such a reduction drifts 20 % from the float64 solution in 20 steps.

XLA reads ``XLA_FLAGS`` when JAX starts its backend, so `apply` adds
``--xla_cpu_experimental_ynn_fusion_type=-reduce`` (reductions stay on XLA's own
emitter) when jaxpde is imported before any computation has run. Set
``JAXPDE_XLA_WORKAROUNDS=0`` to leave ``XLA_FLAGS`` alone; a flag for the same option
that is already in ``XLA_FLAGS`` is respected.
"""

import os
import warnings

YNN_REDUCE_FLAG = "--xla_cpu_experimental_ynn_fusion_type=-reduce"
AFFECTED_JAXLIB = frozenset({"0.10.2"})


def _backends_started() -> bool:
    try:
        from jax._src import xla_bridge
    except ImportError:  # pragma: no cover - layout of a future jax
        return False
    started = getattr(xla_bridge, "backends_are_initialized", None)
    return bool(started()) if started is not None else False


def apply() -> str:
    """Add the XLA flags that avoid known miscompilations of the installed jaxlib.

    Returns:
        What was done: ``"applied"``, ``"not affected"`` (this jaxlib has no known
        problem), ``"disabled"`` (``JAXPDE_XLA_WORKAROUNDS=0``), ``"set by user"`` (the
        option is already in ``XLA_FLAGS``) or ``"too late"`` (JAX's backend had already
        started; a warning says how to fix it).
    """
    import jaxlib

    if getattr(jaxlib, "__version__", "") not in AFFECTED_JAXLIB:
        return "not affected"
    if os.environ.get("JAXPDE_XLA_WORKAROUNDS", "1").strip().lower() in ("0", "false", "no", "off"):
        return "disabled"
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_cpu_experimental_ynn_fusion_type" in flags:
        return "set by user"
    if _backends_started():
        warnings.warn(
            f"jaxlib {jaxlib.__version__} miscompiles some CPU reductions (jax-ml/jax#39103) and JAX's "
            f"backend started before jaxpde was imported, so jaxpde could not add {YNN_REDUCE_FLAG}. "
            f"Import jaxpde first, or put that flag in XLA_FLAGS yourself.",
            RuntimeWarning,
            stacklevel=3,
        )
        return "too late"
    os.environ["XLA_FLAGS"] = f"{flags} {YNN_REDUCE_FLAG}".strip()
    return "applied"


STATUS = apply()
