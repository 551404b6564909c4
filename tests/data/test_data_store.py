"""Round trip, reader API and rejection of bad input for mmsight.data.store."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
import yaml
from data_helpers import assert_records_equal, make_record

from mmsight.data import (
    CorruptSequenceError,
    DatasetError,
    DatasetWriter,
    IncompleteDatasetError,
    RangeAzimuthMap,
    RecordValidationError,
    SequenceRecord,
    open_dataset,
)
from mmsight.data.store import SCHEMA_VERSION, STREAMS


def _write(tmp_path, records, splits=None, **kw):
    w = DatasetWriter(tmp_path / "ds", name="unit", task="test", config={"seed": 1, "nested": {"a": [1, 2]}}, **kw)
    for r in records:
        w.write_sequence(r)
    return w.finalize(splits or {"train": [r.sequence_id for r in records]})


# ------------------------------------------------------------------------------- round trip


def test_round_trip_every_stream_exact(tmp_path):
    recs = [make_record("seq-a", 5, seed=1), make_record("seq_b.2", 3, seed=2), make_record("pts", 6, 3, full=False)]
    ds = _write(tmp_path, recs, {"train": ["seq-a", "pts"], "test": ["seq_b.2"]})
    assert set(recs[0].streams) == set(STREAMS)  # the fixture really covers every stream
    assert ds.sequence_ids == ["pts", "seq-a", "seq_b.2"]
    assert ds.split("train") == ["seq-a", "pts"] and ds.split("test") == ["seq_b.2"]
    assert ds.config == {"seed": 1, "nested": {"a": [1, 2]}}
    assert ds.name == "unit" and ds.task == "test" and ds.complete and ds.schema_version == SCHEMA_VERSION
    for r in recs:
        assert_records_equal(r, ds.read_sequence(r.sequence_id))
        assert ds.n_frames(r.sequence_id) == r.n_frames


def test_nan_skeleton_is_missing_joint(tmp_path):
    rec = make_record("s", 4, seed=5)
    ds = _write(tmp_path, [rec])
    back = ds.read_sequence("s", ["skeleton"])
    assert np.isnan(back.skeleton[1, 2]).all()
    np.testing.assert_array_equal(back.skeleton_valid, np.isfinite(rec.skeleton).all(-1))
    with h5py.File(ds.sequence_path("s"), "r") as f:  # stored mask for other tools
        np.testing.assert_array_equal(f["skeleton/valid"][()], back.skeleton_valid)


def test_partial_reads(tmp_path):
    rec = make_record("s", 6, seed=7)
    ds = _write(tmp_path, [rec])
    only = ds.read_sequence("s", streams=["points"])
    assert only.streams == ("points",) and only.rgb is None and only.adc is None
    part = ds.read_sequence("s", frames=slice(2, 5))
    assert_records_equal(rec.select_frames(2, 5), part)
    assert part.point_offsets[0] == 0 and part.n_frames == 3
    for i in range(rec.n_frames):
        np.testing.assert_array_equal(ds.frame_points("s", i), rec.frame_points(i))
    np.testing.assert_array_equal(ds.frame_points("s", -1), rec.frame_points(5))
    with pytest.raises(IndexError):
        ds.frame_points("s", 6)
    with pytest.raises(ValueError, match="unknown stream"):
        ds.read_sequence("s", streams=["pointz"])
    for bad in (slice(4, 2), slice(0, 6, 2), slice(9, 12)):
        with pytest.raises(ValueError, match="non-empty slice with step 1"):
            ds.read_sequence("s", frames=bad)
    with pytest.raises(KeyError, match="no sequence"):
        ds.read_sequence("nope")
    with pytest.raises(KeyError, match="no split"):
        ds.split("validate")
    info = ds.info("s")
    assert info.n_frames == 6 and info.n_points == rec.points.shape[0] and info.joint_names == rec.joint_names
    assert info.shapes["rgb"] == rec.rgb.shape and info.point_columns == rec.point_columns


def test_storage_is_chunked_and_compressed(tmp_path):
    ds = _write(tmp_path, [make_record("s", 4, seed=1)])
    with h5py.File(ds.sequence_path("s"), "r") as f:
        for name in ("adc", "rgb", "depth", "range_azimuth/data", "range_doppler/data"):
            assert f[name].chunks[0] == 1, name  # one frame per chunk
            assert f[name].compression == "gzip", name
        assert f["points/data"].compression == "gzip"
        assert f.attrs["format"] == "mmsight-sequence" and bool(f.attrs["complete"])
        assert json.loads(f.attrs["streams"])[0] == "adc"


def test_manifest_contents(tmp_path):
    ds = _write(tmp_path, [make_record("a", 3), make_record("b", 2, full=False)])
    m = yaml.safe_load((ds.path / "dataset.yaml").read_text())
    assert m["complete"] is True and m["schema_version"] == SCHEMA_VERSION
    assert m["sequences"]["a"]["n_frames"] == 3 and m["sequences"]["b"]["streams"] == ["points"]
    assert m["splits"] == {"train": ["a", "b"]}
    assert "utc" in m["created"] and m["finalized"]


# ------------------------------------------------------------------------------- bad records


def _base(**over):
    kw = dict(
        sequence_id="s",
        timestamps=np.arange(4, dtype=np.float64),
        points=np.zeros((5, 5), np.float32),
        point_offsets=np.array([0, 1, 3, 3, 5], np.int64),
    )
    kw.update(over)
    return kw


@pytest.mark.parametrize(
    ("over", "pattern"),
    [
        ({"points": np.zeros((5, 5), np.float64)}, r"stream 'points': expected a numpy float32 array \[P, C\], got float64 array of shape \(5, 5\)"),
        ({"points": np.zeros((5, 4), np.float32)}, r"stream 'points': 4 columns"),
        ({"timestamps": np.array([0.0, 1.0, np.nan, 3.0])}, r"timestamps.*non-finite.*frame 2"),
        ({"timestamps": np.array([0.0, 1.0, 1.0, 3.0])}, r"strictly increasing.*frame 2"),
        ({"timestamps": np.arange(4, dtype=np.float32)}, r"stream 'timestamps': expected a numpy float64"),
        ({"point_offsets": np.array([0, 1, 3, 5], np.int64)}, r"'point_offsets' has 4 entries but timestamps has 4 frames"),
        ({"point_offsets": np.array([0, 1, 3, 3, 4], np.int64)}, r"last offset 4 != number of points 5"),
        ({"point_offsets": np.array([0, 3, 1, 3, 5], np.int64)}, r"decreasing at frame 1"),
        ({"point_offsets": np.array([0, 1, 3, 3, 5], np.int32)}, r"'point_offsets': expected a numpy int64"),
        ({"points": np.array([[0, 0, 0, 0, 0]] * 3 + [[0, np.inf, 0, 0, 0]] * 2, np.float32)}, r"non-finite value inf in frame 3 \(point row 3, column 'y'\)"),
        ({"point_columns": ("a", "b", "c", "d", "e")}, r"first three point_columns must be x, y, z"),
        ({"rgb": np.zeros((3, 2, 2, 3), np.uint8)}, r"stream 'rgb' has 3 frames \(shape \(3, 2, 2, 3\)\) but timestamps has 4"),
        ({"rgb": np.zeros((4, 2, 2, 3), np.float32)}, r"stream 'rgb': expected a numpy uint8 array"),
        ({"rgb": np.zeros((4, 2, 2, 4), np.uint8)}, r"stream 'rgb': expected uint8 \[F, H, W, 3\], got shape \(4, 2, 2, 4\)"),
        ({"depth": -np.ones((4, 2, 2), np.float32)}, r"negative depth in frame 0"),
        ({"adc": np.zeros((4, 2, 1, 4), np.complex64)}, r"stream 'adc': expected a numpy complex64 array \[F, n_loops"),
        ({"skeleton": np.zeros((4, 2, 3), np.float32)}, r"joint_names has None names"),
        ({"skeleton": np.zeros((4, 2, 3), np.float32), "joint_names": ["a", "a"]}, r"joint_names must be unique"),
        ({"skeleton": np.array([[[0, np.nan, 0]]] * 4, np.float32), "joint_names": ["a"]}, r"joint 'a' in frame 0 is partly NaN"),
        ({"skeleton": np.array([[[0, np.inf, 0]]] * 4, np.float32), "joint_names": ["a"]}, r"infinite coordinate in frame 0"),
        ({"range_azimuth": RangeAzimuthMap(np.zeros((4, 3, 2), np.float32), [0, 1, 2], [0, 1], "watts")}, r"unit must be 'linear' or 'dB'"),
        ({"range_azimuth": RangeAzimuthMap(np.zeros((4, 3, 2), np.float32), [0, 1], [0, 1])}, r"axis 'range_m' must have shape \(3,\)"),
        ({"range_azimuth": RangeAzimuthMap(np.zeros((4, 3, 2), np.float32), [0, 2, 1], [0, 1])}, r"'range_m' must be strictly increasing"),
        ({"calibration": {"K": np.eye(4)}}, r"'K' must be a finite 3x3 matrix"),
        ({"calibration": {"T_radar_from_camera": np.ones((4, 4))}}, r"last row must be \[0, 0, 0, 1\]"),
        ({"calibration": {"radar_config": "fc=77"}}, r"'radar_config' must be a dict"),
        ({"frame_labels": {"x": np.zeros(3)}}, r"frame_labels\['x'\] has 3 frames"),
        ({"frame_labels": {"x": np.array([object()] * 4)}}, r"frame_labels\['x'\]: expected a numeric, bool or str"),
        ({"sequence_labels": {"x": [1, 2]}}, r"sequence_labels\['x'\]: expected a scalar"),
        ({"sequence_id": "../evil"}, r"not a valid id"),
        ({"timestamps": np.zeros(0)}, r"at least one frame"),
        ({"point_offsets": None}, r"'points' and 'point_offsets' must be given together"),
    ],
)
def test_bad_records_rejected(over, pattern):
    with pytest.raises(RecordValidationError, match=pattern):
        SequenceRecord(**_base(**over))


def test_validation_error_is_value_error():
    assert issubclass(RecordValidationError, ValueError)


def test_writer_revalidates_mutated_record(tmp_path):
    rec = make_record("s", 3, full=False)
    rec.timestamps = rec.timestamps[::-1].copy()
    w = DatasetWriter(tmp_path / "ds")
    with pytest.raises(RecordValidationError, match="strictly increasing"):
        w.write_sequence(rec)
    assert w.sequence_ids == [] and not any((tmp_path / "ds" / "sequences").iterdir())


# ------------------------------------------------------------------------------- bad datasets


def test_unknown_manifest_key_rejected(tmp_path):
    ds = _write(tmp_path, [make_record("a", 2, full=False)])
    m = yaml.safe_load((ds.path / "dataset.yaml").read_text())
    m["colour"] = "blue"
    (ds.path / "dataset.yaml").write_text(yaml.safe_dump(m))
    with pytest.raises(DatasetError, match=r"unknown key\(s\) \['colour'\]"):
        open_dataset(ds.path)


def test_newer_schema_and_missing_manifest(tmp_path):
    ds = _write(tmp_path, [make_record("a", 2, full=False)])
    m = yaml.safe_load((ds.path / "dataset.yaml").read_text())
    m["schema_version"] = SCHEMA_VERSION + 1
    (ds.path / "dataset.yaml").write_text(yaml.safe_dump(m))
    with pytest.raises(DatasetError, match="schema_version .* not supported"):
        open_dataset(ds.path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="dataset.yaml not found"):
        open_dataset(tmp_path / "empty")


@pytest.mark.parametrize("damage", ["truncate", "garbage", "delete"])
def test_corrupt_sequence_file_named(tmp_path, damage):
    ds = _write(tmp_path, [make_record("a", 3), make_record("b", 3)])
    p = ds.sequence_path("a")
    if damage == "truncate":
        data = p.read_bytes()
        p.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        p.write_bytes(b"not an hdf5 file" * 100)
    else:
        p.unlink()
    with pytest.raises(DatasetError, match="a.h5") as exc_info:
        ds.read_sequence("a")
    if damage != "delete":
        assert isinstance(exc_info.value, CorruptSequenceError)
    assert_records_equal(make_record("b", 3), ds.read_sequence("b"))  # the others stay readable


def test_file_of_other_sequence_rejected(tmp_path):
    ds = _write(tmp_path, [make_record("a", 3), make_record("b", 3)])
    ds.sequence_path("b").replace(ds.sequence_path("a"))
    with pytest.raises(CorruptSequenceError, match="holds sequence 'b', expected 'a'"):
        ds.read_sequence("a")


def test_incomplete_dataset_needs_opt_in(tmp_path):
    w = DatasetWriter(tmp_path / "ds")
    w.write_sequence(make_record("a", 2, full=False))
    with pytest.raises(IncompleteDatasetError, match=r"incomplete \(1 sequence file"):
        open_dataset(tmp_path / "ds")
    ds = open_dataset(tmp_path / "ds", allow_incomplete=True)
    assert ds.sequence_ids == ["a"] and not ds.complete and ds.splits == {}


def test_writer_refuses_to_clobber(tmp_path):
    _write(tmp_path, [make_record("a", 2, full=False)])
    with pytest.raises(DatasetError, match="already exists"):
        DatasetWriter(tmp_path / "ds")
    with pytest.raises(DatasetError, match="already complete"):
        DatasetWriter(tmp_path / "ds", resume=True)
    w = DatasetWriter(tmp_path / "ds", overwrite=True)
    assert w.sequence_ids == []
    other = tmp_path / "notes"
    other.mkdir()
    (other / "important.txt").write_text("keep me")
    with pytest.raises(DatasetError, match="not empty"):
        DatasetWriter(other)
    with pytest.raises(DatasetError, match="not an mmsight dataset"):
        DatasetWriter(other, overwrite=True)
    assert [p.name for p in other.iterdir()] == ["important.txt"]  # untouched, not even a lock file


def test_write_existing_sequence_and_bad_splits(tmp_path):
    w = DatasetWriter(tmp_path / "ds")
    w.write_sequence(make_record("a", 2, full=False))
    with pytest.raises(FileExistsError, match="has_sequence"):
        w.write_sequence(make_record("a", 3, full=False))
    w.write_sequence(make_record("a", 3, seed=9, full=False), replace=True)
    with pytest.raises(ValueError, match="not in the dataset"):
        w.finalize({"train": ["a", "zzz"]})
    w.write_sequence(make_record("b", 2, full=False))
    with pytest.raises(ValueError, match="in both split 'train' and split 'test'"):
        w.finalize({"train": ["a", "b"], "test": ["b"]})
    ds = w.finalize({"train": ["a"], "test": ["b"]})
    assert ds.n_frames("a") == 3
    with pytest.raises(DatasetError, match="finalized"):
        w.write_sequence(make_record("c", 2, full=False))
