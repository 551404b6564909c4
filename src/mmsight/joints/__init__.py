"""mmJoints: sensing and reliability descriptors for the joints of black-box mmWave pose estimators.

Public names are re-exported lazily (PEP 562): ``import mmsight.joints`` costs nothing, and
``from mmsight.joints import signal_strength`` imports only the module that defines it (torch is
loaded only by the modules that need it). To export a name, add it to ``_EXPORTS``.

Modules: ``descriptors`` (eq. 1-3, joint types), ``divergence`` (KL, Jeffrey, eq. 16-18 bound),
``losses`` (eq. 12-14 Hungarian L1, OPL of eq. 5), ``gmm`` (BIC mixtures, pose-basis clusters);
``model`` (the mmJoints network), ``pipeline`` (samples, checkpoints), ``training`` (staged
training), ``downstream`` (refinement, activity), ``evaluate`` (metrics, tables, ``describe``).
See ``docs/joints.md``.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    # black-box pose estimators and MARS data (docs/joints_estimators.md)
    "PoseEstimator": "estimators",
    "CallableEstimator": "estimators",
    "create_estimator": "estimators",
    "available_estimators": "estimators",
    "load_estimator": "estimators",
    "save_estimator": "estimators",
    "train_estimator": "estimators",
    "evaluate_estimator": "estimators",
    "pose_metrics": "estimators",
    "CheckpointError": "estimators",
    "load_mars_npz": "mars_data",
    "MarsFrames": "mars_data",
    "MARS19": "mars_data",
    "MARS19_NAMES": "mars_data",
    "MARS19_UPPER": "mars_data",
    "MARS19_LOWER": "mars_data",
    "feature_map_8x8x5": "mars_data",
    "make_windows": "mars_data",
    "WindowIndex": "mars_data",
    "make_synthetic_frames": "mars_data",
    # descriptors
    "KINECT25_TORSO": "descriptors",
    "KINECT25_TO_MARS19": "descriptors",
    "MARS19_TORSO": "descriptors",
    "DEFAULT_DISTANCE_FLOOR": "descriptors",
    "DEFAULT_UNITS_PER_METRE": "descriptors",
    "JOINT_TYPE_NAMES": "descriptors",
    "DescriptorReference": "descriptors",
    "JointTypes": "descriptors",
    "signal_strength": "descriptors",
    "sensing_score": "descriptors",
    "reliability_score": "descriptors",
    "reliability_from_distance": "descriptors",
    "kappa_midpoint": "descriptors",
    "torso_lengths": "descriptors",
    "fit_descriptor_reference": "descriptors",
    "joint_types": "descriptors",
    # divergence
    "kl_diag_gaussians": "divergence",
    "jeffrey_diag_gaussians": "divergence",
    "weighted_jeffrey_bound": "divergence",
    "gmm_jeffrey_bound": "divergence",
    "gmm_log_pdf": "divergence",
    "sample_gmm": "divergence",
    "mc_jeffrey_divergence": "divergence",
    # losses
    "component_cost_matrix": "losses",
    "hungarian_l1_loss": "losses",
    "orthogonal_projection_loss": "losses",
    "basis_orthogonality_loss": "losses",
    "cosine_matrix": "losses",
    "orthogonality_report": "losses",
    # gmm
    "GMMFit": "gmm",
    "TopClusters": "gmm",
    "fit_gmm_bic": "gmm",
    "top_clusters_by_score": "gmm",
    # the mmJoints network, training, downstream models and evaluation (docs/joints.md section 8)
    "MMJoints": "model.mmjoints",
    "MMJointsConfig": "model.config",
    "load_config": "model.config",
    "MMJointsBundle": "pipeline",
    "build_samples": "pipeline",
    "descriptor_targets": "pipeline",
    "run_mmjoints": "pipeline",
    "train_core": "training",
    "train_mmjoints": "training",
    "PoseRefiner": "downstream",
    "ActivityLSTM": "downstream",
    "smape": "evaluate",
    "wmape": "evaluate",
    "evaluate": "evaluate",
    "evaluate_bundle": "evaluate",
    "describe": "evaluate",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
