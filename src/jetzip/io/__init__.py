"""Reading and writing tables in every format the field uses.

    table = read_table("jets.root")                      # format from the extension
    for chunk in iter_tables("big.parquet", chunk_rows=100_000): ...
    write_table(table, "jets.h5")                        # atomic: no half-written file

Formats live in a registry (`FORMATS`): each has one function yielding tables (the whole file
when ``chunk_rows`` is None) and optionally one writer. Options that apply to every format
(``columns``, ``alias``, ``to_ptetaphim``) are handled here, the rest by the format, and an
option a format does not take is refused rather than ignored.
"""

from __future__ import annotations

import importlib
import inspect
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jetzip.errors import InputError, OptionError
from jetzip.fileutil import atomic_output

if TYPE_CHECKING:
    from jetzip.table import Table

#: Rows per chunk when `iter_tables` is not told otherwise.
DEFAULT_CHUNK_ROWS = 500_000


@dataclass(frozen=True)
class Format:
    """One file format: how to recognise, read (in chunks) and write it.

    Its reader and writer are functions of `module`, imported when the format is first used
    (a Parquet file never loads uproot). `failure_names` name the library exceptions that mean
    "this file is not valid in this format" ("pyarrow.ArrowException", builtins bare); they
    become an InputError naming the file instead of a traceback.
    """

    name: str
    extensions: tuple[str, ...]
    module: str
    reader: str
    writer: str | None
    failure_names: tuple[str, ...]

    @property
    def iterate(self) -> Callable[..., Iterator[Table]]:
        return getattr(importlib.import_module(self.module), self.reader)

    @property
    def write(self) -> Callable[..., None] | None:
        if self.writer is None:
            return None
        return getattr(importlib.import_module(self.module), self.writer)

    @property
    def failures(self) -> tuple[type[BaseException], ...]:
        return tuple(_exception_type(name) for name in self.failure_names)

    def option_names(self, func: Callable[..., Any]) -> list[str]:
        """Keyword-only options `func` accepts."""
        return [
            p.name
            for p in inspect.signature(func).parameters.values()
            if p.kind is inspect.Parameter.KEYWORD_ONLY
        ]


def _exception_type(name: str) -> type[BaseException]:
    """The exception class `name` ("module.Class", or a builtin's bare name)."""
    module, _, attribute = name.rpartition(".")
    return getattr(importlib.import_module(module or "builtins"), attribute)


_FRAMES = "jetzip.io.frames"
_TEXT_FAILURES = (
    "pandas.errors.ParserError",
    "pandas.errors.EmptyDataError",
    "UnicodeDecodeError",
    "ValueError",
)
FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format(
            "parquet",
            (".parquet", ".pq"),
            _FRAMES,
            "iter_parquet",
            "write_parquet",
            ("pyarrow.ArrowException", "OSError"),
        ),
        Format(
            "pickle",
            (".pkl", ".pickle"),
            _FRAMES,
            "iter_pickle",
            "write_pickle",
            ("pickle.UnpicklingError", "EOFError", "ValueError", "AttributeError", "ImportError"),
        ),
        Format("csv", (".csv",), _FRAMES, "iter_csv", "write_csv", _TEXT_FAILURES),
        Format(
            "darkmachines",
            (),
            "jetzip.io.darkmachines",
            "iter_darkmachines",
            None,
            ("pyarrow.ArrowException", *_TEXT_FAILURES),
        ),
        Format("hdf5", (".h5", ".hdf5"), _FRAMES, "iter_hdf5", "write_hdf5", ("OSError",)),
        Format("npy", (".npy",), _FRAMES, "iter_npy", "write_npy", ("ValueError", "EOFError")),
        Format(
            "npz",
            (".npz",),
            _FRAMES,
            "iter_npz",
            "write_npz",
            ("zipfile.BadZipFile", "ValueError", "EOFError"),
        ),
        Format(
            "root",
            (".root",),
            "jetzip.io.root",
            "iter_root",
            "write_root",
            ("OSError", "ValueError", "uproot.deserialization.DeserializationError"),
        ),
    )
}
GENERIC_OPTIONS = ("columns", "alias", "to_ptetaphim")


def supported_extensions() -> list[str]:
    """Every file extension jetzip recognises."""
    return [ext for f in FORMATS.values() for ext in f.extensions]


def detect_format(path: str | os.PathLike[str], format: str | None = None) -> str:
    """The format name for `path`: `format` if given, else from the extension (and, for .csv,
    the DarkMachines line shape when the file exists)."""
    if format is not None:
        if format not in FORMATS:
            raise OptionError(f"unknown format {format!r}; formats: {', '.join(FORMATS)}")
        return format
    path = Path(path)
    suffix = path.suffix.lower()
    for fmt in FORMATS.values():
        if suffix in fmt.extensions:
            if fmt.name == "csv" and path.is_file():
                from jetzip.io.darkmachines import looks_like_darkmachines

                if looks_like_darkmachines(path):
                    return "darkmachines"
            return fmt.name
    raise InputError(
        f"cannot tell the format of {path} from its extension {suffix or '(none)'!r}; "
        f"supported: {', '.join(supported_extensions())} (DarkMachines files are .csv)"
    )


def _split_options(fmt: Format, func: Callable[..., Any], options: Mapping[str, Any]) -> tuple:
    """(format options, generic options); None values mean "not given" and are dropped."""
    own = fmt.option_names(func)
    given = {k: v for k, v in options.items() if v is not None and v is not False}
    unknown = [k for k in given if k not in own and k not in GENERIC_OPTIONS]
    if unknown:
        takes = ", ".join(own + (list(GENERIC_OPTIONS) if func is fmt.iterate else [])) or "none"
        raise OptionError(
            f"option {', '.join(unknown)} does not apply to {fmt.name} files (options: {takes})"
        )
    specific = {k: v for k, v in given.items() if k in own}
    generic = {k: v for k, v in given.items() if k in GENERIC_OPTIONS}
    return specific, generic


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _tables(
    path: str | os.PathLike[str],
    chunk_rows: int | None,
    format: str | None,
    options: Mapping[str, Any],
) -> Iterator[Table]:
    """Non-empty tables of the file with generic options applied and library errors translated."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"no such file: {path}")
    if path.is_dir():
        raise InputError(f"{path} is a directory, not a table file")
    from jetzip.io.names import guess_energy_units, postprocess

    fmt = FORMATS[detect_format(path, format)]
    specific, generic = _split_options(fmt, fmt.iterate, options)
    units: dict[str, str] | None = None
    try:
        for raw in fmt.iterate(path, chunk_rows, **specific):
            if raw.n_rows == 0:
                continue
            table = postprocess(
                raw,
                alias=generic.get("alias"),
                convert_cartesian=bool(generic.get("to_ptetaphim")),
                columns=generic.get("columns"),
            )
            if units is None:
                units = dict(guess_energy_units(table).units)
            else:
                table.units = {**units, **table.units}
            table.meta["source"] = path.name
            yield table
    except fmt.failures as exc:
        raise InputError(f"cannot read {path} as {fmt.name}: {_first_line(exc)}") from exc
    if units is None:
        raise InputError(f"{path} holds no rows: the table is empty")


def read_table(path: str | os.PathLike[str], *, format: str | None = None, **options: Any) -> Table:
    """Read a whole file into one Table.

    Options (only where they apply): ``columns`` (which columns, in order; for a bare .npy array
    the names of its columns), ``alias`` ({old: new}), ``to_ptetaphim`` (Cartesian -> pt, eta,
    phi, m), ROOT ``tree``/``collection``/``branches``, DarkMachines ``objects``, HDF5 ``group``.
    """
    return next(_tables(path, None, format, options))


def iter_tables(
    path: str | os.PathLike[str],
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    format: str | None = None,
    **options: Any,
) -> Iterator[Table]:
    """Read a file as consecutive tables of at most `chunk_rows` rows (same options as
    `read_table`). ROOT and DarkMachines chunks hold whole events (one event larger than
    chunk_rows comes alone); pickle and .npz files are read whole, then sliced."""
    if chunk_rows < 1:
        raise OptionError(f"chunk_rows must be at least 1, got {chunk_rows}")
    return _tables(path, chunk_rows, format, options)


def write_table(
    table: Table, path: str | os.PathLike[str], *, format: str | None = None, **options: Any
) -> None:
    """Write `table` atomically in the format given by `format` or the extension of `path`."""
    name = detect_format(path, format) if format else _writable_format(path)
    fmt = FORMATS[name]
    if fmt.writer is None:
        writable = [f.name for f in FORMATS.values() if f.writer]
        raise OptionError(f"jetzip cannot write {name} files; it writes: {', '.join(writable)}")
    specific, generic = _split_options(fmt, fmt.write, options)
    if generic:
        raise OptionError(f"option {', '.join(generic)} applies to reading, not writing")
    if not table.columns:
        raise InputError("nothing to write: the table has no columns")
    with atomic_output(path) as tmp:
        fmt.write(table, tmp, **specific)


def _writable_format(path: str | os.PathLike[str]) -> str:
    """Format from the extension only: an existing .csv being overwritten is still plain CSV."""
    suffix = Path(path).suffix.lower()
    for fmt in FORMATS.values():
        if suffix in fmt.extensions:
            return fmt.name
    return detect_format(path)


__all__ = [
    "DEFAULT_CHUNK_ROWS",
    "FORMATS",
    "detect_format",
    "iter_tables",
    "read_table",
    "supported_extensions",
    "write_table",
]
