r"""Solver heuristics as training regularisers (Pal et al.).

An adaptive solver already computes, at every step, a local error estimate ``E_j``
(what the step-size controller compares with the tolerance) and can cheaply estimate
the stiffness ``S_j`` from its stage values. Neural differential equations whose
dynamics make these large are expensive to solve, so penalising them during training
gives models that solve in fewer steps:

- **global** (Pal, Ma, Shah & Rackauckas, "Opening the Blackbox: Accelerating Neural
  Differential Equations by Regularizing Internal Solver Heuristics", ICML 2021):
  ``R_E = Σ_j E_j |h_j|`` and ``R_S = Σ_j S_j |h_j|`` over the accepted steps of the
  solve. [`jaxpde.solve`][jaxpde.solve] accumulates both when called with ``heuristics=True``.
- **local** (Pal, Edelman & Rackauckas, "Locally Regularized Neural Differential
  Equations: Some Black Boxes Were Meant to Remain Closed!", ICML 2023): the same
  quantities for a single step taken from the solution at a random time, which costs
  one step instead of a second pass over the trajectory ([`local_heuristics`][jaxpde.integrate.local_heuristics]).

Both only read values the forward solve produces, so they work with any diffrax
adjoint.

The stiffness estimate is Shampine's ratio from the last two stages of an explicit
Runge-Kutta step, ``S = |k_s - k_{s-1}| / (h |Y_s - Y_{s-1}|)`` (Hairer & Wanner,
*Solving ODEs II*, §IV.2), which equals ``|λ|`` on ``y' = λ y``. For solvers without
explicit Runge-Kutta stages it is reported as zero.
"""

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array

from ._names import ODE_SOLVERS, resolve
from ._terms import PDETerm

_TINY = 1e-30


def _rms(x) -> Array:
    # sqrt(mean(x²) + tiny): finite gradient at exactly zero
    leaves = jax.tree.leaves(x)
    total = sum(jnp.sum(jnp.abs(v) ** 2) for v in leaves)
    size = sum(v.size for v in leaves)
    return jnp.sqrt(total / size + _TINY)


def scaled_error(y0, y1, y_error, rtol, atol) -> Array:
    """The RMS of ``y_error / (atol + rtol max(|y0|, |y1|))``: the quantity diffrax's PID
    controller compares with 1 to accept a step."""
    scale = jax.tree.map(lambda a, b: atol + rtol * jnp.maximum(jnp.abs(a), jnp.abs(b)), y0, y1)
    return _rms(jax.tree.map(lambda e, s: e / s, y_error, scale))


def stiffness_estimate(solver, y0, dense_info, h) -> Array:
    """Shampine's stiffness estimate from the last two stages of an explicit RK step
    (zero for other solvers)."""
    tableau = getattr(solver, "tableau", None)
    ks = dense_info.get("k") if isinstance(dense_info, dict) else None
    if not isinstance(tableau, diffrax.ButcherTableau) or ks is None or tableau.num_stages < 2:
        return jnp.zeros(())
    if tableau.a_diagonal is not None and any(float(a) != 0 for a in tableau.a_diagonal):
        return jnp.zeros(())  # implicit stages

    def stage_state(i):
        if i == 0:
            return y0
        row = tableau.a_lower[i - 1]
        return jax.tree.map(lambda y, k: y + jnp.tensordot(jnp.asarray(row, k.dtype), k[:i], axes=1), y0, ks)

    s = tableau.num_stages - 1
    dk = jax.tree.map(lambda k: k[s] - k[s - 1], ks)  # k already includes the step h
    dy = jax.tree.map(lambda a, b: a - b, stage_state(s), stage_state(s - 1))
    return _rms(dk) / (jnp.abs(h) * _rms(dy))


class HeuristicSolver(diffrax.AbstractAdaptiveSolver, diffrax.AbstractWrappedSolver):
    """Wraps a diffrax solver and accumulates ``Σ E_j |h_j|`` and ``Σ S_j |h_j|`` in its
    solver state. diffrax keeps a step's new solver state only when the step is
    accepted, so the sums run over accepted steps; read them from the final solver
    state with `read`. Used by [`jaxpde.solve`][jaxpde.solve] with ``heuristics=True``.

    **Arguments:** the wrapped `solver` (with an error estimate), the `rtol` and `atol`
    that scale the error estimates, and `scan_kind` (passed on to the wrapped solver).
    """

    solver: diffrax.AbstractSolver
    rtol: float
    atol: float
    # diffrax's DirectAdjoint/ForwardMode set this on Runge-Kutta solvers; forwarded.
    scan_kind: str | None = None

    def _inner(self):
        if self.scan_kind is None or getattr(self.solver, "scan_kind", "absent") is not None:
            return self.solver
        return eqx.tree_at(lambda s: s.scan_kind, self.solver, self.scan_kind, is_leaf=lambda x: x is None)

    @property
    def term_structure(self):
        return self.solver.term_structure

    @property
    def interpolation_cls(self):
        return self.solver.interpolation_cls

    @property
    def term_compatible_contr_kwargs(self):
        return self.solver.term_compatible_contr_kwargs

    def order(self, terms):
        return self.solver.order(terms)

    def strong_order(self, terms):
        return self.solver.strong_order(terms)

    def error_order(self, terms):
        return self.solver.error_order(terms)

    def init(self, terms, t0, t1, y0, args):
        dtype = jnp.result_type(*jax.tree.leaves(y0))
        zero = jnp.zeros((), dtype)
        return self.solver.init(terms, t0, t1, y0, args), zero, zero

    def step(self, terms, t0, t1, y0, args, solver_state, made_jump):
        inner, err_sum, stiff_sum = solver_state
        y1, y_error, dense_info, inner, result = self._inner().step(terms, t0, t1, y0, args, inner, made_jump)
        h = jnp.abs(t1 - t0)
        if y_error is None:
            err = jnp.zeros_like(err_sum)
        else:
            err = scaled_error(y0, y1, y_error, self.rtol, self.atol).astype(err_sum.dtype)
        stiff = stiffness_estimate(self.solver, y0, dense_info, t1 - t0).astype(stiff_sum.dtype)
        return y1, y_error, dense_info, (inner, err_sum + err * h, stiff_sum + stiff * h), result

    def func(self, terms, t0, y0, args):
        return self.solver.func(terms, t0, y0, args)

    @staticmethod
    def read(solver_state) -> dict:
        """``{"error": Σ E_j |h_j|, "stiffness": Σ S_j |h_j|}`` from a final solver state."""
        _, err_sum, stiff_sum = solver_state
        return {"error": err_sum, "stiffness": stiff_sum}


def local_heuristics(pde, u, t, *, solver="tsit5", rtol=1e-6, atol=1e-6, dt=None, args=None) -> dict:
    r"""Solver heuristics of a single step from state `u` at time `t` (the local
    regulariser of Pal, Edelman & Rackauckas, ICML 2023).

    Take `u` from a solve saved at (or densely evaluated at) a random time
    ``t ~ U(t0, t1)``. The step size is `dt`; pass the size of the steps the solver
    actually takes, e.g. ``(t1 - t0) / sol.stats["num_accepted_steps"]`` under
    ``stop_gradient``. Without it, Hairer's initial-step heuristic at `rtol`/`atol`
    is used, which is conservative (small steps, small error estimates). Returns ``{"error": E, "stiffness": S,
    "dt": h}``; ``E`` is the scaled RMS local error estimate, ``S`` Shampine's
    stiffness estimate. Differentiable in `u` and in the PDE's parameters.

    **Arguments:** `pde`, `u`, `t`, `solver` (a name or a diffrax solver with an error
    estimate), `rtol`, `atol`, `dt`, and `args` passed to ``pde.rhs``.
    """
    solver = resolve(solver, ODE_SOLVERS, "solver", diffrax.AbstractSolver)
    terms = diffrax.ODETerm(PDETerm(pde))
    if dt is None:
        controller = diffrax.PIDController(rtol=rtol, atol=atol)
        t_next, _ = controller.init(terms, t, t + 1.0, u, None, args, solver.func, solver.error_order(terms))
        dt = jax.lax.stop_gradient(t_next - t)
    state = solver.init(terms, t, t + dt, u, args)
    y1, y_error, dense_info, _, _ = solver.step(terms, t, t + dt, u, args, state, False)
    if y_error is None:
        raise ValueError(f"{type(solver).__name__} has no error estimate; use an adaptive solver such as 'tsit5'.")
    return {
        "error": scaled_error(u, y1, y_error, rtol, atol),
        "stiffness": stiffness_estimate(solver, u, dense_info, dt),
        "dt": dt,
    }


def random_time(key, t0, t1) -> Array:
    """A time drawn uniformly from ``(t0, t1)`` for [`local_heuristics`][jaxpde.integrate.local_heuristics].

    **Arguments:** a PRNG `key`, `t0`, `t1`. **Returns:** a scalar array."""
    return jax.random.uniform(key, (), minval=t0, maxval=t1)
