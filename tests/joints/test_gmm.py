"""Tests of mmsight.joints.gmm: BIC model selection and top-D_p cluster choice (Sec. 4.1, 4.3)."""

from __future__ import annotations

import numpy as np
import pytest

from mmsight.joints.gmm import fit_gmm_bic, top_clusters_by_score


def _three_clusters(rng: np.random.Generator, n: int = 120) -> tuple[np.ndarray, np.ndarray]:
    centres = np.array([[0.0, 0.0], [6.0, 0.0], [0.0, 6.0]])
    scales = np.array([[0.5, 0.8], [0.7, 0.4], [0.6, 0.6]])
    labels = np.repeat(np.arange(3), n)
    x = centres[labels] + scales[labels] * rng.standard_normal((3 * n, 2))
    return x, labels


def test_bic_picks_three_components_on_a_clear_three_cluster_sample() -> None:
    x, _ = _three_clusters(np.random.default_rng(0))
    fit = fit_gmm_bic(x, max_components=6, random_state=0)
    assert fit.n_components == 3
    assert set(fit.bic) == set(range(1, 7))
    assert min(fit.bic, key=fit.bic.get) == 3
    assert fit.weights.shape == (3,) and fit.weights.sum() == pytest.approx(1.0)
    assert fit.means.shape == (3, 2) and fit.variances.shape == (3, 2)
    assert np.all(fit.variances > 0)
    # the recovered means and variances are those of the generator (order is arbitrary)
    true_means = np.array([[0.0, 0.0], [6.0, 0.0], [0.0, 6.0]])
    order = np.argmin(np.linalg.norm(true_means[:, None] - fit.means[None], axis=-1), axis=1)
    assert sorted(order.tolist()) == [0, 1, 2]
    np.testing.assert_allclose(fit.means[order], [[0, 0], [6, 0], [0, 6]], atol=0.25)
    np.testing.assert_allclose(np.sqrt(fit.variances[order]), [[0.5, 0.8], [0.7, 0.4], [0.6, 0.6]], rtol=0.25)
    np.testing.assert_allclose(fit.variances, fit.model.covariances_)


def test_bic_with_subsample_and_other_covariance_types() -> None:
    x, _ = _three_clusters(np.random.default_rng(1), n=150)
    fit = fit_gmm_bic(x, max_components=5, random_state=1, subsample=200)
    assert fit.n_components == 3
    assert fit.model.n_features_in_ == 2
    full = fit_gmm_bic(x, max_components=4, covariance_type="full", random_state=1)
    assert full.variances.shape == (full.n_components, 2)
    np.testing.assert_allclose(full.variances[0], np.diag(full.model.covariances_[0]))
    sph = fit_gmm_bic(x, max_components=4, covariance_type="spherical", random_state=1)
    assert np.all(sph.variances[:, 0] == sph.variances[:, 1])
    # a single Gaussian blob -> 1 component
    blob = np.random.default_rng(2).normal(size=(300, 3))
    assert fit_gmm_bic(blob, max_components=4, random_state=0).n_components == 1


def test_gmm_bad_inputs() -> None:
    x, _ = _three_clusters(np.random.default_rng(3), n=20)
    bad = x.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fit_gmm_bic(bad, 3)
    with pytest.raises(ValueError, match=r"\[n, d\]"):
        fit_gmm_bic(x[:, 0], 3)
    with pytest.raises(ValueError, match="min_components"):
        fit_gmm_bic(x, 0)
    with pytest.raises(ValueError, match="samples"):
        fit_gmm_bic(x[:2], 3)
    with pytest.raises(ValueError, match="covariance_type"):
        fit_gmm_bic(x, 3, covariance_type="banana")  # type: ignore[arg-type]


def test_top_clusters_hand_example() -> None:
    # 1-D poses. cluster 0: {0, 0, 0, 0} (4 poses), cluster 1: {10, 10} (2), cluster 2: {-1} (1)
    # mean pose = (0*4 + 10*2 - 1) / 7 = 19 / 7 = 2.714285...
    # d = |0 - 19/7| = 19/7, |10 - 19/7| = 51/7, |-1 - 19/7| = 26/7
    # score = d * size = 76/7 = 10.86, 102/7 = 14.57, 26/7 = 3.71 -> order 1, 0, 2
    x = np.array([[0.0], [0.0], [0.0], [0.0], [10.0], [10.0], [-1.0]])
    labels = np.array([0, 0, 0, 0, 1, 1, 2])
    top = top_clusters_by_score(x, labels, 2)
    np.testing.assert_array_equal(top.indices, [1, 0])
    np.testing.assert_allclose(top.scores, [76 / 7, 102 / 7, 26 / 7])
    np.testing.assert_allclose(top.distances, [19 / 7, 51 / 7, 26 / 7])
    np.testing.assert_array_equal(top.sizes, [4, 2, 1])
    # given centroids (e.g. GMM means) are used instead of member means
    top = top_clusters_by_score(x, labels, 3, centroids=[[0.0], [3.0], [-30.0]])
    assert top.scores[2] == pytest.approx(30 + 19 / 7)
    np.testing.assert_array_equal(top.indices, [2, 0, 1])


def test_top_clusters_empty_cluster_and_errors() -> None:
    x = np.array([[0.0], [2.0], [4.0]])
    labels = np.array([0, 2, 2])  # cluster 1 is empty
    top = top_clusters_by_score(x, labels, 2)
    assert top.sizes.tolist() == [1, 0, 2] and top.scores[1] == 0.0
    assert set(top.indices.tolist()) == {0, 2}
    with pytest.raises(ValueError, match="non-empty"):
        top_clusters_by_score(x, labels, 3)  # C >= D_p is violated
    with pytest.raises(ValueError, match="labels"):
        top_clusters_by_score(x, labels[:2], 1)
    with pytest.raises(ValueError, match="integers"):
        top_clusters_by_score(x, labels.astype(float), 1)
    with pytest.raises(ValueError, match="NaN"):
        top_clusters_by_score(np.array([[np.nan], [0.0], [1.0]]), labels, 1)
    with pytest.raises(ValueError, match="centroids"):
        top_clusters_by_score(x, labels, 1, centroids=np.zeros((3, 2)))
