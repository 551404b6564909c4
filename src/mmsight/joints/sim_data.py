"""Simulated ``rehab`` datasets in the MARS file format, for mmJoints and its estimators.

``mmsight simulate rehab`` writes MARS-like recordings (a subject doing the ten MARS movements in four
environments from two radar positions; ``mmsight.sim.tasks.rehab``) with the dataset store. This module
turns such a dataset into the arrays of a MARS ``.npz`` file (``mmsight.joints.mars_data``), so that
every mmJoints command (``joints train``, ``joints evaluate``, ``benchmarks/joints_estimators.py``)
runs on it unchanged.

Conversion, per frame:

* ``points``: the stored ``x, y, z, doppler, snr`` columns; ``snr`` (dB) becomes a linear power
  ratio ``10 ** (snr / 10)``, because MARS's ``intensity`` behaves as TI's linear, power-like
  ``peakVal`` (``docs/sim_calibration.md``). Absolute levels differ between the two; the shape of the
  distribution is what the simulator was calibrated on.
* at most ``max_points`` points per frame (default 64, MARS's TI configuration caps a frame at 64
  detections): the strongest by SNR are kept, in their stored order; the number dropped is reported.
* ``joints``: the stored Kinect V2 skeleton (25 joints, radar frame), which is what MARS stores.
* ``frame_subject`` / ``frame_movement``: the sequence labels ``subject`` and ``movement`` (1-10).
* ``frame_split``: the dataset's own train / validate / test split of the sequences.
* ``frame_recording``: the sequence's index in the file, so that windows never span two
  sequences (two sequences with the same subject, movement and split may be adjacent).
* ``frame_time``: the sequence's timestamps, each sequence shifted to start 10 s after the previous
  one ends (MARS stores POSIX seconds; only differences within a recording matter).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mmsight.joints.mars_data import KINECT_V2_JOINT_NAMES, MarsDataError, MarsFrames, frames_from_arrays

__all__ = ["SimConversionReport", "sim_rehab_arrays", "frames_from_sim_dataset", "write_mars_npz"]

_SPLIT_CODES = {"train": 0, "validate": 1, "test": 2}
_COLUMNS = ("x", "y", "z", "doppler", "snr")
_GAP_S = 10.0


@dataclass
class SimConversionReport:
    """What a conversion did: ``sequences``, ``frames``, ``points`` kept, ``points_dropped`` by the
    per-frame cap, ``frames_capped`` and the frames per split."""

    sequences: int = 0
    frames: int = 0
    points: int = 0
    points_dropped: int = 0
    frames_capped: int = 0
    frames_per_split: dict[str, int] = field(default_factory=dict)


def _cap(points: np.ndarray, offsets: np.ndarray, max_points: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Keep the ``max_points`` strongest points (last column) of each frame, in stored order."""
    counts = np.diff(offsets)
    if counts.max(initial=0) <= max_points:
        return points, offsets, 0
    keep = np.ones(points.shape[0], dtype=bool)
    n_capped = 0
    for f in np.flatnonzero(counts > max_points):
        lo, hi = int(offsets[f]), int(offsets[f + 1])
        order = np.argsort(-points[lo:hi, -1], kind="stable")
        keep[lo + order[max_points:]] = False
        n_capped += 1
    new_counts = np.minimum(counts, max_points)
    return points[keep], np.concatenate([[0], np.cumsum(new_counts)]).astype(np.int64), n_capped


def sim_rehab_arrays(path: str | os.PathLike, *, max_points: int | None = 64) -> tuple[dict[str, np.ndarray], SimConversionReport]:
    """The MARS-format arrays of a simulated dataset (see the module docstring).

    Args:
        path: a complete dataset written by ``mmsight simulate rehab``.
        max_points: per-frame cap on the points (None = keep all).

    Returns:
        ``(arrays, report)``: arrays as :func:`mmsight.joints.mars_data.frames_from_arrays` takes them.

    Raises:
        MarsDataError: the dataset lacks what the MARS format needs (points with ``x, y, z, doppler,
            snr``, a Kinect V2 skeleton, ``subject`` and ``movement`` labels, a split for every
            sequence); the message names the sequence.
        mmsight.data.DatasetError: the dataset is missing, incomplete or corrupt.
    """
    from mmsight.data import open_dataset

    if max_points is not None and max_points < 1:
        raise ValueError(f"max_points must be >= 1 or None, got {max_points}")
    ds = open_dataset(path)
    split_of: dict[str, int] = {}
    for name, ids in (ds.splits or {}).items():
        if name not in _SPLIT_CODES:
            raise MarsDataError(f"{path}: split {name!r} has no MARS code (train, validate, test)")
        for sid in ids:
            split_of[sid] = _SPLIT_CODES[name]
    pts_all, off_all, joints_all, subj, mov, split, rec, times = [], [0], [], [], [], [], [], []
    report = SimConversionReport()
    t0 = 0.0
    for k, sid in enumerate(ds.sequence_ids):
        where = f"{path}: sequence {sid!r}"
        if sid not in split_of:
            raise MarsDataError(f"{where} is in no split of the dataset")
        r = ds.read_sequence(sid, streams=["points", "skeleton", "sequence_labels"])
        if r.points is None or r.point_offsets is None:
            raise MarsDataError(f"{where} has no points stream")
        if tuple(r.point_columns[:5]) != _COLUMNS:
            raise MarsDataError(f"{where}: point columns {r.point_columns}, expected {_COLUMNS} first")
        if r.skeleton is None or tuple(r.joint_names or ())[:25] != KINECT_V2_JOINT_NAMES[:25]:
            raise MarsDataError(f"{where} has no Kinect V2 skeleton (simulate with joint_set: kinect25)")
        for key in ("subject", "movement"):
            if not isinstance(r.sequence_labels.get(key), (int, np.integer)):
                raise MarsDataError(f"{where} has no integer {key!r} label (a rehab dataset is needed)")
        pts = np.asarray(r.points[:, :5], dtype=np.float64)
        pts[:, 4] = 10.0 ** (pts[:, 4] / 10.0)
        off = np.asarray(r.point_offsets, dtype=np.int64)
        n_before = pts.shape[0]
        if max_points is not None:
            pts, off, n_capped = _cap(pts, off, max_points)
            report.frames_capped += n_capped
        report.points_dropped += n_before - pts.shape[0]
        n = r.n_frames
        base = off_all[-1]
        pts_all.append(pts.astype(np.float32))
        off_all.extend((off[1:] + base).tolist())
        joints_all.append(np.asarray(r.skeleton[:, :25], dtype=np.float32))
        subj.append(np.full(n, int(r.sequence_labels["subject"]), np.int64))
        mov.append(np.full(n, int(r.sequence_labels["movement"]), np.int64))
        split.append(np.full(n, split_of[sid], np.int64))
        rec.append(np.full(n, k, np.int64))
        ts = np.asarray(r.timestamps, dtype=np.float64)
        times.append(ts - ts[0] + t0)
        t0 = float(times[-1][-1]) + _GAP_S
        report.sequences += 1
        report.frames += n
        name = next(nm for nm, c in _SPLIT_CODES.items() if c == split_of[sid])
        report.frames_per_split[name] = report.frames_per_split.get(name, 0) + n
    if not report.sequences:
        raise MarsDataError(f"{path}: the dataset holds no sequences")
    arrays = {
        "points": np.concatenate(pts_all), "frame_offsets": np.asarray(off_all, np.int64),
        "frame_subject": np.concatenate(subj), "frame_movement": np.concatenate(mov),
        "frame_split": np.concatenate(split), "frame_time": np.concatenate(times),
        "joints": np.concatenate(joints_all), "joint_names": np.asarray(KINECT_V2_JOINT_NAMES[:25]),
        "frame_recording": np.concatenate(rec),
    }
    report.points = int(arrays["points"].shape[0])
    return arrays, report


def frames_from_sim_dataset(path: str | os.PathLike, *, max_points: int | None = 64) -> MarsFrames:
    """:class:`MarsFrames` of a simulated ``rehab`` dataset (validated like a MARS file)."""
    arrays, _ = sim_rehab_arrays(path, max_points=max_points)
    return frames_from_arrays(arrays, source=os.path.basename(os.fspath(path)), check_time=True)


def write_mars_npz(arrays: dict[str, Any], path: str | os.PathLike) -> str:
    """Validate MARS-format ``arrays`` and write them atomically as a compressed ``.npz``
    (a temporary file in the same folder, renamed over ``path`` when complete). Returns the path."""
    frames_from_arrays(arrays, check_time=True)  # refuse to write what the loader would reject
    path = os.fspath(path)
    if not path.endswith(".npz"):
        raise ValueError(f"the MARS file must end in .npz, got {path!r}")
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp_", suffix=".npz", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez_compressed(fh, **{k: np.asarray(v) for k, v in arrays.items()})
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path
