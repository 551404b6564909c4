"""The simulated rehab movements against MARS's Kinect skeletons: per movement, how far apart the poses are.

For each of the ten MARS movements, the simulator's motion (:func:`mmsight.sim.motion.rehab_movement`,
``rehab`` task subjects and styles, ``lab`` / ``front`` scenes, Kinect V2 joints in the radar frame; no
radar rendering, so this runs in seconds) is compared with every MARS frame of that movement
(``shared/data/mars/mars_train_validate.npz``, frames with a skeleton) on:

* **pose**: the per-joint median position relative to SpineBase over the movement's frames, then the
  mean distance over MARS's 19 joints between the two median poses (cm), and the same for the
  moving extremity (wrists or ankles) at the 10th and 90th percentile of its height or lateral offset;
* **placement**: the median SpineBase position in the radar frame (x right, y boresight, z up);
* **timing**: the repetition period (first autocorrelation peak of the movement's main signal) and the
  share of time the signal spends above half its 5-95 % range (duty).

The skeletons differ as well as the motion: Kinect V2's SpineBase sits lower in the body than the
simulator's pelvis (MARS: SpineBase -> ankles 0.66 m, SpineBase -> head 0.77 m; simulated subjects of
1.52-1.87 m: 0.86 and 0.73 m), which sets a floor of several cm under the pose distance.
``docs/sim_calibration.md`` ("Movement kinematics") records the before / after of the calibration.

    python benchmarks/sim_motion_vs_mars.py                 # 5 subjects x 2 takes per movement
    python benchmarks/sim_motion_vs_mars.py --subjects 10 --takes 3
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MARS = ROOT.parent / "shared" / "data" / "mars" / "mars_train_validate.npz"
MARS19 = [i for i in range(21) if i not in (7, 11)]
# Kinect V2 joint indices
SB, HEAD, WRIST_L, WRIST_R, ANKLE_L, ANKLE_R = 0, 3, 6, 10, 14, 18


def main_signal(movement: int, rel: np.ndarray, absolute: np.ndarray) -> np.ndarray:
    """The quantity that goes up and down with each repetition ``[T]`` (radar frame, m)."""
    if movement in (1, 3):
        return rel[:, WRIST_L, 2]
    if movement == 2:
        return rel[:, WRIST_R, 2]
    if movement in (4, 5, 6):
        return -absolute[:, SB, 2]  # the pelvis sinking
    if movement == 7:
        return absolute[:, SB, 0]  # the pelvis shifting (to the subject's left = radar +x)
    if movement == 8:
        return -absolute[:, SB, 0]
    if movement == 9:
        return rel[:, ANKLE_L, 0]
    return -rel[:, ANKLE_R, 0]


def timing(x: np.ndarray, dt: float) -> tuple[float, float]:
    """(period s, duty) of one continuous recording."""
    lo, hi = np.percentile(x, [5, 95])
    duty = float(np.mean(x > lo + 0.5 * (hi - lo)))
    xc = x - x.mean()
    ac = np.correlate(xc, xc, "full")[len(xc) - 1:]
    ac = ac / max(ac[0], 1e-12)
    neg = np.flatnonzero(ac < 0)
    if len(neg) == 0:
        return float("nan"), duty
    z = int(neg[0])
    peak = z + int(np.argmax(ac[z: z + int(8.0 / dt)]))
    return peak * dt, duty


def mars_recordings(path: Path) -> dict[int, list[np.ndarray]]:
    """Movement -> list of skeleton runs ``[T, 25, 3]`` (one per subject; frames without skeleton dropped)."""
    d = np.load(path)
    j, mv, sub = d["joints"], d["frame_movement"], d["frame_subject"]
    ok = np.isfinite(j).all(axis=(1, 2)) & (np.abs(j).sum(axis=(1, 2)) > 0)
    out: dict[int, list[np.ndarray]] = {}
    for m in range(1, 11):
        for s in np.unique(sub):
            sel = (mv == m) & (sub == s) & ok
            if sel.sum() > 50:
                out.setdefault(m, []).append(j[sel].astype(np.float64))
    return out


def sim_recordings(movement: int, subjects: int, takes: int, seed: int) -> list[np.ndarray]:
    from mmsight.sim.motion import rehab_movement
    from mmsight.sim.scenes import rehab_scene
    from mmsight.sim.tasks.common import make_subject, skeleton_radar

    runs = []
    for s in range(subjects):
        subject = make_subject(seed, s)
        for k in range(takes):
            rng = np.random.default_rng([seed, s, movement, k])
            scene = rehab_scene("lab", "front", rng)
            clip = rehab_movement(subject.body, movement, subject.rehab_style, repetitions=4, fps=10.0,
                                  position=tuple(scene.labels["subject_xy"]),
                                  heading=float(scene.labels["subject_heading"]), rng=rng,
                                  lead_in=float(rng.uniform(0.3, 1.0)))
            sk, _ = skeleton_radar(clip.pose().joints, scene.rig.T_radar_from_room, "kinect25")
            runs.append(sk.astype(np.float64))
    return runs


def summarize(runs: list[np.ndarray], movement: int, dt: float) -> dict[str, object]:
    allj = np.concatenate(runs)
    rel = allj - allj[:, :1]
    per = [timing(main_signal(movement, r - r[:, :1], r), dt) for r in runs]
    return {"median_pose": np.median(rel, axis=0), "spinebase": np.median(allj[:, SB], axis=0),
            "period": float(np.nanmedian([p for p, _ in per])), "duty": float(np.median([d for _, d in per])),
            "signal_p10_p90": np.percentile(main_signal(movement, rel, allj), [10, 90])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mars", type=Path, default=MARS)
    ap.add_argument("--subjects", type=int, default=5)
    ap.add_argument("--takes", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if not args.mars.is_file():
        raise SystemExit(f"MARS file not found: {args.mars}")
    from mmsight.sim.motion import MARS_MOVEMENTS

    real = mars_recordings(args.mars)
    head = (f"{'#':>2s} {'movement':27s} {'pose dist':>9s} {'signal p10..p90 sim | MARS (m)':>32s} "
            f"{'period sim|MARS (s)':>19s} {'duty sim|MARS':>13s} {'SpineBase x,y,z sim | MARS (m)':>36s}")
    print(head)
    print("-" * len(head))
    dists = []
    for m in range(1, 11):
        s = summarize(sim_recordings(m, args.subjects, args.takes, args.seed), m, 0.1)
        r = summarize(real[m], m, 0.1)
        d = float(np.linalg.norm(s["median_pose"][MARS19] - r["median_pose"][MARS19], axis=1).mean() * 100)
        dists.append(d)
        sp, rp = s["signal_p10_p90"], r["signal_p10_p90"]
        sb_s = ",".join(f"{v:+.2f}" for v in s["spinebase"])
        sb_r = ",".join(f"{v:+.2f}" for v in r["spinebase"])
        print(f"{m:2d} {MARS_MOVEMENTS[m]:27s} {d:7.1f}cm {sp[0]:+.2f}..{sp[1]:+.2f} | {rp[0]:+.2f}..{rp[1]:+.2f}"
              f"        {s['period']:4.1f} | {r['period']:4.1f}   {s['duty']:.2f} | {r['duty']:.2f}"
              f"   {sb_s} | {sb_r}")
    print(f"mean pose distance over the ten movements: {np.mean(dists):.1f} cm")


if __name__ == "__main__":
    main()
