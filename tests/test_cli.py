"""The command line (docs/output-formats.md): exit codes, messages, formats, against the library.

Everything runs in-process through click's CliRunner (click >= 8.2 keeps stderr apart:
``result.stdout`` is the data, ``result.stderr`` the messages).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner, Result

import netbound
from netbound.cli import main

SAMPLES = Path(__file__).resolve().parent.parent / "sample_nets"
SEED = str(SAMPLES / "seed.json")
SINGLE = str(SAMPLES / "single.json")
THREE = str(SAMPLES / "three_class.json")
TANH = str(SAMPLES / "tanh_deep.json")
#: A wide, colourless terminal, whatever the environment running the tests says.
ENV: dict[str, str | None] = {
    "COLUMNS": "200",
    "FORCE_COLOR": None,
    "TTY_COMPATIBLE": None,
    "NO_COLOR": "1",
}
HEADER_KEYS = ["network", "between", "threshold", "solve_for", "sweep", "at", "x1_range"]


def run(*args: str, input: str | None = None) -> Result:
    return CliRunner(env=ENV).invoke(main, list(args), input=input, prog_name="netbound")


def ok(*args: str, input: str | None = None) -> Result:
    result = run(*args, input=input)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result


def usage_error(*args: str) -> Result:
    """Exit 2 with click's usage message, nothing on stdout."""
    result = run(*args)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    assert "Error: " in result.stderr
    assert "Traceback" not in result.output
    return result


def data_error(*args: str, input: str | None = None) -> str:
    """Exit 1 with one line on stderr starting with 'Error: ', no traceback; the line."""
    result = run(*args, input=input)
    assert result.exit_code == 1, (result.stdout, result.stderr)
    assert isinstance(result.exception, SystemExit)
    assert result.stderr.startswith("Error: ")
    assert result.stderr.count("\n") == 1
    assert result.stderr.endswith("\n")
    assert "Traceback" not in result.output
    return result.stderr.rstrip("\n")


def csv_rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def write_net(path: Path, layers: list[dict[str, Any]], **fields: Any) -> str:
    path.write_text(json.dumps({"netbound": 1, **fields, "layers": layers}), encoding="utf-8")
    return str(path)


def expected_rows(results: list[netbound.SliceResult], argmax: bool = False) -> list[list[str]]:
    rows = []
    for r in results:
        for root in r.roots:
            row = [repr(r.x2), repr(root.x1), root.kind]
            if argmax:
                row += [root.from_output or "", root.to_output or ""]
            rows.append(row)
    return rows


def record(r: netbound.SliceResult, names: tuple[str, str] = ("x1", "x2")) -> dict[str, Any]:
    """The JSON record docs/output-formats.md describes, built from a library result."""
    return {
        names[1]: r.x2,
        "roots": [_root(root, names[0]) for root in r.roots],
        "unresolved": [
            [lo if np.isfinite(lo) else None, hi if np.isfinite(hi) else None]
            for lo, hi in r.unresolved
        ],
        "everywhere": r.everywhere,
        "complete": r.complete,
    }


def _root(root: netbound.Root, name: str) -> dict[str, Any]:
    out: dict[str, Any] = {name: root.x1, "kind": root.kind}
    if root.enclosure is not None:
        out["enclosure"] = list(root.enclosure)
    return out


@pytest.fixture(scope="module")
def seed() -> netbound.Network:
    return netbound.load(SEED)


@pytest.fixture
def three_inputs(tmp_path: Path) -> str:
    return write_net(
        tmp_path / "three.json",
        [
            {
                "weights": [[1.0, 0.5, -1.0], [-2.0, 1.0, 0.5]],
                "biases": [0.1, -0.3],
                "activation": "sigmoid",
            },
            {"weights": [[2.0, -1.0], [-1.0, 2.0]], "biases": [0.0, 0.2], "activation": "identity"},
        ],
        inputs=["p", "q", "r"],
        outputs=["A", "B"],
    )


@pytest.fixture
def named_ab(tmp_path: Path) -> str:
    """The seed network with inputs named a, b."""
    doc = netbound.load(SEED).to_json()
    doc["inputs"] = ["a", "b"]
    path = tmp_path / "ab.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return str(path)


# -- global ------------------------------------------------------------------------------------


def test_version() -> None:
    result = ok("--version")
    assert result.stdout == f"netbound, version {netbound.__version__}\n"


@pytest.mark.parametrize("command", [None, *sorted(main.commands)])  # type: ignore[attr-defined]
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help(command: str | None, flag: str) -> None:
    args = [flag] if command is None else [command, flag]
    result = ok(*args)
    assert result.stdout.startswith("Usage: netbound")
    assert result.stderr == ""


def test_every_contract_command_exists() -> None:
    assert {"solve", "constants", "eval", "check", "import"} <= set(main.commands)  # type: ignore[attr-defined]


def test_no_command_is_usage_error() -> None:
    result = run("frobnicate")
    assert result.exit_code == 2
    assert "No such command 'frobnicate'" in result.stderr


# -- solve: sweep values -----------------------------------------------------------------------


def test_solve_x2_repeatable_csv_matches_library(seed: netbound.Network) -> None:
    result = ok("solve", SEED, "--x2", "1", "--x2", "-1", "--x2", "0.5", "--format", "csv")
    rows = csv_rows(result.stdout)
    assert rows[0] == ["x2", "x1", "kind"]
    want = netbound.solve(seed, [1.0, -1.0, 0.5])
    assert rows[1:] == expected_rows(want)
    # Parsed back, the numbers are the library's floats exactly, in the order given.
    assert [float(r[0]) for r in rows[1:]] == [s.x2 for s in want for _ in s.roots]
    assert [float(r[1]) for r in rows[1:]] == [root.x1 for s in want for root in s.roots]
    assert len(rows) == 1 + 6
    assert result.stderr == ""


def test_solve_table_contains_roots(seed: netbound.Network) -> None:
    result = ok("solve", SEED, "--x2", "0.5", "--x2", "-2")
    want = netbound.solve(seed, [0.5, -2.0])
    assert len(want[0].roots) == 2
    assert not want[1].roots
    out = result.stdout
    assert "z1 = z2" in out
    for header in ("x2", "x1", "kind", "complete"):
        assert header in out
    for root in want[0].roots:
        assert repr(root.x1) in out
    assert "crossing" in out
    assert "none" in out  # x2 = -2: provably no root
    assert "-2.0" in out
    assert result.stderr == ""


def test_solve_json_contract_keys_and_values(seed: netbound.Network) -> None:
    result = ok("solve", SEED, "--x2", "0.5", "--x2", "-2", "--format", "json")
    doc = json.loads(result.stdout)
    assert list(doc) == [*HEADER_KEYS, "results"]
    assert doc["network"] == SEED
    assert doc["between"] == ["z1", "z2"]
    assert doc["threshold"] is None
    assert (doc["solve_for"], doc["sweep"]) == ("x1", "x2")
    assert doc["at"] == {}
    assert doc["x1_range"] is None
    want = netbound.solve(seed, [0.5, -2.0])
    assert doc["results"] == [record(r) for r in want]
    for rec in doc["results"]:
        assert list(rec) == ["x2", "roots", "unresolved", "everywhere", "complete"]
        for root in rec["roots"]:
            assert list(root) == ["x1", "kind", "enclosure"]
            assert root["enclosure"][0] <= root["x1"] <= root["enclosure"][1]
    # Round trip: the floats survive json exactly, and re-encoding is stable.
    assert [r["x1"] for r in doc["results"][0]["roots"]] == [r.x1 for r in want[0].roots]
    assert json.loads(json.dumps(doc)) == doc


def test_solve_x2_text_round_trips_exactly(seed: netbound.Network) -> None:
    result = ok("solve", SEED, "--x2", "0.1", "--x2", "1e-300", "--format", "json")
    doc = json.loads(result.stdout)
    assert [r["x2"] for r in doc["results"]] == [0.1, 1e-300]
    assert doc["results"] == [record(r) for r in netbound.solve(seed, [0.1, 1e-300])]


def test_solve_x2_range_inclusive_like_linspace(seed: netbound.Network) -> None:
    result = ok("solve", SEED, "--x2-range", "-1", "1", "5", "--format", "json")
    doc = json.loads(result.stdout)
    values = [r["x2"] for r in doc["results"]]
    assert values == [float(v) for v in np.linspace(-1.0, 1.0, 5)]
    assert values[0] == -1.0
    assert values[-1] == 1.0
    assert doc["results"] == [record(r) for r in netbound.solve(seed, values)]


def test_solve_x2_range_one_value() -> None:
    doc = json.loads(ok("solve", SEED, "--x2-range", "0.5", "7", "1", "--format", "json").stdout)
    assert [r["x2"] for r in doc["results"]] == [0.5]


@pytest.mark.parametrize("num", ["0", "-3", "2.5", "1e400", "ten"])
def test_solve_x2_range_num_is_a_positive_integer(num: str) -> None:
    result = usage_error("solve", SEED, "--x2-range", "-1", "1", num)
    message = "Invalid value for '--x2-range': NUM must be a positive integer, got "
    assert message + (num if num in ("0", "-3") else repr(num)) in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give the x2 values: --x2 V, --x2-range START STOP NUM or --x2-file"),
        (["--x2", "0", "--x2-range", "0", "1", "2"], "give only one of --x2, --x2-range"),
        (["--x2", "nan"], "Invalid value for '--x2': nan is not finite"),
        (["--x2-range", "0", "inf", "2"], "START and STOP must be finite"),
        (["--x2", "abc"], "'abc' is not a valid float"),
    ],
)
def test_solve_bad_sweep_options(args: list[str], message: str) -> None:
    assert message in usage_error("solve", SEED, *args).stderr


def test_solve_x2_file_one_per_line(tmp_path: Path, seed: netbound.Network) -> None:
    path = tmp_path / "x2.txt"
    path.write_text("# sweep\n0.5\n\n-1\n 2 \n", encoding="utf-8")
    rows = csv_rows(ok("solve", SEED, "--x2-file", str(path), "--format", "csv").stdout)
    assert rows[1:] == expected_rows(netbound.solve(seed, [0.5, -1.0, 2.0]))


def test_solve_x2_file_csv_column(tmp_path: Path, seed: netbound.Network) -> None:
    path = tmp_path / "x2.csv"
    path.write_text("label,x2,weight\na,0.25,1\nb,-0.75,2\n", encoding="utf-8")
    rows = csv_rows(ok("solve", SEED, "--x2-file", str(path), "--format", "csv").stdout)
    assert rows[1:] == expected_rows(netbound.solve(seed, [0.25, -0.75]))


def test_solve_x2_file_reads_its_own_csv_output(tmp_path: Path) -> None:
    first = ok("solve", SEED, "--x2", "0.5", "--format", "csv").stdout
    path = tmp_path / "out.csv"
    path.write_text(first, encoding="utf-8")
    doc = json.loads(ok("solve", SEED, "--x2-file", str(path), "--format", "json").stdout)
    assert [r["x2"] for r in doc["results"]] == [0.5, 0.5]  # one x2 per row of the file


def test_solve_x2_file_stdin(seed: netbound.Network) -> None:
    result = ok("solve", SEED, "--x2-file", "-", "--format", "json", input="0.5\n1.0\n")
    doc = json.loads(result.stdout)
    assert doc["results"] == [record(r) for r in netbound.solve(seed, [0.5, 1.0])]


def test_solve_x2_file_stdin_empty() -> None:
    doc = json.loads(ok("solve", SEED, "--x2-file", "-", "--format", "json", input="").stdout)
    assert doc["results"] == []


def test_solve_x2_file_bad_value(tmp_path: Path) -> None:
    path = tmp_path / "x2.txt"
    path.write_text("0.5\n1.0\nabc\n", encoding="utf-8")
    line = data_error("solve", SEED, "--x2-file", str(path), "--format", "csv")
    assert line.startswith(f"Error: {path}:3: 'abc' is not a number")


def test_solve_x2_file_bad_value_stdin() -> None:
    line = data_error("solve", SEED, "--x2-file", "-", input="x2\n0.5\n1..2\n")
    assert line.startswith("Error: <stdin>:3: '1..2' is not a number")


def test_solve_x2_file_non_finite(tmp_path: Path) -> None:
    path = tmp_path / "x2.txt"
    path.write_text("0.5\ninf\n", encoding="utf-8")
    line = data_error("solve", SEED, "--x2-file", str(path))
    assert line == f"Error: {path}:2: 'inf' is not a finite number"


def test_solve_x2_file_csv_without_x2_column(tmp_path: Path) -> None:
    path = tmp_path / "x2.csv"
    path.write_text("a,b\n1,2\n", encoding="utf-8")
    line = data_error("solve", SEED, "--x2-file", str(path))
    assert f"{path}:1: the header has no 'x2' column (columns: a, b)" in line


@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_solve_x2_file_missing(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / "nope.txt"
    result = run("solve", SEED, "--x2-file", str(path), "--format", fmt)
    assert result.exit_code == 1
    assert result.stdout == ""  # nothing half-written
    assert result.stderr == f"Error: {path}: cannot read the x2 file (No such file or directory)\n"


# -- solve: where and which boundary -----------------------------------------------------------


def test_solve_x1_range_excludes_roots_outside(seed: netbound.Network) -> None:
    full = netbound.solve(seed, [0.5])[0]
    assert len(full.roots) == 2
    assert full.roots[0].x1 < 0.0 < full.roots[1].x1
    doc = json.loads(
        ok("solve", SEED, "--x2", "0.5", "--x1-range", "0", "5", "--format", "json").stdout
    )
    assert doc["x1_range"] == [0.0, 5.0]
    (rec,) = doc["results"]
    assert [r["x1"] for r in rec["roots"]] == pytest.approx([full.roots[1].x1], rel=1e-12)
    assert rec["complete"] is True
    assert rec == record(netbound.solve(seed, [0.5], x1_range=(0.0, 5.0))[0])
    doc = json.loads(
        ok("solve", SEED, "--x2", "0.5", "--x1-range", "-1", "1", "--format", "json").stdout
    )
    assert doc["results"][0]["roots"] == []
    assert doc["results"][0]["complete"] is True


@pytest.mark.parametrize(("lo", "hi"), [("1", "0"), ("0.5", "0.5")])
def test_solve_x1_range_lo_not_below_hi(lo: str, hi: str) -> None:
    for fmt in ("csv", "json"):
        result = usage_error("solve", SEED, "--x2", "0", "--x1-range", lo, hi, "--format", fmt)
        assert f"--x1-range needs LO < HI, got {float(lo)!r} {float(hi)!r}" in result.stderr


def test_solve_between_by_name(seed: netbound.Network) -> None:
    forward = json.loads(ok("solve", SEED, "--x2", "0.5", "--format", "json").stdout)
    backward = json.loads(
        ok("solve", SEED, "--x2", "0.5", "--between", "z2", "z1", "--format", "json").stdout
    )
    assert backward["between"] == ["z2", "z1"]
    assert backward["results"] == [
        record(r) for r in netbound.solve(seed, [0.5], between=("z2", "z1"))
    ]
    xs = [r["x1"] for r in forward["results"][0]["roots"]]
    assert [r["x1"] for r in backward["results"][0]["roots"]] == pytest.approx(xs, rel=1e-12)


def test_solve_between_three_class() -> None:
    net = netbound.load(THREE)
    result = ok(
        "solve", THREE, "--x2", "0.5", "--between", "setosa", "virginica", "--format", "csv"
    )
    want = netbound.solve(net, [0.5], between=("setosa", "virginica"))
    assert csv_rows(result.stdout)[1:] == expected_rows(want)


@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_solve_between_unknown_output(fmt: str) -> None:
    result = usage_error("solve", SEED, "--x2", "0", "--between", "z1", "z9", "--format", fmt)
    assert "unknown output 'z9'; the network's outputs are z1, z2" in result.stderr


def test_solve_between_same_output() -> None:
    result = usage_error("solve", SEED, "--x2", "0", "--between", "z1", "z1")
    assert "two different outputs" in result.stderr


def test_solve_threshold_single_output() -> None:
    net = netbound.load(SINGLE)
    doc = json.loads(ok("solve", SINGLE, "--x2", "0", "--format", "json").stdout)
    assert doc["between"] is None
    assert doc["threshold"] == 0.5  # the default for a sigmoid output
    assert doc["results"] == [record(r) for r in netbound.solve(net, [0.0])]
    result = ok("solve", SINGLE, "--x2", "0", "--x2", "1", "--threshold", "0.3", "--format", "csv")
    want = netbound.solve(net, [0.0, 1.0], threshold=0.3)
    assert csv_rows(result.stdout)[1:] == expected_rows(want)
    roots = [r.x1 for r in want[0].roots]
    assert len(roots) == 2
    assert roots[0] == pytest.approx(-roots[1], rel=1e-12)
    # A lower threshold moves the boundary outwards.
    default = [r.x1 for r in netbound.solve(net, [0.0])[0].roots]
    assert roots[1] > default[1]
    doc = json.loads(
        ok("solve", SINGLE, "--x2", "0", "--threshold", "0.3", "--format", "json").stdout
    )
    assert doc["threshold"] == 0.3


@pytest.mark.parametrize("t", ["0", "1", "1.5", "-0.2"])
def test_solve_threshold_outside_sigmoid_range(t: str) -> None:
    result = usage_error("solve", SINGLE, "--x2", "0", "--threshold", t, "--format", "json")
    assert (
        f"threshold {float(t)!r} is outside the range of the sigmoid output; give a value "
        "strictly between 0 and 1"
    ) in result.stderr


def test_solve_threshold_on_two_outputs() -> None:
    result = usage_error("solve", SEED, "--x2", "0", "--threshold", "0.5")
    assert "--threshold is for single-output networks" in result.stderr


def test_solve_argmax_json_and_csv() -> None:
    net = netbound.load(THREE)
    values = [-1.5, 0.0, 2.0]
    args = ["solve", THREE, *[a for v in values for a in ("--x2", repr(v))], "--argmax"]
    want = netbound.solve(net, values, argmax=True)
    assert any(len(r.roots) > 1 for r in want)
    doc = json.loads(ok(*args, "--format", "json").stdout)
    assert doc["between"] is None
    assert doc["threshold"] is None
    assert set(HEADER_KEYS) <= set(doc)
    for rec, r in zip(doc["results"], want, strict=True):
        assert rec["x2"] == r.x2
        assert rec["roots"] == [
            {"x1": root.x1, "kind": root.kind, "from": root.from_output, "to": root.to_output}
            | ({"enclosure": list(root.enclosure)} if root.enclosure is not None else {})
            for root in r.roots
        ]
        assert rec["complete"] is r.complete
        for root in rec["roots"]:
            assert root["from"] in net.output_names
            assert root["to"] in net.output_names
            assert root["from"] != root["to"]
        # Consecutive changes chain up: each starts where the previous one ended.
        for a, b in zip(rec["roots"], rec["roots"][1:], strict=False):
            assert a["to"] == b["from"]
    rows = csv_rows(ok(*args, "--format", "csv").stdout)
    assert rows[0] == ["x2", "x1", "kind", "from", "to"]
    assert rows[1:] == expected_rows(want, argmax=True)
    table = ok(*args).stdout
    for r in want:
        for root in r.roots:
            assert repr(root.x1) in table


def test_solve_argmax_matches_sample_expected() -> None:
    rows = csv_rows((SAMPLES / "three_class.expected.csv").read_text(encoding="utf-8"))
    net = netbound.load(THREE)
    got = netbound.solve(net, [-1.5], argmax=True)[0]
    want = [r for r in rows[1:] if float(r[0]) == -1.5]
    assert [(r[3], r[4]) for r in want] == [(x.from_output, x.to_output) for x in got.roots]


def test_solve_argmax_with_between_is_usage_error() -> None:
    result = usage_error(
        "solve", THREE, "--x2", "0", "--argmax", "--between", "setosa", "virginica"
    )
    assert "--argmax cannot be combined with --between or --threshold" in result.stderr


def test_solve_at(three_inputs: str) -> None:
    net = netbound.load(three_inputs)
    doc = json.loads(
        ok("solve", three_inputs, "--x2", "0.5", "--at", "r=0.3", "--format", "json").stdout
    )
    assert doc["at"] == {"r": 0.3}
    assert (doc["solve_for"], doc["sweep"]) == ("p", "q")
    want = netbound.solve(net, [0.5], at={"r": 0.3})
    assert want[0].roots
    assert doc["results"] == [record(r, ("p", "q")) for r in want]
    other = netbound.solve(net, [0.5], at={"r": -2.0})
    assert [r.x1 for r in other[0].roots] != [r.x1 for r in want[0].roots]
    rows = csv_rows(
        ok("solve", three_inputs, "--x2", "0.5", "--at", "r=-2", "--format", "csv").stdout
    )
    assert rows[0] == ["q", "p", "kind"]
    assert rows[1:] == expected_rows(other)


@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_solve_at_missing(three_inputs: str, fmt: str) -> None:
    result = usage_error("solve", three_inputs, "--x2", "0.5", "--format", fmt)
    assert (
        "the network has inputs with no value: give --at r=VALUE (or --at-file FILE)"
        in result.stderr
    )


def test_solve_at_unknown_input(three_inputs: str) -> None:
    result = usage_error("solve", three_inputs, "--x2", "0.5", "--at", "r=1", "--at", "s=0.3")
    assert "--at names unknown input 's'; the network's inputs are p, q, r" in result.stderr


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("r", "'r' is not NAME=VALUE"),
        ("r=abc", "'r=abc': 'abc' is not a number"),
        ("r=nan", "the value must be finite"),
        ("q=1", "q is the solved or swept input"),
    ],
)
def test_solve_at_malformed(three_inputs: str, item: str, message: str) -> None:
    result = usage_error("solve", three_inputs, "--x2", "0.5", "--at", item)
    assert message in result.stderr


def test_input_names_are_csv_and_json_keys(named_ab: str, seed: netbound.Network) -> None:
    rows = csv_rows(ok("solve", named_ab, "--x2", "0.5", "--format", "csv").stdout)
    assert rows[0] == ["b", "a", "kind"]
    assert rows[1:] == expected_rows(netbound.solve(seed, [0.5]))
    doc = json.loads(ok("solve", named_ab, "--x2", "0.5", "--format", "json").stdout)
    assert (doc["solve_for"], doc["sweep"]) == ("a", "b")
    assert doc["results"] == [record(r, ("a", "b")) for r in netbound.solve(seed, [0.5])]
    table = ok("solve", named_ab, "--x2", "0.5").stdout
    assert "every a on the boundary" in table


def test_x2_file_uses_the_sweep_input_name(named_ab: str, tmp_path: Path) -> None:
    path = tmp_path / "b.csv"
    path.write_text("b\n0.5\n", encoding="utf-8")
    rows = csv_rows(ok("solve", named_ab, "--x2-file", str(path), "--format", "csv").stdout)
    assert rows[0] == ["b", "a", "kind"]
    assert {r[0] for r in rows[1:]} == {"0.5"}


# -- bad network files -------------------------------------------------------------------------

BAD_NETWORKS = {
    "empty": "",
    "not_json": "not json",
    "layers_not_list": '{"layers": 3}',
    "string_weight": json.dumps(
        {"layers": [{"weights": [[1.0, "abc"]], "biases": [0.0], "activation": "sigmoid"}]}
    ),
    "bad_activation": json.dumps(
        {"layers": [{"weights": [[1.0, 2.0]], "biases": [0.0], "activation": "swish"}]}
    ),
    "shape_mismatch": json.dumps(
        {
            "layers": [
                {"weights": [[1.0, 2.0], [3.0, 4.0]], "biases": [0.0, 0.0], "activation": "tanh"},
                {"weights": [[1.0, 2.0, 3.0]], "biases": [0.0], "activation": "sigmoid"},
            ]
        }
    ),
    "probe_mismatch": json.dumps(
        {
            "layers": [{"weights": [[1.0, 2.0]], "biases": [0.0], "activation": "sigmoid"}],
            "probe": {"input": [0.0, 0.0], "output": [0.9]},
        }
    ),
    "missing_edge": json.dumps(
        {
            "weights": {"x1->y1": 1.0, "x2->y1": 1.0, "x1->y2": 1.0, "y1->z1": 1.0, "y2->z1": 1.0},
            "biases": {"y1": 0.0, "y2": 0.0, "z1": 0.0},
        }
    ),
    "nan": '{"layers": [{"weights": [[1.0, NaN]], "biases": [0.0], "activation": "sigmoid"}]}',
}


@pytest.mark.parametrize("name", sorted(BAD_NETWORKS))
@pytest.mark.parametrize(
    "command",
    [
        ["solve", "--x2", "0"],
        ["solve", "--x2", "0", "--format", "json"],
        ["eval", "0", "0"],
        ["constants", "--x2", "0"],
        ["check", str(SAMPLES / "seed.expected.csv")],
    ],
    ids=["solve", "solve-json", "eval", "constants", "check"],
)
def test_bad_network_file(tmp_path: Path, name: str, command: list[str]) -> None:
    path = tmp_path / f"{name}.json"
    path.write_text(BAD_NETWORKS[name], encoding="utf-8")
    line = data_error(command[0], str(path), *command[1:])
    assert line.startswith(f"Error: {path}: ")


@pytest.mark.parametrize(
    "command",
    [
        ["solve", "--x2", "0"],
        ["constants", "--x2", "0"],
        ["check", str(SAMPLES / "seed.expected.csv")],
    ],
    ids=["solve", "constants", "check"],
)
def test_one_input_network(tmp_path: Path, command: list[str]) -> None:
    path = write_net(
        tmp_path / "one.json", [{"weights": [[1.0]], "biases": [0.0], "activation": "sigmoid"}]
    )
    result = usage_error(command[0], path, *command[1:])
    assert "the network has 1 input; netbound solves for x1 along lines of constant x2" in (
        result.stderr
    )


def test_eval_one_input_network(tmp_path: Path) -> None:
    path = write_net(
        tmp_path / "one.json", [{"weights": [[1.0]], "biases": [0.0], "activation": "sigmoid"}]
    )
    doc = json.loads(ok("eval", path, "2", "--format", "json").stdout)
    assert doc["inputs"] == {"x1": 2.0}
    assert doc["margin"] == pytest.approx(2.0, rel=1e-15)


def test_missing_network_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.json"
    assert data_error("solve", str(path), "--x2", "0") == f"Error: {path}: no such file"


def test_network_file_is_a_directory(tmp_path: Path) -> None:
    line = data_error("solve", str(tmp_path), "--x2", "0")
    assert line.startswith(f"Error: {tmp_path}: ")


def test_network_file_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "bin.json"
    path.write_bytes(b"\xff\xfe\x00\x01garbage\x80")
    assert data_error("solve", str(path), "--x2", "0").startswith(f"Error: {path}: ")


# -- eval --------------------------------------------------------------------------------------


def test_eval_values_table_and_csv(seed: netbound.Network) -> None:
    out = seed.forward(np.array([0.25, -0.5]))
    margin = netbound.margin_between(seed, "z1", "z2").value(np.array([0.25, -0.5]))
    rows = csv_rows(ok("eval", SEED, "0.25", "-0.5", "--format", "csv").stdout)
    assert rows == [
        ["name", "value"],
        ["x1", "0.25"],
        ["x2", "-0.5"],
        ["z1", repr(float(out[0]))],
        ["z2", repr(float(out[1]))],
        ["predicted", "z1" if out[0] > out[1] else "z2"],
        ["margin (pre z1 - pre z2)", repr(float(margin))],
    ]
    table = ok("eval", SEED, "0.25", "-0.5").stdout
    assert repr(float(out[0])) in table
    assert "predicted" in table


def test_eval_negative_values_need_no_separator(seed: netbound.Network) -> None:
    a = json.loads(ok("eval", SEED, "-0.25", "-0.5", "--format", "json").stdout)
    b = json.loads(ok("eval", SEED, "--format", "json", "--", "-0.25", "-0.5").stdout)
    assert a == b
    assert a["inputs"] == {"x1": -0.25, "x2": -0.5}


def test_eval_json(seed: netbound.Network) -> None:
    doc = json.loads(ok("eval", SEED, "0.25", "-0.5", "--format", "json").stdout)
    assert list(doc) == ["network", "inputs", "outputs", "between", "predicted", "margin"]
    out = seed.forward(np.array([0.25, -0.5]))
    assert doc["network"] == SEED
    assert doc["inputs"] == {"x1": 0.25, "x2": -0.5}
    assert doc["outputs"] == {"z1": float(out[0]), "z2": float(out[1])}
    assert doc["between"] == ["z1", "z2"]
    assert doc["predicted"] == "z1"
    # The seed_layered probe: the same network, the same outputs.
    probe = json.loads((SAMPLES / "seed_layered.json").read_text(encoding="utf-8"))["probe"]
    assert list(doc["outputs"].values()) == pytest.approx(probe["output"], rel=1e-12)
    pre = seed.preactivations(np.array([0.25, -0.5]))
    assert doc["margin"] == pytest.approx(float(pre[0] - pre[1]), rel=1e-12)


def test_eval_json_single_output() -> None:
    doc = json.loads(ok("eval", SINGLE, "0", "0", "--format", "json").stdout)
    assert list(doc) == ["network", "inputs", "outputs", "threshold", "margin"]
    assert doc["threshold"] == 0.5
    assert list(doc["outputs"]) == ["inside"]
    net = netbound.load(SINGLE)
    assert doc["margin"] == pytest.approx(
        float(net.preactivations(np.zeros(2))[0]), rel=1e-12
    )  # act^-1(0.5) = 0


@pytest.mark.parametrize("values", [["0.25"], ["0.1", "0.2", "0.3"], []])
def test_eval_wrong_count(values: list[str]) -> None:
    result = usage_error("eval", SEED, *values)
    assert f"the network has 2 inputs (x1, x2); got {len(values)} value(s)" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nan", "0"], "nan is not finite"),
        (["abc", "0"], "'abc' is not a valid float"),
        (["0", "0", "--at", "x3=1"], "--at names unknown input 'x3'"),
        (["0", "0", "--threshold", "0.5"], "--threshold is for single-output networks"),
    ],
)
def test_eval_usage_errors(args: list[str], message: str) -> None:
    assert message in usage_error("eval", SEED, *args).stderr


# -- check -------------------------------------------------------------------------------------


def test_every_sample_has_an_expected_csv() -> None:
    nets = sorted(p for p in SAMPLES.glob("*.json"))
    assert len(nets) >= 7
    for net in nets:
        assert net.with_suffix(".expected.csv").is_file(), net


@pytest.mark.parametrize("name", sorted(p.stem for p in SAMPLES.glob("*.json")))
def test_check_passes_on_every_sample(name: str) -> None:
    expected = SAMPLES / f"{name}.expected.csv"
    result = ok("check", str(SAMPLES / f"{name}.json"), str(expected))
    assert result.stdout == ""
    assert result.stderr.startswith(f"{expected}: all ")
    assert " slice(s) match (" in result.stderr


def _shifted(tmp_path: Path, delta: float) -> tuple[Path, str, str]:
    lines = (SAMPLES / "seed.expected.csv").read_text(encoding="utf-8").splitlines()
    x2, x1, kind = lines[5].split(",")
    moved = repr(float(x1) + delta)
    lines[5] = f"{x2},{moved},{kind}"
    path = tmp_path / "shifted.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, x2, moved


def test_check_shifted_root(tmp_path: Path) -> None:
    path, x2, moved = _shifted(tmp_path, 1e-6)
    result = run("check", SEED, str(path))
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    (line,) = result.stdout.splitlines()
    assert line.startswith(f"x2={x2}: root {moved} is now ")
    assert "> tol 1e-09)" in line
    assert result.stderr == f"Error: {path}: 1 difference(s) in 5 slice(s) of {SEED}\n"


def test_check_tolerance(tmp_path: Path) -> None:
    path, _, _ = _shifted(tmp_path, 1e-6)
    ok("check", SEED, str(path), "--tol", "1e-5")
    path, _, _ = _shifted(tmp_path, 1e-12)
    ok("check", SEED, str(path))
    assert "--tol" in usage_error("check", SEED, str(path), "--tol", "-1").stderr


def test_check_missing_and_extra_roots(tmp_path: Path) -> None:
    lines = (SAMPLES / "seed.expected.csv").read_text(encoding="utf-8").splitlines()
    path = tmp_path / "dropped.csv"
    path.write_text("\n".join(lines[:5] + lines[6:]) + "\n", encoding="utf-8")
    result = run("check", SEED, str(path))
    assert result.exit_code == 1
    assert "expected 1 root(s)" in result.stdout
    assert "got 2" in result.stdout


def test_check_kind_differs(tmp_path: Path) -> None:
    text = (SAMPLES / "seed.expected.csv").read_text(encoding="utf-8")
    path = tmp_path / "kind.csv"
    path.write_text(text.replace("crossing", "touching", 1), encoding="utf-8")
    result = run("check", SEED, str(path))
    assert result.exit_code == 1
    assert result.stdout == "x2=-0.5: root -0.9099270236548939 was touching, now crossing\n"


@pytest.mark.parametrize("header", ["x2,x1,type", "x1,x2,kind", "x2,x1"])
def test_check_wrong_header(tmp_path: Path, header: str) -> None:
    lines = (SAMPLES / "seed.expected.csv").read_text(encoding="utf-8").splitlines()
    path = tmp_path / "header.csv"
    path.write_text("\n".join([header, *lines[1:]]) + "\n", encoding="utf-8")
    line = data_error("check", SEED, str(path))
    assert line.startswith(f"Error: {path}:1: header is {header!r}; expected 'x2,x1,kind'")


def test_check_uses_input_names(named_ab: str, tmp_path: Path) -> None:
    line = data_error("check", named_ab, str(SAMPLES / "seed.expected.csv"))
    assert "expected 'b,a,kind'" in line
    path = tmp_path / "ab.csv"
    path.write_text(ok("solve", named_ab, "--x2", "0.5", "--format", "csv").stdout, "utf-8")
    ok("check", named_ab, str(path))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("", "empty"),
        ("x2,x1,kind\n", "no rows; nothing to check"),
        ("x2,x1,kind\n0.5,abc,crossing\n", ":2: x1 'abc' is not a number"),
        ("x2,x1,kind\nzz,1.0,crossing\n", ":2: x2 'zz' is not a number"),
        ("x2,x1,kind\n0.5,1.0,none\n", ":2: a 'none' row has no x1 value, got '1.0'"),
        ("x2,x1,kind\n0.5,1.0\n", ":2: 2 fields, expected 3"),
        (
            "x2,x1,kind\n0.5,1.0,bouncing\n",
            ":2: kind 'bouncing' is none of crossing, touching, none, everywhere",
        ),
    ],
)
def test_check_malformed_expected(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(body, encoding="utf-8")
    line = data_error("check", SEED, str(path))
    assert line.startswith(f"Error: {path}")
    assert message in line


def test_check_missing_expected(tmp_path: Path) -> None:
    path = tmp_path / "nope.csv"
    line = data_error("check", SEED, str(path))
    assert line == f"Error: {path}: cannot read the expected CSV (No such file or directory)"


def test_check_round_trip_of_solve(tmp_path: Path) -> None:
    out = ok("solve", THREE, "--x2-range", "-2", "2", "9", "--argmax", "--format", "csv").stdout
    path = tmp_path / "three.csv"
    path.write_text(out, encoding="utf-8")
    ok("check", THREE, str(path), "--tol", "0")


# -- constants ---------------------------------------------------------------------------------


def _seed_constants(x2: float) -> list[dict[str, Any]]:
    """The seed's eight terms of the exponential sum (README), computed here by hand."""
    w1, w2, b = [3.0, -3.0, 0.5], [1.0, 1.0, -2.0], [2.5, 2.5, 0.0]
    d, delta_b = [4.0 - 0.0, 4.0 - 0.0, -1.0 - 1.0], 1.0 - (-3.0)
    subsets = {"C0": (), "C1": (1,), "C2": (2,), "C3": (3,)}
    subsets |= {"C4": (2, 3), "C5": (1, 3), "C6": (1, 2), "C7": (1, 2, 3)}
    out = []
    for label, s in subsets.items():
        out.append(
            {
                "label": label,
                "subset": list(s),
                "coefficient": sum(d[j - 1] for j in (1, 2, 3) if j not in s) - delta_b,
                "rate": sum(-w1[i - 1] for i in s),
                "offset": sum(-(w2[i - 1] * x2 + b[i - 1]) for i in s),
            }
        )
    return out


def test_constants_json() -> None:
    doc = json.loads(ok("constants", SEED, "--x2", "0.5", "--format", "json").stdout)
    assert list(doc) == [
        "network",
        "between",
        "threshold",
        "x2",
        "at",
        "descartes_bound",
        "merged",
        "terms",
    ]
    assert doc["between"] == ["z1", "z2"]
    assert doc["x2"] == 0.5
    terms = sorted(doc["terms"], key=lambda t: t["label"])
    want = _seed_constants(0.5)
    assert [t["label"] for t in terms] == [w["label"] for w in want]
    for got, exp in zip(terms, want, strict=True):
        assert got["subset"] == exp["subset"]
        for key in ("coefficient", "rate", "offset"):
            assert got[key] == pytest.approx(exp[key], abs=1e-12), (got, key)
    # Two crossings at x2 = 0.5, and the bound says at most two.
    assert doc["descartes_bound"] == 2
    rates = [m["rate"] for m in doc["merged"]]
    assert rates == sorted(rates)
    assert len(set(rates)) == len(rates)
    for m in doc["merged"]:
        assert m["sign"] in (-1, 0, 1)
        assert (m["log_abs"] is None) == (m["sign"] == 0)


def test_constants_csv_and_table() -> None:
    rows = csv_rows(ok("constants", SEED, "--x2", "0.5", "--format", "csv").stdout)
    assert rows[0] == ["label", "subset", "coefficient", "rate", "offset"]
    assert len(rows) == 1 + 8
    by_label = {r[0]: r for r in rows[1:]}
    assert by_label["C0"][1:] == ["{}", "2.0", "0.0", "0.0"]
    assert by_label["C6"][1] == "{1,2}"  # quoted in the file, one field once parsed
    assert by_label["C7"][1:] == ["{1,2,3}", "-4.0", "-0.5", "-5.0"]
    table = ok("constants", SEED, "--x2", "0.5").stdout
    assert "Descartes bound V = 2" in table
    assert "merged by rate" in table
    for label in ("C0", "C1", "C2", "C3", "C4", "C5", "C6", "C7"):
        assert label in table


def test_constants_single_output() -> None:
    doc = json.loads(ok("constants", SINGLE, "--x2", "0", "--format", "json").stdout)
    assert doc["between"] is None
    assert doc["threshold"] == 0.5
    assert len(doc["terms"]) == 2**4
    assert all(t["label"].startswith("C{") for t in doc["terms"])
    assert doc["descartes_bound"] >= 2  # two crossings at x2 = 0


@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_constants_non_sigmoid(fmt: str) -> None:
    result = usage_error("constants", TANH, "--x2", "0.5", "--format", fmt)
    assert (
        "constants needs a network with one hidden layer of sigmoid units; this one has "
        "layers tanh -> tanh -> sigmoid"
    ) in result.stderr


def test_constants_two_hidden_layers(tmp_path: Path) -> None:
    sig = "sigmoid"
    path = write_net(
        tmp_path / "deep.json",
        [
            {"weights": [[1.0, 2.0], [0.5, -1.0]], "biases": [0.0, 0.1], "activation": sig},
            {"weights": [[1.0, -1.0], [2.0, 0.5]], "biases": [0.0, 0.0], "activation": sig},
            {"weights": [[1.0, 0.0], [0.0, 1.0]], "biases": [0.0, 0.0], "activation": sig},
        ],
    )
    result = usage_error("constants", path, "--x2", "0.5")
    assert (
        "constants needs a network with one hidden layer of sigmoid units; this one has "
        "layers sigmoid -> sigmoid -> sigmoid"
    ) in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "Missing option '--x2'"),
        (["--x2", "nan"], "Invalid value for '--x2': nan is not finite"),
        (["--x2", "0", "--argmax"], "use --between, not --argmax"),
        (["--x2", "0", "--between", "z1", "z3"], "unknown output 'z3'"),
    ],
)
def test_constants_usage_errors(args: list[str], message: str) -> None:
    assert message in usage_error("constants", SEED, *args).stderr


# -- trace and plot -------------------------------------------------------------------------


def test_trace_json_points_lie_on_the_boundary() -> None:
    result = CliRunner().invoke(
        main,
        [
            "trace",
            str(SAMPLES / "seed.json"),
            "--x1-range",
            "-5",
            "5",
            "--x2-range",
            "-5",
            "5",
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert list(doc) == ["curves", "complete", "unresolved", "box", "step", "solve_for", "sweep"]
    assert len(doc["curves"]) == 1
    assert doc["curves"][0]["closed"] is False
    points = np.array(doc["curves"][0]["points"])
    margin = netbound.margin_between(netbound.load(str(SAMPLES / "seed.json")), "z1", "z2")
    distance = np.abs(margin.value(points)) / np.linalg.norm(margin.gradient(points), axis=1)
    assert distance.max() <= 1e-9 * 10.0


def test_trace_csv_has_curve_and_input_names() -> None:
    result = CliRunner().invoke(main, ["trace", str(SAMPLES / "single.json"), "--format", "csv"])
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == ["curve", "x1", "x2"]
    assert {row[0] for row in rows[1:]} == {"1"}
    assert len(rows) > 50


def test_trace_table_lists_the_closed_loop() -> None:
    result = CliRunner().invoke(main, ["trace", str(SAMPLES / "single.json")])
    assert result.exit_code == 0, result.output
    assert "yes" in result.stdout


def test_trace_bad_box_is_a_usage_error() -> None:
    result = CliRunner().invoke(
        main, ["trace", str(SAMPLES / "seed.json"), "--x1-range", "1", "0", "--x2-range", "0", "1"]
    )
    assert result.exit_code == 2
    assert "--x1-range needs LO < HI" in result.stderr


@pytest.mark.parametrize("suffix", ["png", "svg", "pdf"])
def test_plot_writes_each_format(tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"seed.{suffix}"
    result = CliRunner().invoke(main, ["plot", str(SAMPLES / "seed.json"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.stat().st_size > 1000
    assert result.stderr.startswith(f"wrote {out}: 1 boundary curve(s) in [")


def test_plot_refuses_an_unknown_suffix(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["plot", str(SAMPLES / "seed.json"), "-o", str(tmp_path / "a.jpg")]
    )
    assert result.exit_code == 2
    assert "give a file name ending in .png, .svg, .pdf" in result.stderr
