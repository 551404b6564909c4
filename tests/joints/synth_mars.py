"""A small synthetic MARS-format data set for the mmJoints model tests (not a test module).

Every (subject, movement) pair gets a training run and a validation run. The skeleton follows a
movement-specific motion (so the activity is recognisable from poses); the radar points are noisy
samples around the joints, more of them on the upper body (so the sensing score varies by joint).
:func:`lookup_estimator` is a black box that returns the ground truth plus a joint-dependent error,
found by looking the frame up by its points (tests only).
"""

from __future__ import annotations

import numpy as np

from mmsight.joints.estimators.base import CallableEstimator
from mmsight.joints.mars_data import KINECT_V2_JOINT_NAMES, MARS19, frames_from_arrays

_T25 = np.array([
    [0.00, 0, 0.95], [0.00, 0, 1.20], [0.00, 0, 1.50], [0.00, 0, 1.65],
    [-0.18, 0, 1.42], [-0.22, 0, 1.15], [-0.24, 0, 0.90], [-0.24, 0, 0.82],
    [0.18, 0, 1.42], [0.22, 0, 1.15], [0.24, 0, 0.90], [0.24, 0, 0.82],
    [-0.09, 0, 0.92], [-0.10, 0, 0.50], [-0.10, 0, 0.08], [-0.10, -0.08, 0.02],
    [0.09, 0, 0.92], [0.10, 0, 0.50], [0.10, 0, 0.08], [0.10, -0.08, 0.02],
    [0.00, 0, 1.42], [-0.24, 0, 0.75], [-0.22, 0, 0.80], [0.24, 0, 0.75], [0.22, 0, 0.80],
], dtype=np.float64)  # fmt: skip

_LEFT_ARM = [5, 6, 7, 21, 22]
_RIGHT_ARM = [9, 10, 11, 23, 24]
_LEFT_LEG = [13, 14, 15]


def _pose(movement: int, phase: float) -> np.ndarray:
    j = _T25.copy()
    a = 0.5 * (1 - np.cos(phase))  # 0..1..0
    if movement == 1:
        j[_LEFT_ARM, 2] += 0.6 * a
        j[_LEFT_ARM, 0] -= 0.2 * a
    elif movement == 2:
        j[_RIGHT_ARM, 2] += 0.6 * a
        j[_RIGHT_ARM, 0] += 0.2 * a
    elif movement == 3:
        j[:, 2] -= 0.3 * a * (j[:, 2] > 0.5)
    else:
        j[_LEFT_LEG, 1] -= 0.4 * a
        j[_LEFT_LEG, 2] += 0.2 * a
    return j


def synthetic_arrays(n_subjects: int = 2, n_movements: int = 4, frames_per_run: int = 40, seed: int = 0) -> dict[str, np.ndarray]:
    """MARS-format arrays (train and validate runs for every subject and movement)."""
    rng = np.random.default_rng(seed)
    pts, counts, subj, mov, spl, tim, joints = [], [], [], [], [], [], []
    t0 = 1.6e9
    upper_w = np.ones(25)
    upper_w[[12, 13, 14, 15, 16, 17, 18, 19]] = 0.25
    upper_w /= upper_w.sum()
    for s in range(1, n_subjects + 1):
        for m in range(1, n_movements + 1):
            for split in (0, 1):
                centre = np.array([rng.uniform(-0.2, 0.2), rng.uniform(1.8, 2.2), 0.0])
                phase0 = rng.uniform(0, 2 * np.pi)
                for f in range(frames_per_run):
                    j = _pose(m, phase0 + 0.35 * f) + centre + rng.normal(0, 0.005, size=(25, 3))
                    n = int(rng.integers(6, 20))
                    src = rng.choice(25, size=n, p=upper_w)
                    xyz = j[src] + rng.normal(0, 0.04, size=(n, 3))
                    feat = np.stack([rng.normal(0, 0.3, size=n), rng.uniform(5, 60, size=n)], axis=1)
                    pts.append(np.concatenate([xyz, feat], axis=1).astype(np.float32))
                    counts.append(n)
                    subj.append(s)
                    mov.append(m)
                    spl.append(split)
                    tim.append(t0)
                    t0 += 0.1
                    joints.append(j)
    offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return {
        "points": np.concatenate(pts).astype(np.float32),
        "frame_offsets": offsets,
        "frame_subject": np.asarray(subj, np.int8),
        "frame_movement": np.asarray(mov, np.int8),
        "frame_split": np.asarray(spl, np.int8),
        "frame_time": np.asarray(tim, np.float64),
        "joints": np.asarray(joints, np.float32),
        "joint_names": np.asarray(KINECT_V2_JOINT_NAMES),
    }


def synthetic_frames(**kw):
    """:func:`synthetic_arrays` as validated ``MarsFrames``."""
    return frames_from_arrays(synthetic_arrays(**kw), source="synthetic")


def lookup_estimator(frames, lower_error_m: float = 0.25, upper_error_m: float = 0.03, seed: int = 1) -> CallableEstimator:
    """A window-1 black box: the frame's ground truth (MARS-19) plus a fixed random error per frame,
    large on the legs (``lower_error_m``) and small elsewhere; frames are found by their points."""
    rng = np.random.default_rng(seed)
    gt = frames.joints.astype(np.float32)
    scale = np.full(19, upper_error_m, np.float32)
    scale[[10, 11, 12, 13, 14, 15, 16, 17]] = lower_error_m
    err = rng.normal(0, 1, size=gt.shape).astype(np.float32) * scale[None, :, None]
    table = {}
    for i in range(frames.n_frames):
        table[frames.frame_points(i).tobytes()] = i

    def fn(windows):
        out = []
        for win in windows:
            i = table[np.asarray(win[-1], np.float32).tobytes()]
            out.append(np.nan_to_num(gt[i]) + err[i])
        return np.stack(out)

    assert MARS19.shape == (19,)
    return CallableEstimator(fn, window=1, name="lookup")
