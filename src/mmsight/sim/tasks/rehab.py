"""Task ``rehab``: MARS-style rehabilitation movements (An & Ogras 2021; ``shared/data/README.md``).

A subject faces the radar and repeats one of the ten MARS movements (:data:`mmsight.sim.motion.MARS_MOVEMENTS`,
with the subject's own :class:`~mmsight.sim.motion.RehabStyle`), in one of four environments and with
the radar at one of two positions (:data:`mmsight.sim.scenes.REHAB_ENVIRONMENTS`,
:data:`~mmsight.sim.scenes.REHAB_RADAR_POSITIONS`). The radar is an IWR1443 at 10 fps (MARS used an IWR1443
at ~10 fps) with a chirp and a TI-like point chain calibrated on MARS's clouds (:data:`MARS_PROFILE`,
:data:`MARS_CHAIN`; ``docs/sim_calibration.md``). Streams: point clouds, range-azimuth and range-Doppler
maps, the Kinect V2 skeleton (25 joints, radar frame; MARS's 19 joints are Kinect joints 0-20 without the
hands) and RGB-D from a Kinect-like camera beside the radar; frame label ``mars_feature_map`` ``[F, 8, 8, 5]``
(:func:`~mmsight.sim.tasks.common.mars_feature_map`: the frame's points zero-padded to 64, as the
MARS CNN input). Labels: ``subject``, ``movement`` (1-10), ``movement_name``, ``environment``,
``radar_position``; per frame ``activity`` (the movement name during repetitions, ``standing`` between).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
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

__all__ = ["Config", "DEFAULT_SEQUENCES", "MARS_CHAIN", "MARS_PROFILE", "NAME", "add_sway", "make_sequence",
           "sequence_plan", "splits"]

NAME = "rehab"
DEFAULT_SEQUENCES = 400
"""5 subjects x 10 movements x 2 radar positions x 4 environments."""

MARS_PROFILE: dict[str, Any] = {
    "start_frequency": 76.0e9, "slope": 100e12, "n_samples": 200, "sample_rate": 5e6, "idle_time": 63.6e-6,
    "adc_start_time": 6e-6, "ramp_end_time": 48e-6, "n_loops": 16,
}
"""Chirp replacing the ``iwr1443boost`` preset's (``docs/sim_calibration.md``). MARS does not publish its
configuration, but its points show it: 16 Doppler bins of 0.356 m/s (so ``n_tx T_c`` = 335 us at 78.6 GHz:
3 TX x 111.6 us), range bins 2.93 cm apart (a 256-point range FFT with ``slope / fs`` = 20 MHz per
sample, zero-padded: 100 MHz/us at 5 Msps). The sample count (hence the true 3.75 cm resolution of
200 samples = 4 GHz, the most the 76-81 GHz band allows with this slope) is our estimate [EST]."""

MARS_CHAIN: dict[str, Any] = {
    "peak_grouping": False, "refine_angle": False, "refine_doppler": False, "n_range_fft": 256,
    "cfar_kind": "caso", "cfar_pfa": 1e-2, "clutter_mean": "plain",
}
"""TI-like point chain for MARS: 256-point range FFT, azimuth at the 64-bin FFT peak (MARS's azimuth
sines are multiples of 1/32) and Doppler at bin centres (as in MARS's points), TI's CASO CFAR; no
peak grouping and a threshold of ~6.7 dB over the CFAR noise estimate (pfa 1e-2; no thermal false
alarm in 20 noise-only frames) give MARS's ~38 points per frame [EST: MARS's threshold is unpublished].
Static clutter removal subtracts the plain mean over chirps before the Doppler window, as TI's SDK demo
does (``ChainOptions.clutter_mean``): slow movers keep energy in the zero-Doppler bin, where MARS has
20 % of its points."""


@dataclass(frozen=True)
class Config(TaskConfig):
    """Rehab task settings.

    Attributes:
        n_subjects: subjects (MARS: 4; here 5).
        movements: MARS movement numbers.
        environments, radar_positions: scene conditions.
        n_frames: 12 s at 10 fps (about three repetitions).
        radar_overrides, chain_options: :data:`MARS_PROFILE`, :data:`MARS_CHAIN`.
        subject_distance: range of the subject's distance from the radar (m, uniform); MARS's SpineBase
            is 1.72-2.07 m away (10th-90th percentile, median 1.97).
        sway: postural sway added to the movement (:func:`add_sway`; 1 = quiet standing's, 0 = none).
            Default 2 [EST]: a person holding a lunge or raised arms is not in quiet stance; with the
            MARS-fitted movements (long holds, held stances) 2 gives MARS's point count (30.6 points
            per frame against 37.8 and 2.8 % empty frames; 1 gives 25.7 and 16 %:
            ``docs/sim_calibration.md``, "Movement kinematics").
    """

    n_frames: int = 120
    fps: float = 10.0
    radar: str = "iwr1443boost"
    radar_overrides: dict[str, Any] = field(default_factory=lambda: dict(MARS_PROFILE))
    chain_options: dict[str, Any] = field(default_factory=lambda: dict(MARS_CHAIN))
    ra_max_range: float = 5.0
    joint_set: str = "kinect25"
    n_subjects: int = 5
    movements: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
    environments: tuple[str, ...] = ("lab", "living_room", "clinic", "gym")
    radar_positions: tuple[str, ...] = ("front", "elevated")
    split_fractions: tuple[float, float, float] = (0.6, 0.2, 0.2)
    subject_distance: tuple[float, float] = (1.8, 2.2)
    sway: float = 2.0

    def __post_init__(self) -> None:
        super().__post_init__()
        for k in ("movements", "environments", "radar_positions", "subject_distance"):
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


def add_sway(clip: Any, rng: np.random.Generator, amount: float = 1.0) -> Any:
    """The clip with the postural sway of quiet standing added on top of the movement (the same model
    and sizes as :func:`mmsight.sim.motion.stand`: pelvis ~6 mm sd over 2.5 s, trunk ~1 deg, head
    2-4 deg, arms 1.5-2 deg), scaled by ``amount``. A real subject is never still between and during
    repetitions; without it a held pose is a perfectly static target that clutter removal erases."""
    from mmsight.sim.motion import smooth_noise
    from mmsight.sim.skeleton import JOINT_INDEX

    t = clip.times
    deg = math.pi / 180.0
    root = clip.root_position.copy()
    root[:, :2] += smooth_noise(rng, t, 0.006 * amount, 2.5, (2,))
    a = clip.angles.copy()
    for joint, sds, corr in (("lumbar", (1.0, 0.6, 0.0), 3.0), ("neck", (2.0, 0.0, 4.0), 2.2),
                             ("shoulder_left", (1.5, 0.0, 0.0), 2.0), ("shoulder_right", (1.5, 0.0, 0.0), 2.0),
                             ("elbow_left", (2.0, 0.0, 0.0), 2.0), ("elbow_right", (2.0, 0.0, 0.0), 2.0)):
        for k, sd in enumerate(sds):
            if sd > 0:
                a[:, JOINT_INDEX[joint], k] += smooth_noise(rng, t, sd * amount * deg, corr)
    return replace(clip, root_position=root, angles=a, _posed=None)


def make_sequence(spec: SequenceSpec) -> Any:
    """Render one rehab sequence."""
    from mmsight.sim.motion import MARS_MOVEMENTS, rehab_movement
    from mmsight.sim.scattering import Clothing
    from mmsight.sim.scenes import rehab_scene

    cfg: Config = spec.config  # type: ignore[assignment]
    lab = spec.labels
    rng = np.random.default_rng(spec.seed)
    scene = rehab_scene(str(lab["environment"]), str(lab["radar_position"]), rng, image_size=cfg.image_size,
                        distance_range=tuple(cfg.subject_distance))  # type: ignore[arg-type]
    subject = make_subject(spec.run_seed, int(lab["subject"]))
    duration = (cfg.n_frames - 1) / cfg.fps + 0.2
    style = subject.rehab_style
    reps = max(1, int(math.ceil((duration - 0.5) / (style.tempo + style.hold + style.rest))) + 1)
    xy = tuple(float(v) for v in scene.labels["subject_xy"])
    heading = float(scene.labels["subject_heading"]) + float(rng.uniform(-0.15, 0.15))
    clip = rehab_movement(subject.body, int(lab["movement"]), style, repetitions=reps, fps=30.0, position=xy,  # type: ignore[arg-type]
                          heading=heading, rng=rng, lead_in=float(rng.uniform(0.3, 1.0)))
    if cfg.sway > 0:
        clip = add_sway(clip, np.random.default_rng(derive_seed(spec.seed, 0x5A7)), cfg.sway)
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
