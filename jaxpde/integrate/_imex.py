"""The implicit half of IMEX methods for semilinear PDEs: a Fourier-diagonal linear solve
and a one-step root finder for linear stage equations."""

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import lineax as lx
import optimistix as optx
from jax import lax
from jaxtyping import Array, PyTree


def _fft_axes(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(range(1, len(shape)))


class FourierMultiplierSolver(lx.AbstractLinearSolver):
    """Solve ``A x = b`` where ``A`` is a channel-wise Fourier multiplier on a periodic grid.

    The implicit stage equations of an IMEX method for a semilinear PDE
    ``u_t = L u + N(u)`` have the operator ``A = I - c Δt L``. When ``L`` is diagonal in
    Fourier space (and does not couple channels) so is ``A``, and its symbol is
    recovered exactly from one application to a discrete delta:
    ``â = FFT[A δ]``. Solving is then ``x = IFFT[FFT[b] / â]``: two FFTs instead of a
    dense LU factorisation of an ``N × N`` Jacobian.

    The operator must act on a single real array of shape ``(C, *N)``, with FFTs taken
    over every axis but the first. This is how [`jaxpde.solve`][jaxpde.solve] uses it for the
    IMEX (KenCarp) methods; it is not meant for general operators (no check is made
    that ``A`` really is a Fourier multiplier).
    """

    def init(self, operator: lx.AbstractLinearOperator, options: dict[str, Any]):
        del options
        struct = operator.in_structure()
        if not isinstance(struct, jax.ShapeDtypeStruct) or len(struct.shape) < 2:
            raise ValueError(
                "FourierMultiplierSolver needs an operator on one array of shape (C, *N), "
                f"got input structure {struct}."
            )
        shape = struct.shape
        delta = jnp.zeros(shape, struct.dtype).at[(slice(None),) + (0,) * (len(shape) - 1)].set(1)
        symbol = jnp.fft.rfftn(operator.mv(delta), axes=_fft_axes(shape))
        return symbol

    def compute(self, state, vector: Array, options: dict[str, Any]):
        del options
        symbol = state
        axes = _fft_axes(vector.shape)
        x = jnp.fft.irfftn(jnp.fft.rfftn(vector, axes=axes) / symbol, s=vector.shape[1:], axes=axes)
        return x.astype(vector.dtype), lx.RESULTS.successful, {}

    def transpose(self, state, options: dict[str, Any]):
        # A real circulant operator's transpose has the conjugate symbol.
        return jnp.conj(state), options

    def conj(self, state, options: dict[str, Any]):
        # The operator is real.
        return state, options

    def assume_full_rank(self) -> bool:
        return True


class _NoAux(eqx.Module):
    fn: Callable

    def __call__(self, y, args):
        return self.fn(y, args)[0]


class _LinearStageState(eqx.Module):
    linear_state: tuple
    result: optx.RESULTS
    done: Array


class LinearStageSolve(optx.AbstractRootFinder):
    """Solve a *linear* stage equation ``A k = b`` of an implicit Runge-Kutta stage with a
    single linear solve.

    When the implicit term is linear (the ``L u`` of an IMEX split), the stage equation
    is linear and one Newton step with the exact Jacobian is the exact root. A general
    chord iteration then spends a second iteration only to confirm convergence, and its
    convergence-rate test reads round-off in that second correction as divergence at
    tight tolerances, rejecting good steps. This root finder performs the one solve
    and stops.

    Like `diffrax.VeryChord` it accepts ``options=dict(init_state=...)`` so the
    Jacobian (here: its Fourier symbol) is built once per step, not per stage.

    **Arguments:**

    - `rtol`, `atol`, `norm`: part of diffrax's root-finder interface (the single solve is
      exact, so they are not used to iterate).
    - `linear_solver`: the lineax solver for ``A`` (default:
      [`FourierMultiplierSolver`][jaxpde.integrate.FourierMultiplierSolver]).
    """

    rtol: float = 0.0
    atol: float = 0.0
    norm: Callable[[PyTree], Any] = optx.rms_norm
    linear_solver: lx.AbstractLinearSolver = FourierMultiplierSolver()

    def init(self, fn, y, args, options, f_struct, aux_struct, tags):
        try:
            return options["init_state"]
        except KeyError:
            pass
        jac = lx.linearise(lx.JacobianLinearOperator(_NoAux(fn), y, args, tags=tags))
        linear_state = self.linear_solver.init(jac, options={})
        dynamic, static = eqx.partition(linear_state, eqx.is_array)
        linear_state = eqx.combine(lax.stop_gradient(dynamic), static)
        return _LinearStageState(
            linear_state=(jac, linear_state), result=optx.RESULTS.successful, done=jnp.array(False)
        )

    def step(self, fn, y, args, options, state, tags):
        fx, aux = fn(y, args)
        jac, linear_state = state.linear_state
        sol = lx.linear_solve(jac, fx, self.linear_solver, state=lax.stop_gradient(linear_state), throw=False)
        new_y = jax.tree.map(lambda a, b: a - b, y, sol.value)
        new_state = _LinearStageState(
            linear_state=state.linear_state, result=optx.RESULTS.promote(sol.result), done=jnp.array(True)
        )
        return new_y, new_state, aux

    def terminate(self, fn, y, args, options, state, tags):
        return state.done, state.result

    def postprocess(self, fn, y, aux, args, options, state, tags, result):
        return y, aux, {}
