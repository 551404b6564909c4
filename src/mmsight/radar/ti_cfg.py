"""Parse TI mmWave SDK ``.cfg`` files (the CLI commands sent to the out-of-box demo) into a
:class:`~mmsight.radar.config.RadarConfig`.

Commands read (argument order per the TI mmWave SDK user guide):

* ``channelCfg <rxMask> <txMask> <cascading>``
* ``adcCfg <numADCBits 0:12,1:14,2:16> <adcOutputFmt 0:real,1:complex1x,2:complex2x>``
* ``profileCfg <id> <startFreq GHz> <idle us> <adcStart us> <rampEnd us> <txPower> <txPhase>
  <slope MHz/us> <txStart us> <numAdcSamples> <sampleRate ksps> <hpf1> <hpf2> <rxGain>``
* ``chirpCfg <startIdx> <endIdx> <profileId> <fVar> <slopeVar> <idleVar> <adcStartVar> <txMask>``
* ``frameCfg <chirpStart> <chirpEnd> <numLoops> <numFrames> <period ms> <trigger> <delay>``
* optional ``antGeometry0`` / ``antGeometry1`` / ``antPhaseRot`` (people-counting demos).

Every other command is accepted and ignored (they configure processing, not the waveform).
Inconsistent files raise :class:`RadarConfigError` naming the file, line and the rule broken.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from mmsight.radar.config import RadarConfig, RadarConfigError, virtual_array

_BITS = {0: 12, 1: 14, 2: 16}
_REQUIRED = ("channelCfg", "profileCfg", "chirpCfg", "frameCfg")


def _numbers(cmd: str, args: list[str], n_min: int, where: str) -> list[float]:
    if len(args) < n_min:
        raise RadarConfigError(f"{where}: {cmd} needs at least {n_min} arguments, got {len(args)}")
    try:
        return [float(a) for a in args]
    except ValueError as exc:
        raise RadarConfigError(f"{where}: {cmd} has a non-numeric argument ({exc})") from exc


def _mask_bits(mask: int) -> list[int]:
    return [bit for bit in range(8) if mask >> bit & 1]


def parse_ti_cfg(path: str | os.PathLike[str], *, geometry: str | None = None, **overrides: Any) -> RadarConfig:
    """Read a TI ``.cfg`` file.

    Args:
        path: the file.
        geometry: antenna layout used when the file has no ``antGeometry`` lines: ``"isk"`` (default,
            IWR6843ISK / xWR18xx / xWR14xx BOOST) or ``"aop"``.
        overrides: RadarConfig fields that the cfg does not carry (``name``, ``tx_power_dbm``, ``band`` ...).

    Returns:
        The validated configuration. Only single-profile, single-subframe (non-advanced) frames are
        supported; other files raise :class:`RadarConfigError`.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except UnicodeDecodeError as exc:
        raise RadarConfigError(f"{path}: not a text file ({exc})") from exc
    profiles: dict[int, list[float]] = {}
    chirps: list[tuple[int, int, int, int]] = []  # start, end, profile, txMask
    seen: dict[str, tuple[int, list[float]]] = {}
    ant_geometry: dict[str, list[float]] = {}
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("%", 1)[0].strip()
        if not line:
            continue
        cmd, *args = line.split()
        where = f"{path}:{lineno}"
        if cmd == "profileCfg":
            values = _numbers(cmd, args, 11, where)
            profiles[int(values[0])] = values
            seen[cmd] = (lineno, values)
        elif cmd == "chirpCfg":
            values = _numbers(cmd, args, 8, where)
            chirps.append((int(values[0]), int(values[1]), int(values[2]), int(values[7])))
            seen[cmd] = (lineno, values)
        elif cmd in ("channelCfg", "adcCfg", "frameCfg"):
            seen[cmd] = (lineno, _numbers(cmd, args, {"channelCfg": 2, "adcCfg": 2, "frameCfg": 5}[cmd], where))
        elif cmd == "advFrameCfg" or cmd == "subFrameCfg":
            raise RadarConfigError(f"{where}: advanced frame configuration ({cmd}) is not supported")
        elif cmd in ("antGeometry0", "antGeometry1", "antPhaseRot"):
            ant_geometry[cmd] = _numbers(cmd, args, 1, where)
    missing = [c for c in _REQUIRED if c not in seen]
    if missing:
        raise RadarConfigError(f"{path}: missing required command(s) {missing}")

    ch_line, channel = seen["channelCfg"]
    rx_mask, tx_mask = int(channel[0]), int(channel[1])
    rx_enabled = _mask_bits(rx_mask)
    if not rx_enabled:
        raise RadarConfigError(f"{path}:{ch_line}: channelCfg enables no receiver (rxMask={rx_mask})")
    if rx_enabled != list(range(len(rx_enabled))):
        raise RadarConfigError(
            f"{path}:{ch_line}: only contiguous receivers starting at RX1 are supported (rxMask={rx_mask})"
        )

    fr_line, frame = seen["frameCfg"]
    chirp_start, chirp_end, n_loops, period_ms = int(frame[0]), int(frame[1]), int(frame[2]), frame[4]
    if chirp_end < chirp_start:
        raise RadarConfigError(f"{path}:{fr_line}: frameCfg chirp end {chirp_end} < start {chirp_start}")
    if n_loops < 1 or period_ms <= 0:
        raise RadarConfigError(f"{path}:{fr_line}: frameCfg needs numLoops >= 1 and a positive period")

    tx_order: list[int] = []
    profile_ids: set[int] = set()
    for idx in range(chirp_start, chirp_end + 1):
        match = [c for c in chirps if c[0] <= idx <= c[1]]
        if not match:
            raise RadarConfigError(f"{path}:{fr_line}: frameCfg uses chirp {idx} but no chirpCfg defines it")
        _, _, profile_id, mask = match[-1]
        bits = _mask_bits(mask)
        if len(bits) != 1:
            raise RadarConfigError(
                f"{path}: chirp {idx} enables TX mask {mask}; TDM-MIMO needs exactly one TX per chirp "
                "(BPM/beamforming is not supported)"
            )
        if not tx_mask >> bits[0] & 1:
            raise RadarConfigError(
                f"{path}:{ch_line}: chirp {idx} fires TX{bits[0] + 1} but channelCfg txMask={tx_mask} disables it"
            )
        tx_order.append(bits[0])
        profile_ids.add(profile_id)
    if len(profile_ids) != 1:
        raise RadarConfigError(f"{path}: the frame mixes profiles {sorted(profile_ids)}; one profile is supported")
    profile_id = profile_ids.pop()
    if profile_id not in profiles:
        raise RadarConfigError(f"{path}: chirps use profile {profile_id} but no profileCfg defines it")
    prof = profiles[profile_id]
    start_ghz, idle_us, adc_start_us, ramp_end_us = prof[1], prof[2], prof[3], prof[4]
    slope_mhz_us, n_samples, rate_ksps = prof[7], int(prof[9]), prof[10]

    complex_sampling, adc_bits = True, 16
    if "adcCfg" in seen:
        adc_line, adc = seen["adcCfg"]
        if int(adc[0]) not in _BITS or int(adc[1]) not in (0, 1, 2):
            raise RadarConfigError(f"{path}:{adc_line}: adcCfg values {adc[:2]} out of range")
        adc_bits = _BITS[int(adc[0])]
        complex_sampling = int(adc[1]) != 0

    n_rx = len(rx_enabled)
    n_virtual = len(tx_order) * n_rx
    if ant_geometry:
        if {"antGeometry0", "antGeometry1"} - set(ant_geometry):
            raise RadarConfigError(f"{path}: antGeometry0 and antGeometry1 must be given together")
        az = tuple(-v for v in ant_geometry["antGeometry0"])
        el_raw = ant_geometry["antGeometry1"]
        el = tuple(v - min(el_raw) for v in el_raw)
        rot = tuple(ant_geometry.get("antPhaseRot", [1.0] * len(az)))
        for name, values in (("antGeometry0", az), ("antGeometry1", el), ("antPhaseRot", rot)):
            if len(values) != n_virtual:
                raise RadarConfigError(
                    f"{path}: {name} has {len(values)} entries but the frame has {n_virtual} virtual channels"
                )
    else:
        az, el, rot = virtual_array(geometry or "isk", tuple(tx_order), n_rx)

    band = (76e9, 81e9) if start_ghz >= 70 else (60e9, 64e9)
    kwargs: dict[str, Any] = dict(
        name=path.stem,
        start_frequency=start_ghz * 1e9,
        slope=slope_mhz_us * 1e12,
        n_samples=n_samples,
        sample_rate=rate_ksps * 1e3,
        idle_time=idle_us * 1e-6,
        adc_start_time=adc_start_us * 1e-6,
        ramp_end_time=ramp_end_us * 1e-6,
        n_loops=n_loops,
        tx_order=tuple(tx_order),
        n_rx=n_rx,
        virtual_azimuth=az,
        virtual_elevation=el,
        phase_rotation=rot,
        frame_rate=1000.0 / period_ms,
        complex_sampling=complex_sampling,
        adc_bits=adc_bits,
        band=band,
        noise_figure_db=15.0 if start_ghz >= 70 else 12.0,
    )
    kwargs.update(overrides)
    try:
        return RadarConfig(**kwargs)
    except RadarConfigError as exc:
        raise RadarConfigError(f"{path} (profileCfg line {seen['profileCfg'][0]}): {exc}") from exc
