"""Bytes per jet of every jetzip mode on the ATLAS 4D jets, with the errors actually reached.

    nice python benchmarks/codec_modes.py [--model MODEL_DIR]

Columns m, pt, phi, eta as float32 (raw = 16 bytes/jet). Bounded mode at the issue's tolerance
(pt=0.1%,m=0.1%,eta=0.001,phi=0.001) and 10x looser / tighter; sizes are whole .jz files
(header, footer, checksums included). `H0 floor` is the summed order-0 entropy of the stored
codes: what an ideal memoryless coder would need for the same codes, without any overhead.
With --model: latent mode (float32/float16/bfloat16 latents) and bounded mode with the model
offered as a predictor; model bytes are reported apart (the model is referenced, not embedded).
Prints a table and writes benchmarks/results/codec_modes.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from jetzip.codec import compress_table, parse_tolerances
from jetzip.table import Table

ROOT = Path(__file__).resolve().parents[1]
ATLAS = ROOT.parent / "shared" / "data" / "atlas_4d" / "all_jets_test_4D_100_percent.pkl"
RESULT = ROOT / "benchmarks" / "results" / "codec_modes.json"
TOLERANCES = {
    "10x looser": "pt=1%,m=1%,eta=0.01,phi=0.01",
    "issue": "pt=0.1%,m=0.1%,eta=0.001,phi=0.001",
    "10x tighter": "pt=0.01%,m=0.01%,eta=0.0001,phi=0.0001",
}


def atlas_table() -> Table:
    frame = pd.read_pickle(ATLAS)
    return Table(
        {c: frame[c].to_numpy().astype(np.float32) for c in ("m", "pt", "phi", "eta")},
        units={"m": "MeV", "pt": "MeV"},
    )


def run(table: Table, label: str, tolerance: str | None, **options: Any) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        info = compress_table(table, Path(tmp) / "x.jz", tolerances=tolerance, **options)
        seconds = time.perf_counter() - started
    columns = info["footer"]["columns"]
    entropy_bits = sum(c["entropy_bits"] for c in columns.values())
    return {
        "label": label,
        "mode": info["header"]["mode"],
        "tolerance": tolerance,
        "latent_dtype": info["header"].get("latent_dtype"),
        "bytes_per_jet": info["bytes_per_row"],
        "h0_floor_bytes_per_jet": entropy_bits / 8 / table.n_rows if entropy_bits else None,
        "model_bytes": info["header"]["model"]["bytes"] if info["header"]["model"] else 0,
        "compress_seconds": seconds,
        "columns": {
            name: {
                "bytes_per_jet": info["sizes"]["columns"].get(name, 0) / table.n_rows,
                "max_abs_error": c["max_abs_error"],
                "max_rel_error": c["max_rel_error"],
                "exceptions": c["n_exceptions"],
                "predictor": c["predictor"],
                "entropy_gap": c.get("entropy_gap"),
            }
            for name, c in columns.items()
        },
        "latent_bytes_per_jet": info["sizes"]["columns"].get("(latent)", 0) / table.n_rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="trained MODEL_DIR for the latent and model-bounded rows")
    args = parser.parse_args()
    table = atlas_table()
    rows = [run(table, "lossless", None, mode="lossless")]
    for label, tolerance in TOLERANCES.items():
        rows.append(run(table, f"bounded ({label})", tolerance))
    if args.model:
        for dtype in ("float32", "float16", "bfloat16"):
            rows.append(
                run(
                    table,
                    f"latent {dtype}",
                    None,
                    model=args.model,
                    latent_dtype=dtype,
                    model_ref=True,
                )
            )
        for label, tolerance in TOLERANCES.items():
            rows.append(
                run(table, f"bounded+model ({label})", tolerance, model=args.model, model_ref=True)
            )
    names = list(table.names)
    print(f"ATLAS 4D, {table.n_rows:,} jets, raw float32 = 16 bytes/jet")
    print(
        f"{'method':<28} {'bytes/jet':>9} {'H0 floor':>8} "
        + " ".join(f"{n + ' max err':>16}" for n in names)
    )
    for row in rows:
        floor = row["h0_floor_bytes_per_jet"]
        errors = []
        for name in names:
            c = row["columns"][name]
            relative = row["tolerance"] and parse_tolerances(row["tolerance"])[name].relative
            err = f"{100 * c['max_rel_error']:.4g}%" if relative else f"{c['max_abs_error']:.4g}"
            choice = ",".join(c["predictor"]) if row["mode"] == "bounded" else ""
            errors.append(f"{err + (' ' + choice if choice != 'none' else ''):>16}")
        print(
            f"{row['label']:<28} {row['bytes_per_jet']:>9.3f} "
            f"{'-' if floor is None else f'{floor:.3f}':>8} " + " ".join(errors)
        )
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    command = "nice python benchmarks/codec_modes.py" + (" --model MODEL_DIR" if args.model else "")
    RESULT.write_text(
        json.dumps({"command": command, "n_jets": table.n_rows, "rows": rows}, indent=2)
    )


if __name__ == "__main__":
    main()
