"""Atomic file and directory creation, and where jetzip caches what it can rebuild.

Every writer in jetzip goes through `atomic_output`, so that a crash or Ctrl-C never leaves
a file (or model directory) that looks complete: the data go to a hidden temporary sibling
which is renamed onto the target only after it has been fully written.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


#: Signals that end a run; held back while a temporary path is created or removed.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _HeldSignals:
    """SIGINT and SIGTERM held back in the main thread: their Python handlers are swapped for
    one that only notes the signal, and `release` puts them back and delivers what arrived.

    A signal mask would not do: the kernel hands a process-wide signal to any thread that does
    not block it (numpy's BLAS threads, pyarrow's), and Python then runs the handler in the
    main thread at its next instruction, masked or not. Python handlers run only in the main
    thread, so elsewhere there is nothing to hold."""

    def __init__(self) -> None:
        self.arrived: list[int] = []
        self.previous: dict[int, object] = {}
        if threading.current_thread() is threading.main_thread():
            for signum in STOP_SIGNALS:
                self.previous[signum] = signal.signal(signum, self._note)

    def _note(self, signum: int, _frame: object) -> None:
        self.arrived.append(signum)

    def release(self) -> None:
        """The previous handlers back; a signal that arrived meanwhile is raised again now
        (its handler runs at the caller's next instruction), once."""
        for signum, handler in self.previous.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)
        self.previous = {}
        arrived, self.arrived = self.arrived, []
        if arrived:
            signal.raise_signal(arrived[0])


@contextmanager
def signals_held() -> Iterator[None]:
    """SIGINT and SIGTERM held back inside the block and delivered once it ends (see
    `_HeldSignals`): for a call into foreign code that must not be cut by `Interrupted`."""
    held = _HeldSignals()
    try:
        yield
    finally:
        held.release()


def bind_numpy_api(first_call: Callable[[], object]) -> None:
    """Make a Rust (pyo3) extension's first call with a numpy array now, with the signals held:
    pyo3 looks numpy's C API up on the first array argument by running Python code, where a
    stop signal would become a Rust panic on stderr instead of `Interrupted`. Its later calls
    run no Python code (tests/test_signals.py checks it with a trace hook)."""
    with signals_held():
        first_call()


def _make_temporary(target: Path, parent: Path, directory: bool) -> Path:
    prefix = f".{target.name}."
    if directory:
        return Path(tempfile.mkdtemp(prefix=prefix, suffix=".tmp", dir=parent))
    fd, name = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=parent)
    os.close(fd)
    tmp = Path(name)
    # mkstemp creates 0600; give the file the permissions a plain open() would have.
    tmp.chmod(0o666 & ~_current_umask())
    return tmp


def _remove(tmp: Path) -> None:
    if tmp.is_dir():
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        tmp.unlink(missing_ok=True)


@contextmanager
def atomic_output(target: str | os.PathLike[str], *, directory: bool = False) -> Iterator[Path]:
    """Yield a temporary path next to `target`; on success rename it onto `target`.

    With ``directory=True`` the temporary path is an (empty) directory and an existing target
    directory is replaced as a whole. On any exception, including KeyboardInterrupt (and
    SIGTERM, which the `jetzip` command turns into one), the temporary path is removed and
    `target` is left untouched. SIGINT and SIGTERM are held back while the temporary path is
    created and while it is removed, so no interrupt can fall between creating it and knowing
    its name, or cut its removal short.
    """
    target = Path(target)
    parent = target.parent if str(target.parent) else Path()
    parent.mkdir(parents=True, exist_ok=True)
    held = _HeldSignals()
    try:
        tmp = _make_temporary(target, parent, directory)
        try:
            held.release()  # a signal held meanwhile is raised here, inside the try
            yield tmp
            if directory and target.exists():
                shutil.rmtree(target)
            tmp.replace(target)
        except BaseException:
            held = _HeldSignals()
            _remove(tmp)
            raise
    finally:
        held.release()


def default_cache_dir() -> Path:
    """`$JETZIP_CACHE` if set, else ~/.cache/jetzip (generated jets, exported ONNX graphs)."""
    configured = os.environ.get("JETZIP_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "jetzip"
