"""Errors a user can cause.

Anything raised as a JetzipError is reported by the CLI as one line on stderr with a
non-zero exit status; anything else is a bug and keeps its traceback.
"""


class JetzipError(Exception):
    """Base class for problems caused by the user's input, not by jetzip itself."""


class InputError(JetzipError):
    """The input data cannot be used: missing file, unknown format, wrong columns, bad values."""


class CorruptFileError(JetzipError):
    """A jetzip file is damaged: truncated, wrong magic, bad checksum, unknown version."""


class OptionError(JetzipError):
    """An option has a value that cannot be honoured (bad tolerance, unknown preset, ...)."""


class Interrupted(KeyboardInterrupt):
    """The run was stopped by a signal (SIGINT or SIGTERM); `signum` says which. A
    KeyboardInterrupt, so that everything that cleans up after Ctrl-C cleans up after it too."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum
