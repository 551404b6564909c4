"""The specially crafted models M1, M2, M3 of mmJoints (Section 7.3, Tables 8 and 11).

The paper builds all three "using the MARS architecture": M1 "for upper body pose", M2 "for lower
body pose", and M3 "with random joints (randomly initialized, untrained parameters)". M1 and M2
are trained, M3 is not. Its Table 8 shows the non-target half of M1/M2 as bad as M3, to within
1 %: M1 lower body 47.06 cm MPJPE / 20.56 cm MAE vs M3 47.60 / 20.98; M2 upper body 58.60 / 24.77
vs M3 58.69 / 24.80. The non-target joints of M1/M2 are random joints, like M3's.

We build them that way:

* ``m3_random``: the MARS CNN with random (seeded, Keras-style Glorot) weights, never trained. The
  trainer only sets data statistics, without any gradient step: the output bias = training mean
  pose (so the random joints land around the person — the paper's M3 errors are tens of cm, not
  metres) and the per-channel input normalisation. Its output layer keeps the plain Glorot scale
  (the trained models scale theirs by 0.01 at init), so its outputs really are random joints.
* ``m1_upper`` / ``m2_lower``: a MARS CNN trained with the MSE restricted to the upper-body
  (``MARS19_UPPER``, 10 joints) / lower-body (``MARS19_LOWER``, 9 joints) joints. The other joints
  are chosen by ``rest``:

  - ``"random"`` (default): taken from an untrained MARS CNN built exactly like ``m3_random``
    with the same seed — so M1's lower body equals M3's, as in the paper's table;
  - ``"untrained"``: the trained network's own output units for those joints, which get no
    gradient and stay at their (plain Glorot) initialisation; on MARS their errors come out
    ~2.5x M3's, because the trained trunk's features are larger than a random trunk's;
  - ``"mean"``: the training mean pose (a mild variant, not the paper's).
"""

from __future__ import annotations

from typing import Any, Literal, Sequence

import numpy as np
import torch

from mmsight.joints.estimators.base import N_JOINTS, TorchPoseEstimator, register_estimator
from mmsight.joints.estimators.mars_cnn import MarsCNN, mars_cnn_estimator
from mmsight.joints.mars_data import MARS19_LOWER, MARS19_UPPER

__all__ = ["build_m1_upper", "build_m2_lower", "build_m3_random", "RestOutput"]

Rest = Literal["random", "untrained", "mean"]


class RestOutput(torch.nn.Module):
    """A trained MARS CNN whose non-target joints come from elsewhere (see module docstring).

    Buffers: ``rest_mask`` (``bool [19]``, True = not trained), ``rest_pose`` (``[19, 3]`` m, the
    training mean pose). With ``rest="random"`` it holds ``random_net``, a frozen untrained MARS
    CNN (always in eval mode, excluded from gradients).
    """

    def __init__(self, inner: MarsCNN, target_joints: np.ndarray, rest: Rest,
                 random_net: MarsCNN | None = None) -> None:
        super().__init__()
        self.inner = inner
        self.rest = rest
        mask = torch.ones(N_JOINTS, dtype=torch.bool)
        mask[torch.as_tensor(np.array(target_joints, dtype=np.int64))] = False
        self.register_buffer("rest_mask", mask)
        self.register_buffer("rest_pose", torch.zeros(N_JOINTS, 3))
        self.random_net = random_net
        if random_net is not None:
            for p in random_net.parameters():
                p.requires_grad_(False)
            random_net.eval()

    def train(self, mode: bool = True) -> "RestOutput":
        super().train(mode)
        if self.random_net is not None:
            self.random_net.eval()  # never update its BatchNorm statistics
        return self

    def set_output_offset(self, pose: torch.Tensor) -> None:
        self.inner.set_output_offset(pose)
        if self.random_net is not None:
            self.random_net.set_output_offset(pose)
        with torch.no_grad():
            self.rest_pose.copy_(pose)

    def forward(self, pts: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
        out = self.inner(pts, counts)
        m = self.rest_mask[:, None]
        if self.rest == "mean":
            out = torch.where(m, self.rest_pose.to(out.dtype), out)
        elif self.rest == "random":
            with torch.no_grad():
                other = self.random_net(pts, counts)
            out = torch.where(m, other, out)
        return out


def _crafted(name: str, target: np.ndarray, rest: Rest, **mars_kw: Any) -> TorchPoseEstimator:
    if rest not in ("random", "untrained", "mean"):
        raise ValueError(f"rest must be 'random', 'untrained' or 'mean', got {rest!r}")
    est = mars_cnn_estimator(name, loss_joints=[int(j) for j in target], extra_config={"rest": rest}, **mars_kw)
    random_net = build_m3_random(**{k: v for k, v in mars_kw.items() if k != "head_init_scale"}).model if rest == "random" else None
    est.model = RestOutput(est.model, target, rest, random_net)
    est.model.eval()
    return est


@register_estimator("m1_upper")
def build_m1_upper(seed: int = 0, rest: Rest = "random", normalize_input: bool = True, dense: int = 512,
                   conv_channels: Sequence[int] = (16, 32), conv_dropout: float = 0.3,
                   dense_dropout: float = 0.4, head_init_scale: float = 0.01) -> TorchPoseEstimator:
    """M1: MARS CNN trained on the upper-body joints only (window 1)."""
    return _crafted("m1_upper", MARS19_UPPER, rest, seed=seed, normalize_input=normalize_input, dense=dense,
                    conv_channels=conv_channels, conv_dropout=conv_dropout, dense_dropout=dense_dropout,
                    head_init_scale=head_init_scale)


@register_estimator("m2_lower")
def build_m2_lower(seed: int = 0, rest: Rest = "random", normalize_input: bool = True, dense: int = 512,
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
