"""FMCW processing primitives (numpy reference): range / Doppler FFTs, clutter removal, TDM-MIMO
Doppler compensation, angle estimation (FFT beamforming and Capon/MVDR) and the range-azimuth and
range-Doppler maps.

Layouts (see ``docs/radar.md``):

* ADC cube of one frame: ``complex64 [n_loops, n_tx, n_rx, n_samples]``; reshaped (free) to
  ``[n_loops, n_virtual, n_samples]`` with virtual channel ``v = slot * n_rx + rx``.
* "Radar cube" after the range FFT: ``complex64 [n_loops, n_virtual, n_range]``; after the Doppler
  FFT: ``complex64 [n_doppler, n_virtual, n_range]`` (fftshifted: bin ``n_doppler // 2`` is zero
  velocity). Range stays the last (contiguous) axis for speed. Every function accepts extra leading
  batch axes where it says ``[..., ]``.
* Maps are ``float32 [n_range, n_doppler]`` and ``float32 [n_range, n_azimuth]``, linear power.

Conventions: range bin ``k`` is at ``k * c f_s / (2 S n_fft)`` m; velocity bin ``d`` at
``(d - n_doppler/2) * lambda / (2 n_doppler n_tx T_c)`` m/s, positive = moving away (TI);
azimuth bin ``a`` of an ``n_angle``-point angle FFT at ``u = (a - n_angle/2) * 2 / n_angle`` =
``sin(azimuth) cos(elevation)``, azimuth ``arcsin(u)`` rad, positive towards +x. The steering vector
of channel ``v`` is ``rot_v exp(j pi (x_v sin(az) cos(el) + z_v sin(el)))`` (config module docstring);
beamforming uses ``a^H x``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np
import scipy.fft
import scipy.signal

from mmsight.radar.config import SPEED_OF_LIGHT, RadarConfig

__all__ = [
    "AngleEstimates",
    "ArrayLayout",
    "angle_layout",
    "azimuth_axis",
    "azimuth_beam_matrix",
    "azimuth_spectrum",
    "capon_range_azimuth",
    "capon_spectrum",
    "covariance",
    "doppler_fft",
    "estimate_angles_capon",
    "estimate_angles_fft",
    "get_window",
    "range_axis",
    "range_azimuth_map",
    "range_doppler_map",
    "range_fft",
    "remove_static_clutter",
    "steering_vectors",
    "interpolate_peak",
    "tdm_compensation",
    "tdm_compensation_at",
    "velocity_axis",
    "virtual_cube",
]

WindowName = Literal["hann", "hamming", "blackman", "blackmanharris", "rect"]


# ------------------------------------------------------------------------------------ windows
@lru_cache(maxsize=64)
def _window_cached(name: str, n: int) -> np.ndarray:
    if name in ("rect", "none", "boxcar", "rectangular"):
        w = np.ones(n)
    else:
        try:
            w = scipy.signal.get_window(name, n, fftbins=True)
        except ValueError as exc:
            raise ValueError(f"unknown window {name!r}: {exc}") from exc
    out = np.asarray(w, dtype=np.float32)
    out.setflags(write=False)
    return out


def get_window(name: str | None, n: int) -> np.ndarray:
    """A DFT-even (periodic) window of length ``n``: float32 [n], read-only.

    Args:
        name: ``"hann"``, ``"hamming"``, ``"blackman"``, ``"blackmanharris"``, any other
            :func:`scipy.signal.get_window` name, or ``"rect"``/``None`` for no window.
    """
    return _window_cached("rect" if name is None else str(name).lower(), int(n))


# ------------------------------------------------------------------------------------ axes
def range_axis(config: RadarConfig, n_fft: int | None = None) -> np.ndarray:
    """Range of each range bin, float32 [n_range] m (``n_range = n_fft``, or ``n_fft // 2`` for real sampling)."""
    n_fft = config.n_samples if n_fft is None else int(n_fft)
    n_range = n_fft if config.complex_sampling else n_fft // 2
    step = SPEED_OF_LIGHT * config.sample_rate / (2.0 * config.slope * n_fft)
    return (np.arange(n_range) * step).astype(np.float32)


def velocity_axis(config: RadarConfig, n_doppler: int | None = None) -> np.ndarray:
    """Radial velocity of each (fftshifted) Doppler bin, float32 [n_doppler] m/s, + = moving away."""
    n_doppler = config.n_loops if n_doppler is None else int(n_doppler)
    step = config.wavelength / (2.0 * n_doppler * config.n_tx * config.chirp_time)
    return ((np.arange(n_doppler) - n_doppler // 2) * step).astype(np.float32)


def azimuth_axis(n_angle: int = 64) -> np.ndarray:
    """Azimuth of each (fftshifted) angle-FFT bin, float32 [n_angle] rad: ``arcsin((a - n/2) 2/n)``.

    (For a target at elevation ``el`` the bin measures ``sin(az) cos(el)``.)
    """
    u = (np.arange(n_angle) - n_angle // 2) * (2.0 / n_angle)
    return np.arcsin(np.clip(u, -1.0, 1.0)).astype(np.float32)


# ------------------------------------------------------------------------------------ FFTs
def virtual_cube(adc: np.ndarray) -> np.ndarray:
    """View ``[..., n_loops, n_tx, n_rx, n_samples]`` as ``[..., n_loops, n_virtual, n_samples]``."""
    adc = np.asarray(adc)
    if adc.ndim < 4:
        raise ValueError(f"adc must be [..., n_loops, n_tx, n_rx, n_samples], got shape {adc.shape}")
    return adc.reshape(*adc.shape[:-3], adc.shape[-3] * adc.shape[-2], adc.shape[-1])


def range_fft(
    x: np.ndarray,
    *,
    window: str | None = "hann",
    n_fft: int | None = None,
    complex_sampling: bool = True,
    workers: int | None = None,
) -> np.ndarray:
    """Windowed range FFT over the last (fast-time) axis.

    Args:
        x: ADC samples, complex64 [..., n_samples] (e.g. [n_loops, n_virtual, n_samples]).
        window: fast-time window name (see :func:`get_window`).
        n_fft: FFT length (>= n_samples zero-pads, finer bin spacing); default n_samples.
        complex_sampling: ``False`` for real ADC data: only the ``n_fft // 2`` positive-frequency
            bins are kept.
        workers: threads for :mod:`scipy.fft`.

    Returns:
        complex64 [..., n_range]; bin ``k`` at ``range_axis(config, n_fft)[k]``.
    """
    x = np.asarray(x)
    n = x.shape[-1]
    n_fft = n if n_fft is None else int(n_fft)
    if n_fft < n:
        raise ValueError(f"n_fft={n_fft} is shorter than the {n} samples per chirp")
    w = get_window(window, n)
    xw = x * w if window not in (None, "rect") else x
    out = scipy.fft.fft(xw.astype(np.complex64, copy=False), n=n_fft, axis=-1, workers=workers)
    if not complex_sampling:
        out = out[..., : n_fft // 2]
    return out


def remove_static_clutter(x: np.ndarray, axis: int = -3, weights: np.ndarray | None = None) -> np.ndarray:
    """Static clutter removal: subtract each range bin's and channel's mean over chirps.

    Args:
        x: range-FFT cube, complex [..., n_loops, n_virtual, n_range] (``axis`` is the chirp axis).
        weights: None for the plain mean (TI SDK; then an unwindowed Doppler FFT has an exactly zero
            zero-Doppler bin). Pass the Doppler window (float [n_loops]) to subtract the
            window-weighted mean ``sum_m w_m x_m / sum_m w_m`` instead: static returns are still
            removed exactly, the windowed zero-Doppler bin is exactly zero, and a moving target does
            not leak a rectangular-window sidelobe into the zero-Doppler bin (the plain mean does:
            about -28 dB of the target at 9 bins from zero Doppler, a false detection at high SNR).

    Returns:
        Same shape and dtype.
    """
    if weights is None:
        return x - x.mean(axis=axis, keepdims=True)
    axis = axis % x.ndim
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (x.shape[axis],):
        raise ValueError(f"weights must have shape [{x.shape[axis]}], got {w.shape}")
    shape = [1] * x.ndim
    shape[axis] = -1
    mean = (x * (w / w.sum()).astype(np.float32).reshape(shape)).sum(axis=axis, keepdims=True)
    return (x - mean).astype(x.dtype, copy=False)


def doppler_fft(
    x: np.ndarray,
    *,
    window: str | None = "hann",
    n_fft: int | None = None,
    axis: int = -3,
    workers: int | None = None,
) -> np.ndarray:
    """Windowed, fftshifted Doppler FFT over the chirp-loop axis.

    Args:
        x: range-FFT cube, complex64 [..., n_loops, n_virtual, n_range].
        window: slow-time window name.
        n_fft: Doppler FFT length (default n_loops); must be even.
        axis: the loop axis.

    Returns:
        complex64 [..., n_doppler, n_virtual, n_range], zero velocity at bin ``n_doppler // 2``
        (``velocity_axis(config, n_doppler)``).
    """
    x = np.asarray(x)
    axis = axis % x.ndim
    n = x.shape[axis]
    n_fft = n if n_fft is None else int(n_fft)
    if n_fft < n:
        raise ValueError(f"n_fft={n_fft} is shorter than the {n} chirp loops")
    shape = [1] * x.ndim
    shape[axis] = n
    w = get_window(window, n).reshape(shape)
    if n_fft % 2 == 0:
        # fftshift folded into the window: x[m] (-1)^m  <->  X[k - n_fft/2]
        sign = np.where(np.arange(n) % 2 == 0, 1.0, -1.0).astype(np.float32).reshape(shape)
        return scipy.fft.fft(x * (w * sign), n=n_fft, axis=axis, workers=workers).astype(np.complex64, copy=False)
    out = scipy.fft.fft(x * w, n=n_fft, axis=axis, workers=workers)
    return np.fft.fftshift(out, axes=axis).astype(np.complex64, copy=False)


def tdm_compensation(config: RadarConfig, n_doppler: int | None = None) -> np.ndarray:
    """TDM-MIMO Doppler phase correction per Doppler bin and virtual channel: complex64 [n_doppler, n_virtual].

    A target at Doppler bin ``d`` (signed, ``d - n_doppler/2``) advances its phase by
    ``2 pi d i / (n_doppler n_tx)`` between TX slot 0 and slot ``i`` of the same loop; multiplying
    channel ``v`` (slot ``i = v // n_rx``) of the Doppler cube by this factor removes it before the
    angle step. (Exact for targets within the unambiguous velocity; an aliased target gets the
    wrong correction, as on TI hardware.)
    """
    n_doppler = config.n_loops if n_doppler is None else int(n_doppler)
    d = np.arange(n_doppler) - n_doppler // 2
    slot = np.repeat(np.arange(config.n_tx), config.n_rx)
    phase = -2.0 * np.pi * np.outer(d, slot) / (n_doppler * config.n_tx)
    return np.exp(1j * phase).astype(np.complex64)


def tdm_compensation_at(config: RadarConfig, doppler_bin: np.ndarray, n_doppler: int | None = None) -> np.ndarray:
    """TDM-MIMO correction for arbitrary (fractional, signed) Doppler bins: complex64 [M, n_virtual].

    Args:
        doppler_bin: float [M], Doppler bin relative to zero velocity (``d - n_doppler/2``,
            may be fractional, e.g. after interpolating the peak).
    """
    n_doppler = config.n_loops if n_doppler is None else int(n_doppler)
    slot = np.repeat(np.arange(config.n_tx), config.n_rx)
    d = np.asarray(doppler_bin, dtype=np.float64)
    return np.exp(-2j * np.pi * np.multiply.outer(d, slot) / (n_doppler * config.n_tx)).astype(np.complex64)


def interpolate_peak(p_minus: np.ndarray, p_0: np.ndarray, p_plus: np.ndarray, *, log: bool = True) -> np.ndarray:
    """Fractional offset in [-0.5, 0.5] of a peak from three samples of a power spectrum.

    ``log=True`` fits the parabola to log power (Gaussian interpolation: nearly unbiased for
    Hann-windowed spectra); ``False`` fits the power itself.
    """
    a, b, c = (np.asarray(v, dtype=np.float64) for v in (p_minus, p_0, p_plus))
    if log:
        tiny = 1e-300
        a, b, c = np.log(np.maximum(a, tiny)), np.log(np.maximum(b, tiny)), np.log(np.maximum(c, tiny))
    return _parabolic(a, b, c)


def range_doppler_map(cube: np.ndarray) -> np.ndarray:
    """Non-coherent sum over virtual channels: float32 [..., n_range, n_doppler] linear power.

    Args:
        cube: complex64 [..., n_doppler, n_virtual, n_range].
    """
    cube = np.asarray(cube, dtype=np.complex64)
    f = cube.view(np.float32)  # [..., D, V, 2R] interleaved re/im
    p = np.einsum("...vr,...vr->...r", f, f)  # sum over channels of re^2 and im^2: [..., D, 2R]
    p = p.reshape(*p.shape[:-1], -1, 2).sum(-1)  # [..., D, R]
    return np.ascontiguousarray(np.swapaxes(p, -1, -2))


# ------------------------------------------------------------------------------------ array geometry
@dataclass(frozen=True)
class ArrayLayout:
    """Geometry of the virtual array as the angle estimators use it.

    Attributes:
        x: float64 [n_virtual] azimuth positions (half wavelengths).
        z: float64 [n_virtual] elevation positions.
        rotation: float64 [n_virtual] +-1 antenna phase rotation.
        rows: tuple of int arrays, the channels of each distinct elevation row (ascending z).
        row_z: float64 [n_rows] z of each row.
        azimuth_rows: indices into ``rows`` of the rows with the most elements: the azimuth ULA(s)
            (ISK: the 8-element z=0 row; AOP: two 4-element rows, summed non-coherently).
        azimuth_channels: int [n_az] channels of those rows (concatenated).
    """

    x: np.ndarray
    z: np.ndarray
    rotation: np.ndarray
    rows: tuple[np.ndarray, ...]
    row_z: np.ndarray
    azimuth_rows: tuple[int, ...]
    azimuth_channels: np.ndarray

    @property
    def has_elevation(self) -> bool:
        """True if the array has more than one elevation row."""
        return len(self.rows) > 1


def angle_layout(config: RadarConfig) -> ArrayLayout:
    """The :class:`ArrayLayout` of a config (cached per config)."""
    return _layout_cached(config)


@lru_cache(maxsize=32)
def _layout_cached(config: RadarConfig) -> ArrayLayout:
    x = np.asarray(config.virtual_azimuth, dtype=np.float64)
    z = np.asarray(config.virtual_elevation, dtype=np.float64)
    rot = np.asarray(config.phase_rotation, dtype=np.float64)
    zs = np.unique(np.round(z, 6))
    rows = tuple(np.flatnonzero(np.isclose(z, zz, atol=1e-6)) for zz in zs)
    counts = [len(np.unique(np.round(x[r], 6))) for r in rows]
    best = max(counts)
    az_rows = tuple(i for i, c in enumerate(counts) if c == best)
    az_ch = np.concatenate([rows[i] for i in az_rows])
    return ArrayLayout(x, z, rot, rows, zs.astype(np.float64), az_rows, az_ch)


def steering_vectors(config: RadarConfig, azimuth: np.ndarray | float, elevation: np.ndarray | float = 0.0) -> np.ndarray:
    """Array response ``rot_v exp(j pi (x_v sin(az) cos(el) + z_v sin(el)))``: complex64 [..., n_virtual].

    Args:
        azimuth, elevation: rad, broadcast against each other.
    """
    lay = angle_layout(config)
    az = np.asarray(azimuth, dtype=np.float64)
    el = np.asarray(elevation, dtype=np.float64)
    ux = (np.sin(az) * np.cos(el))[..., None]
    uz = np.broadcast_to(np.sin(el), np.broadcast_shapes(az.shape, el.shape))[..., None]
    return (lay.rotation * np.exp(1j * np.pi * (lay.x * ux + lay.z * uz))).astype(np.complex64)


@lru_cache(maxsize=32)
def _beam_cached(config: RadarConfig, n_angle: int) -> np.ndarray:
    lay = angle_layout(config)
    u = (np.arange(n_angle) - n_angle // 2) * (2.0 / n_angle)
    mats = []
    for r in lay.azimuth_rows:
        ch = lay.rows[r]
        w = np.zeros((n_angle, config.n_virtual), dtype=np.complex128)
        w[:, ch] = lay.rotation[ch] * np.exp(-1j * np.pi * np.outer(u, lay.x[ch]))
        mats.append(w)
    out = np.stack(mats).astype(np.complex64)  # [n_rows_az, n_angle, n_virtual]
    out.setflags(write=False)
    return out


def azimuth_beam_matrix(config: RadarConfig, n_angle: int = 64) -> np.ndarray:
    """FFT-beamforming weights over the azimuth ULA row(s): complex64 [n_az_rows, n_angle, n_virtual].

    Row ``a`` of each matrix is ``conj(steering)`` at ``u_a = (a - n_angle/2) 2/n_angle`` restricted
    to that row's channels (zero elsewhere), so ``W @ x`` equals the fftshifted, ``n_angle``-point
    zero-padded FFT over the row (up to a constant phase). Non-integer positions are handled exactly.
    """
    return _beam_cached(config, int(n_angle))


def azimuth_spectrum(x: np.ndarray, config: RadarConfig, n_angle: int = 64) -> np.ndarray:
    """FFT-beamforming azimuth power of channel snapshots: float32 [..., n_angle].

    Args:
        x: complex [..., n_virtual] (TDM-compensated).
    """
    w = azimuth_beam_matrix(config, n_angle)
    y = np.einsum("kav,...v->...ka", w, np.asarray(x, dtype=np.complex64))
    return (y.real**2 + y.imag**2).sum(-2).astype(np.float32)


# ------------------------------------------------------------------------------------ RA maps
def range_azimuth_map(
    cube: np.ndarray,
    config: RadarConfig,
    *,
    n_angle: int = 64,
    compensate: bool = True,
) -> np.ndarray:
    """FFT-beamformed range-azimuth power summed over Doppler bins: float32 [..., n_range, n_angle].

    ``RA[r, a] = sum_d sum_rows |W_a (c_d * X[d, :, r])|^2`` with ``c_d`` the TDM compensation of
    Doppler bin ``d`` (:func:`tdm_compensation`) and ``W`` the azimuth beam matrix: mmAnomaly's
    range-azimuth spectrum (range-FFT'd data beamformed over azimuth, power summed over chirps;
    by Parseval the Doppler sum equals the chirp sum when the Doppler window is rectangular and
    compensation is off). With static clutter removal it shows movers only.

    Args:
        cube: Doppler cube complex64 [..., n_doppler, n_virtual, n_range].
        n_angle: angle bins (zero-padded FFT size).
        compensate: apply the TDM-MIMO Doppler compensation.
    """
    cube = np.asarray(cube, dtype=np.complex64)
    n_d = cube.shape[-3]
    lay = angle_layout(config)
    ch = lay.azimuth_channels
    w = azimuth_beam_matrix(config, n_angle)[:, :, ch]  # [k, A, n_az]
    w = w.reshape(-1, len(ch))  # [k*A, n_az]
    if compensate:
        comp = tdm_compensation(config, n_d)[:, ch]  # [D, n_az]
        m = w[None, :, :] * comp[:, None, :]  # [D, k*A, n_az]
    else:
        m = np.broadcast_to(w, (n_d, *w.shape))
    xa = cube[..., ch, :]  # [..., D, n_az, R]
    y = np.matmul(m, xa)  # [..., D, k*A, R]
    f = y.view(np.float32)
    p = np.einsum("...dar,...dar->...ar", f, f)  # [..., k*A, 2R]
    p = p.reshape(*p.shape[:-1], -1, 2).sum(-1)  # [..., k*A, R]
    n_rows = len(lay.azimuth_rows)
    if n_rows > 1:
        p = p.reshape(*p.shape[:-2], n_rows, n_angle, p.shape[-1]).sum(-3)
    return np.ascontiguousarray(np.swapaxes(p, -1, -2))


def covariance(snapshots: np.ndarray, loading: float = 1e-3) -> np.ndarray:
    """Sample covariance with diagonal loading: complex [..., n_ch, n_ch].

    Args:
        snapshots: complex [..., n_snap, n_ch].
        loading: ``delta``; adds ``delta * trace(R) / n_ch`` to the diagonal (TI's
            ``rangeAngleDiagonalLoading``).
    """
    s = np.asarray(snapshots)
    r = np.einsum("...si,...sj->...ij", s, s.conj()) / s.shape[-2]
    n = r.shape[-1]
    tr = np.einsum("...ii->...", r).real
    r = r + (loading * tr / n + 1e-30)[..., None, None] * np.eye(n)
    return r


def capon_spectrum(r_inv: np.ndarray, steering: np.ndarray) -> np.ndarray:
    """MVDR power ``1 / Re(a^H R^-1 a)``: float32 [..., n_grid].

    Args:
        r_inv: inverse covariance complex [..., n_ch, n_ch].
        steering: complex [n_grid, n_ch].
    """
    a = np.asarray(steering)
    q = np.einsum("gi,...ij,gj->...g", a.conj(), r_inv, a, optimize=True).real
    return (1.0 / np.maximum(q, 1e-30)).astype(np.float32)


def capon_range_azimuth(
    cube: np.ndarray,
    config: RadarConfig,
    *,
    n_angle: int = 64,
    loading: float = 1e-3,
    elevations: np.ndarray | tuple[float, ...] = (0.0,),
    compensate: bool = True,
) -> np.ndarray:
    """Capon/MVDR range-azimuth map over the full virtual array: float32 [n_range, n_angle].

    For each range bin the covariance of the (TDM-compensated) Doppler-bin snapshots of all
    ``n_virtual`` channels is formed with diagonal loading, and ``1 / (a^H R^-1 a)`` is scanned over
    the same sin-spaced azimuth grid as the FFT map (:func:`azimuth_axis`); with several
    ``elevations`` (rad) the maximum over them is kept. Units: power per snapshot (like one
    Doppler bin of the FFT map), not directly comparable to :func:`range_azimuth_map`.

    Args:
        cube: complex64 [n_doppler, n_virtual, n_range] (one frame).
    """
    cube = np.asarray(cube, dtype=np.complex64)
    if compensate:
        cube = cube * tdm_compensation(config, cube.shape[0])[:, :, None]
    snaps = np.transpose(cube, (2, 0, 1)).astype(np.complex128)  # [R, D, V]
    r_inv = np.linalg.inv(covariance(snaps, loading))  # [R, V, V]
    az = azimuth_axis(n_angle).astype(np.float64)
    best = None
    for el in np.atleast_1d(np.asarray(elevations, dtype=np.float64)):
        u = np.clip(np.sin(az) / max(np.cos(el), 1e-9), -1.0, 1.0)  # keep sin(az)cos(el) on the grid
        a = steering_vectors(config, np.arcsin(u), el).astype(np.complex128)
        p = capon_spectrum(r_inv, a)
        best = p if best is None else np.maximum(best, p)
    assert best is not None
    return best


# ------------------------------------------------------------------------------------ angles of detections
@dataclass(frozen=True)
class AngleEstimates:
    """Angles of detections (one or more per detection).

    Attributes:
        source: int64 [M] index of the detection each estimate belongs to.
        ux: float64 [M] ``sin(az) cos(el)`` (x direction cosine).
        uz: float64 [M] ``sin(el)`` (z direction cosine).
        azimuth_bin: int64 [M] peak bin of the azimuth spectrum (FFT grid; Capon: its grid).
        power: float32 [M] beam power at the peak.
    """

    source: np.ndarray
    ux: np.ndarray
    uz: np.ndarray
    azimuth_bin: np.ndarray
    power: np.ndarray

    @property
    def azimuth(self) -> np.ndarray:
        """float64 [M] azimuth rad, ``atan2(ux, sqrt(1 - ux^2 - uz^2))``."""
        return np.arctan2(self.ux, np.sqrt(np.clip(1.0 - self.ux**2 - self.uz**2, 0.0, None)))

    @property
    def elevation(self) -> np.ndarray:
        """float64 [M] elevation rad, ``arcsin(uz)``."""
        return np.arcsin(np.clip(self.uz, -1.0, 1.0))


def _parabolic(p_m: np.ndarray, p_0: np.ndarray, p_p: np.ndarray) -> np.ndarray:
    den = p_m - 2.0 * p_0 + p_p
    with np.errstate(divide="ignore", invalid="ignore"):
        delta = np.where(den < 0, 0.5 * (p_m - p_p) / den, 0.0)
    return np.clip(np.nan_to_num(delta), -0.5, 0.5)


def _elevation_from_rows(x: np.ndarray, ux: np.ndarray, lay: ArrayLayout, grid: int = 241) -> np.ndarray:
    """sin(el) per snapshot from per-row beams at the given ux: float64 [M].

    ``B_row = sum_{v in row} rot_v exp(-j pi x_v ux) x_v`` removes the azimuth phase; what is left
    across rows is ``exp(j pi z_row sin(el))``. Two rows: closed form (TI's phase-difference
    method); more rows: a grid search over sin(el) in [-1, 1] with parabolic refinement.
    """
    if not lay.has_elevation:
        return np.zeros(len(ux))
    beams = []
    for ch in lay.rows:
        ph = np.exp(-1j * np.pi * np.outer(ux, lay.x[ch])) * lay.rotation[ch]
        beams.append(np.einsum("mv,mv->m", ph, x[:, ch]))
    b = np.stack(beams, axis=-1)  # [M, n_rows]
    zr = lay.row_z
    if len(zr) == 2:
        return np.clip(np.angle(b[:, 1] * np.conj(b[:, 0])) / (np.pi * (zr[1] - zr[0])), -1.0, 1.0)
    w = np.linspace(-1.0, 1.0, grid)
    p = np.abs(b @ np.exp(-1j * np.pi * np.outer(zr, w))) ** 2  # [M, G]
    i = np.argmax(p, axis=1)
    rows = np.arange(len(i))
    i_m, i_p = np.clip(i - 1, 0, grid - 1), np.clip(i + 1, 0, grid - 1)
    delta = _parabolic(p[rows, i_m], p[rows, i], p[rows, i_p])
    delta = np.where((i == 0) | (i == grid - 1), 0.0, delta)
    return np.clip(w[i] + delta * (w[1] - w[0]), -1.0, 1.0)


def estimate_angles_fft(
    x: np.ndarray,
    config: RadarConfig,
    *,
    n_angle: int = 64,
    multi_peak_ratio: float | None = None,
    refine: bool = True,
) -> AngleEstimates:
    """TI-style angle of detections: azimuth FFT peak over the azimuth ULA, then elevation.

    Args:
        x: TDM-compensated virtual-channel snapshots of the detections, complex [M, n_virtual].
        n_angle: zero-padded azimuth FFT size.
        multi_peak_ratio: also report the second-highest local maximum of the azimuth spectrum when
            it is at least this fraction of the highest (TI's ``multiObjBeamForming``, 0.5); None: one.
        refine: parabolic interpolation of the azimuth peak (off: the bin centre, as TI).

    Returns:
        :class:`AngleEstimates`; ``ux = 2 a / n_angle`` (signed bin, refined) and ``uz`` from the
        phase between elevation rows at that azimuth (:func:`_elevation_from_rows`).
    """
    x = np.asarray(x, dtype=np.complex64)
    lay = angle_layout(config)
    m = x.shape[0]
    if m == 0:
        e = np.zeros(0)
        return AngleEstimates(np.zeros(0, np.int64), e, e, np.zeros(0, np.int64), np.zeros(0, np.float32))
    spec = azimuth_spectrum(x, config, n_angle).astype(np.float64)  # [M, A]
    rows = np.arange(m)
    peak = np.argmax(spec, axis=1)
    src = [rows]
    bins = [peak]
    if multi_peak_ratio is not None:
        left = np.roll(spec, 1, axis=1)
        right = np.roll(spec, -1, axis=1)
        is_max = (spec > left) & (spec >= right)
        is_max[rows, peak] = False
        second = np.where(is_max, spec, -np.inf)
        j = np.argmax(second, axis=1)
        ok = second[rows, j] >= multi_peak_ratio * spec[rows, peak]
        src.append(rows[ok])
        bins.append(j[ok])
    source = np.concatenate(src)
    abin = np.concatenate(bins)
    p0 = spec[source, abin]
    if refine:
        delta = _parabolic(spec[source, (abin - 1) % n_angle], p0, spec[source, (abin + 1) % n_angle])
    else:
        delta = np.zeros(len(abin))
    ux = (abin - n_angle // 2 + delta) * (2.0 / n_angle)
    ux = np.clip(ux, -1.0, 1.0)
    uz = _elevation_from_rows(x[source], ux, lay)
    return AngleEstimates(source.astype(np.int64), ux, uz, abin.astype(np.int64), p0.astype(np.float32))


def estimate_angles_capon(
    x: np.ndarray,
    r_inv: np.ndarray,
    config: RadarConfig,
    *,
    n_angle: int = 64,
    n_elevation: int = 33,
) -> AngleEstimates:
    """Angles of detections with MVDR beams over a 2D (azimuth, elevation) grid of steering vectors.

    For detection ``m`` with snapshot ``x_m`` and the inverse covariance ``R_m^-1`` of its range bin,
    the MVDR beam output power ``|a^H R^-1 x|^2 / (a^H R^-1 a)^2`` is evaluated on a grid of
    ``n_angle`` sin-spaced azimuths x ``n_elevation`` sin-spaced elevations in [-pi/2, pi/2]
    (one elevation, 0, if the array has a single row) and the maximum is taken. Beams towards
    other targets in the same range bin (different Doppler) are nulled.

    Args:
        x: complex [M, n_virtual] TDM-compensated snapshots.
        r_inv: complex [M, n_virtual, n_virtual] inverse (loaded) covariance per detection.
    """
    x = np.asarray(x, dtype=np.complex128)
    m = x.shape[0]
    lay = angle_layout(config)
    if m == 0:
        e = np.zeros(0)
        return AngleEstimates(np.zeros(0, np.int64), e, e, np.zeros(0, np.int64), np.zeros(0, np.float32))
    ux_grid = (np.arange(n_angle) - n_angle // 2) * (2.0 / n_angle)
    uz_grid = np.linspace(-1.0, 1.0, n_elevation) if lay.has_elevation else np.zeros(1)
    ux_g, uz_g = np.meshgrid(ux_grid, uz_grid, indexing="ij")
    inside = ux_g**2 + uz_g**2 <= 1.0 + 1e-9
    ux_f, uz_f = ux_g[inside], uz_g[inside]
    a = lay.rotation * np.exp(1j * np.pi * (np.outer(ux_f, lay.x) + np.outer(uz_f, lay.z)))  # [G, V]
    y = np.einsum("mij,mj->mi", r_inv, x)  # R^-1 x  [M, V]
    num = np.abs(y @ a.conj().T) ** 2  # [M, G]
    den = np.einsum("gi,mij,gj->mg", a.conj(), r_inv, a, optimize=True).real
    p = num / np.maximum(den, 1e-30) ** 2
    g = np.argmax(p, axis=1)
    ux, uz = ux_f[g], uz_f[g]
    abin = np.rint(ux * n_angle / 2.0).astype(np.int64) + n_angle // 2
    return AngleEstimates(np.arange(m, dtype=np.int64), ux, uz, abin, p[np.arange(m), g].astype(np.float32))

