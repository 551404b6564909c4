"""The assembled mmJoints network (pure torch; training is in ``mmsight.joints.training``).

Data flow for one window (Fig. 3, Sec. 3.1):

============================  =====================================================================
step                          tensors
============================  =====================================================================
1a signal feature             ``points [B, K, M, 5]``, ``counts [B, K]`` -> ``mu_S, log sigma_S^2 [B, D_S]``
1b pose feature               black-box skeleton ``[B, J, 3]`` -> ``p_pred = mu_p [B, D_p]``
2  latent signal distribution ``p_pred`` -> ``P_G``: ``phi [B, G]``, ``mu, sigma^2 [B, G, D_S]``
3a divergence                 ``{phi_i J(P_S, P_c^i)} [B, G]`` (eq. 18 terms)
3b surrogate pose             ``p_refine [B, D_p]``; decoded to a skeleton ``[B, J, 3]``
3c descriptors                ``xi, kappa [B, J]`` from ``p_pred``, ``p_refine``, the last frame
============================  =====================================================================

The sizes that depend on the training data (``G`` mixture components, ``C`` pose clusters) are
constructor arguments and are stored with the checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from mmsight.joints.model.config import MMJointsConfig
from mmsight.joints.model.distribution_generator import GMMParams, LatentSignalDistributionGenerator
from mmsight.joints.model.heads import DescriptorStage
from mmsight.joints.model.pose_vae import PoseVAE
from mmsight.joints.model.signal_encoder import SignalEncoder
from mmsight.joints.model.surrogate import SurrogatePose

__all__ = ["MMJoints", "MMJointsOutput", "build_surrogate", "build_descriptor_stage"]


@dataclass
class MMJointsOutput:
    """Everything one forward pass computes.

    Attributes:
        xi: sensing score ``[B, J]`` (configured scale).
        kappa: reliability score ``[B, J]``.
        xi_unit: sensing score with the paper's scale 1 ``[B, J]``.
        p_pred: pose feature of the black-box estimate ``[B, D_p]``.
        p_refine: surrogate pose feature ``[B, D_p]``.
        surrogate_pose: decoded surrogate skeleton ``[B, J, 3]`` (m).
        mu_s, logvar_s: signal feature ``[B, D_S]``.
        gmm: latent signal distribution predicted for ``p_pred``.
        div_terms: ``phi_i J(P_S, P_c^i)`` ``[B, G]``; ``div_bound``: their sum ``[B]`` (nats).
    """

    xi: torch.Tensor
    kappa: torch.Tensor
    xi_unit: torch.Tensor
    p_pred: torch.Tensor
    p_refine: torch.Tensor
    surrogate_pose: torch.Tensor
    mu_s: torch.Tensor
    logvar_s: torch.Tensor
    gmm: GMMParams
    div_terms: torch.Tensor
    div_bound: torch.Tensor


def build_surrogate(config: MMJointsConfig, *, use_divergence: bool = True, use_signal: bool = True) -> SurrogatePose:
    """A :class:`SurrogatePose` sized by ``config`` (ablation switches for Table 10(b))."""
    s = config.surrogate
    return SurrogatePose(config.pose.latent_dim, config.signal.dim, s.d_model, s.heads, s.layers, s.hidden,
                         config.distribution.div_scale, use_divergence, use_signal)


def build_descriptor_stage(config: MMJointsConfig, *, use_signal: bool = True, use_refine: bool = True) -> DescriptorStage:
    """A :class:`DescriptorStage` sized by ``config`` (ablation switches for Table 10(a))."""
    h = config.heads
    separate = not (isinstance(h.xi_scale, (int, float)) and float(h.xi_scale) == 1.0)
    return DescriptorStage(config.n_joints, config.pose.latent_dim, config.signal.dim, h.frame_dim, h.frame_heads,
                           h.hourglass, h.dropout, separate, use_signal, use_refine)


class MMJoints(nn.Module):
    """mmJoints: black-box skeleton + radar window -> per-joint ``(xi, kappa)``.

    Args:
        config: sizes (``MMJointsConfig``).
        n_components: ``G``, components of the latent signal distribution.
        n_clusters: ``C``, pose clusters (classes of the signal encoder's CE head).
    """

    def __init__(self, config: MMJointsConfig, n_components: int, n_clusters: int) -> None:
        super().__init__()
        self.config = config
        self.n_components, self.n_clusters = int(n_components), int(n_clusters)
        p, s, d = config.pose, config.signal, config.distribution
        self.pose_vae = PoseVAE(config.n_joints, p.latent_dim, p.hidden)
        self.signal_encoder = SignalEncoder(s.dim, s.window, s.d_model, s.heads, s.point_layers, s.temporal_layers,
                                            s.ff_mult, s.dropout, n_clusters, s.point_dim)
        self.generator = LatentSignalDistributionGenerator(p.latent_dim, s.dim, self.n_components, d.d_model, d.heads,
                                                           d.layers, d.inducing, d.var_floor)
        self.surrogate = build_surrogate(config)
        self.descriptor = build_descriptor_stage(config)

    @property
    def window(self) -> int:
        """``K``, radar frames per window."""
        return self.config.signal.window

    def encode_pose(self, pose: torch.Tensor) -> torch.Tensor:
        """Skeletons ``[B, J, 3]`` (m) -> pose features ``mu_p [B, D_p]``."""
        return self.pose_vae.encode(pose)[0]

    def encode_signal(self, points: torch.Tensor, counts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Windows ``[B, K, M, 5]`` + counts ``[B, K]`` -> ``(mu_S, log sigma_S^2)`` ``[B, D_S]``."""
        return self.signal_encoder(points, counts)

    def forward(self, points: torch.Tensor, counts: torch.Tensor, pred_pose: torch.Tensor) -> MMJointsOutput:
        """Run steps 1-3 of Fig. 3.

        Args:
            points: ``float32 [B, K, M, 5]`` zero-padded radar frames, oldest first.
            counts: ``int64 [B, K]`` real points per frame.
            pred_pose: ``float32 [B, J, 3]`` the black-box estimate for the last frame (m).
        """
        p_pred = self.encode_pose(pred_pose)
        mu_s, logvar_s = self.encode_signal(points, counts)
        var_s = logvar_s.exp()
        gmm = self.generator(p_pred)
        sur = self.surrogate(p_pred, mu_s, var_s, gmm)
        surrogate_pose = self.pose_vae.decode(sur.p_refine)
        desc = self.descriptor(p_pred, pred_pose, sur.p_refine, surrogate_pose, mu_s, points[:, -1], counts[:, -1])
        return MMJointsOutput(xi=desc.xi, kappa=desc.kappa, xi_unit=desc.xi_unit, p_pred=p_pred,
                              p_refine=sur.p_refine, surrogate_pose=surrogate_pose, mu_s=mu_s, logvar_s=logvar_s,
                              gmm=gmm, div_terms=sur.terms, div_bound=sur.bound)

    def num_parameters(self) -> int:
        """Trainable parameters."""
        return sum(p.numel() for p in self.parameters())
