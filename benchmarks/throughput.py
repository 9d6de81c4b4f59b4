"""Throughput: compress and decompress speed per mode, 1 and 2 processes, with peak memory.

Every job runs file in, file out in a fresh process (so its peak RSS is its own): compression
reads a Parquet table and writes a .jz file, decompression reads the .jz file and writes Parquet.
jetzip runs with 1 and 2 codec threads in one process, and as 2 processes of 1 thread each
on the two halves of the rows (wall time of both); the references run as 1 and 2 processes.
The references, timed the same way: mantissa rounding to bits chosen beforehand (9/9/11/10 for
m/pt/eta/phi, what meets the tolerances on the ATLAS jets; as ATLAS and CMS configure them once)
+ byte shuffle + zstd-3 (`rounding+zstd`), the same with the fewest bits searched per file
inside the timed job (`mantissa-search+zstd`), pcodec lossless and SZ3 (absolute bounds on
jetzip's transformed columns: log under a relative tolerance).
For model modes the machine's float32 matrix-multiply rate (torch, one and
two threads) and the model's FLOPs per jet give the fraction of the compute limit achieved;
the network alone is also timed with PyTorch and with ONNX Runtime, and the model modes run
with both engines (`+onnx`: ONNX Runtime, its batches spread over the codec threads).
The integer coder's own encode rate on one quantised column (`encode_ints`: rANS, or pcodec where
smaller), on 1 and 2 threads, bounds what the codec built on it can do. What writing memory a
process never had costs, against memory it freed, explains most of the gap between a job's first
run and its second.

    nice .venv/bin/python benchmarks/throughput.py [--rows 1000000] [--input JETS] [--model DIR]
        [--repeats 3] [--methods METHOD ...] [--layouts 1x1 1x2 2x1]

Without --input, the ATLAS 4D jets are resampled (with replacement) to --rows rows. Writes
benchmarks/results/throughput.json and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import struct
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from environment import describe_environment

RESULTS = Path(__file__).resolve().parent / "results"
ATLAS_4D = Path(__file__).resolve().parents[2] / "shared" / "data" / "atlas_4d"
ATLAS_4D = ATLAS_4D / "all_jets_test_4D_100_percent.pkl"
TOLERANCES = "m=0.1%,pt=0.1%,eta=0.001,phi=0.001"
FOUR_VECTOR = ("m", "pt", "eta", "phi")
ZSTD_LEVEL = 3  # zstd's default: what a user reaching for "fast" would pick
#: Mantissa bits chosen beforehand for TOLERANCES (the fewest that meet them on the ATLAS jets).
FIXED_BITS = {"m": 9, "pt": 9, "eta": 11, "phi": 10}
REFERENCES = ["rounding+zstd", "mantissa-search+zstd", "pcodec-lossless", "sz3"]
METHODS = [*REFERENCES, "jetzip-lossless", "jetzip-bounded"]
MODEL_METHODS = [
    "jetzip-latent",
    "jetzip-latent+onnx",
    "jetzip-bounded+model",
    "jetzip-bounded+model+onnx",
]


# --------------------------------------------------------------------------- jobs (child side)
def _write_columns(target: Path, n_rows: int, payloads: dict[str, bytes], meta: dict) -> None:
    """A reference's file: row count, JSON metadata, then each column's name and payload."""
    encoded_meta = json.dumps(meta).encode()
    with target.open("wb") as out:
        out.write(struct.pack("<QI", n_rows, len(encoded_meta)) + encoded_meta)
        for name, payload in payloads.items():
            encoded_name = name.encode()
            out.write(struct.pack("<HQ", len(encoded_name), len(payload)) + encoded_name)
            out.write(payload)


def _read_columns(source: Path) -> tuple[int, dict[str, bytes], dict]:
    data = source.read_bytes()
    n_rows, meta_length = struct.unpack_from("<QI", data)
    position = 12 + meta_length
    meta = json.loads(data[12:position])
    payloads = {}
    while position < len(data):
        name_length, payload_length = struct.unpack_from("<HQ", data, position)
        position += 10
        name = data[position : position + name_length].decode()
        position += name_length
        payloads[name] = data[position : position + payload_length]
        position += payload_length
    return n_rows, payloads, meta


def _reference_compress(method: str, source: Path, target: Path) -> None:
    """One of REFERENCES, per column of the table at `source`."""
    import zstandard

    from jetzip import baselines
    from jetzip.codec.tolerance import parse_tolerances
    from jetzip.io import read_table

    table = read_table(source)
    tolerances = parse_tolerances(TOLERANCES)
    compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
    payloads, meta = {}, {}
    for name, tolerance in tolerances.items():
        values = table[name]
        if method == "pcodec-lossless":
            payloads[name] = baselines.LOSSLESS_CODECS["pcodec"].encode(values)
        elif method == "sz3":
            transform = baselines.bound_transform(values, tolerance)
            payloads[name] = _sz3_compress(transform.forward(values), transform.bound)
            meta[name] = [transform.kind, transform.bound, transform.scale]
        else:
            bits = (
                FIXED_BITS[name]
                if method == "rounding+zstd"
                else baselines.fewest_mantissa_bits(values, tolerance)
            )
            rounded = baselines.round_mantissa(values, bits)
            payloads[name] = compressor.compress(baselines.byte_shuffle(rounded))
    _write_columns(target, table.n_rows, payloads, meta)


def _reference_decompress(method: str, source: Path, target: Path) -> None:
    from jetzip.io import write_table
    from jetzip.table import Table

    write_table(Table(reference_decode(method, source)), target)


def reference_decode(method: str, source: Path) -> dict[str, np.ndarray]:
    """A reference's file decoded to its columns (what its decompression writes)."""
    import zstandard

    from jetzip import baselines

    n_rows, payloads, meta = _read_columns(source)
    decompressor = zstandard.ZstdDecompressor()
    columns = {}
    for name, payload in payloads.items():
        if method == "pcodec-lossless":
            columns[name] = baselines.LOSSLESS_CODECS["pcodec"].decode(payload, n_rows)
        elif method == "sz3":
            transform = baselines.BoundTransform(*meta[name])
            columns[name] = transform.inverse(_sz3_decompress(payload, n_rows)).astype(np.float32)
        else:
            columns[name] = baselines.byte_unshuffle(decompressor.decompress(payload), n_rows)
    return columns


def _sz3_compress(transformed: np.ndarray, bound: float) -> bytes:
    import pysz

    config = pysz.szConfig()
    config.errorBoundMode = pysz.szErrorBoundMode.ABS
    config.absErrorBound = bound
    payload, _ratio = pysz.sz.compress(np.ascontiguousarray(transformed), config)
    return payload.tobytes()


def _sz3_decompress(payload: bytes, n_rows: int) -> np.ndarray:
    import pysz

    data = np.frombuffer(payload, dtype=np.uint8)
    decoded, _config = pysz.sz.decompress(data, np.float64, (n_rows,))
    return decoded


def _jetzip_compress(
    source: Path, target: Path, mode: str, model: str | None, threads: int, engine: str
) -> None:
    from jetzip.codec import compress_file

    tolerances = TOLERANCES if mode == "bounded" else None
    compress_file(
        source,
        target,
        mode=mode,
        tolerances=tolerances,
        model=model,
        model_ref=False,
        threads=threads,
        engine=engine,
    )


def _jetzip_decompress(source: Path, target: Path, threads: int, engine: str) -> None:
    from jetzip.codec import decompress_to

    decompress_to(source, target, threads=threads, engine=engine)


def _job(
    queue: Any,
    start: Any,
    method: str,
    direction: str,
    source: str,
    target: str,
    model: str | None,
    threads: int,
) -> None:
    """Child process: import everything, then run one job twice, each time from a common start.

    The first run is what a command on one file costs in a fresh process; the second, in the
    same process, what every chunk after the first of a long stream costs (its memory is
    recycled rather than newly mapped; `first_touch_ms_per_mib` measures the difference).
    Reports, per run, the wall-clock end time, the resident memory before the job and the peak
    (MiB).
    """
    import torch

    import jetzip.codec
    import jetzip.io  # noqa: F401

    if engine_of(method) == "onnx":  # imports like the others; building the graph is timed
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401

    from jetzip.memory import keep_freed_memory

    keep_freed_memory()  # as the jetzip command does, for every method alike
    torch.set_num_threads(1)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    source_path, target_path = Path(source), Path(target)
    for _ in RUNS:
        start.wait()
        if method in REFERENCES:
            if direction == "compress":
                _reference_compress(method, source_path, target_path)
            else:
                _reference_decompress(method, source_path, target_path)
        elif direction == "compress":
            mode = method.removeprefix("jetzip-").split("+")[0]
            _jetzip_compress(source_path, target_path, mode, model, threads, engine_of(method))
        else:
            _jetzip_decompress(source_path, target_path, threads, engine_of(method))
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        queue.put((time.time(), before, peak))


#: The two timed runs of every job: in a fresh process, and again in the same process.
RUNS = ("first", "again")
#: Longest wait for a job's start or report (a job that died would otherwise hang the run).
JOB_TIMEOUT_S = 1800


def fastest(repeats: int, jobs: list[tuple[str, str, str, str, str | None, int]]) -> dict:
    """The fastest of `repeats` runs of the jobs (first and repeated runs each): on a shared
    machine, other load only ever slows a run down, so the fastest is the closest to what the
    code itself costs."""
    runs = [run_parallel(jobs) for _ in range(repeats)]
    best = min(runs, key=lambda r: r["wall_s"])
    return dict(best, wall_again_s=min(r["wall_again_s"] for r in runs))


def run_parallel(jobs: list[tuple[str, str, str, str, str | None, int]]) -> dict[str, float]:
    """Run the jobs in fresh processes from a common start, twice: wall times and memory (MiB).

    Interpreter start-up and imports happen before the start and are not timed; the peak
    memory is that of the first run.
    """
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    start = context.Barrier(len(jobs) + 1)
    processes = [context.Process(target=_job, args=(queue, start, *job)) for job in jobs]
    for process in processes:
        process.start()
    runs = []
    for _ in RUNS:
        start.wait(timeout=JOB_TIMEOUT_S)
        started = time.time()
        reports = [queue.get(timeout=JOB_TIMEOUT_S) for _ in processes]
        runs.append((max(end for end, _, _ in reports) - started, reports))
    for process in processes:
        process.join()
        if process.exitcode != 0:
            raise RuntimeError(f"a benchmark job failed (exit code {process.exitcode})")
    (wall, first), (wall_again, _) = runs
    return {
        "wall_s": wall,
        "wall_again_s": wall_again,
        "rss_before_job_mib": max(before for _, before, _ in first),
        "peak_rss_mib": max(peak for _, _, peak in first),
        "new_memory_mib": max(peak - before for _, before, peak in first),
    }


# --------------------------------------------------------------------------- compute limit
def matmul_flops(threads: int, size: int = 2048, repeats: int = 3) -> float:
    """This machine's float32 matrix-multiply rate with torch on `threads` threads (FLOP/s)."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        a = torch.randn(size, size)
        b = torch.randn(size, size)
        torch.mm(a, b)  # warm-up
        best = min(_timed(lambda: torch.mm(a, b)) for _ in range(repeats))
    finally:
        torch.set_num_threads(previous)
    return 2.0 * size**3 / best


def first_touch_ms_per_mib(mib: int = 256, piece_bytes: int = 2_000_000) -> dict[str, float]:
    """What this machine charges to write memory a process never had, and memory it freed.

    Measured in a fresh process, with arrays the size of a 500 k-row float32 column and freed
    memory kept as the jetzip command keeps it: the gap between the "first" and "again" runs
    of a job is mostly its new memory (peak RSS minus RSS before the job) at the fresh rate."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_touch_memory, args=(queue, mib, piece_bytes))
    process.start()
    rates = queue.get(timeout=JOB_TIMEOUT_S)
    process.join()
    return rates


def _touch_memory(queue: Any, mib: int, piece_bytes: int) -> None:
    from jetzip.memory import keep_freed_memory

    keep_freed_memory()
    pieces = mib * 2**20 // piece_bytes
    written_mib = pieces * piece_bytes / 2**20
    rates = {}
    for kind in ("fresh", "recycled"):
        started = time.perf_counter()
        arrays = [np.ones(piece_bytes, dtype=np.uint8) for _ in range(pieces)]
        rates[kind] = (time.perf_counter() - started) * 1e3 / written_mib
        del arrays
    queue.put(rates)


def _timed(call: Any) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def model_flops_per_jet(model_dir: Path) -> dict[str, int]:
    """Multiply-adds x2 of the encoder and decoder linear layers, per jet."""
    import torch

    from jetzip.models import TrainedModel

    network = TrainedModel.load(model_dir).network
    flops = {"encode": 0, "decode": 0}
    for name, module in network.named_modules():
        if isinstance(module, torch.nn.Linear):
            part = "decode" if name.startswith(("decoder", "to_output")) else "encode"
            flops[part] += 2 * module.in_features * module.out_features
    return flops


def quantised_codes(table: Any) -> np.ndarray:
    """The codes of the pt column at its tolerance: what the integer coder codes per column."""
    from jetzip.codec.quantize import quantise
    from jetzip.codec.tolerance import parse_tolerances

    return quantise(table["pt"], parse_tolerances(TOLERANCES)["pt"]).codes


def codes_rate(codes: np.ndarray, threads: int, repeats: int = 3) -> float:
    """Values per second `encode_ints` codes with `threads` threads each coding a copy of
    `codes` (the rANS coder and pcodec's binding release the GIL)."""
    from concurrent.futures import ThreadPoolExecutor

    from jetzip.codec.entropy import encode_ints

    with ThreadPoolExecutor(threads) as pool:
        best = min(
            _timed(lambda: list(pool.map(encode_ints, [codes] * threads))) for _ in range(repeats)
        )
    return threads * codes.size / best


def network_decode_rates(model_dir: Path, rows: int = 262_144) -> dict[str, float]:
    """Jets per second through the decoder network alone, one thread, 4096-row batches:
    PyTorch (what the codec uses: bit-reproducible) against ONNX Runtime."""
    from jetzip.models import TrainedModel
    from jetzip.models.onnx_export import onnx_engine

    model = TrainedModel.load(model_dir)
    latent = np.random.default_rng(0).normal(size=(rows, model.latent_dim)).astype(np.float32)
    runners = {"pytorch": model.decode, "onnxruntime": onnx_engine(model, threads=1).decode}
    return {name: rows / _batched_seconds(decode, latent) for name, decode in runners.items()}


def _batched_seconds(decode: Any, latent: np.ndarray, repeats: int = 2) -> float:
    """Best time to decode `latent` in the codec's batches."""
    from jetzip.codec.chunk import MODEL_BATCH_ROWS

    starts = range(0, len(latent), MODEL_BATCH_ROWS)
    return min(
        _timed(lambda: [decode(latent[i : i + MODEL_BATCH_ROWS]) for i in starts])
        for _ in range(repeats)
    )


# --------------------------------------------------------------------------- driver
def layouts(method: str) -> list[tuple[int, int]]:
    """(processes, codec threads per process) to time: jetzip also on 2 threads in 1 process."""
    if method in REFERENCES:
        return [(1, 1), (2, 1)]
    return [(1, 1), (1, 2), (2, 1)]


def uses_model(method: str) -> bool:
    return method.startswith("jetzip-latent") or "+model" in method


def engine_of(method: str) -> str:
    """The engine that runs the network: `+onnx` methods use ONNX Runtime."""
    return "onnx" if method.endswith("+onnx") else "torch"


def model_predicts(path: Path) -> bool:
    """Whether any column of a .jz file is decoded through the model (bounded mode may not)."""
    from jetzip.container import describe_file

    described = describe_file(path)
    if described["header"]["mode"] == "latent":
        return True
    columns = described["footer"]["columns"].values()
    return any("model" in column.get("predictor", {}) for column in columns)


def input_table(rows: int, source: Path | None):
    """m, pt, eta, phi as float32: from `source`, or the ATLAS 4D jets resampled to `rows`."""
    from jetzip.io import read_table
    from jetzip.table import Table

    table = read_table(source if source is not None else ATLAS_4D)
    if source is not None:
        picks = np.arange(min(rows, table.n_rows))
    else:
        picks = np.random.default_rng(0).integers(0, table.n_rows, rows)
    return Table({n: table[n][picks].astype(np.float32) for n in FOUR_VECTOR})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--input", type=Path, help="jets to time (default: resampled ATLAS 4D)")
    parser.add_argument("--model", type=Path, help="trained MODEL_DIR for latent/bounded+model")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument(
        "--repeats", type=int, default=3, help="runs per job; the fastest counts (shared CPUs)"
    )
    parser.add_argument(
        "--methods", nargs="+", choices=METHODS + MODEL_METHODS, help="time only these methods"
    )
    parser.add_argument(
        "--layouts",
        nargs="+",
        default=["1x1", "1x2", "2x1"],
        help="processes x threads to time (each method's applicable ones among them)",
    )
    args = parser.parse_args(argv)

    from jetzip.fileutil import atomic_output
    from jetzip.io import write_table

    methods = METHODS + (MODEL_METHODS if args.model is not None else [])
    if args.methods:
        if args.model is None and set(args.methods) & set(MODEL_METHODS):
            parser.error(f"{', '.join(MODEL_METHODS)} need --model")
        methods = [m for m in methods if m in args.methods]
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        table = input_table(args.rows, args.input)
        n_rows, raw_mb = table.n_rows, table.n_rows * len(table.names) * 4 / 1e6
        half = n_rows // 2
        write_table(table, tmp / "all.parquet")
        write_table(table.slice(0, half), tmp / "half0.parquet")
        write_table(table.slice(half, n_rows), tmp / "half1.parquet")
        for method in methods:
            model = str(args.model) if uses_model(method) else None
            for processes, threads in layouts(method):
                if f"{processes}x{threads}" not in args.layouts:
                    continue
                parts = ["all"] if processes == 1 else ["half0", "half1"]
                packed = {p: tmp / f"{p}.{method}.t{threads}.bin" for p in parts}
                options = (model, threads)
                compress = fastest(
                    args.repeats,
                    [
                        (method, "compress", str(tmp / f"{p}.parquet"), str(packed[p]), *options)
                        for p in parts
                    ],
                )
                decompress = fastest(
                    args.repeats,
                    [
                        (
                            method,
                            "decompress",
                            str(packed[p]),
                            str(tmp / f"{p}.out.parquet"),
                            *options,
                        )
                        for p in parts
                    ],
                )
                size = sum(path.stat().st_size for path in packed.values())
                predicted = uses_model(method) and model_predicts(packed[parts[0]])
                for direction, timing in (("compress", compress), ("decompress", decompress)):
                    results.append(
                        {
                            "method": method,
                            "direction": direction,
                            "processes": processes,
                            "threads": threads,
                            "jets_per_s": n_rows / timing["wall_s"],
                            "jets_per_s_again": n_rows / timing["wall_again_s"],
                            "raw_mb_per_s": raw_mb / timing["wall_s"],
                            "bytes_per_jet": size / n_rows,
                            "model_used": predicted,
                            **timing,
                        }
                    )
                    print(_line(results[-1]), file=sys.stderr)
        codes = quantised_codes(table)
    compute: dict[str, Any] = {
        "matmul_flops": {t: matmul_flops(t) for t in (1, 2)},
        "codes_encode_values_per_s": {t: codes_rate(codes, t) for t in (1, 2)},
        "first_touch_ms_per_mib": first_touch_ms_per_mib(),
    }
    if args.model is not None:
        per_jet = model_flops_per_jet(args.model)
        compute["model_flops_per_jet"] = per_jet
        compute["network_decode_jets_per_s"] = network_decode_rates(args.model)
        for row in results:
            # where the model is kept, compression encodes every jet and decodes the latent
            # (latent mode to measure the errors, bounded mode for the prediction) and
            # decompression decodes it; a bounded chunk that drops the model has run the
            # network on its selection rows only, and is not limited by it
            if row["direction"] == "compress" and row["model_used"]:
                needed = per_jet["encode"] + per_jet["decode"]
            elif row["direction"] == "decompress" and row["model_used"]:
                needed = per_jet["decode"]
            else:
                continue
            cores = min(2, row["processes"] * row["threads"])
            limit = compute["matmul_flops"][cores]
            row["fraction_of_compute_limit"] = row["jets_per_s"] * needed / limit
            row["fraction_of_compute_limit_again"] = row["jets_per_s_again"] * needed / limit
    report = {
        "rows": n_rows,
        "repeats": args.repeats,
        "input": str(args.input or "resampled atlas_4d"),
        "compute": compute,
        "results": results,
        "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "environment": describe_environment(
            (
                "jetzip",
                "numpy",
                "pcodec",
                "zstandard",
                "pyarrow",
                "torch",
                "onnxruntime",
                "pysz",
            )
        ),
        "os_cpu_count": os.cpu_count(),
        "load_average_at_end": os.getloadavg(),
    }
    with atomic_output(args.output / "throughput.json") as tmp_path:
        tmp_path.write_text(json.dumps(report, indent=1))
    print(markdown(report))
    return 0


def _line(row: dict[str, Any]) -> str:
    return (
        f"{row['method']:>20} {row['direction']:>10} {row['processes']}x{row['threads']}: "
        f"{row['jets_per_s'] / 1e6:7.3f} M jets/s (again {row['jets_per_s_again'] / 1e6:7.3f}) "
        f"{row['raw_mb_per_s']:8.1f} MB/s peak {row['peak_rss_mib']:7.0f} MiB"
    )


def markdown(report: dict[str, Any]) -> str:
    compute, machine_info = report["compute"], report["environment"]
    lines = [
        f"{report['rows']} jets ({report['input']}), fastest of {report['repeats']} runs, "
        f"{report['date_utc']} UTC, "
        f"{machine_info['cores']} cores ({machine_info['cpu_model']}), load average at end "
        + ", ".join(f"{load:.1f}" for load in report["load_average_at_end"]),
        "versions: " + ", ".join(f"{k} {v}" for k, v in machine_info["versions"].items()),
        "float32 matmul: "
        + ", ".join(
            f"{t} thread(s) {f / 1e9:.1f} GFLOP/s" for t, f in compute["matmul_flops"].items()
        ),
        "encode_ints (rANS or pcodec) of one quantised column: "
        + ", ".join(
            f"{t} thread(s) {r / 1e6:.0f} M values/s"
            for t, r in compute["codes_encode_values_per_s"].items()
        ),
        "writing memory: "
        + ", ".join(
            f"{kind} {ms:.2f} ms/MiB" for kind, ms in compute["first_touch_ms_per_mib"].items()
        )
        + " (new MiB: what a job's first run added to its process's peak RSS; of 2 processes, "
        "the larger)",
    ]
    if "model_flops_per_jet" in compute:
        lines.append(
            f"model FLOPs per jet: {compute['model_flops_per_jet']}; decoder network alone, "
            "1 thread: "
            + ", ".join(
                f"{name} {rate / 1e6:.3f} M jets/s"
                for name, rate in compute["network_decode_jets_per_s"].items()
            )
        )
    lines += [
        "",
        "M jets/s: first run in a fresh process / the same job again in that process (what "
        "every chunk after the first of a long stream costs); fraction of the compute limit "
        "likewise.",
        "",
        "| method | direction | processes x threads | M jets/s | MB/s (raw float32) "
        "| peak RSS MiB | new MiB | bytes/jet | fraction of compute limit |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in report["results"]:
        fraction = row.get("fraction_of_compute_limit")
        again = row.get("fraction_of_compute_limit_again")
        lines.append(
            f"| {row['method']} | {row['direction']} | {row['processes']} x {row['threads']} "
            f"| {row['jets_per_s'] / 1e6:.3f} / {row['jets_per_s_again'] / 1e6:.3f} "
            f"| {row['raw_mb_per_s']:.1f} | {row['peak_rss_mib']:.0f} "
            f"| {row['new_memory_mib']:.0f} "
            f"| {row['bytes_per_jet']:.3f} "
            f"| {'-' if fraction is None else f'{fraction:.1%} / {again:.1%}'} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
