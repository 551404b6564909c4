"""The command line: `mmsight data import mars|radhar` and `mmsight data info` on the real recordings."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mmsight.cli import app
from mmsight.data import open_dataset

SHARED_DATA = Path(os.environ.get("MMSIGHT_SHARED_DATA", Path(__file__).resolve().parents[2].parent / "shared" / "data"))
MARS_NPZ = SHARED_DATA / "mars" / "mars_train_validate.npz"
RADHAR_DIR = SHARED_DATA / "radhar"

runner = CliRunner()


@pytest.mark.skipif(not MARS_NPZ.is_file(), reason="shared MARS data (<repo>/../shared/data/mars) not present")
def test_import_mars_and_info(tmp_path) -> None:
    out = tmp_path / "mars"
    result = runner.invoke(app, ["data", "import", "mars", str(MARS_NPZ), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "32,099 frames" in result.output  # the count in shared/data/README.md
    dataset = open_dataset(out)
    assert sum(dataset.n_frames(s) for s in dataset.sequence_ids) == 32099
    result = runner.invoke(app, ["data", "info", str(out)])
    assert result.exit_code == 0, result.output
    assert "complete" in result.output and "validate" in result.output
    # importing again into the same folder is refused unless asked to overwrite
    again = runner.invoke(app, ["data", "import", "mars", str(MARS_NPZ), "--out", str(out)])
    assert again.exit_code != 0


@pytest.mark.skipif(not (RADHAR_DIR / "radhar_test.npz").is_file(), reason="shared RadHAR data not present")
def test_import_radhar_reports_corrupt_rows(tmp_path) -> None:
    out = tmp_path / "radhar"
    result = runner.invoke(app, ["data", "import", "radhar", str(RADHAR_DIR), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "186" in result.output  # recordings
    assert "-887" in result.output  # the corrupt velocity is shown, not silently dropped
    dataset = open_dataset(out)
    assert len(dataset.sequence_ids) == 186
