"""Whole-tree I/O speed: jetzip.events against uproot alone, on the real ROOT files.

    nice .venv/bin/python benchmarks/events_io.py

For each file (and branch selection), times `read_events` against uproot reading the same
top-level branches (`tree.arrays(names)`), and `write_events` to a TTree and to Parquet against
uproot writing the same arrays with `mktree` + `extend` (its int32 counters, no header). Each
figure is the best of --repeat runs in one process, after one untimed warm-up read. Prints a
table and writes benchmarks/results/events_io.json. Needs ../shared/data/root.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import uproot

from jetzip.events import read_events, write_events

ROOT_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "root"
RESULTS = Path(__file__).resolve().parent / "results" / "events_io.json"
#: (file, branch patterns or None for every branch); all chosen so that uproot reads the same
#: branches by name (no split objects, whose sub-branch names uproot's expressions reject).
CASES = (
    ("nanoAOD_2015_CMS_Open_Data_ttbar.root", "run,event,nJet,Jet_*,nMuon,Muon_*,MET_*"),
    ("nanoAOD_2015_CMS_Open_Data_ttbar.root", None),
    ("uproot-HZZ.root", None),
    ("uproot-Zmumu.root", None),
    (
        "uproot-issue-123a.root",
        "AnalysisJetsAuxDyn.pt,AnalysisJetsAuxDyn.eta,AnalysisJetsAuxDyn.phi",
    ),
    ("Run2012BC_DoubleMuParked_Muons_1000evts_rntuple_v1-0-0-0.root", None),
)


def best(func: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def uproot_write(arrays, tree: str, path: Path) -> None:
    with uproot.recreate(path) as file:
        writer = file.mktree(tree, {name: arrays[name].type.content for name in arrays.fields})
        writer.extend({name: arrays[name] for name in arrays.fields})


def run_case(name: str, patterns: str | None, repeat: int, tmp: Path) -> dict:
    path = ROOT_DIR / name
    events = read_events(path, branches=patterns)  # warm-up, and the arrays to write
    tree, kind = events.info.tree, events.info.kind
    names = list(events.arrays.fields)

    def uproot_read() -> None:
        with uproot.open(path) as file:
            file[tree].arrays(names)

    row = {
        "file": name,
        "branches": patterns or "all",
        "kind": kind,
        "n_branches": len(names),
        "events": events.n_events,
        "read_jetzip_s": best(lambda: read_events(path, branches=patterns), repeat),
        "read_uproot_s": best(uproot_read, repeat),
        "write_parquet_s": best(lambda: write_events([events], tmp / "e.parquet"), repeat),
    }
    if kind == "TTree":
        row["write_ttree_s"] = best(lambda: write_events([events], tmp / "e.root"), repeat)
        row["write_uproot_s"] = best(
            lambda: uproot_write(events.arrays, tree, tmp / "u.root"), repeat
        )
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    if not ROOT_DIR.is_dir():
        raise SystemExit(f"needs the shared data: {ROOT_DIR} is missing")
    with tempfile.TemporaryDirectory() as tmp:
        rows = [run_case(name, patterns, args.repeat, Path(tmp)) for name, patterns in CASES]
    columns = ["file", "branches", "kind", "n", "read jetzip s", "read uproot s"]
    columns += ["write TTree s", "uproot mktree s", "write Parquet s"]
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * 9)
    for r in rows:
        cells = [
            r["file"],
            r["branches"],
            r["kind"],
            str(r["n_branches"]),
            f"{r['read_jetzip_s']:.2f}",
            f"{r['read_uproot_s']:.2f}",
            f"{r['write_ttree_s']:.2f}" if "write_ttree_s" in r else "-",
            f"{r['write_uproot_s']:.2f}" if "write_uproot_s" in r else "-",
            f"{r['write_parquet_s']:.2f}",
        ]
        print("| " + " | ".join(cells) + " |")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    machine = {"platform": platform.platform(), "python": platform.python_version()}
    RESULTS.write_text(
        json.dumps({"machine": machine, "repeat": args.repeat, "rows": rows}, indent=1)
    )
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
