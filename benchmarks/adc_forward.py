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

from mmsight.radar.config import RadarConfig
from mmsight.radar.forward import simulate_adc, simulate_adc_reference
from mmsight.utils.fft import backend
from mmsight.utils.threads import blas_limit


def scene(cfg: RadarConfig, n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n_body = (6 * n) // 10
    r = np.concatenate([rng.uniform(2.5, 3.3, n_body), rng.uniform(3.0, min(6.0, 0.95 * cfg.max_range), n - n_body)])
    az, el = rng.uniform(-0.6, 0.6, n), rng.uniform(-0.3, 0.3, n)
    pos = r[:, None] * np.c_[np.cos(el) * np.sin(az), np.cos(el) * np.cos(az), np.sin(el)]
    return pos, rng.normal(0, 1.0, (n, 3)), 10 ** rng.uniform(-4, -1, n)


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
            ref = simulate_adc_reference(cfg, pos, vel, rcs)
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
