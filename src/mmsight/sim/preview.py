"""One-glance figures of simulated sequences: RGB, depth, range-azimuth map, point cloud, ground truth.

* :func:`preview_records` draws one frame of a sequence (or of a radar sequence and a camera
  sequence, for tasks whose sensors record separate walks) into a 5-panel PNG;
* :func:`dataset_preview` picks a representative sequence of a written dataset and draws it;
* :func:`simulate_preview` renders a small scene of a task from scratch (no dataset) and draws it
  (``make demo`` uses it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

__all__ = ["dataset_preview", "preview_records", "simulate_preview"]

# Kinect V2 / Azure bones drawn on the skeleton (pairs of joint names; missing names are skipped)
_BONES = [
    ("SpineBase", "SpineMid"), ("SpineMid", "SpineShoulder"), ("SpineShoulder", "Neck"), ("Neck", "Head"),
    ("SpineShoulder", "ShoulderLeft"), ("ShoulderLeft", "ElbowLeft"), ("ElbowLeft", "WristLeft"),
    ("SpineShoulder", "ShoulderRight"), ("ShoulderRight", "ElbowRight"), ("ElbowRight", "WristRight"),
    ("SpineBase", "HipLeft"), ("HipLeft", "KneeLeft"), ("KneeLeft", "AnkleLeft"), ("AnkleLeft", "FootLeft"),
    ("SpineBase", "HipRight"), ("HipRight", "KneeRight"), ("KneeRight", "AnkleRight"), ("AnkleRight", "FootRight"),
    # Azure Kinect names
    ("PELVIS", "SPINE_NAVEL"), ("SPINE_NAVEL", "SPINE_CHEST"), ("SPINE_CHEST", "NECK"), ("NECK", "HEAD"),
    ("SPINE_CHEST", "SHOULDER_LEFT"), ("SHOULDER_LEFT", "ELBOW_LEFT"), ("ELBOW_LEFT", "WRIST_LEFT"),
    ("SPINE_CHEST", "SHOULDER_RIGHT"), ("SHOULDER_RIGHT", "ELBOW_RIGHT"), ("ELBOW_RIGHT", "WRIST_RIGHT"),
    ("PELVIS", "HIP_LEFT"), ("HIP_LEFT", "KNEE_LEFT"), ("KNEE_LEFT", "ANKLE_LEFT"), ("ANKLE_LEFT", "FOOT_LEFT"),
    ("PELVIS", "HIP_RIGHT"), ("HIP_RIGHT", "KNEE_RIGHT"), ("KNEE_RIGHT", "ANKLE_RIGHT"), ("ANKLE_RIGHT", "FOOT_RIGHT"),
]  # fmt: skip


def _bones(names: Sequence[str]) -> list[tuple[int, int]]:
    idx = {n: i for i, n in enumerate(names)}
    return [(idx[a], idx[b]) for a, b in _BONES if a in idx and b in idx]


def _project(points_radar: np.ndarray, K: np.ndarray, T_radar_from_camera: np.ndarray) -> np.ndarray:
    """Pixels [N, 2] of radar-frame points (NaN behind the camera)."""
    t = np.linalg.inv(T_radar_from_camera)
    pc = points_radar @ t[:3, :3].T + t[:3, 3]
    with np.errstate(divide="ignore", invalid="ignore"):
        uv = np.stack([K[0, 0] * pc[:, 0] / pc[:, 2] + K[0, 2], K[1, 1] * pc[:, 1] / pc[:, 2] + K[1, 2]], axis=1)
    uv[pc[:, 2] <= 0] = np.nan
    return uv


def _label_text(labels: dict[str, Any], keys: Sequence[str] | None = None) -> str:
    skip = {"task", "index", "seed", "frames"}
    items = [(k, v) for k, v in labels.items() if k not in skip and (keys is None or k in keys)]
    out = []
    for k, v in items:
        if isinstance(v, float):
            v = f"{v:.2f}"
        out.append(f"{k}: {v}")
    return "\n".join(out)


def preview_records(
    radar_record: Any | None,
    camera_record: Any | None,
    path: str | Path,
    *,
    frame: int | None = None,
    title: str = "",
) -> Path:
    """Draw a 5-panel PNG: RGB (skeleton overlaid), depth, range-azimuth map (bird's-eye view, person
    marked), point cloud (bird's-eye view, skeleton from above), ground truth (skeleton side view and
    the sequence labels). ``radar_record`` and ``camera_record`` may be the same record."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mmsight.viz.radar_plots import plot_point_cloud, plot_range_azimuth

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig = plt.figure(figsize=(28, 5.2))
    gs = fig.add_gridspec(1, 6, width_ratios=[1, 1.15, 1.25, 1.2, 0.7, 0.75])
    axes = [fig.add_subplot(gs[0, k]) for k in range(6)]
    ref = radar_record if radar_record is not None else camera_record
    n_frames = ref.n_frames
    f = _pick_frame(ref) if frame is None else int(frame)

    # -- camera panels
    cam = camera_record
    if cam is not None and cam.rgb is not None:
        fc = min(f, cam.n_frames - 1)
        axes[0].imshow(cam.rgb[fc])
        axes[0].set_title(f"RGB (frame {fc})")
        cal = cam.calibration or {}
        if cam.skeleton is not None and "K" in cal and "T_radar_from_camera" in cal:
            uv = _project(cam.skeleton[fc].astype(np.float64), np.asarray(cal["K"]), np.asarray(cal["T_radar_from_camera"]))
            for a, b in _bones(cam.joint_names or ()):
                axes[0].plot(uv[[a, b], 0], uv[[a, b], 1], "-", color="yellow", lw=1.0, alpha=0.8)
            axes[0].set_xlim(0, cam.rgb.shape[2] - 1)
            axes[0].set_ylim(cam.rgb.shape[1] - 1, 0)
        if cam.depth is not None:
            im = axes[1].imshow(np.where(cam.depth[fc] > 0, cam.depth[fc], np.nan), cmap="turbo")
            fig.colorbar(im, ax=axes[1], label="depth (m)")
            axes[1].set_title("depth")
        else:
            axes[1].text(0.5, 0.5, "no depth stream", ha="center", va="center")
    else:
        for ax in axes[:2]:
            ax.text(0.5, 0.5, "no camera in this sequence", ha="center", va="center")
    for ax in axes[:2]:
        ax.set_xticks([])
        ax.set_yticks([])

    # -- radar panels
    rad = radar_record
    truth_xy = None
    if rad is not None and rad.skeleton is not None:
        sk = rad.skeleton[min(f, rad.n_frames - 1)]
        ok = ~np.isnan(sk[:, 0])
        if ok.any():
            truth_xy = sk[ok][:, :2].mean(axis=0, keepdims=True)
    if rad is not None and rad.range_azimuth is not None:
        fr = min(f, rad.n_frames - 1)
        ra = rad.range_azimuth
        plot_range_azimuth(ra.data[fr], ra.range_m, ra.azimuth_rad, axes[2], truth_xy=truth_xy, dynamic_range_db=60.0)
        axes[2].set_title(f"range-azimuth map (frame {fr}, {ra.unit})")
        pts = rad.frame_points(fr)
        plot_point_cloud(pts[:, :5] if len(pts) else np.zeros((0, 5), np.float32), axes[3])
        if rad.skeleton is not None:
            sk = rad.skeleton[fr]
            for a, b in _bones(rad.joint_names or ()):
                axes[3].plot(sk[[a, b], 0], sk[[a, b], 1], "-", color="k", lw=1.0, alpha=0.6)
            ob = (rad.frame_labels or {}).get("object_xyz")
            if ob is not None and np.isfinite(ob[fr]).all():
                axes[3].scatter([ob[fr, 0]], [ob[fr, 1]], marker="*", s=150, c="red", label="object")
                axes[3].legend(loc="upper right")
        rmax = float(ra.range_m[-1])
        axes[3].set_xlim(-rmax * 0.8, rmax * 0.8)
        axes[3].set_ylim(0, rmax)
    else:
        for ax in axes[2:4]:
            ax.text(0.5, 0.5, "no radar in this sequence", ha="center", va="center")

    # -- ground truth: the skeleton seen from the radar side, level (room frame, floor at z = 0)
    ax = axes[4]
    gt = rad if rad is not None else cam
    if gt.skeleton is not None:
        fr = min(f, gt.n_frames - 1)
        T = np.asarray((gt.calibration or {}).get("T_room_from_radar", np.eye(4)))
        sk = gt.skeleton[fr].astype(np.float64) @ T[:3, :3].T + T[:3, 3]
        for a, b in _bones(gt.joint_names or ()):
            ax.plot(sk[[a, b], 0], sk[[a, b], 2], "-", color="tab:blue", lw=2)
        ax.plot(sk[:, 0], sk[:, 2], ".", color="tab:blue")
        ob = (gt.frame_labels or {}).get("object_xyz")
        if ob is not None and np.isfinite(ob[fr]).all():
            o = T[:3, :3] @ ob[fr].astype(np.float64) + T[:3, 3]
            ax.scatter([o[0]], [o[2]], marker="*", s=200, c="red", label="concealed object", zorder=5)
            ax.legend(loc="upper right", fontsize=8)
        if np.isfinite(sk).any():
            cx = float(np.nanmean(sk[:, 0]))
            ax.set_xlim(cx - 1.0, cx + 1.0)
        ax.set_ylim(0.0, 2.1)
        ax.set_aspect("equal")
        ax.set_xlabel("x (m, room)")
        ax.set_ylabel("height (m)")
    ax.set_title("ground-truth skeleton")
    labels = dict(gt.sequence_labels)
    if cam is not None and cam is not rad:
        labels["camera_sequence"] = cam.sequence_id
    axes[5].axis("off")
    axes[5].text(0.0, 1.0, f"frame {f} of {n_frames}\n" + _label_text(labels), transform=axes[5].transAxes,
                 va="top", ha="left", fontsize=9, family="monospace")
    axes[5].set_title("labels")
    fig.suptitle(title or f"{ref.sequence_id}", fontsize=13)
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=80)
    plt.close(fig)
    tmp.replace(path)
    return path


def _pick_frame(rec: Any) -> int:
    """A telling frame: where a concealed object reaches the radar most, after a fall's impact, during
    a rehab movement, else the middle one."""
    fl = rec.frame_labels or {}
    lab = rec.sequence_labels or {}
    if "object_rcs" in fl and lab.get("region", 0) and float(np.max(fl["object_rcs"])) > 0:
        return int(np.argmax(fl["object_rcs"]))
    if lab.get("fall_impact_s") is not None:
        after = np.flatnonzero(rec.timestamps >= float(lab["fall_impact_s"]))
        if len(after):
            return int(after[0])
    if "activity" in fl and lab.get("movement") is not None:
        moving = np.flatnonzero(np.asarray(fl["activity"]) != "standing")
        if len(moving):
            return int(moving[len(moving) // 2])
    return rec.n_frames // 2


def _pick(task: str, labels: dict[str, dict[str, Any]]) -> str:
    """A representative sequence id: an anomalous / occupied / fall / radar one when there is one."""
    ids = sorted(labels)
    want = {
        "weapons": lambda l: l.get("region", 0) > 0,
        "wall": lambda l: l.get("position", 0) > 0,
        "fall": lambda l: bool(l.get("fall")),
        "gait": lambda l: l.get("modality") == "radar",
    }.get(task, lambda l: True)
    for i in ids:
        if want(labels[i]):
            return i
    return ids[0]


def dataset_preview(dataset: str | Path | Any, path: str | Path, *, task: str | None = None) -> Path:
    """Preview of a written dataset (:func:`mmsight.data.open_dataset` path or object)."""
    from mmsight.data import open_dataset

    ds = open_dataset(dataset, allow_incomplete=True) if isinstance(dataset, (str, Path)) else dataset
    task = task or (ds.config.get("task") if isinstance(ds.config, dict) else None) or ""
    labels = {i: ds.info(i).sequence_labels for i in ds.sequence_ids}
    if not labels:
        raise ValueError(f"dataset {ds.path} has no sequences to preview")
    sid = _pick(task, labels)
    rec = ds.read_sequence(sid)
    cam = rec
    if task == "gait":
        lab = labels[sid]
        twin = [i for i, l in labels.items() if l.get("modality") == "camera" and l.get("identity") == lab.get("identity")]
        if twin:
            cam = ds.read_sequence(sorted(twin)[0])
    return preview_records(rec, cam, path, title=f"mmsight simulate {task}: {sid}")


def simulate_preview(task: str, out_dir: str | Path, seed: int = 0, *, image_size: int = 128, n_frames: int | None = None) -> Path:
    """Render a small scene of ``task`` (tiny config at ``image_size`` pixels) and write
    ``<out_dir>/simulate_<task>.png``; returns the PNG's path. No dataset is written."""
    from dataclasses import replace

    from mmsight.sim.tasks import get_task

    t = get_task(task)
    cfg = t.default_config(tiny=True)
    cfg = replace(cfg, image_size=int(image_size), **({} if n_frames is None else {"n_frames": int(n_frames)}))
    if task == "gait":
        cfg = replace(cfg, camera_frames=max(cfg.camera_frames, cfg.n_frames))
    plan = t.sequence_plan(cfg, 12 if task in ("weapons", "gait") else 8, seed)
    sid = _pick(task, {s.sequence_id: dict(s.labels) for s in plan})
    spec = next(s for s in plan if s.sequence_id == sid)
    rec = t.make_sequence(spec)
    cam = rec
    if task == "gait":
        twin = next(s for s in plan if s.labels["modality"] == "camera" and s.labels["identity"] == spec.labels["identity"])
        cam = t.make_sequence(twin)
    out = Path(out_dir) / f"simulate_{task}.png"
    return preview_records(rec, cam, out, title=f"mmsight simulate {task} (seed {seed}): {sid}")
