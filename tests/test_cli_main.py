"""The `jetzip` entry point: usage mistakes end in one line and exit status 2."""

from __future__ import annotations

import pytest

from jetzip.cli.main import main


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["nosuch"], "invalid choice: 'nosuch'"),
        (["compress"], "the following arguments are required"),
        (["train", "data.parquet", "-o", "model", "--preset", "NOPE"], "invalid choice: 'NOPE'"),
    ],
)
def test_usage_errors_are_one_line(argv: list[str], message: str, capsys) -> None:
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and message in err and "--help" in err
