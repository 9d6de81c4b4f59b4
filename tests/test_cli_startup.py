"""The `jetzip` command loads only what a command needs (issue 19): `--help` and the jets
workflow on a Parquet file never import torch, ROOT I/O, plotting, Dask, pandas or numba, and
that workflow not the lighter modules it has no use for either (a progress bar's when none is
shown, other commands' modules).

Each command runs in a fresh interpreter that reports the modules it ended with, so the test
guards laziness without timing anything.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import jetzip
from jetzip.cli.main import COMMAND_MODULES, build_parser
from jetzip.cli.registry import COMMANDS
from jetzip.io import read_table, write_table
from jetzip.table import Table

#: Libraries that cost 0.1-1.5 s to import and that no command on a flat Parquet file needs.
HEAVY = ("torch", "uproot", "awkward", "matplotlib", "dask", "pandas", "h5py", "numba")

#: Modules that compress (with --quiet), info and decompress of a flat Parquet file have no use
#: for, each once imported by one of them: tqdm and importlib.metadata (for tqdm's version) are
#: for a progress bar, numpy.ma came with np.median, jetzip.input_sizes with uproot for the
#: summary of ROOT-read tables, and the rest for other commands' options or work.
NOT_FOR_A_FLAT_FILE = (
    "tqdm",
    "importlib.metadata",
    "multiprocessing",
    "numpy.ma",
    "jetzip.input_sizes",
    "jetzip.entropy.model",
    "jetzip.generate",
    "jetzip.training",
    "jetzip.transforms",
    "jetzip.cli.train_commands",
    "hashlib",
    "tomllib",
    "zipfile",
)
#: What showing the progress bar (compress without --quiet) adds to that: tqdm and its imports.
PROGRESS_BAR = {"tqdm", "importlib.metadata", "multiprocessing", "zipfile"}

TOLERANCES = "pt=0.1%,m=0.1%,eta=0.001,phi=0.001"

#: Runs the command as the `jetzip` script does; the last line of stdout lists every module the
#: process imported.
PROBE = """
import json, sys
from jetzip.cli.main import main
try:
    status = main(sys.argv[1:])
except SystemExit as stop:  # --help
    status = stop.code
print(json.dumps({"status": status, "modules": sorted(sys.modules)}))
"""


def run_jetzip(*argv: str | Path, cwd: Path) -> tuple[str, set[str]]:
    """Run `jetzip ARGV` in a fresh interpreter: (what it printed, the modules it imported,
    top-level and dotted). A non-zero exit fails the test with the command's stderr."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *map(str, argv)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )
    *printed, report = done.stdout.splitlines() or [""]
    assert done.returncode == 0 and report.startswith("{"), done.stderr
    result = json.loads(report)
    assert result["status"] == 0, done.stderr
    modules = set(result["modules"])
    return "\n".join(printed), modules | {m.partition(".")[0] for m in modules}


@pytest.fixture(scope="module")
def jets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Ten jets in a float32 Parquet file, as `jetzip compress` of a small file sees them."""
    rng = np.random.default_rng(19)
    table = Table(
        {
            "pt": rng.lognormal(10, 1, 10).astype(np.float32),
            "eta": rng.uniform(-3, 3, 10).astype(np.float32),
            "phi": rng.uniform(-np.pi, np.pi, 10).astype(np.float32),
            "m": rng.lognormal(8, 1, 10).astype(np.float32),
        }
    )
    path = tmp_path_factory.mktemp("startup") / "jets.parquet"
    write_table(table, path)
    return path


def test_help_lists_every_command_and_loads_no_heavy_library(tmp_path: Path) -> None:
    build_parser()  # registers every command in this process too
    printed, modules = run_jetzip("--help", cwd=tmp_path)
    assert COMMANDS and all(name in printed for name in COMMANDS)
    assert modules.isdisjoint(HEAVY), sorted(modules.intersection(HEAVY))


def test_parquet_jets_workflow_loads_only_what_it_uses(jets: Path, tmp_path: Path) -> None:
    """compress (quiet, then with its progress bar and summary), info and decompress of a small
    Parquet file, each in its own process; the round trip still meets the tolerances."""
    steps = (
        (("compress", jets, "-o", "jets.jz", "--tolerance", TOLERANCES, "--quiet"), set()),
        (("compress", jets, "-o", "shown.jz", "--tolerance", TOLERANCES), PROGRESS_BAR),
        (("info", "jets.jz"), set()),
        (("decompress", "jets.jz", "-o", "back.parquet"), set()),
    )
    for argv, allowed in steps:
        printed, modules = run_jetzip(*argv, cwd=tmp_path)
        unused = modules.intersection(HEAVY + NOT_FOR_A_FLAT_FILE) - allowed
        assert not unused, (argv[0], sorted(unused))
        if allowed:  # the summary was printed, not only the bar shown
            assert "max error" in printed, printed
    original = read_table(jets).columns
    back = read_table(tmp_path / "back.parquet").columns
    for name in ("pt", "m"):
        assert (np.abs(back[name] - original[name]) <= 1e-3 * np.abs(original[name])).all()
    for name in ("eta", "phi"):
        assert (np.abs(back[name] - original[name]) <= 1e-3).all()


def test_version_loads_no_command_and_no_numpy(tmp_path: Path) -> None:
    printed, modules = run_jetzip("--version", cwd=tmp_path)
    assert printed == f"jetzip {jetzip.__version__}"
    assert modules.isdisjoint({"numpy", *COMMAND_MODULES}), sorted(modules)


def test_command_modules_register_the_commands_main_expects() -> None:
    """`jetzip NAME` imports only the module COMMAND_MODULES lists for NAME: it must be the
    module that defines the command."""
    for module, names in COMMAND_MODULES.items():
        importlib.import_module(module)
        defined = {c.name for c in COMMANDS.values() if c.func.__module__ == module}
        assert defined == set(names), module
    assert {n for names in COMMAND_MODULES.values() for n in names} == set(COMMANDS)


def test_a_format_loads_its_library_when_used(jets: Path, tmp_path: Path) -> None:
    """The probe sees lazy imports: writing HDF5 loads h5py, and nothing else heavy."""
    _, modules = run_jetzip("convert", jets, "jets.h5", cwd=tmp_path)
    assert (tmp_path / "jets.h5").is_file()
    assert modules.intersection(HEAVY) == {"h5py"}
