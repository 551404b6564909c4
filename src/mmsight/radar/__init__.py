"""FMCW radar physics and DSP: configuration and presets, the ADC forward model, the signal chain
(range/Doppler/angle, CFAR, point clouds, clustering) and readers for real recordings.

Knows nothing about people or cameras (see ``ARCHITECTURE.md``).
"""

from mmsight.radar import processing
from mmsight.radar.chain import ChainOptions, FrameProducts, SignalChain
from mmsight.radar.config import PRESETS, SPEED_OF_LIGHT, RadarConfig, RadarConfigError, virtual_array
from mmsight.radar.forward import simulate_adc
from mmsight.radar.formats import RadarFormatError

__all__ = [
    "PRESETS",
    "SPEED_OF_LIGHT",
    "ChainOptions",
    "FrameProducts",
    "RadarConfig",
    "RadarConfigError",
    "RadarFormatError",
    "SignalChain",
    "processing",
    "simulate_adc",
    "virtual_array",
]
