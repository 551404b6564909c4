"""Shared fixtures of the mmJoints tests: the synthetic data set and one tiny trained core."""

from __future__ import annotations

import os
import sys

import pytest
import torch

sys.path.insert(0, os.path.dirname(__file__))
from synth_mars import synthetic_frames  # noqa: E402


@pytest.fixture(scope="session")
def synth_frames():
    return synthetic_frames(seed=0)


@pytest.fixture(scope="session")
def tiny_core(synth_frames):
    """The estimator-independent stages of the ``tiny`` preset, trained once per session."""
    from mmsight.joints.model.config import preset
    from mmsight.joints.training import train_core

    torch.set_num_threads(1)
    return train_core(synth_frames, preset("tiny"), log=None)
