/* The entropy model's per-row pass (jetzip.entropy._condkernel): from a column's decoded context
 * columns to each row's coding table, in one pass over blocks of rows that stay in the L1 cache.
 *
 * Per block: the integer features of the context values (entropy/model.py, `features`), the
 * integer network (models/integer.py) and the table choice (entropy/distributions.py) (`rows`,
 * on any range of rows: rows are independent, so the caller may split a column over threads);
 * then a stable counting sort of all the rows by table (`group`); and the encoder's step from
 * codes to symbols and low bits (`split`), and the decoder's back (`place`). The numbers are those
 * of the numpy definitions, bit for bit (tests/test_entropy_model.py compares both):
 *
 * - features: bit operations on the IEEE pattern (log space) or x * 2**12 floored, integers;
 * - the network carries its integers in doubles, as the numpy version does in BLAS: the caller
 *   passes each layer's weights and bias pre-scaled by 2**-shift (exact), and the construction of
 *   the network (IntegerMLP) proves every partial sum an integer times 2**-shift below 2**53, so
 *   every product and sum below is exact whatever the order or SIMD width; floor, clip and the
 *   lookup tables are exact too;
 * - the table choice uses IEEE + - * / and floor, correctly rounded, and integer shifts.
 *
 * The build's flags (setup.py) forbid contraction into FMA and value-changing optimisation; the
 * loops release the GIL (the codec codes columns and chunks on threads).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../_buffers.h"

/* entropy/model.py */
#define FEATURE_BITS 12
#define FEATURE_LIMIT 16777216.0 /* 2**24 */
#define OUTPUT_BITS 16
#define SIGMA_SHIFT 8
/* entropy/distributions.py */
#define FRACTIONS 8
#define SMALL_OCTAVE_LOW (-4)
#define N_SMALL 224 /* (3 - (-4)) * 4 * FRACTIONS */
#define MAX_LOW_BITS 22
#define N_TABLES (N_SMALL + MAX_LOW_BITS * 4)
#define LOG2_ONE 256
#define HALF_WIDTH 64 /* symbols: h + HALF_WIDTH in [0, 2 * HALF_WIDTH), then the escape symbol */
#define ESCAPE (2 * HALF_WIDTH)
#define TWO52 4503599627370496.0

#define BLOCK 32     /* rows per block: a layer's sums for one output fit in SIMD registers */
#define MAX_LAYERS 16
#define MAX_WIDTH 4096 /* inputs or outputs of a layer */

/* As in codec/_gridkernels.c: AVX-512 and AVX2 versions where glibc picks versions at load time
 * (8 or 4 doubles per instruction; the same IEEE operations per lane, and the network's sums are
 * exact in any order, so the same numbers; tests compare the baseline build). AVX-512 made the
 * 15-column model's pass 1.4x faster than AVX2 alone on this project's Xeon. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__GLIBC__) && \
    !defined(JETZIP_ONE_VERSION)
#define SIMD_VERSIONS __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define SIMD_VERSIONS
#endif

typedef enum { RELU = 0, IDENTITY = 1, LOOKUP = 2 } Act;

typedef struct {
    const double *weight; /* (in, out): W.T * 2**-shift */
    const double *bias;   /* (out,): b * 2**-shift */
    const int64_t *lut;   /* LOOKUP: the table's values */
    Py_ssize_t n_in, n_out, lut_size;
    double limit, lut_lo, lut_scale; /* lut_scale: 2**-step_shift */
    int act;
} Layer;

typedef struct {
    const void *data;
    Kind kind;
    int log; /* Mitchell's log2 of the bit pattern (a float column in log space) */
} Input;

/* floor(v / 2**k) for any int64 (C's >> on a negative value is implementation-defined). */
static inline int64_t floor_shift(int64_t v, int k) {
    return v >= 0 ? v >> k : ~((~v) >> k);
}

/* x * 2**FEATURE_BITS, clipped to +-FEATURE_LIMIT, floored; NaN gives 0 (`features`' linear
 * path); then the network's clip to +-limit. One loop per input type, so each vectorises. */
#define SCALED_LOOP(T)                                                              \
    do {                                                                            \
        const T *restrict v = (const T *)in->data + start;                          \
        for (Py_ssize_t r = 0; r < count; r++) {                                    \
            double x = (double)v[r] * (double)(1 << FEATURE_BITS);                  \
            x = x < -FEATURE_LIMIT ? -FEATURE_LIMIT : x;                            \
            x = x > FEATURE_LIMIT ? FEATURE_LIMIT : x;                              \
            x = floor(x);                                                           \
            x = x != x ? 0.0 : x;                                                   \
            x = x < -limit ? -limit : x;                                            \
            out[r] = x > limit ? limit : x;                                         \
        }                                                                           \
    } while (0)

/* The features of rows [start, start + count) of one input, clipped to +-limit, as doubles. */
SIMD_VERSIONS
static void features(const Input *in, Py_ssize_t start, Py_ssize_t count, double limit,
                     double *restrict out) {
    if (in->log && in->kind == FLOAT32) { /* in int32: within +-2**20, no clip needed */
        const int32_t *restrict bits = (const int32_t *)in->data + start;
        for (Py_ssize_t r = 0; r < count; r++) {
            int32_t b = (bits[r] & 0x7FFFFFFF) - (127 << 23);
            b = b >= 0 ? b >> (23 - FEATURE_BITS) : ~((~b) >> (23 - FEATURE_BITS));
            double x = (double)b;
            x = x < -limit ? -limit : x;
            out[r] = x > limit ? limit : x;
        }
    } else if (in->log && in->kind == FLOAT64) {
        const int64_t *restrict bits = (const int64_t *)in->data + start;
        for (Py_ssize_t r = 0; r < count; r++) {
            int64_t b = floor_shift((bits[r] & INT64_C(0x7FFFFFFFFFFFFFFF)) - (INT64_C(1023) << 52),
                                    52 - FEATURE_BITS);
            double x = (double)b;
            x = x < -FEATURE_LIMIT ? -FEATURE_LIMIT : x > FEATURE_LIMIT ? FEATURE_LIMIT : x;
            x = x < -limit ? -limit : x;
            out[r] = x > limit ? limit : x;
        }
    } else if (in->kind == FLOAT32) {
        SCALED_LOOP(float);
    } else if (in->kind == FLOAT64) {
        SCALED_LOOP(double);
    } else if (in->kind == INT32) {
        SCALED_LOOP(int32_t);
    } else {
        SCALED_LOOP(int64_t);
    }
}

/* One layer on a block: x (n_in rows of BLOCK) to y (n_out rows of BLOCK). The layer's
 * settings are read into locals first: y's stores could otherwise alias them, and their reloads
 * kept the compiler from SIMD in the floor and clip. */
SIMD_VERSIONS
static void layer_block(const Layer *l, const double *restrict x, double *restrict y) {
    const double *restrict weight = l->weight;
    const Py_ssize_t n_in = l->n_in, n_out = l->n_out;
    const double high = l->limit, low = l->act == RELU ? 0.0 : -l->limit;
    for (Py_ssize_t o = 0; o < n_out; o++) {
        double acc[BLOCK];
        const double bias = l->bias[o];
        for (int r = 0; r < BLOCK; r++) acc[r] = bias;
        for (Py_ssize_t i = 0; i < n_in; i++) {
            const double w = weight[i * n_out + o];
            const double *restrict xi = x + i * BLOCK;
            for (int r = 0; r < BLOCK; r++) acc[r] += w * xi[r];
        }
        double *restrict yo = y + o * BLOCK;
        for (int r = 0; r < BLOCK; r++) {
            double v = floor(acc[r]);
            v = v < low ? low : v;
            yo[r] = v > high ? high : v;
        }
        if (l->act == LOOKUP) {
            const double lo = l->lut_lo, scale = l->lut_scale, last = (double)(l->lut_size - 1);
            for (int r = 0; r < BLOCK; r++) {
                double index = floor((yo[r] - lo) * scale);
                index = index < 0.0 ? 0.0 : index > last ? last : index;
                yo[r] = (double)l->lut[(Py_ssize_t)index];
            }
        }
    }
}

/* Each row's centre, table and low-bit count from the network's outputs (mu, log2 sigma). */
SIMD_VERSIONS
static void choose(const double *mu_fixed, const double *sigma_fixed, Py_ssize_t count,
                   double step, int64_t log2_step, int64_t *centre, int64_t *table,
                   int64_t *low_bits) {
    for (Py_ssize_t r = 0; r < count; r++) {
        double c = mu_fixed[r] * (1.0 / (double)(1 << OUTPUT_BITS)) / step;
        c = c < -TWO52 ? -TWO52 : c > TWO52 ? TWO52 : c;
        double middle = floor(c + 0.5);
        double f = floor(((c - middle) + 0.5) * FRACTIONS);
        int64_t fraction = (int64_t)f;
        fraction = fraction < 0 ? 0 : fraction > FRACTIONS - 1 ? FRACTIONS - 1 : fraction;
        int64_t log2_rho = floor_shift((int64_t)sigma_fixed[r], SIGMA_SHIFT) - log2_step;
        int64_t quarter = floor_shift(log2_rho, 6);
        int64_t low = floor_shift(log2_rho, 8) - 2;
        low = low < 0 ? 0 : low > MAX_LOW_BITS ? MAX_LOW_BITS : low;
        int64_t t = quarter - 4 * SMALL_OCTAVE_LOW;
        t = t < 0 ? 0 : t > N_SMALL / FRACTIONS - 1 ? N_SMALL / FRACTIONS - 1 : t;
        t = t * FRACTIONS + fraction;
        if (log2_rho >= 3 * LOG2_ONE) t = N_SMALL + (low - 1) * 4 + (int64_t)((uint64_t)quarter & 3);
        centre[r] = (int64_t)middle;
        table[r] = t;
        low_bits[r] = low;
    }
}

/* ------------------------------------------------------------------ buffers */
/* Hold a C-contiguous buffer of `want`'s kind (OTHER: any of float32, float64, int32, int64);
 * its item count, or -1 with a TypeError set. */
static Py_ssize_t hold(PyObject *obj, Array *held, int writable, Kind want, const char *name) {
    if (get_array(obj, held, writable, 0, name) < 0) return -1;
    Kind kind = held->kind;
    if (want == OTHER ? kind != FLOAT32 && kind != FLOAT64 && kind != INT32 && kind != INT64
                      : kind != want) {
        PyErr_Format(PyExc_TypeError, "%s: unsupported dtype", name);
        return -1;
    }
    return held->n;
}

PyDoc_STRVAR(rows_doc,
"rows(inputs, log, layers, input_limit, step, log2_step, centre, table, low_bits)\n"
"\n"
"Each row's coding table from a column's context columns. inputs: tuple of 1-D float32,\n"
"float64, int32 or int64 arrays of n rows (n: centre's length); log: bytes, 1 where an input's features are the log2\n"
"of its bit pattern (a float column in log space); layers: tuple of (weight (in, out) float64\n"
"times 2**-shift, bias (out,) float64 times 2**-shift, limit, activation 0 relu / 1 identity /\n"
"2 lookup, lookup values int64 (or an empty array), lookup origin, lookup step shift); the last\n"
"layer has two outputs (mu, log2 sigma in OUTPUT_BITS fixed point). Writes int64 centre, table\n"
"and low_bits (n each).");

static PyObject *rows(PyObject *self, PyObject *args) {
    PyObject *inputs_obj, *log_obj, *layers_obj, *out_obj[3];
    double input_limit, step;
    long long log2_step;
    if (!PyArg_ParseTuple(args, "O!SO!ddLOOO", &PyTuple_Type, &inputs_obj, &log_obj, &PyTuple_Type,
                          &layers_obj, &input_limit, &step, &log2_step, &out_obj[0], &out_obj[1],
                          &out_obj[2]))
        return NULL;
    Py_ssize_t n_inputs = PyTuple_GET_SIZE(inputs_obj), n_layers = PyTuple_GET_SIZE(layers_obj);
    if (PyBytes_GET_SIZE(log_obj) != n_inputs || n_layers < 1 || n_layers > MAX_LAYERS ||
        !(step > 0.0)) {
        PyErr_SetString(PyExc_ValueError, "one log flag per input, 1 to 16 layers, step > 0");
        return NULL;
    }
    Py_ssize_t n_held = n_inputs + 3 * n_layers + 3;
    Array *held = calloc((size_t)n_held, sizeof(Array));
    Input *inputs = calloc((size_t)n_inputs + 1, sizeof(Input));
    Layer layers[MAX_LAYERS];
    double *work = NULL;
    if (!held || !inputs) {
        free(held);
        free(inputs);
        return PyErr_NoMemory();
    }
    const char *bad = NULL;
    Py_ssize_t n = -1, k = 0, widest = n_inputs;
    for (Py_ssize_t j = 0; j < n_inputs; j++, k++) {
        Py_ssize_t count = hold(PyTuple_GET_ITEM(inputs_obj, j), &held[k], 0, OTHER, "input");
        if (count < 0) goto error;
        if (j > 0 && count != n) bad = "inputs of different lengths";
        n = count;
        inputs[j].data = held[k].view.buf;
        inputs[j].kind = held[k].kind;
        inputs[j].log = PyBytes_AS_STRING(log_obj)[j] != 0;
    }
    Py_ssize_t previous = n_inputs;
    for (Py_ssize_t i = 0; i < n_layers && !bad; i++) {
        PyObject *weight, *bias, *lut;
        Layer *l = &layers[i];
        long long lut_lo;
        int lut_shift;
        if (!PyArg_ParseTuple(PyTuple_GET_ITEM(layers_obj, i), "OOdiOLi", &weight, &bias, &l->limit,
                              &l->act, &lut, &lut_lo, &lut_shift))
            goto error;
        Py_ssize_t w = hold(weight, &held[k++], 0, FLOAT64, "weight");
        Py_ssize_t b = hold(bias, &held[k++], 0, FLOAT64, w < 0 ? "weight" : "bias");
        if (w < 0 || b < 0) goto error;
        Py_ssize_t t = hold(lut, &held[k++], 0, INT64, "lookup values");
        if (t < 0) goto error;
        l->weight = held[k - 3].view.buf;
        l->bias = held[k - 2].view.buf;
        l->lut = held[k - 1].view.buf;
        l->n_in = previous;
        l->n_out = b;
        l->lut_size = t;
        l->lut_lo = (double)lut_lo;
        l->lut_scale = ldexp(1.0, -lut_shift);
        if (w != l->n_in * l->n_out || l->n_out < 1 || l->n_out > MAX_WIDTH ||
            l->act < RELU || l->act > LOOKUP || (l->act == LOOKUP && t < 1) || !(l->limit >= 1.0))
            bad = "layer shapes or settings do not fit";
        previous = l->n_out;
        widest = l->n_out > widest ? l->n_out : widest;
    }
    if (!bad && previous != 2) bad = "the last layer needs two outputs";
    void *out[3];
    for (int j = 0; j < 3 && !bad; j++, k++) {
        Py_ssize_t count = hold(out_obj[j], &held[k], 1, INT64, "output");
        if (count < 0) goto error;
        if (j == 0 && n_inputs == 0) n = count; /* a column modelled without context */
        if (count != n) bad = "output arrays of the wrong length";
        out[j] = held[k].view.buf;
    }
    if (bad) {
        PyErr_SetString(PyExc_ValueError, bad);
        goto error;
    }
    work = malloc(sizeof(double) * (size_t)BLOCK * (size_t)(2 * widest + 2));
    if (!work) {
        PyErr_NoMemory();
        goto error;
    }
    Py_BEGIN_ALLOW_THREADS
    int64_t *centre = out[0], *table = out[1], *low_bits = out[2];
    double *a = work, *b = work + BLOCK * widest;
    for (Py_ssize_t start = 0; start < n; start += BLOCK) {
        Py_ssize_t count = n - start < BLOCK ? n - start : BLOCK;
        for (Py_ssize_t j = 0; j < n_inputs; j++) features(&inputs[j], start, count, input_limit, a + j * BLOCK);
        if (count < BLOCK) /* a short last block: defined values in the unused rows */
            for (Py_ssize_t j = 0; j < n_inputs; j++)
                memset(a + j * BLOCK + count, 0, sizeof(double) * (size_t)(BLOCK - count));
        double *x = a, *y = b;
        for (Py_ssize_t i = 0; i < n_layers; i++) {
            layer_block(&layers[i], x, y);
            double *swap = x;
            x = y;
            y = swap;
        }
        choose(x, x + BLOCK, count, step, log2_step, centre + start, table + start, low_bits + start);
    }
    Py_END_ALLOW_THREADS
    free(work);
    free(inputs);
    release(held, n_held);
    free(held);
    Py_RETURN_NONE;
error:
    free(work);
    free(inputs);
    release(held, n_held);
    free(held);
    return NULL;
}

PyDoc_STRVAR(group_doc,
"group(table, order, counts)\n"
"\n"
"The rows stably sorted by table: from int64 tables in [0, N_TABLES) (n), writes order (int64,\n"
"n) and counts (int64, N_TABLES). ValueError on a table outside the range.");

static PyObject *group(PyObject *self, PyObject *args) {
    PyObject *obj[3];
    if (!PyArg_ParseTuple(args, "OOO", &obj[0], &obj[1], &obj[2])) return NULL;
    Array held[3] = {{.held = 0}, {.held = 0}, {.held = 0}};
    Py_ssize_t n = hold(obj[0], &held[0], 0, INT64, "table");
    Py_ssize_t n_order = n < 0 ? -1 : hold(obj[1], &held[1], 1, INT64, "order");
    Py_ssize_t n_counts = n_order < 0 ? -1 : hold(obj[2], &held[2], 1, INT64, "counts");
    if (n_counts < 0 || n_order != n || n_counts != N_TABLES) {
        if (n_counts >= 0) PyErr_SetString(PyExc_ValueError, "order of n rows, N_TABLES counts");
        release(held, 3);
        return NULL;
    }
    const int64_t *table = held[0].view.buf;
    int64_t *order = held[1].view.buf, *counts = held[2].view.buf;
    int64_t next[N_TABLES];
    int outside = 0;
    Py_BEGIN_ALLOW_THREADS
    memset(counts, 0, sizeof(int64_t) * N_TABLES);
    for (Py_ssize_t r = 0; r < n; r++) {
        int64_t t = table[r];
        if (t < 0 || t >= N_TABLES) {
            outside = 1;
            break;
        }
        counts[t]++;
    }
    if (!outside) {
        int64_t total = 0;
        for (int t = 0; t < N_TABLES; t++) next[t] = total, total += counts[t];
        for (Py_ssize_t r = 0; r < n; r++) order[next[table[r]]++] = r;
    }
    Py_END_ALLOW_THREADS
    release(held, 3);
    if (outside) {
        PyErr_SetString(PyExc_ValueError, "a table outside [0, N_TABLES)");
        return NULL;
    }
    Py_RETURN_NONE;
}

/* place's and split's arguments: `count` arrays of `kinds` (from `written` on, written to), the
 * first `same` of them n long. n, or -1 with an exception set and nothing held. */
static Py_ssize_t hold_arrays(PyObject *const *obj, int count, Array *held, const Kind *kinds,
                              const char *const *names, int same, int written) {
    memset(held, 0, (size_t)count * sizeof(Array));
    for (int j = 0; j < count; j++)
        if (hold(obj[j], &held[j], j >= written, kinds[j], names[j]) < 0) {
            release(held, count);
            return -1;
        }
    for (int j = 1; j < same; j++)
        if (held[j].n != held[0].n) {
            fail(held, count, PyExc_ValueError, "arrays of different lengths");
            return -1;
        }
    return held[0].n;
}

/* The low bits of the rows that have some, packed (coder.py): row after row, each row's bits
 * least significant first, into bytes from their least significant bit; the last byte padded
 * with zeros. A row has at most MAX_LOW_BITS, so a 64-bit word holds what is pending. */
typedef struct {
    uint64_t pending;
    int count; /* bits pending */
    unsigned char *at, *end;
} Bits;

/* Append `bits` bits of `value` (below 2**bits); 0, or -1 when the buffer is full. */
static inline int bits_put(Bits *b, uint64_t value, int bits) {
    b->pending |= value << b->count;
    b->count += bits;
    if (b->count >= 32) {
        if (b->end - b->at < 4) return -1;
        for (int k = 0; k < 4; k++) b->at[k] = (unsigned char)(b->pending >> (8 * k));
        b->at += 4, b->pending >>= 32, b->count -= 32;
    }
    return 0;
}

/* The next `bits` bits; -1 when the bytes end first. */
static inline int64_t bits_get(Bits *b, int bits) {
    if (b->count < bits) {
        if (b->end - b->at >= 4) { /* four bytes at once: count stays below 64 */
            for (int k = 0; k < 4; k++) b->pending |= (uint64_t)b->at[k] << (b->count + 8 * k);
            b->at += 4, b->count += 32;
        }
        while (b->count < bits && b->at < b->end) b->pending |= (uint64_t)*b->at++ << b->count, b->count += 8;
        if (b->count < bits) return -1;
    }
    int64_t value = (int64_t)(b->pending & ((UINT64_C(1) << bits) - 1));
    b->pending >>= bits;
    b->count -= bits;
    return value;
}

PyDoc_STRVAR(place_doc,
"place(symbols, centre, low_bits, codes, escaped, lows)\n"
"\n"
"The decoder's step after the tables' symbols (coder.py): a row's code becomes centre +\n"
"(symbol - HALF_WIDTH) * 2**low_bits plus its low bits, read from `lows` (bytes, as `split`\n"
"packs them; None: left out, for the caller to add); escaped rows (the escape symbol) go to\n"
"escaped (int64, exactly its length), their codes left at the centre. symbols int32, the\n"
"others int64, n long. ValueError when a symbol or low-bit count is out of range, the escapes\n"
"are not len(escaped), or `lows` is not exactly the rows' low bits.");

static PyObject *place(PyObject *self, PyObject *args) {
    static const Kind kinds[5] = {INT32, INT64, INT64, INT64, INT64};
    static const char *const names[5] = {"symbols", "centre", "low_bits", "codes", "escaped"};
    PyObject *obj[5], *lows_obj;
    if (!PyArg_ParseTuple(args, "OOOOOO", &obj[0], &obj[1], &obj[2], &obj[3], &obj[4], &lows_obj))
        return NULL;
    Array held[6];
    Py_ssize_t n = hold_arrays(obj, 5, held, kinds, names, 4, 3);
    if (n < 0) return NULL;
    if (get_array(lows_obj, &held[5], 0, 1, "lows") < 0) {
        release(held, 5);
        return NULL;
    }
    const int32_t *symbols = held[0].view.buf;
    const int64_t *centre = held[1].view.buf, *low = held[2].view.buf;
    int64_t *codes = held[3].view.buf, *escaped = held[4].view.buf;
    int with_lows = held[5].held;
    Bits bits = {0, 0, held[5].view.buf, (unsigned char *)held[5].view.buf + held[5].view.len};
    Py_ssize_t n_escaped = held[4].n, found = 0;
    const char *bad = NULL;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t r = 0; r < n; r++) {
        int64_t symbol = symbols[r], count = low[r];
        if (symbol == ESCAPE) {
            if (found == n_escaped) {
                bad = "more escapes than recorded";
                break;
            }
            escaped[found++] = r;
            codes[r] = centre[r];
            continue;
        }
        if (symbol < 0 || symbol > ESCAPE || count < 0 || count > MAX_LOW_BITS) {
            bad = "a symbol or low-bit count out of range";
            break;
        }
        int64_t value = with_lows && count ? bits_get(&bits, (int)count) : 0;
        if (value < 0) {
            bad = "its low bits end early";
            break;
        }
        codes[r] = centre[r] + (symbol - HALF_WIDTH) * ((int64_t)1 << count) + value;
    }
    if (!bad && found != n_escaped) bad = "fewer escapes than recorded";
    if (!bad && with_lows && (bits.at != bits.end || bits.count >= 8 || bits.pending))
        bad = "bytes or bits after its low bits";
    Py_END_ALLOW_THREADS
    release(held, 6);
    if (bad) {
        PyErr_SetString(PyExc_ValueError, bad);
        return NULL;
    }
    Py_RETURN_NONE;
}

PyDoc_STRVAR(split_doc,
"split(codes, centre, low_bits, symbols, offsets) -> (escapes, lows)\n"
"\n"
"The encoder's step before the coder (coder.py): a row's offset r = code - centre splits into\n"
"the symbol h + HALF_WIDTH, h = r >> low_bits (the escape symbol beyond the table), and the\n"
"low bits r - (h << low_bits). Writes the symbols to symbols (int32) and the escaped rows'\n"
"offsets, in row order, to offsets (int64); returns their count and the low bits of the other\n"
"rows, in row order, packed (bytes). All arrays n long; low_bits 0 to MAX_LOW_BITS.");

static PyObject *split(PyObject *self, PyObject *args) {
    static const Kind kinds[5] = {INT64, INT64, INT64, INT32, INT64};
    static const char *const names[5] = {"codes", "centre", "low_bits", "symbols", "offsets"};
    PyObject *obj[5];
    if (!PyArg_ParseTuple(args, "OOOOO", &obj[0], &obj[1], &obj[2], &obj[3], &obj[4]))
        return NULL;
    Array held[5];
    Py_ssize_t n = hold_arrays(obj, 5, held, kinds, names, 5, 3);
    if (n < 0) return NULL;
    const int64_t *codes = held[0].view.buf, *centre = held[1].view.buf, *low = held[2].view.buf;
    int32_t *symbols = held[3].view.buf;
    int64_t *offsets = held[4].view.buf;
    Py_ssize_t escapes = 0;
    int64_t total = 0; /* low bits */
    const char *bad = NULL;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t r = 0; r < n; r++) { /* symbols, escapes and the low bits' length */
        if (low[r] < 0 || low[r] > MAX_LOW_BITS) {
            bad = "a low-bit count out of range";
            break;
        }
        int64_t offset = codes[r] - centre[r];
        int64_t symbol = floor_shift(offset, (int)low[r]) + HALF_WIDTH;
        int escape = symbol < 0 || symbol >= ESCAPE;
        symbols[r] = escape ? ESCAPE : (int32_t)symbol;
        if (escape) offsets[escapes++] = offset;
        total += escape ? 0 : low[r];
    }
    Py_END_ALLOW_THREADS
    PyObject *lows = bad ? NULL : PyBytes_FromStringAndSize(NULL, (Py_ssize_t)((total + 7) / 8));
    if (lows) {
        Bits bits = {0, 0, (unsigned char *)PyBytes_AS_STRING(lows),
                     (unsigned char *)PyBytes_AS_STRING(lows) + PyBytes_GET_SIZE(lows)};
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t r = 0; r < n && !bad; r++) { /* the low bits, in row order */
            int count = (int)low[r];
            if (symbols[r] == ESCAPE || !count) continue;
            int64_t offset = codes[r] - centre[r];
            uint64_t value = (uint64_t)offset - ((uint64_t)(int64_t)(symbols[r] - HALF_WIDTH) << count);
            if (bits_put(&bits, value, count) < 0) bad = "the rows changed while split";
        }
        for (; bits.count > 0 && !bad; bits.count -= 8, bits.pending >>= 8) {
            if (bits.at == bits.end) bad = "the rows changed while split";
            else *bits.at++ = (unsigned char)bits.pending;
        }
        Py_END_ALLOW_THREADS
    }
    release(held, 5);
    if (bad) {
        Py_XDECREF(lows);
        PyErr_SetString(PyExc_ValueError, bad);
        return NULL;
    }
    return lows ? Py_BuildValue("nN", escapes, lows) : NULL;
}

static PyMethodDef methods[] = {
    {"split", split, METH_VARARGS, split_doc},
    {"rows", rows, METH_VARARGS, rows_doc},
    {"group", group, METH_VARARGS, group_doc},
    {"place", place, METH_VARARGS, place_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_condkernel",
    "The entropy model's per-row pass: features, integer network and table choice.", -1, methods,
};

PyMODINIT_FUNC PyInit__condkernel(void) {
    PyObject *m = PyModule_Create(&module);
    if (m && (PyModule_AddIntConstant(m, "FEATURE_BITS", FEATURE_BITS) < 0 ||
              PyModule_AddIntConstant(m, "FEATURE_LIMIT", (long)FEATURE_LIMIT) < 0 ||
              PyModule_AddIntConstant(m, "OUTPUT_BITS", OUTPUT_BITS) < 0 ||
              PyModule_AddIntConstant(m, "SIGMA_SHIFT", SIGMA_SHIFT) < 0 ||
              PyModule_AddIntConstant(m, "FRACTIONS", FRACTIONS) < 0 ||
              PyModule_AddIntConstant(m, "SMALL_OCTAVE_LOW", SMALL_OCTAVE_LOW) < 0 ||
              PyModule_AddIntConstant(m, "N_SMALL", N_SMALL) < 0 ||
              PyModule_AddIntConstant(m, "MAX_LOW_BITS", MAX_LOW_BITS) < 0 ||
              PyModule_AddIntConstant(m, "N_TABLES", N_TABLES) < 0 ||
              PyModule_AddIntConstant(m, "LOG2_ONE", LOG2_ONE) < 0 ||
              PyModule_AddIntConstant(m, "HALF_WIDTH", HALF_WIDTH) < 0)) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
