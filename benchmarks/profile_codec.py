"""Where bounded compression spends its time: a per-stage breakdown of one `compress_file` run.

The codec runs on one thread (stages then run one after another, in this process) after one
warm-up run, under cProfile; each stage is the cumulative time of the function that does it,
the least over --repeats profiled runs (other load only ever adds time).
Stages nest (the indented ones are inside the one above) and the sampled predictor choice calls
the quantiser and pcodec too, so "quantise" and "pcodec" count all their calls. Reading the input
is timed on its own (its generators hide it from the profile). Profiling adds some overhead;
the wall time of runs without the profiler is printed first.

    nice .venv/bin/python benchmarks/profile_codec.py [--rows 1000000] [--input JETS]
        [--tolerances m=0.1%,pt=0.1%,eta=0.001,phi=0.001] [--repeats 3]

Without --input, the ATLAS 4D jets are resampled to --rows rows (as in throughput.py). Prints a
Markdown table and writes benchmarks/results/profile_codec.json.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import tempfile
import time
from pathlib import Path
from typing import Any

from environment import describe_environment
from throughput import TOLERANCES, input_table

RESULTS = Path(__file__).resolve().parent / "results"

#: (depth, label, module file suffix, function name): what each stage measures.
STAGES = (
    (0, "compress_file (total)", "codec/pipeline.py", "compress_file"),
    (1, "encode chunks", "codec/chunk.py", "encode_chunk"),
    (2, "choose predictors on samples", "codec/chunk.py", "_choose_predictors"),
    (2, "quantise (all calls)", "codec/quantize.py", "quantise"),
    (2, "pcodec encode (all calls)", "codec/entropy.py", "encode_ints"),
    (2, "entropy statistics", "codec/entropy.py", "empirical_entropy_bits"),
    (2, "verify coded streams", "codec/chunk.py", "_check_streams"),
    (1, "verify chunks", "codec/pipeline.py", "_verify_chunk"),
    (2, "decode chunk", "codec/chunk.py", "decode_chunk"),
    (2, "error statistics", "codec/chunk.py", "error_stats"),
    (1, "write chunks", "container.py", "write_chunk"),
    (1, "describe finished file", "container.py", "describe_file"),
)


def stage_times(stats: pstats.Stats) -> list[dict[str, Any]]:
    """Cumulative seconds and call counts of each STAGES function found in the profile."""
    raw = stats.stats  # type: ignore[attr-defined]
    rows = []
    for depth, label, suffix, function in STAGES:
        calls = seconds = 0.0
        for (filename, _, name), (_, n_calls, _, cumulative, _) in raw.items():
            if name == function and filename.endswith(suffix):
                calls += n_calls
                seconds += cumulative
        rows.append({"stage": label, "depth": depth, "calls": int(calls), "seconds": seconds})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--input", type=Path, help="jets to compress (default: resampled ATLAS)")
    parser.add_argument("--tolerances", default=TOLERANCES)
    parser.add_argument(
        "--repeats", type=int, default=3, help="runs with and without the profiler; least counts"
    )
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    from jetzip.codec import compress_file
    from jetzip.codec.pipeline import DEFAULT_CHUNK_ROWS
    from jetzip.fileutil import atomic_output
    from jetzip.io import iter_tables, write_table
    from jetzip.memory import keep_freed_memory

    keep_freed_memory()  # as the jetzip command does
    with tempfile.TemporaryDirectory() as tmp_name:
        source, target = Path(tmp_name) / "jets.parquet", Path(tmp_name) / "jets.jz"
        table = input_table(args.rows, args.input)
        write_table(table, source)
        options = {"mode": "bounded", "tolerances": args.tolerances, "threads": 1}

        def run() -> None:
            compress_file(source, target, **options)

        run()  # warm-up: imports, page cache
        wall = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            run()
            wall.append(time.perf_counter() - started)
        started = time.perf_counter()
        for _ in iter_tables(source, chunk_rows=DEFAULT_CHUNK_ROWS):
            pass
        read_s = time.perf_counter() - started
        profiles = []
        for _ in range(args.repeats):
            profiler = cProfile.Profile()
            profiler.runcall(run)
            profiles.append(stage_times(pstats.Stats(profiler)))
        rows = [
            dict(stage, seconds=min(p[i]["seconds"] for p in profiles))
            for i, stage in enumerate(profiles[0])
        ]
        size = target.stat().st_size

    n_rows = table.n_rows
    report = {
        "rows": n_rows,
        "tolerances": args.tolerances,
        "unprofiled_wall_s": min(wall),
        "jets_per_s": n_rows / min(wall),
        "bytes_per_jet": size / n_rows,
        "read_input_s": read_s,
        "stages": rows,
        "environment": describe_environment(),
    }
    with atomic_output(args.output / "profile_codec.json") as tmp_path:
        tmp_path.write_text(json.dumps(report, indent=1))
    print(markdown(report))
    return 0


def markdown(report: dict[str, Any]) -> str:
    total = report["stages"][0]["seconds"]
    lines = [
        f"{report['rows']:,} jets, {report['tolerances']}: unprofiled "
        f"{report['unprofiled_wall_s'] * 1e3:.0f} ms ({report['jets_per_s'] / 1e6:.2f} M jets/s, "
        f"one thread), {report['bytes_per_jet']:.3f} B/jet; reading the input alone "
        f"{report['read_input_s'] * 1e3:.0f} ms",
        "",
        "| stage | calls | ms per 1 M jets | share |",
        "|---|---:|---:|---:|",
    ]
    per_million = 1e6 / report["rows"]
    for row in report["stages"]:
        label = "· " * row["depth"] + row["stage"]
        lines.append(
            f"| {label} | {row['calls']} | {row['seconds'] * 1e3 * per_million:.1f} | "
            f"{row['seconds'] / total:.0%} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
