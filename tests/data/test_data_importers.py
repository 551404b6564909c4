"""MARS and RadHAR importers: counts checked against an independent reading of the npz files,
corrupt RadHAR rows reported, and the same importers on small synthetic files of the same format."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from data_helpers import MARS_NPZ, RADHAR_DIR, needs_mars, needs_radhar
from rich.console import Console

from mmsight.data import open_dataset
from mmsight.data.importers import import_mars, import_radhar
from mmsight.data.importers.radhar import RADHAR_MAX_SPEED_MPS, RADHAR_VELOCITY_RESOLUTION_MPS
from mmsight.data.summary import render_import_report, render_summary, summarize

# ------------------------------------------------------------------------------------- MARS


@pytest.fixture(scope="module")
def mars(tmp_path_factory):
    if not MARS_NPZ.is_file():
        pytest.skip("shared MARS data not found at <repo>/../shared/data/mars")
    out = tmp_path_factory.mktemp("mars") / "mars"
    report = import_mars(MARS_NPZ, out)
    with np.load(MARS_NPZ) as z:
        src = {k: z[k] for k in z.files}
    return report, open_dataset(out), src


@needs_mars
def test_mars_counts_match_source(mars):
    report, ds, z = mars
    split_names = {0: "train", 1: "validate", 2: "test"}
    assert report.n_frames == 32_099 == len(z["frame_subject"])  # the README's count
    assert report.n_points == len(z["points"])
    expected_split = {split_names[k]: int(v) for k, v in zip(*np.unique(z["frame_split"], return_counts=True))}
    assert report.counts["frames_per_split"] == expected_split == {"train": 24_066, "validate": 8_033}
    assert report.counts["frames_per_subject"] == {
        str(k): int(v) for k, v in zip(*np.unique(z["frame_subject"], return_counts=True))
    }
    assert report.counts["frames_per_movement"] == {
        str(k): int(v) for k, v in zip(*np.unique(z["frame_movement"], return_counts=True))
    }
    nan_frames = np.isnan(z["joints"]).all(axis=(1, 2))
    assert report.nan_skeleton_frames == int(nan_frames.sum()) == 7_112
    s1_train = (z["frame_subject"] == 1) & (z["frame_split"] == 0)
    assert np.array_equal(nan_frames, s1_train)  # NaN skeletons are exactly subject 1 train
    runs = [k for k, _ in itertools.groupby(zip(z["frame_subject"], z["frame_movement"], z["frame_split"]))]
    assert report.n_sequences == len(runs) == len(ds.sequence_ids) == 78
    assert report.rejected == [] and report.notes == []
    # what is on disk agrees
    for split, n in expected_split.items():
        assert sum(ds.n_frames(s) for s in ds.split(split)) == n
    assert report.elapsed_s < 60


@needs_mars
def test_mars_sequence_content(mars):
    _, ds, z = mars
    rec = ds.read_sequence("s2_m06_validate")
    src = rec.frame_labels["source_frame"]
    a, b = int(src[0]), int(src[-1]) + 1
    assert np.array_equal(src, np.arange(a, b))
    assert (z["frame_subject"][a:b] == 2).all() and (z["frame_movement"][a:b] == 6).all()
    assert (z["frame_split"][a:b] == 1).all()
    o = z["frame_offsets"]
    np.testing.assert_array_equal(rec.points, z["points"][o[a] : o[b]])
    np.testing.assert_array_equal(rec.point_offsets, o[a : b + 1] - o[a])
    np.testing.assert_array_equal(rec.skeleton, z["joints"][a:b])
    np.testing.assert_array_equal(rec.timestamps, z["frame_time"][a:b])
    assert rec.joint_names == tuple(z["joint_names"].tolist())
    assert rec.point_columns == ("x", "y", "z", "doppler", "intensity")
    assert rec.sequence_labels["movement_name"] == "squat" and rec.sequence_labels["subject"] == 2
    assert ds.read_sequence("s1_m01_train", ["skeleton"]).skeleton_valid.sum() == 0


@needs_mars
def test_mars_summary_renders(mars):
    report, ds, _ = mars
    s = summarize(ds.path)
    assert s["complete"] and s["n_frames"] == 32_099 and s["splits"]["train"]["frames"] == 24_066
    assert s["streams"]["skeleton"]["shape"] == "[F, 25, 3]"
    console = Console(width=120, record=True)
    console.print(render_summary(s))
    console.print(render_import_report(report))
    console.print(report)  # ImportReport renders itself (__rich__ / render())
    text = console.export_text()
    assert "32,099" in text and "validate" in text


def _mars_like(path, split_value: int, *, with_bad_point: bool = False):
    rng = np.random.default_rng(0)
    f = 30
    subject = np.array([3] * 12 + [3] * 8 + [4] * 10, np.int8)
    movement = np.array([1] * 12 + [2] * 8 + [2] * 10, np.int8)
    counts = rng.integers(1, 64, size=f)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    points = rng.normal(size=(int(offsets[-1]), 5)).astype(np.float32)
    if with_bad_point:
        points[offsets[13] + 0, 2] = np.nan  # frame 13
    t = 1.6e9 + np.arange(f) * 0.1
    t[25:] -= 100.0  # time jumps back inside the (4, 2) run
    np.savez(
        path,
        points=points,
        frame_offsets=offsets,
        frame_subject=subject,
        frame_movement=movement,
        frame_split=np.full(f, split_value, np.int8),
        frame_time=t,
        joints=rng.normal(size=(f, 25, 3)).astype(np.float32),
        joint_names=np.array([f"J{i}" for i in range(25)]),
    )
    return points, offsets


def test_mars_format_held_out_test_split(tmp_path):
    npz = tmp_path / "mars_test.npz"
    points, _ = _mars_like(npz, 2, with_bad_point=True)
    report = import_mars(npz, tmp_path / "out")
    ds = open_dataset(tmp_path / "out")
    assert ds.splits == {"test": ["s3_m01_test", "s3_m02_test", "s4_m02_test", "s4_m02_test_part2"]}
    assert report.counts["frames_per_split"] == {"test": 30}
    assert [ds.n_frames(s) for s in ds.split("test")] == [12, 8, 5, 5]
    assert len(report.rejected) == 1
    r = report.rejected[0]
    assert (r.frame, r.column, np.isnan(r.value)) == (13, "z", True)
    assert report.n_points == points.shape[0] - 1
    assert any("does not increase at frame 25" in n for n in report.notes)


def test_mars_resume_and_bad_input(tmp_path):
    npz = tmp_path / "m.npz"
    _mars_like(npz, 0)
    first = import_mars(npz, tmp_path / "out")
    with pytest.raises(Exception, match="already complete"):
        import_mars(npz, tmp_path / "out", resume=True)
    again = import_mars(npz, tmp_path / "out", overwrite=True)
    assert again.n_frames == first.n_frames
    bad = tmp_path / "bad.npz"
    np.savez(bad, points=np.zeros((3, 5), np.float32))
    with pytest.raises(ValueError, match=r"not a MARS npz: missing array\(s\)"):
        import_mars(bad, tmp_path / "out2")
    np.savez(bad, **{**dict(np.load(npz)), "frame_split": np.full(30, 7, np.int8)})
    with pytest.raises(ValueError, match=r"unknown frame_split value\(s\) \[7\]"):
        import_mars(bad, tmp_path / "out3")


# ----------------------------------------------------------------------------------- RadHAR


@pytest.fixture(scope="module")
def radhar(tmp_path_factory):
    if not (RADHAR_DIR / "radhar_train.npz").is_file():
        pytest.skip("shared RadHAR data not found at <repo>/../shared/data/radhar")
    out = tmp_path_factory.mktemp("radhar") / "radhar"
    report = import_radhar(RADHAR_DIR, out)
    src = {}
    for split in ("train", "test"):
        with np.load(RADHAR_DIR / f"radhar_{split}.npz") as z:
            src[split] = {k: z[k] for k in z.files}
    return report, open_dataset(out), src


def _expected_radhar(src):
    """Counts computed straight from the npz arrays (independent of the importer)."""
    exp = {k: {} for k in ("files_per_split", "frames_per_split", "points_per_split", "files_per_class",
                           "frames_per_class", "points_per_class")}
    bad_rows = {}
    for split, z in src.items():
        velocity = z["points"][:, list(z["columns"]).index("velocity")]
        bad = np.abs(velocity) > 5.0  # nothing real moves at 5 m/s here; corrupt rows are far above
        bad_rows[split] = np.nonzero(bad)[0]
        classes = z["class_names"][z["file_labels"]]
        frame_keys = z["file_index"].astype(np.int64) * 1_000_000 + z["frame"]
        _, first = np.unique(frame_keys, return_index=True)
        frames_per_file = np.bincount(z["file_index"][first], minlength=len(z["file_names"]))
        points_per_file = np.bincount(z["file_index"][~bad], minlength=len(z["file_names"]))
        exp["files_per_split"][split] = len(z["file_names"])
        exp["frames_per_split"][split] = int(frames_per_file.sum())
        exp["points_per_split"][split] = int(points_per_file.sum())
        for c in np.unique(classes):
            sel = classes == c
            for key, val in (("files_per_class", sel.sum()), ("frames_per_class", frames_per_file[sel].sum()),
                             ("points_per_class", points_per_file[sel].sum())):
                exp[key][str(c)] = exp[key].get(str(c), 0) + int(val)
    return exp, bad_rows


@needs_radhar
def test_radhar_counts_match_source(radhar):
    report, ds, src = radhar
    exp, bad_rows = _expected_radhar(src)
    for key, table in exp.items():
        assert report.counts[key] == table, key
    assert report.n_sequences == len(ds.sequence_ids) == 186
    assert exp["files_per_split"] == {"train": 131, "test": 55}
    assert report.n_frames == sum(exp["frames_per_split"].values())
    assert report.n_points == sum(exp["points_per_split"].values())
    for split in ("train", "test"):
        assert len(ds.split(split)) == exp["files_per_split"][split]
        assert sum(ds.n_frames(s) for s in ds.split(split)) == exp["frames_per_split"][split]
        assert sum(ds.info(s).n_points for s in ds.split(split)) == exp["points_per_split"][split]
    assert report.elapsed_s < 60


@needs_radhar
def test_radhar_corrupt_rows_reported(radhar):
    report, ds, src = radhar
    _, bad_rows = _expected_radhar(src)
    assert len(bad_rows["train"]) == 0 and len(bad_rows["test"]) == 2
    z = src["test"]
    assert [r.row for r in report.rejected] == bad_rows["test"].tolist()
    assert report.counts["rejected_per_split"] == {"test": 2}
    for r, row in zip(report.rejected, bad_rows["test"]):
        assert r.source == z["file_names"][z["file_index"][row]]
        assert r.frame == z["frame"][row] and r.column == "velocity"
        assert r.value == pytest.approx(float(z["points"][row, 4]))
        assert abs(r.value) > RADHAR_MAX_SPEED_MPS and "velocity" in r.rule
    assert min(abs(r.value) for r in report.rejected) > 15  # e.g. -887 m/s
    # the frame that held them is still there, without them
    r = report.rejected[0]
    sid = next(s for s in ds.split("test") if ds.info(s).sequence_labels["source_file"] == r.source)
    rec = ds.read_sequence(sid)
    i = int(np.nonzero(rec.frame_labels["source_frame"] == r.frame)[0][0])
    in_src = (z["file_index"] == z["file_index"][r.row]) & (z["frame"] == r.frame)
    assert ds.frame_points(sid, i).shape[0] == int(in_src.sum()) - 2
    assert np.abs(rec.points[:, 3]).max() <= RADHAR_MAX_SPEED_MPS


@needs_radhar
def test_radhar_sequence_content(radhar):
    _, ds, src = radhar
    z = src["train"]
    k = 5
    name = str(z["file_names"][k])
    sid = next(s for s in ds.split("train") if ds.info(s).sequence_labels["source_file"] == name)
    rec = ds.read_sequence(sid)
    rows = z["file_index"] == k
    assert rec.sequence_labels["activity"] == z["class_names"][z["file_labels"][k]]
    assert rec.point_columns == ("x", "y", "z", "doppler", "intensity", "range", "doppler_bin", "bearing")
    p = z["points"][rows]
    np.testing.assert_array_equal(rec.points[:, :3], p[:, :3])
    np.testing.assert_array_equal(rec.points[:, 3], p[:, 4])  # velocity -> doppler
    np.testing.assert_array_equal(rec.points[:, 4], p[:, 7])  # intensity (dB)
    np.testing.assert_allclose(rec.points[:, 7], np.deg2rad(p[:, 6]), rtol=1e-6)  # bearing in rad
    np.testing.assert_array_equal(np.diff(rec.point_offsets), np.bincount(z["frame"][rows]))
    np.testing.assert_array_equal(rec.timestamps, [z["time"][rows][z["frame"][rows] == f][0] for f in range(rec.n_frames)])
    # the velocity grid behind the validity rule
    np.testing.assert_allclose(p[:, 4], (p[:, 5] - 8) * RADHAR_VELOCITY_RESOLUTION_MPS, atol=1e-5)


def _radhar_like(path, corrupt: bool):
    rng = np.random.default_rng(1)
    rows = []
    for fi, n_frames in enumerate([4, 3]):
        for fr in range(n_frames):
            for pid in range(3):
                rows.append((fi, fr, pid))
    rows = np.array(rows)
    n = len(rows)
    bins = rng.integers(0, 16, size=n).astype(np.float32)
    pts = np.zeros((n, 8), np.float32)
    pts[:, :3] = rng.uniform(0.5, 3, size=(n, 3))
    pts[:, 3] = np.linalg.norm(pts[:, :3], axis=1)
    pts[:, 4] = (bins - 8) * RADHAR_VELOCITY_RESOLUTION_MPS
    pts[:, 5] = bins
    pts[:, 6] = rng.uniform(-80, 80, size=n)
    pts[:, 7] = rng.uniform(10, 30, size=n)
    t = 1.5e9 + rows[:, 0] * 100 + rows[:, 1] * 0.033 + rows[:, 2] * 1e-5
    if corrupt:
        pts[2, 4] = -887.6  # file 0, frame 0
        pts[7, 0] = np.nan  # file 0, frame 2
        pts[10, 5] = 64100  # file 0, frame 3 (velocity fine, bin impossible)
        pts[12:15, 4] = 99.0  # file 1, frame 0: every point of the frame
    np.savez(
        path, points=pts, time=t, frame=rows[:, 1].astype(np.int32), file_index=rows[:, 0].astype(np.int16),
        point_id=rows[:, 2].astype(np.int16), file_names=np.array(["Data/X/walk/a_1.txt", "Data/X/jump/__b_2.txt"]),
        file_labels=np.array([1, 0], np.int8), class_names=np.array(["jump", "walk"]),
        columns=np.array(["x", "y", "z", "range", "velocity", "doppler_bin", "bearing", "intensity"]),
    )


def test_radhar_format_synthetic_corrupt_rows(tmp_path):
    _radhar_like(tmp_path / "radhar_train.npz", corrupt=False)
    _radhar_like(tmp_path / "radhar_test.npz", corrupt=True)
    report = import_radhar([tmp_path / "radhar_train.npz", tmp_path / "radhar_test.npz"], tmp_path / "out")
    ds = open_dataset(tmp_path / "out")
    assert ds.splits == {"train": ["train_a_1", "train_b_2"], "test": ["test_a_1", "test_b_2"]}
    got = [(r.source, r.frame, r.row, r.column) for r in report.rejected]
    assert got == [
        ("Data/X/walk/a_1.txt", 0, 2, "velocity"),
        ("Data/X/walk/a_1.txt", 2, 7, "x"),
        ("Data/X/walk/a_1.txt", 3, 10, "doppler_bin"),
        ("Data/X/jump/__b_2.txt", 0, 12, "velocity"),
        ("Data/X/jump/__b_2.txt", 0, 13, "velocity"),
        ("Data/X/jump/__b_2.txt", 0, 14, "velocity"),
    ]
    assert [r.rule.split()[0] for r in report.rejected] == ["|velocity|", "non-finite", "doppler_bin", *["|velocity|"] * 3]
    assert report.counts["points_per_split"] == {"train": 21, "test": 15}
    assert report.counts["frames_per_split"] == {"train": 7, "test": 7}  # emptied frame kept
    rec = ds.read_sequence("test_b_2")
    assert rec.n_frames == 3 and rec.frame_points(0).shape == (0, 8)
    assert rec.sequence_labels["activity"] == "jump"
    # a mapping {split: file} works too, and a bad name is explained
    rep2 = import_radhar({"validate": tmp_path / "radhar_train.npz"}, tmp_path / "out2")
    assert open_dataset(tmp_path / "out2").splits.keys() == {"validate"} and rep2.n_sequences == 2
    (tmp_path / "recordings.npz").write_bytes((tmp_path / "radhar_train.npz").read_bytes())
    with pytest.raises(ValueError, match="cannot tell the split of recordings.npz"):
        import_radhar(tmp_path / "recordings.npz", tmp_path / "out3")
