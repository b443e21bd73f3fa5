r"""Training losses of the neural-field reduced-order models.

A batch (from [`SnapshotBatches`][jaxpde.rom.SnapshotBatches]) holds ``B`` training trajectories with all their
frames in the training window:

- ``trajectories`` ``(B, T, C, *N)`` on the solver grid, ``index`` ``(B,)`` their rows in
  the latent memory, ``parameters`` ``(B, p)`` their PDE parameters;
- ``frame`` ``(B,)`` (optional): a batch of single snapshots; ``trajectories`` is then
  ``(B, 1, C, *N)`` and row ``i`` is frame ``frame[i]`` of trajectory ``index[i]``;
- ``observed`` ``(B, m)`` (optional): flat indices of the grid points where each
  trajectory is observed (sparse training: the reconstruction loss sees nothing else);
- ``key`` ``(B, 2)`` raw PRNG key data (hyper-reduction subsets, teacher forcing);
- ``coupling`` ``(B,)``: 0 during the physics warm-up, 1 after;
- ``teacher_forcing`` ``(B,)``: the teacher-forcing probability of the data-driven
  baseline.

All three methods minimise ``λ L_rec + (1 − λ) L_dyn`` and differ in ``L_dyn``:

- ``"phirom"``: the solver's right-hand side projected on the latent tangent space
  ([`latent_velocity`][jaxpde.rom.latent_velocity]) supervises ``Ψ``; with coupling 1 its gradient also reaches
  the decoder and the latent memory (through the least-squares solve and the solver).
- ``"pinn"``: the same, with the right-hand side from autodiff of the decoder in ``x``
  ([`autodiff_velocity`][jaxpde.rom.autodiff_velocity]).
- ``"dino"``: data-driven; ``Ψ`` is integrated along the memory's latent trajectories
  with scheduled teacher forcing and fit to them (the latents are not moved by it).
"""

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
from jax import lax

from .._abstract import AbstractPDE, AbstractStepper
from ._decoder import grid_points
from ._physics import autodiff_velocity, latent_velocity

METHODS = ("phirom", "pinn", "dino")


def _rel(pred, target, axis):
    return jnp.sqrt(jnp.sum((pred - target) ** 2, axis=axis) / (jnp.sum(target**2, axis=axis) + 1e-12))


def _batch_latents(model, batch):
    if "frame" in batch:  # a batch of snapshots: one frame per row
        return model.latents[batch["index"], batch["frame"]][:, None]  # (B, 1, k)
    return model.latents[batch["index"]]  # (B, T, k)


def reconstruction_loss(model, batch, grid) -> jax.Array:
    r"""Mean relative L2 error ``‖D(X, α_{i,n}) − u_{i,n}‖ / ‖u_{i,n}‖`` per snapshot and
    channel, over the observed points (all grid points without ``observed``).

    **Arguments:** `model`, `batch`, `grid`. **Returns:** the scalar loss.
    """
    trajs = batch["trajectories"]
    b, t, c = trajs.shape[:3]
    u = trajs.reshape(b, t, c, -1)
    alphas = _batch_latents(model, batch)
    pts = jnp.asarray(grid_points(grid), u.dtype)
    obs = batch.get("observed")
    if obs is None:
        pred = jax.vmap(jax.vmap(lambda a: model.decode(pts, a)))(alphas)
    else:
        u = jnp.take_along_axis(u, obs[:, None, None, :], axis=-1)
        pred = jax.vmap(lambda o, al: jax.vmap(lambda a: model.decode(pts[o], a))(al))(obs, alphas)
    return jnp.mean(_rel(pred, u, -1))


def _coupled(x, m):
    """``x`` in value; its gradient scaled by ``m`` (0 stops it, 1 passes it)."""
    return jax.tree.map(
        lambda a: lax.stop_gradient(a) + m * (a - lax.stop_gradient(a)) if eqx.is_inexact_array(a) else a, x
    )


def _physics_at(physics, beta):
    return physics if isinstance(physics, (AbstractPDE, AbstractStepper)) else physics(beta)


def _latent_target(field, alpha, pde, grid, *, autodiff: bool, key=None, fraction: float = 1.0):
    """``α̇*`` of the decoder `field` at `alpha`: the solver's least-squares latent
    velocity, or PINN-ROM's autodiff one (`autodiff`)."""
    velocity = autodiff_velocity if autodiff else latent_velocity
    return velocity(field, alpha, pde, grid, key=key, fraction=fraction)


def _velocity_misfit(psi, target):
    """``mean ‖Ψ − α̇*‖ / ‖sg(α̇*)‖`` over the leading axes."""
    norm = jnp.linalg.norm(lax.stop_gradient(target), axis=-1) + 1e-12
    return jnp.mean(jnp.linalg.norm(psi - target, axis=-1) / norm)


def physics_loss(model, batch, physics, grid, *, fraction: float = 0.1, autodiff: bool = False) -> jax.Array:
    r"""The Φ-ROM dynamics loss ``mean ‖Ψ(α, β) − α̇*‖ / ‖sg(α̇*)‖`` with ``α̇*`` the
    least-squares latent velocity of the solver (``autodiff=True``: of the PDE's pointwise
    form, PINN-ROM) on a random `fraction` of the grid per snapshot.

    `physics` is an [`AbstractPDE`][jaxpde.AbstractPDE] / [`AbstractStepper`][jaxpde.AbstractStepper], or
    ``beta -> `` one (built inside the trace, so parameters may be traced values). The
    gradient into the decoder and the latents is scaled by the batch's ``coupling``.

    **Arguments:** `model`, `batch` (from [`SnapshotBatches`][jaxpde.rom.SnapshotBatches]), `physics`, `grid`,
    `fraction`, `autodiff`.

    **Returns:** the scalar loss.
    """
    return _velocity_misfit(*velocity_pairs(model, batch, physics, grid, fraction=fraction, autodiff=autodiff))


def velocity_pairs(model, batch, physics, grid, *, fraction: float = 0.1, autodiff: bool = False):
    """``(Ψ(α, β), α̇*)`` for every snapshot of the batch, each ``(B, T, k)``: the terms of
    [`physics_loss`][jaxpde.rom.physics_loss].

    **Arguments:** `model`, `batch`, `physics`, `grid`, `fraction`, `autodiff`, as in
    [`physics_loss`][jaxpde.rom.physics_loss].

    **Returns:** the pair.
    """
    m = jnp.mean(batch["coupling"])
    field = _coupled(model, m)
    alphas = _coupled(_batch_latents(model, batch), m)
    t = alphas.shape[1]

    def one(alpha, beta, key):
        target = _latent_target(
            field, alpha, _physics_at(physics, beta), grid, autodiff=autodiff, key=key, fraction=fraction
        )
        return model.velocity(0.0, alpha, beta), target

    def per_trajectory(al, beta, key):
        keys = jax.random.split(jax.random.wrap_key_data(key), t)
        return jax.vmap(lambda a, k: one(a, beta, k))(al, keys)

    return jax.vmap(per_trajectory)(alphas, batch["parameters"], batch["key"])


def latent_step(model, alpha, beta, dt, *, solver=None):
    """One step of length `dt` of the latent ODE (``diffrax.Bosh3`` by default): the
    solver's own ``step``, without the loop, save and adjoint machinery of a whole
    ``diffeqsolve`` (the same arithmetic as ``model.integrate`` over one fixed step, and
    much cheaper to differentiate inside an unrolled loss).

    **Arguments:** `model`, the latent `alpha`, the PDE parameters `beta`, `dt`, and a diffrax `solver`.

    **Returns:** the next latent ``(k,)``.
    """
    solver = diffrax.Bosh3() if solver is None else solver
    term = diffrax.ODETerm(lambda t, a, b: model.velocity(t, a, b).astype(a.dtype))
    t0, t1 = jnp.zeros((), alpha.dtype), jnp.asarray(dt, alpha.dtype)
    args = None if beta is None else jnp.asarray(beta, alpha.dtype)
    state = solver.init(term, t0, t1, alpha, args)
    return solver.step(term, t0, t1, alpha, args, state, made_jump=False)[0]


def trajectory_loss(model, batch, interval: float) -> jax.Array:
    r"""The data-driven (DINo-style) dynamics loss: unroll ``Ψ`` along each trajectory's
    memory latents, one frame `interval` per step, feeding the true latent instead of the
    prediction with probability ``teacher_forcing``; mean relative L2 error of the
    predicted latents. The memory is not trained by this loss.

    **Reference:** Yin et al., "Continuous PDE Dynamics Forecasting with Implicit Neural
    Representations" (DINo), ICLR 2023.

    **Arguments:** `model`, `batch`, the frame `interval`. **Returns:** the scalar loss.
    """
    if "frame" in batch:
        raise ValueError("the data-driven loss needs whole trajectories, not a batch of snapshots.")
    alphas = lax.stop_gradient(_batch_latents(model, batch))

    def per_trajectory(al, beta, key, p):
        coins = jax.random.uniform(jax.random.wrap_key_data(key), (al.shape[0],))

        def body(a, inp):
            true, coin = inp
            a = jnp.where(coin < p, true, a)
            nxt = latent_step(model, a, beta, interval)
            return nxt, nxt

        _, preds = lax.scan(body, al[0], (al[:-1], coins[:-1]))
        return _rel(preds, al[1:], -1)

    return jnp.mean(jax.vmap(per_trajectory)(alphas, batch["parameters"], batch["key"], batch["teacher_forcing"]))


def rom_loss(
    model,
    batch,
    *,
    method: str,
    grid,
    physics=None,
    weight: float = 0.5,
    fraction: float = 0.1,
    interval: float | None = None,
    terms: bool = False,
):
    r"""``λ L_rec + (1 − λ) L_dyn`` with ``λ`` = `weight` and ``L_dyn`` of `method`
    (``"phirom"``, ``"pinn"`` or ``"dino"``; see the module docstring). ``"dino"`` needs
    the frame `interval`; the others need `physics`.

    **Arguments:** `model`, `batch`, `method`, `grid`, `physics`, `weight`, the hyper-reduction `fraction`,
    `interval`, and `terms` (also return the two terms).

    **Returns:** the scalar loss, or with `terms` the pair ``(loss, {"reconstruction": L_rec,
    "dynamics": L_dyn})`` (for ``fit(..., has_aux=True)``).
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}.")
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"weight must be in [0, 1], got {weight}.")
    rec = reconstruction_loss(model, batch, grid)
    if method == "dino":
        if interval is None:
            raise ValueError("method 'dino' needs the frame interval.")
        dyn = trajectory_loss(model, batch, interval)
    else:
        if physics is None:
            raise ValueError(f"method {method!r} needs physics (a PDE, a stepper, or beta -> one).")
        dyn = physics_loss(model, batch, physics, grid, fraction=fraction, autodiff=method == "pinn")
    loss = weight * rec + (1.0 - weight) * dyn
    return (loss, {"reconstruction": rec, "dynamics": dyn}) if terms else loss


def gradient_ratio(
    model, batch, *, method: str, grid, physics, weight: float = 0.5, fraction: float = 0.1
) -> jax.Array:
    r"""``‖(1 − λ) ∇ L_dyn‖ / ‖λ ∇ L_rec‖`` over the decoder and the latent memory, with
    the physics coupling on (whatever the batch's ``coupling``): how strongly the physics
    gradient pulls on the field's representation against the reconstruction when the
    coupling switches on after the warm-up. For ``"phirom"`` and ``"pinn"``.

    **Arguments:** `model`, `batch`, `method`, `grid`, `physics`, `weight` ``λ``, `fraction`.

    **Returns:** the scalar ratio.
    """
    if method not in ("phirom", "pinn"):
        raise ValueError(f"gradient_ratio applies to 'phirom' and 'pinn', got {method!r}.")
    batch = {**batch, "coupling": jnp.ones_like(jnp.asarray(batch["coupling"]))}
    field = lambda m: (m.decoder, m.latents)  # noqa: E731

    def norm(fn):
        g = eqx.filter_grad(fn)(model)
        leaves = jax.tree.leaves(eqx.filter(field(g), eqx.is_inexact_array))
        return jnp.sqrt(sum(jnp.sum(x**2) for x in leaves))

    rec = norm(lambda m: reconstruction_loss(m, batch, grid))
    dyn = norm(lambda m: physics_loss(m, batch, physics, grid, fraction=fraction, autodiff=method == "pinn"))
    return (1.0 - weight) * dyn / (weight * rec + 1e-30)


def fit_dynamics(
    model,
    parameters,
    physics,
    grid,
    *,
    num_steps: int,
    learning_rate: float = 1e-3,
    autodiff: bool = False,
    batch_size: int = 256,
):
    r"""Refit the latent dynamics ``Ψ`` of a trained physics-informed ROM to the solver's
    projected velocity on all grid points, with the decoder and the latent memory fixed:
    ``min_Ψ mean ‖Ψ(α_{i,n}, β_i) − α̇*_{i,n}‖ / ‖α̇*_{i,n}‖`` over every training snapshot,
    with ``α̇*`` from [`latent_velocity`][jaxpde.rom.latent_velocity] (or
    [`autodiff_velocity`][jaxpde.rom.autodiff_velocity] with `autodiff`) at ``fraction=1``.

    This is the Φ-ROM dynamics loss with the coupling off (``Ψ`` alone learns, as in the
    warm-up), ``λ = 0`` and no hyper-reduction. During training the target comes from a
    random subset of the points (``rom.fraction``), which keeps the physics gradient
    affordable and regularises the decoder, but leaves ``Ψ`` fit to noisy targets; a final
    fit to the exact targets of the frozen manifold costs seconds. jaxpde's addition, not
    part of the published method (Hosseini Dashtbayaz et al., NeurIPS 2025).

    The targets are computed once, in chunks of `batch_size` snapshots; the fit is one
    ``lax.scan`` of full-batch Adam steps with a cosine-decayed learning rate.

    **Arguments:**

    - `model`: a [`ReducedOrderModel`][jaxpde.rom.ReducedOrderModel] with its latent memory ``(B, T, k)``.
    - `parameters`: ``(B, p)`` PDE parameters of the memory's trajectories.
    - `physics`, `grid`: as in [`physics_loss`][jaxpde.rom.physics_loss].
    - `num_steps`, `learning_rate`: the Adam fit.
    - `autodiff`: PINN-ROM's right-hand side instead of the solver's.
    - `batch_size`: snapshots per chunk when computing the targets.

    **Returns:** ``(model, info)``: the model with the refitted dynamics, and
    ``{"loss_before": …, "loss_after": …}``.
    """
    import optax

    num_steps = int(num_steps)
    if num_steps < 1:
        raise ValueError(f"num_steps must be positive, got {num_steps}.")
    if not learning_rate > 0:
        raise ValueError(f"learning_rate must be positive, got {learning_rate}.")
    if model.latents is None:
        raise ValueError("fit_dynamics needs the model's latent memory (the model as trained).")
    latents = lax.stop_gradient(model.latents)
    b, t, k = latents.shape
    params = jnp.asarray(parameters, latents.dtype).reshape(b, -1)
    alphas = latents.reshape(b * t, k)
    betas = jnp.repeat(params, t, axis=0)
    frozen = jax.tree.map(lambda a: lax.stop_gradient(a) if eqx.is_inexact_array(a) else a, model)

    def target(ab):
        alpha, beta = ab
        return _latent_target(frozen, alpha, _physics_at(physics, beta), grid, autodiff=autodiff)

    targets = lax.stop_gradient(lax.map(target, (alphas, betas), batch_size=min(int(batch_size), b * t)))

    def loss(dynamics):
        m = eqx.tree_at(lambda m: m.dynamics, model, dynamics)
        return _velocity_misfit(jax.vmap(lambda a, be: m.velocity(0.0, a, be))(alphas, betas), targets)

    optimiser = optax.adam(optax.cosine_decay_schedule(learning_rate, num_steps))
    params0, static = eqx.partition(model.dynamics, eqx.is_inexact_array)
    value = lambda p: loss(eqx.combine(p, static))  # noqa: E731

    def body(carry, _):
        p, state = carry
        l, g = jax.value_and_grad(value)(p)
        updates, state = optimiser.update(g, state, p)
        return (optax.apply_updates(p, updates), state), l

    (fitted, _), _ = lax.scan(body, (params0, optimiser.init(params0)), None, length=num_steps)
    dynamics = eqx.combine(fitted, static)
    info = {"loss_before": value(params0), "loss_after": value(fitted)}
    return eqx.tree_at(lambda m: m.dynamics, model, dynamics), info
