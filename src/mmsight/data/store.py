"""On-disk dataset store: one directory per dataset, one HDF5 file per sequence.

Layout of a dataset directory::

    <dataset>/
        dataset.yaml              manifest (schema version, name, config, splits, sequences, complete)
        .lock                     lock file for manifest updates (fcntl.flock)
        sequences/
            <sequence_id>.h5      one finished recording; present <=> completely written
            .<sequence_id>.h5.<pid>-<token>.tmp   a sequence being written (hidden, never read)

A sequence file only ever appears under its final name through ``os.replace`` of a fully written
and fsync'ed temporary file, so a reader never sees half a sequence. The manifest is derived from
the sequence files present when the dataset is finalized (``DatasetWriter.finalize``), so several
processes can write different sequences of the same dataset without coordinating: they never touch
the manifest while writing. See ``docs/data.md`` for every group and attribute.

Conventions (see the project architecture page): SI units, radar frame x right / y boresight /
z up, ``float32`` for real data, ``complex64`` for ADC samples.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import fcntl
import json
import os
import platform
import re
import secrets
import shutil
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import InitVar, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

import h5py
import numpy as np
import yaml

__all__ = [
    "CorruptSequenceError",
    "Dataset",
    "DatasetError",
    "DatasetWriter",
    "IncompleteDatasetError",
    "MANIFEST_NAME",
    "POINT_COLUMNS_DEFAULT",
    "RangeAzimuthMap",
    "RangeDopplerMap",
    "RecordValidationError",
    "SCHEMA_VERSION",
    "STREAMS",
    "SequenceInfo",
    "SequenceRecord",
    "open_dataset",
]

#: Version of the on-disk layout written by this module (manifest and sequence files).
SCHEMA_VERSION = 1
MANIFEST_NAME = "dataset.yaml"
SEQUENCES_DIR = "sequences"
LOCK_NAME = ".lock"
DATASET_FORMAT = "mmsight-dataset"
SEQUENCE_FORMAT = "mmsight-sequence"

#: Default point-cloud columns (architecture contract): metres, metres, metres, m/s, unitless.
POINT_COLUMNS_DEFAULT: tuple[str, ...] = ("x", "y", "z", "doppler", "snr")

#: Names of the optional streams of a :class:`SequenceRecord` (``timestamps`` is always present).
STREAMS: tuple[str, ...] = (
    "adc",
    "range_azimuth",
    "range_doppler",
    "points",
    "rgb",
    "depth",
    "skeleton",
    "calibration",
    "frame_labels",
    "sequence_labels",
)

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,99}$")
_TRANSFORM_RE = re.compile(r"^T_[A-Za-z0-9]+_from_[A-Za-z0-9]+$")

# Target size of one HDF5 chunk for streams that are chunked by groups of frames or rows.
_SMALL_CHUNK_BYTES = 64 * 1024
_GZIP_LEVEL = 1  # fast; level 4 saves ~10 % more space at twice the write time


# --------------------------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------------------------


class DatasetError(RuntimeError):
    """A dataset directory or one of its files cannot be used as asked."""


class IncompleteDatasetError(DatasetError):
    """The dataset was never finalized (interrupted or still being written)."""


class CorruptSequenceError(DatasetError):
    """A sequence file is unreadable, truncated, or not an mmsight sequence file."""


class RecordValidationError(ValueError):
    """A :class:`SequenceRecord` stream has the wrong dtype, shape or values."""


# --------------------------------------------------------------------------------------------
# records
# --------------------------------------------------------------------------------------------


@dataclass
class RangeAzimuthMap:
    """Range-azimuth maps of a sequence.

    Attributes:
        data: ``float32 [F, n_range, n_azimuth]`` power per bin, in ``unit``.
        range_m: ``[n_range]`` range-bin centres in metres, strictly increasing.
        azimuth_rad: ``[n_azimuth]`` azimuth-bin centres in radians (0 = boresight, + towards +x),
            strictly increasing.
        unit: ``"linear"`` (power) or ``"dB"``.
    """

    data: np.ndarray
    range_m: np.ndarray
    azimuth_rad: np.ndarray
    unit: Literal["linear", "dB"] = "linear"


@dataclass
class RangeDopplerMap:
    """Range-Doppler maps of a sequence.

    Attributes:
        data: ``float32 [F, n_range, n_doppler]`` power per bin, in ``unit``.
        range_m: ``[n_range]`` range-bin centres in metres, strictly increasing.
        velocity_mps: ``[n_doppler]`` radial-velocity bin centres in m/s, strictly increasing.
        unit: ``"linear"`` (power) or ``"dB"``.
    """

    data: np.ndarray
    range_m: np.ndarray
    velocity_mps: np.ndarray
    unit: Literal["linear", "dB"] = "linear"


def _err(msg: str) -> RecordValidationError:
    return RecordValidationError(msg)


def _describe(arr: Any) -> str:
    if isinstance(arr, np.ndarray):
        return f"{arr.dtype} array of shape {tuple(arr.shape)}"
    return f"{type(arr).__name__}"


def _check_array(
    stream: str, arr: Any, dtype: np.dtype | type, ndim: int, layout: str, n_frames: int | None
) -> np.ndarray:
    """Check type, dtype, rank and leading frame count of a stream array."""
    if not isinstance(arr, np.ndarray) or arr.dtype != np.dtype(dtype) or arr.ndim != ndim:
        raise _err(
            f"stream '{stream}': expected a numpy {np.dtype(dtype)} array {layout}, "
            f"got {_describe(arr)}"
        )
    if n_frames is not None and arr.shape[0] != n_frames:
        raise _err(
            f"stream '{stream}' has {arr.shape[0]} frames (shape {tuple(arr.shape)}) "
            f"but timestamps has {n_frames} frames"
        )
    return arr


def _first_bad_frame(stream: str, arr: np.ndarray, what: str = "non-finite value") -> None:
    """Raise naming the first frame of ``arr`` (frame-major) holding a non-finite value."""
    good = np.isfinite(arr)
    if not good.all():
        flat = good.reshape(arr.shape[0], -1).all(axis=1)
        frame = int(np.argmin(flat))
        raise _err(f"stream '{stream}': {what} in frame {frame}")


def _check_axis(stream: str, name: str, axis: Any, n: int) -> np.ndarray:
    try:
        a = np.asarray(axis, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise _err(f"stream '{stream}': axis '{name}' is not numeric ({exc})") from None
    if a.shape != (n,):
        raise _err(f"stream '{stream}': axis '{name}' must have shape ({n},), got {a.shape}")
    if not np.isfinite(a).all():
        raise _err(f"stream '{stream}': axis '{name}' has non-finite bin centres")
    if n > 1 and not (np.diff(a) > 0).all():
        raise _err(f"stream '{stream}': axis '{name}' must be strictly increasing")
    return a


def _plain(value: Any, where: str) -> Any:
    """Convert ``value`` to plain JSON/YAML types (dict, list, str, int, float, bool, None)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise ValueError(f"{where}: keys must be strings, got {k!r}")
            out[k] = _plain(v, f"{where}.{k}")
        return out
    if isinstance(value, (list, tuple)):
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    raise ValueError(f"{where}: cannot store a value of type {type(value).__name__}")


@dataclass
class SequenceRecord:
    """One recording: synchronized frames with timestamps and optional streams.

    ``F`` is the number of frames. Every stream present must have ``F`` frames. Arrays must have
    exactly the dtype given below (no silent casting); :meth:`validate` runs at construction and
    raises :class:`RecordValidationError` (a ``ValueError``) naming the stream, the offending
    shape and, for bad values, the frame.

    Attributes:
        sequence_id: file-safe id, ``[A-Za-z0-9][A-Za-z0-9._-]*`` (at most 200 characters).
        timestamps: ``float64 [F]`` seconds, finite and strictly increasing.
        adc: ``complex64 [F, n_loops, n_tx, n_rx, n_samples]`` raw ADC cube, TDM-MIMO order.
        range_azimuth: :class:`RangeAzimuthMap` with ``float32 [F, n_range, n_azimuth]``.
        range_doppler: :class:`RangeDopplerMap` with ``float32 [F, n_range, n_doppler]``.
        points: ``float32 [P, C]`` all frames' points, stored flat; finite.
        point_offsets: ``int64 [F + 1]``; frame ``i`` owns ``points[point_offsets[i]:point_offsets[i+1]]``.
        point_columns: ``C`` unique column names; the first three are ``x, y, z`` (metres, radar
            frame). Default ``x, y, z, doppler (m/s), snr``.
        rgb: ``uint8 [F, H, W, 3]``.
        depth: ``float32 [F, H, W]`` metres, 0 = no return; finite and >= 0.
        skeleton: ``float32 [F, J, 3]`` metres, radar frame. A missing joint is NaN in all three
            coordinates (see :attr:`skeleton_valid`); infinities and partly-NaN joints are errors.
        joint_names: ``J`` unique names, required with ``skeleton``.
        calibration: ``K`` (3x3 intrinsics), ``T_<to>_from_<from>`` (4x4 rigid transforms, e.g.
            ``T_radar_from_camera``), ``radar_config`` (dict), any other key: a numeric array or a
            JSON-serializable value.
        frame_labels: name -> array ``[F, ...]`` (numeric, bool or str).
        sequence_labels: name -> scalar (str, int, float, bool or None).
    """

    sequence_id: str
    timestamps: np.ndarray
    adc: np.ndarray | None = None
    range_azimuth: RangeAzimuthMap | None = None
    range_doppler: RangeDopplerMap | None = None
    points: np.ndarray | None = None
    point_offsets: np.ndarray | None = None
    point_columns: tuple[str, ...] = POINT_COLUMNS_DEFAULT
    rgb: np.ndarray | None = None
    depth: np.ndarray | None = None
    skeleton: np.ndarray | None = None
    joint_names: tuple[str, ...] | None = None
    calibration: dict[str, Any] | None = None
    frame_labels: dict[str, np.ndarray] = field(default_factory=dict)
    sequence_labels: dict[str, Any] = field(default_factory=dict)
    check: InitVar[bool] = True

    def __post_init__(self, check: bool) -> None:
        self.point_columns = tuple(self.point_columns)
        if self.joint_names is not None:
            self.joint_names = tuple(str(n) for n in self.joint_names)
        self.frame_labels = dict(self.frame_labels or {})
        self.sequence_labels = dict(self.sequence_labels or {})
        if check:
            self.validate()

    # ---- derived -------------------------------------------------------------------------

    @property
    def n_frames(self) -> int:
        """Number of frames ``F``."""
        return int(self.timestamps.shape[0])

    @property
    def streams(self) -> tuple[str, ...]:
        """Names of the optional streams present (subset of :data:`STREAMS`)."""
        out = []
        for name in STREAMS:
            v = getattr(self, name)
            if name in ("frame_labels", "sequence_labels"):
                if v:
                    out.append(name)
            elif v is not None:
                out.append(name)
        return tuple(out)

    @property
    def skeleton_valid(self) -> np.ndarray | None:
        """``bool [F, J]``: True where the joint is present (not NaN); None without skeleton."""
        if self.skeleton is None:
            return None
        return np.isfinite(self.skeleton).all(axis=-1)

    def frame_points(self, i: int) -> np.ndarray:
        """Points of frame ``i``: ``float32 [N_i, C]`` (a view)."""
        if self.points is None or self.point_offsets is None:
            raise ValueError(f"sequence '{self.sequence_id}' has no points stream")
        f = self.n_frames
        if not -f <= i < f:
            raise IndexError(f"frame {i} out of range for {f} frames")
        i %= f
        return self.points[self.point_offsets[i] : self.point_offsets[i + 1]]

    # ---- validation ----------------------------------------------------------------------

    def validate(self) -> None:  # noqa: C901 - one linear list of checks reads best
        """Check every stream; raise :class:`RecordValidationError` on the first problem."""
        sid = self.sequence_id
        if not isinstance(sid, str) or not _ID_RE.match(sid):
            raise _err(
                f"sequence_id {sid!r} is not a valid id: use 1-200 characters "
                "[A-Za-z0-9._-], starting with a letter or digit"
            )
        t = self.timestamps
        if not isinstance(t, np.ndarray) or t.dtype != np.float64 or t.ndim != 1:
            raise _err(f"stream 'timestamps': expected a numpy float64 array [F], got {_describe(t)}")
        f = t.shape[0]
        if f == 0:
            raise _err("stream 'timestamps': a sequence needs at least one frame, got 0")
        bad = ~np.isfinite(t)
        if bad.any():
            raise _err(f"stream 'timestamps': non-finite timestamp {t[bad][0]} at frame {int(np.argmax(bad))}")
        if f > 1:
            d = np.diff(t)
            if not (d > 0).all():
                i = int(np.argmax(d <= 0)) + 1
                raise _err(
                    f"stream 'timestamps': must be strictly increasing, but frame {i} has "
                    f"t={t[i]!r} <= frame {i - 1} t={t[i - 1]!r}"
                )

        if self.adc is not None:
            a = _check_array("adc", self.adc, np.complex64, 5, "[F, n_loops, n_tx, n_rx, n_samples]", f)
            _first_bad_frame("adc", a)

        for name, axis_name, unit_axes in (
            ("range_azimuth", "azimuth_rad", "[F, n_range, n_azimuth]"),
            ("range_doppler", "velocity_mps", "[F, n_range, n_doppler]"),
        ):
            m = getattr(self, name)
            if m is None:
                continue
            expected_cls = RangeAzimuthMap if name == "range_azimuth" else RangeDopplerMap
            if not isinstance(m, expected_cls):
                raise _err(f"stream '{name}': expected a {expected_cls.__name__}, got {type(m).__name__}")
            d = _check_array(name, m.data, np.float32, 3, unit_axes, f)
            _first_bad_frame(name, d)
            m.range_m = _check_axis(name, "range_m", m.range_m, d.shape[1])
            setattr(m, axis_name, _check_axis(name, axis_name, getattr(m, axis_name), d.shape[2]))
            if m.unit not in ("linear", "dB"):
                raise _err(f"stream '{name}': unit must be 'linear' or 'dB', got {m.unit!r}")
            if m.unit == "linear" and (d < 0).any():
                frame = int(np.argmax((d < 0).reshape(f, -1).any(axis=1)))
                raise _err(f"stream '{name}': negative linear power in frame {frame}")

        if (self.points is None) != (self.point_offsets is None):
            raise _err("streams 'points' and 'point_offsets' must be given together")
        if self.points is not None:
            p = self.points
            if not isinstance(p, np.ndarray) or p.dtype != np.float32 or p.ndim != 2:
                raise _err(f"stream 'points': expected a numpy float32 array [P, C], got {_describe(p)}")
            cols = self.point_columns
            if len(cols) != p.shape[1]:
                raise _err(
                    f"stream 'points': {p.shape[1]} columns (shape {tuple(p.shape)}) but "
                    f"point_columns names {len(cols)}: {list(cols)}"
                )
            if len(set(cols)) != len(cols) or not all(isinstance(c, str) and _NAME_RE.match(c) for c in cols):
                raise _err(f"stream 'points': point_columns must be unique identifiers, got {list(cols)}")
            if cols[:3] != ("x", "y", "z"):
                raise _err(f"stream 'points': the first three point_columns must be x, y, z, got {list(cols)}")
            o = self.point_offsets
            if not isinstance(o, np.ndarray) or o.dtype != np.int64 or o.ndim != 1:
                raise _err(f"stream 'point_offsets': expected a numpy int64 array [F+1], got {_describe(o)}")
            if o.shape[0] != f + 1:
                raise _err(
                    f"stream 'point_offsets' has {o.shape[0]} entries but timestamps has {f} frames "
                    f"(need F+1 = {f + 1})"
                )
            if o[0] != 0:
                raise _err(f"stream 'point_offsets': must start at 0, got {int(o[0])}")
            steps = np.diff(o)
            if (steps < 0).any():
                i = int(np.argmax(steps < 0))
                raise _err(
                    f"stream 'point_offsets': decreasing at frame {i} "
                    f"(offsets[{i}]={int(o[i])} > offsets[{i + 1}]={int(o[i + 1])})"
                )
            if o[-1] != p.shape[0]:
                raise _err(
                    f"stream 'point_offsets': last offset {int(o[-1])} != number of points {p.shape[0]}"
                )
            good = np.isfinite(p)
            if not good.all():
                row, col = (int(v[0]) for v in np.nonzero(~good))
                frame = int(np.searchsorted(o, row, side="right") - 1)
                raise _err(
                    f"stream 'points': non-finite value {p[row, col]} in frame {frame} "
                    f"(point row {row}, column '{cols[col]}')"
                )

        if self.rgb is not None:
            _check_array("rgb", self.rgb, np.uint8, 4, "[F, H, W, 3]", f)
            if self.rgb.shape[3] != 3:
                raise _err(f"stream 'rgb': expected uint8 [F, H, W, 3], got shape {tuple(self.rgb.shape)}")

        if self.depth is not None:
            dd = _check_array("depth", self.depth, np.float32, 3, "[F, H, W] (metres)", f)
            _first_bad_frame("depth", dd)
            if (dd < 0).any():
                frame = int(np.argmax((dd < 0).reshape(f, -1).any(axis=1)))
                raise _err(f"stream 'depth': negative depth in frame {frame} (0 means no return)")

        if self.skeleton is not None:
            s = _check_array("skeleton", self.skeleton, np.float32, 3, "[F, J, 3]", f)
            if s.shape[2] != 3:
                raise _err(f"stream 'skeleton': expected float32 [F, J, 3], got shape {tuple(s.shape)}")
            if self.joint_names is None or len(self.joint_names) != s.shape[1]:
                n = None if self.joint_names is None else len(self.joint_names)
                raise _err(f"stream 'skeleton': has {s.shape[1]} joints but joint_names has {n} names")
            if len(set(self.joint_names)) != len(self.joint_names):
                raise _err("stream 'skeleton': joint_names must be unique")
            if np.isinf(s).any():
                frame = int(np.argmax(np.isinf(s).reshape(f, -1).any(axis=1)))
                raise _err(f"stream 'skeleton': infinite coordinate in frame {frame}")
            nan = np.isnan(s)
            partial = nan.any(axis=2) & ~nan.all(axis=2)
            if partial.any():
                frame, joint = (int(v[0]) for v in np.nonzero(partial))
                raise _err(
                    f"stream 'skeleton': joint '{self.joint_names[joint]}' in frame {frame} is partly NaN; "
                    "a missing joint must be NaN in all three coordinates"
                )
        elif self.joint_names is not None:
            raise _err("joint_names given without a skeleton stream")

        if self.calibration is not None:
            self.calibration = _validate_calibration(self.calibration)

        if not isinstance(self.frame_labels, dict):
            raise _err("frame_labels must be a dict name -> array [F, ...]")
        for name, arr in self.frame_labels.items():
            if not isinstance(name, str) or not _NAME_RE.match(name):
                raise _err(f"frame_labels: invalid label name {name!r}")
            if not isinstance(arr, np.ndarray) or arr.ndim < 1 or arr.dtype.kind not in "biufU":
                raise _err(
                    f"frame_labels['{name}']: expected a numeric, bool or str numpy array [F, ...], "
                    f"got {_describe(arr)}"
                )
            if arr.shape[0] != f:
                raise _err(
                    f"frame_labels['{name}'] has {arr.shape[0]} frames (shape {tuple(arr.shape)}) "
                    f"but timestamps has {f} frames"
                )
        for name, value in self.sequence_labels.items():
            if not isinstance(name, str) or not _NAME_RE.match(name):
                raise _err(f"sequence_labels: invalid label name {name!r}")
            if isinstance(value, np.generic):
                value = value.item()
                self.sequence_labels[name] = value
            if value is not None and not isinstance(value, (str, int, float, bool)):
                raise _err(
                    f"sequence_labels['{name}']: expected a scalar (str, int, float, bool, None), "
                    f"got {type(value).__name__}"
                )

    # ---- slicing -------------------------------------------------------------------------

    def select_frames(self, start: int, stop: int) -> SequenceRecord:
        """Frames ``start:stop`` of every per-frame stream (views where possible)."""
        f = self.n_frames
        start, stop, _ = slice(start, stop).indices(f)
        if stop <= start:
            raise ValueError(f"empty frame range {start}:{stop} of {f} frames")
        kw: dict[str, Any] = {}
        for fl in fields(self):
            kw[fl.name] = getattr(self, fl.name)
        kw["timestamps"] = self.timestamps[start:stop]
        for name in ("adc", "rgb", "depth", "skeleton"):
            if kw[name] is not None:
                kw[name] = kw[name][start:stop]
        for name in ("range_azimuth", "range_doppler"):
            if kw[name] is not None:
                kw[name] = replace(kw[name], data=kw[name].data[start:stop])
        if self.points is not None:
            o = self.point_offsets
            kw["points"] = self.points[o[start] : o[stop]]
            kw["point_offsets"] = o[start : stop + 1] - o[start]
        kw["frame_labels"] = {k: v[start:stop] for k, v in self.frame_labels.items()}
        return SequenceRecord(**kw, check=False)


def _validate_calibration(cal: Any) -> dict[str, Any]:
    if not isinstance(cal, Mapping):
        raise _err(f"stream 'calibration': expected a dict, got {type(cal).__name__}")
    out: dict[str, Any] = {}
    for key, value in cal.items():
        if not isinstance(key, str) or not _NAME_RE.match(key):
            raise _err(f"stream 'calibration': invalid key {key!r}")
        if key == "K" or _TRANSFORM_RE.match(key):
            shape = (3, 3) if key == "K" else (4, 4)
            try:
                m = np.asarray(value, dtype=np.float64)
            except (TypeError, ValueError):
                raise _err(f"stream 'calibration': '{key}' is not a numeric matrix") from None
            if m.shape != shape or not np.isfinite(m).all():
                raise _err(
                    f"stream 'calibration': '{key}' must be a finite {shape[0]}x{shape[1]} matrix, "
                    f"got shape {m.shape}"
                )
            if key != "K" and not np.allclose(m[3], [0.0, 0.0, 0.0, 1.0], atol=1e-6):
                raise _err(f"stream 'calibration': '{key}' last row must be [0, 0, 0, 1], got {m[3].tolist()}")
            out[key] = m
        elif key == "radar_config":
            if not isinstance(value, Mapping):
                raise _err(f"stream 'calibration': 'radar_config' must be a dict, got {type(value).__name__}")
            try:
                out[key] = _plain(value, "calibration.radar_config")
            except ValueError as exc:
                raise _err(f"stream 'calibration': {exc}") from None
        elif isinstance(value, np.ndarray):
            if value.dtype.kind not in "biuf":
                raise _err(f"stream 'calibration': array '{key}' must be numeric, got {value.dtype}")
            out[key] = value
        else:
            try:
                out[key] = _plain(value, f"calibration.{key}")
            except ValueError as exc:
                raise _err(f"stream 'calibration': {exc}") from None
    return out


# --------------------------------------------------------------------------------------------
# HDF5 sequence files
# --------------------------------------------------------------------------------------------


def _chunks_per_frame(shape: tuple[int, ...]) -> tuple[int, ...]:
    """One frame per chunk (ADC cubes, maps, images)."""
    return (1, *shape[1:])


def _chunks_grouped(shape: tuple[int, ...], itemsize: int) -> tuple[int, ...]:
    """Group frames (or rows) so that one chunk holds about 64 KiB."""
    per = max(1, int(np.prod(shape[1:], dtype=np.int64)) * itemsize)
    n = int(min(shape[0], max(1, _SMALL_CHUNK_BYTES // per)))
    return (n, *shape[1:])


def _create(group: h5py.Group, name: str, data: np.ndarray, per_frame: bool) -> h5py.Dataset:
    if data.size == 0:
        return group.create_dataset(name, data=data)
    chunks = _chunks_per_frame(data.shape) if per_frame else _chunks_grouped(data.shape, data.dtype.itemsize)
    return group.create_dataset(
        name, data=data, chunks=chunks, compression="gzip", compression_opts=_GZIP_LEVEL, shuffle=True
    )


def _str_dataset(group: h5py.Group, name: str, values: np.ndarray) -> h5py.Dataset:
    ds = group.create_dataset(name, data=values.astype(object), dtype=h5py.string_dtype("utf-8"))
    ds.attrs["kind"] = "str"
    return ds


def _write_record(f: h5py.File, rec: SequenceRecord) -> None:
    """Write all streams of ``rec`` into an open, empty HDF5 file."""
    f.attrs["format"] = SEQUENCE_FORMAT
    f.attrs["schema_version"] = SCHEMA_VERSION
    f.attrs["sequence_id"] = rec.sequence_id
    f.attrs["n_frames"] = rec.n_frames
    f.attrs["streams"] = json.dumps(list(rec.streams))
    f.attrs["created_utc"] = _utcnow()
    f.attrs["complete"] = False
    _create(f, "timestamps", rec.timestamps, per_frame=False)
    if rec.adc is not None:
        _create(f, "adc", rec.adc, per_frame=True)
    if rec.range_azimuth is not None:
        _write_map(f, "range_azimuth", rec.range_azimuth.data, rec.range_azimuth.unit,
                   {"range_m": rec.range_azimuth.range_m, "azimuth_rad": rec.range_azimuth.azimuth_rad})
    if rec.range_doppler is not None:
        _write_map(f, "range_doppler", rec.range_doppler.data, rec.range_doppler.unit,
                   {"range_m": rec.range_doppler.range_m, "velocity_mps": rec.range_doppler.velocity_mps})
    if rec.points is not None:
        _write_points(f, rec)
    if rec.rgb is not None:
        _create(f, "rgb", rec.rgb, per_frame=True)
    if rec.depth is not None:
        _create(f, "depth", rec.depth, per_frame=True).attrs["unit"] = "m"
    if rec.skeleton is not None:
        g = f.create_group("skeleton")
        _create(g, "data", rec.skeleton, per_frame=False).attrs["unit"] = "m"
        g.create_dataset("valid", data=rec.skeleton_valid)
        g.attrs["joint_names"] = list(rec.joint_names or ())
    if rec.calibration is not None:
        g = f.create_group("calibration")
        extras = {}
        for key, value in rec.calibration.items():
            if isinstance(value, np.ndarray):
                g.create_dataset(key, data=value)
            else:
                extras[key] = value
        g.attrs["json"] = json.dumps(extras)
    if rec.frame_labels:
        g = f.create_group("frame_labels")
        for name, arr in rec.frame_labels.items():
            if arr.dtype.kind == "U":
                _str_dataset(g, name, arr)
            else:
                _create(g, name, arr, per_frame=False)
    if rec.sequence_labels:
        g = f.create_group("sequence_labels")
        for name, value in rec.sequence_labels.items():
            g.attrs[name] = json.dumps(value)
    f.attrs["complete"] = True


def _write_map(f: h5py.File, name: str, data: np.ndarray, unit: str, axes: dict[str, np.ndarray]) -> None:
    g = f.create_group(name)
    _create(g, "data", data, per_frame=True)
    for axis_name, values in axes.items():
        g.create_dataset(axis_name, data=np.asarray(values, dtype=np.float64))
    g.attrs["unit"] = unit
    g.attrs["axes"] = ["frame", *axes.keys()]


def _write_points(f: h5py.File, rec: SequenceRecord) -> None:
    g = f.create_group("points")
    assert rec.points is not None and rec.point_offsets is not None
    _create(g, "data", rec.points, per_frame=False)
    _create(g, "offsets", rec.point_offsets, per_frame=False)
    g.attrs["columns"] = list(rec.point_columns)


def _utcnow() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


@dataclass(frozen=True)
class SequenceInfo:
    """What a sequence file holds, read from its metadata without loading the data.

    Attributes:
        sequence_id: the id.
        n_frames: ``F``.
        streams: names of the optional streams present.
        shapes: stream (or ``stream/member``) -> array shape, e.g. ``{"points": (P, C)}``.
        n_points: ``P`` (0 without a points stream).
        point_columns: names of the point columns (empty without points).
        joint_names: names of the skeleton joints (empty without skeleton).
        sequence_labels: the sequence labels.
        start_time: first timestamp (s).
        duration_s: last minus first timestamp (s).
    """

    sequence_id: str
    n_frames: int
    streams: tuple[str, ...]
    shapes: dict[str, tuple[int, ...]]
    n_points: int
    point_columns: tuple[str, ...]
    joint_names: tuple[str, ...]
    sequence_labels: dict[str, Any]
    start_time: float
    duration_s: float


def _decode(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return value


def _str_list(value: Any) -> tuple[str, ...]:
    return tuple(_decode(v) for v in np.asarray(value).tolist())


class _SequenceFile:
    """Context manager opening a sequence file read-only, turning h5py failures into errors
    that name the file."""

    def __init__(self, path: Path, sequence_id: str) -> None:
        self.path = path
        self.sequence_id = sequence_id
        self.f: h5py.File | None = None

    def __enter__(self) -> h5py.File:
        if not self.path.exists():
            raise DatasetError(f"sequence '{self.sequence_id}': file {self.path} is missing")
        try:
            self.f = h5py.File(self.path, "r", locking=False)
        except OSError as exc:
            raise CorruptSequenceError(
                f"sequence file {self.path} cannot be opened as HDF5 (truncated or corrupt?): {exc}"
            ) from None
        f = self.f
        fmt = _decode(f.attrs.get("format"))
        if fmt != SEQUENCE_FORMAT:
            f.close()
            raise CorruptSequenceError(f"{self.path} is not an mmsight sequence file (format={fmt!r})")
        ver = int(f.attrs.get("schema_version", -1))
        if ver > SCHEMA_VERSION or ver < 1:
            f.close()
            raise CorruptSequenceError(
                f"{self.path} has schema_version {ver}; this mmsight reads versions 1..{SCHEMA_VERSION}"
            )
        if not bool(f.attrs.get("complete", False)):
            f.close()
            raise CorruptSequenceError(f"{self.path} was not completely written (complete=False)")
        sid = _decode(f.attrs.get("sequence_id"))
        if sid != self.sequence_id:
            f.close()
            raise CorruptSequenceError(f"{self.path} holds sequence {sid!r}, expected {self.sequence_id!r}")
        return f

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if self.f is not None:
            self.f.close()
        # h5py reports damaged files as OSError / KeyError / RuntimeError; ValueError and
        # IndexError are the caller's mistakes and pass through unchanged.
        if isinstance(exc, (OSError, KeyError, RuntimeError)) and not isinstance(exc, DatasetError):
            raise CorruptSequenceError(f"cannot read sequence file {self.path}: {type(exc).__name__}: {exc}") from exc


def _read_info(path: Path, sequence_id: str) -> SequenceInfo:
    with _SequenceFile(path, sequence_id) as f:
        streams = tuple(json.loads(_decode(f.attrs["streams"])))
        n_frames = int(f.attrs["n_frames"])
        shapes: dict[str, tuple[int, ...]] = {}

        def visit(name: str, obj: Any) -> None:
            if isinstance(obj, h5py.Dataset):
                shapes[name] = tuple(int(s) for s in obj.shape)

        f.visititems(visit)
        pcols = _str_list(f["points"].attrs["columns"]) if "points" in f else ()
        n_points = shapes.get("points/data", (0,))[0]
        joints = _str_list(f["skeleton"].attrs["joint_names"]) if "skeleton" in f else ()
        labels = _read_sequence_labels(f)
        ts = f["timestamps"]
        t0, t1 = float(ts[0]), float(ts[n_frames - 1])
        return SequenceInfo(sequence_id, n_frames, streams, shapes, int(n_points), pcols, joints, labels, t0, t1 - t0)


def _read_header(path: Path, sequence_id: str) -> dict[str, Any]:
    """``n_frames``, ``n_points`` and ``streams`` of a sequence file (attributes and shapes only)."""
    with _SequenceFile(path, sequence_id) as f:
        return {
            "n_frames": int(f.attrs["n_frames"]),
            "n_points": int(f["points/data"].shape[0]) if "points" in f else 0,
            "streams": list(json.loads(_decode(f.attrs["streams"]))),
        }


def _read_sequence_labels(f: h5py.File) -> dict[str, Any]:
    if "sequence_labels" not in f:
        return {}
    return {k: json.loads(_decode(v)) for k, v in f["sequence_labels"].attrs.items()}


def _read_record(
    path: Path, sequence_id: str, streams: Iterable[str] | None, frames: slice | None
) -> SequenceRecord:
    wanted = set(STREAMS) if streams is None else set(streams)
    unknown = wanted - set(STREAMS) - {"timestamps", "point_offsets"}
    if unknown:
        raise ValueError(f"unknown stream name(s) {sorted(unknown)}; known: {list(STREAMS)}")
    with _SequenceFile(path, sequence_id) as f:
        n = int(f.attrs["n_frames"])
        if frames is None:
            start, stop = 0, n
        else:
            start, stop, step = frames.indices(n)
            if step != 1 or stop <= start:
                raise ValueError(f"frames must be a non-empty slice with step 1, got {frames} for {n} frames")
        sl = np.s_[start:stop]
        kw: dict[str, Any] = {"sequence_id": sequence_id, "timestamps": f["timestamps"][sl]}
        if "adc" in wanted and "adc" in f:
            kw["adc"] = f["adc"][sl]
        if "range_azimuth" in wanted and "range_azimuth" in f:
            g = f["range_azimuth"]
            kw["range_azimuth"] = RangeAzimuthMap(
                g["data"][sl], g["range_m"][()], g["azimuth_rad"][()], _decode(g.attrs["unit"])
            )
        if "range_doppler" in wanted and "range_doppler" in f:
            g = f["range_doppler"]
            kw["range_doppler"] = RangeDopplerMap(
                g["data"][sl], g["range_m"][()], g["velocity_mps"][()], _decode(g.attrs["unit"])
            )
        if "points" in wanted and "points" in f:
            g = f["points"]
            off = g["offsets"][start : stop + 1]
            kw["points"] = g["data"][off[0] : off[-1]] if off[-1] > off[0] else np.zeros(
                (0, g["data"].shape[1]), np.float32
            )
            kw["point_offsets"] = (off - off[0]).astype(np.int64)
            kw["point_columns"] = _str_list(g.attrs["columns"])
        if "rgb" in wanted and "rgb" in f:
            kw["rgb"] = f["rgb"][sl]
        if "depth" in wanted and "depth" in f:
            kw["depth"] = f["depth"][sl]
        if "skeleton" in wanted and "skeleton" in f:
            g = f["skeleton"]
            kw["skeleton"] = g["data"][sl]
            kw["joint_names"] = _str_list(g.attrs["joint_names"])
        if "calibration" in wanted and "calibration" in f:
            g = f["calibration"]
            cal: dict[str, Any] = {k: g[k][()] for k in g.keys()}
            cal.update(json.loads(_decode(g.attrs["json"])))
            kw["calibration"] = cal
        if "frame_labels" in wanted and "frame_labels" in f:
            labels = {}
            for k, ds in f["frame_labels"].items():
                if _decode(ds.attrs.get("kind", "")) == "str":
                    labels[k] = np.array(ds.asstr()[sl].tolist(), dtype=str)
                else:
                    labels[k] = ds[sl]
            kw["frame_labels"] = labels
        if "sequence_labels" in wanted:
            kw["sequence_labels"] = _read_sequence_labels(f)
        return SequenceRecord(**kw, check=False)


def _read_frame_points(path: Path, sequence_id: str, i: int) -> np.ndarray:
    with _SequenceFile(path, sequence_id) as f:
        if "points" not in f:
            raise ValueError(f"sequence '{sequence_id}' has no points stream")
        n = int(f.attrs["n_frames"])
        if not -n <= i < n:
            raise IndexError(f"frame {i} out of range for sequence '{sequence_id}' with {n} frames")
        i %= n
        g = f["points"]
        a, b = (int(v) for v in g["offsets"][i : i + 2])
        return g["data"][a:b] if b > a else np.zeros((0, g["data"].shape[1]), np.float32)


# --------------------------------------------------------------------------------------------
# manifest
# --------------------------------------------------------------------------------------------

_MANIFEST_KEYS = {
    "format": str,
    "schema_version": int,
    "name": str,
    "task": (str, type(None)),
    "description": str,
    "meta": dict,
    "config": dict,
    "created": dict,
    "finalized": (str, type(None)),
    "complete": bool,
    "splits": dict,
    "sequences": dict,
}
_REQUIRED_KEYS = ("format", "schema_version", "name", "complete", "splits", "sequences")

_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _load_manifest(root: Path) -> dict[str, Any]:
    path = root / MANIFEST_NAME
    if not path.exists():
        raise DatasetError(f"{root} is not an mmsight dataset: {MANIFEST_NAME} not found")
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
    except yaml.YAMLError as exc:
        raise DatasetError(f"manifest {path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise DatasetError(f"manifest {path} must be a mapping, got {type(data).__name__}")
    unknown = sorted(set(data) - set(_MANIFEST_KEYS))
    if unknown:
        raise DatasetError(
            f"manifest {path} has unknown key(s) {unknown}; schema_version {SCHEMA_VERSION} "
            f"allows {sorted(_MANIFEST_KEYS)} (free-form information belongs under 'meta')"
        )
    missing = [k for k in _REQUIRED_KEYS if k not in data]
    if missing:
        raise DatasetError(f"manifest {path} lacks required key(s) {missing}")
    for key, typ in _MANIFEST_KEYS.items():
        if key in data and not isinstance(data[key], typ):
            raise DatasetError(f"manifest {path}: '{key}' has type {type(data[key]).__name__}, expected {typ}")
    if data["format"] != DATASET_FORMAT:
        raise DatasetError(f"manifest {path}: format is {data['format']!r}, expected {DATASET_FORMAT!r}")
    if not 1 <= data["schema_version"] <= SCHEMA_VERSION:
        raise DatasetError(
            f"manifest {path}: schema_version {data['schema_version']} is not supported "
            f"(this mmsight reads 1..{SCHEMA_VERSION}); upgrade mmsight"
        )
    for split, ids in data["splits"].items():
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise DatasetError(f"manifest {path}: split '{split}' must be a list of sequence ids")
    for sid, entry in data["sequences"].items():
        if not isinstance(entry, dict) or not isinstance(entry.get("n_frames"), int):
            raise DatasetError(f"manifest {path}: sequence '{sid}' entry must have an integer n_frames")
    return data


def _check_is_dataset(root: Path) -> None:
    """Raise unless ``root/dataset.yaml`` parses and says ``format: mmsight-dataset`` (lenient on the
    rest, so that a damaged dataset can still be overwritten)."""
    try:
        data = yaml.load((root / MANIFEST_NAME).read_text(encoding="utf-8"), Loader=_Loader)
    except (OSError, yaml.YAMLError) as exc:
        raise DatasetError(f"{root} does not look like an mmsight dataset ({exc}); refusing to delete it") from None
    if not isinstance(data, dict) or data.get("format") != DATASET_FORMAT:
        raise DatasetError(f"{root / MANIFEST_NAME} is not an mmsight manifest; refusing to delete {root}")


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def _write_manifest(root: Path, manifest: dict[str, Any]) -> None:
    text = yaml.dump(manifest, Dumper=_Dumper, sort_keys=False, default_flow_style=None, allow_unicode=True, width=100)
    _atomic_write_text(root / MANIFEST_NAME, text)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def _locked(root: Path) -> Iterator[None]:
    """Exclusive ``fcntl.flock`` on ``<root>/.lock`` (serializes manifest changes)."""
    fd = os.open(root / LOCK_NAME, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _is_temp(name: str) -> bool:
    return name.startswith(".") and name.endswith(".tmp")


def _sweep_temps(seq_dir: Path) -> tuple[list[str], list[str]]:
    """Remove temp files left by dead writers; return (removed, in_progress) file names.

    A live writer holds an exclusive ``flock`` on its temp file for the whole write, so a temp file
    that can be locked here belongs to a writer that is gone.
    """
    removed, busy = [], []
    if not seq_dir.is_dir():
        return removed, busy
    for entry in sorted(os.listdir(seq_dir)):
        if not _is_temp(entry):
            continue
        p = seq_dir / entry
        try:
            fd = os.open(p, os.O_RDONLY)
        except FileNotFoundError:
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    busy.append(entry)
                    continue
                raise
            try:
                if os.stat(p).st_ino == os.fstat(fd).st_ino:
                    os.unlink(p)
                    removed.append(entry)
            except FileNotFoundError:
                pass
        finally:
            os.close(fd)
    return removed, busy


def _scan_sequences(seq_dir: Path) -> list[str]:
    if not seq_dir.is_dir():
        return []
    return sorted(n[: -len(".h5")] for n in os.listdir(seq_dir) if n.endswith(".h5") and not n.startswith("."))


# --------------------------------------------------------------------------------------------
# writer
# --------------------------------------------------------------------------------------------


class DatasetWriter:
    """Write a dataset directory sequence by sequence, atomically and resumably.

    Args:
        path: the dataset directory (created if needed).
        name: dataset name (default: the directory name).
        task: what the dataset is for, e.g. ``"pose"``, ``"activity"``, ``"anomaly"``.
        description: free text.
        meta: free-form metadata (source, licence, units...), stored in the manifest.
        config: the configuration that produced the data (plain dict), stored in the manifest.
        overwrite: delete an existing dataset at ``path`` first.
        resume: continue an existing, unfinished dataset: completed sequences stay (use
            :meth:`has_sequence` to skip them) and temp files of dead writers are removed. If
            ``config`` is given it must equal the stored one. Also the way for extra worker
            processes to attach to a dataset being written.

    Several processes may each hold a writer on the same directory (``resume=True``) and write
    different sequences concurrently; one of them calls :meth:`finalize` at the end.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        name: str | None = None,
        task: str | None = None,
        description: str = "",
        meta: Mapping[str, Any] | None = None,
        config: Mapping[str, Any] | None = None,
        overwrite: bool = False,
        resume: bool = False,
    ) -> None:
        if overwrite and resume:
            raise ValueError("overwrite and resume are mutually exclusive")
        self.path = Path(path)
        self.seq_dir = self.path / SEQUENCES_DIR
        self._closed = False
        plain_config = _plain(dict(config or {}), "config")
        plain_meta = _plain(dict(meta or {}), "meta")
        if self.path.exists() and not self.path.is_dir():
            raise DatasetError(f"{self.path} exists and is not a directory")
        if self.path.is_dir() and not (self.path / MANIFEST_NAME).exists():
            self._refuse_foreign_dir()
        self.path.mkdir(parents=True, exist_ok=True)
        with _locked(self.path):
            manifest_path = self.path / MANIFEST_NAME
            exists = manifest_path.exists()
            if exists and overwrite:
                _check_is_dataset(self.path)  # refuse to delete something that is not a dataset
                shutil.rmtree(self.seq_dir, ignore_errors=True)
                manifest_path.unlink()
                exists = False
            if exists:
                if not resume:
                    raise DatasetError(
                        f"a dataset already exists at {self.path}; pass resume=True to continue it "
                        "or overwrite=True to replace it"
                    )
                manifest = _load_manifest(self.path)
                if manifest["complete"]:
                    raise DatasetError(
                        f"dataset at {self.path} is already complete; use overwrite=True to rewrite it"
                    )
                if config is not None and manifest.get("config", {}) != plain_config:
                    diff = sorted(
                        k
                        for k in set(plain_config) | set(manifest.get("config", {}))
                        if plain_config.get(k) != manifest.get("config", {}).get(k)
                    )
                    raise DatasetError(
                        f"cannot resume {self.path}: the config differs from the one it was started with "
                        f"(keys {diff}); use overwrite=True to start again"
                    )
                self.manifest = manifest
                self.removed_temps, _ = _sweep_temps(self.seq_dir)
            else:
                self._refuse_foreign_dir()
                self.seq_dir.mkdir(exist_ok=True)
                from mmsight import __version__

                self.manifest = {
                    "format": DATASET_FORMAT,
                    "schema_version": SCHEMA_VERSION,
                    "name": name or self.path.resolve().name,
                    "task": task,
                    "description": description,
                    "meta": plain_meta,
                    "config": plain_config,
                    "created": {
                        "utc": _utcnow(),
                        "mmsight_version": __version__,
                        "python": platform.python_version(),
                        "h5py": h5py.__version__,
                        "hdf5": h5py.version.hdf5_version,
                    },
                    "finalized": None,
                    "complete": False,
                    "splits": {},
                    "sequences": {},
                }
                _write_manifest(self.path, self.manifest)
                self.removed_temps = []

    def _refuse_foreign_dir(self) -> None:
        others = [e for e in os.listdir(self.path) if e != LOCK_NAME]
        if others:
            raise DatasetError(
                f"{self.path} is not empty and holds no {MANIFEST_NAME}, so it is not an mmsight dataset; "
                f"refusing to write a dataset into it (found {sorted(others)[:5]})"
            )

    # ---------------------------------------------------------------------------------------

    def _seq_path(self, sequence_id: str) -> Path:
        if not isinstance(sequence_id, str) or not _ID_RE.match(sequence_id):
            raise ValueError(f"invalid sequence id {sequence_id!r}")
        return self.seq_dir / f"{sequence_id}.h5"

    def has_sequence(self, sequence_id: str) -> bool:
        """True if the sequence was completely written (by any process)."""
        return self._seq_path(sequence_id).exists()

    @property
    def sequence_ids(self) -> list[str]:
        """Ids of the sequences completely written so far (sorted)."""
        return _scan_sequences(self.seq_dir)

    def write_sequence(self, record: SequenceRecord, *, replace: bool = False) -> Path:
        """Validate ``record`` and write it atomically; return the final file path.

        The data goes to a hidden temp file in ``sequences/`` (locked with ``flock`` while it is
        written), is fsync'ed, then renamed to ``<sequence_id>.h5`` with ``os.replace``. If anything
        fails, the temp file is removed and nothing becomes visible.

        Raises:
            RecordValidationError: bad stream (message names the stream, shape or frame).
            FileExistsError: the sequence exists and ``replace`` is False.
        """
        if self._closed:
            raise DatasetError(f"writer for {self.path} is finalized; open a new one to write")
        record.validate()
        final = self._seq_path(record.sequence_id)
        if final.exists() and not replace:
            raise FileExistsError(
                f"sequence '{record.sequence_id}' already exists in {self.path} "
                "(check has_sequence() to skip it, or pass replace=True)"
            )
        while True:
            tmp = self.seq_dir / f".{record.sequence_id}.h5.{os.getpid()}-{secrets.token_hex(4)}.tmp"
            fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o644)
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                if os.stat(tmp).st_ino == os.fstat(fd).st_ino:
                    break
            except FileNotFoundError:
                pass
            os.close(fd)  # a sweeper removed it between create and lock: try another name
        try:
            with h5py.File(tmp, "w", locking=False) as f:
                _write_record(f, record)
            os.fsync(fd)
            os.replace(tmp, final)
            _fsync_dir(self.seq_dir)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        finally:
            os.close(fd)
        return final

    def finalize(self, splits: Mapping[str, Sequence[str]] | None = None) -> Dataset:
        """Derive the manifest from the sequence files present, set the splits, mark complete.

        Args:
            splits: split name -> sequence ids (usually ``train``/``validate``/``test``). Every id
                must exist; an id may belong to one split only. Sequences in no split are allowed.

        Returns:
            The finished dataset, opened for reading.

        Raises:
            DatasetError: another process is still writing a sequence, or a file is corrupt.
            ValueError: bad splits.
        """
        if self._closed:
            raise DatasetError(f"writer for {self.path} is already finalized")
        with _locked(self.path):
            _, busy = _sweep_temps(self.seq_dir)
            if busy:
                raise DatasetError(
                    f"cannot finalize {self.path}: sequence file(s) still being written by another process: {busy}"
                )
            ids = _scan_sequences(self.seq_dir)
            entries: dict[str, Any] = {}
            for sid in ids:
                entries[sid] = _read_header(self.seq_dir / f"{sid}.h5", sid)
            split_map: dict[str, list[str]] = {}
            seen: dict[str, str] = {}
            for split, members in (splits or {}).items():
                if not isinstance(split, str) or not _NAME_RE.match(split):
                    raise ValueError(f"invalid split name {split!r}")
                members = list(members)
                missing = [m for m in members if m not in entries]
                if missing:
                    raise ValueError(
                        f"split '{split}' names {len(missing)} sequence(s) not in the dataset, e.g. {missing[:3]}"
                    )
                for m in members:
                    if m in seen:
                        raise ValueError(f"sequence '{m}' is in both split '{seen[m]}' and split '{split}'")
                    seen[m] = split
                split_map[split] = members
            manifest = _load_manifest(self.path)
            manifest.update(sequences=entries, splits=split_map, complete=True, finalized=_utcnow())
            _write_manifest(self.path, manifest)
            self.manifest = manifest
        self._closed = True
        return open_dataset(self.path)


# --------------------------------------------------------------------------------------------
# reader
# --------------------------------------------------------------------------------------------


class Dataset:
    """Read access to a dataset directory (see :func:`open_dataset`).

    Holds only the path and the parsed manifest (no open files), so it can be pickled into
    DataLoader worker processes; every read opens the sequence file it needs.
    """

    def __init__(self, path: str | os.PathLike[str], *, allow_incomplete: bool = False) -> None:
        self.path = Path(path)
        if not self.path.is_dir():
            raise DatasetError(f"dataset directory {self.path} does not exist")
        self.manifest = _load_manifest(self.path)
        seq_dir = self.path / SEQUENCES_DIR
        if self.manifest["complete"]:
            self._ids = list(self.manifest["sequences"])
            self._frames = {k: int(v["n_frames"]) for k, v in self.manifest["sequences"].items()}
        elif allow_incomplete:
            self._ids = _scan_sequences(seq_dir)
            self._frames = {}
        else:
            present = len(_scan_sequences(seq_dir))
            raise IncompleteDatasetError(
                f"dataset {self.path} is incomplete ({present} sequence file(s) written, never finalized); "
                "resume writing with DatasetWriter(path, resume=True) or read what is there with "
                "open_dataset(path, allow_incomplete=True)"
            )
        for split, ids in self.manifest["splits"].items():
            unknown = [i for i in ids if i not in self._frames] if self.complete else []
            if unknown:
                raise DatasetError(f"manifest of {self.path}: split '{split}' names unknown sequences {unknown[:3]}")

    def __repr__(self) -> str:
        return f"Dataset({str(self.path)!r}, name={self.name!r}, sequences={len(self._ids)}, complete={self.complete})"

    # ---- manifest ------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.manifest["name"]

    @property
    def task(self) -> str | None:
        return self.manifest.get("task")

    @property
    def meta(self) -> dict[str, Any]:
        return self.manifest.get("meta", {})

    @property
    def config(self) -> dict[str, Any]:
        return self.manifest.get("config", {})

    @property
    def created(self) -> dict[str, Any]:
        return self.manifest.get("created", {})

    @property
    def schema_version(self) -> int:
        return int(self.manifest["schema_version"])

    @property
    def complete(self) -> bool:
        return bool(self.manifest["complete"])

    @property
    def sequence_ids(self) -> list[str]:
        """All sequence ids (sorted)."""
        return list(self._ids)

    @property
    def splits(self) -> dict[str, list[str]]:
        """Split name -> sequence ids."""
        return {k: list(v) for k, v in self.manifest["splits"].items()}

    def split(self, name: str | None) -> list[str]:
        """Sequence ids of split ``name`` (``None``: all sequences)."""
        if name is None:
            return self.sequence_ids
        splits = self.manifest["splits"]
        if name not in splits:
            raise KeyError(f"dataset {self.name!r} has no split {name!r}; splits: {sorted(splits)}")
        return list(splits[name])

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, sequence_id: object) -> bool:
        return sequence_id in self._ids

    # ---- sequences -----------------------------------------------------------------------

    def sequence_path(self, sequence_id: str) -> Path:
        if sequence_id not in self._ids:
            raise KeyError(f"dataset {self.name!r} has no sequence {sequence_id!r}")
        return self.path / SEQUENCES_DIR / f"{sequence_id}.h5"

    def n_frames(self, sequence_id: str) -> int:
        """Number of frames of a sequence (from the manifest when complete)."""
        if sequence_id not in self._frames:
            self._frames[sequence_id] = self.info(sequence_id).n_frames
        return self._frames[sequence_id]

    def info(self, sequence_id: str) -> SequenceInfo:
        """Shapes, streams and labels of a sequence without loading its data."""
        return _read_info(self.sequence_path(sequence_id), sequence_id)

    def read_sequence(
        self, sequence_id: str, streams: Iterable[str] | None = None, *, frames: slice | None = None
    ) -> SequenceRecord:
        """Load a sequence.

        Args:
            sequence_id: which sequence.
            streams: names from :data:`STREAMS` to load (``None``: all present); ``timestamps``
                is always loaded. Streams not listed are not read from disk.
            frames: a step-1 slice of frames to load (``None``: all); point offsets are re-based.

        Raises:
            KeyError: unknown sequence. CorruptSequenceError: unreadable file (message names it).
        """
        return _read_record(self.sequence_path(sequence_id), sequence_id, streams, frames)

    def frame_points(self, sequence_id: str, i: int) -> np.ndarray:
        """Points of frame ``i`` of a sequence, ``float32 [N_i, C]``, read partially from disk."""
        return _read_frame_points(self.sequence_path(sequence_id), sequence_id, i)

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids)


def open_dataset(path: str | os.PathLike[str], *, allow_incomplete: bool = False) -> Dataset:
    """Open a dataset directory for reading.

    Raises:
        IncompleteDatasetError: the dataset was never finalized and ``allow_incomplete`` is False.
        DatasetError: missing or invalid manifest (unknown keys, newer schema ...).
    """
    return Dataset(path, allow_incomplete=allow_incomplete)

