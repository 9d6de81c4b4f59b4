"""DarkMachines event CSV: object selection, per-row event fields, chunking, bad lines."""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pytest

from jetzip.errors import InputError
from jetzip.io import detect_format, iter_tables, read_table
from jetzip.table import Table


def parse_plainly(path, wanted):
    """Independent reference: a straightforward per-line parse (line, type, E, pt, eta, phi)."""
    rows = []
    for line_number, line in enumerate(path.read_text().splitlines()):
        for item in line.strip().rstrip(";").split(";")[5:]:
            kind, *numbers = item.split(",")
            if kind in wanted:
                rows.append((line_number, kind, *map(float, numbers)))
    return rows


def test_counts_match_an_independent_parse(darkmachines_path):
    types = Counter(
        kind
        for _, kind, *_ in parse_plainly(darkmachines_path, set("jbg") | {"e-", "e+", "m-", "m+"})
    )
    assert types["j"] == 22_661 and types["b"] == 718 and types["g"] == 92
    assert types["e-"] + types["e+"] == 2
    table = read_table(darkmachines_path)
    assert table.n_rows == types["j"]
    assert table.n_events == 6_399
    assert table.meta["format"] == "darkmachines"


def test_jet_values_and_event_index_match_line_by_line(darkmachines_path):
    reference = np.array([r[:1] + r[2:] for r in parse_plainly(darkmachines_path, {"j"})])
    table = read_table(darkmachines_path)
    np.testing.assert_array_equal(table.event, reference[:, 0])
    np.testing.assert_array_equal(table.matrix(["E", "pt", "eta", "phi"]), reference[:, 1:])
    first_line = darkmachines_path.read_text().splitlines()[int(table.event[0])].split(";")
    assert table["MET"][0] == float(first_line[3])
    assert table["event_weight"][0] == float(first_line[2])
    assert table.meta["process_names"][table["process_id"][0]] == first_line[1]
    assert table.units["pt"] == "MeV" and table.units["eta"] == ""


def test_several_object_types_get_a_type_code(darkmachines_path):
    table = read_table(darkmachines_path, objects=("j", "b", "g", "e"))
    assert table.meta["objects"] == ["j", "b", "g", "e"]
    assert np.bincount(table["object_type"]).tolist() == [22_661, 718, 92, 2]


def test_chunks_hold_whole_events_and_concatenate(darkmachines_path):
    chunks = list(iter_tables(darkmachines_path, chunk_rows=2_000))
    assert all(c.n_rows <= 2_000 for c in chunks)
    for before, after in itertools.pairwise(chunks):
        assert before.event[-1] < after.event[0]
    assert Table.concat(chunks).equals(read_table(darkmachines_path))


def test_small_file_with_empty_events_and_no_trailing_separator(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text(
        "1;procA;0.5;100;0.1;j,50,40,0.5,1.0;b,30,20,1.5,2.0\n"
        "2;procB;0.25;200;0.2\n"
        "3;procA;0.5;300;0.3;j,60,55,-0.5,-1.0;j,70,65,0.2,0.3;\n"
    )
    assert detect_format(path) == "darkmachines"
    table = read_table(path)
    assert table.event.tolist() == [0, 2, 2]
    assert table["event_id"].tolist() == [1, 3, 3]
    assert table["pt"].tolist() == [40.0, 55.0, 65.0]
    assert table["process_id"].tolist() == [0, 0, 0]
    assert table.n_events == 3
    assert read_table(path, objects=["b"])["E"].tolist() == [30.0]
    both = read_table(path, objects="b,j")
    assert both["object_type"].tolist() == [1, 0, 1, 1]


def test_bad_object_names_the_line(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("1;p;1;1;1;j,1,2,3,4\n2;p;1;1;1;j,1,2,3\n")
    with pytest.raises(InputError, match=r"line 2: object 'j,1,2,3' is not type,E,pt,eta,phi"):
        read_table(path)


def test_plain_csv_is_not_taken_for_darkmachines(tmp_path):
    path = tmp_path / "plain.csv"
    path.write_text("pt,eta\n1,2\n")
    assert detect_format(path) == "csv"
