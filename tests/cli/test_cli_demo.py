"""`mmsight demo` runs end to end and its radar part finds the two simulated people."""

from __future__ import annotations

import json

import numpy as np
from typer.testing import CliRunner

from mmsight.cli import app
from mmsight.radar import RadarConfig


def test_demo_writes_figures_and_finds_people(tmp_path) -> None:
    result = CliRunner().invoke(app, ["demo", "--out", str(tmp_path), "--mars", str(tmp_path / "absent.npz")])
    assert result.exit_code == 0, result.output
    radar = tmp_path / "radar"
    for name in ("range_azimuth.png", "range_doppler.png", "point_cloud.png"):
        assert (radar / name).stat().st_size > 10_000, name
    summary = json.loads((radar / "summary.json").read_text())
    assert RadarConfig.load_yaml(radar / "radar_config.yaml") == RadarConfig.preset("iwr6843isk")
    centroids = np.array(summary["clusters"])[:, :2]
    truth = np.array(summary["people_truth_xy"])
    assert len(centroids) == len(truth) == 2
    # every person has a cluster centroid within 0.3 m (the body is 0.4 m wide)
    distances = np.linalg.norm(truth[:, None, :] - centroids[None, :, :], axis=-1)
    assert distances.min(axis=1).max() < 0.3
    # the simulator's scene previews (RGB, depth, radar maps, point cloud, truth)
    for task in ("weapons", "wall"):
        assert (tmp_path / "simulator" / f"simulate_{task}.png").stat().st_size > 50_000, task
    assert "skipped: no MARS-format file" in result.output  # said, not silently dropped
