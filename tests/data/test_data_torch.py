"""WindowDataset and collate_windows."""

from __future__ import annotations

import functools
import pickle

import numpy as np
import pytest
import torch
from data_helpers import make_record
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data import DataLoader

from mmsight.data import DatasetWriter, SequenceRecord, WindowDataset, collate_windows


def _seq(sid: str, n: int, tag: int, seed: int) -> SequenceRecord:
    """Points whose first column encodes (tag, frame) so that windows can be traced back."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 5, size=n)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    frame_of_point = np.repeat(np.arange(n), counts)
    pts = rng.normal(size=(int(offsets[-1]), 5)).astype(np.float32)
    pts[:, 0] = tag * 1000 + frame_of_point
    skel = rng.normal(size=(n, 3, 3)).astype(np.float32)
    skel[::2, 1] = np.nan
    return SequenceRecord(
        sequence_id=sid,
        timestamps=np.arange(n, dtype=np.float64) + tag * 1000,
        points=pts,
        point_offsets=offsets,
        skeleton=skel,
        joint_names=("a", "b", "c"),
        rgb=rng.integers(0, 255, size=(n, 4, 5, 3), dtype=np.uint8),
        frame_labels={"tag": np.full(n, tag, np.int64), "frame": np.arange(n, dtype=np.int64),
                      "word": np.array([f"f{i}" for i in range(n)])},
        sequence_labels={"activity": f"act{tag}", "tag": tag, "weight": 0.5 * tag},
    )


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    path = tmp_path_factory.mktemp("torch") / "ds"
    w = DatasetWriter(path)
    lengths = {"a": 5, "b": 2, "c": 7, "d": 3}
    for tag, (sid, n) in enumerate(lengths.items(), start=1):
        w.write_sequence(_seq(sid, n, tag, seed=tag))
    return w.finalize({"train": ["a", "b", "c"], "test": ["d"]})


STREAMS = ["points", "skeleton", "rgb", "frame_labels", "sequence_labels"]


@pytest.mark.parametrize("preload", [False, True])
def test_windows_stay_inside_sequences(dataset, preload):
    ds = WindowDataset(dataset, "train", window=3, stride=2, streams=STREAMS, preload=preload)
    # a: 5 frames -> starts 0, 2; b: 2 frames -> too short; c: 7 frames -> starts 0, 2, 4
    assert [ds.window_ref(i) for i in range(len(ds))] == [("a", 0), ("a", 2), ("c", 0), ("c", 2), ("c", 4)]
    assert ds.short_sequences == ["b"]
    for i in range(len(ds)):
        item = ds[i]
        tag = {"a": 1, "c": 3}[item["sequence_id"]]
        labels = item["frame_labels"]
        assert torch.all(labels["tag"] == tag)  # never crosses into another sequence
        assert labels["frame"].tolist() == list(range(item["start"], item["start"] + 3))
        assert labels["word"] == [f"f{j}" for j in range(item["start"], item["start"] + 3)]
        assert item["timestamps"].dtype == torch.float64 and item["timestamps"].shape == (3,)
        off = item["point_offsets"]
        assert off.shape == (4,) and off[0] == 0 and off[-1] == item["points"].shape[0]
        for k in range(3):
            frame_pts = item["points"][off[k] : off[k + 1]]
            assert torch.all(frame_pts[:, 0] == tag * 1000 + item["start"] + k)
        assert item["skeleton"].shape == (3, 3, 3) and item["skeleton_valid"].dtype == torch.bool
        assert torch.equal(item["skeleton_valid"], torch.isfinite(item["skeleton"]).all(-1))
        assert item["rgb"].dtype == torch.uint8 and item["rgb"].shape == (3, 4, 5, 3)
        assert item["sequence_labels"]["activity"] == f"act{tag}"


def test_window_dataset_pickles(dataset):
    ds = WindowDataset(dataset, "train", window=2, streams=["points"])
    clone = pickle.loads(pickle.dumps(ds))  # what DataLoader workers get under the spawn start method
    assert len(clone) == len(ds) and torch.equal(clone[3]["points"], ds[3]["points"])


def test_preload_matches_disk_reads(dataset):
    a = WindowDataset(dataset, None, window=2, streams=STREAMS)
    b = WindowDataset(dataset.path, None, window=2, streams=STREAMS, preload=True)
    assert len(a) == len(b) == (5 - 1) + (2 - 1) + (7 - 1) + (3 - 1)
    for i in range(len(a)):
        x, y = a[i], b[i]
        assert x.keys() == y.keys()
        for key in ("points", "point_offsets", "rgb", "timestamps"):
            assert torch.equal(x[key], y[key])
        assert torch.equal(torch.nan_to_num(x["skeleton"], 7.0), torch.nan_to_num(y["skeleton"], 7.0))
    b[0]["points"][:] = -1  # items never alias the preload cache
    assert not torch.all(b[0]["points"] == -1)


def test_collate_padding_and_flat_form(dataset):
    ds = WindowDataset(dataset, "train", window=3, streams=STREAMS)
    loader = DataLoader(ds, batch_size=4, shuffle=False, collate_fn=collate_windows)
    seen = 0
    for batch in loader:
        bsz = len(batch["sequence_id"])
        seen += bsz
        pts, mask, count = batch["points"], batch["points_mask"], batch["points_count"]
        assert pts.shape[:2] == (bsz, 3) and pts.shape[3] == 5 and mask.shape == pts.shape[:3]
        assert pts.shape[2] == int(count.max())
        assert torch.equal(mask.sum(-1), count)
        assert torch.all(pts[~mask] == 0)
        flat, off = batch["points_flat"], batch["points_offsets"]
        assert off.shape == (bsz * 3 + 1,) and off[-1] == flat.shape[0]
        for b in range(bsz):
            item = ds[seen - bsz + b]
            for k in range(3):
                n = int(count[b, k])
                expected = item["points"][item["point_offsets"][k] : item["point_offsets"][k + 1]]
                assert torch.equal(pts[b, k, :n], expected)
                assert torch.equal(flat[off[b * 3 + k] : off[b * 3 + k + 1]], expected)
        assert batch["skeleton"].shape == (bsz, 3, 3, 3) and batch["rgb"].shape == (bsz, 3, 4, 5, 3)
        assert batch["frame_labels"]["tag"].shape == (bsz, 3)
        assert batch["sequence_labels"]["tag"].dtype == torch.int64
        assert batch["sequence_labels"]["weight"].dtype == torch.float64
        assert isinstance(batch["sequence_labels"]["activity"], list)
        assert batch["timestamps"].shape == (bsz, 3) and batch["start"].shape == (bsz,)
    assert seen == len(ds) == 3 + 5


def test_collate_pad_to_and_workers(dataset):
    ds = WindowDataset(dataset, None, window=2, streams=["points"])
    loader = DataLoader(ds, batch_size=3, shuffle=True, num_workers=2,
                        collate_fn=functools.partial(collate_windows, pad_to=16),
                        generator=torch.Generator().manual_seed(0))
    total = 0
    for batch in loader:
        assert batch["points"].shape[2] == 16 and batch["points_mask"].shape[2] == 16
        total += len(batch["sequence_id"])
    assert total == len(ds)


def test_all_empty_frames_and_errors(tmp_path):
    w = DatasetWriter(tmp_path / "ds")
    w.write_sequence(SequenceRecord("e", np.arange(3.0), points=np.zeros((0, 5), np.float32),
                                    point_offsets=np.zeros(4, np.int64)))
    ds = WindowDataset(w.finalize({"train": ["e"]}), "train", window=2)
    batch = collate_windows([ds[0], ds[1]])
    assert batch["points"].shape == (2, 2, 0, 5) and batch["points_flat"].shape == (0, 5)
    with pytest.raises(ValueError, match="unknown stream"):
        WindowDataset(ds.dataset, "train", window=2, streams=["pointz"])
    with pytest.raises(ValueError, match="window and stride"):
        WindowDataset(ds.dataset, "train", window=0)
    with pytest.raises(KeyError, match="no split"):
        WindowDataset(ds.dataset, "validate", window=2)


def test_full_record_streams_in_items(tmp_path):
    w = DatasetWriter(tmp_path / "ds")
    rec = make_record("full", 4, seed=3)
    w.write_sequence(rec)
    ds = WindowDataset(w.finalize({"train": ["full"]}), "train", window=2, streams=[
        "adc", "range_azimuth", "range_doppler", "depth", "calibration"])
    item = ds[1]
    assert item["adc"].dtype == torch.complex64 and item["adc"].shape == (2, *rec.adc.shape[1:])
    assert torch.equal(item["range_doppler"], torch.from_numpy(rec.range_doppler.data[1:3]))
    assert item["depth"].shape == (2, 6, 7) and "points" not in item
    assert torch.equal(item["calibration"]["K"], torch.from_numpy(rec.calibration["K"]))
    batch = collate_windows([ds[0], ds[2]])
    assert batch["range_azimuth"].shape == (2, 2, 8, 5) and len(batch["calibration"]) == 2


@settings(max_examples=40, deadline=None)
@given(
    counts=st.lists(st.lists(st.integers(0, 6), min_size=3, max_size=3), min_size=1, max_size=5),
    pad_to=st.one_of(st.none(), st.integers(0, 10)),
)
def test_collate_padded_equals_flat(counts, pad_to):
    rng = np.random.default_rng(len(counts))
    batch = []
    for i, c in enumerate(counts):
        off = torch.tensor(np.concatenate([[0], np.cumsum(c)]), dtype=torch.int64)
        batch.append({"sequence_id": f"s{i}", "start": i, "timestamps": torch.zeros(3, dtype=torch.float64),
                      "points": torch.from_numpy(rng.normal(size=(int(off[-1]), 4)).astype(np.float32)),
                      "point_offsets": off})
    out = collate_windows(batch, pad_to=pad_to)
    n_max = max(max(max(c) for c in counts), pad_to or 0)
    assert out["points"].shape == (len(counts), 3, n_max, 4)
    assert torch.equal(out["points"][out["points_mask"]], out["points_flat"])
    assert out["points_count"].tolist() == counts
    assert torch.equal(out["points_flat"], torch.cat([b["points"] for b in batch]))
