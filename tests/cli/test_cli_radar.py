"""The command line: version, radar info."""

from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

from mmsight import __version__
from mmsight.cli import app

runner = CliRunner()


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"mmsight {__version__}"


def test_console_script_installed() -> None:
    result = subprocess.run([sys.executable, "-m", "mmsight", "--version"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert __version__ in result.stdout


def test_radar_info_preset() -> None:
    result = runner.invoke(app, ["radar", "info", "--preset", "iwr6843isk"])
    assert result.exit_code == 0, result.output
    assert "range resolution" in result.stdout
    assert "4.41" in result.stdout  # cm, c / 2B for the OOB profile
    assert "+-12.96" in result.stdout  # m/s


def test_radar_info_cfg_errors_are_clear(tmp_path) -> None:
    cfg = tmp_path / "short_ramp.cfg"
    cfg.write_text(
        "channelCfg 15 7 0\nprofileCfg 0 60 7 3 10 0 0 166 1 256 12500 0 0 158\n"
        "chirpCfg 0 0 0 0 0 0 0 1\nframeCfg 0 0 32 0 100 1 0\n"
    )
    result = runner.invoke(app, ["radar", "info", "--cfg", str(cfg)])
    assert result.exit_code == 2
    assert "ramp too short" in result.output
    result = runner.invoke(app, ["radar", "info", "--preset", "nope"])
    assert result.exit_code == 2 and "unknown radar preset" in result.output
    result = runner.invoke(app, ["radar", "info"])
    assert result.exit_code != 0
