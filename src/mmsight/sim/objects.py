"""Concealed metal objects: physical-optics scattering primitives, body attachment, clothing loss.

A :class:`ConcealedObject` is a handful of perfectly conducting primitives (flat plates, discs,
cylinders, spheres, straight edges, a 90-degree dihedral) placed in the object's own frame. For a
radar direction, each primitive returns its monostatic RCS from the physical-optics (PO) / optical
formulas [lit: Knott, Shaeffer & Tuley, *Radar Cross Section*, 2nd ed., ch. 5-6; radar-physics.md 5],
``k = 2 pi / lambda``:

* rectangular plate ``a x b``: ``4 pi (a b)^2 / lambda^2 * cos^2(theta) * sinc^2(k a s_a) * sinc^2(k b s_b)``
  with ``s_a, s_b`` the direction cosines along the two sides and ``sinc(x) = sin(x)/x``;
* circular disc radius ``r``: ``4 pi (pi r^2)^2 / lambda^2 * cos^2(theta) * [2 J1(x) / x]^2``,
  ``x = 2 k r sin(theta)``;
* cylinder radius ``r``, length ``L``: ``k r L^2 cos(theta) sinc^2(k L sin(theta))``, ``theta`` from
  broadside (end caps are separate discs);
* sphere radius ``r``: ``pi r^2``;
* 90-degree dihedral, fold length ``a``, face width ``w``: ``4 pi (2 a w sin(pi/4 - |phi|))^2 / lambda^2
  * cos^2(psi) sinc^2(k a sin(psi))`` with ``phi`` the in-plane angle from the bisector and ``psi`` the
  tilt out of the plane perpendicular to the fold; at ``phi = psi = 0`` this is ``8 pi a^2 w^2 / lambda^2``;
* straight edge of length ``L``: ``g L^2 / pi * sinc^2(k L cos(beta))``, ``beta`` the angle to the
  edge, ``g = 0.25`` [EST: order of a wedge diffraction coefficient; gives the -25..-40 dBsm
  edge-on levels of radar-physics.md 5].

The primitives are placed at their own centres and summed by the radar forward model (coherently,
through their different ranges). Specular peaks of flat metal are very strong and very narrow
(e.g. +12 dBsm, 1.6 degrees for a pistol slide at 60 GHz); averaged over random aspects the same
objects are -20..0 dBsm. Measured handgun/knife RCS at 60-80 GHz was not found [radar-physics.md 9],
so every object geometry and every RCS here is an **[EST]** from PO, not a measurement.

Object frame: ``+x`` along the object's long axis (barrel/blade tip, phone top), ``+z`` the outward
face normal (away from the body when attached), ``+y = z x x``. Dimensions in metres.

Body attachment: mmAnomaly's eight regions (left/right chest, waist, pocket, ankle; paper sec. 2.1)
are defined from Kinect V2 joints (see :data:`REGIONS` for the exact anchors and offsets, which are
[EST] for an adult of ~1.75 m). :func:`attach` turns a joint trajectory ``[T, J, 3]`` into object poses
``[T, 4, 4]``; :func:`object_scatterers` turns a pose into radar scatterers, optionally with the
two-way loss of the garment that covers the object.

Not modelled: shadowing of the object by the body or by itself, coupling between primitives
(creeping waves, multiple bounces other than the dihedral), polarisation, dielectric parts
(polymer frames, knife handles, phone glass), near-field effects: the formulas are far-field, valid
beyond ``2 D^2 / lambda`` (about 6 m for a 12 cm blade at 60 GHz); closer in, a real glint is wider
and lower than the PO peak.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal, Mapping, Sequence, Union

import numpy as np
from scipy.special import j1

from mmsight.sim import electromagnetics as em
from mmsight.sim.materials import Material, MaterialInstance, get_material

__all__ = [
    "Plate",
    "Disc",
    "Cylinder",
    "Sphere",
    "Edge",
    "Dihedral",
    "Primitive",
    "ConcealedObject",
    "OBJECTS",
    "MMANOMALY_OBJECTS",
    "get_object",
    "object_names",
    "RegionSpec",
    "REGIONS",
    "MMANOMALY_REGIONS",
    "KINECT_V2_JOINTS",
    "get_region",
    "region_names",
    "attach",
    "object_scatterers",
    "concealed_two_way_loss_db",
    "aspect_averaged_rcs",
    "object_table",
    "format_object_table",
]

_C = em.SPEED_OF_LIGHT
_EDGE_FACTOR = 0.25


def _unit(v: Sequence[float] | np.ndarray, what: str = "vector") -> np.ndarray:
    a = np.asarray(v, dtype=np.float64).reshape(3)
    n = float(np.linalg.norm(a))
    if not math.isfinite(n) or n == 0:
        raise ValueError(f"{what} must be a finite non-zero 3-vector, got {v!r}")
    return a / n


def _vec(v: Sequence[float] | np.ndarray) -> np.ndarray:
    return np.asarray(v, dtype=np.float64).reshape(3)


def _sinc(x: np.ndarray) -> np.ndarray:
    """``sin(x)/x`` (unnormalised)."""
    return np.sinc(x / np.pi)


def _wavelength(freq_hz: float) -> float:
    f = float(freq_hz)
    if not math.isfinite(f) or f <= 0:
        raise ValueError(f"freq_hz must be finite and > 0 (Hz), got {freq_hz!r}")
    return _C / f


# ----------------------------------------------------------------------------------------------
# primitives: rcs(dirs [N, 3] unit vectors from the primitive towards the radar, in the object
# frame; wavelength m) -> [N] m^2
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plate:
    """Flat rectangular PEC plate.

    Attributes:
        center: [3] m, object frame.
        normal: [3] face normal (normalised on use).
        u_axis: [3] direction of side ``length_u`` (made orthogonal to ``normal``).
        length_u, length_v: side lengths, m.
        two_sided: if False, the plate is dark when seen from behind its normal (a face of a solid).
    """

    name: str
    center: tuple[float, float, float]
    normal: tuple[float, float, float]
    u_axis: tuple[float, float, float]
    length_u: float
    length_v: float
    two_sided: bool = True

    def frame(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n = _unit(self.normal, "plate normal")
        u = _vec(self.u_axis)
        u = _unit(u - (u @ n) * n, "plate u_axis (parallel to the normal?)")
        return u, np.cross(n, u), n

    def rcs(self, dirs: np.ndarray, wavelength: float) -> np.ndarray:
        u, v, n = self.frame()
        k = 2 * np.pi / wavelength
        dn, du, dv = dirs @ n, dirs @ u, dirs @ v
        area = self.length_u * self.length_v
        s = 4 * np.pi * area**2 / wavelength**2 * dn**2 * _sinc(k * self.length_u * du) ** 2 \
            * _sinc(k * self.length_v * dv) ** 2
        return s if self.two_sided else np.where(dn > 0, s, 0.0)

    def peak_rcs(self, wavelength: float) -> float:
        return 4 * np.pi * (self.length_u * self.length_v) ** 2 / wavelength**2


@dataclass(frozen=True)
class Disc:
    """Flat circular PEC disc (muzzle face, end caps)."""

    name: str
    center: tuple[float, float, float]
    normal: tuple[float, float, float]
    radius: float
    two_sided: bool = True

    def rcs(self, dirs: np.ndarray, wavelength: float) -> np.ndarray:
        n = _unit(self.normal, "disc normal")
        k = 2 * np.pi / wavelength
        dn = dirs @ n
        sin_t = np.sqrt(np.clip(1.0 - dn**2, 0.0, 1.0))
        x = 2 * k * self.radius * sin_t
        safe = np.where(x < 1e-9, 1.0, x)
        airy = np.where(x < 1e-9, 1.0, 2 * j1(safe) / safe)
        s = 4 * np.pi * (np.pi * self.radius**2) ** 2 / wavelength**2 * dn**2 * airy**2
        return s if self.two_sided else np.where(dn > 0, s, 0.0)

    def peak_rcs(self, wavelength: float) -> float:
        return 4 * np.pi * (np.pi * self.radius**2) ** 2 / wavelength**2


@dataclass(frozen=True)
class Cylinder:
    """PEC circular cylinder (side wall only; add :class:`Disc` end caps if they matter)."""

    name: str
    center: tuple[float, float, float]
    axis: tuple[float, float, float]
    radius: float
    length: float

    def rcs(self, dirs: np.ndarray, wavelength: float) -> np.ndarray:
        ax = _unit(self.axis, "cylinder axis")
        k = 2 * np.pi / wavelength
        sin_t = np.clip(np.abs(dirs @ ax), 0.0, 1.0)  # theta measured from broadside
        cos_t = np.sqrt(1.0 - sin_t**2)
        return k * self.radius * self.length**2 * cos_t * _sinc(k * self.length * sin_t) ** 2

    def peak_rcs(self, wavelength: float) -> float:
        return 2 * np.pi * self.radius * self.length**2 / wavelength


@dataclass(frozen=True)
class Sphere:
    """PEC sphere in the optical region (``k r >> 1``): ``pi r^2`` from every direction."""

    name: str
    center: tuple[float, float, float]
    radius: float

    def rcs(self, dirs: np.ndarray, wavelength: float) -> np.ndarray:
        return np.full(dirs.shape[0], np.pi * self.radius**2)

    def peak_rcs(self, wavelength: float) -> float:
        return np.pi * self.radius**2


@dataclass(frozen=True)
class Edge:
    """Straight diffracting edge (knife edge, key blade, frame rim seen edge-on) [EST model]."""

    name: str
    center: tuple[float, float, float]
    direction: tuple[float, float, float]
    length: float
    factor: float = _EDGE_FACTOR

    def rcs(self, dirs: np.ndarray, wavelength: float) -> np.ndarray:
        e = _unit(self.direction, "edge direction")
        k = 2 * np.pi / wavelength
        return self.factor * self.length**2 / np.pi * _sinc(k * self.length * (dirs @ e)) ** 2

    def peak_rcs(self, wavelength: float) -> float:
        return self.factor * self.length**2 / np.pi


@dataclass(frozen=True)
class Dihedral:
    """90-degree PEC dihedral (inside corner), e.g. the L between a pistol's slide and grip.

    Attributes:
        fold_axis: [3] direction of the fold line (length ``fold_length``).
        bisector: [3] direction out of the concave side, bisecting the faces (made orthogonal to
            ``fold_axis``).
        fold_length: ``a``, m. face_width: ``w``, m.
    """

    name: str
    center: tuple[float, float, float]
    fold_axis: tuple[float, float, float]
    bisector: tuple[float, float, float]
    fold_length: float
    face_width: float

    def rcs(self, dirs: np.ndarray, wavelength: float) -> np.ndarray:
        f = _unit(self.fold_axis, "dihedral fold axis")
        b = _vec(self.bisector)
        b = _unit(b - (b @ f) * f, "dihedral bisector (parallel to the fold?)")
        p = np.cross(f, b)
        k = 2 * np.pi / wavelength
        df, db, dp = dirs @ f, dirs @ b, dirs @ p
        sin_psi = np.clip(df, -1.0, 1.0)
        cos_psi = np.sqrt(1.0 - sin_psi**2)
        phi = np.arctan2(dp, db)
        aperture = 2 * self.fold_length * self.face_width * np.clip(np.sin(np.pi / 4 - np.abs(phi)), 0.0, None)
        s = 4 * np.pi * aperture**2 / wavelength**2 * cos_psi**2 * _sinc(k * self.fold_length * sin_psi) ** 2
        return np.where(db > 0, s, 0.0)

    def peak_rcs(self, wavelength: float) -> float:
        return 8 * np.pi * self.fold_length**2 * self.face_width**2 / wavelength**2


Primitive = Union[Plate, Disc, Cylinder, Sphere, Edge, Dihedral]


# ----------------------------------------------------------------------------------------------
# objects
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConcealedObject:
    """A metal object as a set of scattering primitives in its own frame.

    Attributes:
        name: registry key.
        primitives: the K scatterers.
        size_m: (length x, height y, thickness z) bounding box, m.
        fits_regions: body regions the object can plausibly be hidden at.
        description, source: what it represents and where the dimensions come from.
    """

    name: str
    primitives: tuple[Primitive, ...]
    size_m: tuple[float, float, float]
    fits_regions: tuple[str, ...]
    description: str
    source: str

    @property
    def n_scatterers(self) -> int:
        return len(self.primitives)

    @property
    def primitive_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.primitives)

    def local_positions(self) -> np.ndarray:
        """Primitive centres in the object frame, [K, 3] m."""
        return np.array([p.center for p in self.primitives], dtype=np.float64)

    def rcs(self, directions: np.ndarray, freq_hz: float) -> np.ndarray:
        """Per-primitive RCS for directions given in the object frame.

        Args:
            directions: [N, 3] (or [3]) vectors from the object towards the radar (normalised here).
            freq_hz: Hz.

        Returns:
            [N, K] m^2 (or [K] for a single direction).
        """
        d = np.asarray(directions, dtype=np.float64)
        single = d.ndim == 1
        d = np.atleast_2d(d)
        if d.shape[-1] != 3:
            raise ValueError(f"directions must have shape [N, 3], got {np.shape(directions)}")
        norm = np.linalg.norm(d, axis=1, keepdims=True)
        if np.any(norm == 0) or not np.all(np.isfinite(norm)):
            raise ValueError("directions must be finite and non-zero")
        d = d / norm
        lam = _wavelength(freq_hz)
        out = np.stack([p.rcs(d, lam) for p in self.primitives], axis=-1)
        return out[0] if single else out

    def total_rcs(self, directions: np.ndarray, freq_hz: float) -> np.ndarray:
        """Incoherent sum over primitives, [N] (or scalar) m^2."""
        return np.sum(self.rcs(directions, freq_hz), axis=-1)

    def fits(self, region: str) -> bool:
        return get_region(region).name in self.fits_regions


_ALL_REGIONS = ("chest_left", "chest_right", "waist_left", "waist_right",
                "pocket_left", "pocket_right", "ankle_left", "ankle_right")


def _rot_z(deg: float, v: tuple[float, float, float]) -> tuple[float, float, float]:
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return (c * v[0] - s * v[1], s * v[0] + c * v[1], v[2])


def _handgun() -> ConcealedObject:
    # compact/full-size semi-automatic pistol [EST dims: ~0.18-0.20 m long, ~0.13 m tall, ~0.03 m
    # thick, grip raked ~18 degrees]; all-metal (slide and frame) for the "metallic weapon-like
    # object" of mmAnomaly; polymer frames would remove most of the grip return.
    rake = 18.0
    g = (-math.sin(math.radians(rake)), -math.cos(math.radians(rake)), 0.0)  # grip axis, down-back
    grip_c = (-0.055, -0.035)
    prims: list[Primitive] = [
        Plate("slide_side_pos", (0.0, 0.030, 0.0125), (0, 0, 1), (1, 0, 0), 0.18, 0.030, two_sided=False),
        Plate("slide_side_neg", (0.0, 0.030, -0.0125), (0, 0, -1), (1, 0, 0), 0.18, 0.030, two_sided=False),
        Cylinder("slide_top", (0.0, 0.045, 0.0), (1, 0, 0), 0.012, 0.18),
        Plate("grip_side_pos", (grip_c[0], grip_c[1], 0.014), (0, 0, 1), g, 0.10, 0.045, two_sided=False),
        Plate("grip_side_neg", (grip_c[0], grip_c[1], -0.014), (0, 0, -1), g, 0.10, 0.045, two_sided=False),
        Cylinder("grip_back", (grip_c[0] - 0.024, grip_c[1] - 0.007, 0.0), g, 0.012, 0.10),
        Dihedral("trigger_corner", (-0.025, 0.012, 0.0), (0, 0, 1), (math.cos(math.radians(-45 - rake / 2)),
                                                                       math.sin(math.radians(-45 - rake / 2)), 0.0),
                 0.028, 0.040),
        Disc("muzzle", (0.09, 0.030, 0.0), (1, 0, 0), 0.012, two_sided=False),
        Edge("slide_bottom_edge", (0.05, 0.015, 0.0), (1, 0, 0), 0.08),
    ]
    return ConcealedObject(
        "handgun", tuple(prims), (0.19, 0.13, 0.03), _ALL_REGIONS,
        "all-metal semi-automatic pistol: flat slide and grip sides, rounded slide top, grip back strap, "
        "slide/grip inside corner (dihedral), muzzle face, slide edge",
        "[EST] geometry of a generic full-size pistol; PO RCS formulas [lit: Knott et al.]; flat-side "
        "specular peaks agree with radar-physics.md 5 (slide 18x3 cm: +11.7 dBsm at 60.5 GHz)")


def _knife() -> ConcealedObject:
    prims: list[Primitive] = [
        Plate("blade", (0.03, 0.0, 0.0), (0, 0, 1), (1, 0, 0), 0.12, 0.025, two_sided=True),
        Edge("cutting_edge", (0.03, -0.0125, 0.0), (1, 0, 0), 0.12),
        Edge("spine", (0.03, 0.0125, 0.0), (1, 0, 0), 0.12),
        Cylinder("bolster", (-0.037, 0.0, 0.0), (1, 0, 0), 0.010, 0.015),
        Sphere("tip", (0.09, 0.0, 0.0), 0.002),
    ]
    return ConcealedObject(
        "knife", tuple(prims), (0.22, 0.025, 0.02), _ALL_REGIONS,
        "fixed-blade knife: 12 x 2.5 cm flat blade with cutting edge and spine, metal bolster, tip; the "
        "10 cm handle is taken as non-metallic and not modelled",
        "[EST] geometry; blade specular peak +6.6 dBsm at 60.5 GHz as radar-physics.md 5; edge-on "
        "returns from the edge model (-25..-40 dBsm) [EST]")


def _keys() -> ConcealedObject:
    prims: list[Primitive] = []
    for i, (fan, tilt) in enumerate(((-25.0, 8.0), (0.0, 0.0), (25.0, -8.0))):
        axis = _rot_z(fan, (1.0, 0.0, 0.0))
        centre = tuple(0.012 * a + 0.030 * a for a in axis)  # ring radius 12 mm + half key
        t = math.radians(tilt)
        # tilt the key's normal about its own long axis
        side = np.cross((0.0, 0.0, 1.0), axis)
        normal = tuple(math.cos(t) * np.array((0.0, 0.0, 1.0)) + math.sin(t) * side)
        prims.append(Plate(f"key{i}", centre, normal, axis, 0.060, 0.020, two_sided=True))  # type: ignore[arg-type]
        prims.append(Edge(f"key{i}_bitting", centre, axis, 0.040))  # type: ignore[arg-type]
    prims.append(Sphere("ring", (0.0, 0.0, 0.0), 0.006))
    return ConcealedObject(
        "keys", tuple(prims), (0.085, 0.07, 0.01), _ALL_REGIONS,
        "bunch of three 6 x 2 cm keys fanned at -25/0/+25 degrees (tilted +-8 degrees out of plane) on a ring",
        "[EST] geometry; single-key specular peak -1.3 dBsm at 60.5 GHz as radar-physics.md 5; the split "
        "ring is approximated by a 6 mm sphere [EST]")


def _phone() -> ConcealedObject:
    L, W, T = 0.150, 0.075, 0.008
    prims: list[Primitive] = [
        Plate("back", (0.0, 0.0, -T / 2), (0, 0, -1), (1, 0, 0), L, W, two_sided=False),
        Plate("front", (0.0, 0.0, T / 2), (0, 0, 1), (1, 0, 0), L, W, two_sided=False),
        Cylinder("frame_pos_y", (0.0, W / 2, 0.0), (1, 0, 0), T / 2, L),
        Cylinder("frame_neg_y", (0.0, -W / 2, 0.0), (1, 0, 0), T / 2, L),
        Cylinder("frame_pos_x", (L / 2, 0.0, 0.0), (0, 1, 0), T / 2, W),
        Cylinder("frame_neg_x", (-L / 2, 0.0, 0.0), (0, 1, 0), T / 2, W),
    ]
    return ConcealedObject(
        "phone", tuple(prims), (L, W, T), ("chest_left", "chest_right", "waist_left", "waist_right",
                                           "pocket_left", "pocket_right"),
        "smartphone 15 x 7.5 x 0.8 cm: both large faces treated as metal (metal back / shielding and "
        "display ground plane), rounded metal frame as four cylinders",
        "[EST] geometry; back-plate specular peak +18 dBsm at 60.5 GHz as radar-physics.md 5; Carry Object "
        "dataset objects [doc: Gao et al., MMW-Carry, IEEE Sensors J. 24(9), 2024, as cited by mmAnomaly]")


def _laptop() -> ConcealedObject:
    L, W, T = 0.30, 0.21, 0.018
    prims: list[Primitive] = [
        Plate("lid", (0.0, 0.0, T / 2), (0, 0, 1), (1, 0, 0), L, W, two_sided=False),
        Plate("base", (0.0, 0.0, -T / 2), (0, 0, -1), (1, 0, 0), L, W, two_sided=False),
        Plate("side_pos_y", (0.0, W / 2, 0.0), (0, 1, 0), (1, 0, 0), L, T, two_sided=False),
        Plate("side_neg_y", (0.0, -W / 2, 0.0), (0, -1, 0), (1, 0, 0), L, T, two_sided=False),
        Plate("side_pos_x", (L / 2, 0.0, 0.0), (1, 0, 0), (0, 1, 0), W, T, two_sided=False),
        Plate("side_neg_x", (-L / 2, 0.0, 0.0), (-1, 0, 0), (0, 1, 0), W, T, two_sided=False),
    ]
    return ConcealedObject(
        "laptop", tuple(prims), (L, W, T), ("chest_left", "chest_right", "waist_left", "waist_right"),
        "closed 13-14 inch laptop 30 x 21 x 1.8 cm as a metal box (lid, base and four side faces)",
        "[EST] geometry; lid specular peak +33 dBsm at 60.5 GHz as radar-physics.md 5; Carry Object dataset "
        "objects [doc: MMW-Carry, as cited by mmAnomaly]")


_OBJECTS: dict[str, ConcealedObject] = {o.name: o for o in (_handgun(), _knife(), _keys(), _phone(), _laptop())}
#: Read-only registry, name -> :class:`ConcealedObject`.
OBJECTS: Mapping[str, ConcealedObject] = MappingProxyType(_OBJECTS)

#: mmAnomaly's concealed-weapon study uses "three metallic weapon-like objects" (sec. 2.1) but the
#: paper does not name them; its public-data evaluation (Carry Object [8]) has knives, keys, laptops and
#: phones, and the news summary mentions a gun. This default trio is therefore an [EST] choice: the
#: three objects that fit all eight body regions.
MMANOMALY_OBJECTS: tuple[str, ...] = ("handgun", "knife", "keys")


def object_names() -> tuple[str, ...]:
    return tuple(_OBJECTS)


def get_object(name: str | ConcealedObject) -> ConcealedObject:
    """Look an object up by name. Raises ValueError listing the valid names."""
    if isinstance(name, ConcealedObject):
        return name
    key = str(name).strip().lower()
    if key not in _OBJECTS:
        raise ValueError(f"unknown concealed object {name!r}; valid names: {', '.join(_OBJECTS)}")
    return _OBJECTS[key]


# ----------------------------------------------------------------------------------------------
# body regions
# ----------------------------------------------------------------------------------------------

#: The 25 Kinect V2 joint names (Microsoft Kinect for Windows SDK 2.0 ``JointType``) [lit].
KINECT_V2_JOINTS: tuple[str, ...] = (
    "SpineBase", "SpineMid", "Neck", "Head", "ShoulderLeft", "ElbowLeft", "WristLeft", "HandLeft",
    "ShoulderRight", "ElbowRight", "WristRight", "HandRight", "HipLeft", "KneeLeft", "AnkleLeft",
    "FootLeft", "HipRight", "KneeRight", "AnkleRight", "FootRight", "SpineShoulder", "HandTipLeft",
    "ThumbLeft", "HandTipRight", "ThumbRight",
)


#: Other names accepted for a Kinect V2 joint when ``joint_map`` does not say otherwise: the hip
#: centre is ``pelvis`` in mmsight's canonical skeleton (:mod:`mmsight.sim.skeleton`) and ``PELVIS``
#: in Azure Kinect. Snake-case names of the other joints (``spine_shoulder``, ``hip_left``) already
#: match because names are compared without case and underscores.
_JOINT_ALIASES: dict[str, tuple[str, ...]] = {"SpineBase": ("pelvis",)}


@dataclass(frozen=True)
class RegionSpec:
    """Where an object sits on the body, relative to Kinect V2 joints.

    Per frame the body axes are: ``up`` = unit(SpineShoulder - SpineBase) (or the shin direction
    ``up_joints`` when those joints are present), ``lateral`` = unit(left - right of
    ``lateral_joints``) made orthogonal to ``up``, ``forward = lateral x up`` (the way the person
    faces). The object's outward normal is ``n = cos(yaw) forward + side * sin(yaw) lateral`` (side
    = +1 left, -1 right) and its centre ``sum_j w_j J_j + offset_up * up + offset_out * n``.

    Attributes:
        anchor: ``(joint, weight)`` pairs, weights summing to 1.
        offset_up_m: along ``up``, m. offset_out_m: along ``n`` (body half-depth + garment gap), m.
        yaw_deg: rotation of the normal from ``forward`` towards the region's side, degrees.
        lateral_joints: (left joint, right joint) defining the lateral axis.
        up_joints: optional (from, to) joints for a local up axis (shin for the ankle).
    """

    name: str
    side: Literal["left", "right"]
    anchor: tuple[tuple[str, float], ...]
    offset_up_m: float
    offset_out_m: float
    yaw_deg: float
    lateral_joints: tuple[str, str]
    up_joints: tuple[str, str] | None = None
    description: str = ""

    def required_joints(self) -> tuple[str, ...]:
        names = ["SpineBase", "SpineShoulder", *self.lateral_joints, *(j for j, _ in self.anchor)]
        return tuple(dict.fromkeys(names))


def _regions() -> dict[str, RegionSpec]:
    out: dict[str, RegionSpec] = {}
    for side, S in (("left", "Left"), ("right", "Right")):
        out[f"chest_{side}"] = RegionSpec(
            f"chest_{side}", side, (("SpineShoulder", 0.5), (f"Shoulder{S}", 0.5)),
            offset_up_m=-0.12, offset_out_m=0.11, yaw_deg=0.0, lateral_joints=("ShoulderLeft", "ShoulderRight"),
            description="inside jacket / breast pocket: halfway between SpineShoulder and the shoulder, "
                        "12 cm down, 11 cm in front (half chest depth ~10 cm + garment gap) [EST]")
        out[f"waist_{side}"] = RegionSpec(
            f"waist_{side}", side, (("SpineBase", 0.3), (f"Hip{S}", 0.7)),
            offset_up_m=0.06, offset_out_m=0.12, yaw_deg=25.0, lateral_joints=("HipLeft", "HipRight"),
            description="belt line, front-side (waistband carry): 70 % of the way from SpineBase to the "
                        "hip joint, 6 cm up, 12 cm out, facing 25 degrees to the side [EST]")
        out[f"pocket_{side}"] = RegionSpec(
            f"pocket_{side}", side, ((f"Hip{S}", 1.0),),
            offset_up_m=-0.10, offset_out_m=0.09, yaw_deg=20.0, lateral_joints=("HipLeft", "HipRight"),
            description="front trouser pocket on the upper thigh: 10 cm below the hip joint, 9 cm out "
                        "(thigh radius ~8 cm + fabric), facing 20 degrees to the side [EST]")
        out[f"ankle_{side}"] = RegionSpec(
            f"ankle_{side}", side, ((f"Ankle{S}", 1.0),),
            offset_up_m=0.10, offset_out_m=0.055, yaw_deg=60.0, lateral_joints=("HipLeft", "HipRight"),
            up_joints=(f"Ankle{S}", f"Knee{S}"),
            description="ankle holster / sock: 10 cm up the shin from the ankle joint, 5.5 cm out (shin "
                        "radius ~4.5 cm + sock), on the outer-front side (60 degrees); the shin axis "
                        "(ankle->knee) is used as 'up' when the knee joint is given [EST]")
    return {n: out[n] for n in _ALL_REGIONS}


_REGIONS: dict[str, RegionSpec] = _regions()
#: Read-only registry of the 8 mmAnomaly body regions.
REGIONS: Mapping[str, RegionSpec] = MappingProxyType(_REGIONS)
#: Region names in the paper's order: left/right chest, waist, pocket, ankle.
MMANOMALY_REGIONS: tuple[str, ...] = _ALL_REGIONS


def region_names() -> tuple[str, ...]:
    return _ALL_REGIONS


def get_region(name: str | RegionSpec) -> RegionSpec:
    """Look a region up (``"chest_left"``; ``"left chest"`` / ``"chest-left"`` also accepted)."""
    if isinstance(name, RegionSpec):
        return name
    key = str(name).strip().lower().replace("-", "_").replace(" ", "_")
    if key not in _REGIONS:
        parts = key.split("_")
        if len(parts) == 2 and f"{parts[1]}_{parts[0]}" in _REGIONS:
            key = f"{parts[1]}_{parts[0]}"
        else:
            raise ValueError(f"unknown body region {name!r}; valid regions: {', '.join(_ALL_REGIONS)}")
    return _REGIONS[key]


@functools.lru_cache(maxsize=4096)
def _norm_name(n: str) -> str:
    return "".join(ch for ch in str(n).lower() if ch.isalnum())


def _normalize(v: np.ndarray, what: str) -> np.ndarray:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    bad = ~(np.isfinite(n[..., 0]) & (n[..., 0] > 1e-9))
    if np.any(bad):
        t = int(np.argwhere(bad)[0, 0])
        raise ValueError(f"degenerate body frame at frame {t}: {what} has zero length or is not finite")
    return v / n


def attach(
    obj: str | ConcealedObject,
    region: str | RegionSpec,
    joints: np.ndarray,
    joint_names: Sequence[str],
    *,
    local_offset: Sequence[float] | None = None,
    roll: float = 0.0,
    joint_map: Mapping[str, str] | None = None,
    strict: bool = True,
) -> np.ndarray:
    """Poses of an object carried at a body region, following the skeleton frame by frame.

    Args:
        obj: object or its name (checked against :attr:`ConcealedObject.fits_regions` if ``strict``).
        region: one of :data:`MMANOMALY_REGIONS`.
        joints: [T, J, 3] (or [J, 3]) joint positions, m, in any right-handed world frame; the person
            need not be upright (the body axes come from the joints).
        joint_names: [J] names; Kinect V2 names (``SpineShoulder``...), matched ignoring case and
            underscores (``spine_shoulder``, ``SPINE_SHOULDER`` work), and ``pelvis`` for SpineBase,
            so mmsight's canonical skeleton names work as they are.
        local_offset: optional [3] extra offset in the object frame (x down the body, y, z out), m,
            e.g. a per-instance placement jitter.
        roll: extra rotation of the object about its outward normal, rad.
        joint_map: optional mapping from Kinect V2 names to the names used in ``joint_names``.
        strict: raise if the object does not fit the region (a laptop at the ankle).

    Returns:
        poses [T, 4, 4] (or [4, 4] for [J, 3] input): ``T_world_from_object``, whose columns are the
        object's x (down the body), y, z (outward normal) axes and its centre.

    Raises:
        ValueError: unknown region/object, missing joints (the message lists what is needed), bad
            shapes, or a degenerate skeleton frame.
    """
    o = get_object(obj)
    spec = get_region(region)
    if strict and spec.name not in o.fits_regions:
        raise ValueError(f"object {o.name!r} does not fit at {spec.name!r}; it fits: {', '.join(o.fits_regions)} "
                         "(pass strict=False to place it anyway)")
    J = np.asarray(joints, dtype=np.float64)
    single = J.ndim == 2
    if single:
        J = J[None]
    if J.ndim != 3 or J.shape[-1] != 3:
        raise ValueError(f"joints must have shape [T, J, 3] or [J, 3], got {np.shape(joints)}")
    names = list(joint_names)
    if len(names) != J.shape[1]:
        raise ValueError(f"{len(names)} joint names for {J.shape[1]} joints")
    index = {_norm_name(n): i for i, n in enumerate(names)}
    mapping = dict(joint_map or {})

    def idx(kinect_name: str, required: bool = True) -> int | None:
        name = mapping.get(kinect_name, kinect_name)
        i = index.get(_norm_name(name))
        if i is None and kinect_name not in mapping:
            for alias in _JOINT_ALIASES.get(kinect_name, ()):
                i = index.get(_norm_name(alias))
                if i is not None:
                    break
        if i is None and required:
            raise ValueError(
                f"region {spec.name!r} needs joint {kinect_name!r}"
                + (f" (mapped to {name!r})" if name != kinect_name else "")
                + f"; required Kinect V2 joints: {', '.join(spec.required_joints())}; given: {', '.join(names)}")
        return i

    base, top = J[:, idx("SpineBase")], J[:, idx("SpineShoulder")]
    up = _normalize(top - base, "SpineShoulder - SpineBase")
    if spec.up_joints is not None:
        i0, i1 = idx(spec.up_joints[0], False), idx(spec.up_joints[1], False)
        if i0 is not None and i1 is not None:
            up = _normalize(J[:, i1] - J[:, i0], f"{spec.up_joints[1]} - {spec.up_joints[0]}")
    lat = J[:, idx(spec.lateral_joints[0])] - J[:, idx(spec.lateral_joints[1])]
    lat = _normalize(lat - np.sum(lat * up, axis=-1, keepdims=True) * up,
                     f"{spec.lateral_joints[0]} - {spec.lateral_joints[1]} (orthogonal to up)")
    fwd = np.cross(lat, up)
    s = 1.0 if spec.side == "left" else -1.0
    yaw = math.radians(spec.yaw_deg)
    normal = math.cos(yaw) * fwd + s * math.sin(yaw) * lat
    anchor = sum(w * J[:, idx(j)] for j, w in spec.anchor)
    centre = anchor + spec.offset_up_m * up + spec.offset_out_m * normal
    x_ax = -up
    z_ax = normal
    y_ax = np.cross(z_ax, x_ax)
    if roll:
        c, sn = math.cos(roll), math.sin(roll)
        x_ax, y_ax = c * x_ax + sn * y_ax, -sn * x_ax + c * y_ax
    R = np.stack([x_ax, y_ax, z_ax], axis=-1)  # [T, 3, 3], columns = object axes
    if local_offset is not None:
        off = np.asarray(local_offset, dtype=np.float64).reshape(3)
        centre = centre + R @ off
    poses = np.zeros((J.shape[0], 4, 4))
    poses[:, :3, :3] = R
    poses[:, :3, 3] = centre
    poses[:, 3, 3] = 1.0
    return poses[0] if single else poses


# ----------------------------------------------------------------------------------------------
# scatterers and clothing loss
# ----------------------------------------------------------------------------------------------


def _as_instance(clothing: str | Material | MaterialInstance) -> MaterialInstance:
    if isinstance(clothing, MaterialInstance):
        return clothing
    return get_material(clothing).nominal_instance()


def concealed_two_way_loss_db(
    clothing: str | Material | MaterialInstance,
    freq_hz: float | np.ndarray,
    angle: float | np.ndarray = 0.0,
    bandwidth_hz: float = 0.0,
) -> float | np.ndarray:
    """Two-way (radar -> garment -> object -> garment -> radar) power loss of the garment, dB (>= 0).

    Args:
        clothing: a clothing instance (its own thickness), a material or a material name (nominal
            thickness).
        freq_hz: Hz, scalar (or array when ``angle`` is scalar).
        angle: incidence angle(s) on the garment, rad; an array of angles (any shape) is evaluated on a
            0.5-degree grid and interpolated. Angles are clipped to 85 degrees.
        bandwidth_hz: average over the chirp bandwidth (see :meth:`Material.one_way_loss_db`).
    """
    inst = _as_instance(clothing)
    a = np.asarray(angle, dtype=np.float64)
    if a.ndim == 0:
        return inst.two_way_loss_db(freq_hz, min(float(a), math.radians(85.0)), bandwidth_hz=bandwidth_hz)
    if np.ndim(freq_hz) != 0:
        raise ValueError("give either an array of frequencies or an array of angles, not both")
    grid = np.radians(np.arange(0.0, 85.0 + 1e-9, 0.5))
    table = np.array([inst.two_way_loss_db(freq_hz, float(g), bandwidth_hz=bandwidth_hz) for g in grid])
    return np.interp(np.clip(np.abs(a), 0.0, grid[-1]), grid, table)


def object_scatterers(
    obj: str | ConcealedObject,
    pose: np.ndarray,
    radar_position: Sequence[float] | np.ndarray = (0.0, 0.0, 0.0),
    freq_hz: float = 60e9,
    clothing: str | Material | MaterialInstance | None = None,
    bandwidth_hz: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Radar scatterers of a posed object, with aspect-dependent RCS.

    Args:
        obj: object or name.
        pose: [4, 4] or [T, 4, 4] ``T_world_from_object`` (e.g. from :func:`attach`); the world frame is
            the one of ``radar_position`` (the radar frame if the radar is at the origin).
        radar_position: [3] m.
        freq_hz: Hz (use the radar's centre frequency).
        clothing: garment covering the object; its two-way loss (at the incidence angle on the
            garment, taken parallel to the object's face) is applied to every RCS.
        bandwidth_hz: band average of the garment loss.

    Returns:
        positions [K, 3] (or [T, K, 3]) m, and rcs [K] (or [T, K]) m^2 (effective, after the garment).
    """
    o = get_object(obj)
    P = np.asarray(pose, dtype=np.float64)
    single = P.ndim == 2
    if single:
        P = P[None]
    if P.ndim != 3 or P.shape[-2:] != (4, 4):
        raise ValueError(f"pose must have shape [4, 4] or [T, 4, 4], got {np.shape(pose)}")
    if not np.all(np.isfinite(P)):
        raise ValueError("pose contains non-finite values")
    radar = np.asarray(radar_position, dtype=np.float64).reshape(3)
    lam = _wavelength(freq_hz)
    R, t = P[:, :3, :3], P[:, :3, 3]
    local = o.local_positions()  # [K, 3]
    pos = np.einsum("tij,kj->tki", R, local) + t[:, None, :]  # [T, K, 3]
    to_radar = radar[None, None, :] - pos
    dist = np.linalg.norm(to_radar, axis=-1, keepdims=True)
    if np.any(dist == 0):
        raise ValueError("a scatterer coincides with the radar position")
    d_world = to_radar / dist
    d_local = np.einsum("tji,tkj->tki", R, d_world)  # R^T d
    T_, K = d_local.shape[:2]
    flat = d_local.reshape(-1, 3)
    rcs = np.empty((T_ * K,))
    for k, p in enumerate(o.primitives):
        sel = slice(k, None, K)
        rcs[sel] = p.rcs(flat[sel], lam)
    rcs = rcs.reshape(T_, K)
    if clothing is not None:
        ang = np.arccos(np.clip(np.abs(d_local[..., 2]), 0.0, 1.0))
        loss = concealed_two_way_loss_db(clothing, freq_hz, ang, bandwidth_hz)
        rcs = rcs * 10.0 ** (-np.asarray(loss) / 10.0)
    if single:
        return pos[0], rcs[0]
    return pos, rcs


# ----------------------------------------------------------------------------------------------
# summaries (docs/sim_materials.md)
# ----------------------------------------------------------------------------------------------


def _cone_directions(half_angle: float, step: float = 0.004) -> tuple[np.ndarray, np.ndarray]:
    """Directions within ``half_angle`` of +z on a direction-cosine grid, with solid-angle weights."""
    smax = math.sin(half_angle)
    g = np.arange(-smax, smax + 1e-12, step)
    ux, uy = np.meshgrid(g, g, indexing="ij")
    r2 = ux**2 + uy**2
    keep = r2 <= smax**2
    ux, uy = ux[keep], uy[keep]
    uz = np.sqrt(1.0 - ux**2 - uy**2)
    w = 1.0 / uz  # d(solid angle) = dux duy / uz
    return np.stack([ux, uy, uz], axis=1), w / w.sum()


def aspect_averaged_rcs(
    obj: str | ConcealedObject, freq_hz: float, half_angle: float = math.radians(30.0),
    axis: Sequence[float] = (0.0, 0.0, 1.0),
) -> float:
    """Mean incoherent RCS (m^2) over directions uniform in solid angle within ``half_angle`` of
    ``axis`` (object frame; default the outward face normal, i.e. "seen roughly from the front")."""
    o = get_object(obj)
    dirs, w = _cone_directions(half_angle)
    a = _unit(axis, "axis")
    z = np.array([0.0, 0.0, 1.0])
    if not np.allclose(a, z):
        v = np.cross(z, a)
        s, c = np.linalg.norm(v), float(z @ a)
        vx = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
        rot = np.eye(3) + vx + vx @ vx * ((1 - c) / (s**2)) if s > 1e-12 else -np.eye(3)
        dirs = dirs @ rot.T
    return float(np.sum(w * o.total_rcs(dirs, freq_hz)))


def object_table(freqs_hz: Sequence[float] = (60e9, 77e9)) -> list[dict[str, object]]:
    """Rows per object: broadside (face-on, +z) and edge-on (+y) incoherent RCS, cone-averaged RCS
    (+-30 degrees around the face normal), in dBsm, per frequency."""
    rows: list[dict[str, object]] = []
    for o in _OBJECTS.values():
        row: dict[str, object] = {"name": o.name, "K": o.n_scatterers, "size_cm": tuple(100 * s for s in o.size_m),
                                  "fits": o.fits_regions, "source": o.source, "description": o.description}
        for f in freqs_hz:
            tag = f"{f / 1e9:g}"
            row[f"broadside@{tag}"] = float(em.to_db(o.total_rcs(np.array([0.0, 0.0, 1.0]), f)))
            row[f"edge@{tag}"] = float(em.to_db(o.total_rcs(np.array([0.0, 1.0, 0.0]), f)))
            row[f"avg30@{tag}"] = float(em.to_db(aspect_averaged_rcs(o, f)))
        rows.append(row)
    return rows


def format_object_table(freqs_hz: Sequence[float] = (60e9, 77e9)) -> str:
    """Markdown tables of :func:`object_table`, then the region definitions."""
    rows = object_table(freqs_hz)
    tags = [f"{f / 1e9:g}" for f in freqs_hz]
    head = ["object", "K", "size cm"] + [f"face-on {t} GHz" for t in tags] + [f"edge-on (+y) {t} GHz" for t in tags] \
        + [f"mean ±30° {t} GHz" for t in tags]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        size = " x ".join(f"{s:.3g}" for s in r["size_cm"])  # type: ignore[union-attr]
        cells = [str(r["name"]), str(r["K"]), size]
        for key in ("broadside", "edge", "avg30"):
            cells += [f"{r[f'{key}@{t}']:.1f}" for t in tags]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "| object | fits regions | model | source |", "|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['name']} | {', '.join(r['fits'])} | {r['description']} | {r['source']} |")  # type: ignore[arg-type]
    lines += ["", "| region | anchor (Kinect V2) | up m | out m | yaw ° | notes |", "|---|---|---|---|---|---|"]
    for spec in _REGIONS.values():
        anchor = " + ".join(f"{w:g}·{j}" for j, w in spec.anchor)
        lines.append(f"| {spec.name} | {anchor} | {spec.offset_up_m:+.3f} | {spec.offset_out_m:.3f} | "
                     f"{spec.yaw_deg:g} | {spec.description} |")
    return "\n".join(lines)
