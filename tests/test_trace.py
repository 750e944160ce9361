"""Tracing the boundary inside a box (the ``trace`` command of the README and docs/trace.md).

Every traced point must lie on the boundary (distance |f| / |grad f| at most 1e-9 of the box's
size), consecutive points at most ``step`` apart, and every root that the certified solver
finds on lines across the box must lie on a traced curve.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import netbound
from netbound import Margin, Network, OptionError
from netbound.boundary import boundary_margins
from netbound.loading import network_from_json
from netbound.trace import (
    Curve,
    TraceResult,
    _distance_to_polyline,
    default_box,
    trace,
    trace_network,
)

DATA = Path(__file__).parent / "data" / "reference_roots.json"
CASES: list[dict[str, Any]] = json.loads(DATA.read_text())
BOX = (-5.0, 5.0, -5.0, 5.0)

K = 4.0
#: A bump: four sigmoid units make a rounded square around the origin; z > 0.5 inside.
BUMP = Network.from_layers(
    [
        ([[K, 0], [-K, 0], [0, K], [0, -K]], [K, K, K, K], "sigmoid"),
        ([[1, 1, 1, 1]], [-3.5], "sigmoid"),
    ]
)
#: Two bumps, around (-2, 0) and (2, 0): a boundary of two closed components.
TWO_BUMPS = Network.from_layers(
    [
        (
            [[K, 0], [-K, 0], [K, 0], [-K, 0], [0, K], [0, -K]],
            [-K, 3 * K, 3 * K, -K, K, K],
            "sigmoid",
        ),
        ([[1, 1, 1, 1, 1, 1]], [-4.5], "sigmoid"),
    ]
)
#: relu(x1) + relu(x2) + relu(-x1 - x2) = 1: a hexagon with corners at the unit points.
HEXAGON = Network.from_layers(
    [([[1, 0], [0, 1], [-1, -1]], [0, 0, 0], "relu"), ([[1, 1, 1]], [-1], "identity")]
)
HEXAGON_CORNERS = [(1, 0), (0, 1), (-1, 1), (-1, 0), (0, -1), (1, -1)]
#: Three linear classes meeting at one point.
ANGLES = np.array([0.0, 2.1, 4.0])
THREE_CLASSES = Network.from_layers(
    [(np.c_[np.cos(ANGLES), np.sin(ANGLES)], [0.3, 0.0, 0.0], "identity")]
)


def _case(name: str) -> dict[str, Any]:
    return next(c for c in CASES if c["name"] == name)


def _net(case: dict[str, Any]) -> Network:
    return network_from_json(case["net"], case["name"])


def _margin(case: dict[str, Any]) -> Margin:
    between = tuple(case["between"]) if case["between"] else None
    return boundary_margins(_net(case), between, case["threshold"], False)[0]  # type: ignore[arg-type]


def _base(margin: Margin) -> np.ndarray | None:
    return np.array([0.0, 0.0, 0.25]) if margin.network.n_inputs > 2 else None


def _full(margin: Margin, pts: np.ndarray, base: np.ndarray | None) -> np.ndarray:
    x = np.zeros((pts.shape[0], margin.network.n_inputs))
    if base is not None:
        x[:] = base
    x[:, :2] = pts
    return x


def _distance(margin: Margin, pts: np.ndarray, base: np.ndarray | None = None) -> np.ndarray:
    x = _full(margin, pts, base)
    f = margin.value(x)
    g = margin.gradient(x)[:, :2]
    return np.where(f == 0.0, 0.0, np.abs(f) / np.hypot(g[:, 0], g[:, 1]))


def _polyline(curve: Curve) -> np.ndarray:
    pts = curve.points
    return np.concatenate([pts, pts[:1]]) if curve.closed else pts


def _check_geometry(result: TraceResult, margin: Margin, base: np.ndarray | None) -> None:
    """Every point on the boundary, inside the box; consecutive points at most step apart."""
    x1lo, x1hi, x2lo, x2hi = result.box
    size = min(x1hi - x1lo, x2hi - x2lo)
    for curve in result.curves:
        pts = curve.points
        assert pts.ndim == 2
        assert pts.shape[1] == 2
        assert np.all(np.isfinite(pts))
        d = _distance(margin, pts, base)
        assert np.max(d) <= 1e-9 * size, np.max(d)
        assert np.all((pts[:, 0] >= x1lo) & (pts[:, 0] <= x1hi))
        assert np.all((pts[:, 1] >= x2lo) & (pts[:, 1] <= x2hi))
        if pts.shape[0] > 1:
            gaps = np.hypot(*np.diff(_polyline(curve), axis=0).T)
            assert np.max(gaps) <= result.step
    assert result.max_distance <= 1e-9 * size


def _check_coverage(
    result: TraceResult, margin: Margin, base: np.ndarray | None, lines: int = 25
) -> None:
    """Every root on ``lines`` lines each way (off the seeding grid) lies on a traced curve."""
    box = result.box
    polylines = [_polyline(c) for c in result.curves]
    for axis in (0, 1):
        other = 1 - axis
        lo, hi = box[2 * other], box[2 * other + 1]
        values = lo + (np.arange(lines) + 0.37) * (hi - lo) / lines
        rows = np.zeros((lines, margin.network.n_inputs))
        if base is not None:
            rows[:] = base
        rows[:, other] = values
        window = (box[2 * axis], box[2 * axis + 1])
        for value, sol in zip(
            values, netbound.solve_lines(margin, rows, axis, window), strict=True
        ):
            for t, _ in sol.roots:
                x = np.empty((1, 2))
                x[0, axis], x[0, other] = t, value
                near = min(
                    (float(_distance_to_polyline(x, p)[0]) for p in polylines), default=np.inf
                )
                # A chord is within step * turn / 8 of its arc; the turn is at most 20 degrees.
                assert near <= 0.05 * result.step, (axis, value, t, near / result.step)


TRACED = [c["name"] for c in CASES if c["name"] != "tangent_a1.0_eps0"]


@pytest.mark.parametrize("name", TRACED)
def test_reference_nets(name: str) -> None:
    margin = _margin(_case(name))
    base = _base(margin)
    result = trace(margin, BOX, base=base)
    assert result.complete
    assert not result.everywhere
    _check_geometry(result, margin, base)
    _check_coverage(result, margin, base)


@pytest.mark.parametrize("box", [(-2.0, 3.0, -1.0, 1.0), (0.5, 0.75, -3.0, 3.0)])
@pytest.mark.parametrize("name", ["seed232_5", "seed232_7", "wide_tanh12_3", "deep_2"])
def test_other_boxes(name: str, box: tuple[float, float, float, float]) -> None:
    margin = _margin(_case(name))
    result = trace(margin, box)
    _check_geometry(result, margin, None)
    _check_coverage(result, margin, None)


@pytest.mark.parametrize("seed", range(10))
def test_random_nets(seed: int) -> None:
    rng = np.random.default_rng(seed)
    act = ["sigmoid", "tanh", "relu", "softplus", "leaky_relu"][seed % 5]
    h = int(rng.integers(3, 9))
    layers: list[tuple[Any, Any, str]] = [(rng.normal(0, 2, (h, 2)), rng.normal(0, 2, h), act)]
    if seed % 2:
        layers.append((rng.normal(0, 2, (h, h)), rng.normal(0, 2, h), act))
    layers.append((rng.normal(0, 1, (2, h)), rng.normal(0, 1, 2), "identity"))
    margin = netbound.margin_between(Network.from_layers(layers), "z1", "z2")
    result = trace(margin, (-3.0, 3.9, -2.4, 3.0))
    _check_geometry(result, margin, None)
    _check_coverage(result, margin, None)


def test_seed_net_open_curves_end_exactly_on_the_edges() -> None:
    margin = _margin(_case("seed232_7"))
    result = trace(margin, BOX)
    assert len(result.curves) == 2
    for curve in result.curves:
        assert not curve.closed
        for end in (curve.points[0], curve.points[-1]):
            assert end[0] in (-5.0, 5.0) or end[1] in (-5.0, 5.0)


def test_a_closed_loop_is_one_closed_curve() -> None:
    margin = netbound.margin_threshold(BUMP)
    result = trace(margin, (-3.0, 3.0, -3.0, 3.0))
    assert len(result.curves) == 1
    (curve,) = result.curves
    assert curve.closed
    _check_geometry(result, margin, None)
    _check_coverage(result, margin, None)
    # It goes once around the origin: the winding number is +-1.
    angle = np.unwrap(np.arctan2(curve.points[:, 1], curve.points[:, 0]))
    closing = np.angle(np.exp(1j * (angle[0] - angle[-1])))
    assert abs(angle[-1] - angle[0] + closing) == pytest.approx(2 * math.pi)
    # The first point is not repeated.
    assert not np.array_equal(curve.points[0], curve.points[-1])


def test_several_components_each_appear() -> None:
    margin = netbound.margin_threshold(TWO_BUMPS)
    result = trace(margin, (-4.0, 4.0, -3.0, 3.0))
    assert len(result.curves) == 2
    assert all(c.closed for c in result.curves)
    centres = sorted(float(np.mean(c.points[:, 0])) for c in result.curves)
    assert centres == pytest.approx([-2.0, 2.0], abs=0.05)
    _check_geometry(result, margin, None)
    _check_coverage(result, margin, None)


def test_a_loop_cut_by_the_box_is_open() -> None:
    margin = netbound.margin_threshold(BUMP)
    result = trace(margin, (0.0, 3.0, -3.0, 3.0))
    assert len(result.curves) == 1
    (curve,) = result.curves
    assert not curve.closed
    assert curve.points[0][0] == 0.0
    assert curve.points[-1][0] == 0.0
    _check_geometry(result, margin, None)


def test_relu_corners_are_points_of_the_polyline() -> None:
    margin = netbound.margin_threshold(HEXAGON)
    result = trace(margin, (-3.0, 3.0, -3.0, 3.0))
    assert len(result.curves) == 1
    (curve,) = result.curves
    assert curve.closed
    for corner in HEXAGON_CORNERS:
        assert np.min(np.hypot(*(curve.points - corner).T)) <= 1e-12
    _check_geometry(result, margin, None)
    _check_coverage(result, margin, None)
    # Straight between corners: every point but the corners lies on one of the six edges.
    assert curve.points.shape[0] < 200


def test_step_bounds_the_chords_and_sets_the_default() -> None:
    margin = netbound.margin_threshold(BUMP)
    box = (-3.0, 3.0, -2.0, 2.0)
    default = trace(margin, box)
    assert default.step == pytest.approx(math.hypot(6.0, 4.0) / 200)
    coarse = trace(margin, box, step=0.5)
    assert coarse.step == 0.5
    assert len(coarse.curves) == 1
    _check_geometry(coarse, margin, None)
    assert coarse.curves[0].points.shape[0] < default.curves[0].points.shape[0]


def test_argmax_pieces_meet_at_the_triple_point() -> None:
    result = trace_network(THREE_CLASSES, (-2.0, 2.0, -2.0, 2.0), argmax=True)
    assert sorted(c.between for c in result.curves if c.between) == [
        ("z1", "z2"),
        ("z1", "z3"),
        ("z2", "z3"),
    ]
    w = np.c_[np.cos(ANGLES), np.sin(ANGLES)]
    b = np.array([0.3, 0.0, 0.0])
    triple = np.linalg.solve(w[:2] - w[1:], b[1:] - b[:2])
    for curve in result.curves:
        ends = [curve.points[0], curve.points[-1]]
        assert min(float(np.hypot(*(e - triple))) for e in ends) <= 1e-12
        # Every point is where its pair is on top.
        pre = THREE_CLASSES.preactivations(curve.points)
        a, c = (THREE_CLASSES.output_names.index(n) for n in curve.between or ())
        assert np.all(np.max(pre, axis=1) <= np.maximum(pre[:, a], pre[:, c]) + 1e-9)


def test_trace_network_builds_the_margin_like_solve() -> None:
    case = _case("deep_1")
    net = _net(case)
    between = ("z1", "z3")
    result = trace_network(net, BOX, between=between)
    assert result.curves
    assert all(c.between == between for c in result.curves)
    _check_geometry(result, netbound.margin_between(net, *between), None)
    first = trace_network(net, BOX)
    assert all(c.between == ("z1", "z2") for c in first.curves)
    single = trace_network(BUMP, (-3.0, 3.0, -3.0, 3.0), threshold=0.55)
    assert len(single.curves) == 1
    _check_geometry(single, netbound.margin_threshold(BUMP, 0.55), None)
    with pytest.raises(OptionError, match=r"between=\(.*\): needs two outputs"):
        trace_network(BUMP, BOX, between=("z1", "z2"))


def test_inputs_beyond_two() -> None:
    case = _case("three_in_0")
    net = _net(case)
    with pytest.raises(OptionError, match="no value for the input\\(s\\) x3"):
        trace_network(net, BOX)
    result = trace_network(net, BOX, at={"x3": 0.25})
    margin = netbound.margin_between(net, "z1", "z2")
    _check_geometry(result, margin, np.array([0.0, 0.0, 0.25]))
    short = trace(margin, BOX, base=[0.25])
    assert [c.points.tolist() for c in short.curves] == [c.points.tolist() for c in result.curves]
    with pytest.raises(OptionError, match="inputs beyond the two axes"):
        trace(margin, BOX)


@pytest.mark.parametrize(
    ("box", "step", "message"),
    [
        ((0.0, 0.0, 0.0, 1.0), None, r"^box: the x1 range \(0.0, 0.0\) needs lo < hi$"),
        ((0.0, 1.0, 2.0, 1.0), None, r"^box: the x2 range \(2.0, 1.0\) needs lo < hi$"),
        ((0.0, math.inf, 0.0, 1.0), None, r"^box: the x1 range \(0.0, inf\) must be finite$"),
        ((0.0, 1.0, 0.0), None, "a box is"),
        ((0.0, 1.0, 0.0, 1.0), 0.0, r"^step=0.0: must be a positive number$"),
        ((0.0, 1.0, 0.0, 1.0), math.nan, r"^step=nan: must be a positive number$"),
        ((0.0, 1.0, 0.0, 1.0), 1e-9, r"^step=1e-09 is too small for the box: "),
        (
            (0.0, 1.0, 0.0, 2.0),
            2.5,
            r"^step=2.5 is larger than the box \(its longer side is 2\): give 0 < step <= 2$",
        ),
        ((0.0, 1.0, 0.0, 1.0), 1e20, r"give 0 < step <= 1$"),
    ],
)
def test_bad_box_or_step(box: tuple[float, ...], step: float | None, message: str) -> None:
    """The library names its own parameters (the CLI's flags are in test_trace_cli)."""
    with pytest.raises(OptionError, match=message):
        trace(netbound.margin_threshold(BUMP), box, step)


def test_no_boundary_in_the_box() -> None:
    result = trace(netbound.margin_threshold(BUMP), (5.0, 6.0, 5.0, 6.0))
    assert result.curves == ()
    assert result.complete
    assert result.max_distance == 0.0


def test_a_margin_identically_zero_is_everywhere() -> None:
    net = Network.from_layers(
        [([[1.0, 2.0]], [0.0], "sigmoid"), ([[0.0], [0.0]], [0.0, 0.0], "identity")]
    )
    result = trace(netbound.margin_between(net, "z1", "z2"), (0.0, 1.0, 0.0, 1.0))
    assert result.everywhere
    assert result.curves == ()


def test_a_line_of_double_roots_is_unresolved_not_drawn() -> None:
    # The margin touches zero along x1 + 0.37 x2 = -0.6 without changing sign: no point there
    # can be proven on the boundary by a sign change, so nothing is drawn, and the cells that
    # cover the line are unresolved.
    margin = _margin(_case("tangent_a1.0_eps0"))
    result = trace(margin, (-2.0, 1.0, -1.0, 1.0))
    assert not result.curves
    assert not result.complete
    cells = np.array(result.unresolved)
    x2 = np.linspace(-1.0, 1.0, 101)
    x1 = -0.6 - 0.37 * x2
    inside = (
        (x1[:, None] >= cells[:, 0])
        & (x1[:, None] <= cells[:, 1])
        & (x2[:, None] >= cells[:, 2])
        & (x2[:, None] <= cells[:, 3])
    )
    assert np.all(np.any(inside, axis=1))


def test_default_box_holds_the_boundary() -> None:
    net = _net(_case("seed232_2"))
    box = default_box(net)
    x1lo, x1hi = box[:2]
    result = trace_network(net, box)
    assert result.curves
    sols = netbound.solve(net, [0.0])
    for root in sols[0].roots:
        assert x1lo < root.x1 < x1hi
    assert default_box(_net(_case("flat_noroot"))) == (-5.0, 5.0, -5.0, 5.0)
    far = default_box(_net(_case("far_0")))
    assert far[0] < 80.0 < far[1]


def test_small_box_around_a_boundary_point() -> None:
    margin = _margin(_case("seed232_7"))
    point = trace(margin, BOX).curves[0].points[50]
    w = 1e-3
    box = (point[0] - w, point[0] + 1.3 * w, point[1] - w, point[1] + w)
    result = trace(margin, box)
    assert len(result.curves) == 1
    _check_geometry(result, margin, None)


def test_to_json_is_the_contract_document() -> None:
    result = trace(netbound.margin_threshold(BUMP), (-3.0, 3.0, -3.0, 3.0), step=0.5)
    doc = json.loads(json.dumps(result.to_json()))
    assert list(doc) == ["curves", "complete", "unresolved", "box", "step"]
    assert doc["complete"] is True
    assert doc["unresolved"] == []
    assert doc["box"] == [-3.0, 3.0, -3.0, 3.0]
    assert doc["step"] == 0.5
    assert doc["curves"][0]["closed"] is True
    assert doc["curves"][0]["points"] == result.curves[0].points.tolist()


def test_a_box_beyond_the_overflow_limit_is_refused() -> None:
    # Such a box left every cell of a 128x128 leaky-ReLU net unresolved (and took minutes):
    # past the limit the rounding bounds no longer hold, so it is refused as in solve.
    net = netbound.Network.from_layers(
        [([[1e10, 1.0]], [0.0], "relu"), ([[1.0], [-1.0]], [0.0, 0.5], "identity")]
    )
    limit = netbound.sweeps.input_limit(net)
    with pytest.raises(netbound.OptionError) as err:
        netbound.trace_network(net, (-1e150, 1e150, -1.0, 1.0))
    rest = (
        "-1e+150 is too large for this network (its pre-activations would "
        f"overflow); give values with magnitude <= {limit:.3g}"
    )
    assert str(err.value) == f"box: the x1 range's end {rest}"
    assert err.value.cli == f"--x1-range {rest}"
    # A box inside the limit is traced.
    assert netbound.trace_network(net, (-1.0, 1.0, -1.0, 1.0)).box == (-1.0, 1.0, -1.0, 1.0)
