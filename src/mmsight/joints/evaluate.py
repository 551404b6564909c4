"""Evaluation of trained mmJoints checkpoints on any MARS-format file, and the ``describe`` output.

:func:`evaluate_bundle` computes, for one checkpoint (one black-box estimator), every figure of
the paper's tables that applies to a single data set:

==============  ==========================================================================
key             content
==============  ==========================================================================
``table7``      descriptor errors: sMAPE and wMAPE of xi and kappa (also MAE, MSE, per joint),
                for the configured xi scale and for the paper's scale 1 (Tables 7 and 9), with
                reference baselines (per-joint training means; xi from psi at the estimate), and
                the kappa error by the distance of the true error from the threshold D0/2
``table6``      surrogate pose: latent MSE of ``p_refine`` vs ``p_pred`` against ``p_gt``, and
                the decoded surrogate skeleton's MPJPE vs the estimator's
``table10``     ablations: (a) descriptor MSE with heads on ``p_pred`` / + signal / + ``p_refine``;
                (b) surrogate latent MSE for the estimate / + divergence / + divergence + signal
``table11``     pose refinement: MPJPE, MAE, PCK@0.5 before / after (with descriptors), and the
                pose-only refiner as a control; upper and lower body
``table12_13``  activity accuracy: pose, + xi, + xi + kappa (estimated), + ground-truth
                descriptors; per movement (Figure 12) and per subject; joint types of the cases
                fixed by the descriptors (Table 12(b))
``table1``      joint-type counts with ground-truth and with estimated descriptors
``table4``      feature modelling: basis orthogonality, basis reconstruction error vs a random
                basis, signal-feature margin difference
==============  ==========================================================================

:func:`evaluate` runs it for several checkpoints and writes ``results.json`` (and
``results.md``); :func:`describe` writes ``(x, y, z, xi, kappa)`` per joint and frame plus a
skeleton figure.

Metric definitions (``y`` truth, ``f`` estimate, sums over all joints and frames):
``wMAPE = 100 * sum|f - y| / sum|y|``; ``sMAPE = 100 * mean(2 |f - y| / (|y| + |f|))`` with 0/0 = 0
(bounded by 200).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from mmsight.eval.regression import smape, wmape
from mmsight.joints.descriptors import joint_types, kappa_midpoint, reliability_from_distance, sensing_score
from mmsight.joints.downstream import activity_windows, predict_activity, predict_refiner
from mmsight.joints.estimators.train import pose_metrics
from mmsight.joints.mars_data import MARS19_LOWER, MARS19_NAMES, MARS19_UPPER, MarsFrames, load_mars_npz
from mmsight.joints.model.pose_vae import basis_reconstruction_error
from mmsight.joints.pipeline import (
    MMJointsBundle,
    SampleSet,
    build_samples,
    descriptor_targets,
    frame_signal_strength,
    run_mmjoints,
)
from mmsight.joints.training import activity_extra_name

__all__ = ["smape", "wmape", "descriptor_errors", "auto_split", "evaluate_bundle", "evaluate", "describe",
           "default_checkpoint", "MARS19_BONES", "render_markdown"]

Log = Callable[[str], None] | None

#: Bones of the MARS 19-joint skeleton (pairs of indices into ``MARS19_NAMES``).
MARS19_BONES: tuple[tuple[int, int], ...] = tuple(
    (MARS19_NAMES.index(a), MARS19_NAMES.index(b)) for a, b in (
        ("SpineBase", "SpineMid"), ("SpineMid", "SpineShoulder"), ("SpineShoulder", "Neck"), ("Neck", "Head"),
        ("SpineShoulder", "ShoulderLeft"), ("ShoulderLeft", "ElbowLeft"), ("ElbowLeft", "WristLeft"),
        ("SpineShoulder", "ShoulderRight"), ("ShoulderRight", "ElbowRight"), ("ElbowRight", "WristRight"),
        ("SpineBase", "HipLeft"), ("HipLeft", "KneeLeft"), ("KneeLeft", "AnkleLeft"), ("AnkleLeft", "FootLeft"),
        ("SpineBase", "HipRight"), ("HipRight", "KneeRight"), ("KneeRight", "AnkleRight"), ("AnkleRight", "FootRight"),
    )
)


# --------------------------------------------------------------------------------------------
# metrics
# --------------------------------------------------------------------------------------------


def descriptor_errors(pred: np.ndarray, true: np.ndarray, *, per_joint: bool = True) -> dict[str, Any]:
    """sMAPE, wMAPE (%), MAE and MSE of ``pred`` vs ``true`` ``[N, J]`` (and per-joint wMAPE)."""
    out: dict[str, Any] = {"smape": smape(pred, true), "wmape": wmape(pred, true),
                           "mae": float(np.abs(pred - true).mean()), "mse": float(((pred - true) ** 2).mean())}
    if per_joint:
        out["wmape_joint"] = [wmape(pred[:, j], true[:, j]) for j in range(true.shape[1])]
    return out


#: Edges (cm) of the bands of |D - D0/2| in :func:`kappa_error_by_threshold_distance`.
KAPPA_BAND_EDGES_CM: tuple[float, ...] = (2.5, 5.0, 10.0)


def kappa_error_by_threshold_distance(kappa_hat: np.ndarray, kappa: np.ndarray, distance_m: np.ndarray,
                                      threshold_m: float,
                                      edges_cm: Sequence[float] = KAPPA_BAND_EDGES_CM) -> list[dict[str, float]]:
    """Where the kappa error comes from: joints grouped by how far their true error ``D`` lies from
    the correct/incorrect threshold ``D0 / 2``.

    kappa (eq. 2-3) changes from ~1 to ~0 within a few centimetres of the threshold, so a joint in
    that band has an uncertain kappa unless its error is known to a few centimetres, while a joint
    far from it has kappa ~0 or ~1. An estimator whose errors straddle the threshold (M1-M3) puts
    many joints in the band.

    Args:
        kappa_hat, kappa: estimated and true reliability scores ``[N, J]``.
        distance_m: the estimator's true joint errors ``D`` ``[N, J]`` (m).
        threshold_m: ``D0 / 2`` (m).
        edges_cm: increasing band edges of ``|D - D0 / 2|`` (cm); the last band is open.

    Returns:
        One dict per band: ``lo_cm``, ``hi_cm`` (None for the last, open band), ``share_joints`` (%),
        ``mae`` (mean ``|kappa_hat - kappa|`` in the band; None if it is empty), ``share_error`` (% of the total absolute
        error) and ``wmape_part`` (the band's term of the wMAPE, %: the bands' terms add up to it).
    """
    if not (kappa_hat.shape == kappa.shape == distance_m.shape):
        raise ValueError(f"kappa_hat {kappa_hat.shape}, kappa {kappa.shape} and distance_m {distance_m.shape} differ")
    e = [float(x) for x in edges_cm]
    if any(b <= a for a, b in zip([0.0] + e, e)):
        raise ValueError(f"edges_cm must be positive and increasing, got {e}")
    off = np.abs(distance_m - threshold_m) * 100.0
    err = np.abs(np.asarray(kappa_hat, np.float64) - kappa)
    total_err, total_k = float(err.sum()), float(np.abs(kappa).sum())
    out = []
    for lo, hi in zip([0.0] + e, e + [float("inf")]):
        m = (off >= lo) & (off < hi)
        band = float(err[m].sum())
        out.append({"lo_cm": lo, "hi_cm": hi if np.isfinite(hi) else None, "share_joints": float(m.mean() * 100),
                    "mae": float(err[m].mean()) if m.any() else None,
                    "share_error": band / total_err * 100 if total_err > 0 else float("nan"),
                    "wmape_part": band / total_k * 100 if total_k > 0 else float("nan")})
    return out


def auto_split(frames: MarsFrames) -> str:
    """The split to evaluate: ``test`` if present, else ``validate``, else ``all``."""
    codes = set(np.unique(frames.split).tolist())
    return "test" if 2 in codes else ("validate" if 1 in codes else "all")


def _pose_summary(pred: np.ndarray, gt: np.ndarray, torso_mean: float) -> dict[str, Any]:
    m = pose_metrics(pred, gt, pck_ratios=(0.5,))
    d = np.linalg.norm(pred - gt, axis=-1)
    out = {"mpjpe_cm": m["mpjpe_cm"], "mae_cm": m["mae_cm"], "pck0.5": m["pck0.5"],
           "pck_half_torso": float((d <= 0.5 * torso_mean).mean() * 100),
           "mpjpe_joint_cm": m["mpjpe_joint_cm"]}
    for part, idx in (("upper", MARS19_UPPER), ("lower", MARS19_LOWER)):
        pm = pose_metrics(pred, gt, idx, (0.5,))
        out[part] = {"mpjpe_cm": pm["mpjpe_cm"], "mae_cm": pm["mae_cm"], "pck0.5": pm["pck0.5"]}
    return out


# --------------------------------------------------------------------------------------------
# one checkpoint
# --------------------------------------------------------------------------------------------


@torch.no_grad()
def evaluate_bundle(bundle: MMJointsBundle, frames: MarsFrames, split: str | int | None = "auto", *,
                    max_samples: int | None = None, estimator: Any = None, log: Log = print) -> dict[str, Any]:
    """Every table figure for one checkpoint on the labelled samples of ``split`` (see the module doc).

    Args:
        bundle: a trained checkpoint (with its estimator).
        frames: any MARS-format recordings with ground truth for the evaluated frames.
        split: split code/name, ``"all"``, or ``"auto"`` (:func:`auto_split`).
        max_samples: evaluate a random subset (seeded) of this many samples.
        estimator: the black box to use instead of the stored one (e.g. a ``CallableEstimator``).
        log: progress printer.
    """
    if estimator is not None:
        bundle.estimator = estimator
    if bundle.estimator is None:
        raise ValueError("the checkpoint holds no estimator; it cannot be evaluated end to end")
    t0 = time.perf_counter()
    split = auto_split(frames) if split == "auto" else split
    cfg = bundle.config
    samples = build_samples(frames, cfg.signal.window, split, estimator=bundle.estimator,
                            max_points=cfg.signal.max_points, max_samples=max_samples, seed=cfg.seed)
    if len(samples) == 0:
        raise ValueError(f"no labelled samples in split {split!r}")
    ref = bundle.descriptor_reference  # D0 of kappa (heads.torso_mean, if set)
    torso = bundle.reference.torso_mean  # the training split's torso: PCK@0.5
    tg = descriptor_targets(samples, ref, bundle.xi_scale, bundle.units_per_metre)
    out = run_mmjoints(bundle.model, samples)
    res: dict[str, Any] = {"estimator": bundle.estimator_info.get("name", bundle.estimator.name), "split": split,
                           "n_samples": len(samples), "dropped": samples.n_dropped,
                           "kappa_torso_mean_m": float(ref.torso_mean),
                           "kappa_units_per_metre": float(bundle.units_per_metre)}
    gt, pred = samples.gt, samples.pred

    # ---- Tables 7 / 9: descriptor errors -------------------------------------------------
    means = bundle.meta.get("train_means", {})
    t7: dict[str, Any] = {"xi_scale": bundle.xi_scale, "xi": descriptor_errors(out["xi"], tg.xi),
                          "kappa": descriptor_errors(out["kappa"], tg.kappa),
                          "xi_unit": descriptor_errors(out["xi_unit"], tg.xi_unit), "baselines": {}}
    base = t7["baselines"]
    for key, truth in (("xi", tg.xi), ("kappa", tg.kappa), ("xi_unit", tg.xi_unit)):
        if key in means:
            mean_pred = np.broadcast_to(np.asarray(means[key], np.float32)[None], truth.shape)
            base[f"{key}_train_mean"] = descriptor_errors(mean_pred, truth, per_joint=False)
    psi_pred = frame_signal_strength(frames, samples.targets, pred.astype(np.float64))
    base["xi_from_estimate"] = descriptor_errors(sensing_score(psi_pred, ref.psi_mean, scale=bundle.xi_scale), tg.xi,
                                                 per_joint=False)
    base["xi_unit_from_estimate"] = descriptor_errors(sensing_score(psi_pred, ref.psi_mean, scale=1.0), tg.xi_unit,
                                                      per_joint=False)
    base["kappa_one"] = descriptor_errors(np.ones_like(tg.kappa), tg.kappa, per_joint=False)
    t7["kappa_by_threshold_distance"] = kappa_error_by_threshold_distance(
        out["kappa"], tg.kappa, np.linalg.norm(pred - gt, axis=-1), 0.5 * ref.torso_mean)
    res["table7"] = t7

    # ---- Table 1 / 12(b): joint types ------------------------------------------------------
    kmid = kappa_midpoint(ref.torso_mean, units_per_metre=bundle.units_per_metre)
    jt_gt = joint_types(tg.xi, tg.kappa, kappa_mid=kmid)
    jt_est = joint_types(out["xi"], out["kappa"], kappa_mid=kmid)
    res["table1"] = {"ground_truth": jt_gt.counts, "estimated": jt_est.counts,
                     "type_accuracy": float((jt_gt.labels == jt_est.labels).mean() * 100),
                     "sensed_accuracy": float((jt_gt.sensed == jt_est.sensed).mean() * 100),
                     "correct_accuracy": float((jt_gt.correct == jt_est.correct).mean() * 100)}

    # ---- Table 6 / 10(b): surrogate pose --------------------------------------------------
    model = bundle.model
    p_gt = model.encode_pose(torch.from_numpy(np.ascontiguousarray(gt, np.float32))).numpy()
    lat = lambda p: float(((p - p_gt) ** 2).mean())  # noqa: E731
    t6 = {"latent_mse_estimate": lat(out["p_pred"]), "latent_mse_surrogate": lat(out["p_refine"]),
          "estimate": _pose_summary(pred, gt, torso),
          "surrogate_decoded": _pose_summary(out["surrogate_pose"], gt, torso)}
    t6["latent_mse_reduction_pct"] = 100.0 * (1 - t6["latent_mse_surrogate"] / t6["latent_mse_estimate"])
    res["table6"] = t6
    t10: dict[str, Any] = {"b_surrogate_latent_mse": {"pretrained": t6["latent_mse_estimate"],
                                                       "pretrained_divergence_signal": t6["latent_mse_surrogate"]}}
    var_s = np.exp(out["logvar_s"])
    if "surrogate_div" in bundle.extras:
        p_div = _surrogate_only(bundle, samples, out["p_pred"], out["mu_s"], var_s, "surrogate_div")
        t10["b_surrogate_latent_mse"]["pretrained_divergence"] = lat(p_div)
    a = {"pred_signal_refine": _desc_mse(out, tg)}
    for name, key in (("heads_pred", "pred"), ("heads_pred_signal", "pred_signal")):
        if name in bundle.extras:
            o = _run_stage_on(bundle.extras[name], samples, out, pred)
            a[key] = _desc_mse(o, tg)
    t10["a_descriptor_mse"] = a
    res["table10"] = t10

    # ---- Table 11: refinement ---------------------------------------------------------------
    desc_est = np.stack([out["xi"], out["kappa"]], axis=-1)
    t11: dict[str, Any] = {"before": _pose_summary(pred, gt, torso)}
    if "refine" in bundle.extras:
        t11["after"] = _pose_summary(predict_refiner(bundle.extras["refine"], pred, desc_est), gt, torso)
    if "refine_pose_only" in bundle.extras:
        t11["pose_only_control"] = _pose_summary(predict_refiner(bundle.extras["refine_pose_only"], pred), gt,
                                                 torso)
    if "after" in t11:
        b, a_ = t11["before"], t11["after"]
        t11["mpjpe_improvement_pct"] = 100.0 * (1 - a_["mpjpe_cm"] / b["mpjpe_cm"])
        t11["joint_improvement_cm"] = [x - y for x, y in zip(b["mpjpe_joint_cm"], a_["mpjpe_joint_cm"])]
    res["table11"] = t11

    # ---- Tables 12 / 13, Figure 12: activity --------------------------------------------------
    res["table12_13"] = _activity(bundle, samples, desc_est, np.stack([tg.xi, tg.kappa], axis=-1), tg, kmid)

    # ---- Table 4: feature modelling ---------------------------------------------------------
    basis = model.generator.basis.vectors
    rng = np.random.default_rng(cfg.seed)
    rand = torch.from_numpy(rng.normal(size=tuple(basis.shape)).astype(np.float32))
    pg = torch.from_numpy(p_gt)
    rec_ours = float(basis_reconstruction_error(pg, basis).mean())
    rec_rand = float(basis_reconstruction_error(pg, rand).mean())
    cos = torch.nn.functional.normalize(basis, dim=1)
    cosm = (cos @ cos.T).abs()[~torch.eye(basis.shape[0], dtype=torch.bool)]
    res["table4"] = {"basis_reconstruction_error": rec_ours, "random_basis_reconstruction_error": rec_rand,
                     "ratio_random_over_ours": rec_rand / rec_ours if rec_ours > 0 else float("inf"),
                     "basis_abs_cos_mean": float(cosm.mean()), "basis_abs_cos_max": float(cosm.max()),
                     "basis_abs_cos_p95": float(cosm.quantile(0.95)),
                     "margin_difference": _margin(out["mu_s"], gt, rng)}
    res["seconds"] = time.perf_counter() - t0
    if log:
        x, k = t7["xi"], t7["kappa"]
        log(f"[evaluate {res['estimator']}] {len(samples)} samples ({split}): wMAPE xi {x['wmape']:.2f}% kappa "
            f"{k['wmape']:.2f}%, sMAPE xi {x['smape']:.2f}% kappa {k['smape']:.2f}%; MPJPE "
            f"{t11['before']['mpjpe_cm']:.2f} -> {t11.get('after', t11['before'])['mpjpe_cm']:.2f} cm")
    return res


def _desc_mse(o: dict[str, np.ndarray], tg: Any) -> dict[str, float]:
    mx = float(((o["xi"] - tg.xi) ** 2).mean())
    mk = float(((o["kappa"] - tg.kappa) ** 2).mean())
    return {"mse_xi": mx, "mse_kappa": mk, "mse_sum": mx + mk}


def _surrogate_only(bundle: MMJointsBundle, samples: SampleSet, p_pred: np.ndarray, mu_s: np.ndarray,
                    var_s: np.ndarray, name: str, batch_size: int = 1024) -> np.ndarray:
    sur = bundle.extras[name]
    gen = bundle.model.generator
    out = []
    for s in range(0, len(p_pred), batch_size):
        pp = torch.from_numpy(p_pred[s:s + batch_size])
        out.append(sur(pp, torch.from_numpy(mu_s[s:s + batch_size]), torch.from_numpy(var_s[s:s + batch_size]),
                       gen(pp)).p_refine.numpy())
    return np.concatenate(out)


def _run_stage_on(stage: Any, samples: SampleSet, out: dict[str, np.ndarray], pred: np.ndarray,
                  batch_size: int = 512) -> dict[str, np.ndarray]:
    padded, counts = samples.frames.padded(samples.max_points)
    res: dict[str, list[np.ndarray]] = {"xi": [], "kappa": []}
    t = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))  # noqa: E731
    for s in range(0, len(samples), batch_size):
        sl = slice(s, s + batch_size)
        f = samples.targets[sl]
        o = stage(t(out["p_pred"][sl]), t(pred[sl]), t(out["p_refine"][sl]), t(out["surrogate_pose"][sl]),
                  t(out["mu_s"][sl]), torch.from_numpy(padded[f]), torch.from_numpy(counts[f]))
        res["xi"].append(o.xi.numpy())
        res["kappa"].append(o.kappa.numpy())
    return {k: np.concatenate(v) for k, v in res.items()}


def _activity(bundle: MMJointsBundle, samples: SampleSet, desc_est: np.ndarray, desc_gt: np.ndarray, tg: Any,
              kmid: float) -> dict[str, Any]:
    names = ("activity_pose", "activity_xi", "activity_xi_kappa", "activity_gt")
    if not all(n in bundle.extras for n in names):
        return {"available": False}
    wins = activity_windows(samples.targets, samples.frames.run_id, bundle.config.downstream.activity_window)
    if len(wins) == 0:
        return {"available": False, "reason": "no activity sequences in this split"}
    y = samples.movement[wins[:, -1]] - 1
    seq = samples.pred[wins]
    preds = {
        "pose": predict_activity(bundle.extras["activity_pose"], seq),
        "pose_xi": predict_activity(bundle.extras["activity_xi"], seq, desc_est[wins][..., :1]),
        "pose_xi_kappa": predict_activity(bundle.extras["activity_xi_kappa"], seq, desc_est[wins]),
        "pose_gt_descriptors": predict_activity(bundle.extras["activity_gt"], seq, desc_gt[wins]),
    }
    acc = {k: float((v == y).mean() * 100) for k, v in preds.items()}
    # the same four LSTMs trained with further seeds (downstream.activity_seeds): mean and spread
    seeds = {k: [v] for k, v in acc.items()}
    s = 1
    while all(activity_extra_name(n, s) in bundle.extras for n in names):
        for key, n, d in (("pose", "activity_pose", None), ("pose_xi", "activity_xi", desc_est[wins][..., :1]),
                          ("pose_xi_kappa", "activity_xi_kappa", desc_est[wins]),
                          ("pose_gt_descriptors", "activity_gt", desc_gt[wins])):
            p = predict_activity(bundle.extras[activity_extra_name(n, s)], seq, d)
            seeds[key].append(float((p == y).mean() * 100))
        s += 1
    seed_stats = {"n_seeds": s, "accuracy_per_seed": seeds,
                  "accuracy_mean": {k: float(np.mean(v)) for k, v in seeds.items()},
                  "accuracy_std": {k: float(np.std(v, ddof=1)) if len(v) > 1 else 0.0 for k, v in seeds.items()},
                  "gain_xi_kappa_per_seed": [a - b for a, b in zip(seeds["pose_xi_kappa"], seeds["pose"])]}
    movements = sorted(np.unique(y).tolist())
    per_mov = {str(m + 1): {**{k: float((v[y == m] == m).mean() * 100) for k, v in preds.items()},
                            "n": int((y == m).sum())} for m in movements}
    subj = samples.subject[wins[:, -1]]
    per_subj = {str(int(s)): {k: float((v[subj == s] == y[subj == s]).mean() * 100) for k, v in preds.items()}
                | {"n": int((subj == s).sum())} for s in np.unique(subj)}
    fixed = (preds["pose_xi_kappa"] == y) & (preds["pose"] != y)
    last = wins[fixed, -1]
    jt = joint_types(tg.xi[last], tg.kappa[last], kappa_mid=kmid) if len(last) else None
    return {"available": True, "n_sequences": int(len(wins)), "accuracy": acc, "seeds": seed_stats,
            "per_movement": per_mov,
            "per_subject": per_subj, "n_fixed_by_descriptors": int(fixed.sum()),
            "n_broken_by_descriptors": int(((preds["pose_xi_kappa"] != y) & (preds["pose"] == y)).sum()),
            "joint_types_of_fixed": jt.counts if jt is not None else {}}


def _margin(mu_s: np.ndarray, gt: np.ndarray, rng: np.random.Generator, n: int = 2000, far_m: float = 0.2) -> dict[str, float]:
    """Table 4 margin difference ``||mu - mu_neg||^2 - ||mu - mu_pos||^2``: positive = the sample with the
    nearest ground-truth pose, negative = a random sample whose pose differs by > ``far_m`` MPJPE."""
    idx = rng.choice(len(gt), min(n, len(gt)), replace=False)
    flat = gt.reshape(len(gt), -1, 3)
    diffs = []
    for i in idx:
        d = np.linalg.norm(flat - flat[i], axis=-1).mean(-1)
        d[i] = np.inf
        j = int(d.argmin())
        far = np.flatnonzero((d > far_m) & np.isfinite(d))
        if len(far) == 0:
            continue
        k = int(rng.choice(far))
        diffs.append(((mu_s[i] - mu_s[k]) ** 2).sum() - ((mu_s[i] - mu_s[j]) ** 2).sum())
    return {"mean": float(np.mean(diffs)) if diffs else float("nan"), "n": len(diffs),
            "positive_share": float(np.mean(np.asarray(diffs) > 0)) if diffs else float("nan")}


# --------------------------------------------------------------------------------------------
# several checkpoints -> results.json
# --------------------------------------------------------------------------------------------


def evaluate(checkpoints: Sequence[str | os.PathLike], data: str | os.PathLike, out_dir: str | os.PathLike, *,
             split: str = "auto", max_samples: int | None = None, log: Log = print) -> dict[str, Any]:
    """Evaluate checkpoints on a MARS-format file; write ``results.json`` and ``results.md`` in ``out_dir``.

    Returns:
        the results dict: ``data``, ``split``, ``checkpoints`` (path, config, estimator, training
        summary of each) and ``estimators`` (``evaluate_bundle`` output per estimator name).
    """
    frames = load_mars_npz(data)
    split = auto_split(frames) if split == "auto" else split
    results: dict[str, Any] = {"data": os.fspath(data), "data_summary": frames.summary(), "split": split,
                               "checkpoints": {}, "estimators": {}, "torch_threads": torch.get_num_threads()}
    for ck in checkpoints:
        bundle = MMJointsBundle.load(ck)
        r = evaluate_bundle(bundle, frames, split, max_samples=max_samples, log=log)
        name = r["estimator"]
        if name in results["estimators"]:
            name = f"{name}@{os.fspath(ck)}"
        results["estimators"][name] = r
        results["checkpoints"][name] = {"path": _portable_path(ck), "config": bundle.config.to_dict(),
                                        "estimator": bundle.estimator_info, "xi_scale": bundle.xi_scale,
                                        "reference": bundle.reference.to_dict(),
                                        "training": bundle.meta.get("training", {}),
                                        "training_targets": bundle.meta.get("training_targets", "in_sample"),
                                        "cross_fit": bundle.meta.get("cross_fit")}
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "results.json"), "w", encoding="utf-8") as fh:
        json.dump(results, fh, indent=1, default=_json_default)
    with open(os.path.join(out_dir, "results.md"), "w", encoding="utf-8") as fh:
        fh.write(render_markdown(results))
    return results


def _json_default(o: Any) -> Any:
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    raise TypeError(type(o).__name__)


def _targets_note(name: str, ck: dict[str, Any]) -> str:
    cf = ck.get("cross_fit")
    if ck.get("training_targets") == "out_of_fold" and cf:
        k = cf.get("assignment", {}).get("n_folds")
        grp = "runs" if cf.get("assignment", {}).get("group_by", "run") == "run" else "run segments"
        return (f"{name}: out-of-fold predictions, K = {k} folds of {grp} (training-window MPJPE "
                f"{cf.get('mpjpe_cm_out_of_fold', float('nan')):.2f} cm out-of-fold vs "
                f"{cf.get('mpjpe_cm_in_sample', float('nan')):.2f} cm in-sample)")
    mp = ck.get("training", {}).get("train_estimator_mpjpe_cm")
    return f"{name}: in-sample predictions" + (f" (training-window MPJPE {mp:.2f} cm)" if mp is not None else "")


def render_markdown(results: dict[str, Any]) -> str:
    """The main tables of a ``results.json`` as Markdown."""
    est = results.get("estimators", {})
    lines = [f"# mmJoints evaluation: {os.path.basename(results.get('data', ''))}, split {results.get('split')}", ""]
    lines += ["## Descriptors (Tables 7, 9)", "",
              "| estimator | n | sMAPE xi | sMAPE kappa | wMAPE xi | wMAPE kappa | wMAPE xi (s=1) | wMAPE xi, train mean | wMAPE kappa, kappa=1 |",
              "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for n, r in est.items():
        t = r["table7"]
        b = t["baselines"]
        lines.append(f"| {n} | {r['n_samples']} | {t['xi']['smape']:.2f} | {t['kappa']['smape']:.2f} | "
                     f"{t['xi']['wmape']:.2f} | {t['kappa']['wmape']:.2f} | {t['xi_unit']['wmape']:.2f} | "
                     f"{b.get('xi_train_mean', {}).get('wmape', float('nan')):.2f} | {b['kappa_one']['wmape']:.2f} |")
    d0 = {n: r["kappa_torso_mean_m"] for n, r in est.items() if "kappa_torso_mean_m" in r}
    if d0:
        lines += ["", "kappa's D0 (threshold D0/2): " + "; ".join(f"{n} {v * 100:.1f} cm" for n, v in d0.items()) + "."]
    if any("kappa_by_threshold_distance" in r["table7"] for r in est.values()):
        lines += ["", "Where the kappa error comes from: joints by the distance of their true error D from the "
                  "threshold D0/2 (share of joints % / share of the kappa error % / wMAPE term %):", ""]
        bands = next(r["table7"]["kappa_by_threshold_distance"] for r in est.values()
                     if "kappa_by_threshold_distance" in r["table7"])
        lines += ["| estimator | " + " | ".join(
            f"D {b['lo_cm']:g}-{b['hi_cm']:g} cm from D0/2" if b["hi_cm"] is not None else f"D >= {b['lo_cm']:g} cm from D0/2"
            for b in bands) + " |", "| --- |" + " --- |" * len(bands)]
        for n, r in est.items():
            kb = r["table7"].get("kappa_by_threshold_distance")
            if kb:
                lines.append(f"| {n} | " + " | ".join(f"{b['share_joints']:.1f} / {b['share_error']:.1f} / "
                                                     f"{b['wmape_part']:.2f}" for b in kb) + " |")
    cks = results.get("checkpoints", {})
    if cks:
        lines += ["", "Estimator stages trained on: "
                  + "; ".join(_targets_note(n, c) for n, c in cks.items()) + "."]
    lines += ["", "## Surrogate pose (Table 6) and ablations (Table 10)", "",
              "| estimator | latent MSE estimate | latent MSE surrogate | + divergence only | heads MSE p_pred | + signal | + p_refine |",
              "| --- | --- | --- | --- | --- | --- | --- |"]
    for n, r in est.items():
        t6, t10 = r["table6"], r["table10"]
        a, bb = t10["a_descriptor_mse"], t10["b_surrogate_latent_mse"]
        f = lambda d, k: f"{d[k]['mse_sum']:.5f}" if k in d else "-"  # noqa: E731
        lines.append(f"| {n} | {t6['latent_mse_estimate']:.4f} | {t6['latent_mse_surrogate']:.4f} | "
                     f"{bb.get('pretrained_divergence', float('nan')):.4f} | {f(a, 'pred')} | {f(a, 'pred_signal')} | "
                     f"{f(a, 'pred_signal_refine')} |")
    lines += ["", "## Pose refinement (Table 11)", "",
              "| estimator | MPJPE before / after (cm) | MAE before / after (cm) | PCK@0.5 before / after (%) | MPJPE pose-only MLP |",
              "| --- | --- | --- | --- | --- |"]
    for n, r in est.items():
        t = r["table11"]
        b, a = t["before"], t.get("after", t["before"])
        c = t.get("pose_only_control", {}).get("mpjpe_cm", float("nan"))
        lines.append(f"| {n} | {b['mpjpe_cm']:.2f} / {a['mpjpe_cm']:.2f} | {b['mae_cm']:.2f} / {a['mae_cm']:.2f} | "
                     f"{b['pck0.5']:.1f} / {a['pck0.5']:.1f} | {c:.2f} |")
    lines += ["", "## Activity recognition (Tables 12, 13)", "",
              "| estimator | pose | + xi | + xi + kappa | + ground-truth descriptors |", "| --- | --- | --- | --- | --- |"]
    for n, r in est.items():
        t = r["table12_13"]
        if t.get("available"):
            a = t["accuracy"]
            lines.append(f"| {n} | {a['pose']:.2f} | {a['pose_xi']:.2f} | {a['pose_xi_kappa']:.2f} | "
                         f"{a['pose_gt_descriptors']:.2f} |")
    multi = {n: r["table12_13"]["seeds"] for n, r in est.items()
             if r["table12_13"].get("available") and r["table12_13"].get("seeds", {}).get("n_seeds", 1) > 1}
    if multi:
        lines += ["", "Mean +- standard deviation over the LSTM seeds (the row above is seed 0):", "",
                  "| estimator | seeds | pose | + xi | + xi + kappa | + ground-truth descriptors |",
                  "| --- | --- | --- | --- | --- | --- |"]
        for n, sd in multi.items():
            m, d = sd["accuracy_mean"], sd["accuracy_std"]
            cells = " | ".join(f"{m[k]:.2f} +- {d[k]:.2f}" for k in ("pose", "pose_xi", "pose_xi_kappa",
                                                                        "pose_gt_descriptors"))
            lines.append(f"| {n} | {sd['n_seeds']} | {cells} |")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# describe
# --------------------------------------------------------------------------------------------


def _portable_path(path: str | os.PathLike) -> str:
    """The shipped checkpoint as ``mmsight:joints/assets/...`` (no machine path in results); others as given."""
    p = Path(path).resolve()
    pkg = Path(__file__).resolve().parents[1]
    return f"mmsight:{p.relative_to(pkg).as_posix()}" if p.is_relative_to(pkg) else os.fspath(path)


def default_checkpoint() -> Path:
    """The checkpoint shipped with the package (``mmsight/joints/assets/mmjoints_mars_cnn``)."""
    return Path(__file__).resolve().parent / "assets" / "mmjoints_mars_cnn"


@torch.no_grad()
def describe(data: str | os.PathLike, out_dir: str | os.PathLike, checkpoint: str | os.PathLike | None = None, *,
             split: str = "all", frame: int | None = None, fmt: str = "both", log: Log = print) -> dict[str, Any]:
    """Write ``(x, y, z, xi, kappa)`` of every joint of every frame, and a skeleton figure.

    Every frame of ``split`` gets a row (the first frames of a run use windows padded with the run's
    first frame); the ground truth is not needed.

    Args:
        data: MARS-format ``.npz``.
        out_dir: output directory: ``descriptors.npz`` (``frame``, ``joints [F, J, 3]``, ``xi``,
            ``kappa``, ``xi_unit [F, J]``, ``joint_names``) and/or ``descriptors.csv`` (one row per
            frame and joint), and ``skeleton.png``.
        checkpoint: checkpoint directory (default: :func:`default_checkpoint`).
        split: frames to describe.
        frame: frame (row of the output) drawn in the figure (default: the frame with the most points).
        fmt: ``"npz"``, ``"csv"`` or ``"both"``.

    Returns:
        paths written and counts.
    """
    ck = default_checkpoint() if checkpoint is None else Path(checkpoint)
    bundle = MMJointsBundle.load(ck)
    if bundle.estimator is None:
        raise ValueError(f"{ck}: the checkpoint holds no estimator")
    frames = load_mars_npz(data)
    cfg = bundle.config
    samples = build_samples(frames, cfg.signal.window, split, estimator=bundle.estimator, require_target=False,
                            pad_start=True, max_points=cfg.signal.max_points)
    out = run_mmjoints(bundle.model, samples, keep=("xi", "kappa", "xi_unit"))
    os.makedirs(out_dir, exist_ok=True)
    paths: dict[str, str] = {}
    fidx = samples.targets
    if fmt in ("npz", "both"):
        p = os.path.join(out_dir, "descriptors.npz")
        np.savez_compressed(p, frame=fidx, joints=samples.pred, xi=out["xi"], kappa=out["kappa"],
                            xi_unit=out["xi_unit"], joint_names=np.asarray(MARS19_NAMES),
                            subject=frames.subject[fidx], movement=frames.movement[fidx], time=frames.time[fidx])
        paths["npz"] = p
    if fmt in ("csv", "both"):
        p = os.path.join(out_dir, "descriptors.csv")
        j = samples.pred.shape[1]
        fr = np.repeat(fidx, j)
        jn = np.tile(np.arange(j), len(fidx))
        xyz = samples.pred.reshape(-1, 3)
        with open(p, "w", encoding="utf-8") as fh:
            fh.write("frame,joint,name,x,y,z,xi,kappa\n")
            names = np.asarray(MARS19_NAMES)[jn]
            xi, ka = out["xi"].reshape(-1), out["kappa"].reshape(-1)
            for row in zip(fr, jn, names, xyz[:, 0], xyz[:, 1], xyz[:, 2], xi, ka):
                fh.write(f"{row[0]},{row[1]},{row[2]},{row[3]:.4f},{row[4]:.4f},{row[5]:.4f},{row[6]:.4f},{row[7]:.4f}\n")
        paths["csv"] = p
    if len(samples):
        d0, unit = bundle.descriptor_reference.torso_mean, bundle.units_per_metre  # kappa colours: D = D0 .. 0
        row = int(np.argmax(frames.n_points[fidx])) if frame is None else int(frame)
        paths["figure"] = plot_skeleton(samples.pred[row], out["xi"][row], out["kappa"][row],
                                        os.path.join(out_dir, "skeleton.png"),
                                        title=f"frame {int(fidx[row])} ({bundle.estimator_info.get('name', '')})",
                                        points=frames.frame_points(int(fidx[row])),
                                        kappa_range=(float(reliability_from_distance(d0, d0, units_per_metre=unit)), 1.0))
    if log:
        log(f"[describe] {len(samples)} frames x {samples.pred.shape[1]} joints -> {out_dir}")
    return {"paths": paths, "n_frames": len(samples), "checkpoint": os.fspath(ck)}


def plot_skeleton(joints: np.ndarray, xi: np.ndarray, kappa: np.ndarray, path: str, *, title: str = "",
                  points: np.ndarray | None = None, kappa_range: tuple[float, float] = (0.0, 1.0)) -> str:
    """Two side views (x-z) of a skeleton ``[J, 3]`` coloured by ``xi`` (0..1) and by ``kappa``
    (over ``kappa_range``: on metres kappa spans only ~0.75..1 for errors up to D0); saves a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 5), constrained_layout=True)
    for ax, val, name, (lo, hi) in ((axes[0], xi, "sensing score ξ", (0.0, 1.0)),
                                    (axes[1], kappa, "reliability score κ", kappa_range)):
        if points is not None and len(points):
            ax.scatter(points[:, 0], points[:, 2], s=6, c="0.75", label="radar points")
        for a, b in MARS19_BONES:
            ax.plot(joints[[a, b], 0], joints[[a, b], 2], c="0.4", lw=1.5, zorder=1)
        sc = ax.scatter(joints[:, 0], joints[:, 2], c=val, cmap="viridis", vmin=lo, vmax=hi, s=60, zorder=2,
                        edgecolors="k")
        ax.set_aspect("equal")
        ax.set_xlabel("x (m)")
        ax.set_ylabel("z (m)")
        ax.set_title(name)
        fig.colorbar(sc, ax=ax, shrink=0.8)
    if title:
        fig.suptitle(title)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
