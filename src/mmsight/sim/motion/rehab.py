"""The ten MARS rehabilitation movements (An & Ogras, ACM TECS 2021) with per-subject style.

MARS lists the movements by name only; the poses below are our reading of those names (the
subject faces the radar):

====  ============================  ===============================================================
 #    name                          target pose at full amplitude (repeated from neutral standing)
====  ============================  ===============================================================
 1    left upper limb extension     left arm raised forwards and up to ~150 deg, elbow straight
 2    right upper limb extension    mirror of 1
 3    both upper limb extension     both arms raised to ~150 deg
 4    left front lunge              left foot steps ~0.4 H forwards, pelvis drops ~0.16 H, back heel up
 5    right front lunge             mirror of 4
 6    squat                         pelvis drops ~0.2 H and back, trunk leans ~30 deg, arms forwards
 7    left side lunge               left foot steps ~0.3 H sideways, weight shifts over the bent knee
 8    right side lunge              mirror of 7
 9    left limb extension           left arm raised sideways (~110 deg) and left leg lifted sideways
                                    (~30 deg hip abduction) together, balancing on the right leg
 10   right limb extension          mirror of 9
====  ============================  ===============================================================

Every repetition goes neutral -> target -> hold -> neutral -> rest with minimum-jerk profiles
(stepping movements first step, then lower the body). Planted feet are held by leg IK.
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
    "tempo": (2.2, 4.5),
    "hold": (0.1, 0.9),
    "rest": (0.2, 1.0),
    "asymmetry": (-0.15, 0.15),
    "trunk_compensation": (0.5, 1.5),
}


@dataclass(frozen=True)
class RehabStyle:
    """How one subject performs the movements.

    Attributes:
        amplitude: scales every target excursion (1 = the nominal pose) [0.75, 1.1].
        tempo: seconds from neutral to target and back, without the hold [2.2, 4.5].
        hold: seconds held at the target [0.1, 0.9].
        rest: seconds in neutral between repetitions [0.2, 1.0].
        asymmetry: left-side excursions x (1 + a), right-side x (1 - a) [-0.15, 0.15].
        trunk_compensation: scales the accompanying trunk motion [0.5, 1.5].
        variability: scales the repetition-to-repetition jitter (amplitude 5 %, timing 8 %).
    """

    amplitude: float = 1.0
    tempo: float = 3.0
    hold: float = 0.4
    rest: float = 0.5
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


@dataclass
class _Stage:
    """One stage of a movement: joint targets (deg, absolute; joints not listed keep the previous
    stage's value), root shift (m, cumulative), foot moves (cumulative)."""

    angles: dict[str, tuple[float, float, float]]
    root: tuple[float, float, float] = (0.0, 0.0, 0.0)
    # side -> (ankle shift [m, body frame], pitch about the ball [deg, toe-down < 0], extra yaw [deg])
    feet: dict[str, tuple[tuple[float, float, float], float, float]] | None = None
    lift: str | None = None  # stepping foot lifted on the way (arc height 0.06 m)


def _movement(number: int, body: BodyShape, style: RehabStyle) -> tuple[list[_Stage], str | None]:
    """Stages of a movement at the style's amplitude and the leg that is free (not planted)."""
    h = body.height
    tc = style.trunk_compensation

    def amp(side: str | None) -> float:
        a = style.amplitude
        if side == "left":
            return a * (1 + style.asymmetry)
        if side == "right":
            return a * (1 - style.asymmetry)
        return a

    def lat(side: str) -> float:
        return -1.0 if side == "left" else 1.0  # body-frame x of the person's left/right

    other = {"left": "right", "right": "left"}
    name = MARS_MOVEMENTS[number]
    side = "left" if name.startswith("left") else ("right" if name.startswith("right") else None)
    if number in (1, 2):
        a = amp(side)
        return [_Stage({f"shoulder_{side}": (150 * a, 12, 0), f"elbow_{side}": (5, 0, 0),
                        "lumbar": (-4 * tc * a, 3 * tc * a * (1 if side == "right" else -1), 0)})], None  # fmt: skip
    if number == 3:
        al, ar = amp("left"), amp("right")
        return [_Stage({"shoulder_left": (150 * al, 12, 0), "shoulder_right": (150 * ar, 12, 0),
                        "elbow_left": (5, 0, 0), "elbow_right": (5, 0, 0),
                        "lumbar": (-6 * tc * style.amplitude, 0, 0)})], None  # fmt: skip
    if number in (4, 5):
        a = amp(side)
        step = 0.40 * h * a
        arms = {f"shoulder_{s}": (5, 12, 0) for s in ("left", "right")}
        s1 = _Stage(dict(arms, lumbar=(2 * tc, 0, 0)), root=(0.0, 0.45 * step, 0.0),
                    feet={side: ((0.0, step, 0.0), 0.0, 0.0)}, lift=side)  # fmt: skip
        s2 = _Stage(dict(arms, lumbar=(6 * tc * a, 0, 0)), root=(0.0, 0.08 * step, -0.16 * h * a),
                    feet={other[side]: ((0.0, 0.0, 0.0), -35.0 * a, 8.0)})  # fmt: skip
        return [s1, s2], None
    if number == 6:
        a = style.amplitude
        shift = 0.05 * style.asymmetry / 0.15
        return [_Stage({"lumbar": (20 * a * tc, 0, 0), "spine_mid": (10 * a * tc, 0, 0), "neck": (-20 * a, 0, 0),
                        "shoulder_left": (80 * a, 8, 0), "shoulder_right": (80 * a, 8, 0),
                        "elbow_left": (5, 0, 0), "elbow_right": (5, 0, 0)},
                       root=(shift, -0.08 * h * a, -0.20 * h * a))], None  # fmt: skip
    if number in (7, 8):
        a = amp(side)
        step = 0.30 * h * a
        x = lat(side) * step
        arms = {f"shoulder_{s}": (35 * a, 10, 0) for s in ("left", "right")}
        s1 = _Stage(dict(arms), root=(0.25 * x, 0.0, 0.0), feet={side: ((x, 0.0, 0.0), 0.0, 14.0)}, lift=side)
        s2 = _Stage(dict(arms, lumbar=(15 * a * tc, 0, 0)), root=(0.35 * x, -0.03 * h, -0.12 * h * a))
        return [s1, s2], None
    if number in (9, 10):
        a = amp(side)
        st = other[side]
        bend = 6 * tc * a * (1 if side == "left" else -1)  # lean towards the standing leg
        return [_Stage({f"shoulder_{side}": (10, 110 * a, 0), f"elbow_{side}": (5, 0, 0),
                        f"hip_{side}": (3, 30 * a, 0), f"knee_{side}": (5, 0, 0), f"ankle_{side}": (-10, 0, 0),
                        "lumbar": (0, -bend, 0)},
                       root=(lat(st) * 0.045 * a, 0.0, 0.0))], side  # fmt: skip
    raise ValueError(f"unknown MARS movement {number}; known: {sorted(MARS_MOVEMENTS)}")


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
    starts, t = [], lead_in
    for r in reps:
        starts.append(t)
        t += r.tempo + r.hold + r.rest
    total = t
    times = np.arange(int(round(total * fps)) + 1) / fps
    t_count = times.shape[0]

    base = standing_angles()
    a = np.repeat(base[None], t_count, axis=0)
    root = np.zeros((t_count, 3))
    root[:, 2] = body.root_height - 0.003
    ank0, feet0 = _stance_feet(body)
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
                if st.lift == side:
                    ankles[sel, k_side, 2] += 0.06 * np.sin(np.pi * s)
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

