"""CFAR detection on square-law (linear power) maps, and TI-style peak grouping.

Everything here is array in -> array out and needs no radar configuration.

Input convention
----------------
``power`` is **linear power** (square-law detector output, ``|X|**2``), real, finite and
non-negative: a range profile ``[n_range]``, a Doppler row ``[n_doppler]`` or a range-Doppler /
range-azimuth map ``[n_range, n_doppler]``. dB maps and TI's log2-magnitude maps are *not*
accepted: convert with ``10 ** (db / 10)`` first. The design false-alarm rates assume that, in
noise-only cells, ``power`` is exponentially distributed (complex Gaussian noise through a
square-law detector) and independent from cell to cell.

Window
------
``train`` and ``guard`` are **one-sided** lengths per axis (TI's ``winLen`` and ``guardLen``). For
the cell under test (CUT) at offset 0, the reference cells are all offsets ``d`` with
``|d_a| <= guard_a + train_a`` on every axis minus the guard box ``|d_a| <= guard_a`` on every axis.
In 1D that is ``N = 2 train`` cells; in 2D it is a rectangle with a rectangular hole,
``N = prod(2 (g_a + t_a) + 1) - prod(2 g_a + 1)``.

Threshold factors (design ``pfa`` -> ``alpha``), exact for i.i.d. exponential noise
---------------------------------------------------------------------------------
* CA (cell averaging), ``T = alpha * mean``: ``pfa = (1 + alpha/N)**(-N)``, so
  ``alpha = N (pfa**(-1/N) - 1)`` (Richards, *Fundamentals of Radar Signal Processing*).
* CAGO / CASO (greatest-of / smallest-of the leading and lagging half means ``A``, ``B`` with
  ``n1``, ``n2`` cells), ``T = alpha * max(A, B)`` or ``alpha * min(A, B)``:
  ``P_SO = S(n1, n2) + S(n2, n1)`` with
  ``S(n1, n2) = sum_{j<n2} C(n1-1+j, j) n1**n1 n2**j / (alpha + n1 + n2)**(n1+j)``, and
  ``P_GO = (1 + alpha/n1)**(-n1) + (1 + alpha/n2)**(-n2) - P_SO`` (because
  ``1{X > a max} + 1{X > a min} = 1{X > a A} + 1{X > a B}``). This is the classical result of
  Weiss (1982) / Gandhi and Kassam (1988) written for half *means* and unequal halves; it is
  derived in ``docs/detection.md``. ``alpha`` is found with :func:`scipy.optimize.brentq`.
* OS (ordered statistic, Rohling 1983), ``T = alpha * x_(k)`` with ``x_(k)`` the k-th smallest
  reference cell: ``pfa = prod_{i=0}^{k-1} (N - i) / (N - i + alpha)``, solved with brentq.
  Default ``k = round(3 N / 4)``.

Edge policy (``edge=``)
-----------------------
On a cyclic axis (``wrap=True``, e.g. Doppler) the window wraps around and every cell has the full
window (the axis must be at least one window long). On a non-cyclic axis the window of cells near
the ends does not fit:

* ``"shrink"`` (default): use the reference cells that exist, and recompute ``alpha`` for the
  actual cell count of each cell (CA: ``N_cell``; CAGO/CASO: ``(n1_cell, n2_cell)``, a missing
  half falls back to the other half alone; OS: ``N_cell`` and ``k_cell = round(k N_cell / N)``
  clipped to ``[1, N_cell]``). The design ``pfa`` therefore holds at *every* cell; edge cells just
  pay a larger CFAR loss.
* ``"exclude"``: cells without the full window are not tested.

Cells that are not tested (``valid == False``) have ``detections = False`` and ``NaN`` threshold,
noise and SNR. ``CfarResult.n_ref`` tells how many reference cells each cell used.

``noise`` and ``snr_db``
------------------------
``noise`` is an estimate of the mean noise power at the cell, scaled to be unbiased in homogeneous
exponential noise: CA uses the mean; CAGO/CASO use ``max(A, B) / E[max(A, B)]`` or
``min(A, B) / E[min(A, B)]``; OS uses ``x_(k) / E[x_(k)]`` with
``E[x_(k)] = sum_{i=N-k+1}^{N} 1/i`` (per unit noise power). ``threshold`` is the detector's
actual threshold (``alpha`` times the raw statistic), ``snr_db = 10 log10(power / noise)``.

Sums are computed in float64 with summed-area tables (relative rounding error about
``1e-16 * max(power) / noise``, harmless below ~120 dB of dynamic range); OS uses
``numpy.partition`` over the gathered windows (exact, cost ``O(N)`` per cell).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import ArrayLike, NDArray
from scipy import ndimage, optimize, special

__all__ = [
    "CaMode",
    "CfarResult",
    "EdgePolicy",
    "ca_alpha",
    "ca_cfar_1d",
    "ca_cfar_2d",
    "ca_pfa",
    "goso_alpha",
    "goso_pfa",
    "group_peaks",
    "os_alpha",
    "os_cfar_1d",
    "os_cfar_2d",
    "os_default_k",
    "os_pfa",
]

CaMode = Literal["ca", "cago", "caso"]
EdgePolicy = Literal["shrink", "exclude"]

_CA_MODES = ("ca", "cago", "caso")
_EDGES = ("shrink", "exclude")
# Number of window values OS-CFAR gathers and partitions at once (~64-128 kB, cache-sized).
_OS_BLOCK_VALUES = 1 << 14


@dataclass(frozen=True)
class CfarResult:
    """Output of a CFAR detector; every array has the shape of the input map.

    Attributes:
        detections: bool, ``power > threshold`` on tested cells.
        threshold: detection threshold in the input's power units (``NaN`` where not tested).
        noise: unbiased estimate of the mean noise power around the cell (``NaN`` where not tested).
        snr_db: ``10 log10(power / noise)`` in dB (``NaN`` where not tested).
        valid: bool, cells that were tested (see the module's edge policy).
        n_ref: int, number of reference cells used for each cell.
    """

    detections: NDArray[np.bool_]
    threshold: NDArray[np.floating]
    noise: NDArray[np.floating]
    snr_db: NDArray[np.floating]
    valid: NDArray[np.bool_]
    n_ref: NDArray[np.int64]

    @property
    def indices(self) -> NDArray[np.int64]:
        """Indices of the detections, ``int64 [n_detections, ndim]`` in row-major order."""
        return np.argwhere(self.detections)

    @property
    def n_detections(self) -> int:
        """Number of detected cells."""
        return int(np.count_nonzero(self.detections))


# --------------------------------------------------------------------------------------------
# Design formulas: pfa <-> alpha
# --------------------------------------------------------------------------------------------


def _check_pfa(pfa: float) -> float:
    try:
        value = float(pfa)
    except (TypeError, ValueError):
        raise ValueError(f"pfa must be a number in (0, 1), got {pfa!r}") from None
    if not (0.0 < value < 1.0) or math.isnan(value):
        raise ValueError(f"pfa must be in the open interval (0, 1), got {pfa!r}")
    return value


def ca_pfa(alpha: float | ArrayLike, n: int | ArrayLike) -> NDArray[np.float64]:
    """False-alarm probability of CA-CFAR, ``(1 + alpha/n)**(-n)``, for exponential noise.

    Args:
        alpha: threshold factor on the mean of the reference cells (scalar or array).
        n: number of reference cells (>= 1, broadcast against ``alpha``).
    """
    alpha = np.asarray(alpha, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    return np.exp(-n * np.log1p(alpha / n))


def ca_alpha(n: int | ArrayLike, pfa: float) -> NDArray[np.float64] | float:
    """CA-CFAR threshold factor ``alpha = n (pfa**(-1/n) - 1)`` (Richards).

    Args:
        n: number of reference cells, scalar or integer array (>= 1).
        pfa: design probability of false alarm in (0, 1).

    Returns:
        ``alpha`` with the shape of ``n`` (a float for scalar ``n``).
    """
    pfa = _check_pfa(pfa)
    n_arr = np.asarray(n, dtype=np.float64)
    if np.any(n_arr < 1):
        raise ValueError("the number of reference cells must be >= 1")
    alpha = n_arr * np.expm1(-np.log(pfa) / n_arr)
    return float(alpha) if alpha.ndim == 0 else alpha


def _log_so_term(alpha: float, n1: int, n2: int) -> float:
    """log E[exp(-alpha A) 1{A < B}] for half means A (n1 cells) and B (n2 cells)."""
    j = np.arange(n2, dtype=np.float64)
    log_terms = (
        special.gammaln(n1 + j)
        - special.gammaln(n1)
        - special.gammaln(j + 1.0)
        + n1 * math.log(n1)
        + j * math.log(n2)
        - (n1 + j) * math.log(alpha + n1 + n2)
    )
    return float(special.logsumexp(log_terms))


def goso_pfa(alpha: float, n_lead: int, n_lag: int, mode: Literal["cago", "caso"]) -> float:
    """Exact false-alarm probability of CAGO/CASO-CFAR for exponential noise.

    The threshold is ``alpha * max(A, B)`` (CAGO) or ``alpha * min(A, B)`` (CASO), where ``A`` and
    ``B`` are the *means* of the leading (``n_lead`` cells) and lagging (``n_lag`` cells) halves.
    If one half is empty the detector is CA on the other half.
    """
    if mode not in ("cago", "caso"):
        raise ValueError(f"mode must be 'cago' or 'caso', got {mode!r}")
    if n_lead < 0 or n_lag < 0 or n_lead + n_lag < 1:
        raise ValueError("need at least one reference cell")
    if n_lead == 0 or n_lag == 0:
        return float(ca_pfa(alpha, max(n_lead, n_lag)))
    p_so = math.exp(_log_so_term(alpha, n_lead, n_lag)) + math.exp(_log_so_term(alpha, n_lag, n_lead))
    if mode == "caso":
        return p_so
    p_a = float(ca_pfa(alpha, n_lead))
    p_b = float(ca_pfa(alpha, n_lag))
    return max(p_a + p_b - p_so, 0.0)


def os_pfa(alpha: float, n: int, k: int) -> float:
    """Exact OS-CFAR false-alarm probability ``prod_{i<k} (n-i)/(n-i+alpha)`` (Rohling 1983).

    The threshold is ``alpha`` times the k-th smallest (1-based) of ``n`` reference cells.
    """
    i = np.arange(k, dtype=np.float64)
    return float(np.exp(np.sum(np.log(n - i) - np.log(n - i + alpha))))


def _solve_alpha(log_pfa_of_alpha, pfa: float, start: float) -> float:
    """Solve ``log_pfa_of_alpha(alpha) = log(pfa)`` for alpha > 0 (the function decreases)."""
    target = math.log(pfa)

    def f(a: float) -> float:
        return log_pfa_of_alpha(a) - target

    hi = max(start, 1e-3)
    while f(hi) > 0.0:
        hi *= 2.0
        if hi > 1e300:  # pragma: no cover - would need pfa below ~1e-300
            raise ValueError(f"cannot reach pfa={pfa}")
    lo = 0.0
    return float(optimize.brentq(f, lo, hi, xtol=1e-13, rtol=1e-13, maxiter=500))


@lru_cache(maxsize=4096)
def _goso_alpha_cached(n_lead: int, n_lag: int, pfa: float, mode: str) -> float:
    if n_lead == 0 or n_lag == 0:
        return float(ca_alpha(max(n_lead, n_lag), pfa))
    start = float(ca_alpha(n_lead + n_lag, pfa))
    return _solve_alpha(lambda a: math.log(max(goso_pfa(a, n_lead, n_lag, mode), 1e-320)), pfa, start)  # type: ignore[arg-type]


def goso_alpha(n_lead: int, n_lag: int, pfa: float, mode: Literal["cago", "caso"]) -> float:
    """Threshold factor of CAGO/CASO-CFAR for a design ``pfa`` (exact, solved with brentq).

    Args:
        n_lead: number of cells in the leading half (>= 0).
        n_lag: number of cells in the lagging half (>= 0; ``n_lead + n_lag >= 1``).
        pfa: design probability of false alarm in (0, 1).
        mode: ``"cago"`` (greatest of the half means) or ``"caso"`` (smallest of).
    """
    pfa = _check_pfa(pfa)
    if mode not in ("cago", "caso"):
        raise ValueError(f"mode must be 'cago' or 'caso', got {mode!r}")
    n_lead, n_lag = int(n_lead), int(n_lag)
    if n_lead < 0 or n_lag < 0 or n_lead + n_lag < 1:
        raise ValueError("need at least one reference cell")
    return _goso_alpha_cached(n_lead, n_lag, pfa, mode)


@lru_cache(maxsize=4096)
def _os_alpha_cached(n: int, k: int, pfa: float) -> float:
    i = np.arange(k, dtype=np.float64)
    log_n = np.log(n - i)

    def log_pfa(a: float) -> float:
        return float(np.sum(log_n - np.log(n - i + a)))

    return _solve_alpha(log_pfa, pfa, float(ca_alpha(n, pfa)))


def os_default_k(n: int) -> int:
    """Rohling's usual choice ``k = round(3 n / 4)`` (at least 1) for ``n`` reference cells."""
    return max(1, int(round(0.75 * n)))


def os_alpha(n: int, k: int, pfa: float) -> float:
    """OS-CFAR threshold factor for the k-th smallest (1-based) of ``n`` cells and a design ``pfa``."""
    pfa = _check_pfa(pfa)
    n, k = int(n), int(k)
    if n < 1 or not 1 <= k <= n:
        raise ValueError(f"need n >= 1 and 1 <= k <= n, got n={n}, k={k}")
    return _os_alpha_cached(n, k, pfa)


@lru_cache(maxsize=4096)
def _expected_min_of_means(n1: int, n2: int) -> float:
    """E[min(A, B)] for independent means of n1 and n2 unit-mean exponentials."""
    i = np.arange(n1, dtype=np.float64)[:, None]
    j = np.arange(n2, dtype=np.float64)[None, :]
    log_terms = (
        i * math.log(n1)
        + j * math.log(n2)
        + special.gammaln(i + j + 1.0)
        - special.gammaln(i + 1.0)
        - special.gammaln(j + 1.0)
        - (i + j + 1.0) * math.log(n1 + n2)
    )
    return float(np.exp(special.logsumexp(log_terms)))


def _goso_noise_factor(n1: int, n2: int, mode: str) -> float:
    """E[statistic] per unit noise power for CAGO (max of half means) / CASO (min)."""
    if n1 == 0 or n2 == 0:
        return 1.0
    e_min = _expected_min_of_means(n1, n2)
    return 2.0 - e_min if mode == "cago" else e_min


def _os_noise_factor(n: int, k: int) -> float:
    """E[x_(k)] per unit noise power: sum_{i=n-k+1}^{n} 1/i."""
    return float(np.sum(1.0 / np.arange(n - k + 1, n + 1, dtype=np.float64)))


# --------------------------------------------------------------------------------------------
# Input validation and window geometry
# --------------------------------------------------------------------------------------------


def _as_power(power: ArrayLike, ndim: int) -> tuple[NDArray[np.float64], np.dtype]:
    arr = np.asarray(power)
    if arr.ndim != ndim:
        raise ValueError(f"power must be a {ndim}-D array, got shape {arr.shape} ({arr.ndim}-D)")
    if np.iscomplexobj(arr):
        raise ValueError("power must be real linear power; take np.abs(x)**2 of complex spectra first")
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer) or arr.dtype == bool):
        raise ValueError(f"power must be a numeric array, got dtype {arr.dtype}")
    out_dtype = np.dtype(np.float32) if arr.dtype in (np.float16, np.float32) else np.dtype(np.float64)
    x = arr.astype(np.float64, copy=False)
    if np.isnan(x).any():
        raise ValueError("power contains NaN")
    if np.isinf(x).any():
        raise ValueError("power contains inf")
    if x.size and x.min() < 0:
        raise ValueError("power must be non-negative linear power (|X|**2), not dB or log values")
    return x, out_dtype


def _int_tuple(value: int | Sequence[int], ndim: int, name: str, minimum: int) -> tuple[int, ...]:
    vals = (value,) * ndim if np.ndim(value) == 0 else tuple(value)  # type: ignore[arg-type]
    if len(vals) != ndim:
        raise ValueError(f"{name} must be an int or a sequence of {ndim} ints, got {value!r}")
    out = []
    for v in vals:
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise ValueError(f"{name} must contain integers, got {value!r}")
        if v < minimum:
            raise ValueError(f"{name} must be >= {minimum} on every axis, got {value!r}")
        out.append(int(v))
    return tuple(out)


def _bool_tuple(value: bool | Sequence[bool], ndim: int, name: str) -> tuple[bool, ...]:
    vals = (value,) * ndim if np.ndim(value) == 0 else tuple(value)  # type: ignore[arg-type]
    if len(vals) != ndim:
        raise ValueError(f"{name} must be a bool or a sequence of {ndim} bools, got {value!r}")
    return tuple(bool(v) for v in vals)


def _check_edge(edge: str) -> None:
    if edge not in _EDGES:
        raise ValueError(f"edge must be one of {_EDGES}, got {edge!r}")


def _check_cyclic_lengths(shape: tuple[int, ...], half: tuple[int, ...], wrap: tuple[bool, ...]) -> None:
    for ax, (n, w, cyc) in enumerate(zip(shape, half, wrap)):
        if cyc and n < 2 * w + 1:
            raise ValueError(
                f"axis {ax} is cyclic (wrap=True) but has {n} cells, fewer than the window length "
                f"{2 * w + 1}: reference cells would be counted twice"
            )


def _pad(x: NDArray, widths: tuple[int, ...], wrap: tuple[bool, ...], fill: float) -> NDArray:
    """Pad every axis by ``widths[a]`` on both sides: cyclically (``wrap[a]``) or with ``fill``.

    Cyclic axes must be at least ``widths[a]`` long. Corners between a cyclic and a filled axis
    hold ``fill``.
    """
    out = np.full(tuple(n + 2 * w for n, w in zip(x.shape, widths)), fill, dtype=x.dtype)
    out[tuple(slice(w, w + n) for n, w in zip(x.shape, widths))] = x
    for ax, (n, w, cyc) in enumerate(zip(x.shape, widths, wrap)):
        if not cyc or w == 0:
            continue
        lead = [slice(None)] * x.ndim
        src = [slice(None)] * x.ndim
        lead[ax], src[ax] = slice(0, w), slice(n, n + w)
        out[tuple(lead)] = out[tuple(src)]
        lead[ax], src[ax] = slice(w + n, n + 2 * w), slice(w, 2 * w)
        out[tuple(lead)] = out[tuple(src)]
    return out


Box = tuple[tuple[int, int], ...]  # inclusive (lo, hi) offsets per axis


def _axis_count(n: int, lo: int, hi: int, cyclic: bool) -> NDArray[np.int64]:
    """Number of existing cells at offsets [lo, hi] from each index of an axis of length n."""
    if lo > hi:
        return np.zeros(n, dtype=np.int64)
    if cyclic:
        return np.full(n, hi - lo + 1, dtype=np.int64)
    i = np.arange(n)
    return np.maximum(0, np.minimum(i + hi, n - 1) - np.maximum(i + lo, 0) + 1)


def _box_count(shape: tuple[int, ...], box: Box, wrap: tuple[bool, ...]) -> NDArray[np.int64]:
    out = np.ones((1,) * len(shape), dtype=np.int64)
    for ax, (n, (lo, hi), cyc) in enumerate(zip(shape, box, wrap)):
        c = _axis_count(n, lo, hi, cyc)
        out = out * c.reshape([-1 if a == ax else 1 for a in range(len(shape))])
    return out


class _SummedArea:
    """Summed-area table of a padded array, for O(1) box sums around every original cell."""

    def __init__(self, x: NDArray[np.float64], widths: tuple[int, ...], wrap: tuple[bool, ...]):
        self.shape = x.shape
        self.widths = widths
        xp = _pad(x, widths, wrap, 0.0)
        sat = np.zeros(tuple(s + 1 for s in xp.shape), dtype=np.float64)
        inner = sat[(slice(1, None),) * x.ndim]
        np.cumsum(xp, axis=0, out=inner)
        for ax in range(1, x.ndim):
            np.cumsum(inner, axis=ax, out=inner)
        self.sat = sat

    def box_sum(self, box: Box) -> NDArray[np.float64]:
        if any(lo > hi for lo, hi in box):
            return np.zeros(self.shape, dtype=np.float64)
        out = np.zeros(self.shape, dtype=np.float64)
        # Inclusion-exclusion over the 2**ndim corners of the box.
        for corner in itertools.product((0, 1), repeat=len(self.shape)):
            sl = []
            sign = 1
            for ax, (n, w, (lo, hi)) in enumerate(zip(self.shape, self.widths, box)):
                start = w + hi + 1 if corner[ax] else w + lo
                if not corner[ax]:
                    sign = -sign
                sl.append(slice(start, start + n))
            term = self.sat[tuple(sl)]
            if sign > 0:
                out += term
            else:
                out -= term
        return out


def _boxes(train: tuple[int, ...], guard: tuple[int, ...]) -> tuple[Box, Box]:
    outer = tuple((-(g + t), g + t) for t, g in zip(train, guard))
    inner = tuple((-g, g) for g in guard)
    return outer, inner


def _half_boxes(train: tuple[int, ...], guard: tuple[int, ...], axis: int, lead: bool) -> tuple[Box, Box]:
    """Outer and guard boxes of the leading (offsets < 0) or lagging (> 0) half along ``axis``."""
    outer, inner = _boxes(train, guard)
    w, g = train[axis] + guard[axis], guard[axis]
    o, i = list(outer), list(inner)
    if lead:
        o[axis], i[axis] = (-w, -1), (-g, -1)
    else:
        o[axis], i[axis] = (1, w), (1, g)
    return tuple(o), tuple(i)


def _lookup(keys: tuple[NDArray[np.int64], NDArray[np.int64]], fn) -> NDArray[np.float64]:
    """Evaluate ``fn(a, b)`` once per distinct pair of the 1-D int arrays ``keys`` and scatter back."""
    a, b = (np.asarray(k, dtype=np.int64) for k in keys)
    if a.size == 0:
        return np.zeros(0, dtype=np.float64)
    base = int(b.max()) + 1
    uniq, inv = np.unique(a * base + b, return_inverse=True)
    vals = np.array([fn(int(u // base), int(u % base)) for u in uniq], dtype=np.float64)
    return vals[inv.reshape(-1)]


def _finish(
    x: NDArray[np.float64],
    threshold: NDArray[np.float64],
    noise: NDArray[np.float64],
    valid: NDArray[np.bool_],
    n_ref: NDArray[np.int64],
    out_dtype: np.dtype,
) -> CfarResult:
    if not valid.all():
        threshold = np.where(valid, threshold, np.nan)
        noise = np.where(valid, noise, np.nan)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        detections = x > threshold  # False where threshold is NaN (untested cells)
        # The ratio is formed in float64; the logarithm in the output dtype (faster in float32).
        snr_db = np.log10((x / noise).astype(out_dtype, copy=False))
        snr_db *= 10.0
    return CfarResult(
        detections=detections,
        threshold=threshold.astype(out_dtype, copy=False),
        noise=noise.astype(out_dtype, copy=False),
        snr_db=snr_db,
        valid=valid.copy(),
        n_ref=n_ref.astype(np.int64),
    )


def _empty_result(shape: tuple[int, ...], out_dtype: np.dtype) -> CfarResult:
    nan = np.full(shape, np.nan, dtype=out_dtype)
    return CfarResult(
        detections=np.zeros(shape, bool),
        threshold=nan,
        noise=nan.copy(),
        snr_db=nan.copy(),
        valid=np.zeros(shape, bool),
        n_ref=np.zeros(shape, np.int64),
    )


# --------------------------------------------------------------------------------------------
# CA / CAGO / CASO
# --------------------------------------------------------------------------------------------


def _ca_cfar(
    power: ArrayLike,
    ndim: int,
    train: int | Sequence[int],
    guard: int | Sequence[int],
    pfa: float,
    mode: str,
    wrap: bool | Sequence[bool],
    edge: str,
    split_axis: int,
) -> CfarResult:
    x, out_dtype = _as_power(power, ndim)
    t = _int_tuple(train, ndim, "train", 1)
    g = _int_tuple(guard, ndim, "guard", 0)
    pfa = _check_pfa(pfa)
    cyc = _bool_tuple(wrap, ndim, "wrap")
    if mode not in _CA_MODES:
        raise ValueError(f"mode must be one of {_CA_MODES}, got {mode!r}")
    _check_edge(edge)
    if not 0 <= split_axis < ndim:
        raise ValueError(f"split_axis must be in [0, {ndim}), got {split_axis}")
    half = tuple(a + b for a, b in zip(t, g))
    _check_cyclic_lengths(x.shape, half, cyc)
    if x.size == 0:
        return _empty_result(x.shape, out_dtype)

    geo = _cached(_ca_geometry, x.shape, t, g, cyc, edge, pfa, mode, split_axis)
    sat = _SummedArea(x, half, cyc)
    if mode == "ca":
        outer, inner = _boxes(t, g)
        # a sum of powers is >= 0; the summed-area difference can round a few ulps below 0 where
        # the window holds only (near) zeros next to a very strong cell, so clip
        stat = np.maximum(sat.box_sum(outer) - sat.box_sum(inner), 0.0) * geo.inv_counts[0]
    else:
        means = []
        for lead, inv in zip((True, False), geo.inv_counts):
            o, i = _half_boxes(t, g, split_axis, lead)
            means.append(np.maximum(sat.box_sum(o) - sat.box_sum(i), 0.0) * inv)  # NaN where the half is empty
        pick = np.fmax if mode == "cago" else np.fmin  # fmax/fmin ignore a missing (NaN) half
        stat = pick(means[0], means[1])
    threshold = geo.alpha * stat
    noise = stat * geo.inv_factor
    return _finish(x, threshold, noise, geo.valid, geo.n_ref, out_dtype)


@dataclass(frozen=True)
class _Geometry:
    """Per-cell window bookkeeping that depends only on shape and parameters (cached).

    ``alpha`` and ``inv_factor`` multiply the raw statistic into the threshold and the unbiased
    noise estimate; they are floats when uniform, else arrays. ``inv_counts`` are ``1 / count``
    of the averaged regions (NaN where a region is empty).
    """

    valid: NDArray[np.bool_]
    n_ref: NDArray[np.int64]
    alpha: float | NDArray[np.float64]
    inv_factor: float | NDArray[np.float64]
    inv_counts: tuple[NDArray[np.float64], ...] = ()
    full: NDArray[np.bool_] | None = None
    partial_idx: tuple[NDArray[np.intp], ...] = ()
    partial_k: NDArray[np.int64] | None = None


# Window bookkeeping is cached for maps up to this many cells (repeated frames of one size).
_GEOMETRY_CACHE_MAX_CELLS = 1 << 17


@lru_cache(maxsize=16)
def _cached_call(fn, *args):  # type: ignore[no-untyped-def]
    return fn(*args)


def _cached(fn, shape: tuple[int, ...], *args):  # type: ignore[no-untyped-def]
    """``fn(shape, *args)``, memoised for small maps (the results are read-only arrays)."""
    if math.prod(shape) <= _GEOMETRY_CACHE_MAX_CELLS:
        return _cached_call(fn, shape, *args)
    return fn(shape, *args)


def _readonly(*arrays: NDArray) -> None:
    for a in arrays:
        a.flags.writeable = False


def _inverse(count: NDArray[np.int64]) -> NDArray[np.float64]:
    with np.errstate(divide="ignore"):
        inv = np.where(count > 0, 1.0 / np.maximum(count, 1), np.nan)
    return inv


def _ca_geometry(
    shape: tuple[int, ...],
    t: tuple[int, ...],
    g: tuple[int, ...],
    cyc: tuple[bool, ...],
    edge: str,
    pfa: float,
    mode: str,
    split_axis: int,
) -> _Geometry:
    half = tuple(a + b for a, b in zip(t, g))
    if mode == "ca":
        outer, inner = _boxes(t, g)
        n_ref = np.broadcast_to(_box_count(shape, outer, cyc) - _box_count(shape, inner, cyc), shape).copy()
        n_full = math.prod(2 * h + 1 for h in half) - math.prod(2 * b + 1 for b in g)
        valid = n_ref >= 1 if edge == "shrink" else n_ref == n_full
        if (n_ref[valid] == n_full).all():
            alpha: float | NDArray[np.float64] = float(ca_alpha(n_full, pfa))
        else:
            lut = np.full(n_full + 1, np.nan)
            lut[1:] = ca_alpha(np.arange(1, n_full + 1), pfa)
            alpha = lut[n_ref]
        inv = _inverse(n_ref)
        _readonly(n_ref, valid, inv, *([alpha] if isinstance(alpha, np.ndarray) else []))
        return _Geometry(valid=valid, n_ref=n_ref, alpha=alpha, inv_factor=1.0, inv_counts=(inv,))

    counts = []
    for lead in (True, False):
        o, i = _half_boxes(t, g, split_axis, lead)
        counts.append(np.broadcast_to(_box_count(shape, o, cyc) - _box_count(shape, i, cyc), shape).copy())
    n1, n2 = counts
    # Cells in one full half (both halves have the same size by symmetry).
    o, i = _half_boxes(t, g, split_axis, True)
    n_half = math.prod(hi - lo + 1 for lo, hi in o) - math.prod(max(0, hi - lo + 1) for lo, hi in i)
    n_ref = n1 + n2
    valid = n_ref >= 1 if edge == "shrink" else (n1 == n_half) & (n2 == n_half)
    alpha0 = goso_alpha(n_half, n_half, pfa, mode)  # type: ignore[arg-type]
    factor0 = _goso_noise_factor(n_half, n_half, mode)
    partial = valid & ((n1 != n_half) | (n2 != n_half))
    if partial.any():
        alpha = np.full(shape, alpha0)
        factor = np.full(shape, factor0)
        k1, k2 = n1[partial], n2[partial]
        alpha[partial] = _lookup((k1, k2), lambda p, q: goso_alpha(p, q, pfa, mode))  # type: ignore[arg-type]
        factor[partial] = _lookup((k1, k2), lambda p, q: _goso_noise_factor(p, q, mode))
        inv_factor: float | NDArray[np.float64] = 1.0 / factor
        _readonly(alpha, inv_factor)  # type: ignore[arg-type]
    else:
        alpha, inv_factor = alpha0, 1.0 / factor0
    inv1, inv2 = _inverse(n1), _inverse(n2)
    _readonly(n_ref, valid, inv1, inv2)
    return _Geometry(valid=valid, n_ref=n_ref, alpha=alpha, inv_factor=inv_factor, inv_counts=(inv1, inv2))


def ca_cfar_1d(
    power: ArrayLike,
    *,
    train: int,
    guard: int,
    pfa: float,
    mode: CaMode = "ca",
    wrap: bool = False,
    edge: EdgePolicy = "shrink",
) -> CfarResult:
    """Cell-averaging CFAR (CA, CAGO or CASO) along a 1-D linear-power profile.

    Args:
        power: linear power ``[n]`` (e.g. a range profile ``[n_range]``), real, finite, >= 0.
        train: one-sided number of training cells (TI ``winLen``), >= 1; ``N = 2 train``.
        guard: one-sided number of guard cells (TI ``guardLen``), >= 0.
        pfa: design probability of false alarm per cell, in (0, 1).
        mode: ``"ca"`` (mean of all ``2 train`` cells), ``"cago"`` (greatest of the leading and
            lagging half means) or ``"caso"`` (smallest of) -- TI's CFAR modes 0, 1, 2.
        wrap: treat the axis as cyclic (Doppler).
        edge: ``"shrink"`` or ``"exclude"`` for cells whose window does not fit (module docstring).

    Returns:
        :class:`CfarResult` with arrays of shape ``[n]``.
    """
    return _ca_cfar(power, 1, train, guard, pfa, mode, wrap, edge, 0)


def ca_cfar_2d(
    power: ArrayLike,
    *,
    train: int | tuple[int, int],
    guard: int | tuple[int, int],
    pfa: float,
    mode: CaMode = "ca",
    wrap: bool | tuple[bool, bool] = (False, True),
    edge: EdgePolicy = "shrink",
    split_axis: int = 0,
) -> CfarResult:
    """Two-dimensional cell-averaging CFAR (CA, CAGO or CASO) on a linear-power map.

    The reference window is the rectangle ``|d0| <= g0 + t0, |d1| <= g1 + t1`` minus the guard
    rectangle ``|d0| <= g0, |d1| <= g1``. For CAGO/CASO the two "halves" are the reference cells
    with offset ``< 0`` and ``> 0`` along ``split_axis`` (range by default); the reference cells in
    the CUT's own row (offset 0 on ``split_axis``) are not used by CAGO/CASO.

    Args:
        power: linear power ``[n0, n1]``, e.g. range-Doppler ``[n_range, n_doppler]``.
        train: one-sided training cells per axis ``(t0, t1)`` (an int applies to both), >= 1.
        guard: one-sided guard cells per axis ``(g0, g1)``, >= 0.
        pfa: design probability of false alarm per cell, in (0, 1).
        mode: ``"ca"``, ``"cago"`` or ``"caso"``.
        wrap: per-axis cyclic flags; default ``(False, True)`` (range open, Doppler cyclic).
        edge: ``"shrink"`` or ``"exclude"`` (module docstring).
        split_axis: axis along which CAGO/CASO split the window into leading/lagging halves.

    Returns:
        :class:`CfarResult` with arrays of shape ``[n0, n1]``.
    """
    return _ca_cfar(power, 2, train, guard, pfa, mode, wrap, edge, split_axis)


# --------------------------------------------------------------------------------------------
# OS
# --------------------------------------------------------------------------------------------


def _os_cfar(
    power: ArrayLike,
    ndim: int,
    train: int | Sequence[int],
    guard: int | Sequence[int],
    pfa: float,
    k: int | None,
    wrap: bool | Sequence[bool],
    edge: str,
) -> CfarResult:
    x, out_dtype = _as_power(power, ndim)
    t = _int_tuple(train, ndim, "train", 1)
    g = _int_tuple(guard, ndim, "guard", 0)
    pfa = _check_pfa(pfa)
    cyc = _bool_tuple(wrap, ndim, "wrap")
    _check_edge(edge)
    half = tuple(a + b for a, b in zip(t, g))
    _check_cyclic_lengths(x.shape, half, cyc)
    window = tuple(2 * h + 1 for h in half)
    footprint = np.ones(window, dtype=bool)
    footprint[tuple(slice(h - b, h + b + 1) for h, b in zip(half, g))] = False
    n_full = int(footprint.sum())
    if k is None:
        k = os_default_k(n_full)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= n_full:
        raise ValueError(f"k must be an integer in [1, {n_full}] (the number of reference cells), got {k!r}")
    k = int(k)
    if x.size == 0:
        return _empty_result(x.shape, out_dtype)

    geo = _cached(_os_geometry, x.shape, t, g, cyc, edge, pfa, k)
    full = geo.full
    assert full is not None and geo.partial_k is not None

    # Order statistics are selections, so they are exact in the input's float dtype; float32
    # input keeps float32 here (half the memory traffic).
    sel_dtype = np.float32 if out_dtype == np.float32 else np.float64
    xp = _pad(x.astype(sel_dtype, copy=False), half, cyc, np.nan)
    windows = sliding_window_view(xp, window)  # [*shape, *window]
    kth = np.full(x.shape, np.nan)
    # Full-window cells: one k for all. np.partition over gathered windows, in blocks small
    # enough to stay in cache (this matters more than anything else for speed).
    if full.any():
        n_rows = x.shape[0]
        row_cells = int(np.prod(x.shape[1:], dtype=np.int64))
        cells_per_block = max(1, _OS_BLOCK_VALUES // n_full)
        rows_per_block = max(1, cells_per_block // row_cells)
        cols_per_block = row_cells if ndim == 1 else max(1, min(row_cells, cells_per_block))
        for r0 in range(0, n_rows, rows_per_block):
            r1 = min(n_rows, r0 + rows_per_block)
            if not full[r0:r1].any():
                continue
            for c0 in range(0, row_cells if ndim > 1 else 1, cols_per_block):
                if ndim == 1:
                    block = windows[r0:r1]
                    target: tuple[slice, ...] = (slice(r0, r1),)
                else:
                    c1 = min(row_cells, c0 + cols_per_block)
                    block = windows[r0:r1, c0:c1]
                    target = (slice(r0, r1), slice(c0, c1))
                vals = block[..., footprint]  # [*block, n_full] (copy)
                vals.partition(k - 1, axis=-1)
                kth[target] = vals[..., k - 1]
        kth[~full] = np.nan
    if geo.partial_k.size:
        idx = geo.partial_idx
        vals = windows[idx][:, footprint]  # [n_partial, n_full], missing cells are NaN
        vals.sort(axis=-1)  # NaN sort last, so position k_cell - 1 is the k-th existing value
        kth[idx] = vals[np.arange(vals.shape[0]), geo.partial_k - 1]
    threshold = geo.alpha * kth
    noise = kth * geo.inv_factor
    return _finish(x, threshold, noise, geo.valid, geo.n_ref, out_dtype)


def _os_geometry(
    shape: tuple[int, ...],
    t: tuple[int, ...],
    g: tuple[int, ...],
    cyc: tuple[bool, ...],
    edge: str,
    pfa: float,
    k: int,
) -> _Geometry:
    half = tuple(a + b for a, b in zip(t, g))
    n_full = math.prod(2 * h + 1 for h in half) - math.prod(2 * b + 1 for b in g)
    outer, inner = _boxes(t, g)
    n_ref = np.broadcast_to(_box_count(shape, outer, cyc) - _box_count(shape, inner, cyc), shape).copy()
    full = n_ref == n_full
    valid = n_ref >= 1 if edge == "shrink" else full
    alpha0 = os_alpha(n_full, k, pfa)
    factor0 = _os_noise_factor(n_full, k)
    partial = valid & ~full
    idx = np.nonzero(partial)
    n_cell = n_ref[idx]
    k_cell = np.clip(np.rint(k * n_cell / n_full).astype(np.int64), 1, np.maximum(n_cell, 1))
    if n_cell.size:
        alpha: float | NDArray[np.float64] = np.full(shape, alpha0)
        factor = np.full(shape, factor0)
        alpha[idx] = _lookup((n_cell, k_cell), lambda n, kk: os_alpha(n, kk, pfa))
        factor[idx] = _lookup((n_cell, k_cell), _os_noise_factor)
        inv_factor: float | NDArray[np.float64] = 1.0 / factor
        _readonly(alpha, inv_factor)  # type: ignore[arg-type]
    else:
        alpha, inv_factor = alpha0, 1.0 / factor0
    _readonly(n_ref, full, valid, k_cell, *idx)
    return _Geometry(
        valid=valid, n_ref=n_ref, alpha=alpha, inv_factor=inv_factor, full=full, partial_idx=idx, partial_k=k_cell
    )


def os_cfar_1d(
    power: ArrayLike,
    *,
    train: int,
    guard: int,
    pfa: float,
    k: int | None = None,
    wrap: bool = False,
    edge: EdgePolicy = "shrink",
) -> CfarResult:
    """Ordered-statistic CFAR (TI mode 3) along a 1-D linear-power profile.

    Args:
        power: linear power ``[n]``, real, finite, >= 0.
        train: one-sided number of training cells, >= 1; ``N = 2 train``.
        guard: one-sided number of guard cells, >= 0.
        pfa: design probability of false alarm per cell, in (0, 1).
        k: 1-based rank of the order statistic among the ``N`` reference cells; default
            ``round(3 N / 4)``.
        wrap: treat the axis as cyclic.
        edge: ``"shrink"`` or ``"exclude"`` (module docstring).

    Returns:
        :class:`CfarResult` with arrays of shape ``[n]``.
    """
    return _os_cfar(power, 1, train, guard, pfa, k, wrap, edge)


def os_cfar_2d(
    power: ArrayLike,
    *,
    train: int | tuple[int, int],
    guard: int | tuple[int, int],
    pfa: float,
    k: int | None = None,
    wrap: bool | tuple[bool, bool] = (False, True),
    edge: EdgePolicy = "shrink",
) -> CfarResult:
    """Two-dimensional ordered-statistic CFAR on a linear-power map ``[n0, n1]``.

    Same window as :func:`ca_cfar_2d`; ``k`` is the 1-based rank among the ``N`` reference cells
    of the full window (default ``round(3 N / 4)``). Cost is ``O(N)`` per cell.
    """
    return _os_cfar(power, 2, train, guard, pfa, k, wrap, edge)


# --------------------------------------------------------------------------------------------
# Peak grouping
# --------------------------------------------------------------------------------------------


def group_peaks(
    power: ArrayLike,
    detections: ArrayLike,
    *,
    neighbourhood: int | Sequence[int] = 3,
    wrap: bool | Sequence[bool] | None = None,
    only_detected: bool = True,
) -> NDArray[np.int64]:
    """TI-style peak grouping: keep a detection only if it is a local maximum.

    A detected cell is kept if its power is >= the power of every cell in the
    ``neighbourhood`` box centred on it. With ``only_detected=True`` (TI's "CFAR-qualified"
    grouping) only neighbours that are themselves detections count; with ``False`` all
    neighbours count. Exactly equal neighbouring maxima are all kept.

    Args:
        power: linear power ``[n]`` or ``[n0, n1]`` (any monotonic scale works, e.g. dB).
        detections: bool mask with the shape of ``power`` (e.g. ``CfarResult.detections``).
        neighbourhood: odd box size per axis (an int applies to every axis); 3 means the
            immediate neighbours.
        wrap: per-axis cyclic flags; default ``False`` in 1-D and ``(False, True)`` in 2-D
            (Doppler cyclic), as for the CFAR functions.
        only_detected: compare only against detected neighbours.

    Returns:
        ``int64 [n_peaks, ndim]`` indices of the kept detections, in row-major order.
    """
    p = np.asarray(power)
    det = np.asarray(detections)
    if p.ndim not in (1, 2):
        raise ValueError(f"power must be 1-D or 2-D, got shape {p.shape}")
    if det.shape != p.shape:
        raise ValueError(f"detections shape {det.shape} does not match power shape {p.shape}")
    if det.dtype != bool:
        raise ValueError(f"detections must be a bool mask, got dtype {det.dtype}")
    if np.iscomplexobj(p):
        raise ValueError("power must be real")
    p = p.astype(np.float64, copy=False)
    if np.isnan(p).any():
        raise ValueError("power contains NaN")
    ndim = p.ndim
    size = _int_tuple(neighbourhood, ndim, "neighbourhood", 1)
    if any(s % 2 == 0 for s in size):
        raise ValueError(f"neighbourhood sizes must be odd, got {neighbourhood!r}")
    if wrap is None:
        wrap = (False,) if ndim == 1 else (False, True)
    cyc = _bool_tuple(wrap, ndim, "wrap")
    if p.size == 0 or not det.any():
        return np.zeros((0, ndim), dtype=np.int64)
    half = tuple(s // 2 for s in size)
    _check_cyclic_lengths(p.shape, half, cyc)
    masked = np.where(det, p, -np.inf) if only_detected else p
    padded = _pad(masked, half, cyc, -np.inf)
    local_max = ndimage.maximum_filter(padded, size=size, mode="constant", cval=-np.inf)
    local_max = local_max[tuple(slice(h, h + n) for h, n in zip(half, p.shape))]
    keep = det & (p >= local_max)
    return np.argwhere(keep).astype(np.int64, copy=False)
