"""Task ``rehab``: MARS-style rehabilitation movements (An & Ogras 2021; ``shared/data/README.md``).

A subject faces the radar and repeats one of the ten MARS movements (:data:`mmsight.sim.motion.MARS_MOVEMENTS`,
with the subject's own :class:`~mmsight.sim.motion.RehabStyle`), in one of four environments and with
the radar at one of two positions (:data:`mmsight.sim.scenes.REHAB_ENVIRONMENTS`,
:data:`~mmsight.sim.scenes.REHAB_RADAR_POSITIONS`). The radar is the IWR1443 preset at 10 fps (MARS used
an IWR1443 at ~10 fps). Streams: point clouds, range-azimuth and range-Doppler maps, the Kinect V2
skeleton (25 joints, radar frame; MARS's 19 joints are Kinect joints 0-20 without the hands) and
RGB-D from a Kinect-like camera beside the radar; frame label ``mars_feature_map`` ``[F, 8, 8, 5]``
(:func:`~mmsight.sim.tasks.common.mars_feature_map`: the frame's points zero-padded to 64, as the
MARS CNN input). Labels: ``subject``, ``movement`` (1-10), ``movement_name``, ``environment``,
``radar_position``; per frame ``activity`` (the movement name during repetitions, ``standing`` between).
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
    build_record,
    derive_seed,
    make_subject,
    mars_feature_map,
    plan_rng,
    render_sequence,
    skeleton_radar,
    stratified_splits,
)

__all__ = ["Config", "DEFAULT_SEQUENCES", "NAME", "make_sequence", "sequence_plan", "splits"]

NAME = "rehab"
DEFAULT_SEQUENCES = 400
"""5 subjects x 10 movements x 2 radar positions x 4 environments."""


@dataclass(frozen=True)
class Config(TaskConfig):
    """Rehab task settings.

    Attributes:
        n_subjects: subjects (MARS: 4; here 5).
        movements: MARS movement numbers.
        environments, radar_positions: scene conditions.
        n_frames: 12 s at 10 fps (about three repetitions).
    """

    n_frames: int = 120
    fps: float = 10.0
    radar: str = "iwr1443boost"
    ra_max_range: float = 5.0
    joint_set: str = "kinect25"
    n_subjects: int = 5
    movements: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
    environments: tuple[str, ...] = ("lab", "living_room", "clinic", "gym")
    radar_positions: tuple[str, ...] = ("front", "elevated")
    split_fractions: tuple[float, float, float] = (0.6, 0.2, 0.2)

    def __post_init__(self) -> None:
        super().__post_init__()
        for k in ("movements", "environments", "radar_positions"):
            object.__setattr__(self, k, tuple(getattr(self, k)))

    @classmethod
    def tiny(cls) -> Config:
        return cls(n_frames=5, image_size=64, n_subjects=2, facets_specular=6, facets_diffuse=2)


def sequence_plan(config: Config, n: int, seed: int) -> list[SequenceSpec]:
    """The full factorial (subject x movement x radar position x environment) in a seeded order,
    repeated if ``n`` is larger; the first ``n`` entries of a round are a balanced subset of each factor
    (the round is built by cycling each factor, not by nesting them)."""
    rng = plan_rng(seed, NAME)
    combos = [(s, m, p, e) for s in range(config.n_subjects) for m in config.movements
              for p in config.radar_positions for e in config.environments]
    order = _interleave(combos, rng)
    specs = []
    for i in range(n):
        s, m, p, e = order[i % len(order)]
        labels = {"subject": s, "movement": m, "radar_position": p, "environment": e, "round": i // len(order)}
        specs.append(SequenceSpec(NAME, i, f"{NAME}-{i:05d}", derive_seed(seed, i), int(seed), config, labels))
    return specs


def _interleave(combos: list[tuple[int, int, str, str]], rng: np.random.Generator) -> list[Any]:
    """A seeded order of the factorial in which movement, subject, environment and position each cycle
    (greedy: at each step take the first remaining combination whose factor values were used least,
    movement first)."""
    remaining = [combos[i] for i in rng.permutation(len(combos))]
    counts: list[dict[Any, int]] = [dict() for _ in range(4)]
    out = []
    while remaining:
        best = min(range(len(remaining)),
                   key=lambda j: tuple(counts[f].get(remaining[j][f], 0) for f in (1, 0, 3, 2)))
        c = remaining.pop(best)
        for f in range(4):
            counts[f][c[f]] = counts[f].get(c[f], 0) + 1
        out.append(c)
    return out


def splits(plan: list[SequenceSpec]) -> dict[str, list[str]]:
    """Stratified by movement (MARS splits every movement 60 / 20 / 20)."""
    if not plan:
        return {}
    return stratified_splits(plan, lambda s: s.labels["movement"], plan[0].config.split_fractions, plan[0].run_seed)


def make_sequence(spec: SequenceSpec) -> Any:
    """Render one rehab sequence."""
    from mmsight.sim.motion import MARS_MOVEMENTS, rehab_movement
    from mmsight.sim.scattering import Clothing
    from mmsight.sim.scenes import rehab_scene

    cfg: Config = spec.config  # type: ignore[assignment]
    lab = spec.labels
    rng = np.random.default_rng(spec.seed)
    scene = rehab_scene(str(lab["environment"]), str(lab["radar_position"]), rng, image_size=cfg.image_size)
    subject = make_subject(spec.run_seed, int(lab["subject"]))
    duration = (cfg.n_frames - 1) / cfg.fps + 0.2
    style = subject.rehab_style
    reps = max(1, int(math.ceil((duration - 0.5) / (style.tempo + style.hold + style.rest))) + 1)
    xy = tuple(float(v) for v in scene.labels["subject_xy"])
    heading = float(scene.labels["subject_heading"]) + float(rng.uniform(-0.15, 0.15))
    clip = rehab_movement(subject.body, int(lab["movement"]), style, repetitions=reps, fps=30.0, position=xy,  # type: ignore[arg-type]
                          heading=heading, rng=rng, lead_in=float(rng.uniform(0.3, 1.0)))
    clothing = Clothing.outfit("cotton_tshirt", str(rng.choice(["denim", "cotton_tshirt"])), None, rng=rng)
    person = PersonTrack(clip, clothing, (), subject.skin, look_seed=derive_seed(subject.clothes_seed, 5))
    r = render_sequence(cfg, scene, [person], rng)
    T = scene.rig.T_radar_from_room
    skel, names = skeleton_radar(r.joints_room[0], T, cfg.joint_set)
    activity = clip.resample(np.clip(r.times, clip.times[0], clip.times[-1])).activity.astype(str)
    frame_labels = {
        "activity": activity,
        "mars_feature_map": mars_feature_map(r.points, r.point_offsets),  # type: ignore[arg-type]
    }
    seq_labels = {
        "subject": int(lab["subject"]), "movement": int(lab["movement"]),
        "movement_name": MARS_MOVEMENTS[int(lab["movement"])], "environment": str(lab["environment"]),
        "radar_position": str(lab["radar_position"]), "height_m": float(subject.height),
    }
    return build_record(spec, r, scene, skeleton=skel, joint_names=names, frame_labels=frame_labels,
                        sequence_labels=seq_labels)
