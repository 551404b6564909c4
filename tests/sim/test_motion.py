"""Motion models: walking (speed, cadence, feet, identity), routes, postures and falls, MARS rehab."""

from __future__ import annotations

import numpy as np
import pytest

from mmsight.sim.body import BodyShape
from mmsight.sim.motion import MotionClip, concatenate, min_jerk
from mmsight.sim.motion.gait import GaitIdentity, GaitParams, foot_slip, gait_features, walk
from mmsight.sim.motion.postures import FALL_DIRECTIONS, fall, lying, sit, sit_to_stand, stand, stand_to_sit
from mmsight.sim.motion.rehab import MARS_MOVEMENTS, RehabStyle, rehab_movement
from mmsight.sim.motion.routes import Room, Route, route_at_view_angle, sample_route
from mmsight.sim.skeleton import JOINT_INDEX, JOINT_PARENTS, N_JOINTS

J = JOINT_INDEX
BODY = BodyShape.from_anthropometry(1.75, 70.0)


def _bone_lengths(clip: MotionClip) -> np.ndarray:
    child = np.arange(1, N_JOINTS)
    return np.linalg.norm(clip.joints[:, child] - clip.joints[:, JOINT_PARENTS[child]], axis=-1)


@pytest.fixture(scope="module")
def walk_13() -> tuple[GaitParams, MotionClip]:
    p = GaitParams(speed=1.3)
    _, cycle, _ = p.cycle(BODY)
    return p, walk(BODY, p, duration=3 * cycle, fps=30.0, rng=11)


# ------------------------------------------------------------------------------------ walking


def test_boulic_cycle_relations() -> None:
    p = GaitParams(speed=1.2)
    body = BodyShape.from_anthropometry(1.75, 70.0)
    length, duration, cadence = p.cycle(body)
    rv = 1.2 / body.leg_length
    assert length == pytest.approx(1.346 * np.sqrt(rv) * body.leg_length)
    assert duration == pytest.approx(length / 1.2)
    assert cadence == pytest.approx(120.0 / duration)
    assert 95 < cadence < 115  # ~105 steps/min at 1.2 m/s for H = 1.75 m (reference table)
    assert 0.58 < p.duty_factor(body) < 0.65
    with pytest.raises(ValueError):
        GaitParams(speed=4.0).cycle(body)


def test_walk_speed_cadence_and_stride(walk_13: tuple[GaitParams, MotionClip]) -> None:
    p, clip = walk_13
    length, duration, cadence = p.cycle(BODY)
    speed = np.linalg.norm(clip.root_position[-1, :2] - clip.root_position[0, :2]) / clip.duration
    assert speed == pytest.approx(1.3, rel=0.05)
    f = gait_features(clip)
    assert f["cadence"] == pytest.approx(cadence, rel=0.03)
    # speed = stride (cycle) length x cadence / 2 (cadence in steps, two steps per stride)
    assert f["speed"] == pytest.approx(f["stride_length"] * f["cadence"] / 120.0, rel=1e-9)
    assert f["stride_length"] == pytest.approx(length, rel=0.05)
    assert clip.meta["cadence"] == pytest.approx(cadence)
    assert set(clip.activity) == {"walking"}


def test_walk_bones_rigid_and_feet_planted(walk_13: tuple[GaitParams, MotionClip]) -> None:
    _, clip = walk_13
    lengths = _bone_lengths(clip)
    np.testing.assert_allclose(lengths, lengths[:1].repeat(clip.n_frames, 0), atol=1e-9)
    soles = clip.joints[:, BODY.foot_contact_points()].reshape(clip.n_frames, 2, 3, 3)
    lowest = soles[..., 2].min(axis=2)  # [T, foot]
    loaded = clip.meta["support"] > 0.05
    assert loaded.any(axis=1).all()  # always at least one supporting foot
    assert lowest[loaded].max() < 0.02  # supporting feet are on the floor
    assert lowest.min() > -0.01  # and nothing sinks into it
    slip = foot_slip(clip)
    assert slip["distance_per_metre"] < 0.03  # < 3 cm of sliding per metre walked
    assert slip["mean_speed"] < 0.05


@pytest.fixture(scope="module")
def walks_120() -> list[MotionClip]:
    """Four random people with random gait identities, four cycles each at 120 fps."""
    rng = np.random.default_rng(21)
    clips = []
    for _ in range(4):
        body = BodyShape.from_anthropometry(float(rng.uniform(1.55, 1.9)), float(rng.uniform(55, 90)), rng=rng)
        params = GaitIdentity.sample(rng).realize(rng)
        _, cycle, _ = params.cycle(body)
        clips.append(walk(body, params, duration=4 * cycle, fps=120.0, rng=rng))
    return clips


def test_walk_pelvis_speed_oscillates_moderately(walks_120: list[MotionClip]) -> None:
    # real walking: the pelvis' forward speed varies by ~+-10-20 % of the mean, twice per stride
    for clip in walks_120:
        for step in (4, 1):  # sampled at 30 fps and at 120 fps
            r, t = clip.root_position[::step], clip.times[::step]
            speed = np.linalg.norm(np.diff(r[:, :2], axis=0), axis=1) / np.diff(t)
            mean = speed.mean()
            assert 0.75 * mean < speed.min() and speed.max() < 1.25 * mean
            assert speed.max() - speed.min() > 0.1 * mean  # it does oscillate
        # twice per cycle (the second stride harmonic dominates), slowest in mid single support
        phase = clip.meta["phase"]
        mid = 0.5 * (phase[1:] + phase[:-1])
        cols = [np.ones_like(mid)]
        for k in range(1, 5):
            cols += [np.cos(2 * np.pi * k * mid), np.sin(2 * np.pi * k * mid)]
        coef = np.linalg.lstsq(np.stack(cols, axis=1), speed, rcond=None)[0]
        amp = np.hypot(coef[1::2], coef[2::2])  # k = 1..4
        assert amp[1] > 3 * max(amp[0], amp[2], amp[3])
        slowest = np.mod(np.arctan2(-coef[4], -coef[3]) / (4 * np.pi), 0.5)  # minimum of the k = 2 term
        d = np.mod(slowest - clip.meta["duty_factor"] / 2 + 0.25, 0.5) - 0.25
        assert abs(d) < 0.05


def test_walk_pelvis_is_smooth(walks_120: list[MotionClip]) -> None:
    for clip in walks_120:
        for step in (1, 4):  # 120 fps and 30 fps
            r, dt = clip.root_position[::step], step / 120.0
            v = np.diff(r, axis=0) / dt
            acc = np.linalg.norm(np.diff(v, axis=0), axis=1) / dt
            assert acc.max() < 5.0  # m/s^2, no jumps between frames
        # the legs absorbed the smoothing: feet still planted, knees within their range
        slip = foot_slip(clip)
        assert slip["distance_per_metre"] < 0.03 and slip["min_height"] > -0.01 and slip["max_height"] < 0.025
        knees = clip.angles[:, [J["knee_left"], J["knee_right"]], 0]
        assert knees.min() >= 0.0 and np.degrees(knees.max()) < 75.0


def test_walk_is_deterministic_per_seed() -> None:
    p = GaitParams(speed=1.1)
    a = walk(BODY, p, duration=1.5, fps=15.0, rng=3)
    b = walk(BODY, p, duration=1.5, fps=15.0, rng=3)
    c = walk(BODY, p, duration=1.5, fps=15.0, rng=4)
    np.testing.assert_array_equal(a.joints, b.joints)
    assert not np.allclose(a.joints, c.joints)
    ia = GaitIdentity.sample(7)
    assert ia == GaitIdentity.sample(7) and ia.realize(1) == ia.realize(1)


def test_identities_are_separable_but_not_identical() -> None:
    rng = np.random.default_rng(7)
    keys = ("speed", "cadence", "stride_length", "arm_swing", "sway", "lean")
    feats, ids = [], []
    for i in range(3):
        body = BodyShape.from_anthropometry(float(rng.uniform(1.6, 1.9)), float(rng.uniform(55, 90)), rng=rng)
        ident = GaitIdentity.sample(rng)
        for _ in range(2):
            f = gait_features(walk(body, ident, duration=3.0, fps=15.0, rng=rng))
            feats.append([f[k] for k in keys])
            ids.append(i)
    x = np.array(feats)
    z = (x - x.mean(0)) / x.std(0)
    d = np.linalg.norm(z[:, None] - z[None], axis=-1)
    ids_a = np.array(ids)
    same = (ids_a[:, None] == ids_a[None]) & ~np.eye(len(ids), dtype=bool)
    diff = ids_a[:, None] != ids_a[None]
    assert d[same].mean() < 0.6 * d[diff].mean()
    assert d[same].min() > 0.0  # two walks of one person are not copies


def test_walk_along_route() -> None:
    route = route_at_view_angle(np.radians(40), center=(0.5, 4.0), length=3.0, towards_radar=True)
    clip = walk(BODY, GaitParams(speed=1.2), route, fps=15.0, rng=2)
    start = clip.root_position[0, :2]
    end = clip.root_position[-1, :2]
    assert np.linalg.norm(start - np.array(route.start)) < 1e-9
    assert np.linalg.norm(end - np.array(route.end)) < 0.15
    assert clip.duration == pytest.approx(3.0 / 1.2, abs=0.05)
    assert abs(np.angle(np.exp(1j * (clip.heading[0] - route.heading)))) < np.radians(3)


# ------------------------------------------------------------------------------------ routes


@pytest.mark.parametrize("angle_deg", [0.0, 30.0, 60.0])
def test_route_view_angle(angle_deg: float) -> None:
    r = route_at_view_angle(np.radians(angle_deg), center=(1.0, 4.0), length=4.0, towards_radar=False, side=-1)
    assert r.view_angle() == pytest.approx(np.radians(angle_deg), abs=1e-9)
    assert r.length == pytest.approx(4.0)
    assert not r.towards_radar()
    assert route_at_view_angle(np.radians(angle_deg), center=(1.0, 4.0)).towards_radar()


def test_sample_route_stays_in_room() -> None:
    room = Room(x_range=(-2.0, 2.0), y_range=(1.0, 6.0))
    rng = np.random.default_rng(0)
    for _ in range(20):
        r = sample_route(rng, room, view_angle_range=(0.0, np.radians(60)))
        assert isinstance(r, Route) and room.contains(r.start) and room.contains(r.end)
        assert r.view_angle(room.radar_xy) <= np.radians(60) + 1e-9
    with pytest.raises(ValueError):
        sample_route(0, Room(x_range=(0.0, 1.0), y_range=(1.0, 2.0)), length_range=(5.0, 6.0), max_tries=20)


# ------------------------------------------------------------------------------------ postures


def test_stand_and_sit_keep_feet_planted() -> None:
    st = stand(BODY, 2.0, fps=15.0, rng=0)
    soles = st.joints[:, BODY.foot_contact_points()]
    np.testing.assert_allclose(soles[..., 2], 0.0, atol=2e-3)
    assert np.ptp(soles[..., :2], axis=0).max() < 1e-6
    s = sit(BODY, 1.0, chair_height=0.46, fps=15.0, rng=0)
    assert s.root_position[0, 2] == pytest.approx(0.46 + 0.055 * BODY.height)
    assert s.meta["chair"]["seat_center"][2] == pytest.approx(0.46)


def test_stand_to_sit_and_back() -> None:
    c = stand_to_sit(BODY, chair_height=0.45, duration=2.0, fps=20.0, rng=1)
    feet = c.joints[:, BODY.foot_contact_points()]
    assert np.abs(feet - feet[:1]).max() < 1e-6  # feet do not move
    assert c.root_position[0, 2] > 0.85 and c.root_position[-1, 2] == pytest.approx(0.45 + 0.055 * BODY.height)
    assert list(dict.fromkeys(c.activity)) == ["standing", "sitting_down", "sitting"]
    # the trunk leans forwards during the transition
    lean = c.joints[:, J["spine_shoulder"], 1] - c.joints[:, J["pelvis"], 1]
    assert (-lean).max() > 0.1  # heading pi: forwards is -y
    back = sit_to_stand(BODY, chair_height=0.45, duration=2.0, fps=20.0, rng=1)
    np.testing.assert_allclose(back.joints, c.joints[::-1], atol=1e-12)
    assert list(dict.fromkeys(back.activity)) == ["sitting", "standing_up", "standing"]


@pytest.mark.parametrize("direction", FALL_DIRECTIONS)
def test_fall_to_lying(direction: str) -> None:
    c = fall(BODY, end="lying", direction=direction, fps=30.0, rng=3)
    m = c.meta
    assert 0.5 <= m["fall_duration"] <= 1.5
    assert m["fall_impact"] - m["fall_onset"] == pytest.approx(m["fall_duration"])
    assert c.root_position[-1, 2] < 0.3  # pelvis near the floor
    assert c.joints[-1, J["head"], 2] < 0.35
    assert c.root_position[0, 2] > 0.85
    assert c.segments.lowest_z().min() > -1e-6  # nothing below the floor
    assert 1.0 < m["peak_pelvis_speed"] < 5.0
    assert list(dict.fromkeys(c.activity)) == ["standing", "falling", "lying"]
    np.testing.assert_allclose(_bone_lengths(c), _bone_lengths(c)[:1].repeat(c.n_frames, 0), atol=1e-9)
    # after the impact the body comes to rest
    late = c.times > m["fall_impact"] + 0.6
    assert np.abs(np.diff(c.root_position[late], axis=0)).max() < 0.01


def test_fall_to_sitting_and_durations() -> None:
    c = fall(BODY, end="sitting", duration=0.8, fps=30.0, rng=4)
    assert c.meta["fall_duration"] == pytest.approx(0.8)
    assert c.root_position[-1, 2] < 0.3
    assert c.joints[-1, J["head"], 2] > 0.6  # sitting up, not lying
    assert c.segments.lowest_z().min() > -1e-6
    durations = [fall(BODY, end="lying", fps=10.0, rng=s).meta["fall_duration"] for s in range(5)]
    assert all(0.5 <= d <= 1.5 for d in durations) and len(set(durations)) > 1
    with pytest.raises(ValueError):
        fall(BODY, end="lying", direction="up")


@pytest.mark.parametrize("side", ["back", "front", "left", "right"])
def test_lying(side: str) -> None:
    c = lying(BODY, 1.0, side=side, fps=10.0, rng=0)
    assert c.root_position[:, 2].max() < 0.3
    assert c.segments.lowest_z().min(axis=1) == pytest.approx(0.0, abs=1e-9)


# ------------------------------------------------------------------------------------ rehab


def _travel(clip: MotionClip, joint: str) -> float:
    x = clip.joint(joint)
    return float(np.linalg.norm(x.max(0) - x.min(0)))


@pytest.mark.parametrize("number", sorted(MARS_MOVEMENTS))
def test_rehab_moves_the_intended_limbs(number: int) -> None:
    c = rehab_movement(BODY, number, RehabStyle(), repetitions=1, fps=15.0, rng=0)
    wl, wr = _travel(c, "wrist_left"), _travel(c, "wrist_right")
    al, ar = _travel(c, "ankle_left"), _travel(c, "ankle_right")
    pelvis_drop = c.root_position[0, 2] - c.root_position[:, 2].min()
    if number == 1:
        assert wl > 0.8 and wl > 5 * wr and max(al, ar) < 0.01
    elif number == 2:
        assert wr > 0.8 and wr > 5 * wl and max(al, ar) < 0.01
    elif number == 3:
        assert min(wl, wr) > 0.8 and max(al, ar) < 0.01
    elif number in (4, 5):
        # from a held split stance (MARS's subjects keep their feet planted): the lead foot is ahead
        # (heading pi faces -y) and the pelvis sinks and moves forwards
        lead, back = (c.joint("ankle_left"), c.joint("ankle_right"))[:: 1 if number == 4 else -1]
        ahead = back[:, 1] - lead[:, 1]
        assert ahead.min() > 0.25 and max(al, ar) < 0.1 and pelvis_drop > 0.1
        assert c.root_position[0, 1] - c.root_position[:, 1].min() > 0.02
        assert np.median(c.joint("wrist_left")[:, 2] - c.joint("shoulder_left")[:, 2]) > 0.05  # arms held up
    elif number == 6:
        assert pelvis_drop > 0.25 and max(al, ar) < 0.01
        assert np.median(c.joint("wrist_left")[:, 2] - c.joint("shoulder_left")[:, 2]) > 0.0
    elif number in (7, 8):
        # from a held wide stance the pelvis shifts sideways (along x) towards the lunge side
        sep = np.abs(c.joint("ankle_left")[:, 0] - c.joint("ankle_right")[:, 0])
        shift = c.root_position[:, 0] - c.root_position[0, 0]
        towards = 1.0 if number == 7 else -1.0  # heading pi: the person's left is +x
        assert sep.min() > 0.45 and max(al, ar) < 0.05 and pelvis_drop > 0.05
        assert (towards * shift).max() > 0.2 and (towards * shift).min() > -0.02
        wrist_out = np.abs(c.joint("wrist_left")[:, 0] - c.root_position[:, 0])
        assert np.median(wrist_out) > 0.5  # arms held out sideways
    else:
        arm, leg = (wl, al) if number == 9 else (wr, ar)
        arm_o, leg_o = (wr, ar) if number == 9 else (wl, al)
        assert arm > 5 * arm_o and leg > 0.25 and leg > 5 * leg_o
    np.testing.assert_allclose(_bone_lengths(c), _bone_lengths(c)[:1].repeat(c.n_frames, 0), atol=1e-9)
    assert c.segments.lowest_z().min() > -1e-6
    assert MARS_MOVEMENTS[number] in set(c.activity)


def test_rehab_style_and_determinism() -> None:
    s = RehabStyle.sample(3)
    assert 0.75 <= s.amplitude <= 1.1 and 1.0 <= s.tempo <= 1.8
    a = rehab_movement(BODY, "squat", s, repetitions=2, fps=10.0, rng=5)
    b = rehab_movement(BODY, 6, s, repetitions=2, fps=10.0, rng=5)
    np.testing.assert_array_equal(a.joints, b.joints)
    assert len(a.meta["repetitions"]) == 2
    small = rehab_movement(BODY, 1, RehabStyle(amplitude=0.75), repetitions=1, fps=10.0, rng=0)
    big = rehab_movement(BODY, 1, RehabStyle(amplitude=1.1), repetitions=1, fps=10.0, rng=0)
    assert big.joint("wrist_left")[:, 2].max() > small.joint("wrist_left")[:, 2].max() + 0.05
    with pytest.raises(ValueError):
        rehab_movement(BODY, 11)


# ------------------------------------------------------------------------------------ clip tools


def test_clip_tools() -> None:
    assert min_jerk(0.0) == 0.0 and min_jerk(1.0) == 1.0 and min_jerk(0.5) == pytest.approx(0.5)
    a = stand(BODY, 1.0, fps=10.0, rng=0, position=(0.0, 3.0), heading=np.pi)
    b = fall(BODY, end="lying", direction="backward", pre=0.2, post=0.5, fps=10.0, rng=0, position=(0.0, 3.0))
    c = concatenate([a, b])
    assert c.n_frames == a.n_frames + b.n_frames and np.all(np.diff(c.times) > 0)
    moved = a.moved(offset=(1.0, 0.0, 0.0), yaw=np.pi / 2)
    assert np.allclose(moved.heading, a.heading + np.pi / 2)
    x, y, z = a.root_position[0]
    np.testing.assert_allclose(moved.root_position[0], [y + 1.0, -x, z], atol=1e-9)  # (x, y) -> (y, -x)
    half = a.resample(np.linspace(0.0, 1.0, 4))
    assert half.n_frames == 4 and half.angles.shape == (4, N_JOINTS, 3)
    assert a.slice(2, 5).n_frames == 3
