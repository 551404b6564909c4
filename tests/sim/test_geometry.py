"""Tests of mmsight.sim.geometry: analytic intersections, normals, nearest hit, occlusion, sampling."""

from __future__ import annotations

import time

import numpy as np
import pytest

from mmsight.sim.body import BodyShape
from mmsight.sim.geometry import (
    Boxes,
    Capsules,
    Ellipsoids,
    Planes,
    Quads,
    SceneGeometry,
    first_hit_between,
    ray_cast,
    room_geometry,
    sample_surface,
    segment_occluded,
)


def _rot(axis: str, angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    if axis == "x":
        return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    if axis == "y":
        return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def _scene(prims, **tags) -> SceneGeometry:
    return SceneGeometry().add(prims, material=tags.get("material", "skin"), kind=tags.get("kind", "body"),
                               object_id=tags.get("object_id", 0))


def _random_dirs(rng: np.random.Generator, n: int, towards: np.ndarray, spread: float) -> np.ndarray:
    d = towards / np.linalg.norm(towards) + spread * rng.standard_normal((n, 3))
    return d / np.linalg.norm(d, axis=1, keepdims=True)


def test_ray_sphere_analytic() -> None:
    rng = np.random.default_rng(0)
    c, r = np.array([0.3, 5.0, -0.2]), 0.8
    geo = _scene(Ellipsoids.spheres(c[None], r))
    o = np.array([0.1, -0.5, 0.3])
    d = _random_dirs(rng, 400, c - o, 0.15)
    hits = ray_cast(geo, o, d)
    b = (c - o) @ d.T
    disc = b**2 - (np.sum((c - o) ** 2) - r**2)
    expect = np.where(disc >= 0, b - np.sqrt(np.maximum(disc, 0)), np.inf)
    assert np.any(np.isinf(expect)) and np.any(np.isfinite(expect))
    np.testing.assert_array_equal(np.isfinite(hits.t), np.isfinite(expect))
    ok = np.isfinite(expect)
    np.testing.assert_allclose(hits.t[ok], expect[ok], atol=1e-9)
    n = hits.normal[ok]
    np.testing.assert_allclose(np.linalg.norm(n, axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(n, (hits.point[ok] - c) / r, atol=1e-9)  # outward
    assert np.all(hits.primitive[~ok] == -1) and np.all(hits.object_id[~ok] == -1)


def test_ray_ellipsoid_rotated_matches_local_solution() -> None:
    rng = np.random.default_rng(1)
    axes = _rot("z", 0.7) @ _rot("x", -0.4)
    c, s = np.array([1.0, 4.0, 1.2]), np.array([0.15, 0.3, 0.6])
    ell = Ellipsoids(c[None], axes[None], s[None])
    geo = _scene(ell)
    o = np.zeros(3)
    d = _random_dirs(rng, 300, c - o, 0.1)
    hits = ray_cast(geo, o, d)
    # independent solution: scale into the unit sphere, solve with numpy.roots
    for i in range(0, 300, 7):
        ol = axes.T @ (o - c) / s
        dl = axes.T @ d[i] / s
        roots = np.roots([dl @ dl, 2 * ol @ dl, ol @ ol - 1])
        real = np.sort(roots[np.abs(roots.imag) < 1e-12].real)
        real = real[real > 0]
        if len(real):
            assert hits.t[i] == pytest.approx(real[0], abs=1e-9)
        else:
            assert np.isinf(hits.t[i])
    ok = hits.hit
    assert ok.sum() > 50
    np.testing.assert_allclose(geo.surface_residual(hits.point[ok], hits.primitive[ok]), 0.0, atol=1e-9)
    n = hits.normal[ok]
    np.testing.assert_allclose(np.linalg.norm(n, axis=1), 1.0, atol=1e-12)
    assert np.all(np.sum(n * d[ok], axis=1) < 0)  # facing the incoming ray: outward
    # gradient direction of the implicit function
    eps = 1e-6
    p = hits.point[ok][:5]
    grad = np.stack([(geo.surface_residual(p + eps * e, np.zeros(5, int)) - geo.surface_residual(p - eps * e, np.zeros(5, int)))
                     / (2 * eps) for e in np.eye(3)], axis=1)
    np.testing.assert_allclose(n[:5], grad / np.linalg.norm(grad, axis=1, keepdims=True), atol=1e-5)


def test_ray_from_inside_a_solid_hits_its_exit() -> None:
    geo = _scene(Ellipsoids.spheres([[0.0, 0.0, 0.0]], 2.0))
    hits = ray_cast(geo, np.zeros(3), [[1.0, 0, 0], [0, 0, -1.0]])
    np.testing.assert_allclose(hits.t, [2.0, 2.0])
    np.testing.assert_allclose(hits.normal, [[1, 0, 0], [0, 0, -1]])


def test_ray_box_axis_aligned_and_rotated() -> None:
    box = Boxes.from_min_max([[-1.0, 3.0, -0.5]], [[1.0, 3.2, 2.0]])
    geo = _scene(box, kind="wall", material="drywall")
    hits = ray_cast(geo, np.zeros(3), [[0, 1, 0], [0.2, 1, 0.1], [0, 1, 1], [-1, 0, 0]])
    np.testing.assert_allclose(hits.t[0], 3.0)
    np.testing.assert_allclose(hits.t[1], 3.0 * np.sqrt(1 + 0.04 + 0.01))
    assert np.isinf(hits.t[3])
    # y = 3 face at z = 3 is above the box (z <= 2): t=3*sqrt2 misses the near face; the ray exits the
    # slab band in z first, so no hit
    assert np.isinf(hits.t[2])
    np.testing.assert_allclose(hits.normal[0], [0, -1, 0])

    rng = np.random.default_rng(2)
    axes = _rot("z", 0.5) @ _rot("y", 0.3)
    c, h = np.array([0.5, 4.0, 1.0]), np.array([0.4, 0.2, 0.7])
    geo = _scene(Boxes(c[None], axes[None], h[None]))
    d = _random_dirs(rng, 300, c, 0.1)
    hits = ray_cast(geo, np.zeros(3), d)
    ok = hits.hit
    assert 50 < ok.sum() < 300
    np.testing.assert_allclose(geo.surface_residual(hits.point[ok], hits.primitive[ok]), 0.0, atol=1e-9)
    n = hits.normal[ok]
    np.testing.assert_allclose(np.linalg.norm(n, axis=1), 1.0, atol=1e-12)
    assert np.all(np.sum(n * (hits.point[ok] - c), axis=1) > 0)  # outward
    assert np.all(np.sum(n * d[ok], axis=1) < 0)
    # rays that miss pass at least outside the box: points sampled along them are never inside
    miss = d[~ok][:20]
    ts = np.linspace(0, 8, 400)
    pts = (ts[None, :, None] * miss[:, None, :]).reshape(-1, 3)
    assert np.all(geo.surface_residual(pts, np.zeros(len(pts), int)) > 0)


def test_ray_capsule() -> None:
    cap = Capsules([[0.0, 5.0, 0.0]], [[0.0, 5.0, 1.0]], [0.25])
    geo = _scene(cap)
    hits = ray_cast(geo, [0.0, 0.0, 0.5], [[0, 1, 0]])  # side
    assert hits.t[0] == pytest.approx(4.75)
    np.testing.assert_allclose(hits.normal[0], [0, -1, 0], atol=1e-12)
    hits = ray_cast(geo, [0.0, 5.0, 3.0], [[0, 0, -1]])  # along the axis: top cap
    assert hits.t[0] == pytest.approx(3.0 - 1.25)
    np.testing.assert_allclose(hits.normal[0], [0, 0, 1], atol=1e-12)
    rng = np.random.default_rng(3)
    d = _random_dirs(rng, 300, np.array([0.0, 5.0, 0.5]), 0.08)
    hits = ray_cast(geo, np.zeros(3), d)
    ok = hits.hit
    assert ok.sum() > 50
    np.testing.assert_allclose(geo.surface_residual(hits.point[ok], hits.primitive[ok]), 0.0, atol=1e-9)
    assert np.all(np.sum(hits.normal[ok] * d[ok], axis=1) < 0)


def test_ray_plane_and_quad() -> None:
    geo = SceneGeometry().add(Planes([[0, 0, 0.0]], [[0, 0, 1.0]]), material="concrete", kind="floor", object_id=7)
    hits = ray_cast(geo, [0.0, 0.0, 1.5], [[0, 1, -1], [0, 1, 1]])
    assert hits.t[0] == pytest.approx(1.5 * np.sqrt(2))
    np.testing.assert_allclose(hits.point[0], [0, 1.5, 0], atol=1e-12)
    np.testing.assert_allclose(hits.normal[0], [0, 0, 1])
    assert np.isinf(hits.t[1]) and hits.object_id[0] == 7 and geo.kinds[hits.kind[0]] == "floor"
    # two-sided: from below the normal faces down
    hits = ray_cast(geo, [0.0, 0.0, -1.0], [[0, 0, 1.0]])
    np.testing.assert_allclose(hits.normal[0], [0, 0, -1])

    quad = Quads.from_corner([[-1.0, 3.0, 0.0]], [[2.0, 0.0, 0.0]], [[0.0, 0.0, 2.0]])
    np.testing.assert_allclose(quad.front_normals[0], [0, -1, 0])
    geo = _scene(quad, kind="wall")
    hits = ray_cast(geo, np.zeros(3), [[0, 1, 0.5], [0, 1, 0.7], [0, 1, -0.01]])
    assert hits.t[0] == pytest.approx(np.sqrt(9 + 2.25))
    assert np.isinf(hits.t[1]) and np.isinf(hits.t[2])
    np.testing.assert_allclose(hits.normal[0], [0, -1, 0])


def test_nearest_hit_wins_and_limits() -> None:
    far = Ellipsoids.spheres([[0, 8.0, 0]], 1.0)
    near = Ellipsoids.spheres([[0, 4.0, 0]], 0.5)
    geo = _scene(far, object_id=1).add(near, material="skin", kind="body", object_id=2)
    hits = ray_cast(geo, np.zeros(3), [[0, 1.0, 0]])
    assert hits.t[0] == pytest.approx(3.5) and hits.primitive[0] == 1 and hits.object_id[0] == 2
    hits = ray_cast(geo, np.zeros(3), [[0, 1.0, 0]], ignore_primitive=np.array([1]))
    assert hits.t[0] == pytest.approx(7.0) and hits.primitive[0] == 0
    hits = ray_cast(geo, np.zeros(3), [[0, 1.0, 0]], t_max=3.0)
    assert not hits.hit[0]
    hits = ray_cast(geo, np.zeros(3), [[0, 1.0, 0]], t_min=5.0)  # starts past the near sphere
    assert hits.t[0] == pytest.approx(7.0)
    # chunking does not change the answer
    rng = np.random.default_rng(4)
    d = _random_dirs(rng, 97, np.array([0, 1.0, 0]), 0.15)
    a, b = ray_cast(geo, np.zeros(3), d), ray_cast(geo, np.zeros((97, 3)), d, chunk=10)
    np.testing.assert_array_equal(a.primitive, b.primitive)
    np.testing.assert_allclose(a.t[a.hit], b.t[b.hit], atol=1e-12)


def test_occlusion_simple_layout() -> None:
    wall = Boxes.from_min_max([[-1.0, 2.0, -1.0]], [[1.0, 2.1, 1.0]])
    person = Ellipsoids.spheres([[0.0, 4.0, 0.0], [3.0, 4.0, 0.0]], 0.3)
    geo = SceneGeometry().add(wall, material="drywall", kind="wall", object_id=100).add(
        person, material="skin", kind="body", object_id=0)
    radar = np.zeros(3)
    front = np.array([[0.0, 3.7, 0.0], [3.0, 4.0, 0.0] - 0.3 * np.array([3.0, 4.0, 0.0]) / 5.0])
    assert list(segment_occluded(geo, radar, front)) == [True, False]  # behind the wall / in the clear
    hit = first_hit_between(geo, radar, front[:1])
    assert hit.primitive[0] == 0 and hit.t[0] == pytest.approx(2.0)
    # self-occlusion: the far side of the visible sphere is blocked by the sphere itself
    back = np.array([[3.0, 4.0, 0.0] + 0.3 * np.array([3.0, 4.0, 0.0]) / 5.0])
    assert segment_occluded(geo, radar, back)[0]
    assert not segment_occluded(geo, radar, back, ignore_primitive=np.array([2]))[0]
    # every sampled point of the clear sphere: visible iff it faces the radar (convex, nothing in between)
    pts, nrm, prim = sample_surface(geo, np.array([0, 0, 200]), rng=5)
    occl = segment_occluded(geo, radar, pts)
    facing = np.sum(nrm * (radar - pts), axis=1) > 0
    strict = np.abs(np.sum(nrm * (radar - pts) / np.linalg.norm(radar - pts, axis=1, keepdims=True), axis=1)) > 1e-3
    np.testing.assert_array_equal(occl[strict], ~facing[strict])


def test_sample_surface_on_surfaces_with_unit_normals() -> None:
    rng = np.random.default_rng(6)
    axes = _rot("x", 0.3) @ _rot("z", 1.1)
    geo = (SceneGeometry()
           .add(Ellipsoids([[0, 3.0, 1]], axes[None], [[0.1, 0.2, 0.5]]), material="skin", kind="body", object_id=0)
           .add(Capsules([[1, 3.0, 0]], [[1.2, 3.5, 0.6]], [0.08]), material="skin", kind="body", object_id=0)
           .add(Boxes([[-1, 2.0, 0.5]], axes[None], [[0.3, 0.05, 0.5]]), material="plywood", kind="furniture",
                object_id=1)
           .add(Quads.from_corner([[-2, 5.0, 0]], [[4, 0, 0]], [[0, 0, 2.5]]), material="drywall", kind="wall",
                object_id=2)
           .add(Planes([[0, 0, 0.0]], [[0, 0, 1.0]]), material="concrete", kind="floor", object_id=2))
    pts, nrm, prim = sample_surface(geo, 300, rng)
    assert len(pts) == 4 * 300 and not np.any(prim == 4)
    np.testing.assert_allclose(geo.surface_residual(pts, prim), 0.0, atol=1e-9)
    np.testing.assert_allclose(np.linalg.norm(nrm, axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(nrm, geo.normals_at(pts, prim), atol=1e-7)
    # same seed, same points
    again = sample_surface(geo, 300, np.random.default_rng(6))
    np.testing.assert_array_equal(again[0], pts)


def test_ellipsoid_sampling_is_area_uniform() -> None:
    """Prolate spheroid (a = b = 0.1, c = 0.5): fraction of points with |w| < c/2 vs the band's area."""
    ell = Ellipsoids([[0, 0, 0.0]], np.eye(3)[None], [[0.1, 0.1, 0.5]])
    pts, _, _ = sample_surface(ell, 20000, 7)
    a, c = 0.1, 0.5
    z = np.linspace(-c, c, 200001)
    rho = a * np.sqrt(np.clip(1 - (z / c) ** 2, 0, None))
    drho = np.gradient(rho, z)
    dA = 2 * np.pi * rho * np.sqrt(1 + drho**2)
    band = np.abs(z) < c / 2
    expected = np.trapezoid(dA * band, z) / np.trapezoid(dA, z)
    got = np.mean(np.abs(pts[:, 2]) < c / 2)
    assert got == pytest.approx(expected, abs=0.015)  # 3 sigma ~ 0.01
    assert ell.surface_area()[0] == pytest.approx(np.trapezoid(dA, z), rel=0.015)
    # a box samples faces in proportion to their area
    box = Boxes.from_min_max([[0, 0, 0.0]], [[1.0, 0.5, 0.1]])
    _, nrm, _ = sample_surface(box, 20000, 8)
    frac_z = np.mean(np.abs(nrm[:, 2]) > 0.5)
    assert frac_z == pytest.approx(2 * 0.5 / (2 * (0.5 + 0.1 + 0.05)), abs=0.015)


def test_scene_tags_body_and_transform() -> None:
    body = BodyShape.from_anthropometry().rest_pose((0.0, 3.0), np.pi)
    room = room_geometry((-2.0, 2.0), (0.0, 5.0), 2.6)
    geo = room.add_body(body.segments, 0, object_id=0, material="cotton_tshirt")
    assert len(geo) == len(room) + 19 and geo.names[-19:] == body.segments.names
    assert set(geo.kinds) == {"floor", "ceiling", "wall", "body"}
    o = np.array([0.0, 0.5, 1.2])
    d = np.array([[0.0, 1.0, 0.0], [0.0, 1.0, -0.3], [0.0, -1.0, 0.0], [0, 0, 1.0]])
    hits = ray_cast(geo, o, d)
    names = [geo.names[p] for p in hits.primitive]
    assert geo.kind_name(hits.primitive[0]) == "body" and names[2] == "wall_front" and names[3] == "ceiling"
    assert geo.material_name(hits.primitive[0]) == "cotton_tshirt"
    # the same casts in a rotated+shifted frame give the same distances and primitives
    T = np.eye(4)
    T[:3, :3] = _rot("z", 0.4) @ _rot("x", 0.2)
    T[:3, 3] = [0.3, -1.0, -1.5]
    moved = ray_cast(geo.transformed(T), T[:3, :3] @ o + T[:3, 3], d @ T[:3, :3].T)
    np.testing.assert_array_equal(moved.primitive, hits.primitive)
    np.testing.assert_allclose(moved.t, hits.t, atol=1e-9)
    np.testing.assert_allclose(moved.normal, hits.normal @ T[:3, :3].T, atol=1e-9)
    # capsule bodies work too
    geo_c = room.add_body(body.segments, 0, object_id=0, shape="capsule")
    assert geo_c.kind_name(ray_cast(geo_c, o, d[:1]).primitive[0]) == "body"


def test_ray_cast_speed_print() -> None:
    """Benchmark-style print (no timed assert): 128 x 128 camera rays, body + furnished room."""
    body = BodyShape.from_anthropometry().rest_pose((0.0, 3.0), np.pi)
    geo = room_geometry((-2.5, 2.5), (0.0, 6.0), 2.8).add_body(body.segments, 0, object_id=0)
    geo = geo.add(Boxes.from_min_max([[1, 4, 0], [-2, 1, 0], [-1, 5, 0]], [[1.8, 4.8, 0.75], [-1.5, 1.5, 1.0],
                                                                       [-0.5, 5.5, 0.45]]),
                  material="particle_board", kind="furniture", object_id=101)
    u, v = np.meshgrid(np.arange(128) - 63.5, np.arange(128) - 63.5)
    d = np.stack([u / 110.0, np.ones_like(u), -v / 110.0], axis=-1).reshape(-1, 3)
    ray_cast(geo, np.array([0, 0.2, 1.4]), d)
    n = 5
    t0 = time.perf_counter()
    for _ in range(n):
        hits = ray_cast(geo, np.array([0, 0.2, 1.4]), d)
    ms = (time.perf_counter() - t0) / n * 1e3
    print(f"\nray_cast: {len(d)} rays x {len(geo)} primitives: {ms:.1f} ms")
    assert hits.hit.all()
