"""The black-box pose-estimator contract used by mmJoints, a registry, and checkpoints.

mmJoints only ever calls :meth:`PoseEstimator.predict`: given ``B`` windows of ``window``
consecutive radar frames it returns ``B`` skeletons of the 19 MARS joints, in metres, in the radar
frame. Anything that honours that contract can be analysed, including a remote service wrapped in
:class:`CallableEstimator`.

Input format (``WindowPoints``): a sequence of ``B`` windows, each a sequence of exactly
``window`` frames (oldest first), each frame a ``float32 [N_i, 5]`` array of points
(x, y, z in metres in the radar frame, doppler in m/s, intensity). ``N_i`` may differ between
frames and may be 0. The skeleton predicted for a window is the one of its *last* frame.

Checkpoints store the weights plus the estimator name and its JSON config, so
:func:`load_estimator` rebuilds the estimator without unpickling anything: safetensors when
installed (``.safetensors``), otherwise ``torch.save`` of plain tensors and strings, read back with
``torch.load(weights_only=True)``. A SHA-256 of the tensor bytes is stored and checked on load.
"""

from __future__ import annotations

import abc
import hashlib
import importlib
import json
import os
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn

from mmsight.joints.mars_data import MAX_POINTS, pad_point_list

__all__ = [
    "N_JOINTS",
    "WindowPoints",
    "PoseEstimator",
    "CallableEstimator",
    "TorchPoseEstimator",
    "InputNorm",
    "CheckpointError",
    "register_estimator",
    "available_estimators",
    "create_estimator",
    "save_estimator",
    "load_estimator",
    "check_window_points",
    "check_joints_output",
    "masked_max",
    "masked_mean",
]

#: Joints every estimator returns (the MARS 19-joint set, see ``mars_data.MARS19_NAMES``).
N_JOINTS = 19
#: ``B`` windows x ``window`` frames x ``float32 [N_i, 5]`` points.
WindowPoints = Sequence[Sequence[np.ndarray]]

_CKPT_FORMAT = "mmsight.joints.estimator"
_CKPT_VERSION = "1"


# --------------------------------------------------------------------------------------------
# Contract
# --------------------------------------------------------------------------------------------


def check_window_points(window_points: WindowPoints, window: int) -> list[list[np.ndarray]]:
    """Validate ``B`` windows of ``window`` frames of ``[N_i, 5]`` points; return float32 arrays.

    Raises:
        ValueError: wrong number of frames in a window, or a frame that is not ``[N, 5]``.
    """
    if isinstance(window_points, np.ndarray) and window_points.ndim == 3:
        raise ValueError(
            "window_points must be a batch of windows ([B][K][N, 5]); got a single [K, N, 5] array — wrap it in a list"
        )
    out: list[list[np.ndarray]] = []
    for b, win in enumerate(window_points):
        if len(win) != window:
            raise ValueError(f"window {b} has {len(win)} frames; this estimator needs exactly {window}")
        frames = []
        for k, f in enumerate(win):
            a = np.asarray(f, dtype=np.float32)
            if a.size == 0:
                a = a.reshape(0, 5)
            if a.ndim != 2 or a.shape[1] != 5:
                raise ValueError(f"window {b}, frame {k}: points must be [N, 5], got {a.shape}")
            frames.append(a)
        out.append(frames)
    return out


def check_joints_output(out: Any, batch: int, n_joints: int = N_JOINTS) -> np.ndarray:
    """Coerce an estimator's output to ``float32 [B, n_joints, 3]`` or raise ``ValueError``."""
    a = np.asarray(out, dtype=np.float32)
    if a.shape != (batch, n_joints, 3):
        raise ValueError(f"estimator returned shape {a.shape}, expected ({batch}, {n_joints}, 3)")
    return a


class PoseEstimator(abc.ABC):
    """A black-box mmWave pose estimator.

    Attributes:
        name: registry name (or a free label for wrapped callables).
        window: number of consecutive frames one prediction needs (1 for MARS, 5 for P4T,
            10 for mmMesh).
        n_joints: joints returned (19, the MARS set).
    """

    name: str = "estimator"
    window: int = 1
    n_joints: int = N_JOINTS

    @abc.abstractmethod
    def predict(self, window_points: WindowPoints) -> np.ndarray:
        """Skeletons for ``B`` windows: ``float32 [B, 19, 3]`` (m, radar frame).

        Args:
            window_points: ``B`` windows, each exactly ``self.window`` frames of ``[N_i, 5]``
                points (x, y, z, doppler, intensity), oldest first.
        """

    def __call__(self, window_points: WindowPoints) -> np.ndarray:
        return self.predict(window_points)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, window={self.window})"


class CallableEstimator(PoseEstimator):
    """Wrap any callable ``fn(window_points) -> array-like [B, 19, 3]`` as a :class:`PoseEstimator`.

    The input is validated before the call and the output after it, so a faulty remote service
    fails loudly instead of feeding mmJoints garbage shapes.
    """

    def __init__(self, fn: Callable[[list[list[np.ndarray]]], Any], window: int, name: str = "callable",
                 n_joints: int = N_JOINTS) -> None:
        if not callable(fn):
            raise TypeError("fn must be callable")
        if int(window) < 1:
            raise ValueError(f"window must be >= 1, got {window}")
        self.fn = fn
        self.window = int(window)
        self.name = name
        self.n_joints = int(n_joints)

    def predict(self, window_points: WindowPoints) -> np.ndarray:
        wp = check_window_points(window_points, self.window)
        if not wp:
            return np.zeros((0, self.n_joints, 3), np.float32)
        return check_joints_output(self.fn(wp), len(wp), self.n_joints)


# --------------------------------------------------------------------------------------------
# Torch building blocks
# --------------------------------------------------------------------------------------------


class InputNorm(nn.Module):
    """Per-channel point normalisation ``(p - mean) / std`` on valid points; padding stays zero.

    ``mean``/``std`` (``[5]``) are buffers set from the training points by
    :meth:`TorchPoseEstimator.prepare` and saved with the weights. Identity until then.
    """

    def __init__(self, channels: int = 5) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(channels))
        self.register_buffer("std", torch.ones(channels))

    def forward(self, pts: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """``pts [..., M, C]``, ``valid bool [..., M]`` -> normalised ``[..., M, C]``."""
        return (pts - self.mean) / self.std * valid.unsqueeze(-1).to(pts.dtype)


def masked_max(x: torch.Tensor, valid: torch.Tensor, dim: int) -> torch.Tensor:
    """Max of ``x`` over ``dim`` using only entries where ``valid`` (broadcast); 0 if none."""
    v = valid.unsqueeze(-1) if valid.dim() < x.dim() else valid
    neg = torch.finfo(x.dtype).min
    m = x.masked_fill(~v, neg).amax(dim=dim)
    anyv = v.any(dim=dim)
    return torch.where(anyv, m, torch.zeros_like(m))


def masked_mean(x: torch.Tensor, valid: torch.Tensor, dim: int) -> torch.Tensor:
    """Mean of ``x`` over ``dim`` using only entries where ``valid`` (broadcast); 0 if none."""
    v = (valid.unsqueeze(-1) if valid.dim() < x.dim() else valid).to(x.dtype)
    return (x * v).sum(dim=dim) / v.sum(dim=dim).clamp_min(1.0)


class TorchPoseEstimator(PoseEstimator):
    """A :class:`PoseEstimator` backed by an ``nn.Module``.

    The module's ``forward(pts, counts)`` takes zero-padded windows ``pts float32 [B, K, M, 5]``
    and point counts ``counts int64 [B, K]`` and returns joints ``[B, 19, 3]`` (m). It must also
    provide ``set_output_offset(pose [19, 3])`` (initialise the output so an untrained model
    starts at the given pose); every :class:`InputNorm` inside it gets the training point
    statistics from :meth:`prepare`.

    Attributes:
        model: the network.
        config: JSON-serialisable constructor arguments (incl. ``seed``); with ``name`` they
            rebuild the estimator through :func:`create_estimator`.
        trainable: False for estimators that must stay untrained (M3).
        loss_joints: indices (into the 19 joints) the training loss uses; None = all.
        train_defaults: optimiser settings :func:`~mmsight.joints.estimators.train.train_estimator`
            uses unless told otherwise.
    """

    def __init__(
        self,
        name: str,
        model: nn.Module,
        window: int,
        config: dict[str, Any],
        *,
        max_points: int = MAX_POINTS,
        trainable: bool = True,
        loss_joints: Sequence[int] | None = None,
        train_defaults: dict[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.model = model
        self.window = int(window)
        self.config = dict(config)
        json.dumps(self.config)  # must be JSON-serialisable
        self.max_points = int(max_points)
        self.trainable = bool(trainable)
        self.loss_joints = None if loss_joints is None else [int(j) for j in loss_joints]
        self.train_defaults = dict(train_defaults or {})
        self.model.eval()

    # -- inference ---------------------------------------------------------------------------

    def forward_padded(self, pts: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
        """Differentiable forward: ``[B, K, M, 5]``, ``[B, K]`` -> ``[B, 19, 3]``."""
        return self.model(pts, counts)

    @torch.no_grad()
    def predict_padded(self, pts: np.ndarray, counts: np.ndarray, batch_size: int = 1024) -> np.ndarray:
        """Eval-mode prediction on padded windows ``[B, K, M, 5]`` + counts ``[B, K]`` -> ``[B, 19, 3]``."""
        pts = np.asarray(pts, dtype=np.float32)
        counts = np.asarray(counts, dtype=np.int64)
        if pts.ndim != 4 or pts.shape[1] != self.window or pts.shape[3] != 5:
            raise ValueError(f"expected padded windows [B, {self.window}, M, 5], got {pts.shape}")
        was_training = self.model.training
        self.model.eval()
        try:
            outs = []
            for s in range(0, pts.shape[0], batch_size):
                p = torch.from_numpy(pts[s : s + batch_size])
                c = torch.from_numpy(counts[s : s + batch_size])
                outs.append(self.model(p, c).float().numpy())
        finally:
            self.model.train(was_training)
        if not outs:
            return np.zeros((0, self.n_joints, 3), np.float32)
        return check_joints_output(np.concatenate(outs, axis=0), pts.shape[0], self.n_joints)

    def predict(self, window_points: WindowPoints) -> np.ndarray:
        wp = check_window_points(window_points, self.window)
        if not wp:
            return np.zeros((0, self.n_joints, 3), np.float32)
        flat = [f for win in wp for f in win]
        padded, counts = pad_point_list(flat, self.max_points, "truncate")
        b = len(wp)
        return self.predict_padded(padded.reshape(b, self.window, self.max_points, 5), counts.reshape(b, self.window))

    # -- preparation from training statistics -------------------------------------------------

    def prepare(self, mean_pose: np.ndarray | None = None, point_mean: np.ndarray | None = None,
                point_std: np.ndarray | None = None) -> None:
        """Set data statistics before training: output offset (``[19, 3]`` m) and input normalisation."""
        with torch.no_grad():
            if mean_pose is not None:
                mp = np.asarray(mean_pose, dtype=np.float32)
                if mp.shape != (self.n_joints, 3):
                    raise ValueError(f"mean_pose must be [{self.n_joints}, 3], got {mp.shape}")
                self.model.set_output_offset(torch.from_numpy(mp))
            for norm in self.model.modules():
                if isinstance(norm, InputNorm):
                    if point_mean is not None:
                        norm.mean.copy_(torch.as_tensor(np.asarray(point_mean, np.float32)))
                    if point_std is not None:
                        norm.std.copy_(torch.as_tensor(np.maximum(np.asarray(point_std, np.float32), 1e-6)))

    def num_parameters(self) -> int:
        """Number of trainable parameters."""
        return sum(p.numel() for p in self.model.parameters())


# --------------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------------

_REGISTRY: dict[str, Callable[..., TorchPoseEstimator]] = {}


def register_estimator(name: str) -> Callable[[Callable[..., TorchPoseEstimator]], Callable[..., TorchPoseEstimator]]:
    """Decorator registering a builder ``fn(**cfg) -> TorchPoseEstimator`` under ``name``."""

    def deco(fn: Callable[..., TorchPoseEstimator]) -> Callable[..., TorchPoseEstimator]:
        if name in _REGISTRY and _REGISTRY[name] is not fn:
            raise ValueError(f"estimator {name!r} is already registered")
        _REGISTRY[name] = fn
        return fn

    return deco


def _ensure_builtin() -> None:
    importlib.import_module("mmsight.joints.estimators")


def available_estimators() -> list[str]:
    """Registered estimator names (built-ins: mars_cnn, p4t, mmmesh, m1_upper, m2_lower, m3_random)."""
    _ensure_builtin()
    return sorted(_REGISTRY)


def create_estimator(name: str, **cfg: Any) -> TorchPoseEstimator:
    """Build a registered estimator with fresh weights.

    Args:
        name: one of :func:`available_estimators`.
        **cfg: builder options (all builders accept ``seed``, the weight-initialisation seed).
    """
    _ensure_builtin()
    if name not in _REGISTRY:
        raise KeyError(f"unknown estimator {name!r}; available: {sorted(_REGISTRY)}")
    return _REGISTRY[name](**cfg)


def build_seeded(seed: int, fn: Callable[[], nn.Module]) -> nn.Module:
    """Run ``fn`` (a module constructor) under ``torch.manual_seed(seed)`` without disturbing the global RNG."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        return fn()


# --------------------------------------------------------------------------------------------
# Checkpoints
# --------------------------------------------------------------------------------------------


class CheckpointError(ValueError):
    """A checkpoint file is unreadable, corrupt, or does not describe an mmsight estimator."""


def _digest(tensors: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256()
    for k in sorted(tensors):
        t = tensors[k].contiguous()
        h.update(k.encode())
        h.update(str(t.dtype).encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def _have_safetensors() -> bool:
    try:
        import safetensors.torch  # noqa: F401
    except ImportError:
        return False
    return True


def save_estimator(
    est: TorchPoseEstimator,
    path: str | os.PathLike,
    *,
    extra: dict[str, Any] | None = None,
    dtype: str = "float32",
    fmt: str = "auto",
) -> str:
    """Save weights + name + config (+ optional JSON ``extra``, e.g. training metrics).

    Args:
        est: the estimator.
        path: destination; the extension is not changed.
        extra: JSON-serialisable provenance stored beside the config.
        dtype: ``"float32"`` or ``"float16"`` (halves the file; floating tensors are cast back
            to float32 on load).
        fmt: ``"safetensors"``, ``"torch"`` or ``"auto"`` (safetensors when installed).

    Returns:
        The path written.
    """
    path = os.fspath(path)
    if dtype not in ("float32", "float16"):
        raise ValueError("dtype must be 'float32' or 'float16'")
    tensors = {}
    for k, v in est.model.state_dict().items():
        t = v.detach().cpu().contiguous().clone()
        if dtype == "float16" and t.is_floating_point():
            t = t.to(torch.float16)
        tensors[k] = t
    meta = {
        "format": _CKPT_FORMAT,
        "format_version": _CKPT_VERSION,
        "name": est.name,
        "config": json.dumps(est.config, sort_keys=True),
        "extra": json.dumps(extra or {}, sort_keys=True),
        "sha256": _digest(tensors),
    }
    if fmt == "auto":
        fmt = "safetensors" if _have_safetensors() else "torch"
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    if fmt == "safetensors":
        from safetensors.torch import save_file

        save_file(tensors, tmp, metadata=meta)
    elif fmt == "torch":
        torch.save({**meta, "state_dict": tensors}, tmp)
    else:
        raise ValueError(f"fmt must be 'safetensors', 'torch' or 'auto', got {fmt!r}")
    os.replace(tmp, path)  # atomic: never a half-written checkpoint under the final name
    return path


def read_checkpoint(path: str | os.PathLike) -> tuple[dict[str, str], dict[str, torch.Tensor]]:
    """Read ``(metadata, tensors)`` from a checkpoint, verifying format and checksum."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"checkpoint not found: {path}")
    with open(path, "rb") as fh:
        head = fh.read(16)
    try:
        if head[:2] == b"PK":  # torch.save zip container
            obj = torch.load(path, map_location="cpu", weights_only=True)
            if not isinstance(obj, dict) or "state_dict" not in obj:
                raise CheckpointError(f"{path}: not an mmsight estimator checkpoint")
            tensors = dict(obj["state_dict"])
            meta = {k: v for k, v in obj.items() if k != "state_dict"}
        else:
            if not _have_safetensors():
                raise CheckpointError(f"{path}: looks like safetensors, but safetensors is not installed")
            from safetensors import safe_open

            with safe_open(path, framework="pt") as fh:
                meta = dict(fh.metadata() or {})
                tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    except CheckpointError:
        raise
    except Exception as exc:  # safetensors / zip / unpickling-restriction errors
        raise CheckpointError(f"{path}: corrupt or unreadable checkpoint ({type(exc).__name__}: {exc})") from exc
    if meta.get("format") != _CKPT_FORMAT:
        raise CheckpointError(f"{path}: not an mmsight estimator checkpoint (format={meta.get('format')!r})")
    if meta.get("format_version") != _CKPT_VERSION:
        raise CheckpointError(f"{path}: unsupported checkpoint version {meta.get('format_version')!r}")
    if meta.get("sha256") != _digest(tensors):
        raise CheckpointError(f"{path}: checksum mismatch — the weights are corrupt")
    return meta, tensors


def load_estimator(path: str | os.PathLike) -> TorchPoseEstimator:
    """Rebuild an estimator saved by :func:`save_estimator` (no arbitrary unpickling).

    Raises:
        CheckpointError: corrupt file, checksum mismatch, unknown estimator, or weights that do
            not fit the rebuilt model.
    """
    meta, tensors = read_checkpoint(path)
    try:
        config = json.loads(meta["config"])
        name = meta["name"]
    except (KeyError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{os.fspath(path)}: bad name/config metadata ({exc})") from exc
    try:
        est = create_estimator(name, **config)
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{os.fspath(path)}: cannot rebuild estimator {name!r}: {exc}") from exc
    sd = est.model.state_dict()
    fixed = {}
    for k, v in tensors.items():
        ref = sd.get(k)
        fixed[k] = v.to(ref.dtype) if ref is not None and v.is_floating_point() else v
    try:
        est.model.load_state_dict(fixed, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"{os.fspath(path)}: weights do not match estimator {name!r}: {exc}") from exc
    est.model.eval()
    est.checkpoint_extra = json.loads(meta.get("extra", "{}") or "{}")  # type: ignore[attr-defined]
    return est
