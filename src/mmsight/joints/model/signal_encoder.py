"""Signal modelling of mmJoints (Sec. 4.2): a point-transformer encoder over ``K`` radar frames.

:class:`SignalEncoder` maps a window of ``K`` zero-padded point clouds ``[B, K, M, 5]`` (x, y, z in
metres, doppler in m/s, intensity) with point counts ``[B, K]`` to the Gaussian signal feature
``x_D^S = N(mu_S, diag(sigma_S^2))`` of size ``D_S``:

1. per point: x, y, z, doppler and log(1 + intensity) are standardised with training statistics
   (buffers ``point_mean``, ``point_std``), embedded by an MLP, and given a learned frame-time
   embedding (the "4D" part of a point-4D transformer: space from the coordinates, time from the
   frame index);
2. ``point_layers`` masked self-attention blocks inside each frame (points attend to the points of
   their own frame; padding is masked);
3. each frame is pooled (masked max and mean) to one token; ``temporal_layers`` attention blocks
   mix the ``K`` frame tokens;
4. the frame tokens are pooled (mean and last frame) and two linear layers give ``mu_S`` and
   ``log sigma_S^2``.

It also carries the classifier over pose clusters used by the cross-entropy term of eq. 6
(:meth:`SignalEncoder.cluster_logits`). The losses of eq. 6 are :func:`triplet_loss` and the
functions of :mod:`torch.nn.functional`; the training loop lives in ``mmsight.joints.training``.
"""

from __future__ import annotations

import torch
from torch import nn

from mmsight.joints.model.layers import SAB, masked_max, masked_mean, mlp

__all__ = ["SignalEncoder", "point_features", "triplet_loss"]


def point_features(points: torch.Tensor) -> torch.Tensor:
    """Raw points ``[..., 5]`` -> model features ``[..., 5]``: x, y, z, doppler, log(1 + intensity)."""
    return torch.cat([points[..., :4], torch.log1p(points[..., 4:5].clamp_min(0.0))], dim=-1)


class SignalEncoder(nn.Module):
    """Point-transformer encoder of a ``K``-frame radar window -> ``(mu_S, log sigma_S^2)``.

    Args:
        dim: ``D_S``.
        window: ``K``.
        d_model: width of the frame tokens and the temporal blocks.
        heads, point_layers, temporal_layers, ff_mult, dropout: sizes.
        n_clusters: number of pose clusters for the CE head (0 = no head).
        point_dim: width of the point tokens inside a frame (smaller than ``d_model``: the
            point-level blocks run on ``K * M`` tokens per window and dominate the cost).
    """

    def __init__(self, dim: int = 64, window: int = 5, d_model: int = 64, heads: int = 4, point_layers: int = 1,
                 temporal_layers: int = 1, ff_mult: int = 2, dropout: float = 0.1, n_clusters: int = 0,
                 point_dim: int = 32) -> None:
        super().__init__()
        self.dim = dim
        self.window = window
        self.register_buffer("point_mean", torch.zeros(5))
        self.register_buffer("point_std", torch.ones(5))
        point_heads = heads if point_dim % heads == 0 else 1
        self.embed = mlp([5, point_dim, point_dim])
        self.point_time = nn.Parameter(torch.zeros(window, point_dim))
        self.time = nn.Parameter(torch.zeros(window, d_model))
        self.point_blocks = nn.ModuleList([SAB(point_dim, point_heads, ff_mult, dropout) for _ in range(point_layers)])
        self.frame_proj = nn.Linear(2 * point_dim, d_model)
        self.temporal_blocks = nn.ModuleList([SAB(d_model, heads, ff_mult, dropout) for _ in range(temporal_layers)])
        self.out = mlp([2 * d_model, 2 * d_model, 2 * dim])
        self.cluster_head = nn.Linear(dim, n_clusters) if n_clusters > 0 else None

    @torch.no_grad()
    def set_normalization(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Set the standardisation of :func:`point_features` (``[5]`` each) from training points."""
        self.point_mean.copy_(torch.as_tensor(mean, dtype=self.point_mean.dtype))
        self.point_std.copy_(torch.as_tensor(std, dtype=self.point_std.dtype).clamp_min(1e-6))

    def forward(self, points: torch.Tensor, counts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``points [B, K, M, 5]``, ``counts int [B, K]`` -> ``(mu_S [B, D_S], logvar_S [B, D_S])``."""
        b, k, m, _ = points.shape
        if k != self.window:
            raise ValueError(f"the signal encoder expects windows of {self.window} frames, got {k}")
        valid = torch.arange(m, device=points.device) < counts[..., None]  # [B, K, M]
        x = (point_features(points) - self.point_mean) / self.point_std
        x = self.embed(x) + self.point_time[None, :, None, :]  # [B, K, M, d_point]
        x = x * valid[..., None]
        xf = x.reshape(b * k, m, -1)
        vf = valid.reshape(b * k, m)
        for blk in self.point_blocks:
            xf = blk(xf, vf)
        tok = torch.cat([masked_max(xf, vf, 1), masked_mean(xf, vf, 1)], dim=-1)  # [B*K, 2 d_point]
        tok = self.frame_proj(tok).view(b, k, -1) + self.time[None]
        for blk in self.temporal_blocks:
            tok = blk(tok)
        h = self.out(torch.cat([tok.mean(dim=1), tok[:, -1]], dim=-1))
        mu, logvar = h.split(self.dim, dim=-1)
        return mu, logvar.clamp(-10.0, 4.0)

    def cluster_logits(self, mu: torch.Tensor) -> torch.Tensor:
        """Pose-cluster logits ``[B, C]`` from ``mu_S`` (the CE term of eq. 6)."""
        if self.cluster_head is None:
            raise RuntimeError("this encoder was built without a cluster head (n_clusters=0)")
        return self.cluster_head(mu)


def triplet_loss(anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor, margin: float) -> torch.Tensor:
    """Mean ``max(0, ||a - p|| - ||a - n|| + margin)`` over rows of ``[B, D]`` features."""
    d_ap = (anchor - positive).norm(dim=-1)
    d_an = (anchor - negative).norm(dim=-1)
    return torch.relu(d_ap - d_an + margin).mean()
