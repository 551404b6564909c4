"""Scene -> radar frames: people, carried objects, static reflectors, a wall and multipath.

A :class:`RadarScene` holds everything in the **room frame** (floor at ``z = 0``, axes of a level radar,
see :mod:`mmsight.sim.skeleton`) plus the radar pose ``T_room_from_radar`` (:func:`radar_mount`; the
mmAnomaly radar is tilted 20 degrees down). :func:`scene_scatterers` turns one frame into point
scatterers in the **radar frame**; :func:`render_radar_frames` feeds them to
:func:`mmsight.radar.simulate_adc` and a :class:`mmsight.radar.SignalChain`.

Paths and losses (radar-physics.md 4 and 6; ``docs/sim_radar.md``):

* **direct**: every body facet and object primitive from :func:`mmsight.sim.scattering.body_scatterers`
  (other people and the static reflectors occlude), every static reflector primitive.
* **wall between radar and scene** (:attr:`RadarScene.wall`, a :class:`Surface` with a wall material):
  each leg of a path that crosses it is multiplied by the slab's one-way power transmission at that
  leg's incidence angle (ITU-R P.2040 slab model with all internal bounces, averaged over the chirp
  band; the oblique path length through the slab is part of the slab model), i.e. the two-way loss
  for a direct path. The wall's own specular reflection is one static scatterer at the foot of the
  perpendicular from the radar with ``sigma = |R|^2 pi d^2`` (image of the radar in a mirror at
  distance ``d``: an infinite plane returns the power of a point target of that RCS).
* **multipath** (first-order image sources on :attr:`RadarScene.surfaces`, and on the wall for targets
  on the radar's side of it): for a target ``P`` with image ``P'`` in a plane of power reflection
  ``|Gamma|^2`` (at the bounce angle),

  - double bounce R->W->P->W->R: a ghost at ``P'`` moving with the mirrored velocity, RCS
    ``sigma |Gamma|^4``;
  - single bounce R->P->W->R and R->W->P->R (equal lengths): two ghosts at range ``(|RP| + |RP'|) / 2``,
    one in the direction of ``P`` and one in that of ``P'`` (the bistatic TX/RX directions of the two
    paths), radial velocity ``(v . u_P + v' . u_P') / 2``, RCS ``sigma |Gamma|^2`` each.

  Each ghost path looks at the target from its own viewpoint (:func:`ghost_viewpoint`): the double
  bounce from the radar's mirror image (exact image theory, with its own visibility: the ghost of a
  person shows the side that faces the mirror), the single bounce from a virtual monostatic radar on
  the bisector of its two legs (the bistatic RCS is approximated by the monostatic RCS at the
  bisector). Ghost paths are not occluded on their legs, their RCS fluctuation (if any) is drawn
  independently of the direct path's, and (by default) they are made per body segment / object
  (RCS-weighted centroid and motion, summed RCS) from a coarser facet set rather than per facet.
* **static reflectors** (:class:`StaticReflector`: whiteboard, ladder, metal cabinet, table, corner):
  PEC primitives of :mod:`mmsight.sim.objects`. Large flat parts are in the radar's near field, where
  the far-field PO peak does not apply: a plate (or disc) whose plane's foot point from the radar lies
  on it returns ``min(PO peak, pi d^2)`` from that specular point (mirror), a cylinder whose axis'
  foot point lies on it ``min(PO peak, pi a d)`` (line mirror); otherwise the far-field PO pattern.

Scatterers behind the antenna plane (radar-frame ``y <= 0``) or beyond the configuration's maximum
range are dropped; antenna element patterns are not modelled (the forward model is isotropic).
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Mapping, Sequence

import numpy as np

from mmsight.sim.body import SEGMENT_NAMES, PosedBody
from mmsight.sim.materials import Material, MaterialInstance, get_material
from mmsight.sim.objects import Cylinder, Dihedral, Disc, Plate, Primitive, Sphere
from mmsight.sim.scattering import (
    KIND_BODY,
    KIND_CLUTTER,
    KIND_WALL,
    PATH_DOUBLE,
    PATH_SINGLE,
    CarriedObject,
    Clothing,
    FacetModel,
    Fluctuation,
    Scatterers,
    as_clothing,
    chirp_times,
    invert_transform,
    occluded,
    person_geometry,
    person_scatterers_room,
    person_scatterers_views,
    radar_mount,
    slab_reflection,
    slab_transmission,
)

if TYPE_CHECKING:  # pragma: no cover
    from mmsight.radar import FrameProducts, RadarConfig, SignalChain
    from mmsight.sim.geometry import SceneGeometry

__all__ = [
    "Person",
    "RadarScene",
    "StaticReflector",
    "Surface",
    "ghost_viewpoint",
    "multipath_ghosts",
    "radar_mount",
    "render_radar_frames",
    "render_scatterers",
    "scene_scatterers",
]

_C0 = 299_792_458.0
_THORAX = SEGMENT_NAMES.index("thorax")


def _unit(v: Sequence[float] | np.ndarray, what: str) -> np.ndarray:
    a = np.asarray(v, dtype=np.float64).reshape(3)
    n = float(np.linalg.norm(a))
    if not math.isfinite(n) or n == 0:
        raise ValueError(f"{what} must be a finite non-zero 3-vector, got {v!r}")
    return a / n


def _inst(m: str | Material | MaterialInstance) -> MaterialInstance:
    return m if isinstance(m, MaterialInstance) else get_material(m).nominal_instance()


# ----------------------------------------------------------------------------------------------
# scene description
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    """One person in the scene.

    Attributes:
        body: posed body over the scene's frames (room frame).
        clothing: garments (see :func:`mmsight.sim.scattering.as_clothing`); None = bare skin.
        objects: concealed objects carried.
        skin: skin material instance (per-person reflectivity); None = nominal.
        fluctuation: per-frame RCS fluctuation (overrides :attr:`RadarScene.fluctuation`).
        frame_period: s between frames when ``body.times`` is None.
        object_poses: optional ``T_room_from_object`` of each object at each of the body's frames
            (``[n_frames, 4, 4]`` per object), when the caller has them already (a renderer that
            poses a whole sequence at once); None: computed from the body frame by frame.
    """

    body: PosedBody
    clothing: Clothing | str | Material | MaterialInstance | Mapping[str, object] | None = None
    objects: tuple[CarriedObject, ...] = ()
    skin: MaterialInstance | None = None
    fluctuation: Fluctuation | None = None
    frame_period: float | None = None
    object_poses: tuple[np.ndarray, ...] | None = None


@dataclass(frozen=True)
class Surface:
    """A flat surface: a wall in front of the scene or a multipath reflector (room frame).

    Attributes:
        name: label.
        point: [3] a point of the plane, m. normal: [3] plane normal (either side).
        material: wall material (instance, material or name): slab transmission and reflection;
            None needs ``reflection_db``.
        reflection_db: fixed power reflection (dB) overriding the material's (angle-independent).
        u_axis: [3] in-plane direction of ``half_size[0]`` (None: infinite plane).
        half_size: (half width along ``u_axis``, half height along ``normal x u_axis``), m.
    """

    name: str
    point: tuple[float, float, float]
    normal: tuple[float, float, float]
    material: str | Material | MaterialInstance | None = None
    reflection_db: float | None = None
    u_axis: tuple[float, float, float] | None = None
    half_size: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.material is None and self.reflection_db is None:
            raise ValueError(f"surface {self.name!r} needs a material or reflection_db")
        if (self.u_axis is None) != (self.half_size is None):
            raise ValueError(f"surface {self.name!r}: give both u_axis and half_size, or neither")
        _unit(self.normal, "normal")

    # -- constructors (room frame) --------------------------------------------------------
    @classmethod
    def floor(cls, material: str | Material | MaterialInstance = "concrete", z: float = 0.0) -> Surface:
        """The floor plane ``z = z`` (infinite)."""
        return cls("floor", (0.0, 0.0, z), (0.0, 0.0, 1.0), material)

    @classmethod
    def wall_x(cls, x: float, material: str | Material | MaterialInstance = "drywall", name: str = "") -> Surface:
        """A side wall, the plane ``x = x`` (infinite)."""
        return cls(name or f"wall_x{x:+.2f}", (x, 0.0, 0.0), (1.0, 0.0, 0.0), material)

    @classmethod
    def wall_y(
        cls, y: float, material: str | Material | MaterialInstance = "drywall", *, width: float | None = None,
        height: float | None = None, center_x: float = 0.0, name: str = "",
    ) -> Surface:
        """A wall across the boresight, the plane ``y = y``; finite (``width`` x ``height`` from the
        floor, centred at ``center_x``) or infinite."""
        if (width is None) != (height is None):
            raise ValueError("give both width and height, or neither")
        label = name or f"wall_y{y:+.2f}"
        if width is None or height is None:
            return cls(label, (center_x, y, 0.0), (0.0, 1.0, 0.0), material)
        return cls(label, (center_x, y, 0.5 * height), (0.0, 1.0, 0.0), material, u_axis=(1.0, 0.0, 0.0),
                   half_size=(0.5 * width, 0.5 * height))

    # -- geometry -------------------------------------------------------------------------
    @property
    def n(self) -> np.ndarray:
        """[3] unit normal (computed once per surface; read-only)."""
        n = self.__dict__.get("_n")
        if n is None:
            n = _unit(self.normal, "normal")
            n.setflags(write=False)
            self.__dict__["_n"] = n
        return n

    @property
    def q(self) -> np.ndarray:
        q = self.__dict__.get("_q")
        if q is None:
            q = np.asarray(self.point, dtype=np.float64)
            q.setflags(write=False)
            self.__dict__["_q"] = q
        return q

    def signed_distance(self, points: np.ndarray) -> np.ndarray:
        """[...] m, positive on the side ``normal`` points to."""
        return (np.asarray(points, dtype=np.float64) - self.q) @ self.n

    def contains(self, points: np.ndarray) -> np.ndarray:
        """[...] bool: in-plane points within the extent (always True for an infinite plane)."""
        p = np.asarray(points, dtype=np.float64)
        if self.u_axis is None:
            return np.ones(p.shape[:-1], dtype=bool)
        uv = self.__dict__.get("_uv")
        if uv is None:
            n = self.n
            u = np.asarray(self.u_axis, dtype=np.float64)
            u = _unit(u - (u @ n) * n, "u_axis")
            uv = self.__dict__["_uv"] = (u, np.cross(n, u))
        u, v = uv
        rel = p - self.q
        assert self.half_size is not None
        hu, hv = self.half_size
        return (np.abs(rel @ u) <= hu) & (np.abs(rel @ v) <= hv)

    def mirror(self, points: np.ndarray) -> np.ndarray:
        """Image of points in the plane."""
        p = np.asarray(points, dtype=np.float64)
        return p - 2.0 * self.signed_distance(p)[..., None] * self.n

    def mirror_vector(self, vectors: np.ndarray) -> np.ndarray:
        v = np.asarray(vectors, dtype=np.float64)
        return v - 2.0 * (v @ self.n)[..., None] * self.n

    # -- electromagnetics -----------------------------------------------------------------
    def reflection(self, freq_hz: float, angles: np.ndarray | float, bandwidth_hz: float = 0.0) -> np.ndarray:
        """Specular power reflection (linear) at incidence ``angles`` (rad from the normal)."""
        if self.reflection_db is not None:
            return np.full(np.shape(angles), 10.0 ** (self.reflection_db / 10.0))
        assert self.material is not None
        return slab_reflection(self._instance(), freq_hz, angles, bandwidth_hz)

    def _instance(self) -> MaterialInstance:
        """The material instance (a name or material resolved once per surface)."""
        inst = self.__dict__.get("_inst")
        if inst is None:
            assert self.material is not None
            inst = self.__dict__["_inst"] = _inst(self.material)
        return inst

    def transmission(self, freq_hz: float, angles: np.ndarray | float, bandwidth_hz: float = 0.0) -> np.ndarray:
        """One-way power transmission (linear) at incidence ``angles`` (rad); 0 without a material."""
        if self.material is None:
            return np.zeros(np.shape(angles))
        return slab_transmission(self._instance(), freq_hz, angles, bandwidth_hz)

    def leg_transmission(self, a: np.ndarray, b: np.ndarray, freq_hz: float, bandwidth_hz: float = 0.0) -> np.ndarray:
        """[N] one-way power factor of the straight legs ``a -> b`` ([N, 3] or [3] each): the slab
        transmission at the leg's incidence angle where the leg crosses the surface, else 1."""
        a = np.asarray(a, dtype=np.float64)
        b = np.asarray(b, dtype=np.float64)
        sa, sb = self.signed_distance(a), self.signed_distance(b)
        sa, sb = np.broadcast_arrays(sa, sb)
        cross = (sa * sb) < 0
        out = np.ones(sa.shape)
        if not np.any(cross):
            return out
        a_b, b_b = np.broadcast_to(a, sa.shape + (3,)), np.broadcast_to(b, sb.shape + (3,))
        frac = np.where(cross, sa / np.where(cross, sa - sb, 1.0), 0.0)
        hit = a_b + frac[..., None] * (b_b - a_b)
        cross &= self.contains(hit)
        d = b_b - a_b
        cos_i = np.abs(d @ self.n) / np.maximum(np.linalg.norm(d, axis=-1), 1e-12)
        ang = np.arccos(np.clip(cos_i, 0.0, 1.0))
        return np.where(cross, self.transmission(freq_hz, ang, bandwidth_hz), 1.0)


def _frame_from(center: Sequence[float], facing: Sequence[float], up: Sequence[float] = (0.0, 0.0, 1.0)) -> np.ndarray:
    """``T_room_from_object`` with object z = ``facing`` (outward normal), y = ``up`` made orthogonal."""
    z = _unit(facing, "facing")
    u = _unit(up, "up")
    x = np.cross(u, z)
    if np.linalg.norm(x) < 1e-6:
        x = np.cross(np.array([0.0, 1.0, 0.0]), z)
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    m = np.eye(4)
    m[:3, :3] = np.stack([x, y, z], axis=1)
    m[:3, 3] = np.asarray(center, dtype=np.float64)
    return m


@dataclass(frozen=True)
class StaticReflector:
    """A static object made of PEC primitives (room furniture, ladders, whiteboards).

    Attributes:
        name: label.
        primitives: :mod:`mmsight.sim.objects` primitives in the object frame (m).
        pose: ``T_room_from_object`` [4, 4].
        box_center, box_size: optional occluding box in the object frame (m); None = does not
            occlude (see-through structures such as a ladder).
        reflectivity: power factor applied to every primitive (1 = metal).
    """

    name: str
    primitives: tuple[Primitive, ...]
    pose: np.ndarray
    box_center: tuple[float, float, float] | None = None
    box_size: tuple[float, float, float] | None = None
    reflectivity: float = 1.0

    # -- constructors (room frame; ``facing`` = outward normal of the front face) -----------
    @classmethod
    def whiteboard(
        cls, center: Sequence[float], facing: Sequence[float] = (0.0, -1.0, 0.0), width: float = 1.2,
        height: float = 0.9, name: str = "whiteboard",
    ) -> StaticReflector:
        """Porcelain-on-steel whiteboard: one metal plate (|R|^2 ~ 0 dB, radar-physics.md 6)."""
        plate = Plate("board", (0.0, 0.0, 0.0), (0.0, 0.0, 1.0), (1.0, 0.0, 0.0), width, height, two_sided=False)
        return cls(name, (plate,), _frame_from(center, facing), (0.0, 0.0, -0.01), (width, height, 0.02))

    @classmethod
    def ladder(
        cls, base_center: Sequence[float], facing: Sequence[float] = (0.0, -1.0, 0.0), height: float = 1.8,
        width: float = 0.45, n_rungs: int = 6, rail_radius: float = 0.015, rung_radius: float = 0.012,
        name: str = "ladder",
    ) -> StaticReflector:
        """Upright metal ladder: two rails and ``n_rungs`` rungs as PEC cylinders (radar-physics.md 6)."""
        c = np.asarray(base_center, dtype=np.float64) + np.array([0.0, 0.0, height / 2])
        prims: list[Primitive] = [
            Cylinder("rail_left", (-width / 2, 0.0, 0.0), (0.0, 1.0, 0.0), rail_radius, height),
            Cylinder("rail_right", (width / 2, 0.0, 0.0), (0.0, 1.0, 0.0), rail_radius, height),
        ]
        for k in range(n_rungs):
            y = -height / 2 + (k + 1) * height / (n_rungs + 1)
            prims.append(Cylinder(f"rung{k}", (0.0, y, 0.0), (1.0, 0.0, 0.0), rung_radius, width))
        return cls(name, tuple(prims), _frame_from(c, facing))

    @classmethod
    def cabinet(
        cls, base_center: Sequence[float], facing: Sequence[float] = (0.0, -1.0, 0.0), width: float = 0.9,
        height: float = 1.8, depth: float = 0.45, name: str = "cabinet",
    ) -> StaticReflector:
        """Metal cabinet / locker: front, side and top faces as one-sided PEC plates, occluding box."""
        c = np.asarray(base_center, dtype=np.float64) + np.array([0.0, 0.0, height / 2])
        d2 = depth / 2
        prims: tuple[Primitive, ...] = (
            Plate("front", (0.0, 0.0, d2), (0.0, 0.0, 1.0), (1.0, 0.0, 0.0), width, height, two_sided=False),
            Plate("side_pos", (width / 2, 0.0, 0.0), (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), height, depth, False),
            Plate("side_neg", (-width / 2, 0.0, 0.0), (-1.0, 0.0, 0.0), (0.0, 1.0, 0.0), height, depth, False),
            Plate("top", (0.0, height / 2, 0.0), (0.0, 1.0, 0.0), (1.0, 0.0, 0.0), width, depth, two_sided=False),
        )
        return cls(name, prims, _frame_from(c, facing), (0.0, 0.0, 0.0), (width, height, depth))

    @classmethod
    def table(
        cls, center_top: Sequence[float], width: float = 1.2, depth: float = 0.7, leg_radius: float = 0.02,
        name: str = "table",
    ) -> StaticReflector:
        """Metal table: a horizontal top plate (two-sided) at the given height and four legs."""
        c = np.asarray(center_top, dtype=np.float64)
        h = float(c[2])
        prims: list[Primitive] = [Plate("top", (0.0, 0.0, 0.0), (0.0, 0.0, 1.0), (1.0, 0.0, 0.0), width, depth)]
        for sx in (-1, 1):
            for sy in (-1, 1):
                prims.append(Cylinder(f"leg{sx:+d}{sy:+d}", (sx * (width / 2 - 0.05), sy * (depth / 2 - 0.05), -h / 2),
                                      (0.0, 0.0, 1.0), leg_radius, h))
        pose = np.eye(4)
        pose[:3, 3] = c
        return cls(name, tuple(prims), pose, (0.0, 0.0, -0.01), (width, depth, 0.02))

    @classmethod
    def corner(
        cls, center: Sequence[float], fold_axis: Sequence[float] = (0.0, 0.0, 1.0),
        bisector: Sequence[float] = (0.0, -1.0, 0.0), fold_length: float = 0.3, face_width: float = 0.2,
        name: str = "corner",
    ) -> StaticReflector:
        """A 90-degree metal dihedral (room frame axes)."""
        f = tuple(float(x) for x in fold_axis)
        b = tuple(float(x) for x in bisector)
        prim = Dihedral("dihedral", (0.0, 0.0, 0.0), (f[0], f[1], f[2]), (b[0], b[1], b[2]), fold_length, face_width)
        pose = np.eye(4)
        pose[:3, 3] = np.asarray(center, dtype=np.float64)
        return cls(name, (prim,), pose)

    @classmethod
    def sphere(cls, center: Sequence[float], radius: float = 0.05, name: str = "sphere") -> StaticReflector:
        """A metal sphere (isotropic ``pi r^2``; a calibration target)."""
        pose = np.eye(4)
        pose[:3, 3] = np.asarray(center, dtype=np.float64)
        return cls(name, (Sphere("sphere", (0.0, 0.0, 0.0), radius),), pose)

    # -- scattering -----------------------------------------------------------------------
    def scatterers(self, radar_position: np.ndarray, freq_hz: float) -> tuple[np.ndarray, np.ndarray]:
        """Positions [K, 3] (room frame, m) and RCS [K] (m^2) seen from ``radar_position`` (room frame),
        near-field aware (module docstring)."""
        lam = _C0 / float(freq_hz)
        r_obj = self.pose[:3, :3]
        t_obj = self.pose[:3, 3]
        radar_l = r_obj.T @ (np.asarray(radar_position, dtype=np.float64) - t_obj)  # radar in the object frame
        pos, rcs = [], []
        for p in self.primitives:
            c = np.asarray(p.center, dtype=np.float64)
            to_r = radar_l - c
            dist = float(np.linalg.norm(to_r))
            d = to_r / max(dist, 1e-9)
            far = float(p.rcs(d[None], lam)[0])
            where, sig = c, far
            if isinstance(p, (Plate, Disc)):
                if isinstance(p, Plate):
                    u, v, n = p.frame()
                else:
                    n = _unit(p.normal, "disc normal")
                    u = np.cross(n, [1.0, 0.0, 0.0] if abs(n[0]) < 0.9 else [0.0, 1.0, 0.0])
                    u /= np.linalg.norm(u)
                    v = np.cross(n, u)
                h = float(to_r @ n)
                foot = radar_l - h * n
                rel = foot - c
                if isinstance(p, Plate):
                    on = abs(rel @ u) <= p.length_u / 2 and abs(rel @ v) <= p.length_v / 2
                else:
                    on = float(np.linalg.norm(rel)) <= p.radius
                if on and (p.two_sided or h > 0):
                    where, sig = foot, min(p.peak_rcs(lam), math.pi * h * h)
            elif isinstance(p, Cylinder):
                ax = _unit(p.axis, "cylinder axis")
                s = float(to_r @ ax)
                if abs(s) <= p.length / 2:
                    perp = to_r - s * ax
                    dperp = float(np.linalg.norm(perp))
                    if dperp > p.radius:
                        where = c + s * ax + p.radius * perp / dperp
                        sig = min(p.peak_rcs(lam), math.pi * p.radius * (dperp - p.radius))
            elif isinstance(p, Sphere):
                where = c + p.radius * d  # the specular point
            else:
                sig = min(far, math.pi * dist * dist)
            pos.append(where)
            rcs.append(sig * self.reflectivity)
        local = np.array(pos).reshape(-1, 3)
        return local @ r_obj.T + t_obj, np.array(rcs, dtype=np.float64)

    def box(self) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """Occluding box (centre [3], axes [3, 3], half extents [3]) in the room frame, or None."""
        if self.box_size is None:
            return None
        c = np.asarray(self.box_center or (0.0, 0.0, 0.0), dtype=np.float64)
        half = 0.5 * np.asarray(self.box_size, dtype=np.float64)
        return self.pose[:3, :3] @ c + self.pose[:3, 3], self.pose[:3, :3], half


@dataclass(frozen=True)
class RadarScene:
    """What the radar sees (room frame) and where the radar is.

    Attributes:
        radar_pose: ``T_room_from_radar`` [4, 4] (:func:`radar_mount`).
        people: the people (their bodies share the frame index).
        clutter: static reflectors.
        wall: optional wall between the radar and the scene (through-wall sensing).
        surfaces: multipath reflectors (floor, side walls, ...).
        multipath: add first-order image-source ghosts.
        multipath_paths: which ghosts: ``"single"`` (half ghosts) and/or ``"double"`` (full ghosts).
        wall_multipath: the wall also acts as a multipath mirror for targets on the radar's side.
        wall_return: include the wall's own specular return.
        ghost_detail: ``"segment"`` (one ghost per body segment / object primitive group) or
            ``"facet"`` (one per scatterer; slower).
        ghost_sources: kinds that get ghosts (:data:`mmsight.sim.scattering.KIND_NAMES`).
        facets: facet model of the bodies.
        ghost_facets: coarser facet model used to find the ghost sources when ``ghost_detail`` is
            ``"segment"`` (only each segment's summed RCS and RCS-weighted centroid are kept).
        fluctuation: default per-frame RCS fluctuation of the bodies (None: off).
        garment_reflection: add garments' own specular reflection.
        min_rcs: drop scatterers weaker than this (m^2) before rendering.
    """

    radar_pose: np.ndarray
    people: tuple[Person, ...] = ()
    clutter: tuple[StaticReflector, ...] = ()
    wall: Surface | None = None
    surfaces: tuple[Surface, ...] = ()
    multipath: bool = False
    multipath_paths: tuple[str, ...] = ("single", "double")
    wall_multipath: bool = True
    wall_return: bool = True
    ghost_detail: Literal["segment", "facet"] = "segment"
    ghost_sources: tuple[str, ...] = ("body", "object")
    facets: FacetModel = field(default_factory=FacetModel)
    ghost_facets: FacetModel = field(default_factory=lambda: FacetModel(n_specular=8, n_diffuse=4))
    fluctuation: Fluctuation | None = None
    garment_reflection: bool = True
    min_rcs: float = 1e-9

    def __post_init__(self) -> None:
        m = np.asarray(self.radar_pose, dtype=np.float64)
        invert_transform(m)  # validates
        object.__setattr__(self, "radar_pose", m)
        object.__setattr__(self, "people", tuple(self.people))
        object.__setattr__(self, "clutter", tuple(self.clutter))
        object.__setattr__(self, "surfaces", tuple(self.surfaces))
        bad = [p for p in self.multipath_paths if p not in ("single", "double")]
        if bad:
            raise ValueError(f"multipath_paths entries must be 'single' or 'double', got {bad}")
        if self.ghost_detail not in ("segment", "facet"):
            raise ValueError(f"ghost_detail must be 'segment' or 'facet', got {self.ghost_detail!r}")

    @property
    def radar_position(self) -> np.ndarray:
        """[3] m, room frame."""
        return self.radar_pose[:3, 3].copy()

    @property
    def n_frames(self) -> int:
        """Frames common to all people (1 for a scene without people)."""
        return min((p.body.n_frames for p in self.people), default=1)


# ----------------------------------------------------------------------------------------------
# scatterers of a frame
# ----------------------------------------------------------------------------------------------


class _IdentityMemo:
    """A small cache keyed by object identity (the objects are kept alive and compared with ``is``), for
    per-sequence constants of frozen scene parts that hold arrays (not hashable)."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self.items: dict[tuple[object, ...], tuple[tuple[object, ...], object]] = {}

    def get(self, objs: tuple[object, ...], extra: tuple[object, ...], make: object) -> object:
        key = tuple(id(o) for o in objs) + extra
        hit = self.items.get(key)
        if hit is not None and all(a is b for a, b in zip(hit[0], objs)):
            return hit[1]
        if len(self.items) >= self.size:
            self.items.clear()
        value = make()  # type: ignore[operator]
        self.items[key] = (objs, value)
        return value


_CLUTTER_GEO = _IdentityMemo(16)
_CLUTTER_SCATTER = _IdentityMemo(256)


def _clutter_geometry(scene: RadarScene) -> tuple[SceneGeometry, np.ndarray]:
    """SceneGeometry of the clutter boxes (object_id 100 + k) and [K] global box index per reflector (-1)
    (built once per clutter tuple: the reflectors are static)."""
    return _CLUTTER_GEO.get((scene.clutter,), (), lambda: _build_clutter_geometry(scene))  # type: ignore[return-value]


def _build_clutter_geometry(scene: RadarScene) -> tuple[SceneGeometry, np.ndarray]:
    from mmsight.sim.geometry import Boxes, SceneGeometry

    geo = SceneGeometry()
    index = np.full(len(scene.clutter), -1, np.int64)
    for k, c in enumerate(scene.clutter):
        b = c.box()
        if b is None:
            continue
        index[k] = len(geo)
        geo = geo.add(Boxes(b[0][None], b[1][None], b[2][None]), material="metal", kind="clutter",
                      object_id=100 + k, names=[c.name])
    return geo, index


def _group_ghost_sources(s: Scatterers) -> Scatterers:
    """One scatterer per (person, kind, segment, source): RCS-weighted centroid and motion, summed RCS."""
    return _group_ghost_sources_many([s])[0]


def _group_ghost_sources_many(parts: Sequence[Scatterers]) -> list[Scatterers]:
    """:func:`_group_ghost_sources` of several scatterer sets (one per ghost job) in one pass."""
    sizes = [len(p) for p in parts]
    s = Scatterers.concatenate(list(parts))
    if len(s) == 0:
        return [p if len(p) == 0 else Scatterers.empty() for p in parts]
    job = np.repeat(np.arange(len(parts), dtype=np.int64), sizes)
    # one int64 key per (job, person, kind, segment, source), ordered as the rows' lexicographic order
    key = ((((job * 65536 + s.person.astype(np.int64) + 1) * 8 + s.kind) * 64 + (s.segment.astype(np.int64) + 1))
           * 65537 + (s.source.astype(np.int64) + 1))
    uniq, inv = np.unique(key, return_inverse=True)
    inv = inv.reshape(-1)
    g = len(uniq)
    w = np.bincount(inv, weights=s.rcs, minlength=g)
    safe = np.where(w > 0, w, 1.0)

    def avg(a: np.ndarray) -> np.ndarray:
        sums = [np.bincount(inv, weights=a[:, k] * s.rcs, minlength=g) for k in range(3)]
        return np.stack(sums, axis=1) / safe[:, None]

    first = np.zeros(g, dtype=np.int64)
    first[inv[::-1]] = np.arange(len(s))[::-1]
    grouped = Scatterers(
        positions=avg(s.positions), velocities=avg(s.velocities), rcs=w, segment=s.segment[first], kind=s.kind[first],
        person=s.person[first], source=s.source[first], path=s.path[first], normals=np.zeros((g, 3)),
        accelerations=avg(s.accelerations),
    )
    if len(parts) == 1:
        return [grouped]
    bounds = np.searchsorted(job[first], np.arange(len(parts) + 1))
    return [grouped.select(slice(bounds[j], bounds[j + 1])) for j in range(len(parts))]


def ghost_viewpoint(surface: Surface, radar_position: np.ndarray, target: np.ndarray, path: str) -> np.ndarray:
    """Where a multipath path "looks" at ``target`` from (room frame, [3] m).

    Double bounce: the radar's image in the surface (exact image theory: the target seen from the
    image radar, then mirrored). Single bounce (bistatic: one leg to the radar, one to the surface): a
    virtual monostatic radar on the bisector of the two leg directions at the radar's distance
    (monostatic-bistatic equivalence at small bistatic angles [lit: R. E. Kell, Proc. IEEE 53, 1965;
    Knott et al.])."""
    r = np.asarray(radar_position, dtype=np.float64).reshape(3)
    img = surface.mirror(r)
    if path == "double":
        return img
    if path != "single":
        raise ValueError(f"path must be 'single' or 'double', got {path!r}")
    t = np.asarray(target, dtype=np.float64).reshape(3)
    u1 = (r - t) / np.linalg.norm(r - t)
    u2 = (img - t) / np.linalg.norm(img - t)
    b = u1 + u2
    nb = float(np.linalg.norm(b))
    b = u1 if nb < 1e-9 else b / nb
    return t + float(np.linalg.norm(r - t)) * b


def multipath_ghosts(
    sources: Scatterers,
    radar_position: np.ndarray,
    surface: Surface,
    freq_hz: float,
    *,
    path: str = "double",
    wall: Surface | None = None,
    bandwidth_hz: float = 0.0,
) -> Scatterers:
    """First-order image-source ghosts on one surface (room frame in and out).

    Args:
        sources: the targets' scatterers as seen from :func:`ghost_viewpoint` for this ``path`` (RCS
            without any wall loss), room frame.
        radar_position: [3] m, room frame.
        surface: the mirror.
        freq_hz: Hz. bandwidth_hz: band average of the slab coefficients.
        path: ``"double"`` (R->W->P->W->R: ghost at the image P', mirrored motion, RCS x |Gamma|^4) or
            ``"single"`` (R->P->W->R and R->W->P->R: two ghosts at range (|RP| + |RP'|)/2 in the
            directions of P and P', radial velocity (v.u_P + v'.u_P')/2, RCS x |Gamma|^2 each).
        wall: the through-wall surface; its one-way transmission applies to every leg crossing it.

    Returns:
        :class:`Scatterers` tagged ``PATH_DOUBLE`` or ``PATH_SINGLE`` (other tags copied). Targets on
        the far side of the surface, and paths whose bounce point is off a finite surface, give none.
    """
    if path not in ("single", "double"):
        raise ValueError(f"path must be 'single' or 'double', got {path!r}")
    r = np.asarray(radar_position, dtype=np.float64).reshape(3)
    if len(sources) == 0:
        return Scatterers.empty()
    P, v, a = sources.positions, sources.velocities, sources.accelerations
    s_r = float(surface.signed_distance(r))
    s_p = surface.signed_distance(P)
    ok = (s_r * s_p > 0) & (np.abs(s_p) > 1e-3) & (abs(s_r) > 1e-3)
    Pi = surface.mirror(P)
    vi, ai = surface.mirror_vector(v), surface.mirror_vector(a)
    to_i = Pi - r
    r_i = np.linalg.norm(to_i, axis=1)
    frac = s_r / np.where(ok, s_r + s_p, 1.0)  # along radar -> image, where the plane is crossed
    bounce = r + frac[:, None] * to_i
    ok &= surface.contains(bounce)
    cos_b = np.abs(to_i @ surface.n) / np.maximum(r_i, 1e-12)
    gamma2 = surface.reflection(freq_hz, np.arccos(np.clip(cos_b, 0.0, 1.0)), bandwidth_hz)
    if wall is not None and wall is not surface:
        # the three legs radar -> bounce, bounce -> target, target -> radar in one call
        n_p = len(P)
        legs = wall.leg_transmission(np.concatenate([np.broadcast_to(r, (n_p, 3)), bounce, P]),
                                     np.concatenate([bounce, P, np.broadcast_to(r, (n_p, 3))]), freq_hz, bandwidth_hz)
        leg_rb, leg_bp, leg_pr = legs[:n_p], legs[n_p: 2 * n_p], legs[2 * n_p:]
    else:
        leg_rb = leg_bp = leg_pr = np.ones(len(P))
    sel = np.flatnonzero(ok & (gamma2 > 0))
    if sel.size == 0:
        return Scatterers.empty()
    base = sources.select(sel)
    sigma = sources.rcs[sel]
    if path == "double":
        return replace_fields(base, positions=Pi[sel], velocities=vi[sel], accelerations=ai[sel],
                              rcs=sigma * gamma2[sel] ** 2 * (leg_rb[sel] * leg_bp[sel]) ** 2,
                              path=np.full(sel.size, PATH_DOUBLE, np.int8), normals=np.zeros((sel.size, 3)))
    to_p = P[sel] - r
    r_d = np.linalg.norm(to_p, axis=1)
    u_d = to_p / r_d[:, None]
    u_i = to_i[sel] / r_i[sel, None]
    r_s = 0.5 * (r_d + r_i[sel])
    v_s = 0.5 * (np.sum(v[sel] * u_d, axis=1) + np.sum(vi[sel] * u_i, axis=1))
    a_s = 0.5 * (np.sum(a[sel] * u_d, axis=1) + np.sum(ai[sel] * u_i, axis=1))
    rcs_s = sigma * gamma2[sel] * leg_rb[sel] * leg_bp[sel] * leg_pr[sel]
    out = [replace_fields(base, positions=r + r_s[:, None] * u, velocities=v_s[:, None] * u,
                          accelerations=a_s[:, None] * u, rcs=rcs_s, path=np.full(sel.size, PATH_SINGLE, np.int8),
                          normals=np.zeros((sel.size, 3)))
           for u in (u_d, u_i)]
    return Scatterers.concatenate(out)


def _multipath_many(
    items: Sequence[tuple[Scatterers, Surface, str]], radar_position: np.ndarray, freq_hz: float, *,
    wall: Surface | None = None, bandwidth_hz: float = 0.0,
) -> Scatterers:
    """``Scatterers.concatenate([multipath_ghosts(src, radar, surface, freq, path=path, ...) for src,
    surface, path in items])`` computed in one pass over all the sources (per-row mirror planes), with
    the same ghosts in the same order (values equal up to the last bits of the dot products)."""
    items = [(src, surf, path) for src, surf, path in items if len(src)]
    for _, _, path in items:
        if path not in ("single", "double"):
            raise ValueError(f"path must be 'single' or 'double', got {path!r}")
    if not items:
        return Scatterers.empty()
    r = np.asarray(radar_position, dtype=np.float64).reshape(3)
    J = len(items)
    src = Scatterers.concatenate([it[0] for it in items])
    sizes = np.array([len(it[0]) for it in items])
    jid = np.repeat(np.arange(J), sizes)
    starts = np.concatenate([[0], np.cumsum(sizes)])
    n_j = np.array([it[1].n for it in items])
    q_j = np.array([it[1].q for it in items])
    s_r_j = np.array([float(it[1].signed_distance(r)) for it in items])
    double_j = np.array([it[2] == "double" for it in items])
    n_row, s_r = n_j[jid], s_r_j[jid]
    P, v, a = src.positions, src.velocities, src.accelerations
    s_p = np.einsum("ij,ij->i", P - q_j[jid], n_row)
    ok = (s_r * s_p > 0) & (np.abs(s_p) > 1e-3) & (np.abs(s_r) > 1e-3)
    Pi = P - 2.0 * s_p[:, None] * n_row
    vi = v - 2.0 * np.einsum("ij,ij->i", v, n_row)[:, None] * n_row
    ai = a - 2.0 * np.einsum("ij,ij->i", a, n_row)[:, None] * n_row
    to_i = Pi - r
    r_i = np.linalg.norm(to_i, axis=1)
    frac = s_r / np.where(ok, s_r + s_p, 1.0)  # along radar -> image, where the plane is crossed
    bounce = r + frac[:, None] * to_i
    cos_b = np.abs(np.einsum("ij,ij->i", to_i, n_row)) / np.maximum(r_i, 1e-12)
    ang = np.arccos(np.clip(cos_b, 0.0, 1.0))
    gamma2 = np.empty(len(P))
    by_surface: dict[int, list[int]] = {}
    for j, it in enumerate(items):
        by_surface.setdefault(id(it[1]), []).append(j)
    for js in by_surface.values():
        surf = items[js[0]][1]
        rows = np.concatenate([np.arange(starts[j], starts[j + 1]) for j in js])
        if surf.u_axis is not None:
            ok[rows] &= surf.contains(bounce[rows])
        gamma2[rows] = surf.reflection(freq_hz, ang[rows], bandwidth_hz)
    leg_rb = np.ones(len(P))
    leg_bp = np.ones(len(P))
    leg_pr = np.ones(len(P))
    if wall is not None:
        rows = np.flatnonzero(np.array([it[1] is not wall for it in items])[jid])
        if len(rows):
            # the three legs radar -> bounce, bounce -> target, target -> radar in one call
            m = len(rows)
            rb = np.broadcast_to(r, (m, 3))
            legs = wall.leg_transmission(np.concatenate([rb, bounce[rows], P[rows]]),
                                         np.concatenate([bounce[rows], P[rows], rb]), freq_hz, bandwidth_hz)
            leg_rb[rows], leg_bp[rows], leg_pr[rows] = legs[:m], legs[m: 2 * m], legs[2 * m:]
    sel = ok & (gamma2 > 0)
    dbl = double_j[jid]
    d_rows = np.flatnonzero(sel & dbl)
    s_rows = np.flatnonzero(sel & ~dbl)
    sigma = src.rcs
    # double bounce: the image, mirrored motion, |Gamma|^4 and the wall's legs twice
    pos = [Pi[d_rows]]
    vel = [vi[d_rows]]
    acc = [ai[d_rows]]
    rcs = [sigma[d_rows] * gamma2[d_rows] ** 2 * (leg_rb[d_rows] * leg_bp[d_rows]) ** 2]
    rows_out = [d_rows]
    part = [np.zeros(len(d_rows), np.int64)]
    pth = [np.full(len(d_rows), PATH_DOUBLE, np.int8)]
    if len(s_rows):
        to_p = P[s_rows] - r
        r_d = np.linalg.norm(to_p, axis=1)
        u_d = to_p / r_d[:, None]
        u_i = to_i[s_rows] / r_i[s_rows, None]
        r_s = 0.5 * (r_d + r_i[s_rows])
        v_s = 0.5 * (np.sum(v[s_rows] * u_d, axis=1) + np.sum(vi[s_rows] * u_i, axis=1))
        a_s = 0.5 * (np.sum(a[s_rows] * u_d, axis=1) + np.sum(ai[s_rows] * u_i, axis=1))
        rcs_s = sigma[s_rows] * gamma2[s_rows] * leg_rb[s_rows] * leg_bp[s_rows] * leg_pr[s_rows]
        for k, u in enumerate((u_d, u_i)):
            pos.append(r + r_s[:, None] * u)
            vel.append(v_s[:, None] * u)
            acc.append(a_s[:, None] * u)
            rcs.append(rcs_s)
            rows_out.append(s_rows)
            part.append(np.full(len(s_rows), k, np.int64))
            pth.append(np.full(len(s_rows), PATH_SINGLE, np.int8))
    rows_all = np.concatenate(rows_out)
    if len(rows_all) == 0:
        return Scatterers.empty()
    # per job: its ghosts in row order; a single-bounce job lists all its P-direction ghosts first
    order = np.lexsort((rows_all, np.concatenate(part), jid[rows_all]))
    rows_o = rows_all[order]
    n = len(rows_o)
    return Scatterers(
        positions=np.concatenate(pos)[order], velocities=np.concatenate(vel)[order], rcs=np.concatenate(rcs)[order],
        segment=src.segment[rows_o], kind=src.kind[rows_o], person=src.person[rows_o], source=src.source[rows_o],
        path=np.concatenate(pth)[order], normals=np.zeros((n, 3)), accelerations=np.concatenate(acc)[order],
    )


def replace_fields(s: Scatterers, **changes: np.ndarray) -> Scatterers:
    """A copy of ``s`` with some arrays replaced (same length)."""
    kw = {f: getattr(s, f) for f in ("positions", "velocities", "rcs", "segment", "kind", "person", "source", "path",
                                     "normals", "accelerations")}
    kw.update(changes)
    return Scatterers(**kw)


@dataclass
class _FrameCache:
    """Per-frame geometry shared by all viewpoints of :func:`scene_scatterers`."""

    freq: float
    bw: float
    gen: np.random.Generator
    person_geo: list[SceneGeometry]  # per person: own geometry + clutter boxes + other people
    all_geo: SceneGeometry  # clutter boxes + all people
    clutter_box: np.ndarray
    object_poses: list[list[np.ndarray]]  # per person and object: [3, 4, 4]
    clothing: list[Clothing]


def _frame_cache(scene: RadarScene, frame: int, freq: float, bw: float, gen: np.random.Generator) -> _FrameCache:
    clutter_geo, clutter_box = _clutter_geometry(scene)
    poses = []
    for p in scene.people:
        n = p.body.n_frames
        fr = [max(frame - 1, 0), frame, min(frame + 1, n - 1)]
        if p.object_poses is not None:
            if len(p.object_poses) != len(p.objects):
                raise ValueError(f"Person has {len(p.objects)} objects but {len(p.object_poses)} object pose tracks")
            poses.append([np.asarray(q)[fr] for q in p.object_poses])
        else:
            poses.append([c.poses(p.body, fr) for c in p.objects])  # per object [3, 4, 4]: lo, frame, hi
    own = [person_geometry(p.body, frame, p.objects, object_id=i, object_poses=[q[1] for q in poses[i]])
           for i, p in enumerate(scene.people)]
    person_geo = []
    for i in range(len(scene.people)):
        g = own[i].extend(clutter_geo)
        for j, other in enumerate(own):
            if j != i:
                g = g.extend(other)
        person_geo.append(g)
    all_geo = clutter_geo
    for g in own:
        all_geo = all_geo.extend(g)
    return _FrameCache(freq, bw, gen, person_geo, all_geo, clutter_box, poses,
                       [as_clothing(p.clothing) for p in scene.people])


def _sources(
    scene: RadarScene,
    frame: int,
    viewpoint: np.ndarray | None,
    kinds: tuple[str, ...],
    cache: _FrameCache,
    facets: FacetModel,
    people: Sequence[int] | None = None,
) -> Scatterers:
    """Body/object/clutter scatterers of a frame seen from ``viewpoint`` (None: the radar), room frame,
    without any wall loss."""
    view = scene.radar_pose[:3, 3] if viewpoint is None else np.asarray(viewpoint, dtype=np.float64)
    parts: list[Scatterers] = []
    if "body" in kinds or "object" in kinds:
        for i, p in enumerate(scene.people):
            if people is not None and i not in people:
                continue
            with_objects = "object" in kinds
            s = person_scatterers_room(
                p.body, frame, view, cache.clothing[i], cache.freq, cache.gen,
                objects=p.objects if with_objects else (), object_poses=cache.object_poses[i] if with_objects else (),
                skin=p.skin, facets=facets,
                fluctuation=p.fluctuation if p.fluctuation is not None else scene.fluctuation,
                garment_reflection=scene.garment_reflection, geometry=cache.person_geo[i],
                frame_period=p.frame_period, bandwidth_hz=cache.bw, person=i,
            )
            if "body" not in kinds:
                s = s.select(s.kind != KIND_BODY)
            parts.append(s)
    if "clutter" in kinds and scene.clutter:
        # the reflectors' scatterers from a viewpoint are static (computed once per reflector and
        # viewpoint); what the people block changes: one occlusion query for all reflectors
        vkey = tuple(float(x) for x in view) + (float(cache.freq),)
        per = [_CLUTTER_SCATTER.get((c,), vkey, lambda c=c: c.scatterers(view, cache.freq)) for c in scene.clutter]
        pos_all = np.concatenate([p for p, _ in per])  # type: ignore[misc]
        blocked = np.zeros(len(pos_all), dtype=bool)
        if len(cache.all_geo) and len(pos_all):
            ign = np.concatenate([np.full(len(p), cache.clutter_box[k]) for k, (p, _) in enumerate(per)])  # type: ignore[misc]
            blocked = occluded(cache.all_geo, pos_all, view, ignore=ign)
        off = 0
        for k, (pos, rcs) in enumerate(per):  # type: ignore[misc]
            ok = ~blocked[off: off + len(pos)]
            off += len(pos)
            parts.append(Scatterers.make(pos[ok], rcs[ok], kind=KIND_CLUTTER, source=k))
    return Scatterers.concatenate(parts)


def _person_spheres(scene: RadarScene, who: int, frame: int, cache: _FrameCache) -> tuple[np.ndarray, np.ndarray]:
    """Spheres (centres [K, 3], radii [K]) that hold every scatterer of a person: one per segment
    ellipsoid (its largest semi-axis) and one per carried object (its pose and farthest part)."""
    p = scene.people[who]
    seg = p.body.segments
    c = [seg.centers[frame]]
    r = [np.max(seg.semi_axes, axis=1)]
    for carried, poses in zip(p.objects, cache.object_poses[who]):
        loc = carried.object.local_positions()
        c.append(poses[1, :3, 3][None])
        r.append(np.array([float(np.max(np.linalg.norm(loc, axis=1))) + 0.05]))
    return np.concatenate(c), np.concatenate(r)


@dataclass
class _GhostJob:
    """One multipath view: a mirror, a path and a target group (a person, or the clutter)."""

    surface: Surface
    path: str
    kinds: tuple[str, ...]
    person: int | None
    view: np.ndarray
    dead: bool = False  # every ghost it could make lies beyond the maximum range


def _ghost_jobs(
    scene: RadarScene, frame: int, radar: np.ndarray, cache: _FrameCache, max_range: float | None,
) -> list[_GhostJob]:
    """The multipath views of a frame in the order mirror, path, person, clutter (the order in which
    their fluctuation is drawn and their ghosts are listed). A person's job whose ghosts would all be
    farther than ``max_range`` (those :func:`scene_scatterers` drops: a double bounce on a far wall) is
    marked ``dead``: its ghosts are not computed, its fluctuation draw still happens."""
    if not scene.multipath:
        return []
    mirrors = list(scene.surfaces)
    if scene.wall is not None and scene.wall_multipath:
        mirrors.append(scene.wall)
    kinds = tuple(scene.ghost_sources)
    person_kinds = tuple(k for k in kinds if k in ("body", "object"))
    jobs: list[_GhostJob] = []
    # per person: its spheres and their distances to the radar (d1) and, per mirror, to the radar's
    # image (d2); the same for every path, so computed once per frame and mirror
    reach: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    d2_of: dict[tuple[int, int], np.ndarray] = {}
    for m_idx, surf in enumerate(mirrors):
        s_radar = float(surf.signed_distance(radar))
        for path in scene.multipath_paths:
            # people: one viewpoint per person (their thorax); clutter: one per reflector group
            groups: list[tuple[np.ndarray, tuple[str, ...], int | None]] = []
            if person_kinds:
                for i, p in enumerate(scene.people):
                    groups.append((p.body.segments.centers[frame, _THORAX], person_kinds, i))
            if "clutter" in kinds and scene.clutter:
                groups.append((np.mean([c.pose[:3, 3] for c in scene.clutter], axis=0), ("clutter",), None))
            for centre, knd, who in groups:
                if float(surf.signed_distance(centre)) * s_radar <= 0:
                    continue  # target on the far side of the mirror
                job = _GhostJob(surf, path, knd, who, ghost_viewpoint(surf, radar, centre, path))
                if who is not None and max_range is not None:
                    if who not in reach:
                        sc, sr = _person_spheres(scene, who, frame, cache)
                        reach[who] = (sc, sr, np.linalg.norm(sc - radar, axis=1))
                    sc, sr, d1 = reach[who]
                    if (who, m_idx) not in d2_of:
                        d2_of[(who, m_idx)] = np.linalg.norm(surf.mirror(sc) - radar, axis=1)
                    d2 = d2_of[(who, m_idx)]
                    # nearest possible ghost range: the image's distance (double bounce), the mean of the
                    # two legs' lengths (single bounce)
                    near = float(np.min((d2 if path == "double" else 0.5 * (d1 + d2)) - sr))
                    job.dead = near >= max_range
                jobs.append(job)
    return jobs


def _fluctuation(scene: RadarScene, i: int) -> Fluctuation | None:
    p = scene.people[i]
    return p.fluctuation if p.fluctuation is not None else scene.fluctuation


def _people_and_ghosts(
    scene: RadarScene, frame: int, radar: np.ndarray, cache: _FrameCache, max_range: float | None,
) -> tuple[list[Scatterers], list[Scatterers]]:
    """The people's direct-path scatterers (one per person) and the multipath ghosts (one per live
    job), room frame.

    Each person's radar view and multipath views are computed together
    (:func:`mmsight.sim.scattering.person_scatterers_views`: one facet computation per facet model and
    one occlusion query for all of them). Fluctuation multipliers are drawn in the order of one view at a
    time: every person's direct view, then the ghost jobs in order."""
    jobs = _ghost_jobs(scene, frame, radar, cache, max_range)
    kinds = tuple(scene.ghost_sources)
    person_kinds = tuple(k for k in kinds if k in ("body", "object"))
    ghost_facets = scene.ghost_facets if scene.ghost_detail == "segment" else scene.facets
    draws: dict[tuple[int, int], np.ndarray] = {}  # (person, job index or -1 for direct) -> multipliers
    for i, p in enumerate(scene.people):
        fl = _fluctuation(scene, i)
        if fl is not None:
            draws[(i, -1)] = fl.draw(len(p.body.segments.names) if fl.per == "segment" else 1, cache.gen)
    for n, job in enumerate(jobs):
        if job.person is not None:
            fl = _fluctuation(scene, job.person)
            if fl is not None:
                k = len(scene.people[job.person].body.segments.names) if fl.per == "segment" else 1
                draws[(job.person, n)] = fl.draw(k, cache.gen)

    direct: list[Scatterers] = []
    ghost_src: dict[int, Scatterers] = {}
    for i, p in enumerate(scene.people):
        mine = [n for n, job in enumerate(jobs) if job.person == i and not job.dead]
        # the ghost views carry the objects unless ghost_sources leaves them out: then separate calls
        merged = "object" in person_kinds or not p.objects
        calls = [([-1] + mine, tuple(p.objects))] if merged else [([-1], tuple(p.objects)), (mine, ())]
        for seq, objs in calls:
            if not seq:
                continue
            fl = _fluctuation(scene, i)
            res = person_scatterers_views(
                p.body, frame, np.array([radar if n < 0 else jobs[n].view for n in seq]), cache.clothing[i],
                cache.freq, cache.gen, objects=objs, object_poses=cache.object_poses[i] if objs else (),
                skin=p.skin, facets=[scene.facets if n < 0 else ghost_facets for n in seq], fluctuation=fl,
                garment_reflection=scene.garment_reflection, geometry=cache.person_geo[i],
                frame_period=p.frame_period, bandwidth_hz=cache.bw, person=i,
                fluctuation_draws=None if fl is None else [draws[(i, n)] for n in seq],
            )
            for n, r in zip(seq, res):
                if n < 0:
                    direct.append(r)
                else:
                    ghost_src[n] = r if "body" in person_kinds else r.select(r.kind != KIND_BODY)
    live = [(n, job) for n, job in enumerate(jobs) if not job.dead]
    srcs = [_sources(scene, frame, job.view, job.kinds, cache, ghost_facets, people=[]) if job.person is None
            else ghost_src[n] for n, job in live]
    if scene.ghost_detail == "segment":
        srcs = _group_ghost_sources_many(srcs)
    items = [(src, job.surface, job.path) for src, (_, job) in zip(srcs, live)]
    ghosts = [_multipath_many(items, radar, cache.freq, wall=scene.wall, bandwidth_hz=cache.bw)]
    return direct, ghosts


def scene_scatterers(
    scene: RadarScene,
    frame: int,
    config: RadarConfig,
    rng: np.random.Generator | int | None = None,
) -> Scatterers:
    """All scatterers of one frame in the **radar frame**: people (with objects), clutter, the wall's
    return, multipath ghosts; filtered to the radar's half space and maximum range.

    Args:
        scene: the scene.
        frame: frame index (into every person's body).
        config: :class:`mmsight.radar.RadarConfig` (carrier frequency, bandwidth, maximum range).
        rng: seed or generator for the RCS fluctuation.
    """
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    freq = float(config.center_frequency)
    bw = float(config.bandwidth)
    T_rr = scene.radar_pose
    T_radar_from_room = invert_transform(T_rr)
    radar = T_rr[:3, 3]
    if not 0 <= frame < scene.n_frames:
        raise ValueError(f"frame {frame} outside [0, {scene.n_frames})")

    cache = _frame_cache(scene, frame, freq, bw, gen)
    people, ghosts = _people_and_ghosts(scene, frame, radar, cache, 0.98 * float(config.max_range))
    direct = Scatterers.concatenate(people + [_sources(scene, frame, None, ("clutter",), cache, scene.facets)])
    out = []
    if scene.wall is not None:
        direct.rcs = direct.rcs * scene.wall.leg_transmission(radar, direct.positions, freq, bw) ** 2
    out.append(direct)
    if scene.wall is not None and scene.wall_return:
        w = scene.wall
        d = float(w.signed_distance(radar))
        foot = radar - d * w.n
        if abs(d) > 1e-3 and bool(w.contains(foot)):
            out.append(Scatterers.make(foot[None], np.array([float(w.reflection(freq, 0.0, bw)) * math.pi * d * d]),
                                       kind=KIND_WALL))
    out.extend(ghosts)
    allsc = Scatterers.concatenate(out).transformed(T_radar_from_room)
    rng_ = allsc.ranges
    keep = (allsc.positions[:, 1] > 1e-3) & (rng_ > 0.05) & (rng_ < 0.98 * float(config.max_range))
    keep &= allsc.rcs > scene.min_rcs
    return allsc.select(keep)


# ----------------------------------------------------------------------------------------------
# rendering
# ----------------------------------------------------------------------------------------------


def render_scatterers(
    scatterers: Scatterers,
    config: RadarConfig,
    rng: np.random.Generator | int | None = None,
    *,
    noise: bool = True,
    micro_motion: bool = False,
) -> np.ndarray:
    """ADC cube of one frame, ``complex64 [n_loops, n_tx, n_rx, n_samples]``, for radar-frame
    scatterers. ``micro_motion`` uses per-chirp positions (``p + v t + a t^2 / 2``) instead of the
    constant-velocity model (exact range migration and acceleration within the frame; several times
    slower). BLAS runs single-threaded during the call."""
    from mmsight.radar import simulate_adc

    s = scatterers
    ppc = None
    if micro_motion and len(s):
        ppc = s.per_chirp_positions(chirp_times(config))
        r = np.linalg.norm(ppc, axis=-1)
        ok = np.all((r > 1e-3) & (r < float(config.max_range)), axis=(0, 1))
        if not np.all(ok):
            s = s.select(ok)
            ppc = ppc[:, :, ok]
    with _single_thread_blas():
        return simulate_adc(config, s.positions, s.velocities, s.rcs, noise=noise, rng=rng, positions_per_chirp=ppc)


def _single_thread_blas() -> contextlib.AbstractContextManager:
    """Limit BLAS to one thread: the forward model's many small (batched) complex products are up to
    15x slower with threaded BLAS on a busy machine (measured for the per-chirp path). Uses the
    process's cached ``ThreadpoolController`` (building a new ``threadpool_limits`` scans the loaded
    libraries: ~2-6 ms per frame)."""
    from mmsight.utils.threads import blas_limit

    return blas_limit(1)


def render_radar_frames(
    scene: RadarScene,
    config: RadarConfig,
    frames: Sequence[int] | int | None = None,
    rng: np.random.Generator | int | None = None,
    *,
    noise: bool = True,
    chain: SignalChain | None = None,
    micro_motion: bool = False,
) -> list[tuple[np.ndarray, FrameProducts]]:
    """Render frames of a scene and run the signal chain.

    Args:
        scene: the scene.
        config: :class:`mmsight.radar.RadarConfig`.
        frames: frame indices (an int = that one frame; None = all :attr:`RadarScene.n_frames`).
        rng: seed or generator (fluctuation and noise; the same seed gives the same frames).
        noise: add thermal noise.
        chain: a :class:`mmsight.radar.SignalChain` for ``config`` (None: a default one).
        micro_motion: per-chirp positions (see :func:`render_scatterers`).

    Returns:
        One ``(adc, products)`` per frame: ``adc`` complex64 ``[n_loops, n_tx, n_rx, n_samples]`` and
        the chain's :class:`mmsight.radar.FrameProducts`, whose ``extras["scatterers"]`` holds the
        radar-frame :class:`~mmsight.sim.scattering.Scatterers` (ground truth of the paths).
    """
    from mmsight.radar import SignalChain

    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    if frames is None:
        idx: list[int] = list(range(scene.n_frames))
    elif isinstance(frames, (int, np.integer)):
        idx = [int(frames)]
    else:
        idx = [int(f) for f in frames]
    ch = chain if chain is not None else SignalChain(config)
    out = []
    for f in idx:
        s = scene_scatterers(scene, f, config, gen)
        adc = render_scatterers(s, config, gen, noise=noise, micro_motion=micro_motion)
        prod = ch.process(adc)
        prod.extras["scatterers"] = s
        out.append((adc, prod))
    return out
