"""exactmath: accuracy against mpmath (in ulps), the edge cases, monotonicity where the grid relies
on it; the compiled C kernels (_gridkernels) give the same bits as the numpy versions, exp and log
and the whole quantiser and decoder on hostile columns, and their machine code has no fused
multiply-adds (whose single rounding would differ from a CPU that has none)."""

from __future__ import annotations

import shutil
import subprocess

import mpmath
import numpy as np
import pytest

from jetzip.codec import _gridkernels, exactmath, parse_tolerances, quantize
from native import baseline_build

mpmath.mp.prec = 120


def ulp_errors(got: np.ndarray, x: np.ndarray, reference) -> np.ndarray:
    """|got - f(x)| in units of the last place of the exact f(x)."""
    errors = []
    for value, argument in zip(got.tolist(), x.tolist(), strict=True):
        exact = reference(mpmath.mpf(argument))
        unit = np.spacing(abs(float(exact))) if exact != 0 else np.spacing(0.0)
        errors.append(float(abs(mpmath.mpf(value) - exact)) / unit)
    return np.array(errors)


RNG = np.random.default_rng(20)
EXP_ARGUMENTS = np.concatenate(
    [
        RNG.uniform(-745.0, 709.7, 1500),
        RNG.uniform(-1.0, 1.0, 1000),
        RNG.normal(0.0, 1e-9, 200),
        np.array([0.0, 1.0, -1.0, 0.5 * np.log(2.0), 709.78, -708.3, -740.0, 1e-300]),
    ]
)
LOG_ARGUMENTS = np.concatenate(
    [
        np.exp(RNG.uniform(-744.0, 709.0, 1500)),
        RNG.uniform(0.5, 2.0, 1000),
        1.0 + RNG.normal(0.0, 1e-10, 200),
        np.array([1.0, 2.0, 0.5, np.sqrt(2.0), 5e-324, 2.0**-1022, np.finfo(np.float64).max]),
    ]
)


@pytest.mark.parametrize(
    ("function", "arguments", "reference"),
    [
        (exactmath.exp, EXP_ARGUMENTS, mpmath.exp),
        (exactmath.log, LOG_ARGUMENTS, mpmath.log),
        (
            exactmath.log1p,
            np.array([1e-300, 2e-16, 1e-13, 1e-9, 1e-3, 0.5, 3.0, 1e10]),
            mpmath.log1p,
        ),
        (exactmath.cosh, RNG.uniform(-40.0, 40.0, 500), mpmath.cosh),
    ],
    ids=["exp", "log", "log1p", "cosh"],
)
def test_within_about_one_ulp_of_mpmath(function, arguments, reference):
    errors = ulp_errors(function(arguments), arguments, reference)
    assert errors.max() < 1.5, errors.max()


def test_hypot_against_mpmath_and_without_overflow():
    a, b = RNG.uniform(-1e6, 1e6, 300), RNG.uniform(-1e6, 1e6, 300)
    got = exactmath.hypot(a, b)
    exact = [
        mpmath.sqrt(mpmath.mpf(x) ** 2 + mpmath.mpf(y) ** 2) for x, y in zip(a, b, strict=True)
    ]
    errors = [
        float(abs(mpmath.mpf(g) - e)) / np.spacing(float(e))
        for g, e in zip(got, exact, strict=True)
    ]
    assert max(errors) < 2.0
    assert exactmath.hypot(np.array([3e300]), np.array([4e300]))[0] == pytest.approx(5e300)
    special = exactmath.hypot(np.array([np.inf, np.nan, 0.0]), np.array([np.nan, 1.0, 0.0]))
    assert special[0] == np.inf and np.isnan(special[1]) and special[2] == 0.0


def test_edge_cases():
    with np.errstate(all="ignore"):
        e = exactmath.exp(np.array([np.nan, np.inf, -np.inf, 710.0, -746.0, 0.0]))
        lg = exactmath.log(np.array([np.nan, np.inf, 0.0, -1.0, 1.0, 5e-324]))
    assert np.isnan(e[0]) and e[1] == np.inf and e[2] == 0.0 and e[3] == np.inf
    assert e[4] == 0.0 and e[5] == 1.0
    assert np.isnan(lg[0]) and lg[1] == np.inf and lg[2] == -np.inf and np.isnan(lg[3])
    assert lg[4] == 0.0 and lg[5] == pytest.approx(-744.4400719213812, rel=1e-15)
    # the subnormal range of exp: one rounding of y * 2**k, down to the smallest subnormal
    assert exactmath.exp(np.array([-744.44007192138126]))[0] == 5e-324


def test_exp_and_log_are_monotonic_on_dense_grids():
    """Neighbouring grid codes must not swap order (a code and its reconstruction stay sorted)."""
    for start in (-700.0, -1.0, 0.3, 11.5, 700.0):
        x = start + np.arange(200_000) * abs(np.spacing(start)) * 7
        assert np.all(np.diff(exactmath.exp(x)) >= 0)
        positive = np.abs(x) + 1e-3
        assert np.all(np.diff(exactmath.log(np.sort(positive))) >= 0)


def test_grid_values_round_trip_through_log():
    """The quantiser's inverse pair: log(exp(q s)) comes back to q s within a few units of
    rounding (exp's relative error becomes an absolute one of about one epsilon)."""
    q = np.arange(-50_000, 50_000, dtype=np.float64) * 2e-3
    back = exactmath.log(exactmath.exp(q))
    assert np.all(np.abs(back - q) <= 4 * np.finfo(float).eps * np.maximum(np.abs(q), 1.0))


SPECIAL = np.array(
    [
        *(np.nan, -np.nan, np.inf, -np.inf, 0.0, -0.0, -1.0, 5e-324, -5e-324, 2.0**-1022),
        *(1e-310, 1e300, -1e300, 800.0, -800.0, 709.782712893384, -745.1332191019411),
        *(
            -744.4400719213812,
            np.finfo(np.float64).max,
            np.sqrt(2.0),
            np.nextafter(np.sqrt(2.0), 2),
        ),
    ]
)


def bits(x: np.ndarray) -> np.ndarray:
    return x.view(f"u{x.itemsize}")


@pytest.mark.parametrize(
    ("compiled", "numpy_version", "arguments"),
    [
        (_gridkernels.exp, exactmath.exp, EXP_ARGUMENTS),
        (_gridkernels.log, exactmath.log, LOG_ARGUMENTS),
    ],
    ids=["exp", "log"],
)
def test_compiled_exp_and_log_give_the_numpy_versions_bits(compiled, numpy_version, arguments):
    """Also over the whole double range by exponent (subnormals, huge values) and the edges."""
    spread = np.ldexp(RNG.uniform(0.5, 1.0, 20_000), RNG.integers(-1074, 1024, 20_000))
    x = np.concatenate([arguments, SPECIAL, spread, -spread, spread * 1e-300])
    out = np.empty_like(x)
    compiled(x, out)
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(bits(out), bits(numpy_version(x)))


def reference_quantise(values, tolerance, prediction):
    """The quantiser in numpy from exactmath's functions (the kernel's definition, docs/codec.md):
    codes, restored values, exception rows and the largest errors of the met rows."""
    x = values.astype(np.float64)
    step = quantize.quantisation_step(tolerance)
    relative = tolerance.relative
    magnitude = np.abs(x)
    offset = np.zeros_like(x)
    with np.errstate(all="ignore"):
        if prediction is not None:
            p = prediction.astype(np.float64)
            usable = np.abs(p) < np.inf
            if relative:
                logs = exactmath.log(np.maximum(np.abs(p), np.finfo(np.float64).tiny))
                offset = np.where(usable, logs, 0.0)
            else:
                offset = np.where(usable, p, 0.0)
        transformed = exactmath.log(magnitude) if relative else x
        grid = np.rint((transformed - offset) / step) + 0.0
        representable = np.abs(grid) < quantize.MAX_CODE
        values_on_grid = np.where(representable, grid, 0.0) * step + offset
        if relative:
            values_on_grid = exactmath.exp(values_on_grid)
            values_on_grid = np.where(x < 0.0, -values_on_grid, values_on_grid)
        restored = values_on_grid.astype(values.dtype)
        error = np.abs(restored.astype(np.float64) - x)
        allowed = tolerance.value * magnitude if relative else tolerance.value
        met = representable & (error <= allowed) & (error < np.inf)
        relative_errors = error[met & (magnitude != 0.0)] / magnitude[met & (magnitude != 0.0)]
    restored[~met] = values[~met]
    codes = np.where(met, grid, 0.0).astype(np.int64)
    largest = (float(error[met].max(initial=0.0)), float(relative_errors.max(initial=0.0)))
    return codes, restored, np.flatnonzero(~met), largest


def hostile_columns() -> list[tuple[np.ndarray, str, np.ndarray | None]]:
    """(values, tolerance, prediction): signs, zeros, subnormals, NaN/inf, huge values, values
    beyond the grid, codes beyond int32 (absolute 1e-9), tolerances of a few ulps, predictions
    with zeros, NaN and inf."""
    rng = np.random.default_rng(11)
    x = rng.lognormal(3.0, 4.0, 20_000) * rng.choice([-1.0, 1.0], 20_000)
    x[::97] = 0.0
    x[1::89] = -0.0
    x[2::83] = np.nan
    x[3::79] = np.inf
    x[4::73] = 5e-324
    x[5::71] = 1e300
    x[6::67] = -np.inf
    x[7::61] = 1e-310
    prediction = x * rng.uniform(0.9, 1.1, x.size)
    prediction[::7] = 0.0
    prediction[1::11] = np.nan
    prediction[2::13] = -np.inf
    cases = []
    for dtype in (np.float64, np.float32):
        with np.errstate(all="ignore"):
            values = x.astype(dtype)
        for tolerance in ("1%", "1e-13%", "0.5", "1e-300", "1e-9"):
            cases.append((values, tolerance, None))
            for prediction_dtype in (np.float64, np.float32):
                with np.errstate(all="ignore"):
                    cases.append((values, tolerance, prediction.astype(prediction_dtype)))
    return cases


@pytest.mark.parametrize("case", range(30))
def test_compiled_quantiser_and_decoder_give_the_reference_bits(case):
    """Codes, restored and decoded values, exceptions and error statistics of the C kernel equal
    the numpy reference bit for bit; codes beyond int32 switch the column to int64 codes."""
    values, text, prediction = hostile_columns()[case]
    tolerance = parse_tolerances(f"x={text}")["x"]
    codes, restored, rows, largest = reference_quantise(values, tolerance, prediction)
    column = quantize.quantise(values, tolerance, prediction)
    wide = np.abs(codes).max() >= 2**31
    assert column.codes.dtype == (np.int64 if wide else np.int32)
    np.testing.assert_array_equal(column.codes, codes)
    np.testing.assert_array_equal(column.exception_rows, rows)
    np.testing.assert_array_equal(bits(column.restored), bits(restored))
    assert (column.max_abs_error, column.max_rel_error) == largest
    with np.errstate(invalid="ignore"):
        negative = values < 0
    if column.negative is not None:
        np.testing.assert_array_equal(column.negative, negative)
    else:
        assert not (tolerance.relative and negative.any())
    decoded = quantize.dequantise(column, tolerance, values.dtype, prediction)
    np.testing.assert_array_equal(bits(decoded), bits(restored))
    assert not tolerance.violations(values, decoded).any()
    if text == "1e-9":
        assert wide


def test_kernels_refuse_wrong_arrays_with_one_line():
    codes = np.zeros(4, np.int32)
    out = np.empty(4, np.float64)
    with pytest.raises(TypeError, match="codes: int32 or int64"):
        _gridkernels.reconstruct(codes.astype(np.int16), None, None, True, 0.1, out)
    with pytest.raises(ValueError, match="different lengths"):
        _gridkernels.reconstruct(codes, None, None, True, 0.1, out[:3])
    with pytest.raises(TypeError, match="writable"):
        out.flags.writeable = False
        _gridkernels.reconstruct(codes, None, None, True, 0.1, out)
    with pytest.raises(TypeError, match="C-contiguous"):
        _gridkernels.exp(np.zeros(8)[::2], np.empty(4))


@pytest.mark.skipif(shutil.which("objdump") is None, reason="objdump (binutils) is not installed")
def test_machine_code_has_no_fused_multiply_add():
    """The flags of setup.py keep a * b + c two roundings: no FMA instruction in the extension
    (x86-64: vfmadd..., aarch64: fmadd/fmsub/fnmadd/fnmsub, also as vector fmla/fmls)."""
    listing = subprocess.run(
        ["objdump", "-d", _gridkernels.__file__], capture_output=True, text=True, check=True
    ).stdout
    instructions = {
        line.split("\t")[2].split()[0] for line in listing.splitlines() if line.count("\t") >= 2
    }
    fused = {
        i
        for i in instructions
        if "fma" in i or "fms" in i or "fnm" in i or i.startswith(("fmla", "fmls"))
    }
    assert instructions and not fused, sorted(fused)


@pytest.fixture(scope="module")
def other_versions(tmp_path_factory):
    """The grid kernels with only their baseline loops, and with only the AVX2 and baseline ones
    (what a CPU without AVX-512 runs; see tests/native.py)."""
    return [
        baseline_build("codec", "_gridkernels", tmp_path_factory.mktemp(name), flags)
        for name, flags in (("baseline", "-DJETZIP_ONE_VERSION"), ("avx2", "-DJETZIP_NO_AVX512"))
    ]


@pytest.mark.parametrize("case", [0, 1, 3, 6, 15, 16, 18, 21, 25])
def test_the_simd_versions_give_the_same_bits(other_versions, case):
    """Whichever version of the loops a CPU gets, the codes, values and statistics are the
    same: the dispatched kernels against a baseline-only and an AVX2 build, on hostile columns
    (20 000 rows: many blocks of the loops, failures spread over them)."""
    values, text, prediction = hostile_columns()[case]
    tolerance = parse_tolerances(f"x={text}")["x"]
    step = quantize.quantisation_step(tolerance)
    results = []
    for module in (_gridkernels, *other_versions):
        n = values.size
        codes, restored = np.empty(n, np.int64), np.empty(n, values.dtype)
        negative, failed = np.empty(n, np.bool_), np.empty(n, np.int64)
        summary = module.quantise(
            values, prediction, tolerance.relative, step, float(tolerance.value), codes,
            restored, negative, failed,
        )  # fmt: skip
        decoded = np.empty(n, values.dtype)
        module.reconstruct(codes, negative, prediction, tolerance.relative, step, decoded)
        results.append((summary, codes, bits(restored), failed[: summary[0]], bits(decoded)))
    (dispatched, *arrays), *others = results
    for summary, *other_arrays in others:
        assert summary == dispatched
        for left, right in zip(arrays, other_arrays, strict=True):
            np.testing.assert_array_equal(left, right)


@pytest.mark.parametrize("value", [1e-9, 0.001, 0.5, 3.0])
def test_relative_step_is_computed_once_with_the_same_bits(value):
    """The relative step is cached per bound and grid (a wide file quantises thousands of
    columns): the same bits as computing it, exactmath's log1p for GRID, numpy's for files
    written before the grid was recorded, and an unknown grid still refused."""
    from jetzip.codec.tolerance import Tolerance
    from jetzip.errors import CorruptFileError

    tolerance = Tolerance(value, relative=True)
    for grid, maths in ((quantize.GRID, exactmath), (None, np)):
        expected = 2.0 * float(maths.log1p(np.float64(value))) * quantize.STEP_SAFETY
        for _ in range(2):  # computed, then from the cache
            assert quantize.quantisation_step(tolerance, grid) == expected
    with pytest.raises(CorruptFileError, match="unknown quantisation grid"):
        quantize.quantisation_step(tolerance, "exactmath-99")
