"""Machinery shared by the task datasets: configs, plans, seeds, subjects, rendering, records, splits.

A task module (``weapons``, ``wall``, ``fall``, ``gait``, ``rehab``) provides

* ``Config`` - a :class:`TaskConfig` subclass with paper-size defaults and a ``tiny()`` preset;
* ``sequence_plan(config, n, seed) -> list[SequenceSpec]`` - the labels of every sequence, balanced,
  fixed by ``(config, n, seed)`` alone;
* ``make_sequence(spec) -> SequenceRecord`` - renders one sequence; a pure function of the spec (its
  seed is derived from ``(seed, index)``, so the result does not depend on which worker runs it);
* ``splits(plan) -> dict`` - the fixed train/validate/test split of the plan.

Rendering (:func:`render_sequence`): each radar frame is a snapshot of the scene at time ``t_f``; every
person's motion clip is resampled at ``t_f - h, t_f, t_f + h`` (``h`` = :data:`VELOCITY_STEP`) so that
the scattering centres get instantaneous velocities (central differences) whatever the frame rate, and
the camera renders the same instant. Radar frames go through :func:`mmsight.sim.radar_render.scene_scatterers`,
:func:`~mmsight.sim.radar_render.render_scatterers` (ADC) and two :class:`mmsight.radar.SignalChain`
passes: with static clutter removal for the point cloud and the range-Doppler map, and (by default)
without it for the range-azimuth map, which then shows the static context (walls, ladders, whiteboards)
as mmAnomaly's spectra do.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass, field, fields, replace
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from mmsight.data import RangeAzimuthMap, RangeDopplerMap, SequenceRecord

__all__ = [
    "VELOCITY_STEP",
    "PersonTrack",
    "Rendered",
    "SequenceSpec",
    "Subject",
    "TaskConfig",
    "balanced_cycle",
    "build_record",
    "derive_seed",
    "make_subject",
    "mars_feature_map",
    "plan_rng",
    "render_sequence",
    "stratified_splits",
]

VELOCITY_STEP = 0.02
"""Half-width (s) of the central difference that gives scatterer velocities at a frame instant."""


# ----------------------------------------------------------------------------------------------
# configuration
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskConfig:
    """Settings common to every task (subclasses add their own and change the defaults).

    Attributes:
        n_frames: frames per sequence.
        fps: frame rate of the radar (and of the camera unless the task says otherwise), Hz.
        image_size: square RGB-D image side, pixels.
        radar: :meth:`mmsight.radar.RadarConfig.preset` name.
        radar_overrides: fields replaced in the preset (e.g. ``{"n_loops": 16}``); ``frame_rate`` is
            always set from ``fps``.
        camera: render RGB + depth.
        store_depth: store the depth stream (camera tasks).
        store_adc: store the raw ADC cubes (large: only for small sets).
        ra_max_range: keep range-azimuth / range-Doppler bins up to this range (m).
        ra_clutter_removal: static clutter removal before the range-azimuth map (False: the map shows
            the static scene, like mmAnomaly's spectra).
        noise: thermal noise in the ADC samples.
        multipath: first-order image-source ghosts on the scene's mirrors.
        facets_specular, facets_diffuse: scattering centres per body segment
            (:class:`mmsight.sim.scattering.FacetModel`).
        ghost_facets_specular, ghost_facets_diffuse: the coarser facet model that places multipath
            ghost sources (one ghost per segment is made from them).
        chain_options: :class:`mmsight.radar.ChainOptions` overrides of both signal-chain passes (default:
            no CFAR peak grouping, which gives TI-people-counting-like dense clouds).
        fluctuation_db: per-frame log-normal RCS fluctuation of the bodies (0 = off).
        joint_set: skeleton stored (``kinect25``, ``azure32``, ``mars19``, ``coco17`` or ``canonical``).
        camera_noise: sensor and depth noise in the camera images.
        split_fractions: train / validate / test shares.
    """

    n_frames: int = 60
    fps: float = 15.0
    image_size: int = 128
    radar: str = "iwr6843isk"
    radar_overrides: dict[str, Any] = field(default_factory=dict)
    camera: bool = True
    store_depth: bool = True
    store_adc: bool = False
    ra_max_range: float = 6.0
    ra_clutter_removal: bool = False
    noise: bool = True
    multipath: bool = True
    facets_specular: int = 8
    facets_diffuse: int = 4
    ghost_facets_specular: int = 4
    ghost_facets_diffuse: int = 1
    chain_options: dict[str, Any] = field(default_factory=lambda: {"peak_grouping": False})
    fluctuation_db: float = 0.0
    joint_set: str = "kinect25"
    camera_noise: bool = True
    split_fractions: tuple[float, float, float] = (0.7, 0.1, 0.2)

    def __post_init__(self) -> None:
        if self.n_frames < 1:
            raise ValueError(f"n_frames must be >= 1, got {self.n_frames}")
        if not self.fps > 0:
            raise ValueError(f"fps must be > 0, got {self.fps}")
        if self.image_size < 8:
            raise ValueError(f"image_size must be >= 8, got {self.image_size}")
        fr = tuple(float(x) for x in self.split_fractions)
        if len(fr) != 3 or min(fr) < 0 or not math.isclose(sum(fr), 1.0, abs_tol=1e-6):
            raise ValueError(f"split_fractions must be three shares summing to 1, got {self.split_fractions}")
        object.__setattr__(self, "split_fractions", fr)
        object.__setattr__(self, "radar_overrides", dict(self.radar_overrides))
        object.__setattr__(self, "chain_options", dict(self.chain_options))

    # -- conversions ---------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Plain values (YAML/JSON-ready)."""
        out = {}
        for f in fields(self):
            v = getattr(self, f.name)
            out[f.name] = list(v) if isinstance(v, tuple) else (dict(v) if isinstance(v, dict) else v)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], base: TaskConfig | None = None) -> TaskConfig:
        """A config from ``base`` (default: the class defaults) with the keys of ``data`` replaced.
        Unknown keys raise ``ValueError`` naming them and the valid ones."""
        names = {f.name for f in fields(cls)}
        bad = sorted(set(data) - names)
        if bad:
            raise ValueError(f"unknown {cls.__name__} key(s) {bad}; valid: {', '.join(sorted(names))}")
        b = base if base is not None else cls()
        kw = {k: (tuple(v) if isinstance(getattr(b, k), tuple) else v) for k, v in data.items()}
        return replace(b, **kw)

    def radar_config(self) -> Any:
        """The :class:`mmsight.radar.RadarConfig` of the task."""
        return _radar_config(self.radar, float(self.fps), tuple(sorted(self.radar_overrides.items())))


@functools.lru_cache(maxsize=16)
def _radar_config(preset: str, fps: float, overrides: tuple[tuple[str, Any], ...]) -> Any:
    from mmsight.radar import RadarConfig

    return RadarConfig.preset(preset).replace(frame_rate=fps, **dict(overrides))


@dataclass(frozen=True)
class SequenceSpec:
    """Everything needed to render one sequence (picklable; sent to worker processes).

    Attributes:
        task: task name.
        index: position in the plan.
        sequence_id: dataset id of the sequence.
        seed: the sequence's own seed (:func:`derive_seed` of the run seed and ``index``).
        run_seed: the run's seed (subjects are shared across sequences through it).
        config: the task config.
        labels: the planned (balanced) conditions and labels.
    """

    task: str
    index: int
    sequence_id: str
    seed: int
    run_seed: int
    config: TaskConfig
    labels: Mapping[str, Any]


def derive_seed(seed: int, *keys: int) -> int:
    """A 63-bit seed from the run seed and integer keys (``SeedSequence`` hashing: independent streams)."""
    ss = np.random.SeedSequence([int(seed) & 0xFFFFFFFFFFFFFFFF, *[int(k) & 0xFFFFFFFF for k in keys]])
    return int(ss.generate_state(1, np.uint64)[0]) >> 1


def plan_rng(seed: int, task: str) -> np.random.Generator:
    """Generator of a task's plan (label shuffles), independent of the sequences' generators."""
    import zlib

    return np.random.default_rng(derive_seed(seed, 0x7FFFFFFF, zlib.crc32(task.encode())))


def balanced_cycle(values: Sequence[Any], n: int, rng: np.random.Generator) -> list[Any]:
    """``n`` draws that use every value equally often (counts differ by at most one), in a random
    order: full shuffled rounds of ``values``, the last round truncated."""
    out: list[Any] = []
    vals = list(values)
    while len(out) < n:
        perm = rng.permutation(len(vals))
        out.extend(vals[i] for i in perm)
    return out[:n]


def stratified_splits(
    plan: Sequence[SequenceSpec], key: Callable[[SequenceSpec], Any], fractions: Sequence[float], seed: int
) -> dict[str, list[str]]:
    """Train / validate / test ids: within every stratum (``key(spec)``), a seeded shuffle cut into
    ``round(f_train m)`` (at least 1), then ``round(f_test m)`` test, the rest validate (halves round up;
    a stratum of one goes to train)."""
    groups: dict[Any, list[SequenceSpec]] = {}
    for s in plan:
        groups.setdefault(key(s), []).append(s)
    names = ("train", "validate", "test")
    out: dict[str, list[str]] = {n: [] for n in names}
    rng = np.random.default_rng(derive_seed(seed, 0x5917))
    for k in sorted(groups, key=repr):
        members = sorted(groups[k], key=lambda s: s.index)
        order = rng.permutation(len(members))
        m = len(members)
        n_train = max(1, int(math.floor(fractions[0] * m + 0.5)))
        n_test = min(m - n_train, int(math.floor(fractions[2] * m + 0.5)))
        cut1, cut2 = n_train, m - n_test
        for pos, i in enumerate(order):
            name = names[0] if pos < cut1 else (names[1] if pos < cut2 else names[2])
            out[name].append(members[i].sequence_id)
    return {n: sorted(v) for n, v in out.items() if v}


# ----------------------------------------------------------------------------------------------
# subjects
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Subject:
    """A simulated participant, identical in every sequence of a run (drawn from ``(run seed, index)``).

    Attributes:
        index: participant number (0-based).
        body: anthropometric body.
        gait: walking identity.
        skin: skin material instance (reflectivity).
        rehab_style: how they perform the MARS movements.
        clothes_seed: seed of their garment instances and looks.
        height, mass: m, kg.
    """

    index: int
    body: Any
    gait: Any
    skin: Any
    rehab_style: Any
    clothes_seed: int
    height: float
    mass: float


@functools.lru_cache(maxsize=512)
def make_subject(run_seed: int, index: int, height_range: tuple[float, float] = (1.52, 1.87)) -> Subject:
    """Participant ``index`` of a run. Heights are uniform in ``height_range`` (Mission's cohort:
    152-187 cm), body-mass index uniform in 19-30 [EST], a random build."""
    from mmsight.sim.body import BUILDS, BodyShape
    from mmsight.sim.materials import get_material
    from mmsight.sim.motion import GaitIdentity, RehabStyle

    g = np.random.default_rng(derive_seed(run_seed, 0x50B1, index))
    h = float(g.uniform(*height_range))
    bmi = float(g.uniform(19.0, 30.0))
    mass = bmi * h * h
    build = str(g.choice(sorted(BUILDS)))
    body = BodyShape.from_anthropometry(h, mass, build=build, rng=g)
    gait = GaitIdentity.sample(g, name=f"subject-{index:03d}")
    skin = get_material("skin").sample_instance(g)
    style = RehabStyle.sample(g)
    return Subject(index, body, gait, skin, style, int(g.integers(2**31)), h, mass)


# ----------------------------------------------------------------------------------------------
# rendering
# ----------------------------------------------------------------------------------------------

_SHOE_MATERIAL = "leather_jacket"  # camera look of shoes


@dataclass
class PersonTrack:
    """One person of a sequence.

    Attributes:
        clip: motion (room frame); must cover ``[t_0 - h, t_last + h]`` of the frames rendered.
        clothing: :class:`mmsight.sim.scattering.Clothing` (None = bare skin).
        objects: concealed objects (:class:`mmsight.sim.scattering.CarriedObject`).
        skin: skin instance (None = nominal).
        look_seed: seed of the person's camera looks (same seed = same clothes colours).
    """

    clip: Any
    clothing: Any = None
    objects: tuple[Any, ...] = ()
    skin: Any = None
    look_seed: int = 0


@dataclass
class Rendered:
    """Output of :func:`render_sequence` (``F`` frames)."""

    times: np.ndarray
    joints_room: list[np.ndarray]  # per person [F, 39, 3]
    adc: np.ndarray | None = None
    ra: np.ndarray | None = None
    ra_range: np.ndarray | None = None
    ra_azimuth: np.ndarray | None = None
    rd: np.ndarray | None = None
    rd_range: np.ndarray | None = None
    rd_velocity: np.ndarray | None = None
    points: np.ndarray | None = None
    point_offsets: np.ndarray | None = None
    rgb: np.ndarray | None = None
    depth: np.ndarray | None = None
    person_pixels: np.ndarray | None = None  # [F, P] pixels showing each person
    object_rcs: np.ndarray | None = None  # [F] m^2 of concealed-object scatterers reaching the radar
    body_rcs: np.ndarray | None = None  # [F] m^2 of body scatterers
    ghost_rcs: np.ndarray | None = None  # [F] m^2 of multipath ghosts
    clutter_rcs: np.ndarray | None = None  # [F] m^2 of static reflectors and the wall return
    timings: dict[str, float] = field(default_factory=dict)


def _take_posed(posed: Any, index: np.ndarray) -> Any:
    """The frames ``index`` (any order, repeats allowed) of a PosedBody."""
    seg = posed.segments
    seg2 = replace(seg, centers=seg.centers[index], axes=seg.axes[index])
    return replace(posed, joints=posed.joints[index], joint_rotations=posed.joint_rotations[index], segments=seg2,
                   times=None if posed.times is None else posed.times[index])


def _slice_posed(posed: Any, a: int, b: int) -> Any:
    seg = posed.segments
    seg2 = replace(seg, centers=seg.centers[a:b], axes=seg.axes[a:b])
    return replace(posed, joints=posed.joints[a:b], joint_rotations=posed.joint_rotations[a:b], segments=seg2,
                   times=None if posed.times is None else posed.times[a:b])


def camera_materials(clothing: Any) -> list[str]:
    """Per-segment camera material of a dressed body: outermost garment, shoes on the feet, else skin."""
    from mmsight.sim.body import SEGMENT_NAMES

    out = []
    for name in SEGMENT_NAMES:
        layers = () if clothing is None else clothing.layers(name)
        if layers:
            out.append(layers[-1].name)
        elif name.startswith("foot"):
            out.append(_SHOE_MATERIAL)
        else:
            out.append("skin")
    return out


@functools.lru_cache(maxsize=8)
def _chains(config: Any, ra_clutter_removal: bool, options: tuple[tuple[str, Any], ...] = ()) -> tuple[Any, Any]:
    """The signal-chain passes of a radar configuration: points and range-Doppler map with static
    clutter removal, the range-azimuth map with or without it (``ra_clutter_removal``). One chain does
    both in a single pass (``ChainOptions.ra_clutter_removal``: the map is taken before the exact
    post-FFT clutter correction), returned twice for callers that expect a pair. One instance per
    process (work buffers)."""
    from mmsight.radar import SignalChain

    opts = dict(options)
    opts.pop("clutter_removal", None)
    opts.pop("ra_clutter_removal", None)
    chain = SignalChain(config, clutter_removal=True, ra_clutter_removal=bool(ra_clutter_removal), **opts)
    return chain, chain


def render_sequence(
    config: TaskConfig,
    scene: Any,
    people: Sequence[PersonTrack],
    rng: np.random.Generator,
    *,
    times: np.ndarray | None = None,
    radar: bool = True,
    camera: bool | None = None,
    camera_fps: float | None = None,
) -> Rendered:
    """Render ``config.n_frames`` synchronized frames of a scene with people.

    Args:
        config: the task config (radar, image size, streams).
        scene: :class:`mmsight.sim.scenes.Scene`.
        people: the people (may be empty: a blank scene).
        rng: the sequence's generator (looks, lights, fluctuation, noise).
        times: frame instants (s, on the clips' time axis); default ``h + f / fps``.
        radar: render the radar streams. camera: render RGB-D (default ``config.camera``).
        camera_fps: unused placeholder for tasks whose camera has its own rate (they pass ``times``).

    Returns:
        :class:`Rendered`.
    """
    from mmsight.utils.threads import blas_limit

    # one BLAS limit for the whole sequence: the stages' own (nested) limits are then free
    with blas_limit(1):
        return _render_sequence(config, scene, people, rng, times=times, radar=radar, camera=camera)


def _render_sequence(
    config: TaskConfig,
    scene: Any,
    people: Sequence[PersonTrack],
    rng: np.random.Generator,
    *,
    times: np.ndarray | None,
    radar: bool,
    camera: bool | None,
) -> Rendered:
    import time as _time

    from mmsight.sim.camera import RenderOptions, StaticView, render_rgbd, sample_lighting, sample_looks
    from mmsight.sim.geometry import SceneGeometry
    from mmsight.sim.radar_render import Person, render_scatterers, scene_scatterers
    from mmsight.sim.scattering import KIND_BODY, KIND_CLUTTER, KIND_OBJECT, KIND_WALL, PATH_DIRECT, FacetModel, Fluctuation

    cam = config.camera if camera is None else camera
    h = VELOCITY_STEP
    F = int(config.n_frames)
    t = (h + np.arange(F) / float(config.fps)) if times is None else np.asarray(times, dtype=np.float64)
    F = len(t)
    tri = np.stack([t - h, t, t + h], axis=1).reshape(-1)
    timings = {"motion": 0.0, "radar": 0.0, "chain": 0.0, "camera": 0.0}
    t0 = _time.perf_counter()
    posed = []
    for p in people:
        lo, hi = float(p.clip.times[0]), float(p.clip.times[-1])
        # Above 1 / (2 h) fps the +-h instants of neighbouring frames interleave (and clipping at the
        # clip's ends repeats instants): pose each distinct instant once, then pick them in order.
        instants, order = np.unique(np.clip(tri, lo, hi), return_inverse=True)
        posed.append(_take_posed(p.clip.resample(instants).pose(), order))
    timings["motion"] += _time.perf_counter() - t0
    out = Rendered(times=t, joints_room=[pb.joints[1::3].copy() for pb in posed])

    if radar:
        cfg = config.radar_config()
        dyn, stat = _chains(cfg, bool(config.ra_clutter_removal), tuple(sorted(config.chain_options.items())))
        fluct = None if config.fluctuation_db <= 0 else Fluctuation("lognormal", float(config.fluctuation_db))
        facets = FacetModel(n_specular=int(config.facets_specular), n_diffuse=int(config.facets_diffuse))
        ghost = FacetModel(n_specular=int(config.ghost_facets_specular), n_diffuse=int(config.ghost_facets_diffuse))
        sc = scene if config.multipath else replace(scene, multipath=False)
        base = sc.radar_scene((), freq_hz=float(cfg.center_frequency), facets=facets, ghost_facets=ghost, fluctuation=fluct)
        keep_r = None
        adcs, ras, rds, pts, offs = [], [], [], [], [0]
        obj_rcs, body_rcs, ghost_rcs, clut_rcs = (np.zeros(F) for _ in range(4))
        # the carried objects' poses at every posed instant, once per sequence (not per frame)
        t1 = _time.perf_counter()
        obj_tracks = [tuple(c.poses(pb, np.arange(pb.n_frames)) for c in p.objects) for p, pb in zip(people, posed)]
        timings["radar"] += _time.perf_counter() - t1
        for f in range(F):
            t1 = _time.perf_counter()
            persons = tuple(
                Person(body=_slice_posed(pb, 3 * f, 3 * f + 3), clothing=p.clothing, objects=tuple(p.objects), skin=p.skin,
                       object_poses=tuple(q[3 * f: 3 * f + 3] for q in tracks) if tracks else None)
                for p, pb, tracks in zip(people, posed, obj_tracks)
            )
            rs = replace(base, people=persons)
            s = scene_scatterers(rs, 1 if persons else 0, cfg, rng)
            adc = render_scatterers(s, cfg, rng, noise=bool(config.noise))
            t2 = _time.perf_counter()
            pd = dyn.process(adc)
            ps = pd if stat is dyn else stat.process(adc)
            timings["radar"] += t2 - t1
            timings["chain"] += _time.perf_counter() - t2
            if keep_r is None:
                keep_r = np.flatnonzero(np.asarray(pd.range_axis) <= float(config.ra_max_range))
                out.ra_range = np.asarray(ps.range_axis, dtype=np.float64)[keep_r]
                out.ra_azimuth = np.asarray(ps.azimuth_axis, dtype=np.float64)
                out.rd_range = np.asarray(pd.range_axis, dtype=np.float64)[keep_r]
                out.rd_velocity = np.asarray(pd.velocity_axis, dtype=np.float64)
            ras.append(np.asarray(ps.range_azimuth, dtype=np.float32)[keep_r])
            rds.append(np.asarray(pd.range_doppler, dtype=np.float32)[keep_r])
            pts.append(np.asarray(pd.points, dtype=np.float32).reshape(-1, 5))
            offs.append(offs[-1] + len(pts[-1]))
            if config.store_adc:
                adcs.append(adc.astype(np.complex64))
            direct = s.path == PATH_DIRECT
            obj_rcs[f] = s.rcs[direct & (s.kind == KIND_OBJECT)].sum()
            body_rcs[f] = s.rcs[direct & (s.kind == KIND_BODY)].sum()
            ghost_rcs[f] = s.rcs[~direct].sum()
            clut_rcs[f] = s.rcs[direct & np.isin(s.kind, [KIND_CLUTTER, KIND_WALL])].sum()
        out.ra = np.stack(ras)
        out.rd = np.stack(rds)
        out.points = np.concatenate(pts, axis=0) if pts else np.zeros((0, 5), np.float32)
        out.point_offsets = np.asarray(offs, dtype=np.int64)
        out.adc = np.stack(adcs) if adcs else None
        out.object_rcs, out.body_rcs, out.ghost_rcs, out.clutter_rcs = obj_rcs, body_rcs, ghost_rcs, clut_rcs

    if cam:
        t1 = _time.perf_counter()
        rig = scene.rig.with_image_size(config.image_size)
        camera_model = rig.camera()
        static = scene.static_geometry()
        looks = dict(sample_looks(static, rng))
        for i, p in enumerate(people):
            mats = camera_materials(p.clothing)
            g_i = SceneGeometry().add_body(posed[i].segments, 0, object_id=i, material=mats)
            looks.update(sample_looks(g_i, np.random.default_rng(p.look_seed)))
        fwd = rig.T_room_from_camera[:3, 2]
        around = rig.T_room_from_camera[:3, 3] + 2.5 * np.array([fwd[0], fwd[1], 0.0])
        ceiling = scene.room.height if scene.room.ceiling_material is not None else 4.0
        lighting = sample_lighting(rng, around=(around[0], around[1], 1.5), ceiling=ceiling)
        options = RenderOptions() if config.camera_noise else RenderOptions.ideal()
        static_view = StaticView(camera_model, static)  # the camera is fixed: cast the room once
        mats = [camera_materials(p.clothing) for p in people]
        rgbs, depths, pix = [], [], np.zeros((F, len(people)), dtype=np.int32)
        for f in range(F):
            geo = static
            for i, pb in enumerate(posed):
                geo = geo.extend(SceneGeometry().add_body(pb.segments, 3 * f + 1, object_id=i, material=mats[i]))
            img = render_rgbd(camera_model, geo, looks, lighting, rng, options=options, static=static_view)
            rgbs.append(img.rgb)
            depths.append(img.depth.astype(np.float32))
            for i in range(len(people)):
                pix[f, i] = int(np.count_nonzero(img.mask == i))
        out.rgb = np.stack(rgbs)
        out.depth = np.stack(depths)
        out.person_pixels = pix
        timings["camera"] += _time.perf_counter() - t1
    out.timings = timings
    return out


# ----------------------------------------------------------------------------------------------
# records
# ----------------------------------------------------------------------------------------------


def joint_set(name: str) -> tuple[np.ndarray | None, tuple[str, ...]]:
    """Index array into the canonical joints (None = all) and the joint names of a stored joint set."""
    from mmsight.sim.skeleton import JOINT_MAPS, JOINT_NAMES

    if name == "canonical":
        return None, tuple(JOINT_NAMES)
    if name not in JOINT_MAPS:
        raise ValueError(f"unknown joint set {name!r}; valid: canonical, {', '.join(sorted(JOINT_MAPS))}")
    m = JOINT_MAPS[name]
    return np.asarray(m.index), tuple(m.names)


def skeleton_radar(joints_room: np.ndarray, T_radar_from_room: np.ndarray, joint_set_name: str) -> tuple[np.ndarray, tuple[str, ...]]:
    """``float32 [F, K, 3]`` joints of a stored joint set in the radar frame, and their names."""
    idx, names = joint_set(joint_set_name)
    j = joints_room if idx is None else joints_room[:, idx]
    r, tr = T_radar_from_room[:3, :3], T_radar_from_room[:3, 3]
    return (j @ r.T + tr).astype(np.float32), names


def to_radar(points_room: np.ndarray, T_radar_from_room: np.ndarray) -> np.ndarray:
    p = np.asarray(points_room, dtype=np.float64)
    return p @ T_radar_from_room[:3, :3].T + T_radar_from_room[:3, 3]


def build_record(
    spec: SequenceSpec,
    rendered: Rendered,
    scene: Any,
    *,
    skeleton: np.ndarray | None = None,
    joint_names: Sequence[str] | None = None,
    frame_labels: Mapping[str, np.ndarray] | None = None,
    sequence_labels: Mapping[str, Any] | None = None,
    extra_calibration: Mapping[str, Any] | None = None,
) -> SequenceRecord:
    """A :class:`~mmsight.data.SequenceRecord` of the rendered streams with calibration and labels."""
    cfg = spec.config
    cal: dict[str, Any] = {"T_room_from_radar": scene.rig.T_room_from_radar, "scene": scene.to_dict(),
                           "task": spec.task, "fps": float(cfg.fps)}
    if rendered.ra is not None:
        cal["radar_config"] = cfg.radar_config().to_dict()
        cal["range_azimuth_clutter_removal"] = bool(cfg.ra_clutter_removal)
        cal["range_doppler_clutter_removal"] = True
        cal["points_clutter_removal"] = True
    if rendered.rgb is not None:
        rig = scene.rig.with_image_size(cfg.image_size)
        cal["K"] = rig.K
        cal["T_radar_from_camera"] = rig.T_radar_from_camera
        cal["camera_model"] = rig.camera_model
    if extra_calibration:
        cal.update(extra_calibration)
    fl = {k: np.asarray(v) for k, v in (frame_labels or {}).items()}
    if rendered.object_rcs is not None:
        fl.setdefault("object_rcs", rendered.object_rcs.astype(np.float32))
        fl.setdefault("body_rcs", rendered.body_rcs.astype(np.float32))  # type: ignore[union-attr]
        fl.setdefault("ghost_rcs", rendered.ghost_rcs.astype(np.float32))  # type: ignore[union-attr]
        fl.setdefault("clutter_rcs", rendered.clutter_rcs.astype(np.float32))  # type: ignore[union-attr]
    if rendered.person_pixels is not None:
        fl.setdefault("person_pixels", rendered.person_pixels.astype(np.int32))
    sl = {"task": spec.task, "index": int(spec.index), "seed": int(spec.seed)}
    sl.update(sequence_labels or {})
    return SequenceRecord(
        sequence_id=spec.sequence_id,
        timestamps=np.asarray(rendered.times, dtype=np.float64) - float(rendered.times[0]),
        adc=rendered.adc,
        range_azimuth=None if rendered.ra is None else RangeAzimuthMap(rendered.ra, rendered.ra_range, rendered.ra_azimuth, "linear"),  # type: ignore[arg-type]
        range_doppler=None if rendered.rd is None else RangeDopplerMap(rendered.rd, rendered.rd_range, rendered.rd_velocity, "linear"),  # type: ignore[arg-type]
        points=rendered.points,
        point_offsets=rendered.point_offsets,
        rgb=rendered.rgb,
        depth=rendered.depth if cfg.store_depth else None,
        skeleton=skeleton,
        joint_names=None if joint_names is None else tuple(joint_names),
        calibration=cal,
        frame_labels=fl,
        sequence_labels=sl,
    )


def mars_feature_map(points: np.ndarray, offsets: np.ndarray, n_points: int = 64) -> np.ndarray:
    """MARS's CNN input per frame: ``float32 [F, 8, 8, 5]``.

    MARS (An & Ogras 2021) zero-pads each frame's points (x, y, z, doppler, intensity) to 64 and
    reshapes them to 8 x 8 x 5. Frames with more than ``n_points`` points keep the strongest (largest
    last column); points are ordered by range within a frame so that the layout is deterministic.
    """
    side = int(round(math.sqrt(n_points)))
    if side * side != n_points:
        raise ValueError(f"n_points must be a square, got {n_points}")
    off = np.asarray(offsets, dtype=np.int64)
    F = len(off) - 1
    out = np.zeros((F, n_points, 5), dtype=np.float32)
    for f in range(F):
        p = np.asarray(points[off[f]:off[f + 1], :5], dtype=np.float32)
        if len(p) > n_points:
            p = p[np.argsort(-p[:, 4], kind="stable")[:n_points]]
        if len(p):
            p = p[np.argsort(np.linalg.norm(p[:, :3], axis=1), kind="stable")]
        out[f, : len(p)] = p
    return out.reshape(F, side, side, 5)


def config_summary(config: TaskConfig) -> dict[str, Any]:
    """``config.to_dict()`` plus the class name (what the dataset manifest records)."""
    d = config.to_dict()
    d["class"] = type(config).__name__
    return d


def is_dataclass_config(obj: Any) -> bool:
    return dataclasses.is_dataclass(obj) and isinstance(obj, TaskConfig)
