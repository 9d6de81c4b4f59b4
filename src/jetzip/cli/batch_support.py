"""Batch mode of `compress`, `decompress` and `evaluate`: many files on a dask cluster.

The commands stay single-file commands; each asks `is_batch` whether its inputs name several
files (a list, a quoted glob, a directory) or its output is a directory, and if so hands the
parsed arguments to the matching `*_batch` function here, which calls `jetzip.batch`, prints
the summary table and returns the exit status (1 when any file failed).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jetzip.batch import (
    GLOB_CHARACTERS,
    JZ_SUFFIX,
    LOCAL,
    BatchSummary,
    compress_many,
    decompress_many,
    evaluate_many,
    expand_inputs,
)
from jetzip.cli.registry import Arg, arg

BATCH_ARGS: tuple[Arg, ...] = (
    arg(
        "--scheduler",
        default=LOCAL,
        help="batch mode: 'local' (a process per core on this machine) or the address of a "
        "running dask.distributed scheduler, e.g. tcp://HOST:8786",
    ),
    arg("--workers", type=int, help="batch mode, local scheduler: worker processes (all cores)"),
    arg(
        "--retries",
        type=int,
        default=1,
        help="batch mode: extra attempts for a file whose task fails unexpectedly",
    ),
)


def _names_many(path: str) -> bool:
    return Path(path).is_dir() or (not Path(path).exists() and bool(GLOB_CHARACTERS & set(path)))


def is_batch(inputs: Sequence[str], output: str | None) -> bool:
    """Several inputs, a glob (a name that does not exist as such) or a directory as input, or
    a directory as output."""
    if len(inputs) > 1 or any(_names_many(p) for p in inputs):
        return True
    return output is not None and (output.endswith(("/", "\\")) or Path(output).is_dir())


def _finish(summary: BatchSummary) -> int:
    print(summary.format_table())
    return summary.exit_status


def _input_suffixes(args: argparse.Namespace) -> list[str]:
    from jetzip.io import FORMATS, supported_extensions

    chosen = FORMATS[args.format].extensions if args.format else ()
    return list(chosen) or supported_extensions()  # DarkMachines files have no own extension


def compress_batch(args: argparse.Namespace, options: dict[str, Any]) -> int:
    """`jetzip compress INPUTS... -o OUT_DIR`: one .jz per input, same relative names.

    `options` are the keyword arguments the single-file command passes to `compress_file`.
    """
    summary = compress_many(
        expand_inputs(args.data, _input_suffixes(args)),
        args.output,
        scheduler=args.scheduler,
        workers=args.workers,
        retries=args.retries,
        progress=not args.quiet,
        force=args.force,
        **options,
    )
    return _finish(summary)


def decompress_batch(args: argparse.Namespace) -> int:
    """`jetzip decompress FILES.jz... -o OUT_DIR [--format parquet]`."""
    summary = decompress_many(
        expand_inputs(args.file, [JZ_SUFFIX]),
        args.output,
        format=args.format or "parquet",
        scheduler=args.scheduler,
        workers=args.workers,
        retries=args.retries,
        model=args.model,
        force=args.force,
    )
    return _finish(summary)


def evaluate_batch(args: argparse.Namespace, read_options: dict[str, object]) -> int:
    """`jetzip evaluate 'ORIGINALS' RECONSTRUCTED_DIR -o REPORTS_DIR`: a report per file."""
    from jetzip.io import supported_extensions

    summary = evaluate_many(
        expand_inputs([args.original], supported_extensions()),
        args.reconstructed,
        args.output,
        scheduler=args.scheduler,
        workers=args.workers,
        retries=args.retries,
        model=args.model,
        tolerances=args.tolerance,
        recovered_within=args.recovered_within,
        measure_costs=False,  # timings taken beside other busy workers would mislead
        plots=not args.metrics_only,
        style=(args.style, args.status, args.data),
        all_plots=args.all_plots,
        compare_baselines=not args.no_baselines,
        read_options=read_options,
        command=shlex.join(["jetzip", *sys.argv[1:]]),
    )
    return _finish(summary)


EVALUATE_BATCH_ARGS: tuple[Arg, ...] = (
    *BATCH_ARGS,
    arg(
        "--metrics-only",
        action="store_true",
        help="batch mode: write only metrics.json per file, no plots or HTML page",
    ),
)
