"""SIGINT and SIGTERM, sent to a real `jetzip` process at start-up and while it writes: one
line, exit status 128 + the signal, no traceback and no temporary file left behind."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from jetzip.io import write_table
from jetzip.table import Table

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

#: Rows of the input: enough that compressing them takes a few seconds on a loaded machine.
ROWS = 600_000


@pytest.fixture(scope="module")
def jets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(3)
    table = Table(
        {
            "pt": rng.lognormal(10, 1, ROWS).astype(np.float32),
            "eta": rng.uniform(-3, 3, ROWS).astype(np.float32),
            "m": rng.lognormal(8, 1, ROWS).astype(np.float32),
        }
    )
    path = tmp_path_factory.mktemp("signals") / "jets.parquet"
    write_table(table, path)
    return path


def _start(args: list[str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "jetzip", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_temporary(directory: Path, process: subprocess.Popen[str]) -> None:
    """Until the output's hidden temporary file exists (the command is writing)."""
    deadline = time.monotonic() + 60
    while not any(p.name.endswith(".tmp") for p in directory.iterdir()):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the command never started writing"
        time.sleep(0.005)


def _assert_one_line_exit(process: subprocess.Popen[str], signum: int, directory: Path) -> None:
    _, err = process.communicate(timeout=120)
    assert "Traceback" not in err
    assert process.returncode == 128 + signum, err
    assert err.strip().endswith("interrupted") and len(err.strip().splitlines()) == 1, err
    assert not [p.name for p in directory.iterdir() if p.name.startswith(".")]


def test_sigterm_while_compressing_removes_the_temporary_file(jets: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    process = _start(
        [
            "compress",
            str(jets),
            "-o",
            str(out / "jets.jz"),
            "--tolerance",
            "pt=0.01%,eta=0.0001",
            "--chunk-rows",
            "100000",
            "--threads",
            "1",
            "--quiet",
        ],
        tmp_path,
    )
    _wait_for_temporary(out, process)
    process.send_signal(signal.SIGTERM)
    _assert_one_line_exit(process, signal.SIGTERM, out)
    assert not (out / "jets.jz").exists()


def test_sigint_while_decompressing_removes_the_temporary_file(jets: Path, tmp_path: Path) -> None:
    from jetzip.codec import compress_file

    compressed = tmp_path / "jets.jz"
    compress_file(jets, compressed, chunk_rows=50_000, tolerances="pt=1%", threads=1)
    out = tmp_path / "out"
    out.mkdir()
    target = out / "back.parquet"
    process = _start(["decompress", str(compressed), "-o", str(target), "--threads", "1"], tmp_path)
    _wait_for_temporary(out, process)
    process.send_signal(signal.SIGINT)
    _assert_one_line_exit(process, signal.SIGINT, out)
    assert not target.exists()


def _wait_for_handlers(process: subprocess.Popen[str]) -> None:
    """Until the command has installed its signal handlers (Linux reports the caught signals
    in /proc; SIGTERM is not caught before jetzip's handler, SIGINT is from Python's start)."""
    status = Path(f"/proc/{process.pid}/status")
    deadline = time.monotonic() + 60
    while True:
        caught = next(
            line for line in status.read_text().splitlines() if line.startswith("SigCgt:")
        )
        if int(caught.split()[1], 16) >> (signal.SIGTERM - 1) & 1:
            return
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the command never installed its signal handlers"
        time.sleep(0.0005)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux's /proc")
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_during_start_up_is_one_line(jets: Path, tmp_path: Path, signum: int) -> None:
    """The signal arrives the moment the handlers are in place, while the command modules
    (numpy, pyarrow, the codec) are still being imported: one line too, never a
    KeyboardInterrupt traceback. (Before that moment, the interpreter's own start and ~40 ms
    of light imports, Python's default handling applies.)"""
    argv = ["compress", str(jets), "-o", "jets.jz", "--quiet", "--threads", "1"]
    process = _start(argv, tmp_path)
    _wait_for_handlers(process)
    process.send_signal(signum)
    _assert_one_line_exit(process, signum, tmp_path)
    assert not (tmp_path / "jets.jz").exists()


def test_rust_coders_run_no_python_code_once_imported(tmp_path: Path) -> None:
    """pcodec and constriction (pyo3) look numpy's C API up on their first array argument by
    running Python code, where a Ctrl-C became a Rust panic with its backtrace on stderr (seen
    in CI). jetzip makes that first call on import, with the signals held: afterwards, a call
    from a fresh process runs no Python code at all, so a signal can only land in jetzip's."""
    script = """
import sys
import numpy as np
import jetzip.codec.entropy, jetzip.entropy.coder
from pcodec import ChunkConfig, standalone
import constriction
codes, out, probabilities, config = np.arange(9), np.zeros(9, int), np.full(4, 0.25), ChunkConfig()
ran = []
sys.settrace(lambda frame, event, arg: ran.append(frame.f_code.co_filename))
standalone.simple_decompress_into(standalone.simple_compress(codes, config), out)
constriction.stream.model.Categorical(probabilities, perfect=False)
sys.settrace(None)
print(sorted(set(ran)))
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, check=True
    )
    assert result.stdout.strip() == "[]", result.stdout
