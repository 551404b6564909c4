"""Training and evaluation of the pose estimators on MARS-format data.

Protocol (the one mmJoints Section 2.3 states for its baselines): train on the train split, select
the best model on the validate split, evaluate on the test split. Concretely,
:func:`train_estimator`:

1. builds windows of ``estimator.window`` consecutive frames inside one run (never across
   subject/movement/split boundaries); a window's target is its last frame; windows whose target
   joints are NaN are dropped and counted;
2. sets data statistics from the *training* split only: output bias = training mean pose,
   per-channel point mean/std (used by the estimators that normalise their input);
3. trains with Adam (AdamW when weight decay is set) and the MSE on joint coordinates in metres (restricted to
   ``estimator.loss_joints`` for the crafted M1/M2), evaluating the validate MAE after every
   epoch, keeping the best epoch's weights and stopping after ``patience`` epochs without
   improvement; the random seed fixes weight init, shuffling and dropout.

Metrics (:func:`pose_metrics`), all on the 19 MARS joints:

* **MAE** (cm): mean absolute error per coordinate, averaged over x, y, z, joints and frames
  (MARS's definition);
* **MPJPE** (cm): mean Euclidean joint error;
* **PCK@a** (%): joints whose Euclidean error is at most ``a`` x torso size, the torso size being
  the ground-truth SpineShoulder-SpineBase distance in that frame (about 56 cm on MARS);
  PCK@0.5 is the paper's metric.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import torch

from mmsight.eval.pose import pose_errors, reference_length
from mmsight.joints.estimators.base import PoseEstimator, TorchPoseEstimator, create_estimator
from mmsight.joints.mars_data import (
    MARS19_LOWER,
    MARS19_TORSO,
    MARS19_UPPER,
    MarsFrames,
    WindowIndex,
    make_windows,
    window_point_lists,
)

__all__ = ["TrainResult", "train_estimator", "evaluate_estimator", "predict_windows", "pose_metrics",
           "PCK_TORSO"]

#: Joints (in the 19-joint set) whose ground-truth distance is the PCK torso size: SpineShoulder
#: and SpineBase, the torso used throughout ``mmsight.joints`` (``descriptors.MARS19_TORSO``).
PCK_TORSO: tuple[int, int] = MARS19_TORSO


def pose_metrics(pred: np.ndarray, gt: np.ndarray, joints: Sequence[int] | None = None,
                 pck_ratios: Sequence[float] = (0.5, 0.2)) -> dict[str, Any]:
    """Pose-error metrics of ``pred`` vs ``gt`` (both ``[N, 19, 3]`` in metres).

    Args:
        joints: restrict the averages to these joint positions (the PCK torso size still comes
            from the full ground-truth skeleton).
        pck_ratios: PCK thresholds as fractions of the torso size.

    Returns:
        ``mae_cm``, ``mpjpe_cm``, ``pck{a}`` (%, e.g. ``pck0.5``), ``mae_xyz_cm`` ``[3]``,
        ``mae_joint_cm`` ``[J]`` and ``mpjpe_joint_cm`` ``[J]`` over the selected joints, and ``n``
        (computed by :func:`mmsight.eval.pose_errors`).

    Raises:
        ValueError: shapes differ or are not ``[N, J, 3]``, no sample or joint is selected, or a
            ground-truth torso has zero length.
    """
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    if pred.shape != gt.shape or pred.ndim != 3 or pred.shape[2] != 3:
        raise ValueError(f"pred and gt must both be [N, J, 3], got {pred.shape} and {gt.shape}")
    torso = reference_length(gt, *PCK_TORSO)  # [N], from the full ground-truth skeleton
    sel = np.arange(pred.shape[1]) if joints is None else np.asarray(joints)
    return pose_errors(pred[:, sel], gt[:, sel], reference=torso, pck_ratios=pck_ratios)


def predict_windows(est: PoseEstimator, frames: MarsFrames, index: WindowIndex, batch_size: int = 512) -> np.ndarray:
    """Run ``est`` on the windows of ``index``: ``float32 [N, 19, 3]``.

    Torch estimators get the padded arrays directly (same numbers as :meth:`predict`, faster);
    any other :class:`PoseEstimator` is called through its black-box ``predict``.
    """
    if len(index) == 0:
        return np.zeros((0, est.n_joints, 3), np.float32)
    if index.k != est.window:
        raise ValueError(f"windows have {index.k} frames, estimator {est.name!r} needs {est.window}")
    if isinstance(est, TorchPoseEstimator):
        padded, counts = frames.padded(est.max_points)
        outs = [est.predict_padded(padded[index.frames[s : s + batch_size]], counts[index.frames[s : s + batch_size]],
                                   batch_size) for s in range(0, len(index), batch_size)]
        return np.concatenate(outs, axis=0)
    outs = []
    for s in range(0, len(index), batch_size):
        outs.append(est.predict(window_point_lists(frames, index.frames[s : s + batch_size])))
    return np.concatenate(outs, axis=0)


def evaluate_estimator(est: PoseEstimator, frames: MarsFrames, split: int | str | Sequence[int] | None = "validate",
                       *, by_subject: bool = True, min_history: int = 0) -> dict[str, Any]:
    """Metrics of ``est`` on all windows ending in ``split`` with valid joints.

    Works on any MARS-format file (e.g. the held-out test split: ``split="test"`` or ``"all"``).
    ``min_history`` (see :func:`~mmsight.joints.mars_data.make_windows`) puts estimators with
    different windows on the same target frames.

    Returns:
        :func:`pose_metrics` over all 19 joints, plus ``upper`` / ``lower`` (metrics on
        ``MARS19_UPPER`` / ``MARS19_LOWER``), ``subjects`` (per-subject MAE/MPJPE if
        ``by_subject``), and window counts (``n_windows``, ``n_nan_target``, ``n_short_run_start``).
    """
    idx = make_windows(frames, est.window, split, min_history=min_history)
    pred = predict_windows(est, frames, idx)
    gt = frames.joints[idx.targets]
    res = pose_metrics(pred, gt)
    res["upper"] = {k: v for k, v in pose_metrics(pred, gt, MARS19_UPPER).items() if not isinstance(v, list)}
    res["lower"] = {k: v for k, v in pose_metrics(pred, gt, MARS19_LOWER).items() if not isinstance(v, list)}
    if by_subject:
        subj = frames.subject[idx.targets]
        res["subjects"] = {
            int(s): {k: v for k, v in pose_metrics(pred[subj == s], gt[subj == s]).items() if not isinstance(v, list)}
            for s in np.unique(subj)
        }
    res.update(n_windows=len(idx), n_nan_target=idx.n_nan_target, n_short_run_start=idx.n_short_run_start,
               n_candidates=idx.n_candidates)
    return res


@dataclass
class TrainResult:
    """What :func:`train_estimator` returns.

    Attributes:
        estimator: the trained estimator, holding the best-validation weights, in eval mode.
        history: one dict per epoch (``epoch``, ``train_loss``, ``val_mae_cm``, ``seconds``).
        best_epoch: 1-based epoch of the kept weights (0 = untrained).
        best_val_mae_cm: validate MAE (cm) of the kept weights, on the loss joints.
        stopped: ``"patience"``, ``"epochs"``, ``"time_limit"`` or ``"untrainable"``.
        counts: window counts of the train and validate sets (incl. dropped NaN targets).
        seconds: wall-clock training time.
    """

    estimator: TorchPoseEstimator
    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0
    best_val_mae_cm: float = math.nan
    stopped: str = "epochs"
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def _train_stats(frames: MarsFrames, split: Any, index: WindowIndex,
                 exclude: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Training mean pose ``[19, 3]`` and per-channel point mean/std ``[5]`` (train split only,
    without the ``exclude`` frames)."""
    mean_pose = frames.joints[index.targets].mean(axis=0)
    in_split = np.zeros(frames.n_frames, dtype=bool)
    in_split[make_windows(frames, 1, split, require_target=False).targets] = True
    if exclude is not None:
        in_split &= ~exclude
    pts = frames.points[np.repeat(in_split, frames.n_points)].astype(np.float64)
    return mean_pose, pts.mean(axis=0), pts.std(axis=0)


def train_estimator(
    name_or_estimator: str | TorchPoseEstimator,
    frames: MarsFrames,
    epochs: int | None = None,
    *,
    val_frames: MarsFrames | None = None,
    train_split: int | str = "train",
    val_split: int | str = "validate",
    batch_size: int | None = None,
    lr: float | None = None,
    weight_decay: float | None = None,
    patience: int = 20,
    min_delta_cm: float = 0.0,
    seed: int = 0,
    max_train_windows: int | None = None,
    max_val_windows: int | None = None,
    windows_per_epoch: int | None = None,
    time_limit_s: float | None = None,
    exclude_frames: np.ndarray | None = None,
    select_on_validate: bool = True,
    log: Callable[[str], None] | None = print,
    **cfg: Any,
) -> TrainResult:
    """Train a registered estimator (or a given one) on MARS-format frames.

    Args:
        name_or_estimator: registry name (built with ``seed`` and ``**cfg``) or an estimator.
        frames: training data (and validation data unless ``val_frames`` is given).
        epochs: maximum epochs (default: the estimator's ``train_defaults``, 150 for MARS).
        val_frames: separate validation frames (default ``frames``).
        train_split, val_split: split codes/names for training and model selection.
        batch_size, lr, weight_decay: override the estimator's ``train_defaults``.
        patience: stop after this many epochs without a validate-MAE improvement.
        min_delta_cm: improvement (cm) that counts as one.
        seed: weight init (when building by name), shuffling and dropout.
        max_train_windows, max_val_windows: fixed random subsets of the training windows / of the
            validation windows used for model selection (default for the latter: the estimator's
            ``train_defaults``, else all). Final metrics should come from :func:`evaluate_estimator`.
        windows_per_epoch: draw this many training windows (without replacement) afresh each epoch
            instead of using them all (default: ``train_defaults``, else all). Consecutive windows
            overlap in all but one frame, so this mostly trades redundant passes for wall time.
        time_limit_s: stop (keeping the best weights) when this much time has passed.
        exclude_frames: ``bool [F]`` frames of ``frames`` to leave out of training: no window
            ending in them is a training target and their points do not enter the input statistics
            (cross-fitting: :mod:`mmsight.joints.crossfit` passes the held-out fold's runs; windows
            never cross runs, so no held-out frame reaches the model at all).
        select_on_validate: False = no model selection: train exactly ``epochs`` epochs (no
            patience), keep the last weights and skip the per-epoch validation pass
            (``best_val_mae_cm`` is then NaN). Used for fold estimators, with the epoch count the
            selected full-data model needed.
        log: progress printer (None = silent).

    Returns:
        :class:`TrainResult` with the best-validation estimator.
    """
    t0 = time.perf_counter()
    est = create_estimator(name_or_estimator, seed=seed, **cfg) if isinstance(name_or_estimator, str) else name_or_estimator
    if not isinstance(est, TorchPoseEstimator):
        raise TypeError("only TorchPoseEstimator instances can be trained")
    d = est.train_defaults
    epochs = int(epochs if epochs is not None else d.get("epochs", 100))
    batch_size = int(batch_size or d.get("batch_size", 128))
    lr = float(lr or d.get("lr", 1e-3))
    wd = float(weight_decay if weight_decay is not None else d.get("weight_decay", 0.0))
    grad_clip = d.get("grad_clip")
    if max_val_windows is None:
        max_val_windows = d.get("max_val_windows")
    if windows_per_epoch is None:
        windows_per_epoch = d.get("windows_per_epoch")
    val_frames = frames if val_frames is None else val_frames
    rng = np.random.default_rng(seed)

    tr_idx = make_windows(frames, est.window, train_split)
    n_excluded = 0
    if exclude_frames is not None:
        exclude_frames = np.asarray(exclude_frames, dtype=bool)
        if exclude_frames.shape != (frames.n_frames,):
            raise ValueError(f"exclude_frames must be bool [{frames.n_frames}], got shape {exclude_frames.shape}")
        keep_w = ~exclude_frames[tr_idx.frames].any(axis=1)
        n_excluded = int((~keep_w).sum())
        tr_idx = WindowIndex(tr_idx.frames[keep_w], tr_idx.k, tr_idx.n_candidates, tr_idx.n_short_run_start,
                             tr_idx.n_nan_target)
    va_idx = make_windows(val_frames, est.window, val_split)
    if len(tr_idx) == 0:
        raise ValueError(f"no training windows with valid joints in split {train_split!r}")
    if select_on_validate and len(va_idx) == 0:
        raise ValueError(f"no validation windows with valid joints in split {val_split!r}")
    counts = {"train_windows": len(tr_idx), "train_nan_targets": tr_idx.n_nan_target,
              "train_short_run_start": tr_idx.n_short_run_start, "val_windows": len(va_idx),
              "val_nan_targets": va_idx.n_nan_target, "val_short_run_start": va_idx.n_short_run_start,
              "train_excluded_windows": n_excluded}
    tr_rows = tr_idx.frames
    if max_train_windows is not None and len(tr_idx) > max_train_windows:
        tr_rows = tr_rows[np.sort(rng.choice(len(tr_idx), max_train_windows, replace=False))]
    va_sub = va_idx
    if max_val_windows is not None and len(va_idx) > max_val_windows:
        keep = np.sort(rng.choice(len(va_idx), max_val_windows, replace=False))
        va_sub = WindowIndex(va_idx.frames[keep], va_idx.k, va_idx.n_candidates, va_idx.n_short_run_start,
                             va_idx.n_nan_target)
    counts["train_windows_used"] = int(len(tr_rows))
    counts["val_windows_used"] = len(va_sub)

    mean_pose, pmean, pstd = _train_stats(frames, train_split, tr_idx, exclude_frames)
    est.prepare(mean_pose, pmean, pstd)
    loss_j = np.arange(est.n_joints) if est.loss_joints is None else np.asarray(est.loss_joints)
    va_gt = val_frames.joints[va_sub.targets]

    def val_mae() -> float:
        if not select_on_validate:
            return math.nan
        pred = predict_windows(est, val_frames, va_sub)
        return pose_metrics(pred, va_gt, loss_j, ())["mae_cm"]

    result = TrainResult(estimator=est, counts=counts)
    if not est.trainable:
        result.best_val_mae_cm = val_mae()
        result.stopped = "untrainable"
        result.seconds = time.perf_counter() - t0
        if log:
            log(f"[{est.name}] untrained by design; validate MAE {result.best_val_mae_cm:.2f} cm")
        return result

    padded, npts = frames.padded(est.max_points)
    targets = torch.from_numpy(np.ascontiguousarray(frames.joints[tr_rows[:, -1]][:, loss_j]))
    loss_idx = torch.from_numpy(loss_j)
    model = est.model
    # Adam as in MARS; with weight decay, the decoupled form (AdamW): L2 added to tiny gradients
    # would dominate Adam's normalised step and shrink the weights to zero.
    opt_cls = torch.optim.AdamW if wd > 0 else torch.optim.Adam
    opt = opt_cls(model.parameters(), lr=lr, betas=tuple(d.get("betas", (0.9, 0.999))),
                  eps=float(d.get("eps", 1e-8)), weight_decay=wd)
    gen_state = torch.random.get_rng_state()
    torch.manual_seed(seed)  # dropout masks
    best_state = copy.deepcopy(model.state_dict())
    best, best_epoch, since = math.inf, 0, 0
    stopped = "epochs"
    try:
        for epoch in range(1, epochs + 1):
            te = time.perf_counter()
            model.train()
            order = rng.permutation(len(tr_rows))
            if windows_per_epoch is not None and windows_per_epoch < len(order):
                order = order[:windows_per_epoch]
            tot, nb = 0.0, 0
            for s in range(0, len(order), batch_size):
                bi = order[s : s + batch_size]
                if len(bi) < 2:  # BatchNorm needs > 1 sample in training mode
                    continue
                rows = tr_rows[bi]
                p = torch.from_numpy(padded[rows])
                c = torch.from_numpy(npts[rows])
                out = est.forward_padded(p, c)[:, loss_idx]
                loss = torch.mean((out - targets[bi]) ** 2)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if grad_clip:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), float(grad_clip))
                opt.step()
                tot += loss.item() * len(bi)
                nb += len(bi)
            mae = val_mae()
            result.history.append({"epoch": epoch, "train_loss": tot / max(nb, 1), "val_mae_cm": mae,
                                   "seconds": time.perf_counter() - te})
            if not select_on_validate:  # fixed epochs: the last weights are kept
                best_epoch = epoch
                if log:
                    log(f"[{est.name}] epoch {epoch:3d}  train MSE {tot / max(nb, 1):.5f} m^2  "
                        f"({time.perf_counter() - te:.1f} s)")
                if time_limit_s is not None and time.perf_counter() - t0 > time_limit_s:
                    stopped = "time_limit"
                    break
                continue
            improved = mae < best - min_delta_cm
            if improved:
                best, best_epoch, since = mae, epoch, 0
                best_state = copy.deepcopy(model.state_dict())
            else:
                since += 1
            if log:
                log(f"[{est.name}] epoch {epoch:3d}  train MSE {tot / max(nb, 1):.5f} m^2  "
                    f"val MAE {mae:6.2f} cm{'  *' if improved else ''}  ({time.perf_counter() - te:.1f} s)")
            if since >= patience:
                stopped = "patience"
                break
            if time_limit_s is not None and time.perf_counter() - t0 > time_limit_s:
                stopped = "time_limit"
                break
    finally:
        torch.random.set_rng_state(gen_state)
    if not select_on_validate:
        best_state = copy.deepcopy(model.state_dict())
    model.load_state_dict(best_state)
    model.eval()
    result.best_epoch, result.stopped = best_epoch, stopped
    result.best_val_mae_cm = best if select_on_validate else math.nan
    result.seconds = time.perf_counter() - t0
    return result
