"""Importer for RadHAR (Singh et al., mmNets 2019; github nesl/RadHAR, BSD-3-Clause).

Input: ``radhar_<split>.npz`` files in the redistributed format (see the shared data README).
Per point (row): ``points [N, 8] float32`` with ``columns`` = x, y, z (m), range (m),
velocity (m/s), doppler_bin, bearing (degrees), intensity (dB); ``time [N] float64`` (POSIX s,
the ROS stamp of the point), ``frame [N]`` (frame index within its recording), ``point_id [N]``,
``file_index [N]`` -> ``file_names``, ``file_labels`` -> ``class_names``.

One sequence per original recording (``file_names`` entry), split = the npz's split (from its
name, ``radhar_train.npz`` -> ``train``), sequence label ``activity`` = the class name.

Stored point columns (``RADHAR_POINT_COLUMNS``), reordered so that the first five match the
MARS layout: x, y, z (m), doppler (the radial velocity, m/s), intensity (dB), range (m),
doppler_bin (index), bearing (**radians**, converted from the source's degrees).
A frame's timestamp is the time of its first point.

Validity rule (a row breaking it is rejected, reported in ``ImportReport.rejected`` with the
file, frame, value and rule, and not stored):

1. every value and the time are finite;
2. ``|velocity| <= RADHAR_MAX_SPEED_MPS`` (+1 mm/s tolerance): the radar configuration
   measures velocity with ``RADHAR_DOPPLER_BINS`` = 16 Doppler bins of
   ``RADHAR_VELOCITY_RESOLUTION_MPS`` = 0.6147 m/s (velocity = (doppler_bin - 8) x 0.6147 for
   every valid row), so no speed above 8 x 0.6147 = 4.917 m/s (the maximum unambiguous
   velocity) can be measured; a larger value is a corrupt record, not a fast person;
3. ``doppler_bin`` is an integer in [0, 15].
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from mmsight.data.importers import ImportReport, RejectedRow, _inc, sha256_file
from mmsight.data.store import DatasetWriter, SequenceRecord
from mmsight.radar.formats.radhar_text import RADHAR_COLUMNS

__all__ = [
    "RADHAR_DOPPLER_BINS",
    "RADHAR_MAX_SPEED_MPS",
    "RADHAR_POINT_COLUMNS",
    "RADHAR_SOURCE_COLUMNS",
    "RADHAR_VELOCITY_RESOLUTION_MPS",
    "import_radhar",
    "radhar_invalid_rows",
]

#: Columns of the shared RadHAR ``.npz`` (the same as the ROS text dump's, see radar.formats).
RADHAR_SOURCE_COLUMNS: tuple[str, ...] = RADHAR_COLUMNS
RADHAR_POINT_COLUMNS: tuple[str, ...] = (
    "x", "y", "z", "doppler", "intensity", "range", "doppler_bin", "bearing",
)
#: Source column index for each stored column.
_REORDER = [RADHAR_SOURCE_COLUMNS.index(c if c != "doppler" else "velocity") for c in RADHAR_POINT_COLUMNS]

#: Doppler FFT size of the RadHAR radar configuration (doppler_bin 0..15, zero velocity at bin 8).
RADHAR_DOPPLER_BINS = 16
#: Velocity per Doppler bin (m/s), as found in every valid row: velocity = (bin - 8) * resolution.
RADHAR_VELOCITY_RESOLUTION_MPS = 0.61466867
#: Maximum unambiguous speed (m/s): half the Doppler bins times the resolution.
RADHAR_MAX_SPEED_MPS = RADHAR_DOPPLER_BINS / 2 * RADHAR_VELOCITY_RESOLUTION_MPS
_SPEED_TOL = 1e-3

_SPLIT_NAMES = ("train", "validate", "test")
_REQUIRED = ("points", "time", "frame", "file_index", "file_names", "file_labels", "class_names")


def radhar_invalid_rows(points: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Apply the validity rule to source rows.

    Args:
        points: ``float32 [N, 8]`` in the source column order (``RADHAR_SOURCE_COLUMNS``).
        times: ``float64 [N]``.

    Returns:
        ``(rows, column, rule)``: indices of the invalid rows, the source column index that broke
        the rule (-1 for the time), and the rule number (1 non-finite, 2 speed, 3 doppler_bin).
    """
    n = points.shape[0]
    rule = np.zeros(n, np.int8)
    col = np.full(n, -2, np.int64)
    finite = np.isfinite(points)
    bad1 = ~finite.all(axis=1) | ~np.isfinite(times)
    col[bad1] = np.where(np.isfinite(times[bad1]), np.argmax(~finite[bad1], axis=1), -1)
    rule[bad1] = 1
    v = points[:, RADHAR_SOURCE_COLUMNS.index("velocity")]
    with np.errstate(invalid="ignore"):
        bad2 = (rule == 0) & (np.abs(v) > RADHAR_MAX_SPEED_MPS + _SPEED_TOL)
    rule[bad2] = 2
    col[bad2] = RADHAR_SOURCE_COLUMNS.index("velocity")
    db = points[:, RADHAR_SOURCE_COLUMNS.index("doppler_bin")]
    with np.errstate(invalid="ignore"):
        bad3 = (rule == 0) & ((db != np.round(db)) | (db < 0) | (db > RADHAR_DOPPLER_BINS - 1))
    rule[bad3] = 3
    col[bad3] = RADHAR_SOURCE_COLUMNS.index("doppler_bin")
    rows = np.nonzero(rule)[0]
    return rows, col[rows], rule[rows]


_RULE_TEXT = {
    1: "non-finite value",
    2: f"|velocity| > max unambiguous speed {RADHAR_MAX_SPEED_MPS:.3f} m/s",
    3: f"doppler_bin not an integer in [0, {RADHAR_DOPPLER_BINS - 1}]",
}


def _split_of(path: Path) -> str:
    token = path.stem.rsplit("_", 1)[-1].lower()
    if token not in _SPLIT_NAMES:
        raise ValueError(
            f"cannot tell the split of {path.name} from its name (expected radhar_<train|validate|test>.npz); "
            "pass a mapping {split: path} instead"
        )
    return token


def _resolve_inputs(
    src: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | Mapping[str, str | os.PathLike[str]],
) -> list[tuple[str, Path]]:
    if isinstance(src, Mapping):
        pairs = [(str(k), Path(v)) for k, v in src.items()]
    else:
        if isinstance(src, (str, os.PathLike)):
            p = Path(src)
            files = sorted(p.glob("radhar_*.npz")) if p.is_dir() else [p]
            if p.is_dir() and not files:
                raise FileNotFoundError(f"no radhar_*.npz file in {p}")
        else:
            files = [Path(f) for f in src]
        pairs = [(_split_of(f), f) for f in files]
    splits = [s for s, _ in pairs]
    if len(set(splits)) != len(splits):
        raise ValueError(f"two RadHAR inputs for the same split: {splits}")
    for s, f in pairs:
        if s not in _SPLIT_NAMES:
            raise ValueError(f"unknown split name {s!r} for {f.name}; use one of {_SPLIT_NAMES}")
        if not f.is_file():
            raise FileNotFoundError(f"RadHAR file {f} not found")
    order = {s: i for i, s in enumerate(_SPLIT_NAMES)}
    return sorted(pairs, key=lambda sp: order[sp[0]])


def _load(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as z:
        missing = [k for k in _REQUIRED if k not in z.files]
        if missing:
            raise ValueError(f"{path.name} is not a RadHAR npz: missing array(s) {missing} (has {z.files})")
        d = {k: z[k] for k in z.files}
    n = d["points"].shape[0]
    if d["points"].ndim != 2 or d["points"].shape[1] != 8:
        raise ValueError(f"{path.name}: 'points' has shape {d['points'].shape}, expected [N, 8]")
    if "columns" in d and tuple(str(c) for c in d["columns"].tolist()) != RADHAR_SOURCE_COLUMNS:
        raise ValueError(f"{path.name}: columns {d['columns'].tolist()} differ from {list(RADHAR_SOURCE_COLUMNS)}")
    for k in ("time", "frame", "file_index"):
        if d[k].shape != (n,):
            raise ValueError(f"{path.name}: '{k}' has shape {d[k].shape}, expected ({n},)")
    if d["file_labels"].shape != d["file_names"].shape:
        raise ValueError(f"{path.name}: file_labels and file_names differ in length")
    fi = d["file_index"]
    if n and (fi.min() < 0 or fi.max() >= d["file_names"].shape[0]):
        raise ValueError(f"{path.name}: file_index out of range of file_names")
    lab = d["file_labels"]
    if lab.size and (lab.min() < 0 or lab.max() >= d["class_names"].shape[0]):
        raise ValueError(f"{path.name}: file_labels out of range of class_names")
    return d


def _sequence_id(split: str, file_name: str, used: set[str]) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]", "_", Path(file_name).stem).strip("_.-") or "recording"
    sid = f"{split}_{stem}"
    k = 2
    while sid in used:
        sid = f"{split}_{stem}_{k}"
        k += 1
    used.add(sid)
    return sid


def import_radhar(
    npz_dir_or_files: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | Mapping[str, str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    resume: bool = False,
    name: str = "radhar",
) -> ImportReport:
    """Import RadHAR ``.npz`` files into a dataset directory.

    Args:
        npz_dir_or_files: a directory holding ``radhar_<split>.npz``, one such file, a list of
            them, or a mapping ``{split: path}``.
        out_dir: dataset directory to create.
        overwrite: replace an existing dataset at ``out_dir``.
        resume: continue an interrupted import (same source files).
        name: dataset name in the manifest.

    Returns:
        ImportReport with ``counts`` tables ``files_per_split``, ``frames_per_split``,
        ``points_per_split``, ``rejected_per_split``, ``files_per_class``, ``frames_per_class``,
        ``points_per_class`` and ``files_per_split_class`` (keys ``"<split>/<class>"``); every
        rejected row is in ``rejected`` (source file, frame, npz row, column, value, rule).
    """
    t_start = time.perf_counter()
    inputs = _resolve_inputs(npz_dir_or_files)
    report = ImportReport(dataset="radhar", out_dir=Path(out_dir), sources=[f.name for _, f in inputs])
    loaded = [(split, path, _load(path)) for split, path in inputs]
    class_names = None
    for _, path, d in loaded:
        cn = tuple(str(c) for c in d["class_names"].tolist())
        if class_names is None:
            class_names = cn
        elif cn != class_names:
            raise ValueError(f"{path.name}: class_names {list(cn)} differ from {list(class_names)}")

    writer = DatasetWriter(
        out_dir,
        name=name,
        task="activity",
        description="RadHAR: mmWave point clouds of 5 activities (boxing, jack, jump, squats, walk)",
        meta={
            "source": "RadHAR (Singh et al., mmNets 2019), github nesl/RadHAR",
            "licence": "BSD-3-Clause",
            "class_names": list(class_names or ()),
            "point_columns_units": {
                "x": "m", "y": "m", "z": "m", "doppler": "m/s (radial velocity)", "intensity": "dB",
                "range": "m", "doppler_bin": "index", "bearing": "rad",
            },
        },
        config={
            "importer": "radhar",
            "importer_version": 1,
            "sources": {split: {"file": path.name, "sha256": sha256_file(path)} for split, path, _ in loaded},
            "validity_rule": {
                "max_speed_mps": RADHAR_MAX_SPEED_MPS,
                "doppler_bins": RADHAR_DOPPLER_BINS,
                "velocity_resolution_mps": RADHAR_VELOCITY_RESOLUTION_MPS,
            },
        },
        overwrite=overwrite,
        resume=resume,
    )
    c: dict[str, dict[str, int]] = {
        k: {}
        for k in (
            "files_per_split", "frames_per_split", "points_per_split", "rejected_per_split",
            "files_per_class", "frames_per_class", "points_per_class", "files_per_split_class",
        )
    }
    splits: dict[str, list[str]] = {}
    used: set[str] = set()
    points_per_frame: list[np.ndarray] = []
    frame_dt: list[np.ndarray] = []
    for split, path, d in loaded:
        pts_all, t_all = d["points"].astype(np.float32, copy=False), d["time"].astype(np.float64, copy=False)
        fi_all, fr_all = d["file_index"].astype(np.int64), d["frame"].astype(np.int64)
        pid = d["point_id"].astype(np.int64) if "point_id" in d else np.arange(pts_all.shape[0])
        order = np.lexsort((pid, fr_all, fi_all))
        if not np.array_equal(order, np.arange(order.shape[0])):
            report.notes.append(f"{path.name}: rows were not sorted by (file, frame, point); sorted them")
        rows_bad, cols_bad, rules_bad = radhar_invalid_rows(pts_all, t_all)
        valid = np.ones(pts_all.shape[0], bool)
        valid[rows_bad] = False
        file_names = [str(x) for x in d["file_names"].tolist()]
        for r, col, rule in zip(rows_bad.tolist(), cols_bad.tolist(), rules_bad.tolist()):
            fname = file_names[int(fi_all[r])]
            cname = "time" if col == -1 else RADHAR_SOURCE_COLUMNS[col]
            value = float(t_all[r]) if col == -1 else float(pts_all[r, col])
            report.rejected.append(RejectedRow(fname, int(fr_all[r]), r, cname, value, _RULE_TEXT[rule]))
            _inc(c["rejected_per_split"], split)
        fi_sorted = fi_all[order]
        bounds = np.searchsorted(fi_sorted, np.arange(len(file_names) + 1), side="left")
        for k, fname in enumerate(file_names):
            rows = order[bounds[k] : bounds[k + 1]]
            if rows.size == 0:
                report.notes.append(f"{path.name}: recording {fname} has no points; no sequence written")
                continue
            cls = class_names[int(d["file_labels"][k])] if class_names else str(int(d["file_labels"][k]))
            fr = fr_all[rows]
            starts = np.concatenate([[0], np.nonzero(np.diff(fr))[0] + 1])
            frame_ids = fr[starts]
            # frame time: time of the frame's first row with a finite time
            t_rows = t_all[rows]
            t_fill = np.where(np.isfinite(t_rows), t_rows, np.inf)
            t_frame = np.minimum.reduceat(t_fill, starts)
            keep_frame = np.isfinite(t_frame)
            if not keep_frame.all():
                report.notes.append(
                    f"{fname}: {int((~keep_frame).sum())} frame(s) without any finite time dropped "
                    f"(frames {frame_ids[~keep_frame].tolist()[:5]})"
                )
            v_rows = valid[rows]
            frame_of_row = np.repeat(np.arange(starts.shape[0]), np.diff(np.concatenate([starts, [rows.size]])))
            keep_row = v_rows & keep_frame[frame_of_row]
            new_frame_index = np.cumsum(keep_frame) - 1
            counts = np.bincount(new_frame_index[frame_of_row[keep_row]], minlength=int(keep_frame.sum()))
            pts = pts_all[rows[keep_row]][:, _REORDER].copy()
            pts[:, RADHAR_POINT_COLUMNS.index("bearing")] = np.deg2rad(pts[:, RADHAR_POINT_COLUMNS.index("bearing")])
            ts = t_frame[keep_frame]
            fids = frame_ids[keep_frame]
            offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
            # cut where the frame time does not increase (never seen in the published files)
            cut = np.nonzero(np.diff(ts) <= 0)[0] + 1
            parts = np.concatenate([[0], cut, [ts.shape[0]]])
            for j in cut.tolist():
                report.notes.append(f"{fname}: frame time does not increase at frame {int(fids[j])}; sequence cut there")
            for pa, pb in zip(parts[:-1].tolist(), parts[1:].tolist()):
                sid = _sequence_id(split, fname, used)
                splits.setdefault(split, []).append(sid)
                n_pts = int(offsets[pb] - offsets[pa])
                _inc(c["files_per_split"], split)
                _inc(c["frames_per_split"], split, pb - pa)
                _inc(c["points_per_split"], split, n_pts)
                _inc(c["files_per_class"], cls)
                _inc(c["frames_per_class"], cls, pb - pa)
                _inc(c["points_per_class"], cls, n_pts)
                _inc(c["files_per_split_class"], f"{split}/{cls}")
                report.n_sequences += 1
                report.n_frames += pb - pa
                report.n_points += n_pts
                points_per_frame.append(counts[pa:pb])
                frame_dt.append(np.diff(ts[pa:pb]))
                if resume and writer.has_sequence(sid):
                    report.skipped_existing += 1
                    continue
                writer.write_sequence(
                    SequenceRecord(
                        sequence_id=sid,
                        timestamps=ts[pa:pb].copy(),
                        points=pts[offsets[pa] : offsets[pb]],
                        point_offsets=offsets[pa : pb + 1] - offsets[pa],
                        point_columns=RADHAR_POINT_COLUMNS,
                        frame_labels={"source_frame": fids[pa:pb].astype(np.int64)},
                        sequence_labels={
                            "activity": cls,
                            "activity_index": int(d["file_labels"][k]),
                            "source_file": fname,
                            "split": split,
                        },
                    )
                )
    writer.finalize(splits)
    report.counts = c
    ppf = np.concatenate(points_per_frame) if points_per_frame else np.zeros(0)
    dts = np.concatenate(frame_dt) if frame_dt else np.zeros(0)
    report.stats = {
        "points_per_frame_mean": float(ppf.mean()) if ppf.size else 0.0,
        "points_per_frame_min": float(ppf.min()) if ppf.size else 0.0,
        "points_per_frame_max": float(ppf.max()) if ppf.size else 0.0,
        "frame_rate_hz_median": float(1.0 / np.median(dts)) if dts.size else 0.0,
        "frame_rate_hz_mean": float(1.0 / np.mean(dts)) if dts.size else 0.0,
    }
    report.elapsed_s = time.perf_counter() - t_start
    return report
