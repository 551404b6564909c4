"""Re-identification metrics: CMC (rank-k accuracy) and mean average precision (mAP).

Inputs: a distance matrix ``distances [Q, G]`` between Q queries (e.g. radar tracks) and G gallery
items (e.g. camera tracks), smaller = more alike, and their identities ``query_ids [Q]``,
``gallery_ids [G]``. Rankings sort each row by distance with a stable sort, so ties keep gallery
order (deterministic). A query whose identity is not in the gallery has no defined rank: by default
that is an error; with ``skip_unmatched=True`` such queries are left out and *counted*
(``retrieval_metrics`` reports ``n_unmatched``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mmsight.eval._checks import as_float_array


def _matches(distances: object, query_ids: object, gallery_ids: object,
             skip_unmatched: bool) -> tuple[np.ndarray, int]:
    """``bool [Q', G]``: gallery items in ranked order that share the query's identity; and the number
    of queries left out for having no match."""
    d = as_float_array(distances, "distances", ndim=2)
    q = np.asarray(query_ids)
    g = np.asarray(gallery_ids)
    if q.shape != (d.shape[0],):
        raise ValueError(f"query_ids must be [Q] = [{d.shape[0]}], got shape {q.shape}")
    if g.shape != (d.shape[1],):
        raise ValueError(f"gallery_ids must be [G] = [{d.shape[1]}], got shape {g.shape}")
    if d.shape[0] == 0 or d.shape[1] == 0:
        raise ValueError(f"distances is empty (shape {d.shape})")
    order = np.argsort(d, axis=1, kind="stable")
    hits = g[order] == q[:, None]
    has = hits.any(axis=1)
    if not has.all():
        if not skip_unmatched:
            first = int(np.flatnonzero(~has)[0])
            raise ValueError(f"query {first} (identity {q[first].item()!r}) has no match in the gallery; "
                             f"{int((~has).sum())} such queries (pass skip_unmatched=True to leave them out)")
        hits = hits[has]
        if hits.shape[0] == 0:
            raise ValueError("no query has a match in the gallery")
    return hits, int((~has).sum())


def cmc(distances: object, query_ids: object, gallery_ids: object, ranks: Sequence[int] = (1, 5, 10),
        *, skip_unmatched: bool = False) -> dict[int, float]:
    """Rank-k accuracy (%) for each k in ``ranks``: share of queries whose first correct gallery item
    is among the k nearest."""
    hits, _ = _matches(distances, query_ids, gallery_ids, skip_unmatched)
    first = hits.argmax(axis=1)  # 0-based rank of the first correct item
    out = {}
    for k in ranks:
        if k < 1:
            raise ValueError(f"ranks must be >= 1, got {k}")
        out[int(k)] = float(100.0 * (first < k).mean())
    return out


def mean_average_precision(distances: object, query_ids: object, gallery_ids: object,
                           *, skip_unmatched: bool = False) -> float:
    """mAP (%): the mean over queries of the average precision of the ranked gallery (the mean of the
    precision at every correct item's rank)."""
    hits, _ = _matches(distances, query_ids, gallery_ids, skip_unmatched)
    cum = np.cumsum(hits, axis=1)
    rank = np.arange(1, hits.shape[1] + 1)
    ap = (np.where(hits, cum / rank, 0.0).sum(axis=1)) / hits.sum(axis=1)
    return float(100.0 * ap.mean())


def retrieval_metrics(distances: object, query_ids: object, gallery_ids: object,
                      ranks: Sequence[int] = (1, 5, 10), *, skip_unmatched: bool = False) -> dict[str, Any]:
    """``rank{k}`` (%), ``map`` (%), ``n_queries`` (evaluated) and ``n_unmatched`` (left out)."""
    hits, n_unmatched = _matches(distances, query_ids, gallery_ids, skip_unmatched)
    out: dict[str, Any] = {f"rank{k}": v for k, v in
                           cmc(distances, query_ids, gallery_ids, ranks, skip_unmatched=skip_unmatched).items()}
    out["map"] = mean_average_precision(distances, query_ids, gallery_ids, skip_unmatched=skip_unmatched)
    out["n_queries"] = int(hits.shape[0])
    out["n_unmatched"] = n_unmatched
    return out
