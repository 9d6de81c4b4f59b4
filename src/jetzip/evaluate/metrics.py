"""Residuals and the numbers physicists judge a lossy reconstruction by.

Residual convention, per column (see `residual_kind`):

* scale variables (mass, energy, momentum components, pt, MET, ...): relative residual
  ``(x' - x) / x``. Rows with
  ``x <= 0`` have no meaningful relative error (a jet mass of -0.04 MeV is a rounding artefact of
  the reconstruction software), so they are *excluded* from every relative statistic, counted in
  ``n_excluded``, and their absolute residual ``x' - x`` is summarised separately under
  ``excluded_abs`` (max and RMS of |x' - x|).
* phi (azimuth): absolute residual wrapped to (-pi, pi], so that -3.14 reconstructed as 3.14 is
  an error of 0.003, not 6.28.
* everything else (eta, integer counts, further variables): absolute residual ``x' - x``.

A column with a tolerance takes the tolerance's kind instead (a relative tolerance gives a relative
residual, an absolute one an absolute residual, wrapped for phi), so that "% recovered" and the
residual plots measure what the tolerance bounds.

Statistics of a residual array r (all on the included rows):

* ``mean``, ``rms`` = sqrt(mean(r^2)), ``std`` (ddof=0);
* ``half_width_68`` = (q84 - q16) / 2, the width that equals sigma for a Gaussian;
* ``p99_abs`` and ``max_abs``: 99th percentile and maximum of |r|;
* ``core_sigma``: width of the Gaussian core, from an iterative 2-sigma-clipped standard
  deviation (clip at 2 sigma around the clipped mean, recompute, until stable), divided by the
  standard deviation of a unit normal truncated at +-2 (0.8796) so that it equals sigma for a
  Gaussian with arbitrary outliers. scipy is not a dependency; this needs only numpy and does
  not depend on a histogram binning;
* ``average_abs_error``: mean(|r|), the "average absolute error" figure of the ATLAS
  autoencoder compression exercise (mean absolute relative error for m, pt, E; mean absolute
  error for eta, phi);
* ``recovered_pct``: the exercise's "% recovered": the percentage of values whose |r| is within
  ``recovered_within`` (default 0.01, i.e. 1 % for relative residuals and 0.01 for angles). For a
  relative residual it is tested as |x' - x| <= w |x|, the very inequality a relative tolerance
  is checked with, so values that meet a 0.1 % tolerance count as recovered within 0.001. The
  all-columns figure ``recovered_pct_all`` counts a row as recovered only when every column is.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from jetzip.codec.tolerance import Tolerance, check_tolerance_columns, parse_tolerances
from jetzip.errors import InputError
from jetzip.table import Table

RELATIVE = "relative"
#: A relative tolerance on a signed variable (eta, px): (x' - x) / |x|, undefined only at x = 0.
SIGNED_RELATIVE = "relative to |x|"
ANGLE = "angle"
ABSOLUTE = "absolute"

#: Standard deviation of a unit normal truncated at +-2 sigma: corrects the clipped std.
_TRUNCATED_STD_2SIGMA = 0.8796
#: Momentum components are signed: their relative residual divides by |x|.
_SIGNED_SCALE_NAMES = {"px", "py", "pz"}
_SCALE_NAMES = {"m", "mass", "e", "energy", "pt", "px", "py", "pz", "p", "et", "met", "sumet", "ht",
                "mt"}  # fmt: skip
_PREFIX = re.compile(r"^.*[._:]")
DEFAULT_RECOVERED_WITHIN = 0.01


def base_name(column: str) -> str:
    """The physics name without collection prefixes: `Jet_pt` and `AnalysisJetsAuxDyn.pt` -> pt."""
    return _PREFIX.sub("", column).lower()


def residual_kind(column: str, tolerance: Tolerance | None = None) -> str:
    """RELATIVE for scale variables, ANGLE for phi, ABSOLUTE for everything else; a column with
    a tolerance follows the tolerance (relative or absolute, wrapped for phi)."""
    name = base_name(column)
    if name.endswith("phi") and (tolerance is None or not tolerance.relative):
        return ANGLE
    if tolerance is not None and not tolerance.relative:
        return ABSOLUTE
    if name in _SCALE_NAMES and name not in _SIGNED_SCALE_NAMES:
        return RELATIVE
    return SIGNED_RELATIVE if tolerance is not None or name in _SIGNED_SCALE_NAMES else ABSOLUTE


def wrap_angle(delta: np.ndarray) -> np.ndarray:
    """Map angle differences into (-pi, pi]."""
    return math.pi - np.mod(math.pi - np.asarray(delta, dtype=np.float64), 2 * math.pi)


def residuals(original: np.ndarray, reconstructed: np.ndarray, kind: str) -> np.ndarray:
    """Residual per row (float64); NaN where a relative residual is undefined (x <= 0, or
    x = 0 for SIGNED_RELATIVE)."""
    x = np.asarray(original, dtype=np.float64)
    delta = np.asarray(reconstructed, dtype=np.float64) - x
    if kind == ANGLE:
        return wrap_angle(delta)
    if kind == RELATIVE:
        out = np.full_like(delta, np.nan)
        positive = x > 0
        out[positive] = delta[positive] / x[positive]
        return out
    if kind == SIGNED_RELATIVE:
        out = np.full_like(delta, np.nan)
        nonzero = x != 0
        out[nonzero] = delta[nonzero] / np.abs(x[nonzero])
        return out
    return delta


def recovered_mask(
    original: np.ndarray, reconstructed: np.ndarray, r: np.ndarray, kind: str, within: float
) -> np.ndarray:
    """True where a value is recovered within `within`: |x' - x| <= within |x| for relative
    residuals (the inequality a relative tolerance is checked with), |r| <= within otherwise."""
    if kind not in (RELATIVE, SIGNED_RELATIVE):
        return np.abs(r) <= within
    x = np.asarray(original, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        return np.abs(np.asarray(reconstructed, dtype=np.float64) - x) <= within * np.abs(x)


def core_sigma(r: np.ndarray, *, clip: float = 2.0, max_iterations: int = 50) -> float:
    """Gaussian core width by iterative 2-sigma clipping (see module docstring)."""
    r = np.asarray(r, dtype=np.float64)
    if r.size < 2:
        return 0.0
    q16, q50, q84 = np.percentile(r, [16, 50, 84])
    centre, sigma = q50, (q84 - q16) / 2
    if sigma == 0:
        return 0.0
    kept_count = -1
    for _ in range(max_iterations):
        kept = r[np.abs(r - centre) <= clip * sigma]
        if kept.size < 2:
            break
        centre = float(kept.mean())
        sigma = float(kept.std()) / _TRUNCATED_STD_2SIGMA
        if kept.size == kept_count or sigma == 0:
            break
        kept_count = kept.size
    return float(sigma)


def residual_stats(
    r: np.ndarray,
    *,
    recovered_within: float = DEFAULT_RECOVERED_WITHIN,
    recovered: np.ndarray | None = None,
) -> dict:
    """Summary statistics of one residual array (see module docstring for definitions).

    `recovered` (a mask over r) overrides the |r| <= recovered_within test, for relative
    residuals tested without the division.
    """
    r = np.asarray(r, dtype=np.float64)
    if r.size == 0:
        return {"n": 0}
    absolute = np.abs(r)
    if recovered is None:
        recovered = absolute <= recovered_within
    q16, q84 = np.percentile(r, [16, 84])
    return {
        "n": int(r.size),
        "mean": float(r.mean()),
        "rms": float(np.sqrt(np.mean(r * r))),
        "std": float(r.std()),
        "half_width_68": float((q84 - q16) / 2),
        "p99_abs": float(np.percentile(absolute, 99)),
        "max_abs": float(absolute.max()),
        "core_sigma": core_sigma(r),
        "average_abs_error": float(absolute.mean()),
        "recovered_pct": float(100.0 * np.mean(recovered)),
    }


def match_tables(original: Table, reconstructed: Table) -> list[str]:
    """Check that the two tables describe the same rows and columns; return the column order.

    Rows are matched by position; when both tables carry an event index it must agree too.
    """
    if set(original.names) != set(reconstructed.names):
        only_original = [n for n in original.names if n not in reconstructed.names]
        only_reco = [n for n in reconstructed.names if n not in original.names]
        raise InputError(
            "the tables have different columns: only in the original: "
            f"{', '.join(only_original) or '-'}; only in the reconstruction: "
            f"{', '.join(only_reco) or '-'}"
        )
    if original.n_rows != reconstructed.n_rows:
        raise InputError(
            f"row counts differ: the original has {original.n_rows} rows, the reconstruction "
            f"{reconstructed.n_rows}"
        )
    if original.event is not None and reconstructed.event is not None:
        differs = np.flatnonzero(original.event != reconstructed.event)
        if differs.size:
            row = int(differs[0])
            raise InputError(
                f"event index differs at row {row} (original event {original.event[row]}, "
                f"reconstruction event {reconstructed.event[row]}): rows are not aligned"
            )
    return original.names


def column_metrics(
    original: np.ndarray,
    reconstructed: np.ndarray,
    kind: str,
    *,
    recovered_within: float = DEFAULT_RECOVERED_WITHIN,
) -> dict:
    """Residual statistics of one column, with the x <= 0 rule applied to relative residuals."""
    r = residuals(original, reconstructed, kind)
    recovered = recovered_mask(original, reconstructed, r, kind, recovered_within)
    return _column_summary(original, reconstructed, kind, r, recovered)


def _column_summary(
    original: np.ndarray, reconstructed: np.ndarray, kind: str, r: np.ndarray, recovered: np.ndarray
) -> dict:
    """`column_metrics` from the column's residuals `r` and recovered mask, computed once."""
    included = np.isfinite(r)
    result: dict[str, Any] = {"kind": kind}
    result.update(residual_stats(r[included], recovered=recovered[included]))
    result["n_excluded"] = int(np.count_nonzero(~included))
    if kind in (RELATIVE, SIGNED_RELATIVE) and result["n_excluded"]:
        x = np.asarray(original, dtype=np.float64)[~included]
        delta = np.asarray(reconstructed, dtype=np.float64)[~included] - x
        finite = delta[np.isfinite(delta)]
        result["excluded_abs"] = {
            "max_abs": float(np.abs(finite).max()) if finite.size else None,
            "rms": float(np.sqrt(np.mean(finite * finite))) if finite.size else None,
        }
    return result


def residual_matrix(
    original: Table,
    reconstructed: Table,
    names: Sequence[str],
    kinds: Mapping[str, str] | None = None,
) -> np.ndarray:
    """(n_rows, n_columns) residuals in the per-column convention; NaN where undefined.

    `kinds` (column -> residual kind, e.g. metrics["per_column"][c]["kind"]) overrides the
    kind guessed from the name.
    """
    kinds = kinds or {}
    out = np.empty((original.n_rows, len(names)), dtype=np.float64)
    for j, name in enumerate(names):
        kind = kinds.get(name) or residual_kind(name)
        out[:, j] = residuals(original[name], reconstructed[name], kind)
    return out


def residual_correlation(r: np.ndarray) -> list[list[float | None]]:
    """Pearson correlation of residual columns over rows where all are defined.

    A column with zero spread (lossless) has no correlation: its entries are None.
    """
    rows = r[np.all(np.isfinite(r), axis=1)]
    k = r.shape[1]
    if rows.shape[0] < 2:
        return [[None] * k for _ in range(k)]
    centred = rows - rows.mean(axis=0)
    norms = np.sqrt(np.sum(centred * centred, axis=0))
    result: list[list[float | None]] = []
    for i in range(k):
        line: list[float | None] = []
        for j in range(k):
            if norms[i] == 0 or norms[j] == 0:
                line.append(None)
            else:
                line.append(float(np.dot(centred[:, i], centred[:, j]) / (norms[i] * norms[j])))
        result.append(line)
    return result


def tolerance_report(
    original: Table,
    reconstructed: Table,
    tolerances: Mapping[str, Tolerance],
) -> dict:
    """Per toleranced column: number of violations (must be 0) and the worst case.

    `worst_ratio` is max |x' - x| / allowed: at most 1 when the bound holds everywhere.
    """
    check_tolerance_columns(dict(tolerances), original.float_names, original.names)
    report = {}
    for name, tolerance in tolerances.items():
        x = np.asarray(original[name], dtype=np.float64)
        x_reco = np.asarray(reconstructed[name], dtype=np.float64)
        bad = tolerance.violations(x, x_reco)
        finite = np.isfinite(x)
        error = np.abs(x_reco[finite] - x[finite])
        allowed = tolerance.allowed(x[finite])
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(allowed > 0, error / allowed, np.where(error > 0, np.inf, 0.0))
        worst = int(np.argmax(ratio)) if ratio.size else None
        report[name] = {
            "tolerance": tolerance.to_text(),
            "violations": int(np.count_nonzero(bad)),
            "worst_abs_error": float(error[worst]) if worst is not None else 0.0,
            "worst_ratio": float(ratio[worst]) if worst is not None else 0.0,
            "worst_row": int(np.flatnonzero(finite)[worst]) if worst is not None else None,
        }
    return report


def exact_report(original: Table, reconstructed: Table, names: Sequence[str]) -> dict:
    """Per column stored exactly: the number of values not reproduced identically (NaN = NaN)."""
    report = {}
    for name in names:
        x, x_reco = original[name], reconstructed[name]
        same = x == x_reco
        if x.dtype.kind == "f":
            same |= np.isnan(x) & np.isnan(x_reco)
        differs = np.flatnonzero(~same)
        report[name] = {
            "tolerance": "exact",
            "violations": int(differs.size),
            "worst_abs_error": float(
                np.max(np.abs(x_reco[differs].astype(np.float64) - x[differs]))
                if differs.size
                else 0.0
            ),
            "worst_ratio": math.inf if differs.size else 0.0,
            "worst_row": int(differs[0]) if differs.size else None,
        }
    return report


def as_tolerances(tolerances: str | Mapping[str, Tolerance] | None) -> dict[str, Tolerance]:
    """Accept a `pt=0.1%,eta=0.001` string (parsed by the codec's parser) or a parsed mapping."""
    if tolerances is None:
        return {}
    if isinstance(tolerances, str):
        return parse_tolerances(tolerances)
    return dict(tolerances)


def compare_tables(
    original: Table,
    reconstructed: Table,
    *,
    tolerances: str | Mapping[str, Tolerance] | None = None,
    exact: Sequence[str] = (),
    recovered_within: float = DEFAULT_RECOVERED_WITHIN,
) -> dict:
    """Per-column residual statistics, recovered fractions, correlations and rule checks.

    The rules are `tolerances` (a residual follows its tolerance's kind) and `exact`: columns
    that must come back identical (stored losslessly). Both end up under ``tolerances``, one
    entry per column, with the number of violations.
    """
    names = match_tables(original, reconstructed)
    parsed = as_tolerances(tolerances)
    kinds = {name: residual_kind(name, parsed.get(name)) for name in names}
    r = residual_matrix(original, reconstructed, names, kinds)
    per_column = {}
    within = np.ones(original.n_rows, dtype=bool)
    for j, name in enumerate(names):
        x, x_reco = original[name], reconstructed[name]
        recovered = recovered_mask(x, x_reco, r[:, j], kinds[name], recovered_within)
        per_column[name] = _column_summary(x, x_reco, kinds[name], r[:, j], recovered)
        within &= ~np.isfinite(r[:, j]) | recovered
    result: dict[str, Any] = {
        "n_rows": original.n_rows,
        "columns": names,
        "recovered_within": recovered_within,
        "recovered_pct_all": float(100.0 * np.mean(within)) if within.size else 0.0,
        "per_column": per_column,
        "residual_correlation": residual_correlation(r),
    }
    rules = tolerance_report(original, reconstructed, parsed) if parsed else {}
    rules.update(exact_report(original, reconstructed, [n for n in exact if n not in parsed]))
    if rules:
        result["tolerances"] = rules
    return result
