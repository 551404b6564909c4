"""Importers of public mmWave datasets into the mmsight dataset format.

Each importer reads the redistributed ``.npz`` files described in the shared data README and
writes a dataset directory (see :mod:`mmsight.data.store`), returning an :class:`ImportReport`
with the counts it measured and every row it rejected (never silently dropped).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["ImportReport", "RejectedRow", "import_mars", "import_radhar", "sha256_file"]


@dataclass(frozen=True)
class RejectedRow:
    """One source row (a radar point) the importer refused, and why.

    Attributes:
        source: the source recording (file name inside the dataset, e.g. the original RadHAR
            ``.txt`` name) or the ``.npz`` file.
        frame: frame index within that recording.
        row: row index in the source ``.npz`` arrays.
        column: the offending column.
        value: the offending value.
        rule: the validity rule broken (human-readable).
    """

    source: str
    frame: int
    row: int
    column: str
    value: float
    rule: str


@dataclass
class ImportReport:
    """What an importer wrote.

    Attributes:
        dataset: ``"mars"`` or ``"radhar"``.
        out_dir: the dataset directory written.
        sources: source file names (base names).
        n_sequences / n_frames / n_points: totals written.
        counts: table name -> {key: count}, e.g. ``counts["frames_per_split"]["train"]``.
        stats: summary numbers, e.g. ``points_per_frame_mean``, ``frame_rate_hz_median``.
        nan_skeleton_frames: frames whose skeleton is entirely missing (NaN).
        rejected: every source row refused by a validity rule.
        notes: anything else worth knowing (e.g. a run split at a timestamp jump).
        skipped_existing: sequences already present (``resume=True``) and not rewritten.
        elapsed_s: wall time of the import.
    """

    dataset: str
    out_dir: Path
    sources: list[str]
    n_sequences: int = 0
    n_frames: int = 0
    n_points: int = 0
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    stats: dict[str, float] = field(default_factory=dict)
    nan_skeleton_frames: int = 0
    rejected: list[RejectedRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped_existing: int = 0
    elapsed_s: float = 0.0

    def render(self) -> Any:
        """A rich renderable of the report (see :func:`mmsight.data.summary.render_import_report`)."""
        from mmsight.data.summary import render_import_report

        return render_import_report(self)

    def __rich__(self) -> Any:
        return self.render()

    def to_dict(self) -> dict[str, Any]:
        """Plain-types view (JSON/YAML serializable)."""
        d = asdict(self)
        d["out_dir"] = str(self.out_dir)
        return d


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file (recorded in the dataset config for provenance)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def _inc(table: dict[str, int], key: Any, n: int = 1) -> None:
    key = str(key)
    table[key] = table.get(key, 0) + int(n)


from mmsight.data.importers.mars import import_mars  # noqa: E402  (needs ImportReport above)
from mmsight.data.importers.radhar import import_radhar  # noqa: E402
