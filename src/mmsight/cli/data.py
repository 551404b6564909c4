"""``mmsight data ...``: import public datasets into the mmsight store and summarise stores."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

data_app = typer.Typer(help="Datasets: import public recordings, summarise a dataset.", no_args_is_help=True)
import_app = typer.Typer(help="Import a public dataset into the mmsight dataset store.", no_args_is_help=True)
data_app.add_typer(import_app, name="import")


def _print_report(report: object) -> None:
    console = Console(width=120)
    render = getattr(report, "render", None)
    console.print(render() if callable(render) else report)


@import_app.command("mars")
def import_mars_command(
    npz: Path = typer.Argument(..., exists=True, dir_okay=False, help="A MARS .npz (format: shared/data/README.md)."),
    out: Path = typer.Option(..., "--out", help="Dataset directory to create."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing dataset."),
) -> None:
    """Import MARS (TI IWR1443 point clouds + Kinect V2 skeletons) into OUT."""
    from mmsight.data.importers.mars import import_mars

    _print_report(import_mars(npz, out, overwrite=overwrite))


@import_app.command("radhar")
def import_radhar_command(
    source: list[Path] = typer.Argument(..., exists=True, help="radhar_train.npz / radhar_test.npz, or their folder."),
    out: Path = typer.Option(..., "--out", help="Dataset directory to create."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing dataset."),
) -> None:
    """Import RadHAR (TI point clouds, 5 activities) into OUT; corrupt rows are reported, not hidden."""
    from mmsight.data.importers.radhar import import_radhar

    sources = source[0] if len(source) == 1 and source[0].is_dir() else source
    _print_report(import_radhar(sources, out, overwrite=overwrite))


@data_app.command("info")
def info_command(path: Path = typer.Argument(..., exists=True, file_okay=False, help="A dataset directory.")) -> None:
    """Summarise a dataset: sequences, frames, splits, streams, labels."""
    from mmsight.data.summary import render_summary, summarize

    Console(width=120).print(render_summary(summarize(path)))
