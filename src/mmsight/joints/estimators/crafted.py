"""The specially crafted models M1, M2, M3 of mmJoints (Section 7.3, Tables 8 and 11).

The paper builds all three "using the MARS architecture": M1 "for upper body pose", M2 "for lower
body pose", and M3 "with random joints (randomly initialized, untrained parameters)". M1 and M2
are trained, M3 is not. Its Table 8 shows the non-target half of M1/M2 as bad as M3 (M1 lower
body 47.06 cm MPJPE vs M3 47.60 cm; M2 upper body 58.60 cm vs M3 58.69 cm), i.e. the
non-target joints of M1/M2 behave like untrained outputs, not like a sensible fallback.

We follow that:

* ``m1_upper`` / ``m2_lower``: the MARS CNN trained with the MSE loss restricted to the upper-body
  (``MARS19_UPPER``, 10 joints) / lower-body (``MARS19_LOWER``, 9 joints) joints. The output
  units of the other joints receive no gradient, so they stay at their random (plain Glorot,
  unscaled) initialisation around the mean-pose bias (``rest="untrained"``, default). ``rest="mean"`` instead replaces them with the training-set
  mean pose — a milder variant, offered but not the paper's.
* ``m3_random``: the MARS CNN with random (seeded) weights, never trained. Its output bias is set
  to the training mean pose by :meth:`~mmsight.joints.estimators.base.TorchPoseEstimator.prepare`
  (the trainer does this, without any gradient step) so that the random joints land around the
  person, which is the scale of error the paper reports for M3 (tens of cm, not metres). Its
  input is normalised per channel like the MARS CNN's, and its output layer keeps the plain
  Glorot init (``head_init_scale=1``; the trained models scale theirs by 0.01), so its outputs
  really are random joints rather than the mean pose.
"""

from __future__ import annotations

from typing import Any, Literal, Sequence

import numpy as np
import torch

from mmsight.joints.estimators.base import N_JOINTS, TorchPoseEstimator, register_estimator
from mmsight.joints.estimators.mars_cnn import MarsCNN, mars_cnn_estimator
from mmsight.joints.mars_data import MARS19_LOWER, MARS19_UPPER

__all__ = ["build_m1_upper", "build_m2_lower", "build_m3_random", "RestOutput"]

Rest = Literal["untrained", "mean"]


class RestOutput(torch.nn.Module):
    """Wrap a MARS CNN; optionally replace non-target joints by a fixed pose (buffer ``rest_pose``)."""

    def __init__(self, inner: MarsCNN, target_joints: np.ndarray, rest: Rest) -> None:
        super().__init__()
        self.inner = inner
        self.rest = rest
        mask = torch.ones(N_JOINTS, dtype=torch.bool)
        mask[torch.as_tensor(np.array(target_joints, dtype=np.int64))] = False
        self.register_buffer("rest_mask", mask)  # True = joint not trained (rest)
        self.register_buffer("rest_pose", torch.zeros(N_JOINTS, 3))

    @property
    def norm(self) -> torch.nn.Module:
        return self.inner.norm

    def set_output_offset(self, pose: torch.Tensor) -> None:
        self.inner.set_output_offset(pose)
        with torch.no_grad():
            self.rest_pose.copy_(pose)

    def forward(self, pts: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
        out = self.inner(pts, counts)
        if self.rest == "mean":
            out = torch.where(self.rest_mask[:, None], self.rest_pose.to(out.dtype), out)
        return out


def _crafted(name: str, target: np.ndarray, rest: Rest, **mars_kw: Any) -> TorchPoseEstimator:
    if rest not in ("untrained", "mean"):
        raise ValueError(f"rest must be 'untrained' or 'mean', got {rest!r}")
    est = mars_cnn_estimator(name, loss_joints=[int(j) for j in target], extra_config={"rest": rest}, **mars_kw)
    est.model = RestOutput(est.model, target, rest)
    est.model.eval()
    return est


@register_estimator("m1_upper")
def build_m1_upper(seed: int = 0, rest: Rest = "untrained", normalize_input: bool = True, dense: int = 512,
                   conv_channels: Sequence[int] = (16, 32), conv_dropout: float = 0.3,
                   dense_dropout: float = 0.4, head_init_scale: float = 0.01) -> TorchPoseEstimator:
    """M1: MARS CNN trained on the upper-body joints only (window 1)."""
    return _crafted("m1_upper", MARS19_UPPER, rest, seed=seed, normalize_input=normalize_input, dense=dense,
                    conv_channels=conv_channels, conv_dropout=conv_dropout, dense_dropout=dense_dropout,
                    head_init_scale=head_init_scale)


@register_estimator("m2_lower")
def build_m2_lower(seed: int = 0, rest: Rest = "untrained", normalize_input: bool = True, dense: int = 512,
                   conv_channels: Sequence[int] = (16, 32), conv_dropout: float = 0.3,
                   dense_dropout: float = 0.4, head_init_scale: float = 0.01) -> TorchPoseEstimator:
    """M2: MARS CNN trained on the lower-body joints only (window 1)."""
    return _crafted("m2_lower", MARS19_LOWER, rest, seed=seed, normalize_input=normalize_input, dense=dense,
                    conv_channels=conv_channels, conv_dropout=conv_dropout, dense_dropout=dense_dropout,
                    head_init_scale=head_init_scale)


@register_estimator("m3_random")
def build_m3_random(seed: int = 0, normalize_input: bool = True, dense: int = 512,
                    conv_channels: Sequence[int] = (16, 32), conv_dropout: float = 0.3,
                    dense_dropout: float = 0.4, head_init_scale: float = 1.0) -> TorchPoseEstimator:
    """M3: MARS CNN with random, untrained weights (window 1). Different seeds -> different outputs."""
    return mars_cnn_estimator("m3_random", seed=seed, normalize_input=normalize_input, dense=dense,
                              conv_channels=conv_channels, conv_dropout=conv_dropout,
                              dense_dropout=dense_dropout, head_init_scale=head_init_scale, trainable=False)
