"""Elliptic solvers: the cell-centred operator against its dense matrix, every solver
against dense solves (periodic, Neumann, Dirichlet, mixed sides, masks, variable
coefficients, shifts), second-order convergence, multigrid as solver and preconditioner,
and implicit gradients against finite differences (float64)."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxpde import linalg as la
from jaxpde.grids import CellGrid

jax.config.update("jax_enable_x64", True)

SIDES = [
    "neumann",
    "dirichlet",
    ["periodic", "neumann"],
    [("dirichlet", "neumann"), ("neumann", "dirichlet")],
    ["periodic", "periodic"],
]


def _dense(op):
    n = int(np.prod(op.shape))
    return np.asarray(jax.vmap(lambda e: op(e.reshape(op.shape)).ravel())(jnp.eye(n)).T)


def _reference(op, f):
    """Dense solve; on a singular operator the fluid-mean-free least-squares solution."""
    a, b = _dense(op), np.asarray(op.remove_mean(jnp.asarray(f))).ravel()
    p = np.linalg.lstsq(a, b, rcond=None)[0].reshape(op.shape)
    return np.asarray(op.remove_mean(jnp.asarray(p)))


def _problem(n=(8, 6), masked=False, variable=False, key=0):
    grid = CellGrid(n, (0.0, 0.0), (1.0, 0.75))
    rng = np.random.default_rng(key)
    mask = coeff = None
    if masked:
        x, y = np.meshgrid(*(grid.axis_centres(a) for a in range(2)), indexing="ij")
        mask = ((x - 0.45) ** 2 + (y - 0.4) ** 2 > 0.2**2).astype(float)
    if variable:
        coeff = tuple(
            jnp.asarray(1.0 + 0.5 * rng.random(tuple(m + (a == b) for b, m in enumerate(n)))) for a in range(2)
        )
    return grid, mask, coeff, rng.standard_normal(n)


@pytest.mark.parametrize("bc", SIDES, ids=str)
def test_operator_is_the_kronecker_sum_of_one_dimensional_matrices(bc):
    grid = CellGrid((6, 5), (0.0, 0.0), (1.2, 0.5))
    op = la.CellLaplacian(grid, bc, shift=0.3)
    (sx, sy) = op.sides
    want = (
        np.kron(la.matrix_1d(6, 0.2, sx), np.eye(5)) + np.kron(np.eye(6), la.matrix_1d(5, 0.1, sy)) - 0.3 * np.eye(30)
    )
    a = _dense(op)
    np.testing.assert_allclose(a, want, atol=1e-10)
    np.testing.assert_allclose(np.asarray(op.diagonal()).ravel(), np.diag(want), atol=1e-10)
    # symmetric, negative definite with a shift
    assert np.max(np.linalg.eigvalsh(a)) < 0


def test_masked_variable_coefficient_operator_is_symmetric_with_walls_at_solids():
    grid, mask, coeff, _ = _problem(masked=True, variable=True)
    op = la.CellLaplacian(grid, ["periodic", "neumann"], coefficient=coeff, mask=mask)
    a = _dense(op)
    np.testing.assert_allclose(a, a.T, atol=1e-12)
    np.testing.assert_allclose(np.asarray(op.diagonal()).ravel(), np.diag(a), atol=1e-12)
    ev = np.linalg.eigvalsh(a)
    assert np.sum(ev > -1e-9) == 1 and ev[-1] < 1e-9  # the fluid constants, nothing else
    fluid, solid = mask.ravel() > 0, mask.ravel() == 0
    assert np.all(a[np.ix_(fluid, solid)] == 0)  # no flux into solid cells
    np.testing.assert_allclose(a[np.ix_(solid, solid)], -np.eye(solid.sum()))


def _slow_unless(*default):
    """Parameter marks: the listed cases in the default suite, the rest with -m slow."""

    def marks(*case):
        return () if case in default else pytest.mark.slow

    return marks


_fast_cases = _slow_unless((str(SIDES[3]), 0.0), (str(SIDES[2]), 2.5))


@pytest.mark.parametrize(
    "bc,shift",
    [pytest.param(b, s, marks=_fast_cases(str(b), s)) for b in SIDES for s in (0.0, 2.5)],
    ids=[f"{b}-{s}" for b in SIDES for s in (0.0, 2.5)],
)
def test_fast_diagonalisation_is_the_dense_solve(bc, shift):
    grid, _, _, f = _problem()
    solver = la.FastDiagonalisation(grid, bc, shift=shift)
    p = solver(jnp.asarray(f))
    np.testing.assert_allclose(p, _reference(solver.operator, f), atol=1e-11)
    # jit and a 1D and a 3D box
    np.testing.assert_allclose(eqx.filter_jit(lambda s, f: s(f))(solver, jnp.asarray(f)), p, atol=1e-12)


def test_fast_diagonalisation_in_one_and_three_dimensions():
    for g, bc in (
        (CellGrid(9, 0.0, 2.0), "dirichlet"),
        (CellGrid((4, 6, 5), 0.0, 1.0), ["neumann", "periodic", "dirichlet"]),
    ):
        fd = la.FastDiagonalisation(g, bc, shift=0.0)
        rhs = np.random.default_rng(1).standard_normal(g.shape)
        np.testing.assert_allclose(fd(jnp.asarray(rhs)), _reference(fd.operator, rhs), atol=1e-11)


def test_fast_diagonalisation_converges_at_second_order():
    """``Δp = f`` with ``p = cos(πx) sin(πy/2)`` ... on [0,1]², Neumann in x (∂p/∂x = 0 at
    both ends), Dirichlet at y = 0 and Neumann at y = 1."""
    errors = []
    ns = (16, 32, 64)
    for n in ns:
        grid = CellGrid((n, n), 0.0, 1.0)
        x, y = np.meshgrid(grid.axis_centres(0), grid.axis_centres(1), indexing="ij")
        exact = np.cos(np.pi * x) * np.sin(np.pi * y / 2)
        f = -(np.pi**2 + np.pi**2 / 4) * exact
        solver = la.FastDiagonalisation(grid, ["neumann", ("dirichlet", "neumann")])
        errors.append(np.max(np.abs(np.asarray(solver(jnp.asarray(f))) - exact)))
    order = -np.polyfit(np.log(ns), np.log(errors), 1)[0]
    # measured: errors 2.72e-3, 6.82e-4, 1.71e-4; order 1.997
    assert abs(order - 2.0) < 0.05, (errors, order)
    assert errors[-1] < 2e-4, errors


_ITER_BC = ["neumann", [("neumann", "dirichlet"), "neumann"], ["periodic", "neumann"]]
_ITER = [(b, m, v) for b in _ITER_BC for m, v in ((False, False), (True, False), (True, True))]
_iter_cases = _slow_unless((str(_ITER_BC[2]), False, False))  # the masked variable case: ~19 s, with -m slow


@pytest.mark.parametrize(
    "bc,masked,variable",
    [pytest.param(b, m, v, marks=_iter_cases(str(b), m, v)) for b, m, v in _ITER],
    ids=[f"{b}-mask{m}-var{v}" for b, m, v in _ITER],
)
def test_iterative_solvers_match_the_dense_solve(bc, masked, variable):
    grid, mask, coeff, f = _problem(n=(16, 8), masked=masked, variable=variable)
    op = la.CellLaplacian(grid, bc, coefficient=coeff, mask=mask)
    want = _reference(op, f)
    solve = eqx.filter_jit(lambda s, f: s.solve(f))
    mg = la.Multigrid(op, rtol=1e-12, min_size=2)
    assert mg.num_levels == 3
    for solver in (
        la.Krylov(op, "cg", rtol=1e-12),
        la.Krylov(op, "bicgstab", rtol=1e-12),
        la.Krylov(op, "cg", rtol=1e-12, preconditioner=la.Jacobi(op)),
        la.Krylov(op, "cg", rtol=1e-12, preconditioner=mg.preconditioner()),
        mg,
    ):
        p, steps = solve(solver, jnp.asarray(f))
        np.testing.assert_allclose(p, want, atol=1e-9)
        assert int(steps) > 0


@pytest.mark.slow
def test_multigrid_preconditioning_cuts_cg_iterations():
    n = 64
    grid = CellGrid((n, n), 0.0, 1.0)
    x, y = np.meshgrid(grid.axis_centres(0), grid.axis_centres(1), indexing="ij")
    mask = ((x - 0.4) ** 2 + (y - 0.5) ** 2 > 0.1**2).astype(float)
    op = la.CellLaplacian(grid, [("neumann", "dirichlet"), "neumann"], mask=mask)
    f = jnp.asarray(np.sin(3 * x) * np.cos(2 * y) * mask)
    solve = eqx.filter_jit(lambda s, f: s.solve(f))
    mg = la.Multigrid(op, rtol=1e-8)
    p_cg, n_cg = solve(la.Krylov(op, rtol=1e-8), f)
    p_mg, n_mgcg = solve(la.Krylov(op, rtol=1e-8, preconditioner=mg.preconditioner()), f)
    p_v, n_v = solve(mg, f)
    assert mg.num_levels == 5
    assert int(n_mgcg) * 10 < int(n_cg), (n_mgcg, n_cg)
    assert int(n_v) < 40
    for p in (p_mg, p_v):
        np.testing.assert_allclose(p, p_cg, atol=1e-7 * float(jnp.max(jnp.abs(p_cg))))


@pytest.mark.parametrize(
    "kind", [pytest.param("fast", marks=pytest.mark.slow), "cg", pytest.param("multigrid", marks=pytest.mark.slow)]
)
def test_gradients_of_a_solve_match_finite_differences(kind):
    """d/d(rhs), d/d(shift) and (iterative solvers) d/d(face coefficients) of a scalar of
    the solution, by the implicit adjoint, against central differences."""
    grid, mask, coeff, f = _problem(n=(8, 8), masked=kind != "fast", variable=kind != "fast")
    bc = [("neumann", "dirichlet"), "neumann"]
    weights = jnp.asarray(np.random.default_rng(5).standard_normal(grid.shape))

    def objective(rhs, shift, c):
        op = la.CellLaplacian(grid, bc, coefficient=c, mask=mask, shift=shift)
        if kind == "fast":
            solver = la.FastDiagonalisation(grid, bc, shift=shift)
        elif kind == "cg":
            solver = la.Krylov(op, rtol=1e-13)
        else:
            solver = la.Multigrid(op, rtol=1e-13, min_size=2)
        return jnp.sum(weights * solver(rhs) ** 2)

    args = (jnp.asarray(f), jnp.asarray(0.7), coeff)
    grads = eqx.filter_jit(jax.grad(objective, argnums=(0, 1, 2)))(*args)
    rng = np.random.default_rng(6)
    for i in range(3 if kind != "fast" else 2):
        d = jax.tree.map(lambda x: jnp.asarray(rng.standard_normal(np.shape(x))), args[i])
        eps = 1e-6

        def at(s, i=i, d=d):
            moved = list(args)
            moved[i] = jax.tree.map(lambda x, dx: x + s * dx, args[i], d)
            return objective(*moved)

        fd = (at(eps) - at(-eps)) / (2 * eps)
        got = sum(jnp.sum(g * dx) for g, dx in zip(jax.tree.leaves(grads[i]), jax.tree.leaves(d)))
        np.testing.assert_allclose(float(got), float(fd), rtol=1e-5)
        assert abs(float(fd)) > 1e-6


def test_bad_input_is_refused():
    grid = CellGrid((8, 8), 0.0, 1.0)
    with pytest.raises(ValueError, match="both sides"):
        la.CellLaplacian(grid, [("periodic", "neumann"), "neumann"])
    with pytest.raises(ValueError, match="two of"):
        la.CellLaplacian(grid, "wall")
    with pytest.raises(ValueError, match="per axis"):
        la.CellLaplacian(grid, ["neumann"])
    with pytest.raises(ValueError, match="face shape"):
        la.CellLaplacian(grid, coefficient=(jnp.ones((8, 8)), jnp.ones((8, 9))))
    with pytest.raises(ValueError, match="mask"):
        la.CellLaplacian(grid, mask=jnp.ones((8, 9)))
    with pytest.raises(TypeError, match="CellGrid"):
        la.FastDiagonalisation(object())
    op = la.CellLaplacian(grid)
    with pytest.raises(ValueError, match="vmap"):
        la.Krylov(op)(jnp.ones((1, 8, 8)))
    with pytest.raises(ValueError, match="method"):
        la.Krylov(op, "gmres")
    with pytest.raises(ValueError, match="smoothing"):
        la.Multigrid(op, smoothing=0)
    # a solve that cannot converge in the allowed steps says so
    with pytest.raises(Exception, match="did not converge"):
        la.Krylov(op, rtol=1e-14, max_steps=2)(jnp.asarray(np.random.default_rng(0).standard_normal((8, 8))))
