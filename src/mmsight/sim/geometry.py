"""Scene geometry for both sensors: vectorised primitives, ray casting, visibility and surface sampling.

Primitive families (every array is float64, metres, in whatever frame the scene is built in, normally
the room frame of :mod:`mmsight.sim.skeleton`: +x right seen from the radar, +y along boresight, +z up,
floor at ``z = 0``):

* :class:`Ellipsoids` ``(centers [S, 3], axes [S, 3, 3], semi_axes [S, 3])`` -- ``axes`` columns are
  the unit axes (u, v, w) of each ellipsoid, ``semi_axes`` the semi-axes along them. This is exactly
  one frame of a body's :class:`~mmsight.sim.body.SegmentSet` (:meth:`Ellipsoids.from_segments`).
* :class:`Capsules` ``(p0 [C, 3], p1 [C, 3], radius [C])`` -- all points within ``radius`` of the
  segment ``p0``-``p1``.
* :class:`Boxes` ``(centers [B, 3], axes [B, 3, 3], half_extents [B, 3])`` -- oriented boxes (walls
  with thickness, furniture, ladder parts, a whiteboard).
* :class:`Quads` ``(centers [Q, 3], u [Q, 3], v [Q, 3])`` -- rectangles with orthogonal half-edge
  vectors ``u``, ``v``; the front normal is ``u x v``. Two-sided.
* :class:`Planes` ``(points [P, 3], normals [P, 3])`` -- infinite planes (a floor). Two-sided.

:class:`SceneGeometry` concatenates primitives of all families; each primitive gets a global index
(the order in which primitives were added) and the tags ``material`` (a name from
:mod:`mmsight.sim.materials`, or any string), ``kind`` (free string; the simulator uses ``"body"``,
``"clothing"``, ``"wall"``, ``"floor"``, ``"ceiling"``, ``"furniture"``, ``"clutter"``, ``"object"``),
``object_id`` (int >= 0 chosen by the scene builder, e.g. person index 0..N-1 for people and 100+ for
room parts; ``-1`` is reserved for "no hit") and an optional per-primitive ``name``.

Ray casting (:func:`ray_cast`) returns the nearest surface crossing with ``t > t_min`` along each
ray. Solids (ellipsoids, capsules, boxes) are closed: a ray that starts inside one hits its exit
surface. Every primitive is opaque here; transparency (glass for the camera, wall penetration for
the radar) is the caller's business (cast again from the hit point with ``ignore_primitive``).

Speed: rays are culled against each primitive's bounding sphere with one matrix product per chunk of
rays, and exact intersections are computed only for the surviving (ray, primitive) pairs, so a
128 x 128 image against ~30 primitives takes a few milliseconds.

Visibility: :func:`segment_occluded` tells whether the straight path between two points crosses any
primitive. Cast towards a point sampled on a surface, the point's own primitive blocks the path only
when the point faces away from the other end (self-shadowing of a convex primitive), so back-facing
points come out occluded without a separate normal test; pass ``ignore_primitive`` to skip that.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Sequence, Union

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from .body import SegmentSet

__all__ = [
    "PRIMITIVE_TYPES",
    "Ellipsoids",
    "Capsules",
    "Boxes",
    "Quads",
    "Planes",
    "Primitives",
    "SceneGeometry",
    "RayHits",
    "ray_cast",
    "first_hit_between",
    "segment_occluded",
    "tail_geometry",
    "sample_surface",
    "room_geometry",
]

#: Primitive family names in their internal order (``SceneGeometry.primitive_type`` indexes this).
PRIMITIVE_TYPES: tuple[str, ...] = ("ellipsoid", "capsule", "box", "quad", "plane")

_INF = np.inf


def _single_thread_blas() -> Any:
    """Context manager holding BLAS to one thread: the many tiny matrix products of ray casting are
    several times slower when BLAS spreads them over threads (no-op without threadpoolctl; free inside
    an active limit, see :func:`mmsight.utils.threads.blas_limit`)."""
    from mmsight.utils.threads import blas_limit

    return blas_limit(1)


def _f64(a: np.ndarray | Sequence, shape_tail: tuple[int, ...], what: str) -> np.ndarray:
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim == len(shape_tail):
        arr = arr[None]
    if arr.ndim != len(shape_tail) + 1 or arr.shape[1:] != shape_tail:
        raise ValueError(f"{what}: expected shape [N, {', '.join(map(str, shape_tail))}], got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{what}: values must be finite")
    return np.ascontiguousarray(arr)


def _unit_rows(v: np.ndarray) -> np.ndarray:
    n = np.sqrt(np.einsum("...k,...k->...", v, v))[..., None]
    return v / np.maximum(n, 1e-300)


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.einsum("...k,...k->...", a, b)


def _rmul(v: np.ndarray, a: np.ndarray) -> np.ndarray:
    """``v_i a_ik``: rows ``v [N, 3]`` times one matrix ``a [3, 3]`` or per-row matrices ``[N, 3, 3]``."""
    return v @ a if a.ndim == 2 else np.einsum("ni,nik->nk", v, a)


def _cmul(a: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``a_ik q_k``: combination of the columns of ``a`` (``[3, 3]`` or ``[N, 3, 3]``) with ``q [N, 3]``."""
    return q @ a.T if a.ndim == 2 else np.einsum("nik,nk->ni", a, q)


def _split_transform(transform: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    m = np.asarray(transform, dtype=np.float64)
    if m.shape != (4, 4):
        raise ValueError(f"transform must be 4x4, got {m.shape}")
    r = m[:3, :3]
    if not np.allclose(r @ r.T, np.eye(3), atol=1e-6):
        raise ValueError("transform rotation is not orthonormal")
    return r, m[:3, 3]


def _perpendicular(axis: np.ndarray) -> np.ndarray:
    """A unit vector perpendicular to each unit row of ``axis`` ``[N, 3]``."""
    helper = np.where(np.abs(axis[:, 2:3]) < 0.9, np.array([[0.0, 0.0, 1.0]]), np.array([[1.0, 0.0, 0.0]]))
    return _unit_rows(np.cross(axis, helper))


def _smallest_root_above(t_min: np.ndarray, *cands: np.ndarray) -> np.ndarray:
    best = np.full(t_min.shape, _INF)
    for c in cands:
        ok = np.isfinite(c) & (c > t_min)
        best = np.where(ok & (c < best), c, best)
    return best


def _first_above(t_min: np.ndarray, r0: np.ndarray, r1: np.ndarray | None) -> np.ndarray:
    """Given ordered candidate roots ``r0 <= r1`` (NaN = none), the first one ``> t_min``, else inf."""
    with np.errstate(invalid="ignore"):
        if r1 is None:
            return np.where(r0 > t_min, r0, _INF)
        return np.where(r0 > t_min, r0, np.where(r1 > t_min, r1, _INF))


def _quadratic_roots(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Roots of ``a t^2 + 2 b t + c = 0`` (note the 2b), numerically stable; NaN where none / a == 0."""
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        disc = b * b - a * c
        sq = np.sqrt(np.where(disc >= 0, disc, np.nan))
        q = -(b + np.copysign(sq, b))
        r0 = q / a
        r1 = c / q
        bad = ~(a > 1e-300)
        r0 = np.where(bad, np.nan, r0)
        r1 = np.where(bad, np.nan, r1)
    return np.minimum(r0, r1), np.maximum(r0, r1)


# ----------------------------------------------------------------------------------------------
# primitive families
# ----------------------------------------------------------------------------------------------


class _Family:
    """Common interface of the primitive families (pairwise kernels over ``[N]`` (ray, primitive) pairs)."""

    type_name: str = ""

    def __len__(self) -> int:  # pragma: no cover - overridden
        raise NotImplementedError

    def bounding_spheres(self) -> tuple[np.ndarray, np.ndarray]:
        """Centres ``[n, 3]`` and radii ``[n]`` (m) of spheres enclosing each primitive (inf = unbounded)."""
        raise NotImplementedError

    def surface_area(self) -> np.ndarray:
        """``[n]`` surface areas (m^2; inf for planes)."""
        raise NotImplementedError

    def intersect_one(self, o: np.ndarray, d: np.ndarray, k: int, t_min: np.ndarray) -> np.ndarray:
        """Distance ``[N]`` along unit rays ``o + t d`` (``o`` ``[3]`` shared or ``[N, 3]``, ``d [N, 3]``) to
        primitive ``k``: the smallest crossing ``> t_min [N]``, inf if none."""
        raise NotImplementedError

    def intersect_pairs(self, o: np.ndarray, d: np.ndarray, idx: np.ndarray, t_min: np.ndarray) -> np.ndarray:
        """Like :meth:`intersect_one` for ``N`` (ray, primitive) pairs: ray ``o + t d`` (``o`` ``[3]`` or
        ``[N, 3]``, ``d [N, 3]``) against primitive ``idx[n]`` (one gather of the parameters per pair)."""
        raise NotImplementedError

    def normals_at(self, points: np.ndarray, idx: np.ndarray, dirs: np.ndarray | None = None) -> np.ndarray:
        """Unit normals ``[N, 3]`` at surface points of primitives ``idx``. Solids: outward. Two-sided
        surfaces: facing against ``dirs`` when given, else the front normal."""
        raise NotImplementedError

    def surface_residual(self, points: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """``[N]`` an implicit function that is 0 on the surface of primitive ``idx`` (< 0 inside)."""
        raise NotImplementedError

    def surface_uv(self, points: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """``[N, 2]`` surface coordinates (m) of points on primitive ``idx``, attached to the primitive's
        own frame (so a texture moves with it)."""
        raise NotImplementedError

    def sample(self, counts: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``counts[i]`` points on primitive i: points ``[K, 3]``, outward normals ``[K, 3]``, index ``[K]``."""
        raise NotImplementedError

    def transformed(self, transform: np.ndarray) -> "_Family":
        raise NotImplementedError

    def take(self, idx: np.ndarray) -> "_Family":
        raise NotImplementedError


def _concat(items: Sequence[_Family]) -> _Family:
    first = items[0]
    kwargs = {}
    for f in first.__dataclass_fields__:  # type: ignore[attr-defined]
        vals = [getattr(it, f) for it in items]
        if any(v is None for v in vals):
            if all(v is None for v in vals):
                kwargs[f] = None
                continue
            # fill missing optional references with derived ones
            vals = [v if v is not None else it._default_ref() for v, it in zip(vals, items)]  # type: ignore[attr-defined]
        kwargs[f] = np.concatenate(vals, axis=0)
    return type(first)(**kwargs)


@dataclass(frozen=True)
class Ellipsoids(_Family):
    """Ellipsoids ``{p : sum_k ((p - c) . axes[:, k] / semi_axes[k])^2 <= 1}``.

    Attributes:
        centers: ``[S, 3]`` m.
        axes: ``[S, 3, 3]``; columns are the orthonormal axes (u, v, w).
        semi_axes: ``[S, 3]`` m, along (u, v, w).
    """

    centers: np.ndarray
    axes: np.ndarray
    semi_axes: np.ndarray
    type_name = "ellipsoid"

    def __post_init__(self) -> None:
        c = _f64(self.centers, (3,), "centers")
        a = _f64(self.axes, (3, 3), "axes")
        s = _f64(self.semi_axes, (3,), "semi_axes")
        if not (len(c) == len(a) == len(s)):
            raise ValueError(f"inconsistent counts: centers {len(c)}, axes {len(a)}, semi_axes {len(s)}")
        if np.any(s <= 0):
            raise ValueError("semi_axes must be > 0")
        object.__setattr__(self, "centers", c)
        object.__setattr__(self, "axes", a)
        object.__setattr__(self, "semi_axes", s)

    def __len__(self) -> int:
        return len(self.centers)

    @classmethod
    def from_segments(cls, segments: "SegmentSet", t: int = 0) -> "Ellipsoids":
        """Frame ``t`` of a body's :class:`~mmsight.sim.body.SegmentSet` (S = 19 segments)."""
        return cls(segments.centers[t], segments.axes[t], segments.semi_axes)

    @classmethod
    def spheres(cls, centers: np.ndarray, radii: np.ndarray | float) -> "Ellipsoids":
        c = _f64(centers, (3,), "centers")
        r = np.broadcast_to(np.asarray(radii, dtype=np.float64), (len(c),))
        return cls(c, np.broadcast_to(np.eye(3), (len(c), 3, 3)).copy(), np.repeat(r[:, None], 3, axis=1))

    def bounding_spheres(self) -> tuple[np.ndarray, np.ndarray]:
        return self.centers, self.semi_axes.max(axis=1)

    def surface_area(self) -> np.ndarray:
        # Knud Thomsen's approximation (relative error < 1.1 %).
        p = 1.6075
        a, b, c = (self.semi_axes[:, k] ** p for k in range(3))
        return 4.0 * np.pi * ((a * b + a * c + b * c) / 3.0) ** (1.0 / p)

    def intersect_one(self, o: np.ndarray, d: np.ndarray, k: int, t_min: np.ndarray) -> np.ndarray:
        m = self.axes[k] / self.semi_axes[k]  # columns scaled: x -> unit-sphere coordinates
        ol = (o - self.centers[k]) @ m
        dl = d @ m
        b = dl @ ol if ol.ndim == 1 else _dot(dl, ol)
        r0, r1 = _quadratic_roots(_dot(dl, dl), b, _dot(ol, ol) - 1.0)
        return _first_above(t_min, r0, r1)

    def intersect_pairs(self, o: np.ndarray, d: np.ndarray, idx: np.ndarray, t_min: np.ndarray) -> np.ndarray:
        m = self._unit_maps()[idx]  # [N, 3, 3]
        ol = np.einsum("ni,nij->nj", o - self.centers[idx], m)
        dl = np.einsum("ni,nij->nj", d, m)
        r0, r1 = _quadratic_roots(_dot(dl, dl), _dot(dl, ol), _dot(ol, ol) - 1.0)
        return _first_above(t_min, r0, r1)

    def _unit_maps(self) -> np.ndarray:
        """``[S, 3, 3]`` axes with columns divided by the semi-axes (x -> unit-sphere coordinates), cached."""
        m = self.__dict__.get("_maps")
        if m is None:
            m = self.axes / self.semi_axes[:, None, :]
            self.__dict__["_maps"] = m
        return m

    def local_coords(self, points: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """``[N, 3]`` coordinates along (u, v, w) relative to the centre, m (``idx``: int or ``[N]``)."""
        return _rmul(points - self.centers[idx], self.axes[idx])

    def normals_at(self, points: np.ndarray, idx: np.ndarray | int, dirs: np.ndarray | None = None) -> np.ndarray:
        q = self.local_coords(points, idx) / self.semi_axes[idx] ** 2
        return _unit_rows(_cmul(self.axes[idx], q))

    def surface_residual(self, points: np.ndarray, idx: np.ndarray) -> np.ndarray:
        q = self.local_coords(points, idx) / self.semi_axes[idx]
        return _dot(q, q) - 1.0

    def surface_uv(self, points: np.ndarray, idx: np.ndarray) -> np.ndarray:
        q = self.local_coords(points, idx)
        s = self.semi_axes[idx]
        r = 0.5 * (s[..., 0] + s[..., 1])
        return np.stack([np.arctan2(q[:, 1] / s[..., 1], q[:, 0] / s[..., 0]) * r, q[:, 2]], axis=1)

    def sample(self, counts: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        counts = np.asarray(counts, dtype=np.int64)
        idx_out, unit_out = [], []
        need = counts.copy()
        inv_s = 1.0 / self.semi_axes
        max_w = inv_s.max(axis=1)
        # Rejection from the sphere: the area element of x -> A diag(s) x at unit normal n is
        # prod(s) * |n / s|, so accept with probability |n / s| / max(1 / s).
        for _ in range(64):
            if not np.any(need > 0):
                break
            draw = np.repeat(np.arange(len(self)), np.ceil(need * 1.5).astype(np.int64) + (need > 0) * 4)
            n = _unit_rows(rng.standard_normal((len(draw), 3)))
            w = np.linalg.norm(n * inv_s[draw], axis=1) / max_w[draw]
            keep = rng.random(len(draw)) < w
            draw, n = draw[keep], n[keep]
            # per primitive, keep the first ``need`` accepted draws
            order = np.argsort(draw, kind="stable")
            draw, n = draw[order], n[order]
            start = np.searchsorted(draw, np.arange(len(self)))
            rank = np.arange(len(draw)) - start[draw]
            ok = rank < need[draw]
            idx_out.append(draw[ok])
            unit_out.append(n[ok])
            need -= np.bincount(draw[ok], minlength=len(self))
        idx = np.concatenate(idx_out) if idx_out else np.zeros(0, np.int64)
        n = np.concatenate(unit_out) if unit_out else np.zeros((0, 3))
        order = np.argsort(idx, kind="stable")
        idx, n = idx[order], n[order]
        a, s = self.axes[idx], self.semi_axes[idx]
        points = self.centers[idx] + np.einsum("nik,nk->ni", a, n * s)
        normals = _unit_rows(np.einsum("nik,nk->ni", a, n / s))
        return points, normals, idx

    def transformed(self, transform: np.ndarray) -> "Ellipsoids":
        r, t = _split_transform(transform)
        return Ellipsoids(self.centers @ r.T + t, np.einsum("ij,njk->nik", r, self.axes), self.semi_axes)

    def take(self, idx: np.ndarray) -> "Ellipsoids":
        return Ellipsoids(self.centers[idx], self.axes[idx], self.semi_axes[idx])


@dataclass(frozen=True)
class Capsules(_Family):
    """Capsules: points within ``radius`` of the segment ``p0``-``p1``.

    Attributes:
        p0, p1: ``[C, 3]`` end points of the core segments, m.
        radius: ``[C]`` m.
        ref: optional ``[C, 3]`` unit vectors perpendicular to the core, the zero of the azimuth used by
            :meth:`surface_uv` (so textures follow a twisting limb); derived when None.
    """

    p0: np.ndarray
    p1: np.ndarray
    radius: np.ndarray
    ref: np.ndarray | None = None
    type_name = "capsule"

    def __post_init__(self) -> None:
        p0 = _f64(self.p0, (3,), "p0")
        p1 = _f64(self.p1, (3,), "p1")
        r = np.atleast_1d(np.asarray(self.radius, dtype=np.float64))
        if not (len(p0) == len(p1) == len(r)):
            raise ValueError("inconsistent capsule counts")
        if np.any(r <= 0):
            raise ValueError("radius must be > 0")
        object.__setattr__(self, "p0", p0)
        object.__setattr__(self, "p1", p1)
        object.__setattr__(self, "radius", r)
        if self.ref is not None:
            ref = _f64(self.ref, (3,), "ref")
            ax = self._axis()[0]
            ref = ref - _dot(ref, ax)[:, None] * ax
            bad = np.linalg.norm(ref, axis=1) < 1e-9
            ref = np.where(bad[:, None], _perpendicular(ax), _unit_rows(ref))
            object.__setattr__(self, "ref", ref)

    def __len__(self) -> int:
        return len(self.p0)

    @classmethod
    def from_segments(cls, segments: "SegmentSet", t: int = 0) -> "Capsules":
        """Frame ``t`` of a body's segments as capsules (the segment's equal-volume capsule)."""
        ends = segments.capsule_endpoints()[t]
        s = np.arange(len(segments.names))
        ref = segments.axes[t, s, :, (segments.capsule_axis + 1) % 3]
        return cls(ends[:, 0], ends[:, 1], segments.capsule_radius, ref)

    def _axis(self) -> tuple[np.ndarray, np.ndarray]:
        span = self.p1 - self.p0
        length = np.linalg.norm(span, axis=1)
        ax = np.where(length[:, None] > 1e-12, span / np.maximum(length, 1e-300)[:, None], np.array([[0.0, 0.0, 1.0]]))
        return ax, length

    def _default_ref(self) -> np.ndarray:
        return _perpendicular(self._axis()[0])

    def bounding_spheres(self) -> tuple[np.ndarray, np.ndarray]:
        _, length = self._axis()
        return 0.5 * (self.p0 + self.p1), 0.5 * length + self.radius

    def surface_area(self) -> np.ndarray:
        _, length = self._axis()
        return 2.0 * np.pi * self.radius * length + 4.0 * np.pi * self.radius**2

    def intersect_one(self, o: np.ndarray, d: np.ndarray, k: int, t_min: np.ndarray) -> np.ndarray:
        ax_all, len_all = self._axis()
        ax, length, r = ax_all[k], len_all[k], self.radius[k]
        shared = o.ndim == 1
        oa = o - self.p0[k]
        da = d @ ax
        oaa = oa @ ax
        dp = d - da[:, None] * ax
        op = oa - (oaa * ax if shared else oaa[:, None] * ax)
        b = dp @ op if shared else _dot(dp, op)
        c0, c1 = _quadratic_roots(_dot(dp, dp), b, _dot(op, op) - r * r)
        cands = []
        with np.errstate(invalid="ignore"):
            for root in (c0, c1):
                y = oaa + root * da
                cands.append(np.where((y >= 0) & (y <= length), root, np.nan))
            for end, lower in ((self.p0[k], True), (self.p1[k], False)):
                oe = o - end
                be = d @ oe if shared else _dot(d, oe)
                disc = be * be - (_dot(oe, oe) - r * r)
                sq = np.sqrt(np.where(disc >= 0, disc, np.nan))
                for root in (-be - sq, -be + sq):
                    y = oaa + root * da
                    cands.append(np.where((y < 0) if lower else (y > length), root, np.nan))
        return _smallest_root_above(t_min, *cands)

    def intersect_pairs(self, o: np.ndarray, d: np.ndarray, idx: np.ndarray, t_min: np.ndarray) -> np.ndarray:
        ax_all, len_all = self._axis()
        ax, length, r = ax_all[idx], len_all[idx], self.radius[idx]
        oa = o - self.p0[idx]
        da = _dot(d, ax)
        oaa = _dot(oa, ax)
        dp = d - da[:, None] * ax
        op = oa - oaa[:, None] * ax
        c0, c1 = _quadratic_roots(_dot(dp, dp), _dot(dp, op), _dot(op, op) - r * r)
        cands = []
        with np.errstate(invalid="ignore"):
            for root in (c0, c1):
                y = oaa + root * da
                cands.append(np.where((y >= 0) & (y <= length), root, np.nan))
            for end, lower in ((self.p0[idx], True), (self.p1[idx], False)):
                oe = o - end
                be = _dot(d, oe)
                disc = be * be - (_dot(oe, oe) - r * r)
                sq = np.sqrt(np.where(disc >= 0, disc, np.nan))
                for root in (-be - sq, -be + sq):
                    y = oaa + root * da
                    cands.append(np.where((y < 0) if lower else (y > length), root, np.nan))
        return _smallest_root_above(t_min, *cands)

    def _closest_on_core(self, points: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ax_all, len_all = self._axis()
        y = np.clip(_dot(points - self.p0[idx], ax_all[idx]), 0.0, len_all[idx])
        return self.p0[idx] + y[:, None] * ax_all[idx], y

    def normals_at(self, points: np.ndarray, idx: np.ndarray, dirs: np.ndarray | None = None) -> np.ndarray:
        core, _ = self._closest_on_core(points, idx)
        return _unit_rows(points - core)

    def surface_residual(self, points: np.ndarray, idx: np.ndarray) -> np.ndarray:
        core, _ = self._closest_on_core(points, idx)
        return np.linalg.norm(points - core, axis=1) - self.radius[idx]

    def surface_uv(self, points: np.ndarray, idx: np.ndarray) -> np.ndarray:
        ax = self._axis()[0][idx]
        e1 = (self.ref if self.ref is not None else self._default_ref())[idx]
        e2 = np.cross(ax, e1)
        rel = points - self.p0[idx]
        return np.stack([np.arctan2(_dot(rel, e2), _dot(rel, e1)) * self.radius[idx], _dot(rel, ax)], axis=1)

    def sample(self, counts: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        counts = np.asarray(counts, dtype=np.int64)
        idx = np.repeat(np.arange(len(self)), counts)
        ax_all, len_all = self._axis()
        ax, length, r = ax_all[idx], len_all[idx], self.radius[idx]
        e1 = self._default_ref()[idx]
        e2 = np.cross(ax, e1)
        p_cyl = (2 * np.pi * r * length) / (2 * np.pi * r * length + 4 * np.pi * r * r)
        on_cyl = rng.random(len(idx)) < p_cyl
        phi = rng.uniform(0, 2 * np.pi, len(idx))
        radial = np.cos(phi)[:, None] * e1 + np.sin(phi)[:, None] * e2
        y = rng.uniform(0, 1, len(idx)) * length
        n_sph = _unit_rows(rng.standard_normal((len(idx), 3)))
        cap_end = np.where((_dot(n_sph, ax) < 0)[:, None], self.p0[idx], self.p1[idx])
        normals = np.where(on_cyl[:, None], radial, n_sph)
        base = np.where(on_cyl[:, None], self.p0[idx] + y[:, None] * ax, cap_end)
        return base + r[:, None] * normals, normals, idx

    def transformed(self, transform: np.ndarray) -> "Capsules":
        r, t = _split_transform(transform)
        return Capsules(self.p0 @ r.T + t, self.p1 @ r.T + t, self.radius, None if self.ref is None else self.ref @ r.T)

    def take(self, idx: np.ndarray) -> "Capsules":
        return Capsules(self.p0[idx], self.p1[idx], self.radius[idx], None if self.ref is None else self.ref[idx])


@dataclass(frozen=True)
class Boxes(_Family):
    """Oriented boxes ``{p : |(p - c) . axes[:, k]| <= half_extents[k], k = 0..2}``.

    Attributes:
        centers: ``[B, 3]`` m.
        axes: ``[B, 3, 3]``; columns are the orthonormal box axes.
        half_extents: ``[B, 3]`` m, along the axes.
    """

    centers: np.ndarray
    axes: np.ndarray
    half_extents: np.ndarray
    type_name = "box"

    def __post_init__(self) -> None:
        c = _f64(self.centers, (3,), "centers")
        a = _f64(self.axes, (3, 3), "axes")
        h = _f64(self.half_extents, (3,), "half_extents")
        if not (len(c) == len(a) == len(h)):
            raise ValueError("inconsistent box counts")
        if np.any(h <= 0):
            raise ValueError("half_extents must be > 0")
        object.__setattr__(self, "centers", c)
        object.__setattr__(self, "axes", a)
        object.__setattr__(self, "half_extents", h)

    def __len__(self) -> int:
        return len(self.centers)

    @classmethod
    def from_min_max(cls, lo: np.ndarray, hi: np.ndarray) -> "Boxes":
        """Axis-aligned boxes between corners ``lo [B, 3]`` and ``hi [B, 3]`` (m)."""
        lo = _f64(lo, (3,), "lo")
        hi = _f64(hi, (3,), "hi")
        return cls(0.5 * (lo + hi), np.broadcast_to(np.eye(3), (len(lo), 3, 3)).copy(), 0.5 * (hi - lo))

    def bounding_spheres(self) -> tuple[np.ndarray, np.ndarray]:
        return self.centers, np.linalg.norm(self.half_extents, axis=1)

    def surface_area(self) -> np.ndarray:
        h = self.half_extents
        return 8.0 * (h[:, 0] * h[:, 1] + h[:, 0] * h[:, 2] + h[:, 1] * h[:, 2])

    def local_coords(self, points: np.ndarray, idx: np.ndarray | int) -> np.ndarray:
        """``[N, 3]`` coordinates along the box axes relative to the centre, m."""
        return _rmul(points - self.centers[idx], self.axes[idx])

    def intersect_one(self, o: np.ndarray, d: np.ndarray, k: int, t_min: np.ndarray) -> np.ndarray:
        a = self.axes[k]
        ol = (o - self.centers[k]) @ a  # [3] or [N, 3]
        dl = np.ascontiguousarray((d @ a).T)  # [3, N]
        olT = ol if ol.ndim == 1 else ol.T
        h = self.half_extents[k]
        t_near = t_far = None
        with np.errstate(divide="ignore", invalid="ignore"):
            for j in range(3):
                inv = 1.0 / dl[j]
                ta = (-h[j] - olT[j]) * inv
                tb = (h[j] - olT[j]) * inv
                lo, hi = np.minimum(ta, tb), np.maximum(ta, tb)
                t_near = lo if t_near is None else np.maximum(t_near, lo)
                t_far = hi if t_far is None else np.minimum(t_far, hi)
        assert t_near is not None and t_far is not None
        miss = ~(t_near <= t_far)
        t_near[miss] = np.nan
        t_far[miss] = np.nan
        return _first_above(t_min, t_near, t_far)

    def intersect_pairs(self, o: np.ndarray, d: np.ndarray, idx: np.ndarray, t_min: np.ndarray) -> np.ndarray:
        a = self.axes[idx]
        ol = np.einsum("ni,nij->jn", o - self.centers[idx], a)  # [3, N]
        dl = np.einsum("ni,nij->jn", d, a)
        h = self.half_extents[idx].T
        t_near = t_far = None
        with np.errstate(divide="ignore", invalid="ignore"):
            for j in range(3):
                inv = 1.0 / dl[j]
                ta = (-h[j] - ol[j]) * inv
                tb = (h[j] - ol[j]) * inv
                lo, hi = np.minimum(ta, tb), np.maximum(ta, tb)
                t_near = lo if t_near is None else np.maximum(t_near, lo)
                t_far = hi if t_far is None else np.minimum(t_far, hi)
        assert t_near is not None and t_far is not None
        miss = ~(t_near <= t_far)
        t_near[miss] = np.nan
        t_far[miss] = np.nan
        return _first_above(t_min, t_near, t_far)

    def _face(self, points: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        q = self.local_coords(points, idx)
        k = np.argmax(np.abs(q) / self.half_extents[idx], axis=1)
        return q, k

    def normals_at(self, points: np.ndarray, idx: np.ndarray, dirs: np.ndarray | None = None) -> np.ndarray:
        q, k = self._face(points, idx)
        rows = np.arange(len(points))
        sign = np.sign(q[rows, k])
        sign[sign == 0] = 1.0
        a = self.axes[idx]
        cols = a.T[k] if a.ndim == 2 else a[rows, :, k]
        return cols * sign[:, None]

    def surface_residual(self, points: np.ndarray, idx: np.ndarray) -> np.ndarray:
        q = self.local_coords(points, idx)
        return np.max(np.abs(q) / self.half_extents[idx], axis=-1) - 1.0

    def surface_uv(self, points: np.ndarray, idx: np.ndarray) -> np.ndarray:
        q, k = self._face(points, idx)
        rows = np.arange(len(points))
        return np.stack([q[rows, (k + 1) % 3], q[rows, (k + 2) % 3]], axis=1)

    def sample(self, counts: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        counts = np.asarray(counts, dtype=np.int64)
        idx = np.repeat(np.arange(len(self)), counts)
        h = self.half_extents[idx]
        face_area = np.stack([h[:, 1] * h[:, 2], h[:, 0] * h[:, 2], h[:, 0] * h[:, 1]], axis=1)
        cdf = np.cumsum(face_area, axis=1) / face_area.sum(axis=1, keepdims=True)
        k = np.minimum((rng.random(len(idx))[:, None] > cdf).sum(axis=1), 2)
        sign = np.where(rng.random(len(idx)) < 0.5, -1.0, 1.0)
        q = rng.uniform(-1.0, 1.0, (len(idx), 3)) * h
        rows = np.arange(len(idx))
        q[rows, k] = sign * h[rows, k]
        a = self.axes[idx]
        points = self.centers[idx] + np.einsum("nik,nk->ni", a, q)
        normals = a[rows, :, k] * sign[:, None]
        return points, normals, idx

    def transformed(self, transform: np.ndarray) -> "Boxes":
        r, t = _split_transform(transform)
        return Boxes(self.centers @ r.T + t, np.einsum("ij,njk->nik", r, self.axes), self.half_extents)

    def take(self, idx: np.ndarray) -> "Boxes":
        return Boxes(self.centers[idx], self.axes[idx], self.half_extents[idx])


@dataclass(frozen=True)
class Quads(_Family):
    """Rectangles ``{c + a u + b v : |a| <= 1, |b| <= 1}`` (two-sided; front normal ``u x v``).

    Attributes:
        centers: ``[Q, 3]`` m.
        u, v: ``[Q, 3]`` orthogonal half-edge vectors, m.
    """

    centers: np.ndarray
    u: np.ndarray
    v: np.ndarray
    type_name = "quad"

    def __post_init__(self) -> None:
        c = _f64(self.centers, (3,), "centers")
        u = _f64(self.u, (3,), "u")
        v = _f64(self.v, (3,), "v")
        if not (len(c) == len(u) == len(v)):
            raise ValueError("inconsistent quad counts")
        nu, nv = np.linalg.norm(u, axis=1), np.linalg.norm(v, axis=1)
        if np.any(nu <= 0) or np.any(nv <= 0):
            raise ValueError("quad edges must be non-zero")
        if np.any(np.abs(_dot(u, v)) > 1e-6 * nu * nv):
            raise ValueError("quad half-edges u and v must be orthogonal")
        object.__setattr__(self, "centers", c)
        object.__setattr__(self, "u", u)
        object.__setattr__(self, "v", v)

    def __len__(self) -> int:
        return len(self.centers)

    @classmethod
    def from_corner(cls, corner: np.ndarray, edge_u: np.ndarray, edge_v: np.ndarray) -> "Quads":
        """Rectangles from one corner ``[Q, 3]`` and two full orthogonal edges ``[Q, 3]`` (m)."""
        corner, eu, ev = (_f64(x, (3,), n) for x, n in ((corner, "corner"), (edge_u, "edge_u"), (edge_v, "edge_v")))
        return cls(corner + 0.5 * (eu + ev), 0.5 * eu, 0.5 * ev)

    @property
    def front_normals(self) -> np.ndarray:
        """``[Q, 3]`` unit ``u x v``."""
        return _unit_rows(np.cross(self.u, self.v))

    def bounding_spheres(self) -> tuple[np.ndarray, np.ndarray]:
        return self.centers, np.sqrt(_dot(self.u, self.u) + _dot(self.v, self.v))

    def surface_area(self) -> np.ndarray:
        return 4.0 * np.linalg.norm(self.u, axis=1) * np.linalg.norm(self.v, axis=1)

    def intersect_one(self, o: np.ndarray, d: np.ndarray, k: int, t_min: np.ndarray) -> np.ndarray:
        n = self.front_normals[k]
        c, u, v = self.centers[k], self.u[k], self.v[k]
        with np.errstate(divide="ignore", invalid="ignore"):
            t = ((c - o) @ n if o.ndim == 1 else _dot(c - o, n)) / (d @ n)
            rel = t[:, None] * d + (o - c)
            a = (rel @ u) / (u @ u)
            b = (rel @ v) / (v @ v)
            inside = (np.abs(a) <= 1.0) & (np.abs(b) <= 1.0)
        return _first_above(t_min, np.where(inside, t, np.nan), None)

    def intersect_pairs(self, o: np.ndarray, d: np.ndarray, idx: np.ndarray, t_min: np.ndarray) -> np.ndarray:
        n = self.front_normals[idx]
        c, u, v = self.centers[idx], self.u[idx], self.v[idx]
        with np.errstate(divide="ignore", invalid="ignore"):
            t = _dot(c - o, n) / _dot(d, n)
            rel = t[:, None] * d + (o - c)
            a = _dot(rel, u) / _dot(u, u)
            b = _dot(rel, v) / _dot(v, v)
            inside = (np.abs(a) <= 1.0) & (np.abs(b) <= 1.0)
        return _first_above(t_min, np.where(inside, t, np.nan), None)

    def normals_at(self, points: np.ndarray, idx: np.ndarray, dirs: np.ndarray | None = None) -> np.ndarray:
        n = np.broadcast_to(self.front_normals[idx], points.shape)
        if dirs is not None:
            n = np.where((_dot(n, dirs) > 0)[:, None], -n, n)
        return n

    def surface_residual(self, points: np.ndarray, idx: np.ndarray) -> np.ndarray:
        return _dot(points - self.centers[idx], self.front_normals[idx])

    def surface_uv(self, points: np.ndarray, idx: np.ndarray) -> np.ndarray:
        rel = points - self.centers[idx]
        u, v = self.u[idx], self.v[idx]
        return np.stack([_dot(rel, _unit_rows(u)), _dot(rel, _unit_rows(v))], axis=1)

    def sample(self, counts: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        counts = np.asarray(counts, dtype=np.int64)
        idx = np.repeat(np.arange(len(self)), counts)
        ab = rng.uniform(-1.0, 1.0, (len(idx), 2))
        points = self.centers[idx] + ab[:, :1] * self.u[idx] + ab[:, 1:] * self.v[idx]
        return points, self.front_normals[idx], idx

    def transformed(self, transform: np.ndarray) -> "Quads":
        r, t = _split_transform(transform)
        return Quads(self.centers @ r.T + t, self.u @ r.T, self.v @ r.T)

    def take(self, idx: np.ndarray) -> "Quads":
        return Quads(self.centers[idx], self.u[idx], self.v[idx])


@dataclass(frozen=True)
class Planes(_Family):
    """Infinite planes through ``points`` with unit ``normals`` (two-sided; front = ``normals``).

    Attributes:
        points: ``[P, 3]`` m.
        normals: ``[P, 3]`` (normalised on construction).
    """

    points: np.ndarray
    normals: np.ndarray
    type_name = "plane"

    def __post_init__(self) -> None:
        p = _f64(self.points, (3,), "points")
        n = _f64(self.normals, (3,), "normals")
        if len(p) != len(n):
            raise ValueError("inconsistent plane counts")
        if np.any(np.linalg.norm(n, axis=1) <= 0):
            raise ValueError("plane normals must be non-zero")
        object.__setattr__(self, "points", p)
        object.__setattr__(self, "normals", _unit_rows(n))

    def __len__(self) -> int:
        return len(self.points)

    def bounding_spheres(self) -> tuple[np.ndarray, np.ndarray]:
        return self.points, np.full(len(self), _INF)

    def surface_area(self) -> np.ndarray:
        return np.full(len(self), _INF)

    def intersect_one(self, o: np.ndarray, d: np.ndarray, k: int, t_min: np.ndarray) -> np.ndarray:
        n = self.normals[k]
        with np.errstate(divide="ignore", invalid="ignore"):
            t = ((self.points[k] - o) @ n if o.ndim == 1 else _dot(self.points[k] - o, n)) / (d @ n)
        return _first_above(t_min, t, None)

    def intersect_pairs(self, o: np.ndarray, d: np.ndarray, idx: np.ndarray, t_min: np.ndarray) -> np.ndarray:
        n = self.normals[idx]
        with np.errstate(divide="ignore", invalid="ignore"):
            t = _dot(self.points[idx] - o, n) / _dot(d, n)
        return _first_above(t_min, t, None)

    def normals_at(self, points: np.ndarray, idx: np.ndarray, dirs: np.ndarray | None = None) -> np.ndarray:
        n = np.broadcast_to(self.normals[idx], points.shape)
        if dirs is not None:
            n = np.where((_dot(n, dirs) > 0)[:, None], -n, n)
        return n

    def surface_residual(self, points: np.ndarray, idx: np.ndarray) -> np.ndarray:
        return _dot(points - self.points[idx], self.normals[idx])

    def surface_uv(self, points: np.ndarray, idx: np.ndarray) -> np.ndarray:
        n = np.broadcast_to(self.normals[idx], points.shape)
        e1 = _perpendicular(n)
        e2 = np.cross(n, e1)
        rel = points - self.points[idx]
        return np.stack([_dot(rel, e1), _dot(rel, e2)], axis=1)

    def sample(self, counts: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if np.any(np.asarray(counts) > 0):
            raise ValueError("cannot sample an infinite plane; use a Quad")
        return np.zeros((0, 3)), np.zeros((0, 3)), np.zeros(0, np.int64)

    def transformed(self, transform: np.ndarray) -> "Planes":
        r, t = _split_transform(transform)
        return Planes(self.points @ r.T + t, self.normals @ r.T)

    def take(self, idx: np.ndarray) -> "Planes":
        return Planes(self.points[idx], self.normals[idx])


Primitives = Union[Ellipsoids, Capsules, Boxes, Quads, Planes]
_FAMILY_CLASSES: tuple[type, ...] = (Ellipsoids, Capsules, Boxes, Quads, Planes)


# ----------------------------------------------------------------------------------------------
# scene
# ----------------------------------------------------------------------------------------------


def _intern(names: tuple[str, ...], values: Sequence[str]) -> tuple[tuple[str, ...], np.ndarray]:
    table = list(names)
    out = np.empty(len(values), dtype=np.int64)
    for i, v in enumerate(values):
        if v not in table:
            table.append(v)
        out[i] = table.index(v)
    return tuple(table), out


@dataclass(frozen=True)
class SceneGeometry:
    """A set of tagged primitives of all families. Build with :meth:`add` (returns a new scene).

    Global primitive indices follow the order of addition. Per-primitive arrays (length P):

    Attributes:
        families: one (possibly empty) primitive family per :data:`PRIMITIVE_TYPES` entry.
        primitive_type: ``[P]`` index into :data:`PRIMITIVE_TYPES`.
        local_index: ``[P]`` index of the primitive inside its family.
        material: ``[P]`` index into :attr:`materials`.
        kind: ``[P]`` index into :attr:`kinds`.
        object_id: ``[P]`` int (>= 0).
        names: ``[P]`` optional primitive names ("" when not given), e.g. body segment names.
        materials, kinds: the name tables.
    """

    families: tuple[_Family | None, ...] = (None,) * len(PRIMITIVE_TYPES)
    primitive_type: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    local_index: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    material: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    kind: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    object_id: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    names: tuple[str, ...] = ()
    materials: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.primitive_type)

    # -- building --------------------------------------------------------------------------

    def add(
        self,
        primitives: Primitives,
        *,
        material: str | Sequence[str],
        kind: str | Sequence[str],
        object_id: int | Sequence[int] | np.ndarray,
        names: Sequence[str] | None = None,
    ) -> "SceneGeometry":
        """A new scene with ``primitives`` appended (``material``/``kind``/``object_id`` scalar or per
        primitive)."""
        if not isinstance(primitives, _FAMILY_CLASSES):
            raise TypeError(f"unsupported primitive family {type(primitives).__name__}")
        n = len(primitives)
        mats = [material] * n if isinstance(material, str) else list(material)
        knds = [kind] * n if isinstance(kind, str) else list(kind)
        oid = np.broadcast_to(np.asarray(object_id, dtype=np.int64), (n,)).copy()
        nms = [""] * n if names is None else [str(x) for x in names]
        if not (len(mats) == len(knds) == len(nms) == n):
            raise ValueError(f"{n} primitives but {len(mats)} materials, {len(knds)} kinds, {len(nms)} names")
        if np.any(oid < 0):
            raise ValueError("object_id must be >= 0 (-1 means 'no hit')")
        ti = PRIMITIVE_TYPES.index(primitives.type_name)
        fams = list(self.families)
        old = fams[ti]
        start = 0 if old is None else len(old)
        fams[ti] = primitives if old is None else _concat([old, primitives])
        mtab, midx = _intern(self.materials, mats)
        ktab, kidx = _intern(self.kinds, knds)
        return SceneGeometry(
            families=tuple(fams),
            primitive_type=np.concatenate([self.primitive_type, np.full(n, ti, np.int64)]),
            local_index=np.concatenate([self.local_index, start + np.arange(n, dtype=np.int64)]),
            material=np.concatenate([self.material, midx]),
            kind=np.concatenate([self.kind, kidx]),
            object_id=np.concatenate([self.object_id, oid]),
            names=self.names + tuple(nms),
            materials=mtab,
            kinds=ktab,
        )

    def extend(self, other: "SceneGeometry") -> "SceneGeometry":
        """A new scene with all primitives of ``other`` appended (tags preserved)."""
        return self._append_runs(other, 0)

    def tail(self, start: int) -> "SceneGeometry":
        """A new scene with the primitives ``start, start + 1, ...`` (tags preserved, indices from 0)."""
        start = int(start)
        if start <= 0:
            return self
        return SceneGeometry()._append_runs(self, start)

    def _append_runs(self, other: "SceneGeometry", start: int) -> "SceneGeometry":
        """``self`` with the primitives ``start, ...`` of ``other`` appended, one :meth:`add` per run of
        consecutive primitives of one family (so the global order is preserved)."""
        n = len(other)
        if start >= n:
            return self
        types = other.primitive_type[start:]
        cuts = [start, *(start + 1 + np.flatnonzero(types[1:] != types[:-1])).tolist(), n]
        out = self
        mats, knds, names = other.materials, other.kinds, other.names
        for a, b in zip(cuts[:-1], cuts[1:]):
            fam = other.families[int(other.primitive_type[a])]
            assert fam is not None
            out = out.add(
                fam.take(other.local_index[a:b]),  # type: ignore[arg-type]
                material=[mats[i] for i in other.material[a:b].tolist()],
                kind=[knds[i] for i in other.kind[a:b].tolist()],
                object_id=other.object_id[a:b],
                names=names[a:b],
            )
        return out

    def add_body(
        self,
        segments: "SegmentSet",
        t: int = 0,
        *,
        object_id: int,
        material: str | Sequence[str] = "skin",
        kind: str | Sequence[str] = "body",
        shape: str = "ellipsoid",
    ) -> "SceneGeometry":
        """Add frame ``t`` of a body's segments as ellipsoids (default) or capsules, named by segment."""
        prims: Primitives
        if shape == "ellipsoid":
            prims = Ellipsoids.from_segments(segments, t)
        elif shape == "capsule":
            prims = Capsules.from_segments(segments, t)
        else:
            raise ValueError(f"shape must be 'ellipsoid' or 'capsule', got {shape!r}")
        return self.add(prims, material=material, kind=kind, object_id=object_id, names=segments.names)

    def transformed(self, transform: np.ndarray) -> "SceneGeometry":
        """Every primitive moved by the rigid 4x4 ``T_to_from`` (e.g. ``T_radar_from_room``)."""
        fams = tuple(None if f is None else f.transformed(transform) for f in self.families)
        return replace(self, families=fams)

    # -- queries ---------------------------------------------------------------------------

    def family(self, type_name: str) -> _Family | None:
        return self.families[PRIMITIVE_TYPES.index(type_name)]

    def global_indices(self, type_name: str) -> np.ndarray:
        """``[n]`` global indices of the primitives of one family, in family order."""
        ti = PRIMITIVE_TYPES.index(type_name)
        sel = np.flatnonzero(self.primitive_type == ti)
        return sel[np.argsort(self.local_index[sel])]

    def material_name(self, primitive: int) -> str:
        return self.materials[int(self.material[primitive])]

    def kind_name(self, primitive: int) -> str:
        return self.kinds[int(self.kind[primitive])]

    def bounding_spheres(self) -> tuple[np.ndarray, np.ndarray]:
        """``[P, 3]`` centres and ``[P]`` radii (inf for planes) in global order."""
        c = np.zeros((len(self), 3))
        r = np.zeros(len(self))
        for ti, fam in enumerate(self.families):
            if fam is None:
                continue
            g = self.global_indices(PRIMITIVE_TYPES[ti])
            c[g], r[g] = fam.bounding_spheres()
        return c, r

    def surface_area(self) -> np.ndarray:
        """``[P]`` m^2 (inf for planes)."""
        out = np.zeros(len(self))
        for ti, fam in enumerate(self.families):
            if fam is not None:
                out[self.global_indices(PRIMITIVE_TYPES[ti])] = fam.surface_area()
        return out

    def _per_primitive(self, primitive: np.ndarray, fn: str, points: np.ndarray, dirs: np.ndarray | None,
                       width: int) -> np.ndarray:
        """Apply a family method to points grouped by global primitive (one matrix per group)."""
        primitive = np.asarray(primitive, dtype=np.int64)
        out = np.full((len(primitive), width) if width else (len(primitive),), np.nan)
        valid = np.flatnonzero(primitive >= 0)
        if len(valid) == 0:
            return out
        # one call per primitive family, with the per-point primitive parameters gathered
        ptype = self.primitive_type[primitive[valid]]
        types = np.unique(ptype)
        for ti in types:
            sel = valid[ptype == ti] if len(types) > 1 else valid
            fam = self.families[ti]
            k = self.local_index[primitive[sel]]
            if fn == "normals_at":
                out[sel] = fam.normals_at(points[sel], k, None if dirs is None else dirs[sel])  # type: ignore[union-attr]
            else:
                out[sel] = getattr(fam, fn)(points[sel], k)  # type: ignore[union-attr]
        return out

    def normals_at(self, points: np.ndarray, primitive: np.ndarray, dirs: np.ndarray | None = None) -> np.ndarray:
        """``[N, 3]`` unit normals at surface points of global primitives ``[N]`` (NaN for -1)."""
        points = np.asarray(points, dtype=np.float64)
        d = None if dirs is None else np.asarray(dirs, dtype=np.float64)
        return self._per_primitive(primitive, "normals_at", points, d, width=3)

    def surface_uv(self, points: np.ndarray, primitive: np.ndarray) -> np.ndarray:
        """``[N, 2]`` per-primitive surface coordinates (m) of surface points (NaN for -1)."""
        return self._per_primitive(primitive, "surface_uv", np.asarray(points, dtype=np.float64), None, width=2)

    def surface_residual(self, points: np.ndarray, primitive: np.ndarray) -> np.ndarray:
        """``[N]`` implicit-surface value (0 on the surface, < 0 inside; NaN for -1)."""
        return self._per_primitive(primitive, "surface_residual", np.asarray(points, dtype=np.float64), None, width=0)


def room_geometry(
    x_range: tuple[float, float],
    y_range: tuple[float, float],
    height: float,
    *,
    wall_thickness: float = 0.12,
    wall_material: str = "drywall",
    floor_material: str = "concrete",
    ceiling_material: str | None = "ceiling_tile",
    walls: Sequence[str] = ("left", "right", "back", "front"),
    object_id: int = 100,
) -> SceneGeometry:
    """A shoebox room: floor slab (top at z = 0), optional ceiling, and walls as thick boxes whose
    inner faces lie on ``x_range``/``y_range`` (m). ``walls`` picks among ``left`` (x = x0), ``right``
    (x = x1), ``front`` (y = y0, the radar side) and ``back`` (y = y1). All parts get ``object_id``
    and are named after themselves (``"floor"``, ``"wall_left"``...)."""
    (x0, x1), (y0, y1) = x_range, y_range
    th = wall_thickness
    geo = SceneGeometry()
    lo = [[x0 - th, y0 - th, -th]]
    hi = [[x1 + th, y1 + th, 0.0]]
    geo = geo.add(Boxes.from_min_max(lo, hi), material=floor_material, kind="floor", object_id=object_id, names=["floor"])
    if ceiling_material is not None:
        geo = geo.add(Boxes.from_min_max([[x0 - th, y0 - th, height]], [[x1 + th, y1 + th, height + th]]),
                      material=ceiling_material, kind="ceiling", object_id=object_id, names=["ceiling"])
    spec = {
        "left": ([x0 - th, y0 - th, 0.0], [x0, y1 + th, height]),
        "right": ([x1, y0 - th, 0.0], [x1 + th, y1 + th, height]),
        "front": ([x0, y0 - th, 0.0], [x1, y0, height]),
        "back": ([x0, y1, 0.0], [x1, y1 + th, height]),
    }
    for w in walls:
        if w not in spec:
            raise ValueError(f"unknown wall {w!r}; valid: {', '.join(spec)}")
        a, b = spec[w]
        geo = geo.add(Boxes.from_min_max([a], [b]), material=wall_material, kind="wall", object_id=object_id,
                      names=[f"wall_{w}"])
    return geo


# ----------------------------------------------------------------------------------------------
# ray casting
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RayHits:
    """Nearest hits of R rays.

    Attributes:
        t: ``[R]`` distance along the (normalised) ray direction, m; inf = miss.
        primitive: ``[R]`` global primitive index, -1 = miss.
        point: ``[R, 3]`` hit points, m (NaN for misses).
        normal: ``[R, 3]`` unit normals (outward for solids; facing the ray for quads/planes; 0 for
            misses).
        object_id, kind, material: ``[R]`` tags of the hit primitive (indices into
            ``SceneGeometry.kinds`` / ``.materials`` for kind/material), -1 = miss.
    """

    t: np.ndarray
    primitive: np.ndarray
    point: np.ndarray
    normal: np.ndarray
    object_id: np.ndarray
    kind: np.ndarray
    material: np.ndarray

    @property
    def hit(self) -> np.ndarray:
        """``[R]`` bool."""
        return self.primitive >= 0

    def __len__(self) -> int:
        return len(self.t)


def _candidates(
    o: np.ndarray, d: np.ndarray, shared_origin: bool, bc: np.ndarray, br: np.ndarray, t_min: np.ndarray, t_max: np.ndarray
) -> np.ndarray:
    """``[P, R]`` bool: may ray r cross the bounding sphere of primitive p within (t_min, t_max)?"""
    finite = np.isfinite(br)
    r = np.where(finite, br * (1.0 + 1e-6) + 1e-6, 0.0)
    uniform_min = bool(np.all(t_min == t_min[0]))
    uniform = uniform_min and bool(np.all(t_max == t_max[0]))
    if shared_origin and uniform_min and t_min[0] < 1e-3 and (not uniform or not np.isfinite(t_max[0])):
        # Fast path (camera): ray r may hit sphere p iff d_r lies in the cone from the origin around the
        # sphere: d . c_hat >= cos(alpha), sin(alpha) = r / |c - o|. One product and one comparison.
        # Per-ray far limits (a camera's moving primitives in front of the static scene) cull a sphere
        # for the rays that end before its nearest point.
        rel = bc - o[0]
        dist = np.sqrt(_dot(rel, rel))
        inside = dist <= r + t_min[0]
        c_hat = rel / np.maximum(dist, 1e-300)[:, None]
        cos_a = np.sqrt(np.clip(1.0 - (np.minimum(r, dist) / np.maximum(dist, 1e-12)) ** 2, 0.0, 1.0))
        # float32 is plenty for a conservative cull: widen the cone by 1e-5 (>> float32 rounding)
        thresh = np.where(inside | ~finite, -2.0, cos_a - 1e-5).astype(np.float32)
        cand = (c_hat.astype(np.float32) @ np.ascontiguousarray(d.T, dtype=np.float32)) >= thresh[:, None]
        if not uniform:
            near = np.where(finite, dist - r, -np.inf) - 1e-6  # no crossing of sphere p before this distance
            cand &= t_max[None, :] > near[:, None]
        return cand
    if shared_origin:
        rel = bc - o[0]  # [P, 3]
        # float32 is plenty for a conservative cull (radii are padded) and halves memory traffic
        b = rel.astype(np.float32) @ np.ascontiguousarray(d.T, dtype=np.float32)  # [P, R]
        rel2 = _dot(rel, rel)
        # the tolerance covers float32 rounding of b^2 (relative ~1e-7 of |rel|^2) with a wide margin
        cand = b * b >= (rel2 - r * r - 1e-5 * rel2 - 1e-9).astype(np.float32)[:, None]
        inside = _dot(rel, rel) <= r * r  # origin inside the bounding sphere: any direction may hit
        cand[inside] = True
    else:
        b = bc @ np.ascontiguousarray(d.T) - _dot(d, o)[None, :]
        dist2 = _dot(bc, bc)[:, None] - 2.0 * (bc @ np.ascontiguousarray(o.T)) + _dot(o, o)[None, :] - b * b
        cand = dist2 <= (r * r)[:, None]
    if uniform:
        lo = (t_min[0] - r).astype(b.dtype)
        cand &= b > lo[:, None]
        if np.isfinite(t_max[0]):
            cand &= b < (t_max[0] + r).astype(b.dtype)[:, None]
    else:
        cand &= (b + r[:, None] > t_min[None, :]) & (b - r[:, None] < t_max[None, :])
    if not np.all(finite):
        cand[~finite, :] = True
    return cand


_PAIR_LIMIT = 256  # primitives with fewer candidate rays than this go through the gathered pair kernels


def _nearest_pairs(
    fams: tuple[_Family | None, ...], ptype: np.ndarray, local: np.ndarray, cand: np.ndarray, prims: np.ndarray,
    o: np.ndarray, shared: bool, d: np.ndarray, tmin: np.ndarray, tb: np.ndarray, pb: np.ndarray,
) -> None:
    """Update the nearest hits ``tb``/``pb`` (in place) with every candidate pair of ``prims`` (global
    indices, increasing). Equal distances go to the lower primitive index, as in a sequential scan."""
    pp, rr = np.nonzero(cand[prims])
    pp = prims[pp]
    t = np.empty(len(pp))
    pt = ptype[pp]
    types = np.unique(pt)
    for ti in types:
        fam = fams[ti]
        assert fam is not None
        sel = np.flatnonzero(pt == ti) if len(types) > 1 else slice(None)
        r_q = rr[sel]
        t[sel] = fam.intersect_pairs(o if shared else o[r_q], d[r_q], local[pp[sel]], tmin[r_q])
    keep = np.flatnonzero(t <= tb[rr])
    if len(keep) == 0:
        return
    t, pp, rr = t[keep], pp[keep], rr[keep]
    order = np.lexsort((pp, t, rr))  # by ray, then distance, then primitive
    first = np.ones(len(order), dtype=bool)
    first[1:] = rr[order[1:]] != rr[order[:-1]]
    win = order[first]
    r_w, t_w, p_w = rr[win], t[win], pp[win]
    better = (t_w < tb[r_w]) | ((t_w == tb[r_w]) & (p_w < pb[r_w]))
    tb[r_w[better]] = t_w[better]
    pb[r_w[better]] = p_w[better]


def ray_cast(
    geometry: SceneGeometry,
    origins: np.ndarray,
    dirs: np.ndarray,
    *,
    t_min: float | np.ndarray = 1e-6,
    t_max: float | np.ndarray | None = None,
    ignore_primitive: np.ndarray | None = None,
    chunk: int = 32768,
    unit_dirs: bool = False,
    normals: bool = True,
) -> RayHits:
    """Nearest surface crossing along each ray.

    Args:
        geometry: the scene.
        origins: ``[R, 3]`` or ``[3]`` (one origin shared by all rays, e.g. a camera centre), m.
        dirs: ``[R, 3]`` directions (normalised here; ``t`` is metres along the unit direction).
        t_min: hits at ``t <= t_min`` are ignored (scalar or ``[R]``), m.
        t_max: hits at ``t >= t_max`` are ignored (scalar or ``[R]``), m; None = unbounded.
        ignore_primitive: ``[R]`` global primitive index that ray r must not hit (-1 = none).
        chunk: rays per batch (bounds memory at ``chunk * P`` pairs).
        unit_dirs: ``dirs`` are unit vectors already (float64 ``[R, 3]``): skip normalising them.
        normals: compute the surface normals at the hits (False: ``normal`` is all zeros, for callers
            that only need what is hit and where, e.g. occlusion tests).

    Returns:
        :class:`RayHits` with R entries.
    """
    with _single_thread_blas():
        return _ray_cast(geometry, origins, dirs, t_min, t_max, ignore_primitive, chunk, unit_dirs, normals)


def _ray_cast(
    geometry: SceneGeometry,
    origins: np.ndarray,
    dirs: np.ndarray,
    t_min: float | np.ndarray,
    t_max: float | np.ndarray | None,
    ignore_primitive: np.ndarray | None,
    chunk: int,
    unit_dirs: bool = False,
    normals: bool = True,
) -> RayHits:
    d = np.atleast_2d(np.asarray(dirs, dtype=np.float64))
    if not unit_dirs:
        d = _unit_rows(d)
    n_rays = len(d)
    o_in = np.asarray(origins, dtype=np.float64)
    shared = o_in.ndim == 1
    if shared:
        if o_in.shape != (3,):
            raise ValueError(f"origins must be [3] or [R, 3], got {o_in.shape}")
    elif o_in.shape != (n_rays, 3):
        raise ValueError(f"origins {o_in.shape} do not match dirs {d.shape}")
    tmin_all = np.broadcast_to(np.asarray(t_min, dtype=np.float64), (n_rays,))
    tmax_all = np.broadcast_to(np.asarray(_INF if t_max is None else t_max, dtype=np.float64), (n_rays,))
    ign_all = None if ignore_primitive is None else np.broadcast_to(np.asarray(ignore_primitive, np.int64), (n_rays,))

    t_best = np.full(n_rays, _INF)
    p_best = np.full(n_rays, -1, dtype=np.int64)
    n_prim = len(geometry)
    if n_prim and n_rays:
        bc, br = geometry.bounding_spheres()
        fams = geometry.families
        ptype, local = geometry.primitive_type, geometry.local_index
        for s in range(0, n_rays, chunk):
            e = min(n_rays, s + chunk)
            dc = d[s:e]
            oc = o_in[None] if shared else o_in[s:e]
            tmin, tmax = tmin_all[s:e], tmax_all[s:e]
            cand = _candidates(oc, dc, shared, bc, br, tmin, tmax)
            if ign_all is not None:
                ig = ign_all[s:e]
                rows = np.flatnonzero(ig >= 0)
                cand[ig[rows], rows] = False
            n_c = e - s
            counts = np.count_nonzero(cand, axis=1)
            tb = np.minimum(np.full(n_c, _INF), tmax)
            pb = np.full(n_c, -1, dtype=np.int64)
            # Primitives with many candidate rays: their own kernel with their parameters as constants.
            for p in np.flatnonzero(counts >= _PAIR_LIMIT):
                fam = fams[ptype[p]]
                assert fam is not None
                if counts[p] == n_c:  # every ray is a candidate (room walls seen from inside): no gathers
                    t = fam.intersect_one(o_in if shared else oc, dc, int(local[p]), tmin)
                    better = np.flatnonzero(t < tb)
                    tb[better] = t[better]
                    pb[better] = p
                    continue
                rows = np.flatnonzero(cand[p])
                t = fam.intersect_one(o_in if shared else oc[rows], dc[rows], int(local[p]), tmin[rows])
                better = t < tb[rows]
                if np.any(better):
                    rows = rows[better]
                    tb[rows] = t[better]
                    pb[rows] = p
            # The rest (few candidate rays each: bodies, small occluders): all their (primitive, ray)
            # pairs in one gathered kernel call per family, instead of one call per primitive.
            small = np.flatnonzero((counts > 0) & (counts < _PAIR_LIMIT))
            if len(small):
                _nearest_pairs(fams, ptype, local, cand, small, o_in if shared else oc, shared, dc, tmin, tb, pb)
            hit = pb >= 0
            t_best[s:e] = np.where(hit, tb, _INF)
            p_best[s:e] = pb

    hit = p_best >= 0
    with np.errstate(invalid="ignore"):
        point = o_in + np.where(hit, t_best, np.nan)[:, None] * d
    if normals:
        normal = geometry.normals_at(point, p_best, d)
        normal[~hit] = 0.0
    else:
        normal = np.zeros((n_rays, 3))
    pb = np.maximum(p_best, 0)
    return RayHits(
        t=t_best,
        primitive=p_best,
        point=point,
        normal=normal,
        object_id=np.where(hit, geometry.object_id[pb] if n_prim else -1, -1),
        kind=np.where(hit, geometry.kind[pb] if n_prim else -1, -1),
        material=np.where(hit, geometry.material[pb] if n_prim else -1, -1),
    )


def tail_geometry(geometry: SceneGeometry, start: int) -> SceneGeometry:
    """The primitives of ``geometry`` from global index ``start`` on (see :meth:`SceneGeometry.tail`)."""
    return geometry.tail(start)


def first_hit_between(
    geometry: SceneGeometry,
    points_a: np.ndarray,
    points_b: np.ndarray,
    *,
    ignore_primitive: np.ndarray | None = None,
    eps: float = 1e-4,
    normals: bool = True,
) -> RayHits:
    """First primitive crossed by each straight segment from ``points_a [N, 3]`` (or ``[3]``) to
    ``points_b [N, 3]``, strictly between the ends (``eps`` m from either end, so a surface point's own
    primitive does not count at the point itself). ``t`` is measured from ``points_a``. ``normals``: as
    in :func:`ray_cast`."""
    b = np.atleast_2d(np.asarray(points_b, dtype=np.float64))
    a = np.asarray(points_a, dtype=np.float64)
    seg = b - a
    length = np.linalg.norm(seg, axis=-1)
    return ray_cast(geometry, a, seg, t_min=eps, t_max=np.maximum(length - eps, 0.0), ignore_primitive=ignore_primitive,
                    normals=normals)


def segment_occluded(
    geometry: SceneGeometry,
    points_a: np.ndarray,
    points_b: np.ndarray,
    *,
    ignore_primitive: np.ndarray | None = None,
    eps: float = 1e-4,
) -> np.ndarray:
    """``[N]`` bool: is the straight path between ``points_a`` (``[N, 3]`` or one point ``[3]``, e.g.
    the radar) and ``points_b [N, 3]`` blocked by any primitive?

    For a point sampled on a primitive, that primitive blocks the path only if the point faces away
    from ``points_a`` (back-facing); pass ``ignore_primitive`` ``[N]`` to exclude it entirely.
    """
    return first_hit_between(geometry, points_a, points_b, ignore_primitive=ignore_primitive, eps=eps, normals=False).hit


# ----------------------------------------------------------------------------------------------
# surface sampling
# ----------------------------------------------------------------------------------------------


def sample_surface(
    primitives: Primitives | SceneGeometry,
    n_per: int | np.ndarray,
    rng: np.random.Generator | int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random points on primitive surfaces, area-uniform within each primitive.

    Args:
        primitives: one family, or a whole scene (planes are skipped: they are infinite).
        n_per: points per primitive, scalar or ``[n]`` (e.g. ``ceil(density * surface_area())``).
        rng: generator or seed.

    Returns:
        points ``[K, 3]`` m, outward (front) unit normals ``[K, 3]``, primitive ``[K]`` (local index for a
        family, global index for a scene), grouped by primitive in increasing index order.
    """
    g = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    if isinstance(primitives, SceneGeometry):
        counts = np.broadcast_to(np.asarray(n_per, dtype=np.int64), (len(primitives),)).copy()
        counts[primitives.primitive_type == PRIMITIVE_TYPES.index("plane")] = 0
        pts, nrm, idx = [np.zeros((0, 3))], [np.zeros((0, 3))], [np.zeros(0, np.int64)]
        for ti, fam in enumerate(primitives.families):
            if fam is None:
                continue
            gidx = primitives.global_indices(PRIMITIVE_TYPES[ti])
            p, n, i = fam.sample(counts[gidx], g)
            pts.append(p)
            nrm.append(n)
            idx.append(gidx[i])
        points, normals, prim = np.concatenate(pts), np.concatenate(nrm), np.concatenate(idx)
        order = np.argsort(prim, kind="stable")
        return points[order], normals[order], prim[order]
    counts = np.broadcast_to(np.asarray(n_per, dtype=np.int64), (len(primitives),))
    if np.any(counts < 0):
        raise ValueError("n_per must be >= 0")
    return primitives.sample(counts, g)
