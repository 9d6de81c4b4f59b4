"""Checks on what a `.jz` file says about itself, before anything is built or allocated from it.

A file's JSON sections (header, chunk descriptions, footer) come from whoever wrote the file:
every value is checked for its type and range before use, and anything wrong is one
CorruptFileError naming what is wrong, never a KeyError, RecursionError or MemoryError later.
The helpers are small and generic so that every section reader (flat tables, whole files) uses
the same rules; `terminal_safe` makes the strings of a file safe to print.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from jetzip.errors import CorruptFileError

#: Deepest nesting of lists and objects a section may have (jetzip writes at most ~6).
MAX_JSON_DEPTH = 64
#: dtypes a column may have: native-order numpy names only (no '>f8', objects or strings).
DTYPES = frozenset(
    {"bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"}
    | {"float16", "float32", "float64"}
)
#: Most rows one chunk may hold (2 GiB per float64 column): the writer refuses more, and the
#: reader never allocates for more, whatever a file declares.
MAX_CHUNK_ROWS = 1 << 28


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def load_json(payload: bytes, what: str) -> dict[str, Any]:
    """Parse one JSON section: an object, at most MAX_JSON_DEPTH deep, no NaN or Infinity."""
    try:
        data = json.loads(payload, parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        reason = "nested too deep" if isinstance(exc, RecursionError) else "unreadable JSON"
        raise CorruptFileError(f"{what} is damaged ({reason})") from None
    if _nesting_depth(data) > MAX_JSON_DEPTH:
        raise CorruptFileError(f"{what} is damaged (nested more than {MAX_JSON_DEPTH} deep)")
    return require_dict(data, what)


def _nesting_depth(data: Any) -> int:
    """Deepest nesting of lists and objects, found without recursion (code that walks the
    structure later may recurse, and must not run out of stack)."""
    deepest = 0
    pending = [(data, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict | list):
            deepest = max(deepest, depth)
            items = value.values() if isinstance(value, dict) else value
            pending.extend((item, depth + 1) for item in items if isinstance(item, dict | list))
    return deepest


def require_dict(value: Any, what: str) -> dict[str, Any]:
    """`value` if it is a JSON object, else CorruptFileError."""
    if not isinstance(value, dict):
        raise CorruptFileError(f"{what} is damaged (expected an object, got {_kind(value)})")
    return value


def require_list(value: Any, what: str, *, length: int | None = None) -> list[Any]:
    """`value` if it is a JSON list (of `length` items when given)."""
    if not isinstance(value, list):
        raise CorruptFileError(f"{what} is damaged (expected a list, got {_kind(value)})")
    if length is not None and len(value) != length:
        raise CorruptFileError(f"{what} is damaged ({len(value)} items, expected {length})")
    return value


def require_int(value: Any, what: str, low: int = 0, high: int | None = None) -> int:
    """`value` if it is an integer in [low, high] (booleans are not integers here)."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise CorruptFileError(f"{what} is damaged (expected an integer, got {_kind(value)})")
    if value < low or (high is not None and value > high):
        bound = f"[{low}, {high}]" if high is not None else f">= {low}"
        raise CorruptFileError(f"{what} is damaged ({value} is outside {bound})")
    return value


def require_number(value: Any, what: str) -> float:
    """`value` if it is a finite JSON number."""
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise CorruptFileError(f"{what} is damaged (expected a finite number, got {_kind(value)})")
    return float(value)


def require_bool(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise CorruptFileError(f"{what} is damaged (expected true or false, got {_kind(value)})")
    return value


def require_str(value: Any, what: str, choices: Iterable[str] | None = None) -> str:
    """`value` if it is a string (one of `choices` when given)."""
    if not isinstance(value, str):
        raise CorruptFileError(f"{what} is damaged (expected a string, got {_kind(value)})")
    if choices is not None:
        allowed = list(choices)
        if value not in allowed:
            raise CorruptFileError(
                f"{what} is damaged ({terminal_safe(value)!r} is not one of {', '.join(allowed)})"
            )
    return value


def require_dtype(value: Any, what: str) -> np.dtype:
    """The numpy dtype a file names, from the DTYPES allow-list only."""
    name = require_str(value, what)
    if name not in DTYPES:
        raise CorruptFileError(f"{what} is damaged (dtype {terminal_safe(name)!r} is not allowed)")
    return np.dtype(name)


def require_rows(value: Any, what: str) -> int:
    """A chunk's row count: an integer in [0, MAX_CHUNK_ROWS]."""
    return require_int(value, what, 0, MAX_CHUNK_ROWS)


def _kind(value: Any) -> str:
    """What a wrong value is, briefly (a list or object by its size: it may be huge)."""
    if value is None:
        return "null"
    if isinstance(value, dict | list):
        return f"{'an object' if isinstance(value, dict) else 'a list'} of {len(value)} items"
    text = value if isinstance(value, str) else repr(value)
    return f"{type(value).__name__} {terminal_safe(text[:40])!r}"


def terminal_safe(text: str) -> str:
    """`text` with control characters (escape sequences, newlines, ...) written as escapes, so
    that a string from a file cannot move the cursor, recolour or clear a terminal."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def terminal_safe_tree(value: Any) -> Any:
    """`terminal_safe` applied to every string (keys included) of a JSON-like structure."""
    if isinstance(value, str):
        return terminal_safe(value)
    if isinstance(value, dict):
        return {terminal_safe_tree(k): terminal_safe_tree(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [terminal_safe_tree(v) for v in value]
    return value


# ---------------------------------------------------------------------- a flat table's sections
#: Compression modes, how a column is stored, what runs a network, how a latent is stored: the
#: codec's vocabulary, defined here so that a file can be checked against it.
MODES = ("bounded", "latent", "lossless")
KINDS = ("lossless", "bounded", "latent")
#: What runs the network: PyTorch or ONNX Runtime (faster; the two differ in the last bits).
ENGINES = ("torch", "onnx")
LATENT_DTYPES = ("float32", "float16", "bfloat16")
_SHA256_DIGITS = frozenset("0123456789abcdef")


def _optional(value: Any, check: Any, what: str) -> Any:
    return None if value is None else check(value, what)


def check_table_header(header: dict[str, Any]) -> dict[str, Any]:
    """Every header entry a reader of a flat-table `.jz` uses, checked; returns the header.

    Columns: unique string names, allow-listed dtypes, a known kind, a positive finite
    tolerance exactly where the kind is bounded (float columns only); the model entry (when
    there is one): its sha256, size, columns and latent size."""
    require_str(header.get("mode"), "the header's mode", MODES)
    require_bool(header.get("event_index"), "the header's event_index")
    _optional(header.get("jetzip_version"), require_str, "the header's jetzip version")
    _optional(header.get("meta"), require_dict, "the header's metadata")
    _optional(header.get("latent_dtype"), _latent_dtype, "the header's latent dtype")
    _optional(header.get("engine"), _engine, "the header's engine")
    source = _optional(header.get("source"), require_dict, "the header's source")
    if source is not None:
        _optional(source.get("bytes"), require_int, "the header's source size")
    names: set[str] = set()
    for column in require_list(header.get("columns"), "the header's column list"):
        name = check_column(column)
        if name in names:
            raise CorruptFileError(f"the header is damaged (column {terminal_safe(name)!r} twice)")
        names.add(name)
    model = header.get("model")
    if model is not None:
        model = require_dict(model, "the header's model entry")
        digest = require_str(model.get("sha256"), "the model's sha256")
        if len(digest) != 64 or not set(digest) <= _SHA256_DIGITS:
            raise CorruptFileError("the header is damaged (the model's sha256 is not a digest)")
        require_bool(model.get("embedded"), "the model's embedded flag")
        require_int(model.get("bytes"), "the model's size")
        require_int(model.get("n_parameters"), "the model's parameter count")
        # an entropy model has no latent (since format 7 its entry leaves the size out)
        entropy = model.get("kind") == "entropy"
        latent_dim = model.get("latent_dim", 0 if entropy else None)
        require_int(latent_dim, "the model's latent size", 0 if entropy else 1)
        for column in require_list(model.get("columns", []), "the model's columns"):
            if require_str(column, "a model column") not in names:
                raise CorruptFileError("the header is damaged (the model reads an unknown column)")
    return header


def _latent_dtype(value: Any, what: str) -> str:
    return require_str(value, what, LATENT_DTYPES)


def _engine(value: Any, what: str) -> str:
    return require_str(value, what, ENGINES)


def check_column(column: Any) -> str:
    """One header column entry checked (see `check_table_header`); returns its name."""
    column = require_dict(column, "a header column entry")
    name = require_str(column.get("name"), "a column name")
    what = f"column {terminal_safe(name)!r}"
    dtype = require_dtype(column.get("dtype"), f"the dtype of {what}")
    kind = require_str(column.get("kind"), f"the kind of {what}", KINDS)
    _optional(column.get("unit"), require_str, f"the unit of {what}")
    tolerance = column.get("tolerance")
    if (tolerance is not None) != (kind == "bounded"):
        state = "without" if tolerance is None else "with"
        raise CorruptFileError(f"the header is damaged ({what} is {kind} {state} a tolerance)")
    if tolerance is not None:
        tolerance = require_dict(tolerance, f"the tolerance of {what}")
        if require_number(tolerance.get("value"), f"the tolerance of {what}") <= 0:
            raise CorruptFileError(f"the header is damaged ({what} has a tolerance <= 0)")
        require_bool(tolerance.get("relative"), f"the tolerance kind of {what}")
    if kind != "lossless" and dtype.kind != "f":
        raise CorruptFileError(f"the header is damaged ({what} is {kind} but {dtype.name})")
    return name


def check_column_statistics(statistics: Any) -> dict[str, Any]:
    """The footer's per-column statistics (what `jetzip info` prints), checked."""
    statistics = require_dict(statistics, "the footer's column statistics")
    for name, stats in statistics.items():
        what = f"the statistics of column {terminal_safe(name)!r}"
        stats = require_dict(stats, what)
        for key in ("bytes", "n_exceptions", "coded_bits"):
            _optional(stats.get(key), require_int, f"{what} ({key})")
        for key in ("max_abs_error", "max_rel_error", "entropy_bits", "entropy_gap"):
            _optional(stats.get(key), require_number, f"{what} ({key})")
        _optional(stats.get("tolerance"), require_str, f"{what} (tolerance)")
        for key in ("predictor", "methods"):
            counts = require_dict(stats.get(key, {}), f"{what} ({key})")
            for count in counts.values():
                require_int(count, f"{what} ({key})")
    return statistics
