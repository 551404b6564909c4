"""Tests of mmsight.sim.scenes: seeded samplers, sensor rigs and calibration, walls, clutter, geometry."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mmsight.sim import scenes
from mmsight.sim.scenes import (
    GAIT_SCENES,
    REHAB_ENVIRONMENTS,
    REHAB_RADAR_POSITIONS,
    WALL_CONFIGS,
    WALL_POSITIONS,
    WEAPON_ENVIRONMENTS,
    ClutterSpec,
    SensorRig,
    sample_scene,
)

ALL = (
    [("weapons", e) for e in WEAPON_ENVIRONMENTS]
    + [("wall", w) for w in WALL_CONFIGS]
    + [("gait", g) for g in GAIT_SCENES]
    + [("rehab", f"{e}/{p}") for e in REHAB_ENVIRONMENTS for p in REHAB_RADAR_POSITIONS]
)


def _rigid(t: np.ndarray) -> bool:
    r = t[:3, :3]
    return np.allclose(r @ r.T, np.eye(3), atol=1e-9) and np.isclose(np.linalg.det(r), 1.0) and np.allclose(t[3], [0, 0, 0, 1])


@pytest.mark.parametrize("family,condition", ALL)
def test_samplers_are_seeded(family: str, condition: str) -> None:
    a = sample_scene(family, condition, 7)
    b = sample_scene(family, condition, 7)
    c = sample_scene(family, condition, 8)
    assert a.to_dict() == b.to_dict()
    assert a.to_dict() != c.to_dict()
    assert _rigid(a.rig.T_room_from_radar) and _rigid(a.rig.T_radar_from_camera)
    assert a.family in (family, "wall")


def test_unknown_conditions_are_refused() -> None:
    with pytest.raises(ValueError, match="valid"):
        sample_scene("weapons", "kitchen", 0)
    with pytest.raises(ValueError, match="valid"):
        sample_scene("wall", "wall-9", 0)
    with pytest.raises(ValueError, match="valid"):
        sample_scene("rehab", "lab/ceiling", 0)
    with pytest.raises(ValueError, match="valid"):
        ClutterSpec("piano", (0.0, 1.0, 0.0))


def test_weapons_radar_is_tilted_20_degrees_down_and_environments_hold_their_clutter() -> None:
    rng = np.random.default_rng(0)
    for env, kinds in zip(WEAPON_ENVIRONMENTS, ({"desk"}, {"desk", "ladder"}, {"desk", "ladder", "whiteboard"})):
        sc = scenes.weapons_scene(env, rng)
        assert {c.kind for c in sc.clutter} == kinds
        boresight = sc.rig.T_room_from_radar[:3, 1]
        assert math.degrees(math.asin(-boresight[2])) == pytest.approx(20.0, abs=1e-9)
        assert sc.labels["environment"] == env
    # the whiteboard is also a multipath mirror
    sc = scenes.weapons_scene("ladder_whiteboard", rng)
    names = [m.name for m in sc.mirrors()]
    assert any(n.startswith("whiteboard") for n in names) and "floor" in names


def test_camera_calibration_matches_the_rig() -> None:
    rig = SensorRig(radar_height=1.3, radar_tilt_deg=20.0, camera_offset=(0.0, 0.0, 0.08), image_size=(96, 128), hfov_deg=69.0)
    T = rig.T_radar_from_camera
    # camera optical axis = radar boresight, camera "down" = radar -z, 8 cm above the antenna
    assert np.allclose(T[:3, 2], [0, 1, 0], atol=1e-12)
    assert np.allclose(T[:3, 1], [0, 0, -1], atol=1e-12)
    assert np.allclose(T[:3, 3], [0, 0, 0.08], atol=1e-12)
    K = rig.K
    assert K[0, 2] == pytest.approx(63.5) and K[1, 2] == pytest.approx(47.5)
    assert 2 * math.degrees(math.atan(64.0 / K[0, 0])) == pytest.approx(69.0)
    # a point on the camera's optical axis projects to the principal point
    cam = rig.camera()
    p = cam.T_room_from_camera @ np.array([0.0, 0.0, 4.0, 1.0])
    uv, z = cam.project(p[None, :3])
    assert np.allclose(uv[0], [K[0, 2], K[1, 2]]) and z[0] == pytest.approx(4.0)
    # an independently placed camera
    far = SensorRig(camera_xy=(2.0, 1.0), camera_height=0.86, camera_yaw_deg=-30.0)
    assert np.allclose(far.T_room_from_camera[:3, 3], [2.0, 1.0, 0.86])


def test_wall_scenes_put_the_positions_behind_a_wall_that_blocks_the_camera() -> None:
    from mmsight.sim.camera import render_labels

    assert len(WALL_CONFIGS) >= 7
    assert {c.material for c in WALL_CONFIGS.values()} == {"curtain", "gator_board", "particle_board", "styrofoam"}
    rng = np.random.default_rng(1)
    for name in WALL_CONFIGS:
        sc = scenes.wall_scene(name, rng, image_size=32)
        assert sc.rig.radar_height == pytest.approx(1.22) and sc.rig.radar_tilt_deg == 0.0
        wall = sc.wall.surface()
        radar = sc.rig.T_room_from_radar[:3, 3]
        for x, y in WALL_POSITIONS:
            target = np.array([x, y, 1.0])
            assert y > sc.wall.distance + 0.5
            t = float(wall.leg_transmission(radar, target, 60.5e9))
            expected = 10 ** (-float(sc.wall.instance().one_way_loss_db(60.5e9, angle=0.0)) / 10)
            assert t < 1.0 and t == pytest.approx(expected, rel=0.3)
        # the camera sees the wall (at its distance) in the centre of the image
        lab = render_labels(sc.rig.camera(), sc.static_geometry())
        assert lab.depth[16, 16] == pytest.approx(sc.wall.distance, abs=0.05)
        assert sc.labels["wall_type"] == name
    reflectors = {n: {c.kind for c in scenes.wall_scene(n, rng).clutter} for n in WALL_CONFIGS}
    assert reflectors["wall-5"] == {"ladder"} and reflectors["wall-7"] == {"ladder", "poster_board"}


def test_gait_and_rehab_rigs() -> None:
    rng = np.random.default_rng(2)
    for name in GAIT_SCENES:
        sc = scenes.gait_scene(name, rng)
        assert sc.rig.radar_height == pytest.approx(0.85)
        assert sc.rig.T_room_from_camera[2, 3] == pytest.approx(0.86)
        assert 0 < sc.labels["max_view_angle"] <= math.radians(60)
    for pos in REHAB_RADAR_POSITIONS:
        sc = scenes.rehab_scene("clinic", pos, rng)
        subject = np.array([*sc.labels["subject_xy"], 1.0, 1.0])
        p = sc.rig.T_radar_from_room @ subject
        heading = sc.labels["subject_heading"]
        face = np.array([math.sin(heading), math.cos(heading)])
        to_radar = np.subtract(sc.rig.radar_xy, sc.labels["subject_xy"])
        if pos == "front":
            # as in MARS: 0.10-0.22 m right of the boresight (radar frame +x), facing along it
            assert scenes.REHAB_FRONT_LATERAL[0] <= p[0] <= scenes.REHAB_FRONT_LATERAL[1]
            assert heading == pytest.approx(math.pi)
        else:
            assert abs(math.atan2(p[0], p[1])) < math.radians(2.0)  # the radar looks at the subject
            assert face @ to_radar / np.linalg.norm(to_radar) == pytest.approx(1.0)


def test_radar_scene_and_clutter_models() -> None:
    from mmsight.radar import RadarConfig
    from mmsight.sim.radar_render import scene_scatterers
    from mmsight.sim.scattering import KIND_CLUTTER

    rng = np.random.default_rng(3)
    sc = scenes.weapons_scene("ladder_whiteboard", rng)
    rs = sc.radar_scene()
    assert len(rs.clutter) == len(sc.clutter) and rs.multipath and len(rs.surfaces) == len(sc.mirrors())
    s = scene_scatterers(rs, 0, RadarConfig.preset("iwr6843isk"), rng)
    assert np.any(s.kind == KIND_CLUTTER)
    # non-metal furniture reflects less than metal of the same shape
    metal = ClutterSpec("desk", (0.0, 3.0, 0.0), material="metal").reflector()
    wood = ClutterSpec("desk", (0.0, 3.0, 0.0)).reflector()
    assert wood.reflectivity < 0.1 and metal.reflectivity == 1.0
    # every clutter kind has a camera model tagged with its material and object id
    for kind in scenes.CLUTTER_KINDS:
        geo = ClutterSpec(kind, (0.5, 3.0, 1.0)).geometry(object_id=210)
        assert len(geo) > 0 and set(geo.object_id.tolist()) == {210}
