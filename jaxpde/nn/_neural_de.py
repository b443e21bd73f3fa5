r"""Neural ODEs and the three stable neural SDE classes of Oh, Lim & Kim,
"Stable Neural Stochastic Differential Equations in Analyzing Irregular Time Series
Data" (ICLR 2024). Each is an equinox module whose drift is an
[`AbstractPDE`][jaxpde.AbstractPDE] and whose noise is a [`DiagonalNoise`][jaxpde.integrate.DiagonalNoise],
so [`jaxpde.solve`][jaxpde.solve] integrates them like any PDE (every solver, adjoint and the
solver-heuristic regularisers included).
"""

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp

from .._abstract import AbstractPDE
from .._checks import check_int
from ..integrate import DiagonalNoise, solve
from ._vector_fields import MLPField


class NeuralODE(AbstractPDE):
    r"""``du/dt = f_θ(t, u, args)``: a learned vector field as an [`AbstractPDE`][jaxpde.AbstractPDE].

    **Arguments:**

    - `vector_field`: a module ``(t, u, args) -> du/dt`` ([`MLPField`][jaxpde.nn.MLPField],
      [`FourierField`][jaxpde.nn.FourierField], or any equinox module).
    - `state_shape`: the shape of ``u`` (``(size,)`` for vectors, ``(C, N)`` for fields).
    - `grid`: the grid of a field state (optional; ``None`` for vectors).
    """

    vector_field: Callable
    grid: Any
    shape: tuple[int, ...] = eqx.field(static=True)

    def __init__(self, vector_field, state_shape, grid=None):
        self.vector_field = vector_field
        self.shape = tuple(int(s) for s in state_shape)
        self.grid = grid

    @property
    def num_channels(self) -> int:
        return self.shape[0]

    @property
    def state_shape(self) -> tuple[int, ...]:
        return self.shape

    def rhs(self, t, u, args=None):
        return self.vector_field(t, u, args)

    def solve(self, u0, t0, t1, **kwargs):
        """[`jaxpde.solve`][jaxpde.solve] of this ODE (keyword arguments are passed on)."""
        return solve(self, u0, t0, t1, **kwargs)


class _Drift(AbstractPDE):
    """The drift of a neural SDE as an AbstractPDE on vectors."""

    fn: Callable
    size: int = eqx.field(static=True)
    grid: Any = None

    @property
    def num_channels(self) -> int:
        return self.size

    @property
    def state_shape(self) -> tuple[int, ...]:
        return (self.size,)

    def rhs(self, t, u, args=None):
        return self.fn(t, u, args)


class _TimeMLP(eqx.Module):
    """``t ↦ σ(t)``, a small MLP of time with a softplus output (positive diffusion)."""

    mlp: eqx.nn.MLP

    def __init__(self, size, width, depth, *, key):
        self.mlp = eqx.nn.MLP(1, size, width, depth, activation=jnp.tanh, final_activation=jax.nn.softplus, key=key)

    def __call__(self, t, dtype):
        return self.mlp(jnp.reshape(jnp.asarray(t, dtype), (1,)))


class _AbstractNeuralSDE(eqx.Module):
    size: eqx.AbstractVar[int]

    @property
    def drift(self) -> AbstractPDE:
        return _Drift(self._drift, self.size)

    @property
    def noise(self) -> DiagonalNoise:
        return DiagonalNoise(self._diffusion, additive=self._additive)

    _additive = False

    def solve(self, z0, t0, t1, *, key, dt0, **kwargs):
        """[`jaxpde.solve`][jaxpde.solve] of this SDE with Brownian motion fixed by `key`."""
        return solve(self.drift, z0, t0, t1, noise=self.noise, key=key, dt0=dt0, **kwargs)


def _check_size(size):
    return check_int(size, "size")


class LangevinSDE(_AbstractNeuralSDE):
    r"""Langevin-type SDE (LSDE): ``dz = γ_θ(z) dt + σ_φ(t) dW``.

    An autonomous drift and a time-only (additive, diagonal) diffusion; Oh et al. show
    the solution stays bounded under mild conditions on ``γ`` and is robust to
    distribution shift. Additive noise: ``"shark"``, ``"sra1"``, ``"sea"`` apply.

    **Arguments:** the state `size`, the `width` and `depth` of the drift and diffusion MLPs,
    and a PRNG `key`.
    """

    size: int = eqx.field(static=True)
    gamma: MLPField
    sigma: _TimeMLP
    _additive = True

    def __init__(self, size, *, width=32, depth=2, key):
        self.size = _check_size(size)
        k1, k2 = jax.random.split(key)
        self.gamma = MLPField(self.size, width=width, depth=depth, key=k1)
        self.sigma = _TimeMLP(self.size, width, 1, key=k2)

    def _drift(self, t, z, args):
        return self.gamma(t, z)

    def _diffusion(self, t, z, args):
        return self.sigma(t, z.dtype)


class _AbstractStateNoiseSDE(_AbstractNeuralSDE):
    """Shared by the LNSDE and GSDE: a time-dependent drift network and the
    multiplicative diffusion ``σ_φ(t) ⊙ z``; subclasses give the drift."""

    size: int = eqx.field(static=True)
    gamma: MLPField
    sigma: _TimeMLP

    def __init__(self, size, *, width=32, depth=2, key):
        self.size = _check_size(size)
        k1, k2 = jax.random.split(key)
        self.gamma = MLPField(self.size, width=width, depth=depth, time_dependent=True, key=k1)
        self.sigma = _TimeMLP(self.size, width, 1, key=k2)

    def _diffusion(self, t, z, args):
        return self.sigma(t, z.dtype) * z


class LinearNoiseSDE(_AbstractStateNoiseSDE):
    r"""Linear-noise SDE (LNSDE): ``dz = γ_θ(t, z) dt + σ_φ(t) ⊙ z dW``.

    Multiplicative noise linear in the state (Itô with ``"euler"``; Stratonovich with
    ``"heun"`` or ``"spark"``).

    **Arguments:** the state `size`, the `width` and `depth` of the drift and diffusion MLPs,
    and a PRNG `key`.
    """

    def _drift(self, t, z, args):
        return self.gamma(t, z)


class GeometricSDE(_AbstractStateNoiseSDE):
    r"""Geometric SDE (GSDE): ``dz / z = γ_θ(t, z) dt + σ_φ(t) dW``, i.e.
    ``dz = z ⊙ γ_θ(t, z) dt + z ⊙ σ_φ(t) dW``.

    Zero is absorbing and the sign of each component is preserved by the exact flow.

    **Arguments:** the state `size`, the `width` and `depth` of the drift and diffusion MLPs,
    and a PRNG `key`.
    """

    def _drift(self, t, z, args):
        return z * self.gamma(t, z)
