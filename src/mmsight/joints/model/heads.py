"""Descriptor generation of mmJoints (Sec. 6.3, eq. 20).

Two pieces:

* :class:`JointFrameEncoder` - the "feature of the current signal frame" of Sec. 6.3, a set
  encoder over the points of the window's last frame. Its queries are the joints: for each joint
  anchor (the black-box estimate, and the decoded surrogate pose when available) every point
  contributes a value and an attention logit computed from the point's position *relative to the
  joint* (offset and distance, point-transformer style) and its doppler and intensity; a masked
  softmax over the points pools them into one vector per joint. Beside the learned vector, each
  anchor gets three explicit numbers: ``log(1 + psi)`` at the anchor (the signal strength of
  Sec. 2.2 evaluated where the joint is believed to be), the distance to the nearest point, and
  the number of points within 15 cm. The attention looks at the 16 nearest points of each joint
  (they dominate ``psi``, which falls as ``1 / d^2``); the explicit numbers use all points.
* :class:`DescriptorHeads` - the two-branch hourglass MLP (linear layers, widths going down then
  up, as in Sec. 6.3) that maps ``[p_pred, p_refine, mu_S, frame features]`` to the sensing score
  ``xi [B, J]`` and the reliability score ``kappa [B, J]``. A per-joint linear skip from each
  joint's frame features to its logits is added to the hourglass output. The xi branch also
  predicts the paper-formula score (scale 1, a near 0/1 step on MARS) as a second output when the
  primary score uses another scale. The loss is eq. 20, :func:`descriptor_loss`.

The heads learn *corrections* to two closed-form priors (our addition, see ``docs/joints.md``):
the sensing score of eq. 1 evaluated at the black-box joint positions, and, when the surrogate pose
is available, the reliability score of eq. 2-3 evaluated on the distance between the black-box
joints and the decoded surrogate pose (the paper's role for the surrogate: a proxy for the ground
truth). Each prior enters its output logit with a learned weight (initialised to 1).

``use_signal`` / ``use_refine`` switch inputs off for the ablation of Table 10(a).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from mmsight.joints.model.layers import mlp
from mmsight.joints.model.signal_encoder import point_features

__all__ = ["JointFrameEncoder", "HourglassMLP", "DescriptorHeads", "DescriptorOutput", "descriptor_loss",
           "anchor_statistics"]

#: Radius (m) of the explicit point count around a joint anchor.
COUNT_RADIUS = 0.15

#: Bound (logits) of the closed-form prior of a scale-1 sensing score. With s = 1, ``psi - psi_bar``
#: is in the thousands on MARS, so a +-10 bound would start every joint at sigmoid(+-10) or beyond:
#: the sigmoid saturates (in float32 it rounds to exactly 0 or 1 once the learned part adds a few
#: logits), its gradient vanishes and the output cannot learn the joints where the prior is wrong.
#: +-3 keeps the step's location and sign and leaves a usable gradient (sigmoid'(3) = 0.045).
UNIT_PRIOR_CLAMP = 3.0


def anchor_statistics(points: torch.Tensor, valid: torch.Tensor, anchors: torch.Tensor, floor: float = 0.05) -> torch.Tensor:
    """Explicit per-joint signal numbers ``[B, J, 3]`` for anchors ``[B, J, 3]`` and one frame of points.

    Columns: ``log(1 + psi)`` with ``psi = sum_n I_n / max(d, floor)^2`` (as in
    ``mmsight.joints.descriptors.signal_strength``), the distance (m, capped at 2) to the nearest
    point, and the number of points within ``COUNT_RADIUS`` (divided by 10).

    Args:
        points: ``[B, M, 5]`` raw points (x, y, z in m, doppler, intensity).
        valid: ``bool [B, M]``.
        anchors: joint positions ``[B, J, 3]`` (m).
    """
    rel = points[:, None, :, :3] - anchors[:, :, None, :]  # [B, J, M, 3]
    d2 = (rel * rel).sum(-1)
    v = valid[:, None, :]
    inten = points[:, None, :, 4].clamp_min(0.0)
    psi = torch.where(v, inten / d2.clamp_min(floor * floor), torch.zeros_like(d2)).sum(-1)
    dmin = torch.where(v, d2, torch.full_like(d2, 4.0)).amin(-1).clamp(max=4.0).sqrt()
    near = (v & (d2 < COUNT_RADIUS**2)).sum(-1).to(points.dtype) / 10.0
    return torch.stack([torch.log1p(psi), dmin, near], dim=-1)


class JointFrameEncoder(nn.Module):
    """Joint-queried set encoder over one radar frame.

    Args:
        n_joints: ``J``.
        dim: width of the per-joint features.
        heads: attention heads (each head has its own logits; values are split between heads).
        n_anchors: anchors per joint (1: the black-box estimate; 2: also the surrogate pose).
        near: each joint attends to its ``near`` nearest points only (the explicit statistics use all).
    """

    def __init__(self, n_joints: int, dim: int = 32, heads: int = 4, n_anchors: int = 2, near: int = 16) -> None:
        super().__init__()
        self.near = near
        if dim % heads:
            raise ValueError(f"dim={dim} is not divisible by heads={heads}")
        self.n_joints, self.dim, self.heads, self.n_anchors = n_joints, dim, heads, n_anchors
        self.register_buffer("point_mean", torch.zeros(5))
        self.register_buffer("point_std", torch.ones(5))
        # descriptor reference: psi_bar, xi scale, D0 (m), units per metre (set from the training data)
        self.register_buffer("reference", torch.tensor([0.0, 1.0, 0.5, 100.0]))
        self.joint_embed = nn.Parameter(torch.randn(n_joints, dim) * 0.02)
        # one ReLU layer: it runs on every (joint, point) pair, the cost of this stage
        self.pair = mlp([4 + 2, dim], act=nn.ReLU, last_act=True)
        self.logits = nn.Linear(dim, heads)
        self.values = nn.Linear(dim, dim)
        self.out_dim = n_anchors * (dim + 3) + (1 if n_anchors > 1 else 0)

    @torch.no_grad()
    def set_normalization(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Set the standardisation of the point features (``[5]`` each), as in the signal encoder."""
        self.point_mean.copy_(torch.as_tensor(mean, dtype=self.point_mean.dtype))
        self.point_std.copy_(torch.as_tensor(std, dtype=self.point_std.dtype).clamp_min(1e-6))

    @torch.no_grad()
    def set_reference(self, psi_mean: float, xi_scale: float, torso_mean: float, units_per_metre: float) -> None:
        """Set the eq. 1-3 constants used by the priors (``psi_bar``, scale, ``D0`` in m, unit)."""
        self.reference.copy_(torch.tensor([psi_mean, xi_scale, torso_mean, units_per_metre], dtype=torch.float32))

    def priors(self, stats: torch.Tensor, anchors: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        """Prior logits ``[B, J]``: ``xi`` and ``xi_unit`` (eq. 1 at the first anchor, configured scale
        and scale 1) and, with two anchors, ``kappa`` (the argument ``u (D0 / 2 - D)`` of eq. 2 with
        ``D`` the distance between the two anchors). Bounds: +-10, and +-``UNIT_PRIOR_CLAMP`` for a
        scale-1 score (``xi_unit``, and ``xi`` when the configured scale is 1)."""
        psi_mean, scale, torso, unit = self.reference
        psi = torch.expm1(stats[..., 0])
        unit_prior = (psi - psi_mean).clamp(-UNIT_PRIOR_CLAMP, UNIT_PRIOR_CLAMP)
        xi_prior = unit_prior if float(scale) == 1.0 else ((psi - psi_mean) / scale).clamp(-10, 10)
        out = {"xi": xi_prior, "xi_unit": unit_prior}
        if len(anchors) > 1:
            d = (anchors[0] - anchors[1]).norm(dim=-1)
            out["kappa"] = (unit * (0.5 * torso - d)).clamp(-10, 10)
        return out

    def _attend(self, points: torch.Tensor, valid: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
        b, m, _ = points.shape
        j = anchors.shape[1]
        feats = (point_features(points) - self.point_mean) / self.point_std  # [B, M, 5]
        rel_all = points[:, None, :, :3] - anchors[:, :, None, :]  # [B, J, M, 3] metres
        k = min(self.near, m)
        if k < m:  # only the k nearest points of each joint (they dominate psi ~ 1 / d^2)
            d2 = (rel_all * rel_all).sum(-1).masked_fill(~valid[:, None, :], float("inf"))
            idx = torch.topk(d2, k, dim=-1, largest=False).indices  # [B, J, k]
            rel = rel_all.gather(2, idx[..., None].expand(b, j, k, 3))
            pf = feats[:, None, :, 3:5].expand(b, j, m, 2).gather(2, idx[..., None].expand(b, j, k, 2))
            ok = valid[:, None, :].expand(b, j, m).gather(2, idx)
        else:
            rel, pf, ok = rel_all, feats[:, None, :, 3:5].expand(b, j, m, 2), valid[:, None, :].expand(b, j, m)
        dist = rel.norm(dim=-1, keepdim=True)
        pair_in = torch.cat([rel * 5.0, dist * 5.0, pf], dim=-1)
        h = self.pair(pair_in) + self.joint_embed[None, :, None, :]  # [B, J, k, d]
        mask = ok[..., None]
        logit = self.logits(h).masked_fill(~mask, -1e4)  # [B, J, k, H]
        att = torch.softmax(logit, dim=2) * mask  # no points -> all zero
        val = self.values(h).view(b, j, k, self.heads, self.dim // self.heads)
        return (att[..., None] * val).sum(2).reshape(b, j, self.dim)

    def forward(self, points: torch.Tensor, counts: torch.Tensor,
                anchors: list[torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """``points [B, M, 5]``, ``counts [B]``, ``n_anchors`` tensors ``[B, J, 3]`` ->
        ``(features [B, J, out_dim], prior logits {name: [B, J]})`` (see :meth:`priors`)."""
        if len(anchors) != self.n_anchors:
            raise ValueError(f"expected {self.n_anchors} anchor sets, got {len(anchors)}")
        valid = torch.arange(points.shape[1], device=points.device) < counts[:, None]
        parts = []
        first_stats = None
        for a in anchors:
            parts.append(self._attend(points, valid, a))
            st = anchor_statistics(points, valid, a)
            first_stats = st if first_stats is None else first_stats
            parts.append(st)
        if self.n_anchors > 1:
            parts.append((anchors[0] - anchors[1]).norm(dim=-1, keepdim=True) * 5.0)
        return torch.cat(parts, dim=-1), self.priors(first_stats, anchors)


class HourglassMLP(nn.Module):
    """Linear "hourglass": ``d_in -> widths... -> d_out`` with GELU (widths e.g. 256-128-64-128-256)."""

    def __init__(self, d_in: int, widths: list[int], d_out: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.net = mlp([d_in, *widths, d_out], dropout=dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


@dataclass
class DescriptorOutput:
    """Estimated descriptors.

    Attributes:
        xi: sensing score with the configured scale ``[B, J]`` in (0, 1).
        kappa: reliability score ``[B, J]`` in (0, 1).
        xi_unit: sensing score with the paper's scale 1 ``[B, J]`` (same tensor as ``xi`` when the
            configured scale is 1).
    """

    xi: torch.Tensor
    kappa: torch.Tensor
    xi_unit: torch.Tensor


class DescriptorHeads(nn.Module):
    """Two-branch hourglass MLP -> ``(xi, kappa, xi_unit)``.

    Args:
        n_joints: ``J``.
        latent_dim: ``D_p``.
        signal_dim: ``D_S``.
        frame_dim: per-joint width of :class:`JointFrameEncoder` output (its ``out_dim``; 0 when
            ``use_signal`` is False).
        widths: hourglass widths.
        dropout: dropout in the branches.
        separate_unit: learn the scale-1 sensing score as an extra output.
        use_signal, use_refine: inputs used (Table 10(a) ablation).
        joint_feat_dim: each joint's frame features are compressed (shared linear layer) to this
            width before they are concatenated into the hourglass input.
    """

    def __init__(self, n_joints: int, latent_dim: int, signal_dim: int, frame_dim: int, widths: list[int],
                 dropout: float = 0.0, separate_unit: bool = True, use_signal: bool = True, use_refine: bool = True,
                 joint_feat_dim: int = 16) -> None:
        super().__init__()
        self.n_joints = n_joints
        self.use_signal, self.use_refine, self.separate_unit = use_signal, use_refine, separate_unit
        d_in = latent_dim * (2 if use_refine else 1) + ((signal_dim + n_joints * joint_feat_dim) if use_signal else 0)
        n_xi = 2 if separate_unit else 1
        self.xi_branch = HourglassMLP(d_in, widths, n_joints * n_xi, dropout)
        self.kappa_branch = HourglassMLP(d_in, widths, n_joints, dropout)
        self.n_xi = n_xi
        self.prior_weight = nn.Parameter(torch.ones(n_xi + 1))  # xi (, xi_unit), kappa
        if use_signal:
            self.xi_skip = nn.Linear(frame_dim, n_xi)
            self.kappa_skip = nn.Linear(frame_dim, 1)
            self.norm = nn.LayerNorm(frame_dim)
            self.compress = nn.Linear(frame_dim, joint_feat_dim)

    def forward(self, p_pred: torch.Tensor, p_refine: torch.Tensor | None = None, mu_s: torch.Tensor | None = None,
                frame_feats: torch.Tensor | None = None, priors: dict[str, torch.Tensor] | None = None) -> DescriptorOutput:
        """Latent features ``[B, D_p]``, ``mu_S [B, D_S]``, frame features ``[B, J, F]`` and prior logits
        (``xi``, ``xi_unit``, ``kappa``: ``[B, J]``, each optional) -> descriptors."""
        b = p_pred.shape[0]
        parts = [p_pred]
        if self.use_refine:
            if p_refine is None:
                raise ValueError("these heads use p_refine")
            parts.append(p_refine)
        if self.use_signal:
            if mu_s is None or frame_feats is None:
                raise ValueError("these heads use the signal feature and the frame features")
            ff = self.norm(frame_feats)
            parts += [mu_s, self.compress(ff).flatten(1)]
        x = torch.cat(parts, dim=-1)
        xi_logit = self.xi_branch(x).view(b, self.n_joints, self.n_xi)
        kappa_logit = self.kappa_branch(x).view(b, self.n_joints)
        if self.use_signal:
            xi_logit = xi_logit + self.xi_skip(ff)
            kappa_logit = kappa_logit + self.kappa_skip(ff)[..., 0]
        if priors:
            add = torch.zeros_like(xi_logit)
            if "xi" in priors:
                add[..., 0] = self.prior_weight[0] * priors["xi"]
            if self.n_xi > 1 and "xi_unit" in priors:
                add[..., 1] = self.prior_weight[1] * priors["xi_unit"]
            xi_logit = xi_logit + add
            if "kappa" in priors:
                kappa_logit = kappa_logit + self.prior_weight[-1] * priors["kappa"]
        xi_all = torch.sigmoid(xi_logit)
        xi = xi_all[..., 0]
        return DescriptorOutput(xi=xi, kappa=torch.sigmoid(kappa_logit),
                                xi_unit=xi_all[..., 1] if self.separate_unit else xi)


def descriptor_loss(out: DescriptorOutput, xi: torch.Tensor, kappa: torch.Tensor, xi_unit: torch.Tensor | None = None,
                    unit_weight: float = 1.0, kind: str = "mse") -> tuple[torch.Tensor, dict[str, float]]:
    """Eq. 20: ``MSE(xi) + MSE(kappa)`` (+ ``unit_weight * MSE(xi_unit)`` for the scale-1 output).

    ``kind="l1"`` uses the mean absolute error for every term instead (``HeadConfig.loss``)."""
    if kind == "mse":
        err = lambda a, b: torch.mean((a - b) ** 2)  # noqa: E731
    elif kind == "l1":
        err = lambda a, b: torch.mean(torch.abs(a - b))  # noqa: E731
    else:
        raise ValueError(f"descriptor_loss: kind must be 'mse' or 'l1', got {kind!r}")
    l_xi = err(out.xi, xi)
    l_k = err(out.kappa, kappa)
    loss = l_xi + l_k
    parts = {"xi": float(l_xi.detach()), "kappa": float(l_k.detach())}
    if xi_unit is not None and out.xi_unit is not out.xi:
        l_u = err(out.xi_unit, xi_unit)
        loss = loss + unit_weight * l_u
        parts["xi_unit"] = float(l_u.detach())
    return loss, parts


class DescriptorStage(nn.Module):
    """Frame encoder + heads as one unit: what Sec. 6.3 computes from its three inputs.

    Args:
        n_joints, latent_dim, signal_dim: sizes.
        frame_dim, frame_heads: :class:`JointFrameEncoder` sizes.
        widths, dropout, separate_unit: :class:`DescriptorHeads` settings.
        use_signal: use the current frame (and ``mu_S``).
        use_refine: use ``p_refine`` (and the decoded surrogate pose as a second anchor).
    """

    def __init__(self, n_joints: int, latent_dim: int, signal_dim: int, frame_dim: int = 32, frame_heads: int = 4,
                 widths: list[int] | None = None, dropout: float = 0.0, separate_unit: bool = True,
                 use_signal: bool = True, use_refine: bool = True) -> None:
        super().__init__()
        widths = list(widths or [256, 128, 64, 128, 256])
        self.use_signal, self.use_refine = use_signal, use_refine
        self.frame_encoder = (JointFrameEncoder(n_joints, frame_dim, frame_heads, 2 if use_refine else 1)
                              if use_signal else None)
        fdim = self.frame_encoder.out_dim if self.frame_encoder is not None else 0
        self.heads = DescriptorHeads(n_joints, latent_dim, signal_dim, fdim, widths, dropout, separate_unit,
                                     use_signal, use_refine)

    def forward(self, p_pred: torch.Tensor, pred_pose: torch.Tensor, p_refine: torch.Tensor | None = None,
                surrogate_pose: torch.Tensor | None = None, mu_s: torch.Tensor | None = None,
                frame_points: torch.Tensor | None = None, frame_counts: torch.Tensor | None = None) -> DescriptorOutput:
        """Latent ``[B, D_p]`` features, skeletons ``[B, J, 3]`` (m), last frame ``[B, M, 5]`` + ``[B]``."""
        feats, priors = None, None
        if self.frame_encoder is not None:
            if frame_points is None or frame_counts is None:
                raise ValueError("this descriptor stage needs the current frame's points")
            anchors = [pred_pose] + ([surrogate_pose] if self.use_refine else [])
            if any(a is None for a in anchors):
                raise ValueError("this descriptor stage needs the surrogate pose")
            feats, priors = self.frame_encoder(frame_points, frame_counts, anchors)
        return self.heads(p_pred, p_refine, mu_s, feats, priors)
