"""Straight walking routes in a room, parameterised by their view angle to the radar.

The *view angle* of a route is the angle between the walking direction and the radar's line of
sight through the route's midpoint, folded to [0, 90] deg: 0 deg is walking straight towards or
away from the radar (pure radial motion, strongest Doppler), 90 deg is crossing it. Mission-style
datasets use 0-60 deg. Positions are floor points ``(x, y)`` in the room frame (m; radar frame
axes, see :mod:`mmsight.sim.skeleton`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Room", "Route", "route_at_view_angle", "sample_route"]


@dataclass(frozen=True)
class Room:
    """A rectangular walkable floor area with the radar at ``radar_xy`` (m).

    Attributes:
        x_range, y_range: extent of the floor (m).
        radar_xy: horizontal radar position (m).
        margin: keep routes this far from the walls (m).
    """

    x_range: tuple[float, float] = (-2.5, 2.5)
    y_range: tuple[float, float] = (0.8, 7.0)
    radar_xy: tuple[float, float] = (0.0, 0.0)
    margin: float = 0.4

    def contains(self, xy: np.ndarray | tuple[float, float]) -> bool:
        """Whether a floor point lies inside the room, ``margin`` away from the walls."""
        x, y = float(xy[0]), float(xy[1])
        m = self.margin
        return (self.x_range[0] + m <= x <= self.x_range[1] - m) and (self.y_range[0] + m <= y <= self.y_range[1] - m)


@dataclass(frozen=True)
class Route:
    """A straight route from ``start`` to ``end`` (floor points, m)."""

    start: tuple[float, float]
    end: tuple[float, float]

    @property
    def length(self) -> float:
        return float(np.hypot(self.end[0] - self.start[0], self.end[1] - self.start[1]))

    @property
    def direction(self) -> np.ndarray:
        """Unit walking direction ``[2]``."""
        d = np.subtract(self.end, self.start).astype(np.float64)
        return d / np.linalg.norm(d)

    @property
    def heading(self) -> float:
        """Walking direction as a heading (rad; 0 = +y, pi/2 = +x)."""
        d = self.direction
        return float(np.arctan2(d[0], d[1]))

    @property
    def midpoint(self) -> np.ndarray:
        return 0.5 * (np.asarray(self.start, dtype=np.float64) + np.asarray(self.end, dtype=np.float64))

    def point_at(self, s: float | np.ndarray) -> np.ndarray:
        """Point(s) at distance ``s`` (m) from the start: ``[..., 2]``."""
        s = np.asarray(s, dtype=np.float64)
        return np.asarray(self.start, dtype=np.float64) + s[..., None] * self.direction

    def signed_view_angle(self, radar_xy: tuple[float, float] = (0.0, 0.0)) -> float:
        """Angle (rad, (-pi, pi]) from the line of sight radar -> midpoint to the walking direction,
        positive towards +x; 0 = walking straight away, +-pi = straight towards the radar."""
        los = self.midpoint - np.asarray(radar_xy, dtype=np.float64)
        d = self.direction
        return float(np.arctan2(los[1] * d[0] - los[0] * d[1], los @ d))

    def view_angle(self, radar_xy: tuple[float, float] = (0.0, 0.0)) -> float:
        """Unsigned view angle (rad, [0, pi/2]) between the walking line and the line of sight."""
        a = abs(self.signed_view_angle(radar_xy))
        return float(min(a, np.pi - a))

    def towards_radar(self, radar_xy: tuple[float, float] = (0.0, 0.0)) -> bool:
        """Whether the walker's range to the radar decreases along the route."""
        return abs(self.signed_view_angle(radar_xy)) > np.pi / 2


def route_at_view_angle(
    view_angle: float,
    *,
    center: tuple[float, float] = (0.0, 4.0),
    length: float = 4.0,
    towards_radar: bool = True,
    side: int = 1,
    radar_xy: tuple[float, float] = (0.0, 0.0),
) -> Route:
    """Route of ``length`` (m) through ``center`` at ``view_angle`` (rad) to the line of sight.

    ``side`` (+1/-1) picks which way the route turns away from the line of sight.
    """
    if not 0.0 <= view_angle <= np.pi / 2 + 1e-12:
        raise ValueError(f"view_angle must be in [0, pi/2] rad, got {view_angle}")
    if side not in (1, -1):
        raise ValueError("side must be +1 or -1")
    c = np.asarray(center, dtype=np.float64)
    los = c - np.asarray(radar_xy, dtype=np.float64)
    if np.linalg.norm(los) < 1e-6:
        raise ValueError("route centre coincides with the radar")
    los /= np.linalg.norm(los)
    a = side * view_angle
    # rotate the line of sight by `a` towards +x (heading-style)
    d = np.array([los[0] * np.cos(a) + los[1] * np.sin(a), -los[0] * np.sin(a) + los[1] * np.cos(a)])
    if towards_radar:
        d = -d
    start = c - 0.5 * length * d
    end = c + 0.5 * length * d
    return Route(start=(float(start[0]), float(start[1])), end=(float(end[0]), float(end[1])))


def sample_route(
    rng: np.random.Generator | int | None = None,
    room: Room = Room(),
    *,
    view_angle_range: tuple[float, float] = (0.0, np.pi / 3),
    length_range: tuple[float, float] = (3.0, 5.0),
    towards_probability: float = 0.5,
    max_tries: int = 500,
) -> Route:
    """Random route inside ``room`` with a view angle in ``view_angle_range`` (rad).

    Raises ``ValueError`` if no route fits after ``max_tries`` draws (room too small).
    """
    g = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    m = room.margin
    for _ in range(max_tries):
        center = (float(g.uniform(room.x_range[0] + m, room.x_range[1] - m)),
                  float(g.uniform(room.y_range[0] + m, room.y_range[1] - m)))  # fmt: skip
        if np.hypot(center[0] - room.radar_xy[0], center[1] - room.radar_xy[1]) < 0.5:
            continue
        r = route_at_view_angle(
            float(g.uniform(*view_angle_range)),
            center=center,
            length=float(g.uniform(*length_range)),
            towards_radar=bool(g.uniform() < towards_probability),
            side=1 if g.uniform() < 0.5 else -1,
            radar_xy=room.radar_xy,
        )
        if room.contains(r.start) and room.contains(r.end):
            return r
    raise ValueError(f"no route with lengths {length_range} m fits in {room}")
