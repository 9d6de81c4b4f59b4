"""ROOT through uproot: layout detection on real files, options, RNTuple, chunks, writing."""

from __future__ import annotations

import functools
import itertools

import awkward as ak
import numpy as np
import pytest
import uproot

from jetzip.errors import InputError
from jetzip.io import iter_tables, read_table, write_table
from jetzip.table import Table

NANOAOD = "nanoAOD_2015_CMS_Open_Data_ttbar.root"
PHYSLITE = "uproot-issue-123a.root"
HZZ = "uproot-HZZ.root"


@functools.cache
def read_default(path) -> Table:
    """A shared file read with default options, once per session (wide trees open slowly)."""
    return read_table(path)


@pytest.mark.parametrize(
    ("name", "tree", "collection", "rows", "events", "unit", "first"),
    [
        (NANOAOD, "Events", "Jet_", 537, 200, "GeV", ["pt", "eta", "phi", "m"]),
        (PHYSLITE, "CollectionTree", "AnalysisJetsAuxDyn.", 1_005, 100, "MeV", ["pt", "eta"]),
        (HZZ, "events", "Jet_", 2_773, 2_421, "GeV", ["px", "py", "pz", "E"]),
    ],
)
def test_known_layouts_are_found_without_options(
    root_dir, name, tree, collection, rows, events, unit, first
):
    table = read_default(root_dir / name)
    assert (table.n_rows, table.n_events) == (rows, events)
    assert (table.meta["tree"], table.meta["collection"]) == (tree, collection)
    assert table.names[: len(first)] == first
    assert table.units[first[0]] == unit
    with uproot.open(root_dir / name) as file:
        counts = ak.num(file[tree][table.meta["branches"][first[0]]].array(), axis=1)
    np.testing.assert_array_equal(np.bincount(table.event, minlength=events), counts)


def test_physlite_reads_every_flat_per_jet_branch_and_lists_the_rest(root_dir):
    table = read_default(root_dir / PHYSLITE)
    assert table.meta["branches"]["m"] == "AnalysisJetsAuxDyn.m"
    assert table["pt"].dtype == np.float32
    assert table["HadronConeExclTruthLabelID"].dtype == np.int32
    skipped = table.meta["skipped"]
    assert "AnalysisJetsAuxDyn.NumTrkPt500" in skipped  # a vector per jet: not one number
    assert not any(name in table.meta["branches"].values() for name in skipped)


def test_branches_option_picks_extra_variables(root_dir):
    table = read_table(root_dir / NANOAOD, branches=["btagDeepB", "Jet_qgl"])
    assert table.names == ["pt", "eta", "phi", "m", "btagDeepB", "qgl"]
    with pytest.raises(InputError, match="no branch 'nope'; readable ones: pt, eta"):
        read_table(root_dir / NANOAOD, branches=["nope"])


def test_cartesian_to_ptetaphim(root_dir):
    table = read_table(root_dir / HZZ, to_ptetaphim=True)
    assert table.names[:4] == ["pt", "eta", "phi", "m"]
    with uproot.open(root_dir / HZZ) as file:
        raw = {
            k: ak.to_numpy(ak.flatten(file["events"][f"Jet_{k}"].array()))
            for k in ("Px", "Py", "Pz", "E")
        }
    p = np.sqrt(raw["Px"].astype(float) ** 2 + raw["Py"] ** 2 + raw["Pz"] ** 2)
    np.testing.assert_allclose(table["pt"], np.hypot(raw["Px"], raw["Py"]), rtol=1e-6)
    np.testing.assert_allclose(table["eta"], np.arctanh(raw["Pz"] / p), rtol=1e-4, atol=1e-5)
    assert table["pt"].dtype == np.float32 and table.units["m"] == "GeV"


def test_tree_and_collection_options(root_dir):
    muons = read_table(root_dir / HZZ, collection="Muon_")
    with uproot.open(root_dir / HZZ) as file:
        assert muons.n_rows == int(file["events"]["NMuon"].array(library="np").sum())
    with pytest.raises(InputError, match=r"no tree 'Jets' in the file; trees: .*CollectionTree"):
        read_table(root_dir / PHYSLITE, tree="Jets")
    with pytest.raises(InputError, match="no branches start with 'Tau_'"):
        read_table(root_dir / HZZ, collection="Tau_")


def test_alias_accepts_original_branch_names(root_dir):
    table = read_table(root_dir / NANOAOD, alias={"Jet_mass": "mass", "pt": "jet_pt"})
    assert table.names[:4] == ["jet_pt", "eta", "phi", "mass"]


def test_chunks_keep_events_whole(root_dir):
    chunks = list(iter_tables(root_dir / NANOAOD, chunk_rows=150))
    assert all(c.n_rows <= 150 for c in chunks)
    for before, after in itertools.pairwise(chunks):
        assert before.event[-1] < after.event[0]
    assert Table.concat(chunks).equals(read_default(root_dir / NANOAOD))


def test_rntuple_collection_and_flat_fields(tmp_path):
    path = tmp_path / "nt.root"
    with uproot.recreate(path) as file:
        file.mkrntuple(
            "Events",
            {
                "Jet_pt": ak.Array([[50.0, 40.0], [], [30.0]]),
                "Jet_eta": ak.Array([[0.1, 0.2], [], [0.3]]),
                "Jet_phi": ak.Array([[1.0, 2.0], [], [3.0]]),
                "run": np.array([1, 1, 2]),
            },
        )
    table = read_table(path)
    assert table.meta["tree_class"] == "ROOT::RNTuple"
    assert table["pt"].tolist() == [50.0, 40.0, 30.0]
    assert table.event.tolist() == [0, 0, 2]
    assert table.n_events == 3


def test_writing_real_jets_back_keeps_source_branch_names(tmp_path, root_dir):
    table = read_table(root_dir / NANOAOD, branches=["btagDeepB"])
    write_table(table, tmp_path / "back.root")
    with uproot.open(tmp_path / "back.root") as file:
        assert {"Jet_pt", "Jet_mass", "Jet_btagDeepB", "nJet"} <= set(file["Events"].keys())
    assert read_table(tmp_path / "back.root").equals(table)


def test_flat_and_sparse_event_round_trips(tmp_path):
    flat = Table({"pt": np.array([1.0, 2.0, 3.0]), "n": np.array([1, 2, 3])})
    write_table(flat, tmp_path / "flat.root")
    back = read_table(tmp_path / "flat.root")
    assert back.equals(flat) and back.event is None

    sparse = Table({"pt": np.arange(4.0), "eta": np.zeros(4)}, event=[1000, 1000, 5000, 9000])
    write_table(sparse, tmp_path / "sparse.root")
    assert read_table(tmp_path / "sparse.root").equals(sparse)
    chunks = list(iter_tables(tmp_path / "sparse.root", chunk_rows=2))
    assert Table.concat(chunks).equals(sparse)

    shuffled = Table({"pt": np.arange(3.0), "eta": np.zeros(3)}, event=[0, 1, 0])
    with pytest.raises(InputError, match="rows of each event together"):
        write_table(shuffled, tmp_path / "bad.root")
    assert not (tmp_path / "bad.root").exists()


@pytest.mark.parametrize(
    ("name", "collection", "rows", "source_pt"),
    [
        ("uproot-physlite-rntuple_v1-0-0-0.root", "AnalysisJetsAuxDyn:", 881, None),
        ("uproot-issue513.root", "Jet.", 60, "Jet/Jet.PT"),
        ("uproot-mc10events.root", "AK4CHS.", 81, "AK4CHS/AK4CHS.pt"),
    ],
)
def test_the_standard_jet_collection_wins(root_dir, name, collection, rows, source_pt):
    table = read_table(root_dir / name)
    assert (table.meta["collection"], table.n_rows) == (collection, rows)
    assert table.names[:4] == ["pt", "eta", "phi", "m"]
    if source_pt:
        with uproot.open(root_dir / name) as file:
            tree = file[table.meta["tree"]]
            expected = ak.to_numpy(ak.flatten(tree[source_pt].array()))
        np.testing.assert_array_equal(table["pt"], expected)


def test_tlorentzvector_jets_and_a_flat_tree_of_jets(root_dir):
    vectors = read_table(root_dir / "uproot-issue57.root")
    assert vectors.meta["collection"] == "selJet."
    assert vectors.names == ["px", "py", "pz", "E"]
    with uproot.open(root_dir / "uproot-issue57.root") as file:
        raw = file["outtree"]["selJet"].array()
    np.testing.assert_array_equal(vectors["px"], ak.to_numpy(ak.flatten(raw.fP.fX)))
    flat = read_table(root_dir / "uproot-issue-750.root")  # one jet per entry, doubles
    assert (flat.n_rows, flat.event, flat.names) == (312, None, ["pt", "eta", "phi", "m"])


def test_trailing_events_without_jets_are_written_back(tmp_path, root_dir):
    chunks = list(iter_tables(root_dir / HZZ, chunk_rows=1_000))
    assert {c.meta["n_events"] for c in chunks} == {2_421}
    write_table(chunks[-1], tmp_path / "last.root")  # the chunk ending in jetless events
    with uproot.open(tmp_path / "last.root") as file:
        assert file["events"].num_entries == 2_421
    write_table(read_default(root_dir / HZZ), tmp_path / "all.root")
    with uproot.open(tmp_path / "all.root") as file:
        assert file["events"].num_entries == 2_421
