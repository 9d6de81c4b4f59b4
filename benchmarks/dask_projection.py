"""What dask-awkward's column projection saves when analysing `.jz` files (jetzip.dask).

Compresses the real CMS NanoAOD sample (all ~950 branches, lossless) into four `.jz` files of
50 events, then fills a Jet_pt histogram with `jetzip.dask.from_jz` three ways: with column
projection (only Jet_pt decoded), without it (`optimize_graph=False`: every branch decoded),
and with uproot.dask on the original ROOT file for reference. Synchronous scheduler, CPU time
of this process, best of `--repeat` runs, each without cached file headers.

    nice .venv/bin/python benchmarks/dask_projection.py [--repeat 3] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import dask
import dask_awkward as dak
import hist.dask
import numpy as np
import uproot

import jetzip.dask
from jetzip.codec.policy import parse_policy
from jetzip.codec.wholefile import compress_events
from jetzip.dask import from_jz
from jetzip.events import iter_events

SOURCE = (
    Path(__file__).resolve().parents[2] / "shared/data/root/nanoAOD_2015_CMS_Open_Data_ttbar.root"
)
EDGES = np.linspace(0.0, 400.0, 41)


def best_cpu(run: Callable[[], np.ndarray], repeat: int) -> tuple[float, np.ndarray]:
    """The smallest CPU time of `repeat` runs, and the last result; each run starts without
    jetzip.dask's per-worker cache of parsed file headers, as a fresh worker does."""
    times = []
    for _ in range(repeat):
        jetzip.dask._reader.cache_clear()
        start = time.process_time()
        result = run()
        times.append(time.process_time() - start)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/results/dask_projection.json")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if not SOURCE.is_file():
        raise SystemExit(f"the real data are missing: {SOURCE}")
    with tempfile.TemporaryDirectory() as tmp:
        chunks = list(iter_events(SOURCE, step_events=50, skip_unsupported=True))
        for k, chunk in enumerate(chunks):
            compress_events([chunk], Path(tmp) / f"part{k}.jz", policy=parse_policy())
        events = from_jz(Path(tmp) / "*.jz")
        n_branches = len(events.fields)

        def histogram(**options: object) -> Callable[[], np.ndarray]:
            filled = hist.dask.Hist.new.Var(EDGES).Double().fill(dak.flatten(events.Jet_pt))
            return lambda: filled.compute(scheduler="sync", **options).values()

        original = uproot.dask({SOURCE: "Events"}, filter_name="Jet_pt")
        reference = hist.dask.Hist.new.Var(EDGES).Double().fill(dak.flatten(original.Jet_pt))
        with dask.config.set({"awkward.optimization.on-fail": "raise"}):
            cases = {
                "from_jz, projected (Jet_pt only)": histogram(),
                f"from_jz, not projected (all {n_branches} branches)": histogram(
                    optimize_graph=False
                ),
                "uproot.dask on the ROOT file": lambda: reference.compute(
                    scheduler="sync"
                ).values(),
            }
            results = {name: best_cpu(run, args.repeat) for name, run in cases.items()}
    counts = [r[1] for r in results.values()]
    assert all(np.array_equal(c, counts[0]) for c in counts), "histograms differ"
    print(f"{'case':<48} {'CPU s':>7}")
    for name, (seconds, _) in results.items():
        print(f"{name:<48} {seconds:>7.3f}")
    record = {
        "machine": platform.platform(),
        "python": platform.python_version(),
        "files": len(chunks),
        "events": sum(c.n_events for c in chunks),
        "jets": int(counts[0].sum()),
        "cpu_seconds": {name: seconds for name, (seconds, _) in results.items()},
    }
    Path(args.out).write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
