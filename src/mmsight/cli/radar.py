"""``mmsight radar ...``: radar configuration tools."""

from __future__ import annotations

import math
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from mmsight.radar import PRESETS, RadarConfig, RadarConfigError

radar_app = typer.Typer(help="Radar configurations: presets, TI .cfg files, derived metrics.", no_args_is_help=True)


def derived_table(cfg: RadarConfig) -> Table:
    """A rich table of a configuration's profile and derived metrics (user-facing units)."""
    table = Table(title=f"radar configuration: {cfg.name}")
    table.add_column("quantity")
    table.add_column("value", justify="right")
    table.add_column("unit")
    rows = [
        ("start frequency", f"{cfg.start_frequency / 1e9:.4f}", "GHz"),
        ("slope", f"{cfg.slope / 1e12:.2f}", "MHz/us"),
        ("ADC samples @ rate", f"{cfg.n_samples} @ {cfg.sample_rate / 1e6:.3f}", "Msps"),
        ("sampling", "complex" if cfg.complex_sampling else "real", ""),
        ("idle / ADC start / ramp end", f"{cfg.idle_time * 1e6:.2f} / {cfg.adc_start_time * 1e6:.2f} / {cfg.ramp_end_time * 1e6:.2f}", "us"),
        ("TX order (chirp slots)", " ".join(f"TX{t + 1}" for t in cfg.tx_order), ""),
        ("RX", str(cfg.n_rx), ""),
        ("loops per frame", str(cfg.n_loops), ""),
        ("virtual channels", str(cfg.n_virtual), ""),
        ("frame rate", f"{cfg.frame_rate:.2f}", "Hz"),
        ("sampled bandwidth", f"{cfg.bandwidth / 1e6:.1f}", "MHz"),
        ("centre frequency (sampled ramp)", f"{cfg.center_frequency / 1e9:.3f}", "GHz"),
        ("wavelength", f"{cfg.wavelength * 1e3:.3f}", "mm"),
        ("range resolution", f"{cfg.range_resolution * 100:.2f}", "cm"),
        ("max range", f"{cfg.max_range:.2f}", "m"),
        ("chirp time", f"{cfg.chirp_time * 1e6:.1f}", "us"),
        ("max velocity", f"+-{cfg.max_velocity:.2f}", "m/s"),
        ("velocity resolution", f"{cfg.velocity_resolution:.3f}", "m/s"),
        ("azimuth resolution (boresight)", f"{math.degrees(cfg.azimuth_resolution):.1f}", "deg"),
    ]
    for row in rows:
        table.add_row(*row)
    return table


@radar_app.command("info")
def info(
    preset: str = typer.Option(None, "--preset", help=f"One of: {', '.join(sorted(PRESETS))}."),
    cfg: Path = typer.Option(None, "--cfg", exists=True, dir_okay=False, help="A TI mmWave SDK .cfg file."),
    yaml_file: Path = typer.Option(None, "--yaml", exists=True, dir_okay=False, help="A RadarConfig YAML file."),
) -> None:
    """Print a radar configuration and its derived metrics (resolutions, maxima)."""
    given = [x for x in (preset, cfg, yaml_file) if x is not None]
    if len(given) != 1:
        raise typer.BadParameter("give exactly one of --preset, --cfg, --yaml")
    try:
        if preset is not None:
            config = RadarConfig.preset(preset)
        elif cfg is not None:
            config = RadarConfig.from_ti_cfg(cfg)
        else:
            config = RadarConfig.load_yaml(yaml_file)
    except RadarConfigError as exc:
        Console(stderr=True).print(f"[red]error:[/red] {exc}")
        raise typer.Exit(code=2) from exc
    Console(width=120).print(derived_table(config))
