"""mmsight.utils.random: the simulator's fast Gaussian draws."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from mmsight.utils.random import standard_normal_f32


def test_same_generator_state_gives_the_same_draws_and_advances_by_one_draw() -> None:
    a = standard_normal_f32(np.random.default_rng(7), (300, 2))
    b = standard_normal_f32(np.random.default_rng(7), (300, 2))
    assert a.dtype == np.float32 and a.shape == (300, 2) and a.flags.c_contiguous and a.flags.writeable
    np.testing.assert_array_equal(a, b)
    g = np.random.default_rng(7)
    standard_normal_f32(g, 10)
    h = np.random.default_rng(7)
    h.integers(0, 2**63 - 1)
    assert g.integers(0, 1 << 30) == h.integers(0, 1 << 30)  # exactly one draw taken from the caller's stream
    c = standard_normal_f32(g, (300, 2))
    assert not np.array_equal(a, c)  # the next call gives new values


def test_draws_are_standard_normal_and_independent() -> None:
    x = standard_normal_f32(np.random.default_rng(1), 200_000).astype(np.float64)
    assert abs(x.mean()) < 0.01 and abs(x.var() - 1.0) < 0.01
    assert stats.kstest(x, "norm").pvalue > 1e-3
    assert abs(stats.skew(x)) < 0.03 and abs(stats.kurtosis(x)) < 0.05
    assert abs(np.corrcoef(x[:-1], x[1:])[0, 1]) < 0.01  # neighbours (Box-Muller pairs) uncorrelated
    # tail mass beyond 3 sigma as for a normal (2.70e-3): 540 expected, Poisson sd 23
    assert abs(np.count_nonzero(np.abs(x) > 3.0) - 540) < 120


def test_empty_shape_and_bad_generator() -> None:
    assert standard_normal_f32(np.random.default_rng(0), (0, 3)).shape == (0, 3)
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        standard_normal_f32(3, 4)  # type: ignore[arg-type]
