"""Black-box pose estimators: contract, registry, checkpoints, crafted models, a tiny training run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from mmsight.joints.estimators import (
    CallableEstimator,
    CheckpointError,
    PoseEstimator,
    available_estimators,
    create_estimator,
    evaluate_estimator,
    load_estimator,
    pose_metrics,
    predict_windows,
    save_estimator,
    train_estimator,
)
from mmsight.joints.estimators.base import read_checkpoint
from mmsight.joints.mars_data import (
    MARS19_LOWER,
    MARS19_UPPER,
    make_synthetic_frames,
    make_windows,
    window_point_lists,
)

torch.set_num_threads(1)

EXPECTED = {"mars_cnn": 1, "p4t": 5, "mmmesh": 10, "m1_upper": 1, "m2_lower": 1, "m3_random": 1}
#: Small configs keep the tests fast; the defaults are exercised by the registry/shape test.
TINY = {
    "mars_cnn": {"dense": 32, "conv_channels": [4, 8]},
    "m1_upper": {"dense": 32, "conv_channels": [4, 8]},
    "m2_lower": {"dense": 32, "conv_channels": [4, 8]},
    "m3_random": {"dense": 32, "conv_channels": [4, 8]},
    "p4t": {"dim": 16, "mlp_dim": 32, "depth": 1, "heads": 2, "n_anchors": 4, "k": 4},
    "mmmesh": {"point_dims": [16], "frame_dim": 16, "hidden": 16, "layers": 1},
}


@pytest.fixture(scope="module")
def frames():
    return make_synthetic_frames(n_runs=4, frames_per_run=24, seed=1, nan_runs=[2])


def _windows(frames, k: int, n: int = 3) -> list[list[np.ndarray]]:
    idx = make_windows(frames, k, None)
    return window_point_lists(frames, idx.frames[:n])


def test_registry_names() -> None:
    assert set(EXPECTED) <= set(available_estimators())
    with pytest.raises(KeyError, match="unknown estimator"):
        create_estimator("no_such_model")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_estimator_predicts_joints(name: str, frames) -> None:
    est = create_estimator(name)  # default (paper-size) config
    assert isinstance(est, PoseEstimator) and est.window == EXPECTED[name]
    wp = _windows(frames, est.window)
    out = est.predict(wp)
    assert out.shape == (3, 19, 3) and out.dtype == np.float32 and np.isfinite(out).all()
    # the padded fast path gives the same numbers as the black-box path
    idx = make_windows(frames, est.window, None)
    idx = type(idx)(idx.frames[:3], idx.k, 0, 0, 0)
    np.testing.assert_allclose(predict_windows(est, frames, idx), out, rtol=1e-5, atol=1e-6)
    # wrong window length is refused; an empty frame is fine
    with pytest.raises(ValueError, match="exactly"):
        est.predict([wp[0] + [wp[0][0]]])
    empty = [[np.zeros((0, 5), np.float32)] * est.window]
    assert np.isfinite(est.predict(empty)).all()
    assert est.predict([]).shape == (0, 19, 3)


def test_callable_estimator(frames) -> None:
    calls = []

    def service(windows):
        calls.append(len(windows))
        return [np.tile(np.mean(w[-1][:, :3], axis=0), (19, 1)) for w in windows]

    est = CallableEstimator(service, window=2, name="remote")
    wp = _windows(frames, 2, n=4)
    out = est.predict(wp)
    assert out.shape == (4, 19, 3) and out.dtype == np.float32 and calls == [4]
    np.testing.assert_allclose(out[1, 0], wp[1][-1][:, :3].mean(axis=0), rtol=1e-6)
    res = evaluate_estimator(est, frames, "validate")
    assert res["n_windows"] > 0 and np.isfinite(res["mae_cm"])
    with pytest.raises(ValueError, match="exactly 2"):
        est.predict([wp[0][:1]])
    with pytest.raises(ValueError, match="expected"):
        CallableEstimator(lambda w: np.zeros((len(w), 17, 3)), window=2).predict(wp)
    with pytest.raises(ValueError, match=r"\[N, 5\]"):
        est.predict([[np.zeros((3, 4)), np.zeros((3, 5))]])


@pytest.mark.parametrize("name", sorted(EXPECTED))
@pytest.mark.parametrize("fmt", ["safetensors", "torch"])
def test_checkpoint_round_trip(name: str, fmt: str, frames, tmp_path: Path) -> None:
    if fmt == "safetensors":
        pytest.importorskip("safetensors")
    est = create_estimator(name, seed=3, **TINY[name])
    est.prepare(frames.joints[frames.valid].mean(axis=0), np.ones(5), np.full(5, 2.0))
    wp = _windows(frames, est.window)
    before = est.predict(wp)
    path = save_estimator(est, tmp_path / f"{name}.ckpt", extra={"val_mae_cm": 1.5}, fmt=fmt)
    loaded = load_estimator(path)
    assert loaded.name == name and loaded.config == est.config and loaded.window == est.window
    assert loaded.checkpoint_extra == {"val_mae_cm": 1.5}
    np.testing.assert_array_equal(loaded.predict(wp), before)


def test_corrupt_checkpoints_are_rejected(frames, tmp_path: Path) -> None:
    est = create_estimator("mars_cnn", **TINY["mars_cnn"])
    for fmt in ("safetensors", "torch"):
        path = Path(save_estimator(est, tmp_path / f"m.{fmt}", fmt=fmt))
        data = bytearray(path.read_bytes())
        flipped = tmp_path / f"flipped.{fmt}"
        mid = len(data) - 200  # inside the tensor data
        data[mid : mid + 8] = bytes(255 - b for b in data[mid : mid + 8])
        flipped.write_bytes(bytes(data))
        with pytest.raises(CheckpointError, match="corrupt|checksum"):
            load_estimator(flipped)
        truncated = tmp_path / f"truncated.{fmt}"
        truncated.write_bytes(path.read_bytes()[: len(data) // 2])
        with pytest.raises(CheckpointError):
            load_estimator(truncated)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"this is not a checkpoint at all")
    with pytest.raises(CheckpointError):
        read_checkpoint(junk)
    with pytest.raises(FileNotFoundError):
        load_estimator(tmp_path / "absent.safetensors")


def test_m3_is_untrained_and_seeded(frames) -> None:
    wp = _windows(frames, 1)
    a = create_estimator("m3_random", seed=0).predict(wp)
    b = create_estimator("m3_random", seed=1).predict(wp)
    a2 = create_estimator("m3_random", seed=0).predict(wp)
    assert np.abs(a - b).mean() > 1e-3
    np.testing.assert_array_equal(a, a2)
    est = create_estimator("m3_random", seed=0, **TINY["m3_random"])
    w0 = {k: v.clone() for k, v in est.model.state_dict().items()}
    res = train_estimator(est, frames, epochs=3, log=None)
    assert res.stopped == "untrainable" and res.best_epoch == 0
    for k, v in est.model.state_dict().items():
        if k != "head.bias" and not k.startswith("norm."):  # only data statistics are set
            assert torch.equal(v, w0[k]), k


def _mars_windows_metrics(est, frames, joints):
    idx = make_windows(frames, 1, "validate")
    return pose_metrics(predict_windows(est, frames, idx), frames.joints[idx.targets], joints)["mae_cm"]


def test_tiny_mars_cnn_learns_beyond_chance() -> None:
    frames = make_synthetic_frames(n_runs=6, frames_per_run=80, seed=2)
    res = train_estimator("mars_cnn", frames, epochs=25, patience=25, seed=0, log=None, batch_size=32,
                          dense=64, conv_channels=[8, 16])
    tr = make_windows(frames, 1, "train")
    va = make_windows(frames, 1, "validate")
    gt = frames.joints[va.targets]
    baseline = pose_metrics(np.broadcast_to(frames.joints[tr.targets].mean(0), gt.shape), gt)["mae_cm"]
    mae = _mars_windows_metrics(res.estimator, frames, None)
    assert res.best_epoch > 0 and np.isclose(mae, res.best_val_mae_cm)
    assert mae < 0.5 * baseline, (mae, baseline)
    # determinism: same seed, same numbers
    res2 = train_estimator("mars_cnn", frames, epochs=2, seed=0, log=None, batch_size=32, dense=64,
                           conv_channels=[8, 16])
    res3 = train_estimator("mars_cnn", frames, epochs=2, seed=0, log=None, batch_size=32, dense=64,
                           conv_channels=[8, 16])
    assert [h["val_mae_cm"] for h in res2.history] == [h["val_mae_cm"] for h in res3.history]


def test_m1_trains_only_upper_body_outputs(frames) -> None:
    est = create_estimator("m1_upper", rest="untrained", **TINY["m1_upper"])
    head0 = est.model.inner.head.weight.detach().clone()
    res = train_estimator(est, frames, epochs=2, log=None, batch_size=16)
    assert res.best_epoch >= 1
    head = est.model.inner.head.weight.detach()
    rows = lambda js: [c * 19 + int(j) for c in range(3) for j in js]  # noqa: E731
    assert torch.equal(head[rows(MARS19_LOWER)], head0[rows(MARS19_LOWER)])
    assert not torch.equal(head[rows(MARS19_UPPER)], head0[rows(MARS19_UPPER)])
    mean_pose = frames.joints[frames.valid].mean(axis=0)
    mean_variant = create_estimator("m2_lower", rest="mean", **TINY["m2_lower"])
    mean_variant.prepare(mean_pose)
    out = mean_variant.predict(_windows(frames, 1))
    np.testing.assert_allclose(out[:, MARS19_UPPER], np.broadcast_to(mean_pose[MARS19_UPPER], out[:, MARS19_UPPER].shape),
                               rtol=1e-6)


def test_m1_default_rest_joints_are_m3s(frames) -> None:
    m1 = create_estimator("m1_upper", seed=5, **TINY["m1_upper"])  # rest="random"
    rnd0 = {k: v.clone() for k, v in m1.model.random_net.state_dict().items()}
    train_estimator(m1, frames, epochs=2, log=None, batch_size=16)
    for k, v in m1.model.random_net.state_dict().items():
        if k != "head.bias" and not k.startswith("norm."):  # only data statistics are set
            assert torch.equal(v, rnd0[k]), k  # the random part is never trained
    m3 = create_estimator("m3_random", seed=5, **TINY["m3_random"])
    train_estimator(m3, frames, log=None)  # only sets the same data statistics
    wp = _windows(frames, 1, n=6)
    a, b = m1.predict(wp), m3.predict(wp)
    np.testing.assert_allclose(a[:, MARS19_LOWER], b[:, MARS19_LOWER], rtol=1e-5, atol=1e-6)
    assert np.abs(a[:, MARS19_UPPER] - b[:, MARS19_UPPER]).mean() > 1e-3


@pytest.mark.parametrize("name", ["p4t", "mmmesh"])
def test_temporal_models_train_a_step(name: str, frames) -> None:
    res = train_estimator(name, frames, epochs=1, log=None, batch_size=16, **TINY[name])
    assert len(res.history) == 1 and np.isfinite(res.best_val_mae_cm)
    assert res.counts["train_nan_targets"] > 0  # the NaN run was dropped, and counted


def test_pose_metrics_definitions() -> None:
    gt = np.zeros((2, 19, 3))
    gt[:, 18] = [0.0, 0.0, 0.6]  # SpineShoulder -> torso (to SpineBase at origin) = 0.6 m
    pred = gt.copy()
    pred[:, 0] += [0.03, 0.04, 0.0]  # 5 cm Euclidean, 7 cm L1
    m = pose_metrics(pred, gt)
    assert np.isclose(m["mpjpe_cm"], 5.0 / 19)
    assert np.isclose(m["mae_cm"], 7.0 / 57)
    assert m["pck0.5"] == 100.0
    pred[:, 1] += [0.0, 0.0, 0.31]  # beyond 0.5 * 0.6 m
    assert np.isclose(pose_metrics(pred, gt)["pck0.5"], 100 * 18 / 19)
