"""Streaming compression and decompression: tables in, `.jz` out, chunk by chunk, and back.

Memory stays bounded by the chunk size: the input is consumed as an iterator of tables, each
chunk is encoded, decoded again with the very code decompression uses (so the reported errors
are the errors a user will get, and a bound that failed would stop the run), and written. The
output appears only when complete (`atomic_output`).
"""

from __future__ import annotations

import itertools
import json
import math
import os
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import numpy as np

from jetzip import __version__
from jetzip.codec.chunk import (
    LATENT_DTYPES,
    ColumnPlan,
    EncodedChunk,
    InlineExecutor,
    Model,
    decode_chunk,
    encode_chunk,
    same_bits,
)
from jetzip.codec.chunk import error_stats as chunk_error_stats
from jetzip.codec.quantize import STEP_SAFETY, quantisation_step
from jetzip.codec.tolerance import Tolerance, check_tolerance_columns, parse_tolerances
from jetzip.container import ContainerWriter, describe_file, open_reader
from jetzip.entropy.columns import is_entropy_model
from jetzip.errors import CorruptFileError, InputError, OptionError
from jetzip.fileutil import atomic_output
from jetzip.table import Table
from jetzip.validate import ENGINES, MODES, check_table_header

DEFAULT_CHUNK_ROWS = 1_000_000
#: Most threads the codec uses by default (a chunk has few columns to spread over).
MAX_DEFAULT_THREADS = 4


def thread_count(threads: int | None) -> int:
    """The codec's thread count: None means one per CPU, at most MAX_DEFAULT_THREADS."""
    if threads is None:
        threads = min(os.cpu_count() or 1, MAX_DEFAULT_THREADS)
    if threads < 1:
        raise OptionError(f"threads must be positive, got {threads}")
    return threads


def codec_executor(threads: int | None) -> Executor:
    """Threads on which a chunk's columns are coded (numpy and pcodec release the GIL).

    The output bytes never depend on it."""
    threads = thread_count(threads)
    return InlineExecutor() if threads == 1 else ThreadPoolExecutor(threads)


_Item = TypeVar("_Item")
_Result = TypeVar("_Result")


def ordered_map(
    function: Callable[[_Item], _Result], items: Iterable[_Item], workers: int
) -> Iterator[_Result]:
    """`function` of each item, up to `workers` items at once on threads (the next item is
    read meanwhile), results in the items' order. At most `workers` items are held, so memory
    stays bounded; when the consumer stops early, items not yet started are dropped.

    The codec runs one chunk per codec thread this way: a chunk's few columns, some waiting for
    others, keep two threads only partly busy, a stream of independent chunks keeps them all
    busy, and the bytes of each chunk are the same either way."""
    if workers <= 1:
        yield from map(function, items)
        return
    with ThreadPoolExecutor(workers) as pool:
        pending: deque[Future[_Result]] = deque()
        try:
            for item in items:
                pending.append(pool.submit(function, item))
                if len(pending) >= workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()


# ---------------------------------------------------------------------- options
def resolve_mode(mode: str | None, has_tolerance: bool, has_model: bool) -> str:
    """`--tolerance` alone implies bounded, `--model` alone implies latent, neither lossless."""
    if mode is None:
        return "bounded" if has_tolerance else "latent" if has_model else "lossless"
    if mode not in MODES:
        raise OptionError(f"unknown mode {mode!r}; choose from {', '.join(MODES)}")
    if mode == "latent" and not has_model:
        raise OptionError("mode 'latent' needs a model (--model MODEL_DIR)")
    if mode == "bounded" and not has_tolerance:
        raise OptionError("mode 'bounded' needs tolerances (--tolerance pt=0.1%,eta=0.001,...)")
    if mode == "lossless" and (has_tolerance or has_model):
        raise OptionError("mode 'lossless' takes neither tolerances nor a model")
    return mode


def check_engine(engine: str) -> None:
    """Refuse an unknown engine, or `onnx` without onnxruntime, before any work is done."""
    if engine not in ENGINES:
        raise OptionError(f"unknown engine {engine!r}; choose from {', '.join(ENGINES)}")
    if engine == "onnx":
        try:
            import onnx  # noqa: F401
            import onnxruntime  # noqa: F401
        except ImportError:
            raise OptionError(
                "engine 'onnx' needs onnx and onnxruntime (pip install 'jetzip[bench]')"
            ) from None


def _with_engine(model: Any, engine: str) -> Any:
    """The model run by `engine`. The engine's session runs on one thread and the codec's
    threads run batches concurrently (measured faster than ONNX Runtime's own intra-op threads:
    AE_3D_200 on 2 cores, 1.74 against 1.49 M jets/s to decompress)."""
    if engine == "torch" or model is None or is_entropy_model(model):
        return model
    from jetzip.models.onnx_export import onnx_engine

    return onnx_engine(model)


def _decompression_engine(header: dict[str, Any], mode: str, engine: str | None) -> str:
    """The engine a file is decoded with: by default the one that wrote it. Bounded columns
    predicted by the network need the very same prediction at both ends, and ONNX Runtime's
    output differs from PyTorch's in the last bits, so there no other engine is accepted."""
    written = str(header.get("engine") or "torch")
    if engine is None:
        return written
    if engine != written and mode == "bounded" and header.get("model"):
        raise OptionError(
            f"this file's bounded columns may be predicted by the network run with {written!r}, "
            f"whose last bits {engine!r} does not reproduce; decompress with --engine {written}"
        )
    return engine


def resolve_options(
    mode: str | None,
    tolerances: Mapping[str, Tolerance] | str | None,
    default_tolerance: Tolerance | str | None,
    *,
    has_model: bool,
) -> tuple[str, dict[str, Tolerance], Tolerance | None]:
    """Parse tolerance strings and settle the mode; every option error surfaces here."""
    if isinstance(tolerances, str):
        tolerances = parse_tolerances(tolerances)
    tolerances = dict(tolerances or {})
    if isinstance(default_tolerance, str):
        default_tolerance = Tolerance.parse(default_tolerance)
    has_tolerance = bool(tolerances) or default_tolerance is not None
    named = [*tolerances.items(), ("--default-tolerance", default_tolerance)]
    for name, tolerance in named:
        if tolerance is not None and not math.isfinite(quantisation_step(tolerance)):
            raise OptionError(
                f"tolerance {tolerance.to_text()} for {name} is too large to quantise with "
                "(its grid step overflows); store the column losslessly instead"
            )
    return resolve_mode(mode, has_tolerance, has_model), tolerances, default_tolerance


def _load_model(model: Any) -> Any:
    """Accept a TrainedModel, an EntropyModel or a MODEL_DIR path (of either)."""
    if model is None or not isinstance(model, str | os.PathLike):
        return model
    from jetzip.entropy.model import EntropyModel, is_entropy_model_dir
    from jetzip.models import TrainedModel

    if is_entropy_model_dir(model):
        return EntropyModel.load(model)
    return TrainedModel.load(model)


def _plans(
    table: Table,
    mode: str,
    tolerances: Mapping[str, Tolerance],
    default_tolerance: Tolerance | None,
    model: Model | None,
) -> list[ColumnPlan]:
    """Decide per column how it is stored (integer columns are always lossless)."""
    check_tolerance_columns(dict(tolerances), table.float_names, table.names)
    if model is not None:
        missing = [c for c in model.columns if c not in table.columns]
        # an entropy model codes the columns it shares with the data (and whose context they
        # hold); one that shares none was made for other data
        if missing and (not is_entropy_model(model) or len(missing) == len(model.columns)):
            raise InputError(
                f"the model expects column(s) {', '.join(model.columns)}, but the data lack "
                f"{', '.join(missing)} (columns: {', '.join(table.names)})"
            )
        integer = [c for c in model.columns if c not in table.float_names]
        if integer and not is_entropy_model(model):
            raise InputError(f"the model's column(s) {', '.join(integer)} are not floating point")
    plans = []
    for name, values in table.columns.items():
        dtype = values.dtype.name
        tol = tolerances.get(name, default_tolerance) if values.dtype.kind == "f" else None
        if mode == "latent" and model is not None and name in model.columns:
            plans.append(ColumnPlan(name, dtype, "latent"))
        elif mode == "bounded" and tol is not None:
            plans.append(ColumnPlan(name, dtype, "bounded", tol))
        else:
            plans.append(ColumnPlan(name, dtype, "lossless"))
    return plans


def _json_safe(obj: Any) -> Any:
    return json.loads(json.dumps(obj, default=str))


def _transform_name(plan: ColumnPlan) -> str:
    if plan.kind == "latent":
        return "autoencoder latent"
    if plan.kind != "bounded" or plan.tolerance is None:
        return "none (exact)"
    return "log|x|, sign kept" if plan.tolerance.relative else "identity"


# ---------------------------------------------------------------------- compression
class _ColumnTotals:
    """Per-column statistics summed over chunks for the footer."""

    def __init__(self, plans: list[ColumnPlan]) -> None:
        self.totals: dict[str, dict[str, Any]] = {
            p.name: {
                "kind": p.kind,
                "tolerance": None if p.tolerance is None else p.tolerance.to_text(),
                "bytes": 0,
                "n_exceptions": 0,
                "entropy_bits": 0.0,
                "coded_bits": 0,
                "max_abs_error": 0.0,
                "max_rel_error": 0.0,
                "predictor": {},
                "methods": {},
            }
            for p in plans
        }

    def add(self, name: str, desc: dict[str, Any], n_bytes: int, errors: dict[str, Any]) -> None:
        t = self.totals[name]
        t["bytes"] += n_bytes
        t["n_exceptions"] += int(desc.get("n_exceptions", 0))
        t["entropy_bits"] += float(desc.get("entropy_bits", 0.0))
        t["coded_bits"] += int(desc.get("coded_bits", 0))
        for key in ("max_abs_error", "max_rel_error"):
            t[key] = max(t[key], errors.get(key, 0.0))
        predictor = desc.get("predictor", "none")
        t["predictor"][predictor] = t["predictor"].get(predictor, 0) + 1
        method = desc.get("method") or desc.get("encoding")
        t["methods"][method] = t["methods"].get(method, 0) + 1

    def finish(self) -> dict[str, dict[str, Any]]:
        for t in self.totals.values():
            if t["entropy_bits"]:
                t["entropy_gap"] = t["coded_bits"] / t["entropy_bits"] - 1.0
        return self.totals


def _check_chunk(
    table: Table, names: list[str], dtypes: list[str], allow_nonfinite: bool, lossy: set[str]
) -> None:
    if table.names != names or [v.dtype.name for v in table.columns.values()] != dtypes:
        raise InputError(
            f"a chunk of the input has columns {table.names} with dtypes "
            f"{[v.dtype.name for v in table.columns.values()]}; the first had {names} / {dtypes}"
        )
    if not allow_nonfinite:
        counts = {n: c for n, c in table.nonfinite_counts().items() if n in lossy}
        if counts:
            detail = ", ".join(f"{n}: {c}" for n, c in counts.items())
            raise InputError(
                f"non-finite values (NaN/inf) found ({detail}); use --allow-nonfinite to store "
                "them exactly"
            )


def compress_tables(
    tables: Iterable[Table],
    path: str | os.PathLike[str],
    *,
    mode: str | None = None,
    tolerances: Mapping[str, Tolerance] | str | None = None,
    model: Any = None,
    model_ref: bool = False,
    latent_dtype: str | None = None,
    default_tolerance: Tolerance | str | None = None,
    allow_nonfinite: bool = False,
    source: Mapping[str, Any] | None = None,
    progress: bool = False,
    threads: int | None = None,
    engine: str = "torch",
) -> dict[str, Any]:
    """Compress a stream of tables (the chunks of one data set) into one `.jz` file.

    Each table becomes one independent chunk. Columns without a tolerance are stored losslessly
    in bounded mode unless `default_tolerance` is given. `model` is a TrainedModel or MODEL_DIR;
    with `model_ref` only its content hash is stored. `latent_dtype` defaults to float32 in
    latent mode and float16 in bounded mode. `source` (e.g. {"path", "bytes", "format"}) is
    recorded for ratios against the input file. `threads` (see `codec_executor`) changes the
    speed, never the bytes. `engine` runs the network (see ENGINES; recorded, and by default
    used again to decompress). Returns `describe_file(path)` plus the per-column statistics.
    """
    check_engine(engine)
    model = _load_model(model)
    autoencoder = model is not None and not is_entropy_model(model)
    if not autoencoder and model is not None and mode == "latent":
        raise OptionError("an entropy model codes bounded or lossless columns, not latents")
    mode, tolerances, default_tolerance = resolve_options(
        mode, tolerances, default_tolerance, has_model=autoencoder
    )
    predictor = None  # how bounded columns' model predictions are computed (recorded)
    if autoencoder and mode == "bounded":
        from jetzip.models.integer_decoder import PREDICTOR, integer_decoder

        fixed = integer_decoder(model)  # the same on every CPU, unlike the float network
        model, predictor = (model, None) if fixed is None else (fixed, PREDICTOR)
    if predictor is None:
        model = _with_engine(model, engine)
    latent_dtype = latent_dtype or ("float32" if mode == "latent" else "float16")
    if latent_dtype not in LATENT_DTYPES:
        raise OptionError(
            f"unknown latent dtype {latent_dtype!r}; choose from {', '.join(LATENT_DTYPES)}"
        )

    iterator = iter(tables)
    first = next(iterator, None)
    if first is None:
        raise InputError("the input holds no rows, nor any table to take columns from")
    plans = _plans(first, mode, tolerances, default_tolerance, model)
    model_bytes = None if model is None else model.to_bytes()
    # an entropy model is used in a chunk only where it saves more than its embedded bytes
    model_cost = len(model_bytes) if model_bytes and not model_ref and not autoencoder else 0
    header = {
        "jetzip_version": __version__,
        "mode": mode,
        "columns": [
            dict(p.to_json(), unit=first.units.get(p.name, ""), transform=_transform_name(p))
            for p in plans
        ],
        "event_index": first.event is not None,
        "meta": _json_safe(first.meta),
        "latent_dtype": latent_dtype if autoencoder else None,
        "engine": engine if autoencoder else None,
        "model": None
        if model is None
        else {
            "kind": "entropy" if not autoencoder else "autoencoder",
            "sha256": model.content_hash(),
            "embedded": not model_ref,
            "bytes": len(model_bytes),
            "n_parameters": int(model.n_parameters),
            # an entropy model says the rest itself, and the footer which columns it coded (a
            # file of a few thousand rows would spend about 1 % on repeating it here)
            **(
                {
                    "columns": [c for c in model.columns if c in first.columns],
                    "latent_dim": model.latent_dim,
                    "spec": _json_safe(model.spec),
                    "predictor": predictor,
                }
                if autoencoder
                else {}
            ),
        },
        "codec": {
            "integers": "pcodec",
            "lossless": "smallest of pcodec, byte-shuffled zstd and runs, per array (sampled)",
            "step_safety": STEP_SAFETY,
            "steps": {p.name: quantisation_step(p.tolerance) for p in plans if p.tolerance},
        },
        "source": _json_safe(dict(source)) if source else None,
    }
    names, dtypes = first.names, [v.dtype.name for v in first.columns.values()]
    lossy = {p.name for p in plans if p.kind != "lossless"}
    totals = _ColumnTotals(plans)
    n_rows = n_chunks = 0
    executor = codec_executor(threads)

    def checked_chunks() -> Iterator[Table]:
        for table in _chain(first, iterator):
            if table.n_rows:
                _check_chunk(table, names, dtypes, allow_nonfinite, lossy)
                yield table

    def code(table: Table) -> tuple[int, EncodedChunk, list[_ColumnResult]]:
        chunk = encode_chunk(
            table.columns, table.event, plans, model, latent_dtype, executor, model_cost
        )
        return table.n_rows, chunk, verify_chunk(chunk, table, plans, model, executor)

    with executor, atomic_output(path) as tmp, tmp.open("wb") as stream:
        coded = ordered_map(code, checked_chunks(), thread_count(threads))
        if model is not None and not autoencoder:
            coded, header = _without_unused_model(coded, header)
        embed = not model_ref and header["model"] is not None
        writer = ContainerWriter(stream, header, model_bytes if embed else None)
        bar = _rows_bar() if progress else None
        for chunk_rows, chunk, results in coded:
            needs_model = {"latent_dtype", "entropy_model"} & chunk.description.keys()
            writer.write_chunk(chunk.stored_description(), chunk.parts, bool(needs_model))
            for result in results:
                totals.add(*result)
            n_rows += chunk_rows
            n_chunks += 1
            if bar is not None:
                bar.update(chunk_rows)
        if bar is not None:
            bar.close()
        writer.finish(
            {
                "n_rows": n_rows,
                "n_chunks": n_chunks,
                "model_embedded": writer.model_embedded,
                "columns": totals.finish(),
            }
        )
    return describe_file(path)


def _rows_bar() -> Any:
    """The rows-written bar on stderr. tqdm is imported here, only when a bar is shown: its
    import (~20 ms, importlib.metadata for its version) and its locks would otherwise be every
    `jetzip compress --quiet`'s and every library call's."""
    from tqdm import tqdm

    return tqdm(total=None, unit=" rows", file=sys.stderr, leave=False)


def _without_unused_model(
    coded: Iterator[_Coded], header: dict[str, Any]
) -> tuple[Iterator[_Coded], dict[str, Any]]:
    """A one-chunk file whose chunk does not use the entropy model names no model: it is then
    byte for byte the file written without one. (Longer files keep the header entry, written
    before their later chunks are coded.)"""
    ahead = list(itertools.islice(coded, 2))
    if len(ahead) == 1 and "entropy_model" not in ahead[0][1].description:
        header = dict(header, model=None)
    return itertools.chain(ahead, coded), header


def _chain(first: Table, rest: Iterator[Table]) -> Iterator[Table]:
    yield first
    yield from rest


#: What verification reports of one column of a chunk: name, description, bytes, errors.
_ColumnResult = tuple[str, dict[str, Any], int, dict[str, Any]]
#: A coded chunk: its rows, the chunk and its verified column results.
_Coded = tuple[int, EncodedChunk, list[_ColumnResult]]


def verify_chunk(
    chunk: EncodedChunk,
    table: Table,
    plans: list[ColumnPlan],
    model: Any,
    executor: Executor,
) -> list[_ColumnResult]:
    """Decode the chunk exactly as decompression will, enforce its errors and return them.

    Bounded columns had their coded streams decoded and compared with the codes, signs and
    exceptions that quantisation checked against their tolerance (whose errors it measured)
    when they were coded; their grid values are not reconstructed a second time (docs/codec.md,
    "Verification"). Lossless columns must decode to the original; latent columns have their
    errors measured here. Only the network is not run again: its output for the stored latent
    is reused (it is deterministic), which saves a third of the model work."""
    parts = dict(chunk.parts)
    columns, event = decode_chunk(
        chunk.stored_description(),
        parts,
        plans,
        table.event is not None,
        model,
        executor,
        chunk.decoded_latent,
        chunk.checked,
    )
    if event is not None and not np.array_equal(event, table.event):
        raise AssertionError("event index did not survive encoding")
    sizes: dict[str, int] = {}
    for name, data in chunk.parts:
        owner = name.split(":", 1)[0]
        sizes[owner] = sizes.get(owner, 0) + len(data)
    measured = {
        plan.name: executor.submit(
            chunk_error_stats, table.columns[plan.name], columns[plan.name], plan.tolerance
        )
        for plan in plans
        if plan.name not in chunk.checked
    }
    results = []
    for plan in plans:
        original, restored = table.columns[plan.name], columns[plan.name]
        desc = chunk.description["columns"][plan.name]
        if plan.name in chunk.checked:
            errors = {key: desc[key] for key in ("max_abs_error", "max_rel_error")}
        else:
            errors = measured[plan.name].result()
        if plan.kind == "lossless" and not same_bits(original, restored):
            raise AssertionError(f"lossless column {plan.name!r} did not round-trip")
        if errors.get("violations"):
            raise AssertionError(
                f"column {plan.name!r} missed its tolerance on {errors['violations']} values"
            )
        results.append((plan.name, desc, sizes.get(plan.name, 0), errors))
    return results


def _chunks_of(table: Table, chunk_rows: int) -> Iterator[Table]:
    if not table.n_rows:  # the columns still make a valid file, of no chunks
        yield table
    for start in range(0, table.n_rows, chunk_rows):
        yield table.slice(start, min(start + chunk_rows, table.n_rows))


def compress_table(
    table: Table,
    path: str | os.PathLike[str],
    *,
    mode: str | None = None,
    tolerances: Mapping[str, Tolerance] | str | None = None,
    model: Any = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    **options: Any,
) -> dict[str, Any]:
    """Compress an in-memory table; see `compress_tables` for the options."""
    if chunk_rows < 1:
        raise OptionError(f"chunk rows must be positive, got {chunk_rows}")
    return compress_tables(
        _chunks_of(table, chunk_rows),
        path,
        mode=mode,
        tolerances=tolerances,
        model=model,
        **options,
    )


def compress_file(
    input_path: str | os.PathLike[str],
    path: str | os.PathLike[str],
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    read_options: Mapping[str, Any] | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Stream a data file (any format `jetzip.io` reads) into a `.jz` file."""
    from jetzip.io import iter_tables

    if chunk_rows < 1:
        raise OptionError(f"chunk rows must be positive, got {chunk_rows}")
    input_path = Path(input_path)
    if not input_path.exists():
        raise InputError(f"no such file: {input_path}")
    source = {"path": input_path.name, "bytes": _size_on_disk(input_path)}
    tables = iter_tables(input_path, chunk_rows=chunk_rows, **dict(read_options or {}))
    return compress_tables(tables, path, source=source, **options)


def _size_on_disk(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


# ---------------------------------------------------------------------- decompression
def model_for_header(header: dict[str, Any], embedded: bytes | None, model: Any) -> Any:
    """The model the file's header names: embedded, or given (`model`) for a file that only
    references it; either way its content hash must match. An embedded model's hash is checked
    on its bytes before any network is built from them."""
    import hashlib

    from jetzip.models import TrainedModel

    info = header["model"]
    if embedded is not None:
        if hashlib.sha256(embedded).hexdigest() != info["sha256"]:
            raise CorruptFileError("the embedded model is not the one the header names (sha256)")
        from jetzip.entropy.model import EntropyModel, is_entropy_model_bytes

        if is_entropy_model_bytes(embedded):
            return EntropyModel.from_bytes(embedded)
        return TrainedModel.from_bytes(embedded)
    if info["embedded"]:
        raise CorruptFileError("a chunk needs the embedded model, which the file lacks before it")
    if model is None:
        raise InputError(
            f"this file references model {info['sha256'][:16]}... without embedding it; "
            "give the model directory (--model MODEL_DIR)"
        )
    found = _load_model(model)
    if found.content_hash() != info["sha256"]:
        raise InputError(
            f"the model does not match the one this file was written with (sha256 "
            f"{found.content_hash()[:16]}... instead of {info['sha256'][:16]}...)"
        )
    return found


def _empty_table(
    plans: list[ColumnPlan], has_event: bool, units: dict[str, str], meta: dict
) -> Table:
    """A table with the file's columns and no rows: what a file without chunks decodes to, so
    that every output (Parquet, ROOT, ...) still has the columns."""
    columns = {p.name: np.zeros(0, dtype=p.dtype) for p in plans}
    event = np.zeros(0, dtype=np.int64) if has_event else None
    return Table(columns, event=event, units=units, meta=meta)


def iter_decompress(
    path: str | os.PathLike[str] | BinaryIO,
    *,
    model: Any = None,
    threads: int | None = None,
    engine: str | None = None,
) -> Iterator[Table]:
    """Yield the file's chunks as tables, verifying every checksum on the way (a file without
    chunks yields one table with its columns and no rows).

    `path` may also be a binary stream holding a .jz file (closed when done). Columns are
    decoded on `threads` threads (see `codec_executor`); `engine` runs the network (default:
    the engine that wrote the file; another one only for latent-mode files). The header is
    checked entry by entry before it is used (`jetzip.validate.check_table_header`)."""
    if engine is not None:
        check_engine(engine)
    stream, reader = open_reader(path)
    with stream, codec_executor(threads) as executor:
        header = check_table_header(reader.header)
        plans = [ColumnPlan.from_json(c) for c in header["columns"]]
        units = {c["name"]: c["unit"] for c in header["columns"] if c.get("unit")}
        has_event = header["event_index"]
        engine = _decompression_engine(header, header["mode"], engine)
        meta = dict(header.get("meta") or {})

        def read_chunks() -> Iterator[tuple[dict[str, Any], dict[str, bytes], Any]]:
            trained = None  # the model is loaded when the first chunk needs it
            for description, parts, _size in reader.chunks():
                needs = description.get("latent_dtype") or description.get("entropy_model")
                if trained is None and needs and header.get("model"):
                    trained = model_for_header(header, reader.model_bytes, model)
                    predictor = header["model"].get("predictor")
                    if predictor is None:  # the float network, as files before it were written
                        trained = _with_engine(trained, engine)
                    else:
                        from jetzip.models.integer_decoder import recorded_decoder

                        trained = recorded_decoder(trained, predictor)
                yield description, parts, trained

        def decode(chunk: tuple[dict[str, Any], dict[str, bytes], Any]) -> Table:
            description, parts, chunk_model = chunk
            columns, event = decode_chunk(
                description, parts, plans, has_event, chunk_model, executor
            )
            return Table(columns, event=event, units=units, meta=dict(meta))

        empty = True
        for table in ordered_map(decode, read_chunks(), thread_count(threads)):
            empty = False
            yield table
        if empty:
            yield _empty_table(plans, has_event, units, meta)


def decompress_file(
    path: str | os.PathLike[str] | BinaryIO,
    *,
    model: Any = None,
    threads: int | None = None,
    engine: str | None = None,
) -> Table:
    """The whole file as one table (columns, dtypes, event index, units and meta restored)."""
    return Table.concat(list(iter_decompress(path, model=model, threads=threads, engine=engine)))


def decompress_to(
    path: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    model: Any = None,
    threads: int | None = None,
    engine: str | None = None,
    **write_options: Any,
) -> int:
    """Decompress into any table format `jetzip.io.write_table` writes (atomic); returns the
    number of rows. Parquet output is written chunk by chunk (bounded memory); other formats
    are assembled whole, then written."""
    if Path(output).suffix.lower() == ".parquet" and not write_options:
        tables = iter_decompress(path, model=model, threads=threads, engine=engine)
        return _write_parquet_stream(tables, output)
    from jetzip.io import write_table

    table = decompress_file(path, model=model, threads=threads, engine=engine)
    write_table(table, output, **write_options)
    return table.n_rows


def _write_parquet_stream(tables: Iterator[Table], output: str | os.PathLike[str]) -> int:
    """One Parquet row group per chunk, with the same layout and metadata as `jetzip.io`."""
    import pyarrow.parquet as pq

    from jetzip.io.frames import HEADER_KEY, arrow_table, encode_header

    n_rows = 0
    with atomic_output(output) as tmp:
        writer = None
        try:
            for table in tables:
                arrow = arrow_table(table)
                if writer is None:
                    schema = arrow.schema.with_metadata({HEADER_KEY: encode_header(table)})
                    writer = pq.ParquetWriter(tmp, schema)
                writer.write_table(arrow.replace_schema_metadata(writer.schema.metadata))
                n_rows += table.n_rows
        finally:
            if writer is not None:
                writer.close()
    return n_rows
