"""RGB-D camera of the simulator: pinhole model, ray-cast rendering, shading, sensor and depth noise.

Frames: the **camera frame** is OpenCV's (x right, y down, z forward along the optical axis); the
scene is in the **room frame** of :mod:`mmsight.sim.skeleton` (+z up, floor at z = 0). A camera holds
``T_room_from_camera`` (4x4); :meth:`PinholeCamera.from_radar_extrinsics` builds one from the recording's
``T_radar_from_camera`` and the radar's pose in the room. Pixel (u, v) = (column, row) with pixel
centres at integer coordinates (OpenCV), so a centred principal point is ``((W - 1) / 2, (H - 1) / 2)``.

:func:`render_rgbd` casts one ray per pixel through :func:`mmsight.sim.geometry.ray_cast` and returns

* ``rgb`` ``uint8 [H, W, 3]`` (sRGB),
* ``depth`` ``float32 [H, W]`` metres along the optical axis (z-depth, not ray length), 0 = no return,
* ``mask`` ``int32 [H, W]`` the ``object_id`` seen at each pixel, -1 = nothing.

Every primitive is opaque to the camera (walls hide people, clothing hides concealed objects) except
those whose appearance has visible opacity < 0.5 (glass): rays continue through them and pick up a
faint tint and the glass's specular highlight; depth and mask come from the surface behind. The
models (shading, textures, lights, sensor noise, a RealSense-D435-like depth error) are described in
``docs/sim_camera.md``.
"""

from __future__ import annotations

import math
import threading
import zlib
from dataclasses import dataclass, field, replace
from typing import Literal, Mapping, NamedTuple, Sequence, Union

import numpy as np
from scipy import ndimage

from .geometry import RayHits, SceneGeometry, _unit_rows, ray_cast, segment_occluded, tail_geometry
from .materials import Appearance, SampledAppearance, get_material
from mmsight.utils.random import standard_normal_f32

__all__ = [
    "PinholeCamera",
    "Light",
    "Lighting",
    "SurfaceLook",
    "DepthNoiseModel",
    "RenderOptions",
    "RGBD",
    "CameraLabels",
    "StaticView",
    "PATTERNS",
    "look_at_pose",
    "colour_temperature_rgb",
    "sample_lighting",
    "sample_looks",
    "render_labels",
    "render_rgbd",
    "depth_noise",
]


# ----------------------------------------------------------------------------------------------
# camera model
# ----------------------------------------------------------------------------------------------


def _rigid(m: np.ndarray, what: str) -> np.ndarray:
    t = np.asarray(m, dtype=np.float64)
    if t.shape != (4, 4):
        raise ValueError(f"{what} must be 4x4, got {t.shape}")
    r = t[:3, :3]
    if not np.allclose(r @ r.T, np.eye(3), atol=1e-6) or np.linalg.det(r) < 0:
        raise ValueError(f"{what}: rotation must be a proper orthonormal matrix")
    if not np.allclose(t[3], [0, 0, 0, 1]):
        raise ValueError(f"{what}: last row must be [0, 0, 0, 1]")
    return t


def _invert(t: np.ndarray) -> np.ndarray:
    out = np.eye(4)
    out[:3, :3] = t[:3, :3].T
    out[:3, 3] = -t[:3, :3].T @ t[:3, 3]
    return out


@dataclass(frozen=True)
class PinholeCamera:
    """An ideal pinhole camera (no lens distortion).

    Attributes:
        width, height: image size, pixels.
        K: ``[3, 3]`` intrinsics ``[[fx, 0, cx], [0, fy, cy], [0, 0, 1]]`` (pixels).
        T_room_from_camera: ``[4, 4]`` camera pose in the room frame (camera frame = OpenCV).
    """

    width: int
    height: int
    K: np.ndarray
    T_room_from_camera: np.ndarray = field(default_factory=lambda: np.eye(4))

    def __post_init__(self) -> None:
        if int(self.width) <= 0 or int(self.height) <= 0:
            raise ValueError(f"image size must be positive, got {self.width}x{self.height}")
        k = np.asarray(self.K, dtype=np.float64)
        if k.shape != (3, 3) or k[0, 0] <= 0 or k[1, 1] <= 0 or not np.allclose(k[2], [0, 0, 1]):
            raise ValueError(f"K must be 3x3 with fx, fy > 0 and last row [0, 0, 1], got {k}")
        object.__setattr__(self, "width", int(self.width))
        object.__setattr__(self, "height", int(self.height))
        object.__setattr__(self, "K", k)
        object.__setattr__(self, "T_room_from_camera", _rigid(self.T_room_from_camera, "T_room_from_camera"))

    # -- constructors ------------------------------------------------------------------------

    @classmethod
    def from_intrinsics(
        cls,
        width: int,
        height: int,
        fx: float,
        fy: float | None = None,
        cx: float | None = None,
        cy: float | None = None,
        T_room_from_camera: np.ndarray | None = None,
    ) -> "PinholeCamera":
        """From focal lengths and principal point (pixels; default: image centre, ``fy = fx``)."""
        fy = fx if fy is None else fy
        cx = (width - 1) / 2.0 if cx is None else cx
        cy = (height - 1) / 2.0 if cy is None else cy
        k = np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])
        return cls(width, height, k, np.eye(4) if T_room_from_camera is None else T_room_from_camera)

    @classmethod
    def from_fov(
        cls,
        width: int,
        height: int,
        hfov: float,
        position: Sequence[float],
        look_at: Sequence[float],
        up: Sequence[float] = (0.0, 0.0, 1.0),
    ) -> "PinholeCamera":
        """Square pixels with horizontal field of view ``hfov`` (rad), placed at ``position`` (room, m)
        looking at ``look_at``, image "up" towards ``up`` (room +z by default)."""
        if not 0 < hfov < math.pi:
            raise ValueError(f"hfov must be in (0, pi) rad, got {hfov}")
        fx = 0.5 * width / math.tan(0.5 * hfov)
        return cls.from_intrinsics(width, height, fx, T_room_from_camera=look_at_pose(position, look_at, up))

    @classmethod
    def from_radar_extrinsics(
        cls,
        width: int,
        height: int,
        K: np.ndarray,
        T_radar_from_camera: np.ndarray,
        T_room_from_radar: np.ndarray,
    ) -> "PinholeCamera":
        """From calibration-style extrinsics: ``T_room_from_camera = T_room_from_radar @ T_radar_from_camera``."""
        t = _rigid(T_room_from_radar, "T_room_from_radar") @ _rigid(T_radar_from_camera, "T_radar_from_camera")
        return cls(width, height, K, t)

    # -- properties --------------------------------------------------------------------------

    @property
    def fx(self) -> float:
        return float(self.K[0, 0])

    @property
    def fy(self) -> float:
        return float(self.K[1, 1])

    @property
    def cx(self) -> float:
        return float(self.K[0, 2])

    @property
    def cy(self) -> float:
        return float(self.K[1, 2])

    @property
    def position(self) -> np.ndarray:
        """``[3]`` camera centre in the room frame, m."""
        return self.T_room_from_camera[:3, 3].copy()

    @property
    def T_camera_from_room(self) -> np.ndarray:
        return _invert(self.T_room_from_camera)

    def T_radar_from_camera(self, T_room_from_radar: np.ndarray) -> np.ndarray:
        """The extrinsics a recording stores, for a radar at ``T_room_from_radar``."""
        return _invert(_rigid(T_room_from_radar, "T_room_from_radar")) @ self.T_room_from_camera

    def scaled(self, factor: float) -> "PinholeCamera":
        """The same camera at ``factor`` times the resolution (intrinsics scaled about pixel edges)."""
        w, h = int(round(self.width * factor)), int(round(self.height * factor))
        k = self.K.copy()
        k[0, 0] *= w / self.width
        k[1, 1] *= h / self.height
        k[0, 2] = (self.cx + 0.5) * w / self.width - 0.5
        k[1, 2] = (self.cy + 0.5) * h / self.height - 0.5
        return replace(self, width=w, height=h, K=k)

    # -- geometry ----------------------------------------------------------------------------

    def camera_rays(self) -> np.ndarray:
        """``[H, W, 3]`` ray directions in the camera frame with z = 1 (not normalised)."""
        u = np.arange(self.width, dtype=np.float64)
        v = np.arange(self.height, dtype=np.float64)
        x = (u - self.cx) / self.fx
        y = (v - self.cy) / self.fy
        out = np.empty((self.height, self.width, 3))
        out[..., 0] = x[None, :]
        out[..., 1] = y[:, None]
        out[..., 2] = 1.0
        return out

    def rays(self) -> tuple[np.ndarray, np.ndarray]:
        """Origin ``[3]`` (the camera centre) and unit directions ``[H, W, 3]``, both in the room frame."""
        d = self.camera_rays()
        d /= np.linalg.norm(d, axis=-1, keepdims=True)
        return self.position, d @ self.T_room_from_camera[:3, :3].T

    def project(self, points_room: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pixels ``[N, 2]`` (u, v; NaN behind the camera) and z-depth ``[N]`` (m, <= 0 behind) of room
        points ``[N, 3]``. Points outside the image are projected all the same."""
        p = np.asarray(points_room, dtype=np.float64).reshape(-1, 3)
        t = self.T_camera_from_room
        pc = p @ t[:3, :3].T + t[:3, 3]
        z = pc[:, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            uv = np.stack([self.fx * pc[:, 0] / z + self.cx, self.fy * pc[:, 1] / z + self.cy], axis=1)
        uv[z <= 0] = np.nan
        return uv, z

    def backproject(self, depth: np.ndarray, frame: Literal["room", "camera"] = "room") -> np.ndarray:
        """Points ``[H, W, 3]`` (m) of a z-depth image ``[H, W]``; NaN where depth is 0 (no return)."""
        z = np.asarray(depth, dtype=np.float64)
        if z.shape != (self.height, self.width):
            raise ValueError(f"depth must be [{self.height}, {self.width}], got {z.shape}")
        pc = self.camera_rays() * z[..., None]
        pc[z <= 0] = np.nan
        if frame == "camera":
            return pc
        if frame != "room":
            raise ValueError(f"frame must be 'room' or 'camera', got {frame!r}")
        t = self.T_room_from_camera
        return pc @ t[:3, :3].T + t[:3, 3]


def look_at_pose(position: Sequence[float], look_at: Sequence[float], up: Sequence[float] = (0.0, 0.0, 1.0)) -> np.ndarray:
    """``T_room_from_camera`` of an OpenCV camera at ``position`` looking at ``look_at`` (room, m)."""
    p = np.asarray(position, dtype=np.float64)
    z = np.asarray(look_at, dtype=np.float64) - p
    if np.linalg.norm(z) == 0:
        raise ValueError("look_at must differ from position")
    z /= np.linalg.norm(z)
    upv = np.asarray(up, dtype=np.float64)
    x = np.cross(z, upv)  # image right = forward x up
    if np.linalg.norm(x) < 1e-9:
        raise ValueError("viewing direction is parallel to up")
    x /= np.linalg.norm(x)
    y = np.cross(z, x)  # image down
    t = np.eye(4)
    t[:3, :3] = np.stack([x, y, z], axis=1)
    t[:3, 3] = p
    return t


# ----------------------------------------------------------------------------------------------
# lights and looks
# ----------------------------------------------------------------------------------------------


def colour_temperature_rgb(kelvin: float) -> np.ndarray:
    """``[3]`` linear RGB of a black body at ``kelvin``, normalised to G = 1.

    Planck's law sampled at 610/550/465 nm (roughly where sRGB's R/G/B primaries sit); a coarse stand-in
    for integrating the spectrum against camera sensitivities, good enough to tint lights from warm
    tungsten (2700 K: R/B ~ 2.6) to daylight (6500 K: R/B ~ 0.8).
    """
    if kelvin <= 0:
        raise ValueError("colour temperature must be > 0 K")
    lam = np.array([610e-9, 550e-9, 465e-9])
    c2 = 1.4387769e-2  # h c / k_B, m K
    b = 1.0 / (lam**5 * np.expm1(c2 / (lam * kelvin)))
    return b / b[1]


@dataclass(frozen=True)
class Light:
    """A point or directional light (room frame).

    Attributes:
        kind: ``"point"`` or ``"directional"``.
        vector: ``[3]`` position (point, m) or direction of travel of the light (directional).
        rgb: ``[3]`` linear colour x intensity: irradiance at 1 m (point, falls off as 1/d^2) or constant
            irradiance (directional), in arbitrary units (auto-exposure sets the scale).
    """

    kind: Literal["point", "directional"]
    vector: np.ndarray
    rgb: np.ndarray

    def __post_init__(self) -> None:
        if self.kind not in ("point", "directional"):
            raise ValueError(f"light kind must be 'point' or 'directional', got {self.kind!r}")
        v = np.asarray(self.vector, dtype=np.float64).reshape(3)
        if self.kind == "directional":
            if np.linalg.norm(v) == 0:
                raise ValueError("directional light needs a non-zero direction")
            v = v / np.linalg.norm(v)
        rgb = np.asarray(self.rgb, dtype=np.float64).reshape(3)
        if np.any(rgb < 0):
            raise ValueError("light rgb must be >= 0")
        object.__setattr__(self, "vector", v)
        object.__setattr__(self, "rgb", rgb)


@dataclass(frozen=True)
class Lighting:
    """Ambient term ``[3]`` (linear, irradiance-like units) plus a few lights."""

    ambient: np.ndarray
    lights: tuple[Light, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "ambient", np.asarray(self.ambient, dtype=np.float64).reshape(3))
        object.__setattr__(self, "lights", tuple(self.lights))

    def mean_colour(self) -> np.ndarray:
        """``[3]`` intensity-weighted colour of all sources, G-normalised (for auto white balance)."""
        tot = self.ambient.copy()
        for lt in self.lights:
            tot = tot + lt.rgb
        return tot / max(tot[1], 1e-12)


def sample_lighting(
    rng: np.random.Generator | int | None = None,
    around: Sequence[float] = (0.0, 2.5, 1.5),
    ceiling: float = 2.6,
) -> Lighting:
    """Random indoor lighting: ambient + 1-2 ceiling point lights (2700-6500 K) and, with probability
    0.3, directional daylight (5000-6500 K) through a window. Lights are placed within ~2 m of
    ``around`` (room, m) at up to ``ceiling`` height. [EST: plausible ranges, no measurement]"""
    g = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    c = np.asarray(around, dtype=np.float64)
    ambient = colour_temperature_rgb(g.uniform(3000, 6500)) * g.uniform(0.08, 0.3)
    lights = []
    for _ in range(int(g.integers(1, 3))):
        pos = np.array([c[0] + g.uniform(-2, 2), c[1] + g.uniform(-2, 2), ceiling - g.uniform(0.05, 0.4)])
        lights.append(Light("point", pos, colour_temperature_rgb(g.uniform(2700, 6500)) * g.uniform(1.5, 5.0)))
    if g.random() < 0.3:
        az = g.uniform(0, 2 * np.pi)
        el = g.uniform(0.2, 0.8)
        d = np.array([np.cos(el) * np.sin(az), np.cos(el) * np.cos(az), -np.sin(el)])
        lights.append(Light("directional", d, colour_temperature_rgb(g.uniform(5000, 6500)) * g.uniform(0.3, 1.2)))
    return Lighting(ambient, tuple(lights))


#: Garment-scale patterns a :class:`SurfaceLook` can carry (besides the material's micro texture).
PATTERNS: tuple[str, ...] = ("plain", "stripes", "checks", "noise", "brick", "tiles")
_CLOTHING_TEXTURES = ("knit", "denim_twill", "fleece", "woven_nylon", "woven_drape")


@dataclass(frozen=True)
class SurfaceLook:
    """What the camera renders for one (object, material): the material's sampled appearance plus a
    garment-scale pattern.

    Attributes:
        appearance: base colour (sRGB), micro texture family and scale, gloss, opacity.
        pattern: one of :data:`PATTERNS`.
        pattern_rgb: sRGB colour mixed in by the pattern (stripe colour, brick mortar, tile grout).
        pattern_period_m: period of the pattern, m.
        pattern_angle: orientation of stripes/checks in surface coordinates, rad.
        seed: seed of the procedural noise (so that two surfaces of one material differ).
    """

    appearance: SampledAppearance
    pattern: str = "plain"
    pattern_rgb: tuple[int, int, int] = (128, 128, 128)
    pattern_period_m: float = 0.05
    pattern_angle: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.pattern not in PATTERNS:
            raise ValueError(f"unknown pattern {self.pattern!r}; valid: {', '.join(PATTERNS)}")
        if self.pattern_period_m <= 0:
            raise ValueError("pattern_period_m must be > 0")

    @classmethod
    def plain(cls, appearance: SampledAppearance) -> "SurfaceLook":
        """A look with the default pattern of the texture family (brick courses, tiles) or plain."""
        pattern = {"brick": "brick", "fissured_tile": "tiles"}.get(appearance.texture, "plain")
        period = {"brick": 0.075, "fissured_tile": 0.6}.get(appearance.texture, 0.05)
        mortar = (200, 195, 185) if appearance.texture == "brick" else (150, 150, 150)
        seed = zlib.crc32(repr((appearance.texture, appearance.rgb, appearance.pattern_scale_m)).encode()) % (2**31)
        return cls(appearance, pattern, mortar, period, 0.0, seed)


_FALLBACK_APPEARANCE = Appearance("painted_plaster", (((120, 120, 120), (180, 180, 180)),), (0.0, 0.2), (0.01, 0.05))


def _material_appearance(name: str) -> Appearance:
    try:
        return get_material(name).appearance
    except (KeyError, ValueError):
        return _FALLBACK_APPEARANCE


def _sample_look(appearance: Appearance, rng: np.random.Generator) -> SurfaceLook:
    app = appearance.sample(rng)
    seed = int(rng.integers(2**31))
    if app.texture in _CLOTHING_TEXTURES:
        pattern = str(rng.choice(["plain", "stripes", "checks", "noise"], p=[0.45, 0.2, 0.15, 0.2]))
        second = appearance.sample(rng).rgb
        if pattern == "noise":  # heather: a lighter/darker shade of the base colour
            f = rng.uniform(0.6, 1.4)
            second = tuple(int(np.clip(c * f, 0, 255)) for c in app.rgb)  # type: ignore[assignment]
        period = float(np.exp(rng.uniform(np.log(0.01), np.log(0.08))))
        angle = float(rng.choice([0.0, np.pi / 2, np.pi / 4]) + rng.normal(0, 0.05))
        return SurfaceLook(app, pattern, second, period, angle, seed)  # type: ignore[arg-type]
    look = SurfaceLook.plain(app)
    return replace(look, seed=seed, pattern_period_m=look.pattern_period_m * rng.uniform(0.9, 1.1))


LookKey = Union[str, tuple[int, str]]
LookValue = Union[SurfaceLook, SampledAppearance]


def sample_looks(geometry: SceneGeometry, rng: np.random.Generator | int | None = None) -> dict[tuple[int, str], SurfaceLook]:
    """One random :class:`SurfaceLook` per distinct ``(object_id, material)`` of the scene, drawn from
    the material registry's appearance ranges (unknown materials: a neutral grey). Deterministic
    for a given seed and scene."""
    g = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    out: dict[tuple[int, str], SurfaceLook] = {}
    for p in range(len(geometry)):
        key = (int(geometry.object_id[p]), geometry.material_name(p))
        if key not in out:
            out[key] = _sample_look(_material_appearance(key[1]), g)
    return out


def _resolve_looks(
    geometry: SceneGeometry, appearances: Mapping[LookKey, LookValue] | None, rng: np.random.Generator
) -> list[SurfaceLook]:
    """Per-primitive looks: ``appearances[(object_id, material)]``, else ``appearances[material]``, else
    a random draw (one per (object_id, material))."""
    sampled: dict[tuple[int, str], SurfaceLook] = {}
    converted: dict[int, SurfaceLook] = {}
    looks = []
    for p in range(len(geometry)):
        mat = geometry.material_name(p)
        key = (int(geometry.object_id[p]), mat)
        val: LookValue | None = None
        if appearances is not None:
            val = appearances.get(key, appearances.get(mat))  # type: ignore[call-overload]
        if val is None:
            if key not in sampled:
                sampled[key] = _sample_look(_material_appearance(mat), rng)
            val = sampled[key]
        if not isinstance(val, SurfaceLook):
            if id(val) not in converted:
                converted[id(val)] = SurfaceLook.plain(val)
            val = converted[id(val)]
        looks.append(val)
    return looks


# ----------------------------------------------------------------------------------------------
# procedural textures
# ----------------------------------------------------------------------------------------------

_MASK32 = np.int64(0xFFFFFFFF)


def _hash01(ix: np.ndarray, iy: np.ndarray, seed: np.ndarray | int) -> np.ndarray:
    """Deterministic pseudo-random values in [0, 1) on an integer lattice."""
    h = (ix * 374761393 + iy * 668265263 + np.asarray(seed, dtype=np.int64) * 1442695041) & _MASK32
    h = ((h ^ (h >> 13)) * 1274126177) & _MASK32
    h = h ^ (h >> 16)
    return h.astype(np.float64) / 4294967296.0


def _value_noise(x: np.ndarray, y: np.ndarray, seed: np.ndarray | int) -> np.ndarray:
    """Smooth value noise in [-1, 1] with unit lattice spacing."""
    fx, fy = np.floor(x), np.floor(y)
    ix, iy = fx.astype(np.int64), fy.astype(np.int64)
    tx, ty = x - fx, y - fy
    tx = tx * tx * (3 - 2 * tx)
    ty = ty * ty * (3 - 2 * ty)
    a = _hash01(ix, iy, seed)
    b = _hash01(ix + 1, iy, seed)
    c = _hash01(ix, iy + 1, seed)
    d = _hash01(ix + 1, iy + 1, seed)
    top = a + (b - a) * tx
    bot = c + (d - c) * tx
    return 2.0 * (top + (bot - top) * ty) - 1.0


def _band_limit(footprint: np.ndarray, period: np.ndarray | float) -> np.ndarray:
    """Contrast left of a feature of ``period`` (m) seen with pixels of ``footprint`` (m): 1 when well
    resolved, -> 0 when a pixel covers several periods (a box filter's attenuation, smoothed)."""
    r = footprint / period
    return np.exp(-2.0 * r * r)


# micro textures: (noise amplitude, rib amplitude, kind)
_MICRO: dict[str, tuple[float, float, str]] = {
    "knit": (0.06, 0.10, "ribs"),
    "denim_twill": (0.06, 0.14, "diagonal"),
    "fleece": (0.08, 0.0, "noise"),
    "woven_nylon": (0.04, 0.05, "ribs"),
    "leather": (0.08, 0.0, "noise"),
    "quilted": (0.03, 0.0, "quilt"),
    "woven_drape": (0.05, 0.12, "folds"),
    "foam": (0.03, 0.0, "noise"),
    "foam_board": (0.02, 0.0, "noise"),
    "particle": (0.18, 0.0, "noise"),
    "painted_plaster": (0.035, 0.0, "noise"),
    "wood_grain": (0.05, 0.15, "grain"),
    "glass": (0.0, 0.0, "noise"),
    "fissured_tile": (0.12, 0.0, "noise"),
    "concrete": (0.12, 0.0, "noise"),
    "brick": (0.10, 0.0, "noise"),
    "brushed_metal": (0.06, 0.0, "brushed"),
    "skin": (0.04, 0.0, "noise"),
}


_TEXTURE_CODES: tuple[str, ...] = tuple(_MICRO)


def _micro_texture(texture: str, uv: np.ndarray, scale: np.ndarray, seed: np.ndarray, footprint: np.ndarray) -> np.ndarray:
    """Multiplicative brightness modulation ``[N]`` (around 1) of a texture family at its feature size
    ``scale [N]`` (m), noise ``seed [N]``, pixel ``footprint [N]`` (m)."""
    amp_n, amp_r, kind = _MICRO.get(texture, (0.04, 0.0, "noise"))
    u, v = uv[:, 0], uv[:, 1]
    out = np.ones(len(u))
    if amp_n > 0:
        out += amp_n * _band_limit(footprint, scale) * _value_noise(u / scale, v / scale, seed)
        # a coarser octave keeps some texture visible from afar
        out += 0.5 * amp_n * _band_limit(footprint, 8 * scale) * _value_noise(u / (8 * scale), v / (8 * scale), seed + 7)
    if kind == "ribs":
        out += amp_r * _band_limit(footprint, scale) * np.sin(2 * np.pi * u / scale)
    elif kind == "diagonal":
        out += amp_r * _band_limit(footprint, scale) * np.sin(2 * np.pi * (u + v) / scale)
    elif kind == "folds":  # curtain folds ~0.1 m
        out += amp_r * _band_limit(footprint, 0.1) * np.sin(2 * np.pi * u / 0.1 + _value_noise(v / 0.5, u, seed))
    elif kind == "grain":
        warp = 0.5 * _value_noise(u / (6 * scale), v / (30 * scale), seed + 3)
        out += amp_r * _band_limit(footprint, scale) * np.sin(2 * np.pi * (u / scale + warp))
    elif kind == "quilt":  # horizontal baffles of height `scale`: darker seams, puffed middles
        f = np.mod(v / scale, 1.0)
        out *= 1.0 - 0.25 * _band_limit(footprint, scale) * (1.0 - np.sin(np.pi * f) ** 0.5)
    elif kind == "brushed":
        out += amp_n * _band_limit(footprint, 0.2 * scale) * _value_noise(u / (10 * scale), v / (0.2 * scale), seed + 5)
    return out


def _pulse(x: np.ndarray, period: float, duty: float, width: np.ndarray) -> np.ndarray:
    """Box-filtered pulse train: the mean over ``[x - width/2, x + width/2]`` of the indicator
    ``mod(x, period) < duty * period`` (exact, so thin lines do not alias)."""
    on = duty * period

    def integral(y: np.ndarray) -> np.ndarray:
        return np.floor(y / period) * on + np.minimum(np.mod(y, period), on)

    w = np.maximum(width, 1e-9)
    return (integral(x + 0.5 * w) - integral(x - 0.5 * w)) / w


def _pattern_mix(look: SurfaceLook, uv: np.ndarray, footprint: np.ndarray) -> np.ndarray:
    """Weight ``[N]`` in [0, 1] of the pattern colour (0 = base colour), filtered over the pixel
    footprint (m)."""
    n = len(uv)
    if look.pattern == "plain":
        return np.zeros(n)
    c, s = math.cos(look.pattern_angle), math.sin(look.pattern_angle)
    a = c * uv[:, 0] + s * uv[:, 1]
    b = -s * uv[:, 0] + c * uv[:, 1]
    p = look.pattern_period_m
    if look.pattern == "stripes":
        return _pulse(a, p, 0.5, footprint)
    if look.pattern == "checks":
        sa, sb = _pulse(a, p, 0.5, footprint), _pulse(b, p, 0.5, footprint)
        return sa + sb - 2.0 * sa * sb
    if look.pattern == "noise":
        return 0.5 + 0.5 * _band_limit(footprint, p) * _value_noise(a / p, b / p, look.seed)
    # brick courses (215 x 65 mm bricks, 10 mm joints, half-bond) or square tiles with thin grout
    if look.pattern == "brick":
        joint, length = 0.012 * p / 0.075, 0.225 * p / 0.075
        a = a + 0.5 * length * (np.floor(b / p) % 2)
    else:
        joint, length = 0.006, p
    ja = _pulse(a, length, joint / length, footprint)
    jb = _pulse(b, p, joint / p, footprint)
    return 1.0 - (1.0 - ja) * (1.0 - jb)


_LUMA = np.array([0.2126, 0.7152, 0.0722])


def _srgb_to_linear(c: np.ndarray) -> np.ndarray:
    c = np.asarray(c, dtype=np.float64)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _linear_to_srgb(c: np.ndarray) -> np.ndarray:
    c = np.clip(c, 0.0, 1.0)
    return np.where(c <= 0.0031308, 12.92 * c, 1.055 * np.power(c, 1 / 2.4) - 0.055)


_SRGB_LUT_SIZE = 16384
_SRGB_LUT = np.round(_linear_to_srgb(np.linspace(0.0, 1.0, _SRGB_LUT_SIZE)) * 255.0).astype(np.uint8)


def _encode_srgb8(c: np.ndarray) -> np.ndarray:
    """Linear [0, 1] -> sRGB uint8 through a 16k-entry table (error < 0.3 code values)."""
    idx = (np.clip(c, 0.0, 1.0) * (_SRGB_LUT_SIZE - 1) + 0.5).astype(np.int32)
    return _SRGB_LUT[idx]


# ----------------------------------------------------------------------------------------------
# depth noise
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DepthNoiseModel:
    """Active-stereo depth error in the manner of an Intel RealSense D435 (see docs/sim_camera.md).

    Axial RMS error ``sigma_z = z^2 * subpixel / (focal_px * baseline_m)`` (Intel's stereo depth RMS
    formula), times a grazing-angle factor ``1 + grazing_gain * theta^2 / (pi/2 - theta)^2`` (the
    shape of Nguyen et al.'s Kinect model). Holes (depth 0): outside ``[min_z, max_z]``; with a
    probability rising linearly from ``hole_angle_start`` to ``hole_angle_full`` incidence; on dark
    surfaces (visible albedo as a stand-in for IR reflectance); on glossy surfaces near normal
    incidence; and in the stereo occlusion band left of foreground edges (``stereo_shadow``).

    Attributes:
        baseline_m: stereo baseline (D435: 50 mm).
        focal_px: focal length of the depth imagers at their own resolution (D435 at 848 x 480, 87 deg
            HFOV: ~447 px); it sets the noise level, independently of the rendered resolution.
        subpixel: RMS disparity error, pixels (Intel quotes ~0.08 for a well-textured target).
        min_z, max_z: valid z range, m (D435 MinZ ~0.28 m at 848 x 480).
        grazing_gain: weight of the angle term.
        hole_angle_start, hole_angle_full: incidence angles (rad) where holes start / are certain.
        dark_albedo: linear albedo below which returns start to drop out (probability grows to 0.5
            towards 0 albedo, scaled by min(1, max(0.25, z / 4 m))).
        gloss_hole: hole probability on surfaces with gloss > 0.7 within ~15 deg of normal incidence.
        stereo_shadow: invalidate the stereo occlusion band (the right imager sits +baseline along x).
        depth_unit_m: output quantisation (D435 z16 default: 1 mm).
    """

    baseline_m: float = 0.050
    focal_px: float = 447.0
    subpixel: float = 0.08
    min_z: float = 0.28
    max_z: float = 10.0
    grazing_gain: float = 0.05
    hole_angle_start: float = math.radians(75.0)
    hole_angle_full: float = math.radians(88.0)
    dark_albedo: float = 0.03
    gloss_hole: float = 0.3
    stereo_shadow: bool = True
    depth_unit_m: float = 0.001

    def sigma(self, z: np.ndarray, incidence: np.ndarray | float = 0.0) -> np.ndarray:
        """RMS axial error (m) at z-depth ``z`` (m) and incidence angle (rad)."""
        th = np.clip(np.asarray(incidence, dtype=np.float64), 0.0, math.pi / 2 - 1e-3)
        ang = 1.0 + self.grazing_gain * th**2 / (math.pi / 2 - th) ** 2
        return np.asarray(z, dtype=np.float64) ** 2 * self.subpixel / (self.focal_px * self.baseline_m) * ang


def depth_noise(
    depth: np.ndarray,
    incidence: np.ndarray,
    albedo: np.ndarray,
    gloss: np.ndarray,
    fx_render: float,
    model: DepthNoiseModel,
    rng: np.random.Generator,
) -> np.ndarray:
    """Apply ``model`` to a clean z-depth image ``[H, W]`` (m, 0 = no return).

    Args:
        incidence: ``[H, W]`` angle between the ray and the surface normal, rad.
        albedo: ``[H, W]`` linear luminance albedo of the surface.
        gloss: ``[H, W]`` 0..1.
        fx_render: focal length of the rendered image (pixels), for the width of the stereo shadow.
    Returns:
        ``float32 [H, W]`` noisy depth with holes (0).
    """
    z = np.asarray(depth, dtype=np.float64)
    valid = z > 0
    out = np.where(valid, z + model.sigma(z, incidence) * standard_normal_f32(rng, z.shape), 0.0)
    u = rng.random(z.shape, dtype=np.float32)
    span = max(model.hole_angle_full - model.hole_angle_start, 1e-6)
    p_hole = np.clip((incidence - model.hole_angle_start) / span, 0.0, 1.0)
    p_dark = 0.5 * np.clip((model.dark_albedo - albedo) / max(model.dark_albedo, 1e-12), 0.0, 1.0) * np.clip(z / 4.0, 0.25, 1.0)
    p_gloss = np.where((gloss > 0.7) & (incidence < math.radians(15.0)), model.gloss_hole, 0.0)
    p = 1.0 - (1.0 - p_hole) * (1.0 - p_dark) * (1.0 - p_gloss)
    hole = (u < p) | (z < model.min_z) | (z > model.max_z)
    if model.stereo_shadow:
        hole |= _stereo_shadow(z, fx_render * model.baseline_m)
    out[hole | ~valid] = 0.0
    if model.depth_unit_m > 0:
        out = np.round(out / model.depth_unit_m) * model.depth_unit_m
    return np.maximum(out, 0.0).astype(np.float32)


def _stereo_shadow(z: np.ndarray, fb: float) -> np.ndarray:
    """``[H, W]`` bool: pixels hidden from the right imager (at +baseline along x) by a nearer surface
    to their right: ``k <= f B (1/z_q - 1/z_p)`` for the pixel q k columns to the right."""
    inv = np.where(z > 0, 1.0 / np.where(z > 0, z, 1.0), 0.0)
    disp = fb * inv  # disparity, rendered pixels
    max_shift = int(min(np.ceil(disp.max() - disp.min()) if disp.size else 0, z.shape[1] - 1))
    shadow = np.zeros(z.shape, dtype=bool)
    for k in range(1, max_shift + 1):
        shadow[:, :-k] |= (disp[:, k:] - disp[:, :-k]) >= k
    return shadow & (z > 0)


# ----------------------------------------------------------------------------------------------
# rendering
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RenderOptions:
    """Knobs of :func:`render_rgbd`.

    Attributes:
        exposure: fixed linear exposure scale; None = auto (scene mean -> ``target_grey``).
        target_grey: auto-exposure target for the mean linear luminance.
        exposure_jitter: log-normal sigma of a random exposure error (auto-exposure is imperfect).
        white_balance: 0 = none .. 1 = full grey-world correction of the light colour.
        specular: add Blinn-Phong highlights.
        shadows: cast shadow rays to every light (one extra ray cast per light).
        sensor_noise: shot + read noise.
        full_well_e: (low, high) electrons at saturation, drawn log-uniformly per image (emulates gain).
        read_noise_e: read noise, electrons RMS.
        blur_sigma_px: Gaussian optical blur (pixels, 0 = off).
        depth_model: depth error model; None = exact z-depth (float32).
        background_rgb: linear colour for rays that hit nothing.
        max_layers: how many transparent surfaces (glass) a ray may pass.
    """

    exposure: float | None = None
    target_grey: float = 0.18
    exposure_jitter: float = 0.15
    white_balance: float = 0.8
    specular: bool = True
    shadows: bool = False
    sensor_noise: bool = True
    full_well_e: tuple[float, float] = (1500.0, 8000.0)
    read_noise_e: float = 3.0
    blur_sigma_px: float = 0.5
    depth_model: DepthNoiseModel | None = field(default_factory=DepthNoiseModel)
    background_rgb: tuple[float, float, float] = (0.02, 0.02, 0.025)
    max_layers: int = 3

    @classmethod
    def ideal(cls, **kw: object) -> "RenderOptions":
        """No noise, no blur, no exposure jitter, exact depth (for tests and ground truth)."""
        base = dict(exposure_jitter=0.0, sensor_noise=False, blur_sigma_px=0.0, depth_model=None)
        base.update(kw)
        return cls(**base)  # type: ignore[arg-type]


class RGBD(NamedTuple):
    """Output of :func:`render_rgbd`."""

    rgb: np.ndarray  # uint8 [H, W, 3]
    depth: np.ndarray  # float32 [H, W], m, 0 = no return
    mask: np.ndarray  # int32 [H, W], object_id, -1 = nothing


@dataclass(frozen=True)
class CameraLabels:
    """Noise-free per-pixel ground truth of a camera view (opaque geometry, glass included).

    Attributes:
        depth: ``float32 [H, W]`` exact z-depth, m (0 = nothing).
        object_id, primitive, kind, material: ``int32 [H, W]`` tags (-1 = nothing); kind/material index
            ``SceneGeometry.kinds`` / ``.materials``.
        normal: ``float32 [H, W, 3]`` room-frame unit normals (0 = nothing).
    """

    depth: np.ndarray
    object_id: np.ndarray
    primitive: np.ndarray
    kind: np.ndarray
    material: np.ndarray
    normal: np.ndarray


def _z_factor(camera: PinholeCamera) -> np.ndarray:
    """``[H*W]`` z-depth per metre of ray length: 1 / |(x, y, 1)|."""
    d = camera.camera_rays().reshape(-1, 3)
    return 1.0 / np.linalg.norm(d, axis=1)


def render_labels(camera: PinholeCamera, geometry: SceneGeometry) -> CameraLabels:
    """Ground-truth depth/instance/kind maps: one ray cast, no shading, everything opaque."""
    origin, dirs = camera.rays()
    hits = ray_cast(geometry, origin, dirs.reshape(-1, 3))
    shape = (camera.height, camera.width)
    z = np.where(hits.hit, hits.t * _z_factor(camera), 0.0)
    return CameraLabels(
        depth=z.reshape(shape).astype(np.float32),
        object_id=hits.object_id.reshape(shape).astype(np.int32),
        primitive=hits.primitive.reshape(shape).astype(np.int32),
        kind=hits.kind.reshape(shape).astype(np.int32),
        material=hits.material.reshape(shape).astype(np.int32),
        normal=hits.normal.reshape(shape + (3,)).astype(np.float32),
    )


@dataclass
class _Shaded:
    diffuse: np.ndarray  # [n, 3] linear
    specular: np.ndarray  # [n, 3] linear
    albedo: np.ndarray  # [n] luminance
    incidence: np.ndarray  # [n] rad
    gloss: np.ndarray  # [n]


def _shade(
    hits: RayHits,
    sel: np.ndarray,
    dirs: np.ndarray,
    z: np.ndarray,
    looks: list[SurfaceLook],
    tables: dict[str, np.ndarray],
    geometry: SceneGeometry,
    lighting: Lighting,
    fx: float,
    options: RenderOptions,
) -> _Shaded:
    """Shade the hit rays ``sel`` (indices into ``hits``): textured Lambert + Blinn-Phong."""
    prim = hits.primitive[sel]
    pts = hits.point[sel]
    d = dirs[sel]
    n = hits.normal[sel]
    flip = np.einsum("ij,ij->i", n, d) > 0  # exit hits / back faces: shade the side we see
    n = np.where(flip[:, None], -n, n)
    cos_v = np.clip(-np.einsum("ij,ij->i", n, d), 0.0, 1.0)
    incidence = np.arccos(cos_v)
    footprint = z[sel] / (fx * np.maximum(cos_v, 0.25))  # pixel size on the surface, m
    uv = geometry.surface_uv(pts, prim)

    lid = tables["look_of_prim"][prim]
    base = tables["base"][lid]
    second = tables["second"][lid]
    mix = np.zeros(len(prim))
    mod = np.ones(len(prim))
    tex = tables["texture"][lid]
    for code in np.unique(tex):
        m = np.flatnonzero(tex == code)
        mod[m] = _micro_texture(_TEXTURE_CODES[code], uv[m], tables["scale"][lid[m]], tables["seed"][lid[m]], footprint[m])
    for look_index in np.unique(lid[tables["patterned"][lid]]):
        m = np.flatnonzero(lid == look_index)
        mix[m] = _pattern_mix(looks[look_index], uv[m], footprint[m])
    albedo = (base * (1.0 - mix)[:, None] + second * mix[:, None]) * np.clip(mod, 0.2, 2.0)[:, None]
    albedo = np.clip(albedo, 0.0, 1.0)
    gloss = tables["gloss"][lid]

    light_sum = np.empty_like(albedo)
    light_sum[:] = lighting.ambient
    spec = np.zeros_like(albedo)
    ks = 0.04 + 0.6 * gloss**2
    shininess = 8.0 + 400.0 * gloss**2
    for lt in lighting.lights:
        if lt.kind == "point":
            to_l = lt.vector - pts
            dist2 = np.maximum(np.einsum("ij,ij->i", to_l, to_l), 1e-8)
            inv_dist = 1.0 / np.sqrt(dist2)
            ndl = np.einsum("ij,ij->i", n, to_l) * inv_dist
            ldv = -np.einsum("ij,ij->i", d, to_l) * inv_dist  # l . view
            e_scale = 1.0 / np.maximum(dist2, 1e-4)
        else:
            ndl = -(n @ lt.vector)
            ldv = d @ lt.vector
            e_scale = np.ones(len(pts))
        ndl = np.maximum(ndl, 0.0)
        if options.shadows:
            lit = np.flatnonzero(ndl > 0)
            if len(lit):
                start = pts[lit] + 1e-4 * n[lit]
                target = (np.broadcast_to(lt.vector, (len(lit), 3)) if lt.kind == "point"
                          else pts[lit] - 50.0 * lt.vector)
                ndl[lit[segment_occluded(geometry, start, target)]] = 0.0
        light_sum += np.outer(e_scale * ndl, lt.rgb)
        if options.specular:
            # Blinn-Phong with h = (l + v) / |l + v|: n . h = (n . l + n . v) / sqrt(2 + 2 l . v)
            ndh = np.clip((ndl + cos_v) / np.sqrt(np.maximum(2.0 + 2.0 * ldv, 1e-12)), 0.0, 1.0)
            spec += np.outer(e_scale * ks * np.where(ndl > 0, ndh**shininess, 0.0), lt.rgb)
    lum = albedo @ _LUMA
    return _Shaded(albedo * light_sum, spec, lum, incidence, gloss)


def _pixel_rays(camera: PinholeCamera) -> tuple[np.ndarray, np.ndarray]:
    """Unit ray directions ``[H*W, 3]`` (room frame) and z-depth per metre of ray ``[H*W]``."""
    cam_rays = camera.camera_rays().reshape(-1, 3)
    zf = 1.0 / np.linalg.norm(cam_rays, axis=1)
    return (cam_rays * zf[:, None]) @ camera.T_room_from_camera[:3, :3].T, zf


class StaticView:
    """What a fixed camera sees of the static part of a scene, for rendering many frames of it.

    ``StaticView(camera, static_geometry)`` ray-casts the static geometry once. Passed to
    :func:`render_rgbd` as ``static=`` for a ``geometry`` whose first primitives are exactly
    ``static_geometry``'s (e.g. ``static_geometry.extend(bodies)``), it makes each frame cast only the
    remaining (moving) primitives, and only against the part of each ray in front of the static hit;
    the static pixels' shading (textures, lights) is also kept while the looks and the lighting stay
    the same. The result equals rendering the whole geometry (a moving primitive wins a pixel only
    when strictly nearer, as the full cast's tie rule gives it); scenes with see-through looks (glass)
    or ``RenderOptions(shadows=True)`` (moving shadows on static surfaces) are rendered in full.
    """

    def __init__(self, camera: PinholeCamera, geometry: SceneGeometry) -> None:
        self.camera = camera
        self.geometry = geometry
        self.dirs, self.zf = _pixel_rays(camera)
        self.unit_dirs = _unit_rows(self.dirs)  # what ray_cast casts
        self.hits = ray_cast(geometry, camera.position, self.dirs)
        self._bounds = geometry.bounding_spheres()
        self._memo: tuple[object, ...] | None = None
        self._shaded: _StaticImage | None = None

    def matches(self, camera: PinholeCamera, geometry: SceneGeometry) -> bool:
        """Is ``geometry`` this view's static geometry followed by other primitives, seen by the same camera?"""
        n = len(self.geometry)
        if len(geometry) < n:
            return False
        if camera is not self.camera and not (
            camera.width == self.camera.width and camera.height == self.camera.height
            and np.array_equal(camera.K, self.camera.K)
            and np.array_equal(camera.T_room_from_camera, self.camera.T_room_from_camera)
        ):
            return False
        if geometry is self.geometry:
            return True
        g, st = geometry, self.geometry
        if not (np.array_equal(g.primitive_type[:n], st.primitive_type) and np.array_equal(g.object_id[:n], st.object_id)):
            return False
        if [g.material_name(p) for p in range(n)] != [st.material_name(p) for p in range(n)]:
            return False
        c, r = g.bounding_spheres()
        return bool(np.array_equal(c[:n], self._bounds[0]) and np.array_equal(r[:n], self._bounds[1]))

    def shaded(self, key: tuple[object, ...], shade: "object") -> "_StaticImage":
        """The static scene's shaded image for ``key`` (lighting, looks, ...), computed by ``shade()`` on a miss."""
        memo = self._memo
        same = memo is not None and len(memo) == len(key) and all(
            a is b or (not isinstance(a, (np.ndarray, Lighting)) and a == b) for a, b in zip(memo, key))
        if not same or self._shaded is None:
            self._shaded = shade()  # type: ignore[operator]
            self._memo = key
        return self._shaded


def _render_layers(
    geometry: SceneGeometry, origin: np.ndarray, dirs: np.ndarray, zf: np.ndarray, looks: list[SurfaceLook],
    tables: dict[str, np.ndarray], opacity: np.ndarray, transparent: np.ndarray, lighting: Lighting, fx: float,
    opt: RenderOptions,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cast every pixel ray through the whole geometry (continuing through glass) and shade the hits:
    linear radiance ``[n, 3]``, z-depth, mask, incidence, albedo and gloss ``[n]``."""
    n_pix = len(dirs)
    radiance = np.zeros((n_pix, 3))
    weight = np.ones(n_pix)
    depth = np.zeros(n_pix)
    mask = np.full(n_pix, -1, dtype=np.int64)
    incidence = np.zeros(n_pix)
    albedo = np.ones(n_pix)
    gloss = np.zeros(n_pix)

    # Cast; rays that hit glass continue from the hit point (ignoring that pane) up to max_layers times.
    active = np.arange(n_pix)
    o_act: np.ndarray = origin
    ignore: np.ndarray | None = None
    t_offset = np.zeros(n_pix)  # ray length travelled before the current origin
    n_layers = max(1, opt.max_layers)
    for layer in range(n_layers):
        hits = ray_cast(geometry, o_act, dirs[active], ignore_primitive=ignore)
        t_total = hits.t + t_offset[active]
        hit = hits.hit
        miss_idx = active[~hit]
        radiance[miss_idx] += weight[miss_idx, None] * np.asarray(opt.background_rgb)
        sel = np.flatnonzero(hit)
        if len(sel) == 0:
            break
        pix = active[sel]
        z_here = t_total[sel] * zf[pix]
        z_full = np.zeros(len(hits.t))
        z_full[sel] = z_here
        shaded = _shade(hits, sel, dirs[active], z_full, looks, tables, geometry, lighting, fx, opt)
        prim = hits.primitive[sel]
        alpha = np.where(transparent[prim], opacity[prim], 1.0)
        # a pane adds its (faint) diffuse colour and its full specular highlight
        radiance[pix] += weight[pix, None] * (alpha[:, None] * shaded.diffuse + shaded.specular)
        opaque = ~transparent[prim]
        done = pix[opaque]
        depth[done] = z_here[opaque]
        mask[done] = hits.object_id[sel][opaque]
        incidence[done] = shaded.incidence[opaque]
        albedo[done] = shaded.albedo[opaque]
        gloss[done] = shaded.gloss[opaque]
        cont = np.flatnonzero(~opaque)
        if len(cont) == 0 or layer == n_layers - 1:
            break
        weight[pix[cont]] *= 1.0 - alpha[cont]
        t_offset[pix[cont]] = t_total[sel][cont]
        o_act = hits.point[sel][cont]
        ignore = prim[cont]
        active = pix[cont]

    return radiance, depth, mask, incidence, albedo, gloss


@dataclass
class _StaticImage:
    """Per-pixel outputs of the static scene alone (as :func:`_render_layers` gives them)."""

    radiance: np.ndarray
    depth: np.ndarray
    mask: np.ndarray
    incidence: np.ndarray
    albedo: np.ndarray
    gloss: np.ndarray


def _shade_static(
    static: StaticView, looks: list[SurfaceLook], tables: dict[str, np.ndarray], geometry: SceneGeometry,
    lighting: Lighting, fx: float, opt: RenderOptions,
) -> _StaticImage:
    sh = static.hits
    n_pix = len(sh.t)
    sel = np.flatnonzero(sh.hit)
    z = np.zeros(n_pix)
    z[sel] = sh.t[sel] * static.zf[sel]
    shaded = _shade(sh, sel, static.dirs, z, looks, tables, geometry, lighting, fx, opt)
    radiance = np.zeros((n_pix, 3))
    radiance[~sh.hit] += np.asarray(opt.background_rgb)
    radiance[sel] = 1.0 * (1.0 * shaded.diffuse + shaded.specular)
    mask = np.full(n_pix, -1, dtype=np.int64)
    mask[sel] = sh.object_id[sel]
    incidence = np.zeros(n_pix)
    albedo = np.ones(n_pix)
    gloss = np.zeros(n_pix)
    incidence[sel] = shaded.incidence
    albedo[sel] = shaded.albedo
    gloss[sel] = shaded.gloss
    return _StaticImage(radiance, z, mask, incidence, albedo, gloss)


def _sensor_noise(img: np.ndarray, full_well: float, read_noise: float, rng: np.random.Generator) -> np.ndarray:
    """Photon shot noise and read noise on an exposed linear image (overwritten): clip to [0, 1],
    ``e = img * full_well`` electrons, ``e + sqrt(e) n0 + read_noise n1`` with independent standard
    normals, back to [0, 1] units. The sum of the two noises is one normal of variance
    ``e + read_noise^2``, drawn once per value (float32 draws)."""
    e = np.clip(img, 0.0, 1.0, out=img)
    e *= full_well
    noise = standard_normal_f32(rng, e.shape)
    e += np.sqrt(e + read_noise**2) * noise
    e *= 1.0 / full_well
    return e


def _sensor_noise_reference(img: np.ndarray, full_well: float, read_noise: float, rng: np.random.Generator) -> np.ndarray:
    """:func:`_sensor_noise` with two draws per value (shot and read noise separately); the reference
    the one-draw version is tested against (same distribution, another random stream)."""
    e = np.clip(img, 0.0, 1.0) * full_well
    noise = rng.standard_normal((2,) + e.shape, dtype=np.float32)
    return (e + np.sqrt(e) * noise[0] + read_noise * noise[1]) / full_well


def _rays_near(
    geometry: SceneGeometry, origin: np.ndarray, unit_dirs: np.ndarray, t_max: np.ndarray | None = None
) -> np.ndarray:
    """Indices of the rays ``origin + t unit_dirs`` (``t < t_max``, default unbounded) that may meet a
    primitive of ``geometry``: those inside the cone from ``origin`` around a sphere enclosing all
    primitives of one object and not ending before that sphere (conservative: each primitive's bounding
    sphere lies in its object's sphere, the cone is widened by 1e-4 in cos and the sphere by 1e-6 m)."""
    n = len(unit_dirs)
    if len(geometry) == 0:
        return np.zeros(0, dtype=np.int64)
    c, r = geometry.bounding_spheres()
    if not np.all(np.isfinite(r)):
        return np.arange(n)
    keep = np.zeros(n, dtype=bool)
    ids = geometry.object_id
    for obj in np.unique(ids):
        sel = ids == obj
        lo, hi = c[sel].min(axis=0) - r[sel].max(), c[sel].max(axis=0) + r[sel].max()
        centre = 0.5 * (lo + hi)
        radius = float(np.max(np.linalg.norm(c[sel] - centre, axis=1) + r[sel])) * (1.0 + 1e-6) + 1e-6
        rel = centre - origin
        dist = float(np.linalg.norm(rel))
        if dist <= radius * 1.01 + 1e-3:  # the camera is (nearly) inside the object's sphere
            return np.arange(n)
        cos_a = math.sqrt(max(1.0 - (radius / dist) ** 2, 0.0))
        near = unit_dirs @ (rel / dist) >= cos_a - 1e-4
        if t_max is not None:
            near &= t_max > dist - radius - 1e-6
        keep |= near
    return np.flatnonzero(keep)


def _render_static_view(
    static: StaticView, geometry: SceneGeometry, dirs: np.ndarray, zf: np.ndarray, prim_looks: list[SurfaceLook],
    looks: list[SurfaceLook], tables: dict[str, np.ndarray], lighting: Lighting, fx: float, opt: RenderOptions,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_render_layers` for an opaque scene whose static part is cast already (``static``): cast
    the other primitives in front of the static hits, shade only the pixels they take."""
    n_st = len(static.geometry)
    sh = static.hits
    # the static pixels' shading depends only on their looks, the lights and the camera
    key = (lighting, tuple(prim_looks[:n_st]), float(fx), bool(opt.specular))
    st = static.shaded(key, lambda: _shade_static(static, looks, tables, geometry, lighting, fx, opt))
    radiance = st.radiance.copy()
    depth = st.depth.copy()
    mask = st.mask.copy()
    incidence = st.incidence.copy()
    albedo = st.albedo.copy()
    gloss = st.gloss.copy()
    if len(geometry) == n_st:
        return radiance, depth, mask, incidence, albedo, gloss
    # moving primitives, only in front of the static hits
    # (the static view's directions were normalised by its own cast: the same unit vectors)
    # Only the rays inside the cones of the moving objects' bounding spheres can hit them: cast those
    # (the per-ray results do not depend on which other rays are cast).
    tail = tail_geometry(geometry, n_st)
    t_static = np.where(sh.hit, sh.t, np.inf)
    rays = _rays_near(tail, static.camera.position, static.unit_dirs, t_static)
    if len(rays) == 0:
        return radiance, depth, mask, incidence, albedo, gloss
    dh = ray_cast(tail, static.camera.position, static.unit_dirs[rays], t_max=t_static[rays], unit_dirs=True)
    sub = np.flatnonzero(dh.hit)
    if len(sub) == 0:
        return radiance, depth, mask, incidence, albedo, gloss
    pix = rays[sub]
    prim = dh.primitive[sub] + n_st
    t = dh.t[sub]
    hits = RayHits(t=t, primitive=prim, point=dh.point[sub], normal=dh.normal[sub], object_id=geometry.object_id[prim],
                   kind=geometry.kind[prim], material=geometry.material[prim])
    z = t * zf[pix]
    shaded = _shade(hits, np.arange(len(pix)), dirs[pix], z, looks, tables, geometry, lighting, fx, opt)
    radiance[pix] = 1.0 * (1.0 * shaded.diffuse + shaded.specular)
    depth[pix] = z
    mask[pix] = hits.object_id
    incidence[pix] = shaded.incidence
    albedo[pix] = shaded.albedo
    gloss[pix] = shaded.gloss
    return radiance, depth, mask, incidence, albedo, gloss


_LOOK_MEMO = threading.local()  # .key: the last call's per-primitive looks; .value: their tables


def _look_tables(prim_looks: list[SurfaceLook]) -> tuple[list[SurfaceLook], dict[str, np.ndarray], np.ndarray]:
    """The distinct looks (in order of first use), their shading tables and the per-primitive opacity.

    A sequence renders the same looks every frame: the last result is kept (per thread) and reused
    when every per-primitive look is the same object as last time (the tables are read-only)."""
    memo = _LOOK_MEMO
    key = getattr(memo, "key", None)
    if key is not None and len(key) == len(prim_looks) and all(a is b for a, b in zip(key, prim_looks)):
        return memo.value  # type: ignore[no-any-return]
    looks: list[SurfaceLook] = []
    look_of_prim = np.zeros(len(prim_looks), dtype=np.int64)
    seen: dict[int, int] = {}
    for p, lk in enumerate(prim_looks):
        if id(lk) not in seen:
            seen[id(lk)] = len(looks)
            looks.append(lk)
        look_of_prim[p] = seen[id(lk)]
    tables = {
        "look_of_prim": look_of_prim,
        "base": np.array([_srgb_to_linear(np.array(lk.appearance.rgb) / 255.0) for lk in looks]).reshape(-1, 3),
        "second": np.array([_srgb_to_linear(np.array(lk.pattern_rgb) / 255.0) for lk in looks]).reshape(-1, 3),
        "gloss": np.array([lk.appearance.gloss for lk in looks], dtype=np.float64),
        "texture": np.array([_TEXTURE_CODES.index(lk.appearance.texture) if lk.appearance.texture in _TEXTURE_CODES
                             else 0 for lk in looks], dtype=np.int64),
        "scale": np.array([lk.appearance.pattern_scale_m for lk in looks], dtype=np.float64),
        "seed": np.array([lk.seed for lk in looks], dtype=np.int64),
        "patterned": np.array([lk.pattern != "plain" for lk in looks], dtype=bool),
    }
    for arr in tables.values():
        arr.flags.writeable = False
    opacity = np.array([lk.appearance.opacity for lk in looks], dtype=np.float64)[look_of_prim]
    opacity.flags.writeable = False
    memo.key, memo.value = list(prim_looks), (looks, tables, opacity)
    return looks, tables, opacity


def render_rgbd(
    camera: PinholeCamera,
    geometry: SceneGeometry,
    appearances: Mapping[LookKey, LookValue] | None = None,
    lights: Lighting | None = None,
    rng: np.random.Generator | int | None = None,
    *,
    options: RenderOptions | None = None,
    static: StaticView | None = None,
) -> RGBD:
    """Render an RGB-D frame by ray casting.

    Args:
        camera: the camera (pose in the room frame of ``geometry``).
        geometry: the scene.
        appearances: looks keyed by ``(object_id, material)`` or by ``material``; values are
            :class:`SurfaceLook` or :class:`~mmsight.sim.materials.SampledAppearance`. Missing keys are
            drawn at random from the material registry (so ``None`` randomises every look).
        lights: the lighting; None = :func:`sample_lighting` around a point 2 m in front of the camera.
        rng: generator or seed for everything random (looks, lights, exposure, noise). The same seed
            gives identical images.
        options: :class:`RenderOptions` (default: noisy, D435-like depth); ``RenderOptions.ideal()``
            gives noise-free output with exact depth.
        static: optional :class:`StaticView` of the first primitives of ``geometry`` (the static scene)
            from this camera: only the other primitives are cast per call (same output).

    Returns:
        :class:`RGBD` ``(rgb uint8 [H, W, 3], depth float32 [H, W] m, mask int32 [H, W])``.
    """
    g = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    opt = options or RenderOptions()
    h_img, w_img = camera.height, camera.width
    prim_looks = _resolve_looks(geometry, appearances, g)
    looks, tables, opacity = _look_tables(prim_looks)
    if lights is None:
        fwd = camera.T_room_from_camera[:3, 2].copy()
        fwd[2] = 0.0
        fwd = fwd / max(float(np.linalg.norm(fwd)), 1e-9)
        lighting = sample_lighting(g, around=camera.position + 2.0 * fwd, ceiling=max(2.6, camera.position[2] + 0.8))
    else:
        lighting = lights
    transparent = opacity < 0.5

    origin = camera.position
    fx = camera.fx

    if (static is not None and not opt.shadows and not np.any(transparent)
            and static.matches(camera, geometry)):
        dirs, zf = static.dirs, static.zf
        radiance, depth, mask, incidence, albedo, gloss = _render_static_view(
            static, geometry, dirs, zf, prim_looks, looks, tables, lighting, fx, opt)
    else:
        dirs, zf = _pixel_rays(camera)
        radiance, depth, mask, incidence, albedo, gloss = _render_layers(
            geometry, origin, dirs, zf, looks, tables, opacity, transparent, lighting, fx, opt)

    # exposure, white balance and sensor (linear domain)
    # (white balance and exposure applied in one product: the mean luminance of radiance / wb is
    # radiance @ (luma / wb))
    img = radiance.reshape(h_img, w_img, 3)
    wb = lighting.mean_colour() ** opt.white_balance
    if opt.exposure is not None:
        exposure = opt.exposure
    else:
        exposure = opt.target_grey / max(float(np.mean(radiance @ (_LUMA / wb))), 1e-6)
    if opt.exposure_jitter > 0:
        exposure *= float(np.exp(g.normal(0.0, opt.exposure_jitter)))
    img = img * (exposure / wb)
    if opt.blur_sigma_px > 0:
        img = ndimage.gaussian_filter(img, sigma=(opt.blur_sigma_px, opt.blur_sigma_px, 0), mode="nearest")
    if opt.sensor_noise:
        lo, hi = opt.full_well_e
        fw = float(np.exp(g.uniform(np.log(lo), np.log(hi))))
        img = _sensor_noise(img, fw, opt.read_noise_e, g)
    rgb = _encode_srgb8(img)

    depth_img = depth.reshape(h_img, w_img)
    if opt.depth_model is not None:
        depth_out = depth_noise(depth_img, incidence.reshape(h_img, w_img), albedo.reshape(h_img, w_img),
                                gloss.reshape(h_img, w_img), fx, opt.depth_model, g)
    else:
        depth_out = depth_img.astype(np.float32)
    return RGBD(rgb=rgb, depth=depth_out, mask=mask.reshape(h_img, w_img).astype(np.int32))
