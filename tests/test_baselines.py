"""Baselines: mantissa rounding against hand-computed values, bounds, exact lossless round trips."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest

from jetzip import baselines
from jetzip.codec.tolerance import Tolerance, parse_tolerances
from jetzip.errors import OptionError


def f32(*values: float) -> np.ndarray:
    return np.array(values, dtype=np.float32)


def bits_of(values: np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=np.float32).view(np.uint32)


@pytest.fixture
def jet_columns() -> dict[str, np.ndarray]:
    """A small jet-like table: mass with zeros and negatives, positive pt, eta, phi."""
    rng = np.random.default_rng(7)
    n = 2000
    m = rng.lognormal(9.0, 1.0, n)
    m[:20] = 0.0
    m[20:40] = -rng.uniform(0.001, 0.05, 20)
    return {
        "m": m.astype(np.float32).astype(np.float64),
        "pt": rng.lognormal(11.0, 0.7, n).astype(np.float32).astype(np.float64),
        "eta": rng.uniform(-4.5, 4.5, n).astype(np.float32).astype(np.float64),
        "phi": rng.uniform(-math.pi, math.pi, n).astype(np.float32).astype(np.float64),
    }


# ----------------------------------------------------------------------------- mantissa rounding
@pytest.mark.parametrize(
    ("value", "bits", "expected"),
    [
        (1 + 2**-10, 10, 1 + 2**-10),  # representable: unchanged
        (1 + 2**-10, 9, 1.0),  # exact tie, rounds to the even neighbour 1.0
        (1 + 3 * 2**-10, 9, 1 + 2**-8),  # exact tie, the even neighbour is above
        (1 + 2**-10 + 2**-20, 9, 1 + 2**-9),  # just above the tie: up
        (1 + 2**-10 - 2**-20, 9, 1.0),  # just below the tie: down
        (1.75, 1, 2.0),  # 1.11b with one bit: tie, 10.0b is even (carry into the exponent)
        (1.25, 1, 1.0),  # 1.01b with one bit: tie, 1.0 is even
        (-(1 + 3 * 2**-10), 9, -(1 + 2**-8)),  # sign is kept, magnitude rounded the same way
        (3.0, 0, 2.0),  # no mantissa bits: tie; the last kept bit is the exponent's, even for 2
        (2.0**-127, 0, 0.0),  # subnormal, half of the smallest normal: tie to even zero
        (2.0**-127 + 2.0**-149, 0, 2.0**-126),  # just above that tie: the smallest normal
        (2.0**-149, 5, 0.0),  # smallest subnormal flushes to zero on a coarse grid
    ],
)
def test_round_mantissa_hand_computed(value: float, bits: int, expected: float) -> None:
    assert baselines.round_mantissa(f32(value), bits)[0] == np.float32(expected)


def test_round_mantissa_keeps_zeros_and_nonfinite_bit_for_bit() -> None:
    nan_with_payload = np.array([0x7FC12345], dtype=np.uint32).view(np.float32)[0]
    values = f32(0.0, -0.0, np.inf, -np.inf)
    values = np.append(values, nan_with_payload)
    rounded = baselines.round_mantissa(values, 3)
    np.testing.assert_array_equal(bits_of(rounded), bits_of(values))


def test_round_mantissa_overflows_to_inf_like_a_narrow_format() -> None:
    largest = np.finfo(np.float32).max
    assert baselines.round_mantissa(f32(largest), 0)[0] == np.inf
    assert baselines.round_mantissa(f32(-largest), 10)[0] == -np.inf


def test_round_mantissa_ten_bits_matches_float16_rounding() -> None:
    """float16 has 10 mantissa bits and rounds to nearest even: an independent oracle."""
    rng = np.random.default_rng(1)
    values = (rng.uniform(1e-4, 6e4, 20000) * rng.choice([-1, 1], 20000)).astype(np.float32)
    expected = values.astype(np.float16).astype(np.float32)
    np.testing.assert_array_equal(baselines.round_mantissa(values, 10), expected)


@pytest.mark.parametrize("bits", [5, 7, 10, 15])
def test_round_mantissa_relative_error_is_half_an_ulp_and_reached(bits: int) -> None:
    rng = np.random.default_rng(bits)
    values = rng.lognormal(0.0, 5.0, 50000).astype(np.float32)
    rounded = baselines.round_mantissa(values, bits).astype(np.float64)
    relative = np.abs(rounded - values) / values
    assert relative.max() <= 2.0 ** -(bits + 1)
    assert relative.max() > 0.9 * 2.0 ** -(bits + 1)  # nearest, not truncation's 2^-bits


def test_round_mantissa_refuses_impossible_bit_counts() -> None:
    with pytest.raises(OptionError, match="mantissa bits"):
        baselines.round_mantissa(f32(1.0), 24)


# ----------------------------------------------------------------------------- fewest bits
@pytest.mark.parametrize("text", ["0.1%", "0.01%", "0.001", "0.00001"])
def test_fewest_mantissa_bits_meets_the_bound_and_is_minimal(
    jet_columns: dict[str, np.ndarray], text: str
) -> None:
    tolerance = Tolerance.parse(text)
    values = jet_columns["pt"] if tolerance.relative else jet_columns["eta"]
    bits = baselines.fewest_mantissa_bits(values, tolerance)
    assert not tolerance.violations(values, baselines.round_mantissa(values, bits)).any()
    assert bits > 0
    assert tolerance.violations(values, baselines.round_mantissa(values, bits - 1)).any()
    if tolerance.relative:  # never more than the worst-case formula 2^-(N+1) <= r asks for
        assert bits <= math.ceil(-math.log2(tolerance.value) - 1)


def test_fewest_mantissa_bits_refuses_a_bound_below_float32_precision() -> None:
    values = np.array([1.0 + 1e-12])  # not a float32 value: no rounding of it gets this close
    with pytest.raises(OptionError, match="float32 precision"):
        baselines.fewest_mantissa_bits(values, Tolerance(1e-13, relative=False))


def test_mantissa_for_tolerances_meets_every_bound(jet_columns: dict[str, np.ndarray]) -> None:
    tolerances = parse_tolerances("m=0.1%,pt=0.1%,eta=0.001,phi=0.001")
    result = baselines.compress_mantissa_for_tolerances(jet_columns, tolerances)
    for name, tolerance in tolerances.items():
        assert not tolerance.violations(jet_columns[name], result.reconstruction[name]).any()
    assert result.nbytes < baselines.compress_lossless(jet_columns).nbytes


# ----------------------------------------------------------------------------- NanoAOD
def test_nanoaod_uses_cms_precisions_and_lzma(jet_columns: dict[str, np.ndarray]) -> None:
    result = baselines.compress_nanoaod(jet_columns)
    assert result.parameter == "m:10,pt:10,eta:12,phi:12"
    assert baselines.nanoaod_bits(["pt", "eta", "phi", "m", "btag"]) == {
        "pt": 10,
        "eta": 12,
        "phi": 12,
        "m": 10,
        "btag": 23,
    }
    for name, bits in baselines.nanoaod_bits(list(jet_columns)).items():
        expected = baselines.round_mantissa(jet_columns[name], bits)
        np.testing.assert_array_equal(bits_of(result.reconstruction[name]), bits_of(expected))
        assert result.detail[name] == f"{bits} bits, lzma"


# ----------------------------------------------------------------------------- lossless
@pytest.mark.parametrize("codec", [*baselines.LOSSLESS_CODECS, "best"])
def test_lossless_codecs_are_bit_exact(codec: str) -> None:
    rng = np.random.default_rng(3)
    values = rng.normal(0, 1e4, 3000).astype(np.float32)
    values[:6] = [0.0, -0.0, np.inf, -np.inf, np.nan, 2.0**-140]
    result = baselines.compress_lossless({"x": values}, codec)
    np.testing.assert_array_equal(bits_of(result.reconstruction["x"]), bits_of(values))
    assert 0 < result.column_bytes["x"] < values.nbytes


def test_byte_shuffle_round_trip_and_layout() -> None:
    values = f32(1.0, 2.0, -3.5)
    shuffled = baselines.byte_shuffle(values)
    assert shuffled[:3] == bytes(values.view(np.uint8)[0::4])  # all lowest bytes first
    np.testing.assert_array_equal(baselines.byte_unshuffle(shuffled, 3), values)


def test_unknown_lossless_codec_is_refused() -> None:
    with pytest.raises(OptionError, match="unknown lossless codec"):
        baselines.compress_lossless({"x": f32(1.0)}, "gzip")


# ----------------------------------------------------------------------------- transforms, SZ3, ZFP
@pytest.mark.parametrize("round_trip", [baselines.sz3_round_trip, baselines.zfp_round_trip])
@pytest.mark.parametrize("bound", [1e-2, 1e-4])
def test_sz3_and_zfp_meet_their_absolute_bound(round_trip, bound: float) -> None:
    rng = np.random.default_rng(5)
    values = np.cumsum(rng.normal(0, 0.3, 5000))  # smooth-ish, like sorted physics data
    nbytes, decoded = round_trip(values, bound)
    assert decoded.shape == values.shape
    assert np.abs(decoded - values).max() <= bound
    assert nbytes < values.nbytes


@pytest.mark.parametrize("relative", [1e-2, 1e-3, 1e-4])
def test_transform_bounds_give_the_relative_tolerance(relative: float) -> None:
    """Shifting y by +-bound and inverting stays within r|x| (in float64), log and asinh alike."""
    tolerance = Tolerance(relative, relative=True)
    positive = np.geomspace(1e-3, 1e6, 2001)
    with_negatives = np.concatenate([positive, -positive, [0.0]])
    for values in (positive, with_negatives):
        transform = baselines.bound_transform(values, tolerance)
        nonzero = values[values != 0]
        y = transform.forward(nonzero)
        np.testing.assert_allclose(transform.inverse(y), nonzero, rtol=1e-12)
        for shift in (transform.bound, -transform.bound):
            error = np.abs(transform.inverse(y + shift) - nonzero) / np.abs(nonzero)
            assert error.max() <= relative * (1 + 1e-9)
    assert baselines.bound_transform(positive, tolerance).kind == "log"
    assert baselines.bound_transform(with_negatives, tolerance).kind == "asinh"
    assert baselines.bound_transform(positive, Tolerance(0.01, relative=False)).kind == "identity"


def test_log_bound_is_exactly_ln_one_plus_r() -> None:
    transform = baselines.bound_transform(f32(1.0, 2.0), Tolerance(1e-3, relative=True))
    assert transform.bound == math.log1p(1e-3)
    assert baselines.asinh_bound(1e-3, margin=1e12) == pytest.approx(math.log1p(1e-3), rel=1e-9)


@pytest.mark.parametrize("compress", [baselines.compress_sz3, baselines.compress_zfp])
def test_sz3_and_zfp_baselines_nearly_meet_tolerances(
    jet_columns: dict[str, np.ndarray], compress
) -> None:
    """Only exact zeros (relative bound) and float32-cast margins may miss: never by much."""
    tolerances = parse_tolerances("m=0.1%,pt=0.1%,eta=0.001,phi=0.001")
    result = compress(jet_columns, tolerances)
    for name, tolerance in tolerances.items():
        original = jet_columns[name]
        reconstructed = result.reconstruction[name].astype(np.float64)
        considered = original != 0
        slack = tolerance.allowed(original) + np.abs(original) * 2.0**-23
        assert np.all(np.abs(reconstructed - original)[considered] <= slack[considered])
    assert result.nbytes < baselines.compress_lossless(jet_columns).nbytes


def test_missing_tolerance_is_refused(jet_columns: dict[str, np.ndarray]) -> None:
    with pytest.raises(OptionError, match="no tolerance given for column"):
        baselines.compress_sz3(jet_columns, parse_tolerances("pt=0.1%"))


# ----------------------------------------------------------------------------- entropy floor
def test_entropy_floor_counts_the_quantised_symbols() -> None:
    """Four equally frequent steps of 2*bound: exactly 2 bits per value; values within bound."""
    values = {"eta": np.repeat(f32(0.0, 0.5, 1.0, 1.5), 25).astype(np.float64)}
    floor = baselines.quantised_entropy(values, {"eta": Tolerance(0.25, relative=False)})
    assert floor.column_bytes["eta"] == pytest.approx(100 * 2 / 8)
    np.testing.assert_array_equal(floor.reconstruction["eta"], values["eta"])


def test_entropy_floor_is_below_the_real_coders(jet_columns: dict[str, np.ndarray]) -> None:
    tolerances = parse_tolerances("m=0.1%,pt=0.1%,eta=0.001,phi=0.001")
    floor = baselines.quantised_entropy(jet_columns, tolerances)
    assert floor.nbytes < baselines.compress_sz3(jet_columns, tolerances).nbytes
    assert floor.nbytes < baselines.compress_mantissa_for_tolerances(jet_columns, tolerances).nbytes


# ----------------------------------------------------------------------------- ROOT's lossy columns
def u32(*words: int) -> np.ndarray:
    return np.array(words, dtype=np.uint32).view(np.float32)


def test_pack_bits_is_least_significant_bit_first() -> None:
    """Items 1, 2, 3 at 2 bits: 01, 10, 11 from the lowest bit up is 0b00111001."""
    assert baselines.pack_bits(np.array([1, 2, 3]), 2) == bytes([0b00111001])
    # 3 items of 5 bits: 15 bits in 2 bytes; 31 = 11111, 0, 1 = 00001
    assert baselines.pack_bits(np.array([31, 0, 1]), 5) == bytes([0b00011111, 0b00000100])


def test_pack_bits_round_trips_any_width() -> None:
    rng = np.random.default_rng(4)
    for nbits in (1, 7, 13, 31, 32):
        items = rng.integers(0, 2**nbits, 1001, dtype=np.uint64)
        data = baselines.pack_bits(items, nbits)
        assert len(data) == (1001 * nbits + 7) // 8
        bits = np.unpackbits(np.frombuffer(data, np.uint8), count=1001 * nbits, bitorder="little")
        weights = np.uint64(1) << np.arange(nbits, dtype=np.uint64)
        back = (bits.reshape(1001, nbits).astype(np.uint64) * weights).sum(axis=1)
        np.testing.assert_array_equal(back, items)


@pytest.mark.parametrize(
    ("word", "bits", "expected_word"),
    [
        (0x3F800000, 10, 0x3F800000),  # 1.0: nothing to cut
        (0x3FFFFFFF, 10, 0x3FC00000),  # 1.99999988: one mantissa bit left, 1.5 (toward zero)
        (0xC0533333, 16, 0xC0530000),  # -3.3: seven mantissa bits, -3.296875 (toward zero)
        (0x7F800000, 10, 0x7F800000),  # inf
        (0x7FC00000, 10, 0x7FC00000),  # the quiet NaN keeps its top mantissa bit
        (0x00000001, 31, 0x00000000),  # smallest subnormal: its only bit is cut
    ],
)
def test_real32_trunc_hand_computed(word: int, bits: int, expected_word: int) -> None:
    items = baselines.real32_trunc_encode(u32(word), bits)
    assert int(items[0]) == word >> (32 - bits)
    assert int(baselines.real32_trunc_decode(items, bits).view(np.uint32)[0]) == expected_word


def test_real32_quant_hand_computed() -> None:
    """[0, 1] at 2 bits: 3 steps; q = trunc(0.5 + 3x), x' = q / 3."""
    values = f32(0.0, 0.49, 0.5, 1.0)
    codes = baselines.real32_quant_encode(values, 2, 0.0, 1.0)
    np.testing.assert_array_equal(codes, [0, 1, 2, 3])
    restored = baselines.real32_quant_decode(codes, 2, 0.0, 1.0)
    np.testing.assert_array_equal(restored, f32(0.0, 1 / 3, 2 / 3, 1.0))


def test_real32_quant_refuses_values_outside_its_range() -> None:
    with pytest.raises(OptionError, match="2 values are outside"):
        baselines.real32_quant_encode(f32(0.5, 1.5, np.nan), 8, 0.0, 1.0)
    with pytest.raises(OptionError, match="1 to 32 bits"):
        baselines.real32_quant_encode(f32(0.5), 33, 0.0, 1.0)


def test_real16_rounds_to_nearest_even_and_overflows_to_inf() -> None:
    values = f32(1 / 3, 1 + 2**-11, 1 + 3 * 2**-11, 65504.0, 65520.0, -0.0)
    items = baselines.real16_encode(values)
    np.testing.assert_array_equal(items, [0x3555, 0x3C00, 0x3C02, 0x7BFF, 0x7C00, 0x8000])
    assert baselines.real16_decode(items)[0] == np.float32(0.333251953125)


@pytest.mark.parametrize(
    ("word", "bits", "expected_word"),
    [
        (0x3EAAAAAB, 12, 0x3EAAA800),  # 1/3: 12 mantissa bits, the 13th (0) rounds down
        (0x3F9FFFFF, 2, 0x3FA00000),  # 1.24999988: 1.01|11... rounds half up to 1.01 = 1.25
        (0x3FFFFFFF, 2, 0x3FE00000),  # 1.99999988: the carry saturates at 1.11 = 1.75
        (0xC0533333, 6, 0xC0540000),  # -3.3: 1.101010|0 -> -3.3125 (sign kept)
        (0x80000000, 6, 0x00000000),  # -0.0 is not < 0: stored as +0.0
        (0x7F800000, 6, 0x7F800000),  # inf
    ],
)
def test_float16_truncation_hand_computed(word: int, bits: int, expected_word: int) -> None:
    stored = baselines.float16_truncate_encode(u32(word), bits)
    assert stored.itemsize == 3 and stored["exponent"][0] == (word >> 23) & 0xFF
    restored = baselines.float16_truncate_decode(stored, bits)
    assert int(restored.view(np.uint32)[0]) == expected_word


def test_ttree_range_hand_computed() -> None:
    """[0, 1, 2]: factor 2^2 / 1 = 4; aint = UInt_t(0.5 + 4x) after clamping; x' = aint / 4."""
    codes = baselines.ttree_range_encode(f32(0.3, 0.5, 1.0, -1.0, 7.0), 2, 0.0, 1.0)
    np.testing.assert_array_equal(codes, [1, 2, 4, 0, 4])  # x = max gives 2^nbits (a UInt_t)
    float16 = baselines.ttree_range_decode(codes, 2, 0.0, 1.0)
    np.testing.assert_array_equal(float16, f32(0.25, 0.5, 1.0, 0.0, 1.0))
    # Double32_t reads back in double precision: 8 / 160 is 0.05 as a double, not as a float
    code = baselines.ttree_range_encode(f32(0.05), 4, 0.0, 0.1)
    assert int(code[0]) == 8
    assert baselines.ttree_range_decode(code, 4, 0.0, 0.1, dtype="float64")[0] == 8 / 160
    assert baselines.ttree_range_decode(code, 4, 0.0, 0.1)[0] == np.float32(8 / 160)


def test_root_compressed_bytes_adds_block_headers_and_never_grows() -> None:
    zeros = bytes(100_000)
    compressed = baselines.root_compressed_bytes(zeros, 32_000)
    assert 4 * baselines.ROOT_BLOCK_HEADER < compressed < 1000  # 4 baskets, each with a header
    noise = np.random.default_rng(0).bytes(5000)
    assert baselines.root_compressed_bytes(noise, 32_000) == 5000


@pytest.mark.parametrize("container", ["rntuple", "ttree"])
def test_root_min_bits_meet_every_tolerance_with_the_fewest_bits(
    jet_columns: dict[str, np.ndarray], container: str
) -> None:
    tolerances = parse_tolerances("m=0.1%,pt=0.1%,eta=0.001,phi=0.001")
    result = baselines.compress_root_for_tolerances(jet_columns, tolerances, container)
    assert result.method == f"{container}-min-bits"
    for name, tolerance in tolerances.items():
        restored = result.reconstruction[name]
        assert not tolerance.violations(jet_columns[name], restored).any(), name
    assert result.nbytes < baselines.compress_lossless(jet_columns).nbytes
    if container == "rntuple":  # pt: 0.1 % needs 2^-(n-9) <= 1e-3 truncated, n = 19
        assert result.detail["m"] == "Real32Trunc(19)"  # m has zeros and negatives
        fewer = baselines.real32_trunc_decode(
            baselines.real32_trunc_encode(jet_columns["m"], 18), 18
        )
        assert tolerances["m"].violations(jet_columns["m"], fewer).any()


def test_root_falls_back_to_plain_floats_below_their_precision() -> None:
    values = {"x": np.array([1.1, 2.3, np.nan, 3.7], dtype=np.float32)}
    tight = {"x": Tolerance(1e-9, relative=True)}
    result = baselines.compress_root_for_tolerances(values, tight, "rntuple")
    assert result.detail["x"] == "SplitReal32"
    assert np.array_equal(result.reconstruction["x"], values["x"], equal_nan=True)


# ----------------------------------------------------------------------------- the benchmark
@pytest.mark.slow
def test_rate_distortion_benchmark_runs_end_to_end(atlas_4d_path, tmp_path, monkeypatch) -> None:
    """The benchmark script on a few hundred jets: every output written, jetzip within bounds."""
    import importlib.util
    import json
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "rate_distortion.py"
    spec = importlib.util.spec_from_file_location("rate_distortion", script)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "rate_distortion", module)  # dataclasses look it up
    monkeypatch.syspath_prepend(str(script.parent))  # as when run as a script: its helpers
    spec.loader.exec_module(module)
    arguments = ["--quick", "--pythia-events", "0", "--max-rows", "300", "--output", str(tmp_path)]
    assert module.main(arguments) == 0

    report = json.loads((tmp_path / "rate_distortion.json").read_text())
    assert (tmp_path / "rate_distortion.md").read_text().startswith("# Rate-distortion")
    assert (tmp_path / "rate_distortion_atlas_4d.png").stat().st_size > 10_000
    methods = {row["method"] for row in report["rows"] if row["dataset"] == "atlas_4d"}
    assert {"lossless", "mantissa", "nanoaod", "sz3", "zfp", "entropy"} <= methods
    assert {"rntuple-min-bits", "ttree-min-bits"} <= methods
    for row in report["rows"]:
        if row["method"] in ("jetzip-bounded", "rntuple-min-bits", "ttree-min-bits") or row[
            "method"
        ].startswith("mantissa-min"):
            assert all(e["violations"] == 0 for e in row["errors"].values()), row
    assert len(report["targets"]) == 3 * len({r["dataset"] for r in report["rows"]})
