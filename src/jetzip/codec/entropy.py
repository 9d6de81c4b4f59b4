"""Entropy coding of quantised integers and lossless coding of raw columns.

Quantised codes go through a static order-0 rANS coder (jetzip.codec._rans, C, integer-only)
whose size is known from the histogram before coding: within RANS_MARGIN of the order-0
entropy, which pcodec's plain mode cannot beat, it is used alone; otherwise pcodec (which can
find delta or common-factor structure) codes the array too and the smaller stream is kept.
Codes whose alphabet is too wide for the rANS table, or whose rare tails cost more in the table
than they are worth, are coded in a dense window plus one escape symbol, and the escaped rows'
values separately (`_escape_encode`). A rANS stream starts with RANS_TAG, an escape stream with
ESCAPE_TAG, a pcodec stream with b"pco!", so `decode_ints` needs no description. Raw columns
(lossless mode, integer columns, exceptions, latents) are coded with whichever of pcodec and
byte-shuffled zstd is smaller, chosen per array.
"""

from __future__ import annotations

import struct
import threading
from typing import NamedTuple

import numpy as np
import zstandard
from pcodec import ChunkConfig, DeltaSpec, ModeSpec, standalone

from jetzip.codec import _rans
from jetzip.errors import CorruptFileError
from jetzip.fileutil import bind_numpy_api

#: dtypes pcodec codes natively; others (8-bit ints, bools) use the zstd path only.
_PCODEC_DTYPES = {"float16", "float32", "float64", "int16", "int32", "int64"} | {
    "uint16",
    "uint32",
    "uint64",
}
_PLAIN_INTS = ChunkConfig(delta_spec=DeltaSpec.no_op(), mode_spec=ModeSpec.classic())


bind_numpy_api(lambda: standalone.simple_compress(np.zeros(1, np.int32), _PLAIN_INTS))  # pcodec

#: zstd level of byte-shuffled arrays: 19 squeezes ~1 % more than 9 but runs at ~1 MB/s, so
#: it is kept for arrays small enough that the time does not matter.
_ZSTD_LEVEL = 9
_ZSTD_LEVEL_SMALL = 19
_SMALL_BYTES = 1 << 20
#: Rows, in SELECTION_BLOCKS evenly spaced contiguous blocks, on which competing encodings of a
#: long array are compared; the winner then codes the whole array once.
SELECTION_ROWS = 65_536
SELECTION_BLOCKS = 16
#: Rows on which pcodec's structure search is tried against plain coding: a yes/no question
#: (do neighbours or a common factor help?) that 16 blocks of 256 rows answer; the search
#: itself tries several codings, so on 16 k rows it cost a tenth of the whole column's coding.
SEARCH_TRIAL_ROWS = 4096
#: Symbols per bincount call when counting a small alphabet (see `empirical_entropy_bits`).
COUNT_BLOCK_ROWS = 65_536
#: First byte of a rANS stream (pcodec's standalone streams start with b"pco!").
RANS_TAG = b"r"
#: rANS frequencies sum to 2**RANS_PROB_BITS: the most the coder's 32-bit states allow (a
#: 15-bit state floor, 16-bit words); quantising the counts to it costs about 0.01-0.05 % over
#: the order-0 entropy on quantised columns (docs/codec.md, "The rANS coder").
RANS_PROB_BITS = _rans.MAX_PROB_BITS
#: Widest alphabet (max - min + 1) the rANS coder takes; wider arrays go to pcodec.
RANS_MAX_WIDTH = _rans.MAX_WIDTH
#: Widest alphabet the C histogram counts (for the order-0 statistics of wider codes).
HISTOGRAM_MAX_WIDTH = _rans.HISTOGRAM_MAX_WIDTH
#: First byte of an escape stream: rANS over a window of the alphabet plus an escape symbol.
ESCAPE_TAG = b"e"
#: An escape stream replaces a plain rANS stream only when its estimated size is smaller by at
#: least this fraction: the window costs three more passes over the codes (~3 ms per million),
#: worth it for pt's ~360 k-slot codes, not for a table a few kB smaller on a 1 MB stream.
ESCAPE_MIN_GAIN = 0.01
#: Least share of the window's table left to its common symbols after every rare one (rarer
#: than 2**-RANS_PROB_BITS) took a unit: below, its rows lose over 0.4 bits each to the table's
#: precision, and correcting the table's sum (`rans_frequencies`) takes thousands of passes.
ESCAPE_MIN_UNITS = 0.75
#: Escaped fractions of the rows, from each end of the sorted codes, among which the window is
#: chosen (every pair of a left and a right fraction is priced).
ESCAPE_FRACTIONS = (0.0, *np.geomspace(1e-6, 0.25, 23))
#: rANS alone when its exact size is within this fraction (plus RANS_SLACK_BYTES) of the order-0
#: entropy and pcodec's structure search gains nothing on the sample: then pcodec, which cannot
#: beat that entropy without structure, could be smaller by at most this much.
RANS_MARGIN = 0.005
RANS_SLACK_BYTES = 64
#: Least values for that shortcut: below, pcodec also codes the array (a fraction of a
#: millisecond) and the smaller stream is kept, so small files are never larger than before.
RANS_ALONE_ROWS = 1 << 17
#: Most values a pcodec stream can hold per byte of itself, as jetzip writes them (pages of at
#: most 2**18 values, each ~15 bytes or more: ~24 k values per byte measured at best, for a
#: constant array); a stream declaring more is refused before anything is allocated for it.
PCODEC_MAX_VALUES_PER_BYTE = 1 << 16
#: Lossless methods a file may name (`encode_lossless` never nests runs).
LOSSLESS_METHODS = ("pcodec", "zstd-shuffle", "runs+pcodec", "runs+zstd-shuffle")


def selection_rows(n: int, rows: int = SELECTION_ROWS) -> np.ndarray | None:
    """`rows` rows on which encodings are compared, or None to compare on the whole array."""
    if n <= 2 * rows:
        return None
    block = rows // SELECTION_BLOCKS
    starts = np.linspace(0, n - block, SELECTION_BLOCKS).astype(np.int64)
    return (starts[:, None] + np.arange(block)).ravel()


def empirical_entropy_bits(symbols: np.ndarray) -> float:
    """Total order-0 entropy (bits) of a symbol array: the floor for a memoryless coder.

    Computed as n log2 n - sum(c log2 c) over the symbol counts c, which needs no per-symbol
    probabilities. Dense int32/int64 codes (quantised codes) are counted in one C pass, the
    rANS coder's histogram; other small alphabets in blocks, so that bincount's int64
    copy of the symbols stays in cache instead of being a new array the size of the column."""
    if symbols.size == 0:
        return 0.0
    histogram = _int_histogram(symbols, 4 * symbols.size + 1023)
    if histogram is not None:
        return histogram.entropy_bits
    low, high = int(symbols.min()), int(symbols.max())
    width = high - low + 1
    if width <= COUNT_BLOCK_ROWS:  # small alphabet: count block by block, in cache
        counts = np.zeros(width, dtype=np.int64)
        for start in range(0, symbols.size, COUNT_BLOCK_ROWS):
            counts += np.bincount(symbols[start : start + COUNT_BLOCK_ROWS] - low, minlength=width)
    elif width < 4 * symbols.size + 1024:  # dense alphabet: counting beats sorting
        counts = np.bincount(symbols - low)
    else:
        _, counts = np.unique(symbols, return_counts=True)
    return _entropy_of_counts(counts)


def _entropy_of_counts(counts: np.ndarray) -> float:
    return _order0(counts[counts > 0])[0]


def _order0(present: np.ndarray) -> tuple[float, np.ndarray]:
    """Order-0 entropy (bits) of the positive counts `present` and c log2 c of each count."""
    clogc = present * np.log2(present)
    n = present.sum()
    return float(n * np.log2(n) - clogc.sum()), clogc


class _Histogram(NamedTuple):
    """An int array's histogram, counted once for the rANS coder, the escape window and the
    order-0 statistics: the counts (int64) of every slot from the least code `low` to the
    greatest, the non-empty slots, their counts, the entropy (bits) and c log2 c of each count."""

    low: int
    counts: np.ndarray
    slots: np.ndarray
    present: np.ndarray
    entropy_bits: float
    clogc: np.ndarray


def _int_histogram(codes: np.ndarray, max_width: int) -> _Histogram | None:
    """The histogram of a non-empty int32/int64 array (one C pass), or None for other dtypes
    and for alphabets over `max_width` slots (capped at HISTOGRAM_MAX_WIDTH; sparser ones are
    sorted instead). Codes wider than the rANS alphabet (a ratio predictor's, where the other
    column is near zero) are counted here too: numpy's bincount took ~7 ms per million of
    them, with an int64 copy. The counts are the C coder's bytes, read as int64 in place (a
    count is at most the array's size) and read-only."""
    if codes.dtype not in (np.int32, np.int64) or not codes.flags.c_contiguous:
        return None
    low, _, raw = _rans.histogram(codes, min(HISTOGRAM_MAX_WIDTH, max_width))
    if raw is None:
        return None
    counts = np.frombuffer(raw, dtype=np.int64)
    slots = np.flatnonzero(counts > 0)  # a third of flatnonzero(counts)'s time on int64
    present = counts[slots]
    return _Histogram(low, counts, slots, present, *_order0(present))


def encode_codes(codes: np.ndarray) -> tuple[bytes, float]:
    """`encode_ints`' stream and the array's order-0 entropy in bits (`empirical_entropy_bits`),
    taken from the histogram the rANS coder counts anyway where it ran: a quantised column's
    statistics used to count its codes a second time."""
    stream, entropy_bits = _encode_ints(codes)
    return stream, empirical_entropy_bits(codes) if entropy_bits is None else entropy_bits


def encode_ints(codes: np.ndarray) -> bytes:
    """Code an int32 or int64 array (others as int64) with rANS (plain, or with escapes where
    the alphabet is too wide for one table: `_rans_or_escape`) or pcodec, whichever is smaller
    (deterministic, single-threaded); the stream keeps the dtype.

    Arrays of up to 2 * SEARCH_TRIAL_ROWS values (run lengths, exception rows, small files) are
    pcodec's alone, as before: a rANS table rarely pays there, and tiny arrays are many. On longer
    ones pcodec's default configuration searches for delta and mode structure, which quantised
    codes of independent jets lack; when a sample shows the search gains nothing, pcodec could
    only be an order-0 coder, so on arrays of RANS_ALONE_ROWS values or more a rANS stream within
    RANS_MARGIN of the order-0 entropy is kept without running pcodec on the whole array.
    Otherwise both code it (pcodec without the search when the sample says it gains nothing) and
    the smaller stream is kept."""
    return _encode_ints(codes)[0]


def _encode_ints(codes: np.ndarray, escapes: bool = True) -> tuple[bytes, float | None]:
    """`encode_ints`' stream and, where the rANS coder counted it, the order-0 entropy (bits);
    with `escapes` False, never an escape stream (the escaped values' own stream)."""
    codes = np.asarray(codes)
    dtype = codes.dtype if codes.dtype in (np.int32, np.int64) else np.int64
    codes = np.ascontiguousarray(codes, dtype=dtype)
    config = ChunkConfig()
    structure_may_help = True
    rows = selection_rows(codes.size, SEARCH_TRIAL_ROWS)
    if rows is None:
        return standalone.simple_compress(codes, config), None
    sample = codes[rows]
    plain = standalone.simple_compress(sample, _PLAIN_INTS)
    if len(plain) <= len(standalone.simple_compress(sample, config)):
        config = _PLAIN_INTS
        structure_may_help = False
    histogram = _int_histogram(codes, max(RANS_MAX_WIDTH, 4 * codes.size + 1023))
    if histogram is None:
        return standalone.simple_compress(codes, config), None
    entropy_bits = histogram.entropy_bits
    stream = _rans_or_escape(codes, histogram, escapes)
    if stream is None:
        return standalone.simple_compress(codes, config), entropy_bits
    near_entropy = len(stream) <= entropy_bits / 8 * (1 + RANS_MARGIN) + RANS_SLACK_BYTES
    if near_entropy and not structure_may_help and codes.size >= RANS_ALONE_ROWS:
        return stream, entropy_bits
    pco = standalone.simple_compress(codes, config)
    return (stream if len(stream) <= len(pco) else pco), entropy_bits


def _rans_or_escape(codes: np.ndarray, histogram: _Histogram, escapes: bool) -> bytes | None:
    """The rANS stream of `codes`, whose histogram is `histogram`: plain where that fits and no
    window is estimated ESCAPE_MIN_GAIN smaller; an escape stream where a window is (both are
    coded when both fit, and the smaller kept); None when neither fits."""
    low, counts = histogram.low, histogram.counts
    plain = _rans_stream(codes, low, low, counts) if counts.size <= RANS_MAX_WIDTH else None
    window = _escape_window(histogram, plain is not None) if escapes else None
    if window is None or low + window[0] + window[1] > np.iinfo(codes.dtype).max:
        return plain  # (the escape symbol's code, one past the window, must be a code too)
    first, width = window
    escaped = _escape_encode(codes, low + first, counts[first : first + width])
    return escaped if plain is None or len(escaped) < len(plain) else plain


def decode_ints(data: bytes, n: int) -> np.ndarray:
    """Inverse of `encode_ints` (int32 or int64, as stored), checking the element count."""
    return _decode_ints(data, n, escapes=True)


def _decode_ints(data: bytes, n: int, escapes: bool) -> np.ndarray:
    """`decode_ints`; with `escapes` False (an escape stream's escaped values) an escape stream
    is refused, so a hostile stream cannot nest them."""
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if data[:1] == RANS_TAG:
        return _rans_decode(data, n)[0]
    if data[:1] == ESCAPE_TAG:
        if not escapes:
            raise CorruptFileError("an escape stream's escaped values are another escape stream")
        return _escape_decode(data, n)
    try:
        return _pcodec_decode(data, np.dtype(np.int32), n)
    except _WrongPcodecType:
        return _pcodec_decode(data, np.dtype(np.int64), n)


def rans_frequencies(counts: np.ndarray, prob_bits: int = RANS_PROB_BITS) -> np.ndarray | None:
    """Counts (int64, per slot) quantised to uint32 frequencies summing to 2**prob_bits, every
    present symbol at least 1, or None when more symbols are present than 2**prob_bits.

    Integer arithmetic only (the same table on every CPU): each count is scaled with rounding,
    then the sum is corrected one unit per symbol at a time, taking from the symbols that lose
    the least (smallest count per unit of frequency) or giving to those that gain the most."""
    total = 1 << prob_bits
    present = counts > 0
    if int(present.sum()) > total:
        return None
    n = int(counts.sum())
    freq = (counts * total + n // 2) // n
    freq[present & (freq == 0)] = 1
    excess = int(freq.sum()) - total
    while excess:
        # count per unit of frequency, in fixed point (counts stay below 2**42 here)
        per_unit = (counts << 20) // np.maximum(freq, 1)
        if excess > 0:
            candidates = np.flatnonzero(freq > 1)
            keys = per_unit[candidates]
        else:
            candidates = np.flatnonzero(present)
            keys = -per_unit[candidates]
        chosen = candidates[_least(keys, min(abs(excess), candidates.size))]
        freq[chosen] -= 1 if excess > 0 else -1
        excess -= chosen.size if excess > 0 else -chosen.size
    return freq.astype(np.uint32)


def _least(keys: np.ndarray, k: int) -> np.ndarray:
    """Positions of the `k` least keys, a tie going to the earlier position: the set of a
    stable argsort's first `k`, found by one partition instead of sorting every key (a stable
    sort of ~3,500 slots was 0.12 ms of a table's 0.18)."""
    if k >= keys.size:
        return np.arange(keys.size)
    if k <= 0:
        return np.zeros(0, dtype=np.intp)
    kth = np.partition(keys, k - 1)[k - 1]
    below = np.flatnonzero(keys < kth)
    return np.concatenate([below, np.flatnonzero(keys == kth)[: k - below.size]])


def _varints(values: np.ndarray) -> bytes:
    """LEB128 bytes of unsigned values below 2**21 (at most three bytes each). A table's values
    are mostly under 2**7: every value writes its low byte, and only the longer ones the rest
    (a third of the time of building three bytes for every value and dropping the unused)."""
    values = np.asarray(values, dtype=np.uint32)
    two = np.flatnonzero(values >= 1 << 7)
    three = two[values[two] >= 1 << 14]
    length = np.ones(values.size, dtype=np.intp)
    length[two] = 2
    length[three] = 3
    starts = np.cumsum(length) - length
    out = np.empty(values.size + two.size + three.size, dtype=np.uint8)
    out[starts] = values & 0x7F
    out[starts[two]] |= 0x80
    out[starts[two] + 1] = (values[two] >> 7) & 0x7F
    out[starts[three] + 1] |= 0x80
    out[starts[three] + 2] = values[three] >> 14
    return out.tobytes()


def _unvarints(data: bytes, offset: int, count: int, what: str) -> tuple[np.ndarray, int]:
    """`count` values of at most three LEB128 bytes each from data[offset:]; the values (uint32)
    and the offset after them."""
    raw = np.frombuffer(
        data, dtype=np.uint8, count=min(3 * count, len(data) - offset), offset=offset
    )
    ends = np.flatnonzero(raw < 0x80)[:count]
    if ends.size < count:
        raise CorruptFileError(f"{what} ends inside its table")
    starts = np.concatenate([[0], ends[:-1] + 1])
    if (ends - starts >= 3).any():
        raise CorruptFileError(f"{what} has a table entry over three bytes")
    values = raw[starts].astype(np.uint32) & 0x7F  # the longer entries' other bytes apart
    two = np.flatnonzero(ends > starts)
    values[two] |= (raw[starts[two] + 1].astype(np.uint32) & 0x7F) << 7
    three = two[ends[two] > starts[two] + 1]
    values[three] |= raw[starts[three] + 2].astype(np.uint32) << 14
    return values, offset + int(ends[-1]) + 1


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        out.append((value & 0x7F) | (0x80 if value > 0x7F else 0))
        value >>= 7
        if not value:
            return bytes(out)


def _read_varint(data: bytes, offset: int, what: str) -> tuple[int, int]:
    value = 0
    for k in range(10):
        if offset + k >= len(data):
            raise CorruptFileError(f"{what} ends inside its header")
        value |= (data[offset + k] & 0x7F) << (7 * k)
        if data[offset + k] < 0x80:
            return value, offset + k + 1
    raise CorruptFileError(f"{what} has a header number over ten bytes")


_RANS_HEAD = struct.Struct("<cBB")  # tag, bytes per value (4 or 8), flags | probability bits
#: Flag of the probability-bits byte: the table's varints are zstd-compressed.
_RANS_ZSTD_TABLE = 0x80
#: zstd level of a rANS table (a few kB of varints: ~0.05 ms, within 1 % of level 19's size).
_RANS_TABLE_LEVEL = 6


def _rans_encode(codes: np.ndarray) -> tuple[bytes, float] | None:
    """The plain rANS stream of a non-empty int32/int64 array and its order-0 entropy (bits), or
    None when its alphabet is too wide (see `_rans_stream`)."""
    histogram = _int_histogram(codes, RANS_MAX_WIDTH)
    if histogram is None:
        return None
    stream = _rans_stream(codes, histogram.low, histogram.low, histogram.counts)
    return None if stream is None else (stream, histogram.entropy_bits)


def _rans_stream(
    symbols: np.ndarray, symbols_low: int, low: int, counts: np.ndarray, prefix: bytes = b""
) -> bytes | None:
    """A rANS stream of `symbols`, whose counts from `symbols_low` are `counts`, that decodes to
    symbol - symbols_low + low (the escape stream's window codes symbols from 0), after
    `prefix` (an escape stream's header: the coder's body is copied once); None when more
    symbols are present than the table has slots. Layout: RANS_TAG, bytes per value,
    flags | probability bits, then LEB128 varints: rows, zigzag(low), alphabet width, the
    table's byte count; the table (every slot's frequency as a varint, zstd-compressed when that
    is smaller); then the coder's body (_rans.c)."""
    freq = rans_frequencies(counts)
    if freq is None:
        return None
    table, flags = _varints(freq), RANS_PROB_BITS
    if len(table) > RANS_SLACK_BYTES:
        packed = _compressor(_RANS_TABLE_LEVEL).compress(table)
        if len(packed) < len(table):
            table, flags = packed, flags | _RANS_ZSTD_TABLE
    zigzag = ((low << 1) ^ (low >> 63)) & (2**64 - 1)
    head = _RANS_HEAD.pack(RANS_TAG, symbols.itemsize, flags) + b"".join(
        _varint(v) for v in (symbols.size, zigzag, counts.size, len(table))
    )
    return prefix + head + table + _rans.encode(symbols, symbols_low, freq, RANS_PROB_BITS)


def _escape_window(histogram: _Histogram, plain_fits: bool) -> tuple[int, int] | None:
    """The window (first slot from the histogram's low, width) whose escape stream is estimated
    smallest (`_priced_window`), or None when no window fits the rANS table or, where the plain
    stream fits, none is estimated ESCAPE_MIN_GAIN smaller than it; not priced where the plain
    stream fits and `_no_window_wins` (three of the four ATLAS columns)."""
    if plain_fits and _no_window_wins(histogram):
        return None
    return _priced_window(histogram, plain_fits)


def _no_window_wins(histogram: _Histogram) -> bool:
    """Whether `_priced_window` can only answer None for a histogram whose plain stream fits.

    Every window's estimate is at least the order-0 entropy of all the rows plus a slot and
    RANS_SLACK_BYTES (its escaped values, at log2 of their side's span plus the side's bit,
    cost at least their share of that entropy; the precision term is never negative), and the
    plain stream's is that entropy plus its table and its precision term: when those two cost
    less than ESCAPE_MIN_GAIN of the entropy plus the slack, no window is ESCAPE_MIN_GAIN
    smaller (the slot left over covers the estimates' rounding)."""
    present = histogram.present
    n = int(present.sum())
    rare = int(np.count_nonzero(present << RANS_PROB_BITS < n))
    units = 1 - (rare + 1) / (1 << RANS_PROB_BITS)
    precision = -n * np.log2(units) / 8 if units >= ESCAPE_MIN_UNITS else 0.0
    least_window = ESCAPE_MIN_GAIN * histogram.entropy_bits / 8 + RANS_SLACK_BYTES
    return bool((present.size + precision) * (1 - ESCAPE_MIN_GAIN) <= least_window)


def _priced_window(histogram: _Histogram, plain_fits: bool) -> tuple[int, int] | None:
    """`_escape_window`, every window priced.

    The windows priced are those escaping an ESCAPE_FRACTIONS share of the rows at either end.
    Estimate: the window's symbols and the escape symbol at their order-0 entropy; what the
    table's precision costs them (every slot rarer than 2**-RANS_PROB_BITS takes one unit of
    2**RANS_PROB_BITS from the others); the table at ~1 byte per present slot (zstd makes
    empty ones nearly free); and each escaped value at log2 of the span of the escaped values
    on its side, plus a bit for the side and a pcodec header: an overestimate where the tails
    cluster, which only keeps windows wider. The plain stream is the window of every slot."""
    slots, present = histogram.slots, histogram.present
    n = int(present.sum())
    cum = np.concatenate([[0], np.cumsum(present)])
    cum_clogc = np.concatenate([[0.0], np.cumsum(histogram.clogc)])
    cum_rare = np.concatenate([[0], np.cumsum(present << RANS_PROB_BITS < n)])
    fractions = np.asarray(ESCAPE_FRACTIONS) * n
    first = np.unique(np.searchsorted(cum, fractions, side="right") - 1)[:, None]
    end = np.unique(np.searchsorted(cum, n - fractions, side="left"))[None, :]
    kept_slots = end - first
    last = slots.size - 1
    width = slots[np.clip(end - 1, 0, last)] - slots[np.minimum(first, last)] + 1
    kept = cum[end] - cum[first]
    escaped = n - kept
    left, right = cum[first], n - cum[end]
    span_left = slots[np.clip(first - 1, 0, last)] - slots[0] + 1
    span_right = slots[-1] - slots[np.minimum(end, last)] + 1
    units_left = 1 - (cum_rare[end] - cum_rare[first] + 1) / (1 << RANS_PROB_BITS)
    fits = (kept_slots > 0) & (units_left >= ESCAPE_MIN_UNITS)
    with np.errstate(divide="ignore", invalid="ignore"):
        bits = (
            kept * (np.log2(n) - np.log2(np.where(fits, units_left, 1)))
            - (cum_clogc[end] - cum_clogc[first])
            + escaped * np.log2(n / np.maximum(escaped, 1))
            + left * np.log2(span_left)
            + right * np.log2(span_right)
            + escaped
        )
    size = bits / 8 + kept_slots + np.where(escaped > 0, RANS_SLACK_BYTES, 0)
    plain = size[0, -1] if plain_fits else np.inf
    size = np.where(fits & (escaped > 0) & (width < RANS_MAX_WIDTH), size, np.inf)
    best = np.unravel_index(np.argmin(size), size.shape)
    if not size[best] < plain * (1 - ESCAPE_MIN_GAIN):
        return None
    return int(slots[first[best[0], 0]]), int(width[best])


def _escape_encode(codes: np.ndarray, low: int, window: np.ndarray) -> bytes:
    """The escape stream of `codes` with the window [low, low + window.size), whose counts are
    `window`: a rANS stream of the window's codes and one escape symbol (code low + width),
    and the escaped rows' values coded apart (`encode_ints`, never escaped again; their rows
    are those of the escape symbol). Layout: ESCAPE_TAG, then LEB128 varints: rows, escaped
    rows, the escaped values' byte count; the escaped values' stream; the rANS stream."""
    width = window.size
    unsigned = np.dtype(codes.dtype.str.replace("i", "u"))
    offsets = codes.view(unsigned) - unsigned.type(low % (1 << 8 * codes.itemsize))
    rows = np.flatnonzero(offsets >= width)  # below the window wraps to the top: escaped too
    offsets[rows] = width
    counts = np.append(window, codes.size - int(window.sum()))
    escaped = _encode_ints(codes[rows], escapes=False)[0] if rows.size else b""
    head = ESCAPE_TAG + b"".join(_varint(v) for v in (codes.size, rows.size, len(escaped)))
    stream = _rans_stream(offsets.view(codes.dtype), 0, low, counts, head + escaped)
    if stream is None:
        raise ValueError(f"a window of {width:,} codes has more symbols than the rANS table")
    return stream


def _escape_decode(data: bytes, n: int) -> np.ndarray:
    """Inverse of `_escape_encode` for a chunk that declares `n` rows; the escaped values are
    decoded only after the rANS stream has shown exactly that many escape symbols."""
    what = "an escape stream"
    rows, offset = _read_varint(data, len(ESCAPE_TAG), what)
    n_escaped, offset = _read_varint(data, offset, what)
    size, offset = _read_varint(data, offset, what)
    if rows != n:
        raise CorruptFileError(f"{what} holds {rows:,} values, expected {n:,}")
    if n_escaped > n or (size == 0) != (n_escaped == 0):
        raise CorruptFileError(f"{what} declares {n_escaped:,} escaped values in {size:,} bytes")
    if size > len(data) - offset:
        raise CorruptFileError(f"{what} ends inside its escaped values")
    inner = data[offset + size :]
    if inner[:1] != RANS_TAG:
        raise CorruptFileError(f"{what} does not hold a rANS stream")
    values, low, width = _rans_decode(inner, n)
    escape = low + width - 1
    where = np.flatnonzero(values == escape)
    if where.size != n_escaped:
        raise CorruptFileError(f"{what} marks {where.size:,} rows, declares {n_escaped:,}")
    if n_escaped:
        escaped = _decode_ints(data[offset : offset + size], n_escaped, escapes=False)
        if escaped.dtype != values.dtype or ((escaped >= low) & (escaped < escape)).any():
            raise CorruptFileError(
                f"{what} has escaped values inside its window or of another type"
            )
        values[where] = escaped
    return values


def _rans_decode(data: bytes, n: int) -> tuple[np.ndarray, int, int]:
    """Inverse of `_rans_stream` for a chunk that declares `n` rows: the values, the alphabet's
    first code and its width. The header is checked against `n` and the bytes before anything
    the size of the rows is allocated."""
    what = "a rANS stream"
    if len(data) < _RANS_HEAD.size:
        raise CorruptFileError(f"{what} ends inside its header")
    _, itemsize, flags = _RANS_HEAD.unpack_from(data)
    prob_bits = flags & ~_RANS_ZSTD_TABLE
    if itemsize not in (4, 8) or not 1 <= prob_bits <= RANS_PROB_BITS:
        raise CorruptFileError(f"{what} declares {itemsize}-byte values, {prob_bits}-bit tables")
    rows, offset = _read_varint(data, _RANS_HEAD.size, what)
    zigzag, offset = _read_varint(data, offset, what)
    width, offset = _read_varint(data, offset, what)
    table_size, offset = _read_varint(data, offset, what)
    if rows != n:
        raise CorruptFileError(f"{what} holds {rows:,} values, expected {n:,}")
    if not 1 <= width <= RANS_MAX_WIDTH:
        raise CorruptFileError(f"{what} declares an alphabet of {width:,} codes")
    low = (zigzag >> 1) ^ -(zigzag & 1)
    dtype = np.dtype(np.int32 if itemsize == 4 else np.int64)
    info = np.iinfo(dtype)
    if low < info.min or low + width - 1 > info.max:
        raise CorruptFileError(f"{what} declares codes outside {dtype}")
    if table_size > len(data) - offset:
        raise CorruptFileError(f"{what} ends inside its table")
    table = data[offset : offset + table_size]
    if flags & _RANS_ZSTD_TABLE:
        table = _zstd_bounded(table, 3 * width, f"{what}'s table")
    freq, used = _unvarints(table, 0, width, what)
    if used != len(table):
        raise CorruptFileError(f"{what} has {len(table) - used:,} bytes after its table")
    body = memoryview(data)[offset + table_size :]
    # every row costs more than 2**-prob_bits bits unless one symbol takes the whole table
    if int(freq.max()) < 1 << prob_bits and n > 8 * len(body) << prob_bits:
        raise CorruptFileError(f"{what} of {len(body):,} bytes cannot hold {n:,} values")
    values = np.empty(n, dtype=dtype)
    try:
        _rans.decode(body, low, freq, prob_bits, values)
    except ValueError as exc:
        raise CorruptFileError(f"{what} is damaged: {exc}") from None
    return values, low, width


class _WrongPcodecType(CorruptFileError):
    """The pcodec stream holds numbers of another type than the one asked for."""

    def __init__(self, dtype: np.dtype) -> None:
        super().__init__(f"a pcodec stream does not hold {dtype} values")


def _pcodec_decode(data: bytes, dtype: np.dtype, n: int) -> np.ndarray:
    """`n` values of `dtype` from a pcodec stream, decoded into an array of exactly that size:
    a stream cannot make the decoder allocate more than the values the chunk declares, and a
    chunk cannot declare more values than the stream's bytes can hold."""
    if n > len(data) * PCODEC_MAX_VALUES_PER_BYTE:
        raise CorruptFileError(f"a pcodec stream of {len(data)} bytes cannot hold {n:,} values")
    values = np.empty(n, dtype=dtype)
    try:
        progress = standalone.simple_decompress_into(data, values)
    except Exception as exc:  # pcodec raises RuntimeError/ValueError on bad bytes
        if "does not match chunk's number type" in str(exc):
            raise _WrongPcodecType(dtype) from None
        raise CorruptFileError(f"cannot decode a pcodec stream: {exc}") from None
    if progress.n_processed != n or not progress.finished:
        raise CorruptFileError(f"a pcodec stream does not hold {n:,} values of {dtype}")
    return values


def zstd_exact(data: bytes, size: int, what: str) -> bytes:
    """Decompress a zstd frame that must hold exactly `size` bytes; the size a frame declares
    is checked before anything is allocated for it."""
    try:
        declared = zstandard.frame_content_size(data)
        if declared not in (-1, size):
            raise CorruptFileError(f"{what} declares {declared:,} bytes, expected {size:,}")
        raw = zstandard.ZstdDecompressor().decompress(data, max_output_size=size)
    except zstandard.ZstdError as exc:
        raise CorruptFileError(f"cannot decode {what}: {exc}") from None
    if len(raw) != size:
        raise CorruptFileError(f"{what} holds {len(raw):,} bytes, expected {size:,}")
    return raw


def _zstd_bounded(data: bytes, limit: int, what: str) -> bytes:
    """Decompress a zstd frame of at most `limit` bytes (whatever size it declares)."""
    try:
        declared = zstandard.frame_content_size(data)
        if declared > limit:
            raise CorruptFileError(f"{what} declares {declared:,} bytes, at most {limit:,}")
        return zstandard.ZstdDecompressor().decompress(data, max_output_size=limit)
    except zstandard.ZstdError as exc:
        raise CorruptFileError(f"cannot decode {what}: {exc}") from None


_COMPRESSORS = threading.local()


def _compressor(level: int) -> zstandard.ZstdCompressor:
    """This thread's compressor of `level`: making one per call cost ~40 % of compressing the
    ~1,000 tiny arrays of a NanoAOD chunk (same bytes; a compressor is not shared between
    threads)."""
    cache = _COMPRESSORS.__dict__.setdefault("by_level", {})
    if level not in cache:
        cache[level] = zstandard.ZstdCompressor(level=level)
    return cache[level]


def _shuffle_zstd(values: np.ndarray) -> bytes:
    """Byte-shuffle (all first bytes, then all second bytes, ...) then zstd: helps floats."""
    planes = values.view(np.uint8).reshape(values.size, values.itemsize).T
    level = _ZSTD_LEVEL_SMALL if values.nbytes <= _SMALL_BYTES else _ZSTD_LEVEL
    return _compressor(level).compress(np.ascontiguousarray(planes))


def _unshuffle_zstd(data: bytes, dtype: np.dtype, n: int) -> np.ndarray:
    raw = zstd_exact(data, n * dtype.itemsize, "a zstd stream")
    planes = np.frombuffer(raw, dtype=np.uint8).reshape(dtype.itemsize, n)
    return np.ascontiguousarray(planes.T).view(dtype).reshape(n)


def _run_starts(values: np.ndarray) -> np.ndarray:
    """Rows where the bit pattern changes from the previous row (row 0 always starts a run)."""
    bits = values.view(f"u{values.itemsize}")
    return np.flatnonzero(np.concatenate([[True], bits[1:] != bits[:-1]]))


def encode_lossless(values: np.ndarray) -> tuple[str, bytes]:
    """Exact coding of any numeric 1-D array; returns (method, bytes), the smallest candidate.

    Candidates: pcodec, byte-shuffled zstd and, when values repeat in runs (event-level
    quantities copied onto every object of the event), the run values and run lengths. Long
    arrays are coded once, with the candidate that wins on `selection_rows`."""
    values = np.ascontiguousarray(values)
    if values.dtype == np.bool_:
        values = values.view(np.uint8)
    rows = selection_rows(values.size)
    if rows is not None:
        method, _ = encode_lossless(values[rows])
        return method, _encode_as(method, values)
    candidates = [("zstd-shuffle", _shuffle_zstd(values))]
    if values.dtype.name in _PCODEC_DTYPES and values.size:
        candidates.append(("pcodec", _encode_as("pcodec", values)))
    starts = _run_starts(values) if values.size else np.zeros(0, dtype=np.intp)
    if 0 < starts.size <= values.size // 2:
        inner, _ = encode_lossless(values[starts])
        candidates.append((f"runs+{inner}", _encode_runs(values, starts, inner)))
    return min(candidates, key=lambda c: len(c[1]))


def _encode_as(method: str, values: np.ndarray) -> bytes:
    """`values` coded with one `encode_lossless` method."""
    if method == "pcodec":
        return standalone.simple_compress(values, ChunkConfig())
    if method == "zstd-shuffle":
        return _shuffle_zstd(values)
    return _encode_runs(values, _run_starts(values), method.removeprefix("runs+"))


def _encode_runs(values: np.ndarray, starts: np.ndarray, inner: str) -> bytes:
    lengths = encode_ints(np.diff(np.append(starts, values.size)))
    return _RUNS.pack(starts.size, len(lengths)) + lengths + _encode_as(inner, values[starts])


_RUNS = struct.Struct("<QI")


def decode_lossless(method: str, data: bytes, dtype: str, n: int) -> np.ndarray:
    """Inverse of `encode_lossless` for an array of `n` values of `dtype`; `method` must be one
    of LOSSLESS_METHODS (callers check `dtype`). Allocates no more than the output."""
    target = np.dtype(dtype)
    storage = np.dtype(np.uint8) if target == np.bool_ else target
    if method not in LOSSLESS_METHODS:
        raise CorruptFileError(f"unknown lossless method {method!r}")
    if method == "pcodec":
        if storage.name not in _PCODEC_DTYPES:
            raise CorruptFileError(f"pcodec stream claims to hold {dtype} values")
        values = _pcodec_decode(data, storage, n) if n else np.zeros(0, dtype=storage)
    elif method == "zstd-shuffle":
        values = _unshuffle_zstd(data, storage, n)
    else:
        if len(data) < _RUNS.size:
            raise CorruptFileError("run-length stream is damaged")
        n_runs, lengths_size = _RUNS.unpack_from(data)
        if n_runs > n or (n and not n_runs):
            raise CorruptFileError("run-length stream is damaged")
        body = data[_RUNS.size :]
        lengths = decode_ints(body[:lengths_size], n_runs)
        # each length checked before summing, so the sum cannot wrap around
        if (lengths < 1).any() or (lengths > n).any() or lengths.sum() != n:
            raise CorruptFileError("run-length stream is damaged")
        run_values = decode_lossless(method[5:], body[lengths_size:], storage.name, n_runs)
        values = np.repeat(run_values, lengths)
    return values.view(np.bool_) if target == np.bool_ else values
