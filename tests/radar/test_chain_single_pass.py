"""``ChainOptions.ra_clutter_removal``: one chain pass gives what two chains (with and without static
clutter removal) give, and the constant-velocity forward model's separable exponentials agree with
direct evaluation."""

from __future__ import annotations

import numpy as np
import pytest

from mmsight.radar import forward
from mmsight.radar.chain import SignalChain
from mmsight.radar.config import RadarConfig
from mmsight.radar.forward import simulate_adc


def _scene_adc(cfg: RadarConfig, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = 40
    pos = np.stack([rng.uniform(-2, 2, n), rng.uniform(1, 7, n), rng.uniform(-0.5, 0.5, n)], axis=1)
    vel = np.where(rng.random((n, 1)) < 0.5, 0.0, rng.normal(0, 1.0, (n, 3)))  # half of them static
    return simulate_adc(cfg, pos, vel, rng.uniform(0.01, 1.0, n), rng=seed)


@pytest.mark.parametrize("preset", ["iwr6843isk", "iwr1443boost"])
@pytest.mark.parametrize("ra_method", ["fft", "capon"])
def test_one_pass_equals_two_chains(preset: str, ra_method: str) -> None:
    cfg = RadarConfig.preset(preset)
    adc = _scene_adc(cfg)
    kw = dict(peak_grouping=False, ra_method=ra_method)
    moving = SignalChain(cfg, clutter_removal=True, **kw).process(adc)
    static = SignalChain(cfg, clutter_removal=False, **kw).process(adc)
    one = SignalChain(cfg, clutter_removal=True, ra_clutter_removal=False, **kw).process(adc)
    np.testing.assert_array_equal(one.range_azimuth, static.range_azimuth)
    np.testing.assert_array_equal(one.range_doppler, moving.range_doppler)
    np.testing.assert_array_equal(one.points, moving.points)
    # and the other way round: points of the whole scene, map of the movers
    other = SignalChain(cfg, clutter_removal=False, ra_clutter_removal=True, **kw).process(adc)
    np.testing.assert_array_equal(other.range_doppler, static.range_doppler)
    np.testing.assert_array_equal(other.points, static.points)
    np.testing.assert_allclose(other.range_azimuth, moving.range_azimuth, rtol=1e-5, atol=1e-6 * moving.range_azimuth.max())
    # None: as clutter_removal
    same = SignalChain(cfg, clutter_removal=True, ra_clutter_removal=None, **kw).process(adc)
    np.testing.assert_array_equal(same.range_azimuth, moving.range_azimuth)


@pytest.mark.parametrize("n", [256, 200, 16, 7])
def test_split_exponentials_equal_direct_evaluation(n: int) -> None:
    w = np.random.default_rng(1).uniform(-3.2, 3.2, 50)
    direct = np.exp(1j * w[:, None] * np.arange(n)[None, :])
    # both round the phase w * s in float64: ~1e-16 x |w s| (< 1e-12 for these phases)
    np.testing.assert_allclose(forward._split_exp(w, n), direct, rtol=0, atol=1e-12)
    got64 = forward._split_exp(w, n, np.complex64)
    assert got64.dtype == np.complex64
    np.testing.assert_allclose(got64, direct.astype(np.complex64), rtol=0, atol=2e-7)
