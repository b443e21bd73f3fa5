"""The Φ-ROM latent velocity: the solver's right-hand side at a decoded field, projected
onto the decoder's latent tangent space by least squares on a random subset of grid
points (stochastic hyper-reduction). Gradients flow through the least-squares solve, the
solver and the decoder."""

import jax
import jax.numpy as jnp
import lineax as lx
import numpy as np

from .._abstract import AbstractPDE, AbstractPointwise, AbstractStepper
from ._decoder import decode, decode_grid, grid_points


def field_velocity(physics, u, *, t=0.0, args=None):
    """``du/dt`` at a state: ``pde.rhs(t, u, args)`` for an [`AbstractPDE`][jaxpde.AbstractPDE],
    or the one-step difference quotient ``(S(u) - u) / dt`` for an
    [`AbstractStepper`][jaxpde.AbstractStepper].

    **Arguments:** the `physics` (a PDE or a stepper), the state `u`, the time `t`, `args`.

    **Returns:** ``du/dt`` ``(C, *N)``.
    """
    if isinstance(physics, AbstractPDE):
        return physics.rhs(t, u, args)
    if isinstance(physics, AbstractStepper):
        return (physics(u, args) - u) / physics.dt
    raise TypeError(f"physics must be an AbstractPDE or an AbstractStepper, got {type(physics).__name__}.")


def latent_velocity(decoder, alpha, physics, grid, *, key=None, fraction: float = 1.0, t=0.0, args=None):
    r"""The latent velocity that best reproduces the solver's dynamics,

    ``α̇* = argmin_a ‖J a − r‖₂``, ``J = ∂D(X_s, α)/∂α``, ``r = f(D(X, α))|_{X_s}``,

    where ``f`` is the solver's right-hand side ([`field_velocity`][jaxpde.rom.field_velocity]) evaluated on the
    field decoded on the full solver grid ``X``, and ``X_s`` a random subset of
    ``round(fraction · |X|)`` grid points (all points when `key` is None or
    ``fraction=1``). ``J`` comes from forward-mode autodiff; the least-squares problem is
    solved by QR (lineax), and it is differentiable: Hosseini Dashtbayaz et al., NeurIPS
    2025, Φ-ROM.

    For a linear decoder ``D(x, α) = Σ_j α_j φ_j(x)`` on all points, ``α̇*`` is the
    discrete Galerkin projection of ``f`` onto ``span{φ_j}``.

    **Returns:** ``α̇*`` of shape ``(k,)``.

    **Arguments:** the `decoder`, the latent `alpha` ``(k,)``, the `physics` (see
    [`field_velocity`][jaxpde.rom.field_velocity]), the solver `grid`, a PRNG `key` and the `fraction` of points, the
    time `t`, `args` of the right-hand side.
    """
    u = decode_grid(decoder, grid, alpha, dtype=alpha.dtype)
    r = field_velocity(physics, u, t=t, args=args).reshape(u.shape[0], -1)  # (C, P)
    idx = _subset(grid, alpha, key, fraction)
    pts = jnp.asarray(grid_points(grid), alpha.dtype)
    if idx is not None:
        pts, r = pts[idx], r[:, idx]
    return _project(decoder, alpha, pts, r)


def _subset(grid, alpha, key, fraction):
    """Indices of the random hyper-reduction subset, or None for all grid points."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}.")
    n = int(np.prod(grid.shape))
    m = n if key is None or fraction == 1.0 else max(int(round(fraction * n)), alpha.shape[0])
    return None if m >= n else jax.random.choice(key, n, (m,), replace=False)


def _project(decoder, alpha, pts, r):
    """``argmin_a ‖J a − r‖`` with ``J = ∂D(pts, α)/∂α`` (forward mode), by QR."""
    jac = jax.jacfwd(lambda a: decode(decoder, pts, a))(alpha)  # (C, m, k)
    k = alpha.shape[0]
    if jac.shape[0] * jac.shape[1] < k:
        raise ValueError(
            f"{jac.shape[0] * jac.shape[1]} residual rows cannot determine {k} latent velocities; raise fraction."
        )
    op = lx.MatrixLinearOperator(jac.reshape(-1, k))
    return lx.linear_solve(op, r.reshape(-1), solver=lx.QR()).value


def autodiff_velocity(decoder, alpha, pde, grid, *, key=None, fraction: float = 1.0, args=None):
    r"""The PINN-ROM latent velocity: as [`latent_velocity`][jaxpde.rom.latent_velocity], but the right-hand side
    ``r = f(D(·, α))`` is the PDE's pointwise form evaluated with autodiff derivatives of
    the decoder in ``x`` at the sampled points (no solver, no grid decode). Supports the
    equations of [`pointwise_rhs`][jaxpde.rom.pointwise_rhs].

    **Arguments:** `decoder`, the latent `alpha`, the `pde` (an [`AbstractPointwise`][jaxpde.AbstractPointwise]
    equation), its `grid`, a PRNG `key` and the `fraction` of points (hyper-reduction), `args` of the right-hand side.

    **Returns:** ``α̇*`` ``(k,)``.
    """
    form = pointwise_rhs(pde)
    idx = _subset(grid, alpha, key, fraction)
    pts = jnp.asarray(grid_points(grid), alpha.dtype)
    if idx is not None:
        pts = pts[idx]
    r = jax.vmap(lambda x: form(lambda y: decoder(y, alpha), x, args), out_axes=1)(pts)
    return _project(decoder, alpha, pts, r)


def pointwise_rhs(pde):
    """``(field, x, args) -> du/dt (C,)``: the right-hand side of `pde` at one point from
    autodiff derivatives of a pointwise ``field: x -> (C,)``, for equations with a local
    form ([`AbstractPointwise`][jaxpde.AbstractPointwise]: diffusion, Burgers, KdV).

    **Arguments:** `pde`. **Returns:** its pointwise right-hand side.
    """
    if not isinstance(pde, AbstractPointwise):
        raise ValueError(
            f"PINN-ROM needs a pointwise (local) form of the PDE; {type(pde).__name__} does not "
            "implement AbstractPointwise (e.g. Diffusion, Burgers, KortewegDeVries do)."
        )
    return pde.pointwise_rhs
