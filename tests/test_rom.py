"""jaxpde.rom: decoders and the Φ-ROM latent velocity (least-squares projection of the
solver's right-hand side onto the decoder's latent tangent space)."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxpde
from jaxpde import rom, spectral

GRID = jaxpde.PeriodicGrid(32, 2 * np.pi)
KEY = jax.random.key(0)


class LinearDecoder(eqx.Module):
    """D(x, α) = Σ_j α_j φ_j(x), φ = (cos x, sin x, cos 2x, sin 2x, cos 3x)."""

    num_channels: int = eqx.field(static=True, default=1)

    def basis(self, x):
        x = jnp.atleast_1d(x)[0]
        return jnp.stack([jnp.cos(x), jnp.sin(x), jnp.cos(2 * x), jnp.sin(2 * x), jnp.cos(3 * x)])

    def __call__(self, x, alpha):
        return jnp.dot(self.basis(x), alpha)[None]


def test_least_squares_velocity_of_a_linear_decoder_is_the_galerkin_projection():
    dec = LinearDecoder()
    alpha = jnp.array([0.8, -0.3, 0.5, 0.2, -0.1])
    pde = spectral.Burgers(GRID, 0.1)
    x = GRID.axis_coordinates(0)
    phi = np.stack([np.asarray(dec.basis(jnp.asarray([xi]))) for xi in x])  # (N, k)
    u = phi @ np.asarray(alpha)
    r = np.asarray(pde.rhs(0.0, jnp.asarray(u)[None]))[0]
    # orthogonal modes on the uniform grid: the projection is <φ_j, r> / <φ_j, φ_j>
    galerkin = (phi.T @ r) / np.sum(phi**2, axis=0)
    got = jax.jit(lambda a: rom.latent_velocity(dec, a, pde, GRID))(alpha)
    np.testing.assert_allclose(np.asarray(got), galerkin, rtol=1e-10, atol=1e-12)
    # hyper-reduced: the least-squares solution on the sampled rows
    key = jax.random.key(3)
    sub = jax.jit(lambda a: rom.latent_velocity(dec, a, pde, GRID, key=key, fraction=0.4))(alpha)
    idx = np.asarray(jax.random.choice(key, 32, (13,), replace=False))
    ref = np.linalg.lstsq(phi[idx], r[idx], rcond=None)[0]
    np.testing.assert_allclose(np.asarray(sub), ref, rtol=1e-9, atol=1e-12)


def test_stepper_difference_quotient_approaches_the_rhs():
    dec = LinearDecoder()
    alpha = jnp.array([0.8, -0.3, 0.5, 0.2, -0.1])
    pde = spectral.Burgers(GRID, 0.1)
    exact = rom.latent_velocity(dec, alpha, pde, GRID)
    errs = [
        float(jnp.linalg.norm(rom.latent_velocity(dec, alpha, spectral.ETDRK(pde, dt, order=1), GRID) - exact))
        for dt in (1e-2, 5e-3)
    ]
    assert errs[1] < 0.6 * errs[0] and errs[1] < 1e-2  # first order in dt
    with pytest.raises(TypeError, match="AbstractPDE or an AbstractStepper"):
        rom.field_velocity(lambda u: u, jnp.ones((1, 32)))


@pytest.mark.parametrize("kind", ["sine", "modulated"])
def test_decoders_are_continuous_fields_conditioned_on_the_latent(kind):
    bounds = rom.domain_bounds(GRID)
    cls = rom.SineDecoder if kind == "sine" else rom.ModulatedDecoder
    dec = cls(2, 4, bounds, width=16, depth=2, key=KEY)
    alpha = jax.random.normal(jax.random.key(1), (4,))
    u = jax.jit(lambda a: rom.decode_grid(dec, GRID, a))(alpha)
    assert u.shape == (2, 32)
    pts = jnp.asarray(rom.grid_points(GRID))
    np.testing.assert_allclose(np.asarray(rom.decode(dec, pts, alpha)), np.asarray(u).reshape(2, -1), rtol=1e-12)
    off = rom.decode(dec, jnp.array([[0.123], [4.56]]), alpha)  # anywhere in the domain
    assert off.shape == (2, 2) and np.all(np.isfinite(np.asarray(off)))
    assert not np.allclose(np.asarray(rom.decode_grid(dec, GRID, alpha + 1.0)), np.asarray(u))


@pytest.mark.parametrize("kind", ["sine", "modulated"])
def test_decoders_are_periodic_on_periodic_axes_to_round_off(kind):
    """The decoded field and its derivatives agree at x = lower and x = upper on a periodic
    axis (the periodic embedding), and not on a bounded one."""
    from jaxpde import fv

    cls = rom.SineDecoder if kind == "sine" else rom.ModulatedDecoder
    dec = cls(2, 3, ((0.0, -1.0), (2.5, 3.0)), periodic=(True, False), width=16, depth=2, key=KEY)
    alpha = jnp.array([0.4, -0.7, 1.1])
    f = lambda x: dec(x, alpha)  # noqa: E731
    for y in (-1.0, 0.3, 2.9):
        lo, hi = jnp.array([0.0, y]), jnp.array([2.5, y])
        np.testing.assert_allclose(np.asarray(f(lo)), np.asarray(f(hi)), rtol=0, atol=1e-13)
        d_lo, d_hi = jax.jacfwd(f)(lo)[:, 0], jax.jacfwd(f)(hi)[:, 0]
        np.testing.assert_allclose(np.asarray(d_lo), np.asarray(d_hi), rtol=0, atol=1e-12)
    gap = f(jnp.array([1.0, -1.0])) - f(jnp.array([1.0, 3.0]))
    assert float(jnp.max(jnp.abs(gap))) > 1e-3  # the bounded axis is free
    # the model follows the PDE: a spectral grid is periodic, a finite-volume one per its boundaries
    assert spectral.Burgers(GRID, 0.1).periodic_axes == (True,)
    cells = jaxpde.CellGrid((8, 8), (0.0, 0.0), (1.0, 1.0))
    law = fv.Burgers(ndim=2)
    assert fv.FiniteVolume(law, cells, bc=["periodic", ("outflow", "outflow")]).periodic_axes == (True, False)


def test_phi_rom_dynamics_loss_gradient_matches_finite_differences():
    """Gradients flow through the least-squares solve, the solver's rhs and the decoder."""
    pde = spectral.Burgers(GRID, 0.1)
    dec = rom.SineDecoder(1, 3, rom.domain_bounds(GRID), width=12, depth=2, omega0=3.0, key=KEY)
    alpha = jnp.array([0.3, -0.2, 0.5])
    psi = jnp.array([0.1, 0.0, -0.2])  # a stand-in for Ψ(α)
    key = jax.random.key(7)

    def loss(dec, alpha):
        v = rom.latent_velocity(dec, alpha, pde, GRID, key=key, fraction=0.5)
        return jnp.sum((psi - v) ** 2)

    g_dec, g_alpha = jax.jit(jax.grad(loss, argnums=(0, 1)))(dec, alpha)
    f = jax.jit(loss)
    eps = 1e-6
    d_alpha = jnp.array([0.4, -1.0, 0.7])
    fd = (f(dec, alpha + eps * d_alpha) - f(dec, alpha - eps * d_alpha)) / (2 * eps)
    np.testing.assert_allclose(float(jnp.dot(g_alpha, d_alpha)), float(fd), rtol=1e-6)
    w = dec.siren.layers[1].weight
    d_w = jax.random.normal(jax.random.key(9), w.shape)
    shift = lambda s: eqx.tree_at(lambda d: d.siren.layers[1].weight, dec, w + s * d_w)
    fd = (f(shift(eps), alpha) - f(shift(-eps), alpha)) / (2 * eps)
    np.testing.assert_allclose(float(jnp.sum(g_dec.siren.layers[1].weight * d_w)), float(fd), rtol=1e-6)


def test_latent_velocity_works_with_a_finite_volume_solver_unchanged():
    """Any AbstractPDE through rhs: here a finite-volume Burgers law on a cell grid."""
    from jaxpde import fv

    grid = jaxpde.CellGrid(40, 0.0, 2 * np.pi)
    pde = fv.FiniteVolume(fv.Burgers(), grid, fv.WENO5("z"), fv.Rusanov(), bc="periodic")
    dec = LinearDecoder()
    alpha = jnp.array([0.8, -0.3, 0.5, 0.2, -0.1])
    x = grid.axis_centres(0)
    phi = np.stack([np.asarray(dec.basis(jnp.asarray([xi]))) for xi in x])
    r = np.asarray(pde.rhs(0.0, jnp.asarray(phi @ np.asarray(alpha))[None]))[0]
    got = jax.jit(lambda a: rom.latent_velocity(dec, a, pde, grid))(alpha)
    np.testing.assert_allclose(np.asarray(got), np.linalg.lstsq(phi, r, rcond=None)[0], rtol=1e-9, atol=1e-12)


# ------------------------------------------------------------------------------------------
# the model, losses, inference and baselines


def _tiny_rom(k=3, num_parameters=1, trajectories=2, frames=3, key=KEY):
    kd, kp, kl = jax.random.split(key, 3)
    dec = rom.SineDecoder(1, k, rom.domain_bounds(GRID), width=8, depth=2, omega0=3.0, key=kd)
    dyn = rom.LatentDynamics(k, num_parameters, width=8, depth=2, key=kp)
    lat = 0.3 * jax.random.normal(kl, (trajectories, frames, k))
    return rom.ReducedOrderModel(dec, dyn, lat, shift=0.1, scale=2.0, parameter_shift=0.1, parameter_scale=0.05)


def _batch(model, coupling=1.0, teacher=0.0, observed=None):
    s, t, _ = model.latents.shape
    x = GRID.axis_coordinates(0)
    trajs = np.stack([[np.sin(x + 0.3 * i + 0.1 * n)[None] for n in range(t)] for i in range(s)])
    b = {
        "trajectories": jnp.asarray(trajs),
        "index": jnp.arange(s),
        "parameters": jnp.array([[0.08], [0.12]])[:s],
        "key": jnp.asarray(np.arange(2 * s, dtype=np.uint32).reshape(s, 2)),
        "coupling": jnp.full(s, coupling),
        "teacher_forcing": jnp.full(s, teacher),
    }
    if observed is not None:
        b["observed"] = jnp.asarray(observed)
    return b


def _physics(beta):
    return spectral.Burgers(GRID, beta[0])


def _directional_fd(loss, model, eps=1e-6, freeze_latents=False, fd_loss=None):
    """``(∇loss · v, central difference of fd_loss (default: loss) along v)`` for a
    random direction v over every inexact leaf (but the latent memory when
    `freeze_latents`)."""
    params, static = eqx.partition(model, eqx.is_inexact_array)
    leaves, tree = jax.tree.flatten(params)
    keys = jax.random.split(jax.random.key(7), len(leaves))
    v = jax.tree.unflatten(tree, [jax.random.normal(k, x.shape, x.dtype) for k, x in zip(keys, leaves)])
    if freeze_latents:
        v = eqx.tree_at(lambda p: p.latents, v, jnp.zeros_like(v.latents))
    f = jax.jit(lambda p: (fd_loss or loss)(eqx.combine(p, static)))
    g = jax.jit(jax.grad(lambda p: loss(eqx.combine(p, static))))(params)
    shift = lambda s: jax.tree.map(lambda a, d: a + s * d, params, v)  # noqa: E731
    fd = (f(shift(eps)) - f(shift(-eps))) / (2 * eps)
    ad = sum(jnp.vdot(a, d) for a, d in zip(jax.tree.leaves(g), jax.tree.leaves(v)))
    return float(ad), float(fd)


@pytest.mark.parametrize(
    "method",
    [pytest.param(m, marks=pytest.mark.slow) for m in ("phirom", "pinn", "dino")],  # ~25 s each
)
def test_rom_losses_have_finite_difference_gradients(method):
    """The whole training loss (reconstruction + dynamics, through the least-squares solve
    and the spectral solver / the autodiff residual / the latent ODE steps), float64.

    The dynamics terms are normalised by stopped-gradient norms, which finite differences
    cannot stop: the reference is the same loss with those norms frozen at the base point
    (Φ-ROM, PINN-ROM), and the latents, which the data-driven loss must not move, are not
    perturbed (DINo)."""
    model = _tiny_rom()
    batch = _batch(model, teacher=0.5)
    loss = lambda m: rom.rom_loss(
        m,
        batch,
        method=method,
        grid=GRID,
        physics=_physics,  # noqa: E731
        fraction=0.5,
        interval=0.05,
    )
    if method == "dino":
        ad, fd = _directional_fd(loss, model, freeze_latents=True)
    else:
        kw = dict(fraction=0.5, autodiff=method == "pinn")
        norm = jnp.linalg.norm(rom.velocity_pairs(model, batch, _physics, GRID, **kw)[1], axis=-1) + 1e-12

        def frozen(m):
            psi, target = rom.velocity_pairs(m, batch, _physics, GRID, **kw)
            dyn = jnp.mean(jnp.linalg.norm(psi - target, axis=-1) / norm)
            return 0.5 * rom.reconstruction_loss(m, batch, GRID) + 0.5 * dyn

        np.testing.assert_allclose(frozen(model), loss(model), rtol=1e-12)
        ad, fd = _directional_fd(loss, model, fd_loss=frozen)
    np.testing.assert_allclose(ad, fd, rtol=2e-6)


def test_warm_up_coupling_blocks_the_physics_gradient_into_decoder_and_latents():
    model = _tiny_rom()

    value_and_grad = eqx.filter_jit(
        eqx.filter_value_and_grad(lambda m, b: rom.physics_loss(m, b, _physics, GRID, fraction=0.5))
    )
    (v_off, off), (v_on, on), (_, tenth) = (value_and_grad(model, _batch(model, coupling=c)) for c in (0.0, 1.0, 0.1))
    values = [float(v_off), float(v_on)]
    assert values[0] == values[1]  # the coupling changes gradients, never the loss
    for leaf in jax.tree.leaves(eqx.filter((off.decoder, off.latents), eqx.is_inexact_array)):
        assert float(jnp.max(jnp.abs(leaf))) == 0.0
    # Ψ learns during warm-up with the full gradient (it also sees α, whose gradient is blocked)
    for a, b in zip(jax.tree.leaves(off.dynamics), jax.tree.leaves(on.dynamics)):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    # the decoder's gradient scales linearly with the coupling
    for a, b in zip(jax.tree.leaves(tenth.decoder), jax.tree.leaves(on.decoder)):
        np.testing.assert_allclose(a, 0.1 * b, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("autodiff", [False, True])
def test_dynamics_refit_minimises_the_full_grid_dynamics_loss_with_the_manifold_fixed(autodiff):
    """``fit_dynamics`` minimises exactly the Φ-ROM (or PINN-ROM) dynamics loss on every
    grid point, over Ψ alone: its reported losses are ``physics_loss(fraction=1)`` before
    and after, and the decoder and the latent memory come back bit for bit."""
    model = _tiny_rom()
    batch = _batch(model)
    params = batch["parameters"]
    fit = eqx.filter_jit(
        lambda m: rom.fit_dynamics(m, params, _physics, GRID, num_steps=1000, learning_rate=3e-2, autodiff=autodiff)
    )
    new, info = fit(model)
    dyn = eqx.filter_jit(lambda m: rom.physics_loss(m, batch, _physics, GRID, fraction=1.0, autodiff=autodiff))
    np.testing.assert_allclose(float(info["loss_before"]), float(dyn(model)), rtol=1e-10)
    np.testing.assert_allclose(float(info["loss_after"]), float(dyn(new)), rtol=1e-9, atol=1e-14)
    assert float(info["loss_after"]) < 0.2 * float(info["loss_before"])
    np.testing.assert_array_equal(np.asarray(new.latents), np.asarray(model.latents))
    for a, b in zip(jax.tree.leaves(eqx.filter(new.decoder, eqx.is_array)), jax.tree.leaves(model.decoder)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    with pytest.raises(ValueError, match="num_steps must be positive"):
        rom.fit_dynamics(model, params, _physics, GRID, num_steps=0)
    with pytest.raises(ValueError, match="latent memory"):
        rom.fit_dynamics(
            eqx.tree_at(lambda m: m.latents, model, None, is_leaf=lambda x: x is None),
            params,
            _physics,
            GRID,
            num_steps=1,
        )


def test_data_driven_loss_leaves_the_latent_memory_alone_and_teacher_forcing_restarts_each_step():
    model = _tiny_rom(num_parameters=1, frames=4)
    g = eqx.filter_jit(eqx.filter_grad(lambda m: rom.trajectory_loss(m, _batch(m, teacher=1.0), 0.05)))(model)
    assert float(jnp.max(jnp.abs(g.latents))) == 0.0
    # full teacher forcing: every step starts from the stored latent
    b = _batch(model, teacher=1.0)
    lat = model.latents
    step = jax.jit(jax.vmap(jax.vmap(lambda a, p: rom.latent_step(model, a, p, 0.05), (0, None))))
    nxt = step(lat[:, :-1], b["parameters"])
    # the bare solver step is one fixed step of the model's integrate
    whole = model.integrate(lat[0, 0], [0.0, 0.05], b["parameters"][0])[-1]
    np.testing.assert_allclose(nxt[0, 0], whole, rtol=1e-12, atol=1e-14)
    assert float(jnp.max(jnp.abs(nxt - lat[:, :-1]))) > 1e-6
    manual = jnp.linalg.norm(nxt - lat[:, 1:], axis=-1) / jnp.linalg.norm(lat[:, 1:], axis=-1)
    got = eqx.filter_jit(lambda m: rom.trajectory_loss(m, b, 0.05))(model)
    np.testing.assert_allclose(float(got), float(jnp.mean(manual)), rtol=1e-10)


def test_pointwise_forms_match_the_spectral_right_hand_sides():
    x = GRID.axis_coordinates(0)
    f = lambda y: jnp.stack([jnp.sin(y[0]) + 0.5 * jnp.cos(2 * y[0])])  # noqa: E731
    u = np.asarray(jax.vmap(f)(jnp.asarray(x)[:, None]).T)
    for pde in (
        spectral.Burgers(GRID, 0.07, convection=1.3),
        spectral.Diffusion(GRID, 0.2),
        spectral.KortewegDeVries(GRID, viscosity=0.01),
    ):
        form = rom.pointwise_rhs(pde)
        got = jax.vmap(lambda xi: form(f, jnp.atleast_1d(xi), None), out_axes=1)(jnp.asarray(x))
        np.testing.assert_allclose(got, pde.rhs(0.0, jnp.asarray(u)), atol=1e-11)
    with pytest.raises(ValueError, match="pointwise"):
        rom.pointwise_rhs(spectral.KuramotoSivashinsky(GRID))
    # 2D Burgers (two velocity channels, (u·∇)u) through the same interface
    g2 = jaxpde.PeriodicGrid(16, ndim=2)
    f2 = lambda y: jnp.stack([jnp.sin(y[0]) * jnp.cos(y[1]), 0.5 * jnp.cos(y[0] + y[1])])  # noqa: E731
    pts = jnp.asarray(g2.coordinates().reshape(2, -1).T)
    u2 = jax.vmap(f2)(pts).T.reshape(2, 16, 16)
    pde = spectral.Burgers(g2, 0.05, dealias=1.0)
    got = jax.vmap(lambda xi: pde.pointwise_rhs(f2, xi), out_axes=1)(pts).reshape(2, 16, 16)
    np.testing.assert_allclose(got, pde.rhs(0.0, u2), atol=1e-11)


def test_sparse_reconstruction_sees_only_the_observed_points():
    model = _tiny_rom()
    obs = np.array([[1, 5, 9, 20], [0, 3, 4, 31]])
    b = _batch(model, observed=obs)
    changed = dict(b)
    mask = np.ones(GRID.shape, bool)
    mask[obs[0]] = False
    changed["trajectories"] = b["trajectories"].at[0, :, :, mask].add(5.0)
    np.testing.assert_allclose(
        rom.reconstruction_loss(model, b, GRID), rom.reconstruction_loss(model, changed, GRID), rtol=1e-14
    )
    full = rom.reconstruction_loss(model, _batch(model), GRID)
    assert abs(float(full - rom.reconstruction_loss(model, b, GRID))) > 1e-6


def test_encode_recovers_a_field_from_sparse_irregular_points():
    model = _tiny_rom()
    alpha = jnp.array([0.4, -0.2, 0.3])
    pts = jax.random.uniform(jax.random.key(3), (12, 1), minval=0.0, maxval=2 * np.pi)  # off the grid
    vals = model.decode(pts, alpha)
    got = jax.jit(lambda v: rom.encode(model, v, pts, num_steps=800, learning_rate=2e-2))(vals)
    field, ref = model.decode_grid(GRID, got), model.decode_grid(GRID, alpha)
    start = model.decode_grid(GRID, jnp.zeros(3))
    assert float(jnp.linalg.norm(start - ref) / jnp.linalg.norm(ref)) > 0.05  # the zero latent is far off
    assert float(jnp.linalg.norm(field - ref) / jnp.linalg.norm(ref)) < 5e-3


def test_projection_errors_find_the_codes_of_decoded_frames_that_forecasts_miss():
    """Frames decoded from a smooth path of codes: the decoder's best fit recovers them,
    while the untrained dynamics' forecast from the first frame drifts away."""
    model = _tiny_rom()
    s = jnp.linspace(0.0, 1.0, 6)[:, None]
    paths = jnp.stack([jnp.array([0.4, -0.2, 0.3]) + s * jnp.array([0.3, 0.2, -0.4]), 0.5 - 0.6 * s * jnp.ones(3)])
    trajs = jax.vmap(jax.vmap(lambda a: model.decode_grid(GRID, a)))(paths)  # (2, 6, 1, 32)
    best = rom.projection_errors(model, trajs, GRID, encode_steps=800, refine_steps=100, encode_learning_rate=2e-2)
    fc, _ = rom.forecast_errors(model, trajs, jnp.array([[0.08], [0.12]]), GRID, 0.2, encode_steps=800)
    assert best.shape == fc.shape == (2, 6)
    assert float(best.max()) < 1e-2
    assert float(fc[:, -1].min()) > 10 * float(best.max())


def test_latent_integration_fixed_step_matches_adaptive():
    model = eqx.tree_at(lambda m: m.latents, _tiny_rom(), None)
    a0, times = jnp.array([0.2, -0.1, 0.4]), jnp.linspace(0.0, 1.0, 11)
    fixed = model.integrate(a0, times, jnp.array([0.1]), dt0=0.01)
    adaptive = model.integrate(a0, times, jnp.array([0.1]), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(fixed, adaptive, atol=1e-6)
    np.testing.assert_allclose(fixed[0], a0)


def test_solver_projected_forecast_on_a_linear_decoder_is_the_galerkin_rom():
    """A linear decoder whose span holds an exact diffusion solution: integrating the
    solver's projected velocity in place of the (untrained) learned dynamics reproduces
    the solution to the time-stepping error; the learned dynamics do not."""
    nu = 0.2
    x = GRID.axis_coordinates(0)
    times = np.arange(21) * 0.1
    exact = np.stack([(np.sin(x) * np.exp(-nu * t) + 0.5 * np.cos(2 * x) * np.exp(-4 * nu * t))[None] for t in times])
    trajs = jnp.asarray(exact[None])  # (1, 21, 1, 32)
    model = rom.ReducedOrderModel(LinearDecoder(), rom.LatentDynamics(5, width=8, depth=2, key=KEY))
    pde = spectral.Diffusion(GRID, nu)
    kw = dict(encode_steps=3000, encode_learning_rate=1e-2)
    proj, pred = rom.forecast_errors(model, trajs, jnp.zeros((1, 0)), GRID, 0.1, physics=pde, **kw)
    plain, _ = rom.forecast_errors(model, trajs, jnp.zeros((1, 0)), GRID, 0.1, **kw)
    assert pred.shape == (1, 21, 1, 32)
    assert float(proj[0, 0]) < 1e-8, proj[0, 0]  # the encoder fits a field in the span exactly
    assert float(proj.max()) < 2e-5, proj  # Bosh3's error at the frame interval (measured 5.4e-6)
    assert float(plain[0, -1]) > 0.1, plain[0, -1]
    # the same through a parameter map beta -> PDE
    by_beta, _ = rom.forecast_errors(
        model, trajs, jnp.asarray([[nu]]), GRID, 0.1, physics=lambda b: spectral.Diffusion(GRID, b[0]), **kw
    )
    np.testing.assert_allclose(by_beta, proj, rtol=1e-6, atol=1e-9)


def test_pod_galerkin_is_exact_for_diffusion_in_the_span_of_its_modes():
    """Snapshots of an exact diffusion solution spanned by 3 Fourier modes: rank-3 POD
    captures them and the Galerkin ROM on the spectral rhs reproduces the solution."""
    nu = 0.1
    x = GRID.axis_coordinates(0)
    times = np.linspace(0.0, 2.0, 21)

    def exact(t):
        return (
            np.sin(x) * np.exp(-nu * t)
            + 0.5 * np.cos(2 * x) * np.exp(-4 * nu * t)
            + 0.2 * np.sin(3 * x) * np.exp(-9 * nu * t)
        )[None]

    snaps = np.stack([exact(t) for t in times])
    model = rom.pod(snaps, 3)
    pde = spectral.Diffusion(GRID, nu)
    a = model.integrate(model.project(jnp.asarray(snaps[0])), times, pde, rtol=1e-10, atol=1e-12)
    pred = jax.vmap(model.reconstruct)(a)
    np.testing.assert_allclose(pred, snaps, atol=1e-8)
    assert float(model.singular_values[-1]) > 1e-3
    with pytest.raises(ValueError, match="rank"):
        rom.pod(snaps, 100)


def test_snapshot_batches_are_a_function_of_the_step_with_fixed_sensors():
    trajs = np.random.default_rng(0).normal(size=(6, 4, 1, 32))
    b = rom.SnapshotBatches(
        trajs, np.arange(6.0), 2, seed=3, warmup_steps=5, coupling=0.1, teacher_forcing_steps=10, observed_fraction=0.25
    )
    for k, v in b(7).items():
        np.testing.assert_array_equal(v, b(7)[k])
    assert b(0)["coupling"][0] == 0.0 and b(5)["coupling"][0] == 0.1
    np.testing.assert_allclose(
        [b(0)["teacher_forcing"][0], b(5)["teacher_forcing"][0], b(20)["teacher_forcing"][0]], [1.0, 0.5, 0.0]
    )
    seen = {}
    for step in range(9):
        batch = b(step)
        for i, o in zip(batch["index"], batch["observed"]):
            assert len(o) == 8
            np.testing.assert_array_equal(seen.setdefault(int(i), o), o)  # fixed sensors per trajectory
    epoch = np.concatenate([b(s)["index"] for s in range(3)])
    assert sorted(epoch.tolist()) == list(range(6))
    with pytest.raises(ValueError, match="batch_size"):
        rom.SnapshotBatches(trajs, np.zeros(6), 7)


def test_a_trained_rom_saves_and_restores_through_the_checkpoint_machinery(tmp_path):
    import optax

    from jaxpde import train

    model = _tiny_rom(trajectories=4)
    s, t, _ = model.latents.shape
    x = GRID.axis_coordinates(0)
    trajs = np.stack([[np.sin(x + 0.3 * i + 0.1 * n)[None] for n in range(t)] for i in range(s)])
    data = rom.SnapshotBatches(trajs, np.linspace(0.05, 0.15, s), 2, seed=1, warmup_steps=1)
    loss = lambda m, b: rom.rom_loss(m, b, method="phirom", grid=GRID, physics=_physics, fraction=0.5)  # noqa: E731
    opt = optax.adamw(1e-3)
    res = train.fit(
        model, opt, loss, data, num_steps=3, key=jax.random.key(1), run_dir=tmp_path, checkpoint_every=3, progress=False
    )
    fresh = _tiny_rom(trajectories=4, key=jax.random.key(9))
    ckpt = train.Checkpointer(tmp_path / "checkpoints", every=3)
    restored, _, _, meta = ckpt.restore(fresh, opt.init(eqx.filter(fresh, eqx.is_inexact_array)), jax.random.key(1))
    ckpt.close()
    assert meta["step"] == 3
    for a, b in zip(jax.tree.leaves(restored), jax.tree.leaves(res.model)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert float(jnp.max(jnp.abs(restored.latents - model.latents))) > 0  # the memory was trained and saved
