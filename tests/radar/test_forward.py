"""The FMCW forward model against the analytic signal model (radar-physics.md 2.1)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from mmsight.radar.config import SPEED_OF_LIGHT, RadarConfig
from mmsight.radar.forward import received_power, sample_snr, simulate_adc, simulate_adc_reference

ISK = RadarConfig.preset("iwr6843isk")
AOP = RadarConfig.preset("iwr6843aop")


def _direction(az_deg: float, el_deg: float) -> np.ndarray:
    az, el = np.radians(az_deg), np.radians(el_deg)
    return np.array([np.cos(el) * np.sin(az), np.cos(el) * np.cos(az), np.sin(el)])


def _one(cfg: RadarConfig, r: float, az: float = 0.0, el: float = 0.0, v: float = 0.0, rcs: float = 1.0) -> np.ndarray:
    u = _direction(az, el)
    return simulate_adc(cfg, [r * u], [v * u], [rcs], noise=False)


def test_shape_dtype_and_real_sampling() -> None:
    adc = _one(ISK, 3.0)
    assert adc.shape == (ISK.n_loops, ISK.n_tx, ISK.n_rx, ISK.n_samples)
    assert adc.dtype == np.complex64
    real_cfg = ISK.replace(complex_sampling=False)
    adc_r = _one(real_cfg, 3.0)
    assert adc_r.dtype == np.complex64
    assert np.all(adc_r.imag == 0)
    np.testing.assert_allclose(adc_r.real, adc.real, rtol=1e-5, atol=1e-12)


def test_beat_frequency_and_intra_chirp_doppler() -> None:
    r, v = 3.3, 2.0
    adc = _one(ISK, r, v=v).astype(np.complex128)
    step = np.angle(adc[0, 0, 0, 1:] * np.conj(adc[0, 0, 0, :-1]))
    f_expected = 2 * ISK.slope * r / SPEED_OF_LIGHT + 2 * v / ISK.wavelength
    w = 2 * np.pi * f_expected / ISK.sample_rate
    np.testing.assert_allclose(step, np.angle(np.exp(1j * w)), atol=2e-4)


def test_range_fft_peak_at_target_bin() -> None:
    for k in (20, 77, 200):
        adc = _one(ISK, k * ISK.range_resolution)
        spec = np.abs(np.fft.fft(adc[0, 0, 0]))
        assert int(np.argmax(spec)) == k


def test_carrier_phase_and_amplitude() -> None:
    r = 2.0
    adc = _one(ISK, r).astype(np.complex128)
    f_first = ISK.start_frequency + ISK.slope * ISK.adc_start_time
    expected = 4 * np.pi * r * f_first / SPEED_OF_LIGHT
    assert abs(np.angle(adc[0, 0, 0, 0] * np.exp(-1j * expected))) < 1e-3
    amp = np.sqrt(received_power(ISK, np.array([r]), np.array([1.0])))[0]
    np.testing.assert_allclose(np.abs(adc), amp, rtol=1e-4)
    # radar equation: P_r ~ sigma / R^4
    p = received_power(ISK, np.array([1.0, 2.0, 2.0]), np.array([1.0, 1.0, 4.0]))
    np.testing.assert_allclose(p[0] / p[1], 16.0)
    np.testing.assert_allclose(p[2] / p[1], 4.0)


def test_doppler_phase_includes_tdm_slot_offset() -> None:
    v = 3.0
    adc = _one(ISK, 4.0, v=v).astype(np.complex128)  # boresight: no steering phase
    ref = adc[0, 0, 0, 0]
    for m, i in [(0, 1), (0, 2), (1, 0), (5, 2), (31, 1)]:
        got = np.angle(adc[m, i, 0, 0] * np.conj(ref))
        t = (m * ISK.n_tx + i) * ISK.chirp_time
        want = np.angle(np.exp(2j * np.pi * 2 * v / ISK.wavelength * t))
        assert abs(np.angle(np.exp(1j * (got - want)))) < 1e-3, (m, i)


@pytest.mark.parametrize("cfg", [ISK, AOP], ids=["isk", "aop"])
@pytest.mark.parametrize("az,el", [(20.0, 0.0), (-35.0, 10.0), (5.0, -25.0)])
def test_steering_phase_per_virtual_channel(cfg: RadarConfig, az: float, el: float) -> None:
    adc = _one(cfg, 3.0, az, el).astype(np.complex128)
    u = _direction(az, el)
    x = np.asarray(cfg.virtual_azimuth).reshape(cfg.n_tx, cfg.n_rx)
    z = np.asarray(cfg.virtual_elevation).reshape(cfg.n_tx, cfg.n_rx)
    rot = np.asarray(cfg.phase_rotation).reshape(cfg.n_tx, cfg.n_rx)
    want = rot * np.exp(1j * np.pi * (x * u[0] + z * u[2]))
    got = adc[0, :, :, 0] / adc[0, 0, 0, 0] * want[0, 0]
    np.testing.assert_allclose(got, want, atol=2e-3)


def test_noise_power_and_sample_snr() -> None:
    adc = simulate_adc(ISK, np.zeros((0, 3)), np.zeros((0, 3)), np.zeros(0), rng=1)
    p = np.mean(np.abs(adc.astype(np.complex128)) ** 2)
    assert abs(p / ISK.noise_power - 1) < 0.02
    assert abs(np.mean(adc.real**2) / np.mean(adc.imag**2) - 1) < 0.03  # circular
    snr = sample_snr(ISK, np.array([2.0]), np.array([1.0]))[0]
    sig = _one(ISK, 2.0)
    np.testing.assert_allclose(np.mean(np.abs(sig.astype(np.complex128)) ** 2) / ISK.noise_power, snr, rtol=1e-4)
    # reproducible with a seed
    a = simulate_adc(ISK, [[0, 2, 0]], [[0, 0, 0]], [1.0], rng=5)
    b = simulate_adc(ISK, [[0, 2, 0]], [[0, 0, 0]], [1.0], rng=np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)


def test_superposition_and_chunking() -> None:
    rng = np.random.default_rng(0)
    n = 2500  # more than one internal chunk
    pos = np.c_[rng.uniform(-2, 2, n), rng.uniform(1, 8, n), rng.uniform(-1, 1, n)]
    vel = rng.normal(0, 1, (n, 3))
    rcs = rng.uniform(0, 0.01, n)
    full = simulate_adc(ISK, pos, vel, rcs, noise=False).astype(np.complex128)
    parts = sum(
        simulate_adc(ISK, pos[s], vel[s], rcs[s], noise=False).astype(np.complex128)
        for s in (slice(0, 1000), slice(1000, 1700), slice(1700, n))
    )
    np.testing.assert_allclose(full, parts, rtol=0, atol=1e-4 * np.abs(full).max())


def test_per_chirp_positions_match_constant_velocity() -> None:
    p0 = np.array([[1.0, 3.0, 0.4]])
    v0 = np.array([[0.5, 2.0, 0.1]])
    t = (np.arange(ISK.n_loops)[:, None] * ISK.n_tx + np.arange(ISK.n_tx)[None]) * ISK.chirp_time + ISK.adc_start_time
    ppc = p0[None, None] + v0[None, None] * t[..., None, None]
    a1 = simulate_adc(ISK, p0, v0, [1.0], noise=False)
    a2 = simulate_adc(ISK, p0, v0, [1.0], noise=False, positions_per_chirp=ppc)
    w = np.hanning(ISK.n_samples)
    f1 = np.fft.fft(a1 * w, axis=-1)
    f2 = np.fft.fft(a2 * w, axis=-1)
    k = int(np.argmax(np.abs(f1[0, 0, 0])))
    assert k == int(np.argmax(np.abs(f2[0, 0, 0])))
    # slow-time phase history at the peak bin agrees (range migration of 6 mm is the only difference)
    d = np.angle(f1[..., k] * np.conj(f2[..., k]))
    assert np.abs(d).max() < 0.02
    # a static scatterer given per chirp equals the constant path exactly up to float32 rounding
    ppc_static = np.broadcast_to(p0, (ISK.n_loops, ISK.n_tx, 1, 3))
    s1 = simulate_adc(ISK, p0, np.zeros((1, 3)), [1.0], noise=False)
    s2 = simulate_adc(ISK, p0, np.zeros((1, 3)), [1.0], noise=False, positions_per_chirp=ppc_static)
    np.testing.assert_allclose(s2, s1, atol=1e-4 * np.abs(s1).max())


def test_vectorised_speed_3000_scatterers() -> None:
    rng = np.random.default_rng(1)
    n = 3000
    pos = np.c_[rng.uniform(-3, 3, n), rng.uniform(1, 9, n), rng.uniform(-1, 1.5, n)]
    simulate_adc(ISK, pos[:10], np.zeros((10, 3)), np.ones(10))  # warm-up
    t0 = time.perf_counter()
    adc = simulate_adc(ISK, pos, rng.normal(0, 1, (n, 3)), rng.uniform(0, 0.1, n), rng=0)
    dt = time.perf_counter() - t0
    assert adc.shape == (32, 3, 4, 256)
    assert dt < 1.5, f"3000 scatterers took {dt:.2f} s"  # ~0.15 s on 2 idle cores


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(positions=np.zeros((2, 2))), r"positions must have shape \[N, 3\]"),
        (dict(positions=[[0, 1, 0], [0, np.nan, 0]]), r"positions has a non-finite value at index \(1, 1\)"),
        (dict(velocities=np.zeros((3, 3))), "velocities has 3 rows"),
        (dict(velocities=[[0, 0, 0], [0, np.inf, 0]]), r"velocities has a non-finite value at index \(1, 1\)"),
        (dict(rcs=[1.0, -0.5]), r"rcs\[1\] = -0.5 is negative"),
        (dict(rcs=[1.0]), r"rcs must have shape \[N\] = \[2\]"),
        (dict(rcs=[1.0, np.nan]), "rcs has a non-finite value at index 1"),
        (dict(positions=[[0, 1, 0], [0, 0, 0]]), r"positions\[\(1,\)\] is at range 0"),
        (dict(positions=[[0, 1, 0], [0, 50, 0]]), r"positions\[\(1,\)\] is at range 50.000 m, beyond the maximum range"),
        (dict(positions_per_chirp=np.zeros((3, 3, 2, 3))), "positions_per_chirp must have shape"),
    ],
)
def test_bad_inputs_are_rejected(kwargs: dict, match: str) -> None:
    args = dict(positions=[[0, 1, 0], [1, 2, 0]], velocities=np.zeros((2, 3)), rcs=[1.0, 1.0])
    args.update(kwargs)
    ppc = args.pop("positions_per_chirp", None)
    with pytest.raises(ValueError, match=match):
        simulate_adc(ISK, args["positions"], args["velocities"], args["rcs"], positions_per_chirp=ppc)


def test_per_chirp_range_checked() -> None:
    ppc = np.zeros((ISK.n_loops, ISK.n_tx, 1, 3))
    ppc[..., 1] = 2.0
    ppc[3, 1, 0, 1] = 40.0
    with pytest.raises(ValueError, match=r"positions_per_chirp\[\(3, 1, 0\)\] is at range 40.000 m"):
        simulate_adc(ISK, [[0, 2, 0]], [[0, 0, 0]], [1.0], positions_per_chirp=ppc)


@pytest.mark.parametrize("cfg", [ISK.replace(n_loops=8), AOP.replace(n_loops=4),
                                 ISK.replace(n_loops=4, n_samples=200), ISK.replace(n_loops=4, n_samples=97)],
                         ids=["isk", "aop", "200-samples", "97-samples"])
def test_gridded_and_direct_sums_match_the_signal_model(cfg: RadarConfig) -> None:
    rng = np.random.default_rng(7)
    n = 300
    r = np.concatenate([rng.uniform(2.5, 3.3, 200), rng.uniform(0.2, 0.97 * cfg.max_range, n - 200)])  # a body + spread
    az, el = rng.uniform(-1.2, 1.2, n), rng.uniform(-0.5, 0.5, n)
    pos = r[:, None] * np.c_[np.cos(el) * np.sin(az), np.cos(el) * np.cos(az), np.sin(el)]
    vel = rng.normal(0, 1.5, (n, 3))
    rcs = 10 ** rng.uniform(-5, 0, n)
    ref = simulate_adc_reference(cfg, pos, vel, rcs)
    peak = np.abs(ref).max()
    for method in ("direct", "gridded"):
        got = simulate_adc(cfg, pos, vel, rcs, noise=False, method=method)
        err = np.abs(got.astype(np.complex128) - ref).max() / peak
        assert err < 2e-6, (method, err)
    # a single weak scatterer far below the others is still resolved by the gridded sum
    weak = simulate_adc(cfg, pos[:1], vel[:1], rcs[:1], noise=False, method="gridded")
    np.testing.assert_allclose(weak, simulate_adc_reference(cfg, pos[:1], vel[:1], rcs[:1]), rtol=0,
                               atol=2e-6 * np.abs(weak).max())


def test_auto_method_threshold_and_bad_method() -> None:
    rng = np.random.default_rng(8)
    pos = np.c_[rng.uniform(-2, 2, 200), rng.uniform(1, 8, 200), rng.uniform(-1, 1, 200)]
    vel = rng.normal(0, 1, (200, 3))
    rcs = rng.uniform(0, 0.01, 200)
    cfg = ISK.replace(n_loops=4)
    np.testing.assert_array_equal(simulate_adc(cfg, pos, vel, rcs, noise=False),
                                  simulate_adc(cfg, pos, vel, rcs, noise=False, method="gridded"))
    np.testing.assert_array_equal(simulate_adc(cfg, pos[:50], vel[:50], rcs[:50], noise=False),
                                  simulate_adc(cfg, pos[:50], vel[:50], rcs[:50], noise=False, method="direct"))
    with pytest.raises(ValueError, match="method must be 'auto', 'direct' or 'gridded'"):
        simulate_adc(cfg, pos, vel, rcs, method="nufft")
    ppc = np.broadcast_to(pos[:1], (cfg.n_loops, cfg.n_tx, 1, 3))
    with pytest.raises(ValueError, match="method must be"):  # also on the per-chirp path, before any work
        simulate_adc(cfg, pos[:1], vel[:1], rcs[:1], positions_per_chirp=ppc, method="nufft")


def test_reference_model_matches_the_analytic_single_target_terms() -> None:
    """The oracle itself: one scatterer's carrier phase, amplitude and beat-frequency step."""
    r, v = 2.5, 1.2
    ref = simulate_adc_reference(ISK, [[0.0, r, 0.0]], [[0.0, v, 0.0]], [1.0])
    f_first = ISK.start_frequency + ISK.slope * ISK.adc_start_time
    f_d = 2 * v / ISK.wavelength
    assert abs(np.angle(ref[0, 0, 0, 0] * np.exp(-1j * (4 * np.pi * r * f_first / SPEED_OF_LIGHT
                                                          + 2 * np.pi * f_d * ISK.adc_start_time)))) < 1e-9
    np.testing.assert_allclose(np.abs(ref), np.sqrt(received_power(ISK, np.array([r]), np.array([1.0])))[0], rtol=1e-12)
    w = 2 * np.pi * (2 * ISK.slope * r / SPEED_OF_LIGHT + f_d) / ISK.sample_rate
    np.testing.assert_allclose(np.angle(ref[0, 0, 0, 1:] * np.conj(ref[0, 0, 0, :-1])), np.angle(np.exp(1j * w)), atol=1e-9)
    with pytest.raises(ValueError, match="rows"):
        simulate_adc_reference(ISK, [[0.0, r, 0.0]], [[0.0, v, 0.0]], [1.0, 2.0])
