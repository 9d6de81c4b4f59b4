"""Atomic outputs: complete files appear, interrupted ones leave nothing behind."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import pytest

from jetzip import fileutil
from jetzip.fileutil import atomic_output


def test_file_appears_only_when_complete(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "out.bin"
    with atomic_output(target) as tmp:
        tmp.write_bytes(b"abc")
        assert not target.exists()
    assert target.read_bytes() == b"abc"
    assert list(target.parent.iterdir()) == [target]


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_interrupted_write_leaves_old_file_and_no_temporary(
    tmp_path: Path, error: type[BaseException]
) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(error), atomic_output(target) as tmp:
        tmp.write_bytes(b"half")
        raise error()
    assert target.read_bytes() == b"old"
    assert list(tmp_path.iterdir()) == [target]


def test_directory_is_replaced_as_a_whole(tmp_path: Path) -> None:
    target = tmp_path / "model"
    target.mkdir()
    (target / "stale.txt").write_text("stale")
    with atomic_output(target, directory=True) as tmp:
        (tmp / "weights.pt").write_bytes(b"w")
    assert sorted(p.name for p in target.iterdir()) == ["weights.pt"]
    with pytest.raises(KeyboardInterrupt), atomic_output(target, directory=True) as tmp:
        (tmp / "partial").write_text("x")
        raise KeyboardInterrupt
    assert sorted(p.name for p in target.iterdir()) == ["weights.pt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_file_gets_ordinary_permissions(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    with atomic_output(target) as tmp:
        tmp.write_bytes(b"x")
    plain = tmp_path / "plain.bin"
    plain.write_bytes(b"x")
    assert target.stat().st_mode & 0o777 == plain.stat().st_mode & 0o777


class _Stop(Exception):
    pass


def _raise_stop(_signum: int, _frame: object) -> None:
    raise _Stop


def test_a_signal_that_another_thread_receives_is_held_while_the_temporary_is_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The kernel may hand SIGINT to any thread (numpy's BLAS threads, pyarrow's); Python then
    runs the handler in the main thread whatever its signal mask. While the temporary file is
    being made, the handler must wait: raised there, the file would be left behind unnamed."""
    previous = signal.signal(signal.SIGINT, _raise_stop)
    other = threading.Event()
    receiver = threading.Thread(target=other.wait)
    receiver.start()
    make = fileutil._make_temporary

    def make_then_signal(*args: object) -> Path:
        tmp = make(*args)
        signal.pthread_kill(receiver.ident, signal.SIGINT)
        time.sleep(0.05)  # many instructions in which the main thread could run the handler
        return tmp

    monkeypatch.setattr(fileutil, "_make_temporary", make_then_signal)
    body_ran = False
    try:
        with pytest.raises(_Stop), atomic_output(tmp_path / "out.bin"):
            body_ran = True
    finally:
        other.set()
        receiver.join()
        signal.signal(signal.SIGINT, previous)
    assert not body_ran
    assert list(tmp_path.iterdir()) == []
