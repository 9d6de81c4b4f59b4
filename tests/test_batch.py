"""Many-file compress/decompress/evaluate on a real dask.distributed cluster.

One LocalCluster of two separate worker processes serves the module; the library connects to
it through its tcp:// address, exactly as it would to a cluster started by `dask scheduler`.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import cloudpickle
import numpy as np
import pytest
from distributed import Client, LocalCluster

from jetzip.batch import (
    FileResult,
    Job,
    compress_many,
    decompress_many,
    expand_inputs,
    find_reconstruction,
    plan_jobs,
    run_batch,
)
from jetzip.cli.main import main
from jetzip.codec import decompress_file, parse_tolerances
from jetzip.errors import InputError, OptionError
from jetzip.io import read_table, write_table
from jetzip.table import Table
from jetzip.training import train
from test_training import jets as training_jets
from test_training import small_config

TOLERANCES = "pt=0.1%,m=0.1%,eta=0.001,phi=0.001"
NAMES = ("run1/a.parquet", "run1/b.parquet", "run2/c.parquet")

# The worker-killing task below lives in this test module, which workers cannot import.
cloudpickle.register_pickle_by_value(sys.modules[__name__])


def jets(n_rows: int, seed: int) -> Table:
    rng = np.random.default_rng(seed)
    columns = {
        "pt": rng.exponential(50e3, n_rows) + 20e3,
        "eta": rng.normal(0.0, 1.5, n_rows),
        "phi": rng.uniform(-np.pi, np.pi, n_rows),
        "m": rng.exponential(8e3, n_rows) + 1.0,
    }
    return Table({k: v.astype(np.float32).astype(np.float64) for k, v in columns.items()})


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """Address of a running cluster with two single-threaded worker processes."""
    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",
        silence_logs=logging.ERROR,
    ) as cluster:
        yield cluster.scheduler_address


@pytest.fixture
def inputs(tmp_path: Path) -> list[Path]:
    """Three small parquet files in two sub-directories, plus one corrupt file."""
    paths = []
    for seed, name in enumerate(NAMES):
        path = tmp_path / "in" / name
        write_table(jets(3000 + 500 * seed, seed), path)
        paths.append(path)
    corrupt = tmp_path / "in" / "run2" / "corrupt.parquet"
    corrupt.write_bytes(b"PAR1 this is not a parquet file" * 20)
    return [*paths, corrupt]


def no_temporary_files(directory: Path) -> bool:
    return not [p for p in directory.rglob(".*") if p.name.endswith(".tmp")]


def test_compress_many_records_the_corrupt_file_and_finishes_the_others(
    inputs: list[Path], tmp_path: Path, scheduler: str
) -> None:
    out = tmp_path / "out"
    summary = compress_many(inputs, out, tolerances=TOLERANCES, scheduler=scheduler, progress=False)

    assert summary.workers == 2
    assert summary.exit_status == 1
    assert [r.name for r in summary.failed] == ["run2/corrupt.parquet"]
    assert "corrupt.parquet" in summary.failed[0].error
    assert "FAILED run2/corrupt.parquet" in summary.format_table()
    bounds = parse_tolerances(TOLERANCES)
    for name, source in zip(NAMES, inputs, strict=False):
        restored = decompress_file(out / Path(name).with_suffix(".jz"))
        original = read_table(source)
        assert restored.n_rows == original.n_rows
        for column, bound in bounds.items():
            error = np.abs(restored[column] - original[column])
            limit = bound.value * (np.abs(original[column]) if bound.relative else 1.0)
            assert np.all(error <= limit), column
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.jz")) == [
        "run1/a.jz",
        "run1/b.jz",
        "run2/c.jz",
    ]
    assert summary.rows_processed == sum(read_table(p).n_rows for p in inputs[:3])
    record = json.loads((out / "jetzip-compress-summary.json").read_text())
    assert {f["name"]: f["status"] for f in record["files"]}["run2/corrupt.parquet"] == "failed"
    assert no_temporary_files(out)


def test_rerun_skips_complete_outputs_and_redoes_damaged_ones(
    inputs: list[Path], tmp_path: Path, scheduler: str
) -> None:
    out = tmp_path / "out"
    good = inputs[:3]
    compress_many(good, out, scheduler=scheduler, progress=False)
    outputs = [out / Path(n).with_suffix(".jz") for n in NAMES]
    before = {p: p.stat().st_mtime_ns for p in outputs}
    damaged = outputs[1]
    damaged.write_bytes(damaged.read_bytes()[:-20])  # truncated: the trailer is gone
    outputs[2].unlink()

    summary = compress_many(good, out, scheduler=scheduler, progress=False)

    status = {r.name: r.status for r in summary.results}
    assert status == {NAMES[0]: "skipped", NAMES[1]: "done", NAMES[2]: "done"}
    assert outputs[0].stat().st_mtime_ns == before[outputs[0]]
    assert decompress_file(damaged).equals(read_table(good[1]))
    assert summary.exit_status == 0


def test_decompress_many_restores_every_table_under_the_same_names(
    inputs: list[Path], tmp_path: Path, scheduler: str
) -> None:
    compress_many(inputs[:3], tmp_path / "jz", scheduler=scheduler, progress=False)
    containers = expand_inputs([tmp_path / "jz"], [".jz"])

    summary = decompress_many(containers, tmp_path / "back", scheduler=scheduler, progress=False)
    again = decompress_many(containers, tmp_path / "back", scheduler=scheduler, progress=False)

    assert summary.exit_status == 0
    assert {r.status for r in again.results} == {"skipped"}
    for name, source in zip(NAMES, inputs, strict=False):
        assert read_table(tmp_path / "back" / name).equals(read_table(source))


def exit_worker_once(job: Job, options: dict, model: bytes | None) -> FileResult:
    """Kill the worker process the first time it runs, as a crash or the OOM killer would."""
    marker = Path(options["marker"])
    if not marker.exists():
        marker.write_text(str(os.getpid()))
        os._exit(1)
    return FileResult(job.name, "done", rows=1)


def test_a_task_whose_worker_dies_is_rescheduled(tmp_path: Path, scheduler: str) -> None:
    jobs = [Job("x", str(tmp_path / "x"), str(tmp_path / "out" / "x"))]
    options = {"marker": str(tmp_path / "died")}

    summary = run_batch(
        "test", exit_worker_once, jobs, tmp_path / "out", options, scheduler=scheduler
    )

    assert (tmp_path / "died").exists()
    assert [(r.name, r.status) for r in summary.results] == [("x", "done")]


def test_outputs_keep_names_relative_to_the_common_root(tmp_path: Path) -> None:
    jobs = plan_jobs([tmp_path / "d/a/x.root", tmp_path / "d/b/x.root"], tmp_path / "o", ".jz")
    assert [Path(j.target).relative_to(tmp_path / "o").as_posix() for j in jobs] == [
        "a/x.jz",
        "b/x.jz",
    ]
    with pytest.raises(OptionError, match="would both be written"):
        plan_jobs([tmp_path / "x.root", tmp_path / "x.parquet"], tmp_path / "o", ".jz")
    with pytest.raises(OptionError, match="not under the root"):
        plan_jobs([tmp_path / "x.root"], tmp_path / "o", ".jz", root=tmp_path / "elsewhere")


def test_find_reconstruction_prefers_the_container_whatever_its_suffix_case(
    tmp_path: Path,
) -> None:
    (tmp_path / "a").mkdir()
    assert find_reconstruction(Path("a/x.root"), tmp_path) is None
    (tmp_path / "a/x.parquet").touch()
    assert find_reconstruction(Path("a/x.root"), tmp_path) == tmp_path / "a/x.parquet"
    (tmp_path / "a/x.JZ").touch()
    assert find_reconstruction(Path("a/x.root"), tmp_path) == tmp_path / "a/x.JZ"


def test_expand_inputs_takes_globs_directories_and_files(inputs: list[Path]) -> None:
    root = inputs[0].parents[1]
    assert expand_inputs([str(root / "*" / "*.parquet")], [".parquet"]) == sorted(inputs)
    assert expand_inputs([root, inputs[0]], [".parquet"]) == sorted(inputs)
    with pytest.raises(InputError, match="no files match"):
        expand_inputs([str(root / "*.root")], [".root"])
    with pytest.raises(InputError, match="no such file"):
        expand_inputs([root / "missing.parquet"], [".parquet"])


def test_bad_options_fail_before_any_work(inputs: list[Path], tmp_path: Path) -> None:
    with pytest.raises(OptionError):
        compress_many(inputs, tmp_path / "o", tolerances="pt=lots", scheduler="nonsense")
    with pytest.raises(OptionError, match="unknown scheduler"):
        compress_many(inputs, tmp_path / "o", scheduler="nonsense")
    with pytest.raises(OptionError, match="--workers applies"):
        compress_many(inputs, tmp_path / "o", scheduler="tcp://127.0.0.1:1", workers=2)


def test_cli_batch_on_a_local_cluster_reports_failure_in_exit_status(
    inputs: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pattern = str(tmp_path / "in" / "*" / "*.parquet")
    argv = ["compress", pattern, "-o", f"{tmp_path / 'out'}/", "--tolerance", TOLERANCES]

    status = main([*argv, "--scheduler", "local", "--workers", "2", "--quiet"])

    printed = capsys.readouterr().out
    assert status == 1
    assert "FAILED run2/corrupt.parquet" in printed
    assert "on 2 worker(s) (local)" in printed
    assert len(list((tmp_path / "out").rglob("*.jz"))) == 3


def test_cli_decompress_and_evaluate_directories(
    inputs: list[Path], tmp_path: Path, scheduler: str, capsys: pytest.CaptureFixture[str]
) -> None:
    good = [str(p) for p in inputs[:3]]
    assert main(["compress", *good, "-o", str(tmp_path / "jz"), "--scheduler", scheduler]) == 0
    (tmp_path / "jz").joinpath("jetzip-compress-summary.json").unlink()

    decompress = ["decompress", str(tmp_path / "jz"), "-o", str(tmp_path / "back")]
    assert main([*decompress, "--format", "hdf5", "--scheduler", scheduler]) == 0
    evaluate = ["evaluate", str(tmp_path / "in"), str(tmp_path / "back"), "-o", str(tmp_path / "r")]
    status = main([*evaluate, "--metrics-only", "--scheduler", scheduler])

    assert status == 1  # the corrupt original has no reconstruction
    assert read_table(tmp_path / "back" / "run2" / "c.h5").equals(read_table(inputs[2]))
    metrics = json.loads((tmp_path / "r" / "run2" / "c" / "metrics.json").read_text())
    assert metrics["n_rows"] == 4000
    assert metrics["per_column"]["pt"]["max_abs"] == 0.0  # lossless round trip
    assert "FAILED run2/corrupt.parquet" in capsys.readouterr().out


def model_cache_use() -> tuple[int, int]:
    """(deserialisations, reuses) of the broadcast model in this worker process."""
    from jetzip.batch import _model_from_bytes

    info = _model_from_bytes.cache_info()
    return info.misses, info.hits


def test_the_model_is_shipped_once_and_used_for_every_file(
    inputs: list[Path], tmp_path: Path, scheduler: str
) -> None:
    model_dir = tmp_path / "model"
    train(training_jets(), small_config(epochs=1), model_dir, progress=False)

    summary = compress_many(inputs[:3], tmp_path / "jz", model=model_dir, scheduler=scheduler)

    assert summary.exit_status == 0
    for name, source in zip(NAMES, inputs, strict=False):
        restored = decompress_file(tmp_path / "jz" / Path(name).with_suffix(".jz"))
        assert restored.n_rows == read_table(source).n_rows
    with Client(scheduler) as client:
        use = client.run(model_cache_use).values()
    assert all(misses <= 1 for misses, _ in use)
    assert sum(misses + hits for misses, hits in use) == len(NAMES)


def test_batch_evaluate_takes_the_single_file_report_options(
    inputs: list[Path], tmp_path: Path, scheduler: str
) -> None:
    """Options of the single-file report (here --no-baselines) reach every file's report."""
    good = [str(p) for p in inputs[:3]]
    compress = ["compress", *good, "-o", str(tmp_path / "jz"), "--scheduler", scheduler]
    assert main([*compress, "--tolerance", "pt=0.1%"]) == 0
    (tmp_path / "jz").joinpath("jetzip-compress-summary.json").unlink()
    found = {}
    for flags, out in (([], "with"), (["--no-baselines"], "without")):
        evaluate = [
            "evaluate",
            str(tmp_path / "in"),
            str(tmp_path / "jz"),
            "-o",
            str(tmp_path / out),
        ]
        main([*evaluate, "--metrics-only", "--scheduler", scheduler, *flags])
        metrics = json.loads(next((tmp_path / out).rglob("metrics.json")).read_text())
        found[out] = "baselines" in metrics["compression"]
    assert found == {"with": True, "without": False}
