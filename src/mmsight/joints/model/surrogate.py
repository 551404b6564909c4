"""Surrogate pose construction of mmJoints (Sec. 6.1-6.2, eq. 16-19).

Inputs: the pose feature of the black-box estimate ``p_pred [B, D_p]``, the window's signal
feature ``N(mu_S, diag(sigma_S^2))`` (``[B, D_S]`` each) and the latent signal distribution that the
generator predicts for ``p_pred`` (``G`` components). Output: the surrogate pose ``p_refine``.

1. The displacement between observed and expected signal is the set of weighted Jeffrey terms
   ``{phi_i J(P_S, P_c^i)}`` whose sum is the eq. 18 bound (``weighted_jeffrey_bound``). Each term
   is a sum over the ``D_S`` features; we keep the per-feature contributions (and the signed,
   standardised mean offset ``(mu_S - mu_i) / sigma_i``) as the element's features, so that the set
   encoder sees *where* the signal departs from the expectation, not only how much. The terms are
   multiplied by the scaling coefficient ``div_scale`` and passed through ``log(1 + .)`` before the
   encoder, to avoid overflow (the paper's "scaling coefficient").
2. A SetTransformer (SAB blocks, PMA with one seed) over the ``G`` elements gives ``F_Div``.
3. An MLP on ``[F_Div, mu_S, p_pred]`` gives the intermediate fine-tuned feature ``p_inter``
   (residual on ``p_pred``); a fusion MLP on ``[p_inter, p_pred]`` gives ``p_refine`` (residual).

The loss is eq. 19 (:func:`surrogate_loss`): Huber(p_refine, p_gt) + lambda_inter Huber(p_inter, p_gt)
with ``p_gt`` the pose feature of the ground-truth skeleton. ``use_divergence`` / ``use_signal``
switch the inputs off for the ablation of Table 10(b).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from mmsight.joints.divergence import weighted_jeffrey_bound
from mmsight.joints.model.distribution_generator import GMMParams
from mmsight.joints.model.layers import PMA, SAB, mlp

__all__ = ["SurrogateOutput", "SurrogatePose", "divergence_elements", "surrogate_loss"]


@dataclass
class SurrogateOutput:
    """What :meth:`SurrogatePose.forward` returns.

    Attributes:
        p_refine: surrogate pose feature ``[B, D_p]``.
        p_inter: intermediate fine-tuned feature ``[B, D_p]``.
        terms: weighted Jeffrey terms ``phi_i J(P_S, P_c^i)`` ``[B, G]`` (nats, unscaled).
        bound: their sum, the eq. 18 bound ``[B]``.
    """

    p_refine: torch.Tensor
    p_inter: torch.Tensor
    terms: torch.Tensor
    bound: torch.Tensor


def divergence_elements(mu_s: torch.Tensor, var_s: torch.Tensor, gmm: GMMParams, div_scale: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Set elements describing the displacement of ``P_S`` from each mixture component.

    Returns:
        ``(elements [B, G, 2 + 2 D_S], terms [B, G])``: per component ``log(1 + s phi_i J_i)``,
        ``phi_i``, the per-feature ``log(1 + s phi_i j_{i,d})`` (``J_i = sum_d j_{i,d}``) and
        ``tanh((mu_S - mu_i) / sigma_i)``; ``terms`` are the unscaled ``phi_i J_i``.
    """
    _, terms = weighted_jeffrey_bound(mu_s, var_s, gmm.weights, gmm.means, gmm.variances,
                                      return_terms=True, validate=False)
    ms, vs = mu_s[:, None, :], var_s[:, None, :]
    d2 = (ms - gmm.means) ** 2
    per_dim = 0.5 * ((vs + d2) / gmm.variances + (gmm.variances + d2) / vs - 2.0)  # [B, G, D]
    w = gmm.weights[..., None]
    elems = torch.cat([
        torch.log1p(div_scale * terms)[..., None],
        gmm.weights[..., None],
        torch.log1p(div_scale * w * per_dim.clamp_min(0.0)),
        torch.tanh((ms - gmm.means) / gmm.variances.sqrt()),
    ], dim=-1)
    return elems, terms


class SurrogatePose(nn.Module):
    """Divergence set encoder + intermediate MLP + fusion MLP -> ``p_refine``.

    Args:
        latent_dim: ``D_p``.
        signal_dim: ``D_S``.
        d_model, heads, layers: set-encoder sizes.
        hidden: MLP width.
        div_scale: scaling coefficient of the Jeffrey terms.
        use_divergence, use_signal: inputs used (Table 10(b) ablation).
    """

    def __init__(self, latent_dim: int, signal_dim: int, d_model: int = 64, heads: int = 4, layers: int = 1,
                 hidden: int = 256, div_scale: float = 1e-2, use_divergence: bool = True, use_signal: bool = True) -> None:
        super().__init__()
        self.div_scale = div_scale
        self.use_divergence, self.use_signal = use_divergence, use_signal
        self.elem_in = nn.Linear(2 + 2 * signal_dim, d_model)
        self.blocks = nn.ModuleList([SAB(d_model, heads) for _ in range(layers)])
        self.pool = PMA(d_model, heads, 1)
        d_in = latent_dim + (d_model if use_divergence else 0) + (signal_dim if use_signal else 0)
        self.inter = mlp([d_in, hidden, hidden, latent_dim])
        self.fusion = mlp([2 * latent_dim, hidden, latent_dim])
        for m in (self.inter[-1], self.fusion[-1]):  # start as the identity map on p_pred
            nn.init.zeros_(m.weight)
            nn.init.zeros_(m.bias)

    def forward(self, p_pred: torch.Tensor, mu_s: torch.Tensor, var_s: torch.Tensor, gmm: GMMParams) -> SurrogateOutput:
        """``p_pred [B, D_p]``, signal feature ``[B, D_S]`` x 2, expected mixture -> ``SurrogateOutput``."""
        elems, terms = divergence_elements(mu_s, var_s, gmm, self.div_scale)
        parts = [p_pred]
        if self.use_divergence:
            x = self.elem_in(elems)
            for blk in self.blocks:
                x = blk(x)
            parts.append(self.pool(x)[:, 0])
        if self.use_signal:
            parts.append(mu_s)
        p_inter = p_pred + self.inter(torch.cat(parts, dim=-1))
        p_refine = p_inter + self.fusion(torch.cat([p_inter, p_pred], dim=-1))
        return SurrogateOutput(p_refine=p_refine, p_inter=p_inter, terms=terms, bound=terms.sum(-1))


def surrogate_loss(out: SurrogateOutput, p_gt: torch.Tensor, huber_delta: float, lambda_inter: float) -> tuple[torch.Tensor, dict[str, float]]:
    """Eq. 19: ``Huber(p_refine, p_gt) + lambda_inter * Huber(p_inter, p_gt)`` (means over the batch)."""
    final = F.huber_loss(out.p_refine, p_gt, delta=huber_delta)
    inter = F.huber_loss(out.p_inter, p_gt, delta=huber_delta)
    return final + lambda_inter * inter, {"final": float(final.detach()), "inter": float(inter.detach())}
