"""Unit and regression tests of the certified solver's own mechanisms."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
from numpy.testing import assert_allclose
from uniform_nets import Layers, uniform_layers, uniform_net

import netbound
from netbound import Network, OptionError, solver

N = Network.from_layers

# The layered JSON example of the README.  Its margin tends to exactly 0 as x1 -> -inf
# (d3 = 0.5 - 0.2 = 0.3 = b_z2 - b_z1), which the interval test alone cannot prove.
LAYERED_EXAMPLE = N(
    [
        ([[0.5, -1.2], [1.0, 0.3], [-0.7, 2.0]], [0.1, -0.2, 0.05], "sigmoid"),
        ([[1.0, -2.0, 0.5], [-1.0, 1.5, 0.2]], [0.0, 0.3], "sigmoid"),
    ]
)


def roots(result: netbound.SliceResult) -> list[float]:
    return [r.x1 for r in result.roots]


def test_zero_limit_tail_is_proven_by_the_slowest_exponential() -> None:
    # Regression: the ray x1 -> -inf was reported unresolved and a root at -9.52 was missed.
    # Reference root by mpmath findroot at 40 digits: -9.522944925084242190764...
    (result,) = netbound.solve(LAYERED_EXAMPLE, [3.0])
    assert result.complete
    assert result.unresolved == ()
    # The margin there is ~1e-4 with slope ~1e-3: rounding of 1e-16 moves the root 1e-13.
    assert_allclose(roots(result), [-9.522944925084242190764], rtol=1e-12)


def test_x1_range_restricts_the_search() -> None:
    net = netbound.load("sample_nets/seed.json")
    (full,) = netbound.solve(net, [0.5])
    (left,) = netbound.solve(net, [0.5], x1_range=(-10.0, 0.0))
    assert len(roots(full)) == 2
    assert_allclose(roots(left), [roots(full)[0]], rtol=1e-14)
    assert left.complete


@pytest.mark.parametrize("window", [(1.0, 1.0), (2.0, -2.0), (float("-inf"), 0.0)])
def test_bad_x1_range_is_refused(window: tuple[float, float]) -> None:
    with pytest.raises(OptionError, match=r"^x1_range=\("):
        netbound.solve(LAYERED_EXAMPLE, [0.0], x1_range=window)


def test_identical_outputs_are_everywhere() -> None:
    net = N(
        [
            ([[1.0, 0.0], [2.0, 1.0]], [0.0, 0.5], "sigmoid"),
            ([[1.0, 1.0], [1.0, 1.0]], [0.2, 0.2], "identity"),
        ]
    )
    (result,) = netbound.solve(net, [0.0])
    assert result.everywhere
    assert result.roots == ()
    assert result.complete


def test_margin_zero_on_a_half_line_is_unresolved_not_dropped() -> None:
    # relu(x - 1) - relu(x + 1) + 2 is 0 for every x >= 1.
    net = N(
        [
            ([[1.0, 0.0], [1.0, 0.0]], [-1.0, 1.0], "relu"),
            ([[1.0, -1.0], [0.0, 0.0]], [2.0, 0.0], "identity"),
        ]
    )
    (result,) = netbound.solve(net, [0.0])
    assert not result.complete
    assert result.roots == ()
    assert result.unresolved[0][0] == pytest.approx(1.0, abs=1e-9)
    assert result.unresolved[-1][1] == float("inf")


def test_affine_network_without_hidden_layer() -> None:
    net = N([([[1.0, 2.0]], [-3.0], "identity")])
    (result,) = netbound.solve(net, [0.5])
    assert roots(result) == [2.0]
    assert result.complete


@pytest.mark.parametrize("activation", ["softplus", "leaky_relu", "relu", "tanh", "sigmoid"])
def test_every_activation_gives_a_complete_answer_matching_bisection(activation: str) -> None:
    net = N(
        [
            ([[1.0, 0.5], [-2.0, 1.0], [0.5, -1.0]], [0.1, -0.3, 0.2], activation),
            ([[1.0, -0.5, 2.0], [0.3, 0.7, -1.0]], [0.0, 0.1], "identity"),
        ]
    )
    (result,) = netbound.solve(net, [0.0])
    assert result.complete
    margin = netbound.margin_between(net, "z1", "z2")
    # Independent check on a fine grid: every sign change is next to a reported root.
    xs = np.linspace(-50.0, 50.0, 200001)
    f = margin.value(np.column_stack([xs, np.zeros_like(xs)]))
    changes = xs[np.flatnonzero(np.signbit(f[1:]) != np.signbit(f[:-1]))]
    assert len(changes) == len(result.roots)
    assert_allclose(sorted(roots(result)), changes, atol=1e-3)


def test_far_root_is_found_without_options() -> None:
    net = N(
        [
            ([[0.001, 0.0], [1.0, 0.0]], [-10.0, 0.0], "tanh"),
            ([[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0], "identity"),
        ]
    )
    (result,) = netbound.solve(net, [0.0])
    assert result.complete
    # tanh(0.001 x - 10) = tanh(x) has one root with x < 0.
    assert len(result.roots) == 1
    x = result.roots[0].x1
    assert_allclose(np.tanh(0.001 * x - 10.0), np.tanh(x), atol=1e-15)


def test_root_at_ten_thousand() -> None:
    net = N([([[1e-3, 0.0]], [-10.0], "sigmoid"), ([[1.0], [0.0]], [-0.5, 0.0], "identity")])
    (result,) = netbound.solve(net, [0.0])
    assert result.complete
    assert_allclose(roots(result), [1e4], rtol=1e-14)


def test_solve_iter_chunks_give_the_same_answer() -> None:
    net = netbound.load("sample_nets/tanh_deep.json")
    x2 = np.linspace(-2.0, 2.0, 37)
    whole = netbound.solve(net, x2)
    chunked = list(netbound.solve_iter(net, iter(x2.tolist()), chunk=5))
    assert [len(a.roots) for a in whole] == [len(b.roots) for b in chunked]
    # Batches of another shape may round differently in BLAS: the last bit may differ.
    for a, b in zip(whole, chunked, strict=True):
        assert_allclose(roots(a), roots(b), rtol=1e-14)


def test_argmax_roots_carry_from_and_to() -> None:
    net = netbound.load("sample_nets/three_class.json")
    (result,) = netbound.solve(net, [-1.0], argmax=True)
    assert result.complete
    assert [(r.from_output, r.to_output) for r in result.roots] == [
        ("versicolor", "virginica"),
        ("virginica", "setosa"),
    ]
    # The class changes at each root, and nowhere else on a fine grid.
    xs = np.linspace(-20.0, 20.0, 400001)
    cls = np.argmax(net.forward(np.column_stack([xs, np.full_like(xs, -1.0)])), axis=1)
    changes = xs[np.flatnonzero(cls[1:] != cls[:-1])]
    assert_allclose(roots(result), changes, atol=1e-4)


def test_evaluations_are_counted() -> None:
    (result,) = netbound.solve(LAYERED_EXAMPLE, [0.5])
    assert result.evaluations > 0


def test_non_finite_x2_is_refused() -> None:
    with pytest.raises(OptionError, match="not finite"):
        netbound.solve(LAYERED_EXAMPLE, [float("nan")])


def test_margin_constant_through_a_dead_relu_is_everywhere() -> None:
    # Regression (found by the property test): relu(-relu(-x1 - x2)) is 0 for every input,
    # so the single-output margin at threshold 0.5 is identically 0, though x1 feeds the net.
    net = N(
        [([[-1.0, -1.0]], [0.0], "relu"), ([[-1.0]], [0.0], "relu"), ([[-1.0]], [0.0], "sigmoid")]
    )
    result = netbound.solve(net, [0.0, 1.0])
    assert all(r.everywhere and r.complete and not r.unresolved for r in result)


def test_tiny_margins_keep_their_relative_precision() -> None:
    # Regression: the rounding bound used the global slope 1/4 of the sigmoid, so a margin of
    # size 1e-22 (both units deep in saturation) was lost in a bound of 1e-15 and a pair of
    # crossings 1e-4 apart was reported unresolved.  Reference roots (mpmath, 30 digits):
    # 0.29995 and 0.30005.
    net = N(
        [
            ([[3.0, 1.11], [-3.0, -1.11]], [-50.9, -49.1], "sigmoid"),
            ([[1.0, 1.0], [0.0, 0.0]], [0.0, 3.8574997393247074e-22], "sigmoid"),
        ]
    )
    (result,) = netbound.solve(net, [0.0])
    assert result.complete
    assert_allclose(roots(result), [0.2999499999998981, 0.300050000000101], rtol=1e-9)


def test_relu_kink_touching_zero_is_a_touching_root() -> None:
    # |x1| = relu(x1) + relu(-x1) touches 0 at x1 = 0 without crossing.
    net = N(
        [
            ([[1.0, 0.0], [-1.0, 0.0]], [0.0, 0.0], "relu"),
            ([[1.0, 1.0], [0.0, 0.0]], [0.0, 0.0], "identity"),
        ]
    )
    (result,) = netbound.solve(net, [0.0])
    assert [r.kind for r in result.roots] == ["touching"]
    assert abs(result.roots[0].x1) <= 1e-12
    assert result.complete


def test_softplus_of_a_saturated_unit_is_enclosed_exactly_on_the_rays() -> None:
    # Regression: on a ray, softplus of a constant input q >= 0 was enclosed as
    # [q, q + softplus(-q)] = [1, 1.31] instead of softplus(1) = 1.313, so the limit
    # 1.313 - 1.2 > 0 of this margin was never proven and both rays stayed unresolved.
    net = N(
        [
            ([[1.0, 0.0]], [0.0], "tanh"),
            ([[1.0]], [0.0], "softplus"),
            ([[1.0], [0.0]], [-1.2, 0.0], "identity"),
        ]
    )
    (result,) = netbound.solve(net, [0.0])
    assert result.complete
    assert len(result.roots) == 1  # softplus(tanh(x1)) = 1.2 once, at tanh(x1) = 0.8586...
    assert_allclose(np.tanh(result.roots[0].x1), np.log(np.expm1(1.2)), rtol=1e-13)


def test_tiny_first_layer_weight_gives_a_huge_but_decidable_window() -> None:
    # Regression: a weight of 1e-300 pushes the saturation radius to 1e150; the cells out
    # there were widened by a rounding bound relative to the whole cell (1e135 wide) and
    # halved 400 times without reaching x1 ~ 1, so both sides were reported unresolved.
    net = N(
        [
            ([[1e-300, 0.0], [1.0, 0.0]], [1.0, 0.0], "tanh"),
            ([[1.0, 1.0], [0.0, 0.0]], [0.0, 0.0], "identity"),
        ]
    )
    (result,) = netbound.solve(net, [0.0])
    assert result.complete
    assert_allclose(roots(result), [-1.0], rtol=1e-15)


def test_root_within_rounding_of_a_bracket_end_is_that_end() -> None:
    # Regression: a crossing bracket whose upper end value was 3.6e-15 (within rounding)
    # came back from find_root as NaN, because re-evaluated in a batch of another shape that
    # end rounded to the other sign.  Reference roots (mpmath, 30 digits) at x2 = -3:
    # 4.61415045939338, 4.842505941950999, 662.6617241038798.
    net = netbound.load("tests/data/regression_polish_end_root.json")
    (result,) = netbound.solve(net, [-3.0])
    assert result.complete
    assert_allclose(
        roots(result), [4.61415045939338, 4.842505941950999, 662.6617241038798], rtol=1e-12
    )


def test_rows_that_agree_leave_the_exact_bias_difference() -> None:
    # Regression: z1 and z2 with the same weights differ only by b1 - b2 = -2.2e-16; the
    # rounding bound was taken from |W_a| + |W_b| (2), far above the constant margin, and
    # the line was reported as 'everywhere' on the boundary.  W_a - W_b is exactly 0, so
    # the margin is exactly that nonzero constant: no root, complete.
    net = N(
        [
            ([[-80.51773808895297, -1.8705799189377896]], [-91.17751726746467], "tanh"),
            ([[1.0], [1.0]], [9.296614941399517e-111, 2.220446049250313e-16], "sigmoid"),
        ]
    )
    (result,) = netbound.solve(net, [2.220446049250313e-16])
    assert not result.everywhere
    assert result.roots == ()
    assert result.complete


def _steep_tanh_net(seed: int, scale: float) -> tuple[Network, Layers]:
    """A PyTorch-style initialised 2-32-32-2 tanh net with its weights scaled up (many units
    cross their bend along each line), and its weights for an independent forward pass."""
    raw = uniform_layers((2, 32, 32, 2), ("tanh", "tanh", "identity"), seed, scale)
    # No first-layer unit nearly flat along x1: that keeps the reference's window small.
    w1 = raw[0][0]
    w1[:, 0] = np.sign(w1[:, 0]) * np.maximum(np.abs(w1[:, 0]), 0.5)
    return N(raw), raw


@pytest.mark.parametrize(
    ("wide_reach", "plain"),
    [(4.0, True), (np.inf, False)],
    ids=["plain-on-wide-cells", "taylor-models-only"],
)
def test_deep_steep_net_matches_an_independent_grid(
    wide_reach: float, plain: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Regression for the choice between plain intervals and Taylor models on wide cells of a
    # deep net: both must give every root (plain intervals are forced on the wide cells in
    # the first case, where the probe would choose the Taylor models' chords).  The
    # reference is a plain numpy forward pass (not netbound's) on a fine grid, each sign
    # change bisected to 1e-13.
    monkeypatch.setattr(solver, "WIDE_REACH", wide_reach)
    monkeypatch.setattr(solver, "_plain_pays", lambda *_: plain)
    chosen: list[bool | None] = []
    plain_cells = solver._plain_cells

    def spy(lines: solver._Line, cells: solver._Cells) -> object:
        out = plain_cells(lines, cells)
        chosen.append(lines.wide_plain)
        return out

    monkeypatch.setattr(solver, "_plain_cells", spy)
    net, raw = _steep_tanh_net(seed=7, scale=5.0)
    x2s = np.linspace(-3.0, 3.0, 60)

    def margin(x1: np.ndarray, x2: float) -> np.ndarray:
        v = np.column_stack([x1, np.full_like(x1, x2)])
        for w, b, _ in raw[:-1]:
            v = np.tanh(v @ w.T + b)
        w, b, _ = raw[-1]
        return v @ (w[0] - w[1]) + (b[0] - b[1])

    results = netbound.solve(net, x2s)
    if plain:
        assert True in chosen  # the plain path was taken
    w1, b1, _ = raw[0]
    for x2, result in zip(x2s, results, strict=True):
        assert result.complete
        # Beyond t_max every first-layer pre-activation exceeds 40 in size, where tanh rounds
        # to +-1: the float64 margin is constant there.
        t_max = float(np.max((40.0 + np.abs(b1 + w1[:, 1] * x2)) / np.abs(w1[:, 0])))
        grid = np.linspace(-t_max, t_max, int(1000 * t_max) + 1)
        f = margin(grid, float(x2))
        assert np.all(f[[0, -1]] != 0.0)
        expected = []
        for i in np.flatnonzero(np.sign(f[:-1]) != np.sign(f[1:])):
            a, b = grid[i], grid[i + 1]
            fa = f[i]
            for _ in range(60):
                m = 0.5 * (a + b)
                fm = margin(np.array([m]), float(x2))[0]
                if np.sign(fm) == np.sign(fa):
                    a, fa = m, fm
                else:
                    b = m
            expected.append(0.5 * (a + b))
        assert_allclose(roots(result), expected, rtol=1e-9, atol=1e-9)


def _wide_leaky_net() -> Network:
    acts = ("leaky_relu", "leaky_relu", "identity")
    return uniform_net((2, 128, 128, 2), acts, seed=5, scale=20.0)


def test_inputs_beyond_the_overflow_limit_are_refused() -> None:
    # Regression: at x2 = 1e160 (past the limit of 2.34e144) this net's pre-activations
    # overflowed inside the piece analysis, and solve returned 253 "roots", complete, none of
    # them a sign change of the margin (a grid shows 3).  The library now refuses such values
    # as the CLI does.
    net = _wide_leaky_net()
    with pytest.raises(OptionError) as err:
        netbound.solve(net, [0.0, 1e160])
    assert str(err.value) == (
        "x2 value 1e+160 is too large for this network (its pre-activations would overflow); "
        "give values with magnitude <= 2.34e+144"
    )
    # Within the limit every root is a sign change of the margin (a plain forward pass).
    (result,) = netbound.solve(net, [1e140])
    assert result.complete
    x1 = np.array(roots(result))
    assert x1.size == 3
    step = np.maximum(np.abs(x1), 1.0) * 1e-6
    pre = [
        net.preactivations(np.column_stack([x, np.full_like(x, 1e140)]))
        for x in (x1 - step, x1 + step)
    ]
    below, above = (p[:, 0] - p[:, 1] for p in pre)
    assert np.all(np.sign(below) != np.sign(above))


def test_fixed_inputs_beyond_the_overflow_limit_are_refused() -> None:
    net = N([([[1.0, 1.0, 1e10]], [0.0], "relu"), ([[1.0], [-1.0]], [0.0, 0.5], "identity")])
    with pytest.raises(OptionError, match=r"^at x3: 1e\+300 is too large for this network"):
        netbound.solve(net, [0.0], at={"x3": 1e300})


#: Networks with roots on most slices of x2 in [-3, 3] (``uniform_net``, seed 13).
STEEP_NETS = [
    ((2, 32, 32, 2), "tanh", 5.0),
    ((2, 48, 48, 2), "sigmoid", 16.0),
    ((2, 8, 2), "tanh", 3.0),
]


def _steep_net(sizes: tuple[int, ...], act: str, scale: float) -> Network:
    return uniform_net(sizes, (act,) * (len(sizes) - 2) + ("identity",), seed=13, scale=scale)


def _same_answers(first: list[netbound.SliceResult], second: list[netbound.SliceResult]) -> None:
    """Both complete, with roots of the same kinds whose enclosures overlap, and some roots."""
    assert all(r.complete for r in first + second)
    assert [len(r.roots) for r in first] == [len(r.roots) for r in second]
    for p, q in zip(first, second, strict=True):
        for a, b in zip(p.roots, q.roots, strict=True):
            assert a.kind == b.kind
            assert a.enclosure is not None
            assert b.enclosure is not None
            assert a.enclosure[0] <= b.enclosure[1]
            assert b.enclosure[0] <= a.enclosure[1]
    assert sum(len(r.roots) for r in first) > 0


@pytest.mark.parametrize(("sizes", "act", "scale"), STEEP_NETS)
def test_a_priori_rounding_bounds_change_no_decision(
    sizes: tuple[int, ...], act: str, scale: float
) -> None:
    # Point values far above the lines' a-priori rounding bound take that bound instead of
    # their own; every root, enclosure, verdict and evaluation count must come out as with
    # each point's own bound.
    from netbound import solver

    net = _steep_net(sizes, act, scale)
    x2s = np.linspace(-3.0, 3.0, 40)
    fast = netbound.solve(net, x2s)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(solver, "LOOSE_FACTOR", np.inf)
        tight = netbound.solve(net, x2s)
    assert [r.roots for r in fast] == [r.roots for r in tight]
    assert [(r.complete, r.evaluations) for r in fast] == [
        (r.complete, r.evaluations) for r in tight
    ]
    assert sum(len(r.roots) for r in fast) > 0


def test_cells_far_from_a_root_are_cut_by_point_values() -> None:
    # A cell whose ends and midpoint have one proven sign is cut into up to 2 * MAX_PARTS
    # parts at point values; a cell with a sign change is halved.  Either way the children
    # tile the parent, and each child's end values are the margin's values there.
    from netbound import solver
    from netbound.margin import margin_between

    net = uniform_net((2, 16, 16, 2), ("tanh", "tanh", "identity"), seed=4, scale=5.0)
    lines = solver._Line(margin_between(net, "z1", "z2"), np.array([[0.0, 0.4]]), 0)
    lo = np.linspace(-30.0, 29.0, 60)
    hi = lo + 1.0
    line = np.zeros(lo.size, dtype=np.intp)
    flo, elo, _ = lines.points(lo, line)
    fhi, ehi, _ = lines.points(hi, line)
    m = 0.5 * lo + 0.5 * hi
    fm, em, _ = lines.points(m, line)
    parent = solver._Cells(lo, hi, line, flo, elo, fhi, ehi)
    slope = np.full(lo.size, 1e3)  # a loose slope bound: as many parts as allowed
    children, s = solver._children(lines, parent, m, fm, em, slope)
    assert_allclose(s, 1e3)
    one_sign = (np.sign(flo) == np.sign(fhi)) & (np.sign(flo) == np.sign(fm))
    one_sign &= (np.abs(flo) > elo) & (np.abs(fhi) > ehi) & (np.abs(fm) > em)
    assert 0 < np.count_nonzero(one_sign) < lo.size
    for k in range(lo.size):
        mine = (children.lo >= lo[k]) & (children.hi <= hi[k])
        order = np.argsort(children.lo[mine])
        a, b = children.lo[mine][order], children.hi[mine][order]
        assert a[0] == lo[k]
        assert b[-1] == hi[k]
        assert np.array_equal(a[1:], b[:-1])
        assert a.size == (2 * solver.MAX_PARTS if one_sign[k] else 2)
        assert m[k] in a
    # (Within rounding: a product may round differently in a batch of another size.)
    f, e, _ = lines.points(children.lo, children.line)
    assert np.all(np.abs(f - children.flo) <= e)
    f, e, _ = lines.points(children.hi, children.line)
    assert np.all(np.abs(f - children.fhi) <= e)


@pytest.mark.parametrize(("sizes", "act", "scale"), STEEP_NETS)
def test_cutting_cells_at_point_values_finds_what_halving_finds(
    sizes: tuple[int, ...], act: str, scale: float
) -> None:
    from netbound import solver

    net = _steep_net(sizes, act, scale)
    x2s = np.linspace(-3.0, 3.0, 40)
    parts = netbound.solve(net, x2s)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(solver, "MAX_PARTS", 1)
        halves = netbound.solve(net, x2s)
    _same_answers(parts, halves)


def test_first_enclosures_reused_in_the_first_round_find_the_same_roots() -> None:
    # Where most first cells survive their enclosures, those enclosures (with slopes) go on
    # to the first bisection round; otherwise the round evaluates the survivors again.  Both
    # ways are forced here (FIRST_EXCLUDED above 1 and at 0) on a steep net: the answers
    # must agree.
    from netbound import solver

    net = uniform_net((2, 48, 48, 2), ("tanh", "tanh", "identity"), seed=3, scale=5.0)
    x2s = np.linspace(-3.0, 3.0, 40)
    kept: list[bool] = []
    first = solver._first_enclosures

    def spy(*args: Any) -> Any:
        out = first(*args)
        kept.append(out[1] is not None)
        return out

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(solver, "_first_enclosures", spy)
        mp.setattr(solver, "FIRST_EXCLUDED", 1.01)
        reused = netbound.solve(net, x2s)
        assert kept == [True]
        mp.setattr(solver, "FIRST_EXCLUDED", 0.0)
        again = netbound.solve(net, x2s)
        assert kept == [True, False]
    _same_answers(reused, again)


@pytest.mark.parametrize("reach", [np.nan, 1e-12, 1.0])
def test_close_roots_keep_apart_enclosures_whatever_the_guessed_reach(
    reach: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Three crossings 1e-9 apart (a ReLU zigzag: slopes +1, -1, +1).  The certification
    # starts at twice the distance where the margin should leave its rounding bound
    # (solver._reach); a guess that far would enclose all three roots in each of their
    # enclosures (the outer signs differ), so a guess reaching halfway to a neighbour is not
    # made.
    x0, a = 1.0, 1e-9
    w1 = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    b1 = np.array([10.0, -(x0 + a), -(x0 + 2.0 * a)])
    w2 = np.array([[1.0, -2.0, 2.0], [0.0, 0.0, 0.0]])
    b2 = np.array([-10.0 - x0 - a / 2.0, 0.0])
    net = Network.from_layers([(w1, b1, "relu"), (w2, b2, "identity")])
    monkeypatch.setattr(solver, "_reach", lambda err, slope: np.full(err.shape, reach))
    (result,) = netbound.solve(net, [0.0])
    assert result.complete
    assert_allclose([r.x1 for r in result.roots], x0 + a * np.array([0.5, 1.5, 2.5]), rtol=1e-15)
    ends = []
    for root in result.roots:
        assert root.enclosure is not None
        assert root.enclosure[0] <= root.x1 <= root.enclosure[1]
        ends.append(root.enclosure)
    for left, right in itertools.pairwise(ends):
        assert left[1] < right[0]


def test_a_relu_slice_counts_every_point_value_among_its_evaluations(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Regression: the point values that certify the roots of a ReLU-family net were made
    # after the count was taken, and were missing from SliceResult.evaluations.
    net = Network.from_layers(
        [
            (np.array([[1.0, 0.5], [-1.0, 0.25], [0.5, -1.0]]), np.array([0.1, 0.2, -0.3]), "relu"),
            (np.array([[1.0, -2.0, 1.5], [0.0, 0.0, 0.0]]), np.array([-0.2, 0.0]), "identity"),
        ]
    )
    points = 0
    examined = 0
    evaluate = solver._Line.points
    pieces = solver.piecewise.pieces

    def counted_points(self: Any, t: np.ndarray, *args: Any, **kwargs: Any) -> Any:
        nonlocal points
        points += t.size
        return evaluate(self, t, *args, **kwargs)

    def counted_pieces(*args: Any, **kwargs: Any) -> Any:
        nonlocal examined
        out = pieces(*args, **kwargs)
        examined += int(out.examined.sum())
        return out

    monkeypatch.setattr(solver._Line, "points", counted_points)
    monkeypatch.setattr(solver.piecewise, "pieces", counted_pieces)
    (result,) = netbound.solve(net, [0.3], workers=1)
    assert result.complete
    assert result.roots
    assert points > 0
    assert result.evaluations == examined + points
