"""The entropy model on whole files: trained on one collection of a ROOT file, offered to that
collection when the whole file is compressed, decoded by every reader (issue 15)."""

from __future__ import annotations

from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot

import jetzip
from jetzip.cli.main import main
from jetzip.codec.policy import parse_policy
from jetzip.codec.wholefile import EventsReader, _pack_json, _unpack_json
from jetzip.entropy.model import EntropyModel
from jetzip.entropy.training import train_entropy_model
from jetzip.errors import CorruptFileError, InputError
from jetzip.events import read_events
from jetzip.table import Table
from test_hardening import assemble, sections
from test_wholefile import assert_events_close

TOLERANCE = "Jet_pt=1%,Jet_mass=1%,Jet_eta=0.01,Jet_phi=0.01,Muon_pt=1%"


def _events(n: int, seed: int) -> dict[str, np.ndarray]:
    """Jets whose multiplicity, charged count, pt and mass depend on each other (what the model
    learns), muons, and an event-level MET."""
    rng = np.random.default_rng(seed)
    counts = rng.poisson(4, n)
    jets = int(counts.sum())
    constituents = rng.poisson(20, jets).astype(np.int32)
    charged = rng.binomial(constituents, 0.6).astype(np.int32)
    pt = np.exp(rng.normal(3.5, 0.6, jets) + 0.02 * constituents).astype(np.float32)
    mass = (pt * np.exp(rng.normal(-2.5, 0.3, jets)) * (1 + constituents / 40)).astype(np.float32)
    n_muons = rng.poisson(1, n)
    muons = int(n_muons.sum())
    offsets = np.concatenate([[0], np.cumsum(counts)])
    mu_offsets = np.concatenate([[0], np.cumsum(n_muons)])

    def jagged(values: np.ndarray, at: np.ndarray) -> list[np.ndarray]:
        return [values[at[i] : at[i + 1]] for i in range(n)]

    return {
        "nJet": counts.astype(np.int32),
        "Jet_pt": jagged(pt, offsets),
        "Jet_eta": jagged(rng.uniform(-2.5, 2.5, jets).astype(np.float32), offsets),
        "Jet_phi": jagged(rng.uniform(-np.pi, np.pi, jets).astype(np.float32), offsets),
        "Jet_mass": jagged(mass, offsets),
        "Jet_nConstituents": jagged(constituents, offsets),
        "Jet_nCharged": jagged(charged, offsets),
        "nMuon": n_muons.astype(np.int32),
        "Muon_pt": jagged(rng.exponential(20, muons).astype(np.float32) + 3, mu_offsets),
        "MET_pt": rng.exponential(40, n).astype(np.float32),
    }


def _write_root(path: Path, n: int, seed: int) -> Path:
    """`_events` as a TTree with NanoAOD's branch names (Jet_pt, nJet, ...)."""
    arrays = {k: ak.Array(v) if isinstance(v, list) else v for k, v in _events(n, seed).items()}
    branches = {
        "Jet": ak.zip({k[4:]: arrays[k] for k in arrays if k.startswith("Jet_")}),
        "Muon": ak.zip({"pt": arrays["Muon_pt"]}),
        "MET_pt": ak.Array(arrays["MET_pt"]),
    }
    with uproot.recreate(path) as out:
        types = {name: values.type for name, values in branches.items()}
        names = {"counter_name": lambda c: f"n{c}", "field_name": lambda c, f: f"{c}_{f}"}
        out.mktree("Events", types, **names).extend(branches)
    return path


@pytest.fixture(scope="module")
def nano(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A NanoAOD-like TTree of 3,000 events (~12,000 jets), and an entropy model trained on the
    jets of another 3,000 events (a few seconds)."""
    folder = tmp_path_factory.mktemp("nano")
    path = _write_root(folder / "nano.root", 3000, 1)
    training = _events(3000, 2)
    flat = {k.removeprefix("Jet_"): np.concatenate(v) for k, v in training.items() if "Jet_" in k}
    flat["m"] = flat.pop("mass")
    model = train_entropy_model(
        Table(flat), hidden=(16,), epochs=4, batch_size=256, lr=1e-2, progress=False
    )
    return path, model.save(folder / "em").parent


def _index(path: Path) -> dict:
    return _unpack_json(EventsReader(path).footer["index"])


def _check_every_value(source: Path, restored: Path) -> None:
    original = read_events(source)
    back = read_events(restored)
    rules = parse_policy(TOLERANCE).resolve(
        {n: "float" in str(original.arrays[n].type) for n in original.arrays.fields}
    )
    assert_events_close(original.arrays, back.arrays, rules)


def test_the_model_codes_its_collection_and_every_reader_decodes(nano, tmp_path) -> None:
    source, model = nano
    out = tmp_path / "x.jz"
    info = jetzip.compress(source, out, tolerance=TOLERANCE, model=model, model_ref=True)
    assert info["model"]["collection"] == "Jet"
    assert info["model"]["sections_using"] >= 1 and info["model"]["bytes_in_file"] == 0
    assert info["collections"]["Jet"]["model_columns"] >= 1
    assert info["collections"]["(none)"]["model_columns"] == 0  # Muon_pt, MET_pt, counts
    used = [s for s in _index(out)["sections"] if "entropy_model" in s]
    assert {s["entropy_model"] for s in used} == {EntropyModel.load(model).content_hash()}
    # whole file back to ROOT (every event and branch, every value within its bound)
    assert jetzip.decompress(out, tmp_path / "back.root", model=model) == 3000
    _check_every_value(source, tmp_path / "back.root")
    # the same values as the file written without the model
    plain = tmp_path / "plain.jz"
    jetzip.compress(source, plain, tolerance=TOLERANCE)
    exact = ["Jet_nConstituents", "Jet_nCharged", "nJet", "Muon_pt", "MET_pt"]
    with_model = jetzip.open(out, model=model).arrays(exact, how=None)
    without = jetzip.open(plain).arrays(exact, how=None)
    for name in exact:
        assert ak.to_list(with_model[name]) == ak.to_list(without[name]), name


def test_a_referenced_model_is_needed_only_for_the_columns_it_codes(nano, tmp_path) -> None:
    source, model = nano
    out = tmp_path / "x.jz"
    jetzip.compress(source, out, tolerance=TOLERANCE, model=model, model_ref=True)
    muons = jetzip.open(out).arrays("Muon_pt", how=None)  # another section: no model needed
    assert len(muons) == 3000
    with pytest.raises(InputError, match="--model MODEL_DIR") as error:
        jetzip.decompress(out, tmp_path / "back.root")
    assert "\n" not in str(error.value)
    code = main(["decompress", str(out), "-o", str(tmp_path / "cli.root"), "--model", str(model)])
    assert code == 0
    _check_every_value(source, tmp_path / "cli.root")


def test_an_embedded_model_is_used_where_it_pays_for_its_bytes(nano, tmp_path) -> None:
    small, model = nano
    size = len(EntropyModel.load(model).to_bytes())
    info = jetzip.compress(small, tmp_path / "small.jz", tolerance=TOLERANCE, model=model)
    assert info["model"]["embedded"] is True  # 3,000 events save less than the model's bytes
    assert info["model"]["sections_using"] == 0 and info["model"]["bytes_in_file"] == 0
    source = _write_root(tmp_path / "big.root", 15000, 3)
    out = tmp_path / "x.jz"
    info = jetzip.compress(source, out, tolerance=TOLERANCE, model=model)
    assert info["model"]["sections_using"] >= 1 and info["model"]["bytes_in_file"] == size
    assert jetzip.decompress(out, tmp_path / "back.root") == 15000  # no model directory needed
    _check_every_value(source, tmp_path / "back.root")
    # a reader that seeks the jets' section finds the model before it
    sought = jetzip.open(out).arrays(["Jet_pt", "Jet_nCharged"], how=None)
    whole = read_events(tmp_path / "back.root").arrays
    for name in ("Jet_pt", "Jet_nCharged"):
        assert ak.to_list(sought[name]) == ak.to_list(whole[name]), name


def test_cli_trains_on_a_collection_and_info_shows_the_model(nano, tmp_path, capsys) -> None:
    source, _ = nano
    em = tmp_path / "em"
    args = ["train", str(source), "-o", str(em), "--kind", "entropy", "--collection", "Jet_"]
    assert main([*args, "--epochs", "1", "--no-progress"]) == 0
    trained = EntropyModel.load(em)
    assert {"pt", "m", "eta", "nConstituents"} <= set(trained.columns)  # member names
    # recorded as whole files name it (`Jet_` -> `Jet`), with the tree it was read from
    assert trained.meta["collection"] == "Jet" and trained.meta["tree"] == "Events"
    out = tmp_path / "x.jz"
    cli = ["compress", str(source), "-o", str(out), "--tolerance", TOLERANCE, "--model", str(em)]
    assert main([*cli, "--model-ref", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["info", str(out)]) == 0
    shown = capsys.readouterr().out
    assert "offered to collection Jet:" in shown and f"{trained.n_parameters:,} parameters" in shown
    assert "collection  Jet: 6 branch(es)" in shown


def test_a_model_matching_no_collection_is_refused_in_one_line(tmp_path, capsys) -> None:
    rng = np.random.default_rng(0)
    columns = {"foo": rng.normal(size=500), "bar": rng.normal(size=500)}
    model = train_entropy_model(Table(columns), hidden=(4,), epochs=1, progress=False)
    em = model.save(tmp_path / "em").parent
    source = tmp_path / "tiny.root"
    with uproot.recreate(source) as out:
        out["Events"] = {"x": np.arange(10, dtype=np.float32)}
    code = main(["compress", str(source), "-o", str(tmp_path / "x.jz"), "--model", str(em)])
    err = capsys.readouterr().err.strip()
    assert code != 0 and "match no collection" in err and "\n" not in err
    assert not (tmp_path / "x.jz").exists()


def test_a_damaged_map_of_the_model_columns_is_one_line(nano, tmp_path) -> None:
    source, model = nano
    out = tmp_path / "x.jz"
    jetzip.compress(source, out, tolerance=TOLERANCE, model=model, model_ref=True)
    ids = _index(out)["model_columns"]
    given = [i for i in ids if i is not None]
    for damaged in (ids[:-1], [*given[:1], *given[:1], *ids[2:]], ["9999.1d", *ids[1:]], {}):
        reader = EventsReader(out, model=model)
        reader.index["model_columns"] = damaged
        with pytest.raises(CorruptFileError, match="names its entropy model's columns wrongly"):
            list(reader.iter_chunks())


def _write_collections(path: Path, members: dict[str, list[str]], n: int = 300) -> Path:
    """A TTree `Events` of these collections (name -> float members), about two per event."""
    rng = np.random.default_rng(5)
    branches = {}
    for name, fields in members.items():
        counts = rng.poisson(2, n)
        values = {f: rng.exponential(20, counts.sum()).astype(np.float32) for f in fields}
        branches[name] = ak.zip({f: ak.unflatten(v, counts) for f, v in values.items()})
    with uproot.recreate(path) as out:
        names = {"counter_name": lambda c: f"n{c}", "field_name": lambda c, f: f"{c}_{f}"}
        out.mktree("Events", {k: v.type for k, v in branches.items()}, **names).extend(branches)
    return path


def _kinematics_model(folder: Path, collection: str) -> Path:
    """A tiny model of columns pt, eta, phi, m that records it was trained on `collection`."""
    rng = np.random.default_rng(0)
    columns = {c: rng.exponential(20, 500).astype(np.float32) for c in ("pt", "eta", "phi", "m")}
    model = train_entropy_model(
        Table(columns), hidden=(4,), epochs=1, progress=False, source={"collection": collection}
    )
    assert model.meta["collection"] == collection
    return model.save(folder / f"em-{collection}").parent


def test_the_recorded_collection_is_chosen_where_the_file_has_it(tmp_path, capsys) -> None:
    both = _write_collections(
        tmp_path / "both.root", {"Jet": ["pt", "eta", "phi", "mass"], "Muon": ["pt", "eta"]}
    )
    muon_model = _kinematics_model(tmp_path, "Muon")
    out = tmp_path / "muon.jz"
    # Jet matches all four columns, Muon two: the recorded Muon is chosen all the same
    assert (
        jetzip.compress(both, out, model=muon_model, model_ref=True)["model"]["collection"]
        == "Muon"
    )
    assert jetzip.decompress(out, tmp_path / "back.root", model=muon_model) == 300
    original, back = read_events(both).arrays, read_events(tmp_path / "back.root").arrays
    for name in original.fields:
        assert ak.to_list(back[name]) == ak.to_list(original[name]), name
    # a file without the recorded collection: matched by member names, and info says so
    jet_model = _kinematics_model(tmp_path, "Jet")
    muons = _write_collections(tmp_path / "muons.root", {"Muon": ["pt", "eta", "phi", "mass"]})
    out = tmp_path / "fallback.jz"
    assert (
        jetzip.compress(muons, out, model=jet_model, model_ref=True)["model"]["collection"]
        == "Muon"
    )
    capsys.readouterr()
    assert main(["info", str(out)]) == 0
    assert (
        "offered to collection Muon (trained on Jet, which this file lacks)"
        in capsys.readouterr().out
    )


def test_a_recorded_collection_without_matching_members_is_one_line(tmp_path, capsys) -> None:
    source = _write_collections(tmp_path / "x.root", {"Jet": ["pt", "eta"], "Muon": ["dxy", "dz"]})
    model = _kinematics_model(tmp_path, "Muon")
    code = main(["compress", str(source), "-o", str(tmp_path / "x.jz"), "--model", str(model)])
    err = capsys.readouterr().err.strip()
    assert code != 0 and "\n" not in err
    assert "trained on collection Muon, whose members in" in err and "match none" in err
    assert not (tmp_path / "x.jz").exists()


def test_a_section_naming_another_model_is_one_line(nano, tmp_path) -> None:
    """The footer's section descriptions name the model that coded each; one naming another
    model than the header's (behind valid checksums) is refused, in the section coded with the
    model and in one that is not (a section stored exactly never loads the model)."""
    source, model = nano
    out = tmp_path / "x.jz"
    jetzip.compress(source, out, tolerance=TOLERANCE, model=model, model_ref=True)
    header, chunks, footer = sections(out.read_bytes())
    index = _unpack_json(footer["index"])
    other = EntropyModel.load(_kinematics_model(tmp_path, "Jet")).content_hash()
    assert other != header["model"]["sha256"]
    own = {k: v for k, v in footer.items() if k not in ("chunk_index", "n_chunks", "n_rows")}
    crafted = tmp_path / "crafted.jz"
    crafted.write_bytes(assemble(header, chunks, own))  # unchanged: reads as the original
    assert jetzip.decompress(crafted, tmp_path / "back.root", model=model) == 3000
    bounded = [
        i
        for i, s in enumerate(index["sections"])
        if any(c["encoding"] != "lossless" for c in s["columns"].values())
    ]
    assert {"entropy_model" in index["sections"][i] for i in bounded} == {True, False}
    for position in bounded:
        named = [dict(s) for s in index["sections"]]
        named[position]["entropy_model"] = other
        damaged = dict(own, index=_pack_json(dict(index, sections=named)))
        crafted.write_bytes(assemble(header, chunks, damaged))
        with pytest.raises(CorruptFileError, match="coded with a model it lacks") as error:
            jetzip.decompress(crafted, tmp_path / "back.root", model=model)
        assert "\n" not in str(error.value)
