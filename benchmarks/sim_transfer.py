"""Benchmark: does a pose estimator learned on real MARS clouds work on simulated `rehab` clouds?

Runs a trained MARS-format estimator (default: the MARS CNN that mmJoints ships) on the test split of
a simulated rehab dataset and prints its MPJPE per condition (environment x radar position), then
probes MARS's own condition (``lab`` / ``front``): root-aligned error, the MARS training mean pose
as a prediction, the scene shifted so that the median SpineBase matches MARS's, and the point
intensity rescaled. Results: ``docs/sim_calibration.md`` ("A learned estimator across the gap").

    mmsight simulate rehab --out runs/sim/rehab --sequences 400 --workers 2 --config radar_only.yaml  # camera: false
    mmsight joints import-sim runs/sim/rehab --out runs/sim/rehab.npz
    python benchmarks/sim_transfer.py --dataset runs/sim/rehab --data runs/sim/rehab.npz
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from mmsight.data import open_dataset
from mmsight.joints.estimators import load_estimator
from mmsight.joints.estimators.train import predict_windows
from mmsight.joints.mars_data import frames_from_arrays, load_mars_npz, make_windows

ROOT = Path(__file__).resolve().parents[1]
MARS = ROOT.parent / "shared" / "data" / "mars" / "mars_train_validate.npz"
SHIPPED = ROOT / "src" / "mmsight" / "joints" / "assets" / "mmjoints_mars_cnn" / "estimator.safetensors"


def errors(est, arrays: dict, split: str, mean_pose: np.ndarray) -> dict[str, np.ndarray]:
    """Per test window: MPJPE (cm), root-aligned MPJPE, MARS-mean-pose MPJPE, and the recording."""
    fr = frames_from_arrays(arrays)
    idx = make_windows(fr, est.window, split)
    last = idx.frames[:, -1]
    gt = fr.joints[last]
    pred = predict_windows(est, fr, idx)
    return {"mpjpe": np.linalg.norm(pred - gt, axis=-1).mean(1) * 100,
            "root": np.linalg.norm((pred - pred[:, :1]) - (gt - gt[:, :1]), axis=-1).mean(1) * 100,
            "mean_pose": np.linalg.norm(mean_pose[None] - gt, axis=-1).mean(1) * 100,
            "recording": fr.recording[last]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", type=Path, required=True, help="the simulated rehab dataset (for its labels)")
    ap.add_argument("--data", type=Path, required=True, help="the same dataset as a MARS-format .npz (import-sim)")
    ap.add_argument("--estimator", type=Path, default=SHIPPED, help="estimator .safetensors (default: shipped MARS CNN)")
    ap.add_argument("--mars", type=Path, default=MARS, help="the MARS file (its training poses and placement)")
    ap.add_argument("--split", default="test")
    args = ap.parse_args()

    est = load_estimator(args.estimator)
    z = dict(np.load(args.data))
    if "frame_recording" not in z:
        raise SystemExit(f"{args.data} has no frame_recording array: write it with 'mmsight joints import-sim'")
    ds = open_dataset(args.dataset)
    labels = [ds.info(s).sequence_labels for s in ds.sequence_ids]
    if len(labels) != int(z["frame_recording"].max()) + 1:
        raise SystemExit(f"{args.data} was not converted from {args.dataset} (recording counts differ)")
    mars = load_mars_npz(args.mars)
    train = (mars.split == 0) & mars.valid
    mean_pose = mars.joints[train].mean(axis=0)
    mars_root = np.median(mars.joints[mars.valid][:, 0], axis=0)
    lab_frames = np.array([labels[r]["environment"] == "lab" and labels[r]["radar_position"] == "front"
                           for r in z["frame_recording"]])
    if not lab_frames.any():
        raise SystemExit(f"{args.dataset} has no lab / front sequence (MARS's condition)")
    sim_root = np.median(z["joints"][lab_frames, 0], axis=0)
    print(f"estimator {args.estimator.name}; SpineBase median (m): MARS {np.round(mars_root, 3)}, "
          f"sim lab/front {np.round(sim_root, 3)}")

    base = errors(est, z, args.split, mean_pose)
    cond = np.array([f"{labels[r]['environment']}/{labels[r]['radar_position']}" for r in base["recording"]])
    print(f"\n{'condition':24s} {'windows':>8s} {'MPJPE cm':>9s}")
    for c in sorted(set(cond)):
        m = cond == c
        print(f"{c:24s} {m.sum():8d} {base['mpjpe'][m].mean():9.2f}")
    print(f"{'all':24s} {len(cond):8d} {base['mpjpe'].mean():9.2f}")

    lab = cond == "lab/front"
    print(f"\nlab/front probes {'':14s} {'MPJPE':>7s} {'root-aligned':>13s} {'MARS mean pose':>15s}")

    def show(tag: str, arrays: dict) -> None:
        e = base if arrays is z else errors(est, arrays, args.split, mean_pose)
        print(f"{tag:31s} {e['mpjpe'][lab].mean():7.2f} {e['root'][lab].mean():13.2f} {e['mean_pose'][lab].mean():15.2f}")

    show("as simulated", z)
    shift = mars_root - sim_root
    show(f"shifted by {np.round(shift, 3)}", dict(z, points=np.column_stack([z["points"][:, :3] + shift, z["points"][:, 3:]]),
                                              joints=z["joints"] + shift))
    for f in (0.5, 2.0):
        p = z["points"].copy()
        p[:, 4] *= f
        show(f"intensity x{f:g}", dict(z, points=p))


if __name__ == "__main__":
    main()
