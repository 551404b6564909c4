"""BodyShape: anthropometric proportions, masses, segment primitives, forward kinematics, leg IK."""

from __future__ import annotations

import numpy as np
import pytest

from mmsight.sim.body import (
    BUILDS,
    DEMPSTER_MASS_FRACTIONS,
    DENSITY,
    SEGMENT_NAMES,
    WINTER_FRACTIONS,
    BodyShape,
)
from mmsight.sim.skeleton import JOINT_INDEX, JOINT_PARENTS, N_JOINTS

J = JOINT_INDEX


@pytest.mark.parametrize("height", [1.55, 1.75, 1.95])
def test_segment_lengths_match_winter_fractions(height: float) -> None:
    b = BodyShape.from_anthropometry(height, 70.0)
    w = WINTER_FRACTIONS
    rest = b.rest_joints + np.array([0.0, 0.0, b.root_height])  # floor at z = 0
    for side in ("left", "right"):
        assert b.bone_length(f"hip_{side}", f"knee_{side}") == pytest.approx(w["thigh"] * height, rel=1e-9)
        assert b.bone_length(f"knee_{side}", f"ankle_{side}") == pytest.approx(w["shank"] * height, rel=1e-9)
        assert b.bone_length(f"shoulder_{side}", f"elbow_{side}") == pytest.approx(w["upper_arm"] * height, rel=1e-9)
        assert b.bone_length(f"elbow_{side}", f"wrist_{side}") == pytest.approx(w["forearm"] * height, rel=1e-9)
        assert b.bone_length(f"wrist_{side}", f"handtip_{side}") == pytest.approx(w["hand"] * height, rel=1e-9)
        assert b.bone_length(f"heel_{side}", f"toe_{side}") == pytest.approx(w["foot_length"] * height, rel=1e-9)
        assert rest[J[f"hip_{side}"], 2] == pytest.approx(w["hip_height"] * height, rel=1e-9)
        assert rest[J[f"knee_{side}"], 2] == pytest.approx(w["knee_height"] * height, rel=1e-9)
        assert rest[J[f"ankle_{side}"], 2] == pytest.approx(w["ankle_height"] * height, rel=1e-9)
        assert rest[J[f"shoulder_{side}"], 2] == pytest.approx(w["shoulder_height"] * height, rel=1e-9)
    assert rest[J["head_top"], 2] == pytest.approx(height, rel=1e-12)
    assert b.leg_length == pytest.approx(0.491 * height, rel=1e-9)
    # joint-centre breadths sit inside the outer breadths of the table
    assert 2 * abs(rest[J["shoulder_left"], 0]) < w["shoulder_width"] * height
    assert 2 * abs(rest[J["hip_left"], 0]) < w["hip_width"] * height


def test_masses_volumes_and_primitives() -> None:
    m = 72.0
    b = BodyShape.from_anthropometry(1.8, m)
    assert b.masses.sum() == pytest.approx(m, rel=1e-12)
    seg = {n: b.masses[i] for i, n in enumerate(SEGMENT_NAMES)}
    d = DEMPSTER_MASS_FRACTIONS
    for part, key in (("thigh", "thigh"), ("shank", "shank"), ("foot", "foot"), ("upper_arm", "upper_arm"),
                      ("forearm", "forearm"), ("hand", "hand")):  # fmt: skip
        assert seg[f"{part}_left"] == pytest.approx(d[key] * m, rel=1e-9)
    assert seg["head"] + seg["neck"] == pytest.approx(d["head_neck"] * m, rel=1e-9)
    trunk = seg["thorax"] + seg["abdomen"] + seg["pelvis"] + seg["shoulder_left"] + seg["shoulder_right"]
    assert trunk == pytest.approx((d["thorax"] + d["abdomen"] + d["pelvis"]) * m, rel=1e-9)
    volume = b.masses / DENSITY
    ellipsoid = 4.0 / 3.0 * np.pi * np.prod(b.semi_axes, axis=1)
    np.testing.assert_allclose(ellipsoid, volume, rtol=1e-9)
    r, hl = b.capsule_radius, b.capsule_half_length
    capsule = np.pi * r**2 * 2 * hl + 4.0 / 3.0 * np.pi * r**3
    np.testing.assert_allclose(capsule, volume, rtol=1e-6)
    # the capsule spans the same extent as the ellipsoid's longest axis
    np.testing.assert_allclose(hl + r, b.semi_axes.max(axis=1), rtol=1e-9)
    # plausible sizes: thigh radius 6-10 cm, head 15-22 cm wide
    i = SEGMENT_NAMES.index
    assert 0.06 < b.semi_axes[i("thigh_left"), 0] < 0.10
    assert 0.15 < 2 * b.semi_axes[i("head"), 0] < 0.22


def test_variation_builds_and_determinism() -> None:
    a = BodyShape.from_anthropometry(1.7, 65.0, rng=np.random.default_rng(3))
    b = BodyShape.from_anthropometry(1.7, 65.0, rng=np.random.default_rng(3))
    c = BodyShape.from_anthropometry(1.7, 65.0, rng=np.random.default_rng(4))
    np.testing.assert_array_equal(a.rest_joints, b.rest_joints)
    np.testing.assert_array_equal(a.semi_axes, b.semi_axes)
    assert not np.allclose(a.rest_joints, c.rest_joints)
    for body in (a, c):  # stature and mass are kept, proportions vary by a few per cent
        assert body.rest_joints[J["head_top"], 2] + body.root_height == pytest.approx(1.7, rel=1e-12)
        assert body.masses.sum() == pytest.approx(65.0, rel=1e-12)
        assert body.leg_length == pytest.approx(0.491 * 1.7, rel=0.06)
    slim = BodyShape.from_anthropometry(1.7, 65.0, build="slim")
    stocky = BodyShape.from_anthropometry(1.7, 65.0, build="stocky")
    assert slim.leg_length > stocky.leg_length
    assert set(BUILDS) >= {"average", "slim", "athletic", "stocky"}
    with pytest.raises(ValueError):
        BodyShape.from_anthropometry(2.5, 70.0)
    with pytest.raises(ValueError):
        BodyShape.from_anthropometry(1.7, 70.0, build="giant")


def test_forward_kinematics_rest_pose_on_the_floor() -> None:
    b = BodyShape.from_anthropometry(1.75, 70.0)
    p = b.rest_pose(position=(0.5, 2.0), heading=np.pi)
    soles = p.joints[0, b.foot_contact_points(), 2]
    np.testing.assert_allclose(soles, 0.0, atol=1e-12)
    low = p.segments.lowest_z()[0]
    assert low.min() == pytest.approx(0.0, abs=1e-9)
    assert p.joints[0, J["pelvis"], :2] == pytest.approx([0.5, 2.0])
    assert p.segments.centers.shape == (1, len(SEGMENT_NAMES), 3)
    assert p.mapped("mars19").shape == (1, 19, 3)


def test_bones_are_rigid_and_frames_orthonormal() -> None:
    b = BodyShape.from_anthropometry(1.75, 70.0, rng=np.random.default_rng(0))
    rng = np.random.default_rng(1)
    t = 7
    angles = rng.uniform(-1.0, 1.0, size=(t, N_JOINTS, 3))
    root = rng.normal(size=(t, 3))
    p = b.pose(angles, root, rng.uniform(-3, 3, size=t))
    child = np.arange(1, N_JOINTS)
    lengths = np.linalg.norm(p.joints[:, child] - p.joints[:, JOINT_PARENTS[child]], axis=-1)
    np.testing.assert_allclose(lengths, np.linalg.norm(b.offsets[child], axis=-1)[None].repeat(t, 0), atol=1e-12)
    ax = p.segments.axes
    np.testing.assert_allclose(np.einsum("tsji,tsjk->tsik", ax, ax), np.broadcast_to(np.eye(3), ax.shape), atol=1e-9)
    np.testing.assert_allclose(np.linalg.det(ax), 1.0, atol=1e-9)
    ends = p.segments.capsule_endpoints()
    assert ends.shape == (t, len(SEGMENT_NAMES), 2, 3)
    # capsule core lies on the segment's long axis through its centre
    np.testing.assert_allclose(ends.mean(axis=2), p.segments.centers, atol=1e-12)
    frame = p.segments.at(3)
    assert len(frame) == len(SEGMENT_NAMES) and frame[0].name == "head"


def test_transformed_equals_moving_the_root() -> None:
    b = BodyShape.from_anthropometry(1.75, 70.0)
    rng = np.random.default_rng(2)
    angles = rng.uniform(-0.5, 0.5, size=(4, N_JOINTS, 3))
    root = rng.normal(size=(4, 3))
    yaw = 0.7
    p = b.pose(angles, root, 0.0)
    c, s = np.cos(yaw), np.sin(yaw)
    r = np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])  # heading-style yaw
    tr = np.eye(4)
    tr[:3, :3] = r
    tr[:3, 3] = [1.0, -2.0, 0.3]
    moved = p.transformed(tr)
    direct = b.pose(angles, root @ r.T + tr[:3, 3], yaw)
    np.testing.assert_allclose(moved.joints, direct.joints, atol=1e-12)
    np.testing.assert_allclose(moved.segments.centers, direct.segments.centers, atol=1e-12)
    np.testing.assert_allclose(moved.segments.axes, direct.segments.axes, atol=1e-12)


@pytest.mark.parametrize("side", ["left", "right"])
def test_leg_ik_round_trip(side: str) -> None:
    b = BodyShape.from_anthropometry(1.7, 60.0)
    rng = np.random.default_rng(5)
    t = 40
    a = np.zeros((t, N_JOINTS, 3))
    a[:, 0] = rng.uniform(-0.3, 0.3, (t, 3))
    a[:, J[f"hip_{side}"]] = rng.uniform(-0.6, 0.6, (t, 3))
    a[:, J[f"knee_{side}"], 0] = rng.uniform(0.05, 1.8, t)
    a[:, J[f"ankle_{side}"]] = rng.uniform(-0.4, 0.4, (t, 3))
    root = rng.normal(size=(t, 3))
    joints, rots = b.forward_kinematics(a, root, 0.4)
    ik = b.leg_ik(side, root, rots[:, 0], joints[:, J[f"ankle_{side}"]], rots[:, J[f"ankle_{side}"]])
    a2 = a.copy()
    a2[:, J[f"hip_{side}"]] = ik.hip
    a2[:, J[f"knee_{side}"], 0] = ik.knee
    a2[:, J[f"ankle_{side}"]] = ik.ankle
    j2, r2 = b.forward_kinematics(a2, root, 0.4)
    np.testing.assert_allclose(j2[:, J[f"ankle_{side}"]], joints[:, J[f"ankle_{side}"]], atol=1e-9)
    np.testing.assert_allclose(r2[:, J[f"ankle_{side}"]], rots[:, J[f"ankle_{side}"]], atol=1e-9)
    np.testing.assert_allclose(ik.knee, a[:, J[f"knee_{side}"], 0], atol=1e-9)
    assert np.all(ik.reach_error == 0.0)
    far = b.leg_ik(side, root[:1], rots[:1, 0], root[:1] + [0, 0, -3.0], rots[:1, J[f"ankle_{side}"]])
    assert far.reach_error[0] > 1.0
