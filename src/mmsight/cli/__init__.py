"""The ``mmsight`` command line (typer + rich). Each command group lives in its own module."""

from __future__ import annotations

import typer

from mmsight import __version__
from mmsight.cli.data import data_app
from mmsight.cli.demo import demo_command
from mmsight.cli.joints import joints_app
from mmsight.cli.radar import radar_app
from mmsight.cli.simulate import simulate_command

app = typer.Typer(
    name="mmsight",
    help="mmWave radar + camera human sensing: radar physics, datasets, mmAnomaly, Mission, mmJoints.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(radar_app, name="radar")
app.add_typer(data_app, name="data")
app.add_typer(joints_app, name="joints")
app.command("demo")(demo_command)
app.command("simulate")(simulate_command)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mmsight {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    """mmsight command line."""


def main() -> None:
    """Console-script entry point."""
    app()
