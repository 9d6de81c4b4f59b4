"""Error-bounded quantisation in a transformed space, with exceptions that make the bound certain.

Relative tolerance r: the code is q = round((log|x| - log|p|) / s) with s = 2 log(1 + r), so
x' = sign(x) |p| exp(q s) is within a factor exp(s/2) = 1 + r of x. Absolute tolerance a:
q = round((x - p) / s) with s = 2a. The prediction p is 1 without a model (log p = 0) and 0 for
absolute tolerances, or a model's decoded output. The step is shrunk slightly so rounding in the
arithmetic rarely matters, and then every reconstructed value is checked in the column's own
dtype: whatever fails (zeros under a relative bound, values beyond the float range of the grid,
NaN/inf, rounding casualties) is stored exactly as an exception. So the bound holds on every value.

The grid (how a code becomes a value) is identified by GRID, recorded in every quantised column's
description: "exactmath-1" computes exp and log as `exactmath` does (the same bits on every CPU), in
the one-pass C kernels of `_gridkernels` (compiled when jetzip is installed, exact by their
compiler flags: docs/codec.md, "The compiled grid kernels"); files without the entry (written
before it) are decoded with numpy's exp and log, as they were written.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from types import ModuleType

import numpy as np

from jetzip.codec import _gridkernels, exactmath
from jetzip.codec.tolerance import Tolerance
from jetzip.errors import CorruptFileError

#: Fraction of the analytic step actually used, so float rounding cannot eat the whole margin.
STEP_SAFETY = 1.0 - 1.0 / 1024
#: The grid written today (see the module docstring); None: numpy's exp/log (older files).
GRID = "exactmath-1"
#: Codes beyond this magnitude are not represented exactly in float64 arithmetic: exceptions
#: (the C kernels' MAX_CODE).
MAX_CODE = 2.0**50
_TINY = np.finfo(np.float64).tiny
#: Rows per block of numpy element-wise work, so temporaries stay in the CPU cache (the older
#: files' grid here, the error statistics in `chunk`).
BLOCK_ROWS = 65_536


def grid_maths(grid: str | None) -> ModuleType:
    """The module whose exp, log, log1p, cosh and hypot a grid uses: `exactmath` or, for
    files written before GRID was recorded, numpy."""
    if grid is None:
        return np
    if grid != GRID:
        raise CorruptFileError(
            f"unknown quantisation grid {grid!r} (written by a newer jetzip? this one knows "
            f"{GRID!r})"
        )
    return exactmath


def quantisation_step(tolerance: Tolerance, grid: str | None = GRID) -> float:
    """The grid step in the transformed space that guarantees the bound analytically."""
    if tolerance.relative:
        return _relative_step(float(tolerance.value), grid)
    return 2.0 * tolerance.value * STEP_SAFETY


@functools.lru_cache(maxsize=1024)
def _relative_step(value: float, grid: str | None) -> float:
    """A relative bound's step, once per bound and grid: exactmath's log1p of one number is
    ~0.15 ms of numpy calls, and a wide file quantises thousands of columns and samples (0.46 s
    of a 797-column PHYSLITE file's compression)."""
    return 2.0 * float(grid_maths(grid).log1p(np.float64(value))) * STEP_SAFETY


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


def quantise(
    values: np.ndarray, tolerance: Tolerance, prediction: np.ndarray | None = None
) -> QuantisedColumn:
    """Quantise `values` so that every value, as restored in its dtype, meets `tolerance`.

    One compiled pass computes the codes, the restored values exactly as `dequantise` gives them
    back, the bound checked on each, failures kept exactly."""
    values = np.ascontiguousarray(values).reshape(-1)
    if values.dtype == np.float16:
        return _quantise_half(values, tolerance, prediction)
    step = quantisation_step(tolerance)
    prediction = _contiguous(prediction, values.size)
    n = values.size
    restored = np.empty(n, dtype=values.dtype)
    negative = np.empty(n if tolerance.relative else 0, dtype=np.bool_)
    failed = np.empty(n, dtype=np.int64)  # only the pages of the rows written are touched
    for code_dtype in (np.int32, np.int64):  # int32 unless a code needs more (rare)
        codes = np.empty(n, dtype=code_dtype)
        n_failed, max_abs, max_rel, too_wide = _gridkernels.quantise(
            values, prediction, tolerance.relative, step, float(tolerance.value), codes,
            restored, negative, failed,
        )  # fmt: skip
        if not too_wide:
            break
    exception_rows = failed[:n_failed].copy()
    return QuantisedColumn(
        codes,
        negative if tolerance.relative and negative.any() else None,
        exception_rows,
        values[exception_rows],
        restored,
        max_abs,
        max_rel,
    )


def _contiguous(array: np.ndarray | None, n: int) -> np.ndarray | None:
    """`array` as a contiguous 1-d array of `n` rows, as the kernels take it (None stays)."""
    if array is None:
        return None
    array = np.ascontiguousarray(array).reshape(-1)
    if array.dtype.kind == "b":
        return array
    if array.dtype not in (np.float32, np.float64):  # float16 (the kernels have none): exact
        array = array.astype(np.float32 if array.dtype == np.float16 else np.float64)
    if array.size != n:
        raise ValueError(f"{array.size} rows (prediction or signs) for {n} values")
    return array


def reconstruct(
    codes: np.ndarray,
    negative: np.ndarray | None,
    tolerance: Tolerance,
    dtype: np.dtype,
    prediction: np.ndarray | None = None,
    grid: str | None = GRID,
) -> np.ndarray:
    """Values on the grid (before exceptions are put back), in `dtype`."""
    step = quantisation_step(tolerance, grid)
    if grid is None:
        return _legacy_reconstruct(codes, negative, tolerance, step, dtype, prediction)
    grid_maths(grid)  # refuses an unknown grid
    half = dtype == np.float16  # the kernels have no float16: float32, then rounded (as `quantise`)
    values = np.empty(codes.size, dtype=np.float32 if half else dtype)
    if codes.dtype not in (np.int32, np.int64):  # the kernels' code types
        codes = codes.astype(np.int64)
    _gridkernels.reconstruct(
        np.ascontiguousarray(codes), _contiguous(negative, codes.size),
        _contiguous(prediction, codes.size), tolerance.relative, step, values,
    )  # fmt: skip
    return values.astype(np.float16) if half else values


def _quantise_half(
    values: np.ndarray, tolerance: Tolerance, prediction: np.ndarray | None
) -> QuantisedColumn:
    """float16 values (the kernels have none): quantised as float32, whose grid values are then
    rounded to float16 as `reconstruct` rounds them, and checked again at that precision."""
    column = quantise(values.astype(np.float32), tolerance, prediction)
    assert column.restored is not None
    restored = column.restored.astype(np.float16)
    x = values.astype(np.float64)
    error = np.abs(restored.astype(np.float64) - x)
    allowed = tolerance.value * np.abs(x) if tolerance.relative else tolerance.value
    failed = ~(error <= allowed)  # NaN errors fail (non-finite values are exceptions already)
    failed[column.exception_rows] = True
    rows = np.flatnonzero(failed)
    column.codes[rows] = 0
    restored[rows] = values[rows]
    error[rows] = 0.0
    magnitude = np.abs(x)
    relative = np.divide(error, magnitude, out=np.zeros_like(error), where=magnitude != 0)
    return QuantisedColumn(
        column.codes,
        column.negative,
        rows,
        values[rows],
        restored,
        float(error.max(initial=0.0)),
        float(relative.max(initial=0.0)),
    )


def dequantise(
    column: QuantisedColumn,
    tolerance: Tolerance,
    dtype: np.dtype,
    prediction: np.ndarray | None = None,
    grid: str | None = GRID,
) -> np.ndarray:
    """Inverse of `quantise`: grid values with the exceptions put back exactly."""
    values = reconstruct(column.codes, column.negative, tolerance, dtype, prediction, grid)
    values[column.exception_rows] = column.exception_values
    return values


def _blocks(n: int) -> list[slice]:
    """BLOCK_ROWS rows at a time, so that the temporary arrays stay in the CPU cache."""
    return [slice(start, start + BLOCK_ROWS) for start in range(0, n, BLOCK_ROWS)]


# ------------------------------------------------------------- the numpy grid of older files
def _legacy_reconstruct(
    codes: np.ndarray,
    negative: np.ndarray | None,
    tolerance: Tolerance,
    step: float,
    dtype: np.dtype,
    prediction: np.ndarray | None,
) -> np.ndarray:
    """Grid values as files without a recorded grid were written: with numpy's exp and log
    (whose last bits depend on the CPU), BLOCK_ROWS rows at a time."""
    values = np.empty(codes.size, dtype=dtype)
    for block in _blocks(codes.size):
        grid = codes[block].astype(np.float64) * step
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            if tolerance.relative:
                if prediction is not None:
                    logs = np.log(np.maximum(np.abs(prediction[block].astype(np.float64)), _TINY))
                    grid += np.where(np.isfinite(logs), logs, 0.0)
                np.exp(grid, out=grid)
                if negative is not None:
                    grid = np.where(negative[block], -grid, grid)
            elif prediction is not None:
                linear = prediction[block].astype(np.float64)
                grid += np.where(np.isfinite(linear), linear, 0.0)
        values[block] = grid
    return values
