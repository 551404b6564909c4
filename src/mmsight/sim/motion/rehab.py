"""The ten MARS rehabilitation movements (An & Ogras, ACM TECS 2021) with per-subject style.

MARS lists the movements by name only. The poses below started as our reading of those names and
were then fitted to MARS's own Kinect skeletons (``shared/data/mars``: per movement, where the wrists,
elbows, ankles and SpineBase are relative to SpineBase, how long a repetition takes and how much of it
is spent near the target; ``docs/sim_calibration.md``). The subject faces the radar:

====  ============================  ===============================================================
 #    name                          pose (H = body height)
====  ============================  ===============================================================
 1    left upper limb extension     left arm raised sideways to ~100 deg (frontal plane), elbow
                                    straight, held ~1.5 s at the top
 2    right upper limb extension    mirror of 1
 3    both upper limb extension     both arms, as in 1
 4    left front lunge              from a held split stance (left foot ~0.22 H forwards, feet
                                    ~0.55 m apart sideways) the pelvis sinks ~0.09 H and moves
                                    forwards, the back heel rises; arms held up (forearms vertical,
                                    wrists above the shoulders), trunk turned ~25 deg
 5    right front lunge             mirror of 4
 6    squat                         pelvis drops ~0.18 H and back, trunk leans ~30 deg; arms held up
 7    left side lunge               from a held wide stance (ankles ~0.6 m apart) the pelvis shifts
                                    ~0.16 H to the left over the bent knee; arms held out sideways
 8    right side lunge              mirror of 7
 9    left limb extension           left arm raised sideways (~110 deg) and left leg lifted sideways
                                    (~30 deg hip abduction) together, balancing on the right leg
 10   right limb extension          mirror of 9
====  ============================  ===============================================================

Every repetition goes neutral -> target -> hold -> neutral -> rest with minimum-jerk profiles.
Planted feet are held by leg IK.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from ..body import BodyShape
from ..skeleton import JOINT_INDEX, rot_x, rot_z
from . import MotionClip, as_rng, min_jerk
from .postures import _floor_lift, _root_matrix, _stance_feet, standing_angles

__all__ = ["MARS_MOVEMENTS", "RehabStyle", "rehab_movement"]

_DEG = np.pi / 180.0
_J = JOINT_INDEX

#: Movement number -> name, as in the MARS dataset (and ``mmsight.data`` importers).
MARS_MOVEMENTS: dict[int, str] = {
    1: "left_upper_limb_extension",
    2: "right_upper_limb_extension",
    3: "both_upper_limb_extension",
    4: "left_front_lunge",
    5: "right_front_lunge",
    6: "squat",
    7: "left_side_lunge",
    8: "right_side_lunge",
    9: "left_limb_extension",
    10: "right_limb_extension",
}

_STYLE_RANGES: dict[str, tuple[float, float]] = {
    "amplitude": (0.75, 1.1),
    "tempo": (1.0, 1.8),
    "hold": (0.1, 0.5),
    "rest": (0.2, 1.0),
    "asymmetry": (-0.15, 0.15),
    "trunk_compensation": (0.5, 1.5),
}


@dataclass(frozen=True)
class RehabStyle:
    """How one subject performs the movements.

    Attributes:
        amplitude: scales every target excursion (1 = the nominal pose) [0.75, 1.1].
        tempo: seconds from neutral to target and back, without the hold [1.0, 1.8].
        hold: seconds held at the target [0.1, 0.5] (the arm raises add :data:`_ARM_RAISE_HOLD`).
        rest: seconds in neutral between repetitions [0.2, 1.0] (halved for the arm raises).
        asymmetry: left-side excursions x (1 + a), right-side x (1 - a) [-0.15, 0.15].
        trunk_compensation: scales the accompanying trunk motion [0.5, 1.5].
        variability: scales the repetition-to-repetition jitter (amplitude 5 %, timing 8 %).

    The timing ranges are fitted to MARS's Kinect skeletons: repetition periods of 2.0-4.5 s per
    subject and movement; the raised arm of movements 1-3 spends ~65 % of the time above half its
    range, the lunges, the squat and the leg raises ~30-40 %.
    """

    amplitude: float = 1.0
    tempo: float = 1.4
    hold: float = 0.3
    rest: float = 0.6
    asymmetry: float = 0.0
    trunk_compensation: float = 1.0
    variability: float = 1.0

    @classmethod
    def sample(cls, rng: np.random.Generator | int | None = None, variability: float = 1.0) -> RehabStyle:
        """A subject's style drawn uniformly within the documented ranges."""
        g = as_rng(rng)
        return cls(**{k: float(g.uniform(lo, hi)) for k, (lo, hi) in _STYLE_RANGES.items()}, variability=variability)

    def realize(self, rng: np.random.Generator | int | None = None) -> RehabStyle:
        """The style of one repetition: amplitude x N(1, 5 %), tempo/hold/rest x N(1, 8 %)."""
        g = as_rng(rng)
        v = self.variability

        def jit(x: float, sd: float) -> float:
            return float(x * np.clip(1.0 + v * sd * g.standard_normal(), 1 - 3 * sd, 1 + 3 * sd))

        return replace(
            self, amplitude=jit(self.amplitude, 0.05), tempo=jit(self.tempo, 0.08),
            hold=jit(self.hold, 0.08), rest=jit(self.rest, 0.08),
        )  # fmt: skip


#: Arm postures that MARS's subjects hold through a whole recording (measured on the Kinect skeletons
#: of ``shared/data/mars``, median over each movement's frames, relative to SpineBase). In the front
#: lunges and the squat the wrists stay 0.54-0.71 m above SpineBase (10th-90th percentile), above
#: the shoulders, with the elbows forwards and out to the side at 0.42-0.44 m: upper arms pointing
#: out, ~25 deg below horizontal and ~20 deg forwards, forearms nearly vertical (the angles below
#: were fitted to those segment directions); the shoulder on the back leg's side comes forwards
#: (trunk turned ~25 deg). In the side lunges the arms are held out sideways (elbows and wrists at
#: shoulder height, wrists 0.61-0.65 m to the side). Angles (deg) are (flexion, abduction, rotation)
#: of the shoulder and the elbow's flexion, mirrored for the right side by the skeleton.
_ARMS_UP = {"shoulder_left": (30, 60, -45), "shoulder_right": (30, 60, -45),
            "elbow_left": (125, 0, 0), "elbow_right": (125, 0, 0)}  # fmt: skip
_ARMS_OUT = {"shoulder_left": (0, 85, 0), "shoulder_right": (0, 85, 0),
             "elbow_left": (10, 0, 0), "elbow_right": (10, 0, 0)}  # fmt: skip
_HELD_ARMS: dict[int, dict[str, tuple[float, float, float]]] = {
    4: dict(_ARMS_UP, spine_mid=(0, 0, 25)), 5: dict(_ARMS_UP, spine_mid=(0, 0, -25)), 6: _ARMS_UP,
    7: _ARMS_OUT, 8: _ARMS_OUT}


_ARM_RAISE_HOLD = 1.5  # s added to the hold of movements 1-3


@dataclass
class _Stage:
    """One stage of a movement: joint targets (deg, absolute; joints not listed keep the previous
    stage's value), root shift (m, cumulative), foot moves (cumulative)."""

    angles: dict[str, tuple[float, float, float]]
    root: tuple[float, float, float] = (0.0, 0.0, 0.0)
    # side -> (ankle shift [m, body frame], pitch about the ball [deg, toe-down < 0], extra yaw [deg])
    feet: dict[str, tuple[tuple[float, float, float], float, float]] | None = None


def _movement(number: int, body: BodyShape, style: RehabStyle) -> tuple[list[_Stage], str | None]:
    """Stages of a movement at the style's amplitude and the leg that is free (not planted)."""
    h = body.height
    tc = style.trunk_compensation

    def amp(side: str | None) -> float:
        return _side_amplitude(style, side)

    def lat(side: str) -> float:
        return -1.0 if side == "left" else 1.0  # body-frame x of the person's left/right

    other = {"left": "right", "right": "left"}
    name = MARS_MOVEMENTS[number]
    side = "left" if name.startswith("left") else ("right" if name.startswith("right") else None)
    if number in (1, 2):
        a = amp(side)
        return [_Stage({f"shoulder_{side}": (8, 100 * a, 0), f"elbow_{side}": (5, 0, 0),
                        "lumbar": (-2 * tc * a, 3 * tc * a * (1 if side == "right" else -1), 0)})], None  # fmt: skip
    if number == 3:
        al, ar = amp("left"), amp("right")
        return [_Stage({"shoulder_left": (8, 100 * al, 0), "shoulder_right": (8, 100 * ar, 0),
                        "elbow_left": (5, 0, 0), "elbow_right": (5, 0, 0),
                        "lumbar": (-3 * tc * style.amplitude, 0, 0)})], None  # fmt: skip
    if number in (4, 5):
        # held split stance (see _held_stance): the pelvis sinks and moves forwards over the front
        # foot, the back heel rises
        a = amp(side)
        step = _front_step(body, style, side)
        return [_Stage({"lumbar": (6 * tc * a, 0, 0)}, root=(0.0, 0.12 * step, -0.09 * h * a),
                       feet={other[side]: ((0.0, 0.0, 0.0), -25.0 * a, 0.0)})], None  # fmt: skip
    if number == 6:
        a = style.amplitude
        shift = 0.05 * style.asymmetry / 0.15
        return [_Stage({"lumbar": (20 * a * tc, 0, 0), "spine_mid": (10 * a * tc, 0, 0), "neck": (-20 * a, 0, 0)},
                       root=(shift, -0.08 * h * a, -0.18 * h * a))], None  # fmt: skip
    if number in (7, 8):
        # held wide stance (see _held_stance): the pelvis shifts over the bent knee of the lunge side
        a = amp(side)
        return [_Stage({"lumbar": (10 * a * tc, 0, 0)},
                       root=(lat(side) * 0.16 * h * a, -0.02 * h, -0.05 * h * a))], None  # fmt: skip
    if number in (9, 10):
        a = amp(side)
        st = other[side]
        bend = 6 * tc * a * (1 if side == "left" else -1)  # lean towards the standing leg
        return [_Stage({f"shoulder_{side}": (10, 110 * a, 0), f"elbow_{side}": (5, 0, 0),
                        f"hip_{side}": (3, 30 * a, 0), f"knee_{side}": (5, 0, 0), f"ankle_{side}": (-10, 0, 0),
                        "lumbar": (0, -bend, 0)},
                       root=(lat(st) * 0.045 * a, 0.0, 0.0))], side  # fmt: skip
    raise ValueError(f"unknown MARS movement {number}; known: {sorted(MARS_MOVEMENTS)}")


def _side_amplitude(style: RehabStyle, side: str | None) -> float:
    """The style's amplitude for a movement of one side: left x (1 + asymmetry), right x (1 - asymmetry)."""
    if side == "left":
        return style.amplitude * (1 + style.asymmetry)
    if side == "right":
        return style.amplitude * (1 - style.asymmetry)
    return style.amplitude


def _front_step(body: BodyShape, style: RehabStyle, side: str | None) -> float:
    """Length (m) of the front lunges' split stance: MARS's subjects hold their feet 0.30-0.46 m apart
    front to back (ankle distance along the facing direction, per subject)."""
    return 0.22 * body.height * _side_amplitude(style, side)


def _held_stance(number: int, body: BodyShape, style: RehabStyle) -> tuple[np.ndarray, np.ndarray]:
    """Ankle shifts ``[2, 3]`` (left, right; body frame, m) and root shift ``[3]`` of the stance a
    movement is performed from. MARS's subjects do the lunges from a stance they keep for the whole
    recording (their ankles move by a few cm at most): the front lunges from a split stance (feet
    0.30-0.46 m apart front to back and ~0.55 m sideways), the side lunges from a wide one (ankles
    ~0.6 m apart, against ~0.2 m in neutral standing)."""
    ank = np.zeros((2, 3))
    root = np.zeros(3)
    name = MARS_MOVEMENTS[number]
    side = "left" if name.startswith("left") else ("right" if name.startswith("right") else None)
    if number in (4, 5):
        step = _front_step(body, style, side)
        ank[0 if side == "left" else 1, 1] = step
        ank[0, 0], ank[1, 0] = -0.07 * body.height, 0.07 * body.height  # and wide: ~0.55 m apart sideways
        root[1] = 0.45 * step
    elif number in (7, 8):
        w = 0.12 * body.height * style.amplitude
        ank[0, 0], ank[1, 0] = -w, w  # the person's left is body -x
    return ank, root


def _profiles(t: np.ndarray, n_stages: int, style: RehabStyle) -> np.ndarray:
    """``[T, n_stages]`` stage progress (0-1) of one repetition starting at t = 0."""
    half = 0.5 * style.tempo
    lin = np.clip(np.minimum(t / half, (2 * half + style.hold - t) / half), 0.0, 1.0)
    if n_stages == 1:
        return min_jerk(lin)[:, None]
    cut = 0.45
    return np.stack([min_jerk(lin / cut), min_jerk((lin - cut) / (1 - cut))], axis=1)


def rehab_movement(
    body: BodyShape,
    movement: int | str,
    style: RehabStyle | None = None,
    *,
    repetitions: int = 3,
    fps: float = 30.0,
    position: tuple[float, float] = (0.0, 2.5),
    heading: float = np.pi,
    rng: np.random.Generator | int | None = None,
    lead_in: float = 0.5,
) -> MotionClip:
    """``repetitions`` of one MARS movement.

    Args:
        body: the subject.
        movement: MARS number (1-10) or name (``MARS_MOVEMENTS``).
        style: the subject's :class:`RehabStyle` (default style if None); each repetition is a
            :meth:`RehabStyle.realize` of it.
        repetitions: number of repetitions.
        fps: frame rate (Hz).
        position: pelvis floor point in neutral stance (m). heading: facing direction (rad;
            default pi faces a radar at the origin).
        rng: randomness of the repetition jitter.
        lead_in: seconds of neutral standing before the first repetition.

    Returns:
        :class:`MotionClip` labelled ``mars_<NN>_<name>``; ``activity`` is the movement name
        (``"standing"`` outside repetitions); ``meta`` holds ``movement``, ``name``, ``style`` and
        ``repetitions`` (list of ``(start, end)`` times).
    """
    g = as_rng(rng)
    if isinstance(movement, str):
        names = {v: k for k, v in MARS_MOVEMENTS.items()}
        if movement not in names:
            raise ValueError(f"unknown MARS movement {movement!r}; known: {list(names)}")
        number = names[movement]
    else:
        number = int(movement)
        if number not in MARS_MOVEMENTS:
            raise ValueError(f"unknown MARS movement {number}; known: {sorted(MARS_MOVEMENTS)}")
    if repetitions < 1:
        raise ValueError("repetitions must be >= 1")
    style = style or RehabStyle()
    reps = [style.realize(g) for _ in range(repetitions)]
    if number in (1, 2, 3):  # arm raises: long holds, short rests (MARS)
        reps = [replace(r, hold=r.hold + _ARM_RAISE_HOLD, rest=0.5 * r.rest) for r in reps]
    starts, t = [], lead_in
    for r in reps:
        starts.append(t)
        t += r.tempo + r.hold + r.rest
    total = t
    times = np.arange(int(round(total * fps)) + 1) / fps
    t_count = times.shape[0]

    base = standing_angles()
    for jn, value in _HELD_ARMS.get(number, {}).items():  # arms held up through the whole clip
        base[_J[jn]] = np.array(value) * _DEG
    a = np.repeat(base[None], t_count, axis=0)
    root = np.zeros((t_count, 3))
    root[:, 2] = body.root_height - 0.003
    ank0, feet0 = _stance_feet(body)
    held_ank, held_root = _held_stance(number, body, style)
    ank0 = ank0 + held_ank
    root += held_root[None]
    ankles = np.repeat(ank0[None], t_count, axis=0)
    feet = np.repeat(feet0[None], t_count, axis=0)
    free_leg: str | None = None
    active = np.zeros(t_count, dtype=bool)
    spans = []
    for r, t0 in zip(reps, starts):
        stages, free_leg = _movement(number, body, r)
        sel = (times >= t0) & (times <= t0 + r.tempo + r.hold)
        active |= sel
        spans.append((t0, t0 + r.tempo + r.hold))
        prog = _profiles(times[sel] - t0, len(stages), r)
        prev = base.copy()
        for k, st in enumerate(stages):
            s = prog[:, k]
            target = prev.copy()
            for jn, value in st.angles.items():
                target[_J[jn]] = np.array(value) * _DEG
            a[sel] += s[:, None, None] * (target - prev)[None]
            prev = target
            root[sel] += s[:, None] * np.array(st.root)[None]
            for side, (shift, pitch, yaw) in (st.feet or {}).items():
                k_side = 0 if side == "left" else 1
                ankles[sel, k_side] += s[:, None] * np.array(shift)[None]
                if pitch or yaw:
                    sgn = 1.0 if side == "left" else -1.0  # toe-out turns the left foot to -x
                    new = rot_z(sgn * yaw * _DEG * s) @ feet[sel, k_side] @ rot_x(pitch * _DEG * s)
                    # pitch about the ball of the foot: move the ankle so that the ball stays put
                    ball = body.offsets[_J[f"foot_{side}"]]
                    old_ball = np.einsum("tij,j->ti", feet[sel, k_side], ball)
                    ankles[sel, k_side] += old_ball - np.einsum("tij,j->ti", new, ball)
                    feet[sel, k_side] = new
                    # keep the toes flat when the heel rises (toe extension at the ball)
                    a[sel, _J[f"foot_{side}"], 0] += np.maximum(-pitch, 0.0) * _DEG * s
    # keep planted legs within reach: lower the pelvis no further than a straight leg allows
    rr = _root_matrix(a[:, 0])
    for k, side in enumerate(("left", "right")):
        if side == free_leg:
            continue
        hip = root + np.einsum("tij,j->ti", rr, body.offsets[_J[f"hip_{side}"]])
        horiz = np.linalg.norm(ankles[:, k, :2] - hip[:, :2], axis=1)
        reach = 0.985 * body.leg_length
        z_max = ankles[:, k, 2] + np.sqrt(np.maximum(reach**2 - horiz**2, 0.0)) - (hip[:, 2] - root[:, 2])
        root[:, 2] = np.minimum(root[:, 2], z_max)
    for k, side in enumerate(("left", "right")):
        ik = body.leg_ik(side, root, rr, ankles[:, k], feet[:, k])
        hip_i, knee_i, ankle_i = (_J[f"{n}_{side}"] for n in ("hip", "knee", "ankle"))
        if side == free_leg:
            # the free leg starts planted and moves by the stage deltas on top of that
            a[:, hip_i] += ik.hip - base[hip_i]
            a[:, knee_i, 0] += ik.knee - base[knee_i, 0]
            a[:, ankle_i] += ik.ankle - base[ankle_i]
        else:
            a[:, hip_i] = ik.hip
            a[:, knee_i, 0] = ik.knee
            a[:, ankle_i] = ik.ankle
    root[:, 2] = _floor_lift(body, a, root)
    name = MARS_MOVEMENTS[number]
    meta: dict[str, Any] = {"movement": number, "name": name, "style": asdict(style), "repetitions": spans}
    clip = MotionClip(
        body=body, times=times, root_position=root, heading=np.zeros(t_count), angles=a,
        activity=np.where(active, name, "standing"), label=f"mars_{number:02d}_{name}", meta=meta,
    )  # fmt: skip
    return clip.moved(offset=(position[0], position[1], 0.0), yaw=heading)

