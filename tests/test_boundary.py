"""What is solved: the Boundary object, solve's axes and argmin, and errors in library terms."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result
from numpy.testing import assert_allclose

import netbound
from netbound.boundary import Boundary, read_at_file
from netbound.cli import main
from netbound.errors import DataError, OptionError

ENV: dict[str, str | None] = {"COLUMNS": "200", "NO_COLOR": "1"}
SAMPLES = Path(__file__).resolve().parent.parent / "sample_nets"
THREE = netbound.load(SAMPLES / "three_class.json")
#: 3 inputs p, q, r; 2 outputs.
NET3 = netbound.Network.from_layers(
    [
        ([[1.0, -2.0, 0.5], [0.3, 1.0, -1.0], [-0.7, 0.4, 2.0]], [0.1, -0.2, 0.3], "tanh"),
        ([[1.0, -1.0, 0.5], [-0.5, 1.2, 0.1]], [0.05, -0.1], "identity"),
    ],
    input_names=["p", "q", "r"],
)


def run(*args: str) -> Result:
    return CliRunner(env=ENV).invoke(main, list(args), prog_name="netbound")


def test_resolve_fills_every_default() -> None:
    b = Boundary.resolve(NET3, at={"r": 0.5})
    assert (b.decision, b.pair, b.threshold) == ("pair", ("z1", "z2"), None)
    assert (b.solve_for_name, b.sweep_name, b.at, b.window) == ("p", "q", {"r": 0.5}, None)
    assert b.label == "z1 = z2"
    assert b.header() == {
        "between": ["z1", "z2"],
        "threshold": None,
        "solve_for": "p",
        "sweep": "q",
        "at": {"r": 0.5},
        "x1_range": None,
    }
    assert repr(b) == "Boundary('z1 = z2', solve_for='p', sweep='q', at={'r': 0.5}, window=None)"
    argmin = Boundary.resolve(THREE, decision="argmin")
    assert argmin.label == "argmin of setosa, versicolor, virginica"
    assert argmin.header()["decision"] == "argmin"
    assert len(argmin.margins) == 3
    # the default sweep is the second input, unless the second is solved for
    assert Boundary.resolve(NET3, solve_for="r", at={"p": 0.0}).sweep_name == "q"
    assert Boundary.resolve(NET3, solve_for="q", at={"r": 0.0}).sweep_name == "p"


def test_classes_follow_the_decision() -> None:
    x = np.array([[-1.0, -1.0], [0.5, 2.0], [3.0, 0.0]])
    pre = THREE.preactivations(x)
    assert (
        Boundary.resolve(THREE, decision="argmax").classes(x).tolist()
        == np.argmax(pre, axis=1).tolist()
    )
    assert (
        Boundary.resolve(THREE, decision="argmin").classes(x).tolist()
        == np.argmin(pre, axis=1).tolist()
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"x1_range": (1.0, 0.0), "at": {"r": 0}}, "x1_range=(1.0, 0.0): needs lo < hi"),
        ({"x1_range": (0.0, float("inf")), "at": {"r": 0}},
         "x1_range=(0.0, inf): both ends must be finite"),
        ({"solve_for": "s"}, "solve_for='s': unknown input; the network's inputs are p, q, r"),
        ({"sweep": "p"}, "sweep='p': the swept input must differ from solve_for='p'"),
        ({"at": {}}, "at: no value for the input(s) r; give at={name: value} for each"),
        (
            {"at": {"q": 1.0, "r": 0.0}},
            "at={'q': 1.0}: q is the solved or swept input; at sets only the other inputs",
        ),
        ({"at": {"r": float("nan")}}, "at={'r': nan}: the value must be finite"),
        ({"threshold": 0.5, "at": {"r": 0.0}}, "threshold=0.5 is for single-output networks; "
         "this one has 2 outputs (give between=(A, B))"),
        ({"decision": "argmin", "between": ("z1", "z2"), "at": {"r": 0.0}},
         "decision='argmin' cannot be combined with between or threshold"),
    ],
)  # fmt: skip
def test_errors_name_the_parameter(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(OptionError) as info:
        netbound.solve(NET3, [0.0], **kwargs)  # type: ignore[arg-type]
    assert str(info.value) == message
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("x2", "error", "message"),
    [
        (0.5, OptionError, "x2=0.5: expected a sequence of numbers, e.g. [0.5]"),
        ("0.5", OptionError, "x2='0.5': expected a sequence of numbers, got a string"),
        (np.zeros((2, 2)), OptionError, "x2: expected one dimension, got an array of shape (2, 2)"),
        (["a"], OptionError, "x2 value 'a' is not a number"),
    ],
)  # fmt: skip
def test_bad_sweep_values_are_refused_up_front(x2: object, error: type, message: str) -> None:
    with pytest.raises(error) as info:
        netbound.solve(THREE, x2)  # type: ignore[arg-type]
    assert str(info.value) == message


def test_a_path_is_not_a_network() -> None:
    with pytest.raises(TypeError) as info:
        netbound.solve("net.json", [0.5])  # type: ignore[arg-type]
    assert str(info.value) == (
        "solve takes a Network, got the path 'net.json'; load it first: "
        "netbound.solve(netbound.load('net.json'), ...)"
    )


def test_solve_for_any_input_matches_a_permuted_network() -> None:
    # Solving for r sweeping p at q = 0.3 is solving for x1 sweeping x2 at x3 = 0.3 in the
    # network whose inputs are reordered (r, p, q).
    w = NET3.layers[0].weights
    permuted = netbound.Network.from_layers(
        [(w[:, [2, 0, 1]], NET3.layers[0].biases, "tanh")]
        + [(layer.weights, layer.biases, layer.activation) for layer in NET3.layers[1:]]
    )
    values = [-1.0, 0.0, 0.7]
    got = netbound.solve(NET3, values, solve_for="r", sweep="p", at={"q": 0.3})
    want = netbound.solve(permuted, values, at={"x3": 0.3})
    for g, h in zip(got, want, strict=True):
        assert g.complete
        assert [r.x1 for r in g.roots] == [r.x1 for r in h.roots]


def test_argmin_is_argmax_of_the_negated_outputs() -> None:
    last = THREE.layers[-1]
    negated = netbound.Network.from_layers(
        [(layer.weights, layer.biases, layer.activation) for layer in THREE.layers[:-1]]
        + [(-last.weights, -last.biases, "identity")],
        output_names=list(THREE.output_names),
    )
    values = list(np.linspace(-2.0, 2.0, 9))
    lowest = netbound.solve(THREE, values, decision="argmin")
    highest = netbound.solve(negated, values, argmax=True)
    for a, b in zip(lowest, highest, strict=True):
        assert a.complete
        assert_allclose([r.x1 for r in a.roots], [r.x1 for r in b.roots], rtol=1e-12)
        assert [(r.from_output, r.to_output) for r in a.roots] == [
            (r.from_output, r.to_output) for r in b.roots
        ]
    assert any(r.roots for r in lowest)


def test_read_at_file_json_and_csv(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text('{"r": 0.25, "s": -1}')
    assert read_at_file(tmp_path / "a.json") == {"r": 0.25, "s": -1.0}
    (tmp_path / "a.csv").write_text('r,"s"\n0.25,-1\n')
    assert read_at_file(tmp_path / "a.csv") == {"r": 0.25, "s": -1.0}
    (tmp_path / "two.csv").write_text("r\n1\n2\n")
    with pytest.raises(DataError) as info:
        read_at_file(tmp_path / "two.csv")
    assert str(info.value) == (
        f"{tmp_path / 'two.csv'}: expected a JSON object or a CSV of a header and one row, "
        "got 3 CSV row(s)"
    )
    (tmp_path / "bad.json").write_text('{"r": "x"}')
    with pytest.raises(DataError) as info:
        read_at_file(tmp_path / "bad.json")
    assert (
        str(info.value) == f"{tmp_path / 'bad.json'}: the value of 'r' ('x') is not a finite number"
    )


def test_cli_axes_at_file_and_argmin(tmp_path: Path) -> None:
    path = tmp_path / "net3.json"
    path.write_text(json.dumps(NET3.to_json()))
    (tmp_path / "at.json").write_text('{"q": 0.3}')
    result = run("solve", str(path), "--solve-for", "r", "--sweep", "p", "--at-file",
                 str(tmp_path / "at.json"), "--x2", "0", "--format", "json")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert (doc["solve_for"], doc["sweep"], doc["at"]) == ("r", "p", {"q": 0.3})
    want = netbound.solve(NET3, [0.0], solve_for="r", sweep="p", at={"q": 0.3})[0]
    assert [root["r"] for root in doc["results"][0]["roots"]] == [r.x1 for r in want.roots]
    missing = run("solve", str(path), "--solve-for", "r", "--x2", "0")
    assert missing.exit_code == 2
    assert missing.stderr.splitlines()[-1] == (
        "Error: the network has inputs with no value: give --at p=VALUE (or --at-file FILE)"
    )
    same = run("solve", str(path), "--solve-for", "q", "--sweep", "q", "--x2", "0")
    assert same.stderr.splitlines()[-1] == (
        "Error: --sweep q: the swept input must differ from the solved one (--solve-for q)"
    )
    csv_out = run("solve", str(SAMPLES / "three_class.json"), "--argmin", "--x2", "-1",
                  "--format", "csv")  # fmt: skip
    rows = [line.split(",") for line in csv_out.stdout.splitlines()]
    assert rows[0] == ["x2", "x1", "kind", "from", "to"]
    lowest = netbound.solve(THREE, [-1.0], decision="argmin")[0]
    assert [(float(r[1]), r[3], r[4]) for r in rows[1:]] == [
        (r.x1, r.from_output, r.to_output) for r in lowest.roots
    ]
    both = run("solve", str(SAMPLES / "three_class.json"), "--argmin", "--argmax", "--x2", "0")
    assert both.stderr.splitlines()[-1] == "Error: give only one of --argmax and --argmin"


def test_cli_eval_with_at_and_argmin() -> None:
    three = str(SAMPLES / "three_class.json")
    result = run("eval", three, "0.5", "--at", "x2=-1", "--argmin", "--format", "json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    pre = THREE.preactivations(np.array([0.5, -1.0]))
    assert doc["inputs"] == {"x1": 0.5, "x2": -1.0}
    assert (doc["decision"], doc["predicted"]) == (
        "argmin",
        THREE.output_names[int(np.argmin(pre))],
    )
