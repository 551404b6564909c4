"""RadHAR rostopic-echo text dumps: the real sample, frames, round trips, error offsets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mmsight.radar.formats import (
    RADHAR_COLUMNS,
    RadarFormatError,
    RadHARRecording,
    format_radhar_text,
    parse_radhar_text,
    read_radhar_text,
    write_radhar_text,
)

DATA = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "radhar"
SAMPLE = DATA / "raw_sample" / "Data" / "Test" / "jack" / "__20_jacks_8.txt"

MESSAGE = """header: 
  seq: {seq}
  stamp: 
    secs: 1561686778
    nsecs: {nsecs:9d}
  frame_id: "ti_mmwave"
point_id: {pid}
x: 1.5
y: -0.25
z: 0.125
range: 1.52
velocity: {vel}
doppler_bin: 8
bearing: -9.46
intensity: 30.5
---
"""


def _text(pids, vel="0.0"):
    return "".join(MESSAGE.format(seq=100 + i, nsecs=1000 * i, pid=p, vel=vel)
                   for i, p in enumerate(pids))


def test_parse_small_text_and_frames():
    rec = parse_radhar_text(_text([0, 1, 2, 0, 1, 3, 2, 0]).encode())
    assert len(rec) == 8 and rec.points.dtype == np.float32 and rec.points.shape == (8, 8)
    assert rec.frame.tolist() == [0, 0, 0, 1, 1, 1, 2, 3]  # new frame where point_id stops rising
    assert rec.n_frames == 4 and rec.frame_offsets.tolist() == [0, 3, 6, 7, 8]
    np.testing.assert_array_equal(rec.points[0], np.float32([1.5, -0.25, 0.125, 1.52, 0, 8,
                                                             -9.46, 30.5]))
    assert rec.seq.tolist() == list(range(100, 108)) and rec.frame_id == "ti_mmwave"
    assert rec.stamp_nsecs[3] == 3000 and rec.time[3] == 1561686778 + 3000e-9
    assert rec.column("intensity").tolist() == [30.5] * 8
    assert [f.shape[0] for f in rec.iter_frames()] == [3, 3, 1, 1]


def test_point_cloud_is_in_the_architecture_radar_frame():
    rec = parse_radhar_text(_text([0], vel="-0.5"))
    cloud, offsets = rec.point_cloud()
    # ROS x forward / y left -> radar frame x right / y boresight
    np.testing.assert_array_equal(cloud, np.float32([[0.25, 1.5, 0.125, -0.5, 30.5]]))
    assert offsets.tolist() == [0, 1]


def test_crlf_and_blank_lines_between_messages():
    text = _text([0, 1]).replace("---\n", "---\n\n").replace("\n", "\r\n")
    rec = parse_radhar_text(text.encode())
    assert len(rec) == 2 and rec.point_id.tolist() == [0, 1]


def test_round_trip_synthetic(tmp_path):
    rng = np.random.default_rng(0)
    n = 50
    pts = rng.normal(size=(n, 8)).astype(np.float32) * 3
    pts[:, 5] = rng.integers(0, 16, n)
    pids = np.concatenate([np.arange(20), np.arange(30)]).astype(np.int32)
    secs = np.full(n, 1_561_686_778, np.int64)
    nsecs = rng.integers(0, 10**9, n).astype(np.int64)
    rec = RadHARRecording(points=pts, time=secs + nsecs * 1e-9, point_id=pids,
                          frame=np.repeat([0, 1], [20, 30]).astype(np.int32),
                          seq=np.arange(n, dtype=np.int64), stamp_secs=secs, stamp_nsecs=nsecs,
                          frame_id="radar_1")
    path = tmp_path / "rec.txt"
    write_radhar_text(path, rec)
    back = read_radhar_text(path)
    for name in ("points", "time", "point_id", "frame", "seq", "stamp_secs", "stamp_nsecs"):
        np.testing.assert_array_equal(getattr(back, name), getattr(rec, name), err_msg=name)
    assert back.frame_id == "radar_1" and back.path == str(path)


@pytest.mark.skipif(not SAMPLE.is_file(), reason="shared RadHAR sample (../shared/data) absent")
def test_real_sample(tmp_path):
    rec = read_radhar_text(SAMPLE)
    assert len(rec) == 10296 and rec.n_frames == 603
    np.testing.assert_array_equal(
        rec.points[0], np.float32([0.01171875, -0.0390625, -0.0078125, 0.0435769706964, 0.0, 8,
                                   -73.3007583618, 30.7371826172]))
    assert rec.seq[0] == 3515308 and rec.stamp_secs[0] == 1561686778
    assert rec.stamp_nsecs[0] == 852132810
    assert rec.point_id[:20].tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 15, 17,
                                          18, 19, 0, 1]
    assert rec.frame_offsets[:3].tolist() == [0, 18, 35]
    # bearing is atan2(y, x) in degrees (ROS frame of the driver)
    bearing = np.degrees(np.arctan2(rec.column("y"), rec.column("x")))
    assert np.abs(bearing - rec.column("bearing")).max() < 1e-3
    # round trip through the writer
    path = tmp_path / "copy.txt"
    write_radhar_text(path, rec)
    back = read_radhar_text(path)
    np.testing.assert_array_equal(back.points, rec.points)
    np.testing.assert_array_equal(back.stamp_nsecs, rec.stamp_nsecs)
    np.testing.assert_array_equal(back.frame, rec.frame)
    # the shared npz was built from the same files: same values and the same frame rule
    npz = DATA / "radhar_test.npz"
    if npz.is_file():
        d = np.load(npz)
        idx = list(d["file_names"]).index("Data/Test/jack/__20_jacks_8.txt")
        m = d["file_index"] == idx
        np.testing.assert_array_equal(d["points"][m], rec.points)
        np.testing.assert_array_equal(d["frame"][m], rec.frame)
        np.testing.assert_array_equal(d["time"][m], rec.time)
        assert list(d["columns"]) == list(RADHAR_COLUMNS)


def _offset_of(text: str, needle: str, occurrence: int = 0) -> int:
    at = -1
    for _ in range(occurrence + 1):
        at = text.index(needle, at + 1)
    return at


@pytest.mark.parametrize("case", ["bad_key", "bad_number", "bad_int", "missing_separator",
                                  "truncated", "nsecs_range", "stamp_value"])
def test_malformed_records_name_offset_and_line(case):
    text = _text([0, 1, 2])
    if case == "bad_key":
        at = _offset_of(text, "velocity:", 1)
        text = text[:at] + "speed:" + text[at + len("velocity:"):]
    elif case == "bad_number":
        at = _offset_of(text, "-9.46", 1)
        text = text[:at] + "-9.4x6" + text[at + len("-9.46"):]
    elif case == "bad_int":
        i = _offset_of(text, "seq: 102")
        text = text[:i] + "seq: 1e2" + text[i + 8:]
        at = i + len("seq: ")
    elif case == "missing_separator":
        i = _offset_of(text, "---", 1)
        text = text[:i] + "+++" + text[i + 3:]
        at = i
    elif case == "truncated":
        text = text[: _offset_of(text, "range:", 2)]
        at = len(text)
    elif case == "nsecs_range":
        i = _offset_of(text, "nsecs:", 1)
        text = text[:i] + "nsecs: 1000000000" + text[text.index("\n", i):]
        at = i + len("nsecs: ")
    else:
        text = text.replace("  stamp: \n", "  stamp: 5\n", 1)
        at = _offset_of(text, "stamp: 5") + len("stamp: ")
    data = text.encode()
    with pytest.raises(RadarFormatError) as e:
        parse_radhar_text(data, path="dump.txt")
    assert e.value.offset == at, str(e.value)
    assert e.value.line == data[:at].count(b"\n") + 1
    assert f"byte offset {at}" in str(e.value) and "dump.txt" in str(e.value)


def test_format_rejects_unwritable_frame_id():
    rec = parse_radhar_text(_text([0]))
    rec.frame_id = 'bad"id'
    with pytest.raises(ValueError):
        format_radhar_text(rec)


def test_empty_input_has_no_points():
    rec = parse_radhar_text(b"")
    assert len(rec) == 0 and rec.n_frames == 0 and rec.frame_offsets.tolist() == [0]
