"""What a model costs on this machine: size, parameters, encode/decode speed and memory.

The ATLAS studies reported these next to the errors, since a model that compresses well but
decodes at a few kHz is no use for a trigger stream. Timings are taken here, now, for the model
at hand on at most `max_rows` jets (best of `repeats` runs, so a busy shared machine inflates
them less); memory is the process's peak resident set size, which includes everything loaded so
far (Python, torch, the tables), plus the peak of allocations Python's tracemalloc sees during
encode + decode (numpy buffers; torch's own CPU allocator is not traced).
"""

from __future__ import annotations

import resource
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np


def directory_size(path: str | Path) -> int:
    """Total bytes of the files under `path` (or of `path` itself when it is a file)."""
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def peak_rss_bytes() -> int:
    """Peak resident set size of this process so far (ru_maxrss is KiB on Linux, B on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def _best_time(func: Any, repeats: int) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - start)
    return best, result


def measure_model_costs(
    model: Any,
    x: np.ndarray,
    *,
    model_dir: str | Path | None = None,
    max_rows: int = 20_000,
    repeats: int = 3,
) -> dict[str, Any]:
    """Size, parameter count, per-jet encode/decode time, throughput and peak memory."""
    sample = np.ascontiguousarray(x[:max_rows], dtype=np.float64)
    n = sample.shape[0]
    encode_s, latent = _best_time(lambda: model.encode(sample), repeats)
    decode_s, _ = _best_time(lambda: model.decode(latent), repeats)
    tracemalloc.start()
    try:
        model.decode(model.encode(sample))
        _, traced_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    serialised = len(model.to_bytes())
    return {
        "n_parameters": int(model.n_parameters),
        "model_bytes": serialised,
        "model_dir_bytes": directory_size(model_dir) if model_dir is not None else None,
        "timed_rows": n,
        "encode_us_per_jet": 1e6 * encode_s / n,
        "decode_us_per_jet": 1e6 * decode_s / n,
        "encode_jets_per_s": n / encode_s if encode_s > 0 else None,
        "decode_jets_per_s": n / decode_s if decode_s > 0 else None,
        "traced_peak_bytes": int(traced_peak),
        "process_peak_rss_bytes": peak_rss_bytes(),
    }
