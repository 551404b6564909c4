"""DBSCAN clustering of radar point clouds (one frame or a few merged frames).

Points follow the point-cloud record of ``ARCHITECTURE.md``: ``float32 [N, 5]`` with columns
``x, y, z`` (metres, radar frame), ``doppler`` (radial velocity, m/s) and ``snr`` (dB). Clustering
runs :class:`sklearn.cluster.DBSCAN` (Ester et al. 1996) on the feature vectors
``(x, y, z, doppler_weight * doppler)``: ``doppler_weight`` is in seconds, so the velocity term
is a distance in metres (radar-physics.md 2.5 suggests 0.1-0.3 s; 0 clusters on position only).
Typical human settings are ``eps = 0.3-0.5 m`` and ``min_samples = 3-5``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.cluster import DBSCAN

__all__ = ["ClusterResult", "cluster_points"]


@dataclass(frozen=True)
class ClusterResult:
    """Clusters of a point cloud with ``N`` points and ``C`` clusters.

    Attributes:
        labels: ``int64 [N]`` cluster index of each point in ``0 .. C-1``, ``-1`` for noise.
        centroids: ``float32 [C, 3]`` mean ``x, y, z`` of each cluster (m).
        sizes: ``int64 [C]`` number of points per cluster.
        mean_doppler: ``float32 [C]`` mean radial velocity per cluster (m/s).
        mean_snr: ``float32 [C]`` mean SNR per cluster (dB; NaN if the input had no SNR column).
        bbox_min: ``float32 [C, 3]`` minimum ``x, y, z`` per cluster (m).
        bbox_max: ``float32 [C, 3]`` maximum ``x, y, z`` per cluster (m).
    """

    labels: NDArray[np.int64]
    centroids: NDArray[np.float32]
    sizes: NDArray[np.int64]
    mean_doppler: NDArray[np.float32]
    mean_snr: NDArray[np.float32]
    bbox_min: NDArray[np.float32]
    bbox_max: NDArray[np.float32]

    @property
    def n_clusters(self) -> int:
        """Number of clusters ``C`` (noise excluded)."""
        return int(self.sizes.shape[0])

    @property
    def noise_mask(self) -> NDArray[np.bool_]:
        """``bool [N]``, True for points labelled noise."""
        return self.labels < 0


def cluster_points(
    points: ArrayLike,
    *,
    eps: float = 0.4,
    min_samples: int = 4,
    doppler_weight: float = 0.0,
) -> ClusterResult:
    """Cluster a radar point cloud with DBSCAN.

    Args:
        points: ``[N, 5]`` array ``x, y, z, doppler, snr`` (m, m, m, m/s, dB). ``[N, 4]`` (no SNR)
            is accepted too; extra columns beyond the fifth are ignored. ``N`` may be 0.
        eps: DBSCAN neighbourhood radius in metres (> 0).
        min_samples: minimum number of points (the point itself included) in an ``eps``
            neighbourhood for a core point (>= 1).
        doppler_weight: seconds; the Doppler column is multiplied by it and used as a fourth
            coordinate (>= 0; 0 ignores Doppler).

    Returns:
        :class:`ClusterResult`; clusters are numbered in DBSCAN's discovery order.

    Raises:
        ValueError: on a wrong shape, non-finite values or invalid parameters.
    """
    pts = np.asarray(points)
    if pts.ndim != 2 or pts.shape[1] < 4:
        raise ValueError(f"points must be an [N, 5] array (x, y, z, doppler, snr), got shape {pts.shape}")
    if np.iscomplexobj(pts) or not np.issubdtype(pts.dtype, np.number):
        raise ValueError(f"points must be a real numeric array, got dtype {pts.dtype}")
    pts = pts.astype(np.float64, copy=False)
    if not np.isfinite(pts[:, :5]).all():
        raise ValueError("points contain NaN or inf")
    if not (np.isfinite(eps) and eps > 0):
        raise ValueError(f"eps must be > 0 (metres), got {eps!r}")
    if isinstance(min_samples, bool) or not isinstance(min_samples, (int, np.integer)) or min_samples < 1:
        raise ValueError(f"min_samples must be an integer >= 1, got {min_samples!r}")
    if not (np.isfinite(doppler_weight) and doppler_weight >= 0):
        raise ValueError(f"doppler_weight must be >= 0 (seconds), got {doppler_weight!r}")

    n = pts.shape[0]
    if n == 0:
        return _summarise(np.zeros((0, 5)), np.zeros(0, dtype=np.int64), has_snr=True)

    features = pts[:, :3]
    if doppler_weight > 0:
        features = np.column_stack([features, doppler_weight * pts[:, 3]])
    labels = DBSCAN(eps=float(eps), min_samples=int(min_samples)).fit_predict(features).astype(np.int64)
    has_snr = pts.shape[1] >= 5
    return _summarise(pts, labels, has_snr=has_snr)


def _summarise(pts: NDArray[np.float64], labels: NDArray[np.int64], *, has_snr: bool) -> ClusterResult:
    """Per-cluster statistics with bincount / ufunc.at (no loop over clusters)."""
    n_clusters = int(labels.max()) + 1 if labels.size else 0
    in_cluster = labels >= 0
    lab = labels[in_cluster]
    sub = pts[in_cluster]
    sizes = np.bincount(lab, minlength=n_clusters).astype(np.int64)
    denom = np.maximum(sizes, 1)[:, None]
    xyz = sub[:, :3]
    centroids = np.stack([np.bincount(lab, weights=xyz[:, a], minlength=n_clusters) for a in range(3)], axis=1)
    centroids = centroids / denom
    mean_doppler = np.bincount(lab, weights=sub[:, 3], minlength=n_clusters) / denom[:, 0]
    if has_snr:
        mean_snr = np.bincount(lab, weights=sub[:, 4], minlength=n_clusters) / denom[:, 0]
    else:
        mean_snr = np.full(n_clusters, np.nan)
    bbox_min = np.full((n_clusters, 3), np.inf)
    bbox_max = np.full((n_clusters, 3), -np.inf)
    np.minimum.at(bbox_min, lab, xyz)
    np.maximum.at(bbox_max, lab, xyz)
    return ClusterResult(
        labels=labels.astype(np.int64, copy=False),
        centroids=centroids.astype(np.float32),
        sizes=sizes,
        mean_doppler=mean_doppler.astype(np.float32),
        mean_snr=mean_snr.astype(np.float32),
        bbox_min=bbox_min.astype(np.float32),
        bbox_max=bbox_max.astype(np.float32),
    )
