"""The coder: integer codes and their per-row tables (see `distributions`) to bytes and back,
with constriction's range coder.

Rows are grouped by table (a stable counting sort, with the tables), each group is coded in one
call with that table's categorical model, then the low bits of every row that has some, in one
call with per-row uniform models. Escaped rows' offsets go to a separate integer array
(`encode_ints`). The decoder knows every row's table before it decodes (they come from columns
decoded earlier), so it rebuilds the same groups. The passes around constriction are compiled
(`_condkernel.split` and `place`). Probabilities are quantised by constriction to 24 bits (the
range coder's default precision): a symbol costs at least 2**-24 of the range, at most 24 bits.
"""

from __future__ import annotations

import struct

import constriction
import numpy as np

from jetzip.codec.entropy import decode_ints, encode_ints
from jetzip.entropy import _condkernel
from jetzip.entropy.distributions import ESCAPE, N_TABLES, RowTables
from jetzip.errors import CorruptFileError
from jetzip.fileutil import signals_held

_HEADER = struct.Struct("<QQ")  # escapes, bytes of the escape array


def _bind_numpy_api() -> None:
    """constriction (Rust, pyo3) looks numpy's C API up on its first array argument by running
    Python code, where a stop signal would become a Rust panic instead of `Interrupted`: that
    first call is made on import, with the signals held (as in `jetzip.codec.entropy`)."""
    with signals_held():
        constriction.stream.model.Categorical(np.full(2, 0.5), perfect=False)


_bind_numpy_api()


class Tables:
    """The categorical models of one shape's N_TABLES tables, built once and reused."""

    def __init__(self, probabilities: np.ndarray) -> None:
        if probabilities.shape != (N_TABLES, ESCAPE + 1):
            raise ValueError("one probability row per coding table")
        self.probabilities = probabilities
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
    sorted_symbols, lows, sizes = (np.empty(n, dtype=np.int32) for _ in range(3))
    offsets = np.empty(n, dtype=np.int64)
    args = (codes.astype(np.int64, copy=False), rows.order, rows.centre, rows.low_bits)
    n_low, n_escaped = _condkernel.split(*args, sorted_symbols, lows, sizes, offsets)
    encoder = constriction.stream.queue.RangeEncoder()
    present, starts = rows.present, rows.starts
    for k, table in enumerate(present):
        encoder.encode(sorted_symbols[starts[k] : starts[k + 1]], tables.model(int(table)))
    if n_low:
        encoder.encode(lows[:n_low], constriction.stream.model.Uniform(), sizes[:n_low])
    escapes = encode_ints(offsets[:n_escaped]) if n_escaped else b""
    words = encoder.get_compressed().tobytes()
    return _HEADER.pack(n_escaped, len(escapes)) + escapes + words


def decode_codes(data: bytes, rows: RowTables, tables: Tables) -> np.ndarray:
    """Inverse of `encode_codes`, given the same row tables; int64 codes."""
    if len(data) < _HEADER.size:
        raise CorruptFileError("conditional code stream is truncated")
    n_escaped, escape_bytes = _HEADER.unpack_from(data)
    n = rows.table.size
    if n_escaped > n or _HEADER.size + escape_bytes > len(data) or (len(data) - escape_bytes) % 4:
        raise CorruptFileError("conditional code stream is damaged")
    body = data[_HEADER.size :]
    words = np.frombuffer(body[escape_bytes:], dtype=np.uint32)
    try:
        decoder = constriction.stream.queue.RangeDecoder(words)
        order, present, starts = rows.order, rows.present, rows.starts
        sorted_symbols = np.empty(n, dtype=np.int32)
        for k, table in enumerate(present):
            count = int(starts[k + 1] - starts[k])
            sorted_symbols[starts[k] : starts[k + 1]] = decoder.decode(
                tables.model(int(table)), count
            )
        codes, with_low = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
        sizes, escaped = np.empty(n, dtype=np.int32), np.empty(n_escaped, dtype=np.int64)
        args = (sorted_symbols, order, rows.centre, rows.low_bits, codes, with_low, sizes, escaped)
        n_low = _condkernel.place(*args)  # symbols to rows, escapes and low-bit rows found
        if n_low:
            low = decoder.decode(constriction.stream.model.Uniform(), sizes[:n_low])
            codes[with_low[:n_low]] += low
    except (ValueError, RuntimeError, AssertionError) as exc:
        raise CorruptFileError(f"cannot decode a conditional code stream: {exc}") from None
    if n_escaped:
        codes[escaped] += decode_ints(body[:escape_bytes], int(n_escaped)).astype(np.int64)
    return codes
