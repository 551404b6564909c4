"""Person-specific bodies: anthropometric skeleton, segment primitives, forward kinematics and leg IK.

A :class:`BodyShape` is one person: segment lengths as fractions of stature (Drillis & Contini, as
tabulated by Winter), segment masses as fractions of body mass (Dempster, via Winter), and one
ellipsoid per segment whose volume equals ``mass / density`` (density 1050 kg/m^3). The same segment
is also offered as a capsule of equal volume and equal tip-to-tip extent.

:meth:`BodyShape.pose` turns joint angles ``[T, J, 3]`` plus a root trajectory into a
:class:`PosedBody`: joint positions ``[T, J, 3]`` and a :class:`SegmentSet` (centres, axes,
semi-axes, capsules) in the room frame, vectorised over the T frames.

Frames and angle conventions are defined in :mod:`mmsight.sim.skeleton`. Lengths are metres, masses
kilograms, angles radians.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .skeleton import (
    ANATOMICAL_SIGNS,
    JOINT_INDEX,
    JOINT_MAPS,
    JOINT_NAMES,
    JOINT_PARENTS,
    N_JOINTS,
    anatomical_to_local,
    matrix_to_euler_xyz,
    rot_x,
    rot_z,
)

__all__ = [
    "BUILDS",
    "BodySegment",
    "BodyShape",
    "DENSITY",
    "DEMPSTER_MASS_FRACTIONS",
    "LegIK",
    "PosedBody",
    "SEGMENT_NAMES",
    "SegmentSet",
    "WINTER_FRACTIONS",
]

#: Whole-body density used to turn segment masses into volumes (kg/m^3). Dempster's segment
#: densities range 1.0-1.1 g/cm^3 (trunk ~1.03, limbs ~1.06-1.1); one value keeps radii simple.
DENSITY: float = 1050.0

#: Drillis & Contini (1966) segment dimensions as fractions of stature H, via Winter (Fig. 4.1).
#: Widths are outer breadths.
WINTER_FRACTIONS: dict[str, float] = {
    "head": 0.130,  # chin to vertex
    "shoulder_height": 0.818,
    "hip_height": 0.530,
    "knee_height": 0.285,
    "ankle_height": 0.039,
    "shoulder_width": 0.259,
    "hip_width": 0.191,
    "upper_arm": 0.186,
    "forearm": 0.146,
    "hand": 0.108,
    "thigh": 0.245,
    "shank": 0.246,
    "foot_length": 0.152,
    "foot_width": 0.055,
}

#: Dempster segment masses as fractions of body mass, via Winter (Table 4.1).
DEMPSTER_MASS_FRACTIONS: dict[str, float] = {
    "head_neck": 0.081,
    "thorax": 0.216,
    "abdomen": 0.139,
    "pelvis": 0.142,
    "upper_arm": 0.028,
    "forearm": 0.016,
    "hand": 0.006,
    "thigh": 0.100,
    "shank": 0.0465,
    "foot": 0.0145,
}

# Levels along the stature not in the Winter figure, as fractions of H [engineering estimates].
_LEVELS: dict[str, float] = {
    "lumbar": 0.560,
    "spine_mid": 0.640,
    "spine_chest": 0.720,
    "spine_shoulder": 0.825,
    "neck": 0.850,
    "chin": 0.870,
    "head": 0.935,
}
# Joint-centre breadths are narrower than the outer breadths of the table [estimates]:
# shoulder joints ~0.80 x biacromial-deltoid width, hip-joint centres ~0.52 x hip width.
_SHOULDER_JOINT_RATIO = 0.80
_HIP_JOINT_RATIO = 0.52
# Outer breadths of the trunk segments (fractions of H) [estimates; chest ~0.19H, waist ~0.17H].
_THORAX_WIDTH = 0.190
_ABDOMEN_WIDTH = 0.170

#: Build presets: multiplicative factors on proportions and mass shares. ``legs`` scales thigh and
#: shank (the trunk absorbs the difference so that stature is kept), ``arms`` the arm chain,
#: ``shoulders``/``hips`` the joint breadths, ``trunk_mass``/``limb_mass`` the mass shares
#: (renormalised to the body mass).
BUILDS: dict[str, dict[str, float]] = {
    "average": {},
    "slim": {"legs": 1.02, "shoulders": 0.97, "hips": 0.97, "trunk_mass": 0.96, "limb_mass": 1.04},
    "athletic": {"shoulders": 1.06, "hips": 0.98, "trunk_mass": 0.97, "limb_mass": 1.08},
    "stocky": {"legs": 0.97, "shoulders": 1.03, "hips": 1.05, "trunk_mass": 1.06, "limb_mass": 0.96},
}
_BUILD_KEYS = ("legs", "arms", "shoulders", "hips", "feet", "trunk_mass", "limb_mass")

# Segment table: name, proximal joint, distal joint, frame joint, extent (s0, s1) along
# proximal->distal in units of that distance, mass key, share of that mass, shape, shape parameter.
# shape "round": b/a = param, a from volume; "wide": a = param*H/2 (outer breadth), b from volume;
# "foot": like "wide" and the ellipsoid is lifted by b so that its sole touches the joint line.
_SEGMENTS: tuple[tuple[str, str, str, str, float, float, str, float, str, float], ...] = (
    ("head", "neck", "head_top", "neck", 0.133, 1.0, "head_neck", 0.852, "round", 1.15),
    ("neck", "spine_shoulder", "neck", "spine_shoulder", -0.5, 2.5, "head_neck", 0.148, "round", 1.0),
    ("thorax", "spine_mid", "spine_shoulder", "spine_mid", 0.0, 1.05, "thorax", 0.861, "wide", _THORAX_WIDTH),
    ("abdomen", "lumbar", "spine_mid", "lumbar", -0.5, 1.5, "abdomen", 1.0, "wide", _ABDOMEN_WIDTH),
    ("pelvis", "pelvis", "lumbar", "pelvis", -2.33, 1.67, "pelvis", 1.0, "wide", WINTER_FRACTIONS["hip_width"]),
    ("shoulder_left", "clavicle_left", "shoulder_left", "clavicle_left", 0.0, 1.15, "thorax", 0.0695, "round", 1.0),
    ("upper_arm_left", "shoulder_left", "elbow_left", "shoulder_left", -0.05, 1.05, "upper_arm", 1.0, "round", 1.0),
    ("forearm_left", "elbow_left", "wrist_left", "elbow_left", -0.05, 1.05, "forearm", 1.0, "round", 1.0),
    ("hand_left", "wrist_left", "handtip_left", "wrist_left", 0.0, 1.0, "hand", 1.0, "round", 2.5),
    ("shoulder_right", "clavicle_right", "shoulder_right", "clavicle_right", 0.0, 1.15, "thorax", 0.0695, "round", 1.0),
    ("upper_arm_right", "shoulder_right", "elbow_right", "shoulder_right", -0.05, 1.05, "upper_arm", 1.0, "round", 1.0),
    ("forearm_right", "elbow_right", "wrist_right", "elbow_right", -0.05, 1.05, "forearm", 1.0, "round", 1.0),
    ("hand_right", "wrist_right", "handtip_right", "wrist_right", 0.0, 1.0, "hand", 1.0, "round", 2.5),
    ("thigh_left", "hip_left", "knee_left", "hip_left", -0.05, 1.05, "thigh", 1.0, "round", 1.0),
    ("shank_left", "knee_left", "ankle_left", "knee_left", -0.05, 1.05, "shank", 1.0, "round", 1.0),
    ("foot_left", "heel_left", "toe_left", "ankle_left", -0.02, 1.02, "foot", 1.0, "foot", WINTER_FRACTIONS["foot_width"]),
    ("thigh_right", "hip_right", "knee_right", "hip_right", -0.05, 1.05, "thigh", 1.0, "round", 1.0),
    ("shank_right", "knee_right", "ankle_right", "knee_right", -0.05, 1.05, "shank", 1.0, "round", 1.0),
    ("foot_right", "heel_right", "toe_right", "ankle_right", -0.02, 1.02, "foot", 1.0, "foot", WINTER_FRACTIONS["foot_width"]),
)  # fmt: skip

#: Segment names in segment-array order (``[S]``, S = 19).
SEGMENT_NAMES: tuple[str, ...] = tuple(s[0] for s in _SEGMENTS)
_TRUNK_MASS_KEYS = ("head_neck", "thorax", "abdomen", "pelvis")


# --------------------------------------------------------------------------------------------
# Posed geometry
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BodySegment:
    """One body segment in one frame (room frame, metres).

    The ellipsoid is ``{p : sum_k ((p - center) . axes[:, k] / semi_axes[k])^2 <= 1}``; ``axes``
    columns are the unit vectors (u, v, w) with w along the segment (proximal -> distal) and u
    lateral. The capsule is the set of points within ``capsule_radius`` of the line
    ``capsule_p0``-``capsule_p1``.
    """

    name: str
    proximal_joint: str
    distal_joint: str
    center: np.ndarray  # [3]
    axes: np.ndarray  # [3, 3], columns u, v, w
    semi_axes: np.ndarray  # [3] along u, v, w
    capsule_p0: np.ndarray  # [3]
    capsule_p1: np.ndarray  # [3]
    capsule_radius: float
    mass: float


@dataclass(frozen=True)
class SegmentSet:
    """All S segments of a body over T frames (room frame unless transformed).

    Attributes:
        names: ``[S]`` segment names (``SEGMENT_NAMES``).
        proximal, distal: ``[S]`` canonical joint indices spanning each segment.
        centers: ``[T, S, 3]`` ellipsoid centres (m).
        axes: ``[T, S, 3, 3]`` columns (u, v, w): unit axes of each ellipsoid; w along the segment.
        semi_axes: ``[S, 3]`` ellipsoid semi-axes along (u, v, w) (m), constant for a person.
        capsule_axis: ``[S]`` which of (u, v, w) the capsule runs along (the longest semi-axis).
        capsule_radius: ``[S]`` capsule radius (m).
        capsule_half_length: ``[S]`` half-length of the capsule's core line (m).
        masses: ``[S]`` segment masses (kg).
    """

    names: tuple[str, ...]
    proximal: np.ndarray
    distal: np.ndarray
    centers: np.ndarray
    axes: np.ndarray
    semi_axes: np.ndarray
    capsule_axis: np.ndarray
    capsule_radius: np.ndarray
    capsule_half_length: np.ndarray
    masses: np.ndarray

    @property
    def n_frames(self) -> int:
        return int(self.centers.shape[0])

    def __len__(self) -> int:
        return len(self.names)

    def capsule_endpoints(self) -> np.ndarray:
        """``[T, S, 2, 3]`` end points of the capsule core lines (m)."""
        pick = np.eye(3)[self.capsule_axis]  # [S, 3] one-hot
        direction = np.einsum("tsij,sj->tsi", self.axes, pick)  # [T, S, 3]
        h = self.capsule_half_length[None, :, None]
        return np.stack([self.centers - h * direction, self.centers + h * direction], axis=2)

    def lowest_z(self) -> np.ndarray:
        """``[T, S]`` lowest z of every ellipsoid's surface (m)."""
        reach = np.sqrt(np.sum((self.axes[..., 2, :] * self.semi_axes[None]) ** 2, axis=-1))
        return self.centers[..., 2] - reach

    def at(self, t: int) -> list[BodySegment]:
        """The segments of frame ``t`` as a list of :class:`BodySegment`."""
        ends = self.capsule_endpoints()[t]
        return [
            BodySegment(
                name=n,
                proximal_joint=JOINT_NAMES[int(self.proximal[i])],
                distal_joint=JOINT_NAMES[int(self.distal[i])],
                center=self.centers[t, i].copy(),
                axes=self.axes[t, i].copy(),
                semi_axes=self.semi_axes[i].copy(),
                capsule_p0=ends[i, 0].copy(),
                capsule_p1=ends[i, 1].copy(),
                capsule_radius=float(self.capsule_radius[i]),
                mass=float(self.masses[i]),
            )
            for i, n in enumerate(self.names)
        ]

    def transformed(self, transform: np.ndarray) -> SegmentSet:
        """Apply a rigid 4x4 transform ``T_to_from`` to every frame."""
        r, t = _split_transform(transform)
        return replace(self, centers=self.centers @ r.T + t, axes=np.einsum("ij,...jk->...ik", r, self.axes))


@dataclass(frozen=True)
class PosedBody:
    """A body over T frames: joints and segments in the room frame.

    Attributes:
        joints: ``[T, J, 3]`` canonical joint positions (m).
        joint_rotations: ``[T, J, 3, 3]`` world orientation of each joint's frame (columns = the
            joint's x, y, z axes; identity for a person standing with heading 0).
        segments: the body primitives.
        times: ``[T]`` s, or None.
        joint_names: ``[J]`` canonical names.
    """

    joints: np.ndarray
    joint_rotations: np.ndarray
    segments: SegmentSet
    times: np.ndarray | None = None
    joint_names: tuple[str, ...] = JOINT_NAMES

    @property
    def n_frames(self) -> int:
        return int(self.joints.shape[0])

    def frame(self, t: int) -> tuple[np.ndarray, list[BodySegment]]:
        """Joints ``[J, 3]`` and the list of segments of frame ``t``."""
        return self.joints[t].copy(), self.segments.at(t)

    def mapped(self, target: str) -> np.ndarray:
        """Joints in a target skeleton (``"mars19"``, ``"kinect25"``, ``"azure32"``, ``"coco17"``): ``[T, K, 3]``."""
        return JOINT_MAPS[target].apply(self.joints)

    def transformed(self, transform: np.ndarray) -> PosedBody:
        """Apply a rigid 4x4 transform ``T_to_from`` (e.g. ``T_radar_from_room``) to every frame."""
        r, t = _split_transform(transform)
        return replace(
            self,
            joints=self.joints @ r.T + t,
            joint_rotations=np.einsum("ij,...jk->...ik", r, self.joint_rotations),
            segments=self.segments.transformed(transform),
        )


def _split_transform(transform: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    m = np.asarray(transform, dtype=np.float64)
    if m.shape != (4, 4):
        raise ValueError(f"transform must be 4x4, got {m.shape}")
    r = m[:3, :3]
    if not np.allclose(r @ r.T, np.eye(3), atol=1e-6):
        raise ValueError("transform rotation is not orthonormal")
    return r, m[:3, 3]


@dataclass(frozen=True)
class LegIK:
    """Result of :meth:`BodyShape.leg_ik` for one leg over T frames (anatomical angles, rad).

    Attributes:
        hip: ``[T, 3]``; knee: ``[T]`` flexion; ankle: ``[T, 3]``.
        reach_error: ``[T]`` distance (m) by which the ankle target was out of reach (0 if reached).
    """

    hip: np.ndarray
    knee: np.ndarray
    ankle: np.ndarray
    reach_error: np.ndarray


# --------------------------------------------------------------------------------------------
# Body shape
# --------------------------------------------------------------------------------------------


def _capsule_radius(volume: np.ndarray, half_extent: np.ndarray) -> np.ndarray:
    """Radius r of a capsule with tip-to-tip length 2L and the given volume: 2piLr^2 - 2/3pi r^3 = V."""
    lo = np.zeros_like(volume)
    hi = half_extent.copy()
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        f = 2 * np.pi * half_extent * mid**2 - (2.0 / 3.0) * np.pi * mid**3
        below = f < volume
        lo = np.where(below, mid, lo)
        hi = np.where(below, hi, mid)
    return 0.5 * (lo + hi)


_PARENTS = tuple(int(v) for v in JOINT_PARENTS)


def _euler_xyz_cm(e: np.ndarray) -> np.ndarray:
    """:func:`~mmsight.sim.skeleton.euler_xyz_to_matrix` in component-major layout: ``e`` ``[J, 3, T]``
    -> ``[J, 3, 3, T]`` (the same formulas)."""
    ca, cb, cc = np.cos(e[:, 0]), np.cos(e[:, 1]), np.cos(e[:, 2])
    sa, sb, sc = np.sin(e[:, 0]), np.sin(e[:, 1]), np.sin(e[:, 2])
    out = np.empty((e.shape[0], 3, 3) + e.shape[2:])
    out[:, 0, 0] = cb * cc
    out[:, 0, 1] = -cb * sc
    out[:, 0, 2] = sb
    out[:, 1, 0] = ca * sc + sa * sb * cc
    out[:, 1, 1] = ca * cc - sa * sb * sc
    out[:, 1, 2] = -sa * cb
    out[:, 2, 0] = sa * sc - ca * sb * cc
    out[:, 2, 1] = sa * cc + ca * sb * sc
    out[:, 2, 2] = ca * cb
    return out


def _mat_cm(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Product of 3 x 3 matrices stored component-major: ``a``, ``b`` ``[3, 3, T]`` -> ``[3, 3, T]``."""
    return a[:, 0, None] * b[None, 0] + a[:, 1, None] * b[None, 1] + a[:, 2, None] * b[None, 2]


def _kinematics_inputs(angles: np.ndarray, root_position: np.ndarray,
                       heading: np.ndarray | float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Forward-kinematics arguments as float64 ``[T, J, 3]``, ``[T, 3]``, ``[T]`` (shape checked)."""
    a = np.asarray(angles, dtype=np.float64)
    if a.ndim == 2:
        a = a[None]
    if a.ndim != 3 or a.shape[1:] != (N_JOINTS, 3):
        raise ValueError(f"angles must have shape [..., {N_JOINTS}, 3], got {a.shape}")
    t_count = a.shape[0]
    root = np.broadcast_to(np.asarray(root_position, dtype=np.float64), (t_count, 3))
    head = np.broadcast_to(np.asarray(heading, dtype=np.float64), (t_count,))
    return a, root, head


@functools.lru_cache(maxsize=32)
def _ancestors_mask(joints: tuple[int, ...]) -> np.ndarray:
    """``[N_JOINTS]`` bool: the joints ``joints`` and all their ancestors (read-only)."""
    need = np.zeros(N_JOINTS, dtype=bool)
    for j in joints:
        if not 0 <= j < N_JOINTS:
            raise ValueError(f"joint index {j} outside [0, {N_JOINTS})")
        while j >= 0 and not need[j]:
            need[j] = True
            j = _PARENTS[j]
    need.flags.writeable = False
    return need


@dataclass(frozen=True)
class BodyShape:
    """One person's body: rest skeleton, segment geometry and masses.

    Build with :meth:`from_anthropometry`. All arrays are read-only views; do not modify.

    Attributes:
        height: stature H (m). mass: body mass (kg). build: build preset name.
        factors: realised proportion factors (build x per-person variation), see ``BUILDS``.
        offsets: ``[J, 3]`` rest offset of each joint from its parent, parent axes (m).
        rest_joints: ``[J, 3]`` rest-pose joints in the body frame, pelvis at the origin (m).
        root_height: pelvis height above the floor in the rest pose (m).
        segment_*: per-segment arrays ``[S, ...]`` (see :class:`SegmentSet`).
    """

    height: float
    mass: float
    build: str
    factors: dict[str, float]
    offsets: np.ndarray
    rest_joints: np.ndarray
    root_height: float
    segment_proximal: np.ndarray
    segment_distal: np.ndarray
    segment_frame: np.ndarray
    segment_extent: np.ndarray
    segment_offset: np.ndarray
    semi_axes: np.ndarray
    masses: np.ndarray
    capsule_axis: np.ndarray
    capsule_radius: np.ndarray
    capsule_half_length: np.ndarray
    density: float = DENSITY
    meta: dict[str, Any] = field(default_factory=dict)

    # ---------------------------------------------------------------- construction
    @classmethod
    def from_anthropometry(
        cls,
        height: float = 1.75,
        mass: float = 70.0,
        build: str = "average",
        rng: np.random.Generator | None = None,
        *,
        variation: float = 1.0,
    ) -> BodyShape:
        """Body of stature ``height`` (m) and ``mass`` (kg).

        Args:
            height: stature, 1.0-2.2 m.
            mass: body mass, 15-200 kg.
            build: one of ``BUILDS`` ("average", "slim", "athletic", "stocky").
            rng: if given, per-person variation is drawn: leg length x N(1, 0.015) (trunk absorbs
                it), arm length x N(1, 0.02), shoulder and hip breadth x N(1, 0.035), foot x
                N(1, 0.03), every mass share x N(1, 0.05) (renormalised), and a left/right
                arm-length difference of N(0, 0.6 %). Without ``rng`` the table values are used.
            variation: scales all the standard deviations above (0 = none).
        """
        if not 1.0 <= height <= 2.2:
            raise ValueError(f"height must be in [1.0, 2.2] m, got {height}")
        if not 15.0 <= mass <= 200.0:
            raise ValueError(f"mass must be in [15, 200] kg, got {mass}")
        if build not in BUILDS:
            raise ValueError(f"unknown build {build!r}; known: {', '.join(BUILDS)}")
        f = {k: 1.0 for k in _BUILD_KEYS}
        f.update(BUILDS[build])
        mass_noise = {k: 1.0 for k in DEMPSTER_MASS_FRACTIONS}
        arm_asym = 0.0
        if rng is not None and variation > 0:
            sd = {"legs": 0.015, "arms": 0.02, "shoulders": 0.035, "hips": 0.035, "feet": 0.03}
            for k, s in sd.items():
                f[k] *= float(np.clip(1.0 + variation * s * rng.standard_normal(), 1 - 3 * s, 1 + 3 * s))
            for k in mass_noise:
                mass_noise[k] = float(np.clip(1.0 + variation * 0.05 * rng.standard_normal(), 0.85, 1.15))
            arm_asym = float(np.clip(variation * 0.006 * rng.standard_normal(), -0.018, 0.018))
        f["arm_asymmetry"] = arm_asym
        return cls._build(float(height), float(mass), build, f, mass_noise)

    @classmethod
    def _build(cls, h: float, m: float, build: str, f: dict[str, float], mass_noise: dict[str, float]) -> BodyShape:
        w = WINTER_FRACTIONS
        ankle_z = w["ankle_height"] * h
        leg = (w["thigh"] + w["shank"]) * h * f["legs"]
        thigh = w["thigh"] * h * f["legs"]
        shank = w["shank"] * h * f["legs"]
        hip_z = ankle_z + leg
        neck_z = _LEVELS["neck"] * h
        # trunk levels between the hip and the neck are stretched to absorb leg-length changes
        h0, n0 = w["hip_height"], _LEVELS["neck"]

        def trunk_level(frac: float) -> float:
            return hip_z + (frac - h0) / (n0 - h0) * (neck_z - hip_z)

        z = {
            "pelvis": hip_z,
            "lumbar": trunk_level(_LEVELS["lumbar"]),
            "spine_mid": trunk_level(_LEVELS["spine_mid"]),
            "spine_chest": trunk_level(_LEVELS["spine_chest"]),
            "spine_shoulder": trunk_level(_LEVELS["spine_shoulder"]),
            "shoulder": trunk_level(w["shoulder_height"]),
            "neck": neck_z,
            "head": _LEVELS["head"] * h,
            "head_top": h,
        }
        sh_x = 0.5 * _SHOULDER_JOINT_RATIO * w["shoulder_width"] * h * f["shoulders"]
        hip_x = 0.5 * _HIP_JOINT_RATIO * w["hip_width"] * h * f["hips"]
        foot_len = w["foot_length"] * h * f["feet"]
        pos: dict[str, np.ndarray] = {}
        pos["pelvis"] = np.array([0.0, 0.0, z["pelvis"]])
        for n in ("lumbar", "spine_mid", "spine_chest", "spine_shoulder", "neck", "head", "head_top"):
            pos[n] = np.array([0.0, 0.0, z[n]])
        hc = pos["head"]
        # face points: rigid offsets from the head centre (fractions of H) [estimates from adult
        # head dimensions: inter-pupil 63 mm, head breadth 150 mm, eye-to-back-of-head 190 mm]
        pos["nose"] = hc + h * np.array([0.0, 0.057, -0.012])
        for side, sx in (("left", -1.0), ("right", 1.0)):
            pos[f"eye_{side}"] = hc + h * np.array([sx * 0.018, 0.046, 0.002])
            pos[f"ear_{side}"] = hc + h * np.array([sx * 0.043, -0.004, -0.004])
        for side, sx in (("left", -1.0), ("right", 1.0)):
            arm = f["arms"] * (1.0 + (0.5 if side == "left" else -0.5) * f["arm_asymmetry"])
            ua, fa, hd = w["upper_arm"] * h * arm, w["forearm"] * h * arm, w["hand"] * h * arm
            sh = np.array([sx * sh_x, 0.0, z["shoulder"]])
            pos[f"clavicle_{side}"] = np.array([sx * 0.02 * h, 0.012 * h, z["spine_shoulder"] - 0.012 * h])
            pos[f"shoulder_{side}"] = sh
            pos[f"elbow_{side}"] = sh - [0, 0, ua]
            pos[f"wrist_{side}"] = sh - [0, 0, ua + fa]
            pos[f"hand_{side}"] = sh - [0, 0, ua + fa + 0.4 * hd]
            pos[f"handtip_{side}"] = sh - [0, 0, ua + fa + hd]
            pos[f"thumb_{side}"] = pos[f"wrist_{side}"] + h * np.array([0.0, 0.02, -0.035])
            hip = np.array([sx * hip_x, 0.0, hip_z])
            pos[f"hip_{side}"] = hip
            pos[f"knee_{side}"] = hip - [0, 0, thigh]
            ankle = hip - [0, 0, thigh + shank]
            pos[f"ankle_{side}"] = ankle
            pos[f"heel_{side}"] = ankle + [0, -0.22 * foot_len, -ankle_z]
            pos[f"foot_{side}"] = ankle + [0, 0.50 * foot_len, -ankle_z]
            pos[f"toe_{side}"] = ankle + [0, 0.78 * foot_len, -ankle_z]
        absolute = np.stack([pos[n] for n in JOINT_NAMES])
        rest = absolute - absolute[0]
        offsets = np.zeros((N_JOINTS, 3))
        offsets[1:] = rest[1:] - rest[JOINT_PARENTS[1:]]

        # ---- masses (Dempster shares x build x noise, renormalised)
        share = {}
        for k, v in DEMPSTER_MASS_FRACTIONS.items():
            bf = f["trunk_mass"] if k in _TRUNK_MASS_KEYS else f["limb_mass"]
            share[k] = v * bf * mass_noise[k]
        n_of = {k: (1 if k in _TRUNK_MASS_KEYS else 2) for k in share}
        total = sum(share[k] * n_of[k] for k in share)
        share = {k: v / total for k, v in share.items()}

        # ---- segments
        s_count = len(_SEGMENTS)
        prox = np.array([JOINT_INDEX[s[1]] for s in _SEGMENTS])
        dist = np.array([JOINT_INDEX[s[2]] for s in _SEGMENTS])
        frame = np.array([JOINT_INDEX[s[3]] for s in _SEGMENTS])
        extent = np.array([[s[4], s[5]] for s in _SEGMENTS], dtype=np.float64)
        masses = np.array([m * share[s[6]] * s[7] for s in _SEGMENTS])
        volume = masses / DENSITY
        length = np.linalg.norm(rest[dist] - rest[prox], axis=1)
        c = 0.5 * (extent[:, 1] - extent[:, 0]) * length
        semi = np.zeros((s_count, 3))
        seg_offset = np.zeros((s_count, 3))
        for i, s in enumerate(_SEGMENTS):
            kind, p = s[8], s[9]
            if kind == "round":
                a = np.sqrt(3 * volume[i] / (4 * np.pi * c[i] * p))
                semi[i] = (a, p * a, c[i])
            else:
                a = 0.5 * p * h * (f["hips"] if s[0] == "pelvis" else (f["shoulders"] if s[0] == "thorax" else 1.0))
                if kind == "foot":
                    a *= f["feet"]
                b = 3 * volume[i] / (4 * np.pi * a * c[i])
                semi[i] = (a, b, c[i])
                if kind == "foot":
                    seg_offset[i] = (0.0, 0.0, b)
        cap_axis = np.argmax(semi, axis=1)
        longest = semi[np.arange(s_count), cap_axis]
        cap_r = _capsule_radius(volume, longest)
        cap_h = np.maximum(longest - cap_r, 0.0)
        arrays = [rest, offsets, prox, dist, frame, extent, seg_offset, semi, masses, cap_axis, cap_r, cap_h]
        for a in arrays:
            a.setflags(write=False)
        return cls(
            height=h,
            mass=m,
            build=build,
            factors=dict(f),
            offsets=offsets,
            rest_joints=rest,
            root_height=float(hip_z),
            segment_proximal=prox,
            segment_distal=dist,
            segment_frame=frame,
            segment_extent=extent,
            segment_offset=seg_offset,
            semi_axes=semi,
            masses=masses,
            capsule_axis=cap_axis,
            capsule_radius=cap_r,
            capsule_half_length=cap_h,
            meta={"mass_shares": share},
        )

    # ---------------------------------------------------------------- queries
    @property
    def segment_names(self) -> tuple[str, ...]:
        return SEGMENT_NAMES

    def bone_length(self, joint_a: str, joint_b: str) -> float:
        """Rest distance between two joints (m)."""
        return float(np.linalg.norm(self.rest_joints[JOINT_INDEX[joint_a]] - self.rest_joints[JOINT_INDEX[joint_b]]))

    @property
    def thigh_length(self) -> float:
        return self.bone_length("hip_left", "knee_left")

    @property
    def shank_length(self) -> float:
        return self.bone_length("knee_left", "ankle_left")

    @property
    def leg_length(self) -> float:
        """Hip-joint to ankle-joint length, thigh + shank (m); Boulic's H_t."""
        return self.thigh_length + self.shank_length

    @property
    def ankle_height(self) -> float:
        return float(self.rest_joints[JOINT_INDEX["ankle_left"], 2] + self.root_height)

    # ---------------------------------------------------------------- kinematics
    def forward_kinematics(
        self, angles: np.ndarray, root_position: np.ndarray, heading: np.ndarray | float = 0.0,
        joints: Sequence[int] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Joint positions and world rotations.

        Args:
            angles: ``[T, J, 3]`` (or ``[J, 3]``) anatomical joint angles (rad).
            root_position: ``[T, 3]`` (or ``[3]``) pelvis position in the room frame (m).
            heading: ``[T]`` or scalar facing direction (rad, 0 = +y, pi/2 = +x).
            joints: optional joint indices to compute (with their ancestors); the other joints'
                entries are NaN. None: all. The computed ones equal the full computation's exactly.

        Returns:
            joints ``[T, J, 3]`` (m) and joint world rotations ``[T, J, 3, 3]``.
        """
        a, root, head = _kinematics_inputs(angles, root_position, heading)
        t_count = a.shape[0]
        need = _ancestors_mask(tuple(int(j) for j in joints)) if joints is not None else None
        # Component-major layout, time last ([J, 3, 3, T]): each joint's rotation and position is a
        # handful of whole-array operations over T (a stacked 3 x 3 matmul costs ~0.2 us per matrix).
        # Joints whose angles are all zero (fingers, toes, ... in most motions) have the identity as
        # local rotation: their world rotation is their parent's (exactly what the product gives).
        nonzero = np.any(a != 0.0, axis=(0, 2))
        moving = np.flatnonzero(nonzero if need is None else nonzero & need)
        local = np.zeros((N_JOINTS, 3, 3, t_count))
        local[moving] = _euler_xyz_cm(np.moveaxis(a[:, moving] * ANATOMICAL_SIGNS[moving], 0, -1))  # [J, 3, 3, T]
        rotates = np.zeros(N_JOINTS, dtype=bool)
        rotates[moving] = True
        if need is None:
            g = np.empty((N_JOINTS, 3, 3, t_count))
            p = np.empty((N_JOINTS, 3, t_count))
        else:
            g = np.full((N_JOINTS, 3, 3, t_count), np.nan)
            p = np.full((N_JOINTS, 3, t_count), np.nan)
        rz = np.moveaxis(rot_z(-head), 0, -1)
        g[0] = _mat_cm(rz, local[0]) if rotates[0] else rz
        p[0] = root.T
        off = self.offsets
        for j in range(1, N_JOINTS):
            if need is not None and not need[j]:
                continue
            par = _PARENTS[j]
            gp = g[par]
            np.add(p[par], gp[:, 0] * off[j, 0] + gp[:, 1] * off[j, 1] + gp[:, 2] * off[j, 2], out=p[j])
            if rotates[j]:
                g[j] = _mat_cm(gp, local[j])
            else:
                g[j] = gp
        return p.transpose(2, 0, 1), g.transpose(3, 0, 1, 2)  # [T, J, 3], [T, J, 3, 3] views (time-last memory)

    def forward_kinematics_reference(
        self, angles: np.ndarray, root_position: np.ndarray, heading: np.ndarray | float = 0.0
    ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`forward_kinematics` joint by joint with stacked matrix products (the reference the
        component-major version is tested against; equal up to float rounding)."""
        a, root, head = _kinematics_inputs(angles, root_position, heading)
        t_count = a.shape[0]
        local = anatomical_to_local(a)
        g = np.empty_like(local)
        p = np.empty((t_count, N_JOINTS, 3))
        g[:, 0] = rot_z(-head) @ local[:, 0]
        p[:, 0] = root
        for j in range(1, N_JOINTS):
            par = JOINT_PARENTS[j]
            p[:, j] = p[:, par] + g[:, par] @ self.offsets[j]
            g[:, j] = g[:, par] @ local[:, j]
        return p, g

    def segments_from(self, joints: np.ndarray, rotations: np.ndarray) -> SegmentSet:
        """Segment primitives for joints ``[T, J, 3]`` and joint rotations ``[T, J, 3, 3]``."""
        p0 = joints[:, self.segment_proximal]
        p1 = joints[:, self.segment_distal]
        span = p1 - p0
        w = span / np.linalg.norm(span, axis=-1, keepdims=True)
        gf = rotations[:, self.segment_frame]  # [T, S, 3, 3]
        ref = gf[..., :, 0]
        u = ref - np.sum(ref * w, axis=-1, keepdims=True) * w
        un = np.linalg.norm(u, axis=-1, keepdims=True)
        alt = gf[..., :, 1]
        alt = alt - np.sum(alt * w, axis=-1, keepdims=True) * w
        altn = np.maximum(np.linalg.norm(alt, axis=-1, keepdims=True), 1e-12)
        u = np.where(un > 1e-6, u / np.maximum(un, 1e-12), alt / altn)
        v = np.cross(w, u)
        axes = np.stack([u, v, w], axis=-1)
        mid = 0.5 * (self.segment_extent[:, 0] + self.segment_extent[:, 1])
        centers = p0 + mid[None, :, None] * span + np.einsum("tsij,sj->tsi", gf, self.segment_offset)
        return SegmentSet(
            names=SEGMENT_NAMES,
            proximal=self.segment_proximal,
            distal=self.segment_distal,
            centers=centers,
            axes=axes,
            semi_axes=self.semi_axes,
            capsule_axis=self.capsule_axis,
            capsule_radius=self.capsule_radius,
            capsule_half_length=self.capsule_half_length,
            masses=self.masses,
        )

    def pose(
        self,
        angles: np.ndarray,
        root_position: np.ndarray,
        heading: np.ndarray | float = 0.0,
        times: np.ndarray | None = None,
    ) -> PosedBody:
        """Forward kinematics to a :class:`PosedBody` (joints ``[T, J, 3]`` + segments).

        Arguments as :meth:`forward_kinematics`; ``times`` ``[T]`` (s) is stored for convenience.
        """
        joints, rots = self.forward_kinematics(angles, root_position, heading)
        return PosedBody(joints=joints, joint_rotations=rots, segments=self.segments_from(joints, rots), times=times)

    def rest_pose(self, position: tuple[float, float] = (0.0, 0.0), heading: float = 0.0) -> PosedBody:
        """Standing rest pose (arms hanging, T = 1) with the pelvis above ``position`` (m)."""
        root = np.array([position[0], position[1], self.root_height])
        return self.pose(np.zeros((1, N_JOINTS, 3)), root[None], heading)

    def leg_ik(
        self,
        side: str,
        root_position: np.ndarray,
        root_rotation: np.ndarray,
        ankle_target: np.ndarray,
        foot_rotation: np.ndarray,
        pole: np.ndarray | None = None,
    ) -> LegIK:
        """Analytic two-link leg IK (vectorised over T frames).

        Args:
            side: "left" or "right".
            root_position: ``[T, 3]`` pelvis position (m), any frame.
            root_rotation: ``[T, 3, 3]`` pelvis world rotation in the same frame.
            ankle_target: ``[T, 3]`` wanted ankle-joint position (m).
            foot_rotation: ``[T, 3, 3]`` wanted world rotation of the foot (identity = flat,
                pointing along the frame's +y).
            pole: ``[T, 3]`` direction the knee should point to; default: between the pelvis'
                and the foot's forward axes.

        Returns:
            :class:`LegIK` with anatomical hip ``[T, 3]``, knee ``[T]`` and ankle ``[T, 3]`` angles.
            Out-of-reach targets give a straight leg pointing at the target and a ``reach_error``.
        """
        if side not in ("left", "right"):
            raise ValueError(f"side must be 'left' or 'right', got {side!r}")
        hip_i, knee_i, ankle_i = (JOINT_INDEX[f"{n}_{side}"] for n in ("hip", "knee", "ankle"))
        rr = np.asarray(root_rotation, dtype=np.float64)
        hip = np.asarray(root_position, dtype=np.float64) + rr @ self.offsets[hip_i]
        l1 = float(np.linalg.norm(self.offsets[knee_i]))
        l2 = float(np.linalg.norm(self.offsets[ankle_i]))
        d = np.asarray(ankle_target, dtype=np.float64) - hip
        dist = np.linalg.norm(d, axis=-1)
        u = d / np.maximum(dist, 1e-9)[..., None]
        max_reach = (l1 + l2) * (1 - 1e-6)
        min_reach = abs(l1 - l2) + 1e-6
        dc = np.clip(dist, min_reach, max_reach)
        reach_error = np.maximum(dist - max_reach, 0.0) + np.maximum(min_reach - dist, 0.0)
        fr = np.asarray(foot_rotation, dtype=np.float64)
        if pole is None:
            pole = rr[..., :, 1] + fr[..., :, 1]
        pole = np.asarray(pole, dtype=np.float64)
        n = pole - np.sum(pole * u, axis=-1, keepdims=True) * u
        n = n / np.maximum(np.linalg.norm(n, axis=-1, keepdims=True), 1e-9)
        cos_a = np.clip((l1**2 + dc**2 - l2**2) / (2 * l1 * dc), -1.0, 1.0)
        alpha = np.arccos(cos_a)
        thigh = np.cos(alpha)[..., None] * u + np.sin(alpha)[..., None] * n
        knee_pos = hip + l1 * thigh
        ankle_pos = hip + dc[..., None] * u
        shank = (ankle_pos - knee_pos) / l2
        kappa = np.arccos(np.clip(np.sum(thigh * shank, axis=-1), -1.0, 1.0))
        z_l = -thigh
        y_l = n - np.sum(n * thigh, axis=-1, keepdims=True) * thigh
        y_l = y_l / np.maximum(np.linalg.norm(y_l, axis=-1, keepdims=True), 1e-9)
        x_l = np.cross(y_l, z_l)
        m_thigh = np.stack([x_l, y_l, z_l], axis=-1)
        hip_local = np.swapaxes(rr, -1, -2) @ m_thigh
        m_shank = m_thigh @ rot_x(-kappa)
        ankle_local = np.swapaxes(m_shank, -1, -2) @ fr
        return LegIK(
            hip=matrix_to_euler_xyz(hip_local) * ANATOMICAL_SIGNS[hip_i],
            knee=kappa,
            ankle=matrix_to_euler_xyz(ankle_local) * ANATOMICAL_SIGNS[ankle_i],
            reach_error=reach_error,
        )

    def foot_contact_points(self) -> np.ndarray:
        """Indices of the sole joints (heel, ball, toe; left then right), ``[6]``."""
        return np.array([JOINT_INDEX[f"{p}_{s}"] for s in ("left", "right") for p in ("heel", "foot", "toe")])
