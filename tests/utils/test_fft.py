"""mmsight.utils.fft: both backends against numpy's complex128 FFT, alignment, determinism, bad input."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from mmsight.utils import fft as F

BACKENDS = ["scipy"] + (["fftw"] if F._have_fftw() else [])


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Iterator[str]:
    before = F.backend()
    F.use_backend(request.param)
    yield request.param
    F.use_backend(before)


def _signal(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.normal(size=shape) + 1j * rng.normal(size=shape)).astype(np.complex64)


@pytest.mark.parametrize("shape,axis", [((32, 12, 256), -1), ((32, 12, 256), 0), ((5, 96), 1), ((7, 3, 50), 1)])
@pytest.mark.parametrize("inverse", [False, True])
def test_matches_numpy_both_directions_in_and_out_of_place(backend: str, shape: tuple[int, ...], axis: int,
                                                           inverse: bool) -> None:
    x = _signal(shape)
    n = shape[axis]
    ref = np.fft.ifft(x.astype(np.complex128), axis=axis) * n if inverse else np.fft.fft(x.astype(np.complex128), axis=axis)
    scale = np.abs(ref).max()
    a = F.empty_aligned(shape, np.complex64)
    a[...] = x
    got = F.fft(a, axis, inverse=inverse)  # in place
    assert got is a
    np.testing.assert_allclose(got, ref, rtol=0, atol=2e-6 * scale)
    a[...] = x
    out = F.empty_aligned(shape, np.complex64)
    got2 = F.fft(a, axis, out=out, inverse=inverse)  # out of place
    assert got2 is out
    np.testing.assert_allclose(got2, ref, rtol=0, atol=2e-6 * scale)


def test_unaligned_arrays_give_the_same_bits_as_aligned(backend: str) -> None:
    x = _signal((24, 128), seed=1)
    a = F.empty_aligned((24, 128), np.complex64)
    a[...] = x
    want = F.fft(a, 1).copy()
    raw = F.empty_aligned(24 * 128 + 1, np.complex64)
    u = raw[1:].reshape(24, 128)  # 8 bytes off the alignment
    assert u.ctypes.data % F.ALIGNMENT != 0
    u[...] = x
    np.testing.assert_array_equal(F.fft(u, 1), want)


def test_same_input_same_bits_and_plan_reused(backend: str) -> None:
    a = F.empty_aligned((12, 256), np.complex64)
    x = _signal((12, 256), seed=2)
    a[...] = x
    first = F.fft(a, -1).copy()
    a[...] = x
    np.testing.assert_array_equal(F.fft(a, -1), first)
    if backend == "fftw":
        assert len(F._PLANS) >= 1
        assert len(F._PLANS) <= F._MAX_PLANS


def test_complex128_and_empty(backend: str) -> None:
    x = _signal((4, 64)).astype(np.complex128)
    a = F.empty_aligned((4, 64), np.complex128)
    a[...] = x
    np.testing.assert_allclose(F.fft(a, 1), np.fft.fft(x, axis=1), rtol=0, atol=1e-12 * np.abs(x).sum())
    e = F.empty_aligned((0, 8), np.complex64)
    assert F.fft(e, 1).shape == (0, 8)


def test_backends_agree_to_rounding() -> None:
    if "fftw" not in BACKENDS:
        pytest.skip("pyFFTW not installed")
    before = F.backend()
    try:
        x = _signal((32, 12, 256), seed=3)
        outs = []
        for name in ("scipy", "fftw"):
            F.use_backend(name)
            a = F.empty_aligned(x.shape, np.complex64)
            a[...] = x
            outs.append(F.fft(a, -1).copy())
        np.testing.assert_allclose(outs[0], outs[1], rtol=0, atol=1e-5 * np.abs(outs[0]).max())
    finally:
        F.use_backend(before)


def test_empty_aligned_alignment_and_shape() -> None:
    for shape in [(3, 5), 17, (2, 3, 4)]:
        a = F.empty_aligned(shape, np.complex64)
        assert a.ctypes.data % F.ALIGNMENT == 0
        assert a.flags.c_contiguous
        assert a.shape == ((shape,) if isinstance(shape, int) else shape)


def test_bad_input_is_rejected() -> None:
    with pytest.raises(TypeError, match="complex64 or complex128"):
        F.fft(np.zeros((4, 8), np.float32))
    with pytest.raises(ValueError, match="does not match"):
        F.fft(np.zeros((4, 8), np.complex64), out=np.zeros((4, 9), np.complex64))
    ro = np.zeros((4, 8), np.complex64)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        F.fft(ro)
    with pytest.raises(ValueError, match="unknown FFT backend 'mkl'"):
        F.use_backend("mkl")


def test_fftw_requested_without_pyfftw(monkeypatch: pytest.MonkeyPatch) -> None:
    before = F.backend()
    monkeypatch.setattr(F, "_have_fftw", lambda: False)
    with pytest.raises(ImportError, match="pip install 'mmsight\\[fftw\\]'"):
        F.use_backend("fftw")
    assert F.use_backend("auto") == "scipy"
    monkeypatch.undo()
    F.use_backend(before)


def test_signal_chain_gives_the_same_products_with_either_backend() -> None:
    if "fftw" not in BACKENDS:
        pytest.skip("pyFFTW not installed")
    from mmsight.radar import RadarConfig, SignalChain, simulate_adc

    cfg = RadarConfig.preset("iwr6843isk")
    rng = np.random.default_rng(4)
    pos = np.c_[rng.uniform(-2, 2, 200), rng.uniform(1, 6, 200), rng.uniform(-0.5, 0.5, 200)]
    adc = simulate_adc(cfg, pos, rng.normal(0, 1, (200, 3)), rng.uniform(0, 0.02, 200), rng=3)
    before = F.backend()
    out = {}
    try:
        for name in ("scipy", "fftw"):
            F.use_backend(name)
            out[name] = SignalChain(cfg).process(adc)
    finally:
        F.use_backend(before)
    a, b = out["scipy"], out["fftw"]
    np.testing.assert_allclose(b.range_azimuth, a.range_azimuth, rtol=0, atol=1e-5 * a.range_azimuth.max())
    np.testing.assert_allclose(b.range_doppler, a.range_doppler, rtol=0, atol=1e-5 * a.range_doppler.max())
    assert len(a.points) > 5
    np.testing.assert_array_equal(b.point_bins, a.point_bins)  # the same detections


def test_simulated_dataset_manifest_records_the_backend() -> None:
    from mmsight.sim.runner import manifest_config
    from mmsight.sim.tasks import get_task

    t = get_task("weapons")
    before = F.backend()
    try:
        F.use_backend("scipy")
        assert manifest_config("weapons", t.default_config(), 2, 0)["fft_backend"] == "scipy"
    finally:
        F.use_backend(before)


def test_threads_with_their_own_arrays_get_correct_results(backend: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def work(seed: int) -> float:
        x = _signal((12, 256), seed=seed)
        a = F.empty_aligned(x.shape, np.complex64)
        out = F.empty_aligned(x.shape, np.complex64)
        worst = 0.0
        for _ in range(20):
            a[...] = x
            got = F.fft(a, 1, out=out)
            ref = np.fft.fft(x.astype(np.complex128), axis=1)
            worst = max(worst, float(np.abs(got - ref).max() / np.abs(ref).max()))
        return worst

    with ThreadPoolExecutor(4) as pool:
        assert max(pool.map(work, range(8))) < 2e-6
