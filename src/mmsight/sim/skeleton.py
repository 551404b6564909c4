"""Canonical skeleton of the simulator: joint set, kinematic tree, angle conventions, joint maps.

Frames
------
*Room frame* (what every motion in :mod:`mmsight.sim.motion` is expressed in): the axes of the radar
frame (+x right seen from the radar, +y along boresight, +z up), origin on the floor directly below
the radar, floor at ``z = 0``. A point in the radar frame is ``p_room - (0, 0, h_radar)`` when the
radar is mounted level at height ``h_radar`` (see ``PosedBody.transformed`` for a general pose).

*Body frame* (rest pose, per person): origin at the pelvis (mid-point of the two hip-joint
centres), **+x = the person's right**, **+y = the direction the person faces**, **+z = up**. It is
right-handed and identical to the room frame for a person with ``heading = 0``, i.e. facing along
boresight, away from the radar. A person facing the radar has ``heading = pi``; then their *left*
side is at larger room ``x`` (to the right as seen from the radar, like a mirror image).

``heading`` is measured like azimuth: the facing direction in the room is ``(sin h, cos h, 0)``.

Joint angles
------------
Each joint carries three *anatomical* angles ``(flexion, abduction, rotation)`` in radians, defined
so that positive means the same movement on both sides of the body:

=============  =========================================================================
joints         meaning of the three angles (positive)
=============  =========================================================================
midline        forward bending, lateral bending towards the person's left, axial rotation
(pelvis,       turning the front towards the person's left. For the pelvis (root) this is
spine, neck,   the whole body's pitch/roll/yaw relative to its heading, e.g. lying on the
head)          back = flexion -pi/2.
hip            flexion (thigh forward), abduction (away from the midline), internal rotation
knee           flexion (shank backwards); other two angles unused
ankle          dorsiflexion (toes up), inversion-like tilt (abduction axis), internal rotation
foot (MTP)     toe extension (toes up)
clavicle       unused, elevation (shoulder up), protraction (shoulder forwards)
shoulder       flexion (arm forwards/up), abduction (arm sideways), internal rotation
elbow          flexion; wrist: flexion, radial/ulnar tilt, rotation
=============  =========================================================================

Internally a joint's local rotation (relative to its parent, in the parent's rest axes) is
``R = Rx(s0*a0) @ Ry(s1*a1) @ Rz(s2*a2)`` with the per-joint signs ``ANATOMICAL_SIGNS``. A joint's
rotation moves its children, so e.g. the *hip* angles swing the thigh and everything below it.

Joint maps
----------
``JOINT_MAPS`` holds index arrays from the canonical set to MARS-19, Kinect V2 (25), Azure Kinect
(32) and COCO-17. Kinect, Azure and COCO all use *anatomical* left/right (the person's own left),
as does this module. Face points (nose, eyes, ears) are not driven by a face model: they are rigid
offsets from the head-centre joint, scaled by stature (see ``mmsight.sim.body``), so they follow the
head's position and rotation exactly and carry no expression.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "ANATOMICAL_SIGNS",
    "AZURE32_NAMES",
    "COCO17_NAMES",
    "JOINT_INDEX",
    "JOINT_MAPS",
    "JOINT_NAMES",
    "JOINT_PARENTS",
    "JointMap",
    "KINECT25_NAMES",
    "LEFT_RIGHT_SWAP",
    "MARS19_NAMES",
    "N_JOINTS",
    "anatomical_to_local",
    "euler_xyz_to_matrix",
    "joint",
    "local_to_anatomical",
    "map_joints",
    "matrix_to_euler_xyz",
    "mirror_angles",
    "rot_x",
    "rot_y",
    "rot_z",
]

# --------------------------------------------------------------------------------------------
# Canonical joint set (39 joints) and tree
# --------------------------------------------------------------------------------------------

_TREE: tuple[tuple[str, str | None], ...] = (
    ("pelvis", None),  # root: mid-point of the hip-joint centres (Kinect SpineBase, Azure PELVIS)
    ("lumbar", "pelvis"),  # lower-spine pivot (about L3); no target joint
    ("spine_mid", "lumbar"),  # Kinect SpineMid, Azure SPINE_NAVEL
    ("spine_chest", "spine_mid"),  # Azure SPINE_CHEST
    ("spine_shoulder", "spine_chest"),  # Kinect SpineShoulder (base of the neck, C7 level)
    ("neck", "spine_shoulder"),  # Kinect Neck, Azure NECK; pivot of the head
    ("head", "neck"),  # head centre (Kinect Head, Azure HEAD)
    ("head_top", "head"),  # vertex (stature)
    ("nose", "head"),
    ("eye_left", "head"),
    ("eye_right", "head"),
    ("ear_left", "head"),
    ("ear_right", "head"),
    ("clavicle_left", "spine_shoulder"),
    ("shoulder_left", "clavicle_left"),
    ("elbow_left", "shoulder_left"),
    ("wrist_left", "elbow_left"),
    ("hand_left", "wrist_left"),  # palm centre (Kinect HandLeft)
    ("handtip_left", "hand_left"),  # tip of the middle finger
    ("thumb_left", "wrist_left"),
    ("clavicle_right", "spine_shoulder"),
    ("shoulder_right", "clavicle_right"),
    ("elbow_right", "shoulder_right"),
    ("wrist_right", "elbow_right"),
    ("hand_right", "wrist_right"),
    ("handtip_right", "hand_right"),
    ("thumb_right", "wrist_right"),
    ("hip_left", "pelvis"),
    ("knee_left", "hip_left"),
    ("ankle_left", "knee_left"),
    ("heel_left", "ankle_left"),  # back of the heel, on the sole
    ("foot_left", "ankle_left"),  # ball of the foot, on the sole (Kinect FootLeft)
    ("toe_left", "foot_left"),  # tip of the toes, on the sole
    ("hip_right", "pelvis"),
    ("knee_right", "hip_right"),
    ("ankle_right", "knee_right"),
    ("heel_right", "ankle_right"),
    ("foot_right", "ankle_right"),
    ("toe_right", "foot_right"),
)

#: Canonical joint names, in array order (``[J]``, J = 39).
JOINT_NAMES: tuple[str, ...] = tuple(n for n, _ in _TREE)
#: Number of canonical joints.
N_JOINTS: int = len(JOINT_NAMES)
#: Name -> index.
JOINT_INDEX: dict[str, int] = {n: i for i, n in enumerate(JOINT_NAMES)}
#: Parent index of every joint (``-1`` for the root). Parents always precede their children.
JOINT_PARENTS: np.ndarray = np.array([-1 if p is None else JOINT_INDEX[p] for _, p in _TREE], dtype=np.int64)
JOINT_PARENTS.setflags(write=False)


def joint(name: str) -> int:
    """Index of a canonical joint; raises ``KeyError`` with the known names otherwise."""
    try:
        return JOINT_INDEX[name]
    except KeyError:
        raise KeyError(f"unknown joint {name!r}; known: {', '.join(JOINT_NAMES)}") from None


def _mirror_name(name: str) -> str:
    if name.endswith("_left"):
        return name[: -len("_left")] + "_right"
    if name.endswith("_right"):
        return name[: -len("_right")] + "_left"
    return name


#: ``LEFT_RIGHT_SWAP[j]`` is the index of the mirror joint of ``j`` (itself for midline joints).
LEFT_RIGHT_SWAP: np.ndarray = np.array([JOINT_INDEX[_mirror_name(n)] for n in JOINT_NAMES], dtype=np.int64)
LEFT_RIGHT_SWAP.setflags(write=False)


def _signs() -> np.ndarray:
    s = np.ones((N_JOINTS, 3))
    for i, name in enumerate(JOINT_NAMES):
        left = name.endswith("_left")
        right = name.endswith("_right")
        base = name.rsplit("_", 1)[0] if (left or right) else name
        if not (left or right):
            s[i] = (-1.0, -1.0, 1.0)  # forward bend, lean to the left, turn to the left
            continue
        side = 1.0 if left else -1.0
        if base == "clavicle":
            s[i] = (1.0, side, -side)  # -, elevation, protraction
        elif base == "knee":
            s[i] = (-1.0, side, -side)
        else:  # hip, ankle, heel, foot, toe, shoulder, elbow, wrist, hand, handtip, thumb
            s[i] = (1.0, side, -side)  # flexion, abduction, internal rotation
    return s


#: ``[J, 3]`` signs mapping anatomical angles to rotations about the parent's (x, y, z) axes.
ANATOMICAL_SIGNS: np.ndarray = _signs()
ANATOMICAL_SIGNS.setflags(write=False)


# --------------------------------------------------------------------------------------------
# Rotations
# --------------------------------------------------------------------------------------------


def _axis_rot(angle: np.ndarray | float, axis: int) -> np.ndarray:
    a = np.asarray(angle, dtype=np.float64)
    c, s = np.cos(a), np.sin(a)
    out = np.zeros(a.shape + (3, 3))
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    out[..., axis, axis] = 1.0
    out[..., i, i] = c
    out[..., j, j] = c
    out[..., i, j] = -s
    out[..., j, i] = s
    return out


def rot_x(angle: np.ndarray | float) -> np.ndarray:
    """Right-handed rotation about +x by ``angle`` (rad); shape ``angle.shape + (3, 3)``."""
    return _axis_rot(angle, 0)


def rot_y(angle: np.ndarray | float) -> np.ndarray:
    """Right-handed rotation about +y by ``angle`` (rad); shape ``angle.shape + (3, 3)``."""
    return _axis_rot(angle, 1)


def rot_z(angle: np.ndarray | float) -> np.ndarray:
    """Right-handed rotation about +z by ``angle`` (rad); shape ``angle.shape + (3, 3)``."""
    return _axis_rot(angle, 2)


def euler_xyz_to_matrix(euler: np.ndarray) -> np.ndarray:
    """``[..., 3]`` angles (rad) -> ``[..., 3, 3]`` rotation ``Rx(e0) @ Ry(e1) @ Rz(e2)``."""
    e = np.asarray(euler, dtype=np.float64)
    ca, cb, cc = np.cos(e[..., 0]), np.cos(e[..., 1]), np.cos(e[..., 2])
    sa, sb, sc = np.sin(e[..., 0]), np.sin(e[..., 1]), np.sin(e[..., 2])
    out = np.empty(e.shape[:-1] + (3, 3))
    out[..., 0, 0] = cb * cc
    out[..., 0, 1] = -cb * sc
    out[..., 0, 2] = sb
    out[..., 1, 0] = ca * sc + sa * sb * cc
    out[..., 1, 1] = ca * cc - sa * sb * sc
    out[..., 1, 2] = -sa * cb
    out[..., 2, 0] = sa * sc - ca * sb * cc
    out[..., 2, 1] = sa * cc + ca * sb * sc
    out[..., 2, 2] = ca * cb
    return out


def matrix_to_euler_xyz(r: np.ndarray) -> np.ndarray:
    """Inverse of :func:`euler_xyz_to_matrix`: ``[..., 3, 3]`` -> ``[..., 3]`` with e1 in [-pi/2, pi/2]."""
    r = np.asarray(r, dtype=np.float64)
    e1 = np.arcsin(np.clip(r[..., 0, 2], -1.0, 1.0))
    e0 = np.arctan2(-r[..., 1, 2], r[..., 2, 2])
    e2 = np.arctan2(-r[..., 0, 1], r[..., 0, 0])
    return np.stack([e0, e1, e2], axis=-1)


def anatomical_to_local(angles: np.ndarray) -> np.ndarray:
    """Anatomical angles ``[..., J, 3]`` (rad) -> local joint rotations ``[..., J, 3, 3]``."""
    a = np.asarray(angles, dtype=np.float64)
    if a.shape[-2:] != (N_JOINTS, 3):
        raise ValueError(f"angles must have shape [..., {N_JOINTS}, 3], got {a.shape}")
    return euler_xyz_to_matrix(a * ANATOMICAL_SIGNS)


def local_to_anatomical(local: np.ndarray, joint_index: int) -> np.ndarray:
    """Local rotation(s) ``[..., 3, 3]`` of one joint -> its anatomical angles ``[..., 3]`` (rad)."""
    return matrix_to_euler_xyz(local) * ANATOMICAL_SIGNS[joint_index]


def mirror_angles(angles: np.ndarray) -> np.ndarray:
    """Mirror a pose left <-> right: ``[..., J, 3]`` -> ``[..., J, 3]``.

    Limb angles are swapped between sides (the anatomical convention is symmetric, so values carry
    over unchanged); midline lateral bending and axial rotation change sign.
    """
    a = np.asarray(angles, dtype=np.float64)[..., LEFT_RIGHT_SWAP, :].copy()
    mid = np.array([not (n.endswith("_left") or n.endswith("_right")) for n in JOINT_NAMES])
    a[..., mid, 1] *= -1.0
    a[..., mid, 2] *= -1.0
    return a


# --------------------------------------------------------------------------------------------
# Maps to other skeletons
# --------------------------------------------------------------------------------------------

#: Kinect V2 joint order (25 joints); Kinect "Left" is the person's left.
KINECT25_NAMES: tuple[str, ...] = (
    "SpineBase", "SpineMid", "Neck", "Head",
    "ShoulderLeft", "ElbowLeft", "WristLeft", "HandLeft",
    "ShoulderRight", "ElbowRight", "WristRight", "HandRight",
    "HipLeft", "KneeLeft", "AnkleLeft", "FootLeft",
    "HipRight", "KneeRight", "AnkleRight", "FootRight",
    "SpineShoulder", "HandTipLeft", "ThumbLeft", "HandTipRight", "ThumbRight",
)  # fmt: skip
_KINECT25_SOURCE: tuple[str, ...] = (
    "pelvis", "spine_mid", "neck", "head",
    "shoulder_left", "elbow_left", "wrist_left", "hand_left",
    "shoulder_right", "elbow_right", "wrist_right", "hand_right",
    "hip_left", "knee_left", "ankle_left", "foot_left",
    "hip_right", "knee_right", "ankle_right", "foot_right",
    "spine_shoulder", "handtip_left", "thumb_left", "handtip_right", "thumb_right",
)  # fmt: skip

#: MARS's 19 joints: Kinect V2 joints 0-20 without HandLeft (7) and HandRight (11), in that order.
MARS19_NAMES: tuple[str, ...] = tuple(KINECT25_NAMES[i] for i in range(21) if i not in (7, 11))

#: Azure Kinect body-tracking joint order (32 joints, ``k4abt_joint_id_t``).
AZURE32_NAMES: tuple[str, ...] = (
    "PELVIS", "SPINE_NAVEL", "SPINE_CHEST", "NECK",
    "CLAVICLE_LEFT", "SHOULDER_LEFT", "ELBOW_LEFT", "WRIST_LEFT", "HAND_LEFT", "HANDTIP_LEFT", "THUMB_LEFT",
    "CLAVICLE_RIGHT", "SHOULDER_RIGHT", "ELBOW_RIGHT", "WRIST_RIGHT", "HAND_RIGHT", "HANDTIP_RIGHT",
    "THUMB_RIGHT",
    "HIP_LEFT", "KNEE_LEFT", "ANKLE_LEFT", "FOOT_LEFT",
    "HIP_RIGHT", "KNEE_RIGHT", "ANKLE_RIGHT", "FOOT_RIGHT",
    "HEAD", "NOSE", "EYE_LEFT", "EAR_LEFT", "EYE_RIGHT", "EAR_RIGHT",
)  # fmt: skip

#: COCO-17 keypoint order.
COCO17_NAMES: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip


def _azure_source(name: str) -> str:
    special = {"PELVIS": "pelvis", "SPINE_NAVEL": "spine_mid", "SPINE_CHEST": "spine_chest", "NECK": "neck",
               "HEAD": "head", "NOSE": "nose"}  # fmt: skip
    if name in special:
        return special[name]
    return name.lower()


def _coco_source(name: str) -> str:
    if name == "nose":
        return name
    side, part = name.split("_", 1)
    return f"{part}_{side}"


@dataclass(frozen=True)
class JointMap:
    """A target skeleton as a gather from the canonical joints.

    Attributes:
        name: short key (``"mars19"``, ``"kinect25"``, ``"azure32"``, ``"coco17"``).
        names: target joint names in target order ``[K]``.
        index: ``[K]`` canonical joint index of every target joint.
    """

    name: str
    names: tuple[str, ...]
    index: np.ndarray

    def __len__(self) -> int:
        return len(self.names)

    def apply(self, joints: np.ndarray) -> np.ndarray:
        """Canonical joints ``[..., J, 3]`` -> target joints ``[..., K, 3]``."""
        j = np.asarray(joints)
        if j.shape[-2] != N_JOINTS:
            raise ValueError(f"expected {N_JOINTS} canonical joints on axis -2, got shape {j.shape}")
        return j[..., self.index, :]

    def source_names(self) -> tuple[str, ...]:
        """Canonical joint name behind every target joint."""
        return tuple(JOINT_NAMES[i] for i in self.index)


def _make_map(name: str, names: tuple[str, ...], sources: tuple[str, ...]) -> JointMap:
    idx = np.array([joint(s) for s in sources], dtype=np.int64)
    idx.setflags(write=False)
    return JointMap(name, names, idx)


_KINECT25 = _make_map("kinect25", KINECT25_NAMES, _KINECT25_SOURCE)

#: Maps from the canonical joints to the target skeletons.
JOINT_MAPS: dict[str, JointMap] = {
    "mars19": _make_map("mars19", MARS19_NAMES, tuple(_KINECT25_SOURCE[KINECT25_NAMES.index(n)] for n in MARS19_NAMES)),
    "kinect25": _KINECT25,
    "azure32": _make_map("azure32", AZURE32_NAMES, tuple(_azure_source(n) for n in AZURE32_NAMES)),
    "coco17": _make_map("coco17", COCO17_NAMES, tuple(_coco_source(n) for n in COCO17_NAMES)),
}


def map_joints(joints: np.ndarray, target: str) -> np.ndarray:
    """Canonical joints ``[..., J, 3]`` -> ``[..., K, 3]`` of ``target`` (a ``JOINT_MAPS`` key)."""
    try:
        m = JOINT_MAPS[target]
    except KeyError:
        raise KeyError(f"unknown joint map {target!r}; known: {', '.join(JOINT_MAPS)}") from None
    return m.apply(joints)
