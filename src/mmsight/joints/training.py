"""Staged training of mmJoints on MARS-format data (the network is in ``mmsight.joints.model``).

The stages follow the paper; each freezes what the earlier ones produced.

==========  ==========================================================================  =========
stage       what                                                                        paper
==========  ==========================================================================  =========
reference   ``psi_bar``, ``psi_std``, ``D0`` on the training ground truth                Sec. 2.2
clusters    GMM of the training poses, ``C`` by BIC (``C >= D_p``); top-``D_p`` by       Sec. 4.1-1
            ``d_i * |cluster_i|``
vae         pose VAE, MSE + ``lambda_step2`` KL                                          eq. 4
opl         fine-tune the encoder with OPL (+ the VAE loss); ``P_basis`` from the         eq. 5, 9-10
            cluster means of ``mu_p``
signal      signal encoder, ``lambda_0`` triplet + ``lambda_1`` CE (pose clusters) +      eq. 6
            ``lambda_2`` KL
gmms        per-pose signal GMMs from neighbouring poses (``G`` by BIC on a subset),      eq. 7-8
            basis GMMs per basis cluster
generator   latent signal distribution generator, Hungarian L1 + ``lambda_Div`` bound    eq. 11-15
surrogate   surrogate pose, Huber final + ``lambda_inter`` Huber intermediate            eq. 16-19
heads       descriptor heads, MSE on xi and kappa                                         eq. 20
downstream  refinement MLP and activity LSTM, with / without descriptors                  Sec. 8
==========  ==========================================================================  =========

The first six stages do not depend on the black-box estimator (:func:`train_core`); the surrogate,
the heads, the ablation variants and the downstream models do (:func:`train_mmjoints`), so one core
serves every estimator. All randomness is seeded from ``config.seed`` (weights, batches, subsets,
EM initialisation), that of the estimator stages from ``config.stage_seed`` when it is set (training
replicates on one core); training runs with ``config.threads`` torch threads.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from mmsight.joints.descriptors import MARS19_TORSO, DescriptorReference, fit_descriptor_reference
from mmsight.joints.downstream import (
    ActivityLSTM,
    PoseRefiner,
    activity_windows,
    train_activity,
    train_refiner,
)
from mmsight.joints.estimators.base import PoseEstimator
from mmsight.joints.gmm import fit_gmm_bic, top_clusters_by_score
from mmsight.joints.losses import orthogonal_projection_loss
from mmsight.joints.mars_data import MarsFrames
from mmsight.joints.model.config import MMJointsConfig
from mmsight.joints.model.distribution_generator import GMMParams, distribution_loss
from mmsight.joints.model.heads import DescriptorStage, descriptor_loss
from mmsight.joints.model.mmjoints import MMJoints, build_descriptor_stage, build_surrogate
from mmsight.joints.model.pose_vae import PoseVAE, kl_to_standard_normal, vae_loss
from mmsight.joints.model.signal_encoder import SignalEncoder, point_features, triplet_loss
from mmsight.joints.model.surrogate import SurrogatePose, surrogate_loss
from mmsight.joints.pipeline import (
    MMJointsBundle,
    SampleSet,
    build_samples,
    descriptor_targets,
    split_mask,
    xi_scale_value,
)

__all__ = [
    "CoreResult",
    "TrainReport",
    "train_core",
    "train_mmjoints",
    "save_core",
    "load_core",
    "batched_diag_gmm",
    "select_components_bic",
    "knn",
    "cluster_poses",
    "encode_poses",
    "encode_signals",
]

Log = Callable[[str], None] | None


# --------------------------------------------------------------------------------------------
# small utilities
# --------------------------------------------------------------------------------------------


class _Threads:
    """Set torch's intra-op threads for a block (restored afterwards)."""

    def __init__(self, n: int) -> None:
        self.n, self.old = n, torch.get_num_threads()

    def __enter__(self) -> None:
        torch.set_num_threads(self.n)

    def __exit__(self, *exc: Any) -> None:
        torch.set_num_threads(self.old)


def _seed(seed: int) -> np.random.Generator:
    torch.manual_seed(seed)
    return np.random.default_rng(seed)


def _t(x: np.ndarray, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x)).to(dtype)


def _optim(params: Any, lr: float, epochs: int, steps: int) -> tuple[torch.optim.Optimizer, Any]:
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=1e-4)
    total = epochs * steps
    if total < 20:  # too short for a schedule: constant rate
        return opt, torch.optim.lr_scheduler.LambdaLR(opt, lambda _: 1.0)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=total, pct_start=0.1)
    return opt, sched


def knn(x: np.ndarray, k: int, *, exclude_self: bool = True, chunk: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """``k`` nearest rows of ``x [N, d]`` for every row (Euclidean): ``(idx [N, k], dist [N, k])``."""
    xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    n = xt.shape[0]
    k_eff = min(k, n - 1 if exclude_self else n)
    sq = (xt * xt).sum(1)
    idx_out, d_out = [], []
    for s in range(0, n, chunk):
        q = xt[s:s + chunk]
        d2 = (q * q).sum(1)[:, None] + sq[None, :] - 2.0 * q @ xt.T
        if exclude_self:
            d2[torch.arange(q.shape[0]), torch.arange(s, s + q.shape[0])] = float("inf")
        d, i = torch.topk(d2, k_eff, dim=1, largest=False)
        idx_out.append(i.numpy())
        d_out.append(d.clamp_min(0).sqrt().numpy())
    return np.concatenate(idx_out), np.concatenate(d_out)


# --------------------------------------------------------------------------------------------
# batched diagonal GMMs (eq. 8)
# --------------------------------------------------------------------------------------------


def batched_diag_gmm(x: torch.Tensor, mask: torch.Tensor, n_components: int, *, iters: int = 40,
                     var_floor: float = 1e-3, generator: torch.Generator | None = None,
                     return_loglik: bool = False) -> tuple[torch.Tensor, ...]:
    """Fit one diagonal GMM per row of a batch of sample sets by EM.

    Args:
        x: samples ``[P, N, D]``.
        mask: ``bool [P, N]`` valid samples (each set needs at least one).
        n_components: ``G``.
        iters: EM iterations.
        var_floor: added to every variance (regulariser, the smallest variance).
        generator: torch RNG for the k-means++-style seeding.
        return_loglik: also return the total log-likelihood of each set ``[P]``.

    Returns:
        ``(weights [P, G], means [P, G, D], variances [P, G, D])`` with components sorted by
        decreasing weight (and ``loglik [P]``).
    """
    x = x.double()
    p, n, d = x.shape
    g = n_components
    m = mask.to(x.dtype)
    n_valid = m.sum(1).clamp_min(1.0)
    mean_all = (x * m[..., None]).sum(1) / n_valid[:, None]
    var_all = ((x - mean_all[:, None]) ** 2 * m[..., None]).sum(1) / n_valid[:, None] + var_floor
    # k-means++ seeding: first centre uniform over valid samples, then proportional to D^2
    centres = []
    w0 = m / n_valid[:, None]
    pick = torch.multinomial(w0.float(), 1, generator=generator)[:, 0]
    centres.append(x[torch.arange(p), pick])
    dmin = ((x - centres[0][:, None]) ** 2).sum(-1)
    for _ in range(1, g):
        w = (dmin * m).float() + 1e-12 * m.float()
        pick = torch.multinomial(w, 1, generator=generator)[:, 0]
        c = x[torch.arange(p), pick]
        centres.append(c)
        dmin = torch.minimum(dmin, ((x - c[:, None]) ** 2).sum(-1))
    mu = torch.stack(centres, 1)  # [P, G, D]
    var = var_all[:, None, :].expand(p, g, d).clone()
    phi = torch.full((p, g), 1.0 / g, dtype=x.dtype)
    x2 = x * x
    log2pi = math.log(2 * math.pi)

    def loglik_comp() -> torch.Tensor:
        inv = 1.0 / var  # [P, G, D]
        # sum_d (x - mu)^2 / var = x^2 . inv - 2 x . (mu inv) + sum mu^2 inv
        quad = x2 @ inv.transpose(1, 2) - 2.0 * x @ (mu * inv).transpose(1, 2) + (mu * mu * inv).sum(-1)[:, None, :]
        return -0.5 * (quad + var.log().sum(-1)[:, None, :] + d * log2pi) + phi.clamp_min(1e-300).log()[:, None, :]

    for _ in range(iters):
        lc = loglik_comp()  # [P, N, G]
        resp = torch.softmax(lc, dim=-1) * m[..., None]
        nk = resp.sum(1)  # [P, G]
        nk_safe = nk.clamp_min(1e-10)
        mu_new = resp.transpose(1, 2) @ x / nk_safe[..., None]
        ex2 = resp.transpose(1, 2) @ x2 / nk_safe[..., None]
        var_new = (ex2 - mu_new * mu_new).clamp_min(0.0) + var_floor
        alive = nk > 1e-6
        mu = torch.where(alive[..., None], mu_new, mu)
        var = torch.where(alive[..., None], var_new, var)
        phi = (nk / n_valid[:, None]).clamp_min(1e-8)
        phi = phi / phi.sum(1, keepdim=True)
    order = torch.argsort(phi, dim=1, descending=True)
    phi = phi.gather(1, order)
    mu = mu.gather(1, order[..., None].expand(-1, -1, d))
    var = var.gather(1, order[..., None].expand(-1, -1, d))
    out = (phi.float(), mu.float(), var.float())
    if return_loglik:
        # recompute with the sorted parameters
        ll = torch.logsumexp(loglik_comp(), dim=-1)
        out = out + (((ll * m).sum(1)).float(),)
    return out


def select_components_bic(x: torch.Tensor, mask: torch.Tensor, max_components: int, *, iters: int = 40,
                          var_floor: float = 1e-3, generator: torch.Generator | None = None) -> tuple[int, dict[int, float]]:
    """Choose ``G`` in ``1..max_components`` by BIC over a batch of sample sets.

    Each set gets its BIC-best ``G`` (``BIC = -2 log L + n_params ln n``, ``n_params = G (2 D + 1) - 1``);
    the returned ``G`` is the median of those choices (rounded up), with the mean BIC per ``G``.
    """
    d = x.shape[-1]
    n = mask.sum(1).double().clamp_min(1.0)
    bics = []
    for g in range(1, max_components + 1):
        *_, ll = batched_diag_gmm(x, mask, g, iters=iters, var_floor=var_floor, generator=generator, return_loglik=True)
        k = g * (2 * d + 1) - 1
        bics.append((-2.0 * ll.double() + k * n.log()).numpy())
    bic = np.stack(bics, 1)  # [P, G_max]
    best = bic.argmin(1) + 1
    g_sel = int(math.ceil(float(np.median(best))))
    return g_sel, {g + 1: float(bic[:, g].mean()) for g in range(max_components)}


def _sample_components(mu: torch.Tensor, var: torch.Tensor, n_per: int, gen: torch.Generator) -> torch.Tensor:
    """``n_per`` draws from each ``N(mu, var)``: ``[..., M, D]`` -> ``[..., M * n_per, D]``."""
    eps = torch.randn(*mu.shape[:-1], n_per, mu.shape[-1], generator=gen)
    s = mu[..., None, :] + eps * var.sqrt()[..., None, :]
    return s.reshape(*mu.shape[:-2], mu.shape[-2] * n_per, mu.shape[-1])


# --------------------------------------------------------------------------------------------
# stage helpers
# --------------------------------------------------------------------------------------------


def fit_reference(frames: MarsFrames, split: Any = "train") -> DescriptorReference:
    """Descriptor reference on the labelled frames of ``split`` (MARS-19 joints, spine torso)."""
    sel = split_mask(frames, split)
    idx = np.flatnonzero(sel)
    off = frames.frame_offsets
    take = np.concatenate([np.arange(off[f], off[f + 1]) for f in idx]) if len(idx) else np.zeros(0, np.int64)
    sub_off = np.zeros(len(idx) + 1, dtype=np.int64)
    np.cumsum(off[idx + 1] - off[idx], out=sub_off[1:])
    return fit_descriptor_reference(frames.joints[idx], frames.points[take], sub_off, torso=MARS19_TORSO)


def point_statistics(frames: MarsFrames, split: Any = "train") -> tuple[np.ndarray, np.ndarray]:
    """Mean and std ``[5]`` of the model point features (x, y, z, doppler, log1p intensity) of ``split``."""
    sel = np.repeat(split_mask(frames, split), frames.n_points)
    feats = point_features(torch.from_numpy(np.ascontiguousarray(frames.points[sel]))).double()
    return feats.mean(0).numpy(), feats.std(0).numpy()


def cluster_poses(gt: np.ndarray, config: MMJointsConfig, seed: int) -> dict[str, Any]:
    """Sec. 4.1 step 1: GMM clusters of the training poses (``C`` by BIC, ``C >= D_p``) and the top ``D_p``.

    Poses are flattened, standardised per coordinate and (optionally) reduced by PCA before the
    diagonal-covariance GMM; the cluster score ``d_i * |cluster_i|`` uses the raw poses (metres).

    Returns:
        ``labels [N]``, ``n_clusters``, ``top [D_p]`` (cluster ids), ``bic`` and ``sizes``.
    """
    pc = config.pose
    flat = gt.reshape(len(gt), -1).astype(np.float64)
    z = (flat - flat.mean(0)) / flat.std(0).clip(1e-6)
    if 0 < pc.cluster_pca < z.shape[1]:
        _, _, vt = np.linalg.svd(z[np.random.default_rng(seed).choice(len(z), min(len(z), 5000), replace=False)],
                                 full_matrices=False)
        z = z @ vt[: pc.cluster_pca].T
    fit = fit_gmm_bic(z, pc.max_clusters, min_components=pc.latent_dim, random_state=seed,
                      subsample=min(pc.cluster_subsample, len(z)) if len(z) > pc.cluster_subsample else None)
    labels = fit.model.predict(z).astype(np.int64)
    c = fit.n_components
    sizes = np.bincount(labels, minlength=c)
    n_nonempty = int((sizes > 0).sum())
    if n_nonempty < pc.latent_dim:
        raise ValueError(f"only {n_nonempty} non-empty pose clusters, need D_p = {pc.latent_dim}")
    top = top_clusters_by_score(flat, labels, pc.latent_dim, n_clusters=c)
    return {"labels": labels, "n_clusters": c, "top": top.indices, "bic": fit.bic, "sizes": sizes,
            "scores": top.scores}


@torch.no_grad()
def encode_poses(vae: PoseVAE, poses: np.ndarray, batch_size: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """``(mu_p, logvar_p)`` ``[N, D_p]`` of skeletons ``[N, J, 3]`` (eval mode)."""
    vae.eval()
    mus, lvs = [], []
    for s in range(0, len(poses), batch_size):
        mu, lv = vae.encode(_t(poses[s:s + batch_size]))
        mus.append(mu.numpy())
        lvs.append(lv.numpy())
    d = vae.latent_dim
    return (np.concatenate(mus) if mus else np.zeros((0, d), np.float32),
            np.concatenate(lvs) if lvs else np.zeros((0, d), np.float32))


@torch.no_grad()
def encode_signals(enc: SignalEncoder, samples: SampleSet, batch_size: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """``(mu_S, logvar_S)`` ``[N, D_S]`` of every sample window (eval mode)."""
    enc.eval()
    mus, lvs = [], []
    for s in range(0, len(samples), batch_size):
        pts, cnt = samples.window_points(np.arange(s, min(s + batch_size, len(samples))))
        mu, lv = enc(pts, cnt)
        mus.append(mu.numpy())
        lvs.append(lv.numpy())
    return (np.concatenate(mus) if mus else np.zeros((0, enc.dim), np.float32),
            np.concatenate(lvs) if lvs else np.zeros((0, enc.dim), np.float32))


def _train_vae(vae: PoseVAE, gt: np.ndarray, cfg: MMJointsConfig, rng: np.random.Generator, log: Log) -> list[float]:
    pc = cfg.pose
    x = _t(gt)
    steps = math.ceil(len(x) / pc.batch_size)
    opt, sched = _optim(vae.parameters(), pc.lr, pc.vae_epochs, steps)
    hist = []
    vae.train()
    for ep in range(pc.vae_epochs):
        order = rng.permutation(len(x))
        tot = 0.0
        for s in range(0, len(x), pc.batch_size):
            bi = order[s:s + pc.batch_size]
            out = vae(x[bi])
            loss, parts = vae_loss(vae, x[bi], out, pc.kl_weight)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            tot += parts["rec"] * len(bi)
        hist.append(tot / len(x))
        if log and (ep % 10 == 0 or ep == pc.vae_epochs - 1):
            log(f"[vae] epoch {ep + 1}/{pc.vae_epochs} rec MSE {hist[-1]:.4f} (standardised)")
    vae.eval()
    return hist


def _train_opl(vae: PoseVAE, gt: np.ndarray, labels: np.ndarray, top: np.ndarray, cfg: MMJointsConfig,
               rng: np.random.Generator, log: Log) -> list[float]:
    """Eq. 5 fine-tuning of the encoder so that the ``D_p`` basis clusters become mutually orthogonal.

    Per step: OPL (``L_OPL-d + lambda_step3 L_OPL-s``) on ``mu_p`` of the batch members of the basis
    clusters, plus ``opl_recon_weight`` x the VAE loss (so the decoder stays valid), plus
    ``opl_basis_weight`` x an orthogonality penalty on the basis vectors themselves: the means of
    ``mu_p`` over ``basis_members`` random members of *every* basis cluster (the ``F_basis_i`` of
    eq. 9 estimated on the fly), penalising the mean squared and the largest off-diagonal cosine.
    Sample-level OPL alone leaves a few nearly collinear cluster means (their pairs are a small
    share of all pairs); the basis term removes that tail, which keeps ``P_basis`` well conditioned.
    """
    pc = cfg.pose
    n_basis = len(top)
    remap = np.full(int(labels.max()) + 1, -1, dtype=np.int64)
    remap[top] = np.arange(n_basis)
    basis_lab = remap[labels]  # -1 = not a basis cluster
    members = [np.flatnonzero(basis_lab == i) for i in range(n_basis)]
    per = pc.basis_members
    x = _t(gt)
    lab = torch.from_numpy(basis_lab)
    steps = math.ceil(len(x) / pc.batch_size)
    opt, sched = _optim(vae.parameters(), pc.lr * 0.5, pc.opl_epochs, steps)
    off_diag = ~torch.eye(n_basis, dtype=torch.bool)
    hist = []
    vae.train()
    for ep in range(pc.opl_epochs):
        order = rng.permutation(len(x))
        tot = 0.0
        for s in range(0, len(x), pc.batch_size):
            bi = order[s:s + pc.batch_size]
            out = vae(x[bi])
            lb = lab[bi]
            sel = lb >= 0
            loss = torch.zeros(())
            if int(sel.sum()) >= 2:
                loss = orthogonal_projection_loss(out.mu[sel], lb[sel], lambda_s=pc.opl_lambda_s)
            if pc.opl_basis_weight > 0 and n_basis >= 2:
                idx = np.concatenate([rng.choice(m, per) for m in members])
                means = vae.encode(x[idx])[0].view(n_basis, per, -1).mean(1)
                nb = F.normalize(means, dim=1)
                c = (nb @ nb.T)[off_diag]
                loss = loss + pc.opl_basis_weight * ((c * c).mean() + c.abs().max() ** 2)
            if pc.opl_recon_weight > 0:
                loss = loss + pc.opl_recon_weight * vae_loss(vae, x[bi], out, pc.kl_weight)[0]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            tot += float(loss.detach()) * len(bi)
        hist.append(tot / len(x))
        if log and (ep % 10 == 0 or ep == pc.opl_epochs - 1):
            log(f"[opl] epoch {ep + 1}/{pc.opl_epochs} loss {hist[-1]:.4f}")
    vae.eval()
    return hist


def _train_signal(enc: SignalEncoder, samples: SampleSet, labels: np.ndarray, pos_nbrs: np.ndarray,
                  cfg: MMJointsConfig, rng: np.random.Generator, log: Log) -> list[dict[str, float]]:
    """Eq. 6: triplet (positive = a near pose, hardest in-batch negative from another cluster) +
    CE over pose clusters + KL to N(0, I)."""
    sc = cfg.signal
    n = len(samples)
    per_epoch = n if sc.anchors_per_epoch is None else min(n, sc.anchors_per_epoch)
    steps = math.ceil(per_epoch / sc.batch_size)
    opt, sched = _optim(enc.parameters(), sc.lr, sc.epochs, steps)
    lab_t = torch.from_numpy(labels)
    hist = []
    enc.train()
    for ep in range(sc.epochs):
        anchors = rng.permutation(n)[:per_epoch]
        acc = {"triplet": 0.0, "ce": 0.0, "kl": 0.0, "ce_acc": 0.0}
        cnt = 0
        for s in range(0, per_epoch, sc.batch_size):
            a = anchors[s:s + sc.batch_size]
            pos = pos_nbrs[a, rng.integers(0, pos_nbrs.shape[1], size=len(a))]
            rows = np.concatenate([a, pos])
            pts, cts = samples.window_points(rows)
            mu, lv = enc(pts, cts)
            b = len(a)
            y = lab_t[rows]
            # hardest negative for each anchor among the batch members of another pose cluster
            with torch.no_grad():
                dist = torch.cdist(mu[:b], mu)
                other = y[:b, None] != y[None, :]
                dist = dist.masked_fill(~other, float("inf"))
                neg = dist.argmin(1)
                has_neg = torch.isfinite(dist.min(1).values)
            l_tri = triplet_loss(mu[:b][has_neg], mu[b:][has_neg], mu[neg][has_neg], sc.margin) if bool(has_neg.any()) else mu.sum() * 0
            logits = enc.cluster_logits(mu)
            l_ce = F.cross_entropy(logits, y)
            l_kl = kl_to_standard_normal(mu, lv).mean()
            loss = sc.triplet_weight * l_tri + sc.ce_weight * l_ce + sc.kl_weight * l_kl
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            acc["triplet"] += float(l_tri.detach()) * b
            acc["ce"] += float(l_ce.detach()) * b
            acc["kl"] += float(l_kl.detach()) * b
            acc["ce_acc"] += float((logits.argmax(-1) == y).float().mean()) * b
            cnt += b
        hist.append({k: v / max(cnt, 1) for k, v in acc.items()})
        if log:
            h = hist[-1]
            log(f"[signal] epoch {ep + 1}/{sc.epochs} triplet {h['triplet']:.3f} CE {h['ce']:.3f} "
                f"(cluster acc {h['ce_acc']:.2f}) KL {h['kl']:.1f}")
    enc.eval()
    return hist


def _pose_signal_gmms(mu_p: np.ndarray, logvar_p: np.ndarray, mu_s: np.ndarray, var_s: np.ndarray, g: int | None,
                      cfg: MMJointsConfig, seed: int, log: Log) -> tuple[GMMParams, int, dict[str, Any]]:
    """Eq. 7-8 for every training pose: neighbours within ``||sigma_p / 2||`` (``M_min..M_max``), draws from
    their signal Gaussians, a diagonal GMM of ``G`` components (``G`` by BIC on ``bic_poses`` random poses
    when ``g`` is None)."""
    dc = cfg.distribution
    gen = torch.Generator().manual_seed(seed)
    n = len(mu_p)
    k = min(dc.neighbours_max, n)
    idx, dist = knn(mu_p, k, exclude_self=False)
    limit = np.linalg.norm(np.exp(0.5 * logvar_p) / 2.0, axis=1)
    within = dist <= limit[:, None]
    within[:, : min(dc.neighbours_min, k)] = True  # at least M_min (the pose itself is the first)
    n_nb = within.sum(1)
    mu_s_t, var_s_t = torch.from_numpy(mu_s), torch.from_numpy(var_s)
    spc = dc.samples_per_component

    def sets(rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        nb = torch.from_numpy(idx[rows])  # [P, k]
        x = _sample_components(mu_s_t[nb], var_s_t[nb], spc, gen)  # [P, k * spc, D]
        m = torch.from_numpy(np.repeat(within[rows], spc, axis=1))
        return x, m

    info: dict[str, Any] = {"neighbours_mean": float(n_nb.mean()), "neighbours_min": int(n_nb.min()),
                            "neighbours_max": int(n_nb.max()), "limit_mean": float(limit.mean())}
    if g is None:
        rng = np.random.default_rng(seed)
        rows = rng.choice(n, min(dc.bic_poses, n), replace=False)
        x, m = sets(rows)
        g, bic = select_components_bic(x, m, dc.max_components, iters=dc.em_iters, var_floor=dc.var_floor, generator=gen)
        info["bic_mean"] = bic
        if log:
            log(f"[gmms] G = {g} by BIC on {len(rows)} poses (mean BIC per G: "
                + ", ".join(f"{kk}: {v:.0f}" for kk, v in bic.items()) + ")")
    ws, ms, vs = [], [], []
    chunk = 256
    for s in range(0, n, chunk):
        rows = np.arange(s, min(s + chunk, n))
        x, m = sets(rows)
        w, mu, var = batched_diag_gmm(x, m, g, iters=dc.em_iters, var_floor=dc.var_floor, generator=gen)
        ws.append(w)
        ms.append(mu)
        vs.append(var)
    info["n_components"] = g
    return GMMParams(torch.cat(ws), torch.cat(ms), torch.cat(vs)), g, info


def _basis_gmms(basis_lab: np.ndarray, n_basis: int, mu_s: np.ndarray, var_s: np.ndarray, g: int,
                cfg: MMJointsConfig, seed: int) -> GMMParams:
    """The empirical signal GMM ``x_hat_D_i`` of each basis pose cluster (eq. 9)."""
    dc = cfg.distribution
    gen = torch.Generator().manual_seed(seed + 1)
    rng = np.random.default_rng(seed + 1)
    per = 128
    sets_x, sets_m = [], []
    for i in range(n_basis):
        mem = np.flatnonzero(basis_lab == i)
        if len(mem) > per:
            mem = rng.choice(mem, per, replace=False)
        rows = np.zeros(per, dtype=np.int64)
        valid = np.zeros(per, dtype=bool)
        rows[: len(mem)] = mem
        valid[: len(mem)] = True
        x = _sample_components(torch.from_numpy(mu_s[rows]), torch.from_numpy(var_s[rows]), dc.samples_per_component, gen)
        sets_x.append(x)
        sets_m.append(torch.from_numpy(np.repeat(valid, dc.samples_per_component)))
    w, mu, var = batched_diag_gmm(torch.stack(sets_x), torch.stack(sets_m), g, iters=dc.em_iters,
                                  var_floor=dc.var_floor, generator=gen)
    return GMMParams(w, mu, var)


def _train_generator(model: MMJoints, p_gt: np.ndarray, target: GMMParams, mu_s: np.ndarray, var_s: np.ndarray,
                     cfg: MMJointsConfig, rng: np.random.Generator, log: Log) -> list[dict[str, float]]:
    dc = cfg.distribution
    gen = model.generator
    p = _t(p_gt)
    ms, vs = _t(mu_s), _t(var_s)
    n = len(p)
    steps = math.ceil(n / dc.batch_size)
    opt, sched = _optim(gen.parameters(), dc.lr, dc.epochs, steps)
    hist = []
    gen.train()
    for ep in range(dc.epochs):
        order = rng.permutation(n)
        acc = {"lap": 0.0, "div": 0.0}
        for s in range(0, n, dc.batch_size):
            bi = torch.from_numpy(order[s:s + dc.batch_size])
            pred = gen(p[bi])
            loss, parts = distribution_loss(pred, target.index(bi), ms[bi], vs[bi], dc.lambda_div, dc.div_scale)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            for k in acc:
                acc[k] += parts[k] * len(bi)
        hist.append({k: v / n for k, v in acc.items()})
        if log and (ep % 5 == 0 or ep == dc.epochs - 1):
            log(f"[generator] epoch {ep + 1}/{dc.epochs} L_LAP {hist[-1]['lap']:.4f} J-bound {hist[-1]['div']:.1f}")
    gen.eval()
    return hist


@torch.no_grad()
def _generate(model: MMJoints, p: np.ndarray, batch_size: int = 1024) -> GMMParams:
    model.generator.eval()
    ws, ms, vs = [], [], []
    for s in range(0, len(p), batch_size):
        g = model.generator(_t(p[s:s + batch_size]))
        ws.append(g.weights)
        ms.append(g.means)
        vs.append(g.variances)
    return GMMParams(torch.cat(ws), torch.cat(ms), torch.cat(vs))


def _train_surrogate(sur: SurrogatePose, p_pred: np.ndarray, gmm: GMMParams, mu_s: np.ndarray, var_s: np.ndarray,
                     p_gt: np.ndarray, cfg: MMJointsConfig, rng: np.random.Generator, log: Log, tag: str) -> list[float]:
    sc = cfg.surrogate
    pp, pg, ms, vs = _t(p_pred), _t(p_gt), _t(mu_s), _t(var_s)
    n = len(pp)
    steps = math.ceil(n / sc.batch_size)
    opt, sched = _optim(sur.parameters(), sc.lr, sc.epochs, steps)
    hist = []
    sur.train()
    for ep in range(sc.epochs):
        order = rng.permutation(n)
        tot = 0.0
        for s in range(0, n, sc.batch_size):
            bi = torch.from_numpy(order[s:s + sc.batch_size])
            out = sur(pp[bi], ms[bi], vs[bi], gmm.index(bi))
            loss, parts = surrogate_loss(out, pg[bi], sc.huber_delta, sc.lambda_inter)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            tot += parts["final"] * len(bi)
        hist.append(tot / n)
        if log and (ep % 5 == 0 or ep == sc.epochs - 1):
            log(f"[{tag}] epoch {ep + 1}/{sc.epochs} Huber(p_refine, p_gt) {hist[-1]:.5f}")
    sur.eval()
    return hist


@torch.no_grad()
def _run_surrogate(sur: SurrogatePose, p_pred: np.ndarray, gmm: GMMParams, mu_s: np.ndarray, var_s: np.ndarray,
                   batch_size: int = 2048) -> np.ndarray:
    sur.eval()
    out = []
    for s in range(0, len(p_pred), batch_size):
        sl = slice(s, s + batch_size)
        out.append(sur(_t(p_pred[sl]), _t(mu_s[sl]), _t(var_s[sl]), gmm.index(sl)).p_refine.numpy())
    return np.concatenate(out) if out else np.zeros((0, p_pred.shape[1]), np.float32)


@dataclass
class HeadInputs:
    """Cached inputs of the descriptor stage for a sample set (all numpy, ``N`` rows)."""

    p_pred: np.ndarray
    p_refine: np.ndarray
    surrogate_pose: np.ndarray
    mu_s: np.ndarray
    pred: np.ndarray

    def batch(self, samples: SampleSet, rows: np.ndarray) -> dict[str, torch.Tensor]:
        padded, counts = samples.frames.padded(samples.max_points)
        f = samples.targets[rows]
        return {"p_pred": _t(self.p_pred[rows]), "p_refine": _t(self.p_refine[rows]),
                "surrogate_pose": _t(self.surrogate_pose[rows]), "mu_s": _t(self.mu_s[rows]),
                "pred_pose": _t(self.pred[rows]), "frame_points": torch.from_numpy(padded[f]),
                "frame_counts": torch.from_numpy(counts[f])}


def _run_stage(stage: DescriptorStage, b: dict[str, torch.Tensor]) -> Any:
    return stage(b["p_pred"], b["pred_pose"], b["p_refine"], b["surrogate_pose"], b["mu_s"], b["frame_points"],
                 b["frame_counts"])


def _train_heads(stage: DescriptorStage, samples: SampleSet, inputs: HeadInputs, targets: Any, cfg: MMJointsConfig,
                 rng: np.random.Generator, log: Log, tag: str) -> list[dict[str, float]]:
    hc = cfg.heads
    xi, kappa, xi_unit = _t(targets.xi), _t(targets.kappa), _t(targets.xi_unit)
    n = len(samples)
    steps = math.ceil(n / hc.batch_size)
    opt, sched = _optim(stage.parameters(), hc.lr, hc.epochs, steps)
    hist = []
    stage.train()
    for ep in range(hc.epochs):
        order = rng.permutation(n)
        acc = {"xi": 0.0, "kappa": 0.0, "xi_unit": 0.0}
        for s in range(0, n, hc.batch_size):
            bi = order[s:s + hc.batch_size]
            out = _run_stage(stage, inputs.batch(samples, bi))
            loss, parts = descriptor_loss(out, xi[bi], kappa[bi], xi_unit[bi], unit_weight=hc.unit_weight, kind=hc.loss)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            for k in acc:
                acc[k] += parts.get(k, parts["xi"] if k == "xi_unit" else 0.0) * len(bi)
        hist.append({k: v / n for k, v in acc.items()})
        if log and (ep % 5 == 0 or ep == hc.epochs - 1):
            h = hist[-1]
            log(f"[{tag}] epoch {ep + 1}/{hc.epochs} {hc.loss.upper()} xi {h['xi']:.5f} kappa {h['kappa']:.5f} "
                f"xi(s=1) {h['xi_unit']:.5f}")
    stage.eval()
    return hist


@torch.no_grad()
def run_descriptor_stage(stage: DescriptorStage, samples: SampleSet, inputs: HeadInputs,
                         batch_size: int = 512) -> dict[str, np.ndarray]:
    """``xi``, ``kappa``, ``xi_unit`` ``[N, J]`` of a descriptor stage on cached inputs (eval mode)."""
    stage.eval()
    out: dict[str, list[np.ndarray]] = {"xi": [], "kappa": [], "xi_unit": []}
    for s in range(0, len(samples), batch_size):
        o = _run_stage(stage, inputs.batch(samples, np.arange(s, min(s + batch_size, len(samples)))))
        for k in out:
            out[k].append(getattr(o, k).numpy())
    return {k: np.concatenate(v) if v else np.zeros((0, samples.frames.joints.shape[1]), np.float32)
            for k, v in out.items()}


# --------------------------------------------------------------------------------------------
# the two training entry points
# --------------------------------------------------------------------------------------------


#: Settings that only affect how the estimator stages are optimised (not the core, not any
#: module's shape), and may therefore differ between a core and the estimator stages trained on it.
ESTIMATOR_STAGE_SETTINGS: tuple[str, ...] = (
    "surrogate.epochs", "surrogate.batch_size", "surrogate.lr", "heads.epochs", "heads.batch_size", "heads.lr",
    "heads.loss", "heads.unit_weight", "heads.torso_mean", "heads.units_per_metre", "downstream.refine_epochs", "downstream.activity_epochs", "downstream.activity_seeds",
    "downstream.batch_size", "downstream.lr", "downstream.standardize_descriptors", "threads", "stage_seed")


def stage_reference(reference: DescriptorReference, config: MMJointsConfig) -> DescriptorReference:
    """The descriptor reference of the estimator stages: the core's, with ``D0`` replaced by
    ``heads.torso_mean`` when that is set (psi_bar and the rest stay the training split's)."""
    if config.heads.torso_mean is None:
        return reference
    return dataclasses.replace(reference, torso_mean=float(config.heads.torso_mean))


def core_config_differences(core: MMJointsConfig, config: MMJointsConfig) -> list[str]:
    """``"key: core -> config"`` for every setting that differs, except :data:`ESTIMATOR_STAGE_SETTINGS`."""

    def flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in d.items():
            if isinstance(v, dict):
                out.update(flat(v, f"{prefix}{k}."))
            else:
                out[f"{prefix}{k}"] = v
        return out

    a, b = flat(core.to_dict()), flat(config.to_dict())
    return [f"{k}: {a.get(k)!r} -> {b.get(k)!r}" for k in sorted(set(a) | set(b))
            if k not in ESTIMATOR_STAGE_SETTINGS and a.get(k) != b.get(k)]


@dataclass
class CoreResult:
    """The estimator-independent part of a trained mmJoints (stages reference..generator).

    Attributes:
        model: the network with the VAE, basis, signal encoder and generator trained (the
            surrogate and the heads untouched).
        reference: descriptor reference of the training split.
        info: clusters, ``G``, basis orthogonality, histories, timings.
    """

    model: MMJoints
    reference: DescriptorReference
    info: dict[str, Any] = field(default_factory=dict)


def train_core(frames: MarsFrames, config: MMJointsConfig, *, split: Any = "train", log: Log = print) -> CoreResult:
    """Train the estimator-independent stages on the labelled frames of ``split``.

    Args:
        frames: MARS-format recordings.
        config: the configuration.
        split: training split (code or name).
        log: progress printer (None = silent).
    """
    cfg = config
    timings: dict[str, float] = {}
    info: dict[str, Any] = {"timings_s": timings}
    t_all = time.perf_counter()
    with _Threads(cfg.threads):
        t = time.perf_counter()
        reference = fit_reference(frames, split)
        samples = build_samples(frames, cfg.signal.window, split, max_points=cfg.signal.max_points,
                                max_samples=cfg.max_train_windows, seed=cfg.seed)
        if len(samples) < 4 * cfg.pose.latent_dim:
            raise ValueError(f"only {len(samples)} labelled training windows: too few for D_p = {cfg.pose.latent_dim}")
        gt = samples.gt
        info["n_train_samples"] = len(samples)
        timings["reference"] = time.perf_counter() - t
        if log:
            log(f"[core] {len(samples)} training windows; psi_bar {reference.psi_mean:.0f}, psi_std "
                f"{reference.psi_std:.0f}, D0 {reference.torso_mean:.3f} m")

        t = time.perf_counter()
        cl = cluster_poses(gt, cfg, cfg.seed)
        timings["clusters"] = time.perf_counter() - t
        info["clusters"] = {"n_clusters": cl["n_clusters"], "top": cl["top"].tolist(), "sizes": cl["sizes"].tolist(),
                            "bic": cl["bic"]}
        if log:
            log(f"[clusters] C = {cl['n_clusters']} (BIC, {cfg.pose.latent_dim}..{cfg.pose.max_clusters}); "
                f"top-{cfg.pose.latent_dim} cover {np.isin(cl['labels'], cl['top']).mean():.0%} of the poses")

        # the network; G is not known yet: build with the upper bound, rebuild the generator later
        _seed(cfg.seed)
        model = MMJoints(cfg, cfg.distribution.max_components, cl["n_clusters"])
        model.pose_vae.set_normalization(gt.mean(0), gt.std(0))
        pmean, pstd = point_statistics(frames, split)
        model.signal_encoder.set_normalization(pmean, pstd)
        model.descriptor.frame_encoder.set_normalization(pmean, pstd)

        t = time.perf_counter()
        rng = _seed(cfg.seed + 1)
        info["vae_history"] = _train_vae(model.pose_vae, gt, cfg, rng, log)
        timings["vae"] = time.perf_counter() - t
        t = time.perf_counter()
        rng = _seed(cfg.seed + 2)
        info["opl_history"] = _train_opl(model.pose_vae, gt, cl["labels"], cl["top"], cfg, rng, log)
        timings["opl"] = time.perf_counter() - t

        mu_p, logvar_p = encode_poses(model.pose_vae, gt)
        remap = np.full(cl["n_clusters"], -1, dtype=np.int64)
        remap[cl["top"]] = np.arange(len(cl["top"]))
        basis_lab = remap[cl["labels"]]
        basis = np.stack([mu_p[basis_lab == i].mean(0) for i in range(len(cl["top"]))])
        from mmsight.joints.losses import orthogonality_report

        cos = basis / np.linalg.norm(basis, axis=1, keepdims=True)
        cosm = np.abs(cos @ cos.T)[~np.eye(len(basis), dtype=bool)]
        info["basis"] = {"max_abs_cos": orthogonality_report(basis), "mean_abs_cos": float(cosm.mean()),
                         "cond": float(np.linalg.cond(basis))}
        if log:
            log(f"[basis] |cos| between basis poses: mean {cosm.mean():.3f}, max {info['basis']['max_abs_cos']:.3f}; "
                f"condition number {info['basis']['cond']:.1f}")

        t = time.perf_counter()
        rng = _seed(cfg.seed + 3)
        pos_nbrs, _ = knn(mu_p, cfg.signal.positive_neighbours)
        info["signal_history"] = _train_signal(model.signal_encoder, samples, cl["labels"], pos_nbrs, cfg, rng, log)
        timings["signal"] = time.perf_counter() - t
        mu_s, logvar_s = encode_signals(model.signal_encoder, samples)
        var_s = np.exp(logvar_s)

        t = time.perf_counter()
        target, g, ginfo = _pose_signal_gmms(mu_p, logvar_p, mu_s, var_s, None, cfg, cfg.seed + 4, log)
        info["gmms"] = ginfo
        basis_gmm = _basis_gmms(basis_lab, len(cl["top"]), mu_s, var_s, g, cfg, cfg.seed + 4)
        timings["gmms"] = time.perf_counter() - t
        if g != model.n_components:
            _seed(cfg.seed + 5)
            fresh = MMJoints(cfg, g, cl["n_clusters"])
            fresh.pose_vae.load_state_dict(model.pose_vae.state_dict())
            fresh.signal_encoder.load_state_dict(model.signal_encoder.state_dict())
            fresh.descriptor.load_state_dict(model.descriptor.state_dict())
            model = fresh
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed + 5)
            gen_new = type(model.generator)(cfg.pose.latent_dim, cfg.signal.dim, g, cfg.distribution.d_model,
                                            cfg.distribution.heads, cfg.distribution.layers, cfg.distribution.inducing,
                                            cfg.distribution.var_floor)
        model.generator = gen_new
        model.generator.basis.set_vectors(torch.from_numpy(basis))
        model.generator.set_basis_distributions(basis_gmm.weights, basis_gmm.means, basis_gmm.variances)

        t = time.perf_counter()
        rng = _seed(cfg.seed + 5)
        info["generator_history"] = _train_generator(model, mu_p, target, mu_s, var_s, cfg, rng, log)
        timings["generator"] = time.perf_counter() - t
    info["n_components"] = g
    timings["total"] = time.perf_counter() - t_all
    model.eval()
    return CoreResult(model=model, reference=reference, info=info)


@dataclass
class TrainReport:
    """What :func:`train_mmjoints` returns.

    Attributes:
        bundle: the trained model with reference, estimator, ablation variants and downstream models.
        info: histories, timings and training-set figures.
    """

    bundle: MMJointsBundle
    info: dict[str, Any] = field(default_factory=dict)


def train_mmjoints(
    frames: MarsFrames,
    estimator: PoseEstimator,
    config: MMJointsConfig,
    *,
    core: CoreResult | None = None,
    split: Any = "train",
    ablations: bool = True,
    downstream: bool = True,
    fold_estimators: Sequence[PoseEstimator] | None = None,
    folds: Any = None,
    log: Log = print,
) -> TrainReport:
    """Train mmJoints for one black-box estimator (all stages, or the estimator stages on ``core``).

    **In-sample (default).** The surrogate, heads, ablation variants and downstream models learn
    from ``estimator``'s outputs on the training windows. If ``estimator`` was fitted on those
    frames, its errors there are smaller than on new data, and kappa comes out optimistic
    (docs/joints.md, section 8.7, deviation 10). This is the only option for a pure black box.

    **Cross-fitted** (``fold_estimators``). ``K`` estimators of the same kind, fold ``k``'s trained
    without the runs of fold ``k`` of ``folds`` (a :class:`mmsight.joints.crossfit.FoldAssignment`;
    :func:`mmsight.joints.crossfit.train_fold_estimators` trains them for the registered
    estimators). Every training window then gets the prediction of the estimator that did not see
    its run, and the estimator stages learn from those out-of-fold predictions; ``estimator``
    (trained on all training data) is still the one stored in the checkpoint and used at inference
    and evaluation. ``folds=None`` rebuilds the assignment from the fold estimators' records
    (``K``, seed, stratification, grouping, gap) or, for estimators without one,
    ``fold_assignment(frames, K)`` (whole runs).
    The assignment, the fold sizes and the out-of-fold errors go to ``bundle.meta["cross_fit"]``.

    Args:
        frames: MARS-format recordings (training split used; validation is never touched here).
        estimator: the black box.
        config: the configuration (must match ``core.model.config`` when ``core`` is given).
        core: a :class:`CoreResult` to reuse (the core weights are copied, not modified; the
            surrogate and the heads are always trained from a fresh initialisation, also when the
            core comes from a full checkpoint).
        split: training split.
        ablations: also train the Table 10 variants (surrogate without the signal feature; heads
            from ``p_pred`` only and from ``p_pred`` + signal).
        downstream: also train the refinement MLPs and the activity LSTMs.
        fold_estimators: cross-fitting (see above), one estimator per fold in fold order.
        folds: the fold assignment of ``fold_estimators``.
        log: progress printer.

    Returns:
        :class:`TrainReport` whose ``bundle`` can be saved with ``bundle.save(directory)``.

    Raises:
        mmsight.joints.crossfit.CrossFitError: fold estimators that do not match the assignment
            (count, missing fold, a fold estimator trained on its own fold, another window).
    """
    cfg = config
    t_all = time.perf_counter()
    assignment = None
    if fold_estimators is not None:  # validate before any training
        assignment = _resolve_folds(frames, estimator, fold_estimators, folds, split)
    elif folds is not None:
        raise ValueError("folds given without fold_estimators")
    if core is None:
        core = train_core(frames, cfg, split=split, log=log)
    else:
        diff = core_config_differences(core.model.config, cfg)
        if diff:
            raise ValueError("core was trained with a different configuration: " + "; ".join(diff)
                             + f" (only {', '.join(ESTIMATOR_STAGE_SETTINGS)} may differ from the core's)")
    model = copy.deepcopy(core.model)
    model.config = cfg
    # The estimator stages start from a fresh, seeded initialisation: a core taken from a full
    # checkpoint also carries that checkpoint's trained surrogate and heads (for another estimator
    # or another setting), and continuing from them would make the result depend on the history
    # of the checkpoint used as core.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.estimator_stage_seed + 6)
        model.surrogate = build_surrogate(cfg)
        model.descriptor = build_descriptor_stage(cfg)
    info: dict[str, Any] = {"core": core.info, "timings_s": {}}
    timings = info["timings_s"]
    with _Threads(cfg.threads):
        t = time.perf_counter()
        samples = build_samples(frames, cfg.signal.window, split, estimator=estimator, max_points=cfg.signal.max_points,
                                max_samples=cfg.max_train_windows, seed=cfg.seed)
        cross_fit: dict[str, Any] | None = None
        if assignment is not None:
            cross_fit = _apply_cross_fitting(samples, assignment, fold_estimators, log)
            info["cross_fit"] = cross_fit
        reference = stage_reference(core.reference, cfg)
        xi_scale = xi_scale_value(cfg.heads.xi_scale, reference)
        targets = descriptor_targets(samples, reference, xi_scale, cfg.heads.units_per_metre)
        timings["estimator_predictions"] = time.perf_counter() - t
        info["n_train_samples"] = len(samples)
        info["training_targets"] = "out_of_fold" if cross_fit is not None else "in_sample"
        err = np.linalg.norm(samples.pred - samples.gt, axis=-1)
        info["train_estimator_mpjpe_cm"] = float(err.mean() * 100)
        if log:
            kind = "out-of-fold" if cross_fit is not None else "in-sample"
            log(f"[{estimator.name}] {len(samples)} training windows, {kind} estimator MPJPE on them "
                f"{err.mean() * 100:.2f} cm; mean xi {targets.xi.mean():.3f}, mean kappa {targets.kappa.mean():.3f}")

        p_gt, _ = encode_poses(model.pose_vae, samples.gt)
        p_pred, _ = encode_poses(model.pose_vae, samples.pred)
        mu_s, logvar_s = encode_signals(model.signal_encoder, samples)
        var_s = np.exp(logvar_s)
        gmm_pred = _generate(model, p_pred)

        t = time.perf_counter()
        rng = _seed(cfg.estimator_stage_seed + 6)
        info["surrogate_history"] = _train_surrogate(model.surrogate, p_pred, gmm_pred, mu_s, var_s, p_gt, cfg, rng,
                                                     log, "surrogate")
        timings["surrogate"] = time.perf_counter() - t
        p_refine = _run_surrogate(model.surrogate, p_pred, gmm_pred, mu_s, var_s)
        with torch.no_grad():
            model.pose_vae.eval()
            surr_pose = model.pose_vae.decode(_t(p_refine)).numpy()
        inputs = HeadInputs(p_pred, p_refine, surr_pose, mu_s, samples.pred)
        ref_consts = (reference.psi_mean, xi_scale, reference.torso_mean, cfg.heads.units_per_metre)
        model.descriptor.frame_encoder.set_reference(*ref_consts)

        t = time.perf_counter()
        rng = _seed(cfg.estimator_stage_seed + 7)
        info["heads_history"] = _train_heads(model.descriptor, samples, inputs, targets, cfg, rng, log, "heads")
        timings["heads"] = time.perf_counter() - t

        bundle = MMJointsBundle(model=model, reference=core.reference, xi_scale=xi_scale, estimator=estimator,
                                estimator_info={"name": estimator.name, "window": int(estimator.window)})
        if ablations:
            t = time.perf_counter()
            rng = _seed(cfg.estimator_stage_seed + 8)
            sur_div = build_surrogate(cfg, use_signal=False)
            _train_surrogate(sur_div, p_pred, gmm_pred, mu_s, var_s, p_gt, cfg, rng, log, "ablation surrogate (no signal)")
            bundle.add_extra("surrogate_div", "surrogate", sur_div, use_signal=False)
            for name, kw in (("heads_pred", {"use_signal": False, "use_refine": False}),
                             ("heads_pred_signal", {"use_signal": True, "use_refine": False})):
                rng = _seed(cfg.estimator_stage_seed + 9)
                stage = build_descriptor_stage(cfg, **kw)
                if stage.frame_encoder is not None:
                    stage.frame_encoder.set_normalization(model.descriptor.frame_encoder.point_mean,
                                                          model.descriptor.frame_encoder.point_std)
                    stage.frame_encoder.set_reference(*ref_consts)
                _train_heads(stage, samples, inputs, targets, cfg, rng, log, f"ablation {name}")
                bundle.add_extra(name, "descriptor", stage, **kw)
            timings["ablations"] = time.perf_counter() - t

        if downstream:
            t = time.perf_counter()
            est_desc = run_descriptor_stage(model.descriptor, samples, inputs)
            _train_downstream(bundle, samples, est_desc, targets, cfg, log)
            timings["downstream"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t_all
    bundle.meta = {"training": _jsonable(_summary(info)), "estimator": estimator.name, "core": _jsonable(core.info),
                   "training_targets": info["training_targets"], "cross_fit": _jsonable(cross_fit),
                   "train_means": {"xi": targets.xi.mean(0).tolist(), "kappa": targets.kappa.mean(0).tolist(),
                                   "xi_unit": targets.xi_unit.mean(0).tolist()}}
    return TrainReport(bundle=bundle, info=info)


def _resolve_folds(frames: MarsFrames, estimator: PoseEstimator, fold_estimators: Sequence[PoseEstimator],
                   folds: Any, split: Any) -> Any:
    """The fold assignment of ``fold_estimators`` (given, or rebuilt from their records), checked."""
    from mmsight.joints.crossfit import (
        CrossFitError,
        FoldAssignment,
        check_fold_estimators,
        fold_assignment,
        fold_info_of,
    )

    ests = list(fold_estimators)
    if not ests:
        raise CrossFitError("fold_estimators is empty: give one estimator per fold, or None for in-sample training")
    if folds is None:
        recs = [r for r in (fold_info_of(e) for e in ests) if r is not None]
        k = int(recs[0]["n_folds"]) if recs else len(ests)
        seed = int(recs[0].get("assignment_seed", 0)) if recs else 0
        strat = recs[0].get("stratify", "movement") if recs else "movement"
        grp = recs[0].get("group_by", "run") if recs else "run"
        gap = int(recs[0].get("gap", 0)) if recs else 0
        folds = fold_assignment(frames, k, split=split, seed=seed, stratify=strat, group_by=grp, gap=gap)
    elif isinstance(folds, dict):
        folds = FoldAssignment.from_dict(folds)
    if not isinstance(folds, FoldAssignment):
        raise TypeError("folds must be a FoldAssignment (or its to_dict())")
    folds.check_frames(frames)
    check_fold_estimators(ests, folds, estimator)
    return folds


def _apply_cross_fitting(samples: SampleSet, assignment: Any, fold_estimators: Sequence[PoseEstimator],
                         log: Log) -> dict[str, Any]:
    """Replace ``samples.pred`` by out-of-fold predictions; return the record stored in the checkpoint."""
    from mmsight.joints.crossfit import fold_info_of, out_of_fold_predictions

    ests = list(fold_estimators)
    in_sample = samples.pred
    oof, fold = out_of_fold_predictions(samples.frames, samples.windows, assignment, ests)
    gt = samples.gt
    err_in = np.linalg.norm(in_sample - gt, axis=-1).mean(axis=1)
    err_oof = np.linalg.norm(oof - gt, axis=-1).mean(axis=1)
    samples.pred = oof
    per_fold = []
    for k in range(assignment.n_folds):
        m = fold == k
        per_fold.append({"fold": k, "runs": assignment.held_out_runs(k).tolist(), "n_windows": int(m.sum()),
                         "mpjpe_cm_in_sample": float(err_in[m].mean() * 100) if m.any() else None,
                         "mpjpe_cm_out_of_fold": float(err_oof[m].mean() * 100) if m.any() else None,
                         "estimator": getattr(ests[k], "name", type(ests[k]).__name__),
                         "record": {kk: v for kk, v in (fold_info_of(ests[k]) or {}).items() if kk != "held_out_runs"}})
        if log:
            log(f"[cross-fit] fold {k}: {int(m.sum())} windows, {len(per_fold[-1]['runs'])} runs; MPJPE in-sample "
                f"{per_fold[-1]['mpjpe_cm_in_sample']:.2f} cm, out-of-fold {per_fold[-1]['mpjpe_cm_out_of_fold']:.2f} cm")
    return {"assignment": assignment.to_dict(), "folds": per_fold, "n_windows": int(len(fold)),
            "mpjpe_cm_in_sample": float(err_in.mean() * 100), "mpjpe_cm_out_of_fold": float(err_oof.mean() * 100)}


def activity_extra_name(name: str, seed_index: int) -> str:
    """Name of an activity LSTM in a checkpoint: ``name`` for seed 0, ``name@s`` for seed ``s``."""
    return name if seed_index == 0 else f"{name}@{seed_index}"


def _train_downstream(bundle: MMJointsBundle, samples: SampleSet, est: dict[str, np.ndarray], targets: Any,
                      cfg: MMJointsConfig, log: Log) -> None:
    """Sec. 8 models on the training samples: refiner with / without estimated descriptors; activity LSTM
    on pose, pose + xi, pose + xi + kappa (estimated) and pose + ground-truth descriptors."""
    dc = cfg.downstream
    desc_est = np.stack([est["xi"], est["kappa"]], axis=-1)
    desc_gt = np.stack([targets.xi, targets.kappa], axis=-1)
    for name, n_desc, d in (("refine", 2, desc_est), ("refine_pose_only", 0, None)):
        torch.manual_seed(cfg.estimator_stage_seed + 10)
        m = PoseRefiner(cfg.n_joints, n_desc, dc.refine_hidden, dc.refine_dropout)
        train_refiner(m, samples.pred, samples.gt, d, epochs=dc.refine_epochs, batch_size=dc.batch_size, lr=dc.lr,
                      seed=cfg.estimator_stage_seed + 10, standardize_descriptors=dc.standardize_descriptors, log=log)
        bundle.add_extra(name, "refiner", m, n_desc=n_desc)
    wins = activity_windows(samples.targets, samples.frames.run_id, dc.activity_window)
    if len(wins) == 0:
        if log:
            log("[activity] no training sequences: activity models skipped")
        return
    labels = samples.movement[wins[:, -1]] - 1
    if labels.min() < 0 or labels.max() >= dc.n_classes:
        raise ValueError(f"movement labels must be 1..{dc.n_classes}")
    seq = samples.pred[wins]
    for s in range(dc.activity_seeds):
        seed = cfg.estimator_stage_seed + 11 + 100 * s
        for name, d in (("activity_pose", None), ("activity_xi", desc_est[..., :1]),
                         ("activity_xi_kappa", desc_est), ("activity_gt", desc_gt)):
            torch.manual_seed(seed)
            n_desc = 0 if d is None else d.shape[-1]
            m = ActivityLSTM(cfg.n_joints, n_desc, dc.activity_hidden, dc.activity_layers, dc.n_classes, dc.dropout)
            train_activity(m, seq, labels, None if d is None else d[wins], epochs=dc.activity_epochs,
                           batch_size=dc.batch_size, lr=dc.lr, seed=seed,
                           standardize_descriptors=dc.standardize_descriptors, log=log if s == 0 else None)
            bundle.add_extra(activity_extra_name(name, s), "activity", m, n_desc=n_desc)


def _summary(info: dict[str, Any]) -> dict[str, Any]:
    """JSON-friendly subset of the training info (histories shortened to their last value)."""
    def last(h: Any) -> Any:
        return h[-1] if isinstance(h, list) and h else h

    core = info.get("core", {})
    return {
        "n_train_samples": info.get("n_train_samples"),
        "train_estimator_mpjpe_cm": info.get("train_estimator_mpjpe_cm"),
        "training_targets": info.get("training_targets"),
        "timings_s": {**{f"core_{k}": v for k, v in core.get("timings_s", {}).items()}, **info.get("timings_s", {})},
        "clusters": {k: core.get("clusters", {}).get(k) for k in ("n_clusters", "top")},
        "n_components": core.get("n_components"),
        "gmms": core.get("gmms"),
        "basis": core.get("basis"),
        "final_losses": {k: last(core.get(k)) for k in ("vae_history", "opl_history", "signal_history",
                                                        "generator_history")}
        | {k: last(info.get(k)) for k in ("surrogate_history", "heads_history")},
    }


def save_core(core: CoreResult, directory: str) -> str:
    """Save a :class:`CoreResult` as a checkpoint directory (no estimator; surrogate and heads untrained)."""
    cfg = core.model.config
    bundle = MMJointsBundle(model=core.model, reference=core.reference,
                            xi_scale=xi_scale_value(cfg.heads.xi_scale, core.reference),
                            meta={"core": _jsonable(core.info), "core_only": True})
    return bundle.save(directory)


def load_core(directory: str) -> CoreResult:
    """Load a core saved by :func:`save_core` (or the core part of any mmJoints checkpoint)."""
    bundle = MMJointsBundle.load(directory, load_estimator=False)
    return CoreResult(model=bundle.model, reference=bundle.reference, info=bundle.meta.get("core", {}))


def _jsonable(o: Any) -> Any:
    if isinstance(o, dict):
        return {str(k): _jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_jsonable(v) for v in o]
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    return o
