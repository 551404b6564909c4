"""Pose modelling of mmJoints (Sec. 4.1): a variational auto-encoder of skeletons and the pose basis.

* :class:`PoseVAE` maps a skeleton ``[B, J, 3]`` (metres, radar frame) to a diagonal Gaussian
  ``N(mu_p, diag(sigma_p^2))`` in ``D_p`` dimensions and decodes latent codes back to skeletons.
  Poses are standardised per coordinate with training statistics (buffers ``pose_mean`` and
  ``pose_std``) before the encoder; the decoder undoes it, so both ends speak metres.
* :func:`vae_loss` is eq. 4: ``L = MSE(recon, pose) + lambda_step2 * KL(N(mu_p, sigma_p^2) || N(0, I))``,
  the MSE taken on standardised coordinates.
* :class:`PoseBasis` holds ``P_basis`` (eq. 10): the ``D_p`` columns are the means ``F_basis_i`` of
  ``mu_p`` over the top-``D_p`` pose clusters, and ``decompose`` is eq. 11,
  ``p_omega = P_basis^-1 p``. :func:`basis_reconstruction_error` is the metric of Table 4.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from mmsight.joints.model.layers import mlp

__all__ = ["PoseVAE", "VAEOutput", "vae_loss", "kl_to_standard_normal", "PoseBasis", "basis_reconstruction_error"]


@dataclass
class VAEOutput:
    """What :meth:`PoseVAE.forward` returns.

    Attributes:
        recon: decoded skeletons ``[B, J, 3]`` (m).
        mu: latent means ``mu_p [B, D_p]``.
        logvar: latent log-variances ``log sigma_p^2 [B, D_p]``.
        z: the latent codes that were decoded ``[B, D_p]`` (a sample in training, ``mu`` otherwise).
    """

    recon: torch.Tensor
    mu: torch.Tensor
    logvar: torch.Tensor
    z: torch.Tensor


class PoseVAE(nn.Module):
    """MLP VAE over flattened, standardised skeletons.

    Args:
        n_joints: ``J`` (19 for MARS).
        latent_dim: ``D_p``.
        hidden: encoder widths; the decoder uses them reversed.
    """

    def __init__(self, n_joints: int = 19, latent_dim: int = 32, hidden: list[int] | tuple[int, ...] = (256, 128)) -> None:
        super().__init__()
        self.n_joints = n_joints
        self.latent_dim = latent_dim
        d_in = 3 * n_joints
        self.encoder = mlp([d_in, *hidden], last_act=True)
        self.to_mu = nn.Linear(hidden[-1], latent_dim)
        self.to_logvar = nn.Linear(hidden[-1], latent_dim)
        self.decoder = mlp([latent_dim, *reversed(list(hidden)), d_in])
        self.register_buffer("pose_mean", torch.zeros(n_joints, 3))
        self.register_buffer("pose_std", torch.ones(n_joints, 3))

    @torch.no_grad()
    def set_normalization(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Set the per-coordinate standardisation ``[J, 3]`` (m) from training poses."""
        self.pose_mean.copy_(torch.as_tensor(mean, dtype=self.pose_mean.dtype))
        self.pose_std.copy_(torch.as_tensor(std, dtype=self.pose_std.dtype).clamp_min(1e-3))

    def normalize(self, pose: torch.Tensor) -> torch.Tensor:
        """``[B, J, 3]`` metres -> standardised ``[B, 3J]``."""
        return ((pose - self.pose_mean) / self.pose_std).flatten(1)

    def denormalize(self, x: torch.Tensor) -> torch.Tensor:
        """Standardised ``[B, 3J]`` -> ``[B, J, 3]`` metres."""
        return x.view(-1, self.n_joints, 3) * self.pose_std + self.pose_mean

    def encode(self, pose: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Skeletons ``[B, J, 3]`` (m) -> ``(mu_p [B, D_p], logvar_p [B, D_p])``."""
        h = self.encoder(self.normalize(pose))
        return self.to_mu(h), self.to_logvar(h).clamp(-12.0, 6.0)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Latent codes ``[B, D_p]`` -> skeletons ``[B, J, 3]`` (m)."""
        return self.denormalize(self.decoder(z))

    def forward(self, pose: torch.Tensor, sample: bool | None = None) -> VAEOutput:
        """Encode, (sample,) decode. ``sample`` defaults to ``self.training``."""
        mu, logvar = self.encode(pose)
        if sample is None:
            sample = self.training
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp() if sample else mu
        return VAEOutput(recon=self.decode(z), mu=mu, logvar=logvar, z=z)


def kl_to_standard_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """``KL(N(mu, diag(exp(logvar))) || N(0, I))`` per row ``[B]`` (nats)."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(-1)


def vae_loss(vae: PoseVAE, pose: torch.Tensor, out: VAEOutput, kl_weight: float) -> tuple[torch.Tensor, dict[str, float]]:
    """Eq. 4: MSE on standardised coordinates + ``kl_weight`` x mean KL. Returns ``(loss, parts)``."""
    rec = torch.mean((vae.normalize(out.recon) - vae.normalize(pose)) ** 2)
    kl = kl_to_standard_normal(out.mu, out.logvar).mean()
    loss = rec + kl_weight * kl
    return loss, {"rec": float(rec.detach()), "kl": float(kl.detach())}


class PoseBasis(nn.Module):
    """The pose basis ``P_basis`` (eq. 10) and the decomposition of eq. 11.

    The buffer ``vectors [D_p, D_p]`` holds the basis vectors ``F_basis_i`` as *rows* (the paper's
    ``P_basis`` is its transpose, with the vectors as columns).
    """

    def __init__(self, latent_dim: int) -> None:
        super().__init__()
        self.register_buffer("vectors", torch.eye(latent_dim))

    @torch.no_grad()
    def set_vectors(self, vectors: torch.Tensor) -> None:
        """Store ``F_basis [D_p, D_p]`` (rows); raises if the matrix is (numerically) singular."""
        v = torch.as_tensor(vectors, dtype=self.vectors.dtype)
        if v.shape != self.vectors.shape:
            raise ValueError(f"basis must be {tuple(self.vectors.shape)}, got {tuple(v.shape)}")
        if torch.linalg.matrix_rank(v.double()) < v.shape[0]:
            raise ValueError("the pose basis is singular: P_basis must be invertible (eq. 10)")
        self.vectors.copy_(v)

    def decompose(self, p: torch.Tensor) -> torch.Tensor:
        """Eq. 11: coefficients ``p_omega [B, D_p]`` with ``p = P_basis p_omega``."""
        # P_basis = vectors.T, so solve vectors.T @ w = p for every row of p
        return torch.linalg.solve(self.vectors.T, p.T).T

    def compose(self, w: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`decompose`: ``p = P_basis w`` for rows ``w [B, D_p]``."""
        return w @ self.vectors


def basis_reconstruction_error(features: torch.Tensor, basis_rows: torch.Tensor, *, normalize: bool = True) -> torch.Tensor:
    """Table 4 metric ``||F - P P^T F||^2`` per row of ``features [B, D]`` -> ``[B]``.

    ``P`` has the basis vectors (rows of ``basis_rows [K, D]``) as columns, scaled to unit length
    when ``normalize`` (the paper does not say; without it the metric mostly measures the vectors'
    lengths). ``P P^T`` is the identity exactly when the basis is orthonormal, so with ``K = D``
    the metric measures how far the basis is from orthonormal, weighted by the data ``F``; Table 4
    compares it with a random basis.
    """
    p = basis_rows.double()
    if normalize:
        p = p / p.norm(dim=1, keepdim=True).clamp_min(1e-12)
    f = features.double()
    return ((f - (f @ p.T) @ p) ** 2).sum(-1)
