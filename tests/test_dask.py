"""jetzip.dask.from_jz: dask-awkward analysis over several .jz files on a 2-worker LocalCluster,
decoding only the branches the graph reads."""

from __future__ import annotations

import re
from pathlib import Path

import awkward as ak
import numpy as np
import pytest

dak = pytest.importorskip("dask_awkward", reason="jetzip.dask needs the 'dask' extra")
hist_dask = pytest.importorskip("hist.dask", reason="histograms on dask need dask-histogram")
distributed = pytest.importorskip("distributed")

import uproot  # noqa: E402

import jetzip  # noqa: E402
from jetzip.codec.policy import parse_policy  # noqa: E402
from jetzip.codec.wholefile import compress_events  # noqa: E402
from jetzip.dask import JzRead, Partition, from_jz  # noqa: E402
from jetzip.errors import InputError, OptionError  # noqa: E402
from jetzip.events import iter_events  # noqa: E402

RELATIVE = 1e-3  # Jet_pt=0.1%
EDGES = np.linspace(0.0, 400.0, 41)


def _write_events(path: Path, rng: np.random.Generator, n_events: int) -> ak.Array:
    """A small NanoAOD-like TTree (nJet, Jet_pt, Jet_eta, MET_pt); returns its events."""
    counts = rng.poisson(4, n_events)
    n = int(counts.sum())
    jets = ak.zip(
        {
            "pt": ak.unflatten((20 + rng.exponential(40, n)).astype(np.float32), counts),
            "eta": ak.unflatten(rng.normal(0, 1.5, n).astype(np.float32), counts),
        }
    )
    met = ak.Array(rng.exponential(30, n_events).astype(np.float32))
    data = {"Jet": jets, "MET_pt": met}
    with uproot.recreate(path) as f:
        tree = f.mktree(
            "Events",
            {k: v.type for k, v in data.items()},
            field_name=lambda outer, inner: f"{outer}_{inner}",
            counter_name=lambda counted: f"n{counted}",
        )
        tree.extend(data)
    return ak.zip({"Jet_pt": jets.pt, "MET_pt": met}, depth_limit=1)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ak.Array]:
    """Three .jz files of 300-400 events in chunks of 150; the originals' events, in order."""
    directory = tmp_path_factory.mktemp("jz")
    rng = np.random.default_rng(17)
    originals = []
    for k, n_events in enumerate((300, 400, 350)):
        source = directory / f"run{k}.root"
        originals.append(_write_events(source, rng, n_events))
        jetzip.compress(source, directory / f"run{k}.jz", tolerance="Jet_pt=0.1%", step_events=150)
    return directory, ak.concatenate(originals)


@pytest.fixture(scope="module")
def client():
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def _near_edges(values: np.ndarray) -> int:
    """Values that a relative error of RELATIVE may move across a bin edge."""
    distance = np.min(np.abs(values[:, None] - EDGES[None, :]), axis=1)
    return int(np.count_nonzero(distance <= RELATIVE * np.abs(values)))


def test_jet_pt_histogram_over_files_matches_originals(files, client) -> None:
    directory, originals = files
    events = from_jz(directory / "*.jz")
    assert events.npartitions == 2 + 3 + 3  # stored chunks of 150 events per file
    filled = hist_dask.Hist.new.Var(EDGES).Double().fill(dak.flatten(events.Jet_pt))
    counts = client.compute(filled).result().values()

    original_pt = ak.to_numpy(ak.flatten(originals.Jet_pt)).astype(np.float64)
    decoded_pt = ak.to_numpy(client.compute(dak.flatten(events.Jet_pt)).result())
    assert np.all(np.abs(decoded_pt - original_pt) <= RELATIVE * np.abs(original_pt))
    assert np.array_equal(counts, np.histogram(decoded_pt, EDGES)[0])
    expected = np.histogram(original_pt, EDGES)[0]
    assert counts.sum() == expected.sum()
    assert np.abs(counts - expected).sum() <= 2 * _near_edges(original_pt)
    met = client.compute(events.MET_pt).result()
    assert ak.array_equal(met, originals.MET_pt)  # no rule: exact


def test_only_the_branches_a_graph_reads_are_decoded(files) -> None:
    directory, _ = files
    events = from_jz(directory)

    def needed(array: object) -> set[str]:
        (columns,) = dak.report_necessary_columns(array).values()
        return set(columns)

    assert needed(dak.flatten(events.Jet_pt)) == {"Jet_pt"}
    assert needed(events.MET_pt * 2) == {"MET_pt"}
    assert needed(events.MET_pt[ak.num(events.Jet_pt) > 2]) == {"Jet_pt", "MET_pt"}
    projected = JzRead(events._meta.layout.form).project_columns(frozenset({"MET_pt"}))
    path = directory / "run1.jz"
    part = projected(Partition(str(path), 100, 250, path.stat().st_size))
    assert part.fields == ["MET_pt"] and len(part) == 150
    with pytest.raises(InputError, match="changed since the graph was planned"):
        projected(Partition(str(path), 100, 250, path.stat().st_size + 1))


def test_step_size_and_filter_name(files, client) -> None:
    directory, originals = files
    events = from_jz(sorted(directory.glob("*.jz")), filter_name="Jet_*", step_size=100)
    assert events.fields == ["Jet_pt", "Jet_eta"]
    assert events.npartitions == 3 + 4 + 4
    assert events.divisions[-1] == len(originals)
    pt = client.compute(events.Jet_pt).result()
    assert ak.all(ak.num(pt) == ak.num(originals.Jet_pt))


def test_bad_requests_are_one_clear_error(files, tmp_path) -> None:
    directory, _ = files
    with pytest.raises(InputError, match=re.escape("no branch of run0.jz matches 'Muon_*'")):
        from_jz(directory / "run0.jz", filter_name="Muon_*")
    with pytest.raises(OptionError, match="step_size must be at least 1"):
        from_jz(directory, step_size=0)
    with pytest.raises(InputError, match="no files match"):
        from_jz(tmp_path / "*.jz")
    other = tmp_path / "other.jz"
    jetzip.compress(directory / "run0.root", other, branches="MET_pt")
    with pytest.raises(InputError, match="other branches or types"):
        from_jz([directory / "run0.jz", other])


def test_nanoaod_split_into_files(tmp_path, client, root_dir) -> None:
    """Real CMS NanoAOD, its 200 events split over two .jz files of two chunks each."""
    source = root_dir / "nanoAOD_2015_CMS_Open_Data_ttbar.root"
    chunks = list(iter_events(source, branches="nJet,Jet_pt,Jet_eta", step_events=50))
    policy = parse_policy("Jet_pt=0.1%")
    compress_events(chunks[:2], tmp_path / "a.jz", policy=policy)
    compress_events(chunks[2:], tmp_path / "b.jz", policy=policy)
    events = from_jz(tmp_path)
    assert events.npartitions == 4
    filled = hist_dask.Hist.new.Var(EDGES).Double().fill(dak.flatten(events.Jet_pt))
    counts = client.compute(filled).result().values()
    with uproot.open(source) as f:
        original_pt = ak.to_numpy(ak.flatten(f["Events"]["Jet_pt"].array())).astype(np.float64)
    expected = np.histogram(original_pt, EDGES)[0]
    assert counts.sum() == expected.sum()
    assert np.abs(counts - expected).sum() <= 2 * _near_edges(original_pt)
