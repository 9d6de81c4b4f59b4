"""How well a trained model reconstructs held-out jets, and the warning when it does not.

A latent-only file holds what the decoder gives back, nothing more, so a model whose pt comes
back 23 % off must not go through training or `compress --mode latent` without a word. The
figures use the residual convention of `jetzip evaluate` (relative for m, E, pt; wrapped for
phi; absolute otherwise) and are stored in MODEL_DIR/summary.json at the end of training.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from jetzip.errors import CorruptFileError
from jetzip.evaluate.metrics import RELATIVE, residual_kind, residuals

if TYPE_CHECKING:
    from jetzip.models.trained import TrainedModel

#: MODEL_DIR file with the validation figures of the saved model.
SUMMARY_FILE = "summary.json"
#: Warn when a column's residual RMS exceeds this (1 % relative, or 0.01 absolute).
LARGE_RESIDUAL_RMS = 0.01


def rms_between(
    columns: Sequence[str], original: np.ndarray, other: np.ndarray
) -> dict[str, float]:
    """Per-column residual RMS of `other` against `original` ((n, k) physical rows; relative
    residuals skip rows with x <= 0, as `jetzip evaluate` does)."""
    out = {}
    for j, column in enumerate(columns):
        r = residuals(original[:, j], other[:, j], residual_kind(column))
        r = r[np.isfinite(r)]
        out[column] = float(np.sqrt(np.mean(r * r))) if r.size else float("nan")
    return out


def residual_rms(model: TrainedModel, x: np.ndarray) -> dict[str, float]:
    """Per-column residual RMS of decode(encode(x)) for physical rows `x` in `model.columns`
    order."""
    return rms_between(model.columns, x, model.reconstruct(x))


def format_rms(rms: Mapping[str, float]) -> str:
    """'m 2.1 %, pt 23 %, eta 0.0031' (relative columns as percentages)."""
    return ", ".join(
        f"{c} {100 * v:.3g} %" if residual_kind(c) == RELATIVE else f"{c} {v:.3g}"
        for c, v in rms.items()
    )


def residual_warning(rms: Mapping[str, float], threshold: float = LARGE_RESIDUAL_RMS) -> str | None:
    """A one-line warning naming every column's RMS when any exceeds `threshold`, else None."""
    large = [c for c, v in rms.items() if not v <= threshold]
    if not large:
        return None
    return (
        f"warning: large reconstruction residual on the validation jets ({', '.join(large)} "
        f"above {threshold:g}); residual RMS per column: {format_rms(rms)}. Latent storage "
        "loses this much; bounded mode keeps every value within a tolerance"
    )


def write_summary(model_dir: str | os.PathLike[str], summary: Mapping[str, Any]) -> None:
    """Write SUMMARY_FILE (validation residual RMS, activation statistics, ...) in MODEL_DIR."""
    path = Path(model_dir) / SUMMARY_FILE
    path.write_text(json.dumps(dict(summary), indent=2) + "\n")


def read_summary(model_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """MODEL_DIR's summary, or {} for a model dir without one (imported, or older)."""
    path = Path(model_dir) / SUMMARY_FILE
    if not path.is_file():
        return {}
    try:
        summary = json.loads(path.read_text())
    except ValueError:  # NaN is allowed: a column without finite residuals has a NaN RMS
        summary = None
    if not isinstance(summary, dict):
        raise CorruptFileError(f"{path} is damaged (not a JSON object)")
    return summary


def model_dir_warning(model_dir: str | os.PathLike[str]) -> str | None:
    """The large-residual warning for the validation figures stored in MODEL_DIR, if any."""
    rms = read_summary(model_dir).get("val_residual_rms")
    return residual_warning(rms) if rms else None
