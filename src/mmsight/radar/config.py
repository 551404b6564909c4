"""FMCW radar configuration: chirp profile, TDM-MIMO virtual array, derived metrics, presets.

Units are SI throughout (Hz, s, m, rad). The formulas for the derived metrics follow TI's
"Introduction to mmWave Sensing: FMCW Radars" (S. Rao) as summarised in
``shared/reference/radar-physics.md`` section 1.3:

* sampled bandwidth ``B = slope * n_samples / sample_rate``; range resolution ``c / (2 B)``;
* maximum range ``f_IF,max * c / (2 slope)`` with ``f_IF,max = sample_rate`` for complex sampling
  and ``sample_rate / 2`` for real sampling;
* chirp slot ``T_c = idle_time + ramp_end_time``; TDM-MIMO revisits a TX every ``n_tx * T_c``, so
  ``v_max = lambda / (4 n_tx T_c)`` and ``dv = lambda / (2 n_loops n_tx T_c)``;
* azimuth resolution ``2 / N_az`` rad at boresight for ``N_az`` distinct azimuth positions at lambda/2.

The wavelength is taken at the centre of the *sampled* part of the ramp (the frequency the phase
measurements actually see), not at the start frequency; TI's tools use the start frequency, which
gives values about 3 % larger at 60 GHz (see radar-physics.md 1.4).

Virtual-array convention (see ``ARCHITECTURE.md``): virtual channel ``v = slot * n_rx + rx`` where
``slot`` is the chirp's position in ``tx_order``. ``virtual_azimuth[v]`` and
``virtual_elevation[v]`` are positions in half wavelengths such that a far-field target at azimuth
``phi`` (positive towards +x) and elevation ``theta`` (positive towards +z) adds the phase
``pi * (x_v sin(phi) cos(theta) + z_v sin(theta))`` to channel ``v``. TI's ``antGeometry0`` lists
azimuth positions with the opposite sign (0, -1, -2 ... for the ISK), so ``x_v = -antGeometry0``.
``phase_rotation[v]`` (+1/-1) is TI's ``antPhaseRot``: the sign a channel's antenna feed adds,
applied by the forward model and undone by the signal chain.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from mmsight.utils.atomic import atomic_write_text

SPEED_OF_LIGHT = 299_792_458.0  # m/s
BOLTZMANN = 1.380649e-23  # J/K
T0_KELVIN = 290.0  # reference noise temperature


class RadarConfigError(ValueError):
    """An inconsistent or malformed radar configuration (says which field or cfg line)."""


# Physical antenna positions of TI's xWR boards in half wavelengths (our sign convention, x to the
# right seen from the radar, z up). ISK-type boards (IWR6843ISK, AWR1843BOOST, IWR1443BOOST):
# 4 RX in a lambda/2 row; TX1 and TX3 two wavelengths apart in azimuth; TX2 raised by lambda/2 and
# shifted one wavelength in azimuth (radar-physics.md 1.2; TI e2e 1013869 gives dx, dz).
_ISK_TX = {0: (0.0, 0.0), 1: (2.0, 1.0), 2: (4.0, 0.0)}
_ISK_RX = ((0.0, 0.0), (1.0, 0.0), (2.0, 0.0), (3.0, 0.0))
# IWR6843AOP (antenna on package): from TI's AOP_6m_default.cfg antGeometry0/1 and antPhaseRot,
# decomposed into TX offsets + RX positions (x negated as explained in the module docstring,
# z shifted so that the lowest row is 0).
_AOP_TX = {0: (0.0, 2.0), 1: (2.0, 0.0), 2: (0.0, 0.0)}
_AOP_RX = ((1.0, 0.0), (1.0, 1.0), (0.0, 0.0), (0.0, 1.0))
_AOP_RX_ROT = (1.0, -1.0, 1.0, -1.0)

_GEOMETRIES: dict[str, tuple[dict[int, tuple[float, float]], tuple[tuple[float, float], ...], tuple[float, ...]]] = {
    "isk": (_ISK_TX, _ISK_RX, (1.0, 1.0, 1.0, 1.0)),
    "aop": (_AOP_TX, _AOP_RX, _AOP_RX_ROT),
}


def virtual_array(
    geometry: str, tx_order: tuple[int, ...], n_rx: int = 4
) -> tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...]]:
    """Virtual array of a board for a given chirp (TX) order.

    Args:
        geometry: ``"isk"`` (IWR6843ISK / xWR1843BOOST / xWR1443BOOST) or ``"aop"`` (IWR6843AOP).
        tx_order: physical TX index (0-based) of each chirp slot in a loop, e.g. ``(0, 2, 1)``.
        n_rx: number of enabled receivers (the first ``n_rx`` of the board's four).

    Returns:
        ``(azimuth, elevation, phase_rotation)``, each of length ``len(tx_order) * n_rx``.
    """
    if geometry not in _GEOMETRIES:
        raise RadarConfigError(f"unknown antenna geometry {geometry!r}; known: {sorted(_GEOMETRIES)}")
    tx_pos, rx_pos, rx_rot = _GEOMETRIES[geometry]
    if not 1 <= n_rx <= len(rx_pos):
        raise RadarConfigError(f"n_rx={n_rx} but the {geometry} board has {len(rx_pos)} receivers")
    az: list[float] = []
    el: list[float] = []
    rot: list[float] = []
    for tx in tx_order:
        if tx not in tx_pos:
            raise RadarConfigError(f"TX index {tx} not on the {geometry} board (has {sorted(tx_pos)})")
        for rx in range(n_rx):
            az.append(tx_pos[tx][0] + rx_pos[rx][0])
            el.append(tx_pos[tx][1] + rx_pos[rx][1])
            rot.append(rx_rot[rx])
    return tuple(az), tuple(el), tuple(rot)


@dataclass(frozen=True)
class RadarConfig:
    """One FMCW chirp profile + frame + TDM-MIMO virtual array (all SI units).

    The ADC cube of one frame has shape ``[n_loops, n_tx, n_rx, n_samples]`` (complex64).
    """

    name: str = "custom"
    start_frequency: float = 60e9  # Hz, ramp start
    slope: float = 166e12  # Hz/s
    n_samples: int = 256  # ADC samples per chirp
    sample_rate: float = 12.5e6  # samples/s
    idle_time: float = 7e-6  # s
    adc_start_time: float = 3e-6  # s, from ramp start to first sample
    ramp_end_time: float = 24e-6  # s
    n_loops: int = 32  # chirp loops per frame (each loop fires every TX once)
    tx_order: tuple[int, ...] = (0, 2, 1)  # physical TX (0-based) per chirp slot
    n_rx: int = 4
    virtual_azimuth: tuple[float, ...] = ()  # [n_tx * n_rx] half-wavelength units
    virtual_elevation: tuple[float, ...] = ()  # [n_tx * n_rx]
    phase_rotation: tuple[float, ...] = ()  # [n_tx * n_rx], +1 / -1
    frame_rate: float = 10.0  # Hz
    complex_sampling: bool = True
    adc_bits: int = 16
    # Link budget for the radar equation (defaults: IWR6843 class, radar-physics.md 1.1 / 2.7).
    tx_power_dbm: float = 12.0
    tx_gain_dbi: float = 6.0
    rx_gain_dbi: float = 6.0
    noise_figure_db: float = 12.0
    system_loss_db: float = 3.0
    band: tuple[float, float] = (60e9, 64e9)  # Hz, the device's legal RF band

    def __post_init__(self) -> None:
        for key in ("tx_order", "virtual_azimuth", "virtual_elevation", "phase_rotation", "band"):
            value = getattr(self, key)
            if not isinstance(value, tuple):
                object.__setattr__(self, key, tuple(value))
        object.__setattr__(self, "tx_order", tuple(int(t) for t in self.tx_order))
        n_virtual = len(self.tx_order) * self.n_rx
        if not self.virtual_azimuth:
            az, el, rot = virtual_array("isk", self.tx_order, self.n_rx)
            object.__setattr__(self, "virtual_azimuth", az)
            object.__setattr__(self, "virtual_elevation", el)
            object.__setattr__(self, "phase_rotation", rot)
        if not self.virtual_elevation:
            object.__setattr__(self, "virtual_elevation", (0.0,) * n_virtual)
        if not self.phase_rotation:
            object.__setattr__(self, "phase_rotation", (1.0,) * n_virtual)
        self.validate()

    # ------------------------------------------------------------------ validation
    def validate(self) -> None:
        """Raise :class:`RadarConfigError` naming the field if the profile is inconsistent."""
        positive = ("start_frequency", "slope", "sample_rate", "ramp_end_time", "frame_rate")
        for key in positive:
            value = getattr(self, key)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise RadarConfigError(f"{key} must be a positive finite number, got {value!r}")
        for key in ("idle_time", "adc_start_time"):
            value = getattr(self, key)
            if not (math.isfinite(value) and value >= 0):
                raise RadarConfigError(f"{key} must be >= 0, got {value!r}")
        for key in ("n_samples", "n_loops", "n_rx"):
            value = getattr(self, key)
            if not (isinstance(value, (int, np.integer)) and value >= 1):
                raise RadarConfigError(f"{key} must be a positive integer, got {value!r}")
        if not self.tx_order:
            raise RadarConfigError("tx_order is empty: at least one TX must fire")
        n_virtual = self.n_virtual
        for key in ("virtual_azimuth", "virtual_elevation", "phase_rotation"):
            if len(getattr(self, key)) != n_virtual:
                raise RadarConfigError(
                    f"{key} has {len(getattr(self, key))} entries, expected n_tx*n_rx = {n_virtual}"
                )
        if any(abs(abs(r) - 1.0) > 1e-6 for r in self.phase_rotation):
            raise RadarConfigError(f"phase_rotation entries must be +1 or -1, got {self.phase_rotation}")
        sampling_end = self.adc_start_time + self.n_samples / self.sample_rate
        if sampling_end > self.ramp_end_time * (1 + 1e-9):
            raise RadarConfigError(
                f"ramp too short for the samples: ADC start {self.adc_start_time * 1e6:.2f} us + "
                f"{self.n_samples} samples / {self.sample_rate / 1e6:.3f} Msps = {sampling_end * 1e6:.2f} us "
                f"> ramp end time {self.ramp_end_time * 1e6:.2f} us"
            )
        ramp_top = self.start_frequency + self.slope * self.ramp_end_time
        lo, hi = self.band
        if self.start_frequency < lo - 1e6 or ramp_top > hi + 1e6:
            raise RadarConfigError(
                f"ramp {self.start_frequency / 1e9:.3f}-{ramp_top / 1e9:.3f} GHz leaves the device band "
                f"{lo / 1e9:.0f}-{hi / 1e9:.0f} GHz"
            )
        active = self.n_loops * self.n_tx * self.chirp_time
        if active > 1.0 / self.frame_rate * (1 + 1e-9):
            raise RadarConfigError(
                f"active frame time {active * 1e3:.2f} ms exceeds the frame period "
                f"{1e3 / self.frame_rate:.2f} ms (frame_rate {self.frame_rate} Hz)"
            )
        if self.adc_bits not in (12, 14, 16):
            raise RadarConfigError(f"adc_bits must be 12, 14 or 16, got {self.adc_bits}")

    # ------------------------------------------------------------------ derived metrics
    @property
    def n_tx(self) -> int:
        """Number of chirp slots (TX transmissions) per loop."""
        return len(self.tx_order)

    @property
    def n_virtual(self) -> int:
        """Number of virtual channels ``n_tx * n_rx``."""
        return self.n_tx * self.n_rx

    @property
    def n_chirps(self) -> int:
        """Chirps per frame, all TX included (``n_loops * n_tx``)."""
        return self.n_loops * self.n_tx

    @property
    def adc_duration(self) -> float:
        """Sampling window of one chirp, s."""
        return self.n_samples / self.sample_rate

    @property
    def bandwidth(self) -> float:
        """Sampled (useful) bandwidth, Hz: ``slope * n_samples / sample_rate``."""
        return self.slope * self.adc_duration

    @property
    def center_frequency(self) -> float:
        """Frequency at the centre of the sampled part of the ramp, Hz."""
        return self.start_frequency + self.slope * (self.adc_start_time + 0.5 * self.adc_duration)

    @property
    def wavelength(self) -> float:
        """Wavelength at :attr:`center_frequency`, m."""
        return SPEED_OF_LIGHT / self.center_frequency

    @property
    def chirp_time(self) -> float:
        """Chirp slot (idle + ramp end), s."""
        return self.idle_time + self.ramp_end_time

    @property
    def range_resolution(self) -> float:
        """``c / (2 B)``, m; also the spacing of un-padded range-FFT bins."""
        return SPEED_OF_LIGHT / (2.0 * self.bandwidth)

    @property
    def max_if_frequency(self) -> float:
        """Largest beat frequency the ADC represents, Hz (fs complex, fs/2 real)."""
        return self.sample_rate if self.complex_sampling else self.sample_rate / 2.0

    @property
    def max_range(self) -> float:
        """``f_IF,max * c / (2 slope)``, m (no IF-filter derating)."""
        return self.max_if_frequency * SPEED_OF_LIGHT / (2.0 * self.slope)

    @property
    def max_velocity(self) -> float:
        """Unambiguous radial speed ``lambda / (4 n_tx T_c)``, m/s (velocities lie in +-this)."""
        return self.wavelength / (4.0 * self.n_tx * self.chirp_time)

    @property
    def velocity_resolution(self) -> float:
        """``lambda / (2 n_loops n_tx T_c)``, m/s; the Doppler-bin spacing."""
        return self.wavelength / (2.0 * self.n_loops * self.n_tx * self.chirp_time)

    @property
    def n_azimuth_elements(self) -> int:
        """Distinct azimuth positions of the virtual array."""
        return len(set(np.round(self.virtual_azimuth, 6)))

    @property
    def azimuth_resolution(self) -> float:
        """Boresight azimuth resolution ``2 / N_az`` rad (lambda/2 spacing)."""
        return 2.0 / self.n_azimuth_elements

    @property
    def frame_period(self) -> float:
        """Seconds between frames."""
        return 1.0 / self.frame_rate

    @property
    def noise_power(self) -> float:
        """Thermal noise power per complex ADC sample referred to the input, W: ``k T0 F fs``."""
        return BOLTZMANN * T0_KELVIN * 10 ** (self.noise_figure_db / 10.0) * self.sample_rate

    def derived(self) -> dict[str, float]:
        """The derived metrics as a name -> value (SI) mapping."""
        return {
            "bandwidth_hz": self.bandwidth,
            "center_frequency_hz": self.center_frequency,
            "wavelength_m": self.wavelength,
            "range_resolution_m": self.range_resolution,
            "max_range_m": self.max_range,
            "chirp_time_s": self.chirp_time,
            "velocity_resolution_mps": self.velocity_resolution,
            "max_velocity_mps": self.max_velocity,
            "azimuth_resolution_rad": self.azimuth_resolution,
            "n_virtual": float(self.n_virtual),
            "frame_rate_hz": self.frame_rate,
        }

    # ------------------------------------------------------------------ (de)serialisation
    def to_dict(self) -> dict[str, Any]:
        """Plain-Python dict (lists instead of tuples), suitable for YAML/JSON/HDF5 attributes."""
        out = dataclasses.asdict(self)
        for key, value in out.items():
            if isinstance(value, tuple):
                out[key] = [float(v) if isinstance(v, float) else v for v in value]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "radar config") -> "RadarConfig":
        """Build from a dict; unknown keys raise :class:`RadarConfigError` naming them."""
        if not isinstance(data, dict):
            raise RadarConfigError(f"{source}: expected a mapping, got {type(data).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise RadarConfigError(f"{source}: unknown keys {unknown}; known keys: {sorted(known)}")
        kwargs = dict(data)
        for key in ("tx_order", "virtual_azimuth", "virtual_elevation", "phase_rotation", "band"):
            if key in kwargs:
                kwargs[key] = tuple(kwargs[key])
        try:
            return cls(**kwargs)
        except TypeError as exc:  # wrong value types
            raise RadarConfigError(f"{source}: {exc}") from exc

    def save_yaml(self, path: str | os.PathLike[str]) -> None:
        """Write as YAML, atomically (temp file in the same folder, then rename)."""
        atomic_write_text(path, yaml.safe_dump(self.to_dict(), sort_keys=False))

    @classmethod
    def load_yaml(cls, path: str | os.PathLike[str]) -> "RadarConfig":
        """Read a YAML file written by :meth:`save_yaml` (or by hand)."""
        try:
            data = yaml.safe_load(Path(path).read_text())
        except yaml.YAMLError as exc:
            raise RadarConfigError(f"{path}: not valid YAML: {exc}") from exc
        return cls.from_dict(data, source=str(path))

    @classmethod
    def preset(cls, name: str) -> "RadarConfig":
        """A named preset (see :data:`PRESETS`)."""
        key = name.lower().replace("-", "_")
        if key not in PRESETS:
            raise RadarConfigError(f"unknown radar preset {name!r}; known: {sorted(PRESETS)}")
        return PRESETS[key]()

    @classmethod
    def from_ti_cfg(cls, path: str | os.PathLike[str], **overrides: Any) -> "RadarConfig":
        """Parse a TI mmWave SDK ``.cfg`` file (see :func:`mmsight.radar.ti_cfg.parse_ti_cfg`)."""
        from mmsight.radar.ti_cfg import parse_ti_cfg

        return parse_ti_cfg(path, **overrides)

    def replace(self, **changes: Any) -> "RadarConfig":
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


def _with_array(geometry: str, **kwargs: Any) -> RadarConfig:
    tx_order = tuple(kwargs.pop("tx_order"))
    n_rx = int(kwargs.pop("n_rx", 4))
    az, el, rot = virtual_array(geometry, tx_order, n_rx)
    return RadarConfig(
        tx_order=tx_order, n_rx=n_rx, virtual_azimuth=az, virtual_elevation=el, phase_rotation=rot, **kwargs
    )


def _iwr6843isk() -> RadarConfig:
    # TI SDK out-of-box profile_3d (radar-physics.md 1.3): profileCfg 0 60 7 3 24 0 0 166 1 256 12500,
    # chirps TX1 -> TX3 -> TX2, 32 loops, 100 ms.
    return _with_array(
        "isk", name="iwr6843isk", start_frequency=60e9, slope=166e12, n_samples=256, sample_rate=12.5e6,
        idle_time=7e-6, adc_start_time=3e-6, ramp_end_time=24e-6, n_loops=32, tx_order=(0, 2, 1),
        frame_rate=10.0, band=(60e9, 64e9), noise_figure_db=12.0,
    )


def _iwr6843aop() -> RadarConfig:
    # TI 3D people counting AOP_6m_default.cfg profile (radar-physics.md 1.2/1.3):
    # 60.75 GHz, 54.71 MHz/us, 96 samples @ 2.95 Msps, idle 30 us, ADC start 25 us, ramp end 59.1 us,
    # TX1, TX2, TX3 x 96 loops, 55 ms frames.
    return _with_array(
        "aop", name="iwr6843aop", start_frequency=60.75e9, slope=54.71e12, n_samples=96, sample_rate=2.95e6,
        idle_time=30e-6, adc_start_time=25e-6, ramp_end_time=59.1e-6, n_loops=96, tx_order=(0, 1, 2),
        frame_rate=1.0 / 0.055, band=(60e9, 64e9), noise_figure_db=12.0, tx_gain_dbi=5.2, rx_gain_dbi=5.2,
    )


def _awr1843boost() -> RadarConfig:
    # xWR18xx out-of-box profile: profileCfg 0 77 7 3 39 0 0 100 1 256 7200; TX1 and TX3 (2D, an
    # 8-element azimuth ULA), 32 loops, 100 ms.
    return _with_array(
        "isk", name="awr1843boost", start_frequency=77e9, slope=100e12, n_samples=256, sample_rate=7.2e6,
        idle_time=7e-6, adc_start_time=3e-6, ramp_end_time=39e-6, n_loops=32, tx_order=(0, 2),
        frame_rate=10.0, band=(76e9, 81e9), noise_figure_db=15.0,
    )


def _iwr1443boost() -> RadarConfig:
    # The classic xWR14xx visualizer profile (profileCfg 0 77 429 7 57.14 0 0 70 1 256 5209, 16 loops,
    # 100 ms) with all three TX (TX1 -> TX3 -> TX2) so that elevation is measured, as the MARS point
    # clouds (IWR1443, with z) require. MARS's own chirp configuration is not published.
    return _with_array(
        "isk", name="iwr1443boost", start_frequency=77e9, slope=70e12, n_samples=256, sample_rate=5.209e6,
        idle_time=429e-6, adc_start_time=7e-6, ramp_end_time=57.14e-6, n_loops=16, tx_order=(0, 2, 1),
        frame_rate=10.0, band=(76e9, 81e9), noise_figure_db=15.0,
    )


def _mission() -> RadarConfig:
    # The Mission paper's IWR6843 profile as corrected in radar-physics.md 1.4: "12.5" is the ADC rate,
    # the slope is 156 MHz/us (TI profile_iwr6843_ods_3d.cfg timing), start 60.065 GHz, 32 loops x 3 TX,
    # 10 fps. Antenna layout: ISK-type (the paper names only the chip).
    return _with_array(
        "isk", name="mission", start_frequency=60.065e9, slope=156e12, n_samples=256, sample_rate=12.5e6,
        idle_time=7e-6, adc_start_time=3e-6, ramp_end_time=24e-6, n_loops=32, tx_order=(0, 2, 1),
        frame_rate=10.0, band=(60e9, 64e9), noise_figure_db=12.0,
    )


def _openradar_sample() -> RadarConfig:
    # The OpenRadar tutorial captures (shared/data/openradar_samples/README.md): 77.4201 GHz,
    # 60 MHz/us, 128 samples @ 2.5 Msps, idle 30 us, ramp end 62 us, 2 TX x 4 RX, 128 loops.
    # The board is not documented; an xWR1843-type layout (TX1, TX3) is assumed. ADC start time is
    # not given; 6 us (TI's default) keeps the ramp long enough (6 + 51.2 < 62 us).
    return _with_array(
        "isk", name="openradar_sample", start_frequency=77.4201e9, slope=60e12, n_samples=128,
        sample_rate=2.5e6, idle_time=30e-6, adc_start_time=6e-6, ramp_end_time=62e-6, n_loops=128,
        tx_order=(0, 2), frame_rate=10.0, band=(76e9, 81.2e9), noise_figure_db=15.0,
    )  # the stated ramp ends at 81.14 GHz, just past 81 GHz: the band check is widened for this capture


PRESETS = {
    "iwr6843isk": _iwr6843isk,
    "iwr6843aop": _iwr6843aop,
    "awr1843boost": _awr1843boost,
    "iwr1443boost": _iwr1443boost,
    "mission": _mission,
    "openradar_sample": _openradar_sample,
}
"""Named presets: board + chirp profile. Each entry's comment gives its source."""
