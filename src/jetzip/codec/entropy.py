"""Entropy coding of quantised integers and lossless coding of raw columns.

Quantised codes go through pcodec, whose binned tANS coder lands within about 1 % of the
order-0 empirical entropy on the distributions a quantiser produces (the gap is measured and
reported per column). Raw columns (lossless mode, integer columns, exceptions, latents) are
coded with whichever of pcodec and byte-shuffled zstd is smaller, chosen per array.
"""

from __future__ import annotations

import struct
import threading

import numpy as np
import zstandard
from pcodec import ChunkConfig, DeltaSpec, ModeSpec, standalone

from jetzip.errors import CorruptFileError

#: dtypes pcodec codes natively; others (8-bit ints, bools) use the zstd path only.
_PCODEC_DTYPES = {"float16", "float32", "float64", "int16", "int32", "int64"} | {
    "uint16",
    "uint32",
    "uint64",
}
_PLAIN_INTS = ChunkConfig(delta_spec=DeltaSpec.no_op(), mode_spec=ModeSpec.classic())
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
    probabilities. Small alphabets (quantised codes) are counted in blocks, so that bincount's
    int64 copy of the symbols stays in cache instead of being a new array the size of the
    column."""
    if symbols.size == 0:
        return 0.0
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
    counts = counts[counts > 0]
    n = symbols.size
    return float(n * np.log2(n) - (counts * np.log2(counts)).sum())


def encode_ints(codes: np.ndarray) -> bytes:
    """Code an int32 or int64 array (others as int64) with pcodec (deterministic,
    single-threaded); the stream keeps the dtype.

    pcodec's default configuration searches for delta and mode structure, which quantised codes
    of independent jets lack; when a sample shows the search gains nothing, the whole array is
    coded without it (a quarter faster, same bytes)."""
    codes = np.asarray(codes)
    dtype = codes.dtype if codes.dtype in (np.int32, np.int64) else np.int64
    codes = np.ascontiguousarray(codes, dtype=dtype)
    config = ChunkConfig()
    rows = selection_rows(codes.size, SEARCH_TRIAL_ROWS)
    if rows is not None:
        sample = codes[rows]
        plain = standalone.simple_compress(sample, _PLAIN_INTS)
        if len(plain) <= len(standalone.simple_compress(sample, config)):
            config = _PLAIN_INTS
    return standalone.simple_compress(codes, config)


def decode_ints(data: bytes, n: int) -> np.ndarray:
    """Inverse of `encode_ints` (int32 or int64, as stored), checking the element count."""
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    try:
        return _pcodec_decode(data, np.dtype(np.int32), n)
    except _WrongPcodecType:
        return _pcodec_decode(data, np.dtype(np.int64), n)


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
