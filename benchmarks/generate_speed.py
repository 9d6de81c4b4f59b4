"""Speed of the built-in generator (Pythia 8 + FastJet + substructure), 1 and 2 workers.

    .venv/bin/python benchmarks/generate_speed.py [--events 2500 6500] [--workers 1 2]
        [--no-mpi] [--seed 1]

Target: at least 25,000 jets in under two minutes on a 2-core machine (6,500 events give
about 26,000 jets at the default pT-hat > 150 GeV). The cache is bypassed. Prints a table
(events, jets, seconds, jets/s) and writes benchmarks/results/generate_speed.json, with the
load average before and after each run (other work on the machine skews wall times) and the
CPU seconds used, which do not depend on that load.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

from environment import describe_environment
from jetzip.generate import available_cores, generate_jets
from jetzip.generate.settings import GeneratorSettings

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "generate_speed.json"


def cpu_seconds() -> float:
    """User + system CPU time of this process and its finished workers so far."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, nargs="+", default=[2500, 6500])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-mpi", action="store_true", help="underlying event off")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()

    runs = []
    print(
        f"{'events':>7} {'workers':>7} {'jets':>7} {'seconds':>8} {'jets/s':>7} "
        f"{'cpu s':>7} {'load':>10}"
    )
    for n_events in args.events:
        for workers in args.workers:
            load_before = os.getloadavg()[0]
            cpu_start = cpu_seconds()
            start = time.perf_counter()
            table = generate_jets(
                n_events, seed=args.seed, workers=workers, mpi=not args.no_mpi, progress=False
            )
            seconds = time.perf_counter() - start
            cpu = cpu_seconds() - cpu_start
            load_after = os.getloadavg()[0]
            run = {
                "events": n_events,
                "workers": workers,
                "jets": table.n_rows,
                "seconds": round(seconds, 2),
                "jets_per_second": round(table.n_rows / seconds, 1),
                "cpu_seconds": round(cpu, 2),
                "load_average_1min": [round(load_before, 2), round(load_after, 2)],
            }
            runs.append(run)
            print(
                f"{n_events:>7} {workers:>7} {table.n_rows:>7} {seconds:>8.1f} "
                f"{run['jets_per_second']:>7.0f} {cpu:>7.1f} "
                f"{load_before:>4.1f}->{load_after:<4.1f}"
            )
    settings = GeneratorSettings(n_events=1, seed=args.seed, mpi=not args.no_mpi)
    result = {
        "command": " ".join(["python benchmarks/generate_speed.py", *sys.argv[1:]]),
        "machine": {
            **describe_environment(("pythia8mc", "fastjet", "numpy")),
            "cores_available": available_cores(),
        },
        "generator": {k: v for k, v in settings.describe().items() if k not in ("n_events",)},
        "runs": runs,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
