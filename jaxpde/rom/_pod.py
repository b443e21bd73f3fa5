"""Proper orthogonal decomposition and the POD-Galerkin reduced-order model on any
[`AbstractPDE`][jaxpde.AbstractPDE]'s right-hand side: the classical linear baseline."""

import diffrax
import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from .._checks import check_int
from ._physics import field_velocity


class PODGalerkin(eqx.Module):
    r"""A linear reduced-order model ``u ≈ ū + Σ_j a_j φ_j`` with the POD modes ``φ_j``
    (orthonormal in the Euclidean inner product of the grid values) and the Galerkin
    dynamics ``da/dt = Φᵀ f(ū + Φ a)``, ``f`` the full solver's right-hand side
    ([`field_velocity`][jaxpde.rom.field_velocity]): the projection every nonlinear term is evaluated through
    (no hyper-reduction), so the model is exactly the Galerkin ROM of the discretised PDE.

    Build it with [`pod`][jaxpde.rom.pod].

    **Fields:** the `mean` ``ū`` ``(C, *N)``, the `basis` ``Φ`` ``(C·N, r)`` and the `singular_values`.
    """

    mean: Array  # (C, *N)
    basis: Array  # (r, C * prod(N)), orthonormal rows
    singular_values: Array  # (r,)

    @property
    def rank(self) -> int:
        return self.basis.shape[0]

    def project(self, u: Array) -> Array:
        """The POD coefficients of a state ``(C, *N)``: ``Φᵀ (u − ū)``."""
        return self.basis @ (u - self.mean).reshape(-1)

    def reconstruct(self, a: Array) -> Array:
        """The state ``ū + Φ a``."""
        return self.mean + (a @ self.basis).reshape(self.mean.shape)

    def velocity(self, t, a: Array, physics, args=None) -> Array:
        """``Φᵀ f(ū + Φ a)``."""
        return self.basis @ field_velocity(physics, self.reconstruct(a), t=t, args=args).reshape(-1)

    def integrate(
        self,
        a0: Array,
        times,
        physics,
        *,
        args=None,
        solver=None,
        rtol: float = 1e-6,
        atol: float = 1e-8,
        max_steps: int = 100_000,
    ) -> Array:
        """The Galerkin ODE from ``a(times[0]) = a0`` (adaptive, ``diffrax.Tsit5`` by
        default); returns ``(T, r)`` at `times`."""
        times = jnp.asarray(times, a0.dtype)
        sol = diffrax.diffeqsolve(
            diffrax.ODETerm(lambda t, a, _: self.velocity(t, a, physics, args)),
            diffrax.Tsit5() if solver is None else solver,
            times[0],
            times[-1],
            times[1] - times[0],
            a0,
            saveat=diffrax.SaveAt(ts=times),
            stepsize_controller=diffrax.PIDController(rtol=rtol, atol=atol),
            max_steps=max_steps,
        )
        return sol.ys


def pod(snapshots, rank: int) -> PODGalerkin:
    """POD of snapshots ``(S, C, *N)``: the mean and the `rank` leading right singular
    vectors of the centred snapshot matrix (a ``(S, T, C, *N)`` set of trajectories is
    passed as ``trajs.reshape(-1, *trajs.shape[2:])``).

    **Arguments:** the `snapshots` and the `rank`.

    **Returns:** a [`PODGalerkin`][jaxpde.rom.PODGalerkin].
    """
    snaps = jnp.asarray(snapshots)
    rank = check_int(rank, "rank")
    if snaps.ndim < 3:
        raise ValueError(f"snapshots must be (S, C, *N), got shape {snaps.shape}.")
    shape = snaps.shape[1:]
    flat = snaps.reshape(-1, int(np.prod(shape)))
    if rank > min(flat.shape):
        raise ValueError(f"rank {rank} exceeds what {flat.shape[0]} snapshots of size {flat.shape[1]} support.")
    mean = flat.mean(axis=0)
    _, s, vt = jnp.linalg.svd(flat - mean, full_matrices=False)
    return PODGalerkin(mean=mean.reshape(shape), basis=vt[:rank], singular_values=s[:rank])
