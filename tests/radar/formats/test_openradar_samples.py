"""OpenRadar captures: explicit unsigned->signed conversion, stated config, README facts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mmsight.radar.formats import (
    OPENRADAR_CHIRP_CONFIG,
    RadarFormatError,
    from_signed_int16,
    load_openradar_sample,
    load_openradar_samples,
    save_openradar_sample,
    to_signed_int16,
    virtual_to_adc_cube,
)

DATA = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "openradar_samples"
needs_data = pytest.mark.skipif(not (DATA / "doppler_example_1.npy").is_file(),
                                reason="OpenRadar captures (../shared/data) absent")


def test_to_signed_int16_is_twos_complement():
    stored = np.array([0, 1, 32767, 32768, 65535]) + 1j * np.array([65535, 32768, 0, 2, 40000])
    x = to_signed_int16(stored)
    assert x.dtype == np.complex64
    np.testing.assert_array_equal(x.real, [0, 1, 32767, -32768, -1])
    np.testing.assert_array_equal(x.imag, [-1, -32768, 0, 2, 40000 - 65536])
    np.testing.assert_array_equal(from_signed_int16(x), stored)
    for bad in (-1.0, 65536.0, 1.5, np.nan):
        with pytest.raises(ValueError):
            to_signed_int16(np.array([bad]))


def test_stated_chirp_config():
    c = OPENRADAR_CHIRP_CONFIG
    d = c.as_dict()
    assert d["start_freq_hz"] == 77.4201e9 and d["slope_hz_per_s"] == 60e12
    assert (d["n_samples"], d["sample_rate_hz"], d["n_chirps"]) == (128, 2.5e6, 128)
    assert (d["idle_time_s"], d["ramp_end_time_s"]) == (30e-6, 62e-6)
    assert (c.n_tx, c.n_rx, c.n_virtual) == (2, 4, 8)
    assert c.range_resolution_m == pytest.approx(0.0488, abs=1e-4)  # c / (2 slope N / fs)
    assert c.chirp_period_s == pytest.approx(92e-6)


def test_save_load_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    x = (rng.integers(-32768, 32768, (4, 3, 5)) + 1j * rng.integers(-32768, 32768, (4, 3, 5)))
    save_openradar_sample(tmp_path / "x.npy", x)
    np.testing.assert_array_equal(load_openradar_sample(tmp_path / "x.npy"), x)
    save_openradar_sample(tmp_path / "x.txt", x[0])
    np.testing.assert_array_equal(load_openradar_sample(tmp_path / "x.txt"), x[0])
    save_openradar_sample(tmp_path / "c.txt", x[0, 0])
    np.testing.assert_array_equal(load_openradar_sample(tmp_path / "c.txt"), x[0, 0])


def test_malformed_files_name_the_offset(tmp_path):
    # a signed (negative) value where the captures store unsigned ones: offset of the element
    p = tmp_path / "neg.npy"
    a = np.full((2, 3), 5 + 5j)
    a[1, 1] = -3 + 5j
    np.save(p, a)
    header = p.stat().st_size - a.nbytes
    with pytest.raises(RadarFormatError) as e:
        load_openradar_sample(p)
    assert e.value.offset == header + 4 * 16 and f"byte offset {header + 64}" in str(e.value)
    # a header that declares more data than the file holds
    p2 = tmp_path / "short.npy"
    p2.write_bytes(p.read_bytes()[:-10])
    with pytest.raises(RadarFormatError, match="byte offset"):
        load_openradar_sample(p2)
    # text: a bad token and a ragged row
    t = tmp_path / "bad.txt"
    t.write_bytes(b" (1+2j)  (3+4j)\n (5+6j)  (7+oops)\n")
    with pytest.raises(RadarFormatError) as e:
        load_openradar_sample(t)
    assert e.value.offset == 25 and e.value.line == 2
    t.write_bytes(b" (1+2j)  (3+4j)\n (5+6j)\n")
    with pytest.raises(RadarFormatError) as e:
        load_openradar_sample(t)
    assert e.value.offset == 16


def test_virtual_to_adc_cube():
    x = np.arange(2 * 8 * 3).reshape(2, 8, 3)
    cube = virtual_to_adc_cube(x)
    assert cube.shape == (2, 2, 4, 3)
    np.testing.assert_array_equal(cube[:, 1, 2], x[:, 6])  # TX-major: v = tx * n_rx + rx


@needs_data
def test_loads_all_captures_as_signed_complex64():
    s = load_openradar_samples(DATA)
    assert {k: v.shape for k, v in s.items()} == {
        "chirp": (128,), "frame": (256, 128), "simple_frame_1": (128, 128),
        "doppler_example": (128, 256), "doppler_example_1": (128, 8, 128)}
    for v in s.values():
        assert v.dtype == np.complex64
        assert -32768 <= v.real.min() and v.real.max() <= 32767
    # the README: after conversion doppler_example_1 lies in about -234..202 (its I part exactly)
    x = s["doppler_example_1"]
    assert (x.real.min(), x.real.max()) == (-234, 202)
    assert np.abs(x.imag).max() < 300
    np.testing.assert_array_equal(s["chirp"], s["frame"][0])  # chirp.txt is row 0 of frame.txt


@needs_data
@pytest.mark.parametrize("name", ["simple_frame_1", "doppler_example_1"])
def test_readme_mean_range_profile_peaks(name):
    x = load_openradar_sample(DATA / f"{name}.npy").astype(np.complex128)
    spectrum = np.abs(np.fft.fft(x, axis=-1))  # range FFT over the samples
    profile = spectrum.reshape(-1, x.shape[-1]).mean(axis=0)
    top2 = sorted(np.argsort(profile)[::-1][:2].tolist())
    assert top2 == [1, 107]
    # both are local maxima; bin 107 is ~5.2 m
    for b in (1, 107):
        assert profile[b] > profile[b - 1] and profile[b] > profile[b + 1]
    assert OPENRADAR_CHIRP_CONFIG.range_bin_m(107) == pytest.approx(5.22, abs=0.01)


@needs_data
def test_readme_range_azimuth_peak_after_static_removal():
    x = load_openradar_sample(DATA / "doppler_example_1.npy").astype(np.complex128)
    rng = np.fft.fft(x, axis=2)  # [chirp, virtual antenna, range]
    rng = rng - rng.mean(axis=0, keepdims=True)  # remove the per-range mean over chirps
    ra = np.abs(np.fft.fftshift(np.fft.fft(rng, n=64, axis=1), axes=1)).sum(axis=0)
    angle_bin, range_bin = np.unravel_index(np.argmax(ra), ra.shape)
    assert (range_bin, angle_bin) == (60, 36)
    # the same through the ADC-cube view (TX-major virtual order keeps the array uniform)
    cube = virtual_to_adc_cube(x)
    flat = cube.reshape(x.shape)
    np.testing.assert_array_equal(flat, x)


@needs_data
@pytest.mark.parametrize("name", ["chirp.txt", "frame.txt", "simple_frame_1.npy"])
def test_writer_reproduces_the_shared_files_byte_for_byte(tmp_path, name):
    x = load_openradar_sample(DATA / name)
    save_openradar_sample(tmp_path / name, x)
    assert (tmp_path / name).read_bytes() == (DATA / name).read_bytes()
