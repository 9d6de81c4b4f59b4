"""Tolerance strings: parsing, the per-value check, and the errors a user can cause."""

from __future__ import annotations

import numpy as np
import pytest

from jetzip.codec import Tolerance, parse_tolerances
from jetzip.errors import OptionError


def test_parse_relative_and_absolute_in_order():
    tols = parse_tolerances("pt=0.1%, m=0.1%,eta=0.001,phi=1e-3")
    assert list(tols) == ["pt", "m", "eta", "phi"]
    assert tols["pt"] == Tolerance(0.001, relative=True)
    assert tols["eta"] == Tolerance(0.001, relative=False)
    assert tols["phi"].value == pytest.approx(1e-3)
    assert tols["pt"].to_text() == "0.1%"


@pytest.mark.parametrize(
    "text",
    ["", "pt", "pt=", "=0.1", "pt=abc", "pt=0.1%%", "pt=1,,m=2", "p t=0.1", "pt=0.1;m=0.2"],
)
def test_malformed_strings_are_refused(text):
    with pytest.raises(OptionError):
        parse_tolerances(text)


@pytest.mark.parametrize("value", ["0", "-0.1", "0%", "-1%", "nan", "inf"])
def test_zero_negative_and_nonfinite_tolerances_are_refused(value):
    with pytest.raises(OptionError, match="positive"):
        parse_tolerances(f"pt={value}")


def test_duplicate_column_is_refused():
    with pytest.raises(OptionError, match="twice"):
        parse_tolerances("pt=0.1%,pt=0.2%")


def test_violations_relative():
    tol = Tolerance(0.01, relative=True)
    original = np.array([100.0, 100.0, -100.0, 0.0, 0.0, 1e-300])
    restored = np.array([101.0, 101.5, -99.0, 0.0, 1e-320, 1.0099e-300])
    assert tol.violations(original, restored).tolist() == [False, True, False, False, True, False]


def test_violations_absolute_and_nonfinite():
    tol = Tolerance(0.5, relative=False)
    original = np.array([1.0, 1.0, np.nan, np.inf, -np.inf, np.nan])
    restored = np.array([1.5, 1.6, np.nan, np.inf, np.inf, 0.0])
    assert tol.violations(original, restored).tolist() == [False, True, False, False, True, True]


def test_violations_check_the_float32_cast():
    """A float64 value that meets the bound may miss it once cast to float32."""
    tol = Tolerance(1e-9, relative=True)
    original = np.array([1.0 + 1e-7])
    assert not tol.violations(original, original).any()
    assert tol.violations(original, original.astype(np.float32)).all()


def test_a_finite_value_never_meets_its_bound_as_infinity():
    """Near the float64 limit a wide relative bound overflows to infinity; infinity still misses
    it, and the codec stores such a value exactly."""
    from jetzip.codec.quantize import quantise

    tol = Tolerance(1.78, relative=True)
    huge = np.array([1.3e308, -1.3e308, 1.0])
    assert tol.violations(huge, np.array([np.inf, -np.inf, 1.0])).tolist() == [True, True, False]
    quantised = quantise(huge, tol)
    assert np.isfinite(quantised.restored).all()
    assert not tol.violations(huge, quantised.restored).any()
    assert np.isfinite([quantised.max_abs_error, quantised.max_rel_error]).all()
