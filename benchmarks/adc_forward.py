"""Benchmark: the ADC forward model's two fast-time sums, direct product vs gridded non-uniform FFT.

For N scatterers (a body-like cluster at 2.5-3.3 m plus ghosts spread to 6 m, the shape of the
simulator's frames), times :func:`mmsight.radar.simulate_adc` (no noise, one BLAS thread) with
``method="direct"`` and ``method="gridded"`` interleaved in this process, prints the median time of
each, their ratio, and both methods' largest error against a complex128 evaluation of the signal model
term by term, relative to the cube's peak. Also prints the FFT backend in use
(:mod:`mmsight.utils.fft`; ``MMSIGHT_FFT=scipy`` to compare).

    python benchmarks/adc_forward.py
    python benchmarks/adc_forward.py --preset iwr6843aop --scatterers 64 355 1000 --repeat 50
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np

from mmsight.radar.config import SPEED_OF_LIGHT, RadarConfig
from mmsight.radar.forward import received_power, simulate_adc
from mmsight.utils.fft import backend
from mmsight.utils.threads import blas_limit


def scene(cfg: RadarConfig, n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n_body = (6 * n) // 10
    r = np.concatenate([rng.uniform(2.5, 3.3, n_body), rng.uniform(3.0, min(6.0, 0.95 * cfg.max_range), n - n_body)])
    az, el = rng.uniform(-0.6, 0.6, n), rng.uniform(-0.3, 0.3, n)
    pos = r[:, None] * np.c_[np.cos(el) * np.sin(az), np.cos(el) * np.cos(az), np.sin(el)]
    return pos, rng.normal(0, 1.0, (n, 3)), 10 ** rng.uniform(-4, -1, n)


def reference(cfg: RadarConfig, pos: np.ndarray, vel: np.ndarray, rcs: np.ndarray) -> np.ndarray:
    """complex128 cube from the signal model, term by term (chunks of scatterers to bound memory)."""
    out = np.zeros((cfg.n_loops, cfg.n_tx, cfg.n_rx, cfg.n_samples), np.complex128)
    lam0 = SPEED_OF_LIGHT / (cfg.start_frequency + cfg.slope * cfg.adc_start_time)
    m = np.arange(cfg.n_loops)[:, None, None, None, None]
    i = np.arange(cfg.n_tx)[None, :, None, None, None]
    s = np.arange(cfg.n_samples)[None, None, None, :, None]
    xv = np.asarray(cfg.virtual_azimuth, float).reshape(cfg.n_tx, cfg.n_rx)[None, :, :, None, None]
    zv = np.asarray(cfg.virtual_elevation, float).reshape(cfg.n_tx, cfg.n_rx)[None, :, :, None, None]
    rot = np.asarray(cfg.phase_rotation, float).reshape(cfg.n_tx, cfg.n_rx)[None, :, :, None, None]
    t_chirp = (m * cfg.n_tx + i) * cfg.chirp_time + cfg.adc_start_time
    for a in range(0, len(pos), 16):
        p, v, sg = pos[a : a + 16], vel[a : a + 16], rcs[a : a + 16]
        r = np.linalg.norm(p, axis=1)
        u = p / r[:, None]
        f_d = 2.0 * np.sum(v * u, axis=1) / cfg.wavelength
        amp = np.sqrt(received_power(cfg, r, sg))
        ph = (4 * np.pi * r / lam0 + 2 * np.pi * f_d * t_chirp + np.pi * (xv * u[:, 0] + zv * u[:, 2])
              + 2 * np.pi * (2 * cfg.slope * r / SPEED_OF_LIGHT + f_d) * s / cfg.sample_rate)
        out += np.sum(amp * rot * np.exp(1j * ph), axis=-1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--preset", default="iwr6843isk")
    ap.add_argument("--scatterers", type=int, nargs="+", default=[32, 64, 128, 256, 355, 512, 1000, 2000])
    ap.add_argument("--repeat", type=int, default=30, help="timed calls per method and size (interleaved)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    cfg = RadarConfig.preset(args.preset)
    print(f"python {platform.python_version()}, numpy {np.__version__}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}; preset {cfg.name} ({cfg.n_loops} loops x {cfg.n_tx} TX x "
          f"{cfg.n_rx} RX x {cfg.n_samples} samples); FFT backend {backend()}; one BLAS thread; "
          f"median of {args.repeat} interleaved calls")
    head = f"{'scatterers':>10} {'direct ms':>10} {'gridded ms':>11} {'gridded/direct':>15} {'err direct':>11} {'err gridded':>12}"
    print(head)
    print("-" * len(head))
    with blas_limit(1):
        for n in args.scatterers:
            pos, vel, rcs = scene(cfg, n, args.seed)
            ref = reference(cfg, pos, vel, rcs)
            peak = float(np.abs(ref).max())
            times: dict[str, list[float]] = {"direct": [], "gridded": []}
            errs = {}
            for method in times:
                got = simulate_adc(cfg, pos, vel, rcs, noise=False, method=method)  # warm-up (plans, buffers)
                errs[method] = float(np.abs(got.astype(np.complex128) - ref).max()) / peak
            for _ in range(args.repeat):
                for method in times:
                    t0 = time.perf_counter()
                    simulate_adc(cfg, pos, vel, rcs, noise=False, method=method)
                    times[method].append(time.perf_counter() - t0)
            d, g = (1e3 * statistics.median(times[k]) for k in ("direct", "gridded"))
            print(f"{n:>10} {d:>10.2f} {g:>11.2f} {g / d:>15.2f} {errs['direct']:>11.1e} {errs['gridded']:>12.1e}")


if __name__ == "__main__":
    main()
