"""`jetzip train` and `jetzip lr-find`: thin wrappers around jetzip.training."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from jetzip.cli.registry import TREE_ARG, Arg, arg, command
from jetzip.errors import InputError, OptionError
from jetzip.models.presets import ACTIVATION_NAMES, PRESET_NAMES
from jetzip.training.config import LOSSES, SCHEDULES, TrainConfig, load_toml, make_config
from jetzip.transforms import SCHEMES

D = TrainConfig()  # defaults shown in --help
SUPPRESS = argparse.SUPPRESS  # options not given stay out of the namespace, so config files apply


def _int_list(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None


def _name_list(text: str) -> list[str]:
    return [v.strip() for v in text.split(",") if v.strip()]


def _dropout(text: str) -> float | list[float]:
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or a list, got {text!r}") from None
    return values[0] if len(values) == 1 else values


DATA_AND_MODEL_ARGS: tuple[Arg, ...] = (
    arg("data", help="training data (any format jetzip.io reads)"),
    arg("--config", help="TOML file with training options (command-line options win)"),
    arg("--format", default=None, help="input format when the extension does not tell"),
    arg(
        "--columns",
        type=_name_list,
        default=SUPPRESS,
        help="comma-separated columns to train on (default: every float column)",
    ),
    arg(
        "--drop-nonfinite",
        action="store_true",
        default=SUPPRESS,
        help="drop rows holding NaN/inf in the chosen columns (default: refuse such data)",
    ),
    arg(
        "--preset",
        default=SUPPRESS,
        choices=PRESET_NAMES,
        help=f"architecture (default {D.preset})",
    ),
    arg("--latent", type=int, default=SUPPRESS, help="latent size (default: the preset's)"),
    arg(
        "--encoder",
        type=_int_list,
        default=SUPPRESS,
        help="hidden widths of the encoder, e.g. 200,100,50 (decoder mirrors; default: preset's)",
    ),
    arg(
        "--activation",
        default=SUPPRESS,
        choices=ACTIVATION_NAMES,
        help="activation (default: the preset's)",
    ),
    arg(
        "--batch-norm",
        action=argparse.BooleanOptionalAction,
        default=SUPPRESS,
        help="batch normalisation after each hidden layer (default: the preset's)",
    ),
    arg(
        "--dropout",
        type=_dropout,
        default=SUPPRESS,
        help=f"dropout, one value or one per hidden layer (default {D.dropout})",
    ),
    arg(
        "--latent-activation",
        action=argparse.BooleanOptionalAction,
        default=SUPPRESS,
        help="apply the activation to the latent code (default: no)",
    ),
    arg("--kl-weight", type=float, default=SUPPRESS, help=f"VAE KL weight (default {D.kl_weight})"),
    arg(
        "--normalisation",
        default=SUPPRESS,
        choices=SCHEMES,
        help=f"input normalisation scheme (default {D.normalisation}: asinh m/E, log pt, eta/5, "
        "phi/3, then z-score; other columns z-score). Per-column chains: [transforms] in --config",
    ),
    arg(
        "--batch-size",
        type=int,
        default=SUPPRESS,
        help=f"global batch size (default {D.batch_size})",
    ),
    arg(
        "--weight-decay",
        type=float,
        default=SUPPRESS,
        help=f"AdamW weight decay (default {D.weight_decay})",
    ),
    arg("--loss", default=SUPPRESS, choices=LOSSES, help=f"reconstruction loss (default {D.loss})"),
    arg(
        "--val-fraction",
        type=float,
        default=SUPPRESS,
        help=f"validation share of the rows (default {D.val_fraction})",
    ),
    arg(
        "--test-fraction",
        type=float,
        default=SUPPRESS,
        help=f"test share of the rows, held out (default {D.test_fraction})",
    ),
    arg(
        "--seed",
        type=int,
        default=SUPPRESS,
        help=f"seed of split, init and shuffling (default {D.seed})",
    ),
    arg(
        "--threads", type=int, default=SUPPRESS, help="torch CPU threads (default: torch's choice)"
    ),
    arg("--device", default=SUPPRESS, help=f"cpu, cuda or cuda:N (default {D.device})"),
    arg(
        "--sparsity",
        default=SUPPRESS,
        metavar="l1:WEIGHT|kl:WEIGHT:RHO",
        help="sparse autoencoder: L1 penalty on the hidden activations, or a KL penalty pulling "
        "each hidden unit's mean |activation| toward RHO (tanh, sigmoid, softmax) (default none)",
    ),
    arg(
        "--l2",
        type=float,
        default=SUPPRESS,
        help=f"L2 regularisation: this times the sum of squared weights, in the loss "
        f"(default {D.l2})",
    ),
)

#: Options that set the architecture, which --init takes from the model instead.
ARCHITECTURE_OPTIONS = (
    "preset",
    "latent",
    "encoder",
    "activation",
    "batch_norm",
    "dropout",
    "latent_activation",
    "kl_weight",
    "normalisation",
)


def _config(args: argparse.Namespace, base: dict[str, Any] | None = None) -> TrainConfig:
    file_values = dict(base or {})
    if args.config:
        file_values.update(load_toml(args.config))
    cli_values = {k: v for k, v in vars(args).items() if k in TrainConfig.__dataclass_fields__}
    return make_config(file_values, cli_values)


def _read(args: argparse.Namespace):  # -> Table
    """The training table; of a ROOT file, one collection (the jets workflow's reader: the jets
    by default, or --tree / --collection), its columns named by the collection's members."""
    from jetzip.io import read_table

    where = {k: getattr(args, k, None) for k in ("tree", "collection")}
    table = read_table(args.data, format=args.format, **{k: v for k, v in where.items() if v})
    if not where["collection"]:
        return table
    from jetzip.codec.wholefile import member_key
    from jetzip.io.names import apply_alias

    # `--collection Jet` reads `_pt`, `_mass`: named `pt`, `m` as whole files match them
    return apply_alias(table, {name: member_key(name) for name in table.names})


@command(
    "train",
    "Train an autoencoder and write MODEL_DIR.",
    *DATA_AND_MODEL_ARGS,
    arg(
        "-o",
        "--output",
        required=True,
        metavar="MODEL_DIR",
        help="directory to write: model.jzm, config.json, history.csv, test_indices.npy, "
        "checkpoint.pt",
    ),
    arg("--epochs", type=int, default=SUPPRESS, help=f"number of epochs (default {D.epochs})"),
    arg(
        "--max-time",
        default=SUPPRESS,
        help="time budget, e.g. 90s, 10m, 1.5h; the schedule is compressed to fit (default none)",
    ),
    arg("--lr", type=float, default=SUPPRESS, help=f"peak learning rate (default {D.lr})"),
    arg(
        "--schedule",
        default=SUPPRESS,
        choices=SCHEDULES,
        help=f"lr schedule (default {D.schedule})",
    ),
    arg(
        "--patience",
        type=int,
        default=SUPPRESS,
        help="stop after this many epochs without validation improvement (default: never)",
    ),
    arg(
        "--tensorboard",
        default=SUPPRESS,
        metavar="LOG_DIR",
        help="also log per-epoch metrics and reconstruction figures for TensorBoard (needs the "
        "tensorboard package: pip install 'jetzip[tensorboard]')",
    ),
    arg(
        "--tensorboard-every",
        type=int,
        default=SUPPRESS,
        metavar="N",
        help="epochs between TensorBoard figures: input vs output and residual per column "
        f"(default {D.tensorboard_every})",
    ),
    arg(
        "--init",
        default=SUPPRESS,
        metavar="MODEL_DIR",
        help="fine-tune this trained (or imported) model: its architecture, columns, transforms "
        "and weights; its history continues in the new MODEL_DIR",
    ),
    arg(
        "--refit-normalisation",
        action="store_true",
        default=SUPPRESS,
        help="with --init: refit the transforms' parameters on the new data (default: keep)",
    ),
    arg("--overwrite", action="store_true", help="replace MODEL_DIR if it exists"),
    TREE_ARG,
    arg(
        "--collection",
        help="ROOT: the collection to train on, e.g. Jet or AnalysisJetsAuxDyn (default: the "
        "jets); an entropy model of it codes that collection of whole files",
    ),
    arg(
        "--kind",
        choices=("autoencoder", "entropy"),
        default="autoencoder",
        help="autoencoder (default), or entropy: a conditional density model whose predicted "
        "probabilities code each column in bounded and lossless mode (uses --columns, --epochs, "
        "--seed, --lr, --batch-size; see docs/entropy_model.md)",
    ),
    arg(
        "--resume",
        action="store_true",
        help="continue the run saved in MODEL_DIR (its config, updated by options given now)",
    ),
    arg("--no-progress", action="store_true", help="no progress bar"),
)
def train_command(args: argparse.Namespace) -> int:
    """Train an autoencoder on DATA and write MODEL_DIR atomically.

    MODEL_DIR is refreshed every 30 s and at the end; Ctrl-C keeps the best model so far.
    Under torchrun, training is data-parallel (gloo on CPU, NCCL on GPU).
    """
    from jetzip.models.quality import format_rms, residual_warning
    from jetzip.training import CONFIG_FILE, train

    if args.kind == "entropy":
        from jetzip.entropy.training import train_entropy_command

        used = ("columns", "epochs", "seed", "lr", "batch_size")
        given = [  # options given (the others stay out of the namespace) that it would ignore
            f"--{k.replace('_', '-')}"
            for k in vars(args)
            if k in TrainConfig.__dataclass_fields__ and k not in used
        ]
        given += [f"--{k}" for k in ("config", "resume") if getattr(args, k)]
        if given:
            raise OptionError(f"--kind entropy does not take {', '.join(given)}")
        print(train_entropy_command(_read(args), args), file=sys.stderr)
        return 0
    out_dir = Path(args.output)
    base = None
    if args.resume:
        saved = out_dir / CONFIG_FILE
        if not saved.is_file():
            raise InputError(f"cannot resume: {saved} does not exist")
        base = json.loads(saved.read_text())
    config = _config(args, base)
    if config.init is not None and not args.resume:
        given = [f"--{k.replace('_', '-')}" for k in ARCHITECTURE_OPTIONS if k in vars(args)]
        if given:
            raise OptionError(
                f"--init keeps the architecture of {config.init}; drop {', '.join(given)}"
            )
    if config.refit_normalisation and config.init is None:
        raise OptionError("--refit-normalisation needs --init MODEL_DIR")
    result = train(
        _read(args),
        config,
        out_dir,
        overwrite=args.overwrite,
        resume=args.resume,
        progress=not args.no_progress,
    )
    if os.environ.get("RANK", "0") != "0":  # under torchrun, rank 0 reports
        return 0
    print(
        f"trained {result.epochs_run} epochs in {result.seconds:.1f} s ({result.stop_reason}); "
        f"best validation loss {result.best_val_loss:.4g} at epoch {result.best_epoch}; "
        f"wrote {out_dir}",
        file=sys.stderr,
    )
    print(
        f"validation residual RMS: {format_rms(result.summary['val_residual_rms'])}",
        file=sys.stderr,
    )
    warning = residual_warning(result.summary["val_residual_rms"])
    if warning:
        print(warning, file=sys.stderr)
    return 0


@command(
    "lr-find",
    "Learning-rate range test: plot loss against lr and suggest a value.",
    *DATA_AND_MODEL_ARGS,
    arg("-o", "--output", required=True, metavar="PLOT", help="image to write (.png, .pdf, .svg)"),
    arg("--min-lr", type=float, default=1e-6, help="first learning rate"),
    arg("--max-lr", type=float, default=1.0, help="last learning rate"),
    arg("--steps", type=int, default=200, help="number of steps"),
)
def lr_find_command(args: argparse.Namespace) -> int:
    """Run a learning-rate range test with the chosen model and data; print the suggested lr."""
    from jetzip.training.lr_find import lr_range_test, plot_lr_find

    if not 0 < args.min_lr < args.max_lr or args.steps < 2:
        raise OptionError("need 0 < --min-lr < --max-lr and --steps >= 2")
    result = lr_range_test(
        _read(args), _config(args), min_lr=args.min_lr, max_lr=args.max_lr, steps=args.steps
    )
    plot_lr_find(result, args.output)
    print(f"suggested learning rate: {result.suggestion:.3g} (plot: {args.output})")
    return 0
