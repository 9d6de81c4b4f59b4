"""The rANS coder of quantised codes (jetzip.codec._rans, codec/entropy.py): exact round trips,
its choice against pcodec, an integer-only frequency table, escape streams for codes too wide for
one table, one CorruptFileError line for every kind of damaged stream, and files of formats 4
(pcodec streams only) and 5 (no escape streams) still read."""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

import numpy as np
import pytest
from pcodec import ChunkConfig, standalone

from jetzip import container
from jetzip.codec import _rans, compress_table, decompress_file, parse_tolerances
from jetzip.codec.entropy import (
    _PLAIN_INTS,
    ESCAPE_TAG,
    HISTOGRAM_MAX_WIDTH,
    RANS_ALONE_ROWS,
    RANS_MAX_WIDTH,
    RANS_PROB_BITS,
    RANS_TAG,
    _encode_ints,
    _entropy_of_counts,
    _escape_encode,
    _int_histogram,
    _least,
    _no_window_wins,
    _priced_window,
    _rans_encode,
    _read_varint,
    _unvarints,
    _varint,
    _varints,
    decode_ints,
    empirical_entropy_bits,
    encode_codes,
    encode_ints,
    rans_frequencies,
)
from jetzip.container import describe_file
from jetzip.errors import CorruptFileError
from jetzip.table import Table


def _laplace(n: int, scale: float = 10.0, seed: int = 0, dtype: type = np.int32) -> np.ndarray:
    """Codes shaped like a quantised column: a sharp peak and long tails."""
    return np.random.default_rng(seed).laplace(0, scale, n).round().astype(dtype)


def _round_trip(codes: np.ndarray) -> bytes:
    data = encode_ints(codes)
    back = decode_ints(data, codes.size)
    assert back.dtype == codes.dtype
    assert np.array_equal(back, codes)
    return data


@pytest.mark.parametrize("n", [1, 2, 3, 7, 8, 9, 255, 256, 257, 1000, 9000, 100_003])
def test_round_trip_every_length(n: int) -> None:
    """Lengths around the four lanes and the decoder's unchecked 256-row blocks."""
    codes = _laplace(n, seed=n)
    data = _round_trip(codes)
    if n >= 100_000:  # long enough for its table to pay: the rANS stream is the one kept
        assert data[:1] == RANS_TAG
    if n <= 8192:  # small arrays: pcodec only, the same bytes as before the rANS coder
        assert data[:4] == b"pco!"
    stream, _ = _rans_encode(codes)
    assert np.array_equal(decode_ints(stream, n), codes)


@pytest.mark.parametrize(
    "codes",
    [
        np.random.default_rng(1).integers(-5000, 5000, 50_000),  # uniform, wide
        np.random.default_rng(2).geometric(0.9, 50_000).astype(np.int64),  # very skewed
        np.full(50_000, -7, dtype=np.int32),  # one symbol: a body of states only
        np.full(5, 2**31 - 1, dtype=np.int32),
        np.array([-(2**31), -(2**31) + 1] * 20_000, dtype=np.int32),
        np.array([2**63 - 1, 2**63 - 2] * 20_000, dtype=np.int64),
        np.array([-(2**63), 2**63 - 1, 0] * 10, dtype=np.int64),  # too wide for rANS: pcodec
        np.tile(np.arange(0, RANS_MAX_WIDTH, 3, dtype=np.int32), 2),  # the widest alphabet
        np.arange(2 * RANS_MAX_WIDTH, dtype=np.int64),  # wider: pcodec
        np.arange(40_000, dtype=np.int32),  # more symbols than 2**15 slots: pcodec
    ],
    ids=[
        "uniform",
        "skewed",
        "single",
        "int32-max",
        "int32-min",
        "int64-max",
        "int64-span",
        "widest",
        "too-wide",
        "too-many",
    ],
)
def test_round_trip_shapes(codes: np.ndarray) -> None:
    _round_trip(codes)
    rans = _rans_encode(codes)
    too_many = np.unique(codes).size > 1 << RANS_PROB_BITS
    assert (rans is None) == (int(codes.max()) - int(codes.min()) >= RANS_MAX_WIDTH or too_many)
    if rans is not None:
        assert np.array_equal(decode_ints(rans[0], codes.size), codes)


def test_empty_and_other_dtypes() -> None:
    assert decode_ints(encode_ints(np.zeros(0, dtype=np.int32)), 0).size == 0
    codes = np.arange(-50, 50, dtype=np.int16).repeat(100)
    back = decode_ints(encode_ints(codes), codes.size)
    assert back.dtype == np.int64 and np.array_equal(back, codes)


def test_smaller_than_pcodec_on_quantised_codes() -> None:
    """On a quantised column's codes the rANS stream is kept alone, and is smaller than pcodec's
    plain coding and within 0.3 % of the order-0 entropy (a chunk's million rows)."""
    codes = _laplace(1_000_000, scale=30)
    data = encode_ints(codes)
    assert data[:1] == RANS_TAG
    assert len(data) < len(standalone.simple_compress(codes, _PLAIN_INTS))
    assert len(data) <= empirical_entropy_bits(codes) / 8 * 1.003


@pytest.mark.parametrize("scale", [0.3, 3.0, 30.0])
def test_never_larger_than_pcodec_below_the_shortcut(scale: float) -> None:
    """Under RANS_ALONE_ROWS values both coders run and the smaller stream is kept."""
    codes = _laplace(RANS_ALONE_ROWS - 1, scale=scale, seed=5)
    data = _round_trip(codes)
    assert len(data) <= len(standalone.simple_compress(codes, _PLAIN_INTS))


def test_pcodec_kept_where_structure_wins() -> None:
    """Sorted codes: pcodec's delta coding beats any order-0 coder, so its stream is kept."""
    codes = np.sort(_laplace(100_000, scale=1000))
    data = _round_trip(codes)
    assert data[:4] == b"pco!"
    assert len(data) == len(standalone.simple_compress(codes, ChunkConfig()))


def test_same_bytes_as_recorded() -> None:
    """The coder is integer-only: these bytes are the same on every CPU and compiler."""
    data = encode_ints(_laplace(200_000, seed=19))
    assert data[:1] == RANS_TAG
    assert hashlib.sha256(data).hexdigest()[:16] == "bd296c65b5eec60f"


@pytest.mark.parametrize("prob_bits", [8, 12, RANS_PROB_BITS])
def test_frequencies_sum_and_keep_every_symbol(prob_bits: int) -> None:
    counts = np.zeros(3000, dtype=np.int64)
    counts[::3] = 1  # 1000 rare symbols, each forced up to frequency 1
    counts[1500] = 10**9
    freq = rans_frequencies(counts, prob_bits)
    if prob_bits == 8:  # more symbols present than slots
        assert freq is None
        return
    assert freq.dtype == np.uint32 and int(freq.sum()) == 1 << prob_bits
    assert ((freq > 0) == (counts > 0)).all()
    assert freq[1500] == (1 << prob_bits) - 999


def test_frequencies_round_up_when_short() -> None:
    """Scaled counts that all round down: the missing units go to the symbols that gain most."""
    counts = np.array([3, 3, 3], dtype=np.int64)
    freq = rans_frequencies(counts, 4)
    assert int(freq.sum()) == 16 and sorted(freq.tolist()) == [5, 5, 6]


def test_least_keys_are_a_stable_sorts_first() -> None:
    """The frequency table's correction takes the k least keys, ties to the earlier slot: the
    same set as a stable argsort's first k, on keys with many ties, for every k."""
    rng = np.random.default_rng(14)
    for size in (1, 2, 17, 500):
        keys = rng.integers(-4, 4, size) * (1 << 40)
        for k in range(size + 2):
            least = _least(keys, k)
            expected = np.argsort(keys, kind="stable")[:k]
            assert sorted(least.tolist()) == sorted(expected.tolist())


def test_table_varints_are_leb128() -> None:
    """The table's vectorised varints are the scalar LEB128 bytes, at every length boundary."""
    rng = np.random.default_rng(13)
    edges = [0, 1, 127, 128, 129, 16_383, 16_384, 2**21 - 1]
    values = np.concatenate([edges, rng.integers(0, 2**21, 3000) >> rng.integers(0, 21, 3000)])
    for part in (values[:0], values[:1], values[:8], values):
        data = _varints(part)
        assert data == b"".join(_varint(int(v)) for v in part)
        if part.size:
            back, end = _unvarints(data, 0, part.size, "a table")
            assert end == len(data) and np.array_equal(back, part)


def test_entropy_from_the_c_histogram() -> None:
    codes = _laplace(100_000)
    counts = np.bincount(codes - codes.min())
    counts = counts[counts > 0]
    expected = codes.size * np.log2(codes.size) - (counts * np.log2(counts)).sum()
    assert empirical_entropy_bits(codes) == pytest.approx(expected, rel=1e-12)
    assert empirical_entropy_bits(codes.astype(np.int64)) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    "codes",
    [
        _laplace(300_000),  # rANS alone
        _laplace(20_000).astype(np.int64),  # rANS against pcodec
        np.arange(3_000, dtype=np.int32),  # pcodec alone (small)
        np.arange(200_000, dtype=np.int64) * 7,  # wider than the rANS alphabet: pcodec
    ],
    ids=["rans", "both", "small", "wide"],
)
def test_coding_and_statistics_share_one_count(codes: np.ndarray) -> None:
    """`encode_codes` gives `encode_ints`' stream and exactly `empirical_entropy_bits`, whichever
    coder ran (the statistics are no longer counted on their own)."""
    stream, bits = encode_codes(codes)
    assert stream == encode_ints(codes)
    assert bits == empirical_entropy_bits(codes)
    assert np.array_equal(decode_ints(stream, codes.size), codes)


def test_histogram_extremes() -> None:
    codes = np.array([-(2**63), 2**63 - 1], dtype=np.int64)
    assert _rans.histogram(codes, RANS_MAX_WIDTH) == (-(2**63), 2**63 - 1, None)
    low, high, counts = _rans.histogram(np.array([2**31 - 1, 2**31 - 3], dtype=np.int32), 3)
    assert (low, high) == (2**31 - 3, 2**31 - 1)
    assert np.frombuffer(counts, dtype=np.uint64).tolist() == [1, 0, 1]


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_statistics_of_codes_wider_than_the_rans_alphabet(dtype: type) -> None:
    """Ratio-predicted codes can span far more slots than rANS takes: the C histogram counts
    them (up to HISTOGRAM_MAX_WIDTH) to exactly the entropy numpy's bincount gives."""
    codes = _laplace(200_000, scale=3.0, dtype=dtype)
    codes[::97] += 300_000  # a far second mode: ~300 k slots
    low, high, counts = _rans.histogram(codes, HISTOGRAM_MAX_WIDTH)
    dense = np.bincount(codes - low)
    assert (low, high) == (codes.min(), codes.max())
    assert np.array_equal(np.frombuffer(counts, dtype=np.uint64), dense)
    assert empirical_entropy_bits(codes) == _entropy_of_counts(dense)
    assert _rans.histogram(codes, RANS_MAX_WIDTH)[2] is None
    with pytest.raises(ValueError, match="max_width"):
        _rans.histogram(codes, HISTOGRAM_MAX_WIDTH + 1)


def test_encoder_refuses_a_code_outside_its_table() -> None:
    freq = np.array([1 << RANS_PROB_BITS], dtype=np.uint32)
    with pytest.raises(ValueError, match="outside the frequency table"):
        _rans.encode(np.array([0, 1], dtype=np.int32), 0, freq, RANS_PROB_BITS)
    with pytest.raises(ValueError, match="sum to"):
        _rans.encode(np.array([0], dtype=np.int32), 0, freq - 1, RANS_PROB_BITS)


# ------------------------------------------------------------------ damaged streams
def _stream(n: int = 5000) -> tuple[bytes, np.ndarray]:
    """A rANS stream (kept by `encode_ints` or not: at 5 k rows pcodec's may be smaller)."""
    codes = _laplace(n, seed=3)
    data, _ = _rans_encode(codes)
    assert np.array_equal(decode_ints(data, n), codes)
    return data, codes


def _header_numbers(data: bytes, offset: int, count: int) -> tuple[list[int], int]:
    """`count` varints of a stream's header from `offset`, and where they end."""
    numbers = []
    for _ in range(count):
        value, offset = _read_varint(data, offset, "test stream")
        numbers.append(value)
    return numbers, offset


def _body_offset(data: bytes) -> int:
    """Where the coder's body starts: after the fixed head, four varints and the table."""
    numbers, offset = _header_numbers(data, 3, 4)
    return offset + numbers[3]


def _stream_of(n: int, low: int, freq: list[int], body: bytes, after: bytes = b"") -> bytes:
    """A rANS stream of int32 codes with a plain (varint) table of `freq` (then `after`)."""
    zigzag = ((low << 1) ^ (low >> 63)) & (2**64 - 1)
    table = b"".join(_varint(f) for f in freq) + after
    head = RANS_TAG + bytes([4, RANS_PROB_BITS])
    return head + b"".join(_varint(v) for v in (n, zigzag, len(freq), len(table))) + table + body


def _damaged() -> dict[str, tuple[bytes, int, str]]:
    data, codes = _stream()
    n = codes.size
    body = _body_offset(data)
    whole = [1 << 15]
    start = struct.pack("<16I", *([1 << 15] * 8), *([0] * 8))  # the encoder's first states
    return {
        "other row count": (data, n + 1, "holds 5,000 values, expected 5,001"),
        "truncated header": (data[:2], n, "ends inside its header"),
        "truncated table": (data[:12], n, "ends inside its table"),
        "truncated body": (data[:-2], n, "run past its end"),
        "overlong body": (data + b"\0\0", n, "lanes do not fill its body"),
        "shorter lane": (data[: body + 32] + b"\0" + data[body + 33 :], n, "do not fill its body"),
        "longer lane": (data[: body + 33] + b"\xff" + data[body + 34 :], n, "run past its end"),
        "odd body": (data[: body + 5], n, "not whole states and words"),
        "bad value size": (data[:1] + b"\x03" + data[2:], n, "3-byte values"),
        "bad table bits": (data[:2] + b"\x10" + data[3:], n, "16-bit tables"),
        "empty alphabet": (_stream_of(n, 0, [], start), n, "alphabet of 0 codes"),
        "too wide": (_stream_of(n, 0, [0] * (RANS_MAX_WIDTH + 1), start), n, "alphabet of 65,537"),
        "past int32": (_stream_of(n, 2**31 - 1, [1 << 15, 0], start), n, "outside int32"),
        "bad table sum": (_stream_of(n, 0, [1 << 15, 1], start), n, "does not sum"),
        "long table entry": (
            _stream_of(n, 0, [2**28, 1], start),  # a four-byte varint
            n,
            "three bytes",
        ),
        "bytes after table": (_stream_of(n, 0, whole, start, b"\0"), n, "1 bytes after its table"),
        "state out of range": (
            _stream_of(n, 0, whole, struct.pack("<16I", 1, *([1 << 15] * 7), *([0] * 8))),
            n,
            "a state outside",
        ),
        "lane past its end": (
            _stream_of(n, 0, whole, struct.pack("<16I", *([1 << 15] * 8), 9, *([0] * 7))),
            n,
            "words run past its end",
        ),
        "wrong final state": (
            _stream_of(n, 0, whole, struct.pack("<16I", 1 << 16, *([1 << 15] * 7), *([0] * 8))),
            n,
            "does not end in the encoder's first state",
        ),
        "more rows than bytes": (
            _stream_of(10**9, 0, [1, (1 << 15) - 1], start),
            10**9,
            "cannot hold 1,000,000,000 values",
        ),
        "zstd table too big": (
            _zstd_table_stream(n, start),
            n,
            "declares 6,000 bytes, at most 3",
        ),
    }


def _zstd_table_stream(n: int, body: bytes) -> bytes:
    """A one-slot alphabet whose zstd table declares far more bytes than a slot can take."""
    import zstandard

    table = zstandard.ZstdCompressor().compress(b"\x01" * 6000)
    head = RANS_TAG + bytes([4, RANS_PROB_BITS | 0x80])
    return head + b"".join(_varint(v) for v in (n, 0, 1, len(table))) + table + body


def test_flipped_body_bytes_never_escape() -> None:
    """A flipped byte anywhere in the body decodes to n values or ends in CorruptFileError."""
    data, codes = _stream()
    body = _body_offset(data)
    refused = 0
    for position in range(body, len(data), 7):
        damaged = bytearray(data)
        damaged[position] ^= 0x5A
        try:
            assert decode_ints(bytes(damaged), codes.size).size == codes.size
        except CorruptFileError:
            refused += 1
    assert refused > 0


# ------------------------------------------------------------------ older files
def test_pcodec_streams_still_decode() -> None:
    codes = _laplace(20_000)
    for config in (ChunkConfig(), _PLAIN_INTS):
        assert np.array_equal(decode_ints(standalone.simple_compress(codes, config), 20_000), codes)


def test_format_4_file_still_reads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file as jetzip wrote it before the rANS coder: format 4, pcodec streams only (chunks of
    at most 8,192 rows never get rANS, so today's writer with the version set back to 4 writes
    exactly that layout). It reads, within its bounds, after the version goes back up."""
    rng = np.random.default_rng(19)
    n = 20_000
    pt = rng.lognormal(10, 1, n).astype(np.float32)
    eta = rng.uniform(-3, 3, n)
    whole = rng.integers(0, 9, n)
    path = tmp_path / "format4.jz"
    with monkeypatch.context() as old_writer:
        old_writer.setattr(container, "FORMAT_VERSION", 4)
        table = Table({"pt": pt, "eta": eta, "n": whole})
        compress_table(table, path, tolerances="pt=0.1%,eta=0.001", chunk_rows=8192)
    assert container.FORMAT_VERSION == 7
    assert describe_file(path)["format_version"] == 4
    assert b"pco!" in path.read_bytes()
    back = decompress_file(path)
    assert np.all(np.abs(np.asarray(back["pt"]) - pt) <= 1e-3 * np.abs(pt))
    assert np.all(np.abs(np.asarray(back["eta"]) - eta) <= 1e-3)
    assert np.array_equal(np.asarray(back["n"]), whole)


def test_numcodecs_payloads_of_version_1_still_read() -> None:
    """The Zarr codec's payloads name their version (3 since escape streams; 2 may hold rANS
    codes); a version-1 payload (pcodec codes: a small array) still decodes, and a large
    array's codes are rANS."""
    import xxhash

    from jetzip import numcodecs

    values = np.random.default_rng(4).lognormal(0, 1, 300_000).astype(np.float32)
    large = numcodecs.encode_array(values, numcodecs.parse_tolerance("0.1%"))
    assert large[4] == numcodecs.VERSION == 3 and RANS_TAG + b"\x04" in large
    restored = numcodecs.decode_array(large)
    assert np.all(np.abs(restored - values) <= 1e-3 * values)
    small = numcodecs.encode_array(values[:500], numcodecs.parse_tolerance("0.1%"))
    body = small[:4] + b"\x01" + small[5:-8]
    old = body + struct.pack("<Q", xxhash.xxh64_intdigest(body))
    assert np.array_equal(numcodecs.decode_array(old), numcodecs.decode_array(small))


def test_format_5_file_still_reads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file as jetzip wrote it before escape streams: format 5, rANS and pcodec streams (codes
    of columns without a ratio predictor fit one rANS table, so today's writer with the version
    set back to 5 writes that layout). It reads, within its bounds."""
    rng = np.random.default_rng(5)
    n = 200_000
    pt = rng.lognormal(10, 1, n).astype(np.float32)
    eta = rng.uniform(-3, 3, n)
    path = tmp_path / "format5.jz"
    with monkeypatch.context() as old_writer:
        old_writer.setattr(container, "FORMAT_VERSION", 5)
        compress_table(Table({"pt": pt, "eta": eta}), path, tolerances="pt=0.1%,eta=0.001")
    assert describe_file(path)["format_version"] == 5
    assert RANS_TAG + b"\x04" in path.read_bytes()
    back = decompress_file(path)
    assert np.all(np.abs(np.asarray(back["pt"]) - pt) <= 1e-3 * np.abs(pt))
    assert np.all(np.abs(np.asarray(back["eta"]) - eta) <= 1e-3)


# ------------------------------------------------------------------ escape streams
def _bimodal(n: int, dtype: type = np.int32, seed: int = 6) -> np.ndarray:
    """Codes shaped like pt's predicted from m: a bulk of ~2,000 slots and 0.1 % of the rows in
    a second mode ~360 k slots away (~360 k slots in all: too wide for one rANS table)."""
    rng = np.random.default_rng(seed)
    bulk = rng.lognormal(6.7, 0.3, n).round()
    far = 359_000 + rng.integers(0, 1_700, n)
    return np.where(rng.random(n) < 1e-3, far, bulk).astype(dtype)


def _heavy_tails(n: int, dtype: type = np.int32) -> np.ndarray:
    """A Cauchy-shaped column: a sharp peak and tails reaching ~2 M slots out."""
    codes = np.random.default_rng(8).standard_cauchy(n) * 5
    return np.clip(codes, -(2**21), 2**21).round().astype(dtype)


def _window(codes: np.ndarray, low: int, width: int) -> np.ndarray:
    """The counts of the codes in [low, low + width), slot by slot (Python's integers: no
    wrap-around at the dtype's ends)."""
    offsets = [code - low for code in codes.tolist() if 0 <= code - low < width]
    return np.bincount(np.array(offsets, dtype=np.int64), minlength=width)


def _before(codes: np.ndarray) -> bytes:
    """The stream format 5 wrote: plain rANS or pcodec, never an escape stream."""
    return _encode_ints(codes, escapes=False)[0]


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
@pytest.mark.parametrize("shape", ["bimodal", "heavy tails"])
def test_escape_stream_round_trip(dtype: type, shape: str) -> None:
    """Codes too wide for one table, in a chunk's million rows, go to an escape stream: exact,
    smaller than the format 5 stream (pcodec, here), and for pt-shaped codes within 0.5 % of the
    order-0 entropy (pcodec was ~1.4 % over it on the ATLAS pt codes)."""
    codes = (_bimodal if shape == "bimodal" else _heavy_tails)(1_000_000, dtype)
    data = _round_trip(codes)
    assert data[:1] == ESCAPE_TAG
    before = _before(codes)
    assert before[:4] == b"pco!" and len(data) < len(before)
    if shape == "bimodal":
        assert len(data) <= empirical_entropy_bits(codes) / 8 * 1.005


@pytest.mark.parametrize(
    ("codes", "low", "width"),
    [
        (_laplace(20_000), -400, 801),  # no escape: the window holds every code
        (_laplace(20_000), 10_000, 5),  # all escape: the window holds none
        (np.array([7], dtype=np.int32), 0, 3),  # one row, escaped
        (np.array([7], dtype=np.int64), 7, 1),  # one row, kept
        (np.array([-(2**63), 2**63 - 1] * 5, dtype=np.int64), -(2**63), 100),  # offsets wrap
        (np.array([2**31 - 2, -(2**31)] * 5, dtype=np.int32), 2**31 - 3, 2),  # escape = max
        (np.array([-(2**31), 2**31 - 2] * 5, dtype=np.int32), -(2**31), 1),
    ],
    ids=[
        "no-escape",
        "all-escape",
        "one-escaped",
        "one-kept",
        "int64-span",
        "int32-top",
        "int32-bottom",
    ],
)
def test_escape_stream_of_any_window(codes: np.ndarray, low: int, width: int) -> None:
    data = _escape_encode(codes, low, _window(codes, low, width))
    back = decode_ints(data, codes.size)
    assert back.dtype == codes.dtype and np.array_equal(back, codes)


def test_narrow_codes_keep_the_plain_stream() -> None:
    """A quantised column's codes whose table is small: no window pays ESCAPE_MIN_GAIN, so the
    plain rANS stream of format 5 is written, byte for byte."""
    codes = _laplace(RANS_ALONE_ROWS, scale=30)
    assert encode_ints(codes) == _before(codes) == _rans_encode(codes)[0]


def test_windows_go_unpriced_only_where_none_wins() -> None:
    """The bound that skips pricing the windows (`_no_window_wins`) never skips one that would
    be chosen: tables from cheap to dear against the entropy, with and without a far mode."""
    rng = np.random.default_rng(12)
    skipped = chosen = 0
    for n in (3_000, 20_000, 200_000):
        for scale in (1, 30, 300, 3_000):
            for far in (0.0, 1e-3, 1e-2):
                codes = rng.laplace(0, scale, n).round().astype(np.int64)
                tail = rng.random(n) < far
                codes[tail] = 20_000 + rng.integers(0, 500, int(tail.sum()))
                histogram = _int_histogram(codes, RANS_MAX_WIDTH)
                if histogram is None:  # too wide for a plain stream: always priced
                    continue
                window = _priced_window(histogram, True)
                if _no_window_wins(histogram):
                    assert window is None, (n, scale, far)
                    skipped += 1
                chosen += window is not None
    assert skipped >= 5 and chosen >= 5


@pytest.mark.parametrize(
    "codes",
    [
        np.random.default_rng(9).laplace(0, 20_000, 300_000).round().astype(np.int32),
        np.random.default_rng(9).integers(0, 200_000, 300_000).astype(np.int32),
        np.random.default_rng(9).laplace(0, 3_000, 300_000).round().astype(np.int64),
        np.where(np.arange(300_000) % 100 == 0, 10**6, _laplace(300_000, 30)).astype(np.int32),
    ],
    ids=["wide-laplace", "wide-uniform", "laplace-3000", "one-percent-far"],
)
def test_never_larger_than_format_5(codes: np.ndarray) -> None:
    data = _round_trip(codes)
    assert len(data) <= len(_before(codes))


def test_atlas_pt_codes_take_an_escape_stream(atlas_4d_path: Path) -> None:
    """The ATLAS jets' pt codes (predicted from m: ~360 k slots) in a chunk of 300 k resampled
    jets: an escape stream, smaller than the format-5 stream of the same codes, and the chunk
    decodes within its bounds."""
    from jetzip.codec.chunk import ColumnPlan, decode_chunk, encode_chunk
    from jetzip.io import read_table

    table = read_table(atlas_4d_path)
    picks = np.random.default_rng(0).integers(0, table.n_rows, 300_000)
    columns = {c: np.asarray(table[c])[picks].astype(np.float32) for c in ("m", "pt", "eta", "phi")}
    tolerances = parse_tolerances("m=0.1%,pt=0.1%,eta=0.001,phi=0.001")
    plans = [ColumnPlan(c, "float32", "bounded", tolerances[c]) for c in columns]
    chunk = encode_chunk(columns, None, plans, None, "float16")
    parts = dict(chunk.parts)
    stream = parts["pt:codes"]
    assert stream[:1] == ESCAPE_TAG
    codes = decode_ints(stream, 300_000)
    assert len(stream) < len(_before(codes))
    back, _ = decode_chunk(chunk.stored_description(), parts, plans, False, None)
    pt = columns["pt"].astype(np.float64)
    assert np.all(np.abs(back["pt"] - pt) <= 1e-3 * np.abs(pt))


def _escape_parts(data: bytes) -> tuple[list[int], bytes, bytes]:
    """An escape stream's three header numbers, its escaped values' stream and its rANS stream."""
    numbers, offset = _header_numbers(data, len(ESCAPE_TAG), 3)
    return numbers, data[offset : offset + numbers[2]], data[offset + numbers[2] :]


def _escape_of(numbers: list[int], escaped: bytes, inner: bytes) -> bytes:
    return ESCAPE_TAG + b"".join(_varint(v) for v in numbers) + escaped + inner


def _damaged_escapes() -> dict[str, tuple[bytes, int, str]]:
    codes = _bimodal(20_000)
    n = codes.size
    low = int(codes.min())
    data = _escape_encode(codes, low, _window(codes, low, 4000))
    (rows, k, size), escaped, inner = _escape_parts(data)
    assert (rows, size) == (n, len(escaped)) and 0 < k < 100
    outside = codes >= low + 4000
    inside = encode_ints(np.full(k, low, dtype=np.int32))  # escaped values in the window
    wide = encode_ints(codes[outside].astype(np.int64))
    return {
        "truncated header": (data[:2], n, "ends inside its header"),
        "other row count": (_escape_of([n + 1, k, size], escaped, inner), n + 1, "holds 20,000"),
        "too many escapes": (_escape_of([n, n + 1, size], escaped, inner), n, "declares 20,001"),
        "escapes in no bytes": (_escape_of([n, k, 0], b"", inner), n, "in 0 bytes"),
        "bytes for no escapes": (_escape_of([n, 0, size], escaped, inner), n, "0 escaped values"),
        "truncated escapes": (data[: len(data) - len(inner) - 1], n, "inside its escaped values"),
        "no rANS stream": (_escape_of([n, k, size], escaped, b"pco!"), n, "not hold a rANS"),
        "truncated rANS": (data[:-2], n, "run past its end"),
        "fewer escapes marked": (_escape_of([n, k + 1, size], escaped, inner), n, "marks"),
        "nested escapes": (_escape_of([n, k, len(data)], data, inner), n, "another escape"),
        "escaped values inside": (
            _escape_of([n, k, len(inside)], inside, inner),
            n,
            "inside its window",
        ),
        "escaped values of int64": (
            _escape_of([n, k, len(wide)], wide, inner),
            n,
            "of another type",
        ),
    }


def _all_damaged() -> dict[str, tuple[bytes, int, str]]:
    """Damaged plain rANS streams and damaged escape streams, by case name."""
    escapes = {f"escape: {case}": damaged for case, damaged in _damaged_escapes().items()}
    return {**_damaged(), **escapes}


@pytest.mark.parametrize("case", list(_all_damaged()))
def test_damaged_stream_is_one_clear_error(case: str) -> None:
    data, n, message = _all_damaged()[case]
    with pytest.raises(CorruptFileError, match=message) as info:
        decode_ints(data, n)
    assert "\n" not in str(info.value)


def test_flipped_or_cut_escape_streams_never_escape() -> None:
    """Any flipped byte or cut end of an escape stream decodes to n values or ends in one
    CorruptFileError: never another exception, never a read past the buffers."""
    codes = _bimodal(20_000)
    low = int(codes.min())
    data = _escape_encode(codes, low, _window(codes, low, 4000))
    refused = 0
    for position in range(0, len(data), 11):
        damaged = bytearray(data)
        damaged[position] ^= 0x5A
        for attempt in (bytes(damaged), data[:position]):
            try:
                assert decode_ints(attempt, codes.size).size == codes.size
            except CorruptFileError:
                refused += 1
    assert refused > len(data) // 11
