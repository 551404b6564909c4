"""Black-box mmWave pose estimators for mmJoints.

Registered names (see :func:`create_estimator`):

==============  ======  ==========================================================================
name            window  what
==============  ======  ==========================================================================
``mars_cnn``    1       MARS CNN (An & Ogras 2021) on the 8 x 8 x 5 feature map
``p4t``         5       P4Transformer-style point-tube transformer (the mmBody baseline)
``mmmesh``      10      mmMesh-style PointNet + LSTM, predicting joints (not an SMPL mesh)
``m1_upper``    1       MARS CNN trained on upper-body joints only (mmJoints M1)
``m2_lower``    1       MARS CNN trained on lower-body joints only (mmJoints M2)
``m3_random``   1       MARS CNN with random, untrained weights (mmJoints M3)
==============  ======  ==========================================================================

Every estimator maps ``B`` windows of ``window`` frames of ``[N_i, 5]`` points to
``float32 [B, 19, 3]`` joints (m, radar frame). Wrap any other model or service with
:class:`CallableEstimator`.
"""

from mmsight.joints.estimators.base import (
    N_JOINTS,
    CallableEstimator,
    CheckpointError,
    PoseEstimator,
    TorchPoseEstimator,
    WindowPoints,
    available_estimators,
    create_estimator,
    load_estimator,
    register_estimator,
    save_estimator,
)
from mmsight.joints.estimators import crafted, mars_cnn, mmmesh, p4transformer  # noqa: F401  (registers)
from mmsight.joints.estimators.train import (
    TrainResult,
    evaluate_estimator,
    pose_metrics,
    predict_windows,
    train_estimator,
)

__all__ = [
    "N_JOINTS",
    "WindowPoints",
    "PoseEstimator",
    "CallableEstimator",
    "TorchPoseEstimator",
    "CheckpointError",
    "register_estimator",
    "available_estimators",
    "create_estimator",
    "save_estimator",
    "load_estimator",
    "train_estimator",
    "evaluate_estimator",
    "predict_windows",
    "pose_metrics",
    "TrainResult",
]
