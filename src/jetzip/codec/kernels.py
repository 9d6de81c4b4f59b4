"""Compiled quantisation kernels: one pass per column, the same bits on every CPU.

`quantise_column` maps each value to its grid code, reconstructs it exactly as decoding will
(`grid_value`, shared by both kernels), checks the bound in the column's dtype and gathers the
failures and the error statistics, without column-sized temporary arrays. exp and log are
`exactmath`'s, compiled operation for operation (+ - * / and bit operations, no FMA
contraction), so neither the codes nor the decoded values depend on the CPU, and they equal
the numpy twin in `quantize` bit for bit. Imported lazily (numba costs about 0.1-0.2 s to
import, and loading the cached kernels on their first call 0.3-0.5 s; see `own_types_only`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import entrypoints
from numba.extending import intrinsic

from jetzip.codec import exactmath as em
from jetzip.codec.quantize import MAX_CODE

_TINY = np.finfo(np.float64).tiny
_INT32_LIMIT = 2.0**31
#: Rows per block of `quantise_column` (its scratch arrays stay in the L1 cache).
BLOCK = 512
_calls_lock = threading.Lock()
_calls_in_flight = 0
_extensions_held_back = False


@contextmanager
def own_types_only() -> Iterator[None]:
    """Call the kernels without numba loading other packages' extensions first.

    A first call of a kernel signature runs numba's `numba_extensions` entry points (vector's
    registers sympy-backed types, awkward's its arrays): about 0.7 s, for types these kernels
    never use. numba has no setting for this; its once-only flag
    `numba.core.entrypoints._already_initialized` is held set while calls are in flight (and
    put back afterwards, so a later user of awkward or vector in the process still gets its
    extensions on its own first compilation)."""
    global _calls_in_flight, _extensions_held_back
    with _calls_lock:
        if _calls_in_flight == 0 and not getattr(entrypoints, "_already_initialized", True):
            entrypoints._already_initialized = True
            _extensions_held_back = True
        _calls_in_flight += 1
    try:
        yield
    finally:
        with _calls_lock:
            _calls_in_flight -= 1
            if _calls_in_flight == 0 and _extensions_held_back:
                entrypoints._already_initialized = False
                _extensions_held_back = False


@intrinsic
def _bits(typingctx, x):
    """The IEEE bit pattern of a float64, as int64 (a reinterpretation, not a conversion)."""
    if isinstance(x, types.Float) and x.bitwidth == 64:

        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], ir.IntType(64))

        return types.int64(types.float64), codegen
    return None


@intrinsic
def _from_bits(typingctx, n):
    """The float64 whose IEEE bit pattern is the int64 `n`."""
    if isinstance(n, types.Integer):

        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], ir.DoubleType())

        return types.float64(types.int64), codegen
    return None


@njit(cache=True)
def _pow2(k: int) -> float:
    """2**k for -1022 <= k <= 1023, exactly."""
    return _from_bits((k + 1023) << 52)


@njit(cache=True)
def exp_scalar(x: float) -> float:
    """`exactmath.exp` of one value, compiled: the same bits."""
    if x != x:
        return x
    if x > em.EXP_OVERFLOW:
        return np.inf
    if x < em.EXP_UNDERFLOW:
        return 0.0
    k = np.floor(x * em.INV_LN2 + 0.5)
    hi = x - k * em.LN2_HI  # exact
    lo = k * em.LN2_LO
    r = hi - lo
    t = r * r
    c = r - t * (em._P1 + t * (em._P2 + t * (em._P3 + t * (em._P4 + t * em._P5))))
    y = 1.0 - ((lo - (r * c) / (2.0 - c)) - hi)
    # y * 2**k in two exact power-of-two factors: the first product is exact (normal), the
    # second rounds once, also where the result overflows or is subnormal
    n = np.int64(k)
    half = n >> 1
    return y * _pow2(half) * _pow2(n - half)


@njit(cache=True)
def log_scalar(x: float) -> float:
    """`exactmath.log` of one value, compiled: the same bits."""
    if x != x or x < 0.0:
        return np.nan
    if x == 0.0:
        return -np.inf
    if x == np.inf:
        return x
    k = np.int64(0)
    if x < em._SMALLEST_NORMAL:
        x *= em._TWO54  # exact: subnormal to normal
        k = np.int64(-54)
    bits = _bits(x)
    k += (bits >> 52) - 1023
    m = _from_bits((bits & em._MANTISSA) | (np.int64(1023) << 52))  # in [1, 2)
    if m > em._SQRT2:
        m *= 0.5
        k += 1
    f = m - 1.0  # exact
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    r = z * (em._LG1 + w * (em._LG3 + w * (em._LG5 + w * em._LG7))) + w * (
        em._LG2 + w * (em._LG4 + w * em._LG6)
    )
    hfsq = 0.5 * f * f
    dk = np.float64(k)
    return dk * em.LN2_HI - ((hfsq - (s * (hfsq + r) + dk * em.LN2_LO)) - f)


@njit(cache=True, nogil=True)
def log_prediction(p: float) -> float:
    """log|p|; 0 where that is not finite (a NaN or infinite p: no prediction), and a zero p
    counts as the smallest normal float64 (log -708: rare rows, far from the others)."""
    a = abs(p)
    if a != a or a == np.inf:
        return 0.0
    return log_scalar(max(a, _TINY))


@njit(cache=True, nogil=True)
def linear_prediction(p: float) -> float:
    """p, or 0 where p is NaN or infinite."""
    return p if abs(p) < np.inf else 0.0


@njit(cache=True, nogil=True)
def grid_value(code: float, offset: float, step: float, relative: bool, negative: bool) -> float:
    """The float64 value of a grid code: exp(code * step + log|p|), signed, under a relative
    bound, code * step + p under an absolute one (`offset` is log|p| or p, 0 without one)."""
    value = code * step + offset
    if relative:
        value = exp_scalar(value)
        if negative:
            value = -value
    return value


@njit(cache=True, nogil=True)
def quantise_column(values, prediction, has_prediction, relative, step, tolerance, codes,
                    restored, negative, failed):  # fmt: skip
    """Codes, restored values (in `restored`'s dtype) and sign flags of every row, and the rows
    that must be stored exactly (the first n_failed entries of `failed`).

    Returns (n_failed, largest absolute error, largest relative error, whether a code of a
    met row lies beyond int32 while `codes` is int32: then the caller runs again with int64).
    Failed rows get code 0 and their exact value in `restored`; the errors count met rows.
    Works BLOCK rows at a time in loops without branches between rows, which the compiler
    vectorises (3x faster than one loop doing everything per row), on block-sized scratch."""
    n_failed = 0
    max_abs = 0.0
    max_rel = 0.0
    too_wide = False
    narrow = codes.itemsize == 4
    grid = np.empty(BLOCK)
    offset = np.zeros(BLOCK)
    error = np.empty(BLOCK)
    for start in range(0, values.size, BLOCK):
        m = min(BLOCK, values.size - start)
        if has_prediction:
            for j in range(m):
                p = np.float64(prediction[start + j])
                offset[j] = log_prediction(p) if relative else linear_prediction(p)
        if relative:
            for j in range(m):
                x = np.float64(values[start + j])
                negative[start + j] = x < 0.0
                # + 0.0: -0.0 -> +0.0, as the integer code 0 comes back from the file
                grid[j] = np.rint((log_scalar(abs(x)) - offset[j]) / step) + 0.0
        else:
            for j in range(m):
                grid[j] = np.rint((np.float64(values[start + j]) - offset[j]) / step) + 0.0
        for j in range(m):
            g = grid[j] if abs(grid[j]) < MAX_CODE else 0.0  # False for NaN and inf too
            below = relative and negative[start + j]
            restored[start + j] = grid_value(g, offset[j], step, relative, below)
            error[j] = abs(np.float64(restored[start + j]) - np.float64(values[start + j]))
        for j in range(m):
            i = start + j
            magnitude = abs(np.float64(values[i]))
            allowed = tolerance * magnitude if relative else tolerance
            e = error[j]
            if abs(grid[j]) < MAX_CODE and e <= allowed and e < np.inf:
                if narrow and abs(grid[j]) >= _INT32_LIMIT:
                    too_wide = True
                codes[i] = np.int64(grid[j])
                max_abs = max(max_abs, e)
                if magnitude != 0.0:
                    max_rel = max(max_rel, e / magnitude)
            else:
                codes[i] = 0
                restored[i] = values[i]
                failed[n_failed] = i
                n_failed += 1
    return n_failed, max_abs, max_rel, too_wide


@njit(cache=True, nogil=True)
def reconstruct_column(codes, negative, has_negative, prediction, has_prediction, relative,
                       step, out):  # fmt: skip
    """Grid values of every code into `out` (in its dtype): what `quantise_column` restored."""
    for i in range(codes.size):
        offset = 0.0
        if has_prediction:
            p = np.float64(prediction[i])
            offset = log_prediction(p) if relative else linear_prediction(p)
        below = has_negative and negative[i]
        out[i] = grid_value(np.float64(codes[i]), offset, step, relative, below)
