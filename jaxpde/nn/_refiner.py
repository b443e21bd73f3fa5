"""PDE-Refiner: a neural stepper whose one-step prediction is refined by a few denoising
steps (Lippe, Veeling, Perdikaris, Turner & Brandstetter, NeurIPS 2023)."""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp

from .._abstract import AbstractFrozen, AbstractStepper
from .._checks import check_int
from ._fno import _compute_dtype
from ._normalise import Normalisation, stepper_statistics


def _key_data(key):
    """The raw ``(2,) uint32`` data of a typed or raw PRNG key."""
    if jax.dtypes.issubdtype(getattr(key, "dtype", None), jax.dtypes.prng_key):
        return jax.random.key_data(key)
    key = jnp.asarray(key)
    if key.shape != (2,) or key.dtype != jnp.uint32:
        raise ValueError(
            f"expected a PRNG key (jax.random.key) or its raw data (2,) uint32, got {key.dtype}{key.shape}."
        )
    return key


class SpectralPreconditioner(AbstractFrozen):
    r"""Per-Fourier-mode preconditioning of a denoiser (the scalings of Karras, Aittala,
    Aila & Laine, "Elucidating the Design Space of Diffusion-Based Generative Models",
    NeurIPS 2022, applied to each mode with that mode's own data variance).

    With ``S_m`` the mean power of the (normalised) targets in Fourier mode ``m`` (per
    channel, orthonormal transform, so white unit noise has power 1 in every mode) and
    noise level ``σ``, the network sees the noisy target ``ỹ`` whitened,
    ``ỹ_m / √(S_m + σ²)`` (unit variance in every mode whatever ``σ``), and its output
    ``F`` gives the noise estimate

    ``ε̂_m = σ ỹ_m / (S_m + σ²) - √(S_m / (S_m + σ²)) F_m``.

    The first term is the best linear estimate of the noise: in modes where the data's
    power is far below ``σ²`` (the small-amplitude, high-wavenumber content the
    refinement is for) it is the whole answer, ``ε̂_m ≈ ỹ_m / σ``, so the network
    neither has to reach those modes (an FNO keeps only its lowest ones) nor to apply a
    gain that changes by orders of magnitude from one noise level to the next; where the
    data dominate, the network's correction enters with unit weight. The target of ``F``
    has unit variance in every mode and at every noise level.

    An [`AbstractFrozen`][jaxpde.AbstractFrozen] part: training holds `power` fixed.

    **Arguments:** `power`: ``(C, *M)``, the mean ``|rfftn(y)|²`` (``norm="ortho"``)
    over the spatial axes of the targets, ``M`` the shape of that transform.
    """

    power: jax.Array

    def __init__(self, power):
        self.power = jnp.asarray(power)

    @classmethod
    def from_samples(cls, targets, *, num_spatial_dims: int) -> "SpectralPreconditioner":
        """The mean power spectrum of `targets` ``(..., C, *N)`` per channel and mode.

        **Arguments:** `targets`; `num_spatial_dims` (the length of ``N``).

        **Returns:** the `SpectralPreconditioner`."""
        d = check_int(num_spatial_dims, "num_spatial_dims")
        t = jnp.asarray(targets)
        if t.ndim < d + 1:
            raise ValueError(f"targets of shape {t.shape} have no channel axis before {d} spatial axes.")
        spec = jnp.fft.rfftn(t, axes=tuple(range(-d, 0)), norm="ortho")
        power = jnp.abs(spec) ** 2
        return cls(jnp.mean(power.reshape((-1, *power.shape[-(d + 1) :])), axis=0))

    def _check(self, y):
        if y.shape[0] != self.power.shape[0] or y.ndim != self.power.ndim:
            raise ValueError(f"a preconditioner of power spectrum {self.power.shape} got a field of shape {y.shape}.")

    def _transform(self, y):
        return jnp.fft.rfftn(y, axes=tuple(range(1, y.ndim)), norm="ortho")

    def _inverse(self, y_hat, like):
        return jnp.fft.irfftn(y_hat, s=like.shape[1:], axes=tuple(range(1, like.ndim)), norm="ortho").astype(like.dtype)

    def whiten(self, noisy: jax.Array, sigma) -> jax.Array:
        """``ỹ_m / √(S_m + σ²)``: the network's view of the noisy target `noisy`
        ``(C, *N)`` at noise level `sigma` (> 0). **Returns:** ``(C, *N)``."""
        self._check(noisy)
        scale = jax.lax.rsqrt(self.power + jnp.square(sigma)).astype(noisy.dtype)
        return self._inverse(self._transform(noisy) * scale, noisy)

    def noise_estimate(self, noisy: jax.Array, out: jax.Array, sigma) -> jax.Array:
        """``ε̂`` from the noisy target `noisy` and the network's output `out` (both
        ``(C, *N)``) at noise level `sigma` (> 0). **Returns:** ``(C, *N)``."""
        self._check(noisy)
        total = self.power + jnp.square(sigma)
        skip = (sigma / total).astype(noisy.dtype)
        gain = jnp.sqrt(self.power / total).astype(noisy.dtype)
        return self._inverse(skip * self._transform(noisy) - gain * self._transform(out.astype(noisy.dtype)), noisy)


class PDERefiner(AbstractStepper):
    r"""PDE-Refiner around any operator: a one-step prediction followed by `num_refinements`
    denoising steps that restore the small-amplitude (high-frequency) content a plain
    one-step MSE model neglects.

    In the (optionally normalised) target space ``y`` (the increment ``u_{n+1} - u_n``
    when `residual`, else ``u_{n+1}``) and with the input ``x`` (the normalised state),
    the network ``f`` sees ``[x, ỹ, k/K]`` (the state, a noisy target and the refinement
    step as a constant channel):

    - step 0: ``ŷ⁰ = f(x, 0, 0)``;
    - step ``k = 1..K``: ``ỹ = ŷ^{k-1} + σ_k ε``, ``ŷ^k = ỹ - σ_k ε̂`` with the noise
      estimate ``ε̂ = f(x, ỹ, k)`` (or, with a `preconditioner`, ``f`` on the whitened
      ``ỹ`` combined with the best linear estimate), ``ε ~ N(0, I)`` and noise levels
      ``σ_k = σ_min^{k/K}`` (`min_noise`).

    Training ([`train.refiner_loss`][jaxpde.train.refiner_loss]) draws ``k`` uniformly
    from ``0..K`` per sample (or ``k = 0`` with a chosen probability, its
    `base_fraction`): MSE of ``f(x, 0, 0)`` against ``y`` for ``k = 0``, else MSE
    of ``ε̂`` against the noise ``ε`` (`estimate`).

    **Noise and sampling.** The refinement noise comes from `key` (a leaf, never
    trained): ``__call__`` uses it for one step; [`jaxpde.rollout`][jaxpde.rollout] carries
    a key and splits it every step, so each step gets fresh noise and a rollout is a
    deterministic function of `key`. [`with_key`][jaxpde.nn.PDERefiner.with_key] gives
    another sample; ``jax.vmap`` of a rollout over keys gives an ensemble whose spread
    is the model's uncertainty estimate
    ([`sample_rollouts`][jaxpde.nn.PDERefiner.sample_rollouts]).

    **Arguments:**

    - `net`: an operator ``(2C + 1, *N) -> (C, *N)`` (e.g. [`FNO`][jaxpde.nn.FNO] or
      [`UNet`][jaxpde.nn.UNet] with ``in_channels = 2C + 1``); called as ``net(z, p)``
      when the stepper gets PDE parameters ``p`` as `args`.
    - `dt`: the time step of the data (metadata).
    - `num_refinements`: ``K`` (the paper uses 1-4; 3 for Kuramoto-Sivashinsky).
    - `min_noise`: ``σ_min``, the noise level of the last refinement (e.g. 2e-7 in
      float64 or 1e-3-1e-4 in float32, relative to unit-variance targets).
    - `residual`: predict the increment (default) or the next state.
    - `inputs`, `outputs`: optional [`Normalisation`][jaxpde.nn.Normalisation]s (see
      [`with_statistics`][jaxpde.nn.PDERefiner.with_statistics]).
    - `preconditioner`: optional [`SpectralPreconditioner`][jaxpde.nn.SpectralPreconditioner]
      of the refinement steps (``None``: the network's output is ``ε̂`` itself, as
      published); [`with_statistics`][jaxpde.nn.PDERefiner.with_statistics] refits it.
    - `step_parameter`: also pass ``k/K`` to `net` as its last PDE parameter (after
      `args`), so that a net with parameter conditioning (an [`FNO`][jaxpde.nn.FNO] with
      ``num_parameters``: its [`ChannelAttention`][jaxpde.nn.ChannelAttention] gates every
      hidden layer) can give each step its own channels.
    - `key`: the PRNG key of the refinement noise.
    """

    net: Callable
    dt: float = eqx.field(static=True)
    num_refinements: int = eqx.field(static=True)
    min_noise: float = eqx.field(static=True)
    residual: bool = eqx.field(static=True)
    step_parameter: bool = eqx.field(static=True)
    inputs: Normalisation | None
    outputs: Normalisation | None
    preconditioner: SpectralPreconditioner | None
    key: jax.Array

    def __init__(
        self,
        net,
        dt,
        *,
        num_refinements=3,
        min_noise=1e-3,
        residual=True,
        inputs=None,
        outputs=None,
        preconditioner=None,
        step_parameter=False,
        key=None,
    ):
        self.net = net
        self.dt = float(dt)
        self.num_refinements = check_int(num_refinements, "num_refinements")
        self.min_noise = float(min_noise)
        if not 0 < self.min_noise < 1:
            raise ValueError(f"min_noise must be in (0, 1), got {min_noise}.")
        self.residual = bool(residual)
        self.step_parameter = bool(step_parameter)
        self.inputs, self.outputs = inputs, outputs
        self.preconditioner = preconditioner
        self.key = _key_data(jax.random.key(0) if key is None else key)

    # --- pieces -------------------------------------------------------------------------
    def noise_levels(self) -> jax.Array:
        """``σ_k = σ_min^{k/K}`` for ``k = 1..K``. **Returns:** ``(K,)``."""
        k = jnp.arange(1, self.num_refinements + 1)
        return jnp.asarray(self.min_noise) ** (k / self.num_refinements)

    def network(self, x, y, k, args=None):
        """``f(x, ỹ, k)``: the network on the normalised state `x`, a noisy target `y`
        (zeros at step 0) and the refinement step `k` (may be traced).

        **Arguments:** `x`, `y` ``(C, *N)``, `k`, `args` (PDE parameters or ``None``).

        **Returns:** ``(C, *N)``."""
        fraction = jnp.asarray(k, x.dtype) / self.num_refinements
        level = jnp.full((1, *x.shape[1:]), fraction, x.dtype)
        z = jnp.concatenate([x, y.astype(x.dtype), level], axis=0)
        dtype = _compute_dtype(self.net, x)
        if self.step_parameter:  # k / K also conditions every layer, after the PDE's parameters
            head = jnp.zeros((0,), x.dtype) if args is None else jnp.asarray(args, x.dtype).reshape(-1)
            args = jnp.concatenate([head, fraction[None]])
        out = self.net(z.astype(dtype)) if args is None else self.net(z.astype(dtype), args)
        return out.astype(x.dtype)

    def estimate(self, x, noisy, k, args=None):
        """What the model predicts at step `k` (may be traced): the normalised target
        ``ŷ⁰`` for ``k = 0`` (`noisy` is then ignored) and the noise ``ε̂`` in `noisy`
        for ``k = 1..K`` (through the `preconditioner`, if any).

        **Arguments:** `x` (normalised state), `noisy` ``(C, *N)``, `k`, `args`.

        **Returns:** ``(C, *N)``."""
        if isinstance(k, int):  # a known step: only its branch is built
            if k == 0:
                return self.network(x, jnp.zeros_like(noisy), 0, args)
            if self.preconditioner is None:
                return self.network(x, noisy, k, args)
            sigma = self.noise_levels()[k - 1].astype(x.dtype)
            out = self.network(x, self.preconditioner.whiten(noisy, sigma), k, args)
            return self.preconditioner.noise_estimate(noisy, out, sigma)
        base = jnp.asarray(k) == 0
        if self.preconditioner is None:
            return self.network(x, jnp.where(base, jnp.zeros_like(noisy), noisy), k, args)
        sigma = self.noise_levels().astype(x.dtype)[jnp.maximum(jnp.asarray(k) - 1, 0)]
        view = jnp.where(base, jnp.zeros_like(noisy), self.preconditioner.whiten(noisy, sigma))
        out = self.network(x, view, k, args)
        return jnp.where(base, out, self.preconditioner.noise_estimate(noisy, out, sigma))

    def encode(self, u, u_next=None):
        """The normalised input ``x`` of state `u`, and (with `u_next`) the normalised
        target ``y``. **Arguments:** `u`, `u_next`. **Returns:** ``x`` or ``(x, y)``."""
        x = u if self.inputs is None else self.inputs.normalise(u)
        if u_next is None:
            return x
        y = u_next - u if self.residual else u_next
        return x, (y if self.outputs is None else self.outputs.normalise(y))

    def decode(self, u, y):
        """The next state from state `u` and a normalised target `y`. **Returns:** ``(C, *N)``."""
        out = y if self.outputs is None else self.outputs.denormalise(y)
        return u + out if self.residual else out

    def predict(self, u, args=None, *, key, refinements: int | None = None):
        """One step with explicit noise `key`, stopping after `refinements` (default
        ``K``; 0 gives the plain one-step prediction).

        **Arguments:** `u` ``(C, *N)``, `args`, `key`, `refinements`.

        **Returns:** ``u_{n+1}``, ``(C, *N)``."""
        refinements = self.num_refinements if refinements is None else refinements
        x = self.encode(u)
        y = self.estimate(x, jnp.zeros_like(x), 0, args)
        sigmas = self.noise_levels()
        keys = jax.random.split(jax.random.wrap_key_data(_key_data(key)), max(refinements, 1))
        for k in range(1, refinements + 1):
            sigma = sigmas[k - 1].astype(x.dtype)
            noisy = y + sigma * _noise(keys[k - 1], y)
            y = noisy - sigma * self.estimate(x, noisy, k, args)
        return self.decode(u, y)

    # --- stepper interface ----------------------------------------------------------------
    def __call__(self, u, args=None):
        return self.predict(u, args, key=self.key)

    def init_carry(self, u):
        return (u, self.key)

    def step_carry(self, carry, args=None):
        u, key = carry
        nxt = jax.random.key_data(jax.random.split(jax.random.wrap_key_data(key), 1)[0])
        return (self.predict(u, args, key=key), nxt)

    def read_carry(self, carry):
        return carry[0]

    # --- copies ---------------------------------------------------------------------------
    def with_key(self, key) -> "PDERefiner":
        """This refiner with another noise `key` (another sample). **Returns:** a copy."""
        return eqx.tree_at(lambda m: m.key, self, _key_data(key))

    def with_statistics(self, trajectories, *, num_spatial_dims: int, precondition: bool | None = None) -> "PDERefiner":
        """This refiner with per-channel normalisations fitted to `trajectories`
        ``(..., T, C, *N)``, as [`OperatorStepper.with_statistics`][jaxpde.nn.OperatorStepper.with_statistics],
        and its [`SpectralPreconditioner`][jaxpde.nn.SpectralPreconditioner] fitted to the
        normalised targets.

        **Arguments:** `trajectories`, `num_spatial_dims`, `precondition` (``True``: fit
        a preconditioner; ``False``: none; ``None``, the default: refit the one it has,
        if any).

        **Returns:** a copy."""
        inputs, outputs = stepper_statistics(trajectories, residual=self.residual, num_spatial_dims=num_spatial_dims)
        new = eqx.tree_at(lambda m: (m.inputs, m.outputs), self, (inputs, outputs), is_leaf=lambda x: x is None)
        if precondition is None:
            precondition = self.preconditioner is not None
        spectrum = None
        if precondition:
            t = jnp.asarray(trajectories)
            t = t.reshape((-1, *t.shape[-(num_spatial_dims + 2) :]))  # (B, T, C, *N)
            targets = jax.vmap(jax.vmap(lambda u, v: new.encode(u, v)[1]))(t[:, :-1], t[:, 1:])
            spectrum = SpectralPreconditioner.from_samples(targets, num_spatial_dims=num_spatial_dims)
        return eqx.tree_at(lambda m: m.preconditioner, new, spectrum, is_leaf=lambda x: x is None)

    def sample_rollouts(self, u0, num_steps: int, *, key, num_samples: int, args=None):
        """`num_samples` rollouts of `num_steps` steps from `u0`, each with its own noise:
        the ensemble whose mean and spread estimate the prediction and its uncertainty.

        **Arguments:** `u0` ``(C, *N)``, `num_steps`, `key`, `num_samples`, `args`.

        **Returns:** ``(num_samples, num_steps + 1, C, *N)``, the initial state first (as
        [`jaxpde.rollout`][jaxpde.rollout] returns it)."""
        from ..integrate import rollout

        keys = jax.random.split(key, check_int(num_samples, "num_samples"))
        return jax.vmap(lambda k: rollout(self.with_key(k), u0, num_steps, args=args))(keys)


def _noise(key, like):
    """Standard normal noise shaped like `like`, drawn in float32 whatever its precision
    (the same sample in float32 and float64 runs)."""
    return jax.random.normal(key, like.shape, jnp.float32).astype(like.dtype)
