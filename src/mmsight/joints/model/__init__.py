"""The mmJoints network (Sec. 4-6 of the paper), pure torch; see ``docs/joints.md``.

Modules: ``config`` (dataclass configuration, presets ``paper`` / ``tiny``, YAML), ``layers``
(SetTransformer blocks), ``pose_vae`` (VAE, pose basis), ``signal_encoder`` (point-transformer over
K frames), ``distribution_generator`` (eq. 11-15), ``surrogate`` (eq. 16-19), ``heads`` (eq. 20),
``mmjoints`` (the assembled network).
"""

from mmsight.joints.model.config import MMJointsConfig, load_config, preset
from mmsight.joints.model.distribution_generator import GMMParams, LatentSignalDistributionGenerator
from mmsight.joints.model.heads import DescriptorHeads, DescriptorStage, JointFrameEncoder
from mmsight.joints.model.mmjoints import MMJoints, MMJointsOutput
from mmsight.joints.model.pose_vae import PoseBasis, PoseVAE
from mmsight.joints.model.signal_encoder import SignalEncoder
from mmsight.joints.model.surrogate import SurrogatePose

__all__ = [
    "MMJointsConfig", "load_config", "preset", "GMMParams", "LatentSignalDistributionGenerator",
    "DescriptorHeads", "DescriptorStage", "JointFrameEncoder", "MMJoints", "MMJointsOutput", "PoseBasis",
    "PoseVAE", "SignalEncoder", "SurrogatePose",
]
