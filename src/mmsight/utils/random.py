"""Fast float32 Gaussian draws for the simulator's noise fields.

NumPy's ``Generator.standard_normal`` (ziggurat) costs about 12 ns per float32 value on one core; the
radar's thermal noise alone is ~2e5 values per frame (2.5 ms). PyTorch's CPU ``normal_`` fills large
tensors with a vectorised Box-Muller transform of Mersenne-Twister uniforms at ~4 ns per value. The
functions here keep the simulator's randomness a deterministic function of its NumPy generator: each
call takes one 63-bit seed from that generator and seeds a fresh ``torch.Generator`` with it, so the
same NumPy state always gives the same noise, and the caller's stream advances by exactly one draw.

Box-Muller from 24-bit uniforms bounds a draw at about 5.8 sigma (probability ~1e-8 per value beyond
it for an exact normal); every use here sums or filters many values (FFTs over 8192 samples, a
camera's photon counts), where that truncation is far below measurable.
"""

from __future__ import annotations

import numpy as np

__all__ = ["standard_normal_f32"]


def standard_normal_f32(rng: np.random.Generator, shape: tuple[int, ...] | int) -> np.ndarray:
    """Standard normal draws, ``float32 shape``, seeded from ``rng`` (one ``integers`` draw).

    Args:
        rng: the caller's NumPy generator; it advances by one 63-bit integer draw.
        shape: output shape.
    Returns:
        a new C-contiguous float32 array (writable; it does not share memory with torch).
    Raises:
        TypeError: ``rng`` is not a ``numpy.random.Generator``.
    """
    import torch

    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    shape_t = (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(s) for s in shape)
    gen = torch.Generator()
    gen.manual_seed(int(rng.integers(0, 2**63 - 1)))
    out = np.empty(shape_t, dtype=np.float32)
    if out.size:
        torch.from_numpy(out).normal_(generator=gen)
    return out
