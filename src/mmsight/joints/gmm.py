"""Gaussian mixtures of mmJoints: BIC model selection and the choice of the pose-basis clusters.

* ``fit_gmm_bic`` - fits mixtures with 1..``max_components`` components (scikit-learn) and keeps
  the one with the lowest Bayesian Information Criterion. mmJoints uses it to cluster the training
  poses (Sec. 4.1 step 1, ``C >= D_p`` clusters) and to summarise the signal features near a pose
  as a diagonal GMM with ``G`` components (Sec. 4.3 step 2, eq. 8, "BIC on a randomly sub-sampled
  dataset, with an upper bound": ``subsample`` and ``max_components``).
* ``top_clusters_by_score`` - Sec. 4.1 step 1: ranks clusters by ``d_i * |cluster_i|`` where
  ``d_i`` is the Euclidean distance between the centroid of cluster ``i`` and the mean pose, and
  keeps the top ``D_p`` for the pose basis.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture

__all__ = ["GMMFit", "TopClusters", "fit_gmm_bic", "top_clusters_by_score"]

CovarianceType = Literal["diag", "full", "spherical", "tied"]


@dataclass(frozen=True)
class GMMFit:
    """A fitted mixture and its BIC selection.

    Attributes:
        weights: ``[G]`` mixture weights ``phi`` (sum 1).
        means: ``[G, d]`` component means.
        variances: ``[G, d]`` per-feature variances (the diagonal of each covariance; exact for
            ``covariance_type="diag"``).
        bic: ``{n_components: BIC}`` of every candidate tried (lower is better).
        model: the fitted ``sklearn.mixture.GaussianMixture`` (``predict``, ``score_samples``...).
    """

    weights: np.ndarray
    means: np.ndarray
    variances: np.ndarray
    bic: dict[int, float]
    model: GaussianMixture = field(repr=False)

    @property
    def n_components(self) -> int:
        return int(self.weights.shape[0])


def _diag_variances(model: GaussianMixture) -> np.ndarray:
    g, d = model.means_.shape
    cov = model.covariances_
    ctype = model.covariance_type
    if ctype == "diag":
        return np.array(cov, dtype=np.float64)
    if ctype == "spherical":
        return np.repeat(np.asarray(cov, dtype=np.float64)[:, None], d, axis=1)
    if ctype == "tied":
        return np.repeat(np.diag(cov)[None, :], g, axis=0).astype(np.float64)
    return np.stack([np.diag(c) for c in cov]).astype(np.float64)  # full


def fit_gmm_bic(
    x: Any,
    max_components: int,
    *,
    covariance_type: CovarianceType = "diag",
    random_state: int | None = None,
    min_components: int = 1,
    n_init: int = 1,
    max_iter: int = 200,
    reg_covar: float = 1e-6,
    subsample: int | None = None,
) -> GMMFit:
    """Fit a Gaussian mixture to ``x [n, d]`` with the number of components chosen by BIC.

    Every ``G`` in ``min_components..max_components`` is fitted (EM, k-means initialisation);
    the lowest BIC wins (ties: fewer components). With ``subsample`` the selection runs on a
    random subset of that many rows and the chosen ``G`` is then refitted on all of ``x``.

    Args:
        x: samples ``[n, d]`` (finite).
        max_components: largest ``G`` tried (the "upper bound to prevent overfitting").
        covariance_type: scikit-learn covariance type; mmJoints uses ``"diag"`` (eq. 8).
        random_state: seed of the initialisations and of the subsample.
        min_components: smallest ``G`` tried.
        n_init, max_iter, reg_covar: passed to ``GaussianMixture``.
        subsample: rows used for the BIC selection (None = all).

    Returns:
        ``GMMFit`` with ``weights [G]``, ``means [G, d]``, ``variances [G, d]``.

    Raises:
        ValueError: non-2-D or non-finite ``x``, bad component range, fewer samples than
            ``max_components``.
    """
    try:
        x = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"x must be a numeric array ({exc})") from None
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"x must be [n, d] with n, d > 0, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("x contains NaN or inf values")
    if not (1 <= min_components <= max_components):
        raise ValueError(
            f"need 1 <= min_components <= max_components, got {min_components}, {max_components}"
        )
    if covariance_type not in ("diag", "full", "spherical", "tied"):
        raise ValueError(f"unknown covariance_type {covariance_type!r}")
    rng = np.random.default_rng(random_state)
    sel = x
    if subsample is not None and subsample < x.shape[0]:
        if subsample < max_components:
            raise ValueError(f"subsample ({subsample}) must be >= max_components ({max_components})")
        sel = x[rng.choice(x.shape[0], size=subsample, replace=False)]
    if sel.shape[0] < max_components:
        raise ValueError(f"{sel.shape[0]} samples cannot support {max_components} components")

    def make(g: int) -> GaussianMixture:
        return GaussianMixture(
            n_components=g, covariance_type=covariance_type, random_state=random_state,
            n_init=n_init, max_iter=max_iter, reg_covar=reg_covar,
        )

    bic: dict[int, float] = {}
    models: dict[int, GaussianMixture] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for g in range(min_components, max_components + 1):
            m = make(g).fit(sel)
            bic[g] = float(m.bic(sel))
            models[g] = m
        best = min(bic, key=lambda g: (bic[g], g))
        model = models[best] if sel is x else make(best).fit(x)
    return GMMFit(
        weights=np.array(model.weights_, dtype=np.float64),
        means=np.array(model.means_, dtype=np.float64),
        variances=_diag_variances(model),
        bic=bic,
        model=model,
    )


@dataclass(frozen=True)
class TopClusters:
    """Clusters ranked by ``d_i * |cluster_i|`` (Sec. 4.1).

    Attributes:
        indices: ``[n_top]`` cluster ids, best first.
        scores: ``[C]`` score of every cluster ``0..C-1`` (0 for an empty cluster).
        distances: ``[C]`` ``d_i``, distance of each centroid to the mean pose (NaN if empty).
        sizes: ``[C]`` number of samples per cluster.
        centroids: ``[C, d]`` centroids used (NaN rows for empty clusters without given centroids).
    """

    indices: np.ndarray
    scores: np.ndarray
    distances: np.ndarray
    sizes: np.ndarray
    centroids: np.ndarray


def top_clusters_by_score(
    x: Any,
    labels: Any,
    n_top: int,
    *,
    centroids: Any = None,
    n_clusters: int | None = None,
) -> TopClusters:
    """Pick the ``n_top`` (``D_p``) clusters with the largest ``d_i * |cluster_i|`` (Sec. 4.1).

    ``d_i = ||c_i - mean(x)||``: the Euclidean distance between the centroid ``c_i`` of cluster
    ``i`` and the mean pose (the mean of all rows of ``x``); ``|cluster_i|`` counts its members.
    Large, far-from-average clusters are the most distinctive poses.

    Args:
        x: poses ``[n, d]`` (flattened joints or latent features).
        labels: ``[n]`` cluster ids in ``0..C-1`` (e.g. ``GMMFit.model.predict(x)``).
        n_top: number of clusters to keep (``D_p``); must not exceed the number of non-empty
            clusters (the paper requires ``C >= D_p``).
        centroids: optional ``[C, d]`` centroids (e.g. ``GMMFit.means``); default: the mean of
            each cluster's members.
        n_clusters: ``C`` when some clusters are empty (default: ``len(centroids)`` or
            ``max(labels) + 1``).

    Returns:
        ``TopClusters``; ties in score are broken by the smaller cluster id.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"x must be [n, d] with n > 0, got {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("x contains NaN or inf values")
    lab = np.asarray(labels)
    if lab.shape != (x.shape[0],):
        raise ValueError(f"labels must be [n={x.shape[0]}], got {lab.shape}")
    if not np.issubdtype(lab.dtype, np.integer):
        raise ValueError("labels must be integers")
    if lab.min() < 0:
        raise ValueError("labels must be >= 0")
    if centroids is not None:
        cent = np.asarray(centroids, dtype=np.float64)
        if cent.ndim != 2 or cent.shape[1] != x.shape[1]:
            raise ValueError(f"centroids must be [C, {x.shape[1]}], got {cent.shape}")
        if not np.isfinite(cent).all():
            raise ValueError("centroids contain NaN or inf values")
        c = cent.shape[0] if n_clusters is None else n_clusters
        if c != cent.shape[0]:
            raise ValueError(f"n_clusters={n_clusters} but {cent.shape[0]} centroids")
    else:
        c = int(lab.max()) + 1 if n_clusters is None else int(n_clusters)
    if lab.max() >= c:
        raise ValueError(f"label {lab.max()} out of range for {c} clusters")
    sizes = np.bincount(lab, minlength=c)
    if centroids is None:
        sums = np.zeros((c, x.shape[1]))
        np.add.at(sums, lab, x)
        with np.errstate(invalid="ignore", divide="ignore"):
            cent = sums / sizes[:, None]
    mean_pose = x.mean(axis=0)
    dist = np.linalg.norm(cent - mean_pose, axis=1)
    scores = np.where(sizes > 0, np.nan_to_num(dist) * sizes, 0.0)
    n_nonempty = int((sizes > 0).sum())
    if not 1 <= n_top <= n_nonempty:
        raise ValueError(
            f"n_top={n_top} but only {n_nonempty} non-empty clusters (need C >= D_p >= 1)"
        )
    order = np.lexsort((np.arange(c), sizes == 0, -scores))  # last key is the primary one
    return TopClusters(
        indices=order[:n_top].copy(), scores=scores, distances=dist, sizes=sizes, centroids=cent
    )
