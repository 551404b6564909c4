"""Importer for the MARS dataset (An & Ogras, ACM TECS 2021; github SizheAn/MARS, MIT licence).

Input: an ``.npz`` in the redistributed format (see the shared data README), e.g.
``mars_train_validate.npz`` or the held-out test file of the same format:

==================  =====================  ==================================================
array               shape, dtype           meaning
==================  =====================  ==================================================
``points``          ``[P, 5] float32``     x, y, z (m, radar frame), doppler (m/s), intensity
``frame_offsets``   ``[F+1] int64``        frame i owns ``points[o[i]:o[i+1]]``
``frame_subject``   ``[F] int``            subject 1-4
``frame_movement``  ``[F] int``            movement 1-10
``frame_split``     ``[F] int``            0 train, 1 validate, 2 test
``frame_time``      ``[F] float64``        POSIX seconds
``joints``          ``[F, J, 3] float32``  Kinect V2 skeleton (m); NaN = not available
``joint_names``     ``[J] str``            joint order
==================  =====================  ==================================================

One sequence per contiguous run of frames with the same (subject, movement, split); a run is
also cut where the frame time does not increase (reported in the notes). Sequence ids are
``s<subject>_m<movement:02d>_<split>`` (``_part<k>`` appended to the k-th run, k >= 2, of a
repeated key). Splits come from ``frame_split``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from mmsight.data.importers import ImportReport, RejectedRow, _inc, sha256_file
from mmsight.data.store import DatasetWriter, SequenceRecord

__all__ = ["MARS_MOVEMENTS", "MARS_POINT_COLUMNS", "MARS_SPLITS", "MARS19_FROM_KINECT", "import_mars"]

#: ``frame_split`` value -> split name.
MARS_SPLITS: dict[int, str] = {0: "train", 1: "validate", 2: "test"}

#: Movement number -> name (MARS paper).
MARS_MOVEMENTS: dict[int, str] = {
    1: "left_upper_limb_extension",
    2: "right_upper_limb_extension",
    3: "both_upper_limb_extension",
    4: "left_front_lunge",
    5: "right_front_lunge",
    6: "squat",
    7: "left_side_lunge",
    8: "right_side_lunge",
    9: "left_limb_extension",
    10: "right_limb_extension",
}

#: Point columns as stored: x, y, z (m), doppler (m/s), intensity (unitless, as reported by the radar).
MARS_POINT_COLUMNS: tuple[str, ...] = ("x", "y", "z", "doppler", "intensity")

#: MARS's own 19-joint set = Kinect joints 0-20 without HandLeft (7) and HandRight (11).
MARS19_FROM_KINECT: tuple[int, ...] = tuple(i for i in range(21) if i not in (7, 11))

_REQUIRED = ("points", "frame_offsets", "frame_subject", "frame_movement", "frame_split", "frame_time")


def _load(npz_path: Path) -> dict[str, np.ndarray]:
    if not npz_path.is_file():
        raise FileNotFoundError(f"MARS file {npz_path} not found")
    with np.load(npz_path, allow_pickle=False) as z:
        missing = [k for k in _REQUIRED if k not in z.files]
        if missing:
            raise ValueError(f"{npz_path.name} is not a MARS npz: missing array(s) {missing} (has {z.files})")
        data = {k: z[k] for k in z.files}
    f = data["frame_subject"].shape[0]
    for k in ("frame_movement", "frame_split", "frame_time"):
        if data[k].shape != (f,):
            raise ValueError(f"{npz_path.name}: '{k}' has shape {data[k].shape}, expected ({f},)")
    if data["frame_offsets"].shape != (f + 1,):
        raise ValueError(f"{npz_path.name}: 'frame_offsets' has shape {data['frame_offsets'].shape}, expected ({f + 1},)")
    p = data["points"]
    if p.ndim != 2 or p.shape[1] != 5:
        raise ValueError(f"{npz_path.name}: 'points' has shape {p.shape}, expected [P, 5]")
    o = data["frame_offsets"].astype(np.int64)
    if o[0] != 0 or o[-1] != p.shape[0] or (np.diff(o) < 0).any():
        raise ValueError(f"{npz_path.name}: 'frame_offsets' inconsistent with {p.shape[0]} points")
    data["frame_offsets"] = o
    if ("joints" in data) != ("joint_names" in data):
        raise ValueError(f"{npz_path.name}: 'joints' and 'joint_names' must come together")
    if "joints" in data:
        j = data["joints"]
        if j.ndim != 3 or j.shape[0] != f or j.shape[2] != 3 or data["joint_names"].shape != (j.shape[1],):
            raise ValueError(
                f"{npz_path.name}: 'joints' {j.shape} / 'joint_names' {data['joint_names'].shape} do not match "
                f"[{f}, J, 3] / [J]"
            )
    bad_split = sorted(set(np.unique(data["frame_split"]).tolist()) - set(MARS_SPLITS))
    if bad_split:
        raise ValueError(f"{npz_path.name}: unknown frame_split value(s) {bad_split}; known: {MARS_SPLITS}")
    bad_t = ~np.isfinite(data["frame_time"])
    if bad_t.any():
        raise ValueError(f"{npz_path.name}: non-finite frame_time at frame {int(np.argmax(bad_t))}")
    return data


def import_mars(
    npz_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    resume: bool = False,
    name: str = "mars",
) -> ImportReport:
    """Import a MARS ``.npz`` into a dataset directory.

    Args:
        npz_path: the MARS file (train/validate file, or the held-out test file of the same format).
        out_dir: dataset directory to create.
        overwrite: replace an existing dataset at ``out_dir``.
        resume: continue an interrupted import into ``out_dir`` (same source file).
        name: dataset name in the manifest.

    Returns:
        ImportReport with ``counts`` tables ``frames_per_split``, ``frames_per_subject``,
        ``frames_per_movement``, ``sequences_per_split``, ``points_per_split``,
        ``nan_skeleton_frames_per_subject_split``, plus ``nan_skeleton_frames``. Points with a
        non-finite value are rejected and listed in ``rejected``.
    """
    t_start = time.perf_counter()
    npz_path = Path(npz_path)
    data = _load(npz_path)
    src = npz_path.name
    subj = data["frame_subject"].astype(np.int64)
    mov = data["frame_movement"].astype(np.int64)
    spl = data["frame_split"].astype(np.int64)
    t = data["frame_time"].astype(np.float64)
    points = data["points"].astype(np.float32, copy=False)
    offsets = data["frame_offsets"]
    f_total = subj.shape[0]
    report = ImportReport(dataset="mars", out_dir=Path(out_dir), sources=[src])

    # -- validity of the points: non-finite values are rejected row by row, and reported -------
    bad_rows = np.nonzero(~np.isfinite(points).all(axis=1))[0]
    if bad_rows.size:
        frame_of_row = np.searchsorted(offsets, bad_rows, side="right") - 1
        for r, fr in zip(bad_rows.tolist(), frame_of_row.tolist()):
            col = int(np.argmax(~np.isfinite(points[r])))
            report.rejected.append(
                RejectedRow(src, fr, r, MARS_POINT_COLUMNS[col], float(points[r, col]), "non-finite point value")
            )
        keep = np.ones(points.shape[0], bool)
        keep[bad_rows] = False
        kept_cum = np.concatenate([[0], np.cumsum(keep)])
        offsets = kept_cum[offsets].astype(np.int64)
        points = points[keep]

    # -- skeleton: a joint with any non-finite coordinate is marked missing (all NaN) ----------
    joints = joint_names = None
    if "joints" in data:
        joints = data["joints"].astype(np.float32, copy=True)
        joint_names = tuple(str(n) for n in data["joint_names"].tolist())
        partly = ~np.isfinite(joints).all(axis=2) & ~np.isnan(joints).all(axis=2)
        if partly.any():
            report.notes.append(
                f"{int(partly.sum())} joint(s) with some non-finite coordinates were marked missing (NaN)"
            )
            joints[partly] = np.nan

    # -- runs of (subject, movement, split), cut where time does not increase ------------------
    key_change = (np.diff(subj) != 0) | (np.diff(mov) != 0) | (np.diff(spl) != 0)
    time_back = (np.diff(t) <= 0) & ~key_change
    for i in np.nonzero(time_back)[0].tolist():
        report.notes.append(
            f"frame_time does not increase at frame {i + 1} ({t[i + 1]!r} <= {t[i]!r}); sequence cut there"
        )
    starts = np.concatenate([[0], np.nonzero(key_change | time_back)[0] + 1, [f_total]])

    writer = DatasetWriter(
        out_dir,
        name=name,
        task="pose",
        description="MARS: mmWave point clouds with Kinect V2 skeletons, 4 subjects x 10 rehabilitation movements",
        meta={
            "source": "MARS (An & Ogras, ACM TECS 2021), github SizheAn/MARS",
            "licence": "MIT",
            "point_columns_units": {"x": "m", "y": "m", "z": "m", "doppler": "m/s", "intensity": "unitless"},
            "skeleton": "Kinect V2, 25 joints, metres, radar frame; NaN = label not available",
        },
        config={"importer": "mars", "importer_version": 1, "source_file": src, "source_sha256": sha256_file(npz_path)},
        overwrite=overwrite,
        resume=resume,
    )
    splits: dict[str, list[str]] = {}
    seen: dict[str, int] = {}
    frames_split: dict[str, int] = {}
    frames_subject: dict[str, int] = {}
    frames_movement: dict[str, int] = {}
    seq_split: dict[str, int] = {}
    pts_split: dict[str, int] = {}
    nan_tab: dict[str, int] = {}
    for a, b in zip(starts[:-1].tolist(), starts[1:].tolist()):
        s, m, sp = int(subj[a]), int(mov[a]), MARS_SPLITS[int(spl[a])]
        base = f"s{s}_m{m:02d}_{sp}"
        seen[base] = seen.get(base, 0) + 1
        sid = base if seen[base] == 1 else f"{base}_part{seen[base]}"
        splits.setdefault(sp, []).append(sid)
        n = b - a
        n_pts = int(offsets[b] - offsets[a])
        _inc(frames_split, sp, n)
        _inc(frames_subject, s, n)
        _inc(frames_movement, m, n)
        _inc(seq_split, sp)
        _inc(pts_split, sp, n_pts)
        if joints is not None:
            n_nan = int(np.isnan(joints[a:b]).all(axis=(1, 2)).sum())
            report.nan_skeleton_frames += n_nan
            if n_nan:
                _inc(nan_tab, f"s{s}/{sp}", n_nan)
        report.n_sequences += 1
        report.n_frames += n
        report.n_points += n_pts
        if resume and writer.has_sequence(sid):
            report.skipped_existing += 1
            continue
        rec = SequenceRecord(
            sequence_id=sid,
            timestamps=t[a:b].copy(),
            points=points[offsets[a] : offsets[b]],
            point_offsets=(offsets[a : b + 1] - offsets[a]).astype(np.int64),
            point_columns=MARS_POINT_COLUMNS,
            skeleton=None if joints is None else joints[a:b],
            joint_names=joint_names,
            frame_labels={"source_frame": np.arange(a, b, dtype=np.int64)},
            sequence_labels={
                "subject": s,
                "movement": m,
                "movement_name": MARS_MOVEMENTS.get(m, f"movement_{m}"),
                "split": sp,
                "source_file": src,
            },
        )
        writer.write_sequence(rec)
    writer.finalize(splits)

    counts_per_frame = np.diff(offsets)
    dt = np.diff(t)[~(key_change | time_back)] if f_total > 1 else np.zeros(0)
    report.counts = {
        "frames_per_split": frames_split,
        "frames_per_subject": frames_subject,
        "frames_per_movement": frames_movement,
        "sequences_per_split": seq_split,
        "points_per_split": pts_split,
        "nan_skeleton_frames_per_subject_split": nan_tab,
    }
    report.stats = {
        "points_per_frame_mean": float(counts_per_frame.mean()) if f_total else 0.0,
        "points_per_frame_min": float(counts_per_frame.min()) if f_total else 0.0,
        "points_per_frame_max": float(counts_per_frame.max()) if f_total else 0.0,
        "frame_rate_hz_median": float(1.0 / np.median(dt)) if dt.size else 0.0,
        "frame_rate_hz_mean": float(1.0 / np.mean(dt)) if dt.size else 0.0,
    }
    report.elapsed_s = time.perf_counter() - t_start
    return report
