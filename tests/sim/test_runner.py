"""Tests of mmsight.sim.runner and ``mmsight simulate``: determinism across workers, kill + resume,
config checks, preview, command line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from mmsight.cli.simulate import simulate_command
from mmsight.data import DatasetError, open_dataset
from mmsight.sim.runner import simulate

N = 5
CONFIG = {"n_frames": 2, "image_size": 24}


def _contents(path: Path) -> dict[str, dict[str, object]]:
    """Every stream, label and calibration entry of every sequence (not the file bytes: HDF5 files
    carry their creation time)."""
    ds = open_dataset(path)
    out: dict[str, dict[str, object]] = {}
    for sid in ds.sequence_ids:
        rec = ds.read_sequence(sid)
        d: dict[str, object] = {"timestamps": rec.timestamps}
        for name in ("adc", "points", "point_offsets", "rgb", "depth", "skeleton"):
            d[name] = getattr(rec, name)
        for name in ("range_azimuth", "range_doppler"):
            m = getattr(rec, name)
            d[name] = None if m is None else m.data
        d.update({f"fl:{k}": v for k, v in rec.frame_labels.items()})
        d.update({f"sl:{k}": v for k, v in rec.sequence_labels.items()})
        d.update({f"cal:{k}": v for k, v in (rec.calibration or {}).items()})
        out[sid] = d
    return out


def _assert_same(a: dict, b: dict) -> None:
    assert sorted(a) == sorted(b)
    for sid in a:
        assert sorted(a[sid]) == sorted(b[sid]), sid
        for k, va in a[sid].items():
            vb = b[sid][k]
            if isinstance(va, np.ndarray):
                assert isinstance(vb, np.ndarray) and va.dtype == vb.dtype and va.shape == vb.shape, (sid, k)
                assert np.array_equal(va, vb, equal_nan=va.dtype.kind == "f"), (sid, k)
            else:
                assert va == vb, (sid, k)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ref") / "weapons"
    res = simulate("weapons", out, N, seed=11, workers=1, preview=True, tiny=True, config=CONFIG, progress=False)
    assert res.written == N and res.skipped == 0 and res.preview is not None and res.preview.is_file()
    return out


def test_dataset_is_complete_with_fixed_splits(reference: Path) -> None:
    ds = open_dataset(reference)
    assert ds.complete and len(ds.sequence_ids) == N
    assert ds.config["task"] == "weapons" and ds.config["seed"] == 11 and ds.config["sequences"] == N
    ids = sorted(i for v in ds.splits.values() for i in v)
    assert ids == ds.sequence_ids
    assert (reference / "preview_weapons.png").stat().st_size > 10_000
    # a second run with the same seed and another worker count gives identical contents
    # (checked in test_killed_run_resumes_to_the_same_dataset); a different seed differs
    other = reference.parent / "seed12"
    simulate("weapons", other, 2, seed=12, tiny=True, config=CONFIG, progress=False)
    a, b = _contents(reference), _contents(other)
    assert not np.array_equal(a["weapons-00000"]["rgb"], b["weapons-00000"]["rgb"])


def test_killed_run_resumes_to_the_same_dataset(reference: Path, tmp_path: Path) -> None:
    out = tmp_path / "killed"
    src = Path(__file__).resolve().parents[2] / "src"
    code = (
        "from mmsight.sim.runner import simulate\n"
        f"simulate('weapons', {str(out)!r}, {N}, seed=11, workers=2, tiny=True, config={CONFIG!r}, progress=False)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(src) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seq_dir = out / "sequences"
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            if seq_dir.is_dir() and len(list(seq_dir.glob("*.h5"))) >= 2:
                break
            if proc.poll() is not None:
                break
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the run and its worker processes
        proc.wait(timeout=30)
    done = len(list(seq_dir.glob("*.h5")))
    assert proc.returncode == -signal.SIGKILL, f"the run finished before it could be killed ({done} files)"
    assert 1 <= done < N
    assert not open_dataset(out, allow_incomplete=True).complete
    with pytest.raises(DatasetError, match="resume"):
        simulate("weapons", out, N, seed=11, tiny=True, config=CONFIG, progress=False)
    res = simulate("weapons", out, N, seed=11, workers=1, resume=True, tiny=True, config=CONFIG, progress=False)
    assert res.skipped == done and res.written == N - done
    assert not list(seq_dir.glob(".*.tmp"))
    _assert_same(_contents(out), _contents(reference))
    assert open_dataset(out).splits == open_dataset(reference).splits
    # resuming a finished dataset is a no-op; another configuration is refused
    again = simulate("weapons", out, N, seed=11, resume=True, tiny=True, config=CONFIG, progress=False)
    assert again.written == 0 and again.skipped == N
    with pytest.raises((DatasetError, ValueError), match="config"):
        simulate("weapons", out, N, seed=12, resume=True, tiny=True, config=CONFIG, progress=False)


def test_command_line(tmp_path: Path) -> None:
    app = typer.Typer()
    app.command()(simulate_command)
    runner = CliRunner()
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("n_frames: 2\nimage_size: 24\n")
    out = tmp_path / "rehab"
    args = ["rehab", "--out", str(out), "--sequences", "2", "--seed", "3", "--tiny", "--config", str(cfg), "--quiet"]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert "splits" in r.output and open_dataset(out).complete
    r = runner.invoke(app, args)  # exists, no --resume
    assert r.exit_code == 1 and "--resume" in r.output
    r = runner.invoke(app, [*args, "--resume"])
    assert r.exit_code == 0 and "already present" in r.output
    r = runner.invoke(app, ["juggling", "--out", str(tmp_path / "x")])
    assert r.exit_code != 0
