"""Peak memory of `jetzip compress` / `decompress` on 1 M and 10 M jets: it must not grow.

The inputs are synthetic: ATLAS 4D jets resampled with replacement plus a small jitter (pt and
m times 1 + 1e-3 N(0,1), eta and phi + 1e-3 N(0,1)), written as float32 Parquet in 1 M-row row
groups to a temporary directory outside the repository. Each command runs in its own process;
its peak RSS is that process's ru_maxrss.

    nice python benchmarks/streaming_memory.py [--rows 1000000 10000000] [--chunk-rows 1000000]

Prints a table and writes benchmarks/results/streaming_memory.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
ATLAS = ROOT.parent / "shared" / "data" / "atlas_4d" / "all_jets_test_4D_100_percent.pkl"
RESULT = ROOT / "benchmarks" / "results" / "streaming_memory.json"
TOLERANCE = "pt=0.1%,m=0.1%,eta=0.001,phi=0.001"
GENERATION_BLOCK = 1_000_000

MEASURE = (
    "import resource, subprocess, sys, time;"
    "t = time.perf_counter();"
    "rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode;"
    "print(rc, time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def generate(path: Path, n_rows: int, seed: int = 0) -> None:
    """Resample ATLAS jets with jitter, block by block (bounded memory)."""
    frame = pd.read_pickle(ATLAS)
    source = {c: frame[c].to_numpy(np.float64) for c in ("m", "pt", "phi", "eta")}
    rng = np.random.default_rng(seed)
    with pq.ParquetWriter(path, pa.schema([(c, pa.float32()) for c in source])) as writer:
        for start in range(0, n_rows, GENERATION_BLOCK):
            n = min(GENERATION_BLOCK, n_rows - start)
            rows = rng.integers(0, len(frame), n)
            block = {}
            for name, values in source.items():
                picked = values[rows]
                noise = rng.normal(0.0, 1e-3, n)
                jittered = picked * (1 + noise) if name in ("m", "pt") else picked + noise
                block[name] = jittered.astype(np.float32)
            writer.write_table(pa.table(block))


def measure(command: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS in MiB) of one command run in a fresh process."""
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, *command], capture_output=True, text=True, check=True
    )
    rc, seconds, max_rss_kib = out.stdout.split()
    if int(rc) != 0:
        raise RuntimeError(f"{' '.join(command)} failed with status {rc}")
    return float(seconds), int(max_rss_kib) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--chunk-rows", type=int, default=1_000_000)
    args = parser.parse_args()
    jetzip = [sys.executable, "-m", "jetzip"]
    results = []
    with tempfile.TemporaryDirectory(prefix="jetzip-streaming-") as tmp:
        for n_rows in args.rows:
            data = Path(tmp) / f"jets_{n_rows}.parquet"
            started = time.perf_counter()
            generate(data, n_rows)
            generated = time.perf_counter() - started
            jz, back = data.with_suffix(".jz"), Path(tmp) / f"back_{n_rows}.parquet"
            compress = [*jetzip, "compress", str(data), "-o", str(jz), "--quiet"]
            compress += ["--tolerance", TOLERANCE, "--chunk-rows", str(args.chunk_rows)]
            c_seconds, c_rss = measure(compress)
            d_seconds, d_rss = measure([*jetzip, "decompress", str(jz), "-o", str(back)])
            results.append(
                {
                    "rows": n_rows,
                    "input_bytes": data.stat().st_size,
                    "jz_bytes": jz.stat().st_size,
                    "bytes_per_jet": jz.stat().st_size / n_rows,
                    "compress_seconds": c_seconds,
                    "compress_peak_rss_mib": c_rss,
                    "decompress_seconds": d_seconds,
                    "decompress_peak_rss_mib": d_rss,
                    "generate_seconds": generated,
                }
            )
            for path in (data, jz, back):
                path.unlink()
    print(f"tolerance {TOLERANCE}, chunk rows {args.chunk_rows:,}, input float32 Parquet")
    print(
        f"{'rows':>12} {'bytes/jet':>9} {'compress s':>10} {'peak MiB':>9} "
        f"{'decompress s':>12} {'peak MiB':>9}"
    )
    for r in results:
        print(
            f"{r['rows']:>12,} {r['bytes_per_jet']:>9.3f} {r['compress_seconds']:>10.1f} "
            f"{r['compress_peak_rss_mib']:>9.0f} {r['decompress_seconds']:>12.1f} "
            f"{r['decompress_peak_rss_mib']:>9.0f}"
        )
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(
        json.dumps(
            {
                "command": "nice python benchmarks/streaming_memory.py "
                + " ".join(["--rows", *map(str, args.rows), "--chunk-rows", str(args.chunk_rows)]),
                "tolerance": TOLERANCE,
                "chunk_rows": args.chunk_rows,
                "data": "ATLAS 4D jets resampled with replacement, 1e-3 jitter, float32 Parquet",
                "results": results,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
