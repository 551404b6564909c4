"""Atomic writes, resume after a crash, and parallel writers in separate processes."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from data_helpers import assert_records_equal, make_record

import mmsight.data.store as store
from mmsight.data import DatasetError, DatasetWriter, IncompleteDatasetError, open_dataset

# Source shared by the worker subprocesses and by the test (to rebuild the expected records).
RECORD_SRC = textwrap.dedent(
    """
    import numpy as np
    from mmsight.data.store import SequenceRecord

    def make(sid, seed, n_frames=120):
        rng = np.random.default_rng(seed)
        counts = rng.integers(0, 40, size=n_frames)
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        return SequenceRecord(
            sequence_id=sid,
            timestamps=np.arange(n_frames, dtype=np.float64) * 0.1,
            points=rng.normal(size=(int(offsets[-1]), 5)).astype(np.float32),
            point_offsets=offsets,
            rgb=rng.integers(0, 255, size=(n_frames, 16, 16, 3), dtype=np.uint8),
            sequence_labels={"seed": seed},
        )
    """
)


def _run(script: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", RECORD_SRC + textwrap.dedent(script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _make(sid: str, seed: int):
    ns: dict = {}
    exec(RECORD_SRC, ns)  # noqa: S102 - our own source, shared with the worker processes
    return ns["make"](sid, seed)


def test_exception_mid_write_leaves_nothing(tmp_path, monkeypatch):
    w = DatasetWriter(tmp_path / "ds")
    w.write_sequence(make_record("good", 3))

    def boom(f, rec):
        f.create_dataset("points/data", data=rec.points)
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(store, "_write_points", boom)
    with pytest.raises(RuntimeError, match="disk on fire"):
        w.write_sequence(make_record("bad", 3))
    assert sorted(p.name for p in (tmp_path / "ds" / "sequences").iterdir()) == ["good.h5"]
    assert not w.has_sequence("bad")
    monkeypatch.undo()
    ds = w.finalize({"train": ["good"]})
    assert ds.sequence_ids == ["good"]


def test_killed_writer_then_resume(tmp_path):
    path = tmp_path / "ds"
    DatasetWriter(path, name="crashy", config={"k": 1})
    res = _run(
        """
        import os, signal, sys
        import mmsight.data.store as store
        from mmsight.data.store import DatasetWriter
        w = DatasetWriter(sys.argv[1], resume=True)
        w.write_sequence(make("done", 1))
        orig = store._write_points
        def killer(f, rec):
            orig(f, rec)
            f.flush()
            os.kill(os.getpid(), signal.SIGKILL)  # die in the middle of a sequence
        store._write_points = killer
        w.write_sequence(make("killed", 2))
        """,
        str(path),
    )
    assert res.returncode == -9, res.stderr
    names = sorted(os.listdir(path / "sequences"))
    assert names[0].startswith(".killed.h5.") and names[0].endswith(".tmp") and names[1:] == ["done.h5"]
    # the half-written sequence is invisible, and the dataset says it is incomplete
    with pytest.raises(IncompleteDatasetError, match="incomplete"):
        open_dataset(path)
    assert open_dataset(path, allow_incomplete=True).sequence_ids == ["done"]
    with pytest.raises(DatasetError, match="config differs"):
        DatasetWriter(path, resume=True, config={"k": 2})
    w = DatasetWriter(path, resume=True, config={"k": 1})
    assert w.removed_temps == [names[0]]  # the dead writer's temp file is gone
    assert w.has_sequence("done") and not w.has_sequence("killed")
    for sid, seed in (("done", 1), ("killed", 2)):
        if not w.has_sequence(sid):
            w.write_sequence(_make(sid, seed))
    ds = w.finalize({"train": ["done", "killed"]})
    assert ds.name == "crashy" and ds.config == {"k": 1}
    assert sorted(os.listdir(path / "sequences")) == ["done.h5", "killed.h5"]
    for sid, seed in (("done", 1), ("killed", 2)):
        assert_records_equal(_make(sid, seed), ds.read_sequence(sid))


def test_two_processes_write_one_dataset(tmp_path):
    N = 10  # sequences per worker
    path = tmp_path / "ds"
    go = tmp_path / "go"
    DatasetWriter(path, name="parallel", config={"workers": 2})
    script = """
        import sys, time, pathlib
        from mmsight.data.store import DatasetWriter
        path, worker, go = sys.argv[1], int(sys.argv[2]), pathlib.Path(sys.argv[3])
        w = DatasetWriter(path, resume=True)   # attach to the dataset being written
        (go.parent / f"ready{worker}").touch()
        while not go.exists():
            time.sleep(0.002)
        t0 = time.time()
        for i in range(N):
            sid = f"w{worker}_{i}"
            if not w.has_sequence(sid):
                w.write_sequence(make(sid, 100 * worker + i))
        print(t0, time.time())
    """
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RECORD_SRC + f"N = {N}\n" + textwrap.dedent(script), str(path), str(k), str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for k in (0, 1)
    ]
    deadline = time.time() + 60
    while not ((tmp_path / "ready0").exists() and (tmp_path / "ready1").exists()):
        assert time.time() < deadline and all(p.poll() is None for p in procs), "workers did not start"
        time.sleep(0.005)
    go.touch()  # both workers start writing at the same moment
    outs = [p.communicate(timeout=60) for p in procs]
    spans = []
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
        spans.append([float(v) for v in out.split()])
    assert max(s[0] for s in spans) < min(s[1] for s in spans), f"writes did not overlap: {spans}"
    w = DatasetWriter(path, resume=True)
    ds = w.finalize({"train": [f"w0_{i}" for i in range(N)], "test": [f"w1_{i}" for i in range(N)]})
    assert len(ds.sequence_ids) == 2 * N and ds.name == "parallel"
    for k in (0, 1):
        for i in range(N):
            sid = f"w{k}_{i}"
            assert_records_equal(_make(sid, 100 * k + i), ds.read_sequence(sid))
    assert not [n for n in os.listdir(path / "sequences") if n.endswith(".tmp")]


def test_finalize_waits_for_live_writers(tmp_path):
    w = DatasetWriter(tmp_path / "ds")
    w.write_sequence(make_record("a", 2, full=False))
    # a temp file locked by a (live) writer: finalize must refuse; resume must not delete it
    tmp = tmp_path / "ds" / "sequences" / ".b.h5.999-abcd.tmp"
    fd = os.open(tmp, os.O_CREAT | os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        with pytest.raises(DatasetError, match=r"still being written.*\.b\.h5\.999-abcd\.tmp"):
            w.finalize({"train": ["a"]})
        assert DatasetWriter(tmp_path / "ds", resume=True).removed_temps == []
        assert tmp.exists()
    finally:
        os.close(fd)  # the writer "dies": its lock goes away
    ds = w.finalize({"train": ["a"]})
    assert not tmp.exists() and ds.sequence_ids == ["a"]


def test_manifest_write_is_atomic(tmp_path, monkeypatch):
    w = DatasetWriter(tmp_path / "ds", config={"v": 1})
    w.write_sequence(make_record("a", 2, full=False))
    before = (tmp_path / "ds" / "dataset.yaml").read_bytes()

    def fail(*args, **kwargs):
        raise OSError("no space left on device")

    monkeypatch.setattr(store.os, "replace", fail)
    with pytest.raises(OSError, match="no space"):
        w.finalize({"train": ["a"]})
    monkeypatch.undo()
    assert (tmp_path / "ds" / "dataset.yaml").read_bytes() == before  # old manifest intact
    assert not [n for n in os.listdir(tmp_path / "ds") if n.endswith(".tmp")]
    with pytest.raises(IncompleteDatasetError):
        open_dataset(tmp_path / "ds")
    assert np.array_equal(open_dataset(tmp_path / "ds", allow_incomplete=True).read_sequence("a").timestamps,
                          make_record("a", 2, full=False).timestamps)
