"""The command line at its edges: pipes, full or closed output, interrupts, absurd sizes,
odd files, narrow or ASCII terminals, and check reading back what solve writes."""

from __future__ import annotations

import errno
import io
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner, Result

import netbound
import netbound.slices
from netbound import sweeps
from netbound.checking import compare, read_expected
from netbound.cli import main
from netbound.errors import DataError, OptionError
from netbound.output import Renderer, slice_record, slices_csv
from netbound.solver import Root, SliceResult

ROOT = Path(__file__).resolve().parent.parent
SEED = str(ROOT / "sample_nets" / "seed.json")
THREE = str(ROOT / "sample_nets" / "three_class.json")
ENV: dict[str, str | None] = {"COLUMNS": "200", "FORCE_COLOR": None, "NO_COLOR": "1"}


def run(*args: str, input: str | None = None, **env: str) -> Result:
    runner = CliRunner(env={**ENV, **env})
    return runner.invoke(main, list(args), input=input, prog_name="netbound")


def ok(*args: str, input: str | None = None) -> Result:
    result = run(*args, input=input)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result


def everywhere_net(tmp_path: Path) -> str:
    """Two equal outputs: the margin is zero everywhere."""
    hidden = {"weights": [[1.0, 0.5], [-1.0, 2.0]], "biases": [0.0, 0.1], "activation": "tanh"}
    same = {"weights": [[1.0, 0.5], [1.0, 0.5]], "biases": [0.0, 0.0], "activation": "identity"}
    path = tmp_path / "flat.json"
    path.write_text(json.dumps({"layers": [hidden, same]}), encoding="utf-8")
    return str(path)


# -- exit codes -------------------------------------------------------------------------------


def _raising(exc: BaseException) -> Any:
    def solve_boundary(*args: Any, **kwargs: Any) -> Any:
        raise exc

    return solve_boundary


@pytest.mark.parametrize(
    ("exc", "status", "stderr"),
    [
        pytest.param(BrokenPipeError(errno.EPIPE, "Broken pipe"), 0, "", id="closed-pipe"),
        pytest.param(KeyboardInterrupt(), 130, "\nnetbound: interrupted\n", id="interrupt"),
        pytest.param(
            OSError(errno.ENOSPC, "No space left on device"),
            1,
            "Error: cannot write the output (No space left on device)\n",
            id="disk-full",
        ),
    ],
)
def test_exit_codes_of_the_edges(
    monkeypatch: pytest.MonkeyPatch, exc: BaseException, status: int, stderr: str
) -> None:
    monkeypatch.setattr(netbound.slices, "solve_boundary", _raising(exc))
    result = run("solve", SEED, "--x2", "0.5", "--format", "csv")
    assert result.exit_code == status
    assert result.stderr == stderr


def _cli(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
    code = "import sys; from netbound.cli import main; sys.argv[0] = 'netbound'; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=False, check=False, **kwargs
    )


def test_closed_stdout_is_one_line_and_exit_1() -> None:
    proc = _cli(
        "solve", SEED, "--x2", "0.5", stderr=subprocess.PIPE, preexec_fn=lambda: os.close(1)
    )
    assert proc.returncode == 1
    assert proc.stderr == b"Error: standard output is closed; redirect it to a file or /dev/null\n"


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_full_disk_is_one_line_and_exit_1() -> None:
    with open("/dev/full", "wb") as full:
        proc = _cli("solve", SEED, "--x2", "0.5", stdout=full, stderr=subprocess.PIPE)
    assert proc.returncode == 1
    assert proc.stderr == b"Error: cannot write the output (No space left on device)\n"


def test_reader_going_away_exits_0_quietly() -> None:
    code = "import sys; from netbound.cli import main; sys.argv[0] = 'netbound'; main()"
    args = [sys.executable, "-c", code, "solve", SEED, "--x2-range", "-3", "3", "100000"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    assert proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()  # like head -n 1
    assert proc.wait(timeout=120) == 0
    assert proc.stderr.read() == b""
    proc.stderr.close()
    assert first.startswith(b"z1 = z2: every x1 on the boundary")


# -- sizes and values ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "stop", "num"),
    [(-1.0, 1.0, 5), (0.0, 1.0, 1), (0.1, 0.7, 65537 + 3), (3.0, 3.0, 4), (2.0, -7.5, 11)],
)
def test_evenly_spaced_is_numpy_linspace(start: float, stop: float, num: int) -> None:
    got = list(sweeps.evenly_spaced(start, stop, num))
    assert got == np.linspace(start, stop, num).tolist()


def test_evenly_spaced_is_lazy_and_takes_any_finite_ends() -> None:
    values = sweeps.evenly_spaced(0.0, 1.0, 10**12)
    step = 1.0 / (10**12 - 1)
    assert list(itertools.islice(values, 3)) == [0.0, step, 2 * step]
    assert list(sweeps.evenly_spaced(-1e308, 1e308, 5)) == [-1e308, -5e307, 0.0, 5e307, 1e308]


def test_range_of_10_to_the_12_starts_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[float] = []

    def solve_boundary(boundary: Any, x2: Any, **kwargs: Any) -> Any:
        seen.extend(itertools.islice(x2, 2))
        return iter(())

    monkeypatch.setattr(netbound.slices, "solve_boundary", solve_boundary)
    ok("solve", SEED, "--x2-range", "0", "1", "1e12", "--format", "csv")
    assert seen == [0.0, 1.0 / (10**12 - 1)]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--x2", "1e308"],
            "Invalid value for '--x2': 1e+308 is too large for this network (its "
            "pre-activations would overflow); give values with magnitude <= 2.5e+149",
        ),
        (
            ["--x2-range", "-1e308", "1e308", "3"],
            "Invalid value for '--x2-range': START -1e+308 is too large for this network",
        ),
        (
            ["--x2", "0.5", "--x1-range", "-1e308", "1e308"],
            "Error: --x1-range -1e+308 is too large for this network",
        ),
    ],
)
def test_values_too_large_for_the_network_are_refused_by_name(
    args: list[str], message: str
) -> None:
    result = run("solve", SEED, *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Warning" not in result.stderr


def test_values_at_the_limit_are_solved_without_warnings() -> None:
    limit = sweeps.input_limit(netbound.load(SEED))
    result = ok("solve", SEED, "--x2", repr(limit), "--x2", repr(-limit), "--format", "json")
    assert "Warning" not in result.stderr
    assert len(json.loads(result.stdout)["results"]) == 2


def test_repeated_at_names_are_refused(tmp_path: Path) -> None:
    layer = {"weights": [[1.0, 0.5, 0.2]], "biases": [0.0], "activation": "sigmoid"}
    path = tmp_path / "three.json"
    path.write_text(json.dumps({"layers": [layer]}), encoding="utf-8")
    result = run("solve", str(path), "--x2", "0", "--at", "x3=1", "--at", "x3=2")
    assert result.exit_code == 2
    assert (
        "Error: Invalid value for '--at': x3 is given twice (x3=1 and x3=2); give each input once\n"
    ) in result.stderr


# -- x2 files ---------------------------------------------------------------------------------


def test_x2_file_is_read_as_csv(tmp_path: Path) -> None:
    path = tmp_path / "x2.csv"
    path.write_text('"name","x2"\n"a","0.5"\nb, -2\n', encoding="utf-8")
    doc = json.loads(ok("solve", SEED, "--x2-file", str(path), "--format", "json").stdout)
    assert [r["x2"] for r in doc["results"]] == [0.5, -2.0]


def test_a_huge_bad_line_is_cut_and_numbered(tmp_path: Path) -> None:
    path = tmp_path / "x2.txt"
    path.write_text("0.5\n# comment\n" + "y" * 1_000_000 + "\n", encoding="utf-8")
    result = run("solve", SEED, "--x2-file", str(path))
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {path}:3: '{'y' * 80}...' (1000000 characters) is not a number; the file "
        "holds one number per line or a CSV with an x2 column\n"
    )


def test_x2_values_are_read_lazily() -> None:
    stream = io.StringIO("0.25\n0.5\nnot a number\n")
    values = sweeps.read_values(stream, "<stdin>", "x2")
    assert [next(values), next(values)] == [0.25, 0.5]
    with pytest.raises(DataError, match=r"^<stdin>:3: 'not a number' is not a number"):
        next(values)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0", "NUM must be a positive integer, got 0"),
        ("1.5", "NUM must be a positive integer, got '1.5'"),
        ("9007199254740993", "NUM must be at most 2**53 = 9007199254740992"),
    ],
)
def test_count_is_a_positive_integer(text: str, message: str) -> None:
    with pytest.raises(OptionError, match=message.replace("*", r"\*")):
        sweeps.count(text)
    assert sweeps.count("1e3") == 1000


# -- output formats ----------------------------------------------------------------------------


def test_all_slices_writes_none_rows_and_check_reads_them(tmp_path: Path) -> None:
    csv_text = ok(
        "solve", SEED, "--x2", "0.5", "--x2", "-2", "--format", "csv", "--all-slices"
    ).stdout
    lines = csv_text.splitlines()
    assert lines[0] == "x2,x1,kind"
    assert lines[-1] == "-2.0,,none"
    path = tmp_path / "all.csv"
    path.write_text(csv_text, encoding="utf-8")
    ok("check", SEED, str(path))
    # A root appearing where the file says none is a difference.
    path.write_text(csv_text.replace("-2.0,,none", "0.0,,none"), encoding="utf-8")
    result = run("check", SEED, str(path))
    assert result.exit_code == 1
    assert result.stdout.startswith("x2=0.0: expected 0 root(s) (none), got 2 (")


def test_everywhere_slices_warn_and_have_a_row(tmp_path: Path) -> None:
    net = everywhere_net(tmp_path)
    result = ok("solve", net, "--x2", "0.5", "--x2", "1", "--format", "csv", "--all-slices")
    assert result.stdout == "x2,x1,kind\n0.5,,everywhere\n1.0,,everywhere\n"
    assert result.stderr == (
        "netbound: warning: the margin is zero on the whole line at x2=0.5 and 1 more "
        "slice(s): every point there is on the boundary\n"
    )
    plain = ok("solve", net, "--x2", "0.5", "--format", "json")
    assert "netbound: warning: the margin is zero on the whole line at x2=0.5" in plain.stderr
    path = tmp_path / "flat.csv"
    path.write_text(result.stdout, encoding="utf-8")
    ok("check", net, str(path))
    result = run("check", SEED, str(path))
    assert result.exit_code == 1
    assert "x2=0.5: expected the margin to be zero on the whole line, but it is not" in (
        result.stdout
    )


def _with_enclosures() -> SliceResult:
    roots = (
        Root(-1.5, "crossing", None, None, (-1.5000001, -1.4999999)),
        Root(2.0, "touching", None, None, None),
    )
    return SliceResult(0.25, roots, (), False, True)


def test_enclosures_in_json_and_csv() -> None:
    record = slice_record(_with_enclosures(), ("x1", "x2"), False)
    assert record["roots"] == [
        {"x1": -1.5, "kind": "crossing", "enclosure": [-1.5000001, -1.4999999]},
        {"x1": 2.0, "kind": "touching"},
    ]
    text = slices_csv([_with_enclosures()], False, enclosures=True)
    assert text == "0.25,-1.5,crossing,-1.5000001,-1.4999999\n0.25,2.0,touching,,\n"
    header = ok("solve", SEED, "--x2", "0.5", "--format", "csv", "--enclosures").stdout
    assert header.splitlines()[0] == "x2,x1,kind,lo,hi"


def test_check_accepts_a_root_inside_the_solved_enclosure(tmp_path: Path) -> None:
    path = tmp_path / "expected.csv"
    path.write_text("x2,x1,kind\n0.25,-1.50000005,crossing\n0.25,2.0,touching\n", "utf-8")
    expected = read_expected(path, netbound.load(SEED))
    assert compare(expected, [_with_enclosures()], 1e-12, "x2") == []
    path.write_text("x2,x1,kind\n0.25,-1.5000002,crossing\n0.25,2.0,touching\n", "utf-8")
    expected = read_expected(path, netbound.load(SEED))
    assert compare(expected, [_with_enclosures()], 1e-12, "x2") == [
        "x2=0.25: root -1.5000002 is now -1.5 (differs by 2e-07 > tol 1e-12)"
    ]


def test_the_same_x2_twice_round_trips_through_check(tmp_path: Path) -> None:
    text = ok("solve", SEED, "--x2", "0.5", "--x2", "0.5", "--format", "csv").stdout
    path = tmp_path / "twice.csv"
    path.write_text(text, encoding="utf-8")
    result = ok("check", SEED, str(path), "--tol", "0")
    assert result.stderr == f"{path}: all 2 slice(s) match (4 roots)\n"


def test_check_takes_the_options_the_csv_was_written_with(tmp_path: Path) -> None:
    args = ["--x2", "0.5", "--x2", "1", "--x1-range", "0", "3"]
    text = ok("solve", SEED, *args, "--format", "csv").stdout
    path = tmp_path / "window.csv"
    path.write_text(text, encoding="utf-8")
    ok("check", SEED, str(path), "--x1-range", "0", "3")
    assert run("check", SEED, str(path)).exit_code == 1
    result = ok("check", SEED, "-", "--x1-range", "0", "3", input=text)
    assert result.stderr == "<stdin>: all 2 slice(s) match (2 roots)\n"


def test_check_messages_have_no_python_tuples(tmp_path: Path) -> None:
    text = ok("solve", THREE, "--x2", "0", "--argmax", "--format", "csv").stdout
    rows = text.splitlines()
    x2, x1, kind, a, b = rows[1].split(",")
    rows[1] = ",".join([x2, x1, kind, b, a])
    path = tmp_path / "swapped.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    result = run("check", THREE, str(path))
    assert result.exit_code == 1
    assert result.stdout.splitlines()[0] == (
        f"x2={float(x2)!r}: root {x1} was crossing from {b} to {a}, now crossing from {a} to {b}"
    )
    assert "(" not in result.stdout.split("root")[1].split("now")[0]


# -- tables and terminals ---------------------------------------------------------------------


def test_a_long_table_streams_in_plain_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("netbound.output.TABLE_BLOCK", 3)
    out = io.StringIO()
    with Renderer("table", out, ["x2", "x1"], {}, None, "title") as r:
        for k in range(3):
            r.add(None, [[repr(k / 7), "none"]])
        assert out.getvalue() == (
            "title\nx2                   x1\n-------------------  ----\n"
            "0.0                  none\n0.14285714285714285  none\n"
            "0.2857142857142857   none\n"
        )
        r.add(None, [["-1.2345678901234567e-300", "1"]])
    assert out.getvalue().splitlines()[-1] == "-1.2345678901234567e-300  1"


def test_a_narrow_terminal_never_breaks_a_number() -> None:
    result = run("solve", SEED, "--x2", "0.5", COLUMNS="20")
    assert result.exit_code == 0
    for r in netbound.solve(netbound.load(SEED), [0.5])[0].roots:
        assert repr(r.x1) in result.stdout.split()


def test_names_the_output_encoding_cannot_hold(tmp_path: Path) -> None:
    hidden = {"weights": [[1.0, 0.5], [-1.0, 2.0]], "biases": [0.0, 0.1], "activation": "tanh"}
    out = {"weights": [[1.0, -1.0], [0.5, 0.5]], "biases": [0.0, 0.0], "activation": "identity"}
    doc = {"inputs": ["größe", "x₂"], "outputs": ["ja", "nein"], "layers": [hidden, out]}
    path = tmp_path / "names.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    runner = CliRunner(env=ENV, charset="ascii")
    table = runner.invoke(main, ["solve", str(path), "--x2", "0.5"])
    assert table.exit_code == 0, table.output
    assert "every gr\\xf6\\xdfe on the boundary" in table.stdout
    csv_out = runner.invoke(main, ["solve", str(path), "--x2", "0.5", "--format", "csv"])
    assert csv_out.exit_code == 1
    assert csv_out.stderr == (
        "Error: cannot write '\\u2082' in the output's encoding (ascii); set "
        "PYTHONIOENCODING=utf-8, or use --format json, which escapes it\n"
    )
    as_json = runner.invoke(main, ["solve", str(path), "--x2", "0.5", "--format", "json"])
    assert as_json.exit_code == 0
    assert json.loads(as_json.stdout)["solve_for"] == "größe"


def test_import_refuses_to_overwrite_its_model(tmp_path: Path) -> None:
    model = tmp_path / "m.onnx"
    model.write_bytes(b"not read: refused before")
    result = run("import", str(model), "-o", str(tmp_path / "." / "m.onnx"))
    assert result.exit_code == 2
    assert "is the model itself; write the JSON to another file" in result.stderr
    assert model.read_bytes() == b"not read: refused before"


def test_every_csv_column_round_trips_through_check(tmp_path: Path) -> None:
    args = ["--x2-range", "-9", "2", "6", "--argmax", "--all-slices", "--enclosures"]
    text = ok("solve", THREE, *args, "--format", "csv").stdout
    assert text.splitlines()[0] == "x2,x1,kind,from,to,lo,hi"
    path = tmp_path / "three.csv"
    path.write_text(text, encoding="utf-8")
    result = ok("check", THREE, str(path), "--tol", "0")
    assert result.stderr.startswith(f"{path}: all 6 slice(s) match (")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["eval", SEED, "1e308", "0"],
            "Error: x1 1e+308 is too large for this network (its pre-activations would "
            "overflow); give values with magnitude <= 2.5e+149\n",
        ),
        (
            ["constants", SEED, "--x2", "-1e200"],
            "Error: Invalid value for '--x2': -1e+200 is too large for this network (its "
            "pre-activations would overflow); give values with magnitude <= 2.5e+149\n",
        ),
    ],
)
def test_eval_and_constants_refuse_values_too_large(args: list[str], message: str) -> None:
    result = run(*args)
    assert result.exit_code == 2
    assert result.stderr.endswith(message)


def test_a_function_named_like_its_module_stays_a_function() -> None:
    import importlib

    module = importlib.import_module("netbound.along")  # as the CLI's along command does
    assert netbound.along is module.along
    assert callable(netbound.along)


def test_check_takes_the_axes_the_csv_was_written_with(tmp_path: Path) -> None:
    axes = ["--solve-for", "x2", "--sweep", "x1"]
    text = ok("solve", SEED, *axes, "--x2", "0.3", "--x2", "1", "--format", "csv").stdout
    assert text.splitlines()[0] == "x1,x2,kind"
    path = tmp_path / "axes.csv"
    path.write_text(text, encoding="utf-8")
    ok("check", SEED, str(path), *axes, "--tol", "0")
    result = run("check", SEED, str(path))
    assert result.exit_code == 1
    assert result.stderr.endswith(
        "for other axes give check the --solve-for and --sweep the file was written with\n"
    )
