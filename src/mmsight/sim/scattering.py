"""The body (and what it carries) as a radar target: scattering centres with RCS and velocity.

Model (see ``docs/sim_radar.md`` for the sources and the measured numbers)
-------------------------------------------------------------------------
Every body segment is the ellipsoid of :class:`mmsight.sim.body.SegmentSet` (semi-axes ``a, b, c``
along its axes ``u, v, w``). In the optical limit a smooth convex PEC body returns
``sigma = pi / K`` where ``K`` is the Gaussian curvature at the specular point, the surface point
whose outward normal points at the radar [lit: Knott, Shaeffer & Tuley, *Radar Cross Section*,
geometric optics]. For an ellipsoid this is the formula of radar-physics.md 3.2 (Trott / Chen)::

    sigma(d) = pi a^2 b^2 c^2 / (a^2 d_u^2 + b^2 d_v^2 + c^2 d_w^2)^2        (d: unit vector to the radar)

**Facet model.** The body is not a smooth ellipsoid (anatomy, clothing folds), so the return is not
one point: we smear the specular point over a patch of surface by giving the facet normals a slope
distribution (rough-surface geometric optics / Kirchhoff stationary phase). On the Gauss map a facet
of area ``dA`` covers the solid angle of normals ``dOmega = K dA``, so with a normalised lobe
``L(n . d)`` over normals::

    sigma_seg = pi * sum_j L(n_j . d) dOmega_j / K(n_j)        ->  pi / K(d)   as the lobe narrows

We sample the normals, not the surface: for an ellipsoid the point with outward normal ``n``
(segment frame) is ``x = s^2 n / h`` with ``h = sqrt(sum s_i^2 n_i^2)`` and ``1/K = a^2 b^2 c^2 / h^4``.
The lobe is a mixture, both parts normalised over the hemisphere of normals facing the radar:

* specular: a von Mises-Fisher lobe of angular width ``roughness_deg`` (``kappa = 1/sigma^2``),
  sampled at ``n_specular`` equal-mass normals (a Fibonacci spiral through the lobe's quantiles);
* diffuse: ``L = cos(theta) / pi`` at ``n_diffuse`` equal-mass normals spread over the whole visible
  hemisphere; integrated, this part is ``diffuse_fraction`` x the segment's projected area.

Consequences (all tested): a sphere gives ``pi r^2`` exactly for any lobe; a narrow lobe reproduces
the ellipsoid formula above; any lobe keeps the aspect-averaged RCS at the convex-body value
``surface area / 4`` (it only redistributes the return over aspect and over the surface). Every
centre carries RCS ``pi w_j / K(n_j)`` times the reflectivity; the forward model sums the centres
coherently, so the interference between centres of a segment produces the speckle-like fluctuation
of a real body as it moves.

**Reflectivity.** Skin is a lossy specular reflector: the power reflectivity of the skin half-space
at normal incidence from :mod:`mmsight.sim.materials` (``|Gamma|^2`` = 0.38 at 60 GHz; a per-person
instance spans 0.34-0.41) multiplies the PEC facet RCS. A garment covering a segment multiplies it by
its one-way transmission twice (at the facet's incidence angle, oblique path included by the slab
model); optionally its own weak specular reflection is added incoherently (same geometry).

**Visibility.** A centre exists only if its normal faces the radar (the normal grid covers only the
hemisphere facing the radar; the near-field direction is re-checked per centre) and the straight path
to the radar is not blocked by any other segment (of this body or of another person given as an
occluder) or scene object: centres inside another segment's ellipsoid are not on the skin and are
dropped too. Occlusion uses :mod:`mmsight.sim.geometry` ray casting.

**Velocity.** Each centre is a material point of its segment (fixed segment coordinates); its
velocity is the central finite difference of that point between frames ``t - 1`` and ``t + 1``
(one-sided at the clip ends) and its acceleration the second difference, so that
:meth:`Scatterers.per_chirp_positions` gives exact micro-motion within a frame for
``simulate_adc(..., positions_per_chirp=...)``.

**Fluctuation.** Optionally, per frame, a mean-one power multiplier per segment (or per body):
log-normal with ``sigma_db`` or Nakagami-m (power ~ Gamma(m, 1/m)) [doc: Lee et al. 2016 (Nakagami at
77 GHz); Azim et al. 2025 (log-normal); radar-physics.md 3.1].

**Concealed objects** come from :func:`mmsight.sim.objects.object_scatterers` (PO primitives, posed by
:func:`mmsight.sim.objects.attach`), with the two-way loss of every garment layer over the region at
the object's incidence angle, and are removed when the body (e.g. the torso, seen from behind) blocks
their path to the radar.

Simplified: no creeping waves or multiple bounces on the body, skin reflectivity taken at normal
incidence for every facet, far-field facet weights (the lobe is centred on the direction from the
segment centre), no polarisation, body shadowing of objects is binary (per primitive centre).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal, Mapping, Sequence

import numpy as np

from mmsight.sim.body import SEGMENT_NAMES, PosedBody
from mmsight.sim.materials import Material, MaterialInstance, get_material
from mmsight.sim.objects import ConcealedObject, attach, get_object, get_region

if TYPE_CHECKING:  # pragma: no cover
    from mmsight.radar import RadarConfig
    from mmsight.sim.geometry import SceneGeometry

__all__ = [
    "BOTTOM_SEGMENTS",
    "KIND_BODY",
    "KIND_CLUTTER",
    "KIND_NAMES",
    "KIND_OBJECT",
    "KIND_WALL",
    "PATH_DIRECT",
    "PATH_DOUBLE",
    "PATH_NAMES",
    "PATH_SINGLE",
    "REGION_SEGMENTS",
    "TOP_SEGMENTS",
    "CarriedObject",
    "Clothing",
    "FacetModel",
    "Facets",
    "Fluctuation",
    "Garment",
    "Scatterers",
    "as_clothing",
    "body_ellipsoids",
    "body_scatterers",
    "chirp_times",
    "ellipsoid_facets",
    "ellipsoid_rcs",
    "invert_transform",
    "occluded",
    "person_geometry",
    "person_scatterers_room",
    "person_scatterers_views",
    "radar_mount",
    "skin_reflectivity",
    "slab_reflection",
    "slab_transmission",
]

#: Scatterer kinds (``Scatterers.kind``).
KIND_BODY, KIND_OBJECT, KIND_CLUTTER, KIND_WALL = 0, 1, 2, 3
KIND_NAMES: tuple[str, ...] = ("body", "object", "clutter", "wall")
#: Propagation paths (``Scatterers.path``): direct, single-bounce multipath ("half ghost", R->P->W->R
#: and R->W->P->R), double-bounce ("full ghost", R->W->P->W->R).
PATH_DIRECT, PATH_SINGLE, PATH_DOUBLE = 0, 1, 2
PATH_NAMES: tuple[str, ...] = ("direct", "single_bounce", "double_bounce")

#: Segments a top garment covers (long sleeves) and a bottom garment covers (trousers).
TOP_SEGMENTS: tuple[str, ...] = (
    "thorax", "abdomen", "shoulder_left", "shoulder_right", "upper_arm_left", "upper_arm_right",
    "forearm_left", "forearm_right",
)  # fmt: skip
BOTTOM_SEGMENTS: tuple[str, ...] = ("pelvis", "thigh_left", "thigh_right", "shank_left", "shank_right")

#: The body segment whose garments cover an object carried at a region (mmAnomaly regions).
REGION_SEGMENTS: Mapping[str, str] = {
    "chest_left": "thorax", "chest_right": "thorax", "waist_left": "abdomen", "waist_right": "abdomen",
    "pocket_left": "thigh_left", "pocket_right": "thigh_right", "ankle_left": "shank_left",
    "ankle_right": "shank_right",
}  # fmt: skip

_SEG_INDEX = {n: i for i, n in enumerate(SEGMENT_NAMES)}
_GOLDEN = math.pi * (3.0 - math.sqrt(5.0))
_ANGLE_GRID = np.radians(np.arange(0.0, 85.0 + 1e-9, 5.0))  # slab tables: 0-85 degrees, linear interpolation


# ----------------------------------------------------------------------------------------------
# transforms
# ----------------------------------------------------------------------------------------------


def radar_mount(
    height: float,
    tilt_down_deg: float = 0.0,
    position_xy: tuple[float, float] = (0.0, 0.0),
    yaw_deg: float = 0.0,
) -> np.ndarray:
    """``T_room_from_radar`` [4, 4] for a radar at ``height`` (m) tilted ``tilt_down_deg`` downwards.

    The room frame has the radar frame's axes when the radar is level (+y boresight, +z up), floor at
    ``z = 0`` (see :mod:`mmsight.sim.skeleton`). The radar is pitched about its own x axis (boresight
    towards the floor for a positive tilt; mmAnomaly mounts its radar 20 degrees down), then yawed
    by ``yaw_deg`` about the room z axis (positive towards +x, like azimuth), then placed at
    ``(x, y, height)``.
    """
    t = math.radians(tilt_down_deg)
    ct, st = math.cos(t), math.sin(t)
    pitch = np.array([[1.0, 0.0, 0.0], [0.0, ct, st], [0.0, -st, ct]])  # boresight (0,1,0) -> (0, ct, -st)
    y = math.radians(yaw_deg)
    cy, sy = math.cos(y), math.sin(y)
    yaw = np.array([[cy, sy, 0.0], [-sy, cy, 0.0], [0.0, 0.0, 1.0]])  # (0,1,0) -> (sin y, cos y, 0)
    m = np.eye(4)
    m[:3, :3] = yaw @ pitch
    m[:3, 3] = (position_xy[0], position_xy[1], height)
    return m


def invert_transform(transform: np.ndarray) -> np.ndarray:
    """Inverse of a rigid 4x4 transform."""
    m = np.asarray(transform, dtype=np.float64)
    if m.shape != (4, 4):
        raise ValueError(f"transform must be 4x4, got {m.shape}")
    r = m[:3, :3]
    if not np.allclose(r @ r.T, np.eye(3), atol=1e-6):
        raise ValueError("transform rotation is not orthonormal")
    out = np.eye(4)
    out[:3, :3] = r.T
    out[:3, 3] = -r.T @ m[:3, 3]
    return out


def chirp_times(config: RadarConfig) -> np.ndarray:
    """Start time of every chirp relative to the frame start, ``[n_loops, n_tx]`` s (TDM order).

    Chirp ``c = loop * n_tx + slot`` starts at
    ``c * chirp_time``; the ADC start time is added (the sample the forward model's phase refers to).
    """
    n_l, n_t = int(config.n_loops), int(config.n_tx)
    c = np.arange(n_l)[:, None] * n_t + np.arange(n_t)[None, :]
    return c * float(config.chirp_time) + float(config.adc_start_time)


# ----------------------------------------------------------------------------------------------
# scatterer container
# ----------------------------------------------------------------------------------------------


def _i(n: int, value: int, dtype: type = np.int16) -> np.ndarray:
    return np.full(n, value, dtype=dtype)


@dataclass
class Scatterers:
    """Point scatterers of one frame, ready for :func:`mmsight.radar.simulate_adc`.

    Attributes:
        positions: float64 [N, 3] m, in the frame given by the producer (radar frame for
            :func:`body_scatterers` and the renderer).
        velocities: float64 [N, 3] m/s.
        rcs: float64 [N] m^2 (effective: skin/garment/wall losses and fluctuation applied).
        segment: int16 [N] index into :data:`mmsight.sim.body.SEGMENT_NAMES` (-1: not a body facet).
        kind: int8 [N] :data:`KIND_NAMES` code (body, object, clutter, wall).
        person: int16 [N] person index in the scene (-1: none).
        source: int16 [N] object / clutter index (-1: none).
        path: int8 [N] :data:`PATH_NAMES` code (direct, single-bounce, double-bounce ghost).
        normals: float64 [N, 3] outward surface normal of body facets (zeros otherwise).
        accelerations: float64 [N, 3] m/s^2 (second difference of the motion; zeros when unknown).
    """

    positions: np.ndarray
    velocities: np.ndarray
    rcs: np.ndarray
    segment: np.ndarray
    kind: np.ndarray
    person: np.ndarray
    source: np.ndarray
    path: np.ndarray
    normals: np.ndarray
    accelerations: np.ndarray

    def __post_init__(self) -> None:
        n = self.positions.shape[0]
        for name in ("velocities", "normals", "accelerations"):
            if getattr(self, name).shape != (n, 3):
                raise ValueError(f"{name} must be [{n}, 3], got {getattr(self, name).shape}")
        for name in ("rcs", "segment", "kind", "person", "source", "path"):
            if getattr(self, name).shape != (n,):
                raise ValueError(f"{name} must be [{n}], got {getattr(self, name).shape}")

    @classmethod
    def empty(cls) -> Scatterers:
        z3 = np.zeros((0, 3))
        return cls(z3, z3.copy(), np.zeros(0), _i(0, -1), _i(0, 0, np.int8), _i(0, -1), _i(0, -1),
                   _i(0, 0, np.int8), z3.copy(), z3.copy())

    @classmethod
    def make(
        cls, positions: np.ndarray, rcs: np.ndarray, *, velocities: np.ndarray | None = None, kind: int = KIND_CLUTTER,
        segment: int = -1, person: int = -1, source: int = -1, path: int = PATH_DIRECT,
    ) -> Scatterers:
        """Scatterers with one tag value for all of them (``positions`` [N, 3], ``rcs`` [N])."""
        p = np.asarray(positions, dtype=np.float64).reshape(-1, 3)
        n = p.shape[0]
        v = np.zeros((n, 3)) if velocities is None else np.asarray(velocities, dtype=np.float64).reshape(n, 3)
        return cls(p, v, np.asarray(rcs, dtype=np.float64).reshape(n), _i(n, segment), _i(n, kind, np.int8),
                   _i(n, person), _i(n, source), _i(n, path, np.int8), np.zeros((n, 3)), np.zeros((n, 3)))

    def __len__(self) -> int:
        return int(self.positions.shape[0])

    @property
    def ranges(self) -> np.ndarray:
        """[N] m, distance from the frame origin."""
        return np.linalg.norm(self.positions, axis=1)

    def select(self, mask: np.ndarray) -> Scatterers:
        """The scatterers where ``mask`` [N] (bool or index array) selects."""
        return Scatterers(*(getattr(self, f)[mask] for f in _FIELDS))

    def transformed(self, transform: np.ndarray) -> Scatterers:
        """Apply a rigid 4x4 ``T_to_from`` (positions move; velocities, normals, accelerations rotate)."""
        m = np.asarray(transform, dtype=np.float64)
        r, t = m[:3, :3], m[:3, 3]
        return replace(self, positions=self.positions @ r.T + t, velocities=self.velocities @ r.T,
                       normals=self.normals @ r.T, accelerations=self.accelerations @ r.T)

    def total_rcs(self, mask: np.ndarray | None = None) -> float:
        """Incoherent sum of the RCS, m^2 (optionally of a subset)."""
        return float(np.sum(self.rcs if mask is None else self.rcs[mask]))

    def per_chirp_positions(self, times: np.ndarray) -> np.ndarray:
        """Positions at ``times`` (s after the frame instant, any shape ``[...]``): ``[..., N, 3]``,
        ``p + v t + a t^2 / 2``. With :func:`chirp_times` this is ``positions_per_chirp``."""
        t = np.asarray(times, dtype=np.float64)[..., None, None]
        return self.positions + self.velocities * t + 0.5 * self.accelerations * t**2

    @staticmethod
    def concatenate(parts: Sequence[Scatterers]) -> Scatterers:
        parts = [p for p in parts if len(p)]
        if not parts:
            return Scatterers.empty()
        return Scatterers(*(np.concatenate([getattr(p, f) for p in parts], axis=0) for f in _FIELDS))


_FIELDS = ("positions", "velocities", "rcs", "segment", "kind", "person", "source", "path", "normals", "accelerations")


# ----------------------------------------------------------------------------------------------
# facet model
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FacetModel:
    """How a segment's return is spread over its surface (see the module docstring).

    Attributes:
        roughness_deg: angular width (1-sigma) of the specular lobe of facet normals, degrees
            [EST: body curvature and clothing folds; 0 = one centre at the ideal specular point].
        diffuse_fraction: share of the hemisphere-normalised lobe that is diffuse (cos/pi); its
            integrated RCS is this fraction x the segment's projected area [EST].
        n_specular: centres per segment in the specular lobe.
        n_diffuse: centres per segment spread over the visible hemisphere.
    """

    roughness_deg: float = 15.0
    diffuse_fraction: float = 0.1
    n_specular: int = 24
    n_diffuse: int = 12

    def __post_init__(self) -> None:
        if not (0.0 <= self.roughness_deg <= 60.0):
            raise ValueError(f"roughness_deg must be in [0, 60], got {self.roughness_deg}")
        if not (0.0 <= self.diffuse_fraction <= 1.0):
            raise ValueError(f"diffuse_fraction must be in [0, 1], got {self.diffuse_fraction}")
        if self.n_specular < 1 or self.n_diffuse < 0:
            raise ValueError("need n_specular >= 1 and n_diffuse >= 0")
        if self.diffuse_fraction > 0 and self.n_diffuse == 0:
            raise ValueError("diffuse_fraction > 0 needs n_diffuse >= 1")

    @property
    def n_centres(self) -> int:
        """Centres per segment (before visibility)."""
        return self.n_specular + (self.n_diffuse if self.diffuse_fraction > 0 else 0)

    def quadrature(self) -> tuple[np.ndarray, np.ndarray]:
        """Normals in the pole frame (``+z`` = towards the radar) ``[M, 3]`` and weights ``[M]``
        summing to 1 (equal-mass samples of the lobe)."""
        return _quadrature(float(self.roughness_deg), float(self.diffuse_fraction), int(self.n_specular),
                           int(self.n_diffuse))


@functools.lru_cache(maxsize=32)
def _quadrature(roughness_deg: float, f: float, n_s: int, n_d: int) -> tuple[np.ndarray, np.ndarray]:
    u_s = (np.arange(n_s) + 0.5) / n_s
    if roughness_deg == 0.0:
        cos_s = np.ones(n_s)
    else:
        kappa = 1.0 / math.radians(roughness_deg) ** 2
        # von Mises-Fisher on the sphere, truncated to the hemisphere: F(theta) ∝ 1 - exp(kappa (cos - 1))
        cos_s = 1.0 + np.log1p(-u_s * -math.expm1(-kappa)) / kappa
    phi_s = np.arange(n_s) * _GOLDEN
    parts_cos, parts_phi, parts_w = [cos_s], [phi_s], [np.full(n_s, (1.0 - f) / n_s)]
    if f > 0 and n_d > 0:
        u_d = (np.arange(n_d) + 0.5) / n_d
        parts_cos.append(np.sqrt(1.0 - u_d))  # cos-weighted hemisphere: F = 1 - cos^2
        parts_phi.append(np.arange(n_d) * _GOLDEN + 0.5 * _GOLDEN)
        parts_w.append(np.full(n_d, f / n_d))
    c = np.clip(np.concatenate(parts_cos), 0.0, 1.0)
    s = np.sqrt(1.0 - c**2)
    phi = np.concatenate(parts_phi)
    q = np.stack([s * np.cos(phi), s * np.sin(phi), c], axis=1)
    w = np.concatenate(parts_w)
    q.setflags(write=False)
    w.setflags(write=False)
    return q, w


def ellipsoid_rcs(semi_axes: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """Optical-limit PEC ellipsoid RCS (radar-physics.md 3.2), m^2.

    Args:
        semi_axes: [..., 3] m along the ellipsoid's own axes.
        direction: [..., 3] unit vector towards the radar in the ellipsoid's frame.
    """
    s = np.asarray(semi_axes, dtype=np.float64)
    d = np.asarray(direction, dtype=np.float64)
    d = d / np.linalg.norm(d, axis=-1, keepdims=True)
    h2 = np.sum(s**2 * d**2, axis=-1)
    return np.pi * np.prod(s, axis=-1) ** 2 / h2**2


@dataclass(frozen=True)
class Facets:
    """Facet centres of S ellipsoids x M normals (room frame unless stated).

    Attributes:
        points: [S, M, 3] m. normals: [S, M, 3] outward unit normals. local: [S, M, 3] m, segment
        coordinates (along u, v, w) of each point. rcs: [S, M] m^2, PEC (before reflectivity).
        cos_incidence: [S, M] cosine between the normal and the direction to the radar from the point
        (<= 0: faces away in the near field; such centres carry rcs 0).
    """

    points: np.ndarray
    normals: np.ndarray
    local: np.ndarray
    rcs: np.ndarray
    cos_incidence: np.ndarray


def ellipsoid_facets(
    centers: np.ndarray, axes: np.ndarray, semi_axes: np.ndarray, radar_position: np.ndarray,
    model: FacetModel = FacetModel(),
) -> Facets:
    """Facet centres and PEC RCS of ellipsoids seen from ``radar_position``.

    Args:
        centers: [S, 3] m. axes: [S, 3, 3] columns = the ellipsoid axes (u, v, w). semi_axes: [S, 3] m.
        radar_position: [3] m, same frame.
        model: the facet lobe.

    Returns:
        :class:`Facets`; ``rcs.sum(axis=1)`` is the lobe-smoothed ellipsoid RCS of each segment.
    """
    r = np.asarray(radar_position, dtype=np.float64).reshape(3)
    return _ellipsoid_facets(np.asarray(centers, dtype=np.float64), np.asarray(axes, dtype=np.float64),
                             np.asarray(semi_axes, dtype=np.float64), r[None], model)


def _ellipsoid_facets(c: np.ndarray, ax: np.ndarray, s: np.ndarray, r: np.ndarray, model: FacetModel) -> Facets:
    """:func:`ellipsoid_facets` with one radar position per ellipsoid (``r`` ``[S, 3]`` or ``[1, 3]``), so
    several viewpoints of the same ellipsoids are one call (rows repeated per viewpoint)."""
    to_radar = r - c
    d = to_radar / np.linalg.norm(to_radar, axis=-1, keepdims=True)  # [S, 3]
    # reference direction in the plane normal to d: the segment's long axis, else its u axis
    ref = ax[..., :, 2] - np.sum(ax[..., :, 2] * d, axis=-1, keepdims=True) * d
    alt = ax[..., :, 0] - np.sum(ax[..., :, 0] * d, axis=-1, keepdims=True) * d
    use_alt = np.linalg.norm(ref, axis=-1, keepdims=True) < 1e-3
    ref = np.where(use_alt, alt, ref)
    e1 = ref / np.maximum(np.linalg.norm(ref, axis=-1, keepdims=True), 1e-12)
    e2 = np.cross(d, e1)
    q, w = model.quadrature()  # [M, 3], [M]
    n = q[None, :, 0:1] * e1[:, None] + q[None, :, 1:2] * e2[:, None] + q[None, :, 2:3] * d[:, None]  # [S, M, 3]
    n_l = np.einsum("sji,smj->smi", ax, n)  # R^T n
    h = np.sqrt(np.sum(s[:, None, :] ** 2 * n_l**2, axis=-1))  # [S, M]
    x_l = s[:, None, :] ** 2 * n_l / h[..., None]
    pts = c[:, None, :] + np.einsum("sij,smj->smi", ax, x_l)
    inv_k = np.prod(s, axis=-1)[:, None] ** 2 / h**4
    rcs = np.pi * w[None, :] * inv_k
    dj = r[:, None, :] - pts
    dj /= np.linalg.norm(dj, axis=-1, keepdims=True)
    cos_inc = np.sum(n * dj, axis=-1)
    rcs = np.where(cos_inc > 0, rcs, 0.0)
    return Facets(points=pts, normals=n, local=x_l, rcs=rcs, cos_incidence=cos_inc)


# ----------------------------------------------------------------------------------------------
# materials: skin, clothing, fluctuation
# ----------------------------------------------------------------------------------------------


def _instance(m: str | Material | MaterialInstance) -> MaterialInstance:
    if isinstance(m, MaterialInstance):
        return m
    return get_material(m).nominal_instance()


@functools.lru_cache(maxsize=256)
def _slab_tables(inst: MaterialInstance, freq_hz: float, bandwidth_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """One-way power transmission and power reflection (linear) on :data:`_ANGLE_GRID` [A]."""
    t = np.array([10.0 ** (-float(inst.one_way_loss_db(freq_hz, float(a), bandwidth_hz=bandwidth_hz)) / 10.0)
                  for a in _ANGLE_GRID])
    r = np.array([10.0 ** (float(inst.reflection_db(freq_hz, float(a), bandwidth_hz=bandwidth_hz)) / 10.0)
                  for a in _ANGLE_GRID])
    t.setflags(write=False)
    r.setflags(write=False)
    return t, r


_TABLES_BY_ID: dict[tuple[int, float, float], tuple[MaterialInstance, tuple[np.ndarray, np.ndarray]]] = {}


def _tables(inst: MaterialInstance, freq_hz: float, bandwidth_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_slab_tables` looked up by the instance's identity first (hashing a material instance,
    a nested frozen dataclass, on every call costs more than the interpolation)."""
    key = (id(inst), float(freq_hz), float(bandwidth_hz))
    hit = _TABLES_BY_ID.get(key)
    if hit is not None and hit[0] is inst:
        return hit[1]
    tables = _slab_tables(inst, float(freq_hz), float(bandwidth_hz))
    if len(_TABLES_BY_ID) > 1024:
        _TABLES_BY_ID.clear()
    _TABLES_BY_ID[key] = (inst, tables)
    return tables


def slab_transmission(inst: str | Material | MaterialInstance, freq_hz: float, angles: np.ndarray | float,
                      bandwidth_hz: float = 0.0) -> np.ndarray:
    """One-way power transmission (linear, 0..1) of a slab at incidence ``angles`` (rad from the
    normal, any shape; interpolated on a 5-degree table over 0-85 degrees, clipped at 85 degrees), averaged over
    ``bandwidth_hz``."""
    table, _ = _tables(_instance(inst), freq_hz, bandwidth_hz)
    return np.interp(np.clip(np.abs(angles), 0.0, _ANGLE_GRID[-1]), _ANGLE_GRID, table)


def slab_reflection(inst: str | Material | MaterialInstance, freq_hz: float, angles: np.ndarray | float,
                    bandwidth_hz: float = 0.0) -> np.ndarray:
    """Specular power reflection (linear, 0..1) of a slab or half-space at incidence ``angles`` (rad)."""
    _, table = _tables(_instance(inst), freq_hz, bandwidth_hz)
    return np.interp(np.clip(np.abs(angles), 0.0, _ANGLE_GRID[-1]), _ANGLE_GRID, table)



def skin_reflectivity(freq_hz: float, skin: str | Material | MaterialInstance | None = None,
                      bandwidth_hz: float = 0.0) -> float:
    """Power reflectivity ``|Gamma|^2`` of skin at normal incidence (0.38 at 60 GHz for the nominal
    instance; a sampled instance spans the measured 0.34-0.41)."""
    if skin is None or isinstance(skin, str):
        key = ("skin" if skin is None else skin, float(freq_hz), float(bandwidth_hz))
        val = _SKIN_BY_NAME.get(key)
        if val is None:
            val = _SKIN_BY_NAME[key] = float(_slab_tables(_instance(key[0]), key[1], key[2])[1][0])
        return val
    return float(_tables(_instance(skin), freq_hz, bandwidth_hz)[1][0])


_SKIN_BY_NAME: dict[tuple[str, float, float], float] = {}


@dataclass(frozen=True)
class Garment:
    """One garment layer: a clothing material instance over a set of body segments."""

    material: MaterialInstance
    segments: tuple[str, ...]

    def __post_init__(self) -> None:
        bad = [s for s in self.segments if s not in _SEG_INDEX]
        if bad:
            raise ValueError(f"unknown segment(s) {bad}; valid: {', '.join(SEGMENT_NAMES)}")


@dataclass(frozen=True)
class Clothing:
    """What a person wears: garment layers, innermost first."""

    garments: tuple[Garment, ...] = ()

    @classmethod
    def outfit(
        cls,
        top: str | Material | MaterialInstance | None = "cotton_tshirt",
        bottom: str | Material | MaterialInstance | None = "denim",
        outer: str | Material | MaterialInstance | None = None,
        *,
        rng: np.random.Generator | int | None = None,
    ) -> Clothing:
        """A top (:data:`TOP_SEGMENTS`), trousers (:data:`BOTTOM_SEGMENTS`) and an optional outer
        jacket over the top's segments. Names are sampled as random instances when ``rng`` is given
        (per-garment thickness/permittivity variation), else the nominal instances are used."""
        gen = None if rng is None else (rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng))

        def inst(m: str | Material | MaterialInstance) -> MaterialInstance:
            if isinstance(m, MaterialInstance):
                return m
            mat = get_material(m)
            return mat.nominal_instance() if gen is None else mat.sample_instance(gen)

        g = []
        if top is not None:
            g.append(Garment(inst(top), TOP_SEGMENTS))
        if bottom is not None:
            g.append(Garment(inst(bottom), BOTTOM_SEGMENTS))
        if outer is not None:
            g.append(Garment(inst(outer), TOP_SEGMENTS))
        return cls(tuple(g))

    def layers(self, segment: str) -> tuple[MaterialInstance, ...]:
        """Garment layers over ``segment``, innermost first."""
        return tuple(g.material for g in self.garments if segment in g.segments)


def as_clothing(clothing: Clothing | str | Material | MaterialInstance | Mapping[str, object] | None) -> Clothing:
    """Normalise a clothing argument: None (bare skin), a :class:`Clothing`, one material (a top over
    :data:`TOP_SEGMENTS`), or a mapping segment name -> material (or sequence of materials)."""
    if clothing is None:
        return Clothing()
    if isinstance(clothing, Clothing):
        return clothing
    if isinstance(clothing, (str, Material, MaterialInstance)):
        return Clothing((Garment(_instance(clothing), TOP_SEGMENTS),))
    if isinstance(clothing, Mapping):
        g = []
        for seg, mats in clothing.items():
            seq = mats if isinstance(mats, (list, tuple)) else (mats,)
            g.extend(Garment(_instance(m), (str(seg),)) for m in seq)  # type: ignore[arg-type]
        return Clothing(tuple(g))
    raise TypeError(f"cannot interpret {type(clothing).__name__} as clothing")


@dataclass(frozen=True)
class Fluctuation:
    """Per-frame RCS fluctuation: mean-one power multipliers (radar-physics.md 3.1).

    Attributes:
        kind: ``"lognormal"`` (10 log10 of the multiplier ~ N(mu, sigma_db), mu set for mean 1) or
            ``"nakagami"`` (amplitude Nakagami-m: power ~ Gamma(m, 1/m)).
        sigma_db: log-normal spread, dB [EST default 5.5: radar-physics.md 3.1 suggests 5-7 dB].
        m: Nakagami shape (1 = Rayleigh amplitude / exponential power).
        per: draw one multiplier per ``"segment"`` or one per ``"body"``.
    """

    kind: Literal["lognormal", "nakagami"] = "lognormal"
    sigma_db: float = 5.5
    m: float = 1.5
    per: Literal["segment", "body"] = "segment"

    def __post_init__(self) -> None:
        if self.kind not in ("lognormal", "nakagami"):
            raise ValueError(f"kind must be 'lognormal' or 'nakagami', got {self.kind!r}")
        if self.per not in ("segment", "body"):
            raise ValueError(f"per must be 'segment' or 'body', got {self.per!r}")
        if self.sigma_db < 0 or self.m < 0.5:
            raise ValueError("need sigma_db >= 0 and m >= 0.5")

    def draw(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """[n] power multipliers with mean 1."""
        if self.kind == "lognormal":
            s = self.sigma_db * math.log(10.0) / 10.0
            return np.exp(rng.normal(-0.5 * s * s, s, size=n))
        return rng.gamma(self.m, 1.0 / self.m, size=n)


# ----------------------------------------------------------------------------------------------
# carried objects
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CarriedObject:
    """A concealed object carried at a body region (mmAnomaly regions, :mod:`mmsight.sim.objects`).

    Attributes:
        obj: object or its name (``"handgun"``, ``"knife"``, ``"keys"``, ``"phone"``, ``"laptop"``).
        region: e.g. ``"chest_left"``.
        local_offset: optional [3] placement jitter in the object frame, m.
        roll: rotation about the outward normal, rad.
        layers: garments over the object, innermost first; None = the person's garments over the
            region's segment (:data:`REGION_SEGMENTS`); () = uncovered.
        strict: refuse objects that do not fit the region.
    """

    obj: str | ConcealedObject
    region: str
    local_offset: tuple[float, float, float] | None = None
    roll: float = 0.0
    layers: tuple[MaterialInstance, ...] | None = None
    strict: bool = True

    @property
    def object(self) -> ConcealedObject:
        return get_object(self.obj)

    def poses(self, body: PosedBody, frames: Sequence[int] | np.ndarray) -> np.ndarray:
        """``T_room_from_object`` [len(frames), 4, 4]."""
        j = body.joints[np.asarray(frames, dtype=np.int64)]
        return attach(self.obj, self.region, j, body.joint_names, local_offset=self.local_offset, roll=self.roll,
                      strict=self.strict)

    def covering(self, clothing: Clothing) -> tuple[MaterialInstance, ...]:
        if self.layers is not None:
            return tuple(self.layers)
        return clothing.layers(REGION_SEGMENTS[get_region(self.region).name])


# ----------------------------------------------------------------------------------------------
# occlusion
# ----------------------------------------------------------------------------------------------


def body_ellipsoids(body: PosedBody, frame: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centres [S, 3], axes [S, 3, 3] and semi-axes [S, 3] of one frame (room frame)."""
    seg = body.segments
    return seg.centers[frame], seg.axes[frame], seg.semi_axes


def _object_box(obj: ConcealedObject, pose: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bounding box of an object (centre [3], axes [3, 3], half extents [3]) for a pose [4, 4]."""
    loc = obj.local_positions()
    mid = 0.5 * (loc.min(axis=0) + loc.max(axis=0))
    return pose[:3, :3] @ mid + pose[:3, 3], pose[:3, :3], 0.5 * np.asarray(obj.size_m, dtype=np.float64)


def person_geometry(
    body: PosedBody,
    frame: int,
    objects: Sequence[CarriedObject] = (),
    *,
    object_id: int = 0,
    object_poses: Sequence[np.ndarray] | None = None,
) -> SceneGeometry:
    """Occluding geometry of one person in one frame (room frame): the 19 segment ellipsoids (global
    indices 0..18, named by segment, kind ``"body"``) then one box per carried object (kind
    ``"object"``), all with ``object_id``. ``object_poses``: optional pose ``[4, 4]`` of each object in
    this frame, when the caller already has them (default: computed from the body)."""
    from mmsight.sim.geometry import Boxes, SceneGeometry

    geo = SceneGeometry().add_body(body.segments, frame, object_id=object_id)
    if objects:
        if object_poses is None:
            object_poses = [c.poses(body, [frame])[0] for c in objects]
        if len(object_poses) != len(objects):
            raise ValueError(f"{len(object_poses)} object poses for {len(objects)} objects")
        boxes = [_object_box(c.object, pose) for c, pose in zip(objects, object_poses)]
        geo = geo.add(
            Boxes(np.array([b[0] for b in boxes]), np.array([b[1] for b in boxes]), np.array([b[2] for b in boxes])),
            material="metal", kind="object", object_id=object_id, names=[c.object.name for c in objects],
        )
    return geo


def occluded(
    geometry: SceneGeometry,
    points: np.ndarray,
    radar_position: np.ndarray,
    ignore: np.ndarray | None = None,
    pass_containing: np.ndarray | bool = False,
    max_passes: int = 4,
) -> np.ndarray:
    """[N] bool: the straight path from each point to the radar crosses a primitive of ``geometry``.

    Args:
        geometry: occluders (same frame as the points).
        points: [N, 3] m. radar_position: [3] m, or [N, 3] (one end point per path).
        ignore: optional [N] global primitive index each path ignores (a facet's own segment; -1: none).
        pass_containing: [N] bool (or scalar): primitives that contain the point do not block (the
            path continues from where it leaves them). A point inside another segment's ellipsoid is
            not on the skin, so body facets use False; an object sitting in the clothing gap, partly
            inside the approximate torso ellipsoid, uses True when it faces the radar.
        max_passes: re-casts through containing primitives.
    """
    from mmsight.sim.geometry import first_hit_between

    pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    n = pts.shape[0]
    blocked = np.zeros(n, dtype=bool)
    if n == 0 or len(geometry) == 0:
        return blocked
    ign = np.full(n, -1, np.int64) if ignore is None else np.asarray(ignore, dtype=np.int64).reshape(n)
    passing = np.broadcast_to(np.asarray(pass_containing, dtype=bool), (n,))
    radar = np.asarray(radar_position, dtype=np.float64)
    per_point = radar.ndim == 2
    radar = radar.reshape(n, 3) if per_point else radar.reshape(3)
    origin = pts.copy()
    active = np.arange(n)
    for _ in range(max(1, max_passes)):
        hits = first_hit_between(geometry, origin[active], radar[active] if per_point else radar,
                                 ignore_primitive=ign[active], normals=False)
        h = hits.hit
        through = np.zeros(active.size, dtype=bool)
        sel = np.flatnonzero(h & passing[active])
        if sel.size:
            through[sel] = geometry.surface_residual(pts[active[sel]], hits.primitive[sel]) < 0
        blocked[active[h & ~through]] = True
        origin[active[through]] = hits.point[through]
        active = active[through]
        if active.size == 0:
            break
    return blocked


# ----------------------------------------------------------------------------------------------
# the body
# ----------------------------------------------------------------------------------------------


def _frame_time(body: PosedBody, frame: int, frame_period: float | None) -> tuple[int, int, float]:
    """Neighbour frames (lo, hi) for the central difference and their time span (s)."""
    n = body.n_frames
    lo, hi = max(frame - 1, 0), min(frame + 1, n - 1)
    if hi == lo:
        return lo, hi, 0.0
    if body.times is not None:
        span = float(body.times[hi] - body.times[lo])
    elif frame_period is not None:
        span = float(frame_period) * (hi - lo)
    else:
        raise ValueError("the body has no times: pass frame_period (s) to get velocities")
    if span <= 0:
        raise ValueError("body times must increase")
    return lo, hi, span


def _motion(
    traj: np.ndarray, frame: int, lo: int, hi: int, span: float, times: np.ndarray | None, frame_period: float | None
) -> tuple[np.ndarray, np.ndarray]:
    """Velocity and acceleration [..., 3] of points whose positions at frames (lo, frame, hi) are
    ``traj`` [3, ..., 3]."""
    if span == 0.0:
        return np.zeros_like(traj[1]), np.zeros_like(traj[1])
    vel = (traj[2] - traj[0]) / span
    if lo < frame < hi:
        if times is not None:
            h1, h2 = float(times[frame] - times[lo]), float(times[hi] - times[frame])
        else:
            h1 = h2 = float(frame_period)  # type: ignore[arg-type]
        acc = 2.0 * ((traj[2] - traj[1]) / h2 - (traj[1] - traj[0]) / h1) / (h1 + h2)
    else:
        acc = np.zeros_like(vel)
    return vel, acc


def body_scatterers(
    posed_body: PosedBody,
    frame: int,
    radar_pose: np.ndarray,
    clothing: Clothing | str | Material | MaterialInstance | Mapping[str, object] | None = None,
    freq: float = 60e9,
    rng: np.random.Generator | int | None = None,
    *,
    objects: Sequence[CarriedObject] = (),
    skin: str | Material | MaterialInstance | None = None,
    facets: FacetModel = FacetModel(),
    fluctuation: Fluctuation | None = None,
    garment_reflection: bool = True,
    occluders: SceneGeometry | None = None,
    frame_period: float | None = None,
    bandwidth_hz: float = 0.0,
    person: int = 0,
    min_rcs: float = 0.0,
    viewpoint: np.ndarray | None = None,
) -> Scatterers:
    """Scattering centres of one person (and the objects they carry) in one frame, radar frame.

    Args:
        posed_body: the body over T frames (room frame).
        frame: frame index in ``[0, T)``.
        radar_pose: ``T_room_from_radar`` [4, 4] (see :func:`radar_mount`).
        clothing: garments (see :func:`as_clothing`); None = bare skin.
        freq: carrier frequency, Hz (use the radar's centre frequency).
        rng: seed or generator for the fluctuation draw (unused without ``fluctuation``).
        objects: concealed objects carried by this person.
        skin: skin material instance (per-person reflectivity); None = nominal.
        facets: the facet lobe (number of centres, roughness, diffuse share).
        fluctuation: optional per-frame RCS fluctuation of the body (objects are not fluctuated:
            their aspect dependence is explicit).
        garment_reflection: add the outermost garment's own specular reflection.
        occluders: extra :class:`mmsight.sim.geometry.SceneGeometry` (other people, furniture) that
            can block this person's paths to the radar (room frame).
        frame_period: s between frames when ``posed_body.times`` is None.
        bandwidth_hz: average the garment slab losses over this band (the chirp bandwidth).
        person: person index written to the tags.
        min_rcs: drop centres with a smaller RCS (m^2).
        viewpoint: optional [3] room-frame point to look from instead of the radar (a virtual radar:
            the radar's mirror image for image-source multipath); the output is still expressed in
            the radar frame of ``radar_pose``.

    Returns:
        :class:`Scatterers` in the radar frame (positions m, velocities m/s, rcs m^2), body facets
        (``kind == KIND_BODY``, ``segment`` set) then object primitives (``kind == KIND_OBJECT``,
        ``source`` = index in ``objects``).
    """
    if not 0 <= frame < posed_body.n_frames:
        raise ValueError(f"frame {frame} outside [0, {posed_body.n_frames})")
    T_rr = np.asarray(radar_pose, dtype=np.float64)
    T_radar_from_room = invert_transform(T_rr)
    view = T_rr[:3, 3] if viewpoint is None else np.asarray(viewpoint, dtype=np.float64).reshape(3)
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    lo, hi, _ = _frame_time(posed_body, frame, frame_period)
    geo = person_geometry(posed_body, frame, objects, object_id=person)
    if occluders is not None and len(occluders):
        geo = geo.extend(occluders)
    poses = [c.poses(posed_body, [lo, frame, hi]) for c in objects]
    out = person_scatterers_room(
        posed_body, frame, view, as_clothing(clothing), freq, gen, objects=objects, object_poses=poses, skin=skin,
        facets=facets, fluctuation=fluctuation, garment_reflection=garment_reflection, geometry=geo,
        frame_period=frame_period, bandwidth_hz=bandwidth_hz, person=person, min_rcs=min_rcs,
    )
    return out.transformed(T_radar_from_room)


def person_scatterers_room(
    posed_body: PosedBody,
    frame: int,
    view: np.ndarray,
    clothing: Clothing,
    freq: float,
    gen: np.random.Generator,
    *,
    objects: Sequence[CarriedObject],
    object_poses: Sequence[np.ndarray],
    skin: str | Material | MaterialInstance | None,
    facets: FacetModel,
    fluctuation: Fluctuation | None,
    garment_reflection: bool,
    geometry: SceneGeometry,
    frame_period: float | None,
    bandwidth_hz: float,
    person: int,
    min_rcs: float = 0.0,
) -> Scatterers:
    """:func:`body_scatterers` in the room frame, with precomputed occluders and object poses (for
    renderers that look at the same frame from several viewpoints).

    Args:
        view: [3] room-frame point the radar (or its image) looks from.
        object_poses: per carried object, ``T_room_from_object`` [3, 4, 4] at frames (t-1, t, t+1)
            (clamped at the clip ends).
        geometry: occluders: :func:`person_geometry` of this person first (segments at global indices
            0..S-1, then one box per carried object), then anything else.
        (other arguments as :func:`body_scatterers`.)
    """
    return person_scatterers_views(
        posed_body, frame, np.asarray(view, dtype=np.float64).reshape(1, 3), clothing, freq, gen, objects=objects,
        object_poses=object_poses, skin=skin, facets=facets, fluctuation=fluctuation,
        garment_reflection=garment_reflection, geometry=geometry, frame_period=frame_period,
        bandwidth_hz=bandwidth_hz, person=person, min_rcs=min_rcs,
    )[0]


@functools.lru_cache(maxsize=64)
def _layer_groups(clothing: Clothing, names: tuple[str, ...]) -> tuple[tuple[tuple[MaterialInstance, ...], np.ndarray], ...]:
    """Segments grouped by their garment layers: ``((layers, segment indices [k]), ...)`` (bare skin left out)."""
    groups: dict[tuple[MaterialInstance, ...], list[int]] = {}
    for s_idx, name in enumerate(names):
        layers = clothing.layers(name)
        if layers:
            groups.setdefault(layers, []).append(s_idx)
    return tuple((k, np.array(v, dtype=np.int64)) for k, v in groups.items())


def person_scatterers_views(
    posed_body: PosedBody,
    frame: int,
    views: np.ndarray,
    clothing: Clothing,
    freq: float,
    gen: np.random.Generator,
    *,
    objects: Sequence[CarriedObject],
    object_poses: Sequence[np.ndarray],
    skin: str | Material | MaterialInstance | None,
    facets: FacetModel | Sequence[FacetModel],
    fluctuation: Fluctuation | None,
    garment_reflection: bool,
    geometry: SceneGeometry,
    frame_period: float | None,
    bandwidth_hz: float,
    person: int,
    min_rcs: float = 0.0,
    fluctuation_draws: Sequence[np.ndarray] | None = None,
) -> list[Scatterers]:
    """:func:`person_scatterers_room` for several viewpoints ``views`` ``[V, 3]`` (room frame) at once: one
    facet computation per facet model and one occlusion query for all of them (the radar and the
    multipath image radars of a frame). ``facets`` is one model or one per view. Element ``v`` of the
    result equals ``person_scatterers_room(..., views[v], ..., facets=facets[v])``; the fluctuation
    multipliers are drawn per view in view order, or taken from ``fluctuation_draws`` (one array per view).
    """
    from mmsight.sim.objects import object_scatterers

    radars = np.asarray(views, dtype=np.float64).reshape(-1, 3)
    V = radars.shape[0]
    models = [facets] * V if isinstance(facets, FacetModel) else list(facets)
    if len(models) != V:
        raise ValueError(f"{len(models)} facet models for {V} views")
    lo, hi, span = _frame_time(posed_body, frame, frame_period)
    seg = posed_body.segments
    c, ax, sa = body_ellipsoids(posed_body, frame)
    c, ax, sa = (np.asarray(x, dtype=np.float64) for x in (c, ax, sa))
    S = len(seg.names)
    skin_r = skin_reflectivity(freq, skin, bandwidth_hz)
    layer_groups = _layer_groups(clothing, tuple(seg.names))

    # ---- body facets: one computation per facet model for all its views (rows v * S + s)
    pts_l: list[np.ndarray] = [np.zeros(0)] * V
    rcs_l: list[np.ndarray] = [np.zeros(0)] * V
    cos_l: list[np.ndarray] = [np.zeros(0)] * V
    loc_l: list[np.ndarray] = [np.zeros(0)] * V
    nrm_l: list[np.ndarray] = [np.zeros(0)] * V
    for model in dict.fromkeys(models):
        vs = [v for v in range(V) if models[v] == model]
        G = len(vs)
        if G == 1:
            fac = _ellipsoid_facets(c, ax, sa, radars[vs], model)
        else:
            fac = _ellipsoid_facets(np.tile(c, (G, 1)), np.tile(ax, (G, 1, 1)), np.tile(sa, (G, 1)),
                                    np.repeat(radars[vs], S, axis=0), model)
        M = fac.rcs.shape[1]
        refl = np.full((G, S, M), skin_r)
        inc = np.arccos(np.clip(fac.cos_incidence, -1.0, 1.0)).reshape(G, S, M)
        for layers, segs in layer_groups:
            t2 = np.ones((G, len(segs), M))
            for inst in layers:
                t2 = t2 * slab_transmission(inst, freq, inc[:, segs], bandwidth_hz) ** 2
            r_g = refl[:, segs] * t2
            if garment_reflection:
                r_g += _tables(layers[-1], freq, bandwidth_hz)[1][0]
            refl[:, segs] = r_g
        rcs_g = fac.rcs.reshape(G, S, M) * refl
        for g, v in enumerate(vs):
            pts_l[v] = fac.points.reshape(G, S * M, 3)[g]
            rcs_l[v] = rcs_g[g]
            cos_l[v] = fac.cos_incidence.reshape(G, S * M)[g]
            loc_l[v] = fac.local.reshape(G, S * M, 3)[g]
            nrm_l[v] = fac.normals.reshape(G, S * M, 3)[g]
    if fluctuation is not None:
        k = S if fluctuation.per == "segment" else 1
        for v in range(V):
            draw = fluctuation.draw(k, gen) if fluctuation_draws is None else np.asarray(fluctuation_draws[v])
            rcs_l[v] = rcs_l[v] * draw[:, None]
    seg_l = [np.repeat(np.arange(S), r.shape[1]) for r in rcs_l]
    rcs_l = [r.reshape(-1) for r in rcs_l]
    idx_v = [np.flatnonzero((rcs_l[v] > max(min_rcs, 0.0)) & (cos_l[v] > 0)) for v in range(V)]

    # ---- carried objects (PO primitives, garment loss): every view in one call per object (the views
    # enter as poses relative to each viewpoint, so the primitives' patterns are evaluated once)
    o_pos_l, o_rcs_l, o_pass_l, o_src_l, o_traj_l = [], [], [], [], []  # per object: [V, K_o, 3], [V, K_o], ...
    for o_idx, (carried, poses) in enumerate(zip(objects, object_poses)):
        obj = carried.object
        o_traj_l.append(np.einsum("tij,kj->tki", poses[:, :3, :3], obj.local_positions()) + poses[:, None, :3, 3])  # [3, K, 3]
        if V == 1:
            pos_v, orcs_v = object_scatterers(obj, poses[1], radars[0], freq, clothing=None)  # [K, 3], [K]
            pos_v, orcs_v = pos_v[None], orcs_v[None]
        else:
            rel = np.repeat(poses[1][None], V, axis=0)
            rel[:, :3, 3] -= radars
            pos_v, orcs_v = object_scatterers(obj, rel, np.zeros(3), freq, clothing=None)  # [V, K, 3], [V, K]
            pos_v = pos_v + radars[:, None, :]
        d = radars[:, None, :] - pos_v
        d /= np.linalg.norm(d, axis=-1, keepdims=True)
        cos_face = d @ poses[1, :3, 2]  # [V, K]
        layers = carried.covering(clothing)
        if layers:
            # objects.concealed_two_way_loss_db's model (incidence on the garment parallel to the
            # object's face), from the cached slab tables
            ang = np.arccos(np.clip(np.abs(cos_face), 0.0, 1.0))
            for inst in layers:
                orcs_v = orcs_v * slab_transmission(inst, freq, ang, bandwidth_hz) ** 2
        o_pos_l.append(pos_v)
        o_rcs_l.append(orcs_v)
        # an ellipsoid that contains the object (it sits in the clothing gap; the ellipsoids are
        # approximate) hides it only when the object faces away from the radar (far side of the body)
        o_pass_l.append(cos_face > 0.0)
        o_src_l.append(np.full(pos_v.shape[1], o_idx))
    n_obj = sum(x.shape[1] for x in o_pos_l)  # object primitives per view
    if n_obj:
        o_pos = np.concatenate(o_pos_l, axis=1)  # [V, K_obj, 3]
        o_rcs = np.concatenate(o_rcs_l, axis=1)
        o_pass = np.concatenate(o_pass_l, axis=1)
        o_src = np.concatenate(o_src_l)
        o_box = S + o_src  # the occlusion query ignores the object's own box
        # the objects' motion is the same from every viewpoint: once
        o_vel, o_acc = _motion(np.concatenate(o_traj_l, axis=1), frame, lo, hi, span, posed_body.times, frame_period)

    # ---- one occlusion query for the facets and object primitives of every view
    q_pts, q_ign, q_pass, q_len = [], [], [], []
    for v in range(V):
        idx = idx_v[v]
        q_pts.append(pts_l[v][idx])
        q_ign.append(seg_l[v][idx])
        q_pass.append(np.zeros(idx.size, bool))
        if n_obj:
            q_pts.append(o_pos[v])
            q_ign.append(o_box)
            q_pass.append(o_pass[v])
        q_len.append(idx.size + n_obj)
    q_to = np.repeat(radars, q_len, axis=0) if V > 1 else radars[0]
    blocked_all = occluded(geometry, np.concatenate(q_pts), q_to, ignore=np.concatenate(q_ign),
                           pass_containing=np.concatenate(q_pass))

    # ---- motion of the visible facets, all views at once
    keep_v = []
    off = 0
    for v in range(V):
        idx = idx_v[v]
        keep_v.append(idx[~blocked_all[off: off + idx.size]])
        off += q_len[v]
    local = np.concatenate([loc_l[v][keep_v[v]] for v in range(V)])
    si = np.concatenate([seg_l[v][keep_v[v]] for v in range(V)])
    traj = np.stack([seg.centers[f][si] + np.einsum("nij,nj->ni", seg.axes[f][si], local) for f in (lo, frame, hi)])
    vel_all, acc_all = _motion(traj, frame, lo, hi, span, posed_body.times, frame_period)

    # ---- every view's body facets then objects, as one set of arrays, split per view at the end
    b_pos, b_rcs, b_nrm, o_keep, counts = [], [], [], [], []
    off = 0
    for v in range(V):
        idx = keep_v[v]
        b_pos.append(pts_l[v][idx])
        b_rcs.append(rcs_l[v][idx])
        b_nrm.append(nrm_l[v][idx])
        k = 0
        if n_obj:
            o_blocked = blocked_all[off + idx_v[v].size: off + q_len[v]]
            keep = np.flatnonzero(~o_blocked & (o_rcs[v] > max(min_rcs, 0.0)))
            o_keep.append(keep)
            k = keep.size
        counts.append((idx.size, k))
        off += q_len[v]
    n_b = sum(c[0] for c in counts)
    # rows: the views in order, each its body facets then its objects
    order_pos, order_vel, order_acc, order_rcs, order_nrm, order_seg, order_src, order_kind = [], [], [], [], [], [], [], []
    a = 0
    for v, (nb, k) in enumerate(counts):
        order_pos.append(b_pos[v])
        order_vel.append(vel_all[a: a + nb])
        order_acc.append(acc_all[a: a + nb])
        order_rcs.append(b_rcs[v])
        order_nrm.append(b_nrm[v])
        order_seg.append(si[a: a + nb])
        order_src.append(np.full(nb, -1))
        order_kind.append(np.full(nb, KIND_BODY))
        a += nb
        if k:
            keep = o_keep[v]
            order_pos.append(o_pos[v][keep])
            order_vel.append(o_vel[keep])
            order_acc.append(o_acc[keep])
            order_rcs.append(o_rcs[v][keep])
            order_nrm.append(np.zeros((k, 3)))
            order_seg.append(np.full(k, -1))
            order_src.append(o_src[keep])
            order_kind.append(np.full(k, KIND_OBJECT))
    n_all = n_b + sum(c[1] for c in counts)
    allv = Scatterers(
        positions=np.concatenate(order_pos), velocities=np.concatenate(order_vel), rcs=np.concatenate(order_rcs),
        segment=np.concatenate(order_seg).astype(np.int16), kind=np.concatenate(order_kind).astype(np.int8),
        person=_i(n_all, person), source=np.concatenate(order_src).astype(np.int16), path=_i(n_all, PATH_DIRECT, np.int8),
        normals=np.concatenate(order_nrm), accelerations=np.concatenate(order_acc),
    )
    out = []
    a = 0
    for nb, k in counts:
        out.append(allv.select(slice(a, a + nb + k)))
        a += nb + k
    return out
