"""Run a task: plan the sequences, render them in parallel processes, write them with the dataset store.

:func:`simulate` is what ``mmsight simulate`` calls. Guarantees:

* **deterministic**: every sequence is a pure function of ``(task config, run seed, index)``; its
  generator is seeded from ``SeedSequence([seed, index])``, never from the worker or the order in
  which sequences finish, so 1 or 8 workers write identical sequence contents;
* **resumable**: sequences are written atomically one file each (:class:`mmsight.data.DatasetWriter`);
  a killed run leaves finished files and at most hidden temp files; ``resume=True`` skips what exists,
  removes dead writers' temp files, renders the rest and finalizes with the same fixed splits. The
  manifest's ``config`` (task, seed, count, task config) must match, so a resumed run cannot mix two
  configurations;
* **parallel**: ``workers > 1`` uses a process pool (spawned processes, BLAS held to one thread each);
  workers attach to the dataset with ``DatasetWriter(resume=True)`` and write different sequences.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

__all__ = ["SimulationResult", "simulate", "manifest_config"]

SIMULATOR_VERSION = 6  # 2: smooth pelvis in walks, MARS-calibrated rehab, one-pass chain; 3: camera sensor noise one draw per value, float32 depth-noise draws; 4: Gaussian noise (radar thermal, camera depth and sensor) from mmsight.utils.random (torch generator seeded from the numpy stream), rehab movements and front placement fitted to MARS skeletons; 5: ADC forward model's tables from running products and its left factor in one complex64 product (cubes differ by complex64 rounding, ~3e-7 of the peak); 6: fast-time sum as a gridded non-uniform FFT from 128 scatterers on, FFTW in the signal chain when installed (cubes and maps differ by ~1e-6 of the peak)
"""Bumped when a change alters what a given seed produces."""


@dataclass
class SimulationResult:
    """What :func:`simulate` did.

    Attributes:
        path: dataset directory.
        task: task name.
        planned: sequences in the plan.
        written: sequences rendered and written by this call.
        skipped: sequences already present (resume).
        removed_temps: abandoned temp files deleted on resume.
        elapsed_s: wall time.
        frames: frames written by this call.
        preview: PNG path, if written.
        splits: split -> number of sequences.
    """

    path: Path
    task: str
    planned: int
    written: int = 0
    skipped: int = 0
    removed_temps: int = 0
    elapsed_s: float = 0.0
    frames: int = 0
    preview: Path | None = None
    splits: dict[str, int] = field(default_factory=dict)


def manifest_config(task: str, config: Any, sequences: int, seed: int) -> dict[str, Any]:
    """The ``config`` mapping stored in the dataset manifest (compared on resume)."""
    from mmsight.sim.tasks.common import config_summary

    from mmsight.utils.fft import backend

    # the FFT backend changes results by float rounding: a resumed dataset must keep the one it began with
    return {"generator": "mmsight.sim", "simulator_version": SIMULATOR_VERSION, "task": task, "seed": int(seed),
            "sequences": int(sequences), "fft_backend": backend(), "task_config": config_summary(config)}


# ---------------------------------------------------------------------------------------------- worker

_WRITERS: dict[str, Any] = {}


def _init_worker() -> None:
    """Pool initializer: one BLAS thread per worker process (the chain and the forward model are
    many small products; threads would fight over the shared cores)."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:  # pragma: no cover
        pass


def _render_and_write(path: str, spec: Any) -> tuple[str, int, float, bool]:
    """Render ``spec`` and write it into the dataset at ``path``; returns (id, frames, seconds, written)."""
    from mmsight.data import DatasetWriter
    from mmsight.sim.tasks import get_task

    t0 = time.perf_counter()
    w = _WRITERS.get(path)
    if w is None:
        w = _WRITERS[path] = DatasetWriter(path, resume=True)
    if w.has_sequence(spec.sequence_id):
        return spec.sequence_id, 0, 0.0, False
    rec = get_task(spec.task).make_sequence(spec)
    w.write_sequence(rec)
    return spec.sequence_id, int(rec.n_frames), time.perf_counter() - t0, True


# ---------------------------------------------------------------------------------------------- driver


def simulate(
    task: str,
    out: str | Path,
    sequences: int | None = None,
    seed: int = 0,
    workers: int = 1,
    preview: bool = False,
    resume: bool = False,
    *,
    config: Any | Mapping[str, Any] | str | Path | None = None,
    tiny: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    console: Any | None = None,
) -> SimulationResult:
    """Simulate ``sequences`` sequences of ``task`` into the dataset directory ``out``.

    Args:
        task: one of :data:`mmsight.sim.tasks.TASK_NAMES`.
        out: dataset directory (created).
        sequences: number of sequences (default: the task's paper-size count).
        seed: run seed; the same seed, config and count give identical sequence contents.
        workers: processes rendering in parallel (1 = in this process).
        preview: also write ``<out>/preview_<task>.png``.
        resume: continue an unfinished run in ``out`` (the config must match); a finished dataset
            with the same config is left as it is.
        config: a task config object, a mapping of overrides or a YAML file (see
            :func:`mmsight.sim.tasks.load_config`).
        tiny: start from the task's ``tiny`` preset instead of the paper-size defaults.
        overwrite: replace an existing dataset at ``out``.
        progress: show a rich progress bar (stderr).
        console: a :class:`rich.console.Console` for the progress bar.

    Returns:
        :class:`SimulationResult`.
    """
    from mmsight.data import DatasetWriter, open_dataset
    from mmsight.sim.tasks import get_task, load_config
    from mmsight.sim.tasks.common import TaskConfig

    t_start = time.perf_counter()
    t = get_task(task)
    cfg = config if isinstance(config, TaskConfig) else load_config(t.name, config, tiny=tiny)
    if not isinstance(cfg, t.config_class):
        raise TypeError(f"config for task {t.name!r} must be a {t.config_class.__name__}, got {type(cfg).__name__}")
    n = t.default_sequences if sequences is None else int(sequences)
    if n < 1:
        raise ValueError(f"sequences must be >= 1, got {n}")
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    out = Path(out)
    mcfg = manifest_config(t.name, cfg, n, seed)
    plan = t.sequence_plan(cfg, n, seed)
    result = SimulationResult(path=out, task=t.name, planned=len(plan))

    if resume and not overwrite and (out / "dataset.yaml").exists():
        ds = open_dataset(out, allow_incomplete=True)
        if ds.complete:
            if ds.config != _plain_config(mcfg):
                raise ValueError(f"{out} holds a finished dataset made with another configuration; "
                                 "use overwrite to replace it")
            result.skipped = len(ds.sequence_ids)
            result.splits = {k: len(v) for k, v in ds.splits.items()}
            if preview:
                result.preview = _write_preview(t.name, out)
            result.elapsed_s = time.perf_counter() - t_start
            return result

    writer = DatasetWriter(out, name=out.resolve().name, task=t.purpose, description=t.description,
                           meta={"simulated": True, "docs": "docs/simulator.md"}, config=mcfg,
                           overwrite=overwrite, resume=resume)
    result.removed_temps = len(writer.removed_temps)
    todo = [s for s in plan if not writer.has_sequence(s.sequence_id)]
    result.skipped = len(plan) - len(todo)
    path = str(out)

    bar = task_id = None
    try:
        if workers == 1 or len(todo) <= 1:
            bar, task_id = _progress(progress, console, t.name, len(plan), result.skipped)
            _init_worker_local()
            for spec in todo:
                sid, frames, _, written = _render_and_write(path, spec)
                result.written += int(written)
                result.frames += frames
                if bar is not None:
                    bar.advance(task_id)
        else:
            pool = _make_pool(min(workers, len(todo)))
            # the workers exist (forked) before the progress bar starts its refresh thread
            bar, task_id = _progress(progress, console, t.name, len(plan), result.skipped)
            _run_pool(pool, path, todo, workers, result, bar, task_id)
    finally:
        if bar is not None:
            bar.stop()
        _WRITERS.pop(path, None)

    splits = t.splits(plan)
    writer.finalize(splits)
    result.splits = {k: len(v) for k, v in splits.items()}
    if preview:
        result.preview = _write_preview(t.name, out)
    result.elapsed_s = time.perf_counter() - t_start
    return result


def _plain_config(cfg: dict[str, Any]) -> dict[str, Any]:
    """The manifest's YAML round trip of a config (tuples become lists)."""
    import yaml

    return yaml.safe_load(yaml.safe_dump(_lists(cfg)))


def _lists(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _lists(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_lists(x) for x in v]
    return v


def _init_worker_local() -> None:
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:  # pragma: no cover
        pass


def _make_pool(workers: int) -> ProcessPoolExecutor:
    """A process pool. On Linux the workers are forked (fast, and a script calling :func:`simulate`
    needs no ``if __name__ == "__main__"`` guard); they are created at once, before any helper thread
    of this module starts. Elsewhere they are spawned."""
    import multiprocessing as mp
    import sys

    method = "fork" if sys.platform.startswith("linux") else "spawn"
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context(method), initializer=_init_worker)
    if method == "fork":
        pool.submit(int, 0).result()  # forks all the workers now
    return pool


def _run_pool(pool: ProcessPoolExecutor, path: str, todo: list[Any], workers: int, result: SimulationResult,
              bar: Any, task_id: Any) -> None:
    pending: set[Future] = set()
    it = iter(todo)
    try:
        # keep at most 2 tasks per worker queued, so an interrupted run has few half-done sequences
        for spec in it:
            pending.add(pool.submit(_render_and_write, path, spec))
            if len(pending) >= 2 * workers:
                break
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                sid, frames, _, written = fut.result()
                result.written += int(written)
                result.frames += frames
                if bar is not None:
                    bar.advance(task_id)
                nxt = next(it, None)
                if nxt is not None:
                    pending.add(pool.submit(_render_and_write, path, nxt))
    except BaseException:
        for fut in pending:
            fut.cancel()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _progress(enabled: bool, console: Any, name: str, total: int, done: int) -> tuple[Any, Any]:
    if not enabled:
        return None, None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    con = console or Console(stderr=True)
    bar = Progress(TextColumn(f"simulate {name}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   TimeRemainingColumn(), console=con, transient=False)
    bar.start()
    tid = bar.add_task(name, total=total, completed=done)
    return bar, tid


def _write_preview(task: str, out: Path) -> Path:
    from mmsight.sim.preview import dataset_preview

    return dataset_preview(out, out / f"preview_{task}.png", task=task)
