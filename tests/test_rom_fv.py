"""The parametric Burgers benchmark of the Φ-ROM paper through the library: a finite-volume
law with a parametric source and a held inflow cell, data with listed parameters, and the
Φ-ROM loss (and its gradient) through the finite-volume right-hand side."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxpde
from jaxpde import fv, rom, train
from jaxpde.integrate import ForwardEuler

DX = 100 / 255


def _paper_pde(grid, rate, amplitude=0.02):
    return fv.FiniteVolume(
        fv.Burgers(),
        grid,
        fv.PiecewiseConstant(),
        fv.make_riemann_solver("godunov"),
        bc=[("fixed", "outflow")],
        source=fv.SOURCES["exponential"](grid, amplitude, rate),
    )


def _upwind_residual(q, x, rate):
    """First-order upwind residual of u_t + (u²/2)_x = 0.02 exp(μx) for u > 0, first cell held."""
    padded = np.concatenate([q[:1], q])
    r = -(0.5 * padded[1:] ** 2 - 0.5 * padded[:-1] ** 2) / DX + 0.02 * np.exp(rate * x)
    r[0] = 0.0
    return r


def test_held_inflow_cell_and_exponential_source_give_the_upwind_scheme():
    grid = jaxpde.CellGrid(256, -DX / 2, 100 + DX / 2)
    x = np.linspace(0, 100, 256)
    np.testing.assert_allclose(grid.axis_centres(0), x, atol=1e-12)
    pde = _paper_pde(grid, 0.02)
    assert pde.periodic_axes == (False,)
    rng = np.random.default_rng(0)
    q = 1.0 + 3.0 * rng.random(256)
    np.testing.assert_allclose(
        np.asarray(pde.rhs(0.0, jnp.asarray(q)[None]))[0], _upwind_residual(q, x, 0.02), rtol=1e-13, atol=1e-12
    )
    # 200 forward-Euler frames from the inflow step: the first cell keeps 4.25, a shock runs right
    u0 = jnp.ones((1, 256)).at[0, 0].set(4.25)
    traj = np.asarray(jaxpde.rollout(ForwardEuler(pde, 0.07), u0, 199))[:, 0]
    ref = [np.asarray(u0[0])]
    for _ in range(199):
        ref.append(ref[-1] + 0.07 * _upwind_residual(ref[-1], x, 0.02))
    np.testing.assert_allclose(traj, np.stack(ref), rtol=1e-12, atol=1e-12)
    assert np.all(traj[:, 0] == 4.25) and 30 < x[np.argmax(np.diff(-traj[-1]))] < 50


def test_source_validation_and_registry():
    grid = jaxpde.CellGrid(8, 0.0, 1.0)
    with pytest.raises(ValueError, match="does not broadcast"):
        fv.FiniteVolume(fv.Burgers(), grid, source=jnp.ones(5))
    assert set(fv.SOURCES) >= {"exponential", "constant", "gaussian", "sine"}
    for name, fn in fv.SOURCES.items():
        assert fn(grid).shape == (8,), name
    np.testing.assert_allclose(np.asarray(fv.sine_source(grid, 2.0, 1.0)), 2 * np.sin(2 * np.pi * grid.axis_centres(0)))


def test_gradient_of_a_rollout_with_respect_to_the_source_rate():
    """The source is built from the traced parameter: d(final state)/dμ against FD."""
    grid = jaxpde.CellGrid(32, -DX / 2, 12.0)
    u0 = jnp.ones((1, 32)).at[0, 0].set(4.25)

    def final(rate):
        return jnp.sum(jaxpde.rollout(ForwardEuler(_paper_pde(grid, rate), 0.05), u0, 20)[-1] ** 2)

    g = jax.grad(final)(0.02)
    eps = 1e-6
    fd = (final(0.02 + eps) - final(0.02 - eps)) / (2 * eps)
    np.testing.assert_allclose(float(g), float(fd), rtol=1e-7)
    assert abs(float(g)) > 1e-3


def test_phi_rom_loss_gradient_through_a_finite_volume_rhs_with_a_parametric_source():
    """Reconstruction + dynamics (through the least-squares solve and the finite-volume rhs
    with the source built from each trajectory's μ) against FD. The dynamics term is the
    squared mismatch of the velocity pairs: ``physics_loss`` divides by a stop-gradient
    norm, whose value FD would see but the gradient deliberately does not."""
    grid = jaxpde.CellGrid(24, -DX / 2, 9.0)
    x = grid.axis_centres(0)
    trajs = np.stack([[1.0 + 0.5 * np.exp(-((x - 2 - 0.3 * n - i) ** 2))[None] for n in range(3)] for i in range(2)])
    batches = rom.SnapshotBatches(trajs, np.array([[0.015], [0.03]]), 2, warmup_steps=0)
    model = rom.initial_model(
        batches, grid, latent_size=3, key=jax.random.key(0), decoder_options={"width": 10, "depth": 2, "omega0": 3.0}
    )
    model = eqx.tree_at(lambda m: m.latents, model, 0.3 * jax.random.normal(jax.random.key(1), model.latents.shape))
    assert model.decoder.periodic == (False,)
    batch = {k: jnp.asarray(v) for k, v in batches(0).items()}
    physics = lambda beta: _paper_pde(grid, beta[0])  # noqa: E731

    def loss(m):
        psi, target = rom.velocity_pairs(m, batch, physics, grid, fraction=0.5)
        return rom.reconstruction_loss(m, batch, grid) + jnp.sum((psi - target) ** 2)

    loss = eqx.filter_jit(loss)
    g = eqx.filter_grad(loss)(model)
    eps = 1e-6
    for get in (
        lambda m: m.latents,
        lambda m: m.decoder.siren.layers[1].weight,
        lambda m: m.dynamics.mlp.layers[0].weight,
    ):
        leaf = get(model)
        d = jax.random.normal(jax.random.key(2), leaf.shape)
        shifted = lambda s: eqx.tree_at(get, model, leaf + s * d)  # noqa: E731
        fd = (loss(shifted(eps)) - loss(shifted(-eps))) / (2 * eps)
        np.testing.assert_allclose(float(jnp.sum(get(g) * d)), float(fd), rtol=2e-5)
        assert abs(float(fd)) > 1e-4


@pytest.mark.slow  # ~15 s on 2 cores; the gradient test below keeps a parametric source by default
def test_pointwise_form_of_a_finite_volume_law_with_a_parametric_source():
    """PINN-ROM's residual on an FV law: ``-(u²/2)_x + ν u_xx + S(x)`` from autodiff of a
    smooth field, exact at the cell centres; the source read between centres is linear;
    the PINN-ROM latent velocity differentiates with respect to the source rate (FD)."""
    grid = jaxpde.CellGrid(32, -0.5, 15.5)
    x = grid.axis_centres(0)
    field = lambda y: jnp.stack([2.0 + jnp.sin(0.4 * y[0])])  # noqa: E731
    u, ux, uxx = 2.0 + np.sin(0.4 * x), 0.4 * np.cos(0.4 * x), -0.16 * np.sin(0.4 * x)
    for law, nu in ((fv.Burgers(), 0.0), (fv.Burgers(viscosity=0.3), 0.3)):
        pde = fv.FiniteVolume(law, grid, bc=[("fixed", "outflow")], source=fv.SOURCES["exponential"](grid, 0.02, 0.1))
        r = jax.vmap(lambda xi: pde.pointwise_rhs(field, xi[None]))(jnp.asarray(x))
        np.testing.assert_allclose(r[:, 0], -u * ux + nu * uxx + 0.02 * np.exp(0.1 * x), atol=1e-12)
    # between centres: linear interpolation of the cell values; beyond the last centre: constant
    np.testing.assert_allclose(pde.cell_value(jnp.asarray(x), jnp.array([3.25])), [3.25], atol=1e-12)
    np.testing.assert_allclose(pde.cell_value(jnp.asarray(x), jnp.array([15.4])), [x[-1]], atol=1e-12)
    # through args, as the spectral equations take a forcing
    r = pde.pointwise_rhs(field, jnp.array([4.0]), jnp.full((1, 32), 0.7))
    np.testing.assert_allclose(r - pde.pointwise_rhs(field, jnp.array([4.0])), [0.7], atol=1e-12)

    decoder = rom.SineDecoder(1, 3, (grid.lower, grid.upper), width=12, depth=2, key=jax.random.key(0))
    alpha = jnp.array([0.3, -0.2, 0.5])

    def velocity(rate):
        pde = _paper_pde(grid, rate)
        return rom.autodiff_velocity(decoder, alpha, pde, grid)

    d = jax.jacfwd(velocity)(0.02)
    fd = (velocity(0.02 + 1e-6) - velocity(0.02 - 1e-6)) / 2e-6
    np.testing.assert_allclose(d, fd, rtol=1e-6, atol=1e-10)
    assert float(jnp.max(jnp.abs(d))) > 1e-3
    bed = fv.FiniteVolume(fv.ShallowWater(bathymetry=jnp.zeros(32)), grid, bc="periodic")
    with pytest.raises(ValueError, match="no pointwise form"):
        bed.pointwise_rhs(lambda y: jnp.stack([1.0 + 0 * y[0], 0 * y[0]]), jnp.array([1.0]))


def test_snapshot_batches_cover_every_snapshot_once_per_epoch():
    trajs = np.arange(3 * 4 * 5, dtype=float).reshape(3, 4, 1, 5)
    b = rom.SnapshotBatches(trajs, np.zeros((3, 0)), 5, snapshots=True, seed=3)
    assert b.steps_per_epoch == 2
    seen = []
    for step in range(2):
        batch = b(step)
        assert batch["trajectories"].shape == (5, 1, 1, 5)
        np.testing.assert_array_equal(batch["trajectories"][:, 0], trajs[batch["index"], batch["frame"]])
        seen += list(zip(batch["index"], batch["frame"]))
    assert len(set(seen)) == 10
    with pytest.raises(ValueError, match="exceeds the number of snapshots"):
        rom.SnapshotBatches(trajs, np.zeros((3, 0)), 13, snapshots=True)


def test_listed_parameters_make_one_sample_per_value(tmp_path):
    grid = jaxpde.CellGrid(16, -DX / 2, 6.0)
    u0 = jnp.ones((1, 16)).at[0, 0].set(4.25)
    values = [0.015, 0.02, 0.04]
    sampler = train.make_sampler(
        lambda p: ForwardEuler(_paper_pde(grid, p["rate"]), 0.05),
        lambda key: u0,
        num_steps=4,
        parameter_values={"rate": values},
    )
    assert sampler.takes_index
    path = train.generate_dataset(tmp_path / "d.h5", sampler, num_samples=3, key=jax.random.key(0), progress=False)
    ds = train.TrajectoryDataset(path)
    got = ds.read([0, 1, 2])
    np.testing.assert_allclose(np.asarray(got["parameters"]["rate"]), values)
    last = np.asarray(jaxpde.rollout(ForwardEuler(_paper_pde(grid, 0.04), 0.05), u0, 4))
    np.testing.assert_allclose(np.asarray(got["trajectories"][2]), last, rtol=1e-6)
    ds.close()
    with pytest.raises(ValueError, match="exceeds the 3 listed"):
        train.generate_dataset(tmp_path / "e.h5", sampler, num_samples=4, key=jax.random.key(0), progress=False)
    with pytest.raises(ValueError, match="one length"):
        train.make_sampler(lambda p: None, lambda k: u0, num_steps=1, parameter_values={"a": [1.0], "b": [1.0, 2.0]})


def test_staircase_exponential_schedule():

    opt = train.make_optimiser(
        "adamw", 1.0, schedule="exponential", decay_rate=0.5, decay_steps=10, staircase=True, final_learning_rate=0.2
    )
    params = jnp.zeros(())
    state = opt.init(params)
    rates = []
    for _ in range(40):
        upd, state = opt.update(jnp.ones(()), state, params)
        rates.append(-float(upd))
    rates = np.array(rates)
    np.testing.assert_allclose(rates[[0, 9, 10, 19, 20, 39]], [1, 1, 0.5, 0.5, 0.25, 0.2], rtol=1e-5)


def test_the_shipped_simulate_config_is_the_library_problem(tmp_path):
    """`jaxpde simulate configs/burgers_source1d.yaml` (fixed steps, source, held cell) writes
    the library's rollout."""
    from pathlib import Path

    from jaxpde.cli import main
    from jaxpde.io import load_trajectory

    cfg = Path(__file__).parent.parent / "configs" / "burgers_source1d.yaml"
    assert main(["simulate", str(cfg), "--out", str(tmp_path), "--no-progress"]) == 0
    frames, times, _ = load_trajectory(tmp_path / "burgers_source1d.h5")
    grid = jaxpde.CellGrid(256, -DX / 2, 100 + DX / 2)
    u0 = jnp.ones((1, 256)).at[0, 0].set(4.25)
    ref = jaxpde.rollout(ForwardEuler(_paper_pde(grid, 0.02), 0.07), u0, 199)
    np.testing.assert_allclose(frames, np.asarray(ref), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(times, np.arange(200) * 0.07, rtol=1e-12)
