"""What decoding costs, for honest and for hostile `.jz` files (issue 20).

1. Peak memory of decoding 1 M synthetic jets (pt, eta float32, m float64, an int column, the
   event index), bounded and lossless, against the bytes of the output: streamed chunk by chunk
   (`iter_decompress`) and as one table (`decompress_file`). Python's tracemalloc traces numpy's
   arrays, so the peak is what the decoder allocates, not the interpreter.
2. One-row files of 10 k and 40 k columns: decompression time and peak memory (linear now).
3. Hostile files written with valid checksums by jetzip's own container writer: a pcodec stream
   of ~100 bytes declaring 200 M rows, a zstd frame declaring 8 TB: time and peak memory until
   the one-line refusal.

Times come from an untraced run, peaks from a second, traced one.

    nice python benchmarks/decode_hardening.py [--rows 1000000] [--columns 10000 40000]

Prints a table and writes benchmarks/results/decode_hardening.json.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import platform
import struct
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import zstandard
from pcodec import ChunkConfig, standalone

from jetzip.codec import compress_table, decompress_file, iter_decompress
from jetzip.container import ContainerWriter
from jetzip.errors import CorruptFileError
from jetzip.table import Table

RESULT = Path(__file__).resolve().parent / "results" / "decode_hardening.json"


def traced(function: Callable[[], Any]) -> tuple[float, float, float, str]:
    """Wall and CPU seconds (a run without tracing, which slows allocation down; on a shared
    machine the CPU time is the steadier of the two), peak traced MiB (a second run) and the
    outcome ("ok" or the one-line error) of `function()`."""
    outcome = "ok"
    start, cpu = time.perf_counter(), time.process_time()
    try:
        function()
    except CorruptFileError as exc:
        outcome = f"CorruptFileError: {exc}"
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    tracemalloc.start()
    with contextlib.suppress(CorruptFileError):
        function()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return seconds, cpu, peak / 2**20, outcome


def jets(n: int) -> Table:
    rng = np.random.default_rng(0)
    return Table(
        {
            "pt": rng.lognormal(10, 1, n).astype(np.float32),
            "eta": rng.uniform(-3, 3, n).astype(np.float32),
            "m": rng.lognormal(8, 1, n),
            "n": rng.integers(0, 9, n),
        },
        event=np.arange(n) // 4,
    )


def memory_rows(directory: Path, rows: int) -> list[dict[str, Any]]:
    table = jets(rows)
    output = sum(v.nbytes for v in table.columns.values()) + table.event.nbytes
    results = []
    for mode, tolerances in [("bounded", "pt=0.1%,eta=0.001,m=0.1%"), ("lossless", None)]:
        path = directory / f"{mode}.jz"
        compress_table(table, path, tolerances=tolerances, threads=1)
        for how, run in [
            ("streamed", lambda p=path: [None for _ in iter_decompress(p, threads=1)]),
            ("one table", lambda p=path: decompress_file(p, threads=1)),
        ]:
            seconds, cpu, peak, outcome = traced(run)
            results.append(
                {
                    "case": f"{rows:,} jets, {mode}, {how}",
                    "file_bytes": path.stat().st_size,
                    "output_mib": output / 2**20,
                    "seconds": seconds,
                    "cpu_seconds": cpu,
                    "peak_mib": peak,
                    "peak_over_output": peak * 2**20 / output,
                    "outcome": outcome,
                }
            )
    return results


def wide_rows(directory: Path, counts: list[int]) -> list[dict[str, Any]]:
    results = []
    for count in counts:
        table = Table({f"c{i}": np.array([float(i)]) for i in range(count)})
        path = directory / f"wide{count}.jz"
        compress_table(table, path, threads=1)
        seconds, cpu, peak, outcome = traced(lambda p=path: decompress_file(p, threads=1))
        results.append(
            {
                "case": f"1 row x {count:,} columns",
                "file_bytes": path.stat().st_size,
                "output_mib": count * 8 / 2**20,
                "seconds": seconds,
                "cpu_seconds": cpu,
                "peak_mib": peak,
                "outcome": outcome,
            }
        )
    return results


def hostile(description: dict[str, Any], part: bytes) -> bytes:
    """A one-chunk, one-column lossless file holding `part`, written by the real writer."""
    header = {
        "mode": "lossless",
        "event_index": False,
        "columns": [{"name": "x", "dtype": "float64", "kind": "lossless", "tolerance": None}],
    }
    stream = io.BytesIO()
    writer = ContainerWriter(stream, header, None)
    writer.write_chunk(description, [("x:values", part)], needs_model=False)
    writer.finish({})
    return stream.getvalue()


def zstd_frame_declaring(size: int) -> bytes:
    """A zstd frame header that declares `size` bytes, with one empty last block."""
    return struct.pack("<IBQ", 0xFD2FB528, 0b1110_0000, size) + bytes([0x01, 0x00, 0x00])


def hostile_rows() -> list[dict[str, Any]]:
    pcodec = standalone.simple_compress(np.zeros(100), ChunkConfig())
    zstd = zstd_frame_declaring(8 << 40)
    assert zstandard.frame_content_size(zstd) == 8 << 40
    cases = {
        "pcodec stream declaring 200 M rows": hostile(
            {"n_rows": 200_000_000, "columns": {"x": {"encoding": "lossless", "method": "pcodec"}}},
            pcodec,
        ),
        "zstd frame declaring 8 TB": hostile(
            {"n_rows": 100, "columns": {"x": {"encoding": "lossless", "method": "zstd-shuffle"}}},
            zstd,
        ),
    }
    results = []
    for case, data in cases.items():
        seconds, cpu, peak, outcome = traced(lambda d=data: decompress_file(io.BytesIO(d)))
        results.append(
            {
                "case": case,
                "file_bytes": len(data),
                "seconds": seconds,
                "cpu_seconds": cpu,
                "peak_mib": peak,
                "outcome": outcome,
            }
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--columns", type=int, nargs="+", default=[10_000, 40_000])
    parser.add_argument("--output", type=Path, default=RESULT.parent)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = [
            *memory_rows(Path(tmp), args.rows),
            *wide_rows(Path(tmp), args.columns),
            *hostile_rows(),
        ]
    print(
        f"{'case':<40} {'file B':>10} {'s':>7} {'cpu s':>7} {'peak MiB':>9} {'/output':>8}  outcome"
    )
    for r in rows:
        ratio = f"{r['peak_over_output']:.2f}" if "peak_over_output" in r else "-"
        print(
            f"{r['case']:<40} {r['file_bytes']:>10,} {r['seconds']:>7.2f} {r['cpu_seconds']:>7.2f} "
            f"{r['peak_mib']:>9.1f} "
            f"{ratio:>8}  {r['outcome'][:70]}"
        )
    args.output.mkdir(parents=True, exist_ok=True)
    result = {"machine": platform.platform(), "python": platform.python_version(), "rows": rows}
    (args.output / RESULT.name).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
