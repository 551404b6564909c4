"""Dataset summaries (``mmsight data info DIR``) and rendering of import reports.

:func:`summarize` reads the manifest and each sequence file's metadata (no bulk data) and returns
plain types (JSON/YAML serializable); :func:`render_summary` turns that dict into a rich
renderable; :func:`render_import_report` does the same for an
:class:`~mmsight.data.importers.ImportReport`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from mmsight.data.store import SEQUENCES_DIR, STREAMS, DatasetError, SequenceInfo, open_dataset

if TYPE_CHECKING:
    from mmsight.data.importers import ImportReport

__all__ = ["render_import_report", "render_summary", "summarize"]

_MAX_LABEL_VALUES = 20


def _dir_size(path: Path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += (Path(root) / f).stat().st_size
            except OSError:
                pass
    return total


def _frame_shape(info: SequenceInfo, stream: str) -> str:
    s = info.shapes
    if stream == "points":
        return f"[P, {s['points/data'][1]}] ({', '.join(info.point_columns)})"
    if stream == "skeleton":
        return f"[F, {s['skeleton/data'][1]}, 3]"
    if stream in ("range_azimuth", "range_doppler"):
        return "[F, " + ", ".join(str(v) for v in s[f"{stream}/data"][1:]) + "]"
    if stream in ("adc", "rgb", "depth"):
        return "[F, " + ", ".join(str(v) for v in s[stream][1:]) + "]"
    if stream == "frame_labels":
        return ", ".join(sorted(k.split("/", 1)[1] for k in s if k.startswith("frame_labels/")))
    if stream == "sequence_labels":
        return ", ".join(sorted(info.sequence_labels))
    if stream == "calibration":
        return ", ".join(sorted(k.split("/", 1)[1] for k in s if k.startswith("calibration/"))) or "-"
    return ""


def summarize(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Summarize a dataset directory (also an incomplete one).

    Returns a dict with: ``path, name, task, description, schema_version, complete, created,
    finalized, config, meta, n_sequences, n_frames, n_points, duration_s, size_bytes,
    frame_rate_hz`` (median over sequences of frames per second), ``points_per_frame_mean``,
    ``splits`` {split: {sequences, frames, points, duration_s}} (``"(none)"`` for sequences in no
    split), ``streams`` {stream: {sequences, shape}}, ``joint_names``, ``sequence_labels``
    {label: {value: number of sequences}} (labels with at most 20 distinct values),
    ``problems`` (unreadable files, as messages).
    """
    ds = open_dataset(path, allow_incomplete=True)
    infos: dict[str, SequenceInfo] = {}
    problems: list[str] = []
    for sid in ds.sequence_ids:
        try:
            infos[sid] = ds.info(sid)
        except DatasetError as exc:
            problems.append(str(exc))
    split_of = {sid: split for split, ids in ds.splits.items() for sid in ids}
    splits: dict[str, dict[str, Any]] = {}
    for split in [*ds.splits, "(none)"]:
        members = [i for sid, i in infos.items() if split_of.get(sid, "(none)") == split]
        if split == "(none)" and not members:
            continue
        splits[split] = {
            "sequences": len(members),
            "frames": sum(i.n_frames for i in members),
            "points": sum(i.n_points for i in members),
            "duration_s": float(sum(i.duration_s for i in members)),
        }
    streams: dict[str, dict[str, Any]] = {}
    for stream in STREAMS:
        having = [i for i in infos.values() if stream in i.streams]
        if having:
            shapes = sorted({_frame_shape(i, stream) for i in having})
            streams[stream] = {"sequences": len(having), "shape": shapes[0] if len(shapes) == 1 else shapes}
    raw: dict[str, dict[Any, int]] = {}
    for i in infos.values():
        for k, v in i.sequence_labels.items():
            raw.setdefault(k, {})
            raw[k][v] = raw[k].get(v, 0) + 1

    def order(v: Any) -> tuple[int, Any]:
        return (0, v) if isinstance(v, (int, float)) and not isinstance(v, bool) else (1, str(v))

    labels = {
        k: {str(v): counts[v] for v in sorted(counts, key=order)}
        for k, counts in raw.items()
        if len(counts) <= _MAX_LABEL_VALUES
    }
    rates = [(i.n_frames - 1) / i.duration_s for i in infos.values() if i.duration_s > 0]
    n_frames = sum(i.n_frames for i in infos.values())
    n_points = sum(i.n_points for i in infos.values())
    joint_sets = sorted({i.joint_names for i in infos.values() if i.joint_names})
    n_temp = 0
    seq_dir = ds.path / SEQUENCES_DIR
    if seq_dir.is_dir():
        n_temp = sum(1 for n in os.listdir(seq_dir) if n.startswith(".") and n.endswith(".tmp"))
    if n_temp:
        problems.append(f"{n_temp} unfinished sequence temp file(s) in {seq_dir} (a writer is running or died)")
    return {
        "path": str(ds.path),
        "name": ds.name,
        "task": ds.task,
        "description": ds.manifest.get("description", ""),
        "schema_version": ds.schema_version,
        "complete": ds.complete,
        "created": ds.created,
        "finalized": ds.manifest.get("finalized"),
        "config": ds.config,
        "meta": ds.meta,
        "n_sequences": len(infos),
        "n_frames": n_frames,
        "n_points": n_points,
        "duration_s": float(sum(i.duration_s for i in infos.values())),
        "size_bytes": _dir_size(ds.path),
        "frame_rate_hz": float(np.median(rates)) if rates else None,
        "points_per_frame_mean": (n_points / n_frames) if n_frames and "points" in streams else None,
        "splits": splits,
        "streams": streams,
        "joint_names": list(joint_sets[0]) if len(joint_sets) == 1 else [list(j) for j in joint_sets],
        "sequence_labels": labels,
        "problems": problems,
    }


def _fmt_int(n: int) -> str:
    return f"{n:,}"


def _fmt_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"


def render_summary(summary: dict[str, Any]) -> RenderableType:
    """A rich renderable (tables) of a :func:`summarize` dict."""
    parts: list[RenderableType] = []
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    status = Text("complete", style="green") if summary["complete"] else Text("INCOMPLETE", style="bold red")
    head.add_row("dataset", f"{summary['name']}  ({summary['path']})")
    head.add_row("status", status)
    if summary.get("task"):
        head.add_row("task", str(summary["task"]))
    if summary.get("description"):
        head.add_row("description", str(summary["description"]))
    head.add_row("schema", str(summary["schema_version"]))
    created = summary.get("created") or {}
    if created:
        head.add_row("created", f"{created.get('utc', '?')} (mmsight {created.get('mmsight_version', '?')})")
    head.add_row(
        "size",
        f"{_fmt_int(summary['n_sequences'])} sequences, {_fmt_int(summary['n_frames'])} frames, "
        f"{_fmt_int(summary['n_points'])} points, {summary['duration_s']:.1f} s, {_fmt_bytes(summary['size_bytes'])}",
    )
    if summary.get("frame_rate_hz"):
        head.add_row("frame rate", f"{summary['frame_rate_hz']:.1f} Hz (median over sequences)")
    if summary.get("points_per_frame_mean") is not None:
        head.add_row("points/frame", f"{summary['points_per_frame_mean']:.1f} (mean)")
    src = (summary.get("meta") or {}).get("source")
    if src:
        head.add_row("source", str(src))
    parts.append(head)

    if summary["splits"]:
        t = Table(title="splits", title_justify="left")
        for col in ("split", "sequences", "frames", "points", "duration (s)"):
            t.add_column(col, justify="left" if col == "split" else "right")
        for name, s in summary["splits"].items():
            t.add_row(name, _fmt_int(s["sequences"]), _fmt_int(s["frames"]), _fmt_int(s["points"]), f"{s['duration_s']:.1f}")
        parts.append(t)
    if summary["streams"]:
        t = Table(title="streams", title_justify="left")
        t.add_column("stream")
        t.add_column("sequences", justify="right")
        t.add_column("shape / contents")
        for name, s in summary["streams"].items():
            shape = s["shape"] if isinstance(s["shape"], str) else " | ".join(s["shape"])
            t.add_row(name, _fmt_int(s["sequences"]), shape)
        parts.append(t)
    if summary.get("sequence_labels"):
        t = Table(title="sequence labels (number of sequences)", title_justify="left")
        t.add_column("label")
        t.add_column("values")
        for name, values in summary["sequence_labels"].items():
            t.add_row(name, ", ".join(f"{v}: {n}" for v, n in values.items()))
        parts.append(t)
    for p in summary.get("problems", []):
        parts.append(Text(f"problem: {p}", style="red"))
    return Group(*parts)


def render_import_report(report: ImportReport) -> RenderableType:
    """A rich renderable of an import report (totals, count tables, rejected rows, notes)."""
    parts: list[RenderableType] = []
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    head.add_row("imported", f"{report.dataset} from {', '.join(report.sources)} -> {report.out_dir}")
    head.add_row(
        "totals",
        f"{_fmt_int(report.n_sequences)} sequences, {_fmt_int(report.n_frames)} frames, "
        f"{_fmt_int(report.n_points)} points in {report.elapsed_s:.1f} s",
    )
    if report.nan_skeleton_frames:
        head.add_row("NaN skeletons", f"{_fmt_int(report.nan_skeleton_frames)} frames (skeleton not available)")
    if report.skipped_existing:
        head.add_row("resumed", f"{report.skipped_existing} sequences already present, kept")
    for k, v in report.stats.items():
        head.add_row(k.replace("_", " "), f"{v:.2f}")
    parts.append(head)
    if any(report.counts.values()):
        t = Table(title="counts", title_justify="left")
        t.add_column("table")
        t.add_column("key: count")
        for name, table in report.counts.items():
            if table:
                t.add_row(name.replace("_", " "), ", ".join(f"{k}: {_fmt_int(v)}" for k, v in table.items()))
        parts.append(t)
    if report.rejected:
        t = Table(title=f"rejected rows ({len(report.rejected)})", title_justify="left", style="yellow")
        for col in ("source", "frame", "row", "column", "value", "rule"):
            t.add_column(col)
        for r in report.rejected[:50]:
            t.add_row(r.source, str(r.frame), str(r.row), r.column, f"{r.value:.6g}", r.rule)
        parts.append(t)
        if len(report.rejected) > 50:
            parts.append(Text(f"... and {len(report.rejected) - 50} more rejected rows"))
    for n in report.notes:
        parts.append(Text(f"note: {n}"))
    return Group(*parts)
