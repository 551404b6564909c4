"""Materials of the simulated scene: clothing, walls and skin, for the radar and for the camera.

Each :class:`Material` carries

* an electrical model: an ITU-R P.2040 fit (:class:`ItuFit`), a constant permittivity and loss tangent
  (:class:`LossTangent`), a Cole-Cole dispersion (:class:`ColeCole`, skin), a tabulated attenuation
  (:class:`TabulatedLoss`) or a perfect conductor (:class:`PerfectConductor`);
* a nominal thickness and the range a random instance is drawn from (per-instance variation);
* appearance hints for a camera renderer (colour ranges, texture type, gloss, visible opacity);
* ``source``: where every number comes from, with the labels of radar-physics.md kept honest:
  **[doc]** a document whose text was read when the reference pack was compiled, **[cfg]** a source
  file read then, **[lit]** a standard result recalled but not re-read, **[EST]** an engineering
  estimate (assumed permittivity, typical thickness).

Radar quantities come from the slab physics in :mod:`mmsight.sim.electromagnetics`: one-way power
transmission loss and power reflection of the slab in air, with all internal bounces, at a single
frequency or averaged over a sweep bandwidth (``bandwidth_hz``; an FMCW chirp of 3-4 GHz averages the
Fabry-Perot ripple of a wall, so this is the number to use for a radar frame).

What the values mean and how sure they are (see ``docs/sim_materials.md`` for the table):

* Walls with an ITU entry (drywall, particle board, glass, ceiling tile, concrete) use the ITU-R
  P.2040 fit inside its stated validity (1-100 GHz) [doc/cfg]; the *thickness* is a typical
  construction size [EST]. Plywood uses the ITU "wood" fit because the ITU "plywood" fit is only
  valid to 40 GHz [EST choice, radar-physics.md 4.2].
* Foam walls, curtain and all fabrics use an assumed ``eps'``/``tan delta`` [EST, radar-physics.md
  4.2-4.3]; the only measured anchor for dry fabrics is the bound "usefully transparent (< 3 dB) up to
  300 GHz" [doc: Bjarnason et al., APL 85:519, 2004].
* Skin uses Gabriel-type dry-skin dispersion parameters [lit, recalled: Gabriel, Lau & Gabriel, Phys.
  Med. Biol. 41, 1996], which reproduce eps = 7.98 - j10.9 at 60 GHz used in radar-physics.md 3.3;
  the per-instance contrast is chosen so that the power reflectivity spans the measured 34-42 % at
  60 GHz [doc: Wu, Rappaport & Collins, ICC 2015].
* Brick is tabulated [EST] because the ITU brick fit is not valid above 40 GHz.

Run ``python -m mmsight.sim.materials`` to print the tables of ``docs/sim_materials.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Literal, Mapping, Sequence, Union

import numpy as np

from mmsight.sim import electromagnetics as em

__all__ = [
    "MaterialKind",
    "ItuFit",
    "LossTangent",
    "ColeCole",
    "TabulatedLoss",
    "PerfectConductor",
    "ElectricalModel",
    "TEXTURES",
    "Appearance",
    "SampledAppearance",
    "Material",
    "MaterialInstance",
    "MATERIALS",
    "CLOTHING_CONDITIONS",
    "WALL_CONDITIONS",
    "get_material",
    "material_names",
    "register_material",
    "material_table",
    "format_material_table",
    "main",
]

MaterialKind = Literal["clothing", "wall", "body"]
_KINDS = ("clothing", "wall", "body")

RGB = tuple[int, int, int]


# ----------------------------------------------------------------------------------------------
# electrical models
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ItuFit:
    """ITU-R P.2040 fit ``eps' = a f^b``, ``sigma = c f^d`` (f in GHz, sigma in S/m).

    Attributes:
        itu_name: the material's name in ITU-R P.2040 Table 3.
        valid_ghz: (low, high) frequency validity of the fit, GHz.
    """

    a: float
    b: float
    c: float
    d: float
    itu_name: str
    valid_ghz: tuple[float, float]

    def permittivity(self, freq_hz: np.ndarray | float) -> np.ndarray | complex:
        """Complex relative permittivity ``eps' - j eps''`` at ``freq_hz`` (Hz)."""
        return em.itu_permittivity(freq_hz, self.a, self.b, self.c, self.d)

    def describe(self) -> str:
        return (f"ITU-R P.2040 '{self.itu_name}': a={self.a}, b={self.b}, c={self.c}, d={self.d} "
                f"(valid {self.valid_ghz[0]:g}-{self.valid_ghz[1]:g} GHz)")


@dataclass(frozen=True)
class LossTangent:
    """Frequency-independent ``eps_r`` and ``tan delta`` (``eps = eps_r (1 - j tan_delta)``)."""

    eps_r: float
    tan_delta: float

    def permittivity(self, freq_hz: np.ndarray | float) -> np.ndarray | complex:
        f = np.asarray(freq_hz, dtype=np.float64)
        e = em.loss_tangent_permittivity(self.eps_r, self.tan_delta)
        return e if f.ndim == 0 else np.full(f.shape, e, dtype=np.complex128)

    def describe(self) -> str:
        return f"eps_r={self.eps_r:g}, tan_delta={self.tan_delta:g}"


@dataclass(frozen=True)
class ColeCole:
    """Multi-pole Cole-Cole dispersion (tissue). ``poles``: ``(delta_eps, tau_s, alpha)``."""

    eps_inf: float
    poles: tuple[tuple[float, float, float], ...]
    sigma_s: float

    def permittivity(self, freq_hz: np.ndarray | float) -> np.ndarray | complex:
        return em.cole_cole_permittivity(freq_hz, self.eps_inf, self.poles, self.sigma_s)

    def describe(self) -> str:
        return f"Cole-Cole eps_inf={self.eps_inf:g}, poles={self.poles}, sigma={self.sigma_s:g} S/m"


@dataclass(frozen=True)
class TabulatedLoss:
    """Attenuation rate tabulated against frequency, for materials without a usable permittivity.

    The one-way loss is ``attenuation(f) * d / cos(angle)`` (air-side angle: an upper bound on the
    in-material path, since refraction shortens it); the power reflection is a constant
    ``reflection_db``, independent of frequency, angle and thickness.

    Attributes:
        freqs_hz: increasing frequencies, Hz.
        attenuation_db_per_m: one-way attenuation at ``freqs_hz``, dB/m (linear interpolation,
            constant extrapolation).
        reflection_db: power reflection, dB (<= 0).
    """

    freqs_hz: tuple[float, ...]
    attenuation_db_per_m: tuple[float, ...]
    reflection_db: float

    def attenuation(self, freq_hz: np.ndarray | float) -> np.ndarray:
        return np.interp(np.asarray(freq_hz, dtype=np.float64), self.freqs_hz, self.attenuation_db_per_m)

    def describe(self) -> str:
        pts = ", ".join(f"{a / 100:g} dB/cm @ {f / 1e9:g} GHz" for f, a in zip(self.freqs_hz, self.attenuation_db_per_m))
        return f"tabulated attenuation {pts}; |R|^2 = {self.reflection_db:g} dB"


@dataclass(frozen=True)
class PerfectConductor:
    """Metal: opaque (infinite transmission loss), total reflection (0 dB)."""

    def describe(self) -> str:
        return "perfect electric conductor"


DielectricModel = Union[ItuFit, LossTangent, ColeCole]
ElectricalModel = Union[ItuFit, LossTangent, ColeCole, TabulatedLoss, PerfectConductor]


# ----------------------------------------------------------------------------------------------
# appearance
# ----------------------------------------------------------------------------------------------

#: Texture families a camera renderer is expected to understand (procedural or from a texture set).
TEXTURES: tuple[str, ...] = (
    "knit", "denim_twill", "fleece", "woven_nylon", "leather", "quilted", "woven_drape",
    "foam", "foam_board", "particle", "painted_plaster", "wood_grain", "glass", "fissured_tile",
    "concrete", "brick", "brushed_metal", "skin",
)


@dataclass(frozen=True)
class SampledAppearance:
    """One draw of a material's look.

    Attributes:
        texture: one of :data:`TEXTURES`.
        rgb: base colour, sRGB uint8 values.
        gloss: 0 (matte) .. 1 (mirror-like specular).
        pattern_scale_m: size of the texture's repeating feature (knit loop, quilt cell, grain), m.
        opacity: visible-light opacity, 0 (clear glass) .. 1 (opaque).
    """

    texture: str
    rgb: RGB
    gloss: float
    pattern_scale_m: float
    opacity: float


@dataclass(frozen=True)
class Appearance:
    """Randomisable camera look of a material [EST: plausible everyday ranges, no measurement].

    Attributes:
        texture: one of :data:`TEXTURES`.
        colour_ranges: per-channel (low, high) sRGB boxes; an instance picks one box uniformly and a
            colour uniformly inside it.
        gloss_range: (low, high), 0..1.
        pattern_scale_m: (low, high) feature size, m.
        opacity: visible-light opacity, 0..1.
    """

    texture: str
    colour_ranges: tuple[tuple[RGB, RGB], ...]
    gloss_range: tuple[float, float] = (0.0, 0.15)
    pattern_scale_m: tuple[float, float] = (0.002, 0.01)
    opacity: float = 1.0

    def __post_init__(self) -> None:
        if self.texture not in TEXTURES:
            raise ValueError(f"unknown texture {self.texture!r}; valid: {', '.join(TEXTURES)}")
        if not self.colour_ranges:
            raise ValueError("colour_ranges must not be empty")
        for lo, hi in self.colour_ranges:
            if any(not (0 <= a <= b <= 255) for a, b in zip(lo, hi)):
                raise ValueError(f"bad colour range {lo}..{hi}: need 0 <= low <= high <= 255 per channel")

    def sample(self, rng: np.random.Generator) -> SampledAppearance:
        lo, hi = self.colour_ranges[int(rng.integers(len(self.colour_ranges)))]
        rgb = tuple(int(rng.integers(a, b + 1)) for a, b in zip(lo, hi))
        return SampledAppearance(
            texture=self.texture,
            rgb=rgb,  # type: ignore[arg-type]
            gloss=float(rng.uniform(*self.gloss_range)),
            pattern_scale_m=float(rng.uniform(*self.pattern_scale_m)),
            opacity=self.opacity,
        )


# ----------------------------------------------------------------------------------------------
# material
# ----------------------------------------------------------------------------------------------


def _rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


@dataclass(frozen=True)
class Material:
    """A named material with its electrical model, thickness, look and sources.

    Attributes:
        name: registry key (snake_case).
        kind: ``"clothing"``, ``"wall"`` or ``"body"``.
        model: electrical model (see module docstring).
        thickness_m: nominal slab thickness, m; ``None`` for a half-space (skin: the body is opaque).
        thickness_range_m: (low, high) bounds of the per-instance thickness, m (uniform draw);
            ``None`` when ``thickness_m`` is ``None``.
        appearance: camera hints.
        source: citations for every number, with [doc]/[cfg]/[lit]/[EST] labels.
        description: what the material stands for.
        contrast_range: (low, high) per-instance scale ``s`` of the dielectric contrast,
            ``eps -> 1 + s (eps - 1)`` (moisture, density); (1, 1) = no variation.
    """

    name: str
    kind: MaterialKind
    model: ElectricalModel
    thickness_m: float | None
    thickness_range_m: tuple[float, float] | None
    appearance: Appearance
    source: str
    description: str = ""
    contrast_range: tuple[float, float] = (1.0, 1.0)

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"material {self.name!r}: kind must be one of {_KINDS}, got {self.kind!r}")
        if not self.source.strip():
            raise ValueError(f"material {self.name!r} needs a source")
        if self.thickness_m is None:
            if self.thickness_range_m is not None:
                raise ValueError(f"material {self.name!r}: a half-space has no thickness range")
        else:
            if self.thickness_range_m is None:
                raise ValueError(f"material {self.name!r}: thickness_range_m is required")
            lo, hi = self.thickness_range_m
            if not (0 < lo <= self.thickness_m <= hi):
                raise ValueError(
                    f"material {self.name!r}: need 0 < low <= nominal <= high, got "
                    f"{lo} <= {self.thickness_m} <= {hi} m")
        lo, hi = self.contrast_range
        if not (0 < lo <= 1.0 <= hi):
            raise ValueError(f"material {self.name!r}: contrast_range must bracket 1, got {self.contrast_range}")

    # -- electrical ----------------------------------------------------------------------------

    @property
    def is_dielectric(self) -> bool:
        return isinstance(self.model, (ItuFit, LossTangent, ColeCole))

    def permittivity(self, freq_hz: np.ndarray | float, contrast: float = 1.0) -> np.ndarray | complex:
        """Complex relative permittivity at ``freq_hz`` (Hz); ``contrast`` scales ``eps - 1``.

        Raises:
            ValueError: for tabulated or metallic materials (no permittivity).
        """
        if not self.is_dielectric:
            raise ValueError(f"material {self.name!r} ({type(self.model).__name__}) has no permittivity model")
        eps = self.model.permittivity(freq_hz)  # type: ignore[union-attr]
        if contrast != 1.0:
            eps = 1.0 + contrast * (np.asarray(eps) - 1.0)
            eps = complex(eps) if np.ndim(eps) == 0 else eps
        return eps

    def attenuation_db_per_m(self, freq_hz: np.ndarray | float, contrast: float = 1.0) -> np.ndarray | float:
        """Bulk power attenuation inside the material, dB/m (inf for metal)."""
        if isinstance(self.model, PerfectConductor):
            return float("inf") if np.ndim(freq_hz) == 0 else np.full(np.shape(freq_hz), np.inf)
        if isinstance(self.model, TabulatedLoss):
            a = self.model.attenuation(freq_hz)
            return float(a) if np.ndim(a) == 0 else a
        return em.attenuation_db_per_m(self.permittivity(freq_hz, contrast), freq_hz)

    def _resolve_thickness(self, thickness: float | None) -> float | None:
        if thickness is None:
            return self.thickness_m
        t = float(thickness)
        if not math.isfinite(t) or t < 0:
            raise ValueError(f"thickness must be finite and >= 0 (m), got {thickness!r} for material {self.name!r}")
        return t

    def _powers(
        self, freqs: np.ndarray, thickness: float | None, angle: float, polarization: str, contrast: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Linear (transmission, reflection) power at the flat array ``freqs`` [F]."""
        if isinstance(self.model, PerfectConductor):
            return np.zeros(freqs.shape), np.ones(freqs.shape)
        if isinstance(self.model, TabulatedLoss):
            a = em._check_angle(angle)
            att = self.model.attenuation(freqs) * (thickness or 0.0) / math.cos(a)
            trans = 10.0 ** (-att / 10.0) if thickness is not None else np.zeros(freqs.shape)
            return trans, np.full(freqs.shape, 10.0 ** (self.model.reflection_db / 10.0))
        eps = self.permittivity(freqs, contrast)
        if thickness is None:  # half-space
            refl = 10.0 ** (np.asarray(em.half_space_reflection_db(eps, angle, polarization)) / 10.0)  # type: ignore[arg-type]
            return np.zeros(freqs.shape), refl
        resp = em.slab_response(eps, thickness, freqs, angle, polarization)  # type: ignore[arg-type]
        return resp.transmission, resp.reflection

    def _band_powers(
        self, freq_hz: np.ndarray | float, thickness: float | None, angle: float, polarization: str,
        bandwidth_hz: float, contrast: float, n_freq: int,
    ) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
        f = em._check_freq(freq_hz)
        shape = f.shape
        flat = f.reshape(-1)
        if bandwidth_hz < 0 or not math.isfinite(bandwidth_hz):
            raise ValueError(f"bandwidth_hz must be finite and >= 0, got {bandwidth_hz!r}")
        if bandwidth_hz > 0:
            off = np.linspace(-bandwidth_hz / 2, bandwidth_hz / 2, max(int(n_freq), 2))
            grid = flat[:, None] + off[None, :]
            em._check_freq(grid)
            t, r = self._powers(grid.reshape(-1), thickness, angle, polarization, contrast)
            return t.reshape(grid.shape).mean(axis=1), r.reshape(grid.shape).mean(axis=1), shape
        t, r = self._powers(flat, thickness, angle, polarization, contrast)
        return t, r, shape

    def one_way_loss_db(
        self,
        freq_hz: np.ndarray | float,
        thickness: float | None = None,
        angle: float = 0.0,
        polarization: em.Polarization = "mean",
        bandwidth_hz: float = 0.0,
        contrast: float = 1.0,
        n_freq: int = 101,
    ) -> np.ndarray | float:
        """One-way power transmission loss through the slab, dB (>= 0; inf when opaque/half-space).

        Args:
            freq_hz: Hz, scalar or array of any shape (the result has that shape).
            thickness: m; ``None`` = nominal :attr:`thickness_m`. Must be >= 0.
            angle: incidence angle from the slab normal, rad, in [0, pi/2).
            polarization: ``"TE"``, ``"TM"`` or ``"mean"`` (power average).
            bandwidth_hz: average the linear transmission over ``freq +- bandwidth/2`` (0 = single
                frequency). Use the chirp bandwidth to remove the Fabry-Perot ripple.
            contrast: dielectric-contrast scale (see :attr:`contrast_range`).
            n_freq: points of the band average.
        """
        th = self._resolve_thickness(thickness)
        t, _, shape = self._band_powers(freq_hz, th, angle, polarization, bandwidth_hz, contrast, n_freq)
        out = -np.asarray(em.to_db(t)).reshape(shape)
        return float(out) if out.ndim == 0 else out

    def two_way_loss_db(self, freq_hz: np.ndarray | float, thickness: float | None = None, angle: float = 0.0,
                        **kwargs) -> np.ndarray | float:
        """Round-trip loss (radar -> through slab -> back), dB: twice :meth:`one_way_loss_db`."""
        return 2.0 * self.one_way_loss_db(freq_hz, thickness, angle, **kwargs)

    def reflection_db(
        self,
        freq_hz: np.ndarray | float,
        thickness: float | None = None,
        angle: float = 0.0,
        polarization: em.Polarization = "mean",
        bandwidth_hz: float = 0.0,
        contrast: float = 1.0,
        n_freq: int = 101,
    ) -> np.ndarray | float:
        """Specular power reflection of the slab (or half-space), dB (<= 0). Same arguments as
        :meth:`one_way_loss_db`."""
        th = self._resolve_thickness(thickness)
        _, r, shape = self._band_powers(freq_hz, th, angle, polarization, bandwidth_hz, contrast, n_freq)
        out = np.asarray(em.to_db(r)).reshape(shape)
        return float(out) if out.ndim == 0 else out

    # -- instances -----------------------------------------------------------------------------

    def sample_instance(self, rng: np.random.Generator | int | None = None) -> "MaterialInstance":
        """Draw one instance: thickness uniform in :attr:`thickness_range_m`, contrast uniform in
        :attr:`contrast_range`, appearance from :attr:`appearance`."""
        g = _rng(rng)
        th = None if self.thickness_range_m is None else float(g.uniform(*self.thickness_range_m))
        lo, hi = self.contrast_range
        contrast = 1.0 if lo == hi else float(g.uniform(lo, hi))
        return MaterialInstance(material=self, thickness_m=th, contrast=contrast, appearance=self.appearance.sample(g))

    def nominal_instance(self) -> "MaterialInstance":
        """The instance with nominal thickness, unit contrast and the first colour box's midpoint."""
        lo, hi = self.appearance.colour_ranges[0]
        rgb = tuple(int((a + b) // 2) for a, b in zip(lo, hi))
        app = SampledAppearance(self.appearance.texture, rgb, float(np.mean(self.appearance.gloss_range)),  # type: ignore[arg-type]
                                float(np.mean(self.appearance.pattern_scale_m)), self.appearance.opacity)
        return MaterialInstance(material=self, thickness_m=self.thickness_m, contrast=1.0, appearance=app)

    def model_summary(self) -> str:
        return self.model.describe()


@dataclass(frozen=True)
class MaterialInstance:
    """One randomised realisation of a :class:`Material` (e.g. a given person's fleece).

    Attributes:
        material: the template.
        thickness_m: this instance's thickness, m (``None`` for a half-space).
        contrast: dielectric-contrast scale of this instance.
        appearance: this instance's colour/texture.
    """

    material: Material
    thickness_m: float | None
    contrast: float
    appearance: SampledAppearance

    @property
    def name(self) -> str:
        return self.material.name

    @property
    def kind(self) -> str:
        return self.material.kind

    def one_way_loss_db(self, freq_hz: np.ndarray | float, angle: float = 0.0, polarization: em.Polarization = "mean",
                        bandwidth_hz: float = 0.0) -> np.ndarray | float:
        """One-way loss of this instance, dB (see :meth:`Material.one_way_loss_db`)."""
        return self.material.one_way_loss_db(freq_hz, self.thickness_m, angle, polarization, bandwidth_hz,
                                              self.contrast)

    def two_way_loss_db(self, freq_hz: np.ndarray | float, angle: float = 0.0, polarization: em.Polarization = "mean",
                        bandwidth_hz: float = 0.0) -> np.ndarray | float:
        """Round-trip loss of this instance, dB."""
        return 2.0 * self.one_way_loss_db(freq_hz, angle, polarization, bandwidth_hz)

    def reflection_db(self, freq_hz: np.ndarray | float, angle: float = 0.0, polarization: em.Polarization = "mean",
                      bandwidth_hz: float = 0.0) -> np.ndarray | float:
        """Power reflection of this instance, dB."""
        return self.material.reflection_db(freq_hz, self.thickness_m, angle, polarization, bandwidth_hz, self.contrast)

    def with_thickness(self, thickness_m: float) -> "MaterialInstance":
        if not (math.isfinite(thickness_m) and thickness_m >= 0):
            raise ValueError(f"thickness must be finite and >= 0 (m), got {thickness_m!r}")
        return replace(self, thickness_m=float(thickness_m))


# ----------------------------------------------------------------------------------------------
# the registry
# ----------------------------------------------------------------------------------------------

_MM = 1e-3

_SRC_FABRIC = ("eps'/tan delta assumed [EST], slab estimates of radar-physics.md 4.3 (derive_profiles.py sec. 4); "
               "measured bound: all common fabrics 'usefully transparent (<3 dB) up to 300 GHz' "
               "[doc: Bjarnason, Chan, Lee, Celis & Brown, APL 85:519, 2004]")
_SRC_ITU = ("ITU-R P.2040 Table 3 coefficients as coded in NVlabs/sionna-rt radio_materials/itu.py [cfg], "
            "radar-physics.md 4.1-4.2")

_WHITES: tuple[tuple[RGB, RGB], ...] = (((225, 225, 220), (250, 250, 248)), ((215, 205, 185), (240, 232, 215)))


def _fabric_colours() -> tuple[tuple[RGB, RGB], ...]:
    return (
        ((225, 225, 225), (252, 252, 252)),  # white
        ((15, 15, 18), (45, 45, 50)),        # black
        ((95, 95, 100), (175, 175, 180)),    # greys
        ((20, 30, 60), (45, 60, 115)),       # navy
        ((140, 20, 25), (210, 60, 60)),      # reds
        ((40, 80, 40), (90, 130, 80)),       # greens
        ((180, 150, 90), (230, 200, 140)),   # beige / khaki
    )


def _builtin() -> dict[str, Material]:
    mats: list[Material] = [
        # ---------------- clothing ----------------
        Material(
            "cotton_tshirt", "clothing", LossTangent(1.6, 0.05), 0.5 * _MM, (0.3 * _MM, 0.8 * _MM),
            Appearance("knit", _fabric_colours(), (0.0, 0.1), (0.001, 0.003)),
            _SRC_FABRIC + "; eps_cotton ~ 1.6 as used in TI e2e thread 1395563 [doc]; thickness [EST]",
            "casual dress: single cotton jersey layer (mmAnomaly Cloth-1)"),
        Material(
            "denim", "clothing", LossTangent(1.7, 0.06), 1.0 * _MM, (0.6 * _MM, 1.4 * _MM),
            Appearance("denim_twill", (((25, 40, 80), (70, 95, 150)), ((15, 15, 20), (50, 50, 55)),
                                       ((100, 125, 160), (150, 170, 200))), (0.0, 0.1), (0.001, 0.002)),
            _SRC_FABRIC + "; thickness [EST]", "jeans / denim jacket layer"),
        Material(
            "fleece", "clothing", LossTangent(1.3, 0.03), 3.0 * _MM, (2.0 * _MM, 5.0 * _MM),
            Appearance("fleece", _fabric_colours(), (0.0, 0.05), (0.002, 0.006)),
            _SRC_FABRIC + "; wool/fleece row, thickness [EST]", "fleece jacket (mmAnomaly Cloth-2)"),
        Material(
            "polyester_shell", "clothing", LossTangent(2.0, 0.01), 0.3 * _MM, (0.15 * _MM, 0.5 * _MM),
            Appearance("woven_nylon", _fabric_colours(), (0.2, 0.5), (0.0005, 0.002)),
            _SRC_FABRIC + "; polyester/nylon row, PE eps ~ 2 from TI radome note via e2e 1395563 [doc]; thickness [EST]",
            "windbreaker / rain shell layer"),
        Material(
            "leather_jacket", "clothing", LossTangent(2.5, 0.12), 1.5 * _MM, (1.0 * _MM, 2.2 * _MM),
            Appearance("leather", (((10, 10, 10), (45, 40, 38)), ((60, 35, 20), (120, 75, 45)),
                                   ((120, 80, 50), (170, 120, 80))), (0.3, 0.7), (0.002, 0.008)),
            _SRC_FABRIC + "; leather row; the 14-40 GHz leather study [doc abstract] reports absorption "
                          "depending on the dyeing, so tan delta is uncertain by x2 [EST]",
            "leather jacket (mmAnomaly evaluates leather)"),
        Material(
            "down_jacket", "clothing", LossTangent(1.1, 0.02), 30.0 * _MM, (15.0 * _MM, 50.0 * _MM),
            Appearance("quilted", (((10, 10, 12), (40, 40, 45)), ((20, 30, 70), (50, 70, 130)),
                                   ((150, 20, 25), (220, 60, 50)), ((70, 80, 45), (110, 120, 75)),
                                   ((200, 200, 200), (245, 245, 245))), (0.3, 0.7), (0.08, 0.15)),
            _SRC_FABRIC + "; down-jacket row: shells + down homogenised to one 30 mm slab [EST]",
            "snow / down jacket (mmAnomaly Cloth-3)"),
        Material(
            "wet_cotton", "clothing", LossTangent(6.0, 0.6), 0.5 * _MM, (0.3 * _MM, 0.8 * _MM),
            Appearance("knit", (((10, 10, 12), (35, 35, 40)), ((60, 60, 65), (120, 120, 125)),
                                ((15, 22, 45), (35, 45, 90))), (0.2, 0.4), (0.001, 0.003)),
            "illustrative: ~50 % water content, eps 6 - j3.6 assumed [EST, radar-physics.md 4.3]; shows that water, "
            "not fibre, dominates textile loss",
            "rain-soaked cotton layer (documented extra, not in mmAnomaly)"),
        # ---------------- walls / partitions ----------------
        Material(
            "curtain", "wall", LossTangent(1.6, 0.05), 1.0 * _MM, (0.5 * _MM, 2.0 * _MM),
            Appearance("woven_drape", _fabric_colours(), (0.0, 0.2), (0.002, 0.02), opacity=0.97),
            "heavy cotton/poly curtain, eps'/tan delta assumed as cotton [EST, radar-physics.md 4.2 'dielectric walls']",
            "heavy curtain (mmAnomaly through-wall material)"),
        Material(
            "styrofoam", "wall", LossTangent(1.03, 1e-4), 25.0 * _MM, (10.0 * _MM, 50.0 * _MM),
            Appearance("foam", (((228, 228, 225), (250, 250, 248)),), (0.0, 0.1), (0.002, 0.005)),
            "expanded polystyrene eps ~ 1.03, tan delta ~ 1e-4 [EST, radar-physics.md 4.2; EPS foam is "
            "~97 % air]; thickness of a foam panel [EST]",
            "EPS styrofoam panel (mmAnomaly Wall-1)"),
        Material(
            "gator_board", "wall", LossTangent(1.3, 0.01), 5.0 * _MM, (3.0 * _MM, 13.0 * _MM),
            Appearance("foam_board", (((230, 230, 228), (252, 252, 250)), ((15, 15, 15), (40, 40, 40))),
                       (0.05, 0.25), (0.01, 0.05)),
            "foam core between paper/wood-fibre veneers, eps 1.3, tan delta 0.01 assumed "
            "[EST, radar-physics.md 4.2 and 9: no measured permittivity found]; 3/16 in - 1/2 in sheets [EST]",
            "gator / foam board (mmAnomaly Wall-3)"),
        Material(
            "particle_board", "wall", ItuFit(2.58, 0.0, 0.0217, 0.78, "chipboard", (1.0, 100.0)),
            16.0 * _MM, (12.0 * _MM, 19.0 * _MM),
            Appearance("particle", (((150, 120, 80), (200, 165, 120)), ((225, 220, 210), (245, 242, 235))),
                       (0.0, 0.2), (0.003, 0.01)),
            _SRC_ITU + " ('chipboard'); 12-19 mm sheet thickness [EST]",
            "particle board / chipboard sheet (mmAnomaly Wall-2)"),
        Material(
            "drywall", "wall", ItuFit(2.73, 0.0, 0.0085, 0.9395, "plasterboard", (1.0, 100.0)),
            12.7 * _MM, (9.5 * _MM, 15.9 * _MM),
            Appearance("painted_plaster", _WHITES + (((180, 190, 195), (215, 222, 226)),), (0.0, 0.15),
                       (0.01, 0.05)),
            _SRC_ITU + " ('plasterboard'); 3/8-5/8 in board [EST, standard sizes]",
            "gypsum drywall, one layer"),
        Material(
            "plywood", "wall", ItuFit(1.99, 0.0, 0.0047, 1.0718, "wood", (0.001, 100.0)),
            12.7 * _MM, (9.0 * _MM, 19.0 * _MM),
            Appearance("wood_grain", (((170, 130, 80), (220, 180, 125)), ((120, 80, 45), (165, 120, 75))),
                       (0.05, 0.3), (0.005, 0.03)),
            _SRC_ITU + " ('wood'; the ITU 'plywood' fit is valid only to 40 GHz, so 'wood' is used [EST choice]); "
                       "9-19 mm sheet [EST]",
            "plywood sheet"),
        Material(
            "glass", "wall", ItuFit(6.31, 0.0, 0.0036, 1.3394, "glass", (0.1, 100.0)),
            4.0 * _MM, (3.0 * _MM, 6.0 * _MM),
            Appearance("glass", (((200, 215, 215), (235, 245, 245)),), (0.85, 1.0), (0.5, 2.0), opacity=0.08),
            _SRC_ITU + " ('glass', clear uncoated float glass; low-E/metallised glass is opaque and must use "
                       "'metal'); 3-6 mm pane [EST]",
            "clear window / door glass"),
        Material(
            "ceiling_tile", "wall", ItuFit(1.48, 0.0, 0.0011, 1.075, "ceiling board", (1.0, 100.0)),
            15.0 * _MM, (12.0 * _MM, 19.0 * _MM),
            Appearance("fissured_tile", _WHITES, (0.0, 0.1), (0.003, 0.01)),
            _SRC_ITU + " ('ceiling board'); thickness [EST]",
            "mineral-fibre ceiling tile"),
        Material(
            "concrete", "wall", ItuFit(5.24, 0.0, 0.0462, 0.7822, "concrete", (1.0, 100.0)),
            100.0 * _MM, (80.0 * _MM, 250.0 * _MM),
            Appearance("concrete", (((110, 110, 108), (175, 175, 170)),), (0.0, 0.1), (0.005, 0.03)),
            _SRC_ITU + " ('concrete'); > 80 dB one way at 100 mm: opaque; thickness [EST]",
            "poured concrete wall (opaque)"),
        Material(
            "brick", "wall", TabulatedLoss((60e9, 77e9), (200.0, 250.0), -9.0),
            100.0 * _MM, (90.0 * _MM, 120.0 * _MM),
            Appearance("brick", (((120, 45, 35), (175, 85, 60)), ((170, 150, 120), (210, 190, 160))),
                       (0.0, 0.1), (0.06, 0.08)),
            "[EST] attenuation 20 / 25 dB per 10 cm at 60 / 77 GHz from radar-physics.md 4.2 guidance "
            "('>= 15-30 dB per 10 cm, effectively opaque'); the ITU brick fit is invalid above 40 GHz; "
            "|R|^2 = -9 dB from the ITU brick interface [EST]",
            "brick + mortar wall (treated as nearly opaque)"),
        Material(
            "metal", "wall", PerfectConductor(), 1.0 * _MM, (0.5 * _MM, 2.0 * _MM),
            Appearance("brushed_metal", (((190, 190, 195), (235, 235, 240)), ((235, 235, 235), (252, 252, 252))),
                       (0.5, 0.9), (0.01, 0.1)),
            "perfect conductor [lit: skin depth of steel/aluminium at 60 GHz is < 1 um]; whiteboards "
            "(porcelain-on-steel) and steel doors |R|^2 ~ 0 dB [EST, radar-physics.md 6]",
            "metal sheet: steel door, whiteboard, appliance side"),
        # ---------------- body ----------------
        Material(
            "skin", "body",
            ColeCole(4.0, ((32.0, 7.234e-12, 0.0), (1100.0, 32.481e-9, 0.20)), 0.0002),
            None, None,
            Appearance("skin", (((75, 45, 30), (120, 80, 60)), ((140, 95, 70), (195, 140, 110)),
                                ((200, 155, 125), (240, 205, 180))), (0.1, 0.35), (0.0005, 0.002)),
            "dry-skin Cole-Cole parameters (first two dispersions) [lit, recalled: Gabriel, Lau & Gabriel, "
            "Phys. Med. Biol. 41:2271, 1996]; gives eps = 7.98 - j10.9 and |Gamma|^2 = 0.38 at 60 GHz as in "
            "radar-physics.md 3.3; contrast range 0.82-1.2 [EST] spans |Gamma|^2 = 0.34-0.41 at 60 GHz, "
            "matching 'skin reflects 34-42 % of incident power at 60 GHz' "
            "[doc: Wu, Rappaport & Collins, ICC 2015]; half-space (penetration ~0.24 mm)",
            "human skin (half-space; the body is opaque at mm-wave)",
            contrast_range=(0.82, 1.2)),
    ]
    return {m.name: m for m in mats}


_REGISTRY: dict[str, Material] = _builtin()
#: Read-only view of the registry, name -> :class:`Material`.
MATERIALS: Mapping[str, Material] = MappingProxyType(_REGISTRY)

#: mmAnomaly's clothing conditions (sec. 5.1) -> material names.
CLOTHING_CONDITIONS: Mapping[str, str] = MappingProxyType(
    {"cloth-1": "cotton_tshirt", "cloth-2": "fleece", "cloth-3": "down_jacket"})
#: mmAnomaly's wall conditions (sec. 5.2) -> material names; the through-wall set also has a curtain.
WALL_CONDITIONS: Mapping[str, str] = MappingProxyType(
    {"wall-1": "styrofoam", "wall-2": "particle_board", "wall-3": "gator_board"})


def material_names(kind: str | None = None) -> tuple[str, ...]:
    """Registered names, optionally of one kind (``"clothing"``, ``"wall"``, ``"body"``)."""
    if kind is not None and kind not in _KINDS:
        raise ValueError(f"unknown kind {kind!r}; valid kinds: {', '.join(_KINDS)}")
    return tuple(n for n, m in _REGISTRY.items() if kind is None or m.kind == kind)


def get_material(name: str | Material, kind: str | None = None) -> Material:
    """Look a material up by name (or pass a :class:`Material` through).

    Raises:
        ValueError: unknown name (the message lists the valid names), or a material of another kind
            than ``kind``.
    """
    if isinstance(name, Material):
        m = name
    else:
        key = str(name).strip().lower().replace("-", "_").replace(" ", "_")
        if key not in _REGISTRY:
            raise ValueError(f"unknown material {name!r}; valid names: {', '.join(material_names(kind))}")
        m = _REGISTRY[key]
    if kind is not None and m.kind != kind:
        raise ValueError(f"material {m.name!r} is a {m.kind} material, expected {kind}; "
                         f"valid {kind} names: {', '.join(material_names(kind))}")
    return m


def register_material(material: Material, overwrite: bool = False) -> None:
    """Add a user material to the registry (e.g. a measured wall)."""
    if material.name in _REGISTRY and not overwrite:
        raise ValueError(f"material {material.name!r} already registered (pass overwrite=True)")
    _REGISTRY[material.name] = material


# ----------------------------------------------------------------------------------------------
# tables (docs/sim_materials.md is generated from these)
# ----------------------------------------------------------------------------------------------


def material_table(freqs_hz: Sequence[float] = (60e9, 77e9), bandwidth_hz: float = 4e9) -> list[dict[str, object]]:
    """One row per registered material at nominal thickness and normal incidence.

    Keys: ``name, kind, model, thickness_mm, range_mm, eps@<f>, loss@<f>`` (single frequency, dB),
    ``loss_band@<f>`` (averaged over ``bandwidth_hz``, dB), ``refl_band@<f>`` (band-averaged
    ``|R|^2``, dB) for each ``f`` in GHz, and ``source``.
    """
    rows: list[dict[str, object]] = []
    for m in _REGISTRY.values():
        row: dict[str, object] = {"name": m.name, "kind": m.kind, "model": m.model_summary()}
        row["thickness_mm"] = None if m.thickness_m is None else m.thickness_m * 1e3
        row["range_mm"] = None if m.thickness_range_m is None else tuple(x * 1e3 for x in m.thickness_range_m)
        for f in freqs_hz:
            tag = f"{f / 1e9:g}"
            row[f"eps@{tag}"] = m.permittivity(f) if m.is_dielectric else None
            row[f"loss@{tag}"] = m.one_way_loss_db(f)
            row[f"loss_band@{tag}"] = m.one_way_loss_db(f, bandwidth_hz=bandwidth_hz)
            row[f"refl_band@{tag}"] = m.reflection_db(f, bandwidth_hz=bandwidth_hz)
        row["source"] = m.source
        rows.append(row)
    return rows


def _fmt_db(x: object) -> str:
    v = float(x)  # type: ignore[arg-type]
    if math.isinf(v):
        return "opaque" if v > 0 else "-inf"
    return f"{v:.1f}" if abs(v) >= 100 else f"{v:.2f}"


def format_material_table(freqs_hz: Sequence[float] = (60e9, 77e9), bandwidth_hz: float = 4e9) -> str:
    """Markdown tables of :func:`material_table` (values, then sources)."""
    rows = material_table(freqs_hz, bandwidth_hz)
    tags = [f"{f / 1e9:g}" for f in freqs_hz]
    head = ["material", "kind", "thickness mm (range)"]
    head += [f"eps @{t} GHz" for t in tags[:1]]
    head += [f"loss {t} GHz" for t in tags]
    head += [f"loss {t}±{bandwidth_hz / 2e9:g} GHz" for t in tags]
    head += [f"\\|R\\|² {t}±{bandwidth_hz / 2e9:g} GHz" for t in tags]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        th = "half-space" if r["thickness_mm"] is None else (
            f"{r['thickness_mm']:.3g} ({r['range_mm'][0]:.3g}-{r['range_mm'][1]:.3g})")  # type: ignore[index]
        eps = r[f"eps@{tags[0]}"]
        eps_s = "-" if eps is None else f"{eps.real:.2f} - j{-eps.imag:.3f}"  # type: ignore[union-attr]
        cells = [str(r["name"]), str(r["kind"]), th, eps_s]
        cells += [_fmt_db(r[f"loss@{t}"]) for t in tags]
        cells += [_fmt_db(r[f"loss_band@{t}"]) for t in tags]
        cells += [_fmt_db(r[f"refl_band@{t}"]) for t in tags]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "| material | model | source |", "|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['name']} | {r['model']} | {r['source']} |")
    return "\n".join(lines)


def main() -> None:
    """Print the material and concealed-object tables (``python -m mmsight.sim.materials``)."""
    print("## Materials (one-way loss and reflection in dB, normal incidence, nominal thickness)\n")
    print(format_material_table())
    from mmsight.sim import objects  # local import: objects depends on this module

    print("\n## Concealed objects (PO RCS in dBsm, monostatic)\n")
    print(objects.format_object_table())


if __name__ == "__main__":
    main()
