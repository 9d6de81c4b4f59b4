"""Atomic file and directory creation, and where jetzip caches what it can rebuild.

Every writer in jetzip goes through `atomic_output`, so that a crash or Ctrl-C never leaves
a file (or model directory) that looks complete: the data go to a hidden temporary sibling
which is renamed onto the target only after it has been fully written.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_output(target: str | os.PathLike[str], *, directory: bool = False) -> Iterator[Path]:
    """Yield a temporary path next to `target`; on success rename it onto `target`.

    With ``directory=True`` the temporary path is an (empty) directory and an existing target
    directory is replaced as a whole. On any exception, including KeyboardInterrupt, the
    temporary path is removed and `target` is left untouched.
    """
    target = Path(target)
    parent = target.parent if str(target.parent) else Path()
    parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{target.name}."
    if directory:
        tmp = Path(tempfile.mkdtemp(prefix=prefix, suffix=".tmp", dir=parent))
    else:
        fd, name = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=parent)
        os.close(fd)
        tmp = Path(name)
        # mkstemp creates 0600; give the file the permissions a plain open() would have.
        tmp.chmod(0o666 & ~_current_umask())
    try:
        yield tmp
        if directory and target.exists():
            shutil.rmtree(target)
        tmp.replace(target)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        raise


def default_cache_dir() -> Path:
    """`$JETZIP_CACHE` if set, else ~/.cache/jetzip (generated jets, exported ONNX graphs)."""
    configured = os.environ.get("JETZIP_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "jetzip"
