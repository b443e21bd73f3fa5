"""Domain-decomposition checks, run in a subprocess with simulated CPU devices by
tests/test_domain_decomposition.py (``python split_checks.py spectral|fv``).

Each check runs one problem on a grid split over 8 devices and on the same grid on one
device (float64) and records the largest relative difference of the results and of the
gradients, what the compiled split program communicates, and its memory per device.
Prints one JSON line after ``RESULT``."""

import json
import re
import sys
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)

import jaxpde  # noqa: E402
from jaxpde import fv, ic, spectral  # noqa: E402
from jaxpde.grids import CellGrid, PeriodicGrid, spatial_mesh  # noqa: E402

N_DEVICES = 8


def rel(a, b) -> float:
    a, b = np.asarray(a), np.asarray(b)
    return float(np.abs(a - b).max() / max(float(np.abs(b).max()), 1e-300))


def tree_rel(a, b) -> float:
    return max(rel(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


def communication(compiled) -> dict:
    hlo = compiled.as_text()
    ops = ("all-gather", "all-to-all", "collective-permute", "all-reduce", "reduce-scatter")
    return {op: len(re.findall(rf"= [^\n]*? {op}(?:-start)?\(", hlo)) for op in ops}


def memory(fn, *args) -> int:
    m = jax.jit(fn).lower(*args).compile().memory_analysis()
    return int(m.temp_size_in_bytes + m.argument_size_in_bytes + m.output_size_in_bytes)


def compare(name, make, fn, u0, grads_of, out):
    """`make(grid_or_none)` builds the problem's pieces, `fn(pieces, u)` runs it; gradients
    of ``sum(w * fn)`` with respect to `grads_of(pieces)` and the state."""
    start = time.perf_counter()
    one, split = make(False), make(True)
    u0_split = split["grid"].put(u0)
    run = jax.jit(fn)
    run_split = run.lower(split, u0_split).compile()
    a, b = run(one, u0), run_split(split, u0_split)
    w = np.random.default_rng(7).normal(size=np.shape(a))

    def loss(leaves, pieces, u):
        pieces = eqx.tree_at(grads_of, pieces, leaves)
        return jnp.sum(w * fn(pieces, u))

    grad = jax.jit(jax.grad(loss, argnums=(0, 2)))
    grad_split = grad.lower(grads_of(split), split, u0_split).compile()
    ga = grad(grads_of(one), one, u0)
    gb = grad_split(grads_of(split), split, u0_split)
    out[name] = {
        "value": rel(b, a),
        "gradient": tree_rel(gb, ga),
        "split_output": str(b.sharding.spec),
        "communication": communication(grad_split),
        "forward_communication": communication(run_split),
        "seconds": round(time.perf_counter() - start, 1),
    }


def spectral_checks(out, slow):
    mesh = spatial_mesh(N_DEVICES)
    key = jax.random.key(0)

    # 2D Kolmogorov flow, ETDRK4, checkpointed rollout; gradients wrt viscosity and u0
    def kolmogorov(split):
        grid = PeriodicGrid(32, ndim=2, mesh=mesh if split else None)
        pde = spectral.EQUATIONS["kolmogorov_flow"](grid, viscosity=0.01)
        return {"grid": grid, "pde": pde}

    u0 = ic.gaussian_random_field(PeriodicGrid(32, ndim=2), key=key, amplitude=3.0)
    compare(
        "kolmogorov2d_etdrk4",
        kolmogorov,
        lambda p, u: jaxpde.rollout(spectral.ETDRK(p["pde"], 0.05), u, 6, checkpoint=True)[-1],
        u0,
        lambda p: p["pde"].viscosity,
        out,
    )
    if slow:
        compare(
            "kolmogorov2d_solve_tsit5",
            kolmogorov,
            lambda p, u: jaxpde.solve(p["pde"], u, 0.0, 0.2, solver="tsit5", rtol=1e-8, atol=1e-8).us[-1],
            u0,
            lambda p: p["pde"].viscosity,
            out,
        )
        return

    # what a user is told when a grid cannot be split
    errors = {}
    for label, build in (
        ("not_divisible", lambda: PeriodicGrid((36, 32), mesh=mesh)),
        ("spectral_1d", lambda: PeriodicGrid(64, mesh=mesh)),
        ("too_many_devices", lambda: spatial_mesh(16)),
        ("cells_not_divisible", lambda: CellGrid((30, 16), mesh=spatial_mesh((4, 2)))),
    ):
        try:
            build()
            errors[label] = None
        except ValueError as e:
            errors[label] = str(e)
    out["errors"] = errors

    # 3D Burgers on pencils (x over 4, y over 2)
    pencils = spatial_mesh((4, 2))

    def burgers3d(split):
        grid = PeriodicGrid(16, ndim=3, mesh=pencils if split else None)
        return {"grid": grid, "pde": spectral.Burgers(grid, viscosity=0.05)}

    u3 = ic.gaussian_random_field(PeriodicGrid(16, ndim=3), key=key, num_channels=3)
    compare(
        "burgers3d_pencils_etdrk4",
        burgers3d,
        lambda p, u: jaxpde.rollout(spectral.ETDRK(p["pde"], 0.02), u, 4, checkpoint=True)[-1],
        u3,
        lambda p: p["pde"].viscosity,
        out,
    )

    # every registered equation that has a 2D form, four ETDRK steps on slabs
    each = {}
    for name in spectral.EQUATIONS:
        if name == "klein_gordon":
            continue
        grid1, grids = PeriodicGrid(16, ndim=2), PeriodicGrid(16, ndim=2, mesh=mesh)
        try:
            p1 = spectral.EQUATIONS[name](grid1)
        except ValueError:
            continue
        ps = spectral.EQUATIONS[name](grids)
        u = 0.3 * ic.gaussian_random_field(grid1, key=key, num_channels=p1.num_channels) + 0.5
        step = jax.jit(lambda p, u: jaxpde.rollout(spectral.ETDRK(p, 0.01), u, 4)[-1])
        each[name] = rel(step(ps, grids.put(u)), step(p1, u))
    out["every_equation_2d"] = each

    # exact linear stepping and the symplectic Klein-Gordon integrator
    for name, cls, stepper in (
        ("diffusion_exact_linear", spectral.Diffusion, spectral.ExactLinear),
        ("klein_gordon_stormer_verlet", spectral.KleinGordon, spectral.StormerVerlet),
    ):

        def make(split, cls=cls):
            grid = PeriodicGrid(16, ndim=2, mesh=mesh if split else None)
            return {"grid": grid, "pde": cls(grid)}

        u = ic.gaussian_random_field(PeriodicGrid(16, ndim=2), key=key, num_channels=make(False)["pde"].num_channels)
        leaf = (lambda p: p["pde"].diffusivity) if cls is spectral.Diffusion else (lambda p: p["pde"].wave_speed)
        compare(name, make, lambda p, u, s=stepper: jaxpde.rollout(s(p["pde"], 0.01), u, 4)[-1], u, leaf, out)

    # memory per device of a larger rollout (compiled only)
    big = {}
    for split in (False, True):
        grid = PeriodicGrid(256, ndim=2, mesh=mesh if split else None)
        pde = spectral.EQUATIONS["kolmogorov_flow"](grid)
        u = jax.ShapeDtypeStruct((1, 256, 256), jnp.float64, sharding=grid.sharding())
        big[split] = memory(lambda p, u: jaxpde.rollout(spectral.ETDRK(p, 0.01), u, 4)[-1], pde, u)
    out["memory_kolmogorov_256"] = {"one": big[False], "split": big[True]}


def fv_checks(out, slow):
    mesh = spatial_mesh((4, 2))
    noise = np.random.default_rng(1)

    # 2D Euler, Lax-Liu configuration 3, WENO5 + HLLC, CFL steps to t = 0.02
    law = fv.Euler(ndim=2)
    # the slow run: WENO5 and CFL steps (solve_to); the default one: first order, fixed steps
    reconstruction = fv.WENO5() if slow else fv.PiecewiseConstant()
    u0 = np.asarray(fv.riemann_2d(law, CellGrid((32, 16))))
    u0 = u0 * (1 + 1e-3 * noise.normal(size=u0.shape))  # no exact ties in the flux branches
    # (outflow sides are split in the riemann2d command-line run of test_domain_decomposition)
    for label, bc in (("walls_periodic", ("reflective", "periodic")),)[: 1 if slow else 0]:

        def euler(split, bc=bc):
            grid = CellGrid((32, 16), mesh=mesh if split else None)
            return {"grid": grid, "pde": fv.FiniteVolume(law, grid, reconstruction, fv.HLLC(), bc=bc)}

        compare(
            f"euler2d_lax_liu_{label}",
            euler,
            lambda p, u: jaxpde.solve_to(p["pde"], u, 0.02, max_steps=24),
            u0,
            lambda p: p["pde"].law.gamma,
            out,
        )

    # shallow water with walls on every side over a bump (the bed is split with the state)
    def water(split):
        grid = CellGrid((32, 16), mesh=mesh if split else None)
        x, y = CellGrid((32, 16)).coordinates()
        bed = 0.2 * np.exp(-((x - 0.5) ** 2 + (y - 0.5) ** 2) / 0.02)
        sw = fv.ShallowWater(ndim=2, bathymetry=bed)
        return {"grid": grid, "pde": fv.FiniteVolume(sw, grid, reconstruction, fv.HLLC(), bc="reflective")}

    w0 = np.asarray(fv.lake_at_rest(water(False)["pde"].law, CellGrid((32, 16))))
    w0 = w0.copy()
    w0[0] = w0[0] * (1 + 0.05 * noise.normal(size=w0[0].shape))
    if slow:
        water_run = lambda p, u: jaxpde.solve_to(p["pde"], u, 0.01, max_steps=24)  # noqa: E731
    else:
        water_run = lambda p, u: jaxpde.rollout(jaxpde.integrate.SSPRK3(p["pde"], 1e-3), u, 5)[-1]  # noqa: E731
    compare(
        "shallow_water_walls",
        water,
        water_run,
        w0,
        lambda p: p["pde"].law.gravity,
        out,
    )

    # an inflow state that varies along the boundary (split with it)
    inflow_state = np.stack(
        [1 + 0.1 * np.sin(np.linspace(0, 6, 16)), 0.3 + 0 * np.arange(16), 0 * np.arange(16), 2.5 + 0 * np.arange(16)]
    )

    def inflow(split):
        grid = CellGrid((32, 16), mesh=mesh if split else None)
        bc = ((fv.Inflow(inflow_state), "outflow"), "periodic")
        return {"grid": grid, "pde": fv.FiniteVolume(law, grid, fv.PiecewiseConstant(), fv.HLLC(), bc=bc)}

    if slow:
        big = {}
        for split in (False, True):
            grid = CellGrid((256, 256), mesh=mesh if split else None)
            pde = fv.FiniteVolume(law, grid, reconstruction, fv.HLLC(), bc="outflow")
            u = jax.ShapeDtypeStruct((4, 256, 256), jnp.float64, sharding=grid.sharding())
            big[split] = memory(lambda p, u: jaxpde.rollout(jaxpde.integrate.SSPRK3(p, 1e-4), u, 4)[-1], pde, u)
        out["memory_euler_256"] = {"one": big[False], "split": big[True]}
        return

    # the single-stage MUSCL-Hancock step: a held boundary cell and a wall, a periodic axis
    def hancock(split):
        grid = CellGrid((32, 16), mesh=mesh if split else None)
        bc = (("fixed", "reflective"), "periodic")
        return {"grid": grid, "pde": fv.FiniteVolume(law, grid, fv.MUSCL("mc"), fv.HLLC(), bc=bc)}

    compare(
        "euler2d_muscl_hancock",
        hancock,
        lambda p, u: jaxpde.rollout(fv.MUSCLHancock(p["pde"], 2e-3), u, 5)[-1],
        u0,
        lambda p: p["pde"].law.gamma,
        out,
    )
    compare(
        "euler2d_muscl_hancock_dimensional",
        hancock,
        lambda p, u: jaxpde.rollout(fv.MUSCLHancock(p["pde"], 2e-3, transverse=False), u, 5)[-1],
        u0,
        lambda p: p["pde"].law.gamma,
        out,
    )
    compare(
        "euler2d_inflow_profile",
        inflow,
        lambda p, u: jaxpde.rollout(jaxpde.integrate.SSPRK3(p["pde"], 2e-3), u, 5)[-1],
        u0,
        lambda p: p["pde"].bc[0][0].state,
        out,
    )


if __name__ == "__main__":
    assert len(jax.devices()) >= N_DEVICES, jax.devices()
    result: dict = {}
    {"spectral": spectral_checks, "fv": fv_checks}[sys.argv[1]](result, slow="--slow" in sys.argv)
    print("RESULT" + json.dumps(result))
