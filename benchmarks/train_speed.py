"""Training throughput of AE_3D_200 (samples/s through the real training loop).

    nice .venv/bin/python benchmarks/train_speed.py [--rows 50000] [--epochs 3]

Times `jetzip.training.train` end to end per epoch (shuffle, batching, forward, backward,
AdamW step, validation) on random 4-column data at batch 256 and 4096 with 1 and 2 threads.
Writes benchmarks/results/train_speed.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
from pathlib import Path

import numpy as np
import torch

from jetzip.table import Table
from jetzip.training import make_config, train

RESULTS = Path(__file__).parent / "results" / "train_speed.json"


def random_jets(n_rows: int) -> Table:
    rng = np.random.default_rng(0)
    pt = 2e4 * np.exp(rng.exponential(0.7, n_rows))
    return Table(
        {
            "m": pt * rng.uniform(0.02, 0.2, n_rows),
            "pt": pt,
            "phi": rng.uniform(-np.pi, np.pi, n_rows),
            "eta": rng.normal(0, 1.4, n_rows),
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    table = random_jets(args.rows)
    load_before = os.getloadavg()[0]  # this machine's CPUs may be shared: record how busy
    rows = []
    for threads in (1, 2):
        for batch in (256, 4096):
            config = make_config(
                None,
                {
                    "epochs": args.epochs,
                    "batch_size": batch,
                    "threads": threads,
                    "val_fraction": 0.02,
                    "test_fraction": 0.0,
                },
            )
            with tempfile.TemporaryDirectory() as tmp:
                result = train(table, config, Path(tmp) / "m", progress=False)
            n_train = args.rows - round(args.rows * 0.02)
            samples = n_train // batch * batch * result.epochs_run
            rows.append(
                {
                    "batch_size": batch,
                    "threads": threads,
                    "samples_per_s": samples / result.seconds,
                    "seconds": result.seconds,
                    "epochs": result.epochs_run,
                }
            )
            print(
                f"batch {batch:5d}  threads {threads}  {samples / result.seconds:12,.0f} samples/s"
            )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "model": "AE_3D_200",
                "rows": args.rows,
                "load_average_before": load_before,
                "torch": torch.__version__,
                "cpu": platform.processor() or platform.machine(),
                "results": rows,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
