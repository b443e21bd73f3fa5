"""Fourier neural operators on periodic fields of any dimension, and learned steppers."""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from .._abstract import AbstractStepper
from .._checks import check_int
from ._normalise import Normalisation, stepper_statistics


def _as_modes(modes, ndim: int) -> tuple[int, ...]:
    modes = (modes,) * ndim if isinstance(modes, (int, np.integer)) else tuple(modes)
    if len(modes) != ndim:
        raise ValueError(f"modes needs one entry per spatial axis ({ndim}), got {modes}.")
    return tuple(check_int(m, "modes") for m in modes)


def _mode_index(n: int, m: int, last: bool) -> np.ndarray:
    """Indices of the kept modes along one axis of an rfftn array of a length-`n` axis."""
    if last:
        return np.arange(min(m, n // 2 + 1))
    m = min(m, n // 2)
    return np.concatenate([np.arange(m), np.arange(n - m, n)])


class _CPWeights(eqx.Module):
    """Complex weight tensor in CP (canonical polyadic) form: ``Σ_r λ_r a_r ⊗ b_r ⊗ c_r ⊗ …``."""

    factors: list  # each (2, dim_i, rank): real and imaginary parts
    weights: Array  # (2, rank)

    def __init__(self, shape, rank, scale, *, key):
        keys = jax.random.split(key, len(shape))
        # each factor ~ U(0, 1)·s so that the product has the dense init's scale on average
        s = (scale * 2.0) ** (1.0 / len(shape)) / rank ** (0.5 / len(shape))
        self.factors = [s * jax.random.uniform(k, (2, n, rank)) for k, n in zip(keys, shape)]
        self.weights = jnp.ones((2, rank)).at[1].set(0.0)

    def __call__(self):
        c = [f[0] + 1j * f[1] for f in self.factors]
        letters = "abcdefgh"[: len(c)]
        expr = ",".join(f"{ch}r" for ch in letters) + ",r->" + letters
        return jnp.einsum(expr, *c, self.weights[0] + 1j * self.weights[1])


class _TuckerWeights(eqx.Module):
    """Complex weight tensor in Tucker form: a small core contracted with one factor
    matrix per axis."""

    core: Array  # (2, r_1, ..., r_n)
    factors: list  # each (2, dim_i, r_i)

    def __init__(self, shape, ranks, scale, *, key):
        keys = jax.random.split(key, len(shape) + 1)
        self.core = scale * jax.random.uniform(keys[0], (2, *ranks))
        self.factors = [jax.random.normal(k, (2, n, r)) / np.sqrt(2 * r) for k, n, r in zip(keys[1:], shape, ranks)]

    def __call__(self):
        core = self.core[0] + 1j * self.core[1]
        c = [f[0] + 1j * f[1] for f in self.factors]
        n = len(c)
        src, dst = "abcdefgh"[:n], "ABCDEFGH"[:n]
        expr = src + "," + ",".join(f"{dst[i]}{src[i]}" for i in range(n)) + "->" + dst
        return jnp.einsum(expr, core, *c)


class _DenseWeights(eqx.Module):
    """The full complex weight tensor, stored as a real pair ``(2, out, in, modes…)``."""

    pair: Array

    def __call__(self):
        return self.pair[0] + 1j * self.pair[1]


class SpectralConv(eqx.Module):
    r"""Fourier layer of a neural operator on a periodic field ``(C_in, *N)`` in 1, 2 or 3
    dimensions: ``IFFT[W(k) FFT[v](k)]`` with a learned complex channel-mixing matrix on
    the lowest `modes` wavenumbers per axis (both signs on all but the last, rfft, axis)
    and zero above (Li et al., "Fourier Neural Operator for Parametric PDEs", ICLR 2021).

    The weights are stored as real pairs so optimisers see real arrays. When the grid
    has fewer modes than the weights, the lowest ones are used (resolution independence).

    ``factorisation="tucker"`` or ``"cp"`` stores the weight tensor
    ``(out, in, modes…)`` in low-rank form (TFNO: Kossaifi, Kovachki, Azizzadenesheli &
    Anandkumar, "Multi-Grid Tensorized Fourier Neural Operator for High-Resolution
    PDEs", TMLR 2024); `rank` is the fraction of the dense parameter count to keep
    (CP) or of each axis (Tucker).

    **Arguments:** `in_channels`, `out_channels`, `modes` (per axis, or one for all), `ndim`
    (1-3), `factorisation` (``None``/``"dense"``, ``"cp"``, ``"tucker"``), `rank`, and a PRNG
    `key`.
    """

    weights: eqx.Module  # dense pair (2, out, in, 2m_1, ..., 2m_{d-1}, m_d), CP or Tucker factors
    modes: tuple[int, ...] = eqx.field(static=True)

    def __init__(self, in_channels, out_channels, modes, *, ndim=1, factorisation=None, rank=0.5, key):
        self.modes = _as_modes(modes, check_int(ndim, "ndim"))
        shape = (out_channels, in_channels, *(2 * m for m in self.modes[:-1]), self.modes[-1])
        scale = 1.0 / (in_channels * out_channels)
        if factorisation is None or factorisation == "dense":
            self.weights = _DenseWeights(scale * jax.random.uniform(key, (2, *shape)))
        elif factorisation == "cp":
            if not 0 < rank <= 1:
                raise ValueError(f"rank must be a fraction in (0, 1], got {rank}.")
            r = max(1, int(round(rank * np.prod(shape) / sum(shape))))
            self.weights = _CPWeights(shape, r, scale, key=key)
        elif factorisation == "tucker":
            if not 0 < rank <= 1:
                raise ValueError(f"rank must be a fraction in (0, 1], got {rank}.")
            self.weights = _TuckerWeights(shape, tuple(max(1, int(round(rank * n))) for n in shape), scale, key=key)
        else:
            raise ValueError(f"factorisation must be None, 'dense', 'cp' or 'tucker', got {factorisation!r}.")

    def full_weights(self) -> Array:
        """The complex weight tensor ``(out, in, modes…)``."""
        return self.weights()

    def __call__(self, v: Array) -> Array:
        ndim = len(self.modes)
        spatial = v.shape[1:]
        if len(spatial) != ndim:
            raise ValueError(f"SpectralConv is {ndim}D: expected (C, *N) with {ndim} spatial axes, got {v.shape}.")
        for i, (n, m) in enumerate(zip(spatial, self.modes)):
            held = n // 2 + 1 if i == ndim - 1 else n // 2
            if m > held:
                raise ValueError(
                    f"SpectralConv keeps {self.modes} Fourier modes, but a field of shape {spatial} holds only "
                    f"{held} along axis {i}: the extra weights would never be used. Use modes <= {held} there, "
                    "or a finer grid."
                )
        axes = tuple(range(1, ndim + 1))
        v_hat = jnp.fft.rfftn(v, axes=axes)
        idx = [_mode_index(n, m, last=(i == ndim - 1)) for i, (n, m) in enumerate(zip(spatial, self.modes))]
        block = v_hat[(slice(None), *np.ix_(*idx))]
        w = self.full_weights()
        # keep the weights of the modes present at this resolution
        w_idx = []
        for i, (m, ix) in enumerate(zip(self.modes, idx)):
            k = len(ix)
            if i == ndim - 1:
                w_idx.append(np.arange(k))
            else:
                half = k // 2
                w_idx.append(np.concatenate([np.arange(half), np.arange(2 * m - half, 2 * m)]))
        w = w[(slice(None), slice(None), *np.ix_(*w_idx))]
        out_block = jnp.einsum("oi...,i...->o...", w.astype(block.dtype), block)
        out_hat = jnp.zeros((w.shape[0], *v_hat.shape[1:]), v_hat.dtype)
        out_hat = out_hat.at[(slice(None), *np.ix_(*idx))].set(out_block)
        return jnp.fft.irfftn(out_hat, s=spatial, axes=axes).astype(v.dtype)


class _Pointwise(eqx.Module):
    """A pointwise (1×1) linear map of channels, for fields of any dimension."""

    weight: Array
    bias: Array

    def __init__(self, in_channels, out_channels, *, key):
        lim = 1.0 / np.sqrt(in_channels)
        k1, k2 = jax.random.split(key)
        self.weight = jax.random.uniform(k1, (out_channels, in_channels), minval=-lim, maxval=lim)
        self.bias = jax.random.uniform(k2, (out_channels,), minval=-lim, maxval=lim)

    def __call__(self, v):
        out = jnp.einsum("oi,i...->o...", self.weight.astype(v.dtype), v)
        return out + self.bias.astype(v.dtype).reshape((-1,) + (1,) * (v.ndim - 1))


class ChannelAttention(eqx.Module):
    r"""Parameter-guided channel attention: ``v ↦ v ⊙ 2σ(MLP(p))`` per channel, with
    the last layer initialised at zero so that an untrained block is the identity.

    This is the conditioning mechanism of CAPE (Takamoto, Alesiani & Niepert, "Learning
    Neural PDE Solvers with Parameter-Guided Channel Attention", ICML 2023) in its
    simplest form: the PDE parameters (viscosity, forcing, …) rescale hidden channels.

    **Arguments:** `num_parameters` (the length of ``p``), `channels` (of ``v``), the MLP's
    hidden `width`, and a PRNG `key`.
    """

    mlp: eqx.nn.MLP

    def __init__(self, num_parameters, channels, *, width=32, key):
        mlp = eqx.nn.MLP(num_parameters, channels, width, 2, activation=jax.nn.gelu, key=key)
        last = mlp.layers[-1]
        self.mlp = eqx.tree_at(
            lambda m: (m.layers[-1].weight, m.layers[-1].bias),
            mlp,
            (jnp.zeros_like(last.weight), jnp.zeros_like(last.bias)),
        )

    def __call__(self, v, p):
        gate = 2.0 * jax.nn.sigmoid(self.mlp(jnp.asarray(p, v.dtype).reshape(-1)))
        return v * gate.astype(v.dtype).reshape((-1,) + (1,) * (v.ndim - 1))


def _check_spatial(u, ndim, name):
    if u.ndim != ndim + 1:
        hint = " It looks batched: vmap over samples." if u.ndim == ndim + 2 else ""
        raise ValueError(f"{name} ({ndim}D) expects (C, *N) with {ndim} spatial axes, got {u.shape}.{hint}")


class FNO(eqx.Module):
    r"""Fourier neural operator ``(C_in, *N) -> (C_out, *N)`` in 1D, 2D or 3D.

    Lift (pointwise) → `depth` × [``σ(SpectralConv(v) + W v)``] → pointwise projection
    through a hidden layer of `projection_width`. No batch axis: vmap over samples.

    **Arguments:**

    - `in_channels`, `out_channels`: field channels in and out.
    - `modes`: Fourier modes kept per axis (int or one per axis).
    - `width`: hidden channels; `depth`: Fourier layers; `ndim`: spatial dimensions.
    - `activation`: default GELU; `projection_width`: hidden width of the projection
      (default ``2 * width``).
    - `factorisation`: ``None`` (dense), ``"tucker"`` or ``"cp"``: tensor-factorised
      spectral weights (TFNO) with `rank` (fraction of the dense size).
    - `num_parameters`: if > 0, the model is called as ``model(u, p)`` with a vector of
      PDE parameters ``p`` that gates the hidden channels of every layer
      ([`ChannelAttention`][jaxpde.nn.ChannelAttention], CAPE-style conditioning).
    - `key`: PRNG key.

    **Reference:** Li, Kovachki, Azizzadenesheli, Liu, Bhattacharya, Stuart & Anandkumar,
    "Fourier Neural Operator for Parametric Partial Differential Equations", ICLR 2021.
    """

    lift: _Pointwise
    spectral: list
    pointwise: list
    project1: _Pointwise
    project2: _Pointwise
    attention: list | None
    activation: Callable = eqx.field(static=True)
    ndim: int = eqx.field(static=True)

    def __init__(
        self,
        in_channels,
        out_channels,
        *,
        modes=12,
        width=32,
        depth=4,
        ndim=1,
        activation: Callable = jax.nn.gelu,
        projection_width=None,
        factorisation=None,
        rank=0.5,
        num_parameters=0,
        key,
    ):
        self.ndim = check_int(ndim, "ndim")
        if self.ndim > 3:
            raise ValueError(f"FNO supports 1 to 3 spatial dimensions, got ndim={ndim}.")
        depth = check_int(depth, "depth")
        width = check_int(width, "width")
        proj = check_int(projection_width or 2 * width, "projection_width")
        keys = jax.random.split(key, 3 * depth + 3)
        self.lift = _Pointwise(check_int(in_channels, "in_channels"), width, key=keys[0])
        self.spectral = [
            SpectralConv(width, width, modes, ndim=self.ndim, factorisation=factorisation, rank=rank, key=k)
            for k in keys[1 : depth + 1]
        ]
        self.pointwise = [_Pointwise(width, width, key=k) for k in keys[depth + 1 : 2 * depth + 1]]
        self.project1 = _Pointwise(width, proj, key=keys[-2])
        self.project2 = _Pointwise(proj, check_int(out_channels, "out_channels"), key=keys[-1])
        self.activation = activation
        if num_parameters:
            num_parameters = check_int(num_parameters, "num_parameters")
            self.attention = [
                ChannelAttention(num_parameters, width, key=k) for k in keys[2 * depth + 1 : 3 * depth + 1]
            ]
        else:
            self.attention = None

    def __call__(self, u: Array, p: Array | None = None) -> Array:
        _check_spatial(u, self.ndim, "FNO")
        if (p is None) != (self.attention is None):
            raise ValueError(
                "this FNO was built with num_parameters > 0: call it as model(u, p)"
                if p is None
                else "this FNO takes no PDE parameters (num_parameters=0)."
            )
        v = self.lift(u)
        for i, (spec, point) in enumerate(zip(self.spectral, self.pointwise)):
            v = spec(v) + point(v)
            if self.attention is not None:
                v = self.attention[i](v, p)
            if i < len(self.spectral) - 1:
                v = self.activation(v)
        return self.project2(self.activation(self.project1(v)))


def _compute_dtype(model, u):
    """The floating dtype of a model's parameters (the state's, if it has none): a stepper
    runs its network in the network's precision and returns the state's."""
    leaves = jax.tree.leaves(eqx.filter(model, eqx.is_inexact_array))
    return jnp.result_type(*leaves) if leaves else u.dtype


class OperatorStepper(AbstractStepper):
    """A learned map used as a time stepper: ``u_next = u + model(u)`` (``residual=True``,
    the default) or ``model(u)``. It satisfies [`AbstractStepper`][jaxpde.AbstractStepper], so a
    trained operator rolls out with [`jaxpde.rollout`][jaxpde.rollout] like any solver.

    With normalisations the network sees and predicts standardised channels:
    ``u_next = u + outputs.denormalise(model(inputs.normalise(u)))`` (residual), so a
    network whose increments are 100× smaller than the state still trains on order-one
    targets. [`with_statistics`][jaxpde.nn.OperatorStepper.with_statistics] fits both
    from training trajectories; they are fixed statistics
    ([`Normalisation`][jaxpde.nn.Normalisation]), saved with the model and not trained.

    **Arguments:**

    - `model`: a module mapping ``(C, *N) -> (C, *N)`` (e.g. [`FNO`][jaxpde.nn.FNO]).
    - `dt`: the time step the model was trained for (metadata; not used in the map).
    - `residual`: predict the increment rather than the next state.
    - `inputs`, `outputs`: optional [`Normalisation`][jaxpde.nn.Normalisation] of the
      network's input (the state) and output (the increment, or the next state).
    """

    model: Callable
    dt: float = eqx.field(static=True)
    residual: bool = eqx.field(static=True)
    inputs: Normalisation | None
    outputs: Normalisation | None

    def __init__(self, model, dt, *, residual=True, inputs=None, outputs=None):
        self.model = model
        self.dt = float(dt)
        self.residual = bool(residual)
        self.inputs, self.outputs = inputs, outputs

    def with_statistics(self, trajectories, *, num_spatial_dims: int) -> "OperatorStepper":
        """This stepper with per-channel normalisations fitted to `trajectories`
        ``(..., T, C, *N)`` (e.g. a dataset's ``(B, T, C, *N)``): the inputs' from every
        frame but the last, the outputs' from the training targets (increments
        ``u_{t+1} - u_t`` when `residual`, else the next frames).

        **Arguments:** `trajectories`, `num_spatial_dims` (the length of ``N``).

        **Returns:** a new `OperatorStepper` with the same network."""
        inputs, outputs = stepper_statistics(trajectories, residual=self.residual, num_spatial_dims=num_spatial_dims)
        return OperatorStepper(self.model, self.dt, residual=self.residual, inputs=inputs, outputs=outputs)

    def __call__(self, u, args=None):
        x = u if self.inputs is None else self.inputs.normalise(u)
        x = x.astype(_compute_dtype(self.model, u))
        out = (self.model(x) if args is None else self.model(x, args)).astype(u.dtype)
        if self.outputs is not None:
            out = self.outputs.denormalise(out)
        return u + out if self.residual else out


class CorrectedStepper(AbstractStepper):
    r"""Solver-in-the-loop stepper: a differentiable (coarse) solver step followed by a
    learned correction, ``u_{n+1} = S(u_n) + model(S(u_n))`` (Um, Brand, Fei, Holl &
    Thuerey, "Solver-in-the-Loop: Learning from Differentiable Physics to Interact with
    Iterative PDE-Solvers", NeurIPS 2020). Training it through an unrolled rollout
    back-propagates through `solver`.

    **Arguments:** `solver` (any [`AbstractStepper`][jaxpde.AbstractStepper]), `model` (``(C, *N) ->
    (C, *N)``).
    """

    solver: AbstractStepper
    model: Callable

    def __init__(self, solver, model):
        self.solver = solver
        self.model = model

    @property
    def dt(self):
        return self.solver.dt

    def prepare(self) -> "CorrectedStepper":
        return CorrectedStepper(self.solver.prepare(), self.model)

    def __call__(self, u, args=None):
        v = self.solver(u)
        x = v.astype(_compute_dtype(self.model, v))
        return v + (self.model(x) if args is None else self.model(x, args)).astype(v.dtype)
