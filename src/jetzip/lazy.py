"""Lazy imports, so that a command loads only what it uses (`jetzip --help` no torch or
matplotlib, compressing a Parquet file no pandas, uproot or awkward).

`lazy_exports`: a package lists which submodule defines each public name; the submodule is
imported the first time the name is used (PEP 562 module `__getattr__`).
`lazy_module`: a module that a few functions of another module need, imported the first time
one of its attributes is read (as scientific Python's `lazy_loader.load`).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any


def lazy_exports(
    package: str, exports: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Return the `__getattr__` and `__dir__` for `package`; `exports` maps name -> module."""

    def __getattr__(name: str) -> Any:
        try:
            module = exports[name]
        except KeyError:
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        return getattr(importlib.import_module(module), name)

    def __dir__() -> list[str]:
        return sorted(exports)

    return __getattr__, __dir__


class _LazyModule(ModuleType):
    """Stands for the module of the same name until an attribute is read, then imports it
    (an ordinary import: thread-safe, and once only, through `sys.modules`)."""

    def __getattr__(self, attribute: str) -> Any:
        return getattr(importlib.import_module(self.__name__), attribute)


def lazy_module(name: str) -> ModuleType:
    """`name` (e.g. "pandas"), imported when first used: `pd = lazy_module("pandas")` in place
    of `import pandas as pd` where only some functions of a module need pandas."""
    return _LazyModule(name)
