"""The ReLU pieces: pruned by rigorous enclosures, in blocks of bounded size, and the memory
budget of a chunk of lines.

Roots are compared with the independent mpmath reference (tests/reference_mp.py).
"""

from __future__ import annotations

import subprocess
import sys
from typing import NamedTuple

import mpmath
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from reference_mp import MpMargin, make_spec, reference_roots

import netbound
from netbound import piecewise, relaxation, solver
from netbound.activations import apply
from netbound.margin import Margin, margin_between
from netbound.network import Layer
from netbound.relaxation import Relaxation, Relaxer
from netbound.rounding import EPS
from netbound.solver import CHUNK, LINE_VALUES, chunk_size


def _relu_net(seed: int, widths: tuple[int, ...]) -> list[tuple[np.ndarray, np.ndarray, str]]:
    rng = np.random.default_rng(seed)
    layers = []
    sizes = (2, *widths, 2)
    for k in range(len(sizes) - 1):
        w = rng.normal(0.0, 1.5, (sizes[k + 1], sizes[k]))
        b = rng.normal(0.0, 1.0, sizes[k + 1])
        layers.append((w, b, "identity" if k == len(sizes) - 2 else "relu"))
    return layers


def _pieces(
    net: netbound.Network, x2: np.ndarray, budget: int, window: float = np.inf
) -> piecewise.Pieces:
    margin = margin_between(net, "z1", "z2")
    base = np.column_stack([np.zeros_like(x2), x2])
    w, c, cabs = margin.line_affine(base, 0)
    lo, hi = np.full(x2.size, -window), np.full(x2.size, window)
    p = piecewise.pieces(margin, w, c, cabs, lo, hi, budget=budget)
    assert p is not None
    return p


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_roots_match_the_reference_and_pieces_are_pruned(seed: int) -> None:
    layers = _relu_net(seed, (10, 10))
    net = netbound.Network.from_layers(layers)
    x2 = np.linspace(-2.0, 2.0, 5)
    results = netbound.solve(net, x2)
    for value, result in zip(x2.tolist(), results, strict=True):
        ref = reference_roots(layers, value)
        assert result.complete
        got = [r.x1 for r in result.roots if r.kind == "crossing"]
        assert len(got) == len(ref.roots)
        assert_allclose(got, ref.roots, rtol=1e-9, atol=1e-9)
    p = _pieces(net, x2, piecewise.BLOCK_ELEMENTS)
    # Only pieces that may hold a root are kept: far fewer than were examined.
    assert p.lo.size < p.examined.sum() / 2


def _mixed_net(seed: int, widths: tuple[int, ...]) -> list[tuple[object, ...]]:
    """Hidden layers of ReLU, leaky ReLU (alpha 0.1) and identity units, by the seed."""
    rng = np.random.default_rng(seed)
    sizes = (2, *widths, 2)
    kinds = ("relu", "leaky_relu", "identity")
    layers: list[tuple[object, ...]] = []
    for k in range(len(sizes) - 1):
        w = rng.normal(0.0, 1.5, (sizes[k + 1], sizes[k]))
        b = rng.normal(0.0, 1.0, sizes[k + 1])
        if k == len(sizes) - 2:
            layers.append((w, b, "identity"))
        elif k == 0:
            layers.append((w, b, "relu"))
        else:
            act = kinds[int(rng.integers(3))]
            layers.append((w, b, act, 0.1) if act == "leaky_relu" else (w, b, act))
    return layers


def _network(layers: list[tuple[object, ...]]) -> netbound.Network:
    return netbound.Network(
        tuple(Layer(*lay) for lay in layers),  # type: ignore[arg-type]
        ("x1", "x2"),
        ("z1", "z2"),
    )


class _Intervals(NamedTuple):
    """Random intervals of one line, of widths 1e-9 ... 10, and the first layer's form there."""

    x2: float
    width: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    half: np.ndarray
    mid: np.ndarray
    slope: np.ndarray
    rad: np.ndarray


def _intervals(margin: Margin, seed: int, count: int) -> _Intervals:
    rng = np.random.default_rng(seed)
    x2 = float(rng.uniform(-2.0, 2.0))
    w, c, cabs = margin.line_affine(np.array([[0.0, x2]]), 0)
    width = 10.0 ** rng.uniform(-9.0, 1.0, count)
    lo = rng.uniform(-4.0, 4.0, count)
    hi = lo + width
    centre = 0.5 * lo + 0.5 * hi
    half = (0.5 * hi - 0.5 * lo) * (1.0 + 4.0 * EPS) + 2.0 * EPS * np.abs(centre)
    # The first layer at the centre, with its rounding (c and the product w t, generously).
    mid = c + w * centre[:, None]
    rad = 4.0 * EPS * (cabs + np.abs(w) * np.abs(centre)[:, None])
    return _Intervals(x2, width, lo, hi, half, mid, np.broadcast_to(w, mid.shape), rad)


def _assert_encloses(
    layers: list[tuple[object, ...]], box: _Intervals, flo: np.ndarray, fhi: np.ndarray
) -> None:
    """The margin, evaluated in 40 digits at the ends and inside each interval, lies in
    ``[flo, fhi]``."""
    assert np.all(np.isfinite(flo) & np.isfinite(fhi))
    mp_margin = MpMargin(make_spec(layers, box.x2))
    with mpmath.workdps(40):
        for i in range(box.lo.size):
            lo, hi = mpmath.mpf(float(box.lo[i])), mpmath.mpf(float(box.hi[i]))
            for s in (0.0, 0.13, 0.5, 0.77, 1.0):
                value = mp_margin(lo + s * (hi - lo))
                assert mpmath.mpf(float(flo[i])) <= value <= mpmath.mpf(float(fhi[i]))


FORMATS = pytest.mark.parametrize("dtype", [np.float64, np.float32])


@FORMATS
@pytest.mark.parametrize("seed", range(6))
def test_the_forward_relaxation_encloses_the_margin(seed: int, dtype: type) -> None:
    # The relaxed affine form carried from the first layer to the margin, over intervals of
    # many widths, holds the margin evaluated in 40 digits at the ends and inside; in both
    # formats of the cell tests (float32 with its own rounding bounds).
    layers = _mixed_net(seed, (7, 6, 5))
    margin = margin_between(_network(layers), "z1", "z2")
    rx = Relaxer(margin, dtype)
    box = _intervals(margin, 100 + seed, 12)
    flo, fhi = rx.forward(0, *rx.convert(box.mid, box.slope, box.rad, box.half))
    assert flo.dtype == dtype
    _assert_encloses(layers, box, flo, fhi)
    # Not vacuous: on the narrowest intervals the enclosure is narrow too.
    tiny = box.width < 1e-7
    scale = 1e-4 if dtype == np.float64 else 1e-2
    assert np.all((fhi - flo)[tiny] < scale * (1.0 + np.abs(fhi[tiny])))


@FORMATS
@pytest.mark.parametrize("seed", range(6))
def test_back_substitution_encloses_the_margin_within_the_forward_form(
    seed: int, dtype: type
) -> None:
    # The same relaxations substituted backwards: the enclosure holds the margin in 40
    # digits, is never wider than the forward form's (up to rounding), and narrower on the
    # wide intervals of these deep nets.
    layers = _mixed_net(seed, (9, 8, 7, 6))
    margin = margin_between(_network(layers), "z1", "z2")
    rx = Relaxer(margin, dtype)
    box = _intervals(margin, 200 + seed, 16)
    form = rx.convert(box.mid, box.slope, box.rad, box.half)
    record: list[Relaxation] = []
    flo, fhi = rx.forward(0, *form, record)
    assert len(record) == len(layers) - 1
    blo, bhi = rx.backward(0, *form, record)
    _assert_encloses(layers, box, blo, bhi)
    slack = 1e-9 * (1.0 + np.abs(flo) + np.abs(fhi))
    wide = box.width > 0.1
    compared = np.ones(box.width.size, bool)
    if dtype == np.float32:
        # The rounding bounds, coarser backwards (by norms of |c|, |W| and the ranges),
        # dominate on narrow cells, where the two forms are intersected, and add a few
        # percent on wide ones.
        compared, slack = wide, slack + 0.03 * (fhi - flo)
    assert np.all((bhi - blo <= fhi - flo + slack)[compared])
    assert np.sum(bhi[wide] - blo[wide]) < 0.9 * np.sum(fhi[wide] - flo[wide])


@FORMATS
@pytest.mark.parametrize("seed", range(4))
def test_the_activations_bound_holds_and_is_zero_on_inactive_units(seed: int, dtype: type) -> None:
    # The bound on |act(z)| that back-substitution's rounding allowance uses, against the
    # activations in float64 at points of each interval: below it, and 0 where the
    # relaxation proves a unit inactive.
    layers = _mixed_net(seed, (9, 8, 7, 6))
    net = _network(layers)
    margin = margin_between(net, "z1", "z2")
    rx = Relaxer(margin, dtype)
    box = _intervals(margin, 300 + seed, 16)
    record: list[Relaxation] = []
    rx.forward(0, *rx.convert(box.mid, box.slope, box.rad, box.half), record)
    zeros = 0
    for s in (0.0, 0.3, 0.5, 0.9, 1.0):
        t = box.lo + s * (box.hi - box.lo)
        h = np.stack([t, np.full(t.shape, box.x2)], axis=1)
        for layer, rl in zip(net.layers[:-1], record, strict=True):
            z = h @ layer.weights.T + layer.biases
            h = apply(layer.activation, z, layer.alpha)
            bound = rx.activation_bound(rl, np.abs(rl.mid) + rl.spread).astype(np.float64)
            assert np.all(np.abs(h) <= bound + 1e-12 * (1.0 + np.abs(z)))
            zeros += int(np.count_nonzero(bound == 0.0))
    assert zeros > 100


@pytest.mark.parametrize(
    ("scale", "expected"), [(1.0, np.float32), (1e35, np.float64), (1e-35, np.float64)]
)
def test_the_cell_tests_stay_in_float64_where_float32_cannot_hold_the_weights(
    scale: float, expected: type
) -> None:
    layers = _mixed_net(0, (5, 4))
    layers[1] = (np.asarray(layers[1][0]) * scale, *layers[1][1:])
    rx = Relaxer(margin_between(_network(layers), "z1", "z2"))
    assert rx.dtype == expected


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_cell_tests_in_float32_and_float64_give_the_same_roots(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The format of the cell tests changes which cells are looked at, never the roots.
    net = _network(_mixed_net(seed, (14, 9, 6)))
    x2 = np.linspace(-2.0, 2.0, 9)
    got = netbound.solve(net, x2)
    monkeypatch.setattr(relaxation, "TEST_DTYPE", np.float64)
    want = netbound.solve(net, x2)
    for a, b in zip(got, want, strict=True):
        assert a.complete
        assert b.complete
        assert [r.kind for r in a.roots] == [r.kind for r in b.roots]
        assert_allclose([r.x1 for r in a.roots], [r.x1 for r in b.roots], rtol=0, atol=0)


def _assert_cells_keep_every_root(
    net: netbound.Network, x2: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    grouped = _pieces(net, x2, piecewise.BLOCK_ELEMENTS)
    with monkeypatch.context() as mp:
        mp.setattr(piecewise, "group_levels", lambda width: ())
        single = _pieces(net, x2, piecewise.BLOCK_ELEMENTS)
    # Every kept piece of the cells is one of the pieces kept without them.
    ends = {(i, a, b) for i, a, b in zip(single.line, single.lo, single.hi, strict=True)}
    assert all(
        (i, a, b) in ends for i, a, b in zip(grouped.line, grouped.lo, grouped.hi, strict=True)
    )
    got, want = piecewise.roots(grouped), piecewise.roots(single)
    assert_array_equal(got.line, want.line)
    assert_allclose(got.t, want.t, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_cells_of_kinks_drop_pieces_but_no_root(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    layers = _mixed_net(seed, (14, 9, 6))
    net = _network(layers)
    x2 = np.linspace(-2.0, 2.0, 7)
    _assert_cells_keep_every_root(net, x2, monkeypatch)
    for value, result in zip(x2.tolist(), netbound.solve(net, x2), strict=True):
        ref = reference_roots(layers, value)
        assert result.complete
        crossings = [r.x1 for r in result.roots if r.kind == "crossing"]
        assert_allclose(crossings, ref.roots, rtol=1e-9, atol=1e-9)


def test_cells_of_sixteen_kinks_on_a_wide_layer_drop_pieces_but_no_root(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 260 units: cells of 16, 8 and 4 kinks on the first layer (the roots against the
    # pieces without cells; the mpmath reference would take a minute here).
    _assert_cells_keep_every_root(
        _network(_mixed_net(3, (260, 12))), np.linspace(-2.0, 2.0, 7), monkeypatch
    )


@pytest.mark.parametrize(
    ("width", "levels"),
    [(1, (8, 4)), (128, (8, 4)), (256, (16, 8, 4)), (700, (32, 16, 8, 4))],
)
def test_cells_of_kinks_halve_from_eight_or_a_sixteenth_of_the_layer(
    width: int, levels: tuple[int, ...]
) -> None:
    assert piecewise.group_levels(width) == levels


@pytest.mark.parametrize(("act", "seed"), [("relu", 0), ("relu", 1), ("leaky_relu", 2)])
def test_the_sweep_along_a_line_equals_the_products_per_piece(
    act: str, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One hidden layer: every line is cut at all its kinks at once, and the pieces' a and b
    # come from one sweep along the line; without it, from a product per piece.
    rng = np.random.default_rng(seed)
    w1, b1 = rng.normal(0.0, 1.5, (40, 2)), rng.normal(0.0, 1.0, 40)
    w1[:3, 0] = 0.0  # units that do not depend on t: decided on every line
    w1[3:6] = w1[6:9]  # repeated kinks
    w2, b2 = rng.normal(0.0, 1.0, (2, 40)), rng.normal(0.0, 1.0, 2)
    layers = [(w1, b1, act, 0.1) if act == "leaky_relu" else (w1, b1, act), (w2, b2, "identity")]
    net = _network(layers)
    x2 = np.linspace(-3.0, 3.0, 11)
    swept = _pieces(net, x2, piecewise.BLOCK_ELEMENTS)
    results = netbound.solve(net, x2)
    monkeypatch.setattr(piecewise, "_sweep", lambda *args: None)
    direct = _pieces(net, x2, piecewise.BLOCK_ELEMENTS)
    assert_array_equal(swept.line, direct.line)
    assert_array_equal(swept.lo, direct.lo)
    assert_array_equal(swept.hi, direct.hi)
    assert_allclose(swept.a, direct.a, rtol=1e-12, atol=1e-12)
    assert_allclose(swept.b, direct.b, rtol=1e-12, atol=1e-12)
    assert_array_equal(swept.examined, direct.examined)
    for value, result in zip(x2.tolist(), results, strict=True):
        ref = reference_roots(layers, value)
        assert result.complete
        crossings = [r.x1 for r in result.roots if r.kind == "crossing"]
        assert_allclose(crossings, ref.roots, rtol=1e-9, atol=1e-9)


def test_every_piece_examined_carries_its_own_lines_magnitudes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Regression: cells cut from the kept pieces once took the magnitude bounds of the
    # pieces before the drop (another line's |c|), which the rounding bounds rest on.
    layers = _mixed_net(7, (40, 12, 6))
    margin = margin_between(_network(layers), "z1", "z2")
    x2 = np.linspace(-3.0, 3.0, 25)
    w, c, cabs = margin.line_affine(np.column_stack([np.zeros_like(x2), x2]), 0)
    seen = []
    descend = piecewise._Walk.descend

    def checked(
        walk: piecewise._Walk,
        k: int,
        lo: np.ndarray,
        hi: np.ndarray,
        line: np.ndarray,
        pa: np.ndarray,
        pb: np.ndarray,
        mags: piecewise.Mags,
        group: int = 0,
    ) -> None:
        if k == 0:
            assert_array_equal(mags[0], cabs[line])
            seen.append(group)
        descend(walk, k, lo, hi, line, pa, pb, mags, group)

    monkeypatch.setattr(piecewise._Walk, "descend", checked)
    lo, hi = np.full(x2.size, -3.0), np.full(x2.size, 3.0)
    assert piecewise.pieces(margin, w, c, cabs, lo, hi) is not None
    assert max(seen) == len(piecewise.group_levels(40))


def test_block_size_does_not_change_the_pieces() -> None:
    net = netbound.Network.from_layers(_relu_net(3, (12, 9, 7)))
    x2 = np.linspace(-3.0, 3.0, 9)
    big = _pieces(net, x2, piecewise.BLOCK_ELEMENTS)
    tiny = _pieces(net, x2, 1)  # one piece per block
    # BLAS rounds products of another shape differently: kinks agree to a few ulps.
    assert_allclose(tiny.lo, big.lo, rtol=1e-12)
    assert_allclose(tiny.hi, big.hi, rtol=1e-12)
    assert_array_equal(tiny.line, big.line)
    assert_allclose(tiny.a, big.a, rtol=1e-12, atol=1e-12)
    assert_allclose(tiny.b, big.b, rtol=1e-12, atol=1e-12)
    assert_array_equal(tiny.examined, big.examined)


@pytest.mark.parametrize("backward", [True, False])
def test_a_margin_far_from_zero_keeps_no_piece_and_stops_at_the_first_layer(
    backward: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(piecewise, "BACK_SUBSTITUTE", backward)
    layers = _relu_net(4, (30, 30))
    w, _, act = layers[-1]
    # z1 - z2 > 0 on [-50, 50], but the plain enclosure over the whole window is too wide.
    layers[-1] = (w, np.array([3e4, 0.0]), act)
    net = netbound.Network.from_layers(layers)
    x2 = np.array([-1.0, 0.0, 1.0])
    grid = np.stack(np.meshgrid(np.linspace(-50, 50, 20001), x2), axis=-1).reshape(-1, 2)
    pre = net.preactivations(grid)
    assert np.min(pre[:, 0] - pre[:, 1]) > 1e3
    p = _pieces(net, x2, piecewise.BLOCK_ELEMENTS, window=50.0)
    assert p.lo.size == 0
    # Examined: the window, excluded at once by back-substitution; by the forward form alone
    # only its cells of group_levels(30)[0] first-layer kinks are, and nothing below them.
    w1, b1, _ = layers[0]
    kinks = -(b1[None, :] + np.outer(x2, w1[:, 1])) / w1[:, 0]
    cells = np.sum(np.abs(kinks) < 50.0, axis=1) // piecewise.group_levels(30)[0] + 1
    assert_array_equal(p.examined, 1 if backward else 1 + cells)
    results = netbound.solve(net, x2, x1_range=(-50.0, 50.0))
    assert all(r.complete and not r.roots for r in results)


def test_leaky_relu_pieces_match_the_reference() -> None:
    rng = np.random.default_rng(5)
    w1, b1 = rng.normal(0, 2, (8, 2)), rng.normal(0, 1, 8)
    w2, b2 = rng.normal(0, 1, (2, 8)), rng.normal(0, 1, 2)
    net = netbound.Network(
        (Layer(w1, b1, "leaky_relu", 0.1), Layer(w2, b2, "identity")), ("x1", "x2"), ("z1", "z2")
    )
    layers = [(w1, b1, "leaky_relu", 0.1), (w2, b2, "identity")]
    for value in (-1.0, 0.3, 2.0):
        ref = reference_roots(layers, value)
        got = [r.x1 for r in netbound.solve(net, [value])[0].roots if r.kind == "crossing"]
        assert len(got) == len(ref.roots)
        assert_allclose(got, ref.roots, rtol=1e-9, atol=1e-9)


def test_chunk_size_fits_the_budget() -> None:
    def net(width: int) -> netbound.Network:
        return netbound.Network.from_layers(
            [
                (np.ones((width, 2)), np.zeros(width), "tanh"),
                (np.ones((2, width)), np.zeros(2), "identity"),
            ]
        )

    small, wide = (margin_between(net(n), "z1", "z2") for n in (3, 256))
    assert chunk_size(small) == CHUNK
    budget = 8 << 20
    lines = chunk_size(wide, budget)
    assert 1 <= lines < CHUNK
    assert lines * 8 * LINE_VALUES * (2 * 256 + 2) <= budget
    assert chunk_size(wide, 0) == 1


def test_constant_lines_found_in_blocks_of_a_wide_layer() -> None:
    # Layer 1: relu(x1), relu(x2) and 254 dead units; layer 2: relu(1 - relu(x1) - relu(x2))
    # and 255 dead units.  The margin is that unit: constant (0) exactly where x2 >= 1.
    n = 256
    w1 = np.zeros((n, 2))
    w1[0, 0] = w1[1, 1] = 1.0
    w2 = np.zeros((n, n))
    w2[0, :2] = -1.0
    b2 = np.full(n, -1.0)
    b2[0] = 1.0
    w3 = np.zeros((2, n))
    w3[0, 0] = 1.0
    net = netbound.Network.from_layers(
        [(w1, np.zeros(n), "relu"), (w2, b2, "relu"), (w3, np.zeros(2), "identity")]
    )
    margin = margin_between(net, "z1", "z2")
    x2 = np.array([-2.0, -1.0, 0.0, 0.5, 1.0, 2.0, 3.0])
    w, c, _ = margin.line_affine(np.column_stack([np.zeros_like(x2), x2]), 0)
    assert_array_equal(margin.constant_along(w, c), x2 >= 1.0)


def _two_pieces(second_lo: float) -> piecewise.Pieces:
    # Line 0: a = -1 + 0 t on [0, 1] (dropped neighbours leave a gap up to second_lo), then a
    # crossing of slope 1 computed a rounding error left of second_lo.
    root = second_lo - 4.0 * np.finfo(float).eps
    return piecewise.Pieces(
        lo=np.array([0.0, second_lo]),
        hi=np.array([1.0, 3.0]),
        line=np.array([0, 0]),
        a=np.array([1.0, -root]),
        b=np.array([-1.0, 1.0]),
        a_mag=np.array([1.0, abs(root)]),
        b_mag=np.array([1.0, 1.0]),
    )


def test_a_root_just_before_a_gap_stays_a_crossing_of_its_own_piece() -> None:
    r = piecewise.roots(_two_pieces(2.0))
    # The first piece's root at t = 1 (its end, no neighbour there) and the second's, snapped
    # to its end 2.0; with a gap before it, its left side is its own piece's, not the far
    # neighbour's: a crossing, not a touching root.
    assert_allclose(r.t, [1.0, 2.0])
    assert_array_equal(r.kind, [0, 0])


def test_adjacent_pieces_meeting_at_a_kink_make_a_touching_root() -> None:
    # The same, but the pieces touch at 1.0: the margin is -(t - 1) then (t - 1) -- a V that
    # touches 0 at the kink.
    p = _two_pieces(1.0)
    p.a[0], p.b[0] = 1.0, -1.0
    r = piecewise.roots(p)
    assert_allclose(r.t, [1.0])
    assert_array_equal(r.kind, [1])


def test_a_unit_whose_kink_rounds_onto_the_pieces_end_keeps_its_side() -> None:
    # Regression (found by the property test with 3000 examples): layer 2's units 1 and 3 have
    # biases of -1e-67 and -1e-38, so their kinks lie within an ulp of layer 1's kink at
    # t = 1.96425.  The last-layer sweep took each such unit's side from the first child's
    # midpoint, here half an ulp from the kink, where unit 3's pre-activation rounds to <= 0:
    # it was left off on the whole piece, and the crossing at 1.96474 was missed while the
    # slice said complete (the margin is +0.68 on the left, negative on the right).
    net = netbound.Network.from_layers(
        [
            ([[2.554974992197362, 1.319468307002668]], [-4.396821989844218], "relu"),
            (
                [[15.00048072507129], [-0.6861294989537201], [64.0]],
                [-1.1793781385654285e-67, 1.358943659509774, -1.1754943508222875e-38],
                "relu",
            ),
            (
                [[-1.0, 2.891335379832118, -8.0], [-2.6597607848596123, 2.3904841287804124, 1.0]],
                [-5.687078586102613e-291, 2.356129289992277e-238],
                "sigmoid",
            ),
        ]
    )
    x2 = -0.471247464753767
    (result,) = netbound.solve(net, [x2])
    assert result.complete
    assert [r.kind for r in result.roots] == ["crossing"]
    root = result.roots[0].x1
    # The decision changes there: a plain forward pass on either side.
    left, right = net.forward(np.array([[root - 1e-9, x2], [root + 1e-9, x2]]))
    assert np.argmax(left) == 0
    assert np.argmax(right) == 1
    # The independent mpmath root finder of tests/reference_mp.py put it here.
    assert_allclose(root, 1.964736390887174, rtol=1e-12)


def test_a_root_snapped_onto_a_kink_is_polished_off_it() -> None:
    # Regression (property test, 3000 examples): the piece analysis put a crossing within its
    # rounding of a kink at t = 0 and snapped it there; one Newton step with the slope at the
    # kink (neither side's) moved it to 4.0e-12, 1.6e-12 short of the root, where the margin
    # is -2.4e-11 on both sides within 1e-12: it was reported as a touching root, with an
    # enclosure that held no root, and the slice said complete.
    relu1 = (
        [[0.4523567016086469, 9.710708029409723], [27.609596654124722, -1.6519939251077866],
         [-1.0, 56.10379338457018], [0.177042411428947, 1.0]],
        [3.952295522981532, -25.841022270757957, 33.702653487753025, 0.600719692102353],
        "relu",
    )  # fmt: skip
    relu2 = (
        [[-98.6690623549106, 2.2199095879358124, -0.18802288839925035, 2.627616235526897],
         [1.0, 2.3537523291497706, 1.0, -2.161063747934285],
         [1.0, -63.34544164005786, 2.0449953179212654, 70.31712770703997]],
        [0.5696517961830666, -3.427224511647642, -5.281641108732792],
        "relu",
    )  # fmt: skip
    out = (
        [[31.62336709225291, -1.6574772174453367, -1.0],
         [0.0, 0.05, -56.791002636308654],
         [0.19293548906738311, -46.94083698886135, 2.3181983369863923]],
        [-17.476977045076016, 0.537330820465427, 1.4385990974125162],
        "sigmoid",
    )  # fmt: skip
    net = netbound.Network.from_layers([relu1, relu2, out])
    x2 = -0.600719692102353
    (result,) = netbound.solve(net, [x2], between=("z1", "z2"))
    assert result.complete
    assert [r.kind for r in result.roots] == ["crossing", "crossing"]
    # The independent mpmath root finder of tests/reference_mp.py put the second at this t.
    lo, hi = result.roots[1].enclosure
    assert lo <= 5.648266891068358e-12 <= hi
    # z1 - z2 changes sign across it (a plain forward pass).
    z = net.forward(np.array([[lo - 1e-12, x2], [hi + 1e-12, x2]]))
    assert (z[0, 0] > z[0, 1]) != (z[1, 0] > z[1, 1])


@pytest.mark.parametrize("side", [1.0, -1.0])
def test_a_crossing_just_past_a_kink_next_to_a_flat_piece_is_kept(side: float) -> None:
    # Regression (property test, 3000 examples): the margin is 1e-6 on a flat piece and falls
    # with slope -17 past its end, crossing 5.9e-8 beyond the kink.  The pieces' magnitudes
    # (4e6) made -a/b uncertain by 4.5e-7, so the root was snapped onto the kink and dropped
    # there ("next to a flat nonzero piece there is none"): no root, and the slice said
    # complete although the margin's signs at -inf and +inf differ.  ``side`` -1 mirrors x1,
    # so that the flat piece is on the right of the kink.
    w1 = [[0.5, -11.943732360525496], [72.36754106188897, 28.790881507614184],
          [-1.011295054446434, -0.4474079211198937], [-1.9624267346734632, 51.39125554475827],
          [0.0, -1.7612970947816076]]  # fmt: skip
    b1 = [16.64151690813285, -351.1977019214745, 2.9194439736231845, -72.71776412233925,
          2.5508549097655826]  # fmt: skip
    w2 = [[0.0, 0.0, 0.8515524548087487, 78.84902723363255, 42.98050958902242],
          [1.0348132710374496, 0.0, -74.44625672995262, 82.93654626598632, -3.0]]  # fmt: skip
    b2 = [-886.6859237717057, -394.47473041921916]
    out = ([[67.43480348713584, -32.807286336239365]], [1e-06], "sigmoid")
    layers = [([[side * a, b] for a, b in w1], b1, "relu"), (w2, b2, "relu"), out]
    x2 = 1.4482820174536633
    (result,) = netbound.solve(netbound.Network.from_layers(layers), [x2], threshold=0.5)
    ref = reference_roots(layers, x2, threshold=0.5)
    assert result.complete
    assert [r.kind for r in result.roots] == ["crossing"]
    assert_allclose([r.x1 for r in result.roots], ref.roots, rtol=1e-12)
    assert_allclose(ref.roots, [side * 763.7203116582132], rtol=1e-12)


def test_a_touching_root_where_the_margin_is_not_zero_gives_way_to_its_crossings() -> None:
    # Regression (property test, 3000 examples): two crossings 2.3e-10 and 1.4e-10 either
    # side of a kink, where the margin is +1.04e-8.  The pieces' coefficients are uncertain
    # by more than that (magnitudes near 1e6), so both roots were snapped onto the kink and
    # reported as one touching root there, and the first crossing was missing from a slice
    # said complete.  A point value at the kink (error 1.7e-10) refutes it.
    w1 = [[1.0, 1.0], [2.0535962542653015, -0.05], [-1.8096433134268215, -1.9866409256543531],
          [-83.97804369537505, -95.85963502077375], [2.230185929405527, -8.0],
          [-0.17730198041087636, -64.81848962127114],
          [-2.649043414816941, 2.6006334584952593]]  # fmt: skip
    b1 = [-1.470111874848854, 4.606971039063524, -11.409810028176173, -211.9986657364837,
          -24.0, -193.46152543902537, 23.696160864387423]  # fmt: skip
    w2 = [[-64.0, 91.06606715048794, 0.05000000000000001, -2.852705736159412,
           75.63016416857458, -1.2413786032563707, -2.5325502792968155],
          [0.20002244551213838, -1.3822241305894312, -0.9202455003023434,
           -2.2428653737453277, -2.2428653737453277, -2.3108642098534187, -1.0],
          [1.1241207623450638, 0.0, 44.07160814089909, 6.307047867228837,
           -0.6018313505663991, 2.489109295500489, -87.04840443372245],
          [46.52953297597006, 67.37537008593391, 1.550512402996456, -99.0,
           -1.44772856751975, 10.251620262793445, 1.1],
          [0.0, 35.4741231716076, -60.44882825638235, 0.0, -2.9598161979737956,
           -62.370069533579034, 2.434270382195138],
          [-0.242590500481429, -16.37571879126292, -50.784404494027925, 3.0,
           0.4440032837726967, 93.46379098609859, -21.08973206921295]]  # fmt: skip
    b2 = [-1697.7641169279702, 42.001500295396234, 556.1132525711052, 2.238343964073893,
          -401.18521329259113, 295.32394119382684]  # fmt: skip
    out = ([[0.19791960609858877, 0.0, -0.4222492907329399, 5.0, 0.25, 0.947592199743669]],
           [-638.9696270958831], "sigmoid")  # fmt: skip
    layers = [(w1, b1, "relu"), (w2, b2, "relu"), out]
    (result,) = netbound.solve(netbound.Network.from_layers(layers), [-3.0], threshold=0.3)
    assert result.complete
    assert [r.kind for r in result.roots] == ["crossing"] * 3
    # Each enclosure's ends have opposite signs in 40 digits (tests/reference_mp.py), and
    # the three roots are where the mpmath root finder puts them.
    mp_margin = MpMargin(make_spec(layers, -3.0, threshold=0.3))
    with mpmath.workdps(40):
        for root in result.roots:
            lo, hi = root.enclosure
            assert mp_margin(mpmath.mpf(lo)) * mp_margin(mpmath.mpf(hi)) < 0
    assert_allclose(
        [r.x1 for r in result.roots],
        [-3.0115809072358584, -3.01158090687108, 0.8597179094869799],
        rtol=1e-12,
    )
    # A window that ends between the first crossing and the kink: the search stays inside it.
    (inside,) = netbound.solve(
        netbound.Network.from_layers(layers), [-3.0], threshold=0.3, x1_range=(-3.0115809071, 1.0)
    )
    assert inside.complete
    assert_allclose(
        [r.x1 for r in inside.roots], [-3.01158090687108, 0.8597179094869799], rtol=1e-12
    )


def test_an_ulp_wide_piece_between_zero_pieces_is_zero() -> None:
    # Found by the property test (NETBOUND_PROPERTY_SEED=1, 3000 examples): every layer-2 unit
    # has a negative weight on a ReLU and no positive bias, so the margin is 0 on the whole
    # line.  Their kinks coincide with layer 1's in exact arithmetic; in floats they left a
    # piece an ulp wide with coefficients of rounding noise between two zero pieces, and the
    # line came out as two unresolved rays instead of zero everywhere.
    net = netbound.Network.from_layers(
        [
            ([[-1.7562533869399313, 0.33301257724190764]], [-7.50194907137868], "relu"),
            (
                [[-0.05], [-0.05], [-88.98756710874123], [-0.2299853781281681], [-3.0]],
                [0.0, -0.847773083373689, 0.0, 0.0, 0.0],
                "relu",
            ),
            (
                [
                    [
                        0.6784910756698249,
                        -24.497633286379493,
                        -1.069229039423481,
                        0.0,
                        -0.6784910756698249,
                    ]
                ],
                [0.0],
                "sigmoid",
            ),
        ]
    )
    (result,) = netbound.solve(net, [-0.847773083373689])
    assert result.everywhere
    assert result.complete
    assert result.roots == ()
    # The output is sigmoid(0) = 0.5, the threshold, at every point (a plain forward pass).
    t = np.linspace(-50.0, 50.0, 1001)
    z = net.forward(np.column_stack([t, np.full(t.size, -0.847773083373689)]))
    assert np.all(z[:, 0] == 0.5)


def test_roots_of_a_wide_net_are_certified_where_the_margin_leaves_its_rounding_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # On wide layers the point values' rounding bound is many orders of magnitude above
    # their actual error, so the fixed ladder of half-widths (4, 64, 4096, 2^20, 2^30 ulps)
    # succeeds only at 2^20 or 2^30.  Certification starts at twice the distance where the
    # margin is expected to leave that bound: enclosures far narrower, each still proven
    # (its ends have opposite signs in 40 digits, tests/reference_mp.py).
    rng = np.random.default_rng(0)
    sizes = (2, 64, 64, 64, 2)
    layers = []
    for k in range(len(sizes) - 1):
        bound = 1.0 / np.sqrt(sizes[k])
        w = rng.uniform(-bound, bound, (sizes[k + 1], sizes[k]))
        b = rng.uniform(-bound, bound, sizes[k + 1])
        layers.append((w, b, "identity" if k == len(sizes) - 2 else "relu"))
    net = netbound.Network.from_layers(layers)
    x2 = np.linspace(-3.0, 3.0, 7)
    guided = netbound.solve(net, x2, workers=1)
    with monkeypatch.context() as mp:
        mp.setattr(solver, "_reach", lambda err, slope: np.full(err.shape, np.nan))
        ladder = netbound.solve(net, x2, workers=1)
    ratios = []
    for value, a, b in zip(x2.tolist(), guided, ladder, strict=True):
        assert a.complete
        assert b.complete
        assert [r.kind for r in a.roots] == [r.kind for r in b.roots]
        assert_allclose([r.x1 for r in a.roots], [r.x1 for r in b.roots], rtol=1e-12)
        mp_margin = MpMargin(make_spec(layers, value))
        for ra, rb in zip(a.roots, b.roots, strict=True):
            assert ra.enclosure is not None
            assert rb.enclosure is not None
            lo, hi = ra.enclosure
            assert lo <= ra.x1 <= hi
            with mpmath.workdps(40):
                assert mp_margin(mpmath.mpf(lo)) * mp_margin(mpmath.mpf(hi)) < 0
            ratios.append((hi - lo) / (rb.enclosure[1] - rb.enclosure[0]))
    assert ratios
    # A guess that overshoots costs at most a factor 4 against a ladder step that happens to
    # fit; mostly the guess is far narrower.
    assert max(ratios) <= 4.0
    assert np.median(ratios) <= 1.0 / 8.0


def test_relu_networks_are_solved_without_scipy() -> None:
    """scipy's modules cost each process about 25 MiB (scipy.special, scipy.sparse), counted
    again in each worker the CLI forks: the ReLU path does without them."""
    code = """
import sys
import numpy as np
import netbound
rng = np.random.default_rng(3)
sizes = [2, 64, 64, 2]
layers = []
for k in range(3):
    bound = 1.0 / np.sqrt(sizes[k])
    w = rng.uniform(-bound, bound, (sizes[k + 1], sizes[k]))
    b = rng.uniform(-bound, bound, sizes[k + 1])
    layers.append((w, b, "identity" if k == 2 else "relu"))
results = netbound.solve(netbound.Network.from_layers(layers), np.linspace(-3, 3, 40), workers=1)
assert all(r.complete for r in results) and any(r.roots for r in results)
print(sorted(m for m in sys.modules if m.split(".")[0] == "scipy"))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
