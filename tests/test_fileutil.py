"""Atomic outputs: complete files appear, interrupted ones leave nothing behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from jetzip.fileutil import atomic_output


def test_file_appears_only_when_complete(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "out.bin"
    with atomic_output(target) as tmp:
        tmp.write_bytes(b"abc")
        assert not target.exists()
    assert target.read_bytes() == b"abc"
    assert list(target.parent.iterdir()) == [target]


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_interrupted_write_leaves_old_file_and_no_temporary(
    tmp_path: Path, error: type[BaseException]
) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(error), atomic_output(target) as tmp:
        tmp.write_bytes(b"half")
        raise error()
    assert target.read_bytes() == b"old"
    assert list(tmp_path.iterdir()) == [target]


def test_directory_is_replaced_as_a_whole(tmp_path: Path) -> None:
    target = tmp_path / "model"
    target.mkdir()
    (target / "stale.txt").write_text("stale")
    with atomic_output(target, directory=True) as tmp:
        (tmp / "weights.pt").write_bytes(b"w")
    assert sorted(p.name for p in target.iterdir()) == ["weights.pt"]
    with pytest.raises(KeyboardInterrupt), atomic_output(target, directory=True) as tmp:
        (tmp / "partial").write_text("x")
        raise KeyboardInterrupt
    assert sorted(p.name for p in target.iterdir()) == ["weights.pt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_file_gets_ordinary_permissions(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    with atomic_output(target) as tmp:
        tmp.write_bytes(b"x")
    plain = tmp_path / "plain.bin"
    plain.write_bytes(b"x")
    assert target.stat().st_mode & 0o777 == plain.stat().st_mode & 0o777
