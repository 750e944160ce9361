"""``netbound trace`` and ``plot`` on the command line: completeness, warnings, option ranges."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from netbound.cli import main

ROOT = Path(__file__).resolve().parent.parent
SEED = str(ROOT / "sample_nets" / "seed.json")
FAR = ["--x1-range", "-60", "20", "--x2-range", "0", "8"]


def test_an_incomplete_trace_warns_in_csv_and_lists_cells_in_json() -> None:
    csv_run = CliRunner().invoke(main, ["trace", SEED, *FAR, "--format", "csv"])
    assert csv_run.exit_code == 0, csv_run.output
    doc_run = CliRunner().invoke(main, ["trace", SEED, *FAR, "--format", "json"])
    doc = json.loads(doc_run.stdout)
    assert doc["complete"] is False
    cells = len(doc["unresolved"])
    assert cells > 0
    assert all(len(c) == 4 for c in doc["unresolved"])
    assert doc["box"] == [-60.0, 20.0, 0.0, 8.0]
    assert csv_run.stderr == (
        f"netbound: warning: the trace is not complete ({cells} unresolved cell(s); "
        "--format json lists them): a boundary component may be missing there\n"
    )


def test_a_complete_trace_is_quiet() -> None:
    run = CliRunner().invoke(
        main, ["trace", SEED, "--x1-range", "-5", "5", "--x2-range", "-5", "5", "--format", "csv"]
    )
    assert run.exit_code == 0
    assert run.stderr == ""


def test_a_step_larger_than_the_box_is_refused() -> None:
    run = CliRunner().invoke(
        main, ["trace", SEED, "--x1-range", "-1", "1", "--x2-range", "-1", "1", "--step", "1e20"]
    )
    assert run.exit_code == 2
    assert run.stderr.endswith(
        "Error: --step 1e+20 is larger than the box (its longer side is 2): give 0 < S <= 2\n"
    )


def test_help_states_what_the_default_box_holds() -> None:
    text = " ".join(CliRunner().invoke(main, ["trace", "--help"]).output.split())
    assert "the bounding box (widened and padded by 10 %) of every root that the certified" in text
    assert "0 < S <= the box's longer side" in text


def test_progress_appears_only_after_a_second_on_a_terminal() -> None:
    from netbound.cli import _TraceProgress

    with _TraceProgress() as progress:
        progress.enabled = True
        progress("tracing curves", 0.1)
        assert progress.bar is None  # not yet a second
        progress.start -= 2.0
        progress("tracing curves", 0.5)
        assert progress.bar is not None
        assert progress.bar.tasks[0].completed == 0.5
    with _TraceProgress() as quiet:
        quiet.enabled = False
        quiet.start -= 2.0
        quiet("tracing curves", 0.5)
        assert quiet.bar is None
