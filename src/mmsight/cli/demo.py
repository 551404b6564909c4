"""``mmsight demo``: an end-to-end run of what the toolkit has, writing figures to a folder.

Today: (1) a radar scene (two walking people made of distributed scatterers and a static corner
reflector) is turned into ADC samples by the forward model, processed by the signal chain, and
the range-azimuth map, range-Doppler map and clustered point cloud are drawn next to the truth;
(2) the simulator renders a scene of some task datasets (RGB, depth, radar maps, point cloud,
ground truth) with ``mmsight.sim.preview.simulate_preview``; (3) mmJoints' shipped checkpoint describes
every joint of the MARS validate frames with (x, y, z, xi, kappa) and draws a skeleton coloured by them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from mmsight.utils.atomic import atomic_write_text


@dataclass(frozen=True)
class DemoPerson:
    """A box-shaped cloud of scatterers standing in for a walking person (until ``mmsight.sim``)."""

    centre: tuple[float, float]  # x, y of the body axis on the floor, m
    velocity: tuple[float, float]  # m/s in the x-y plane
    height: float = 1.75


def person_scatterers(person: DemoPerson, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``positions [n, 3]``, ``velocities [n, 3]``, ``rcs [n]`` for one demo person.

    The radar sits 1 m above the floor (z = 0 at the antenna); the body spans z in [-1, height - 1].
    Total RCS about -8 dBsm (radar-physics.md 3.1), split over the scatterers; limbs get a
    +-30 % speed spread as a crude micro-Doppler.
    """
    cx, cy = person.centre
    offsets = rng.uniform([-0.2, -0.12, -1.0], [0.2, 0.12, person.height - 1.0], size=(n, 3))
    positions = np.array([cx, cy, 0.0]) + offsets
    speed_factor = rng.uniform(0.7, 1.3, size=(n, 1))
    velocities = np.concatenate([np.tile(person.velocity, (n, 1)) * speed_factor, np.zeros((n, 1))], axis=1)
    rcs = np.full(n, 10 ** (-8 / 10) / n)
    return positions, velocities, rcs


def run_radar_demo(out: Path, preset: str = "iwr6843isk", seed: int = 0) -> dict:
    """Simulate, process and draw one radar frame; returns the summary written to ``summary.json``."""
    import matplotlib.pyplot as plt

    from mmsight.radar import RadarConfig
    from mmsight.radar.chain import SignalChain
    from mmsight.radar.forward import simulate_adc
    from mmsight.viz.radar_plots import plot_point_cloud, plot_range_azimuth, plot_range_doppler

    rng = np.random.default_rng(seed)
    config = RadarConfig.preset(preset)
    people = [DemoPerson(centre=(-1.0, 3.0), velocity=(0.0, -1.2)), DemoPerson(centre=(1.2, 5.0), velocity=(0.8, 0.6))]
    parts = [person_scatterers(p, 300, rng) for p in people]
    reflector = (np.array([[2.0, 2.5, -0.5]]), np.zeros((1, 3)), np.array([1.0]))  # a 0 dBsm corner reflector
    positions = np.concatenate([p[0] for p in parts] + [reflector[0]])
    velocities = np.concatenate([p[1] for p in parts] + [reflector[1]])
    rcs = np.concatenate([p[2] for p in parts] + [reflector[2]])

    adc = simulate_adc(config, positions, velocities, rcs, rng=rng)
    # Without TI's peak grouping every CFAR cell of an extended target becomes a point, which gives
    # the dense per-person clouds that DBSCAN needs.
    products = SignalChain(config, peak_grouping=False, cluster=True, cluster_min_samples=3).process(adc)
    points = products.points
    clusters = products.clusters

    out.mkdir(parents=True, exist_ok=True)
    truth_xy = np.array([p.centre for p in people])
    figures = {}
    fig, ax = plt.subplots(figsize=(6, 5))
    plot_range_azimuth(products.range_azimuth, products.range_axis, products.azimuth_axis, ax, truth_xy=truth_xy)
    figures["range_azimuth"] = out / "range_azimuth.png"
    fig.savefig(figures["range_azimuth"], dpi=110, bbox_inches="tight")
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(6, 5))
    plot_range_doppler(products.range_doppler, products.range_axis, products.velocity_axis, ax)
    figures["range_doppler"] = out / "range_doppler.png"
    fig.savefig(figures["range_doppler"], dpi=110, bbox_inches="tight")
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(6, 5))
    truth_xyz = np.array([[p.centre[0], p.centre[1], 0.0] for p in people])
    plot_point_cloud(points, ax, labels=None if clusters is None else clusters.labels, truth_xyz=truth_xyz)
    figures["point_cloud"] = out / "point_cloud.png"
    fig.savefig(figures["point_cloud"], dpi=110, bbox_inches="tight")
    plt.close(fig)

    centroids = [] if clusters is None else np.asarray(clusters.centroids).tolist()
    summary = {
        "preset": preset,
        "seed": seed,
        "scatterers": int(len(rcs)),
        "adc_shape": list(adc.shape),
        "points": int(len(points)),
        "clusters": centroids,
        "people_truth_xy": truth_xy.tolist(),
        "figures": {k: v.name for k, v in figures.items()},
    }
    config.save_yaml(out / "radar_config.yaml")
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2))
    return summary


def demo_command(
    out: Path = typer.Option(Path("runs/demo"), "--out", help="Folder for the figures and summaries."),
    preset: str = typer.Option("iwr6843isk", "--preset", help="Radar preset for the simulated scene."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
    mars: Path = typer.Option(
        Path("../shared/data/mars/mars_train_validate.npz"), "--mars",
        help="A MARS-format .npz for the mmJoints part (skipped with a note if absent).",
    ),
    tasks: list[str] = typer.Option(
        ["weapons", "wall"], "--task", help="Simulator tasks whose scene preview is rendered (repeatable)."
    ),
) -> None:
    """Run everything that exists end to end and write figures to OUT."""
    from mmsight.sim.preview import simulate_preview

    console = Console(width=120)
    summary = run_radar_demo(out / "radar", preset=preset, seed=seed)
    sim_dir = out / "simulator"
    sim_dir.mkdir(parents=True, exist_ok=True)
    previews = [simulate_preview(task, sim_dir, seed=seed) for task in tasks]
    table = Table(title="mmsight demo")
    table.add_column("part")
    table.add_column("result")
    table.add_row(
        "radar scene",
        f"{summary['scatterers']} scatterers -> ADC {tuple(summary['adc_shape'])} -> {summary['points']} points, "
        f"{len(summary['clusters'])} clusters; figures in {out / 'radar'}",
    )
    for centroid in summary["clusters"]:
        table.add_row("  cluster centroid", "x={:.2f} m  y={:.2f} m  z={:.2f} m".format(*centroid[:3]))
    for xy in summary["people_truth_xy"]:
        table.add_row("  person truth", "x={:.2f} m  y={:.2f} m".format(*xy))
    for task, path in zip(tasks, previews):
        table.add_row(f"simulated scene: {task}", f"RGB, depth, range-azimuth map, point cloud, truth -> {path}")
    if mars.is_file():
        import torch

        from mmsight.joints.evaluate import describe

        torch.set_num_threads(1)
        described = describe(mars, out / "joints", None, split="validate", fmt="npz", log=lambda _msg: None)
        table.add_row(
            "mmJoints (shipped checkpoint)",
            "(x, y, z, xi, kappa) per joint of the MARS validate frames -> "
            + ", ".join(str(p) for p in described["paths"].values()),
        )
    else:
        table.add_row("mmJoints", f"skipped: no MARS-format file at {mars} (use --mars FILE)")
    console.print(table)
