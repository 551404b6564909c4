"""The body as a radar target: facet model vs the PEC ellipsoid formula, skin and garment reflectivity,
visibility and occlusion, velocities from the motion, fluctuation, concealed objects, radar mount."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mmsight.sim import scattering as sc
from mmsight.sim.body import SEGMENT_NAMES, BodyShape
from mmsight.sim.geometry import Ellipsoids, SceneGeometry, segment_occluded
from mmsight.sim.materials import get_material
from mmsight.sim.objects import object_scatterers
from mmsight.sim.skeleton import N_JOINTS

F60 = 60.0e9
SEG = {n: i for i, n in enumerate(SEGMENT_NAMES)}
TORSO = ("thorax", "abdomen", "pelvis")


@pytest.fixture(scope="module")
def body() -> BodyShape:
    return BodyShape.from_anthropometry(1.75, 70.0)


def _moving(body: BodyShape, xy, vel=(0.0, 0.0, 0.0), heading=math.pi, n=3, dt=0.1, yaw_rate=0.0):
    t = np.arange(n) * dt
    root = np.array([xy[0], xy[1], body.root_height]) + t[:, None] * np.asarray(vel, dtype=float)
    return body.pose(np.zeros((n, N_JOINTS, 3)), root, heading + yaw_rate * t, times=t)


def _fib_sphere(n: int) -> np.ndarray:
    k = np.arange(n) + 0.5
    z = 1 - 2 * k / n
    phi = k * math.pi * (3 - math.sqrt(5))
    r = np.sqrt(1 - z * z)
    return np.stack([r * np.cos(phi), r * np.sin(phi), z], axis=1)


def _db(x: float) -> float:
    return 10.0 * math.log10(x)


# ----------------------------------------------------------------------------------------------
# facet model
# ----------------------------------------------------------------------------------------------


def test_sphere_gives_pi_r2_for_any_lobe():
    c, ax, semi = np.zeros((1, 3)), np.eye(3)[None], np.full((1, 3), 0.1)
    for fm in (sc.FacetModel(), sc.FacetModel(roughness_deg=0.0, diffuse_fraction=0.0, n_specular=1),
               sc.FacetModel(roughness_deg=40.0, diffuse_fraction=0.5, n_specular=10, n_diffuse=30)):
        f = sc.ellipsoid_facets(c, ax, semi, np.array([0.3, 50.0, -2.0]), fm)
        assert f.rcs.sum() == pytest.approx(math.pi * 0.01, rel=1e-3)
        # every centre lies on the sphere and faces the radar
        assert np.allclose(np.linalg.norm(f.points[0], axis=1), 0.1)
        assert np.all(f.cos_incidence > 0)


def test_narrow_lobe_reproduces_the_pec_ellipsoid_formula():
    """radar-physics.md 3.2: sigma = pi a^2 b^2 c^2 / (a^2 d_u^2 + b^2 d_v^2 + c^2 d_w^2)^2."""
    semi = np.array([[0.12, 0.09, 0.30]])
    rot = np.linalg.qr(np.random.default_rng(0).normal(size=(3, 3)))[0]
    c, ax = np.array([[0.2, 3.0, 1.0]]), rot[None]
    for d in _fib_sphere(12):
        radar = c[0] + 1e4 * d  # far field
        d_local = rot.T @ d
        want = sc.ellipsoid_rcs(semi[0], d_local)
        exact = sc.ellipsoid_facets(c, ax, semi, radar, sc.FacetModel(0.0, 0.0, 1, 0)).rcs.sum()
        assert exact == pytest.approx(want, rel=1e-9)
        narrow = sc.ellipsoid_facets(c, ax, semi, radar, sc.FacetModel(0.5, 0.0, 24, 0)).rcs.sum()
        assert abs(_db(narrow / want)) < 0.05
    # broadside torso-like ellipsoid of radar-physics.md 3.2 (0.15, 0.15, 0.144 H at H = 1.8): -6.8 dBsm PEC
    t = sc.ellipsoid_rcs(np.array([0.15, 0.15, 0.144 * 1.8]), np.array([0.0, 1.0, 0.0]))
    assert _db(float(t)) == pytest.approx(-6.8, abs=0.15)


def test_any_lobe_keeps_the_aspect_average_at_area_over_4():
    """A convex body's RCS averaged over all aspects is its area / 4 (geometric optics); the facet
    lobe only redistributes the return over aspect."""
    c, ax, semi = np.zeros((1, 3)), np.eye(3)[None], np.array([[0.12, 0.09, 0.30]])
    area = float(Ellipsoids(c, ax, semi).surface_area()[0])  # Thomsen's formula, < 1.1 % error
    dirs = _fib_sphere(600)
    for fm in (sc.FacetModel(), sc.FacetModel(30.0, 0.3)):
        mean = np.mean([sc.ellipsoid_facets(c, ax, semi, 1e3 * d, fm).rcs.sum() for d in dirs])
        assert mean == pytest.approx(area / 4, rel=0.02)


def test_quadrature_weights_and_validation():
    q, w = sc.FacetModel().quadrature()
    assert q.shape == (36, 3) and w.shape == (36,)
    assert w.sum() == pytest.approx(1.0)
    assert np.allclose(np.linalg.norm(q, axis=1), 1.0) and np.all(q[:, 2] >= 0)
    # the specular centres concentrate around the pole (about roughness_deg)
    spec = np.degrees(np.arccos(q[:24, 2]))
    assert 10.0 < np.median(spec) < 25.0
    with pytest.raises(ValueError):
        sc.FacetModel(roughness_deg=-1.0)
    with pytest.raises(ValueError):
        sc.FacetModel(diffuse_fraction=0.2, n_diffuse=0)


# ----------------------------------------------------------------------------------------------
# whole body
# ----------------------------------------------------------------------------------------------


def test_body_rcs_within_published_range(body):
    """Total RCS of a standing adult, averaged over per-frame fluctuation: -10..0 dBsm at 60-77 GHz
    (radar-physics.md 3.1); the side aspect is a few dB below the front (3.1: 2-4 dB)."""
    radar = sc.radar_mount(1.0)
    rng = np.random.default_rng(1)
    fl = sc.Fluctuation("lognormal", sigma_db=5.5)
    front = body.rest_pose((0.0, 3.0), heading=math.pi)
    side = body.rest_pose((0.0, 3.0), heading=math.pi / 2)
    cloth = sc.Clothing.outfit("cotton_tshirt", "denim")
    out = {}
    for freq in (60.5e9, 77e9):
        for name, pb in (("front", front), ("side", side)):
            tot = [sc.body_scatterers(pb, 0, radar, cloth, freq, rng, fluctuation=fl).total_rcs() for _ in range(40)]
            out[name, freq] = _db(float(np.mean(tot)))
        assert -10.0 <= out["front", freq] <= 0.0
        assert 1.0 <= out["front", freq] - out["side", freq] <= 7.0
    print("body RCS dBsm (mean over fluctuation):", {f"{k[0]}@{k[1] / 1e9:g}GHz": round(v, 2) for k, v in out.items()})
    # without fluctuation the frontal value is the model's mean (fluctuation is mean-preserving)
    det = _db(sc.body_scatterers(front, 0, radar, cloth, 60.5e9).total_rcs())
    assert det == pytest.approx(out["front", 60.5e9], abs=1.0)


def test_skin_is_a_lossy_specular_reflector(body):
    assert sc.skin_reflectivity(F60) == pytest.approx(0.38, abs=0.01)
    assert 0.33 <= sc.skin_reflectivity(F60, get_material("skin").sample_instance(3)) <= 0.42
    pb = body.rest_pose((0.0, 3.0), heading=math.pi)
    radar = sc.radar_mount(1.2)
    bare = sc.body_scatterers(pb, 0, radar, None, F60)
    # bare skin = PEC facets x |Gamma|^2 (same centres)
    seg = pb.segments
    pec = sc.ellipsoid_facets(seg.centers[0], seg.axes[0], seg.semi_axes, radar[:3, 3], sc.FacetModel())
    th = SEG["thorax"]
    got_p = bare.positions[bare.segment == th] + radar[:3, 3]
    got = bare.rcs[bare.segment == th]
    assert len(got) > 10
    nearest = np.argmin(np.linalg.norm(got_p[:, None] - pec.points[th][None], axis=-1), axis=1)
    assert np.allclose(got_p, pec.points[th][nearest], atol=1e-9)
    assert np.allclose(got / pec.rcs[th][nearest], sc.skin_reflectivity(F60), rtol=1e-9)


def test_clothing_one_way_loss_applied_twice(body):
    pb = body.rest_pose((0.0, 3.0), heading=math.pi)
    radar = sc.radar_mount(1.3)
    jacket = get_material("down_jacket").nominal_instance()
    bare = sc.body_scatterers(pb, 0, radar, None, F60)
    dressed = sc.body_scatterers(pb, 0, radar, jacket, F60, garment_reflection=False)
    th = SEG["thorax"]
    assert np.allclose(bare.positions[bare.segment == th], dressed.positions[dressed.segment == th])
    ratio = dressed.rcs[dressed.segment == th] / bare.rcs[bare.segment == th]
    normals = dressed.normals[dressed.segment == th]
    pts = dressed.positions[dressed.segment == th]
    cos_i = np.sum(normals * -pts, axis=1) / np.linalg.norm(pts, axis=1)
    # at near-normal incidence the ratio is the two-way loss of the jacket (3.5 dB one way)
    loss2 = 2 * jacket.one_way_loss_db(F60)
    near = cos_i > 0.99
    assert near.any()
    assert np.allclose(-10 * np.log10(ratio[near]), loss2, atol=0.1)
    assert 6.0 < loss2 < 8.0
    # at every facet: twice the one-way loss at the facet's incidence angle (5-degree table, interpolated)
    exact = [2 * jacket.one_way_loss_db(F60, float(a)) for a in np.arccos(np.clip(cos_i, 0, 1))]
    assert np.allclose(-10 * np.log10(ratio), exact, atol=0.05, rtol=0.01)
    # oblique facets lose more (longer path through the slab)
    assert ratio[cos_i < 0.7].mean() < ratio[near].mean()
    # uncovered segments (head) are unchanged; the trousers were not worn
    hd = SEG["head"]
    assert np.allclose(bare.rcs[bare.segment == hd], dressed.rcs[dressed.segment == hd])
    # the garment's own weak reflection raises the return a little
    with_refl = sc.body_scatterers(pb, 0, radar, jacket, F60, garment_reflection=True)
    assert with_refl.rcs[with_refl.segment == th].sum() > dressed.rcs[dressed.segment == th].sum()


def test_only_the_visible_surface_scatters(body):
    """Back of the body: every centre faces the radar and lies on the radar side of its segment."""
    radar = sc.radar_mount(1.0)
    for heading in (math.pi, 0.0, 1.0):
        pb = body.rest_pose((0.3, 3.0), heading=heading)
        s = sc.body_scatterers(pb, 0, radar, None, F60)
        to_radar = -s.positions / np.linalg.norm(s.positions, axis=1, keepdims=True)
        assert np.all(np.sum(s.normals * to_radar, axis=1) > 0)
        # every centre is on its segment's surface and has a clear line of sight to the radar
        geo = SceneGeometry().add_body(pb.segments, 0, object_id=0)
        room = s.positions + radar[:3, 3]
        assert np.allclose(geo.surface_residual(room, s.segment.astype(int)), 0.0, atol=1e-9)
        assert not np.any(segment_occluded(geo, radar[:3, 3], room))
        # the far half of the torso is dark: no thorax centre behind the plane through its centre
        # normal to the line of sight
        th = s.segment == SEG["thorax"]
        c = pb.segments.centers[0, SEG["thorax"]]
        d = (radar[:3, 3] - c) / np.linalg.norm(radar[:3, 3] - c)
        assert np.all((room[th] - c) @ d > -0.01)


def test_a_person_behind_another_is_hidden(body):
    radar = sc.radar_mount(1.0)
    front = body.rest_pose((0.0, 2.0), heading=math.pi)
    back = body.rest_pose((0.0, 3.2), heading=math.pi)
    from mmsight.sim.scattering import person_geometry

    alone = sc.body_scatterers(back, 0, radar, None, F60, person=1)
    hidden = sc.body_scatterers(back, 0, radar, None, F60, person=1,
                                occluders=person_geometry(front, 0, object_id=0))
    for name in TORSO + ("head",):
        assert np.sum(alone.segment == SEG[name]) > 0
        assert np.sum(hidden.segment == SEG[name]) == 0
    assert hidden.total_rcs() < 0.05 * alone.total_rcs()
    # shifted sideways by a body width, the back person reappears
    side = body.rest_pose((0.8, 3.2), heading=math.pi)
    seen = sc.body_scatterers(side, 0, radar, None, F60, occluders=person_geometry(front, 0, object_id=0))
    assert seen.total_rcs() > 0.5 * sc.body_scatterers(side, 0, radar, None, F60).total_rcs()


def test_self_occlusion_arm_in_front_of_torso(body):
    """Seen from the side, the far arm is hidden by the torso; no centre lies inside another segment."""
    radar = sc.radar_mount(1.2)
    pb = body.rest_pose((0.0, 3.0), heading=math.pi / 2)  # facing +x: the right side faces the radar
    c = pb.segments.centers[0]
    assert c[SEG["upper_arm_right"], 1] < c[SEG["thorax"], 1] < c[SEG["upper_arm_left"], 1]
    s = sc.body_scatterers(pb, 0, radar, None, F60)
    # the far (left) arm is behind the torso, the near one is seen
    for part in ("upper_arm", "forearm", "hand"):
        assert np.sum(s.segment == SEG[f"{part}_left"]) == 0
        assert np.sum(s.segment == SEG[f"{part}_right"]) > 0
    # no centre lies inside another segment's ellipsoid
    geo = Ellipsoids(pb.segments.centers[0], pb.segments.axes[0], pb.segments.semi_axes)
    room = s.positions + radar[:3, 3]
    for k in range(len(SEGMENT_NAMES)):
        other = s.segment != k
        q = geo.local_coords(room[other], np.full(other.sum(), k)) / pb.segments.semi_axes[k]
        assert np.all(np.sum(q**2, axis=1) >= 1 - 1e-6)


def test_velocities_follow_the_motion(body):
    radar = sc.radar_mount(1.0)
    v = np.array([0.4, -1.2, 0.0])
    pb = _moving(body, (0.0, 3.5), vel=v)
    s = sc.body_scatterers(pb, 1, radar, None, F60)
    assert np.allclose(s.velocities, v, atol=1e-9)
    assert np.allclose(s.accelerations, 0.0, atol=1e-9)
    # turning on the spot: rigid rotation about the vertical through the pelvis, v = w x r
    w = 1.5
    pb = _moving(body, (0.0, 3.5), yaw_rate=w, dt=0.01)
    s = sc.body_scatterers(pb, 1, radar, None, F60)
    room = s.positions + radar[:3, 3]
    r = room - np.array([0.0, 3.5, 0.0])
    # heading increases towards +x: the body turns clockwise seen from above, omega = -w z
    want = np.cross(np.array([0.0, 0.0, -w]), r)
    assert np.allclose(s.velocities, want, atol=0.02 * w)
    # per-chirp positions: p + v t + a t^2 / 2
    t = np.array([[0.0, 1e-3]])
    ppc = s.per_chirp_positions(t)
    assert ppc.shape == (1, 2, len(s), 3)
    assert np.allclose(ppc[0, 1], s.positions + 1e-3 * s.velocities + 0.5e-6 * s.accelerations)
    # a single frame without times has zero velocity; two frames without times need a frame period
    still = body.rest_pose((0.0, 3.0))
    assert np.all(sc.body_scatterers(still, 0, radar, None, F60).velocities == 0)
    two = body.pose(np.zeros((2, N_JOINTS, 3)), np.array([[0, 3, 0.93], [0, 3.1, 0.93]]))
    with pytest.raises(ValueError, match="frame_period"):
        sc.body_scatterers(two, 0, radar, None, F60)
    s2 = sc.body_scatterers(two, 0, radar, None, F60, frame_period=0.1)
    assert np.allclose(s2.velocities, [0.0, 1.0, 0.0])


def test_fluctuation_statistics_and_determinism(body):
    rng = np.random.default_rng(0)
    ln = sc.Fluctuation("lognormal", sigma_db=6.0).draw(40000, rng)
    assert ln.mean() == pytest.approx(1.0, abs=0.03)
    assert np.std(10 * np.log10(ln)) == pytest.approx(6.0, abs=0.1)
    nk = sc.Fluctuation("nakagami", m=2.0).draw(40000, rng)
    assert nk.mean() == pytest.approx(1.0, abs=0.02)
    assert nk.var() == pytest.approx(0.5, abs=0.03)
    pb = body.rest_pose((0.0, 3.0), heading=math.pi)
    radar = sc.radar_mount(1.0)
    fl = sc.Fluctuation(per="body")
    a = sc.body_scatterers(pb, 0, radar, None, F60, 7, fluctuation=fl)
    b = sc.body_scatterers(pb, 0, radar, None, F60, 7, fluctuation=fl)
    c = sc.body_scatterers(pb, 0, radar, None, F60, 8, fluctuation=fl)
    assert np.array_equal(a.rcs, b.rcs) and np.array_equal(a.positions, b.positions)
    assert not np.allclose(a.rcs, c.rcs)
    # per body: one multiplier for every centre
    base = sc.body_scatterers(pb, 0, radar, None, F60)
    assert np.allclose(a.rcs / base.rcs, (a.rcs / base.rcs)[0])
    with pytest.raises(ValueError):
        sc.Fluctuation("gaussian")  # type: ignore[arg-type]


def test_concealed_object_scatterers_and_torso_occlusion(body):
    """Objects come from objects.object_scatterers with the garment's two-way loss, and disappear
    when the torso is between them and the radar."""
    carried = sc.CarriedObject("handgun", "chest_left")
    fleece = get_material("fleece").nominal_instance()
    cloth = sc.Clothing((sc.Garment(fleece, sc.TOP_SEGMENTS),))
    facing = _moving(body, (0.0, 3.0))
    pose = carried.poses(facing, [1])[0]
    radar = sc.radar_mount(float(pose[2, 3]), position_xy=(float(pose[0, 3]), 0.0))
    s = sc.body_scatterers(facing, 1, radar, cloth, F60, objects=(carried,))
    obj = s.kind == sc.KIND_OBJECT
    assert obj.sum() >= 3 and np.all(s.source[obj] == 0) and np.all(s.segment[obj] == -1)
    pos, rcs = object_scatterers("handgun", pose, radar[:3, 3], F60, clothing=fleece)
    keep = rcs > 0
    room = s.positions[obj] + radar[:3, 3]
    order = np.lexsort(room.T)
    order_ref = np.lexsort(pos[keep].T)
    assert np.allclose(room[order], pos[keep][order_ref], atol=1e-9)
    assert np.allclose(s.rcs[obj][order], rcs[keep][order_ref], rtol=0.02)  # cached slab table vs exact
    # face-on the pistol's flat sides dominate the chest by far
    chest = s.rcs[(s.kind == sc.KIND_BODY) & (s.segment == SEG["thorax"])].sum()
    assert s.rcs[obj].sum() > 30 * chest
    # seen from behind: hidden by the torso
    away = _moving(body, (0.0, 3.0), heading=0.0)
    s_back = sc.body_scatterers(away, 1, radar, cloth, F60, objects=(carried,))
    assert np.sum(s_back.kind == sc.KIND_OBJECT) == 0
    assert np.sum(s_back.kind == sc.KIND_BODY) > 0
    # the object's box hides the skin right behind it
    plain = sc.body_scatterers(facing, 1, radar, cloth, F60)
    th = SEG["thorax"]
    assert np.sum((s.kind == sc.KIND_BODY) & (s.segment == th)) < np.sum(plain.segment == th)


def test_object_velocity_follows_the_body(body):
    v = np.array([0.0, -1.0, 0.0])
    pb = _moving(body, (0.0, 3.5), vel=v)
    s = sc.body_scatterers(pb, 1, sc.radar_mount(1.2), None, F60, objects=(sc.CarriedObject("keys", "waist_left"),))
    obj = s.kind == sc.KIND_OBJECT
    assert obj.any()
    assert np.allclose(s.velocities[obj], v, atol=1e-9)


def test_clothing_helpers():
    c = sc.Clothing.outfit("fleece", "denim", outer="down_jacket", rng=1)
    assert [m.name for m in c.layers("thorax")] == ["fleece", "down_jacket"]
    assert [m.name for m in c.layers("thigh_left")] == ["denim"]
    assert c.layers("head") == ()
    assert sc.as_clothing(None).garments == ()
    assert sc.as_clothing("cotton_tshirt").layers("forearm_left")[0].name == "cotton_tshirt"
    m = sc.as_clothing({"thorax": ["cotton_tshirt", "leather_jacket"]})
    assert [x.name for x in m.layers("thorax")] == ["cotton_tshirt", "leather_jacket"]
    with pytest.raises(ValueError, match="unknown segment"):
        sc.Garment(get_material("denim").nominal_instance(), ("torso",))
    with pytest.raises(TypeError):
        sc.as_clothing(3.0)  # type: ignore[arg-type]


def test_radar_mount_and_frames():
    T = sc.radar_mount(1.5, tilt_down_deg=20.0)
    bore = T[:3, :3] @ np.array([0.0, 1.0, 0.0])
    assert np.allclose(bore, [0.0, math.cos(math.radians(20)), -math.sin(math.radians(20))])
    assert np.allclose(T[:3, 3], [0.0, 0.0, 1.5])
    p_room = T[:3, 3] + 4.0 * bore
    p_radar = sc.invert_transform(T) @ np.append(p_room, 1.0)
    assert np.allclose(p_radar[:3], [0.0, 4.0, 0.0])
    Y = sc.radar_mount(1.0, yaw_deg=30.0, position_xy=(1.0, -0.5))
    assert np.allclose(Y[:3, :3] @ [0, 1, 0], [0.5, math.cos(math.radians(30)), 0.0])
    assert np.allclose(sc.invert_transform(Y) @ Y, np.eye(4))
    from mmsight.radar import RadarConfig

    cfg = RadarConfig.preset("iwr6843isk")
    ct = sc.chirp_times(cfg)
    assert ct.shape == (cfg.n_loops, cfg.n_tx)
    assert ct[0, 1] - ct[0, 0] == pytest.approx(cfg.chirp_time)
    assert ct[1, 0] - ct[0, 0] == pytest.approx(cfg.n_tx * cfg.chirp_time)


def test_scatterers_container():
    a = sc.Scatterers.make(np.ones((2, 3)), [1.0, 2.0], kind=sc.KIND_CLUTTER, source=4)
    b = sc.Scatterers.empty()
    c = sc.Scatterers.concatenate([a, b, a])
    assert len(c) == 4 and c.total_rcs() == pytest.approx(6.0)
    assert np.all(c.source == 4) and np.all(c.kind == sc.KIND_CLUTTER) and np.all(c.path == sc.PATH_DIRECT)
    assert len(c.select(c.rcs > 1.5)) == 2
    m = sc.radar_mount(1.0)
    assert np.allclose(c.transformed(m).positions, c.positions + [0, 0, 1.0])
    with pytest.raises(ValueError):
        sc.Scatterers(np.zeros((2, 3)), np.zeros((1, 3)), np.zeros(2), *(np.zeros(2, int),) * 5, np.zeros((2, 3)),
                      np.zeros((2, 3)))
