"""Cross-fitting: out-of-fold black-box estimates for the estimator-specific stages of mmJoints.

The surrogate, the descriptor heads and the downstream models learn from the black box's outputs
on the training frames. If the black box was fitted on those frames, its errors there are smaller
than on unseen data (MARS CNN: 7.8 cm MPJPE on its training frames, 11.6 cm on validate), and the
heads learn that the estimator is more reliable than it is. Cross-fitting removes that bias when
the estimator can be retrained:

1. :func:`fold_assignment` splits the training **runs** (recordings: a block of frames of one
   subject, movement and split) into ``K`` folds - never single frames, because adjacent frames
   are nearly identical. By default the runs of one movement go to different folds, so every fold
   estimator has seen every movement (from other subjects or recordings).
2. ``K`` fold estimators are trained, fold ``k``'s without the runs of fold ``k``
   (:func:`train_fold_estimators` does it for the registered estimators; any other estimator can be
   trained by its owner with :meth:`FoldAssignment.train_mask` / :meth:`FoldAssignment.held_out_frames`).
3. :func:`out_of_fold_predictions` gives each training window the prediction of the estimator that
   did not see its run; :func:`mmsight.joints.training.train_mmjoints` (``fold_estimators=``) trains
   the estimator stages on those, while evaluation and inference keep using the estimator trained on
   all training data.

Estimators trained by :func:`train_fold_estimators` carry their fold (index, ``K``, held-out runs
and the assignment's signature) in their checkpoint; :func:`check_fold_estimators` refuses fold
estimators that do not match the assignment (wrong count, a missing or duplicated fold, a fold
estimator that was trained on its own fold). A pure black box (a callable without this
information) is trusted to follow the assignment it was given.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from mmsight.joints.estimators.base import PoseEstimator
from mmsight.joints.mars_data import MarsFrames, make_windows

__all__ = [
    "CrossFitError",
    "FoldAssignment",
    "fold_assignment",
    "train_fold_estimators",
    "check_fold_estimators",
    "out_of_fold_predictions",
    "fold_info_of",
]


class CrossFitError(ValueError):
    """Fold estimators and fold assignment do not fit together (count, missing fold, leakage)."""


@dataclass(frozen=True)
class FoldAssignment:
    """Runs of the training split assigned to ``n_folds`` folds.

    Attributes:
        n_folds: ``K``.
        runs: ``int64 [R]`` run ids (``MarsFrames.run_id``) of the training runs with at least one
            labelled window, sorted.
        folds: ``int64 [R]`` fold of each run, ``0..K-1``.
        subjects, movements: ``int64 [R]`` of each run (to check a file against the assignment).
        n_frames: frames of the file the assignment was made on.
        split: training split.
        seed: seed of the assignment.
        stratify: ``"movement"`` (runs of one movement in different folds) or ``"none"``.
    """

    n_folds: int
    runs: np.ndarray
    folds: np.ndarray
    subjects: np.ndarray
    movements: np.ndarray
    n_frames: int
    split: Any = "train"
    seed: int = 0
    stratify: str = "movement"
    starts: np.ndarray | None = None
    ends: np.ndarray | None = None
    group_by: str = "run"
    gap: int = 0

    @property
    def signature(self) -> str:
        """Short SHA-256 of the assignment (groups, their run/subject/movement and folds)."""
        payload = [self.n_folds, self.n_frames, self.runs.tolist(), self.subjects.tolist(),
                   self.movements.tolist(), self.folds.tolist()]
        if self.group_by != "run":
            payload += [self.group_by, self.gap, self.starts.tolist(), self.ends.tolist()]
        return hashlib.sha256(json.dumps(payload).encode()).hexdigest()[:16]

    def held_out_runs(self, fold: int) -> np.ndarray:
        """Run ids with frames in fold ``fold`` (whole runs for ``group_by="run"``)."""
        self._check_fold(fold)
        return np.unique(self.runs[self.folds == fold])

    def held_out_groups(self, fold: int) -> list[list[int]]:
        """``[run, first frame, end frame)`` of every group (run or segment) of fold ``fold``."""
        self._check_fold(fold)
        if self.group_by == "run":
            return [[int(r), -1, -1] for r in self.held_out_runs(fold)]
        m = self.folds == fold
        return [[int(r), int(a), int(b)] for r, a, b in zip(self.runs[m], self.starts[m], self.ends[m])]

    def fold_of_frames(self, frames: MarsFrames) -> np.ndarray:
        """``int64 [F]`` fold of every frame of ``frames`` (-1 outside the assigned groups)."""
        self.check_frames(frames)
        if self.group_by == "run":
            lut = np.full(int(frames.run_id.max()) + 1 if frames.n_frames else 0, -1, dtype=np.int64)
            lut[self.runs] = self.folds
            return lut[frames.run_id]
        out = np.full(frames.n_frames, -1, dtype=np.int64)
        for a, b, k in zip(self.starts, self.ends, self.folds):
            out[a:b] = k
        return out

    def held_out_frames(self, frames: MarsFrames, fold: int) -> np.ndarray:
        """``bool [F]`` frames of fold ``fold`` (the targets that get its out-of-fold predictions)."""
        self._check_fold(fold)
        return self.fold_of_frames(frames) == fold

    def excluded_frames(self, frames: MarsFrames, fold: int) -> np.ndarray:
        """``bool [F]`` frames fold ``fold``'s estimator must not be trained on: its held-out frames
        plus, for segments, ``gap`` frames of the same run on either side (purging)."""
        held = self.held_out_frames(frames, fold)
        if self.group_by == "run" or self.gap <= 0:
            return held
        out = held.copy()
        rid = frames.run_id
        for r, a, b in self.held_out_groups(fold):
            lo, hi = max(a - self.gap, 0), min(b + self.gap, frames.n_frames)
            out[lo:hi] |= rid[lo:hi] == r
        return out

    def train_mask(self, frames: MarsFrames, fold: int, split: Any = None) -> np.ndarray:
        """``bool [F]`` frames of the training split that fold ``fold``'s estimator may train on."""
        from mmsight.joints.pipeline import split_mask

        return split_mask(frames, self.split if split is None else split) & ~self.excluded_frames(frames, fold)

    def check_frames(self, frames: MarsFrames) -> None:
        """Raise :class:`CrossFitError` if ``frames`` is not the file the assignment was made on."""
        if frames.n_frames != self.n_frames:
            raise CrossFitError(f"the fold assignment was made on {self.n_frames} frames, these frames have "
                                f"{frames.n_frames}")
        rid = frames.run_id
        if len(self.runs) and int(self.runs.max()) > int(rid.max()):
            raise CrossFitError("the fold assignment names runs that these frames do not have")
        first = np.searchsorted(rid, self.runs) if self.group_by == "run" else self.starts
        if not (np.array_equal(frames.subject[first], self.subjects)
                and np.array_equal(frames.movement[first], self.movements)):
            raise CrossFitError("the runs of the fold assignment do not match these frames (subject/movement differ)")

    def window_folds(self, frames: MarsFrames, targets: np.ndarray) -> np.ndarray:
        """``int64 [N]`` fold of each sample (by its target frame); every one must be assigned."""
        f = self.fold_of_frames(frames)[np.asarray(targets)]
        if (f < 0).any():
            raise CrossFitError(f"{int((f < 0).sum())} training windows lie in runs without a fold (the fold "
                                "assignment was made for another split or file)")
        return f

    def counts(self, frames: MarsFrames, window: int = 1) -> list[int]:
        """Labelled training windows of ``window`` frames in each fold."""
        idx = make_windows(frames, window, self.split)
        f = self.fold_of_frames(frames)[idx.targets]
        return [int((f == k).sum()) for k in range(self.n_folds)]

    def to_dict(self) -> dict[str, Any]:
        """JSON form (stored in checkpoints and results)."""
        rows = [{"run": int(r), "subject": int(s), "movement": int(m), "fold": int(k)}
                for r, s, m, k in zip(self.runs, self.subjects, self.movements, self.folds)]
        if self.group_by != "run":
            for row, a, b in zip(rows, self.starts, self.ends):
                row.update(start=int(a), end=int(b))
        return {"n_folds": self.n_folds, "group_by": self.group_by, "gap": self.gap, "stratify": self.stratify,
                "seed": self.seed, "split": self.split, "n_frames": self.n_frames, "signature": self.signature,
                "runs": rows}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "FoldAssignment":
        rows = d["runs"]
        seg = d.get("group_by", "run") != "run"
        col = lambda k: np.array([r[k] for r in rows], dtype=np.int64)  # noqa: E731
        return cls(int(d["n_folds"]), col("run"), col("fold"), col("subject"), col("movement"), int(d["n_frames"]),
                   d.get("split", "train"), int(d.get("seed", 0)), d.get("stratify", "movement"),
                   col("start") if seg else None, col("end") if seg else None, d.get("group_by", "run"),
                   int(d.get("gap", 0)))

    def _check_fold(self, fold: int) -> None:
        if not 0 <= int(fold) < self.n_folds:
            raise CrossFitError(f"fold {fold} does not exist (K = {self.n_folds})")


def fold_assignment(frames: MarsFrames, n_folds: int, *, split: Any = "train", seed: int = 0,
                    stratify: str = "movement", group_by: str = "run", gap: int = 10) -> FoldAssignment:
    """Assign the training runs (recordings), or contiguous segments of them, to ``n_folds`` folds.

    ``group_by="run"`` (default): whole runs; a fold estimator never saw the subject doing that
    movement in that recording. ``group_by="segment"``: every run is cut into ``K`` contiguous
    segments of (nearly) equal length, and each segment goes to a different fold (a seeded rotation
    per run), so every fold estimator saw every run, but not the held-out stretch of it - the
    situation of a time-split validation set (MARS validates on the frames that follow the training
    frames of each movement). Fold ``k``'s estimator is then also not trained on ``gap`` frames
    either side of its segments (purging: neighbouring frames are near duplicates); those frames
    still get their prediction from it.

    Only runs with at least one labelled frame of ``split`` are assigned (the others give no
    training window). With ``stratify="movement"`` the runs are ordered by movement (random order
    inside a movement, seeded) and dealt round-robin to the folds, continuing across movements: the
    runs of one movement land in different folds as long as a movement has at most ``K`` runs, and
    the folds get nearly equal numbers of runs. ``stratify="none"`` deals a seeded random order.

    Raises:
        CrossFitError: fewer than 2 folds, or fewer runs than folds.
    """
    from mmsight.joints.pipeline import split_mask

    if int(n_folds) < 2:
        raise CrossFitError(f"cross-fitting needs at least 2 folds, got {n_folds}")
    if stratify not in ("movement", "none"):
        raise ValueError(f"stratify must be 'movement' or 'none', got {stratify!r}")
    if group_by not in ("run", "segment"):
        raise ValueError(f"group_by must be 'run' or 'segment', got {group_by!r}")
    sel = split_mask(frames, split) & frames.valid
    runs = np.unique(frames.run_id[sel])
    if group_by == "segment":
        return _segment_assignment(frames, int(n_folds), runs, split, int(seed), int(gap))
    if len(runs) < n_folds:
        raise CrossFitError(f"{len(runs)} labelled training runs cannot fill {n_folds} folds")
    first = np.searchsorted(frames.run_id, runs)
    subj, mov = frames.subject[first].astype(np.int64), frames.movement[first].astype(np.int64)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(runs))
    if stratify == "movement":
        order = order[np.argsort(mov[order], kind="stable")]
    folds = np.empty(len(runs), dtype=np.int64)
    folds[order] = (np.arange(len(runs)) + int(rng.integers(n_folds))) % n_folds
    return FoldAssignment(int(n_folds), runs.astype(np.int64), folds, subj, mov, frames.n_frames, split, int(seed),
                          stratify)


def _segment_assignment(frames: MarsFrames, k: int, runs: np.ndarray, split: Any, seed: int,
                        gap: int) -> FoldAssignment:
    rid = frames.run_id
    rng = np.random.default_rng(seed)
    g_run, g_a, g_b, g_fold = [], [], [], []
    for r in runs:
        idx = np.flatnonzero(rid == r)
        a, b = int(idx[0]), int(idx[-1]) + 1
        if b - a < k:
            raise CrossFitError(f"run {int(r)} has {b - a} frames: too short for {k} segments")
        cuts = a + np.round(np.arange(k + 1) * (b - a) / k).astype(np.int64)
        off = int(rng.integers(k))
        for j in range(k):
            g_run.append(int(r))
            g_a.append(int(cuts[j]))
            g_b.append(int(cuts[j + 1]))
            g_fold.append((j + off) % k)
    st = np.array(g_a, dtype=np.int64)
    return FoldAssignment(k, np.array(g_run, dtype=np.int64), np.array(g_fold, dtype=np.int64),
                          frames.subject[st].astype(np.int64), frames.movement[st].astype(np.int64), frames.n_frames,
                          split, seed, "none", st, np.array(g_b, dtype=np.int64), "segment", gap)


def fold_info_of(estimator: PoseEstimator) -> dict[str, Any] | None:
    """The cross-fitting record a fold estimator carries (``None`` for a plain black box)."""
    extra = getattr(estimator, "checkpoint_extra", None) or {}
    info = extra.get("cross_fit") if isinstance(extra, dict) else None
    return info if isinstance(info, dict) else getattr(estimator, "cross_fit", None)


def check_fold_estimators(fold_estimators: Sequence[PoseEstimator], assignment: FoldAssignment,
                          estimator: PoseEstimator | None = None) -> list[dict[str, Any] | None]:
    """Validate fold estimators against an assignment; return their fold records.

    Checks: one estimator per fold (``len == K``); the same window as ``estimator``; for estimators
    that carry a fold record (those of :func:`train_fold_estimators`): the same ``K`` and assignment
    signature, fold ``k`` at position ``k``, every fold present once, and the held-out runs equal to
    the assignment's (so no fold estimator saw its own fold).
    """
    ests = list(fold_estimators)
    k = assignment.n_folds
    if len(ests) != k:
        raise CrossFitError(f"{len(ests)} fold estimators for {k} folds: give exactly one per fold "
                            f"(fold k trained without the runs of fold k)")
    infos = [fold_info_of(e) for e in ests]
    for i, e in enumerate(ests):
        if estimator is not None and int(e.window) != int(estimator.window):
            raise CrossFitError(f"fold estimator {i} has a window of {e.window} frames, the estimator {estimator.window}")
        if estimator is not None and int(getattr(e, "n_joints", 19)) != int(getattr(estimator, "n_joints", 19)):
            raise CrossFitError(f"fold estimator {i} predicts {e.n_joints} joints, the estimator {estimator.n_joints}")
    known = [(i, inf) for i, inf in enumerate(infos) if inf is not None]
    if known:
        seen = sorted(int(inf.get("fold", -1)) for _, inf in known)
        if len(known) == k:
            missing = sorted(set(range(k)) - set(seen))
            if missing:
                raise CrossFitError(f"no fold estimator for fold(s) {missing}; got folds {seen}")
        for i, inf in known:
            if int(inf.get("n_folds", -1)) != k:
                raise CrossFitError(f"fold estimator {i} was trained for K = {inf.get('n_folds')} folds, the "
                                    f"assignment has K = {k}")
            if inf.get("signature") != assignment.signature:
                raise CrossFitError(f"fold estimator {i} was trained for another fold assignment (signature "
                                    f"{inf.get('signature')} != {assignment.signature}); use the same data, K, "
                                    "seed and stratification")
            f = int(inf.get("fold", -1))
            if f != i:
                raise CrossFitError(f"fold estimator {i} was trained for fold {f}: pass the fold estimators in fold "
                                    "order (0..K-1)")
            held = np.sort(np.asarray(inf.get("held_out_runs", []), dtype=np.int64))
            if not np.array_equal(held, np.sort(assignment.held_out_runs(i))):
                raise CrossFitError(f"fold estimator {i} was not trained without exactly the runs of fold {i}")
            if assignment.group_by != "run" and inf.get("held_out_groups") != assignment.held_out_groups(i):
                raise CrossFitError(f"fold estimator {i} was not trained without exactly the segments of fold {i}")
    return infos


def out_of_fold_predictions(frames: MarsFrames, windows: np.ndarray, assignment: FoldAssignment,
                            fold_estimators: Sequence[PoseEstimator], batch_size: int = 512,
                            ) -> tuple[np.ndarray, np.ndarray]:
    """Predict each window with the estimator of its fold.

    Args:
        frames: the recordings the assignment was made on.
        windows: ``int64 [N, L]`` frame indices of the samples (target last, ``L >=`` the window).
        assignment: the folds.
        fold_estimators: estimator ``k`` was trained without fold ``k``.

    Returns:
        ``(pred float32 [N, J, 3], fold int64 [N])``.
    """
    from mmsight.joints.pipeline import predict_estimator

    windows = np.asarray(windows)
    fold = assignment.window_folds(frames, windows[:, -1])
    n_j = int(getattr(fold_estimators[0], "n_joints", 19))
    pred = np.zeros((len(windows), n_j, 3), dtype=np.float32)
    for k, est in enumerate(fold_estimators):
        rows = np.flatnonzero(fold == k)
        if len(rows) == 0:
            continue
        pred[rows] = predict_estimator(est, frames, windows[rows][:, -est.window:], batch_size)
    return pred, fold


def train_fold_estimators(
    name: str,
    frames: MarsFrames,
    assignment: FoldAssignment,
    epochs: int,
    *,
    seed: int = 0,
    out_dir: str | os.PathLike | None = None,
    dtype: str = "float32",
    folds: Sequence[int] | None = None,
    log: Callable[[str], None] | None = print,
    **train_kw: Any,
) -> list[Any]:
    """Train the ``K`` fold estimators of a registered estimator (fold ``k`` without fold ``k``'s runs).

    Fixed ``epochs`` and no model selection (``select_on_validate=False``): use the epoch count the
    full-data model needed (docs/joints_estimators.md), so fold and full models are trained alike
    and the validate split is not touched. Each estimator records its fold in ``cross_fit`` (and in
    its checkpoint's ``extra`` when saved to ``out_dir/fold{k}.safetensors``).

    Returns:
        The trained estimators (``folds`` given: only those), in fold order.
    """
    from mmsight.joints.estimators import save_estimator, train_estimator

    out = []
    for k in (range(assignment.n_folds) if folds is None else folds):
        held = assignment.excluded_frames(frames, k)
        if log:
            what = "runs" if assignment.group_by == "run" else "segments"
            log(f"[cross-fit] fold {k + 1}/{assignment.n_folds}: training {name} without "
                f"{len(assignment.held_out_groups(k))} {what} ({int(held.sum())} frames), {epochs} epochs")
        res = train_estimator(name, frames, epochs, train_split=assignment.split, seed=seed, exclude_frames=held,
                              select_on_validate=False, patience=10**9, log=log, **train_kw)
        est = res.estimator
        record = {"fold": int(k), "n_folds": assignment.n_folds, "signature": assignment.signature,
                  "assignment_seed": assignment.seed, "stratify": assignment.stratify,
                  "held_out_runs": assignment.held_out_runs(k).tolist(), "group_by": assignment.group_by,
                  "gap": assignment.gap, "held_out_groups": assignment.held_out_groups(k),
                  "epochs": int(epochs), "seed": int(seed),
                  "train_windows": res.counts.get("train_windows"), "seconds": res.seconds}
        est.cross_fit = record  # type: ignore[attr-defined]
        est.checkpoint_extra = {"cross_fit": record}  # type: ignore[attr-defined]
        if out_dir is not None:
            path = os.path.join(os.fspath(out_dir), f"fold{k}.safetensors")
            save_estimator(est, path, extra={"cross_fit": record}, dtype=dtype)
            if log:
                log(f"[cross-fit] saved {path}")
        out.append(est)
    return out
