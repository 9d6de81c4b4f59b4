"""exp, log, log1p, cosh and hypot from + - * /, sqrt and bit operations on IEEE doubles.

numpy's and libm's transcendental functions give different last bits on different CPUs (numpy
picks an AVX-512, AVX2 or baseline loop at run time; torch likewise). IEEE + - * / and sqrt are
correctly rounded everywhere, and so are numpy's element-wise loops of them whatever their SIMD
width, so functions built only from them, evaluated in a fixed order, give the same bits on every
machine: what a decoded value may depend on (docs/codec.md, "Determinism"). The algorithms are
the classic fdlibm ones (argument reduction by ln 2, a minimax polynomial on the reduced
argument), accurate to about 1 ulp.

These are the numpy versions (no compilation: the first call costs nothing); `kernels` has the
same exp and log compiled with numba for its one-pass quantiser, operation for operation, and
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


def _pow2_array(k: np.ndarray) -> np.ndarray:
    return ((k + 1023) << 52).view(np.float64)


def exp(x: np.ndarray) -> np.ndarray:
    """e**x of every element (float64; float32 input is widened exactly), within ~1 ulp."""
    shape, x = np.shape(x), np.asarray(x, dtype=np.float64).reshape(-1)
    with np.errstate(all="ignore"):
        k = np.floor(x * INV_LN2 + 0.5)
        k[~(np.abs(k) < 2000.0)] = 0.0  # NaN, inf, far out of range: replaced below
        hi = x - k * LN2_HI
        lo = k * LN2_LO
        r = hi - lo
        t = r * r
        c = r - t * (_P1 + t * (_P2 + t * (_P3 + t * (_P4 + t * _P5))))
        y = 1.0 - ((lo - (r * c) / (2.0 - c)) - hi)
        n = k.astype(np.int64)
        half = n >> 1
        y = y * _pow2_array(half) * _pow2_array(n - half)
    y[x > EXP_OVERFLOW] = np.inf
    y[x < EXP_UNDERFLOW] = 0.0
    nan = np.isnan(x)
    y[nan] = x[nan]
    return y.reshape(shape)


def log(x: np.ndarray) -> np.ndarray:
    """Natural logarithm of every element, within ~1 ulp (log 0 = -inf; negative or NaN: NaN)."""
    shape, x = np.shape(x), np.asarray(x, dtype=np.float64).reshape(-1)
    with np.errstate(all="ignore"):
        subnormal = x < _SMALLEST_NORMAL
        x_scaled = np.where(subnormal, x * _TWO54, x)
        k = np.where(subnormal, np.int64(-54), np.int64(0))
        bits = x_scaled.view(np.int64)
        k += (bits >> 52) - 1023
        m = ((bits & _MANTISSA) | (np.int64(1023) << 52)).view(np.float64)
        big = m > _SQRT2
        m = np.where(big, m * 0.5, m)
        k += big
        f = m - 1.0
        s = f / (2.0 + f)
        z = s * s
        w = z * z
        r = z * (_LG1 + w * (_LG3 + w * (_LG5 + w * _LG7))) + w * (_LG2 + w * (_LG4 + w * _LG6))
        hfsq = 0.5 * f * f
        dk = k.astype(np.float64)
        result = dk * LN2_HI - ((hfsq - (s * (hfsq + r) + dk * LN2_LO)) - f)
    result[np.isnan(x) | (x < 0.0)] = np.nan
    result[x == 0.0] = -np.inf
    result[x == np.inf] = np.inf
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
