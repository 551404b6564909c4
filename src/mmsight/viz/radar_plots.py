"""Matplotlib figures of radar products: range-azimuth and range-Doppler maps, point clouds.

All functions draw into a given ``Axes`` (or make one) and return it; nothing here computes radar
products, it only shows them with their physical axes.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402


def _db(power: np.ndarray, floor_db: float) -> np.ndarray:
    power = np.asarray(power, dtype=np.float64)
    db = 10.0 * np.log10(np.maximum(power, np.finfo(np.float64).tiny))
    return np.maximum(db, db.max() - floor_db)


def plot_range_azimuth(
    power: np.ndarray,
    range_axis: np.ndarray,
    azimuth_axis: np.ndarray,
    ax: Axes | None = None,
    *,
    dynamic_range_db: float = 40.0,
    cartesian: bool = True,
    truth_xy: np.ndarray | None = None,
) -> Axes:
    """Draw a range-azimuth map.

    Args:
        power: ``float32 [n_range, n_azimuth]`` linear power.
        range_axis: ``[n_range]`` bin centres, m.
        azimuth_axis: ``[n_azimuth]`` bin centres, rad (positive towards +x).
        cartesian: draw in the x-y plane (bird's-eye view) instead of range versus angle.
        truth_xy: optional ``[K, 2]`` true target positions (x, y) in m, drawn as circles.
    """
    if power.shape != (len(range_axis), len(azimuth_axis)):
        raise ValueError(f"power shape {power.shape} does not match axes ({len(range_axis)}, {len(azimuth_axis)})")
    ax = ax or plt.figure(figsize=(6, 5)).add_subplot()
    db = _db(power, dynamic_range_db)
    if cartesian:
        rr, aa = np.meshgrid(range_axis, azimuth_axis, indexing="ij")
        mesh = ax.pcolormesh(rr * np.sin(aa), rr * np.cos(aa), db, shading="gouraud", cmap="viridis")
        ax.set_xlabel("x (m)")
        ax.set_ylabel("y, boresight (m)")
        ax.set_aspect("equal")
        if truth_xy is not None and len(truth_xy):
            ax.scatter(truth_xy[:, 0], truth_xy[:, 1], s=80, facecolors="none", edgecolors="r", label="truth")
            ax.legend(loc="upper right")
    else:
        mesh = ax.pcolormesh(np.degrees(azimuth_axis), range_axis, db, shading="auto", cmap="viridis")
        ax.set_xlabel("azimuth (deg)")
        ax.set_ylabel("range (m)")
    ax.figure.colorbar(mesh, ax=ax, label="power (dB)")
    ax.set_title("range-azimuth map")
    return ax


def plot_range_doppler(
    power: np.ndarray,
    range_axis: np.ndarray,
    velocity_axis: np.ndarray,
    ax: Axes | None = None,
    *,
    dynamic_range_db: float = 40.0,
) -> Axes:
    """Draw a range-Doppler map (``power: float32 [n_range, n_doppler]``, linear)."""
    if power.shape != (len(range_axis), len(velocity_axis)):
        raise ValueError(f"power shape {power.shape} does not match axes ({len(range_axis)}, {len(velocity_axis)})")
    ax = ax or plt.figure(figsize=(6, 5)).add_subplot()
    mesh = ax.pcolormesh(velocity_axis, range_axis, _db(power, dynamic_range_db), shading="auto", cmap="magma")
    ax.figure.colorbar(mesh, ax=ax, label="power (dB)")
    ax.set_xlabel("radial velocity (m/s, + away)")
    ax.set_ylabel("range (m)")
    ax.set_title("range-Doppler map")
    return ax


def plot_point_cloud(
    points: np.ndarray,
    ax: Axes | None = None,
    *,
    labels: np.ndarray | None = None,
    truth_xyz: np.ndarray | None = None,
) -> Axes:
    """Bird's-eye view of a point cloud ``float32 [N, 5]`` (x, y, z, doppler, snr), coloured by
    cluster label if given (else by Doppler)."""
    points = np.asarray(points)
    if points.ndim != 2 or points.shape[1] < 5:
        raise ValueError(f"points must be [N, 5] (x, y, z, doppler, snr), got shape {points.shape}")
    ax = ax or plt.figure(figsize=(6, 5)).add_subplot()
    if labels is not None:
        sc = ax.scatter(points[:, 0], points[:, 1], c=labels, cmap="tab10", s=12)
        ax.figure.colorbar(sc, ax=ax, label="cluster (-1 noise)")
    else:
        sc = ax.scatter(points[:, 0], points[:, 1], c=points[:, 3], cmap="coolwarm", s=12)
        ax.figure.colorbar(sc, ax=ax, label="Doppler (m/s)")
    if truth_xyz is not None and len(truth_xyz):
        ax.scatter(truth_xyz[:, 0], truth_xyz[:, 1], marker="x", c="k", s=60, label="truth")
        ax.legend(loc="upper right")
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y, boresight (m)")
    ax.set_aspect("equal")
    ax.set_title(f"point cloud ({len(points)} points)")
    return ax
