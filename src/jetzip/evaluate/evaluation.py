"""`evaluate`: every number of the report in one JSON-able dict (metrics.json).

Sections: ``residuals`` (see `jetzip.evaluate.metrics` for the conventions), ``model`` (MSE in
the model's normalised units and what it costs, when a model is given), ``compression``
(bytes per jet and ratios, when the reconstruction came from a .jz file, with the baselines'
bytes per jet on the same values) and ``tolerances`` (the rules: violations and worst case).

The rules are the requested tolerances; for a .jz file, the tolerances its header records for
bounded columns and "exact" for columns it stored losslessly, unless a requested one overrides.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from jetzip import __version__, baselines
from jetzip.codec.tolerance import Tolerance
from jetzip.errors import OptionError
from jetzip.evaluate.costs import measure_model_costs
from jetzip.evaluate.metrics import DEFAULT_RECOVERED_WITHIN, as_tolerances, compare_tables
from jetzip.table import Table

#: Bytes of one raw float32 value: the reference every compression ratio is quoted against.
FLOAT32_BYTES = 4
#: The baselines are measured on the first rows only: LZMA on 500 k jets alone takes ~20 s here,
#: while bytes per jet hardly change beyond a few ten thousand values.
BASELINE_ROWS = 50_000


def header_rules(description: Mapping[str, Any]) -> tuple[dict[str, Tolerance], list[str], dict]:
    """What a .jz file promises per column: tolerances of bounded columns, the columns stored
    exactly (lossless), and each column's storage kind (bounded, lossless, latent)."""
    columns = (description.get("header") or {}).get("columns") or []
    tolerances = {
        c["name"]: Tolerance.from_json(c["tolerance"])
        for c in columns
        if c.get("kind") == "bounded" and c.get("tolerance")
    }
    exact = [c["name"] for c in columns if c.get("kind") == "lossless"]
    return tolerances, exact, {c["name"]: c.get("kind") for c in columns}


def _rule_violations(
    original: Table,
    values: Mapping[str, np.ndarray],
    tolerances: Mapping[str, Tolerance],
    exact: Sequence[str],
) -> int:
    """Values of a baseline's reconstruction that break a rule (tolerance, or exact)."""
    count = 0
    for name, decoded in values.items():
        x = original[name][: decoded.size]
        if name in tolerances:
            count += int(np.count_nonzero(tolerances[name].violations(x, decoded)))
        elif name in exact:
            same = (x == decoded) | (np.isnan(x) & np.isnan(decoded))
            count += int(np.count_nonzero(~same))
    return count


def baseline_comparison(
    original: Table,
    compression: Mapping[str, Any],
    checked: Mapping[str, Any],
    tolerances: Mapping[str, Tolerance],
    exact: Sequence[str],
    *,
    max_rows: int = BASELINE_ROWS,
) -> dict[str, Any]:
    """Bytes per jet of the columns with a tolerance (of every float column when none has
    one), jetzip's against today's ways of storing the same values (`jetzip.baselines`), each
    with the number of values that break their tolerance (jetzip's from `checked`, the
    ``tolerances`` section of the metrics).

    Columns stored exactly, integer and bool ones are left out of every method (all store them
    losslessly; the baselines' float32 could not even hold a float64 one exactly). The baselines
    run on the first `max_rows` rows; jetzip's figure is its whole file's payload.
    """
    floats = [n for n in original.float_names if n in tolerances] or [
        n for n in original.float_names if n not in exact
    ]
    exact = [n for n in exact if n in floats]
    sample = {n: original[n][:max_rows] for n in floats}
    n_sample = min(original.n_rows, max_rows)
    column_bytes = compression.get("column_bytes") or {}
    # A latent file stores its columns together: then its whole payload is the figure.
    per_column = all(n in column_bytes for n in floats)
    methods: list[dict[str, Any]] = [
        {
            "method": "jetzip (this file)" if per_column else "jetzip (whole file, no model)",
            "bytes_per_object": sum(column_bytes.get(n, 0) for n in floats)
            / max(original.n_rows, 1)
            if per_column
            else compression["bytes_per_jet_without_model"],
            "violations": sum(t["violations"] for n, t in checked.items() if n in floats),
            "jetzip": True,
        }
    ]
    skipped: list[str] = []
    if not floats:
        return {"rows": n_sample, "columns": [], "methods": methods, "skipped": skipped}
    lossless = baselines.compress_lossless(sample)
    bounded = [n for n in floats if n in tolerances]
    candidates: list[tuple[str, Any]] = [("float32 + best lossless codec", lambda: lossless)]
    if bounded:

        def rounded() -> baselines.BaselineResult:
            bits = {n: baselines.FLOAT32_MANTISSA_BITS for n in floats}
            bits.update(
                {n: baselines.fewest_mantissa_bits(sample[n], tolerances[n]) for n in bounded}
            )
            return baselines.compress_mantissa(sample, bits)

        def bounded_only(
            compress: Callable[..., baselines.BaselineResult], *args: Any
        ) -> Callable[[], baselines.BaselineResult]:
            """A baseline for the bounded columns; the others as in the lossless baseline."""

            def run() -> baselines.BaselineResult:
                result = compress(
                    {n: sample[n] for n in bounded}, {n: tolerances[n] for n in bounded}, *args
                )
                for n in floats:
                    if n not in bounded:
                        result.column_bytes[n] = lossless.column_bytes[n]
                        result.reconstruction[n] = lossless.reconstruction[n]
                return result

            return run

        candidates += [
            ("mantissa rounding, fewest bits meeting the rules", rounded),
            (
                "RNTuple lossy column types, fewest bits meeting the rules",
                bounded_only(baselines.compress_root_for_tolerances, "rntuple"),
            ),
            ("SZ3 on transformed columns", bounded_only(baselines.compress_sz3)),
        ]
    candidates.append(("CMS NanoAOD precision + LZMA", lambda: baselines.compress_nanoaod(sample)))
    for label, run in candidates:
        try:
            result = run()
        except ImportError as error:
            skipped.append(f"{label}: {error.name} is not installed")
            continue
        except OptionError as error:
            skipped.append(f"{label}: {error}")
            continue
        methods.append(
            {
                "method": label,
                "bytes_per_object": result.nbytes / max(n_sample, 1),
                "violations": _rule_violations(original, result.reconstruction, tolerances, exact),
            }
        )
    return {"rows": n_sample, "columns": floats, "methods": methods, "skipped": skipped}


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
    exact: Sequence[str] = (),
    compressed_path: str | Path | None = None,
    original_path: str | Path | None = None,
    model_dir: str | Path | None = None,
    recovered_within: float = DEFAULT_RECOVERED_WITHIN,
    measure_costs: bool = True,
    compare_baselines: bool = True,
) -> dict[str, Any]:
    """All metrics comparing `reconstructed` with `original` (rows matched by position).

    Raises InputError when rows, columns or event indices do not match, OptionError for bad
    tolerances. `exact` names columns that must come back identical. With `model` (a
    `jetzip.models.TrainedModel`), adds the normalised MSE and, when
    `measure_costs`, the model's size and speed on this machine. With `compressed_path` (a .jz
    file), adds bytes per jet and ratios, using the container's description of its parts, checks
    the rules its header records, and (`compare_baselines`) measures the baselines on this table.
    """
    metrics: dict[str, Any] = {
        "jetzip_version": __version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "units": {n: original.units.get(n, "") for n in original.names},
    }
    rules = as_tolerances(tolerances)
    exact = list(exact)
    description = None
    if compressed_path is not None:
        from jetzip.container import describe_file

        description = describe_file(compressed_path)
        stored, stored_exact, metrics["storage"] = header_rules(description)
        rules = {**stored, **rules}
        exact = [n for n in dict.fromkeys([*exact, *stored_exact]) if n not in rules]
    metrics.update(
        compare_tables(
            original,
            reconstructed,
            tolerances=rules,
            exact=exact,
            recovered_within=recovered_within,
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
        if model_dir is not None:
            from jetzip.models.quality import read_summary

            training = read_summary(model_dir)  # `jetzip train`'s validation figures
            if training:
                model_section["training"] = training
        metrics["model"] = model_section
    if description is not None:
        compression = compression_metrics(description, original, original_path=original_path)
        if compare_baselines:
            compression["baselines"] = baseline_comparison(
                original, compression, metrics.get("tolerances", {}), rules, exact
            )
        metrics["compression"] = compression
    return metrics
