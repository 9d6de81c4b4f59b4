"""jetzip: compress particle-physics tables with learned models and hard error bounds."""

from jetzip.errors import JetzipError
from jetzip.lazy import lazy_exports

#: The one place the version is written (pyproject.toml reads it from here at build time):
#: asking the installed metadata (importlib.metadata) would cost every command ~40 ms.
__version__ = "0.1.0"

__all__ = ["JetzipError", "JzFile", "Table", "__version__", "compress", "decompress", "open"]

# Table (and numpy, pandas) is imported on first use, so that the `jetzip` command starts in a
# few milliseconds and handles Ctrl-C from then on (jetzip.cli.main).
__getattr__, _dir = lazy_exports(
    __name__,
    {
        "Table": "jetzip.table",
        "JzFile": "jetzip.api",
        "open": "jetzip.api",
        "compress": "jetzip.api",
        "decompress": "jetzip.api",
    },
)


def __dir__() -> list[str]:
    return sorted({*globals(), *_dir()})
