"""Read / write speed of every table format, and DarkMachines parsing on a large event file.

    nice .venv/bin/python benchmarks/io_speed.py [--rows 1000000] [--events 200000]

Writes a synthetic jet table (m, pt, eta, phi float32, an int column, event index) in every
writable format, times write_table, read_table and iter_tables (chunks of 100,000 rows), and
times reading a synthetic DarkMachines file with --events lines (about 3.5 jets per event,
copied from the shape of the shared monojet file). Single process; prints a table and writes
benchmarks/results/io_speed.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from jetzip.io import iter_tables, read_table, write_table
from jetzip.table import Table

RESULTS = Path(__file__).resolve().parent / "results" / "io_speed.json"
SUFFIXES = (".parquet", ".pkl", ".h5", ".npy", ".npz", ".root", ".csv")
CHUNK_ROWS = 100_000


def synthetic_jets(n_rows: int, seed: int = 1) -> Table:
    """Jets with realistic ranges, 1-6 per event."""
    rng = np.random.default_rng(seed)
    per_event = rng.integers(1, 7, n_rows)
    event = np.repeat(np.arange(n_rows), per_event)[:n_rows]
    return Table(
        {
            "m": rng.lognormal(8.8, 0.6, n_rows).astype(np.float32),
            "pt": (20_000 + rng.exponential(40_000, n_rows)).astype(np.float32),
            "eta": rng.normal(0, 1.5, n_rows).astype(np.float32),
            "phi": rng.uniform(-np.pi, np.pi, n_rows).astype(np.float32),
            "n_constituents": rng.integers(1, 80, n_rows).astype(np.int32),
        },
        event=event,
        units={"m": "MeV", "pt": "MeV", "eta": "", "phi": ""},
    )


def darkmachines_text(n_events: int, seed: int = 2) -> str:
    """Event lines in the DarkMachines layout with a mix of j, b and g objects."""
    rng = np.random.default_rng(seed)
    lines = []
    for event in range(n_events):
        objects = "".join(
            f"{kind},{rng.uniform(3e4, 1e6):.6g},{rng.uniform(2e4, 8e5):.6g},"
            f"{rng.normal(0, 1.5):.6g},{rng.uniform(-3.14, 3.14):.6g};"
            for kind in rng.choice(["j", "j", "j", "b", "g"], rng.integers(1, 7))
        )
        lines.append(f"{event};monojet;2.4e-05;{rng.uniform(2e5, 1e6):.6g};0.5;{objects}\n")
    return "".join(lines)


def timed(func) -> tuple[float, object]:
    start = time.perf_counter()
    result = func()
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=200_000)
    args = parser.parse_args()

    table = synthetic_jets(args.rows)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for suffix in SUFFIXES:
            path = Path(tmp) / f"jets{suffix}"
            write_s, _ = timed(lambda p=path: write_table(table, p))
            read_s, back = timed(lambda p=path: read_table(p))
            iter_s, chunks = timed(lambda p=path: list(iter_tables(p, chunk_rows=CHUNK_ROWS)))
            assert back.n_rows == table.n_rows and Table.concat(chunks).n_rows == table.n_rows
            results.append(
                {
                    "format": suffix,
                    "rows": table.n_rows,
                    "bytes": path.stat().st_size,
                    "write_s": round(write_s, 3),
                    "read_s": round(read_s, 3),
                    "iter_s": round(iter_s, 3),
                    "read_mrows_per_s": round(table.n_rows / read_s / 1e6, 2),
                }
            )
        dm_path = Path(tmp) / "events.csv"
        dm_path.write_text(darkmachines_text(args.events))
        read_s, jets = timed(lambda: read_table(dm_path))
        iter_s, _ = timed(lambda: list(iter_tables(dm_path, chunk_rows=CHUNK_ROWS)))
        results.append(
            {
                "format": "darkmachines",
                "rows": jets.n_rows,
                "events": args.events,
                "bytes": dm_path.stat().st_size,
                "read_s": round(read_s, 3),
                "iter_s": round(iter_s, 3),
                "read_mrows_per_s": round(jets.n_rows / read_s / 1e6, 2),
            }
        )

    print(f"{'format':<13} {'rows':>9} {'MB':>7} {'write s':>8} {'read s':>7} {'iter s':>7}")
    for r in results:
        write = f"{r['write_s']:8.3f}" if "write_s" in r else f"{'-':>8}"
        print(
            f"{r['format']:<13} {r['rows']:>9,} {r['bytes'] / 1e6:7.1f} {write} "
            f"{r['read_s']:7.3f} {r['iter_s']:7.3f}"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "command": "nice .venv/bin/python benchmarks/io_speed.py "
                f"--rows {args.rows} --events {args.events}",
                "machine": platform.processor() or platform.machine(),
                "results": results,
            },
            indent=2,
        )
    )
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
