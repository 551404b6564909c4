"""Tests of mmsight.sim.tasks: configs, balanced seeded plans, splits, and one tiny sequence per task."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import numpy as np
import pytest

from mmsight.data import SequenceRecord
from mmsight.sim.tasks import TASK_NAMES, get_task, load_config
from mmsight.sim.tasks.common import balanced_cycle, derive_seed, mars_feature_map


def _counts_even(values: list) -> bool:
    c = Counter(values)
    return max(c.values()) - min(c.values()) <= 1


# ---------------------------------------------------------------------------------------------- plans


@pytest.mark.parametrize("task", TASK_NAMES)
def test_plans_are_seeded_unique_and_split_cleanly(task: str) -> None:
    t = get_task(task)
    cfg = t.default_config()
    a = t.sequence_plan(cfg, 40, 3)
    b = t.sequence_plan(cfg, 40, 3)
    c = t.sequence_plan(cfg, 40, 4)
    assert [(s.sequence_id, s.seed, dict(s.labels)) for s in a] == [(s.sequence_id, s.seed, dict(s.labels)) for s in b]
    assert [s.seed for s in a] != [s.seed for s in c]
    assert len({s.sequence_id for s in a}) == len(a) == 40
    assert len({s.seed for s in a}) == 40
    sp = t.splits(a)
    ids = [i for v in sp.values() for i in v]
    assert sorted(ids) == sorted(s.sequence_id for s in a)  # every sequence in exactly one split
    assert set(sp) <= {"train", "validate", "test"} and "train" in sp
    assert t.default_sequences >= 200


def test_derived_seeds_do_not_depend_on_anything_but_seed_and_index() -> None:
    assert derive_seed(5, 3) == derive_seed(5, 3)
    assert len({derive_seed(s, i) for s in range(5) for i in range(50)}) == 250
    g = np.random.default_rng(0)
    out = balanced_cycle(["a", "b", "c"], 8, g)
    assert len(out) == 8 and _counts_even(out)


def test_weapons_plan_is_balanced() -> None:
    t = get_task("weapons")
    cfg = t.default_config()
    plan = t.sequence_plan(cfg, 120, 0)
    normal = [s for s in plan if s.labels["region"] == 0]
    anom = [s for s in plan if s.labels["region"] > 0]
    assert len(normal) == 60
    assert _counts_even([(s.labels["object"], s.labels["region_name"]) for s in anom])
    assert len({(s.labels["object"], s.labels["region_name"]) for s in anom}) == 24
    for group in (normal, anom):
        assert _counts_even([(s.labels["clothing"], s.labels["environment"]) for s in group])
    assert _counts_even([s.labels["subject"] for s in plan])
    assert {s.labels["region"] for s in anom} == set(range(1, 9))
    # the anomaly classes are split alike
    sp = t.splits(plan)
    test = {i for i in sp["test"]}
    assert any(s.sequence_id in test for s in normal) and any(s.sequence_id in test for s in anom)


def test_wall_fall_gait_rehab_plans_cover_their_conditions() -> None:
    wall = get_task("wall").sequence_plan(get_task("wall").default_config(), 84, 0)
    assert Counter(s.labels["position"] for s in wall)[0] == 12
    assert _counts_even([(s.labels["position"], s.labels["pose"]) for s in wall if s.labels["position"] > 0])
    assert len({s.labels["wall_type"] for s in wall}) == 7

    fall = get_task("fall").sequence_plan(get_task("fall").default_config(), 35, 0)
    assert _counts_even([s.labels["activity"] for s in fall])
    assert sum(s.labels["fall"] for s in fall) == 14

    gt = get_task("gait")
    plan = gt.sequence_plan(gt.default_config(), 240, 0)
    assert Counter(s.labels["modality"] for s in plan) == {"radar": 120, "camera": 120}
    assert len({s.labels["identity"] for s in plan}) == 60
    by_walk: dict = {}
    for s in plan:
        by_walk.setdefault((s.labels["identity"], s.labels["walk"]), {})[s.labels["modality"]] = s.labels["scene"]
    assert all(v["radar"] != v["camera"] for v in by_walk.values())  # never the same walk nor scene
    multi = [s for s in plan if s.labels["n_people"] == 2]
    assert len(multi) == 12 and all(s.labels["modality"] == "radar" for s in multi)
    assert all(s.labels["identity_2"] != s.labels["identity"] for s in multi)

    rt = get_task("rehab")
    cfg = rt.default_config()
    plan = rt.sequence_plan(cfg, 400, 0)
    assert len({(s.labels["subject"], s.labels["movement"], s.labels["radar_position"], s.labels["environment"])
                for s in plan}) == 400
    first = plan[:40]
    for key in ("subject", "movement", "radar_position", "environment"):
        assert _counts_even([s.labels[key] for s in first])


def test_load_config_overrides_and_refuses_unknown_keys(tmp_path) -> None:
    cfg = load_config("weapons", {"n_frames": 7, "objects": ["knife"]})
    assert cfg.n_frames == 7 and cfg.objects == ("knife",)
    y = tmp_path / "c.yaml"
    y.write_text("wall:\n  n_frames: 9\n  fps: 4.0\n")
    cfg = load_config("wall", y, tiny=True)
    assert cfg.n_frames == 9 and cfg.fps == 4.0 and cfg.image_size == get_task("wall").default_config(True).image_size
    with pytest.raises(ValueError, match="unknown Config key"):
        load_config("weapons", {"n_frame": 7})
    with pytest.raises(ValueError, match="unknown task"):
        get_task("juggling")
    assert get_task("gait").default_config().radar_config().frame_rate == 10.0
    assert get_task("weapons").default_config().radar_config().frame_rate == 15.0


def test_mars_feature_map() -> None:
    pts = np.zeros((70, 5), np.float32)
    pts[:, 1] = np.arange(70) * 0.01 + 1.0
    pts[:, 4] = np.arange(70)
    offs = np.array([0, 3, 3, 70])
    fm = mars_feature_map(pts, offs)
    assert fm.shape == (3, 8, 8, 5) and fm.dtype == np.float32
    assert np.array_equal(fm[0].reshape(64, 5)[:3], pts[:3]) and not fm[0].reshape(64, 5)[3:].any()
    assert not fm[1].any()
    kept = fm[2].reshape(64, 5)
    assert set(kept[:, 4].tolist()) == set(range(6, 70))  # the 64 strongest of 67 points


# ---------------------------------------------------------------------------------------------- sequences


def _make(task: str, index: int = 0, n: int = 12, **over: object) -> tuple[object, SequenceRecord]:
    t = get_task(task)
    cfg = replace(t.default_config(tiny=True), image_size=32, **over)
    plan = t.sequence_plan(cfg, n, 1)
    return plan, t.make_sequence(plan[index])


def _first(plan: list, pred) -> int:  # type: ignore[no-untyped-def]
    return next(i for i, s in enumerate(plan) if pred(s.labels))


def test_weapons_sequence() -> None:
    t = get_task("weapons")
    cfg = replace(t.default_config(tiny=True), image_size=32, n_frames=3)
    plan = t.sequence_plan(cfg, 12, 1)
    spec = plan[_first(plan, lambda l: l["region"] > 0)]
    rec = t.make_sequence(spec)
    F = 3
    assert rec.n_frames == F and rec.sequence_id == spec.sequence_id
    assert rec.rgb.shape == (F, 32, 32, 3) and rec.depth.shape == (F, 32, 32)
    assert rec.range_azimuth.data.shape[0] == F and rec.range_azimuth.unit == "linear"
    assert rec.range_azimuth.range_m[-1] <= cfg.ra_max_range
    assert rec.skeleton.shape == (F, 25, 3) and rec.joint_names[0] == "SpineBase"
    assert np.allclose(rec.timestamps, np.arange(F) / 15.0)
    lab = rec.sequence_labels
    assert lab["region"] == spec.labels["region"] > 0 and lab["object"] == spec.labels["object"]
    assert lab["clothing"] in ("cloth-1", "cloth-2", "cloth-3") and lab["anomalous"] is True
    assert np.isfinite(rec.frame_labels["object_xyz"]).all()
    # the object sits on the body: within 45 cm of the skeleton's nearest joint
    d = np.linalg.norm(rec.skeleton - rec.frame_labels["object_xyz"][:, None, :], axis=2).min(axis=1)
    assert (d < 0.45).all()
    cal = rec.calibration
    assert cal["K"].shape == (3, 3) and cal["T_radar_from_camera"].shape == (4, 4)
    assert cal["radar_config"]["frame_rate"] == 15.0 and cal["range_azimuth_clutter_removal"] is False
    # the same spec renders identically
    again = t.make_sequence(spec)
    assert np.array_equal(again.rgb, rec.rgb) and np.array_equal(again.range_azimuth.data, rec.range_azimuth.data)
    assert np.array_equal(again.points, rec.points)


def test_wall_sequences_blank_and_occupied() -> None:
    t = get_task("wall")
    cfg = replace(t.default_config(tiny=True), image_size=32, n_frames=2)
    plan = t.sequence_plan(cfg, 14, 1)
    blank = t.make_sequence(plan[_first(plan, lambda l: l["position"] == 0)])
    assert blank.sequence_labels["position"] == 0 and blank.sequence_labels["pose"] == "none"
    assert np.isnan(blank.skeleton).all() and blank.sequence_labels["position_x"] is None
    spec = plan[_first(plan, lambda l: l["position"] > 0)]
    occ = t.make_sequence(spec)
    from mmsight.sim.scenes import WALL_POSITIONS

    x, y = WALL_POSITIONS[spec.labels["position"] - 1]
    assert occ.sequence_labels["position_x"] == pytest.approx(x, abs=0.15)
    assert occ.sequence_labels["position_y"] == pytest.approx(y, abs=0.2)
    assert occ.sequence_labels["wall_type"] == spec.labels["wall_type"]
    assert np.isfinite(occ.skeleton).all() and occ.frame_labels["body_rcs"].min() > 0
    assert np.allclose(np.diff(occ.timestamps), 0.5)
    # the camera sees the wall, not the person
    assert occ.frame_labels["person_pixels"].max() == 0


def test_fall_sequence_labels() -> None:
    t = get_task("fall")
    cfg = replace(t.default_config(tiny=True), image_size=32, n_frames=6, onset_range=(0.1, 0.2))
    plan = t.sequence_plan(cfg, 10, 1)
    spec = plan[_first(plan, lambda l: l["activity"] == "fall_lying")]
    rec = t.make_sequence(spec)
    lab = rec.sequence_labels
    assert lab["fall"] is True and 0.0 < lab["fall_onset_s"] < lab["fall_impact_s"]
    fallen = rec.frame_labels["falling_or_fallen"]
    assert not fallen[0] and fallen[-1]
    assert np.array_equal(fallen, rec.timestamps >= lab["fall_onset_s"])
    assert 1 <= lab["fall_position"] <= 6 and lab["fall_y"] > 1.0
    assert rec.frame_labels["activity"][0] == "standing"


def test_gait_radar_and_camera_walks() -> None:
    t = get_task("gait")
    cfg = replace(t.default_config(tiny=True), image_size=32, n_frames=3, camera_frames=4)
    plan = t.sequence_plan(cfg, 6, 1)
    radar = t.make_sequence(plan[_first(plan, lambda l: l["n_people"] == 2)])
    assert radar.rgb is None and radar.range_azimuth is not None and radar.n_frames == 3
    assert radar.skeleton.shape == (3, 32, 3) and radar.sequence_labels["n_people"] == 2
    assert np.isfinite(radar.frame_labels["skeleton_2"]).all()
    assert np.allclose(np.diff(radar.timestamps), 0.1)
    cam = t.make_sequence(plan[_first(plan, lambda l: l["modality"] == "camera")])
    assert cam.range_azimuth is None and cam.points is None and cam.rgb.shape == (4, 32, 32, 3)
    assert np.allclose(np.diff(cam.timestamps), 1 / 15.0)
    assert cam.calibration["K"].shape == (3, 3) and cam.sequence_labels["modality"] == "camera"


def test_rehab_sequence() -> None:
    plan, rec = _make("rehab", 0, 4, n_frames=3)
    assert rec.n_frames == 3 and rec.skeleton.shape == (3, 25, 3)
    fm = rec.frame_labels["mars_feature_map"]
    assert fm.shape == (3, 8, 8, 5)
    for f in range(3):
        n = min(len(rec.frame_points(f)), 64)
        assert np.count_nonzero(np.abs(fm[f].reshape(64, 5)).sum(axis=1)) <= n
    assert 1 <= rec.sequence_labels["movement"] <= 10
    assert rec.calibration["radar_config"]["name"] == "iwr1443boost"


def test_frame_rates_above_25_fps_render() -> None:
    """The +-20 ms velocity instants of neighbouring frames interleave above 25 fps (RadHAR runs at 30)."""
    from mmsight.sim.tasks import get_task, load_config

    task = get_task("rehab")
    cfg = load_config("rehab", {"fps": 30.0, "n_frames": 3}, tiny=True)
    spec = task.sequence_plan(cfg, 1, seed=0)[0]
    record = task.make_sequence(spec)
    assert record.n_frames == 3
    np.testing.assert_allclose(np.diff(record.timestamps), 1 / 30.0, rtol=1e-6)
