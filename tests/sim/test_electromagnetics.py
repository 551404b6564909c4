"""Slab electromagnetics: closed-form limits, energy conservation and the reference-pack numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mmsight.sim import electromagnetics as em

C0 = em.SPEED_OF_LIGHT

# derive_profiles.py (radar-physics.md reference pack) output, band-averaged over 57-64 / 76-81 GHz:
# (ITU a, b, c, d, thickness m) -> (loss 57-64, loss 76-81, |R|^2 57-64, |R|^2 76-81) in dB
REFERENCE = {
    "drywall 12.7 mm": ((2.73, 0.0, 0.0085, 0.9395), 12.7e-3, (5.58, 6.94, -11.78, -12.66)),
    "wood 12.7 mm": ((1.99, 0.0, 0.0047, 1.0718), 12.7e-3, (5.87, 7.70, -15.14, -14.68)),
    "wood 19 mm": ((1.99, 0.0, 0.0047, 1.0718), 19e-3, (8.66, 11.36, -15.13, -15.37)),
    "particle board 16 mm": ((2.58, 0.0, 0.0217, 0.78), 16e-3, (9.14, 11.11, -12.70, -12.50)),
    "glass 4 mm": ((6.31, 0.0, 0.0036, 1.3394), 4e-3, (3.44, 5.08, -9.20, -6.47)),
    "glass 6 mm": ((6.31, 0.0, 0.0036, 1.3394), 6e-3, (4.94, 6.37, -7.71, -8.18)),
}


def _band(coeffs, d, lo, hi):
    fs = np.linspace(lo, hi, 201)
    resp = em.slab_response(em.itu_permittivity(fs, *coeffs), d, fs)
    return -10 * np.log10(resp.transmission.mean()), 10 * np.log10(resp.reflection.mean())


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_reproduces_reference_pack_band_averages(name):
    coeffs, d, (l60, l77, r60, r77) = REFERENCE[name]
    loss, refl = _band(coeffs, d, 57e9, 64e9)
    assert loss == pytest.approx(l60, abs=0.05) and refl == pytest.approx(r60, abs=0.05)
    loss, refl = _band(coeffs, d, 76e9, 81e9)
    assert loss == pytest.approx(l77, abs=0.05) and refl == pytest.approx(r77, abs=0.05)


def test_itu_permittivity_and_attenuation_match_reference():
    e = em.itu_permittivity(60.5e9, 2.73, 0.0, 0.0085, 0.9395)
    assert e.real == pytest.approx(2.73) and -e.imag == pytest.approx(0.119, abs=1e-3)
    # eps'' = 17.98 sigma / f_GHz
    sigma = 0.0085 * 60.5**0.9395
    assert -e.imag == pytest.approx(17.98 * sigma / 60.5, rel=1e-3)
    assert em.attenuation_db_per_m(e, 60.5e9) / 100 == pytest.approx(3.97, abs=0.01)
    g = em.itu_permittivity(77e9, 6.31, 0.0, 0.0036, 1.3394)
    assert em.attenuation_db_per_m(g, 77e9) / 100 == pytest.approx(7.88, abs=0.01)
    assert em.loss_tangent_permittivity(2.5, 0.12) == pytest.approx(2.5 - 0.3j)


def test_lossless_half_wave_slab_transmits_fully():
    eps, f = 4.0, 60e9
    lam = C0 / f
    d = lam / (2 * math.sqrt(eps))
    resp = em.slab_response(eps, d, f)
    assert resp.transmission == pytest.approx(1.0, abs=1e-12)
    assert resp.reflection == pytest.approx(0.0, abs=1e-12)
    # oblique: the phase thickness k0 d sqrt(eps - sin^2) = pi gives full transmission for TE and TM
    th = math.radians(40)
    d_ob = lam / (2 * math.sqrt(eps - math.sin(th) ** 2))
    for pol in ("TE", "TM"):
        assert em.slab_response(eps, d_ob, f, th, pol).transmission == pytest.approx(1.0, abs=1e-12)
    # quarter-wave slab is the reflection maximum: |R| = 2|r| / (1 + r^2) (r = interface coefficient)
    q = em.slab_response(eps, d / 2, f)
    r = (1 - 2) / (1 + 2)
    assert q.reflection == pytest.approx((2 * abs(r) / (1 + r**2)) ** 2, rel=1e-9)


def test_thin_slab_limit():
    eps, f = 2.5 - 0.3j, 60e9
    k0 = 2 * math.pi * f / C0
    d = (C0 / f) / 2000
    resp = em.slab_response(eps, d, f)
    assert resp.reflection == pytest.approx((k0 * d * abs(eps - 1) / 2) ** 2, rel=0.02)
    assert resp.absorption == pytest.approx(k0 * d * 0.3, rel=0.02)
    assert em.slab_response(eps, 0.0, f).transmission == pytest.approx(1.0)


def _absorbed_by_field_integral(eps, d, f, n=4001):
    """k0 eps'' int |E|^2 dz (normal incidence, unit incident field), an independent absorption."""
    k0 = 2 * math.pi * f / C0
    resp = em.slab_response(eps, d, f)
    t = complex(resp.t)
    y = np.sqrt(complex(eps))
    s = np.linspace(0.0, d, n)  # distance from the back face
    delta = k0 * s * y
    # [E(s), H(s)] = M(s) [t, t] (air behind the slab: H = Y0 E = E)
    e_field = np.cos(delta) * t + 1j * np.sin(delta) / y * t
    return k0 * (-complex(eps).imag) * np.trapezoid(np.abs(e_field) ** 2, s)


@pytest.mark.parametrize("eps,d", [(2.73 - 0.12j, 12.7e-3), (6.31 - 0.26j, 4e-3), (6.0 - 3.6j, 0.5e-3)])
def test_energy_conservation_T_plus_R_plus_A(eps, d):
    resp = em.slab_response(eps, d, 60e9)
    a_direct = _absorbed_by_field_integral(eps, d, 60e9)
    assert 0 < resp.absorption < 1
    assert resp.transmission + resp.reflection + a_direct == pytest.approx(1.0, abs=1e-4)


def test_lossless_energy_conservation_all_angles_and_polarizations():
    fs = np.linspace(55e9, 82e9, 37)
    for th in np.radians([0, 20, 45, 70, 85]):
        for pol in ("TE", "TM", "mean"):
            r = em.slab_response(3.0, 7.3e-3, fs, th, pol)
            np.testing.assert_allclose(r.transmission + r.reflection, 1.0, atol=1e-12)


def test_airy_closed_form_equals_transfer_matrix():
    fs = np.linspace(57e9, 81e9, 25)
    eps = em.itu_permittivity(fs, 2.58, 0.0, 0.0217, 0.78)
    for th in np.radians([0, 30, 60]):
        for pol in ("TE", "TM"):
            a = em.airy_slab(eps, 16e-3, fs, th, pol)
            b = em.multilayer_response([eps], [16e-3], fs, th, pol)
            np.testing.assert_allclose(a.transmission, b.transmission, rtol=1e-10, atol=1e-15)
            np.testing.assert_allclose(a.reflection, b.reflection, rtol=1e-10, atol=1e-15)


def test_two_layers_of_the_same_material_equal_one_thick_layer():
    e = 2.73 - 0.12j
    a = em.multilayer_response([e, e], [6e-3, 6.7e-3], 61e9)
    b = em.multilayer_response([e], [12.7e-3], 61e9)
    assert a.transmission == pytest.approx(b.transmission, rel=1e-10)


def test_thick_lossy_slab_is_attenuation_plus_two_interfaces():
    eps, d, f = 6.31 - 0.28j, 30e-3, 77e9
    for th in (0.0, math.radians(35)):
        resp = em.slab_response(eps, d, f, th, "TE")
        bulk = em.attenuation_only_loss_db(eps, d, f, th)
        r2 = abs(em.interface_reflection(eps, th, "TE")) ** 2
        expected = bulk - 2 * 10 * math.log10(1 - r2)
        assert float(resp.loss_db) == pytest.approx(expected, abs=0.05)
        assert bulk > 20  # internal round trip > 40 dB down: bounces negligible
    # the attenuation-only estimate is alpha * d at normal incidence
    assert em.attenuation_only_loss_db(eps, d, f) == pytest.approx(em.attenuation_db_per_m(eps, f) * d)


def test_brewster_angle_tm_reflection_vanishes_for_lossless_slab():
    eps = 4.0
    th_b = math.atan(math.sqrt(eps))
    assert abs(em.interface_reflection(eps, th_b, "TM")) < 1e-12
    r = em.slab_response(eps, 5e-3, 60e9, th_b, "TM")
    assert r.reflection < 1e-20 and r.transmission == pytest.approx(1.0)


def test_mean_polarization_and_oblique_loss():
    eps, d, f = 2.73 - 0.12j, 12.7e-3, 60e9
    th = math.radians(50)
    te = em.slab_response(eps, d, f, th, "TE")
    tm = em.slab_response(eps, d, f, th, "TM")
    mean = em.slab_response(eps, d, f, th, "mean")
    assert mean.transmission == pytest.approx(0.5 * (te.transmission + tm.transmission))
    # a longer refracted path: bulk loss grows with angle
    assert em.attenuation_only_loss_db(eps, d, f, th) > em.attenuation_only_loss_db(eps, d, f)


def test_cole_cole_debye_limit_and_half_space():
    e = em.cole_cole_permittivity(60e9, 4.0, [(32.0, 7.234e-12, 0.0)])
    w = 2 * math.pi * 60e9
    assert e == pytest.approx(4.0 + 32.0 / (1 + 1j * w * 7.234e-12))
    # PEC-like limit: huge permittivity reflects everything
    assert em.half_space_reflection_db(1e10 - 1e10j) == pytest.approx(0.0, abs=1e-3)


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="thickness"):
        em.slab_response(2.0, -1e-3, 60e9)
    with pytest.raises(ValueError, match="freq"):
        em.slab_response(2.0, 1e-3, 0.0)
    with pytest.raises(ValueError, match="angle"):
        em.slab_response(2.0, 1e-3, 60e9, math.pi / 2)
    with pytest.raises(ValueError, match="polarization"):
        em.slab_response(2.0, 1e-3, 60e9, 0.0, "X")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        em.loss_tangent_permittivity(2.0, -0.1)


def test_band_average():
    assert em.band_average(lambda f: np.full(f.shape, 0.25), 60e9, 4e9) == pytest.approx(0.25)
    assert em.band_average(lambda f: f / 1e9, 60e9, 0.0) == pytest.approx(60.0)
    assert em.band_average(lambda f: f / 1e9, 60e9, 4e9, n_freq=5) == pytest.approx(60.0)
    with pytest.raises(ValueError):
        em.band_average(lambda f: f, 60e9, -1.0)
