"""Around a design: gradient checks, Laplace uncertainty, memory of a gradient, plots,
and smooth parameterisations (Fourier series, piecewise-constant controls, level sets)."""

from collections.abc import Callable, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from .._checks import check_int
from ._regularise import AbstractRegulariser


def check_gradient(
    fn: Callable, design, *, key, num_directions: int = 3, eps: float | None = None, mode: str = "reverse"
) -> dict:
    r"""Compare the derivative of a scalar `fn` with central finite differences along
    random unit directions ``v``: ``∇f·v`` against ``(f(x + εv) - f(x - εv)) / 2ε``.

    `mode` picks the autodiff that is checked: ``"reverse"`` (``jax.grad``, what optax
    optimisers use) or ``"forward"`` (``jax.jvp``, what the Gauss–Newton and
    Levenberg–Marquardt solvers of [`least_squares`][jaxpde.design.least_squares] use for their Jacobians).

    Use float64 (``jax.config.update("jax_enable_x64", True)``): the finite-difference
    error is then ``O(ε²) + O(10⁻¹⁶/ε)``, about ``1e-10`` relative at the default
    ``ε = 1e-5`` (``1e-2`` in float32).

    **Returns:** ``{"autodiff": (D,), "finite_difference": (D,), "relative_error": float}``
    where the error is ``max |ad - fd| / max(max|fd|, tiny)``.

    **Arguments:** the scalar or vector function `fn`, the `design` at which to check, a PRNG `key` for the random
    directions, `num_directions`, the finite-difference step `eps` (default ``1e-5``), and the autodiff `mode`
    (``"reverse"`` or ``"forward"``).
    """
    num_directions = check_int(num_directions, "num_directions")
    flat, unravel = ravel_pytree(design)
    if eps is None:
        eps = 1e-5 if flat.dtype == jnp.float64 else 1e-2
    if mode not in ("reverse", "forward"):
        raise ValueError(f"mode must be 'reverse' or 'forward', got {mode!r}.")
    f = jax.jit(lambda v: fn(unravel(v)))
    dirs = jax.random.normal(key, (num_directions, flat.size), flat.dtype)
    dirs = dirs / jnp.linalg.norm(dirs, axis=1, keepdims=True)
    if mode == "reverse":
        ad = np.asarray(dirs @ jax.jit(jax.grad(lambda v: fn(unravel(v))))(flat))
    else:
        jvp = jax.jit(lambda d: jax.jvp(f, (flat,), (d,))[1])
        ad = np.asarray([jvp(d) for d in dirs])
    fd = np.asarray([(f(flat + eps * d) - f(flat - eps * d)) / (2 * eps) for d in dirs])
    err = float(np.max(np.abs(ad - fd)) / max(float(np.max(np.abs(fd))), 1e-300))
    return {"autodiff": ad, "finite_difference": fd, "relative_error": err}


class LaplacePosterior(eqx.Module):
    r"""Gaussian approximation ``N(x̂, Σ)`` of the posterior around a least-squares
    estimate ``x̂``, with ``Σ = (JᵀJ)⁻¹`` (Gauss–Newton Hessian of ``½‖r‖²``) for
    residuals ``r`` whitened by the noise.

    - `mean`: ``x̂`` (pytree like the design).
    - `covariance`: ``(P, P)`` over the flattened design (``jax.flatten_util.ravel_pytree`` order).
    - `std`: marginal standard deviations, a pytree like the design.
    """

    mean: object
    covariance: jax.Array
    std: object

    def sample(self, key, num_samples: int):
        """Draws from ``N(x̂, Σ)``, stacked along a new leading axis of every leaf."""
        flat, unravel = ravel_pytree(self.mean)
        chol = jnp.linalg.cholesky(self.covariance + 1e-12 * jnp.eye(flat.size, dtype=flat.dtype))
        z = jax.random.normal(key, (check_int(num_samples, "num_samples"), flat.size), flat.dtype)
        return jax.vmap(unravel)(flat + z @ chol.T)


def laplace(
    residuals: Callable, design, *, noise_std: float = 1.0, regularisers: Sequence[AbstractRegulariser] = ()
) -> LaplacePosterior:
    r"""Laplace approximation of the parameter uncertainty at a least-squares optimum.

    With observations ``d = m(x) + ε``, ``ε ~ N(0, σ²I)``, and residuals
    ``r(x) = m(x) - d``, the posterior near its mode ``x̂`` is approximately
    ``N(x̂, σ² (JᵀJ + P)⁻¹)`` with ``J = ∂r/∂x`` (forward-mode autodiff through the
    simulation) and ``P`` the Gauss–Newton Hessian of the regularisers (Gaussian priors).
    Good for few parameters that the data determine well; it ignores the curvature of
    ``m`` itself (exact for a model linear in ``x``).

    **Arguments:**

    - `residuals`: ``x -> pytree`` of un-whitened residuals ``m(x) - d``.
    - `design`: the estimate ``x̂`` (e.g. [`least_squares`][jaxpde.design.least_squares]' result).
    - `noise_std`: ``σ``, the standard deviation of the observation noise.
    - `regularisers`: priors, as used in the fit (their residuals are not scaled by σ).

    **Returns:** a [`LaplacePosterior`][jaxpde.design.LaplacePosterior] (mean, covariance, samples).
    """
    flat, unravel = ravel_pytree(design)

    def r(v):
        x = unravel(v)
        out = [ravel_pytree(residuals(x))[0] / noise_std]
        out += [reg.residuals(x) for reg in regularisers]
        return jnp.concatenate(out)

    jac = jax.jacfwd(r)(flat)
    precision = jac.T @ jac
    cov = jnp.linalg.inv(precision)
    cov = 0.5 * (cov + cov.T)
    return LaplacePosterior(design, cov, unravel(jnp.sqrt(jnp.diag(cov))))


def peak_memory(fn: Callable, *args) -> int:
    """Bytes XLA allocates at the peak of ``jax.jit(fn)(*args)`` (temporaries,
    arguments and outputs of the compiled program), from ``compiled.memory_analysis()``.
    Deterministic and computed without running `fn`: use it to compare gradient
    programs with and without checkpointing.

    **Arguments:** `fn` and its positional `args`. **Returns:** bytes.
    """
    m = jax.jit(fn).lower(*args).compile().memory_analysis()
    if m is None:
        raise RuntimeError("this backend does not report memory analysis for compiled programs.")
    return int(m.temp_size_in_bytes + m.argument_size_in_bytes + m.output_size_in_bytes)


def smooth_indicator(level_set, width) -> jax.Array:
    r"""``χ = ½(1 + tanh(φ / w))``: a smooth indicator of the region ``φ > 0`` of a
    level-set function ``φ``, with an interface of width ``~w``.

    Use it to describe an obstacle or a shape by differentiable parameters (a bump
    height, a centre, a radius), e.g. ``φ = R - |x - c|``; derivatives with respect to
    the shape parameters exist everywhere and are non-zero near the interface.

    **Arguments:** the `level_set` values ``φ`` and the interface `width` ``w``.

    **Returns:** ``χ``, the shape of `level_set`.
    """
    return 0.5 * (1.0 + jnp.tanh(jnp.asarray(level_set) / width))


def fourier_series(coefficients, grid) -> jax.Array:
    r"""A real periodic field from its lowest Fourier modes, for a 1D
    [`PeriodicGrid`][jaxpde.PeriodicGrid]:

    ``u_c(x) = a_{c,0} + Σ_{k=1}^{K} a_{c,k} cos(2πkx/L) + b_{c,k} sin(2πkx/L)``.

    `coefficients` has shape ``(C, 2K + 1)`` ordered ``(a_0, a_1, b_1, ..., a_K, b_K)``;
    returns ``(C, N)``. A design in this basis has ``2K + 1`` unknowns per channel and
    cannot represent scales finer than ``L / K``: an implicit smoothness prior.

    **Arguments:** the `coefficients` and the 1D `grid`.

    **Returns:** ``(C, N)``.
    """
    c = jnp.asarray(coefficients)
    if grid.ndim != 1 or c.ndim != 2 or c.shape[1] % 2 != 1:
        raise ValueError(
            f"fourier_series needs a 1D grid and coefficients of shape (C, 2K + 1), got a "
            f"{grid.ndim}D grid and shape {c.shape}."
        )
    k_max = (c.shape[1] - 1) // 2
    if k_max >= grid.num_points[0] // 2:
        raise ValueError(f"K = {k_max} modes need more than {2 * k_max} grid points, got {grid.num_points[0]}.")
    x = jnp.asarray(grid.coordinates()[0], c.dtype) * (2 * jnp.pi / grid.extent[0])
    k = jnp.arange(1, k_max + 1, dtype=c.dtype)
    basis = jnp.concatenate(
        [
            jnp.ones((1, x.size), c.dtype),
            jnp.stack([jnp.cos(k[:, None] * x), jnp.sin(k[:, None] * x)], axis=1).reshape(-1, x.size),
        ]
    )
    return c @ basis


def piecewise_constant(values, num_steps: int) -> jax.Array:
    """Expand ``K`` control values ``(K, ...)`` to one per time step ``(num_steps, ...)``
    (each value held for ``num_steps // K`` steps): a control with few unknowns for
    ``rollout(..., controls=...)``.

    **Arguments:** the `values` ``(K, ...)`` and `num_steps` (a multiple of ``K``).

    **Returns:** ``(num_steps, ...)``.
    """
    values = jnp.asarray(values)
    num_steps = check_int(num_steps, "num_steps")
    if values.ndim == 0 or num_steps % values.shape[0]:
        raise ValueError(
            f"num_steps ({num_steps}) must be a multiple of the number of control intervals "
            f"(leading axis of values, shape {values.shape})."
        )
    return jnp.repeat(values, num_steps // values.shape[0], axis=0)


def piecewise_constant_rollout(stepper, u0, values, num_steps: int, *, checkpoint=True):
    r"""The final state after `num_steps` steps of `stepper` from `u0`, with control
    ``values[k]`` (shape ``(K, ...)``) passed as ``args`` during the k-th of ``K`` equal
    time intervals.

    Equivalent to ``rollout_final(stepper, u0, num_steps,
    controls=piecewise_constant(values, num_steps))`` but never expands the controls
    to one per step: a ``lax.scan`` over the intervals with a checkpointed
    [`rollout_final`][jaxpde.rollout_final] inside, so reverse mode stores ``K`` states plus
    ``O(√(num_steps / K))`` per interval (see `checkpoint` of [`rollout`][jaxpde.rollout]).

    **Arguments:** `stepper`, `u0`, the control `values` ``(K, ...)``, `num_steps` (a multiple of ``K``), `checkpoint`.

    **Returns:** the final state ``(C, *N)``.
    """
    from ..integrate import rollout_final

    values = jnp.asarray(values)
    num_steps = check_int(num_steps, "num_steps")
    if values.ndim == 0 or num_steps % values.shape[0]:
        raise ValueError(
            f"num_steps ({num_steps}) must be a multiple of the number of control intervals "
            f"(leading axis of values, shape {values.shape})."
        )
    per = num_steps // values.shape[0]
    stepper = stepper.prepare()  # once, outside the scan over intervals

    def interval(u, f):
        return rollout_final(stepper, u, per, args=f, checkpoint=checkpoint), None

    body = jax.checkpoint(interval) if checkpoint else interval
    return jax.lax.scan(body, jnp.asarray(u0), values)[0]


def plot_history(history: list, path, *, title: str | None = None) -> None:
    """Objective (and misfit, when regularised) and gradient norm against iteration,
    log scale, to a PNG.

    **Arguments:** the `history` records, the PNG `path`, a `title`. **Returns:** ``None``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rec = [r for r in history if "objective" in r]
    fig, ax = plt.subplots(1, 2, figsize=(9, 3.4))
    if rec:
        s = np.array([r["step"] for r in rec])
        ax[0].semilogy(s, [r["objective"] for r in rec], label="objective")
        if any(r["misfit"] != r["objective"] for r in rec):
            ax[0].semilogy(s, [r["misfit"] for r in rec], "--", label="misfit")
        ax[1].semilogy(s, [r["grad_norm"] for r in rec], color="C2")
    ax[0].set(xlabel="iteration", ylabel="objective")
    ax[0].legend()
    ax[1].set(xlabel="iteration", ylabel="gradient norm")
    for a in ax:
        a.grid(True, which="both", alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
