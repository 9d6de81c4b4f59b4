"""Issue 15: what the entropy model's rANS coder costs in bytes, column by column.

For each model column of the held-out Pythia jets (the trained model of `jetzip train --kind
entropy`) at 1 % / 0.01 and 0.1 % / 0.001: the bits the model's tables give the rows' symbols
(`Shape.tables`, about 30-bit probabilities), the bits of the same symbols under the tables
quantised to PROB_BITS (`quantise_tables`), the bits the rANS body holds (its words plus what
its final states carry), and the stream's bytes with its heads, escapes and packed low bits.
`--prob-bits` repeats the first three with coarser tables (the rANS coder allows at most 15).

    .venv/bin/python benchmarks/entropy_coder.py --model em --test test.parquet
"""

from __future__ import annotations

import argparse
import json
import math
import struct
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from entropy_model import SETTINGS, tolerances
from environment import describe_environment
from jetzip.codec import _rans
from jetzip.codec.quantize import quantisation_step, quantise
from jetzip.entropy import _condkernel, coder
from jetzip.entropy.model import EntropyModel
from jetzip.io import read_table

RESULTS = Path(__file__).resolve().parent / "results" / "entropy_coder.json"


def body_bits(body: bytes) -> float:
    """The bits a rANS body holds beyond its lanes' start: 16 per word, plus log2(x / 2**15)
    of each lane's final state x."""
    states = struct.unpack_from("<8I", body)
    return 16 * ((len(body) - 64) // 2) + sum(math.log2(x / 2**15) for x in states)


def column_costs(column: Any, codes: np.ndarray, rows: Any, prob_bits: int) -> dict[str, float]:
    """Bytes of one column's symbols: under the model's tables, the quantised tables, the rANS
    body; and the whole stream (at PROB_BITS only)."""
    n = codes.size
    symbols, offsets = np.empty(n, dtype=np.int32), np.empty(n, dtype=np.int64)
    _condkernel.split(codes, rows.centre, rows.low_bits, symbols, offsets)
    probabilities = column.tables.probabilities
    frequencies = coder.quantise_tables(probabilities, prob_bits)
    table = np.repeat(rows.present, np.diff(rows.starts))
    coded = symbols[rows.order]
    exact = probabilities[table, coded] / probabilities[table].sum(axis=1)
    grouped = (rows.order, rows.present, rows.starts, frequencies, prob_bits)
    found = {
        "model": float(-np.log2(exact).sum()) / 8,
        "quantised": float(-np.log2(frequencies[table, coded] / 2**prob_bits).sum()) / 8,
        "rans": body_bits(_rans.encode_tabled(symbols, *grouped)) / 8,
    }
    if prob_bits == coder.PROB_BITS:
        found["stream"] = len(coder.encode_codes(codes, rows, column.tables))
    return found


def measure(model: EntropyModel, test: Any, prob_bits: list[int]) -> list[dict[str, Any]]:
    results = []
    for relative, absolute in SETTINGS:
        tols = tolerances(test, relative, absolute)
        totals: dict[int, dict[str, float]] = {}
        for name in model.columns:
            column = model.models[name]
            if column.space == "integer":
                step, codes = 1.0, test.columns[name].astype(np.int64)
            else:
                step = quantisation_step(tols[name])
                codes = quantise(test.columns[name], tols[name]).codes.astype(np.int64)
            rows = column.row_tables(test.columns, test.n_rows, step)
            for bits in prob_bits:
                found = column_costs(column, codes, rows, bits)
                total = totals.setdefault(bits, {})
                for key, value in found.items():
                    total[key] = total.get(key, 0.0) + value
        results.append({"tolerance": f"{relative} / {absolute}", "rows": test.n_rows,
                        "bytes": {str(b): t for b, t in totals.items()}})  # fmt: skip
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="entropy model (MODEL_DIR)")
    parser.add_argument("--test", type=Path, required=True, help="held-out Pythia jets")
    parser.add_argument("--prob-bits", type=int, nargs="+", default=[coder.PROB_BITS])
    parser.add_argument("-o", "--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    model, test = EntropyModel.load(args.model), read_table(args.test)
    results = measure(model, test, args.prob_bits)
    print("  tolerance      bits  model B  +quantised  +rANS  stream B  +low bits, escapes, heads")
    for setting in results:
        for bits, t in setting["bytes"].items():
            extra = (
                f"{t['stream']:9,.0f}  {t['stream'] - t['rans']:+11,.0f}" if "stream" in t else ""
            )
            print(
                f"  {setting['tolerance']:<13} {bits:>4} {t['model']:8,.0f} "
                f"{t['quantised'] - t['model']:+11,.0f} {t['rans'] - t['quantised']:+6,.0f} {extra}"
            )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    found = {"environment": describe_environment(), "settings": results}
    args.output.write_text(json.dumps(found, indent=2))
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
