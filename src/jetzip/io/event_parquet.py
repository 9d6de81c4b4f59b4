"""Events as Parquet: one row per event, list columns for collections (awkward's layout).

The `TreeInfo` of the source travels in the schema metadata, so a ROOT file written to Parquet
and read back gives the same arrays and the same description (names, counts branches, tree
name and kind), and can be written back to ROOT. Parquet files jetzip did not write are read as
they are: every column is a branch, nullable columns stay nullable (values and masks exact).
Reading and writing stream in batches of events; memory is bounded by the batch.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from jetzip.errors import InputError
from jetzip.events import EventChunk, TreeInfo, select_branches
from jetzip.io.collections import group_collections
from jetzip.io.trees import dtype_name

#: Schema-metadata key holding the source's TreeInfo as JSON.
EVENTS_METADATA_KEY = b"jetzip_events"


def _open(path: Path) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(path, pre_buffer=False)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"cannot read {path} as Parquet: {exc}") from exc


def _stored_info(parquet: pq.ParquetFile) -> TreeInfo | None:
    text = (parquet.schema_arrow.metadata or {}).get(EVENTS_METADATA_KEY)
    if text is None:
        return None
    try:
        return TreeInfo.from_json(json.loads(text))
    except ValueError as exc:
        raise InputError(f"the file's jetzip event description is damaged ({exc})") from None


def _structure(values: ak.Array) -> object:
    """A token equal for columns of the same jagged structure ("scalar" for numbers)."""
    form = values.layout.form
    if isinstance(form, ak.forms.ListOffsetForm | ak.forms.ListForm) and form.parameters.get(
        "__array__"
    ) not in ("string", "bytestring"):
        return ("list", np.asarray(ak.num(values, axis=1)).tobytes())
    if isinstance(form, ak.forms.NumpyForm) and not form.inner_shape:
        return "scalar"
    return ("other", id(values))


def _describe_columns(path: Path, sample: ak.Array) -> TreeInfo:
    """TreeInfo of a Parquet file jetzip did not write, from its first batch."""
    names = list(sample.fields)
    collections = group_collections(names, {n: _structure(sample[n]) for n in names})
    member_of = {m: c for c, members in collections.items() for m in members}
    branches = {}
    for name in names:
        form = sample[name].layout.form
        branches[name] = {
            "type": str(form.type),
            "dtype": dtype_name(form),
            "counts": None,
            "unit": None,
            "collection": member_of.get(name),
        }
    return TreeInfo(path.name, "parquet", None, None, branches, collections)


def iter_parquet_events(
    path: Path,
    *,
    patterns: Sequence[str] | None,
    step_events: int,
    skip_unsupported: bool,
) -> Iterator[EventChunk]:
    """`jetzip.events.iter_events` for Parquet files (every Arrow type awkward reads is kept,
    so `skip_unsupported` has nothing to skip)."""
    del skip_unsupported
    parquet = _open(path)
    names = list(parquet.schema_arrow.names)
    columns = select_branches(names, patterns, path.name)
    info = _stored_info(parquet)
    first_event = 0
    try:
        batches = parquet.iter_batches(batch_size=step_events, columns=columns)
        for batch in batches:
            arrays = ak.from_arrow(batch)
            if info is None:
                info = _describe_columns(path, arrays)
            yield EventChunk(arrays, first_event, info.select(columns))
            first_event += len(arrays)
    except pa.ArrowException as exc:
        raise InputError(f"cannot read {path} as Parquet: {exc}") from exc
    if first_event == 0:  # no rows: one empty chunk keeps the columns and their types
        empty = ak.from_arrow(parquet.schema_arrow.empty_table().select(columns))
        if info is None:
            info = _describe_columns(path, empty)
        yield EventChunk(empty, 0, info.select(columns))


def write_parquet_events(chunks: Iterable[EventChunk], path: Path) -> int:
    """`jetzip.events.write_events` for Parquet: one row group per chunk, TreeInfo in the schema
    metadata. Returns the number of events written."""
    writer: pq.ParquetWriter | None = None
    schema: pa.Schema | None = None
    n_events = 0
    try:
        for chunk in chunks:
            table = ak.to_arrow_table(chunk.arrays, extensionarray=False)
            if writer is None:
                metadata = dict(table.schema.metadata or {})
                metadata[EVENTS_METADATA_KEY] = json.dumps(chunk.info.to_json()).encode()
                schema = table.schema.with_metadata(metadata)
                writer = pq.ParquetWriter(path, schema)
            writer.write_table(table.cast(schema))
            n_events += chunk.n_events
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise InputError(f"cannot write the events as Parquet: {exc}") from exc
    finally:
        if writer is not None:
            writer.close()
    if writer is None:
        raise InputError("no events to write")
    return n_events


def describe_parquet(path: Path) -> dict[str, Any]:
    """`jetzip.events.describe_source` for Parquet files."""
    from jetzip.io.collections import pick_jets

    events = iter_parquet_events(path, patterns=None, step_events=2**62, skip_unsupported=False)
    chunk = next(events)
    info = chunk.info
    collections = []
    jagged = set()
    for name, members in info.collections.items():
        entry: dict[str, Any] = {"name": name, "branches": len(members)}
        values = chunk.arrays[members[0]]
        if info.branches[members[0]]["type"].startswith("var"):
            entry["objects"] = int(ak.sum(ak.num(values, axis=1)))
            jagged.add(name)
        else:
            entry["per_event"] = True
        collections.append(entry)
    pick = pick_jets(info.collections, jagged)
    return {
        "file": path.name,
        "format": "parquet",
        "trees": [
            {
                "name": info.tree or "(columns)",
                "kind": info.kind or "Parquet",
                "entries": chunk.n_events,
                "branches": len(info.branches),
                "collections": collections,
                "unsupported": [],
                "notes": info.notes,
            }
        ],
        "pick": None
        if pick is None
        else {
            "tree": info.tree,
            "collection": pick.collection,
            "prefix": pick.prefix,
            "why": pick.why,
            "others": list(pick.others),
        },
    }
