"""The latent signal distribution generator of mmJoints (Sec. 5.2, eq. 9-15).

Given a pose feature ``p [B, D_p]`` it predicts the diagonal Gaussian mixture of signal features
that this pose is expected to produce, ``P_G = sum_j phi_j N(mu_j, diag(sigma_j^2))`` with ``G``
components in ``D_S`` dimensions (eq. 8):

1. eq. 11: ``p_omega = P_basis^-1 p`` (:class:`~mmsight.joints.model.pose_vae.PoseBasis`), then an
   MLP gives the fine-tuned pose feature ``F_omega``;
2. the basis distributions ``x_hat_D_i`` (one GMM of ``G`` components per basis pose, fitted to the
   signal features of that pose cluster; buffers ``basis_weights [D_p, G]``, ``basis_means`` and
   ``basis_vars [D_p, G, D_S]``) form a set of ``D_p * G`` elements of ``D_C = 1 + 2 D_S`` numbers
   (phi, mu, log sigma^2) tagged with their basis index; a SetTransformer encodes the set. The
   encoding does not depend on the input, so in eval mode it is computed once and cached;
3. the encoded elements of basis ``i`` are shifted by an embedding of the coefficient
   ``p_omega_i`` (so the set "sees" how much of each basis pose the input contains), and ``G``
   seeds conditioned on ``F_omega`` pool them (PMA) into the empirical feature ``F_S``;
   ``[F_S, F_omega]`` go through a linear fusion, one more set block and a linear head per component that outputs
   ``(phi_j, mu_j, sigma_j^2)`` (``F_output``).

The loss is eq. 15, :func:`distribution_loss`: the Hungarian-matched L1 of eq. 12-14 plus
``lambda_Div`` times the weighted Jeffrey bound of eq. 18 between the window's signal feature and
the predicted mixture.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from mmsight.joints.divergence import weighted_jeffrey_bound
from mmsight.joints.losses import hungarian_l1_loss
from mmsight.joints.model.layers import ISAB, PMA, SAB, mlp
from mmsight.joints.model.pose_vae import PoseBasis

__all__ = ["GMMParams", "LatentSignalDistributionGenerator", "distribution_loss"]


@dataclass
class GMMParams:
    """A batch of diagonal Gaussian mixtures.

    Attributes:
        weights: ``phi [B, G]`` (>= 0, rows sum to 1).
        means: ``mu [B, G, D]``.
        variances: ``sigma^2 [B, G, D]`` (> 0).
    """

    weights: torch.Tensor
    means: torch.Tensor
    variances: torch.Tensor

    def detach(self) -> "GMMParams":
        return GMMParams(self.weights.detach(), self.means.detach(), self.variances.detach())

    def index(self, idx: torch.Tensor | slice) -> "GMMParams":
        return GMMParams(self.weights[idx], self.means[idx], self.variances[idx])


class LatentSignalDistributionGenerator(nn.Module):
    """Pose feature ``[B, D_p]`` -> ``GMMParams`` with ``G`` components in ``D_S`` dimensions.

    Args:
        latent_dim: ``D_p``.
        signal_dim: ``D_S``.
        n_components: ``G``.
        d_model, heads, layers, inducing: SetTransformer sizes.
        var_floor: smallest predicted variance.
    """

    def __init__(self, latent_dim: int, signal_dim: int, n_components: int, d_model: int = 96, heads: int = 4,
                 layers: int = 2, inducing: int = 16, var_floor: float = 1e-3) -> None:
        super().__init__()
        self.latent_dim, self.signal_dim, self.n_components = latent_dim, signal_dim, n_components
        self.var_floor = var_floor
        self.basis = PoseBasis(latent_dim)
        self.register_buffer("basis_weights", torch.full((latent_dim, n_components), 1.0 / n_components))
        self.register_buffer("basis_means", torch.zeros(latent_dim, n_components, signal_dim))
        self.register_buffer("basis_vars", torch.ones(latent_dim, n_components, signal_dim))
        d_c = 1 + 2 * signal_dim
        self.element_in = nn.Linear(d_c, d_model)
        self.basis_id = nn.Parameter(torch.randn(latent_dim, d_model) * 0.02)
        self.set_blocks = nn.ModuleList([ISAB(d_model, heads, inducing) for _ in range(layers)])
        self.coef_embed = mlp([1, d_model, d_model])
        self.f_omega = mlp([latent_dim, 2 * d_model, d_model])
        self.pool = PMA(d_model, heads, n_components)
        self.query = nn.Linear(d_model, d_model)
        self.fuse = nn.Linear(2 * d_model, d_model)
        self.mix = SAB(d_model, heads)
        self.head = nn.Linear(d_model, 1 + 2 * signal_dim)
        self._cache: torch.Tensor | None = None

    def train(self, mode: bool = True) -> "LatentSignalDistributionGenerator":
        self._cache = None
        return super().train(mode)

    @torch.no_grad()
    def set_basis_distributions(self, weights: torch.Tensor, means: torch.Tensor, variances: torch.Tensor) -> None:
        """Store the empirical GMMs of the basis poses: ``[D_p, G]``, ``[D_p, G, D_S]`` x 2."""
        self.basis_weights.copy_(torch.as_tensor(weights, dtype=self.basis_weights.dtype))
        self.basis_means.copy_(torch.as_tensor(means, dtype=self.basis_means.dtype))
        self.basis_vars.copy_(torch.as_tensor(variances, dtype=self.basis_vars.dtype).clamp_min(self.var_floor))
        self._cache = None

    def basis_tokens(self) -> torch.Tensor:
        """SetTransformer encoding of the basis distributions ``[D_p * G, d]`` (cached in eval mode)."""
        if self._cache is not None and not self.training and not torch.is_grad_enabled():
            return self._cache
        elems = torch.cat([self.basis_weights[..., None], self.basis_means, self.basis_vars.log()], dim=-1)
        x = self.element_in(elems) + self.basis_id[:, None, :]  # [D_p, G, d]
        x = x.reshape(1, self.latent_dim * self.n_components, -1)
        for blk in self.set_blocks:
            x = blk(x)
        x = x[0]
        if not self.training and not torch.is_grad_enabled():
            self._cache = x
        return x

    def forward(self, p: torch.Tensor) -> GMMParams:
        """``p [B, D_p]`` (a pose feature ``mu_p``) -> the expected signal mixture."""
        g = self.n_components
        w = self.basis.decompose(p)  # eq. 11, [B, D_p]
        f_omega = self.f_omega(w)  # [B, d]
        tok = self.basis_tokens()  # [D_p * G, d]
        shift = self.coef_embed(w[..., None])  # [B, D_p, d]
        tok_b = tok[None] + shift.repeat_interleave(g, dim=1)  # [B, D_p * G, d]
        f_s = self.pool(tok_b, query_shift=self.query(f_omega)[:, None, :])  # [B, G, d]
        h = self.mix(self.fuse(torch.cat([f_s, f_omega[:, None, :].expand(-1, g, -1)], dim=-1)))
        out = self.head(h)  # [B, G, 1 + 2 D_S]
        logits, mean, logvar = out.split([1, self.signal_dim, self.signal_dim], dim=-1)
        return GMMParams(
            weights=torch.softmax(logits[..., 0], dim=-1),
            means=mean,
            variances=logvar.clamp(-12.0, 8.0).exp() + self.var_floor,
        )


def distribution_loss(pred: GMMParams, target: GMMParams, mu_s: torch.Tensor, var_s: torch.Tensor,
                      lambda_div: float, div_scale: float = 1.0) -> tuple[torch.Tensor, dict[str, float]]:
    """Eq. 15: ``L_LAP (eq. 12-14) + lambda_Div * div_scale * J_hat(P_S, P_G) (eq. 18)``, batch means.

    Args:
        pred: predicted mixtures ``[B, G, D]``.
        target: target mixtures (eq. 7-8), same shapes.
        mu_s, var_s: the window's signal feature ``N(mu_S, diag(var_S))`` ``[B, D]`` (treated as data).
        lambda_div: ``lambda_Div``.
        div_scale: the scaling coefficient applied to the bound.

    Returns:
        ``(loss, {"lap": ..., "div": ...})`` (``div`` unscaled, in nats).
    """
    lap = hungarian_l1_loss(pred.weights, pred.means, pred.variances, target.weights, target.means, target.variances)
    div = weighted_jeffrey_bound(mu_s.detach(), var_s.detach(), pred.weights, pred.means, pred.variances,
                                 validate=False).mean()
    loss = lap + lambda_div * div_scale * div
    return loss, {"lap": float(lap.detach()), "div": float(div.detach())}
