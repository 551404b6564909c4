"""Task ``weapons``: mmAnomaly's through-cloth concealed-object dataset (paper sec. 2.1 and 5.1).

One person walks past (towards) a radar mounted with a 20-degree downward tilt; each sequence is 4 s,
60 frames at 15 fps. The person wears one of three clothing conditions (casual, fleece jacket, snow
jacket: :data:`mmsight.sim.materials.CLOTHING_CONDITIONS`) in one of three environments (a plain lab,
with a ladder, with a ladder and a whiteboard: :data:`mmsight.sim.scenes.WEAPON_ENVIRONMENTS`), and
carries nothing (normal) or one of three metal objects (:data:`mmsight.sim.objects.MMANOMALY_OBJECTS`)
at one of eight body regions (:data:`mmsight.sim.objects.MMANOMALY_REGIONS`).

Labels: ``region`` (0 normal, 1-8 in the order of ``MMANOMALY_REGIONS``), ``object``, ``clothing``,
``environment`` (sequence labels, and ``region`` per frame); per frame also the object's centre
``object_xyz`` (radar frame, NaN when normal), the pelvis ``person_xyz``, ``visible`` (the person is in
the camera image and the radar's field of view) and the radar-side ground truth ``object_rcs`` (RCS of
the object's scatterers that reach the radar: 0 when the body hides it).
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

__all__ = ["Config", "DEFAULT_SEQUENCES", "NAME", "CLOTHING_OUTFITS", "make_sequence", "sequence_plan", "splits"]

NAME = "weapons"
DEFAULT_SEQUENCES = 1200
"""mmAnomaly's dataset has about 1,200 recordings (sec. 2.1)."""

#: clothing condition -> (top, bottom, outer) garment materials (the paper: casual dress, fleece
#: jacket, snow jacket; the under-layers are our assumption [EST]).
CLOTHING_OUTFITS: dict[str, tuple[str, str, str | None]] = {
    "cloth-1": ("cotton_tshirt", "denim", None),
    "cloth-2": ("cotton_tshirt", "denim", "fleece"),
    "cloth-3": ("cotton_tshirt", "denim", "down_jacket"),
}


@dataclass(frozen=True)
class Config(TaskConfig):
    """Weapons task settings (paper-size defaults).

    Attributes:
        n_subjects: participants (the paper: 7).
        normal_fraction: share of sequences without an object.
        objects, regions, clothing, environments: the conditions (see the module docstring).
        view_angle_deg: range of route view angles (0 = straight at the radar).
        route_center_y: range of the route centre's distance (m).
    """

    n_frames: int = 60
    fps: float = 15.0
    radar: str = "iwr6843isk"
    ra_max_range: float = 7.0
    joint_set: str = "kinect25"
    n_subjects: int = 7
    normal_fraction: float = 0.5
    objects: tuple[str, ...] = ("handgun", "knife", "keys")
    regions: tuple[str, ...] = ("chest_left", "chest_right", "waist_left", "waist_right",
                                "pocket_left", "pocket_right", "ankle_left", "ankle_right")
    clothing: tuple[str, ...] = ("cloth-1", "cloth-2", "cloth-3")
    environments: tuple[str, ...] = ("plain", "ladder", "ladder_whiteboard")
    view_angle_deg: tuple[float, float] = (0.0, 45.0)
    route_center_y: tuple[float, float] = (2.6, 3.6)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0.0 <= self.normal_fraction <= 1.0:
            raise ValueError(f"normal_fraction must be in [0, 1], got {self.normal_fraction}")
        for name in ("objects", "regions", "clothing", "environments", "view_angle_deg", "route_center_y"):
            object.__setattr__(self, name, tuple(getattr(self, name)))

    @classmethod
    def tiny(cls) -> Config:
        """A few small frames (tests, demos)."""
        return cls(n_frames=4, image_size=64, n_subjects=2, facets_specular=6, facets_diffuse=2)


def region_class(region: str | None) -> int:
    """0 for None (normal), else 1 + the index in the paper's region order."""
    from mmsight.sim.objects import MMANOMALY_REGIONS

    return 0 if region is None else MMANOMALY_REGIONS.index(region) + 1


def sequence_plan(config: Config, n: int, seed: int) -> list[SequenceSpec]:
    """``n`` sequences: ``round(n * normal_fraction)`` normal, the rest cycling through every
    (object, region) pair; within each group the (clothing, environment) conditions cycle evenly;
    subjects cycle evenly; then everything is shuffled (all seeded)."""
    rng = plan_rng(seed, NAME)
    n_normal = int(round(n * config.normal_fraction))
    anomalies = balanced_cycle([(o, r) for o in config.objects for r in config.regions], n - n_normal, rng)
    conds = [(c, e) for c in config.clothing for e in config.environments]
    kinds: list[tuple[str | None, str | None]] = [(None, None)] * n_normal + list(anomalies)
    c_normal = balanced_cycle(conds, n_normal, rng)
    c_anom = balanced_cycle(conds, n - n_normal, rng)
    condition = c_normal + c_anom
    subjects = balanced_cycle(list(range(config.n_subjects)), n, rng)
    order = rng.permutation(n)
    specs = []
    for i, k in enumerate(order):
        obj, region = kinds[k]
        cloth, env = condition[k]
        labels = {"object": obj or "none", "region_name": region or "none", "region": region_class(region),
                  "clothing": cloth, "environment": env, "subject": int(subjects[i])}
        specs.append(SequenceSpec(NAME, i, f"{NAME}-{i:05d}", derive_seed(seed, i), int(seed), config, labels))
    return specs


def splits(plan: list[SequenceSpec]) -> dict[str, list[str]]:
    """Stratified by region class (normal and each region split alike)."""
    if not plan:
        return {}
    cfg = plan[0].config
    return stratified_splits(plan, lambda s: s.labels["region"], cfg.split_fractions, plan[0].run_seed)


def make_sequence(spec: SequenceSpec) -> Any:
    """Render one weapons sequence (a :class:`mmsight.data.SequenceRecord`)."""
    from mmsight.sim.materials import CLOTHING_CONDITIONS
    from mmsight.sim.motion import route_at_view_angle, walk
    from mmsight.sim.objects import attach
    from mmsight.sim.scattering import CarriedObject, Clothing
    from mmsight.sim.scenes import weapons_scene
    from mmsight.sim.skeleton import JOINT_INDEX, JOINT_NAMES

    cfg: Config = spec.config  # type: ignore[assignment]
    lab = spec.labels
    rng = np.random.default_rng(spec.seed)
    subject = make_subject(spec.run_seed, int(lab["subject"]))
    scene = weapons_scene(str(lab["environment"]), rng, image_size=cfg.image_size)
    top, bottom, outer = CLOTHING_OUTFITS[str(lab["clothing"])]
    clothing = Clothing.outfit(top, bottom, outer, rng=rng)

    duration = (cfg.n_frames - 1) / cfg.fps + 0.2
    params = subject.gait.realize(rng)
    angle = math.radians(float(rng.uniform(*cfg.view_angle_deg)))
    center = (float(rng.uniform(-0.5, 0.5)), float(rng.uniform(*cfg.route_center_y)))
    route = route_at_view_angle(angle, center=center, length=max(params.speed * duration, 0.5), towards_radar=True,
                                side=1 if rng.uniform() < 0.5 else -1)
    clip = walk(subject.body, params, route, duration=duration, fps=30.0, rng=rng)

    objects: tuple[Any, ...] = ()
    if lab["object"] != "none":
        offset = tuple(float(v) for v in rng.uniform(-0.01, 0.01, 3))
        objects = (CarriedObject(str(lab["object"]), str(lab["region_name"]), local_offset=offset,  # type: ignore[arg-type]
                                 roll=float(rng.uniform(-0.3, 0.3))),)
    person = PersonTrack(clip, clothing, objects, subject.skin, look_seed=derive_seed(subject.clothes_seed, 1))
    r = render_sequence(cfg, scene, [person], rng)

    T = scene.rig.T_radar_from_room
    joints = r.joints_room[0]
    skel, names = skeleton_radar(joints, T, cfg.joint_set)
    F = len(r.times)
    pelvis = to_radar(joints[:, JOINT_INDEX["pelvis"]], T).astype(np.float32)
    obj_xyz = np.full((F, 3), np.nan, dtype=np.float32)
    if objects:
        c = objects[0]
        poses = attach(c.obj, c.region, joints, JOINT_NAMES, local_offset=c.local_offset, roll=c.roll)
        obj_xyz = to_radar(poses[:, :3, 3], T).astype(np.float32)
    in_image = (r.person_pixels[:, 0] >= 0.005 * cfg.image_size**2) if r.person_pixels is not None else np.ones(F, bool)
    az = np.arctan2(pelvis[:, 0], pelvis[:, 1])
    in_radar = np.abs(az) < math.radians(60.0)
    frame_labels = {
        "region": np.full(F, int(lab["region"]), dtype=np.int8),
        "person_xyz": pelvis,
        "object_xyz": obj_xyz,
        "visible": in_image & in_radar,
    }
    seq_labels = {
        "region": int(lab["region"]), "region_name": str(lab["region_name"]), "object": str(lab["object"]),
        "anomalous": lab["object"] != "none", "clothing": str(lab["clothing"]),
        "clothing_material": CLOTHING_CONDITIONS.get(str(lab["clothing"]), outer or top),
        "environment": str(lab["environment"]), "environment_index": int(scene.labels["environment_index"]),
        "subject": int(lab["subject"]), "height_m": float(subject.height), "speed_mps": float(params.speed),
        "view_angle_deg": math.degrees(angle),
    }
    return build_record(spec, r, scene, skeleton=skel, joint_names=names, frame_labels=frame_labels,
                        sequence_labels=seq_labels)


def with_overrides(config: Config, **kw: Any) -> Config:
    return replace(config, **kw)
