"""DBSCAN point-cloud clustering: people become clusters, scattered points become noise."""

from __future__ import annotations

import numpy as np
import pytest

from mmsight.radar.clustering import ClusterResult, cluster_points


def person(rng: np.random.Generator, x: float, y: float, n: int = 40, doppler: float = 0.0) -> np.ndarray:
    """Points on a standing person (0.4 m wide, 0.3 m deep, 0.1-1.7 m tall), [n, 5]."""
    pts = np.column_stack(
        [
            x + rng.uniform(-0.2, 0.2, n),
            y + rng.uniform(-0.15, 0.15, n),
            rng.uniform(0.1, 1.7, n),
            doppler + rng.normal(0.0, 0.05, n),
            rng.uniform(10.0, 25.0, n),
        ]
    )
    return pts.astype(np.float32)


def test_two_people_two_clusters_and_noise() -> None:
    rng = np.random.default_rng(0)
    a = person(rng, -1.0, 3.0, doppler=0.5)
    b = person(rng, 1.0, 3.0, doppler=-0.3)
    # Isolated clutter points, more than 1 m from each other and from the people.
    clutter = np.array(
        [[-3.0, 1.0, 0.5, 0.0, 8.0], [3.0, 1.5, 1.0, 0.0, 8.0], [0.0, 6.0, 2.0, 0.1, 9.0], [-2.5, 6.5, 0.2, 0.0, 7.0]],
        dtype=np.float32,
    )
    pts = np.concatenate([a, clutter[:2], b, clutter[2:]])
    res = cluster_points(pts)
    assert isinstance(res, ClusterResult)
    assert res.n_clusters == 2
    assert res.labels.shape == (pts.shape[0],) and res.labels.dtype == np.int64
    la, lb = res.labels[: len(a)], res.labels[len(a) + 2 : len(a) + 2 + len(b)]
    assert (la == la[0]).all() and (lb == lb[0]).all() and la[0] != lb[0] and min(la[0], lb[0]) >= 0
    noise_idx = np.r_[len(a) : len(a) + 2, len(a) + 2 + len(b) : len(pts)]
    assert (res.labels[noise_idx] == -1).all()
    np.testing.assert_array_equal(res.noise_mask, res.labels == -1)
    for lab, truth, pts_i in ((la[0], (-1.0, 3.0), a), (lb[0], (1.0, 3.0), b)):
        assert np.linalg.norm(res.centroids[lab, :2] - truth) < 0.1
        assert res.sizes[lab] == len(pts_i)
        np.testing.assert_allclose(res.centroids[lab], pts_i[:, :3].mean(axis=0), rtol=1e-5)
        np.testing.assert_allclose(res.bbox_min[lab], pts_i[:, :3].min(axis=0))
        np.testing.assert_allclose(res.bbox_max[lab], pts_i[:, :3].max(axis=0))
        np.testing.assert_allclose(res.mean_doppler[lab], pts_i[:, 3].mean(), rtol=1e-5)
        np.testing.assert_allclose(res.mean_snr[lab], pts_i[:, 4].mean(), rtol=1e-5)
    assert res.centroids.dtype == np.float32 and res.centroids.shape == (2, 3)


def test_doppler_weight_separates_overlapping_movers() -> None:
    rng = np.random.default_rng(1)
    # Two people 0.3 m apart (closer than eps): one cluster on position alone ...
    pts = np.concatenate([person(rng, 0.0, 3.0, doppler=1.0), person(rng, 0.3, 3.0, doppler=-1.0)])
    assert cluster_points(pts).n_clusters == 1
    # ... two once Doppler counts (0.5 s * 2 m/s = 1 m apart in feature space).
    res = cluster_points(pts, doppler_weight=0.5)
    assert res.n_clusters == 2
    np.testing.assert_allclose(np.sort(res.mean_doppler), [-1.0, 1.0], atol=0.05)


def test_empty_and_all_noise() -> None:
    res = cluster_points(np.zeros((0, 5), dtype=np.float32))
    assert res.n_clusters == 0 and res.labels.shape == (0,)
    assert res.centroids.shape == (0, 3) and res.bbox_min.shape == (0, 3) and res.sizes.shape == (0,)
    sparse = np.array([[0, 1, 0, 0, 10], [3, 4, 0, 0, 10], [-3, 5, 1, 0, 10]], dtype=np.float32)
    res = cluster_points(sparse)
    assert res.n_clusters == 0 and (res.labels == -1).all()


def test_four_columns_accepted() -> None:
    rng = np.random.default_rng(2)
    res = cluster_points(person(rng, 0.0, 2.0)[:, :4])
    assert res.n_clusters == 1 and np.isnan(res.mean_snr).all()


@pytest.mark.parametrize(
    "points,kwargs,match",
    [
        (np.zeros((5, 3)), {}, "shape"),
        (np.zeros(5), {}, "shape"),
        (np.array([[0, 0, np.nan, 0, 0]]), {}, "NaN"),
        (np.zeros((5, 5)), {"eps": 0.0}, "eps"),
        (np.zeros((5, 5)), {"min_samples": 0}, "min_samples"),
        (np.zeros((5, 5)), {"doppler_weight": -1.0}, "doppler_weight"),
    ],
)
def test_bad_input(points, kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        cluster_points(points, **kwargs)
