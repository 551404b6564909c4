"""Argument checks shared by the metric modules: clear errors naming the argument."""

from __future__ import annotations

import numpy as np


def as_float_array(x: object, name: str, *, ndim: int | None = None, last: int | None = None,
                   allow_nan: bool = False) -> np.ndarray:
    """``x`` as ``float64``; raises ``ValueError`` naming ``name`` on a wrong rank, last axis or NaN/inf."""
    a = np.asarray(x, dtype=np.float64)
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {a.shape}")
    if last is not None and (a.ndim == 0 or a.shape[-1] != last):
        raise ValueError(f"{name} must end with an axis of size {last}, got shape {a.shape}")
    if not allow_nan and not np.all(np.isfinite(a)):
        bad = np.argwhere(~np.isfinite(a))[0].tolist()
        raise ValueError(f"{name} holds a non-finite value at index {bad}")
    return a


def same_shape(a: np.ndarray, b: np.ndarray, names: tuple[str, str]) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{names[0]} and {names[1]} must have the same shape, got {a.shape} and {b.shape}")
