"""The Python API in uproot's style: `jetzip.open`, `jetzip.compress`, `jetzip.decompress`.

    f = jetzip.open("nano.jz")
    f.keys(), f.num_entries, f.collections
    events = f.arrays(filter_name="Jet_*", entry_stop=1000)   # only Jet_* of those events decoded
    events.Jet.pt                                             # collections are records
    for batch in f.iterate(step_size=10_000): ...
    jetzip.compress("nano.root", "nano.jz", precision="nanoaod")
    jetzip.decompress("nano.jz", "back.root")

Whole-file `.jz` files decode only the requested branches and event chunks; flat (jets table)
`.jz` files are decoded whole and presented the same way (one entry per row).
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from jetzip.codec.wholefile import EventsReader, is_events_file, member_field
from jetzip.container import open_reader
from jetzip.errors import InputError, OptionError

LIBRARIES = ("ak", "np", "pd")
#: Field names (after the collection prefix) that make a record a vector Momentum4D.
_MOMENTUM4D = (("pt", "eta", "phi", "mass"), ("pt", "eta", "phi", "m"), ("pt", "eta", "phi", "e"))
#: vector's names of its time-like coordinate: an energy or a mass, never both in one record.
_ENERGY_FIELDS = frozenset({"E", "e", "energy", "t"})
_MASS_FIELDS = frozenset({"m", "M", "mass", "tau"})


def _names(
    keys: list[str],
    expressions: str | Sequence[str] | None,
    filter_name: str | Sequence[str] | None,
) -> list[str]:
    """Branches named by `expressions` (exact names) and matched by `filter_name` (globs)."""
    names = list(keys)
    if expressions is not None:
        wanted = [expressions] if isinstance(expressions, str) else list(expressions)
        unknown = [n for n in wanted if n not in keys]
        if unknown:
            raise InputError(f"no branch {', '.join(map(repr, unknown))} (see .keys())")
        names = wanted
    if filter_name is not None:
        patterns = [filter_name] if isinstance(filter_name, str) else list(filter_name)
        names = [n for n in names if any(fnmatch.fnmatchcase(n, p) for p in patterns)]
        if not names:
            raise InputError(f"filter_name {filter_name!r} matches no branch (see .keys())")
    return names


def _with_vector(record: ak.Array) -> ak.Array:
    """The record as vector's Momentum4D when vector is installed and it has the fields. vector
    takes one time-like coordinate and one coordinate system: a collection with both an energy
    and a mass (jetzip's own jets), or with x, y beside pt, phi, stays a plain record."""
    fields = set(ak.fields(record))
    if not any(set(f) <= fields for f in _MOMENTUM4D):
        return record
    if fields & _ENERGY_FIELDS and fields & _MASS_FIELDS:
        return record
    try:
        import vector
    except ImportError:
        return record
    vector.register_awkward()
    try:
        return ak.with_name(record, "Momentum4D")
    except TypeError:  # two coordinate systems (NanoAOD's SV: x, y and pt, phi): vector refuses
        return record


def zip_collections(events: ak.Array, collections: dict[str, list[str]]) -> ak.Array:
    """Branches of a collection as one record field (`events.Jet.pt`), lists zipped per object;
    members whose lists do not share the collection's counts stay as they are. Works on the
    branches' layouts (high-level `events[name]`, `ak.num` and `ak.zip` per branch cost ~0.4 ms
    each: 0.4 s of reading a NanoAOD file)."""
    layout = events.layout
    if not isinstance(layout, ak.contents.RecordArray) or layout.is_tuple:
        layout = ak.to_packed(events).layout
    contents = {name: layout.content(name) for name in layout.fields}
    out: dict[str, ak.contents.Content] = {}
    zipped: set[str] = set()
    for collection, members in collections.items():
        present = [m for m in members if m in contents]
        lists = [m for m in present if contents[m].purelist_depth > 1]
        scalars = [m for m in present if contents[m].purelist_depth == 1]
        group = lists or scalars
        if lists:
            counts = _counts(contents[lists[0]])
            group = [m for m in lists if np.array_equal(_counts(contents[m]), counts)]
        if len(group) < 2 or collection in contents:
            continue
        fields = [member_field(collection, m) for m in group]
        record = _zipped_lists([contents[m] for m in group], fields) if lists else None
        if record is None:
            arrays = {f: ak.Array(contents[m]) for f, m in zip(fields, group, strict=True)}
            record = ak.zip(arrays, depth_limit=2 if lists else 1).layout
        out[collection] = _with_vector(ak.Array(record)).layout
        zipped.update(group)
    result = {f: c for f, c in contents.items() if f not in zipped}
    result.update(out)
    if not result:
        return events
    return ak.Array(ak.contents.RecordArray(list(result.values()), list(result), len(events)))


def _counts(layout: ak.contents.Content) -> np.ndarray:
    """Entries per event of a list branch."""
    if isinstance(layout, ak.contents.ListOffsetArray):
        return np.diff(np.asarray(layout.offsets.data))
    return ak.to_numpy(ak.fill_none(ak.num(layout, axis=1), -1))


def _zipped_lists(layouts: list[ak.contents.Content], fields: list[str]) -> Any:
    """`ak.zip(..., depth_limit=2)` of list branches with the same counts, built directly when
    each is a plain list from offset 0 over its whole content (what jetzip decodes), else None."""
    first = layouts[0]
    for layout in layouts:
        if not isinstance(layout, ak.contents.ListOffsetArray) or layout.parameters:
            return None
        offsets = np.asarray(layout.offsets.data)
        if offsets[0] != 0 or offsets[-1] != layout.content.length:
            return None
    contents = [layout.content for layout in layouts]
    record = ak.contents.RecordArray(contents, fields, first.content.length)
    return ak.contents.ListOffsetArray(first.offsets, record)


def _to_library(events: ak.Array, library: str) -> Any:
    if library == "ak":
        return events
    columns = {name: _to_numpy(events[name]) for name in events.fields}
    if library == "np":
        return columns
    import pandas as pd

    return pd.DataFrame(columns)


def _to_numpy(values: ak.Array) -> np.ndarray:
    """A flat branch as a numpy array; a jagged one as an object array of per-event arrays
    (uproot's library="np" layout)."""
    if values.ndim == 1 and not isinstance(values.layout, ak.contents.RecordArray):
        try:
            return ak.to_numpy(values)
        except ValueError:
            pass
    items = np.empty(len(values), dtype=object)
    items[:] = [np.asarray(x) if isinstance(x, list) else x for x in ak.to_list(values)]
    return items


class JzFile:
    """A `.jz` file opened for reading (see `jetzip.open`)."""

    def __init__(self, path: str | os.PathLike[str], model: Any = None) -> None:
        self.path = Path(path)
        self._model = model
        stream, reader = open_reader(self.path)
        stream.close()  # the header is read; nothing stays open between calls
        events = is_events_file(reader.header)
        self._events = EventsReader(self.path, reader, model) if events else None
        self._table: Any = None

    def __enter__(self) -> JzFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Nothing stays open between calls; kept for `with` and uproot habits."""
        self._table = None

    def _flat(self) -> Any:
        if self._table is None:
            from jetzip.codec import decompress_file

            self._table = decompress_file(self.path, model=self._model)
        return self._table

    def keys(self) -> list[str]:
        """Branch names (whole files) or column names (flat tables), in stored order."""
        if self._events is not None:
            return list(self._events.branches)
        return self._flat().names

    @property
    def num_entries(self) -> int:
        """Events (whole files) or rows (flat tables)."""
        if self._events is not None:
            return self._events.num_entries
        return self._flat().n_rows

    @property
    def collections(self) -> dict[str, list[str]]:
        """Collection name -> its branches (empty for flat tables)."""
        if self._events is None:
            return {}
        return {k: list(v) for k, v in self._events.info.collections.items()}

    def arrays(
        self,
        expressions: str | Sequence[str] | None = None,
        filter_name: str | Sequence[str] | None = None,
        entry_start: int | None = None,
        entry_stop: int | None = None,
        library: str = "ak",
        how: str | None = "zip",
    ) -> Any:
        """The requested branches of events [entry_start, entry_stop), decoding nothing else.

        `library`: "ak" (an awkward array, one entry per event), "np" (dict of numpy arrays,
        jagged ones as object arrays) or "pd" (a DataFrame, one row per event). With `how="zip"`
        (the default, "ak" only) collections become records with vector behaviour; `how=None`
        keeps the original flat branch names."""
        chunks = list(self._chunks(expressions, filter_name, entry_start, entry_stop, library, how))
        if len(chunks) == 1:
            return chunks[0]
        if library == "ak":
            return ak.concatenate(chunks)
        if library == "np":
            return {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}
        import pandas as pd

        return pd.concat(chunks, ignore_index=True)

    def iterate(
        self,
        expressions: str | Sequence[str] | None = None,
        filter_name: str | Sequence[str] | None = None,
        step_size: int = 100_000,
        entry_start: int | None = None,
        entry_stop: int | None = None,
        library: str = "ak",
        how: str | None = "zip",
    ) -> Iterator[Any]:
        """Batches of `step_size` events (as `arrays` gives them), decoding chunk by chunk."""
        if step_size < 1:
            raise OptionError(f"step_size must be at least 1, got {step_size}")
        start = entry_start or 0
        stop = self.num_entries if entry_stop is None else min(entry_stop, self.num_entries)
        for first in range(start, stop, step_size):
            yield self.arrays(
                expressions, filter_name, first, min(first + step_size, stop), library, how
            )

    def _chunks(
        self,
        expressions: str | Sequence[str] | None,
        filter_name: str | Sequence[str] | None,
        entry_start: int | None,
        entry_stop: int | None,
        library: str,
        how: str | None,
    ) -> Iterator[Any]:
        if library not in LIBRARIES:
            raise OptionError(f"unknown library {library!r}; choose from {', '.join(LIBRARIES)}")
        if how not in ("zip", None):
            raise OptionError(f"unknown how {how!r}; choose 'zip' or None")
        names = _names(self.keys(), expressions, filter_name)
        start = entry_start or 0
        if self._events is None:
            table = self._flat()
            stop = table.n_rows if entry_stop is None else entry_stop
            arrays = {n: table.columns[n][start:stop] for n in names}
            yield _to_library(ak.zip(arrays, depth_limit=1), library)
            return
        collections = self.collections
        for chunk in self._events.iter_chunks(names, start, entry_stop):
            events = chunk.arrays
            if how == "zip" and library == "ak":
                events = zip_collections(events, collections)
            yield _to_library(events, library)


def open(path: str | os.PathLike[str], model: Any = None) -> JzFile:
    """Open a `.jz` file for reading, as `uproot.open` opens a ROOT file; `model`: the model
    directory of a file written with `model_ref` (it holds only the model's hash)."""
    return JzFile(path, model)


def compress(
    source: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    tolerance: str | None = None,
    precision: str | None = None,
    **options: Any,
) -> dict[str, Any]:
    """`jetzip compress SOURCE -o OUTPUT`: a whole tree for ROOT files and event Parquet files
    (options: tree, branches, step_events, skip_unsupported, threads, model (an entropy model,
    offered to the collection it was trained on), model_ref), else the flat jets
    workflow (options of `jetzip.codec.compress_file`; `tolerance` as `pt=0.1%,...`)."""
    from jetzip.codec.wholefile import compress_source, is_whole_file_source

    if is_whole_file_source(source) and "read_options" not in options:
        return compress_source(source, output, tolerance=tolerance, precision=precision, **options)
    if precision is not None:
        raise OptionError("--precision applies to whole files (ROOT or event Parquet input)")
    from jetzip.codec import compress_file

    return compress_file(source, output, tolerances=tolerance, **options)


def decompress(path: str | os.PathLike[str], output: str | os.PathLike[str], **options: Any) -> int:
    """`jetzip decompress PATH -o OUTPUT`: whole files back to ROOT (`kind` "TTree" or
    "RNTuple", default the source's) or event Parquet; flat files to any table format.
    Returns the events (rows) written."""
    stream, reader = open_reader(path)
    stream.close()
    if is_events_file(reader.header):
        from jetzip.codec.wholefile import decompress_events

        return decompress_events(path, output, reader=reader, **options)
    from jetzip.codec import decompress_to

    return decompress_to(path, output, **options)
