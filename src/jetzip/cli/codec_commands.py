"""`jetzip compress` and `jetzip decompress`, plus the `.jz` description `jetzip info` prints."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from jetzip.batch import JZ_SUFFIX
from jetzip.cli.batch_support import BATCH_ARGS, compress_batch, decompress_batch, is_batch
from jetzip.cli.data_commands import READER_ARGS, reader_options
from jetzip.cli.registry import FORCE_ARG, arg, command, refuse_existing
from jetzip.codec import DEFAULT_CHUNK_ROWS, ENGINES, MODES, compress_file, decompress_to
from jetzip.codec.chunk import LATENT_DTYPES
from jetzip.container import describe_file
from jetzip.entropy.columns import CONDITIONAL
from jetzip.errors import OptionError
from jetzip.evaluate.metrics import RELATIVE, residual_kind
from jetzip.validate import terminal_safe_tree

#: --engine: choices are checked by the library, so a bad name gets its one-line OptionError.
ENGINE_METAVAR = "{" + ",".join(ENGINES) + "}"

#: --threads: the codec codes one chunk per thread, and columns (and model batches) in parallel;
#: output bytes do not depend on the count.
THREADS_ARG = arg(
    "--threads",
    type=int,
    help="codec threads, each coding a chunk (default: the cores, at most 4; memory grows with "
    "them); the output is identical for any count",
)


#: What a lossless summary says, so that nobody takes a file without bounds for a lossy one.
_EXACT = ": every value is stored exactly, bit for bit"


def _format_ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


def _max_error(column: dict[str, Any], stats: dict[str, Any]) -> str:
    """The largest error in the terms of the column's tolerance (relative or absolute)."""
    tolerance = column.get("tolerance") or {}
    relative = f"{100 * stats.get('max_rel_error', 0.0):.3g}%"
    absolute = f"{stats.get('max_abs_error', 0.0):.4g}"
    if column["kind"] == "latent":  # no tolerance: relative for scale variables, as evaluate does
        return f"{absolute} ({relative})" if residual_kind(column["name"]) == RELATIVE else absolute
    return relative if tolerance.get("relative") else absolute


def format_summary(info: dict[str, Any], same_branches: dict[str, Any] | None = None) -> str:
    """Human-readable lines for a described `.jz` file: sizes, ratios, per-column choices.
    `same_branches`: the input's compressed bytes of the branches the table was read from
    (`jetzip.input_sizes.stored_input_bytes`), known at compression time, for files holding
    one collection of their input."""
    header, footer, sizes = info["header"], info["footer"], info["sizes"]
    model = header.get("model")
    lines = [
        f"file        {info['path']}  (.jz format {info['format_version']}, "
        f"jetzip {header.get('jetzip_version')})",
        _flat_source(header),
        f"mode        {header['mode']}" + (_EXACT if header["mode"] == "lossless" else ""),
        f"rows        {info['n_rows']:,} in {info['n_chunks']} chunk(s)"
        + ("  (+ event index)" if header.get("event_index") else ""),
        f"size        {sizes['file']:,} bytes = {info['bytes_per_row'] or 0:.3f} bytes/row; "
        f"without model {info['bytes_per_row_without_model'] or 0:.3f} bytes/row",
        f"ratio       vs raw float32 {_format_ratio(info['ratio_vs_float32'])} "
        f"(without model {_format_ratio(info['ratio_vs_float32_without_model'])}); "
        + _flat_input_ratio(info, same_branches),
        f"parts       header {sizes['header']:,} B, model {sizes['model']:,} B, "
        f"framing {sizes['framing']:,} B",
    ]
    if model:
        if not model["embedded"]:
            where = "referenced (not embedded)"
        elif sizes["model"]:
            where = "embedded"
        else:
            where = "not embedded (no chunk uses it)"
        if model.get("kind") == "entropy":  # codes columns with predicted probabilities
            what = f"entropy model of {model['bytes']:,} B"
        else:
            what = f"latent {model['latent_dim']} x {header.get('latent_dtype')}"
        coded = model.get("columns") or [  # (an entropy model's: those it coded)
            name
            for name, stats in footer.get("columns", {}).items()
            if CONDITIONAL in {**(stats.get("predictor") or {}), **(stats.get("methods") or {})}
        ]
        lines.append(
            f"model       sha256 {model['sha256'][:16]}... {where}, {model['n_parameters']:,} "
            f"parameters, {what}, columns {', '.join(coded) or 'none'}"
        )
    stats = footer.get("columns", {})
    width = max([12, *(len(name) for name in sizes["columns"])])
    lines.append(
        f"{'column':<{width}} {'dtype':<8} {'unit':<6} {'stored as':<24} {'tolerance':>10} "
        f"{'max error':>20} "
        f"{'bytes/row':>9} {'exceptions':>10} {'gap to H0':>9}"
    )
    for extra in sorted(set(sizes["columns"]) - {c["name"] for c in header["columns"]}):
        per_row = sizes["columns"][extra] / info["n_rows"] if info["n_rows"] else 0.0
        lines.append(f"{extra:<{width}} {'':<8} {'':<6} {'':<24} {'':>10} {'':>20} {per_row:>9.3f}")
    for column in header["columns"]:
        name = column["name"]
        s = stats.get(name, {})
        chosen = ", ".join(f"{k} x{v}" for k, v in sorted(s.get("predictor", {}).items()))
        stored = column["kind"] if column["kind"] != "bounded" else f"bounded ({chosen})"
        per_row = sizes["columns"].get(name, 0) / info["n_rows"] if info["n_rows"] else 0.0
        gap = s.get("entropy_gap")
        lines.append(
            f"{name:<{width}} {column['dtype']:<8} {column.get('unit') or '-':<6} {stored:<24} "
            f"{s.get('tolerance') or '-':>10} "
            f"{_max_error(column, s):>20} {per_row:>9.3f} {s.get('n_exceptions', 0):>10} "
            f"{'-' if gap is None else f'{100 * gap:+.1f}%':>9}"
        )
    return "\n".join(lines)


def _flat_input_ratio(info: dict[str, Any], same_branches: dict[str, Any] | None) -> str:
    """The input file when the table was the whole of it, else the same branches in it."""
    if info["ratio_vs_input"] is not None:
        return (
            f"vs input file {_format_ratio(info['ratio_vs_input'])} "
            f"(without model {_format_ratio(info['ratio_vs_input_without_model'])})"
        )
    if not same_branches or not same_branches["bytes"]:
        return "vs input file n/a (one collection of the input, or its size is unknown)"
    ratio = same_branches["bytes"] / info["sizes"]["file"]
    estimated = ", estimated" if same_branches["estimated"] else ""
    return (
        f"vs the same branches in the input {ratio:.2f}x "
        f"({same_branches['bytes']:,} bytes{estimated})"
    )


def _same_branches(source: str, header: dict[str, Any]) -> dict[str, Any] | None:
    """The input's compressed bytes of the ROOT branches a flat table was read from (None
    for other inputs or where the file's metadata cannot tell)."""
    meta = header.get("meta") or {}
    if meta.get("format") != "root" or not meta.get("branches"):
        return None
    from jetzip.input_sizes import stored_input_bytes  # uproot and awkward: ~0.2 s

    kind = "RNTuple" if "RNTuple" in str(meta.get("tree_class")) else "TTree"
    return stored_input_bytes(source, meta.get("tree"), kind, list(meta["branches"].values()))


def _flat_source(header: dict[str, Any]) -> str:
    """Where a flat file's table came from: the file, and for event files the tree, the
    collection and the event count."""
    source, meta = header.get("source") or {}, header.get("meta") or {}
    where = [f"tree {meta['tree']}"] if meta.get("tree") else []
    where += [f"collection {meta['collection']}"] if meta.get("collection") else []
    where += [f"{meta['n_events']:,} events"] if isinstance(meta.get("n_events"), int) else []
    size = f" ({source['bytes']:,} bytes)" if isinstance(source.get("bytes"), int) else ""
    return f"source      {source.get('path') or '?'}{size}" + (
        f"; {', '.join(where)}" if where else ""
    )


def format_events_summary(info: dict[str, Any]) -> str:
    """Human-readable lines for a whole-file `.jz`: source, tree, collections, events, and the
    rule, stored bytes and largest error of every branch."""
    tree, source = info["tree"], info["source"] or {}
    overhead = info["overhead"]
    lines = [
        f"file        {info['path']}  (whole {tree.get('kind') or tree.get('format')} "
        f"{tree.get('tree') or ''})",
        f"source      {source.get('path')} ({source.get('bytes') or 0:,} bytes)",
        f"events      {info['n_events']:,} in {info['n_event_chunks']} chunk(s) of events, "
        f"{info['n_sections']} section(s)",
        f"size        {info['file_bytes']:,} bytes; {_events_ratio(info)}",
        f"overhead    header {overhead['header']:,} B, section descriptions and framing "
        f"{overhead['descriptions_and_framing']:,} B ({info['n_sections']} sections)",
        f"policy      {info['policy']}"
        + (_EXACT if all(b["rule"] == "exact" for b in info["branches"]) else ""),
        f"branches    {len(info['branches'])} in {len(tree.get('collections', {}))} collection(s)",
    ]
    lines += [f"note        {note}" for note in tree.get("notes", [])]
    model = info.get("model")
    if model:
        lines.append(_events_model_line(model))
    totals = info.get("collections", {})
    for name, members in tree.get("collections", {}).items():
        total = totals.get(name, {})
        coded = _int(total.get("model_columns"))
        lines.append(
            f"collection  {name}: {len(members)} branch(es), {_int(total.get('bytes')):,} bytes"
            + (f", {coded} coded by the entropy model" if coded else "")
        )
    width = max([12, *(len(b["name"]) for b in info["branches"])])
    lines.append(
        f"{'branch':<{width}} {'type':<24} {'unit':<6} {'rule':<36} {'bytes':>9} {'max error':>12}"
    )
    for b in info["branches"]:
        error = "-" if b["rule"] == "exact" else f"{b['max_abs_error']:.3g}"
        if b["rule"] != "exact" and "%" in b["rule"].split(" ")[0]:
            error = f"{100 * b['max_rel_error']:.3g}%"
        rule = b["rule"] + (" (lossless in some chunks)" if b["lossless_fallbacks"] else "")
        lines.append(
            f"{b['name']:<{width}} {b['type'][:24]:<24} {b.get('unit') or '-':<6} {rule:<36} "
            f"{b['bytes']:>9,} {error:>12}"
        )
    return "\n".join(lines)


def _events_model_line(model: dict[str, Any]) -> str:
    """The entropy model of a whole file: which collection it codes, its hash, parameters and
    bytes, and in how many sections it was used."""
    stored = (
        f"{_int(model.get('bytes_in_file')):,} B embedded"
        if model.get("embedded")
        else "referenced by hash, not embedded"
    )
    offered = model.get("collection")
    spec = model.get("spec")
    trained = spec.get("collection") if isinstance(spec, dict) else None
    if trained is not None and trained != offered:  # the file lacks it: matched by member names
        offered = f"{offered} (trained on {trained}, which this file lacks)"
    return (
        f"model       entropy model {str(model.get('sha256'))[:16]}... offered to collection "
        f"{offered}: {_int(model.get('n_parameters')):,} parameters, "
        f"{_int(model.get('bytes')):,} bytes ({stored}); used in "
        f"{_int(model.get('sections_using'))} of {_int(model.get('n_sections'))} section(s)"
    )


def _int(value: Any) -> int:
    """A count from a file's header, 0 when it is not one (headers are not trusted)."""
    return value if type(value) is int else 0


def _events_ratio(info: dict[str, Any]) -> str:
    """The input file when the whole of it is stored, else the same branches in it."""
    source = info["source"] or {}
    if info["ratio_vs_input"] is not None:
        return f"vs input file {_format_ratio(info['ratio_vs_input'])} (the whole input is stored)"
    if info.get("ratio_vs_stored_branches") is None:
        return "vs input: n/a (the input's bytes of the stored branches are unknown)"
    estimated = ", estimated" if source.get("stored_bytes_estimated") else ""
    return (
        f"vs the same branches in the input {_format_ratio(info['ratio_vs_stored_branches'])} "
        f"({source['stored_bytes']:,} of the input's {_int(source.get('bytes')):,} bytes"
        f"{estimated})"
    )


def describe(path: str | Path) -> str:
    """What `jetzip info FILE.jz` prints (called by the info command for .jz files); every
    string from the file is escaped first, so that none can drive the terminal."""
    from jetzip.codec.wholefile import describe_events, is_whole_file_jz

    if is_whole_file_jz(path):
        return format_events_summary(terminal_safe_tree(describe_events(path)))
    return format_summary(terminal_safe_tree(describe_file(path)))


#: Reader options that only the flat jets workflow has: with any of them, ROOT input is read
#: as one collection (a jets Table), as before whole files existed.
_TABLE_ONLY = ("collection", "alias", "to_ptetaphim", "columns", "objects", "group", "format")


def _whole_file(args: argparse.Namespace) -> bool:
    """ROOT or event-Parquet input compresses its whole tree unless a jets-workflow option
    (`--collection`, an autoencoder `--model`, ...) is given or several inputs are (batch
    mode); an entropy model is offered to the collection it was trained on."""
    if len(args.data) != 1 or args.mode == "latent":
        return False
    if args.model:
        from jetzip.entropy.model import is_entropy_model_dir  # torch-free, but ~7 ms

        if not is_entropy_model_dir(args.model):
            return False
    if any(getattr(args, name) for name in _TABLE_ONLY):
        return False
    from jetzip.codec.wholefile import is_whole_file_source

    return is_whole_file_source(args.data[0]) and not is_batch(args.data, args.output)


def _check_jz_output(output: str, force: bool) -> None:
    """A single compressed output is a new `.jz` file (or an existing one with --force)."""
    if Path(output).suffix.lower() != JZ_SUFFIX:
        raise OptionError(
            f"compress writes .jz files: name the output {Path(output).stem}{JZ_SUFFIX}, "
            f"not {Path(output).name}"
        )
    refuse_existing(output, force)


def _compress_whole_file(args: argparse.Namespace) -> int:
    from jetzip.codec.wholefile import compress_source

    if args.mode == "bounded" and not (args.tolerance or args.default_tolerance or args.precision):
        raise OptionError("mode 'bounded' needs --tolerance or --precision")
    precision = "lossless" if args.mode == "lossless" else args.precision
    rules = [args.tolerance, args.default_tolerance and f"*={args.default_tolerance}"]
    tolerance = ",".join(r for r in rules if r) or None
    info = compress_source(
        args.data[0],
        args.output,
        tolerance=tolerance,
        precision=precision,
        tree=args.tree,
        branches=args.branches,
        **({} if args.chunk_events is None else {"step_events": args.chunk_events}),
        skip_unsupported=args.skip_unsupported,
        threads=args.threads,
        model=args.model,
        model_ref=args.model_ref,
    )
    if not args.quiet:
        print(format_events_summary(terminal_safe_tree(info)))
    return 0


@command(
    "compress",
    "Compress a table file into a .jz file.",
    arg(
        "data",
        nargs="+",
        help="input table (any format jetzip reads); several files, a quoted glob or a "
        "directory compress each file in batch mode",
    ),
    arg("-o", "--output", required=True, help="output .jz file, or a directory (batch mode)"),
    arg(
        "--mode",
        choices=MODES,
        help="default: bounded with --tolerance, latent with --model only, else lossless",
    ),
    arg(
        "--tolerance",
        help="per-column bounds, e.g. pt=0.1%%,m=0.1%%,eta=0.001,phi=0.001 "
        "(%% = relative, plain number = absolute); whole files: globs on branch names, "
        "e.g. '*_pt=0.1%%,*_eta=0.001' (the most specific pattern wins)",
    ),
    arg(
        "--precision",
        help="whole files: a named policy, nanoaod (CMS NanoAOD's own precision), physlite "
        "(ATLAS PHYSLITE kinematics) or lossless; --tolerance refines it",
    ),
    arg(
        "--skip-unsupported",
        action="store_true",
        help="whole files: leave out branches that cannot be stored exactly (each is named in "
        "the file's notes) instead of refusing the file",
    ),
    arg(
        "--chunk-events",
        type=int,
        help="whole files: events per independent chunk (default 100,000)",
    ),
    arg(
        "--default-tolerance",
        help="bound for float columns not named in --tolerance "
        "(default: those are stored losslessly)",
    ),
    arg("--model", metavar="MODEL_DIR", help="trained model directory (jetzip train)"),
    arg("--model-ref", action="store_true", help="store only the model's hash, not its bytes"),
    arg(
        "--latent-dtype",
        choices=LATENT_DTYPES,
        help="latent storage (default: float32 in latent mode, float16 in bounded mode)",
    ),
    arg("--chunk-rows", type=int, default=DEFAULT_CHUNK_ROWS, help="rows per independent chunk"),
    arg("--allow-nonfinite", action="store_true", help="store NaN/inf exactly instead of refusing"),
    arg(
        "--engine",
        default="torch",
        metavar=ENGINE_METAVAR,
        help="what runs the network: torch (default) or onnx (ONNX Runtime, about twice as "
        "fast); recorded in the file",
    ),
    THREADS_ARG,
    *READER_ARGS,
    *BATCH_ARGS,
    FORCE_ARG,
    arg("--quiet", action="store_true", help="no progress bar or summary"),
)
def compress(args: argparse.Namespace) -> int:
    """Compress DATA into a self-describing .jz file; every bounded value meets its tolerance.

    A ROOT file (or a Parquet file of one row per event) is compressed whole: every branch of
    the tree (--branches GLOBS to choose), every event; an entropy model (--model) is offered
    to the collection it was trained on. --collection, an autoencoder --model and the other
    table options, flat tables, the ATLAS pickle and DarkMachines keep the jets workflow.
    An existing output is overwritten only with --force (batch mode: complete outputs are
    skipped, others refused, and --force redoes every file)."""
    if not is_batch(args.data, args.output):
        _check_jz_output(args.output, args.force)
    if _whole_file(args):
        return _compress_whole_file(args)
    if args.precision is not None or args.skip_unsupported:
        raise OptionError(
            "--precision and --skip-unsupported apply to whole files (one ROOT or event "
            "Parquet input without --collection)"
        )
    options = {
        "chunk_rows": args.chunk_rows,
        "read_options": reader_options(args),
        "mode": args.mode,
        "tolerances": args.tolerance,
        "default_tolerance": args.default_tolerance,
        "model": args.model,
        "model_ref": args.model_ref,
        "latent_dtype": args.latent_dtype,
        "allow_nonfinite": args.allow_nonfinite,
        "engine": args.engine,
        "threads": args.threads,
    }
    if is_batch(args.data, args.output):
        return compress_batch(args, options)
    info = compress_file(args.data[0], args.output, progress=not args.quiet, **options)
    if not args.quiet:
        print(format_summary(info, _same_branches(args.data[0], info["header"])))
    if info["header"]["mode"] == "latent":
        from jetzip.models.quality import model_dir_warning

        warning = model_dir_warning(args.model)
        if warning:
            print(warning, file=sys.stderr)
    return 0


@command(
    "decompress",
    "Decompress a .jz file into a table file.",
    arg("file", nargs="+", help="input .jz file; several, a quoted glob or a directory: batch"),
    arg(
        "-o", "--output", required=True, help="output table (.parquet .pkl .csv .h5 .npz .root ...)"
    ),
    arg("--model", metavar="MODEL_DIR", help="model directory, for files written with --model-ref"),
    arg(
        "--format",
        help="batch mode: output format, e.g. parquet (default), hdf5, root (a single "
        "output's format comes from its extension)",
    ),
    arg(
        "--engine",
        metavar=ENGINE_METAVAR,
        help="what runs the network (default: the engine that wrote the file; another one "
        "only for latent-mode files)",
    ),
    arg(
        "--collection",
        help="whole files: write one collection as a flat table (a row per object, the event "
        "index), e.g. Jet or AnalysisJetsAuxDyn, in any table format",
    ),
    arg(
        "--kind",
        metavar="{TTree,RNTuple}",
        help="whole files to .root: write a TTree or an RNTuple (default: what the input was)",
    ),
    THREADS_ARG,
    *BATCH_ARGS,
    FORCE_ARG,
)
def decompress(args: argparse.Namespace) -> int:
    """Restore the table (columns, dtypes, event index, units, metadata) from a .jz file.
    An existing output is overwritten only with --force."""
    if is_batch(args.file, args.output):
        if args.engine is not None:
            raise OptionError("--engine applies to single-file decompression only")
        return decompress_batch(args)
    refuse_existing(args.output, args.force)
    from jetzip.codec.wholefile import is_whole_file_jz

    if is_whole_file_jz(args.file[0]):
        from jetzip.codec.wholefile import decompress_events

        if args.engine:
            raise OptionError("--engine applies to flat (jets) files only")
        if args.collection:
            from jetzip.codec.wholefile import collection_table
            from jetzip.io import write_table

            table = collection_table(args.file[0], args.collection, model=args.model)
            write_table(table, args.output)
            print(f"wrote {table.n_rows:,} rows of {args.collection} to {args.output}")
            return 0
        n_events = decompress_events(
            args.file[0], args.output, kind=args.kind, threads=args.threads, model=args.model
        )
        print(f"wrote {n_events:,} events to {args.output}")
        return 0
    if args.kind is not None or args.collection is not None:
        raise OptionError("--kind and --collection apply to whole-file .jz files only")
    n_rows = decompress_to(
        args.file[0], args.output, model=args.model, engine=args.engine, threads=args.threads
    )
    print(f"wrote {n_rows:,} rows to {args.output}")
    return 0
