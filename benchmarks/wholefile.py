"""Whole ROOT files through .jz: sizes and times against the input and against uproot.

    nice .venv/bin/python benchmarks/wholefile.py [--files 'nano*'] [--policies lossless,kin]

For every file in ../shared/data/root (or those matching --files), every branch jetzip can store
exactly (`--skip-unsupported`: the same branches in every column of the table) is read once
with `jetzip.events.read_events`, then:

- sizes: the input ROOT file; uproot writing the same arrays (jetzip.io.trees' writer, so the
  same counts branches) with ZSTD(5) and LZMA(9); the whole-file .jz with `--precision
  lossless`, with the file's preset (`nanoaod` for CMS NanoAOD, `physlite` for ATLAS PHYSLITE)
  and with a 0.1 % (pt, mass) / 0.001 (eta, phi) kinematics rule;
- times, best of `--repeat` runs: uproot opening the file and reading the same branches
  (`tree.arrays`), jetzip compressing the read events (reading excluded) with each policy,
  decoding them all (`jetzip.open(x).arrays(how=None)`, and for the lossless file also
  `arrays()`, collections zipped into records), uproot writing them (ZSTD), and, once, the
  lossless file's `jetzip decompress` to ROOT of the source's kind (decoding and uproot's
  write);
- one branch: time and peak traced memory of `jetzip.open(x).arrays(BRANCH)` against
  `jetzip.open(x).arrays()` (everything), BRANCH being the standard jets' pt (memory in one
  more run: tracemalloc slows Python code several times, so it is off while timing).

Prints a table and merges its rows into benchmarks/results/wholefile.json (one entry per file,
so files can be run in groups that each stay within a few minutes).
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import tempfile
import time
import tracemalloc
import warnings
from pathlib import Path
from typing import Any

import awkward as ak
import uproot

import jetzip
from environment import describe_environment
from jetzip.codec.policy import parse_policy
from jetzip.codec.wholefile import compress_events, decompress_events
from jetzip.events import read_events

ROOT_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "root"
RESULTS = Path(__file__).resolve().parent / "results" / "wholefile.json"
#: The kinematics rule, spelled for NanoAOD (`Jet_pt`), PHYSLITE (`.pt`, `:pt`) and Delphes
#: (`.PT`); only the patterns that match a float branch of a file are used for it.
KINEMATICS = {
    "0.1%": ("*_pt", "*.pt", "*:pt", "*.PT", "*_mass", "*.m", "*:m", "*.Mass"),
    "0.001": ("*_eta", "*.eta", "*:eta", "*.Eta", "*_phi", "*.phi", "*:phi", "*.Phi"),
}


def preset_of(names: list[str]) -> str | None:
    """nanoaod for CMS NanoAOD trees, physlite for ATLAS PHYSLITE, else none."""
    if "nJet" in names or "nMuon" in names:
        return "nanoaod"
    if any(n.startswith("AnalysisJetsAuxDyn") for n in names):
        return "physlite"
    return None


def kinematics_rule(floats: list[str]) -> str | None:
    items = [
        f"{pattern}={bound}"
        for bound, patterns in KINEMATICS.items()
        for pattern in patterns
        if any(fnmatch.fnmatchcase(n, pattern) for n in floats)
    ]
    return ",".join(items) or None


def pt_branch(names: list[str], arrays: ak.Array) -> str:
    """The standard jets' pt (Jet_pt, AnalysisJetsAuxDyn.pt, Jet.PT), else the first jagged
    float branch, else the first branch."""
    for candidate in ("Jet_pt", "AnalysisJetsAuxDyn.pt", "AnalysisJetsAuxDyn:pt", "Jet.PT"):
        if candidate in names:
            return candidate
    for name in names:
        if "var * float" in str(arrays[name].type):
            return name
    return names[0]


def timed(function: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - start


def best(repeat: int, function: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    """The result and the best time of `repeat` runs (the machine is shared: the best run is
    the one least slowed by other jobs)."""
    runs = [timed(function, *args, **kwargs) for _ in range(repeat)]
    return runs[-1][0], min(seconds for _, seconds in runs)


def traced(function: Any, repeat: int) -> tuple[float, int]:
    """Best time of `repeat` untraced runs and the peak traced memory of one more run
    (tracemalloc slows Python code several times, so it is not on while timing)."""
    _, seconds = best(repeat, function)
    tracemalloc.start()
    function()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return seconds, peak


def uproot_read_s(path: Path, tree: str, names: list[str], repeat: int) -> float | None:
    """uproot's own time to open the file and read the same branches (None where it cannot
    read them by name); best of `repeat`, each from a fresh open without uproot's caches."""
    wanted = set(names)

    def read() -> None:
        with uproot.open(path, object_cache=None, array_cache=None) as file:
            file[tree].arrays(filter_name=lambda n: n in wanted)

    try:
        return best(repeat, read)[1]
    except Exception:  # some object branches need uproot's own interpretation
        return None


def uproot_write(chunk: Any, path: Path, compression: Any) -> float:
    """uproot writing the events with the same counts branches as jetzip's writer."""
    from jetzip.io import trees

    kind = chunk.info.kind or "TTree"
    start = time.perf_counter()
    with uproot.recreate(path, compression=compression) as file:
        trees._TreeWriter(file, chunk, kind).extend(chunk.arrays)
    return time.perf_counter() - start


def run_file(path: Path, policies: list[str], work: Path, repeat: int) -> dict[str, Any]:
    chunk, jz_read_s = timed(read_events, path, skip_unsupported=True)
    names = list(chunk.arrays.fields)
    floats = [n for n in names if "float" in str(chunk.arrays[n].type)]
    row: dict[str, Any] = {
        "file": path.name,
        "tree": chunk.info.tree,
        "kind": chunk.info.kind,
        "events": len(chunk.arrays),
        "branches": len(names),
        "input_bytes": path.stat().st_size,
        "jetzip_read_s": round(jz_read_s, 3),
        "uproot_read_s": uproot_read_s(path, chunk.info.tree, names, repeat),
    }
    for label, compression in (("zstd", uproot.ZSTD(5)), ("lzma", uproot.LZMA(9))):
        out = work / f"uproot_{label}.root"
        try:
            seconds = uproot_write(chunk, out, compression)
            row[f"uproot_{label}_bytes"] = out.stat().st_size
            row[f"uproot_{label}_write_s"] = round(seconds, 3)
        except Exception as exc:  # recorded, not hidden
            row[f"uproot_{label}_error"] = str(exc).splitlines()[0][:120]
    rules = {
        "lossless": ("lossless", None),
        "preset": (preset_of(names), None),
        "kin": (None, kinematics_rule(floats)),
    }
    for label in policies:
        precision, tolerance = rules[label]
        if (label == "preset" and precision is None) or (label == "kin" and tolerance is None):
            continue
        jz = work / f"{label}.jz"
        policy = parse_policy(tolerance, precision)
        _, compress_s = best(repeat, compress_events, [chunk], jz, policy=policy)
        opened = jetzip.open(jz)
        decode_s, decode_peak = traced(lambda opened=opened: opened.arrays(how=None), repeat)
        row[label] = {
            "policy": precision or tolerance,
            "bytes": jz.stat().st_size,
            "compress_s": round(compress_s, 3),
            "decode_s": round(decode_s, 3),
            "decode_peak_mb": round(decode_peak / 1e6, 2),
        }
        if label == "lossless":  # to ROOT once: a wide TTree takes seconds to write
            _, decompress_s = timed(decompress_events, jz, work / "back.root")
            row[label]["decompress_root_s"] = round(decompress_s, 3)
            _, zipped_s = best(repeat, opened.arrays)  # collections as (vector) records
            row[label]["decode_zipped_s"] = round(zipped_s, 3)
            branch = pt_branch(names, chunk.arrays)
            one_s, one_peak = traced(lambda b=branch, o=opened: o.arrays(b, how=None), repeat)
            row["one_branch"] = {
                "branch": branch,
                "read_s": round(one_s, 3),
                "peak_mb": round(one_peak / 1e6, 2),
            }
    return row


def print_table(rows: list[dict[str, Any]]) -> None:
    def kb(value: Any) -> str:
        return f"{value / 1e3:8.1f}" if isinstance(value, int | float) else f"{'-':>8}"

    def sec(value: Any) -> str:
        return f"{value:6.2f}" if isinstance(value, int | float) else f"{'-':>6}"

    print(
        f"{'file':<40} {'events':>6} {'br':>4} {'input':>8} {'zstd':>8} {'lzma':>8} "
        f"{'jz-lossl':>8} {'jz-prst':>8} {'jz-kin':>8} {'uprd':>6} {'c-lsl':>6} {'c-prst':>6} "
        f"{'c-kin':>6} {'dec':>6} {'deczp':>6} {'uprwr':>6} {'decmp':>6} {'1br':>6}"
    )
    for r in rows:
        policies = [r.get(k, {}) for k in ("lossless", "preset", "kin")]
        lossless = policies[0]
        print(
            f"{r['file'][:40]:<40} {r['events']:>6} {r['branches']:>4} {kb(r['input_bytes'])} "
            f"{kb(r.get('uproot_zstd_bytes'))} {kb(r.get('uproot_lzma_bytes'))} "
            f"{' '.join(kb(p.get('bytes')) for p in policies)} {sec(r.get('uproot_read_s'))} "
            f"{' '.join(sec(p.get('compress_s')) for p in policies)} "
            f"{sec(lossless.get('decode_s'))} {sec(lossless.get('decode_zipped_s'))} "
            f"{sec(r.get('uproot_zstd_write_s'))} "
            f"{sec(lossless.get('decompress_root_s'))} "
            f"{sec(r.get('one_branch', {}).get('read_s'))}"
        )
    print(
        "sizes in kB; times in s, best of --repeat: uprd uproot opening the file and reading the "
        "branches; c-* jetzip compressing the read events; dec decoding every branch "
        "(jetzip.open(x).arrays(how=None)); deczp the same with collections zipped (arrays()); "
        "uprwr uproot writing them (ZSTD); decmp `jetzip decompress` "
        "to ROOT (decode + uproot's write); 1br one branch via jetzip.open"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", default="*.root", help="glob on the file names")
    parser.add_argument("--policies", default="lossless,preset,kin")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs; the best is kept")
    args = parser.parse_args()
    files = sorted(p for p in ROOT_DIR.glob("*.root") if fnmatch.fnmatch(p.name, args.files))
    if not files:
        raise SystemExit(f"no file in {ROOT_DIR} matches {args.files!r}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for path in files:
            rows.append(run_file(path, args.policies.split(","), Path(tmp), args.repeat))
            print(f"done {path.name}", flush=True)
    print_table(rows)
    recorded = json.loads(RESULTS.read_text()) if RESULTS.exists() else {"files": {}}
    recorded["environment"] = describe_environment(("jetzip", "numpy", "uproot", "awkward"))
    recorded["files"].update({r["file"]: r for r in rows})
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(recorded, indent=2))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
