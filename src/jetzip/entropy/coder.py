"""The coder: integer codes and their per-row tables (see `distributions`) to bytes and back,
with jetzip's rANS coder.

Each row's offset from its centre splits into a symbol of its table (the escape symbol beyond
the table) and its low bits (`_condkernel.split`; `place` is the decoder's inverse). The rows
are grouped by table (`RowTables.order`, a stable counting sort), and the symbols are coded in
that order in one rANS stream whose frequency table changes from one group to the next
(`jetzip.codec._rans.encode_tabled`: integer-only, eight interleaved states, the same bytes on
every CPU; it reads and writes the rows through `order`, so no pass permutes them). The low
bits are nearly uniform within so narrow a cell group, and a uniform coder would spend exactly
`low_bits` bits on them: they are stored as they are, packed. Escaped rows' offsets go to a
separate integer array (`encode_ints`). The decoder knows every row's table before it decodes
(they come from columns decoded earlier), so it rebuilds the same groups.

Probability precision: the model's tables (`Shape.tables`: integers summing to about 2**30) are
quantised to PROB_BITS = 15 bits, the rANS coder's most (`quantise_tables`), so a symbol costs
at most 15 bits and the quantisation at most -log2(1 - 129 / 2**15) = 0.0057 bits per row more
than the tables' own probabilities (docs/benchmarks.md, issue 15's coder section, measures it).

Stream layout (fixed costs count: a chunk of 50 k rows has 15 such streams): the escape
count as a little-endian u64 whose most significant byte is the layout byte (below); when
there are escapes, the escape array's length (u64) and the array; the rANS body, its lanes'
word counts as u16 when they all fit (LAYOUT_SHORT) or u32 (LAYOUT_WIDE); the packed low bits.
Streams written before this coder (constriction's range coder, 24-bit probabilities) start with
their escape count as a little-endian u64 too, at most the row count, so their eighth byte is 0
where a layout byte has its top bit set (and an earlier jetzip reads over 2**63 escapes and
refuses the stream as damaged). They are decoded as they were written (`_decode_range_coded`).
"""

from __future__ import annotations

import struct

import constriction
import numpy as np

from jetzip.codec import _rans
from jetzip.codec.entropy import decode_ints, encode_ints
from jetzip.entropy import _condkernel
from jetzip.entropy.distributions import ESCAPE, N_TABLES, RowTables
from jetzip.errors import CorruptFileError
from jetzip.fileutil import bind_numpy_api

#: The layout byte, the most significant of the stream's first u64 (its escape count): the top
#: bit marks this coder's streams, the rest its version and how its body's word counts are kept.
LAYOUT_WIDE = 0x81
LAYOUT_SHORT = 0x82
_LAYOUT_SHIFT = 56
#: Frequencies of a table sum to 2**PROB_BITS.
PROB_BITS = _rans.MAX_PROB_BITS
_U64 = struct.Struct("<Q")
#: The rANS body's head (`_rans.c`): eight lanes' final states, then their word counts (u32).
_LANES = 8
_STATES = 4 * _LANES
_RANGE_HEAD = struct.Struct("<QQ")  # the earlier streams': escapes, bytes of the escape array


bind_numpy_api(lambda: constriction.stream.model.Categorical(np.full(2, 0.5), perfect=False))


def quantise_tables(probabilities: np.ndarray, prob_bits: int = PROB_BITS) -> np.ndarray:
    """Each row of positive integer weights as uint32 frequencies summing to 2**prob_bits,
    every symbol at least 1: 1 plus its share of the rest, rounded down, then one more for the
    largest remainders (ties: the lower symbol). Integer arithmetic only, so the same tables on
    every machine; on the entropy model's tables it costs less than taking the units from the
    symbols that lose least after rounding each (`jetzip.codec.entropy.rans_frequencies`)."""
    weights = probabilities.astype(np.int64)
    width = weights.shape[1]
    total = 1 << prob_bits
    if not np.array_equal(weights, probabilities) or weights.min() < 1:
        raise ValueError("table weights must be positive integers")
    if width > total or int(weights.sum(axis=1).max()) >= 1 << 46:
        raise ValueError(f"tables of at most {total} symbols and weights below 2**46")
    scaled = weights * (total - width)  # below 2**63
    sums = weights.sum(axis=1, keepdims=True)
    freq = 1 + scaled // sums
    left = total - freq.sum(axis=1)  # in [0, width): each rounding lost less than one unit
    order = np.argsort(-(scaled % sums), axis=1, kind="stable")
    bonus = np.zeros_like(freq)
    np.put_along_axis(bonus, order, np.arange(width) < left[:, None], axis=1)
    return (freq + bonus).astype(np.uint32)


class Tables:
    """One shape's N_TABLES coding tables: the model's probabilities, their quantised
    frequencies (`quantise_tables`, once) and, for streams of the earlier coder, constriction's
    categorical models of them (built when first used)."""

    def __init__(self, probabilities: np.ndarray) -> None:
        if probabilities.shape != (N_TABLES, ESCAPE + 1):
            raise ValueError("one probability row per coding table")
        self.probabilities = probabilities
        self.frequencies = quantise_tables(probabilities)
        self._models: dict[int, constriction.stream.model.Categorical] = {}

    def model(self, index: int) -> constriction.stream.model.Categorical:
        found = self._models.get(index)
        if found is None:
            found = constriction.stream.model.Categorical(self.probabilities[index], perfect=False)
            self._models[index] = found
        return found


def encode_codes(codes: np.ndarray, rows: RowTables, tables: Tables) -> bytes:
    """Code the integer `codes` with the tables their rows were given."""
    n = codes.size
    symbols, offsets = np.empty(n, dtype=np.int32), np.empty(n, dtype=np.int64)
    args = (np.ascontiguousarray(codes, dtype=np.int64), rows.centre, rows.low_bits)
    n_escaped, lows = _condkernel.split(*args, symbols, offsets)
    grouped = (rows.order, rows.present, rows.starts, tables.frequencies, PROB_BITS)
    body = _rans.encode_tabled(symbols, *grouped)
    counts = np.frombuffer(body, dtype="<u4", count=_LANES, offset=_STATES)
    layout = LAYOUT_SHORT if int(counts.max()) < 1 << 16 else LAYOUT_WIDE
    parts = [_U64.pack(layout << _LAYOUT_SHIFT | n_escaped)]
    if n_escaped:
        escapes = encode_ints(offsets[:n_escaped])
        parts += [_U64.pack(len(escapes)), escapes]
    if layout == LAYOUT_SHORT:
        body = body[:_STATES] + counts.astype("<u2").tobytes() + body[_STATES + 4 * _LANES :]
    return b"".join([*parts, body, lows])


def is_range_coded(data: bytes) -> bool:
    """Whether `data` is a stream of the earlier coder (constriction's range coder)."""
    return len(data) < _U64.size or data[_U64.size - 1] < 0x80


def decode_codes(data: bytes, rows: RowTables, tables: Tables) -> np.ndarray:
    """Inverse of `encode_codes`, given the same row tables; int64 codes. Streams of the
    earlier coder decode too."""
    if is_range_coded(data):
        return _decode_range_coded(data, rows, tables)
    (first,) = _U64.unpack_from(data)
    layout, n_escaped = first >> _LAYOUT_SHIFT, first & ((1 << _LAYOUT_SHIFT) - 1)
    n = rows.table.size
    if layout not in (LAYOUT_SHORT, LAYOUT_WIDE) or n_escaped > n:
        raise CorruptFileError(f"conditional code stream is damaged: layout {layout:#x}")
    view, at = memoryview(data), _U64.size
    escapes = b""
    if n_escaped:
        if len(data) < at + _U64.size:
            raise CorruptFileError("conditional code stream is truncated")
        (escape_bytes,) = _U64.unpack_from(data, at)
        at += _U64.size
        if escape_bytes > len(data) - at:
            raise CorruptFileError("conditional code stream is damaged: escapes beyond its end")
        escapes, at = bytes(view[at : at + escape_bytes]), at + escape_bytes
    count_type = np.dtype("<u2" if layout == LAYOUT_SHORT else "<u4")
    head = _STATES + _LANES * count_type.itemsize
    if len(data) - at < head:
        raise CorruptFileError("conditional code stream is truncated")
    counts = np.frombuffer(data, dtype=count_type, count=_LANES, offset=at + _STATES)
    words = 2 * int(counts.sum(dtype=np.int64))
    if words > len(data) - at - head:
        raise CorruptFileError("conditional code stream is damaged: words beyond its end")
    body = view[at : at + head + words]
    if layout == LAYOUT_SHORT:  # the body as `_rans` wrote it
        wide = counts.astype("<u4").tobytes()
        body = b"".join([body[:_STATES], wide, body[head:]])
    lows = view[at + head + words :]
    symbols, codes = np.empty(n, dtype=np.int32), np.empty(n, dtype=np.int64)
    escaped = np.empty(n_escaped, dtype=np.int64)
    try:
        grouped = (rows.order, rows.present, rows.starts, tables.frequencies, PROB_BITS)
        _rans.decode_tabled(body, *grouped, symbols)
        _condkernel.place(symbols, rows.centre, rows.low_bits, codes, escaped, lows)
    except ValueError as exc:
        raise CorruptFileError(f"conditional code stream is damaged: {exc}") from None
    if n_escaped:
        codes[escaped] += decode_ints(escapes, int(n_escaped))
    return codes


def _decode_range_coded(data: bytes, rows: RowTables, tables: Tables) -> np.ndarray:
    """A stream of the earlier coder: its header, the escape array, then constriction's range
    coder's words: each table group's symbols with that table's categorical model (24-bit
    probabilities), then the low bits of every row that has some as uniform symbols."""
    if len(data) < _RANGE_HEAD.size:
        raise CorruptFileError("conditional code stream is truncated")
    n_escaped, escape_bytes = _RANGE_HEAD.unpack_from(data)
    n = rows.table.size
    start = _RANGE_HEAD.size
    if n_escaped > n or start + escape_bytes > len(data) or (len(data) - escape_bytes) % 4:
        raise CorruptFileError("conditional code stream is damaged")
    words = np.frombuffer(data, dtype=np.uint32, offset=start + escape_bytes)
    try:
        decoder = constriction.stream.queue.RangeDecoder(words)
        symbols = np.empty(n, dtype=np.int32)
        for k, table in enumerate(rows.present):
            count = int(rows.starts[k + 1] - rows.starts[k])
            group = rows.order[rows.starts[k] : rows.starts[k + 1]]
            symbols[group] = decoder.decode(tables.model(int(table)), count)
        codes, escaped = np.empty(n, dtype=np.int64), np.empty(n_escaped, dtype=np.int64)
        _condkernel.place(symbols, rows.centre, rows.low_bits, codes, escaped, None)
        with_low = rows.low_bits > 0
        with_low[escaped] = False
        low_rows = np.flatnonzero(with_low)
        if low_rows.size:
            sizes = (1 << rows.low_bits[low_rows]).astype(np.int32)
            codes[low_rows] += decoder.decode(constriction.stream.model.Uniform(), sizes)
    except (ValueError, RuntimeError, AssertionError) as exc:
        raise CorruptFileError(f"cannot decode a conditional code stream: {exc}") from None
    if n_escaped:
        escapes = data[start : start + escape_bytes]
        codes[escaped] += decode_ints(escapes, int(n_escaped)).astype(np.int64)
    return codes
