"""MARS CNN (An & Ogras, ACM TECS 2021): one radar frame -> 19 joints.

Architecture, as in the paper and its public Keras script (``MARS_model.py`` in SizheAn/MARS):

====================================  ==================================================
input                                 ``8 x 8 x 5`` feature map (64 zero-padded points)
Conv2D 16 @ 3x3, stride 1, same, ReLU  then Dropout 0.3
Conv2D 32 @ 3x3, stride 1, same, ReLU  then Dropout 0.3, BatchNorm (Keras momentum 0.95)
Flatten (2048) -> Dense 512, ReLU      then BatchNorm (momentum 0.95), Dropout 0.4
Dense 57, linear                       19 joints x (x, y, z), laid out as 19 x, 19 y, 19 z
====================================  ==================================================

MARS trains it with Adam (lr 1e-3, beta_1 0.5), MSE loss on coordinates in metres, batch 128,
150 epochs. We keep all of that, Keras's Glorot-uniform weight init, and its BatchNorm epsilon
(1e-3). Deviations (documented in ``docs/joints_estimators.md``):

* **input normalisation** (``normalize_input=True``, default): the valid points are standardised
  per channel with the training split's mean/std (padding stays 0). MARS's script feeds its
  stored feature maps as they are; with raw values (intensity 2-2500, y around 1.7 m) our port
  underfits badly (training MAE stays at the predict-the-mean level, ~9 cm); ``False`` restores
  the raw input;
* **output-layer initialisation**: bias = training-set mean pose (instead of 0) and the Glorot
  weights scaled by ``head_init_scale`` (default 0.01). With the plain Glorot init the untrained
  output has a spread of ~1 m around the bias, and the network spends its first epochs (and,
  with MARS's heavy dropout, most of its capacity) shrinking it. Initialisation only: the
  architecture and the trained function class are unchanged;
* the model is selected on the validate split (best epoch, early stopping) rather than run to a
  fixed 150 epochs and evaluated at the last one.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from mmsight.joints.estimators.base import (
    N_JOINTS,
    InputNorm,
    TorchPoseEstimator,
    build_seeded,
    register_estimator,
)
from mmsight.joints.mars_data import MAX_POINTS

__all__ = ["MarsCNN", "build_mars_cnn"]

#: MARS's optimiser settings (Keras Adam(lr=0.001, beta_1=0.5), epsilon 1e-7, batch 128).
MARS_TRAIN_DEFAULTS: dict[str, Any] = {"lr": 1e-3, "betas": (0.5, 0.999), "eps": 1e-7, "batch_size": 128,
                                       "epochs": 150}


class MarsCNN(nn.Module):
    """The MARS CNN on the last frame of a window.

    ``forward(pts [B, K, 64, 5], counts [B, K]) -> [B, n_joints, 3]``; only frame ``K-1`` is used.
    """

    def __init__(
        self,
        n_joints: int = N_JOINTS,
        conv_channels: Sequence[int] = (16, 32),
        dense: int = 512,
        conv_dropout: float = 0.3,
        dense_dropout: float = 0.4,
        bn_momentum: float = 0.95,
        normalize_input: bool = True,
        head_init_scale: float = 0.01,
        head_init_joints: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        self.n_joints = n_joints
        self.normalize_input = normalize_input
        self.norm = InputNorm(5)
        c1, c2 = conv_channels
        torch_momentum = 1.0 - bn_momentum  # Keras keeps `momentum` of the old value, torch of the new
        self.features = nn.Sequential(
            nn.Conv2d(5, c1, 3, padding=1), nn.ReLU(), nn.Dropout(conv_dropout),
            nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.Dropout(conv_dropout),
            nn.BatchNorm2d(c2, eps=1e-3, momentum=torch_momentum),
        )  # fmt: skip
        self.dense = nn.Sequential(
            nn.Flatten(), nn.Linear(c2 * 64, dense), nn.ReLU(),
            nn.BatchNorm1d(dense, eps=1e-3, momentum=torch_momentum), nn.Dropout(dense_dropout),
        )  # fmt: skip
        self.head = nn.Linear(dense, 3 * n_joints)
        for m in self.modules():  # Keras defaults: glorot_uniform kernels, zero biases
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
        if head_init_scale != 1.0:
            joints = range(n_joints) if head_init_joints is None else head_init_joints
            rows = [c * n_joints + int(j) for c in range(3) for j in joints]  # x-, y-, z-blocks
            with torch.no_grad():
                self.head.weight[rows] *= head_init_scale

    def set_output_offset(self, pose: torch.Tensor) -> None:
        """Initialise the output bias to ``pose [n_joints, 3]`` (m), in MARS's x-block/y-block/z-block layout."""
        with torch.no_grad():
            self.head.bias.copy_(pose.T.reshape(-1).to(self.head.bias.dtype))

    def feature_map(self, pts: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
        """Last frame as a channels-first MARS feature map ``[B, 5, 8, 8]``."""
        p = pts[:, -1]
        if p.shape[1] != MAX_POINTS:
            raise ValueError(f"MARS CNN needs {MAX_POINTS} padded points per frame, got {p.shape[1]}")
        if self.normalize_input:
            valid = torch.arange(MAX_POINTS, device=p.device) < counts[:, -1, None]
            p = self.norm(p, valid)
        # point k -> cell (k // 8, k % 8); channels last -> first
        return p.reshape(p.shape[0], 8, 8, 5).permute(0, 3, 1, 2)

    def forward(self, pts: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
        x = self.dense(self.features(self.feature_map(pts, counts)))
        out = self.head(x)  # [B, 57] = 19 x, 19 y, 19 z
        return out.reshape(-1, 3, self.n_joints).transpose(1, 2)


def mars_cnn_estimator(name: str, *, seed: int = 0, normalize_input: bool = True, dense: int = 512,
                       conv_channels: Sequence[int] = (16, 32), conv_dropout: float = 0.3,
                       dense_dropout: float = 0.4, head_init_scale: float = 0.01, trainable: bool = True,
                       loss_joints: Sequence[int] | None = None, extra_config: dict | None = None) -> TorchPoseEstimator:
    """Shared constructor for the MARS CNN and the crafted models built on its architecture.

    ``head_init_scale`` applies to the output rows of ``loss_joints`` (all joints if None); the
    other rows keep the plain Glorot init.
    """
    cfg = {"seed": int(seed), "normalize_input": bool(normalize_input), "dense": int(dense),
           "conv_channels": [int(c) for c in conv_channels], "conv_dropout": float(conv_dropout),
           "dense_dropout": float(dense_dropout), "head_init_scale": float(head_init_scale), **(extra_config or {})}
    model = build_seeded(seed, lambda: MarsCNN(N_JOINTS, tuple(conv_channels), dense, conv_dropout,
                                               dense_dropout, 0.95, normalize_input, head_init_scale, loss_joints))
    return TorchPoseEstimator(name, model, window=1, config=cfg, trainable=trainable,
                              loss_joints=loss_joints, train_defaults=MARS_TRAIN_DEFAULTS)


@register_estimator("mars_cnn")
def build_mars_cnn(seed: int = 0, normalize_input: bool = True, dense: int = 512,
                   conv_channels: Sequence[int] = (16, 32), conv_dropout: float = 0.3,
                   dense_dropout: float = 0.4, head_init_scale: float = 0.01) -> TorchPoseEstimator:
    """The MARS CNN (window 1). ``dense``/``conv_channels`` shrink it for tests; defaults are MARS's."""
    return mars_cnn_estimator("mars_cnn", seed=seed, normalize_input=normalize_input, dense=dense,
                              conv_channels=conv_channels, conv_dropout=conv_dropout, dense_dropout=dense_dropout,
                              head_init_scale=head_init_scale)
