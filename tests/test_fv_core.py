"""Finite-volume building blocks: grid, laws, reconstructions, fluxes, boundary conditions,
contract of the explicit steppers."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxpde as jp
from jaxpde import fv
from jaxpde.integrate import RK4, SSPRK2, SSPRK3, ForwardEuler


def test_cell_grid():
    g = jp.CellGrid((4, 2), lower=(0.0, -1.0), upper=(2.0, 1.0))
    assert g.shape == (4, 2) and g.ndim == 2 and g.spacing == (0.5, 1.0)
    np.testing.assert_allclose(g.axis_centres(0), [0.25, 0.75, 1.25, 1.75])
    np.testing.assert_allclose(g.axis_faces(1), [-1.0, 0.0, 1.0])
    assert g.coordinates().shape == (2, 4, 2)
    np.testing.assert_allclose(g.integrate(jnp.ones((3, 4, 2))), 4.0, rtol=1e-14)
    assert hash(g) == hash(jp.CellGrid((4, 2), (0.0, -1.0), (2.0, 1.0)))
    assert jp.CellGrid(8, upper=(1.0, 2.0)).shape == (8, 8)
    # cell averages of x^4 are exact with 5 Gauss points
    g1 = jp.CellGrid(3)
    a = g1.cell_average(lambda x: x**4)
    f = g1.axis_faces(0)
    np.testing.assert_allclose(a, (f[1:] ** 5 - f[:-1] ** 5) / 5 / g1.spacing[0], rtol=1e-13)
    with pytest.raises(ValueError, match="upper > lower"):
        jp.CellGrid(4, 1.0, 0.0)
    with pytest.raises(ValueError, match="positive"):
        jp.CellGrid(0)
    with pytest.raises(ValueError, match="entries"):
        jp.CellGrid((4, 4), lower=(0, 0, 0))


LAWS = {
    "advection": (lambda: fv.LinearAdvection((1.0, -0.5), ndim=2), [[0.3], [1.2]]),
    "burgers": (lambda: fv.Burgers(ndim=1), [[0.7], [-0.4]]),
    "shallow_water": (lambda: fv.ShallowWater(9.81, ndim=2), [[1.5, 0.3, -0.2], [0.7, -0.4, 0.1]]),
    "euler1d": (lambda: fv.Euler(1.4), [[1.0, 0.75, 1.0], [0.125, 0.0, 0.1]]),
    "euler2d": (lambda: fv.Euler(1.4, ndim=2), [[1.0, 0.2, -0.3, 1.0], [0.5, -0.1, 0.4, 0.4]]),
}


def _states(law, prims):
    w = jnp.asarray(prims, dtype=jnp.float64).T  # (C, 2)
    return law.to_conserved(w)


@pytest.mark.parametrize("name", list(LAWS))
def test_law_consistency(name):
    make, prims = LAWS[name]
    law = make()
    u = _states(law, prims)
    np.testing.assert_allclose(law.to_conserved(law.to_primitive(u)), u, rtol=1e-14)
    for axis in range(law.ndim):
        # the wave speeds are the eigenvalues of the flux Jacobian
        for j in range(u.shape[1]):
            jac = jax.jacfwd(lambda v: law.flux(v[:, None], axis)[:, 0])(u[:, j])
            eig = np.sort(np.linalg.eigvals(np.asarray(jac)).real)
            lo, hi = law.wave_speeds(u[:, j : j + 1], axis)
            np.testing.assert_allclose([eig[0], eig[-1]], [float(lo[0]), float(hi[0])], rtol=1e-10, atol=1e-12)
        # every numerical flux is consistent: F(u, u) = f(u)
        solvers = [fv.Rusanov(), fv.HLL()]
        if isinstance(law, (fv.Euler, fv.ShallowWater)):
            solvers.append(fv.HLLC())
        if isinstance(law, fv.Burgers):
            solvers.append(fv.Godunov())
        for rs in solvers:
            np.testing.assert_allclose(rs(law, u, u, axis), law.flux(u, axis), rtol=1e-13, atol=1e-14)


def test_godunov_burgers_matches_exact_riemann_flux():
    law = fv.Burgers()
    cases = [
        (1.0, 2.0, 0.5),
        (-2.0, -1.0, 0.5),
        (-1.0, 2.0, 0.0),
        (2.0, -1.0, 2.0),
        (1.0, -2.0, 2.0),
        (0.5, 0.2, 0.125),
    ]
    for ul, ur, expect in cases:
        f = fv.Godunov()(law, jnp.array([[ul]]), jnp.array([[ur]]), 0)
        np.testing.assert_allclose(f[0, 0], expect, rtol=1e-14)


def test_hllc_resolves_a_stationary_contact_exactly():
    law = fv.Euler(1.4)
    u = law.to_conserved(jnp.array([[1.0, 0.1], [0.0, 0.0], [1.0, 1.0]]))
    zero_mass = fv.HLLC()(law, u[:, :1], u[:, 1:], 0)
    np.testing.assert_allclose(zero_mass[:, 0], [0.0, 1.0, 0.0], atol=1e-15)
    assert abs(float(fv.HLL()(law, u[:, :1], u[:, 1:], 0)[0, 0])) > 1e-2  # HLL smears it


@pytest.mark.parametrize(
    "rec",
    [fv.PiecewiseConstant(), fv.MUSCL("minmod"), fv.MUSCL("mc"), fv.MUSCL("van_leer"), fv.WENO5("js"), fv.WENO5("z")],
)
def test_reconstructions(rec):
    g = rec.num_ghost
    n = 20
    x = (jnp.arange(-g, n + g) + 0.5) / n
    # polynomials are reproduced from their cell averages: constants (first order), lines
    # (MUSCL on monotone data), quadratics (WENO5: every candidate stencil is exact for them,
    # so any convex combination is)
    degree = {1: 0, 2: 1, 5: 2}[rec.order]
    coef = jnp.array([0.3, -1.0, 0.5, 2.0, -0.7])[: degree + 1]
    h = 1 / n
    prim = lambda y: sum(c * y ** (k + 1) / (k + 1) for k, c in enumerate(coef))  # noqa: E731
    avg = (prim(x + h / 2) - prim(x - h / 2)) / h
    left, right = rec(avg[None], 1)
    faces = jnp.arange(n + 1) / n
    exact = sum(c * faces**k for k, c in enumerate(coef))
    if rec.order == 2:  # limiters are exact on monotone linear data
        np.testing.assert_allclose(left[0], exact, atol=1e-12)
    else:
        np.testing.assert_allclose(left[0], exact, atol=1e-9)
        np.testing.assert_allclose(right[0], exact, atol=1e-9)
    # no new extrema at a jump
    step = jnp.where(jnp.arange(n + 2 * g) < n // 2 + g, 1.0, 0.0)[None]
    lj, rj = rec(step, 1)
    assert float(lj.max()) <= 1 + 1e-12 and float(lj.min()) >= -1e-12
    # finite gradients at zero slopes (constant state) and at a kink
    for v in (jnp.ones((1, n + 2 * g)), step):
        grad = jax.grad(lambda a: jnp.sum(jnp.sin(rec(a, 1)[0]) + rec(a, 1)[1] ** 2))(v)
        assert bool(jnp.all(jnp.isfinite(grad)))


def _textbook_weno5(v, variant, eps=1e-6):
    """WENO5 left/right faces of a 1D row `v` straight from Jiang & Shu / Borges et al.,
    divisions and all: the reference the library's closed-form derivative is checked against."""
    n = v.shape[0] - 6

    def face(a, b, c, d, e):
        q = [(2 * a - 7 * b + 11 * c) / 6, (-b + 5 * c + 2 * d) / 6, (2 * c + 5 * d - e) / 6]
        beta = [
            13 / 12 * (a - 2 * b + c) ** 2 + 1 / 4 * (a - 4 * b + 3 * c) ** 2,
            13 / 12 * (b - 2 * c + d) ** 2 + 1 / 4 * (b - d) ** 2,
            13 / 12 * (c - 2 * d + e) ** 2 + 1 / 4 * (3 * c - 4 * d + e) ** 2,
        ]
        if variant == "js":
            alpha = [dk / (eps + bk) ** 2 for dk, bk in zip((0.1, 0.6, 0.3), beta)]
        else:
            tau = jnp.abs(beta[0] - beta[2])
            alpha = [dk * (1 + (tau / (bk + eps)) ** 2) for dk, bk in zip((0.1, 0.6, 0.3), beta)]
        return sum(ak * qk for ak, qk in zip(alpha, q)) / sum(alpha)

    s = [v[k : k + n + 1] for k in range(6)]
    return face(s[0], s[1], s[2], s[3], s[4]), face(s[5], s[4], s[3], s[2], s[1])


@pytest.mark.parametrize("variant", ["z", "js"])
def test_weno5_closed_form_derivative_matches_autodiff_of_the_formula(variant):
    """WENO5's derivative is written by hand (five sensitivities per face); forward mode,
    reverse mode and a second derivative must equal autodiff of the textbook formula."""
    rec = fv.WENO5(variant)
    x = jnp.linspace(0, 1, 46)
    rough = jnp.sin(7 * x) + jnp.where(x > 0.5, 1.0, 0.0) + 0.1 * jax.random.normal(jax.random.PRNGKey(0), x.shape)
    flat_then_jump = jnp.where(x > 0.3, 0.125, 1.0)
    ours = lambda a: jnp.concatenate(rec(a[None], 1)).ravel()  # noqa: E731
    ref = lambda a: jnp.concatenate([f[None] for f in _textbook_weno5(a, variant)]).ravel()  # noqa: E731
    loss = lambda f: lambda a: jnp.sum(jnp.sin(3 * f(a)))  # noqa: E731
    # each comparison compiled once (op-by-op dispatch of the second derivative took ~30 s)
    value = jax.jit(lambda f, a: f(a), static_argnums=0)
    jvp = jax.jit(lambda f, a, t: jax.jvp(f, (a,), (t,))[1], static_argnums=0)
    grad = jax.jit(lambda f, a: jax.grad(loss(f))(a), static_argnums=0)
    hvp = jax.jit(lambda f, a, t: jax.jvp(jax.grad(loss(f)), (a,), (t,))[1], static_argnums=0)
    t = jax.random.normal(jax.random.PRNGKey(1), x.shape)
    for v in (rough, flat_then_jump):
        np.testing.assert_allclose(value(ours, v), value(ref, v), rtol=1e-13, atol=1e-14)
        np.testing.assert_allclose(jvp(ours, v, t), jvp(ref, v, t), rtol=1e-10, atol=1e-11)
        np.testing.assert_allclose(grad(ours, v), grad(ref, v), rtol=1e-10, atol=1e-11)
        # second order: WENO5-JS weights ~ 1/(ε + β)² with ε = 1e-6 amplify rounding (measured
        # 8e-8 relative between two correct orderings of the same arithmetic)
        np.testing.assert_allclose(hvp(ours, v, t), hvp(ref, v, t), rtol=1e-6, atol=1e-7)


def test_boundary_conditions_fill_ghosts():
    law = fv.Euler(1.4)
    u = law.to_conserved(jnp.stack([jnp.arange(1.0, 5.0), jnp.linspace(-1, 1, 4), jnp.ones(4)]))
    bcs = fv.normalise_bc([(fv.Reflective(), fv.Inflow(jnp.array([2.0, 3.0, 9.0])))], 1)
    from jaxpde.fv._boundary import pad

    grid = jp.CellGrid(4)
    ext = pad(u, bcs, 2, 0, law, grid)
    assert ext.shape == (3, 8)
    np.testing.assert_allclose(ext[:, :2], u[:, 1::-1] * jnp.array([1.0, -1.0, 1.0])[:, None])
    np.testing.assert_allclose(ext[:, -2:], jnp.array([[2.0, 2.0], [3.0, 3.0], [9.0, 9.0]]))
    ext = pad(u, fv.normalise_bc("periodic", 1), 2, 0, law, grid)
    np.testing.assert_allclose(ext[:, :2], u[:, 2:])
    ext = pad(u, fv.normalise_bc("outflow", 1), 3, 0, law, grid)
    np.testing.assert_allclose(ext[:, -3:], jnp.repeat(u[:, -1:], 3, axis=1))
    with pytest.raises(ValueError, match="both sides"):
        fv.normalise_bc([("periodic", "outflow")], 1)
    with pytest.raises(ValueError, match="axes"):
        fv.normalise_bc(["outflow", "outflow"], 1)
    with pytest.raises(TypeError, match="boundary"):
        fv.normalise_bc("wall", 1)


@pytest.mark.slow  # ~16 s on 2 cores
def test_reflective_walls_conserve_mass_and_energy_and_stop_the_flow():
    g = jp.CellGrid((24, 16))
    law = fv.Euler(1.4, ndim=2)
    u0 = fv.riemann_2d(law, g, centre=(0.4, 0.6))
    pde = fv.FiniteVolume(law, g, fv.MUSCL("mc"), fv.HLLC(), bc="reflective")
    u = jp.solve_to(pde, u0, 0.2, differentiable=False)
    before, after = g.integrate(u0), g.integrate(u)
    np.testing.assert_allclose(after[jnp.array([0, 3])], before[jnp.array([0, 3])], rtol=1e-13)
    # the normal mass flux through every wall vanishes: rhs of mass sums to zero
    assert abs(float(g.integrate(pde.rhs(0.0, u))[0])) < 1e-12


@pytest.mark.slow  # ~26 s, mostly compiling the WENO5 and MUSCL reverse passes
def test_inflow_keeps_a_uniform_stream_and_is_differentiable():
    law = fv.Euler(1.4)
    g = jp.CellGrid(32)
    w = jnp.array([1.0, 0.8, 1.0])
    state = law.to_conserved(w)
    u0 = jnp.broadcast_to(state[:, None], (3, 32))
    pde = fv.FiniteVolume(law, g, fv.WENO5(), fv.HLLC(), bc=[(fv.Inflow(state), fv.Outflow())])
    np.testing.assert_allclose(pde.rhs(0.0, u0), 0.0, atol=1e-13)

    def loss(rho_in):
        inflow = fv.Inflow(law.to_conserved(jnp.array([rho_in, 0.8, 1.0])))
        p = fv.FiniteVolume(law, g, fv.MUSCL("van_leer"), fv.HLLC(), bc=[(inflow, fv.Outflow())])
        return jnp.sum(jp.rollout_final(SSPRK3(p, 0.005), u0, 20)[0])

    grad = jax.jit(jax.grad(loss))(1.2)
    f = jax.jit(loss)
    fd = (f(1.2 + 1e-6) - f(1.2 - 1e-6)) / 2e-6
    assert float(grad) > 0
    np.testing.assert_allclose(grad, fd, rtol=1e-6)


def test_errors_are_clear():
    g = jp.CellGrid(16)
    with pytest.raises(ValueError, match="ndim=1"):
        fv.FiniteVolume(fv.Euler(ndim=2), g)
    with pytest.raises(TypeError, match="HLLC"):
        fv.FiniteVolume(fv.Burgers(), g, riemann_solver=fv.HLLC())
    with pytest.raises(TypeError, match="Godunov|Burgers"):
        fv.FiniteVolume(fv.Euler(), g, riemann_solver=fv.Godunov())
    with pytest.raises(TypeError, match="CellGrid"):
        fv.FiniteVolume(fv.Euler(), jp.PeriodicGrid(16))
    with pytest.raises(ValueError, match="limiter"):
        fv.MUSCL("superbee2")
    with pytest.raises(ValueError, match="bathymetry"):
        fv.FiniteVolume(fv.ShallowWater(bathymetry=np.zeros(8)), g)
    pde = fv.FiniteVolume(fv.Euler(), g)
    with pytest.raises(ValueError, match="vmap"):
        pde.rhs(0.0, jnp.ones((4, 3, 16)))
    with pytest.raises(ValueError, match="max_steps"):
        jax.jit(lambda u: jp.solve_to(pde, u, 0.1))(jnp.ones((3, 16)))
    with pytest.raises(ValueError, match="vacuum"):
        fv.riemann_star_state((1.0, -20.0, 0.4), (1.0, 20.0, 0.4))
    # not reaching t_final within max_steps is a runtime error, not a silent state
    u0 = fv.riemann_problem(fv.Euler(), g, *fv.SOD[:3])
    with pytest.raises(Exception, match="max_steps"):
        jax.block_until_ready(jp.solve_to(fv.FiniteVolume(fv.Euler(), g, bc="outflow"), u0, 0.2, max_steps=3))


@pytest.mark.slow  # ~28 s: five compiled gradients
def test_solve_to_auto_checkpoint_keeps_every_state_when_they_fit():
    """``checkpoint="auto"``: one level (each step's state kept, the step recomputed) while
    ``max_steps`` states fit in 64 MiB, two levels beyond; the gradient is the same."""
    assert jp.integrate.AUTO_CHECKPOINT_BYTES == 64 * 2**20

    def grad_of(n, steps, ck):
        g = jp.CellGrid(n)
        u0 = fv.riemann_problem(fv.Euler(1.4), g, *fv.SOD[:3])

        def loss(u, gamma):
            pde = fv.FiniteVolume(fv.Euler(gamma), g, fv.PiecewiseConstant(), fv.HLLC(), bc="outflow")
            return jnp.sum(jp.solve_to(pde, u, 0.05, max_steps=steps, checkpoint=ck) ** 2)

        return jax.jit(jax.grad(loss, argnums=(0, 1))).lower(u0, 1.4).compile(), u0

    def temp_bytes(compiled, u0):
        return compiled.memory_analysis().temp_size_in_bytes

    # small: 60 states of 3 x 64 doubles; auto is one level
    (auto, u0), (one, _), (two, _) = (grad_of(64, 60, ck) for ck in ("auto", 1, True))
    ga, go, gt = auto(u0, 1.4), one(u0, 1.4), two(u0, 1.4)
    for a, b in ((ga, go), (ga, gt)):
        np.testing.assert_allclose(a[0], b[0], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(a[1], b[1], rtol=1e-12)
    assert temp_bytes(auto, u0) == temp_bytes(one, u0) > temp_bytes(two, u0)
    # large: 1,000 states of 3 x 4,000 doubles (92 MiB); auto is two levels (compiled only)
    (auto, u0), (two, _) = (grad_of(4000, 1000, ck) for ck in ("auto", True))
    assert temp_bytes(auto, u0) == temp_bytes(two, u0) < 32 * 2**20  # one level: over 92 MiB
    with pytest.raises(ValueError, match="checkpoint"):
        jp.solve_to(fv.FiniteVolume(fv.Euler(), jp.CellGrid(8)), u0[:, :8], 0.1, max_steps=4, checkpoint="always")


def test_ssp_steppers_temporal_order():
    """On a linear ODE system (smooth advection, fixed spatial operator) the steppers
    converge in time with their formal orders."""
    g = jp.CellGrid(16)
    pde = fv.FiniteVolume(fv.LinearAdvection(1.0), g, fv.WENO5("js", eps=1e-1), fv.Rusanov())
    u0 = jnp.asarray(g.cell_average(lambda x: np.sin(2 * np.pi * x))[None])
    ref = jp.rollout_final(RK4(pde, 1 / 1024), u0, 256)
    for cls, expect in ((ForwardEuler, 1), (SSPRK2, 2), (SSPRK3, 3), (RK4, 4)):
        errs = [float(jnp.max(jnp.abs(jp.rollout_final(cls(pde, 0.25 / n), u0, n) - ref))) for n in (32, 64, 128)]
        order = np.polyfit(np.log([32, 64, 128]), -np.log(errs), 1)[0]
        assert abs(order - expect) < 0.25, (cls.__name__, errs, order)


def test_godunov_is_the_exact_flux_of_any_scalar_law():
    """Godunov's flux asks the law for its exact face flux (an interface, not a type check):
    upwinding for linear advection, both signs of the speed."""
    import jax.numpy as jnp

    from jaxpde import fv

    ul, ur = jnp.array([[1.0, -2.0, 0.5]]), jnp.array([[3.0, 4.0, -1.0]])
    for c in (0.7, -0.7):
        law = fv.LinearAdvection(c)
        np.testing.assert_allclose(fv.Godunov()(law, ul, ur, 0), c * (ul if c > 0 else ur))
    with pytest.raises(TypeError, match="AbstractScalarLaw"):
        fv.Godunov().check_law(fv.Euler())
    with pytest.raises(TypeError, match="AbstractFluidLaw"):
        fv.HLLC().check_law(fv.Burgers())


def test_scalar_rhs_pads_each_axis_once_in_the_compiled_program():
    """On one channel the right-hand side reads shifts of the padded state inside a fusion;
    each padding (the reconstruction's, and the viscous term's) is written once per axis,
    not once per shift (XLA splits a sliced concatenation into copies unless kept whole)."""
    import re

    cases = (
        (fv.Burgers(), jp.CellGrid(64), fv.WENO5(), 1),  # before: 2 copies
        (fv.Burgers(viscosity=0.01, ndim=2), jp.CellGrid((32, 32)), fv.MUSCL(), 4),  # before: 6
    )
    for law, grid, rec, expected in cases:
        pde = fv.FiniteVolume(law, grid, rec, fv.Rusanov(), bc="periodic")
        u = jnp.zeros((1, *grid.shape), jnp.float32)
        txt = jax.jit(lambda u, pde=pde: pde.rhs(0.0, u)).lower(u).compile().as_text()
        copies = re.findall(r"^\s*%\S*concatenate\S* = f32\[([\d,]+)\]", txt[txt.index("ENTRY") :], re.M)
        assert len(copies) == expected, (type(rec).__name__, copies)


def _weno5_stencils(dtype, n=37):
    """Five stencil rows of `n` cells (`n` not a multiple of the kernel's vector width, so
    its scalar tail runs too): rough values, a flat stretch (all indicators zero) and one
    huge jump, where WENO-Z's clipped ratio ``τ/(β + ε)`` reaches its bound."""
    v = np.array(jax.random.normal(jax.random.PRNGKey(3), (n + 4,)), np.float64)
    v[10:20] = 0.25
    v[30] = 3e6
    return [jnp.asarray(v[j : j + n], dtype) for j in range(5)]


@pytest.mark.parametrize("dtype", [jnp.float64, jnp.float32])
@pytest.mark.parametrize("variant", ["z", "js"])
def test_weno5_reverse_kernel_matches_its_formula(dtype, variant):
    """The CPU kernel for WENO5's transpose gives the formula's numbers, and is the one
    compiled into a gradient wherever a C++ compiler is present."""
    import shutil

    from jaxpde import _native
    from jaxpde.fv import _reconstruct as R

    s = _weno5_stencils(dtype)
    g = [jnp.asarray(jax.random.normal(jax.random.PRNGKey(k), s[0].shape), dtype) for k in (4, 5)]
    eps = 1e-6
    kernel = jax.jit(lambda *x: R._cotangent_p.bind(*x, variant=variant, eps=eps))
    formula = jax.jit(lambda *x: R._weno5_cotangent_formula(*x, variant=variant, eps=eps))
    got, want = kernel(*s, *g), formula(*s, *g)
    tol = 1e-12 if dtype == jnp.float64 else 2e-5
    for a, b in zip(got, want):
        scale = float(jnp.max(jnp.abs(b)))
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=tol, atol=tol * scale)
    if shutil.which("c++") or shutil.which("g++"):
        assert _native.library("weno5") is not None
        assert "Weno5Cotangents" in kernel.lower(*s, *g).compile().as_text()


def test_weno5_reverse_mode_batches_and_agrees_with_forward_mode():
    """The Jacobian by reverse mode (a vmap over cotangents, the values unbatched) equals
    the one by forward mode, and a vmap of gradients equals the gradients one by one."""
    rec = fv.WENO5("z")
    f = lambda a: jnp.concatenate(rec(a[None], 1)).ravel()  # noqa: E731
    x = jnp.sin(jnp.linspace(0, 6, 29)) + jnp.where(jnp.arange(29) > 14, 1.0, 0.0)
    np.testing.assert_allclose(jax.jacrev(f)(x), jax.jacfwd(f)(x), rtol=1e-12, atol=1e-13)
    batch = jnp.stack([x, 2 * x, x**2])
    loss = lambda a: jnp.sum(jnp.sin(f(a)))  # noqa: E731
    grads = jax.vmap(jax.grad(loss))(batch)
    for row, gr in zip(batch, grads):
        np.testing.assert_allclose(gr, jax.grad(loss)(row), rtol=1e-13, atol=1e-14)


def test_weno5_gradient_without_the_kernel(tmp_path):
    """With ``JAXPDE_NATIVE=0`` the gradient takes the JAX path (no custom call) and gives
    the same numbers as with the kernel."""
    import os
    import subprocess
    import sys

    code = (
        "import jax, numpy as np, jax.numpy as jnp\n"
        "jax.config.update('jax_enable_x64', True)\n"
        "from jaxpde import fv\n"
        "rec = fv.WENO5('z')\n"
        "x = jnp.sin(jnp.linspace(0, 6, 41)) + jnp.where(jnp.arange(41) > 20, 1.0, 0.0)\n"
        "loss = lambda a: jnp.sum(jnp.sin(jnp.concatenate(rec(a[None], 1))))\n"
        "g = jax.jit(jax.grad(loss))\n"
        "print('custom-call' in g.lower(x).compile().as_text())\n"
        "import sys; np.save(sys.argv[1], np.asarray(g(x)))\n"
    )
    out = {}
    for flag in ("1", "0"):
        env = {**os.environ, "JAXPDE_NATIVE": flag}
        path = tmp_path / f"g{flag}.npy"
        run = subprocess.run([sys.executable, "-c", code, str(path)], env=env, capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        out[flag] = (run.stdout.strip(), np.load(path))
    assert out["0"][0] == "False"
    np.testing.assert_allclose(out["1"][1], out["0"][1], rtol=1e-12, atol=1e-14)


def test_weno5_kernel_stays_out_of_automatically_partitioned_programs():
    """On 8 simulated devices: a gradient over a batch sharded by XLA's automatic
    partitioner takes the formula (a custom call would be gathered onto every device), and
    is divided (no all-gather); under ``shard_map`` every device runs the kernel."""
    import shutil
    import subprocess
    import sys

    code = """
import os
os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=8"
import re, numpy as np, jax, jax.numpy as jnp
jax.config.update("jax_enable_x64", True)
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
from jaxpde import fv
rec = fv.WENO5("z")
loss = lambda a: jnp.sum(jnp.sin(jnp.concatenate(rec(a, 1))))
mesh = Mesh(np.array(jax.devices()), ("b",))
batch = jax.device_put(jnp.sin(jnp.linspace(0, 9, 8 * 3 * 70)).reshape(8, 3, 70), NamedSharding(mesh, P("b")))
auto = jax.jit(jax.vmap(jax.grad(loss))).lower(batch).compile().as_text()
manual = jax.jit(jax.shard_map(jax.vmap(jax.grad(loss)), mesh=mesh, in_specs=P("b"), out_specs=P("b")))
manual = manual.lower(batch).compile().as_text()
print(len(re.findall("all-gather", auto)), "Weno5Cotangents" in auto, "Weno5Cotangents" in manual)
"""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    gathers, kernel_auto, kernel_manual = run.stdout.split()
    assert gathers == "0" and kernel_auto == "False"
    assert kernel_manual == str(bool(shutil.which("c++") or shutil.which("g++")))
