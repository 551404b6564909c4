"""Simulated versus real radar point clouds: the statistics the simulator is calibrated on.

Two comparisons, each on the same statistics for the simulated and the real clouds:

* **rehab vs MARS** - simulated ``rehab`` sequences (:mod:`mmsight.sim.tasks`, rendered with
  :func:`mmsight.sim.runner.simulate` into a cache folder; by default the MARS-like condition: the
  ``lab`` environment, radar ``front``) against the real MARS clouds
  (``shared/data/mars/mars_train_validate.npz``, all 32,099 frames; the skeleton statistics use the
  24,987 frames with a Kinect skeleton, subject 1's training frames have none);
* **walk vs RadHAR** - a small custom walking scene (a person walking back and forth 0.9-2.3 m in
  front of the radar, a back wall ~5 m away) rendered with RadHAR's radar configuration (the IWR1443
  ``1443_3d`` profile of ti_mmwave_rospkg: 77 GHz, 70 MHz/us, 240 samples at 4.884 Msps, 3 TX x 16
  loops, 30 fps; its 16 Doppler bins of 0.6147 m/s and 4.36 cm range bins are exactly what RadHAR's
  points show) against RadHAR's ``walk`` recordings (train + test, 45 recordings, 27,076 frames).

Statistics (per frame, then summarised over frames; see ``docs/sim_calibration.md``):

* points per frame: mean, median, 10th / 90th percentile, share of empty frames;
* spread around the skeleton (MARS's 19 joints): distance from each point to its nearest joint
  (median, 90th percentile); share of (frame, joint) pairs with a point within 10 cm / 20 cm;
* Doppler: per-frame standard deviation of the radial velocity (median over frames with >= 2
  points), share of points in the zero-Doppler bin (|v| below half the real radar's Doppler bin:
  0.178 m/s for MARS, 0.307 m/s for RadHAR, applied to both sides);
* intensity: MARS's ``intensity`` is unitless (and RadHAR's is a dB value of an unpublished
  reference), the simulator's is the CFAR SNR in dB. Only shapes are compared: the spread of
  ``10 log10(intensity)`` (p90 - p10, p50 - p10, p90 - p50, dB), i.e. the percentiles normalised by
  the median. That treats MARS's intensity as a power-like quantity (a linear TI ``peakVal``);
  were it an amplitude, its dB spreads would double. Absolute levels are not comparable.

MARS's clouds hold at most 64 points per frame (its 8 x 8 feature map): the simulated rehab clouds are
capped the same way (the 64 strongest) before the statistics; the uncapped mean is printed too.

Both sides use the same code for every statistic; the real data is used as it is (every frame).

    python benchmarks/sim_vs_real.py                          # simulate (cached) + compare
    python benchmarks/sim_vs_real.py --rehab-sequences 30 --workers 2 --markdown
    python benchmarks/sim_vs_real.py --variant before         # the untuned settings, for the docs
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

import numpy as np

REPO = Path(__file__).resolve().parents[1]
MARS19 = [i for i in range(21) if i not in (7, 11)]  # MARS's joints: Kinect 0-20 without the hands
MARS_ZERO_DOPPLER = 0.356 / 2  # half of MARS's Doppler bin (16 bins of 0.356 m/s)
RADHAR_ZERO_DOPPLER = 0.61466867 / 2  # half of RadHAR's Doppler bin


def shared_data() -> Path:
    env = os.environ.get("MMSIGHT_SHARED_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


# ---------------------------------------------------------------------------------------------- clouds


@dataclass
class Cloud:
    """Point clouds of many frames: ``points [P, 5]`` (x, y, z, doppler m/s, intensity dB),
    ``offsets [F+1]``, optional ``skeleton [F, J, 3]`` (NaN = missing) in the same frame."""

    points: np.ndarray
    offsets: np.ndarray
    skeleton: np.ndarray | None = None
    uncapped_mean: float | None = None

    @property
    def n_frames(self) -> int:
        return len(self.offsets) - 1

    @staticmethod
    def concat(clouds: list[Cloud]) -> Cloud:
        pts = np.concatenate([c.points for c in clouds]) if clouds else np.zeros((0, 5))
        offs = [0]
        for c in clouds:
            offs.extend((offs[-1] + c.offsets[1:]).tolist())
        sk = None
        if clouds and all(c.skeleton is not None for c in clouds):
            sk = np.concatenate([c.skeleton for c in clouds])  # type: ignore[misc]
        return Cloud(pts, np.asarray(offs, dtype=np.int64), sk)


def cap_points(cloud: Cloud, cap: int) -> Cloud:
    """Keep the ``cap`` strongest points of every frame (as MARS's 64-point feature map does)."""
    n = np.diff(cloud.offsets)
    if n.max(initial=0) <= cap:
        return replace(cloud, uncapped_mean=float(n.mean()) if len(n) else 0.0)
    keep = []
    for f in range(cloud.n_frames):
        a, b = int(cloud.offsets[f]), int(cloud.offsets[f + 1])
        idx = np.arange(a, b)
        if b - a > cap:
            idx = idx[np.sort(np.argsort(-cloud.points[a:b, 4], kind="stable")[:cap])]
        keep.append(idx)
    sel = np.concatenate(keep)
    counts = np.array([len(k) for k in keep])
    offs = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return Cloud(cloud.points[sel], offs, cloud.skeleton, uncapped_mean=float(n.mean()))


def _frame_ids(offsets: np.ndarray) -> np.ndarray:
    return np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))


def cloud_stats(cloud: Cloud, zero_doppler: float, joints: list[int] | None = MARS19) -> dict[str, float]:
    """The comparison statistics of one set of clouds (see the module docstring)."""
    p, off = cloud.points.astype(np.float64), cloud.offsets
    n = np.diff(off)
    out: dict[str, float] = {
        "points/frame mean": float(n.mean()),
        "points/frame median": float(np.median(n)),
        "points/frame p10": float(np.percentile(n, 10)),
        "points/frame p90": float(np.percentile(n, 90)),
        "empty frames": float(np.mean(n == 0)),
    }
    if cloud.skeleton is not None and joints is not None:
        sk = cloud.skeleton[:, joints].astype(np.float64)
        valid = np.isfinite(sk).all(axis=(1, 2))
        fid = _frame_ids(off)
        pv = valid[fid]
        pts, pf = p[pv, :3], fid[pv]
        d = np.linalg.norm(pts[:, None, :] - sk[pf], axis=2)  # [Np, J]
        nn = d.min(axis=1)
        out["point->joint median (m)"] = float(np.median(nn)) if len(nn) else math.nan
        out["point->joint p90 (m)"] = float(np.percentile(nn, 90)) if len(nn) else math.nan
        # per (frame, joint): nearest point
        J = sk.shape[1]
        best = np.full((cloud.n_frames, J), np.inf)
        if len(pf):
            np.minimum.at(best, pf, d)
        bv = best[valid]
        out["joints with a point <10 cm"] = float(np.mean(bv < 0.10))
        out["joints with a point <20 cm"] = float(np.mean(bv < 0.20))
        out["frames with skeleton"] = float(valid.sum())
    v = p[:, 3]
    stds = [float(np.std(v[off[f]:off[f + 1]])) for f in range(cloud.n_frames) if n[f] >= 2]
    out["Doppler std/frame median (m/s)"] = float(np.median(stds)) if stds else math.nan
    out["zero-Doppler share"] = float(np.mean(np.abs(v) < zero_doppler)) if len(v) else math.nan
    mv = np.abs(v[np.abs(v) >= zero_doppler])
    out["speed of moving points median (m/s)"] = float(np.median(mv)) if len(mv) else math.nan
    db = p[:, 4]
    if len(db):
        q10, q50, q90 = np.percentile(db, [10, 50, 90])
        out["intensity p90-p10 (dB)"] = float(q90 - q10)
        out["intensity p50-p10 (dB)"] = float(q50 - q10)
        out["intensity p90-p50 (dB)"] = float(q90 - q50)
    rng_m = np.linalg.norm(p[:, :3], axis=1)
    out["range median (m)"] = float(np.median(rng_m)) if len(rng_m) else math.nan
    return out


def walk_extra_stats(cloud: Cloud, zero_doppler: float) -> dict[str, float]:
    """Walk-only statistics (no skeleton in RadHAR): where the points are and how many move."""
    p, off = cloud.points.astype(np.float64), cloud.offsets
    r = np.linalg.norm(p[:, :3], axis=1)
    moving = np.abs(p[:, 3]) >= zero_doppler
    fid = _frame_ids(off)
    per_frame_moving = np.bincount(fid[moving], minlength=cloud.n_frames)
    n_far = np.bincount(fid[r >= 0.25], minlength=cloud.n_frames)
    return {
        "points/frame beyond 0.25 m mean": float(n_far.mean()),
        "points < 0.25 m (leakage) share": float(np.mean(r < 0.25)),
        "points > 4 m (back wall) share": float(np.mean(r > 4.0)),
        "moving points/frame mean": float(per_frame_moving.mean()),
        "frames without moving points": float(np.mean(per_frame_moving == 0)),
        "moving points range median (m)": float(np.median(r[moving])) if moving.any() else math.nan,
        "moving points z p10 (m)": float(np.percentile(p[moving, 2], 10)) if moving.any() else math.nan,
        "moving points z p90 (m)": float(np.percentile(p[moving, 2], 90)) if moving.any() else math.nan,
    }


# ---------------------------------------------------------------------------------------------- real data


def load_mars(path: Path) -> Cloud:
    """All frames of a MARS npz; intensity -> 10 log10(intensity) (power-like assumption)."""
    d = np.load(path)
    pts = d["points"].astype(np.float64).copy()
    pts[:, 4] = 10.0 * np.log10(np.maximum(pts[:, 4], 1e-6))
    return Cloud(pts, d["frame_offsets"].astype(np.int64), d["joints"].astype(np.float64))


def load_radhar_walk(folder: Path) -> Cloud:
    """RadHAR ``walk`` frames of the train and test files (rows failing the importer's validity rule
    are dropped, as the importer does; there are none in the walk recordings). A frame is one
    (recording, frame index); columns x (forward), y, z are re-ordered to the radar frame used here
    (x right, y forward, z up); intensity is already dB."""
    from mmsight.data.importers.radhar import radhar_invalid_rows

    clouds = []
    for split in ("train", "test"):
        f = folder / f"radhar_{split}.npz"
        if not f.exists():
            continue
        d = np.load(f)
        walk = int(list(d["class_names"]).index("walk"))
        raw = d["points"]
        rows = np.flatnonzero(d["file_labels"][d["file_index"]] == walk)
        bad = set(radhar_invalid_rows(raw, d["time"])[0].tolist())
        rows = np.array([r for r in rows if r not in bad], dtype=np.int64)
        cols = list(d["columns"])
        fi, fr = d["file_index"][rows].astype(np.int64), d["frame"][rows].astype(np.int64)
        order = np.lexsort((d["point_id"][rows], fr, fi))
        rows, fi, fr = rows[order], fi[order], fr[order]
        key = fi * 100000 + fr
        starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
        offs = np.r_[starts, len(rows)].astype(np.int64)
        src = raw[rows]
        pts = np.stack([-src[:, cols.index("y")], src[:, cols.index("x")], src[:, cols.index("z")],
                        src[:, cols.index("velocity")], src[:, cols.index("intensity")]], axis=1).astype(np.float64)
        clouds.append(Cloud(pts, offs))
    return Cloud.concat(clouds)


# ---------------------------------------------------------------------------------------------- simulation

# The untuned rehab settings (the task defaults before calibration), reproduced as config overrides.
REHAB_BEFORE: dict[str, Any] = {"radar_overrides": {}, "chain_options": {"peak_grouping": False},
                                "subject_distance": [2.0, 2.5], "sway": 0.0}
# MARS's own condition: one lab, the subject facing a level radar about 1 m high.
REHAB_CONDITION: dict[str, Any] = {"environments": ["lab"], "radar_positions": ["front"], "camera": False}

# RadHAR's radar: ti_mmwave_rospkg cfg/1443_3d (1443es1_short_range_3d): profileCfg 0 77 7 7 57.14 0 0 70 1
# 240 4884, TX1 -> TX3 -> TX2, 16 loops, 33.333 ms frames; 16 Doppler bins of 0.6147 m/s and range
# bins of c / 2B = 4.358 cm, both exactly as in RadHAR's points.
RADHAR_PROFILE: dict[str, Any] = {"start_frequency": 77e9, "slope": 70e12, "n_samples": 240, "sample_rate": 4.884e6,
                                  "idle_time": 7e-6, "adc_start_time": 7e-6, "ramp_end_time": 57.14e-6,
                                  "n_loops": 16}
# Chains: the simulator's default point chain (as the task datasets use it) and RadHAR's TI
# processing (clutterRemoval 0, cfarCfg mode 2 = CASO, 9 dB, Doppler peak grouping, 64-bin azimuth
# FFT without interpolation, Doppler bin centres).
WALK_CHAINS: dict[str, dict[str, Any]] = {
    "before": {"clutter_removal": True, "peak_grouping": False},
    "after": {"clutter_removal": False, "peak_grouping": True, "cfar_kind": "caso", "cfar_pfa": 3e-4,
              "refine_angle": False, "refine_doppler": False},
}


@dataclass(frozen=True)
class WalkSetup:
    """The custom RadHAR-like walking scene [EST where RadHAR says nothing]: a person walks back and
    forth between ``near`` and ``far`` metres in front of the radar (RadHAR's moving points lie
    0.82-2.29 m away, 5th-95th percentile, median 1.39 m), turning on the spot at each end (``pause`` s),
    at ``speed`` m/s; a drywall back wall ``back_wall`` m away (RadHAR's static points at 4.7-5.4 m); the
    radar ``radar_height`` m high."""

    n_frames: int = 90
    fps: float = 30.0
    near: float = 0.9
    far: float = 2.3
    speed: tuple[float, float] = (0.9, 1.1)
    pause: tuple[float, float] = (0.6, 1.2)
    back_wall: float = 4.9
    radar_height: float = 1.0
    n_subjects: int = 6


def _cache_key(obj: Any) -> str:
    return hashlib.sha1(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:12]


def simulate_rehab(cache: Path, variant: str, sequences: int, frames: int, seed: int, workers: int,
                   refresh: bool = False) -> Path:
    """Render (or reuse) the rehab dataset of a variant; returns its folder."""
    from mmsight.sim.runner import simulate
    from mmsight.sim.tasks import load_config

    over: dict[str, Any] = dict(REHAB_CONDITION, n_frames=frames)
    if variant == "before":
        over.update(REHAB_BEFORE)
    cfg = load_config("rehab", over)
    from mmsight.sim.runner import SIMULATOR_VERSION

    # the simulator version is part of the key: a changed simulator never reuses an old cache
    key = _cache_key([cfg.to_dict(), cfg.radar_config().to_dict(), sequences, seed, SIMULATOR_VERSION])
    out = cache / f"rehab-{variant}-{key}"
    simulate("rehab", out, sequences=sequences, seed=seed, workers=workers, resume=not refresh,
             overwrite=refresh, config=cfg, progress=True)
    return out


def load_sim_rehab(path: Path) -> Cloud:
    from mmsight.data import open_dataset

    ds = open_dataset(path)
    clouds = []
    for sid in ds.sequence_ids:
        rec = ds.read_sequence(sid, streams=["points", "skeleton"])
        pts = rec.points.astype(np.float64)  # x, y, z, doppler, snr (dB)
        clouds.append(Cloud(pts[:, :5], rec.point_offsets.astype(np.int64), rec.skeleton.astype(np.float64)))
    return Cloud.concat(clouds)


def _walk_clip(subject: Any, setup: WalkSetup, duration: float, rng: np.random.Generator) -> Any:
    """Back-and-forth walk along the boresight with on-the-spot turns (the pause turns the body by
    180 degrees at a constant rate)."""
    from mmsight.sim.motion import Route, concatenate, stand, walk

    x = float(rng.uniform(-0.2, 0.2))
    ends = [(x, setup.near), (x, setup.far)]
    k = int(rng.integers(2))
    clips, t = [], 0.0
    params = subject.gait.realize(rng)
    while t < duration + 0.2:
        a, b = ends[k % 2], ends[(k + 1) % 2]
        p = replace(params, speed=float(rng.uniform(*setup.speed)))
        w = walk(subject.body, p, Route(a, b), fps=30.0, rng=rng)
        h0 = float(w.heading[-1])
        s = stand(subject.body, float(rng.uniform(*setup.pause)), fps=30.0, position=b, heading=h0, rng=rng)
        s = replace(s, heading=h0 + np.linspace(0.0, math.pi, s.n_frames), _posed=None)
        clips += [w, s]
        t += w.duration + s.duration + 2.0 / 30.0
        k += 1
    return concatenate(clips, label="walk")


def simulate_walk(cache: Path, setup: WalkSetup, sequences: int, seed: int, refresh: bool = False) -> dict[str, Cloud]:
    """Render the walks once (ADC kept in memory) and run every chain of :data:`WALK_CHAINS` on them;
    the clouds are cached per (setup, profile, chains, count, seed)."""
    from mmsight.radar import SignalChain
    from mmsight.sim.scattering import Clothing
    from mmsight.sim.scenes import RoomSpec, Scene, SensorRig, WallSpec
    from mmsight.sim.tasks.common import PersonTrack, TaskConfig, derive_seed, make_subject, render_sequence

    cfg = TaskConfig(n_frames=setup.n_frames, fps=setup.fps, radar="iwr1443boost", radar_overrides=RADHAR_PROFILE,
                     camera=False, store_adc=True, ra_max_range=6.0)
    from mmsight.sim.runner import SIMULATOR_VERSION

    key = _cache_key([asdict(setup), cfg.to_dict(), cfg.radar_config().to_dict(), WALK_CHAINS, sequences, seed,
                      SIMULATOR_VERSION])
    f = cache / f"walk-{key}.npz"
    if f.exists() and not refresh:
        z = np.load(f)
        return {v: Cloud(z[f"{v}_points"], z[f"{v}_offsets"]) for v in WALK_CHAINS}
    rcfg = cfg.radar_config()
    chains = {v: SignalChain(rcfg, **o) for v, o in WALK_CHAINS.items()}
    res: dict[str, list[Cloud]] = {v: [] for v in WALK_CHAINS}
    duration = (setup.n_frames - 1) / setup.fps + 0.2
    for i in range(sequences):
        rng = np.random.default_rng(derive_seed(seed, i))
        subject = make_subject(seed, i % setup.n_subjects)
        room = RoomSpec((-3.0, 3.0), (-0.5, setup.back_wall + 0.2), 3.0, mirrors=("floor", "left", "right"))
        rig = SensorRig(radar_height=setup.radar_height, radar_tilt_deg=0.0)
        scene = Scene("walk", "radhar_like", room, rig, (), WallSpec("drywall", setup.back_wall, 6.0, 3.0), True)
        clip = _walk_clip(subject, setup, duration, rng)
        t0 = float(rng.uniform(0.0, max(clip.duration - duration, 0.0)))
        times = t0 + 0.02 + np.arange(setup.n_frames) / setup.fps
        top = str(rng.choice(["cotton_tshirt", "polyester_shell", "fleece"]))
        person = PersonTrack(clip, Clothing.outfit(top, "denim", None, rng=rng), (), subject.skin)
        # one frame per call: render_sequence's +-20 ms velocity stencil overlaps between frames above 25 fps
        adcs = [render_sequence(cfg, scene, [person], rng, times=times[f:f + 1]).adc[0]  # type: ignore[index]
                for f in range(setup.n_frames)]
        for v, ch in chains.items():
            pts, offs = [], [0]
            for adc in adcs:
                p = ch.process(adc).points
                pts.append(p)
                offs.append(offs[-1] + len(p))
            res[v].append(Cloud(np.concatenate(pts).astype(np.float64), np.asarray(offs, dtype=np.int64)))
        print(f"  walk {i + 1}/{sequences}", flush=True)
    out = {v: Cloud.concat(c) for v, c in res.items()}
    cache.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(f, **{f"{v}_{k}": getattr(c, k) for v, c in out.items() for k in ("points", "offsets")})
    return out


# ---------------------------------------------------------------------------------------------- report


def _fmt(v: float) -> str:
    if v is None or not np.isfinite(v):
        return "n/a"
    return f"{v:.0f}" if abs(v) >= 100 else (f"{v:.2f}" if abs(v) >= 1 else f"{v:.3f}")


def _ratio(a: float, b: float, key: str = "") -> str:
    """sim / real; for signed offsets (heights relative to the skeleton or the radar) the difference."""
    if not (np.isfinite(a) and np.isfinite(b)):
        return "n/a"
    if " - " in key or " z p" in key:
        return f"{a - b:+.2f} m"
    return "n/a" if b == 0 else f"{a / b:.2f}"


def table(title: str, real_name: str, real: Mapping[str, float], sims: Mapping[str, Mapping[str, float]],
          markdown: bool) -> None:
    keys = [k for k in real if k != "frames with skeleton"]
    if markdown:
        head = ["statistic", *[f"sim {n}" for n in sims], real_name, *[f"ratio {n}" for n in sims]]
        print(f"\n**{title}**\n")
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
        for k in keys:
            row = [k, *[_fmt(s.get(k, math.nan)) for s in sims.values()], _fmt(real[k]),
                   *[_ratio(s.get(k, math.nan), real[k], k) for s in sims.values()]]
            print("| " + " | ".join(row) + " |")
        return
    from rich.console import Console
    from rich.table import Table

    t = Table(title=title)
    t.add_column("statistic")
    for n in sims:
        t.add_column(f"sim {n}", justify="right")
    t.add_column(real_name, justify="right")
    for n in sims:
        t.add_column(f"ratio {n}", justify="right")
    for k in keys:
        t.add_row(k, *[_fmt(s.get(k, math.nan)) for s in sims.values()], _fmt(real[k]),
                  *[_ratio(s.get(k, math.nan), real[k], k) for s in sims.values()])
    Console(width=160).print(t)


def vertical_stats(cloud: Cloud) -> dict[str, float]:
    """Where the points sit relative to the skeleton's SpineBase (Kinect joint 0): z and depth offsets."""
    if cloud.skeleton is None:
        return {}
    valid = np.isfinite(cloud.skeleton[:, MARS19]).all(axis=(1, 2))
    fid = _frame_ids(cloud.offsets)
    ok = valid[fid]
    d = cloud.points[ok, :3] - cloud.skeleton[fid[ok], 0]
    q = np.percentile(d[:, 2], [10, 50, 90]) if len(d) else [math.nan] * 3
    return {"point z - SpineBase z p10 (m)": float(q[0]), "point z - SpineBase z median (m)": float(q[1]),
            "point z - SpineBase z p90 (m)": float(q[2]),
            "point y - SpineBase y median (m)": float(np.median(d[:, 1])) if len(d) else math.nan}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cache", type=Path, default=REPO / "runs" / "sim_vs_real", help="folder of the simulated data")
    ap.add_argument("--data", type=Path, default=None, help="shared data folder (default ../shared/data)")
    ap.add_argument("--rehab-sequences", type=int, default=24)
    ap.add_argument("--rehab-frames", type=int, default=120)
    ap.add_argument("--walk-sequences", type=int, default=12)
    ap.add_argument("--walk-frames", type=int, default=90)
    ap.add_argument("--variant", choices=["both", "before", "after"], default="both")
    ap.add_argument("--only", choices=["both", "rehab", "walk"], default="both")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--refresh", action="store_true", help="re-simulate even if cached")
    ap.add_argument("--markdown", action="store_true", help="print markdown tables (for docs/sim_calibration.md)")
    ap.add_argument("--json", type=Path, default=None, help="write every statistic here")
    args = ap.parse_args()

    data = args.data or shared_data()
    variants = ["before", "after"] if args.variant == "both" else [args.variant]
    report: dict[str, Any] = {}
    if args.only in ("both", "rehab"):
        t0 = time.perf_counter()
        mars = load_mars(data / "mars" / "mars_train_validate.npz")
        real = cloud_stats(mars, MARS_ZERO_DOPPLER)
        real.update(vertical_stats(mars))
        sims = {}
        for v in variants:
            path = simulate_rehab(args.cache, v, args.rehab_sequences, args.rehab_frames, args.seed, args.workers,
                                  args.refresh)
            c = cap_points(load_sim_rehab(path), 64)
            s = cloud_stats(c, MARS_ZERO_DOPPLER)
            s["points/frame mean, uncapped"] = float(c.uncapped_mean or math.nan)
            s.update(vertical_stats(c))
            sims[v] = s
        real["points/frame mean, uncapped"] = real["points/frame mean"]
        table(f"rehab (lab, radar front; {args.rehab_sequences} x {args.rehab_frames} frames) vs MARS "
              f"({mars.n_frames} frames)", "MARS", real, sims, args.markdown)
        report["rehab"] = {"real": real, "sim": sims, "seconds": time.perf_counter() - t0}
    if args.only in ("both", "walk"):
        t0 = time.perf_counter()
        radhar = load_radhar_walk(data / "radhar")
        real = cloud_stats(radhar, RADHAR_ZERO_DOPPLER, None)
        real.update(walk_extra_stats(radhar, RADHAR_ZERO_DOPPLER))
        clouds = simulate_walk(args.cache, WalkSetup(n_frames=args.walk_frames), args.walk_sequences, args.seed,
                               args.refresh)
        sims = {}
        for v in variants:
            s = cloud_stats(clouds[v], RADHAR_ZERO_DOPPLER, None)
            s.update(walk_extra_stats(clouds[v], RADHAR_ZERO_DOPPLER))
            sims[v] = s
        table(f"walk ({args.walk_sequences} x {args.walk_frames} frames at 30 fps, RadHAR's IWR1443 profile) vs "
              f"RadHAR walk ({radhar.n_frames} frames)", "RadHAR", real, sims, args.markdown)
        report["walk"] = {"real": real, "sim": sims, "seconds": time.perf_counter() - t0}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
