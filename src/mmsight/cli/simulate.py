"""``mmsight simulate TASK --out DIR``: write a simulated task dataset (see ``docs/simulator.md``)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

_TASK_HELP = "Task: weapons, wall, fall, gait or rehab."


def simulate_command(
    task: str = typer.Argument(..., help=_TASK_HELP),
    out: Path = typer.Option(..., "--out", help="Dataset directory to write."),
    sequences: int = typer.Option(None, "--sequences", "-n", min=1, help="Number of sequences (default: paper size)."),
    seed: int = typer.Option(0, "--seed", help="Run seed: the same seed gives the same dataset."),
    workers: int = typer.Option(1, "--workers", "-w", min=1, help="Processes rendering in parallel."),
    preview: bool = typer.Option(False, "--preview", help="Also write <out>/preview_<task>.png."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run in OUT (same config)."),
    config: Path = typer.Option(None, "--config", exists=True, dir_okay=False,
                                help="YAML file of task-config overrides (keys of the task's Config)."),
    tiny: bool = typer.Option(False, "--tiny", help="Start from the task's tiny preset (few small frames)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing dataset in OUT."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Simulate a task dataset (weapons, wall, fall, gait, rehab) into OUT: deterministic per seed,
    parallel over processes, resumable (--resume), written with the mmsight dataset store."""
    from mmsight.data import DatasetError
    from mmsight.sim.runner import simulate
    from mmsight.sim.tasks import TASK_NAMES

    if task not in TASK_NAMES:
        raise typer.BadParameter(f"unknown task {task!r}; valid: {', '.join(TASK_NAMES)}", param_hint="TASK")
    console = Console(stderr=True)
    try:
        res = simulate(task, out, sequences, seed, workers, preview, resume, config=config, tiny=tiny,
                       overwrite=overwrite, progress=not quiet, console=console)
    except DatasetError as exc:
        msg = str(exc)
        if "resume=True" in msg:
            msg += " (command line: --resume or --overwrite)"
        console.print(f"[red]error:[/red] {msg}")
        raise typer.Exit(code=1) from None
    except ValueError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(code=2) from None
    table = Table(title=f"mmsight simulate {task}", show_header=False)
    table.add_row("dataset", str(res.path))
    table.add_row("sequences planned", str(res.planned))
    table.add_row("written now", f"{res.written} ({res.frames} frames)")
    table.add_row("already present", str(res.skipped))
    if res.removed_temps:
        table.add_row("abandoned temp files removed", str(res.removed_temps))
    table.add_row("splits", ", ".join(f"{k} {v}" for k, v in res.splits.items()))
    table.add_row("time", f"{res.elapsed_s:.1f} s")
    if res.preview is not None:
        table.add_row("preview", str(res.preview))
    Console().print(table)
