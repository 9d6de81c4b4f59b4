"""Jets per second of batch compress/decompress on 1 vs 2 dask workers (scaling efficiency).

The inputs are N files of resampled ATLAS 4D jets with a small jitter (made by
`streaming_memory.generate`), written as float32 Parquet to a temporary directory outside the
repository. For each worker count a LocalCluster of single-threaded processes is started and
warmed up (imports done) before the clock starts, so the numbers are the steady-state rate of
the work, not the cluster's start-up. Each measurement is the best of `--repeats` runs into a
fresh output directory. The machine is shared: the load average and the cores the workers
actually got (their CPU seconds over wall seconds) are recorded with every measurement.

    nice python benchmarks/batch_scaling.py [--files 8] [--rows 250000] [--workers 1 2]

Prints a table and writes benchmarks/results/batch_scaling.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from distributed import Client

from jetzip.batch import BatchSummary, compress_many, connect, decompress_many
from streaming_memory import generate

RESULT = Path(__file__).resolve().parent / "results" / "batch_scaling.json"
TOLERANCE = "pt=0.1%,m=0.1%,eta=0.001,phi=0.001"


def best_run(
    run: Callable[[Path], BatchSummary], repeats: int, out_dir: Path, client: Client
) -> tuple[BatchSummary, dict]:
    """The fastest of `repeats` runs, each into an empty `out_dir`, with the machine's load
    average and the CPU seconds the workers got (less than workers x wall time means the
    workers waited for a core: the machine was busy with other work)."""
    best, facts = None, {}
    for _ in range(repeats):
        shutil.rmtree(out_dir, ignore_errors=True)
        load = os.getloadavg()[0]
        cpu_before = sum(client.run(time.process_time).values())
        summary = run(out_dir)
        cpu = sum(client.run(time.process_time).values()) - cpu_before
        if summary.exit_status:
            raise SystemExit(summary.format_table())
        if best is None or summary.seconds < best.seconds:
            best, facts = summary, {"load_average_1min": load, "worker_cpu_seconds": cpu}
    return best, facts


def measure(
    n_workers: int, inputs: list[Path], samples: list[Path], work: Path, repeats: int
) -> list[dict]:
    """Compress then decompress all inputs on a warmed-up LocalCluster of `n_workers`."""
    with connect("local", n_workers) as client:
        # A tiny file per worker first, so that every worker has imported jetzip and the codecs.
        compress_many(samples, work / "warm", scheduler=client, progress=False)
        shutil.rmtree(work / "warm")
        compressed = best_run(
            lambda out: compress_many(
                inputs, out, tolerances=TOLERANCE, scheduler=client, progress=False
            ),
            repeats,
            work / "jz",
            client,
        )
        containers = sorted((work / "jz").rglob("*.jz"))
        restored = best_run(
            lambda out: decompress_many(containers, out, scheduler=client, progress=False),
            repeats,
            work / "back",
            client,
        )
    rows = []
    for operation, (summary, facts) in (("compress", compressed), ("decompress", restored)):
        rows.append(
            {
                "operation": operation,
                "workers": n_workers,
                "files": len(summary.results),
                "jets": summary.rows_processed,
                "seconds": summary.seconds,
                "jets_per_second": summary.rows_per_second,
                "bytes_in": sum(r.bytes_in for r in summary.results),
                "bytes_out": sum(r.bytes_out for r in summary.results),
                "cores_used": facts["worker_cpu_seconds"] / summary.seconds,
                **facts,
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--rows", type=int, default=250_000, help="jets per file")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()

    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="jetzip-batch-scaling-") as tmp:
        work = Path(tmp)
        (work / "in").mkdir()
        (work / "samples").mkdir()
        inputs = []
        for i in range(args.files):
            path = work / "in" / f"jets_{i:03d}.parquet"
            generate(path, args.rows, seed=i)
            inputs.append(path)
        samples = []
        for i in range(max(args.workers)):
            sample = work / "samples" / f"sample_{i}.parquet"
            generate(sample, 1000, seed=1000 + i)
            samples.append(sample)
        for n_workers in args.workers:
            rows += measure(n_workers, inputs, samples, work, args.repeats)

    single = {r["operation"]: r["jets_per_second"] for r in rows if r["workers"] == 1}
    for r in rows:
        base = single.get(r["operation"])
        r["efficiency"] = r["jets_per_second"] / (r["workers"] * base) if base else None

    print(f"{args.files} files x {args.rows:,} jets, bounded {TOLERANCE}; cores: {os.cpu_count()}")
    print(
        f"{'operation':<11} {'workers':>7} {'seconds':>8} {'jets/s':>12} {'efficiency':>10} "
        f"{'cores used':>10} {'load (1 min)':>12}"
    )
    for r in rows:
        efficiency = "-" if r["efficiency"] is None else f"{100 * r['efficiency']:.0f}%"
        print(
            f"{r['operation']:<11} {r['workers']:>7} {r['seconds']:>8.2f} "
            f"{r['jets_per_second']:>12,.0f} {efficiency:>10} {r['cores_used']:>10.2f} "
            f"{r['load_average_1min']:>12.1f}"
        )
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(
        json.dumps(
            {
                "command": "python " + " ".join(["benchmarks/batch_scaling.py", *sys.argv[1:]]),
                "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "cpu_count": os.cpu_count(),
                "tolerance": TOLERANCE,
                "results": rows,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {RESULT}")


if __name__ == "__main__":
    main()
