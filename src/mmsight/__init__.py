"""mmsight: mmWave radar + camera human sensing.

Layers (each imports only the layers below it): ``radar`` -> ``sim`` -> ``data`` -> ``eval`` ->
``anomaly`` / ``reid`` / ``joints`` -> ``cli`` / ``viz`` / ``bench``.
"""

__version__ = "0.1.0"
