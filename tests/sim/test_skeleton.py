"""Canonical skeleton: tree, joint maps, frames and angle conventions."""

from __future__ import annotations

import numpy as np
import pytest

from mmsight.sim.body import BodyShape
from mmsight.sim.skeleton import (
    ANATOMICAL_SIGNS,
    JOINT_INDEX,
    JOINT_MAPS,
    JOINT_NAMES,
    JOINT_PARENTS,
    KINECT25_NAMES,
    LEFT_RIGHT_SWAP,
    MARS19_NAMES,
    N_JOINTS,
    euler_xyz_to_matrix,
    map_joints,
    matrix_to_euler_xyz,
    mirror_angles,
    rot_x,
    rot_y,
    rot_z,
)

BODY = BodyShape.from_anthropometry(1.75, 70.0)


def _pose(angles: dict[str, tuple[float, float, float]], heading: float = 0.0) -> np.ndarray:
    a = np.zeros((1, N_JOINTS, 3))
    for name, v in angles.items():
        a[0, JOINT_INDEX[name]] = np.radians(v)
    return BODY.pose(a, np.array([[0.0, 0.0, BODY.root_height]]), heading).joints[0]


def test_tree_is_topologically_ordered_and_names_unique() -> None:
    assert len(set(JOINT_NAMES)) == N_JOINTS == 39
    assert JOINT_PARENTS[0] == -1
    assert all(0 <= p < j for j, p in enumerate(JOINT_PARENTS) if j > 0)
    # every left joint has a right twin and the swap is an involution
    assert np.array_equal(LEFT_RIGHT_SWAP[LEFT_RIGHT_SWAP], np.arange(N_JOINTS))
    assert ANATOMICAL_SIGNS.shape == (N_JOINTS, 3)


@pytest.mark.parametrize(("name", "count"), [("mars19", 19), ("kinect25", 25), ("azure32", 32), ("coco17", 17)])
def test_map_counts(name: str, count: int) -> None:
    m = JOINT_MAPS[name]
    assert len(m) == len(m.names) == m.index.shape[0] == count
    joints = np.zeros((4, N_JOINTS, 3))
    assert map_joints(joints, name).shape == (4, count, 3)


def test_mars19_is_kinect_without_hands() -> None:
    expected = [KINECT25_NAMES[i] for i in range(21) if i not in (7, 11)]
    assert list(MARS19_NAMES) == expected
    assert "HandLeft" not in MARS19_NAMES and "SpineShoulder" == MARS19_NAMES[-1]
    # MARS joints gather the same canonical joints as the corresponding Kinect joints
    k = JOINT_MAPS["kinect25"]
    m = JOINT_MAPS["mars19"]
    for i, n in enumerate(m.names):
        assert m.index[i] == k.index[KINECT25_NAMES.index(n)]


@pytest.mark.parametrize(
    ("target", "name", "source"),
    [
        ("kinect25", "ShoulderLeft", "shoulder_left"),
        ("kinect25", "SpineBase", "pelvis"),
        ("kinect25", "FootRight", "foot_right"),
        ("kinect25", "HandTipLeft", "handtip_left"),
        ("azure32", "SPINE_NAVEL", "spine_mid"),
        ("azure32", "CLAVICLE_RIGHT", "clavicle_right"),
        ("azure32", "EAR_LEFT", "ear_left"),
        ("coco17", "left_eye", "eye_left"),
        ("coco17", "right_ankle", "ankle_right"),
        ("coco17", "nose", "nose"),
    ],
)
def test_map_sources(target: str, name: str, source: str) -> None:
    m = JOINT_MAPS[target]
    assert m.source_names()[m.names.index(name)] == source


def test_left_is_plus_x_when_facing_the_radar() -> None:
    # standing at y = 3 m facing the radar at the origin (heading pi)
    j = BODY.pose(np.zeros((1, N_JOINTS, 3)), np.array([[0.0, 3.0, BODY.root_height]]), np.pi).joints[0]
    for part in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle", "eye", "ear"):
        assert j[JOINT_INDEX[f"{part}_left"], 0] > j[JOINT_INDEX[f"{part}_right"], 0] + 0.03, part
    # the face and the toes point at the radar (smaller y)
    assert j[JOINT_INDEX["nose"], 1] < j[JOINT_INDEX["head"], 1] - 0.05
    assert j[JOINT_INDEX["toe_left"], 1] < j[JOINT_INDEX["heel_left"], 1] - 0.2
    # walking away (heading 0): left is -x
    j0 = _pose({})
    assert j0[JOINT_INDEX["shoulder_left"], 0] < 0 < j0[JOINT_INDEX["shoulder_right"], 0]


def test_coco_face_points_from_the_head() -> None:
    coco = map_joints(_pose({})[None], "coco17")[0]
    names = JOINT_MAPS["coco17"].names
    p = {n: coco[i] for i, n in enumerate(names)}
    head = _pose({})[JOINT_INDEX["head"]]
    # eyes inside the ears, nose ahead of the eyes, all near the head centre's height
    assert p["left_ear"][0] < p["left_eye"][0] < p["nose"][0] < p["right_eye"][0] < p["right_ear"][0]
    assert p["nose"][1] > p["left_eye"][1] > p["left_ear"][1]
    for n in ("nose", "left_eye", "right_eye", "left_ear", "right_ear"):
        assert abs(p[n][2] - head[2]) < 0.05
    # they follow the head: turning the head to the left moves the nose to -x
    turned = _pose({"neck": (0, 0, 60)})
    assert turned[JOINT_INDEX["nose"], 0] < -0.05


def test_euler_round_trip_and_axis_rotations() -> None:
    rng = np.random.default_rng(0)
    e = rng.uniform([-3, -1.5, -3], [3, 1.5, 3], size=(200, 3))
    r = euler_xyz_to_matrix(e)
    np.testing.assert_allclose(r, rot_x(e[:, 0]) @ rot_y(e[:, 1]) @ rot_z(e[:, 2]), atol=1e-12)
    np.testing.assert_allclose(euler_xyz_to_matrix(matrix_to_euler_xyz(r)), r, atol=1e-9)
    # right-handed: +90 deg about z maps x to y
    np.testing.assert_allclose(rot_z(np.pi / 2) @ [1, 0, 0], [0, 1, 0], atol=1e-12)


@pytest.mark.parametrize("side", ["left", "right"])
def test_anatomical_angle_meanings(side: str) -> None:
    out = -1.0 if side == "left" else 1.0  # body-frame x of this side
    rest = _pose({})
    i = JOINT_INDEX
    knee = _pose({f"hip_{side}": (30, 0, 0)})[i[f"knee_{side}"]]
    assert knee[1] > rest[i[f"knee_{side}"], 1] + 0.15  # hip flexion: thigh forward
    ankle = _pose({f"knee_{side}": (60, 0, 0)})[i[f"ankle_{side}"]]
    assert ankle[1] < -0.3  # knee flexion: shank backwards
    toe = _pose({f"ankle_{side}": (20, 0, 0)})[i[f"toe_{side}"]]
    assert toe[2] > rest[i[f"toe_{side}"], 2] + 0.05  # dorsiflexion: toes up
    elbow = _pose({f"shoulder_{side}": (0, 60, 0)})[i[f"elbow_{side}"]]
    assert out * elbow[0] > out * rest[i[f"elbow_{side}"], 0] + 0.2  # abduction: away from the midline
    wrist = _pose({f"shoulder_{side}": (90, 0, 0)})[i[f"wrist_{side}"]]
    assert wrist[1] > 0.4  # shoulder flexion: arm forwards
    toe_rot = _pose({f"hip_{side}": (0, 0, 30)})[i[f"toe_{side}"]]
    assert out * toe_rot[0] < out * rest[i[f"toe_{side}"], 0] - 0.05  # internal rotation: toes inwards


def test_midline_angle_meanings() -> None:
    rest = _pose({})
    h = JOINT_INDEX["head"]
    assert _pose({"lumbar": (30, 0, 0)})[h, 1] > 0.2  # flexion: forward bend
    assert _pose({"lumbar": (0, 20, 0)})[h, 0] < -0.15  # lateral bend to the person's left (-x)
    turned = _pose({"spine_mid": (0, 0, 45)})
    assert turned[JOINT_INDEX["shoulder_left"], 1] < rest[JOINT_INDEX["shoulder_left"], 1] - 0.05  # turn left
    lying_back = _pose({"pelvis": (-90, 0, 0)})
    assert lying_back[h, 1] < -0.6 and abs(lying_back[h, 2] - BODY.root_height) < 0.1


def test_mirror_angles_mirrors_the_pose() -> None:
    rng = np.random.default_rng(1)
    a = rng.uniform(-0.7, 0.7, size=(3, N_JOINTS, 3))
    root = np.array([0.0, 0.0, 1.0])
    j = BODY.pose(a, root).joints
    jm = BODY.pose(mirror_angles(a), root).joints[:, LEFT_RIGHT_SWAP] * np.array([-1.0, 1.0, 1.0])
    np.testing.assert_allclose(j, jm, atol=1e-12)
