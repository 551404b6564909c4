"""Task ``gait``: Mission's radar-to-camera gait re-identification data (paper sec. 4).

Identities (participants with their own body and walking style, :class:`~mmsight.sim.tasks.common.Subject`)
walk towards a sensor rig at one end of a classroom, a corridor or a hall
(:data:`mmsight.sim.scenes.GAIT_SCENES`; radar 0.85 m, camera 0.86 m high), along straight routes at view
angles of 0-60 degrees (narrower in the corridor). The radar (the ``mission`` IWR6843 preset, 10 fps) and
the RGB camera (15 fps, Azure-Kinect-like, rendered 128 x 128) are in **separate walks**: walk ``w`` of
identity ``k`` is recorded once by a radar (sequence ``gait-r-<k>-<w>``) and, as a different walk in
another scene, once by a camera (``gait-c-<k>-<w>``), so the two modalities never see the same walk,
as when cameras and radars are installed in disjoint areas. A share of the radar walks have a second
person walking in the radar's view at the same time (the paper's multi-person set).

Streams: radar sequences have range-azimuth and range-Doppler maps, point clouds and the 3D joints
(Azure Kinect 32-joint set, radar frame); camera sequences have RGB, depth (the paper uses the depth
sensor only for training-time joints) and the same joints (in the frame of the rig's radar position,
with ``T_radar_from_camera``). Labels: ``identity``, ``walk``, ``modality``, ``scene``,
``view_angle_deg``, ``n_people``, ``identity_2`` (second walker or None); frame label ``skeleton_2``
(second walker's joints, NaN when alone) in radar sequences.
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
    build_record,
    derive_seed,
    make_subject,
    render_sequence,
    skeleton_radar,
    stratified_splits,
)

__all__ = ["Config", "DEFAULT_SEQUENCES", "NAME", "make_sequence", "sequence_plan", "splits"]

NAME = "gait"
DEFAULT_SEQUENCES = 2400
"""60 identities x 20 walks, once seen by a radar and once by a camera."""


@dataclass(frozen=True)
class Config(TaskConfig):
    """Gait task settings (paper-size defaults).

    Attributes:
        n_identities, n_walks: identities and walks per identity (the paper: 58 and 20).
        fps, n_frames: radar rate and radar frames (4.5 s at 10 fps; the paper's radar captures last 4-5 s).
        camera_fps, camera_frames: the camera's rate and frames (15 fps).
        multi_person_share: share of radar walks with a second person in view (paper: 200 of 2000).
        scenes: scene names used.
    """

    n_frames: int = 45
    fps: float = 10.0
    radar: str = "mission"
    ra_max_range: float = 10.0
    joint_set: str = "azure32"
    camera_fps: float = 15.0
    camera_frames: int = 68
    n_identities: int = 60
    n_walks: int = 20
    multi_person_share: float = 0.1
    scenes: tuple[str, ...] = ("classroom", "corridor", "hall")
    split_fractions: tuple[float, float, float] = (0.65, 0.1, 0.25)

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "scenes", tuple(self.scenes))
        if self.n_identities < 2:
            raise ValueError("n_identities must be >= 2 (two-person walks need a second identity)")
        if not 0.0 <= self.multi_person_share <= 1.0:
            raise ValueError(f"multi_person_share must be in [0, 1], got {self.multi_person_share}")

    @classmethod
    def tiny(cls) -> Config:
        return cls(n_frames=4, camera_frames=5, image_size=64, n_identities=3, n_walks=2, multi_person_share=0.34,
                   facets_specular=6, facets_diffuse=2)


def sequence_plan(config: Config, n: int, seed: int) -> list[SequenceSpec]:
    """Walks in the order walk 0 of every identity (radar, then camera), walk 1 ...; the first ``n``
    entries (so any ``n`` covers the identities evenly). The radar and camera scenes of one walk
    differ; scenes cycle with the identity and walk. Every ``round(1 / multi_person_share)``-th radar
    walk has a second walker (another identity)."""
    specs: list[SequenceSpec] = []
    n_id, n_sc = config.n_identities, len(config.scenes)
    every = int(round(1.0 / config.multi_person_share)) if config.multi_person_share > 0 else 0
    radar_count = 0
    w = 0
    while len(specs) < n:
        for k in range(n_id):
            for modality in ("radar", "camera"):
                if len(specs) >= n:
                    break
                i = len(specs)
                scene = config.scenes[(k + w + (0 if modality == "radar" else 1)) % n_sc]
                second = None
                if modality == "radar":
                    radar_count += 1
                    if every and radar_count % every == 0:
                        second = (k + 1 + (w % (n_id - 1))) % n_id
                labels = {"identity": k, "walk": w, "modality": modality, "scene": scene,
                          "identity_2": second, "n_people": 1 if second is None else 2}
                sid = f"{NAME}-{'r' if modality == 'radar' else 'c'}-{k:03d}-{w:02d}"
                specs.append(SequenceSpec(NAME, i, sid, derive_seed(seed, i), int(seed), config, labels))
        w += 1
    return specs


def splits(plan: list[SequenceSpec]) -> dict[str, list[str]]:
    """Per identity and modality, walks are split train / validate / test (Mission: 75 % of each
    subject's records for training, 25 % for testing). Unseen-identity protocols can be built from the
    ``identity`` label."""
    if not plan:
        return {}
    return stratified_splits(plan, lambda s: (s.labels["identity"], s.labels["modality"]),
                             plan[0].config.split_fractions, plan[0].run_seed)


def _route(rng: np.random.Generator, scene: Any, length: float) -> Any:
    """A route towards the rig inside the scene's walkable area (within the radar's range)."""
    from mmsight.sim.motion import Room, sample_route

    room = scene.room
    max_angle = float(scene.labels["max_view_angle"])
    walkable = Room(x_range=room.x_range, y_range=(1.0, min(room.y_range[1], 10.0)), margin=0.4)
    for shrink in (1.0, 0.8, 0.6, 0.4):
        try:
            return sample_route(rng, walkable, view_angle_range=(0.0, max_angle * shrink), length_range=(length, length),
                                towards_probability=1.0)
        except ValueError:
            continue
    return sample_route(rng, walkable, view_angle_range=(0.0, 0.0), length_range=(min(length, 6.0),) * 2,
                        towards_probability=1.0)


def _walker(rng: np.random.Generator, subject: Any, scene: Any, duration: float) -> tuple[Any, Any, float]:
    from mmsight.sim.motion import walk

    params = subject.gait.realize(rng)
    route = _route(rng, scene, max(params.speed * duration, 1.0))
    clip = walk(subject.body, params, route, duration=duration, fps=30.0, rng=rng)
    return clip, route, math.degrees(route.view_angle(scene.rig.radar_xy))


def make_sequence(spec: SequenceSpec) -> Any:
    """Render one gait walk (radar-only or camera-only)."""
    from mmsight.sim.scattering import Clothing
    from mmsight.sim.scenes import gait_scene

    cfg: Config = spec.config  # type: ignore[assignment]
    lab = spec.labels
    rng = np.random.default_rng(spec.seed)
    radar = lab["modality"] == "radar"
    scene = gait_scene(str(lab["scene"]), rng, image_size=cfg.image_size)
    subject = make_subject(spec.run_seed, int(lab["identity"]))
    fps = cfg.fps if radar else cfg.camera_fps
    n_frames = cfg.n_frames if radar else cfg.camera_frames
    duration = (n_frames - 1) / fps + 0.2

    def outfit(s: Any) -> Any:
        # a person wears the same kind of clothes in every walk (their own seed); thickness varies per walk
        g = np.random.default_rng(s.clothes_seed)
        top = str(g.choice(["cotton_tshirt", "polyester_shell", "fleece"]))
        outer = None if g.uniform() < 0.6 else str(g.choice(["leather_jacket", "down_jacket", "fleece"]))
        return Clothing.outfit(top, "denim", outer, rng=rng)

    clip, route, view = _walker(rng, subject, scene, duration)
    people = [PersonTrack(clip, outfit(subject), (), subject.skin, look_seed=derive_seed(subject.clothes_seed, 4))]
    second = lab.get("identity_2")
    if second is not None:
        s2 = make_subject(spec.run_seed, int(second))
        clip2, _, _ = _walker(rng, s2, scene, duration)
        people.append(PersonTrack(clip2, outfit(s2), (), s2.skin, look_seed=derive_seed(s2.clothes_seed, 4)))
    run_cfg = replace(cfg, fps=fps, n_frames=n_frames, camera=not radar)
    r = render_sequence(run_cfg, scene, people, rng, radar=radar, camera=not radar)
    T = scene.rig.T_radar_from_room
    skel, names = skeleton_radar(r.joints_room[0], T, cfg.joint_set)
    F = len(r.times)
    frame_labels: dict[str, np.ndarray] = {}
    if radar:
        skel2 = np.full_like(skel, np.nan) if len(people) == 1 else skeleton_radar(r.joints_room[1], T, cfg.joint_set)[0]
        frame_labels["skeleton_2"] = skel2
    seq_labels = {
        "identity": int(lab["identity"]), "walk": int(lab["walk"]), "modality": str(lab["modality"]),
        "scene": str(lab["scene"]), "view_angle_deg": float(view), "n_people": len(people),
        "identity_2": None if second is None else int(second), "height_m": float(subject.height),
        "speed_mps": float(clip.meta["params"]["speed"]) if "params" in clip.meta else None,
        "frames": F,
    }
    spec_run = replace(spec, config=run_cfg)
    return build_record(spec_run, r, scene, skeleton=skel, joint_names=names, frame_labels=frame_labels,
                        sequence_labels=seq_labels)
