"""jetzip.open / compress / decompress: uproot-style reading that decodes only what is asked."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pandas as pd
import pytest

import jetzip
import jetzip.codec.wholefile as wholefile
from conftest import ROOT_DIR, require_shared
from jetzip import container
from jetzip.codec import compress_table
from jetzip.codec.policy import parse_policy
from jetzip.errors import InputError, OptionError
from jetzip.events import read_events
from jetzip.table import Table
from test_wholefile import bytes_read, sections_of, synthetic

TOLERANCE = "*_pt=0.1%,*_eta=0.001,MET_pt=0.5%"


@pytest.fixture(scope="module")
def events_file(tmp_path_factory):
    chunks = [synthetic(200), synthetic(150, first=200)]
    path = tmp_path_factory.mktemp("api") / "events.jz"
    wholefile.compress_events(chunks, path, policy=parse_policy(TOLERANCE))
    return path, ak.concatenate([c.arrays for c in chunks])


def test_keys_entries_and_entry_ranges(events_file) -> None:
    path, original = events_file
    with jetzip.open(path) as f:
        assert f.keys() == list(original.fields)
        assert f.num_entries == len(original)
        got = f.arrays(["event", "label", "maybe"], entry_start=190, entry_stop=215, how=None)
    assert ak.to_list(got) == ak.to_list(original[["event", "label", "maybe"]][190:215])


def test_open_reads_the_container_header_once(events_file, monkeypatch) -> None:
    path, _ = events_file
    readers: list[str] = []
    real = container.ContainerReader.__init__

    def counting(self, *args, **kwargs):
        readers.append(str(args))
        real(self, *args, **kwargs)

    monkeypatch.setattr(container.ContainerReader, "__init__", counting)
    f = jetzip.open(path)
    assert len(readers) == 1 and f.keys()


def test_reading_one_branch_decodes_only_its_columns(events_file, monkeypatch) -> None:
    path, original = events_file
    decoded: list[str] = []
    stacked: list[str] = []
    real, real_stacks = wholefile.decode_chunk, wholefile.EventsReader._unstacked

    def spy(description, parts, plans, *args, **kwargs):
        decoded.extend(p.name for p in plans)
        return real(description, parts, plans, *args, **kwargs)

    def spy_stacks(self, stacks, wanted, *args):
        out = real_stacks(self, stacks, wanted, *args)
        stacked.extend(out)
        return out

    monkeypatch.setattr(wholefile, "decode_chunk", spy)
    monkeypatch.setattr(wholefile.EventsReader, "_unstacked", spy_stacks)
    f = jetzip.open(path)
    pt = f.arrays("Jet_pt", how=None).Jet_pt
    assert ak.all(ak.num(pt) == ak.num(original.Jet_pt))
    branch_of = {b.id: name for name, bs in f._events.buffers.items() for b in bs}
    touched = {branch_of[c] for c in decoded}
    # Jet_pt and at most a same-collection predictor input
    assert {"Jet_pt"} <= touched <= {"Jet_pt", "Jet_eta"}, touched
    # the stored counts it shares (nJet) come from the stack of the 200 and 150 events' exact
    # uint32 columns (run, nJet): at most 256 values each, decoded together
    assert {branch_of[c] for c in stacked} == {"nJet", "run"}


def test_libraries_np_and_pd(events_file) -> None:
    path, original = events_file
    f = jetzip.open(path)
    columns = f.arrays(["event", "Jet_id"], library="np")
    np.testing.assert_array_equal(columns["event"], ak.to_numpy(original.event))
    assert columns["Jet_id"].dtype == object
    np.testing.assert_array_equal(columns["Jet_id"][3], ak.to_numpy(original.Jet_id[3]))
    frame = f.arrays(filter_name=["event", "MET_*"], library="pd")
    assert isinstance(frame, pd.DataFrame) and list(frame.columns) == ["event", "MET_pt"]
    assert len(frame) == len(original)


def test_iterate_covers_every_event_once(events_file) -> None:
    path, original = events_file
    f = jetzip.open(path)
    batches = list(f.iterate("event", step_size=64, how=None))
    assert [len(b) for b in batches] == [64, 64, 64, 64, 64, 30]
    assert ak.to_list(ak.concatenate(batches).event) == ak.to_list(original.event)


def test_bad_requests_are_clear_errors(events_file) -> None:
    path, _ = events_file
    f = jetzip.open(path)
    with pytest.raises(InputError, match="no branch 'Nope'"):
        f.arrays("Nope")
    with pytest.raises(InputError, match="matches no branch"):
        f.arrays(filter_name="Nope_*")
    with pytest.raises(OptionError, match="unknown library"):
        f.arrays("event", library="arrow")


def test_collections_are_vector_records_and_one_line_calls(tmp_path) -> None:
    source = require_shared(ROOT_DIR / "nanoAOD_2015_CMS_Open_Data_ttbar.root")
    branches = "nJet,Jet_pt,Jet_eta,Jet_phi,Jet_mass,Jet_jetId,MET_pt,MET_phi"
    jz = tmp_path / "nano.jz"
    jetzip.compress(source, jz, precision="nanoaod", branches=branches)
    original = read_events(source, branches=branches).arrays
    f = jetzip.open(jz)
    assert {"Jet_pt", "Jet_eta", "Jet_phi", "Jet_mass"} <= set(f.collections["Jet"])
    events = f.arrays()
    assert {"Jet", "MET", "nJet"} <= set(events.fields)
    assert ak.all(ak.num(events.Jet) == original.nJet)
    bound = 2.0**-11  # nanoaod's pt: 10 mantissa bits
    assert ak.all(abs(events.Jet.pt - original.Jet_pt) <= bound * original.Jet_pt)
    assert ak.all(abs(events.MET.pt - original.MET_pt) <= bound * original.MET_pt)
    px = events.Jet.px  # vector's Momentum4D behaviour
    assert ak.all(abs(px - original.Jet_pt * np.cos(original.Jet_phi)) < 1e-2 * original.Jet_pt)
    assert jetzip.decompress(jz, tmp_path / "back.parquet") == len(original)


def test_open_reads_flat_jets_files(tmp_path) -> None:
    rng = np.random.default_rng(1)
    table = Table({"pt": rng.exponential(50, 1000).astype(np.float32), "n": np.arange(1000)})
    compress_table(table, tmp_path / "jets.jz")
    f = jetzip.open(tmp_path / "jets.jz")
    assert f.keys() == ["pt", "n"] and f.num_entries == 1000 and f.collections == {}
    np.testing.assert_array_equal(f.arrays(library="np")["pt"], table["pt"])
    assert ak.to_list(f.arrays("n", entry_start=10, entry_stop=13).n) == [10, 11, 12]


def test_a_collection_with_energy_and_mass_is_a_plain_record(tmp_path) -> None:
    """vector takes one time-like coordinate; jetzip's own jets carry both E and m, so their
    collection is a plain record rather than an error."""
    from jetzip.io import write_table
    from jetzip.table import Table

    rng = np.random.default_rng(1)
    columns = {c: rng.uniform(1, 2, 6).astype(np.float32) for c in ("pt", "eta", "phi", "m", "E")}
    write_table(Table(columns, event=np.array([0, 0, 1, 2, 2, 2])), tmp_path / "jets.root")
    jetzip.compress(tmp_path / "jets.root", tmp_path / "jets.jz")
    jets = jetzip.open(tmp_path / "jets.jz").arrays(filter_name="Jet_*").Jet
    assert ak.fields(jets) == ["pt", "eta", "phi", "m", "E"]
    assert ak.to_list(ak.num(jets.pt)) == [2, 1, 3]
    assert "Momentum4D" not in str(jets.type)  # a named record would show its name


def test_a_collection_with_two_coordinate_systems_is_a_plain_record(tmp_path) -> None:
    """NanoAOD's secondary vertices have x, y, z beside pt, eta, phi, mass: vector refuses
    such a Momentum4D, so the collection stays a plain record."""
    from test_wholefile import chunk_of

    counts = np.array([2, 0, 1])
    fields = ("pt", "eta", "phi", "mass", "x", "y", "z")
    chunk = chunk_of({f"SV_{f}": ak.unflatten(np.arange(3.0) + 1, counts) for f in fields})
    chunk.info.collections = {"SV": [f"SV_{f}" for f in fields]}
    wholefile.compress_events([chunk], tmp_path / "sv.jz")
    sv = jetzip.open(tmp_path / "sv.jz").arrays().SV
    assert ak.fields(sv) == list(fields)
    assert ak.to_list(ak.num(sv.x)) == [2, 0, 1]
    assert "Momentum4D" not in str(sv.type)


def test_collections_zip_as_ak_zip_does() -> None:
    from jetzip.api import zip_collections

    counts = [2, 0, 3, 1]
    branches = {
        "Jet_pt": ak.unflatten(np.arange(6.0), counts),
        "Jet_id": ak.unflatten(np.arange(6, dtype=np.int32), counts),
        "Jet_bad": ak.unflatten(np.arange(4.0), [1, 1, 1, 1]),  # other counts: stays apart
        "MET_pt": np.arange(4.0),
        "MET_phi": np.arange(4.0) / 10,
    }
    collections = {"Jet": ["Jet_pt", "Jet_id", "Jet_bad"], "MET": ["MET_pt", "MET_phi"]}
    for events in (ak.zip(branches, depth_limit=1), ak.zip(branches, depth_limit=1)[1:]):
        got = zip_collections(events, collections)
        jets = ak.zip({"pt": events.Jet_pt, "id": events.Jet_id})
        met = ak.zip({"pt": events.MET_pt, "phi": events.MET_phi})
        assert got.fields == ["Jet_bad", "Jet", "MET"]
        assert ak.to_list(got.Jet) == ak.to_list(jets)
        assert ak.to_list(got.MET) == ak.to_list(met)
        assert ak.to_list(got.Jet_bad) == ak.to_list(events.Jet_bad)
        assert str(got.Jet.type) == str(jets.type)


def test_iterate_by_chunk_reads_each_section_once(events_file, monkeypatch) -> None:
    path, original = events_file
    f = jetzip.open(path)
    total, batches = bytes_read(monkeypatch, path, lambda: list(f.iterate(step_size=200)))
    assert [len(b) for b in batches] == [200, 150]
    # two requests, each of one event chunk: its sections once, plus the header and footer
    sections = sum(n for _, n, _ in sections_of(path))
    framing = path.stat().st_size - sections
    assert sections < total <= sections + 2 * 2 * framing
    assert ak.to_list(ak.concatenate(batches).event) == ak.to_list(original.event)
