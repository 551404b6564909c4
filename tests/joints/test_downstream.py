"""Downstream models of mmJoints: pose refinement MLP and activity LSTM (Sec. 8)."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest
import torch

sys.path.insert(0, os.path.dirname(__file__))
from synth_mars import synthetic_frames  # noqa: E402

from mmsight.joints.downstream import (  # noqa: E402
    MIN_DESC_STD,
    ActivityLSTM,
    PoseRefiner,
    activity_windows,
    predict_activity,
    predict_refiner,
    train_activity,
    train_refiner,
)

torch.set_num_threads(1)


def test_activity_windows_stay_inside_runs() -> None:
    run_id = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 2, 2])
    frames = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11])  # frame 9 has no sample
    w = activity_windows(frames, run_id, 3)
    got = [tuple(frames[r]) for r in w]
    assert got == [(0, 1, 2), (1, 2, 3), (4, 5, 6)]  # no window across runs or over the gap at frame 9
    assert activity_windows(frames, run_id, 1).shape == (len(frames), 1)
    # sample order does not matter
    perm = np.random.default_rng(0).permutation(len(frames))
    w2 = activity_windows(frames[perm], run_id, 3)
    assert sorted(tuple(frames[perm][r]) for r in w2) == got


def test_refiner_starts_as_identity_and_checks_inputs() -> None:
    pose = torch.randn(4, 19, 3)
    m = PoseRefiner(19, 2, [16])
    assert torch.allclose(m(pose, torch.rand(4, 19, 2)), pose)
    with pytest.raises(ValueError, match="descriptors"):
        m(pose)
    assert torch.allclose(PoseRefiner(19, 0, [16])(pose), pose)


def test_descriptors_help_the_refiner() -> None:
    """Poses live on a 3-D manifold; 20 % of the estimated joints are far off and flagged by a small
    kappa. The descriptor lets the MLP rebuild the flagged joints from the others."""
    rng = np.random.default_rng(0)
    n = 2000
    basis = rng.normal(0, 0.1, size=(3, 19, 3))
    gt = (np.einsum("nk,kjc->njc", rng.normal(size=(n, 3)), basis) + np.array([0.0, 2.0, 1.0])).astype(np.float32)
    bad = rng.random((n, 19)) < 0.2
    shift = np.where(bad[..., None], rng.normal(0, 0.3, size=gt.shape), 0.0)
    pred = (gt + rng.normal(0, 0.01, size=gt.shape) + shift).astype(np.float32)
    desc = np.stack([np.full((n, 19), 0.5), 1.0 - bad], axis=-1).astype(np.float32)
    tr, te = slice(0, 1600), slice(1600, n)
    with_d, without = PoseRefiner(19, 2, [64], dropout=0.0), PoseRefiner(19, 0, [64], dropout=0.0)
    torch.manual_seed(0)
    train_refiner(with_d, pred[tr], gt[tr], desc[tr], epochs=25, batch_size=64, lr=3e-3)
    torch.manual_seed(0)
    train_refiner(without, pred[tr], gt[tr], None, epochs=25, batch_size=64, lr=3e-3)
    err = lambda p: np.linalg.norm(p - gt[te], axis=-1).mean()  # noqa: E731
    e_before = err(pred[te])
    e_with = err(predict_refiner(with_d, pred[te], desc[te]))
    e_without = err(predict_refiner(without, pred[te]))
    assert e_with < 0.6 * e_before
    assert e_with < 0.8 * e_without


def test_activity_lstm_learns_synthetic_movements() -> None:
    frames = synthetic_frames(seed=2)
    joints = frames.joints
    valid = frames.valid
    idx = np.flatnonzero(valid)
    wins = activity_windows(idx, frames.run_id, 5)
    seq = joints[idx][wins]
    y = frames.movement[idx][wins[:, -1]] - 1
    split = frames.split[idx][wins[:, -1]]
    m = ActivityLSTM(19, 0, 32, 1, 10, 0.0)
    torch.manual_seed(0)
    hist = train_activity(m, seq[split == 0], y[split == 0], epochs=25, batch_size=64, lr=3e-3, seed=0)
    assert hist[-1] < hist[0]
    acc = (predict_activity(m, seq[split == 1]) == y[split == 1]).mean()
    assert acc > 0.6  # 4 movements: chance is 0.25
    # descriptors change only the input layer
    md = ActivityLSTM(19, 2, 32, 1, 10, 0.0)
    assert md.inp.in_features == 19 * 5 and m.inp.in_features == 19 * 3
    assert md.lstm.weight_ih_l0.shape == m.lstm.weight_ih_l0.shape
    with pytest.raises(ValueError, match="descriptors"):
        md(torch.from_numpy(seq[:2]))


def test_training_loops_are_seeded() -> None:
    rng = np.random.default_rng(0)
    pose = rng.normal(size=(200, 19, 3)).astype(np.float32)
    gt = pose + 0.1
    outs = []
    for _ in range(2):
        torch.manual_seed(1)
        m = PoseRefiner(19, 0, [16])
        train_refiner(m, pose, gt, epochs=2, batch_size=32, seed=3)
        outs.append(predict_refiner(m, pose[:5]))
    np.testing.assert_array_equal(outs[0], outs[1])


def test_descriptor_standardisation_is_per_joint_and_opt_in_for_the_training_functions() -> None:
    rng = np.random.default_rng(1)
    n = 300
    pose = rng.normal(0, 0.3, size=(n, 19, 3)).astype(np.float32)
    desc = np.stack([rng.random((n, 19)), 0.9 + 0.1 * rng.random((n, 19))], axis=-1).astype(np.float32)
    desc[:, 3, 0] = 0.5  # a constant descriptor: its std is floored, not divided by zero
    raw = PoseRefiner(19, 2, [16])
    train_refiner(raw, pose, pose, desc, epochs=1, batch_size=64)
    assert torch.equal(raw.desc_mean, torch.zeros(19, 2)) and torch.equal(raw.desc_std, torch.ones(19, 2))
    m = PoseRefiner(19, 2, [16])
    train_refiner(m, pose, pose, desc, epochs=1, batch_size=64, standardize_descriptors=True)
    assert np.allclose(m.desc_mean.numpy(), desc.mean(0), atol=1e-6)
    assert np.allclose(m.desc_std.numpy()[:, 1], desc[..., 1].std(0), rtol=1e-5)
    assert m.desc_std[3, 0].item() == pytest.approx(MIN_DESC_STD)
    assert torch.isfinite(m(torch.from_numpy(pose[:4]), torch.from_numpy(desc[:4]))).all()
    lstm = ActivityLSTM(19, 2)
    seq = np.repeat(pose[:, None], 5, axis=1)
    train_activity(lstm, seq, rng.integers(0, 10, n), np.repeat(desc[:, None], 5, axis=1), epochs=1,
                   standardize_descriptors=True)
    assert np.allclose(lstm.desc_mean.numpy(), desc.mean(0), atol=1e-6)
    bad = desc.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="1 NaN or inf value.*joint 0"):
        PoseRefiner(19, 2, [16]).set_descriptor_normalization(bad)


def test_models_saved_before_descriptor_standardisation_load_as_identity() -> None:
    m = PoseRefiner(19, 2, [16])
    with torch.no_grad():
        m.net[-1].weight.normal_(0, 0.1)
    old = {k: v for k, v in m.state_dict().items() if not k.startswith("desc_")}  # an older checkpoint
    fresh = PoseRefiner(19, 2, [16])
    fresh.load_state_dict(old, strict=True)
    assert torch.equal(fresh.desc_mean, torch.zeros(19, 2)) and torch.equal(fresh.desc_std, torch.ones(19, 2))
    pose, desc = torch.randn(3, 19, 3), torch.rand(3, 19, 2)
    assert torch.equal(fresh(pose, desc), m(pose, desc))
    lstm, old_lstm = ActivityLSTM(19, 1), ActivityLSTM(19, 1)
    old_lstm.desc_mean.fill_(0.7)
    old_lstm.load_state_dict({k: v for k, v in lstm.state_dict().items() if not k.startswith("desc_")})
    assert torch.equal(old_lstm.desc_mean, torch.zeros(19, 1))
