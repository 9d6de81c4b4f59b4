"""Whole analysis files as events: every branch of a tree, on one event axis, in chunks.

`jetzip.table.Table` is one flat collection (a row per jet). A physicist's file is several
collections and event-level branches sharing one event axis; this module is that layer. An
`EventChunk` holds the events [first_event, first_event + n_events) of a source as one awkward
array whose fields are the ORIGINAL branch names in source order (uproot's ``tree.arrays``
zipped at depth 1), and a `TreeInfo` saying where they came from, precisely enough to write
them back with the same names, dtypes, counts branches and tree kind.

    for chunk in iter_events("nano.root", branches="Jet_*,MET_pt", step_events=10_000): ...
    write_events(iter_events("nano.root"), "copy.parquet")   # one row per event, list columns
    print(describe_source("physlite.root")["pick"])          # which jets and why

Readers and writers by format live in `jetzip.io.trees` (ROOT TTree / RNTuple) and
`jetzip.io.event_parquet` (Parquet with list columns); collection grouping and the choice of
the standard jet collection in `jetzip.io.collections`.
"""

from __future__ import annotations

import fnmatch
import itertools
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jetzip.errors import InputError, OptionError
from jetzip.lazy import lazy_module

ak = lazy_module("awkward")  # ROOT and event files only, not flat tables (jetzip.lazy)

#: Events per chunk when the caller does not say.
DEFAULT_STEP_EVENTS = 100_000
#: Source formats an EventChunk can come from and go to.
EVENT_FORMATS = ("root", "parquet")
#: Tree kinds of ROOT files.
TREE_KINDS = ("TTree", "RNTuple")


@dataclass
class TreeInfo:
    """JSON-able description of where events came from; travels in .jz and Parquet headers.

    Attributes:
        source: input file name.
        format: "root" or "parquet".
        tree: tree / RNTuple name ("Events", "CollectionTree", "Delphes"); None for Parquet
            files jetzip did not write.
        kind: "TTree" or "RNTuple" (None when the events never were in ROOT).
        branches: original branch name -> {"type": awkward type string of one event's value,
            "dtype": leaf dtype name, "counts": the counts branch of a jagged branch or None,
            "unit": unit or None, "collection": collection name or None}, in source order.
        collections: collection name -> its branch names (same jagged structure, one prefix).
        notes: what the reader did that a user should know (e.g. duplicate RNTuple projections
            left out); never a silent loss.
    """

    source: str
    format: str
    tree: str | None
    kind: str | None
    branches: dict[str, dict[str, Any]]
    collections: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """A plain dict (json.dumps-able)."""
        return {
            "source": self.source,
            "format": self.format,
            "tree": self.tree,
            "kind": self.kind,
            "branches": {name: dict(spec) for name, spec in self.branches.items()},
            "collections": {name: list(members) for name, members in self.collections.items()},
            "notes": list(self.notes),
        }

    @classmethod
    def from_json(cls, data: Any) -> TreeInfo:
        """Inverse of `to_json`; a damaged description is an InputError, not a KeyError later."""

        def fail(why: str) -> InputError:
            return InputError(f"the stored event description is damaged: {why}")

        if not isinstance(data, dict):
            raise fail(f"expected an object, got {type(data).__name__}")
        for key in ("source", "format"):
            if not isinstance(data.get(key), str):
                raise fail(f"{key!r} is not a string")
        if data["format"] not in EVENT_FORMATS:
            raise fail(f"unknown format {data['format']!r}")
        for key in ("tree", "kind"):
            if data.get(key) is not None and not isinstance(data[key], str):
                raise fail(f"{key!r} is not a string or null")
        if data.get("kind") is not None and data["kind"] not in TREE_KINDS:
            raise fail(f"unknown tree kind {data['kind']!r}")
        branches = data.get("branches")
        if not isinstance(branches, dict) or not all(
            isinstance(k, str) and isinstance(v, dict) and isinstance(v.get("type"), str)
            for k, v in branches.items()
        ):
            raise fail("'branches' must map names to objects with a 'type' string")
        collections = data.get("collections", {})
        if not isinstance(collections, dict) or not all(
            isinstance(v, list) and all(m in branches for m in v) for v in collections.values()
        ):
            raise fail("'collections' must map names to lists of known branches")
        notes = data.get("notes", [])
        if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
            raise fail("'notes' must be a list of strings")
        return cls(
            source=data["source"],
            format=data["format"],
            tree=data.get("tree"),
            kind=data.get("kind"),
            branches={k: dict(v) for k, v in branches.items()},
            collections={k: list(v) for k, v in collections.items()},
            notes=list(notes),
        )

    def select(self, names: Sequence[str]) -> TreeInfo:
        """The description of a subset of the branches (collections shrink with it)."""
        keep = set(names)
        return TreeInfo(
            source=self.source,
            format=self.format,
            tree=self.tree,
            kind=self.kind,
            branches={k: v for k, v in self.branches.items() if k in keep},
            collections={
                c: [m for m in members if m in keep]
                for c, members in self.collections.items()
                if any(m in keep for m in members)
            },
            notes=list(self.notes),
        )


@dataclass
class EventChunk:
    """Events [first_event, first_event + n_events) of a source, every selected branch.

    ``arrays`` has one entry per event; its fields are the original branch names in source
    order (scalars, jagged lists, fixed-size arrays, nested lists, strings, nullable values).
    ``input_share`` (first chunk of `iter_events(..., measure_input=True)` on ROOT files):
    the input's own bytes of these branches (`jetzip.input_sizes`) and its number of trees,
    measured while the reader had the file open.
    """

    arrays: ak.Array
    first_event: int
    info: TreeInfo
    input_share: dict[str, Any] | None = None

    @property
    def n_events(self) -> int:
        return len(self.arrays)


def parse_branch_patterns(branches: str | Sequence[str] | None) -> list[str] | None:
    """uproot-style globs from 'Jet_*,Muon_*,MET_pt' or a list; None means every branch."""
    if branches is None:
        return None
    items = branches.split(",") if isinstance(branches, str) else list(branches)
    patterns = [item.strip() for item in items if item and item.strip()]
    if not patterns:
        raise OptionError("no branch patterns given (write e.g. 'Jet_*,MET_pt')")
    return patterns


def select_branches(names: Sequence[str], patterns: Sequence[str] | None, where: str) -> list[str]:
    """The names matching any pattern, in source order; a pattern matching nothing is an error."""
    if patterns is None:
        return list(names)
    unmatched = [p for p in patterns if not any(fnmatch.fnmatchcase(n, p) for n in names)]
    if unmatched:
        raise InputError(f"no branch of {where} matches {', '.join(map(repr, unmatched))}")
    return [n for n in names if any(fnmatch.fnmatchcase(n, p) for p in patterns)]


def _format_of(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".root":
        return "root"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    raise InputError(
        f"cannot read or write whole events as {path.name}: use a .root or .parquet file"
    )


def _existing(path: str | os.PathLike[str]) -> Path:
    path = Path(path)
    if not path.exists():
        raise InputError(f"no such file: {path}")
    if path.is_dir():
        raise InputError(f"{path} is a directory, not a data file")
    return path


def iter_events(
    path: str | os.PathLike[str],
    *,
    tree: str | None = None,
    branches: str | Sequence[str] | None = None,
    step_events: int = DEFAULT_STEP_EVENTS,
    skip_unsupported: bool = False,
    measure_input: bool = False,
) -> Iterator[EventChunk]:
    """Chunks of at most `step_events` consecutive events; their concatenation is the file.

    Args:
        tree: ROOT tree / RNTuple name; by default the one holding the events (the jets tree).
        branches: uproot-style globs (comma-separated or a list); a pattern matching nothing is
            an InputError naming it. Default: every branch.
        skip_unsupported: leave out branches that cannot be read or written back exactly
            (recorded in ``info.notes``) instead of refusing the file.
        measure_input: give the first chunk of a ROOT file its ``input_share``.
    """
    from jetzip.io import event_parquet, trees

    if step_events < 1:
        raise OptionError(f"step_events must be at least 1, got {step_events}")
    path = _existing(path)
    patterns = parse_branch_patterns(branches)
    if _format_of(path) == "root":
        yield from trees.iter_tree_events(
            path,
            tree=tree,
            patterns=patterns,
            step_events=step_events,
            skip_unsupported=skip_unsupported,
            measure_input=measure_input,
        )
    else:
        if tree is not None:
            raise OptionError("--tree applies to ROOT files, not Parquet")
        yield from event_parquet.iter_parquet_events(
            path, patterns=patterns, step_events=step_events, skip_unsupported=skip_unsupported
        )


def concatenate(chunks: Iterable[EventChunk]) -> EventChunk:
    """One chunk holding consecutive chunks (they must follow each other)."""
    chunks = list(chunks)
    if not chunks:
        raise InputError("no events to concatenate")
    for before, after in itertools.pairwise(chunks):
        if after.first_event != before.first_event + before.n_events:
            raise InputError(
                f"chunks are not consecutive: events {before.first_event}+{before.n_events} "
                f"then {after.first_event}"
            )
    arrays = chunks[0].arrays if len(chunks) == 1 else ak.concatenate([c.arrays for c in chunks])
    return EventChunk(arrays=arrays, first_event=chunks[0].first_event, info=chunks[0].info)


def read_events(path: str | os.PathLike[str], **options: Any) -> EventChunk:
    """The whole file as one chunk (same options as `iter_events`)."""
    options.setdefault("step_events", 2**62)
    return concatenate(iter_events(path, **options))


def write_events(
    chunks: Iterable[EventChunk], path: str | os.PathLike[str], *, kind: str | None = None
) -> int:
    """Write chunks to .root (TTree or RNTuple) or .parquet, chunk by chunk, atomically.

    Args:
        kind: "TTree" or "RNTuple" for ROOT output; default the kind of the source, TTree for
            sources that never were ROOT.

    Returns:
        The number of events written.
    """
    from jetzip.fileutil import atomic_output
    from jetzip.io import event_parquet, trees

    path = Path(path)
    fmt = _format_of(path)
    if kind is not None and kind not in TREE_KINDS:
        raise OptionError(f"unknown tree kind {kind!r}; kinds: {', '.join(TREE_KINDS)}")
    if kind is not None and fmt != "root":
        raise OptionError("a tree kind applies to ROOT output, not Parquet")
    with atomic_output(path) as tmp:
        if fmt == "root":
            return trees.write_tree_events(chunks, tmp, kind=kind)
        return event_parquet.write_parquet_events(chunks, tmp)


def describe_source(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Every tree and collection with object counts, and which jets the jets workflow picks.

    Returns a JSON-able dict: ``{"file", "format", "trees": [{"name", "kind", "entries",
    "collections": [{"name", "branches", "objects"|"per_event"}], "unsupported": [...]}],
    "pick": {"tree", "collection", "why", "others"} or None}``.
    """
    from jetzip.io import event_parquet, trees

    path = _existing(path)
    if _format_of(path) == "root":
        return trees.describe_root(path)
    return event_parquet.describe_parquet(path)


__all__ = [
    "DEFAULT_STEP_EVENTS",
    "EventChunk",
    "TreeInfo",
    "concatenate",
    "describe_source",
    "iter_events",
    "parse_branch_patterns",
    "read_events",
    "select_branches",
    "write_events",
]
