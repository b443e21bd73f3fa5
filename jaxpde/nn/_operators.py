"""Convolutional and kernel-based neural operators on periodic fields ``(C, *N)`` (a modern
U-Net, a dilated ResNet, DeepONet) and neural fields (SIREN, Fourier-feature MLP).

All convolutions pad circularly: jaxpde's fields are periodic."""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from .._checks import check_int
from ._fno import FNO, _check_spatial


def _conv(ndim, cin, cout, *, kernel=3, dilation=1, stride=1, key):
    pad = dilation * (kernel - 1) // 2
    return eqx.nn.Conv(
        ndim, cin, cout, kernel, stride=stride, padding=pad, dilation=dilation, padding_mode="CIRCULAR", key=key
    )


def _groups(channels, wanted=8):
    g = min(wanted, channels)
    while channels % g:
        g -= 1
    return g


class _ResBlock(eqx.Module):
    """Pre-norm residual block: ``x + conv(σ(norm(conv(σ(norm(x))))))`` (1×1 skip if the
    width changes)."""

    norm1: eqx.nn.GroupNorm
    conv1: eqx.nn.Conv
    norm2: eqx.nn.GroupNorm
    conv2: eqx.nn.Conv
    skip: eqx.nn.Conv | None

    def __init__(self, ndim, cin, cout, *, key):
        k1, k2, k3 = jax.random.split(key, 3)
        self.norm1 = eqx.nn.GroupNorm(_groups(cin), cin)
        self.conv1 = _conv(ndim, cin, cout, key=k1)
        self.norm2 = eqx.nn.GroupNorm(_groups(cout), cout)
        self.conv2 = _conv(ndim, cout, cout, key=k2)
        self.skip = None if cin == cout else eqx.nn.Conv(ndim, cin, cout, 1, key=k3)

    def __call__(self, x):
        h = self.conv1(jax.nn.gelu(self.norm1(x)))
        h = self.conv2(jax.nn.gelu(self.norm2(h)))
        return h + (x if self.skip is None else self.skip(x))


class UNet(eqx.Module):
    r"""A modern U-Net ``(C_in, *N) -> (C_out, *N)`` in 1D or 2D: pre-norm residual blocks
    (GroupNorm, GELU), channel widths ``width · 2^l`` at level ``l``, strided-convolution
    downsampling, nearest upsampling + convolution, skip connections, circular padding.
    Each spatial size must be divisible by ``2^levels``.

    **Reference:** Gupta & Brandstetter, "Towards Multi-spatiotemporal-scale Generalized
    PDE Modeling", TMLR 2023 (the "modern U-Net" of PDEArena); Ronneberger, Fischer &
    Brox, "U-Net", MICCAI 2015.

    **Arguments:** `in_channels`, `out_channels`, the first level's `width`, the number of
    `levels`, `ndim` (1 or 2), and a PRNG `key`.
    """

    lift: eqx.nn.Conv
    down_blocks: list
    downsample: list
    middle: list
    up_blocks: list
    upsample: list
    out_norm: eqx.nn.GroupNorm
    project: eqx.nn.Conv
    ndim: int = eqx.field(static=True)
    levels: int = eqx.field(static=True)

    def __init__(self, in_channels, out_channels, *, width=16, levels=2, ndim=1, key):
        self.ndim = check_int(ndim, "ndim")
        if self.ndim not in (1, 2):
            raise ValueError(f"UNet supports 1D and 2D fields, got ndim={ndim}.")
        self.levels = check_int(levels, "levels")
        width = check_int(width, "width")
        keys = iter(jax.random.split(key, 6 * self.levels + 6))
        widths = [width * 2**level for level in range(self.levels + 1)]
        self.lift = _conv(ndim, check_int(in_channels, "in_channels"), width, key=next(keys))
        self.down_blocks, self.downsample = [], []
        for level in range(self.levels):
            self.down_blocks.append(_ResBlock(ndim, widths[level], widths[level], key=next(keys)))
            self.downsample.append(_conv(ndim, widths[level], widths[level + 1], stride=2, key=next(keys)))
        self.middle = [_ResBlock(ndim, widths[-1], widths[-1], key=next(keys)) for _ in range(2)]
        self.up_blocks, self.upsample = [], []
        for level in reversed(range(self.levels)):
            self.upsample.append(_conv(ndim, widths[level + 1], widths[level], key=next(keys)))
            self.up_blocks.append(_ResBlock(ndim, 2 * widths[level], widths[level], key=next(keys)))
        self.out_norm = eqx.nn.GroupNorm(_groups(width), width)
        self.project = eqx.nn.Conv(ndim, width, check_int(out_channels, "out_channels"), 1, key=next(keys))

    def __call__(self, u: Array) -> Array:
        _check_spatial(u, self.ndim, "UNet")
        f = 2**self.levels
        if any(n % f for n in u.shape[1:]):
            raise ValueError(f"UNet with {self.levels} levels needs spatial sizes divisible by {f}, got {u.shape[1:]}.")
        h = self.lift(u)
        skips = []
        for block, down in zip(self.down_blocks, self.downsample):
            h = block(h)
            skips.append(h)
            h = down(h)
        for block in self.middle:
            h = block(h)
        for block, up, skip in zip(self.up_blocks, self.upsample, reversed(skips)):
            for axis in range(1, self.ndim + 1):
                h = jnp.repeat(h, 2, axis=axis)
            h = block(jnp.concatenate([up(h), skip], axis=0))
        return self.project(jax.nn.gelu(self.out_norm(h)))


class DilatedResNet(eqx.Module):
    r"""Dilated residual network ``(C_in, *N) -> (C_out, *N)`` in 1D, 2D or 3D: an encoder
    convolution, `num_blocks` residual blocks each of circular convolutions with dilation
    rates `dilations` (default 1, 2, 4, 8, 4, 2, 1) and a decoder convolution. The
    receptive field grows with the dilations at full resolution.

    **Reference:** Stachenfeld, Fielding, Kochkov, Cranmer, Pfaff, Godwin, Cui, Ho,
    Battaglia & Sanchez-Gonzalez, "Learned Simulators for Turbulence", ICLR 2022.

    **Arguments:** `in_channels`, `out_channels`, the hidden `width`, `num_blocks`,
    `dilations`, `ndim` (1-3), and a PRNG `key`.
    """

    encoder: eqx.nn.Conv
    blocks: list
    decoder: eqx.nn.Conv
    ndim: int = eqx.field(static=True)

    def __init__(
        self, in_channels, out_channels, *, width=32, num_blocks=2, dilations=(1, 2, 4, 8, 4, 2, 1), ndim=1, key
    ):
        self.ndim = check_int(ndim, "ndim")
        if not 1 <= self.ndim <= 3:
            raise ValueError(f"DilatedResNet supports 1 to 3 spatial dimensions, got ndim={ndim}.")
        width = check_int(width, "width")
        num_blocks = check_int(num_blocks, "num_blocks")
        dilations = tuple(check_int(d, "dilations") for d in dilations)
        keys = jax.random.split(key, num_blocks * len(dilations) + 2)
        self.encoder = _conv(ndim, check_int(in_channels, "in_channels"), width, key=keys[0])
        it = iter(keys[1:-1])
        self.blocks = [
            [_conv(ndim, width, width, dilation=d, key=next(it)) for d in dilations] for _ in range(num_blocks)
        ]
        self.decoder = _conv(ndim, width, check_int(out_channels, "out_channels"), key=keys[-1])

    def __call__(self, u: Array) -> Array:
        _check_spatial(u, self.ndim, "DilatedResNet")
        h = self.encoder(u)
        for block in self.blocks:
            r = h
            for conv in block:
                r = conv(jax.nn.gelu(r))
            h = h + r
        return self.decoder(jax.nn.gelu(h))


def _grid_coordinates(shape) -> np.ndarray:
    """Cell-left coordinates in ``[0, 1)^d`` of a grid of `shape`: ``(prod(shape), d)``."""
    axes = [np.arange(n) / n for n in shape]
    return np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, len(shape))


class DeepONet(eqx.Module):
    r"""Deep operator network ``(C_in, *N) -> (C_out, *N)`` on a fixed sensor grid:
    ``G(u)(x)_c = Σ_k b_{c,k}(u) t_k(x) + β_c``, a branch MLP on the sampled input field
    and a trunk MLP on the periodic coordinates (embedded as ``cos, sin(2π x)``).

    The branch sees the field at the `num_points` of the training grid, so the input
    resolution is fixed; the output can be evaluated anywhere with [`evaluate`][jaxpde.nn.DeepONet.evaluate].

    **Reference:** Lu, Jin, Pang, Zhang & Karniadakis, "Learning nonlinear operators via
    DeepONet based on the universal approximation theorem of operators", Nature Machine
    Intelligence 3, 2021.

    **Arguments:** `in_channels`, `out_channels`, `num_points` (the sensor grid, per axis),
    `basis` (the number of basis functions ``k``), the MLPs' `width` and `depth`, `ndim`,
    and a PRNG `key`.
    """

    branch: eqx.nn.MLP
    trunk: eqx.nn.MLP
    bias: Array
    num_points: tuple = eqx.field(static=True)
    out_channels: int = eqx.field(static=True)
    basis: int = eqx.field(static=True)

    def __init__(self, in_channels, out_channels, *, num_points, basis=64, width=128, depth=3, ndim=1, key):
        num_points = (num_points,) * ndim if isinstance(num_points, (int, np.integer)) else tuple(num_points)
        if len(num_points) != check_int(ndim, "ndim"):
            raise ValueError(f"num_points needs {ndim} entries, got {num_points}.")
        self.num_points = tuple(check_int(n, "num_points") for n in num_points)
        self.out_channels = check_int(out_channels, "out_channels")
        self.basis = check_int(basis, "basis")
        k1, k2 = jax.random.split(key)
        sensors = check_int(in_channels, "in_channels") * int(np.prod(self.num_points))
        self.branch = eqx.nn.MLP(sensors, self.out_channels * self.basis, width, depth, activation=jax.nn.gelu, key=k1)
        self.trunk = eqx.nn.MLP(
            2 * ndim, self.basis, width, depth, activation=jax.nn.gelu, final_activation=jax.nn.gelu, key=k2
        )
        self.bias = jnp.zeros((self.out_channels,))

    def evaluate(self, u: Array, x: Array) -> Array:
        """The output at points `x` ``(P, d)`` in ``[0, 1)^d`` (units of the domain):
        ``(C_out, P)``."""
        _check_spatial(u, len(self.num_points), "DeepONet")
        if u.shape[1:] != self.num_points:
            raise ValueError(
                f"DeepONet was built for sensor grid {self.num_points}, got {u.shape[1:]}; "
                "resample the input to that grid."
            )
        b = self.branch(u.reshape(-1)).reshape(self.out_channels, self.basis)
        emb = jnp.concatenate([jnp.cos(2 * jnp.pi * x), jnp.sin(2 * jnp.pi * x)], axis=-1).astype(u.dtype)
        t = jax.vmap(self.trunk)(emb)  # (P, basis)
        return (b @ t.T) / self.basis + self.bias[:, None].astype(u.dtype)

    def __call__(self, u: Array) -> Array:
        x = jnp.asarray(_grid_coordinates(self.num_points))
        return self.evaluate(u, x).reshape(self.out_channels, *self.num_points)


class SIREN(eqx.Module):
    r"""Sinusoidal representation network, a neural field ``x ∈ R^d -> R^m``:
    ``sin(ω₀(W x + b))`` layers with the initialisation of Sitzmann et al. (first layer
    ``U(-1/d, 1/d)``, later ``U(-√(6/n)/ω₀, √(6/n)/ω₀)``) and a linear output.

    **Reference:** Sitzmann, Martel, Bergman, Lindell & Wetzstein, "Implicit Neural
    Representations with Periodic Activation Functions", NeurIPS 2020.

    **Arguments:** `in_features` (``d``), `out_features` (``m``), `width`, `depth`, the
    frequency `omega0` ``ω₀``, and a PRNG `key`.
    """

    layers: list
    output: eqx.nn.Linear
    omega0: float = eqx.field(static=True)

    def __init__(self, in_features, out_features, *, width=64, depth=3, omega0=30.0, key):
        in_features, width, depth = (
            check_int(v, n) for v, n in ((in_features, "in_features"), (width, "width"), (depth, "depth"))
        )
        keys = jax.random.split(key, depth + 1)
        self.omega0 = float(omega0)
        layers = []
        for i in range(depth):
            n_in = in_features if i == 0 else width
            lim = 1.0 / n_in if i == 0 else np.sqrt(6.0 / n_in) / self.omega0
            kw, kb = jax.random.split(keys[i])
            lin = eqx.nn.Linear(n_in, width, key=kw)
            lin = eqx.tree_at(
                lambda m: (m.weight, m.bias),
                lin,
                (
                    jax.random.uniform(kw, (width, n_in), minval=-lim, maxval=lim),
                    jax.random.uniform(kb, (width,), minval=-lim, maxval=lim),
                ),
            )
            layers.append(lin)
        self.layers = layers
        self.output = eqx.nn.Linear(width, check_int(out_features, "out_features"), key=keys[-1])

    def __call__(self, x: Array) -> Array:
        h = jnp.atleast_1d(x)
        for layer in self.layers:
            h = jnp.sin(self.omega0 * layer(h))
        return self.output(h)


class FourierFeatureMLP(eqx.Module):
    r"""Neural field ``x ∈ R^d -> R^m`` on random Fourier features: ``γ(x) = [cos 2πBx,
    sin 2πBx]`` with ``B ~ N(0, σ²)`` fixed (not trained), then a GELU MLP. `scale` σ sets
    the frequencies the field can fit quickly.

    **Reference:** Tancik, Srinivasan, Mildenhall, Fridovich-Keil, Raghavan, Singhal,
    Ramamoorthi, Barron & Ng, "Fourier Features Let Networks Learn High Frequency
    Functions in Low Dimensional Domains", NeurIPS 2020.

    **Arguments:** `in_features` (``d``), `out_features` (``m``), `num_features` (rows of
    ``B``), `scale` ``σ``, the MLP's `width` and `depth`, and a PRNG `key`.
    """

    mlp: eqx.nn.MLP
    _frequencies: tuple = eqx.field(static=True)  # fixed, so no optimiser (weight decay) touches it

    def __init__(self, in_features, out_features, *, num_features=64, scale=10.0, width=64, depth=3, key):
        k1, k2 = jax.random.split(key)
        freqs = float(scale) * np.asarray(
            jax.random.normal(k1, (check_int(num_features, "num_features"), check_int(in_features, "in_features")))
        )
        self._frequencies = tuple(map(tuple, freqs.tolist()))
        self.mlp = eqx.nn.MLP(
            2 * num_features,
            check_int(out_features, "out_features"),
            check_int(width, "width"),
            check_int(depth, "depth"),
            activation=jax.nn.gelu,
            key=k2,
        )

    @property
    def frequencies(self) -> np.ndarray:
        """The fixed random frequencies ``B`` ``(num_features, d)``."""
        return np.asarray(self._frequencies)

    def __call__(self, x: Array) -> Array:
        x = jnp.atleast_1d(x)
        proj = 2 * jnp.pi * (jnp.asarray(self.frequencies, x.dtype) @ x)
        return self.mlp(jnp.concatenate([jnp.cos(proj), jnp.sin(proj)]))


#: Operators ``(C_in, *N) -> (C_out, *N)`` by config name (``model.kind``).
OPERATORS: dict[str, Callable] = {
    "fno": FNO,
    "unet": UNet,
    "dilated_resnet": DilatedResNet,
    "deeponet": DeepONet,
}
