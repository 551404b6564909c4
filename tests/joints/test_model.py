"""mmJoints network modules: configuration, shapes of every component, invariants of the pieces."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from mmsight.joints.divergence import weighted_jeffrey_bound
from mmsight.joints.model import MMJoints, load_config, preset
from mmsight.joints.model.config import ConfigError, MMJointsConfig
from mmsight.joints.model.distribution_generator import GMMParams, LatentSignalDistributionGenerator, distribution_loss
from mmsight.joints.model.heads import DescriptorStage, HourglassMLP, JointFrameEncoder, anchor_statistics
from mmsight.joints.model.layers import ISAB, MAB, PMA, SAB
from mmsight.joints.model.mmjoints import build_descriptor_stage, build_surrogate
from mmsight.joints.model.pose_vae import PoseBasis, PoseVAE, basis_reconstruction_error, vae_loss
from mmsight.joints.model.signal_encoder import SignalEncoder, triplet_loss
from mmsight.joints.model.surrogate import divergence_elements

torch.set_num_threads(1)

B, J = 3, 19


def _window(cfg: MMJointsConfig, b: int = B, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    k, m = cfg.signal.window, cfg.signal.max_points
    pts = torch.randn(b, k, m, 5, generator=g) * 0.3
    pts[..., 1] += 2.0
    pts[..., 4] = pts[..., 4].abs() * 50
    counts = torch.randint(0, m + 1, (b, k), generator=g)
    counts[0, -1] = 0  # an empty frame must not break anything
    return pts, counts


def _pose(b: int = B, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    p = torch.randn(b, J, 3, generator=g) * 0.2
    p[..., 1] += 2.0
    return p


# --------------------------------------------------------------------------------------------
# configuration


def test_presets_and_paper_sizes() -> None:
    p = preset("paper")
    assert (p.pose.latent_dim, p.signal.dim, p.signal.window) == (32, 64, 5)  # D_p, D_S, K = 0.5 s at 10 fps
    t = preset("tiny")
    assert t.name == "tiny" and t.pose.latent_dim < p.pose.latent_dim
    assert MMJointsConfig.from_dict(p.to_dict()) == p


def test_yaml_override_and_unknown_keys(tmp_path) -> None:
    f = tmp_path / "c.yaml"
    f.write_text("preset: tiny\nseed: 7\nsignal:\n  epochs: 2\n")
    c = load_config(f)
    assert (c.name, c.seed, c.signal.epochs, c.signal.dim) == ("tiny", 7, 2, preset("tiny").signal.dim)
    f.write_text("signal:\n  epoch: 2\n")
    with pytest.raises(ConfigError, match=r"config\.signal: epoch;"):
        load_config(f)
    with pytest.raises(ConfigError, match="unknown key"):
        load_config({"surogate": {}})
    with pytest.raises(ConfigError, match="integer"):
        load_config({"pose": {"latent_dim": 3.5}})
    with pytest.raises(ConfigError, match="C >= D_p"):
        load_config({"pose": {"latent_dim": 64, "max_clusters": 40}})
    with pytest.raises(ConfigError, match="xi_scale"):
        load_config({"heads": {"xi_scale": -1}})
    with pytest.raises(ConfigError, match="preset"):
        load_config("no-such-preset")


# --------------------------------------------------------------------------------------------
# registry-style shape test over every component


def _components(cfg: MMJointsConfig):
    dp, ds, g = cfg.pose.latent_dim, cfg.signal.dim, 3
    pts, counts = _window(cfg)
    pose = _pose()
    gmm = GMMParams(torch.softmax(torch.randn(B, g), -1), torch.randn(B, g, ds), torch.rand(B, g, ds) + 0.1)
    mu_s, var_s = torch.randn(B, ds), torch.rand(B, ds) + 0.1
    p = torch.randn(B, dp)
    return {
        "mab": (MAB(16, 8, 4), lambda m: m(torch.randn(B, 5, 16), torch.randn(B, 7, 8), torch.rand(B, 7) > 0.3), (B, 5, 16)),
        "sab": (SAB(16, 2), lambda m: m(torch.randn(B, 6, 16)), (B, 6, 16)),
        "isab": (ISAB(16, 2, 4), lambda m: m(torch.randn(B, 9, 16)), (B, 9, 16)),
        "pma": (PMA(16, 2, 3), lambda m: m(torch.randn(B, 9, 16)), (B, 3, 16)),
        "pose_vae.encode": (PoseVAE(J, dp, cfg.pose.hidden), lambda m: m.encode(pose)[0], (B, dp)),
        "pose_vae.decode": (PoseVAE(J, dp, cfg.pose.hidden), lambda m: m.decode(p), (B, J, 3)),
        "signal_encoder": (SignalEncoder(ds, cfg.signal.window, cfg.signal.d_model, cfg.signal.heads, n_clusters=5,
                                         point_dim=cfg.signal.point_dim), lambda m: m(pts, counts)[0], (B, ds)),
        "signal_encoder.clusters": (SignalEncoder(ds, cfg.signal.window, cfg.signal.d_model, cfg.signal.heads,
                                                  n_clusters=5, point_dim=cfg.signal.point_dim),
                                    lambda m: m.cluster_logits(m(pts, counts)[0]), (B, 5)),
        "generator.means": (LatentSignalDistributionGenerator(dp, ds, g, 16, 2, 1, 4), lambda m: m(p).means, (B, g, ds)),
        "generator.weights": (LatentSignalDistributionGenerator(dp, ds, g, 16, 2, 1, 4), lambda m: m(p).weights, (B, g)),
        "surrogate": (build_surrogate(cfg), lambda m: m(p, mu_s, var_s, gmm).p_refine, (B, dp)),
        "surrogate.terms": (build_surrogate(cfg), lambda m: m(p, mu_s, var_s, gmm).terms, (B, g)),
        "frame_encoder": (JointFrameEncoder(J, 16, 2, 2), lambda m: m(pts[:, -1], counts[:, -1], [pose, pose + 0.05])[0],
                          (B, J, JointFrameEncoder(J, 16, 2, 2).out_dim)),
        "hourglass": (HourglassMLP(10, [8, 4, 8], 6), lambda m: m(torch.randn(B, 10)), (B, 6)),
        "descriptor.xi": (build_descriptor_stage(cfg), lambda m: m(p, pose, p, pose, mu_s, pts[:, -1], counts[:, -1]).xi,
                          (B, J)),
        "descriptor.kappa": (build_descriptor_stage(cfg),
                             lambda m: m(p, pose, p, pose, mu_s, pts[:, -1], counts[:, -1]).kappa, (B, J)),
        "descriptor.pred_only": (build_descriptor_stage(cfg, use_signal=False, use_refine=False),
                                 lambda m: m(p, pose).xi, (B, J)),
    }


@pytest.mark.parametrize("preset_name", ["tiny", "paper"])
def test_component_shapes_and_gradients(preset_name: str) -> None:
    cfg = preset(preset_name)
    torch.manual_seed(0)
    for name, (module, call, shape) in _components(cfg).items():
        module.train()
        out = call(module)
        assert tuple(out.shape) == shape, name
        assert torch.isfinite(out).all(), name
        if name == "surrogate.terms":  # a function of the inputs only (eq. 18), no weights involved
            assert not out.requires_grad
            continue
        out.float().pow(2).mean().backward()
        grads = [q.grad for q in module.parameters() if q.requires_grad]
        assert any(gr is not None and gr.abs().sum() > 0 for gr in grads), f"{name}: no gradient reached the weights"


def test_mmjoints_forward_ranges_and_eval_cache() -> None:
    cfg = preset("tiny")
    torch.manual_seed(0)
    model = MMJoints(cfg, n_components=2, n_clusters=5).eval()
    pts, counts = _window(cfg)
    with torch.no_grad():
        o1 = model(pts, counts, _pose())
        o2 = model(pts, counts, _pose())  # second call uses the cached basis encoding
    assert o1.xi.shape == o1.kappa.shape == o1.xi_unit.shape == (B, J)
    for t in (o1.xi, o1.kappa, o1.xi_unit):
        assert ((t > 0) & (t < 1)).all()
    assert o1.surrogate_pose.shape == (B, J, 3)
    assert torch.allclose(o1.gmm.weights.sum(-1), torch.ones(B), atol=1e-5)
    assert (o1.gmm.variances > 0).all() and (o1.div_terms >= 0).all()
    assert torch.allclose(o1.div_bound, o1.div_terms.sum(-1))
    assert torch.equal(o1.xi, o2.xi)
    assert model.generator._cache is not None
    model.train()
    assert model.generator._cache is None


def test_signal_encoder_ignores_padding() -> None:
    cfg = preset("tiny")
    torch.manual_seed(0)
    enc = SignalEncoder(cfg.signal.dim, cfg.signal.window, cfg.signal.d_model, cfg.signal.heads,
                        point_dim=cfg.signal.point_dim).eval()
    pts, counts = _window(cfg)
    garbage = pts.clone()
    valid = torch.arange(pts.shape[2]) < counts[..., None]
    garbage[~valid] = 1e3  # whatever sits in the padding must not matter
    with torch.no_grad():
        a, b = enc(pts, counts)[0], enc(garbage, counts)[0]
    assert torch.allclose(a, b, atol=1e-5)


def test_signal_encoder_point_order_invariant() -> None:
    cfg = preset("tiny")
    torch.manual_seed(0)
    enc = SignalEncoder(cfg.signal.dim, cfg.signal.window, cfg.signal.d_model, cfg.signal.heads,
                        point_dim=cfg.signal.point_dim).eval()
    pts, _ = _window(cfg)
    counts = torch.full(pts.shape[:2], pts.shape[2])
    perm = torch.randperm(pts.shape[2])
    with torch.no_grad():
        assert torch.allclose(enc(pts, counts)[0], enc(pts[:, :, perm], counts)[0], atol=1e-5)


# --------------------------------------------------------------------------------------------
# pieces


def test_vae_roundtrip_normalisation_and_loss() -> None:
    torch.manual_seed(0)
    vae = PoseVAE(J, 4, [16])
    pose = _pose()
    vae.set_normalization(pose.mean(0), pose.std(0))
    x = vae.normalize(pose)
    assert torch.allclose(vae.denormalize(x), pose, atol=1e-5)
    out = vae(pose, sample=False)
    assert torch.equal(out.z, out.mu)
    loss, parts = vae_loss(vae, pose, out, 0.1)
    assert loss.item() == pytest.approx(parts["rec"] + 0.1 * parts["kl"], rel=1e-5)


def test_pose_basis_decomposition_eq11() -> None:
    torch.manual_seed(0)
    basis = PoseBasis(5)
    v = torch.randn(5, 5)
    basis.set_vectors(v)
    w = torch.randn(4, 5)
    p = basis.compose(w)  # p = P_basis w, P_basis = v^T
    assert torch.allclose(p, w @ v)
    assert torch.allclose(basis.decompose(p), w, atol=1e-4)
    with pytest.raises(ValueError, match="singular"):
        basis.set_vectors(torch.ones(5, 5))


def test_basis_reconstruction_error_measures_orthonormality() -> None:
    f = torch.randn(50, 6)
    q, _ = torch.linalg.qr(torch.randn(6, 6))
    assert basis_reconstruction_error(f, q.T * 3.0).max() < 1e-10  # orthogonal rows (any length)
    skew = q.T.clone()
    skew[1] = skew[0] + 0.1 * skew[1]
    assert basis_reconstruction_error(f, skew).mean() > 0.1


def test_divergence_elements_match_eq18_terms() -> None:
    torch.manual_seed(0)
    g = GMMParams(torch.softmax(torch.randn(2, 3), -1), torch.randn(2, 3, 4), torch.rand(2, 3, 4) + 0.2)
    mu, var = torch.randn(2, 4), torch.rand(2, 4) + 0.2
    elems, terms = divergence_elements(mu, var, g, div_scale=0.5)
    _, ref = weighted_jeffrey_bound(mu.double(), var.double(), g.weights.double(), g.means.double(),
                                    g.variances.double(), return_terms=True)
    assert torch.allclose(terms.double(), ref, rtol=1e-5)
    assert elems.shape == (2, 3, 2 + 2 * 4)
    # the per-feature contributions sum to the component term
    per_dim = torch.expm1(elems[..., 2:6]) / 0.5
    assert torch.allclose(per_dim.sum(-1), terms, rtol=1e-4)


def test_surrogate_starts_as_identity() -> None:
    cfg = preset("tiny")
    sur = build_surrogate(cfg)
    p = torch.randn(B, cfg.pose.latent_dim)
    g = GMMParams(torch.full((B, 2), 0.5), torch.randn(B, 2, cfg.signal.dim), torch.ones(B, 2, cfg.signal.dim))
    out = sur(p, torch.randn(B, cfg.signal.dim), torch.ones(B, cfg.signal.dim), g)
    assert torch.allclose(out.p_refine, p) and torch.allclose(out.p_inter, p)


def test_distribution_loss_permutation_invariant() -> None:
    torch.manual_seed(0)
    g = GMMParams(torch.softmax(torch.randn(2, 3), -1), torch.randn(2, 3, 4), torch.rand(2, 3, 4) + 0.2)
    perm = torch.tensor([2, 0, 1])
    gp = GMMParams(g.weights[:, perm], g.means[:, perm], g.variances[:, perm])
    mu, var = torch.randn(2, 4), torch.ones(2, 4)
    l0, parts = distribution_loss(g, g, mu, var, lambda_div=0.0)
    l1, _ = distribution_loss(gp, g, mu, var, lambda_div=0.0)
    assert l0.item() == pytest.approx(0.0, abs=1e-6) and l1.item() == pytest.approx(0.0, abs=1e-6)
    l2, parts2 = distribution_loss(g, g, mu, var, lambda_div=2.0, div_scale=0.5)
    assert l2.item() == pytest.approx(parts2["div"], rel=1e-5)


def test_anchor_statistics_signal_strength() -> None:
    from mmsight.joints.descriptors import signal_strength

    pts, counts = _window(preset("tiny"))
    valid = torch.arange(pts.shape[2]) < counts[:, -1, None]
    pose = _pose()
    st = anchor_statistics(pts[:, -1], valid, pose)
    psi = signal_strength(pose.double(), pts[:, -1].double(), valid)
    assert torch.allclose(st[..., 0].double(), torch.log1p(psi), rtol=1e-4)
    assert (st[0, :, 2] == 0).all()  # frame 0 of the last step is empty: no points near any joint


def test_triplet_loss_zero_when_separated() -> None:
    a = torch.zeros(4, 3)
    assert triplet_loss(a, a, a + 10, margin=1.0).item() == 0.0
    assert triplet_loss(a, a + 10, a, margin=1.0).item() == pytest.approx(10 * 3**0.5 + 1.0)


def test_descriptor_stage_ablation_switches() -> None:
    cfg = preset("tiny")
    full = build_descriptor_stage(cfg)
    pred_only = build_descriptor_stage(cfg, use_signal=False, use_refine=False)
    assert isinstance(full, DescriptorStage) and full.frame_encoder is not None
    assert pred_only.frame_encoder is None
    assert full.frame_encoder.n_anchors == 2
    assert build_descriptor_stage(cfg, use_refine=False).frame_encoder.n_anchors == 1
    # the scale-1 output is a separate head only when the configured scale differs from 1
    cfg1 = dataclasses.replace(cfg, heads=dataclasses.replace(cfg.heads, xi_scale=1.0))
    assert not build_descriptor_stage(cfg1).heads.separate_unit
    assert np.isfinite(sum(p.sum().item() for p in full.parameters()))


def test_priors_are_the_closed_form_descriptors() -> None:
    """The heads' priors are eq. 1 at the first anchor and eq. 2 on the anchor-anchor distance."""
    from mmsight.joints.descriptors import reliability_score, sensing_score, signal_strength

    pts, counts = _window(preset("tiny"))
    fe = JointFrameEncoder(J, 16, 2, 2)
    psi_mean, scale, torso, unit = 500.0, 2000.0, 0.5, 100.0
    fe.set_reference(psi_mean, scale, torso, unit)
    pose = _pose()
    other = pose + torch.randn(pose.shape) * 0.2
    _, pri = fe(pts[:, -1], counts[:, -1], [pose, other])
    valid = torch.arange(pts.shape[2]) < counts[:, -1, None]
    psi = signal_strength(pose.double(), pts[:, -1].double(), valid)
    xi = sensing_score(psi, psi_mean, scale=scale)
    inside = (psi - psi_mean).abs() / scale < 9  # away from the +-10 clamp
    assert torch.allclose(torch.sigmoid(pri["xi"]).double()[inside], xi[inside], atol=1e-4)
    kappa = reliability_score(pose.double(), other.double(), torso, units_per_metre=unit)
    f0 = torch.sigmoid(torch.tensor(unit * torso / 2, dtype=torch.float64))
    ok = pri["kappa"].abs() < 9
    assert torch.allclose((torch.sigmoid(pri["kappa"].double()) / f0)[ok], kappa[ok], atol=1e-4)


def test_scale_one_sensing_output_learns_where_its_prior_is_wrong() -> None:
    """The scale-1 prior (psi - psi_bar: thousands of logits on MARS) is bounded, so the xi(s=1) output
    keeps a gradient and learns the joints where the closed form at the estimate is wrong (with a
    +-10 bound it stayed at its initial loss on MARS)."""
    from mmsight.joints.model.heads import UNIT_PRIOR_CLAMP, DescriptorHeads

    torch.manual_seed(0)
    n = 64
    fe = JointFrameEncoder(J, 16, 2, 1)
    fe.set_reference(50.0, 2000.0, 0.5, 100.0)
    pts, counts = _window(preset("tiny"), b=n)
    pts[..., 4] *= 100.0  # psi far from psi_bar, as on MARS
    _, pri = fe(pts[:, -1], counts[:, -1], [_pose(n)])
    assert pri["xi_unit"].abs().max() <= UNIT_PRIOR_CLAMP
    step = (pri["xi_unit"] > 0).float()
    assert 0.05 < step.mean() < 0.95
    # the input tells where the closed form is wrong: there the joint is sensed whatever the prior says
    x = torch.randn(n, 8)
    sensed_anyway = x[:, torch.arange(J) % 8] > 0.3
    target = torch.where(sensed_anyway, torch.ones_like(step), step)
    heads = DescriptorHeads(J, 8, 0, 0, [32, 16, 32], use_signal=False, use_refine=False)
    opt = torch.optim.Adam(heads.parameters(), lr=3e-3)
    losses = []
    for _ in range(300):
        loss = ((heads(x, priors=pri).xi_unit - target) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    # measured: 0.3 % of the initial loss after 300 steps; with the former +-10 bound 5 %
    assert losses[-1] < 0.01 * losses[0]
