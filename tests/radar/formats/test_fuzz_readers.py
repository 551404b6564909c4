"""Fuzzing every reader: any input yields frames or a RadarFormatError naming the byte offset.

Never another exception type, a hang (hypothesis deadline) or an allocation beyond the input's
size (explicit checks with tracemalloc for headers that claim huge sizes). For the TLV parser in
lenient mode the check is stronger: it never raises, and every input byte is either inside a
returned packet or inside a reported skipped region.
"""

from __future__ import annotations

import os
import struct
import tracemalloc
import warnings
from datetime import timedelta

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mmsight.radar.formats import (
    DCA1000Reader,
    RadarFormatError,
    RadarFormatWarning,
    load_openradar_sample,
    parse_radhar_text,
    parse_tlv_stream,
    save_openradar_sample,
    write_dca1000,
    write_tlv_frame,
)

# MMSIGHT_FUZZ_EXAMPLES=20000 for a longer campaign; the default keeps each test to ~1 s
FUZZ = settings(max_examples=int(os.environ.get("MMSIGHT_FUZZ_EXAMPLES", "200")),
                deadline=timedelta(seconds=2),
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


def _check_error(e: RadarFormatError, n: int) -> None:
    assert isinstance(e, RadarFormatError)
    assert e.offset is not None and 0 <= e.offset <= n, (e.offset, n, str(e))
    assert f"byte offset {e.offset}" in str(e)


@st.composite
def _mutated(draw, base: bytes) -> bytes:
    """``base`` after 1-4 edits: flipped bytes, truncation, inserted/deleted bytes, overwritten
    uint32 fields (often with huge values)."""
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "truncate", "insert", "delete", "u32"]))
        if not data:
            op = "insert"
        if op == "flip":
            i = draw(st.integers(0, len(data) - 1))
            data[i] ^= draw(st.integers(1, 255))
        elif op == "truncate":
            data = data[: draw(st.integers(0, len(data)))]
        elif op == "insert":
            i = draw(st.integers(0, len(data)))
            data[i:i] = draw(st.binary(min_size=1, max_size=24))
        elif op == "delete":
            i = draw(st.integers(0, len(data) - 1))
            del data[i : i + draw(st.integers(1, 16))]
        elif len(data) >= 4:
            i = draw(st.integers(0, len(data) - 4))
            v = draw(st.sampled_from([0, 1, 7, 31, 0x7FFFFFFF, 0xFFFFFFF0, 0xFFFFFFFF])
                     | st.integers(0, 2**32 - 1))
            data[i : i + 4] = struct.pack("<I", v)
    return bytes(data)


# -- DCA1000 ---------------------------------------------------------------------------------

_DCA_CONFIGS = [
    dict(n_samples=4, n_rx=2, n_chirps_per_frame=2, n_tx=2, complex=True, layout="xwr68xx"),
    dict(n_samples=3, n_rx=2, n_chirps_per_frame=1, complex=False, layout="xwr68xx"),
    dict(n_samples=2, n_rx=3, n_chirps_per_frame=2, complex=True, layout="xwr14xx",
         iq_swap=True),
    dict(n_samples=2, n_rx=4, n_chirps_per_frame=1, complex=False, layout="xwr14xx"),
]


def _read_dca(path, n, strict):
    for cfg in _DCA_CONFIGS:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RadarFormatWarning)
                reader = DCA1000Reader(path, strict=strict, **cfg)
            frames = list(reader)
            assert len(frames) == n // reader.geometry.frame_bytes
            assert all(f.shape == reader.frame_shape and f.dtype == np.complex64 for f in frames)
            assert reader.trailing_offset + reader.trailing_bytes == n
        except RadarFormatError as e:
            _check_error(e, n)


@FUZZ
@given(data=st.binary(max_size=600), strict=st.booleans())
def test_fuzz_dca1000_any_bytes(workdir, data, strict):
    path = workdir / "any.bin"
    path.write_bytes(data)
    _read_dca(path, len(data), strict)


_DCA_VALID = None


def _dca_valid(workdir) -> bytes:
    global _DCA_VALID
    if _DCA_VALID is None:
        rng = np.random.default_rng(0)
        shape = (3, 1, 2, 2, 4)
        frames = rng.integers(-99, 99, shape) + 1j * rng.integers(-99, 99, shape)
        write_dca1000(workdir / "valid.bin", frames)
        _DCA_VALID = (workdir / "valid.bin").read_bytes()
    return _DCA_VALID


@FUZZ
@given(data=st.data())
def test_fuzz_dca1000_mutated(workdir, data):
    blob = data.draw(_mutated(_dca_valid(workdir)))
    path = workdir / "mut.bin"
    path.write_bytes(blob)
    _read_dca(path, len(blob), strict=data.draw(st.booleans()))


# -- TI UART / TLV ---------------------------------------------------------------------------


def _valid_tlv_stream() -> bytes:
    rng = np.random.default_rng(1)
    out = []
    for i, n in enumerate((3, 0, 2)):
        pts = rng.normal(size=(n, 5)).astype(np.float32)
        pts[:, 4] = 12.5
        out.append(write_tlv_frame(i, pts, tlvs={2: b"\1\0" * 4, 6: bytes(24), 40: b"x" * 5}))
    return b"".join(out)


_TLV_VALID = _valid_tlv_stream()


def _check_tlv(blob: bytes) -> None:
    # lenient: never raises; every byte is either in a returned packet or reported as skipped
    skipped = []
    frames = list(parse_tlv_stream(blob, skipped=skipped))
    regions = sorted([(f.offset, f.packet_length) for f in frames]
                     + [(s.offset, s.length) for s in skipped])
    pos = 0
    for off, length in regions:
        assert off == pos and length > 0
        pos += length
    assert pos == len(blob)
    for f in frames:
        assert f.points.dtype == np.float32 and f.points.shape == (f.points.shape[0], 5)
        assert len(f.tlvs) <= (f.packet_length - 40) // 8
    # strict: the same frames, or an error naming an offset
    try:
        strict_frames = list(parse_tlv_stream(blob, strict=True))
        assert not skipped and len(strict_frames) == len(frames)
    except RadarFormatError as e:
        _check_error(e, len(blob))


@FUZZ
@given(prefix=st.sampled_from([b"", b"\x02\x01\x04\x03\x06\x05\x08\x07"]),
       data=st.binary(max_size=400))
def test_fuzz_tlv_any_bytes(prefix, data):
    _check_tlv(prefix + data)


@FUZZ
@given(data=st.data())
def test_fuzz_tlv_mutated(data):
    _check_tlv(data.draw(_mutated(_TLV_VALID)))


def test_tlv_file_path_with_garbage_and_truncation(workdir):
    path = workdir / "uart.dat"
    blob = b"\0" * 7 + _TLV_VALID[:-5]
    path.write_bytes(blob)
    skipped = []
    frames = list(parse_tlv_stream(path, skipped=skipped))
    assert len(frames) == 2
    end_of_second = frames[-1].offset + frames[-1].packet_length
    assert [(s.offset, s.length) for s in skipped] == [(0, 7), (end_of_second,
                                                                len(blob) - end_of_second)]


# -- RadHAR text -----------------------------------------------------------------------------

_RADHAR_VALID = "".join(
    f'header: \n  seq: {i}\n  stamp: \n    secs: 1561686778\n    nsecs:  {i * 1000:8d}\n'
    f'  frame_id: "ti_mmwave"\npoint_id: {i % 2}\nx: 1.5\ny: -0.25\nz: 0.125\nrange: 1.52\n'
    f'velocity: 0.0\ndoppler_bin: 8\nbearing: -9.46\nintensity: 30.5\n---\n'
    for i in range(3)
).encode()


def _check_radhar(blob: bytes) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RadarFormatWarning)
            rec = parse_radhar_text(blob)
    except RadarFormatError as e:
        _check_error(e, len(blob))
        assert e.line is not None and e.line >= 1
        return
    n = len(rec)
    assert rec.points.shape == (n, 8) and rec.time.shape == (n,) and rec.frame.shape == (n,)
    assert rec.frame_offsets[-1] == n


@FUZZ
@given(data=st.binary(max_size=400))
def test_fuzz_radhar_any_bytes(data):
    _check_radhar(data)


@FUZZ
@given(data=st.data())
def test_fuzz_radhar_mutated(data):
    _check_radhar(data.draw(_mutated(_RADHAR_VALID)))


# -- OpenRadar captures ----------------------------------------------------------------------


_OPENRADAR_VALID: dict[str, bytes] = {}


def _openradar_valid(workdir):
    if _OPENRADAR_VALID:
        return _OPENRADAR_VALID["npy"], _OPENRADAR_VALID["txt"]
    rng = np.random.default_rng(2)
    x = rng.integers(-300, 300, (3, 4)) + 1j * rng.integers(-300, 300, (3, 4))
    save_openradar_sample(workdir / "v.npy", x)
    save_openradar_sample(workdir / "v.txt", x)
    _OPENRADAR_VALID.update(npy=(workdir / "v.npy").read_bytes(),
                            txt=(workdir / "v.txt").read_bytes())
    return _OPENRADAR_VALID["npy"], _OPENRADAR_VALID["txt"]


def _check_openradar(path, blob):
    path.write_bytes(blob)
    try:
        x = load_openradar_sample(path)
    except RadarFormatError as e:
        _check_error(e, len(blob))
        return
    assert x.dtype == np.complex64
    assert np.all(np.abs(x.real) <= 32768) and np.all(np.abs(x.imag) <= 32768)


@FUZZ
@given(data=st.data(), which=st.sampled_from(["npy", "txt"]))
def test_fuzz_openradar_mutated(workdir, data, which):
    npy, txt = _openradar_valid(workdir)
    base = npy if which == "npy" else txt
    _check_openradar(workdir / f"m.{which}", data.draw(_mutated(base)))


@FUZZ
@given(data=st.binary(max_size=300), which=st.sampled_from(["npy", "txt"]))
def test_fuzz_openradar_any_bytes(workdir, data, which):
    _check_openradar(workdir / f"a.{which}", b"\x93NUMPY" + data if which == "npy" else data)


def test_npy_header_claiming_a_huge_array_is_not_allocated(workdir):
    header = "{'descr': '<c16', 'fortran_order': False, 'shape': (1000000, 1000000), }"
    header = header.ljust(118) + "\n"
    path = workdir / "huge.npy"
    path.write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode()
                     + bytes(64))
    tracemalloc.start()
    try:
        with pytest.raises(RadarFormatError) as e:
            load_openradar_sample(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    _check_error(e.value, path.stat().st_size)
    assert peak < 1 << 20
