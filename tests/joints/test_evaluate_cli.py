"""mmJoints evaluation metrics and the ``joints`` command line (train -> evaluate -> describe)."""

from __future__ import annotations

import csv
import json
import os
import sys

import numpy as np
import pytest
import torch
import typer
from typer.testing import CliRunner

sys.path.insert(0, os.path.dirname(__file__))
from synth_mars import synthetic_arrays  # noqa: E402

from mmsight.cli.joints import joints_app  # noqa: E402
from mmsight.joints.evaluate import (  # noqa: E402
    MARS19_BONES,
    auto_split,
    default_checkpoint,
    descriptor_errors,
    smape,
    wmape,
)
from mmsight.joints.mars_data import frames_from_arrays  # noqa: E402

torch.set_num_threads(1)

app = typer.Typer()
app.add_typer(joints_app, name="joints")
runner = CliRunner()


def test_wmape_and_smape_by_hand() -> None:
    y = np.array([[1.0, 0.5], [0.0, 2.0]])
    f = np.array([[0.9, 0.5], [0.1, 1.0]])
    assert wmape(f, y) == pytest.approx(100 * (0.1 + 0 + 0.1 + 1.0) / 3.5)
    # terms: 2*0.1/1.9, 0, 2*0.1/0.1 = 2, 2*1/3
    assert smape(f, y) == pytest.approx(100 * (0.2 / 1.9 + 0 + 2.0 + 2 / 3) / 4)
    assert smape(np.zeros(3), np.zeros(3)) == 0.0  # 0/0 counts as no error
    assert np.isnan(wmape(np.ones(2), np.zeros(2)))
    assert smape(np.ones(4), np.ones(4) * 3) <= 200
    d = descriptor_errors(f, y)
    assert d["mae"] == pytest.approx(0.3) and len(d["wmape_joint"]) == 2


def test_auto_split_and_bones() -> None:
    arr = synthetic_arrays(n_subjects=1, n_movements=1, frames_per_run=5)
    assert auto_split(frames_from_arrays(arr)) == "validate"
    arr["frame_split"][:] = 2
    assert auto_split(frames_from_arrays(arr)) == "test"
    arr["frame_split"][:] = 0
    assert auto_split(frames_from_arrays(arr)) == "all"
    assert len(MARS19_BONES) == 18 and len({j for b in MARS19_BONES for j in b}) == 19  # a tree over 19 joints


@pytest.fixture(scope="module")
def synth_npz(tmp_path_factory):
    d = tmp_path_factory.mktemp("joints_cli")
    path = d / "synth.npz"
    np.savez(path, **synthetic_arrays(n_subjects=2, n_movements=3, frames_per_run=30, seed=4))
    return d, path


def test_cli_train_evaluate_describe(synth_npz) -> None:
    d, data = synth_npz
    ck, ev, desc = d / "ck", d / "eval", d / "desc"
    r = runner.invoke(app, ["joints", "train", "--data", str(data), "--out", str(ck), "--config", "tiny",
                            "--estimator", "mars_cnn", "--estimator-epochs", "2"])
    assert r.exit_code == 0, r.output
    assert (ck / "model.safetensors").is_file() and (ck / "estimator.safetensors").is_file()

    r = runner.invoke(app, ["joints", "evaluate", "--data", str(data), "--checkpoint", str(ck), "--out", str(ev)])
    assert r.exit_code == 0, r.output
    res = json.loads((ev / "results.json").read_text())
    assert res["split"] == "validate"
    (name, est), = res["estimators"].items()
    assert name == "mars_cnn" and est["n_samples"] > 0
    for table in ("table1", "table4", "table6", "table7", "table10", "table11", "table12_13"):
        assert table in est
    for k in ("smape", "wmape"):
        assert np.isfinite(est["table7"]["xi"][k]) and np.isfinite(est["table7"]["kappa"][k])
    assert set(est["table10"]["a_descriptor_mse"]) == {"pred", "pred_signal", "pred_signal_refine"}
    assert {"before", "after", "pose_only_control"} <= set(est["table11"])
    assert set(est["table12_13"]["accuracy"]) == {"pose", "pose_xi", "pose_xi_kappa", "pose_gt_descriptors"}
    ckinfo = res["checkpoints"]["mars_cnn"]
    assert ckinfo["path"] == str(ck) and ckinfo["config"]["name"] == "tiny"
    assert (ev / "results.md").read_text().startswith("# mmJoints evaluation")

    r = runner.invoke(app, ["joints", "describe", "--data", str(data), "--checkpoint", str(ck), "--out", str(desc)])
    assert r.exit_code == 0, r.output
    z = np.load(desc / "descriptors.npz")
    n_frames = 2 * 3 * 2 * 30
    assert z["joints"].shape == (n_frames, 19, 3) and z["xi"].shape == z["kappa"].shape == (n_frames, 19)
    assert ((z["xi"] > 0) & (z["xi"] < 1)).all() and ((z["kappa"] > 0) & (z["kappa"] < 1)).all()
    with open(desc / "descriptors.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == n_frames * 19 and set(rows[0]) == {"frame", "joint", "name", "x", "y", "z", "xi", "kappa"}
    assert float(rows[0]["xi"]) == pytest.approx(float(z["xi"][0, 0]), abs=1e-4)
    assert (desc / "skeleton.png").stat().st_size > 10_000


def test_cli_errors(synth_npz, tmp_path) -> None:
    _, data = synth_npz
    r = runner.invoke(app, ["joints", "describe", "--data", str(data), "--out", str(tmp_path), "--format", "xml",
                            "--checkpoint", str(tmp_path)])
    assert r.exit_code != 0
    r = runner.invoke(app, ["joints", "evaluate", "--data", str(tmp_path / "nope.npz")])
    assert r.exit_code != 0
    (tmp_path / "bad.yaml").write_text("pose:\n  latnt_dim: 3\n")
    r = runner.invoke(app, ["joints", "train", "--data", str(data), "--out", str(tmp_path / "x"), "--config",
                            str(tmp_path / "bad.yaml")])
    assert r.exit_code != 0 and "latnt_dim" in str(r.exception)


@pytest.mark.skipif(not (default_checkpoint() / "model.safetensors").is_file(), reason="no shipped checkpoint")
def test_shipped_checkpoint_describes_out_of_the_box(synth_npz, tmp_path) -> None:
    _, data = synth_npz
    size = sum(f.stat().st_size for f in default_checkpoint().iterdir())
    assert size < 5_000_000
    r = runner.invoke(app, ["joints", "describe", "--data", str(data), "--out", str(tmp_path), "--format", "npz"])
    assert r.exit_code == 0, r.output
    z = np.load(tmp_path / "descriptors.npz")
    assert z["xi"].shape[1] == 19 and np.isfinite(z["kappa"]).all()
