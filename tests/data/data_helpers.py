"""Shared helpers for the mmsight.data tests (synthetic records, the shared real data); not a test module."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from mmsight.data.store import RangeAzimuthMap, RangeDopplerMap, SequenceRecord

REPO_ROOT = Path(__file__).resolve().parents[2]
#: The shared real recordings live beside the repository (``<repo>/../shared/data``).
SHARED_DATA = Path(os.environ.get("MMSIGHT_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
MARS_NPZ = SHARED_DATA / "mars" / "mars_train_validate.npz"
RADHAR_DIR = SHARED_DATA / "radhar"

needs_mars = pytest.mark.skipif(
    not MARS_NPZ.is_file(), reason=f"shared MARS data not found at <repo>/../shared/data/mars ({MARS_NPZ})"
)
needs_radhar = pytest.mark.skipif(
    not (RADHAR_DIR / "radhar_train.npz").is_file() or not (RADHAR_DIR / "radhar_test.npz").is_file(),
    reason=f"shared RadHAR data not found at <repo>/../shared/data/radhar ({RADHAR_DIR})",
)


def make_record(sid: str, n_frames: int = 4, seed: int = 0, *, full: bool = True) -> SequenceRecord:
    """A small synthetic record with every stream (``full``) or only timestamps + points."""
    rng = np.random.default_rng(seed)
    f = n_frames
    counts = rng.integers(0, 6, size=f)
    counts[0] = 3
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    points = rng.normal(size=(int(offsets[-1]), 6)).astype(np.float32)
    kw = dict(
        sequence_id=sid,
        timestamps=100.0 + np.cumsum(rng.uniform(0.05, 0.15, size=f)),
        points=points,
        point_offsets=offsets,
        point_columns=("x", "y", "z", "doppler", "snr", "noise"),
    )
    if full:
        skel = rng.normal(size=(f, 4, 3)).astype(np.float32)
        skel[1, 2] = np.nan  # a missing joint
        kw.update(
            adc=(rng.normal(size=(f, 2, 3, 4, 8)) + 1j * rng.normal(size=(f, 2, 3, 4, 8))).astype(np.complex64),
            range_azimuth=RangeAzimuthMap(
                rng.uniform(0, 1, size=(f, 8, 5)).astype(np.float32),
                np.linspace(0.1, 3.0, 8),
                np.linspace(-1.0, 1.0, 5),
                "linear",
            ),
            range_doppler=RangeDopplerMap(
                rng.normal(size=(f, 8, 6)).astype(np.float32), np.linspace(0.1, 3.0, 8), np.linspace(-2, 2, 6), "dB"
            ),
            rgb=rng.integers(0, 256, size=(f, 6, 7, 3), dtype=np.uint8),
            depth=rng.uniform(0, 5, size=(f, 6, 7)).astype(np.float32),
            skeleton=skel,
            joint_names=("head", "neck", "hand_l", "hand_r"),
            calibration={
                "K": np.array([[500.0, 0, 3.5], [0, 500.0, 3.0], [0, 0, 1]]),
                "T_radar_from_camera": np.eye(4),
                "radar_config": {"fc_hz": 77e9, "n_rx": 4, "name": "test"},
                "image_size": [7, 6],
            },
            frame_labels={
                "person_xy": rng.normal(size=(f, 2)).astype(np.float32),
                "fallen": rng.integers(0, 2, size=f).astype(bool),
                "activity": np.array(["walk", "sit", "fall", "stand", "walk"] * f)[:f],
                "frame_id": np.arange(f, dtype=np.int64),
            },
            sequence_labels={"identity": 3, "environment": "office", "wall": False, "height_m": 1.75, "none": None},
        )
    return SequenceRecord(**kw)


def assert_records_equal(a: SequenceRecord, b: SequenceRecord) -> None:
    """Exact equality of every stream (NaN == NaN)."""
    assert a.sequence_id == b.sequence_id
    np.testing.assert_array_equal(a.timestamps, b.timestamps)
    assert a.timestamps.dtype == b.timestamps.dtype
    assert a.streams == b.streams
    for name in ("adc", "rgb", "depth", "skeleton", "points", "point_offsets"):
        x, y = getattr(a, name), getattr(b, name)
        if x is None:
            assert y is None, name
            continue
        assert x.dtype == y.dtype and x.shape == y.shape, name
        np.testing.assert_array_equal(x, y, err_msg=name)
    if a.points is not None:
        assert a.point_columns == b.point_columns
    assert a.joint_names == b.joint_names
    for name in ("range_azimuth", "range_doppler"):
        x, y = getattr(a, name), getattr(b, name)
        if x is None:
            assert y is None
            continue
        assert x.unit == y.unit and x.data.dtype == y.data.dtype
        np.testing.assert_array_equal(x.data, y.data)
        np.testing.assert_array_equal(x.range_m, y.range_m)
        ax = "azimuth_rad" if name == "range_azimuth" else "velocity_mps"
        np.testing.assert_array_equal(getattr(x, ax), getattr(y, ax))
    assert (a.calibration is None) == (b.calibration is None)
    if a.calibration is not None:
        assert set(a.calibration) == set(b.calibration)
        for k, v in a.calibration.items():
            if isinstance(v, np.ndarray):
                np.testing.assert_array_equal(v, b.calibration[k])
            else:
                assert v == b.calibration[k], k
    assert set(a.frame_labels) == set(b.frame_labels)
    for k, v in a.frame_labels.items():
        assert v.dtype.kind == b.frame_labels[k].dtype.kind, k
        np.testing.assert_array_equal(v, b.frame_labels[k])
    assert a.sequence_labels == b.sequence_labels
    for k, v in a.sequence_labels.items():
        assert type(v) is type(b.sequence_labels[k]), k
