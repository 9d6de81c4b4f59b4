"""The C extensions built again by setup.py with only their baseline loops (JETZIP_ONE_VERSION:
SSE2 on x86-64), to compare with the installed ones, which pick AVX2/AVX-512 where they exist."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

SETUP = Path(__file__).resolve().parents[1] / "setup.py"


def baseline_build(
    package: str, name: str, tmp: Path, flags: str = "-DJETZIP_ONE_VERSION"
) -> ModuleType:
    """`jetzip.<package>.<name>` compiled baseline-only (or with other CFLAGS `flags`) into `tmp`
    and loaded beside the installed module (skips where the source tree or a C compiler is
    missing)."""
    if not SETUP.exists() or shutil.which("cc") is None:
        pytest.skip("needs the source tree's setup.py and a C compiler")
    build = [sys.executable, str(SETUP), "build_ext", "--build-lib", str(tmp / "lib")]
    build += ["--build-temp", str(tmp / "temp")]
    env = {**os.environ, "CFLAGS": flags}
    subprocess.run(build, cwd=SETUP.parent, env=env, capture_output=True, check=True)
    (library,) = (tmp / "lib" / "jetzip" / package).glob(f"{name}*")
    spec = importlib.util.spec_from_file_location(name, library)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
