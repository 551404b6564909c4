"""Configuration of the mmJoints model and of its staged training.

One nested dataclass, :class:`MMJointsConfig`, holds every size and every training setting. It is
written to the checkpoint's JSON file and rebuilt from it (``to_dict`` / ``from_dict``), and it can
be loaded from YAML (:func:`load_config`). Unknown keys are errors at every level, so a typo in a
YAML file fails loudly instead of being silently ignored.

Presets (:func:`preset`):

* ``paper`` - the paper's sizes (``D_p = 32``, ``D_S = 64``, ``K = 5`` frames = half a second at
  MARS's 10 fps) with training lengths sized for a 2-core CPU (minutes per stage, not hours);
* ``tiny`` - a few units per layer and one or two epochs per stage, for tests and smoke runs.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any, Mapping

__all__ = [
    "PoseConfig",
    "SignalConfig",
    "DistributionConfig",
    "SurrogateConfig",
    "HeadConfig",
    "DownstreamConfig",
    "MMJointsConfig",
    "ConfigError",
    "PRESETS",
    "preset",
    "load_config",
]


HEAD_LOSSES = ("mse", "l1")


class ConfigError(ValueError):
    """A configuration value or key is invalid."""


@dataclass
class PoseConfig:
    """Pose modelling (Sec. 4.1): GMM clusters, VAE (eq. 4) and OPL fine-tuning (eq. 5).

    Attributes:
        latent_dim: ``D_p``, size of ``mu_p`` and of the pose basis.
        hidden: widths of the encoder MLP (the decoder mirrors them).
        kl_weight: ``lambda_step2`` of eq. 4 (weight of the KL term).
        max_clusters: upper bound ``C_max`` of the BIC search for the pose GMM (``C >= D_p``).
        cluster_subsample: training poses used for the BIC selection.
        cluster_pca: PCA dimensions the poses are reduced to before the GMM (0 = raw 57-D).
        opl_lambda_s: ``lambda_step3`` of eq. 5 (weight of the within-cluster term).
        opl_recon_weight: weight of the VAE loss kept during OPL fine-tuning (0 = OPL only).
        opl_basis_weight: weight of the orthogonality penalty on the basis vectors (cluster means of
            ``mu_p``): mean squared plus largest squared off-diagonal cosine.
        basis_members: members of every basis cluster sampled per step to estimate its mean.
        vae_epochs, opl_epochs, batch_size, lr: optimisation.
    """

    latent_dim: int = 32
    hidden: list[int] = field(default_factory=lambda: [256, 128])
    kl_weight: float = 1e-3
    max_clusters: int = 48
    cluster_subsample: int = 4000
    cluster_pca: int = 24
    opl_lambda_s: float = 0.5
    opl_recon_weight: float = 1.0
    opl_basis_weight: float = 10.0
    basis_members: int = 16
    vae_epochs: int = 60
    opl_epochs: int = 30
    batch_size: int = 256
    lr: float = 1e-3


@dataclass
class SignalConfig:
    """Signal modelling (Sec. 4.2): the point-transformer encoder over ``K`` frames (eq. 6).

    Attributes:
        dim: ``D_S``, size of ``mu_S`` and ``sigma_S``.
        window: ``K``, radar frames per window (half a second of frames).
        max_points: points per frame after padding (MARS: 64).
        d_model, heads, point_layers, temporal_layers, ff_mult, dropout: network sizes.
        point_dim: width of the point tokens (the per-point blocks dominate the cost).
        anchors_per_epoch: triplet anchors drawn per epoch (None = every training window).
        triplet_weight, ce_weight, kl_weight: ``lambda_0``, ``lambda_1``, ``lambda_2`` of eq. 6.
        margin: triplet margin (Euclidean distance between ``mu_S``).
        positive_neighbours: a triplet positive is drawn from this many nearest training poses.
        epochs, batch_size, lr: optimisation (``batch_size`` anchors + as many positives).
    """

    dim: int = 64
    window: int = 5
    max_points: int = 64
    d_model: int = 64
    point_dim: int = 32
    heads: int = 4
    point_layers: int = 1
    temporal_layers: int = 1
    ff_mult: int = 2
    dropout: float = 0.1
    triplet_weight: float = 1.0
    ce_weight: float = 1.0
    kl_weight: float = 1e-3
    margin: float = 1.0
    positive_neighbours: int = 8
    anchors_per_epoch: int | None = 8192
    epochs: int = 15
    batch_size: int = 128
    lr: float = 1e-3


@dataclass
class DistributionConfig:
    """Signal-distribution modelling (Sec. 4.3, eq. 7-8) and the generator (Sec. 5.2, eq. 11-15).

    Attributes:
        max_components: upper bound of ``G`` (BIC selection on a random subset of poses).
        bic_poses: poses whose neighbourhood GMMs are used to select ``G``.
        neighbours_max: ``M_max`` nearest poses (in ``mu_p``) per pose.
        neighbours_min: at least this many neighbours even beyond the ``||sigma_p / 2||`` limit.
        samples_per_component: draws from each neighbour's ``N(mu_S, sigma_S^2)`` for the GMM.
        em_iters: EM iterations of the batched diagonal-GMM fit.
        var_floor: smallest component variance (also the EM regulariser).
        d_model, heads, layers, inducing: SetTransformer sizes.
        lambda_div: ``lambda_Div`` of eq. 15 (weight of the eq. 18 bound in the loss).
        div_scale: scaling coefficient applied to the weighted Jeffrey terms (Sec. 6.2).
        epochs, batch_size, lr: optimisation.
    """

    max_components: int = 4
    bic_poses: int = 48
    neighbours_max: int = 32
    neighbours_min: int = 4
    samples_per_component: int = 16
    em_iters: int = 30
    var_floor: float = 1e-3
    d_model: int = 96
    heads: int = 4
    layers: int = 2
    inducing: int = 16
    lambda_div: float = 1e-3
    div_scale: float = 1e-2
    epochs: int = 25
    batch_size: int = 256
    lr: float = 1e-3


@dataclass
class SurrogateConfig:
    """Surrogate pose (Sec. 6.2, eq. 19).

    Attributes:
        d_model, heads, layers: SetTransformer over the divergence terms.
        hidden: width of the intermediate and fusion MLPs.
        huber_delta: Huber threshold (latent units).
        lambda_inter: ``lambda_inter`` of eq. 19 (Huber on the intermediate pose feature).
        epochs, batch_size, lr: optimisation.
    """

    d_model: int = 64
    heads: int = 4
    layers: int = 1
    hidden: int = 192
    huber_delta: float = 0.5
    lambda_inter: float = 0.5
    epochs: int = 25
    batch_size: int = 256
    lr: float = 1e-3


@dataclass
class HeadConfig:
    """Descriptor heads (Sec. 6.3, eq. 20) and the descriptor definitions they learn.

    Attributes:
        frame_dim, frame_heads: width and heads of the current-frame set encoder.
        hourglass: widths of each branch (down then up, e.g. 256-128-64-128-256).
        dropout: dropout inside the branches.
        xi_scale: ``scale`` of eq. 1 for the primary sensing score: ``"psi_std"`` (the training
            standard deviation of psi, a graded score) or a positive number (1 = the paper's
            formula, a 0/1 step on MARS). The s = 1 score is always learned as a second output.
        units_per_metre: unit of the reliability sigmoid: 1 = metres (eq. 2 as printed, in SI; the
            reading the paper's tables imply, docs/joints.md 8.5), 100 = centimetres (a near step
            at D0 / 2, the default of checkpoints before the ninth session).
        loss: ``"mse"`` (eq. 20, the paper's) or ``"l1"`` (mean absolute error on every output). The
            descriptors are scored by sMAPE and wMAPE, absolute-error metrics whose minimiser is the
            conditional median, while MSE learns the conditional mean; for kappa, which is nearly
            0 or 1, the two differ (deviation 13 in docs/joints.md).
        unit_weight: weight of the scale-1 sensing output's term in the loss (it shares the xi
            branch with the primary score; ignored when ``xi_scale`` is 1).
        torso_mean: ``D0`` of eq. 2 in metres for the estimator stages (their kappa targets, the
            heads' reference and the checkpoint's reference, hence evaluation); None = the mean
            torso length of the training split (the core's reference, the default). A fixed value
            such as the paper's configured 0.20 m moves the correct/incorrect threshold D0/2.
        epochs, batch_size, lr: optimisation.
    """

    frame_dim: int = 16
    frame_heads: int = 2
    hourglass: list[int] = field(default_factory=lambda: [256, 128, 64, 128, 256])
    dropout: float = 0.1
    xi_scale: Any = "psi_std"
    units_per_metre: float = 1.0
    loss: str = "mse"
    unit_weight: float = 1.0
    torso_mean: float | None = None
    epochs: int = 20
    batch_size: int = 256
    lr: float = 1e-3


@dataclass
class DownstreamConfig:
    """Downstream models (Sec. 8): pose refinement MLP and activity LSTM.

    Attributes:
        refine_hidden: widths of the refinement MLP.
        refine_epochs: epochs of the refinement MLP.
        refine_dropout: dropout inside the refinement MLP (0: dropout on a residual regressor of
            coordinates mostly adds noise to its output).
        activity_window: poses per activity sample (5 frames, as in Sec. 8.2).
        activity_hidden, activity_layers: LSTM sizes.
        activity_epochs: epochs of the activity LSTM.
        activity_seeds: every activity LSTM is trained this many times with different seeds
            (``seed + 11 + 100 s``); evaluation reports seed 0's accuracy (the paper's single
            model) and the mean and standard deviation over the seeds, since the differences the
            descriptors make can be as small as the spread between seeds.
        dropout: dropout on the activity LSTM output.
        batch_size, lr: optimisation.
        n_classes: activity classes (MARS: 10 movements).
        standardize_descriptors: feed the descriptors to both models standardised per joint with
            their training mean and standard deviation, as the coordinates are (default). With
            kappa on metres most joints' kappa lies within a few hundredths of 1, and raw input
            (False, as before the ninth session) leaves that variation nearly unused.
    """

    refine_hidden: list[int] = field(default_factory=lambda: [256, 256])
    refine_epochs: int = 40
    refine_dropout: float = 0.0
    activity_window: int = 5
    activity_hidden: int = 64
    activity_layers: int = 1
    activity_epochs: int = 30
    activity_seeds: int = 5
    dropout: float = 0.2
    batch_size: int = 256
    lr: float = 1e-3
    n_classes: int = 10
    standardize_descriptors: bool = True


@dataclass
class MMJointsConfig:
    """Everything mmJoints needs to be built and trained.

    Attributes:
        name: preset name (informative).
        n_joints: joints of the black-box skeleton (MARS: 19).
        seed: seed of every random choice (weights, batches, subsets, EM initialisation).
        stage_seed: seed of the estimator stages only (surrogate, heads, Table 10 ablations,
            downstream models); ``None`` = ``seed``. It may differ from the core's seed, so several
            training replicates of the stages can share one core (``joints train --core``).
        threads: torch intra-op threads during training (1 is fastest for these sizes).
        max_train_windows: random subset of training windows (None = all).
        pose, signal, distribution, surrogate, heads, downstream: the stages.
    """

    name: str = "paper"
    n_joints: int = 19
    seed: int = 0
    stage_seed: int | None = None
    threads: int = 1
    max_train_windows: int | None = None
    pose: PoseConfig = field(default_factory=PoseConfig)
    signal: SignalConfig = field(default_factory=SignalConfig)
    distribution: DistributionConfig = field(default_factory=DistributionConfig)
    surrogate: SurrogateConfig = field(default_factory=SurrogateConfig)
    heads: HeadConfig = field(default_factory=HeadConfig)
    downstream: DownstreamConfig = field(default_factory=DownstreamConfig)

    @property
    def estimator_stage_seed(self) -> int:
        """The seed the estimator stages use: ``stage_seed``, or ``seed`` when it is None."""
        return self.seed if self.stage_seed is None else self.stage_seed

    # -- (de)serialisation -----------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON/YAML-friendly dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, base: "MMJointsConfig | None" = None) -> "MMJointsConfig":
        """Build from a (possibly partial) dict on top of ``base`` (default: the ``paper`` preset).

        Raises:
            ConfigError: unknown key at any level, or a value of the wrong kind.
        """
        cfg = dataclasses.replace(base) if base is not None else cls()
        cfg = _merge(cfg, d, "config")
        cfg.validate()
        return cfg

    def validate(self) -> None:
        """Check ranges and relations between values.

        Raises:
            ConfigError: the first problem found.
        """
        p, s, d, h = self.pose, self.signal, self.distribution, self.heads
        checks = [
            (self.n_joints >= 2, "n_joints must be >= 2"),
            (p.latent_dim >= 2, "pose.latent_dim (D_p) must be >= 2"),
            (p.max_clusters >= p.latent_dim, "pose.max_clusters must be >= pose.latent_dim (C >= D_p)"),
            (s.dim >= 2, "signal.dim (D_S) must be >= 2"),
            (s.window >= 1, "signal.window (K) must be >= 1"),
            (s.d_model % s.heads == 0, "signal.d_model must be divisible by signal.heads"),
            (d.max_components >= 1, "distribution.max_components must be >= 1"),
            (1 <= d.neighbours_min <= d.neighbours_max, "need 1 <= neighbours_min <= neighbours_max"),
            (d.d_model % d.heads == 0, "distribution.d_model must be divisible by distribution.heads"),
            (self.surrogate.d_model % self.surrogate.heads == 0, "surrogate.d_model must be divisible by heads"),
            (h.frame_dim % h.frame_heads == 0, "heads.frame_dim must be divisible by heads.frame_heads"),
            (len(h.hourglass) >= 1, "heads.hourglass needs at least one width"),
            (h.units_per_metre > 0, "heads.units_per_metre must be > 0"),
            (h.loss in HEAD_LOSSES, f"heads.loss must be one of {', '.join(HEAD_LOSSES)}, got {h.loss!r}"),
            (h.unit_weight >= 0, f"heads.unit_weight must be >= 0, got {h.unit_weight}"),
            (h.torso_mean is None or (isinstance(h.torso_mean, (int, float)) and not isinstance(h.torso_mean, bool)
                                      and 0 < h.torso_mean < 3),
             f"heads.torso_mean must be None or a length in metres in (0, 3), got {h.torso_mean!r}"),
            (self.downstream.activity_window >= 1, "downstream.activity_window must be >= 1"),
            (self.downstream.activity_seeds >= 1, "downstream.activity_seeds must be >= 1"),
            (isinstance(self.downstream.standardize_descriptors, bool),
             f"downstream.standardize_descriptors must be true or false, got {self.downstream.standardize_descriptors!r}"),
            (self.threads >= 1, "threads must be >= 1"),
            (self.stage_seed is None or self.stage_seed >= 0, f"stage_seed must be None or >= 0, got {self.stage_seed}"),
        ]
        for ok, msg in checks:
            if not ok:
                raise ConfigError(msg)
        xs = h.xi_scale
        if not (xs == "psi_std" or (isinstance(xs, (int, float)) and not isinstance(xs, bool) and xs > 0)):
            raise ConfigError(f"heads.xi_scale must be 'psi_std' or a positive number, got {xs!r}")


def _merge(obj: Any, d: Mapping[str, Any], where: str) -> Any:
    if not isinstance(d, Mapping):
        raise ConfigError(f"{where} must be a mapping, got {type(d).__name__}")
    fields = {f.name: f for f in dataclasses.fields(obj)}
    unknown = sorted(set(d) - set(fields))
    if unknown:
        raise ConfigError(f"unknown key(s) in {where}: {', '.join(unknown)}; allowed: {', '.join(sorted(fields))}")
    updates = {}
    for key, value in d.items():
        current = getattr(obj, key)
        path = f"{where}.{key}"
        if dataclasses.is_dataclass(current):
            updates[key] = _merge(dataclasses.replace(current), value, path)
        else:
            updates[key] = _coerce(current, value, path, fields[key])
    return dataclasses.replace(obj, **updates)


def _coerce(current: Any, value: Any, path: str, f: dataclasses.Field) -> Any:
    if f.name == "xi_scale":
        return value
    if f.name in ("max_train_windows", "anchors_per_epoch"):
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{path} must be an integer or null, got {value!r}")
        return value
    if isinstance(current, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{path} must be true/false, got {value!r}")
        return value
    if isinstance(current, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{path} must be an integer, got {value!r}")
        return value
    if isinstance(current, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{path} must be a number, got {value!r}")
        return float(value)
    if isinstance(current, str):
        if not isinstance(value, str):
            raise ConfigError(f"{path} must be a string, got {value!r}")
        return value
    if isinstance(current, list):
        if not isinstance(value, (list, tuple)) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in value
        ):
            raise ConfigError(f"{path} must be a list of integers, got {value!r}")
        return list(value)
    return value


def _paper() -> MMJointsConfig:
    return MMJointsConfig(name="paper")


def _tiny() -> MMJointsConfig:
    return MMJointsConfig(
        name="tiny",
        pose=PoseConfig(latent_dim=4, hidden=[32, 16], max_clusters=6, cluster_subsample=400, cluster_pca=8, basis_members=4,
                        vae_epochs=25, opl_epochs=5, batch_size=64, lr=3e-3),
        signal=SignalConfig(dim=8, window=3, max_points=16, d_model=16, point_dim=8, heads=2, anchors_per_epoch=None, point_layers=1,
                            temporal_layers=1, positive_neighbours=4, epochs=3, batch_size=32, lr=3e-3),
        distribution=DistributionConfig(max_components=2, bic_poses=8, neighbours_max=8, neighbours_min=2,
                                        samples_per_component=4, em_iters=10, d_model=16, heads=2, layers=1,
                                        inducing=4, epochs=3, batch_size=64, lr=3e-3),
        surrogate=SurrogateConfig(d_model=16, heads=2, layers=1, hidden=32, epochs=3, batch_size=64, lr=3e-3),
        heads=HeadConfig(frame_dim=16, frame_heads=2, hourglass=[64, 32, 64], dropout=0.0, epochs=25,
                         batch_size=64, lr=3e-3),
        downstream=DownstreamConfig(refine_hidden=[64], refine_epochs=15, activity_window=3, activity_hidden=16,
                                    activity_epochs=15, activity_seeds=2, batch_size=64, lr=3e-3),
    )


#: Named presets.
PRESETS = {"paper": _paper, "tiny": _tiny}


def preset(name: str) -> MMJointsConfig:
    """A fresh copy of a named preset (``paper`` or ``tiny``)."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; available: {', '.join(sorted(PRESETS))}")
    cfg = PRESETS[name]()
    cfg.validate()
    return cfg


def load_config(source: str | os.PathLike | Mapping[str, Any] | None = None) -> MMJointsConfig:
    """Load a configuration: a preset name, a YAML file, a dict, or None (the ``paper`` preset).

    A YAML file or dict may name a base preset with the top-level key ``preset`` (default
    ``paper``); every other key overrides that preset. Unknown keys raise :class:`ConfigError`.
    """
    if source is None:
        return preset("paper")
    if isinstance(source, Mapping):
        data = dict(source)
    else:
        text = os.fspath(source)
        if text in PRESETS:
            return preset(text)
        if not os.path.isfile(text):
            raise ConfigError(f"{text!r} is neither a preset ({', '.join(PRESETS)}) nor a YAML file")
        import yaml

        with open(text, encoding="utf-8") as fh:
            data = yaml.safe_load(fh) or {}
        if not isinstance(data, dict):
            raise ConfigError(f"{text}: the YAML document must be a mapping")
    base = preset(str(data.pop("preset", "paper")))
    return MMJointsConfig.from_dict(data, base=base)
