"""Material registry: sources, reference numbers, monotonicity, per-instance variation, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mmsight.sim import materials as mt
from mmsight.sim.materials import MATERIALS, get_material

REQUIRED_CLOTHING = ("cotton_tshirt", "fleece", "leather_jacket", "down_jacket", "wet_cotton")
REQUIRED_WALLS = ("curtain", "styrofoam", "gator_board", "particle_board", "drywall", "plywood", "glass", "concrete")
LABELS = ("[doc", "[cfg", "[lit", "[EST")


def test_registry_has_required_materials_with_sources():
    for n in REQUIRED_CLOTHING:
        assert get_material(n).kind == "clothing"
    for n in REQUIRED_WALLS:
        assert get_material(n).kind == "wall"
    assert get_material("skin").kind == "body"
    for m in MATERIALS.values():
        assert any(lab in m.source for lab in LABELS), m.name
        assert m.appearance.texture in mt.TEXTURES
    for cond in (*mt.CLOTHING_CONDITIONS.values(), *mt.WALL_CONDITIONS.values()):
        assert cond in MATERIALS


# derive_profiles.py sec. 3-4 (band-averaged): name -> (thickness, centre, bandwidth, loss dB, |R|^2 dB)
REFERENCE = [
    ("drywall", 12.7e-3, 60.5e9, 7e9, 5.58, -11.78),
    ("drywall", 12.7e-3, 78.5e9, 5e9, 6.94, -12.66),
    ("plywood", 12.7e-3, 60.5e9, 7e9, 5.87, -15.14),
    ("plywood", 12.7e-3, 78.5e9, 5e9, 7.70, -14.68),
    ("particle_board", 16e-3, 60.5e9, 7e9, 9.14, -12.70),
    ("particle_board", 16e-3, 78.5e9, 5e9, 11.11, -12.50),
    ("glass", 4e-3, 60.5e9, 7e9, 3.44, -9.20),
    ("glass", 6e-3, 78.5e9, 5e9, 6.37, -8.18),
    ("ceiling_tile", 15e-3, 60.5e9, 7e9, 1.91, -18.28),
    ("concrete", 100e-3, 60.5e9, 7e9, 82.63, -8.12),
    ("cotton_tshirt", 0.5e-3, 60.5e9, 5e9, 0.32, -15.6),
    ("fleece", 3e-3, 77e9, 5e9, 0.75, -21.4),
    ("leather_jacket", 1.5e-3, 60.5e9, 5e9, 1.70, -20.7),
    ("down_jacket", 30e-3, 77e9, 5e9, 4.41, -31.7),
    ("wet_cotton", 0.5e-3, 60.5e9, 5e9, 6.39, -4.2),
    ("gator_board", 5e-3, 60.5e9, 5e9, 0.36, -19.9),
    ("curtain", 1e-3, 77e9, 5e9, 0.61, -14.0),
]


@pytest.mark.parametrize("name,d,f,bw,loss,refl", REFERENCE)
def test_reproduces_reference_pack(name, d, f, bw, loss, refl):
    m = get_material(name)
    assert m.one_way_loss_db(f, d, bandwidth_hz=bw, n_freq=201) == pytest.approx(loss, abs=0.15)
    assert m.reflection_db(f, d, bandwidth_hz=bw, n_freq=201) == pytest.approx(refl, abs=0.5)


def test_skin_reflectivity_matches_wu_rappaport_collins():
    skin = get_material("skin")
    g = 10 ** (skin.reflection_db(60e9) / 10)
    assert 0.34 <= g <= 0.42
    eps = skin.permittivity(60e9)
    assert eps.real == pytest.approx(7.98, abs=0.05) and -eps.imag == pytest.approx(10.9, abs=0.1)
    assert math.isinf(skin.one_way_loss_db(60e9))
    rng = np.random.default_rng(0)
    gs = [10 ** (skin.sample_instance(rng).reflection_db(60e9) / 10) for _ in range(50)]
    assert 0.33 <= min(gs) and max(gs) <= 0.42


def test_clothing_is_nearly_transparent_and_walls_order():
    for n in ("cotton_tshirt", "denim", "fleece", "polyester_shell", "leather_jacket"):
        for f in (60e9, 77e9):
            assert 0 < get_material(n).one_way_loss_db(f) < 3.0  # Bjarnason et al. 2004: < 3 dB
    assert get_material("concrete").one_way_loss_db(60e9) > 60
    metal = get_material("metal")
    assert math.isinf(metal.one_way_loss_db(77e9)) and metal.reflection_db(77e9) == 0.0
    assert get_material("styrofoam").one_way_loss_db(60e9) < 0.1


def test_loss_monotone_in_frequency():
    fs = np.linspace(57e9, 81e9, 25)
    for m in MATERIALS.values():
        if not m.is_dielectric or m.thickness_m is None:
            continue
        att = m.attenuation_db_per_m(fs)
        assert np.all(np.diff(att) > 0), m.name  # sigma ~ f^d (d > 0) or constant tan delta
        lo = m.one_way_loss_db(60e9, bandwidth_hz=4e9)
        hi = m.one_way_loss_db(77e9, bandwidth_hz=4e9)
        assert hi > lo, m.name


def test_loss_grows_with_thickness_and_angle():
    m = get_material("particle_board")
    losses = [m.one_way_loss_db(60e9, d, bandwidth_hz=4e9) for d in (8e-3, 12e-3, 16e-3, 19e-3)]
    assert np.all(np.diff(losses) > 0)
    assert m.one_way_loss_db(60e9, angle=math.radians(50), bandwidth_hz=4e9) > m.one_way_loss_db(60e9, bandwidth_hz=4e9)
    assert m.one_way_loss_db(60e9, 0.0) == pytest.approx(0.0, abs=1e-12)


def test_sample_instance_respects_bounds_and_seed():
    rng = np.random.default_rng(1)
    for m in MATERIALS.values():
        for _ in range(40):
            inst = m.sample_instance(rng)
            if m.thickness_range_m is None:
                assert inst.thickness_m is None
            else:
                lo, hi = m.thickness_range_m
                assert lo <= inst.thickness_m <= hi
            assert m.contrast_range[0] <= inst.contrast <= m.contrast_range[1]
            app = inst.appearance
            assert any(all(a <= c <= b for a, b, c in zip(lo_, hi_, app.rgb)) for lo_, hi_ in m.appearance.colour_ranges)
            assert m.appearance.gloss_range[0] <= app.gloss <= m.appearance.gloss_range[1]
    a = get_material("fleece").sample_instance(7)
    b = get_material("fleece").sample_instance(7)
    assert a == b
    assert a.one_way_loss_db(60e9) == pytest.approx(get_material("fleece").one_way_loss_db(60e9, a.thickness_m))
    assert a.two_way_loss_db(77e9) == pytest.approx(2 * a.one_way_loss_db(77e9))


def test_array_frequencies_keep_shape():
    m = get_material("drywall")
    f = np.array([[60e9, 61e9, 62e9], [77e9, 78e9, 79e9]])
    assert np.shape(m.one_way_loss_db(f)) == (2, 3)
    assert np.shape(m.reflection_db(f, bandwidth_hz=1e9, n_freq=11)) == (2, 3)
    assert m.one_way_loss_db(f)[0, 0] == pytest.approx(m.one_way_loss_db(60e9))


def test_bad_inputs_give_clear_errors():
    with pytest.raises(ValueError, match="drywall"):  # lists the valid names
        get_material("unobtainium")
    with pytest.raises(ValueError, match="cotton_tshirt"):
        get_material("drywall", kind="clothing")
    with pytest.raises(ValueError, match="thickness"):
        get_material("drywall").one_way_loss_db(60e9, thickness=-0.01)
    with pytest.raises(ValueError, match="thickness"):
        get_material("fleece").reflection_db(60e9, thickness=float("nan"))
    with pytest.raises(ValueError, match="freq"):
        get_material("glass").one_way_loss_db(-1.0)
    with pytest.raises(ValueError):
        mt.material_names("furniture")
    with pytest.raises(ValueError, match="no permittivity"):
        get_material("metal").permittivity(60e9)
    with pytest.raises(ValueError, match="already registered"):
        mt.register_material(get_material("glass"))


def test_table_lists_every_material():
    text = mt.format_material_table()
    for n in MATERIALS:
        assert f"| {n} |" in text
