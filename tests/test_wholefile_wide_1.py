"""Files with hundreds of branches (half of them), whole: every branch --skip-unsupported keeps,
through .jz to jetzip.open, Parquet and ROOT, every value checked against the source (see
test_wholefile.assert_whole_file_round_trips)."""

from __future__ import annotations

from pathlib import Path

import pytest

from test_wholefile import WIDE_1, assert_whole_file_round_trips


@pytest.mark.slow
@pytest.mark.parametrize("name", WIDE_1)
def test_wide_file_round_trips_whole(name: str, tmp_path: Path) -> None:
    assert_whole_file_round_trips(name, tmp_path)
