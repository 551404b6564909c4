"""TI mmWave SDK 3.x UART output (out-of-box demo): frame packets of TLV items.

A packet, all fields little-endian::

    magic word      8 bytes   02 01 04 03 06 05 08 07 (uint16 0x0102 0x0304 0x0506 0x0708)
    version         uint32    SDK version, major << 24 | minor << 16 | bugfix << 8 | build
    totalPacketLen  uint32    bytes in the packet, header and padding included
    platform        uint32    device, e.g. 0xA6843
    frameNumber     uint32
    timeCpuCycles   uint32
    numDetectedObj  uint32
    numTLVs         uint32
    subFrameNumber  uint32    (header: 40 bytes with the magic word)
    numTLVs x [type uint32, length uint32 (payload bytes, TLV header excluded), payload]
    padding up to totalPacketLen (a multiple of 32 bytes)

TLV types decoded here (SDK 3.x out-of-box demo; see ``docs/formats.md`` for the sources):

==== ============================ ==========================================================
type name                         payload
==== ============================ ==========================================================
1    detected points              numDetectedObj x float32 (x, y, z, velocity): m, m/s
2    range profile                uint16 per range bin (log2 magnitude, fixed point)
3    noise profile                uint16 per range bin (same format as the range profile)
4    azimuth static heatmap       int16 pairs (imag, real) per (range bin, virtual antenna)
5    range-Doppler heatmap        uint16 per (range bin, Doppler bin)
6    stats                        6 x uint32 timing and CPU-load figures
7    detected points side info    numDetectedObj x int16 (snr, noise), in 0.1 dB steps
==== ============================ ==========================================================

Every TLV is also kept as raw bytes in :attr:`TLVFrame.tlvs` (unknown types only there).

Robustness: the parser searches for the magic word; bytes outside packets are skipped and
reported (:class:`SkippedBytes`). A packet that is truncated or inconsistent (packet length
shorter than its header or past the end of the input, a TLV running past its packet, a points
TLV whose length does not match ``numDetectedObj`` ...) is rejected and the parser resyncs on the
next magic word after its start, reporting the rejected bytes; with ``strict=True`` any of these
raises :class:`RadarFormatError` naming the byte offset instead. Lengths are checked against
the input before anything is allocated, so a corrupt header cannot make the parser allocate
more than the input holds.
"""

from __future__ import annotations

import mmap
import os
import struct
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np

from .errors import RadarFormatError, RadarFormatWarning

__all__ = [
    "MAGIC_WORD",
    "HEADER_BYTES",
    "TLVType",
    "TLVFrame",
    "SkippedBytes",
    "TLVReader",
    "parse_tlv_stream",
    "read_tlv_file",
    "write_tlv_frame",
    "stack_point_clouds",
]

MAGIC_WORD = b"\x02\x01\x04\x03\x06\x05\x08\x07"
_HEADER = struct.Struct("<8s8I")
_TLV_HEADER = struct.Struct("<2I")
HEADER_BYTES = _HEADER.size  # 40
_TLV_HEADER_BYTES = _TLV_HEADER.size  # 8
_PACKET_ALIGN = 32
_UINT32_MAX = 2**32 - 1

#: SDK 3.5.0.4, the version field written by default.
DEFAULT_VERSION = 0x03050004
#: IWR6843, the platform field written by default.
DEFAULT_PLATFORM = 0xA6843

_STATS_FIELDS = (
    "inter_frame_processing_time",
    "transmit_output_time",
    "inter_frame_processing_margin",
    "inter_chirp_processing_margin",
    "active_frame_cpu_load",
    "inter_frame_cpu_load",
)


class TLVType(IntEnum):
    """TLV types of the SDK 3.x out-of-box demo."""

    DETECTED_POINTS = 1
    RANGE_PROFILE = 2
    NOISE_PROFILE = 3
    AZIMUTH_STATIC_HEATMAP = 4
    RANGE_DOPPLER_HEATMAP = 5
    STATS = 6
    DETECTED_POINTS_SIDE_INFO = 7
    AZIMUTH_ELEVATION_STATIC_HEATMAP = 8
    TEMPERATURE_STATS = 9


@dataclass(frozen=True)
class SkippedBytes:
    """Bytes of the input that are not part of any returned frame.

    Attributes:
        offset: byte offset where the skipped bytes start.
        length: number of bytes skipped.
        reason: why (garbage outside packets, or the packet there was rejected and why).
    """

    offset: int
    length: int
    reason: str

    def __str__(self) -> str:
        return f"skipped {self.length} bytes at byte offset {self.offset}: {self.reason}"


@dataclass
class TLVFrame:
    """One packet of the UART stream.

    Attributes:
        frame_number: the header's frame number.
        points: ``float32 [N, 5]`` -- x, y, z (m, radar frame), doppler (radial velocity, m/s),
            snr (dB; NaN when the packet has no side-info TLV). ``N = 0`` without a points TLV.
        tlvs: every TLV payload as raw bytes, by type, in packet order.
        offset: byte offset of the packet's magic word in the input.
        version, platform, time_cpu_cycles, num_detected_obj, subframe_number, packet_length:
            the other header fields.
    """

    frame_number: int
    points: np.ndarray
    tlvs: dict[int, bytes] = field(default_factory=dict)
    offset: int = 0
    version: int = DEFAULT_VERSION
    platform: int = DEFAULT_PLATFORM
    time_cpu_cycles: int = 0
    num_detected_obj: int = 0
    subframe_number: int = 0
    packet_length: int = 0

    # -- decoded TLVs -----------------------------------------------------------------------

    @property
    def noise_db(self) -> np.ndarray:
        """``float32 [N]`` CFAR noise level of each point (dB); NaN without side info."""
        raw = self.tlvs.get(TLVType.DETECTED_POINTS_SIDE_INFO)
        n = self.points.shape[0]
        if raw is None or len(raw) != 4 * n:
            return np.full(n, np.nan, dtype=np.float32)
        side = np.frombuffer(raw, dtype="<i2").reshape(-1, 2)
        return _from_deci_db(side[:, 1])

    def _uint16(self, tlv_type: int) -> np.ndarray | None:
        raw = self.tlvs.get(tlv_type)
        return None if raw is None else np.frombuffer(raw, dtype="<u2").copy()

    @property
    def range_profile(self) -> np.ndarray | None:
        """``uint16 [n_range]`` range profile at zero Doppler, fixed-point log2 magnitude as
        sent by the device (Q9 on xWR14xx/68xx demos, check the SDK docs of the device), or
        ``None``."""
        return self._uint16(TLVType.RANGE_PROFILE)

    @property
    def noise_profile(self) -> np.ndarray | None:
        """``uint16 [n_range]`` noise profile (same format as :attr:`range_profile`), or None."""
        return self._uint16(TLVType.NOISE_PROFILE)

    def range_doppler_heatmap(self, n_doppler: int | None = None) -> np.ndarray | None:
        """Range-Doppler heatmap, ``uint16 [n_range * n_doppler]``, or ``[n_range, n_doppler]``
        (range-major) if ``n_doppler`` is given; ``None`` if the packet has none."""
        flat = self._uint16(TLVType.RANGE_DOPPLER_HEATMAP)
        if flat is None or n_doppler is None:
            return flat
        if n_doppler < 1 or flat.size % n_doppler:
            raise ValueError(f"{flat.size} heatmap values do not split into n_doppler={n_doppler}")
        return flat.reshape(-1, n_doppler)

    def azimuth_static_heatmap(self, n_virtual: int | None = None) -> np.ndarray | None:
        """Zero-Doppler azimuth heatmap, ``complex64 [n_range * n_virtual]`` (virtual antenna
        fastest), or ``[n_range, n_virtual]`` if ``n_virtual`` is given; ``None`` if absent.
        The device sends each value as int16 imaginary part, then int16 real part."""
        raw = self.tlvs.get(TLVType.AZIMUTH_STATIC_HEATMAP)
        if raw is None:
            return None
        pairs = np.frombuffer(raw, dtype="<i2").reshape(-1, 2)
        out = np.empty(pairs.shape[0], dtype=np.complex64)
        out.real = pairs[:, 1]
        out.imag = pairs[:, 0]
        if n_virtual is None:
            return out
        if n_virtual < 1 or out.size % n_virtual:
            raise ValueError(f"{out.size} heatmap values do not split into n_virtual={n_virtual}")
        return out.reshape(-1, n_virtual)

    @property
    def stats(self) -> dict[str, int] | None:
        """Stats TLV as a dict (times in CPU cycles / microseconds and loads in percent as the
        SDK defines them), or ``None``."""
        raw = self.tlvs.get(TLVType.STATS)
        if raw is None or len(raw) != 24:
            return None
        return dict(zip(_STATS_FIELDS, struct.unpack("<6I", raw), strict=True))

    def to_bytes(self) -> bytes:
        """Re-encode the packet from its header fields and raw TLVs (zero padding)."""
        return write_tlv_frame(
            self.frame_number,
            tlvs=self.tlvs,
            num_detected_obj=self.num_detected_obj,
            version=self.version,
            platform=self.platform,
            time_cpu_cycles=self.time_cpu_cycles,
            subframe_number=self.subframe_number,
        )


# -- parsing ---------------------------------------------------------------------------------

_Buffer = bytes | mmap.mmap


class _Rejected(Exception):
    """Internal: a packet that does not hold together (never escapes this module)."""

    def __init__(self, offset: int, reason: str) -> None:
        super().__init__(reason)
        self.offset = offset
        self.reason = reason


def _check_length(tlv_type: int, length: int, num_obj: int, at: int) -> None:
    """Reject a TLV of a decoded type whose length its type cannot have (``at``: length field)."""
    if tlv_type in (TLVType.DETECTED_POINTS, TLVType.DETECTED_POINTS_SIDE_INFO):
        per = 16 if tlv_type == TLVType.DETECTED_POINTS else 4
        if length != per * num_obj:
            raise _Rejected(
                at,
                f"TLV type {tlv_type} holds {length} bytes but the header's numDetectedObj="
                f"{num_obj} needs {per} bytes per point ({per * num_obj} bytes)",
            )
    elif tlv_type in (TLVType.RANGE_PROFILE, TLVType.NOISE_PROFILE,
                      TLVType.RANGE_DOPPLER_HEATMAP):
        if length % 2:
            raise _Rejected(at, f"TLV type {tlv_type} length {length} is not a whole number "
                                "of uint16 values")
    elif tlv_type == TLVType.AZIMUTH_STATIC_HEATMAP:
        if length % 4:
            raise _Rejected(at, f"TLV type {tlv_type} length {length} is not a whole number "
                                "of complex int16 values")
    elif tlv_type == TLVType.STATS and length != 24:
        raise _Rejected(at, f"stats TLV length {length} != 24 bytes")


def _parse_packet(buf: _Buffer, start: int, n: int) -> TLVFrame:
    """Parse the packet whose magic word is at ``start``; raise :class:`_Rejected` if it does
    not hold together. Never allocates more than the packet's bytes."""
    if n - start < HEADER_BYTES:
        raise _Rejected(start, f"truncated frame header: {n - start} of {HEADER_BYTES} bytes "
                               "before the end of the input")
    (_, version, total_len, platform, frame_number, time_cpu, num_obj, num_tlvs,
     subframe) = _HEADER.unpack_from(buf, start)
    if total_len < HEADER_BYTES:
        raise _Rejected(start + 12, f"packet length {total_len} is shorter than the "
                                    f"{HEADER_BYTES}-byte frame header")
    if total_len > n - start:
        raise _Rejected(start + 12, f"packet length {total_len} runs past the end of the input "
                                    f"({n - start} bytes left): truncated packet")
    if num_tlvs * _TLV_HEADER_BYTES > total_len - HEADER_BYTES:
        raise _Rejected(start + 32, f"numTLVs={num_tlvs} TLV headers cannot fit in a packet of "
                                    f"{total_len} bytes")
    end = start + total_len
    pos = start + HEADER_BYTES
    tlvs: dict[int, bytes] = {}
    for _ in range(num_tlvs):
        if end - pos < _TLV_HEADER_BYTES:
            raise _Rejected(pos, "TLV header runs past the end of the packet")
        tlv_type, length = _TLV_HEADER.unpack_from(buf, pos)
        if length > end - pos - _TLV_HEADER_BYTES:
            raise _Rejected(pos + 4, f"TLV type {tlv_type} length {length} runs past the end of "
                                     f"the packet (which ends at byte offset {end})")
        if tlv_type in tlvs:
            raise _Rejected(pos, f"TLV type {tlv_type} appears twice in one packet")
        _check_length(tlv_type, length, num_obj, pos + 4)
        tlvs[tlv_type] = bytes(buf[pos + _TLV_HEADER_BYTES : pos + _TLV_HEADER_BYTES + length])
        pos += _TLV_HEADER_BYTES + length

    raw_points = tlvs.get(TLVType.DETECTED_POINTS)
    if raw_points:
        xyzv = np.frombuffer(raw_points, dtype="<f4").reshape(-1, 4)
        points = np.empty((xyzv.shape[0], 5), dtype=np.float32)
        points[:, :4] = xyzv
        side = tlvs.get(TLVType.DETECTED_POINTS_SIDE_INFO)
        if side is not None:
            points[:, 4] = _from_deci_db(np.frombuffer(side, dtype="<i2").reshape(-1, 2)[:, 0])
        else:
            points[:, 4] = np.nan
    else:
        points = np.zeros((0, 5), dtype=np.float32)
    return TLVFrame(
        frame_number=frame_number, points=points, tlvs=tlvs, offset=start, version=version,
        platform=platform, time_cpu_cycles=time_cpu, num_detected_obj=num_obj,
        subframe_number=subframe, packet_length=total_len,
    )


def _iter_buffer(buf: _Buffer, n: int, *, strict: bool, path: str | None,
                 report: Callable[[SkippedBytes], None]) -> Iterator[TLVFrame]:
    pos = 0  # first byte not yet accounted for
    search_from = 0
    rejected: str | None = None  # why the bytes starting at pos are being skipped
    while pos < n:
        idx = buf.find(MAGIC_WORD, search_from)
        if idx < 0:
            idx = n
        if idx > pos:
            reason = rejected or (
                "bytes before the first magic word" if pos == 0 else
                "bytes between packets" if idx < n else "bytes after the last packet")
            if strict:
                raise RadarFormatError(f"{idx - pos} {reason}", offset=pos, path=path)
            report(SkippedBytes(pos, idx - pos, reason))
        if idx >= n:
            return
        try:
            frame = _parse_packet(buf, idx, n)
        except _Rejected as bad:
            if strict:
                raise RadarFormatError(f"packet starting at byte offset {idx}: {bad.reason}",
                                       offset=bad.offset, path=path) from None
            rejected = (f"packet rejected ({bad.reason}, at byte offset {bad.offset}); "
                        "resynced on the next magic word")
            pos, search_from = idx, idx + 1
            continue
        rejected = None
        yield frame
        pos = search_from = idx + frame.packet_length


def _warn_skip(path: str | None) -> Callable[[SkippedBytes], None]:
    def report(skip: SkippedBytes) -> None:
        where = f"{path}: " if path else ""
        warnings.warn(RadarFormatWarning(where + str(skip)), stacklevel=4)

    return report


def parse_tlv_stream(
    data: bytes | bytearray | memoryview | str | os.PathLike[str],
    *,
    strict: bool = False,
    skipped: list[SkippedBytes] | None = None,
) -> Iterator[TLVFrame]:
    """Parse a TI mmWave SDK 3.x UART stream into frames, lazily.

    Args:
        data: the stream itself (bytes-like) or the path of a file holding it (``str`` or
            path-like); a file is memory-mapped, not read whole.
        strict: raise :class:`RadarFormatError` (naming the byte offset) at the first byte
            that is not part of a valid packet, instead of skipping it.
        skipped: if given, a list that receives one :class:`SkippedBytes` per skipped region;
            if ``None``, each skipped region is reported as a :class:`RadarFormatWarning`.

    Yields:
        :class:`TLVFrame`, in stream order.
    """
    if isinstance(data, (bytes, bytearray, memoryview)):
        buf = bytes(data)
        report = skipped.append if skipped is not None else _warn_skip(None)
        yield from _iter_buffer(buf, len(buf), strict=strict, path=None, report=report)
        return
    path = os.fspath(data)
    report = skipped.append if skipped is not None else _warn_skip(path)
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size == 0:
            return
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            yield from _iter_buffer(mm, len(mm), strict=strict, path=path, report=report)


class TLVReader:
    """Frame-by-frame reader of a UART capture file.

    Iterating yields :class:`TLVFrame`; afterwards :attr:`skipped` lists the regions that were
    skipped, and one :class:`RadarFormatWarning` summarises them if there were any.
    """

    def __init__(self, path: str | os.PathLike[str], *, strict: bool = False) -> None:
        self.path = os.fspath(path)
        self.strict = strict
        self.skipped: list[SkippedBytes] = []

    def __iter__(self) -> Iterator[TLVFrame]:
        self.skipped = []
        yield from parse_tlv_stream(self.path, strict=self.strict, skipped=self.skipped)
        if self.skipped:
            total = sum(s.length for s in self.skipped)
            first = self.skipped[0]
            warnings.warn(RadarFormatWarning(
                f"{self.path}: skipped {total} bytes in {len(self.skipped)} region(s), the first "
                f"at byte offset {first.offset} ({first.reason}); see TLVReader.skipped"),
                stacklevel=2)

    def read_all(self) -> list[TLVFrame]:
        """All frames of the file as a list."""
        return list(self)

    def point_cloud(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All points, flat: see :func:`stack_point_clouds`."""
        return stack_point_clouds(self)


def read_tlv_file(path: str | os.PathLike[str], *,
                  strict: bool = False) -> tuple[list[TLVFrame], list[SkippedBytes]]:
    """Read a whole UART capture file: ``(frames, skipped regions)``; no warnings are issued,
    the caller gets the skipped regions instead."""
    skipped: list[SkippedBytes] = []
    frames = list(parse_tlv_stream(path, strict=strict, skipped=skipped))
    return frames, skipped


def stack_point_clouds(frames: Iterable[TLVFrame]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flatten the point clouds of frames (the record layout of ARCHITECTURE.md).

    Returns:
        ``points float32 [P, 5]`` (x, y, z, doppler, snr), ``frame_offsets int64 [F + 1]``
        (points of frame i are ``points[frame_offsets[i]:frame_offsets[i + 1]]``) and
        ``frame_numbers int64 [F]``.
    """
    clouds, numbers = [], []
    for frame in frames:
        clouds.append(frame.points)
        numbers.append(frame.frame_number)
    counts = np.array([c.shape[0] for c in clouds], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    points = np.concatenate(clouds).astype(np.float32) if clouds else np.zeros((0, 5), np.float32)
    return points, offsets, np.asarray(numbers, dtype=np.int64)


# -- writing ---------------------------------------------------------------------------------


def _u32(name: str, value: int) -> int:
    value = int(value)
    if not 0 <= value <= _UINT32_MAX:
        raise ValueError(f"{name}={value} does not fit in a uint32 header field")
    return value


def write_tlv_frame(
    frame_number: int,
    points: np.ndarray | None = None,
    *,
    noise_db: np.ndarray | None = None,
    tlvs: Mapping[int, bytes] | None = None,
    num_detected_obj: int | None = None,
    version: int = DEFAULT_VERSION,
    platform: int = DEFAULT_PLATFORM,
    time_cpu_cycles: int = 0,
    subframe_number: int = 0,
) -> bytes:
    """Encode one UART packet (frame header, TLVs, zero padding to a multiple of 32 bytes).

    Args:
        frame_number: header frame number.
        points: ``[N, 4]`` (x, y, z, doppler) or ``[N, 5]`` (... , snr dB) -> a points TLV
            (type 1) and, when the snr column is present and not all NaN, a side-info TLV
            (type 7; snr and noise rounded to 0.1 dB).
        noise_db: ``[N]`` noise level (dB) for the side-info TLV; 0 if not given.
        tlvs: further TLVs, type -> raw payload, written in the mapping's order after the ones
            made from ``points``. Types 1 and 7 may be given here instead of ``points``.
        num_detected_obj: header field; defaults to N (or to the size of a raw type-1 TLV).
        version, platform, time_cpu_cycles, subframe_number: header fields.

    Returns:
        The packet bytes; :func:`parse_tlv_stream` reads them back to the same values.
    """
    items: list[tuple[int, bytes]] = []
    extra = {int(k): bytes(v) for k, v in (tlvs or {}).items()}
    if points is not None:
        if TLVType.DETECTED_POINTS in extra or TLVType.DETECTED_POINTS_SIDE_INFO in extra:
            raise ValueError("give the points either as `points` or as raw TLVs 1/7, not both")
        pts = np.asarray(points, dtype=np.float32)
        if pts.ndim != 2 or pts.shape[1] not in (4, 5):
            raise ValueError(f"points must be [N, 4] or [N, 5], got {pts.shape}")
        n = pts.shape[0]
        items.append((TLVType.DETECTED_POINTS, pts[:, :4].astype("<f4").tobytes()))
        snr = pts[:, 4] if pts.shape[1] == 5 else np.full(n, np.nan, np.float32)
        has_side = n > 0 and not np.all(np.isnan(snr))
        if has_side or (noise_db is not None and n > 0):
            if np.any(np.isnan(snr)):
                raise ValueError("snr must be given for every point or for none (all NaN)")
            noise = (np.zeros(n, np.float32) if noise_db is None
                     else np.asarray(noise_db, dtype=np.float32).reshape(n))
            side = np.stack([_deci_db(snr, "snr"), _deci_db(noise, "noise_db")], axis=1)
            items.append((TLVType.DETECTED_POINTS_SIDE_INFO, side.astype("<i2").tobytes()))
        if num_detected_obj is None:
            num_detected_obj = n
    elif num_detected_obj is None:
        num_detected_obj = len(extra.get(TLVType.DETECTED_POINTS, b"")) // 16
    items.extend(extra.items())

    body = b"".join(_TLV_HEADER.pack(_u32("TLV type", t), _u32("TLV length", len(p))) + p
                    for t, p in items)
    total = HEADER_BYTES + len(body)
    total += (-total) % _PACKET_ALIGN
    header = _HEADER.pack(
        MAGIC_WORD, _u32("version", version), _u32("totalPacketLen", total),
        _u32("platform", platform), _u32("frame_number", frame_number),
        _u32("time_cpu_cycles", time_cpu_cycles), _u32("num_detected_obj", num_detected_obj),
        _u32("numTLVs", len(items)), _u32("subframe_number", subframe_number),
    )
    return (header + body).ljust(total, b"\0")


def _from_deci_db(q: np.ndarray) -> np.ndarray:
    """int16 in 0.1 dB steps -> float32 dB (the float32 nearest to q / 10)."""
    return (q.astype(np.float64) / 10.0).astype(np.float32)


def _deci_db(values: np.ndarray, name: str) -> np.ndarray:
    """dB -> int16 in 0.1 dB steps (rounded)."""
    q = np.round(np.asarray(values, dtype=np.float64) * 10.0)
    if not np.all(np.isfinite(q)) or np.any(np.abs(q) > 32767):
        raise ValueError(f"{name} must be finite and within +-3276.7 dB")
    return q.astype(np.int16)
