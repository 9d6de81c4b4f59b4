/* The quantisation grid's one-pass kernels, compiled ahead of time: the same bits on every CPU.
 *
 * `quantise` maps each value to its grid code, reconstructs it exactly as `reconstruct` (the
 * decoder) will, checks the bound in the column's dtype and gathers the failures and the error
 * statistics, without column-sized temporaries; `reconstruct` turns codes back into values.
 * exp and log are jetzip.codec.exactmath's, operation for operation and in the same order (+ - * /,
 * floor, rint = round half to even, bit casts through memcpy): IEEE double arithmetic is
 * correctly rounded, so the results equal the numpy functions' bit for bit on any machine whose C
 * doubles are IEEE binary64 evaluated at that precision (x86-64 SSE2, aarch64). setup.py compiles
 * this file with -ffp-contract=off (GCC contracts a * b + c into a fused multiply-add by default,
 * clang within an expression: one rounding instead of two, other bits than a CPU without FMA) and
 * never with -ffast-math (which reorders and drops NaN and signed-zero handling); the pragma below
 * says the same to compilers that read it. The loops release the GIL: the codec's threads run
 * columns in parallel. docs/codec.md, "Determinism", has the argument in full.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "../_buffers.h"

#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

/* exactmath's constants (fdlibm's), written with the same decimal digits: the same doubles. */
#define LN2_HI 6.93147180369123816490e-01
#define LN2_LO 1.90821492927058770002e-10
#define INV_LN2 1.44269504088896338700e00
#define EXP_OVERFLOW 7.09782712893383973096e02
#define EXP_UNDERFLOW -7.45133219101941108420e02
#define P1 1.66666666666666019037e-01
#define P2 -2.77777777770155933842e-03
#define P3 6.61375632143793436117e-05
#define P4 -1.65339022054652515390e-06
#define P5 4.13813679705723846039e-08
#define LG1 6.666666666666735130e-01
#define LG2 3.999999999940941908e-01
#define LG3 2.857142874366239149e-01
#define LG4 2.222219843214978396e-01
#define LG5 1.818357216161805012e-01
#define LG6 1.531383769920937332e-01
#define LG7 1.479819860511658591e-01
#define SQRT2 1.4142135623730951
#define MANTISSA ((UINT64_C(1) << 52) - 1)
#define SMALLEST_NORMAL 2.2250738585072014e-308 /* 2**-1022, also log_prediction's floor */
#define TWO54 18014398509481984.0               /* 2**54 */
#define MAX_CODE 1125899906842624.0             /* 2**50: quantize.MAX_CODE */
#define INT32_LIMIT 2147483648.0                /* 2**31 */

#define TWO52 4503599627370496.0 /* 2**52: below it, adding and subtracting it rounds to integer */
#define TWO52_BITS UINT64_C(0x4330000000000000)
/* Rows per block of the loops below: their scratch arrays stay in the L1 cache, and loops
 * without branches between rows let the compiler use SIMD registers (the same IEEE operations
 * per lane, so the same bits as one value at a time). */
#define BLOCK 256

/* Where the C library can pick a function's version at load time (glibc's ifunc), the loops are
 * also compiled for AVX-512 and AVX2 and run so on CPUs that have them: 8 or 4 doubles per
 * instruction instead of SSE2's 2, the same IEEE operations per lane (FMA stays off:
 * -ffp-contract=off forbids contraction, and tests/test_exactmath.py checks the machine code).
 * JETZIP_ONE_VERSION builds the baseline only, JETZIP_NO_AVX512 the AVX2 and baseline versions
 * (tests/test_exactmath.py compares them with the installed build, also on CPUs with AVX-512).
 * INLINE: the arithmetic helpers are always inlined into the loops, so that each version of a
 * loop has them in its own instructions (GCC otherwise calls the baseline exp/log from the
 * AVX-512 loops, one value at a time, with a penalty at each SSE/AVX switch); NOINLINE: see
 * check_block. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__GLIBC__) && \
    !defined(JETZIP_ONE_VERSION)
#if defined(JETZIP_NO_AVX512)
#define SIMD_VERSIONS __attribute__((target_clones("avx2", "default")))
#else
#define SIMD_VERSIONS __attribute__((target_clones("avx512f", "avx2", "default")))
#endif
#else
#define SIMD_VERSIONS
#endif
#if defined(__GNUC__)
#define INLINE static inline __attribute__((always_inline))
#define NOINLINE static __attribute__((noinline))
#else
#define INLINE static inline
#define NOINLINE static
#endif

INLINE uint64_t bits_of(double x) {
    uint64_t bits;
    memcpy(&bits, &x, sizeof bits);
    return bits;
}

INLINE double from_bits(uint64_t bits) {
    double x;
    memcpy(&x, &bits, sizeof x);
    return x;
}

/* rint: the nearest integer, ties to even (IEEE arithmetic's rounding does it: adding 2**52 to
 * a smaller magnitude leaves no fraction bits); larger magnitudes, inf and NaN are their own. */
INLINE double round_even(double y) {
    double a = fabs(y);
    double r = copysign((a + TWO52) - TWO52, y);
    return a < TWO52 ? r : y;
}

/* floor of a finite y of magnitude below 2**52, exactly. */
INLINE double floor_exact(double y) {
    double r = round_even(y);
    return r - (r > y ? 1.0 : 0.0);
}

/* 2**h for an integral -1022 <= h <= 1023, exactly: h + 1023 lands in the low bits of
 * h + 1023 + 2**52, and goes from there into the exponent field. */
INLINE double pow2(double h) {
    uint64_t biased = bits_of(h + (1023.0 + TWO52)) & MANTISSA;
    return from_bits(biased << 52);
}

/* exactmath.exp: the same operations on the same values. Out-of-range arguments are clamped
 * for the arithmetic and their results replaced at the end (no branch, for the SIMD loops). */
INLINE double exp_value(double x) {
    double xc = x > EXP_OVERFLOW ? EXP_OVERFLOW : x;
    xc = xc < EXP_UNDERFLOW ? EXP_UNDERFLOW : xc;
    double k = floor_exact(xc * INV_LN2 + 0.5);
    double hi = xc - k * LN2_HI; /* exact */
    double lo = k * LN2_LO;
    double r = hi - lo;
    double t = r * r;
    double c = r - t * (P1 + t * (P2 + t * (P3 + t * (P4 + t * P5))));
    double y = 1.0 - ((lo - (r * c) / (2.0 - c)) - hi);
    /* y * 2**k in two exact power-of-two factors (k >> 1 and the rest): the first product is
       exact (normal), the second rounds once, also where the result overflows or is subnormal */
    double half = floor_exact(k * 0.5);
    double result = (y * pow2(half)) * pow2(k - half);
    result = x > EXP_OVERFLOW ? INFINITY : result;
    result = x < EXP_UNDERFLOW ? 0.0 : result;
    return x != x ? x : result;
}

/* exactmath.log: the same operations on the same values (log 0 = -inf; negative or NaN: NaN). */
INLINE double log_value(double x) {
    int subnormal = x < SMALLEST_NORMAL;
    double scaled = x * (subnormal ? TWO54 : 1.0); /* exact: subnormal to normal */
    uint64_t bits = bits_of(scaled);
    /* the biased exponent as a double (exact: the 2**52 trick again), then k as exactmath has it */
    double exponent = from_bits((bits >> 52) | TWO52_BITS) - TWO52;
    double m = from_bits((bits & MANTISSA) | (UINT64_C(1023) << 52)); /* in [1, 2) */
    int big = m > SQRT2;
    m *= big ? 0.5 : 1.0;
    double dk = (exponent - (subnormal ? 1077.0 : 1023.0)) + (big ? 1.0 : 0.0);
    double f = m - 1.0; /* exact */
    double s = f / (2.0 + f);
    double z = s * s;
    double w = z * z;
    double r = z * (LG1 + w * (LG3 + w * (LG5 + w * LG7))) + w * (LG2 + w * (LG4 + w * LG6));
    double hfsq = (0.5 * f) * f;
    double result = dk * LN2_HI - ((hfsq - (s * (hfsq + r) + dk * LN2_LO)) - f);
    result = x == INFINITY ? x : result;
    result = x == 0.0 ? -INFINITY : result;
    return (x != x || x < 0.0) ? NAN : result;
}

/* The offset a prediction p gives: log|p| under a relative bound (a zero p counts as the
 * smallest normal double), p under an absolute one; 0 where p is NaN or infinite. A p at or
 * below the smallest normal double selects log_value(2**-1022), a constant the compiler folds
 * with the same IEEE operations: the same bits as clamping p first, and unlike a clamped
 * argument (whose range GCC propagates into log_value's bit casts) it leaves the loops
 * vectorisable. */
INLINE double offset_of(double p, int relative) {
    double a = fabs(p);
    double logarithm = a > SMALLEST_NORMAL ? log_value(a) : log_value(SMALLEST_NORMAL);
    double offset = relative ? logarithm : p;
    return a < INFINITY ? offset : 0.0; /* NaN fails the comparison too */
}

/* The double value of a grid code, the one function the quantiser checks and the decoder
 * uses: exp(code * step + offset), signed, under a relative bound (offset = log|p|), code * step
 * + offset under an absolute one (offset = p); 0 offset without a prediction. */
INLINE double grid_value(double code, double offset, double step, int relative, int negative) {
    double value = code * step + offset;
    if (!relative) return value;
    value = exp_value(value);
    return negative ? -value : value;
}

/* The bound check of a block of m values x, their reconstructions `back` (already rounded to
 * the values' dtype) and their grid positions: `kept` gets the code of a met row and NaN for a
 * failed one; most_abs and most_rel keep, per position in the block, the largest errors of met
 * rows (max is exact: combining them in any order gives the same bits). Branch-free and on
 * doubles only, so that it vectorises; a function of its own (not inlined: inside the typed
 * loops GCC 12 no longer if-converts it), in the same SIMD versions. */
SIMD_VERSIONS NOINLINE void check_block(const double *restrict x, const double *restrict back,
                                         const double *restrict grid, int m, int relative,
                                         double tolerance, double *restrict kept,
                                         double *restrict most_abs, double *restrict most_rel) {
    for (int j = 0; j < m; j++) {
        double magnitude = fabs(x[j]);
        double e = fabs(back[j] - x[j]);
        double allowed = relative ? tolerance * magnitude : tolerance;
        /* met: the code inside the grid, the error within the bound and finite (NaN fails) */
        int met = fabs(grid[j]) < MAX_CODE && e <= allowed && e < INFINITY;
        kept[j] = met ? grid[j] : NAN;
        /* a failed row counts as error 0, a zero (or NaN) value as relative error 0: neither
           raises a maximum (which starts at 0); the others' quotients are e / magnitude */
        double counted = met ? e : 0.0;
        double rel = counted / (magnitude > 0.0 ? magnitude : INFINITY);
        most_abs[j] = most_abs[j] < counted ? counted : most_abs[j];
        most_rel[j] = most_rel[j] < rel ? rel : most_rel[j];
    }
}

/* Offsets of a block of predictions (all 0 without one): converted to double, then one
 * branch-free loop. */
#define OFFSETS(prediction, m, relative, offset)                                                 \
    do {                                                                                         \
        if (!(prediction)) {                                                                     \
            for (int j = 0; j < (m); j++) (offset)[j] = 0.0;                                     \
        } else {                                                                                 \
            for (int j = 0; j < (m); j++) (offset)[j] = (double)(prediction)[j];                 \
            if (relative) {                                                                      \
                for (int j = 0; j < (m); j++) (offset)[j] = offset_of((offset)[j], 1);           \
            } else {                                                                             \
                for (int j = 0; j < (m); j++) (offset)[j] = offset_of((offset)[j], 0);           \
            }                                                                                    \
        }                                                                                        \
    } while (0)

/* ------------------------------------------------------------------ typed loops */
typedef struct {
    Py_ssize_t n_failed;
    double max_abs, max_rel;
    int too_wide;
} QuantiseResult;

/* One quantise loop per (value, prediction, code) type: values VT (restored in VT), predictions
 * PT, codes CT; each value's reconstruction is `grid_value` of its code. Failed rows (beyond
 * the grid, NaN/inf, bound missed in VT) get code 0, their exact value in `restored` and their
 * row in `failed`; the errors count met rows. An int32 code array that a met row's code does
 * not fit stops the loop (too_wide): the caller runs again with int64. The bound is checked
 * by check_block; the failed rows are gathered afterwards, in the blocks that have any. */
#define QUANTISE_LOOP(NAME, VT, PT, CT, NARROW)                                                  \
    SIMD_VERSIONS static void NAME(const VT *values, const PT *prediction, Py_ssize_t n,         \
                                   int relative, double step, double tolerance, CT *codes,       \
                                   VT *restored, char *negative, int64_t *failed,                \
                                   QuantiseResult *out) {                                        \
        double x[BLOCK], offset[BLOCK], grid[BLOCK], back[BLOCK], kept[BLOCK];                   \
        double most_abs[BLOCK] = {0.0}, most_rel[BLOCK] = {0.0};                                 \
        Py_ssize_t n_failed = 0;                                                                 \
        out->too_wide = 0;                                                                       \
        for (Py_ssize_t start = 0; start < n; start += BLOCK) {                                  \
            int m = n - start < BLOCK ? (int)(n - start) : BLOCK;                                \
            const VT *value = values + start;                                                    \
            OFFSETS(prediction ? prediction + start : NULL, m, relative, offset);                \
            for (int j = 0; j < m; j++) x[j] = (double)value[j];                                 \
            /* + 0.0: -0.0 -> +0.0, as the integer code 0 comes back from the file */            \
            if (relative) {                                                                      \
                for (int j = 0; j < m; j++)                                                      \
                    grid[j] = round_even((log_value(fabs(x[j])) - offset[j]) / step) + 0.0;      \
                for (int j = 0; j < m; j++) {                                                    \
                    double g = fabs(grid[j]) < MAX_CODE ? grid[j] : 0.0; /* NaN, inf: 0 */       \
                    back[j] = (double)(VT)grid_value(g, offset[j], step, 1, x[j] < 0.0);         \
                }                                                                                \
                for (int j = 0; j < m; j++) negative[start + j] = (char)(x[j] < 0.0);            \
            } else {                                                                             \
                for (int j = 0; j < m; j++) {                                                    \
                    grid[j] = round_even((x[j] - offset[j]) / step) + 0.0;                       \
                    double g = fabs(grid[j]) < MAX_CODE ? grid[j] : 0.0;                         \
                    back[j] = (double)(VT)grid_value(g, offset[j], step, 0, 0);                  \
                }                                                                                \
            }                                                                                    \
            check_block(x, back, grid, m, relative, tolerance, kept, most_abs, most_rel);        \
            for (int j = 0; j < m; j++) /* NaN (failed) and codes beyond CT: 0 */                \
                codes[start + j] = (CT)(fabs(kept[j]) < (NARROW ? INT32_LIMIT : MAX_CODE)        \
                                            ? kept[j]                                            \
                                            : 0.0);                                              \
            for (int j = 0; j < m; j++)                                                          \
                restored[start + j] = kept[j] == kept[j] ? (VT)back[j] : value[j];               \
            int bad = 0, wide = 0;                                                               \
            for (int j = 0; j < m; j++) {                                                        \
                bad |= kept[j] != kept[j];                                                       \
                wide |= NARROW && fabs(kept[j]) >= INT32_LIMIT;                                  \
            }                                                                                    \
            if (wide) {                                                                          \
                out->too_wide = 1;                                                               \
                return;                                                                          \
            }                                                                                    \
            for (int j = 0; bad && j < m; j++)                                                   \
                if (kept[j] != kept[j]) failed[n_failed++] = start + j;                          \
        }                                                                                        \
        double max_abs = 0.0, max_rel = 0.0;                                                     \
        for (int j = 0; j < BLOCK; j++) {                                                        \
            max_abs = most_abs[j] > max_abs ? most_abs[j] : max_abs;                             \
            max_rel = most_rel[j] > max_rel ? most_rel[j] : max_rel;                             \
        }                                                                                        \
        out->n_failed = n_failed;                                                                \
        out->max_abs = max_abs;                                                                  \
        out->max_rel = max_rel;                                                                  \
    }

/* One reconstruct loop per (code, prediction, output) type: what `quantise` restored. */
#define RECONSTRUCT_LOOP(NAME, CT, PT, OT)                                                       \
    SIMD_VERSIONS static void NAME(const CT *codes, const char *negative, const PT *prediction,  \
                                   Py_ssize_t n, int relative, double step, OT *out) {           \
        double offset[BLOCK], sign[BLOCK];                                                       \
        for (Py_ssize_t start = 0; start < n; start += BLOCK) {                                  \
            int m = n - start < BLOCK ? (int)(n - start) : BLOCK;                                \
            OFFSETS(prediction ? prediction + start : NULL, m, relative, offset);                \
            const CT *code = codes + start;                                                      \
            OT *value = out + start;                                                             \
            if (!relative) {                                                                     \
                for (int j = 0; j < m; j++)                                                      \
                    value[j] = (OT)grid_value((double)code[j], offset[j], step, 0, 0);           \
            } else if (negative) { /* the flags as doubles first: the loop has one type */       \
                const char *below = negative + start;                                            \
                for (int j = 0; j < m; j++) sign[j] = below[j] ? -1.0 : 1.0;                     \
                for (int j = 0; j < m; j++)                                                      \
                    value[j] = (OT)grid_value((double)code[j], offset[j], step, 1, sign[j] < 0); \
            } else {                                                                             \
                for (int j = 0; j < m; j++)                                                      \
                    value[j] = (OT)grid_value((double)code[j], offset[j], step, 1, 0);           \
            }                                                                                    \
        }                                                                                        \
    }

QUANTISE_LOOP(quantise_f4_f4_i4, float, float, int32_t, 1)
QUANTISE_LOOP(quantise_f4_f4_i8, float, float, int64_t, 0)
QUANTISE_LOOP(quantise_f4_f8_i4, float, double, int32_t, 1)
QUANTISE_LOOP(quantise_f4_f8_i8, float, double, int64_t, 0)
QUANTISE_LOOP(quantise_f8_f4_i4, double, float, int32_t, 1)
QUANTISE_LOOP(quantise_f8_f4_i8, double, float, int64_t, 0)
QUANTISE_LOOP(quantise_f8_f8_i4, double, double, int32_t, 1)
QUANTISE_LOOP(quantise_f8_f8_i8, double, double, int64_t, 0)

RECONSTRUCT_LOOP(reconstruct_i4_f4_f4, int32_t, float, float)
RECONSTRUCT_LOOP(reconstruct_i4_f4_f8, int32_t, float, double)
RECONSTRUCT_LOOP(reconstruct_i4_f8_f4, int32_t, double, float)
RECONSTRUCT_LOOP(reconstruct_i4_f8_f8, int32_t, double, double)
RECONSTRUCT_LOOP(reconstruct_i8_f4_f4, int64_t, float, float)
RECONSTRUCT_LOOP(reconstruct_i8_f4_f8, int64_t, float, double)
RECONSTRUCT_LOOP(reconstruct_i8_f8_f4, int64_t, double, float)
RECONSTRUCT_LOOP(reconstruct_i8_f8_f8, int64_t, double, double)

/* ------------------------------------------------------------------ buffers */
static int is_float(Kind kind) { return kind == FLOAT32 || kind == FLOAT64; }
static int is_code(Kind kind) { return kind == INT32 || kind == INT64; }

/* ------------------------------------------------------------------ Python functions */
PyDoc_STRVAR(quantise_doc,
"quantise(values, prediction, relative, step, tolerance, codes, restored, negative, failed)\n"
"-> (n_failed, max_abs_error, max_rel_error, too_wide)\n\n"
"Codes (int32 or int64), restored values (values' dtype: float32 or float64) and, under a\n"
"relative bound, sign flags (bool) of every row; the rows that must be stored exactly are the\n"
"first n_failed entries of `failed` (int64). prediction: float32/float64 or None. too_wide:\n"
"a code of a met row does not fit int32 `codes` (the outputs are then incomplete: run again\n"
"with int64 codes).");

static PyObject *quantise(PyObject *self, PyObject *args) {
    PyObject *objects[7];
    int relative;
    double step, tolerance;
    if (!PyArg_ParseTuple(args, "OOpddOOOO", &objects[0], &objects[1], &relative, &step,
                          &tolerance, &objects[2], &objects[3], &objects[4], &objects[5]))
        return NULL;
    Array a[6]; /* values, prediction, codes, restored, negative, failed */
    const int writable[6] = {0, 0, 1, 1, 1, 1};
    const char *names[6] = {"values", "prediction", "codes", "restored", "negative", "failed"};
    PyObject *order[6] = {objects[0], objects[1], objects[2], objects[3], objects[4], objects[5]};
    for (int i = 0; i < 6; i++) {
        if (get_array(order[i], &a[i], writable[i], i == 1, names[i]) < 0) {
            release(a, i);
            return NULL;
        }
    }
    Py_ssize_t n = a[0].n;
    if (!is_float(a[0].kind) || a[3].kind != a[0].kind)
        return fail(a, 6, PyExc_TypeError,
                    "values and restored: float32 or float64, the same dtype");
    if (a[1].held && !is_float(a[1].kind))
        return fail(a, 6, PyExc_TypeError, "prediction: float32, float64 or None");
    if (!is_code(a[2].kind) || a[5].kind != INT64 || (relative && a[4].kind != BOOL))
        return fail(a, 6, PyExc_TypeError, "codes: int32 or int64; failed: int64; negative: bool");
    if (a[2].n != n || a[3].n != n || a[5].n != n || (a[1].held && a[1].n != n) ||
        (relative && a[4].n != n)) {
        release(a, 6);
        PyErr_SetString(PyExc_ValueError, "quantise: arrays of different lengths");
        return NULL;
    }
    const void *values = a[0].view.buf;
    const void *prediction = a[1].held ? a[1].view.buf : NULL;
    int p64 = a[1].kind == FLOAT64 || !a[1].held; /* without one: any loop, NULL pointer */
    int v64 = a[0].kind == FLOAT64, c64 = a[2].kind == INT64;
    void *codes = a[2].view.buf, *restored = a[3].view.buf;
    char *negative = a[4].view.buf;
    int64_t *failed = a[5].view.buf;
    QuantiseResult result = {0, 0.0, 0.0, 0};
    Py_BEGIN_ALLOW_THREADS
#define CALL(FN, VT, PT, CT) \
    FN((const VT *)values, (const PT *)prediction, n, relative, step, tolerance, (CT *)codes,    \
       (VT *)restored, negative, failed, &result)
    switch (v64 * 4 + p64 * 2 + c64) {
        case 0: CALL(quantise_f4_f4_i4, float, float, int32_t); break;
        case 1: CALL(quantise_f4_f4_i8, float, float, int64_t); break;
        case 2: CALL(quantise_f4_f8_i4, float, double, int32_t); break;
        case 3: CALL(quantise_f4_f8_i8, float, double, int64_t); break;
        case 4: CALL(quantise_f8_f4_i4, double, float, int32_t); break;
        case 5: CALL(quantise_f8_f4_i8, double, float, int64_t); break;
        case 6: CALL(quantise_f8_f8_i4, double, double, int32_t); break;
        default: CALL(quantise_f8_f8_i8, double, double, int64_t); break;
    }
#undef CALL
    Py_END_ALLOW_THREADS
    release(a, 6);
    return Py_BuildValue("nddO", result.n_failed, result.max_abs, result.max_rel,
                         result.too_wide ? Py_True : Py_False);
}

PyDoc_STRVAR(reconstruct_doc,
"reconstruct(codes, negative, prediction, relative, step, out) -> None\n\n"
"The grid value of every code (int32 or int64) into `out` (float32 or float64): what\n"
"`quantise` restored. negative: bool or None; prediction: float32/float64 or None.");

static PyObject *reconstruct(PyObject *self, PyObject *args) {
    PyObject *objects[4];
    int relative;
    double step;
    if (!PyArg_ParseTuple(args, "OOOpdO", &objects[0], &objects[1], &objects[2], &relative,
                          &step, &objects[3]))
        return NULL;
    Array a[4]; /* codes, negative, prediction, out */
    const char *names[4] = {"codes", "negative", "prediction", "out"};
    for (int i = 0; i < 4; i++) {
        if (get_array(objects[i], &a[i], i == 3, i == 1 || i == 2, names[i]) < 0) {
            release(a, i);
            return NULL;
        }
    }
    Py_ssize_t n = a[0].n;
    if (!is_code(a[0].kind) || !is_float(a[3].kind) || (a[1].held && a[1].kind != BOOL) ||
        (a[2].held && !is_float(a[2].kind)))
        return fail(a, 4, PyExc_TypeError,
                    "codes: int32 or int64; negative: bool or None; prediction and out: float32 "
                    "or float64");
    if (a[3].n != n || (a[1].held && a[1].n != n) || (a[2].held && a[2].n != n)) {
        release(a, 4);
        PyErr_SetString(PyExc_ValueError, "reconstruct: arrays of different lengths");
        return NULL;
    }
    const void *codes = a[0].view.buf;
    const char *negative = a[1].held ? a[1].view.buf : NULL;
    const void *prediction = a[2].held ? a[2].view.buf : NULL;
    void *out = a[3].view.buf;
    int c64 = a[0].kind == INT64, p64 = a[2].kind == FLOAT64 || !a[2].held;
    int o64 = a[3].kind == FLOAT64;
    Py_BEGIN_ALLOW_THREADS
#define CALL(FN, CT, PT, OT) \
    FN((const CT *)codes, negative, (const PT *)prediction, n, relative, step, (OT *)out)
    switch (c64 * 4 + p64 * 2 + o64) {
        case 0: CALL(reconstruct_i4_f4_f4, int32_t, float, float); break;
        case 1: CALL(reconstruct_i4_f4_f8, int32_t, float, double); break;
        case 2: CALL(reconstruct_i4_f8_f4, int32_t, double, float); break;
        case 3: CALL(reconstruct_i4_f8_f8, int32_t, double, double); break;
        case 4: CALL(reconstruct_i8_f4_f4, int64_t, float, float); break;
        case 5: CALL(reconstruct_i8_f4_f8, int64_t, float, double); break;
        case 6: CALL(reconstruct_i8_f8_f4, int64_t, double, float); break;
        default: CALL(reconstruct_i8_f8_f8, int64_t, double, double); break;
    }
#undef CALL
    Py_END_ALLOW_THREADS
    release(a, 4);
    Py_RETURN_NONE;
}

/* exp and log of a float64 array into another (tests/test_exactmath.py compares them with the
 * numpy functions of exactmath, bit for bit). */
static PyObject *map_scalar(PyObject *args, double (*function)(double)) {
    PyObject *objects[2];
    if (!PyArg_ParseTuple(args, "OO", &objects[0], &objects[1])) return NULL;
    Array a[2];
    if (get_array(objects[0], &a[0], 0, 0, "x") < 0) return NULL;
    if (get_array(objects[1], &a[1], 1, 0, "out") < 0) {
        release(a, 1);
        return NULL;
    }
    if (a[0].kind != FLOAT64 || a[1].kind != FLOAT64 || a[0].n != a[1].n)
        return fail(a, 2, PyExc_TypeError, "x and out: float64 arrays of the same length");
    const double *x = a[0].view.buf;
    double *out = a[1].view.buf;
    Py_ssize_t n = a[0].n;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) out[i] = function(x[i]);
    Py_END_ALLOW_THREADS
    release(a, 2);
    Py_RETURN_NONE;
}

static PyObject *exp_array(PyObject *self, PyObject *args) { return map_scalar(args, exp_value); }
static PyObject *log_array(PyObject *self, PyObject *args) { return map_scalar(args, log_value); }

static PyMethodDef methods[] = {
    {"quantise", quantise, METH_VARARGS, quantise_doc},
    {"reconstruct", reconstruct, METH_VARARGS, reconstruct_doc},
    {"exp", exp_array, METH_VARARGS, "exp(x, out): exactmath.exp of float64 x into out."},
    {"log", log_array, METH_VARARGS, "log(x, out): exactmath.log of float64 x into out."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_gridkernels",
    "The quantisation grid's compiled kernels (exactmath's bits on every CPU).", -1, methods,
};

PyMODINIT_FUNC PyInit__gridkernels(void) { return PyModule_Create(&module); }
