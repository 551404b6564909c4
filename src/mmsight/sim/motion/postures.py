"""Static and transitional postures: standing, sitting, stand-to-sit, falls and lying.

All generators build the motion in the person's own frame (start pelvis above the origin, facing
+y) and then place it at ``position`` (pelvis floor point, m) with ``heading`` (rad; pi = facing a
radar at the origin when the person stands at positive y). Feet that should stay put are held by
the leg IK of :class:`~mmsight.sim.body.BodyShape`; whole-body contacts with the floor use the
segment ellipsoids (the lowest surface point rests on ``z = 0``).

Timing models:

* voluntary transitions (stand-to-sit, limb motions) follow minimum-jerk profiles
  (Flash & Hogan 1985);
* falls have a *ballistic* phase: an inverted pendulum tipping about the feet,
  ``theta'' = (g / l) sin(theta)`` with ``l = 2/3 H`` (uniform rod about its end), for falls to
  lying; an accelerating descent ``z(u) = z0 - dz u^p`` (p = 2-2.6) for falls to sitting. The
  onset-to-impact time is drawn in 0.6-1.3 s unless given, followed by a short damped rebound and
  a motionless pause (the "impact pause"), then the fallen posture.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..body import BodyShape
from ..skeleton import JOINT_INDEX, N_JOINTS, euler_xyz_to_matrix, rot_x, rot_z
from . import MotionClip, as_rng, frame_times, min_jerk, smooth_noise

__all__ = ["FALL_DIRECTIONS", "fall", "lying", "sit", "sit_to_stand", "stand", "stand_to_sit", "standing_angles"]

_DEG = np.pi / 180.0
_G = 9.81
#: Directions a person can fall in (relative to where they face).
FALL_DIRECTIONS: tuple[str, ...] = ("forward", "backward", "left", "right")
_J = JOINT_INDEX


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _set(a: np.ndarray, joint: str, flex: float | np.ndarray = 0.0, abd: float | np.ndarray = 0.0,
         rot: float | np.ndarray = 0.0) -> None:  # fmt: skip
    """Set anatomical angles (degrees) of one joint over all frames of ``a`` ``[T, J, 3]``."""
    a[:, _J[joint], 0] = np.asarray(flex) * _DEG
    a[:, _J[joint], 1] = np.asarray(abd) * _DEG
    a[:, _J[joint], 2] = np.asarray(rot) * _DEG


def standing_angles(arm_abduction: float = 7.0, elbow: float = 10.0) -> np.ndarray:
    """``[J, 3]`` relaxed standing angles (rad): arms hanging slightly away from the body, legs straight."""
    a = np.zeros((1, N_JOINTS, 3))
    for side in ("left", "right"):
        _set(a, f"shoulder_{side}", 2.0, arm_abduction)
        _set(a, f"elbow_{side}", elbow)
        _set(a, f"knee_{side}", 2.0)
    return a[0]


def _root_matrix(angles_root: np.ndarray) -> np.ndarray:
    """``[T, 3]`` root anatomical angles (rad) -> ``[T, 3, 3]`` pelvis rotation (heading 0)."""
    return euler_xyz_to_matrix(angles_root * np.array([-1.0, -1.0, 1.0]))


def _stance_feet(body: BodyShape, toe_out: float = 6.0) -> tuple[np.ndarray, np.ndarray]:
    """Ankle positions ``[2, 3]`` (left, right) and foot rotations ``[2, 3, 3]`` of a person standing
    with the pelvis above the origin, feet under the hips turned out by ``toe_out`` degrees."""
    ank = np.stack([body.rest_joints[_J["ankle_left"]], body.rest_joints[_J["ankle_right"]]])
    ank = ank + np.array([0.0, 0.0, body.root_height])
    rots = np.stack([rot_z(toe_out * _DEG), rot_z(-toe_out * _DEG)])
    return ank, rots


def _plant_legs(
    body: BodyShape, a: np.ndarray, root: np.ndarray, ankles: np.ndarray, feet: np.ndarray
) -> np.ndarray:
    """Solve both legs so that the ankles ``[T, 2, 3]`` / feet ``[T, 2, 3, 3]`` are where wanted."""
    rr = _root_matrix(a[:, 0])
    for k, side in enumerate(("left", "right")):
        ik = body.leg_ik(side, root, rr, ankles[:, k], feet[:, k])
        a[:, _J[f"hip_{side}"]] = ik.hip
        a[:, _J[f"knee_{side}"], 0] = ik.knee
        a[:, _J[f"ankle_{side}"]] = ik.ankle
    return a


def _floor_lift(body: BodyShape, a: np.ndarray, root: np.ndarray, *, settle: bool = False) -> np.ndarray:
    """Root heights ``[T]`` raised so that no segment goes below the floor; with ``settle`` the body
    is also lowered until its lowest point touches the floor."""
    seg = body.pose(a, root, 0.0).segments
    low = seg.lowest_z().min(axis=1)
    z = root[:, 2].copy()
    return z - low if settle else z + np.maximum(-low, 0.0)


def _finish(
    body: BodyShape, times: np.ndarray, root: np.ndarray, a: np.ndarray, activity: Any, label: str,
    position: tuple[float, float], heading: float, meta: dict[str, Any],
) -> MotionClip:  # fmt: skip
    clip = MotionClip(body=body, times=times, root_position=root, heading=np.zeros(times.shape[0]), angles=a,
                      activity=activity, label=label, meta=meta)  # fmt: skip
    return clip.moved(offset=(position[0], position[1], 0.0), yaw=heading)


def _world_point(p: np.ndarray, position: tuple[float, float], heading: float) -> np.ndarray:
    c, s = np.cos(heading), np.sin(heading)
    return np.array([p[0] * c + p[1] * s + position[0], -p[0] * s + p[1] * c + position[1], p[2]])


def _idle(
    body: BodyShape, times: np.ndarray, rng: np.random.Generator, amount: float
) -> tuple[np.ndarray, np.ndarray]:
    """Standing with postural sway: root ``[T, 3]`` and angles ``[T, J, 3]`` (feet planted)."""
    t = times
    a = np.repeat(standing_angles()[None], t.shape[0], axis=0)
    root = np.zeros((t.shape[0], 3))
    root[:, 2] = body.root_height - 0.002
    root[:, :2] = smooth_noise(rng, t, 0.006 * amount, 2.5, (2,))
    _set(a, "lumbar", 1.0 + smooth_noise(rng, t, 1.0 * amount, 3.0), smooth_noise(rng, t, 0.6 * amount, 3.0))
    _set(a, "neck", smooth_noise(rng, t, 2.0 * amount, 2.0), 0.0, smooth_noise(rng, t, 4.0 * amount, 2.5))
    for side in ("left", "right"):
        _set(a, f"shoulder_{side}", 2.0 + smooth_noise(rng, t, 1.5 * amount, 2.0), 7.0)
        _set(a, f"elbow_{side}", 10.0 + smooth_noise(rng, t, 2.0 * amount, 2.0))
    ank, feet = _stance_feet(body)
    t_count = t.shape[0]
    a = _plant_legs(body, a, root, np.repeat(ank[None], t_count, 0), np.repeat(feet[None], t_count, 0))
    return root, a


# --------------------------------------------------------------------------------------------
# Standing and sitting
# --------------------------------------------------------------------------------------------


def stand(
    body: BodyShape,
    duration: float = 3.0,
    *,
    fps: float = 30.0,
    position: tuple[float, float] = (0.0, 3.0),
    heading: float = np.pi,
    rng: np.random.Generator | int | None = None,
    sway: float = 1.0,
) -> MotionClip:
    """Quiet standing with postural sway (pelvis ~6 mm sd over 2-3 s, trunk ~1 deg, head ~2-4 deg),
    feet planted. ``sway`` scales all fluctuations (0 = statue)."""
    g = as_rng(rng)
    times = frame_times(duration, fps)
    root, a = _idle(body, times, g, sway)
    return _finish(body, times, root, a, "standing", "stand", position, heading, {})


def _seated(
    body: BodyShape, chair_height: float, t_count: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """End pose of sitting on a chair, for a person whose standing pelvis was above the origin:
    root ``[3]``, angles ``[J, 3]`` (legs not yet solved), ankle targets ``[2, 3]``, feet ``[2, 3, 3]``."""
    h = body.height
    z_sit = chair_height + 0.055 * h  # hip-joint centre above the seat (ischial tuberosities + tissue)
    d_back = 0.85 * body.thigh_length
    root = np.array([0.0, -d_back, z_sit])
    a = standing_angles()[None].copy()
    _set(a, "pelvis", -6.0)
    _set(a, "lumbar", 8.0)
    _set(a, "spine_mid", 4.0)
    _set(a, "neck", -4.0)
    for side in ("left", "right"):
        _set(a, f"shoulder_{side}", 28.0, 10.0)
        _set(a, f"elbow_{side}", 55.0)
    ank, feet = _stance_feet(body)
    return root, a[0], ank, feet


def sit(
    body: BodyShape,
    duration: float = 3.0,
    *,
    chair_height: float = 0.45,
    fps: float = 30.0,
    position: tuple[float, float] = (0.0, 3.0),
    heading: float = np.pi,
    rng: np.random.Generator | int | None = None,
    sway: float = 1.0,
) -> MotionClip:
    """Sitting on a chair of seat height ``chair_height`` (m), hands resting on the thighs, feet on
    the floor. ``position`` is the pelvis floor point. ``meta["chair"]`` gives the seat centre
    (room frame, m), seat height and the chair's facing heading."""
    g = as_rng(rng)
    times = frame_times(duration, fps)
    t_count = times.shape[0]
    root0, a0, ank, feet = _seated(body, chair_height, t_count)
    shift = np.array([0.0, -root0[1], 0.0])  # pelvis above the origin
    a = np.repeat(a0[None], t_count, axis=0)
    a[:, _J["lumbar"], 0] += smooth_noise(g, times, 1.0 * sway, 3.0) * _DEG
    a[:, _J["neck"], 2] += smooth_noise(g, times, 4.0 * sway, 2.5) * _DEG
    root = np.repeat((root0 + shift)[None], t_count, axis=0)
    a = _plant_legs(body, a, root, np.repeat((ank + shift)[None], t_count, 0), np.repeat(feet[None], t_count, 0))
    seat = _world_point(np.array([0.0, -0.05, chair_height]), position, heading)
    meta = {"chair": {"seat_center": seat, "seat_height": chair_height, "heading": heading}}
    return _finish(body, times, root, a, "sitting", "sit", position, heading, meta)


def stand_to_sit(
    body: BodyShape,
    *,
    chair_height: float = 0.45,
    duration: float | None = None,
    pre: float = 0.5,
    post: float = 1.0,
    fps: float = 30.0,
    position: tuple[float, float] = (0.0, 3.0),
    heading: float = np.pi,
    rng: np.random.Generator | int | None = None,
) -> MotionClip:
    """Sitting down on a chair behind the person: ``pre`` s standing, the transition (``duration``
    s, drawn in 1.8-2.8 s if None; minimum-jerk pelvis path, trunk flexion peaking ~35 deg
    mid-way, feet planted), then ``post`` s seated. ``position`` is the standing pelvis floor
    point; ``meta`` gives ``chair`` (as :func:`sit`) and ``transition`` (start, end) times."""
    g = as_rng(rng)
    if duration is None:
        duration = float(g.uniform(1.8, 2.8))
    total = pre + duration + post
    times = frame_times(total, fps)
    t_count = times.shape[0]
    u = np.clip((times - pre) / duration, 0.0, 1.0)
    root_sit, a_sit, ank, feet = _seated(body, chair_height, t_count)
    root_stand = np.array([0.0, 0.0, body.root_height - 0.002])
    a_stand = standing_angles()
    # pelvis: goes back over most of the transition, down a little later
    s_back = min_jerk((u - 0.05) / 0.85)
    s_down = min_jerk((u - 0.2) / 0.8)
    root = np.empty((t_count, 3))
    root[:, :2] = root_stand[:2] + s_back[:, None] * (root_sit[:2] - root_stand[:2])
    root[:, 2] = root_stand[2] + s_down * (root_sit[2] - root_stand[2])
    s = min_jerk(u)
    a = a_stand[None] + s[:, None, None] * (a_sit - a_stand)[None]
    lean = 35.0 * np.sin(np.pi * np.clip(u / 0.85, 0, 1)) ** 2 * float(g.uniform(0.8, 1.2))
    a[:, _J["lumbar"], 0] += 0.55 * lean * _DEG
    a[:, _J["spine_mid"], 0] += 0.45 * lean * _DEG
    a[:, _J["neck"], 0] -= 0.5 * lean * _DEG
    for side in ("left", "right"):
        a[:, _J[f"shoulder_{side}"], 0] += 0.6 * lean * _DEG
    a = _plant_legs(body, a, root, np.repeat(ank[None], t_count, 0), np.repeat(feet[None], t_count, 0))
    activity = np.where(times < pre, "standing", np.where(times <= pre + duration, "sitting_down", "sitting"))
    seat = _world_point(np.array([0.0, root_sit[1] - 0.05, chair_height]), position, heading)
    meta = {"chair": {"seat_center": seat, "seat_height": chair_height, "heading": heading},
            "transition": (pre, pre + duration)}  # fmt: skip
    return _finish(body, times, root, a, activity, "stand_to_sit", position, heading, meta)


def sit_to_stand(
    body: BodyShape,
    *,
    chair_height: float = 0.45,
    duration: float | None = None,
    pre: float = 1.0,
    post: float = 0.5,
    fps: float = 30.0,
    position: tuple[float, float] = (0.0, 3.0),
    heading: float = np.pi,
    rng: np.random.Generator | int | None = None,
) -> MotionClip:
    """Standing up from a chair: the time reverse of :func:`stand_to_sit` (minimum-jerk profiles are
    symmetric). ``position`` is the pelvis floor point *after* standing up."""
    c = stand_to_sit(body, chair_height=chair_height, duration=duration, pre=post, post=pre, fps=fps,
                     position=position, heading=heading, rng=rng)  # fmt: skip
    act = c.activity[::-1].copy()
    act[act == "sitting_down"] = "standing_up"
    t0, t1 = c.meta["transition"]
    meta = dict(c.meta, transition=(c.times[-1] - t1, c.times[-1] - t0))
    return MotionClip(body=body, times=c.times, root_position=c.root_position[::-1], heading=c.heading[::-1],
                      angles=c.angles[::-1], activity=act, label="sit_to_stand", meta=meta)  # fmt: skip


# --------------------------------------------------------------------------------------------
# Lying and falls
# --------------------------------------------------------------------------------------------

_LYING_ROOT = {"back": (-90.0, 0.0), "front": (90.0, 0.0), "left": (0.0, 90.0), "right": (0.0, -90.0)}


def _lying_angles(side: str) -> np.ndarray:
    """``[J, 3]`` lying posture (rad) on ``side`` ("back", "front", "left", "right")."""
    a = standing_angles(arm_abduction=12.0, elbow=15.0)[None].copy()
    flex, lat = _LYING_ROOT[side]
    _set(a, "pelvis", flex, lat)
    for s in ("left", "right"):
        _set(a, f"knee_{s}", 8.0)
        _set(a, f"ankle_{s}", -25.0 if side == "back" else (-35.0 if side == "front" else -10.0))
    if side == "front":
        for s in ("left", "right"):
            _set(a, f"shoulder_{s}", -5.0, 20.0)
            _set(a, f"elbow_{s}", 5.0)
            _set(a, f"ankle_{s}", -65.0)  # toes pointing back along the floor
        _set(a, "neck", -15.0, 0.0, 60.0)  # face turned to the side
    elif side in ("left", "right"):
        down = side
        up = "right" if side == "left" else "left"
        _set(a, f"shoulder_{down}", 80.0, -5.0)
        _set(a, f"elbow_{down}", 40.0)
        _set(a, f"shoulder_{up}", 30.0, 5.0)
        _set(a, f"hip_{up}", 25.0, 0.0)
        _set(a, f"knee_{up}", 35.0)
        _set(a, f"hip_{down}", 10.0)
        _set(a, f"knee_{down}", 20.0)
    return a[0]


def lying(
    body: BodyShape,
    duration: float = 3.0,
    *,
    side: str = "back",
    fps: float = 30.0,
    position: tuple[float, float] = (0.0, 3.0),
    heading: float = np.pi,
    rng: np.random.Generator | int | None = None,
    motion: float = 1.0,
) -> MotionClip:
    """Lying on the floor on ``side`` ("back", "front", "left", "right"), pelvis above ``position``.

    ``heading`` is the heading the person had when standing: lying on the back the head points
    away from it (as after a backward fall), on the front towards it; lying on the left (right)
    side the head points to the former left (right). ``motion`` scales small limb and head
    fluctuations (0 = still)."""
    if side not in _LYING_ROOT:
        raise ValueError(f"side must be one of {tuple(_LYING_ROOT)}, got {side!r}")
    g = as_rng(rng)
    times = frame_times(duration, fps)
    t_count = times.shape[0]
    a = np.repeat(_lying_angles(side)[None], t_count, axis=0)
    for j in ("neck", "shoulder_left", "shoulder_right", "knee_left", "knee_right"):
        a[:, _J[j], 0] += smooth_noise(g, times, 1.5 * motion, 3.0) * _DEG
    root = np.zeros((t_count, 3))
    root[:, 2] = _floor_lift(body, a, root, settle=True)
    return _finish(body, times, root, a, "lying", f"lying_{side}", position, heading, {"side": side})


def _pendulum_time(theta0: float, omega0: float, theta_end: float, l_eff: float) -> float:
    """Time for an inverted pendulum ``theta'' = g/l sin(theta)`` to go from theta0 to theta_end."""
    dt = 1e-3
    th, om, t = theta0, omega0, 0.0
    while th < theta_end and t < 10.0:
        om += _G / l_eff * np.sin(th) * dt
        th += om * dt
        t += dt
    return t


def _pendulum_track(theta0: float, omega0: float, l_eff: float, times: np.ndarray) -> np.ndarray:
    dt = 1e-3
    n = int(np.ceil(times[-1] / dt)) + 2
    th = np.empty(n)
    th[0], om = theta0, omega0
    for k in range(1, n):
        om += _G / l_eff * np.sin(th[k - 1]) * dt
        th[k] = th[k - 1] + om * dt
    return np.interp(times, np.arange(n) * dt, th)


def fall(
    body: BodyShape,
    *,
    end: str = "lying",
    direction: str | None = None,
    duration: float | None = None,
    pre: float = 1.0,
    post: float = 2.0,
    fps: float = 30.0,
    position: tuple[float, float] = (0.0, 3.0),
    heading: float = np.pi,
    rng: np.random.Generator | int | None = None,
) -> MotionClip:
    """A fall from standing.

    Args:
        end: "lying" (tip-over about the feet, ending on the front/back/side) or "sitting" (the
            legs give way and the person lands sitting on the floor, sliding the feet forward).
        direction: one of ``FALL_DIRECTIONS`` for falls to lying (random if None); falls to
            sitting always go down and backwards.
        duration: onset-to-impact time (s), drawn in [0.6, 1.3] if None; must be in [0.4, 2].
        pre: seconds of standing before the onset. post: seconds after the impact (the first
            0.15-0.3 s settle with a damped rebound, then the person stays still).
        position, heading: standing pelvis floor point and facing direction.

    Returns:
        :class:`MotionClip` with activity "standing" / "falling" / "lying" or "sitting_floor";
        ``meta`` has ``fall_onset``, ``fall_impact`` (s), ``fall_duration``, ``end``, ``direction``,
        ``peak_pelvis_speed`` (m/s, downward).
    """
    g = as_rng(rng)
    if end not in ("lying", "sitting"):
        raise ValueError(f"end must be 'lying' or 'sitting', got {end!r}")
    if duration is None:
        duration = float(g.uniform(0.6, 1.3))
    if not 0.4 <= duration <= 2.0:
        raise ValueError(f"fall duration must be in [0.4, 2] s, got {duration}")
    if end == "sitting":
        direction = "backward"
    elif direction is None:
        direction = str(g.choice(FALL_DIRECTIONS))
    elif direction not in FALL_DIRECTIONS:
        raise ValueError(f"direction must be one of {FALL_DIRECTIONS}, got {direction!r}")
    times = frame_times(pre + duration + post, fps)
    t_count = times.shape[0]
    t0, t1 = pre, pre + duration
    root_idle, a_idle = _idle(body, times, g, 1.0)
    if end == "lying":
        root, a, settle = _fall_to_lying(body, times, t0, t1, direction, g)
    else:
        root, a, settle = _fall_to_sitting(body, times, t0, t1, g)
    before = times < t0
    root[before], a[before] = root_idle[before], a_idle[before]
    # blend the last idle pose into the fall over the first 0.15 s so that there is no jump
    blend = np.clip((times - t0) / 0.15, 0.0, 1.0)[:, None]
    i0 = max(int(np.searchsorted(times, t0)) - 1, 0)
    fall_part = ~before
    root[fall_part] += (1 - blend[fall_part]) * (root_idle[i0] - root[np.searchsorted(times, t0)])
    a[fall_part] += (1 - blend[fall_part, :, None]) * (a_idle[i0] - a[np.searchsorted(times, t0)])
    z_lift = _floor_lift(body, a, root)
    if end == "lying":
        # once settled the body rests on the floor: the pelvis stays put while the limbs relax
        t_rest = t1 + settle
        i_rest = min(int(np.searchsorted(times, t_rest)), t_count - 1)
        root[i_rest:, :2] = root[i_rest, :2]
        z_rest = _floor_lift(body, a, root, settle=True)
        w = np.clip((times - t_rest) / 0.2, 0.0, 1.0)
        root[:, 2] = (1 - w) * z_lift + w * z_rest
    else:
        root[:, 2] = z_lift
    fallen = "lying" if end == "lying" else "sitting_floor"
    activity = np.where(before, "standing", np.where(times < t1, "falling", fallen))
    vz = np.gradient(root[:, 2], times)
    meta = {
        "fall_onset": t0,
        "fall_impact": t1,
        "fall_duration": duration,
        "end": end,
        "direction": direction,
        "settle": settle,
        "peak_pelvis_speed": float(-vz.min()),
    }
    return _finish(body, times, root, a, activity, f"fall_{end}_{direction}", position, heading, meta)


def _fall_to_lying(
    body: BodyShape, times: np.ndarray, t0: float, t1: float, direction: str, g: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, float]:
    t_count = times.shape[0]
    duration = t1 - t0
    l_eff = 2.0 / 3.0 * body.height
    theta0 = 0.03
    theta_impact = np.radians(float(g.uniform(75.0, 82.0)))
    # initial angular velocity (push / trip strength) that makes the tip-over last `duration`
    lo, hi = 0.0, 8.0
    if _pendulum_time(theta0, 0.0, theta_impact, l_eff) < duration:
        theta0 = 0.005  # a slow start (e.g. fainting) for long falls
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        if _pendulum_time(theta0, mid, theta_impact, l_eff) > duration:
            lo = mid
        else:
            hi = mid
    omega0 = 0.5 * (lo + hi)
    tau = np.clip(times - t0, 0.0, None)
    theta = _pendulum_track(theta0, omega0, l_eff, np.minimum(tau, duration))
    settle = float(g.uniform(0.15, 0.3))
    final = np.pi / 2
    after = np.clip((times - t1) / settle, 0.0, 1.0)
    theta = np.where(times < t1, theta, theta_impact + min_jerk(after) * (final - theta_impact))
    # rebound: a small damped bounce of the body angle after the impact
    ta = np.clip(times - t1, 0.0, None)
    theta = theta - np.radians(2.5) * np.sin(2 * np.pi * 4.0 * ta) * np.exp(-ta / 0.1) * (times > t1)

    side = {"forward": "front", "backward": "back", "left": "left", "right": "right"}[direction]
    a_end = _lying_angles(side)
    a_start = standing_angles()
    # protective posture reached by the impact (minimum jerk over the fall), then relax to lying
    a_prot = a_start.copy()[None]
    k = float(g.uniform(0.7, 1.2))
    if direction == "forward":
        for s in ("left", "right"):
            _set(a_prot, f"shoulder_{s}", 120.0 * k, 20.0)
            _set(a_prot, f"elbow_{s}", 25.0)
            _set(a_prot, f"hip_{s}", 20.0 * k)
            _set(a_prot, f"knee_{s}", 30.0 * k)
        _set(a_prot, "lumbar", 15.0 * k)
        _set(a_prot, "neck", -25.0)
    elif direction == "backward":
        for s in ("left", "right"):
            _set(a_prot, f"shoulder_{s}", 20.0, 50.0 * k)
            _set(a_prot, f"elbow_{s}", 30.0)
            _set(a_prot, f"hip_{s}", 35.0 * k)
            _set(a_prot, f"knee_{s}", 35.0 * k)
        _set(a_prot, "lumbar", 10.0)
        _set(a_prot, "neck", 25.0)
    else:
        down, up = (direction, "right" if direction == "left" else "left")
        _set(a_prot, f"shoulder_{down}", 30.0, 80.0 * k)
        _set(a_prot, f"elbow_{down}", 20.0)
        _set(a_prot, f"shoulder_{up}", 20.0, 25.0)
        _set(a_prot, f"knee_{down}", 25.0 * k)
        _set(a_prot, f"knee_{up}", 15.0 * k)
        _set(a_prot, "lumbar", 5.0, -12.0 if direction == "left" else 12.0)
    a_prot = a_prot[0]
    s_in = min_jerk((times - t0) / duration)[:, None, None]
    s_out = min_jerk((times - t1 - 0.5 * settle) / 0.6)[:, None, None]
    a = a_start + s_in * (a_prot - a_start)
    a = a + s_out * (a_end - a)
    # whole-body tip: root flexion (forward/backward) or lateral lean (left/right)
    flex, lat = _LYING_ROOT[side]
    axis = 0 if flex != 0 else 1
    a[:, 0, axis] = np.sign(flex if flex != 0 else lat) * theta
    # pivot: toe line (forward), heel line (backward), outer edge of the foot (sideways)
    joints, _ = body.forward_kinematics(a, np.zeros((t_count, 3)), 0.0)
    if direction == "forward":
        q = 0.5 * (joints[:, _J["toe_left"]] + joints[:, _J["toe_right"]])
    elif direction == "backward":
        q = 0.5 * (joints[:, _J["heel_left"]] + joints[:, _J["heel_right"]])
    else:
        q = 0.5 * (joints[:, _J[f"heel_{direction}"]] + joints[:, _J[f"toe_{direction}"]])
    # q is in the pelvis-rotated frame already (FK used the fall rotation); keep the pivot fixed
    pivot0 = q[0] + np.array([0.0, 0.0, body.root_height])
    root = pivot0[None] - q
    return root, a, settle


def _fall_to_sitting(
    body: BodyShape, times: np.ndarray, t0: float, t1: float, g: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, float]:
    t_count = times.shape[0]
    duration = t1 - t0
    u = np.clip((times - t0) / duration, 0.0, 1.0)
    a_start = standing_angles()
    a_end = standing_angles()[None].copy()
    _set(a_end, "pelvis", -18.0)
    _set(a_end, "lumbar", 10.0)
    _set(a_end, "neck", 5.0)
    for s in ("left", "right"):
        _set(a_end, f"shoulder_{s}", -35.0, 20.0)
        _set(a_end, f"elbow_{s}", 15.0)
    a_end = a_end[0]
    a = a_start + min_jerk(u)[:, None, None] * (a_end - a_start)
    # trunk swings back during the descent and recovers after the impact
    swing = np.sin(np.pi * u) ** 2 * float(g.uniform(10.0, 20.0))
    a[:, _J["lumbar"], 0] -= swing * _DEG
    # final pelvis height: resting on the pelvis ellipsoid
    back = float(g.uniform(0.15, 0.35))
    reach = float(g.uniform(0.72, 0.85)) * body.leg_length
    ank0, feet0 = _stance_feet(body)
    probe_root = np.array([[0.0, -back, 0.0]])
    pel = body.pose(a_end[None], probe_root, 0.0).segments
    z_final = -float(pel.lowest_z()[0, list(pel.names).index("pelvis")]) + 0.005
    # descent: accelerating (ballistic-like) to the impact
    p = float(g.uniform(2.0, 2.6))
    root = np.zeros((t_count, 3))
    root[:, 2] = body.root_height - 0.002 + (u**p) * (z_final - body.root_height)
    root[:, 1] = -back * min_jerk(u)
    settle = float(g.uniform(0.15, 0.3))
    ta = np.clip(times - t1, 0.0, None)
    bounce = 0.012 * 0.5 * (1 - np.cos(2 * np.pi * 5.0 * ta)) * np.exp(-ta / 0.08) * (times > t1)
    root[:, 2] += bounce
    # feet slide forward on the floor, heels down with toes up at the end
    ankles = np.repeat(ank0[None], t_count, axis=0)
    fwd = min_jerk(u)
    hip_x = np.abs(ank0[:, 0])
    dz = root[:, 2] - body.ankle_height
    horiz = np.sqrt(np.maximum(reach**2 - np.minimum(dz, reach) ** 2, 0.0))
    ankles[:, :, 1] = (1 - fwd)[:, None] * ank0[None, :, 1] + fwd[:, None] * (root[:, 1] + horiz)[:, None]
    ankles[:, :, 0] = hip_x[None] * np.sign(ank0[None, :, 0])
    pitch = 25.0 * fwd * _DEG
    feet = np.einsum("tij,kjl->tkil", rot_x(pitch), feet0)
    heel_rest = body.offsets[_J["heel_left"]]
    lift = -(np.einsum("tkij,j->tki", feet, heel_rest)[..., 2]) - body.ankle_height
    ankles[:, :, 2] = body.ankle_height + lift
    a = _plant_legs(body, a, root, ankles, feet)
    return root, a, settle
