"""``mmsight joints ...``: train, evaluate and apply mmJoints (sensing / reliability descriptors).

* ``train``    - train mmJoints for one black-box estimator on a MARS-format file;
* ``evaluate`` - every table figure of one or more checkpoints on any MARS-format file
  (``results.json`` + ``results.md``);
* ``describe`` - ``(x, y, z, xi, kappa)`` per joint and frame, and a skeleton figure.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

joints_app = typer.Typer(help="mmJoints: per-joint sensing (xi) and reliability (kappa) descriptors.",
                         no_args_is_help=True)
_console = Console(width=120)


def _log(msg: str) -> None:
    _console.print(msg, markup=False, highlight=False)


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
) -> None:
    """Train mmJoints (all stages) for one estimator and save the checkpoint to OUT."""
    import torch

    from mmsight.joints.estimators import load_estimator, train_estimator
    from mmsight.joints.mars_data import load_mars_npz
    from mmsight.joints.model.config import load_config
    from mmsight.joints.training import load_core, train_mmjoints

    core_res = load_core(str(core)) if core is not None else None
    cfg = core_res.model.config if core_res is not None else load_config(config)
    torch.set_num_threads(cfg.threads)
    frames = load_mars_npz(data)
    if estimator.endswith(".safetensors") or Path(estimator).is_file():
        est = load_estimator(estimator)
    else:
        _log(f"training the estimator {estimator!r} first")
        est = train_estimator(estimator, frames, estimator_epochs, seed=cfg.seed, log=_log).estimator
    rep = train_mmjoints(frames, est, cfg, core=core_res, ablations=ablations, downstream=downstream, log=_log)
    rep.bundle.save(out, dtype="float16" if half else "float32")
    _log(f"saved {out} ({rep.bundle.size_bytes() / 1e6:.2f} MB) in {rep.info['timings_s']['total']:.0f} s")


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
