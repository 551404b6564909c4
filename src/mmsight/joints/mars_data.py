"""MARS dataset access for the mmJoints pose estimators.

The MARS data set (An & Ogras, "MARS: mmWave-based Assistive Rehabilitation System for Smart
Healthcare", ACM TECS 2021, github SizheAn/MARS, MIT licence) pairs TI IWR1443 radar point clouds
with a Kinect V2 skeleton per frame. mmsight reads it from a single ``.npz`` file:

=================  ==================  =============================================================
array              shape, dtype        meaning
=================  ==================  =============================================================
``points``         ``[P, 5] float32``  x, y, z (m, radar frame), doppler (m/s), intensity (unitless)
``frame_offsets``  ``[F+1] int64``     points of frame i are ``points[off[i]:off[i+1]]``
``frame_subject``  ``[F] int8``        subject id
``frame_movement`` ``[F] int8``        movement id (1-10)
``frame_split``    ``[F] int8``        0 train, 1 validate, 2 test
``frame_time``     ``[F] float64``     POSIX seconds
``joints``         ``[F, 25, 3] f32``  Kinect V2 skeleton (m), NaN where no label is available
``joint_names``    ``[25] str``        Kinect V2 joint order (optional)
``frame_recording````[F] int``          recording id (optional; MARS has none: see ``run_id``)
=================  ==================  =============================================================

Everything here is vectorised: the 32k-frame train/validate file loads, validates and converts to
padded per-frame arrays in well under a second.

Point order and the 8 x 8 x 5 feature map
-----------------------------------------
MARS turns each frame into an ``8 x 8 x 5`` "feature map": the frame's points, in the order the
radar reported them, zero-padded to 64 rows and reshaped row-major (point ``k`` goes to cell
``(k // 8, k % 8)``). The MARS repository's synchronised CSV files keep the TI mmWave SDK output
order, which groups detections by Doppler bin (0, +1, +2, ..., then the negative bins) and, within a
bin, by range; MARS does not re-sort the points, and neither do we. The TI demo configuration MARS
used caps a frame at 64 detections, so MARS never had to drop points; for inputs with more than 64
points we keep the first 64 in the given order by default (``overflow="truncate"``), or the 64
strongest by intensity (``overflow="intensity"``, kept in their original relative order), or raise
(``overflow="error"``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Literal, Sequence

import numpy as np

__all__ = [
    "KINECT_V2_JOINT_NAMES",
    "MARS19",
    "MARS19_NAMES",
    "MARS19_UPPER",
    "MARS19_LOWER",
    "MARS19_TORSO",
    "MAX_POINTS",
    "SPLIT_NAMES",
    "MarsDataError",
    "MarsFrames",
    "WindowIndex",
    "load_mars_npz",
    "frames_from_arrays",
    "make_synthetic_arrays",
    "make_synthetic_frames",
    "feature_map_8x8x5",
    "feature_maps_from_padded",
    "pad_frames",
    "pad_point_list",
    "make_windows",
    "gather_windows",
    "window_point_lists",
]

#: Kinect V2 joint order (25 joints), as stored in ``joints``.
KINECT_V2_JOINT_NAMES: tuple[str, ...] = (
    "SpineBase", "SpineMid", "Neck", "Head",
    "ShoulderLeft", "ElbowLeft", "WristLeft", "HandLeft",
    "ShoulderRight", "ElbowRight", "WristRight", "HandRight",
    "HipLeft", "KneeLeft", "AnkleLeft", "FootLeft",
    "HipRight", "KneeRight", "AnkleRight", "FootRight",
    "SpineShoulder", "HandTipLeft", "ThumbLeft", "HandTipRight", "ThumbRight",
)  # fmt: skip

#: Kinect V2 indices of MARS's 19 joints: Kinect joints 0-20 without HandLeft (7) and HandRight (11).
MARS19: np.ndarray = np.array([0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 12, 13, 14, 15, 16, 17, 18, 19, 20])
MARS19.setflags(write=False)
#: Names of the 19 MARS joints, in MARS output order.
MARS19_NAMES: tuple[str, ...] = tuple(KINECT_V2_JOINT_NAMES[i] for i in MARS19)

#: Positions (into the 19-joint set) of the upper-body joints: SpineMid, Neck, Head, shoulders,
#: elbows, wrists, SpineShoulder (10 joints). Used by the crafted model M1.
MARS19_UPPER: np.ndarray = np.array(
    [MARS19_NAMES.index(n) for n in (
        "SpineMid", "Neck", "Head", "ShoulderLeft", "ElbowLeft", "WristLeft",
        "ShoulderRight", "ElbowRight", "WristRight", "SpineShoulder")]  # fmt: skip
)
MARS19_UPPER.setflags(write=False)
#: Positions of the lower-body joints: SpineBase (pelvis), hips, knees, ankles, feet (9 joints).
#: Used by the crafted model M2. Upper and lower partition the 19 joints.
MARS19_LOWER: np.ndarray = np.array(
    [MARS19_NAMES.index(n) for n in (
        "SpineBase", "HipLeft", "KneeLeft", "AnkleLeft", "FootLeft",
        "HipRight", "KneeRight", "AnkleRight", "FootRight")]  # fmt: skip
)
MARS19_LOWER.setflags(write=False)
#: (top, bottom) positions in the 19-joint set defining the torso length used by PCK:
#: SpineShoulder and SpineBase.
MARS19_TORSO: tuple[int, int] = (MARS19_NAMES.index("SpineShoulder"), MARS19_NAMES.index("SpineBase"))

#: Points per frame in MARS's feature map (8 x 8).
MAX_POINTS = 64
#: Split codes used in ``frame_split``.
SPLIT_NAMES: dict[int, str] = {0: "train", 1: "validate", 2: "test"}

Overflow = Literal["truncate", "intensity", "error"]


class MarsDataError(ValueError):
    """A MARS-format file or array is missing a key, has a bad shape, or is inconsistent."""


@dataclass(frozen=True)
class MarsFrames:
    """A validated MARS-format recording set (all arrays read-only views).

    Attributes:
        points: ``float32 [P, 5]`` x, y, z (m, radar frame), doppler (m/s), intensity.
        frame_offsets: ``int64 [F+1]``; frame ``i`` owns ``points[frame_offsets[i]:frame_offsets[i+1]]``.
        subject: ``int64 [F]`` subject id.
        movement: ``int64 [F]`` movement id.
        split: ``int64 [F]`` split code (0 train, 1 validate, 2 test).
        time: ``float64 [F]`` POSIX seconds.
        joints_kinect: ``float32 [F, 25, 3]`` Kinect V2 skeleton in metres (NaN = no label).
        joint_names: the 25 Kinect joint names.
        source: where the frames came from (file name), for reports.
        recording: ``int64 [F]`` recording id from the optional ``frame_recording`` array (None in
            MARS's own file); when given, a new recording also starts a new run.
    """

    points: np.ndarray
    frame_offsets: np.ndarray
    subject: np.ndarray
    movement: np.ndarray
    split: np.ndarray
    time: np.ndarray
    joints_kinect: np.ndarray
    joint_names: tuple[str, ...] = KINECT_V2_JOINT_NAMES
    source: str = ""
    recording: np.ndarray | None = None
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def n_frames(self) -> int:
        """Number of frames F."""
        return int(self.frame_offsets.shape[0] - 1)

    @property
    def n_points(self) -> np.ndarray:
        """``int64 [F]`` number of points in each frame."""
        return np.diff(self.frame_offsets)

    @property
    def joints(self) -> np.ndarray:
        """``float32 [F, 19, 3]`` the MARS 19-joint skeleton (m); NaN where unlabelled."""
        if "joints19" not in self._cache:
            j = np.ascontiguousarray(self.joints_kinect[:, MARS19, :])
            j.setflags(write=False)
            self._cache["joints19"] = j
        return self._cache["joints19"]

    @property
    def valid(self) -> np.ndarray:
        """``bool [F]`` True where all 19 MARS joints are finite (usable as a target)."""
        if "valid" not in self._cache:
            v = np.isfinite(self.joints).all(axis=(1, 2))
            v.setflags(write=False)
            self._cache["valid"] = v
        return self._cache["valid"]

    @property
    def run_id(self) -> np.ndarray:
        """``int64 [F]`` index of the run each frame belongs to.

        A run is a maximal block of consecutive frames sharing (subject, movement, split) and,
        when the file has ``frame_recording``, the recording. Two blocks with the same key that are
        not adjacent in the file are different runs.
        """
        if "run_id" not in self._cache:
            f = self.n_frames
            change = np.ones(f, dtype=bool)
            if f > 1:
                change[1:] = (
                    (self.subject[1:] != self.subject[:-1])
                    | (self.movement[1:] != self.movement[:-1])
                    | (self.split[1:] != self.split[:-1])
                )
                if self.recording is not None:
                    change[1:] |= self.recording[1:] != self.recording[:-1]
            rid = np.cumsum(change) - 1
            rid.setflags(write=False)
            self._cache["run_id"] = rid
        return self._cache["run_id"]

    def frame_points(self, i: int) -> np.ndarray:
        """Points of frame ``i``: ``float32 [N_i, 5]``."""
        return self.points[self.frame_offsets[i] : self.frame_offsets[i + 1]]

    def padded(self, max_points: int = MAX_POINTS, overflow: Overflow = "truncate") -> tuple[np.ndarray, np.ndarray]:
        """All frames zero-padded: ``(float32 [F, max_points, 5], int64 [F] kept point counts)``.

        Cached per ``(max_points, overflow)``.
        """
        key = ("padded", max_points, overflow)
        if key not in self._cache:
            self._cache[key] = pad_frames(self.points, self.frame_offsets, max_points, overflow)
        return self._cache[key]

    def summary(self) -> dict[str, int]:
        """Counts of frames per split and of frames whose joints are missing (NaN)."""
        out: dict[str, int] = {"frames": self.n_frames, "points": int(self.points.shape[0])}
        for code in np.unique(self.split):
            name = SPLIT_NAMES.get(int(code), f"split{int(code)}")
            m = self.split == code
            out[f"frames_{name}"] = int(m.sum())
            out[f"nan_joint_frames_{name}"] = int((~self.valid[m]).sum())
        out["runs"] = int(self.run_id[-1] + 1) if self.n_frames else 0
        return out


def _require(arrays: dict, key: str) -> np.ndarray:
    if key not in arrays:
        raise MarsDataError(f"missing array '{key}' (have: {sorted(arrays)})")
    return np.asarray(arrays[key])


def load_mars_npz(path: str | os.PathLike, *, check_time: bool = False) -> MarsFrames:
    """Load and validate a MARS-format ``.npz`` file.

    Args:
        path: the ``.npz`` file (see the module docstring for the arrays).
        check_time: also require ``frame_time`` to be non-decreasing within each run.

    Returns:
        A :class:`MarsFrames` with read-only arrays.

    Raises:
        FileNotFoundError: the file does not exist.
        MarsDataError: a key is missing, an array has the wrong shape/dtype kind, or the offsets
            are inconsistent with the number of points or frames. The message names the array.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"MARS file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (ValueError, OSError) as exc:  # zip errors and pickled object arrays
        raise MarsDataError(f"cannot read {path} as a MARS .npz file: {exc}") from exc
    return frames_from_arrays(arrays, source=os.path.basename(path), check_time=check_time)


def frames_from_arrays(arrays: dict, *, source: str = "", check_time: bool = False) -> MarsFrames:
    """Validate MARS-format arrays (same keys as the ``.npz``) and build :class:`MarsFrames`."""
    points = _require(arrays, "points")
    if points.ndim != 2 or points.shape[1] != 5:
        raise MarsDataError(f"array 'points' must have shape [P, 5], got {points.shape}")
    if not np.issubdtype(points.dtype, np.floating):
        raise MarsDataError(f"array 'points' must be floating point, got {points.dtype}")
    offsets = _require(arrays, "frame_offsets")
    if offsets.ndim != 1 or offsets.shape[0] < 1 or not np.issubdtype(offsets.dtype, np.integer):
        raise MarsDataError(f"array 'frame_offsets' must be an integer array [F+1], got {offsets.shape} {offsets.dtype}")
    offsets = offsets.astype(np.int64)
    n_frames = offsets.shape[0] - 1
    if offsets[0] != 0:
        raise MarsDataError(f"array 'frame_offsets' must start at 0, starts at {offsets[0]}")
    if offsets[-1] != points.shape[0]:
        raise MarsDataError(
            f"array 'frame_offsets' ends at {offsets[-1]} but 'points' has {points.shape[0]} rows"
        )
    if n_frames and np.any(np.diff(offsets) < 0):
        bad = int(np.flatnonzero(np.diff(offsets) < 0)[0])
        raise MarsDataError(f"array 'frame_offsets' decreases at frame {bad}")

    per_frame = {}
    for key in ("frame_subject", "frame_movement", "frame_split", "frame_time"):
        a = _require(arrays, key)
        if a.shape != (n_frames,):
            raise MarsDataError(f"array '{key}' must have shape [F]=({n_frames},), got {a.shape}")
        per_frame[key] = a
    for key in ("frame_subject", "frame_movement", "frame_split"):
        if not np.issubdtype(per_frame[key].dtype, np.integer):
            raise MarsDataError(f"array '{key}' must be integer, got {per_frame[key].dtype}")
    joints = _require(arrays, "joints")
    if joints.ndim != 3 or joints.shape[0] != n_frames or joints.shape[2] != 3 or joints.shape[1] < 21:
        raise MarsDataError(f"array 'joints' must have shape [F, 25, 3] with F={n_frames}, got {joints.shape}")
    names: tuple[str, ...] = KINECT_V2_JOINT_NAMES
    if "joint_names" in arrays:
        jn = np.asarray(arrays["joint_names"])
        if jn.shape != (joints.shape[1],):
            raise MarsDataError(f"array 'joint_names' must have shape [{joints.shape[1]}], got {jn.shape}")
        names = tuple(str(n) for n in jn)
        if names[:21] != KINECT_V2_JOINT_NAMES[:21]:
            raise MarsDataError("array 'joint_names' is not in Kinect V2 order")
    recording = None
    if "frame_recording" in arrays:
        recording = np.asarray(arrays["frame_recording"])
        if recording.shape != (n_frames,) or not np.issubdtype(recording.dtype, np.integer):
            raise MarsDataError(f"array 'frame_recording' must be an integer array [F]=({n_frames},), "
                                f"got {recording.shape} {recording.dtype}")
        recording = recording.astype(np.int64)
    split = per_frame["frame_split"].astype(np.int64)
    if n_frames and not np.isin(split, list(SPLIT_NAMES)).all():
        raise MarsDataError(f"array 'frame_split' holds codes {sorted(set(np.unique(split)) - set(SPLIT_NAMES))}; allowed 0, 1, 2")
    time = per_frame["frame_time"].astype(np.float64)

    def ro(a: np.ndarray) -> np.ndarray:
        a = np.ascontiguousarray(a)
        a.setflags(write=False)
        return a

    frames = MarsFrames(
        points=ro(points.astype(np.float32, copy=False)),
        frame_offsets=ro(offsets),
        subject=ro(per_frame["frame_subject"].astype(np.int64)),
        movement=ro(per_frame["frame_movement"].astype(np.int64)),
        split=ro(split),
        time=ro(time),
        joints_kinect=ro(joints.astype(np.float32, copy=False)),
        joint_names=names,
        source=source,
        recording=None if recording is None else ro(recording),
    )
    if check_time and n_frames > 1:
        rid = frames.run_id
        same = rid[1:] == rid[:-1]
        if np.any(np.diff(time)[same] < 0):
            raise MarsDataError("array 'frame_time' decreases within a run")
    return frames


# --------------------------------------------------------------------------------------------
# Padding and feature maps
# --------------------------------------------------------------------------------------------


def _keep_mask(points: np.ndarray, offsets: np.ndarray, max_points: int, overflow: Overflow) -> np.ndarray:
    """``bool [P]``: which points survive the cap of ``max_points`` per frame."""
    counts = np.diff(offsets)
    frame_of = np.repeat(np.arange(counts.shape[0]), counts)
    rank = np.arange(points.shape[0]) - offsets[frame_of]  # position within frame
    if not np.any(counts > max_points):
        return np.ones(points.shape[0], dtype=bool)
    if overflow == "error":
        bad = int(np.flatnonzero(counts > max_points)[0])
        raise MarsDataError(f"frame {bad} has {counts[bad]} points, more than max_points={max_points}")
    if overflow == "truncate":
        return rank < max_points
    if overflow == "intensity":
        # rank points by descending intensity within each frame (stable: earlier first on ties)
        order = np.lexsort((np.arange(points.shape[0]), -points[:, 4], frame_of))
        irank = np.empty(points.shape[0], dtype=np.int64)
        irank[order] = np.arange(points.shape[0]) - offsets[frame_of[order]]
        return irank < max_points
    raise ValueError(f"overflow must be 'truncate', 'intensity' or 'error', got {overflow!r}")


def pad_frames(
    points: np.ndarray, offsets: np.ndarray, max_points: int = MAX_POINTS, overflow: Overflow = "truncate"
) -> tuple[np.ndarray, np.ndarray]:
    """Zero-pad every frame to ``max_points`` rows, keeping the stored point order.

    Args:
        points: ``float32 [P, 5]``.
        offsets: ``int64 [F+1]`` frame offsets into ``points``.
        max_points: rows per frame (64 for MARS).
        overflow: what to do with frames holding more points (see module docstring).

    Returns:
        ``(padded float32 [F, max_points, 5], counts int64 [F])``; rows ``>= counts[i]`` are zero.
    """
    points = np.asarray(points, dtype=np.float32)
    offsets = np.asarray(offsets, dtype=np.int64)
    n_frames = offsets.shape[0] - 1
    keep = _keep_mask(points, offsets, max_points, overflow)
    counts_all = np.diff(offsets)
    frame_of = np.repeat(np.arange(n_frames), counts_all)[keep]
    kept = points[keep]
    counts = np.bincount(frame_of, minlength=n_frames).astype(np.int64)
    new_off = np.zeros(n_frames + 1, dtype=np.int64)
    np.cumsum(counts, out=new_off[1:])
    slot = np.arange(kept.shape[0]) - new_off[frame_of]
    out = np.zeros((n_frames, max_points, 5), dtype=np.float32)
    out[frame_of, slot] = kept
    return out, counts


def pad_point_list(
    frames: Sequence[np.ndarray], max_points: int = MAX_POINTS, overflow: Overflow = "truncate"
) -> tuple[np.ndarray, np.ndarray]:
    """Pad a list of per-frame point arrays (each ``[N_i, 5]``) to ``[len, max_points, 5]`` + counts."""
    arrs = []
    for i, f in enumerate(frames):
        a = np.asarray(f, dtype=np.float32)
        if a.ndim == 1 and a.size == 0:
            a = a.reshape(0, 5)
        if a.ndim != 2 or a.shape[1] != 5:
            raise ValueError(f"frame {i}: points must have shape [N, 5], got {a.shape}")
        arrs.append(a)
    counts = np.array([a.shape[0] for a in arrs], dtype=np.int64)
    offsets = np.zeros(len(arrs) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    flat = np.concatenate(arrs, axis=0) if arrs else np.zeros((0, 5), np.float32)
    return pad_frames(flat, offsets, max_points, overflow)


def feature_map_8x8x5(points_of_frame: np.ndarray, overflow: Overflow = "truncate") -> np.ndarray:
    """MARS's per-frame input: ``float32 [8, 8, 5]`` (rows, columns, x/y/z/doppler/intensity).

    The frame's points (``[N, 5]``, in the radar's order) are zero-padded to 64 rows and reshaped
    row-major, so point ``k`` lands at ``[k // 8, k % 8, :]``. Frames with more than 64 points are
    handled per ``overflow`` (default: keep the first 64).
    """
    padded, _ = pad_point_list([points_of_frame], MAX_POINTS, overflow)
    return padded[0].reshape(8, 8, 5)


def feature_maps_from_padded(padded: np.ndarray) -> np.ndarray:
    """``[..., 64, 5]`` zero-padded frames -> ``[..., 8, 8, 5]`` MARS feature maps (a view)."""
    padded = np.asarray(padded)
    if padded.shape[-2:] != (MAX_POINTS, 5):
        raise ValueError(f"expected [..., 64, 5], got {padded.shape}")
    return padded.reshape(*padded.shape[:-2], 8, 8, 5)


# --------------------------------------------------------------------------------------------
# Windows of K consecutive frames within one run
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WindowIndex:
    """Windows of ``k`` consecutive frames that never cross a run boundary.

    Attributes:
        frames: ``int64 [N, k]`` frame indices of each window, oldest first; the target (label) of
            a window is its last frame, ``frames[:, -1]`` (causal, like a live radar).
        k: window length.
        n_candidates: frames in the selected split(s) that could end a window.
        n_short_run_start: candidates dropped because fewer than ``k-1`` (or ``min_history``)
            earlier frames of the same run exist (the first ``k-1`` frames of every run).
        n_nan_target: candidates dropped because their joints are NaN (only if ``require_target``).
    """

    frames: np.ndarray
    k: int
    n_candidates: int
    n_short_run_start: int
    n_nan_target: int

    @property
    def targets(self) -> np.ndarray:
        """``int64 [N]`` the frame whose joints each window predicts."""
        return self.frames[:, -1]

    def __len__(self) -> int:
        return int(self.frames.shape[0])


def _split_mask(frames: MarsFrames, split: int | str | Sequence[int] | None) -> np.ndarray:
    if split is None or split == "all":
        return np.ones(frames.n_frames, dtype=bool)
    if isinstance(split, str):
        codes = {v: k for k, v in SPLIT_NAMES.items()}
        if split not in codes:
            raise ValueError(f"unknown split {split!r}; use one of {list(codes)} or 'all'")
        split = codes[split]
    if isinstance(split, (int, np.integer)):
        return frames.split == int(split)
    return np.isin(frames.split, np.asarray(list(split)))


def make_windows(
    frames: MarsFrames,
    k: int,
    split: int | str | Sequence[int] | None = None,
    *,
    require_target: bool = True,
    min_history: int = 0,
) -> WindowIndex:
    """All windows of ``k`` consecutive frames inside one run, ending in the selected split(s).

    A window ending at frame ``t`` is ``[t-k+1, ..., t]``; it exists only if all of those frames
    share ``t``'s run (same subject, movement and split, adjacent in the file). With
    ``require_target`` windows whose last frame has NaN joints are dropped and counted. Frames
    earlier in a window may have NaN joints: only the radar points of those frames are used.
    ``min_history`` additionally requires that many earlier frames of the run before ``t`` (use
    ``max window - 1`` to score estimators with different windows on the same target frames).
    """
    if k < 1:
        raise ValueError(f"window length k must be >= 1, got {k}")
    cand = np.flatnonzero(_split_mask(frames, split))
    rid = frames.run_id
    start = cand - max(k - 1, int(min_history))
    ok_run = start >= 0
    ok_run[ok_run] = rid[start[ok_run]] == rid[cand[ok_run]]  # runs are contiguous blocks
    n_short = int((~ok_run).sum())
    end = cand[ok_run]
    n_nan = 0
    if require_target:
        good = frames.valid[end]
        n_nan = int((~good).sum())
        end = end[good]
    win = end[:, None] + np.arange(-(k - 1), 1)[None, :]
    return WindowIndex(frames=win.astype(np.int64), k=k, n_candidates=int(cand.size),
                       n_short_run_start=n_short, n_nan_target=n_nan)


def gather_windows(
    frames: MarsFrames,
    index: WindowIndex | np.ndarray,
    max_points: int = MAX_POINTS,
    overflow: Overflow = "truncate",
) -> tuple[np.ndarray, np.ndarray]:
    """Padded points of windows: ``(float32 [N, K, max_points, 5], int64 [N, K] counts)``."""
    idx = index.frames if isinstance(index, WindowIndex) else np.asarray(index)
    padded, counts = frames.padded(max_points, overflow)
    return padded[idx], counts[idx]


def window_point_lists(frames: MarsFrames, index: WindowIndex | np.ndarray) -> list[list[np.ndarray]]:
    """Windows as the black-box input format: ``B`` lists of ``K`` arrays ``float32 [N_i, 5]``."""
    idx = index.frames if isinstance(index, WindowIndex) else np.asarray(index)
    off = frames.frame_offsets
    pts = frames.points
    return [[pts[off[f] : off[f + 1]] for f in row] for row in idx.tolist()]


# --------------------------------------------------------------------------------------------
# Synthetic MARS-format data (tests, demos)
# --------------------------------------------------------------------------------------------

#: A rough standing Kinect V2 skeleton (m), feet at z=0, facing the radar; x right, z up.
_TEMPLATE_25 = np.array([
    [0.00, 0, 0.95], [0.00, 0, 1.20], [0.00, 0, 1.50], [0.00, 0, 1.65],      # spine base/mid, neck, head
    [-0.18, 0, 1.42], [-0.22, 0, 1.15], [-0.24, 0, 0.90], [-0.24, 0, 0.82],  # left arm
    [0.18, 0, 1.42], [0.22, 0, 1.15], [0.24, 0, 0.90], [0.24, 0, 0.82],      # right arm
    [-0.09, 0, 0.92], [-0.10, 0, 0.50], [-0.10, 0, 0.08], [-0.10, -0.08, 0.02],  # left leg
    [0.09, 0, 0.92], [0.10, 0, 0.50], [0.10, 0, 0.08], [0.10, -0.08, 0.02],      # right leg
    [0.00, 0, 1.42], [-0.24, 0, 0.75], [-0.22, 0, 0.80], [0.24, 0, 0.75], [0.22, 0, 0.80],
], dtype=np.float32)  # fmt: skip


def make_synthetic_arrays(n_runs: int = 4, frames_per_run: int = 40, *, seed: int = 0, nan_runs: Sequence[int] = (),
                          min_points: int = 8, max_points: int = 64, noise_m: float = 0.03) -> dict[str, np.ndarray]:
    """A small MARS-format data set whose joints are recoverable from the points.

    Each run is one (subject, movement, split); runs alternate train/validate. Per frame the body
    moves on a random walk in x/y and raises the left wrist by a random amount; the points are
    noisy samples of the 25 joints (so the joints are close to a linear function of the point
    positions), doppler and intensity are random. Runs listed in ``nan_runs`` get NaN joints.

    Returns:
        The arrays of a MARS ``.npz`` (see the module docstring), ready for
        :func:`frames_from_arrays` or ``np.savez``.
    """
    rng = np.random.default_rng(seed)
    pts, counts, subj, mov, spl, tim, joints = [], [], [], [], [], [], []
    t0 = 1.6e9
    for r in range(n_runs):
        centre = np.array([rng.uniform(-0.3, 0.3), rng.uniform(1.6, 2.4), 0.0])
        for _ in range(frames_per_run):
            centre = centre + np.array([rng.normal(0, 0.03), rng.normal(0, 0.03), 0.0])
            j = _TEMPLATE_25 + centre
            lift = rng.uniform(0.0, 0.5)
            j = j.copy()
            j[[5, 6, 7, 21, 22], 2] += lift * np.array([0.5, 1.0, 1.0, 1.0, 1.0])
            n = int(rng.integers(min_points, max_points + 1))
            src = rng.integers(0, 25, size=n)
            xyz = j[src] + rng.normal(0, noise_m, size=(n, 3))
            feat = np.stack([rng.choice([-0.356, 0.0, 0.356], size=n), rng.uniform(5, 100, size=n)], axis=1)
            pts.append(np.concatenate([xyz, feat], axis=1).astype(np.float32))
            counts.append(n)
            subj.append(r // 2 + 1)
            mov.append(r % 10 + 1)
            spl.append(r % 2)
            tim.append(t0)
            t0 += 0.1
            joints.append(np.full_like(j, np.nan) if r in nan_runs else j)
    offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return {
        "points": np.concatenate(pts, axis=0),
        "frame_offsets": offsets,
        "frame_subject": np.asarray(subj, np.int8),
        "frame_movement": np.asarray(mov, np.int8),
        "frame_split": np.asarray(spl, np.int8),
        "frame_time": np.asarray(tim, np.float64),
        "joints": np.asarray(joints, np.float32),
        "joint_names": np.asarray(KINECT_V2_JOINT_NAMES),
    }


def make_synthetic_frames(n_runs: int = 4, frames_per_run: int = 40, **kw: Any) -> MarsFrames:
    """:func:`make_synthetic_arrays` validated into :class:`MarsFrames`."""
    return frames_from_arrays(make_synthetic_arrays(n_runs, frames_per_run, **kw), source="synthetic")
