"""Cross-fitting of the estimator stages: fold assignment, fold estimators, out-of-fold training, errors."""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import pytest
import torch
import typer
from typer.testing import CliRunner

sys.path.insert(0, os.path.dirname(__file__))
from synth_mars import lookup_estimator, synthetic_arrays  # noqa: E402

from mmsight.cli.joints import joints_app  # noqa: E402
from mmsight.joints.crossfit import (  # noqa: E402
    CrossFitError,
    FoldAssignment,
    check_fold_estimators,
    fold_assignment,
    out_of_fold_predictions,
    train_fold_estimators,
)
from mmsight.joints.estimators import CallableEstimator, load_estimator, train_estimator  # noqa: E402
from mmsight.joints.mars_data import make_windows  # noqa: E402
from mmsight.joints.model.config import preset  # noqa: E402
from mmsight.joints.pipeline import MMJointsBundle, build_samples  # noqa: E402
from mmsight.joints.training import train_mmjoints  # noqa: E402

torch.set_num_threads(1)


def _noisy(frames, fold: int, sigma: float = 0.08) -> CallableEstimator:
    """A black box worse than ``lookup_estimator`` (as a fold estimator is on unseen runs)."""
    base = lookup_estimator(frames)
    rng = np.random.default_rng(100 + fold)
    off = rng.normal(0, sigma, size=(19, 3)).astype(np.float32)
    return CallableEstimator(lambda w: base.predict(w) + off, window=1, name=f"noisy{fold}")


def test_fold_assignment_covers_every_training_window_once(synth_frames) -> None:
    fr = synth_frames
    for k in (2, 3, 4):
        a = fold_assignment(fr, k, seed=3)
        fold_of = a.fold_of_frames(fr)
        for window in (1, 5):
            idx = make_windows(fr, window, "train")
            f = fold_of[idx.targets]
            assert (f >= 0).all() and (f < k).all()  # every window in exactly one fold
            assert sum(a.counts(fr, window)) == len(idx) and min(a.counts(fr, window)) > 0
        # folds are whole runs, each run in one fold, folds disjoint and covering all labelled runs
        train_runs = np.unique(fr.run_id[(fr.split == 0) & fr.valid])
        assert np.array_equal(np.sort(a.runs), train_runs)
        for r in train_runs:
            assert len(np.unique(fold_of[fr.run_id == r])) == 1
        held = [set(a.held_out_runs(i).tolist()) for i in range(k)]
        assert sum(len(h) for h in held) == len(train_runs) and set().union(*held) == set(train_runs.tolist())
        # stratified: the runs of one movement (2 subjects here) never share a fold
        for m in np.unique(a.movements):
            assert len(set(a.folds[a.movements == m].tolist())) == (a.movements == m).sum()
        # validate frames belong to no fold; the train mask of a fold excludes exactly its runs
        assert (fold_of[fr.split == 1] == -1).all()
        for i in range(k):
            tm, ho = a.train_mask(fr, i), a.held_out_frames(fr, i)
            assert not (tm & ho).any() and ((tm | ho) == (fr.split == 0)).all()
    # deterministic and serialisable
    a, b = fold_assignment(fr, 3, seed=1), fold_assignment(fr, 3, seed=1)
    assert a.signature == b.signature
    c = FoldAssignment.from_dict(json.loads(json.dumps(a.to_dict())))
    assert c.signature == a.signature and np.array_equal(c.folds, a.folds)


def test_segment_folds_cover_every_window_once_with_purged_gap(synth_frames) -> None:
    fr = synth_frames
    a = fold_assignment(fr, 3, group_by="segment", gap=2, seed=4)
    fold_of = a.fold_of_frames(fr)
    idx = make_windows(fr, 1, "train")
    f = fold_of[idx.targets]
    assert (f >= 0).all() and sum(a.counts(fr)) == len(idx)  # every training window once
    rid = fr.run_id
    for r in np.unique(a.runs):  # every run is split across all folds, in contiguous segments
        fr_r = fold_of[rid == r]
        assert set(fr_r.tolist()) == {0, 1, 2} and (np.diff(fr_r) != 0).sum() == 2
    for k in range(3):
        held, excl = a.held_out_frames(fr, k), a.excluded_frames(fr, k)
        assert (excl >= held).all() and excl.sum() > held.sum()
        # the purged frames are within `gap` of a held-out segment, in the same run
        for i in np.flatnonzero(excl & ~held):
            near = np.flatnonzero(held[max(i - 2, 0): i + 3]) + max(i - 2, 0)
            assert len(near) and (rid[near] == rid[i]).all()
        assert not (a.train_mask(fr, k) & excl).any()
    b = FoldAssignment.from_dict(json.loads(json.dumps(a.to_dict())))
    assert b.signature == a.signature and b.group_by == "segment" and b.gap == 2
    assert fold_assignment(fr, 3, group_by="segment", gap=1).signature != a.signature


def test_fold_estimators_never_see_their_fold(synth_frames, tmp_path) -> None:
    fr = synth_frames
    a = fold_assignment(fr, 2)
    ests = train_fold_estimators("mars_cnn", fr, a, 1, out_dir=tmp_path, log=None, batch_size=64)
    n_all = len(make_windows(fr, 1, "train"))
    for k, est in enumerate(ests):
        rec = est.cross_fit
        assert rec["fold"] == k and rec["n_folds"] == 2 and rec["signature"] == a.signature
        assert sorted(rec["held_out_runs"]) == sorted(a.held_out_runs(k).tolist())
        assert rec["train_windows"] == n_all - a.counts(fr)[k]  # trained on the other folds only
        loaded = load_estimator(tmp_path / f"fold{k}.safetensors")
        assert loaded.checkpoint_extra["cross_fit"]["held_out_runs"] == rec["held_out_runs"]
    assert check_fold_estimators([load_estimator(tmp_path / f"fold{k}.safetensors") for k in range(2)], a)
    # the excluded windows are exactly the fold's windows
    res = train_estimator("mars_cnn", fr, 1, exclude_frames=a.held_out_frames(fr, 0), select_on_validate=False,
                          log=None, batch_size=64)
    assert res.counts["train_excluded_windows"] == a.counts(fr)[0]
    assert res.counts["train_windows"] == n_all - a.counts(fr)[0] and np.isnan(res.best_val_mae_cm)
    # segments: the fold estimator is trained without its segments and the purged gap
    sa = fold_assignment(fr, 2, group_by="segment", gap=2)
    (seg0,) = train_fold_estimators("mars_cnn", fr, sa, 1, folds=[0], log=None, batch_size=64)
    n_excl = int(sa.excluded_frames(fr, 0)[idx_t := make_windows(fr, 1, "train").targets].sum())
    assert seg0.cross_fit["train_windows"] == len(idx_t) - n_excl and n_excl > sa.counts(fr)[0]
    assert seg0.cross_fit["held_out_groups"] == sa.held_out_groups(0)
    # out-of-fold predictions come from the estimator of the window's fold
    idx = make_windows(fr, 1, "train")
    pred, fold = out_of_fold_predictions(fr, idx.frames, a, ests)
    for k in range(2):
        rows = np.flatnonzero(fold == k)
        direct = ests[k].predict_padded(*[x[idx.targets[rows]][:, None] for x in fr.padded(ests[k].max_points)])
        np.testing.assert_allclose(pred[rows], direct, atol=1e-5)


def test_cross_fitted_training_end_to_end(synth_frames, tiny_core, tmp_path) -> None:
    fr = synth_frames
    est = lookup_estimator(fr)
    a = fold_assignment(fr, 2)
    folds = [_noisy(fr, k) for k in range(2)]
    rep = train_mmjoints(fr, est, preset("tiny"), core=tiny_core, ablations=False, fold_estimators=folds, folds=a,
                         log=None)
    cf = rep.info["cross_fit"]
    assert rep.info["training_targets"] == "out_of_fold"
    assert cf["assignment"]["signature"] == a.signature and sum(f["n_windows"] for f in cf["folds"]) == cf["n_windows"]
    assert cf["n_windows"] == rep.info["n_train_samples"]
    assert cf["mpjpe_cm_out_of_fold"] > cf["mpjpe_cm_in_sample"]  # the fold black boxes are worse
    assert rep.info["train_estimator_mpjpe_cm"] == pytest.approx(cf["mpjpe_cm_out_of_fold"], rel=1e-6)
    assert rep.bundle.estimator is est  # inference keeps the estimator trained on all data
    assert {"refine", "activity_xi_kappa"} <= set(rep.bundle.extras)
    # the assignment is stored in the checkpoint
    rep.bundle.estimator = None
    rep.bundle.save(tmp_path / "ck")
    meta = MMJointsBundle.load(tmp_path / "ck", load_estimator=False).meta
    assert meta["training_targets"] == "out_of_fold"
    assert FoldAssignment.from_dict(meta["cross_fit"]["assignment"]).signature == a.signature
    # the stages saw the out-of-fold predictions: re-running them reproduces the logged error
    cfg = preset("tiny")
    s = build_samples(fr, cfg.signal.window, "train", estimator=est, max_points=cfg.signal.max_points,
                      max_samples=cfg.max_train_windows, seed=cfg.seed)
    pred, _ = out_of_fold_predictions(fr, s.windows, a, folds)
    assert np.linalg.norm(pred - s.gt, axis=-1).mean() * 100 == pytest.approx(cf["mpjpe_cm_out_of_fold"], rel=1e-5)


def test_cross_fitting_bad_input(synth_frames) -> None:
    fr = synth_frames
    est = lookup_estimator(fr)
    a = fold_assignment(fr, 2)
    with pytest.raises(CrossFitError, match="3 fold estimators for 2 folds"):
        check_fold_estimators([_noisy(fr, k) for k in range(3)], a, est)
    with pytest.raises(CrossFitError, match="fold_estimators is empty"):
        train_mmjoints(fr, est, preset("tiny"), fold_estimators=[], log=None)
    with pytest.raises(CrossFitError, match="1 fold estimators for 2 folds"):
        train_mmjoints(fr, est, preset("tiny"), fold_estimators=[_noisy(fr, 0)], folds=a, log=None)
    with pytest.raises(ValueError, match="folds given without fold_estimators"):
        train_mmjoints(fr, est, preset("tiny"), folds=a, log=None)

    def rec(fold, runs=None, k=2, sig=None):
        e = _noisy(fr, fold)
        e.cross_fit = {"fold": fold, "n_folds": k, "signature": sig or a.signature,
                       "held_out_runs": (a.held_out_runs(fold) if runs is None else runs).tolist()}
        return e

    with pytest.raises(CrossFitError, match=r"no fold estimator for fold\(s\) \[1\]"):
        check_fold_estimators([rec(0), rec(0)], a)
    with pytest.raises(CrossFitError, match="fold order"):
        check_fold_estimators([rec(1), rec(0)], a)
    with pytest.raises(CrossFitError, match="K = 3"):
        check_fold_estimators([rec(0, k=3), rec(1, k=3)], a)
    with pytest.raises(CrossFitError, match="another fold assignment"):
        check_fold_estimators([rec(0, sig="0" * 16), rec(1)], a)
    with pytest.raises(CrossFitError, match="not trained without exactly the runs of fold 1"):  # saw its own fold
        check_fold_estimators([rec(0), rec(1, runs=a.held_out_runs(0))], a)
    check_fold_estimators([rec(0), rec(1)], a, est)
    wide = CallableEstimator(lambda w: np.zeros((len(w), 19, 3), np.float32), window=5)
    with pytest.raises(CrossFitError, match="window of 5 frames"):
        check_fold_estimators([wide, wide], a, est)
    with pytest.raises(CrossFitError, match="at least 2 folds"):
        fold_assignment(fr, 1)
    with pytest.raises(CrossFitError, match="cannot fill"):
        fold_assignment(fr, 50)
    sa = fold_assignment(fr, 2, group_by="segment")
    bad = rec(1)
    bad.cross_fit.update(held_out_groups=sa.held_out_groups(0), signature=sa.signature)
    good = rec(0)
    good.cross_fit.update(held_out_groups=sa.held_out_groups(0), signature=sa.signature,
                          held_out_runs=sa.held_out_runs(0).tolist())
    bad.cross_fit["held_out_runs"] = sa.held_out_runs(1).tolist()
    with pytest.raises(CrossFitError, match="segments of fold 1"):
        check_fold_estimators([good, bad], sa)
    with pytest.raises(ValueError, match="group_by"):
        fold_assignment(fr, 2, group_by="frame")
    with pytest.raises(CrossFitError, match="fold 5 does not exist"):
        a.held_out_runs(5)
    from synth_mars import synthetic_frames

    other = synthetic_frames(n_subjects=1, seed=1)
    with pytest.raises(CrossFitError, match="made on"):
        a.check_frames(other)


def test_cli_train_folds_and_cross_fitted_train(tiny_core, tmp_path) -> None:
    from mmsight.joints.training import save_core

    arr = synthetic_arrays(seed=0)  # the data of the session's tiny core
    core = tmp_path / "core"
    save_core(tiny_core, str(core))
    data = tmp_path / "synth.npz"
    np.savez(data, **arr)
    app = typer.Typer()
    app.add_typer(joints_app, name="joints")
    runner = CliRunner()
    fdir = tmp_path / "folds"
    r = runner.invoke(app, ["joints", "train-folds", "--data", str(data), "--out", str(fdir), "--estimator",
                            "mars_cnn", "--n-folds", "2", "--epochs", "1"])
    assert r.exit_code == 0, r.output
    assert (fdir / "fold0.safetensors").is_file() and (fdir / "fold1.safetensors").is_file()
    assert json.loads((fdir / "folds.json").read_text())["n_folds"] == 2
    est = tmp_path / "full.safetensors"
    from mmsight.joints.estimators import save_estimator

    save_estimator(load_estimator(fdir / "fold0.safetensors"), est)  # any window-1 estimator serves here
    # a fold missing: clear error, nothing trained
    r = runner.invoke(app, ["joints", "train", "--data", str(data), "--out", str(tmp_path / "bad"), "--config", "tiny",
                            "--estimator", str(est), "--fold-estimator", str(fdir / "fold0.safetensors"),
                            "--fold-estimator", str(fdir / "fold0.safetensors")])
    assert r.exit_code != 0 and "no fold estimator for fold(s) [1]" in r.output
    r = runner.invoke(app, ["joints", "train", "--data", str(data), "--out", str(tmp_path / "bad"), "--config", "tiny",
                            "--estimator", str(est), "--fold-estimator", str(fdir / "fold0.safetensors")])
    assert r.exit_code != 0 and "1 fold estimators for 2 folds" in r.output
    ck = tmp_path / "ck"
    r = runner.invoke(app, ["joints", "train", "--data", str(data), "--out", str(ck), "--core", str(core),
                            "--estimator", str(est), "--no-ablations", "--fold-estimator",
                            str(fdir / "fold0.safetensors"), "--fold-estimator", str(fdir / "fold1.safetensors")])
    assert r.exit_code == 0, r.output
    meta = MMJointsBundle.load(ck).meta
    assert meta["training_targets"] == "out_of_fold" and len(meta["cross_fit"]["folds"]) == 2
    assert meta["cross_fit"]["folds"][1]["record"]["fold"] == 1
