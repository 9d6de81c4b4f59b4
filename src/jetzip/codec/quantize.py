"""Error-bounded quantisation in a transformed space, with exceptions that make the bound certain.

Relative tolerance r: the code is q = round((log|x| - log|p|) / s) with s = 2 log(1 + r), so
x' = sign(x) |p| exp(q s) is within a factor exp(s/2) = 1 + r of x. Absolute tolerance a:
q = round((x - p) / s) with s = 2a. The prediction p is 1 without a model (log p = 0) and 0 for
absolute tolerances, or a model's decoded output. The step is shrunk slightly so rounding in the
arithmetic rarely matters, and then every reconstructed value is checked in the column's own
dtype: whatever fails (zeros under a relative bound, values beyond the float range of the grid,
NaN/inf, rounding casualties) is stored exactly as an exception. So the bound holds on every value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jetzip.codec.tolerance import Tolerance

#: Fraction of the analytic step actually used, so float rounding cannot eat the whole margin.
STEP_SAFETY = 1.0 - 1.0 / 1024
#: Codes beyond this magnitude are not represented exactly in float64 arithmetic: exceptions.
_MAX_CODE = 2.0**50
_TINY = np.finfo(np.float64).tiny
#: Rows per block of element-wise work (see `_blocks`).
BLOCK_ROWS = 65_536


def quantisation_step(tolerance: Tolerance) -> float:
    """The grid step in the transformed space that guarantees the bound analytically."""
    if tolerance.relative:
        return 2.0 * float(np.log1p(tolerance.value)) * STEP_SAFETY
    return 2.0 * tolerance.value * STEP_SAFETY


@dataclass
class QuantisedColumn:
    """Codes and the exact leftovers of one column chunk.

    Attributes:
        codes: int64 grid index per row (0 at exception rows).
        negative: rows whose value is negative (relative tolerances only; None when none are).
        exception_rows: increasing row numbers stored exactly.
        exception_values: their exact values, in the column dtype.
        restored: what `dequantise` gives back, when already computed (by `quantise`).
    """

    codes: np.ndarray
    negative: np.ndarray | None
    exception_rows: np.ndarray
    exception_values: np.ndarray
    restored: np.ndarray | None = None


def _log_prediction(prediction: np.ndarray | None, n: int) -> np.ndarray:
    if prediction is None:
        return np.zeros(n)
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.log(np.maximum(np.abs(np.asarray(prediction, dtype=np.float64)), _TINY))
    return np.where(np.isfinite(logs), logs, 0.0)


def _linear_prediction(prediction: np.ndarray | None, n: int) -> np.ndarray:
    if prediction is None:
        return np.zeros(n)
    pred = np.asarray(prediction, dtype=np.float64)
    return np.where(np.isfinite(pred), pred, 0.0)


def reconstruct(
    codes: np.ndarray,
    negative: np.ndarray | None,
    tolerance: Tolerance,
    step: float,
    dtype: np.dtype,
    prediction: np.ndarray | None = None,
) -> np.ndarray:
    """Values on the grid (before exceptions are put back), in `dtype`."""
    values = np.empty(codes.size, dtype=dtype)
    for block in _blocks(codes.size):
        values[block] = _reconstruct_block(
            codes[block], _part(negative, block), tolerance, step, dtype, _part(prediction, block)
        )
    return values


def _blocks(n: int) -> list[slice]:
    """The element-wise work runs BLOCK_ROWS rows at a time, so that its many temporary arrays
    stay in the CPU cache: about twice as fast as whole-column passes, same results."""
    return [slice(start, start + BLOCK_ROWS) for start in range(0, n, BLOCK_ROWS)]


def _part(array: np.ndarray | None, block: slice) -> np.ndarray | None:
    return None if array is None else array[block]


def _reconstruct_block(
    codes: np.ndarray,
    negative: np.ndarray | None,
    tolerance: Tolerance,
    step: float,
    dtype: np.dtype,
    prediction: np.ndarray | None,
) -> np.ndarray:
    n = codes.size
    with np.errstate(over="ignore", invalid="ignore"):
        if tolerance.relative:
            magnitude = np.exp(_log_prediction(prediction, n) + codes * step)
            values = (
                np.where(negative, -magnitude, magnitude) if negative is not None else magnitude
            )
        else:
            values = _linear_prediction(prediction, n) + codes * step
        return values.astype(dtype)


def quantise(
    values: np.ndarray, tolerance: Tolerance, prediction: np.ndarray | None = None
) -> QuantisedColumn:
    """Quantise `values` so that every value, as restored in its dtype, meets `tolerance`."""
    values = np.asarray(values)
    prediction = None if prediction is None else np.asarray(prediction)
    step = quantisation_step(tolerance)
    negative = None
    if tolerance.relative:
        below = values < 0
        negative = below if below.any() else None
    codes = np.empty(values.size, dtype=np.int64)
    restored = np.empty(values.size, dtype=values.dtype)
    failed = np.empty(values.size, dtype=bool)
    for block in _blocks(values.size):
        codes[block], restored[block], failed[block] = _quantise_block(
            values[block], tolerance, step, _part(prediction, block), _part(negative, block)
        )
    exception_rows = np.flatnonzero(failed).astype(np.int64)
    codes[exception_rows] = 0
    exception_values = values[exception_rows]
    restored[exception_rows] = exception_values
    return QuantisedColumn(codes, negative, exception_rows, exception_values, restored)


def _quantise_block(
    values: np.ndarray,
    tolerance: Tolerance,
    step: float,
    prediction: np.ndarray | None,
    negative: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Codes, grid values and failed rows (to be stored exactly) of one block."""
    x = np.asarray(values, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if tolerance.relative:
            scaled = np.log(np.abs(x))
            if prediction is not None:
                scaled -= _log_prediction(prediction, x.size)
        else:
            scaled = x.copy() if prediction is None else x - _linear_prediction(prediction, x.size)
        scaled /= step
        representable = np.abs(scaled) < _MAX_CODE  # False for NaN and inf too
    np.copyto(scaled, 0.0, where=~representable)
    codes = np.rint(scaled, out=scaled).astype(np.int64)
    restored = _reconstruct_block(codes, negative, tolerance, step, values.dtype, prediction)
    failed = tolerance.violations(x, restored)
    failed |= ~representable
    return codes, restored, failed


def dequantise(
    column: QuantisedColumn,
    tolerance: Tolerance,
    dtype: np.dtype,
    prediction: np.ndarray | None = None,
) -> np.ndarray:
    """Inverse of `quantise`: grid values with the exceptions put back exactly."""
    step = quantisation_step(tolerance)
    values = reconstruct(column.codes, column.negative, tolerance, step, dtype, prediction)
    values[column.exception_rows] = column.exception_values
    return values
