"""The entropy model on whole files (issue 15): per collection, bytes without and with the model.

For each case an entropy model is trained on one collection of one file (or of the first 70 %
of a file's events) and offered when another file (or the last 30 %) is compressed whole:

* bytes of the collection's branches without the model, and with it referenced by hash
  (`--model-ref`: the model's bytes not counted), their ratio, and the ratio with the model's
  own bytes added;
* the whole file without the model, with it referenced, and with it embedded (the codec then
  uses it only in sections that save more than its bytes).

Generated Pythia jets (`jetzip generate`, two seeds) are measured as an event Parquet file when
given.

    cd benchmarks && nice ../.venv/bin/python wholefile_entropy.py [--json out.json]
        [--pythia-train train.parquet --pythia-test test.parquet]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from entropy_model import tolerances
from jetzip.codec.policy import parse_policy
from jetzip.codec.wholefile import compress_events, member_key
from jetzip.entropy.training import train_entropy_model
from jetzip.events import EventChunk, read_events
from jetzip.io import read_table
from jetzip.io.names import apply_alias

ROOT = Path(__file__).resolve().parents[2] / "shared" / "data" / "root"
NANO = "Jet_pt=0.1%,Jet_mass=0.1%,Jet_eta=0.001,Jet_phi=0.001"
PHYSLITE = (
    "AnalysisJetsAuxDyn.pt=0.1%,AnalysisJetsAuxDyn.m=0.1%,AnalysisJetsAuxDyn.eta=0.001,"
    "AnalysisJetsAuxDyn.phi=0.001"
)
HZZ = "Jet_Px=0.01,Jet_Py=0.01,Jet_Pz=0.01,Jet_E=0.1%"
#: (name, training file, collection, measured file, tolerance); None: a 70/30 split of the
#: training file's events, "same": the training file itself (in-sample, not held out).
CASES = [
    ("NanoAOD TTree 70/30", "nanoAOD_2015_CMS_Open_Data_ttbar.root", "Jet", None, NANO),
    ("NanoAOD in-sample", "nanoAOD_2015_CMS_Open_Data_ttbar.root", "Jet", "same", NANO),
    (
        "NanoAOD TTree->RNTuple",
        "nanoAOD_2015_CMS_Open_Data_ttbar.root",
        "Jet",
        "cmsopendata2015_ttbar_19980_NANOAOD_RNTupleImporter_rntuple_v1-0-0-1.root",
        NANO,
    ),
    (
        "PHYSLITE 123a -> 798",
        "uproot-issue-123a.root",
        "AnalysisJetsAuxDyn",
        "uproot-issue-798.root",
        PHYSLITE,
    ),
    (
        "PHYSLITE 123a -> 951",
        "uproot-issue-123a.root",
        "AnalysisJetsAuxDyn",
        "uproot-issue-951.root",
        PHYSLITE,
    ),
    ("HZZ 70/30", "uproot-HZZ.root", "Jet", None, HZZ),
]
TRAIN_FRACTION = 0.7


def _collection_bytes(info: dict, collection: str) -> int:
    return int(info["collections"].get(collection, {}).get("bytes", 0))


def measure(
    name: str, model: Any, chunk: EventChunk, tolerance: str, collection: str, **about: Any
) -> dict:
    """The events of `chunk` compressed whole without the model, with it referenced and with
    it embedded; the bytes of `collection` and of the files."""
    policy = parse_policy(tolerance)
    sizes = {}
    with tempfile.TemporaryDirectory() as folder:
        for label, options in {
            "plain": {},
            "referenced": {"model": model, "model_ref": True},
            "embedded": {"model": model},
        }.items():
            info = compress_events([chunk], Path(folder) / f"{label}.jz", policy=policy, **options)
            sizes[label] = info
    model_bytes = len(model.to_bytes())
    plain = _collection_bytes(sizes["plain"], collection)
    with_model = _collection_bytes(sizes["referenced"], collection)
    coded = sizes["referenced"]["collections"].get(collection, {}).get("model_columns", 0)
    return {
        "case": name,
        **about,
        "collection": sizes["referenced"]["model"]["collection"],
        "tolerance": tolerance,
        "measured_events": len(chunk.arrays),
        "model_columns": len(model.columns),
        "model_bytes": model_bytes,
        "columns_coded_by_model": int(coded),
        "collection_bytes_without": plain,
        "collection_bytes_with": with_model,
        "ratio_without_model_bytes": plain / with_model if with_model else None,
        "ratio_with_model_bytes": plain / (with_model + model_bytes),
        "file_bytes_without": sizes["plain"]["file_bytes"],
        "file_bytes_referenced": sizes["referenced"]["file_bytes"],
        "file_bytes_embedded": sizes["embedded"]["file_bytes"],
        "sections_using_embedded": sizes["embedded"]["model"]["sections_using"],
    }


def root_case(name: str, train: str, collection: str, test: str | None, tolerance: str) -> dict:
    """Train on one collection of `train` (`jetzip train --collection`'s reading), measure on
    `test`, or train on the first 70 % of the events and measure on the rest (`test` None;
    "same": every event both times, in-sample, not held out)."""
    table = read_table(ROOT / train, collection=collection)
    table = apply_alias(table, {c: member_key(c) for c in table.names})
    source = read_events(ROOT / (train if test in (None, "same") else test), skip_unsupported=True)
    arrays = source.arrays
    if test is None:
        cut = int(len(arrays) * TRAIN_FRACTION)
        assert table.event is not None
        table = table.take(table.event < cut)
        arrays = arrays[cut:]
    started = time.perf_counter()
    model = train_entropy_model(table, progress=False)
    seconds = round(time.perf_counter() - started, 1)
    split = {None: "first 70 % / last 30 % of the events", "same": "in-sample: every event"}
    about = {
        "training": f"{train}: {split.get(test, 'all events')}",
        "measured": f"{test if test not in (None, 'same') else train}",
        "training_rows": table.n_rows,
        "training_seconds": seconds,
    }
    return measure(name, model, EventChunk(arrays, 0, source.info), tolerance, collection, **about)


def pythia_case(train: Path, test: Path, folder: Path) -> dict:
    """Jets generated with one seed train the model; those of another seed, written as an
    event Parquet file (one row per event, `Jet_*` list columns), are compressed whole."""
    table = read_table(train)
    started = time.perf_counter()
    model = train_entropy_model(table, progress=False)
    seconds = round(time.perf_counter() - started, 1)
    jets = read_table(test)
    assert jets.event is not None and np.all(np.diff(jets.event) >= 0)
    _, counts = np.unique(jets.event, return_counts=True)
    path = folder / "pythia_events.parquet"
    lists = {f"Jet_{n}": ak.unflatten(v, counts) for n, v in jets.columns.items()}
    ak.to_parquet(ak.zip(lists, depth_limit=1), path)
    source = read_events(path)
    kinds = tolerances(jets, "1%", "0.01")
    tolerance = ",".join(f"Jet_{n}={t.to_text()}" for n, t in kinds.items())
    about = {
        "training": f"{train.name} ({table.n_rows:,} jets)",
        "measured": f"{test.name} as event Parquet ({jets.n_rows:,} jets)",
        "training_rows": table.n_rows,
        "training_seconds": seconds,
    }
    return measure("Pythia seed 1 -> 2", model, source, tolerance, "Jet", **about)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", default="results/wholefile_entropy.json")
    parser.add_argument("--pythia-train", type=Path, help="jets to train on (jetzip generate)")
    parser.add_argument("--pythia-test", type=Path, help="other jets (another seed) to measure")
    args = parser.parse_args()
    if not ROOT.is_dir():
        print(f"skipped: {ROOT} (the shared real files) is absent", file=sys.stderr)
        return 0
    rows = [root_case(*case) for case in CASES]
    if args.pythia_train and args.pythia_test:
        with tempfile.TemporaryDirectory() as folder:
            rows.append(pythia_case(args.pythia_train, args.pythia_test, Path(folder)))
    header = (
        f"{'case':<22} {'coll.':<9} {'cols':>4} {'coded':>5} {'without':>8} {'with':>8} "
        f"{'ratio':>6} {'+model':>6} {'model B':>8} {'file w/o':>9} {'ref':>9} {'embed':>9}"
    )
    print(header)
    for r in rows:
        print(
            f"{r['case']:<22} {r['collection'][:9]:<9} {r['model_columns']:>4} "
            f"{r['columns_coded_by_model']:>5} {r['collection_bytes_without']:>8,} "
            f"{r['collection_bytes_with']:>8,} {r['ratio_without_model_bytes']:>6.3f} "
            f"{r['ratio_with_model_bytes']:>6.3f} {r['model_bytes']:>8,} "
            f"{r['file_bytes_without']:>9,} {r['file_bytes_referenced']:>9,} "
            f"{r['file_bytes_embedded']:>9,}"
        )
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
