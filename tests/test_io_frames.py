"""Round trips and bad input for the column formats (pickle, CSV, Parquet, HDF5, .npy, .npz)."""

from __future__ import annotations

import h5py
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from jetzip.errors import InputError, OptionError
from jetzip.io import detect_format, iter_tables, read_table, write_table
from jetzip.table import Table

#: Formats that keep dtypes, and those that also keep units and meta.
TYPED_SUFFIXES = [".parquet", ".pkl", ".h5", ".npz", ".npy", ".root"]
WITH_UNITS = [".parquet", ".pkl", ".h5", ".npz", ".root"]


@pytest.fixture
def jets() -> Table:
    """23 jets in 9 events (events 2 and 6 empty): float32, float64, int and bool columns."""
    rng = np.random.default_rng(7)
    event = np.repeat([0, 1, 3, 4, 5, 7, 8], [4, 3, 5, 1, 2, 5, 3])
    n = len(event)
    return Table(
        {
            "m": rng.lognormal(8.5, 0.7, n).astype(np.float32),
            "pt": rng.lognormal(10.5, 0.6, n).astype(np.float32),
            "eta": rng.normal(0, 1.5, n),
            "phi": rng.uniform(-np.pi, np.pi, n).astype(np.float32),
            "n_constituents": rng.integers(1, 60, n).astype(np.int32),
            "tagged": rng.random(n) > 0.5,
        },
        event=event,
        units={"pt": "MeV", "m": "MeV", "eta": "", "phi": ""},
        meta={"n_events": 9, "origin": "test"},
    )


@pytest.mark.parametrize("suffix", TYPED_SUFFIXES)
def test_round_trip_keeps_values_dtypes_names_and_events(tmp_path, jets, suffix):
    path = tmp_path / f"jets{suffix}"
    write_table(jets, path)
    back = read_table(path)
    assert back.equals(jets)
    assert [back[n].dtype for n in back.names] == [jets[n].dtype for n in jets.names]
    if suffix in WITH_UNITS:
        assert back.units == jets.units
        assert back.meta["origin"] == "test"
        assert back.n_events == 9


def test_csv_round_trip_keeps_values_and_names(tmp_path, jets):
    path = tmp_path / "jets.csv"
    write_table(jets, path)
    back = read_table(path)
    assert back.names == jets.names
    np.testing.assert_array_equal(back.event, jets.event)
    for name in jets.names:
        assert np.array_equal(back[name].astype(jets[name].dtype), jets[name]), name


@pytest.mark.parametrize("suffix", [*TYPED_SUFFIXES, ".csv"])
def test_chunks_are_bounded_and_concatenate_to_the_whole(tmp_path, jets, suffix):
    path = tmp_path / f"jets{suffix}"
    write_table(jets, path)
    chunks = list(iter_tables(path, chunk_rows=5))
    whole = read_table(path)
    assert len(chunks) >= 5
    # ROOT keeps events whole, so a chunk may hold fewer rows; no event here exceeds 5 jets.
    assert all(1 <= c.n_rows <= 5 for c in chunks)
    assert Table.concat(chunks).equals(whole)


def test_write_is_atomic_and_leaves_nothing_on_failure(tmp_path, jets):
    clash = Table({"event": np.arange(3.0)}, event=np.arange(3))
    with pytest.raises(InputError, match="event"):
        write_table(clash, tmp_path / "x.parquet")
    assert list(tmp_path.iterdir()) == []


def test_atlas_pickle_index_survives_a_round_trip(tmp_path, atlas_4d_path):
    original = pd.read_pickle(atlas_4d_path)
    table = read_table(atlas_4d_path)
    assert table.n_rows == 27_945
    assert table.names == ["index", "m", "pt", "phi", "eta"]
    np.testing.assert_array_equal(table["index"], original.index.to_numpy())
    assert table.units["pt"] == "MeV" and "units_guessed" in table.meta
    write_table(table, tmp_path / "again.pkl")
    again = pd.read_pickle(tmp_path / "again.pkl")
    pd.testing.assert_frame_equal(again, original, check_column_type=False)


def test_pickle_with_plain_index_gets_no_index_column(tmp_path):
    pd.DataFrame({"pt": [1.0, 2.0], "eta": [0.1, 0.2]}).to_pickle(tmp_path / "f.pkl")
    assert read_table(tmp_path / "f.pkl").names == ["pt", "eta"]


def test_bare_npy_needs_column_names(tmp_path):
    matrix = np.arange(12, dtype=np.float32).reshape(4, 3)
    np.save(tmp_path / "bare.npy", matrix)
    with pytest.raises(InputError, match="without column names"):
        read_table(tmp_path / "bare.npy")
    with pytest.raises(InputError, match="2 column names given for an array with 3"):
        read_table(tmp_path / "bare.npy", columns=["a", "b"])
    table = read_table(tmp_path / "bare.npy", columns=["m", "pt", "eta"])
    np.testing.assert_array_equal(table.matrix(dtype=np.float32), matrix)
    chunks = list(iter_tables(tmp_path / "bare.npy", chunk_rows=3, columns=["m", "pt", "eta"]))
    assert [c.n_rows for c in chunks] == [3, 1]


def test_csv_skips_text_columns_and_says_so(tmp_path):
    (tmp_path / "mixed.csv").write_text("pt,label,eta\n1.5,a,0.1\n2.5,b,0.2\n")
    table = read_table(tmp_path / "mixed.csv")
    assert table.names == ["pt", "eta"]
    assert "label" in table.meta["skipped"]


def test_foreign_hdf5_group_of_datasets(tmp_path):
    with h5py.File(tmp_path / "f.h5", "w") as handle:
        group = handle.create_group("jets")
        group["pt"] = np.array([30.0, 40.0])
        group["pt"].attrs["unit"] = "GeV"
        group["image"] = np.zeros((2, 4, 4))
    table = read_table(tmp_path / "f.h5")
    assert table.names == ["pt"] and table.units["pt"] == "GeV"
    assert "image" in table.meta["skipped"]
    with pytest.raises(InputError, match="no HDF5 group 'nope'; groups: jets"):
        read_table(tmp_path / "f.h5", group="nope")


def test_generic_options_alias_convert_and_select(tmp_path):
    px, py, pz = np.array([3.0, 0.0]), np.array([4.0, 2.0]), np.array([0.0, 1.0])
    energy = np.array([13.0, 3.0])
    cartesian = Table({"Px": px, "Py": py, "Pz": pz, "E": energy, "w": np.ones(2)})
    write_table(cartesian, tmp_path / "c.parquet")
    table = read_table(
        tmp_path / "c.parquet",
        alias={"Px": "px", "Py": "py", "Pz": "pz"},
        to_ptetaphim=True,
        columns=["pt", "m", "w"],
    )
    np.testing.assert_allclose(table["pt"], [5.0, 2.0])
    np.testing.assert_allclose(table["m"], [12.0, 2.0])
    assert table.names == ["pt", "m", "w"]
    with pytest.raises(InputError, match=r"needs columns px, py, pz, E; missing px, py, pz"):
        read_table(tmp_path / "c.parquet", to_ptetaphim=True)


def test_missing_file_and_unknown_extension(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_table(tmp_path / "absent.parquet")
    (tmp_path / "jets.xyz").write_text("1,2\n")
    with pytest.raises(InputError, match=r"supported: \.parquet.*\.root"):
        read_table(tmp_path / "jets.xyz")


@pytest.mark.parametrize("suffix", [".parquet", ".pkl", ".h5", ".npy", ".npz", ".root"])
def test_corrupt_file_is_an_input_error(tmp_path, suffix):
    path = tmp_path / f"broken{suffix}"
    path.write_text("this is not a binary table\n")
    with pytest.raises(InputError, match=r"cannot read .* as"):
        read_table(path)


def test_empty_table_and_wrong_options(tmp_path, jets):
    (tmp_path / "empty.csv").write_text("pt,eta\n")
    with pytest.raises(InputError, match="empty"):
        read_table(tmp_path / "empty.csv")
    write_table(
        jets.take(np.zeros(jets.n_rows, bool)), tmp_path / "e.parquet"
    )  # a valid empty file
    empty = pq.read_table(tmp_path / "e.parquet")
    assert empty.num_rows == 0 and empty.column_names[-len(jets.names) :] == jets.names
    write_table(jets, tmp_path / "j.parquet")
    with pytest.raises(OptionError, match="tree does not apply to parquet"):
        read_table(tmp_path / "j.parquet", tree="Events")
    with pytest.raises(InputError, match=r"missing column.*nope"):
        read_table(tmp_path / "j.parquet", columns=["pt", "nope"])


def test_detect_format():
    assert detect_format("a/b.HDF5") == "hdf5"
    assert detect_format("x.pickle") == "pickle"
    with pytest.raises(OptionError, match="unknown format"):
        detect_format("x.csv", "excel")
