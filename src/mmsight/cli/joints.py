"""``mmsight joints ...``: train, evaluate and apply mmJoints (sensing / reliability descriptors).

* ``train``    - train mmJoints for one black-box estimator on a MARS-format file (in-sample, or
  cross-fitted with ``--fold-estimator`` repeated ``K`` times);
* ``train-folds`` - train the ``K`` fold estimators of a registered estimator for cross-fitting;
* ``evaluate`` - every table figure of one or more checkpoints on any MARS-format file
  (``results.json`` + ``results.md``);
* ``describe`` - ``(x, y, z, xi, kappa)`` per joint and frame, and a skeleton figure;
* ``import-sim`` - a simulated ``rehab`` dataset (``mmsight simulate rehab``) as a MARS-format file.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

joints_app = typer.Typer(help="mmJoints: per-joint sensing (xi) and reliability (kappa) descriptors.",
                         no_args_is_help=True)
_console = Console(width=120)


def _log(msg: str) -> None:
    _console.print(msg, markup=False, highlight=False)


_FLOAT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def parse_overrides(items: list[str]) -> dict:
    """``["heads.loss=l1", "surrogate.epochs=5"]`` -> ``{"heads": {"loss": "l1"}, "surrogate": {"epochs": 5}}``.

    Values are parsed as YAML (numbers, also ``1e-4``, booleans, null, lists); a malformed item raises
    ``typer.BadParameter`` naming it."""
    import yaml

    out: dict = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip() or any(not part for part in key.strip().split(".")):
            raise typer.BadParameter(f"expected KEY=VALUE (e.g. heads.loss=l1), got {item!r}", param_hint="--set")
        try:
            value = yaml.safe_load(raw) if raw.strip() else raw
        except yaml.YAMLError as exc:
            raise typer.BadParameter(f"cannot parse the value of {item!r}: {exc}", param_hint="--set") from exc
        if isinstance(value, str) and _FLOAT.fullmatch(value.strip()):
            value = float(value)  # YAML 1.1 reads 1e-4 (no dot) as a string
        node = out
        *parents, leaf = key.strip().split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise typer.BadParameter(f"{key!r} conflicts with an earlier --set", param_hint="--set")
        node[leaf] = value
    return out


@joints_app.command("train")
def train_command(
    data: Path = typer.Option(..., "--data", exists=True, dir_okay=False, help="MARS-format .npz (train split used)."),
    out: Path = typer.Option(..., "--out", help="Checkpoint directory to write."),
    estimator: str = typer.Option("mars_cnn", "--estimator",
                                  help="Registered estimator name (trained first) or an estimator .safetensors."),
    config: str = typer.Option("paper", "--config", help="Preset (paper, tiny) or a YAML file (ignored with --core)."),
    core: Optional[Path] = typer.Option(None, "--core", exists=True, file_okay=False,
                                        help="Reuse the estimator-independent stages (and configuration) of this "
                                             "checkpoint."),
    estimator_epochs: Optional[int] = typer.Option(None, "--estimator-epochs", help="Epochs when training the estimator."),
    ablations: bool = typer.Option(True, "--ablations/--no-ablations", help="Train the Table 10 variants."),
    downstream: bool = typer.Option(True, "--downstream/--no-downstream", help="Train the Sec. 8 models."),
    half: bool = typer.Option(False, "--half", help="Store float16 weights (half the size)."),
    fold_estimator: Optional[list[Path]] = typer.Option(
        None, "--fold-estimator", exists=True, dir_okay=False,
        help="Cross-fitting: fold estimator .safetensors, repeated once per fold in fold order (fold k trained "
             "without the runs of fold k, e.g. by `mmsight joints train-folds`). The surrogate, heads and "
             "downstream models then learn from out-of-fold predictions; --estimator (trained on all training "
             "data) is still the one used at inference."),
    fold_seed: Optional[int] = typer.Option(None, "--fold-seed",
                                            help="Seed of the fold assignment (default: the fold estimators' record, "
                                                 "else 0)."),
    set_: Optional[list[str]] = typer.Option(
        None, "--set", metavar="KEY=VALUE",
        help="Override one setting, e.g. --set heads.loss=l1 (repeatable; the value is read as YAML). With --core "
             "only the estimator stages' optimisation settings may change (heads.loss, *.epochs, *.lr, ...)."),
) -> None:
    """Train mmJoints (all stages) for one estimator and save the checkpoint to OUT."""
    import torch

    from mmsight.joints.crossfit import CrossFitError, fold_assignment, fold_info_of
    from mmsight.joints.estimators import load_estimator, train_estimator
    from mmsight.joints.mars_data import load_mars_npz
    from mmsight.joints.model.config import ConfigError, MMJointsConfig, load_config
    from mmsight.joints.training import core_config_differences, load_core, train_mmjoints

    core_res = load_core(str(core)) if core is not None else None
    cfg = core_res.model.config if core_res is not None else load_config(config)
    if set_:
        try:
            cfg = MMJointsConfig.from_dict(parse_overrides(set_), base=cfg)
        except ConfigError as exc:
            raise typer.BadParameter(str(exc), param_hint="--set") from exc
        if core_res is not None:
            diff = core_config_differences(core_res.model.config, cfg)
            if diff:
                raise typer.BadParameter("cannot change the core's settings with --core: " + "; ".join(diff),
                                         param_hint="--set")
    torch.set_num_threads(cfg.threads)
    frames = load_mars_npz(data)
    if estimator.endswith(".safetensors") or Path(estimator).is_file():
        est = load_estimator(estimator)
    else:
        _log(f"training the estimator {estimator!r} first")
        est = train_estimator(estimator, frames, estimator_epochs, seed=cfg.seed, log=_log).estimator
    fold_ests, folds = None, None
    if fold_estimator:
        fold_ests = [load_estimator(p) for p in fold_estimator]
        if fold_seed is not None:
            rec = fold_info_of(fold_ests[0]) or {}
            folds = fold_assignment(frames, int(rec.get("n_folds", len(fold_ests))), seed=fold_seed,
                                    stratify=rec.get("stratify", "movement"), group_by=rec.get("group_by", "run"),
                                    gap=int(rec.get("gap", 0)))
        _log(f"cross-fitting with {len(fold_ests)} fold estimators")
    elif fold_seed is not None:
        raise typer.BadParameter("--fold-seed needs --fold-estimator")
    try:
        rep = train_mmjoints(frames, est, cfg, core=core_res, ablations=ablations, downstream=downstream,
                             fold_estimators=fold_ests, folds=folds, log=_log)
    except CrossFitError as exc:
        raise typer.BadParameter(str(exc), param_hint="--fold-estimator") from exc
    rep.bundle.save(out, dtype="float16" if half else "float32")
    _log(f"saved {out} ({rep.bundle.size_bytes() / 1e6:.2f} MB) in {rep.info['timings_s']['total']:.0f} s")


@joints_app.command("train-folds")
def train_folds_command(
    data: Path = typer.Option(..., "--data", exists=True, dir_okay=False, help="MARS-format .npz (train split used)."),
    out: Path = typer.Option(..., "--out", help="Directory for fold0.safetensors ... and folds.json."),
    estimator: str = typer.Option("mars_cnn", "--estimator", help="Registered estimator name."),
    n_folds: int = typer.Option(4, "--n-folds", help="K: folds of training runs (recordings)."),
    epochs: int = typer.Option(..., "--epochs", help="Fixed epochs per fold estimator (no model selection)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the fold estimators (weights, batches, dropout)."),
    fold_seed: int = typer.Option(0, "--fold-seed", help="Seed of the fold assignment."),
    group_by: str = typer.Option("run", "--group-by",
                                 help="run: folds of whole recordings; segment: every run cut into K contiguous "
                                      "segments, one per fold (like a time-split validation)."),
    gap: int = typer.Option(10, "--gap", help="With --group-by segment: frames either side of a held-out segment "
                                              "also left out of the fold estimator's training."),
    fold: Optional[list[int]] = typer.Option(None, "--fold", help="Train only these folds (repeatable)."),
    half: bool = typer.Option(False, "--half", help="Store float16 weights."),
) -> None:
    """Train the K fold estimators for cross-fitting (fold k without the training runs of fold k)."""
    import json

    import torch

    from mmsight.joints.crossfit import fold_assignment, train_fold_estimators
    from mmsight.joints.mars_data import load_mars_npz

    torch.set_num_threads(1)
    frames = load_mars_npz(data)
    folds = fold_assignment(frames, n_folds, seed=fold_seed, group_by=group_by, gap=gap)
    out.mkdir(parents=True, exist_ok=True)
    (out / "folds.json").write_text(json.dumps(folds.to_dict(), indent=1))
    _log(f"{n_folds} folds of {len(folds.runs)} training runs, windows per fold {folds.counts(frames)}; "
         f"signature {folds.signature}")
    train_fold_estimators(estimator, frames, folds, epochs, seed=seed, out_dir=out, folds=fold,
                          dtype="float16" if half else "float32", log=_log)
    _log(f"wrote {out}")


@joints_app.command("evaluate")
def evaluate_command(
    data: Path = typer.Option(..., "--data", exists=True, dir_okay=False, help="MARS-format .npz with ground truth."),
    checkpoint: Optional[list[Path]] = typer.Option(None, "--checkpoint", exists=True, file_okay=False,
                                                    help="Checkpoint directory (repeatable; default: the shipped one)."),
    out: Path = typer.Option(Path("runs/joints/evaluate"), "--out", help="Directory for results.json / results.md."),
    split: str = typer.Option("auto", "--split", help="auto (test, else validate, else all), train, validate, test, all."),
    max_samples: Optional[int] = typer.Option(None, "--max-samples", help="Evaluate a random subset."),
    threads: int = typer.Option(1, "--threads", help="torch threads."),
) -> None:
    """Evaluate checkpoints on DATA: descriptors, surrogate pose, ablations, refinement, activity."""
    import torch

    from mmsight.joints.evaluate import default_checkpoint, evaluate, render_markdown

    torch.set_num_threads(threads)
    cks = list(checkpoint) if checkpoint else [default_checkpoint()]
    res = evaluate(cks, data, out, split=split, max_samples=max_samples, log=_log)
    _console.print(render_markdown(res), markup=False, highlight=False)
    _log(f"wrote {out / 'results.json'}")


@joints_app.command("describe")
def describe_command(
    data: Path = typer.Option(..., "--data", exists=True, dir_okay=False, help="MARS-format .npz (labels not needed)."),
    out: Path = typer.Option(..., "--out", help="Output directory."),
    checkpoint: Optional[Path] = typer.Option(None, "--checkpoint", exists=True, file_okay=False,
                                              help="Checkpoint directory (default: the shipped one)."),
    split: str = typer.Option("all", "--split", help="Frames to describe: all, train, validate, test."),
    fmt: str = typer.Option("both", "--format", help="npz, csv or both."),
    frame: Optional[int] = typer.Option(None, "--frame", help="Output row drawn in skeleton.png."),
) -> None:
    """Write (x, y, z, xi, kappa) per joint per frame and a skeleton figure coloured by xi and kappa."""
    import torch

    from mmsight.joints.evaluate import describe

    if fmt not in ("npz", "csv", "both"):
        raise typer.BadParameter("--format must be npz, csv or both")
    torch.set_num_threads(1)
    res = describe(data, out, checkpoint, split=split, frame=frame, fmt=fmt, log=_log)
    for k, v in res["paths"].items():
        _log(f"{k}: {v}")


@joints_app.command("import-sim")
def import_sim_command(
    dataset: Path = typer.Argument(..., exists=True, file_okay=False, help="Dataset written by 'mmsight simulate rehab'."),
    out: Path = typer.Option(..., "--out", help="MARS-format .npz to write (atomically)."),
    max_points: int = typer.Option(64, "--max-points", min=0,
                                   help="Points kept per frame, the strongest by SNR (MARS: 64); 0 = all."),
) -> None:
    """Write a simulated rehab dataset as a MARS-format .npz, for 'joints train' and 'joints evaluate'."""
    from mmsight.joints.sim_data import sim_rehab_arrays, write_mars_npz

    arrays, rep = sim_rehab_arrays(dataset, max_points=max_points or None)
    write_mars_npz(arrays, out)
    split = ", ".join(f"{k} {v}" for k, v in rep.frames_per_split.items())
    _log(f"{rep.sequences} sequences, {rep.frames} frames ({split}), {rep.points} points; "
         f"{rep.points_dropped} points dropped by the cap of {max_points or 'no'} per frame "
         f"in {rep.frames_capped} frames; wrote {out}")
