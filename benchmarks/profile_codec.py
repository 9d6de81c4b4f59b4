"""Where bounded compression spends its time: a per-stage breakdown of one `compress_file` run.

The codec runs on one thread (stages then run one after another, in this process) after one
warm-up run, under cProfile; each stage is the cumulative time of the function that does it,
the least over --repeats profiled runs (other load only ever adds time).
Stages nest (the indented ones are inside the one above) and the sampled predictor choice calls
the quantiser and the integer coder too, so "quantise" and "integer coding" count all their
calls. Reading the input
is timed on its own (its generators hide it from the profile). Profiling adds some overhead;
the wall time of runs without the profiler is printed first.

    nice .venv/bin/python benchmarks/profile_codec.py [--rows 1000000] [--input JETS]
        [--tolerances m=0.1%,pt=0.1%,eta=0.001,phi=0.001] [--repeats 3]

Without --input, the ATLAS 4D jets are resampled to --rows rows (as in throughput.py). Prints a
Markdown table and writes benchmarks/results/profile_codec.json.

A second table prices the two big stages against the rounding reference's own work, in memory,
on the same columns (best of --repeats each): fixed-bit rounding + byte shuffle + zstd-3 (what
throughput.py's `rounding+zstd` does between reading and writing); jetzip's quantiser; and the
quantised codes through pcodec as jetzip codes them, pcodec at lower compression levels, and
byte-shuffled zstd: what a faster entropy coder would save, and cost in bytes; then decoding the
codes as written (rANS) against decoding pcodec's streams of them (the coder before rANS).
A third prices decompression the same way: jetzip's `decompress_to` and the reference's
decompression, both into Parquet, writing that Parquet alone, and jetzip's decoding stages.
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

import numpy as np

from environment import describe_environment
from throughput import (
    FIXED_BITS,
    TOLERANCES,
    ZSTD_LEVEL,
    _reference_compress,
    _reference_decompress,
    input_table,
    reference_decode,
)

RESULTS = Path(__file__).resolve().parent / "results"

#: (depth, label, module file suffix, function name): what each stage measures.
STAGES = (
    (0, "compress_file (total)", "codec/pipeline.py", "compress_file"),
    (1, "encode chunks", "codec/chunk.py", "encode_chunk"),
    (2, "choose predictors on samples", "codec/chunk.py", "_choose_predictors"),
    (2, "quantise (all calls)", "codec/quantize.py", "quantise"),
    (2, "integer coding, rANS or pcodec (all calls)", "codec/entropy.py", "_encode_ints"),
    (2, "entropy statistics (apart from coding)", "codec/entropy.py", "empirical_entropy_bits"),
    (2, "verify coded streams", "codec/chunk.py", "_check_streams"),
    (1, "verify chunks", "codec/pipeline.py", "verify_chunk"),
    (2, "decode chunk", "codec/chunk.py", "decode_chunk"),
    (2, "error statistics", "codec/chunk.py", "error_stats"),
    (1, "write chunks", "container.py", "write_chunk"),
    (1, "describe finished file", "container.py", "describe_file"),
)

#: The same for decompression (`decompress_to` into Parquet, one thread); writing the output
#: pulls the decoded chunks, so it is timed as the difference of two unprofiled runs instead.
DECODE_STAGES = (
    (0, "decompress_to (total)", "codec/pipeline.py", "decompress_to"),
    (1, "decode chunks", "codec/chunk.py", "decode_chunk"),
    (2, "integer decoding, rANS or pcodec", "codec/entropy.py", "decode_ints"),
    (2, "grid values from the codes (C kernel)", "codec/quantize.py", "dequantise"),
)


def stage_times(stats: pstats.Stats, stages: tuple = STAGES) -> list[dict[str, Any]]:
    """Cumulative seconds and call counts of each `stages` function found in the profile."""
    raw = stats.stats  # type: ignore[attr-defined]
    rows = []
    for depth, label, suffix, function in stages:
        calls = seconds = 0.0
        for (filename, _, name), (_, n_calls, _, cumulative, _) in raw.items():
            if name == function and filename.endswith(suffix):
                calls += n_calls
                seconds += cumulative
        rows.append({"stage": label, "depth": depth, "calls": int(calls), "seconds": seconds})
    return rows


def best_seconds(call: Any, repeats: int) -> float:
    """The least wall time of `repeats` calls."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return min(times)


def stage_prices(table: Any, tolerances: str, repeats: int) -> list[dict[str, Any]]:
    """Seconds (all columns, best of `repeats`) and bytes of the reference's rounding + zstd,
    jetzip's quantiser and candidate coders of its codes, on the columns of `table`."""
    import zstandard
    from pcodec import ChunkConfig, DeltaSpec, ModeSpec, standalone

    from jetzip import baselines
    from jetzip.codec.entropy import decode_ints, encode_ints
    from jetzip.codec.quantize import quantise
    from jetzip.codec.tolerance import parse_tolerances

    bounds = parse_tolerances(tolerances)
    columns = {name: np.ascontiguousarray(table[name]) for name in bounds}
    codes = {name: quantise(values, bounds[name]).codes for name, values in columns.items()}

    def shuffled_zstd(level: int) -> Any:
        compressor = zstandard.ZstdCompressor(level=level)
        return lambda c: compressor.compress(baselines.byte_shuffle(c.view(np.float32)))

    def pcodec_level(level: int) -> Any:
        config = ChunkConfig(
            compression_level=level, delta_spec=DeltaSpec.no_op(), mode_spec=ModeSpec.classic()
        )
        return lambda c: standalone.simple_compress(c, config)

    reference = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
    jobs: dict[str, tuple[Any, dict[str, np.ndarray]]] = {
        "reference: round to fixed bits + shuffle + zstd-3": (
            lambda name, v: reference.compress(
                baselines.byte_shuffle(baselines.round_mantissa(v, FIXED_BITS[name]))
            ),
            columns,
        ),
        "jetzip: quantise (C kernel, with check and statistics)": (
            lambda name, v: quantise(v, bounds[name]).codes.tobytes(),
            columns,
        ),
        "jetzip: the codes as written (rANS, or pcodec where smaller)": (
            lambda name, c: encode_ints(c),
            codes,
        ),
    }
    for level in (8, 4, 2, 0):
        coder = pcodec_level(level)
        jobs[f"candidate: pcodec level {level}, plain"] = (lambda name, c, f=coder: f(c), codes)
    for level in (1, 3):
        coder = shuffled_zstd(level)
        jobs[f"candidate: shuffled codes + zstd-{level}"] = (lambda name, c, f=coder: f(c), codes)
    rows = []
    for label, (encode, inputs) in jobs.items():
        size = sum(len(encode(name, array)) for name, array in inputs.items())
        seconds = best_seconds(
            lambda encode=encode, inputs=inputs: [encode(n, a) for n, a in inputs.items()],
            repeats,
        )
        rows.append({"stage": label, "seconds": seconds, "bytes": size})
    written = {name: encode_ints(c) for name, c in codes.items()}
    plain = {name: pcodec_level(8)(c) for name, c in codes.items()}
    for label, streams in (
        ("decode: the codes as written", written),
        ("decode: pcodec level 8, plain (the coder before rANS)", plain),
    ):
        seconds = best_seconds(
            lambda streams=streams: [decode_ints(s, codes[n].size) for n, s in streams.items()],
            repeats,
        )
        rows.append({"stage": label, "seconds": seconds, "bytes": sum(map(len, streams.values()))})
    return rows


def decompression(table: Any, source: Path, compressed: Path, repeats: int) -> dict[str, Any]:
    """Where decompression's time goes against the rounding reference's, one thread, warm:
    each side's whole job into Parquet and its decoding alone (best of `repeats` + 1), writing
    the input table as Parquet (`write_table`, what the reference's job writes), and jetzip's
    decoding stages under cProfile."""
    from jetzip.codec import decompress_to
    from jetzip.codec.pipeline import iter_decompress
    from jetzip.io import write_table

    tmp = compressed.parent
    reference, output = tmp / "reference.bin", tmp / "decoded.parquet"
    _reference_compress("rounding+zstd", source, reference)

    def jetzip_job() -> None:
        decompress_to(compressed, output, threads=1)

    times = {
        "jetzip: decompress_to": jetzip_job,
        "jetzip: decoding alone (iter_decompress)": lambda: list(
            iter_decompress(compressed, threads=1)
        ),
        "reference: whole job": lambda: _reference_decompress("rounding+zstd", reference, output),
        "reference: decoding alone": lambda: reference_decode("rounding+zstd", reference),
        "writing the table as Parquet (write_table)": lambda: write_table(table, output),
    }
    seconds = {label: best_seconds(job, repeats + 1) for label, job in times.items()}
    profiles = []
    for _ in range(repeats):
        profiler = cProfile.Profile()
        profiler.runcall(jetzip_job)
        profiles.append(stage_times(pstats.Stats(profiler), DECODE_STAGES))
    stages = [
        dict(stage, seconds=min(p[i]["seconds"] for p in profiles))
        for i, stage in enumerate(profiles[0])
    ]
    return {"seconds": seconds, "stages": stages}


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
        prices = stage_prices(table, args.tolerances, args.repeats)
        decoding = decompression(table, source, target, args.repeats)

    n_rows = table.n_rows
    report = {
        "rows": n_rows,
        "tolerances": args.tolerances,
        "unprofiled_wall_s": min(wall),
        "jets_per_s": n_rows / min(wall),
        "bytes_per_jet": size / n_rows,
        "read_input_s": read_s,
        "stages": rows,
        "prices": prices,
        "decompression": decoding,
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
    lines += [
        "",
        "| in memory, all columns (best of the repeats) | ms per 1 M jets | B/jet |",
        "|---|---:|---:|",
    ]
    for row in report.get("prices", []):
        lines.append(
            f"| {row['stage']} | {row['seconds'] * 1e3 * per_million:.1f} | "
            f"{row['bytes'] / report['rows']:.3f} |"
        )
    decoding = report.get("decompression")
    if decoding:
        lines += ["", "| decompression, one thread (best of the repeats) | ms per 1 M jets |"]
        lines.append("|---|---:|")
        for label, seconds in decoding["seconds"].items():
            lines.append(f"| {label} | {seconds * 1e3 * per_million:.1f} |")
        for row in decoding["stages"]:
            label = "· " * row["depth"] + row["stage"] + " (profiled)"
            lines.append(f"| {label} | {row['seconds'] * 1e3 * per_million:.1f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
