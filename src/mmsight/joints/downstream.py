"""Downstream tasks of mmJoints (Sec. 8): pose refinement and activity recognition.

Both models take the black-box skeleton, optionally with per-joint descriptors appended
(``(x, y, z)`` -> ``(x, y, z, xi, kappa)``); only the input layer changes between the variants,
as in the paper's fairness protocol.

* :class:`PoseRefiner` (Sec. 8.1) - an MLP from a skeleton ``[B, J, 3]`` (+ descriptors
  ``[B, J, n_desc]``) to a refined skeleton; it predicts a correction added to the input, on
  standardised coordinates. Trained with the MSE to the ground truth.
* :class:`ActivityLSTM` (Sec. 8.2) - an LSTM over ``T = 5`` consecutive skeletons (+ descriptors)
  and a linear classifier over the 10 MARS movements. Trained with cross-entropy.
* :func:`activity_windows` builds the ``T``-frame sequences of samples inside one run;
  :func:`train_refiner` / :func:`train_activity` are small, seeded training loops;
  :func:`predict_refiner` / :func:`predict_activity` run them in eval mode.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mmsight.joints.model.config import MMJointsConfig
from mmsight.joints.model.layers import mlp
from mmsight.joints.pipeline import register_extra

#: Floor (m) on the per-coordinate standard deviation used to standardise poses.
MIN_STD = 0.05
#: Floor on the per-joint standard deviation used to standardise descriptors (they lie in [0, 1]).
MIN_DESC_STD = 0.02


class _DescriptorInput(nn.Module):
    """Per-joint standardisation of the descriptors appended to a pose, ``(desc - mean) / std``.

    Identity until :meth:`set_descriptor_normalization` is called, and for checkpoints written
    before it existed (their state has no ``desc_mean`` / ``desc_std``: identity is filled in)."""

    def _init_descriptor_input(self, n_joints: int, n_desc: int) -> None:
        self.register_buffer("desc_mean", torch.zeros(n_joints, n_desc))
        self.register_buffer("desc_std", torch.ones(n_joints, n_desc))

    @torch.no_grad()
    def set_descriptor_normalization(self, desc: Any) -> None:
        """Statistics ``[J, n_desc]`` from training descriptors ``[..., J, n_desc]`` (std floored at
        :data:`MIN_DESC_STD`)."""
        d = torch.as_tensor(np.asarray(desc, np.float64)).reshape(-1, *self.desc_mean.shape)
        bad = ~torch.isfinite(d)
        if bad.any():
            raise ValueError(f"descriptors for the input standardisation contain {int(bad.sum())} NaN or inf "
                             f"value(s), first at joint {int(bad.nonzero()[0, 1])}")
        self.desc_mean.copy_(d.mean(0).to(torch.float32))
        self.desc_std.copy_(d.std(0, unbiased=False).clamp_min(MIN_DESC_STD).to(torch.float32))

    def _standardized(self, desc: torch.Tensor) -> torch.Tensor:
        return (desc - self.desc_mean) / self.desc_std

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):  # type: ignore[no-untyped-def]
        for name in ("desc_mean", "desc_std"):
            if prefix + name not in state_dict:  # written before descriptor standardisation
                state_dict[prefix + name] = getattr(self, name).new_full(getattr(self, name).shape,
                                                                         0.0 if name == "desc_mean" else 1.0)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

__all__ = [
    "PoseRefiner",
    "ActivityLSTM",
    "activity_windows",
    "train_refiner",
    "predict_refiner",
    "train_activity",
    "predict_activity",
]


class PoseRefiner(_DescriptorInput):
    """Skeleton (+ descriptors) -> refined skeleton (residual MLP on standardised coordinates).

    Args:
        n_joints: ``J``.
        n_desc: descriptors per joint appended to the input (0 = the pose-only control).
        hidden: MLP widths.
        dropout: dropout between layers.
    """

    def __init__(self, n_joints: int = 19, n_desc: int = 2, hidden: list[int] | None = None, dropout: float = 0.0) -> None:
        super().__init__()
        hidden = list(hidden or [256, 256])
        self.n_joints, self.n_desc = n_joints, n_desc
        self.net = mlp([n_joints * (3 + n_desc), *hidden, 3 * n_joints], dropout=dropout)
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)
        self.register_buffer("pose_mean", torch.zeros(n_joints, 3))
        self.register_buffer("pose_std", torch.ones(n_joints, 3))
        self._init_descriptor_input(n_joints, n_desc)

    @torch.no_grad()
    def set_normalization(self, mean: Any, std: Any) -> None:
        """Per-coordinate standardisation ``[J, 3]`` (m) from training poses."""
        self.pose_mean.copy_(torch.as_tensor(mean, dtype=torch.float32))
        self.pose_std.copy_(torch.as_tensor(std, dtype=torch.float32).clamp_min(MIN_STD))

    def forward(self, pose: torch.Tensor, desc: torch.Tensor | None = None) -> torch.Tensor:
        """``pose [B, J, 3]`` (m), ``desc [B, J, n_desc]`` -> refined ``[B, J, 3]`` (m)."""
        x = (pose - self.pose_mean) / self.pose_std
        parts = [x]
        if self.n_desc:
            if desc is None or desc.shape[-1] != self.n_desc:
                raise ValueError(f"this refiner needs {self.n_desc} descriptors per joint")
            parts.append(self._standardized(desc))
        delta = self.net(torch.cat(parts, dim=-1).flatten(1)).view_as(pose)
        return pose + delta * self.pose_std


class ActivityLSTM(_DescriptorInput):
    """LSTM activity classifier over ``T`` skeletons (+ descriptors).

    Args:
        n_joints: ``J``.
        n_desc: descriptors per joint (0, 1 for xi only, 2 for xi and kappa).
        hidden, layers: LSTM sizes.
        n_classes: activities.
        dropout: dropout on the LSTM output.
    """

    def __init__(self, n_joints: int = 19, n_desc: int = 0, hidden: int = 64, layers: int = 1, n_classes: int = 10,
                 dropout: float = 0.2) -> None:
        super().__init__()
        self.n_joints, self.n_desc = n_joints, n_desc
        self.inp = nn.Linear(n_joints * (3 + n_desc), hidden)
        self.lstm = nn.LSTM(hidden, hidden, num_layers=layers, batch_first=True)
        self.drop = nn.Dropout(dropout)
        self.cls = nn.Linear(hidden, n_classes)
        self.register_buffer("pose_mean", torch.zeros(n_joints, 3))
        self.register_buffer("pose_std", torch.ones(n_joints, 3))
        self._init_descriptor_input(n_joints, n_desc)

    @torch.no_grad()
    def set_normalization(self, mean: Any, std: Any) -> None:
        """Per-coordinate standardisation ``[J, 3]`` (m) from training poses."""
        self.pose_mean.copy_(torch.as_tensor(mean, dtype=torch.float32))
        self.pose_std.copy_(torch.as_tensor(std, dtype=torch.float32).clamp_min(MIN_STD))

    def forward(self, poses: torch.Tensor, desc: torch.Tensor | None = None) -> torch.Tensor:
        """``poses [B, T, J, 3]`` (m), ``desc [B, T, J, n_desc]`` -> logits ``[B, n_classes]``."""
        x = (poses - self.pose_mean) / self.pose_std
        parts = [x]
        if self.n_desc:
            if desc is None or desc.shape[-1] != self.n_desc:
                raise ValueError(f"this classifier needs {self.n_desc} descriptors per joint")
            parts.append(self._standardized(desc))
        h = torch.relu(self.inp(torch.cat(parts, dim=-1).flatten(2)))
        out, _ = self.lstm(h)
        return self.cls(self.drop(out[:, -1]))


@register_extra("refiner")
def _build_refiner(config: MMJointsConfig, n_desc: int = 2) -> PoseRefiner:
    d = config.downstream
    return PoseRefiner(config.n_joints, n_desc, d.refine_hidden, d.refine_dropout)


@register_extra("activity")
def _build_activity(config: MMJointsConfig, n_desc: int = 0) -> ActivityLSTM:
    d = config.downstream
    return ActivityLSTM(config.n_joints, n_desc, d.activity_hidden, d.activity_layers, d.n_classes, d.dropout)


def activity_windows(frame_idx: np.ndarray, run_id: np.ndarray, length: int) -> np.ndarray:
    """Sequences of ``length`` consecutive frames inside one run, as rows into the sample arrays.

    Args:
        frame_idx: ``int [N]`` frame of each sample (any order, no repeats).
        run_id: ``int [F]`` run of every frame of the recording.
        length: ``T``.

    Returns:
        ``int64 [N_a, T]``: for every sample whose ``T - 1`` predecessor frames are all samples of
        the same run, the sample rows of those frames, oldest first (last = the sample).
    """
    frame_idx = np.asarray(frame_idx, dtype=np.int64)
    n_frames = run_id.shape[0]
    row_of = np.full(n_frames, -1, dtype=np.int64)
    row_of[frame_idx] = np.arange(len(frame_idx))
    win = frame_idx[:, None] + np.arange(-(length - 1), 1)[None, :]
    ok = win[:, 0] >= 0
    winc = np.clip(win, 0, n_frames - 1)
    ok &= (row_of[winc] >= 0).all(axis=1)
    ok &= (run_id[winc] == run_id[frame_idx][:, None]).all(axis=1)
    rows = row_of[winc[ok]]
    order = np.argsort(rows[:, -1], kind="stable")
    return rows[order]


def _loop(model: nn.Module, n: int, step: Callable[[np.ndarray], torch.Tensor], epochs: int, batch_size: int,
          lr: float, seed: int, log: Callable[[str], None] | None, tag: str) -> list[float]:
    gen_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, epochs))
    hist = []
    try:
        model.train()
        for ep in range(epochs):
            tot, cnt = 0.0, 0
            order = rng.permutation(n)
            for s in range(0, n, batch_size):
                bi = order[s:s + batch_size]
                loss = step(bi)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                tot += float(loss.detach()) * len(bi)
                cnt += len(bi)
            sched.step()
            hist.append(tot / max(cnt, 1))
            if log and (ep == epochs - 1 or ep % 10 == 0):
                log(f"[{tag}] epoch {ep + 1}/{epochs} loss {hist[-1]:.5f}")
    finally:
        torch.random.set_rng_state(gen_state)
        model.eval()
    return hist


def train_refiner(model: PoseRefiner, pose: np.ndarray, gt: np.ndarray, desc: np.ndarray | None = None, *,
                  epochs: int = 40, batch_size: int = 256, lr: float = 1e-3, seed: int = 0,
                  standardize_descriptors: bool = False,
                  log: Callable[[str], None] | None = None) -> list[float]:
    """Fit ``model`` so that ``model(pose, desc) ~ gt`` (MSE on standardised coordinates).

    Args:
        pose: black-box skeletons ``[N, J, 3]`` (m).
        gt: ground truth ``[N, J, 3]`` (m).
        desc: descriptors ``[N, J, n_desc]`` (None for the pose-only control).
        standardize_descriptors: standardise ``desc`` per joint with its training statistics, as
            the coordinates are (default False: fed raw).

    Returns:
        the training loss of every epoch.
    """
    model.set_normalization(gt.mean(axis=0), gt.std(axis=0))
    if desc is not None and standardize_descriptors:
        model.set_descriptor_normalization(desc)
    p = torch.from_numpy(np.ascontiguousarray(pose, dtype=np.float32))
    g = torch.from_numpy(np.ascontiguousarray(gt, dtype=np.float32))
    d = None if desc is None else torch.from_numpy(np.ascontiguousarray(desc, dtype=np.float32))

    def step(bi: np.ndarray) -> torch.Tensor:
        out = model(p[bi], None if d is None else d[bi])
        return torch.mean(((out - g[bi]) / model.pose_std) ** 2)

    return _loop(model, len(p), step, epochs, batch_size, lr, seed, log, f"refine{model.n_desc}")


@torch.no_grad()
def predict_refiner(model: PoseRefiner, pose: np.ndarray, desc: np.ndarray | None = None, batch_size: int = 2048) -> np.ndarray:
    """Refined skeletons ``float32 [N, J, 3]``."""
    model.eval()
    out = []
    for s in range(0, len(pose), batch_size):
        p = torch.from_numpy(np.ascontiguousarray(pose[s:s + batch_size], dtype=np.float32))
        d = None if desc is None else torch.from_numpy(np.ascontiguousarray(desc[s:s + batch_size], dtype=np.float32))
        out.append(model(p, d).numpy())
    return np.concatenate(out, axis=0) if out else np.zeros((0, model.n_joints, 3), np.float32)


def train_activity(model: ActivityLSTM, poses: np.ndarray, labels: np.ndarray, desc: np.ndarray | None = None, *,
                   epochs: int = 30, batch_size: int = 256, lr: float = 1e-3, seed: int = 0,
                   standardize_descriptors: bool = False,
                   log: Callable[[str], None] | None = None) -> list[float]:
    """Fit the classifier on sequences ``poses [N, T, J, 3]`` (+ ``desc [N, T, J, n_desc]``), labels ``[N]``
    in ``0..n_classes-1`` (cross-entropy); ``standardize_descriptors`` as in :func:`train_refiner`.
    Returns the loss of every epoch."""
    flat = poses.reshape(-1, poses.shape[-2], 3)
    model.set_normalization(flat.mean(axis=0), flat.std(axis=0))
    if desc is not None and standardize_descriptors:
        model.set_descriptor_normalization(desc)
    p = torch.from_numpy(np.ascontiguousarray(poses, dtype=np.float32))
    y = torch.from_numpy(np.asarray(labels, dtype=np.int64))
    d = None if desc is None else torch.from_numpy(np.ascontiguousarray(desc, dtype=np.float32))

    def step(bi: np.ndarray) -> torch.Tensor:
        return F.cross_entropy(model(p[bi], None if d is None else d[bi]), y[bi])

    return _loop(model, len(p), step, epochs, batch_size, lr, seed, log, f"activity{model.n_desc}")


@torch.no_grad()
def predict_activity(model: ActivityLSTM, poses: np.ndarray, desc: np.ndarray | None = None,
                     batch_size: int = 2048) -> np.ndarray:
    """Class predictions ``int64 [N]`` (0-based)."""
    model.eval()
    out = []
    for s in range(0, len(poses), batch_size):
        p = torch.from_numpy(np.ascontiguousarray(poses[s:s + batch_size], dtype=np.float32))
        d = None if desc is None else torch.from_numpy(np.ascontiguousarray(desc[s:s + batch_size], dtype=np.float32))
        out.append(model(p, d).argmax(-1).numpy())
    return np.concatenate(out) if out else np.zeros((0,), np.int64)
