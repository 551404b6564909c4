"""Acceptance tests of the simulator on real task scenes (tiny configs): the camera and the radar agree on
where surfaces are, the camera sees neither a concealed object nor a person behind a wall (while the
radar does), and the rehab task (with its postural-sway randomness) is a pure function of its seed.

Covered elsewhere and not repeated here: scattering and radar-map acceptance on toy geometry
(``test_scattering.py``, ``test_radar_render.py``), camera optics (``test_camera.py``), one tiny sequence
per task (``test_tasks.py``), identical datasets for the same seed across workers and after a resume
(``test_runner.py``).
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from mmsight.sim.tasks import get_task

# ---------------------------------------------------------------------------------------------- helpers


def _first(plan, pred):
    return next(s for s in plan if pred(s.labels))


def _camera_points_radar(rec, f: int) -> np.ndarray:
    """Valid depth pixels of frame ``f`` backprojected with the stored ``K`` and moved to the radar frame
    with the stored ``T_radar_from_camera``: ``[N, 3]``."""
    K = rec.calibration["K"]
    T = rec.calibration["T_radar_from_camera"]
    z = rec.depth[f].astype(np.float64)
    v, u = np.nonzero(z > 0)
    zz = z[v, u]
    pc = np.stack([(u - K[0, 2]) / K[0, 0] * zz, (v - K[1, 2]) / K[1, 1] * zz, zz], axis=1)
    return pc @ T[:3, :3].T + T[:3, 3]


def _standing_weapons_person(obj: str | None, region: str = "chest_left"):
    """The weapons task's ``plain`` scene with subject 0 standing 3 m in front of the sensors, facing them,
    dressed in a fleece and denim, optionally carrying ``obj`` at ``region``."""
    from mmsight.sim.motion import stand
    from mmsight.sim.scattering import CarriedObject, Clothing
    from mmsight.sim.scenes import weapons_scene
    from mmsight.sim.tasks.common import PersonTrack, make_subject

    t = get_task("weapons")
    cfg = replace(t.default_config(tiny=True), image_size=64, n_frames=1, camera_noise=True)
    scene = weapons_scene("plain", np.random.default_rng(2), image_size=cfg.image_size)
    subject = make_subject(0, 0)
    clip = stand(subject.body, 1.0, fps=30.0, position=(0.0, 3.0), heading=math.pi, rng=np.random.default_rng(3))
    clothing = Clothing.outfit("fleece", "denim", None, rng=np.random.default_rng(4))
    objects = () if obj is None else (CarriedObject(obj, region),)
    return cfg, scene, PersonTrack(clip, clothing, objects, subject.skin, look_seed=7)


# ---------------------------------------------------------------------------------------------- range


def test_camera_depth_and_radar_range_of_a_wall_agree() -> None:
    """Through-wall scene, nobody behind the wall: the camera's depth of the wall, backprojected to the
    radar frame with the stored calibration, and the radar's range of the wall agree. The radar's wall
    return is the slab's mid-plane (half a thickness behind the face the camera sees); the peak of the
    range-azimuth map (no clutter removal, summed over azimuth) is the wall's own mirror return."""
    t = get_task("wall")
    cfg = replace(t.default_config(tiny=True), image_size=32, n_frames=1)
    plan = t.sequence_plan(cfg, 70, 5)
    from mmsight.sim.scenes import WALL_CONFIGS

    for wall_type in ("wall-2", "wall-4"):  # particle board and curtain: the most and the least reflective
        assert not WALL_CONFIGS[wall_type].reflectors  # no ladder / poster board in front
        spec = _first(plan, lambda lab: lab["position"] == 0 and lab["wall_type"] == wall_type)
        rec = t.make_sequence(spec)
        wall = rec.calibration["scene"]["wall"]
        pts = _camera_points_radar(rec, 0)
        assert len(pts) > 0.9 * cfg.image_size**2  # the camera sees nothing but the wall
        # the sensors face the wall squarely: its face is the plane y = const in the radar frame
        face = float(np.median(pts[:, 1]))
        assert face == pytest.approx(wall["distance"], abs=0.02)  # depth noise at 1 m is a few mm
        assert float(np.linalg.norm(pts, axis=1).min()) == pytest.approx(face, abs=0.02)
        ra = rec.range_azimuth
        r = ra.range_m
        bin_m = float(r[1] - r[0])
        peak = float(r[int(np.argmax(ra.data[0].sum(axis=1)))])
        assert abs(peak - (face + 0.5 * wall["thickness"])) <= bin_m, (wall_type, peak, face)
        assert abs(peak - face) <= 2 * bin_m


def test_camera_depth_and_radar_range_of_a_person_agree() -> None:
    """Weapons scenes, a person walking towards the tilted radar: the radar sees the front surface of the
    body. The leading edge of the person's return in the clutter-removed range-Doppler map (the first
    range bin within 10 dB of the person's peak) is within two range bins of the nearest body surface
    the camera sees (2nd percentile of the range of the depth pixels on the person, backprojected to
    the radar frame with the stored calibration), and the radar's strongest cell lies within the range
    span of the visible body surface."""
    t = get_task("weapons")
    cfg = replace(t.default_config(tiny=True), image_size=64, n_frames=3)
    plan = t.sequence_plan(cfg, 12, 1)
    n_checked = 0
    for spec in plan[:2]:
        rec = t.make_sequence(spec)
        rd = rec.range_doppler
        r = rd.range_m
        bin_m = float(r[1] - r[0])
        for f in range(rec.n_frames):
            pts = _camera_points_radar(rec, f)
            near_body = np.linalg.norm(pts[:, None] - rec.skeleton[f][None], axis=2).min(axis=1) < 0.2
            rng_cam = np.linalg.norm(pts[near_body], axis=1)
            assert len(rng_cam) > 30
            pelvis = float(np.linalg.norm(rec.frame_labels["person_xyz"][f]))
            profile = rd.data[f].sum(axis=1)
            window = np.abs(r - pelvis) < 1.0
            peak_val = profile[window].max()
            lead = float(r[np.flatnonzero(window & (profile >= 0.1 * peak_val))[0]])
            peak = float(r[np.flatnonzero(window & (profile == peak_val))[0]])
            front = float(np.percentile(rng_cam, 2))
            assert abs(lead - front) <= 2 * bin_m, (spec.sequence_id, f, lead, front)
            assert front - bin_m <= peak <= float(rng_cam.max()) + bin_m
            n_checked += 1
    assert n_checked == 6


# ---------------------------------------------------------------------------------------------- occlusion


def test_camera_does_not_see_a_concealed_object() -> None:
    """A handgun under a fleece: the radar gets its return, the camera shows clothing. With the same seed,
    RGB and depth with and without the object are identical, and the pixel where the object's centre
    projects shows the person's garment (instance mask = the person, material = the fleece) at the body's
    depth, a few cm from the object."""
    from mmsight.sim.camera import render_labels
    from mmsight.sim.geometry import SceneGeometry
    from mmsight.sim.objects import attach
    from mmsight.sim.skeleton import JOINT_NAMES
    from mmsight.sim.tasks.common import camera_materials, render_sequence

    cfg, scene, with_obj = _standing_weapons_person("handgun")
    _, _, without = _standing_weapons_person(None)
    a = render_sequence(cfg, scene, [with_obj], np.random.default_rng(9), radar=False)
    b = render_sequence(cfg, scene, [without], np.random.default_rng(9), radar=False)
    assert a.person_pixels[0, 0] > 50  # the person is in view
    assert np.array_equal(a.rgb, b.rgb) and np.array_equal(a.depth, b.depth)
    assert np.array_equal(a.person_pixels, b.person_pixels)
    # the radar does see the object
    ra = render_sequence(cfg, scene, [with_obj], np.random.default_rng(9), camera=False)
    assert ra.object_rcs[0] > 0
    # the object's pixel shows the garment over it
    c = with_obj.objects[0]
    centre = attach(c.obj, c.region, a.joints_room[0], JOINT_NAMES)[0, :3, 3]
    camera = scene.rig.with_image_size(cfg.image_size).camera()
    uv, z_obj = camera.project(centre[None])
    u, v = (int(round(x)) for x in uv[0])
    assert 0 <= u < cfg.image_size and 0 <= v < cfg.image_size
    posed = with_obj.clip.resample(a.times[:1]).pose()
    mats = camera_materials(with_obj.clothing)
    geo = scene.static_geometry().extend(SceneGeometry().add_body(posed.segments, 0, object_id=0, material=mats))
    lab = render_labels(camera, geo)
    assert lab.object_id[v, u] == 0
    assert geo.materials[lab.material[v, u]] == "fleece"
    assert abs(float(lab.depth[v, u]) - float(z_obj[0])) < 0.08
    assert abs(float(a.depth[0, v, u]) - float(lab.depth[v, u])) < 0.15  # D435-like noise: ~3 cm rms at 2.8 m


def test_camera_sees_nothing_behind_a_wall() -> None:
    """A person standing behind a particle-board wall: the radar gets the body's return (after the wall's
    loss), the camera sees only the wall. With the same seed, RGB and depth equal the blank scene's and
    no pixel shows the person; without the wall the same camera sees them."""
    from mmsight.sim.motion import stand
    from mmsight.sim.scattering import Clothing
    from mmsight.sim.scenes import WALL_POSITIONS, wall_scene
    from mmsight.sim.tasks.common import PersonTrack, make_subject, render_sequence

    t = get_task("wall")
    cfg = replace(t.default_config(tiny=True), image_size=48, n_frames=1)
    scene = wall_scene("wall-2", np.random.default_rng(1), image_size=cfg.image_size)
    subject = make_subject(0, 1)
    clip = stand(subject.body, 1.0, fps=30.0, position=WALL_POSITIONS[1], heading=math.pi,
                 rng=np.random.default_rng(2))
    person = PersonTrack(clip, Clothing.outfit("cotton_tshirt", "denim", None, rng=np.random.default_rng(3)), (),
                         subject.skin, look_seed=5)
    occ = render_sequence(cfg, scene, [person], np.random.default_rng(8), radar=False)
    blank = render_sequence(cfg, scene, [], np.random.default_rng(8), radar=False)
    assert occ.person_pixels.max() == 0
    assert np.array_equal(occ.rgb, blank.rgb) and np.array_equal(occ.depth, blank.depth)
    no_wall = render_sequence(cfg, replace(scene, wall=None), [person], np.random.default_rng(8), radar=False)
    assert no_wall.person_pixels[0, 0] > 50
    radar = render_sequence(cfg, scene, [person], np.random.default_rng(8), camera=False)
    assert radar.body_rcs[0] > 1e-3  # m^2: through particle board, still well above zero


# ---------------------------------------------------------------------------------------------- determinism


def test_rehab_sequence_is_a_function_of_its_seed() -> None:
    """The rehab task draws postural sway from its own seeded generator: the same spec renders the same
    points, skeleton and images; another seed differs (weapons is covered in test_tasks / test_runner)."""
    t = get_task("rehab")
    cfg = replace(t.default_config(tiny=True), image_size=24, n_frames=3)
    plan = t.sequence_plan(cfg, 4, 0)
    a, b = t.make_sequence(plan[0]), t.make_sequence(plan[0])
    assert np.array_equal(a.points, b.points) and np.array_equal(a.point_offsets, b.point_offsets)
    assert np.array_equal(a.skeleton, b.skeleton) and np.array_equal(a.rgb, b.rgb)
    other = t.make_sequence(replace(plan[0], seed=plan[0].seed + 1))
    assert not np.array_equal(a.skeleton, other.skeleton)
