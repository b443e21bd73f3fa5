"""The reduced-order model: a conditional neural-field decoder, a latent memory (one code
per training snapshot, auto-decoding) and latent dynamics ``dα/dt = Ψ(α, β)`` integrated
with diffrax; plus inference (fit the initial latent to observations, integrate, decode)."""

from collections.abc import Sequence

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import lax
from jaxtyping import Array

from .._checks import check_int
from ._decoder import decode, decode_grid


class LatentDynamics(eqx.Module):
    r"""Latent dynamics ``dα/dt = Ψ_φ([α, Lβ])``: an MLP (swish activations) on the
    latent concatenated with the PDE parameters lifted by a trainable linear map
    ``L: R^p → R^k`` (no lift when ``num_parameters=0``). No explicit time input: the
    reduced dynamics is autonomous, as the full PDE is.

    **Arguments:** `latent_size` k, `num_parameters` p, `width`, `depth`, `key`.
    """

    mlp: eqx.nn.MLP
    lift: eqx.nn.Linear | None
    latent_size: int = eqx.field(static=True)
    num_parameters: int = eqx.field(static=True)

    def __init__(self, latent_size, num_parameters=0, *, width=64, depth=3, key):
        self.latent_size = check_int(latent_size, "latent_size")
        self.num_parameters = check_int(num_parameters, "num_parameters", minimum=0)
        k_mlp, k_lift = jax.random.split(key)
        inputs = 2 * self.latent_size if self.num_parameters else self.latent_size
        self.mlp = eqx.nn.MLP(
            inputs,
            self.latent_size,
            check_int(width, "width"),
            check_int(depth, "depth"),
            activation=jax.nn.swish,
            key=k_mlp,
        )
        self.lift = eqx.nn.Linear(self.num_parameters, self.latent_size, key=k_lift) if self.num_parameters else None

    def __call__(self, t, alpha: Array, beta: Array | None = None) -> Array:
        if self.lift is None:
            return self.mlp(alpha)
        if beta is None or jnp.shape(beta) != (self.num_parameters,):
            raise ValueError(
                f"these dynamics take {self.num_parameters} PDE parameter(s) beta, got "
                f"{None if beta is None else jnp.shape(beta)}."
            )
        return self.mlp(jnp.concatenate([alpha, self.lift(beta.astype(alpha.dtype))]))


def _floats(values, n, name):
    out = tuple(float(v) for v in np.ravel(np.asarray(values, dtype=float)))
    if len(out) != n:
        raise ValueError(f"{name} needs {n} value(s), got {len(out)}.")
    return out


class ReducedOrderModel(eqx.Module):
    r"""A neural-field reduced-order model (Φ-ROM, or its data-driven DINo-style
    baseline: they share this model and differ in training).

    - The field is ``u(x) = shift + scale · D_θ(x, α)`` per channel (the decoder works on
      standardised values); ``model(x, α)`` evaluates it at one point ``x ∈ R^d``.
    - ``latents`` is the auto-decoder memory ``(trajectories, frames, k)``: one free code
      per training snapshot, trained with the decoder (``None`` once training is over).
    - ``velocity(t, α, β)`` is ``Ψ(α, (β − β_shift)/β_scale)``.

    **Arguments:** `decoder` ([`SineDecoder`][jaxpde.rom.SineDecoder] or
    [`ModulatedDecoder`][jaxpde.rom.ModulatedDecoder]),
    `dynamics` ([`LatentDynamics`][jaxpde.rom.LatentDynamics]), `latents`, and the per-channel `shift`/`scale`
    of the data and per-parameter `parameter_shift`/`parameter_scale`.

    **Reference:** Hosseini Dashtbayaz, Salehipour, Butscher & Morris, "Physics-informed
    Reduced Order Modeling of Time-dependent PDEs via Differentiable Solvers", NeurIPS 2025.
    """

    decoder: eqx.Module
    dynamics: LatentDynamics
    latents: Array | None
    shift: tuple = eqx.field(static=True)
    scale: tuple = eqx.field(static=True)
    parameter_shift: tuple = eqx.field(static=True)
    parameter_scale: tuple = eqx.field(static=True)

    def __init__(
        self, decoder, dynamics, latents=None, *, shift=0.0, scale=1.0, parameter_shift=(), parameter_scale=()
    ):
        self.decoder = decoder
        self.dynamics = dynamics
        k = dynamics.latent_size
        if getattr(decoder, "latent_size", k) != k:
            raise ValueError(f"decoder latent size {decoder.latent_size} != dynamics latent size {k}.")
        if latents is not None and (jnp.ndim(latents) != 3 or jnp.shape(latents)[-1] != k):
            raise ValueError(f"latents must be (trajectories, frames, {k}), got {jnp.shape(latents)}.")
        self.latents = latents
        c = self.num_channels
        self.shift = _floats(np.broadcast_to(shift, (c,)), c, "shift")
        self.scale = _floats(np.broadcast_to(scale, (c,)), c, "scale")
        p = dynamics.num_parameters
        self.parameter_shift = _floats(np.broadcast_to(parameter_shift, (p,)) if p else [], p, "parameter_shift")
        self.parameter_scale = _floats(np.broadcast_to(parameter_scale, (p,)) if p else [], p, "parameter_scale")
        if min(self.scale + self.parameter_scale + (1.0,)) <= 0:
            raise ValueError("scale and parameter_scale must be positive.")

    @property
    def num_channels(self) -> int:
        return self.decoder.num_channels

    @property
    def latent_size(self) -> int:
        return self.dynamics.latent_size

    def __call__(self, x: Array, alpha: Array) -> Array:
        dt = jnp.result_type(x)
        return jnp.asarray(self.shift, dt) + jnp.asarray(self.scale, dt) * self.decoder(x, alpha)

    def decode(self, points: Array, alpha: Array) -> Array:
        """The field at `points` ``(P, d)``: ``(C, P)``."""
        return decode(self, points, alpha)

    def decode_grid(self, grid, alpha: Array) -> Array:
        """The field on a jaxpde grid: a state ``(C, *N)``."""
        return decode_grid(self, grid, alpha, dtype=alpha.dtype)

    def standardise(self, beta):
        if not self.dynamics.num_parameters:
            return None
        beta = jnp.asarray(beta)
        return (beta - jnp.asarray(self.parameter_shift, beta.dtype)) / jnp.asarray(self.parameter_scale, beta.dtype)

    def velocity(self, t, alpha: Array, beta=None) -> Array:
        """``dα/dt`` of the learned latent dynamics."""
        return self.dynamics(t, alpha, self.standardise(beta))

    def integrate(
        self,
        alpha0: Array,
        times: Sequence[float],
        beta=None,
        *,
        solver=None,
        dt0=None,
        rtol: float | None = None,
        atol: float = 1e-6,
        max_steps: int = 100_000,
        velocity=None,
    ) -> Array:
        """Integrate the latent ODE from ``α(times[0]) = alpha0``; returns ``(T, k)`` at
        `times`. Fixed steps of `dt0` (default: the first interval of `times`) with
        ``solver`` (default ``diffrax.Bosh3()``), or adaptive with a PID controller when
        `rtol` is given. The PDE parameters go to the vector field as ``args``. The vector
        field is the learned ``Ψ`` unless `velocity` ``(t, α, β) -> dα/dt`` replaces it
        (e.g. the solver's projected velocity, [`forecast_errors`][jaxpde.rom.forecast_errors]'s ``physics``)."""
        times = jnp.asarray(times, alpha0.dtype)
        if times.ndim != 1 or times.shape[0] < 2:
            raise ValueError("times must be a 1D array of at least two increasing times.")
        solver = diffrax.Bosh3() if solver is None else solver
        field = self.velocity if velocity is None else velocity
        dt0 = times[1] - times[0] if dt0 is None else dt0
        ctrl = diffrax.ConstantStepSize() if rtol is None else diffrax.PIDController(rtol=rtol, atol=atol)
        sol = diffrax.diffeqsolve(
            diffrax.ODETerm(lambda t, a, b: field(t, a, b).astype(a.dtype)),
            solver,
            times[0],
            times[-1],
            dt0,
            alpha0,
            args=None if beta is None else jnp.asarray(beta, alpha0.dtype),
            saveat=diffrax.SaveAt(ts=times),
            stepsize_controller=ctrl,
            max_steps=max_steps,
        )
        return sol.ys


def encode(
    model: ReducedOrderModel,
    values: Array,
    points: Array,
    *,
    num_steps: int = 500,
    learning_rate: float = 1e-2,
    init: Array | None = None,
) -> Array:
    r"""The latent whose decoded field best matches observations (auto-decoding):
    ``argmin_α ‖D(X, α) − u‖² / ‖u‖²`` by `num_steps` Adam steps from zero (or `init`).

    `values` ``(C, P)`` are observed at `points` ``(P, d)``: the full grid or any sparse,
    irregular set. One ``lax.scan``; jit- and vmap-friendly.

    **Arguments:** `model`, `values`, `points`, `num_steps`, `learning_rate`, `init`.

    **Returns:** the latent ``(k,)``.
    """
    values, points = jnp.asarray(values), jnp.asarray(points)
    if values.ndim != 2 or values.shape[1] != points.shape[0]:
        raise ValueError(f"values must be (C, P) with P = {points.shape[0]} points, got {values.shape}.")
    alpha = jnp.zeros(model.latent_size, values.dtype) if init is None else jnp.asarray(init, values.dtype)
    opt = optax.adam(learning_rate)
    norm = jnp.sum(values**2) + 1e-12

    def loss(a):
        return jnp.sum((model.decode(points, a) - values) ** 2) / norm

    def body(carry, _):
        a, state = carry
        g = jax.grad(loss)(a)
        upd, state = opt.update(g, state, a)
        return (optax.apply_updates(a, upd), state), None

    (alpha, _), _ = lax.scan(body, (alpha, opt.init(alpha)), None, length=check_int(num_steps, "num_steps"))
    return alpha


def forecast(
    model: ReducedOrderModel,
    values: Array,
    points: Array,
    times,
    beta=None,
    *,
    grid=None,
    out_points=None,
    encode_steps: int = 500,
    encode_lr: float = 1e-2,
    encode_init: Array | None = None,
    **integrate_kwargs,
) -> Array:
    """Encode observations of ``u(times[0])``, integrate the latent ODE over `times` and
    decode every frame on `grid` (``(T, C, *N)``) or at `out_points` (``(T, C, P)``).

    **Arguments:** `model`, the observed `values` ``(C, P)`` at `points` ``(P, d)``, the `times`, the PDE parameters
    `beta`, `grid` or `out_points`, the encoder's `encode_steps`, `encode_lr` and starting latent `encode_init`
    (default zero), and keywords of the latent integration.

    **Returns:** the decoded forecast.
    """
    if (grid is None) == (out_points is None):
        raise ValueError("give exactly one of grid or out_points to decode on.")
    alpha0 = encode(model, values, points, num_steps=encode_steps, learning_rate=encode_lr, init=encode_init)
    alphas = model.integrate(alpha0, times, beta, **integrate_kwargs)
    if grid is not None:
        return jax.vmap(lambda a: model.decode_grid(grid, a))(alphas)
    return jax.vmap(lambda a: model.decode(out_points, a))(alphas)
