"""mmsight.utils.threads: BLAS limits, and nested limits that cost nothing."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest

threadpoolctl = pytest.importorskip("threadpoolctl")

from mmsight.utils.threads import active_blas_limit, blas_limit  # noqa: E402


def _blas_threads() -> list[int]:
    return [lib["num_threads"] for lib in threadpoolctl.threadpool_info() if lib["user_api"] == "blas"]


def test_limit_applies_and_is_restored_and_nested_requests_are_free() -> None:
    np.ones((2, 2)) @ np.ones((2, 2))  # make sure a BLAS is loaded
    before = _blas_threads()
    assert before, "no BLAS library loaded"
    assert active_blas_limit() is None
    with blas_limit(1):
        assert _blas_threads() == [1] * len(before)
        assert active_blas_limit() == 1
        inner = blas_limit(1)
        assert isinstance(inner, contextlib.nullcontext)  # same limit inside: nothing to do
        assert isinstance(blas_limit(4), contextlib.nullcontext)  # a looser request keeps the tighter limit
        with inner:
            assert _blas_threads() == [1] * len(before)
        assert active_blas_limit() == 1
    assert active_blas_limit() is None
    assert _blas_threads() == before


def test_none_changes_nothing() -> None:
    assert isinstance(blas_limit(None), contextlib.nullcontext)
    assert active_blas_limit() is None


def test_limit_is_restored_after_an_exception() -> None:
    before = _blas_threads()
    with pytest.raises(RuntimeError):
        with blas_limit(1):
            raise RuntimeError("boom")
    assert active_blas_limit() is None
    assert _blas_threads() == before
