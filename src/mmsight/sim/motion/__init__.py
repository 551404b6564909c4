"""Motion models: walking, postures, falls, rehab movements and routes.

Every generator returns a :class:`MotionClip` (times, root trajectory, heading, anatomical joint
angles ``[T, J, 3]``) bound to a :class:`~mmsight.sim.body.BodyShape`; ``clip.joints`` gives
``[T, J, 3]`` and ``clip.segments`` the posed primitives, both in the room frame (floor at z = 0,
axes of the radar frame; see :mod:`mmsight.sim.skeleton`).

This module defines the clip type and the shared helpers; the generators live in the submodules
and are re-exported lazily (``from mmsight.sim.motion import walk`` works without importing the
others first).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..body import BodyShape, PosedBody, SegmentSet
from ..skeleton import JOINT_INDEX, N_JOINTS

__all__ = [
    "MotionClip",
    "concatenate",
    "min_jerk",
    "smooth_noise",
    # lazily re-exported from the submodules
    "GaitIdentity",
    "GaitParams",
    "walk",
    "gait_features",
    "foot_slip",
    "Room",
    "Route",
    "route_at_view_angle",
    "sample_route",
    "standing_angles",
    "stand",
    "sit",
    "stand_to_sit",
    "sit_to_stand",
    "fall",
    "lying",
    "FALL_DIRECTIONS",
    "MARS_MOVEMENTS",
    "RehabStyle",
    "rehab_movement",
]

_LAZY = {
    "GaitIdentity": "gait",
    "GaitParams": "gait",
    "walk": "gait",
    "gait_features": "gait",
    "foot_slip": "gait",
    "Room": "routes",
    "Route": "routes",
    "route_at_view_angle": "routes",
    "sample_route": "routes",
    "standing_angles": "postures",
    "stand": "postures",
    "sit": "postures",
    "stand_to_sit": "postures",
    "sit_to_stand": "postures",
    "fall": "postures",
    "lying": "postures",
    "FALL_DIRECTIONS": "postures",
    "MARS_MOVEMENTS": "rehab",
    "RehabStyle": "rehab",
    "rehab_movement": "rehab",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        mod = importlib.import_module(f".{_LAZY[name]}", __name__)
        return getattr(mod, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


# --------------------------------------------------------------------------------------------
# Profiles and noise
# --------------------------------------------------------------------------------------------


def min_jerk(s: np.ndarray | float) -> np.ndarray:
    """Minimum-jerk position profile 10s^3 - 15s^4 + 6s^5 on s in [0, 1] (clipped outside)."""
    x = np.clip(np.asarray(s, dtype=np.float64), 0.0, 1.0)
    return x**3 * (10 - 15 * x + 6 * x**2)


def smooth_noise(
    rng: np.random.Generator, times: np.ndarray, sigma: float, corr_time: float, shape: tuple[int, ...] = ()
) -> np.ndarray:
    """Smooth zero-mean Gaussian noise over ``times`` ``[T]``: ``[T, *shape]``, std ``sigma``.

    A sum of random-phase sinusoids with frequencies up to ``1 / corr_time`` Hz (a band-limited
    process), so that it is smooth at any frame rate and the same for the same ``rng`` state.
    """
    t = np.asarray(times, dtype=np.float64)
    n_sines = 8
    f_max = 1.0 / max(corr_time, 1e-3)
    freqs = rng.uniform(0.05 * f_max, f_max, size=(n_sines,) + shape)
    phases = rng.uniform(0, 2 * np.pi, size=(n_sines,) + shape)
    amps = rng.standard_normal(size=(n_sines,) + shape)
    norm = np.sqrt(np.sum(amps**2, axis=0) / 2.0)
    norm = np.where(norm > 0, norm, 1.0)
    arg = 2 * np.pi * freqs[None] * t.reshape((-1,) + (1,) * (1 + len(shape))) + phases[None]
    return sigma * np.sum(amps[None] * np.sin(arg), axis=1) / norm


# --------------------------------------------------------------------------------------------
# Clip
# --------------------------------------------------------------------------------------------


@dataclass
class MotionClip:
    """A body's motion over T frames.

    Attributes:
        body: the person.
        times: ``[T]`` s, increasing.
        root_position: ``[T, 3]`` pelvis position in the room frame (m).
        heading: ``[T]`` facing direction (rad; 0 = +y away from the radar, pi = facing the radar).
        angles: ``[T, J, 3]`` anatomical joint angles (rad), see :mod:`mmsight.sim.skeleton`.
        activity: ``[T]`` per-frame activity label (e.g. "walking", "falling", "lying").
        label: clip label (e.g. "walk", "fall_lying", "mars_04_left_front_lunge").
        meta: generator parameters and ground truth (gait parameters, fall onset/impact times ...).
    """

    body: BodyShape
    times: np.ndarray
    root_position: np.ndarray
    heading: np.ndarray
    angles: np.ndarray
    activity: np.ndarray
    label: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    _posed: PosedBody | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.times = np.asarray(self.times, dtype=np.float64)
        t = self.times.shape[0]
        self.root_position = np.asarray(self.root_position, dtype=np.float64).reshape(t, 3)
        self.heading = np.broadcast_to(np.asarray(self.heading, dtype=np.float64), (t,)).copy()
        self.angles = np.asarray(self.angles, dtype=np.float64)
        if self.angles.shape != (t, N_JOINTS, 3):
            raise ValueError(f"angles must be [{t}, {N_JOINTS}, 3], got {self.angles.shape}")
        act = np.asarray(self.activity)
        self.activity = np.broadcast_to(act, (t,)).astype(str) if act.ndim == 0 else act.astype(str)
        if self.activity.shape != (t,):
            raise ValueError(f"activity must be [{t}], got {self.activity.shape}")
        if t > 1 and np.any(np.diff(self.times) <= 0):
            raise ValueError("times must be strictly increasing")

    # ---------------------------------------------------------------- geometry
    def pose(self) -> PosedBody:
        """Forward kinematics of all frames (cached): a :class:`PosedBody`."""
        if self._posed is None:
            self._posed = self.body.pose(self.angles, self.root_position, self.heading, times=self.times)
        return self._posed

    @property
    def joints(self) -> np.ndarray:
        """``[T, J, 3]`` canonical joint positions in the room frame (m)."""
        return self.pose().joints

    @property
    def segments(self) -> SegmentSet:
        """Posed body primitives over all frames."""
        return self.pose().segments

    @property
    def n_frames(self) -> int:
        return int(self.times.shape[0])

    @property
    def duration(self) -> float:
        return float(self.times[-1] - self.times[0]) if self.n_frames > 1 else 0.0

    @property
    def fps(self) -> float:
        """Mean frame rate (Hz)."""
        return (self.n_frames - 1) / self.duration if self.duration > 0 else float("nan")

    def joint(self, name: str) -> np.ndarray:
        """``[T, 3]`` trajectory of one canonical joint."""
        return self.joints[:, JOINT_INDEX[name]]

    # ---------------------------------------------------------------- editing
    def _with(self, **changes: Any) -> MotionClip:
        return replace(self, _posed=None, **changes)

    def moved(self, offset: tuple[float, float, float] | np.ndarray = (0.0, 0.0, 0.0), yaw: float = 0.0) -> MotionClip:
        """Rotate the whole clip by ``yaw`` (rad, like heading: towards +x) about the room z axis
        through the origin, then translate by ``offset`` (m)."""
        c, s = np.cos(yaw), np.sin(yaw)
        # heading-style yaw h maps (x, y) -> (x cos h + y sin h, -x sin h + y cos h)
        r = np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])
        root = self.root_position @ r.T + np.asarray(offset, dtype=np.float64)
        return self._with(root_position=root, heading=self.heading + yaw)

    def shifted_in_time(self, dt: float) -> MotionClip:
        return self._with(times=self.times + dt)

    def slice(self, start: int, stop: int) -> MotionClip:
        """Frames ``start:stop``."""
        sl = slice(start, stop)
        return self._with(
            times=self.times[sl], root_position=self.root_position[sl], heading=self.heading[sl],
            angles=self.angles[sl], activity=self.activity[sl],
        )  # fmt: skip

    def resample(self, times: np.ndarray) -> MotionClip:
        """Linear interpolation of root, heading and angles at ``times`` ``[T']`` (s, within the clip);
        activity labels are taken from the nearest earlier frame."""
        t = np.asarray(times, dtype=np.float64)
        if t.min() < self.times[0] - 1e-9 or t.max() > self.times[-1] + 1e-9:
            raise ValueError("resample times must lie within the clip")

        def interp(y: np.ndarray) -> np.ndarray:
            flat = y.reshape(y.shape[0], -1)
            out = np.stack([np.interp(t, self.times, flat[:, k]) for k in range(flat.shape[1])], axis=1)
            return out.reshape((t.shape[0],) + y.shape[1:])

        idx = np.clip(np.searchsorted(self.times, t + 1e-9, side="right") - 1, 0, self.n_frames - 1)
        return self._with(
            times=t, root_position=interp(self.root_position), heading=interp(np.unwrap(self.heading)),
            angles=interp(self.angles), activity=self.activity[idx],
        )  # fmt: skip


def concatenate(clips: list[MotionClip], label: str | None = None) -> MotionClip:
    """Join clips of the same body end to end; each clip's times are shifted to follow the previous
    one at the first clip's frame interval. No blending: generate clips that meet (e.g. pass the
    end position/heading of one as the start of the next)."""
    if not clips:
        raise ValueError("no clips")
    body = clips[0].body
    if any(c.body is not body for c in clips):
        raise ValueError("all clips must share the same BodyShape object")
    dt = 1.0 / clips[0].fps if clips[0].n_frames > 1 else 1.0 / 30.0
    times, t0 = [], clips[0].times[0]
    for c in clips:
        times.append(c.times - c.times[0] + t0)
        t0 = times[-1][-1] + dt
    return MotionClip(
        body=body,
        times=np.concatenate(times),
        root_position=np.concatenate([c.root_position for c in clips]),
        heading=np.concatenate([c.heading for c in clips]),
        angles=np.concatenate([c.angles for c in clips]),
        activity=np.concatenate([c.activity for c in clips]),
        label=label if label is not None else "+".join(c.label for c in clips),
        meta={"parts": [dict(c.meta, label=c.label, n_frames=c.n_frames) for c in clips]},
    )


def frame_times(duration: float, fps: float) -> np.ndarray:
    """``[T]`` frame times 0, 1/fps, ... covering ``duration`` (s), at least 2 frames."""
    if fps <= 0 or duration <= 0:
        raise ValueError(f"fps and duration must be positive, got fps={fps}, duration={duration}")
    n = max(int(round(duration * fps)) + 1, 2)
    return np.arange(n) / fps


def as_rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    """A Generator from a Generator, a seed or None (fresh entropy)."""
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)
