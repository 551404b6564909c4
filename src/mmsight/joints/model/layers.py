"""Set and attention building blocks shared by the mmJoints modules.

SetTransformer blocks (Lee et al., ICML 2019): a multihead attention block ``MAB(X, Y)`` (queries
``X`` attend to the set ``Y``, then a feed-forward layer, both with residual connections and layer
norm), ``SAB(X) = MAB(X, X)``, the induced block ``ISAB`` (attention through ``m`` learned inducing
points, linear in the set size) and pooling by multihead attention ``PMA`` (``k`` learned seeds
attend to the set). All blocks accept a key mask so that padded set elements are ignored.

Shapes: sets are ``[B, N, d]``, masks ``bool [B, N]`` with True = real element.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["MAB", "SAB", "ISAB", "PMA", "mlp", "masked_mean", "masked_max"]


def mlp(sizes: list[int], *, act: type[nn.Module] = nn.GELU, dropout: float = 0.0, last_act: bool = False) -> nn.Sequential:
    """A plain MLP ``sizes[0] -> ... -> sizes[-1]`` with activation (and dropout) between layers."""
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2 or last_act:
            layers.append(act())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


def masked_mean(x: torch.Tensor, mask: torch.Tensor | None, dim: int) -> torch.Tensor:
    """Mean of ``x [..., N, d]`` over ``dim`` counting only ``mask`` (True) entries; 0 if none."""
    if mask is None:
        return x.mean(dim=dim)
    m = mask.unsqueeze(-1).to(x.dtype)
    return (x * m).sum(dim=dim) / m.sum(dim=dim).clamp_min(1.0)


def masked_max(x: torch.Tensor, mask: torch.Tensor | None, dim: int) -> torch.Tensor:
    """Max of ``x [..., N, d]`` over ``dim`` among ``mask`` (True) entries; 0 if none."""
    if mask is None:
        return x.amax(dim=dim)
    m = mask.unsqueeze(-1)
    out = x.masked_fill(~m, torch.finfo(x.dtype).min).amax(dim=dim)
    return torch.where(m.any(dim=dim), out, torch.zeros_like(out))


class MAB(nn.Module):
    """Multihead attention block: ``H = LN(X + Attn(X, Y)); out = LN(H + FF(H))``.

    Args:
        d_q: width of the queries ``X`` (and of the output).
        d_kv: width of the set ``Y``.
        heads: attention heads (``d_q`` must be divisible by it).
        ff_mult: feed-forward expansion.
        dropout: dropout on the attention output and in the feed-forward layer.
    """

    def __init__(self, d_q: int, d_kv: int, heads: int, ff_mult: int = 2, dropout: float = 0.0) -> None:
        super().__init__()
        if d_q % heads:
            raise ValueError(f"d_q={d_q} is not divisible by heads={heads}")
        self.heads = heads
        self.q = nn.Linear(d_q, d_q)
        self.kv = nn.Linear(d_kv, 2 * d_q)
        self.o = nn.Linear(d_q, d_q)
        self.ln1 = nn.LayerNorm(d_q)
        self.ln2 = nn.LayerNorm(d_q)
        self.ff = nn.Sequential(nn.Linear(d_q, ff_mult * d_q), nn.GELU(), nn.Dropout(dropout), nn.Linear(ff_mult * d_q, d_q))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``x [B, Nq, d_q]`` attends to ``y [B, Nk, d_kv]`` (``mask [B, Nk]``) -> ``[B, Nq, d_q]``."""
        b, nq, d = x.shape
        nk = y.shape[1]
        h = self.heads
        q = self.q(x).view(b, nq, h, d // h).transpose(1, 2)
        k, v = self.kv(y).view(b, nk, 2, h, d // h).permute(2, 0, 3, 1, 4)
        attn_mask = None
        if mask is not None:
            # a query whose whole set is masked attends to nothing: give it one dummy key instead
            safe = mask | ~mask.any(dim=1, keepdim=True)
            attn_mask = safe[:, None, None, :]
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
        a = a.transpose(1, 2).reshape(b, nq, d)
        hid = self.ln1(x + self.drop(self.o(a)))
        return self.ln2(hid + self.drop(self.ff(hid)))


class SAB(nn.Module):
    """Set attention block ``MAB(X, X)`` (permutation-equivariant)."""

    def __init__(self, d: int, heads: int, ff_mult: int = 2, dropout: float = 0.0) -> None:
        super().__init__()
        self.mab = MAB(d, d, heads, ff_mult, dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``[B, N, d]`` -> ``[B, N, d]``."""
        return self.mab(x, x, mask)


class ISAB(nn.Module):
    """Induced set attention block: ``H = MAB(I, X); out = MAB(X, H)`` with ``m`` learned points."""

    def __init__(self, d: int, heads: int, inducing: int, ff_mult: int = 2, dropout: float = 0.0) -> None:
        super().__init__()
        self.inducing = nn.Parameter(torch.randn(1, inducing, d) * d**-0.5)
        self.mab1 = MAB(d, d, heads, ff_mult, dropout)
        self.mab2 = MAB(d, d, heads, ff_mult, dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``[B, N, d]`` -> ``[B, N, d]``."""
        h = self.mab1(self.inducing.expand(x.shape[0], -1, -1), x, mask)
        return self.mab2(x, h)


class PMA(nn.Module):
    """Pooling by multihead attention: ``k`` learned seeds attend to the set -> ``[B, k, d]``."""

    def __init__(self, d: int, heads: int, seeds: int, ff_mult: int = 2, dropout: float = 0.0) -> None:
        super().__init__()
        self.seeds = nn.Parameter(torch.randn(1, seeds, d) * d**-0.5)
        self.mab = MAB(d, d, heads, ff_mult, dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, query_shift: torch.Tensor | None = None) -> torch.Tensor:
        """Pool ``x [B, N, d]``; ``query_shift [B, 1 or k, d]`` (optional) conditions the seeds."""
        q = self.seeds.expand(x.shape[0], -1, -1)
        if query_shift is not None:
            q = q + query_shift
        return self.mab(q, x, mask)
