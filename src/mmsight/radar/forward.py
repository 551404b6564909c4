"""FMCW forward model: point scatterers -> TDM-MIMO ADC cube of one frame.

Signal model (radar-physics.md 2.1, complex baseband, IF = f_TX - f_RX, residual video phase
dropped). For scatterer ``k`` at range ``R_k``, direction cosines ``(u_x, u_z) = (x/R, z/R)`` and
radial velocity ``v_k`` (positive = moving away), chirp slot ``c = m * n_tx + i`` (loop ``m``, TX slot
``i``) and virtual channel ``v = i * n_rx + r``::

    y[m, i, r, s] = sum_k  A_k * rot[v]
                    * exp(j 4 pi R_k / lambda_0)                     carrier phase at the first ADC sample
                    * exp(j 2 pi f_D,k (c T_c + t_adc))              Doppler over chirps, incl. the TDM slot offset
                    * exp(j pi (x_v u_x,k + z_v u_z,k))              far-field steering (config convention)
                    * exp(j 2 pi (2 S R_k / c0 + f_D,k) s / f_s)     beat frequency + intra-chirp Doppler
                    + n[m, i, r, s]

with ``f_D = 2 v / lambda`` (``lambda`` = :attr:`RadarConfig.wavelength`, the centre of the sampled
ramp, so that the chain's velocity axis is exact), ``lambda_0 = c0 / (f_start + S t_adc)`` and
``t_adc`` = :attr:`RadarConfig.adc_start_time`. The amplitude follows the radar equation,
``A_k = sqrt(P_t G_t G_r lambda^2 sigma_k / ((4 pi)^3 R_k^4 L))`` volts across a 1-ohm reference, and
the complex thermal noise has ``E|n|^2 = k T0 F f_s`` (:attr:`RadarConfig.noise_power`), so the SNR
of one ADC sample is ``A_k^2 / noise_power``. With real sampling the real part is returned (signal
and noise power both halve, the per-sample SNR is unchanged).

Not modelled: antenna element patterns (isotropic in the half space), IF high-/low-pass filter
roll-off, TX-RX leakage, phase noise, ADC quantisation/saturation, multipath, range migration within
one frame for the constant-velocity path (``v T_frame`` of a few mm against cm bins; the per-chirp
path ``positions_per_chirp`` is exact).
"""

from __future__ import annotations

import functools
import math
import threading

import numpy as np

from mmsight.radar.config import SPEED_OF_LIGHT, RadarConfig
from mmsight.utils.threads import blas_limit

__all__ = ["received_power", "simulate_adc", "simulate_adc_reference", "sample_snr"]

_CHUNK = 2048  # scatterers per vectorised block (memory bound: ~ n_chirps*n_rx*CHUNK complex)


def _link_factor(config: RadarConfig) -> float:
    """``P_t G_t G_r lambda^2 / ((4 pi)^3 L)`` in W m^2 (multiply by sigma / R^4 for P_r)."""
    p_t = 10 ** (config.tx_power_dbm / 10.0) * 1e-3
    g = 10 ** ((config.tx_gain_dbi + config.rx_gain_dbi) / 10.0)
    loss = 10 ** (config.system_loss_db / 10.0)
    return p_t * g * config.wavelength**2 / ((4.0 * math.pi) ** 3 * loss)


def received_power(config: RadarConfig, ranges: np.ndarray, rcs: np.ndarray) -> np.ndarray:
    """Radar-equation received power per scatterer, W.

    Args:
        config: the radar.
        ranges: float [N] m.
        rcs: float [N] m^2.

    Returns:
        float64 [N], ``P_t G_t G_r lambda^2 sigma / ((4 pi)^3 R^4 L)``.
    """
    ranges = np.asarray(ranges, dtype=np.float64)
    return _link_factor(config) * np.asarray(rcs, dtype=np.float64) / ranges**4


def sample_snr(config: RadarConfig, ranges: np.ndarray, rcs: np.ndarray) -> np.ndarray:
    """Per-ADC-sample SNR (linear) predicted by the radar equation: ``P_r / (k T0 F f_s)``.

    After a range FFT of ``n_samples`` and a Doppler FFT of ``n_loops`` (rectangular windows, target
    on a bin) the SNR in one virtual channel's range-Doppler cell is this times
    ``n_samples * n_loops`` (times the windows' coherent-to-noise gain otherwise).
    """
    return received_power(config, ranges, rcs) / config.noise_power


def _as_float_array(value: object, name: str, shape_tail: tuple[int, ...]) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a numeric array: {exc}") from exc
    if arr.ndim != 1 + len(shape_tail) or arr.shape[1:] != shape_tail:
        want = "[N" + "".join(f", {d}" for d in shape_tail) + "]"
        raise ValueError(f"{name} must have shape {want}, got {arr.shape}")
    bad = ~np.isfinite(arr)
    if bad.any():
        idx = np.argwhere(bad)[0]
        raise ValueError(f"{name} has a non-finite value at index {tuple(int(i) for i in idx)}")
    return arr


def _check_ranges(ranges: np.ndarray, config: RadarConfig, name: str) -> None:
    """``ranges``: float [..., N]; raise naming the first scatterer at R~0 or beyond max range."""
    r_min = 1e-3  # 1 mm: the far-field/point model is meaningless at the antenna itself
    too_close = ranges < r_min
    if too_close.any():
        idx = tuple(int(i) for i in np.argwhere(too_close)[0])
        raise ValueError(f"{name}[{idx}] is at range {float(ranges[idx]):.3g} m (< {r_min} m, the antenna itself)")
    too_far = ranges >= config.max_range
    if too_far.any():
        idx = tuple(int(i) for i in np.argwhere(too_far)[0])
        raise ValueError(
            f"{name}[{idx}] is at range {float(ranges[idx]):.3f} m, beyond the maximum range "
            f"{config.max_range:.3f} m of config {config.name!r} (its beat frequency would alias)"
        )


def _rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def thermal_noise(
    config: RadarConfig, shape: tuple[int, ...], rng: np.random.Generator | int | None = None
) -> np.ndarray:
    """Complex white Gaussian noise with ``E|n|^2 = config.noise_power``: complex64 ``shape``.

    The draws come from :func:`mmsight.utils.random.standard_normal_f32` (PyTorch's vectorised
    generator, seeded from ``rng``: about 3x faster than NumPy's ziggurat, deterministic per ``rng``)."""
    from mmsight.utils.random import standard_normal_f32

    gen = _rng(rng)
    sigma = math.sqrt(config.noise_power / 2.0)
    noise = standard_normal_f32(gen, (*shape, 2))
    noise *= np.float32(sigma)
    return noise.view(np.complex64)[..., 0]


def simulate_adc(
    config: RadarConfig,
    positions: np.ndarray,
    velocities: np.ndarray,
    rcs: np.ndarray,
    *,
    noise: bool = True,
    rng: np.random.Generator | int | None = None,
    positions_per_chirp: np.ndarray | None = None,
    method: str = "auto",
) -> np.ndarray:
    """Simulate the ADC cube of one frame for point scatterers.

    Args:
        config: chirp profile, TDM-MIMO order and virtual array.
        positions: float [N, 3] m, radar frame (+x right, +y boresight, +z up) at the start of the frame.
        velocities: float [N, 3] m/s. Constant over the frame; with ``positions_per_chirp`` they only
            set the intra-chirp Doppler term.
        rcs: float [N] m^2, >= 0.
        noise: add complex thermal noise of power :attr:`RadarConfig.noise_power` per sample.
        rng: seed or generator for the noise.
        positions_per_chirp: optional float [n_loops, n_tx, N, 3] m, each scatterer's position at each
            chirp (for micro-motion: vibrating, rotating or articulated parts). When given, range,
            direction and the phase history come from it (exact, incl. range migration) and
            ``positions`` is only validated.
        method: how the constant-velocity path sums the scatterers' fast-time exponentials:
            ``"direct"`` (one matrix product with the ``[N, n_samples]`` table), ``"gridded"`` (a
            non-uniform FFT, ~3x faster for a few hundred scatterers, same accuracy: ~3e-7 of the
            peak) or ``"auto"`` (gridded from 128 scatterers and 32 samples on).

    Returns:
        complex64 [n_loops, n_tx, n_rx, n_samples], volts (1-ohm reference). With
        ``config.complex_sampling == False`` the imaginary part is zero (real ADC samples).

    Raises:
        ValueError: wrong shapes, non-finite values, negative RCS, a scatterer at R ~ 0 or at or
            beyond :attr:`RadarConfig.max_range` (the message names the argument and index).
    """
    if method not in ("auto", "direct", "gridded"):
        raise ValueError(f"method must be 'auto', 'direct' or 'gridded', got {method!r}")
    pos = _as_float_array(positions, "positions", (3,))
    n = pos.shape[0]
    vel = _as_float_array(velocities, "velocities", (3,))
    if vel.shape[0] != n:
        raise ValueError(f"velocities has {vel.shape[0]} rows but positions has {n}")
    sig = np.asarray(rcs, dtype=np.float64)
    if sig.ndim != 1 or sig.shape[0] != n:
        raise ValueError(f"rcs must have shape [N] = [{n}], got {sig.shape}")
    if not np.isfinite(sig).all():
        raise ValueError(f"rcs has a non-finite value at index {int(np.argwhere(~np.isfinite(sig))[0, 0])}")
    if (sig < 0).any():
        i = int(np.argwhere(sig < 0)[0, 0])
        raise ValueError(f"rcs[{i}] = {sig[i]} is negative (RCS is a power cross-section, m^2 >= 0)")
    ranges = np.linalg.norm(pos, axis=1)
    _check_ranges(ranges, config, "positions")

    shape = (config.n_loops, config.n_tx, config.n_rx, config.n_samples)
    if positions_per_chirp is not None:
        ppc = np.asarray(positions_per_chirp, dtype=np.float64)
        want = (config.n_loops, config.n_tx, n, 3)
        if ppc.shape != want:
            raise ValueError(f"positions_per_chirp must have shape [n_loops, n_tx, N, 3] = {list(want)}, got {ppc.shape}")
        if not np.isfinite(ppc).all():
            idx = tuple(int(i) for i in np.argwhere(~np.isfinite(ppc))[0])
            raise ValueError(f"positions_per_chirp has a non-finite value at index {idx}")
        _check_ranges(np.linalg.norm(ppc, axis=-1), config, "positions_per_chirp")
        with blas_limit(1):  # small batched products: BLAS threads only cost time here
            signal = _per_chirp(config, ppc, vel, sig)
    else:
        with blas_limit(1):
            signal = _constant_velocity(config, pos, vel, sig, ranges, method)

    if noise:
        signal += thermal_noise(config, shape, rng)
    if not config.complex_sampling:
        signal.imag = 0.0
    return signal


def simulate_adc_reference(
    config: RadarConfig, positions: np.ndarray, velocities: np.ndarray, rcs: np.ndarray, chunk: int = 16
) -> np.ndarray:
    """The noise-free constant-velocity signal model of the module docstring evaluated term by term in
    complex128: ``complex128 [n_loops, n_tx, n_rx, n_samples]``.

    The oracle for :func:`simulate_adc` (its tables, factorisation and gridded sum are tested and
    benchmarked against it); slow (``N * n_chirps * n_rx * n_samples`` exponentials), for a few hundred
    scatterers at most. ``chunk`` scatterers are summed at a time (memory)."""
    pos = _as_float_array(positions, "positions", (3,))
    vel = _as_float_array(velocities, "velocities", (3,))
    sig = np.asarray(rcs, dtype=np.float64).reshape(-1)
    if not (len(pos) == len(vel) == len(sig)):
        raise ValueError(f"positions, velocities and rcs have {len(pos)}, {len(vel)} and {len(sig)} rows")
    out = np.zeros((config.n_loops, config.n_tx, config.n_rx, config.n_samples), np.complex128)
    lam0 = SPEED_OF_LIGHT / (config.start_frequency + config.slope * config.adc_start_time)
    m = np.arange(config.n_loops)[:, None, None, None, None]
    i = np.arange(config.n_tx)[None, :, None, None, None]
    s = np.arange(config.n_samples)[None, None, None, :, None]
    xv, zv, rot = (a[None, :, :, None, None] for a in _steering_terms(config))
    t_chirp = (m * config.n_tx + i) * config.chirp_time + config.adc_start_time
    for a in range(0, len(pos), max(1, int(chunk))):
        p, v, sg = pos[a : a + chunk], vel[a : a + chunk], sig[a : a + chunk]
        r = np.linalg.norm(p, axis=1)
        u = p / r[:, None]
        f_d = 2.0 * np.sum(v * u, axis=1) / config.wavelength
        amp = np.sqrt(received_power(config, r, sg))
        phase = (4 * np.pi * r / lam0 + 2 * np.pi * f_d * t_chirp + np.pi * (xv * u[:, 0] + zv * u[:, 2])
                 + 2 * np.pi * (2 * config.slope * r / SPEED_OF_LIGHT + f_d) * s / config.sample_rate)
        out += np.sum(amp * rot * np.exp(1j * phase), axis=-1)
    return out


def _steering_terms(config: RadarConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x_v, z_v, rot_v), each float64 [n_tx, n_rx]."""
    xv = np.asarray(config.virtual_azimuth, dtype=np.float64).reshape(config.n_tx, config.n_rx)
    zv = np.asarray(config.virtual_elevation, dtype=np.float64).reshape(config.n_tx, config.n_rx)
    rot = np.asarray(config.phase_rotation, dtype=np.float64).reshape(config.n_tx, config.n_rx)
    return xv, zv, rot


def _split_exp(phase_step: np.ndarray, n: int, dtype: type = np.complex128) -> np.ndarray:
    """``exp(1j * phase_step[k] * s)`` for ``s = 0 .. n-1``: ``[K, n]`` of ``dtype``.

    Built from two short tables, ``s = hi * B + lo``: ``exp(j w lo)`` ``[K, B]`` times ``exp(j w B hi)``
    ``[K, n / B]``, each the running product of one complex exponential (``exp(j w)``, ``exp(j w B)``),
    so only ``2 K`` exponentials are evaluated instead of ``K n``. Everything is complex128 (the result
    rounded to ``dtype``): the running products add ~1e-16 per step (< 1e-13 against direct evaluation
    for n = 256, as direct evaluation's own rounding of the phases ``w s``), far below complex64's 6e-8."""
    block = 1 << max(0, (int(n).bit_length() - 1) // 2)  # ~sqrt(n), a power of two
    if n % block:
        return np.exp(1j * phase_step[:, None] * np.arange(n)[None, :]).astype(dtype, copy=False)
    k, n_hi = len(phase_step), n // block
    lo = _powers(np.exp(1j * phase_step), block)  # [K, B]
    hi = _powers(np.exp(1j * phase_step * block), n_hi)  # [K, n/B]
    out = np.empty((k, n_hi, block), dtype=dtype)
    np.multiply(hi[:, :, None], lo[:, None, :], out=out)  # complex128 products, rounded on store
    return out.reshape(k, n)


def _powers(z: np.ndarray, n: int) -> np.ndarray:
    """``z[k] ** m`` for ``m = 0 .. n-1`` as running products: complex128 ``[K, n]``."""
    out = np.empty((len(z), n), dtype=np.complex128)
    out[:, 0] = 1.0
    if n > 1:
        out[:, 1:] = z[:, None]
        np.cumprod(out, axis=1, out=out)
    return out


def _constant_velocity(
    config: RadarConfig, pos: np.ndarray, vel: np.ndarray, sig: np.ndarray, ranges: np.ndarray, method: str = "auto"
) -> np.ndarray:
    """Factorised sum over scatterers: ``[chirp x channel, k] x [k, sample]`` per chunk of scatterers.

    The exponentials are separable: the fast-time factor ``exp(j w_k s)`` and the slow-time factor
    ``exp(j 2 pi f_D (c T_c + t_adc))`` over chirps ``c = m n_tx + i`` are products of short tables
    (:func:`_split_exp`; loops x TX slots). The left factor is one complex64 product of the loop table
    ``[L, K]`` with the per-channel factor (slot phase x amplitude x steering, ``[T R, K]``).

    The sum over scatterers of ``left[:, k] exp(j w_k s)`` is either the direct matrix product with the
    fast-time table (``method="direct"``) or a gridded non-uniform FFT (``"gridded"``,
    :class:`_FastTimeGrid`: spreading on a 2x oversampled grid, one FFT per row, deconvolution), which
    costs ``~ (block + width) K + 2 n_samples log(2 n_samples)`` instead of ``n_samples K`` multiply-adds
    per row (``benchmarks/adc_forward.py``: 0.5x the time for 355 scatterers, 0.34x for 2000). ``"auto"`` takes the
    gridded sum from :data:`_GRIDDED_MIN_SCATTERERS` scatterers and :data:`_GRIDDED_MIN_SAMPLES` samples
    on. Both agree with a complex128 evaluation to ~3e-7 of the cube's peak (complex64 rounding and
    the gridding kernel's 1e-7)."""
    if method not in ("auto", "direct", "gridded"):
        raise ValueError(f"method must be 'auto', 'direct' or 'gridded', got {method!r}")
    n_l, n_t, n_r, n_s = config.n_loops, config.n_tx, config.n_rx, config.n_samples
    n = pos.shape[0]
    if n == 0:
        return np.zeros((n_l, n_t, n_r, n_s), dtype=np.complex64)
    lam = config.wavelength
    f_first = config.start_frequency + config.slope * config.adc_start_time
    xv, zv, rot = _steering_terms(config)
    amp = np.sqrt(received_power(config, ranges, sig))
    w_loop = 2.0 * np.pi * n_t * config.chirp_time  # rad per Hz of Doppler per loop
    t_slot = np.arange(n_t) * config.chirp_time + config.adc_start_time  # [T] s, TDM slot offsets
    w_sample = 2.0 * np.pi / config.sample_rate
    u_all = pos / ranges[:, None]  # direction cosines [N, 3]
    f_d_all = 2.0 * np.einsum("kd,kd->k", vel, u_all) / lam  # Hz (radial velocity, + = receding)
    x_all = w_sample * (2.0 * config.slope * ranges / SPEED_OF_LIGHT + f_d_all)  # rad/sample: beat + intra-chirp Doppler
    gridded = method == "gridded" or (method == "auto" and n >= _GRIDDED_MIN_SCATTERERS and n_s >= _GRIDDED_MIN_SAMPLES)
    grid = _FastTimeGrid(n_s, n_l * n_t * n_r, x_all) if gridded else None
    order = grid.order if grid is not None else None
    if order is not None:  # scatterers sorted by grid cell: each spreading block is a contiguous run
        ranges, amp, u_all, f_d_all, x_all = ranges[order], amp[order], u_all[order], f_d_all[order], x_all[order]
    out = np.zeros((n_l * n_t * n_r, n_s), dtype=np.complex64) if grid is None else None

    for lo in range(0, n, _CHUNK):
        hi = min(n, lo + _CHUNK)
        r = ranges[lo:hi]
        u = u_all[lo:hi]
        f_d = f_d_all[lo:hi]
        carrier = 4.0 * np.pi * r * f_first / SPEED_OF_LIGHT
        # slow time: loop m, slot i -> exp(j (carrier + 2 pi f_D (i T_c + t_adc))) * exp(j 2 pi f_D m n_tx T_c)
        per_slot = amp[lo:hi] * np.exp(1j * (carrier[None, :] + 2.0 * np.pi * f_d[None, :] * t_slot[:, None]))  # [T, K]
        per_loop = _split_exp(w_loop * f_d, n_l, np.complex64).T  # [L, K]
        steer_phase = np.pi * (xv[:, :, None] * u[None, None, :, 0] + zv[:, :, None] * u[None, None, :, 2])
        # per channel (slot t, receiver r): slot phase x steering, then one product with the loops
        channel = (per_slot[:, None, :] * rot[:, :, None] * np.exp(1j * steer_phase)).astype(np.complex64)  # [T, R, K]
        left = np.empty((n_l, n_t * n_r, hi - lo), dtype=np.complex64)
        np.multiply(per_loop[:, None, :], channel.reshape(1, n_t * n_r, hi - lo), out=left)
        left = left.reshape(n_l * n_t * n_r, hi - lo)
        if grid is not None:
            grid.spread(left, lo, hi)
            continue
        fast = _split_exp(x_all[lo:hi], n_s, np.complex64)  # [K, S]
        if lo == 0:
            np.matmul(left, fast, out=out)  # the first (usually only) chunk: no temporary
        else:
            out += left @ fast
    if grid is not None:
        out = grid.finish()
    return out.reshape(n_l, n_t, n_r, n_s)


_GRIDDED_MIN_SCATTERERS = 128  # below ~100 the direct product is as fast (benchmarks/adc_forward.py)
_GRIDDED_MIN_SAMPLES = 32
_GRID_WIDTH = 8  # kernel width in grid points: ~1e-7 relative error on a 2x grid (Barnett et al. 2019)
_GRID_BLOCK = 16  # grid columns per spreading product (16-24 fastest for 100-800 scatterers)


_WORK = threading.local()


def _work_array(name: str, shape: tuple[int, int]) -> np.ndarray:
    """A complex64 work array of this thread, reused across calls (aligned for the FFT; a fresh one of
    a few MB per frame costs page faults and a new FFT plan)."""
    from mmsight.utils.fft import empty_aligned

    store = getattr(_WORK, "arrays", None)
    if store is None:
        store = _WORK.arrays = {}
    key = (name, shape)
    arr = store.get(key)
    if arr is None:
        if len(store) > 16:
            store.clear()
        arr = store[key] = empty_aligned(shape, np.complex64)
    return arr


@functools.lru_cache(maxsize=16)
def _es_kernel(n_s: int, width: int) -> tuple[int, float, float, np.ndarray]:
    """Grid size ``M = 2 n_s``, kernel shape ``beta``, half width (rad) and the deconvolution factors
    ``h / phi_hat(m)`` for the output samples ``s = 0 .. n_s-1`` (mode ``m = s - n_s // 2``).

    The "exponential of semicircle" kernel ``phi(t) = exp(beta (sqrt(1 - (t / a)^2) - 1))`` on
    ``|t| <= a = width * h / 2`` with ``beta = 2.30 width`` (FINUFFT's choice for a 2x grid; Barnett,
    Magland and af Klinteberg, SIAM J. Sci. Comput. 41(5), 2019); its Fourier transform
    ``phi_hat(m) = a int_{-1}^{1} phi(a z) cos(m a z) dz`` by Gauss-Legendre quadrature."""
    m_grid = 2 * n_s
    h = 2.0 * np.pi / m_grid
    half = width * h / 2.0
    beta = 2.30 * width
    z, wq = np.polynomial.legendre.leggauss(2 * width + 48)
    phi = np.exp(beta * (np.sqrt(1.0 - z * z) - 1.0))
    modes = np.arange(n_s) - n_s // 2
    phi_hat = half * ((wq * phi) @ np.cos(np.outer(z * half, modes)))
    return m_grid, beta, half, (h / phi_hat).astype(np.float32)


class _FastTimeGrid:
    """``out[row, s] = sum_k left[row, k] exp(j x_k s)`` (``s = 0 .. n_s-1``) as a type-1 non-uniform FFT.

    Each scatterer's ``left[:, k] exp(j (n_s // 2) x_k)`` is spread onto the ``width`` nearest points of
    a periodic grid of ``M = 2 n_s`` points over ``[0, 2 pi)`` with the kernel of :func:`_es_kernel`;
    one inverse FFT per row (:func:`mmsight.utils.fft.fft_inplace`) gives the kernel-weighted sums at
    the integer modes, and dividing by the kernel's Fourier transform leaves the wanted sums. The
    spreading is a few small dense products: scatterers sorted by grid cell (``order``), grouped in
    blocks of :data:`_GRID_BLOCK` cells, each block a ``[rows, K_b] x [K_b, block + width - 1]``
    product into an extended grid that is folded back periodically.
    """

    def __init__(self, n_s: int, n_rows: int, x: np.ndarray) -> None:
        w, blk = _GRID_WIDTH, _GRID_BLOCK
        self.n_s, self.m_grid, beta, half, self.deconv = n_s, *_es_kernel(n_s, w)
        self.h = 2.0 * np.pi / self.m_grid
        xm = np.mod(x, 2.0 * np.pi)
        first = np.ceil((xm - half) / self.h).astype(np.int64)  # first grid point within the kernel's support
        ext = first + w  # >= w // 2 >= 0: index into the extended grid (w columns of margin on the left)
        self.order = np.argsort(ext, kind="stable")
        ext, xm, xs = ext[self.order], xm[self.order], np.asarray(x)[self.order]
        z = ((first[self.order][:, None] + np.arange(w)[None, :]) * self.h - xm[:, None]) / half  # [K, w] in [-1, 1]
        wt = np.exp(beta * (np.sqrt(np.clip(1.0 - z * z, 0.0, None)) - 1.0))
        wt *= np.abs(z) <= 1.0
        # modes m = s - n_s // 2: the shift exp(j (n_s // 2) x_k) moves them to s = 0 .. n_s-1
        weights = wt * np.exp(1j * (n_s // 2) * xs)[:, None]
        block = ext // blk
        self.cuts = np.searchsorted(block, np.arange(block[-1] + 2)) if len(block) else np.zeros(1, np.int64)
        n_k = len(ext)
        self.spread_mat = np.zeros((n_k, blk + w - 1), dtype=np.complex64)  # row k: its weights at its block's columns
        self.spread_mat[np.arange(n_k)[:, None], (ext - block * blk)[:, None] + np.arange(w)[None, :]] = weights
        # the extended grid: used up to the last block's end; allocated at its largest possible width
        # (the first point is at most M - w / 2 + 1), so the same work array serves every call
        self.n_ext = max((int(block[-1]) + 1) * blk + w if n_k else 0, self.m_grid + 2 * w)
        width = max(((self.m_grid + w // 2 + 1 + w) // blk + 1) * blk + w, self.m_grid + 2 * w)
        if self.n_ext > width:  # pragma: no cover - guarded by the bound above
            raise AssertionError(f"gridded sum: extended grid {self.n_ext} > {width}")
        self.ext = _work_array("ext", (n_rows, width))
        self.ext[:, : self.n_ext] = 0

    def spread(self, left: np.ndarray, lo: int, hi: int) -> None:
        """Add the (sorted) scatterers ``lo:hi`` with their left factors ``left [rows, hi - lo]``."""
        blk, w = _GRID_BLOCK, _GRID_WIDTH
        cuts = np.clip(self.cuts, lo, hi)
        for b in np.flatnonzero(cuts[1:] > cuts[:-1]):
            a, e = int(cuts[b]), int(cuts[b + 1])
            c0 = int(b) * blk
            self.ext[:, c0 : c0 + blk + w - 1] += left[:, a - lo : e - lo] @ self.spread_mat[a:e]

    def finish(self) -> np.ndarray:
        """The sums ``[rows, n_s]`` (complex64)."""
        from mmsight.utils.fft import fft

        m, w, n_s = self.m_grid, _GRID_WIDTH, self.n_s
        ext = self.ext
        grid = _work_array("grid", (ext.shape[0], m))  # the same arrays every frame: their FFT plan is reused
        np.copyto(grid, ext[:, w : w + m])  # extended column c is grid point (c - w) mod M
        grid[:, m - w :] += ext[:, :w]
        tail = ext[:, w + m : self.n_ext]
        for p in range(0, tail.shape[1], m):
            part = tail[:, p : p + m]
            grid[:, : part.shape[1]] += part
        grid = fft(grid, axis=1, inverse=True, out=_work_array("modes", grid.shape))  # sum_l grid[l] exp(+j m l h)
        half = n_s // 2
        out = np.empty((ext.shape[0], n_s), dtype=np.complex64)
        # modes m = s - n_s // 2 < 0 sit at grid index M + m
        np.multiply(grid[:, m - half :], self.deconv[:half], out=out[:, :half])
        np.multiply(grid[:, : n_s - half], self.deconv[half:], out=out[:, half:])
        return out


def _per_chirp(config: RadarConfig, ppc: np.ndarray, vel: np.ndarray, sig: np.ndarray) -> np.ndarray:
    """Exact per-chirp model: batched [chirp] x ([R, K] @ [K, S]) products, chunked over K."""
    n_l, n_t, n_r, n_s = config.n_loops, config.n_tx, config.n_rx, config.n_samples
    n = ppc.shape[2]
    n_c = n_l * n_t
    out = np.zeros((n_c, n_r, n_s), dtype=np.complex64)
    if n == 0:
        return out.reshape(n_l, n_t, n_r, n_s)
    lam = config.wavelength
    f_first = config.start_frequency + config.slope * config.adc_start_time
    xv, zv, rot = _steering_terms(config)
    p = ppc.reshape(n_c, n, 3)
    ranges = np.linalg.norm(p, axis=-1)  # [C, K]
    slot = np.tile(np.arange(n_t), n_l)  # TX slot of each chirp [C]
    # split the sample index s = 16 * hi + lo to build exp(j a s) from two short exponentials
    split = 16 if n_s % 16 == 0 else 1
    s_lo = np.arange(split)
    s_hi = np.arange(n_s // split) * split
    chunk = max(1, _CHUNK // 8)
    for lo in range(0, n, chunk):
        hi = min(n, lo + chunk)
        r = ranges[:, lo:hi]  # [C, K]
        u = p[:, lo:hi] / r[..., None]  # [C, K, 3]
        v_rad = np.einsum("kd,ckd->ck", vel[lo:hi], u)
        f_d = 2.0 * v_rad / lam
        amp = np.sqrt(received_power(config, r, sig[None, lo:hi]))  # [C, K]
        carrier = amp * np.exp(1j * 4.0 * np.pi * r * f_first / SPEED_OF_LIGHT)  # [C, K]
        steer_phase = np.pi * (xv[slot][:, :, None] * u[:, None, :, 0] + zv[slot][:, :, None] * u[:, None, :, 2])
        left = (carrier[:, None, :] * rot[slot][:, :, None] * np.exp(1j * steer_phase)).astype(np.complex64)  # [C, R, K]
        w = 2.0 * np.pi * (2.0 * config.slope * r / SPEED_OF_LIGHT + f_d) / config.sample_rate  # rad/sample [C, K]
        e_lo = np.exp(1j * w[..., None] * s_lo).astype(np.complex64)  # [C, K, split]
        e_hi = np.exp(1j * w[..., None] * s_hi).astype(np.complex64)  # [C, K, S/split]
        fast = (e_hi[..., :, None] * e_lo[..., None, :]).reshape(n_c, hi - lo, n_s)  # [C, K, S]
        out += np.matmul(left, fast)
    return out.reshape(n_l, n_t, n_r, n_s)
