"""PDE-Refiner: a neural stepper whose one-step prediction is refined by a few denoising
steps (Lippe, Veeling, Perdikaris, Turner & Brandstetter, NeurIPS 2023)."""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp

from .._abstract import AbstractStepper
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


class PDERefiner(AbstractStepper):
    r"""PDE-Refiner around any operator: a one-step prediction followed by `num_refinements`
    denoising steps that restore the small-amplitude (high-frequency) content a plain
    one-step MSE model neglects.

    In the (optionally normalised) target space ``y`` (the increment ``u_{n+1} - u_n``
    when `residual`, else ``u_{n+1}``) and with the input ``x`` (the normalised state),
    the network ``f`` sees ``[x, ỹ, k/K]`` (the state, a noisy target and the refinement
    step as a constant channel):

    - step 0: ``ŷ⁰ = f(x, 0, 0)``;
    - step ``k = 1..K``: ``ỹ = ŷ^{k-1} + σ_k ε``, ``ŷ^k = ỹ - σ_k f(x, ỹ, k)`` with
      ``ε ~ N(0, I)`` and noise levels ``σ_k = σ_min^{k/K}`` (`min_noise`).

    Training ([`train.refiner_loss`][jaxpde.train.refiner_loss]) draws ``k`` uniformly
    from ``0..K`` per sample (or ``k = 0`` with a chosen probability, its
    `base_fraction`): MSE of ``f(x, 0, 0)`` against ``y`` for ``k = 0``, else MSE
    of ``f(x, y + σ_k ε, k)`` against the noise ``ε``.

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
    - `key`: the PRNG key of the refinement noise.
    """

    net: Callable
    dt: float = eqx.field(static=True)
    num_refinements: int = eqx.field(static=True)
    min_noise: float = eqx.field(static=True)
    residual: bool = eqx.field(static=True)
    inputs: Normalisation | None
    outputs: Normalisation | None
    key: jax.Array

    def __init__(
        self, net, dt, *, num_refinements=3, min_noise=1e-3, residual=True, inputs=None, outputs=None, key=None
    ):
        self.net = net
        self.dt = float(dt)
        self.num_refinements = check_int(num_refinements, "num_refinements")
        self.min_noise = float(min_noise)
        if not 0 < self.min_noise < 1:
            raise ValueError(f"min_noise must be in (0, 1), got {min_noise}.")
        self.residual = bool(residual)
        self.inputs, self.outputs = inputs, outputs
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
        level = jnp.full((1, *x.shape[1:]), jnp.asarray(k, x.dtype) / self.num_refinements, x.dtype)
        z = jnp.concatenate([x, y.astype(x.dtype), level], axis=0)
        dtype = _compute_dtype(self.net, x)
        out = self.net(z.astype(dtype)) if args is None else self.net(z.astype(dtype), args)
        return out.astype(x.dtype)

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
        y = self.network(x, jnp.zeros_like(x), 0, args)
        sigmas = self.noise_levels()
        keys = jax.random.split(jax.random.wrap_key_data(_key_data(key)), max(refinements, 1))
        for k in range(1, refinements + 1):
            sigma = sigmas[k - 1].astype(x.dtype)
            noisy = y + sigma * _noise(keys[k - 1], y)
            y = noisy - sigma * self.network(x, noisy, k, args)
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

    def with_statistics(self, trajectories, *, num_spatial_dims: int) -> "PDERefiner":
        """This refiner with per-channel normalisations fitted to `trajectories`
        ``(..., T, C, *N)``, as [`OperatorStepper.with_statistics`][jaxpde.nn.OperatorStepper.with_statistics].

        **Arguments:** `trajectories`, `num_spatial_dims`. **Returns:** a copy."""
        inputs, outputs = stepper_statistics(trajectories, residual=self.residual, num_spatial_dims=num_spatial_dims)
        return eqx.tree_at(lambda m: (m.inputs, m.outputs), self, (inputs, outputs), is_leaf=lambda x: x is None)

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
