"""Whole files as events (jetzip.events): ROOT TTree / RNTuple and Parquet, read and written back.

Synthetic trees cover every branch kind and the bad inputs; every real file in
../shared/data/root is read, written to ROOT and to Parquet and read back value by value.
"""

from __future__ import annotations

import json

import awkward as ak
import numpy as np
import pandas as pd
import pytest
import uproot

from jetzip.cli.main import main
from jetzip.errors import InputError, OptionError
from jetzip.events import (
    EventChunk,
    TreeInfo,
    concatenate,
    describe_source,
    iter_events,
    read_events,
    write_events,
)

N_EVENTS = 7
JET_COUNTS = np.array([2, 0, 3, 1, 0, 2, 0], dtype=np.uint32)  # empty events, one at the end


def _source_tree(path, kind: str = "TTree") -> None:
    """A tree with every kind of branch uproot writes, NanoAOD-style uint32 counts."""
    n_jets = int(JET_COUNTS.sum())
    jets = {
        "Jet_pt": ak.unflatten(np.linspace(20, 90, n_jets, dtype=np.float32), JET_COUNTS),
        "Jet_id": ak.unflatten(np.arange(n_jets, dtype=np.int8), JET_COUNTS),
        "Jet_tight": ak.unflatten(np.arange(n_jets) % 2 == 0, JET_COUNTS),
    }
    scalars = {
        "run": np.full(N_EVENTS, 1, np.uint32),
        "event": np.arange(N_EVENTS, dtype=np.uint64) + 2**40,
        "MET_pt": np.linspace(1, 7, N_EVENTS),
        "MET_phi": np.linspace(-3, 3, N_EVENTS).astype(np.float32),
        "HLT_IsoMu24": np.arange(N_EVENTS) % 3 == 0,
        "lumi": np.arange(N_EVENTS, dtype=np.int16) - 3,
        "weights": np.arange(3 * N_EVENTS, dtype=np.float64).reshape(N_EVENTS, 3),
        "Type": np.array(["GG", "GT", "TT", "GG", "TT", "GT", "GG"]),
    }
    with uproot.recreate(path) as file:
        if kind == "TTree":
            types = {k: np.dtype((v.dtype, v.shape[1:])) for k, v in scalars.items()}
            types["Type"] = ak.Array(scalars["Type"]).type.content
            types["nJet"] = np.uint32
            types.update({k: v.type.content for k, v in jets.items()})
            tree = file.mktree("Events", types, counter_name=lambda _: "nJet")
            tree.extend({**scalars, "Type": ak.Array(scalars["Type"]), "nJet": JET_COUNTS, **jets})
        else:
            data = ak.zip({**scalars, "Type": ak.Array(scalars["Type"]), **jets}, depth_limit=1)
            file.mkrntuple("Events", data.layout.form).extend(data)


def _same(a: ak.Array, b: ak.Array) -> bool:
    return a.fields == b.fields and ak.array_equal(
        a, b, dtype_exact=True, equal_nan=True, check_parameters=False
    )


@pytest.mark.parametrize("kind", ["TTree", "RNTuple"])
def test_a_tree_round_trips_to_root_and_parquet_with_names_dtypes_and_counts(tmp_path, kind):
    _source_tree(tmp_path / "in.root", kind)
    events = read_events(tmp_path / "in.root")
    assert events.n_events == N_EVENTS and events.info.kind == kind
    assert events.info.collections["Jet"] == ["Jet_pt", "Jet_id", "Jet_tight"]
    assert events.info.collections["MET"] == ["MET_pt", "MET_phi"]
    assert str(events.arrays.Type.type.content) == "string"
    if kind == "TTree":
        assert events.arrays.fields[-4:] == ["nJet", "Jet_pt", "Jet_id", "Jet_tight"]
        assert events.info.branches["Jet_pt"]["counts"] == "nJet"
    for suffix in ("root", "parquet"):
        out = tmp_path / f"out.{suffix}"
        assert write_events([events], out) == N_EVENTS
        back = read_events(out)
        assert _same(back.arrays, events.arrays)
        assert back.info.branches == events.info.branches
        assert (back.info.tree, back.info.kind) == ("Events", kind)
    with uproot.open(tmp_path / "in.root") as original, uproot.open(tmp_path / "out.root") as copy:
        assert copy["Events"].num_entries == N_EVENTS
        assert set(original["Events"].keys()) <= set(copy["Events"].keys())
        if kind == "TTree":
            names = original["Events"].keys()  # iterating a tree gives branches, not names
            for branch in names:
                assert copy["Events"][branch].typename == original["Events"][branch].typename


def test_kind_can_be_changed_on_writing(tmp_path):
    _source_tree(tmp_path / "in.root", "TTree")
    events = read_events(tmp_path / "in.root")
    write_events([events], tmp_path / "nt.root", kind="RNTuple")
    with uproot.open(tmp_path / "nt.root") as file:
        assert file.classnames()["Events;1"] == "ROOT::RNTuple"
    assert _same(read_events(tmp_path / "nt.root").arrays, events.arrays)
    with pytest.raises(OptionError, match="unknown tree kind 'TBranch'"):
        write_events([events], tmp_path / "x.root", kind="TBranch")


def test_chunks_are_event_ranges_that_concatenate_to_the_whole(tmp_path):
    _source_tree(tmp_path / "in.root")
    whole = read_events(tmp_path / "in.root")
    chunks = list(iter_events(tmp_path / "in.root", step_events=3))
    assert [(c.first_event, c.n_events) for c in chunks] == [(0, 3), (3, 3), (6, 1)]
    assert _same(concatenate(chunks).arrays, whole.arrays)
    assert write_events(iter_events(tmp_path / "in.root", step_events=2), tmp_path / "s.root") == 7
    assert _same(read_events(tmp_path / "s.root").arrays, whole.arrays)
    parquet = tmp_path / "s.parquet"
    write_events(iter_events(tmp_path / "in.root", step_events=2), parquet)
    back = list(iter_events(parquet, step_events=3))
    assert [c.n_events for c in back] == [3, 3, 1]
    assert _same(concatenate(back).arrays, whole.arrays)


def test_branch_patterns_select_branches_and_bring_their_counts(tmp_path):
    _source_tree(tmp_path / "in.root")
    events = read_events(tmp_path / "in.root", branches="Jet_pt, MET_*")
    assert events.arrays.fields == ["MET_pt", "MET_phi", "nJet", "Jet_pt"]
    with pytest.raises(InputError, match=r"no branch of tree 'Events' matches 'Muon_\*', 'nope'"):
        read_events(tmp_path / "in.root", branches=["Jet_pt", "Muon_*", "nope"])
    with pytest.raises(OptionError, match="no branch patterns given"):
        read_events(tmp_path / "in.root", branches=" , ")


def test_nullable_parquet_integers_keep_values_and_masks(tmp_path):
    frame = pd.DataFrame({"n": pd.array([1, None, 2**62 + 1], dtype="Int64"), "x": [0.5, 1.5, 2.5]})
    frame.to_parquet(tmp_path / "in.parquet")
    events = read_events(tmp_path / "in.parquet")
    assert str(events.arrays.n.type.content) == "?int64"
    assert events.arrays.n.tolist() == [1, None, 2**62 + 1]
    write_events([events], tmp_path / "out.parquet")
    assert _same(read_events(tmp_path / "out.parquet").arrays, events.arrays)
    with pytest.raises(InputError, match=r"cannot write 1 branch to a TTree \(n: nullable"):
        write_events([events], tmp_path / "out.root")
    assert not (tmp_path / "out.root").exists()
    plain = EventChunk(events.arrays[["x"]], 0, events.info.select(["x"]))  # nullable, no null
    write_events([plain], tmp_path / "x.root")
    assert read_events(tmp_path / "x.root").arrays.x.tolist()[:2] == [0.5, 1.5]
    write_events([events], tmp_path / "nt.root", kind="RNTuple")  # an RNTuple holds them
    assert read_events(tmp_path / "nt.root").arrays.n.tolist() == [1, None, 2**62 + 1]


def test_nested_lists_are_refused_in_one_line_for_a_ttree_unless_skipped(tmp_path):
    path = tmp_path / "nested.root"
    with uproot.recreate(path) as file:
        data = ak.zip(
            {"x": np.arange(3.0), "hits": ak.Array([[[1.0], []], [], [[2.0, 3.0]]])},
            depth_limit=1,
        )
        file.mkrntuple("T", data.layout.form).extend(data)
    assert read_events(path).arrays.hits.tolist() == [[[1.0], []], [], [[2.0, 3.0]]]
    events = read_events(path)
    with pytest.raises(InputError, match="nested lists") as error:
        write_events([events], tmp_path / "t.root", kind="TTree")
    assert "\n" not in str(error.value)
    assert not (tmp_path / "t.root").exists()


def test_tree_info_json_round_trip_and_validation():
    info = TreeInfo(
        "f.root",
        "root",
        "Events",
        "TTree",
        {"nJet": {"type": "uint32", "dtype": "uint32", "counts": None}},
        {"Jet": []},
        ["a note"],
    )
    assert TreeInfo.from_json(json.loads(json.dumps(info.to_json()))) == info
    for damage, message in [
        ({"format": "csv"}, "unknown format 'csv'"),
        ({"kind": "Ntuple"}, "unknown tree kind"),
        ({"branches": {"a": {"dtype": "f4"}}}, "'branches' must map"),
        ({"collections": {"Jet": ["Jet_pt"]}}, "'collections' must map"),
    ]:
        with pytest.raises(InputError, match=message):
            TreeInfo.from_json({**info.to_json(), **damage})


def test_bad_paths_are_one_line_errors(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_events(tmp_path / "absent.root")
    (tmp_path / "x.csv").write_text("a\n1\n")
    with pytest.raises(InputError, match=r"use a \.root or \.parquet file"):
        read_events(tmp_path / "x.csv")
    (tmp_path / "bad.root").write_bytes(b"not root at all")
    with pytest.raises(InputError, match=r"cannot read .* as ROOT"):
        read_events(tmp_path / "bad.root")
    chunk = EventChunk(ak.Array([{"a": 1}]), 0, TreeInfo("x", "parquet", None, None, {}))
    with pytest.raises(OptionError, match="applies to ROOT output"):
        write_events([chunk], tmp_path / "y.parquet", kind="TTree")


# ---------------------------------------------------------------------- every real file
#: Branch patterns for the wide files (all of a tree takes uproot's TTree writer a minute on two
#: cores: its header is quadratic in the number of branches); the small files are read whole.
REAL = {
    "nanoAOD_2015_CMS_Open_Data_ttbar.root": "run,event,nJet,Jet_*,nMuon,Muon_*,MET_*,HLT_IsoMu2*",
    "cmsopendata2015_ttbar_19980_NANOAOD_RNTupleImporter_rntuple_v1-0-0-1.root": (
        "run,event,nJet,Jet_pt,Jet_eta,nMuon,Muon_*,MET_*,HLT_IsoMu2*"
    ),
    "Run2012BC_DoubleMuParked_Muons_1000evts_rntuple_v1-0-0-0.root": None,
    "uproot-HZZ.root": None,
    "uproot-Zmumu.root": None,
    "uproot-issue-750.root": None,
    "uproot-issue-816.root": None,
    "uproot-issue57.root": None,
    "uproot-issue-123a.root": "AnalysisJetsAuxDyn.*",
    "uproot-issue-798.root": "AnalysisJetsAuxDyn.*",
    "uproot-issue-951.root": "AnalysisJetsAuxDyn.*",
    "uproot-physlite-rntuple_v1-0-0-0.root": "AnalysisJetsAuxDyn:*",
    "uproot-issue513.root": "Event*,Jet*",
    "uproot-mc10events.root": "Info*,AK4CHS*,Muon*",
}


def test_every_real_file_is_listed(root_dir):
    assert sorted(p.name for p in root_dir.glob("*.root")) == sorted(REAL)


@pytest.mark.parametrize("name", sorted(REAL))
def test_real_file_round_trips_to_root_and_parquet(tmp_path, root_dir, name):
    source = root_dir / name
    events = read_events(source, branches=REAL[name], skip_unsupported=True)
    tree, kind = events.info.tree, events.info.kind
    for suffix in ("root", "parquet"):
        out = tmp_path / f"back.{suffix}"
        assert write_events([events], out) == events.n_events
        back = read_events(out)
        assert _same(back.arrays, events.arrays), suffix
        assert (back.info.tree, back.info.kind) == (tree, kind)
    with uproot.open(source) as original, uproot.open(tmp_path / "back.root") as copy:
        assert events.n_events == copy[tree].num_entries == original[tree].num_entries
        if kind == "TTree":
            stored = set(copy[tree].keys())
            top_level = set(original[tree].keys(recursive=False))
            for branch, spec in events.info.branches.items():
                assert branch in stored
                if branch in top_level:
                    old, new = original[tree][branch].typename, copy[tree][branch].typename
                    assert old == new or "vector" in old, (branch, old, new)
                if spec["counts"]:
                    assert copy[tree][branch].count_branch.name == spec["counts"]


def test_unsupported_branches_are_named_in_one_line(root_dir):
    with pytest.raises(InputError) as error:
        read_events(root_dir / "uproot-issue513.root", branches="Jet*")
    message = str(error.value)
    assert "\n" not in message and "--skip-unsupported" in message
    for branch in ("Jet.FracPt[5]", "Jet.Constituents.refs", "Jet.Particles.fName"):
        assert branch in message
    skipped = read_events(root_dir / "uproot-issue513.root", branches="Jet*", skip_unsupported=True)
    assert "Jet.FracPt[5]" in skipped.info.notes[-1]  # said, not dropped silently


def test_nanoaod_counts_keep_their_type_and_collections_share_events(tmp_path, root_dir):
    events = read_events(
        root_dir / "nanoAOD_2015_CMS_Open_Data_ttbar.root", branches="nJet,Jet_pt,nMuon,Muon_pt"
    )
    assert events.n_events == 200
    assert (
        ak.sum(events.arrays.nJet) == 537 and events.arrays.nJet.type.content.primitive == "uint32"
    )
    assert ak.all(ak.num(events.arrays.Muon_pt) == events.arrays.nMuon)
    write_events([events], tmp_path / "nano.root")
    with uproot.open(tmp_path / "nano.root") as file:
        assert file["Events"]["nJet"].typename == "uint32_t"
        assert file["Events"]["nMuon"].typename == "uint32_t"


def test_delphes_and_tlorentzvector_collections(root_dir):
    delphes = read_events(root_dir / "uproot-issue513.root", branches="Jet*", skip_unsupported=True)
    assert delphes.info.branches["Jet.PT"]["counts"] == "Jet"
    assert ak.all(ak.num(delphes.arrays["Jet.PT"]) == delphes.arrays["Jet_size"])
    vectors = read_events(root_dir / "uproot-issue57.root", branches="selJet*")
    assert vectors.info.collections["selJet"] == [
        "selJet.fP.fX",
        "selJet.fP.fY",
        "selJet.fP.fZ",
        "selJet.fE",
    ]
    with uproot.open(root_dir / "uproot-issue57.root") as file:
        raw = file["outtree"]["selJet"].array()
    assert ak.array_equal(vectors.arrays["selJet.fE"], raw.fE)


def test_describe_source_lists_collections_and_the_pick(root_dir):
    nano = describe_source(root_dir / "nanoAOD_2015_CMS_Open_Data_ttbar.root")
    assert nano["pick"]["collection"] == "Jet" and "FatJet" in nano["pick"]["others"]
    jets = next(c for c in nano["trees"][0]["collections"] if c["name"] == "Jet")
    assert jets["objects"] == 537
    met = next(c for c in nano["trees"][0]["collections"] if c["name"] == "MET")
    assert met["per_event"]
    delphes = describe_source(root_dir / "uproot-issue513.root")
    assert (delphes["pick"]["prefix"], delphes["pick"]["others"]) == ("Jet.", ["GenJet"])
    assert "Jet.FracPt[5]" in delphes["trees"][0]["unsupported"]


def test_info_on_a_root_file_prints_trees_collections_and_the_pick(root_dir, capsys):
    assert main(["info", str(root_dir / "uproot-issue513.root")]) == 0
    out = capsys.readouterr().out
    assert "  Delphes (TTree, 10 entries," in out
    assert "Jet (60 objects, 52 branches)" in out and "GenJet (66 objects" in out
    assert "--skip-unsupported): " in out
    assert "jets:     Delphes / Jet.* (the standard jet collection" in out
    assert "others: GenJet" in out


def test_units_jetzip_recorded_in_a_root_file_beat_the_collections_usual_unit(tmp_path) -> None:
    """A `Jet` collection is usually NanoAOD's (GeV), but a file jetzip wrote from a table in
    MeV says so, and the whole-file reader keeps that."""
    from jetzip.io import write_table
    from jetzip.table import Table

    table = Table(
        {"pt": np.array([25e3, 40e3, 31e3], np.float32), "eta": np.zeros(3, np.float32)},
        event=np.array([0, 0, 2]),
        units={"pt": "MeV", "eta": ""},
        meta={"n_events": 3},
    )
    write_table(table, tmp_path / "jets.root")
    info = read_events(tmp_path / "jets.root").info
    assert info.branches["Jet_pt"]["unit"] == "MeV"
    assert info.branches["Jet_eta"]["unit"] == ""
