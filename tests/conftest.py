"""Shared paths: every test finds the repository's files wherever pytest is started from."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_nets"
DATA = ROOT / "tests" / "data"


@pytest.fixture(autouse=True, scope="session")
def _run_from_the_repository() -> Iterator[None]:
    """Run the tests in the repository's root, so that paths such as ``sample_nets/seed.json``
    mean the same when pytest starts in ``tests/`` as in the root.  Session-scoped: Hypothesis
    refuses function-scoped fixtures around its examples."""
    before = Path.cwd()
    os.chdir(ROOT)
    try:
        yield
    finally:
        os.chdir(before)


@pytest.fixture
def samples() -> Path:
    """The absolute path of ``sample_nets``."""
    return SAMPLES
