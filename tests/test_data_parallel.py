"""Data parallelism divides the work: the compiled training step on 4 and 8 simulated
devices runs every FFT on its own share of the batch, gathers no activations, and gives
the single-device result (float64)."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

_SCRIPT = textwrap.dedent("""
    import json, re, sys
    import jax, jax.numpy as jnp, numpy as np, optax, equinox as eqx
    jax.config.update("jax_enable_x64", True)
    from jaxpde import nn, train

    n = int(sys.argv[1])
    assert len(jax.devices()) >= n
    B, T = 16, 3
    trajs = 2.0 + 3.0 * jax.random.normal(jax.random.key(1), (B, T, 1, 16, 16))
    model = nn.OperatorStepper(nn.FNO(1, 1, modes=4, width=8, depth=2, ndim=2, key=jax.random.key(0)), 0.1)
    model = model.with_statistics(trajs, num_spatial_dims=2)  # fixed statistics: never trained
    batch = {"trajectories": trajs, "parameters": {}}
    opt = optax.adamw(1e-3)
    loss = lambda m, b: train.one_step_loss(m, b)
    out = {"statistics": [np.asarray(a).tolist() for a in jax.tree.leaves((model.inputs, model.outputs))]}
    for label, mesh in (("one", None), ("many", train.data_mesh(jax.devices()[:n]))):
        m, s = model, opt.init(eqx.filter(model, train.trainable(model)))
        b = batch
        if mesh is not None:
            m, s, b = train.replicate(m, mesh), train.replicate(s, mesh), train.shard_batch(batch, mesh)
        step = train.make_step(loss, opt, mesh=mesh)
        new, _, value = step(m, s, b)
        out[label] = {"loss": float(value),
                      "weights": np.asarray(new.model.spectral[0].weights.pair).ravel().tolist(),
                      "statistics": [np.asarray(a).tolist() for a in jax.tree.leaves((new.inputs, new.outputs))]}
        if mesh is not None:
            hlo = step.lower(m, s, b).compile().compiled.as_text()
            out["all_gathers"] = hlo.count("all-gather")
            fft = re.finditer(r"c(?:64|128)\\[([0-9,]+)\\][^\\n]*? fft\\(", hlo)
            out["fft_shapes"] = sorted({m.group(1) for m in fft})
            names = r"(all-reduce|all-to-all|collective-permute|reduce-scatter)"
            out["collectives"] = sorted(set(re.findall(names, hlo)))
            evaluate = lambda mdl, t, msh: train.rollout_nrmse(mdl, t, horizon=2, mesh=msh)
            out["eval_many"] = np.asarray(evaluate(m, b["trajectories"], mesh)).tolist()
            out["eval_one"] = np.asarray(evaluate(model, trajs, None)).tolist()
            ehlo = train._fit._split_rollout_nrmse.lower(m, b["trajectories"], None, mesh).compile().compiled.as_text()
            out["eval_all_gathers"] = ehlo.count("all-gather")
            efft = re.finditer(r"c(?:64|128)\\[([0-9,]+)\\][^\\n]*? fft\\(", ehlo)
            out["eval_fft_shapes"] = sorted({m.group(1) for m in efft})
    print("RESULT" + json.dumps(out))
""")


@pytest.mark.parametrize("n", [pytest.param(4, marks=pytest.mark.slow), 8])
def test_data_parallel_step_divides_the_fft_work(tmp_path, n):
    script = tmp_path / "dp.py"
    script.write_text(_SCRIPT)
    env = {
        **os.environ,
        "XLA_FLAGS": f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count={n}",
        "JAX_PLATFORMS": "cpu",
    }
    proc = subprocess.run([sys.executable, str(script), str(n)], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.split("RESULT", 1)[1])
    assert out["all_gathers"] == 0, out
    shapes = [tuple(int(d) for d in s.split(",")) for s in out["fft_shapes"]]
    assert shapes, "no FFT found in the compiled step"
    # (trajectories, frames, width, 16, 9): the global batch of 16 trajectories split over n
    assert all(s[:2] == (16 // n, 2) for s in shapes), (n, shapes)
    assert out["collectives"] == ["all-reduce"], out["collectives"]  # the loss and gradient means only
    np.testing.assert_allclose(out["many"]["loss"], out["one"]["loss"], rtol=1e-10)
    np.testing.assert_allclose(out["many"]["weights"], out["one"]["weights"], rtol=1e-9, atol=1e-12)
    for label in ("one", "many"):  # adamw's weight decay leaves the normalisation statistics alone
        assert out[label]["statistics"] == out["statistics"], label
    # evaluation (rollout nRMSE) per device too: no gather, FFTs on B/n trajectories
    np.testing.assert_allclose(out["eval_many"], out["eval_one"], rtol=1e-10)
    assert out["eval_all_gathers"] == 0, out
    eval_shapes = [tuple(int(d) for d in s.split(",")) for s in out["eval_fft_shapes"]]
    assert eval_shapes and all(s[0] == 16 // n for s in eval_shapes), (n, eval_shapes)
