"""Neural ODE on the spiral of Chen et al. (2018), trained with and without the
solver-heuristic regularisers of Pal et al. (global: ICML 2021; local: ICML 2023).

Reports, for each variant, the final training loss (trajectory MSE) and the cost of a
prediction solve at the training tolerance: steps and right-hand-side evaluations
(NFE). Pal et al. report NFE down to 0.56-0.73x at similar loss.

    python benchmarks/neural_ode_regulariser.py [--iters 1500] [--seeds 0 1 2]
"""

import argparse
import time

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import optax

jax.config.update("jax_enable_x64", True)

import jaxpde  # noqa: E402
from jaxpde import nn  # noqa: E402
from jaxpde.integrate import local_heuristics, random_time  # noqa: E402

T1 = 10.0
TOL = 1e-5
A = jnp.asarray([[-0.1, 2.0], [-2.0, -0.1]])


class Spiral(jaxpde.AbstractPDE):
    grid: object = None

    @property
    def num_channels(self):
        return 2

    @property
    def state_shape(self):
        return (2,)

    def rhs(self, t, y, args=None):
        return A @ y**3


def data(num=100):
    ts = jnp.linspace(0.0, T1, num)
    y0 = jnp.asarray([2.0, 0.0])
    ys = jaxpde.solve(Spiral(), y0, 0.0, T1, saveat=ts, rtol=1e-10, atol=1e-10).us
    return ts, y0, ys


class CubicField(eqx.Module):
    """The spiral demo's vector field: an MLP of y³ (Chen et al. 2018)."""

    mlp: eqx.nn.MLP

    def __init__(self, key):
        self.mlp = eqx.nn.MLP(2, 2, 50, 1, activation=jnp.tanh, key=key)

    def __call__(self, t, y, args=None):
        return self.mlp(y**3)


def make_model(key):
    return nn.NeuralODE(CubicField(key), (2,))


WINDOW, BATCH = 20, 16


def train(variant, weight, iters, seed, ts, y0, ys):
    model = make_model(jax.random.key(seed))
    opt = optax.adam(optax.exponential_decay(1e-2, iters, 0.1))
    state = opt.init(eqx.filter(model, eqx.is_inexact_array))
    tw = ts[:WINDOW]

    def window_loss(m, y_start, target, key):
        if variant == "global":
            sol = jaxpde.solve(m, y_start, 0.0, tw[-1], saveat=tw, rtol=TOL, atol=TOL, heuristics=True, max_steps=1000)
            return jnp.mean((sol.us - target) ** 2), sol.heuristics["error"]
        if variant == "local":
            sol = jaxpde.solve(
                m, y_start, 0.0, tw[-1], saveat=diffrax.SaveAt(ts=tw, dense=True), rtol=TOL, atol=TOL, max_steps=1000
            )
            t_r = random_time(key, 0.0, tw[-1])
            # a step of the size the solver takes on average on this window
            h = jax.lax.stop_gradient(tw[-1] / sol.stats["num_accepted_steps"])
            local = local_heuristics(m, sol.solution.evaluate(t_r), t_r, rtol=TOL, atol=TOL, dt=h)
            # one step's error stands in for the sum over the window (scaled by its length)
            return jnp.mean((sol.us - target) ** 2), tw[-1] * local["error"]
        sol = jaxpde.solve(m, y_start, 0.0, tw[-1], saveat=tw, rtol=TOL, atol=TOL, max_steps=1000)
        return jnp.mean((sol.us - target) ** 2), jnp.zeros(())

    def loss_fn(m, key):
        k1, k2 = jax.random.split(key)
        starts = jax.random.randint(k1, (BATCH,), 0, ts.shape[0] - WINDOW)
        targets = ys[starts[:, None] + jnp.arange(WINDOW)]
        mse, reg = jax.vmap(window_loss, in_axes=(None, 0, 0, 0))(m, ys[starts], targets, jax.random.split(k2, BATCH))
        return jnp.mean(mse) + weight * jnp.mean(reg), jnp.mean(mse)

    @eqx.filter_jit
    def step(m, s, key):
        (_, mse), g = eqx.filter_value_and_grad(loss_fn, has_aux=True)(m, key)
        updates, s = opt.update(g, s, eqx.filter(m, eqx.is_inexact_array))
        return eqx.apply_updates(m, updates), s, mse

    key = jax.random.key(1000 + seed)
    start = time.perf_counter()
    for _ in range(iters):
        key, sub = jax.random.split(key)
        model, state, mse = step(model, state, sub)
    seconds = time.perf_counter() - start
    sol = jaxpde.solve(model, y0, 0.0, T1, saveat=ts, rtol=TOL, atol=TOL, max_steps=4000)
    final = float(jnp.mean((sol.us - ys) ** 2))
    return final, int(sol.stats["num_steps"]), int(sol.stats["num_rhs_evals"]), seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iters", type=int, default=1500)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--global-weight", type=float, default=0.1)
    parser.add_argument("--local-weight", type=float, default=0.1)
    parser.add_argument("--variants", nargs="+", default=["none", "global", "local"])
    a = parser.parse_args()
    ts, y0, ys = data()
    true = jaxpde.solve(Spiral(), y0, 0.0, T1, saveat=ts, rtol=TOL, atol=TOL)
    print(
        f"true spiral at rtol=atol={TOL}: {int(true.stats['num_steps'])} steps, {int(true.stats['num_rhs_evals'])} NFE"
    )
    rows = []
    weights = {"none": 0.0, "global": a.global_weight, "local": a.local_weight}
    for variant, weight in ((v, weights[v]) for v in a.variants):
        for seed in a.seeds:
            loss, steps, nfe, secs = train(variant, weight, a.iters, seed, ts, y0, ys)
            rows.append((variant, seed, loss, steps, nfe, secs))
            print(
                f"{variant:>6} (λ={weight:g}) seed {seed}: loss {loss:.2e}, prediction {steps} steps, "
                f"{nfe} NFE, trained in {secs:.0f} s",
                flush=True,
            )
    base = {s: r for v, s, *r in rows if v == rows[0][0]}
    print("\n| regulariser | seed | final MSE | prediction NFE | NFE ratio |")
    print("|---|---:|---:|---:|---:|")
    for variant, seed, loss, _steps, nfe, _ in rows:
        print(f"| {variant} | {seed} | {loss:.2e} | {nfe} | {nfe / base[seed][2]:.2f} |")


if __name__ == "__main__":
    main()
