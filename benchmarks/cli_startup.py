"""The `jetzip` command's start-up tax: a small file, and a large one against the library.

Start-up: `jetzip --help`, and `jetzip compress` / `decompress` of a 10-row Parquet file, each
a whole process timed from outside (wall and CPU seconds, peak RSS, memory touched for the
first time = minor page faults), median of --repeats runs after a warm-up; with --baseline-src
the same commands from another source tree (e.g. `git archive` of an older commit) run in turn
with them. The heavy libraries each command imported, and the compress command's costliest
imports (`python -X importtime`), say where the time goes.

Large input (--rows, default 2 M resampled ATLAS jets, bounded at 0.1 % / 0.001): the
`jetzip compress` / `decompress` commands against `jetzip.codec.compress_file` /
`decompress_to` in one process whose imports are not timed: run three times there, the first
in a fresh process (memory new to it) and the best of the other two ("warm", what the issue's
in-process rates mean).

Every process runs with Python's bytecode cache on (in a temporary PYTHONPYCACHEPREFIX,
warmed first), as an installed package has its .pyc files: this workplace sets
PYTHONDONTWRITEBYTECODE, which would add compiling jetzip's sources to every run.

    nice .venv/bin/python benchmarks/cli_startup.py [--rows 2000000] [--repeats 5]
        [--baseline-src DIR] [--output benchmarks/results/cli_startup]

A --baseline-src tree of a commit with the C grid kernels needs them built there first
(`python setup.py build_ext --inplace` in that tree).

Prints Markdown tables and writes OUTPUT.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from environment import describe_environment
from jetzip.io import write_table
from jetzip.table import Table
from throughput import ATLAS_4D, TOLERANCES, input_table

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
#: Libraries that no command on a flat Parquet file needs (tests/test_cli_startup.py).
HEAVY = ("torch", "uproot", "awkward", "matplotlib", "dask", "pandas", "h5py", "numba")
#: What the `jetzip` console script runs.
CLI = "import sys; from jetzip.cli.main import main; sys.exit(main())"
#: The same, then a JSON line with the top-level modules the process imported.
PROBE = (
    "import json, sys\nfrom jetzip.cli.main import main\n"
    "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
    "print(json.dumps(sorted({m.partition('.')[0] for m in sys.modules})))"
)
#: The library in one process: imports first (untimed), then three timed runs.
IN_PROCESS = """
import json, resource, sys, time
import jetzip.io
from jetzip.codec import compress_file, decompress_to
from jetzip.memory import keep_freed_memory

keep_freed_memory()  # as the jetzip command does
direction, source, target, tolerances = sys.argv[1:]
runs = []
for _ in range(3):
    before, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    if direction == "compress":
        compress_file(source, target, tolerances=tolerances)
    else:
        decompress_to(source, target)
    wall, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF)
    runs.append({
        "wall_s": wall,
        "cpu_s": after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime,
        "minor_faults": after.ru_minflt - before.ru_minflt,
        "peak_mib": after.ru_maxrss / 1024,
    })
print(json.dumps(runs))
"""
PAGE_MIB = os.sysconf("SC_PAGE_SIZE") / 2**20


def environment(src: Path, pycache: Path) -> dict[str, str]:
    """A process that imports jetzip from `src`, with bytecode cached under `pycache`."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**env, "PYTHONPATH": str(src), "PYTHONPYCACHEPREFIX": str(pycache)}


def whole_process(argv: list[str], env: dict[str, str], cwd: Path) -> dict[str, float]:
    """Run `argv` to its end: wall and CPU seconds, peak RSS and first-touched MiB (the
    kernel's own accounting of that child, os.wait4)."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        process = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        if os.waitstatus_to_exitcode(status) != 0:
            err.seek(0)
            raise SystemExit(f"{' '.join(argv)} failed: {err.read().decode()[-2000:]}")
    return {
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_mib": usage.ru_maxrss / 1024,
        "first_touch_mib": usage.ru_minflt * PAGE_MIB,
    }


def medians(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def small_input(path: Path) -> None:
    """Ten ATLAS-like jets (float32 Parquet)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(19)
    columns = {"m": (8, 1), "pt": (10, 1)}
    table = Table({n: rng.lognormal(*p, 10).astype(np.float32) for n, p in columns.items()})
    table.columns["eta"] = rng.uniform(-3, 3, 10).astype(np.float32)
    table.columns["phi"] = rng.uniform(-np.pi, np.pi, 10).astype(np.float32)
    write_table(table, path)


def startup(trees: dict[str, Path], work: Path, repeats: int) -> dict[str, Any]:
    """Median whole-process figures of each command from each source tree, run in turn."""
    for tree in trees:  # each tree in its own directory, with its own .jz
        small_input(work / tree / "t.parquet")
    commands = {
        "--help": ["--help"],
        "compress 10 rows": [
            *("compress", "t.parquet", "-o", "t.jz", "--tolerance", TOLERANCES),
            *("--quiet", "--force"),
        ],
        "decompress 10 rows": ["decompress", "t.jz", "-o", "back.parquet", "--force"],
    }
    results: dict[str, Any] = {}
    for label, argv in commands.items():
        runs: dict[str, list[dict[str, float]]] = {tree: [] for tree in trees}
        for repeat in range(repeats + 1):  # the first round warms the bytecode caches
            for tree, src in trees.items():
                env = environment(src, work / f"pycache-{tree}")
                run = whole_process([sys.executable, "-c", CLI, *argv], env, work / tree)
                if repeat:
                    runs[tree].append(run)
        results[label] = {}
        for tree, src in trees.items():
            probe = subprocess.run(
                [sys.executable, "-c", PROBE, *argv],
                env=environment(src, work / f"pycache-{tree}"),
                cwd=work / tree,
                capture_output=True,
                text=True,
                check=True,
            )
            modules = json.loads(probe.stdout.splitlines()[-1])
            heavy = sorted(set(modules) & set(HEAVY))
            results[label][tree] = {**medians(runs[tree]), "heavy_modules": heavy}
    return results


def costliest_imports(src: Path, work: Path, count: int = 12) -> list[dict[str, Any]]:
    """The top-level imports of `jetzip compress` (10 rows) that took longest, from
    `python -X importtime` (cumulative microseconds, including what they imported)."""
    argv = ["compress", "t.parquet", "-o", "t.jz", "--tolerance", TOLERANCES, "--force"]
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", CLI, *argv, "--quiet"],
        env=environment(src, work / "pycache-current"),
        cwd=work / "current",
        capture_output=True,
        text=True,
        check=True,
    )
    top = []
    for line in done.stderr.splitlines():
        parts = line.split("|")
        # "import time: SELF | CUMULATIVE | NAME", NAME indented by its depth: keep depth 0
        if len(parts) == 3 and parts[1].strip().isdigit() and not parts[2].startswith("  "):
            top.append({"module": parts[2].strip(), "cumulative_ms": int(parts[1]) / 1000})
    return sorted(top, key=lambda t: -t["cumulative_ms"])[:count]


def large(src: Path, work: Path, rows: int, repeats: int) -> dict[str, Any]:
    """`jetzip compress` / `decompress` whole processes against the library in one process."""
    source, jz, back = work / "big.parquet", work / "big.jz", work / "big_back.parquet"
    write_table(input_table(rows, None), source)
    env = environment(src, work / "pycache-current")
    out: dict[str, Any] = {"rows": rows, "input_bytes": source.stat().st_size}
    jobs = {  # direction: (its input, its output, the command's own arguments)
        "compress": (source, jz, ["--tolerance", TOLERANCES, "--quiet"]),
        "decompress": (jz, back, []),
    }
    for direction, (given, target, options) in jobs.items():
        argv = [direction, str(given), "-o", str(target), *options, "--force"]
        command = [sys.executable, "-c", CLI, *argv]
        whole_process(command, env, work)  # caches the bytecode
        library = [sys.executable, "-c", IN_PROCESS, direction]
        done = subprocess.run(
            [*library, str(given), str(target), TOLERANCES],
            env=env,
            cwd=work,
            capture_output=True,
            text=True,
            check=True,
        )
        first, *warm_runs = json.loads(done.stdout.splitlines()[-1])
        warm = min(warm_runs, key=lambda run: run["wall_s"])
        cli = medians([whole_process(command, env, work) for _ in range(repeats)])
        for run in (first, warm):
            run["first_touch_mib"] = run.pop("minor_faults") * PAGE_MIB
        out[direction] = {
            "in_process_first": first,
            "in_process_warm": warm,
            "cli": cli,
            "cli_vs_warm_wall": warm["wall_s"] / cli["wall_s"],
            "cli_vs_warm_cpu": warm["cpu_s"] / cli["cpu_s"],
            "cli_vs_first_wall": first["wall_s"] / cli["wall_s"],
        }
    out["bytes_per_jet"] = jz.stat().st_size / rows
    return out


def markdown(report: dict[str, Any]) -> str:
    trees = list(next(iter(report["startup"].values())))
    lines = [
        "| command | tree | wall s | CPU s | peak MiB | first-touch MiB | heavy imports |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for label, per_tree in report["startup"].items():
        for tree in trees:
            r = per_tree[tree]
            lines.append(
                f"| `jetzip {label}` | {tree} | {r['wall_s']:.3f} | {r['cpu_s']:.3f} | "
                f"{r['peak_mib']:.0f} | {r['first_touch_mib']:.0f} | "
                f"{', '.join(r['heavy_modules']) or '-'} |"
            )
    lines += ["", "| import (compress, 10 rows) | cumulative ms |", "|---|---:|"]
    lines += [f"| {t['module']} | {t['cumulative_ms']:.1f} |" for t in report["imports"]]
    big = report.get("large")
    if big:
        lines += [
            "",
            f"{big['rows']:,} jets, {big['bytes_per_jet']:.3f} B/jet, M jets/s (wall; CPU s):",
            "",
            "| direction | library, fresh process | library, warm | `jetzip` command | "
            "command / warm (wall) | command / warm (CPU) | first-touch MiB: fresh / warm / "
            "command | peak MiB: library / command |",
            "|---|---:|---:|---:|---:|---:|---|---|",
        ]
        for direction in ("compress", "decompress"):
            d = big[direction]
            first, warm, cli = d["in_process_first"], d["in_process_warm"], d["cli"]

            def rate(run: dict[str, float]) -> str:
                return f"{big['rows'] / run['wall_s'] / 1e6:.2f} ({run['cpu_s']:.2f})"

            lines.append(
                f"| {direction} | {rate(first)} | {rate(warm)} | {rate(cli)} | "
                f"{d['cli_vs_warm_wall']:.2f}x | {d['cli_vs_warm_cpu']:.2f}x | "
                f"{first['first_touch_mib']:.0f} / {warm['first_touch_mib']:.0f} / "
                f"{cli['first_touch_mib']:.0f} | {warm['peak_mib']:.0f} / {cli['peak_mib']:.0f} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000, help="large input; 0: none")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--baseline-src", type=Path, help="another tree's src/ to run beside")
    parser.add_argument("--output", type=Path, default=RESULTS / "cli_startup")
    args = parser.parse_args(argv)
    trees = {"current": ROOT / "src"}
    if args.baseline_src is not None:
        trees["baseline"] = args.baseline_src.resolve()
    report: dict[str, Any] = {"environment": describe_environment()}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        report["startup"] = startup(trees, work, args.repeats)
        report["imports"] = costliest_imports(trees["current"], work)
        if args.rows and not ATLAS_4D.exists():
            print(f"large input skipped: {ATLAS_4D} is missing", file=sys.stderr)
        elif args.rows:
            repeats = max(1, args.repeats // 2)
            report["large"] = large(trees["current"], work, args.rows, repeats)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
