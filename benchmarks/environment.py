"""Where, when and with what a benchmark ran, recorded beside every result it writes."""

from __future__ import annotations

import os
import platform
import sys
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

DEFAULT_PACKAGES = ("jetzip", "numpy", "pcodec", "pyarrow", "torch", "zstandard")


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo (Linux), else the platform's description."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def describe_environment(packages: tuple[str, ...] = DEFAULT_PACKAGES) -> dict[str, Any]:
    """Date, command line, CPU, cores, load average, Python and package versions."""
    found = {}
    for package in packages:
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "absent"
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python", *sys.argv]),
        "cpu_model": cpu_model(),
        "cores": os.cpu_count(),
        "load_average_1min": os.getloadavg()[0],
        "python": platform.python_version(),
        "versions": found,
    }
