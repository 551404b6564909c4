"""mmMesh-style estimator: per-frame point encoder + temporal recurrent network, on 10 frames.

mmMesh (Xue et al., MobiSys 2021) encodes each radar frame with a PointNet++-like "base module"
and an anchor-point module, aggregates frames with a global LSTM, and regresses SMPL pose/shape
parameters from which the mesh and joints follow. The mmJoints paper runs the mmMesh baseline on
10 consecutive frames and trains it with the skeletal pose loss.

Deviations (named in the docs):

* **predicts the 19 joints directly** (a linear head), not SMPL parameters and a mesh: MARS has
  no SMPL fits, and mmJoints only consumes joints;
* the per-frame encoder is a PointNet (shared MLP + masked max and mean pooling) without the
  anchor-point grouping module;
* a 2-layer LSTM (hidden 128) over the frame embeddings; the last step's output feeds the head.
"""

from __future__ import annotations

import torch
from torch import nn

from mmsight.joints.estimators.base import (
    N_JOINTS,
    InputNorm,
    TorchPoseEstimator,
    build_seeded,
    masked_max,
    masked_mean,
    register_estimator,
)

__all__ = ["MmMeshLite", "build_mmmesh"]


class MmMeshLite(nn.Module):
    """PointNet per frame -> LSTM over frames -> joints. ``forward(pts [B, T, M, 5], counts [B, T])``."""

    def __init__(self, n_frames: int = 10, point_dims: tuple[int, ...] = (64, 128), frame_dim: int = 128,
                 hidden: int = 128, layers: int = 2, dropout: float = 0.1, n_joints: int = N_JOINTS) -> None:
        super().__init__()
        self.n_frames, self.n_joints = n_frames, n_joints
        self.norm = InputNorm(5)
        mlp: list[nn.Module] = []
        d = 5
        for h in point_dims:
            mlp += [nn.Linear(d, h), nn.ReLU()]
            d = h
        self.point_mlp = nn.Sequential(*mlp)
        self.frame_proj = nn.Sequential(nn.Linear(2 * d + 1, frame_dim), nn.ReLU())
        self.rnn = nn.LSTM(frame_dim, hidden, num_layers=layers, batch_first=True,
                           dropout=dropout if layers > 1 else 0.0)
        self.head = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 3 * n_joints))
        with torch.no_grad():  # start near the output offset (the training mean pose), as the MARS CNN does
            self.head[-1].weight.mul_(0.01)

    def set_output_offset(self, pose: torch.Tensor) -> None:
        with torch.no_grad():
            self.head[-1].bias.copy_(pose.reshape(-1).to(self.head[-1].bias.dtype))

    def forward(self, pts: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
        b, t, m, _ = pts.shape
        valid = torch.arange(m, device=pts.device) < counts.unsqueeze(-1)  # [B, T, M]
        h = self.point_mlp(self.norm(pts, valid))  # [B, T, M, d]
        n = (counts.to(pts.dtype) / m).unsqueeze(-1)  # point count as a feature (radar sparsity)
        f = torch.cat([masked_max(h, valid, 2), masked_mean(h, valid, 2), n], dim=-1)
        seq, _ = self.rnn(self.frame_proj(f))  # [B, T, hidden]
        return self.head(seq[:, -1]).reshape(b, self.n_joints, 3)


@register_estimator("mmmesh")
def build_mmmesh(seed: int = 0, n_frames: int = 10, point_dims: tuple[int, ...] | list[int] = (64, 128),
                 frame_dim: int = 128, hidden: int = 128, layers: int = 2, dropout: float = 0.1) -> TorchPoseEstimator:
    """mmMesh-style estimator on ``n_frames`` (default 10) predicting joints instead of a mesh."""
    cfg = {"seed": int(seed), "n_frames": int(n_frames), "point_dims": [int(x) for x in point_dims],
           "frame_dim": int(frame_dim), "hidden": int(hidden), "layers": int(layers), "dropout": float(dropout)}
    model = build_seeded(seed, lambda: MmMeshLite(n_frames, tuple(point_dims), frame_dim, hidden, layers, dropout))
    return TorchPoseEstimator("mmmesh", model, window=n_frames, config=cfg,
                              train_defaults={"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "batch_size": 64,
                                              "epochs": 40, "weight_decay": 1e-4, "grad_clip": 5.0,
                                              "windows_per_epoch": 4000, "max_val_windows": 3000})
