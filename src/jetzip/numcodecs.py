"""jetzip's bounded quantisation as a numcodecs codec, for Zarr v2, HDF5 filters and anything
else that takes numcodecs codecs.

    >>> import numcodecs
    >>> codec = numcodecs.get_codec({"id": "jetzip", "tolerance": 0.001, "relative": True})

One array of any shape (float16, float32 or float64) is flattened in C order and coded as one
bounded column of a `.jz` chunk: the same quantiser (`codec.quantize`), the same coding of
codes, signs and exact exceptions (`codec.chunk`), so every value meets the tolerance, and
zeros (under a relative tolerance), NaN and inf come back exactly. The bytes describe
themselves, so decoding needs no configuration:

    MAGIC (4) + version (u8) + header length (u32) + header (JSON: shape, dtype, tolerance,
    the column's description, parts [[name, n_bytes], ...]) + parts + xxh64 of all before (u64)

Anything that does not check out (magic, version, checksum, header, streams) raises
CorruptFileError. The Zarr v3 codec (`jetzip.zarr`) wraps this one.
"""

from __future__ import annotations

import json
import math
import struct
from typing import Any

import numpy as np
import xxhash
from numcodecs.abc import Codec
from numcodecs.compat import ensure_contiguous_ndarray, ensure_ndarray, ndarray_copy

from jetzip.codec.chunk import ColumnPlan, decode_quantised, encode_quantised
from jetzip.codec.quantize import quantise
from jetzip.codec.tolerance import Tolerance
from jetzip.errors import CorruptFileError, OptionError
from jetzip.validate import (
    check_column,
    load_json,
    require_dict,
    require_int,
    require_list,
    require_str,
    terminal_safe,
)

CODEC_ID = "jetzip"
MAGIC = b"JZNC"
#: 2: a chunk's codes may be a rANS stream (codec/entropy.py) instead of pcodec's; 3: or an
#: escape stream (rANS over a window, far codes apart), which a version-2 reader cannot decode.
#: Older versions still read.
VERSION = 3
FLOAT_DTYPES = ("float16", "float32", "float64")
_PRELUDE = struct.Struct("<4sBI")
_CHECKSUM = struct.Struct("<Q")
#: Name of the one column of an encoded array (part names are `values:codes`, ...).
_COLUMN = "values"
#: Configuration keys `from_config` accepts (besides "id").
_CONFIG_KEYS = frozenset({"tolerance", "relative"})


def parse_tolerance(tolerance: float | str, relative: bool | None = None) -> Tolerance:
    """A Tolerance from `0.001` (absolute unless `relative`) or from text as on the command line
    (`"0.1%"` relative, `"0.001"` absolute); OptionError when it is not one."""
    if isinstance(tolerance, str):
        parsed = Tolerance.parse(tolerance)
        if relative is not None and relative != parsed.relative:
            raise OptionError(
                f"tolerance {tolerance!r} is {'relative' if parsed.relative else 'absolute'} "
                f"but relative={relative!r} was given"
            )
        return parsed
    if isinstance(tolerance, bool) or not isinstance(tolerance, int | float):
        raise OptionError(
            f"tolerance must be a number or text like '0.1%', got {type(tolerance).__name__}"
        )
    if relative is not None and not isinstance(relative, bool):
        raise OptionError(f"relative must be true or false, got {relative!r}")
    return Tolerance(float(tolerance), bool(relative))


def check_float_dtype(dtype: np.dtype) -> np.dtype:
    """The native-byte-order float dtype the codec stores, or OptionError for any other."""
    if dtype.kind != "f" or dtype.name not in FLOAT_DTYPES:
        raise OptionError(
            f"the jetzip codec stores float16, float32 or float64 arrays, not {dtype}"
        )
    return dtype.newbyteorder("=")


def encode_array(array: np.ndarray, tolerance: Tolerance) -> bytes:
    """Self-describing bytes of `array` (any shape) with every value within `tolerance`."""
    dtype = check_float_dtype(array.dtype)
    flat = np.ascontiguousarray(array, dtype=dtype).reshape(-1)
    description, parts = encode_quantised(_COLUMN, quantise(flat, tolerance))
    header = {
        "shape": list(array.shape),
        "dtype": dtype.name,
        "tolerance": tolerance.to_json(),
        "column": description,
        "parts": [[name, len(data)] for name, data in parts],
    }
    meta = json.dumps(header, separators=(",", ":"), allow_nan=False).encode()
    body = b"".join([_PRELUDE.pack(MAGIC, VERSION, len(meta)), meta, *(d for _, d in parts)])
    return body + _CHECKSUM.pack(xxhash.xxh64_intdigest(body))


def decode_array(data: bytes | memoryview) -> np.ndarray:
    """Inverse of `encode_array`: the array in its shape and (native) dtype.

    Raises CorruptFileError when the bytes are not jetzip codec bytes or are damaged."""
    data = bytes(data)
    if len(data) < _PRELUDE.size + _CHECKSUM.size:
        raise CorruptFileError("jetzip codec data is truncated")
    magic, version, meta_len = _PRELUDE.unpack_from(data)
    if magic != MAGIC:
        raise CorruptFileError("not jetzip codec data (wrong magic bytes)")
    if not 1 <= version <= VERSION:
        raise CorruptFileError(
            f"jetzip codec data of version {version}, this jetzip reads 1 to {VERSION}"
        )
    body = data[: -_CHECKSUM.size]
    (stored,) = _CHECKSUM.unpack_from(data, len(body))
    if stored != xxhash.xxh64_intdigest(body):
        raise CorruptFileError("jetzip codec data is damaged (checksum mismatch)")
    header, parts = _split(body, meta_len)
    shape = tuple(
        require_int(s, "a dimension of the jetzip codec array")
        for s in require_list(header.get("shape"), "the jetzip codec array's shape")
    )
    # the array's dtype and tolerance are checked as a `.jz` header's bounded column is
    entry = {k: header.get(k) for k in ("dtype", "tolerance")}
    check_column(dict(entry, name=_COLUMN, kind="bounded"))
    plan = ColumnPlan(_COLUMN, entry["dtype"], "bounded", Tolerance.from_json(entry["tolerance"]))
    description = require_dict(header.get("column"), "the jetzip codec column's description")
    values = decode_quantised(plan, description, parts, math.prod(shape), None)
    return values.reshape(shape)


def _split(body: bytes, meta_len: int) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The JSON header (parsed and depth-checked as a `.jz` section is) and the named parts
    that follow it (their lengths must add up)."""
    start = _PRELUDE.size
    header = load_json(body[start : start + meta_len], "the jetzip codec header")
    position = start + meta_len
    parts: dict[str, bytes] = {}
    for entry in require_list(header.get("parts"), "the jetzip codec part list"):
        name, length = require_list(entry, "a jetzip codec part entry", length=2)
        name = require_str(name, "a jetzip codec part name")
        length = require_int(length, f"the length of part {terminal_safe(name)!r}", 0, len(body))
        parts[name] = body[position : position + length]
        position += length
    if position != len(body):
        raise CorruptFileError("jetzip codec data is damaged (parts do not add up)")
    return header, parts


class JetzipCodec(Codec):
    """numcodecs codec: jetzip's error-bounded quantisation + entropy coding of one float array.

    Args:
        tolerance: a number (absolute, or relative with `relative=True`: 0.001 is 0.1 %) or text
            as on the command line ("0.1%" relative, "0.001" absolute).
        relative: whether a numeric tolerance is relative (|x' - x| <= t |x|).
    """

    codec_id = CODEC_ID

    def __init__(self, tolerance: float | str, relative: bool | None = None) -> None:
        self._tolerance = parse_tolerance(tolerance, relative)

    @property
    def tolerance(self) -> Tolerance:
        return self._tolerance

    def encode(self, buf: Any) -> bytes:
        """The array's bytes; any shape, float16/32/64 (others: OptionError)."""
        return encode_array(ensure_ndarray(buf), self._tolerance)

    def decode(self, buf: Any, out: Any = None) -> np.ndarray:
        """The array (shape and dtype as encoded), copied into `out` when given."""
        values = decode_array(ensure_contiguous_ndarray(buf).view(np.uint8).data)
        return ndarray_copy(values, out) if out is not None else values

    def get_config(self) -> dict[str, Any]:
        """{"id": "jetzip", "tolerance": t, "relative": bool}: the exact float, JSON-able."""
        return {
            "id": CODEC_ID,
            "tolerance": self._tolerance.value,
            "relative": self._tolerance.relative,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> JetzipCodec:
        """The codec of a configuration; unknown or missing keys are one OptionError."""
        config = {k: v for k, v in config.items() if k != "id"}
        unknown = sorted(set(config) - _CONFIG_KEYS)
        if unknown:
            raise OptionError(
                f"unknown jetzip codec option(s) {', '.join(unknown)}; "
                f"expected {', '.join(sorted(_CONFIG_KEYS))}"
            )
        if "tolerance" not in config:
            raise OptionError("the jetzip codec needs a tolerance, e.g. {'tolerance': '0.1%'}")
        return cls(config["tolerance"], config.get("relative"))

    def __repr__(self) -> str:
        tolerance = self._tolerance
        return f"JetzipCodec(tolerance={tolerance.value!r}, relative={tolerance.relative!r})"
