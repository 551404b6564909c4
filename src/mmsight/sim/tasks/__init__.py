"""Task datasets of the simulator: ``weapons``, ``wall``, ``fall``, ``gait``, ``rehab``.

Each task module has ``NAME``, ``DEFAULT_SEQUENCES`` (the paper-size count), ``Config`` (a
:class:`~mmsight.sim.tasks.common.TaskConfig` with paper-size defaults and a ``tiny()`` preset),
``sequence_plan(config, n, seed)``, ``make_sequence(spec)`` and ``splits(plan)``; see
:mod:`mmsight.sim.tasks.common` and ``docs/simulator.md``. :func:`get_task` returns a :class:`Task`
bundling them; :func:`mmsight.sim.runner.simulate` runs one.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

__all__ = ["TASK_NAMES", "Task", "get_task", "load_config"]

TASK_NAMES: tuple[str, ...] = ("weapons", "wall", "fall", "gait", "rehab")

#: what each dataset is for (the manifest's ``task`` field)
_PURPOSE = {"weapons": "anomaly", "wall": "anomaly", "fall": "anomaly", "gait": "reid", "rehab": "pose"}
_DESCRIPTION = {
    "weapons": "mmAnomaly through-cloth concealed objects: one person walking past a radar tilted 20 deg down; "
               "3 clothing x 3 environments; normal or 3 objects x 8 body regions; 60 frames at 15 fps.",
    "wall": "mmAnomaly through-wall intruders: 7 wall configurations; blank, or a person standing or sitting at one "
            "of 6 positions behind the wall; 60 frames at 2 fps.",
    "fall": "mmAnomaly through-wall falls: walking, standing, sitting and falls behind the 7 wall configurations; "
            "fall onset and location; 60 frames at 2 fps.",
    "gait": "Mission radar-to-camera re-identification: identities x walks in 3 scenes, radar at 10 fps and a camera "
            "at 15 fps in separate walks, routes at 0-60 deg view angles, 3D joints; some radar walks with 2 people.",
    "rehab": "MARS-style rehabilitation: subjects x 10 movements x 2 radar positions x 4 environments; point clouds, "
             "3D joints and the MARS 8x8x5 feature map.",
}


@dataclass(frozen=True)
class Task:
    """One task: its module's functions and metadata."""

    name: str
    purpose: str
    description: str
    default_sequences: int
    config_class: type
    sequence_plan: Callable[..., list[Any]]
    make_sequence: Callable[[Any], Any]
    splits: Callable[[list[Any]], dict[str, list[str]]]

    def default_config(self, tiny: bool = False) -> Any:
        return self.config_class.tiny() if tiny else self.config_class()


def get_task(name: str) -> Task:
    """The task called ``name`` (one of :data:`TASK_NAMES`)."""
    key = str(name).strip().lower()
    if key not in TASK_NAMES:
        raise ValueError(f"unknown task {name!r}; valid: {', '.join(TASK_NAMES)}")
    mod = importlib.import_module(f"mmsight.sim.tasks.{key}")
    return Task(key, _PURPOSE[key], _DESCRIPTION[key], int(mod.DEFAULT_SEQUENCES), mod.Config, mod.sequence_plan,
                mod.make_sequence, mod.splits)


def load_config(task: str, source: str | Path | Mapping[str, Any] | None = None, *, tiny: bool = False) -> Any:
    """A task config: the defaults (or the ``tiny`` preset) with the keys of ``source`` replaced.

    ``source`` is a mapping or a YAML file; a YAML file may hold the keys directly or under a
    top-level key named after the task (``weapons: {n_frames: 30}``). Unknown keys raise ``ValueError``.
    """
    t = get_task(task)
    base = t.default_config(tiny)
    if source is None:
        return base
    if isinstance(source, Mapping):
        data = dict(source)
    else:
        import yaml

        data = yaml.safe_load(Path(source).read_text()) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{source}: expected a mapping of config keys")
    if t.name in data and isinstance(data[t.name], Mapping):
        data = dict(data[t.name])
    return t.config_class.from_dict(data, base=base)
