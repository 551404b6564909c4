"""Tests of mmsight.joints.descriptors: signal strength, sensing (eq. 1) and reliability (eq. 2-3)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from mmsight.joints.descriptors import (
    DEFAULT_UNITS_PER_METRE,
    JOINT_TYPE_NAMES,
    KINECT25_TO_MARS19,
    MARS19_TORSO,
    DescriptorReference,
    fit_descriptor_reference,
    joint_types,
    kappa_midpoint,
    reliability_from_distance,
    reliability_score,
    sensing_score,
    signal_strength,
    torso_lengths,
)

# ----------------------------------------------------------------------------------------------
# The hand-worked example: 2 joints, 3 points (x, y, z, doppler, intensity), floor 0.05 m.
#
#   joint 0 at (0, 0, 0), joint 1 at (1, 0, 0)
#   point a (0, 1, 0),    I = 2:  d^2 to j0 = 1,        to j1 = 1 + 1 = 2
#   point b (1, 0, 2),    I = 4:  d^2 to j0 = 1 + 4 = 5, to j1 = 4
#   point c (0.02, 0, 0), I = 1:  d^2 to j0 = 0.0004 -> floored to 0.05^2 = 0.0025,
#                                 to j1 = 0.98^2 = 0.9604
#   psi_0 = 2/1 + 4/5 + 1/0.0025 = 2 + 0.8 + 400 = 402.8
#   psi_1 = 2/2 + 4/4 + 1/0.9604 = 2 + 1.041232819658476... = 3.041232819658476
#
# Sensing score with psi_mean = 3 (eq. 1): xi_0 = sigmoid(399.8) = 1 (to double precision),
#   xi_1 = sigmoid(0.041232819658476) = 0.510306744... ; with scale = 400:
#   xi_0 = sigmoid(399.8 / 400) = sigmoid(0.9995) = 0.730979...
JOINTS = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
POINTS = np.array(
    [
        [0.0, 1.0, 0.0, 0.0, 2.0],
        [1.0, 0.0, 2.0, 0.5, 4.0],
        [0.02, 0.0, 0.0, -0.3, 1.0],
    ]
)
PSI = np.array([402.8, 2.0 + 1.0 / 0.9604])


def _sig(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def test_signal_strength_hand_example() -> None:
    psi = signal_strength(JOINTS, POINTS)
    assert psi.shape == (2,)
    np.testing.assert_allclose(psi, PSI, rtol=1e-12)
    assert psi[1] == pytest.approx(3.041232819658476, rel=1e-12)


def test_signal_strength_floor_and_intensity_column() -> None:
    # a smaller floor: point c now counts 1 / 0.0004 = 2500 for joint 0
    psi = signal_strength(JOINTS, POINTS, floor=0.01)
    assert psi[0] == pytest.approx(2 + 0.8 + 2500, rel=1e-12)
    # intensity taken from another column (here |doppler| + 1 = 1, 1.5, 1.3)
    pts = POINTS.copy()
    pts = np.concatenate([pts, np.abs(pts[:, 3:4]) + 1.0], axis=1)
    psi = signal_strength(JOINTS, pts, intensity_column=5)
    assert psi[1] == pytest.approx(1 / 2 + 1.5 / 4 + 1.3 / 0.9604, rel=1e-12)


def test_signal_strength_layouts_agree() -> None:
    rng = np.random.default_rng(0)
    frames = [rng.normal(size=(n, 5)) for n in (3, 0, 7)]
    for f in frames:
        f[:, 4] = np.abs(f[:, 4]) + 0.1
    joints = rng.normal(size=(3, 4, 3))
    single = np.stack([signal_strength(j, f) if len(f) else np.zeros(4) for j, f in zip(joints, frames)])
    # padded with garbage (NaN) in the masked slots
    padded = np.full((3, 7, 5), np.nan)
    mask = np.zeros((3, 7), dtype=bool)
    for i, f in enumerate(frames):
        padded[i, : len(f)] = f
        mask[i, : len(f)] = True
    np.testing.assert_allclose(signal_strength(joints, padded, mask), single, rtol=1e-12)
    # flat record layout
    flat = np.concatenate(frames)
    offsets = np.concatenate([[0], np.cumsum([len(f) for f in frames])])
    np.testing.assert_allclose(signal_strength(joints, flat, frame_offsets=offsets), single, rtol=1e-12)
    # torch: same values, both layouts, differentiable in the joints
    tj = torch.tensor(joints, requires_grad=True)
    tp = torch.tensor(np.nan_to_num(padded))
    out = signal_strength(tj, tp, torch.tensor(mask))
    np.testing.assert_allclose(out.detach().numpy(), single, rtol=1e-12)
    out.sum().backward()
    assert torch.isfinite(tj.grad).all() and tj.grad.abs().sum() > 0
    out_flat = signal_strength(torch.tensor(joints), torch.tensor(flat), frame_offsets=offsets)
    np.testing.assert_allclose(out_flat.numpy(), single, rtol=1e-12)


def test_sensing_score_hand_example() -> None:
    xi = sensing_score(PSI, 3.0)
    assert xi[0] == pytest.approx(1.0, abs=1e-15)
    assert xi[1] == pytest.approx(0.510306744, abs=1e-9)
    assert xi[1] == pytest.approx(_sig(0.041232819658476), rel=1e-12)
    xi = sensing_score(PSI, 3.0, scale=400.0)
    assert xi[0] == pytest.approx(_sig(0.9995), rel=1e-12)
    # the midpoint does not depend on the scale; no overflow far from it
    assert sensing_score(np.array([5.0]), 5.0, scale=7.0)[0] == 0.5
    assert np.all(np.isfinite(sensing_score(np.array([-1e6, 1e6]), 0.0)))
    t = sensing_score(torch.tensor(PSI), 3.0)
    np.testing.assert_allclose(t.numpy(), sensing_score(PSI, 3.0), rtol=1e-12)


# ----------------------------------------------------------------------------------------------
# Reliability, hand-worked (eq. 2-3). torso_mean = 0.5 m, so D0 / 2 = 0.25 m.
#   centimetres (u = 100): f(D) = sigmoid(25 - 100 D); f(0) = sigmoid(25)
#     D = 0.25 m -> f = 0.5,  kappa = 0.5 / sigmoid(25) = 0.5 (1 + e^-25) = 0.500000000006944
#     D = 0.27 m -> f = sigmoid(-2) = 0.11920292202211755, kappa = f (1 + e^-25)
#   metres (u = 1): f(0) = sigmoid(0.25) = 0.5621765008857981
#     D = 0.25 m -> kappa = 0.5 / 0.5621765008857981 = 0.889400391535702
#     D = 1.25 m -> kappa = sigmoid(-1) / f(0) = 0.2689414213699951 / 0.5621765... = 0.478393...
def test_reliability_hand_example() -> None:
    truth = np.zeros((3, 3))
    pred = np.array([[0.0, 0.0, 0.0], [0.0, 0.25, 0.0], [0.0, 0.0, 0.27]])
    kappa = reliability_score(pred, truth, 0.5, units_per_metre=100.0)
    assert kappa[0] == 1.0
    assert kappa[1] == pytest.approx(0.5 * (1 + math.exp(-25)), rel=1e-12)
    assert kappa[2] == pytest.approx(0.11920292202211755 * (1 + math.exp(-25)), rel=1e-12)
    kappa_m = reliability_score(pred, truth, 0.5, units_per_metre=1.0)
    assert kappa_m[1] == pytest.approx(0.889400391535702, rel=1e-12)
    assert reliability_from_distance(1.25, 0.5, units_per_metre=1.0) == pytest.approx(
        0.2689414213699951 / 0.5621765008857981, rel=1e-12
    )
    assert kappa_midpoint(0.5, units_per_metre=100.0) == pytest.approx(0.5 * (1 + math.exp(-25)), rel=1e-15)
    assert kappa_midpoint(0.5, units_per_metre=1.0) == pytest.approx(0.889400391535702, rel=1e-12)
    # the default is metres (eq. 2 as printed, SI units)
    assert DEFAULT_UNITS_PER_METRE == 1.0
    np.testing.assert_array_equal(reliability_score(pred, truth, 0.5), kappa_m)
    assert kappa_midpoint(0.5) == kappa_midpoint(0.5, units_per_metre=1.0)


@pytest.mark.parametrize("units", [1.0, 10.0, 100.0])
def test_kappa_is_one_at_zero_and_decreasing(units: float) -> None:
    d = np.linspace(0.0, 2.0, 401)
    kappa = reliability_from_distance(d, 0.56, units_per_metre=units)
    assert kappa[0] == 1.0
    assert np.all(np.diff(kappa) <= 0)
    assert np.all((kappa > 0) | (units * d > 700))  # only underflow can give exactly 0
    assert np.all(kappa <= 1.0)
    # strictly decreasing where it is not saturated in floating point
    live = (kappa > 1e-300) & (kappa < 1 - 1e-15)
    assert np.all(np.diff(kappa)[live[:-1] & live[1:]] < 0)


def test_reliability_torch_matches_and_has_finite_gradient_at_zero() -> None:
    rng = np.random.default_rng(1)
    truth = rng.normal(size=(2, 5, 3))
    pred = truth + 0.2 * rng.normal(size=truth.shape)
    pred[0, 0] = truth[0, 0]  # an exact prediction
    tp = torch.tensor(pred, requires_grad=True)
    k = reliability_score(tp, torch.tensor(truth), 0.56)
    np.testing.assert_allclose(k.detach().numpy(), reliability_score(pred, truth, 0.56), rtol=1e-10)
    k.sum().backward()
    assert torch.isfinite(tp.grad).all()
    assert k[0, 0].item() == 1.0


def test_joint_types_regions() -> None:
    # four joints, one of each type; the boundary cases: xi = 0.5 is not sensed (psi does not
    # exceed the mean), kappa = kappa_mid is correct (error within half the torso)
    mid = kappa_midpoint(0.5)
    xi = np.array([0.2, 0.9, 0.5, 0.51])
    kappa = np.array([mid, 0.99, 0.3, 0.1])
    jt = joint_types(xi, kappa, torso_mean=0.5)
    assert [JOINT_TYPE_NAMES[c] for c in jt.labels] == [
        "correct_not_sensed", "correct_sensed", "incorrect_not_sensed", "incorrect_sensed",
    ]
    assert jt.counts == dict.fromkeys(JOINT_TYPE_NAMES, 1)
    assert sum(jt.fractions.values()) == pytest.approx(1.0)
    jt2 = joint_types(np.tile(xi, (3, 1)), np.tile(kappa, (3, 1)), kappa_mid=mid)
    assert jt2.labels.shape == (3, 4) and jt2.counts == dict.fromkeys(JOINT_TYPE_NAMES, 3)
    with pytest.raises(ValueError):
        joint_types(xi, kappa)  # no threshold
    with pytest.raises(ValueError):
        joint_types(xi, kappa[:3], kappa_mid=mid)


def test_joint_types_consistent_with_distance_threshold() -> None:
    rng = np.random.default_rng(2)
    truth = rng.normal(size=(50, 19, 3))
    pred = truth + 0.15 * rng.normal(size=truth.shape)
    kappa = reliability_score(pred, truth, 0.56)
    psi = rng.lognormal(8, 1.8, size=(50, 19))
    jt = joint_types(sensing_score(psi, 12000.0), kappa, torso_mean=0.56)
    dist = np.linalg.norm(pred - truth, axis=-1)
    np.testing.assert_array_equal(jt.correct, dist <= 0.28)
    np.testing.assert_array_equal(jt.sensed, psi > 12000.0)


def test_fit_descriptor_reference_excludes_nan_frames() -> None:
    rng = np.random.default_rng(3)
    n_frames = 6
    joints = rng.normal(size=(n_frames, 25, 3))
    joints[:, 20] = joints[:, 0] + np.array([0.0, 0.0, 0.5])  # torso exactly 0.5 m
    joints[1] = np.nan  # unlabelled frames
    joints[4, 7] = np.nan  # a hand: not among the MARS-19 joints nor the torso -> kept
    counts = [3, 5, 0, 4, 2, 6]
    frames = [np.abs(rng.normal(size=(n, 5))) + 0.1 for n in counts]
    flat = np.concatenate(frames)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    ref = fit_descriptor_reference(joints, flat, offsets, psi_joints=KINECT25_TO_MARS19)
    assert ref.n_frames == 5 and ref.n_frames_excluded == 1
    assert ref.torso_mean == pytest.approx(0.5, rel=1e-12)
    sel = list(KINECT25_TO_MARS19)
    psi = np.stack(
        [signal_strength(joints[i][sel], frames[i]) if counts[i] else np.zeros(19)
         for i in range(n_frames) if i != 1]
    )
    assert ref.psi_mean == pytest.approx(psi.mean(), rel=1e-12)
    assert ref.psi_std == pytest.approx(psi.std(), rel=1e-12)
    np.testing.assert_allclose(ref.psi_mean_per_joint, psi.mean(axis=0), rtol=1e-12)
    # padded layout gives the same reference; all 25 joints with the hand NaN -> 2 excluded
    padded = np.zeros((n_frames, 6, 5))
    mask = np.zeros((n_frames, 6), dtype=bool)
    for i, f in enumerate(frames):
        padded[i, : len(f)] = f
        mask[i, : len(f)] = True
    ref2 = fit_descriptor_reference(joints, padded, mask=mask, psi_joints=KINECT25_TO_MARS19)
    assert ref2.psi_mean == pytest.approx(ref.psi_mean, rel=1e-12)
    assert fit_descriptor_reference(joints, padded, mask=mask).n_frames_excluded == 2
    # round trip through a JSON-friendly dict
    back = DescriptorReference.from_dict(ref.to_dict())
    assert back.psi_mean == ref.psi_mean and back.psi_joints == ref.psi_joints
    np.testing.assert_array_equal(back.psi_mean_per_joint, ref.psi_mean_per_joint)
    # MARS-19 order torso = same segment
    np.testing.assert_allclose(torso_lengths(joints[:, sel], MARS19_TORSO)[[0, 2]], 0.5)


def test_bad_inputs_raise_value_error() -> None:
    with pytest.raises(ValueError, match="last axis"):
        signal_strength(JOINTS[:, :2], POINTS)
    with pytest.raises(ValueError, match="last axis"):
        signal_strength(JOINTS, POINTS[:, :4])
    with pytest.raises(ValueError, match="NaN"):
        signal_strength(np.array([[np.nan, 0, 0]]), POINTS)
    bad = POINTS.copy()
    bad[0, 4] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        signal_strength(JOINTS, bad)
    with pytest.raises(ValueError, match="mask"):
        signal_strength(JOINTS, POINTS, np.ones(2, dtype=bool))
    with pytest.raises(ValueError, match="broadcast"):
        signal_strength(np.zeros((2, 4, 3)), np.ones((3, 5, 5)))
    with pytest.raises(ValueError, match="floor"):
        signal_strength(JOINTS, POINTS, floor=0.0)
    with pytest.raises(ValueError, match="frame_offsets"):
        signal_strength(np.zeros((2, 4, 3)), POINTS, frame_offsets=[0, 1, 2])
    with pytest.raises(ValueError, match="shape"):
        reliability_score(np.zeros((4, 3)), np.zeros((5, 3)), 0.5)
    with pytest.raises(ValueError, match="NaN"):
        reliability_score(np.full((4, 3), np.nan), np.zeros((4, 3)), 0.5)
    with pytest.raises(ValueError, match="torso_mean"):
        reliability_score(np.zeros((4, 3)), np.zeros((4, 3)), float("nan"))
    with pytest.raises(ValueError, match="NaN"):
        sensing_score(np.array([1.0, np.nan]), 1.0)
    with pytest.raises(ValueError, match="scale"):
        sensing_score(PSI, 1.0, scale=0.0)
    with pytest.raises(ValueError, match="finite"):
        fit_descriptor_reference(np.full((2, 25, 3), np.nan), POINTS, [0, 1, 3])


# the shared real data live beside the repository: <repo>/../shared/data
MARS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "mars" / "mars_train_validate.npz"


@pytest.mark.skipif(not MARS.exists(), reason="MARS data (<repo>/../shared/data/mars) not available")
def test_mars_subset_reference_scale() -> None:
    """On 1500 MARS training frames: torso ~0.56 m, psi ~1e4 (xi saturates at scale 1)."""
    with np.load(MARS) as d:
        split, offsets = d["frame_split"], d["frame_offsets"]
        frames = np.flatnonzero((split == 0) & (d["frame_subject"] == 3))[:1500]
        joints = d["joints"][frames]
        points = d["points"][offsets[frames[0]] : offsets[frames[-1] + 1]]
        sub_off = offsets[frames[0] : frames[-1] + 2] - offsets[frames[0]]
    assert np.all(np.diff(frames) == 1)
    ref = fit_descriptor_reference(joints, points, sub_off, psi_joints=KINECT25_TO_MARS19)
    assert ref.n_frames_excluded == 0
    assert 0.45 < ref.torso_mean < 0.65
    assert 1e3 < ref.psi_mean < 1e5
    xi = sensing_score(signal_strength(joints[:, list(KINECT25_TO_MARS19)], points,
                                       frame_offsets=sub_off), ref.psi_mean)
    assert np.mean((xi > 0.01) & (xi < 0.99)) < 0.01  # saturation with the faithful scale
