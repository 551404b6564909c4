"""RadHAR raw point dumps: ``rostopic echo`` of the TI ``ti_mmwave_rospkg`` point messages.

RadHAR (Singh et al., mmNets 2019) recorded a TI mmWave radar through the ROS driver and saved
the console output of ``rostopic echo``: one message per detected point, YAML-like, each
message ended by a ``---`` line::

    header:
      seq: 3515308
      stamp:
        secs: 1561686778
        nsecs: 852132810
      frame_id: "ti_mmwave"
    point_id: 0
    x: 0.01171875
    y: -0.0390625
    z: -0.0078125
    range: 0.0435769706964
    velocity: 0.0
    doppler_bin: 8
    bearing: -73.3007583618
    intensity: 30.7371826172
    ---

Coordinates are the ROS convention of the driver (x forward along boresight, y to the left,
z up); ``bearing`` is ``atan2(y, x)`` in degrees and ``intensity`` is in dB. The driver
publishes the points of one radar frame with increasing ``point_id`` starting at 0, so a new
frame starts where ``point_id`` stops increasing; this is also how the ``frame`` array of the
shared RadHAR ``.npz`` files was made (checked on all 186 recordings: identical).
:meth:`RadHARRecording.point_cloud` converts to the radar frame of ARCHITECTURE.md.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from mmsight.utils.atomic import atomic_file
from .errors import RadarFormatError, RadarFormatWarning

__all__ = [
    "RADHAR_COLUMNS",
    "RadHARRecording",
    "read_radhar_text",
    "parse_radhar_text",
    "format_radhar_text",
    "write_radhar_text",
]

#: Columns of :attr:`RadHARRecording.points` (same order as the shared RadHAR ``.npz``).
RADHAR_COLUMNS: tuple[str, ...] = (
    "x", "y", "z", "range", "velocity", "doppler_bin", "bearing", "intensity",
)

# (key, value kind) of the lines of one message, in order; kind None: no value (a mapping).
_FIELDS: tuple[tuple[str, str | None], ...] = (
    ("header", None),
    ("seq", "uint"),
    ("stamp", None),
    ("secs", "uint"),
    ("nsecs", "nsecs"),
    ("frame_id", "str"),
    ("point_id", "int"),
    ("x", "float"),
    ("y", "float"),
    ("z", "float"),
    ("range", "float"),
    ("velocity", "float"),
    ("doppler_bin", "float"),
    ("bearing", "float"),
    ("intensity", "float"),
)
_SEPARATOR = "---"
_INT = re.compile(r"[+-]?\d{1,19}\Z")
_FLOAT = re.compile(
    r"[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d{1,4})?|\.\d+(?:[eE][+-]?\d{1,4})?|nan|inf|infinity)\Z",
    re.IGNORECASE,
)
_INT64_MAX = 2**63 - 1
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1


@dataclass
class RadHARRecording:
    """The points of one RadHAR text dump.

    Attributes:
        points: ``float32 [N, 8]``, columns :data:`RADHAR_COLUMNS`: x, y, z (m, ROS frame of the
            driver: x forward, y left, z up), range (m), velocity (radial, m/s), doppler_bin,
            bearing (degrees, ``atan2(y, x)``), intensity (dB).
        time: ``float64 [N]`` message time stamp, POSIX seconds.
        point_id: ``int32 [N]`` index of the point within its radar frame.
        frame: ``int32 [N]`` radar-frame index within the file (0, 1, ...).
        seq: ``int64 [N]`` ROS message sequence number.
        stamp_secs, stamp_nsecs: ``int64 [N]`` the exact time stamp (``time`` rounds it).
        frame_id: the ROS ``frame_id`` of the messages.
        path: the file read, if any.
    """

    points: np.ndarray
    time: np.ndarray
    point_id: np.ndarray
    frame: np.ndarray
    seq: np.ndarray
    stamp_secs: np.ndarray
    stamp_nsecs: np.ndarray
    frame_id: str = "ti_mmwave"
    path: str | None = None

    columns = RADHAR_COLUMNS

    def __len__(self) -> int:
        return int(self.points.shape[0])

    def column(self, name: str) -> np.ndarray:
        """One column of :attr:`points` by name, ``float32 [N]``."""
        return self.points[:, RADHAR_COLUMNS.index(name)]

    @property
    def n_frames(self) -> int:
        """Number of radar frames."""
        return int(self.frame[-1]) + 1 if len(self) else 0

    @property
    def frame_offsets(self) -> np.ndarray:
        """``int64 [n_frames + 1]``: points of frame i are ``points[o[i]:o[i + 1]]``."""
        counts = np.bincount(self.frame, minlength=self.n_frames) if len(self) else np.zeros(0)
        return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)

    @property
    def frame_time(self) -> np.ndarray:
        """``float64 [n_frames]`` time stamp of the first point of each frame (s)."""
        return self.time[self.frame_offsets[:-1]]

    def iter_frames(self) -> Iterator[np.ndarray]:
        """Yield each frame's points, ``float32 [n_i, 8]``."""
        off = self.frame_offsets
        for i in range(self.n_frames):
            yield self.points[off[i] : off[i + 1]]

    def point_cloud(self) -> tuple[np.ndarray, np.ndarray]:
        """The points as mmsight point clouds in the radar frame of ARCHITECTURE.md.

        Returns:
            ``float32 [N, 5]`` x (right), y (boresight), z (up) in m, doppler (m/s), snr (the
            intensity, dB); and ``int64 [n_frames + 1]`` frame offsets. The driver's ROS frame
            is mapped back with ``x = -y_ros``, ``y = x_ros``, ``z = z_ros``.
        """
        out = np.empty((len(self), 5), dtype=np.float32)
        out[:, 0] = -self.points[:, 1]
        out[:, 1] = self.points[:, 0]
        out[:, 2] = self.points[:, 2]
        out[:, 3] = self.points[:, 4]
        out[:, 4] = self.points[:, 7]
        return out, self.frame_offsets


def _frames_from_point_ids(point_id: np.ndarray) -> np.ndarray:
    """A new frame starts wherever point_id does not increase (e.g. resets to 0)."""
    if point_id.size == 0:
        return np.zeros(0, dtype=np.int32)
    starts = np.concatenate([[0], (point_id[1:] <= point_id[:-1]).astype(np.int32)])
    return np.cumsum(starts, dtype=np.int64).astype(np.int32)


def parse_radhar_text(data: bytes | bytearray | memoryview | str,
                      *, path: str | os.PathLike[str] | None = None) -> RadHARRecording:
    """Parse the text of a RadHAR dump.

    Args:
        data: the file's bytes (or its text as ``str``; byte offsets then count characters).
        path: the file name, for error messages.

    Raises:
        RadarFormatError: a message that does not have the expected lines and values, or a
            file that ends inside a message; the message names the byte offset and line.
    """
    path_s = None if path is None else os.fspath(path)
    # latin-1 maps every byte to one character, so character offsets are byte offsets
    text = data if isinstance(data, str) else bytes(data).decode("latin-1")

    seq: list[int] = []
    secs: list[int] = []
    nsecs: list[int] = []
    pids: list[int] = []
    values: list[float] = []
    frame_id: str | None = None
    record_start = (0, 1)
    field = 0
    offset = 0
    lineno = 0
    n_text = len(text)

    def fail(detail: str, at: int, line: int) -> RadarFormatError:
        return RadarFormatError(detail, offset=at, path=path_s, line=line)

    while offset < n_text:
        lineno += 1
        nl = text.find("\n", offset)
        end = n_text if nl < 0 else nl
        line = text[offset:end]
        line_offset = offset
        offset = end + 1
        if line.endswith("\r"):
            line = line[:-1]
        stripped = line.strip()
        if field == 0 and not stripped:
            continue  # blank lines between messages
        if field == len(_FIELDS):
            if stripped != _SEPARATOR:
                raise fail(f"expected the message separator '---', found {stripped[:40]!r}",
                           line_offset, lineno)
            field = 0
            continue
        if field == 0:
            record_start = (line_offset, lineno)
        key, sep, value = stripped.partition(":")
        want, kind = _FIELDS[field]
        if not sep or key.strip() != want:
            raise fail(f"expected '{want}:' (line {field + 1} of a message), "
                       f"found {stripped[:40]!r}", line_offset, lineno)
        value = value.strip()
        colon = line.find(":")
        after = line[colon + 1 :]
        value_at = line_offset + colon + 1 + len(after) - len(after.lstrip())
        if kind is None:
            if value:
                raise fail(f"'{want}:' must not have a value, found {value[:40]!r}",
                           value_at, lineno)
        elif kind == "str":
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            if frame_id is None:
                frame_id = value
            elif value != frame_id:
                warnings.warn(RadarFormatWarning(
                    f"{path_s + ': ' if path_s else ''}byte offset {value_at} (line {lineno}): "
                    f"frame_id {value!r} differs from the first message's {frame_id!r}; only "
                    "the first is kept"), stacklevel=2)
        elif kind == "float":
            if not _FLOAT.match(value):
                raise fail(f"'{want}' is not a number: {value[:40]!r}", value_at, lineno)
            values.append(float(value))
        else:
            if not _INT.match(value):
                raise fail(f"'{want}' is not an integer: {value[:40]!r}", value_at, lineno)
            v = int(value)
            if kind == "int":
                if not _INT32_MIN <= v <= _INT32_MAX:
                    raise fail(f"'{want}' {v} out of the int32 range", value_at, lineno)
                pids.append(v)
            elif kind == "nsecs":
                if not 0 <= v < 1_000_000_000:
                    raise fail(f"nsecs {v} is not in [0, 1e9)", value_at, lineno)
                nsecs.append(v)
            else:
                if not 0 <= v <= _INT64_MAX:
                    raise fail(f"'{want}' {v} is not a non-negative int64", value_at, lineno)
                (seq if want == "seq" else secs).append(v)
        field += 1
    if field != 0:
        want = _FIELDS[field][0] if field < len(_FIELDS) else _SEPARATOR
        raise fail(f"the input ends inside the message that starts at byte offset "
                   f"{record_start[0]} (line {record_start[1]}): expected {want!r}",
                   n_text, lineno + 1 if text.endswith("\n") else lineno)

    n = len(pids)
    points = np.asarray(values, dtype=np.float64).reshape(n, len(RADHAR_COLUMNS))
    with np.errstate(over="ignore"):  # values beyond float32 become inf, as float32 would hold
        points32 = points.astype(np.float32)
    secs_a = np.asarray(secs, dtype=np.int64)
    nsecs_a = np.asarray(nsecs, dtype=np.int64)
    point_id = np.asarray(pids, dtype=np.int32)
    return RadHARRecording(
        points=points32,
        time=secs_a.astype(np.float64) + nsecs_a.astype(np.float64) * 1e-9,
        point_id=point_id,
        frame=_frames_from_point_ids(point_id),
        seq=np.asarray(seq, dtype=np.int64),
        stamp_secs=secs_a,
        stamp_nsecs=nsecs_a,
        frame_id="ti_mmwave" if frame_id is None else frame_id,
        path=path_s,
    )


def read_radhar_text(path: str | os.PathLike[str]) -> RadHARRecording:
    """Read a RadHAR ``rostopic echo`` text file (see :func:`parse_radhar_text`)."""
    with open(path, "rb") as f:
        data = f.read()
    return parse_radhar_text(data, path=path)


def _num(v: np.float32) -> str:
    """Shortest text that reads back to the same float32."""
    if np.isnan(v):
        return "nan"
    if np.isinf(v):
        return "inf" if v > 0 else "-inf"
    return np.format_float_positional(v, unique=True, trim="0") if abs(v) < 1e16 else \
        np.format_float_scientific(v, unique=True, trim="0")


def format_radhar_text(rec: RadHARRecording) -> str:
    """The ``rostopic echo`` text of a recording (one message per point)."""
    out: list[str] = []
    pts = np.asarray(rec.points, dtype=np.float32)
    if any(c in rec.frame_id for c in '"\n\r') or not rec.frame_id.isprintable() or \
            max(map(ord, rec.frame_id), default=0) > 255:
        raise ValueError(f"frame_id {rec.frame_id!r} cannot be written in this format")
    for i in range(len(rec)):
        p = pts[i]
        db = p[5]
        doppler_bin = str(int(db)) if np.isfinite(db) and db == int(db) else _num(db)
        out.append(
            "header: \n"
            f"  seq: {int(rec.seq[i])}\n"
            "  stamp: \n"
            f"    secs: {int(rec.stamp_secs[i])}\n"
            f"    nsecs: {int(rec.stamp_nsecs[i]):9d}\n"
            f'  frame_id: "{rec.frame_id}"\n'
            f"point_id: {int(rec.point_id[i])}\n"
            f"x: {_num(p[0])}\ny: {_num(p[1])}\nz: {_num(p[2])}\n"
            f"range: {_num(p[3])}\nvelocity: {_num(p[4])}\n"
            f"doppler_bin: {doppler_bin}\n"
            f"bearing: {_num(p[6])}\nintensity: {_num(p[7])}\n"
            "---\n"
        )
    return "".join(out)


def write_radhar_text(path: str | os.PathLike[str], rec: RadHARRecording) -> None:
    """Write a recording as a RadHAR text dump, atomically (temporary file + ``os.replace``).

    :func:`read_radhar_text` reads it back to the same points (float32), time stamps, ids and
    frames.
    """
    text = format_radhar_text(rec)
    with atomic_file(path) as f:
        f.write(text.encode("latin-1"))
