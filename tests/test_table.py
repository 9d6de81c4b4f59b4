"""The Table type: validation, selection, slicing, conversions and value checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from jetzip.errors import InputError
from jetzip.table import Table


def small_table() -> Table:
    return Table(
        {
            "pt": np.array([30.0, 40.0, 50.0, 60.0], dtype=np.float32),
            "eta": np.array([0.1, -0.2, 1.5, -2.5]),
            "n_const": np.array([10, 12, 7, 3], dtype=np.int32),
        },
        event=np.array([0, 0, 1, 2]),
        units={"pt": "GeV", "eta": ""},
    )


def test_shape_and_access() -> None:
    t = small_table()
    assert t.names == ["pt", "eta", "n_const"]
    assert t.n_rows == len(t) == 4
    assert t.n_events == 3
    assert t.float_names == ["pt", "eta"]
    assert t["pt"].dtype == np.float32


def test_missing_column_lists_existing_ones() -> None:
    with pytest.raises(InputError, match=r"no column 'm'.*pt, eta, n_const"):
        small_table()["m"]
    with pytest.raises(InputError, match="missing column"):
        small_table().select(["pt", "m"])


def test_rejects_inconsistent_columns() -> None:
    with pytest.raises(InputError, match="different lengths"):
        Table({"a": np.zeros(3), "b": np.zeros(4)})
    with pytest.raises(InputError, match="not one-dimensional"):
        Table({"a": np.zeros((3, 2))})
    with pytest.raises(InputError, match="not numeric"):
        Table({"a": np.array(["x", "y"])})
    with pytest.raises(InputError, match="event index has 2 entries"):
        Table({"a": np.zeros(3)}, event=np.array([0, 1]))


def test_select_slice_take_keep_event_and_units() -> None:
    t = small_table()
    s = t.select(["eta", "pt"])
    assert s.names == ["eta", "pt"]
    assert s.units == {"eta": "", "pt": "GeV"}
    part = t.slice(1, 3)
    np.testing.assert_array_equal(part["pt"], [40.0, 50.0])
    np.testing.assert_array_equal(part.event, [0, 1])
    mask = t.take(t["pt"] > 45)
    assert mask.n_rows == 2


def test_matrix_orders_columns() -> None:
    m = small_table().matrix(["eta", "pt"])
    assert m.shape == (4, 2)
    np.testing.assert_array_equal(m[:, 1], [30.0, 40.0, 50.0, 60.0])


def test_pandas_round_trip_keeps_event_index_and_dtypes() -> None:
    t = small_table()
    frame = t.to_pandas()
    assert list(frame.columns) == ["event", "pt", "eta", "n_const"]
    back = Table.from_pandas(frame, units=t.units)
    assert back.equals(t)


def test_from_pandas_rejects_text_column() -> None:
    with pytest.raises(InputError, match="not numeric"):
        Table.from_pandas(pd.DataFrame({"a": [1.0], "b": ["x"]}))


def test_concat_of_slices_is_the_whole() -> None:
    t = small_table()
    assert Table.concat([t.slice(0, 1), t.slice(1, 4)]).equals(t)
    with pytest.raises(InputError, match="cannot concatenate"):
        Table.concat([t, t.select(["pt"])])


def test_equals_detects_value_dtype_and_event_differences() -> None:
    t = small_table()
    other = small_table()
    other.columns["eta"] = other.columns["eta"].copy()
    other.columns["eta"][0] += 1e-12
    assert not t.equals(other)
    assert not t.equals(Table({**t.columns, "pt": t["pt"].astype(np.float64)}, event=t.event))
    assert not t.equals(Table(dict(t.columns)))


def test_check_usable_refuses_empty_and_nonfinite_with_counts() -> None:
    with pytest.raises(InputError, match="empty"):
        Table({"a": np.zeros(0)}).check_usable()
    with pytest.raises(InputError, match="no columns"):
        Table({}).check_usable()
    t = Table({"a": np.array([1.0, np.nan, np.inf, 2.0]), "b": np.array([1.0, 2.0, 3.0, np.nan])})
    with pytest.raises(InputError, match=r"a: 2, b: 1"):
        t.check_usable()
    kept = t.check_usable(drop_nonfinite=True)
    np.testing.assert_array_equal(kept["a"], [1.0])
    all_bad = Table({"a": np.array([np.nan])})
    with pytest.raises(InputError, match="no rows left"):
        all_bad.check_usable(drop_nonfinite=True)
