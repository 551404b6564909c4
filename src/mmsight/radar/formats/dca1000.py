"""TI DCA1000EVM raw ADC captures (``*_Raw_0.bin`` as written by mmWave Studio / the DCA1000 CLI).

The file is a headerless stream of little-endian two's-complement ``int16`` words. How the words
map to (chirp, RX, sample, I/Q) depends on the radar family, because the radar sends its ADC data
over LVDS lanes and the DCA1000 stores the lanes interleaved as they arrive. The layouts below
follow TI application report SWRA581 ("mmWave Radar Device ADC Raw Data Capture") and the
``readDCA1000`` MATLAB scripts in it; see ``docs/formats.md``.

``"xwr68xx"`` (also accepted: ``"xwr16xx"``, ``"xwr18xx"``, ``"iwr6843"``) -- 2 LVDS lanes.
    Within a frame the chirps follow one another (TDM-MIMO order: for each loop, each TX);
    within a chirp the receivers follow one another; within a receiver the samples follow one
    another. Complex mode: the complex-sample stream is stored in groups of four words
    ``I(n) I(n+1) Q(n) Q(n+1)`` (``Q(n) Q(n+1) I(n) I(n+1)`` with ``iq_swap=True``). Real mode:
    one word per sample, in the same order.

``"xwr14xx"`` (also accepted: ``"xwr12xx"``) -- 4 LVDS lanes, one per receiver.
    Within a chirp the data are sample-interleaved across lanes: complex mode stores, for every
    sample, ``I(lane0) I(lane1) I(lane2) I(lane3) Q(lane0) Q(lane1) Q(lane2) Q(lane3)`` (the Q
    words first with ``iq_swap=True``); real mode stores ``x(lane0) .. x(lane3)``. The file always holds 4 lanes; with fewer than 4 RX
    enabled the unused lanes are zero-filled and ignored on reading (RX ``r`` is lane ``r``).

Frames are returned as the ADC cube of ``ARCHITECTURE.md``:
``complex64 [n_loops, n_tx, n_rx, n_samples]`` in ADC counts. Real-mode captures are returned
as ``complex64`` with zero imaginary part so that every capture has the same dtype.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from mmsight.utils.atomic import atomic_file

from .errors import RadarFormatError, RadarFormatWarning

__all__ = ["DCA1000Reader", "DCA1000Layout", "write_dca1000", "LAYOUT_ALIASES"]

#: Accepted layout names -> canonical layout.
LAYOUT_ALIASES: dict[str, str] = {
    "xwr68xx": "xwr68xx",
    "xwr16xx": "xwr68xx",
    "xwr18xx": "xwr68xx",
    "iwr6843": "xwr68xx",
    "xwr14xx": "xwr14xx",
    "xwr12xx": "xwr14xx",
}

_WORD = np.dtype("<i2")


def _canonical_layout(layout: str) -> str:
    try:
        return LAYOUT_ALIASES[str(layout).lower()]
    except KeyError:
        raise ValueError(
            f"unknown DCA1000 layout {layout!r}; expected one of {sorted(LAYOUT_ALIASES)}"
        ) from None


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or int(value) != value or int(value) < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class DCA1000Layout:
    """Geometry of one frame in a DCA1000 capture.

    Attributes:
        layout: canonical layout name, ``"xwr68xx"`` (2 lanes) or ``"xwr14xx"`` (4 lanes).
        complex: complex (I/Q) or real-only ADC samples.
        n_loops, n_tx, n_rx, n_samples: the frame shape ``[n_loops, n_tx, n_rx, n_samples]``.
        iq_swap: Q words come before I words (``Q Q I I`` / Q lanes then I lanes), as when the
            radar's ADC output is configured with Q in the low half of each 32-bit sample.
    """

    layout: str
    complex: bool
    n_loops: int
    n_tx: int
    n_rx: int
    n_samples: int
    iq_swap: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "layout", _canonical_layout(self.layout))
        for name in ("n_loops", "n_tx", "n_rx", "n_samples"):
            object.__setattr__(self, name, _positive_int(name, getattr(self, name)))
        object.__setattr__(self, "complex", bool(self.complex))
        object.__setattr__(self, "iq_swap", bool(self.iq_swap))
        if self.iq_swap and not self.complex:
            raise ValueError("iq_swap applies to complex captures only")
        if self.layout == "xwr14xx" and self.n_rx > 4:
            raise ValueError(f"the 4-lane xwr14xx layout holds at most 4 RX, got n_rx={self.n_rx}")
        if self.layout == "xwr68xx" and self.complex and (self.n_values_per_frame % 2):
            raise ValueError(
                "the 2-lane complex layout stores samples in pairs: n_chirps * n_rx * n_samples "
                f"must be even, got {self.n_chirps} * {self.n_rx} * {self.n_samples}"
            )

    @property
    def n_chirps(self) -> int:
        """Chirps per frame over all TX (``n_loops * n_tx``)."""
        return self.n_loops * self.n_tx

    @property
    def frame_shape(self) -> tuple[int, int, int, int]:
        """``(n_loops, n_tx, n_rx, n_samples)``."""
        return (self.n_loops, self.n_tx, self.n_rx, self.n_samples)

    @property
    def n_values_per_frame(self) -> int:
        """ADC samples (complex or real) per frame over all RX."""
        return self.n_chirps * self.n_rx * self.n_samples

    @property
    def words_per_frame(self) -> int:
        """``int16`` words stored per frame."""
        iq = 2 if self.complex else 1
        if self.layout == "xwr14xx":
            return self.n_chirps * self.n_samples * 4 * iq
        return self.n_values_per_frame * iq

    @property
    def frame_bytes(self) -> int:
        """Bytes per frame."""
        return self.words_per_frame * _WORD.itemsize

    @property
    def sample_word_bytes(self) -> int:
        """Smallest complete group of words of the layout (bytes).

        2 lanes: ``I I Q Q`` (8 bytes) complex, one word (2 bytes) real; 4 lanes: the 4 lanes of
        one sample, 16 bytes complex and 8 bytes real.
        """
        if self.layout == "xwr14xx":
            return (8 if self.complex else 4) * _WORD.itemsize
        return (4 if self.complex else 1) * _WORD.itemsize

    # -- conversion between stored words and ADC cubes -------------------------------------

    def decode(self, words: np.ndarray) -> np.ndarray:
        """Stored words ``int16 [k, words_per_frame]`` -> ``complex64 [k, *frame_shape]``."""
        words = np.asarray(words)
        k = words.shape[0]
        c, r, s = self.n_chirps, self.n_rx, self.n_samples
        out = np.zeros((k, c, r, s), dtype=np.complex64)
        if self.layout == "xwr68xx":
            if self.complex:
                quads = words.reshape(k, -1, 2, 2)  # [.., first/second word pair, sample n/n+1]
                out.real = quads[:, :, int(self.iq_swap)].reshape(k, c, r, s)
                out.imag = quads[:, :, 1 - int(self.iq_swap)].reshape(k, c, r, s)
            else:
                out.real = words.reshape(k, c, r, s)
        else:
            if self.complex:
                lanes = words.reshape(k, c, s, 2, 4)
                out.real = lanes[:, :, :, int(self.iq_swap), :r].transpose(0, 1, 3, 2)
                out.imag = lanes[:, :, :, 1 - int(self.iq_swap), :r].transpose(0, 1, 3, 2)
            else:
                lanes = words.reshape(k, c, s, 4)
                out.real = lanes[:, :, :, :r].transpose(0, 1, 3, 2)
        return out.reshape(k, *self.frame_shape)

    def encode(self, cubes: np.ndarray) -> np.ndarray:
        """``[k, *frame_shape]`` ADC cubes (integer-valued) -> ``int16 [k, words_per_frame]``.

        Raises:
            ValueError: values that are not integers in the int16 range, or a non-zero imaginary
                part in real mode (the file could not hold them exactly).
        """
        cubes = np.asarray(cubes)
        if cubes.shape[1:] != self.frame_shape:
            raise ValueError(f"frame shape {cubes.shape[1:]} != expected {self.frame_shape}")
        k = cubes.shape[0]
        c, r, s = self.n_chirps, self.n_rx, self.n_samples
        re = _to_int16(np.real(cubes), "real part").reshape(k, c, r, s)
        if self.complex:
            im = _to_int16(np.imag(cubes), "imaginary part").reshape(k, c, r, s)
        else:
            if np.iscomplexobj(cubes) and np.any(np.imag(cubes) != 0):
                raise ValueError("real-mode capture: frames must have a zero imaginary part")
            im = None
        if self.layout == "xwr68xx":
            if im is None:
                return re.reshape(k, -1)
            words = np.empty((k, c * r * s // 2, 2, 2), dtype=_WORD)
            words[:, :, int(self.iq_swap)] = re.reshape(k, -1, 2)
            words[:, :, 1 - int(self.iq_swap)] = im.reshape(k, -1, 2)
            return words.reshape(k, -1)
        if im is None:
            lanes = np.zeros((k, c, s, 4), dtype=_WORD)
            lanes[:, :, :, :r] = re.transpose(0, 1, 3, 2)
            return lanes.reshape(k, -1)
        lanes = np.zeros((k, c, s, 2, 4), dtype=_WORD)
        lanes[:, :, :, int(self.iq_swap), :r] = re.transpose(0, 1, 3, 2)
        lanes[:, :, :, 1 - int(self.iq_swap), :r] = im.transpose(0, 1, 3, 2)
        return lanes.reshape(k, -1)


def _to_int16(x: np.ndarray, what: str) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype.kind in "iu":
        if x.size and (x.min() < -32768 or x.max() > 32767):
            raise ValueError(f"{what} outside the int16 range")
        return x.astype(_WORD)
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{what} has non-finite values")
    if np.any(x != np.round(x)):
        raise ValueError(f"{what} has non-integer values; DCA1000 files hold int16 ADC counts")
    if x.size and (x.min() < -32768 or x.max() > 32767):
        raise ValueError(f"{what} outside the int16 range")
    return x.astype(_WORD)


class DCA1000Reader:
    """Memory-mapped reader of a DCA1000 raw ADC capture, frame by frame.

    Args:
        path: the ``.bin`` file (packet headers already stripped, as mmWave Studio's
            post-processing and the DCA1000 CLI write it).
        n_samples: ADC samples per chirp.
        n_rx: receivers enabled.
        n_chirps_per_frame: chirps per frame over all TX (``n_loops * n_tx``).
        n_tx: TX in the TDM-MIMO sequence; the chirps of a frame are reshaped into
            ``[n_loops, n_tx]`` assuming the TX alternate chirp by chirp.
        complex: complex (I/Q) capture (``adcCfg`` complex 1x/2x) or real-only capture.
        layout: ``"xwr68xx"`` (2 LVDS lanes: xWR16xx/18xx/68xx) or ``"xwr14xx"`` (4 lanes:
            xWR12xx/14xx); see the module docstring.
        iq_swap: the capture has Q before I (``Q(n) Q(n+1) I(n) I(n+1)``; 4 lanes: Q of the
            lanes, then I). TI's capture guide and mmWave Studio's default give I first; a radar
            configured to put Q in the low half of each sample (e.g. the mmWave SDK's
            ``adcbufCfg`` sample-swap option) gives Q first.
        strict: raise :class:`RadarFormatError` on a trailing partial frame instead of warning.

    ``len(reader)`` is the number of whole frames; ``reader[i]`` is frame ``i`` as
    ``complex64 [n_loops, n_tx, n_rx, n_samples]`` (ADC counts), ``reader[a:b]`` stacks frames
    into ``[n, n_loops, n_tx, n_rx, n_samples]``; iterating yields frames one at a time. Only
    the frames asked for are read from disk.

    Attributes:
        trailing_bytes: bytes after the last whole frame (a partial frame, e.g. capture stopped
            mid-frame); 0 if the file holds whole frames only. Read them with
            :meth:`trailing_words`.
        trailing_offset: byte offset where those bytes start.

    Raises:
        RadarFormatError: the file size is not a multiple of the layout's sample word (the
            message names the offset of the incomplete word), or ``strict`` and a partial
            frame is left at the end.
        ValueError: inconsistent arguments.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        n_samples: int,
        n_rx: int,
        n_chirps_per_frame: int,
        n_tx: int = 1,
        complex: bool = True,
        layout: str = "xwr68xx",
        iq_swap: bool = False,
        strict: bool = False,
    ) -> None:
        n_chirps = _positive_int("n_chirps_per_frame", n_chirps_per_frame)
        n_tx = _positive_int("n_tx", n_tx)
        if n_chirps % n_tx:
            raise ValueError(
                f"n_chirps_per_frame={n_chirps} is not a multiple of n_tx={n_tx}"
            )
        self.geometry = DCA1000Layout(layout, complex, n_chirps // n_tx, n_tx, n_rx, n_samples,
                                      iq_swap)
        self.path = os.fspath(path)
        self.strict = bool(strict)
        size = os.path.getsize(self.path)
        self.file_bytes = size
        g = self.geometry
        rem = size % g.sample_word_bytes
        if rem:
            raise RadarFormatError(
                f"file size {size} bytes is not a multiple of the {g.sample_word_bytes}-byte "
                f"sample word of the {g.layout} {'complex' if g.complex else 'real'} layout; "
                f"the last {rem} bytes start an incomplete word",
                offset=size - rem, path=self.path,
            )
        self.n_frames = size // g.frame_bytes
        self.trailing_offset = self.n_frames * g.frame_bytes
        self.trailing_bytes = size - self.trailing_offset
        if self.trailing_bytes:
            detail = (
                f"{self.trailing_bytes} bytes after the last whole frame (frame size "
                f"{g.frame_bytes} bytes) form a partial frame "
                f"({self.trailing_bytes / g.frame_bytes:.3f} of a frame)"
            )
            if self.strict:
                raise RadarFormatError(detail, offset=self.trailing_offset, path=self.path)
            warnings.warn(
                RadarFormatWarning(
                    f"{self.path}: byte offset {self.trailing_offset}: {detail}; not returned "
                    "as a frame (see DCA1000Reader.trailing_bytes / trailing_words())"
                ),
                stacklevel=2,
            )
        self._mm: np.memmap | None = None
        if self.n_frames:
            self._mm = np.memmap(
                self.path, dtype=_WORD, mode="r", shape=(self.n_frames, g.words_per_frame)
            )

    @classmethod
    def from_config(cls, path: str | os.PathLike[str], config: Any, **kwargs: Any) -> DCA1000Reader:
        """Open a capture made with ``config``.

        ``config`` is any object with attributes ``n_samples``, ``n_rx``, ``n_tx`` and
        ``n_loops`` (e.g. ``mmsight.radar.config.RadarConfig``); ``kwargs`` go to the
        constructor (``complex``, ``layout``, ``strict``). If ``complex`` is not given and the
        config has a boolean ``complex_sampling`` attribute, that is used.
        """
        n_tx = int(config.n_tx)
        if "complex" not in kwargs and isinstance(getattr(config, "complex_sampling", None), bool):
            kwargs["complex"] = config.complex_sampling
        return cls(
            path,
            n_samples=int(config.n_samples),
            n_rx=int(config.n_rx),
            n_chirps_per_frame=int(config.n_loops) * n_tx,
            n_tx=n_tx,
            **kwargs,
        )

    # -- access ---------------------------------------------------------------------------

    @property
    def frame_shape(self) -> tuple[int, int, int, int]:
        """``(n_loops, n_tx, n_rx, n_samples)``."""
        return self.geometry.frame_shape

    def __len__(self) -> int:
        return self.n_frames

    def _words(self) -> np.memmap:
        if self._mm is None:
            if self.n_frames and getattr(self, "_closed", False):
                raise ValueError(f"{self.path}: reader is closed")
            raise IndexError("capture holds no whole frame")
        return self._mm

    def __getitem__(self, index: int | slice) -> np.ndarray:
        if isinstance(index, slice):
            idx = range(*index.indices(self.n_frames))
            if len(idx) == 0:
                return np.zeros((0, *self.frame_shape), dtype=np.complex64)
            words = self._words()[index]
            return self.geometry.decode(np.asarray(words))
        i = int(index)
        if i < 0:
            i += self.n_frames
        if not 0 <= i < self.n_frames:
            raise IndexError(f"frame {index} out of range for {self.n_frames} frames")
        return self.geometry.decode(np.asarray(self._words()[i : i + 1]))[0]

    def __iter__(self) -> Iterator[np.ndarray]:
        for i in range(self.n_frames):
            yield self[i]

    def trailing_words(self) -> np.ndarray:
        """The raw ``int16`` words of the trailing partial frame (empty if there is none)."""
        if not self.trailing_bytes:
            return np.zeros(0, dtype=_WORD)
        with open(self.path, "rb") as f:
            f.seek(self.trailing_offset)
            return np.frombuffer(f.read(self.trailing_bytes), dtype=_WORD).copy()

    def close(self) -> None:
        """Release the memory map (frames already returned stay valid: they are copies)."""
        self._mm = None
        self._closed = True

    def __enter__(self) -> DCA1000Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        g = self.geometry
        return (
            f"DCA1000Reader({self.path!r}, layout={g.layout!r}, complex={g.complex}, "
            f"frame_shape={g.frame_shape}, n_frames={self.n_frames}, "
            f"trailing_bytes={self.trailing_bytes})"
        )


def write_dca1000(
    path: str | os.PathLike[str],
    frames: np.ndarray | Iterable[np.ndarray],
    *,
    layout: str = "xwr68xx",
    complex: bool = True,
    iq_swap: bool = False,
) -> int:
    """Write ADC frames as a DCA1000 ``.bin`` capture, atomically.

    Args:
        path: destination; written to a temporary file in the same directory, then moved into
            place with ``os.replace`` (an interrupted write leaves no partial file).
        frames: ``[n_frames, n_loops, n_tx, n_rx, n_samples]`` array, or an iterable of
            ``[n_loops, n_tx, n_rx, n_samples]`` frames (all of one shape), holding integer ADC
            counts in the int16 range (complex, or real when ``complex=False``).
        layout: ``"xwr68xx"`` or ``"xwr14xx"`` (and their aliases), as for :class:`DCA1000Reader`.
        complex: write a complex (I/Q) or a real-only capture.
        iq_swap: write Q words before I words (see :class:`DCA1000Reader`).

    Returns:
        The number of frames written. Reading the file back with the same layout, ``complex``,
        ``n_tx`` and ``n_chirps_per_frame = n_loops * n_tx`` returns the frames exactly.

    Raises:
        ValueError: frames of the wrong dimensionality or of mixed shapes, or values that are not
            int16 counts.
    """
    if isinstance(frames, np.ndarray) and frames.ndim != 5:
        raise ValueError(
            "frames must be a [n_frames, n_loops, n_tx, n_rx, n_samples] array or an iterable "
            f"of [n_loops, n_tx, n_rx, n_samples] frames, got an array of shape {frames.shape}"
        )
    geometry: DCA1000Layout | None = None
    n = 0
    with atomic_file(path) as f:
        for frame in frames:
            frame = np.asarray(frame)
            if frame.ndim != 4:
                raise ValueError(
                    f"each frame must be [n_loops, n_tx, n_rx, n_samples], got {frame.shape}"
                )
            if geometry is None:
                geometry = DCA1000Layout(layout, complex, *frame.shape, iq_swap=iq_swap)
            f.write(geometry.encode(frame[None]).tobytes())
            n += 1
    return n
