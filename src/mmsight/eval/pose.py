"""3D pose errors: MPJPE, MAE and PCK.

Arrays: ``pred``, ``true`` ``[N, J, 3]`` (metres, any joint set); reference lengths ``[N]`` (metres).

- MPJPE: mean over samples and joints of the Euclidean joint error ``||p - t||``.
- MAE: mean absolute error over samples, joints *and* the three coordinates (the MARS paper's "MAE";
  MPJPE is about sqrt(3) times larger for isotropic errors, at most 3 times).
- PCK@a: share (%) of joints whose Euclidean error is at most ``a`` times the sample's reference length
  (e.g. a torso length from the ground truth).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mmsight.eval._checks import as_float_array, same_shape


def _pair(pred: object, true: object) -> tuple[np.ndarray, np.ndarray]:
    p = as_float_array(pred, "pred", ndim=3, last=3)
    t = as_float_array(true, "true", ndim=3, last=3)
    same_shape(p, t, ("pred", "true"))
    if p.shape[0] == 0 or p.shape[1] == 0:
        raise ValueError(f"pred and true hold no joints (shape {p.shape})")
    return p, t


def mpjpe(pred: object, true: object) -> float:
    """Mean per-joint position error (metres) of ``pred`` vs ``true`` ``[N, J, 3]``."""
    p, t = _pair(pred, true)
    return float(np.linalg.norm(p - t, axis=-1).mean())


def mae(pred: object, true: object) -> float:
    """Mean absolute coordinate error (metres) of ``pred`` vs ``true`` ``[N, J, 3]``."""
    p, t = _pair(pred, true)
    return float(np.abs(p - t).mean())


def reference_length(true: object, joint_a: int, joint_b: int) -> np.ndarray:
    """``float64 [N]``: the ground-truth distance between two joints (e.g. a torso length)."""
    t = as_float_array(true, "true", ndim=3, last=3)
    n_j = t.shape[1]
    for name, j in (("joint_a", joint_a), ("joint_b", joint_b)):
        if not -n_j <= j < n_j:
            raise ValueError(f"{name}={j} is not a joint index of a {n_j}-joint skeleton")
    return np.linalg.norm(t[:, joint_a] - t[:, joint_b], axis=-1)


def pck(pred: object, true: object, reference: object, ratio: float = 0.5) -> float:
    """PCK@ratio (%): share of joints within ``ratio * reference[n]`` of the truth.

    Args:
        pred, true: ``[N, J, 3]``.
        reference: ``[N]`` reference length per sample (metres), or a scalar for all samples.
        ratio: threshold as a fraction of the reference length (> 0).
    """
    p, t = _pair(pred, true)
    if not ratio > 0:
        raise ValueError(f"ratio must be > 0, got {ratio}")
    ref = as_float_array(reference, "reference")
    ref = np.broadcast_to(ref, (p.shape[0],)) if ref.ndim == 0 else ref
    if ref.shape != (p.shape[0],):
        raise ValueError(f"reference must be a scalar or [N] = [{p.shape[0]}], got shape {ref.shape}")
    if np.any(ref <= 0):
        raise ValueError(f"reference lengths must be > 0; sample {int(np.argmin(ref))} has {ref.min()}")
    dist = np.linalg.norm(p - t, axis=-1)
    return float(100.0 * (dist <= ratio * ref[:, None]).mean())


def per_joint_error(pred: object, true: object) -> dict[str, np.ndarray]:
    """Per joint: ``mpjpe`` ``[J]`` and ``mae`` ``[J]`` (metres); per axis: ``mae_xyz`` ``[3]``."""
    p, t = _pair(pred, true)
    err = p - t
    return {"mpjpe": np.linalg.norm(err, axis=-1).mean(axis=0),
            "mae": np.abs(err).mean(axis=(0, 2)),
            "mae_xyz": np.abs(err).mean(axis=(0, 1))}


def pose_errors(pred: object, true: object, *, reference: object | None = None,
                pck_ratios: Sequence[float] = (0.5,)) -> dict[str, Any]:
    """All pose metrics at once, JSON-ready: ``mpjpe_cm``, ``mae_cm``, ``pck{a}`` (% , with
    ``reference``), ``mpjpe_joint_cm``, ``mae_joint_cm``, ``mae_xyz_cm`` and ``n``."""
    p, t = _pair(pred, true)
    pj = per_joint_error(p, t)
    out: dict[str, Any] = {
        "n": int(p.shape[0]),
        "mpjpe_cm": 100.0 * mpjpe(p, t),
        "mae_cm": 100.0 * mae(p, t),
        "mpjpe_joint_cm": (100.0 * pj["mpjpe"]).tolist(),
        "mae_joint_cm": (100.0 * pj["mae"]).tolist(),
        "mae_xyz_cm": (100.0 * pj["mae_xyz"]).tolist(),
    }
    if reference is not None:
        for a in pck_ratios:
            out[f"pck{a:g}"] = pck(p, t, reference, a)
    return out
