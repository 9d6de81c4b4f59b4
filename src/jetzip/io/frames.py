"""Column-oriented formats: pandas pickle, CSV, Parquet, HDF5, NumPy .npy and .npz.

Each format has one `iter_*` function that yields tables of at most `chunk_rows` rows, or the
whole file as one table when `chunk_rows` is None (that is how `read_table` uses it), and one
`write_*` function that writes a table to exactly the path it is given (the caller makes it
atomic). Formats that can hold metadata keep units and `Table.meta` as a JSON "header" so that a
write -> read round trip gives back the same table.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from jetzip.errors import InputError
from jetzip.io.names import select_columns
from jetzip.lazy import lazy_module
from jetzip.table import EVENT_COLUMN, Table

# Only pickle, CSV and HDF5 need these: reading Parquet loads neither (jetzip.lazy).
h5py = lazy_module("h5py")
pd = lazy_module("pandas")

#: Key under which units and metadata travel inside files that can hold them.
HEADER_KEY = "jetzip"
#: Name given to a pandas index that had none when it becomes a column.
DEFAULT_INDEX_NAME = "index"


# ---------------------------------------------------------------------- shared helpers
def encode_header(table: Table) -> str:
    """Units and metadata as one JSON string."""
    return json.dumps({"units": table.units, "meta": table.meta})


def decode_header(text: str | bytes | None) -> tuple[dict[str, str], dict[str, Any]]:
    """Inverse of `encode_header`; (empty, empty) when the file has no header."""
    if not text:
        return {}, {}
    try:
        header = json.loads(text)
        return dict(header["units"]), dict(header["meta"])
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"the file's jetzip metadata is damaged ({exc})") from None


def restore_meta(stored: dict[str, Any], format_name: str) -> dict[str, Any]:
    """Meta read back from a jetzip-written file; tree, branches etc. describe the first source,
    so ``converted_from`` names it."""
    meta = dict(stored)
    if stored.get("format") not in (None, format_name):
        meta.setdefault("converted_from", f"{stored['format']} file {stored.get('source', '?')}")
    meta["format"] = format_name
    return meta


def build_table(
    columns: dict[str, np.ndarray],
    *,
    format_name: str,
    header: str | bytes | None = None,
    skipped: dict[str, str] | None = None,
    extra_meta: dict[str, Any] | None = None,
) -> Table:
    """Make a table, taking an integer `event` column as the event index and restoring a header."""
    units, meta = decode_header(header)
    event = columns.pop(EVENT_COLUMN, None)
    if event is not None and event.dtype.kind not in "iu":
        columns = {EVENT_COLUMN: event, **columns}
        event = None
    meta = restore_meta(meta, format_name)
    meta.update(extra_meta or {})
    if skipped:
        meta["skipped"] = skipped
    return Table(columns, event=event, units=units, meta=meta)


def numeric_columns(named_arrays: Sequence[tuple[str, np.ndarray]]) -> tuple[dict, dict]:
    """Split (name, array) pairs into usable 1-D numeric columns and skipped ones with reasons."""
    columns: dict[str, np.ndarray] = {}
    skipped: dict[str, str] = {}
    for name, values in named_arrays:
        if values.ndim != 1:
            skipped[str(name)] = f"not one-dimensional (shape {values.shape})"
        elif values.dtype.kind not in "fiub":
            skipped[str(name)] = f"not numeric (dtype {values.dtype})"
        else:
            columns[str(name)] = values
    return columns, skipped


def slices(table: Table, chunk_rows: int | None) -> Iterator[Table]:
    """The whole table (chunk_rows None) or consecutive row slices of it."""
    if chunk_rows is None:
        yield table
        return
    for start in range(0, table.n_rows, chunk_rows):
        yield table.slice(start, start + chunk_rows)


def flat_arrays(table: Table) -> dict[str, np.ndarray]:
    """Columns with the event index first (as the `event` column), for flat file formats."""
    if EVENT_COLUMN in table.columns and table.event is not None:
        raise InputError(f"a column is named {EVENT_COLUMN!r} and the table has an event index")
    arrays = {} if table.event is None else {EVENT_COLUMN: table.event}
    arrays.update(table.columns)
    return arrays


# ---------------------------------------------------------------------- pandas pickle
def _table_from_frame(frame: pd.DataFrame, format_name: str, header: Any = None) -> Table:
    """Columns of a DataFrame; for a pickle, a meaningful index (not 0..n-1) becomes a column."""
    pairs: list[tuple[str, np.ndarray]] = []
    extra: dict[str, Any] = {}
    index = frame.index
    default_index = isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1
    if format_name == "pickle" and not default_index and index.nlevels == 1:
        index_column = str(index.name) if index.name is not None else DEFAULT_INDEX_NAME
        pairs.append((index_column, index.to_numpy()))
        extra = {"index_column": index_column, "index_name": index.name}
    pairs.extend((str(name), frame[name].to_numpy()) for name in frame.columns)
    columns, skipped = numeric_columns(pairs)
    return build_table(
        columns, format_name=format_name, header=header, skipped=skipped, extra_meta=extra
    )


def iter_pickle(path: Path, chunk_rows: int | None) -> Iterator[Table]:
    """A pickled DataFrame (pickles cannot stream: read whole, then slice)."""
    frame = pd.read_pickle(path)
    if isinstance(frame, pd.Series):
        frame = frame.to_frame()
    if not isinstance(frame, pd.DataFrame):
        raise InputError(f"{path} holds a {type(frame).__name__}, not a pandas DataFrame")
    yield from slices(_table_from_frame(frame, "pickle", frame.attrs.get(HEADER_KEY)), chunk_rows)


def write_pickle(table: Table, path: Path) -> None:
    """A DataFrame; a column that was the source's index becomes the index again."""
    frame = table.to_pandas()
    index_column = table.meta.get("index_column")
    if index_column in frame.columns:
        frame = frame.set_index(index_column)
        frame.index.name = table.meta.get("index_name")
    frame.attrs[HEADER_KEY] = encode_header(table)
    frame.to_pickle(path, compression=None)


# ---------------------------------------------------------------------- CSV
def iter_csv(path: Path, chunk_rows: int | None) -> Iterator[Table]:
    """Comma-separated with a header line; non-numeric columns are skipped (listed in meta).

    Read in chunks, a column takes the type of the whole file: one that is integer in the first
    chunk and float later (a missing value, a decimal point) is read as float in every chunk,
    found by a first pass over the file, so that all chunks agree."""
    if chunk_rows is None:
        yield _table_from_frame(pd.read_csv(path), "csv")
        return
    widened = _widened_csv_dtypes(pd.read_csv(path, chunksize=chunk_rows))
    for frame in pd.read_csv(path, chunksize=chunk_rows, dtype=widened or None):
        yield _table_from_frame(frame, "csv")


def _widened_csv_dtypes(frames: Iterable[pd.DataFrame]) -> dict[str, np.dtype]:
    """Numeric columns whose type changes between chunks, with the type that holds them all."""
    seen: dict[str, np.dtype] = {}
    widened: set[str] = set()
    for frame in frames:
        for name, dtype in frame.dtypes.items():
            if dtype.kind not in "iuf":
                continue
            common = np.result_type(seen.get(name, dtype), dtype)
            if name in seen and common != seen[name]:
                widened.add(name)
            seen[name] = common
    return {name: seen[name] for name in widened}


def write_csv(table: Table, path: Path) -> None:
    """Header line plus values written with round-trip precision (units are not kept)."""
    pd.DataFrame(flat_arrays(table)).to_csv(path, index=False)


# ---------------------------------------------------------------------- Parquet
def _numpy_column(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """`column.to_numpy(zero_copy_only=False)`, except that numbers without nulls (every jets
    file) go through DLPack (a view of one chunk, a copy joining several): pyarrow's conversion
    imports pandas (0.2-1 s), which reading Parquet does not otherwise need."""
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    numeric = pa.types.is_integer(column.type) or pa.types.is_floating(column.type)
    if not (numeric and chunks and column.null_count == 0):
        return column.to_numpy(zero_copy_only=False)
    arrays = [np.from_dlpack(chunk) for chunk in chunks]
    return arrays[0] if len(arrays) == 1 else np.concatenate(arrays)


def _table_from_arrow(batch: pa.Table | pa.RecordBatch, header: bytes | None) -> Table:
    pairs = [
        (name, _numpy_column(column))
        for name, column in zip(batch.column_names, batch.columns, strict=True)
    ]
    columns, skipped = numeric_columns(pairs)
    return build_table(columns, format_name="parquet", header=header, skipped=skipped)


def iter_parquet(path: Path, chunk_rows: int | None) -> Iterator[Table]:
    """Whole file, or record batches of at most chunk_rows rows."""
    # pre_buffer=False: pre-buffering keeps every row group read so far alive, so memory would
    # grow with the file instead of staying at one batch.
    parquet = pq.ParquetFile(path, pre_buffer=False)
    header = (parquet.schema_arrow.metadata or {}).get(HEADER_KEY.encode())
    if chunk_rows is None:
        yield _table_from_arrow(parquet.read(), header)
        return
    for batch in parquet.iter_batches(batch_size=chunk_rows):
        yield _table_from_arrow(batch, header)


def _arrow_column(values: np.ndarray) -> pa.Array:
    """`pa.array(values)`; a contiguous numeric column becomes a zero-copy view (the same
    column) without pyarrow's check for pandas objects, which imports pandas (0.2-1 s)."""
    if values.dtype.kind in "iuf" and values.dtype.isnative and values.flags.c_contiguous:
        data = [None, pa.py_buffer(values)]
        return pa.Array.from_buffers(pa.from_numpy_dtype(values.dtype), len(values), data)
    return pa.array(values)


def arrow_table(table: Table) -> pa.Table:
    """The Arrow table that a Parquet file of `table` holds (`flat_arrays`' columns)."""
    arrays = flat_arrays(table)
    return pa.Table.from_arrays([_arrow_column(v) for v in arrays.values()], names=list(arrays))


def write_parquet(table: Table, path: Path) -> None:
    """One Arrow column per table column (dtypes kept), units and meta in the schema metadata."""
    arrow = arrow_table(table)
    arrow = arrow.replace_schema_metadata({HEADER_KEY: encode_header(table)})
    pq.write_table(arrow, path)


# ---------------------------------------------------------------------- HDF5
def _hdf5_group(handle: h5py.File, group: str | None) -> h5py.Group:
    """The requested group, or the root; a root holding only groups must be chosen from."""
    if group is not None:
        node = handle.get(group)
        if not isinstance(node, h5py.Group):
            groups = [name for name, item in handle.items() if isinstance(item, h5py.Group)]
            raise InputError(f"no HDF5 group {group!r}; groups: {', '.join(groups) or 'none'}")
        return node
    has_datasets = any(isinstance(item, h5py.Dataset) for item in handle.values())
    groups = [name for name, item in handle.items() if isinstance(item, h5py.Group)]
    if not has_datasets and groups:
        if len(groups) == 1:
            return handle[groups[0]]
        raise InputError(f"the file has several groups ({', '.join(groups)}): choose with group=")
    return handle


def iter_hdf5(path: Path, chunk_rows: int | None, *, group: str | None = None) -> Iterator[Table]:
    """A group of 1-D datasets, one per column (unit in the dataset's 'unit' attribute)."""
    with h5py.File(path, "r") as handle:
        node = _hdf5_group(handle, group)
        order = json.loads(node.attrs.get("columns", "null")) or list(node.keys())
        datasets = [(name, node[name]) for name in order if isinstance(node[name], h5py.Dataset)]
        header = node.attrs.get(HEADER_KEY)
        n_rows = max((len(d) for _, d in datasets if d.ndim == 1), default=0)
        step = n_rows if chunk_rows is None else chunk_rows
        for start in range(0, max(n_rows, 1), max(step, 1)):
            pairs = [(name, d[start : start + step] if d.ndim == 1 else d) for name, d in datasets]
            columns, skipped = numeric_columns(pairs)
            table = build_table(columns, format_name="hdf5", header=header, skipped=skipped)
            for name, dataset in datasets:
                if name in table.columns and "unit" in dataset.attrs:
                    table.units[name] = str(dataset.attrs["unit"])
            yield table


def write_hdf5(table: Table, path: Path) -> None:
    """One dataset per column in the root group; order, units and meta as attributes."""
    arrays = flat_arrays(table)
    bad = [name for name in arrays if "/" in name]
    if bad:
        raise InputError(f"HDF5 dataset names cannot contain '/': {', '.join(bad)}")
    with h5py.File(path, "w", track_order=True) as handle:
        for name, values in arrays.items():
            dataset = handle.create_dataset(name, data=values)
            if name in table.units:
                dataset.attrs["unit"] = table.units[name]
        handle.attrs["columns"] = json.dumps(list(arrays))
        handle.attrs[HEADER_KEY] = encode_header(table)


# ---------------------------------------------------------------------- NumPy
def _npy_columns(array: np.ndarray, columns: Sequence[str] | None) -> tuple[dict, list[str]]:
    """Name the columns of a .npy array: structured fields, or the names the user gave."""
    if array.dtype.names:
        named = {name: array[name] for name in array.dtype.names}
        return named, list(columns or [])
    width = 1 if array.ndim == 1 else array.shape[1] if array.ndim == 2 else None
    if width is None:
        raise InputError(f"a .npy table must be 1-D or 2-D, not shape {array.shape}")
    if not columns:
        raise InputError(
            f"the .npy file holds a bare {array.shape} array without column names; "
            f"give {width} name(s) with columns= (CLI: --columns m,pt,eta,phi)"
        )
    if len(columns) != width:
        raise InputError(f"{len(columns)} column names given for an array with {width} columns")
    matrix = array.reshape(len(array), width)
    return {name: matrix[:, j] for j, name in enumerate(columns)}, []


def iter_npy(
    path: Path, chunk_rows: int | None, *, columns: Sequence[str] | None = None
) -> Iterator[Table]:
    """A structured array, or a bare 1-D/2-D array named by `columns`; memory-mapped slices.

    For a bare array `columns` names its columns; for a structured one it selects fields.
    """
    array = np.load(path, mmap_mode="r", allow_pickle=False)
    named, selection = _npy_columns(array, columns)
    step = len(array) if chunk_rows is None else chunk_rows
    for start in range(0, max(len(array), 1), max(step, 1)):
        pairs = [(name, np.array(values[start : start + step])) for name, values in named.items()]
        table = build_table(dict(pairs), format_name="npy")
        yield select_columns(table, selection) if selection else table


def write_npy(table: Table, path: Path) -> None:
    """A structured array (one field per column, event first), so names and dtypes survive."""
    arrays = flat_arrays(table)
    record = np.empty(table.n_rows, dtype=[(name, values.dtype) for name, values in arrays.items()])
    for name, values in arrays.items():
        record[name] = values
    with path.open("wb") as handle:
        np.save(handle, record, allow_pickle=False)


def iter_npz(path: Path, chunk_rows: int | None) -> Iterator[Table]:
    """One array per column (an npz cannot be memory-mapped: read whole, then slice)."""
    with np.load(path, allow_pickle=False) as archive:
        header = str(archive[HEADER_KEY]) if HEADER_KEY in archive.files else None
        pairs = [(name, archive[name]) for name in archive.files if name != HEADER_KEY]
    columns, skipped = numeric_columns(pairs)
    table = build_table(columns, format_name="npz", header=header, skipped=skipped)
    yield from slices(table, chunk_rows)


def write_npz(table: Table, path: Path) -> None:
    """One array per column plus a JSON header entry; uncompressed (jetzip compresses)."""
    arrays = flat_arrays(table)
    if HEADER_KEY in arrays:
        raise InputError(f"a column is named {HEADER_KEY!r}, which .npz output reserves")
    with path.open("wb") as handle:
        np.savez(handle, **arrays, **{HEADER_KEY: np.array(encode_header(table))})
