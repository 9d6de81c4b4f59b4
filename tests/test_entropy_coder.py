"""The entropy model's coder: jetzip's rANS coder with a table per run of rows
(`_rans.encode_tabled` / `decode_tabled`) against hand-computed code lengths, the integer
quantisation of the model's tables, the packed low bits, streams of the earlier coder
(constriction's range coder) still decoding, and damaged streams refused in one line."""

from __future__ import annotations

import math
import struct

import constriction
import numpy as np
import pytest

from jetzip.codec import _rans
from jetzip.codec.entropy import encode_ints
from jetzip.entropy import _condkernel
from jetzip.entropy.coder import (
    LAYOUT_SHORT,
    LAYOUT_WIDE,
    PROB_BITS,
    Tables,
    decode_codes,
    encode_codes,
    is_range_coded,
    quantise_tables,
)
from jetzip.entropy.distributions import ESCAPE, HALF_WIDTH, MAX_LOW_BITS, N_TABLES, RowTables
from jetzip.errors import CorruptFileError

ONE = 1 << PROB_BITS


def _quantised_by_hand(weights: list[int]) -> list[int]:
    """`quantise_tables` for one row, in Python integers: 1 + floor(w * (ONE - width) / sum),
    one more for the largest remainders, the lower symbol first on ties."""
    width, total = len(weights), sum(weights)
    freq = [1 + w * (ONE - width) // total for w in weights]
    remainders = [w * (ONE - width) % total for w in weights]
    ranked = sorted(range(width), key=lambda s: (-remainders[s], s))
    for s in ranked[: ONE - sum(freq)]:
        freq[s] += 1
    return freq


def _model_tables(seed: int = 0) -> np.ndarray:
    """Probabilities of a trained-like shape: a logistic with heavy tails (all N_TABLES)."""
    from jetzip.entropy.distributions import Shape

    rng = np.random.default_rng(seed)
    return Shape.from_samples(rng.logistic(size=20_000) * rng.choice([1, 4], 20_000)).tables()


def test_quantised_tables_by_hand() -> None:
    # rest 32766 shared 1 : 3 -> 8191.5 and 24574.5; one unit left, a tie: the lower symbol
    assert quantise_tables(np.array([[1.0, 3.0]])).tolist() == [[8193, 24575]]
    # a peaked table: every symbol keeps one unit, the centre takes the rest
    peaked = np.ones((1, ESCAPE + 1))
    peaked[0, HALF_WIDTH] = 2.0**30
    freq = quantise_tables(peaked)[0]
    assert freq[HALF_WIDTH] == ONE - ESCAPE and np.all(np.delete(freq, HALF_WIDTH) == 1)
    with pytest.raises(ValueError, match="positive integers"):
        quantise_tables(np.array([[1.5, 2.0]]))
    with pytest.raises(ValueError, match="positive integers"):
        quantise_tables(np.array([[0.0, 2.0]]))


def test_quantised_model_tables_sum_exactly_and_match_integer_arithmetic() -> None:
    probabilities = _model_tables()
    freq = quantise_tables(probabilities)
    assert freq.dtype == np.uint32 and freq.shape == (N_TABLES, ESCAPE + 1)
    assert np.all(freq.sum(axis=1, dtype=np.int64) == ONE) and freq.min() >= 1
    for row in (0, 5, 100, 223, 224, N_TABLES - 1):  # small and low-bit tables
        weights = [int(w) for w in probabilities[row]]
        assert freq[row].tolist() == _quantised_by_hand(weights)
    # what the precision costs: at most the units reserved for the 129 symbols, per row
    p = probabilities / probabilities.sum(axis=1, keepdims=True)
    cost = (p * np.log2(p / (freq / ONE))).sum(axis=1)
    assert cost.max() <= -math.log2(1 - (ESCAPE + 1) / ONE) + 1e-4


def _lanes_bits(body: bytes) -> float:
    """Bits the body holds beyond its start: its words plus what its final states carry."""
    states = struct.unpack_from("<8I", body)
    words = (len(body) - 64) // 2
    return 16 * words + sum(math.log2(x) - PROB_BITS for x in states)


def _reference_body(symbols: np.ndarray, tables: np.ndarray, starts: np.ndarray,
                    freq: np.ndarray) -> bytes:  # fmt: skip
    """The rANS body in Python integers, as `_rans.c` describes it: row i in lane i % 8, last
    row first; a state at or above 2**16 * f emits its low 16 bits before coding a symbol of
    frequency f, then x <- (x // f) * 2**15 + x % f + start; the final states, each lane's word
    count and its words in the order its decoder reads them."""
    states, lanes = [1 << 15] * 8, [[] for _ in range(8)]
    table_of = np.repeat(tables, np.diff(starts))
    cumulative = np.concatenate([np.zeros((len(freq), 1), np.int64), np.cumsum(freq, axis=1)], 1)
    for i in reversed(range(len(symbols))):
        t, s, k = int(table_of[i]), int(symbols[i]), i % 8
        f, x = int(freq[t, s]), states[k]
        if x >= f << 16:
            lanes[k].append(x & 0xFFFF)
            x >>= 16
        states[k] = (x // f) * ONE + x % f + int(cumulative[t, s])
    words = [w for lane in lanes for w in reversed(lane)]
    counts = [len(lane) for lane in lanes]
    return struct.pack(f"<8I8I{len(words)}H", *states, *counts, *words)


def _runs(tables: list[int], starts: list[int]) -> tuple[np.ndarray, ...]:
    """Rows in their own order, in runs of `tables` from `starts`."""
    return np.arange(starts[-1]), np.array(tables), np.array(starts)


def test_per_run_tables_are_the_hand_computed_arithmetic() -> None:
    """A run of fair bits under a table {2**14, 2**14}: one bit a row (each lane's state, from
    2**15, doubles per row, and a word leaves when it reaches 2**30: every 16 rows); a run
    under a table whose one symbol takes the whole range: no bits, the states unchanged; and
    rare symbols of frequency 1 beside a common one: the same bytes as the reference."""
    width = 4
    freq = np.zeros((3, width), dtype=np.uint32)
    freq[0, :2] = ONE // 2
    freq[1] = [ONE - 3, 1, 1, 1]
    freq[2, 3] = ONE
    rng = np.random.default_rng(0)
    fair = rng.integers(0, 2, 8 * 32).astype(np.int32)
    fair_only = _rans.encode_tabled(fair, *_runs([0], [0, fair.size]), freq, PROB_BITS)
    assert len(fair_only) == 64 + 8 * 2 * 2  # 32 rows per lane: two words each
    states = np.array(struct.unpack_from("<8I", fair_only))
    assert np.all((states >= 2**15) & (states < 2**16))  # and the last row's doubling
    symbols = np.concatenate([fair, np.full(1000, 3, np.int32)])
    body = _rans.encode_tabled(
        symbols, *_runs([0, 2], [0, fair.size, symbols.size]), freq, PROB_BITS
    )
    assert body == fair_only
    rare = rng.integers(0, width, 3001).astype(np.int32)
    rare[rng.random(rare.size) < 0.9] = 0
    symbols = np.concatenate([symbols, rare])
    order, tables, starts = _runs([0, 2, 1], [0, fair.size, fair.size + 1000, symbols.size])
    body = _rans.encode_tabled(symbols, order, tables, starts, freq, PROB_BITS)
    assert body == _reference_body(symbols, tables, starts, freq)
    out = np.empty_like(symbols)
    _rans.decode_tabled(body, order, tables, starts, freq, PROB_BITS, out)
    assert np.array_equal(out, symbols)


@pytest.mark.parametrize("seed", range(3))
def test_per_run_round_trip_across_lanes_and_blocks(seed: int) -> None:
    """Runs of every length (0, within a lane group, across the decoder's 256-row blocks),
    starting anywhere in the lanes, and a table used by two runs."""
    rng = np.random.default_rng(seed)
    freq = quantise_tables(_model_tables(seed))
    lengths = rng.choice([0, 1, 3, 7, 8, 9, 255, 257, 2000], 40)
    tables = rng.integers(0, N_TABLES, lengths.size)
    tables[5] = tables[9]
    starts = np.concatenate([[0], np.cumsum(lengths)])
    symbols = np.empty(starts[-1], dtype=np.int32)
    for k, table in enumerate(tables):  # symbols drawn from each run's own table
        p = freq[table] / ONE
        symbols[starts[k] : starts[k + 1]] = rng.choice(ESCAPE + 1, lengths[k], p=p)
    order = rng.permutation(symbols.size)  # stream row i is row order[i]
    rows = np.empty_like(symbols)
    rows[order] = symbols
    body = _rans.encode_tabled(rows, order, tables, starts, freq, PROB_BITS)
    out = np.zeros_like(symbols)
    _rans.decode_tabled(body, order, tables, starts, freq, PROB_BITS, out)
    assert np.array_equal(out, rows)
    ideal = sum(-np.log2(freq[tables[k], symbols[starts[k] : starts[k + 1]]] / ONE).sum()
                for k in range(tables.size))  # fmt: skip
    # the bits the tables say, plus rANS's rounding with states down to 2**15 (about 0.1 %)
    assert abs(_lanes_bits(body) - ideal) <= 0.005 * ideal + 8
    assert body == _reference_body(symbols, tables, starts, freq)


def test_per_run_arguments_are_checked() -> None:
    freq = np.zeros((2, 3), dtype=np.uint32)
    freq[:, 0] = ONE
    symbols = np.zeros(10, dtype=np.int32)
    order, tables, starts = _runs([0, 1], [0, 4, 10])
    body = _rans.encode_tabled(symbols, order, tables, starts, freq, PROB_BITS)
    out = np.empty(10, dtype=np.int32)
    cases = {
        "order out of range": (order + 1, tables, starts, freq),
        "order of another length": (order[1:], tables, starts, freq),
        "a table outside": (order, np.array([0, 2]), starts, freq),
        "start at row 0": (order, tables, np.array([1, 4, 10]), freq),
        "end at the last row": (order, tables, np.array([0, 4, 9]), freq),
        "ends before it starts": (order, tables, np.array([0, 11, 10]), freq),
        "does not sum": (order, tables, starts, freq * 2),
    }
    for message, (o, t, s, f) in cases.items():
        with pytest.raises(ValueError, match=message):
            _rans.encode_tabled(symbols, o, t, s, f, PROB_BITS)
        with pytest.raises(ValueError, match=message):
            _rans.decode_tabled(body, o, t, s, f, PROB_BITS, out)
    with pytest.raises(ValueError, match="outside its frequency table"):
        _rans.encode_tabled(symbols + 1, order, tables, starts, freq, PROB_BITS)  # frequency 0
    with pytest.raises(TypeError, match="2-D uint32"):
        _rans.encode_tabled(symbols, order, tables, starts, freq[0], PROB_BITS)
    with pytest.raises(TypeError, match="int64"):
        _rans.decode_tabled(body, order, tables.astype(np.int32), starts, freq, PROB_BITS, out)
    with pytest.raises(ValueError, match="1 to 15 bits"):
        _rans.decode_tabled(body, order, tables, starts, freq, 16, out)


# ---------------------------------------------------------------------- through the coder
def _rows(n: int, seed: int, low_bits: int | None = None) -> RowTables:
    """Rows with random tables (low-bit tables with their low-bit counts) and centres, grouped
    as `ColumnModel.row_tables` groups them."""
    rng = np.random.default_rng(seed)
    table = rng.integers(0, N_TABLES, n)
    bits = np.where(table >= 224, (table - 224) // 4 + 1, 0)
    if low_bits is not None:
        table = np.full(n, 224 + 4 * (low_bits - 1))
        bits = np.full(n, low_bits)
    order = np.argsort(table, kind="stable")
    present, counts = np.unique(table, return_counts=True)
    starts = np.concatenate([[0], np.cumsum(counts)])
    centre = rng.integers(-(10**6), 10**6, n)
    return RowTables(centre, table, bits.astype(np.int64), order, present, starts)


def _codes(rows: RowTables, tables: Tables, seed: int) -> np.ndarray:
    """Codes drawn from each row's table, with its low bits uniform, and a few far ones."""
    rng = np.random.default_rng(seed)
    p = tables.frequencies[rows.table].astype(np.float64)
    cumulative = np.cumsum(p, axis=1) / p.sum(axis=1, keepdims=True)
    symbols = (rng.random(rows.table.size)[:, None] > cumulative).sum(axis=1)
    symbols = np.minimum(symbols, ESCAPE - 1)  # no escape symbols here: far codes below
    low = rng.integers(0, 1 << rows.low_bits)
    codes = rows.centre + ((symbols - HALF_WIDTH) << rows.low_bits) + low
    codes[::501] = rows.centre[::501] + rng.choice([10**9, -(10**12), 2**40], codes[::501].size)
    return codes


@pytest.fixture(scope="module")
def tables() -> Tables:
    return Tables(_model_tables(1))


def _parts(data: bytes) -> tuple[int, int, bytes, bytes, bytes]:
    """A stream's layout byte, escape count, escape array, rANS body (its head as written) and
    packed low bits, read by hand as the module's text describes them."""
    (first,) = struct.unpack_from("<Q", data)
    layout, escapes, at = first >> 56, first & (2**56 - 1), 8
    escape_array = b""
    if escapes:
        (length,) = struct.unpack_from("<Q", data, at)
        escape_array, at = data[at + 8 : at + 8 + length], at + 8 + length
    count = "<8H" if layout == LAYOUT_SHORT else "<8I"
    counts = struct.unpack_from(count, data, at + 32)
    end = at + 32 + struct.calcsize(count) + 2 * sum(counts)
    return layout, escapes, escape_array, data[at:end], data[end:]


@pytest.mark.parametrize(("n", "low_bits"), [(0, None), (1, None), (5000, None), (3000, 22)])
def test_codes_round_trip(tables: Tables, n: int, low_bits: int | None) -> None:
    rows = _rows(n, n, low_bits)
    codes = _codes(rows, tables, n)
    data = encode_codes(codes, rows, tables)
    assert not is_range_coded(data)
    assert np.array_equal(decode_codes(data, rows, tables), codes)
    layout, escapes, _, _, lows = _parts(data)
    assert layout == LAYOUT_SHORT and escapes == (n + 500) // 501
    # the low bits are stored as they are: exactly low_bits per row that did not escape
    far = np.zeros(n, dtype=bool)
    far[::501] = True
    assert len(lows) == -(-int(rows.low_bits[~far].sum()) // 8)


def test_lanes_of_over_65535_words_keep_wide_counts(tables: Tables) -> None:
    """Rows of the most peaked table, each with a tail symbol (15 bits): over 2**16 words a
    lane."""
    n = 8 * 75_000
    rows = RowTables(np.zeros(n, np.int64), np.zeros(n, np.int64), np.zeros(n, np.int64),
                     np.arange(n), np.array([0]), np.array([0, n]))  # fmt: skip
    codes = np.full(n, 60)
    data = encode_codes(codes, rows, tables)
    assert _parts(data)[0] == LAYOUT_WIDE
    assert np.array_equal(decode_codes(data, rows, tables), codes)


def _range_coded(codes: np.ndarray, rows: RowTables, tables: Tables) -> bytes:
    """A stream as jetzip wrote it before its own rANS coder: escapes and escape bytes (u64
    each), the escape array, then constriction's range coder's words: each table group's
    symbols with that table's categorical model, then the rows' low bits as uniform symbols."""
    offset = codes - rows.centre
    high = offset >> rows.low_bits
    escaped = (high < -HALF_WIDTH) | (high >= HALF_WIDTH)
    symbols = np.where(escaped, ESCAPE, high + HALF_WIDTH)[rows.order].astype(np.int32)
    encoder = constriction.stream.queue.RangeEncoder()
    for k, table in enumerate(rows.present):
        model = constriction.stream.model.Categorical(tables.probabilities[table], perfect=False)
        encoder.encode(symbols[rows.starts[k] : rows.starts[k + 1]], model)
    with_low = ~escaped & (rows.low_bits > 0)
    if with_low.any():
        lows = (offset - (high << rows.low_bits))[with_low].astype(np.int32)
        sizes = (1 << rows.low_bits[with_low]).astype(np.int32)
        encoder.encode(lows, constriction.stream.model.Uniform(), sizes)
    escapes = encode_ints(offset[escaped]) if escaped.any() else b""
    words = encoder.get_compressed().tobytes()
    return struct.pack("<QQ", int(escaped.sum()), len(escapes)) + escapes + words


@pytest.mark.parametrize("low_bits", [None, 5])
def test_streams_of_the_earlier_coder_still_decode(tables: Tables, low_bits: int | None) -> None:
    rows = _rows(4000, 3, low_bits)
    codes = _codes(rows, tables, 3)
    old = _range_coded(codes, rows, tables)
    assert is_range_coded(old) and old[7] == 0  # an escape count's most significant byte
    assert np.array_equal(decode_codes(old, rows, tables), codes)
    too_many = struct.pack("<Q", rows.table.size + 1) + old[8:]
    with pytest.raises(CorruptFileError) as info:
        decode_codes(too_many, rows, tables)
    assert "\n" not in str(info.value)


def _damaged(data: bytes, rows: RowTables) -> dict[str, bytes]:
    layout, escapes, escape_array, body, lows = _parts(data)

    def stream(first: int = escapes, length: int = len(escape_array), rest: bytes = b"") -> bytes:
        head = struct.pack("<QQ", layout << 56 | first, length)
        return head + escape_array + (rest or body + lows)

    counts = list(struct.unpack_from("<8H", body, 32))
    counts[3] += 1
    longer = body[:32] + struct.pack("<8H", *counts) + body[48:]
    return {
        "truncated head": data[:5],
        "truncated low bits": data[:-1],
        "truncated body": stream(rest=body[:-2]),
        "a byte after the low bits": data + b"\0",
        "nonzero padding": data[:-1] + bytes([data[-1] | 0x80]),
        "other layout": struct.pack("<Q", 0x83 << 56 | escapes) + data[8:],
        "more escapes": stream(escapes + 1),
        "fewer escapes": stream(escapes - 1),
        "more escapes than rows": stream(rows.table.size + 1),
        "escape length beyond the end": stream(length=2**64 - 1),
        "a lane's count one word long": stream(rest=longer + lows),
    }


def test_damaged_streams_are_one_line(tables: Tables) -> None:
    rows = _rows(3001, 5, 3)
    codes = _codes(rows, tables, 5)
    data = encode_codes(codes, rows, tables)
    assert (3 * (3001 - 7)) % 8  # 7 escapes: the low bits end inside their last byte
    for case, damaged in _damaged(data, rows).items():
        with pytest.raises(CorruptFileError) as info:
            decode_codes(damaged, rows, tables)
        assert "\n" not in str(info.value), case
    rows = _rows(3001, 5)
    codes = _codes(rows, tables, 5)
    data = encode_codes(codes, rows, tables)
    other = RowTables(rows.centre, rows.table, rows.low_bits, rows.order,
                      rows.present[::-1].copy(), rows.starts)  # fmt: skip
    try:  # other tables per group: other symbols, or a stream that does not end right
        assert not np.array_equal(decode_codes(data, other, tables), codes)
    except CorruptFileError as exc:
        assert "\n" not in str(exc)


def test_flipped_bytes_decode_or_are_refused(tables: Tables) -> None:
    rows = _rows(2000, 7, 4)  # one table: each decode builds one slot table
    codes = _codes(rows, tables, 7)
    data = encode_codes(codes, rows, tables)
    refused = 0
    for position in range(0, len(data), 3):
        damaged = bytearray(data)
        damaged[position] ^= 0x5A
        try:
            assert decode_codes(bytes(damaged), rows, tables).size == codes.size
        except CorruptFileError as exc:
            assert "\n" not in str(exc)
            refused += 1
    assert refused > 0


def test_split_and_place_refuse_bad_rows() -> None:
    n = 4
    codes, centre = np.arange(n), np.zeros(n, dtype=np.int64)
    symbols, offsets = np.empty(n, dtype=np.int32), np.empty(n, dtype=np.int64)
    one = np.ones(n, dtype=np.int64)
    with pytest.raises(ValueError, match="low-bit count"):
        _condkernel.split(codes, centre, one * (MAX_LOW_BITS + 1), symbols, offsets)
    with pytest.raises(ValueError, match="different lengths"):
        _condkernel.split(codes, centre[1:], one, symbols, offsets)
    # offsets 0..3 with one low bit: symbols 64, 64, 65, 65, low bits 0, 1, 0, 1 (LSB first)
    escapes, lows = _condkernel.split(codes, centre, one, symbols, offsets)
    assert (escapes, lows, symbols.tolist()) == (0, bytes([0b1010]), [64, 64, 65, 65])
    out, escaped = np.empty(n, dtype=np.int64), np.empty(0, dtype=np.int64)
    _condkernel.place(symbols, centre, one, out, escaped, lows)
    assert out.tolist() == codes.tolist()
    with pytest.raises(ValueError, match="low bits end early"):
        _condkernel.place(symbols, centre, one * 3, out, escaped, lows)
    with pytest.raises(ValueError, match="out of range"):
        _condkernel.place(symbols + ESCAPE, centre, one, out, escaped, lows)
