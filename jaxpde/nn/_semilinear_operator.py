"""Semilinear neural operators: the exact linear propagator of a spectral PDE with a
learned nonlinear term, and a learned observer that corrects the state from sparse,
noisy measurements (prediction and data assimilation in one model)."""

from collections.abc import Callable

import equinox as eqx
import jax.numpy as jnp

from .._abstract import AbstractPartlyFrozen, AbstractStepper
from .._checks import check_dt, check_int
from ..spectral import AbstractSemilinearPDE, phi_functions
from ._fno import _compute_dtype


class SemilinearOperator(AbstractStepper, AbstractPartlyFrozen):
    r"""A learned stepper built on the exact linear step of a semilinear PDE
    ``u_t = L u + N(u)``: the linear part is the PDE's own Fourier multiplier, propagated
    exactly, and only the nonlinear part is learned (exponential Euler with a network):

    ``û_{n+1} = e^{Δt L} û_n + Δt φ₁(Δt L) FFT[N_θ(u_n)]``.

    With an `observer`, a step that receives observations ``y`` on a sensor mask ``m``
    (as `args` ``{"values": y, "mask": m}``; per-step observations go through
    ``rollout(..., controls=...)``) corrects the predicted state ``ũ`` with a learned
    gain acting on the innovation:

    ``u_{n+1} = ũ + K_θ(m ⊙ (y - ũ), m, ũ) - K_θ(0, 0, ũ)``,

    so a step without data (``m = 0``) is the plain prediction (a Luenberger observer
    with a learned, state-dependent gain). The coefficients ``e^{Δt L}`` and ``φ₁`` are
    derived from the PDE's leaves at use, so gradients with respect to the PDE's
    coefficients are exact.

    **Arguments:**

    - `pde`: an [`AbstractSemilinearPDE`][jaxpde.spectral.AbstractSemilinearPDE]: its
      `linear_symbol` and grid (its own nonlinear term is not used).
    - `net`: the learned nonlinear term ``(C, *N) -> (C, *N)`` in physical space.
    - `dt`: the step.
    - `observer`: ``None``, or a network ``(2C + 1, *N) -> (C, *N)`` taking
      ``[innovation, mask, ũ]``.
    - `num_contour_points`: of the contour integral of ``φ₁`` (see
      [`phi_functions`][jaxpde.spectral.phi_functions]).
    - `learn_linear`: ``False`` (default): the PDE's coefficients are held at their
      values in training ([`train.trainable`][jaxpde.train.trainable] leaves them out;
      they stay differentiable), so the linear step stays exact; ``True``: trained
      with the networks, as Singh et al. learn their linear part.

    References: A. Singh, R. A. Borsoi, D. Erdogmus & T. Imbiriba, "Learning semilinear
    neural operators: a unified recursive framework for prediction and data
    assimilation", ICLR 2024 (prediction and observer-based correction; here the linear
    part is the PDE's exact propagator rather than learned); S. M. Cox & P. C. Matthews,
    J. Comput. Phys. 176 (2002) (the exponential integrator).
    """

    pde: AbstractSemilinearPDE
    net: Callable
    dt: float
    observer: Callable | None
    num_contour_points: int = eqx.field(static=True)
    learn_linear: bool = eqx.field(static=True)
    prepared: tuple | None

    def __init__(self, pde, net, dt, *, observer=None, num_contour_points: int = 32, learn_linear: bool = False):
        if not isinstance(pde, AbstractSemilinearPDE):
            raise TypeError(f"SemilinearOperator needs a spectral semilinear PDE, got {type(pde).__name__}.")
        self.pde, self.net, self.observer = pde, net, observer
        self.dt = check_dt(dt)
        self.num_contour_points = check_int(num_contour_points, "num_contour_points", minimum=4)
        self.learn_linear = bool(learn_linear)
        self.prepared = None

    def frozen_fields(self) -> tuple:
        """The fields training leaves alone ([`train.trainable`][jaxpde.train.trainable]):
        the derived coefficients, and the PDE unless `learn_linear`. **Returns:** names."""
        return ("prepared",) if self.learn_linear else ("pde", "prepared")

    def coefficients(self):
        """``(e^{Δt L}, Δt φ₁(Δt L))``: those of [`prepare`][jaxpde.nn.SemilinearOperator.prepare],
        else derived from the PDE's current leaves. **Returns:** a pair."""
        if self.prepared is not None:
            return self.prepared
        e, p1 = phi_functions(self.dt * self.pde.linear_symbol(), 1, num_points=self.num_contour_points)
        return jnp.asarray(e), jnp.asarray(self.dt * p1)

    def prepare(self) -> "SemilinearOperator":
        """This operator with its coefficients derived once ([`jaxpde.rollout`][jaxpde.rollout]
        calls it once per rollout, inside the traced computation). **Returns:** a copy."""
        if self.prepared is not None:
            return self
        return eqx.tree_at(lambda m: m.prepared, self, self.coefficients(), is_leaf=lambda x: x is None)

    def predict(self, u):
        """The step without data. **Arguments:** `u` ``(C, *N)``. **Returns:** ``(C, *N)``."""
        self.pde.check_state(u)
        grid = self.pde.grid
        e, q = self.coefficients()
        x = u.astype(_compute_dtype(self.net, u))
        n_hat = grid.rfft(self.net(x).astype(u.dtype))
        u_hat = grid.rfft(u)
        out = e.astype(u_hat.dtype) * u_hat + q.astype(u_hat.dtype) * n_hat
        return grid.irfft(out).astype(u.dtype)

    def correct(self, u, values, mask):
        """The observer's correction of a predicted state `u` from observations `values`
        ``(C, *N)`` on `mask` ``(*N)`` or ``(1, *N)`` (1 where a sensor is).

        **Returns:** the corrected state ``(C, *N)``."""
        if self.observer is None:
            raise ValueError("this SemilinearOperator has no observer: build it with observer=... to assimilate data.")
        mask = jnp.broadcast_to(jnp.asarray(mask, u.dtype).reshape((1, *u.shape[1:])), (1, *u.shape[1:]))
        innovation = mask * (jnp.asarray(values, u.dtype) - u)
        dtype = _compute_dtype(self.observer, u)
        with_data = jnp.concatenate([innovation, mask, u]).astype(dtype)
        without = jnp.concatenate([jnp.zeros_like(innovation), jnp.zeros_like(mask), u]).astype(dtype)
        return u + (self.observer(with_data) - self.observer(without)).astype(u.dtype)

    def __call__(self, u, args=None):
        pred = self.predict(u)
        if args is None:
            return pred
        return self.correct(pred, args["values"], args["mask"])
