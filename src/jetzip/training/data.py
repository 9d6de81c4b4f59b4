"""From a Table to normalised float32 tensors: column choice, seeded split, fitted transforms."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from jetzip.errors import InputError, OptionError
from jetzip.models import normalise_spec, preset_spec
from jetzip.table import Table
from jetzip.training.config import TrainConfig
from jetzip.transforms import Normaliser, build_normaliser

if TYPE_CHECKING:
    from jetzip.models import TrainedModel

#: Fewest rows each split must get (batch-norm needs two rows in a batch).
MIN_TRAIN_ROWS, MIN_VAL_ROWS = 2, 1


@dataclass
class Split:
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


def split_indices(n_rows: int, val_fraction: float, test_fraction: float, seed: int) -> Split:
    """Seeded random train/validation/test row indices (each sorted)."""
    n_val = max(MIN_VAL_ROWS, round(n_rows * val_fraction))
    n_test = round(n_rows * test_fraction)
    if test_fraction > 0:
        n_test = max(1, n_test)
    if n_rows - n_val - n_test < MIN_TRAIN_ROWS:
        raise InputError(
            f"too few rows ({n_rows}) for a train/validation/test split of "
            f"{1 - val_fraction - test_fraction:.0%}/{val_fraction:.0%}/{test_fraction:.0%}"
        )
    order = np.random.default_rng(seed).permutation(n_rows)
    return Split(
        train=np.sort(order[n_test + n_val :]),
        val=np.sort(order[n_test : n_test + n_val]),
        test=np.sort(order[:n_test]),
    )


@dataclass
class PreparedData:
    columns: list[str]
    units: dict[str, str]
    normaliser: Normaliser
    split: Split  # indices into the usable rows
    test_rows: np.ndarray  # int64 indices of the test rows in the original table
    train: torch.Tensor  # (n_train, k) float32, normalised
    val: torch.Tensor
    val_physical: np.ndarray  # (n_val, k) float64, as read


def _normaliser(
    columns: list[str], config: TrainConfig, train_rows: np.ndarray, init: TrainedModel | None
) -> Normaliser:
    """Fitted on the training rows; a fine-tuned model keeps its own unless asked to refit
    (the same steps, their parameters fitted anew)."""
    if init is None:
        return build_normaliser(columns, config.normalisation, config.transforms).fit(train_rows)
    normaliser = Normaliser.from_json_dict(init.normaliser.to_json_dict())
    return normaliser.fit(train_rows) if config.refit_normalisation else normaliser


def prepare_data(
    table: Table, config: TrainConfig, device: torch.device, init: TrainedModel | None = None
) -> PreparedData:
    """Select columns, split rows, fit the transforms on the training rows only (or take the
    columns and transforms of `init`, the model being fine-tuned)."""
    columns = list(config.columns or table.float_names)
    if init is not None:
        if config.columns and columns != init.columns:
            raise OptionError(
                f"--columns {','.join(columns)} differ from the columns of the --init model "
                f"({','.join(init.columns)}); a fine-tuned model keeps its inputs"
            )
        missing = [c for c in init.columns if c not in table.names]
        if missing:
            raise InputError(f"the data lack the --init model's column(s) {', '.join(missing)}")
        columns = init.columns
    if not columns:
        raise InputError("the data have no floating-point columns to train on; use --columns")
    table = table.select(columns)
    usable = table.check_usable(drop_nonfinite=config.drop_nonfinite)
    matrix = usable.matrix(columns)
    if usable is table:
        original_rows = np.arange(table.n_rows, dtype=np.int64)
    else:
        original_rows = np.flatnonzero(np.isfinite(table.matrix(columns)).all(axis=1))
    split = split_indices(usable.n_rows, config.val_fraction, config.test_fraction, config.seed)
    normaliser = _normaliser(columns, config, matrix[split.train], init)
    scaled = torch.from_numpy(normaliser.transform(matrix).astype(np.float32))
    return PreparedData(
        columns=columns,
        units=dict(usable.units),
        normaliser=normaliser,
        split=split,
        test_rows=original_rows[split.test],
        train=scaled[split.train].to(device),
        val=scaled[split.val].to(device),
        val_physical=matrix[split.val],
    )


def model_spec(config: TrainConfig, n_inputs: int) -> dict[str, Any]:
    """The preset's spec for `n_inputs` columns with the config's overrides applied."""
    spec = preset_spec(config.preset, n_inputs, config.latent)
    overrides = {
        "encoder": config.encoder,
        "activation": config.activation,
        "batch_norm": config.batch_norm,
    }
    spec.update({k: v for k, v in overrides.items() if v is not None})
    spec.update(
        dropout=config.dropout,
        latent_activation=config.latent_activation,
        kl_weight=config.kl_weight,
    )
    return normalise_spec(spec)
