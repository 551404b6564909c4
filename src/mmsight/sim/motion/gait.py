"""Walking: a Boulic-style parametric walker with person identity and stance-foot anchoring.

Model (after Boulic, Magnenat-Thalmann & Thalmann 1990, "A global human walking model with real-time
kinematic personification", The Visual Computer 6:344-358):

* normalised speed ``RV = v / H_t`` with ``H_t`` the leg length (thigh + shank, 0.491 H);
* relative cycle (stride) length ``RL_c = 1.346 sqrt(RV)``, scaled by the person's
  ``stride_factor``; cycle duration ``D_c = RL_c H_t / v``; cadence ``120 / D_c`` steps/min;
* stance (support) duration ``D_s = 0.752 D_c - 0.143`` s fixes toe-off at ``D_s / D_c``;
* joint flexion curves of the cycle phase: hip, knee, ankle as periodic PCHIP curves through control
  points (Boulic's points, refined with normative sagittal gait data, Winter 1991); pelvis
  rotation ``4 RV`` deg, list and tilt; shoulder swing ``9.88 RV`` deg; left and right half a cycle
  apart.

The feet are planted first: the root trajectory is *derived from the feet* (at every instant the
lowest sole point of the supporting foot is pinned to the floor and the pelvis moves so that this
point does not slide; the leading heel is pinned by IK in double support), and the hip amplitude is
calibrated so that the stride produced by the legs equals the requested cycle length. That root
jerks at every hand-over between the feet, so it is then replaced by a smooth pelvis path (the
same mean progression; Boulic's fore-aft oscillation twice per cycle, slowest in mid single
support; the derived lateral sway low-passed; a vertical path as close to the legs' natural height
as a bounded acceleration allows), and the legs are re-solved by IK so that the feet keep their
trajectories: the knees (and, in late stance, the foot's pitch about the toes) absorb the
difference. The only remaining foot slip is the non-anchored foot during double support;
:func:`foot_slip` measures it.

Identity: :class:`GaitIdentity` holds a person's mean :class:`GaitParams` (speed, stride,
arm swing, trunk sway, asymmetries ...); :meth:`GaitIdentity.realize` draws the parameters of one
walk; :func:`walk` adds slow within-walk fluctuations of cadence and amplitude.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

import numpy as np
from scipy.interpolate import PchipInterpolator

from ..body import BodyShape
from ..skeleton import ANATOMICAL_SIGNS, JOINT_INDEX, N_JOINTS, euler_xyz_to_matrix, local_to_anatomical
from . import MotionClip, as_rng, frame_times, smooth_noise
from .routes import Route

__all__ = ["GaitIdentity", "GaitParams", "foot_slip", "gait_features", "walk"]

_DEG = np.pi / 180.0
_INTERNAL_RATE = 120.0  # Hz, rate of the anchoring integration

# Leg-phase control points (phase in cycles from this leg's heel strike, degrees), written for
# toe-off at 0.60 and time-warped to the realised duty factor.
_HIP_POINTS = ((0.0, 24.0), (0.12, 20.0), (0.30, 4.0), (0.50, -11.0), (0.60, -5.0), (0.72, 12.0),
               (0.87, 27.0))  # fmt: skip
_ANKLE_POINTS = ((0.0, 0.0), (0.07, -6.0), (0.42, 10.0), (0.60, -15.0), (0.68, -6.0), (0.78, 6.0),
                 (0.90, 3.0))  # fmt: skip


@dataclass(frozen=True)
class GaitParams:
    """Parameters of one walk. Angles in degrees, lengths in metres, speed in m/s.

    Ranges are those used by :meth:`GaitIdentity.sample`.
    """

    speed: float = 1.3  #: walking speed [0.9, 1.7]
    stride_factor: float = 1.0  #: cycle length relative to Boulic's 1.346 sqrt(RV) H_t [0.88, 1.12]
    arm_swing: float = 1.0  #: shoulder swing amplitude relative to Boulic's 9.88 RV deg [0.5, 1.7]
    arm_flexion: float = 0.0  #: offset of the mean shoulder flexion [-6, 6]
    arm_abduction: float = 9.0  #: mean shoulder abduction [5, 14]
    elbow_flexion: float = 18.0  #: elbow flexion at full back-swing [8, 35]
    elbow_gain: float = 0.45  #: extra elbow flexion per degree of forward swing [0.2, 0.7]
    trunk_lean: float = 4.0  #: forward trunk lean [0, 10]
    trunk_sway: float = 0.025  #: lateral pelvis sway amplitude [0.01, 0.04]
    trunk_bend: float = 1.5  #: lateral trunk bend amplitude over the stance leg [0, 4]
    pelvis_rotation: float = 1.0  #: pelvis rotation amplitude relative to Boulic's 4 RV deg [0.6, 1.5]
    pelvis_obliquity: float = 4.0  #: pelvic list amplitude [2, 6]
    knee_stance: float = 12.0  #: knee flexion peak in loading response [5, 18]
    knee_swing: float = 62.0  #: knee flexion peak in swing [55, 70]
    step_width: float = 0.09  #: lateral distance between the feet [0.05, 0.14]
    toe_out: float = 6.0  #: foot progression angle (external hip rotation) [0, 14]
    head_pitch: float = 3.0  #: head flexion (looking down) relative to level [-5, 12]
    arm_asymmetry: float = 0.0  #: left arm amplitude x (1 + a), right x (1 - a) [-0.25, 0.25]
    step_asymmetry: float = 0.0  #: left hip amplitude x (1 + a), right x (1 - a) [-0.04, 0.04]
    timing_asymmetry: float = 0.0  #: left-leg phase offset from a half cycle, cycles [-0.02, 0.02]

    def cycle(self, body: BodyShape) -> tuple[float, float, float]:
        """``(cycle_length m, cycle_duration s, cadence steps/min)`` for this body (Boulic)."""
        ht = body.leg_length
        rv = self.speed / ht
        if not 0.2 <= rv <= 3.0:
            raise ValueError(f"relative speed v/H_t = {rv:.2f} outside Boulic's valid range [0.2, 3]")
        length = 1.346 * np.sqrt(rv) * self.stride_factor * ht
        duration = length / self.speed
        return float(length), float(duration), float(120.0 / duration)

    def duty_factor(self, body: BodyShape) -> float:
        """Stance fraction of the cycle, Boulic's ``D_s / D_c = 0.752 - 0.143 / D_c``, clipped to [0.55, 0.7]."""
        _, dc, _ = self.cycle(body)
        return float(np.clip(0.752 - 0.143 / dc, 0.55, 0.70))

    def as_vector(self) -> np.ndarray:
        return np.array([getattr(self, f.name) for f in fields(self)], dtype=np.float64)


# (low, high) sampling ranges of an identity and the per-walk standard deviation of each field
_RANGES: dict[str, tuple[float, float, float]] = {
    "speed": (0.9, 1.7, 0.04),  # relative sd
    "stride_factor": (0.88, 1.12, 0.02),  # relative sd
    "arm_swing": (0.5, 1.7, 0.08),  # relative sd
    "arm_flexion": (-6.0, 6.0, 1.5),
    "arm_abduction": (5.0, 14.0, 1.0),
    "elbow_flexion": (8.0, 35.0, 2.5),
    "elbow_gain": (0.2, 0.7, 0.05),
    "trunk_lean": (0.0, 10.0, 1.0),
    "trunk_sway": (0.01, 0.04, 0.1),  # relative sd
    "trunk_bend": (0.0, 4.0, 0.4),
    "pelvis_rotation": (0.6, 1.5, 0.08),  # relative sd
    "pelvis_obliquity": (2.0, 6.0, 0.4),
    "knee_stance": (5.0, 18.0, 1.5),
    "knee_swing": (55.0, 70.0, 1.5),
    "step_width": (0.05, 0.14, 0.01),
    "toe_out": (0.0, 14.0, 1.5),
    "head_pitch": (-5.0, 12.0, 2.0),
    "arm_asymmetry": (-0.25, 0.25, 0.03),
    "step_asymmetry": (-0.04, 0.04, 0.005),
    "timing_asymmetry": (-0.02, 0.02, 0.003),
}
_RELATIVE_SD = {"speed", "stride_factor", "arm_swing", "trunk_sway", "pelvis_rotation"}


@dataclass(frozen=True)
class GaitIdentity:
    """A person's walking style: mean parameters plus how much they vary between walks.

    Attributes:
        mean: the person's typical :class:`GaitParams`.
        variability: scales the per-walk standard deviations (0 = every walk identical).
        name: optional identity label.
    """

    mean: GaitParams = GaitParams()
    variability: float = 1.0
    name: str = ""

    @classmethod
    def sample(
        cls,
        rng: np.random.Generator | int | None = None,
        *,
        speed_range: tuple[float, float] | None = None,
        variability: float = 1.0,
        name: str = "",
    ) -> GaitIdentity:
        """Draw an identity uniformly within the parameter ranges (documented on :class:`GaitParams`)."""
        g = as_rng(rng)
        vals = {k: float(g.uniform(lo, hi)) for k, (lo, hi, _) in _RANGES.items()}
        if speed_range is not None:
            vals["speed"] = float(g.uniform(*speed_range))
        return cls(mean=GaitParams(**vals), variability=variability, name=name)

    def realize(self, rng: np.random.Generator | int | None = None) -> GaitParams:
        """Parameters of one walk: the mean plus per-walk Gaussian deviations (clipped to the ranges)."""
        g = as_rng(rng)
        out = {}
        for f in fields(GaitParams):
            m = getattr(self.mean, f.name)
            lo, hi, sd = _RANGES[f.name]
            s = sd * abs(m) if f.name in _RELATIVE_SD else sd
            v = m + self.variability * s * g.standard_normal()
            out[f.name] = float(np.clip(v, min(lo, m), max(hi, m)))
        return GaitParams(**out)


# --------------------------------------------------------------------------------------------
# Curves
# --------------------------------------------------------------------------------------------


def _periodic_pchip(points: tuple[tuple[float, float], ...]) -> PchipInterpolator:
    p = np.array(points, dtype=np.float64)
    x = np.concatenate([p[:, 0] - 1.0, p[:, 0], p[:, 0] + 1.0])
    y = np.concatenate([p[:, 1]] * 3)
    return PchipInterpolator(x, y)


def _warp(p: np.ndarray, duty: float) -> np.ndarray:
    """Map a real leg phase to the control-point phase (toe-off at 0.6 in the control points)."""
    return np.where(p < duty, p * 0.6 / duty, 0.6 + (p - duty) * 0.4 / (1.0 - duty))


def _window(p: np.ndarray, a: float, b: float, c: float, d: float) -> np.ndarray:
    """Smooth 0 -> 1 on [a, b], 1 on [b, c], 1 -> 0 on [c, d]."""
    up = 0.5 - 0.5 * np.cos(np.pi * np.clip((p - a) / (b - a), 0, 1))
    down = 0.5 + 0.5 * np.cos(np.pi * np.clip((p - c) / (d - c), 0, 1))
    return np.where(p < c, up, down)


_HIP = _periodic_pchip(_HIP_POINTS)
_HIP_MEAN = float(np.mean(_HIP(np.linspace(0, 1, 400, endpoint=False))))
_ANKLE = _periodic_pchip(_ANKLE_POINTS)


def _knee_curve(stance: float, swing: float) -> PchipInterpolator:
    return _periodic_pchip(((0.0, 3.0), (0.15, stance), (0.40, 4.0), (0.60, 38.0), (0.73, swing),
                            (0.82, 0.72 * swing), (0.93, 10.0)))  # fmt: skip


def _gait_angles(
    params: GaitParams,
    body: BodyShape,
    phase: np.ndarray,
    hip_scale: float,
    amp: np.ndarray | float = 1.0,
    hip_offset: float = 0.0,
) -> np.ndarray:
    """Anatomical angles ``[T, J, 3]`` (rad) for cycle phase ``[T]`` (cycles, right heel strike at 0)."""
    t_count = phase.shape[0]
    a = np.zeros((t_count, N_JOINTS, 3))
    ht = body.leg_length
    rv = params.speed / ht
    duty = params.duty_factor(body)
    knee_c = _knee_curve(params.knee_stance, params.knee_swing)
    two_pi_phi = 2 * np.pi * phase

    # pelvis (root): tilt at twice the cycle rate, list and rotation at the cycle rate
    tilt = 1.5 * np.sin(2 * two_pi_phi)
    obliq = params.pelvis_obliquity * np.sin(two_pi_phi)  # left side drops in right stance
    prot = float(np.clip(4.0 * rv * params.pelvis_rotation, 0.0, 12.0)) * np.cos(two_pi_phi)
    a[:, 0] = np.stack([tilt, obliq, prot], axis=1) * _DEG
    pelvis_rot = euler_xyz_to_matrix(a[:, 0] * ANATOMICAL_SIGNS[0])

    sep = abs(body.rest_joints[JOINT_INDEX["hip_left"], 0] - body.rest_joints[JOINT_INDEX["hip_right"], 0])
    sway = params.trunk_sway * np.sin(two_pi_phi)  # pelvis towards +x (right) during right stance
    leg_v = 0.97 * ht

    for side, sgn in (("right", 1.0), ("left", -1.0)):
        if side == "right":
            p = np.mod(phase, 1.0)
            asym = 1.0 - params.step_asymmetry
        else:
            p = np.mod(phase - 0.5 - params.timing_asymmetry, 1.0)
            asym = 1.0 + params.step_asymmetry
        pw = _warp(p, duty)
        hip = _HIP_MEAN + hip_offset + hip_scale * asym * amp * (_HIP(pw) - _HIP_MEAN)
        knee = knee_c(pw)
        ankle = _ANKLE(pw)
        # keep the foot flat on the floor in mid-stance: ankle = -(thigh pitch - knee)
        w = _window(p, 0.06 * duty / 0.6, 0.12 * duty / 0.6, 0.38 * duty / 0.6, 0.45 * duty / 0.6)
        ankle = (1 - w) * ankle + w * (-(hip - knee))
        # lateral foot placement: feet at +-step_width/2 from the line of progression
        lateral = (params.step_width - sep) / 2.0 - sgn * sway  # + = away from the midline
        abd = np.degrees(np.arcsin(np.clip(lateral / leg_v, -0.5, 0.5)))
        # the curves describe the thigh relative to the walking frame; undo the pelvis rotation
        hi = JOINT_INDEX[f"hip_{side}"]
        want = np.stack([hip, abd, np.full(t_count, -params.toe_out)], axis=1) * _DEG
        local = np.swapaxes(pelvis_rot, -1, -2) @ euler_xyz_to_matrix(want * ANATOMICAL_SIGNS[hi])
        a[:, hi] = local_to_anatomical(local, hi)
        a[:, JOINT_INDEX[f"knee_{side}"], 0] = knee * _DEG
        a[:, JOINT_INDEX[f"ankle_{side}"], 0] = ankle * _DEG

    # trunk: lean, lateral bend over the stance leg, counter-rotation of the thorax
    lean = params.trunk_lean + 1.0 * np.sin(2 * two_pi_phi + 0.5)
    bend = -obliq - params.trunk_bend * np.sin(two_pi_phi)
    a[:, JOINT_INDEX["lumbar"]] = np.stack([0.6 * lean, 0.6 * bend, -0.6 * prot], axis=1) * _DEG
    a[:, JOINT_INDEX["spine_mid"]] = np.stack([0.4 * lean, 0.4 * bend, -0.6 * prot], axis=1) * _DEG
    a[:, JOINT_INDEX["spine_chest"], 2] = -0.5 * prot * _DEG
    # head: keep the gaze steady
    trunk_pitch = lean
    a[:, JOINT_INDEX["neck"]] = np.stack(
        [params.head_pitch - trunk_pitch - tilt, -(bend + obliq) * 0.8, 0.7 * prot], axis=1
    ) * _DEG

    # arms: opposite to the legs, lagging slightly
    arm_amp = 9.88 * rv * params.arm_swing
    arm_mean = 3.0 - 4.94 * rv + params.arm_flexion
    swing = np.cos(two_pi_phi - 2 * np.pi * 0.04)
    for side, sgn, asym in (("left", 1.0, 1 + params.arm_asymmetry), ("right", -1.0, 1 - params.arm_asymmetry)):
        sh = arm_mean + sgn * arm_amp * asym * swing
        elbow = params.elbow_flexion + params.elbow_gain * np.maximum(sh - (arm_mean - arm_amp * asym), 0.0)
        a[:, JOINT_INDEX[f"shoulder_{side}"]] = np.stack(
            [sh, np.full(t_count, params.arm_abduction), np.zeros(t_count)], axis=1
        ) * _DEG
        a[:, JOINT_INDEX[f"elbow_{side}"], 0] = elbow * _DEG
    return a


# --------------------------------------------------------------------------------------------
# Anchoring
# --------------------------------------------------------------------------------------------


def _leg_phases(phase: np.ndarray, timing_asymmetry: float) -> np.ndarray:
    """``[T, 2]`` (left, right) leg phases in [0, 1): cycles since that leg's heel strike."""
    return np.stack([np.mod(phase - 0.5 - timing_asymmetry, 1.0), np.mod(phase, 1.0)], axis=1)


def _double_support(duty: float, timing_asymmetry: float) -> np.ndarray:
    """``[2]`` (left, right) length in cycles of the double support that follows each leg's heel
    strike (until the other leg's toe-off)."""
    return np.maximum(np.array([duty - 0.5 - timing_asymmetry, duty - 0.5 + timing_asymmetry]), 1e-3)


def _support_weights(
    phase: np.ndarray, duty: float, timing_asymmetry: float = 0.0, *, hard: bool = False
) -> np.ndarray:
    """``[T, 2]`` (left, right) share of the body's support.

    Soft (default): 1 for the stance foot in single support and a smooth hand-over from the
    trailing to the leading foot during double support (the physical load share). Hard: the
    trailing foot keeps the whole share until its toe-off (used for anchoring the root).
    """
    lp = _leg_phases(phase, timing_asymmetry)
    ds = _double_support(duty, timing_asymmetry)[None, :]
    stance = lp < duty
    if hard:
        w = stance.astype(np.float64)
        both = stance.all(axis=1)
        trailing_left = lp[:, 0] > lp[:, 1]
        w[both, 0] = trailing_left[both]
        w[both, 1] = ~trailing_left[both]
        none = ~stance.any(axis=1)  # flight (not reached by walking parameters): nearest strike
        w[none, 0] = lp[none, 0] > lp[none, 1]
        w[none, 1] = ~(lp[none, 0] > lp[none, 1])
    else:
        ds_other = ds[:, ::-1]
        up = 0.5 - 0.5 * np.cos(np.pi * np.clip(lp / ds, 0, 1))
        down = 0.5 + 0.5 * np.cos(np.pi * np.clip((lp - (duty - ds_other)) / ds_other, 0, 1))
        w = np.where(lp < 0.5, up, np.where(stance, down, 0.0))
    return w / np.maximum(w.sum(axis=1, keepdims=True), 1e-9)


def _pin_leading_foot(
    body: BodyShape, angles: np.ndarray, root: np.ndarray, phase: np.ndarray, duty: float,
    timing_asymmetry: float, rate: float, ramp: float = 0.05, fade: float = 0.10,
) -> np.ndarray:
    """Keep the leading heel still on the floor during double support.

    The root is anchored to the trailing foot in double support; here the leading leg is re-solved
    by IK so that its heel stays where it touched down (on the floor). The correction is ramped in
    over ``ramp`` cycles of late swing and faded out over ``fade`` cycles of early stance (when the
    leading foot already carries the body, so the root re-anchoring absorbs it).
    """
    out = angles.copy()
    joints, rots = body.forward_kinematics(angles, root, 0.0, joints=_LEG_JOINTS)
    lp = _leg_phases(phase, timing_asymmetry)
    ds_all = _double_support(duty, timing_asymmetry)
    for k, side in enumerate(("left", "right")):
        ds = float(ds_all[k])
        hip_i, knee_i, ankle_i, heel_i = (JOINT_INDEX[f"{n}_{side}"] for n in ("hip", "knee", "ankle", "heel"))
        strikes = np.nonzero(np.diff(lp[:, k]) < -0.5)[0] + 1
        for h in strikes:
            lo = max(int(h - ramp * rate * _cycle_frames(phase, rate)), 0)
            hi = min(int(h + (ds + fade) * rate * _cycle_frames(phase, rate)) + 1, phase.shape[0])
            sel = np.arange(lo, hi)
            p = lp[sel, k]
            pre = sel < h
            # heel position at the exact strike time (between samples h-1 and h), put on the floor
            if h > 0:
                frac = (1.0 - lp[h - 1, k]) / (lp[h, k] + 1.0 - lp[h - 1, k])
                heel_hs = joints[h - 1, heel_i] + frac * (joints[h, heel_i] - joints[h - 1, heel_i])
            else:
                heel_hs = joints[h, heel_i]
            target_heel = heel_hs * np.array([1.0, 1.0, 0.0])
            shift = np.where(
                pre[:, None],
                _ramp_in(p, ramp)[:, None] * (target_heel - heel_hs),
                target_heel - joints[sel, heel_i],
            )
            foot = _no_toe_down(rots[sel, ankle_i], ~pre)
            # the heel is a child of the ankle: moving the ankle by `shift` and re-orienting the
            # foot about the heel keeps the heel at its target
            heel_off = rots[sel, ankle_i] @ body.offsets[heel_i]
            ankle_target = joints[sel, ankle_i] + shift + heel_off - foot @ body.offsets[heel_i]
            ik = body.leg_ik(side, root[sel], rots[sel, 0], ankle_target, foot,
                             pole=joints[sel, knee_i] - joints[sel, hip_i])  # fmt: skip
            c = np.where(pre | (p <= ds), 1.0, 1.0 - _smoothstep((p - ds) / fade))[:, None]
            out[sel, hip_i] = out[sel, hip_i] + c * (ik.hip - out[sel, hip_i])
            out[sel, knee_i, 0] = out[sel, knee_i, 0] + c[:, 0] * (ik.knee - out[sel, knee_i, 0])
            out[sel, ankle_i] = out[sel, ankle_i] + c * (ik.ankle - out[sel, ankle_i])
    return out


def _no_toe_down(foot: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Foot rotations ``[T, 3, 3]`` with any toe-down pitch removed where ``mask`` (rotation about
    the foot's own lateral axis), so that a foot pinned at the heel never pushes its toes into the
    floor."""
    out = foot.copy()
    fwd = foot[:, :, 1]
    pitch = np.arcsin(np.clip(fwd[:, 2], -1.0, 1.0))
    fix = mask & (pitch < 0)
    if np.any(fix):
        axis = foot[fix, :, 0]
        axis = axis / np.linalg.norm(axis, axis=1, keepdims=True)
        out[fix] = _axis_angle(axis, -pitch[fix]) @ foot[fix]
    return out


def _axis_angle(axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Rodrigues rotation matrices ``[N, 3, 3]`` about unit ``axis`` ``[N, 3]`` by ``angle`` ``[N]``."""
    k = np.zeros(axis.shape[:-1] + (3, 3))
    k[..., 0, 1], k[..., 0, 2], k[..., 1, 2] = -axis[..., 2], axis[..., 1], -axis[..., 0]
    k = k - np.swapaxes(k, -1, -2)
    s, c = np.sin(angle)[..., None, None], np.cos(angle)[..., None, None]
    return np.eye(3) + s * k + (1 - c) * (k @ k)


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def _ramp_in(p: np.ndarray, ramp: float) -> np.ndarray:
    """0 -> 1 over the last ``ramp`` cycles of swing (p close to 1)."""
    return _smoothstep((p - (1.0 - ramp)) / ramp)


def _cycle_frames(phase: np.ndarray, rate: float) -> float:
    """Mean cycle duration in seconds from a phase track sampled at ``rate`` Hz."""
    return (phase.shape[0] - 1) / rate / max(phase[-1] - phase[0], 1e-9)


# the joints the planting steps read (pelvis, hips, knees, ankles, soles): their forward kinematics only
_LEG_JOINTS = tuple(JOINT_INDEX[f"{n}_{s}"] for s in ("left", "right") for n in ("hip", "knee", "ankle", "heel", "foot", "toe"))


def _anchor(
    body: BodyShape, angles: np.ndarray, weights: np.ndarray, fk: list | None = None
) -> np.ndarray:
    """Root trajectory ``[T, 3]`` (treadmill frame, starting at x = y = 0) that keeps the supporting
    feet still and on the floor.

    Each foot's pinned point is its lowest sole point (heel, ball or toe); the root moves opposite
    to the support-weighted velocity of the pinned points, and its height puts the weighted pinned
    height on the floor. ``fk``: if given (a list), the root-free forward kinematics of ``angles``
    (joints, rotations) is appended to it for reuse.
    """
    t_count = angles.shape[0]
    joints, rots = body.forward_kinematics(angles, np.zeros((t_count, 3)), 0.0, joints=_LEG_JOINTS)
    if fk is not None:
        fk.append((joints, rots))
    soles = joints[:, body.foot_contact_points()].reshape(t_count, 2, 3, 3)  # [T, foot, point, xyz]
    low = np.argmin(soles[..., 2], axis=2)  # [T, 2]
    rows = np.arange(t_count - 1)[:, None]
    feet = np.arange(2)[None, :]
    step = soles[rows + 1, feet, low[:-1], :2] - soles[rows, feet, low[:-1], :2]  # [T-1, 2, 2]
    wm = 0.5 * (weights[:-1] + weights[1:])
    root = np.zeros((t_count, 3))
    root[1:, :2] = -np.cumsum(np.sum(wm[..., None] * step, axis=1), axis=0)
    z_low = soles[np.arange(t_count)[:, None], feet, low, 2]  # [T, 2]
    root[:, 2] = -np.sum(weights * z_low, axis=1)
    return root


def _lift_swing_feet(
    body: BodyShape, angles: np.ndarray, root: np.ndarray, weights: np.ndarray, phase: np.ndarray,
    duty: float, timing_asymmetry: float, clearance: float = 0.012,
    fk: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Raise swing feet that would touch the floor: where a foot carries no weight and its lowest
    sole point is below a clearance profile (0 at toe-off and heel strike, ``clearance`` m at
    mid-swing), re-solve that leg by IK with the ankle lifted by the deficit (foot orientation and
    knee direction kept). The root is not affected. ``fk``: the root-free forward kinematics of
    ``angles`` (from :func:`_anchor`), translated by ``root`` instead of being recomputed."""
    out = angles.copy()
    if fk is None:
        joints, rots = body.forward_kinematics(angles, root, 0.0, joints=_LEG_JOINTS)
    else:
        joints, rots = fk[0] + root[:, None, :], fk[1]
    soles = joints[:, body.foot_contact_points()].reshape(-1, 2, 3, 3)
    cycle_samples = (phase.shape[0] - 1) / max(phase[-1] - phase[0], 1e-9)
    for k, (side, offset) in enumerate((("left", 0.5 + timing_asymmetry), ("right", 0.0))):
        p = np.mod(phase - offset, 1.0)
        s = np.clip((p - duty) / (1.0 - duty), 0.0, 1.0)
        want = clearance * np.sin(np.pi * s)
        deficit = np.where((weights[:, k] < 1e-6) & (p >= duty), want - soles[:, k, :, 2].min(axis=1), 0.0)
        deficit = np.maximum(deficit, 0.0)
        if not np.any(deficit > 0):
            continue
        # smooth the correction in time so that the leg does not jerk
        width = max(int(round(0.04 * cycle_samples)), 1)
        kern = np.hanning(2 * width + 3)[1:-1]
        deficit = np.convolve(np.pad(deficit, width, mode="edge"), kern / kern.sum(), mode="valid")
        sel = np.nonzero(deficit > 1e-5)[0]
        hip_i, knee_i, ankle_i = (JOINT_INDEX[f"{n}_{side}"] for n in ("hip", "knee", "ankle"))
        target = joints[sel, ankle_i] + deficit[sel, None] * np.array([0.0, 0.0, 1.0])
        pole = joints[sel, knee_i] - joints[sel, hip_i]
        ik = body.leg_ik(side, root[sel], rots[sel, 0], target, rots[sel, ankle_i], pole=pole)
        out[sel, hip_i] = ik.hip
        out[sel, knee_i, 0] = ik.knee
        out[sel, ankle_i] = ik.ankle
    return out


def _plant_feet(
    body: BodyShape, params: GaitParams, angles: np.ndarray, phase: np.ndarray, rate: float
) -> tuple[np.ndarray, np.ndarray]:
    """Root trajectory and corrected angles: anchor on the trailing foot, pin the leading heel in
    double support, re-anchor, and lift swing feet clear of the floor."""
    duty = params.duty_factor(body)
    ta = params.timing_asymmetry
    hard = _support_weights(phase, duty, ta, hard=True)
    fk: list = []  # each anchoring's forward kinematics, reused by the following lift
    root = _anchor(body, angles, hard, fk)
    angles = _lift_swing_feet(body, angles, root, hard, phase, duty, ta, fk=fk.pop())
    angles = _pin_leading_foot(body, angles, root, phase, duty, ta, rate)
    root = _anchor(body, angles, hard, fk)
    angles = _lift_swing_feet(body, angles, root, hard, phase, duty, ta, fk=fk.pop())
    return angles, root


def _calibrate_hip(params: GaitParams, body: BodyShape, target: float) -> tuple[float, float]:
    """Hip-curve ``(scale, offset_deg)`` for which (a) one cycle of anchored walking advances
    ``target`` metres and (b) at heel strike the leading heel and the trailing sole are at the same
    height (both feet on the floor in double support). Newton iterations with a numerical Jacobian."""
    sym = replace(params, step_asymmetry=0.0, timing_asymmetry=0.0)
    _, cycle_dur, _ = sym.cycle(body)
    n = int(round(cycle_dur * _INTERNAL_RATE))  # samples per cycle, as in `walk`
    rate = n / cycle_dur
    # the cycle from phase 1 to 2 is measured; every step of the planting is local in time (the root is
    # a running sum of foot steps, the swing and pin corrections act within a fraction of a cycle), so
    # half a cycle before it and a tenth after give the same advance and heights as a three-cycle
    # track from phase 0 (to ~1e-13, tested) at a third of the cost
    k0 = n // 2
    phase = np.arange(k0, 2 * n + max(n // 10, 2) + 1) / n
    feet = body.foot_contact_points().reshape(2, 3)
    mid = int(round(0.5 * _double_support(sym.duty_factor(body), 0.0)[1] * n))

    def residual(x: np.ndarray) -> np.ndarray:
        ang = _gait_angles(sym, body, phase, float(x[0]), 1.0, float(x[1]))
        j, _ = body.forward_kinematics(ang[[n + mid - k0]], np.zeros(3), 0.0)
        _, root = _plant_feet(body, sym, ang, phase, rate)
        lead = j[0, feet[1], 2].min()  # right foot in the middle of double support
        trail = j[0, feet[0], 2].min()
        adv = float(np.hypot(*(root[2 * n - k0, :2] - root[n - k0, :2])))
        return np.array([(adv - target) / target, (lead - trail) / body.leg_length])

    x = np.array([1.0, -6.0])
    r = residual(x)
    for _ in range(8):
        if np.max(np.abs(r)) < 2e-4:
            break
        jac = np.empty((2, 2))
        for k, h in enumerate((0.02, 0.5)):
            dx = np.zeros(2)
            dx[k] = h
            jac[:, k] = (residual(x + dx) - r) / h
        step = np.linalg.lstsq(jac, -r, rcond=None)[0]
        x = np.clip(x + step, [0.4, -25.0], [2.5, 15.0])
        r = residual(x)
    return float(x[0]), float(x[1])


# --------------------------------------------------------------------------------------------
# Smooth pelvis
# --------------------------------------------------------------------------------------------

_PELVIS_LAT_HARMONICS = 2  # harmonics of the stride kept in the lateral sway
_PELVIS_Z_HARMONICS = 12  # harmonics of the stride available to the vertical path
_PELVIS_Z_ACCEL = 3.0  # m/s^2, bound on the vertical pelvis acceleration
_PELVIS_SPEED_SWING = 0.18  # cap on the forward speed oscillation, fraction of the mean speed
_PELVIS_FWD_ACCEL = 3.0  # m/s^2, cap on the forward acceleration of that oscillation
_Z_BINS = 240  # phase bins of the vertical-path programme
_KNEE_MIN = 1.0 * _DEG  # least knee flexion the re-solved legs may need
_HEEL_RISE_MAX = 25.0 * _DEG  # most extra heel rise (foot pitch about the toes) a leg in late stance may use


def _cycle_average(x: np.ndarray, phase: np.ndarray, width: float) -> np.ndarray:
    """Centred moving average of ``x`` ``[T, d]`` over ``width`` cycles of gait phase (windows are
    clipped at the ends of the track)."""
    dp = np.diff(phase)[:, None]
    c = np.concatenate([np.zeros((1, x.shape[1])), np.cumsum(0.5 * (x[1:] + x[:-1]) * dp, axis=0)])
    lo = np.clip(phase - width / 2, phase[0], phase[-1])
    hi = np.clip(phase + width / 2, phase[0], phase[-1])
    out = np.stack([np.interp(hi, phase, c[:, k]) - np.interp(lo, phase, c[:, k]) for k in range(x.shape[1])], 1)
    return out / np.maximum(hi - lo, 1e-12)[:, None]


def _harmonics(phase: np.ndarray, kmax: int, order: int = 0) -> np.ndarray:
    """``[T, 2 kmax + 1]`` basis 1, cos(2 pi k phase), sin(2 pi k phase), k = 1..kmax, or its
    ``order``-th derivative with respect to the phase (order 0, 1 or 2)."""
    cols = [np.full_like(phase, 1.0 if order == 0 else 0.0)]
    for k in range(1, kmax + 1):
        w = 2 * np.pi * k
        c, s = np.cos(w * phase), np.sin(w * phase)
        cols += [(c, -w * s, -w * w * c)[order], (s, w * c, -w * w * s)[order]]
    return np.stack(cols, axis=1)


def _forward_oscillation(params: GaitParams, body: BodyShape) -> float:
    """Amplitude (m) of the pelvis' fore-aft oscillation about steady progression, twice per cycle.

    Boulic et al. (1990): ``0.021 H_t`` for ``RV >= 0.5`` (``0.084 RV (1 - RV) H_t`` below), capped
    so that the forward speed swings by at most ``_PELVIS_SPEED_SWING`` of the mean speed and the
    forward acceleration stays below ``_PELVIS_FWD_ACCEL``.
    """
    ht = body.leg_length
    rv = params.speed / ht
    amp = (0.021 if rv >= 0.5 else 0.084 * rv * (1.0 - rv)) * ht
    _, dc, _ = params.cycle(body)
    omega = 4 * np.pi / dc
    return float(min(amp, _PELVIS_SPEED_SWING * params.speed / omega, _PELVIS_FWD_ACCEL / omega**2))


def _reach_heights(
    body: BodyShape, ankles: np.ndarray, rots: np.ndarray, xy: np.ndarray, knee: np.ndarray | float
) -> np.ndarray:
    """``[T, 2]`` (left, right) root heights at which each leg reaches its ankle target ``ankles``
    ``[T, 2, 3]`` with knee flexion ``knee`` (rad, scalar or ``[T, 2]``) when the root is at ``xy``
    ``[T, 2]`` and the pelvis has the rotation ``rots[:, 0]``. Targets out of horizontal reach give
    the ankle's height."""
    out = np.empty((ankles.shape[0], 2))
    knee = np.broadcast_to(np.asarray(knee, dtype=np.float64), out.shape)
    for k, side in enumerate(("left", "right")):
        hip_i, knee_i, ankle_i = (JOINT_INDEX[f"{n}_{side}"] for n in ("hip", "knee", "ankle"))
        l1, l2 = np.linalg.norm(body.offsets[knee_i]), np.linalg.norm(body.offsets[ankle_i])
        hip_off = rots[:, 0] @ body.offsets[hip_i]
        d2 = np.sum((ankles[:, k, :2] - xy - hip_off[:, :2]) ** 2, axis=1)
        reach2 = l1**2 + l2**2 + 2 * l1 * l2 * np.cos(knee[:, k])
        out[:, k] = ankles[:, k, 2] + np.sqrt(np.maximum(reach2 - d2, 0.0)) - hip_off[:, 2]
    return out


def _heel_rise(
    joints: np.ndarray, rots: np.ndarray, side: str, theta: np.ndarray | float
) -> tuple[np.ndarray, np.ndarray]:
    """Ankle positions ``[T, 3]`` and foot rotations ``[T, 3, 3]`` after pitching each foot toes-down
    (heel up) by ``theta`` (rad) about the tip of its toes, which stays in place."""
    ankle_i, toe_i = JOINT_INDEX[f"ankle_{side}"], JOINT_INDEX[f"toe_{side}"]
    foot = rots[:, ankle_i]
    theta = np.broadcast_to(np.asarray(theta, dtype=np.float64), (foot.shape[0],))
    r = _axis_angle(foot[:, :, 0], -theta)
    toe = joints[:, toe_i]
    return toe + np.einsum("tij,tj->ti", r, joints[:, ankle_i] - toe), r @ foot


def _solve_heel_rise(
    joints: np.ndarray, rots: np.ndarray, side: str, hip: np.ndarray, dist: np.ndarray | float,
    lo: np.ndarray, hi: float,
) -> np.ndarray:
    """``[T]`` heel rise (rad, see :func:`_heel_rise`) in ``[lo, hi]`` that puts the ankle at
    ``dist`` from ``hip`` ``[T, 3]`` (bisection; the bound nearest to it if out of range).

    The pitched ankle is ``toe + R(a, -theta) v`` (``v`` = ankle - toe, ``a`` the foot's x axis), so its
    squared distance from the hip is ``|w|^2 + |v|^2 + 2 (P - Q sin(theta) + U (1 - cos(theta)))``
    with ``w`` = toe - hip, ``P = w.v``, ``Q = w.(a x v)``, ``U = w.(a x (a x v))`` (Rodrigues): each
    bisection step evaluates that instead of building the rotations."""
    ankle_i, toe_i = JOINT_INDEX[f"ankle_{side}"], JOINT_INDEX[f"toe_{side}"]
    axis = rots[:, ankle_i, :, 0]
    toe = joints[:, toe_i]
    v = joints[:, ankle_i] - toe
    w = toe - hip
    av = np.cross(axis, v)
    p_wv = np.einsum("ti,ti->t", w, v)
    q_w = np.einsum("ti,ti->t", w, av)
    u_w = np.einsum("ti,ti->t", w, np.cross(axis, av))
    base = np.einsum("ti,ti->t", w, w) + np.einsum("ti,ti->t", v, v) + 2.0 * p_wv
    target2 = np.broadcast_to(np.asarray(dist, dtype=np.float64), base.shape) ** 2
    a, b = np.array(lo, dtype=np.float64), np.full(joints.shape[0], hi)
    for _ in range(24):
        mid = 0.5 * (a + b)
        far = base + 2.0 * (u_w * (1.0 - np.cos(mid)) - q_w * np.sin(mid)) > target2
        a, b = np.where(far, mid, a), np.where(far, b, mid)
    return 0.5 * (a + b)


def _smooth_pelvis(
    body: BodyShape, params: GaitParams, angles: np.ndarray, root: np.ndarray, phase: np.ndarray,
    rate: float, valid: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    """Replace the foot-derived root by a smooth pelvis path and re-solve both legs by IK so that
    the feet keep their trajectories (planted, pinned, lifted); in late stance the foot may also
    pitch about the tip of its toes (heel up or down).

    The foot-derived root (:func:`_anchor`) jerks at every hand-over between the feet: its forward
    speed swings by -80/+70 % of the mean within a step. Here:

    * progression: the derived root averaged over one cycle, then half a cycle (same mean speed
      and heading, no within-cycle content);
    * fore-aft: a sinusoid twice per cycle with Boulic's amplitude (:func:`_forward_oscillation`),
      slowest in mid single support and fastest in double support (braking after heel strike,
      propulsion before toe-off);
    * lateral: the derived sway reduced to its first ``_PELVIS_LAT_HARMONICS`` stride harmonics;
    * vertical: stride harmonics up to ``_PELVIS_Z_HARMONICS`` from a linear programme: as close
      (L1) as possible to the height the authored knee flexion of the leg in loading response or
      mid-stance gives, never higher than a leg with ``_KNEE_MIN`` knee flexion reaches (a leg past
      mid-stance may also lift its heel by up to ``_HEEL_RISE_MAX``), vertical acceleration below
      ``_PELVIS_Z_ACCEL``.

    The legs absorb the difference by IK (hip, knee, ankle; foot pose and thigh twist kept), i.e.
    mostly by knee flexion. A leg past mid-stance instead pitches its foot about the tip of the
    toes, so as to keep the knee flexion of the joint curves (heel down to flat at most), and at
    least as much as it needs to reach the foot at all (heel rise); the pitch is smoothed in time.
    ``valid`` ``[T]`` marks the samples whose averaging windows lie inside the track; the fits use
    only those. Returns angles, root and diagnostics (``reach_error`` m, the largest distance by
    which an ankle target was out of reach; knee change against the planted-feet solution in
    stance, deg; extreme foot pitch changes, deg).
    """
    from numpy.lib.stride_tricks import sliding_window_view
    from scipy.optimize import linprog
    from scipy.sparse import csr_matrix, hstack, identity, vstack

    duty = params.duty_factor(body)
    t_count = phase.shape[0]
    sides = ("left", "right")
    trend = _cycle_average(_cycle_average(root[:, :2], phase, 1.0), phase, 0.5)
    tv = np.gradient(trend, axis=0)
    fwd = tv / np.maximum(np.linalg.norm(tv, axis=1, keepdims=True), 1e-12)
    lat = np.stack([fwd[:, 1], -fwd[:, 0]], axis=1)  # +x for a walk along +y
    res = root[:, :2] - trend
    b_lat = _harmonics(phase, _PELVIS_LAT_HARMONICS)
    c_lat = np.linalg.lstsq(b_lat[valid], np.sum(res * lat, axis=1)[valid], rcond=None)[0]
    sway = b_lat @ c_lat
    # slowest in mid single support: cycle phase duty / 2 (between the left toe-off at duty - 0.5
    # and the left heel strike at 0.5), and half a cycle later
    surge = -_forward_oscillation(params, body) * np.sin(4 * np.pi * (phase - duty / 2))
    xy = trend + fwd * surge[:, None] + lat * sway[:, None]

    # vertical path
    joints, rots = body.forward_kinematics(angles, root, 0.0, joints=_LEG_JOINTS)
    ankles = joints[:, [JOINT_INDEX["ankle_left"], JOINT_INDEX["ankle_right"]]]
    knees = angles[:, [JOINT_INDEX["knee_left"], JOINT_INDEX["knee_right"]], 0]
    lp = _leg_phases(phase, params.timing_asymmetry)
    # the knee flexion of the joint curves (before the feet were planted)
    authored_knee = _knee_curve(params.knee_stance, params.knee_swing)(_warp(lp, duty)) * _DEG
    stance = lp < duty
    early = (stance & (lp < duty / 2)) | (lp > 0.95)  # heel strike, loading response, mid-stance
    late = stance & ~early  # may lift the heel
    raised = np.stack([_heel_rise(joints, rots, s, _HEEL_RISE_MAX)[0] for s in sides], axis=1)
    highest = np.where(
        late, _reach_heights(body, raised, rots, xy, _KNEE_MIN), _reach_heights(body, ankles, rots, xy, _KNEE_MIN)
    ).min(axis=1)
    authored = _reach_heights(body, ankles, rots, xy, authored_knee)
    wanted = np.where(early, authored, np.inf).min(axis=1)
    # The path is periodic in the phase, so the programme is posed on phase bins (its size does not
    # grow with the walk's duration): per bin, the height bound of its most limiting sample, the
    # mean wanted height (weighted by the number of samples), and the acceleration at the fastest
    # phase rate.
    idx = np.nonzero(valid)[0]
    bins = np.minimum((np.mod(phase[idx], 1.0) * _Z_BINS).astype(int), _Z_BINS - 1)
    order = np.lexsort((highest[idx], bins))
    cons = idx[order[np.r_[True, np.diff(bins[order]) != 0]]]
    has = np.isfinite(wanted[idx])
    count = np.bincount(bins[has], minlength=_Z_BINS)
    used = count > 0
    target = np.bincount(bins[has], wanted[idx][has], minlength=_Z_BINS)[used] / count[used]
    p_obj = np.bincount(bins[has], np.mod(phase[idx], 1.0)[has], minlength=_Z_BINS)[used] / count[used]
    p_acc = (np.arange(_Z_BINS) + 0.5) / _Z_BINS
    rate_max = float(np.max(np.gradient(phase)[idx])) * rate  # cycles per second
    b_obj = _harmonics(p_obj, _PELVIS_Z_HARMONICS)
    b_con = _harmonics(phase[cons], _PELVIS_Z_HARMONICS)
    b_acc = _harmonics(p_acc, _PELVIS_Z_HARMONICS, 2) * rate_max**2
    k, nc = b_obj.shape
    eye = identity(k, format="csr")
    a_ub = vstack([
        hstack([csr_matrix(b_obj), -eye]), hstack([csr_matrix(-b_obj), -eye]),  # |z - wanted| <= s
        hstack([csr_matrix(b_con), csr_matrix((cons.size, k))]),  # z <= highest - margin
        hstack([csr_matrix(b_acc), csr_matrix((_Z_BINS, k))]),  # |z''| <= bound
        hstack([csr_matrix(-b_acc), csr_matrix((_Z_BINS, k))]),
    ]).tocsr()  # fmt: skip
    b_ub = np.concatenate([target, -target, highest[cons] - 1.5e-3, np.full(2 * _Z_BINS, _PELVIS_Z_ACCEL)])
    cost = np.concatenate([np.zeros(nc), count[used] / count.sum()])
    bounds = [(None, None)] * nc + [(0, None)] * k
    sol = linprog(cost, A_ub=a_ub, b_ub=b_ub, bounds=bounds, method="highs")
    if sol.status == 0:
        z = _harmonics(phase, _PELVIS_Z_HARMONICS) @ sol.x[:nc]
    else:  # not expected: a constant height that the legs reach everywhere
        z = np.full(t_count, float(np.min(highest[idx])) - 1.5e-3)
    new_root = np.concatenate([xy, z[:, None]], axis=1)

    # legs
    out = angles.copy()
    reach_error = np.zeros(t_count)
    heel = np.zeros((t_count, 2))
    cycle_samples = rate * _cycle_frames(phase, rate)
    width = max(int(round(0.04 * cycle_samples)), 1)
    kern = np.hanning(2 * width + 3)[1:-1]
    kern /= kern.sum()

    def smooth(x: np.ndarray) -> np.ndarray:
        return np.convolve(np.pad(x, width, mode="edge"), kern, mode="valid")

    for k_side, side in enumerate(sides):
        hip_i, knee_i, ankle_i = (JOINT_INDEX[f"{n}_{side}"] for n in ("hip", "knee", "ankle"))
        l1, l2 = np.linalg.norm(body.offsets[knee_i]), np.linalg.norm(body.offsets[ankle_i])
        reach = np.sqrt(l1**2 + l2**2 + 2 * l1 * l2 * np.cos(_KNEE_MIN))
        hip = new_root + rots[:, 0] @ body.offsets[hip_i]
        # late stance: the foot's pitch about the toes takes up the change of the hip-ankle
        # distance, so that the knee keeps the flexion of its curve (heel down to flat at most, up
        # by _HEEL_RISE_MAX at most), and the heel rises at least as much as needed to reach the
        # foot with a straight knee. Both smoothed in time (the second after a dilation, so that
        # it stays sufficient).
        lk = late[:, k_side]
        pitch = np.arcsin(np.clip(rots[:, ankle_i, 2, 1], -1.0, 1.0))  # > 0: toes up
        flat = np.where(lk, np.minimum(pitch, 0.0), 0.0)  # pitch change that lays the foot flat
        d_auth = np.sqrt(l1**2 + l2**2 + 2 * l1 * l2 * np.cos(authored_knee[:, k_side]))
        theta_auth = np.where(lk, _solve_heel_rise(joints, rots, side, hip, d_auth, flat, _HEEL_RISE_MAX), 0.0)
        theta_reach = np.where(lk, _solve_heel_rise(joints, rots, side, hip, reach, flat, _HEEL_RISE_MAX), -1.0)
        theta_reach = np.max(sliding_window_view(np.pad(theta_reach, width, mode="edge"), 2 * width + 1), axis=1)
        heel[:, k_side] = np.maximum.reduce([smooth(theta_auth), smooth(theta_reach), flat])
        ankle, foot = _heel_rise(joints, rots, side, heel[:, k_side])
        ik = body.leg_ik(side, new_root, rots[:, 0], ankle, foot, pole=rots[:, hip_i, :, 1])
        out[:, hip_i] = ik.hip
        out[:, knee_i, 0] = ik.knee
        out[:, ankle_i] = ik.ankle
        reach_error = np.maximum(reach_error, ik.reach_error)
    dknee = out[:, [JOINT_INDEX["knee_left"], JOINT_INDEX["knee_right"]], 0] - knees
    dknee = np.degrees(dknee[valid][stance[valid]])
    info = {
        "reach_error": float(reach_error[valid].max()),
        "knee_change_mean_deg": float(np.mean(dknee)),
        "knee_change_max_deg": float(np.max(np.abs(dknee))),
        "heel_rise_max_deg": float(np.degrees(heel[valid].max())),
        "heel_drop_max_deg": float(-np.degrees(heel[valid].min())),
        "lp_status": int(sol.status),
    }
    return out, new_root, info


# --------------------------------------------------------------------------------------------
# Walk
# --------------------------------------------------------------------------------------------


def walk(
    body: BodyShape,
    params: GaitParams | GaitIdentity | None = None,
    route: Route | None = None,
    *,
    duration: float | None = None,
    fps: float = 30.0,
    rng: np.random.Generator | int | None = None,
    start_phase: float | None = None,
    fluctuation: float = 1.0,
) -> MotionClip:
    """A straight walk.

    Args:
        body: the walker.
        params: one walk's :class:`GaitParams`; a :class:`GaitIdentity` is realised with ``rng``;
            None = default parameters.
        route: walk along this route (pelvis starts above ``route.start``); the duration is the
            route length divided by the speed unless ``duration`` is given. Without a route the
            walk starts at the room origin heading along +y.
        duration: seconds (default 5 s without a route).
        fps: output frame rate (Hz).
        rng: randomness for the identity realisation, the start phase and the fluctuations.
        start_phase: gait phase at t = 0 in cycles (0 = right heel strike); random if None.
        fluctuation: scales the within-walk fluctuations of cadence (1 % sd) and amplitude (1.5 %).

    Returns:
        :class:`MotionClip` labelled "walk"; ``meta`` holds ``params`` (dict), ``cycle_length``
        (m), ``cycle_duration`` (s), ``cadence`` (steps/min), ``duty_factor``, ``hip_scale``,
        ``forward_oscillation`` (m, amplitude of the pelvis' fore-aft oscillation twice per cycle),
        ``phase`` ``[T]`` (cycles), ``support`` ``[T, 2]`` (left/right share of the body weight),
        ``route`` and ``identity`` (name) when given.
    """
    g = as_rng(rng)
    identity_name = None
    if isinstance(params, GaitIdentity):
        identity_name = params.name
        params = params.realize(g)
    elif params is None:
        params = GaitParams()
    length, cycle_dur, cadence = params.cycle(body)
    if duration is None:
        duration = route.length / params.speed if route is not None else 5.0
    phi0 = float(g.uniform(0, 1)) if start_phase is None else float(start_phase)
    hip_scale, hip_offset = _calibrate_hip(params, body, length)

    # internal high-rate grid with a margin at both ends
    # (the lead-in of more than a cycle lets the first double supports be planted properly)
    # (and of a cycle at the end, for the cycle averages of the smooth pelvis path)
    t_int = np.arange(-(cycle_dur + 0.2), duration + cycle_dur + 0.2 + 1.0 / _INTERNAL_RATE, 1.0 / _INTERNAL_RATE)
    rate_noise = smooth_noise(g, t_int, 0.01 * fluctuation, 2.0 * cycle_dur)
    amp_noise = 1.0 + smooth_noise(g, t_int, 0.015 * fluctuation, 2.0 * cycle_dur)
    dphi = (1.0 + rate_noise) / cycle_dur / _INTERNAL_RATE
    phase = np.concatenate([[0.0], np.cumsum(dphi[:-1])])
    phase += phi0 - np.interp(0.0, t_int, phase)
    angles = _gait_angles(params, body, phase, hip_scale, amp_noise, hip_offset)
    weights = _support_weights(phase, params.duty_factor(body), params.timing_asymmetry)
    angles, root = _plant_feet(body, params, angles, phase, _INTERNAL_RATE)
    # smooth pelvis path, legs re-solved (samples whose cycle averages are complete)
    valid = (phase >= phase[0] + 0.75) & (phase <= phase[-1] - 0.75)
    angles, root, _ = _smooth_pelvis(body, params, angles, root, phase, _INTERNAL_RATE, valid)

    # straighten: make the net displacement point along +y (tiny crab angle of the body instead)
    i0, i1 = np.searchsorted(t_int, [0.0, duration])
    net = root[i1, :2] - root[i0, :2]
    crab = float(np.arctan2(net[0], net[1]))  # heading-style angle of the net displacement
    c, s = np.cos(crab), np.sin(crab)
    rot = np.array([[c, -s], [s, c]])  # rotates heading-angle `crab` back to 0
    root[:, :2] = root[:, :2] @ rot.T
    body_heading = -crab

    # output frames
    times = frame_times(duration, fps)
    out_root = np.stack([np.interp(times, t_int, root[:, k]) for k in range(3)], axis=1)
    flat = angles.reshape(angles.shape[0], -1)
    out_angles = np.stack([np.interp(times, t_int, flat[:, k]) for k in range(flat.shape[1])], axis=1)
    out_angles = out_angles.reshape(times.shape[0], N_JOINTS, 3)
    out_phase = np.interp(times, t_int, phase)
    out_support = np.stack([np.interp(times, t_int, weights[:, k]) for k in range(2)], axis=1)

    # place in the room
    walk_heading = route.heading if route is not None else 0.0
    out_root[:, :2] -= out_root[0, :2]
    clip = MotionClip(
        body=body,
        times=times,
        root_position=out_root,
        heading=np.full(times.shape[0], body_heading),
        angles=out_angles,
        activity="walking",
        label="walk",
        meta={
            "params": asdict(params),
            "cycle_length": length,
            "cycle_duration": cycle_dur,
            "cadence": cadence,
            "duty_factor": params.duty_factor(body),
            "hip_scale": hip_scale,
            "hip_offset_deg": hip_offset,
            "forward_oscillation": _forward_oscillation(params, body),
            "phase": out_phase,
            "support": out_support,
            "identity": identity_name,
            "route": route,
        },
    )
    start = np.zeros(3) if route is None else np.array([route.start[0], route.start[1], 0.0])
    return clip.moved(offset=start, yaw=walk_heading)


# --------------------------------------------------------------------------------------------
# Measurements
# --------------------------------------------------------------------------------------------


def foot_slip(clip: MotionClip, contact_height: float = 0.005) -> dict[str, float]:
    """Horizontal sliding of the feet while they touch the floor.

    For each foot and frame the lowest sole point (heel, ball or toe) is taken. A foot is *loaded*
    when the clip's ``meta["support"]`` ``[T, 2]`` (left, right support share, from :func:`walk`)
    is positive; clips without it use "lowest sole point below ``contact_height``" instead. The
    horizontal displacement of the lowest point to the next frame while loaded counts as slip.

    Returns:
        ``mean_speed`` (m/s, mean horizontal speed of loaded contact points), ``p95_speed``
        (m/s), ``max_speed`` (m/s), ``distance_per_metre`` (slip distance of both feet per metre
        walked), ``loaded_fraction`` (fraction of foot-frames counted), ``max_height`` (m, highest
        lowest-sole-point of a loaded foot; > 0 means a loaded foot hovers), ``min_height`` (m,
        lowest sole point of any foot in any frame; < 0 means penetration of the floor).
    """
    j = clip.joints
    idx = clip.body.foot_contact_points().reshape(2, 3)
    support = clip.meta.get("support")
    speeds, dist, heights = [], 0.0, []
    n_loaded = 0
    dt = np.diff(clip.times)
    rows = np.arange(j.shape[0] - 1)
    for f in range(2):
        soles = j[:, idx[f]]  # [T, 3, 3]
        low = np.argmin(soles[:, :, 2], axis=1)
        z = soles[rows, low[:-1], 2]
        d = np.linalg.norm(soles[rows + 1, low[:-1], :2] - soles[rows, low[:-1], :2], axis=1)
        if support is not None:
            s = np.asarray(support)[:, f]
            on = (s[:-1] > 1e-3) & (s[1:] > 1e-3)
        else:
            on = z < contact_height
        n_loaded += int(on.sum())
        speeds.append(d[on] / dt[on])
        heights.append(z[on])
        dist += float(d[on].sum())
    sp = np.concatenate(speeds)
    hz = np.concatenate(heights)
    walked = float(np.linalg.norm(clip.root_position[-1, :2] - clip.root_position[0, :2]))
    return {
        "mean_speed": float(sp.mean()) if sp.size else 0.0,
        "p95_speed": float(np.percentile(sp, 95)) if sp.size else 0.0,
        "max_speed": float(sp.max()) if sp.size else 0.0,
        "distance_per_metre": dist / walked if walked > 0 else float("nan"),
        "loaded_fraction": n_loaded / (2.0 * (j.shape[0] - 1)),
        "max_height": float(hz.max()) if hz.size else float("nan"),
        "min_height": float(j[:, idx.ravel(), 2].min()),
    }


def gait_features(clip: MotionClip) -> dict[str, float]:
    """Observable gait features from the joints of a walking clip (what a sensor could measure).

    Returns:
        ``speed`` (m/s, net pelvis displacement / duration), ``cadence`` (steps/min, from the
        crossings of the left-right ankle separation along the walking direction),
        ``stride_length`` (m, speed x 120 / cadence), ``arm_swing`` (m, mean peak-to-peak
        fore-aft wrist excursion relative to the pelvis), ``arm_asymmetry`` (m, left - right),
        ``step_width`` (m), ``sway`` (m, pelvis lateral std), ``bounce`` (m, pelvis vertical std),
        ``lean`` (rad, mean forward tilt of pelvis -> spine_shoulder).
    """
    j = clip.joints
    t = clip.times
    root = clip.root_position
    net = root[-1, :2] - root[0, :2]
    dur = t[-1] - t[0]
    fwd2 = net / max(np.linalg.norm(net), 1e-9)
    fwd = np.array([fwd2[0], fwd2[1], 0.0])
    lat = np.array([fwd2[1], -fwd2[0], 0.0])
    ia, ib = JOINT_INDEX["ankle_left"], JOINT_INDEX["ankle_right"]
    sep = (j[:, ia] - j[:, ib]) @ fwd
    sep = sep - sep.mean()
    cross = np.nonzero(np.sign(sep[:-1]) * np.sign(sep[1:]) < 0)[0]
    if cross.size >= 2:
        tc = t[cross] - sep[cross] * (t[cross + 1] - t[cross]) / (sep[cross + 1] - sep[cross])
        step_time = float(np.mean(np.diff(tc)))
    else:
        step_time = float("nan")
    speed = float(np.linalg.norm(net) / dur)
    cadence = 60.0 / step_time
    rel = j - root[:, None, :]
    swings = []
    for side in ("left", "right"):
        x = rel[:, JOINT_INDEX[f"wrist_{side}"]] @ fwd
        swings.append(float(np.percentile(x, 97) - np.percentile(x, 3)))
    pel_lat = root @ lat
    trend = np.polyval(np.polyfit(t, pel_lat, 1), t)
    z = root[:, 2]
    trunk = j[:, JOINT_INDEX["spine_shoulder"]] - j[:, JOINT_INDEX["pelvis"]]
    lean = float(np.mean(np.arctan2(trunk @ fwd, trunk[:, 2])))
    width = float(np.mean(np.abs((j[:, ia] - j[:, ib]) @ lat)))
    return {
        "speed": speed,
        "cadence": cadence,
        "stride_length": speed * 120.0 / cadence,
        "arm_swing": 0.5 * (swings[0] + swings[1]),
        "arm_asymmetry": swings[0] - swings[1],
        "step_width": width,
        "sway": float(np.std(pel_lat - trend)),
        "bounce": float(np.std(z)),
        "lean": lean,
    }

