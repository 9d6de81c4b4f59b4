"""The DarkMachines event CSV: one event per line, a variable number of objects per event.

    event_id;process_id;event_weight;MET;METphi;obj1,E1,pt1,eta1,phi1;obj2,...;

Objects are selected by type (``j`` jets by default; ``e`` stands for e- and e+, ``m`` for m- and
m+) and become one row each; the event-level fields are repeated on every row of their event and
the event index is the 0-based line number. Parsing is vectorised with Arrow string kernels (no
Python loop over objects), so million-event files read in seconds.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from jetzip.errors import InputError
from jetzip.io.names import parse_list
from jetzip.table import Table

HEADER_FIELDS = ("event_id", "process_id", "event_weight", "MET", "METphi")
OBJECT_FIELDS = ("E", "pt", "eta", "phi")
UNITS = {"E": "MeV", "pt": "MeV", "eta": "", "phi": "", "MET": "MeV", "METphi": ""}
#: Lines parsed at once when the whole file is read (bounds the temporary Arrow arrays).
LINES_PER_BLOCK = 200_000


def looks_like_darkmachines(path: Path) -> bool:
    """True when the first line has the DarkMachines shape (used to tell it from plain CSV)."""
    with path.open("rb") as handle:
        first = handle.readline(65536).decode("utf-8", errors="replace").strip().rstrip(";")
    fields = first.split(";")
    if len(fields) < len(HEADER_FIELDS) or not fields[0].strip().isdigit():
        return False
    try:
        [float(value) for value in fields[2:5]]
    except ValueError:
        return False
    return all(field.count(",") == len(OBJECT_FIELDS) for field in fields[5:])


def _matches(types: pa.Array, wanted: str) -> pa.Array:
    """Objects of type `wanted`; a bare ``e``/``m`` also matches the charged ``e-``, ``e+``..."""
    exact = pc.equal(types, wanted)
    if wanted[-1] in "+-":
        return exact
    return pc.or_(exact, pc.is_in(types, value_set=pa.array([wanted + "-", wanted + "+"])))


def _parse_block(
    lines: list[bytes], first_line: int, objects: Sequence[str], process_names: list[str]
) -> tuple[Table, int]:
    """Parse complete lines into a table; returns it and the number of event lines."""
    text = pc.utf8_rtrim(pa.array(lines, type=pa.binary()).cast(pa.string()), characters=" \r\n;")
    line_numbers = np.arange(first_line, first_line + len(lines))
    nonempty = pc.greater(pc.utf8_length(text), 0)
    text, line_numbers = text.filter(nonempty), line_numbers[nonempty.to_numpy(False)]
    fields = pc.split_pattern(text, ";")
    n_fields = pc.list_value_length(fields).to_numpy()
    short = np.flatnonzero(n_fields < len(HEADER_FIELDS))
    if short.size:
        raise InputError(
            f"line {line_numbers[short[0]] + 1}: expected event_id;process_id;event_weight;MET;"
            f"METphi;objects..., found {n_fields[short[0]]} field(s)"
        )
    tokens = pc.list_flatten(fields)
    starts = fields.offsets.to_numpy()[:-1] - fields.offsets[0].as_py()
    header = {name: tokens.take(starts + k) for k, name in enumerate(HEADER_FIELDS)}

    parent = pc.list_parent_indices(fields).to_numpy()
    is_object = np.arange(len(tokens)) - starts[parent] >= len(HEADER_FIELDS)
    object_tokens = tokens.filter(is_object)
    object_parent = parent[is_object]
    parts = pc.split_pattern(object_tokens, ",")
    bad = np.flatnonzero(pc.list_value_length(parts).to_numpy() != 1 + len(OBJECT_FIELDS))
    if bad.size:
        raise InputError(
            f"line {line_numbers[object_parent[bad[0]]] + 1}: object "
            f"{object_tokens[int(bad[0])].as_py()!r} is not type,E,pt,eta,phi"
        )
    flat = pc.list_flatten(parts)
    stride = 1 + len(OBJECT_FIELDS)
    types = pc.utf8_trim_whitespace(flat.take(np.arange(0, len(flat), stride)))
    type_code = np.full(len(types), -1, dtype=np.int8)
    for code, wanted in enumerate(objects):
        type_code[_matches(types, wanted).to_numpy(False) & (type_code < 0)] = code
    keep = np.flatnonzero(type_code >= 0)
    rows_parent = object_parent[keep]

    columns: dict[str, np.ndarray] = {}
    for k, name in enumerate(OBJECT_FIELDS, start=1):
        columns[name] = pc.cast(flat.take(keep * stride + k), pa.float64()).to_numpy()
    if len(objects) > 1:
        columns["object_type"] = type_code[keep]
    columns["event_id"] = pc.cast(header["event_id"], pa.int64()).to_numpy()[rows_parent]
    process = pc.dictionary_encode(pc.utf8_trim_whitespace(header["process_id"]))
    global_code = []
    for name in process.dictionary.to_pylist():
        if name not in process_names:
            process_names.append(name)
        global_code.append(process_names.index(name))
    codes = np.asarray(global_code, dtype=np.int32)[process.indices.to_numpy()]
    columns["process_id"] = codes[rows_parent]
    for name in HEADER_FIELDS[2:]:
        columns[name] = pc.cast(header[name], pa.float64()).to_numpy()[rows_parent]
    meta = {
        "format": "darkmachines",
        "objects": list(objects),
        "process_names": list(process_names),
    }
    table = Table(columns, event=line_numbers[rows_parent], units=dict(UNITS), meta=meta)
    return table, len(text)


def _line_blocks(path: Path, lines_per_block: int) -> Iterator[tuple[int, list[bytes]]]:
    """(first line number, lines) blocks of the file."""
    with path.open("rb") as handle:
        first = 0
        while block := list(itertools.islice(handle, lines_per_block)):
            yield first, block
            first += len(block)


def _cut_at_events(buffer: Table, chunk_rows: int) -> int:
    """Rows to emit: as many whole events as fit in chunk_rows (at least one event)."""
    boundaries = np.flatnonzero(np.diff(buffer.event)) + 1
    fitting = boundaries[boundaries <= chunk_rows]
    if fitting.size:
        return int(fitting[-1])
    return int(boundaries[0]) if boundaries.size else buffer.n_rows


def iter_darkmachines(
    path: Path, chunk_rows: int | None, *, objects: Sequence[str] = ("j",)
) -> Iterator[Table]:
    """The whole file (chunk_rows None) or chunks of whole events with at most chunk_rows rows.

    `objects` is a sequence of object types or one comma-separated string ("j,b").

    Process names get integer codes in order of appearance; each chunk's
    ``meta["process_names"]`` lists the names seen so far (codes never change).
    """
    objects = parse_list(objects) if isinstance(objects, str) else list(objects)
    if not objects or len(set(objects)) != len(objects):
        raise InputError(f"objects must be distinct object types, got {objects}")
    process_names: list[str] = []
    if chunk_rows is None:
        tables, n_events = [], 0
        for first, lines in _line_blocks(path, LINES_PER_BLOCK):
            table, n_lines = _parse_block(lines, first, objects, process_names)
            tables.append(table)
            n_events += n_lines
        if not tables:
            raise InputError(f"{path} is empty")
        whole = Table.concat(tables)
        whole.meta.update(process_names=process_names, n_events=n_events)
        yield whole
        return
    buffer: Table | None = None
    for first, lines in _line_blocks(path, max(1, chunk_rows)):
        table, _ = _parse_block(lines, first, objects, process_names)
        buffer = table if buffer is None else Table.concat([buffer, table])
        buffer.meta["process_names"] = list(process_names)
        while buffer.n_rows > chunk_rows:
            cut = _cut_at_events(buffer, chunk_rows)
            yield buffer.slice(0, cut)
            buffer = buffer.slice(cut, buffer.n_rows)
    if buffer is not None and buffer.n_rows:
        yield buffer
