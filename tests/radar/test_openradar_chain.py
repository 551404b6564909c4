"""Our primitives and chain on real TI raw ADC samples (the OpenRadar tutorial captures).

Facts from ``shared/data/openradar_samples/README.md``: the mean range profile peaks at bins 1
(TX-RX leakage) and 107 (~5.2 m); after removing the per-range mean over chirps the range-azimuth
peak of ``doppler_example_1`` is at range bin 60 (~2.9 m), angle bin 36 of 64.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mmsight.radar import processing as P
from mmsight.radar.chain import SignalChain
from mmsight.radar.config import RadarConfig

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "openradar_samples"
pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason=f"OpenRadar samples not found at {DATA}")
CFG = RadarConfig.preset("openradar_sample")


def _load(name: str) -> np.ndarray:
    try:
        from mmsight.radar.formats.openradar import load_openradar_sample
    except ImportError:  # pragma: no cover - the formats module is there in this repo
        a = np.load(DATA / name)
        re, im = np.real(a).astype(np.int64), np.imag(a).astype(np.int64)
        return (np.where(re > 32767, re - 65536, re) + 1j * np.where(im > 32767, im - 65536, im)).astype(np.complex64)
    return load_openradar_sample(DATA / name)


def _adc() -> np.ndarray:
    """doppler_example_1 [128 loops, 8 virtual, 128 samples] -> ADC cube [128, 2, 4, 128] (TX-major)."""
    x = _load("doppler_example_1.npy")
    assert x.shape == (128, 8, 128)
    assert -300 < x.real.min() < 0 < x.real.max() < 300  # signed int16 samples, not 0..65535
    return x.reshape(128, CFG.n_tx, CFG.n_rx, 128)


@pytest.mark.parametrize("name", ["simple_frame_1.npy", "doppler_example_1.npy"])
def test_mean_range_profile_peaks(name: str) -> None:
    x = _load(name)
    x = x[:, None, :] if x.ndim == 2 else x
    profile = np.abs(P.range_fft(x, window="rect")).mean(axis=(0, 1))
    top = set(np.argsort(profile)[::-1][:2].tolist())
    assert top == {1, 107}
    # with our default Hann window the same two peaks dominate
    profile_h = np.abs(P.range_fft(x)).mean(axis=(0, 1))
    assert set(np.argsort(profile_h)[::-1][:2].tolist()) == {1, 107}
    assert P.range_axis(CFG)[107] == pytest.approx(5.22, abs=0.01)


def test_range_azimuth_peak_with_primitives() -> None:
    adc = _adc()
    rc = P.remove_static_clutter(P.range_fft(P.virtual_cube(adc), window="rect"))
    for compensate in (False, True):
        ra = P.range_azimuth_map(P.doppler_fft(rc, window="rect"), CFG, n_angle=64, compensate=compensate)
        assert ra.shape == (128, 64)
        assert np.unravel_index(np.argmax(ra), ra.shape) == (60, 36)
    assert P.azimuth_axis(64)[36] > 0  # bin 36 is to the right (+x) of boresight


def test_chain_on_real_frame() -> None:
    adc = _adc()
    out = SignalChain(CFG).process(adc)  # Hann windows, weighted clutter removal, TDM compensation
    assert np.unravel_index(np.argmax(out.range_azimuth), out.range_azimuth.shape) == (60, 36)
    assert int(np.argmax(out.range_doppler.max(axis=1))) == 60
    assert out.points.dtype == np.float32 and out.points.shape[1] == 5 and 1 <= len(out.points) <= 40
    rng = np.linalg.norm(out.points[:, :3], axis=1)
    strongest = out.points[np.argmax(out.points[:, 4])]
    assert abs(np.linalg.norm(strongest[:3]) - out.range_axis[60]) < 0.1
    assert np.all(rng >= 0.25) and np.all(out.points[:, 2] == 0)  # 2 TX in a row: no elevation
    # without clutter removal and range gating the leakage bin dominates, as on the board
    raw = SignalChain(CFG, clutter_removal=False, min_range=0.0).process(adc)
    assert np.unravel_index(np.argmax(raw.range_doppler), raw.range_doppler.shape)[0] == 1
