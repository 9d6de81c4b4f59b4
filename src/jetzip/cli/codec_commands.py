"""`jetzip compress` and `jetzip decompress`, plus the `.jz` description `jetzip info` prints."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from jetzip.cli.batch_support import BATCH_ARGS, compress_batch, decompress_batch, is_batch
from jetzip.cli.data_commands import READER_ARGS, reader_options
from jetzip.cli.registry import arg, command
from jetzip.codec import DEFAULT_CHUNK_ROWS, ENGINES, MODES, compress_file, decompress_to
from jetzip.codec.chunk import LATENT_DTYPES
from jetzip.container import describe_file
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


def format_summary(info: dict[str, Any]) -> str:
    """Human-readable lines for a described `.jz` file: sizes, ratios, per-column choices."""
    header, footer, sizes = info["header"], info["footer"], info["sizes"]
    model = header.get("model")
    lines = [
        f"file        {info['path']}  (.jz format {info['format_version']}, "
        f"jetzip {header.get('jetzip_version')})",
        f"mode        {header['mode']}",
        f"rows        {info['n_rows']:,} in {info['n_chunks']} chunk(s)"
        + ("  (+ event index)" if header.get("event_index") else ""),
        f"size        {sizes['file']:,} bytes = {info['bytes_per_row'] or 0:.3f} bytes/row; "
        f"without model {info['bytes_per_row_without_model'] or 0:.3f} bytes/row",
        f"ratio       vs raw float32 {_format_ratio(info['ratio_vs_float32'])} "
        f"(without model {_format_ratio(info['ratio_vs_float32_without_model'])}); "
        f"vs input file {_format_ratio(info['ratio_vs_input'])} "
        f"(without model {_format_ratio(info['ratio_vs_input_without_model'])})",
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
        lines.append(
            f"model       sha256 {model['sha256'][:16]}... {where}, {model['n_parameters']:,} "
            f"parameters, latent {model['latent_dim']} x {header.get('latent_dtype')}, "
            f"columns {', '.join(model['columns'])}"
        )
    stats = footer.get("columns", {})
    width = max([12, *(len(name) for name in sizes["columns"])])
    lines.append(
        f"{'column':<{width}} {'dtype':<8} {'stored as':<24} {'tolerance':>10} {'max error':>20} "
        f"{'bytes/row':>9} {'exceptions':>10} {'gap to H0':>9}"
    )
    for extra in sorted(set(sizes["columns"]) - {c["name"] for c in header["columns"]}):
        per_row = sizes["columns"][extra] / info["n_rows"] if info["n_rows"] else 0.0
        lines.append(f"{extra:<{width}} {'':<8} {'':<24} {'':>10} {'':>20} {per_row:>9.3f}")
    for column in header["columns"]:
        name = column["name"]
        s = stats.get(name, {})
        chosen = ", ".join(f"{k} x{v}" for k, v in sorted(s.get("predictor", {}).items()))
        stored = column["kind"] if column["kind"] != "bounded" else f"bounded ({chosen})"
        per_row = sizes["columns"].get(name, 0) / info["n_rows"] if info["n_rows"] else 0.0
        gap = s.get("entropy_gap")
        lines.append(
            f"{name:<{width}} {column['dtype']:<8} {stored:<24} {s.get('tolerance') or '-':>10} "
            f"{_max_error(column, s):>20} {per_row:>9.3f} {s.get('n_exceptions', 0):>10} "
            f"{'-' if gap is None else f'{100 * gap:+.1f}%':>9}"
        )
    return "\n".join(lines)


def describe(path: str | Path) -> str:
    """What `jetzip info FILE.jz` prints (called by the info command for .jz files); every
    string from the file is escaped first, so that none can drive the terminal."""
    return format_summary(terminal_safe_tree(describe_file(path)))


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
        "(%% = relative, plain number = absolute)",
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
    arg("--quiet", action="store_true", help="no progress bar or summary"),
)
def compress(args: argparse.Namespace) -> int:
    """Compress DATA into a self-describing .jz file; every bounded value meets its tolerance."""
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
        print(format_summary(info))
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
    THREADS_ARG,
    *BATCH_ARGS,
)
def decompress(args: argparse.Namespace) -> int:
    """Restore the table (columns, dtypes, event index, units, metadata) from a .jz file."""
    if is_batch(args.file, args.output):
        if args.engine is not None:
            raise OptionError("--engine applies to single-file decompression only")
        return decompress_batch(args)
    n_rows = decompress_to(
        args.file[0], args.output, model=args.model, engine=args.engine, threads=args.threads
    )
    print(f"wrote {n_rows:,} rows to {args.output}")
    return 0
