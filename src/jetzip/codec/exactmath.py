"""exp, log, log1p, cosh and hypot from + - * /, sqrt and bit operations on IEEE doubles.

numpy's and libm's transcendental functions give different last bits on different CPUs (numpy
picks an AVX-512, AVX2 or baseline loop at run time; torch likewise). IEEE + - * / and sqrt are
correctly rounded everywhere, so functions built only from them, evaluated in a fixed order,
give the same bits on every machine: what a decoded value may depend on (docs/codec.md,
"Determinism"). The algorithms are the classic fdlibm ones (argument reduction by ln 2, a
minimax polynomial on the reduced argument), accurate to about 1 ulp.

Compiled with numba: no fastmath, so LLVM neither reassociates nor contracts a * b + c into a
fused multiply-add (whose single rounding would differ from a CPU without FMA);
`tests/test_exactmath.py` checks the machine code for FMA instructions. Vectorising over
elements does not change any element's result. Compiled on first use and cached on disk.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

# fdlibm's constants: ln 2 split so that k * LN2_HI is exact for |k| < 2**11
LN2_HI = 6.93147180369123816490e-01
LN2_LO = 1.90821492927058770002e-10
INV_LN2 = 1.44269504088896338700e00
#: Largest x with a finite exp(x), and the x below which exp(x) rounds to zero.
EXP_OVERFLOW = 7.09782712893383973096e02
EXP_UNDERFLOW = -7.45133219101941108420e02
_P1 = 1.66666666666666019037e-01
_P2 = -2.77777777770155933842e-03
_P3 = 6.61375632143793436117e-05
_P4 = -1.65339022054652515390e-06
_P5 = 4.13813679705723846039e-08
_LG1 = 6.666666666666735130e-01
_LG2 = 3.999999999940941908e-01
_LG3 = 2.857142874366239149e-01
_LG4 = 2.222219843214978396e-01
_LG5 = 1.818357216161805012e-01
_LG6 = 1.531383769920937332e-01
_LG7 = 1.479819860511658591e-01
_SQRT2 = 1.4142135623730951
_MANTISSA = (1 << 52) - 1
_SMALLEST_NORMAL = 2.0**-1022
_TWO54 = 2.0**54


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
    """e**x within about 1 ulp, the same bits on every CPU."""
    if x != x:
        return x
    if x > EXP_OVERFLOW:
        return np.inf
    if x < EXP_UNDERFLOW:
        return 0.0
    k = np.floor(x * INV_LN2 + 0.5)
    hi = x - k * LN2_HI  # exact
    lo = k * LN2_LO
    r = hi - lo
    t = r * r
    c = r - t * (_P1 + t * (_P2 + t * (_P3 + t * (_P4 + t * _P5))))
    y = 1.0 - ((lo - (r * c) / (2.0 - c)) - hi)
    # y * 2**k in two exact power-of-two factors: the first product is exact (normal), the
    # second rounds once, also where the result overflows or is subnormal
    n = np.int64(k)
    half = n >> 1
    return y * _pow2(half) * _pow2(n - half)


@njit(cache=True)
def log_scalar(x: float) -> float:
    """Natural logarithm within about 1 ulp, the same bits on every CPU (log 0 = -inf, log of
    a negative number or NaN = NaN)."""
    if x != x or x < 0.0:
        return np.nan
    if x == 0.0:
        return -np.inf
    if x == np.inf:
        return x
    k = np.int64(0)
    if x < _SMALLEST_NORMAL:
        x *= _TWO54  # exact: subnormal to normal
        k = np.int64(-54)
    bits = _bits(x)
    k += (bits >> 52) - 1023
    m = _from_bits((bits & _MANTISSA) | (np.int64(1023) << 52))  # in [1, 2)
    if m > _SQRT2:
        m *= 0.5
        k += 1
    f = m - 1.0  # exact
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    r = z * (_LG1 + w * (_LG3 + w * (_LG5 + w * _LG7))) + w * (_LG2 + w * (_LG4 + w * _LG6))
    hfsq = 0.5 * f * f
    dk = np.float64(k)
    return dk * LN2_HI - ((hfsq - (s * (hfsq + r) + dk * LN2_LO)) - f)


@njit(cache=True)
def log1p_scalar(x: float) -> float:
    """log(1 + x), accurate also for tiny x (Goldberg: log(u) * x / (u - 1) with u = 1 + x)."""
    u = 1.0 + x
    if u == 1.0:
        return x
    if u == np.inf:
        return log_scalar(u)
    return log_scalar(u) * (x / (u - 1.0))


@njit(cache=True)
def cosh_scalar(x: float) -> float:
    """Hyperbolic cosine, (e**|x| + e**-|x|) / 2."""
    e = exp_scalar(abs(x))
    return 0.5 * e + 0.5 / e


@njit(cache=True)
def hypot_scalar(a: float, b: float) -> float:
    """sqrt(a**2 + b**2) without overflow (scaled by the larger magnitude)."""
    a, b = abs(a), abs(b)
    if a == np.inf or b == np.inf:
        return np.inf
    if a != a or b != b:
        return np.nan
    big, small = (a, b) if a >= b else (b, a)
    if big == 0.0:
        return 0.0
    ratio = small / big
    return big * np.sqrt(1.0 + ratio * ratio)


@njit(cache=True)
def _map1(kind: int, x: np.ndarray, out: np.ndarray) -> None:
    for i in range(x.size):
        if kind == 0:
            out[i] = exp_scalar(x[i])
        elif kind == 1:
            out[i] = log_scalar(x[i])
        elif kind == 2:
            out[i] = log1p_scalar(x[i])
        else:
            out[i] = cosh_scalar(x[i])


@njit(cache=True)
def _hypot_array(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    for i in range(a.size):
        out[i] = hypot_scalar(a[i], b[i])


def _unary(kind: int, x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    out = np.empty(x.shape)
    _map1(kind, x.ravel(), out.reshape(-1))
    return out


def exp(x: np.ndarray) -> np.ndarray:
    """`exp_scalar` of every element (float64 result; float32 input is widened exactly)."""
    return _unary(0, x)


def log(x: np.ndarray) -> np.ndarray:
    """`log_scalar` of every element."""
    return _unary(1, x)


def log1p(x: np.ndarray) -> np.ndarray:
    """`log1p_scalar` of every element."""
    return _unary(2, x)


def cosh(x: np.ndarray) -> np.ndarray:
    """`cosh_scalar` of every element."""
    return _unary(3, x)


def hypot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """`hypot_scalar` of every pair (same shapes)."""
    a, b = np.broadcast_arrays(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
    out = np.empty(a.shape)
    _hypot_array(np.ascontiguousarray(a).ravel(), np.ascontiguousarray(b).ravel(), out.reshape(-1))
    return out
