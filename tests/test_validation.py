"""Bad input to the library is answered with a clear error, never a silently wrong result."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxpde as jp
from jaxpde import fv, nn
from jaxpde import spectral as S

G = jp.PeriodicGrid(16)
STEPPER = S.ETDRK(S.Burgers(G, 0.1), 0.05)
U = jnp.sin(jnp.asarray(G.coordinates()[0]))[None]

CASES = {
    # constructors check their arguments
    "negative viscosity": (lambda: S.Burgers(G, viscosity=-0.1), ValueError, "viscosity must be >= 0"),
    "nan viscosity": (lambda: S.Burgers(G, viscosity=float("nan")), ValueError, "finite"),
    "inf diffusivity": (lambda: S.Diffusion(G, float("inf")), ValueError, "finite"),
    "negative hyper-viscosity": (lambda: S.KuramotoSivashinsky(G, fourth_order=-1.0), ValueError, "fourth_order"),
    "negative drag": (lambda: S.NavierStokes2D(jp.PeriodicGrid(8, ndim=2), drag=-0.1), ValueError, "drag"),
    "fv negative viscosity": (lambda: fv.Burgers(-1.0), ValueError, "viscosity"),
    "euler gamma <= 1": (lambda: fv.Euler(0.9), ValueError, "gamma must be > 1"),
    "zero gravity": (lambda: fv.ShallowWater(0.0), ValueError, "gravity must be > 0"),
    "fractional grid size": (lambda: jp.PeriodicGrid(64.7), ValueError, "integer"),
    "boolean grid size": (lambda: jp.PeriodicGrid(True), TypeError, "num_points"),
    "negative dt": (lambda: S.ETDRK(S.Burgers(G), -0.1), ValueError, "dt"),
    "few contour points": (lambda: S.ETDRK(S.Burgers(G), 0.1, num_contour_points=2), ValueError, "num_contour_points"),
    # states
    "integer state to rollout": (lambda: jp.rollout(STEPPER, jnp.ones((1, 16), jnp.int32), 2), TypeError, "floating"),
    "integer state to a stepper": (lambda: STEPPER(jnp.ones((1, 16), jnp.int32)), TypeError, "floating"),
    "nan initial state": (lambda: jp.rollout(STEPPER, U.at[0, 3].set(jnp.nan), 2), FloatingPointError, "not finite"),
    "inf initial state (final)": (
        lambda: jp.rollout_final(STEPPER, U.at[0, 3].set(jnp.inf), 2),
        FloatingPointError,
        "not finite",
    ),
    # solvers and models
    "negative rtol": (lambda: jp.solve(S.Burgers(G), U, 0.0, 0.1, rtol=-1.0), ValueError, "rtol"),
    "nan initial state to solve": (lambda: jp.solve(S.Burgers(G), U * jnp.nan, 0.0, 0.1), FloatingPointError, "finite"),
    "fno modes beyond the grid": (
        lambda: nn.FNO(1, 1, modes=12, width=4, depth=1, key=jax.random.key(0))(U),
        ValueError,
        "holds only 9",
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_refused(name):
    make, error, match = CASES[name]
    with pytest.raises(error, match=match):
        make()


def test_traced_values_pass_and_runtime_check_catches_blow_up():
    # a traced viscosity cannot be checked at construction: it is the user's to choose
    grad = jax.grad(lambda nu: jnp.sum(jp.rollout_final(S.ETDRK(S.Burgers(G, nu), 0.05), U, 3) ** 2))(0.1)
    assert np.isfinite(float(grad))
    # under jit the initial state is traced; check_finite=True reports a blow-up at run time
    blow_up = S.ETDRK(S.Diffusion(G, 0.1), 0.5)

    @jax.jit
    def run(u):
        return jp.rollout(blow_up, u, 3, check_finite=True)

    assert np.all(np.isfinite(np.asarray(run(U))))
    with pytest.raises(Exception, match="not finite"):
        jax.block_until_ready(run(U.at[0, 0].set(jnp.nan)))

    @jax.jit
    def run_nan_late(nu):
        # anti-diffusion through a traced coefficient: the frames overflow
        return jp.rollout(S.ETDRK(S.Diffusion(G, nu), 0.5), U * 1e30, 40, check_finite=True)

    with pytest.raises(Exception, match="non-finite"):
        jax.block_until_ready(run_nan_late(-50.0))


def test_float32_and_float64_states_keep_their_dtype():
    for dtype in (jnp.float32, jnp.float64):
        out = jp.rollout(STEPPER, U.astype(dtype), 2)
        assert out.dtype == dtype


def test_fno_within_the_grid_is_accepted():
    model = nn.FNO(1, 1, modes=9, width=4, depth=1, key=jax.random.key(0))
    assert eqx.filter_jit(model)(U).shape == U.shape
