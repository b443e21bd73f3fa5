"""Neural ODE on the spiral of Chen et al. (2018), trained with and without the
solver-heuristic regularisers of Pal et al. (global: ICML 2021; local: ICML 2023).

Reports, for each variant, the final training loss (trajectory MSE) and the cost of a
prediction solve at the training tolerance: steps and right-hand-side evaluations
(NFE). Pal et al. report NFE down to 0.56-0.73x at similar loss.

    python benchmarks/neural_ode_regulariser.py [--iters 1500] [--seeds 0 1 2]
"""

import argparse
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
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


def make_model(key):
    return nn.NeuralODE(nn.MLPField(2, width=64, depth=2, key=key), (2,))


def train(variant, weight, iters, seed, ts, y0, ys):
    model = make_model(jax.random.key(seed))
    opt = optax.adam(optax.exponential_decay(3e-3, iters, 0.1))
    state = opt.init(eqx.filter(model, eqx.is_inexact_array))

    def loss_fn(m, key):
        if variant == "global":
            sol = jaxpde.solve(m, y0, 0.0, T1, saveat=ts, rtol=TOL, atol=TOL, heuristics=True, max_steps=2000)
            mse = jnp.mean((sol.us - ys) ** 2)
            return mse + weight * sol.heuristics["error"], mse
        if variant == "local":
            t_r = random_time(key, 0.0, T1)
            sol = jaxpde.solve(m, y0, 0.0, T1, saveat=jnp.sort(jnp.append(ts, t_r)), rtol=TOL, atol=TOL, max_steps=2000)
            is_obs = jnp.arange(ts.shape[0] + 1) != jnp.searchsorted(jnp.sort(jnp.append(ts, t_r)), t_r)
            pred = sol.us[jnp.nonzero(is_obs, size=ts.shape[0])[0]]
            u_r = sol.us[jnp.searchsorted(jnp.sort(jnp.append(ts, t_r)), t_r)]
            mse = jnp.mean((pred - ys) ** 2)
            local = local_heuristics(m, u_r, t_r, rtol=TOL, atol=TOL)
            return mse + weight * T1 * local["error"], mse
        sol = jaxpde.solve(m, y0, 0.0, T1, saveat=ts, rtol=TOL, atol=TOL, max_steps=2000)
        mse = jnp.mean((sol.us - ys) ** 2)
        return mse, mse

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
    sol = jaxpde.solve(model, y0, 0.0, T1, saveat=ts, rtol=TOL, atol=TOL, max_steps=2000)
    final = float(jnp.mean((sol.us - ys) ** 2))
    return final, int(sol.stats["num_steps"]), int(sol.stats["num_rhs_evals"]), seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iters", type=int, default=1500)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--global-weight", type=float, default=0.01)
    parser.add_argument("--local-weight", type=float, default=0.01)
    a = parser.parse_args()
    ts, y0, ys = data()
    true = jaxpde.solve(Spiral(), y0, 0.0, T1, saveat=ts, rtol=TOL, atol=TOL)
    print(f"true spiral at rtol=atol={TOL}: {int(true.stats['num_steps'])} steps, "
          f"{int(true.stats['num_rhs_evals'])} NFE")
    rows = []
    for variant, weight in (("none", 0.0), ("global", a.global_weight), ("local", a.local_weight)):
        for seed in a.seeds:
            loss, steps, nfe, secs = train(variant, weight, a.iters, seed, ts, y0, ys)
            rows.append((variant, seed, loss, steps, nfe, secs))
            print(f"{variant:>6} (λ={weight:g}) seed {seed}: loss {loss:.2e}, prediction {steps} steps, "
                  f"{nfe} NFE, trained in {secs:.0f} s", flush=True)
    base = {s: r for v, s, *r in rows if v == "none"}
    print("\n| regulariser | seed | final MSE | prediction NFE | NFE ratio |")
    print("|---|---:|---:|---:|---:|")
    for variant, seed, loss, steps, nfe, _ in rows:
        print(f"| {variant} | {seed} | {loss:.2e} | {nfe} | {nfe / base[seed][2]:.2f} |")


if __name__ == "__main__":
    main()
