"""`jetzip evaluate ORIGINAL RECONSTRUCTED -o REPORT_DIR`: numbers, plots and an HTML report."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path
from typing import Any

from jetzip.batch import JZ_SUFFIX
from jetzip.cli.batch_support import EVALUATE_BATCH_ARGS, evaluate_batch, is_batch
from jetzip.cli.registry import arg, command
from jetzip.errors import OptionError
from jetzip.evaluate.metrics import DEFAULT_RECOVERED_WITHIN
from jetzip.table import Table

_READ_OPTIONS = ("tree", "collection", "objects")
#: Matches jetzip.evaluate.plots.STYLES (not imported here: the CLI starts without matplotlib).
STYLES = ("ATLAS", "CMS", "none")
DEFAULT_STYLE = "ATLAS"


def _read_options(args: argparse.Namespace) -> dict[str, Any]:
    return {k: getattr(args, k) for k in _READ_OPTIONS if getattr(args, k, None) is not None}


def _command_line(args: argparse.Namespace) -> str:
    """The command as it could be typed again, for the report's provenance section."""
    words = ["jetzip", "evaluate", args.original, args.reconstructed, "-o", args.output]
    for flag, value in (
        ("--model", args.model),
        ("--tolerance", args.tolerance),
        ("--recovered-within", args.recovered_within),
        *((f"--{k}", getattr(args, k)) for k in _READ_OPTIONS),
    ):
        if value is not None and value != DEFAULT_RECOVERED_WITHIN:
            words += [flag, str(value)]
    if args.style != DEFAULT_STYLE:
        words += ["--style", args.style]
    if args.status is not None:
        words += ["--status", args.status]
    words += [
        flag
        for flag, on in (
            ("--data", args.data),
            ("--all-plots", args.all_plots),
            ("--no-costs", args.no_costs),
            ("--no-baselines", args.no_baselines),
        )
        if on
    ]
    return shlex.join(words)


def _is_jz(path: str) -> bool:
    """Whether `path` names a .jz file (`X.JZ` too, as `compress` accepts it)."""
    return Path(path).suffix.lower() == JZ_SUFFIX


def _read_reconstruction(path: str, model: Any, options: dict[str, Any]) -> Table:
    if _is_jz(path):
        from jetzip.codec import decompress_file

        return decompress_file(path, model=model)
    from jetzip.io import read_table

    return read_table(path, **options)


@command(
    "evaluate",
    "Compare a reconstruction with the original: metrics.json, plots and an HTML report.",
    arg(
        "original",
        help="the original table (any format jetzip reads); a quoted glob or a directory "
        "evaluates each file (batch mode)",
    ),
    arg(
        "reconstructed",
        nargs="?",
        help="the reconstructed table, or a .jz file (decompressed on the fly); in batch mode "
        "the directory holding them under the same relative names (not with --compare)",
    ),
    arg("-o", "--output", required=True, help="report directory to write (replaced if present)"),
    arg("--model", help="MODEL_DIR of the model used: adds loss curves, latent plots, costs"),
    arg("--tolerance", help="error bounds to check, e.g. pt=0.1%%,m=0.1%%,eta=0.001,phi=0.001"),
    arg(
        "--recovered-within",
        type=float,
        default=DEFAULT_RECOVERED_WITHIN,
        help="|residual| up to which a value counts as recovered (relative for m, E, pt)",
    ),
    arg("--no-costs", action="store_true", help="skip timing the model's encode/decode"),
    arg(
        "--no-baselines",
        action="store_true",
        help="skip measuring rounding, NanoAOD precision and SZ3 on this table (.jz input)",
    ),
    arg("--style", choices=STYLES, default=DEFAULT_STYLE, help="experiment style of the plots"),
    arg(
        "--status",
        help="text after the experiment label (default: Internal for ATLAS, Private Work for CMS)",
    ),
    arg("--data", action="store_true", help="recorded data: no 'Simulation' in the label"),
    arg(
        "--all-plots",
        action="store_true",
        help="every column's figures (exact ones too), the profile vs m and the bytes per "
        "column (default: ~25 figures at most)",
    ),
    arg(
        "--compare",
        metavar="OTHER_DATA",
        help="anomaly comparison instead: score ORIGINAL and OTHER_DATA with --model (per-jet "
        "reconstruction error), write score distributions, ROC curve and AUC",
    ),
    arg("--tree", help="ROOT tree to read"),
    arg("--collection", help="jet collection (branch prefix) in ROOT files"),
    arg("--objects", help="DarkMachines object types to keep, e.g. j,b"),
    *EVALUATE_BATCH_ARGS,
)
def evaluate_command(args: argparse.Namespace) -> int:
    """Rows are matched by position (and event index when both tables have one); different
    columns or row counts are an error. Prints the summary table and the report's path; exits
    with status 2 when a requested tolerance is violated."""
    if args.compare is not None:
        from jetzip.cli.model_commands import compare_command

        return compare_command(args, _read_options(args))
    if args.reconstructed is None:
        raise OptionError("give RECONSTRUCTED (or --compare OTHER_DATA --model MODEL_DIR)")
    if is_batch([args.original], None) or Path(args.reconstructed).is_dir():
        return evaluate_batch(args, _read_options(args))
    if _is_jz(args.reconstructed):
        from jetzip.codec.wholefile import is_whole_file_jz

        if is_whole_file_jz(args.reconstructed):
            return _evaluate_whole_file(args)
    from jetzip.evaluate import evaluate, format_summary_table, write_report

    model = None
    if args.model is not None:
        from jetzip.models import TrainedModel

        model = TrainedModel.load(args.model)
    from jetzip.io import read_table

    options = _read_options(args)
    original = read_table(args.original, **options)
    reconstructed = _read_reconstruction(args.reconstructed, model, options)
    is_jz = _is_jz(args.reconstructed)
    metrics = evaluate(
        original,
        reconstructed,
        model=model,
        tolerances=args.tolerance,
        compressed_path=args.reconstructed if is_jz else None,
        original_path=args.original,
        model_dir=args.model,
        recovered_within=args.recovered_within,
        measure_costs=not args.no_costs,
        compare_baselines=not args.no_baselines,
    )
    from jetzip.evaluate.plots import PlotStyle

    page = write_report(
        args.output,
        original,
        reconstructed,
        metrics,
        model=model,
        model_dir=args.model,
        command=_command_line(args),
        style=PlotStyle(args.style, args.status, args.data),
        all_plots=args.all_plots,
    )
    print(format_summary_table(metrics))
    print(f"report: {page}")
    return _status([metrics])


def _status(all_metrics: list[Any]) -> int:
    """2 when any rule is broken anywhere, else 0."""
    rules = [t for m in all_metrics for t in (m.get("tolerances") or {}).values()]
    return 2 if any(t["violations"] for t in rules) else 0


def _evaluate_whole_file(args: argparse.Namespace) -> int:
    """A whole-file .jz against its source: one report section per collection and one for the
    event-level branches (`--tolerance` names branches, e.g. Jet_pt=0.1%)."""
    from jetzip.evaluate import format_summary_table
    from jetzip.evaluate.plots import PlotStyle
    from jetzip.evaluate.report import write_sections
    from jetzip.evaluate.wholefile import event_sections

    if args.model is not None:
        raise OptionError("--model applies to jet tables, not whole-file .jz files")
    sections, skipped = event_sections(
        args.original,
        args.reconstructed,
        tolerances=args.tolerance,
        recovered_within=args.recovered_within,
        tree=args.tree,
    )
    page = write_sections(
        args.output,
        sections,
        command=_command_line(args),
        style=PlotStyle(args.style, args.status, args.data),
        all_plots=args.all_plots,
        notes=[f"Not evaluated (not one number per object or event): {', '.join(skipped)}."]
        if skipped
        else [],
    )
    for section in sections:
        print(f"== {section.name} ({section.metrics['n_rows']} {section.objects}s)")
        print(format_summary_table(section.metrics))
    if skipped:
        print(f"not evaluated ({len(skipped)} branches of other shapes): {', '.join(skipped)}")
    print(f"report: {page}")
    return _status([s.metrics for s in sections])
