"""Scene -> radar frames, checked through the signal chain: where a person lands, wall loss, concealed
object contrast, occlusion, multipath ghosts, radar tilt, static reflectors, determinism, speed."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from mmsight.radar import RadarConfig, SignalChain, simulate_adc
from mmsight.sim import radar_render as rr
from mmsight.sim import scattering as sc
from mmsight.sim.body import SEGMENT_NAMES, BodyShape
from mmsight.sim.materials import get_material
from mmsight.sim.objects import object_scatterers
from mmsight.sim.skeleton import N_JOINTS

SEG = {n: i for i, n in enumerate(SEGMENT_NAMES)}
TH = SEG["thorax"]
# noise-free frames make the chain's noise estimate log10(0); not this module's concern
pytestmark = pytest.mark.filterwarnings("ignore:invalid value encountered in log10:RuntimeWarning")


@pytest.fixture(scope="module")
def cfg() -> RadarConfig:
    return RadarConfig.preset("iwr6843isk")


@pytest.fixture(scope="module")
def body() -> BodyShape:
    return BodyShape.from_anthropometry(1.75, 70.0)


@pytest.fixture(scope="module")
def static_chain(cfg) -> SignalChain:
    return SignalChain(cfg, clutter_removal=False)


@pytest.fixture(scope="module")
def moving_chain(cfg) -> SignalChain:
    return SignalChain(cfg)


def _moving(body: BodyShape, xy, vel=(0.0, 0.0, 0.0), heading=math.pi, n=3, dt=0.1):
    """A rigid body translating at ``vel`` (m/s), frames every ``dt`` s; frame 1 is the middle."""
    t = np.arange(n) * dt
    root = np.array([xy[0], xy[1], body.root_height]) + t[:, None] * np.asarray(vel, dtype=float)
    return body.pose(np.zeros((n, N_JOINTS, 3)), root, heading, times=t)


def _to_radar(T: np.ndarray, p_room: np.ndarray) -> np.ndarray:
    return (sc.invert_transform(T) @ np.append(p_room, 1.0))[:3]


def _specular_point(pb, frame: int, seg: int, view: np.ndarray) -> np.ndarray:
    """The point of a segment's ellipsoid whose normal points at ``view`` (room frame)."""
    s = pb.segments
    f = sc.ellipsoid_facets(s.centers[frame, seg:seg + 1], s.axes[frame, seg:seg + 1], s.semi_axes[seg:seg + 1],
                            view, sc.FacetModel(0.0, 0.0, 1, 0))
    return f.points[0, 0]


def _az_bin(n_angle: int, p_radar: np.ndarray) -> float:
    """FFT azimuth bin of a radar-frame point (bins are evenly spaced in x / R)."""
    return n_angle / 2 + n_angle / 2 * p_radar[0] / np.linalg.norm(p_radar)


def _db(x: float) -> float:
    return 10.0 * math.log10(x)


# ----------------------------------------------------------------------------------------------
# a person in the maps
# ----------------------------------------------------------------------------------------------


def test_standing_person_at_body_range_and_azimuth(cfg, body, static_chain):
    T = sc.radar_mount(1.0)  # a tripod-mounted ISK
    pb = body.rest_pose((0.5, 4.0), heading=math.pi)
    scene = rr.RadarScene(T, people=(rr.Person(pb, sc.Clothing.outfit()),))
    (adc, prod), = rr.render_radar_frames(scene, cfg, 0, 1, chain=static_chain)
    assert adc.shape == (cfg.n_loops, cfg.n_tx, cfg.n_rx, cfg.n_samples) and adc.dtype == np.complex64
    ra = prod.range_azimuth
    i, j = np.unravel_index(np.argmax(ra), ra.shape)
    dr = float(prod.range_axis[1] - prod.range_axis[0])
    centre = _to_radar(T, pb.segments.centers[0, TH])
    front = _to_radar(T, _specular_point(pb, 0, TH, T[:3, 3]))
    # the radar sees surfaces: the peak lies between the torso's front (-1 bin) and its centre (+1 bin),
    # ~10 cm = 2.4 bins deeper, and within one azimuth bin of the torso centre
    assert np.linalg.norm(front) - dr <= prod.range_axis[i] <= np.linalg.norm(centre) + dr
    assert abs(j - _az_bin(ra.shape[1], centre)) <= 1.0
    # ground truth travels with the products
    s = prod.extras["scatterers"]
    assert np.all(s.kind == sc.KIND_BODY) and np.all(s.person == 0)


def test_walking_person_range_and_doppler(cfg, body, moving_chain):
    v = np.array([0.0, -2.0, 0.0])  # towards the radar
    pb = _moving(body, (-0.6, 4.0), vel=v)
    T = sc.radar_mount(1.0)
    scene = rr.RadarScene(T, people=(rr.Person(pb),))
    (adc, prod), = rr.render_radar_frames(scene, cfg, [1], 2, chain=moving_chain)
    rd = prod.range_doppler
    i, k = np.unravel_index(np.argmax(rd), rd.shape)
    front = _to_radar(T, _specular_point(pb, 1, TH, T[:3, 3]))
    u = front / np.linalg.norm(front)
    dr = float(prod.range_axis[1] - prod.range_axis[0])
    dv = float(prod.velocity_axis[1] - prod.velocity_axis[0])
    centre = _to_radar(T, pb.segments.centers[1, TH])
    assert np.linalg.norm(front) - dr <= prod.range_axis[i] <= np.linalg.norm(centre) + dr
    assert abs(prod.velocity_axis[k] - float(v @ u)) <= dv
    # the clutter-removed point cloud sees the mover
    assert len(prod.points) >= 1
    assert np.min(np.abs(prod.points[:, 3] - float(v @ u))) <= dv


def test_person_behind_another_is_not_rendered(cfg, body, moving_chain):
    """The front person stands still (removed with the static clutter); the one behind walks."""
    T = sc.radar_mount(1.0)
    back = _moving(body, (0.0, 3.4), vel=(0.0, -1.5, 0.0))
    front = _moving(body, (0.0, 2.0))
    alone = rr.RadarScene(T, people=(rr.Person(back),))
    both = rr.RadarScene(T, people=(rr.Person(front), rr.Person(back)))
    (_, p_alone), = rr.render_radar_frames(alone, cfg, [1], 3, chain=moving_chain, noise=False)
    (_, p_both), = rr.render_radar_frames(both, cfg, [1], 3, chain=moving_chain, noise=False)
    s = p_both.extras["scatterers"]
    hidden = s.person == 1
    assert not np.any(hidden & np.isin(s.segment, [SEG["thorax"], SEG["abdomen"], SEG["head"]]))
    # only glimpses through the gaps (between the front person's legs, arms and torso) remain
    assert _db(p_alone.extras["scatterers"].total_rcs() / s.total_rcs(hidden)) > 10.0
    assert _db(p_alone.range_doppler.max() / p_both.range_doppler.max()) > 10.0


# ----------------------------------------------------------------------------------------------
# through the wall
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("material", ["drywall", "particle_board", "glass"])
def test_wall_lowers_the_return_by_its_two_way_loss(cfg, body, moving_chain, material):
    pb = _moving(body, (0.3, 3.5), vel=(0.0, -1.5, 0.0))
    T = sc.radar_mount(1.1)
    wall = rr.Surface.wall_y(1.5, material)
    free = rr.RadarScene(T, people=(rr.Person(pb, "cotton_tshirt"),))
    walled = rr.RadarScene(T, people=free.people, wall=wall)
    (_, p0), = rr.render_radar_frames(free, cfg, [1], 4, chain=moving_chain)
    (_, p1), = rr.render_radar_frames(walled, cfg, [1], 4, chain=moving_chain)
    measured = _db(p0.range_doppler.max() / p1.range_doppler.max())
    to_torso = pb.segments.centers[1, TH] - T[:3, 3]
    angle = math.acos(abs(to_torso[1]) / np.linalg.norm(to_torso))
    inst = get_material(material).nominal_instance()
    predicted = inst.two_way_loss_db(cfg.center_frequency, angle, bandwidth_hz=cfg.bandwidth)
    assert measured == pytest.approx(predicted, abs=1.0)
    # same positions behind the wall: only the RCS changed
    s0, s1 = p0.extras["scatterers"], p1.extras["scatterers"]
    body1 = s1.kind == sc.KIND_BODY
    assert np.allclose(s0.positions, s1.positions[body1])


def test_wall_own_return_is_a_mirror(cfg, static_chain):
    """The wall's specular return: sigma = |R|^2 pi d^2 at the foot of the perpendicular."""
    T = sc.radar_mount(1.2)
    wall = rr.Surface.wall_y(2.0, "drywall", width=4.0, height=2.5)
    (_, prod), = rr.render_radar_frames(rr.RadarScene(T, wall=wall), cfg, 0, 1, chain=static_chain, noise=False)
    s = prod.extras["scatterers"]
    assert len(s) == 1 and s.kind[0] == sc.KIND_WALL
    assert np.allclose(s.positions[0], [0.0, 2.0, 0.0])
    refl = 10 ** (get_material("drywall").reflection_db(cfg.center_frequency, bandwidth_hz=cfg.bandwidth) / 10)
    assert s.rcs[0] == pytest.approx(refl * math.pi * 4.0, rel=1e-3)
    prof = prod.range_doppler.sum(axis=1)
    dr = float(prod.range_axis[1] - prod.range_axis[0])
    assert abs(prod.range_axis[np.argmax(prof)] - 2.0) <= dr
    # no wall return when the radar cannot see the wall's face (off a finite wall)
    off = rr.Surface.wall_y(2.0, "drywall", width=1.0, height=2.5, center_x=3.0)
    assert len(rr.scene_scatterers(rr.RadarScene(T, wall=off), 0, cfg)) == 0


# ----------------------------------------------------------------------------------------------
# concealed objects
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("obj", ["phone", "handgun"])
def test_concealed_object_raises_the_return_as_predicted(cfg, body, static_chain, obj):
    """Measured power increase at the object's cell vs the increase predicted from the object's RCS
    after the garment's two-way loss: the prediction renders ``objects.object_scatterers`` with the
    fleece (``objects.concealed_two_way_loss_db``) on its own through the same chain and adds its power
    to the body's (the cross term between body and object is what the tolerance covers)."""
    pb = _moving(body, (0.0, 3.0))
    carried = sc.CarriedObject(obj, "chest_left")
    c = carried.poses(pb, [1])[0, :3, 3]
    T = sc.radar_mount(float(c[2]), position_xy=(float(c[0]), 0.0))  # face-on, as in a portal
    cloth = sc.Clothing.outfit("fleece", "denim")
    plain = rr.RadarScene(T, people=(rr.Person(pb, cloth),))
    armed = rr.RadarScene(T, people=(rr.Person(pb, cloth, objects=(carried,)),))
    (_, p0), = rr.render_radar_frames(plain, cfg, [1], 5, chain=static_chain, noise=False)
    (_, p1), = rr.render_radar_frames(armed, cfg, [1], 5, chain=static_chain, noise=False)
    s = p1.extras["scatterers"]
    o = s.kind == sc.KIND_OBJECT
    assert o.sum() >= 3
    pose = carried.poses(pb, [1])[0]
    fleece = cloth.layers("thorax")[0]
    pos, rcs = object_scatterers(obj, pose, T[:3, 3], cfg.center_frequency, clothing=fleece,
                                 bandwidth_hz=cfg.bandwidth)
    pos_r = pos @ sc.invert_transform(T)[:3, :3].T + sc.invert_transform(T)[:3, 3]
    alone = static_chain.process(simulate_adc(cfg, pos_r, np.zeros_like(pos_r), rcs, noise=False))
    i, j = np.unravel_index(np.argmax(alone.range_azimuth), alone.range_azimuth.shape)
    base = float(p0.range_azimuth[i, j])
    predicted = _db((base + float(alone.range_azimuth[i, j])) / base)
    measured = _db(float(p1.range_azimuth[i, j]) / base)
    print(f"{obj} at chest_left under fleece: object RCS {_db(s.total_rcs(o)):.1f} dBsm, "
          f"rise {measured:.1f} dB (predicted {predicted:.1f} dB)")
    assert measured == pytest.approx(predicted, abs=2.0)
    assert measured > 10.0  # face-on metal under a fleece: a strong glint
    # one dominant flat face (phone): the object's power is that of a point target of its total RCS
    if obj == "phone":
        ref = static_chain.process(simulate_adc(cfg, _to_radar(T, c)[None], np.zeros((1, 3)), np.ones(1), noise=False))
        p_obj = float(p1.range_azimuth[i, j]) - base
        assert _db(p_obj / (float(ref.range_azimuth.max()) * s.total_rcs(o))) == pytest.approx(0.0, abs=1.5)
    # the rise is at the object's range and azimuth
    diff = p1.range_azimuth - p0.range_azimuth
    di, dj = np.unravel_index(np.argmax(diff), diff.shape)
    assert abs(int(di) - int(i)) <= 1 and abs(int(dj) - int(j)) <= 1
    # the garment's loss is in the object's RCS: twice the fleece's one-way loss at normal incidence
    bare = rr.RadarScene(T, people=(rr.Person(pb, None, objects=(carried,)),))
    sb = rr.scene_scatterers(bare, 1, cfg)
    loss = 2 * get_material("fleece").one_way_loss_db(cfg.center_frequency, bandwidth_hz=cfg.bandwidth)
    ratio = _db(sb.total_rcs(sb.kind == sc.KIND_OBJECT) / s.total_rcs(o))
    assert ratio == pytest.approx(loss, abs=0.1)


def test_object_hidden_when_the_person_turns_away(cfg, body):
    carried = sc.CarriedObject("handgun", "chest_right")
    T = sc.radar_mount(1.3)
    away = rr.RadarScene(T, people=(rr.Person(_moving(body, (0.0, 3.0), heading=0.0), objects=(carried,)),))
    assert np.sum(rr.scene_scatterers(away, 1, cfg).kind == sc.KIND_OBJECT) == 0


# ----------------------------------------------------------------------------------------------
# multipath
# ----------------------------------------------------------------------------------------------


def test_double_bounce_ghost_equals_a_target_at_the_image(cfg, static_chain):
    """A metal side wall (|Gamma| = 1): the full ghost of a sphere is indistinguishable from a real
    sphere at the image position; the half ghost sits at (|RP| + |RP'|)/2."""
    T = sc.radar_mount(1.2)
    P = np.array([0.0, 3.0, 1.2])
    wall = rr.Surface.wall_x(1.5, "metal")
    Pi = wall.mirror(P)
    ball = rr.StaticReflector.sphere(P, 0.03)
    kw = dict(surfaces=(wall,), multipath=True, ghost_sources=("clutter",))
    ghost = rr.RadarScene(T, clutter=(ball,), multipath_paths=("double",), **kw)
    (_, pg), = rr.render_radar_frames(ghost, cfg, 0, 1, chain=static_chain, noise=False)
    s = pg.extras["scatterers"]
    assert np.sum(s.path == sc.PATH_DOUBLE) == 1
    # the same scene without the ghost, plus a real sphere at the image
    twin = rr.RadarScene(T, clutter=(ball, rr.StaticReflector.sphere(Pi, 0.03)))
    (_, pt), = rr.render_radar_frames(twin, cfg, 0, 1, chain=static_chain, noise=False)
    assert np.allclose(pg.range_doppler, pt.range_doppler, rtol=1e-3, atol=1e-3 * pt.range_doppler.max())
    prof = pg.range_doppler.sum(axis=1)
    dr = float(pg.range_axis[1] - pg.range_axis[0])
    r_img = np.linalg.norm(Pi - T[:3, 3]) - 0.03
    k = int(np.argmin(np.abs(pg.range_axis - r_img)))
    lo, hi = k - 3, k + 4
    assert abs(pg.range_axis[lo + np.argmax(prof[lo:hi])] - r_img) <= dr
    # single bounce: two paths at the mean range
    half = rr.RadarScene(T, clutter=(ball,), multipath_paths=("single",), **kw)
    (_, ph), = rr.render_radar_frames(half, cfg, 0, 1, chain=static_chain, noise=False)
    sh = ph.extras["scatterers"]
    assert np.sum(sh.path == sc.PATH_SINGLE) == 2
    r_half = 0.5 * (np.linalg.norm(P - T[:3, 3]) + np.linalg.norm(Pi - T[:3, 3])) - 0.03
    prof = ph.range_doppler.sum(axis=1)
    k = int(np.argmin(np.abs(ph.range_axis - r_half)))
    assert abs(ph.range_axis[k - 3 + np.argmax(prof[k - 3:k + 4])] - r_half) <= dr
    # a drywall mirror: the full ghost is |Gamma|^4 weaker than with metal
    dry = rr.Surface.wall_x(1.5, "drywall")
    sd = rr.scene_scatterers(rr.RadarScene(T, clutter=(ball,), multipath_paths=("double",), surfaces=(dry,),
                                           multipath=True, ghost_sources=("clutter",)), 0, cfg)
    ang = math.acos(abs((Pi - T[:3, 3])[0]) / np.linalg.norm(Pi - T[:3, 3]))
    g2 = 10 ** (get_material("drywall").reflection_db(cfg.center_frequency, ang, bandwidth_hz=cfg.bandwidth) / 10)
    assert sd.rcs[sd.path == sc.PATH_DOUBLE][0] == pytest.approx(s.rcs[s.path == sc.PATH_DOUBLE][0] * g2**2, rel=0.05)


def test_person_ghost_range_and_doppler(cfg, body, moving_chain):
    """A walking person next to a metal wall: the full ghost of the torso lies at the image-source
    range (the torso seen from the radar's image) and moves with the mirrored velocity."""
    v = np.array([0.0, -2.5, 0.0])
    pb = _moving(body, (0.0, 3.2), vel=v)
    T = sc.radar_mount(1.2)
    wall = rr.Surface.wall_x(1.5, "metal")
    scene = rr.RadarScene(T, people=(rr.Person(pb),), surfaces=(wall,), multipath=True, multipath_paths=("double",))
    (_, prod), = rr.render_radar_frames(scene, cfg, [1], 6, chain=moving_chain)
    s = prod.extras["scatterers"]
    g = (s.path == sc.PATH_DOUBLE) & (s.segment == TH)
    assert g.sum() == 1
    R, Ri = T[:3, 3], wall.mirror(T[:3, 3])
    spec = _specular_point(pb, 1, TH, Ri)
    dr = float(prod.range_axis[1] - prod.range_axis[0])
    assert abs(s.ranges[g][0] - np.linalg.norm(Ri - spec)) <= dr
    u = (wall.mirror(spec) - R) / np.linalg.norm(wall.mirror(spec) - R)
    v_ghost = float(wall.mirror_vector(v) @ u)
    v_radial = float(s.velocities[g][0] @ (s.positions[g][0] / s.ranges[g][0]))
    assert v_radial == pytest.approx(v_ghost, abs=0.05)  # segment centroid vs specular point
    # in the RD map: a peak near the ghost range at the ghost's Doppler, separate from the direct one
    rd = prod.range_doppler
    dv = float(prod.velocity_axis[1] - prod.velocity_axis[0])
    k = int(np.argmin(np.abs(prod.range_axis - s.ranges[g][0])))
    sub = rd[k - 3:k + 4]
    a, b = np.unravel_index(np.argmax(sub), sub.shape)
    assert abs(prod.velocity_axis[b] - v_ghost) <= dv
    assert abs(v_ghost - float(v @ (_to_radar(T, spec) / np.linalg.norm(_to_radar(T, spec))))) > dv / 2
    # no ghosts from a wall on the far side of the radar's half space, or without multipath
    off = rr.RadarScene(T, people=(rr.Person(pb),), surfaces=(wall,), multipath=False)
    assert np.all(rr.scene_scatterers(off, 1, cfg).path == sc.PATH_DIRECT)


def test_ghosts_through_a_wall_pay_its_loss_on_every_crossing(cfg):
    T = sc.radar_mount(1.2)
    P = np.array([0.3, 3.5, 1.2])
    ball = rr.StaticReflector.sphere(P, 0.03)
    side = rr.Surface.wall_x(1.5, "metal")
    wall = rr.Surface.wall_y(1.0, "drywall")
    kw = dict(clutter=(ball,), surfaces=(side,), multipath=True, ghost_sources=("clutter",), wall_return=False)
    free = rr.scene_scatterers(rr.RadarScene(T, **kw), 0, cfg)
    walled = rr.scene_scatterers(rr.RadarScene(T, wall=wall, **kw), 0, cfg)
    assert len(free) == len(walled) == 4  # direct, double, 2 x single
    ratio = walled.rcs / free.rcs
    # every path crosses the wall twice (the side wall is behind it): two-way loss at each leg's angle
    for path in (sc.PATH_DIRECT, sc.PATH_DOUBLE, sc.PATH_SINGLE):
        r = ratio[walled.path == path]
        assert np.all((-10 * np.log10(r) > 11.0) & (-10 * np.log10(r) < 14.0))


# ----------------------------------------------------------------------------------------------
# radar pose, static reflectors, determinism, speed
# ----------------------------------------------------------------------------------------------


def test_radar_tilt_moves_returns_as_expected(cfg, body, moving_chain):
    """Tilting the radar 20 degrees down (mmAnomaly) moves the person up by 20 degrees in the radar
    frame; mapped back with T_room_from_radar, the detections stay where the person is."""
    pb = _moving(body, (0.5, 3.0), vel=(0.0, -2.0, 0.0))
    out = {}
    for tilt in (0.0, 20.0):
        T = sc.radar_mount(2.0, tilt)
        (_, prod), = rr.render_radar_frames(rr.RadarScene(T, people=(rr.Person(pb),)), cfg, [1], 3, chain=moving_chain)
        s = prod.extras["scatterers"]
        cen = (s.rcs[:, None] * s.positions).sum(0) / s.rcs.sum()
        pts = prod.points
        best = pts[np.argmax(pts[:, 4]), :3]
        out[tilt] = (math.degrees(math.asin(cen[2] / np.linalg.norm(cen))), best, T[:3, :3] @ best + T[:3, 3],
                     s.positions @ T[:3, :3].T + T[:3, 3])
    # the same body points in the room, whatever the mount
    assert np.allclose(out[0.0][3], out[20.0][3], atol=1e-9)
    assert out[20.0][0] - out[0.0][0] == pytest.approx(20.0, abs=1.0)
    el = [math.degrees(math.asin(out[t][1][2] / np.linalg.norm(out[t][1]))) for t in (0.0, 20.0)]
    assert el[1] - el[0] == pytest.approx(20.0, abs=4.0)
    assert np.linalg.norm(out[20.0][2] - out[0.0][2]) < 0.15
    assert 0.0 < out[20.0][2][2] < 1.8  # on the body


def test_static_reflectors(cfg, static_chain):
    T = sc.radar_mount(1.5)
    board = rr.StaticReflector.whiteboard((0.2, 4.0, 1.4))
    s = rr.scene_scatterers(rr.RadarScene(T, clutter=(board,)), 0, cfg)
    # near field: a mirror at the foot of the perpendicular, sigma = pi d^2 (far below the PO peak)
    assert len(s) == 1 and s.kind[0] == sc.KIND_CLUTTER
    assert np.allclose(s.positions[0], [0.0, 4.0, 0.0])
    assert s.rcs[0] == pytest.approx(math.pi * 16.0)
    # turned 30 degrees away, the board's mirror misses the radar: far-field PO sidelobe only
    turned = rr.StaticReflector.whiteboard((0.2, 4.0, 1.4), facing=(math.sin(math.radians(30)),
                                                                    -math.cos(math.radians(30)), 0.0))
    assert rr.scene_scatterers(rr.RadarScene(T, clutter=(turned,)), 0, cfg).total_rcs() < 1e-2
    # a ladder: rails and rungs (line mirrors); a cabinet occludes what is behind it
    lad = rr.StaticReflector.ladder((-1.0, 5.0, 0.0))
    sl = rr.scene_scatterers(rr.RadarScene(T, clutter=(lad,)), 0, cfg)
    assert len(sl) == 8 and sl.total_rcs() > 0.1
    cab = rr.StaticReflector.cabinet((-1.0, 3.5, 0.0), width=1.0, height=2.0)
    sc2 = rr.scene_scatterers(rr.RadarScene(T, clutter=(lad, cab)), 0, cfg)
    assert np.sum(sc2.source == 0) < len(sl)
    (_, prod), = rr.render_radar_frames(rr.RadarScene(T, clutter=(board,)), cfg, 0, 1, chain=static_chain)
    prof = prod.range_doppler.sum(axis=1)
    dr = float(prod.range_axis[1] - prod.range_axis[0])
    assert abs(prod.range_axis[np.argmax(prof)] - 4.0) <= dr


def test_determinism_per_seed(cfg, body, moving_chain):
    pb = _moving(body, (0.0, 3.0), vel=(0.0, -1.0, 0.0))
    scene = rr.RadarScene(sc.radar_mount(1.2, 20.0), people=(rr.Person(pb, sc.Clothing.outfit()),),
                          surfaces=(rr.Surface.floor(),), multipath=True, fluctuation=sc.Fluctuation())
    a = rr.render_radar_frames(scene, cfg, [0, 1], 11, chain=moving_chain)
    b = rr.render_radar_frames(scene, cfg, [0, 1], 11, chain=moving_chain)
    c = rr.render_radar_frames(scene, cfg, [0, 1], 12, chain=moving_chain)
    for (xa, pa), (xb, pb_) in zip(a, b):
        assert np.array_equal(xa, xb)
        assert np.array_equal(pa.points, pb_.points)
    assert not np.array_equal(a[0][0], c[0][0])
    assert not np.array_equal(a[0][0], a[1][0])


def test_micro_motion_matches_constant_velocity(cfg, body):
    pb = _moving(body, (0.0, 3.0), vel=(0.0, -1.0, 0.0))
    s = rr.scene_scatterers(rr.RadarScene(sc.radar_mount(1.2), people=(rr.Person(pb),)), 1, cfg)
    a = rr.render_scatterers(s, cfg, noise=False)
    b = rr.render_scatterers(s, cfg, noise=False, micro_motion=True)
    corr = abs(np.vdot(a, b)) / (np.linalg.norm(a) * np.linalg.norm(b))
    assert corr > 0.99


def test_frame_time(cfg, body, moving_chain):
    """~2000 scatterers (three dressed people, a reflector) per iwr6843isk frame; the budget is
    0.2 s on a quiet core, the assertion leaves room for a loaded CI machine."""
    people = tuple(rr.Person(_moving(body, xy, vel=(0.0, -1.0, 0.0)), sc.Clothing.outfit(),
                             objects=(sc.CarriedObject("handgun", "chest_left"),))
                   for xy in ((0.5, 3.0), (-1.0, 4.5), (1.2, 5.5)))
    scene = rr.RadarScene(sc.radar_mount(1.5, 20.0), people=people, facets=sc.FacetModel(n_specular=40, n_diffuse=20),
                          clutter=(rr.StaticReflector.ladder((-1.5, 5.0, 0)),))
    rr.render_radar_frames(scene, cfg, [1], 0, chain=moving_chain)  # warm the caches
    t0 = time.perf_counter()
    (_, prod), = rr.render_radar_frames(scene, cfg, [1], 0, chain=moving_chain)
    dt = time.perf_counter() - t0
    n = len(prod.extras["scatterers"])
    print(f"frame: {n} scatterers in {dt * 1e3:.0f} ms")
    assert 1500 <= n <= 3000
    assert dt < 1.0


def test_scene_validation(cfg, body):
    T = sc.radar_mount(1.0)
    with pytest.raises(ValueError):
        rr.RadarScene(T, multipath_paths=("triple",))
    with pytest.raises(ValueError):
        rr.Surface("x", (0, 0, 0), (0, 0, 1))
    with pytest.raises(ValueError, match="frame"):
        rr.scene_scatterers(rr.RadarScene(T, people=(rr.Person(body.rest_pose((0, 3))),)), 5, cfg)
    # scatterers beyond the maximum range or behind the radar are dropped
    far = rr.RadarScene(T, people=(rr.Person(body.rest_pose((0, 30.0))),))
    assert len(rr.scene_scatterers(far, 0, cfg)) == 0
    behind = rr.RadarScene(T, people=(rr.Person(body.rest_pose((0, -3.0))),))
    assert len(rr.scene_scatterers(behind, 0, cfg)) == 0
