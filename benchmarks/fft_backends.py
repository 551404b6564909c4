"""Benchmark: the FFT backends of :mod:`mmsight.utils.fft` (scipy.fft vs FFTW) on the radar code's transforms.

Times, in this process with one thread and the backends interleaved, the transforms the signal chain
and the forward model make every frame (range FFT, Doppler FFT, the gridded fast-time sum's inverse
FFT) on reused work arrays, and one whole :meth:`SignalChain.process` call on a simulated frame.
Prints the median time per call for each backend and the ratio.

    python benchmarks/fft_backends.py
    python benchmarks/fft_backends.py --preset iwr6843aop --repeat 200
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np

from mmsight.radar.chain import SignalChain
from mmsight.radar.config import RadarConfig
from mmsight.radar.forward import simulate_adc
from mmsight.utils import fft as F
from mmsight.utils.threads import blas_limit


def _interleaved(fns: dict[str, Callable[[], object]], setup: dict[str, Callable[[], None]], repeat: int) -> dict[str, float]:
    times: dict[str, list[float]] = {k: [] for k in fns}
    for k in fns:  # warm-up: plans, buffers
        setup[k]()
        fns[k]()
    for _ in range(repeat):
        for k, f in fns.items():
            setup[k]()
            t0 = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t0)
    return {k: 1e3 * statistics.median(v) for k, v in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--preset", default="iwr6843isk")
    ap.add_argument("--repeat", type=int, default=100)
    args = ap.parse_args()
    if not F._have_fftw():
        raise SystemExit("pyFFTW is not installed (pip install 'mmsight[fftw]'): nothing to compare")
    cfg = RadarConfig.preset(args.preset)
    n_l, n_v, n_s = cfg.n_loops, cfg.n_tx * cfg.n_rx, cfg.n_samples
    rng = np.random.default_rng(0)
    print(f"python {platform.python_version()}, numpy {np.__version__}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}; preset {cfg.name}; one thread; median of {args.repeat} "
          "interleaved calls")
    shapes = [
        ("range FFT", (n_l, n_v, n_s), -1, False),
        ("Doppler FFT", (n_l, n_v, n_s), 0, False),
        ("gridded sum's inverse FFT", (n_l * n_v, 2 * n_s), 1, True),
    ]
    head = f"{'transform':<28} {'shape':<16} {'scipy ms':>9} {'fftw ms':>8} {'fftw/scipy':>11}"
    print(head)
    print("-" * len(head))
    before = F.backend()
    try:
        with blas_limit(1):
            for name, shape, axis, inverse in shapes:
                x = (rng.normal(size=shape) + 1j * rng.normal(size=shape)).astype(np.complex64)
                src, dst = F.empty_aligned(shape), F.empty_aligned(shape)
                fns = {b: (lambda: F.fft(src, axis, out=dst, inverse=inverse)) for b in ("scipy", "fftw")}
                res = _interleaved(fns, {b: (lambda b=b: (F.use_backend(b), np.copyto(src, x))) for b in fns}, args.repeat)
                print(f"{name:<28} {str(list(shape)):<16} {res['scipy']:>9.3f} {res['fftw']:>8.3f} {res['fftw'] / res['scipy']:>11.2f}")
            pos = np.c_[rng.uniform(-2, 2, 300), rng.uniform(1, 6, 300), rng.uniform(-1, 1, 300)]
            adc = simulate_adc(cfg, pos, rng.normal(0, 1, (300, 3)), rng.uniform(0, 0.01, 300), rng=1)
            chains = {b: SignalChain(cfg) for b in ("scipy", "fftw")}
            fns = {b: (lambda b=b: chains[b].process(adc)) for b in chains}
            res = _interleaved(fns, {b: (lambda b=b: F.use_backend(b)) for b in chains}, args.repeat)
            print(f"{'SignalChain.process (frame)':<28} {str(list(adc.shape)):<16} {res['scipy']:>9.3f} {res['fftw']:>8.3f} "
                  f"{res['fftw'] / res['scipy']:>11.2f}")
    finally:
        F.use_backend(before)


if __name__ == "__main__":
    main()
