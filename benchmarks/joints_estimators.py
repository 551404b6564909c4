"""Benchmark the mmJoints black-box pose estimators on MARS-format data.

Train every estimator on the train split (frames with valid joints), select it on the validate
split, and report validate MAE / MPJPE / PCK per estimator:

    python benchmarks/joints_estimators.py                       # all estimators, paper settings
    python benchmarks/joints_estimators.py --estimators mars_cnn --epochs 20
    python benchmarks/joints_estimators.py --quick               # minutes-long smoke run

Evaluate saved checkpoints on any MARS-format file (e.g. the held-out test split), unchanged:

    python benchmarks/joints_estimators.py --evaluate runs/joints/estimators \\
        --data path/to/mars_test.npz --split all

Outputs in ``--out`` (default ``runs/joints/estimators/``): one ``<name>.safetensors`` per
estimator, ``mars_cnn_ship.safetensors`` (float16 MARS CNN, < 5 MB), ``results.json`` and
``results.md``. ``--resume`` reuses existing checkpoints instead of retraining them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mmsight.joints.estimators import (
    available_estimators,
    evaluate_estimator,
    load_estimator,
    pose_metrics,
    save_estimator,
    train_estimator,
)
from mmsight.joints.mars_data import MARS19_LOWER, MARS19_UPPER, MarsFrames, load_mars_npz, make_windows

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(os.environ.get("MMSIGHT_MARS_NPZ", REPO.parent / "shared" / "data" / "mars" / "mars_train_validate.npz"))
ORDER = ["mars_cnn", "p4t", "mmmesh", "m1_upper", "m2_lower", "m3_random"]
COLUMNS = [("MAE", "mae_cm", "{:.2f}"), ("MPJPE", "mpjpe_cm", "{:.2f}"), ("PCK@0.5", "pck0.5", "{:.1f}"),
           ("PCK@0.2", "pck0.2", "{:.1f}"), ("MAE up", "upper_mae_cm", "{:.2f}"), ("MAE low", "lower_mae_cm", "{:.2f}"),
           ("MAE s1", "s1_mae_cm", "{:.2f}"), ("MAE s2-4", "s234_mae_cm", "{:.2f}")]


def _row(res: dict[str, Any]) -> dict[str, Any]:
    subj = res.get("subjects", {})
    s1 = subj.get(1, {}).get("mae_cm", float("nan"))
    others = [(v["mae_cm"], v["n"]) for k, v in subj.items() if k != 1]
    s234 = sum(m * n for m, n in others) / max(sum(n for _, n in others), 1) if others else float("nan")
    return {"mae_cm": res["mae_cm"], "mpjpe_cm": res["mpjpe_cm"], "pck0.5": res["pck0.5"], "pck0.2": res["pck0.2"],
            "upper_mae_cm": res["upper"]["mae_cm"], "lower_mae_cm": res["lower"]["mae_cm"], "s1_mae_cm": s1,
            "s234_mae_cm": s234, "n_windows": res["n_windows"]}


def mean_pose_baseline(frames: MarsFrames, eval_frames: MarsFrames, split: Any, min_history: int = 0) -> dict[str, Any]:
    """Predict the training mean pose for every frame (the 'chance' reference)."""
    tr = make_windows(frames, 1, "train")
    va = make_windows(eval_frames, 1, split, min_history=min_history)
    gt = eval_frames.joints[va.targets]
    pred = np.broadcast_to(frames.joints[tr.targets].mean(axis=0), gt.shape)
    res = pose_metrics(pred, gt)
    res["upper"] = pose_metrics(pred, gt, MARS19_UPPER)
    res["lower"] = pose_metrics(pred, gt, MARS19_LOWER)
    subj = eval_frames.subject[va.targets]
    res["subjects"] = {int(s): pose_metrics(pred[subj == s], gt[subj == s]) for s in np.unique(subj)}
    res["n_windows"] = len(va)
    return res


def format_table(rows: dict[str, dict[str, Any]], extra_cols: tuple[str, ...] = ("epochs", "minutes")) -> str:
    head = ["estimator", "window"] + [c[0] for c in COLUMNS] + [c for c in extra_cols]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * len(head)) + "|"]
    for name, r in rows.items():
        cells = [name, str(r.get("window", ""))]
        cells += [fmt.format(r[key]) if isinstance(r.get(key), (int, float)) else "" for _, key, fmt in COLUMNS]
        for c in extra_cols:
            v = r.get(c, "")
            cells.append(f"{v:.1f}" if isinstance(v, float) else str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def evaluate_checkpoints(paths: list[Path], data: Path, split: Any, min_history: int) -> dict[str, dict[str, Any]]:
    frames = load_mars_npz(data)
    rows = {}
    for p in paths:
        est = load_estimator(p)
        t = time.perf_counter()
        res = evaluate_estimator(est, frames, split, min_history=min_history)
        rows[p.stem] = {"window": est.window, **_row(res), "minutes": (time.perf_counter() - t) / 60}
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="MARS-format .npz (default: %(default)s)")
    ap.add_argument("--out", type=Path, default=Path("runs/joints/estimators"))
    ap.add_argument("--estimators", default=",".join(ORDER), help="comma-separated registry names")
    ap.add_argument("--epochs", type=int, default=None, help="max epochs (default: each estimator's own)")
    ap.add_argument("--patience", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    ap.add_argument("--time-limit-min", type=float, default=None, help="per-estimator training time limit")
    ap.add_argument("--quick", action="store_true", help="smoke run: 3 epochs on 2000 windows")
    ap.add_argument("--resume", action="store_true", help="evaluate existing checkpoints instead of retraining")
    ap.add_argument("--evaluate", type=Path, nargs="+", default=None,
                    help="only evaluate these checkpoints (files or directories) on --data/--split")
    ap.add_argument("--split", default="validate", help="evaluation split: train, validate, test or all")
    ap.add_argument("--min-history", type=int, default=9,
                    help="score only target frames with this many earlier frames in their run, so that all "
                         "estimators (windows 1, 5, 10) are scored on the same frames (default 9)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    split: Any = None if args.split == "all" else args.split

    if args.evaluate:
        paths: list[Path] = []
        for p in args.evaluate:
            paths += sorted(p.glob("*.safetensors")) + sorted(p.glob("*.pt")) if p.is_dir() else [p]
        rows = evaluate_checkpoints(paths, args.data, split, args.min_history)
        print(f"data: {args.data.name}, split: {args.split}, min history: {args.min_history}")
        print(format_table(rows, ("n_windows",)))
        return 0

    names = [n.strip() for n in args.estimators.split(",") if n.strip()]
    unknown = set(names) - set(available_estimators())
    if unknown:
        ap.error(f"unknown estimators {sorted(unknown)}; available {available_estimators()}")
    frames = load_mars_npz(args.data)
    print(f"data: {args.data.name} {frames.summary()}", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    rows: dict[str, dict[str, Any]] = {}
    base = mean_pose_baseline(frames, frames, split, args.min_history)
    rows["mean pose (ref.)"] = {"window": 1, **_row(base)}
    details: dict[str, Any] = {"data": args.data.name, "split": args.split, "summary": frames.summary(),
                               "seed": args.seed, "estimators": {}}
    for name in names:
        ckpt = args.out / f"{name}.safetensors"
        t0 = time.perf_counter()
        info: dict[str, Any] = {}
        if args.resume and ckpt.exists():
            est = load_estimator(ckpt)
            info = dict(getattr(est, "checkpoint_extra", {}))
            print(f"[{name}] reusing {ckpt}", flush=True)
        else:
            kw: dict[str, Any] = {"patience": args.patience, "seed": args.seed}
            if args.quick:
                kw.update(epochs=3, max_train_windows=2000, max_val_windows=1000)
            elif args.epochs is not None:
                kw["epochs"] = args.epochs
            if args.time_limit_min is not None:
                kw["time_limit_s"] = args.time_limit_min * 60
            res = train_estimator(name, frames, log=lambda s: print(s, flush=True), **kw)
            est = res.estimator
            info = {"best_epoch": res.best_epoch, "epochs_run": len(res.history), "stopped": res.stopped,
                    "train_minutes": res.seconds / 60, "best_val_mae_cm_selection": res.best_val_mae_cm,
                    "counts": res.counts, "history": res.history, "data": args.data.name, "seed": args.seed}
            save_estimator(est, ckpt, extra={k: v for k, v in info.items() if k != "history"})
        ev = evaluate_estimator(est, frames, split, min_history=args.min_history)
        rows[name] = {"window": est.window, **_row(ev), "epochs": info.get("best_epoch", ""),
                      "minutes": float(info.get("train_minutes", (time.perf_counter() - t0) / 60))}
        details["estimators"][name] = {"config": est.config, "params": est.num_parameters(), "train": info,
                                       "eval": {k: v for k, v in ev.items()}}
        print(f"[{name}] validate MAE {ev['mae_cm']:.2f} cm, MPJPE {ev['mpjpe_cm']:.2f} cm, "
              f"PCK@0.5 {ev['pck0.5']:.1f} %", flush=True)
        if name == "mars_cnn":
            ship = args.out / "mars_cnn_ship.safetensors"
            save_estimator(est, ship, dtype="float16", extra={"note": "float16 copy of mars_cnn.safetensors",
                                                              "val_mae_cm_float32": ev["mae_cm"]})
            shipped = evaluate_estimator(load_estimator(ship), frames, split, by_subject=False,
                                         min_history=args.min_history)
            details["ship"] = {"path": str(ship), "bytes": ship.stat().st_size, "val_mae_cm": shipped["mae_cm"]}
            print(f"[mars_cnn] shipped float16 copy: {ship} ({ship.stat().st_size / 1e6:.2f} MB), "
                  f"MAE {shipped['mae_cm']:.3f} cm", flush=True)

    table = format_table(rows)
    print()
    print(f"Split '{args.split}' of {args.data.name}: target frames with valid joints and >= {args.min_history} "
          f"earlier frames in their run; errors in cm, PCK in %")
    print(table)
    (args.out / "results.md").write_text(table + "\n")
    (args.out / "results.json").write_text(json.dumps({"rows": rows, **details}, indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
