"""exactmath: accuracy against mpmath (in ulps), the edge cases, monotonicity where the grid relies
on it; the compiled twins (kernels) give the same bits as the numpy versions, and their machine
code has no fused multiply-adds (whose single rounding would differ from a CPU that has none)."""

from __future__ import annotations

import mpmath
import numba
import numpy as np
import pytest

from jetzip.codec import exactmath, kernels

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


@pytest.mark.parametrize(
    "function",
    [
        kernels.exp_scalar,
        kernels.log_scalar,
        kernels.quantise_column,
        kernels.reconstruct_column,
    ],
    ids=lambda f: f.__name__,
)
def test_machine_code_has_no_fused_multiply_add(function):
    """numba without fastmath must not contract a * b + c into an FMA (the same source would
    give other bits on a CPU without FMA). Compiled afresh here (cached code cannot be
    inspected) for this CPU, which has FMA, so a contraction would show."""
    fresh = numba.njit(function.py_func)
    n = 8
    x = np.linspace(1.0, 2.0, n)
    if function is kernels.quantise_column:
        fresh(
            x.astype(np.float32), np.zeros(1), False, True, 1e-3, 1e-3, np.empty(n, np.int32),
            np.empty(n, np.float32), np.empty(n, np.bool_), np.empty(n, np.int64),
        )  # fmt: skip
    elif function is kernels.reconstruct_column:
        fresh(
            np.zeros(n, np.int32), np.zeros(1, np.bool_), False, x, True, True, 1e-3,
            np.empty(n, np.float32),
        )  # fmt: skip
    else:
        fresh(1.5)
    for ir in fresh.inspect_llvm().values():
        assert "fmuladd" not in ir and "llvm.fma" not in ir
        assert " contract " not in ir and " fast " not in ir
    for assembly in fresh.inspect_asm().values():
        assert "vfmadd" not in assembly and "vfmsub" not in assembly and "vfnmadd" not in assembly


@numba.njit
def _compiled(function, x: np.ndarray) -> np.ndarray:
    out = np.empty_like(x)
    for i in range(x.size):
        out[i] = function(x[i])
    return out


def test_compiled_exp_and_log_give_the_numpy_versions_bits():
    special = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, -1.0, 5e-324, 1e300, -1e300, 800.0])
    with np.errstate(all="ignore"):
        for function, numpy_version, arguments in (
            (kernels.exp_scalar, exactmath.exp, EXP_ARGUMENTS),
            (kernels.log_scalar, exactmath.log, LOG_ARGUMENTS),
        ):
            x = np.concatenate([arguments, special])
            expected = numpy_version(x).view(np.uint64)
            np.testing.assert_array_equal(_compiled(function, x).view(np.uint64), expected)
