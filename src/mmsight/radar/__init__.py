"""FMCW radar physics and DSP: configuration and presets, the ADC forward model, the signal chain
(range/Doppler/angle, CFAR, point clouds, clustering) and readers for real recordings.

Knows nothing about people or cameras (see ``ARCHITECTURE.md``).
"""

from mmsight.radar.config import PRESETS, SPEED_OF_LIGHT, RadarConfig, RadarConfigError, virtual_array

__all__ = ["PRESETS", "SPEED_OF_LIGHT", "RadarConfig", "RadarConfigError", "virtual_array"]
