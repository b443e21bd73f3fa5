"""A reduced-order model from data to verdict: the untrained model with the data's
statistics, forecasts of every trajectory from its first frame, errors on the
interpolation and extrapolation windows, the POD-Galerkin reference, and a picture."""

import functools

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from .._checks import check_int
from ._data import SnapshotBatches
from ._decoder import ModulatedDecoder, SineDecoder, domain_bounds, grid_points
from ._losses import _physics_at
from ._model import LatentDynamics, ReducedOrderModel, encode, forecast
from ._physics import latent_velocity
from ._pod import pod

DECODERS = {"sine": SineDecoder, "modulated": ModulatedDecoder}


def initial_model(
    batches: SnapshotBatches,
    grid,
    *,
    latent_size: int,
    key,
    decoder: str = "sine",
    decoder_options: dict | None = None,
    dynamics_options: dict | None = None,
    periodic=None,
) -> ReducedOrderModel:
    """The untrained [`ReducedOrderModel`][jaxpde.rom.ReducedOrderModel] for `batches`: a decoder (``"sine"`` or
    ``"modulated"``) on the grid's domain, latent dynamics conditioned on the PDE
    parameters, a zero latent memory, and the data's per-channel statistics (of the
    observed values only, for sparse training), in the data's precision.

    **Arguments:** `batches` (a [`SnapshotBatches`][jaxpde.rom.SnapshotBatches]), the `grid`, `latent_size`, a PRNG
    `key`, the `decoder` kind, keywords of the decoder (`decoder_options`) and of the
    [`LatentDynamics`][jaxpde.rom.LatentDynamics] (`dynamics_options`), and the `periodic` axes of the decoder's
    coordinate embedding (default: the grid's kind; pass ``pde.periodic_axes`` for a
    finite-volume PDE with periodic boundaries).

    **Returns:** the model.
    """
    if decoder not in DECODERS:
        raise ValueError(f"decoder must be one of {', '.join(DECODERS)}, got {decoder!r}.")
    trajs = batches.trajectories
    c = trajs.shape[2]
    flat = trajs.reshape(*trajs.shape[:3], -1)
    if batches.observed is not None:
        flat = np.take_along_axis(flat, batches.observed[:, None, None, :], axis=-1)
    vals = np.moveaxis(flat, 2, 0).reshape(c, -1)
    kd, kp = jax.random.split(key)
    params = batches.parameters
    if periodic is None:
        periodic = (bool(grid.periodic),) * grid.ndim
    dec = DECODERS[decoder](c, latent_size, domain_bounds(grid), periodic=periodic, key=kd, **(decoder_options or {}))
    dyn = LatentDynamics(latent_size, params.shape[1], key=kp, **(dynamics_options or {}))
    dec, dyn = (jax.tree.map(lambda a: a.astype(trajs.dtype) if eqx.is_inexact_array(a) else a, m) for m in (dec, dyn))
    pstd = params.std(axis=0)
    return ReducedOrderModel(
        dec,
        dyn,
        jnp.zeros((trajs.shape[0], trajs.shape[1], latent_size), trajs.dtype),
        shift=vals.mean(axis=1),
        scale=np.maximum(vals.std(axis=1), 1e-12),
        parameter_shift=params.mean(axis=0),
        parameter_scale=np.where(pstd > 0, pstd, 1.0),
    )


def _forecasts(model, u0s, betas, observed, pts, times, grid, steps, lr, init, physics=None):
    velocity = None
    if physics is not None:

        def velocity(t, a, b):
            return latent_velocity(model, a, _physics_at(physics, b), grid)

    def one(u0, beta, obs):
        vals = u0.reshape(u0.shape[0], -1)
        at = pts if obs is None else pts[obs]
        vals = vals if obs is None else vals[:, obs]
        return forecast(
            model,
            vals,
            at,
            times,
            beta if betas.shape[-1] else None,
            grid=grid,
            encode_steps=steps,
            encode_lr=lr,
            encode_init=init,
            velocity=velocity,
        )

    return jax.vmap(one)(u0s, betas, observed)


def _pod_forecasts(model, u0s, betas, times, make):
    def one(u0, beta):
        return jax.vmap(model.reconstruct)(model.integrate(model.project(u0), times, make(beta)))

    return jax.vmap(one)(u0s, betas)


@functools.cache
def _jitted():
    return eqx.filter_jit(_forecasts), eqx.filter_jit(_pod_forecasts), eqx.filter_jit(_projections)


def _without_memory(model):
    """The model without its latent memory, and the encoder's starting code: the mean of
    the memory's first frames (the training initial states' codes), or None."""
    if model.latents is None:
        return model, None
    return eqx.tree_at(lambda m: m.latents, model, None), jnp.mean(model.latents[:, 0], axis=0)


def _errors(preds, trajs):
    from ..metrics import nrmse

    return np.asarray(nrmse(preds, trajs, num_spatial_dims=trajs.ndim - 3))


def forecast_errors(
    model: ReducedOrderModel,
    trajectories,
    parameters,
    grid,
    interval: float,
    *,
    observed=None,
    encode_steps: int = 500,
    encode_learning_rate: float = 0.01,
    physics=None,
):
    """Forecast every trajectory ``(S, T, C, *N)`` from its first frame (encoded from the
    full grid, or from the `observed` point indices ``(S, M)``) and return the per-frame
    relative L2 errors ``(S, T)`` and the forecasts. One compiled, vmapped program.

    With `physics` (an [`AbstractPDE`][jaxpde.AbstractPDE] or
    [`AbstractStepper`][jaxpde.AbstractStepper], or ``beta -> `` one) the latent ODE is not
    the learned ``Ψ`` but the solver's right-hand side at the decoded field projected on the
    decoder's tangent space on every grid point
    ([`latent_velocity`][jaxpde.rom.latent_velocity]): a Galerkin-type ROM on the learned
    manifold. Its error against the plain forecast's separates what the learned dynamics
    lose from what the decoder's manifold itself loses.

    The encoding starts from the mean of the latent memory's first frames (the training
    initial states' codes) when the model still holds its memory, else from zero: where
    initial states share features, the fit then stays near the codes the dynamics were
    trained on instead of finding another code for the same field.

    **Arguments:** `model`, `trajectories`, their PDE `parameters` ``(S, P)``, the `grid`, the frame `interval`,
    `observed`, `encode_steps`, `encode_learning_rate`, `physics`.

    **Returns:** ``(errors (S, T), forecasts (S, T, C, *N))``.
    """
    model, init = _without_memory(model)
    trajs = np.asarray(trajectories)
    times = jnp.asarray(np.arange(trajs.shape[1]) * interval, trajs.dtype)
    pts = jnp.asarray(grid_points(grid), trajs.dtype)
    preds = _jitted()[0](
        model,
        jnp.asarray(trajs[:, 0]),
        jnp.asarray(parameters),
        None if observed is None else jnp.asarray(observed),
        pts,
        times,
        grid,
        encode_steps,
        encode_learning_rate,
        init,
        physics,
    )
    return _errors(preds, trajs), np.asarray(preds)


def _projections(model, trajs, pts, first_steps, steps, lr, init):
    def one(traj):
        vals = traj.reshape(traj.shape[0], traj.shape[1], -1)
        a0 = encode(model, vals[0], pts, num_steps=first_steps, learning_rate=lr, init=init)

        def body(a, v):  # warm start from the previous frame's code
            a = encode(model, v, pts, num_steps=steps, learning_rate=lr, init=a)
            return a, model.decode(pts, a)

        _, rest = lax.scan(body, a0, vals[1:])
        return jnp.concatenate([model.decode(pts, a0)[None], rest]).reshape(traj.shape)

    return jax.vmap(one)(trajs)


def projection_errors(
    model: ReducedOrderModel,
    trajectories,
    grid,
    *,
    encode_steps: int = 500,
    refine_steps: int = 30,
    encode_learning_rate: float = 0.01,
):
    """The decoder's best fit to every frame: per-frame relative L2 errors ``(S, T)`` of
    the decoded field at a code fitted to that frame (the first frame by `encode_steps`
    Adam steps from the mean code of the training initial states, each later frame by
    `refine_steps` from the previous frame's code). About the least error any latent
    dynamics can reach with this decoder (a local search, so it can miss a better code):
    where a forecast's error is far above it the dynamics are to blame, where it is close
    the decoder is.

    **Arguments:** `model`, `trajectories` ``(S, T, C, *N)`` on the `grid`, `encode_steps`, `refine_steps`,
    `encode_learning_rate`.

    **Returns:** ``(S, T)``.
    """
    model, init = _without_memory(model)
    trajs = np.asarray(trajectories)
    pts = jnp.asarray(grid_points(grid), trajs.dtype)
    fits = _jitted()[2](
        model,
        jnp.asarray(trajs),
        pts,
        check_int(encode_steps, "encode_steps"),
        check_int(refine_steps, "refine_steps"),
        encode_learning_rate,
        init,
    )
    return _errors(fits, trajs)


def pod_errors(snapshots, trajectories, parameters, make_pde, interval: float, rank: int):
    """The POD-Galerkin ROM of rank `rank` (modes of `snapshots` ``(S, T, C, *N)``) on the
    right-hand side ``make_pde(parameters)``: per-frame relative L2 errors ``(S, T)``.

    **Arguments:** the training `snapshots`, the `trajectories` to forecast and their `parameters`, `make_pde`
    (``parameters -> AbstractPDE``), the frame `interval`, the `rank`.

    **Returns:** ``(S, T)``.
    """
    snaps = np.asarray(snapshots)
    trajs = np.asarray(trajectories)
    model = pod(jnp.asarray(snaps.reshape(-1, *snaps.shape[2:])), rank)
    times = jnp.asarray(np.arange(trajs.shape[1]) * interval, trajs.dtype)
    preds = _jitted()[1](model, jnp.asarray(trajs[:, 0]), jnp.asarray(parameters), times, make_pde)
    return _errors(preds, trajs)


def window_summary(curves, train_frames: int) -> dict:
    """Mean error on the interpolation window (the first `train_frames` frames) and the
    extrapolation window (the rest).

    **Arguments:** the error `curves` ``(S, T)`` (or ``(T,)``) and `train_frames`.

    **Returns:** ``{"interpolation": float, "extrapolation": float}``.
    """
    curves = np.asarray(curves)
    return {
        "interpolation": float(curves[:, :train_frames].mean()),
        "extrapolation": float(curves[:, train_frames:].mean()),
    }


def plot_errors(result: dict, truth, prediction, grid, path, *, title: str = "") -> None:
    """Error against time on seen and unseen cases (every model in ``result["curves"]``),
    and the first unseen case: solver vs ROM (1D) or the final error field (2D).

    **Arguments:** the evaluation `result`, the first unseen case's `truth` and `prediction` ``(T, C, *N)``, its
    `grid`, the PNG `path`, a `title`.

    **Returns:** ``None``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for ax, split in zip(axes[:2], ("seen", "unseen")):
        for name, c in result["curves"].items():
            ax.semilogy(result["times"], c[split], "--" if name.endswith("best fit") else "-", label=name)
        ax.axvline(result["t_train"], color="k", ls=":", lw=1)
        ax.set_title(f"{split} parameters / initial conditions")
        ax.set_xlabel("time (dotted: end of the training window)")
        ax.set_ylabel("relative L2 error")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=8)
    ax = axes[2]
    if grid.ndim == 1:
        x = grid.coordinates()[0]
        for j, n in enumerate(np.linspace(0, len(truth) - 1, 4).astype(int)):
            ax.plot(x, truth[n, 0], color=f"C{j}", lw=1.5, label=f"t = {result['times'][n]:.2f}")
            ax.plot(x, prediction[n, 0], color=f"C{j}", ls="--", lw=1.2)
        ax.set_title("first unseen case: solver (solid) vs ROM (dashed)")
        ax.legend(fontsize=8)
    else:
        im = ax.imshow(prediction[-1, 0] - truth[-1, 0], cmap="RdBu_r", origin="lower")
        fig.colorbar(im, ax=ax)
        ax.set_title(f"first unseen case: ROM - solver at t = {result['times'][-1]:.2f}")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


PARTS = ("decoder", "latents", "dynamics")


def part_labels(model: ReducedOrderModel):
    """``"decoder"``, ``"latents"`` or ``"dynamics"`` for every leaf of a
    [`ReducedOrderModel`][jaxpde.rom.ReducedOrderModel] (or of its filtered parameters): the labels of
    [`partitioned_optimiser`][jaxpde.rom.partitioned_optimiser].

    **Arguments:** `model`. **Returns:** a pytree of labels shaped like `model`.
    """
    labels = jax.tree.map(lambda _: "dynamics", model)
    labels = eqx.tree_at(lambda m: m.decoder, labels, replace_fn=lambda d: jax.tree.map(lambda _: "decoder", d))
    if model.latents is not None:
        labels = eqx.tree_at(lambda m: m.latents, labels, "latents")
    return labels


def partitioned_optimiser(optimisers: dict):
    """One optax optimiser per part of a [`ReducedOrderModel`][jaxpde.rom.ReducedOrderModel]: the decoder,
    the latent memory and the latent dynamics, each with its own learning rate and state
    (as DINo trains them, Yin et al., ICLR 2023). Use it as any optax optimiser, e.g. in
    [`jaxpde.train.fit`][jaxpde.train.fit].

    **Arguments:** `optimisers`: ``{"decoder": ..., "latents": ..., "dynamics": ...}``
    (optax ``GradientTransformation`` each).

    **Returns:** the combined ``optax.GradientTransformation``.
    """
    import optax

    if set(optimisers) != set(PARTS):
        raise ValueError(f"give one optimiser for each of {PARTS}, got {sorted(optimisers)}.")
    return optax.multi_transform(dict(optimisers), part_labels)
