"""Binary detection metrics from anomaly scores (mmAnomaly: concealed object / intruder / fall).

``scores [N]`` (higher = more anomalous), ``labels [N]`` in {0, 1}. Threshold-free metrics (AUROC, AP)
come from scikit-learn; F1, precision and recall at a given threshold (``score >= threshold`` is a
detection), and the threshold that maximises F1 (to be chosen on a validation split, not the test).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score

from mmsight.eval._checks import as_float_array


def _scores_labels(scores: object, labels: object) -> tuple[np.ndarray, np.ndarray]:
    s = as_float_array(scores, "scores", ndim=1)
    y = np.asarray(labels)
    if y.shape != s.shape:
        raise ValueError(f"labels must have the shape of scores {s.shape}, got {y.shape}")
    if not np.isin(y, (0, 1)).all():
        bad = int(np.flatnonzero(~np.isin(y, (0, 1)))[0])
        raise ValueError(f"labels must be 0 or 1; labels[{bad}] = {y[bad].item()!r}")
    y = y.astype(np.int64)
    if y.min() == y.max():
        raise ValueError(f"labels hold only class {int(y[0])}: AUROC and AP need both classes")
    return s, y


def best_f1_threshold(scores: object, labels: object) -> tuple[float, float]:
    """``(threshold, f1)``: the score threshold with the highest F1 on these samples."""
    s, y = _scores_labels(scores, labels)
    precision, recall, thresholds = precision_recall_curve(y, s)
    p, r = precision[:-1], recall[:-1]
    f1 = np.divide(2 * p * r, p + r, out=np.zeros_like(p), where=(p + r) > 0)
    i = int(np.argmax(f1))
    return float(thresholds[i]), float(f1[i])


def binary_detection_metrics(scores: object, labels: object, threshold: float | None = None) -> dict[str, Any]:
    """``auroc``, ``ap`` and, at ``threshold`` (default: the best-F1 threshold on these samples, which
    flatters F1), ``f1``, ``precision``, ``recall``, ``threshold``; all in [0, 1]; ``n``, ``n_positive``."""
    s, y = _scores_labels(scores, labels)
    if threshold is None:
        threshold, _ = best_f1_threshold(s, y)
    pred = s >= threshold
    tp = int((pred & (y == 1)).sum())
    fp = int((pred & (y == 0)).sum())
    fn = int((~pred & (y == 1)).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"auroc": float(roc_auc_score(y, s)), "ap": float(average_precision_score(y, s)),
            "f1": f1, "precision": precision, "recall": recall, "threshold": float(threshold),
            "n": int(s.size), "n_positive": int(y.sum())}
