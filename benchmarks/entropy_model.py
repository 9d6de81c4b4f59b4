"""Issue 15: does the entropy model pay? Bounded files with and without it, on held-out rows.

For each data set an entropy model is trained on one part and every measurement is made on
another: generated Pythia jets (15 variables; training and test files generated with different
seeds), the DarkMachines jets (70 % / 30 % of the events) and the ATLAS 4D jets (70 % / 30 % of
the rows: the published training split is not available). At each tolerance it reports bytes
per jet of today's bounded file and of the file coded with the model (model referenced, and
embedded), the ratio, the values outside the tolerance (decoded from the file), the gain with
the model's bytes counted for files of 100 k and 10 M jets, training time and model size, and
compression and decompression speed on the test jets repeated to `--speed-rows`.

    .venv/bin/python benchmarks/entropy_model.py --train train.parquet --test test.parquet

`--compare MODEL_DIR...` measures several models trained on the same jets (the network-size
trade-off); `--event-headroom` bounds what conditioning DarkMachines jets on the earlier jets
of their event could save.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from environment import describe_environment
from jetzip.codec.pipeline import compress_table, decompress_file
from jetzip.codec.tolerance import Tolerance
from jetzip.entropy.model import EntropyModel
from jetzip.entropy.training import train_entropy_model
from jetzip.evaluate.metrics import RELATIVE, residual_kind
from jetzip.table import Table

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
ATLAS_4D = SHARED / "atlas_4d" / "all_jets_test_4D_100_percent.pkl"
DARKMACHINES = SHARED / "darkmachines" / "monojet_Zp2000.0_DM_50.0_chan3.csv"
RESULTS = Path(__file__).resolve().parent / "results" / "entropy_model.json"
#: (relative, absolute) tolerance pairs, as in issue 15's targets
SETTINGS = (("1%", "0.01"), ("0.1%", "0.001"))
FILE_SIZES = (100_000, 10_000_000)


def tolerances(table: Table, relative: str, absolute: str) -> dict[str, Tolerance]:
    """Relative for scale variables (m, pt, E), absolute for every other float column."""
    return {
        name: Tolerance.parse(relative if residual_kind(name) == RELATIVE else absolute)
        for name in table.float_names
    }


def float32(table: Table, names: list[str]) -> Table:
    return Table(
        {n: table.columns[n].astype(np.float32) for n in names},
        event=table.event,
        units=dict(table.units),
    )


def split_events(table: Table, fraction: float) -> tuple[Table, Table]:
    """The rows of the first `fraction` of the events, and the rest."""
    events = np.unique(table.event)
    cut = events[int(len(events) * fraction)]
    first = int(np.searchsorted(table.event, cut))
    return table.slice(0, first), table.slice(first, table.n_rows)


def data_sets(train: Path | None, test: Path | None) -> list[tuple[str, Table, Table]]:
    from jetzip.io import read_table

    found = []
    if train and test:
        found.append(("pythia_15", read_table(train), read_table(test)))
    if DARKMACHINES.exists():
        table = read_table(DARKMACHINES)
        table = float32(table, ["E", "pt", "eta", "phi"])
        found.append(("darkmachines", *split_events(table, 0.7)))
    if ATLAS_4D.exists():
        table = read_table(ATLAS_4D)
        table = Table({n: table.columns[n].astype(np.float32) for n in ("m", "pt", "eta", "phi")})
        cut = int(0.7 * table.n_rows)
        found.append(("atlas_4d", table.slice(0, cut), table.slice(cut, table.n_rows)))
    return found


def size_of(table: Table, path: Path, **options: Any) -> int:
    compress_table(table, path, **options)
    return path.stat().st_size


def violations(table: Table, path: Path, tols: dict[str, Tolerance], model: Path | None) -> int:
    back = decompress_file(path, model=model)
    for name in table.names:
        if name not in tols and not np.array_equal(back.columns[name], table.columns[name]):
            raise AssertionError(f"{name} did not round-trip")
    return sum(int(t.violations(table.columns[n], back.columns[n]).sum()) for n, t in tols.items())


def measure(
    name: str, train: Table, test: Table, epochs: int, work: Path, trained: Path | None = None
) -> dict[str, Any]:
    """Train (or load `trained`, trained by `jetzip train --kind entropy` on `train`), then
    measure on `test`."""
    if trained is None:
        started = time.perf_counter()
        model = train_entropy_model(train, epochs=epochs, progress=False)
        seconds = time.perf_counter() - started
    else:
        model = EntropyModel.load(trained)
        seconds = model.meta["training_seconds"]
    model_dir = work / name
    model_bytes = model.save(model_dir).stat().st_size
    result: dict[str, Any] = {
        "train_rows": train.n_rows,
        "test_rows": test.n_rows,
        "columns": model.columns,
        "training_seconds": round(seconds, 1),
        "model_bytes": model_bytes,
        "n_parameters": model.n_parameters,
        "settings": [],
    }
    for relative, absolute in SETTINGS:
        tols = tolerances(test, relative, absolute)
        plain = size_of(test, work / "plain.jz", tolerances=tols)
        referenced = size_of(test, work / "ref.jz", tolerances=tols, model=model, model_ref=True)
        embedded = size_of(test, work / "emb.jz", tolerances=tols, model=model)
        bad = violations(test, work / "ref.jz", tols, model_dir)
        bad += violations(test, work / "emb.jz", tols, None)
        per_jet_plain, per_jet_model = plain / test.n_rows, referenced / test.n_rows
        result["settings"].append(
            {
                "tolerance": f"{relative} / {absolute}",
                "bounded_bytes_per_jet": per_jet_plain,
                "model_bytes_per_jet": per_jet_model,
                "embedded_bytes_per_jet": embedded / test.n_rows,
                "ratio": per_jet_plain / per_jet_model,
                "ratio_embedded": plain / embedded,
                "violations": bad,
                "ratio_with_model_bytes": {
                    str(n): n * per_jet_plain / (n * per_jet_model + model_bytes)
                    for n in FILE_SIZES
                },
            }
        )
    return result


def speed(test: Table, model_dir: Path, rows: int, work: Path) -> dict[str, Any]:
    """Jets per second to compress and decompress the test jets repeated to `rows` rows
    (two codec threads), with and without the model, at 1 % / 0.01."""
    repeat = -(-rows // test.n_rows)
    big = Table({n: np.tile(v, repeat)[:rows] for n, v in test.columns.items()})
    tols = tolerances(big, *SETTINGS[0])
    out: dict[str, Any] = {"rows": rows, "columns": len(big.names)}
    for label, model in (("bounded", None), ("with_model", model_dir)):
        path = work / f"speed_{label}.jz"
        started = time.perf_counter()
        compress_table(big, path, tolerances=tols, model=model, model_ref=True, threads=2)
        middle = time.perf_counter()
        decompress_file(path, model=model, threads=2)
        done = time.perf_counter()
        out[label] = {
            "compress_jets_per_s": rows / (middle - started),
            "decompress_jets_per_s": rows / (done - middle),
        }
    return out


def print_speed(fast: dict[str, Any]) -> None:
    for label in ("bounded", "with_model"):
        print(
            f"  speed {label:<10} compress "
            f"{fast[label]['compress_jets_per_s'] / 1e6:.3f} M jets/s, decompress "
            f"{fast[label]['decompress_jets_per_s'] / 1e6:.3f} M jets/s "
            f"({fast['rows']:,} jets, {fast['columns']} columns, 2 threads)"
        )


#: Bin width (in ln|x| or x) of the headroom estimate: coarse enough that each histogram has
#: hundreds of rows per bin; the entropy at the codec's step s is that plus log2(width / s).
HEADROOM_BIN = 0.05


def _bits(values: np.ndarray, step: float) -> float:
    """Plug-in entropy (bits) of `values` on a grid of `step`, from a HEADROOM_BIN histogram."""
    _, counts = np.unique(np.floor(values / HEADROOM_BIN), return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum() + np.log2(HEADROOM_BIN / step))


def _bits_given(values: np.ndarray, groups: np.ndarray, step: float) -> float:
    return sum(
        float(np.mean(groups == g)) * _bits(values[groups == g], step) for g in np.unique(groups)
    )


def event_headroom(table: Table, step: float = 0.002) -> dict[str, Any]:
    """What conditioning on the earlier objects of the same event could save (DarkMachines,
    issue 15): per column, bits per object at grid `step` (0.1 % / 0.001) alone and given the
    object's rank in its event (0, 1, 2, 3, 4+) and, for ranks > 0, the previous object's
    value (8 quantile bins). E is taken as its residual from pt cosh(eta). Plug-in estimates
    over more groups are biased low, so the saving is an upper bound."""
    event = table.event
    first = np.r_[True, event[1:] != event[:-1]]
    start = np.maximum.accumulate(np.where(first, np.arange(table.n_rows), 0))
    rank = np.minimum(np.arange(table.n_rows) - start, 4)
    c = {n: table.columns[n].astype(np.float64) for n in ("E", "pt", "eta", "phi")}
    spaces = {
        "E": np.log(c["E"]) - np.log(c["pt"]) - np.log(np.cosh(c["eta"])),
        "pt": np.log(c["pt"]),
        "eta": c["eta"],
        "phi": c["phi"],
    }
    out: dict[str, Any] = {"objects": table.n_rows, "step": step, "columns": {}}
    for name, y in spaces.items():
        previous = np.r_[y[0], y[:-1]]
        edges = np.quantile(previous[~first], np.linspace(0, 1, 9)[1:-1])
        context = np.where(first, -1, np.digitize(previous, edges)) + 10 * rank
        out["columns"][name] = {
            "bits": _bits(y, step),
            "bits_given_rank": _bits_given(y, rank, step),
            "bits_given_rank_and_previous": _bits_given(y, context, step),
        }
    columns = out["columns"].values()
    out["saving_bytes_per_object"] = (
        sum(
            v["bits"] - min(v["bits_given_rank"], v["bits_given_rank_and_previous"])
            for v in columns
        )
        / 8
    )
    print("  column  bits  | rank  | rank, previous  (bits per object at step 0.002)")
    for name, v in out["columns"].items():
        print(
            f"  {name:<6} {v['bits']:6.3f} {v['bits_given_rank']:7.3f} "
            f"{v['bits_given_rank_and_previous']:9.3f}"
        )
    print(f"  at most {out['saving_bytes_per_object']:.3f} B per object to gain")
    return out


def trade_off(args: argparse.Namespace, work: Path) -> list[dict[str, Any]]:
    """Held-out size and speed of each model in `args.compare` (e.g. hidden layers of 8, 16,
    32 units), trained on the same Pythia jets: what a smaller, faster network costs."""
    from jetzip.io import read_table

    train, test = read_table(args.train), read_table(args.test)
    speed(test, args.compare[0], test.n_rows, work)  # warm-up: one-time costs of the process
    rows = []
    print("  hidden  params  model B   ratio 1%  ratio 0.1%  compress  decompress M jets/s")
    for model_dir in args.compare:
        found = measure("pythia_15", train, test, args.epochs, work, model_dir)
        fast = speed(test, work / "pythia_15", args.speed_rows, work)
        hidden = EntropyModel.load(model_dir).meta.get("hidden")
        rows.append({"model": str(model_dir), "hidden": hidden, **found, "speed": fast})
        ratios = [s["ratio"] for s in found["settings"]]
        print(
            f"  {hidden!s:<7} {found['n_parameters']:6,d} {found['model_bytes']:8,d} "
            f"{ratios[0]:9.3f}x {ratios[1]:10.3f}x "
            f"{fast['with_model']['compress_jets_per_s'] / 1e6:9.3f} "
            f"{fast['with_model']['decompress_jets_per_s'] / 1e6:11.3f}"
            f"   (bounded today {fast['bounded']['compress_jets_per_s'] / 1e6:.3f} / "
            f"{fast['bounded']['decompress_jets_per_s'] / 1e6:.3f})"
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=Path, help="Pythia jets to train on (jetzip generate)")
    parser.add_argument("--test", type=Path, help="other Pythia jets (another seed) to measure")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument(
        "--model", type=Path, help="entropy model already trained on --train (MODEL_DIR)"
    )
    parser.add_argument("--speed-rows", type=int, default=1_000_000)
    parser.add_argument("--only", help="measure only this data set (pythia_15, darkmachines, ...)")
    parser.add_argument(
        "--speed-only", action="store_true", help="only the speed run (needs --model, --test)"
    )
    parser.add_argument(
        "--compare",
        type=Path,
        nargs="+",
        metavar="MODEL_DIR",
        help="size/speed trade-off: Pythia (--train, --test) with each of these models",
    )
    parser.add_argument(
        "--event-headroom",
        action="store_true",
        help="only: what conditioning on earlier objects of the event could save (DarkMachines)",
    )
    parser.add_argument("-o", "--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.event_headroom:
        from jetzip.io import read_table

        if not DARKMACHINES.exists():
            parser.error(f"--event-headroom needs {DARKMACHINES}")

        found = {"event_headroom": event_headroom(read_table(DARKMACHINES))}
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(found, indent=2))
        return 0
    results: dict[str, Any] = {"environment": describe_environment(), "data_sets": {}}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.compare:
            results["trade_off"] = trade_off(args, work)
        if args.speed_only:
            from jetzip.io import read_table

            results["speed"] = speed(read_table(args.test), args.model, args.speed_rows, work)
            print_speed(results["speed"])
        skip = args.speed_only or args.compare
        for name, train, test in [] if skip else data_sets(args.train, args.test):
            if args.only and name != args.only:
                continue
            trained = args.model if name == "pythia_15" else None
            found = measure(name, train, test, args.epochs, work, trained)
            results["data_sets"][name] = found
            print(
                f"{name}: trained on {found['train_rows']:,} rows in "
                f"{found['training_seconds']} s, model {found['model_bytes']:,} B, "
                f"{found['n_parameters']:,} parameters; test {found['test_rows']:,} rows"
            )
            print("  tolerance      bounded  +model  ratio  (embedded)  ratio@100k  @10M  viol.")
            for s in found["settings"]:
                counted = s["ratio_with_model_bytes"]
                print(
                    f"  {s['tolerance']:<13} {s['bounded_bytes_per_jet']:7.3f} "
                    f"{s['model_bytes_per_jet']:7.3f} {s['ratio']:6.3f}x "
                    f"({s['ratio_embedded']:.3f}x)   {counted['100000']:8.3f}x "
                    f"{counted['10000000']:6.3f}x {s['violations']:5d}"
                )
            if name == "pythia_15" and args.speed_rows:
                results["speed"] = speed(test, work / name, args.speed_rows, work)
                print_speed(results["speed"])
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2))
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
