"""Benchmark: frames per second of the radar signal chain (ADC -> range-azimuth map + point cloud).

Runs :class:`mmsight.radar.chain.SignalChain` on realistic simulated frames (a few point targets +
thermal noise, generated once) and, on the same frames, a straightforward reference
implementation: per-chirp, per-antenna, per-bin Python loops of ``np.fft`` calls (the obvious,
unvectorised way). Prints frames/s of both, the speed-up, and checks that the two give the same
range-azimuth map (``allclose``) and the same detections.

    python benchmarks/radar_chain.py                      # iwr6843isk, 200 frames
    python benchmarks/radar_chain.py --frames 500 --workers 2 --batch 8
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np
import scipy

from mmsight.radar import cfar
from mmsight.radar import processing as P
from mmsight.radar.chain import SignalChain
from mmsight.radar.config import RadarConfig
from mmsight.radar.forward import simulate_adc


def make_frames(cfg: RadarConfig, n_frames: int, n_targets: int, seed: int) -> np.ndarray:
    """complex64 [n_frames, n_loops, n_tx, n_rx, n_samples]: a few movers + noise per frame."""
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(n_frames):
        r = rng.uniform(1.0, 0.7 * cfg.max_range, n_targets)
        az = np.radians(rng.uniform(-60, 60, n_targets))
        el = np.radians(rng.uniform(-15, 15, n_targets))
        u = np.stack([np.cos(el) * np.sin(az), np.cos(el) * np.cos(az), np.sin(el)], axis=1)
        v = rng.uniform(-0.8, 0.8, n_targets) * cfg.max_velocity
        frames.append(simulate_adc(cfg, r[:, None] * u, v[:, None] * u, rng.uniform(0.05, 1.0, n_targets), rng=rng))
    return np.stack(frames)


def reference_chain(adc: np.ndarray, cfg: RadarConfig, chain: SignalChain) -> tuple[np.ndarray, np.ndarray]:
    """The same chain written the obvious way: loops over chirps, antennas and bins.

    Same windows, weighted-mean clutter removal, TDM compensation, CFAR (the shared
    :mod:`mmsight.radar.cfar` call) and azimuth FFT as :class:`SignalChain` with default options.

    Returns:
        (range-azimuth map float32 [n_range, n_angle], points float32 [N, 5]).
    """
    o = chain.options
    n_l, n_t, n_r, n_s = adc.shape
    n_v = n_t * n_r
    n_a = o.n_angle
    w_r = P.get_window(o.range_window, n_s)
    w_d = P.get_window(o.doppler_window, n_l)
    lay = P.angle_layout(cfg)
    # 1. range FFT per chirp and antenna
    rc = np.zeros((n_l, n_v, n_s), np.complex64)
    for m in range(n_l):
        for t in range(n_t):
            for r in range(n_r):
                rc[m, t * n_r + r] = np.fft.fft(adc[m, t, r] * w_r)
    # 2. clutter removal + Doppler FFT per antenna and range bin
    dc = np.zeros((n_l, n_v, n_s), np.complex64)
    for v in range(n_v):
        for k in range(n_s):
            col = rc[:, v, k]
            if o.clutter_removal:
                col = col - np.sum(w_d * col) / np.sum(w_d)
            dc[:, v, k] = np.fft.fftshift(np.fft.fft(col * w_d))
    # 3. range-Doppler map (non-coherent sum over antennas)
    rd = np.zeros((n_s, n_l), np.float32)
    for k in range(n_s):
        for d in range(n_l):
            rd[k, d] = np.sum(np.abs(dc[d, :, k]) ** 2)
    # 4. range-azimuth map: per Doppler and range bin, TDM compensation + azimuth FFT of each az row
    slot = np.repeat(np.arange(n_t), n_r)
    ra = np.zeros((n_s, n_a), np.float64)
    for d in range(n_l):
        comp = np.exp(-2j * np.pi * (d - n_l // 2) * slot / (n_l * n_t))
        for k in range(n_s):
            x = dc[d, :, k] * comp
            for row in lay.azimuth_rows:
                ch = lay.rows[row]
                z = np.zeros(n_a, np.complex128)
                z[(lay.x[ch] - lay.x[ch].min()).astype(int)] = x[ch] * lay.rotation[ch]
                ra[k] += np.abs(np.fft.fftshift(np.fft.fft(z))) ** 2
    # 5. CFAR + peak grouping (shared implementation), then per detection: angle FFT + elevation
    r0, r1 = chain._r0, chain._r1
    res = cfar.ca_cfar_2d(rd[r0:r1], train=o.cfar_train, guard=o.cfar_guard, pfa=o.cfar_pfa, wrap=(False, True))
    det = cfar.group_peaks(rd[r0:r1], res.detections, wrap=(False, True))
    points = []
    for rb, d in det:
        k = rb + r0
        x = dc[d, :, k] * np.exp(-2j * np.pi * (d - n_l // 2) * slot / (n_l * n_t))
        spec = np.zeros(n_a)
        for row in lay.azimuth_rows:
            ch = lay.rows[row]
            z = np.zeros(n_a, np.complex128)
            z[(lay.x[ch] - lay.x[ch].min()).astype(int)] = x[ch] * lay.rotation[ch]
            spec += np.abs(np.fft.fftshift(np.fft.fft(z))) ** 2
        a = int(np.argmax(spec))
        ux = (a - n_a // 2) * 2.0 / n_a
        uz = 0.0
        if lay.has_elevation and len(lay.rows) == 2:  # TI's phase-difference elevation
            beams = [np.sum(x[ch] * lay.rotation[ch] * np.exp(-1j * np.pi * lay.x[ch] * ux)) for ch in lay.rows]
            uz = float(np.angle(beams[1] * np.conj(beams[0])) / (np.pi * (lay.row_z[1] - lay.row_z[0])))
        rng = float(chain.range_axis[k])
        px, pz = rng * ux, rng * uz
        py = np.sqrt(max(rng**2 - px**2 - pz**2, 0.0))
        points.append([px, py, pz, float(chain.velocity_axis[d]), float(res.snr_db[rb, d])])
    return ra.astype(np.float32), np.asarray(points, np.float32).reshape(-1, 5)


def _time(fn, repeat: int) -> float:
    """Median wall time of ``fn()`` over ``repeat`` runs (s)."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="iwr6843isk")
    ap.add_argument("--frames", type=int, default=200, help="frames for the vectorised chain")
    ap.add_argument("--reference-frames", type=int, default=6, help="frames for the loop reference (slow)")
    ap.add_argument("--targets", type=int, default=5, help="point targets per frame")
    ap.add_argument("--batch", type=int, default=8, help="frames per process_batch call (0: skip)")
    ap.add_argument("--workers", type=int, default=None, help="scipy.fft threads (default: 1)")
    ap.add_argument("--repeat", type=int, default=5, help="timing repeats (median reported)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    cfg = RadarConfig.preset(args.preset)
    frames = make_frames(cfg, max(args.frames, args.reference_frames), args.targets, args.seed)
    chain = SignalChain(cfg, workers=args.workers)  # default options
    # TI-like angle step (bin centres, one angle per detection) = what the loop reference computes
    chain_ti = SignalChain(cfg, workers=args.workers, refine_angle=False, refine_doppler=False, multi_peak_ratio=None)
    chain.process(frames[0])  # warm-up (plans, caches)
    chain_ti.process(frames[0])

    def run_single(ch: SignalChain) -> None:
        for f in frames[: args.frames]:
            ch.process(f)

    t_single = _time(lambda: run_single(chain), args.repeat) / args.frames
    t_ti = _time(lambda: run_single(chain_ti), args.repeat) / args.frames
    t_batch = None
    if args.batch > 0:
        n_b = (args.frames // args.batch) * args.batch

        def run_batch() -> None:
            for i in range(0, n_b, args.batch):
                chain.process_batch(frames[i : i + args.batch])

        t_batch = _time(run_batch, args.repeat) / n_b

    ref = frames[: args.reference_frames]
    t0 = time.perf_counter()
    ref_out = [reference_chain(f, cfg, chain_ti) for f in ref]
    t_ref = (time.perf_counter() - t0) / len(ref)

    # agreement on the same frames
    ra_ok, pts_ok, max_ra_err = True, True, 0.0
    for f, (ra_ref, pts_ref) in zip(ref, ref_out):
        out = chain_ti.process(f)
        ra_ok &= bool(np.allclose(out.range_azimuth, ra_ref, rtol=1e-3, atol=1e-5 * float(ra_ref.max())))
        max_ra_err = max(max_ra_err, float(np.max(np.abs(out.range_azimuth - ra_ref)) / float(ra_ref.max())))
        if len(out.points) != len(pts_ref):
            pts_ok = False
        elif len(pts_ref):
            pts_ok &= bool(np.allclose(out.points[:, :4], pts_ref[:, :4], atol=0.02))

    rows = [("SignalChain.process, default options (1 frame/call)", t_single)]
    if t_batch is not None:
        rows.append((f"SignalChain.process_batch, default options ({args.batch} frames/call)", t_batch))
    rows.append(("SignalChain.process, TI-like angle step (as the reference)", t_ti))
    rows.append(("reference: Python loops of np.fft", t_ref))
    machine = (
        f"{platform.machine()}, {os.cpu_count()} logical cores, Python {platform.python_version()}, "
        f"numpy {np.__version__}, scipy {scipy.__version__}, scipy.fft workers={args.workers or 1}, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    header = (
        f"preset {cfg.name}: ADC [{cfg.n_loops}, {cfg.n_tx}, {cfg.n_rx}, {cfg.n_samples}] -> RA "
        f"[{chain.n_range}, {chain.options.n_angle}] + point cloud; {args.targets} targets + noise per frame"
    )
    try:
        from rich.console import Console
        from rich.table import Table

        table = Table(title=header)
        for col in ("implementation", "ms / frame", "frames / s", "speed-up vs reference"):
            table.add_column(col, justify="right" if col != "implementation" else "left")
        for name, t in rows:
            table.add_row(name, f"{t * 1e3:.2f}", f"{1 / t:.0f}", f"{t_ref / t:.0f}x")
        console = Console()
        console.print(table)
        console.print(machine)
    except ImportError:  # pragma: no cover
        print(header)
        for name, t in rows:
            print(f"{name:60s} {t * 1e3:8.2f} ms {1 / t:8.0f} fps {t_ref / t:6.0f}x")
        print(machine)
    print(f"RA maps allclose (rtol 1e-3): {ra_ok} (max |diff| / max = {max_ra_err:.1e}); "
          f"point clouds equal: {pts_ok} ({len(ref)} frames)")
    return 0 if (ra_ok and pts_ok) else 1


if __name__ == "__main__":
    raise SystemExit(main())
