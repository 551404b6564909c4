"""Thread limits for BLAS-backed numpy code.

The radar code's matrix products are small; on a 2-core machine that is busy with other work,
letting OpenBLAS start its threads for them costs far more than it saves (measured 4x slower for
the signal chain, 15x for the per-chirp forward model), so hot paths run under a limit of 1.
"""

from __future__ import annotations

import contextlib
from typing import Any

_CONTROLLER: Any = None


def blas_limit(n: int | None) -> Any:
    """Context manager limiting BLAS threads to ``n`` (``None``: no change; no-op without threadpoolctl)."""
    global _CONTROLLER
    if n is None:
        return contextlib.nullcontext()
    try:
        if _CONTROLLER is None:
            from threadpoolctl import ThreadpoolController

            _CONTROLLER = ThreadpoolController()
        return _CONTROLLER.limit(limits=n, user_api="blas")
    except ImportError:  # pragma: no cover - threadpoolctl is a dependency
        return contextlib.nullcontext()
