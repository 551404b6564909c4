"""Plane-wave transmission and reflection of dielectric slabs (clothing, walls) at mm-wave.

This module holds the physics that :mod:`mmsight.sim.materials` uses; it knows nothing about
named materials.

Conventions
-----------
* Time dependence ``exp(+j w t)``; complex relative permittivity ``eps = eps' - j eps''`` with
  ``eps'' >= 0`` for a passive medium. A plane wave in a medium goes as ``exp(-j k z)`` with
  ``Im(k) <= 0``.
* Frequencies in Hz, thicknesses in m, angles in radians (angle of incidence measured from the
  slab normal, in air), conductivity in S/m.
* "Power transmission" ``|T|^2`` and "power reflection" ``|R|^2`` are fractions of the incident
  power; in dB they are ``10 log10(.)`` and therefore ``<= 0``. A *loss* in dB is the negative of the
  transmission in dB (``>= 0``).
* Polarization: ``"TE"`` (E perpendicular to the plane of incidence, s), ``"TM"`` (E in the plane of
  incidence, p) or ``"mean"`` (power average of TE and TM, i.e. an unpolarized / unknown-orientation
  estimate). At normal incidence all three coincide.

Models
------
* ITU-R P.2040 material fit [doc: ITU-R P.2040 Table 3, coefficients as coded in NVlabs/sionna-rt
  ``radio_materials/itu.py``; see radar-physics.md 4.1]: ``eps' = a f^b``, ``sigma = c f^d`` with
  ``f`` in GHz, and ``eps'' = sigma / (2 pi f eps0)`` (= 17.98 sigma / f_GHz).
* Loss-tangent form: ``eps = eps_r (1 - j tan_delta)``.
* Cole-Cole (Gabriel-type) dispersion for tissue: ``eps = eps_inf + sum_i d_i / (1 + (j w tau_i)^(1 -
  alpha_i)) + sigma / (j w eps0)``.
* Slab: exact plane-wave solution for a homogeneous slab in air with all internal reflections
  (Fabry-Perot / Airy sum), both as the closed form of ITU-R P.2040 sec. 2 and as a general
  characteristic-matrix (transfer-matrix) method for a stack of layers [lit: Born & Wolf,
  *Principles of Optics*, ch. 1.6; Orfanidis, *Electromagnetic Waves and Antennas*, ch. 7]. The
  two agree to machine precision for one layer (tested).
* Attenuation-only estimate: bulk loss ``8.686 * Im(k_z) * d`` along the refracted path, no
  interfaces, no bounces; useful as a cross-check and the limit for thick lossy slabs.

Not modelled: surface roughness / diffuse scattering, anisotropy (woven fabrics, wood grain),
inhomogeneous walls (studs, mortar joints), cross-polarisation, finite beam footprint.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Sequence

import numpy as np

__all__ = [
    "SPEED_OF_LIGHT",
    "VACUUM_PERMITTIVITY",
    "Polarization",
    "SlabResponse",
    "itu_permittivity",
    "loss_tangent_permittivity",
    "cole_cole_permittivity",
    "refractive_index",
    "attenuation_db_per_m",
    "attenuation_only_loss_db",
    "interface_reflection",
    "half_space_reflection_db",
    "slab_response",
    "airy_slab",
    "multilayer_response",
    "band_average",
    "to_db",
]

SPEED_OF_LIGHT = 299_792_458.0  # m/s
VACUUM_PERMITTIVITY = 8.8541878128e-12  # F/m
_NEPER_TO_DB = 20.0 / np.log(10.0)  # power loss in dB of a field decaying by exp(-x): 8.686 x

Polarization = Literal["TE", "TM", "mean"]
_POLS = ("TE", "TM", "mean")


def to_db(power_ratio: np.ndarray | float) -> np.ndarray | float:
    """``10 log10`` of a power ratio; ``0 -> -inf`` without a warning."""
    p = np.asarray(power_ratio, dtype=np.float64)
    with np.errstate(divide="ignore"):
        out = 10.0 * np.log10(p)
    return float(out) if out.ndim == 0 else out


def _check_freq(freq_hz: np.ndarray | float) -> np.ndarray:
    f = np.asarray(freq_hz, dtype=np.float64)
    if not np.all(np.isfinite(f)) or np.any(f <= 0):
        raise ValueError(f"freq_hz must be finite and > 0 (Hz), got {freq_hz!r}")
    return f


def _check_angle(angle: float) -> float:
    a = float(angle)
    if not np.isfinite(a) or not (0.0 <= a < np.pi / 2):
        raise ValueError(f"angle of incidence must be in [0, pi/2) rad, got {angle!r}")
    return a


def _check_pol(polarization: str) -> str:
    if polarization not in _POLS:
        raise ValueError(f"polarization must be one of {_POLS}, got {polarization!r}")
    return polarization


def itu_permittivity(
    freq_hz: np.ndarray | float, a: float, b: float, c: float, d: float
) -> np.ndarray | complex:
    """Complex relative permittivity from the ITU-R P.2040 fit.

    Args:
        freq_hz: frequency, Hz (scalar or array of any shape).
        a, b: real part ``eps' = a * f_GHz**b``.
        c, d: conductivity ``sigma = c * f_GHz**d`` in S/m.

    Returns:
        ``eps' - j eps''`` with the shape of ``freq_hz`` (complex scalar for a scalar input).
    """
    f = _check_freq(freq_hz)
    f_ghz = f / 1e9
    eps_r = a * f_ghz**b
    sigma = c * f_ghz**d
    eps_i = sigma / (2.0 * np.pi * f * VACUUM_PERMITTIVITY)
    out = eps_r - 1j * eps_i
    return complex(out) if out.ndim == 0 else out


def loss_tangent_permittivity(eps_r: float, tan_delta: float) -> complex:
    """``eps_r (1 - j tan_delta)``; ``eps_r >= 1`` is not required but ``eps_r > 0`` and ``tan_delta >= 0`` are."""
    if not (eps_r > 0 and tan_delta >= 0 and np.isfinite(eps_r) and np.isfinite(tan_delta)):
        raise ValueError(f"need eps_r > 0 and tan_delta >= 0, got eps_r={eps_r!r}, tan_delta={tan_delta!r}")
    return complex(eps_r * (1.0 - 1j * tan_delta))


def cole_cole_permittivity(
    freq_hz: np.ndarray | float,
    eps_inf: float,
    poles: Sequence[tuple[float, float, float]],
    sigma_s: float = 0.0,
) -> np.ndarray | complex:
    """Multi-pole Cole-Cole permittivity (Gabriel et al. 1996 form).

    Args:
        freq_hz: Hz.
        eps_inf: high-frequency permittivity.
        poles: ``(delta_eps, tau_s, alpha)`` per dispersion.
        sigma_s: static ionic conductivity, S/m.
    """
    f = _check_freq(freq_hz)
    w = 2.0 * np.pi * f
    eps = np.full(f.shape, eps_inf, dtype=np.complex128)
    for delta, tau, alpha in poles:
        eps = eps + delta / (1.0 + (1j * w * tau) ** (1.0 - alpha))
    eps = eps + sigma_s / (1j * w * VACUUM_PERMITTIVITY)
    return complex(eps) if eps.ndim == 0 else eps


def refractive_index(eps: np.ndarray | complex) -> np.ndarray | complex:
    """Principal square root ``n = n' - j n''`` with ``n'' >= 0`` for ``eps'' >= 0``."""
    return np.sqrt(np.asarray(eps, dtype=np.complex128))


def _kz_over_k0(eps: np.ndarray, sin2: float) -> np.ndarray:
    """Normalised normal wavenumber ``sqrt(eps - sin^2 theta)`` on the decaying branch (Im <= 0)."""
    s = np.sqrt(np.asarray(eps, dtype=np.complex128) - sin2)
    # principal sqrt has Re >= 0; for a passive medium (Im eps <= 0) that gives Im <= 0 as well.
    return np.where(s.imag > 0, -s, s)


def attenuation_db_per_m(eps: np.ndarray | complex, freq_hz: np.ndarray | float) -> np.ndarray | float:
    """Power attenuation rate of a plane wave inside the medium, dB/m (``8.686 k0 n''``)."""
    f = _check_freq(freq_hz)
    k0 = 2.0 * np.pi * f / SPEED_OF_LIGHT
    n = refractive_index(eps)
    out = _NEPER_TO_DB * k0 * np.abs(np.imag(n))
    return float(out) if np.ndim(out) == 0 else out


def attenuation_only_loss_db(
    eps: np.ndarray | complex, thickness: float, freq_hz: np.ndarray | float, angle: float = 0.0
) -> np.ndarray | float:
    """Bulk one-way loss of a slab ignoring both interfaces and all internal bounces, dB (>= 0).

    The path is the refracted one, i.e. the loss is ``8.686 * k0 * |Im sqrt(eps - sin^2 theta)| * d``
    (exact decay of the field across the slab for a lossy refracted wave).
    """
    f = _check_freq(freq_hz)
    _check_thickness(thickness)
    th = _check_angle(angle)
    k0 = 2.0 * np.pi * f / SPEED_OF_LIGHT
    kz = _kz_over_k0(np.asarray(eps), np.sin(th) ** 2)
    out = _NEPER_TO_DB * k0 * np.abs(kz.imag) * thickness
    return float(out) if np.ndim(out) == 0 else out


def _check_thickness(thickness: float) -> float:
    t = float(thickness)
    if not np.isfinite(t) or t < 0:
        raise ValueError(f"thickness must be finite and >= 0 (m), got {thickness!r}")
    return t


def interface_reflection(
    eps: np.ndarray | complex, angle: float = 0.0, polarization: Literal["TE", "TM"] = "TE"
) -> np.ndarray | complex:
    """Fresnel amplitude reflection coefficient air -> medium.

    TE: ``(cos t - s) / (cos t + s)``; TM: ``(eps cos t - s) / (eps cos t + s)``, with
    ``s = sqrt(eps - sin^2 t)`` (TM in the tangential-E sign convention). Only ``|r|`` is
    convention-free.
    """
    th = _check_angle(angle)
    if polarization not in ("TE", "TM"):
        raise ValueError(f"polarization must be 'TE' or 'TM' here, got {polarization!r}")
    e = np.asarray(eps, dtype=np.complex128)
    s = _kz_over_k0(e, np.sin(th) ** 2)
    c = np.cos(th)
    r = (c - s) / (c + s) if polarization == "TE" else (e * c - s) / (e * c + s)
    return complex(r) if r.ndim == 0 else r


def half_space_reflection_db(
    eps: np.ndarray | complex, angle: float = 0.0, polarization: Polarization = "mean"
) -> np.ndarray | float:
    """Power reflection of a semi-infinite medium (skin, thick concrete), dB (<= 0)."""
    pol = _check_pol(polarization)
    if pol == "mean":
        p = 0.5 * (np.abs(interface_reflection(eps, angle, "TE")) ** 2 + np.abs(interface_reflection(eps, angle, "TM")) ** 2)
    else:
        p = np.abs(interface_reflection(eps, angle, pol)) ** 2  # type: ignore[arg-type]
    return to_db(p)


@dataclass(frozen=True)
class SlabResponse:
    """Plane-wave response of a slab (or stack) in air.

    Attributes:
        t: complex amplitude transmission coefficient, shape of the frequency input.
        r: complex amplitude reflection coefficient (same shape).
        transmission: ``|t|^2``, fraction of incident power transmitted.
        reflection: ``|r|^2``, fraction reflected.
        absorption: ``1 - |t|^2 - |r|^2``, fraction absorbed (0 for a lossless slab).
    """

    t: np.ndarray
    r: np.ndarray
    transmission: np.ndarray
    reflection: np.ndarray

    @property
    def absorption(self) -> np.ndarray:
        return 1.0 - self.transmission - self.reflection

    @property
    def transmission_db(self) -> np.ndarray:
        """``10 log10 |t|^2`` (<= 0)."""
        return to_db(self.transmission)

    @property
    def reflection_db(self) -> np.ndarray:
        """``10 log10 |r|^2`` (<= 0)."""
        return to_db(self.reflection)

    @property
    def loss_db(self) -> np.ndarray:
        """One-way insertion loss, ``-transmission_db`` (>= 0)."""
        return -np.asarray(self.transmission_db)


def _admittance(eps: np.ndarray, sin2: float, polarization: str) -> tuple[np.ndarray, np.ndarray]:
    """(normalised tangential admittance, normalised k_z) of a layer."""
    kz = _kz_over_k0(eps, sin2)
    if polarization == "TE":
        return kz, kz
    return eps / kz, kz


def multilayer_response(
    eps_layers: Sequence[np.ndarray | complex],
    thicknesses: Sequence[float],
    freq_hz: np.ndarray | float,
    angle: float = 0.0,
    polarization: Literal["TE", "TM"] = "TE",
) -> SlabResponse:
    """Stack of homogeneous layers in air, characteristic-matrix (transfer-matrix) method.

    Each layer ``j`` with normalised admittance ``Y_j`` and phase thickness
    ``delta_j = k0 d_j sqrt(eps_j - sin^2 t)`` has the matrix ``[[cos d, j sin d / Y], [j Y sin d,
    cos d]]`` relating the tangential fields on its two faces; with ``[B, C] = M_1 ... M_N [1, Y_0]``
    one gets ``r = (Y_0 B - C) / (Y_0 B + C)`` and ``t = 2 Y_0 / (Y_0 B + C)``.

    Args:
        eps_layers: complex permittivity of each layer, front (radar side) first; each a scalar or
            an array broadcastable to the shape of ``freq_hz`` (frequency-dependent models).
        thicknesses: m, one per layer, >= 0.
        freq_hz: Hz, scalar or array [F].
        angle: incidence angle in air, rad.
        polarization: ``"TE"`` or ``"TM"``.
    """
    if len(eps_layers) != len(thicknesses):
        raise ValueError(f"{len(eps_layers)} permittivities but {len(thicknesses)} thicknesses")
    if polarization not in ("TE", "TM"):
        raise ValueError(f"polarization must be 'TE' or 'TM' here, got {polarization!r}")
    f = _check_freq(freq_hz)
    th = _check_angle(angle)
    sin2 = np.sin(th) ** 2
    k0 = 2.0 * np.pi * f / SPEED_OF_LIGHT
    y0 = np.cos(th) if polarization == "TE" else 1.0 / np.cos(th)
    m11 = np.ones(f.shape, dtype=np.complex128)
    m12 = np.zeros(f.shape, dtype=np.complex128)
    m21 = np.zeros(f.shape, dtype=np.complex128)
    m22 = np.ones(f.shape, dtype=np.complex128)
    for eps, d in zip(eps_layers, thicknesses):
        _check_thickness(d)
        e = np.broadcast_to(np.asarray(eps, dtype=np.complex128), f.shape)
        y, kz = _admittance(e, sin2, polarization)
        delta = k0 * d * kz
        cd, sd = np.cos(delta), np.sin(delta)
        a11, a12, a21, a22 = cd, 1j * sd / y, 1j * y * sd, cd
        m11, m12, m21, m22 = (m11 * a11 + m12 * a21, m11 * a12 + m12 * a22,
                              m21 * a11 + m22 * a21, m21 * a12 + m22 * a22)
    b = m11 + m12 * y0
    c = m21 + m22 * y0
    den = y0 * b + c
    r = (y0 * b - c) / den
    t = 2.0 * y0 / den
    return SlabResponse(t=t, r=r, transmission=np.abs(t) ** 2, reflection=np.abs(r) ** 2)


def airy_slab(
    eps: np.ndarray | complex,
    thickness: float,
    freq_hz: np.ndarray | float,
    angle: float = 0.0,
    polarization: Literal["TE", "TM"] = "TE",
) -> SlabResponse:
    """Single slab in air, closed form summing all internal bounces (ITU-R P.2040 sec. 2 form).

    ``T = (1 - r^2) e^{-jq} / (1 - r^2 e^{-2jq})``, ``R = r (1 - e^{-2jq}) / (1 - r^2 e^{-2jq})``,
    ``q = k0 d sqrt(eps - sin^2 t)``, ``r`` the air->slab Fresnel coefficient. Kept as an
    independent check of :func:`multilayer_response`.
    """
    f = _check_freq(freq_hz)
    _check_thickness(thickness)
    th = _check_angle(angle)
    e = np.broadcast_to(np.asarray(eps, dtype=np.complex128), f.shape)
    r = np.asarray(interface_reflection(e, th, polarization))
    q = 2.0 * np.pi * f / SPEED_OF_LIGHT * thickness * _kz_over_k0(e, np.sin(th) ** 2)
    ph = np.exp(-1j * q)
    den = 1.0 - r**2 * ph**2
    t_amp = (1.0 - r**2) * ph / den
    r_amp = r * (1.0 - ph**2) / den
    return SlabResponse(t=t_amp, r=r_amp, transmission=np.abs(t_amp) ** 2, reflection=np.abs(r_amp) ** 2)


def slab_response(
    eps: np.ndarray | complex,
    thickness: float,
    freq_hz: np.ndarray | float,
    angle: float = 0.0,
    polarization: Polarization = "mean",
) -> SlabResponse:
    """Power transmission/reflection of one homogeneous slab in air (all internal bounces).

    Args:
        eps: complex permittivity, scalar or array broadcastable to ``freq_hz``.
        thickness: m (>= 0).
        freq_hz: Hz, scalar or array [F].
        angle: incidence angle in air, rad, in [0, pi/2).
        polarization: ``"TE"``, ``"TM"`` or ``"mean"`` (power average; complex ``t``/``r`` are then
            those of TE).

    Returns:
        :class:`SlabResponse`; e.g. ``slab_response(2.73-0.12j, 0.0127, 60e9).loss_db`` is the one-way
        loss of half-inch drywall in dB.
    """
    pol = _check_pol(polarization)
    if pol != "mean":
        return multilayer_response([eps], [thickness], freq_hz, angle, pol)  # type: ignore[arg-type]
    te = multilayer_response([eps], [thickness], freq_hz, angle, "TE")
    if float(angle) == 0.0:
        return te
    tm = multilayer_response([eps], [thickness], freq_hz, angle, "TM")
    return SlabResponse(
        t=te.t,
        r=te.r,
        transmission=0.5 * (te.transmission + tm.transmission),
        reflection=0.5 * (te.reflection + tm.reflection),
    )


def band_average(
    power_fn, f_center_hz: float, bandwidth_hz: float, n_freq: int = 101
) -> float:
    """Mean of a linear power quantity over ``[f_c - B/2, f_c + B/2]`` (``n_freq`` uniform points).

    ``power_fn(freqs [n_freq]) -> [n_freq]`` must return linear power ratios. An FMCW sweep of a few
    GHz averages the Fabry-Perot ripple of a slab in the same way (the range profile sees the
    band-integrated response), which is why :mod:`mmsight.sim.materials` offers it.
    """
    if bandwidth_hz < 0 or not np.isfinite(bandwidth_hz):
        raise ValueError(f"bandwidth_hz must be >= 0, got {bandwidth_hz!r}")
    if bandwidth_hz == 0 or n_freq <= 1:
        return float(np.asarray(power_fn(np.array([float(f_center_hz)])))[0])
    fs = np.linspace(f_center_hz - bandwidth_hz / 2, f_center_hz + bandwidth_hz / 2, int(n_freq))
    return float(np.mean(power_fn(fs)))
