"""PyTorch access to a dataset: windows of consecutive frames, and their collate function.

A *window* is ``K`` consecutive frames of one sequence; windows never cross sequence
boundaries. Sequences shorter than ``K`` frames give no window (they are listed in
``WindowDataset.short_sequences``).

Example::

    ds = WindowDataset(open_dataset("out/mars"), "train", window=4, streams=["points", "skeleton"])
    loader = DataLoader(ds, batch_size=32, shuffle=True, collate_fn=collate_windows)
    batch = next(iter(loader))
    batch["points"]       # float32 [B, K, Nmax, C]   zero-padded
    batch["points_mask"]  # bool    [B, K, Nmax]      True for real points
    batch["skeleton"]     # float32 [B, K, J, 3]      NaN = missing joint
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset as TorchDataset

from mmsight.data.store import STREAMS, Dataset, SequenceRecord, open_dataset

__all__ = ["WindowDataset", "collate_windows"]


def _tensor(a: np.ndarray, copy: bool) -> torch.Tensor:
    a = np.array(a, copy=True) if copy else np.ascontiguousarray(a)
    return torch.from_numpy(a)


class WindowDataset(TorchDataset):
    """Windows of ``window`` consecutive frames, within one sequence, from one split.

    Args:
        dataset: an opened :class:`~mmsight.data.store.Dataset` or its directory.
        split: split name (``"train"``, ``"validate"``, ``"test"``), or ``None`` for all sequences.
        window: ``K``, frames per window (>= 1).
        stride: frames between the starts of consecutive windows of a sequence (>= 1).
        streams: which streams to load, from :data:`~mmsight.data.store.STREAMS`.
        preload: read each sequence once and keep it in memory (per process); good for small
            datasets such as MARS or RadHAR. Otherwise each item reads only its frames from disk.
        transform: optional callable applied to each item dict.

    Item (a dict; ``K`` = window, shapes per stream):
        ``sequence_id`` str, ``start`` int (first frame), ``timestamps`` float64 [K];
        ``points`` float32 [P_w, C] (the window's points, flat) + ``point_offsets`` int64 [K+1];
        ``skeleton`` float32 [K, J, 3] + ``skeleton_valid`` bool [K, J];
        ``adc`` complex64 [K, n_loops, n_tx, n_rx, n_samples]; ``range_azimuth`` /
        ``range_doppler`` float32 [K, n_range, n_bins]; ``rgb`` uint8 [K, H, W, 3];
        ``depth`` float32 [K, H, W]; ``frame_labels`` {name: tensor [K, ...] or list of str};
        ``sequence_labels`` {name: scalar}; ``calibration`` {name: tensor or value}.
    """

    def __init__(
        self,
        dataset: Dataset | str | os.PathLike[str],
        split: str | None,
        window: int,
        stride: int = 1,
        streams: Sequence[str] = ("points",),
        *,
        preload: bool = False,
        transform: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> None:
        if window < 1 or stride < 1:
            raise ValueError(f"window and stride must be >= 1, got window={window}, stride={stride}")
        unknown = set(streams) - set(STREAMS)
        if unknown:
            raise ValueError(f"unknown stream name(s) {sorted(unknown)}; known: {list(STREAMS)}")
        self.dataset = dataset if isinstance(dataset, Dataset) else open_dataset(dataset)
        self.split = split
        self.window = int(window)
        self.stride = int(stride)
        self.streams = tuple(streams)
        self.preload = preload
        self.transform = transform
        self.sequence_ids = self.dataset.split(split)
        seq_index, starts, short = [], [], []
        for k, sid in enumerate(self.sequence_ids):
            n = self.dataset.n_frames(sid)
            if n < self.window:
                short.append(sid)
                continue
            s = np.arange(0, n - self.window + 1, self.stride, dtype=np.int64)
            starts.append(s)
            seq_index.append(np.full(s.shape, k, dtype=np.int64))
        self.short_sequences: list[str] = short
        self._seq = np.concatenate(seq_index) if seq_index else np.zeros(0, np.int64)
        self._start = np.concatenate(starts) if starts else np.zeros(0, np.int64)
        self._cache: dict[str, SequenceRecord] = {}

    def __len__(self) -> int:
        return int(self._start.shape[0])

    def window_ref(self, index: int) -> tuple[str, int]:
        """``(sequence_id, start_frame)`` of window ``index``."""
        return self.sequence_ids[int(self._seq[index])], int(self._start[index])

    def _frames(self, sid: str, start: int) -> SequenceRecord:
        stop = start + self.window
        if self.preload:
            rec = self._cache.get(sid)
            if rec is None:
                rec = self._cache[sid] = self.dataset.read_sequence(sid, self.streams)
            return rec.select_frames(start, stop)
        return self.dataset.read_sequence(sid, self.streams, frames=slice(start, stop))

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"window {index} out of range ({len(self)} windows)")
        sid, start = self.window_ref(index % len(self))
        rec = self._frames(sid, start)
        copy = self.preload  # never hand out views of the cache
        item: dict[str, Any] = {
            "sequence_id": sid,
            "start": start,
            "timestamps": _tensor(rec.timestamps, copy),
        }
        if rec.points is not None and rec.point_offsets is not None:
            item["points"] = _tensor(rec.points, copy)
            item["point_offsets"] = _tensor(rec.point_offsets, copy)
        if rec.skeleton is not None:
            item["skeleton"] = _tensor(rec.skeleton, copy)
            item["skeleton_valid"] = torch.from_numpy(rec.skeleton_valid)
        for name in ("adc", "rgb", "depth"):
            value = getattr(rec, name)
            if value is not None:
                item[name] = _tensor(value, copy)
        for name in ("range_azimuth", "range_doppler"):
            value = getattr(rec, name)
            if value is not None:
                item[name] = _tensor(value.data, copy)
        if "frame_labels" in self.streams:
            item["frame_labels"] = {
                k: (v.tolist() if v.dtype.kind == "U" else _tensor(v, copy)) for k, v in rec.frame_labels.items()
            }
        if "sequence_labels" in self.streams:
            item["sequence_labels"] = dict(rec.sequence_labels)
        if "calibration" in self.streams and rec.calibration is not None:
            item["calibration"] = {
                k: (torch.from_numpy(np.array(v)) if isinstance(v, np.ndarray) else v)
                for k, v in rec.calibration.items()
            }
        if self.transform is not None:
            item = self.transform(item)
        return item


def _stack(key: str, values: list[torch.Tensor]) -> torch.Tensor:
    shapes = {tuple(v.shape) for v in values}
    if len(shapes) > 1:
        raise ValueError(f"collate_windows: '{key}' has different shapes in one batch: {sorted(shapes)}")
    return torch.stack(values)


def collate_windows(batch: Sequence[dict[str, Any]], *, pad_to: int | None = None) -> dict[str, Any]:
    """Collate :class:`WindowDataset` items into a batch (``B`` items of ``K`` frames).

    Dense streams are stacked to ``[B, K, ...]``. Point clouds, whose size varies per frame, are
    given in two forms:

    - padded: ``points`` float32 ``[B, K, Nmax, C]`` (zeros after the real points),
      ``points_mask`` bool ``[B, K, Nmax]`` and ``points_count`` int64 ``[B, K]``, where ``Nmax``
      is the largest frame in the batch, or ``pad_to`` if that is larger (e.g. ``pad_to=64`` for
      MARS's fixed 64-point input; frames are never truncated);
    - flat: ``points_flat`` float32 ``[sum of counts, C]`` and ``points_offsets`` int64
      ``[B*K + 1]``; frame ``k`` of item ``b`` is ``points_flat[o[b*K+k] : o[b*K+k+1]]``.

    Other keys: ``sequence_id`` list[str], ``start`` int64 [B], ``timestamps`` float64 [B, K];
    ``frame_labels`` {name: [B, K, ...] tensor or nested lists of str}; ``sequence_labels``
    {name: tensor [B] if all values are numbers/bools, else list}; ``calibration`` list of dicts.

    Use ``functools.partial(collate_windows, pad_to=64)`` as a DataLoader ``collate_fn``.
    """
    if not batch:
        raise ValueError("collate_windows: empty batch")
    out: dict[str, Any] = {
        "sequence_id": [b["sequence_id"] for b in batch],
        "start": torch.tensor([int(b["start"]) for b in batch], dtype=torch.int64),
    }
    keys = set(batch[0])
    for b in batch[1:]:
        if set(b) != keys:
            raise ValueError(f"collate_windows: items have different keys: {sorted(keys)} vs {sorted(b)}")
    for key in sorted(keys - {"sequence_id", "start", "points", "point_offsets", "frame_labels",
                              "sequence_labels", "calibration"}):
        out[key] = _stack(key, [b[key] for b in batch])
    if "points" in keys:
        out.update(_collate_points(batch, pad_to))
    if "frame_labels" in keys:
        labels: dict[str, Any] = {}
        for name in batch[0]["frame_labels"]:
            values = [b["frame_labels"][name] for b in batch]
            labels[name] = _stack(f"frame_labels/{name}", values) if isinstance(values[0], torch.Tensor) else values
        out["frame_labels"] = labels
    if "sequence_labels" in keys:
        seq_labels: dict[str, Any] = {}
        for name in batch[0]["sequence_labels"]:
            values = [b["sequence_labels"].get(name) for b in batch]
            if all(isinstance(v, bool) for v in values):
                seq_labels[name] = torch.tensor(values, dtype=torch.bool)
            elif all(isinstance(v, int) and not isinstance(v, bool) for v in values):
                seq_labels[name] = torch.tensor(values, dtype=torch.int64)
            elif all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
                seq_labels[name] = torch.tensor(values, dtype=torch.float64)
            else:
                seq_labels[name] = values
        out["sequence_labels"] = seq_labels
    if "calibration" in keys:
        out["calibration"] = [b["calibration"] for b in batch]
    return out


def _collate_points(batch: Sequence[dict[str, Any]], pad_to: int | None) -> dict[str, torch.Tensor]:
    offsets = [b["point_offsets"] for b in batch]
    k = {int(o.shape[0]) - 1 for o in offsets}
    if len(k) > 1:
        raise ValueError(f"collate_windows: windows of different lengths in one batch: {sorted(k)}")
    n_frames = k.pop()
    counts = torch.stack([o[1:] - o[:-1] for o in offsets])  # [B, K]
    n_cols = {int(b["points"].shape[1]) for b in batch}
    if len(n_cols) > 1:
        raise ValueError(f"collate_windows: point clouds with different column counts: {sorted(n_cols)}")
    c = n_cols.pop()
    n_max = int(counts.max()) if counts.numel() else 0
    if pad_to is not None:
        n_max = max(n_max, int(pad_to))
    bsz = len(batch)
    padded = torch.zeros((bsz, n_frames, n_max, c), dtype=torch.float32)
    mask = torch.arange(n_max).expand(bsz, n_frames, n_max) < counts.unsqueeze(-1)
    flat = torch.cat([b["points"] for b in batch]) if bsz else torch.zeros((0, c))
    padded[mask] = flat  # row-major order of mask == frame order of the flat points
    flat_offsets = torch.zeros(bsz * n_frames + 1, dtype=torch.int64)
    flat_offsets[1:] = torch.cumsum(counts.reshape(-1), 0)
    return {
        "points": padded,
        "points_mask": mask,
        "points_count": counts,
        "points_flat": flat,
        "points_offsets": flat_offsets,
    }
