"""Simulator: people, motion, clothing, concealed objects, walls, RGB-D camera and radar scenes.

Importing ``mmsight.sim`` is cheap: the public names below are loaded on first use.

Bodies and motion (see ``docs/sim_bodies.md``):

* :mod:`mmsight.sim.skeleton` - canonical 39-joint skeleton, angle conventions, joint maps to
  MARS-19 / Kinect V2 (25) / Azure Kinect (32) / COCO-17;
* :mod:`mmsight.sim.body` - :class:`BodyShape` (anthropometry, segment ellipsoids/capsules,
  forward kinematics, leg IK) and the posed geometry :class:`PosedBody` / :class:`SegmentSet`;
* :mod:`mmsight.sim.motion` - :class:`MotionClip` and the generators (walking with identities,
  routes, standing/sitting/falls/lying, MARS rehab movements).

Materials, concealed objects, geometry and camera: :mod:`mmsight.sim.electromagnetics`,
:mod:`mmsight.sim.materials`, :mod:`mmsight.sim.objects` (``docs/sim_materials.md``),
:mod:`mmsight.sim.geometry`, :mod:`mmsight.sim.camera` (``docs/sim_camera.md``),
:mod:`mmsight.sim.scattering`, :mod:`mmsight.sim.radar_render` (``docs/sim_radar.md``).
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
    # materials and concealed objects (docs/sim_materials.md)
    "Material": "materials",
    "MaterialInstance": "materials",
    "MATERIALS": "materials",
    "get_material": "materials",
    "material_names": "materials",
    "CLOTHING_CONDITIONS": "materials",
    "WALL_CONDITIONS": "materials",
    "ConcealedObject": "objects",
    "OBJECTS": "objects",
    "get_object": "objects",
    "MMANOMALY_OBJECTS": "objects",
    "REGIONS": "objects",
    "MMANOMALY_REGIONS": "objects",
    "attach": "objects",
    "object_scatterers": "objects",
    "concealed_two_way_loss_db": "objects",
    # scene geometry and the RGB-D camera (docs/sim_camera.md)
    "Ellipsoids": "geometry",
    "Capsules": "geometry",
    "Boxes": "geometry",
    "Quads": "geometry",
    "Planes": "geometry",
    "SceneGeometry": "geometry",
    "RayHits": "geometry",
    "ray_cast": "geometry",
    "first_hit_between": "geometry",
    "segment_occluded": "geometry",
    "sample_surface": "geometry",
    "room_geometry": "geometry",
    "PinholeCamera": "camera",
    "look_at_pose": "camera",
    "Light": "camera",
    "Lighting": "camera",
    "SurfaceLook": "camera",
    "RenderOptions": "camera",
    "DepthNoiseModel": "camera",
    "RGBD": "camera",
    "CameraLabels": "camera",
    "render_rgbd": "camera",
    "render_labels": "camera",
    "sample_lighting": "camera",
    "sample_looks": "camera",
    # radar returns of a scene (docs/sim_radar.md)
    "Scatterers": "scattering",
    "FacetModel": "scattering",
    "Fluctuation": "scattering",
    "Clothing": "scattering",
    "Garment": "scattering",
    "CarriedObject": "scattering",
    "body_scatterers": "scattering",
    "radar_mount": "scattering",
    "RadarScene": "radar_render",
    "Person": "radar_render",
    "Surface": "radar_render",
    "StaticReflector": "radar_render",
    "scene_scatterers": "radar_render",
    "render_scatterers": "radar_render",
    "render_radar_frames": "radar_render",
    # scenes, task datasets and the runner (docs/simulator.md)
    "Scene": "scenes",
    "SensorRig": "scenes",
    "RoomSpec": "scenes",
    "ClutterSpec": "scenes",
    "WallSpec": "scenes",
    "sample_scene": "scenes",
    "weapons_scene": "scenes",
    "wall_scene": "scenes",
    "gait_scene": "scenes",
    "rehab_scene": "scenes",
    "WALL_CONFIGS": "scenes",
    "WALL_POSITIONS": "scenes",
    "WEAPON_ENVIRONMENTS": "scenes",
    "GAIT_SCENES": "scenes",
    "REHAB_ENVIRONMENTS": "scenes",
    "REHAB_RADAR_POSITIONS": "scenes",
    "simulate": "runner",
    "simulate_preview": "preview",
    "get_task": "tasks",
    "load_config": "tasks",
    "TASK_NAMES": "tasks",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        mod = importlib.import_module(f".{_LAZY[name]}", __name__)
        return getattr(mod, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
