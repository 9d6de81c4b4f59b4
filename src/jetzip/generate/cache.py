"""Cache of generated tables, keyed by every generation parameter and the generator version.

A cache entry is one `.npz` file (columns, event index, units and metadata as JSON), written
atomically, so an interrupted run never leaves an entry that looks complete. The format is
private to the cache and independent of `jetzip.io`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from jetzip.fileutil import atomic_output, default_cache_dir
from jetzip.generate.settings import GeneratorSettings
from jetzip.table import Table

_EVENT_KEY = "__event__"
_UNITS_KEY = "__units__"
_META_KEY = "__meta__"


def cache_path(
    settings: GeneratorSettings, cache_dir: str | os.PathLike[str] | None = None
) -> Path:
    directory = default_cache_dir() if cache_dir is None else Path(cache_dir)
    return directory / "generate" / f"jets-{settings.cache_key()[:32]}.npz"


def load_cached(path: Path) -> Table | None:
    """The cached table at `path`, or None when there is none or it cannot be read."""
    import zipfile  # here: the CLI imports this package for the generate command's options

    try:
        with np.load(path, allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in stored.files}
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):  # missing, truncated, foreign
        return None
    try:
        units = json.loads(str(arrays.pop(_UNITS_KEY)))
        meta = json.loads(str(arrays.pop(_META_KEY)))
        event = arrays.pop(_EVENT_KEY)
    except (KeyError, json.JSONDecodeError):
        return None
    return Table(arrays, event=event, units=units, meta=meta)


def store_cached(table: Table, path: Path) -> None:
    """Write `table` to the cache entry `path` (atomically)."""
    if table.event is None:
        raise ValueError("generated tables always have an event index")
    with atomic_output(path) as tmp, tmp.open("wb") as handle:
        np.savez(
            handle,
            **table.columns,
            **{
                _EVENT_KEY: table.event,
                _UNITS_KEY: np.array(json.dumps(table.units)),
                _META_KEY: np.array(json.dumps(table.meta)),
            },
        )
