"""Many files at once on a dask.distributed cluster: compress, decompress and evaluate.

    summary = compress_many(paths, "out/", tolerances="pt=0.1%", scheduler="local")
    print(summary.format_table())

One dask task per file; each task calls the single-file library function (`compress_file`,
`decompress_to`, `evaluate` + `write_report`), which writes its output atomically. Outputs keep
the inputs' names relative to their common root. A task first checks whether its output already
exists and is complete (a `.jz` whose checksums verify, a table that reads with the expected
row count, a report with its metrics), so a rerun resumes where a failed or interrupted run
stopped. User-caused failures (a corrupt input) are recorded at once; anything else is retried
by dask (and a task whose worker dies is rescheduled by the scheduler) before it is recorded.
No file is ever dropped silently: every input ends as done, skipped or failed in the summary.

`scheduler="local"` starts a LocalCluster of single-threaded worker processes (one per core);
an address such as ``tcp://HOST:8786`` connects to a running cluster, whose workers must be
able to import jetzip and see the same paths. A model is shipped to every worker once.
"""

from __future__ import annotations

import functools
import glob
import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from jetzip.errors import InputError, JetzipError, OptionError
from jetzip.fileutil import atomic_output

JZ_SUFFIX = ".jz"
#: Name of the JSON record each batch run leaves in its output directory.
SUMMARY_NAME = "jetzip-{operation}-summary.json"
LOCAL = "local"
METRICS_NAME = "metrics.json"
GLOB_CHARACTERS = frozenset("*?[")


# ---------------------------------------------------------------------- results
@dataclass(frozen=True)
class Job:
    """One file's work: `name` is the input relative to the common root (how it is reported)."""

    name: str
    source: str
    target: str
    reconstruction: str | None = None  # evaluate only: the file compared with `source`


@dataclass
class FileResult:
    """What happened to one input: status is "done", "skipped" (complete output existed) or
    "failed" (with the error)."""

    name: str
    status: str
    rows: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    seconds: float = 0.0
    error: str | None = None
    violations: int = 0  # evaluate: values outside the requested tolerances


@dataclass
class BatchSummary:
    """All files of one batch run, with totals; `exit_status` is what the CLI returns."""

    operation: str
    scheduler: str
    workers: int
    seconds: float
    results: list[FileResult] = field(default_factory=list)

    def _with(self, status: str) -> list[FileResult]:
        return [r for r in self.results if r.status == status]

    @property
    def failed(self) -> list[FileResult]:
        return self._with("failed")

    @property
    def violations(self) -> int:
        return sum(r.violations for r in self.results)

    @property
    def exit_status(self) -> int:
        """1 when any file failed, 2 when a tolerance was violated (evaluate), else 0."""
        return 1 if self.failed else 2 if self.violations else 0

    @property
    def rows_processed(self) -> int:
        """Rows of the files this run actually processed (not the skipped ones)."""
        return sum(r.rows for r in self._with("done"))

    @property
    def rows_per_second(self) -> float:
        return self.rows_processed / self.seconds if self.seconds > 0 else 0.0

    def format_table(self) -> str:
        """Totals per status, then one line per failed file."""
        lines = [
            f"{self.operation}: {len(self.results)} file(s) on {self.workers} worker(s) "
            f"({self.scheduler}) in {self.seconds:.1f} s, "
            f"{self.rows_per_second:,.0f} jets/s processed",
            f"{'status':<8} {'files':>6} {'jets':>14} {'bytes in':>15} {'bytes out':>15} "
            f"{'in/out':>7} {'task s':>9}",
        ]
        groups = [(s, self._with(s)) for s in ("done", "skipped", "failed")]
        for status, results in [*groups, ("total", self.results)]:
            bytes_in = sum(r.bytes_in for r in results)
            bytes_out = sum(r.bytes_out for r in results)
            ratio = f"{bytes_in / bytes_out:.2f}" if bytes_out else "-"
            lines.append(
                f"{status:<8} {len(results):>6} {sum(r.rows for r in results):>14,} "
                f"{bytes_in:>15,} {bytes_out:>15,} {ratio:>7} "
                f"{sum(r.seconds for r in results):>9.1f}"
            )
        if self.violations:
            lines.append(f"tolerance violations: {self.violations:,} value(s)")
        lines += [f"FAILED {r.name}: {r.error}" for r in self.failed]
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "operation": self.operation,
            "scheduler": self.scheduler,
            "workers": self.workers,
            "seconds": self.seconds,
            "rows_processed": self.rows_processed,
            "rows_per_second": self.rows_per_second,
            "exit_status": self.exit_status,
            "files": [asdict(r) for r in self.results],
        }


# ---------------------------------------------------------------------- inputs and outputs
def _absolute(path: str | os.PathLike[str]) -> Path:
    """Absolute and normalised, without following symlinks (names stay what the user sees)."""
    return Path(os.path.normpath(Path(path).absolute()))


def expand_inputs(
    patterns: Sequence[str | os.PathLike[str]], suffixes: Sequence[str]
) -> list[Path]:
    """Files named by `patterns`: plain paths, quoted globs (``**`` recurses) or directories
    (searched recursively for files ending in one of `suffixes`). Sorted, without repeats."""
    found: dict[str, Path] = {}
    wanted = tuple(s.lower() for s in suffixes)
    for pattern in map(str, patterns):
        path = Path(pattern)
        if path.is_dir():
            matches = [
                p for p in path.rglob("*") if p.is_file() and p.name.lower().endswith(wanted)
            ]
            if not matches:
                raise InputError(f"{path} holds no files ending in {', '.join(suffixes)}")
        elif path.exists():
            matches = [path]
        elif GLOB_CHARACTERS & set(pattern):
            # glob.glob, not Path.glob: the pattern may be absolute
            names = glob.glob(pattern, recursive=True)  # noqa: PTH207
            matches = [Path(name) for name in names if Path(name).is_file()]
            if not matches:
                raise InputError(f"no files match {pattern!r}")
        else:
            raise InputError(f"no such file: {path}")
        for match in matches:
            found.setdefault(str(_absolute(match)), match)
    return [found[key] for key in sorted(found)]


def plan_jobs(
    inputs: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    suffix: str,
    *,
    root: str | os.PathLike[str] | None = None,
) -> list[Job]:
    """One job per input: the output is `out_dir` / (input relative to `root`, by default the
    inputs' common directory) with its suffix replaced by `suffix` ("" for a directory)."""
    if not inputs:
        raise InputError("no input files given")
    sources = [_absolute(p) for p in inputs]
    base = _absolute(root) if root else Path(os.path.commonpath([p.parent for p in sources]))
    out = _absolute(out_dir)
    jobs: list[Job] = []
    claimed: dict[Path, str] = {}
    for source in sources:
        try:
            relative = source.relative_to(base)
        except ValueError:
            raise OptionError(f"{source} is not under the root directory {base}") from None
        target = out / relative.with_suffix(suffix)
        if target == source:
            raise OptionError(f"the output for {source} would overwrite the input itself")
        if target in claimed:
            raise OptionError(
                f"{claimed[target]} and {relative} would both be written to {target}; "
                "rename one or compress them in separate runs"
            )
        claimed[target] = str(relative)
        jobs.append(Job(str(relative), str(source), str(target)))
    return jobs


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def _remove_partial_outputs(jobs: Sequence[Job], finished: set[str]) -> None:
    """Delete temporary siblings (`atomic_output`'s hidden files) left by unfinished jobs,
    e.g. when Ctrl-C or a dying worker ended a write before its rename."""
    for job in jobs:
        if job.name in finished:
            continue
        target = Path(job.target)
        for leftover in target.parent.glob(f".{glob.escape(target.name)}.*.tmp"):
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)


# ---------------------------------------------------------------------- tasks (run on workers)
@functools.lru_cache(maxsize=2)
def _model_from_bytes(data: bytes) -> Any:
    """Deserialise the broadcast model once per worker process, not once per file."""
    from jetzip.models import TrainedModel

    return TrainedModel.from_bytes(data)


def _worker_model(data: bytes | None) -> Any:
    return None if data is None else _model_from_bytes(data)


def _recorded(job: Job, work: Callable[[], FileResult]) -> FileResult:
    """Run `work`, timing it; a user-caused error becomes a failed result instead of a retry
    (it would fail again), anything else propagates so that dask retries the task."""
    start = time.perf_counter()
    try:
        result = work()
    except (JetzipError, OSError) as exc:
        result = FileResult(job.name, "failed", error=str(exc) or type(exc).__name__)
    result.seconds = time.perf_counter() - start
    return result


def _intact_container(target: Path) -> dict[str, Any] | None:
    """`describe_file` of `target` when it is a `.jz` file that verifies, else None."""
    from jetzip.container import describe_file

    if not target.is_file():
        return None
    try:
        return describe_file(target)
    except JetzipError:
        return None


def _written_from(info: dict[str, Any], source: Path) -> bool:
    """Whether a described `.jz` records this very input (its name and size)."""
    recorded = info["header"].get("source") or {}
    return recorded.get("path") == source.name and recorded.get("bytes") == _size(source)


def _refuse_foreign(target: Path) -> None:
    raise OptionError(
        f"{target} already exists and was not written from this input; --force overwrites it"
    )


def compress_task(
    job: Job, options: Mapping[str, Any], model: bytes | None, *, force: bool = False
) -> FileResult:
    """Compress one file. Unless `force`: skip it when its complete `.jz` exists, redo a
    damaged one, and refuse an intact `.jz` written from another input."""
    from jetzip.codec import compress_file

    def work() -> FileResult:
        source, target = Path(job.source), Path(job.target)
        info = None if force else _intact_container(target)
        if info is not None and not _written_from(info, source):
            _refuse_foreign(target)
        status = "skipped"
        if info is None:
            info = compress_file(source, target, model=_worker_model(model), **options)
            status = "done"
        return FileResult(job.name, status, info["n_rows"], _size(source), info["sizes"]["file"])

    return _recorded(job, work)


def _readable_rows(path: Path) -> int | None:
    """Rows of the table file at `path`, or None when it is absent or does not read."""
    from jetzip.io import iter_tables

    if not path.exists():
        return None
    try:
        return sum(t.n_rows for t in iter_tables(path))
    except JetzipError:
        return None


def decompress_task(
    job: Job, options: Mapping[str, Any], model: bytes | None, *, force: bool = False
) -> FileResult:
    """Decompress one `.jz` file; the output's extension sets its format. Unless `force`:
    skip it when its output reads with the right row count, redo an output that does not
    read, and refuse one that reads with another row count."""
    from jetzip.codec import decompress_to
    from jetzip.container import describe_file

    def work() -> FileResult:
        source, target = Path(job.source), Path(job.target)
        rows = None if force else _readable_rows(target)
        # describe_file reads the whole .jz: only to check an existing output
        if rows is not None and rows != describe_file(source)["n_rows"]:
            _refuse_foreign(target)
        if rows is None:
            rows = decompress_to(source, target, model=_worker_model(model))
            status = "done"
        else:
            status = "skipped"
        return FileResult(job.name, status, rows, _size(source), _size(target))

    return _recorded(job, work)


def _violations(metrics: Mapping[str, Any]) -> int:
    return sum(int(t["violations"]) for t in (metrics.get("tolerances") or {}).values())


def _finished_report(report_dir: Path, plots: bool) -> dict[str, Any] | None:
    """The metrics of a complete report directory (with its page when plots are wanted)."""
    try:
        metrics = json.loads((report_dir / METRICS_NAME).read_text())
    except (OSError, ValueError):
        return None
    return metrics if not plots or (report_dir / "index.html").is_file() else None


def evaluate_task(job: Job, options: Mapping[str, Any], model: bytes | None) -> FileResult:
    """Evaluate one original/reconstruction pair into a report directory (or skip it): the
    full report, or only metrics.json when ``options["plots"]`` is false."""
    from jetzip.codec import decompress_file
    from jetzip.evaluate import evaluate, write_report
    from jetzip.evaluate.report import jsonable
    from jetzip.io import read_table

    def work() -> FileResult:
        source, target = Path(job.source), Path(job.target)
        if job.reconstruction is None:
            raise InputError(f"no reconstruction with the same name found for {job.name}")
        reconstruction = Path(job.reconstruction)
        sizes = (_size(source), _size(reconstruction))
        metrics = _finished_report(target, options["plots"])
        if metrics is not None:
            rows = int(metrics.get("n_rows", 0))
            return FileResult(job.name, "skipped", rows, *sizes, violations=_violations(metrics))
        trained = _worker_model(model)
        original = read_table(source, **options["read_options"])
        is_container = reconstruction.suffix.lower() == JZ_SUFFIX
        restored = (
            decompress_file(reconstruction, model=trained)
            if is_container
            else read_table(reconstruction, **options["read_options"])
        )
        metrics = evaluate(
            original,
            restored,
            model=trained,
            tolerances=options["tolerances"],
            compressed_path=reconstruction if is_container else None,
            original_path=source,
            model_dir=options["model_dir"],
            recovered_within=options["recovered_within"],
            measure_costs=options["measure_costs"],
            compare_baselines=options["compare_baselines"],
        )
        if options["plots"]:
            from jetzip.evaluate.plots import PlotStyle

            write_report(
                target,
                original,
                restored,
                metrics,
                model=trained,
                model_dir=options["model_dir"],
                command=options["command"],
                progress=False,
                style=PlotStyle(*options["style"]),
                all_plots=options["all_plots"],
            )
        else:
            with atomic_output(target, directory=True) as tmp:
                (tmp / METRICS_NAME).write_text(json.dumps(jsonable(metrics), indent=2) + "\n")
        violations = _violations(metrics)
        return FileResult(job.name, "done", original.n_rows, *sizes, violations=violations)

    return _recorded(job, work)


# ---------------------------------------------------------------------- the cluster
@contextmanager
def connect(scheduler: Any = LOCAL, workers: int | None = None) -> Iterator[Any]:
    """A dask.distributed Client: `scheduler` is "local" (a new LocalCluster of `workers`
    single-threaded processes, default one per core), a scheduler address (tcp://HOST:PORT), or
    an existing Client (used as is, not closed). Closes what it started, also on Ctrl-C."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise OptionError("batch mode needs dask.distributed: pip install 'jetzip[dask]'") from None
    import logging  # for the cluster's log level only: not every command's import

    if isinstance(scheduler, Client):
        yield scheduler
        return
    if workers is not None and workers < 1:
        raise OptionError(f"the number of workers must be at least 1, got {workers}")
    cluster = None
    if scheduler == LOCAL:
        cluster = LocalCluster(
            n_workers=workers or os.cpu_count() or 1,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=logging.ERROR,
        )
        client = Client(cluster)
    elif isinstance(scheduler, str) and "://" in scheduler:
        if workers is not None:
            raise OptionError(
                "--workers applies to --scheduler local; a running cluster has its own workers"
            )
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise OptionError(f"cannot reach the dask scheduler at {scheduler}: {exc}") from None
    else:
        raise OptionError(
            f"unknown scheduler {scheduler!r}; use 'local' or an address like tcp://HOST:8786"
        )
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _describe_failure(future: Any) -> str:
    """One line for a task that raised (after its retries), was lost or whose worker died."""
    from distributed import KilledWorker

    if future.status == "cancelled":
        return "the task was cancelled (the cluster lost it)"
    exc = future.exception()
    if isinstance(exc, KilledWorker):
        return "worker process died while working on this file (retried on other workers)"
    first_line = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first_line}" if first_line else type(exc).__name__


def _run_tasks(
    client: Any,
    task: Callable[..., FileResult],
    jobs: Sequence[Job],
    options: Mapping[str, Any],
    model: Any,
    *,
    retries: int,
    progress: bool,
) -> list[FileResult]:
    """Submit one task per job and collect a result for every one of them as they finish."""
    from distributed import as_completed

    futures = {
        client.submit(task, job, dict(options), model, pure=False, retries=retries): job
        for job in jobs
    }
    results: list[FileResult] = []
    try:
        for future in as_completed(futures):
            job = futures[future]
            if future.status == "finished":
                result = future.result()
            else:
                result = FileResult(job.name, "failed", error=_describe_failure(future))
            future.release()
            results.append(result)
            if progress:
                sys.stderr.write(_progress_line(len(results), len(jobs), result) + "\n")
                sys.stderr.flush()
    except BaseException:
        client.cancel(list(futures), force=True)
        raise
    return results


def _progress_line(position: int, total: int, result: FileResult) -> str:
    width = len(str(total))
    head = f"[{position:>{width}}/{total}] {result.status:<7} {result.name}"
    if result.status == "failed":
        return f"{head}: {result.error}"
    return f"{head}  {result.rows:,} jets  {result.seconds:.1f} s"


def run_batch(
    operation: str,
    task: Callable[..., FileResult],
    jobs: Sequence[Job],
    out_dir: str | os.PathLike[str],
    options: Mapping[str, Any],
    *,
    model_bytes: bytes | None = None,
    scheduler: Any = LOCAL,
    workers: int | None = None,
    retries: int = 1,
    progress: bool = True,
) -> BatchSummary:
    """Run `task(job, options, model_bytes)` for every job on the cluster and summarise.

    The model bytes are broadcast to all workers once. On any interruption the futures are
    cancelled, the cluster closed and unfinished outputs' temporary files removed. The summary
    is also written as JSON into `out_dir`.
    """
    if retries < 0:
        raise OptionError(f"retries must be 0 or more, got {retries}")
    start = time.perf_counter()
    results: list[FileResult] = []
    try:
        with connect(scheduler, workers) as client:
            n_workers = len(client.scheduler_info()["workers"])
            shared = (
                None
                if model_bytes is None
                else client.scatter(model_bytes, broadcast=True, hash=False)
            )
            results = _run_tasks(
                client, task, jobs, options, shared, retries=retries, progress=progress
            )
    finally:
        _remove_partial_outputs(jobs, {r.name for r in results if r.status != "failed"})
    summary = BatchSummary(
        operation,
        scheduler if isinstance(scheduler, str) else "client",
        n_workers,
        time.perf_counter() - start,
        sorted(results, key=lambda r: r.name),
    )
    record = Path(out_dir) / SUMMARY_NAME.format(operation=operation)
    with atomic_output(record) as tmp:
        tmp.write_text(json.dumps(summary.to_json(), indent=2) + "\n")
    return summary


# ---------------------------------------------------------------------- public entry points
def _model_bytes(model: Any) -> bytes | None:
    """A TrainedModel or MODEL_DIR as bytes (loaded here, so a bad path fails before any work)."""
    if model is None:
        return None
    if isinstance(model, str | os.PathLike):
        from jetzip.models import TrainedModel

        model = TrainedModel.load(model)
    return model.to_bytes()


def compress_many(
    inputs: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    *,
    root: str | os.PathLike[str] | None = None,
    scheduler: Any = LOCAL,
    workers: int | None = None,
    retries: int = 1,
    progress: bool = True,
    model: Any = None,
    force: bool = False,
    **options: Any,
) -> BatchSummary:
    """Compress every input into `out_dir`/<relative name>.jz; `options` are those of
    `jetzip.codec.compress_file` (mode, tolerances, chunk_rows, read_options, ...), checked
    here once rather than failing in every task. Complete outputs of the same inputs are
    skipped, damaged ones redone, and intact outputs of other inputs refused (that file
    fails), unless `force`: then every file is compressed again, overwriting what exists."""
    from jetzip.codec.pipeline import resolve_options

    _, options["tolerances"], options["default_tolerance"] = resolve_options(
        options.get("mode"),
        options.get("tolerances"),
        options.get("default_tolerance"),
        has_model=model is not None,
    )
    jobs = plan_jobs(inputs, out_dir, JZ_SUFFIX, root=root)
    return run_batch(
        "compress",
        functools.partial(compress_task, force=force),
        jobs,
        out_dir,
        options,
        model_bytes=_model_bytes(model),
        scheduler=scheduler,
        workers=workers,
        retries=retries,
        progress=progress,
    )


def decompress_many(
    inputs: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    *,
    format: str = "parquet",
    root: str | os.PathLike[str] | None = None,
    scheduler: Any = LOCAL,
    workers: int | None = None,
    retries: int = 1,
    progress: bool = True,
    model: Any = None,
    force: bool = False,
) -> BatchSummary:
    """Decompress every `.jz` input into `out_dir`/<relative name>.<format's extension>.
    `model` is needed only for files written with a model reference instead of the model.
    Existing outputs are treated as in `compress_many` (`force` redoes every file)."""
    from jetzip.io import FORMATS

    writable = [name for name, f in FORMATS.items() if f.writer is not None]
    if format not in writable:
        raise OptionError(f"cannot write {format!r} files; choose from {', '.join(writable)}")
    jobs = plan_jobs(inputs, out_dir, FORMATS[format].extensions[0], root=root)
    return run_batch(
        "decompress",
        functools.partial(decompress_task, force=force),
        jobs,
        out_dir,
        {},
        model_bytes=_model_bytes(model),
        scheduler=scheduler,
        workers=workers,
        retries=retries,
        progress=progress,
    )


def find_reconstruction(relative: Path, reconstructed_dir: Path) -> Path | None:
    """The file in `reconstructed_dir` with the same relative name as an original: the `.jz`
    if there is one, else any readable table with that stem (alphabetically first)."""
    from jetzip.io import supported_extensions

    stem = reconstructed_dir / relative.with_suffix("")
    extensions = {*supported_extensions(), JZ_SUFFIX}
    candidates = sorted(
        p
        for p in stem.parent.glob(f"{glob.escape(stem.name)}.*")
        if p.is_file() and p.suffix.lower() in extensions
    )
    containers = [p for p in candidates if p.suffix.lower() == JZ_SUFFIX]  # X.jz or X.JZ
    return (containers or candidates or [None])[0]


def evaluate_many(
    originals: Sequence[str | os.PathLike[str]],
    reconstructed_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    root: str | os.PathLike[str] | None = None,
    scheduler: Any = LOCAL,
    workers: int | None = None,
    retries: int = 1,
    progress: bool = True,
    model: Any = None,
    tolerances: str | None = None,
    recovered_within: float | None = None,
    measure_costs: bool = False,
    plots: bool = True,
    style: tuple[str, str | None, bool] = ("ATLAS", None, False),
    all_plots: bool = False,
    compare_baselines: bool = True,
    read_options: Mapping[str, Any] | None = None,
    command: str | None = None,
) -> BatchSummary:
    """Evaluate each original against its reconstruction in `reconstructed_dir` (same relative
    name, `.jz` or a table file), writing one report directory per file into `out_dir`
    (only metrics.json without `plots`: drawing is most of the time of a report).

    `style` is the plots' (experiment, status, data) as `jetzip.evaluate.plots.PlotStyle`
    takes them; `all_plots` and `compare_baselines` as in the single-file report.
    `measure_costs` is off by default: timings taken while other files run in parallel say
    little about the model. With `model` given as MODEL_DIR, the reports show its loss curves.
    """
    from jetzip.evaluate.metrics import DEFAULT_RECOVERED_WITHIN, as_tolerances

    as_tolerances(tolerances)  # a bad tolerance fails here, not in every task
    reconstructed = Path(reconstructed_dir)
    if not reconstructed.is_dir():
        raise InputError(f"{reconstructed} is not a directory of reconstructed files")
    jobs = [
        Job(
            job.name,
            job.source,
            job.target,
            None
            if (found := find_reconstruction(Path(job.name), reconstructed)) is None
            else str(found),
        )
        for job in plan_jobs(originals, out_dir, "", root=root)
    ]
    model_dir = str(model) if isinstance(model, str | os.PathLike) else None
    options = {
        "read_options": dict(read_options or {}),
        "tolerances": tolerances,
        "recovered_within": DEFAULT_RECOVERED_WITHIN
        if recovered_within is None
        else recovered_within,
        "measure_costs": measure_costs,
        "model_dir": model_dir,
        "command": command,
        "plots": plots,
        "style": tuple(style),
        "all_plots": all_plots,
        "compare_baselines": compare_baselines,
    }
    return run_batch(
        "evaluate",
        evaluate_task,
        jobs,
        out_dir,
        options,
        model_bytes=_model_bytes(model),
        scheduler=scheduler,
        workers=workers,
        retries=retries,
        progress=progress,
    )
