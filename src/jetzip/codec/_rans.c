/* A static order-0 rANS coder for quantised codes (jetzip.codec._rans): integer arithmetic only,
 * so every CPU and compiler writes and reads the same bytes.
 *
 * Symbols are code - low over a dense alphabet of `width` slots; the caller (codec/entropy.py)
 * quantises their counts to frequencies summing to 2**prob_bits, every present symbol at least 1.
 * Eight 32-bit states (lanes) take the rows in turn (row i goes to lane i % 8), each with its own
 * stream of 16-bit words, so a CPU overlaps eight independent dependency chains. A state lives in
 * [L, 2**31) with L = 2**15: one word in or out per row at most, and the encoder's division by a
 * frequency is a multiplication by its reciprocal, exact for numerators below 2**31 (Alverson's
 * method, as in ryg_rans). Body layout, all little-endian: the eight final encoder states (u32),
 * the eight lanes' word counts (u32), then each lane's words (u16) in the order its decoder reads
 * them. The decoder checks every read against the end of its lane, and that it ends with every
 * state back at L and every word consumed: a damaged stream ends in ValueError, never in a read
 * outside the buffers. The hot loops have no data-dependent branches (a state's renormalisation
 * happens about one row in three, unpredictably). The loops release the GIL (the codec codes
 * columns in threads).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../_buffers.h"

#define LANES 8
#if defined(__GNUC__) && !defined(__clang__)
#define UNROLL _Pragma("GCC unroll 8")
#elif defined(__clang__)
#define UNROLL _Pragma("unroll")
#else
#define UNROLL
#endif
#define STATE_LOW (UINT32_C(1) << 15) /* L: a state's least value */
#define MAX_PROB_BITS 15              /* L >> prob_bits must be at least 1 */
#define MAX_WIDTH (1 << 16)           /* alphabet slots (codec/entropy.py: RANS_MAX_WIDTH) */
#define HISTOGRAM_MAX_WIDTH (1 << 22) /* slots the histogram counts (statistics of wider codes) */
#define HEAD_BYTES (8 * LANES) /* per lane: its final state, its word count */
#define DECODE_BLOCK 256 /* rows per unchecked block of the decoder */

typedef struct {
    uint32_t x_max;     /* a state at or above this emits a word before coding the symbol */
    uint32_t rcp_freq;  /* ceil(2**(31 + rcp_shift + 1) / freq): x / freq = (x * rcp) >> (32 + shift) */
    uint32_t bias;      /* start, plus the correction that makes freq = 1 exact */
    uint32_t cmpl_freq; /* 2**prob_bits - freq */
    uint32_t rcp_shift;
} EncSymbol;

/* The frequency table, checked: every entry below 2**prob_bits + 1, summing to 2**prob_bits.
 * Returns 0 or -1 (with no exception set: the caller names the problem). */
static int check_table(const uint32_t *freq, Py_ssize_t width, int prob_bits) {
    if (prob_bits < 1 || prob_bits > MAX_PROB_BITS || width < 1 || width > MAX_WIDTH) return -1;
    uint64_t total = 0;
    for (Py_ssize_t s = 0; s < width; s++) total += freq[s];
    return total == (UINT64_C(1) << prob_bits) ? 0 : -1;
}

/* A little-endian word: one load where the CPU is little-endian. */
static inline uint32_t read_u16(const unsigned char *p) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint16_t w;
    memcpy(&w, p, sizeof w);
    return w;
#else
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8);
#endif
}

static uint32_t read_u32(const unsigned char *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* ------------------------------------------------------------------ histogram */
#define MINMAX(T, codes, n, low, high)        \
    do {                                      \
        const T *c_ = (const T *)(codes);     \
        T lo_ = c_[0], hi_ = c_[0];           \
        for (Py_ssize_t i = 1; i < (n); i++) { \
            lo_ = c_[i] < lo_ ? c_[i] : lo_;  \
            hi_ = c_[i] > hi_ ? c_[i] : hi_;  \
        }                                     \
        (low) = lo_;                          \
        (high) = hi_;                         \
    } while (0)

/* Counts per slot into `counts` (width entries, zeroed): four partial tables when they fit in
 * 64 kB, so runs of one symbol (the peak of a quantised column) do not wait on one counter. */
#define COUNT(T, codes, n, low, width, counts)                                          \
    do {                                                                               \
        const T *c_ = (const T *)(codes);                                              \
        if ((width) <= 4096 && (n) >= 4096) {                                          \
            uint32_t *part_ = calloc(4 * (size_t)(width), sizeof(uint32_t));           \
            if (part_) {                                                               \
                Py_ssize_t i = 0;                                                      \
                while (i < (n)) {                                                      \
                    Py_ssize_t end_ = (n) - i > (1 << 30) ? i + (1 << 30) : (n);       \
                    for (; i + 4 <= end_; i += 4) {                                    \
                        part_[(uint64_t)(c_[i] - (low))]++;                            \
                        part_[(width) + (uint64_t)(c_[i + 1] - (low))]++;              \
                        part_[2 * (width) + (uint64_t)(c_[i + 2] - (low))]++;          \
                        part_[3 * (width) + (uint64_t)(c_[i + 3] - (low))]++;          \
                    }                                                                  \
                    for (; i < end_; i++) part_[(uint64_t)(c_[i] - (low))]++;          \
                    for (Py_ssize_t s = 0; s < 4 * (width); s++) {                     \
                        (counts)[s % (width)] += part_[s];                             \
                        part_[s] = 0;                                                  \
                    }                                                                  \
                }                                                                      \
                free(part_);                                                           \
                break;                                                                 \
            }                                                                          \
        }                                                                              \
        for (Py_ssize_t i = 0; i < (n); i++) (counts)[(uint64_t)(c_[i] - (low))]++;    \
    } while (0)

PyDoc_STRVAR(histogram_doc,
"histogram(codes, max_width) -> (low, high, counts or None)\n\n"
"Least and greatest code of a non-empty int32 or int64 array and, when the alphabet\n"
"high - low + 1 is at most max_width (at most HISTOGRAM_MAX_WIDTH, 2**22), the count of\n"
"every slot as the bytes of a uint64 array (low's count first).");

static PyObject *histogram(PyObject *self, PyObject *args) {
    PyObject *object;
    Py_ssize_t max_width;
    if (!PyArg_ParseTuple(args, "On", &object, &max_width)) return NULL;
    Array a;
    if (get_array(object, &a, 0, 0, "codes") < 0) return NULL;
    if (a.kind != INT32 && a.kind != INT64)
        return fail(&a, 1, PyExc_TypeError, "codes: an int32 or int64 array");
    if (a.n == 0) return fail(&a, 1, PyExc_ValueError, "histogram of an empty array");
    if (max_width < 1 || max_width > HISTOGRAM_MAX_WIDTH)
        return fail(&a, 1, PyExc_ValueError, "max_width: 1 to 2**22");
    int64_t low, high;
    Py_BEGIN_ALLOW_THREADS
    if (a.kind == INT32)
        MINMAX(int32_t, a.view.buf, a.n, low, high);
    else
        MINMAX(int64_t, a.view.buf, a.n, low, high);
    Py_END_ALLOW_THREADS
    /* the width as unsigned: int64 extremes span 2**64 - 1 */
    uint64_t span = (uint64_t)high - (uint64_t)low;
    if (span >= (uint64_t)max_width) {
        release(&a, 1);
        return Py_BuildValue("LLO", (long long)low, (long long)high, Py_None);
    }
    Py_ssize_t width = (Py_ssize_t)span + 1;
    PyObject *result = PyBytes_FromStringAndSize(NULL, width * (Py_ssize_t)sizeof(uint64_t));
    if (!result) {
        release(&a, 1);
        return NULL;
    }
    uint64_t *counts = (uint64_t *)PyBytes_AS_STRING(result);
    memset(counts, 0, (size_t)width * sizeof(uint64_t));
    Py_BEGIN_ALLOW_THREADS
    if (a.kind == INT32)
        COUNT(int32_t, a.view.buf, a.n, low, width, counts);
    else
        COUNT(int64_t, a.view.buf, a.n, low, width, counts);
    Py_END_ALLOW_THREADS
    release(&a, 1);
    PyObject *built = Py_BuildValue("LLN", (long long)low, (long long)high, result);
    return built;
}

/* ------------------------------------------------------------------ encoder */
static void enc_symbols(const uint32_t *freq, Py_ssize_t width, int prob_bits, EncSymbol *table) {
    uint32_t start = 0;
    for (Py_ssize_t s = 0; s < width; s++) {
        uint32_t f = freq[s];
        EncSymbol *e = &table[s];
        e->x_max = ((STATE_LOW >> prob_bits) << 16) * f;
        e->cmpl_freq = (UINT32_C(1) << prob_bits) - f;
        if (f < 2) {
            /* (x * (2**32 - 1)) >> 32 = x - 1 for 0 < x < 2**32; the bias adds back
             * 2**prob_bits - 1, so x + bias + q * cmpl_freq = x * 2**prob_bits + start */
            e->rcp_freq = UINT32_MAX;
            e->rcp_shift = 0;
            e->bias = start + (UINT32_C(1) << prob_bits) - 1;
        } else {
            uint32_t shift = 0;
            while (f > (UINT32_C(1) << shift)) shift++;
            e->rcp_freq = (uint32_t)(((UINT64_C(1) << (shift + 31)) + f - 1) / f);
            e->rcp_shift = shift - 1;
            e->bias = start;
        }
        start += f;
    }
}

PyDoc_STRVAR(encode_doc,
"encode(codes, low, freq, prob_bits) -> bytes\n\n"
"The rANS body of int32 or int64 codes, symbol code - low, under the frequency table `freq`\n"
"(uint32, summing to 2**prob_bits; every code's frequency at least 1). ValueError on a code\n"
"outside the table or of frequency 0.");

/* Rows [START, STOP) of `codes`, last first, under `table` (EncSymbols of `freq`). */
#define ENCODE_LOOP(T, START, STOP)                                                         \
    do {                                                                                    \
        const T *c_ = (const T *)codes;                                                     \
        for (Py_ssize_t i = (STOP) - 1; i >= (START); i--) {                                \
            uint64_t s = (uint64_t)c_[i] - (uint64_t)low;                                   \
            if (s >= (uint64_t)width || freq[s] == 0) {                                     \
                bad = 1;                                                                    \
                break;                                                                      \
            }                                                                               \
            const EncSymbol *e = &table[s];                                                 \
            int lane = (int)(i & (LANES - 1));                                              \
            uint32_t x = state[lane];                                                       \
            /* branch-free: the word is always written, kept only when emitted */          \
            uint32_t emit = x >= e->x_max;                                                  \
            words[lane][-1] = (uint16_t)x;                                                  \
            words[lane] -= emit;                                                            \
            x >>= emit << 4;                                                                \
            uint32_t q = (uint32_t)(((uint64_t)x * e->rcp_freq) >> 32) >> e->rcp_shift;     \
            state[lane] = x + e->bias + q * e->cmpl_freq;                                   \
        }                                                                                   \
    } while (0)

/* The encoder's words: per lane, at most one word per row of it, plus the one written and not
 * kept. Sets each lane's end (and its first word, filled downwards) and start state; the buffer,
 * or NULL. */
static uint16_t *lanes_open(Py_ssize_t n, uint16_t *end[LANES], uint16_t *words[LANES],
                            uint32_t state[LANES]) {
    uint16_t *buffer = malloc(((size_t)n + LANES) * sizeof(uint16_t));
    if (!buffer) return NULL;
    for (int k = 0; k < LANES; k++) {
        Py_ssize_t rows = (n - k + LANES - 1) / LANES; /* rows k, k + LANES, ... */
        end[k] = words[k] = (k ? end[k - 1] : buffer) + rows + 1;
        state[k] = STATE_LOW;
    }
    return buffer;
}

/* The body: the states, each lane's word count, then the lanes' words, all little-endian. */
static PyObject *lanes_bytes(const uint32_t state[LANES], uint16_t *const words[LANES],
                             uint16_t *const end[LANES]) {
    Py_ssize_t n_words = 0;
    for (int k = 0; k < LANES; k++) n_words += end[k] - words[k];
    PyObject *result = PyBytes_FromStringAndSize(NULL, HEAD_BYTES + 2 * n_words);
    if (!result) return NULL;
    unsigned char *out = (unsigned char *)PyBytes_AS_STRING(result);
    for (int k = 0; k < LANES; k++) {
        uint32_t count = (uint32_t)(end[k] - words[k]);
        for (int b = 0; b < 4; b++) {
            out[4 * k + b] = (unsigned char)(state[k] >> (8 * b));
            out[4 * (LANES + k) + b] = (unsigned char)(count >> (8 * b));
        }
    }
    out += HEAD_BYTES;
    for (int k = 0; k < LANES; k++)
        for (const uint16_t *w = words[k]; w < end[k]; w++, out += 2) {
            out[0] = (unsigned char)*w;
            out[1] = (unsigned char)(*w >> 8);
        }
    return result;
}

/* An encoder's end: its words' buffer freed, and the body, or ValueError(`bad_symbol`) when
 * the loop met a symbol outside its table. */
static PyObject *finish_encoder(int bad, const char *bad_symbol, const uint32_t state[LANES],
                                uint16_t *const words[LANES], uint16_t *const end[LANES],
                                uint16_t *buffer) {
    PyObject *result = NULL;
    if (bad)
        PyErr_SetString(PyExc_ValueError, bad_symbol);
    else
        result = lanes_bytes(state, words, end);
    free(buffer);
    return result;
}

static PyObject *encode(PyObject *self, PyObject *args) {
    PyObject *objects[2];
    long long low_arg;
    int prob_bits;
    if (!PyArg_ParseTuple(args, "OLOi", &objects[0], &low_arg, &objects[1], &prob_bits))
        return NULL;
    Array a[2];
    if (get_array(objects[0], &a[0], 0, 0, "codes") < 0) return NULL;
    if (get_array(objects[1], &a[1], 0, 0, "freq") < 0) {
        release(a, 1);
        return NULL;
    }
    if ((a[0].kind != INT32 && a[0].kind != INT64) || a[1].kind != UINT32)
        return fail(a, 2, PyExc_TypeError, "codes: int32 or int64; freq: uint32");
    const uint32_t *freq = a[1].view.buf;
    Py_ssize_t width = a[1].n, n = a[0].n;
    if (check_table(freq, width, prob_bits) < 0)
        return fail(a, 2, PyExc_ValueError, "freq must sum to 2**prob_bits (1 to 15 bits)");
    int64_t low = low_arg;
    const void *codes = a[0].view.buf;
    EncSymbol *table = malloc((size_t)width * sizeof(EncSymbol));
    uint16_t *end[LANES], *words[LANES];
    uint32_t state[LANES];
    uint16_t *buffer = lanes_open(n, end, words, state);
    if (!table || !buffer) {
        free(table);
        free(buffer);
        release(a, 2);
        return PyErr_NoMemory();
    }
    int bad = 0;
    Py_BEGIN_ALLOW_THREADS
    enc_symbols(freq, width, prob_bits, table);
    if (a[0].kind == INT32)
        ENCODE_LOOP(int32_t, 0, n);
    else
        ENCODE_LOOP(int64_t, 0, n);
    Py_END_ALLOW_THREADS
    free(table);
    release(a, 2);
    return finish_encoder(bad, "a code outside the frequency table", state, words, end, buffer);
}

/* ------------------------------------------------------------------ decoder */
PyDoc_STRVAR(decode_doc,
"decode(body, low, freq, prob_bits, out) -> None\n\n"
"Inverse of `encode` into `out` (int32 or int64; its length is the row count): ValueError\n"
"naming the damage when the body is short, long or does not end in the encoder's first state.");

/* Where the decoder writes row i: IN_PLACE, or BY_ORDER (stream row i is row order_[i]). */
#define IN_PLACE(i) (i)
#define BY_ORDER(i) (order_[i])

/* One row of lane K: the symbol of its state's slot, the state stepped back, a word of the lane's
 * stream read when it fell below L. CHECKED tests the end of that stream before each read; the
 * fast path runs blocks of rows that cannot read past any (at most one word per row) without
 * branches, its states in registers. */
#define DECODE_ROW(T, PB, X, K, ROW, CHECKED, AT)                                               \
    do {                                                                                    \
        uint32_t slot = X & ((UINT32_C(1) << (PB)) - 1);                                    \
        uint32_t entry = slot_step[slot];                                                   \
        X = (uint32_t)(entry >> 16 & 0xFFFF) * (X >> (PB)) + (uint32_t)(entry & 0xFFFF);    \
        uint32_t need = X < STATE_LOW;                                                      \
        if (CHECKED && need && in[K] == in_end[K]) {                                        \
            bad = "ends early";                                                             \
            break;                                                                          \
        }                                                                                   \
        X = need ? (X << 16) | read_u16(in[K]) : X;                                         \
        in[K] += need << 1;                                                                 \
        o_[AT(ROW)] = (T)(low + (int64_t)slot_symbol[slot]);                                \
    } while (0)

/* Rows i to UNTIL, each checked. */
#define CHECKED_ROWS(T, PB, UNTIL, AT)                                                      \
    for (; i < (UNTIL) && !bad; i++) {                                                      \
        int k = (int)(i & (LANES - 1));                                                     \
        uint32_t x = state[k];                                                              \
        DECODE_ROW(T, PB, x, k, i, 1, AT);                                                  \
        state[k] = x;                                                                       \
    }

/* Rows [START, STOP): checked up to the first row of lane 0, then unchecked blocks while every
 * lane has the words a block may read, then checked again. */
#define DECODE_LOOP(T, PB, START, STOP, AT)                                                 \
    do {                                                                                    \
        T *o_ = (T *)out;                                                                   \
        Py_ssize_t i = (START), aligned = ((START) + LANES - 1) & ~(Py_ssize_t)(LANES - 1);   \
        CHECKED_ROWS(T, PB, aligned < (STOP) ? aligned : (STOP), AT);                       \
        for (;;) {                                                                          \
            int room = !bad && (STOP) - i >= DECODE_BLOCK;                                  \
            for (int k = 0; k < LANES; k++) room &= in_end[k] - in[k] >= 2 * DECODE_BLOCK / LANES; \
            if (!room) break;                                                               \
            uint32_t x0 = state[0], x1 = state[1], x2 = state[2], x3 = state[3];            \
            uint32_t x4 = state[4], x5 = state[5], x6 = state[6], x7 = state[7];            \
            const unsigned char *p0 = in[0], *p1 = in[1], *p2 = in[2], *p3 = in[3];         \
            const unsigned char *p4 = in[4], *p5 = in[5], *p6 = in[6], *p7 = in[7];         \
            for (Py_ssize_t stop = i + DECODE_BLOCK; i < stop; i += LANES) {                \
                FAST_ROW(T, PB, x0, p0, i, AT);                                             \
                FAST_ROW(T, PB, x1, p1, i + 1, AT);                                         \
                FAST_ROW(T, PB, x2, p2, i + 2, AT);                                         \
                FAST_ROW(T, PB, x3, p3, i + 3, AT);                                         \
                FAST_ROW(T, PB, x4, p4, i + 4, AT);                                         \
                FAST_ROW(T, PB, x5, p5, i + 5, AT);                                         \
                FAST_ROW(T, PB, x6, p6, i + 6, AT);                                         \
                FAST_ROW(T, PB, x7, p7, i + 7, AT);                                         \
            }                                                                               \
            in[0] = p0, in[1] = p1, in[2] = p2, in[3] = p3;                                 \
            in[4] = p4, in[5] = p5, in[6] = p6, in[7] = p7;                                 \
            state[0] = x0, state[1] = x1, state[2] = x2, state[3] = x3;                     \
            state[4] = x4, state[5] = x5, state[6] = x6, state[7] = x7;                     \
        }                                                                                   \
        CHECKED_ROWS(T, PB, (STOP), AT);                                                    \
    } while (0)

/* DECODE_ROW's fast path on a lane's own pointer P. */
#define FAST_ROW(T, PB, X, P, ROW, AT)                                                          \
    do {                                                                                    \
        uint32_t slot = X & ((UINT32_C(1) << (PB)) - 1);                                    \
        uint32_t entry = slot_step[slot];                                                   \
        X = (uint32_t)(entry >> 16 & 0xFFFF) * (X >> (PB)) + (uint32_t)(entry & 0xFFFF);    \
        /* arithmetic, not a branch the compiler may make of ?: (taken about one row in   \
         * three, unpredictably) */                                                         \
        uint32_t need = X < STATE_LOW;                                                      \
        X = (X << (need << 4)) | (read_u16(P) & (0u - need));                               \
        P += need << 1;                                                                     \
        o_[AT(ROW)] = (T)(low + (int64_t)slot_symbol[slot]);                                \
    } while (0)

/* A body's head: each lane's final state and its words' span; NULL, or what is wrong. */
static const char *lanes_read(const unsigned char *head, Py_ssize_t size,
                              const unsigned char *in[LANES], const unsigned char *in_end[LANES],
                              uint32_t state[LANES]) {
    if (size < HEAD_BYTES || size % 2) return "its body is not whole states and words";
    Py_ssize_t offset = HEAD_BYTES;
    for (int k = 0; k < LANES; k++) {
        state[k] = read_u32(head + 4 * k);
        if (state[k] < STATE_LOW || state[k] >= (UINT32_C(1) << 31))
            return "a state outside [2**15, 2**31)";
        uint32_t count = read_u32(head + 4 * (LANES + k));
        if (count > (size - offset) / 2) return "a lane's words run past its end";
        in[k] = head + offset;
        offset += 2 * (Py_ssize_t)count;
        in_end[k] = head + offset;
    }
    return offset != size ? "its lanes do not fill its body" : NULL;
}

/* Per slot of a checked table: freq << 16 | (slot - start of its symbol), the states' step in
 * one load; the symbol in a table of its own, off their dependency chains. */
static void slots_fill(const uint32_t *restrict freq, Py_ssize_t width,
                       uint32_t *restrict slot_step, uint16_t *restrict slot_symbol) {
    uint32_t next = 0;
    for (Py_ssize_t s = 0; s < width; s++) {
        const uint32_t f = freq[s], high = f << 16;
        uint32_t *restrict step = slot_step + next;
        uint16_t *restrict symbol = slot_symbol + next;
        for (uint32_t k = 0; k < f; k++) step[k] = high | k; /* loops the compiler vectorises */
        for (uint32_t k = 0; k < f; k++) symbol[k] = (uint16_t)s;
        next += f;
    }
}

/* After the last row: NULL, or why the body was not the encoder's. */
static const char *lanes_close(const unsigned char *const in[LANES],
                               const unsigned char *const in_end[LANES],
                               const uint32_t state[LANES]) {
    for (int k = 0; k < LANES; k++)
        if (in[k] != in_end[k]) return "has words after its last row";
    for (int k = 0; k < LANES; k++)
        if (state[k] != STATE_LOW) return "does not end in the encoder's first state";
    return NULL;
}

static PyObject *decode(PyObject *self, PyObject *args) {
    PyObject *objects[3];
    long long low_arg;
    int prob_bits;
    if (!PyArg_ParseTuple(args, "OLOiO", &objects[0], &low_arg, &objects[1], &prob_bits,
                          &objects[2]))
        return NULL;
    Array a[3];
    const char *names[3] = {"body", "freq", "out"};
    for (int i = 0; i < 3; i++) {
        if (get_array(objects[i], &a[i], i == 2, 0, names[i]) < 0) {
            release(a, i);
            return NULL;
        }
    }
    if (a[1].kind != UINT32 || (a[2].kind != INT32 && a[2].kind != INT64))
        return fail(a, 3, PyExc_TypeError, "freq: uint32; out: int32 or int64");
    const uint32_t *freq = a[1].view.buf;
    Py_ssize_t width = a[1].n, n = a[2].n, size = a[0].view.len;
    if (check_table(freq, width, prob_bits) < 0)
        return fail(a, 3, PyExc_ValueError, "its frequency table does not sum to 2**prob_bits");
    const unsigned char *in[LANES], *in_end[LANES];
    uint32_t state[LANES];
    const char *bad = lanes_read(a[0].view.buf, size, in, in_end, state);
    if (bad) return fail(a, 3, PyExc_ValueError, bad);
    uint32_t *slot_step = malloc(((size_t)1 << prob_bits) * sizeof(uint32_t));
    uint16_t *slot_symbol = malloc(((size_t)1 << prob_bits) * sizeof(uint16_t));
    if (!slot_step || !slot_symbol) {
        free(slot_step);
        free(slot_symbol);
        release(a, 3);
        return PyErr_NoMemory();
    }
    int64_t low = low_arg;
    void *out = a[2].view.buf;
    Py_BEGIN_ALLOW_THREADS
    slots_fill(freq, width, slot_step, slot_symbol);
    /* the table size jetzip writes as a constant: shifts and masks by an immediate */
    if (a[2].kind == INT32 && prob_bits == MAX_PROB_BITS)
        DECODE_LOOP(int32_t, MAX_PROB_BITS, 0, n, IN_PLACE);
    else if (a[2].kind == INT32)
        DECODE_LOOP(int32_t, prob_bits, 0, n, IN_PLACE);
    else if (prob_bits == MAX_PROB_BITS)
        DECODE_LOOP(int64_t, MAX_PROB_BITS, 0, n, IN_PLACE);
    else
        DECODE_LOOP(int64_t, prob_bits, 0, n, IN_PLACE);
    Py_END_ALLOW_THREADS
    free(slot_step);
    free(slot_symbol);
    if (!bad) bad = lanes_close(in, in_end, state);
    release(a, 3);
    if (bad) {
        PyErr_SetString(PyExc_ValueError, bad);
        return NULL;
    }
    Py_RETURN_NONE;
}

/* ------------------------------------------------------------------ per-row tables */
/* The entropy model's coder (jetzip.entropy.coder): int32 symbols whose rows each have a table
 * of their own, a row of a (n_tables, width) frequency matrix. The stream takes the rows in
 * `order` (the model's rows grouped by table, so the symbols come in runs of one table): run k
 * is stream rows [starts[k], starts[k + 1]), coded with matrix row tables[k]; stream row i is
 * symbols[order[i]], and the decoder writes it there. Lanes, words and body are those of
 * `encode` (stream row i in lane i % 8, across the runs); per run the encoder builds its
 * table's EncSymbols and the decoder its slot tables (2**prob_bits entries: cheap next to a run
 * of thousands of rows, not to a few). */

typedef struct {
    const int64_t *order, *tables, *starts;
    const uint32_t *matrix;
    Py_ssize_t runs, width;
} Runs;

/* Hold order, tables, starts (int64) and freq (2-D uint32) into a[0..3] and check them for n
 * rows: order's rows in range, starts rising from 0 to n, each non-empty run's table a row of
 * the matrix that sums to 2**prob_bits. 0, or -1 with an exception set and nothing held. */
static int runs_hold(PyObject *const objects[4], Array a[4], Py_ssize_t n, int prob_bits,
                     Runs *r) {
    static const char *const names[4] = {"order", "tables", "starts", "freq"};
    for (int i = 0; i < 4; i++)
        if (get_array(objects[i], &a[i], 0, 0, names[i]) < 0) {
            release(a, i);
            return -1;
        }
    if (a[0].kind != INT64 || a[1].kind != INT64 || a[2].kind != INT64 || a[3].kind != UINT32 ||
        a[3].view.ndim != 2) {
        fail(a, 4, PyExc_TypeError, "order, tables, starts: int64; freq: a 2-D uint32 array");
        return -1;
    }
    r->order = a[0].view.buf;
    r->tables = a[1].view.buf;
    r->starts = a[2].view.buf;
    r->matrix = a[3].view.buf;
    r->runs = a[1].n;
    r->width = a[3].view.shape[1];
    Py_ssize_t n_tables = a[3].view.shape[0];
    const char *bad = NULL;
    if (a[0].n != n) bad = "an order of another length than the rows";
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n && !bad; i++)
        if (r->order[i] < 0 || r->order[i] >= n) bad = "a row in order out of range";
    Py_END_ALLOW_THREADS
    if (!bad && (prob_bits < 1 || prob_bits > MAX_PROB_BITS || r->width < 1 ||
                 r->width > MAX_WIDTH))
        bad = "tables of 1 to 2**16 symbols and 1 to 15 bits";
    if (!bad && (a[2].n != r->runs + 1 || r->starts[0] != 0 || r->starts[r->runs] != n))
        bad = "runs must start at row 0 and end at the last row";
    for (Py_ssize_t k = 0; k < r->runs && !bad; k++) {
        int64_t t = r->tables[k], start = r->starts[k], stop = r->starts[k + 1];
        if (stop < start)
            bad = "a run ends before it starts";
        else if (t < 0 || t >= n_tables)
            bad = "a table outside the frequency matrix";
        else if (stop > start && check_table(r->matrix + t * r->width, r->width, prob_bits) < 0)
            bad = "a frequency table does not sum to 2**prob_bits (1 to 15 bits)";
    }
    if (bad) {
        fail(a, 4, PyExc_ValueError, bad);
        return -1;
    }
    return 0;
}

PyDoc_STRVAR(encode_tabled_doc,
"encode_tabled(symbols, order, tables, starts, freq, prob_bits) -> bytes\n\n"
"The rANS body of int32 `symbols` taken in `order` (int64, a permutation of the rows), in runs\n"
"of one table: stream rows starts[k] to starts[k + 1] under row tables[k] of `freq` (a 2-D\n"
"uint32 array, each used row summing to 2**prob_bits); tables and starts int64, starts from 0\n"
"to len(symbols). ValueError on a symbol outside its table or of frequency 0, or on an order,\n"
"runs or tables that do not fit.");

static PyObject *encode_tabled(PyObject *self, PyObject *args) {
    PyObject *symbols_obj, *objects[4];
    int prob_bits;
    if (!PyArg_ParseTuple(args, "OOOOOi", &symbols_obj, &objects[0], &objects[1], &objects[2],
                          &objects[3], &prob_bits))
        return NULL;
    Array s, a[4];
    Runs r;
    if (get_array(symbols_obj, &s, 0, 0, "symbols") < 0) return NULL;
    if (s.kind != INT32) return fail(&s, 1, PyExc_TypeError, "symbols: int32");
    if (runs_hold(objects, a, s.n, prob_bits, &r) < 0) {
        release(&s, 1);
        return NULL;
    }
    Py_ssize_t width = r.width, n = s.n;
    const int64_t low = 0;
    EncSymbol *table = malloc((size_t)width * sizeof(EncSymbol));
    uint16_t *end[LANES], *words[LANES];
    uint32_t state[LANES];
    uint16_t *buffer = lanes_open(n, end, words, state);
    /* the symbols in stream order first: a gather of independent loads, off the states' chains */
    int32_t *codes = malloc(((size_t)n + 1) * sizeof(int32_t));
    if (!table || !buffer || !codes) {
        free(table);
        free(buffer);
        free(codes);
        release(&s, 1);
        release(a, 4);
        return PyErr_NoMemory();
    }
    int bad = 0;
    Py_BEGIN_ALLOW_THREADS
    const int32_t *symbols = s.view.buf;
    for (Py_ssize_t i = 0; i < n; i++) codes[i] = symbols[r.order[i]];
    for (Py_ssize_t k = r.runs - 1; k >= 0 && !bad; k--) { /* the last row first */
        Py_ssize_t start = (Py_ssize_t)r.starts[k], stop = (Py_ssize_t)r.starts[k + 1];
        if (start == stop) continue;
        const uint32_t *freq = r.matrix + r.tables[k] * width;
        enc_symbols(freq, width, prob_bits, table);
        ENCODE_LOOP(int32_t, start, stop);
    }
    Py_END_ALLOW_THREADS
    free(table);
    free(codes);
    release(&s, 1);
    release(a, 4);
    return finish_encoder(bad, "a symbol outside its frequency table", state, words, end, buffer);
}

PyDoc_STRVAR(decode_tabled_doc,
"decode_tabled(body, order, tables, starts, freq, prob_bits, out) -> None\n\n"
"Inverse of `encode_tabled` into `out` (int32, the row count long), given the same order, runs\n"
"and tables: ValueError naming the damage, as `decode`.");

static PyObject *decode_tabled(PyObject *self, PyObject *args) {
    PyObject *body_obj, *objects[4], *out_obj;
    int prob_bits;
    if (!PyArg_ParseTuple(args, "OOOOOiO", &body_obj, &objects[0], &objects[1], &objects[2],
                          &objects[3], &prob_bits, &out_obj))
        return NULL;
    Array b[2], a[4];
    Runs r;
    if (get_array(body_obj, &b[0], 0, 0, "body") < 0) return NULL;
    if (get_array(out_obj, &b[1], 1, 0, "out") < 0) {
        release(b, 1);
        return NULL;
    }
    if (b[1].kind != INT32) return fail(b, 2, PyExc_TypeError, "out: int32");
    if (runs_hold(objects, a, b[1].n, prob_bits, &r) < 0) {
        release(b, 2);
        return NULL;
    }
    const unsigned char *in[LANES], *in_end[LANES];
    uint32_t state[LANES];
    const char *bad = lanes_read(b[0].view.buf, b[0].view.len, in, in_end, state);
    if (bad) {
        release(a, 4);
        return fail(b, 2, PyExc_ValueError, bad);
    }
    uint32_t *slot_step = malloc(((size_t)1 << prob_bits) * sizeof(uint32_t));
    uint16_t *slot_symbol = malloc(((size_t)1 << prob_bits) * sizeof(uint16_t));
    if (!slot_step || !slot_symbol) {
        free(slot_step);
        free(slot_symbol);
        release(a, 4);
        release(b, 2);
        return PyErr_NoMemory();
    }
    const int64_t low = 0, *order_ = r.order;
    void *out = b[1].view.buf;
    Py_BEGIN_ALLOW_THREADS
    int64_t filled = -1; /* the table in the slot tables */
    for (Py_ssize_t k = 0; k < r.runs && !bad; k++) {
        Py_ssize_t start = (Py_ssize_t)r.starts[k], stop = (Py_ssize_t)r.starts[k + 1];
        if (start == stop) continue;
        if (r.tables[k] != filled) {
            filled = r.tables[k];
            slots_fill(r.matrix + filled * r.width, r.width, slot_step, slot_symbol);
        }
        if (prob_bits == MAX_PROB_BITS)
            DECODE_LOOP(int32_t, MAX_PROB_BITS, start, stop, BY_ORDER);
        else
            DECODE_LOOP(int32_t, prob_bits, start, stop, BY_ORDER);
    }
    Py_END_ALLOW_THREADS
    free(slot_step);
    free(slot_symbol);
    if (!bad) bad = lanes_close(in, in_end, state);
    release(a, 4);
    release(b, 2);
    if (bad) {
        PyErr_SetString(PyExc_ValueError, bad);
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"histogram", histogram, METH_VARARGS, histogram_doc},
    {"encode", encode, METH_VARARGS, encode_doc},
    {"decode", decode, METH_VARARGS, decode_doc},
    {"encode_tabled", encode_tabled, METH_VARARGS, encode_tabled_doc},
    {"decode_tabled", decode_tabled, METH_VARARGS, decode_tabled_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_rans",
    "A static order-0 rANS coder for quantised codes (the same bytes on every CPU).", -1, methods,
};

PyMODINIT_FUNC PyInit__rans(void) {
    PyObject *m = PyModule_Create(&module);
    if (m && (PyModule_AddIntConstant(m, "MAX_PROB_BITS", MAX_PROB_BITS) < 0 ||
              PyModule_AddIntConstant(m, "MAX_WIDTH", MAX_WIDTH) < 0 ||
              PyModule_AddIntConstant(m, "HISTOGRAM_MAX_WIDTH", HISTOGRAM_MAX_WIDTH) < 0)) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
