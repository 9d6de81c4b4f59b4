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


#: Float columns stored exactly (a weight is not a measurement to round).
EXACT = ("event_weight",)


def tolerances(table: Table, relative: str, absolute: str) -> dict[str, Tolerance]:
    """Relative for scale variables (m, pt, E, MET), absolute for every other float column
    but the EXACT ones."""
    return {
        name: Tolerance.parse(relative if residual_kind(name) == RELATIVE else absolute)
        for name in table.float_names
        if name not in EXACT
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
        jets = float32(table, ["E", "pt", "eta", "phi"])
        found.append(("darkmachines", *split_events(jets, 0.7)))
        # the table as jetzip reads the file: each jet with its event's id, process, weight,
        # MET and MET phi
        found.append(("darkmachines_table", *split_events(table, 0.7)))
    if ATLAS_4D.exists():
        table = read_table(ATLAS_4D)
        table = Table({n: table.columns[n].astype(np.float32) for n in ("m", "pt", "eta", "phi")})
        cut = int(0.7 * table.n_rows)
        found.append(("atlas_4d", table.slice(0, cut), table.slice(cut, table.n_rows)))
    return found


def size_of(table: Table, path: Path, **options: Any) -> int:
    return coded(table, path, **options)[0]


def coded(table: Table, path: Path, **options: Any) -> tuple[int, dict[str, int]]:
    """The file's bytes and each column's."""
    info = compress_table(table, path, **options)
    return path.stat().st_size, {n: c["bytes"] for n, c in info["footer"]["columns"].items()}


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
        plain, plain_columns = coded(test, work / "plain.jz", tolerances=tols)
        referenced, model_columns = coded(
            test, work / "ref.jz", tolerances=tols, model=model, model_ref=True
        )
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
                "column_bytes_per_jet": {
                    n: [plain_columns[n] / test.n_rows, model_columns[n] / test.n_rows]
                    for n in plain_columns
                },
                "ratio_with_model_bytes": {
                    str(n): n * per_jet_plain / (n * per_jet_model + model_bytes)
                    for n in FILE_SIZES
                },
            }
        )
    return result


def speed(test: Table, model_dir: Path, rows: int, work: Path, repeats: int = 3) -> dict[str, Any]:
    """Jets per second to compress and decompress the test jets repeated to `rows` rows
    (two codec threads), with and without the model, at 1 % / 0.01: after a warm-up on the
    test jets, the fastest of `repeats` runs (the machine is shared: slower runs measure the
    other jobs), with the process CPU seconds of that run. The copies keep their events, so
    columns the model codes per event are timed too."""
    repeat = -(-rows // test.n_rows)
    event = None
    if test.event is not None:  # each copy's events after the last copy's
        copies = np.arange(repeat).repeat(test.n_rows) * (int(test.event.max()) + 1)
        event = (np.tile(test.event, repeat) + copies)[:rows]
    big = Table({n: np.tile(v, repeat)[:rows] for n, v in test.columns.items()}, event=event)
    tols = tolerances(big, *SETTINGS[0])
    out: dict[str, Any] = {"rows": rows, "columns": len(big.names), "repeats": repeats}
    for label, model in (("bounded", None), ("with_model", model_dir)):
        path = work / f"speed_{label}.jz"
        small = tolerances(test, *SETTINGS[0])
        compress_table(test, path, tolerances=small, model=model, model_ref=True, threads=2)
        decompress_file(path, model=model, threads=2)  # warm-up: one-time costs of the process
        best: dict[str, tuple[float, float]] = {}
        for _ in range(repeats):
            for step in ("compress", "decompress"):
                cpu, started = time.process_time(), time.perf_counter()
                if step == "compress":
                    compress_table(
                        big, path, tolerances=tols, model=model, model_ref=True, threads=2
                    )
                else:
                    decompress_file(path, model=model, threads=2)
                wall, cpu = time.perf_counter() - started, time.process_time() - cpu
                if step not in best or wall < best[step][0]:
                    best[step] = (wall, cpu)
        out[label] = {f"{step}_jets_per_s": rows / wall for step, (wall, _) in best.items()} | {
            f"{step}_cpu_ns_per_jet": cpu / rows * 1e9 for step, (_, cpu) in best.items()
        }
    out["compute"] = compute_limit(EntropyModel.load(model_dir), out["with_model"])
    return out


def compute_limit(model: EntropyModel, rates: dict[str, float]) -> dict[str, float]:
    """The model's arithmetic per jet (2 x the weights of every column's network: each row of
    each column runs its network once, compressing and decompressing alike) and the fraction
    of this machine's float32 matrix-multiply rate on 2 threads (`throughput.matmul_flops`,
    measured now) that the measured rates reach. The kernel computes in float64, exact on
    integers, whose peak is half the float32 one: the fraction is of the machine, not of that."""
    from throughput import matmul_flops

    flops = sum(
        2 * layer.weight.shape[0] * layer.weight.shape[1]
        for column in model.models.values()
        for layer in column.network.layers
    )
    limit = matmul_flops(2)
    return {
        "model_flops_per_jet": flops,
        "matmul_flops_2_threads": limit,
        **{
            f"{step}_fraction_of_compute_limit": rates[f"{step}_jets_per_s"] * flops / limit
            for step in ("compress", "decompress")
        },
    }


def print_speed(fast: dict[str, Any]) -> None:
    compute = fast["compute"]
    print(
        f"  model {compute['model_flops_per_jet']:,} FLOP per jet; machine "
        f"{compute['matmul_flops_2_threads'] / 1e9:.1f} GFLOP/s (float32 matmul, 2 threads): "
        f"compress {compute['compress_fraction_of_compute_limit']:.2%}, decompress "
        f"{compute['decompress_fraction_of_compute_limit']:.2%} of it"
    )
    for label in ("bounded", "with_model"):
        f = fast[label]
        print(
            f"  speed {label:<10} compress {f['compress_jets_per_s'] / 1e6:.3f} M jets/s "
            f"({f['compress_cpu_ns_per_jet']:,.0f} CPU ns/jet), decompress "
            f"{f['decompress_jets_per_s'] / 1e6:.3f} M jets/s "
            f"({f['decompress_cpu_ns_per_jet']:,.0f} CPU ns/jet) "
            f"({fast['rows']:,} jets, {fast['columns']} columns, 2 threads, best of "
            f"{fast['repeats']})"
        )


def stages(test: Table, model_dir: Path, rows: int) -> dict[str, Any]:
    """Where the model's coding time goes, in one thread: per stage, nanoseconds per jet summed
    over the model's columns (test jets repeated to `rows`, 1 % / 0.01): features, network
    and table choice (`row_tables`, one compiled pass), range coding and decoding, each the
    fastest of three runs. The codec's own work (quantisation, signs, exceptions,
    verification's comparisons, file writing) comes on top."""
    from jetzip.codec.quantize import quantisation_step, quantise

    model = EntropyModel.load(model_dir)
    repeat = -(-rows // test.n_rows)
    columns = {n: np.tile(v, repeat)[:rows] for n, v in test.columns.items()}
    tols = tolerances(test, *SETTINGS[0])

    def fastest(call: Any, *args: Any) -> tuple[float, Any]:
        times, result = [], None
        for _ in range(3):
            started = time.perf_counter()
            result = call(*args)
            times.append(time.perf_counter() - started)
        return min(times), result

    totals = dict.fromkeys(("features, network, table", "range encode", "range decode"), 0.0)
    for name in model.columns:
        column = model.models[name]
        if name not in columns or (column.space != "integer" and name not in tols):
            continue
        step = 1.0 if column.space == "integer" else quantisation_step(tols[name])
        codes = (
            columns[name]
            if column.space == "integer"
            else quantise(columns[name], tols[name]).codes
        )
        seconds, tables = fastest(column.row_tables, columns, rows, step, 1)  # one thread
        totals["features, network, table"] += seconds
        seconds, data = fastest(column.encode, codes, tables)
        totals["range encode"] += seconds
        seconds, back = fastest(column.decode, data, tables)
        totals["range decode"] += seconds
        assert np.array_equal(back, codes)
    found = {stage: seconds / rows * 1e9 for stage, seconds in totals.items()}
    print(f"  one thread, {rows:,} jets, {len(model.columns)} model columns: ns per jet")
    for stage, ns in found.items():
        print(f"    {stage:<22} {ns:7.0f}")
    return {"rows": rows, "ns_per_jet": found}


#: Bin widths (in ln|x| or x) the held-out headroom estimate chooses from, per quantity, on a
#: validation split of the training events (all >= the 0.002 grid step).
HEADROOM_BINS = (0.2, 0.05, 0.02, 0.005)
#: Weight of the context-free histogram mixed into each context's histogram (back-off).
HEADROOM_BACKOFF = 0.1


def _fit_bits(
    y: np.ndarray, groups: np.ndarray, fit: np.ndarray, score: np.ndarray, step: float, width: float
) -> float:
    """Bits per `score` row at grid `step` of a histogram model of `y` (bins of `width`, one
    histogram per group mixed with the pooled one, +1/2 per bin) fitted on the `fit` rows."""
    b = np.floor(y / width).astype(np.int64)
    b -= b.min()
    n_bins = int(b.max()) + 1
    pooled = np.bincount(b[fit], minlength=n_bins) + 0.5
    pooled /= pooled.sum()
    total = 0.0
    for g in np.unique(groups[score]):
        counts = np.bincount(b[fit & (groups == g)], minlength=n_bins) + 0.5
        p = (1 - HEADROOM_BACKOFF) * counts / counts.sum() + HEADROOM_BACKOFF * pooled
        total -= float(np.log2(p[b[score & (groups == g)]]).sum())
    return total / max(int(score.sum()), 1) + float(np.log2(width / step))


def held_out_bits(
    y: np.ndarray, groups: np.ndarray, event: np.ndarray, rows: np.ndarray, step: float
) -> float:
    """Held-out cross-entropy (bits per row at grid `step`) of `y` given integer `groups`,
    over the `rows` of the last 30 % of the events, with a histogram model fitted on the
    first 70 % (its bin width chosen on the last 30 % of those): an honest estimate, unlike
    plug-in entropies, which fall with every context group added."""
    cut = np.quantile(np.unique(event), [0.49, 0.7])  # 70 % of 70 % fit the bin choice
    fit, valid, test = event < cut[0], (event >= cut[0]) & (event < cut[1]), event >= cut[1]
    fit, valid, test = fit & rows, valid & rows, test & rows
    width = min(HEADROOM_BINS, key=lambda w: _fit_bits(y, groups, fit, valid, step, w))
    return _fit_bits(y, groups, fit | valid, test, step, width)


def _wrap(angle: np.ndarray) -> np.ndarray:
    return (angle + np.pi) % (2 * np.pi) - np.pi


def event_headroom(table: Table, jets_bytes: float, step: float = 0.002) -> dict[str, Any]:
    """What event-level context could save on DarkMachines jets (issue 15): held-out bits per
    jet at the 0.1 % / 0.001 grid (`step`) of E (as its residual from pt cosh eta, as the codec
    codes it), pt, eta and phi, and of the event's MET and MET phi, under contexts a decoder
    has: the jet's rank in its event (from the event index), the previous jet, the event's MET
    and MET direction, and the transverse balance (MET + all jets ~ 0, monojet recoil).
    `jets_bytes`: today's bounded file of these jets, B per jet, which the savings are set
    against."""
    event = table.event
    first = np.r_[True, event[1:] != event[:-1]]
    index = np.cumsum(first) - 1
    start = np.flatnonzero(first)[index]
    rank = np.minimum(np.arange(table.n_rows) - start, 3)
    every = np.ones(table.n_rows, dtype=bool)
    none = np.zeros(table.n_rows, dtype=np.int64)
    c = {n: table.columns[n].astype(np.float64) for n in ("E", "pt", "eta", "phi", "MET", "METphi")}
    ln_pt, ln_met = np.log(c["pt"]), np.log(c["MET"])
    # transverse balance: what MET and the event's other jets say this jet's (px, py) is
    px, py = c["pt"] * np.cos(c["phi"]), c["pt"] * np.sin(c["phi"])
    met_x, met_y = c["MET"] * np.cos(c["METphi"]), c["MET"] * np.sin(c["METphi"])
    sum_x, sum_y = np.bincount(index, px)[index], np.bincount(index, py)[index]
    other_x, other_y = met_x + sum_x - px, met_y + sum_y - py
    lead = rank == 0

    def bits(y: np.ndarray, groups: np.ndarray = none, rows: np.ndarray = every) -> float:
        return held_out_bits(y, groups, event, rows, step)

    def split(y_lead: np.ndarray, y_rest: np.ndarray, groups: np.ndarray) -> float:
        """Leading jets coded one way, the others another: bits per jet (test rows)."""
        share = float(lead[event >= np.quantile(np.unique(event), 0.7)].mean())
        return share * bits(y_lead, groups, lead) + (1 - share) * bits(y_rest, groups, ~lead)

    previous = {}
    for name, y in (("pt", ln_pt), ("eta", c["eta"]), ("phi", c["phi"])):
        before = np.r_[y[0], y[:-1]]
        edges = np.quantile(before[~first], np.linspace(0, 1, 9)[1:-1])
        previous[name] = np.where(first, 8, np.digitize(before, edges)) + 10 * rank
    e_residual = np.log(c["E"]) - ln_pt - np.log(np.cosh(c["eta"]))
    relative_phi = _wrap(c["phi"] - c["METphi"])
    balance_phi = _wrap(c["phi"] - np.arctan2(-other_y, -other_x))
    balance_pt = ln_pt - np.log(np.hypot(other_x, other_y))
    jets = {
        "alone": [bits(e_residual), bits(ln_pt), bits(c["eta"]), bits(c["phi"])],
        "rank": [
            bits(e_residual, rank),
            bits(ln_pt, rank),
            bits(c["eta"], rank),
            bits(c["phi"], rank),
        ],
        "rank, previous jet": [bits(e_residual, rank)]
        + [bits(y, previous[n]) for n, y in (("pt", ln_pt), ("eta", c["eta"]), ("phi", c["phi"]))],
        "rank, MET, MET phi": [
            bits(e_residual, rank),
            bits(ln_pt - ln_met, rank),
            bits(c["eta"], rank),
            bits(relative_phi, rank),
        ],
        "balance (leading jet from MET and the other jets)": [
            bits(e_residual, rank),
            split(balance_pt, ln_pt - ln_met, rank),
            bits(c["eta"], rank),
            split(balance_phi, relative_phi, rank),
        ],
    }
    out: dict[str, Any] = {
        "objects": table.n_rows,
        "events": int(first.sum()),
        "step": step,
        "jets_bytes_per_jet": jets_bytes,
        "columns": ["E", "pt", "eta", "phi"],
        "bits_per_jet": jets,
    }
    # the other way round: the event's MET coded from its jets (once per event)
    missing_x, missing_y = -np.bincount(index, px), -np.bincount(index, py)
    per_event = {n: c[n][first] for n in ("MET", "METphi")}
    event_ids = event[first]
    all_events, no_group = np.ones(event_ids.size, bool), np.zeros(event_ids.size, np.int64)
    met = {
        "alone": [
            held_out_bits(np.log(per_event["MET"]), no_group, event_ids, all_events, step),
            held_out_bits(per_event["METphi"], no_group, event_ids, all_events, step),
        ],
        "from the jets' vector sum": [
            held_out_bits(
                np.log(per_event["MET"]) - np.log(np.hypot(missing_x, missing_y)),
                no_group,
                event_ids,
                all_events,
                step,
            ),
            held_out_bits(
                _wrap(per_event["METphi"] - np.arctan2(missing_y, missing_x)),
                no_group,
                event_ids,
                all_events,
                step,
            ),
        ],
    }
    out["met_bits_per_event"] = met
    jets_per_event = table.n_rows / first.sum()
    alone = sum(jets["alone"])
    print(f"  held-out bits per jet at step {step} ({first.sum():,} events, last 30 % measured)")
    print(
        "  context                                             E      pt     eta    phi    "
        "saves B/jet  ratio"
    )
    out["ratio"] = {}
    for context, values in jets.items():
        saved = (alone - sum(values)) / 8
        out["ratio"][context] = jets_bytes / (jets_bytes - saved)
        print(
            f"  {context:<50} "
            + " ".join(f"{v:6.2f}" for v in values)
            + f"  {saved:8.3f}  {out['ratio'][context]:6.3f}x"
        )
    for context, values in met.items():
        print(
            f"  MET, MET phi {context:<37} {values[0]:6.2f} {values[1]:6.2f} bits per event "
            f"({sum(values) / jets_per_event / 8:.3f} B per jet)"
        )
    met_saved = (sum(met["alone"]) - sum(met["from the jets' vector sum"])) / jets_per_event / 8
    met_alone = sum(met["alone"]) / jets_per_event / 8
    out["ratio"]["jets and MET, MET coded from the jets"] = (jets_bytes + met_alone) / (
        jets_bytes + met_alone - met_saved
    )
    print(
        f"  jets + MET (MET coded once per event, from the jets): "
        f"{out['ratio']['jets and MET, MET coded from the jets']:.3f}x"
    )
    return out


def trade_off(args: argparse.Namespace, work: Path) -> list[dict[str, Any]]:
    """Held-out size and speed of each model in `args.compare` (e.g. hidden layers of 8, 16,
    32 units), trained on the same Pythia jets: what a smaller, faster network costs."""
    from jetzip.io import read_table

    train, test = read_table(args.train), read_table(args.test)
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
    parser.add_argument(
        "--only",
        nargs="+",
        help="measure only these data sets (pythia_15, darkmachines, darkmachines_table, ...)",
    )
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

        table = read_table(DARKMACHINES)
        _, test = split_events(float32(table, ["E", "pt", "eta", "phi"]), 0.7)
        tols = tolerances(test, *SETTINGS[1])
        with tempfile.TemporaryDirectory() as tmp:
            jets_bytes = size_of(test, Path(tmp) / "jets.jz", tolerances=tols) / test.n_rows
        found = {"event_headroom": event_headroom(table, jets_bytes)}
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

            test = read_table(args.test)
            results["speed"] = speed(test, args.model, args.speed_rows, work)
            print_speed(results["speed"])
            results["stages"] = stages(test, args.model, args.speed_rows)
        skip = args.speed_only or args.compare
        for name, train, test in [] if skip else data_sets(args.train, args.test):
            if args.only and name not in args.only:
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
                print(
                    "    B/jet by column (bounded -> +model): "
                    + ", ".join(
                        f"{n} {a:.3f}->{b:.3f}"
                        for n, (a, b) in s["column_bytes_per_jet"].items()
                        if abs(a - b) > 0.0005
                    )
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
