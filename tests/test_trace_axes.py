"""``trace`` and ``plot`` in the plane of any two inputs, and by the lowest output (argmin)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from netbound import Network, OptionError
from netbound.cli import main
from netbound.trace import TraceResult, default_box, trace_network

RNG = np.random.default_rng(7)
W1, B1 = RNG.normal(size=(5, 3)), RNG.normal(scale=0.5, size=5)
W2, B2 = RNG.normal(size=(3, 5)), RNG.normal(scale=0.3, size=3)
#: Three inputs, three outputs.
NET = Network.from_layers([(W1, B1, "tanh"), (W2, B2, "identity")])
#: The same network with its inputs in the order x3, x1, x2 (and named so).
PERMUTED = Network.from_layers(
    [(W1[:, [2, 0, 1]], B1, "tanh"), (W2, B2, "identity")], input_names=["x3", "x1", "x2"]
)
#: The output layer negated: its largest output is NET's lowest.
NEGATED = Network.from_layers([(W1, B1, "tanh"), (-W2, -B2, "identity")])
BOX = (-3.0, 3.0, -3.0, 3.0)
RANGES = ["--x1-range", "-3", "3", "--x2-range", "-3", "3"]


def _segments_distance(points: np.ndarray, curves: list[np.ndarray]) -> np.ndarray:
    """Distance of each point to the nearest chord of any curve."""
    best = np.full(len(points), np.inf)
    for c in curves:
        a, b = c[:-1], c[1:]
        d = b - a
        dd = np.maximum(np.einsum("ij,ij->i", d, d), 1e-300)
        t = np.clip(np.einsum("kij,ij->ki", points[:, None, :] - a[None], d) / dd, 0.0, 1.0)
        near = a[None] + t[..., None] * d[None]
        best = np.minimum(best, np.min(np.linalg.norm(points[:, None, :] - near, axis=2), axis=1))
    return best


def _assert_same_curves(left: list[np.ndarray], right: list[np.ndarray]) -> None:
    assert left
    assert right
    for one, other in ((left, right), (right, left)):
        pts = np.concatenate(one)
        np.testing.assert_array_less(_segments_distance(pts, other), 1e-7)


def _curves(result: TraceResult) -> list[np.ndarray]:
    return [c.points for c in result.curves]


@pytest.mark.parametrize("decision", [None, "argmax"])
def test_solve_for_and_sweep_trace_the_plane_of_those_inputs(decision: str | None) -> None:
    chosen = trace_network(NET, BOX, decision=decision, solve_for="x3", sweep="x1", at={"x2": 0.3})
    permuted = trace_network(PERMUTED, BOX, decision=decision, at={"x2": 0.3})
    assert chosen.complete
    assert permuted.complete
    _assert_same_curves(_curves(chosen), _curves(permuted))
    assert {c.between for c in chosen.curves} == {c.between for c in permuted.curves}
    assert default_box(NET, solve_for="x3", sweep="x1", at={"x2": 0.3}) == pytest.approx(
        default_box(PERMUTED, at={"x2": 0.3})
    )


def test_axes_by_index_still_work_and_must_agree_with_the_names() -> None:
    by_index = trace_network(NET, BOX, axes=(2, 0), at={"x2": 0.3})
    by_name = trace_network(NET, BOX, solve_for="x3", sweep="x1", at={"x2": 0.3})
    _assert_same_curves(_curves(by_index), _curves(by_name))
    with pytest.raises(OptionError, match=r"axes=\(2, 0\) contradicts solve_for='x2'"):
        trace_network(NET, BOX, axes=(2, 0), solve_for="x2", at={"x2": 0.3})


def test_argmin_is_argmax_of_the_negated_outputs() -> None:
    lowest = trace_network(NET, BOX, decision="argmin", at={"x3": -0.4})
    largest = trace_network(NEGATED, BOX, argmax=True, at={"x3": -0.4})
    _assert_same_curves(_curves(lowest), _curves(largest))
    assert {c.between for c in lowest.curves} == {c.between for c in largest.curves}
    # On every piece its two outputs tie and are the lowest (checked on the network itself).
    names = NET.output_names
    for curve in lowest.curves:
        assert curve.between is not None
        a, b = (names.index(n) for n in curve.between)
        full = np.c_[curve.points, np.full(len(curve.points), -0.4)]
        pre = NET.preactivations(full)
        np.testing.assert_allclose(pre[:, a], pre[:, b], atol=1e-8)
        assert np.all(np.min(pre, axis=1) >= pre[:, a] - 1e-8)
    # The largest output's boundary is another curve set.
    plain = trace_network(NET, BOX, decision="argmax", at={"x3": -0.4})
    far = _segments_distance(np.concatenate(_curves(plain)), _curves(lowest))
    assert np.max(far) > 0.1


def test_argmax_flag_contradicting_decision_is_refused() -> None:
    with pytest.raises(OptionError, match="argmax=True contradicts decision='argmin'"):
        trace_network(NET, BOX, argmax=True, decision="argmin", at={"x3": 0.0})


# -- the command line ----------------------------------------------------------------------


def _write(tmp_path: Path, name: str, net: Network) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(net.to_json()))
    return str(path)


def _csv_curves(text: str) -> tuple[list[str], list[np.ndarray]]:
    rows = list(csv.reader(io.StringIO(text)))
    by_curve: dict[str, list[list[float]]] = {}
    for k, a, b in rows[1:]:
        by_curve.setdefault(k, []).append([float(a), float(b)])
    return rows[0], [np.array(v) for v in by_curve.values()]


def test_cli_trace_argmin(tmp_path: Path) -> None:
    net, neg = _write(tmp_path, "net.json", NET), _write(tmp_path, "neg.json", NEGATED)
    common = [*RANGES, "--at", "x3=-0.4", "--format", "csv"]
    lowest = CliRunner().invoke(main, ["trace", net, "--argmin", *common])
    largest = CliRunner().invoke(main, ["trace", neg, "--argmax", *common])
    assert lowest.exit_code == 0, lowest.output
    assert lowest.stderr == ""
    header, curves = _csv_curves(lowest.stdout)
    assert header == ["curve", "x1", "x2"]
    _assert_same_curves(curves, _csv_curves(largest.stdout)[1])
    both = CliRunner().invoke(main, ["trace", net, "--argmin", "--argmax", *common])
    assert both.exit_code == 2
    assert both.stderr.endswith("Error: give only one of --argmax and --argmin\n")


def test_cli_trace_solve_for_and_sweep(tmp_path: Path) -> None:
    net, permuted = _write(tmp_path, "net.json", NET), _write(tmp_path, "perm.json", PERMUTED)
    chosen = CliRunner().invoke(
        main,
        ["trace", net, "--solve-for", "x3", "--sweep", "x1", "--at", "x2=0.3", *RANGES,
         "--format", "csv"],
    )  # fmt: skip
    assert chosen.exit_code == 0, chosen.output
    header, curves = _csv_curves(chosen.stdout)
    assert header == ["curve", "x3", "x1"]
    plain = CliRunner().invoke(
        main, ["trace", permuted, "--at", "x2=0.3", *RANGES, "--format", "csv"]
    )
    _assert_same_curves(curves, _csv_curves(plain.stdout)[1])
    table = CliRunner().invoke(
        main, ["trace", net, "--solve-for", "x3", "--sweep", "x1", "--at", "x2=0.3", *RANGES]
    )
    assert "first (x3, x1)" in table.stdout
    doc = CliRunner().invoke(
        main,
        ["trace", net, "--solve-for", "x3", "--sweep", "x1", "--at", "x2=0.3", *RANGES,
         "--format", "json"],
    )  # fmt: skip
    assert (json.loads(doc.stdout)["solve_for"], json.loads(doc.stdout)["sweep"]) == ("x3", "x1")
    same = CliRunner().invoke(
        main, ["trace", net, "--solve-for", "x1", "--sweep", "x1", "--at", "x2=0", *RANGES]
    )
    assert same.exit_code == 2
    assert same.stderr.endswith(
        "Error: --sweep x1: the swept input must differ from the solved one (--solve-for x1)\n"
    )
    missing = CliRunner().invoke(main, ["trace", net, "--solve-for", "x3", *RANGES])
    assert missing.exit_code == 2
    assert missing.stderr.endswith(
        "Error: the network has inputs with no value: give --at x1=VALUE (or --at-file FILE)\n"
    )


def test_cli_plot_argmin(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    net = _write(tmp_path, "net.json", NET)
    out = tmp_path / "low.png"
    run = CliRunner().invoke(
        main,
        ["plot", net, "--argmin", "--at", "x3=-0.4", "-o", str(out), "--solve-for", "x2",
         "--sweep", "x1", *RANGES],
    )  # fmt: skip
    assert run.exit_code == 0, run.output
    assert out.read_bytes().startswith(b"\x89PNG")
    assert run.stderr.startswith(f"wrote {out}: ")
    assert "in [-3, 3] x [-3, 3], complete" in run.stderr
