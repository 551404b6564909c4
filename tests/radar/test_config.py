"""RadarConfig: derived metrics against the textbook formulas, presets, YAML and TI .cfg parsing."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mmsight.radar import PRESETS, RadarConfig, RadarConfigError

C = 299_792_458.0


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_derived_metrics_match_formulas(name: str) -> None:
    cfg = RadarConfig.preset(name)
    bandwidth = cfg.slope * cfg.n_samples / cfg.sample_rate
    f_centre = cfg.start_frequency + cfg.slope * (cfg.adc_start_time + cfg.n_samples / cfg.sample_rate / 2)
    lam = C / f_centre
    t_c = cfg.idle_time + cfg.ramp_end_time
    n_tx = len(cfg.tx_order)
    assert cfg.bandwidth == pytest.approx(bandwidth, rel=1e-12)
    assert cfg.wavelength == pytest.approx(lam, rel=1e-12)
    assert cfg.range_resolution == pytest.approx(C / (2 * bandwidth), rel=1e-12)
    f_if = cfg.sample_rate if cfg.complex_sampling else cfg.sample_rate / 2
    assert cfg.max_range == pytest.approx(f_if * C / (2 * cfg.slope), rel=1e-12)
    assert cfg.max_velocity == pytest.approx(lam / (4 * n_tx * t_c), rel=1e-12)
    assert cfg.velocity_resolution == pytest.approx(lam / (2 * cfg.n_loops * n_tx * t_c), rel=1e-12)
    n_az = len(set(cfg.virtual_azimuth))
    assert cfg.azimuth_resolution == pytest.approx(2 / n_az, rel=1e-12)
    assert len(cfg.virtual_azimuth) == len(cfg.virtual_elevation) == len(cfg.phase_rotation) == cfg.n_virtual


def test_preset_numbers_from_the_physics_reference() -> None:
    # shared/reference/derived_profiles.txt, which derives them independently
    isk = RadarConfig.preset("iwr6843isk")
    assert isk.range_resolution == pytest.approx(0.0441, abs=5e-5)
    assert isk.max_range == pytest.approx(11.29, abs=0.01)
    assert isk.max_velocity == pytest.approx(12.96, abs=0.01)
    assert isk.velocity_resolution == pytest.approx(0.810, abs=1e-3)
    assert math.degrees(isk.azimuth_resolution) == pytest.approx(14.3, abs=0.05)
    mission = RadarConfig.preset("mission")
    assert mission.range_resolution == pytest.approx(0.0469, abs=5e-5)
    assert mission.max_velocity == pytest.approx(12.97, abs=0.01)
    assert mission.velocity_resolution == pytest.approx(0.811, abs=1e-3)
    aop = RadarConfig.preset("iwr6843aop")
    assert aop.range_resolution == pytest.approx(0.0842, abs=5e-5)
    assert aop.max_velocity == pytest.approx(4.45, abs=0.01)
    assert math.degrees(aop.azimuth_resolution) == pytest.approx(28.6, abs=0.1)
    boost = RadarConfig.preset("awr1843boost")
    assert boost.range_resolution == pytest.approx(0.0422, abs=5e-5)
    assert boost.max_velocity == pytest.approx(10.30, abs=0.01)


def test_isk_virtual_array_layout() -> None:
    # TI e2e 1013869: dx = [0 .5 1 1.5 1 1.5 2 2.5 2 2.5 3 3.5] lambda, dz = TX2 row at lambda/2,
    # for chirp order TX1, TX2, TX3.
    cfg = RadarConfig.preset("iwr6843isk").replace(
        tx_order=(0, 1, 2), virtual_azimuth=(), virtual_elevation=(), phase_rotation=()
    )
    np.testing.assert_allclose(cfg.virtual_azimuth, [0, 1, 2, 3, 2, 3, 4, 5, 4, 5, 6, 7])
    np.testing.assert_allclose(cfg.virtual_elevation, [0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0])


def test_yaml_round_trip(tmp_path) -> None:
    for name in PRESETS:
        cfg = RadarConfig.preset(name)
        path = tmp_path / f"{name}.yaml"
        cfg.save_yaml(path)
        assert RadarConfig.load_yaml(path) == cfg
    assert not list(tmp_path.glob("*.tmp"))


def test_unknown_and_bad_keys_rejected(tmp_path) -> None:
    data = RadarConfig.preset("iwr6843isk").to_dict()
    data["slop"] = 1.0
    with pytest.raises(RadarConfigError, match="unknown keys.*slop"):
        RadarConfig.from_dict(data)
    with pytest.raises(RadarConfigError, match="ramp too short"):
        RadarConfig.preset("iwr6843isk").replace(n_samples=512)
    with pytest.raises(RadarConfigError, match="virtual_azimuth"):
        RadarConfig.preset("iwr6843isk").replace(virtual_azimuth=(0.0, 1.0))
    with pytest.raises(RadarConfigError, match="band"):
        RadarConfig.preset("iwr6843isk").replace(start_frequency=63e9)
    with pytest.raises(RadarConfigError, match="frame period"):
        RadarConfig.preset("iwr6843isk").replace(n_loops=2000)
    with pytest.raises(RadarConfigError, match="unknown radar preset"):
        RadarConfig.preset("iwr9999")
    bad = tmp_path / "bad.yaml"
    bad.write_text("slope: [1, 2\n")
    with pytest.raises(RadarConfigError, match="not valid YAML"):
        RadarConfig.load_yaml(bad)


OOB_68XX = """\
% TI mmWave SDK out-of-box demo, profile_3d (IWR6843ISK)
sensorStop
flushCfg
dfeDataOutputMode 1
channelCfg 15 7 0
adcCfg 2 1
adcbufCfg -1 0 1 1 1
profileCfg 0 60 7 3 24 0 0 166 1 256 12500 0 0 158
chirpCfg 0 0 0 0 0 0 0 1
chirpCfg 1 1 0 0 0 0 0 4
chirpCfg 2 2 0 0 0 0 0 2
frameCfg 0 2 32 0 100 1 0
cfarCfg -1 0 2 8 4 3 0 15 1
clutterRemoval -1 0
sensorStart
"""


def test_ti_cfg_matches_preset(tmp_path) -> None:
    path = tmp_path / "profile_3d.cfg"
    path.write_text(OOB_68XX)
    cfg = RadarConfig.from_ti_cfg(path, name="iwr6843isk")
    preset = RadarConfig.preset("iwr6843isk")
    for key in ("start_frequency", "slope", "sample_rate", "idle_time", "ramp_end_time", "frame_rate"):
        assert getattr(cfg, key) == pytest.approx(getattr(preset, key), rel=1e-12), key
    assert cfg.tx_order == (0, 2, 1) and cfg.n_loops == 32 and cfg.n_samples == 256 and cfg.n_rx == 4
    assert cfg.virtual_azimuth == preset.virtual_azimuth
    assert cfg.complex_sampling and cfg.adc_bits == 16


def test_ti_cfg_with_antenna_geometry(tmp_path) -> None:
    text = OOB_68XX.replace("chirpCfg 1 1 0 0 0 0 0 4\nchirpCfg 2 2 0 0 0 0 0 2", "chirpCfg 1 1 0 0 0 0 0 2\nchirpCfg 2 2 0 0 0 0 0 4")
    text += "antGeometry0 0 -1 -2 -3 -2 -3 -4 -5 -4 -5 -6 -7\nantGeometry1 -1 -1 -1 -1 0 0 0 0 -1 -1 -1 -1\n"
    path = tmp_path / "isk.cfg"
    path.write_text(text)
    cfg = RadarConfig.from_ti_cfg(path)
    np.testing.assert_allclose(cfg.virtual_azimuth, [0, 1, 2, 3, 2, 3, 4, 5, 4, 5, 6, 7])
    np.testing.assert_allclose(cfg.virtual_elevation, [0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0])


@pytest.mark.parametrize(
    "old, new, message",
    [
        ("profileCfg 0 60 7 3 24 0 0 166 1 256 12500", "profileCfg 0 60 7 3 20 0 0 166 1 256 12500", "ramp too short"),
        ("channelCfg 15 7 0", "channelCfg 15 3 0", "disables it"),
        ("chirpCfg 2 2 0 0 0 0 0 2", "chirpCfg 2 2 0 0 0 0 0 6", "exactly one TX"),
        ("frameCfg 0 2 32 0 100 1 0", "frameCfg 0 3 32 0 100 1 0", "no chirpCfg defines it"),
        ("frameCfg 0 2 32 0 100 1 0", "frameCfg 0 2 32 0 1 1 0", "frame period"),
        ("profileCfg 0 60 7 3 24 0 0 166 1 256 12500", "profileCfg 0 60 7 3 24 0 0 abc 1 256 12500", "non-numeric"),
        ("frameCfg 0 2 32 0 100 1 0\n", "", "missing required"),
    ],
)
def test_ti_cfg_inconsistent_rejected(tmp_path, old: str, new: str, message: str) -> None:
    assert old in OOB_68XX
    path = tmp_path / "bad.cfg"
    path.write_text(OOB_68XX.replace(old, new))
    with pytest.raises(RadarConfigError, match=message) as info:
        RadarConfig.from_ti_cfg(path)
    assert "bad.cfg" in str(info.value)
