"""Quantisation with guaranteed error bounds, entropy coding, and the three compression modes.

Public API: `parse_tolerances`, `Tolerance`, `compress_table` (in-memory table),
`compress_tables` (any iterable of table chunks), `compress_file` (streams a data file),
`decompress_file` (whole table), `iter_decompress` (chunk by chunk), `decompress_to`
(straight into a table file).
"""

from jetzip.codec.pipeline import (
    DEFAULT_CHUNK_ROWS,
    ENGINES,
    MODES,
    compress_file,
    compress_table,
    compress_tables,
    decompress_file,
    decompress_to,
    iter_decompress,
)
from jetzip.codec.tolerance import Tolerance, parse_tolerances

__all__ = [
    "DEFAULT_CHUNK_ROWS",
    "ENGINES",
    "MODES",
    "Tolerance",
    "compress_file",
    "compress_table",
    "compress_tables",
    "decompress_file",
    "decompress_to",
    "iter_decompress",
    "parse_tolerances",
]
