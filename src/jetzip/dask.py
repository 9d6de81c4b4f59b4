"""Analysis on many `.jz` files with dask-awkward, decoding only what the graph needs.

    import jetzip.dask
    events = jetzip.dask.from_jz("out/*.jz", filter_name="Jet_*")
    hist.dask.Hist.new.Reg(50, 0, 500).Double().fill(dak.flatten(events.Jet_pt)).compute()

`from_jz` is `uproot.dask` for whole-file `.jz` files: a lazy dask-awkward array with one entry
per event and the original branch names as fields, one partition per stored chunk of events
(or per `step_size` events) of each file. Its IO function implements dask-awkward's column
projection (`ColumnProjectionMixin`): before the graph runs, dask-awkward traces it on a
typetracer, and each partition then decodes only the branches the result reads; the reader
in turn decodes only the sections and columns holding them (`jetzip.codec.wholefile`).
Nothing is decompressed to disk. Needs the `dask` extra: `pip install 'jetzip[dask]'`.

The files must be whole-file `.jz` files (from ROOT or event Parquet input) with the same
branches and types. Planning reads each file once to learn its chunks of events (verifying
its checksums, decoding nothing); a partition's task reads its file from the start up to its
events, decoding only the sections of those events.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import awkward as ak
import dask_awkward as dak
from dask_awkward.lib.io.columnar import ColumnProjectionMixin

from jetzip.errors import InputError, OptionError


@dataclass(frozen=True)
class Partition:
    """Events [start, stop) of one `.jz` file: the input of one partition's task. `size` is
    the file's size when the graph was planned (part of the task's key, and checked)."""

    path: str
    start: int
    stop: int
    size: int


def _paths(paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[Path]:
    """Files named by a path, a glob or a directory (of `.jz` files), or a list of them."""
    from jetzip.batch import JZ_SUFFIX, expand_inputs

    items = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    if not items:
        raise InputError("no .jz files given")
    return expand_inputs(items, [JZ_SUFFIX])


def _event_chunks(reader: Any) -> list[tuple[int, int]]:
    """The stored chunks of events of a whole-file `.jz` as (start, stop) pairs (the reader's
    footer index, sought from the trailer and kept for the partitions)."""
    return [(int(c["start"]), int(c["stop"])) for c in reader.index.get("event_chunks", [])]


def _ranges(chunks: list[tuple[int, int]], step_size: int | None) -> list[tuple[int, int]]:
    if step_size is None:
        return [(a, b) for a, b in chunks if b > a]
    total = chunks[-1][1] if chunks else 0
    return [(a, min(a + step_size, total)) for a in range(0, total, step_size)]


def _form(reader: Any, names: Sequence[str]) -> ak.forms.RecordForm:
    """One event of the selected branches as a record form (fields = branch names)."""
    contents = [ak.forms.from_dict(reader.branches[name]["form"]) for name in names]
    return ak.forms.RecordForm(contents, list(names))


@functools.lru_cache(maxsize=16)
def _reader(path: str, size: int, mtime_ns: int) -> Any:
    """One `EventsReader` per file version (size and modification time) in a worker:
    parsing the branch catalogue is most of a small partition's time, and a worker often
    reads several chunks of a file."""
    from jetzip.codec.wholefile import EventsReader

    return EventsReader(path)


class JzRead(ColumnProjectionMixin):
    """dask-awkward IO function: reads one `Partition` of the branches in its form.

    Implements the column-projection protocol of dask-awkward's `from_map` (`mock`,
    `prepare_for_projection`, `project` and `necessary_columns` come from the mixin,
    `project_columns` is here), so the optimiser hands it the branches a graph needs."""

    def __init__(self, form: ak.forms.RecordForm) -> None:
        self.form = form
        self.behavior: dict | None = None
        self.attrs: dict | None = None

    #: dask-awkward asks these before projecting and before adding a report output.
    use_optimization = True
    return_report = False

    @property
    def branches(self) -> list[str]:
        """The branches a call decodes, in stored order."""
        return list(self.form.fields)

    def project_columns(self, columns: frozenset[str]) -> JzRead:
        """This function restricted to the branches holding `columns` (dask-awkward's dotted
        field paths; branch names may themselves contain dots). At least one branch is kept,
        since the event count comes from the data."""
        keep = [
            name
            for name in self.branches
            if any(c == name or c.startswith(name + ".") for c in columns)
        ]
        keep = keep or self.branches[:1]
        return JzRead(ak.forms.RecordForm([self.form.content(n) for n in keep], keep))

    def __call__(self, part: Partition) -> ak.Array:
        stat = Path(part.path).stat()
        if stat.st_size != part.size:
            raise InputError(f"{part.path} changed since the graph was planned; plan it again")
        reader = _reader(part.path, stat.st_size, stat.st_mtime_ns)
        pieces = []
        chunks = reader.iter_chunks(self.branches, part.start, part.stop)
        try:
            for chunk in chunks:
                pieces.append(chunk.arrays)
                if chunk.first_event + chunk.n_events >= part.stop:
                    break  # the rest of the file is not read
        finally:
            chunks.close()
        array = pieces[0] if len(pieces) == 1 else ak.concatenate(pieces) if pieces else None
        if array is None or len(array) != part.stop - part.start:
            raise InputError(f"{part.path} does not hold events [{part.start}, {part.stop})")
        return array

    def __dask_tokenize__(self) -> tuple[str, str]:
        return ("jetzip.dask.JzRead", self.form.to_json())


def from_jz(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    filter_name: str | Sequence[str] | None = None,
    step_size: int | None = None,
) -> Any:
    """A dask-awkward array of the events of whole-file `.jz` files, one entry per event.

    Args:
        paths: `.jz` files, quoted globs (`out/**/*.jz`) or directories, or a list of them.
        filter_name: uproot-style globs on branch names (`"Jet_*"`, `["Jet_pt", "MET_*"]`);
            default every branch. A pattern matching no branch is an InputError.
        step_size: events per partition; default one partition per stored chunk of events.

    Fields are the original branch names (`events.Jet_pt`), as `uproot.dask` gives them.
    """
    if step_size is not None and step_size < 1:
        raise OptionError(f"step_size must be at least 1, got {step_size}")
    from jetzip.codec.wholefile import EventsReader
    from jetzip.events import parse_branch_patterns, select_branches

    files = _paths(paths)
    patterns = parse_branch_patterns(filter_name)
    form: ak.forms.RecordForm | None = None
    parts: list[Partition] = []
    for path in files:
        reader = EventsReader(path)
        names = select_branches(list(reader.branches), patterns, path.name)
        this = _form(reader, names)
        if form is None:
            form, first = this, path
        elif this != form:
            raise InputError(
                f"{path} has other branches or types than {first} "
                "(from_jz reads files of one layout; choose common branches with filter_name)"
            )
        ranges = _ranges(_event_chunks(reader), step_size)
        size = path.stat().st_size
        parts += [Partition(str(path), a, b, size) for a, b in ranges]
    if form is None or not parts:
        raise InputError("the .jz files hold no events")
    divisions = [0]
    for part in parts:
        divisions.append(divisions[-1] + part.stop - part.start)
    return dak.from_map(
        JzRead(form),
        parts,
        label="from-jz",
        divisions=tuple(divisions),
    )


__all__ = ["JzRead", "Partition", "from_jz"]
