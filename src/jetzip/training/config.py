"""Every training knob in one dataclass, filled from defaults, a TOML file, then the CLI.

The defaults are the recipe that reaches the ATLAS quality target (see docs/benchmarks.md).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jetzip.errors import InputError, OptionError

SCHEDULES = ("one_cycle", "constant", "cosine", "plateau")
LOSSES = ("mse", "smooth_l1", "huber", "l1")


@dataclass
class TrainConfig:
    """Settings of one training run; JSON-able, stored in MODEL_DIR as config.json."""

    columns: list[str] | None = None  # None: every float column of the data
    drop_nonfinite: bool = False  # drop rows with NaN/inf instead of refusing the data
    preset: str = "AE_3D_200"
    latent: int | None = None  # None: the preset's latent size
    encoder: list[int] | None = None  # custom hidden widths instead of the preset's
    activation: str | None = None  # None: the preset's activation
    batch_norm: bool | None = None
    dropout: float | list[float] = 0.0
    latent_activation: bool = False
    kl_weight: float = 1e-3  # VAE only
    normalisation: str = "custom"
    transforms: dict[str, list[Any]] = field(default_factory=dict)  # per-column overrides
    epochs: int = 1200
    max_time: float | None = None  # seconds
    batch_size: int = 256
    lr: float = 3e-3
    weight_decay: float = 0.0
    schedule: str = "one_cycle"
    loss: str = "mse"
    patience: int | None = None  # epochs without validation improvement; None: no early stop
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    seed: int = 0
    threads: int | None = None
    device: str = "cpu"
    tensorboard: str | None = None  # directory for TensorBoard logs (needs `tensorboard`)
    tensorboard_every: int = 10  # epochs between TensorBoard figures
    sparsity: str | None = None  # "l1:WEIGHT" or "kl:WEIGHT:RHO" on hidden activations
    l2: float = 0.0  # L2 penalty: l2 * sum of squared weights (biases excluded) in the loss
    init: str | None = None  # MODEL_DIR to fine-tune: its architecture, weights and history
    refit_normalisation: bool = False  # with init: refit the transforms on the new data

    def validate(self) -> TrainConfig:
        """Raise OptionError for values that cannot work; return self."""
        if self.schedule not in SCHEDULES:
            raise OptionError(f"unknown schedule {self.schedule!r}; choose from {SCHEDULES}")
        if self.loss not in LOSSES:
            raise OptionError(f"unknown loss {self.loss!r}; choose from {LOSSES}")
        if self.epochs < 1 or self.batch_size < 1 or self.lr <= 0:
            raise OptionError("epochs, batch size and learning rate must be positive")
        if not (0 < self.val_fraction < 1 and 0 <= self.test_fraction < 1) or (
            self.val_fraction + self.test_fraction >= 1
        ):
            raise OptionError("validation and test fractions must be in (0, 1) and sum below 1")
        if self.max_time is not None and self.max_time <= 0:
            raise OptionError("--max-time must be positive")
        if self.l2 < 0 or self.tensorboard_every < 1:
            raise OptionError("--l2 must be >= 0 and --tensorboard-every at least 1")
        if not isinstance(self.transforms, dict):
            raise OptionError("transforms must be a table: [transforms] then COLUMN = [steps]")
        from jetzip.training.sparsity import parse_sparsity

        parse_sparsity(self.sparsity)
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


FIELD_NAMES = {f.name for f in dataclasses.fields(TrainConfig)}


def parse_duration(text: str | float | int) -> float:
    """'90', '90s', '10m', '1.5h' -> seconds."""
    if isinstance(text, int | float):
        return float(text)
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([smh]?)\s*", str(text))
    if not match:
        raise OptionError(f"cannot parse duration {text!r}; use e.g. 90s, 10m, 1.5h")
    return float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a training config file: top-level keys are TrainConfig fields; a [transforms]
    table maps columns to transform chains, e.g. m = ["log(offset=1)", "standardise"]."""
    import tomllib  # here: the CLI imports this module for its --help defaults

    try:
        with Path(path).open("rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise InputError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"config file {path} is not valid TOML: {exc}") from None
    data = {k.replace("-", "_"): v for k, v in data.items()}
    unknown = set(data) - FIELD_NAMES
    if unknown:
        raise OptionError(f"unknown key(s) in {path}: {', '.join(sorted(unknown))}")
    return data


def make_config(
    file_values: Mapping[str, Any] | None = None, cli_values: Mapping[str, Any] | None = None
) -> TrainConfig:
    """Defaults, overridden by the config file, overridden by options given on the command line
    (None in `cli_values` means 'not given')."""
    merged: dict[str, Any] = dict(file_values or {})
    merged.update({k: v for k, v in (cli_values or {}).items() if v is not None})
    if "max_time" in merged and merged["max_time"] is not None:
        merged["max_time"] = parse_duration(merged["max_time"])
    try:
        return TrainConfig(**merged).validate()
    except TypeError as exc:
        raise OptionError(f"bad training option: {exc}") from None
