"""along: every decision change on a segment or a line, against dense grids."""

from __future__ import annotations

import csv
import io
import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner, Result
from numpy.testing import assert_allclose
from uniform_nets import uniform_net

import netbound
from netbound.cli import main
from netbound.errors import DataError, OptionError

ENV: dict[str, str | None] = {"COLUMNS": "200", "NO_COLOR": "1"}
SAMPLES = Path(__file__).resolve().parent.parent / "sample_nets"


def run(*args: str) -> Result:
    return CliRunner(env=ENV).invoke(main, list(args), prog_name="netbound")


def ok(*args: str) -> Result:
    result = run(*args)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result


def grid_changes(
    net: netbound.Network, a: Any, b: Any, lo: float, hi: float, num: int = 200001
) -> list[tuple[float, int, int]]:
    """Changes of the argmax on a dense grid of t, each bisected (plain numpy forward)."""

    first = net.layers[0]
    p0, p1 = first.weights @ a + first.biases, first.weights @ (b - a)

    def cls(t: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        # The first layer's pre-activations are affine in t: plain numpy, chunk-free.
        v = first.activate(p0 + t[:, None] * p1)
        for layer in net.layers[1:]:
            v = layer.activate(v @ layer.weights.T + layer.biases)
        return np.argmax(v, axis=1)

    ts = np.linspace(lo, hi, num)
    c = cls(ts)
    out = []
    for i in np.flatnonzero(c[1:] != c[:-1]):
        left, right = ts[i], ts[i + 1]
        for _ in range(100):
            m = 0.5 * (left + right)
            if m in (left, right):
                break
            if cls(np.array([m]))[0] == c[i]:
                left = m
            else:
                right = m
        out.append((0.5 * (left + right), int(c[i]), int(c[i + 1])))
    return out


def _mlp(sizes: list[int], act: str, seed: int, gain: float = 1.0) -> netbound.Network:
    rng = np.random.default_rng(seed)
    layers = []
    for k, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        last = k == len(sizes) - 2
        w = rng.normal(0.0, gain / np.sqrt(n_in), (n_out, n_in))
        layers.append((w, rng.normal(0.0, 0.2, n_out), "identity" if last else act))
    return netbound.Network.from_layers(layers)


@pytest.mark.parametrize(
    ("sizes", "act", "gain", "seed"),
    [
        ([784, 32, 10], "relu", 1.0, 0),
        ([784, 16, 10], "tanh", 2.0, 0),
        ([6, 8, 8, 4], "sigmoid", 4.0, 2),
    ],
)
def test_segment_matches_dense_grid(sizes: list[int], act: str, gain: float, seed: int) -> None:
    net = _mlp(sizes, act, seed, gain)
    u = np.random.default_rng(1).normal(0.0, 1.0, sizes[0])
    u *= 9.0 / np.linalg.norm(u)
    a, b = -u, u  # through the origin, where the classes change
    result = netbound.along(net, a, b)
    assert result.complete
    want = grid_changes(net, a, b, 0.0, 1.0)
    assert len(want) >= 2
    names = net.output_names
    assert [(c.from_output, c.to_output) for c in result.changes] == [
        (names[x], names[y]) for _, x, y in want
    ]
    assert_allclose([c.t for c in result.changes], [t for t, _, _ in want], atol=1e-9)
    for c in result.changes:
        assert_allclose(c.point, a + c.t * (b - a), rtol=1e-15)
        pre = net.preactivations(c.point)
        top = np.sort(pre)[-2:]
        assert abs(top[1] - top[0]) <= 1e-9 * max(1.0, float(np.max(np.abs(pre))))


def test_line_extends_the_segment() -> None:
    net = netbound.load(SAMPLES / "three_class.json")
    a, b = np.array([-0.5, -1.0]), np.array([0.5, -1.0])
    segment = netbound.along(net, a, b)
    line = netbound.along(net, a, b, line=True)
    assert line.complete
    assert line.line
    inside = [c.t for c in line.changes if 0.0 <= c.t <= 1.0]
    assert_allclose([c.t for c in segment.changes], inside, rtol=1e-12)
    solved = netbound.solve(net, [-1.0], argmax=True)[0]
    # the line x2 = -1 is solve's line: t = (x1 - a1) / (b1 - a1)
    assert_allclose(
        [0.5 + c.t - 1.0 for c in line.changes], [r.x1 for r in solved.roots], atol=1e-9
    )
    assert [(c.from_output, c.to_output) for c in line.changes] == [
        (r.from_output, r.to_output) for r in solved.roots
    ]


def test_pair_and_threshold_decisions() -> None:
    seed = netbound.load(SAMPLES / "seed.json")
    result = netbound.along(seed, [-3.0, 0.5], [3.0, 0.5], between=("z1", "z2"))
    roots = netbound.solve(seed, [0.5])[0].roots
    assert_allclose([c.point[0] for c in result.changes], [r.x1 for r in roots], atol=1e-12)
    assert [(c.from_output, c.to_output) for c in result.changes] == [("z2", "z1"), ("z1", "z2")]
    single = netbound.load(SAMPLES / "single.json")
    lone = netbound.along(single, [-5.0, 0.0], [5.0, 0.0], line=True)
    want = netbound.solve(single, [0.0])[0].roots
    assert_allclose([-5.0 + 10.0 * c.t for c in lone.changes], [r.x1 for r in want], atol=1e-9)


def test_argmin_along() -> None:
    net = netbound.load(SAMPLES / "three_class.json")
    a, b = np.array([-3.0, -1.0]), np.array([3.0, -1.0])
    lowest = netbound.along(net, a, b, decision="argmin")
    negated = netbound.Network.from_layers(
        [(layer.weights, layer.biases, layer.activation) for layer in net.layers[:-1]]
        + [(-net.layers[-1].weights, -net.layers[-1].biases, "identity")],
        output_names=list(net.output_names),
    )
    want = grid_changes(negated, a, b, 0.0, 1.0)
    assert [(c.from_output, c.to_output) for c in lowest.changes] == [
        (net.output_names[x], net.output_names[y]) for _, x, y in want
    ]
    assert_allclose([c.t for c in lowest.changes], [t for t, _, _ in want], atol=1e-9)


def test_along_refusals() -> None:
    net = netbound.load(SAMPLES / "seed.json")
    with pytest.raises(OptionError) as info:
        netbound.along(net, [0.0, 0.0], [0.0, 0.0])
    assert str(info.value) == "start and end are the same point; give two different points"
    with pytest.raises(OptionError) as info:
        netbound.along(net, [0.0], [1.0, 1.0])
    assert str(info.value) == (
        "start: expected 2 numbers (one per input), got an array of shape (1,)"
    )
    with pytest.raises(OptionError) as info:
        netbound.along(net, [0.0, float("nan")], [1.0, 1.0])
    assert str(info.value) == "start[1] is nan; every coordinate must be finite"
    with pytest.raises(TypeError, match="load a file first"):
        netbound.along("net.json", [0.0, 0.0], [1.0, 1.0])  # type: ignore[arg-type]


def test_cli_json_and_csv(tmp_path: Path) -> None:
    three = str(SAMPLES / "three_class.json")
    doc = json.loads(
        ok("along", three, "--from", "-3,-1", "--to", "3,-1", "--format", "json").stdout
    )
    assert list(doc) == [
        "network", "decision", "from", "to", "line", "results", "unresolved", "everywhere",
        "complete",
    ]  # fmt: skip
    want = netbound.along(netbound.load(three), [-3.0, -1.0], [3.0, -1.0])
    assert (doc["from"], doc["line"], doc["complete"]) == ([-3.0, -1.0], False, True)
    assert [r["t"] for r in doc["results"]] == [c.t for c in want.changes]
    assert list(doc["results"][0]) == ["t", "point", "from", "to", "kind", "enclosure"]
    np.save(tmp_path / "a.npy", np.array([-3.0, -1.0]))
    (tmp_path / "b.json").write_text("[3.0, -1.0]")
    out = ok("along", three, "--from", str(tmp_path / "a.npy"), "--to", str(tmp_path / "b.json"),
             "--format", "csv", "--points").stdout  # fmt: skip
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["t", "from", "to", "kind", "x1", "x2"]
    assert [float(r[0]) for r in rows[1:]] == [c.t for c in want.changes]
    assert [float(r[4]) for r in rows[1:]] == [float(c.point[0]) for c in want.changes]
    (tmp_path / "c.csv").write_text("x1,x2\n-3,-1\n")
    again = ok("along", three, "--from", str(tmp_path / "c.csv"), "--to", "3,-1", "--format", "csv")
    assert [r[:4] for r in rows] == list(csv.reader(io.StringIO(again.stdout)))


@pytest.mark.parametrize(
    ("point", "message"),
    [
        ("1,2,3", "Error: --from: the point has 3 value(s); the network has 2 inputs"),
        (
            "1,abc",
            "Error: --from '1,abc': not a list of numbers (0.1,0.2,...) nor a .json, .csv "
            "or .npy file",
        ),
    ],
)  # fmt: skip
def test_cli_bad_points(point: str, message: str) -> None:
    result = run("along", str(SAMPLES / "seed.json"), "--from", point, "--to", "0,0")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == message


def test_point_files_refused(tmp_path: Path) -> None:
    bad = tmp_path / "p.json"
    bad.write_text('{"x1": 1}')
    from netbound.along import read_point

    with pytest.raises(DataError, match=r"p\.json: expected a JSON list of numbers$"):
        read_point(str(bad), 2)


def test_points_beyond_the_overflow_limit_are_refused() -> None:
    # Regression: on this 128x128 leaky-ReLU net the segment from (-1e160, 1e160) to
    # (1e160, 1e160) gave no change, complete, with an overflow warning; scaled down to 1e100
    # (inside the limit of 2.34e144) the same segment holds two changes.
    acts = ("leaky_relu", "leaky_relu", "identity")
    net = uniform_net((2, 128, 128, 2), acts, seed=5, scale=20.0)
    with pytest.raises(netbound.OptionError) as err:
        netbound.along(net, [-1e160, 1e160], [1e160, 1e160])
    assert str(err.value) == (
        "start x1: -1e+160 is too large for this network (its pre-activations would overflow); "
        "give values with magnitude <= 2.34e+144"
    )
    result = netbound.along(net, [-1e100, 1e100], [1e100, 1e100])
    assert result.complete
    assert len(result.changes) == 2
    # Each change is a change of the predicted class (a plain forward pass on either side).
    for c in result.changes:
        sides = np.array(
            [[-1e100 + 2e100 * t, 1e100] for t in (c.t * (1 - 1e-9), c.t * (1 + 1e-9))]
        )
        assert len(set(np.argmax(net.forward(sides), axis=1).tolist())) == 2


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("-1e160,1e160", "1e160,1e160", "--from x1: -1e+160"),
        ("-1e100,1e100", "1e100,3e150", "--to x2: 3e+150"),
    ],
)
def test_cli_names_the_option_past_the_overflow_limit(
    tmp_path: Path, start: str, end: str, message: str
) -> None:
    net = uniform_net((2, 128, 128, 2), ("leaky_relu", "leaky_relu", "identity"), 5, 20.0)
    path = tmp_path / "net.json"
    path.write_text(json.dumps(net.to_json()))
    result = run("along", str(path), f"--from={start}", "--to", end)
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == (
        f"Error: {message} is too large for this network (its pre-activations would "
        "overflow); give values with magnitude <= 2.34e+144"
    )
