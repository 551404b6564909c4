"""Simulated rehab datasets as MARS-format files (mmsight.joints.sim_data, `joints import-sim`)."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from mmsight.data import open_dataset
from mmsight.joints.mars_data import MarsDataError, frames_from_arrays, load_mars_npz
from mmsight.joints.sim_data import sim_rehab_arrays, write_mars_npz


@pytest.fixture(scope="module")
def rehab_dir(tmp_path_factory):
    from mmsight.sim.runner import simulate

    out = tmp_path_factory.mktemp("sim") / "rehab"
    # 8 frames x 20 sequences (two per movement: one train, one validate), radar only
    simulate("rehab", out, sequences=20, seed=3, tiny=True, config={"camera": False, "n_frames": 8}, progress=False)
    return out


def test_conversion_keeps_points_skeleton_labels_and_splits(rehab_dir, tmp_path) -> None:
    ds = open_dataset(rehab_dir)
    arrays, rep = sim_rehab_arrays(rehab_dir, max_points=None)
    assert rep.sequences == len(ds.sequence_ids) == 20 and rep.points_dropped == 0
    path = write_mars_npz(arrays, tmp_path / "sim.npz")
    fr = load_mars_npz(path, check_time=True)
    assert fr.n_frames == rep.frames == 20 * 8
    # one run per sequence, even where neighbours share subject, movement and split
    assert fr.summary()["runs"] == 20
    split_code = {"train": 0, "validate": 1, "test": 2}
    for k, sid in enumerate(ds.sequence_ids):
        rec = ds.read_sequence(sid)
        rows = np.flatnonzero(fr.recording == k)
        assert len(rows) == rec.n_frames
        np.testing.assert_array_equal(fr.joints_kinect[rows], rec.skeleton[:, :25])
        assert set(fr.subject[rows]) == {rec.sequence_labels["subject"]}
        assert set(fr.movement[rows]) == {rec.sequence_labels["movement"]}
        want = next(split_code[n] for n, ids in ds.splits.items() if sid in ids)
        assert set(fr.split[rows]) == {want}
        np.testing.assert_allclose(np.diff(fr.time[rows]), np.diff(rec.timestamps))
        lo, hi = fr.frame_offsets[rows[0]], fr.frame_offsets[rows[-1] + 1]
        pts = fr.points[lo:hi]
        np.testing.assert_allclose(pts[:, :4], rec.points[:, :4])
        # SNR (dB) -> linear power ratio, MARS's intensity scale
        np.testing.assert_allclose(pts[:, 4], 10.0 ** (rec.points[:, 4] / 10.0), rtol=1e-5)
    assert set(np.unique(fr.split).tolist()) == {split_code[n] for n in ds.splits} == {0, 1}


def test_point_cap_keeps_the_strongest_in_stored_order(rehab_dir) -> None:
    full, _ = sim_rehab_arrays(rehab_dir, max_points=None)
    counts = np.diff(full["frame_offsets"])
    cap = max(1, int(np.median(counts)) // 2)
    capped, rep = sim_rehab_arrays(rehab_dir, max_points=cap)
    new_counts = np.diff(capped["frame_offsets"])
    np.testing.assert_array_equal(new_counts, np.minimum(counts, cap))
    assert rep.points_dropped == int(counts.sum() - new_counts.sum()) > 0
    assert rep.frames_capped == int((counts > cap).sum())
    f = int(np.argmax(counts))
    a = full["points"][full["frame_offsets"][f]:full["frame_offsets"][f + 1]]
    b = capped["points"][capped["frame_offsets"][f]:capped["frame_offsets"][f + 1]]
    keep = np.sort(np.argsort(-a[:, 4], kind="stable")[:cap])
    np.testing.assert_array_equal(b, a[keep])
    with pytest.raises(ValueError, match="max_points"):
        sim_rehab_arrays(rehab_dir, max_points=0)


def test_datasets_that_are_not_rehab_are_rejected(tmp_path) -> None:
    from mmsight.data import DatasetWriter, SequenceRecord

    w = DatasetWriter(tmp_path / "walks", task="custom")
    pts = np.zeros((3, 5), np.float32)
    pts[:, 1] = 2.0
    w.write_sequence(SequenceRecord("a", np.arange(3, dtype=np.float64), points=pts,
                                    point_offsets=np.array([0, 1, 2, 3], np.int64), sequence_labels={"subject": 1}))
    w.finalize(splits={"train": ["a"]})
    with pytest.raises(MarsDataError, match="'a' has no Kinect V2 skeleton"):
        sim_rehab_arrays(tmp_path / "walks")


def test_frame_recording_is_checked_and_splits_runs() -> None:
    from mmsight.joints.mars_data import make_synthetic_arrays

    arr = make_synthetic_arrays(n_runs=2, frames_per_run=20, seed=0)
    n = arr["frame_subject"].shape[0]
    without = frames_from_arrays(arr).run_id
    assert without[5] == without[4]  # inside the first run
    rec = np.zeros(n, np.int64)
    rec[5:] = 1  # a recording boundary inside that run
    with_rec = frames_from_arrays(dict(arr, frame_recording=rec)).run_id
    assert with_rec[5] != with_rec[4]
    assert with_rec[-1] == without[-1] + 1  # one run more
    with pytest.raises(MarsDataError, match="frame_recording"):
        frames_from_arrays(dict(arr, frame_recording=rec[:-1]))
    with pytest.raises(MarsDataError, match="frame_recording"):
        frames_from_arrays(dict(arr, frame_recording=rec.astype(np.float32)))


def test_cli_import_sim_then_evaluate_runs_unchanged(rehab_dir, tmp_path) -> None:
    from mmsight.cli.joints import joints_app

    out = tmp_path / "sim.npz"
    r = CliRunner().invoke(joints_app, ["import-sim", str(rehab_dir), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "20 sequences, 160 frames" in r.output and out.exists()
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".tmp_")]
    r = CliRunner().invoke(joints_app, ["evaluate", "--data", str(out), "--out", str(tmp_path / "ev")])
    assert r.exit_code == 0, r.output
    import json

    res = json.loads((tmp_path / "ev" / "results.json").read_text())
    est = next(iter(res["estimators"].values()))
    assert est["n_samples"] > 0 and np.isfinite(est["table7"]["kappa"]["wmape"])


def test_results_name_the_shipped_checkpoint_without_a_machine_path(rehab_dir, tmp_path) -> None:
    import json

    from mmsight.cli.joints import joints_app

    out = tmp_path / "sim.npz"
    assert CliRunner().invoke(joints_app, ["import-sim", str(rehab_dir), "--out", str(out)]).exit_code == 0
    r = CliRunner().invoke(joints_app, ["evaluate", "--data", str(out), "--out", str(tmp_path / "ev")])
    assert r.exit_code == 0, r.output
    ck = next(iter(json.loads((tmp_path / "ev" / "results.json").read_text())["checkpoints"].values()))
    assert ck["path"] == "mmsight:joints/assets/mmjoints_mars_cnn"
