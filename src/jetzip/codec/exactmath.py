"""exp, log, log1p, cosh and hypot from + - * /, sqrt and bit operations on IEEE doubles.

numpy's and libm's transcendental functions give different last bits on different CPUs (numpy
picks an AVX-512, AVX2 or baseline loop at run time; torch likewise). IEEE + - * / and sqrt are
correctly rounded everywhere, and so are numpy's element-wise loops of them whatever their SIMD
width, so functions built only from them, evaluated in a fixed order, give the same bits on every
machine: what a decoded value may depend on (docs/codec.md, "Determinism"). The algorithms are
the classic fdlibm ones (argument reduction by ln 2, a minimax polynomial on the reduced
argument), accurate to about 1 ulp.

These are the numpy versions, used by the integer decoder and the grid's step; the quantiser's
one-pass C kernels (`_gridkernels.c`) have the same exp and log, operation for operation, and
`tests/test_exactmath.py` checks that both give the same bits.
"""

from __future__ import annotations

import numpy as np

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


def _scale_by_pow2(y: np.ndarray, k: np.ndarray) -> None:
    """y *= 2**k in place, for -1022 <= k <= 1023 (exact)."""
    k += 1023
    k <<= 52
    y *= k.view(np.float64)


def exp(x: np.ndarray) -> np.ndarray:
    """e**x of every element (float64; float32 input is widened exactly), within ~1 ulp.

    The operations of `exp_value` in `_gridkernels.c`, in the same order, done in place."""
    shape, x = np.shape(x), np.asarray(x, dtype=np.float64).reshape(-1)
    with np.errstate(all="ignore"):
        k = x * INV_LN2
        k += 0.5
        np.floor(k, out=k)
        np.clip(k, -2000.0, 2000.0, out=k)  # inf, far out of range (and NaN): replaced below
        hi = k * LN2_HI
        np.subtract(x, hi, out=hi)
        lo = k * LN2_LO
        r = hi - lo
        t = r * r
        c = t * _P5  # c = r - t * (P1 + t * (P2 + t * (P3 + t * (P4 + t * P5))))
        for coefficient in (_P4, _P3, _P2):
            c += coefficient
            c *= t
        c += _P1
        c *= t
        np.subtract(r, c, out=c)
        r *= c  # y = 1 - ((lo - (r * c) / (2 - c)) - hi)
        np.subtract(2.0, c, out=c)
        r /= c
        lo -= r
        lo -= hi
        y = np.subtract(1.0, lo, out=lo)
        n = k.astype(np.int64)
        half = n >> 1
        n -= half
        _scale_by_pow2(y, half)
        _scale_by_pow2(y, n)
    np.copyto(y, np.inf, where=x > EXP_OVERFLOW)
    np.copyto(y, 0.0, where=x < EXP_UNDERFLOW)
    np.copyto(y, x, where=np.isnan(x))
    return y.reshape(shape)


def log(x: np.ndarray) -> np.ndarray:
    """Natural logarithm of every element, within ~1 ulp (log 0 = -inf; negative or NaN: NaN).

    The operations of `log_value` in `_gridkernels.c`, in the same order."""
    shape, x = np.shape(x), np.asarray(x, dtype=np.float64).reshape(-1)
    with np.errstate(all="ignore"):
        subnormal = x < _SMALLEST_NORMAL
        if subnormal.any():
            scaled = np.where(subnormal, x * _TWO54, x)
            k = np.where(subnormal, np.int64(-1023 - 54), np.int64(-1023))
        else:
            scaled, k = x, np.full(x.shape, np.int64(-1023))
        bits = scaled.view(np.int64)
        k += bits >> 52
        m = bits & _MANTISSA
        m |= np.int64(1023) << 52
        f = m.view(np.float64)
        big = f > _SQRT2
        np.multiply(f, 0.5, out=f, where=big)
        k += big
        f -= 1.0
        s = f + 2.0
        np.divide(f, s, out=s)
        z = s * s
        w = z * z
        odd = w * _LG7  # z * (LG1 + w * (LG3 + w * (LG5 + w * LG7)))
        for coefficient in (_LG5, _LG3):
            odd += coefficient
            odd *= w
        odd += _LG1
        odd *= z
        even = w * _LG6  # w * (LG2 + w * (LG4 + w * LG6))
        even += _LG4
        even *= w
        even += _LG2
        even *= w
        odd += even  # r
        hfsq = 0.5 * f
        hfsq *= f
        odd += hfsq  # s * (hfsq + r) + dk * LN2_LO
        odd *= s
        dk = k.astype(np.float64)
        odd += dk * LN2_LO
        np.subtract(hfsq, odd, out=odd)
        odd -= f
        dk *= LN2_HI
        result = np.subtract(dk, odd, out=dk)
    np.copyto(result, np.nan, where=np.isnan(x) | (x < 0.0))
    np.copyto(result, -np.inf, where=x == 0.0)
    np.copyto(result, np.inf, where=x == np.inf)
    return result.reshape(shape)


def log1p(x: np.ndarray) -> np.ndarray:
    """log(1 + x), accurate also for tiny x (Goldberg: log(u) * x / (u - 1) with u = 1 + x)."""
    x = np.asarray(x, dtype=np.float64)
    u = 1.0 + x
    with np.errstate(all="ignore"):
        result = log(u) * (x / (u - 1.0))
    result = np.where(u == np.inf, log(u), result)
    return np.where(u == 1.0, x, result)


def cosh(x: np.ndarray) -> np.ndarray:
    """Hyperbolic cosine, (e**|x| + e**-|x|) / 2."""
    e = exp(np.abs(np.asarray(x, dtype=np.float64)))
    with np.errstate(all="ignore"):
        return 0.5 * e + 0.5 / e


def hypot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """sqrt(a**2 + b**2) without overflow (scaled by the larger magnitude)."""
    a = np.abs(np.asarray(a, dtype=np.float64))
    b = np.abs(np.asarray(b, dtype=np.float64))
    big, small = np.maximum(a, b), np.minimum(a, b)
    with np.errstate(all="ignore"):
        ratio = small / big
        result = big * np.sqrt(1.0 + ratio * ratio)
    result = np.where(big == 0.0, 0.0, result)
    result = np.where(np.isnan(a) | np.isnan(b), np.nan, result)
    return np.where((a == np.inf) | (b == np.inf), np.inf, result)
