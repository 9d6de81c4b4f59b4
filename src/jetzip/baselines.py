"""What physicists use today to shrink jet tables, implemented so jetzip can be measured against it.

Every baseline takes float columns, stores them as float32 (the raw reference is 4 bytes per value)
and returns a `BaselineResult`: the compressed size per column and the reconstruction, so that the
errors are measured on exactly the values a user would get back. The baselines are:

- lossless float32: byte-shuffled zstd, LZMA (raw and byte-shuffled) and pcodec;
- ATLAS-style mantissa rounding (round-to-nearest-even on N mantissa bits) + best lossless codec,
  either at a fixed N or at the fewest bits that meet a tolerance on every value;
- CMS NanoAOD-style per-variable precision (pt 10, eta 12, phi 12, mass 10 bits) + LZMA;
- ROOT's own lossy float columns, re-implemented bit for bit: RNTuple Real32Trunc, Real32Quant
  and Real16, TTree Float16_t / Double32_t, at the fewest bits that meet a tolerance, sized as
  ROOT compresses them (zstd level 5 per page or basket; see docs/baselines.md);
- SZ3 and ZFP in absolute-error mode on transformed columns (log / asinh / identity);
- the empirical entropy of uniformly quantised transformed columns: the floor that no memoryless
  per-column coder can beat at that tolerance.
"""

from __future__ import annotations

import lzma
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pcodec
import zstandard
from pcodec import standalone as pcodec_standalone

from jetzip.codec.entropy import empirical_entropy_bits
from jetzip.codec.tolerance import Tolerance
from jetzip.errors import OptionError

FLOAT32_MANTISSA_BITS = 23

#: Mantissa bits CMS NanoAOD keeps for jet variables (`precision=` in the NanoAOD table producers).
#: Columns not listed keep full float32 precision, as NanoAOD does for variables without one.
NANOAOD_JET_BITS: dict[str, int] = {"pt": 10, "eta": 12, "phi": 12, "m": 10, "mass": 10, "E": 10}

#: In asinh(x / s) coding of a relative tolerance, s is the smallest non-zero |x| divided by this,
#: so every non-zero value lies where asinh behaves almost like a logarithm.
ASINH_SCALE_MARGIN = 10.0


# ---------------------------------------------------------------------------------------------
# results
# ---------------------------------------------------------------------------------------------
@dataclass
class BaselineResult:
    """Compressed sizes and reconstructed values of one baseline applied to a set of columns.

    Attributes:
        method: short method name ("lossless", "mantissa", "nanoaod", "sz3", "zfp", "entropy").
        parameter: the setting, readable ("best", "N=7", "pt=0.1%,eta=0.001", ...).
        column_bytes: bytes of each column's compressed payload (for "entropy": the estimate).
        reconstruction: each column as a user would get it back (float32).
        detail: per column, what was chosen (codec, bits, transform) for the report.
    """

    method: str
    parameter: str
    column_bytes: dict[str, float]
    reconstruction: dict[str, np.ndarray]
    detail: dict[str, str] = field(default_factory=dict)

    @property
    def nbytes(self) -> float:
        """Total payload bytes over all columns."""
        return float(sum(self.column_bytes.values()))


def _as_float32(columns: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The columns as contiguous float32, the precision every baseline stores."""
    return {name: np.ascontiguousarray(v, dtype=np.float32) for name, v in columns.items()}


# ---------------------------------------------------------------------------------------------
# lossless float32 codecs
# ---------------------------------------------------------------------------------------------
def byte_shuffle(values: np.ndarray) -> bytes:
    """All first bytes of the float32 values, then all second bytes, ... (what Blosc/HDF5 do).

    Grouping exponent bytes together gives general-purpose compressors long, similar runs.
    """
    values = np.ascontiguousarray(values, dtype=np.float32)
    return values.view(np.uint8).reshape(-1, 4).T.tobytes()


def byte_unshuffle(data: bytes, n_values: int) -> np.ndarray:
    """Inverse of `byte_shuffle`."""
    planes = np.frombuffer(data, dtype=np.uint8).reshape(4, n_values)
    return np.ascontiguousarray(planes.T).view(np.float32).reshape(n_values)


@dataclass(frozen=True)
class LosslessCodec:
    """A lossless float32 column codec: `encode(values) -> bytes`, `decode(bytes, n) -> values`."""

    name: str
    encode: Callable[[np.ndarray], bytes]
    decode: Callable[[bytes, int], np.ndarray]


def _raw(values: np.ndarray) -> bytes:
    return np.ascontiguousarray(values, dtype=np.float32).tobytes()


def _from_raw(data: bytes, n_values: int) -> np.ndarray:
    return np.frombuffer(data, dtype=np.float32, count=n_values).copy()


def _zstd_encode(values: np.ndarray) -> bytes:
    return zstandard.ZstdCompressor(level=19).compress(byte_shuffle(values))


def _zstd_decode(data: bytes, n_values: int) -> np.ndarray:
    return byte_unshuffle(zstandard.ZstdDecompressor().decompress(data), n_values)


def _lzma_strongest(data: bytes) -> bytes:
    """LZMA at preset 9e, with the dictionary no larger than the data (same output, less memory)."""
    dict_size = min(max(len(data), 4096), 64 << 20)
    options = {"id": lzma.FILTER_LZMA2, "preset": 9 | lzma.PRESET_EXTREME, "dict_size": dict_size}
    return lzma.compress(data, format=lzma.FORMAT_XZ, filters=[options])


def _lzma_encode(values: np.ndarray) -> bytes:
    return _lzma_strongest(_raw(values))


def _lzma_shuffled_encode(values: np.ndarray) -> bytes:
    return _lzma_strongest(byte_shuffle(values))


def _pcodec_encode(values: np.ndarray) -> bytes:
    values = np.ascontiguousarray(values, dtype=np.float32)
    return pcodec_standalone.simple_compress(values, pcodec.ChunkConfig(compression_level=8))


def _pcodec_decode(data: bytes, n_values: int) -> np.ndarray:
    return np.asarray(pcodec_standalone.simple_decompress(data), dtype=np.float32)


LOSSLESS_CODECS: dict[str, LosslessCodec] = {
    codec.name: codec
    for codec in (
        LosslessCodec("zstd-shuffle", _zstd_encode, _zstd_decode),
        LosslessCodec("lzma", _lzma_encode, lambda data, n: _from_raw(lzma.decompress(data), n)),
        LosslessCodec(
            "lzma-shuffle",
            _lzma_shuffled_encode,
            lambda data, n: byte_unshuffle(lzma.decompress(data), n),
        ),
        LosslessCodec("pcodec", _pcodec_encode, _pcodec_decode),
    )
}


def _codec_names(codec: str) -> list[str]:
    if codec == "best":
        return list(LOSSLESS_CODECS)
    if codec not in LOSSLESS_CODECS:
        raise OptionError(
            f"unknown lossless codec {codec!r}; choose from best, {', '.join(LOSSLESS_CODECS)}"
        )
    return [codec]


def encode_lossless(values: np.ndarray, codec: str = "best") -> tuple[str, bytes]:
    """Compress a float32 column; with codec="best", try them all and keep the smallest."""
    values = np.ascontiguousarray(values, dtype=np.float32)
    candidates = [(name, LOSSLESS_CODECS[name].encode(values)) for name in _codec_names(codec)]
    return min(candidates, key=lambda item: len(item[1]))


def compress_lossless(
    columns: Mapping[str, np.ndarray], codec: str = "best", *, method: str = "lossless"
) -> BaselineResult:
    """Compress each column as float32 with `codec` (or the best one per column) and decode it back.

    The reconstruction really is decoded from the bytes, so a broken codec shows up as an error.
    """
    column_bytes: dict[str, float] = {}
    reconstruction: dict[str, np.ndarray] = {}
    detail: dict[str, str] = {}
    for name, values in _as_float32(columns).items():
        chosen, payload = encode_lossless(values, codec)
        column_bytes[name] = len(payload)
        reconstruction[name] = LOSSLESS_CODECS[chosen].decode(payload, len(values))
        detail[name] = chosen
    return BaselineResult(method, codec, column_bytes, reconstruction, detail)


# ---------------------------------------------------------------------------------------------
# mantissa rounding (ATLAS style) and NanoAOD precision
# ---------------------------------------------------------------------------------------------
def round_mantissa(values: np.ndarray, bits: int) -> np.ndarray:
    """Round float32 values to `bits` explicit mantissa bits, to nearest with ties to even.

    The relative error is at most 2^-(bits+1) for normal numbers. Signs and zeros are kept,
    subnormals are rounded on the same absolute grid, NaN and inf pass through unchanged, and
    a value that rounds beyond the largest float32 becomes inf (as in any narrower format).
    """
    if not 0 <= bits <= FLOAT32_MANTISSA_BITS:
        raise OptionError(f"mantissa bits must be in 0..{FLOAT32_MANTISSA_BITS}, got {bits}")
    values = np.ascontiguousarray(values, dtype=np.float32)
    dropped = FLOAT32_MANTISSA_BITS - bits
    if dropped == 0:
        return values.copy()
    word = values.view(np.uint32)
    lowest_kept = (word >> np.uint32(dropped)) & np.uint32(1)
    half_minus_one = np.uint32((1 << (dropped - 1)) - 1)
    keep_mask = np.uint32(~((1 << dropped) - 1) & 0xFFFFFFFF)
    rounded = ((word + half_minus_one + lowest_kept) & keep_mask).view(np.float32)
    return np.where(np.isfinite(values), rounded, values)


def fewest_mantissa_bits(values: np.ndarray, tolerance: Tolerance) -> int:
    """The fewest mantissa bits whose rounding meets `tolerance` on every value of the column.

    Raises OptionError when even full float32 precision misses it (values not float32-exact).
    """
    original = np.asarray(values, dtype=np.float64)
    single = np.ascontiguousarray(values, dtype=np.float32)
    for bits in range(FLOAT32_MANTISSA_BITS + 1):
        if not tolerance.violations(original, round_mantissa(single, bits)).any():
            return bits
    raise OptionError(
        f"tolerance {tolerance.to_text()} is tighter than float32 precision for these values"
    )


def compress_mantissa(
    columns: Mapping[str, np.ndarray],
    bits: int | Mapping[str, int],
    codec: str = "best",
    *,
    method: str = "mantissa",
    parameter: str | None = None,
) -> BaselineResult:
    """Round each column's mantissa (one N for all, or N per column), then compress losslessly.

    `parameter` labels the result; by default "N=7", or "m:10,pt:10,..." for per-column bits.
    """
    singles = _as_float32(columns)
    per_column = {n: bits for n in singles} if isinstance(bits, int) else dict(bits)
    rounded = {n: round_mantissa(v, per_column[n]) for n, v in singles.items()}
    result = compress_lossless(rounded, codec, method=method)
    if parameter is None:
        by_column = ",".join(f"{n}:{b}" for n, b in per_column.items())
        parameter = f"N={bits}" if isinstance(bits, int) else by_column
    result.parameter = parameter
    result.detail = {n: f"{per_column[n]} bits, {result.detail[n]}" for n in singles}
    return result


def compress_mantissa_for_tolerances(
    columns: Mapping[str, np.ndarray], tolerances: Mapping[str, Tolerance], codec: str = "best"
) -> BaselineResult:
    """Mantissa rounding at the fewest bits meeting each column's tolerance on every value."""
    _require_tolerances(columns, tolerances)
    bits = {n: fewest_mantissa_bits(v, tolerances[n]) for n, v in columns.items()}
    return compress_mantissa(
        columns, bits, codec, method="mantissa-min-bits", parameter=tolerance_text(tolerances)
    )


def nanoaod_bits(names: list[str]) -> dict[str, int]:
    """NanoAOD's mantissa bits for these column names (full precision for unknown ones)."""
    return {n: NANOAOD_JET_BITS.get(n, FLOAT32_MANTISSA_BITS) for n in names}


def compress_nanoaod(columns: Mapping[str, np.ndarray]) -> BaselineResult:
    """CMS NanoAOD style: per-variable mantissa precision, then LZMA (ROOT's NanoAOD setting)."""
    return compress_mantissa(columns, nanoaod_bits(list(columns)), "lzma", method="nanoaod")


# ---------------------------------------------------------------------------------------------
# error-bounded transforms for SZ3, ZFP and the entropy floor
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BoundTransform:
    """A monotone column transform and the absolute bound in its space that meets a tolerance.

    kind "identity": y = x, bound = the absolute tolerance.
    kind "log": y = ln x (all values > 0), bound ln(1 + r): |ln x' - ln x| <= ln(1 + r) gives
    x'/x in [1/(1+r), 1+r], hence |x' - x| <= r x.
    kind "asinh": y = asinh(x / scale) (zeros or negatives present); for |x| >= c*scale the
    relative error of a shift d in y is at most cosh d - 1 + sqrt(1 + 1/c^2) sinh d, and the bound
    solves that for r. Exact zeros cannot meet a relative bound this way.
    """

    kind: str
    bound: float
    scale: float = 1.0

    def forward(self, values: np.ndarray) -> np.ndarray:
        x = np.asarray(values, dtype=np.float64)
        if self.kind == "log":
            return np.log(x)
        if self.kind == "asinh":
            return np.arcsinh(x / self.scale)
        return x.copy()

    def inverse(self, transformed: np.ndarray) -> np.ndarray:
        y = np.asarray(transformed, dtype=np.float64)
        if self.kind == "log":
            return np.exp(y)
        if self.kind == "asinh":
            return np.sinh(y) * self.scale
        return y.copy()

    def describe(self) -> str:
        scale = f"(x/{self.scale:.3g})" if self.kind == "asinh" else ""
        return f"{self.kind}{scale}, |dy|<={self.bound:.4g}"


def asinh_bound(relative: float, margin: float = ASINH_SCALE_MARGIN) -> float:
    """Largest d with cosh d - 1 + c sinh d <= r, c = sqrt(1 + 1/margin^2) (see BoundTransform)."""
    c = math.sqrt(1.0 + 1.0 / margin**2)
    # With u = e^d: (1 + c) u^2 - 2 (1 + r) u + (1 - c) = 0; take the root above 1.
    u = ((1.0 + relative) + math.sqrt((1.0 + relative) ** 2 + c * c - 1.0)) / (1.0 + c)
    return math.log(u)


def bound_transform(values: np.ndarray, tolerance: Tolerance) -> BoundTransform:
    """The transform jetzip's bounded mode would use for this column and tolerance."""
    if not tolerance.relative:
        return BoundTransform("identity", tolerance.value)
    x = np.asarray(values, dtype=np.float64)
    if np.all(x > 0):
        return BoundTransform("log", math.log1p(tolerance.value))
    nonzero = np.abs(x[x != 0])
    smallest = float(nonzero.min()) if nonzero.size else 1.0
    return BoundTransform("asinh", asinh_bound(tolerance.value), smallest / ASINH_SCALE_MARGIN)


def _require_tolerances(
    columns: Mapping[str, np.ndarray], tolerances: Mapping[str, Tolerance]
) -> None:
    missing = [n for n in columns if n not in tolerances]
    if missing:
        raise OptionError(f"no tolerance given for column(s) {', '.join(missing)}")


def tolerance_text(tolerances: Mapping[str, Tolerance]) -> str:
    """`pt=0.1%,eta=0.001`: tolerances as a user writes them."""
    return ",".join(f"{n}={t.to_text()}" for n, t in tolerances.items())


def _compress_transformed(
    columns: Mapping[str, np.ndarray],
    tolerances: Mapping[str, Tolerance],
    method: str,
    round_trip: Callable[[np.ndarray, float], tuple[float, np.ndarray]],
) -> BaselineResult:
    """Transform each column, let `round_trip(y, abs_bound) -> (bytes, y')` code it, invert, cast.

    The reconstruction is cast to float32 after the inverse transform, as a user would store it;
    that cast and the transform's rounding may push an error past the tolerance, which is the
    honest result and is what the benchmark reports.
    """
    _require_tolerances(columns, tolerances)
    column_bytes: dict[str, float] = {}
    reconstruction: dict[str, np.ndarray] = {}
    detail: dict[str, str] = {}
    for name, values in _as_float32(columns).items():
        transform = bound_transform(values, tolerances[name])
        nbytes, decoded = round_trip(transform.forward(values), transform.bound)
        column_bytes[name] = nbytes
        reconstruction[name] = transform.inverse(decoded).astype(np.float32)
        detail[name] = transform.describe()
    return BaselineResult(method, tolerance_text(tolerances), column_bytes, reconstruction, detail)


def sz3_round_trip(transformed: np.ndarray, bound: float) -> tuple[int, np.ndarray]:
    """SZ3 (absolute bound) on a 1-D float64 array: compressed size and decoded values."""
    import pysz  # optional (the "bench" extra), so imported only when used

    config = pysz.szConfig()
    config.errorBoundMode = pysz.szErrorBoundMode.ABS
    config.absErrorBound = bound
    data = np.ascontiguousarray(transformed, dtype=np.float64)
    payload, _ratio = pysz.sz.compress(data, config)
    decoded, _config = pysz.sz.decompress(payload, np.float64, data.shape)
    return int(payload.nbytes), decoded


def zfp_round_trip(transformed: np.ndarray, bound: float) -> tuple[int, np.ndarray]:
    """ZFP fixed-accuracy (absolute bound) on a 1-D float64 array: size and decoded values."""
    import zfpy  # optional (the "bench" extra), so imported only when used

    payload = zfpy.compress_numpy(np.ascontiguousarray(transformed, dtype=np.float64), bound)
    return len(payload), zfpy.decompress_numpy(payload)


def compress_sz3(
    columns: Mapping[str, np.ndarray], tolerances: Mapping[str, Tolerance]
) -> BaselineResult:
    """SZ3 in absolute-error mode on the transformed columns (1-D, one stream per column)."""
    return _compress_transformed(columns, tolerances, "sz3", sz3_round_trip)


def compress_zfp(
    columns: Mapping[str, np.ndarray], tolerances: Mapping[str, Tolerance]
) -> BaselineResult:
    """ZFP in fixed-accuracy mode (absolute error) on the transformed columns."""
    return _compress_transformed(columns, tolerances, "zfp", zfp_round_trip)


def _quantise_round_trip(transformed: np.ndarray, bound: float) -> tuple[float, np.ndarray]:
    """Uniform quantisation with step 2*bound: its entropy in bytes and the reconstruction."""
    step = 2.0 * bound
    symbols = np.rint(transformed / step).astype(np.int64)
    return empirical_entropy_bits(symbols) / 8.0, symbols * step


def quantised_entropy(
    columns: Mapping[str, np.ndarray], tolerances: Mapping[str, Tolerance]
) -> BaselineResult:
    """The empirical-entropy floor of uniformly quantised transformed columns at the tolerances.

    No coder that treats each value of a column on its own can go below it; column_bytes holds
    the estimate (a real coder adds its model's and its framing's bytes).
    """
    return _compress_transformed(columns, tolerances, "entropy", _quantise_round_trip)


# ---------------------------------------------------------------------------------------------
# ROOT's own lossy float columns (RNTuple, ROOT >= 6.34; TTree Float16_t / Double32_t)
# ---------------------------------------------------------------------------------------------
#: RNTuple's default compression "505" (zstd level 5), also ROOT's recommended general-purpose
#: setting for TTrees; every compressed block carries ROOT's 9-byte block header, and a block
#: that does not shrink is stored as it is.
ROOT_ZSTD_LEVEL = 5
ROOT_BLOCK_HEADER = 9
#: Largest unzipped RNTuple page (RNTupleWriteOptions' default max unzipped page size in 6.34) and
#: the default TTree basket size (TTree::Branch's bufsize).
RNTUPLE_PAGE_BYTES = 1 << 20
TTREE_BASKET_BYTES = 32000
#: Bits RNTuple accepts per value (RColumnElementBase::GetValidBitRange) and those TTree accepts
#: in a `[xmin, xmax, nbits]` range or, without a range, as kept mantissa bits (`[0, 0, nbits]`).
REAL32_TRUNC_BITS = range(10, 32)
REAL32_QUANT_BITS = range(1, 33)
FLOAT16_MANTISSA_BITS = range(2, 15)
FLOAT16_RANGE_BITS = range(2, 33)
#: A TTree truncated float on disk: exponent byte, then mantissa + sign as a big-endian u16.
_TRUNCATED = np.dtype([("exponent", "u1"), ("mantissa", ">u2")])


def pack_bits(items: np.ndarray, nbits: int) -> bytes:
    """ROOT's BitPacking::PackBits: the low `nbits` of each item, item after item, least
    significant bit first, in ceil(count * nbits / 8) bytes (what a page holds)."""
    items = np.asarray(items, dtype=np.uint64)
    bits = (items[:, None] >> np.arange(nbits, dtype=np.uint64)) & np.uint64(1)
    return np.packbits(bits.astype(np.uint8).ravel(), bitorder="little").tobytes()


def _check_bits(bits: int, valid: range, what: str) -> None:
    if bits not in valid:
        raise OptionError(f"{what} takes {valid.start} to {valid.stop - 1} bits, got {bits}")


def real32_trunc_encode(values: np.ndarray, bits: int) -> np.ndarray:
    """RNTuple Real32Trunc: the top `bits` of each float32 (sign, 8 exponent bits, bits - 9
    mantissa bits); the dropped bits are cut, so magnitudes are truncated toward zero."""
    _check_bits(bits, REAL32_TRUNC_BITS, "Real32Trunc")
    words = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32)
    return words >> np.uint32(32 - bits)


def real32_trunc_decode(items: np.ndarray, bits: int) -> np.ndarray:
    """Inverse of `real32_trunc_encode`: the kept bits on top, zeros below (float32)."""
    return (np.asarray(items, dtype=np.uint32) << np.uint32(32 - bits)).view(np.float32)


def _quant_range(vmin: float, vmax: float) -> None:
    if not (math.isfinite(vmin) and math.isfinite(vmax) and vmin < vmax):
        raise OptionError(f"a quantisation range needs finite min < max, got [{vmin}, {vmax}]")


def real32_quant_encode(values: np.ndarray, bits: int, vmin: float, vmax: float) -> np.ndarray:
    """RNTuple Real32Quant (QuantizeReals): q = trunc(0.5 + (x - min) * (2^bits - 1) / (max - min))
    in double precision. A value outside [min, max] (NaN included) is an error, as in ROOT."""
    _check_bits(bits, REAL32_QUANT_BITS, "Real32Quant")
    _quant_range(vmin, vmax)
    x = np.asarray(values, dtype=np.float64)
    outside = int(np.count_nonzero(~((vmin <= x) & (x <= vmax))))
    if outside:
        raise OptionError(f"{outside} values are outside the quantisation range [{vmin}, {vmax}]")
    scale = float((1 << bits) - 1) / (vmax - vmin)
    return (0.5 + (x - vmin) * scale).astype(np.uint32)


def real32_quant_decode(codes: np.ndarray, bits: int, vmin: float, vmax: float) -> np.ndarray:
    """Inverse of `real32_quant_encode` (UnquantizeReals): float32(q * (max - min) /
    (2^bits - 1) + min), the step computed once in double precision."""
    step = (vmax - vmin) / float((1 << bits) - 1)
    return (np.asarray(codes, dtype=np.float64) * step + vmin).astype(np.float32)


def real16_encode(values: np.ndarray) -> np.ndarray:
    """RNTuple Real16: IEEE half precision, rounded to nearest even, overflow to infinity (ROOT's
    FloatToHalf), as the bits of a little-endian uint16."""
    with np.errstate(over="ignore"):
        return np.ascontiguousarray(values, dtype=np.float32).astype(np.float16).view(np.uint16)


def real16_decode(items: np.ndarray) -> np.ndarray:
    """Inverse of `real16_encode` (exact: every half is a float32)."""
    return np.asarray(items, dtype=np.uint16).view(np.float16).astype(np.float32)


def float16_truncate_encode(values: np.ndarray, bits: int) -> np.ndarray:
    """TTree Float16_t / Double32_t without a range (`[0, 0, bits]`, TBufferFile::WriteFloat16):
    exponent byte + `bits` mantissa bits rounded half up (a carry out of the mantissa saturates
    it instead of raising the exponent) + the sign of `x < 0` (so -0 and signed NaN lose it)."""
    _check_bits(bits, FLOAT16_MANTISSA_BITS, "Float16_t without a range")
    single = np.ascontiguousarray(values, dtype=np.float32)
    words = single.view(np.uint32)
    out = np.empty(single.size, dtype=_TRUNCATED)
    out["exponent"] = (words >> np.uint32(23)) & np.uint32(0xFF)
    mantissa = ((words >> np.uint32(22 - bits)) & np.uint32((1 << (bits + 1)) - 1)) + np.uint32(1)
    mantissa >>= np.uint32(1)
    mantissa[(mantissa >> np.uint32(bits)) != 0] = (1 << bits) - 1
    mantissa[single < 0] |= np.uint32(1 << (bits + 1))
    out["mantissa"] = mantissa
    return out


def float16_truncate_decode(stored: np.ndarray, bits: int) -> np.ndarray:
    """Inverse of `float16_truncate_encode` (TBufferFile::ReadWithNbits), float32."""
    mantissa = stored["mantissa"].astype(np.uint32)
    words = stored["exponent"].astype(np.uint32) << np.uint32(23)
    words |= (mantissa & np.uint32((1 << (bits + 1)) - 1)) << np.uint32(23 - bits)
    values = words.view(np.float32)
    negative = (mantissa >> np.uint32(bits + 1)) & np.uint32(1) == 1
    return np.where(negative, -values, values)


def _ttree_factor(bits: int, xmin: float, xmax: float) -> float:
    """TStreamerElement's GetRange: 2^bits (2^32 - 1 for 32 bits) over the range."""
    _check_bits(bits, FLOAT16_RANGE_BITS, "a Float16_t/Double32_t range")
    _quant_range(xmin, xmax)
    return float((1 << bits) if bits < 32 else 0xFFFFFFFF) / (xmax - xmin)


def ttree_range_encode(values: np.ndarray, bits: int, xmin: float, xmax: float) -> np.ndarray:
    """TTree Float16_t / Double32_t with `[xmin, xmax, bits]` (WriteFloat16 / WriteDouble32):
    x clamped to the range, then UInt_t(0.5 + factor * (x - xmin)), stored as a full UInt_t."""
    factor = _ttree_factor(bits, xmin, xmax)
    x = np.clip(np.asarray(values, dtype=np.float64), xmin, xmax)
    return (0.5 + factor * (x - xmin)).astype(np.uint32)


def ttree_range_decode(
    codes: np.ndarray, bits: int, xmin: float, xmax: float, dtype: str = "float32"
) -> np.ndarray:
    """Inverse of `ttree_range_encode` (ReadWithFactor): aint / factor + xmin, float32 for
    Float16_t, float64 for Double32_t."""
    factor = _ttree_factor(bits, xmin, xmax)
    return (np.asarray(codes, dtype=np.float64) / factor + xmin).astype(dtype)


def root_compressed_bytes(data: bytes, block_bytes: int) -> int:
    """Bytes ROOT stores for `data` written as blocks (pages, baskets) of `block_bytes`: each
    block zstd level 5 + ROOT's block header, or as it is where that is not smaller."""
    compressor = zstandard.ZstdCompressor(level=ROOT_ZSTD_LEVEL)
    total = 0
    for start in range(0, len(data), block_bytes):
        block = data[start : start + block_bytes]
        total += min(len(block), ROOT_BLOCK_HEADER + len(compressor.compress(block)))
    return total


@dataclass(frozen=True)
class RootEncoding:
    """One way ROOT can store a float column, at one bit count: its name for the report, the
    values a reader gets back and how to make the bytes on disk (before compression), which
    are made only for encodings that meet the tolerance."""

    name: str
    reconstruction: np.ndarray
    payload: Callable[[], bytes]


def _finite_range(values: np.ndarray) -> tuple[float, float] | None:
    """The [min, max] a user would declare for a column, or None when no range can hold it
    (NaN/inf present, or a single value)."""
    x = np.asarray(values, dtype=np.float64)
    if not x.size or not np.isfinite(x).all() or x.min() == x.max():
        return None
    return float(x.min()), float(x.max())


def rntuple_encodings(values: np.ndarray, bits: int | None, family: str) -> RootEncoding:
    """`values` in one RNTuple float column type: "Real32Trunc" or "Real32Quant" (over the
    column's [min, max]) at `bits`, "Real16", or "SplitReal32" (ROOT's float default)."""
    single = np.ascontiguousarray(values, dtype=np.float32)
    if family == "Real32Trunc":
        assert bits is not None
        items = real32_trunc_encode(single, bits)
        return RootEncoding(
            f"Real32Trunc({bits})", real32_trunc_decode(items, bits), lambda: pack_bits(items, bits)
        )
    if family == "Real32Quant":
        assert bits is not None
        bounds = _finite_range(single)
        if bounds is None:
            raise OptionError("Real32Quant needs finite values spanning a range")
        codes = real32_quant_encode(single, bits, *bounds)
        return RootEncoding(
            f"Real32Quant({bits}, [{bounds[0]:.6g}, {bounds[1]:.6g}])",
            real32_quant_decode(codes, bits, *bounds),
            lambda: pack_bits(codes, bits),
        )
    if family == "Real16":
        items = real16_encode(single)
        return RootEncoding("Real16", real16_decode(items), lambda: items.astype("<u2").tobytes())
    if family == "SplitReal32":
        return RootEncoding("SplitReal32", single.copy(), lambda: byte_shuffle(single))
    raise OptionError(f"unknown RNTuple float column type {family!r}")


def ttree_encodings(values: np.ndarray, bits: int | None, family: str) -> RootEncoding:
    """`values` as a TTree branch: "Float16_t" / "Double32_t" with the column's [min, max] at
    `bits`, "Float16_t[0,0,bits]" (truncated mantissa), or "Float_t" (plain big-endian float)."""
    single = np.ascontiguousarray(values, dtype=np.float32)
    if family in ("Float16_t", "Double32_t"):
        assert bits is not None
        bounds = _finite_range(single)
        if bounds is None:
            raise OptionError(f"{family} with a range needs finite values spanning a range")
        codes = ttree_range_encode(single, bits, *bounds)
        dtype = "float32" if family == "Float16_t" else "float64"
        return RootEncoding(
            f"{family}[{bounds[0]:.6g},{bounds[1]:.6g},{bits}]",
            ttree_range_decode(codes, bits, *bounds, dtype=dtype),
            lambda: codes.astype(">u4").tobytes(),
        )
    if family == "Float16_t[0,0,bits]":
        assert bits is not None
        stored = float16_truncate_encode(single, bits)
        return RootEncoding(
            f"Float16_t[0,0,{bits}]", float16_truncate_decode(stored, bits), stored.tobytes
        )
    if family == "Float_t":
        return RootEncoding("Float_t", single.copy(), lambda: single.astype(">f4").tobytes())
    raise OptionError(f"unknown TTree float type {family!r}")


#: Per container: the encoder, the block size of its compression, and each family with the bit
#: counts to search (None: a fixed-width type).
ROOT_CONTAINERS: dict[str, tuple[Callable[..., RootEncoding], int, dict[str, range | None]]] = {
    "rntuple": (
        rntuple_encodings,
        RNTUPLE_PAGE_BYTES,
        {
            "Real32Trunc": REAL32_TRUNC_BITS,
            "Real32Quant": REAL32_QUANT_BITS,
            "Real16": None,
            "SplitReal32": None,
        },
    ),
    "ttree": (
        ttree_encodings,
        TTREE_BASKET_BYTES,
        {
            "Float16_t[0,0,bits]": FLOAT16_MANTISSA_BITS,
            "Float16_t": FLOAT16_RANGE_BITS,
            "Double32_t": FLOAT16_RANGE_BITS,
            "Float_t": None,
        },
    ),
}


def fewest_root_bits(
    values: np.ndarray, tolerance: Tolerance, container: str
) -> tuple[RootEncoding, int]:
    """Per family of `container`, the encoding at the fewest bits that meets `tolerance` on
    every value; of those, the one ROOT stores in the fewest compressed bytes, with that size.

    Raises OptionError when no family meets the tolerance (values not float32-exact)."""
    encode, block_bytes, families = ROOT_CONTAINERS[container]
    original = np.asarray(values, dtype=np.float64)
    best: tuple[RootEncoding, int] | None = None
    for family, bit_counts in families.items():
        for bits in bit_counts or [None]:
            try:
                encoding = encode(values, bits, family)
            except OptionError:  # no range for a column with NaN/inf or one value
                break
            if not tolerance.violations(original, encoding.reconstruction).any():
                size = root_compressed_bytes(encoding.payload(), block_bytes)
                if best is None or size < best[1]:
                    best = (encoding, size)
                break
    if best is None:
        raise OptionError(
            f"no {container} float encoding meets tolerance {tolerance.to_text()} on these values"
        )
    return best


def compress_root_for_tolerances(
    columns: Mapping[str, np.ndarray], tolerances: Mapping[str, Tolerance], container: str
) -> BaselineResult:
    """ROOT's lossy float columns (`container` "rntuple" or "ttree"), each column at the fewest
    bits meeting its tolerance on every value, compressed as ROOT would (zstd 5 per page or
    basket); the detail names the chosen column type."""
    _require_tolerances(columns, tolerances)
    column_bytes: dict[str, float] = {}
    reconstruction: dict[str, np.ndarray] = {}
    detail: dict[str, str] = {}
    for name, values in _as_float32(columns).items():
        encoding, size = fewest_root_bits(values, tolerances[name], container)
        column_bytes[name] = size
        reconstruction[name] = encoding.reconstruction
        detail[name] = encoding.name
    method = f"{container}-min-bits"
    return BaselineResult(method, tolerance_text(tolerances), column_bytes, reconstruction, detail)
