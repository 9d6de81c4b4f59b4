"""jetzip: compress particle-physics tables with learned models and hard error bounds."""

from importlib.metadata import PackageNotFoundError, version

from jetzip.errors import JetzipError
from jetzip.table import Table

try:
    __version__ = version("jetzip")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["JetzipError", "Table", "__version__"]
