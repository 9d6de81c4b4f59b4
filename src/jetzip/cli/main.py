"""Entry point of the `jetzip` command."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn

from jetzip import __version__
from jetzip.cli.registry import COMMANDS
from jetzip.errors import JetzipError
from jetzip.memory import keep_freed_memory

#: Modules that define commands; importing one registers its commands.
COMMAND_MODULES: tuple[str, ...] = (
    "jetzip.cli.data_commands",
    "jetzip.cli.codec_commands",
    "jetzip.cli.generate_command",
    "jetzip.cli.train_commands",
    "jetzip.cli.evaluate_command",
    "jetzip.cli.export_command",
    "jetzip.cli.model_commands",
)


class OneLineErrorParser(argparse.ArgumentParser):
    """Usage mistakes end in one line (plus where to look), not in the whole usage text."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    for module in COMMAND_MODULES:
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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; user errors become one line on stderr and exit status 1."""
    parser = build_parser()
    args = parser.parse_args(argv)
    keep_freed_memory()
    try:
        return int(args.func(args) or 0)
    except JetzipError as exc:
        print(f"jetzip {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # unreadable input, full disk, permission denied
        print(f"jetzip {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"jetzip {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
