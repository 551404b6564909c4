"""FFTs along one axis of reusable work arrays: FFTW (pyFFTW) when it is installed, else scipy.fft.

The signal chain and the simulator's forward model transform the same work arrays every frame
(a few hundred transforms of 32-512 points). With one thread FFTW does these in about half the
time of ``scipy.fft`` (``benchmarks/fft_backends.py``: 0.45-0.50x for the range, Doppler and gridded
sum's transforms of an iwr6843isk frame), which is why it is used when available. FFTW is
GPL-licensed, so it is an optional extra (``pip install 'mmsight[fftw]'``; ``make setup`` installs
it); without it everything runs on ``scipy.fft``.

Backend choice: the environment variable ``MMSIGHT_FFT`` = ``auto`` (default: FFTW if importable),
``fftw`` (error if missing) or ``scipy``; :func:`use_backend` switches it in a running process.
The two backends agree to float rounding (~1e-7 relative for complex64), not bit for bit; each one
is deterministic: FFTW plans are made with ``FFTW_ESTIMATE`` (no timing-dependent choice) on arrays
aligned to :data:`ALIGNMENT` bytes (an unaligned array is transformed through an aligned copy), so
the same input gives the same bits on the same machine.

Plans are cached per pair of work arrays (their addresses, shape, strides, dtype, axis and
direction); a plan keeps its arrays alive, so the cache is bounded (:data:`_MAX_PLANS`, oldest
dropped first).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from typing import Any

import numpy as np

__all__ = ["ALIGNMENT", "backend", "empty_aligned", "fft", "fft_inplace", "use_backend"]

ALIGNMENT = 64  # bytes: enough for every SIMD width FFTW uses (AVX-512 needs 64)
_MAX_PLANS = 32
_PLANS: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
_PLANS_LOCK = threading.Lock()  # the cache is shared by threads (each thread should use its own arrays)
_BACKEND: str | None = None


def _have_fftw() -> bool:
    try:
        import pyfftw  # noqa: F401
    except ImportError:
        return False
    return True


def use_backend(name: str) -> str:
    """Select the FFT backend: ``"auto"``, ``"fftw"`` or ``"scipy"``; returns the one in use."""
    global _BACKEND
    name = str(name).strip().lower()
    if name not in ("auto", "fftw", "scipy"):
        raise ValueError(f"unknown FFT backend {name!r}: use 'auto', 'fftw' or 'scipy' (MMSIGHT_FFT)")
    if name == "fftw" and not _have_fftw():
        raise ImportError("FFT backend 'fftw' needs pyFFTW: pip install 'mmsight[fftw]' (or set MMSIGHT_FFT=scipy)")
    _BACKEND = ("fftw" if _have_fftw() else "scipy") if name == "auto" else name
    return _BACKEND


def backend() -> str:
    """The FFT backend in use: ``"fftw"`` or ``"scipy"`` (first call reads ``MMSIGHT_FFT``)."""
    if _BACKEND is None:
        return use_backend(os.environ.get("MMSIGHT_FFT", "auto") or "auto")
    return _BACKEND


def empty_aligned(shape: tuple[int, ...] | int, dtype: Any = np.complex64) -> np.ndarray:
    """An uninitialised C-contiguous array whose data start on an :data:`ALIGNMENT`-byte boundary."""
    shape = (shape,) if isinstance(shape, int) else tuple(int(s) for s in shape)
    dt = np.dtype(dtype)
    n = int(np.prod(shape, dtype=np.int64)) * dt.itemsize
    raw = np.empty(n + ALIGNMENT, dtype=np.uint8)
    start = (-raw.ctypes.data) % ALIGNMENT
    return raw[start : start + n].view(dt).reshape(shape)


def _aligned(a: np.ndarray) -> bool:
    return a.ctypes.data % ALIGNMENT == 0


def _plan(a: np.ndarray, out: np.ndarray, axis: int, inverse: bool, threads: int, keep: bool = True) -> Any:
    import pyfftw

    key = (a.ctypes.data, out.ctypes.data, a.shape, a.strides, out.strides, a.dtype.str, axis, inverse, threads)
    with _PLANS_LOCK:
        plan = _PLANS.get(key)
        if plan is not None:
            _PLANS.move_to_end(key)
            return plan
        plan = pyfftw.FFTW(a, out, axes=(axis,), direction="FFTW_BACKWARD" if inverse else "FFTW_FORWARD",
                           flags=("FFTW_ESTIMATE", "FFTW_DESTROY_INPUT"), threads=threads)
        if keep:
            _PLANS[key] = plan
            if len(_PLANS) > _MAX_PLANS:
                _PLANS.popitem(last=False)
    return plan


def fft(
    a: np.ndarray, axis: int = -1, *, out: np.ndarray | None = None, inverse: bool = False, workers: int | None = None
) -> np.ndarray:
    """Unnormalised DFT of the complex array ``a`` along ``axis``, written into ``out`` (None: into ``a``);
    returns the array written. ``a``'s contents are destroyed.

    Forward: ``A[m] = sum_l a[l] exp(-2 pi i l m / n)``; ``inverse=True``: ``exp(+2 pi i l m / n)``
    without the ``1/n`` (both as FFTW defines them). ``a`` and ``out`` must be writeable complex64 or
    complex128 arrays of one shape and dtype, best allocated once with :func:`empty_aligned` and reused
    (their plan is made once; a separate ``out`` is about twice as fast as in place with FFTW's
    deterministic planner). ``workers``: threads (None: 1).
    """
    if a.dtype not in (np.complex64, np.complex128):
        raise TypeError(f"fft needs a complex64 or complex128 array, got {a.dtype}")
    target = a if out is None else out
    if target.shape != a.shape or target.dtype != a.dtype:
        raise ValueError(f"out {target.shape} {target.dtype} does not match the input {a.shape} {a.dtype}")
    if not (a.flags.writeable and target.flags.writeable):
        raise ValueError("fft needs writeable arrays (it works in place)")
    ax = axis % a.ndim
    threads = 1 if workers is None else max(1, int(workers))
    if a.size == 0:
        return target
    if backend() == "scipy":
        import scipy.fft

        if inverse:
            res = scipy.fft.ifft(a, axis=ax, norm="forward", overwrite_x=True, workers=threads)
        else:
            res = scipy.fft.fft(a, axis=ax, overwrite_x=True, workers=threads)
        if res is not target:
            target[...] = res
        return target
    if _aligned(a) and _aligned(target):
        _plan(a, target, ax, inverse, threads).execute()
        return target
    # unaligned: through aligned copies, so that the same FFTW code path (and rounding) is used
    src = empty_aligned(a.shape, a.dtype)
    dst = empty_aligned(a.shape, a.dtype)
    src[...] = a
    _plan(src, dst, ax, inverse, threads, keep=False).execute()  # a plan on temporaries is not kept
    target[...] = dst
    return target


def fft_inplace(a: np.ndarray, axis: int = -1, *, inverse: bool = False, workers: int | None = None) -> np.ndarray:
    """:func:`fft` written into ``a`` itself."""
    return fft(a, axis, inverse=inverse, workers=workers)
