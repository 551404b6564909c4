"""KL and Jeffrey divergences between diagonal Gaussians and the weighted Jeffrey bound for GMMs.

mmJoints (Sec. 6.1) compares a signal feature ``P_S = N(mu_S, diag(sigma_S)^2)`` with a latent
signal distribution ``P_G = sum_i phi_i N(mu_i, diag(var_i))`` through the Jeffrey divergence
(eq. 16) ``J = KL(P_G || P_S) + KL(P_S || P_G)``. It has no closed form when a mixture is
involved, so the paper bounds it (eq. 17-18) with Jensen's inequality applied to the convex
``x -> (x - p) ln(x / p)``:

    J(P_S, P_G) <= sum_i phi_i J(P_S, N(mu_i, diag(var_i)))          (eq. 18)

and every term on the right is closed form. ``weighted_jeffrey_bound`` is eq. 18 exactly.
``gmm_jeffrey_bound`` extends it to two mixtures: ``(x, y) -> (x - y) ln(x / y)`` is jointly
convex, so for any coupling ``c_ij >= 0`` with row sums ``a_i`` and column sums ``b_j``,
``J(sum a_i p_i, sum b_j q_j) <= sum_ij c_ij J(p_i, q_j)``; the default coupling is the product
``a_i b_j``, which reduces to eq. 18 when one side has a single component.

All variances are *variances* (``sigma^2``), not standard deviations. Functions accept numpy arrays
(float64 reference) or torch tensors (batched, differentiable); torch is imported only when a
tensor is passed. ``mc_jeffrey_divergence`` is a numpy Monte-Carlo estimate of the true ``J``
between two mixtures, for tests.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

__all__ = [
    "kl_diag_gaussians",
    "jeffrey_diag_gaussians",
    "weighted_jeffrey_bound",
    "gmm_jeffrey_bound",
    "gmm_log_pdf",
    "sample_gmm",
    "mc_jeffrey_divergence",
]

_WEIGHT_SUM_TOL = 1e-4


def _is_torch(*xs: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and any(isinstance(x, torch.Tensor) for x in xs)


def _prepare(arrays: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """numpy float64 arrays, or tensors as given; checks finiteness."""
    use_torch = _is_torch(*arrays.values())
    out = {}
    for name, x in arrays.items():
        if use_torch:
            import torch

            if not isinstance(x, torch.Tensor):
                ref = next(v for v in arrays.values() if isinstance(v, torch.Tensor))
                x = torch.as_tensor(x, dtype=ref.dtype, device=ref.device)
            finite = bool(torch.isfinite(x.detach()).all())
        else:
            try:
                x = np.asarray(x, dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{name} must be a numeric array ({exc})") from None
            finite = bool(np.isfinite(x).all())
        if not finite:
            raise ValueError(f"{name} contains NaN or inf values")
        out[name] = x
    return out, use_torch


def _check_positive(x: Any, name: str) -> None:
    if _is_torch(x):
        bad = bool((x.detach() <= 0).any())
    else:
        bad = bool((x <= 0).any())
    if bad:
        raise ValueError(f"{name} must be strictly positive (variances)")


def _check_weights(w: Any, name: str) -> None:
    if _is_torch(w):
        wd = w.detach()
        neg = bool((wd < 0).any())
        bad_sum = bool(((wd.sum(-1) - 1).abs() > _WEIGHT_SUM_TOL).any())
    else:
        neg = bool((w < 0).any())
        bad_sum = bool((np.abs(w.sum(-1) - 1) > _WEIGHT_SUM_TOL).any())
    if neg or bad_sum:
        raise ValueError(f"{name} must be non-negative and sum to 1 over the last axis")


def _same_shape(a: Any, b: Any, na: str, nb: str) -> None:
    if tuple(a.shape) != tuple(b.shape):
        raise ValueError(f"{na} {tuple(a.shape)} and {nb} {tuple(b.shape)} must have the same shape")


def _log(x: Any) -> Any:
    return x.log() if _is_torch(x) else np.log(x)


def _kl(mu_p: Any, var_p: Any, mu_q: Any, var_q: Any) -> Any:
    d = mu_p - mu_q
    return 0.5 * (_log(var_q) - _log(var_p) + (var_p + d * d) / var_q - 1.0).sum(-1)


def _jeffrey(mu_p: Any, var_p: Any, mu_q: Any, var_q: Any) -> Any:
    # KL(p||q) + KL(q||p): the log-determinants cancel
    d2 = (mu_p - mu_q) ** 2
    return 0.5 * ((var_p + d2) / var_q + (var_q + d2) / var_p - 2.0).sum(-1)


def kl_diag_gaussians(mu_p: Any, var_p: Any, mu_q: Any, var_q: Any, *, validate: bool = True) -> Any:
    """``KL(N(mu_p, diag(var_p)) || N(mu_q, diag(var_q)))`` in nats.

    ``0.5 * sum_d [ln(var_q / var_p) + (var_p + (mu_p - mu_q)^2) / var_q - 1]``.

    Args:
        mu_p, var_p, mu_q, var_q: ``[..., D]`` arrays broadcastable against each other; variances
            strictly positive.
        validate: check finiteness, positivity and broadcasting (turn off in hot loops).

    Returns:
        ``[...]`` (the broadcast leading shape).
    """
    if validate:
        arrs, _ = _prepare({"mu_p": mu_p, "var_p": var_p, "mu_q": mu_q, "var_q": var_q})
        mu_p, var_p, mu_q, var_q = arrs.values()
        _check_positive(var_p, "var_p")
        _check_positive(var_q, "var_q")
        _broadcastable(mu_p, var_p, mu_q, var_q)
    return _kl(mu_p, var_p, mu_q, var_q)


def jeffrey_diag_gaussians(
    mu_p: Any, var_p: Any, mu_q: Any, var_q: Any, *, validate: bool = True
) -> Any:
    """Jeffrey divergence ``KL(p || q) + KL(q || p)`` of two diagonal Gaussians (eq. 16 for G = 1).

    ``0.5 * sum_d [(var_p + delta^2) / var_q + (var_q + delta^2) / var_p - 2]`` with
    ``delta = mu_p - mu_q``. Shapes as in ``kl_diag_gaussians``.
    """
    if validate:
        arrs, _ = _prepare({"mu_p": mu_p, "var_p": var_p, "mu_q": mu_q, "var_q": var_q})
        mu_p, var_p, mu_q, var_q = arrs.values()
        _check_positive(var_p, "var_p")
        _check_positive(var_q, "var_q")
        _broadcastable(mu_p, var_p, mu_q, var_q)
    return _jeffrey(mu_p, var_p, mu_q, var_q)


def _broadcastable(*xs: Any) -> None:
    try:
        np.broadcast_shapes(*(tuple(x.shape) for x in xs))
    except ValueError:
        raise ValueError(
            "shapes do not broadcast: " + ", ".join(str(tuple(x.shape)) for x in xs)
        ) from None


def weighted_jeffrey_bound(
    mu_s: Any,
    var_s: Any,
    weights: Any,
    means: Any,
    variances: Any,
    *,
    return_terms: bool = False,
    validate: bool = True,
) -> Any:
    """Weighted Jeffrey divergence, the upper bound of eq. 18 on ``J(P_S, P_G)``.

    ``sum_i phi_i J(P_S, N(mu_i, diag(var_i)))`` with ``P_S = N(mu_s, diag(var_s))``. Equal to
    the true Jeffrey divergence when ``G = 1``. The per-component terms
    ``phi_i J(P_S, P_c^i)`` are what mmJoints feeds to its divergence encoder (Sec. 6.2, step 2).

    Args:
        mu_s: signal-feature mean ``[..., D]``.
        var_s: signal-feature variance ``[..., D]`` (``sigma_S^2``, > 0).
        weights: mixture weights ``phi [..., G]`` (>= 0, sum 1).
        means: component means ``[..., G, D]``.
        variances: component variances ``[..., G, D]`` (> 0).
        return_terms: also return the terms ``[..., G]``.
        validate: check shapes, finiteness, positivity and weights.

    Returns:
        bound ``[...]``, or ``(bound, terms)``.
    """
    if validate:
        arrs, _ = _prepare(
            {"mu_s": mu_s, "var_s": var_s, "weights": weights, "means": means,
             "variances": variances}
        )
        mu_s, var_s, weights, means, variances = arrs.values()
        _same_shape(mu_s, var_s, "mu_s", "var_s")
        _same_shape(means, variances, "means", "variances")
        if means.ndim < 2 or tuple(weights.shape) != tuple(means.shape[:-1]):
            raise ValueError(
                f"weights {tuple(weights.shape)} must be means {tuple(means.shape)} "
                "without the last axis"
            )
        if mu_s.shape[-1] != means.shape[-1]:
            raise ValueError(f"feature sizes differ: mu_s {mu_s.shape[-1]}, means {means.shape[-1]}")
        _broadcastable(mu_s[..., None, :], means)
        _check_positive(var_s, "var_s")
        _check_positive(variances, "variances")
        _check_weights(weights, "weights")
    terms = weights * _jeffrey(mu_s[..., None, :], var_s[..., None, :], means, variances)
    bound = terms.sum(-1)
    return (bound, terms) if return_terms else bound


def gmm_jeffrey_bound(
    weights_p: Any,
    means_p: Any,
    variances_p: Any,
    weights_q: Any,
    means_q: Any,
    variances_q: Any,
    *,
    coupling: Any = None,
    validate: bool = True,
) -> Any:
    """Upper bound on the Jeffrey divergence between two diagonal GMMs (eq. 18 generalised).

    ``sum_ij c_ij J(p_i, q_j)``, valid for any coupling ``c [..., Gp, Gq]`` whose row sums are
    ``weights_p`` and column sums ``weights_q`` (joint convexity of ``(x - y) ln(x / y)``); the
    default is the product coupling ``c_ij = a_i b_j``. With ``Gq = 1`` (or ``Gp = 1``) this is
    exactly ``weighted_jeffrey_bound``.

    Args:
        weights_p: ``[..., Gp]``; means_p, variances_p: ``[..., Gp, D]``.
        weights_q: ``[..., Gq]``; means_q, variances_q: ``[..., Gq, D]``.
        coupling: optional ``[..., Gp, Gq]`` transport plan between the two weight vectors.

    Returns:
        bound ``[...]``.
    """
    named = {"weights_p": weights_p, "means_p": means_p, "variances_p": variances_p,
             "weights_q": weights_q, "means_q": means_q, "variances_q": variances_q}
    if coupling is not None:
        named["coupling"] = coupling
    if validate:
        arrs, use_torch = _prepare(named)
        weights_p, means_p, variances_p, weights_q, means_q, variances_q = (
            arrs[k] for k in list(named)[:6]
        )
        coupling = arrs.get("coupling")
        for w, m, v, s in ((weights_p, means_p, variances_p, "p"), (weights_q, means_q, variances_q, "q")):
            _same_shape(m, v, f"means_{s}", f"variances_{s}")
            if m.ndim < 2 or tuple(w.shape) != tuple(m.shape[:-1]):
                raise ValueError(
                    f"weights_{s} {tuple(w.shape)} must be means_{s} {tuple(m.shape)} "
                    "without the last axis"
                )
            _check_positive(v, f"variances_{s}")
            _check_weights(w, f"weights_{s}")
        if means_p.shape[-1] != means_q.shape[-1]:
            raise ValueError(
                f"feature sizes differ: {means_p.shape[-1]} (p) and {means_q.shape[-1]} (q)"
            )
        _broadcastable(means_p[..., :, None, :], means_q[..., None, :, :])
        if coupling is not None:
            if coupling.shape[-2:] != (weights_p.shape[-1], weights_q.shape[-1]):
                raise ValueError(
                    f"coupling must be [..., {weights_p.shape[-1]}, {weights_q.shape[-1]}], "
                    f"got {tuple(coupling.shape)}"
                )
            c = coupling.detach() if use_torch else coupling
            wp = weights_p.detach() if use_torch else weights_p
            wq = weights_q.detach() if use_torch else weights_q
            err = max(
                float(abs(c.sum(-1) - wp).max()), float(abs(c.sum(-2) - wq).max())
            )
            if float(c.min()) < 0 or err > _WEIGHT_SUM_TOL:
                raise ValueError("coupling must be >= 0 with marginals weights_p and weights_q")
    pair = _jeffrey(
        means_p[..., :, None, :], variances_p[..., :, None, :],
        means_q[..., None, :, :], variances_q[..., None, :, :],
    )  # [..., Gp, Gq]
    if coupling is None:
        coupling = weights_p[..., :, None] * weights_q[..., None, :]
    return (coupling * pair).sum((-2, -1))


# --------------------------------------------------------------------------------------------
# Monte-Carlo reference (numpy, one pair of mixtures)


def _check_gmm_np(weights: Any, means: Any, variances: Any, tag: str) -> tuple[np.ndarray, ...]:
    arrs, use_torch = _prepare({f"weights{tag}": weights, f"means{tag}": means,
                                f"variances{tag}": variances})
    if use_torch:
        arrs = {k: v.detach().cpu().double().numpy() for k, v in arrs.items()}
    w, m, v = arrs.values()
    if m.ndim != 2 or v.shape != m.shape or w.shape != (m.shape[0],):
        raise ValueError(
            f"one mixture: weights{tag} [G], means{tag} and variances{tag} [G, D]; got "
            f"{w.shape}, {m.shape}, {v.shape}"
        )
    _check_positive(v, f"variances{tag}")
    _check_weights(w, f"weights{tag}")
    return w, m, v


def gmm_log_pdf(x: Any, weights: Any, means: Any, variances: Any) -> np.ndarray:
    """Log density ``ln sum_i phi_i N(x | mu_i, diag(var_i))`` of a diagonal GMM (numpy).

    ``x [n, D]``, ``weights [G]``, ``means`` and ``variances [G, D]`` -> ``[n]``.
    """
    w, m, v = _check_gmm_np(weights, means, variances, "")
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != m.shape[1]:
        raise ValueError(f"x must be [n, {m.shape[1]}], got {x.shape}")
    diff = x[:, None, :] - m[None]  # [n, G, D]
    comp = -0.5 * ((diff * diff) / v + np.log(2 * np.pi * v)).sum(-1)  # [n, G]
    with np.errstate(divide="ignore"):
        comp = comp + np.log(w)
    mx = comp.max(axis=1, keepdims=True)
    return (mx + np.log(np.exp(comp - mx).sum(axis=1, keepdims=True)))[:, 0]


def sample_gmm(
    n: int, weights: Any, means: Any, variances: Any, rng: np.random.Generator
) -> np.ndarray:
    """``n`` samples ``[n, D]`` of a diagonal GMM."""
    w, m, v = _check_gmm_np(weights, means, variances, "")
    comp = rng.choice(len(w), size=n, p=w / w.sum())
    return m[comp] + np.sqrt(v[comp]) * rng.standard_normal((n, m.shape[1]))


def mc_jeffrey_divergence(
    weights_p: Any,
    means_p: Any,
    variances_p: Any,
    weights_q: Any,
    means_q: Any,
    variances_q: Any,
    *,
    n_samples: int = 20000,
    rng: np.random.Generator | int | None = None,
) -> tuple[float, float]:
    """Monte-Carlo estimate of the true ``J(P, Q) = KL(P || Q) + KL(Q || P)`` of two GMMs.

    ``KL(P || Q) ~ mean_{x ~ P} [ln P(x) - ln Q(x)]`` with ``n_samples`` draws, likewise the
    reverse; the two estimates are independent, so the standard error is the root of the summed
    squared standard errors. Unbiased; use for tests and reports, not for training.

    Returns:
        ``(estimate, standard_error)`` in nats.
    """
    if n_samples < 2:
        raise ValueError(f"n_samples must be >= 2, got {n_samples}")
    rng = np.random.default_rng(rng)
    p = _check_gmm_np(weights_p, means_p, variances_p, "_p")
    q = _check_gmm_np(weights_q, means_q, variances_q, "_q")
    if p[1].shape[1] != q[1].shape[1]:
        raise ValueError(f"feature sizes differ: {p[1].shape[1]} (p) and {q[1].shape[1]} (q)")
    xp = sample_gmm(n_samples, *p, rng)
    xq = sample_gmm(n_samples, *q, rng)
    a = gmm_log_pdf(xp, *p) - gmm_log_pdf(xp, *q)
    b = gmm_log_pdf(xq, *q) - gmm_log_pdf(xq, *p)
    est = float(a.mean() + b.mean())
    se = float(np.sqrt(a.var(ddof=1) / n_samples + b.var(ddof=1) / n_samples))
    return est, se
