"""Error-bounded quantisation in a transformed space, with exceptions that make the bound certain.

Relative tolerance r: the code is q = round((log|x| - log|p|) / s) with s = 2 log(1 + r), so
x' = sign(x) |p| exp(q s) is within a factor exp(s/2) = 1 + r of x. Absolute tolerance a:
q = round((x - p) / s) with s = 2a. The prediction p is 1 without a model (log p = 0) and 0 for
absolute tolerances, or a model's decoded output. The step is shrunk slightly so rounding in the
arithmetic rarely matters, and then every reconstructed value is checked in the column's own
dtype: whatever fails (zeros under a relative bound, values beyond the float range of the grid,
NaN/inf, rounding casualties) is stored exactly as an exception. So the bound holds on every value.

The grid (how a code becomes a value) is identified by GRID, recorded in every quantised column's
description: "exactmath-1" computes exp and log with `exactmath` (the same bits on every CPU) in
the compiled one-pass kernels of `kernels`; files without the entry (written before it) are
decoded with numpy's exp and log, as they were written.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from types import ModuleType

import numpy as np

from jetzip.codec import exactmath
from jetzip.codec.tolerance import Tolerance
from jetzip.errors import CorruptFileError

#: Fraction of the analytic step actually used, so float rounding cannot eat the whole margin.
STEP_SAFETY = 1.0 - 1.0 / 1024
#: The grid written today (see the module docstring); None: numpy's exp/log (older files).
GRID = "exactmath-1"
#: Codes beyond this magnitude are not represented exactly in float64 arithmetic: exceptions.
MAX_CODE = 2.0**50
_TINY = np.finfo(np.float64).tiny
#: Rows per block of the numpy paths' element-wise work (see `_blocks`).
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
        return 2.0 * float(grid_maths(grid).log1p(np.float64(tolerance.value))) * STEP_SAFETY
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


def quantise(
    values: np.ndarray, tolerance: Tolerance, prediction: np.ndarray | None = None
) -> QuantisedColumn:
    """Quantise `values` so that every value, as restored in its dtype, meets `tolerance`.

    One pass computes the codes, the restored values exactly as `dequantise` gives them back,
    the bound checked on each, failures kept exactly (`_uses_compiled` says which of the two
    bit-identical implementations runs)."""
    values = np.ascontiguousarray(values).reshape(-1)
    if values.dtype == np.float16:
        return _quantise_half(values, tolerance, prediction)
    step = quantisation_step(tolerance)
    if not _uses_compiled(values.size):
        return _quantise_numpy(values, tolerance, prediction, step)
    from jetzip.codec import kernels

    has_prediction = prediction is not None
    prediction = _contiguous(prediction, values.size)
    n = values.size
    restored = np.empty(n, dtype=values.dtype)
    negative = np.empty(n if tolerance.relative else 0, dtype=np.bool_)
    failed = np.empty(n, dtype=np.int64)  # only the pages of the rows written are touched
    for code_dtype in (np.int32, np.int64):  # int32 unless a code needs more (rare)
        codes = np.empty(n, dtype=code_dtype)
        with kernels.own_types_only():
            n_failed, max_abs, max_rel, too_wide = kernels.quantise_column(
                values, prediction, has_prediction, tolerance.relative, step,
                float(tolerance.value), codes, restored, negative, failed,
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


#: Values a process quantises or decodes before it loads the compiled kernels, in a background
#: thread (`_load_kernels`); the numpy twin runs until they are loaded, so the switch never
#: holds a file up. Loading costs ~0.7 s of CPU (numba's import and the cached kernels) and
#: ~170 MiB; the kernels save ~0.08 s per million four-column jets: so the switch comes once
#: the numpy twin has cost about what loading costs (8 M jets; the rent-or-buy rule, never
#: worse than twice the best choice made knowing the stream's length). Negative: the compiled
#: kernels from the first value, loaded by the first call (the tests).
COMPILED_AFTER_VALUES = 32_000_000
_values_done = 0
_loader: threading.Thread | None = None
_loaded = threading.Event()
_count_lock = threading.Lock()


def _uses_compiled(n: int) -> bool:
    """Whether this call runs the compiled kernels (the bytes and values are the same)."""
    global _values_done, _loader
    if COMPILED_AFTER_VALUES < 0:
        return True
    with _count_lock:
        _values_done += n
        if _values_done <= COMPILED_AFTER_VALUES:
            return False
        if _loader is None:
            _loader = threading.Thread(target=_load_kernels, name="jetzip-kernels")
            _loader.start()
    return _loaded.is_set()


def _load_kernels() -> None:
    """Load (or, the first time on a machine, compile) the kernels for float32 and float64
    columns, with and without a prediction, then let the calls use them."""
    from jetzip.codec import kernels

    with kernels.own_types_only():
        for dtype in (np.float32, np.float64):
            values = np.ones(1, dtype=dtype)
            codes, negative, failed = (
                np.empty(1, np.int32),
                np.empty(1, np.bool_),
                np.empty(1, np.int64),
            )
            for prediction in (np.zeros(1), values):
                kernels.quantise_column(values, prediction, False, True, 0.1, 0.1, codes,
                                        values.copy(), negative, failed)  # fmt: skip
                kernels.reconstruct_column(codes, negative, False, prediction, False, True, 0.1,
                                           values.copy())  # fmt: skip
    _loaded.set()


def _contiguous(array: np.ndarray | None, n: int) -> np.ndarray:
    """`array` as a contiguous 1-d array of `n` rows (a 1-element placeholder for None)."""
    if array is None:
        return np.zeros(1)
    array = np.ascontiguousarray(array).reshape(-1)
    if array.dtype == np.float16:  # numba has no float16: widened, exactly
        array = array.astype(np.float32)
    if array.size != n:
        raise ValueError(f"a prediction of {array.size} rows for {n} values")
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
    half = dtype == np.float16  # numba has no float16: float32, then rounded (as `quantise`)
    values = np.empty(codes.size, dtype=np.float32 if half else dtype)
    if _uses_compiled(codes.size):
        from jetzip.codec import kernels

        with kernels.own_types_only():
            kernels.reconstruct_column(
                np.ascontiguousarray(codes), _contiguous(negative, codes.size),
                negative is not None, _contiguous(prediction, codes.size),
                prediction is not None, tolerance.relative, step, values,
            )  # fmt: skip
    else:
        for block in _blocks(codes.size):
            offset = 0.0 if prediction is None else _offsets(prediction[block], tolerance)
            below = None if negative is None else negative[block]
            grid = codes[block].astype(np.float64)
            with np.errstate(over="ignore", invalid="ignore"):
                values[block] = _grid_values(grid, offset, step, tolerance.relative, below)
    return values.astype(np.float16) if half else values


def _quantise_half(
    values: np.ndarray, tolerance: Tolerance, prediction: np.ndarray | None
) -> QuantisedColumn:
    """float16 values (numba has none): quantised as float32, whose grid values are then
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


# ----------------------------------- the numpy twin of the compiled kernels (same bits)
def _blocks(n: int) -> list[slice]:
    """BLOCK_ROWS rows at a time, so that the temporary arrays stay in the CPU cache."""
    return [slice(start, start + BLOCK_ROWS) for start in range(0, n, BLOCK_ROWS)]


def _offsets(prediction: np.ndarray, tolerance: Tolerance) -> np.ndarray:
    """`kernels.log_prediction` / `kernels.linear_prediction` of a block of predictions."""
    p = prediction.astype(np.float64)
    if not tolerance.relative:
        return np.where(np.abs(p) < np.inf, p, 0.0)
    magnitude = np.abs(p)
    logs = exactmath.log(np.maximum(magnitude, _TINY))
    return np.where(np.isnan(magnitude) | (magnitude == np.inf), 0.0, logs)


def _grid_values(
    grid: np.ndarray,
    offset: np.ndarray | float,
    step: float,
    relative: bool,
    negative: np.ndarray | None,
) -> np.ndarray:
    """`kernels.grid_value` of a block of codes (as float64)."""
    values = grid * step + offset
    if relative:
        values = exactmath.exp(values)
        if negative is not None:
            values = np.where(negative, -values, values)
    return values


def _quantise_numpy(
    values: np.ndarray, tolerance: Tolerance, prediction: np.ndarray | None, step: float
) -> QuantisedColumn:
    """`kernels.quantise_column` in numpy, block by block: the same codes, values, exceptions
    and statistics, without compiling anything."""
    n = values.size
    relative = tolerance.relative
    codes = np.empty(n, dtype=np.int32)
    restored = np.empty(n, dtype=values.dtype)
    negative = np.zeros(n if relative else 0, dtype=np.bool_)
    failed_rows = [np.zeros(0, dtype=np.int64)]
    max_abs = max_rel = 0.0
    with np.errstate(all="ignore"):
        for block in _blocks(n):
            x = values[block].astype(np.float64)
            offset = 0.0 if prediction is None else _offsets(prediction[block], tolerance)
            magnitude = np.abs(x)
            below = None
            if relative:
                below = negative[block] = x < 0.0
                grid = np.rint((exactmath.log(magnitude) - offset) / step) + 0.0
            else:
                grid = np.rint((x - offset) / step) + 0.0
            representable = np.abs(grid) < MAX_CODE  # False for NaN and inf too
            usable = np.where(representable, grid, 0.0)
            restored[block] = _grid_values(usable, offset, step, relative, below)
            error = np.abs(restored[block].astype(np.float64) - x)
            allowed = tolerance.value * magnitude if relative else tolerance.value
            met = representable & (error <= allowed) & (error < np.inf)
            if codes.dtype == np.int32 and np.any(np.abs(grid[met]) >= 2.0**31):
                codes = codes.astype(np.int64)
            codes[block] = np.where(met, grid, 0.0)
            rows = np.flatnonzero(~met) + block.start
            restored[rows] = values[rows]
            failed_rows.append(rows)
            if met.any():
                max_abs = max(max_abs, float(error[met].max()))
                counted = met & (magnitude != 0.0)
                if counted.any():
                    max_rel = max(max_rel, float((error[counted] / magnitude[counted]).max()))
    exception_rows = np.concatenate(failed_rows)
    return QuantisedColumn(
        codes,
        negative if relative and negative.any() else None,
        exception_rows,
        values[exception_rows],
        restored,
        max_abs,
        max_rel,
    )


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
