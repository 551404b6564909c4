"""Benchmark: does pre-training on simulated rehab clouds help a pose estimator learn MARS with few labels?

Trains the MARS CNN on a subset of MARS's training windows (``--labels``: how many, drawn at random
with the seed) twice: from scratch, and starting from a checkpoint trained on simulated ``rehab`` data
(``--pretrained``; e.g. ``benchmarks/joints_estimators.py --data runs/sim/rehab.npz``). Both are
selected on MARS validate (the same windows) and evaluated on all of MARS validate; the pre-trained
checkpoint without fine-tuning and MARS's training mean pose are printed as references. The fine-tuned
run re-derives the input and output normalisation from the MARS subset (``TorchPoseEstimator.prepare``),
exactly as the from-scratch run does.

    mmsight simulate rehab --out runs/sim/rehab --sequences 400 --workers 2 --config radar_only.yaml
    mmsight joints import-sim runs/sim/rehab --out runs/sim/rehab.npz
    python benchmarks/joints_estimators.py --data runs/sim/rehab.npz --out runs/sim/est --estimators mars_cnn --epochs 40
    python benchmarks/sim_pretraining.py --pretrained runs/sim/est/mars_cnn.safetensors --labels 250 1000 4000
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from mmsight.joints.estimators import create_estimator, evaluate_estimator, load_estimator, train_estimator
from mmsight.joints.mars_data import load_mars_npz, make_windows

ROOT = Path(__file__).resolve().parents[1]
MARS = ROOT.parent / "shared" / "data" / "mars" / "mars_train_validate.npz"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pretrained", type=Path, required=True, help="MARS CNN checkpoint trained on simulated data")
    ap.add_argument("--data", type=Path, default=MARS, help="MARS-format file with train and validate splits")
    ap.add_argument("--labels", type=int, nargs="+", default=[250, 1000, 4000], help="MARS training windows used")
    ap.add_argument("--epochs", type=int, default=80)
    ap.add_argument("--patience", type=int, default=15)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path, default=None, help="write the results here")
    args = ap.parse_args()
    if not args.pretrained.is_file():
        raise SystemExit(f"checkpoint not found: {args.pretrained}")
    torch.set_num_threads(args.threads)
    frames = load_mars_npz(args.data)
    n_train = len(make_windows(frames, 1, "train"))

    def metrics(est) -> dict[str, float]:  # type: ignore[no-untyped-def]
        r = evaluate_estimator(est, frames, "validate", by_subject=False)
        return {"mae_cm": float(r["mae_cm"]), "mpjpe_cm": float(r["mpjpe_cm"]), "pck50": float(r["pck0.5"])}

    tr = make_windows(frames, 1, "train")
    va = make_windows(frames, 1, "validate")
    gt = frames.joints[va.targets]
    mean_pred = np.broadcast_to(frames.joints[tr.targets].mean(axis=0), gt.shape)
    rows: list[dict[str, object]] = [{
        "labels": n_train, "start": "MARS training mean pose",
        "mpjpe_cm": float(np.linalg.norm(mean_pred - gt, axis=-1).mean() * 100)}]
    zero = metrics(load_estimator(args.pretrained))
    rows.append({"labels": 0, "start": "simulation only (no MARS labels)", **zero})
    for n in args.labels:
        for start in ("scratch", "simulation"):
            est = create_estimator("mars_cnn", seed=args.seed) if start == "scratch" else load_estimator(args.pretrained)
            t0 = time.perf_counter()
            res = train_estimator(est, frames, args.epochs, patience=args.patience, seed=args.seed,
                                  max_train_windows=min(n, n_train), log=None)
            rows.append({"labels": min(n, n_train), "start": start, **metrics(res.estimator),
                         "epochs": res.best_epoch, "minutes": (time.perf_counter() - t0) / 60})
            r = rows[-1]
            print(f"[{n} labels, {start}] MPJPE {r['mpjpe_cm']:.2f} cm (best epoch {r['epochs']}, {r['minutes']:.1f} min)",
                  flush=True)
    print(f"\nMARS validate ({len(va)} windows); MARS train has {n_train} windows")
    print(f"{'MARS labels':>11s}  {'start':34s} {'MAE cm':>7s} {'MPJPE cm':>9s} {'PCK@0.5':>8s}")
    for r in rows:
        mae = f"{r['mae_cm']:7.2f}" if "mae_cm" in r else f"{'':7s}"
        pck = f"{r['pck50']:8.1f}" if "pck50" in r else f"{'':8s}"
        print(f"{r['labels']:11d}  {r['start']:34s} {mae} {r['mpjpe_cm']:9.2f} {pck}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"pretrained": args.pretrained.name, "seed": args.seed, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
