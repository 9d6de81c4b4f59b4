"""Whole analysis files in the report: one section per collection, one for event-level branches.

A whole-file `.jz` (`jetzip.compress(..., precision=...)`) holds every branch of a tree. Each
collection (Jet, Muon, ...; one value per object) becomes a flat table of its objects, the
event-level branches (one number per event) a table of events; both go through `evaluate`
with the rules the file's header records (a tolerance per bounded branch, exact otherwise) and
the stored bytes of their branches. Branches of other shapes (nested lists, strings, records)
are listed as not evaluated, never dropped silently.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import awkward as ak
import numpy as np

from jetzip.codec.tolerance import Tolerance
from jetzip.evaluate.evaluation import FLOAT32_BYTES, evaluate
from jetzip.evaluate.metrics import DEFAULT_RECOVERED_WITHIN, as_tolerances
from jetzip.evaluate.report import Section
from jetzip.table import Table

EVENT_SECTION = "event-level branches"


def _member(collection: str, branch: str) -> str:
    """`Jet_pt` -> `pt`, `AnalysisJetsAuxDyn.eta` -> `eta`."""
    return branch[len(collection) :].lstrip("_.:") if branch.startswith(collection) else branch


def _flat_numeric(values: ak.Array, depth: int) -> np.ndarray | None:
    """A branch's values as one numpy array: per event (`depth` 1) for a number, per object
    (`depth` 2) for `var * number`; None for any other shape (options, nested lists, ...)."""
    kind = values.type.content
    if depth == 2:
        if not isinstance(kind, ak.types.ListType):
            return None
        kind = kind.content
    if not isinstance(kind, ak.types.NumpyType):
        return None
    return ak.to_numpy(ak.flatten(values) if depth == 2 else values)


def _section_table(
    arrays: ak.Array, branches: list[str], names: list[str], units: Mapping[str, Any]
) -> Table:
    depth = ak.to_layout(arrays[branches[0]]).purelist_depth
    columns = {n: _flat_numeric(arrays[b], depth) for b, n in zip(branches, names, strict=True)}
    first = arrays[branches[0]]
    event = (
        np.repeat(np.arange(len(first)), ak.to_numpy(ak.num(first)))
        if ak.to_layout(first).purelist_depth == 2
        else None
    )
    return Table(columns, event=event, units={n: u for n, u in units.items() if u})


def event_sections(
    original_path: str | os.PathLike[str],
    jz_path: str | os.PathLike[str],
    *,
    tolerances: str | Mapping[str, Tolerance] | None = None,
    recovered_within: float = DEFAULT_RECOVERED_WITHIN,
    tree: str | None = None,
) -> tuple[list[Section], list[str]]:
    """The report's sections for a whole-file `.jz` against its source, and the branches not
    evaluated (other shapes). `tolerances` (keyed by branch name) override the header's."""
    import jetzip
    from jetzip.codec.wholefile import EventsReader, describe_events
    from jetzip.events import read_events

    reader = EventsReader(jz_path)
    stored = {b["name"]: b for b in describe_events(jz_path)["branches"]}
    rules = {
        name: Tolerance.from_json(entry["tolerance"])
        for name, entry in reader.branches.items()
        if entry.get("tolerance")
    }
    rules.update(as_tolerances(tolerances))
    original = read_events(original_path, tree=tree, branches=list(reader.branches)).arrays
    decoded = jetzip.open(jz_path).arrays(how=None)
    collections = dict(reader.info.collections)
    # One number per event goes to the event-level section, whatever its prefix (HTXS_*).
    per_event = [b for b in reader.branches if _flat_numeric(original[b], 1) is not None]
    groups = [
        (c, "object", [b for b in members if b not in per_event])
        for c, members in collections.items()
    ]
    groups.append((EVENT_SECTION, "event", per_event))
    grouped = {b for _, _, members in groups for b in members}
    skipped = [b for b in reader.branches if b not in grouped]
    sections, empty = [], []
    for name, objects, members in groups:
        depth = 2 if objects == "object" else 1
        usable = [b for b in members if _flat_numeric(original[b], depth) is not None]
        skipped += [b for b in members if b not in usable]
        if not usable:
            continue
        if len(ak.flatten(original[usable[0]], axis=None)) == 0:
            empty.append(name)
            continue
        short = [_member(name, b) if objects == "object" else b for b in usable]
        units = {s: reader.branches[b].get("unit") for b, s in zip(usable, short, strict=True)}
        before = _section_table(original, usable, short, units)
        after = _section_table(decoded, usable, short, units)
        section_rules = {s: rules[b] for b, s in zip(usable, short, strict=True) if b in rules}
        exact = [s for s in short if s not in section_rules]
        metrics = evaluate(
            before,
            after,
            tolerances=section_rules,
            exact=exact,
            recovered_within=recovered_within,
        )
        metrics["compression"] = _section_bytes(before, usable, short, stored, objects)
        # Bounded branches are quantised inside their band: uniform residuals, no Gaussian.
        metrics["storage"] = {n: "bounded" if n in section_rules else "lossless" for n in short}
        sections.append(Section(name, before, after, metrics, objects=objects))
    if empty:
        skipped.append(f"(collections without any object: {', '.join(empty)})")
    return sections, skipped


def _section_bytes(
    table: Table,
    branches: list[str],
    names: list[str],
    stored: Mapping[str, Mapping[str, Any]],
    objects: str,
) -> dict[str, Any]:
    """Bytes the file stores for the section's branches, per object and against float32."""
    n = max(table.n_rows, 1)
    column_bytes = {s: int(stored[b]["bytes"]) for b, s in zip(branches, names, strict=True)}
    total = sum(column_bytes.values())
    raw = table.n_rows * len(table.float_names) * FLOAT32_BYTES
    return {
        "objects": objects,
        "file_bytes": total,
        "bytes_per_jet": total / n,
        "bytes_per_jet_without_model": total / n,
        "raw_float32_bytes_per_jet": raw / n,
        "ratio_vs_raw_float32": raw / total if total else None,
        "column_bytes": column_bytes,
    }
