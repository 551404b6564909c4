"""Task ``wall``: mmAnomaly's through-wall intruder dataset (paper sec. 5.2).

The radar and the RGB-D camera stand on a 4-ft tripod with no tilt, facing a wall; the camera sees only
the wall, the radar sees through it. Seven wall configurations (:data:`mmsight.sim.scenes.WALL_CONFIGS`:
four materials, and set-ups with an added ladder and/or poster board). Each sequence is 60 frames at
2 fps (30 s): the blank scene (the normal condition) or one person standing or sitting at one of six
positions behind the wall (:data:`mmsight.sim.scenes.WALL_POSITIONS`). A sitting person sits on a
wooden chair, which is therefore present only in sitting sequences.

Labels: ``position`` (0 blank, 1-6), the position's coordinates ``position_x``/``position_y`` (radar
frame, m; None when blank), ``pose`` (``none``/``standing``/``sitting``, and ``pose_class`` 0/1/2),
``wall_type`` (``wall-1``..``wall-7``), ``wall_material``; per frame ``position``, ``person_xyz``
(pelvis, radar frame, NaN when blank) and the radar ground truth ``body_rcs`` (after the wall loss).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
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

__all__ = ["Config", "DEFAULT_SEQUENCES", "NAME", "POSES", "make_sequence", "sequence_plan", "splits"]

NAME = "wall"
DEFAULT_SEQUENCES = 272
"""mmAnomaly's through-wall dataset holds 272 recordings (sec. 5.2)."""

POSES: tuple[str, ...] = ("none", "standing", "sitting")
CHAIR_HEIGHT = 0.45


@dataclass(frozen=True)
class Config(TaskConfig):
    """Through-wall task settings (paper-size defaults).

    Attributes:
        n_subjects: participants (the paper: five).
        walls: wall configurations used.
        blank_share: share of blank sequences (default 1/7: the blank scene as a seventh position class).
    """

    n_frames: int = 60
    fps: float = 2.0
    radar: str = "iwr6843isk"
    ra_max_range: float = 6.5
    joint_set: str = "kinect25"
    n_subjects: int = 5
    walls: tuple[str, ...] = ("wall-1", "wall-2", "wall-3", "wall-4", "wall-5", "wall-6", "wall-7")
    blank_share: float = 1.0 / 7.0

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "walls", tuple(self.walls))
        if not 0.0 <= self.blank_share <= 1.0:
            raise ValueError(f"blank_share must be in [0, 1], got {self.blank_share}")

    @classmethod
    def tiny(cls) -> Config:
        return cls(n_frames=4, image_size=64, n_subjects=2, facets_specular=6, facets_diffuse=2)


def sequence_plan(config: Config, n: int, seed: int) -> list[SequenceSpec]:
    """``round(n * blank_share)`` blank sequences, the rest cycling over (position 1-6, standing /
    sitting); wall configurations cycle evenly within the blank and the occupied groups; subjects
    cycle; the order is shuffled."""
    rng = plan_rng(seed, NAME)
    n_blank = int(round(n * config.blank_share))
    occupied = balanced_cycle([(p, pose) for p in range(1, 7) for pose in ("standing", "sitting")], n - n_blank, rng)
    kinds = [(0, "none")] * n_blank + list(occupied)
    walls = balanced_cycle(config.walls, n_blank, rng) + balanced_cycle(config.walls, n - n_blank, rng)
    subjects = balanced_cycle(list(range(config.n_subjects)), n, rng)
    order = rng.permutation(n)
    specs = []
    for i, k in enumerate(order):
        pos, pose = kinds[k]
        labels = {"position": int(pos), "pose": pose, "wall_type": walls[k], "subject": int(subjects[i])}
        specs.append(SequenceSpec(NAME, i, f"{NAME}-{i:05d}", derive_seed(seed, i), int(seed), config, labels))
    return specs


def splits(plan: list[SequenceSpec]) -> dict[str, list[str]]:
    """Stratified by (position, wall type)."""
    if not plan:
        return {}
    return stratified_splits(plan, lambda s: (s.labels["position"], s.labels["wall_type"]),
                             plan[0].config.split_fractions, plan[0].run_seed)


def facing_heading(rng: np.random.Generator, xy: tuple[float, float], spread_deg: float = 60.0) -> float:
    """A heading roughly towards the sensors at the origin (within ``spread_deg``)."""
    to_radar = math.atan2(-xy[0], -xy[1])
    return to_radar + math.radians(float(rng.uniform(-spread_deg, spread_deg)))


def person_position(rng: np.random.Generator, position: int, wall_distance: float) -> tuple[float, float]:
    """Floor point of position class 1-6, shifted with the wall's distance and jittered by +-10 cm
    (people do not stand on the exact mark) [EST]."""
    from mmsight.sim.scenes import WALL_DISTANCE, WALL_POSITIONS

    x, y = WALL_POSITIONS[position - 1]
    return (x + float(rng.uniform(-0.1, 0.1)), y + (wall_distance - WALL_DISTANCE) + float(rng.uniform(-0.1, 0.1)))


def add_chair(scene: Any, seat_center: np.ndarray, heading: float) -> Any:
    """The scene with a wooden chair whose seat centre is ``seat_center`` (room frame), facing ``heading``."""
    from mmsight.sim.scenes import ClutterSpec

    # ClutterSpec positions the chair by its base centre; the seat is centred on it
    chair = ClutterSpec("chair", (float(seat_center[0]), float(seat_center[1]), 0.0), heading=float(heading),
                        size=(0.45, CHAIR_HEIGHT, 0.45))
    return replace(scene, clutter=scene.clutter + (chair,))


def make_sequence(spec: SequenceSpec) -> Any:
    """Render one through-wall sequence."""
    from mmsight.sim.motion import sit, stand
    from mmsight.sim.scattering import Clothing
    from mmsight.sim.scenes import wall_scene
    from mmsight.sim.skeleton import JOINT_INDEX

    cfg: Config = spec.config  # type: ignore[assignment]
    lab = spec.labels
    rng = np.random.default_rng(spec.seed)
    scene = wall_scene(str(lab["wall_type"]), rng, image_size=cfg.image_size)
    subject = make_subject(spec.run_seed, int(lab["subject"]))
    pos = int(lab["position"])
    pose = str(lab["pose"])
    people: list[PersonTrack] = []
    duration = (cfg.n_frames - 1) / cfg.fps + 0.2
    xy = None
    if pos > 0:
        xy = person_position(rng, pos, scene.wall.distance)  # type: ignore[union-attr]
        heading = facing_heading(rng, xy)
        if pose == "standing":
            clip = stand(subject.body, duration, fps=10.0, position=xy, heading=heading, rng=rng)
        else:
            clip = sit(subject.body, duration, chair_height=CHAIR_HEIGHT, fps=10.0, position=xy, heading=heading, rng=rng)
            scene = add_chair(scene, clip.meta["chair"]["seat_center"], heading)
        clothing = Clothing.outfit("cotton_tshirt", "denim", None, rng=rng)
        people.append(PersonTrack(clip, clothing, (), subject.skin, look_seed=derive_seed(subject.clothes_seed, 2)))
    r = render_sequence(cfg, scene, people, rng)
    F = len(r.times)
    T = scene.rig.T_radar_from_room
    from mmsight.sim.tasks.common import joint_set

    if people:
        skel, names = skeleton_radar(r.joints_room[0], T, cfg.joint_set)
        pelvis = to_radar(r.joints_room[0][:, JOINT_INDEX["pelvis"]], T).astype(np.float32)
    else:
        _, names = joint_set(cfg.joint_set)
        skel = np.full((F, len(names), 3), np.nan, dtype=np.float32)
        pelvis = np.full((F, 3), np.nan, dtype=np.float32)
    pxy = None if xy is None else to_radar(np.array([xy[0], xy[1], 0.0]), T)
    frame_labels = {
        "position": np.full(F, pos, dtype=np.int8),
        "person_xyz": pelvis,
        "pose": np.full(F, pose),
    }
    seq_labels = {
        "position": pos, "position_x": None if pxy is None else float(pxy[0]),
        "position_y": None if pxy is None else float(pxy[1]), "pose": pose, "pose_class": POSES.index(pose),
        "occupied": pos > 0, "wall_type": str(lab["wall_type"]), "wall_material": scene.labels["wall_material"],
        "wall_index": int(scene.labels["wall_index"]), "subject": int(lab["subject"]) if pos > 0 else None,
    }
    return build_record(spec, r, scene, skeleton=skel, joint_names=names, frame_labels=frame_labels,
                        sequence_labels=seq_labels)
