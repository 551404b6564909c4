"""P4Transformer-style estimator (the mmBody baseline), sized for a CPU.

P4Transformer (Fan, Yang & Kankanhalli, CVPR 2021) embeds a point-cloud video with a point 4D
convolution — for anchor points sampled by farthest point sampling in each frame, it gathers the
spatial neighbours in a small temporal window of frames ("point tubes"), encodes each neighbour's
displacement (dx, dy, dz, dt) and features with a shared MLP and max-pools them — then adds a 4D
(x, y, z, t) position embedding and runs a transformer encoder over all tube tokens; a max-pool
plus MLP head gives the output. mmBody (Chen et al., ACM MM 2022) uses it on 5 radar frames; the
mmJoints paper uses the mmBody baseline with 5 frames and regresses the skeleton.

Our version keeps that structure with small sizes and these simplifications (named in the docs):

* neighbours are the ``k`` nearest points (kNN) of the anchor in each frame of the temporal
  kernel, not a fixed-radius ball query (radar clouds are sparse, 1-64 points, and a fixed radius
  leaves many anchors empty);
* anchors per frame ``n_anchors`` (default 16), ``k`` = 8, temporal kernel 3 (t-1, t, t+1),
  a 2-layer tube MLP, model width 64, 2 encoder layers, 4 heads (about 0.1 M parameters);
* points are normalised per channel (mean/std of the training points) before the tubes are built,
  and the output layer starts at the training mean pose (bias) with small weights.
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

__all__ = ["P4TransformerLite", "farthest_point_sample", "build_p4t"]


def farthest_point_sample(xyz: torch.Tensor, valid: torch.Tensor, n: int) -> torch.Tensor:
    """Indices ``int64 [..., n]`` of ``n`` farthest-point samples of ``xyz [..., M, 3]``.

    Only points with ``valid [..., M]`` are chosen; starts from the first valid point. If there are
    fewer than ``n`` valid points, the extra samples repeat already chosen (valid) points, so the
    first ``count`` samples are distinct points whenever the cloud has ``count`` distinct points.
    """
    lead = xyz.shape[:-2]
    m = xyz.shape[-2]
    x = xyz.reshape(-1, m, 3)
    v = valid.reshape(-1, m)
    dist = torch.where(v, torch.full_like(x[..., 0], float("inf")), torch.full_like(x[..., 0], -1.0))
    cur = v.to(torch.int64).argmax(dim=-1)  # first valid (0 if none)
    rows = torch.arange(x.shape[0], device=x.device)
    idx = []
    for _ in range(n):
        idx.append(cur)
        d = ((x - x[rows, cur].unsqueeze(1)) ** 2).sum(-1)
        dist = torch.where(v, torch.minimum(dist, d), dist)
        cur = dist.argmax(dim=-1)
    return torch.stack(idx, dim=-1).reshape(*lead, n)


class P4TransformerLite(nn.Module):
    """Point-tube embedding over ``T`` frames + transformer encoder -> ``[B, 19, 3]``.

    ``forward(pts [B, T, M, 5], counts [B, T])``.
    """

    def __init__(self, n_frames: int = 5, n_anchors: int = 16, k: int = 8, temporal_radius: int = 1,
                 dim: int = 64, depth: int = 2, heads: int = 4, mlp_dim: int = 128, dropout: float = 0.1,
                 n_joints: int = N_JOINTS) -> None:
        super().__init__()
        self.n_frames, self.n_anchors, self.k, self.r = n_frames, n_anchors, k, temporal_radius
        self.n_joints = n_joints
        self.norm = InputNorm(5)
        # neighbour encoding: dx, dy, dz, dt, doppler, intensity (+ anchor's doppler, intensity)
        self.tube_mlp = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, dim))
        self.pos = nn.Linear(4, dim)
        layer = nn.TransformerEncoderLayer(dim, heads, mlp_dim, dropout, activation="gelu", batch_first=True,
                                           norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.out_norm = nn.LayerNorm(2 * dim)
        self.head = nn.Sequential(nn.Linear(2 * dim, 256), nn.GELU(), nn.Linear(256, 3 * n_joints))
        with torch.no_grad():  # start near the output offset (the training mean pose), as the MARS CNN does
            self.head[-1].weight.mul_(0.01)

    def set_output_offset(self, pose: torch.Tensor) -> None:
        with torch.no_grad():
            self.head[-1].bias.copy_(pose.reshape(-1).to(self.head[-1].bias.dtype))

    def tubes(self, x: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Point-tube features.

        Args:
            x: normalised points ``[B, T, M, 5]``; valid: ``bool [B, T, M]``.

        Returns:
            ``(features [B, T, S, dim], anchors [B, T, S, 5], anchor_valid bool [B, T, S])``.
        """
        b, t, m, _ = x.shape
        s = min(self.n_anchors, m)
        k = min(self.k, m)
        aidx = farthest_point_sample(x[..., :3], valid, s)  # [B, T, S]
        anchors = torch.gather(x, 2, aidx.unsqueeze(-1).expand(-1, -1, -1, 5))
        counts = valid.sum(-1, keepdim=True)  # [B, T, 1]
        a_valid = torch.arange(s, device=x.device) < counts  # [B, T, S]
        neg = torch.finfo(x.dtype).min
        dim = self.tube_mlp[-1].out_features
        per_offset, has_nb = [], []
        for off in range(-self.r, self.r + 1):
            lo, hi = max(0, -off), min(t, t - off)  # anchor frames whose frame+off exists
            if hi <= lo:
                continue
            a = anchors[:, lo:hi]  # [B, t', S, 5]
            p = x[:, lo + off : hi + off]  # [B, t', M, 5]
            pv = valid[:, lo + off : hi + off]
            d = torch.cdist(a[..., :3].reshape(-1, s, 3), p[..., :3].reshape(-1, m, 3))  # [B t', S, M]
            d = d.masked_fill(~pv.reshape(-1, 1, m), float("inf"))
            dk, ik = d.topk(k, dim=-1, largest=False)  # [B t', S, k]
            nb_valid = torch.isfinite(dk)
            pf = p.reshape(-1, m, 5)
            nb = torch.gather(pf.unsqueeze(1).expand(-1, s, -1, -1), 2, ik.unsqueeze(-1).expand(-1, -1, -1, 5))
            af = a.reshape(-1, s, 5).unsqueeze(2).expand(-1, -1, k, -1)
            dt = torch.full_like(nb[..., :1], float(off))
            feat = torch.cat([nb[..., :3] - af[..., :3], dt, nb[..., 3:5], af[..., 3:5]], dim=-1)
            h = self.tube_mlp(feat)  # [B t', S, k, dim]
            h = h.masked_fill(~nb_valid.unsqueeze(-1), neg).amax(dim=2).reshape(b, hi - lo, s, dim)
            hv = nb_valid.any(-1).reshape(b, hi - lo, s)
            # pad back to all T anchor frames (out of place, autograd-safe)
            h = torch.cat([h.new_full((b, lo, s, dim), neg), h, h.new_full((b, t - hi, s, dim), neg)], dim=1)
            hv = torch.cat([hv.new_zeros((b, lo, s)), hv, hv.new_zeros((b, t - hi, s))], dim=1)
            per_offset.append(h)
            has_nb.append(hv)
        pooled = torch.stack(per_offset, 0).amax(0)
        any_nb = torch.stack(has_nb, 0).any(0)
        pooled = torch.where(any_nb.unsqueeze(-1), pooled, torch.zeros_like(pooled))
        return pooled, anchors, a_valid

    def forward(self, pts: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
        b, t, m, _ = pts.shape
        valid = torch.arange(m, device=pts.device) < counts.unsqueeze(-1)
        x = self.norm(pts, valid)
        feat, anchors, a_valid = self.tubes(x, valid)
        s = feat.shape[2]
        tt = torch.linspace(-1.0, 1.0, t, device=pts.device, dtype=pts.dtype) if t > 1 else torch.zeros(1, device=pts.device)
        pos_in = torch.cat([anchors[..., :3], tt.view(1, t, 1, 1).expand(b, t, s, 1)], dim=-1)
        tokens = (feat + self.pos(pos_in)).reshape(b, t * s, -1)
        tok_valid = a_valid.reshape(b, t * s).clone()
        tok_valid[:, 0] |= ~tok_valid.any(-1)  # never let a sample attend to nothing
        h = self.encoder(tokens, src_key_padding_mask=~tok_valid)
        g = torch.cat([masked_max(h, tok_valid, 1), masked_mean(h, tok_valid, 1)], dim=-1)
        return self.head(self.out_norm(g)).reshape(b, self.n_joints, 3)


@register_estimator("p4t")
def build_p4t(seed: int = 0, n_frames: int = 5, n_anchors: int = 16, k: int = 8, temporal_radius: int = 1,
              dim: int = 64, depth: int = 2, heads: int = 4, mlp_dim: int = 128, dropout: float = 0.1) -> TorchPoseEstimator:
    """P4Transformer-style estimator on ``n_frames`` (default 5, as the mmBody baseline)."""
    cfg = {"seed": int(seed), "n_frames": int(n_frames), "n_anchors": int(n_anchors), "k": int(k),
           "temporal_radius": int(temporal_radius), "dim": int(dim), "depth": int(depth), "heads": int(heads),
           "mlp_dim": int(mlp_dim), "dropout": float(dropout)}
    model = build_seeded(seed, lambda: P4TransformerLite(n_frames, n_anchors, k, temporal_radius, dim, depth, heads,
                                                         mlp_dim, dropout))
    return TorchPoseEstimator("p4t", model, window=n_frames, config=cfg,
                              train_defaults={"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "batch_size": 64,
                                              "epochs": 40, "weight_decay": 1e-4, "grad_clip": 5.0,
                                              "windows_per_epoch": 4000, "max_val_windows": 3000})
