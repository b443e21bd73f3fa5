"""ProbConserv: the Bayesian update that makes a probabilistic prediction satisfy a linear
conservation constraint exactly (Hansen, Maddix, Alizadeh, Gupta & Mahoney, "Learning
Physical Models that Can Respect Conservation Laws", ICML 2023)."""

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float


class ProbConserv(eqx.Module):
    r"""Condition a Gaussian prediction ``N(μ, Σ)`` of a field on the linear constraint
    ``G u = b`` (observed with variance `noise`; 0 enforces it exactly):

    ``μ̃ = μ + Σ Gᵀ (G Σ Gᵀ + σ² I)⁻¹ (b - G μ)``,
    ``Σ̃ = Σ - Σ Gᵀ (G Σ Gᵀ + σ² I)⁻¹ G Σ``.

    The correction moves each cell in proportion to its variance, so the mass a
    prediction lacks goes where it is least certain (at a shock, typically), and the
    variance shrinks along the constrained directions. ``Σ`` is diagonal (`variance`) or
    diagonal plus low rank (``variance + V Vᵀ``, `factor` ``V``, e.g. the deviations of an
    ensemble divided by ``√(M - 1)``); the cost is one ``m × m`` solve for ``m``
    constraints.

    **Arguments:**

    - `constraint`: ``G``, shape ``(m, C, *N)``: one weight field per constraint (e.g.
      [`total`][jaxpde.nn.ProbConserv.total]: the cell volumes of one channel, so ``G u``
      is its integral).
    - `noise`: ``σ²``, the variance of the constraint's right-hand side (default 0: exact).

    References: D. Hansen et al., ICML 2023 (ProbConserv); the update is the conditional
    of a Gaussian on a linear observation (Kalman's update).
    """

    constraint: Float[Array, "m ..."]
    noise: float = eqx.field(static=True)

    def __init__(self, constraint, *, noise: float = 0.0):
        g = jnp.asarray(constraint)
        if g.ndim < 2:
            raise ValueError(f"constraint must be (m, C, *N), one weight field per constraint; got {g.shape}.")
        self.constraint = g
        self.noise = float(noise)
        if self.noise < 0:
            raise ValueError(f"noise must be >= 0, got {noise}.")

    @staticmethod
    def total(grid, num_channels: int, channels=(0,)) -> Array:
        """Weight fields of the integral over `grid` of each of `channels` of a field
        ``(num_channels, *N)``: the cell volume ``Π Δx`` in that channel, zero elsewhere
        (periodic and cell-centred grids alike).

        **Arguments:** `grid`, `num_channels`, `channels`.

        **Returns:** ``(len(channels), num_channels, *N)``."""
        g = np.zeros((len(channels), num_channels, *grid.shape))
        for row, c in enumerate(channels):
            g[row, c] = float(np.prod(grid.spacing))
        return jnp.asarray(g)

    def _check(self, mean):
        if mean.shape != self.constraint.shape[1:]:
            raise ValueError(
                f"ProbConserv: the constraint acts on fields {self.constraint.shape[1:]}, got a mean {mean.shape}."
            )

    def residual(self, u) -> Array:
        """``G u``: the constrained quantities of a field `u`. **Returns:** ``(m,)``."""
        self._check(u)
        return self.constraint.reshape(self.constraint.shape[0], -1) @ u.reshape(-1)

    def __call__(self, mean, variance, target, *, factor=None):
        """The constrained mean and marginal variances.

        **Arguments:** `mean` ``(C, *N)``; `variance` ``(C, *N)`` (the diagonal of ``Σ``,
        ``≥ 0``); `target` ``b`` ``(m,)``; `factor` ``V`` ``(r, C, *N)`` for a low-rank
        part ``Σ = diag(variance) + Σ_i V_i V_iᵀ``.

        **Returns:** ``(mean, variance)`` of the posterior, ``(C, *N)`` each; ``G mean``
        equals `target` to round-off when `noise` is 0."""
        mean, variance = jnp.asarray(mean), jnp.asarray(variance)
        self._check(mean)
        if variance.shape != mean.shape:
            raise ValueError(f"variance {variance.shape} must have the shape of the mean {mean.shape}.")
        g = self.constraint.reshape(self.constraint.shape[0], -1).astype(mean.dtype)  # (m, n)
        d = variance.reshape(-1)
        cov_gt = d[:, None] * g.T  # Σ Gᵀ, (n, m)
        if factor is not None:
            v = jnp.asarray(factor).reshape(-1, mean.size)  # (r, n)
            cov_gt = cov_gt + v.T @ (v @ g.T)
        s = g @ cov_gt + self.noise * jnp.eye(g.shape[0], dtype=mean.dtype)
        target = jnp.asarray(target, mean.dtype).reshape(-1)
        gain = jnp.linalg.solve(s, (target - g @ mean.reshape(-1)))
        new_mean = mean.reshape(-1) + cov_gt @ gain
        # diag(Σ Gᵀ S⁻¹ G Σ): row-wise quadratic forms
        reduce = jnp.sum(cov_gt * jnp.linalg.solve(s, cov_gt.T).T, axis=1)
        prior_var = d if factor is None else d + jnp.sum(v**2, axis=0)
        new_var = jnp.maximum(prior_var - reduce, 0.0)
        return new_mean.reshape(mean.shape), new_var.reshape(mean.shape)
