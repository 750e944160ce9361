"""The certified search of a box: every component of the boundary, however small, is traced,
and what cannot be decided is reported as unresolved, never drawn.

Each network here is built so that its boundary is known independently: the margins are
re-evaluated in these tests with plain numpy formulas (or in mpmath by ``reference_mp``), never
with netbound's own evaluation.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray
from reference_mp import layers_from_json, make_spec, sign_change_near
from scipy.spatial import cKDTree

import netbound
from netbound import Network
from netbound.region import FLOOR, PlaneEnclosure
from netbound.trace import TraceResult, trace, trace_network

ROOT = Path(__file__).resolve().parent.parent
Array = NDArray[np.float64]


def _sigmoid(u: Array) -> Array:
    out: Array = 0.5 * (1.0 + np.tanh(0.5 * u))
    return out


def _square_units(
    cx: float, cy: float, half: float, k: float
) -> tuple[list[list[float]], list[float]]:
    """Four sigmoid units whose sum exceeds 3.5 inside the square of half side ``half``."""
    weights = [[k, 0.0], [-k, 0.0], [0.0, k], [0.0, -k]]
    biases = [-k * (cx - half), k * (cx + half), -k * (cy - half), k * (cy + half)]
    return weights, biases


def _square_sum(x: Array, cx: float, cy: float, half: float, k: float) -> Array:
    w, b = _square_units(cx, cy, half, k)
    return np.sum(_sigmoid(x @ np.array(w).T + np.array(b)), axis=-1)


def _island(cx: float, cy: float, width: float) -> tuple[Network, float]:
    """A network whose class-1 region is a rounded square ``width`` across at (cx, cy)."""
    k = 40.0 / width
    w, b = _square_units(cx, cy, width / 2, k)
    return Network.from_layers([(w, b, "sigmoid"), ([[1.0, 1.0, 1.0, 1.0]], [-3.5], "sigmoid")]), k


def _winds_around(curve: Array, p: tuple[float, float]) -> bool:
    """Does the closed polyline wind around the point?"""
    rel = curve - np.array(p)
    ang = np.arctan2(rel[:, 1], rel[:, 0])
    turn = np.diff(np.concatenate([ang, ang[:1]]))
    turn = (turn + np.pi) % (2 * np.pi) - np.pi
    return bool(abs(np.sum(turn)) > np.pi)


def _on_boundary(f: Array, grad: Array, size: float) -> None:
    distance = np.abs(f) / np.hypot(grad[:, 0], grad[:, 1])
    assert np.max(distance) <= 1e-9 * size, np.max(distance)


BOX = (-10.0, 10.0, -10.0, 10.0)


@pytest.mark.parametrize("fraction", [1e-2, 1e-3, 1e-4, 1e-5])
def test_an_island_is_found_however_small(fraction: float) -> None:
    width = fraction * (BOX[1] - BOX[0])
    cx, cy = 0.3, 0.7
    net, k = _island(cx, cy, width)
    result = trace_network(net, BOX)
    assert result.complete
    assert result.unresolved == ()
    closed = [c for c in result.curves if c.closed]
    assert len(result.curves) == 1
    assert len(closed) == 1
    pts = closed[0].points
    assert _winds_around(pts, (cx, cy))
    extent = np.ptp(pts, axis=0)
    assert np.all(extent > 0.5 * width)
    assert np.all(extent < 1.2 * width)
    # On the boundary, by the independent formula: sum of the four units = 3.5.
    w, b = _square_units(cx, cy, width / 2, k)
    s = _sigmoid(pts @ np.array(w).T + np.array(b))
    f = s.sum(axis=1) - 3.5
    grad = (s * (1 - s)) @ np.array(w)
    _on_boundary(f, grad, float(np.hypot(20.0, 20.0)))


def test_an_island_in_a_huge_box_is_found_by_the_cli(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from netbound.cli import main

    net, _ = _island(0.3, 0.7, 0.004)
    path = tmp_path / "island.json"
    path.write_text(json.dumps(net.to_json()))
    args = ["trace", str(path), "--x1-range", "-10", "10", "--x2-range", "-10", "10"]
    out = CliRunner().invoke(main, [*args, "--format", "json"])
    assert out.exit_code == 0, out.output
    got = json.loads(out.stdout)
    assert got["complete"] is True
    assert got["unresolved"] == []
    assert got["box"] == [-10.0, 10.0, -10.0, 10.0]
    assert [c["closed"] for c in got["curves"]] == [True]


def test_two_nested_tiny_loops() -> None:
    # A ring: inside an outer square (1e-3 across) but outside an inner one (4e-4 across),
    # both far smaller than the grid's cells: neither crosses a grid line.
    cx, cy = 0.3, 0.7
    ko, ki = 4e4, 1e5
    wo, bo = _square_units(cx, cy, 5e-4, ko)
    wi, bi = _square_units(cx, cy, 2e-4, ki)
    g = 10.0
    second = [[g] * 4 + [0.0] * 4, [0.0] * 4 + [g] * 4]
    net = Network.from_layers(
        [
            (wo + wi, bo + bi, "sigmoid"),
            (second, [-3.5 * g, -3.5 * g], "sigmoid"),
            ([[1.0, -1.0]], [-0.5], "identity"),
        ]
    )
    result = trace_network(net, BOX)
    assert result.complete
    assert len(result.curves) == 2
    assert all(c.closed for c in result.curves)
    outer, inner = sorted(result.curves, key=lambda c: -float(np.ptp(c.points[:, 0])))
    assert _winds_around(outer.points, (cx, cy))
    assert _winds_around(inner.points, (cx, cy))
    assert np.ptp(outer.points[:, 0]) > 1.5 * np.ptp(inner.points[:, 0])
    # Every point of the inner loop lies inside the outer loop's extent.
    lo, hi = outer.points.min(axis=0), outer.points.max(axis=0)
    assert np.all((inner.points > lo) & (inner.points < hi))
    # The margin vanishes on both, by the independent formula.
    for curve in result.curves:
        x = curve.points
        vo = _sigmoid(g * (_square_sum(x, cx, cy, 5e-4, ko) - 3.5))
        vi = _sigmoid(g * (_square_sum(x, cx, cy, 2e-4, ki) - 3.5))
        assert np.max(np.abs(vo - vi - 0.5)) < 1e-6


def test_a_loop_a_millionth_of_the_box_from_an_open_branch() -> None:
    # Above the line x2 = 0 (an open branch across the box) a small island whose lower edge
    # is 2e-6 above it: 1e-6 of the box's side.  Two layers, so that the island's units
    # act only near the island.
    box = (-1.0, 1.0, -1.0, 1.0)
    gap = 1e-6 * (box[1] - box[0])
    k = 1e7
    w, b = _square_units(0.25, gap + 5e-4, 5e-4, k)
    g = 20.0
    net = Network.from_layers(
        [
            ([*w, [0.0, -k]], [*b, 0.0], "sigmoid"),
            ([[g, g, g, g, 0.0], [0.0, 0.0, 0.0, 0.0, g]], [-3.5 * g, -0.5 * g], "sigmoid"),
            ([[1.0, 1.0]], [-0.5], "identity"),
        ]
    )
    result = trace_network(net, box)
    assert result.complete
    assert sorted(c.closed for c in result.curves) == [False, True]
    line = next(c for c in result.curves if not c.closed)
    loop = next(c for c in result.curves if c.closed)
    assert np.max(np.abs(line.points[:, 1])) < 1e-7
    assert {line.points[0, 0], line.points[-1, 0]} == {-1.0, 1.0}
    assert np.min(loop.points[:, 1]) > 0.5 * gap
    assert _winds_around(loop.points, (0.25, gap + 5e-4))


def _figure_eight() -> Network:
    """f = A(x1) + B(x2) - L: two humps in x1 (at -1.2 and 1.2), one in x2 (at 0), and L
    their sum at the origin, a saddle of f on the level 0: the boundary is a figure eight
    that touches itself there."""
    rows, biases, out = [], [], []
    for axis, centre in ((0, -1.2), (0, 1.2), (1, 0.0)):
        # hump(t) = sigmoid(3 (t - c + 0.8)) - sigmoid(3 (t - c - 0.8))
        row = [0.0, 0.0]
        row[axis] = 3.0
        rows += [row, row]
        biases += [3.0 * (-centre + 0.8), 3.0 * (-centre - 0.8)]
        out += [1.0, -1.0]
    at_origin = _sigmoid(np.array(biases)) @ np.array(out)
    return Network.from_layers(
        [(rows, biases, "sigmoid"), ([out], [-float(at_origin)], "identity")]
    )


def test_a_figure_eight_is_never_silently_merged() -> None:
    net = _figure_eight()
    box = (-4.0, 4.0, -3.0, 3.0)
    result = trace_network(net, box)
    closed = [c for c in result.curves if c.closed]
    cells = np.array(result.unresolved).reshape(-1, 4)
    at_saddle = (cells[:, 0] <= 0) & (cells[:, 1] >= 0) & (cells[:, 2] <= 0) & (cells[:, 3] >= 0)
    if result.complete:
        assert len(closed) == 2
    else:
        assert np.any(at_saddle)
    # No curve runs through the touching point: each stays clear of it or stops at it.
    for c in closed:
        assert not (_winds_around(c.points, (-1.2, 0.0)) and _winds_around(c.points, (1.2, 0.0)))


def test_a_deep_tanh_net_against_a_fine_grid() -> None:
    doc = json.loads((ROOT / "sample_nets" / "tanh_deep.json").read_text())
    net = netbound.load(ROOT / "sample_nets" / "tanh_deep.json")
    box = (-20.0, 60.0, -20.0, 20.0)
    result = trace_network(net, box)
    assert result.complete
    n = 4000
    xs = np.linspace(box[0], box[1], n)
    ys = np.linspace(box[2], box[3], n)
    layers = [
        (np.array(layer["weights"]), np.array(layer["biases"]), layer["activation"])
        for layer in doc["layers"]
    ]
    crossings = []
    rows = 400
    previous = None
    for start in range(0, n, rows):
        gy, gx = np.meshgrid(ys[start : start + rows], xs, indexing="ij")
        w0, b0, _ = layers[0]
        v = [np.tanh(w0[u, 0] * gx + w0[u, 1] * gy + b0[u]) for u in range(w0.shape[0])]
        for w, b, act in layers[1:-1]:
            pre = [sum(w[u, i] * v[i] for i in range(len(v))) + b[u] for u in range(w.shape[0])]
            v = [np.tanh(p) if act == "tanh" else _sigmoid(p) for p in pre]
        w, b, _ = layers[-1]
        f = sum((w[0, i] - w[1, i]) * v[i] for i in range(len(v))) + (b[0] - b[1])
        if previous is not None:
            f = np.concatenate([previous[None, :], f])
        off = start - (1 if previous is not None else 0)
        resolved = np.abs(f) > 1e-12
        across = (np.sign(f[:, 1:]) != np.sign(f[:, :-1])) & resolved[:, 1:] & resolved[:, :-1]
        i, j = np.nonzero(across)
        crossings.append(np.stack([0.5 * (xs[j] + xs[j + 1]), ys[off + i]], axis=1))
        up = (np.sign(f[1:]) != np.sign(f[:-1])) & resolved[1:] & resolved[:-1]
        i, j = np.nonzero(up)
        crossings.append(np.stack([xs[j], 0.5 * (ys[off + i] + ys[off + i + 1])], axis=1))
        previous = f[-1]
    grid_points = np.concatenate(crossings)
    assert grid_points.shape[0] > 100
    dense = []
    for c in result.curves:
        p = np.concatenate([c.points, c.points[:1]]) if c.closed else c.points
        t = np.linspace(0.0, 1.0, 41)[:, None, None]
        dense.append((p[:-1][None] * (1 - t) + p[1:][None] * t).reshape(-1, 2))
    tree = cKDTree(np.concatenate(dense))
    cell = np.hypot(xs[1] - xs[0], ys[1] - ys[0])
    d, _ = tree.query(grid_points)
    # Every sign change of the grid lies on a traced curve (within a grid cell, plus the
    # chords' sag and the spacing of the densified chords).
    assert np.max(d) <= cell + 0.02 * result.step, np.max(d)
    # And every traced point lies near a sign change of the grid.
    d_back, _ = cKDTree(grid_points).query(np.concatenate([c.points for c in result.curves]))
    assert np.max(d_back) <= 2.0 * cell


def test_the_far_field_has_no_fake_curves() -> None:
    # Far out the seed network's margin falls below what float64 can resolve: there the trace
    # must say unresolved, and every point it does return must be on the boundary (checked
    # in mpmath at 40 digits).
    net = netbound.load(ROOT / "sample_nets" / "seed.json")
    box = (-60.0, 20.0, 0.0, 8.0)
    result = trace_network(net, box)
    size = float(np.hypot(80.0, 8.0))
    layers = layers_from_json(json.loads((ROOT / "sample_nets" / "seed_layered.json").read_text()))
    swapped = [([[r[1], r[0]] for r in layers[0][0]], *layers[0][1:]), *layers[1:]]
    points = (
        np.concatenate([c.points for c in result.curves]) if result.curves else np.empty((0, 2))
    )
    for x1, x2 in points[:: max(1, points.shape[0] // 60)]:
        radius = 1e-8 * size
        found = sign_change_near(make_spec(layers, x2), x1, radius) or sign_change_near(
            make_spec(swapped, x1), x2, radius
        )
        assert found, (x1, x2)
    if result.complete:
        assert result.unresolved == ()
    else:
        assert result.unresolved


def test_the_search_floor_is_relative_to_the_box() -> None:
    # A closed loop far below the floor is never claimed to be absent: its cell is unresolved.
    width = 0.05 * FLOOR * 20.0
    net, _ = _island(0.3, 0.7, width)
    result = trace_network(net, BOX)
    cells = np.array(result.unresolved).reshape(-1, 4)
    if result.complete:
        assert any(c.closed for c in result.curves)
    else:
        holds = (
            (cells[:, 0] <= 0.3)
            & (cells[:, 1] >= 0.3)
            & (cells[:, 2] <= 0.7)
            & (cells[:, 3] >= 0.7)
        )
        assert np.any(holds)


def test_enclosures_hold_the_sampled_margin_and_gradient() -> None:
    net = netbound.load(ROOT / "sample_nets" / "tanh_deep.json")
    margin = netbound.margin_between(net, "z1", "z2")
    enclose = PlaneEnclosure(margin, np.zeros(2), (0, 1))
    rng = np.random.default_rng(5)
    lo = rng.uniform(-30, 30, size=(200, 2))
    hi = lo + rng.uniform(1e-6, 3.0, size=(200, 2))
    flo, fhi, glo, ghi = enclose(lo[:, 0], hi[:, 0], lo[:, 1], hi[:, 1])
    doc = json.loads((ROOT / "sample_nets" / "tanh_deep.json").read_text())
    layers = [
        (np.array(layer["weights"]), np.array(layer["biases"]), layer["activation"])
        for layer in doc["layers"]
    ]
    t = rng.uniform(size=(200, 50, 2))
    x = lo[:, None, :] + t * (hi - lo)[:, None, :]
    v, dv = x, np.broadcast_to(np.eye(2), (*x.shape[:2], 2, 2))
    for w, b, act in layers[:-1]:
        pre = v @ w.T + b
        slope = 1 - np.tanh(pre) ** 2 if act == "tanh" else _sigmoid(pre) * (1 - _sigmoid(pre))
        dv = slope[..., None] * np.einsum("uk,...kd->...ud", w, dv)
        v = np.tanh(pre) if act == "tanh" else _sigmoid(pre)
    w, _, _ = layers[-1]
    r = w[0] - w[1]
    f = v @ r + (doc["layers"][-1]["biases"][0] - doc["layers"][-1]["biases"][1])
    g = np.einsum("u,...ud->...d", r, dv)
    assert np.all(f >= flo[:, None] - 1e-12)
    assert np.all(f <= fhi[:, None] + 1e-12)
    diag = np.stack([g[..., 0], g[..., 1], g[..., 0] + g[..., 1], g[..., 0] - g[..., 1]], axis=-1)
    assert np.all(diag >= glo[:, None, :] - 1e-12)
    assert np.all(diag <= ghi[:, None, :] + 1e-12)


def test_result_repr_is_short() -> None:
    net = netbound.load(ROOT / "sample_nets" / "seed.json")
    result: TraceResult = trace_network(net, (-5.0, 5.0, -5.0, 5.0))
    assert len(repr(result)) < 200
    assert (
        repr(result.curves[0])
        == f"Curve(open, {result.curves[0].points.shape[0]} points, between=('z1', 'z2'))"
    )


def test_progress_is_reported_and_nothing_printed(capsys: pytest.CaptureFixture[str]) -> None:
    seen: list[tuple[str, float]] = []
    margin = netbound.margin_between(netbound.load(ROOT / "sample_nets" / "seed.json"), "z1", "z2")
    trace(margin, (-5.0, 5.0, -5.0, 5.0), progress=lambda stage, done: seen.append((stage, done)))
    stages = [s for s, _ in seen]
    assert stages[0] == "solving grid lines"
    assert "searching cells" in stages
    assert seen[-1] == ("tracing curves", 1.0)
    assert all(0.0 <= d <= 1.0 for _, d in seen)
    out = capsys.readouterr()
    assert out.out == ""
    assert out.err == ""


def test_axes_pick_the_plane() -> None:
    # The same network with its inputs swapped traces the mirrored curves.
    net = netbound.load(ROOT / "sample_nets" / "seed_layered.json")
    doc = json.loads((ROOT / "sample_nets" / "seed_layered.json").read_text())
    for layer in doc["layers"][:1]:
        layer["weights"] = [[r[1], r[0]] for r in layer["weights"]]
    doc.pop("probe", None)
    swapped = netbound.loads(json.dumps(doc))
    box = (-5.0, 5.0, -4.0, 4.0)
    a = trace_network(net, box)
    b = trace_network(swapped, box, axes=(1, 0))
    assert len(a.curves) == len(b.curves) == 1
    np.testing.assert_allclose(a.curves[0].points, b.curves[0].points, rtol=0, atol=1e-12)


def test_no_curve_is_traced_twice() -> None:
    # Regression: crossings found by the search on neighbouring cutting segments of one long
    # curve once got tolerances from each other's distance and were traced again.
    net = netbound.load(ROOT / "sample_nets" / "tanh_deep.json")
    result = trace_network(net, netbound.default_box(net))
    assert result.complete
    for i, a in enumerate(result.curves):
        for b in result.curves[i + 1 :]:
            t = np.linspace(0.0, 1.0, 200)[:, None, None]
            dense = (b.points[:-1][None] * (1 - t) + b.points[1:][None] * t).reshape(-1, 2)
            d, _ = cKDTree(dense).query(a.points)
            assert np.mean(d < 1e-2 * result.step) < 0.5
