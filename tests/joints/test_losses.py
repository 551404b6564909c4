"""Tests of mmsight.joints.losses: Hungarian L1 (eq. 12-14), OPL (eq. 5), orthogonality report."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from mmsight.joints.losses import (
    basis_orthogonality_loss,
    component_cost_matrix,
    cosine_matrix,
    hungarian_l1_loss,
    orthogonal_projection_loss,
    orthogonality_report,
)


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Tiny tensors: one intra-op thread is ~20x faster than two on a shared 2-core machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _random_sets(gen: torch.Generator, b: int, g: int, d: int):
    w = torch.softmax(torch.randn(b, g, generator=gen, dtype=torch.float64), -1)
    mu = torch.randn(b, g, d, generator=gen, dtype=torch.float64)
    var = torch.rand(b, g, d, generator=gen, dtype=torch.float64) + 0.1
    return w, mu, var


def test_cost_matrix_hand_example() -> None:
    # one predicted and one target component, D = 2:
    # |0.3 - 0.5| + mean(|1 - 0|, |2 - 4|) + mean(|0.5 - 1|, |1 - 1|) = 0.2 + 1.5 + 0.25 = 1.95
    c = component_cost_matrix([0.3], [[1.0, 2.0]], [[0.5, 1.0]], [0.5], [[0.0, 4.0]], [[1.0, 1.0]])
    assert c.shape == (1, 1, 1)
    assert c.item() == pytest.approx(1.95)
    c = component_cost_matrix([0.3], [[1.0, 2.0]], [[0.5, 1.0]], [0.5], [[0.0, 4.0]], [[1.0, 1.0]],
                              feature_reduction="sum")
    assert c.item() == pytest.approx(0.2 + 3.0 + 0.5)


def test_zero_for_identical_sets_and_permutation_invariant() -> None:
    gen = torch.Generator().manual_seed(0)
    w, mu, var = _random_sets(gen, 4, 5, 3)
    assert hungarian_l1_loss(w, mu, var, w, mu, var).item() == 0.0
    tw, tmu, tvar = _random_sets(gen, 4, 5, 3)
    base = hungarian_l1_loss(w, mu, var, tw, tmu, tvar, reduction="none")
    for _ in range(5):
        perm_p = torch.randperm(5, generator=gen)
        perm_t = torch.randperm(5, generator=gen)
        other = hungarian_l1_loss(
            w[:, perm_p], mu[:, perm_p], var[:, perm_p], tw[:, perm_t], tmu[:, perm_t], tvar[:, perm_t],
            reduction="none",
        )
        torch.testing.assert_close(other, base)
        # a permuted copy of the prediction as the target: zero loss, and the permutation is found
        loss, assign = hungarian_l1_loss(w, mu, var, w[:, perm_t], mu[:, perm_t], var[:, perm_t],
                                         return_assignment=True)
        assert loss.item() == 0.0
        inv = torch.argsort(perm_t)
        assert torch.equal(assign, inv.expand(4, 5))


def test_matches_brute_force_minimum_over_permutations() -> None:
    gen = torch.Generator().manual_seed(1)
    w, mu, var = _random_sets(gen, 3, 4, 2)
    tw, tmu, tvar = _random_sets(gen, 3, 4, 2)
    loss = hungarian_l1_loss(w, mu, var, tw, tmu, tvar, reduction="none")
    cost = component_cost_matrix(w, mu, var, tw, tmu, tvar)
    for b in range(3):
        best = min(sum(cost[b, i, p[i]].item() for i in range(4)) for p in itertools.permutations(range(4)))
        assert loss[b].item() == pytest.approx(best, rel=1e-12)
    mean = hungarian_l1_loss(w, mu, var, tw, tmu, tvar, reduction="mean")
    total = hungarian_l1_loss(w, mu, var, tw, tmu, tvar, reduction="sum")
    assert mean.item() == pytest.approx(loss.mean().item())
    assert total.item() == pytest.approx(loss.sum().item())


def test_gradients_flow_and_training_reduces_the_loss() -> None:
    gen = torch.Generator().manual_seed(2)
    tw, tmu, tvar = _random_sets(gen, 2, 3, 4)
    logits = torch.randn(2, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    mu = torch.randn(2, 3, 4, generator=gen, dtype=torch.float64, requires_grad=True)
    log_var = torch.zeros(2, 3, 4, dtype=torch.float64, requires_grad=True)
    params = [logits, mu, log_var]
    loss0 = hungarian_l1_loss(torch.softmax(logits, -1), mu, log_var.exp(), tw, tmu, tvar)
    loss0.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0 for p in params)
    opt = torch.optim.Adam(params, lr=0.05)
    for _ in range(100):
        opt.zero_grad()
        loss = hungarian_l1_loss(torch.softmax(logits, -1), mu, log_var.exp(), tw, tmu, tvar)
        loss.backward()
        opt.step()
    assert loss.item() < 0.1 * loss0.item()


def test_unbatched_and_numpy_inputs() -> None:
    rng = np.random.default_rng(3)
    w = rng.dirichlet(np.ones(3))
    mu, var = rng.normal(size=(3, 2)), rng.uniform(0.1, 1, size=(3, 2))
    loss = hungarian_l1_loss(w, mu, var, w[::-1], mu[::-1], var[::-1])
    assert isinstance(loss, torch.Tensor) and loss.item() == 0.0


def test_hungarian_bad_inputs() -> None:
    gen = torch.Generator().manual_seed(4)
    w, mu, var = _random_sets(gen, 2, 3, 4)
    with pytest.raises(ValueError, match="same B, G and D"):
        hungarian_l1_loss(w, mu, var, w[:, :2], mu[:, :2], var[:, :2])
    with pytest.raises(ValueError, match="weights"):
        hungarian_l1_loss(w[:, :2], mu, var, w, mu, var)
    bad = mu.clone()
    bad[0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        hungarian_l1_loss(w, bad, var, w, mu, var)
    with pytest.raises(ValueError, match="reduction"):
        hungarian_l1_loss(w, mu, var, w, mu, var, reduction="max")


# ----------------------------------------------------------------------------------------------
# orthogonality


def test_cosine_and_report_hand_values() -> None:
    # 60 degrees apart -> cos 0.5; a third vector orthogonal to both in 3-D
    b = torch.tensor([[1.0, 0.0, 0.0], [0.5, 3**0.5 / 2, 0.0], [0.0, 0.0, 2.0]])
    torch.testing.assert_close(cosine_matrix(b)[0, 1], torch.tensor(0.5))
    assert orthogonality_report(b) == pytest.approx(0.5, abs=1e-6)
    assert orthogonality_report(np.eye(4) * 3) == 0.0
    assert orthogonality_report(-np.eye(3) + 0.0) == 0.0
    with pytest.raises(ValueError, match="zero row"):
        orthogonality_report(np.array([[1.0, 0.0], [0.0, 0.0]]))
    with pytest.raises(ValueError, match=r"\[K, D\]"):
        orthogonality_report(np.ones(3))


def test_opl_hand_example() -> None:
    # cluster 0: (1,0), (1,0) -> same-cluster cos 1 -> L_s = 0
    # cluster 1: (0,1), (1,1)/sqrt2 -> same cos = 1/sqrt2
    # different-cluster cosines: (1,0)-(0,1) = 0 (x2 pairs), (1,0)-(1,1)/sqrt2 = 1/sqrt2 (x2)
    f = torch.tensor([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0], [1.0, 1.0]], dtype=torch.float64)
    labels = [0, 0, 1, 1]
    loss, parts = orthogonal_projection_loss(f, labels, lambda_s=0.5, return_parts=True)
    s = (1.0 + 1.0 / np.sqrt(2)) / 2  # mean over the ordered same pairs (2 of each cluster)
    d = (0 + 0 + 1 / np.sqrt(2) + 1 / np.sqrt(2)) / 4
    assert parts["s"].item() == pytest.approx(1 - s)
    assert parts["d"].item() == pytest.approx(d)
    assert loss.item() == pytest.approx(d + 0.5 * (1 - s))
    # pairwise_abs=False (|mean cos|) differs when signs cancel
    # cosines: (e1, (-1,1)) = -1/sqrt2, (e1, (1,1)) = +1/sqrt2, ((-1,1), (1,1)) = 0
    g = torch.tensor([[1.0, 0.0], [-1.0, 1.0], [1.0, 1.0]], dtype=torch.float64)
    _, p_abs = orthogonal_projection_loss(g, [0, 1, 2], return_parts=True)
    _, p_mean = orthogonal_projection_loss(g, [0, 1, 2], pairwise_abs=False, return_parts=True)
    assert p_abs["d"].item() == pytest.approx((4 / np.sqrt(2)) / 6)
    assert p_mean["d"].item() == pytest.approx(0.0, abs=1e-12)
    # a batch with a single cluster has no "different" pairs -> L_d = 0
    _, one = orthogonal_projection_loss(f, [3, 3, 3, 3], return_parts=True)
    assert one["d"].item() == 0.0


def test_basis_loss_drives_a_random_basis_to_orthogonal() -> None:
    torch.manual_seed(0)
    basis = torch.nn.Parameter(torch.randn(6, 6, dtype=torch.float64) + 0.5)
    before = orthogonality_report(basis)
    opt = torch.optim.Adam([basis], lr=0.02)
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.99)
    for _ in range(400):
        opt.zero_grad()
        basis_orthogonality_loss(basis).backward()
        opt.step()
        sched.step()
    assert before > 0.3
    assert orthogonality_report(basis) < 0.05
    # the basis stays invertible (eq. 10-11 need P_basis^-1)
    assert abs(torch.linalg.det(basis / basis.norm(dim=1, keepdim=True)).item()) > 0.9


def test_opl_makes_cluster_means_orthogonal_and_tight() -> None:
    gen = torch.Generator().manual_seed(5)
    n_clusters, per, dim = 4, 8, 8
    labels = torch.arange(n_clusters).repeat_interleave(per)
    feats = torch.nn.Parameter(torch.randn(n_clusters * per, dim, generator=gen, dtype=torch.float64) + 1.0)
    opt = torch.optim.Adam([feats], lr=0.05)
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.99)
    for _ in range(300):
        opt.zero_grad()
        orthogonal_projection_loss(feats, labels, lambda_s=1.0).backward()
        opt.step()
        sched.step()
    _, parts = orthogonal_projection_loss(feats, labels, return_parts=True)
    assert parts["s"].item() < 0.01
    unit = feats.detach() / feats.detach().norm(dim=1, keepdim=True)
    means = torch.stack([unit[labels == c].mean(0) for c in range(n_clusters)])
    assert orthogonality_report(means) < 0.05


def test_opl_bad_inputs() -> None:
    f = torch.randn(4, 3)
    with pytest.raises(ValueError, match="labels"):
        orthogonal_projection_loss(f, [0, 1, 2])
    with pytest.raises(ValueError, match="integers"):
        orthogonal_projection_loss(f, [0.0, 1.0, 0.0, 1.0])
    with pytest.raises(ValueError, match=r"\[N, D\]"):
        orthogonal_projection_loss(torch.randn(4), [0, 1, 0, 1])
    with pytest.raises(ValueError, match="NaN"):
        orthogonal_projection_loss(torch.full((4, 3), float("nan")), [0, 1, 0, 1])
