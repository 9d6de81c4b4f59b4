"""Speed of `jetzip evaluate` on a large file: 500 k jets, bounded at 0.1 % / 0.001.

    .venv/bin/python benchmarks/evaluate_speed.py [--jets 500000] [--style ATLAS]

Target: evaluating 500 k jets (decompressing the .jz file, every metric, the baselines on its
first rows, the default figures as PNG + PDF and the page) in under 30 s. The jets are
synthetic (pt exponential above 20 GeV, m a fraction of pt, eta Gaussian, phi uniform), so the
script needs no data; the .jz file is written before the clock starts. Prints the seconds of
each stage with the CPU seconds (which other work on a shared machine does not inflate) and
writes benchmarks/results/evaluate_speed.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from environment import describe_environment
from generate_speed import cpu_seconds
from jetzip.codec import compress_table, decompress_file
from jetzip.evaluate import evaluate, write_report
from jetzip.evaluate.plots import STYLES, PlotStyle
from jetzip.table import Table

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "evaluate_speed.json"
TOLERANCES = "pt=0.1%,m=0.1%,eta=0.001,phi=0.001"


def jets(n: int, seed: int = 1) -> Table:
    """Synthetic float32 jets with realistic ranges (GeV)."""
    rng = np.random.default_rng(seed)
    pt = 20 + rng.exponential(40, n)
    columns = {
        "pt": pt,
        "eta": rng.normal(0, 1.5, n),
        "phi": rng.uniform(-np.pi, np.pi, n),
        "m": pt * rng.uniform(0.05, 0.3, n),
    }
    return Table(
        {k: v.astype(np.float32) for k, v in columns.items()}, units={"pt": "GeV", "m": "GeV"}
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jets", type=int, default=500_000)
    parser.add_argument("--style", choices=STYLES, default="ATLAS")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()

    original = jets(args.jets)
    stages = []
    with tempfile.TemporaryDirectory() as tmp:
        jz = Path(tmp) / "jets.jz"
        compress_table(original, jz, tolerances=TOLERANCES)
        state: dict = {}
        steps = [
            ("decompress", lambda: state.update(decoded=decompress_file(jz))),
            (
                "metrics + baselines",
                lambda: state.update(
                    metrics=evaluate(original, state["decoded"], compressed_path=jz)
                ),
            ),
            (
                "figures + page",
                lambda: state.update(
                    page=write_report(
                        Path(tmp) / "report", original, state["decoded"], state["metrics"],
                        style=PlotStyle(args.style), progress=False,
                    )
                ),
            ),
        ]  # fmt: skip
        print(f"{'stage':<22} {'seconds':>8} {'cpu s':>7}")
        for name, step in steps:
            cpu_start, start = cpu_seconds(), time.perf_counter()
            step()
            seconds, cpu = time.perf_counter() - start, cpu_seconds() - cpu_start
            stages.append(
                {"stage": name, "seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2)}
            )
            print(f"{name:<22} {seconds:>8.1f} {cpu:>7.1f}")
        figures = len(list((Path(tmp) / "report" / "plots").glob("*.png")))
        page_bytes = state["page"].stat().st_size
    total = sum(s["seconds"] for s in stages)
    print(f"{'total':<22} {total:>8.1f} {sum(s['cpu_seconds'] for s in stages):>7.1f}")
    print(f"{figures} figures, page {page_bytes / 1e6:.1f} MB")
    result = {
        "command": " ".join(["python benchmarks/evaluate_speed.py", *sys.argv[1:]]),
        "machine": describe_environment(("jetzip", "numpy", "matplotlib", "mplhep", "hist")),
        "jets": args.jets,
        "tolerances": TOLERANCES,
        "style": args.style,
        "stages": stages,
        "total_seconds": round(total, 2),
        "figures": figures,
        "page_bytes": page_bytes,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
