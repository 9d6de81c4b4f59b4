"""`jetzip info` and `jetzip convert`: look at any table file, and turn it into another format."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from jetzip.cli.registry import FORCE_ARG, TREE_ARG, arg, command, refuse_existing
from jetzip.io import FORMATS, read_table, supported_extensions, write_table
from jetzip.io.names import parse_alias, parse_list
from jetzip.table import Table

#: Container files are described by the container layer, not read as tables.
CONTAINER_SUFFIX = ".jz"

READER_ARGS = (
    arg("--format", choices=list(FORMATS), help="input format, when the extension does not tell"),
    TREE_ARG,
    arg("--collection", help="ROOT branch prefix of the objects, e.g. Jet_ or AnalysisJetsAuxDyn."),
    arg(
        "--branches",
        help="ROOT: extra per-object variables, comma-separated; by default all",
    ),
    arg("--objects", help="DarkMachines object types, comma-separated, e.g. j,b; by default j"),
    arg("--group", help="HDF5 group holding the column datasets"),
    arg("--alias", help="rename columns: old=new,old2=new2 (old may be a ROOT branch name)"),
    arg("--to-ptetaphim", action="store_true", help="convert px, py, pz, E to pt, eta, phi, m"),
    arg("--columns", help="columns to keep, comma-separated (for a bare .npy: their names)"),
)


def reader_options(args: argparse.Namespace) -> dict[str, Any]:
    """The `read_table` options the user gave on the command line."""
    lists = {name: getattr(args, name) for name in ("branches", "objects", "columns")}
    options: dict[str, Any] = {k: parse_list(v) for k, v in lists.items() if v is not None}
    options.update(tree=args.tree, collection=args.collection, group=args.group)
    options["alias"] = parse_alias(args.alias) if args.alias else None
    options["to_ptetaphim"] = args.to_ptetaphim
    options["format"] = args.format
    return options


def _number(value: float) -> str:
    return f"{value:.6g}"


def column_summary(table: Table) -> list[list[str]]:
    """One row per column: name, dtype, unit, min, mean, max over finite values, non-finite."""
    rows = []
    for name, values in table.columns.items():
        numbers = values.astype(np.float64) if values.dtype.kind == "b" else values
        finite = numbers[np.isfinite(numbers)] if numbers.dtype.kind == "f" else numbers
        stats = (
            [_number(finite.min()), _number(finite.mean(dtype=np.float64)), _number(finite.max())]
            if finite.size
            else ["-", "-", "-"]
        )
        bad = values.size - finite.size
        rows.append([name, str(values.dtype), table.units.get(name, "?"), *stats, str(bad or "")])
    return rows


def _aligned(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def describe_table(table: Table, path: Path) -> list[str]:
    """The lines `jetzip info` prints for a table file."""
    meta = dict(table.meta)
    lines = [f"file:     {path}", f"format:   {meta.pop('format', '?')}"]
    if "converted_from" in meta:
        lines.append(f"from:     {meta.pop('converted_from')} (converted by jetzip)")
    lines.append(f"rows:     {table.n_rows:,}")
    if table.event is not None:
        lines.append(f"events:   {table.n_events:,}")
    header = ["column", "dtype", "unit", "min", "mean", "max", "non-finite"]
    lines.append(f"columns:  {len(table.names)}")
    lines.extend(_aligned([header, *column_summary(table)]))
    skipped = meta.pop("skipped", {})
    meta.pop("source", None)
    branches = meta.pop("branches", None)
    for key, value in meta.items():
        lines.append(f"{key + ':':<9} {value if isinstance(value, str) else json.dumps(value)}")
    if branches:
        lines.append("read:     " + ", ".join(f"{c} <- {b}" for c, b in branches.items()))
    if skipped:
        lines.append(f"skipped:  {len(skipped)}")
        lines.extend(f"  {name}: {why}" for name, why in skipped.items())
    return lines


#: Refused branch names `info` shows per tree before "..." (compress names every one).
SHOWN_UNSUPPORTED = 8


def _collection_size(collection: dict[str, Any]) -> str:
    if collection.get("per_event"):
        count = "per event"
    elif collection["objects"] is None:
        count = "objects unreadable"
    else:
        count = f"{collection['objects']:,} objects"
    return f"{collection['name']} ({count}, {collection['branches']} branches)"


def describe_source_lines(summary: dict[str, Any]) -> list[str]:
    """The lines `info` prints for `jetzip.events.describe_source`: every tree with its
    collections and object counts, what cannot be stored, and which jets would be read and why."""
    lines = [f"trees:    {len(summary['trees'])}"]
    for tree in summary["trees"]:
        lines.append(
            f"  {tree['name']} ({tree['kind']}, {tree['entries']:,} entries, "
            f"{tree['branches']} branches)"
        )
        sizes = [_collection_size(c) for c in tree["collections"]]
        if sizes:
            lines.append("    collections: " + ", ".join(sizes))
        refused = tree["unsupported"]
        if refused:
            shown = ", ".join(refused[:SHOWN_UNSUPPORTED]) + (
                ", ..." if len(refused) > SHOWN_UNSUPPORTED else ""
            )
            lines.append(f"    cannot be stored ({len(refused)}, --skip-unsupported): {shown}")
        lines.extend(f"    note: {note}" for note in tree["notes"])
    pick = summary["pick"]
    if pick is None:
        lines.append("jets:     no collection looks like jets")
    else:
        others = f"; others: {', '.join(pick['others'])}" if pick["others"] else ""
        lines.append(f"jets:     {pick['tree']} / {pick['prefix']}* ({pick['why']}){others}")
    return lines


def describe_container(path: Path) -> list[str]:
    """The single place where `info` hands a .jz file to the container layer."""
    from jetzip.cli.codec_commands import describe

    return describe(path).splitlines()


@command(
    "info",
    "Describe a table file (or a .jz file).",
    arg("path", help=f"a table file ({', '.join(supported_extensions())}) or a .jz file"),
    *READER_ARGS,
)
def info(args: argparse.Namespace) -> int:
    """Print the format, row and event counts, every column with dtype, unit and min/mean/max
    (NaN/inf counted apart), and format details: for ROOT first every tree and collection with
    object counts and the jets it picks and why, then the jets read: the collection found, which
    branch each column came from and which branches were skipped and why."""
    path = Path(args.path)
    if path.suffix.lower() == CONTAINER_SUFFIX and path.is_file():
        print("\n".join(describe_container(path)))
        return 0
    if path.suffix.lower() == ".root" and path.is_file():
        from jetzip.events import describe_source

        print("\n".join(describe_source_lines(describe_source(path))))
    print("\n".join(describe_table(read_table(path, **reader_options(args)), path)))
    return 0


@command(
    "convert",
    "Convert a table file to another format.",
    arg("input", help="file to read"),
    arg("output", help="file to write; the format follows its extension"),
    *READER_ARGS,
    arg("--drop-nonfinite", action="store_true", help="drop rows holding NaN or inf"),
    FORCE_ARG,
)
def convert(args: argparse.Namespace) -> int:
    """Read any supported table (with the same reader options as `info`) and write it in the
    format of OUTPUT's extension, keeping units, event index and metadata where the output
    format can hold them. NaN/inf values stop the conversion unless --drop-nonfinite is given.
    An existing OUTPUT is overwritten only with --force."""
    refuse_existing(args.output, args.force)
    table = read_table(args.input, **reader_options(args))
    usable = table.check_usable(drop_nonfinite=args.drop_nonfinite)
    write_table(usable, args.output)
    dropped = table.n_rows - usable.n_rows
    note = f" ({dropped:,} rows with NaN/inf dropped)" if dropped else ""
    print(f"wrote {usable.n_rows:,} rows x {len(usable.names)} columns to {args.output}{note}")
    return 0
