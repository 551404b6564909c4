"""Scenes of the task datasets: rooms, static clutter, walls, sensor rigs, each drawn from a seed.

A :class:`Scene` is everything around the people of one sequence, in the **room frame** (floor at
``z = 0``, the axes of a level radar: +x right seen from the radar, +y along its boresight, +z up;
see :mod:`mmsight.sim.skeleton`):

* :class:`RoomSpec` - a shoebox room (floor, ceiling, side and back walls) whose surfaces are the
  first-order multipath mirrors (image sources, :mod:`mmsight.sim.radar_render`);
* :class:`ClutterSpec` - static reflectors (metal ladder, whiteboard, poster board, cabinet, desks,
  chairs, pillars, bed, sofa), each with a radar model (:class:`~mmsight.sim.radar_render.StaticReflector`
  made of PEC primitives, scaled by the material's power reflectivity for non-metal furniture) and a
  camera model (boxes and capsules of :mod:`mmsight.sim.geometry`);
* :class:`WallSpec` - an optional wall between the sensors and the scene (through-wall sensing): a
  slab for the radar (:class:`~mmsight.sim.radar_render.Surface`, ITU-R P.2040 / estimated materials of
  :mod:`mmsight.sim.materials`) and an opaque box for the camera;
* :class:`SensorRig` - the radar pose ``T_room_from_radar`` (height, downward tilt, yaw) and the
  RGB-D camera (pose, intrinsics ``K``, ``T_radar_from_camera``).

One sampler per task family turns a condition name and a ``numpy`` generator into a scene, so a
sequence's scene is a pure function of its seed:

=================  ===========================================================================
:func:`weapons_scene`   mmAnomaly through-cloth scenes: ``plain`` / ``ladder`` / ``ladder_whiteboard``
                        (the paper's Env-1..3), radar tilted 20 degrees down, co-located camera.
:func:`wall_scene`      mmAnomaly through-wall scenes: the 7 configurations of :data:`WALL_CONFIGS`
                        (4 materials, and 3 set-ups with added ladder / poster board reflectors),
                        sensors on a 4-ft tripod, level; 6 positions (:data:`WALL_POSITIONS`).
:func:`gait_scene`      Mission scenes ``classroom`` / ``corridor`` / ``hall``; radar 0.85 m, camera 0.86 m.
:func:`rehab_scene`     MARS-style rehab: 4 environments x 2 radar positions.
=================  ===========================================================================

Every number that is not from the papers is marked [EST] in the code and in ``docs/simulator.md``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from mmsight.sim.geometry import SceneGeometry
    from mmsight.sim.radar_render import RadarScene, StaticReflector, Surface

__all__ = [
    "CLUTTER_KINDS",
    "GAIT_SCENES",
    "REHAB_ENVIRONMENTS",
    "REHAB_RADAR_POSITIONS",
    "WALL_CONFIGS",
    "WALL_POSITIONS",
    "WEAPON_ENVIRONMENTS",
    "ClutterSpec",
    "RoomSpec",
    "Scene",
    "SensorRig",
    "WallConfig",
    "WallSpec",
    "gait_scene",
    "heading_vector",
    "rehab_scene",
    "sample_scene",
    "wall_scene",
    "weapons_scene",
]

ROOM_OBJECT_ID = 100
"""``object_id`` of the room's primitives in the camera geometry (people use 0..N-1)."""
CLUTTER_OBJECT_ID = 200
"""``object_id`` of clutter item ``k`` is ``CLUTTER_OBJECT_ID + k``; the wall gets ``WALL_OBJECT_ID``."""
WALL_OBJECT_ID = 150

# OpenCV camera axes (x right, y down, z forward) expressed in a level mount frame (x right, y forward, z up).
_R_MOUNT_FROM_CV = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])


def heading_vector(heading: float) -> np.ndarray:
    """Horizontal unit vector of a heading (rad; 0 = +y away from the radar, pi/2 = +x, pi = towards it)."""
    return np.array([math.sin(heading), math.cos(heading), 0.0])


def _mount(height: float, tilt_down_deg: float, xy: tuple[float, float], yaw_deg: float) -> np.ndarray:
    from mmsight.sim.scattering import radar_mount

    return radar_mount(height, tilt_down_deg, xy, yaw_deg)


def _inverse(t: np.ndarray) -> np.ndarray:
    out = np.eye(4)
    out[:3, :3] = t[:3, :3].T
    out[:3, 3] = -t[:3, :3].T @ t[:3, 3]
    return out


def _reflectivity(material: str, freq_hz: float = 60.5e9) -> float:
    """Normal-incidence power reflection (linear) of a material, band-averaged over 4 GHz."""
    from mmsight.sim.materials import get_material

    if material == "metal":
        return 1.0
    db = float(get_material(material).reflection_db(freq_hz, bandwidth_hz=4e9))
    return 10.0 ** (db / 10.0)


# ----------------------------------------------------------------------------------------------
# sensors
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SensorRig:
    """Where the radar and the RGB-D camera are.

    Attributes:
        radar_xy: radar floor position (m, room frame).
        radar_height: antenna height above the floor (m).
        radar_tilt_deg: downward pitch of the boresight (mmAnomaly's through-cloth radar: 20).
        radar_yaw_deg: yaw of the boresight (heading convention, towards +x).
        camera_offset: camera centre relative to the radar, in the radar frame (m). Ignored when
            ``camera_xy`` is given.
        camera_xy, camera_height: place the camera independently of the radar (a camera in another
            part of the scene); None = co-located by ``camera_offset``.
        camera_tilt_deg, camera_yaw_deg: camera pitch (down) and yaw; None = the radar's.
        image_size: (height, width) pixels.
        hfov_deg: horizontal field of view (square pixels, principal point at the centre).
        camera_model: what the camera stands for (documentation only).
    """

    radar_xy: tuple[float, float] = (0.0, 0.0)
    radar_height: float = 1.0
    radar_tilt_deg: float = 0.0
    radar_yaw_deg: float = 0.0
    camera_offset: tuple[float, float, float] = (0.0, 0.0, 0.08)
    camera_xy: tuple[float, float] | None = None
    camera_height: float | None = None
    camera_tilt_deg: float | None = None
    camera_yaw_deg: float | None = None
    image_size: tuple[int, int] = (128, 128)
    hfov_deg: float = 69.0
    camera_model: str = "RGB-D"

    @property
    def T_room_from_radar(self) -> np.ndarray:
        """``[4, 4]`` radar pose in the room."""
        return _mount(self.radar_height, self.radar_tilt_deg, self.radar_xy, self.radar_yaw_deg)

    @property
    def T_room_from_camera(self) -> np.ndarray:
        """``[4, 4]`` camera pose (OpenCV axes: x right, y down, z forward) in the room."""
        tilt = self.radar_tilt_deg if self.camera_tilt_deg is None else self.camera_tilt_deg
        yaw = self.radar_yaw_deg if self.camera_yaw_deg is None else self.camera_yaw_deg
        if self.camera_xy is not None:
            h = self.radar_height if self.camera_height is None else self.camera_height
            pos = np.array([self.camera_xy[0], self.camera_xy[1], h])
        else:
            pos = self.T_room_from_radar @ np.array([*self.camera_offset, 1.0])
            pos = pos[:3]
        m = _mount(float(pos[2]), tilt, (float(pos[0]), float(pos[1])), yaw)
        m[:3, :3] = m[:3, :3] @ _R_MOUNT_FROM_CV
        return m

    @property
    def T_radar_from_camera(self) -> np.ndarray:
        """``[4, 4]`` camera-to-radar extrinsics (the calibration stored with every sequence)."""
        return _inverse(self.T_room_from_radar) @ self.T_room_from_camera

    @property
    def T_radar_from_room(self) -> np.ndarray:
        return _inverse(self.T_room_from_radar)

    @property
    def K(self) -> np.ndarray:
        """``[3, 3]`` pinhole intrinsics for :attr:`image_size` and :attr:`hfov_deg` (square pixels,
        principal point at the image centre, OpenCV pixel-centre convention)."""
        h, w = self.image_size
        f = 0.5 * w / math.tan(math.radians(self.hfov_deg) / 2)
        return np.array([[f, 0.0, 0.5 * (w - 1)], [0.0, f, 0.5 * (h - 1)], [0.0, 0.0, 1.0]])

    def camera(self) -> Any:
        """The :class:`mmsight.sim.camera.PinholeCamera` of this rig."""
        from mmsight.sim.camera import PinholeCamera

        h, w = self.image_size
        return PinholeCamera(w, h, self.K, self.T_room_from_camera)

    def with_image_size(self, size: int | tuple[int, int]) -> SensorRig:
        s = (int(size), int(size)) if isinstance(size, (int, np.integer)) else (int(size[0]), int(size[1]))
        return replace(self, image_size=s)


# ----------------------------------------------------------------------------------------------
# room, clutter, wall
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RoomSpec:
    """A shoebox room.

    Attributes:
        x_range, y_range: inner extent of the walls (m, room frame).
        height: ceiling height (m).
        wall_material, floor_material, ceiling_material: :mod:`mmsight.sim.materials` names.
        walls: which walls exist (``left`` x = x0, ``right`` x = x1, ``back`` y = y1, ``front`` y = y0).
        mirrors: surfaces used as first-order multipath mirrors (``floor``, ``ceiling`` and wall names).
    """

    x_range: tuple[float, float] = (-3.0, 3.0)
    y_range: tuple[float, float] = (-0.5, 8.0)
    height: float = 3.0
    wall_material: str = "drywall"
    floor_material: str = "concrete"
    ceiling_material: str | None = "ceiling_tile"
    walls: tuple[str, ...] = ("left", "right", "back")
    mirrors: tuple[str, ...] = ("floor", "left", "right", "back")

    def geometry(self, object_id: int = ROOM_OBJECT_ID) -> SceneGeometry:
        """Camera geometry (floor, ceiling, walls as boxes)."""
        from mmsight.sim.geometry import room_geometry

        return room_geometry(self.x_range, self.y_range, self.height, wall_material=self.wall_material,
                             floor_material=self.floor_material, ceiling_material=self.ceiling_material,
                             walls=self.walls, object_id=object_id)

    def surfaces(self) -> tuple[Surface, ...]:
        """The multipath mirrors (infinite planes) of :attr:`mirrors`."""
        from mmsight.sim.radar_render import Surface

        out = []
        for m in self.mirrors:
            if m == "floor":
                out.append(Surface.floor(self.floor_material))
            elif m == "ceiling":
                if self.ceiling_material is not None:
                    out.append(Surface("ceiling", (0.0, 0.0, self.height), (0.0, 0.0, -1.0), self.ceiling_material))
            elif m == "left":
                out.append(Surface.wall_x(self.x_range[0], self.wall_material, name="wall_left"))
            elif m == "right":
                out.append(Surface.wall_x(self.x_range[1], self.wall_material, name="wall_right"))
            elif m == "back":
                out.append(Surface.wall_y(self.y_range[1], self.wall_material, name="wall_back"))
            elif m == "front":
                out.append(Surface.wall_y(self.y_range[0], self.wall_material, name="wall_front"))
            else:
                raise ValueError(f"unknown mirror {m!r}; valid: floor, ceiling, left, right, back, front")
        return tuple(out)

    def walkable(self, margin: float = 0.4) -> Any:
        """The floor as a :class:`mmsight.sim.motion.Room` for route sampling."""
        from mmsight.sim.motion import Room

        return Room(x_range=self.x_range, y_range=(max(self.y_range[0], 0.6), self.y_range[1]), margin=margin)


CLUTTER_KINDS: tuple[str, ...] = (
    "ladder", "whiteboard", "poster_board", "cabinet", "desk", "chair", "pillar", "bed", "sofa", "shelf",
)
"""Static reflector kinds understood by :class:`ClutterSpec`."""

# default size (width, height, depth) m and material per kind [EST: common furniture sizes]
_CLUTTER_DEFAULTS: Mapping[str, tuple[tuple[float, float, float], str]] = MappingProxyType({
    "ladder": ((0.45, 1.8, 0.05), "metal"),  # aluminium step ladder seen as an upright frame
    "whiteboard": ((1.2, 0.9, 0.02), "metal"),  # porcelain-on-steel board (radar-physics.md 6)
    "poster_board": ((0.9, 0.6, 0.005), "gator_board"),  # foam/paper board
    "cabinet": ((0.9, 1.8, 0.45), "metal"),  # steel filing cabinet
    "desk": ((1.2, 0.75, 0.6), "plywood"),  # wooden desk (height = top height)
    "chair": ((0.45, 0.45, 0.45), "plywood"),  # wooden chair (height = seat height)
    "pillar": ((0.5, 3.0, 0.5), "concrete"),  # square concrete column
    "bed": ((0.9, 0.55, 2.0), "plywood"),  # clinic bed: top at 0.55 m
    "sofa": ((1.8, 0.85, 0.8), "cotton_tshirt"),  # upholstered sofa (fabric over foam/wood)
    "shelf": ((0.8, 1.9, 0.35), "metal"),  # steel shelving (gym rack)
})  # fmt: skip

# camera colour materials of the clutter kinds (looked up by the renderer through the material tag)
_CAMERA_MATERIAL: Mapping[str, str] = MappingProxyType({
    "ladder": "metal", "whiteboard": "metal", "poster_board": "gator_board", "cabinet": "metal",
    "desk": "plywood", "chair": "plywood", "pillar": "concrete", "bed": "plywood", "sofa": "fleece",
    "shelf": "metal",
})  # fmt: skip


@dataclass(frozen=True)
class ClutterSpec:
    """One static reflector.

    Attributes:
        kind: one of :data:`CLUTTER_KINDS`.
        position: floor point of the base centre (m, room frame); boards use ``position[2]`` as the
            height of their centre.
        heading: direction the front faces (rad, heading convention; pi = facing the radar).
        size: (width, height, depth) m; None = the kind's default.
        material: radar material (``metal`` = PEC; otherwise the normal-incidence power reflection of
            the material scales the PEC primitives); None = the kind's default.
        name: label (default: the kind).
    """

    kind: str
    position: tuple[float, float, float]
    heading: float = math.pi
    size: tuple[float, float, float] | None = None
    material: str | None = None
    name: str = ""

    def __post_init__(self) -> None:
        if self.kind not in CLUTTER_KINDS:
            raise ValueError(f"unknown clutter kind {self.kind!r}; valid: {', '.join(CLUTTER_KINDS)}")

    @property
    def dims(self) -> tuple[float, float, float]:
        return self.size if self.size is not None else _CLUTTER_DEFAULTS[self.kind][0]

    @property
    def radar_material(self) -> str:
        return self.material if self.material is not None else _CLUTTER_DEFAULTS[self.kind][1]

    @property
    def label(self) -> str:
        return self.name or self.kind

    def reflector(self, freq_hz: float = 60.5e9) -> StaticReflector:
        """The radar model (room frame)."""
        from mmsight.sim.objects import Cylinder
        from mmsight.sim.radar_render import StaticReflector

        w, h, d = self.dims
        p = np.asarray(self.position, dtype=np.float64)
        facing = heading_vector(self.heading)
        refl = _reflectivity(self.radar_material, freq_hz)
        k = self.kind
        if k == "ladder":
            r = StaticReflector.ladder((p[0], p[1], 0.0), facing, height=h, width=w, name=self.label)
        elif k in ("whiteboard", "poster_board"):
            r = StaticReflector.whiteboard(p, facing, width=w, height=h, name=self.label)
        elif k in ("cabinet", "shelf", "sofa"):
            r = StaticReflector.cabinet((p[0], p[1], 0.0), facing, width=w, height=h, depth=d, name=self.label)
        elif k in ("desk", "chair", "bed"):
            r = StaticReflector.table((p[0], p[1], h), width=w, depth=d, name=self.label)
        elif k == "pillar":
            cyl = Cylinder("column", (0.0, 0.0, 0.0), (0.0, 0.0, 1.0), 0.5 * w, h)
            pose = np.eye(4)
            pose[:3, 3] = (p[0], p[1], 0.5 * h)
            r = StaticReflector(self.label, (cyl,), pose, (0.0, 0.0, 0.0), (w, d, h))
        else:  # pragma: no cover - guarded by __post_init__
            raise AssertionError(k)
        return replace(r, reflectivity=refl) if refl != 1.0 else r

    def geometry(self, object_id: int) -> SceneGeometry:
        """The camera model (room frame): boxes and capsules tagged with the camera material."""
        from mmsight.sim.geometry import Boxes, Capsules, SceneGeometry

        w, h, d = self.dims
        p = np.asarray(self.position, dtype=np.float64)
        f = heading_vector(self.heading)  # front normal
        x = np.array([f[1], -f[0], 0.0])  # along the width (right of the front, seen from the front... any)
        axes = np.stack([x, f, np.array([0.0, 0.0, 1.0])], axis=1)  # columns: width, depth, up
        mat = _CAMERA_MATERIAL[self.kind]
        geo = SceneGeometry()
        k = self.kind

        def box(center: np.ndarray, half: Sequence[float], material: str = mat, name: str = "") -> None:
            nonlocal geo
            geo = geo.add(Boxes(np.asarray(center, float)[None], axes[None], np.asarray(half, float)[None]),
                          material=material, kind="clutter", object_id=object_id, names=[name or self.label])

        if k == "ladder":
            r_rail, r_rung = 0.015, 0.012
            p0, p1, rad = [], [], []
            for s in (-0.5, 0.5):
                base = p + s * w * x
                p0.append(base + [0, 0, 0.0])
                p1.append(base + [0, 0, h])
                rad.append(r_rail)
            n_rungs = 6
            for i in range(n_rungs):
                z = (i + 1) * h / (n_rungs + 1)
                p0.append(p - 0.5 * w * x + [0, 0, z])
                p1.append(p + 0.5 * w * x + [0, 0, z])
                rad.append(r_rung)
            p0a = np.array(p0)
            p0a[:, 2] = np.maximum(p0a[:, 2], 0.0)
            geo = geo.add(Capsules(p0a, np.array(p1), np.array(rad)), material=mat, kind="clutter",
                          object_id=object_id, names=[self.label] * len(rad))
        elif k in ("whiteboard", "poster_board"):
            box(p, (0.5 * w, 0.5 * max(d, 0.005), 0.5 * h))
        elif k in ("cabinet", "shelf", "sofa"):
            box(p + [0, 0, 0.5 * h], (0.5 * w, 0.5 * d, 0.5 * h))
        elif k in ("desk", "chair", "bed"):
            top = 0.03
            box(p + [0, 0, h - 0.5 * top], (0.5 * w, 0.5 * d, 0.5 * top))
            legs = []
            for sx in (-1, 1):
                for sy in (-1, 1):
                    legs.append(p + sx * (0.5 * w - 0.04) * x + sy * (0.5 * d - 0.04) * f)
            legs_a = np.array(legs)
            geo = geo.add(Capsules(legs_a, legs_a + [0, 0, h - top], np.full(4, 0.02)), material=mat,
                          kind="clutter", object_id=object_id, names=[self.label] * 4)
            if k == "chair":
                box(p - (0.5 * d - 0.02) * f + [0, 0, h + 0.22], (0.5 * w, 0.015, 0.22))
        elif k == "pillar":
            box(p + [0, 0, 0.5 * h], (0.5 * w, 0.5 * d, 0.5 * h))
        return geo

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.label, "position": [float(v) for v in self.position],
                "heading_deg": math.degrees(self.heading), "size": [float(v) for v in self.dims],
                "material": self.radar_material}


@dataclass(frozen=True)
class WallSpec:
    """A wall between the sensors and the scene (its front face is the plane ``y = distance``).

    Attributes:
        material: :mod:`mmsight.sim.materials` wall material.
        distance: y of the face towards the sensors (m, room frame).
        width, height: extent (m); the wall stands on the floor, centred at ``center_x``.
        thickness: slab thickness (m); None = the material's nominal thickness.
        contrast: dielectric-contrast scale of this instance (see :class:`~mmsight.sim.materials.Material`).
    """

    material: str
    distance: float = 1.0
    width: float = 3.0
    height: float = 2.4
    thickness: float | None = None
    contrast: float = 1.0
    center_x: float = 0.0

    def instance(self) -> Any:
        """The :class:`~mmsight.sim.materials.MaterialInstance` of this wall."""
        from mmsight.sim.materials import get_material

        inst = get_material(self.material, kind="wall").nominal_instance()
        if self.thickness is not None:
            inst = inst.with_thickness(self.thickness)
        return replace(inst, contrast=self.contrast)

    @property
    def depth(self) -> float:
        """Slab thickness used for the geometry (m)."""
        th = self.instance().thickness_m
        return float(th) if th is not None else 0.01

    def surface(self) -> Surface:
        """The radar model: a finite slab plane through the wall's middle."""
        from mmsight.sim.radar_render import Surface

        y = self.distance + 0.5 * self.depth
        return Surface.wall_y(y, self.instance(), width=self.width, height=self.height, center_x=self.center_x,
                              name=f"wall_{self.material}")

    def geometry(self, object_id: int = WALL_OBJECT_ID) -> SceneGeometry:
        """The camera model: an opaque box (even a curtain hides the person from the camera)."""
        from mmsight.sim.geometry import Boxes, SceneGeometry

        lo = [[self.center_x - 0.5 * self.width, self.distance, 0.0]]
        hi = [[self.center_x + 0.5 * self.width, self.distance + max(self.depth, 0.004), self.height]]
        return SceneGeometry().add(Boxes.from_min_max(lo, hi), material=self.material, kind="wall",
                                   object_id=object_id, names=[f"wall_{self.material}"])

    def to_dict(self) -> dict[str, Any]:
        return {"material": self.material, "distance": self.distance, "width": self.width, "height": self.height,
                "thickness": self.depth, "contrast": self.contrast, "center_x": self.center_x}


# ----------------------------------------------------------------------------------------------
# scene
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scene:
    """Everything around the people of one sequence.

    Attributes:
        family: task family (``weapons``, ``wall``, ``gait``, ``rehab``).
        name: condition name (environment / wall configuration / scene).
        room: the room.
        rig: the sensors.
        clutter: static reflectors.
        wall: optional wall between the sensors and the scene.
        multipath: render first-order image-source ghosts on the room mirrors (and the wall).
        extra_mirrors: further finite mirrors (e.g. a whiteboard's face), as ``(name, clutter index)``.
        labels: scene-context labels for the dataset (environment, wall type ...).
    """

    family: str
    name: str
    room: RoomSpec
    rig: SensorRig
    clutter: tuple[ClutterSpec, ...] = ()
    wall: WallSpec | None = None
    multipath: bool = True
    extra_mirrors: tuple[int, ...] = ()
    labels: Mapping[str, Any] = field(default_factory=dict)

    def static_geometry(self) -> SceneGeometry:
        """Camera geometry of the room, the wall and the clutter (room frame)."""
        geo = self.room.geometry()
        if self.wall is not None:
            geo = geo.extend(self.wall.geometry())
        for k, c in enumerate(self.clutter):
            geo = geo.extend(c.geometry(CLUTTER_OBJECT_ID + k))
        return geo

    def mirrors(self) -> tuple[Surface, ...]:
        """Multipath mirror planes: the room's, then the finite faces of :attr:`extra_mirrors` clutter."""
        from mmsight.sim.radar_render import Surface

        out = list(self.room.surfaces())
        for k in self.extra_mirrors:
            c = self.clutter[k]
            w, h, _ = c.dims
            f = heading_vector(c.heading)
            x = (f[1], -f[0], 0.0)
            db = 10.0 * math.log10(max(_reflectivity(c.radar_material), 1e-12))
            out.append(Surface(f"{c.label}_face", tuple(float(v) for v in c.position), tuple(float(v) for v in f),  # type: ignore[arg-type]
                               reflection_db=db, u_axis=x, half_size=(0.5 * w, 0.5 * h)))
        return tuple(out)

    def reflectors(self, freq_hz: float = 60.5e9) -> tuple[StaticReflector, ...]:
        return tuple(c.reflector(freq_hz) for c in self.clutter)

    def radar_scene(self, people: Sequence[Any] = (), freq_hz: float = 60.5e9, **kwargs: Any) -> RadarScene:
        """A :class:`~mmsight.sim.radar_render.RadarScene` of this scene with ``people``
        (:class:`~mmsight.sim.radar_render.Person`); ``kwargs`` go to the scene (facets, fluctuation ...)."""
        from mmsight.sim.radar_render import RadarScene

        return RadarScene(
            radar_pose=self.rig.T_room_from_radar, people=tuple(people), clutter=self.reflectors(freq_hz),
            wall=None if self.wall is None else self.wall.surface(), surfaces=self.mirrors() if self.multipath else (),
            multipath=self.multipath, **kwargs,
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain description (stored in the calibration of every sequence)."""
        return {
            "family": self.family, "name": self.name, "room": _plain(asdict(self.room)),
            "rig": _plain(asdict(self.rig)), "clutter": [c.to_dict() for c in self.clutter],
            "wall": None if self.wall is None else self.wall.to_dict(), "multipath": self.multipath,
            "labels": _plain(dict(self.labels)),
        }


def _plain(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    return v


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


# ----------------------------------------------------------------------------------------------
# mmAnomaly through-cloth (weapons)
# ----------------------------------------------------------------------------------------------

WEAPON_ENVIRONMENTS: tuple[str, ...] = ("plain", "ladder", "ladder_whiteboard")
"""mmAnomaly sec. 5.1: a typical lab (Env-1), with a ladder (Env-2), with a ladder and a whiteboard (Env-3)."""


def weapons_scene(environment: str, rng: np.random.Generator, *, image_size: int = 128) -> Scene:
    """A through-cloth scene: a lab with the radar tilted 20 degrees down (mmAnomaly sec. 2.1) and a
    co-located RGB-D camera (RealSense-like, 69 degrees HFOV).

    [EST] radar height 1.4 m (not given in the paper); lab 6 x 8.5 m with drywall walls and a wooden
    desk by a side wall; the ladder stands beside the walking area (|x| 1.3-2.2 m, y 2.5-4.5 m), the
    whiteboard faces the radar behind the walking area (y 5.5-7 m) and is also a multipath mirror.
    """
    if environment not in WEAPON_ENVIRONMENTS:
        raise ValueError(f"unknown environment {environment!r}; valid: {', '.join(WEAPON_ENVIRONMENTS)}")
    room = RoomSpec(x_range=(-3.0 - _u(rng, 0, 0.5), 3.0 + _u(rng, 0, 0.5)), y_range=(-0.6, 8.5 + _u(rng, 0, 1.0)),
                    height=_u(rng, 2.7, 3.2))
    rig = SensorRig(radar_height=_u(rng, 1.35, 1.45), radar_tilt_deg=20.0, camera_offset=(0.0, 0.0, 0.08),
                    image_size=(image_size, image_size), hfov_deg=69.0, camera_model="RealSense-like RGB-D")
    side = 1.0 if rng.uniform() < 0.5 else -1.0
    clutter = [ClutterSpec("desk", (side * (room.x_range[1] - 0.35), _u(rng, 3.0, 6.0), 0.0), heading=-side * math.pi / 2,
                           size=(1.2, 0.75, 0.6))]
    mirrors: list[int] = []
    if environment in ("ladder", "ladder_whiteboard"):
        clutter.append(ClutterSpec("ladder", (-side * _u(rng, 1.3, 2.2), _u(rng, 2.5, 4.5), 0.0),
                                   heading=math.pi + _u(rng, -0.5, 0.5), size=(0.45, _u(rng, 1.6, 2.0), 0.05)))
    if environment == "ladder_whiteboard":
        clutter.append(ClutterSpec("whiteboard", (_u(rng, -1.2, 1.2), _u(rng, 5.5, 7.0), _u(rng, 1.1, 1.4)),
                                   heading=math.pi + _u(rng, -0.25, 0.25), size=(_u(rng, 1.2, 1.8), 0.9, 0.02)))
        mirrors.append(len(clutter) - 1)
    return Scene("weapons", environment, room, rig, tuple(clutter), None, True, tuple(mirrors),
                 {"environment": environment, "environment_index": WEAPON_ENVIRONMENTS.index(environment) + 1})


# ----------------------------------------------------------------------------------------------
# mmAnomaly through-wall (wall, fall)
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WallConfig:
    """One through-wall configuration: a wall material and reflectors added in front of it."""

    material: str
    reflectors: tuple[str, ...] = ()
    description: str = ""


WALL_CONFIGS: Mapping[str, WallConfig] = MappingProxyType({
    "wall-1": WallConfig("styrofoam", (), "styrofoam panel"),
    "wall-2": WallConfig("particle_board", (), "particle board"),
    "wall-3": WallConfig("gator_board", (), "gator board"),
    "wall-4": WallConfig("curtain", (), "curtain"),
    "wall-5": WallConfig("styrofoam", ("ladder",), "styrofoam + metal ladder"),
    "wall-6": WallConfig("gator_board", ("poster_board",), "gator board + poster board"),
    "wall-7": WallConfig("particle_board", ("ladder", "poster_board"), "particle board + ladder + poster board"),
})  # fmt: skip
"""mmAnomaly sec. 5.2: seven wall configurations of four materials (curtain, gator board, particle board,
styrofoam) and two reflective objects (a ladder and a poster board). The paper names Wall-1..3 (styrofoam,
particle board, gator board) and "four extended setups with added reflectors"; which material carries
which reflector is not given, so wall-4..7 are our assignment [EST]."""

WALL_POSITIONS: tuple[tuple[float, float], ...] = (
    (-0.8, 2.2), (0.0, 2.2), (0.8, 2.2), (-0.8, 3.4), (0.0, 3.4), (0.8, 3.4),
)
"""The six positions behind the wall (class 1..6; room-frame floor points, m) [EST: the paper has six
predefined positions but gives no coordinates; a 2 x 3 grid 1.2-2.4 m behind a wall 1 m away]."""

WALL_DISTANCE = 1.0
"""Distance from the sensors to the wall's front face (m) [EST]."""


def wall_scene(config: str, rng: np.random.Generator, *, image_size: int = 128) -> Scene:
    """Sensors on a 4-ft tripod (1.22 m), level (mmAnomaly sec. 5.2), facing a wall ``WALL_DISTANCE``
    away; behind it a room 4 m deep. Reflectors stand in front of the wall (visible to the camera):
    the ladder beside the line of sight, the poster board on the wall's face."""
    if config not in WALL_CONFIGS:
        raise ValueError(f"unknown wall configuration {config!r}; valid: {', '.join(WALL_CONFIGS)}")
    wc = WALL_CONFIGS[config]
    from mmsight.sim.materials import get_material

    mat = get_material(wc.material, kind="wall")
    lo, hi = mat.thickness_range_m or (0.01, 0.01)
    d = WALL_DISTANCE + _u(rng, -0.05, 0.05)
    wall = WallSpec(wc.material, distance=d, width=3.0, height=2.4, thickness=_u(rng, lo, hi),
                    contrast=_u(rng, *mat.contrast_range) if mat.contrast_range[0] != mat.contrast_range[1] else 1.0)
    room = RoomSpec(x_range=(-2.0, 2.0), y_range=(-1.0, d + 4.0 + _u(rng, 0.0, 0.5)), height=2.7,
                    walls=("left", "right", "back"), mirrors=("floor", "left", "right", "back"))
    rig = SensorRig(radar_height=1.22, radar_tilt_deg=0.0, camera_offset=(0.0, 0.0, 0.07),
                    image_size=(image_size, image_size), hfov_deg=69.0, camera_model="RealSense-like RGB-D")
    clutter = []
    for r in wc.reflectors:
        if r == "ladder":
            s = 1.0 if rng.uniform() < 0.5 else -1.0
            clutter.append(ClutterSpec("ladder", (s * _u(rng, 0.35, 0.6), d - _u(rng, 0.2, 0.35), 0.0),
                                       heading=math.pi + _u(rng, -0.3, 0.3), size=(0.45, _u(rng, 1.6, 1.9), 0.05)))
        elif r == "poster_board":
            clutter.append(ClutterSpec("poster_board", (_u(rng, -0.4, 0.4), d - 0.01, _u(rng, 1.0, 1.4)),
                                       heading=math.pi, size=(0.9, 0.6, 0.005)))
        else:  # pragma: no cover
            raise AssertionError(r)
    labels = {"wall_type": config, "wall_material": wc.material, "wall_index": list(WALL_CONFIGS).index(config) + 1}
    return Scene("wall", config, room, rig, tuple(clutter), wall, True, (), labels)


# ----------------------------------------------------------------------------------------------
# Mission gait scenes
# ----------------------------------------------------------------------------------------------

GAIT_SCENES: tuple[str, ...] = ("classroom", "corridor", "hall")
"""Mission sec. 4.2: data collected in a classroom, a corridor and a hall."""

# walkable rooms and maximum route view angle per scene [EST: sizes not given in the paper]
_GAIT_ROOMS: Mapping[str, tuple[RoomSpec, float]] = MappingProxyType({
    "classroom": (RoomSpec((-4.0, 4.0), (-0.5, 9.5), 3.0, "drywall", "concrete", "ceiling_tile",
                           ("left", "right", "back"), ("floor", "left", "right", "back")), math.radians(60)),
    "corridor": (RoomSpec((-1.3, 1.3), (-0.5, 14.0), 2.7, "drywall", "concrete", "ceiling_tile",
                          ("left", "right", "back"), ("floor", "left", "right")), math.radians(12)),
    "hall": (RoomSpec((-7.0, 7.0), (-0.5, 15.0), 5.0, "concrete", "concrete", None,
                      ("left", "right", "back"), ("floor",)), math.radians(60)),
})  # fmt: skip


def gait_scene(name: str, rng: np.random.Generator, *, image_size: int = 128) -> Scene:
    """A Mission scene with its sensor rig at one end (radar 0.85 m, camera 0.86 m, level; sec. 4.2).

    The camera is an Azure Kinect colour camera (90 degrees HFOV at 720p; rendered square here).
    Clutter [EST]: classroom desks and chairs in rows at the sides, a steel cabinet at the back; a
    corridor with a metal cabinet against a wall; a hall with two concrete pillars.
    ``labels["max_view_angle"]`` bounds the routes that fit the scene.
    """
    if name not in _GAIT_ROOMS:
        raise ValueError(f"unknown gait scene {name!r}; valid: {', '.join(GAIT_SCENES)}")
    room, max_angle = _GAIT_ROOMS[name]
    rig = SensorRig(radar_height=0.85, radar_tilt_deg=0.0, camera_offset=(0.0, 0.0, 0.01),
                    image_size=(image_size, image_size), hfov_deg=90.0, camera_model="Azure Kinect colour (square crop)")
    clutter: list[ClutterSpec] = []
    if name == "classroom":
        for s in (-1.0, 1.0):
            for y in (3.0, 5.0, 7.0):
                if rng.uniform() < 0.8:
                    x = s * _u(rng, 2.6, 3.2)
                    clutter.append(ClutterSpec("desk", (x, y + _u(rng, -0.2, 0.2), 0.0), heading=math.pi))
                    if rng.uniform() < 0.7:
                        clutter.append(ClutterSpec("chair", (x, y + 0.55, 0.0), heading=math.pi))
        clutter.append(ClutterSpec("cabinet", (_u(rng, -2.5, 2.5), room.y_range[1] - 0.3, 0.0), heading=math.pi))
    elif name == "corridor":
        s = 1.0 if rng.uniform() < 0.5 else -1.0
        clutter.append(ClutterSpec("cabinet", (s * (room.x_range[1] - 0.25), _u(rng, 5.0, 10.0), 0.0),
                                   heading=-s * math.pi / 2, size=(0.9, 1.8, 0.45)))
    else:
        for s in (-1.0, 1.0):
            clutter.append(ClutterSpec("pillar", (s * _u(rng, 3.5, 5.0), _u(rng, 6.0, 11.0), 0.0), size=(0.5, 5.0, 0.5)))
    return Scene("gait", name, room, rig, tuple(clutter), None, True, (),
                 {"scene": name, "scene_index": GAIT_SCENES.index(name), "max_view_angle": max_angle})


# ----------------------------------------------------------------------------------------------
# MARS-style rehab
# ----------------------------------------------------------------------------------------------

REHAB_ENVIRONMENTS: tuple[str, ...] = ("lab", "living_room", "clinic", "gym")
"""Four rehab environments [EST: MARS was recorded in one lab; the other three are ours]."""
REHAB_FRONT_LATERAL: tuple[float, float] = (0.10, 0.22)
"""Range (m, uniform) of the subject's offset to the radar's right in the ``front`` position (MARS)."""
REHAB_RADAR_POSITIONS: tuple[str, ...] = ("front", "elevated")
"""Two radar placements [EST]: ``front`` 1.0 m high, level, 1.8-2.2 m in front of the subject, who stands
0.10-0.22 m right of the boresight as seen from the radar (MARS: the Kinect SpineBase is 1.72-2.07 m
from the radar, 10th-90th percentile, 0.15-0.21 m right of the boresight, and the feet ~0.93 m below
it); ``elevated`` 1.8 m high, 15 degrees down, 30 degrees to the side."""


def rehab_scene(environment: str, radar_position: str, rng: np.random.Generator, *, image_size: int = 128,
                distance_range: tuple[float, float] = (1.8, 2.2)) -> Scene:
    """A rehab scene; the subject stands at the room point ``labels["subject_xy"]`` facing
    ``labels["subject_heading"]`` (towards the radar), ``distance_range`` (m, uniform) from the radar."""
    if environment not in REHAB_ENVIRONMENTS:
        raise ValueError(f"unknown rehab environment {environment!r}; valid: {', '.join(REHAB_ENVIRONMENTS)}")
    if radar_position not in REHAB_RADAR_POSITIONS:
        raise ValueError(f"unknown radar position {radar_position!r}; valid: {', '.join(REHAB_RADAR_POSITIONS)}")
    dist = _u(rng, *distance_range)
    subject = (0.0, dist)
    if radar_position == "front":
        # MARS's subjects stood 0.15-0.21 m to the right of the radar's boresight (Kinect SpineBase x,
        # 10th-90th percentile over the arm movements 1-3), facing along it (their shoulder line is
        # square to the boresight to within a degree)
        subject = (_u(rng, *REHAB_FRONT_LATERAL), dist)
        rig = SensorRig(radar_height=1.0, radar_tilt_deg=0.0, camera_offset=(0.0, 0.0, 0.1),
                        image_size=(image_size, image_size), hfov_deg=84.0, camera_model="Kinect V2-like RGB-D")
    else:
        yaw = 30.0 if rng.uniform() < 0.5 else -30.0
        # the radar stands to the side so that its boresight (yawed by -yaw) meets the subject
        r = dist
        xy = (-r * math.sin(math.radians(yaw)), dist - r * math.cos(math.radians(yaw)))
        rig = SensorRig(radar_xy=xy, radar_height=1.8, radar_tilt_deg=15.0, radar_yaw_deg=yaw,
                        camera_offset=(0.0, 0.0, 0.1), image_size=(image_size, image_size), hfov_deg=84.0,
                        camera_model="Kinect V2-like RGB-D")
    room_specs = {
        "lab": RoomSpec((-3.0, 3.0), (-1.0, 6.0), 3.0),
        "living_room": RoomSpec((-2.5, 2.5), (-1.0, 4.5), 2.5, "drywall", "plywood"),
        "clinic": RoomSpec((-2.5, 3.0), (-1.0, 5.0), 2.8, "drywall", "concrete"),
        "gym": RoomSpec((-4.0, 4.0), (-1.0, 7.0), 3.5, "concrete", "concrete", None),
    }
    room = room_specs[environment]
    clutter: list[ClutterSpec] = []
    back = room.y_range[1]
    if environment == "lab":
        clutter.append(ClutterSpec("desk", (_u(rng, -2.0, 2.0), back - 0.4, 0.0), heading=math.pi))
    elif environment == "living_room":
        clutter.append(ClutterSpec("sofa", (_u(rng, -0.8, 0.8), back - 0.45, 0.0), heading=math.pi))
        clutter.append(ClutterSpec("desk", (_u(rng, 1.3, 1.8), dist + _u(rng, -0.5, 0.8), 0.0), heading=math.pi,
                                   size=(0.8, 0.45, 0.5)))
    elif environment == "clinic":
        clutter.append(ClutterSpec("bed", (_u(rng, 1.6, 2.1), dist + _u(rng, 0.0, 1.0), 0.0), heading=math.pi,
                                   size=(0.9, 0.55, 2.0)))
        clutter.append(ClutterSpec("cabinet", (_u(rng, -2.0, -1.2), back - 0.3, 0.0), heading=math.pi))
    else:
        clutter.append(ClutterSpec("shelf", (_u(rng, -3.0, -1.5), back - 0.25, 0.0), heading=math.pi))
        clutter.append(ClutterSpec("shelf", (_u(rng, 1.5, 3.0), back - 0.25, 0.0), heading=math.pi))
        clutter.append(ClutterSpec("whiteboard", (_u(rng, -1.0, 1.0), back - 0.02, 1.2), heading=math.pi,
                                   size=(1.6, 1.0, 0.02), name="mirror"))
    to_radar = np.subtract(rig.radar_xy, subject)
    heading = float(math.atan2(to_radar[0], to_radar[1]))  # the subject faces the radar
    if radar_position == "front":
        heading = math.pi  # ... or, in front of it, along its boresight (as in MARS)
    return Scene("rehab", f"{environment}/{radar_position}", room, rig, tuple(clutter), None, True, (),
                 {"environment": environment, "radar_position": radar_position, "subject_xy": subject,
                  "subject_heading": heading})


def sample_scene(family: str, condition: str, rng: np.random.Generator | int, **kwargs: Any) -> Scene:
    """Dispatch to the family's sampler (``rehab`` conditions are ``"<environment>/<radar position>"``)."""
    g = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    if family == "weapons":
        return weapons_scene(condition, g, **kwargs)
    if family in ("wall", "fall"):
        return wall_scene(condition, g, **kwargs)
    if family == "gait":
        return gait_scene(condition, g, **kwargs)
    if family == "rehab":
        env, pos = condition.split("/")
        return rehab_scene(env, pos, g, **kwargs)
    raise ValueError(f"unknown scene family {family!r}; valid: weapons, wall, fall, gait, rehab")
