"""Thread limits for BLAS-backed numpy code.

The radar code's matrix products are small; on a 2-core machine that is busy with other work,
letting OpenBLAS start its threads for them costs far more than it saves (measured 4x slower for
the signal chain, 15x for the per-chirp forward model), so hot paths run under a limit of 1.

Entering a threadpoolctl limit queries and sets every loaded BLAS library (~0.1 ms each time); the
simulator enters one per stage per frame. :func:`blas_limit` therefore tracks the limit it has put
in place: a nested request for the same or a larger thread count inside an active limit is a no-op.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

_CONTROLLER: Any = None
_STATE = threading.local()  # .active: the innermost limit this module has set in this thread (None: none)


def active_blas_limit() -> int | None:
    """The innermost BLAS thread limit set by :func:`blas_limit` in this thread (None: none active)."""
    return getattr(_STATE, "active", None)


@contextlib.contextmanager
def _limited(n: int) -> Iterator[None]:
    with _CONTROLLER.limit(limits=n, user_api="blas"):
        outer = active_blas_limit()
        _STATE.active = n
        try:
            yield
        finally:
            _STATE.active = outer


def blas_limit(n: int | None) -> Any:
    """Context manager limiting BLAS threads to ``n`` (``None``: no change; no-op without threadpoolctl).

    Inside an active ``blas_limit(m)`` with ``m <= n`` it changes nothing and costs nothing."""
    global _CONTROLLER
    if n is None:
        return contextlib.nullcontext()
    active = active_blas_limit()
    if active is not None and active <= n:
        return contextlib.nullcontext()
    try:
        if _CONTROLLER is None:
            from threadpoolctl import ThreadpoolController

            _CONTROLLER = ThreadpoolController()
    except ImportError:  # pragma: no cover - threadpoolctl is a dependency
        return contextlib.nullcontext()
    return _limited(int(n))
