"""``jaxpde train`` / ``jaxpde evaluate`` on the reduced-order-model configs: each runs one
step end to end (data, training, checkpoint, restore, interpolation/extrapolation report,
plots), and bad ROM sections give one-line errors."""

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from jaxpde.cli import main

ROOT = Path(__file__).parent.parent / "configs"
CONFIGS = sorted([*ROOT.glob("phirom_*.yaml"), *ROOT.glob("dino_*.yaml"), *ROOT.glob("pinn_rom_*.yaml")])


def _shrink(raw: dict) -> dict:
    raw = json.loads(json.dumps(raw))
    if "train_parameters" in raw["data"]:  # listed: two training values, one test value inside and one outside
        for name, values in raw["data"]["train_parameters"].items():
            raw["data"]["train_parameters"][name] = [values[0], values[-1]]
            raw["data"]["test_parameters"][name] = [(values[0] + values[-1]) / 2, 2 * values[-1] - values[0]]
    else:
        raw["data"]["train_samples"], raw["data"]["test_samples"] = 2, 1
    raw["training"].update(num_steps=1, batch_size=2, checkpoint_every=1, eval_every=0)
    raw["rom"].update(encode_steps=3, warmup_steps=0)
    raw["model"]["decoder"].update(width=16, depth=2)
    raw["model"]["dynamics"] = {"width": 16, "depth": 1}
    return raw


def test_every_method_has_configs():
    names = {p.stem for p in CONFIGS}
    for case in ("burgers", "diffusion", "navier_stokes", "kdv"):
        assert {f"phirom_{case}", f"dino_{case}"} <= names
    assert {"pinn_rom_burgers", "phirom_burgers_paper", "dino_burgers_paper", "pinn_rom_burgers_paper"} <= names


def _train_one_step(path, tmp_path, capsys, **rom):
    cfg = tmp_path / path.name
    raw = _shrink(yaml.safe_load(path.read_text()))
    raw["rom"].update(rom)
    cfg.write_text(yaml.safe_dump(raw))
    run = tmp_path / "run"
    assert main(["train", str(cfg), "--out", str(run), "--no-progress"]) == 0
    assert "unseen relative L2 error" in capsys.readouterr().out
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert np.isfinite(records[0]["loss"])
    final = records[-1]["eval"]
    assert np.isfinite(final["unseen_interpolation"]) and np.isfinite(final["unseen_extrapolation"])
    assert (run / "checkpoints").is_dir()
    return run


# The whole train -> restore -> evaluate path for every config (each trains one step
# first): the small Burgers config in the default suite (~12 s on 2 cores; the main
# job's, on the paper's grid, takes ~30 s), the others (sparse ones included) with -m slow.
EVALUATED = ("phirom_burgers",)


@pytest.mark.parametrize(
    "path",
    [pytest.param(p, marks=() if p.stem in EVALUATED else pytest.mark.slow) for p in CONFIGS],
    ids=[p.stem for p in CONFIGS],
)
def test_every_rom_config_evaluates(path, tmp_path, capsys):
    shipped = yaml.safe_load(path.read_text())["rom"]
    # the default-suite case also forecasts with the solver's projected velocity
    projected = shipped.get("projected_forecast", False) or path.stem in EVALUATED
    run = _train_one_step(path, tmp_path, capsys, projected_forecast=projected)
    assert main(["evaluate", str(run), "--no-progress"]) == 0
    ev = json.loads((run / "eval.json").read_text())
    assert ev["step"] == 1 and ev["t_train"] < ev["t_test"]
    sparse = shipped.get("observed_fraction") is not None
    # the model, the decoder's best fit to every frame, POD-Galerkin (needs full fields),
    # and with rom.projected_forecast the solver-projected forecast
    assert len(ev["errors"]) == (2 if sparse else 3) + projected
    assert sum(name.endswith("decoder best fit") for name in ev["errors"]) == 1
    assert sum(name.endswith("solver-projected dynamics") for name in ev["errors"]) == projected
    assert ("pod_galerkin" in ev) == sparse
    listed = "train_parameters" in yaml.safe_load(path.read_text())["data"]
    for errors in ev["errors"].values():
        splits = ("seen", "unseen") + (("unseen_interpolating", "unseen_out_of_range") if listed else ())
        assert set(errors) == set(splits)
        for split in splits:
            assert np.isfinite(errors[split]["interpolation"]) and np.isfinite(errors[split]["extrapolation"])
    assert (run / "rom_errors.png").exists() and (run / "loss.png").exists()


def test_dynamics_refit_is_checkpointed_once_and_survives_a_resume(tmp_path, capsys):
    """``rom.dynamics_fit_steps``: after training, Ψ is refit to the full-grid projected
    velocity, checkpointed one step after the last and recorded in the history; a resumed
    run restores the refit model and neither refits it nor loses the record."""
    run = _train_one_step(ROOT / "phirom_burgers.yaml", tmp_path, capsys, dynamics_fit_steps=50)
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    fits = [r["dynamics_fit"] for r in records if "dynamics_fit" in r]
    assert len(fits) == 1 and fits[0]["steps"] == 50 and fits[0]["loss_after"] < fits[0]["loss_before"]
    assert sorted(int(p.name) for p in (run / "checkpoints").iterdir() if p.name.isdigit())[-2:] == [1, 2]
    cfg = str(tmp_path / "phirom_burgers.yaml")
    assert main(["train", cfg, "--out", str(run), "--resume", "--no-progress"]) == 0
    assert "dynamics refit" not in capsys.readouterr().out
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["dynamics_fit"] for r in records if "dynamics_fit" in r] == fits
    assert main(["evaluate", str(run), "--no-progress"]) == 0
    assert json.loads((run / "eval.json").read_text())["step"] == 1


PAPER = ROOT / "phirom_burgers_paper.yaml"


def _variant(tmp_path, edit, name="case.yaml", base=PAPER):
    raw = yaml.safe_load(base.read_text())
    edit(raw)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(raw))
    return path


def _set(section, **kv):
    def edit(raw):
        raw[section].update(kv)

    return edit


def _drop(section, key):
    def edit(raw):
        raw[section].pop(key)

    return edit


BAD = [
    (_set("data", test_parameters={"source.amplitude": [0.02]}), "must name the same parameters"),
    (_drop("data", "test_parameters"), "missing key 'data.test_parameters'"),
    (_set("data", train_samples=3), r"data.train_samples' \(3\) differs from the 8 listed"),
    (_set("data", train_parameters={"source.rat": [0.1]}, test_parameters={"source.rat": [0.1]}), "source.rate"),
    (_set("data", online=True), "data.online"),
    (_set("data", parameter_ranges={"source.rate": [0.01, 0.02]}), "both set"),
    (lambda raw: raw["data"].update(t_final=14.0, num_frames=10), "belongs to CFL-limited runs"),
    (
        lambda raw: [raw["data"].pop(k) for k in ("dt", "num_steps", "save_every")] and raw["data"].update(t_final=1.0),
        "training data takes fixed steps",
    ),
    (_set("data", source={"kind": "exponentiel"}), "did you mean 'exponential'"),
    (_set("data", boundary=[["fixed", "nowhere"]]), "boundary"),
    (_set("training", schedule="cosine"), "training.decay_rate' applies to 'schedule: exponential'"),
    (
        lambda raw: raw["training"].pop("learning_rate") and raw["training"].update(learning_rates={"decoder": 0.01}),
        r"missing \['dynamics', 'latents'\]",
    ),
    (
        _set("training", learning_rates={"decoder": 0.01, "latents": 0.001, "dynamics": 0.001}),
        "learning_rate' is not used when training.learning_rates",
    ),
    (_set("rom", teacher_forcing_steps=10), "applies to 'dino'"),
    (_set("rom", dynamics_fit_steps=-1), "rom.dynamics_fit_steps"),
    (_set("rom", dynamics_fit_learning_rate=0), "rom.dynamics_fit_learning_rate"),
    (_set("training", batch_size=801), "exceeds the number of training snapshots"),
]


@pytest.mark.parametrize("edit, message", BAD, ids=[m[:30] for _, m in BAD])
def test_bad_paper_config_keys_give_one_line_errors(edit, message, tmp_path):
    from jaxpde import app

    with pytest.raises(app.ConfigError, match=message):
        app.load(_variant(tmp_path, edit))


def test_dino_specific_keys(tmp_path):
    from jaxpde import app

    dino = ROOT / "dino_burgers.yaml"
    with pytest.raises(app.ConfigError, match="'dino' fits whole latent trajectories"):
        app.load(_variant(tmp_path, _set("rom", batch="snapshots"), base=dino))
    with pytest.raises(app.ConfigError, match="dynamics_fit_steps' applies to the physics-informed"):
        app.load(_variant(tmp_path, _set("rom", dynamics_fit_steps=10), base=dino))
    with pytest.raises(app.ConfigError, match="needs rom.teacher_forcing_steps"):
        app.load(_variant(tmp_path, _set("rom", teacher_forcing_steps=0, teacher_forcing_decay_rate=0.9), base=dino))
    with pytest.raises(app.ConfigError, match="learning_rates' applies to reduced-order models"):
        app.load(
            _variant(
                tmp_path, _set("training", learning_rates={"decoder": 1.0}), base=ROOT / "train_fno_burgers1d.yaml"
            )
        )
    _, cfg = app.load(
        _variant(
            tmp_path,
            lambda raw: (
                raw["training"].pop("learning_rate")
                and raw["training"].update(learning_rates={"decoder": 0.01, "latents": 0.001, "dynamics": 0.001})
            ),
            base=dino,
        )
    )
    assert cfg.training["learning_rates"]["decoder"] == 0.01
    # from the command line: --set KEY=null removes a key, so its default applies
    _, cfg = app.load(
        ROOT / "phirom_burgers_paper.yaml",
        overrides=[
            "training.learning_rate=null",
            "training.learning_rates={decoder: 0.005, latents: 0.02, dynamics: 0.005}",
        ],
    )
    assert cfg.training["learning_rates"]["latents"] == 0.02 and "learning_rate" not in cfg.raw["training"]


@pytest.mark.slow  # ~3.5 min on 2 cores: the shipped config, end to end
def test_sparse_navier_stokes_rom_forecasts_unseen_states(tmp_path, capsys):
    """The shipped sparse (5 %) Navier–Stokes Φ-ROM at full coupling: measured 0.129 / 0.306
    on unseen initial states, with the decoder's best fit to the full fields at 0.084. A
    decoder that fits the observed points and nothing between them gives ~1 for both."""
    run = tmp_path / "run"
    assert main(["train", str(ROOT / "phirom_navier_stokes.yaml"), "--out", str(run), "--no-progress"]) == 0
    assert main(["evaluate", str(run), "--no-progress"]) == 0
    errors = json.loads((run / "eval.json").read_text())["errors"]
    model, best = errors["Φ-ROM"]["unseen"], errors["Φ-ROM: decoder best fit"]["unseen"]
    assert model["interpolation"] < 0.25 and model["extrapolation"] < 0.5, model
    assert best["interpolation"] < 0.2, best
