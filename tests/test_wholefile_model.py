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
from jetzip.codec.wholefile import EventsReader, _unpack_json
from jetzip.entropy.model import EntropyModel
from jetzip.entropy.training import train_entropy_model
from jetzip.errors import CorruptFileError, InputError
from jetzip.events import read_events
from jetzip.table import Table
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
    args = ["train", str(source), "-o", str(em), "--kind", "entropy", "--collection", "Jet"]
    assert main([*args, "--epochs", "1", "--no-progress"]) == 0
    trained = EntropyModel.load(em)
    assert {"pt", "m", "eta", "nConstituents"} <= set(trained.columns)  # member names
    out = tmp_path / "x.jz"
    cli = ["compress", str(source), "-o", str(out), "--tolerance", TOLERANCE, "--model", str(em)]
    assert main([*cli, "--model-ref", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["info", str(out)]) == 0
    shown = capsys.readouterr().out
    assert "offered to collection Jet" in shown and f"{trained.n_parameters:,} parameters" in shown
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
