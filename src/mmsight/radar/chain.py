"""The radar signal chain: ADC cube -> range-Doppler and range-azimuth maps, point cloud, clusters.

Modelled on TI's mmWave SDK out-of-box demo (radar-physics.md 2.2-2.6):

    ADC [n_loops, n_tx, n_rx, n_samples]
      -> windowed range FFT (per chirp and channel)
      -> static clutter removal (optional: subtract each range bin's mean over chirps)
      -> windowed Doppler FFT (per range bin and channel, fftshifted)
      -> non-coherent sum over the virtual channels: range-Doppler map
      -> 2D CFAR on the range-Doppler map (range bins inside [min_range, max_range])
      -> peak grouping (local maxima among the detections)
      -> per detection: TDM-MIMO Doppler compensation, azimuth FFT peak (or Capon), elevation
      -> x, y, z, radial velocity, SNR; field-of-view gating
      -> clusters (optional DBSCAN)

and, for the whole frame, a range-azimuth map (FFT beamforming over the azimuth ULA of the
TDM-compensated Doppler cube, power summed over Doppler bins; or Capon). The hot path uses
precomputed windows, DFT/beam matrices and FFTs between reused work arrays
(:mod:`mmsight.utils.fft`: FFTW when installed, else :mod:`scipy.fft`) so that one iwr6843isk frame
takes about a millisecond or two on one core; :meth:`SignalChain.process_batch` amortises the FFTs over
several frames. Deviations from TI are listed in ``docs/radar.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from mmsight.radar import cfar as _cfar
from mmsight.radar import processing as P
from mmsight.radar.config import RadarConfig
from mmsight.utils.fft import empty_aligned, fft
from mmsight.utils.threads import blas_limit

__all__ = ["ChainOptions", "FrameProducts", "SignalChain"]



CfarKind = Literal["ca", "cago", "caso", "os"]


@dataclass(frozen=True)
class ChainOptions:
    """Options of :class:`SignalChain` (all angles in rad, distances in m).

    Attributes:
        range_window: fast-time window (``"hann"``, ``"hamming"``, ``"blackman"``, ``"rect"`` ...).
        doppler_window: slow-time window.
        n_range_fft: range FFT size (None: n_samples; larger zero-pads).
        n_doppler_fft: Doppler FFT size (None: n_loops; must be even).
        n_angle: azimuth FFT size / angle bins of the range-azimuth map.
        clutter_removal: subtract the mean over chirps per range bin and channel (TI ``clutterRemoval``).
        clutter_mean: which mean ``clutter_removal`` subtracts. ``"window"`` (default): the
            Doppler-window-weighted mean, which leaves exactly nothing in the zero-Doppler bin.
            ``"plain"``: the plain mean over chirps, before the window (what TI's mmWave SDK demo does
            in its Doppler processing): a slowly moving target keeps some energy in the zero-Doppler
            bin, so it can be detected there. A static target vanishes with either.
        ra_clutter_removal: clutter removal for the range-azimuth map only (None: as ``clutter_removal``).
            ``clutter_removal=True, ra_clutter_removal=False`` gives in one pass what two chains (with
            and without removal) give: points and range-Doppler map without the static scene, the
            range-azimuth map with it (the removal is an exact post-FFT correction, applied after the
            map is taken).
        cfar_kind: ``"ca"``, ``"cago"``, ``"caso"`` (TI's range CFAR) or ``"os"``; 2D window on the
            range-Doppler map, Doppler axis cyclic.
        cfar_pfa: design false-alarm probability per cell (for exponential noise; the summed map is
            less spread, so the real rate is lower).
        cfar_train: one-sided training cells (range, Doppler).
        cfar_guard: one-sided guard cells (range, Doppler).
        peak_grouping: keep only detections that are local maxima among detected 3x3 neighbours.
        angle_method: ``"fft"`` (TI: azimuth FFT peak + elevation phase) or ``"capon"`` (MVDR beams
            over a 2D steering grid of the full virtual array).
        ra_method: range-azimuth map by ``"fft"`` beamforming or ``"capon"``.
        tdm_compensation: correct the TDM-MIMO Doppler-induced phase before angle estimation.
        multi_peak_ratio: report a second azimuth peak per detection if it is >= this fraction of
            the first (TI ``multiObjBeamForming``); None: one angle per detection.
        refine_angle: parabolic interpolation of the azimuth peak (False: bin centre, as TI).
        refine_doppler: interpolate each detection's Doppler peak (log-parabolic over the
            range-Doppler map) and use it for the TDM compensation and the reported velocity
            (False: bin centre, as TI; the off-bin residual then biases elevation by up to
            ``pi / (n_doppler n_tx)`` rad of phase per TX slot).
        min_range: detections nearer than this are dropped and those bins kept out of CFAR
            (TX-RX leakage).
        max_range: farther detections are dropped (None: the config's max range; TI ``cfarFovCfg``).
        azimuth_fov: keep points with ``|azimuth| <= azimuth_fov`` (TI ``aoaFovCfg``).
        elevation_fov: keep points with ``|elevation| <= elevation_fov``.
        min_snr_db: drop points whose CFAR SNR is lower.
        capon_loading: diagonal loading ``delta`` (relative to trace/N) for Capon.
        n_elevation: elevation grid size of the Capon point estimator.
        cluster: run DBSCAN (:func:`mmsight.radar.clustering.cluster_points`) on the points.
        cluster_eps, cluster_min_samples, cluster_doppler_weight: DBSCAN settings.
        workers: FFT threads (:func:`mmsight.utils.fft.fft`; None: 1).
        blas_threads: BLAS threads while a frame is processed (via threadpoolctl; None: leave the
            process setting). The chain's matrix products are small: threading them costs more
            than it saves (4x slower with 2 busy cores), so the default is 1.
    """

    range_window: str = "hann"
    doppler_window: str = "hann"
    n_range_fft: int | None = None
    n_doppler_fft: int | None = None
    n_angle: int = 64
    clutter_removal: bool = True
    clutter_mean: Literal["window", "plain"] = "window"
    ra_clutter_removal: bool | None = None
    cfar_kind: CfarKind = "ca"
    cfar_pfa: float = 1e-6
    cfar_train: tuple[int, int] = (8, 4)
    cfar_guard: tuple[int, int] = (2, 1)
    peak_grouping: bool = True
    angle_method: Literal["fft", "capon"] = "fft"
    ra_method: Literal["fft", "capon"] = "fft"
    tdm_compensation: bool = True
    multi_peak_ratio: float | None = 0.5
    refine_angle: bool = True
    refine_doppler: bool = True
    min_range: float = 0.25
    max_range: float | None = None
    azimuth_fov: float = math.radians(80.0)
    elevation_fov: float = math.radians(80.0)
    min_snr_db: float | None = None
    capon_loading: float = 1e-3
    n_elevation: int = 33
    cluster: bool = False
    cluster_eps: float = 0.4
    cluster_min_samples: int = 4
    cluster_doppler_weight: float = 0.0
    workers: int | None = None
    blas_threads: int | None = 1

    def __post_init__(self) -> None:
        if self.angle_method not in ("fft", "capon"):
            raise ValueError(f"angle_method must be 'fft' or 'capon', got {self.angle_method!r}")
        if self.ra_method not in ("fft", "capon"):
            raise ValueError(f"ra_method must be 'fft' or 'capon', got {self.ra_method!r}")
        if self.clutter_mean not in ("window", "plain"):
            raise ValueError(f"clutter_mean must be 'window' or 'plain', got {self.clutter_mean!r}")
        if self.cfar_kind not in ("ca", "cago", "caso", "os"):
            raise ValueError(f"cfar_kind must be one of ca, cago, caso, os; got {self.cfar_kind!r}")
        if self.n_angle < 2 or self.n_angle % 2:
            raise ValueError(f"n_angle must be an even integer >= 2, got {self.n_angle}")
        if self.n_doppler_fft is not None and self.n_doppler_fft % 2:
            raise ValueError(f"n_doppler_fft must be even, got {self.n_doppler_fft}")
        if not 0.0 < self.cfar_pfa < 1.0:
            raise ValueError(f"cfar_pfa must be in (0, 1), got {self.cfar_pfa}")
        if self.min_range < 0:
            raise ValueError(f"min_range must be >= 0, got {self.min_range}")
        object.__setattr__(self, "cfar_train", _pair(self.cfar_train, "cfar_train"))
        object.__setattr__(self, "cfar_guard", _pair(self.cfar_guard, "cfar_guard"))


def _pair(value: Any, name: str) -> tuple[int, int]:
    vals = (value, value) if np.ndim(value) == 0 else tuple(value)
    if len(vals) != 2:
        raise ValueError(f"{name} must be an int or (range, doppler), got {value!r}")
    return int(vals[0]), int(vals[1])


@dataclass
class FrameProducts:
    """Everything the chain computes for one frame.

    Attributes:
        range_azimuth: float32 [n_range, n_azimuth] linear power (FFT: summed over Doppler bins).
        range_doppler: float32 [n_range, n_doppler] linear power, non-coherent sum over channels.
        points: float32 [N, 5]: x, y, z (m, radar frame), doppler (m/s, + = moving away), snr (dB).
        point_bins: int64 [N, 3]: range bin, Doppler bin, azimuth bin of each point.
        range_axis: float32 [n_range] m.
        velocity_axis: float32 [n_doppler] m/s.
        azimuth_axis: float32 [n_azimuth] rad (sin-spaced).
        detections: int64 [n_det, 2] (range bin, Doppler bin) after peak grouping, before gating.
        noise_db: float32 [N] CFAR noise estimate of each point, dB of the map's power unit.
        clusters: :class:`mmsight.radar.clustering.ClusterResult` or None.
    """

    range_azimuth: np.ndarray
    range_doppler: np.ndarray
    points: np.ndarray
    point_bins: np.ndarray
    range_axis: np.ndarray
    velocity_axis: np.ndarray
    azimuth_axis: np.ndarray
    detections: np.ndarray
    noise_db: np.ndarray
    clusters: Any = None
    extras: dict[str, Any] = field(default_factory=dict)


class SignalChain:
    """TI-style signal chain for one radar configuration.

    Args:
        config: the radar whose ADC cubes will be processed.
        options: a :class:`ChainOptions`; keyword arguments override its fields
            (``SignalChain(cfg, clutter_removal=False)``).

    An instance keeps reusable work buffers: use one instance per thread.

    Example:
        >>> chain = SignalChain(RadarConfig.preset("iwr6843isk"))
        >>> out = chain.process(adc)          # adc: complex64 [32, 3, 4, 256]
        >>> out.points.shape                  # (N, 5)
    """

    def __init__(self, config: RadarConfig, options: ChainOptions | None = None, **overrides: Any) -> None:
        opts = options or ChainOptions()
        if overrides:
            import dataclasses

            opts = dataclasses.replace(opts, **overrides)
        self.config = config
        self.options = opts
        o = opts
        c = config
        self.n_range_fft = c.n_samples if o.n_range_fft is None else int(o.n_range_fft)
        self.n_doppler = c.n_loops if o.n_doppler_fft is None else int(o.n_doppler_fft)
        if self.n_range_fft < c.n_samples or self.n_doppler < c.n_loops:
            raise ValueError("FFT sizes must be >= the number of samples / loops")
        self.range_axis = P.range_axis(c, self.n_range_fft)
        self.velocity_axis = P.velocity_axis(c, self.n_doppler)
        self.azimuth_axis = P.azimuth_axis(o.n_angle)
        self.n_range = len(self.range_axis)
        self._work: dict[tuple[Any, ...], np.ndarray] = {}
        self._dv = c.wavelength / (2.0 * self.n_doppler * c.n_tx * c.chirp_time)  # m/s per Doppler bin
        self.layout = P.angle_layout(c)
        # range gate for CFAR / points
        r_max = c.max_range if o.max_range is None else min(o.max_range, c.max_range)
        self._r0 = int(np.searchsorted(self.range_axis, o.min_range - 1e-9))
        self._r1 = int(np.searchsorted(self.range_axis, r_max, side="right"))
        # fast-time window
        self._w_range = P.get_window(o.range_window, c.n_samples).astype(np.complex64)
        # slow time: window with the fftshift folded in as (-1)^m (even n_doppler)
        n_l = c.n_loops
        w_d = P.get_window(o.doppler_window, n_l).astype(np.float64)
        sign = np.where(np.arange(n_l) % 2 == 0, 1.0, -1.0)
        self._w_doppler = (w_d * sign).astype(np.complex64)[:, None, None]  # [L, 1, 1]
        # clutter removal = subtracting the window-weighted mean over chirps, done after the FFT:
        # X'[k] = X[k] - X[k0] * Wf[k] / sum(w), only at the bins where the window's own spectrum
        # Wf is non-zero (k0 and k0 +- 1 for the periodic Hann window).
        wf = np.fft.fftshift(np.fft.fft(w_d, n=self.n_doppler)) / w_d.sum()
        self._k0 = self.n_doppler // 2
        nz = np.flatnonzero(np.abs(wf) > 1e-9)
        b0, b1 = int(nz.min()), int(nz.max()) + 1
        self._clutter_slice = (b0, b1)
        self._clutter_gain = wf[b0:b1].astype(np.complex64)[:, None, None]  # [n_bins, 1, 1]
        # "plain" mean: X'[k] = X[k] - mean_m(x_m) * sum(w) * Wf[k] / sum(w); the mean of the range cube
        # over chirps is taken in doppler_cube (before the FFT) and kept for _remove_clutter
        self._w_sum = np.float32(w_d.sum())
        self._plain_zero: np.ndarray | None = None
        # TDM compensation and azimuth beamforming
        self._comp = P.tdm_compensation(c, self.n_doppler)  # [D, V]
        comp = self._comp if o.tdm_compensation else np.ones_like(self._comp)
        self._setup_azimuth(comp)

    def _setup_azimuth(self, comp: np.ndarray) -> None:
        """Precompute the range-azimuth beamformer in covariance form.

        ``sum_d |W_a z_d|^2 = Re sum_ij C_ij W_ai conj(W_aj)`` with ``C = sum_d z_d z_d^H`` (the
        az-channel covariance over Doppler bins at each range bin): one tiny batched matrix
        product per range bin and one real matrix product, instead of an n_angle-point transform
        of every (Doppler, range) cell. Rows of several azimuth ULAs (AOP) are summed
        non-coherently through a block-diagonal kernel. Exact for any (non-integer) positions.
        """
        lay = self.layout
        n_angle = self.options.n_angle
        ch = lay.azimuth_channels
        self._az_channels = ch
        self._az_comp = np.ascontiguousarray(comp[:, ch])[:, :, None]  # [D, n_az, 1]
        self._az_comp_needed = not np.allclose(self._az_comp, 1.0)
        w = P.azimuth_beam_matrix(self.config, n_angle)[:, :, ch].astype(np.complex128)  # [rows, A, n_az]
        kern = np.einsum("kai,kaj->ija", w, w.conj())  # [n_az, n_az, A]; zero across rows
        n_az = len(ch)
        kern = kern.reshape(n_az * n_az, n_angle)
        self._ra_kernel = np.concatenate([kern.real, -kern.imag], axis=0).astype(np.float32)  # [2 n_az^2, A]

    # ---------------------------------------------------------------- stages
    def _check_adc(self, adc: np.ndarray, batch: bool) -> np.ndarray:
        c = self.config
        want = (c.n_loops, c.n_tx, c.n_rx, c.n_samples)
        adc = np.asarray(adc)
        if adc.ndim != 4 + int(batch) or adc.shape[-4:] != want:
            what = "[n_frames, " if batch else "["
            raise ValueError(
                f"adc must have shape {what}n_loops, n_tx, n_rx, n_samples] = {what}{', '.join(map(str, want))}] "
                f"for config {c.name!r}, got {adc.shape}"
            )
        if not np.issubdtype(adc.dtype, np.number):
            raise ValueError(f"adc must be numeric, got dtype {adc.dtype}")
        return adc

    def _buffer(self, name: str, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        """A reusable work array (fresh large temporaries are mmapped by malloc and page-faulted on
        every frame, which cost more than the FFTs themselves)."""
        key = (name, shape, np.dtype(dtype).str)
        buf = self._work.get(key)
        if buf is None:
            if len(self._work) > 64:
                self._work.clear()
            buf = self._work[key] = empty_aligned(shape, dtype)  # aligned: FFTW plans reuse it
        return buf

    def range_cube(self, adc: np.ndarray, *, reuse: bool = False) -> np.ndarray:
        """Range FFT: ``[..., n_loops, n_tx, n_rx, n_samples]`` -> complex64 ``[..., n_loops, n_virtual, n_range]``.

        With ``reuse=True`` the result lives in a work buffer that the next call overwrites (either
        way the transform runs in the work buffers: ``reuse=False`` returns a copy).
        """
        if not reuse:
            return self.range_cube(adc, reuse=True).copy()
        x = P.virtual_cube(adc)
        shape = (*x.shape[:-1], self.n_range_fft)
        buf = self._buffer("range_in", shape, np.complex64)
        n_s = x.shape[-1]
        np.multiply(x, self._w_range, out=buf[..., :n_s])
        if self.n_range_fft > n_s:
            buf[..., n_s:] = 0
        out = fft(buf, axis=-1, out=self._buffer("range", shape, np.complex64), workers=self.options.workers)
        if not self.config.complex_sampling:
            out = out[..., : self.n_range]
        return out

    def doppler_cube(self, rcube: np.ndarray, *, reuse: bool = False, clutter_removal: bool | None = None) -> np.ndarray:
        """Windowed, fftshifted Doppler FFT (+ clutter removal):
        ``[..., n_loops, n_virtual, n_range]`` -> complex64 ``[..., n_doppler, n_virtual, n_range]``.

        With ``reuse=True`` the result lives in a work buffer that the next call overwrites.
        ``clutter_removal`` overrides the option (None: ``options.clutter_removal``).
        """
        if not reuse:
            return self.doppler_cube(rcube, reuse=True, clutter_removal=clutter_removal).copy()
        n_l = rcube.shape[-3]
        shape = (*rcube.shape[:-3], self.n_doppler, *rcube.shape[-2:])
        buf = self._buffer("doppler_in", shape, np.complex64)
        if self.options.clutter_mean == "plain":
            # the plain mean over chirps (times sum(w)), for _remove_clutter on this cube
            self._plain_zero = rcube.mean(axis=-3, keepdims=True) * self._w_sum
        np.multiply(rcube, self._w_doppler, out=buf[..., :n_l, :, :])
        if self.n_doppler > n_l:
            buf[..., n_l:, :, :] = 0
        out = fft(buf, axis=-3, out=self._buffer("doppler", shape, np.complex64), workers=self.options.workers)
        if self.options.clutter_removal if clutter_removal is None else clutter_removal:
            self._remove_clutter(out)
        return out

    def _remove_clutter(self, dcube: np.ndarray) -> None:
        """Static clutter removal on a Doppler cube, in place (exact post-FFT correction): subtracting a
        constant ``c`` from every chirp before the window is subtracting ``c * W(k)`` after the FFT, W
        the window's spectrum. ``c`` is the window-weighted mean (``clutter_mean="window"``: read off
        the zero-Doppler bin) or the plain mean of the last cube :meth:`doppler_cube` transformed."""
        b0, b1 = self._clutter_slice
        if self.options.clutter_mean == "plain":
            if self._plain_zero is None or self._plain_zero.shape[:-3] != dcube.shape[:-3] \
                    or self._plain_zero.shape[-2:] != dcube.shape[-2:]:
                raise RuntimeError("clutter_mean='plain' needs the Doppler cube from this chain's doppler_cube")
            zero = self._plain_zero
        else:
            zero = dcube[..., self._k0 : self._k0 + 1, :, :].copy()
        dcube[..., b0:b1, :, :] -= zero * self._clutter_gain

    def range_azimuth(self, dcube: np.ndarray) -> np.ndarray:
        """FFT-beamforming range-azimuth map of Doppler cube(s): float32 ``[..., n_range, n_angle]``.

        Equal to :func:`mmsight.radar.processing.range_azimuth_map` (computed in covariance form).
        """
        lead = dcube.shape[:-3]
        n_d, _, n_r = dcube.shape[-3:]
        n_az = len(self._az_channels)
        z = self._buffer("ra_z", (*lead, n_d, n_az, n_r), np.complex64)
        np.take(dcube, self._az_channels, axis=-2, out=z)  # [..., D, n_az, R]
        if self._az_comp_needed:
            z *= self._az_comp
        zt = self._buffer("ra_zt", (*lead, n_r, n_az, n_d), np.complex64)
        np.copyto(zt, np.swapaxes(z, -1, -3))  # [..., R, n_az, D]
        ztc = self._buffer("ra_ztc", (*lead, n_r, n_d, n_az), np.complex64)
        np.conjugate(np.swapaxes(zt, -1, -2), out=ztc)
        cov = self._buffer("ra_cov", (*lead, n_r, n_az, n_az), np.complex64)
        np.matmul(zt, ztc, out=cov)  # [..., R, n_az, n_az]
        real = self._buffer("ra_real", (*lead, n_r, 2, n_az * n_az), np.float32)
        flat = cov.reshape(*lead, n_r, n_az * n_az)
        real[..., 0, :] = flat.real
        real[..., 1, :] = flat.imag
        return np.matmul(real.reshape(*lead, n_r, 2 * n_az * n_az), self._ra_kernel)

    def _ra_map(self, dcube: np.ndarray) -> np.ndarray:
        """Range-azimuth maps ``[B, R, A]`` of Doppler cubes ``[B, D, V, R]`` (FFT or Capon)."""
        o = self.options
        if o.ra_method == "fft":
            return self.range_azimuth(dcube)
        return np.stack(
            [
                P.capon_range_azimuth(d, self.config, n_angle=o.n_angle, loading=o.capon_loading, compensate=o.tdm_compensation)
                for d in dcube
            ]
        )

    def _cfar(self, rd: np.ndarray) -> _cfar.CfarResult:
        o = self.options
        sub = rd[self._r0 : self._r1]
        kw = dict(train=o.cfar_train, guard=o.cfar_guard, pfa=o.cfar_pfa, wrap=(False, True))
        if o.cfar_kind == "os":
            return _cfar.os_cfar_2d(sub, **kw)
        return _cfar.ca_cfar_2d(sub, mode=o.cfar_kind, **kw)

    def points_from_cube(self, dcube: np.ndarray, rd: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Detect and localise: (points float32 [N,5], bins int64 [N,3], detections int64 [n_det,2], noise_db float32 [N])."""
        o = self.options
        res = self._cfar(rd)
        sub = rd[self._r0 : self._r1]
        if o.peak_grouping:
            det = _cfar.group_peaks(sub, res.detections, wrap=(False, True))
        else:
            det = res.indices
        r_idx = det[:, 0] + self._r0
        d_idx = det[:, 1]
        detections = np.stack([r_idx, d_idx], axis=1).astype(np.int64)
        snr_db = res.snr_db[det[:, 0], d_idx].astype(np.float64)
        noise = res.noise[det[:, 0], d_idx].astype(np.float64)
        x = dcube[d_idx, :, r_idx]  # [M, V]
        d_frac = (d_idx - self.n_doppler // 2).astype(np.float64)
        if o.refine_doppler and len(d_idx):
            nd = self.n_doppler
            d_frac = d_frac + P.interpolate_peak(rd[r_idx, (d_idx - 1) % nd], rd[r_idx, d_idx], rd[r_idx, (d_idx + 1) % nd])
        if o.tdm_compensation:
            x = x * P.tdm_compensation_at(self.config, d_frac, self.n_doppler)
        if o.angle_method == "fft":
            ang = P.estimate_angles_fft(x, self.config, n_angle=o.n_angle, multi_peak_ratio=o.multi_peak_ratio, refine=o.refine_angle)
        else:
            ang = self._capon_angles(dcube, x, r_idx)
        s = ang.source
        rng = self.range_axis[r_idx[s]].astype(np.float64)
        px = rng * ang.ux
        pz = rng * ang.uz
        py = np.sqrt(np.clip(rng**2 - px**2 - pz**2, 0.0, None))
        vel = d_frac[s] * self._dv
        snr = snr_db[s]
        keep = (np.abs(ang.azimuth) <= o.azimuth_fov) & (np.abs(ang.elevation) <= o.elevation_fov)
        if o.min_snr_db is not None:
            keep &= snr >= o.min_snr_db
        pts = np.stack([px, py, pz, vel, snr], axis=1)[keep].astype(np.float32)
        bins = np.stack([r_idx[s], d_idx[s], ang.azimuth_bin], axis=1)[keep].astype(np.int64)
        with np.errstate(divide="ignore"):  # a noise-free simulation can estimate 0 noise -> -inf dB
            noise_db = (10.0 * np.log10(noise[s][keep])).astype(np.float32)
        return pts, bins, detections, noise_db

    def _capon_angles(self, dcube: np.ndarray, x: np.ndarray, r_idx: np.ndarray) -> P.AngleEstimates:
        o = self.options
        if len(r_idx) == 0:
            return P.estimate_angles_capon(x, np.zeros((0, self.config.n_virtual, self.config.n_virtual)), self.config)
        uniq, inv = np.unique(r_idx, return_inverse=True)
        snaps = dcube[:, :, uniq]  # [D, V, U]
        if o.tdm_compensation:
            snaps = snaps * self._comp[:, :, None]
        snaps = np.transpose(snaps, (2, 0, 1)).astype(np.complex128)  # [U, D, V]
        r_inv = np.linalg.inv(P.covariance(snaps, o.capon_loading))
        return P.estimate_angles_capon(x, r_inv[inv], self.config, n_angle=o.n_angle, n_elevation=o.n_elevation)

    # ---------------------------------------------------------------- public
    def process(self, adc: np.ndarray) -> FrameProducts:
        """Process one frame.

        Args:
            adc: complex [n_loops, n_tx, n_rx, n_samples] (any numeric dtype; int16 real data too).

        Returns:
            :class:`FrameProducts`.
        """
        adc = self._check_adc(adc, batch=False)
        return self._process_many(adc[None])[0]

    def process_batch(self, adc: np.ndarray) -> list[FrameProducts]:
        """Process several frames at once (FFTs and maps batched): adc [n_frames, n_loops, n_tx, n_rx, n_samples]."""
        adc = self._check_adc(adc, batch=True)
        return self._process_many(adc)

    def _process_many(self, adc: np.ndarray) -> list[FrameProducts]:
        if self.options.blas_threads is None:
            return self._process_many_inner(adc)
        with blas_limit(self.options.blas_threads):
            return self._process_many_inner(adc)

    def _process_many_inner(self, adc: np.ndarray) -> list[FrameProducts]:
        o = self.options
        if adc.dtype != np.complex64:
            adc = adc.astype(np.complex64)
        rcube = self.range_cube(adc, reuse=True)
        ra_cr = o.clutter_removal if o.ra_clutter_removal is None else bool(o.ra_clutter_removal)
        if ra_cr == o.clutter_removal:
            dcube = self.doppler_cube(rcube, reuse=True)  # [B, D, V, R]
            ra = self._ra_map(dcube)
        elif o.clutter_removal:  # map of the static scene, then remove it for the points
            dcube = self.doppler_cube(rcube, reuse=True, clutter_removal=False)
            ra = self._ra_map(dcube)
            self._remove_clutter(dcube)
        else:
            dcube = self.doppler_cube(rcube, reuse=True, clutter_removal=False)
            moving = dcube.copy()
            self._remove_clutter(moving)
            ra = self._ra_map(moving)
        rd = P.range_doppler_map(dcube)  # [B, R, D]
        out = []
        for b in range(adc.shape[0]):
            pts, bins, det, noise_db = self.points_from_cube(dcube[b], rd[b])
            clusters = None
            if o.cluster:
                from mmsight.radar.clustering import cluster_points

                clusters = cluster_points(
                    pts, eps=o.cluster_eps, min_samples=o.cluster_min_samples, doppler_weight=o.cluster_doppler_weight
                )
            out.append(
                FrameProducts(
                    range_azimuth=ra[b],
                    range_doppler=rd[b],
                    points=pts,
                    point_bins=bins,
                    range_axis=self.range_axis,
                    velocity_axis=self.velocity_axis,
                    azimuth_axis=self.azimuth_axis,
                    detections=det,
                    noise_db=noise_db,
                    clusters=clusters,
                )
            )
        return out
