"""The OpenRadar tutorial captures: small real raw-ADC samples of a TI 77 GHz radar.

The OpenRadar project (PreSenseRadar/OpenRadar, Apache-2.0) ships a few raw ADC captures with
its teaching notebooks, as ``.npy`` arrays and as text (one complex number ``(re+imj)`` per
value, rows separated by newlines). Their I and Q parts are stored as *unsigned* 16-bit values in
float form (0..65535) although the samples are two's-complement int16: :func:`to_signed_int16`
converts them explicitly (values above 32767 minus 65536), and the loaders here always do.

The chirp configuration stated with the captures is :data:`OPENRADAR_CHIRP_CONFIG`; the axes of
each file are listed in :data:`OPENRADAR_FILES`. ``doppler_example_1`` holds 8 virtual antennas
per chirp loop (2 TX x 4 RX); :func:`virtual_to_adc_cube` splits them into the ADC cube of
ARCHITECTURE.md assuming TX-major order (TX0's four RX, then TX1's), the order under which the
8 channels form the uniform linear array that the captures' angle FFT assumes.
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from mmsight.utils.atomic import atomic_file
from .errors import RadarFormatError

__all__ = [
    "SPEED_OF_LIGHT",
    "OpenRadarChirpConfig",
    "OPENRADAR_CHIRP_CONFIG",
    "OPENRADAR_FILES",
    "to_signed_int16",
    "load_openradar_sample",
    "load_openradar_samples",
    "save_openradar_sample",
    "from_signed_int16",
    "virtual_to_adc_cube",
]

SPEED_OF_LIGHT = 299_792_458.0  # m/s


@dataclass(frozen=True)
class OpenRadarChirpConfig:
    """Chirp configuration of the OpenRadar captures (SI units).

    Attributes:
        start_freq_hz: chirp start frequency (77.4201 GHz).
        slope_hz_per_s: frequency slope (60 MHz/us).
        n_samples: ADC samples per chirp (128).
        sample_rate_hz: ADC sample rate (2.5 Msps).
        idle_time_s: idle time between chirps (30 us).
        ramp_end_time_s: ramp end time (62 us).
        n_chirps: chirps (loops) per frame (128).
        n_tx, n_rx: antennas of the angle example (2 TX x 4 RX = 8 virtual antennas).
    """

    start_freq_hz: float = 77.4201e9
    slope_hz_per_s: float = 60e12
    n_samples: int = 128
    sample_rate_hz: float = 2.5e6
    idle_time_s: float = 30e-6
    ramp_end_time_s: float = 62e-6
    n_chirps: int = 128
    n_tx: int = 2
    n_rx: int = 4

    @property
    def n_virtual(self) -> int:
        """Virtual antennas (``n_tx * n_rx``)."""
        return self.n_tx * self.n_rx

    @property
    def sampling_time_s(self) -> float:
        """ADC sampling window per chirp (s)."""
        return self.n_samples / self.sample_rate_hz

    @property
    def sampled_bandwidth_hz(self) -> float:
        """Bandwidth swept during the ADC window (Hz)."""
        return self.slope_hz_per_s * self.sampling_time_s

    @property
    def range_resolution_m(self) -> float:
        """Range-bin size ``c / (2 B)`` with B the sampled bandwidth (m); 4.88 cm here."""
        return SPEED_OF_LIGHT / (2.0 * self.sampled_bandwidth_hz)

    @property
    def max_range_m(self) -> float:
        """Unambiguous range of complex sampling, ``fs c / (2 slope)`` (m)."""
        return self.sample_rate_hz * SPEED_OF_LIGHT / (2.0 * self.slope_hz_per_s)

    @property
    def chirp_period_s(self) -> float:
        """Idle time plus ramp end time (s)."""
        return self.idle_time_s + self.ramp_end_time_s

    @property
    def wavelength_m(self) -> float:
        """Wavelength at the start frequency (m)."""
        return SPEED_OF_LIGHT / self.start_freq_hz

    def range_bin_m(self, index: int | np.ndarray) -> float | np.ndarray:
        """Range (m) at range-FFT bin ``index`` of an ``n_samples``-point FFT."""
        return np.asarray(index) * self.range_resolution_m

    def as_dict(self) -> dict[str, float]:
        """The stated parameters as a plain dict of numbers."""
        return asdict(self)


#: The configuration stated with the OpenRadar captures.
OPENRADAR_CHIRP_CONFIG = OpenRadarChirpConfig()

#: Axes of each capture file (as stored).
OPENRADAR_FILES: dict[str, tuple[str, ...]] = {
    "chirp.txt": ("sample",),
    "frame.txt": ("chirp", "sample"),
    "simple_frame_1.npy": ("chirp", "sample"),
    "doppler_example.npy": ("chirp", "sample"),
    "doppler_example_1.npy": ("chirp", "virtual_antenna", "sample"),
}

_U16 = 65536


def to_signed_int16(values: np.ndarray) -> np.ndarray:
    """Unsigned-16-bit I/Q stored as floats -> signed int16 I/Q, ``complex64`` of the same shape.

    Each of the real and imaginary parts must be an integer in 0..65535; values above 32767
    become ``value - 65536`` (two's complement).

    Raises:
        ValueError: a part that is not an integer in 0..65535.
    """
    a = np.asarray(values)
    out = np.empty(a.shape, dtype=np.complex64)
    for name, part, dst in (("real", np.real(a), "real"), ("imaginary", np.imag(a), "imag")):
        bad = ~_is_u16(part)
        if np.any(bad):
            i = int(np.flatnonzero(bad.ravel())[0])
            raise ValueError(
                f"{name} part of element {np.unravel_index(i, a.shape)} is "
                f"{part.ravel()[i]!r}, not an unsigned 16-bit value"
            )
        p = part.astype(np.int64)
        setattr(out, dst, np.where(p > 32767, p - _U16, p))
    return out


def from_signed_int16(values: np.ndarray) -> np.ndarray:
    """Inverse of :func:`to_signed_int16`: signed int16 I/Q -> ``complex128`` whose parts are the
    unsigned 16-bit values (0..65535) as the captures store them.

    Raises:
        ValueError: a part that is not an integer in the int16 range.
    """
    a = np.asarray(values)
    out = np.empty(a.shape, dtype=np.complex128)
    for name, part, dst in (("real", np.real(a), "real"), ("imaginary", np.imag(a), "imag")):
        with np.errstate(invalid="ignore"):
            ok = np.isfinite(part) & (part >= -32768) & (part <= 32767) & (part == np.round(part))
        if not np.all(ok):
            raise ValueError(f"{name} part has values that are not int16 integers")
        p = part.astype(np.int64)
        setattr(out, dst, np.where(p < 0, p + _U16, p))
    return out


def _is_u16(part: np.ndarray) -> np.ndarray:
    part = np.asarray(part)
    if part.dtype.kind in "iu":
        return (part >= 0) & (part < _U16)
    with np.errstate(invalid="ignore"):
        return np.isfinite(part) & (part >= 0) & (part < _U16) & (part == np.round(part))


def virtual_to_adc_cube(x: np.ndarray, n_tx: int = 2, n_rx: int = 4) -> np.ndarray:
    """``[n_loops, n_tx * n_rx, n_samples]`` -> ADC cube ``[n_loops, n_tx, n_rx, n_samples]``
    (TX-major virtual-antenna order, see the module docstring)."""
    x = np.asarray(x)
    if x.ndim != 3 or x.shape[1] != n_tx * n_rx:
        raise ValueError(f"expected [n_loops, {n_tx * n_rx}, n_samples], got {x.shape}")
    return x.reshape(x.shape[0], n_tx, n_rx, x.shape[2])


# -- loaders ---------------------------------------------------------------------------------

_NPY_MAX_HEADER = 10_000


def _load_npy(path: str) -> np.ndarray:
    """Read a ``.npy`` file checking the header against the file size before allocating;
    returns the signed complex64 array."""
    fmt = np.lib.format
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # odd escapes in a corrupt header literal
                version = fmt.read_magic(f)
                if version == (1, 0):
                    shape, fortran, dtype = fmt.read_array_header_1_0(
                        f, max_header_size=_NPY_MAX_HEADER)
                elif version in ((2, 0), (3, 0)):
                    shape, fortran, dtype = fmt.read_array_header_2_0(
                        f, max_header_size=_NPY_MAX_HEADER)
                else:
                    raise ValueError(f"unsupported .npy format version {version}")
        except Exception as e:  # any failure to parse an untrusted header is a format error
            raise RadarFormatError(f"not a valid .npy header: {e}", offset=0, path=path) from None
        data_offset = f.tell()
        if dtype.hasobject or dtype.kind not in "fciu" or dtype.itemsize == 0:
            raise RadarFormatError(f".npy dtype {dtype} is not numeric", offset=0, path=path)
        count = 1
        for d in shape:
            count *= int(d)
        need = count * dtype.itemsize
        have = size - data_offset
        if need != have:
            raise RadarFormatError(
                f".npy header declares shape {shape} of {dtype} ({need} data bytes) but the "
                f"file holds {have} data bytes after the header",
                offset=data_offset + min(need, have), path=path,
            )
        raw = np.fromfile(f, dtype=dtype, count=count)
    if raw.size != count:  # the file changed while reading
        raise RadarFormatError("file shorter than its header declares",
                               offset=data_offset + raw.nbytes, path=path)
    _check_u16(raw, path, lambda i: data_offset + i * dtype.itemsize)
    signed = to_signed_int16(raw)
    return signed.reshape(shape, order="F" if fortran else "C")


def _check_u16(flat: np.ndarray, path: str, offset_of) -> None:
    for name, part in (("real", np.real(flat)), ("imaginary", np.imag(flat))):
        bad = ~_is_u16(part)
        if np.any(bad):
            i = int(np.flatnonzero(bad)[0])
            raise RadarFormatError(
                f"{name} part {part[i]!r} of value {i} is not an unsigned 16-bit sample "
                "(the captures store 0..65535)", offset=offset_of(i), path=path)


_TOKEN = re.compile(r"\S+")


def _load_text(path: str) -> np.ndarray:
    """Read a text capture: whitespace-separated complex numbers, one row per line."""
    with open(path, "rb") as f:
        text = f.read().decode("latin-1")  # one character per byte: offsets are byte offsets
    rows: list[list[complex]] = []
    width: int | None = None
    offset = 0
    for lineno, line in enumerate(text.split("\n"), start=1):
        row: list[complex] = []
        for m in _TOKEN.finditer(line):
            tok = m.group()
            at = offset + m.start()
            try:
                v = complex(tok) if len(tok) <= 100 else None
            except ValueError:
                v = None
            if v is None:
                raise RadarFormatError(f"not a complex number: {tok[:40]!r}", offset=at,
                                       path=path, line=lineno)
            for name, part in (("real", v.real), ("imaginary", v.imag)):
                if not (0 <= part < _U16 and part == int(part)):
                    raise RadarFormatError(
                        f"{name} part {part!r} is not an unsigned 16-bit sample "
                        "(the captures store 0..65535)", offset=at, path=path, line=lineno)
            row.append(v)
        if row:
            if width is None:
                width = len(row)
            elif len(row) != width:
                raise RadarFormatError(f"row has {len(row)} values, the first row {width}",
                                       offset=offset, path=path, line=lineno)
            rows.append(row)
        offset += len(line) + 1
    if not rows:
        raise RadarFormatError("no samples in the file", offset=0, path=path)
    arr = np.squeeze(np.array(rows, dtype=np.complex128))
    return to_signed_int16(arr)


def load_openradar_sample(path: str | os.PathLike[str]) -> np.ndarray:
    """Load one OpenRadar capture (``.npy`` or ``.txt``) as signed samples.

    Returns:
        ``complex64`` array of the shape stored in the file (see :data:`OPENRADAR_FILES`), in
        ADC counts (int16 range).

    Raises:
        RadarFormatError: malformed file, or a value whose I or Q part is not an unsigned
            16-bit integer; the message names the byte offset.
    """
    p = os.fspath(path)
    if p.lower().endswith(".npy"):
        return _load_npy(p)
    return _load_text(p)


def save_openradar_sample(path: str | os.PathLike[str], samples: np.ndarray) -> None:
    """Write signed int16 I/Q samples in the captures' form (unsigned values as complex floats),
    as ``.npy`` or, for any other suffix, as text (one row per line of the array's last axis);
    atomically. :func:`load_openradar_sample` reads the file back to the same values."""
    stored = from_signed_int16(samples)
    p = os.fspath(path)
    with atomic_file(p) as f:
        if p.lower().endswith(".npy"):
            np.lib.format.write_array(f, stored, allow_pickle=False)
            return
        if stored.ndim > 2:
            raise ValueError("text captures hold 1-D or 2-D arrays")
        rows = stored.reshape(-1, 1) if stored.ndim == 1 else np.atleast_2d(stored)
        for row in rows:
            line = " ".join(f" ({v.real:.18e}{v.imag:+.18e}j)" for v in row)
            f.write((line + "\n").encode("ascii"))


def load_openradar_samples(directory: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Load every known capture present in ``directory``: ``{file stem: complex64 array}``."""
    d = Path(directory)
    return {
        Path(name).stem: load_openradar_sample(d / name)
        for name in OPENRADAR_FILES
        if (d / name).is_file()
    }
