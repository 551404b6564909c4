"""Cross-check of our chain against an independent implementation, ``xwr.rsp`` (RadarML/xwr).

``xwr`` is used only as an oracle here. Its layout: input ``[batch, loops, tx, rx, samples]`` with
the TX axis in *physical* TX order (TX1, TX2, TX3), output ``[batch, doppler, elevation, azimuth,
range]`` with fftshifted Doppler/angle axes in "image order" (for the AWR1843Boost class, which
has our ISK virtual array: elevation row 0 is the raised TX2 row, azimuth index grows to +x). It
has no TDM-MIMO Doppler compensation and no clutter removal, so angles are compared on static
targets and our chain runs without clutter removal. Its point cloud is in an x-forward, y-left
frame and maps the elevation bin so that the raised row comes out as *negative* z (its angle table
ascends with the index while its elevation index grows downwards): ``x_xwr = y``, ``y_xwr = -x``,
``z_xwr = -z`` of ours.
"""

from __future__ import annotations

import numpy as np
import pytest

from mmsight.radar.chain import SignalChain
from mmsight.radar.config import RadarConfig
from mmsight.radar.forward import simulate_adc

xrsp = pytest.importorskip("xwr.rsp.numpy", reason="xwr (test extra) is not installed")

ISK = RadarConfig.preset("iwr6843isk")
N_EL = 16


def _direction(az: float, el: float) -> np.ndarray:
    az, el = np.radians(az), np.radians(el)
    return np.array([np.cos(el) * np.sin(az), np.cos(el) * np.cos(az), np.sin(el)])


def _simulate(spec: list[tuple[float, float, float, float]], seed: int) -> np.ndarray:
    pos = np.array([r * _direction(a, e) for r, a, e, _ in spec])
    vel = np.array([v * _direction(a, e) for _, a, e, v in spec])
    return simulate_adc(ISK, pos, vel, np.ones(len(spec)), rng=seed)


def _xwr_cube(adc: np.ndarray, window: bool = True, scale: float = 1.0) -> np.ndarray:
    """|xwr spectrum| [doppler, el, az, range] of one frame (``scale``: volts -> ADC-count-like)."""
    physical = adc[:, np.argsort(ISK.tx_order)]  # our TX slots (0, 2, 1) -> physical TX1, TX2, TX3
    rsp = xrsp.AWR1843Boost(window=window, size={"azimuth": 64, "elevation": N_EL})
    return rsp((physical * scale)[None].astype(np.complex64))[0]


def test_rd_maps_agree_exactly_without_windows() -> None:
    """Parseval: xwr's power summed over its zero-padded angle grid = 64 * 16 x our non-coherent sum."""
    adc = _simulate([(3.0, 20.0, 0.0, 2.0), (6.5, -35.0, 10.0, -4.0)], seed=0)
    ours = SignalChain(ISK, clutter_removal=False, range_window="rect", doppler_window="rect").process(adc)
    cube = _xwr_cube(adc, window=False)
    theirs = (np.abs(cube.astype(np.complex128)) ** 2).sum(axis=(1, 2)).T / (64 * N_EL)  # [range, doppler]
    np.testing.assert_allclose(ours.range_doppler, theirs, rtol=2e-3, atol=1e-4 * theirs.max())


@pytest.mark.parametrize("spec", [[(3.0, 20.0, 0.0, 2.0)], [(5.2, -40.0, 8.0, -3.1)], [(2.2, 0.0, -10.0, 6.0), (7.0, 30.0, 0.0, -1.0)]])
def test_range_and_doppler_peaks_agree(spec: list[tuple[float, float, float, float]]) -> None:
    adc = _simulate(spec, seed=1)
    ours = SignalChain(ISK, clutter_removal=False).process(adc)
    rd_theirs = np.abs(_xwr_cube(adc)).sum(axis=(1, 2)).T  # [range, doppler]
    dr = float(ours.range_axis[1])
    for r, _, _, _ in spec:
        k = int(round(r / dr))
        win = slice(k - 3, k + 4)
        a = np.unravel_index(np.argmax(ours.range_doppler[win]), ours.range_doppler[win].shape)
        b = np.unravel_index(np.argmax(rd_theirs[win]), rd_theirs[win].shape)
        assert a == b, (r, a, b)
    # xwr's own CA-CFAR finds our detections (it adds 1 to the power "against division by zero",
    # which assumes ADC counts: our volts are scaled up by 1e6 first)
    det = xrsp.CACFAR()(np.abs(_xwr_cube(adc, scale=1e6))[None].astype(np.float32))
    for rb, db, _ in ours.point_bins:
        assert det.mask[0, rb - 1 : rb + 2, db - 1 : db + 2].any(), (rb, db)


@pytest.mark.parametrize("az,el", [(-50.0, 0.0), (-20.0, 15.0), (0.0, -12.0), (12.0, 0.0), (35.0, -20.0), (55.0, 10.0)])
def test_angle_peaks_agree_on_static_targets(az: float, el: float) -> None:
    r = 4.0
    adc = _simulate([(r, az, el, 0.0)], seed=2)
    ours = SignalChain(ISK, clutter_removal=False).process(adc)
    amp = np.abs(_xwr_cube(adc))
    d, e, a, k = np.unravel_index(np.argmax(amp), amp.shape)
    pr, pd, pa = ours.point_bins[np.argmax(ours.points[:, 4])]
    assert (pr, pd) == (k, d)
    assert abs(int(pa) - int(a)) <= 1, (pa, a)
    ra_peak = int(np.argmax(ours.range_azimuth[pr]))
    assert abs(ra_peak - int(a)) <= 1
    # elevation: their raised row is index 0 ("up"), so positive elevation -> index below N_EL/2
    z = ours.points[np.argmax(ours.points[:, 4]), 2]
    if abs(el) >= 8:
        assert np.sign(N_EL // 2 - e) == np.sign(z) == np.sign(el), (e, z, el)
    # their point cloud, mapped to our frame
    pc = xrsp.PointCloud(range_res=float(ours.range_axis[1]), doppler_res=float(ours.velocity_axis[1] - ours.velocity_axis[0]))
    mask = np.zeros((1, amp.shape[3], amp.shape[0]), bool)
    mask[0, k, d] = True
    dense = pc(amp[None].astype(np.float32), mask)
    xt, yt, zt, _ = dense.points[0, k, d]
    x, y, zz = ours.points[np.argmax(ours.points[:, 4]), :3]
    assert abs(xt - y) < 0.25 and abs(-yt - x) < 0.25, ((xt, yt), (x, y))
    # z: same sign once their flip is undone; their 16-bin elevation grid is mapped with
    # linspace(-1, 1, 16) rather than the FFT bin centres, up to ~0.13 off in sin(el)
    if abs(el) >= 8:
        assert np.sign(-zt) == np.sign(zz)
    assert abs(-zt - zz) < 0.15 * r + 0.1, (zt, zz)
