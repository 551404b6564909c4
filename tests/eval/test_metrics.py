"""mmsight.eval: metrics against hand-computed cases and brute-force / scikit-learn references."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from mmsight import eval as ev
from mmsight.eval.pose import reference_length


def _poses(n: int = 4, j: int = 5, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, j, 3))


def test_pose_errors_hand_computed() -> None:
    true = _poses()
    pred = true + np.array([0.03, 0.04, 0.0])  # every joint 5 cm off
    assert ev.mpjpe(pred, true) == pytest.approx(0.05)
    assert ev.mae(pred, true) == pytest.approx(0.07 / 3)
    assert ev.pck(pred, true, 0.1, 0.51) == 100.0  # 5 cm <= 5.1 cm
    assert ev.pck(pred, true, 0.1, 0.49) == 0.0
    ref = np.array([0.11, 0.11, 0.2, 0.05])  # per sample: the last sample's threshold is 2.5 cm
    assert ev.pck(pred, true, ref, 0.5) == 75.0
    out = ev.pose_errors(pred, true, reference=ref, pck_ratios=(0.5, 0.2))
    assert out["mpjpe_cm"] == pytest.approx(5.0) and out["mae_cm"] == pytest.approx(7 / 3)
    assert out["pck0.5"] == 75.0 and out["pck0.2"] == 0.0
    np.testing.assert_allclose(out["mae_xyz_cm"], [3.0, 4.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(out["mpjpe_joint_cm"], [5.0] * 5)


def test_per_joint_error_isolates_the_wrong_joint() -> None:
    true = _poses()
    pred = true.copy()
    pred[:, 2, 1] += 0.1
    pj = ev.per_joint_error(pred, true)
    np.testing.assert_allclose(pj["mpjpe"], [0, 0, 0.1, 0, 0], atol=1e-12)
    np.testing.assert_allclose(pj["mae_xyz"], [0, 0.1 / 5, 0], atol=1e-12)


def test_reference_length() -> None:
    true = np.zeros((2, 3, 3))
    true[:, 1] = [0.0, 0.0, 0.5]
    np.testing.assert_allclose(reference_length(true, 0, 1), [0.5, 0.5])
    with pytest.raises(ValueError, match="joint_b=7"):
        reference_length(true, 0, 7)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: ev.mpjpe(np.zeros((2, 5, 3)), np.zeros((2, 4, 3))), "same shape"),
        (lambda: ev.mpjpe(np.zeros((2, 5)), np.zeros((2, 5))), "3 dimensions"),
        (lambda: ev.mae(np.zeros((2, 5, 2)), np.zeros((2, 5, 2))), "axis of size 3"),
        (lambda: ev.mpjpe(np.full((1, 1, 3), np.nan), np.zeros((1, 1, 3))), r"pred holds a non-finite value at index \[0, 0, 0\]"),
        (lambda: ev.pck(np.zeros((2, 1, 3)), np.zeros((2, 1, 3)), [0.1, 0.0]), "sample 1"),
        (lambda: ev.pck(np.zeros((2, 1, 3)), np.zeros((2, 1, 3)), [0.1, 0.1, 0.1]), r"\[N\] = \[2\]"),
        (lambda: ev.pck(np.zeros((2, 1, 3)), np.zeros((2, 1, 3)), 0.1, ratio=0), "ratio"),
        (lambda: ev.mpjpe(np.zeros((0, 5, 3)), np.zeros((0, 5, 3))), "no joints"),
    ],
)
def test_pose_bad_input(call, match) -> None:
    with pytest.raises(ValueError, match=match):
        call()


def test_percentage_errors_hand_computed() -> None:
    assert ev.wmape([1.0, 2.0], [2.0, 2.0]) == pytest.approx(25.0)
    assert ev.smape([1.0, 2.0], [2.0, 2.0]) == pytest.approx(100 * (2 / 3) / 2)
    assert ev.smape([0.0, 1.0], [0.0, 1.0]) == 0.0  # 0/0 counts 0
    assert ev.smape([1.0], [0.0]) == pytest.approx(200.0)
    assert np.isnan(ev.wmape([1.0], [0.0]))
    out = ev.regression_errors([[1.0, 3.0]], [[2.0, 2.0]])
    assert out["mae"] == 1.0 and out["mse"] == 1.0 and out["wmape"] == pytest.approx(50.0)
    with pytest.raises(ValueError, match="same shape"):
        ev.wmape([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="true holds a non-finite"):
        ev.smape([1.0], [np.inf])


def _brute_force_retrieval(d: np.ndarray, q: np.ndarray, g: np.ndarray, ranks) -> tuple[dict, float]:
    cmc_hits = {k: 0 for k in ranks}
    aps = []
    for i in range(d.shape[0]):
        ranked = sorted(range(d.shape[1]), key=lambda j: (d[i, j], j))
        correct = [g[j] == q[i] for j in ranked]
        first = correct.index(True)
        for k in ranks:
            cmc_hits[k] += first < k
        precisions = [sum(correct[: r + 1]) / (r + 1) for r, c in enumerate(correct) if c]
        aps.append(np.mean(precisions))
    return {k: 100 * v / d.shape[0] for k, v in cmc_hits.items()}, 100 * float(np.mean(aps))


def test_retrieval_matches_brute_force_and_sklearn() -> None:
    rng = np.random.default_rng(1)
    q = rng.integers(0, 6, size=15)
    g = np.concatenate([np.arange(6), rng.integers(0, 6, size=14)])  # every identity in the gallery
    d = rng.random((15, 20)) + 0.5 * (q[:, None] != g[None, :])  # correct matches tend to be nearer
    ranks = (1, 3, 5)
    want_cmc, want_map = _brute_force_retrieval(d, q, g, ranks)
    assert ev.cmc(d, q, g, ranks) == pytest.approx(want_cmc)
    assert ev.mean_average_precision(d, q, g) == pytest.approx(want_map)
    sk = np.mean([average_precision_score(g == q[i], -d[i]) for i in range(15)]) * 100
    assert ev.mean_average_precision(d, q, g) == pytest.approx(sk)
    out = ev.retrieval_metrics(d, q, g, ranks)
    assert out["rank1"] == want_cmc[1] and out["n_queries"] == 15 and out["n_unmatched"] == 0


def test_retrieval_hand_computed_and_ties() -> None:
    d = np.array([[0.1, 0.2, 0.3], [0.5, 0.5, 0.1]])
    q, g = np.array([7, 8]), np.array([9, 7, 8])
    assert ev.cmc(d, q, g, (1, 2)) == {1: 50.0, 2: 100.0}
    assert ev.mean_average_precision(d, q, g) == pytest.approx(100 * (0.5 + 1.0) / 2)  # ranks 2 and 1
    tie = np.zeros((1, 2))
    assert ev.cmc(tie, [1], [0, 1], (1,)) == {1: 0.0}  # a tie keeps gallery order


def test_retrieval_unmatched_queries_are_an_error_or_counted() -> None:
    d = np.array([[0.1, 0.2], [0.3, 0.4]])
    with pytest.raises(ValueError, match=r"query 1 \(identity 5\) has no match"):
        ev.cmc(d, [1, 5], [1, 2])
    out = ev.retrieval_metrics(d, [1, 5], [1, 2], (1,), skip_unmatched=True)
    assert out["n_queries"] == 1 and out["n_unmatched"] == 1 and out["rank1"] == 100.0
    with pytest.raises(ValueError, match="gallery_ids must be"):
        ev.cmc(d, [1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="ranks must be >= 1"):
        ev.cmc(d, [1, 2], [1, 2], (0,))


def test_detection_metrics() -> None:
    y = np.array([0, 0, 0, 1, 1, 0, 1, 0])
    s = np.array([0.1, 0.2, 0.3, 0.9, 0.8, 0.35, 0.25, 0.05])
    out = ev.binary_detection_metrics(s, y, threshold=0.3)
    # detections at s >= 0.3: indices 2, 3, 4, 5 -> tp 2, fp 2, fn 1
    assert out["precision"] == pytest.approx(0.5) and out["recall"] == pytest.approx(2 / 3)
    assert out["f1"] == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))
    # AUROC by pair counting: positives 0.9, 0.8, 0.25 vs 5 negatives
    pairs = sum((sp > sn) for sp in s[y == 1] for sn in s[y == 0])
    assert out["auroc"] == pytest.approx(pairs / 15)
    thr, f1 = ev.best_f1_threshold(s, y)
    assert ev.binary_detection_metrics(s, y, thr)["f1"] == pytest.approx(f1)
    assert f1 >= out["f1"]
    perfect = ev.binary_detection_metrics([0.1, 0.9], [0, 1])
    assert perfect["auroc"] == 1.0 and perfect["f1"] == 1.0


def test_detection_bad_input() -> None:
    with pytest.raises(ValueError, match="only class 1"):
        ev.binary_detection_metrics([0.1, 0.2], [1, 1])
    with pytest.raises(ValueError, match=r"labels\[1\] = 2"):
        ev.binary_detection_metrics([0.1, 0.2], [0, 2])
    with pytest.raises(ValueError, match="scores holds a non-finite"):
        ev.binary_detection_metrics([np.nan, 0.2], [0, 1])
