"""The integer coding stage on the codes a chunk really writes: each quantised column's codes
(with the predictors the codec chooses, so pt's are predicted from m) through `encode_codes`
and back through `decode_ints`, best of --repeats, with the stream's kind, size and sha256 so
that two versions of the coder can be compared byte for byte, and the fixed parts priced apart:
the C histogram and pcodec's structure test on the sample rows.

    nice .venv/bin/python benchmarks/integer_coding.py [--rows 1000000] [--input JETS]
        [--tolerances m=0.1%,pt=0.1%,eta=0.001,phi=0.001] [--repeats 20]

Without --input, the ATLAS 4D jets are resampled to --rows rows (as in throughput.py), coded as
one chunk; freed memory is kept for reuse, as the jetzip command keeps it. Prints a Markdown
table and writes benchmarks/results/integer_coding.json. To compare two versions, run it with
PYTHONPATH pointing at each version's src/, alternately (load on shared cores only adds time,
so the least of several runs counts).
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from environment import describe_environment
from profile_codec import best_seconds
from throughput import TOLERANCES, input_table

RESULTS = Path(__file__).resolve().parent / "results"
KINDS = {b"r": "rANS", b"e": "escape", b"p": "pcodec"}


def best_ms(call: Any, repeats: int) -> float:
    """`profile_codec.best_seconds` in milliseconds."""
    return best_seconds(call, repeats) * 1e3


def chunk_codes(table: Any, tolerances: str) -> dict[str, tuple[np.ndarray, bytes]]:
    """Each bounded column's codes and the stream the codec wrote for them, from one chunk."""
    from jetzip.codec.chunk import ColumnPlan, encode_chunk
    from jetzip.codec.entropy import decode_ints
    from jetzip.codec.tolerance import parse_tolerances

    bounds = parse_tolerances(tolerances)
    columns = {name: np.ascontiguousarray(table[name]) for name in bounds}
    plans = [ColumnPlan(name, str(columns[name].dtype), "bounded", bounds[name]) for name in bounds]
    parts = dict(encode_chunk(columns, None, plans, None, "float16").parts)
    return {
        name: (decode_ints(parts[f"{name}:codes"], table.n_rows), parts[f"{name}:codes"])
        for name in bounds
    }


def measure(codes: np.ndarray, stream: bytes, repeats: int) -> dict[str, Any]:
    """One column: its stream and the times of coding it, decoding it and the fixed parts."""
    from pcodec import ChunkConfig, DeltaSpec, ModeSpec, standalone

    from jetzip.codec import _rans
    from jetzip.codec.entropy import (
        HISTOGRAM_MAX_WIDTH,
        SEARCH_TRIAL_ROWS,
        decode_ints,
        encode_codes,
        selection_rows,
    )

    coded, _ = encode_codes(codes)
    sample = codes[selection_rows(codes.size, SEARCH_TRIAL_ROWS)]
    plain = ChunkConfig(delta_spec=DeltaSpec.no_op(), mode_spec=ModeSpec.classic())
    return {
        "kind": KINDS.get(coded[:1], "?"),
        "bytes": len(coded),
        "same_as_chunk": coded == stream,
        "sha256": hashlib.sha256(coded).hexdigest()[:16],
        "encode_ms": best_ms(lambda: encode_codes(codes), repeats),
        "decode_ms": best_ms(lambda: decode_ints(coded, codes.size), repeats),
        "histogram_ms": best_ms(lambda: _rans.histogram(codes, HISTOGRAM_MAX_WIDTH), repeats),
        "structure_test_ms": best_ms(
            lambda: (
                standalone.simple_compress(sample, plain),
                standalone.simple_compress(sample, ChunkConfig()),
            ),
            repeats,
        ),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--input", type=Path, help="jets to code (default: resampled ATLAS)")
    parser.add_argument("--tolerances", default=TOLERANCES)
    parser.add_argument("--repeats", type=int, default=20, help="timed calls; the least counts")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    from jetzip.fileutil import atomic_output
    from jetzip.memory import keep_freed_memory

    keep_freed_memory()  # as the jetzip command does
    table = input_table(args.rows, args.input)
    columns = {
        name: measure(codes, stream, args.repeats)
        for name, (codes, stream) in chunk_codes(table, args.tolerances).items()
    }
    report = {
        "rows": table.n_rows,
        "tolerances": args.tolerances,
        "repeats": args.repeats,
        "columns": columns,
        "environment": describe_environment(),
    }
    args.output.mkdir(parents=True, exist_ok=True)
    with atomic_output(args.output / "integer_coding.json") as tmp_path:
        tmp_path.write_text(json.dumps(report, indent=1))
    print(markdown(report))
    return 0


def markdown(report: dict[str, Any]) -> str:
    lines = [
        f"{report['rows']:,} jets, {report['tolerances']}, best of {report['repeats']} (ms)",
        "",
        "| column | stream | bytes | sha256 | encode | of which C histogram | of which "
        "structure test | decode |",
        "|---|---|---:|---|---:|---:|---:|---:|",
    ]
    totals = dict.fromkeys(("encode_ms", "histogram_ms", "structure_test_ms", "decode_ms"), 0.0)
    for name, row in report["columns"].items():
        same = "" if row["same_as_chunk"] else " (not the chunk's!)"
        lines.append(
            f"| {name} | {row['kind']}{same} | {row['bytes']:,} | {row['sha256']} | "
            f"{row['encode_ms']:.2f} | {row['histogram_ms']:.2f} | "
            f"{row['structure_test_ms']:.2f} | {row['decode_ms']:.2f} |"
        )
        for key in totals:
            totals[key] += row[key]
    size = sum(row["bytes"] for row in report["columns"].values())
    lines.append(
        f"| all | | {size:,} | | {totals['encode_ms']:.2f} | {totals['histogram_ms']:.2f} | "
        f"{totals['structure_test_ms']:.2f} | {totals['decode_ms']:.2f} |"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
