"""mmsight.data: the on-disk dataset store, torch Datasets and public-dataset importers.

- :mod:`mmsight.data.store`: :class:`SequenceRecord`, :class:`DatasetWriter`, :func:`open_dataset`
  (one directory per dataset, one HDF5 file per sequence; see ``docs/data.md``).
- :mod:`mmsight.data.torch_dataset`: :class:`WindowDataset` and :func:`collate_windows`
  (imported lazily so that ``import mmsight.data`` does not import torch).
- :mod:`mmsight.data.importers`: :func:`import_mars`, :func:`import_radhar`.
- :mod:`mmsight.data.summary`: :func:`summarize`, :func:`render_summary` (``mmsight data info``).
"""

from __future__ import annotations

from typing import Any

from mmsight.data.store import (
    POINT_COLUMNS_DEFAULT,
    SCHEMA_VERSION,
    STREAMS,
    CorruptSequenceError,
    Dataset,
    DatasetError,
    DatasetWriter,
    IncompleteDatasetError,
    RangeAzimuthMap,
    RangeDopplerMap,
    RecordValidationError,
    SequenceInfo,
    SequenceRecord,
    open_dataset,
)

__all__ = [
    "POINT_COLUMNS_DEFAULT",
    "SCHEMA_VERSION",
    "STREAMS",
    "CorruptSequenceError",
    "Dataset",
    "DatasetError",
    "DatasetWriter",
    "ImportReport",
    "IncompleteDatasetError",
    "RangeAzimuthMap",
    "RangeDopplerMap",
    "RecordValidationError",
    "RejectedRow",
    "SequenceInfo",
    "SequenceRecord",
    "WindowDataset",
    "collate_windows",
    "import_mars",
    "import_radhar",
    "open_dataset",
    "render_summary",
    "summarize",
]

_LAZY = {
    "WindowDataset": "mmsight.data.torch_dataset",
    "collate_windows": "mmsight.data.torch_dataset",
    "ImportReport": "mmsight.data.importers",
    "RejectedRow": "mmsight.data.importers",
    "import_mars": "mmsight.data.importers",
    "import_radhar": "mmsight.data.importers",
    "summarize": "mmsight.data.summary",
    "render_summary": "mmsight.data.summary",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'mmsight.data' has no attribute {name!r}")
