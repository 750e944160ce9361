"""The allocator tuning of the command-line tool (netbound.heap)."""

from __future__ import annotations

import os
import platform
import subprocess
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


#: Blocks of temporaries like a 256-wide net's (4 and 8 MiB arrays), allocated and freed 50
#: times after a first round, in a fresh interpreter; prints the page faults of those 50.
_BLOCKS = """
import os, resource, sys
import numpy as np
from netbound import heap
if sys.argv[1] == "tuned":
    heap.keep_freed_memory()
def blocks():
    for _ in range(50):
        a = np.ones((1024, 512)); b = a * 2.0; c = np.empty((4, 1024, 256)); c[...] = b[0, 0]
        del a, b, c
blocks()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
blocks()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.skipif(not glibc, reason="mallopt is glibc's")
def test_a_blocks_temporaries_reuse_their_pages() -> None:
    # 50 rounds of 16 MiB of temporaries fault in 4096 pages each where they are mapped
    # afresh; kept in the heap, they fault in none after the first round.
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    faults = {}
    for mode in ("default", "tuned"):
        out = subprocess.run(
            [sys.executable, "-c", _BLOCKS, mode], capture_output=True, text=True, env=env
        )
        assert out.returncode == 0, out.stderr
        faults[mode] = int(out.stdout)
    assert faults["default"] > 50 * 1000
    assert faults["tuned"] < 1000


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


@pytest.mark.skipif(not glibc, reason="malloc_trim is glibc's")
def test_freed_memory_is_given_back_before_a_fork() -> None:
    # Freed blocks kept by the pad (with the tuning) are released by malloc_trim.
    code = """
import numpy as np
from netbound import heap
heap.keep_freed_memory()
def rss():
    return int(next(l for l in open("/proc/self/status") if l.startswith("VmRSS")).split()[1])
a = [np.ones((1024, 512)) for _ in range(16)]
del a
kept = rss()
assert heap.release_freed_memory() is True
print(kept - rss())
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) > 32 * 1024  # KiB: most of the 64 MiB freed
