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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


#: Signals that end a run; held back while a temporary path is created or removed.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _hold_signals() -> set[signal.Signals] | None:
    """Hold the stop signals back in this thread; returns the mask to restore (None where
    there are no signal masks)."""
    if not hasattr(signal, "pthread_sigmask"):
        return None
    return signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)


def _restore_signals(mask: set[signal.Signals] | None) -> None:
    """Undo `_hold_signals`: a signal that arrived meanwhile is delivered now."""
    if mask is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


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
    mask = _hold_signals()
    try:
        tmp = _make_temporary(target, parent, directory)
        try:
            _restore_signals(mask)  # a signal held meanwhile is raised here, inside the try
            yield tmp
            if directory and target.exists():
                shutil.rmtree(target)
            tmp.replace(target)
        except BaseException:
            _hold_signals()
            _remove(tmp)
            raise
    finally:
        _restore_signals(mask)


def default_cache_dir() -> Path:
    """`$JETZIP_CACHE` if set, else ~/.cache/jetzip (generated jets, exported ONNX graphs)."""
    configured = os.environ.get("JETZIP_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "jetzip"
