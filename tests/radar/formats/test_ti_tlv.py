"""TI mmWave SDK UART/TLV stream: decoding, round trips, resync and strict errors."""

from __future__ import annotations

import struct
import tracemalloc
import warnings

import numpy as np
import pytest

from mmsight.radar.formats import (
    MAGIC_WORD,
    RadarFormatError,
    RadarFormatWarning,
    TLVReader,
    TLVType,
    parse_tlv_stream,
    read_tlv_file,
    write_tlv_frame,
)


def _packet(frame_number, tlvs, num_obj, pad=True, total=None):
    """Hand-built packet (independent of write_tlv_frame)."""
    body = b"".join(struct.pack("<II", t, len(p)) + p for t, p in tlvs)
    length = 40 + len(body)
    if pad:
        length = (length + 31) // 32 * 32
    header = MAGIC_WORD + struct.pack("<8I", 0x03050004, length if total is None else total,
                                      0xA1843, frame_number, 123456, num_obj, len(tlvs), 0)
    return (header + body).ljust(length, b"\xaa")


def _points(rng, n, snr=True):
    p = rng.normal(size=(n, 5)).astype(np.float32)
    p[:, 4] = (rng.integers(0, 400, n) / 10).astype(np.float32) if snr else np.nan
    return p


def test_magic_word_bytes():
    assert MAGIC_WORD == bytes([2, 1, 4, 3, 6, 5, 8, 7])
    assert MAGIC_WORD == struct.pack("<4H", 0x0102, 0x0304, 0x0506, 0x0708)


def test_decode_hand_built_packet():
    xyzv = np.array([[1.0, 2.0, 0.5, -0.25], [-1.5, 3.0, 0.0, 0.75]], dtype="<f4")
    side = np.array([[123, -45], [300, 80]], dtype="<i2")  # snr, noise in 0.1 dB
    rp = np.array([10, 20, 30, 40], dtype="<u2")
    np_ = np.array([1, 2, 3, 4], dtype="<u2")
    az = np.array([[5, 6], [-7, 8], [9, -10], [11, 12]], dtype="<i2")  # (imag, real)
    rd = np.arange(6, dtype="<u2")
    stats = struct.pack("<6I", 1, 2, 3, 4, 5, 6)
    pkt = _packet(42, [(1, xyzv.tobytes()), (2, rp.tobytes()), (3, np_.tobytes()),
                       (4, az.tobytes()), (5, rd.tobytes()), (6, stats), (7, side.tobytes()),
                       (1000, b"custom")], num_obj=2)
    (f,) = list(parse_tlv_stream(pkt, strict=True))
    assert f.frame_number == 42 and f.platform == 0xA1843 and f.time_cpu_cycles == 123456
    assert f.offset == 0 and f.packet_length == len(pkt) and f.num_detected_obj == 2
    assert f.points.dtype == np.float32 and f.points.shape == (2, 5)
    np.testing.assert_array_equal(f.points[:, :4], xyzv)
    np.testing.assert_array_equal(f.points[:, 4], np.float32([12.3, 30.0]))
    np.testing.assert_array_equal(f.noise_db, np.float32([-4.5, 8.0]))
    np.testing.assert_array_equal(f.range_profile, rp)
    np.testing.assert_array_equal(f.noise_profile, np_)
    np.testing.assert_array_equal(f.azimuth_static_heatmap(), [6 + 5j, 8 - 7j, -10 + 9j, 12 + 11j])
    assert f.azimuth_static_heatmap(n_virtual=2).shape == (2, 2)
    np.testing.assert_array_equal(f.range_doppler_heatmap(n_doppler=3), [[0, 1, 2], [3, 4, 5]])
    assert f.stats["inter_frame_processing_time"] == 1 and f.stats["inter_frame_cpu_load"] == 6
    assert f.tlvs[1000] == b"custom"  # unknown TLVs are kept raw
    assert list(f.tlvs) == [1, 2, 3, 4, 5, 6, 7, 1000]


def test_no_side_info_gives_nan_snr():
    xyzv = np.ones((3, 4), dtype="<f4")
    (f,) = parse_tlv_stream(_packet(1, [(1, xyzv.tobytes())], num_obj=3))
    assert f.points.shape == (3, 5) and np.all(np.isnan(f.points[:, 4]))
    assert np.all(np.isnan(f.noise_db))
    assert f.range_profile is None and f.stats is None


def test_round_trip_write_parse():
    rng = np.random.default_rng(0)
    frames_in = [(_points(rng, 7), {2: np.arange(16, dtype="<u2").tobytes(), 77: b"xyz"}),
                 (_points(rng, 0), {}),
                 (_points(rng, 3, snr=False), {6: struct.pack("<6I", *range(6))})]
    stream = b"".join(write_tlv_frame(i + 10, p, tlvs=t, time_cpu_cycles=99 * i)
                      for i, (p, t) in enumerate(frames_in))
    out = list(parse_tlv_stream(stream, strict=True))
    assert [f.frame_number for f in out] == [10, 11, 12]
    for f, (p, t) in zip(out, frames_in, strict=True):
        np.testing.assert_array_equal(f.points, p)  # snr exact at 0.1 dB steps; NaN kept
        for k, v in t.items():
            assert f.tlvs[k] == v
        assert f.packet_length % 32 == 0
    assert out[0].time_cpu_cycles == 0 and out[2].time_cpu_cycles == 198
    # re-encoding a parsed frame gives the same bytes
    assert b"".join(f.to_bytes() for f in out) == stream


def test_writer_header_layout_and_padding():
    pkt = write_tlv_frame(5, np.zeros((3, 4), np.float32), version=0x03040000, platform=0xA6843)
    assert pkt[:8] == MAGIC_WORD and len(pkt) % 32 == 0
    version, total, platform, frame, _, n_obj, n_tlv, sub = struct.unpack_from("<8I", pkt, 8)
    assert (version, total, platform, frame, n_obj, n_tlv, sub) == (
        0x03040000, len(pkt), 0xA6843, 5, 3, 1, 0)
    assert struct.unpack_from("<II", pkt, 40) == (1, 48)  # points TLV: 3 x 16 bytes
    with pytest.raises(ValueError):
        write_tlv_frame(1, np.array([[0, 0, 0, 0, 1.0], [0, 0, 0, 0, np.nan]]))
    with pytest.raises(ValueError):
        write_tlv_frame(-1)


def test_garbage_between_packets_is_skipped_and_reported():
    rng = np.random.default_rng(1)
    a = write_tlv_frame(1, _points(rng, 2))
    b = write_tlv_frame(2, _points(rng, 4))
    stream = b"\x00\x01" + a + b"JUNKJUNK!" + b + b"tail"
    skipped = []
    frames = list(parse_tlv_stream(stream, skipped=skipped))
    assert [f.frame_number for f in frames] == [1, 2]
    assert [f.offset for f in frames] == [2, 2 + len(a) + 9]
    assert [(s.offset, s.length) for s in skipped] == [
        (0, 2), (2 + len(a), 9), (2 + len(a) + 9 + len(b), 4)]
    # without a list, every skip is a warning naming its offset
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert len(list(parse_tlv_stream(stream))) == 2
    assert all(issubclass(w.category, RadarFormatWarning) for w in caught)
    assert [f"byte offset {s.offset}" in str(w.message) for s, w in zip(skipped, caught,
                                                                         strict=True)] == [True] * 3
    with pytest.raises(RadarFormatError, match="byte offset 0"):
        list(parse_tlv_stream(stream, strict=True))


def test_truncated_last_packet():
    rng = np.random.default_rng(2)
    a = write_tlv_frame(1, _points(rng, 2))
    b = write_tlv_frame(2, _points(rng, 5))
    stream = a + b[:70]
    skipped = []
    assert [f.frame_number for f in parse_tlv_stream(stream, skipped=skipped)] == [1]
    assert len(skipped) == 1 and skipped[0].offset == len(a) and skipped[0].length == 70
    assert "truncated" in skipped[0].reason
    with pytest.raises(RadarFormatError) as e:
        list(parse_tlv_stream(stream, strict=True))
    assert e.value.offset == len(a) + 12  # the totalPacketLen field
    assert f"byte offset {len(a) + 12}" in str(e.value)
    # a header cut short
    with pytest.raises(RadarFormatError) as e:
        list(parse_tlv_stream(a + b[:20], strict=True))
    assert e.value.offset == len(a)


@pytest.mark.parametrize("case", ["short_length", "tlv_overrun", "points_mismatch",
                                  "side_info_mismatch", "too_many_tlvs"])
def test_inconsistent_packet_resyncs_or_raises(case):
    rng = np.random.default_rng(3)
    xyzv = rng.normal(size=(2, 4)).astype("<f4").tobytes()
    if case == "short_length":
        bad, at = _packet(1, [(1, xyzv)], 2, total=36), 12
    elif case == "tlv_overrun":
        bad = bytearray(_packet(1, [(1, xyzv)], 2))
        struct.pack_into("<I", bad, 44, 10_000)
        bad, at = bytes(bad), 44
    elif case == "points_mismatch":
        bad, at = _packet(1, [(1, xyzv)], 3), 44
    elif case == "side_info_mismatch":
        bad, at = _packet(1, [(1, xyzv), (7, b"\0" * 12)], 2), 40 + 8 + 32 + 4
    else:
        bad = bytearray(_packet(1, [(1, xyzv)], 2))
        struct.pack_into("<I", bad, 32, 1_000_000)
        bad, at = bytes(bad), 32
    good = write_tlv_frame(2, _points(rng, 3))
    skipped = []
    frames = list(parse_tlv_stream(bad + good, skipped=skipped))
    assert [f.frame_number for f in frames] == [2]
    assert frames[0].offset == len(bad)
    assert [(s.offset, s.length) for s in skipped] == [(0, len(bad))]
    assert f"at byte offset {at}" in skipped[0].reason
    with pytest.raises(RadarFormatError) as e:
        list(parse_tlv_stream(bad + good, strict=True))
    assert e.value.offset == at


def test_huge_packet_length_is_not_allocated():
    pkt = bytearray(write_tlv_frame(1, np.zeros((2, 4), np.float32)))
    struct.pack_into("<I", pkt, 12, 0xFFFFFFF0)  # claims a 4 GB packet
    struct.pack_into("<I", pkt, 32, 0xFFFFFFFF)  # and 4 billion TLVs
    tracemalloc.start()
    try:
        skipped = []
        frames = list(parse_tlv_stream(bytes(pkt) * 3, skipped=skipped))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert frames == [] and sum(s.length for s in skipped) == 3 * len(pkt)
    assert peak < 1 << 20


def test_magic_word_inside_a_payload_does_not_split_a_valid_packet():
    payload = b"\0" * 4 + MAGIC_WORD + b"\0" * 4
    stream = write_tlv_frame(1, tlvs={50: payload}) + write_tlv_frame(2)
    skipped = []
    frames = list(parse_tlv_stream(stream, skipped=skipped))
    assert [f.frame_number for f in frames] == [1, 2] and skipped == []
    assert frames[0].tlvs[50] == payload


def test_file_reader_and_point_cloud(tmp_path):
    rng = np.random.default_rng(4)
    pts = [_points(rng, n) for n in (3, 0, 5)]
    path = tmp_path / "uart.dat"
    path.write_bytes(b"xx" + b"".join(write_tlv_frame(i, p) for i, p in enumerate(pts)))
    frames, skipped = read_tlv_file(path)
    assert len(frames) == 3 and [(s.offset, s.length) for s in skipped] == [(0, 2)]
    reader = TLVReader(path)
    with pytest.warns(RadarFormatWarning, match="skipped 2 bytes"):
        points, offsets, numbers = reader.point_cloud()
    assert offsets.tolist() == [0, 3, 3, 8] and numbers.tolist() == [0, 1, 2]
    np.testing.assert_array_equal(points, np.concatenate(pts))
    assert reader.skipped[0].offset == 0
    with pytest.raises(RadarFormatError) as e:
        TLVReader(path, strict=True).read_all()
    assert str(path) in str(e.value) and e.value.offset == 0
    empty = tmp_path / "empty.dat"
    empty.write_bytes(b"")
    assert read_tlv_file(empty) == ([], [])


def test_tlv_type_numbers():
    assert (TLVType.DETECTED_POINTS, TLVType.RANGE_PROFILE, TLVType.NOISE_PROFILE,
            TLVType.AZIMUTH_STATIC_HEATMAP, TLVType.RANGE_DOPPLER_HEATMAP, TLVType.STATS,
            TLVType.DETECTED_POINTS_SIDE_INFO) == (1, 2, 3, 4, 5, 6, 7)
