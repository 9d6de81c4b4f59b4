"""Entry point of the `jetzip` command."""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import FrameType
from typing import NoReturn

from jetzip.cli.registry import COMMANDS
from jetzip.errors import Interrupted, JetzipError
from jetzip.fileutil import STOP_SIGNALS
from jetzip.memory import keep_freed_memory

#: Modules that define commands, with the commands each registers when imported (a test checks
#: these names against the registry). A run of one command imports its module only: the
#: generate, train or batch modules and their option defaults are no cost of `jetzip compress`.
COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    "jetzip.cli.data_commands": ("info", "convert"),
    "jetzip.cli.codec_commands": ("compress", "decompress"),
    "jetzip.cli.generate_command": ("generate",),
    "jetzip.cli.train_commands": ("train", "lr-find"),
    "jetzip.cli.evaluate_command": ("evaluate",),
    "jetzip.cli.export_command": ("export",),
    "jetzip.cli.model_commands": ("import-model", "score"),
}


class OneLineErrorParser(argparse.ArgumentParser):
    """Usage mistakes end in one line (plus where to look), not in the whole usage text."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _modules_for(argv: Sequence[str] | None) -> list[str]:
    """The command modules a run of `argv` needs: those of the command its first word names,
    none for `--version`, else (None, `--help`, an unknown command) every one."""
    word = argv[0] if argv else None
    if word == "--version":
        return []
    named = [module for module, names in COMMAND_MODULES.items() if word in names]
    return named or list(COMMAND_MODULES)


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser with every command, or with the command that `argv` names (and any its
    module's imports register) when it names one."""
    from jetzip import __version__

    for module in _modules_for(argv):
        importlib.import_module(module)
    parser = OneLineErrorParser(
        prog="jetzip",
        description="Compress particle-physics tables with learned models and error bounds.",
    )
    parser.add_argument("--version", action="version", version=f"jetzip {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for cmd in COMMANDS.values():
        p = sub.add_parser(
            cmd.name,
            help=cmd.help,
            description=cmd.description or cmd.help,
            formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        )
        for a in cmd.arguments:
            p.add_argument(*a.flags, **a.options)
        p.set_defaults(func=cmd.func)
    return parser


def _raise_interrupted(signum: int, _frame: FrameType | None) -> None:
    """SIGINT and SIGTERM become `Interrupted`, so that outputs in progress are removed as
    after Ctrl-C; later signals are ignored, so that the clean-up runs to its end."""
    _ignore_stop_signals()
    raise Interrupted(signum)


def _ignore_stop_signals() -> None:
    """From here on the run ends by itself: a late signal must not cut its last words."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)


@contextmanager
def _stop_signals_interrupt(restore: bool) -> Iterator[None]:
    """Inside the block SIGINT and SIGTERM raise `Interrupted`. With `restore` the previous
    handlers come back afterwards (main called as a function); without it the signals stay
    ignored, so that the process exits quietly whenever one comes after the run."""
    if threading.current_thread() is not threading.main_thread():  # handlers are main-only
        yield
        return
    previous = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    for signum, handler in previous.items():
        if handler is not signal.SIG_IGN:  # a signal the caller ignores (nohup, `&`) stays so
            signal.signal(signum, _raise_interrupted)
    try:
        yield
    finally:
        _ignore_stop_signals()
        if restore:
            for signum, handler in previous.items():
                signal.signal(signum, signal.SIG_DFL if handler is None else handler)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; user errors become one line on stderr and exit status 1, SIGINT and SIGTERM
    (from the first moment the commands are imported) one line and 128 + the signal number,
    with any output in progress removed."""
    with _stop_signals_interrupt(restore=argv is not None):
        command = "jetzip"
        try:
            words = sys.argv[1:] if argv is None else argv
            args = build_parser(words).parse_args(words)
            command = f"jetzip {args.command}"
            keep_freed_memory()
            return int(args.func(args) or 0)
        except (JetzipError, OSError) as exc:  # OSError: unreadable input, full disk, ...
            _ignore_stop_signals()
            from jetzip.validate import terminal_safe  # numpy: not before signals are handled

            print(f"{command}: error: {terminal_safe(str(exc))}", file=sys.stderr)
            return 1
        except KeyboardInterrupt as exc:
            _ignore_stop_signals()
            print(f"{command}: interrupted", file=sys.stderr)
            return 128 + getattr(exc, "signum", signal.SIGINT)


if __name__ == "__main__":
    sys.exit(main())
