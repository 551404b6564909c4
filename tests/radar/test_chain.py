"""The signal chain and its primitives against analytic truth (simulated point targets)."""

from __future__ import annotations

import numpy as np
import pytest

from mmsight.radar import processing as P
from mmsight.radar.chain import ChainOptions, FrameProducts, SignalChain
from mmsight.radar.config import RadarConfig
from mmsight.radar.forward import sample_snr, simulate_adc

ISK = RadarConfig.preset("iwr6843isk")
ELEVATION_PRESETS = ["iwr6843isk", "iwr6843aop", "iwr1443boost", "mission"]
_CHAINS: dict[tuple, SignalChain] = {}


def chain(cfg: RadarConfig, **kw) -> SignalChain:
    key = (cfg, tuple(sorted(kw.items())))
    if key not in _CHAINS:
        _CHAINS[key] = SignalChain(cfg, **kw)
    return _CHAINS[key]


def direction(az_deg: float, el_deg: float = 0.0) -> np.ndarray:
    az, el = np.radians(az_deg), np.radians(el_deg)
    return np.array([np.cos(el) * np.sin(az), np.cos(el) * np.cos(az), np.sin(el)])


def targets(cfg: RadarConfig, spec: list[tuple[float, float, float, float]], rcs=None, seed: int = 0) -> np.ndarray:
    """spec: (range m, azimuth deg, elevation deg, radial velocity m/s) per target."""
    pos = np.array([r * direction(a, e) for r, a, e, _ in spec])
    vel = np.array([v * direction(a, e) for _, a, e, v in spec])
    return simulate_adc(cfg, pos, vel, np.ones(len(spec)) if rcs is None else rcs, rng=seed)


def local_maxima(x: np.ndarray, floor_db: float = 15.0) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    i = np.flatnonzero((x[1:-1] > x[:-2]) & (x[1:-1] >= x[2:])) + 1
    return i[x[i] >= x.max() * 10 ** (-floor_db / 10)]


def expected_bins(out: FrameProducts, r: float, u: float, v: float) -> tuple[float, float, float]:
    n_a = len(out.azimuth_axis)
    return (
        r / float(out.range_axis[1]),
        v / float(out.velocity_axis[1] - out.velocity_axis[0]) + len(out.velocity_axis) // 2,
        u * n_a / 2 + n_a // 2,
    )


# ----------------------------------------------------------------------------------- single targets
@pytest.mark.parametrize("preset", ELEVATION_PRESETS)
@pytest.mark.parametrize(
    "r,az,el,vfrac",
    [(4.0, -25.0, 12.0, 0.55), (2.5, 30.0, -10.0, -0.3), (6.0, -50.0, 20.0, 0.35), (3.0, 5.0, 0.0, -0.8)],
)
def test_point_target_bins_and_position(preset: str, r: float, az: float, el: float, vfrac: float) -> None:
    cfg = RadarConfig.preset(preset)
    v = vfrac * cfg.max_velocity
    out = chain(cfg).process(targets(cfg, [(r, az, el, v)], seed=ELEVATION_PRESETS.index(preset) * 10 + int(r)))
    u_dir = direction(az, el)
    kr, kd, ka = expected_bins(out, r, u_dir[0], v)
    # range-Doppler map peak
    pr, pd = np.unravel_index(np.argmax(out.range_doppler), out.range_doppler.shape)
    assert abs(pr - kr) <= 1 and abs(pd - kd) <= 1, (pr, pd, kr, kd)
    # range-azimuth map peak (sign convention: negative azimuth -> bins below n_angle/2)
    ra_r, ra_a = np.unravel_index(np.argmax(out.range_azimuth), out.range_azimuth.shape)
    assert abs(ra_r - kr) <= 1 and abs(ra_a - ka) <= 1, (ra_r, ra_a, kr, ka)
    assert np.sign(out.azimuth_axis[ra_a]) == np.sign(az) or abs(az) < 6
    # exactly one point, at the target (within one resolution cell; in practice a few cm)
    assert out.points.shape == (1, 5) and out.points.dtype == np.float32
    x, y, z, dop, snr = out.points[0]
    truth = r * u_dir
    cell = max(cfg.range_resolution, r * cfg.azimuth_resolution / 2)
    assert np.all(np.abs(np.array([x, y, z]) - truth) < cell), (out.points[0], truth, cell)
    assert abs(dop - v) <= cfg.velocity_resolution
    assert snr > 15
    b = out.point_bins[0]
    assert abs(b[0] - kr) <= 1 and abs(b[1] - kd) <= 1 and abs(b[2] - ka) <= 1


def test_points_without_elevation_rows_have_z_zero() -> None:
    cfg = RadarConfig.preset("awr1843boost")
    out = chain(cfg).process(targets(cfg, [(5.0, -20.0, 0.0, 1.0)]))
    assert out.points.shape == (1, 5)
    assert out.points[0, 2] == 0.0
    np.testing.assert_allclose(out.points[0, :2], 5.0 * direction(-20.0)[:2], atol=0.08)


def test_capon_point_estimator_single_target() -> None:
    out = chain(ISK, angle_method="capon").process(targets(ISK, [(3.5, 18.0, 10.0, 2.0)]))
    assert out.points.shape[0] == 1
    np.testing.assert_allclose(out.points[0, :3], 3.5 * direction(18.0, 10.0), atol=0.15)


# ----------------------------------------------------------------------------------- resolution
def test_two_targets_resolved_in_range() -> None:
    dr = ISK.range_resolution
    r1 = 80 * dr
    out = chain(ISK).process(targets(ISK, [(r1, 10.0, 0.0, 1.0), (r1 + 2.5 * dr, 10.0, 0.0, 1.0)]))
    d = int(np.argmax(out.range_doppler.max(0)))
    pk = local_maxima(out.range_doppler[70:95, d]) + 70
    assert len(pk) == 2 and set(np.round(pk - 80)) <= {0, 1, 2, 3}, pk
    assert len(out.points) == 2


def test_two_targets_resolved_in_azimuth() -> None:
    # 8-element ULA: Rayleigh cell 2/8 in u; targets 0.4 apart in u, same range and velocity
    u1, u2 = -0.1, 0.3
    az1, az2 = np.degrees(np.arcsin(u1)), np.degrees(np.arcsin(u2))
    out = chain(ISK, clutter_removal=False).process(targets(ISK, [(3.0, az1, 0.0, 0.0), (3.0, az2, 0.0, 0.0)], seed=1))
    r = int(np.argmax(out.range_azimuth.max(1)))
    pk = local_maxima(out.range_azimuth[r], floor_db=6)
    want = np.array([u1, u2]) * 32 + 32
    assert len(pk) == 2 and np.all(np.abs(pk - want) <= 1.5), (pk, want)
    # both targets share one range-Doppler cell: the second azimuth peak (multiObjBeamForming) gives two points
    assert len(out.points) == 2
    np.testing.assert_allclose(np.sort(out.points[:, 0]), 3.0 * np.array([u1, u2]), atol=0.1)


def test_two_targets_resolved_in_doppler() -> None:
    dv = ISK.velocity_resolution
    out = chain(ISK).process(targets(ISK, [(3.0, 0.0, 0.0, 2.0), (3.0, 0.0, 0.0, 2.0 + 2.5 * dv)]))
    r = int(np.argmax(out.range_doppler.max(1)))
    pk = local_maxima(out.range_doppler[r])
    assert len(pk) == 2 and abs(abs(pk[1] - pk[0]) - 2.5) <= 1, pk
    assert len(out.points) == 2


# ----------------------------------------------------------------------------------- SNR
def test_snr_matches_radar_equation_single_channel() -> None:
    """Rectangular windows, on-bin target: RD-cell SNR = per-sample SNR * n_samples * n_loops."""
    k_r, k_d = 90, 5
    r = k_r * ISK.range_resolution
    v = k_d * ISK.velocity_resolution
    rcs = 0.01
    adc = targets(ISK, [(r, 0.0, 0.0, v)], rcs=[rcs], seed=2)
    cube = P.virtual_cube(adc)
    rd = P.doppler_fft(P.range_fft(cube, window="rect"), window="rect")  # [D, V, R]
    p = np.abs(rd.astype(np.complex128)) ** 2
    peak = p[ISK.n_loops // 2 + k_d, 0, k_r]
    noise = np.median(p[:, 0, 150:]) / np.log(2)  # exponential: mean = median / ln 2
    measured = 10 * np.log10(peak / noise)
    predicted = 10 * np.log10(sample_snr(ISK, np.array([r]), np.array([rcs]))[0] * ISK.n_samples * ISK.n_loops)
    assert abs(measured - predicted) < 1.0, (measured, predicted)


def test_point_snr_matches_radar_equation_with_windows() -> None:
    k_r, k_d = 120, -4
    r = k_r * ISK.range_resolution
    v = k_d * ISK.velocity_resolution
    rcs = 0.03  # ~24 dB: the signal-noise cross term then moves the measured SNR by < 0.5 dB
    out = chain(ISK).process(targets(ISK, [(r, -15.0, 0.0, v)], rcs=[rcs], seed=3))
    assert len(out.points) == 1
    w_r = P.get_window("hann", ISK.n_samples).astype(np.float64)
    w_d = P.get_window("hann", ISK.n_loops).astype(np.float64)
    gain = w_r.sum() ** 2 / (w_r**2).sum() * w_d.sum() ** 2 / (w_d**2).sum()
    predicted = 10 * np.log10(sample_snr(ISK, np.array([r]), np.array([rcs]))[0] * gain + 1)
    assert abs(out.points[0, 4] - predicted) < 2.0, (out.points[0, 4], predicted)


# ----------------------------------------------------------------------------------- TDM-MIMO
def test_tdm_compensation_fixes_fast_mover_azimuth() -> None:
    az = 20.0
    v = 0.85 * ISK.max_velocity  # not closer to v_max: the Hann main lobe would wrap to -v_max
    adc = targets(ISK, [(4.0, az, 0.0, v)], seed=4)
    u = np.sin(np.radians(az))
    good = chain(ISK).process(adc)
    bad = chain(ISK, tdm_compensation=False, multi_peak_ratio=None).process(adc)
    assert abs(good.points[0, 0] / 4.0 - u) < 0.01
    assert abs(good.point_bins[0, 2] - (u * 32 + 32)) <= 1
    # without compensation the slot-1 half of the ULA is 2 pi 13.6 / 96 = 0.9 rad off: ~0.055 bias in sin(az)
    assert abs(bad.points[0, 0] / 4.0 - u) > 0.04
    # the RA map (also compensated) peaks at the right bin only with compensation
    ka = u * 32 + 32
    assert abs(np.argmax(good.range_azimuth.max(0)) - ka) <= 1
    assert abs(np.argmax(bad.range_azimuth.max(0)) - ka) > 1


def test_tdm_compensation_matrix() -> None:
    comp = P.tdm_compensation(ISK, 32)
    assert comp.shape == (32, 12)
    np.testing.assert_allclose(comp[16], 1.0)  # zero Doppler: nothing to correct
    np.testing.assert_allclose(comp[:, :4], 1.0)  # slot 0 is the reference
    d = 16 + 5
    np.testing.assert_allclose(np.angle(comp[d, 8]), np.angle(np.exp(-2j * np.pi * 5 * 2 / (32 * 3))), atol=1e-6)
    np.testing.assert_allclose(P.tdm_compensation_at(ISK, np.array([5.0]), 32)[0], comp[d], atol=1e-6)


# ----------------------------------------------------------------------------------- Capon
def test_capon_resolves_targets_closer_than_fft_resolution() -> None:
    """Two movers in one range bin, 0.16 apart in sin(az) (FFT cell 0.25): one FFT peak, two Capon peaks."""
    u1, u2 = -0.08, 0.08
    r = 72 * ISK.range_resolution
    spec = [(r, np.degrees(np.arcsin(u1)), 0.0, 1.5), (r, np.degrees(np.arcsin(u2)), 0.0, -2.5)]
    adc = targets(ISK, spec, seed=3)
    fft = chain(ISK).process(adc)
    cap = chain(ISK, ra_method="capon").process(adc)
    row = int(np.argmax(fft.range_azimuth.max(1)))
    assert len(local_maxima(fft.range_azimuth[row], floor_db=10)) == 1  # (rect sidelobes: -13 dB)
    pk = local_maxima(cap.range_azimuth[row], floor_db=10)
    assert len(pk) == 2 and np.all(np.abs(pk - (np.array([u1, u2]) * 32 + 32)) <= 1), pk
    # and the Capon main lobe is much narrower: -3 dB width in bins
    def width(x):
        return int(np.sum(x >= x.max() / 2))
    single = targets(ISK, [(r, 10.0, 0.0, 1.5)], seed=5)
    f1 = chain(ISK).process(single).range_azimuth[row]
    c1 = chain(ISK, ra_method="capon").process(single).range_azimuth[row]
    assert width(c1) < width(f1) / 2


def test_capon_primitives() -> None:
    rng = np.random.default_rng(0)
    snaps = (rng.standard_normal((64, 12)) + 1j * rng.standard_normal((64, 12))) / np.sqrt(2)
    r = P.covariance(snaps, loading=0.0)
    np.testing.assert_allclose(r, r.conj().T, atol=1e-12)
    a = P.steering_vectors(ISK, np.radians([-30.0, 0.0, 30.0]))
    p = P.capon_spectrum(np.linalg.inv(r), a)
    assert p.shape == (3,) and np.all(p > 0)
    # white noise: Capon power ~ noise power / n_ch * n_ch ... ~ 1 / n_virtual * n_virtual
    assert np.all(np.abs(np.log10(p * 12)) < 0.5)


# ----------------------------------------------------------------------------------- clutter
def test_clutter_removal_removes_static_keeps_moving() -> None:
    spec = [(2.0, -20.0, 0.0, 0.0), (4.0, 25.0, 0.0, 1.7)]
    adc = targets(ISK, spec, seed=6)
    on = chain(ISK).process(adc)
    off = chain(ISK, clutter_removal=False).process(adc)

    def near(points: np.ndarray, r: float, az: float) -> bool:
        t = r * direction(az)
        return bool(len(points)) and np.min(np.linalg.norm(points[:, :3] - t, axis=1)) < 0.3

    assert near(off.points, 2.0, -20.0) and near(off.points, 4.0, 25.0)
    assert not near(on.points, 2.0, -20.0) and near(on.points, 4.0, 25.0)
    k = int(round(2.0 / ISK.range_resolution))
    assert on.range_doppler[k, 16] < 1e-4 * off.range_doppler[k, 16]
    # primitive: plain and weighted mean both zero a constant
    x = np.ones((8, 2, 3), np.complex64) * (1 + 2j)
    np.testing.assert_allclose(P.remove_static_clutter(x), 0, atol=1e-6)
    np.testing.assert_allclose(P.remove_static_clutter(x, weights=np.hanning(8)), 0, atol=1e-6)


def test_plain_mean_clutter_removal_equals_the_primitives_and_keeps_slow_movers_at_zero_doppler() -> None:
    slow = 0.3 * ISK.velocity_resolution  # well inside the zero-Doppler bin
    adc = targets(ISK, [(2.0, -20.0, 0.0, 0.0), (3.0, 10.0, 0.0, slow), (5.0, 40.0, 0.0, -1.0)], seed=8)
    plain = chain(ISK, clutter_mean="plain").process(adc)
    window = chain(ISK).process(adc)
    # oracle: the plain mean over chirps subtracted before the window (TI's order), then the Doppler FFT
    rc = P.remove_static_clutter(P.range_fft(P.virtual_cube(adc)))
    rd = P.range_doppler_map(P.doppler_fft(rc))
    np.testing.assert_allclose(plain.range_doppler, rd, rtol=1e-3, atol=1e-4 * rd.max())
    k0 = ISK.n_loops // 2
    r_static, r_slow = (int(round(r / ISK.range_resolution)) for r in (2.0, 3.0))
    noise = np.median(window.range_doppler)
    assert window.range_doppler[r_slow, k0] < 1e-4 * plain.range_doppler[r_slow, k0]  # exactly notched
    assert plain.range_doppler[r_slow, k0] > 100 * noise  # the slow mover stays in the zero-Doppler bin
    assert plain.range_doppler[r_static, k0] < 1e-4 * chain(ISK, clutter_removal=False).process(adc).range_doppler[r_static, k0]
    # one pass with the map taken before the removal: same points and range-Doppler map as the plain chain
    one = chain(ISK, clutter_mean="plain", ra_clutter_removal=False).process(adc)
    np.testing.assert_allclose(one.range_doppler, plain.range_doppler, rtol=1e-5, atol=1e-6 * rd.max())
    with pytest.raises(ValueError, match="clutter_mean"):
        ChainOptions(clutter_mean="median")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------------- consistency
def test_chain_maps_equal_the_primitives() -> None:
    adc = targets(ISK, [(3.0, -30.0, 5.0, 2.0), (5.0, 40.0, 0.0, -1.0)], seed=7)
    out = chain(ISK).process(adc)
    w_d = P.get_window("hann", ISK.n_loops)
    rc = P.remove_static_clutter(P.range_fft(P.virtual_cube(adc)), weights=w_d)
    dc = P.doppler_fft(rc)
    rd = P.range_doppler_map(dc)
    ra = P.range_azimuth_map(dc, ISK, n_angle=64)
    np.testing.assert_allclose(out.range_doppler, rd, rtol=1e-3, atol=1e-4 * rd.max())
    np.testing.assert_allclose(out.range_azimuth, ra, rtol=1e-3, atol=1e-4 * ra.max())
    assert out.range_azimuth.shape == (256, 64) and out.range_azimuth.dtype == np.float32
    assert out.range_doppler.shape == (256, 32) and out.range_doppler.dtype == np.float32
    # axes
    assert out.range_axis[1] == pytest.approx(ISK.range_resolution, rel=1e-6)
    assert out.velocity_axis[16] == 0 and out.velocity_axis[17] == pytest.approx(ISK.velocity_resolution, rel=1e-6)
    assert out.azimuth_axis[32] == 0 and out.azimuth_axis[48] == pytest.approx(np.arcsin(0.5), rel=1e-6)


def test_batch_equals_single_frames() -> None:
    frames = np.stack([targets(ISK, [(2.0 + i, 10.0 * i, 0.0, 1.0)], seed=i) for i in range(3)])
    ch = chain(ISK)
    batch = ch.process_batch(frames)
    for i, f in enumerate(frames):
        one = ch.process(f)
        np.testing.assert_allclose(batch[i].range_azimuth, one.range_azimuth, rtol=1e-5)
        np.testing.assert_allclose(batch[i].points, one.points, rtol=1e-5, atol=1e-6)


def test_options_zero_padding_real_sampling_and_clusters() -> None:
    out = chain(ISK, n_range_fft=512, n_doppler_fft=64, n_angle=128).process(targets(ISK, [(3.0, 12.0, 0.0, 1.2)]))
    assert out.range_doppler.shape == (512, 64) and out.range_azimuth.shape == (512, 128)
    np.testing.assert_allclose(out.points[0, :2], 3.0 * direction(12.0)[:2], atol=0.06)
    real = ISK.replace(complex_sampling=False)
    out = chain(real).process(targets(real, [(3.0, -12.0, 0.0, 1.2)]))
    assert out.range_doppler.shape == (128, 32)
    np.testing.assert_allclose(out.points[0, :3], 3.0 * direction(-12.0), atol=0.08)
    pos = np.array([[x, 3.0 + 0.04 * i, 0.0] for i, x in enumerate(np.linspace(-0.4, 0.4, 12))])
    adc = simulate_adc(ISK, pos, np.tile([0, 1.0, 0], (12, 1)), np.full(12, 0.3), rng=1)
    res = SignalChain(ISK, cluster=True, cluster_min_samples=2).process(adc)
    assert res.clusters is not None and res.clusters.labels.shape == (len(res.points),)


def test_bad_inputs_rejected() -> None:
    ch = chain(ISK)
    with pytest.raises(ValueError, match=r"adc must have shape \[n_loops, n_tx, n_rx, n_samples\] = \[32, 3, 4, 256\]"):
        ch.process(np.zeros((32, 4, 3, 256), np.complex64))
    with pytest.raises(ValueError, match=r"\[n_frames, n_loops"):
        ch.process_batch(np.zeros((32, 3, 4, 256), np.complex64))
    with pytest.raises(ValueError, match="adc must be numeric"):
        ch.process(np.full((32, 3, 4, 256), "a"))
    with pytest.raises(ValueError, match="angle_method"):
        ChainOptions(angle_method="music")
    with pytest.raises(ValueError, match="cfar_kind"):
        SignalChain(ISK, cfar_kind="xx")
    with pytest.raises(ValueError, match="n_angle"):
        ChainOptions(n_angle=63)
    with pytest.raises(ValueError, match="cfar_train"):
        ChainOptions(cfar_train=(1, 2, 3))
    with pytest.raises(TypeError):
        SignalChain(ISK, not_an_option=1)
    with pytest.raises(ValueError, match="n_fft=100 is shorter"):
        P.range_fft(np.zeros((2, 256), np.complex64), n_fft=100)
    with pytest.raises(ValueError, match="unknown window"):
        P.get_window("nonsense-window", 8)


def test_noise_only_frame_has_few_false_alarms() -> None:
    ch = chain(ISK)
    n = 0
    for seed in range(5):
        adc = simulate_adc(ISK, np.zeros((0, 3)), np.zeros((0, 3)), np.zeros(0), rng=100 + seed)
        n += len(ch.process(adc).points)
    assert n <= 2


# ----------------------------------------------------------------------------------- property
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=25, deadline=None, derandomize=True)
@given(
    r=st.floats(1.0, 8.0),
    az=st.floats(-60.0, 60.0),
    el=st.floats(-20.0, 20.0),
    v_bins=st.floats(2.5, 12.0),
    sign=st.sampled_from([-1.0, 1.0]),
)
def test_random_single_target_is_localised(r: float, az: float, el: float, v_bins: float, sign: float) -> None:
    """Anywhere in the usual field of view, a mover outside the clutter notch gives one point at it."""
    v = sign * v_bins * ISK.velocity_resolution
    out = chain(ISK).process(targets(ISK, [(r, az, el, v)], seed=int(r * 1000) % 97))
    assert len(out.points) >= 1
    best = out.points[np.argmax(out.points[:, 4])]
    cell = max(ISK.range_resolution, r * ISK.azimuth_resolution / 2)
    assert np.all(np.abs(best[:3] - r * direction(az, el)) < cell), (best, r * direction(az, el))
    assert abs(best[3] - v) < ISK.velocity_resolution
