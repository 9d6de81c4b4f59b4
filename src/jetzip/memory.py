"""Keep freed memory in the process, so that every chunk after the first reuses its pages.

A chunk allocates and frees arrays of several MB (codes, grid values, decoded columns). glibc
hands blocks that large back to the kernel at once, so the next chunk's arrays are new pages
that the kernel must map and zero again on first touch: on the benchmark machine (a virtual
machine) 0.56 ms per MiB against 0.04 for memory the process had freed, in the run recorded in
docs/benchmarks.md (benchmarks/throughput.py measures both; the rate varies). Serving blocks up
to glibc's limit (32 MiB) from the heap and never trimming it makes bounded compression ~10 %
faster in steady state (benchmarks/throughput.py, "again" columns). Peak memory grows a little
(388 against 378 MiB compressing 10 M jets, benchmarks/streaming_memory.py); what is freed is
returned at exit instead.
"""

from __future__ import annotations

import ctypes
import sys

#: mallopt parameters (glibc's malloc.h) and the values jetzip sets.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD_BYTES = 32 << 20  # glibc's largest accepted value on 64-bit systems
_TRIM_THRESHOLD_BYTES = (1 << 31) - 1  # a C int: in effect, never trim


def keep_freed_memory() -> bool:
    """Ask glibc to keep freed blocks for reuse; True if it agreed (False off glibc/Linux)."""
    if not sys.platform.startswith("linux"):
        return False
    try:  # the process's own symbols, libc's among them (find_library would run ldconfig)
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc (e.g. musl has no mallopt)
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(
        mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_BYTES)
        and mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD_BYTES)
    )
