"""kappa error by the distance of the true joint error from the threshold D0/2 (evaluate's table7)."""

from __future__ import annotations

import numpy as np
import pytest

from mmsight.joints.evaluate import kappa_error_by_threshold_distance


def test_kappa_bands_by_hand() -> None:
    thr = 0.28
    # true errors 28 cm (in band 0-2.5), 24 cm (2.5-5), 20 cm (5-10), 0 cm (>= 10)
    d = np.array([[0.28, 0.24, 0.20, 0.0]])
    kappa = np.array([[0.5, 0.9, 1.0, 1.0]])
    kappa_hat = np.array([[0.9, 0.8, 1.0, 0.9]])  # errors 0.4, 0.1, 0, 0.1; sum 0.6; sum kappa 3.4
    bands = kappa_error_by_threshold_distance(kappa_hat, kappa, d, thr)
    assert [b["lo_cm"] for b in bands] == [0.0, 2.5, 5.0, 10.0]
    assert bands[-1]["hi_cm"] is None
    assert [b["share_joints"] for b in bands] == pytest.approx([25.0] * 4)
    assert [b["mae"] for b in bands] == pytest.approx([0.4, 0.1, 0.0, 0.1])
    assert [b["share_error"] for b in bands] == pytest.approx([400 / 6, 100 / 6, 0.0, 100 / 6])
    parts = [b["wmape_part"] for b in bands]
    assert parts == pytest.approx([40 / 3.4, 10 / 3.4, 0.0, 10 / 3.4])
    assert sum(parts) == pytest.approx(100 * 0.6 / 3.4)  # the terms add up to the wMAPE


def test_kappa_bands_empty_band_and_bad_input() -> None:
    d = np.full((2, 3), 0.9)  # every joint far from a 0.28 m threshold
    k = np.zeros((2, 3))
    bands = kappa_error_by_threshold_distance(k + 0.1, k + 0.05, d, 0.28)
    assert bands[0]["mae"] is None and bands[0]["share_joints"] == 0.0
    assert bands[-1]["share_joints"] == pytest.approx(100.0)
    with pytest.raises(ValueError, match="differ"):
        kappa_error_by_threshold_distance(k, k, d[:, :2], 0.28)
    with pytest.raises(ValueError, match="increasing"):
        kappa_error_by_threshold_distance(k, k, d, 0.28, edges_cm=(5.0, 2.5))
