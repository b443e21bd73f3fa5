"""jaxpde.design: optimisers, constraints, regularisers, uncertainty, memory, and the
worked problems of ``jaxpde design`` at small size."""

import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import yaml
from numpy.testing import assert_allclose

import jaxpde as jp
from jaxpde import design as D
from jaxpde import spectral
from jaxpde.cli import main
from jaxpde.train import CheckpointError

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


# ---------------------------------------------------------------- optimisers


def test_minimise_projects_onto_the_box_and_finds_the_constrained_optimum():
    target = jnp.array([2.0, -3.0, 0.5])
    res = D.minimise(
        lambda x: jnp.sum((x - target) ** 2),
        jnp.zeros(3),
        optax.adam(0.1),
        num_steps=300,
        bounds=D.Box(-1.0, 1.0),
        progress=False,
    )
    assert_allclose(res.design, [1.0, -1.0, 0.5], atol=1e-3)
    assert len(res.history) == 300 and res.history[0]["step"] == 0
    assert_allclose(res.history[0]["objective"], float(jnp.sum(target**2)))
    assert res.history[-1]["grad_norm"] < res.history[0]["grad_norm"]
    res = D.minimise(
        lambda x: jnp.sum((x - target) ** 2), jnp.zeros(3), optax.lbfgs(), num_steps=50, gtol=1e-8, progress=False
    )
    assert res.converged and len(res.history) < 50
    assert_allclose(res.design, target, atol=1e-6)


@pytest.mark.parametrize("solver", ["levenberg_marquardt", "gauss_newton", "dogleg", "bfgs"])
def test_least_squares_solves_rosenbrock_with_every_solver(solver):
    def residuals(p):
        return jnp.stack([10 * (p["b"] - p["a"] ** 2), 1 - p["a"]])

    res = D.least_squares(
        residuals, {"a": jnp.asarray(-1.2), "b": jnp.asarray(1.0)}, solver, max_steps=200, progress=False
    )
    assert res.converged
    assert_allclose([res.design["a"], res.design["b"]], [1.0, 1.0], atol=1e-5)
    assert res.history[-1]["objective"] < 1e-10 < res.history[0]["objective"]


def test_least_squares_respects_bounds_through_its_reparameterisation():
    res = D.least_squares(
        lambda x: x - jnp.array([2.0, -0.5]),
        jnp.array([0.0, 0.0]),
        max_steps=100,
        bounds=D.Box(jnp.array([-1.0, -1.0]), jnp.array([1.0, 1.0])),
        progress=False,
    )
    assert res.design[0] <= 1.0 and res.design[0] > 0.99
    assert_allclose(res.design[1], -0.5, atol=1e-6)


def test_bad_arguments_fail_clearly():
    with pytest.raises(TypeError, match="pytree of floating-point"):
        D.minimise(lambda x: x, {"n": 3}, optax.adam(0.1), num_steps=1)
    with pytest.raises(ValueError, match="unknown solver"):
        D.least_squares(lambda x: x, jnp.zeros(2), "newton_raphson")
    with pytest.raises(ValueError, match="scalar"):
        D.minimise(lambda x: x, jnp.zeros(2), optax.adam(0.1), num_steps=1, progress=False)
    with pytest.raises(ValueError, match="lower or an upper"):
        D.Box()
    with pytest.raises(TypeError, match="regularisers"):
        D.minimise(lambda x: jnp.sum(x), jnp.zeros(2), optax.adam(0.1), num_steps=1, regularisers=[jnp.sum])
    with pytest.raises(FloatingPointError, match="non-finite at iteration"):
        D.minimise(lambda x: jnp.sum(jnp.log(x)), jnp.ones(2), optax.sgd(2.0), num_steps=5, progress=False)


def test_minimise_resumes_to_the_uninterrupted_iterates(tmp_path):
    target = jnp.linspace(-1, 1, 5)

    def f(x):
        return jnp.sum((x - target) ** 2 * (1 + x**2))

    full = D.minimise(
        f, jnp.zeros(5), optax.adam(0.05), num_steps=12, run_dir=tmp_path / "a", checkpoint_every=4, progress=False
    )
    part = D.minimise(
        f, jnp.zeros(5), optax.adam(0.05), num_steps=12, run_dir=tmp_path / "b", checkpoint_every=4, progress=False
    )
    # simulate a run killed after step 8: drop the last checkpoint and the log tail
    import shutil

    shutil.rmtree(tmp_path / "b" / "checkpoints" / "12")
    res = D.minimise(
        f,
        jnp.zeros(5),
        optax.adam(0.05),
        num_steps=12,
        run_dir=tmp_path / "b",
        checkpoint_every=4,
        resume=True,
        progress=False,
    )
    assert_allclose(res.design, full.design, rtol=0, atol=0)
    assert [r["objective"] for r in res.history] == [r["objective"] for r in full.history]
    assert len((tmp_path / "b" / "history.jsonl").read_text().splitlines()) == 12
    del part
    more = D.minimise(
        f,
        jnp.zeros(5),
        optax.adam(0.05),
        num_steps=16,
        run_dir=tmp_path / "b",
        checkpoint_every=4,
        resume=True,
        progress=False,
    )  # a finished run continues with a larger budget
    assert len(more.history) == 16 and more.history[-1]["objective"] < full.history[-1]["objective"]
    with pytest.raises(CheckpointError, match="already has"):
        D.minimise(
            f, jnp.zeros(5), optax.adam(0.05), num_steps=12, run_dir=tmp_path / "a", checkpoint_every=4, progress=False
        )


# ------------------------------------------------------------ regularisers


def test_regularisers_match_their_continuous_values():
    grid = jp.PeriodicGrid(256, 2 * np.pi)
    x = jnp.asarray(grid.coordinates()[0])
    u = jnp.sin(3 * x)[None]
    # mean((u')^2) of sin(3x) is 9/2 (forward differences: error O(h^2))
    assert_allclose(D.Smoothness(2.0, grid=grid)(u), 2.0 * 4.5, rtol=2e-3)
    assert_allclose(D.Tikhonov(3.0)(u), 3.0 * 0.5, rtol=1e-12)
    # total variation of a unit step on a closed curve is 2 (up and down), per unit of mean
    step = (jnp.abs(x - np.pi) < 1.0).astype(x.dtype)[None]
    tv = D.TotalVariation(1.0, grid=grid, epsilon=1e-9)(step)
    assert_allclose(tv, 2.0 / grid.spacing[0] / 256, rtol=1e-6)
    for reg in (D.Smoothness(0.7, grid=grid), D.TotalVariation(0.7, grid=grid), D.Tikhonov(0.7)):
        assert_allclose(jnp.sum(reg.residuals(u) ** 2), reg(u), rtol=1e-12)
        for mode in ("reverse", "forward"):
            chk = D.check_gradient(reg, u + 0.1 * jnp.cos(x), key=jax.random.PRNGKey(1), mode=mode)
            assert chk["relative_error"] < 1e-6


def test_smoothness_along_time_of_a_control():
    f = jnp.arange(4.0)[:, None, None] * jnp.ones((4, 1, 3))
    assert_allclose(D.Smoothness(1.0, axes=0)(f), 1.0)  # unit jumps, non-periodic
    # non-periodic total variation in 2D: a unit step along x only, on a 4 x 5 cell grid
    grid = jp.CellGrid((4, 5), 0.0, 1.0)
    u = jnp.zeros((1, 4, 5)).at[:, 2:].set(1.0)
    tv = D.TotalVariation(1.0, grid=grid, epsilon=1e-12)(u)
    assert_allclose(tv, 5 / grid.spacing[0] / 20, rtol=1e-9)  # 5 unit jumps of size 1/h, mean over 20 cells


# ------------------------------------------------------- analysis helpers


def test_laplace_covariance_is_exact_for_a_linear_model():
    a = jax.random.normal(jax.random.PRNGKey(0), (20, 3))
    x_true = jnp.array([1.0, -2.0, 0.5])
    d = a @ x_true
    post = D.laplace(lambda x: a @ x - d, x_true, noise_std=0.1)
    assert_allclose(post.covariance, 0.01 * jnp.linalg.inv(a.T @ a), rtol=1e-10)
    samples = post.sample(jax.random.PRNGKey(1), 4000)
    assert_allclose(jnp.std(samples, axis=0), post.std, rtol=0.05)


def test_piecewise_constant_rollout_equals_per_step_controls_and_bounds_memory():
    grid = jp.PeriodicGrid(64)
    x = jnp.asarray(grid.coordinates()[0])
    f = 0.3 * jnp.sin(x + jnp.arange(4.0)[:, None])[:, None]
    stepper = spectral.ETDRK(spectral.Burgers(grid, viscosity=0.05), 0.01)
    u0 = jnp.sin(x)[None]

    def a(f):
        return jnp.sum(D.piecewise_constant_rollout(stepper, u0, f, 40) ** 2)

    def b(f):
        return jnp.sum(jp.rollout_final(stepper, u0, 40, controls=D.piecewise_constant(f, 40), checkpoint=True) ** 2)

    def c(f):
        return jnp.sum(jp.rollout_final(stepper, u0, 40, controls=D.piecewise_constant(f, 40)) ** 2)

    assert_allclose(a(f), c(f), rtol=1e-12)
    assert_allclose(jax.grad(a)(f), jax.grad(c)(f), rtol=1e-10, atol=1e-12)
    assert_allclose(jax.grad(b)(f), jax.grad(c)(f), rtol=1e-10, atol=1e-12)
    # gradient of a 10,000-step design rollout: memory bounded with checkpointing
    f = jnp.zeros((10, 1, 64))

    def long(ck):
        return jax.grad(lambda f: jnp.sum(D.piecewise_constant_rollout(stepper, u0, f, 10_000, checkpoint=ck) ** 2))

    full, ckpt = D.peak_memory(long(None), f), D.peak_memory(long(True), f)
    assert ckpt < full / 20, (ckpt, full)


def test_parameterisations():
    grid = jp.PeriodicGrid(32, 4.0)
    x = np.asarray(grid.coordinates()[0])
    u = D.fourier_series(jnp.array([[1.0, 0.0, 2.0]]), grid)
    assert_allclose(u[0], 1 + 2 * np.sin(2 * np.pi * x / 4.0), atol=1e-12)
    with pytest.raises(ValueError, match="2K"):
        D.fourier_series(jnp.ones((1, 2)), grid)
    chi = D.smooth_indicator(jnp.array([-1.0, 0.0, 1.0]), 0.01)
    assert_allclose(chi, [0.0, 0.5, 1.0], atol=1e-12)
    assert D.piecewise_constant(jnp.arange(3.0), 6).tolist() == [0, 0, 1, 1, 2, 2]


# --------------------------------------------------- worked problems (CLI)

SMALL = {
    "design_burgers_ic": {"num_points": 64, "final_time": 0.5, "dt": 0.02, "modes": 3, "sensors": 16},
    "design_kolmogorov": {"num_points": 16, "final_time": 1.0, "dt": 0.05, "snapshots": 2, "sensors": 24},
    "design_burgers_control": {"num_points": 32, "final_time": 0.2, "dt": 0.02, "intervals": 2},
    "design_shallow_water_bump": {"num_cells": 32, "final_time": 0.6, "snapshots": 2, "sensors": 12},
}
# flow design: no truth to recover; their own test checks that the drag / lift falls
FLOW = {
    "design_obstacle_drag": {"num_cells_y": 16, "settle_time": 1.0, "final_time": 0.2, "samples": 4},
    "design_cylinder_control": {"num_cells_y": 16, "settle_time": 2.0, "final_time": 0.3, "intervals": 6},
}


def _small_config(tmp_path, name):
    raw = yaml.safe_load((CONFIGS / f"{name}.yaml").read_text())
    raw["setup"].update({**SMALL, **FLOW}[name])
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=pytest.mark.slow) if n in ("design_shallow_water_bump", "design_kolmogorov") else n
        for n in sorted(SMALL)
    ],
)
def test_worked_problem_reaches_the_noise_floor_and_recovers_the_truth(tmp_path, name, capsys):
    cfg = _small_config(tmp_path, name)
    assert main(["design", str(cfg), "--out", str(tmp_path / "run"), "--no-progress"]) == 0
    assert "->" in capsys.readouterr().out
    res = json.loads((tmp_path / "run" / "design.json").read_text())
    assert (tmp_path / "run" / "design.png").stat().st_size > 10_000
    if res["noise_floor"] is None:  # control: no noise, two orders of magnitude at least
        assert res["reduction"] > 100 and res["misfit_reduction"] > 100
    else:
        assert res["reduction"] > 100 or res["final_objective"] < 1.5 * res["noise_floor"]
        assert res["final_objective"] < 1.5 * res["noise_floor"]
    if "max_z_score" in res:  # recovered within the stated noise: Laplace 3-sigma
        assert res["max_z_score"] < 3.0
    if "initial_condition_relative_l2_error" in res:
        assert res["initial_condition_relative_l2_error"] < 0.05


@pytest.mark.parametrize(
    "name",
    # the flow problems' gradients (~16-24 s) run with the slow tests
    [
        pytest.param(n, marks=pytest.mark.slow) if n in ("design_cylinder_control", "design_obstacle_drag") else n
        for n in sorted({**SMALL, **FLOW})
    ],
)
def test_worked_problem_gradients_match_finite_differences(name):
    # the library objects, built from Python as a notebook would
    raw = yaml.safe_load((CONFIGS / f"{name}.yaml").read_text())
    setup = {**raw["setup"], **{**SMALL, **FLOW}[name]}
    if name in FLOW:  # the gradient needs no settled flow: shorter runs
        setup.update(settle_time=0.5, final_time=0.1)
    optimiser = raw["optimiser"].get("name") or D.DEFAULT_OPTIMISERS[raw["problem"]]
    reverse = D.uses_reverse_mode(optimiser)
    prob = D.PROBLEMS[raw["problem"]](key=jax.random.PRNGKey(0), checkpoint=reverse, **setup)
    assert isinstance(prob, D.DesignProblem) and prob.default_optimiser == D.DEFAULT_OPTIMISERS[raw["problem"]]
    x0 = jax.tree.map(lambda v: v + 0.05, prob.design0)  # away from zeros (e.g. a flat initial condition)
    # check the derivatives the configured optimiser uses: reverse mode (optax) or the
    # forward-mode Jacobian-vector products of Levenberg-Marquardt
    mode = "reverse" if reverse else "forward"
    chk = D.check_gradient(
        lambda x: 0.5 * jnp.sum(prob.residuals(x) ** 2), x0, key=jax.random.PRNGKey(0), num_directions=2, mode=mode
    )
    assert chk["relative_error"] < 1e-6, chk


@pytest.mark.slow  # ~1 min each on 2 cores
@pytest.mark.parametrize("name", sorted(FLOW))
def test_flow_design_lowers_drag_at_fixed_area_and_control_damps_the_lift(tmp_path, name):
    cfg = _small_config(tmp_path, name)
    raw = yaml.safe_load(cfg.read_text())
    raw["optimiser"]["steps"] = 4
    cfg.write_text(yaml.safe_dump(raw))
    assert main(["design", str(cfg), "--out", str(tmp_path / "run"), "--no-progress"]) == 0
    res = json.loads((tmp_path / "run" / "design.json").read_text())
    assert res["final_objective"] < 0.99 * res["initial_objective"]
    if name == "design_obstacle_drag":
        assert res["final_drag"] < 0.99 * res["initial_drag"]
        np.testing.assert_allclose(res["area"], res["cylinder_area"], rtol=1e-12)
    else:
        assert res["controlled_lift_rms"] < 0.5 * res["uncontrolled_lift_rms"]


def test_design_resume_and_config_errors(tmp_path, capsys):
    cfg = _small_config(tmp_path, "design_burgers_control")
    raw = yaml.safe_load(cfg.read_text())
    raw["optimiser"]["steps"] = 6
    raw["checkpoint_every"] = 3
    cfg.write_text(yaml.safe_dump(raw))
    assert main(["design", str(cfg), "--out", str(tmp_path / "r"), "--no-progress"]) == 0
    assert main(["design", str(cfg), "--out", str(tmp_path / "r"), "--no-progress"]) == 2
    assert "already holds" in capsys.readouterr().err
    assert main(["design", str(cfg), "--out", str(tmp_path / "r"), "--no-progress", "--resume"]) == 0
