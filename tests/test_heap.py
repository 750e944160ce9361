"""The allocator tuning of the command-line tool (netbound.heap)."""

from __future__ import annotations

import platform
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from netbound import heap
from netbound.cli import main

SEED = Path(__file__).resolve().parent.parent / "sample_nets" / "seed.json"
glibc = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"


@pytest.mark.skipif(not glibc, reason="mallopt's M_TOP_PAD is glibc's")
def test_the_pad_is_set_on_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MALLOC_TOP_PAD_", raising=False)
    assert heap.keep_freed_memory() is True


def test_the_users_own_pad_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_TOP_PAD_", "0")
    assert heap.keep_freed_memory() is False


def test_off_linux_nothing_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(heap.sys, "platform", "darwin")
    assert heap.keep_freed_memory() is False


def test_the_command_line_tool_sets_it(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    monkeypatch.setattr(heap, "keep_freed_memory", lambda pad=heap.TOP_PAD: calls.append(pad))
    result = CliRunner().invoke(main, ["eval", str(SEED), "0", "0"], prog_name="netbound")
    assert result.exit_code == 0, result.output
    assert calls == [heap.TOP_PAD]
