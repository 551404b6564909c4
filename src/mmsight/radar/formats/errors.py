"""Errors and warnings raised by the radar recording readers.

Every reader in :mod:`mmsight.radar.formats` reports a problem in its input as a
:class:`RadarFormatError` that names the byte offset in the input where the problem is
(and the file, when the input came from a file). Recoverable irregularities (garbage between
packets, a trailing partial frame) are reported as :class:`RadarFormatWarning` unless the caller
asked for strict reading.
"""

from __future__ import annotations

import os

__all__ = ["RadarFormatError", "RadarFormatWarning", "format_location"]


def format_location(offset: int | None, path: str | os.PathLike[str] | None = None,
                    line: int | None = None) -> str:
    """Return ``"<path>: byte offset N (line L)"`` with the parts that are known."""
    where = f"byte offset {offset}" if offset is not None else "byte offset unknown"
    if line is not None:
        where += f" (line {line})"
    if path is not None:
        where = f"{os.fspath(path)}: {where}"
    return where


class RadarFormatError(ValueError):
    """A radar recording does not follow its format.

    Attributes:
        offset: byte offset in the input where the problem is (``None`` only if unknown).
        path: the file the input came from, or ``None`` for in-memory data.
        line: 1-based line number for text formats, else ``None``.
        detail: the description of the problem without the location.
    """

    def __init__(self, detail: str, *, offset: int | None = None,
                 path: str | os.PathLike[str] | None = None, line: int | None = None) -> None:
        self.detail = detail
        self.offset = None if offset is None else int(offset)
        self.path = None if path is None else os.fspath(path)
        self.line = line
        super().__init__(f"{format_location(self.offset, self.path, line)}: {detail}")

    def __reduce__(self):  # keep the keyword-only attributes through pickling (multiprocessing)
        return (_rebuild_error, (self.detail, self.offset, self.path, self.line))


def _rebuild_error(detail: str, offset: int | None, path: str | None,
                   line: int | None) -> RadarFormatError:
    return RadarFormatError(detail, offset=offset, path=path, line=line)


class RadarFormatWarning(UserWarning):
    """A recoverable irregularity in a recording (bytes skipped, partial frame left unread)."""
