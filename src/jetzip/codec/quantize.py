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
#: Codes are int32 (half the memory to touch and to decode) unless a column needs more.
_INT32_CODES = (-(2.0**31), 2.0**31)
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
        codes: grid index per row (0 at exception rows): int32, or int64 where a code needs it.
        negative: rows whose value is negative (relative tolerances only; None when none are).
        exception_rows: increasing row numbers stored exactly.
        exception_values: their exact values, in the column dtype.
        restored: what `dequantise` gives back, when already computed (by `quantise`).
        max_abs_error, max_rel_error: largest errors of `restored` (by `quantise`).
    """

    codes: np.ndarray
    negative: np.ndarray | None
    exception_rows: np.ndarray
    exception_values: np.ndarray
    restored: np.ndarray | None = None
    max_abs_error: float = 0.0
    max_rel_error: float = 0.0


def _log_prediction(prediction: np.ndarray) -> np.ndarray:
    """log|p|, with 0 where that is not finite (p NaN or inf: those rows fall back to no
    prediction). A zero p counts as the smallest normal float64 (log -708), so its row gets a
    code far from the others: rare rows (a ratio predictor's source stored as an exact zero),
    still exact, and part of the format (decoding computes the same)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.log(np.maximum(np.abs(np.asarray(prediction, dtype=np.float64)), _TINY))
    return np.where(np.isfinite(logs), logs, 0.0)


def _linear_prediction(prediction: np.ndarray) -> np.ndarray:
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
        grid = codes[block].astype(np.float64)
        values[block] = _reconstruct_block(
            grid, _part(negative, block), tolerance, step, dtype, _part(prediction, block)
        )
    return values


def _blocks(n: int) -> list[slice]:
    """The element-wise work runs BLOCK_ROWS rows at a time, so that its temporary arrays stay
    in the CPU cache: about twice as fast as whole-column passes, same results."""
    return [slice(start, start + BLOCK_ROWS) for start in range(0, n, BLOCK_ROWS)]


def _part(array: np.ndarray | None, block: slice) -> np.ndarray | None:
    return None if array is None else array[block]


def _reconstruct_block(
    grid: np.ndarray,
    negative: np.ndarray | None,
    tolerance: Tolerance,
    step: float,
    dtype: np.dtype,
    prediction: np.ndarray | None,
) -> np.ndarray:
    """Grid values from the codes of one block, given as float64 (exact: |code| < 2**50).

    The one function both quantisation and decoding use, so what is checked at compression is
    bit for bit what decompression gives back."""
    values = grid * step
    with np.errstate(over="ignore", invalid="ignore"):
        if tolerance.relative:
            if prediction is not None:
                values += _log_prediction(prediction)
            np.exp(values, out=values)
            if negative is not None:
                values = np.where(negative, -values, values)  # faster than a masked negative
        elif prediction is not None:
            values += _linear_prediction(prediction)
    return values.astype(dtype, copy=False)


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
    codes = np.empty(values.size, dtype=np.int32)
    restored = np.empty(values.size, dtype=values.dtype)
    failed_rows = []  # per block (a whole-column mask would be more memory to map, for few rows)
    max_abs = max_rel = 0.0
    for block in _blocks(values.size):
        grid, restored[block], failed, errors = _quantise_block(
            values[block], tolerance, step, _part(prediction, block), _part(negative, block)
        )
        if (
            codes.dtype == np.int32
            and not _INT32_CODES[0] <= grid.min() <= grid.max() < _INT32_CODES[1]
        ):
            codes = codes.astype(np.int64)
        codes[block] = grid
        failed_rows.append(np.flatnonzero(failed) + block.start)
        max_abs, max_rel = max(max_abs, errors[0]), max(max_rel, errors[1])
    exception_rows = np.concatenate([np.zeros(0, dtype=np.int64), *failed_rows])
    codes[exception_rows] = 0
    exception_values = values[exception_rows]
    restored[exception_rows] = exception_values
    return QuantisedColumn(
        codes, negative, exception_rows, exception_values, restored, max_abs, max_rel
    )


def _quantise_block(
    values: np.ndarray,
    tolerance: Tolerance,
    step: float,
    prediction: np.ndarray | None,
    negative: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[float, float]]:
    """Grid indices (as float64), grid values and failed rows (to be stored exactly) of one
    block, with the largest absolute and relative error of the rows that did not fail.

    Non-finite values fail (their grid index is not representable), as does any value whose
    grid value, cast to its dtype, misses the bound."""
    x = np.asarray(values, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        magnitude = np.abs(x)
        if tolerance.relative:
            grid = np.log(magnitude)
            if prediction is not None:
                grid -= _log_prediction(prediction)
        else:
            grid = x.copy() if prediction is None else x - _linear_prediction(prediction)
        grid /= step
        np.rint(grid, out=grid)
        grid += 0.0  # -0.0 -> +0.0, as the integer code 0 comes back from the file
        representable = np.abs(grid) < _MAX_CODE  # False for NaN and inf too
        if not representable.all():
            np.copyto(grid, 0.0, where=~representable)
        restored = _reconstruct_block(grid, negative, tolerance, step, values.dtype, prediction)
        error = restored.astype(np.float64)
        error -= x
        np.abs(error, out=error)
        allowed = tolerance.value * magnitude if tolerance.relative else tolerance.value
        met = error <= allowed  # False where the error is NaN
        met &= representable
        met &= np.isfinite(error)  # a grid value that overflowed, even where `allowed` did too
        failed = ~met
        np.copyto(error, 0.0, where=failed)  # those are stored exactly
        max_abs = float(error.max(initial=0.0))
        # relative errors, counted where |x| > 0 (as met rows of a relative bound always are;
        # under an absolute bound only a model's prediction can leave an error at x = 0)
        if tolerance.relative:
            np.divide(error, magnitude, out=error, where=met)
        else:
            zero = magnitude == 0
            np.copyto(error, 0.0, where=zero)
            np.divide(error, magnitude, out=error, where=~zero)
    return grid, restored, failed, (max_abs, float(error.max(initial=0.0)))


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
