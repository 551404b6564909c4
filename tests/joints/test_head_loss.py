"""The descriptor heads' loss option (``heads.loss``) and ``mmsight joints train --set``."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest
import torch
import typer
from typer.testing import CliRunner

sys.path.insert(0, os.path.dirname(__file__))
from synth_mars import synthetic_arrays, synthetic_frames  # noqa: E402

from mmsight.cli.joints import joints_app, parse_overrides  # noqa: E402
from mmsight.joints.estimators import save_estimator, train_estimator  # noqa: E402
from mmsight.joints.model.config import ConfigError, MMJointsConfig, preset  # noqa: E402
from mmsight.joints.model.heads import DescriptorOutput, descriptor_loss  # noqa: E402
from mmsight.joints.pipeline import MMJointsBundle  # noqa: E402
from mmsight.joints.training import core_config_differences, save_core  # noqa: E402

torch.set_num_threads(1)


def test_descriptor_loss_values_by_hand() -> None:
    out = DescriptorOutput(xi=torch.tensor([[0.5, 0.2]]), kappa=torch.tensor([[1.0, 0.0]]),
                           xi_unit=torch.tensor([[0.0, 1.0]]))
    xi, kappa, unit = torch.tensor([[0.7, 0.2]]), torch.tensor([[0.5, 0.5]]), torch.tensor([[1.0, 1.0]])
    mse, parts = descriptor_loss(out, xi, kappa, unit, kind="mse")
    # xi: (0.04 + 0) / 2, kappa: (0.25 + 0.25) / 2, unit: (1 + 0) / 2
    assert parts["xi"] == pytest.approx(0.02) and parts["kappa"] == pytest.approx(0.25)
    assert float(mse) == pytest.approx(0.02 + 0.25 + 0.5)
    l1, parts = descriptor_loss(out, xi, kappa, unit, kind="l1")
    assert parts["xi"] == pytest.approx(0.1) and parts["kappa"] == pytest.approx(0.5)
    assert float(l1) == pytest.approx(0.1 + 0.5 + 0.5)
    with pytest.raises(ValueError, match="kind must be 'mse' or 'l1'"):
        descriptor_loss(out, xi, kappa, unit, kind="huber")
    # heads.unit_weight scales only the scale-1 term
    quarter, _ = descriptor_loss(out, xi, kappa, unit, unit_weight=0.25, kind="mse")
    assert float(quarter) == pytest.approx(0.02 + 0.25 + 0.25 * 0.5)


@pytest.mark.parametrize("kind, expected", [("mse", 0.8), ("l1", 1.0)])
def test_loss_minimiser_is_mean_for_mse_and_median_for_l1(kind: str, expected: float) -> None:
    """Why the option exists: on a 0/1 target (kappa of a joint that is right 80 % of the time) MSE
    learns the mean 0.8, L1 the median 1, which is what an absolute-error metric (wMAPE) rewards."""
    target = torch.tensor([[1.0] * 8 + [0.0] * 2])
    logit = torch.zeros(1, requires_grad=True)
    opt = torch.optim.Adam([logit], lr=0.05)
    for _ in range(800):
        k = torch.sigmoid(logit).expand_as(target)
        loss, _ = descriptor_loss(DescriptorOutput(xi=target, kappa=k, xi_unit=target), target, target, None, kind=kind)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(torch.sigmoid(logit).detach()) == pytest.approx(expected, abs=0.03)
    wmape = float(torch.abs(torch.sigmoid(logit).detach() - target).sum() / target.sum())
    assert wmape == pytest.approx({"mse": 0.4, "l1": 0.25}[kind], abs=0.02)


def test_config_rejects_unknown_head_loss() -> None:
    with pytest.raises(ConfigError, match="heads.loss must be one of mse, l1"):
        MMJointsConfig.from_dict({"heads": {"loss": "hinge"}}, base=preset("tiny"))
    assert MMJointsConfig.from_dict({"heads": {"loss": "l1"}}, base=preset("tiny")).heads.loss == "l1"
    assert preset("paper").heads.loss == "mse"  # the paper's eq. 20 stays the default
    with pytest.raises(ConfigError, match="heads.unit_weight must be >= 0"):
        MMJointsConfig.from_dict({"heads": {"unit_weight": -1}}, base=preset("tiny"))


def test_parse_overrides() -> None:
    assert parse_overrides(["heads.loss=l1", "heads.epochs=3", "surrogate.lr=1e-4", "threads=2"]) == {
        "heads": {"loss": "l1", "epochs": 3}, "surrogate": {"lr": 1e-4}, "threads": 2}
    for bad in ("heads.loss", "=3", "heads..loss=l1", "heads.loss=[1,"):
        with pytest.raises(typer.BadParameter):
            parse_overrides([bad])
    with pytest.raises(typer.BadParameter, match="conflicts"):
        parse_overrides(["threads=1", "threads.x=2"])


def test_core_config_differences_ignores_only_optimisation_settings() -> None:
    base = preset("tiny")
    same = MMJointsConfig.from_dict({"heads": {"loss": "l1", "epochs": 2}, "downstream": {"lr": 1e-4}}, base=base)
    assert core_config_differences(base, same) == []
    other = MMJointsConfig.from_dict({"heads": {"hourglass": [16, 8, 16]}, "signal": {"window": 5}}, base=base)
    diff = core_config_differences(base, other)
    assert any(d.startswith("heads.hourglass") for d in diff) and any(d.startswith("signal.window") for d in diff)


def test_cli_train_on_core_with_l1_heads(tiny_core, tmp_path) -> None:
    arr = synthetic_arrays(seed=0)  # the data of the session's tiny core
    data = tmp_path / "synth.npz"
    np.savez(data, **arr)
    core = tmp_path / "core"
    save_core(tiny_core, str(core))
    est = tmp_path / "est.safetensors"
    save_estimator(train_estimator("mars_cnn", synthetic_frames(seed=0), 1, log=None).estimator, est)
    app = typer.Typer()
    app.add_typer(joints_app, name="joints")
    runner = CliRunner()
    base = ["joints", "train", "--data", str(data), "--core", str(core), "--estimator", str(est), "--no-ablations",
            "--no-downstream"]
    r = runner.invoke(app, base + ["--out", str(tmp_path / "bad"), "--set", "signal.window=5"])
    assert r.exit_code != 0 and "cannot change the core's settings" in r.output and "signal.window" in r.output
    r = runner.invoke(app, base + ["--out", str(tmp_path / "bad"), "--set", "heads.los=l1"])
    assert r.exit_code != 0 and "unknown key(s) in config.heads: los" in r.output
    assert not (tmp_path / "bad").exists()
    ck = tmp_path / "ck"
    r = runner.invoke(app, base + ["--out", str(ck), "--set", "heads.loss=l1", "--set", "heads.epochs=2"])
    assert r.exit_code == 0, r.output
    assert "L1 xi" in r.output  # the heads' log names the loss it optimises
    bundle = MMJointsBundle.load(ck)
    assert bundle.model.config.heads.loss == "l1" and bundle.model.config.heads.epochs == 2
    assert core_config_differences(tiny_core.model.config, bundle.model.config) == []


def test_stage_seed_replicates_the_estimator_stages_on_one_core(tiny_core, synth_frames) -> None:
    from synth_mars import lookup_estimator

    from mmsight.joints.training import train_mmjoints

    base = preset("tiny")
    assert base.stage_seed is None and base.estimator_stage_seed == base.seed
    with pytest.raises(ConfigError, match="stage_seed must be None or >= 0"):
        MMJointsConfig.from_dict({"stage_seed": -1}, base=base)
    # a replicate may change stage_seed and keep the core
    rep1 = MMJointsConfig.from_dict({"stage_seed": 1, "downstream": {"activity_seeds": 1}}, base=base)
    assert core_config_differences(base, rep1) == []
    est = lookup_estimator(synth_frames)
    heads = {}
    for name, cfg in (("none", MMJointsConfig.from_dict({"downstream": {"activity_seeds": 1}}, base=base)),
                      ("zero", MMJointsConfig.from_dict({"stage_seed": 0, "downstream": {"activity_seeds": 1}}, base=base)),
                      ("one", rep1)):
        cfg = MMJointsConfig.from_dict({"heads": {"epochs": 2}, "surrogate": {"epochs": 2}}, base=cfg)
        rep = train_mmjoints(synth_frames, est, cfg, core=tiny_core, ablations=False, downstream=False, log=None)
        heads[name] = torch.cat([p.detach().flatten() for p in rep.bundle.model.descriptor.parameters()])
    assert torch.equal(heads["none"], heads["zero"])  # None means the core's seed (0)
    assert not torch.allclose(heads["none"], heads["one"])  # another replicate: other weights


def test_heads_torso_mean_sets_d0_of_the_estimator_stages(tiny_core, synth_frames) -> None:
    from synth_mars import lookup_estimator

    from mmsight.joints.evaluate import evaluate_bundle
    from mmsight.joints.training import train_mmjoints

    base = preset("tiny")
    for bad in (0, -0.2, 5.0, "20cm", True):
        with pytest.raises(ConfigError, match="heads.torso_mean"):
            MMJointsConfig.from_dict({"heads": {"torso_mean": bad}}, base=base)
    cfg = MMJointsConfig.from_dict({"heads": {"torso_mean": 0.2, "epochs": 2}, "surrogate": {"epochs": 2},
                                    "downstream": {"activity_seeds": 1}}, base=base)
    assert core_config_differences(base, cfg) == []  # an estimator-stage setting: the core is reused
    assert tiny_core.reference.torso_mean > 0.3  # the synthetic torso: the default D0 differs
    rep = train_mmjoints(synth_frames, lookup_estimator(synth_frames), cfg, core=tiny_core, ablations=False,
                         downstream=False, log=None)
    ref = rep.bundle.descriptor_reference
    assert ref.torso_mean == pytest.approx(0.2)
    assert ref.psi_mean == tiny_core.reference.psi_mean  # only D0 changes
    assert rep.bundle.reference.torso_mean == tiny_core.reference.torso_mean  # PCK keeps the training torso
    assert float(rep.bundle.model.descriptor.frame_encoder.reference[2]) == pytest.approx(0.2)
    res = evaluate_bundle(rep.bundle, synth_frames, split="validate")
    assert res["kappa_torso_mean_m"] == pytest.approx(0.2)
    # the same bundle read with the training D0: other kappa truth, same poses and PCK
    rep.bundle.config.heads.torso_mean = None
    res_default = evaluate_bundle(rep.bundle, synth_frames, split="validate")
    assert res_default["kappa_torso_mean_m"] == pytest.approx(tiny_core.reference.torso_mean)
    shares = lambda r: [b["share_joints"] for b in r["table7"]["kappa_by_threshold_distance"]]  # noqa: E731
    assert shares(res) != shares(res_default)
    assert res["table11"]["before"] == res_default["table11"]["before"]


def test_heads_units_per_metre_is_an_estimator_stage_setting(tiny_core, synth_frames, tmp_path) -> None:
    """The reading of eq. 2 that the paper's tables imply (D0 = 0.2 m, sigmoid on metres) reuses a
    core trained with the default reading, and the evaluation's kappa truth follows it."""
    from synth_mars import lookup_estimator

    from mmsight.joints.descriptors import kappa_midpoint
    from mmsight.joints.evaluate import evaluate_bundle
    from mmsight.joints.training import train_mmjoints

    base = MMJointsConfig.from_dict({"heads": {"units_per_metre": 100.0}}, base=preset("tiny"))  # a cm core
    assert preset("tiny").heads.units_per_metre == 1.0 and preset("paper").heads.units_per_metre == 1.0
    with pytest.raises(ConfigError, match="heads.units_per_metre"):
        MMJointsConfig.from_dict({"heads": {"units_per_metre": 0}}, base=base)
    with pytest.raises(ConfigError, match="downstream.standardize_descriptors"):
        MMJointsConfig.from_dict({"downstream": {"standardize_descriptors": "yes"}}, base=base)
    assert core_config_differences(
        base, MMJointsConfig.from_dict({"downstream": {"standardize_descriptors": True}}, base=base)) == []
    cfg = MMJointsConfig.from_dict({"heads": {"torso_mean": 0.2, "units_per_metre": 1.0, "epochs": 2},
                                    "surrogate": {"epochs": 2}, "downstream": {"activity_seeds": 1}}, base=base)
    assert core_config_differences(base, cfg) == []
    rep = train_mmjoints(synth_frames, lookup_estimator(synth_frames), cfg, core=tiny_core, ablations=False,
                         downstream=False, log=None)
    assert rep.bundle.units_per_metre == 1.0
    assert float(rep.bundle.model.descriptor.frame_encoder.reference[3]) == 1.0
    # a checkpoint keeps its unit; one written before descriptor standardisation existed reads as raw
    import json

    from mmsight.joints.pipeline import MMJointsBundle

    rep.bundle.save(tmp_path / "ck")
    assert MMJointsBundle.load(tmp_path / "ck").units_per_metre == 1.0
    meta = json.loads((tmp_path / "ck" / "config.json").read_text())
    assert meta["config"]["downstream"].pop("standardize_descriptors") is True
    (tmp_path / "ck" / "config.json").write_text(json.dumps(meta))
    assert MMJointsBundle.load(tmp_path / "ck").config.downstream.standardize_descriptors is False
    res = evaluate_bundle(rep.bundle, synth_frames, split="validate")
    assert res["kappa_units_per_metre"] == 1.0 and res["kappa_torso_mean_m"] == pytest.approx(0.2)
    kmid = kappa_midpoint(0.2, units_per_metre=1.0)
    assert kmid == pytest.approx(0.5 / (1 - 1 / (1 + np.exp(0.1))), rel=1e-9)  # 0.5 / f(0), ~0.952
    rep.bundle.config.heads.units_per_metre = 100.0  # the same bundle read on centimetres
    res_cm = evaluate_bundle(rep.bundle, synth_frames, split="validate")
    assert res_cm["kappa_units_per_metre"] == 100.0
    # the correct / incorrect split is D <= D0 / 2 in either unit: the same ground-truth joint types
    assert res["table1"]["ground_truth"] == res_cm["table1"]["ground_truth"]
    assert res["table11"]["before"] == res_cm["table11"]["before"]
    # the kappa truth is not: kappa = 1 errs by a different amount against the two readings
    one = lambda r: r["table7"]["baselines"]["kappa_one"]["wmape"]  # noqa: E731
    assert one(res) != pytest.approx(one(res_cm), rel=1e-3)
