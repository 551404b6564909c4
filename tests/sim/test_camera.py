"""Tests of mmsight.sim.camera: pinhole geometry, exact depth, occlusion, glass, randomisation, noise."""

from __future__ import annotations

import time

import numpy as np
import pytest

from mmsight.sim.body import BodyShape
from mmsight.sim.camera import (
    DepthNoiseModel,
    Light,
    Lighting,
    PinholeCamera,
    RenderOptions,
    colour_temperature_rgb,
    look_at_pose,
    render_labels,
    render_rgbd,
    sample_looks,
)
from mmsight.sim.geometry import Boxes, Ellipsoids, Planes, Quads, SceneGeometry, room_geometry

IDEAL = RenderOptions.ideal()
LIGHT = Lighting([0.2, 0.2, 0.2], (Light("point", [0.5, 0.0, 2.5], [3.0, 3.0, 3.0]),))


def _wall_scene(distance: float) -> SceneGeometry:
    wall = Quads.from_corner([[-20.0, distance, -20.0]], [[40.0, 0, 0]], [[0, 0, 40.0]])
    return SceneGeometry().add(wall, material="drywall", kind="wall", object_id=100)


def test_look_at_pose_is_opencv() -> None:
    t = look_at_pose([0, 0, 1.0], [0, 5, 1.0])
    np.testing.assert_allclose(t[:3, 0], [1, 0, 0], atol=1e-12)  # image right = room +x
    np.testing.assert_allclose(t[:3, 1], [0, 0, -1], atol=1e-12)  # image down = room -z
    np.testing.assert_allclose(t[:3, 2], [0, 1, 0], atol=1e-12)  # optical axis = room +y
    assert np.linalg.det(t[:3, :3]) == pytest.approx(1.0)


def test_depth_of_a_wall_is_constant_z() -> None:
    cam = PinholeCamera.from_fov(40, 30, np.radians(80), (0.0, 0.0, 1.2), (0.0, 1.0, 1.2))
    out = render_rgbd(cam, _wall_scene(3.0), lights=LIGHT, rng=0, options=IDEAL)
    assert out.depth.dtype == np.float32 and out.depth.shape == (30, 40)
    np.testing.assert_allclose(out.depth, 3.0, atol=1e-4)
    assert out.rgb.dtype == np.uint8 and out.rgb.shape == (30, 40, 3)
    assert np.all(out.mask == 100)


def test_depth_of_a_tilted_floor_matches_plane_equation() -> None:
    cam = PinholeCamera.from_intrinsics(48, 36, 40.0, 42.0, 23.0, 16.0,
                                        look_at_pose((0.3, 0.0, 1.5), (0.0, 3.0, 0.2)))
    geo = SceneGeometry().add(Planes([[0, 0, 0.0]], [[0, 0, 1.0]]), material="concrete", kind="floor", object_id=7)
    out = render_rgbd(cam, geo, lights=LIGHT, rng=0, options=IDEAL)
    # plane n . X = c in the camera frame; a pixel ray X = z (x, y, 1) meets it at z = c / (n . (x, y, 1))
    t = cam.T_camera_from_room
    n = t[:3, :3] @ np.array([0, 0, 1.0])
    # the room origin lies on the floor; in the camera frame it is X0 = t[:3, 3], so the plane is n . X = n . X0
    c = n @ t[:3, 3]
    rays = cam.camera_rays()
    denom = rays @ n
    z = np.where(denom * c > 0, c / np.where(denom == 0, 1, denom), 0.0)
    seen = out.depth > 0
    np.testing.assert_array_equal(seen, z > 0)
    assert seen.mean() > 0.3
    np.testing.assert_allclose(out.depth[seen], z[seen], rtol=1e-6, atol=1e-4)


def test_project_backproject_round_trip() -> None:
    cam = PinholeCamera.from_intrinsics(64, 48, 55.0, 50.0, 30.5, 25.0, look_at_pose((0.2, -0.5, 1.4), (0.5, 4.0, 1.0)))
    rng = np.random.default_rng(0)
    pts = cam.position + rng.uniform([-2, 1, -1.0], [2, 6, 1.5], (50, 3))
    uv, z = cam.project(pts)
    assert np.all(z > 0)
    # backproject a depth image holding these z at the nearest pixels, then compare the exact rays
    depth = np.zeros((48, 64))
    ui, vi = np.round(uv[:, 0]).astype(int), np.round(uv[:, 1]).astype(int)
    inside = (ui >= 0) & (ui < 64) & (vi >= 0) & (vi < 48)
    depth[vi[inside], ui[inside]] = z[inside]
    back = cam.backproject(depth)
    assert np.isnan(back[depth == 0]).all()
    uv2, z2 = cam.project(back[vi[inside], ui[inside]])
    np.testing.assert_allclose(z2, z[inside], atol=1e-9)
    np.testing.assert_allclose(uv2, np.stack([ui, vi], 1)[inside], atol=1e-9)
    # rendered depth backprojects onto the surface it came from
    geo = room_geometry((-3, 3), (0.0, 7.0), 2.8)
    lab = render_labels(cam, geo)
    p = cam.backproject(lab.depth).reshape(-1, 3)
    prim = lab.primitive.reshape(-1)
    ok = prim >= 0
    np.testing.assert_allclose(geo.surface_residual(p[ok], prim[ok]), 0.0, atol=1e-5)
    # camera-frame backprojection and points behind the camera
    pc = cam.backproject(lab.depth, frame="camera")
    np.testing.assert_allclose(pc[..., 2][lab.depth > 0], lab.depth[lab.depth > 0], atol=1e-6)
    uv_b, z_b = cam.project(cam.position[None] - cam.T_room_from_camera[:3, 2][None])
    assert z_b[0] < 0 and np.isnan(uv_b).all()


def test_radar_extrinsics_round_trip() -> None:
    t_room_radar = np.eye(4)
    t_room_radar[:3, 3] = [0.0, 0.0, 1.1]
    t_radar_cam = look_at_pose((0.1, 0.0, 0.05), (0.1, 3.0, 0.0))
    cam = PinholeCamera.from_radar_extrinsics(32, 24, np.array([[30, 0, 15.5], [0, 30, 11.5], [0, 0, 1.0]]),
                                              t_radar_cam, t_room_radar)
    np.testing.assert_allclose(cam.T_radar_from_camera(t_room_radar), t_radar_cam, atol=1e-12)
    np.testing.assert_allclose(cam.position, [0.1, 0.0, 1.15], atol=1e-12)
    with pytest.raises(ValueError):
        PinholeCamera(32, 24, np.eye(3) * 0, np.eye(4))


def test_sphere_renders_as_disc_of_expected_radius() -> None:
    cam = PinholeCamera.from_intrinsics(81, 81, 100.0)  # camera at the room origin looking along its +z
    d, r = 4.0, 0.5
    geo = SceneGeometry().add(Ellipsoids.spheres([[0.0, 0.0, d]], r), material="skin", kind="body", object_id=3)
    lab = render_labels(cam, geo)
    radius_px = cam.fx * r / np.sqrt(d * d - r * r)  # tangent cone of half-angle asin(r/d)
    v, u = np.mgrid[0:81, 0:81]
    rho = np.hypot(u - cam.cx, v - cam.cy)
    on = lab.object_id == 3
    assert np.all(on[rho < radius_px - 0.75]) and not np.any(on[rho > radius_px + 0.75])
    assert on.sum() == pytest.approx(np.pi * radius_px**2, rel=0.03)
    # centre pixel depth = d - r
    assert lab.depth[40, 40] == pytest.approx(d - r, abs=1e-6)


def test_object_behind_a_box_is_invisible_and_glass_is_not() -> None:
    cam = PinholeCamera.from_fov(48, 48, np.radians(60), (0.0, 0.0, 1.0), (0.0, 1.0, 1.0))
    person = Ellipsoids.spheres([[0.0, 5.0, 1.0]], 0.3)
    box = Boxes.from_min_max([[-1.0, 3.0, 0.0]], [[1.0, 3.1, 2.0]])
    geo = (SceneGeometry().add(person, material="skin", kind="body", object_id=0)
           .add(box, material="drywall", kind="wall", object_id=100))
    out = render_rgbd(cam, geo, lights=LIGHT, rng=1, options=IDEAL)
    assert not np.any(out.mask == 0)
    centre = out.depth[20:28, 20:28]
    np.testing.assert_allclose(centre, 3.0, atol=1e-4)
    # the same layout with a glass pane: the person shows through, depth comes from behind the glass
    glass = (SceneGeometry().add(person, material="skin", kind="body", object_id=0)
             .add(box, material="glass", kind="furniture", object_id=101))
    out_g = render_rgbd(cam, glass, lights=LIGHT, rng=1, options=IDEAL)
    # without the box at all the person covers the same pixels at the same depth
    bare = render_rgbd(cam, SceneGeometry().add(person, material="skin", kind="body", object_id=0),
                       lights=LIGHT, rng=1, options=IDEAL)
    seen = bare.mask == 0
    assert seen.sum() > 10
    np.testing.assert_array_equal(seen, out_g.mask == 0)
    np.testing.assert_allclose(out_g.depth[seen], bare.depth[seen], atol=1e-4)
    assert out_g.depth[seen].min() == pytest.approx(5.0 - 0.3, abs=0.02)  # nearest pixel centre is off-axis


def _body_room() -> tuple[PinholeCamera, SceneGeometry]:
    body = BodyShape.from_anthropometry().rest_pose((0.2, 3.0), np.pi)
    geo = room_geometry((-2.5, 2.5), (0.0, 6.0), 2.8)  # floor, ceiling, 4 walls
    geo = geo.add(Boxes.from_min_max([[1, 4, 0], [-2, 1, 0], [-1, 5, 0], [1.5, 2.0, 0.7]],
                                     [[1.8, 4.8, 0.75], [-1.5, 1.5, 1.0], [-0.5, 5.5, 0.45], [2.3, 3.0, 0.75]]),
                  material="particle_board", kind="furniture", object_id=101)
    mats = ["skin" if n in ("head", "hand_left", "hand_right") else
            "denim" if n.startswith(("thigh", "shank", "pelvis")) else "cotton_tshirt" for n in body.segments.names]
    geo = geo.add_body(body.segments, 0, object_id=0, material=mats)
    cam = PinholeCamera.from_fov(128, 128, np.radians(70), (0.0, 0.2, 1.5), (0.2, 3.0, 1.0))
    return cam, geo


def test_appearance_randomisation_and_determinism() -> None:
    cam, geo = _body_room()
    cam = cam.scaled(0.5)
    a = render_rgbd(cam, geo, rng=11)
    b = render_rgbd(cam, geo, rng=11)
    c = render_rgbd(cam, geo, rng=12)
    np.testing.assert_array_equal(a.rgb, b.rgb)
    np.testing.assert_array_equal(a.depth, b.depth)
    np.testing.assert_array_equal(a.mask, b.mask)
    np.testing.assert_array_equal(a.mask, c.mask)  # geometry does not change with the seed
    body = a.mask == 0
    assert body.sum() > 30
    diff = np.abs(a.rgb[body].astype(int).mean(0) - c.rgb[body].astype(int).mean(0)).max()
    assert diff > 5
    # looks given explicitly are honoured: same looks + same lights, only noise differs by seed
    looks = sample_looks(geo, 3)
    x = render_rgbd(cam, geo, looks, LIGHT, rng=1, options=IDEAL)
    y = render_rgbd(cam, geo, looks, LIGHT, rng=2, options=IDEAL)
    np.testing.assert_array_equal(x.rgb, y.rgb)


def test_clothing_is_textured_not_flat() -> None:
    cam = PinholeCamera.from_fov(64, 64, np.radians(30), (0.0, 0.0, 1.0), (0.0, 1.0, 1.0))
    torso = Ellipsoids([[0.0, 1.6, 1.0]], np.eye(3)[None], [[0.18, 0.12, 0.35]])
    geo = SceneGeometry().add(torso, material="cotton_tshirt", kind="clothing", object_id=0)
    from mmsight.sim.camera import SurfaceLook
    from mmsight.sim.materials import get_material

    app = get_material("cotton_tshirt").nominal_instance().appearance
    look = SurfaceLook(app, "stripes", (200, 30, 30), 0.04, 0.0, seed=1)
    flat_light = Lighting([1.0, 1.0, 1.0], ())
    out = render_rgbd(cam, geo, {"cotton_tshirt": look}, flat_light, rng=0, options=IDEAL)
    px = out.rgb[out.mask == 0].astype(float)
    assert px[:, 0].std() > 10  # stripes of two colours


def test_depth_noise_model() -> None:
    model = DepthNoiseModel()
    # Intel's RMS formula: 2 m, 0.08 px subpixel, 447 px focal length, 50 mm baseline -> ~14 mm
    assert model.sigma(2.0) == pytest.approx(4 * 0.08 / (447 * 0.05))
    assert model.sigma(4.0) == pytest.approx(4 * model.sigma(2.0))
    assert model.sigma(2.0, np.radians(80)) > 2 * model.sigma(2.0)
    cam = PinholeCamera.from_fov(64, 48, np.radians(60), (0.0, 0.0, 1.2), (0.0, 1.0, 1.2))
    noisy = RenderOptions(sensor_noise=False, depth_model=DepthNoiseModel(dark_albedo=0.0, stereo_shadow=False))
    out = render_rgbd(cam, _wall_scene(2.0), lights=LIGHT, rng=0, options=noisy)
    z = out.depth[out.depth > 0]
    assert z.size > 0.95 * out.depth.size
    assert np.std(z) == pytest.approx(model.sigma(2.0), rel=0.25)  # incidence <= 30 deg: small angle factor
    assert np.allclose(z * 1000, np.round(z * 1000), atol=1e-3)  # 1 mm units
    # a near box in front of the wall casts a stereo shadow on its left side only
    box = Boxes.from_min_max([[-0.1, 1.0, 0.9]], [[0.1, 1.1, 1.5]])
    geo = _wall_scene(3.0).add(box, material="drywall", kind="furniture", object_id=1)
    clean = RenderOptions.ideal(depth_model=DepthNoiseModel(subpixel=0.0, dark_albedo=0.0, depth_unit_m=0.0))
    out = render_rgbd(cam, geo, lights=LIGHT, rng=0, options=clean)
    row = out.depth[24]
    cols = np.flatnonzero(out.mask[24] == 1)
    left, right = cols.min(), cols.max()
    width = cam.fx * 0.05 * (1 / 1.0 - 1 / 3.0)  # disparity difference, pixels
    assert np.all(row[left - int(np.floor(width)):left] == 0)
    assert np.all(row[right + 1:right + 4] > 0)
    # out of range -> hole
    far = render_rgbd(cam, _wall_scene(12.0), lights=LIGHT, rng=0, options=noisy)
    assert np.all(far.depth == 0)


def test_colour_temperature() -> None:
    warm, day = colour_temperature_rgb(2700), colour_temperature_rgb(6500)
    assert warm[1] == day[1] == 1.0
    assert warm[0] / warm[2] > 2.0 and 0.6 < day[0] / day[2] < 1.1


def test_render_speed_print() -> None:
    """Benchmark-style print (no timed assert): 128 x 128, one body (19 ellipsoids) + furnished room."""
    cam, geo = _body_room()
    render_rgbd(cam, geo, rng=0)
    n = 5
    wall, cpu = [], []
    for i in range(n):
        t0, c0 = time.perf_counter(), time.process_time()
        out = render_rgbd(cam, geo, rng=i)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    print(f"\nrender_rgbd 128x128, {len(geo)} primitives: median {np.median(wall) * 1e3:.1f} ms wall, "
          f"min {min(wall) * 1e3:.1f} ms, median CPU {np.median(cpu) * 1e3:.1f} ms")
    assert out.rgb.shape == (128, 128, 3) and np.any(out.mask == 0)
