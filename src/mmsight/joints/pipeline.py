"""Glue between MARS-format data, a black-box estimator and the mmJoints network.

* :class:`SampleSet` / :func:`build_samples` - one sample per radar frame ``t`` that ends a window
  inside its run: the ``K`` frames ``t-K+1..t`` of points for mmJoints, the black-box estimate of
  frame ``t`` (from the estimator's own window ending at ``t``), the ground truth when labelled.
* :func:`descriptor_targets` - the ground-truth descriptors of those samples (eq. 1-3).
* :func:`run_mmjoints` - batched, no-grad inference of the whole network.
* :class:`MMJointsBundle` - a trained model with everything it needs at inference (descriptor
  reference, the estimator, ablation variants, downstream models), saved as a directory holding
  ``model.safetensors`` (all tensors) and ``config.json`` (configuration, data-derived sizes,
  reference statistics, provenance), plus ``estimator.safetensors`` for torch estimators. Loading
  uses ``safetensors`` and ``json`` only: nothing is unpickled.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from mmsight.joints.descriptors import (
    DEFAULT_UNITS_PER_METRE,
    DescriptorReference,
    reliability_score,
    sensing_score,
    signal_strength,
)
from mmsight.joints.estimators.base import PoseEstimator, TorchPoseEstimator
from mmsight.joints.mars_data import SPLIT_NAMES, MarsFrames, WindowIndex
from mmsight.joints.model.config import MMJointsConfig
from mmsight.joints.model.mmjoints import MMJoints, build_descriptor_stage, build_surrogate

__all__ = [
    "SampleSet",
    "DescriptorTargets",
    "split_mask",
    "build_samples",
    "descriptor_targets",
    "xi_scale_value",
    "run_mmjoints",
    "MMJointsBundle",
    "CheckpointError",
    "CHECKPOINT_FORMAT",
]

CHECKPOINT_FORMAT = "mmsight.joints.mmjoints"
CHECKPOINT_VERSION = 1


# --------------------------------------------------------------------------------------------
# samples
# --------------------------------------------------------------------------------------------


@dataclass
class SampleSet:
    """Samples of one MARS-format recording set.

    Attributes:
        frames: the recordings.
        windows: ``int64 [N, L]`` frame indices, oldest first, ``L = max(K, estimator window)``;
            the sample's frame is ``windows[:, -1]``.
        k: mmJoints window ``K`` (its frames are ``windows[:, -k:]``).
        pred: black-box estimates ``float32 [N, J, 3]`` (m), or None without an estimator.
        max_points: points per frame after padding.
        n_dropped: frames of the selected split(s) that end no sample (run start / no label).
    """

    frames: MarsFrames
    windows: np.ndarray
    k: int
    pred: np.ndarray | None = None
    max_points: int = 64
    n_dropped: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.windows.shape[0])

    @property
    def targets(self) -> np.ndarray:
        """``int64 [N]`` the frame of each sample."""
        return self.windows[:, -1]

    @property
    def gt(self) -> np.ndarray:
        """``float32 [N, J, 3]`` ground-truth skeletons (NaN where unlabelled)."""
        return self.frames.joints[self.targets]

    @property
    def labelled(self) -> np.ndarray:
        """``bool [N]`` samples with a complete ground-truth skeleton."""
        return self.frames.valid[self.targets]

    @property
    def subject(self) -> np.ndarray:
        return self.frames.subject[self.targets]

    @property
    def movement(self) -> np.ndarray:
        return self.frames.movement[self.targets]

    @property
    def run(self) -> np.ndarray:
        return self.frames.run_id[self.targets]

    def window_points(self, rows: np.ndarray | slice) -> tuple[torch.Tensor, torch.Tensor]:
        """mmJoints windows: ``(float32 [b, K, M, 5], int64 [b, K])`` tensors."""
        padded, counts = self.frames.padded(self.max_points)
        idx = self.windows[rows][:, -self.k:]
        return torch.from_numpy(padded[idx]), torch.from_numpy(counts[idx])

    def subset(self, rows: np.ndarray) -> "SampleSet":
        """The samples ``rows`` (predictions follow)."""
        return SampleSet(self.frames, self.windows[rows], self.k, None if self.pred is None else self.pred[rows],
                         self.max_points, dict(self.n_dropped))


def split_mask(frames: MarsFrames, split: int | str | list[int] | None) -> np.ndarray:
    """``bool [F]`` frames of ``split`` (code, name such as ``"validate"``, list of codes, or
    None / ``"all"``)."""
    if split is None or split == "all":
        return np.ones(frames.n_frames, dtype=bool)
    if isinstance(split, str):
        codes = {v: k for k, v in SPLIT_NAMES.items()}
        if split not in codes:
            raise ValueError(f"unknown split {split!r}; use one of {sorted(codes)} or 'all'")
        split = codes[split]
    if isinstance(split, (int, np.integer)):
        return frames.split == int(split)
    return np.isin(frames.split, np.asarray(list(split)))


def build_samples(
    frames: MarsFrames,
    k: int,
    split: int | str | list[int] | None = None,
    *,
    estimator: PoseEstimator | None = None,
    require_target: bool = True,
    pad_start: bool = False,
    max_points: int = 64,
    max_samples: int | None = None,
    seed: int = 0,
    batch_size: int = 512,
) -> SampleSet:
    """Samples of ``split`` (see :class:`SampleSet`).

    Args:
        frames: MARS-format recordings.
        k: mmJoints window ``K``.
        split: split code/name/list, or None / ``"all"`` for every frame.
        estimator: the black box; its predictions fill ``pred`` (its window may differ from ``k``).
        require_target: drop frames without a complete ground-truth skeleton.
        pad_start: give every frame a sample, repeating a run's first frame to fill the windows of
            its first frames (for ``describe``); otherwise those frames are dropped.
        max_points: points per frame after padding (extra points: the first ``max_points`` kept).
        max_samples: keep a random subset of this many samples (seeded by ``seed``).
        batch_size: estimator batch size.
    """
    length = max(int(k), estimator.window if estimator is not None else 1)
    cand = np.flatnonzero(split_mask(frames, split))
    rid = frames.run_id
    offs = np.arange(-(length - 1), 1)
    win = cand[:, None] + offs[None, :]
    if pad_start:
        # clamp every index to the first frame of its run (runs are contiguous blocks)
        starts = np.zeros(frames.n_frames, dtype=np.int64)
        change = np.flatnonzero(np.r_[True, rid[1:] != rid[:-1]])
        run_start = change[np.searchsorted(change, np.arange(frames.n_frames), side="right") - 1]
        starts[:] = run_start
        win = np.maximum(win, starts[cand][:, None])
        keep = np.ones(len(cand), dtype=bool)
        n_short = 0
    else:
        ok = win[:, 0] >= 0
        ok[ok] = rid[win[ok, 0]] == rid[cand[ok]]
        keep = ok
        n_short = int((~ok).sum())
    n_nan = 0
    if require_target:
        lab = frames.valid[cand]
        n_nan = int((keep & ~lab).sum())
        keep &= lab
    win = win[keep].astype(np.int64)
    if max_samples is not None and len(win) > max_samples:
        rows = np.sort(np.random.default_rng(seed).choice(len(win), max_samples, replace=False))
        win = win[rows]
    samples = SampleSet(frames, win, int(k), None, int(max_points),
                        {"candidates": int(len(cand)), "run_start": n_short, "no_label": n_nan})
    if estimator is not None:
        samples.pred = predict_estimator(estimator, frames, win[:, -estimator.window:], batch_size)
    return samples


def predict_estimator(est: PoseEstimator, frames: MarsFrames, windows: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """Black-box predictions ``float32 [N, J, 3]`` for frame windows ``[N, est.window]``."""
    from mmsight.joints.estimators.train import predict_windows

    if len(windows) == 0:
        return np.zeros((0, est.n_joints, 3), np.float32)
    idx = WindowIndex(np.ascontiguousarray(windows), int(windows.shape[1]), len(windows), 0, 0)
    return np.asarray(predict_windows(est, frames, idx, batch_size), dtype=np.float32)


# --------------------------------------------------------------------------------------------
# descriptor targets
# --------------------------------------------------------------------------------------------


@dataclass
class DescriptorTargets:
    """Ground-truth descriptors of labelled samples (all ``float32 [N, J]``).

    Attributes:
        psi: signal strength at the ground-truth joints (intensity / m^2).
        xi: sensing score with the configured scale; ``xi_unit``: with scale 1 (eq. 1 as written).
        kappa: reliability score of the black-box estimate (eq. 2-3); NaN without an estimate.
    """

    psi: np.ndarray
    xi: np.ndarray
    xi_unit: np.ndarray
    kappa: np.ndarray


def xi_scale_value(scale: Any, reference: DescriptorReference) -> float:
    """The numeric eq. 1 scale: ``"psi_std"`` -> ``reference.psi_std``; numbers pass through."""
    if scale == "psi_std":
        return float(reference.psi_std)
    return float(scale)


def frame_signal_strength(frames: MarsFrames, frame_idx: np.ndarray, joints: np.ndarray) -> np.ndarray:
    """``psi [N, J]`` of ``joints [N, J, 3]`` against all points of frames ``frame_idx [N]``."""
    off = frames.frame_offsets
    counts = off[frame_idx + 1] - off[frame_idx]
    if len(frame_idx) == 0:
        return np.zeros((0, joints.shape[1]))
    take = np.concatenate([np.arange(off[f], off[f + 1]) for f in frame_idx])
    sub_off = np.zeros(len(frame_idx) + 1, dtype=np.int64)
    np.cumsum(counts, out=sub_off[1:])
    return signal_strength(joints, frames.points[take], frame_offsets=sub_off)


def descriptor_targets(samples: SampleSet, reference: DescriptorReference, xi_scale: float,
                       units_per_metre: float = DEFAULT_UNITS_PER_METRE, pred: np.ndarray | None = None) -> DescriptorTargets:
    """Ground-truth descriptors of every sample (the samples must be labelled).

    ``psi`` is evaluated at the ground-truth joints with all points of the sample's frame;
    ``kappa`` compares ``pred`` (default ``samples.pred``) with the ground truth.
    """
    gt = samples.gt.astype(np.float64)
    if not np.isfinite(gt).all():
        raise ValueError("descriptor targets need labelled samples (build them with require_target=True)")
    psi = frame_signal_strength(samples.frames, samples.targets, gt)
    xi = sensing_score(psi, reference.psi_mean, scale=xi_scale)
    xi_unit = sensing_score(psi, reference.psi_mean, scale=1.0)
    pred = samples.pred if pred is None else pred
    if pred is None:
        kappa = np.full(psi.shape, np.nan)
    else:
        kappa = reliability_score(pred.astype(np.float64), gt, reference.torso_mean, units_per_metre=units_per_metre)
    return DescriptorTargets(psi.astype(np.float32), xi.astype(np.float32), xi_unit.astype(np.float32),
                             kappa.astype(np.float32))


# --------------------------------------------------------------------------------------------
# inference
# --------------------------------------------------------------------------------------------


@torch.no_grad()
def run_mmjoints(model: MMJoints, samples: SampleSet, pred: np.ndarray | None = None, batch_size: int = 256,
                 keep: tuple[str, ...] = ("xi", "kappa", "xi_unit", "p_pred", "p_refine", "surrogate_pose", "mu_s",
                                          "logvar_s", "div_bound")) -> dict[str, np.ndarray]:
    """Run the whole network on every sample (eval mode, no grad).

    Args:
        model: the network.
        samples: samples with black-box predictions (or pass ``pred [N, J, 3]``).
        keep: output fields to return (names of :class:`~mmsight.joints.model.mmjoints.MMJointsOutput`).

    Returns:
        ``{field: float32 array with N rows}``.
    """
    pred = samples.pred if pred is None else pred
    if pred is None:
        raise ValueError("mmJoints needs the black-box estimate of every sample")
    was = model.training
    model.eval()
    out: dict[str, list[np.ndarray]] = {k: [] for k in keep}
    try:
        for s in range(0, len(samples), batch_size):
            rows = np.arange(s, min(s + batch_size, len(samples)))
            pts, cnt = samples.window_points(rows)
            o = model(pts, cnt, torch.from_numpy(np.ascontiguousarray(pred[rows], dtype=np.float32)))
            for k in keep:
                out[k].append(getattr(o, k).float().numpy())
    finally:
        model.train(was)
    return {k: (np.concatenate(v, axis=0) if v else np.zeros((0,), np.float32)) for k, v in out.items()}


# --------------------------------------------------------------------------------------------
# checkpoint bundle
# --------------------------------------------------------------------------------------------


class CheckpointError(ValueError):
    """A checkpoint directory is missing files, corrupt, or not an mmJoints checkpoint."""


#: Builders of the extra modules a bundle can hold, by kind: ``fn(config, **kwargs) -> nn.Module``.
_EXTRA_BUILDERS: dict[str, Callable[..., nn.Module]] = {}


def register_extra(kind: str) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Register a builder for modules stored beside the network (ablations, downstream models)."""

    def deco(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        _EXTRA_BUILDERS[kind] = fn
        return fn

    return deco


@register_extra("surrogate")
def _build_surrogate_extra(config: MMJointsConfig, **kw: Any) -> nn.Module:
    return build_surrogate(config, **kw)


@register_extra("descriptor")
def _build_descriptor_extra(config: MMJointsConfig, **kw: Any) -> nn.Module:
    return build_descriptor_stage(config, **kw)


def _ensure_extras() -> None:
    import mmsight.joints.downstream  # noqa: F401  (registers the downstream builders)


def _digest(tensors: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256()
    for k in sorted(tensors):
        t = tensors[k].contiguous()
        h.update(k.encode())
        h.update(str(t.dtype).encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


@dataclass
class MMJointsBundle:
    """A trained mmJoints model with what it needs at inference and evaluation.

    Attributes:
        model: the network.
        reference: training statistics of eq. 1-3 (``psi_bar``, ``D0``, ``psi_std``).
        xi_scale: the numeric eq. 1 scale of the primary sensing score.
        estimator: the black box the model was trained for (None if it could not be stored).
        estimator_info: ``name``, ``window`` and, for a stored estimator, ``file``.
        extras: ablation variants and downstream models, by name.
        extra_specs: ``{name: {"kind": ..., "kwargs": {...}}}`` to rebuild ``extras``.
        meta: JSON-serialisable provenance (training summary, data-derived sizes, basis, ...).
        path: where it was loaded from / saved to.
    """

    model: MMJoints
    reference: DescriptorReference
    xi_scale: float
    estimator: PoseEstimator | None = None
    estimator_info: dict[str, Any] = field(default_factory=dict)
    extras: dict[str, nn.Module] = field(default_factory=dict)
    extra_specs: dict[str, dict[str, Any]] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    path: str | None = None

    @property
    def config(self) -> MMJointsConfig:
        return self.model.config

    @property
    def units_per_metre(self) -> float:
        return float(self.config.heads.units_per_metre)

    @property
    def descriptor_reference(self) -> DescriptorReference:
        """The reference the descriptor heads learned: :attr:`reference` (the training split's) with
        ``D0`` replaced by ``heads.torso_mean`` when that is set. PCK keeps the training torso."""
        t = self.config.heads.torso_mean
        return self.reference if t is None else dataclasses.replace(self.reference, torso_mean=float(t))

    def add_extra(self, name: str, kind: str, module: nn.Module, **kwargs: Any) -> None:
        """Attach an extra module (``kind`` registered with :func:`register_extra`)."""
        json.dumps(kwargs)
        self.extras[name] = module
        self.extra_specs[name] = {"kind": kind, "kwargs": kwargs}

    def save(self, directory: str | os.PathLike, *, dtype: str = "float32", include_extras: bool | list[str] = True,
             estimator_dtype: str = "float32") -> str:
        """Write ``model.safetensors``, ``config.json`` (and ``estimator.safetensors``) to ``directory``.

        Args:
            dtype: ``"float32"`` or ``"float16"`` for the floating tensors (float16 halves the size;
                they are cast back to float32 on load).
            include_extras: True (all), False (none) or a list of extra names to store.
            estimator_dtype: dtype of the stored estimator weights.
        """
        from safetensors.torch import save_file

        if dtype not in ("float32", "float16"):
            raise ValueError("dtype must be 'float32' or 'float16'")
        directory = os.fspath(directory)
        os.makedirs(directory, exist_ok=True)
        names = list(self.extras) if include_extras is True else ([] if include_extras is False else list(include_extras))
        tensors: dict[str, torch.Tensor] = {}

        def put(prefix: str, module: nn.Module) -> None:
            for k, v in module.state_dict().items():
                t = v.detach().cpu().contiguous().clone()
                if dtype == "float16" and t.is_floating_point():
                    t = t.to(torch.float16)
                tensors[f"{prefix}.{k}"] = t

        put("mmjoints", self.model)
        for n in names:
            put(f"extra.{n}", self.extras[n])
        est_info = dict(self.estimator_info)
        if isinstance(self.estimator, TorchPoseEstimator):
            from mmsight.joints.estimators.base import save_estimator

            save_estimator(self.estimator, os.path.join(directory, "estimator.safetensors"), dtype=estimator_dtype)
            est_info["file"] = "estimator.safetensors"
        meta = {
            "format": CHECKPOINT_FORMAT,
            "format_version": CHECKPOINT_VERSION,
            "config": self.config.to_dict(),
            "derived": {"n_components": self.model.n_components, "n_clusters": self.model.n_clusters},
            "reference": self.reference.to_dict(),
            "xi_scale": self.xi_scale,
            "estimator": est_info,
            "extras": {n: self.extra_specs[n] for n in names},
            "dtype": dtype,
            "sha256": _digest(tensors),
            "meta": self.meta,
        }
        tmp = os.path.join(directory, "model.safetensors.tmp")
        save_file(tensors, tmp, metadata={"format": CHECKPOINT_FORMAT})
        os.replace(tmp, os.path.join(directory, "model.safetensors"))
        tmpj = os.path.join(directory, "config.json.tmp")
        with open(tmpj, "w", encoding="utf-8") as fh:
            json.dump(meta, fh, indent=1, sort_keys=True, default=_json_default)
        os.replace(tmpj, os.path.join(directory, "config.json"))
        self.path = directory
        return directory

    @classmethod
    def load(cls, directory: str | os.PathLike, *, load_estimator: bool = True) -> "MMJointsBundle":
        """Rebuild a bundle written by :meth:`save` (safetensors + JSON only; nothing is unpickled).

        Raises:
            FileNotFoundError: the directory or one of its files is missing.
            CheckpointError: bad format/version, checksum mismatch, or weights that do not fit.
        """
        from safetensors import safe_open

        directory = os.fspath(directory)
        cfg_path = os.path.join(directory, "config.json")
        w_path = os.path.join(directory, "model.safetensors")
        for p in (cfg_path, w_path):
            if not os.path.isfile(p):
                raise FileNotFoundError(f"mmJoints checkpoint file not found: {p}")
        try:
            with open(cfg_path, encoding="utf-8") as fh:
                meta = json.load(fh)
        except json.JSONDecodeError as exc:
            raise CheckpointError(f"{cfg_path}: not valid JSON ({exc})") from exc
        if meta.get("format") != CHECKPOINT_FORMAT:
            raise CheckpointError(f"{directory}: not an mmJoints checkpoint (format={meta.get('format')!r})")
        if meta.get("format_version") != CHECKPOINT_VERSION:
            raise CheckpointError(f"{directory}: unsupported checkpoint version {meta.get('format_version')!r}")
        try:
            with safe_open(w_path, framework="pt") as fh:
                tensors = {k: fh.get_tensor(k) for k in fh.keys()}
        except Exception as exc:  # safetensors raises its own error types
            raise CheckpointError(f"{w_path}: unreadable weights ({type(exc).__name__}: {exc})") from exc
        if meta.get("sha256") != _digest(tensors):
            raise CheckpointError(f"{w_path}: checksum mismatch, the weights are corrupt")
        stored = meta["config"]
        if "standardize_descriptors" not in stored.get("downstream", {}):  # written before the option:
            stored = {**stored, "downstream": {**stored.get("downstream", {}), "standardize_descriptors": False}}
        config = MMJointsConfig.from_dict(stored)  # ... its downstream models were trained on raw descriptors
        der = meta["derived"]
        model = MMJoints(config, der["n_components"], der["n_clusters"])
        # a core-only checkpoint has untrained surrogate and heads: they may come from another code version
        lenient = ("mmjoints.surrogate.", "mmjoints.descriptor.") if meta.get("meta", {}).get("core_only") else ()
        _load_prefixed(model, tensors, "mmjoints", w_path, lenient)
        model.eval()
        reference = DescriptorReference.from_dict(meta["reference"])
        _ensure_extras()
        extras, specs = {}, {}
        for name, spec in meta.get("extras", {}).items():
            builder = _EXTRA_BUILDERS.get(spec["kind"])
            if builder is None:
                raise CheckpointError(f"{directory}: unknown extra module kind {spec['kind']!r}")
            mod = builder(config, **spec.get("kwargs", {}))
            _load_prefixed(mod, tensors, f"extra.{name}", w_path)
            mod.eval()
            extras[name], specs[name] = mod, spec
        est_info = dict(meta.get("estimator", {}))
        estimator = None
        if load_estimator and est_info.get("file"):
            from mmsight.joints.estimators.base import load_estimator as _load_est

            estimator = _load_est(os.path.join(directory, est_info["file"]))
        return cls(model=model, reference=reference, xi_scale=float(meta["xi_scale"]), estimator=estimator,
                   estimator_info=est_info, extras=extras, extra_specs=specs, meta=meta.get("meta", {}),
                   path=directory)

    def size_bytes(self) -> int:
        """Bytes of the files of the saved checkpoint (0 if never saved)."""
        if not self.path:
            return 0
        return sum(os.path.getsize(os.path.join(self.path, f)) for f in os.listdir(self.path)
                   if os.path.isfile(os.path.join(self.path, f)))


def _load_prefixed(module: nn.Module, tensors: dict[str, torch.Tensor], prefix: str, where: str,
                   lenient: tuple[str, ...] = ()) -> None:
    sd = module.state_dict()
    n = len(prefix) + 1
    if lenient:  # drop stored and expected entries under these prefixes (left as initialised)
        tensors = {k: v for k, v in tensors.items() if not k.startswith(lenient)}
        sd_keep = {k: v for k, v in sd.items() if not (prefix + "." + k).startswith(lenient)}
        sub = {k[n:]: v for k, v in tensors.items() if k.startswith(prefix + ".")}
        fixed = {k: (v.to(sd[k].dtype) if k in sd and v.is_floating_point() else v) for k, v in sub.items()}
        missing = set(sd_keep) - set(fixed)
        unexpected = set(fixed) - set(sd)
        if missing or unexpected:
            raise CheckpointError(f"{where}: weights under {prefix!r} do not fit: missing {sorted(missing)[:5]}, "
                                  f"unexpected {sorted(unexpected)[:5]}")
        module.load_state_dict(fixed, strict=False)
        return
    sub = {k[n:]: v for k, v in tensors.items() if k.startswith(prefix + ".")}
    fixed = {k: (v.to(sd[k].dtype) if k in sd and v.is_floating_point() else v) for k, v in sub.items()}
    try:
        module.load_state_dict(fixed, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"{where}: weights under {prefix!r} do not fit the module: {exc}") from exc


def _json_default(o: Any) -> Any:
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
