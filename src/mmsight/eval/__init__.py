"""Metrics shared by every mmsight system (layer ``eval`` of the architecture map).

Each function takes numpy arrays (or anything ``np.asarray`` accepts), checks shapes and finiteness,
and raises ``ValueError`` naming the argument when they are wrong. All errors in SI units unless a
name says otherwise (``*_cm``); percentages are in %.

=================  =============================================================================
module             metrics
=================  =============================================================================
``pose``           MPJPE, MAE, PCK at fractions of a reference length, per joint and per axis
``regression``     sMAPE, wMAPE (mmJoints' descriptor errors), MAE, MSE
``retrieval``      CMC (rank-k accuracy) and mean average precision (re-identification)
``detection``      AUROC, average precision, F1 at a threshold, best-F1 threshold (anomaly detection)
=================  =============================================================================
"""

from __future__ import annotations

from mmsight.eval.detection import binary_detection_metrics, best_f1_threshold
from mmsight.eval.pose import mae, mpjpe, pck, per_joint_error, pose_errors
from mmsight.eval.regression import regression_errors, smape, wmape
from mmsight.eval.retrieval import cmc, mean_average_precision, retrieval_metrics

__all__ = [
    "best_f1_threshold",
    "binary_detection_metrics",
    "cmc",
    "mae",
    "mean_average_precision",
    "mpjpe",
    "pck",
    "per_joint_error",
    "pose_errors",
    "regression_errors",
    "retrieval_metrics",
    "smape",
    "wmape",
]
