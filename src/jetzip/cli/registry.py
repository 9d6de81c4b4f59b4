"""Declaring a CLI command is one decorated function.

    @command("info", "Describe a table or a .jz file.",
             arg("path", help="file to describe"),
             arg("--tree", help="ROOT tree to read"))
    def info(args: argparse.Namespace) -> int:
        ...

The function receives the parsed arguments and returns the exit status (0 on success).
Errors a user can cause are raised as `jetzip.errors.JetzipError` and turned into one line
on stderr by `jetzip.cli.main`.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jetzip.errors import OptionError

CommandFunc = Callable[[argparse.Namespace], int]


@dataclass(frozen=True)
class Arg:
    """One argparse argument: positional names or flags, plus `add_argument` keywords."""

    flags: tuple[str, ...]
    options: dict[str, Any]


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    arguments: tuple[Arg, ...]
    func: CommandFunc
    description: str | None = None


COMMANDS: dict[str, Command] = {}


def arg(*flags: str, **options: Any) -> Arg:
    """Describe an argument exactly as `argparse.ArgumentParser.add_argument` would take it."""
    return Arg(flags, options)


def command(name: str, help: str, *arguments: Arg) -> Callable[[CommandFunc], CommandFunc]:
    """Register `func` as the sub-command `name`; its docstring becomes the long description."""

    def register(func: CommandFunc) -> CommandFunc:
        if name in COMMANDS:
            raise RuntimeError(f"command {name!r} registered twice")
        COMMANDS[name] = Command(name, help, tuple(arguments), func, func.__doc__)
        return func

    return register


#: gzip's and zstd's manners: a command overwrites an existing output only when asked to.
FORCE_ARG = arg("-f", "--force", action="store_true", help="overwrite an existing output")
#: Which tree of a ROOT file the commands that read one table take.
TREE_ARG = arg("--tree", help="ROOT tree or RNTuple; by default the one holding jets")


def refuse_existing(path: str | os.PathLike[str], force: bool) -> None:
    """An existing output is an OptionError unless `force`; called before any work, so a
    refusal writes nothing."""
    if not force and Path(path).exists():
        raise OptionError(f"{path} already exists; use --force to overwrite it")
