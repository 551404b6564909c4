"""The simulator's fast paths give what the straightforward computations give.

Batched multipath viewpoints (``scattering.person_scatterers_views``), the one-pass ghost construction
(``radar_render._multipath_many``), the gathered ray-cast kernels (``geometry`` pair path) and the
camera's static view (``camera.StaticView``) are checked against the one-at-a-time versions.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from mmsight.radar import RadarConfig
from mmsight.sim import radar_render as rr
from mmsight.sim import scattering as sc
from mmsight.sim.body import BodyShape
from mmsight.sim.camera import Light, Lighting, PinholeCamera, RenderOptions, StaticView, render_rgbd, sample_looks
from mmsight.sim.geometry import Boxes, Capsules, Ellipsoids, Quads, SceneGeometry, ray_cast, room_geometry
from mmsight.sim.skeleton import N_JOINTS

FIELDS = ("positions", "velocities", "rcs", "segment", "kind", "person", "source", "path", "normals", "accelerations")


@pytest.fixture(scope="module")
def cfg() -> RadarConfig:
    return RadarConfig.preset("iwr6843isk")


@pytest.fixture(scope="module")
def body() -> BodyShape:
    return BodyShape.from_anthropometry(1.75, 70.0)


def _walker(body: BodyShape, xy, vel, n=3, dt=0.1, heading=math.pi):
    t = np.arange(n) * dt
    root = np.array([xy[0], xy[1], body.root_height]) + t[:, None] * np.asarray(vel, dtype=float)
    return body.pose(np.zeros((n, N_JOINTS, 3)), root, heading, times=t)


def _same(a: sc.Scatterers, b: sc.Scatterers, rtol: float = 1e-12) -> None:
    assert len(a) == len(b)
    for f in FIELDS:
        x, y = getattr(a, f), getattr(b, f)
        if x.dtype.kind == "f":
            np.testing.assert_allclose(x, y, rtol=rtol, atol=1e-15 * max(1.0, float(np.abs(x).max(initial=0))))
        else:
            np.testing.assert_array_equal(x, y)


def test_person_views_equal_one_view_at_a_time(cfg, body):
    pb = _walker(body, (0.4, 3.0), (0.3, -1.2, 0.0))
    objects = (sc.CarriedObject("handgun", "chest_left"), sc.CarriedObject("phone", "pocket_right"))
    clothing = sc.Clothing.outfit("fleece", "denim")
    geo = sc.person_geometry(pb, 1, objects)
    radar = np.array([0.0, 0.0, 1.2])
    views = np.array([radar, [-3.0, 0.0, 1.2], [0.0, 0.0, -1.2], [0.6, 0.4, 1.5]])
    models = [sc.FacetModel(n_specular=8, n_diffuse=4)] + [sc.FacetModel(n_specular=4, n_diffuse=1)] * 3
    fl = sc.Fluctuation("lognormal", 5.5)
    poses = [c.poses(pb, [0, 1, 2]) for c in objects]
    kw = dict(objects=objects, object_poses=poses, skin=None, fluctuation=fl, garment_reflection=True, geometry=geo,
              frame_period=None, bandwidth_hz=float(cfg.bandwidth), person=0)
    many = sc.person_scatterers_views(pb, 1, views, clothing, cfg.center_frequency, np.random.default_rng(5),
                                      facets=models, **kw)
    gen = np.random.default_rng(5)
    for v, model, got in zip(views, models, many):
        one = sc.person_scatterers_room(pb, 1, v, clothing, cfg.center_frequency, gen, facets=model, **kw)
        _same(one, got)
    assert sum(np.any(s.kind == sc.KIND_OBJECT) for s in many) >= 1


def test_one_pass_ghosts_equal_per_surface_ghosts(cfg, body):
    pb = _walker(body, (0.3, 3.5), (0.0, -1.5, 0.0))
    radar = np.array([0.0, 0.0, 1.2])
    wall = rr.Surface.wall_y(4.5, "drywall", width=3.0, height=2.4)
    mirrors = [rr.Surface.floor(), rr.Surface.wall_x(1.5, "metal"), rr.Surface.wall_x(-1.8, "drywall"), wall]
    items = []
    for k, surf in enumerate(mirrors):
        for path in ("single", "double"):
            view = rr.ghost_viewpoint(surf, radar, pb.segments.centers[1, 7], path)
            src = sc.person_scatterers_room(pb, 1, view, sc.Clothing.outfit(), cfg.center_frequency,
                                            np.random.default_rng(k), objects=(), object_poses=(), skin=None,
                                            facets=sc.FacetModel(4, diffuse_fraction=0.1, n_diffuse=1),
                                            fluctuation=None, garment_reflection=True,
                                            geometry=sc.person_geometry(pb, 1), frame_period=None, bandwidth_hz=0.0,
                                            person=0)
            items.append((rr._group_ghost_sources(src), surf, path))
    through = rr.Surface.wall_y(1.0, "plywood")
    for w in (None, through):
        one = sc.Scatterers.concatenate([rr.multipath_ghosts(s, radar, surf, cfg.center_frequency, path=p, wall=w,
                                                             bandwidth_hz=float(cfg.bandwidth)) for s, surf, p in items])
        many = rr._multipath_many(items, radar, cfg.center_frequency, wall=w, bandwidth_hz=float(cfg.bandwidth))
        assert len(one) > 20
        _same(one, many)
    grouped = rr._group_ghost_sources_many([it[0] for it in items] + [sc.Scatterers.empty()])
    for it, g in zip(items, grouped):
        _same(rr._group_ghost_sources(it[0]), g)
    assert len(grouped[-1]) == 0


def test_out_of_range_ghost_jobs_change_nothing(cfg, body):
    """A long room: the double bounce on the back wall is beyond the maximum range and is skipped."""
    pb = _walker(body, (0.0, 4.0), (0.0, -1.0, 0.0))
    T = sc.radar_mount(1.2)
    back = rr.Surface("wall_back", (0.0, 9.0, 0.0), (0.0, 1.0, 0.0), "concrete")
    scene = rr.RadarScene(T, people=(rr.Person(pb),), surfaces=(rr.Surface.floor(), back), multipath=True,
                          fluctuation=sc.Fluctuation())
    cache = rr._frame_cache(scene, 1, cfg.center_frequency, cfg.bandwidth, np.random.default_rng(0))
    jobs = rr._ghost_jobs(scene, 1, T[:3, 3], cache, 0.98 * cfg.max_range)
    assert [j.dead for j in jobs] == [False, False, False, True]
    full = rr.scene_scatterers(scene, 1, cfg, np.random.default_rng(2))
    # the same frame without the range test keeps nothing more (scene_scatterers drops those ghosts)
    cache = rr._frame_cache(scene, 1, cfg.center_frequency, cfg.bandwidth, np.random.default_rng(2))
    people, ghosts = rr._people_and_ghosts(scene, 1, T[:3, 3], cache, None)
    allsc = sc.Scatterers.concatenate(people + ghosts).transformed(sc.invert_transform(T))
    keep = (allsc.positions[:, 1] > 1e-3) & (allsc.ranges > 0.05) & (allsc.ranges < 0.98 * cfg.max_range)
    _same(full, allsc.select(keep & (allsc.rcs > scene.min_rcs)))


def test_pair_kernels_equal_per_primitive_kernels():
    rng = np.random.default_rng(0)
    n = 12
    c = rng.uniform(-1, 1, (n, 3)) + [0, 5, 0]
    q, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    geo = (SceneGeometry()
           .add(Ellipsoids(c, np.broadcast_to(q, (n, 3, 3)), rng.uniform(0.1, 0.4, (n, 3))), material="skin",
                kind="body", object_id=0)
           .add(Boxes(c[:4] + 0.3, np.broadcast_to(q, (4, 3, 3)), rng.uniform(0.1, 0.3, (4, 3))), material="metal",
                kind="object", object_id=1)
           .add(Capsules(c[4:8], c[4:8] + 0.3, rng.uniform(0.05, 0.2, 4)), material="wood", kind="furniture", object_id=2)
           .add(Quads(c[8:], np.full((4, 3), [0.3, 0, 0]), np.full((4, 3), [0, 0, 0.3])), material="glass", kind="wall",
                object_id=3))
    d = rng.standard_normal((300, 3)) * [0.3, 1.0, 0.3] + [0, 1, 0]
    o = rng.uniform(-0.1, 0.1, (300, 3))
    import mmsight.sim.geometry as G

    def cast() -> list:
        return [ray_cast(geo, np.zeros(3), d), ray_cast(geo, o, d, t_max=5.5, t_min=0.01)]

    few = cast()  # few rays per primitive: the gathered pair kernels
    old = G._PAIR_LIMIT
    G._PAIR_LIMIT = 0  # every primitive through its own kernel, one call each
    try:
        ref = cast()
    finally:
        G._PAIR_LIMIT = old
    for a, b in zip(few, ref):
        assert np.sum(b.hit) > 30
        np.testing.assert_array_equal(a.primitive, b.primitive)
        np.testing.assert_allclose(a.t[a.hit], b.t[b.hit], rtol=1e-12)
        np.testing.assert_allclose(a.normal, b.normal, atol=1e-12)


def test_static_view_renders_the_same_image(body):
    room = room_geometry((-3.0, 3.0), (0.0, 8.0), 2.8)
    room = room.add(Boxes.from_min_max([[1.0, 4.0, 0.0]], [[1.8, 4.6, 0.75]]), material="wood", kind="furniture",
                    object_id=101)
    cam = PinholeCamera.from_fov(64, 48, np.radians(69), (0.0, 0.05, 1.4), (0.0, 4.0, 1.0))
    lights = Lighting([0.2, 0.2, 0.2], (Light("point", [0.5, 2.5, 2.6], [3.0, 3.0, 3.0]),))
    looks = dict(sample_looks(room, 1))
    view = StaticView(cam, room)
    for k, xy in enumerate([(0.0, 3.0), (1.4, 4.9), (-0.5, 7.0)]):  # in front, partly behind the table, far
        pb = _walker(body, xy, (0.0, 0.0, 0.0), n=1)
        person = SceneGeometry().add_body(pb.segments, 0, object_id=0, material="denim")
        looks.update(sample_looks(person, 7))
        geo = room.extend(person)
        for opt in (RenderOptions.ideal(), RenderOptions()):
            a = render_rgbd(cam, geo, looks, lights, k, options=opt)
            b = render_rgbd(cam, geo, looks, lights, k, options=opt, static=view)
            np.testing.assert_array_equal(a.rgb, b.rgb)
            np.testing.assert_array_equal(a.depth, b.depth)
            np.testing.assert_array_equal(a.mask, b.mask)
    # a geometry that does not start with the view's: rendered in full (same as without the view)
    other = SceneGeometry().add_body(pb.segments, 0, object_id=0).extend(room)
    a = render_rgbd(cam, other, looks, lights, 3, options=RenderOptions.ideal())
    b = render_rgbd(cam, other, looks, lights, 3, options=RenderOptions.ideal(), static=view)
    np.testing.assert_array_equal(a.rgb, b.rgb)
    assert not view.matches(cam, other)


def test_forward_kinematics_equals_joint_by_joint_reference(body):
    rng = np.random.default_rng(3)
    t = 50
    angles = rng.normal(scale=0.6, size=(t, N_JOINTS, 3))
    angles[:, 5:20] = 0.0  # joints at rest take the identity shortcut
    angles[7, 9, 1] = 0.2  # ... unless they move in any frame
    root = rng.normal(size=(t, 3))
    heading = rng.normal(size=t)
    for args in ((angles, root, heading), (angles[0], root[0], 0.4), (np.zeros((4, N_JOINTS, 3)), root[:4], 0.0)):
        p, g = body.forward_kinematics(*args)
        p_ref, g_ref = body.forward_kinematics_reference(*args)
        assert p.shape == p_ref.shape and g.shape == g_ref.shape
        np.testing.assert_allclose(p, p_ref, rtol=0, atol=1e-14)
        np.testing.assert_allclose(g, g_ref, rtol=0, atol=1e-14)


def test_forward_kinematics_of_a_joint_subset_equals_the_full_computation(body):
    from mmsight.sim.motion import gait as mg
    from mmsight.sim.skeleton import JOINT_PARENTS

    rng = np.random.default_rng(4)
    angles = rng.normal(scale=0.5, size=(30, N_JOINTS, 3))
    root = rng.normal(size=(30, 3))
    p_all, g_all = body.forward_kinematics(angles, root, 0.3)
    p, g = body.forward_kinematics(angles, root, 0.3, joints=mg._LEG_JOINTS)
    need = set()
    for j in mg._LEG_JOINTS:
        while j >= 0:
            need.add(int(j))
            j = int(JOINT_PARENTS[j])
    rest = sorted(set(range(N_JOINTS)) - need)
    assert rest  # the arms and the head are left out
    idx = sorted(need)
    np.testing.assert_array_equal(p[:, idx], p_all[:, idx])  # bit-identical where computed
    np.testing.assert_array_equal(g[:, idx], g_all[:, idx])
    assert np.isnan(p[:, rest]).all() and np.isnan(g[:, rest]).all()
    with pytest.raises(ValueError, match="outside"):
        body.forward_kinematics(angles, root, 0.0, joints=(N_JOINTS,))


def test_plant_feet_reusing_forward_kinematics_equals_recomputing(body):
    from mmsight.sim.motion import gait as mg

    params = mg.GaitParams()
    _, cycle_dur, _ = params.cycle(body)
    n = int(round(cycle_dur * mg._INTERNAL_RATE))
    phase = np.arange(3 * n + 1) / n + 0.3
    angles = mg._gait_angles(params, body, phase, 1.0, 1.0, -6.0)
    duty, ta = params.duty_factor(body), params.timing_asymmetry
    hard = mg._support_weights(phase, duty, ta, hard=True)
    # reference: every step computes its own forward kinematics
    root = mg._anchor(body, angles, hard)
    ref = mg._lift_swing_feet(body, angles, root, hard, phase, duty, ta)
    ref = mg._pin_leading_foot(body, ref, root, phase, duty, ta, mg._INTERNAL_RATE)
    root_ref = mg._anchor(body, ref, hard)
    ref = mg._lift_swing_feet(body, ref, root_ref, hard, phase, duty, ta)
    out, root_out = mg._plant_feet(body, params, angles, phase, mg._INTERNAL_RATE)
    np.testing.assert_allclose(root_out, root_ref, rtol=0, atol=1e-12)
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-10)


def test_camera_casts_moving_primitives_only_near_them(body):
    from mmsight.sim.camera import _rays_near

    cam = PinholeCamera.from_fov(96, 96, np.radians(90), (0.0, -0.5, 1.4), (0.2, 3.0, 1.0))
    static = StaticView(cam, room_geometry((-3.0, 3.0), (-1.0, 8.0), 2.8))
    for xy in ((0.4, 3.0), (-1.5, 1.2), (2.0, 6.5)):
        pb = _walker(body, xy, (0.3, -1.2, 0.0), n=1)
        geo = SceneGeometry().add_body(pb.segments, 0, object_id=0, material="skin")
        geo = geo.add(Ellipsoids(np.array([[xy[0] + 0.6, xy[1], 0.9]]), np.eye(3)[None], np.array([[0.1, 0.2, 0.3]])),
                      object_id=1, material="metal", kind="object")
        near = _rays_near(geo, cam.position, static.unit_dirs)
        full = ray_cast(geo, cam.position, static.unit_dirs, unit_dirs=True)
        assert 0 < full.hit.sum() and set(np.flatnonzero(full.hit)) <= set(near.tolist())
        assert len(near) < len(static.unit_dirs)
        sub = ray_cast(geo, cam.position, static.unit_dirs[near], unit_dirs=True)
        for f in ("t", "primitive", "point", "normal", "object_id"):
            np.testing.assert_array_equal(getattr(sub, f), getattr(full, f)[near])
        # rays ending at the static scene: only those reaching the object before it remain
        t_static = np.where(static.hits.hit, static.hits.t, np.inf)
        front = ray_cast(geo, cam.position, static.unit_dirs, t_max=t_static, unit_dirs=True)
        near_front = _rays_near(geo, cam.position, static.unit_dirs, t_static)
        assert set(np.flatnonzero(front.hit)) <= set(near_front.tolist()) <= set(near.tolist())
    # a person behind a wall: no ray is cast
    wall = np.where(static.unit_dirs[:, 1] > 0, 1.0 / np.maximum(static.unit_dirs[:, 1], 1e-9), np.inf)
    pb = _walker(body, (0.0, 4.0), (0.3, -1.2, 0.0), n=1)
    geo = SceneGeometry().add_body(pb.segments, 0, object_id=0, material="skin")
    assert len(_rays_near(geo, cam.position, static.unit_dirs, wall)) == 0


def test_one_draw_sensor_noise_has_the_two_draw_distribution():
    from scipy import stats

    from mmsight.sim.camera import _sensor_noise, _sensor_noise_reference

    for level in (0.0, 0.002, 0.05, 0.6, 1.3):
        img = np.full((200, 200, 3), level)
        a = _sensor_noise(img.copy(), 2500.0, 3.0, np.random.default_rng(1))
        b = _sensor_noise_reference(img.copy(), 2500.0, 3.0, np.random.default_rng(2))
        assert a.shape == b.shape
        e = min(level, 1.0) * 2500.0
        for x in (a, b):
            assert abs(x.mean() - e / 2500.0) < 6 * math.sqrt(e + 9.0) / 2500.0 / math.sqrt(x.size)
            assert abs(x.std() / (math.sqrt(e + 9.0) / 2500.0) - 1.0) < 0.01
        assert stats.ks_2samp(a.ravel(), b.ravel()).pvalue > 1e-4


def test_ray_cast_without_normals_gives_the_same_hits(body):
    from mmsight.sim.geometry import first_hit_between

    pb = _walker(body, (0.2, 3.0), (0.3, -1.2, 0.0), n=1)
    geo = SceneGeometry().add_body(pb.segments, 0, object_id=0, material="skin")
    rng = np.random.default_rng(5)
    pts = np.array([0.2, 3.0, 1.0]) + rng.normal(scale=0.4, size=(500, 3))
    radar = np.array([0.0, 0.0, 1.2])
    a = first_hit_between(geo, pts, np.broadcast_to(radar, pts.shape))
    b = first_hit_between(geo, pts, np.broadcast_to(radar, pts.shape), normals=False)
    assert a.hit.any() and not a.hit.all()
    for f in ("t", "primitive", "point", "object_id", "kind", "material"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
    assert not b.normal.any()


# ------------------------------------------------------------------------------------ gait calibration
def _hip_residual_three_cycles(params, body_shape, target):  # type: ignore[no-untyped-def]
    """The straightforward calibration residual: three whole cycles from phase 0, the second measured."""
    from dataclasses import replace

    from mmsight.sim.motion import gait as G

    sym = replace(params, step_asymmetry=0.0, timing_asymmetry=0.0)
    _, cycle_dur, _ = sym.cycle(body_shape)
    n = int(round(cycle_dur * G._INTERNAL_RATE))
    phase = np.arange(3 * n + 1) / n
    feet = body_shape.foot_contact_points().reshape(2, 3)
    mid = int(round(0.5 * G._double_support(sym.duty_factor(body_shape), 0.0)[1] * n))

    def residual(x: np.ndarray) -> np.ndarray:
        ang = G._gait_angles(sym, body_shape, phase, float(x[0]), 1.0, float(x[1]))
        j, _ = body_shape.forward_kinematics(ang[[n + mid]], np.zeros(3), 0.0)
        _, root = G._plant_feet(body_shape, sym, ang, phase, n / cycle_dur)
        adv = float(np.hypot(*(root[2 * n, :2] - root[n, :2])))
        return np.array([(adv - target) / target, (j[0, feet[1], 2].min() - j[0, feet[0], 2].min()) / body_shape.leg_length])

    return residual


def test_hip_calibration_on_a_short_track_solves_the_three_cycle_equations() -> None:
    """_calibrate_hip measures one cycle on a track of 1.6 cycles: its solution is a root of the
    three-cycle residual (to its own 2e-4 tolerance) and the residuals agree to float rounding."""
    from mmsight.sim.motion import gait as G
    from mmsight.sim.tasks.common import make_subject

    for s in range(3):
        subject = make_subject(11, s)
        params = subject.gait.realize(np.random.default_rng(s))
        length, _, _ = params.cycle(subject.body)
        scale, offset = G._calibrate_hip(params, subject.body, length)
        ref = _hip_residual_three_cycles(params, subject.body, length)
        assert np.max(np.abs(ref(np.array([scale, offset])))) < 2e-4
        # and the calibration ran on the short track
        seen: list[np.ndarray] = []
        orig = G._plant_feet

        def spy(*a, **k):  # type: ignore[no-untyped-def]
            out = orig(*a, **k)
            seen.append(a[3])  # the phase track
            return out

        G._plant_feet = spy
        try:
            G._calibrate_hip(params, subject.body, length)
        finally:
            G._plant_feet = orig
        assert seen and seen[0][0] > 0.4 and seen[0][-1] < 2.2  # the short track was used
