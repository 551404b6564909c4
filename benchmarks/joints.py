"""Benchmark mmJoints inference: latency from a radar window to (x, y, z, xi, kappa), and model size.

    python benchmarks/joints.py                                  # shipped checkpoint, MARS windows
    python benchmarks/joints.py --checkpoint runs/joints/mmj/mars_cnn --threads 1 2 --repeats 300

For every thread count it times, on real MARS windows (or random ones when the data file is
absent), one frame at a time (batch 1, the live-radar case):

* ``estimator``  - the black box alone (its own window of frames -> skeleton);
* ``mmjoints``   - the mmJoints network alone (K-frame window + skeleton -> xi, kappa);
* ``end_to_end`` - both, from the raw point lists to (x, y, z, xi, kappa), including padding;

and the throughput of batched inference (``--batch``). Latencies are medians and 90th
percentiles in milliseconds after a warm-up. Model size: parameters and bytes of the checkpoint
files (float32 / float16). Results go to ``--out`` (JSON) and the terminal.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from mmsight.joints.evaluate import default_checkpoint
from mmsight.joints.mars_data import load_mars_npz, pad_point_list
from mmsight.joints.pipeline import MMJointsBundle

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(os.environ.get("MMSIGHT_MARS_NPZ", REPO.parent / "shared" / "data" / "mars" / "mars_train_validate.npz"))


def _windows(data: Path, n: int, length: int, seed: int = 0) -> list[list[np.ndarray]]:
    """``n`` windows of ``length`` consecutive frames (lists of ``[N_i, 5]`` point arrays)."""
    rng = np.random.default_rng(seed)
    if data.is_file():
        frames = load_mars_npz(data)
        rid = frames.run_id
        ends = [t for t in rng.choice(np.arange(length, frames.n_frames), n * 3, replace=False)
                if rid[t - length + 1] == rid[t]][:n]
        return [[frames.frame_points(f) for f in range(t - length + 1, t + 1)] for t in ends]
    out = []
    for _ in range(n):
        win = []
        for _ in range(length):
            k = int(rng.integers(10, 64))
            p = rng.normal(0, 0.3, size=(k, 5)).astype(np.float32)
            p[:, 1] += 2.0
            p[:, 4] = np.abs(p[:, 4]) * 100
            win.append(p)
        out.append(win)
    return out


def _time(fn, repeats: int, warmup: int = 10) -> dict[str, float]:
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t) * 1000)
    ts.sort()
    return {"median_ms": statistics.median(ts), "p90_ms": ts[int(0.9 * (len(ts) - 1))], "mean_ms": float(np.mean(ts))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", type=Path, default=default_checkpoint())
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeats", type=int, default=200)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--out", type=Path, default=REPO / "runs" / "joints" / "bench_joints.json")
    args = ap.parse_args()

    bundle = MMJointsBundle.load(args.checkpoint)
    est, model = bundle.estimator, bundle.model
    if est is None:
        raise SystemExit(f"{args.checkpoint}: the checkpoint holds no estimator")
    k, m = model.window, model.config.signal.max_points
    length = max(k, est.window)
    wins = _windows(args.data, max(args.repeats, args.batch), length)
    n_params = model.num_parameters()
    est_params = est.num_parameters() if hasattr(est, "num_parameters") else None
    files = {f.name: f.stat().st_size for f in Path(args.checkpoint).iterdir() if f.is_file()}
    res: dict = {"checkpoint": os.fspath(args.checkpoint), "estimator": bundle.estimator_info,
                 "mmjoints_parameters": n_params, "mmjoints_float32_mb": n_params * 4 / 1e6,
                 "estimator_parameters": est_params, "checkpoint_files_bytes": files,
                 "checkpoint_total_mb": sum(files.values()) / 1e6, "window_frames": length,
                 "cpu": platform.processor() or platform.machine(), "torch": torch.__version__,
                 "data": os.fspath(args.data) if args.data.is_file() else "random windows", "timings": {}}

    def prep(batch: list[list[np.ndarray]]) -> tuple[torch.Tensor, torch.Tensor]:
        flat = [f for w in batch for f in w[-k:]]
        pad, cnt = pad_point_list(flat, m)
        b = len(batch)
        return torch.from_numpy(pad.reshape(b, k, m, 5)), torch.from_numpy(cnt.reshape(b, k))

    model.eval()
    it = iter(range(10**9))
    for nt in args.threads:
        torch.set_num_threads(nt)
        pose1 = torch.from_numpy(est.predict([w[-est.window:] for w in wins[:1]]))
        pts1, cnt1 = prep(wins[:1])

        def one_est() -> None:
            i = next(it) % len(wins)
            est.predict([wins[i][-est.window:]])

        def one_mmj() -> None:
            with torch.no_grad():
                model(pts1, cnt1, pose1)

        def one_e2e() -> None:
            i = next(it) % len(wins)
            w = [wins[i]]
            pose = torch.from_numpy(est.predict([w[0][-est.window:]]))
            pts, cnt = prep(w)
            with torch.no_grad():
                o = model(pts, cnt, pose)
            np.concatenate([pose.numpy(), o.xi.numpy()[..., None], o.kappa.numpy()[..., None]], axis=-1)

        batch = wins[: args.batch]

        def batched() -> None:
            pose = torch.from_numpy(est.predict([w[-est.window:] for w in batch]))
            pts, cnt = prep(batch)
            with torch.no_grad():
                model(pts, cnt, pose)

        t_batch = _time(batched, max(3, args.repeats // 50), warmup=2)
        res["timings"][f"threads_{nt}"] = {
            "estimator": _time(one_est, args.repeats), "mmjoints": _time(one_mmj, args.repeats),
            "end_to_end": _time(one_e2e, args.repeats),
            "batched_per_frame_ms": t_batch["median_ms"] / len(batch), "batch": len(batch),
        }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=1))
    print(f"checkpoint {res['checkpoint']}: mmJoints {n_params:,} parameters ({res['mmjoints_float32_mb']:.2f} MB float32), "
          f"estimator {est_params:,} parameters; files {res['checkpoint_total_mb']:.2f} MB")
    for key, t in res["timings"].items():
        print(f"{key}: estimator {t['estimator']['median_ms']:.2f} ms, mmJoints {t['mmjoints']['median_ms']:.2f} ms, "
              f"end to end {t['end_to_end']['median_ms']:.2f} ms (p90 {t['end_to_end']['p90_ms']:.2f}); "
              f"batched {t['batched_per_frame_ms']:.3f} ms/frame")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
