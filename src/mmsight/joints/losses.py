"""Training losses of mmJoints: Hungarian-matched L1 between Gaussian sets, orthogonal projection loss.

* ``hungarian_l1_loss`` - eq. 12-14: the predicted and target mixtures are sets of components
  ``Gamma = (phi, mu, diag(Sigma))`` with no natural order, so the loss first solves the linear
  assignment problem (eq. 12-13) on the cost ``T(Gamma_i, Gamma_j) = l1(phi) + l1(mu) + l1(Sigma)``
  (eq. 14) with the Hungarian algorithm (scipy, on the detached cost), then sums the differentiable
  costs of the matched pairs.
* ``orthogonal_projection_loss`` - eq. 5 with the OPL of Ranasinghe et al. (ICCV 2021): unit-norm
  features of the same pose cluster are pulled together (``1 - mean cos``, the OPL-s term) and
  features of different clusters pushed to orthogonality (``mean |cos|``, the OPL-d term).
* ``basis_orthogonality_loss`` / ``orthogonality_report`` - the same OPL-d term on one vector per
  cluster (the pose basis of eq. 10), and the largest off-diagonal ``|cos|`` used to check it
  (Fig. 10).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

__all__ = [
    "component_cost_matrix",
    "hungarian_l1_loss",
    "orthogonal_projection_loss",
    "basis_orthogonality_loss",
    "cosine_matrix",
    "orthogonality_report",
]

Reduction = Literal["mean", "sum", "none"]


def _to_tensor(x: Any, name: str, like: torch.Tensor | None = None) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        t = x
    else:
        try:
            arr = np.ascontiguousarray(x, dtype=np.float64)  # torch rejects negative strides
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name} must be a numeric array ({exc})") from None
        t = torch.as_tensor(arr)
        if like is not None:
            t = t.to(dtype=like.dtype, device=like.device)
    if not bool(torch.isfinite(t.detach()).all()):
        raise ValueError(f"{name} contains NaN or inf values")
    return t


def _reduce(x: torch.Tensor, reduction: Reduction) -> torch.Tensor:
    if reduction == "mean":
        return x.mean()
    if reduction == "sum":
        return x.sum()
    if reduction == "none":
        return x
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _prepare_set(
    weights: Any, means: Any, variances: Any, tag: str, like: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    w = _to_tensor(weights, f"{tag}_weights", like)
    m = _to_tensor(means, f"{tag}_means", like if like is not None else w)
    v = _to_tensor(variances, f"{tag}_variances", like if like is not None else w)
    if m.ndim not in (2, 3) or tuple(v.shape) != tuple(m.shape) or tuple(w.shape) != tuple(m.shape[:-1]):
        raise ValueError(
            f"{tag}: weights [B, G] (or [G]), means and variances [B, G, D] (or [G, D]); got "
            f"{tuple(w.shape)}, {tuple(m.shape)}, {tuple(v.shape)}"
        )
    if m.ndim == 2:
        w, m, v = w[None], m[None], v[None]
    return w, m, v


def component_cost_matrix(
    pred_weights: Any,
    pred_means: Any,
    pred_variances: Any,
    target_weights: Any,
    target_means: Any,
    target_variances: Any,
    *,
    feature_reduction: Literal["mean", "sum"] = "mean",
) -> torch.Tensor:
    """Pairwise cost ``T(Gamma_i, Gamma_j)`` of eq. 14, ``[B, G, G]`` (differentiable).

    ``T = |phi_i - phi_j| + l1(mu_i, mu_j) + l1(var_i, var_j)`` where ``l1`` averages (or sums,
    ``feature_reduction="sum"``) the absolute differences over the ``D`` features, the ``mean``
    convention of ``torch.nn.L1Loss``. Inputs as in ``hungarian_l1_loss``; row ``i`` is a
    predicted component, column ``j`` a target component.
    """
    pw, pm, pv = _prepare_set(pred_weights, pred_means, pred_variances, "pred", None)
    tw, tm, tv = _prepare_set(target_weights, target_means, target_variances, "target", pm)
    if pm.shape != tm.shape:
        raise ValueError(
            f"prediction {tuple(pm.shape)} and target {tuple(tm.shape)} must both be [B, G, D] "
            "with the same B, G and D (pad a smaller target with zero-weight components)"
        )
    if feature_reduction not in ("mean", "sum"):
        raise ValueError(f"feature_reduction must be 'mean' or 'sum', got {feature_reduction!r}")
    red = (lambda x: x.mean(-1)) if feature_reduction == "mean" else (lambda x: x.sum(-1))
    c_phi = (pw[:, :, None] - tw[:, None, :]).abs()
    c_mu = red((pm[:, :, None, :] - tm[:, None, :, :]).abs())
    c_var = red((pv[:, :, None, :] - tv[:, None, :, :]).abs())
    return c_phi + c_mu + c_var


def hungarian_l1_loss(
    pred_weights: Any,
    pred_means: Any,
    pred_variances: Any,
    target_weights: Any,
    target_means: Any,
    target_variances: Any,
    *,
    reduction: Reduction = "mean",
    feature_reduction: Literal["mean", "sum"] = "mean",
    return_assignment: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Permutation-invariant L1 loss between two sets of diagonal Gaussian components (eq. 12-14).

    For every batch item, ``L_LAP = min_a sum_ij T(Gamma_i, Gamma_j) a_ij`` over permutation
    matrices ``a`` (eq. 12-13). The assignment is found with
    ``scipy.optimize.linear_sum_assignment`` on the detached cost matrix; the loss is then the sum
    of the matched costs, differentiable with respect to both sets (the assignment itself is
    piecewise constant, so this is the gradient of ``L_LAP`` almost everywhere).

    Args:
        pred_weights: ``[B, G]`` (or ``[G]``) predicted mixture weights ``phi``.
        pred_means: ``[B, G, D]`` predicted means ``mu``.
        pred_variances: ``[B, G, D]`` predicted variances ``sigma^2`` (the diagonal of ``Sigma``).
        target_weights, target_means, target_variances: the target set, same shapes.
        reduction: over the batch: ``"mean"``, ``"sum"`` or ``"none"`` (``[B]``).
        feature_reduction: how ``l1`` reduces over the ``D`` features (see
            ``component_cost_matrix``).
        return_assignment: also return ``[B, G]`` int64: the target index matched to each
            predicted component.

    Returns:
        The loss (a tensor; numpy inputs become float64 tensors), or ``(loss, assignment)``.
    """
    cost = component_cost_matrix(
        pred_weights, pred_means, pred_variances, target_weights, target_means, target_variances,
        feature_reduction=feature_reduction,
    )
    n_batch, n_comp, _ = cost.shape
    cost_np = cost.detach().cpu().numpy()
    assign = np.empty((n_batch, n_comp), dtype=np.int64)
    for b in range(n_batch):
        rows, cols = linear_sum_assignment(cost_np[b])
        assign[b, rows] = cols
    assign_t = torch.as_tensor(assign, device=cost.device)
    matched = cost.gather(2, assign_t[:, :, None])[:, :, 0]  # [B, G]
    loss = _reduce(matched.sum(-1), reduction)
    return (loss, assign_t) if return_assignment else loss


# --------------------------------------------------------------------------------------------
# orthogonality


def cosine_matrix(vectors: Any, *, eps: float = 1e-12) -> torch.Tensor:
    """Cosine similarities ``[K, K]`` between the rows of ``vectors [K, D]``."""
    v = _to_tensor(vectors, "vectors")
    if v.ndim != 2:
        raise ValueError(f"vectors must be [K, D], got {tuple(v.shape)}")
    norms = v.norm(dim=1, keepdim=True)
    if bool((norms.detach() <= eps).any()):
        raise ValueError("vectors contain a (near) zero row: its direction is undefined")
    u = v / norms
    return u @ u.T


def orthogonal_projection_loss(
    features: Any,
    labels: Any,
    *,
    lambda_s: float = 1.0,
    pairwise_abs: bool = True,
    return_parts: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Orthogonal projection loss on a batch of labelled features (mmJoints eq. 5, OPL).

    With ``u_n = f_n / ||f_n||`` and ``cos_nm = <u_n, u_m>``:

    * ``s`` = mean ``cos_nm`` over pairs ``n != m`` of the same cluster; ``L_OPL-s = 1 - s``;
    * ``L_OPL-d`` = mean ``|cos_nm|`` over pairs of different clusters (``pairwise_abs=True``, each
      pair is pushed to orthogonality), or ``|mean cos_nm|`` (``pairwise_abs=False``, the form of
      the OPL paper's equation, which lets positive and negative cosines cancel);
    * ``L = L_OPL-d + lambda_s * L_OPL-s`` (eq. 5, ``lambda_s`` is ``lambda_step3``).

    A term with no pair in the batch (a single cluster, or only singletons) is 0.

    Args:
        features: ``[N, D]`` features (e.g. pose latent means ``mu_p``).
        labels: ``[N]`` integer cluster labels.
        lambda_s: weight of the clustering term.
        pairwise_abs: see above.
        return_parts: also return ``{"d": L_OPL-d, "s": L_OPL-s}``.

    Returns:
        scalar loss, or ``(loss, parts)``.
    """
    f = _to_tensor(features, "features")
    if f.ndim != 2:
        raise ValueError(f"features must be [N, D], got {tuple(f.shape)}")
    lab = torch.as_tensor(np.asarray(labels.detach().cpu() if isinstance(labels, torch.Tensor) else labels))
    if lab.ndim != 1 or lab.shape[0] != f.shape[0]:
        raise ValueError(f"labels must be [N={f.shape[0]}], got {tuple(lab.shape)}")
    if lab.dtype.is_floating_point or lab.dtype == torch.bool:
        raise ValueError("labels must be integers")
    lab = lab.to(f.device)
    cos = cosine_matrix(f)
    eye = torch.eye(f.shape[0], dtype=torch.bool, device=f.device)
    same = (lab[:, None] == lab[None, :]) & ~eye
    diff = lab[:, None] != lab[None, :]
    zero = cos.sum() * 0.0
    if bool(same.any()):
        l_s = 1.0 - cos[same].mean()
    else:
        l_s = zero
    if bool(diff.any()):
        l_d = cos[diff].abs().mean() if pairwise_abs else cos[diff].mean().abs()
    else:
        l_d = zero
    loss = l_d + lambda_s * l_s
    return (loss, {"d": l_d, "s": l_s}) if return_parts else loss


def basis_orthogonality_loss(basis: Any, *, squared: bool = False) -> torch.Tensor:
    """OPL-d on a basis: mean ``|cos|`` (or ``cos^2``) over distinct rows of ``basis [K, D]``.

    This is ``orthogonal_projection_loss`` with one feature per cluster (the cluster means
    ``F_basis_i`` of eq. 9-10), where the clustering term vanishes. Rows are basis vectors (the
    paper's ``P_basis`` is this matrix transposed).
    """
    cos = cosine_matrix(basis)
    k = cos.shape[0]
    if k < 2:
        return cos.sum() * 0.0
    off = ~torch.eye(k, dtype=torch.bool, device=cos.device)
    c = cos[off]
    return (c * c).mean() if squared else c.abs().mean()


def orthogonality_report(basis: Any) -> float:
    """Largest ``|cos|`` between two distinct rows of ``basis [K, D]`` (0 = orthogonal basis)."""
    with torch.no_grad():
        cos = cosine_matrix(basis)
        k = cos.shape[0]
        if k < 2:
            return 0.0
        off = ~torch.eye(k, dtype=torch.bool, device=cos.device)
        return float(cos[off].abs().max())
