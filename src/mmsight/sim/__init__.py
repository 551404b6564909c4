"""Simulator: people, motion, clothing, concealed objects, walls, RGB-D camera and radar scenes.

Importing ``mmsight.sim`` is cheap: the public names below are loaded on first use.

Bodies and motion (see ``docs/sim_bodies.md``):

* :mod:`mmsight.sim.skeleton` - canonical 39-joint skeleton, angle conventions, joint maps to
  MARS-19 / Kinect V2 (25) / Azure Kinect (32) / COCO-17;
* :mod:`mmsight.sim.body` - :class:`BodyShape` (anthropometry, segment ellipsoids/capsules,
  forward kinematics, leg IK) and the posed geometry :class:`PosedBody` / :class:`SegmentSet`;
* :mod:`mmsight.sim.motion` - :class:`MotionClip` and the generators (walking with identities,
  routes, standing/sitting/falls/lying, MARS rehab movements).
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY: dict[str, str] = {
    # skeleton
    "JOINT_NAMES": "skeleton",
    "JOINT_PARENTS": "skeleton",
    "JOINT_INDEX": "skeleton",
    "JOINT_MAPS": "skeleton",
    "JointMap": "skeleton",
    "map_joints": "skeleton",
    "mirror_angles": "skeleton",
    # body
    "BodyShape": "body",
    "BodySegment": "body",
    "PosedBody": "body",
    "SegmentSet": "body",
    "SEGMENT_NAMES": "body",
    "BUILDS": "body",
    # motion
    "MotionClip": "motion",
    "concatenate": "motion",
    "min_jerk": "motion",
    "GaitIdentity": "motion",
    "GaitParams": "motion",
    "walk": "motion",
    "gait_features": "motion",
    "foot_slip": "motion",
    "Room": "motion",
    "Route": "motion",
    "route_at_view_angle": "motion",
    "sample_route": "motion",
    "stand": "motion",
    "sit": "motion",
    "stand_to_sit": "motion",
    "sit_to_stand": "motion",
    "fall": "motion",
    "lying": "motion",
    "FALL_DIRECTIONS": "motion",
    "MARS_MOVEMENTS": "motion",
    "RehabStyle": "motion",
    "rehab_movement": "motion",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        mod = importlib.import_module(f".{_LAZY[name]}", __name__)
        return getattr(mod, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
