"""Transforms: exact inverses, fitting on training data only, JSON round trips, schemes."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from jetzip.errors import InputError, OptionError
from jetzip.transforms import (
    Asinh,
    Chain,
    Log,
    Normaliser,
    Scale,
    Shift,
    Standardise,
    build_normaliser,
    physics_role,
    step_from_text,
)

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
positive = st.floats(min_value=1e-3, max_value=1e7, allow_nan=False, allow_infinity=False)


def assert_inverse(step_or_chain, values: np.ndarray) -> None:
    back = step_or_chain.inverse(step_or_chain.forward(values))
    np.testing.assert_allclose(back, values, rtol=1e-12, atol=1e-9 * (1 + np.max(np.abs(values))))


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, st.integers(1, 50), elements=finite), st.floats(1e-3, 1e4))
def test_asinh_scale_shift_inverse_for_any_sign(values: np.ndarray, scale: float) -> None:
    for step in (Asinh(scale), Scale(1 / scale), Shift(scale)):
        assert_inverse(step, values)


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, st.integers(1, 50), elements=positive), st.sampled_from([np.e, 10.0]))
def test_log_inverse(values: np.ndarray, base: float) -> None:
    step = Log(offset=1.0, base=base)
    step.fit(values)
    assert_inverse(step, values)


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, st.integers(2, 50), elements=positive))
def test_fitted_chain_inverse_and_json_round_trip(values: np.ndarray) -> None:
    chain = Chain([Log(offset=1.0), Scale(0.2), Standardise()])
    chain.fit(values)
    assert_inverse(chain, values)
    rebuilt = Normaliser.from_json(Normaliser({"pt": chain}).to_json()).chains["pt"]
    np.testing.assert_array_equal(rebuilt.forward(values), chain.forward(values))


def test_standardise_fits_training_rows_only() -> None:
    train = np.array([[1.0], [3.0]])
    normaliser = build_normaliser(["x"], "standard").fit(train)
    np.testing.assert_allclose(normaliser.transform(train)[:, 0], [-1.0, 1.0])
    np.testing.assert_allclose(normaliser.transform(np.array([[100.0]]))[0, 0], 98.0)


def test_custom_scheme_handles_atlas_style_masses() -> None:
    rng = np.random.default_rng(1)
    matrix = np.column_stack(
        [
            np.concatenate([[-0.045, 0.0], rng.uniform(1, 5e4, 98)]),  # m, MeV, some <= 0
            rng.uniform(2e4, 1e6, 100),  # pt
            rng.uniform(-np.pi, np.pi, 100),  # phi
            rng.uniform(-4, 4, 100),  # eta
        ]
    )
    normaliser = build_normaliser(["m", "pt", "phi", "eta"], "custom").fit(matrix)
    scaled = normaliser.transform(matrix)
    np.testing.assert_allclose(scaled.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(scaled.std(axis=0), 1, rtol=1e-12)
    np.testing.assert_allclose(normaliser.inverse(scaled), matrix, rtol=1e-12, atol=1e-9)
    kinds = {c: [s["kind"] for s in steps] for c, steps in normaliser.to_json_dict().items()}
    assert kinds == {
        "m": ["asinh", "standardise"],
        "pt": ["log", "standardise"],
        "phi": ["scale", "standardise"],
        "eta": ["scale", "standardise"],
    }
    assert json.loads(normaliser.to_json())["eta"][0]["factor"] == pytest.approx(0.2)


def test_names_are_recognised_and_unknown_columns_get_zscore() -> None:
    assert physics_role("Jet_pt") == "pt"
    assert physics_role("AnalysisJetsAuxDyn.eta") == "eta"
    assert physics_role("E") == "mass"
    normaliser = build_normaliser(["EMFrac"], "custom")
    assert [s.kind for s in normaliser.chains["EMFrac"].steps] == ["standardise"]


def test_overrides_replace_the_scheme_for_their_column() -> None:
    normaliser = build_normaliser(
        ["m", "pt"], "custom", {"m": ["log10(offset=1)", {"kind": "standardise"}]}
    )
    assert normaliser.chains["m"].to_list()[0] == {"kind": "log", "offset": 1.0, "base": 10.0}
    assert [s.kind for s in normaliser.chains["pt"].steps] == ["log", "standardise"]


@pytest.mark.parametrize(
    ("text", "message"),
    [("sqrt", "unknown transform"), ("log(offset)", "key=value"), ("log(offset=x)", "number")],
)
def test_bad_transform_text_is_an_option_error(text: str, message: str) -> None:
    with pytest.raises(OptionError, match=message):
        step_from_text(text)


@pytest.mark.parametrize(
    ("chain", "message"),
    [
        (["log(offset=nan)"], "offset=nan of 'log' is not a finite number"),
        ([{"kind": "scale", "factor": "0.2"}], "factor='0.2' of 'scale' is not a finite number"),
        ([{"kind": "scale", "factor": True}], "factor=True of 'scale' is not a finite number"),
        (["log", 5], "a transform is text like 'log(offset=1)' or a table, not 5"),
        ("log", "the transforms of 'm' are a list"),
    ],
)
def test_a_chain_that_is_not_steps_of_numbers_is_an_option_error(chain, message: str) -> None:
    with pytest.raises(OptionError, match=re.escape(message)):
        build_normaliser(["m"], "custom", {"m": chain})


def test_log_refuses_values_outside_its_domain() -> None:
    with pytest.raises(InputError, match="asinh"):
        build_normaliser(["pt"], "custom").fit(np.array([[-1.0], [2.0]]))


def test_unknown_scheme_and_override_column() -> None:
    with pytest.raises(OptionError, match="scheme"):
        build_normaliser(["m"], "fancy")
    with pytest.raises(OptionError, match="unknown column"):
        build_normaliser(["m"], "custom", {"pt": ["log"]})
