"""Percentage errors of scalar predictions (mmJoints' descriptor errors, Tables 7 and 9).

- wMAPE = ``100 * sum|f - y| / sum|y|``: stable when single truths are near zero.
- sMAPE = ``100 * mean(2 |f - y| / (|f| + |y|))``; a term with ``f = y = 0`` counts 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mmsight.eval._checks import as_float_array, same_shape


def _pair(pred: object, true: object) -> tuple[np.ndarray, np.ndarray]:
    p = as_float_array(pred, "pred")
    t = as_float_array(true, "true")
    same_shape(p, t, ("pred", "true"))
    if p.size == 0:
        raise ValueError("pred and true are empty")
    return p, t


def wmape(pred: object, true: object) -> float:
    """Weighted mean absolute percentage error (%); NaN when every truth is 0."""
    p, t = _pair(pred, true)
    den = np.abs(t).sum()
    return float(100.0 * np.abs(p - t).sum() / den) if den > 0 else float("nan")


def smape(pred: object, true: object) -> float:
    """Symmetric mean absolute percentage error (%), in [0, 200]."""
    p, t = _pair(pred, true)
    den = np.abs(t) + np.abs(p)
    num = 2.0 * np.abs(p - t)
    return float(100.0 * np.divide(num, den, out=np.zeros_like(num), where=den > 0).mean())


def regression_errors(pred: object, true: object) -> dict[str, float]:
    """``smape``, ``wmape`` (%), ``mae`` and ``mse`` of ``pred`` vs ``true`` (any equal shapes)."""
    p, t = _pair(pred, true)
    return {"smape": smape(p, t), "wmape": wmape(p, t),
            "mae": float(np.abs(p - t).mean()), "mse": float(((p - t) ** 2).mean())}
