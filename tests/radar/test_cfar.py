"""CFAR detectors and peak grouping: exactness against a brute-force loop, design false-alarm
rates on complex Gaussian noise, SNR estimates, masking (CA vs OS), cyclic axes, edges, errors.

Run ``python tests/radar/test_cfar.py [n_cells]`` to print the false-alarm table used in
``docs/detection.md``.
"""

from __future__ import annotations

import itertools
import sys
import time
import zlib
from collections.abc import Callable

import numpy as np
import pytest

from mmsight.radar import cfar
from mmsight.radar.cfar import (
    CfarResult,
    ca_alpha,
    ca_cfar_1d,
    ca_cfar_2d,
    ca_pfa,
    goso_alpha,
    goso_pfa,
    group_peaks,
    os_alpha,
    os_cfar_1d,
    os_cfar_2d,
    os_default_k,
    os_pfa,
)


def complex_noise(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Unit-power circular complex Gaussian noise."""
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) / np.sqrt(2.0)


# ------------------------------------------------------------------------------------------
# Brute-force reference (Python loops over cells; tiny arrays only)
# ------------------------------------------------------------------------------------------


def brute_force(
    x: np.ndarray,
    train: tuple[int, ...],
    guard: tuple[int, ...],
    pfa: float,
    kind: str,
    wrap: tuple[bool, ...],
    edge: str,
    k: int | None = None,
    split_axis: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    nd = x.ndim
    t, g = np.array(train), np.array(guard)
    h = t + g
    n_full = int(np.prod(2 * h + 1) - np.prod(2 * g + 1))
    thr = np.full(x.shape, np.nan)
    noise = np.full(x.shape, np.nan)
    n_ref = np.zeros(x.shape, dtype=int)
    for idx in np.ndindex(x.shape):
        vals, lead, lag = [], [], []
        for d in np.ndindex(*(2 * h + 1)):
            d = np.array(d) - h
            if np.all(np.abs(d) <= g):
                continue
            j = np.array(idx) + d
            inside = True
            for a in range(nd):
                if wrap[a]:
                    j[a] %= x.shape[a]
                elif not 0 <= j[a] < x.shape[a]:
                    inside = False
            if not inside:
                continue
            v = x[tuple(j)]
            vals.append(v)
            if d[split_axis] < 0:
                lead.append(v)
            elif d[split_axis] > 0:
                lag.append(v)
        n = len(vals)
        # CAGO/CASO use only the two halves (not the cells level with the CUT on split_axis).
        n_ref[idx] = len(lead) + len(lag) if kind in ("cago", "caso") else n
        if n_ref[idx] == 0 or (edge == "exclude" and n < n_full):
            continue
        if kind == "ca":
            noise[idx] = np.mean(vals)
            thr[idx] = ca_alpha(n, pfa) * noise[idx]
        elif kind in ("cago", "caso"):
            means = [np.mean(v) for v in (lead, lag) if v]
            stat = max(means) if kind == "cago" else min(means)
            thr[idx] = goso_alpha(len(lead), len(lag), pfa, kind) * stat
            noise[idx] = stat / cfar._goso_noise_factor(len(lead), len(lag), kind)
        else:
            kk = k if k is not None else os_default_k(n_full)
            kc = int(np.clip(np.rint(kk * n / n_full), 1, n))
            xk = np.sort(vals)[kc - 1]
            thr[idx] = os_alpha(n, kc, pfa) * xk
            noise[idx] = xk / cfar._os_noise_factor(n, kc)
    return thr, noise, n_ref


def run(kind: str, x: np.ndarray, **kw) -> CfarResult:
    """Dispatch to the right detector by kind ('ca', 'cago', 'caso', 'os') and x.ndim."""
    if kind == "os":
        return (os_cfar_1d if x.ndim == 1 else os_cfar_2d)(x, **kw)
    return (ca_cfar_1d if x.ndim == 1 else ca_cfar_2d)(x, mode=kind, **kw)


KINDS = ("ca", "cago", "caso", "os")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("edge", ["shrink", "exclude"])
@pytest.mark.parametrize(
    "shape,train,guard,wrap",
    [
        ((41,), (3,), (1,), (False,)),
        ((41,), (3,), (0,), (True,)),
        ((23, 17), (2, 1), (1, 2), (False, True)),
        ((19, 21), (1, 3), (0, 1), (True, False)),
        ((15, 14), (2, 2), (1, 0), (False, False)),
    ],
)
def test_matches_brute_force(kind, edge, shape, train, guard, wrap) -> None:
    # str hashes are salted per process (PYTHONHASHSEED); crc32 keeps the case reproducible
    rng = np.random.default_rng(zlib.crc32(repr((kind, edge, shape)).encode()))
    x = rng.exponential(size=shape)
    x[tuple(s // 2 for s in shape)] = 50.0  # a target, so detections are not all False
    kw = dict(train=train if len(shape) == 2 else train[0], guard=guard if len(shape) == 2 else guard[0])
    kw["wrap"] = wrap if len(shape) == 2 else wrap[0]
    res = run(kind, x, pfa=1e-2, edge=edge, **kw)
    for split_axis in (0, 1) if (len(shape) == 2 and kind in ("cago", "caso")) else (0,):
        if split_axis == 1:
            res = ca_cfar_2d(x, pfa=1e-2, edge=edge, mode=kind, split_axis=1, **kw)
        thr, noise, n_ref = brute_force(x, train, guard, 1e-2, kind, wrap, edge, split_axis=split_axis)
        np.testing.assert_allclose(res.threshold, thr, rtol=1e-9, equal_nan=True)
        np.testing.assert_allclose(res.noise, noise, rtol=1e-9, equal_nan=True)
        np.testing.assert_array_equal(res.n_ref, n_ref)
        np.testing.assert_array_equal(res.valid, ~np.isnan(thr))
        np.testing.assert_array_equal(res.detections, np.nan_to_num(x > thr, nan=False) & ~np.isnan(thr))
        with np.errstate(divide="ignore"):
            # snr_db crosses 0 dB, where a relative tolerance alone is meaningless
            np.testing.assert_allclose(res.snr_db, 10 * np.log10(x / noise), rtol=1e-9, atol=1e-9, equal_nan=True)


def test_os_custom_k_matches_brute_force() -> None:
    x = np.random.default_rng(3).exponential(size=(40,))
    res = os_cfar_1d(x, train=4, guard=1, pfa=1e-3, k=2)
    thr, noise, _ = brute_force(x, (4,), (1,), 1e-3, "os", (False,), "shrink", k=2)
    np.testing.assert_allclose(res.threshold, thr, rtol=1e-9)
    np.testing.assert_allclose(res.noise, noise, rtol=1e-9)


def test_wide_map_os_blocks() -> None:
    """OS-CFAR splits wide rows into cache-sized blocks; the result must not depend on that."""
    x = np.random.default_rng(4).exponential(size=(3, 1500)).astype(np.float32)
    res = os_cfar_2d(x, train=(1, 30), guard=(0, 2), pfa=1e-3, wrap=(True, True))
    assert res.threshold.dtype == np.float32
    ref = os_cfar_2d(x[:, :].astype(np.float64), train=(1, 30), guard=(0, 2), pfa=1e-3, wrap=(True, True))
    np.testing.assert_allclose(res.threshold, ref.threshold, rtol=1e-6)
    thr, _, _ = brute_force(x.astype(np.float64)[:, :100], (1, 30), (0, 2), 1e-3, "os", (True, False), "exclude")
    np.testing.assert_allclose(ref.threshold[:, 32:68], thr[:, 32:68], rtol=1e-9)


# ------------------------------------------------------------------------------------------
# Design formulas
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("pfa", [1e-2, 1e-4, 1e-7])
def test_design_formulas_invert(pfa: float) -> None:
    for n in (1, 2, 8, 32, 200):
        assert ca_pfa(ca_alpha(n, pfa), n) == pytest.approx(pfa, rel=1e-10)
        for k in sorted({1, os_default_k(n), n}):
            assert os_pfa(os_alpha(n, k, pfa), n, k) == pytest.approx(pfa, rel=1e-8)
    for n1, n2 in [(1, 1), (8, 8), (3, 11), (0, 5), (60, 60)]:
        for mode in ("cago", "caso"):
            assert goso_pfa(goso_alpha(n1, n2, pfa, mode), n1, n2, mode) == pytest.approx(pfa, rel=1e-8)
    # Known values: CA with N=32 at 1e-4 and OS with N=1, k=1 (alpha = 1/pfa - 1).
    assert ca_alpha(32, 1e-4) == pytest.approx(32 * (1e-4 ** (-1 / 32) - 1))
    assert os_alpha(1, 1, pfa) == pytest.approx(1 / pfa - 1, rel=1e-8)


def test_goso_formula_monte_carlo() -> None:
    """The exact CAGO/CASO expression (unequal halves included) against simulation."""
    rng = np.random.default_rng(7)
    m = 400_000
    for n1, n2 in [(8, 8), (3, 7)]:
        a = rng.gamma(n1, 1 / n1, m)
        b = rng.gamma(n2, 1 / n2, m)
        x = rng.exponential(size=m)
        for mode, stat in (("cago", np.maximum(a, b)), ("caso", np.minimum(a, b))):
            alpha = goso_alpha(n1, n2, 1e-2, mode)
            assert np.mean(x > alpha * stat) == pytest.approx(1e-2, rel=0.1)
            # noise normalisation E[stat] used by CfarResult.noise
            assert np.mean(stat) == pytest.approx(cfar._goso_noise_factor(n1, n2, mode), rel=0.01)
    # OS: E[x_(k)] = sum_{i=n-k+1}^{n} 1/i
    xs = np.sort(rng.exponential(size=(100_000, 16)), axis=1)
    assert xs[:, 11].mean() == pytest.approx(cfar._os_noise_factor(16, 12), rel=0.01)


# ------------------------------------------------------------------------------------------
# False-alarm rates on complex Gaussian noise
# ------------------------------------------------------------------------------------------

# Windows used for the false-alarm measurements (one-sided train / guard).
FAR_SETTINGS_1D = dict(train=16, guard=2)  # N = 32
FAR_SETTINGS_2D = {"ca": dict(train=(8, 4), guard=(2, 2)), "os": dict(train=(4, 2), guard=(1, 1))}


def far_settings(kind: str, ndim: int) -> dict:
    if ndim == 1:
        return dict(FAR_SETTINGS_1D)
    return dict(FAR_SETTINGS_2D["os" if kind == "os" else "ca"])


def noise_map(ndim: int, n_cells: int, seed: int) -> np.ndarray:
    """Square-law complex Gaussian noise: exponential with unit mean. 2D maps are [n/1024, 1024]."""
    rng = np.random.default_rng(seed)
    shape = (n_cells,) if ndim == 1 else (n_cells // 1024, 1024)
    return (np.abs(complex_noise(rng, shape)) ** 2).astype(np.float32)


def measure_far(kind: str, power: np.ndarray, pfa: float) -> tuple[float, int, int]:
    """Measured false-alarm rate over cells with a full window (interior, edge='exclude')."""
    kw = far_settings(kind, power.ndim)
    res = run(kind, power, pfa=pfa, edge="exclude", **kw)
    n = int(res.valid.sum())
    fa = int(res.detections.sum())
    return fa / n, fa, n


@pytest.fixture(scope="module")
def noise_1d() -> np.ndarray:
    return noise_map(1, 2**21, seed=11)


@pytest.fixture(scope="module")
def noise_2d() -> np.ndarray:
    return noise_map(2, 2**21, seed=12)


@pytest.mark.parametrize("pfa", [1e-3, 1e-4])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("ndim", [1, 2])
def test_false_alarm_rate(ndim: int, kind: str, pfa: float, noise_1d, noise_2d) -> None:
    power = noise_1d if ndim == 1 else noise_2d
    rate, fa, n = measure_far(kind, power, pfa)
    print(f"\nFAR {ndim}D {kind:4s} pfa={pfa:.0e}: {fa} / {n} = {rate:.3e} (ratio {rate / pfa:.2f})")
    assert n >= 2_000_000
    assert 0.5 * pfa <= rate <= 2.0 * pfa


@pytest.mark.parametrize("kind", KINDS)
def test_false_alarm_rate_at_shrunk_edges(kind: str) -> None:
    """edge='shrink' keeps the design rate on the edge cells too (alpha recomputed per cell)."""
    rng = np.random.default_rng(21)
    power = np.abs(complex_noise(rng, (14, 60_000))) ** 2
    res = run(kind, power, train=(4, 1), guard=(1, 0), pfa=1e-3, wrap=(False, True), edge="shrink")
    edge_rows = np.r_[0:5, 9:14]  # rows whose axis-0 window is cut (train + guard = 5)
    assert res.valid.all()
    assert (res.n_ref[edge_rows] < res.n_ref[7]).all()
    rate = res.detections[edge_rows].mean()
    assert rate == pytest.approx(1e-3, rel=0.15)


# ------------------------------------------------------------------------------------------
# Targets
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_target_detected_with_correct_snr_2d(kind: str) -> None:
    rng = np.random.default_rng(31)
    z = complex_noise(rng, (2048, 64))
    r0 = np.arange(40, 2000, 40)
    d0 = rng.integers(0, 64, r0.size)  # Doppler anywhere, including the wrapped edges
    z[r0, d0] += 10.0 * np.exp(2j * np.pi * rng.random(r0.size))  # 20 dB SNR
    power = (np.abs(z) ** 2).astype(np.float32)
    res = run(kind, power, pfa=1e-4, train=(8, 4), guard=(2, 2))
    err = res.snr_db[r0, d0] - 20.0
    assert res.detections[r0, d0].all()
    assert abs(np.median(err)) < 0.5
    assert np.mean(np.abs(err) < 1.5) >= 0.9


@pytest.mark.parametrize("kind", KINDS)
def test_target_detected_with_correct_snr_1d(kind: str) -> None:
    rng = np.random.default_rng(32)
    z = complex_noise(rng, (30_000,))
    pos = np.arange(100, 29_900, 80)
    z[pos] += 10.0 * np.exp(2j * np.pi * rng.random(pos.size))
    power = np.abs(z) ** 2
    res = run(kind, power, pfa=1e-4, train=32, guard=2)
    err = res.snr_db[pos] - 20.0
    assert res.detections[pos].all()
    assert abs(np.median(err)) < 0.5
    assert np.mean(np.abs(err) < 1.5) >= 0.85
    # Without targets nearly nothing else is detected (a handful of false alarms at most).
    others = res.detections.copy()
    others[pos] = False
    assert others.sum() < 20


def test_os_resists_masking_where_ca_fails() -> None:
    """A 20 dB target 4 cells from a 30 dB one: CA and CAGO are masked, OS and CASO are not."""
    hits = {kind: 0 for kind in KINDS}
    trials = 30
    for seed in range(trials):
        rng = np.random.default_rng(100 + seed)
        z = complex_noise(rng, (400,))
        z[200] += 10.0  # weak target, 20 dB
        z[204] += np.sqrt(1000.0)  # strong target, 30 dB, inside the weak one's training cells
        power = np.abs(z) ** 2
        for kind in KINDS:
            res = run(kind, power, pfa=1e-4, train=16, guard=2)
            assert res.detections[204], kind  # the strong target is always found
            hits[kind] += bool(res.detections[200])
    assert hits["ca"] == 0 and hits["cago"] == 0
    assert hits["os"] >= trials - 1 and hits["caso"] >= trials - 1


def test_os_resists_masking_2d() -> None:
    rng = np.random.default_rng(5)
    z = complex_noise(rng, (128, 32))
    z[60, 10] += 10.0
    z[64, 11] += np.sqrt(3000.0)
    power = np.abs(z) ** 2
    kw = dict(train=(4, 2), guard=(1, 1), pfa=1e-4)
    assert not ca_cfar_2d(power, **kw).detections[60, 10]
    assert os_cfar_2d(power, **kw).detections[60, 10]


# ------------------------------------------------------------------------------------------
# Cyclic axes and edges
# ------------------------------------------------------------------------------------------


def _assert_same(a: CfarResult, b: CfarResult) -> None:
    np.testing.assert_array_equal(a.detections, b.detections)
    np.testing.assert_allclose(a.threshold, b.threshold, rtol=1e-9, equal_nan=True)
    np.testing.assert_allclose(a.noise, b.noise, rtol=1e-9, equal_nan=True)
    np.testing.assert_array_equal(a.n_ref, b.n_ref)


@pytest.mark.parametrize("kind", KINDS)
def test_wrap_is_shift_equivariant(kind: str) -> None:
    rng = np.random.default_rng(8)
    x = rng.exponential(size=(40, 32))
    x[20, 0] = x[20, 31] = 80.0
    kw = dict(train=(3, 4), guard=(1, 1), pfa=1e-3, wrap=(False, True))
    base = run(kind, x, **kw)
    shifted = run(kind, np.roll(x, 5, axis=1), **kw)
    rolled = CfarResult(*(np.roll(getattr(base, f), 5, axis=1) for f in ("detections", "threshold", "noise", "snr_db", "valid", "n_ref")))
    _assert_same(shifted, rolled)
    # 1-D, fully cyclic
    y = x[20]
    _assert_same(run(kind, np.roll(y, 7), train=6, guard=1, pfa=1e-3, wrap=True),
                 CfarResult(*(np.roll(getattr(run(kind, y, train=6, guard=1, pfa=1e-3, wrap=True), f), 7)
                              for f in ("detections", "threshold", "noise", "snr_db", "valid", "n_ref"))))


def test_wrap_uses_far_end_of_cyclic_axis() -> None:
    x = np.ones((64,))
    x[61] = 1000.0  # interferer 3 bins "before" bin 0 on a cyclic Doppler axis
    wrapped = ca_cfar_1d(x, train=4, guard=1, pfa=1e-3, wrap=True)
    open_ = ca_cfar_1d(x, train=4, guard=1, pfa=1e-3, wrap=False)
    assert wrapped.valid.all() and (wrapped.n_ref == 8).all()
    assert wrapped.noise[0] > 100.0  # the interferer is in bin 0's window
    assert open_.noise[0] == pytest.approx(1.0)  # not without wrap
    assert open_.n_ref[0] == 4  # shrunk window: only the lagging side exists


def test_edge_exclude_and_shrink() -> None:
    x = np.random.default_rng(9).exponential(size=(50,))
    ex = ca_cfar_1d(x, train=4, guard=2, pfa=1e-3, edge="exclude")
    sh = ca_cfar_1d(x, train=4, guard=2, pfa=1e-3, edge="shrink")
    assert not ex.valid[:6].any() and not ex.valid[-6:].any() and ex.valid[6:-6].all()
    assert np.isnan(ex.threshold[:6]).all() and not ex.detections[:6].any()
    assert sh.valid.all()
    np.testing.assert_array_equal(sh.n_ref[:7], [4, 4, 4, 5, 6, 7, 8])
    np.testing.assert_allclose(sh.threshold[6:-6], ex.threshold[6:-6])
    # Exclude on a 2-D map: only the non-cyclic axis loses cells by default.
    ex2 = ca_cfar_2d(np.ones((30, 16)), train=(3, 2), guard=(1, 1), pfa=1e-3, edge="exclude")
    assert ex2.valid[4:26].all() and not ex2.valid[:4].any() and not ex2.valid[26:].any()


def test_dtype_and_empty() -> None:
    x32 = np.ones((30, 16), dtype=np.float32)
    for res in (ca_cfar_2d(x32, train=2, guard=1, pfa=1e-3), os_cfar_2d(x32, train=2, guard=1, pfa=1e-3)):
        assert res.threshold.dtype == res.noise.dtype == res.snr_db.dtype == np.float32
        assert res.detections.dtype == bool and res.detections.shape == x32.shape
    res = ca_cfar_1d(np.ones(20, dtype=int), train=2, guard=1, pfa=1e-3)
    assert res.threshold.dtype == np.float64
    empty = ca_cfar_1d(np.zeros(0), train=2, guard=1, pfa=1e-3)
    assert empty.detections.shape == (0,) and empty.indices.shape == (0, 1)
    assert os_cfar_1d(np.zeros(0), train=2, guard=1, pfa=1e-3).n_detections == 0


# ------------------------------------------------------------------------------------------
# Validation
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: ca_cfar_1d(np.ones((4, 4)), train=2, guard=1, pfa=1e-3), "1-D"),
        (lambda: ca_cfar_2d(np.ones(16), train=2, guard=1, pfa=1e-3), "2-D"),
        (lambda: os_cfar_2d(np.ones((2, 2, 2)), train=1, guard=0, pfa=1e-3), "2-D"),
        (lambda: ca_cfar_1d(np.ones(16), train=0, guard=1, pfa=1e-3), "train"),
        (lambda: ca_cfar_2d(np.ones((16, 16)), train=(2, 0), guard=1, pfa=1e-3), "train"),
        (lambda: ca_cfar_1d(np.ones(16), train=2.5, guard=1, pfa=1e-3), "train"),
        (lambda: os_cfar_1d(np.ones(16), train=2, guard=-1, pfa=1e-3), "guard"),
        (lambda: ca_cfar_1d(np.ones(16), train=2, guard=1, pfa=0.0), "pfa"),
        (lambda: ca_cfar_1d(np.ones(16), train=2, guard=1, pfa=1.0), "pfa"),
        (lambda: ca_cfar_1d(np.ones(16), train=2, guard=1, pfa=float("nan")), "pfa"),
        (lambda: os_cfar_2d(np.ones((16, 16)), train=2, guard=1, pfa=-0.1), "pfa"),
        (lambda: ca_cfar_1d(np.array([1.0, np.nan, 1.0]), train=1, guard=0, pfa=1e-3), "NaN"),
        (lambda: os_cfar_2d(np.full((8, 8), np.nan), train=1, guard=0, pfa=1e-3), "NaN"),
        (lambda: ca_cfar_1d(np.array([1.0, np.inf]), train=1, guard=0, pfa=1e-3), "inf"),
        (lambda: ca_cfar_1d(-np.ones(16), train=2, guard=1, pfa=1e-3), "non-negative"),
        (lambda: ca_cfar_1d(np.ones(16, complex), train=2, guard=1, pfa=1e-3), "real"),
        (lambda: ca_cfar_1d(np.ones(16), train=2, guard=1, pfa=1e-3, mode="go"), "mode"),
        (lambda: ca_cfar_1d(np.ones(16), train=2, guard=1, pfa=1e-3, edge="zero"), "edge"),
        (lambda: os_cfar_1d(np.ones(16), train=2, guard=1, pfa=1e-3, k=5), "k must"),
        (lambda: os_cfar_1d(np.ones(16), train=2, guard=1, pfa=1e-3, k=0), "k must"),
        (lambda: ca_cfar_1d(np.ones(5), train=2, guard=1, pfa=1e-3, wrap=True), "cyclic"),
        (lambda: ca_cfar_2d(np.ones((16, 16)), train=2, guard=1, pfa=1e-3, wrap=(True,)), "wrap"),
        (lambda: ca_cfar_2d(np.ones((16, 16)), train=2, guard=1, pfa=1e-3, mode="cago", split_axis=2), "split_axis"),
        (lambda: group_peaks(np.ones(8), np.ones(7, bool)), "shape"),
        (lambda: group_peaks(np.ones(8), np.ones(8, bool), neighbourhood=2), "odd"),
        (lambda: group_peaks(np.ones(8), np.ones(8)), "bool"),
        (lambda: ca_alpha(0, 1e-3), "reference cells"),
        (lambda: os_alpha(8, 9, 1e-3), "k <= n"),
    ],
)
def test_bad_input_raises(call: Callable[[], object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()


# ------------------------------------------------------------------------------------------
# Peak grouping
# ------------------------------------------------------------------------------------------


def test_group_peaks_2d() -> None:
    power = np.ones((32, 16))
    power[9:12, 4:7] = 30.0  # a 3x3 blob ...
    power[10, 5] = 100.0  # ... peaking at its centre
    power[20, 0], power[20, 15] = 50.0, 80.0  # a peak split across the cyclic Doppler edge
    det = power > 10
    np.testing.assert_array_equal(group_peaks(power, det), [[10, 5], [20, 15]])
    np.testing.assert_array_equal(group_peaks(power, det, wrap=False), [[10, 5], [20, 0], [20, 15]])
    # A stronger but undetected cell 3 bins away: ignored by CFAR-qualified grouping, and outside
    # a 3x3 neighbourhood anyway; with a (3, 9) neighbourhood and only_detected=False it wins.
    power[10, 8] = 200.0
    np.testing.assert_array_equal(group_peaks(power, det, only_detected=False), [[10, 5], [20, 15]])
    np.testing.assert_array_equal(group_peaks(power, det, neighbourhood=(3, 9)), [[10, 5], [20, 15]])
    np.testing.assert_array_equal(
        group_peaks(power, det, neighbourhood=(3, 9), only_detected=False), [[20, 15]]
    )


def test_group_peaks_1d_and_cfar_pipeline() -> None:
    rng = np.random.default_rng(10)
    z = complex_noise(rng, (512,))
    # Two targets with a spread main lobe (neighbouring cells above threshold).
    for centre in (100, 300):
        z[centre - 1 : centre + 2] += np.array([10.0, 31.6, 10.0])
    power = np.abs(z) ** 2
    res = ca_cfar_1d(power, train=16, guard=3, pfa=1e-4)
    assert res.detections[99:102].sum() >= 2
    peaks = group_peaks(power, res.detections)
    assert peaks.shape[1] == 1
    np.testing.assert_array_equal(peaks[:, 0], [100, 300])
    assert group_peaks(power, np.zeros(512, bool)).shape == (0, 1)


# ------------------------------------------------------------------------------------------
# Speed (loose bounds; the numbers are in docs/detection.md)
# ------------------------------------------------------------------------------------------


def _best_time(fn: Callable[[], object], repeat: int = 5) -> float:
    fn()
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def test_speed_256x64() -> None:
    x = np.random.default_rng(0).exponential(size=(256, 64)).astype(np.float32)
    t_ca = _best_time(lambda: ca_cfar_2d(x, train=(8, 4), guard=(2, 2), pfa=1e-4))
    t_os = _best_time(lambda: os_cfar_2d(x, train=(4, 2), guard=(1, 1), pfa=1e-4))
    print(f"\n256x64: CA {t_ca * 1e3:.2f} ms, OS {t_os * 1e3:.2f} ms")
    assert t_ca < 0.02  # typically ~0.5 ms
    assert t_os < 0.1  # typically ~5 ms


# ------------------------------------------------------------------------------------------
# Table for docs/detection.md
# ------------------------------------------------------------------------------------------


def far_table(n_cells: int = 2**21, seeds: tuple[int, ...] = (11,)) -> str:
    """Markdown table of measured false-alarm rates (interior cells only)."""
    lines = [
        "| detector | window (one-sided train / guard) | N | design pfa | false alarms / cells | measured pfa | ratio |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for ndim, kind, pfa in itertools.product((1, 2), KINDS, (1e-3, 1e-4)):
        fa_total, n_total = 0, 0
        for seed in seeds:
            power = noise_map(ndim, n_cells, seed + ndim)
            _, fa, n = measure_far(kind, power, pfa)
            fa_total += fa
            n_total += n
        s = far_settings(kind, ndim)
        t, g = s["train"], s["guard"]
        if ndim == 1:
            n_ref = 2 * t
        else:
            n_ref = (2 * (t[0] + g[0]) + 1) * (2 * (t[1] + g[1]) + 1) - (2 * g[0] + 1) * (2 * g[1] + 1)
        rate = fa_total / n_total
        lines.append(
            f"| {kind.upper()} {ndim}D | {t} / {g} | {n_ref} | {pfa:.0e} | {fa_total} / {n_total} | "
            f"{rate:.3e} | {rate / pfa:.3f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    cells = int(float(sys.argv[1])) if len(sys.argv) > 1 else 2**21
    n_seeds = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    print(far_table(cells, seeds=tuple(11 + 100 * i for i in range(n_seeds))))
