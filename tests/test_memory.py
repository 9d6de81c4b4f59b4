"""jetzip.memory: the allocator setting the command applies (glibc on Linux only)."""

from __future__ import annotations

import platform
import sys

import pytest

from jetzip.memory import keep_freed_memory


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
    reason="mallopt is glibc's",
)
def test_glibc_accepts_the_settings():
    assert keep_freed_memory() is True


def test_other_platforms_are_left_alone(monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")
    assert keep_freed_memory() is False
