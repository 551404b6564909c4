"""Task ``fall``: mmAnomaly's through-wall fall dataset (paper sec. 5.3).

The through-wall scenes of :mod:`mmsight.sim.tasks.wall` (same sensors, the 7 wall configurations);
behind the wall a person walks, stands, sits down on a chair (normal activities) or falls, ending lying
on the floor or sitting on it (falls). 60 frames at 2 fps (30 s).

Activities (``activity``): ``walk`` (back and forth between two points behind the wall), ``stand``,
``sit`` (stands, then sits down on a chair and stays seated), ``fall_lying`` and ``fall_sitting``
(stands, then falls; :func:`mmsight.sim.motion.fall`). Labels: ``fall`` (bool), ``fall_onset_s`` and
``fall_impact_s`` (seconds from the first frame; None without a fall), the fall location
``fall_x``/``fall_y`` (pelvis at the impact, radar frame, m) and its nearest position class
``fall_position`` (1-6), ``fall_direction``, the wall type; per frame ``activity`` (the motion's own
label: standing, walking, sitting_down, sitting, falling, lying, sitting_floor), ``falling_or_fallen``
(bool, from the onset on), ``person_xyz`` (pelvis, radar frame) and ``pose``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from mmsight.sim.tasks.common import (
    PersonTrack,
    SequenceSpec,
    TaskConfig,
    balanced_cycle,
    build_record,
    derive_seed,
    make_subject,
    plan_rng,
    render_sequence,
    skeleton_radar,
    stratified_splits,
    to_radar,
)
from mmsight.sim.tasks.wall import CHAIR_HEIGHT, add_chair, facing_heading

__all__ = ["ACTIVITIES", "Config", "DEFAULT_SEQUENCES", "NAME", "make_sequence", "sequence_plan", "splits"]

NAME = "fall"
DEFAULT_SEQUENCES = 280
"""The paper reuses the 272-recording through-wall collection; 280 = 7 walls x 5 activities x 8."""

ACTIVITIES: tuple[str, ...] = ("walk", "stand", "sit", "fall_lying", "fall_sitting")

_AREA_X = (-1.1, 1.1)
_AREA_DY = (1.0, 2.8)  # behind the wall's front face, m [EST: inside the 6-position area]


@dataclass(frozen=True)
class Config(TaskConfig):
    """Through-wall fall settings (paper-size defaults).

    Attributes:
        n_subjects: volunteers (the paper: seven).
        walls: wall configurations.
        activities: activity classes cycled evenly (falls: ``fall_lying``, ``fall_sitting``).
        onset_range: when the fall / the sitting down starts (fraction of the sequence).
    """

    n_frames: int = 60
    fps: float = 2.0
    radar: str = "iwr6843isk"
    ra_max_range: float = 6.5
    joint_set: str = "kinect25"
    n_subjects: int = 7
    walls: tuple[str, ...] = ("wall-1", "wall-2", "wall-3", "wall-4", "wall-5", "wall-6", "wall-7")
    activities: tuple[str, ...] = ACTIVITIES
    onset_range: tuple[float, float] = (0.2, 0.6)

    def __post_init__(self) -> None:
        super().__post_init__()
        for k in ("walls", "activities", "onset_range"):
            object.__setattr__(self, k, tuple(getattr(self, k)))
        bad = [a for a in self.activities if a not in ACTIVITIES]
        if bad:
            raise ValueError(f"unknown activities {bad}; valid: {', '.join(ACTIVITIES)}")

    @classmethod
    def tiny(cls) -> Config:
        return cls(n_frames=5, image_size=64, n_subjects=2, facets_specular=6, facets_diffuse=2)


def sequence_plan(config: Config, n: int, seed: int) -> list[SequenceSpec]:
    """Activities cycle evenly; within each activity the wall configurations cycle; subjects cycle."""
    rng = plan_rng(seed, NAME)
    acts = balanced_cycle(config.activities, n, rng)
    walls_by_act = {a: iter(balanced_cycle(config.walls, acts.count(a), rng)) for a in config.activities}
    subjects = balanced_cycle(list(range(config.n_subjects)), n, rng)
    specs = []
    for i, a in enumerate(acts):
        labels = {"activity": a, "fall": a.startswith("fall"), "wall_type": next(walls_by_act[a]),
                  "subject": int(subjects[i])}
        specs.append(SequenceSpec(NAME, i, f"{NAME}-{i:05d}", derive_seed(seed, i), int(seed), config, labels))
    return specs


def splits(plan: list[SequenceSpec]) -> dict[str, list[str]]:
    """Stratified by activity."""
    if not plan:
        return {}
    return stratified_splits(plan, lambda s: s.labels["activity"], plan[0].config.split_fractions, plan[0].run_seed)


def _walk_back_and_forth(body: Any, identity: Any, a: tuple[float, float], b: tuple[float, float], duration: float,
                         rng: np.random.Generator) -> Any:
    """Straight walks a -> b -> a ... covering ``duration`` s (turns are instantaneous)."""
    from mmsight.sim.motion import Route, concatenate, walk

    params = identity.realize(rng)
    clips, t, k = [], 0.0, 0
    while t < duration + 0.1:
        start, end = (a, b) if k % 2 == 0 else (b, a)
        c = walk(body, params, Route(start, end), fps=10.0, rng=rng)
        clips.append(c)
        t += c.duration + 0.1
        k += 1
    return concatenate(clips, label="walk")


def make_sequence(spec: SequenceSpec) -> Any:
    """Render one through-wall fall (or normal activity) sequence."""
    from mmsight.sim.motion import fall, stand, stand_to_sit
    from mmsight.sim.scattering import Clothing
    from mmsight.sim.scenes import WALL_DISTANCE, WALL_POSITIONS, wall_scene
    from mmsight.sim.skeleton import JOINT_INDEX

    cfg: Config = spec.config  # type: ignore[assignment]
    lab = spec.labels
    act = str(lab["activity"])
    rng = np.random.default_rng(spec.seed)
    scene = wall_scene(str(lab["wall_type"]), rng, image_size=cfg.image_size)
    subject = make_subject(spec.run_seed, int(lab["subject"]))
    d = scene.wall.distance  # type: ignore[union-attr]
    duration = (cfg.n_frames - 1) / cfg.fps + 0.2

    def spot() -> tuple[float, float]:
        return (float(rng.uniform(*_AREA_X)), d + float(rng.uniform(*_AREA_DY)))

    xy = spot()
    heading = facing_heading(rng, xy, 90.0)
    onset_t = float(rng.uniform(*cfg.onset_range)) * duration
    meta: dict[str, Any] = {}
    if act == "walk":
        a, b = spot(), spot()
        while math.dist(a, b) < 1.2:
            b = spot()
        clip = _walk_back_and_forth(subject.body, subject.gait, a, b, duration, rng)
    elif act == "stand":
        clip = stand(subject.body, duration, fps=10.0, position=xy, heading=heading, rng=rng)
    elif act == "sit":
        post = max(duration - onset_t - 2.3, 0.5)
        clip = stand_to_sit(subject.body, chair_height=CHAIR_HEIGHT, pre=onset_t, post=post, fps=10.0, position=xy,
                            heading=heading, rng=rng)
        scene = add_chair(scene, clip.meta["chair"]["seat_center"], heading)
    else:
        end = "lying" if act == "fall_lying" else "sitting"
        fall_dur = float(rng.uniform(0.6, 1.3))
        post = max(duration - onset_t - fall_dur, 1.0)
        clip = fall(subject.body, end=end, duration=fall_dur, pre=onset_t, post=post, fps=20.0, position=xy,
                    heading=heading, rng=rng)
        meta = clip.meta
    clothing = Clothing.outfit("cotton_tshirt", "denim", None, rng=rng)
    person = PersonTrack(clip, clothing, (), subject.skin, look_seed=derive_seed(subject.clothes_seed, 3))
    r = render_sequence(cfg, scene, [person], rng)

    F = len(r.times)
    T = scene.rig.T_radar_from_room
    t_first = float(r.times[0])
    joints = r.joints_room[0]
    skel, names = skeleton_radar(joints, T, cfg.joint_set)
    pelvis = to_radar(joints[:, JOINT_INDEX["pelvis"]], T).astype(np.float32)
    activity = clip.resample(np.clip(r.times, clip.times[0], clip.times[-1])).activity.astype(str)
    is_fall = act.startswith("fall")
    onset = impact = fx = fy = None
    fall_pos = None
    fallen = np.zeros(F, dtype=bool)
    if is_fall:
        onset = float(meta["fall_onset"]) - t_first
        impact = float(meta["fall_impact"]) - t_first
        fallen = (r.times - t_first) >= onset
        i_imp = int(np.searchsorted(clip.times, meta["fall_impact"]))
        p_imp = clip.joints[min(i_imp, clip.n_frames - 1), JOINT_INDEX["pelvis"]]
        pr = to_radar(p_imp, T)
        fx, fy = float(pr[0]), float(pr[1])
        grid = np.array(WALL_POSITIONS) + np.array([0.0, d - WALL_DISTANCE])
        fall_pos = int(np.argmin(np.linalg.norm(grid - p_imp[:2], axis=1))) + 1
    pose = np.where(np.isin(activity, ["lying"]), "lying",
                    np.where(np.isin(activity, ["sitting", "sitting_floor", "sitting_down"]), "sitting", "standing"))
    frame_labels = {
        "activity": activity, "falling_or_fallen": fallen, "person_xyz": pelvis, "pose": pose.astype(str),
    }
    seq_labels = {
        "activity": act, "fall": is_fall, "fall_onset_s": onset, "fall_impact_s": impact, "fall_x": fx, "fall_y": fy,
        "fall_position": fall_pos, "fall_direction": meta.get("direction") if is_fall else None,
        "wall_type": str(lab["wall_type"]), "wall_material": scene.labels["wall_material"],
        "wall_index": int(scene.labels["wall_index"]), "subject": int(lab["subject"]),
    }
    return build_record(spec, r, scene, skeleton=skel, joint_names=names, frame_labels=frame_labels,
                        sequence_labels=seq_labels)
