"""`evaluate`: every number of the report in one JSON-able dict (metrics.json).

Sections: ``residuals`` (see `jetzip.evaluate.metrics` for the conventions), ``model`` (MSE in
the model's normalised units and what it costs, when a model is given), ``compression``
(bytes per jet and ratios, when the reconstruction came from a .jz file) and ``tolerances``
(violations and worst case, when bounds were requested).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from jetzip import __version__
from jetzip.codec.tolerance import Tolerance
from jetzip.evaluate.costs import measure_model_costs
from jetzip.evaluate.metrics import DEFAULT_RECOVERED_WITHIN, compare_tables
from jetzip.table import Table

#: Bytes of one raw float32 value: the reference every compression ratio is quoted against.
FLOAT32_BYTES = 4


def normalised_mse(model: Any, original: Table, reconstructed: Table) -> dict[str, Any]:
    """MSE between original and reconstruction in the model's normalised (training) units.

    Uses the model's fitted normaliser (`model.normaliser.transform`), i.e. the units its
    training loss was computed in, so the number is comparable with the validation loss.
    """
    columns = list(model.columns)
    x = model.normaliser.transform(original.matrix(columns))
    x_reco = model.normaliser.transform(reconstructed.matrix(columns))
    squared = (x_reco - x) ** 2
    finite = np.all(np.isfinite(squared), axis=1)
    per_column = squared[finite].mean(axis=0)
    return {
        "columns": columns,
        "mse": float(per_column.mean()),
        "mse_per_column": {c: float(v) for c, v in zip(columns, per_column, strict=True)},
        "rows_used": int(np.count_nonzero(finite)),
    }


def compression_metrics(
    description: Mapping[str, Any],
    original: Table,
    *,
    original_path: str | Path | None = None,
) -> dict[str, Any]:
    """Bytes per jet and ratios of a .jz file, from `jetzip.container.describe_file` output.

    Ratios are quoted against raw float32 (4 bytes per floating-point value; integer columns such
    as a jet index are lossless extras, not part of the reference) and against the
    input file, each with the embedded model counted and without it (a model shared by many
    files is paid once).
    """
    sizes = description["sizes"]
    n = max(original.n_rows, 1)
    file_bytes = int(sizes["file"])
    model_bytes = int(sizes.get("model") or 0)
    column_bytes = {str(k): int(v) for k, v in (sizes.get("columns") or {}).items()}
    raw_float32 = original.n_rows * len(original.float_names) * FLOAT32_BYTES

    def ratio(reference: int, size: int) -> float | None:
        return reference / size if size > 0 else None

    result: dict[str, Any] = {
        "file": description.get("path"),
        "mode": (description.get("header") or {}).get("mode"),
        "file_bytes": file_bytes,
        "model_bytes": model_bytes,
        "bytes_per_jet": file_bytes / n,
        "bytes_per_jet_without_model": (file_bytes - model_bytes) / n,
        "raw_float32_bytes_per_jet": raw_float32 / n,
        "ratio_vs_raw_float32": ratio(raw_float32, file_bytes),
        "ratio_vs_raw_float32_without_model": ratio(raw_float32, file_bytes - model_bytes),
        "column_bytes": column_bytes,
        "parts_bytes": {
            "model": model_bytes,
            "header": int(sizes.get("header") or 0),
            "column payloads": sum(column_bytes.values()),
            "framing": int(sizes.get("framing") or 0),
        },
    }
    if original_path is not None and Path(original_path).is_file():
        input_bytes = Path(original_path).stat().st_size
        result["input_file_bytes"] = input_bytes
        result["ratio_vs_input_file"] = ratio(input_bytes, file_bytes)
        result["ratio_vs_input_file_without_model"] = ratio(input_bytes, file_bytes - model_bytes)
    return result


def evaluate(
    original: Table,
    reconstructed: Table,
    *,
    model: Any = None,
    tolerances: str | Mapping[str, Tolerance] | None = None,
    compressed_path: str | Path | None = None,
    original_path: str | Path | None = None,
    model_dir: str | Path | None = None,
    recovered_within: float = DEFAULT_RECOVERED_WITHIN,
    measure_costs: bool = True,
) -> dict[str, Any]:
    """All metrics comparing `reconstructed` with `original` (rows matched by position).

    Raises InputError when rows, columns or event indices do not match, OptionError for bad
    tolerances. With `model` (a `jetzip.models.TrainedModel`), adds the normalised MSE and, when
    `measure_costs`, the model's size and speed on this machine. With `compressed_path` (a .jz
    file), adds bytes per jet and ratios, using the container's description of its parts.
    """
    metrics: dict[str, Any] = {
        "jetzip_version": __version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "units": {n: original.units.get(n, "") for n in original.names},
    }
    metrics.update(
        compare_tables(
            original, reconstructed, tolerances=tolerances, recovered_within=recovered_within
        )
    )
    if model is not None:
        model_section: dict[str, Any] = {
            "latent_dim": int(model.latent_dim),
            "spec": model.spec,
            "content_hash": model.content_hash(),
            "normalised_mse": normalised_mse(model, original, reconstructed),
        }
        if measure_costs:
            model_section["costs"] = measure_model_costs(
                model, original.matrix(list(model.columns)), model_dir=model_dir
            )
        metrics["model"] = model_section
    if compressed_path is not None:
        from jetzip.container import describe_file

        metrics["compression"] = compression_metrics(
            describe_file(compressed_path), original, original_path=original_path
        )
    return metrics
