"""Tests of mmsight.joints.divergence: KL / Jeffrey closed forms and the eq. 18 bound."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import integrate, stats

from mmsight.joints.divergence import (
    gmm_jeffrey_bound,
    gmm_log_pdf,
    jeffrey_diag_gaussians,
    kl_diag_gaussians,
    mc_jeffrey_divergence,
    weighted_jeffrey_bound,
)


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Tiny tensors: one intra-op thread is ~20x faster than two on a shared 2-core machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _random_gmm(rng: np.random.Generator, g: int, d: int, spread: float = 2.0):
    w = rng.dirichlet(np.ones(g))
    mu = spread * rng.normal(size=(g, d))
    var = rng.uniform(0.2, 2.0, size=(g, d))
    return w, mu, var


def test_kl_matches_numerical_integration_1d() -> None:
    mp, vp, mq, vq = 0.3, 0.5, -1.0, 2.0
    p, q = stats.norm(mp, np.sqrt(vp)), stats.norm(mq, np.sqrt(vq))
    kl_num, _ = integrate.quad(lambda x: p.pdf(x) * (p.logpdf(x) - q.logpdf(x)), -20, 20)
    kl = kl_diag_gaussians([mp], [vp], [mq], [vq])
    assert kl == pytest.approx(kl_num, rel=1e-8)
    # hand value: 0.5 (ln(2/0.5) + (0.5 + 1.69)/2 - 1) = 0.5 (1.3862944 + 0.095) = 0.7406472
    assert kl == pytest.approx(0.5 * (np.log(4.0) + 2.19 / 2 - 1), rel=1e-12)


def test_kl_and_jeffrey_basic_identities() -> None:
    rng = np.random.default_rng(0)
    mu_p, mu_q = rng.normal(size=(2, 4, 3))
    var_p, var_q = rng.uniform(0.1, 3, size=(2, 4, 3))
    kl_pq = kl_diag_gaussians(mu_p, var_p, mu_q, var_q)
    kl_qp = kl_diag_gaussians(mu_q, var_q, mu_p, var_p)
    assert kl_pq.shape == (4,) and np.all(kl_pq > 0)
    np.testing.assert_allclose(jeffrey_diag_gaussians(mu_p, var_p, mu_q, var_q), kl_pq + kl_qp, rtol=1e-12)
    np.testing.assert_allclose(kl_diag_gaussians(mu_p, var_p, mu_p, var_p), 0.0, atol=1e-14)
    # torch mirror
    t = kl_diag_gaussians(*(torch.tensor(a) for a in (mu_p, var_p, mu_q, var_q)))
    np.testing.assert_allclose(t.numpy(), kl_pq, rtol=1e-12)


def test_bound_is_exact_for_a_single_component() -> None:
    rng = np.random.default_rng(1)
    mu_s, var_s = rng.normal(size=5), rng.uniform(0.2, 2, size=5)
    mu, var = rng.normal(size=(1, 5)), rng.uniform(0.2, 2, size=(1, 5))
    exact = jeffrey_diag_gaussians(mu_s, var_s, mu[0], var[0])
    assert weighted_jeffrey_bound(mu_s, var_s, [1.0], mu, var) == pytest.approx(exact, rel=1e-14)
    two = gmm_jeffrey_bound([1.0], mu_s[None], var_s[None], [1.0], mu, var)
    assert two == pytest.approx(exact, rel=1e-14)
    # and the Monte-Carlo estimator agrees with the closed form (checks the estimator)
    est, se = mc_jeffrey_divergence([1.0], mu_s[None], var_s[None], [1.0], mu, var,
                                    n_samples=20000, rng=2)
    assert abs(est - exact) < 5 * se + 1e-9


@pytest.mark.parametrize("seed", range(6))
def test_weighted_bound_dominates_monte_carlo_gaussian_vs_gmm(seed: int) -> None:
    """eq. 18: J(P_S, P_G) <= sum_i phi_i J(P_S, P_c^i), P_S Gaussian, P_G a GMM."""
    rng = np.random.default_rng(100 + seed)
    d, g = int(rng.integers(1, 4)), int(rng.integers(2, 5))
    w, mu, var = _random_gmm(rng, g, d)
    mu_s, var_s = rng.normal(size=d), rng.uniform(0.2, 2.0, size=d)
    bound, terms = weighted_jeffrey_bound(mu_s, var_s, w, mu, var, return_terms=True)
    assert terms.shape == (g,) and bound == pytest.approx(terms.sum())
    est, se = mc_jeffrey_divergence([1.0], mu_s[None], var_s[None], w, mu, var,
                                    n_samples=20000, rng=seed)
    # the bound must hold for the true value; allow 4 standard errors of MC noise
    assert bound >= est - 4 * se, (bound, est, se)
    assert est > 0


@pytest.mark.parametrize("seed", range(4))
def test_gmm_bound_dominates_monte_carlo_gmm_vs_gmm(seed: int) -> None:
    rng = np.random.default_rng(200 + seed)
    d = int(rng.integers(1, 4))
    p = _random_gmm(rng, int(rng.integers(1, 4)), d)
    q = _random_gmm(rng, int(rng.integers(2, 4)), d)
    bound = gmm_jeffrey_bound(*p, *q)
    est, se = mc_jeffrey_divergence(*p, *q, n_samples=20000, rng=seed)
    assert bound >= est - 4 * se, (bound, est, se)
    # a diagonal coupling of a mixture with itself gives the (tight) bound 0
    assert gmm_jeffrey_bound(*p, *p, coupling=np.diag(p[0])) == pytest.approx(0.0, abs=1e-12)
    assert gmm_jeffrey_bound(*p, *p) >= 0.0


def test_gmm_bound_reduces_to_eq18_with_one_side_single() -> None:
    rng = np.random.default_rng(3)
    w, mu, var = _random_gmm(rng, 3, 4)
    mu_s, var_s = rng.normal(size=4), rng.uniform(0.2, 2, size=4)
    a = weighted_jeffrey_bound(mu_s, var_s, w, mu, var)
    assert gmm_jeffrey_bound([1.0], mu_s[None], var_s[None], w, mu, var) == pytest.approx(a, rel=1e-13)
    assert gmm_jeffrey_bound(w, mu, var, [1.0], mu_s[None], var_s[None]) == pytest.approx(a, rel=1e-13)


def test_torch_batched_matches_numpy_and_is_differentiable() -> None:
    rng = np.random.default_rng(4)
    b, g, d = 3, 4, 5
    w = rng.dirichlet(np.ones(g), size=b)
    mu, var = rng.normal(size=(b, g, d)), rng.uniform(0.2, 2, size=(b, g, d))
    mu_s, var_s = rng.normal(size=(b, d)), rng.uniform(0.2, 2, size=(b, d))
    ref = np.array([weighted_jeffrey_bound(mu_s[i], var_s[i], w[i], mu[i], var[i]) for i in range(b)])
    np.testing.assert_allclose(weighted_jeffrey_bound(mu_s, var_s, w, mu, var), ref, rtol=1e-12)
    tensors = [torch.tensor(a, requires_grad=True) for a in (mu_s, var_s, w, mu, var)]
    out = weighted_jeffrey_bound(*tensors)
    assert out.shape == (b,)
    np.testing.assert_allclose(out.detach().numpy(), ref, rtol=1e-12)
    out.sum().backward()
    assert all(t.grad is not None and torch.isfinite(t.grad).all() for t in tensors)
    # analytic gradient check on a small case (weights unconstrained by gradcheck: skip validation)
    small = [torch.tensor(a[:1, :2, :2] if a.ndim == 3 else a[:1, :2], requires_grad=True)
             for a in (mu_s, var_s, w, mu, var)]
    assert torch.autograd.gradcheck(lambda *x: weighted_jeffrey_bound(*x, validate=False), small)
    # GMM-vs-GMM bound, batched torch vs numpy
    w2 = rng.dirichlet(np.ones(2), size=b)
    mu2, var2 = rng.normal(size=(b, 2, d)), rng.uniform(0.2, 2, size=(b, 2, d))
    ref2 = gmm_jeffrey_bound(w, mu, var, w2, mu2, var2)
    t2 = gmm_jeffrey_bound(*(torch.tensor(a) for a in (w, mu, var, w2, mu2, var2)))
    assert ref2.shape == (b,)
    np.testing.assert_allclose(t2.numpy(), ref2, rtol=1e-12)


def test_gmm_log_pdf_matches_scipy() -> None:
    rng = np.random.default_rng(5)
    w, mu, var = _random_gmm(rng, 3, 2)
    x = rng.normal(size=(7, 2))
    dens = sum(w[i] * stats.multivariate_normal(mu[i], np.diag(var[i])).pdf(x) for i in range(3))
    np.testing.assert_allclose(gmm_log_pdf(x, w, mu, var), np.log(dens), rtol=1e-10)


def test_bad_inputs_raise_value_error() -> None:
    mu_s, var_s = np.zeros(2), np.ones(2)
    w, mu, var = np.array([0.5, 0.5]), np.zeros((2, 2)), np.ones((2, 2))
    with pytest.raises(ValueError, match="sum to 1"):
        weighted_jeffrey_bound(mu_s, var_s, [0.5, 0.6], mu, var)
    with pytest.raises(ValueError, match="sum to 1"):
        weighted_jeffrey_bound(mu_s, var_s, [1.5, -0.5], mu, var)
    with pytest.raises(ValueError, match="positive"):
        weighted_jeffrey_bound(mu_s, var_s, w, mu, np.zeros((2, 2)))
    with pytest.raises(ValueError, match="positive"):
        kl_diag_gaussians(mu_s, -var_s, mu_s, var_s)
    with pytest.raises(ValueError, match="NaN"):
        weighted_jeffrey_bound(np.array([np.nan, 0.0]), var_s, w, mu, var)
    with pytest.raises(ValueError, match="without the last axis"):
        weighted_jeffrey_bound(mu_s, var_s, [1.0], mu, var)
    with pytest.raises(ValueError, match="feature sizes"):
        weighted_jeffrey_bound(np.zeros(3), np.ones(3), w, mu, var)
    with pytest.raises(ValueError, match="same shape"):
        weighted_jeffrey_bound(mu_s, np.ones(3), w, mu, var)
    with pytest.raises(ValueError, match="broadcast"):
        jeffrey_diag_gaussians(np.zeros(2), np.ones(2), np.zeros(3), np.ones(3))
    with pytest.raises(ValueError, match="coupling"):
        gmm_jeffrey_bound(w, mu, var, w, mu, var, coupling=np.eye(2))
    with pytest.raises(ValueError, match="n_samples"):
        mc_jeffrey_divergence(w, mu, var, w, mu, var, n_samples=1)
