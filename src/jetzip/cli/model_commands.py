"""`jetzip import-model` (a HEPAutoencoders-style state dict as MODEL_DIR) and `jetzip score`
(per-jet anomaly scores): thin wrappers around jetzip.models.importing and jetzip.anomaly."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from jetzip.cli.registry import arg, command
from jetzip.errors import InputError, OptionError
from jetzip.models.presets import PRESET_NAMES


def _floats(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers, got {text!r}"
        ) from None


def _units(text: str) -> dict[str, str]:
    pairs = [u.split("=", 1) for u in text.split(",") if u]
    if any(len(p) != 2 for p in pairs):
        raise argparse.ArgumentTypeError(f"expected COLUMN=UNIT pairs, got {text!r}")
    return {column: unit for column, unit in pairs}


def _normalisation_file(path: str) -> tuple[list[str], list[float], list[float]]:
    """columns, mean, std from JSON {"columns": [...], "mean": [...], "std": [...]}: names and
    finite numbers, checked as a `.jz` section is (anything else is one CorruptFileError)."""
    from jetzip.validate import load_json, require_list, require_number, require_str

    try:
        data = load_json(Path(path).read_bytes(), f"normalisation file {path}")
    except FileNotFoundError:
        raise InputError(f"normalisation file not found: {path}") from None
    columns = require_list(data.get("columns"), f"the 'columns' list of {path}")
    mean, std = (require_list(data.get(k), f"the {k!r} list of {path}") for k in ("mean", "std"))
    return (
        [require_str(c, f"a column name in {path}") for c in columns],
        [require_number(m, f"a mean in {path}") for m in mean],
        [require_number(s, f"a std in {path}") for s in std],
    )


@command(
    "import-model",
    "Turn a HEPAutoencoders-style PyTorch state dict into a jetzip MODEL_DIR.",
    arg("state_dict", metavar="FILE.pth", help="state dict with layers en1.., de1.. (or fastai's)"),
    arg("-o", "--output", required=True, metavar="MODEL_DIR", help="model directory to write"),
    arg("--preset", default="AE_3D_200", choices=PRESET_NAMES, help="the network's architecture"),
    arg("--columns", help="input columns in the network's order, e.g. E,pt,eta,phi"),
    arg("--mean", type=_floats, help="per-column mean of the standard normalisation"),
    arg("--std", type=_floats, help="per-column std of the standard normalisation"),
    arg(
        "--normalisation-file",
        metavar="JSON",
        help='instead of --columns/--mean/--std: {"columns": [...], "mean": [...], "std": [...]}',
    ),
    arg(
        "--units",
        type=_units,
        help="units of the columns, e.g. E=MeV,pt=MeV (default: none recorded)",
    ),
    arg("--overwrite", action="store_true", help="replace MODEL_DIR if it exists"),
)
def import_model(args: argparse.Namespace) -> int:
    """The network takes (x - mean) / std per column and gives the same back; its tanh layers,
    latent and weights become a jetzip model that every command accepts (compress --model,
    evaluate --model, train --init, score, export). A state dict whose layers or shapes do not
    match the preset is refused, naming the layer."""
    from jetzip.fileutil import atomic_output
    from jetzip.models import MODEL_FILE
    from jetzip.models.importing import import_state_dict, load_state_dict

    if args.normalisation_file:
        if args.columns or args.mean or args.std:
            raise OptionError("give --normalisation-file or --columns/--mean/--std, not both")
        columns, mean, std = _normalisation_file(args.normalisation_file)
    elif args.columns and args.mean and args.std:
        columns, mean, std = [c.strip() for c in args.columns.split(",")], args.mean, args.std
    else:
        raise OptionError("need --columns, --mean and --std (or --normalisation-file)")
    out = Path(args.output)
    if out.exists() and not args.overwrite:
        raise OptionError(f"{out} already exists; use --overwrite to replace it")
    model = import_state_dict(
        load_state_dict(args.state_dict), args.preset, columns, mean, std, args.units
    )
    with atomic_output(out, directory=True) as tmp:
        (tmp / MODEL_FILE).write_bytes(model.to_bytes())
    print(
        f"wrote {out}: {args.preset}, {model.n_parameters:,} parameters, columns "
        f"{', '.join(model.columns)}, sha256 {model.content_hash()[:16]}..."
    )
    return 0


@command(
    "score",
    "Per-jet anomaly scores: reconstruction error in the model's normalised space.",
    arg("model_dir", metavar="MODEL", help="trained model directory"),
    arg("data", help="jets to score (any format jetzip reads)"),
    arg("-o", "--output", required=True, help="scores table to write (.parquet, .csv, ...)"),
    arg("--format", default=None, help="input format when the extension does not tell"),
)
def score(args: argparse.Namespace) -> int:
    """One row per jet: score_<column> = (x_norm - AE(x_norm))^2 for each model column and
    score = their mean, with the event index of DATA."""
    import numpy as np

    from jetzip.anomaly import SCORE, anomaly_scores
    from jetzip.io import read_table, write_table
    from jetzip.models import TrainedModel

    model = TrainedModel.load(args.model_dir)
    scores = anomaly_scores(model, read_table(args.data, format=args.format))
    write_table(scores, args.output)
    q50, q99 = np.percentile(scores[SCORE], [50, 99])
    print(
        f"wrote {scores.n_rows:,} scores to {args.output}: median {q50:.3g}, 99th percentile "
        f"{q99:.3g}"
    )
    return 0


def compare_command(args: argparse.Namespace, read_options: dict[str, Any]) -> int:
    """`jetzip evaluate DATA --compare OTHER_DATA --model MODEL_DIR -o DIR`: anomaly scores of
    both samples, their distributions, the ROC curve and its AUC (OTHER_DATA as signal)."""
    from jetzip.anomaly import compare_samples
    from jetzip.io import read_table
    from jetzip.models import TrainedModel

    if args.model is None:
        raise OptionError("--compare needs --model MODEL_DIR (the model that scores the jets)")
    if args.reconstructed is not None:
        raise OptionError("--compare takes one data file besides OTHER_DATA, not RECONSTRUCTED")
    model = TrainedModel.load(args.model)
    labels = (Path(args.original).stem, Path(args.compare).stem)
    result = compare_samples(
        model,
        read_table(args.original, **read_options),
        read_table(args.compare, **read_options),
        args.output,
        labels,
    )
    per_column = ", ".join(f"{k[6:]} {v:.3f}" for k, v in result["auc_per_column"].items())
    print(
        f"{labels[0]} ({result['n_jets'][0]:,} jets) vs {labels[1]} ({result['n_jets'][1]:,} "
        f"jets): AUC {result['auc']:.3f} (per column: {per_column}); wrote {args.output}"
    )
    return 0
