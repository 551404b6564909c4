"""MARS-format loading, feature maps and windows (synthetic data; one test on the real file if present)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

from mmsight.joints.mars_data import (
    MARS19,
    MARS19_LOWER,
    MARS19_NAMES,
    MARS19_UPPER,
    MarsDataError,
    feature_map_8x8x5,
    feature_maps_from_padded,
    frames_from_arrays,
    gather_windows,
    load_mars_npz,
    make_synthetic_arrays,
    make_synthetic_frames,
    make_windows,
    pad_point_list,
    window_point_lists,
)

REAL_MARS = Path(os.environ.get("MMSIGHT_MARS_NPZ", Path(__file__).resolve().parents[3] / "shared" / "data" / "mars"
                                / "mars_train_validate.npz"))


def test_joint_sets() -> None:
    assert len(MARS19) == 19 and 7 not in MARS19 and 11 not in MARS19 and MARS19.max() == 20
    assert MARS19_NAMES[0] == "SpineBase" and MARS19_NAMES[-1] == "SpineShoulder"
    assert sorted(np.concatenate([MARS19_UPPER, MARS19_LOWER]).tolist()) == list(range(19))


def test_load_roundtrip_and_errors(tmp_path: Path) -> None:
    arrays = make_synthetic_arrays(n_runs=3, frames_per_run=10, nan_runs=[0])
    p = tmp_path / "ok.npz"
    np.savez(p, **arrays)
    f = load_mars_npz(p)
    assert f.n_frames == 30 and f.joints.shape == (30, 19, 3) and f.points.dtype == np.float32
    assert f.summary()["nan_joint_frames_train"] == 10
    assert not f.points.flags.writeable

    bad = dict(arrays)
    del bad["frame_movement"]
    with pytest.raises(MarsDataError, match="frame_movement"):
        frames_from_arrays(bad)
    bad = dict(arrays, points=arrays["points"][:, :4])
    with pytest.raises(MarsDataError, match="'points'"):
        frames_from_arrays(bad)
    off = arrays["frame_offsets"].copy()
    off[-1] += 1
    with pytest.raises(MarsDataError, match="frame_offsets"):
        frames_from_arrays(dict(arrays, frame_offsets=off))
    off = arrays["frame_offsets"].copy()
    off[3], off[4] = off[4], off[3]
    with pytest.raises(MarsDataError, match="frame_offsets"):
        frames_from_arrays(dict(arrays, frame_offsets=off))
    with pytest.raises(MarsDataError, match="joints"):
        frames_from_arrays(dict(arrays, joints=arrays["joints"][:-1]))
    with pytest.raises(MarsDataError, match="frame_subject"):
        frames_from_arrays(dict(arrays, frame_subject=arrays["frame_subject"][:-1]))
    with pytest.raises(FileNotFoundError):
        load_mars_npz(tmp_path / "missing.npz")


def test_feature_map_padding_round_trip() -> None:
    rng = np.random.default_rng(0)
    pts = rng.normal(size=(37, 5)).astype(np.float32)
    fm = feature_map_8x8x5(pts)
    assert fm.shape == (8, 8, 5) and fm.dtype == np.float32
    flat = fm.reshape(64, 5)
    np.testing.assert_array_equal(flat[:37], pts)  # point k at cell (k // 8, k % 8)
    np.testing.assert_array_equal(fm[1, 2], pts[10])
    assert not flat[37:].any()
    # overflow policies
    many = rng.normal(size=(70, 5)).astype(np.float32)
    np.testing.assert_array_equal(feature_map_8x8x5(many).reshape(64, 5), many[:64])
    strongest = feature_map_8x8x5(many, overflow="intensity").reshape(64, 5)
    keep = np.sort(np.argsort(-many[:, 4], kind="stable")[:64])
    np.testing.assert_array_equal(strongest, many[keep])
    with pytest.raises(MarsDataError):
        feature_map_8x8x5(many, overflow="error")
    # empty frame -> all zeros; batch padding agrees with the per-frame map
    assert not feature_map_8x8x5(np.zeros((0, 5), np.float32)).any()
    padded, counts = pad_point_list([pts, many, pts[:1]])
    assert counts.tolist() == [37, 64, 1]
    np.testing.assert_array_equal(feature_maps_from_padded(padded)[0], fm)


def test_windows_never_cross_runs() -> None:
    f = make_synthetic_frames(n_runs=5, frames_per_run=7, nan_runs=[3])
    f_runs = f.run_id
    for k in (1, 3, 7, 8):
        idx = make_windows(f, k, split=None)
        if len(idx):
            assert (f_runs[idx.frames] == f_runs[idx.frames[:, :1]]).all()
            assert (np.diff(idx.frames, axis=1) == 1).all()
            assert f.valid[idx.targets].all()
        n_short = 5 * min(k - 1, 7)
        assert idx.n_short_run_start == n_short
        expect_nan = max(7 - (k - 1), 0)  # run 3's complete windows all end on NaN targets
        assert idx.n_nan_target == expect_nan
        assert len(idx) == 5 * max(7 - (k - 1), 0) - expect_nan
    # min_history scores different windows on the same target frames
    np.testing.assert_array_equal(make_windows(f, 1, None, min_history=3).targets, make_windows(f, 4, None).targets)
    # split selection, and keeping NaN targets when asked
    tr = make_windows(f, 2, "train")
    assert (f.split[tr.targets] == 0).all()
    raw = make_windows(f, 2, "train", require_target=False)
    assert len(raw) == len(tr) + tr.n_nan_target
    # gathered windows equal the black-box list format
    pts, counts = gather_windows(f, tr)
    lists = window_point_lists(f, tr)
    assert pts.shape == (len(tr), 2, 64, 5)
    for b in (0, len(tr) - 1):
        for j in range(2):
            np.testing.assert_array_equal(pts[b, j, : counts[b, j]], lists[b][j])


def test_same_triple_in_two_blocks_is_two_runs() -> None:
    arrays = make_synthetic_arrays(n_runs=3, frames_per_run=4)
    arrays["frame_subject"][:] = 1
    arrays["frame_movement"][:] = 1
    arrays["frame_split"][:] = np.repeat([0, 1, 0], 4)
    f = frames_from_arrays(arrays)
    assert f.run_id.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    assert len(make_windows(f, 5, None)) == 0


def test_real_mars_file() -> None:
    if not REAL_MARS.exists():
        pytest.skip(f"real MARS file not found at {REAL_MARS} (set MMSIGHT_MARS_NPZ to run this test)")
    t = time.perf_counter()
    f = load_mars_npz(REAL_MARS)
    padded, counts = f.padded()
    elapsed = time.perf_counter() - t
    assert elapsed < 10.0
    s = f.summary()
    assert s["frames"] == f.n_frames and counts.max() <= 64 and counts.min() >= 1
    assert padded.shape == (f.n_frames, 64, 5)
    w = make_windows(f, 5, "train")
    assert (f.run_id[w.frames] == f.run_id[w.targets][:, None]).all()
    if f.n_frames == 32099:  # the train/validate file described in the data README
        assert s["frames_train"] == 24066 and s["frames_validate"] == 8033
        assert s["nan_joint_frames_train"] == 7112 and s["nan_joint_frames_validate"] == 0
