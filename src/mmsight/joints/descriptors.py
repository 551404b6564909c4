"""Per-joint descriptors of mmJoints: signal strength, sensing score and reliability score.

Equation numbers refer to the mmJoints paper (Wang, Monjur, Nirjon), Section 2.2; ``docs/joints.md``
states the definitions and every deviation.

* signal strength (text before eq. 1): ``psi_j = sum_n I_n / d_{j,n}^2`` over the points ``n`` of
  one radar frame, with ``d`` the joint-to-point distance in metres floored at ``floor`` (default
  5 cm) and ``I`` the point intensity (column 4 of the ``[N, 5]`` point-cloud record);
* sensing score (eq. 1): ``xi_j = sigmoid((psi_j - psi_mean) / scale)``; ``scale = 1`` is the
  paper's formula, any other value is our optional rescaling (the midpoint does not move);
* reliability score (eq. 2-3): ``f(D) = 1 - sigmoid(u (D - D0 / 2))`` and ``kappa = f(D) / f(0)``
  with ``D = ||pred - truth||`` and ``D0`` the mean torso length, both in metres, and
  ``u = units_per_metre`` the unit the sigmoid is evaluated in: default 1, metres (eq. 2 as
  printed, in SI units; the reading the paper's Tables 1, 7 and 9 imply, docs/joints.md 8.5);
  ``u = 100`` evaluates it on centimetres (a near step at ``D0 / 2``).

Every function takes numpy arrays (the reference implementation) or torch tensors (same formulas,
differentiable); torch is imported only when a tensor is passed.
"""

from __future__ import annotations

import math
import sys
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import numpy as np

__all__ = [
    "KINECT25_TORSO",
    "KINECT25_TO_MARS19",
    "MARS19_TORSO",
    "DEFAULT_DISTANCE_FLOOR",
    "DEFAULT_UNITS_PER_METRE",
    "JOINT_TYPE_NAMES",
    "DescriptorReference",
    "JointTypes",
    "signal_strength",
    "sensing_score",
    "reliability_score",
    "reliability_from_distance",
    "kappa_midpoint",
    "torso_lengths",
    "fit_descriptor_reference",
    "joint_types",
]

#: Kinect V2 indices (SpineShoulder, SpineBase): our torso segment.
KINECT25_TORSO: tuple[int, int] = (20, 0)
#: MARS's 19 joints are Kinect V2 joints 0-20 without HandLeft (7) and HandRight (11).
KINECT25_TO_MARS19: tuple[int, ...] = tuple(i for i in range(21) if i not in (7, 11))
#: The torso segment in the MARS-19 order (SpineShoulder is the last of the 19, SpineBase the first).
MARS19_TORSO: tuple[int, int] = (KINECT25_TO_MARS19.index(20), KINECT25_TO_MARS19.index(0))
#: Floor on the joint-to-point distance in the signal strength, metres (see ``signal_strength``).
DEFAULT_DISTANCE_FLOOR = 0.05
#: Unit of the reliability sigmoid: 1 evaluates eq. 2 on metres (as printed, SI); 100 on centimetres.
DEFAULT_UNITS_PER_METRE = 1.0
#: Joint types of Table 1 / Fig. 2, in the column order of Table 1 (codes 0-3 of ``JointTypes``).
JOINT_TYPE_NAMES: tuple[str, str, str, str] = (
    "correct_not_sensed",  # region D of Fig. 2: right although the radar saw little there
    "correct_sensed",
    "incorrect_not_sensed",
    "incorrect_sensed",  # region A of Fig. 2: wrong although the radar saw the joint
)


# --------------------------------------------------------------------------------------------
# backend helpers (numpy reference, torch when a tensor is passed)


def _is_torch(*xs: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and any(isinstance(x, torch.Tensor) for x in xs)


def _as_float_array(x: Any, name: str) -> np.ndarray:
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a numeric array ({exc})") from None
    return arr


def _check_finite(x: Any, name: str) -> None:
    if _is_torch(x):
        import torch

        ok = bool(torch.isfinite(x.detach()).all())
    else:
        ok = bool(np.isfinite(x).all())
    if not ok:
        raise ValueError(f"{name} contains NaN or inf values")


def _check_last_dim(x: Any, size: int, name: str, at_least: bool = False) -> None:
    if x.ndim < 1 or (x.shape[-1] < size if at_least else x.shape[-1] != size):
        want = f">= {size}" if at_least else f"{size}"
        raise ValueError(f"{name} must have a last axis of size {want}, got shape {tuple(x.shape)}")


def _log_sigmoid(x: Any) -> Any:
    """``log(sigmoid(x))`` without overflow, for numpy or torch."""
    if _is_torch(x):
        import torch

        return torch.nn.functional.logsigmoid(x)
    return -np.logaddexp(0.0, -x)


def _sigmoid(x: Any) -> Any:
    if _is_torch(x):
        import torch

        return torch.sigmoid(x)
    # exp of a non-positive number never overflows
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


# --------------------------------------------------------------------------------------------
# signal strength and sensing score (eq. 1)


def signal_strength(
    joints: Any,
    points: Any,
    mask: Any = None,
    *,
    frame_offsets: Any = None,
    floor: float = DEFAULT_DISTANCE_FLOOR,
    intensity_column: int = 4,
) -> Any:
    """Signal strength ``psi`` of every joint (mmJoints Sec. 2.2, the definition before eq. 1).

    ``psi_j = sum_n I_n / max(d_{j,n}, floor)^2`` where ``d_{j,n}`` is the Euclidean distance in
    metres between joint ``j`` and point ``n`` of the same frame and ``I_n`` the point intensity.
    The paper calls ``1 / d^2`` a "normalized inverse squared distance" without saying the
    normalisation; we read it as distances in metres with a floor: without one a point lying on a
    joint (``d -> 0``) would make ``psi`` unbounded. The default floor, 5 cm, is about the radar's
    range resolution (far below its angular cells) and the Kinect joint noise, so it only caps the
    contribution of a point that sits on the joint (``I / 0.0025``); on MARS it touches about
    0.1 % of the joint-point terms (2.5 % of the joints have a point that close), and lowers the mean ``psi`` by about 8 %
    compared with a 1 cm floor.

    Three layouts are accepted:

    * one frame: ``joints [J, 3]``, ``points [N, C]`` -> ``psi [J]``;
    * padded batch: ``joints [..., J, 3]``, ``points [..., N, C]`` and optional ``mask [..., N]``
      (True = real point); leading axes broadcast; padded points contribute nothing -> ``[..., J]``;
    * flat record layout: ``joints [F, J, 3]``, ``points [P, C]`` and ``frame_offsets [F + 1]``
      (points of frame ``f`` are ``points[frame_offsets[f]:frame_offsets[f + 1]]``) -> ``[F, J]``.

    Args:
        joints: joint positions in metres, in the same frame as the points.
        points: point cloud, columns x, y, z (m), ..., intensity at ``intensity_column`` (C >= 4).
        mask: boolean validity of the padded points (padded layout only).
        frame_offsets: per-frame offsets of a flat point array (flat layout only).
        floor: lower bound on the joint-to-point distance, metres (> 0).
        intensity_column: column of ``points`` holding the intensity ``I_n``.

    Returns:
        ``psi`` in intensity units per square metre, numpy ``float64`` or a torch tensor (then
        differentiable with respect to the joints and the points).

    Raises:
        ValueError: wrong shapes, NaN/inf in the joints or in the real points, floor <= 0.
    """
    if not floor > 0:
        raise ValueError(f"floor must be > 0 metres, got {floor}")
    use_torch = _is_torch(joints, points)
    if not use_torch:
        joints = _as_float_array(joints, "joints")
        points = _as_float_array(points, "points")
    _check_last_dim(joints, 3, "joints")
    _check_last_dim(points, max(3, intensity_column + 1), "points", at_least=True)
    if joints.ndim < 2:
        raise ValueError(f"joints must be [..., J, 3], got shape {tuple(joints.shape)}")
    _check_finite(joints, "joints")
    if frame_offsets is not None:
        if mask is not None:
            raise ValueError("give either mask (padded layout) or frame_offsets (flat layout)")
        return _signal_strength_flat(joints, points, frame_offsets, floor, intensity_column)
    if points.ndim < 2:
        raise ValueError(f"points must be [..., N, C], got shape {tuple(points.shape)}")

    if mask is not None:
        if use_torch:
            import torch

            mask = torch.as_tensor(mask, dtype=torch.bool, device=points.device)
        else:
            mask = np.asarray(mask, dtype=bool)
        if tuple(mask.shape) != tuple(points.shape[:-1]):
            raise ValueError(
                f"mask must have shape {tuple(points.shape[:-1])} (points without the last axis), "
                f"got {tuple(mask.shape)}"
            )
        valid_pts = points[mask]
    else:
        valid_pts = points
    _check_finite(valid_pts, "points (real, unmasked entries)")
    try:
        np.broadcast_shapes(tuple(joints.shape[:-2]), tuple(points.shape[:-2]))
    except ValueError:
        raise ValueError(
            f"leading axes of joints {tuple(joints.shape)} and points {tuple(points.shape)} "
            "do not broadcast"
        ) from None

    xyz = points[..., :3]
    intensity = points[..., intensity_column]
    if mask is not None:
        # zero the padded entries first so that garbage (even NaN) there cannot leak
        if use_torch:
            xyz = xyz.masked_fill(~mask[..., None], 0.0)
            intensity = intensity.masked_fill(~mask, 0.0)
        else:
            xyz = np.where(mask[..., None], xyz, 0.0)
            intensity = np.where(mask, intensity, 0.0)
    diff = joints[..., :, None, :] - xyz[..., None, :, :]  # [..., J, N, 3]
    d2 = (diff * diff).sum(-1)
    if use_torch:
        d2 = d2.clamp_min(floor * floor)
    else:
        d2 = np.maximum(d2, floor * floor)
    return (intensity[..., None, :] / d2).sum(-1)


def _signal_strength_flat(
    joints: Any, points: Any, frame_offsets: Any, floor: float, intensity_column: int
) -> Any:
    use_torch = _is_torch(joints, points)
    if joints.ndim != 3 or points.ndim != 2:
        raise ValueError(
            "flat layout needs joints [F, J, 3] and points [P, C], got "
            f"{tuple(joints.shape)} and {tuple(points.shape)}"
        )
    offsets = np.asarray(
        frame_offsets.detach().cpu() if _is_torch(frame_offsets) else frame_offsets
    ).astype(np.int64)
    n_frames = joints.shape[0]
    if offsets.shape != (n_frames + 1,):
        raise ValueError(f"frame_offsets must have shape ({n_frames + 1},), got {offsets.shape}")
    counts = np.diff(offsets)
    if offsets[0] != 0 or (counts < 0).any() or offsets[-1] != points.shape[0]:
        raise ValueError(
            "frame_offsets must start at 0, never decrease and end at the number of points "
            f"({points.shape[0]}); got start {offsets[0]}, end {offsets[-1]}"
        )
    _check_finite(points[:, :3], "points")
    _check_finite(points[:, intensity_column], "points (intensity)")
    frame_of_point = np.repeat(np.arange(n_frames), counts)
    n_joints = joints.shape[1]
    if use_torch:
        import torch

        idx = torch.as_tensor(frame_of_point, device=points.device)
        diff = joints[idx] - points[:, None, :3]  # [P, J, 3]
        contrib = points[:, intensity_column, None] / (diff * diff).sum(-1).clamp_min(floor**2)
        out = torch.zeros((n_frames, n_joints), dtype=contrib.dtype, device=contrib.device)
        return out.index_add(0, idx, contrib)
    psi = np.zeros((n_frames, n_joints))
    chunk = 1 << 16  # points per block: bounds the [P, J, 3] temporary
    for start in range(0, points.shape[0], chunk):
        sl = slice(start, start + chunk)
        f = frame_of_point[sl]
        diff = joints[f] - points[sl, None, :3]
        contrib = points[sl, intensity_column, None] / np.maximum((diff * diff).sum(-1), floor**2)
        for j in range(n_joints):
            psi[:, j] += np.bincount(f, weights=contrib[:, j], minlength=n_frames)
    return psi


def sensing_score(psi: Any, psi_mean: Any, *, scale: float = 1.0) -> Any:
    """Sensing score ``xi = sigmoid((psi - psi_mean) / scale)`` (mmJoints eq. 1).

    ``scale = 1`` is the paper's formula. ``psi`` is in intensity per square metre, and on MARS it
    spreads over four orders of magnitude (mean about 1.3e4, see ``docs/joints.md``), so with
    ``scale = 1`` the score is 0 or 1 for practically every joint. A larger ``scale`` (for instance
    ``DescriptorReference.psi_std``) spreads it out; the midpoint ``psi = psi_mean`` -> ``xi = 0.5``,
    and so the sensed / not-sensed split, is the same for every scale.

    Args:
        psi: signal strength ``[..., J]`` from ``signal_strength``.
        psi_mean: training-set mean signal strength, a scalar or broadcastable to ``psi``.
        scale: positive divisor of ``psi - psi_mean`` (same unit as ``psi``).

    Returns:
        ``xi`` in (0, 1), same shape as ``psi``.
    """
    if not scale > 0:
        raise ValueError(f"scale must be > 0, got {scale}")
    if not _is_torch(psi):
        psi = _as_float_array(psi, "psi")
        psi_mean = _as_float_array(psi_mean, "psi_mean")
    _check_finite(psi, "psi")
    _check_finite(psi_mean, "psi_mean")
    return _sigmoid((psi - psi_mean) / scale)


# --------------------------------------------------------------------------------------------
# reliability score (eq. 2-3)


def _check_torso(torso_mean: float, units_per_metre: float) -> None:
    if not (np.isfinite(torso_mean) and torso_mean > 0):
        raise ValueError(f"torso_mean must be a positive length in metres, got {torso_mean}")
    if not (np.isfinite(units_per_metre) and units_per_metre > 0):
        raise ValueError(f"units_per_metre must be > 0, got {units_per_metre}")


def reliability_from_distance(
    distance: Any,
    torso_mean: float,
    *,
    units_per_metre: float = DEFAULT_UNITS_PER_METRE,
) -> Any:
    """Reliability score from joint errors: ``kappa = f(D) / f(0)`` (mmJoints eq. 2-3).

    ``f(D) = 1 - sigmoid(u * (D - torso_mean / 2))`` with ``u = units_per_metre``: the sigmoid is
    evaluated in the unit ``1 / u`` metres. ``u = 100`` (default) is centimetres, the paper's unit
    (its configuration lists ``D0 = 20``, a torso length only in cm); ``u = 1`` is metres.
    Computed in log space, so ``kappa`` is exactly 1 at ``D = 0`` and never 0/0.

    Args:
        distance: joint errors ``D >= 0`` in metres, any shape.
        torso_mean: mean torso length ``D0`` in metres (``DescriptorReference.torso_mean``).
        units_per_metre: the unit of the sigmoid argument, see above.

    Returns:
        ``kappa`` in (0, 1], decreasing in ``D``, ``kappa_midpoint(...)`` at ``D = D0 / 2``.
    """
    _check_torso(torso_mean, units_per_metre)
    if not _is_torch(distance):
        distance = _as_float_array(distance, "distance")
    _check_finite(distance, "distance")
    half = 0.5 * torso_mean * units_per_metre
    log_f0 = float(-np.logaddexp(0.0, -half))  # log f(0) = log sigmoid(u D0 / 2)
    # f(D) = 1 - sigmoid(x) = sigmoid(-x) with x = u D - u D0 / 2
    log_f = _log_sigmoid(half - units_per_metre * distance)
    if _is_torch(log_f):
        return (log_f - log_f0).exp()
    return np.exp(log_f - log_f0)


def reliability_score(
    pred: Any,
    truth: Any,
    torso_mean: float,
    *,
    units_per_metre: float = DEFAULT_UNITS_PER_METRE,
) -> Any:
    """Reliability score ``kappa [..., J]`` of predicted joints (mmJoints eq. 2-3).

    ``D_j = ||pred_j - truth_j||`` (metres), then ``reliability_from_distance``.

    Args:
        pred: predicted joints ``[..., J, 3]`` in metres.
        truth: ground-truth joints, same shape as ``pred``.
        torso_mean: mean torso length ``D0`` in metres.
        units_per_metre: unit of the sigmoid (1 = metres, the default; 100 = cm).

    Returns:
        ``kappa [..., J]`` in (0, 1].
    """
    use_torch = _is_torch(pred, truth)
    if not use_torch:
        pred = _as_float_array(pred, "pred")
        truth = _as_float_array(truth, "truth")
    _check_last_dim(pred, 3, "pred")
    if tuple(pred.shape) != tuple(truth.shape):
        raise ValueError(f"pred {tuple(pred.shape)} and truth {tuple(truth.shape)} differ in shape")
    _check_finite(pred, "pred")
    _check_finite(truth, "truth")
    diff = pred - truth
    d2 = (diff * diff).sum(-1)
    # sqrt has an infinite derivative at 0: keep the gradient finite for exact predictions
    if use_torch:
        import torch

        dist = torch.where(d2 > 0, d2.clamp_min(1e-30).sqrt(), torch.zeros_like(d2))
    else:
        dist = np.sqrt(d2)
    return reliability_from_distance(dist, torso_mean, units_per_metre=units_per_metre)


def kappa_midpoint(torso_mean: float, *, units_per_metre: float = DEFAULT_UNITS_PER_METRE) -> float:
    """``kappa`` at ``D = torso_mean / 2``, the sigmoid midpoint: ``0.5 / f(0)``.

    This is the correct / incorrect threshold of Fig. 2 and Table 1 (PCK@0.5 of the torso); it is
    0.5 only in the limit ``f(0) -> 1`` (about 0.5 + 3e-13 in centimetres on MARS, 0.88 in metres).
    """
    _check_torso(torso_mean, units_per_metre)
    half = 0.5 * torso_mean * units_per_metre
    return float(0.5 * (1.0 + math.exp(-half)))


# --------------------------------------------------------------------------------------------
# reference statistics from the training set


def torso_lengths(joints: Any, torso: Sequence[int] = KINECT25_TORSO) -> np.ndarray:
    """Torso length of every frame, ``||joints[:, torso[0]] - joints[:, torso[1]]||`` (metres).

    Our torso is the spine segment SpineShoulder (Kinect 20) to SpineBase (Kinect 0); for the MARS-19
    order pass ``MARS19_TORSO``. ``joints [F, J, 3]`` -> ``[F]`` (NaN where a joint is NaN).
    """
    joints = _as_float_array(joints, "joints")
    _check_last_dim(joints, 3, "joints")
    a, b = int(torso[0]), int(torso[1])
    if joints.ndim < 2 or not (0 <= a < joints.shape[-2] and 0 <= b < joints.shape[-2]):
        raise ValueError(f"torso joints {torso} not in joints of shape {joints.shape}")
    return np.linalg.norm(joints[..., a, :] - joints[..., b, :], axis=-1)


@dataclass(frozen=True)
class DescriptorReference:
    """Training-set statistics that eq. 1-3 need (fit with ``fit_descriptor_reference``).

    Attributes:
        psi_mean: mean signal strength ``psi_bar`` over all used frames and joints (eq. 1).
        torso_mean: mean torso length ``D0`` in metres (eq. 2).
        psi_std: standard deviation of ``psi`` over the same values (a candidate ``scale``).
        psi_mean_per_joint: mean ``psi`` of each joint ``[J]`` (informative; eq. 1 uses the scalar).
        n_frames: frames used.
        n_frames_excluded: frames dropped because a needed joint was NaN/inf.
        torso: the two joint indices of the torso segment (in the full joint array).
        psi_joints: indices of the joints ``psi`` was computed on (None = all).
        floor: the distance floor used for ``psi``, metres.
    """

    psi_mean: float
    torso_mean: float
    psi_std: float
    psi_mean_per_joint: np.ndarray = field(repr=False)
    n_frames: int
    n_frames_excluded: int
    torso: tuple[int, int] = KINECT25_TORSO
    psi_joints: tuple[int, ...] | None = None
    floor: float = DEFAULT_DISTANCE_FLOOR

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict (arrays as lists)."""
        d = asdict(self)
        d["psi_mean_per_joint"] = [float(v) for v in self.psi_mean_per_joint]
        d["torso"] = list(self.torso)
        d["psi_joints"] = None if self.psi_joints is None else list(self.psi_joints)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "DescriptorReference":
        """Inverse of ``to_dict``."""
        return cls(
            psi_mean=float(d["psi_mean"]),
            torso_mean=float(d["torso_mean"]),
            psi_std=float(d["psi_std"]),
            psi_mean_per_joint=np.asarray(d["psi_mean_per_joint"], dtype=np.float64),
            n_frames=int(d["n_frames"]),
            n_frames_excluded=int(d["n_frames_excluded"]),
            torso=(int(d["torso"][0]), int(d["torso"][1])),
            psi_joints=None if d.get("psi_joints") is None else tuple(int(i) for i in d["psi_joints"]),
            floor=float(d.get("floor", DEFAULT_DISTANCE_FLOOR)),
        )


def fit_descriptor_reference(
    joints: Any,
    points: Any,
    frame_offsets: Any = None,
    mask: Any = None,
    *,
    torso: Sequence[int] = KINECT25_TORSO,
    psi_joints: Sequence[int] | None = None,
    floor: float = DEFAULT_DISTANCE_FLOOR,
    intensity_column: int = 4,
) -> DescriptorReference:
    """Fit ``psi_bar`` (eq. 1) and ``D0`` (eq. 2) on training frames.

    Pass the training split only: these statistics are the reference of the descriptors and must
    not see validation or test frames. Frames whose torso joints or ``psi_joints`` are not finite
    (MARS subject 1 train has no labels) are excluded and counted in ``n_frames_excluded``.

    Args:
        joints: ground-truth joints ``[F, J, 3]``, metres (e.g. Kinect V2, 25 joints).
        points: flat ``[P, C]`` with ``frame_offsets [F + 1]`` (record layout), or padded
            ``[F, N, C]`` with optional ``mask [F, N]``.
        torso: indices in ``joints`` of the torso segment ends (default SpineShoulder-SpineBase
            of Kinect V2).
        psi_joints: indices of the joints whose signal strength is averaged (e.g.
            ``KINECT25_TO_MARS19`` for the MARS evaluation set); None = all joints.
        floor, intensity_column: as in ``signal_strength``.

    Returns:
        A ``DescriptorReference``.
    """
    joints = _as_float_array(joints, "joints")
    if joints.ndim != 3 or joints.shape[-1] != 3:
        raise ValueError(f"joints must be [F, J, 3], got {joints.shape}")
    n_frames, n_joints = joints.shape[:2]
    torso_t = (int(torso[0]), int(torso[1]))
    sel = tuple(range(n_joints)) if psi_joints is None else tuple(int(i) for i in psi_joints)
    if not sel or not all(0 <= i < n_joints for i in sel + torso_t):
        raise ValueError(f"joint indices {sel} / torso {torso_t} out of range for {n_joints} joints")
    needed = sorted(set(sel) | set(torso_t))
    keep = np.isfinite(joints[:, needed]).all(axis=(1, 2))
    n_used = int(keep.sum())
    if n_used == 0:
        raise ValueError("no frame has finite joints: cannot fit the descriptor reference")
    sub_joints = joints[keep][:, list(sel)]
    if frame_offsets is not None:
        offsets = np.asarray(frame_offsets, dtype=np.int64)
        if offsets.shape != (n_frames + 1,):
            raise ValueError(f"frame_offsets must have shape ({n_frames + 1},), got {offsets.shape}")
        pts = _as_float_array(points, "points")
        if pts.ndim != 2:
            raise ValueError(f"flat points must be [P, C], got {pts.shape}")
        idx = np.flatnonzero(keep)
        counts = offsets[idx + 1] - offsets[idx]
        if (counts < 0).any():
            raise ValueError("frame_offsets must never decrease")
        take = np.concatenate([np.arange(offsets[i], offsets[i + 1]) for i in idx])
        sub_offsets = np.concatenate([[0], np.cumsum(counts)])
        psi = signal_strength(
            sub_joints, pts[take], frame_offsets=sub_offsets, floor=floor,
            intensity_column=intensity_column,
        )
    else:
        pts = _as_float_array(points, "points")
        if pts.ndim != 3 or pts.shape[0] != n_frames:
            raise ValueError(f"padded points must be [F={n_frames}, N, C], got {pts.shape}")
        sub_mask = None if mask is None else np.asarray(mask, dtype=bool)[keep]
        psi = signal_strength(
            sub_joints, pts[keep], sub_mask, floor=floor, intensity_column=intensity_column
        )
    torso_len = torso_lengths(joints[keep], torso_t)
    return DescriptorReference(
        psi_mean=float(psi.mean()),
        torso_mean=float(torso_len.mean()),
        psi_std=float(psi.std()),
        psi_mean_per_joint=psi.mean(axis=0),
        n_frames=n_used,
        n_frames_excluded=int(n_frames - n_used),
        torso=torso_t,
        psi_joints=None if psi_joints is None else sel,
        floor=float(floor),
    )


# --------------------------------------------------------------------------------------------
# joint types (Fig. 2, Table 1)


@dataclass(frozen=True)
class JointTypes:
    """The four joint types of Fig. 2 / Table 1.

    Attributes:
        labels: ``int8 [..., J]`` codes into ``JOINT_TYPE_NAMES`` (0 correct & not sensed,
            1 correct & sensed, 2 incorrect & not sensed, 3 incorrect & sensed).
        sensed: ``bool [..., J]``, ``xi > 0.5`` (``psi`` above the mean).
        correct: ``bool [..., J]``, ``kappa >= kappa_mid`` (error within half the torso).
        counts: number of joints of each type, keyed by ``JOINT_TYPE_NAMES``.
    """

    labels: np.ndarray
    sensed: np.ndarray
    correct: np.ndarray
    counts: dict[str, int]

    @property
    def fractions(self) -> dict[str, float]:
        """Share of each type among all joints."""
        total = max(1, sum(self.counts.values()))
        return {k: v / total for k, v in self.counts.items()}


def joint_types(
    xi: Any,
    kappa: Any,
    *,
    kappa_mid: float | None = None,
    torso_mean: float | None = None,
    units_per_metre: float = DEFAULT_UNITS_PER_METRE,
) -> JointTypes:
    """Split joints into the four regions of Fig. 2 at the sigmoid midpoints.

    Sensed: ``xi > 0.5`` (``psi`` exceeds ``psi_bar``). Correct: ``kappa >= kappa_mid`` (error at
    most half the torso, as PCK@0.5). Give ``kappa_mid`` directly or the ``torso_mean`` and
    ``units_per_metre`` that produced ``kappa`` (then ``kappa_mid = kappa_midpoint(...)``).

    Args:
        xi: sensing scores ``[..., J]``.
        kappa: reliability scores, same shape.

    Returns:
        ``JointTypes`` (numpy arrays even for tensor inputs).
    """
    def _np(x: Any, name: str) -> np.ndarray:
        if _is_torch(x):
            x = x.detach().cpu().numpy()
        return _as_float_array(x, name)

    xi_a, kappa_a = _np(xi, "xi"), _np(kappa, "kappa")
    if xi_a.shape != kappa_a.shape:
        raise ValueError(f"xi {xi_a.shape} and kappa {kappa_a.shape} differ in shape")
    _check_finite(xi_a, "xi")
    _check_finite(kappa_a, "kappa")
    if kappa_mid is None:
        if torso_mean is None:
            raise ValueError("give kappa_mid, or torso_mean (and units_per_metre)")
        kappa_mid = kappa_midpoint(torso_mean, units_per_metre=units_per_metre)
    elif torso_mean is not None:
        raise ValueError("give kappa_mid or torso_mean, not both")
    sensed = xi_a > 0.5
    correct = kappa_a >= kappa_mid
    labels = (2 * (~correct) + sensed).astype(np.int8)
    counts = {name: int((labels == code).sum()) for code, name in enumerate(JOINT_TYPE_NAMES)}
    return JointTypes(labels=labels, sensed=sensed, correct=correct, counts=counts)
