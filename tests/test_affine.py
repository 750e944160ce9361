"""The Taylor-model enclosures of netbound.affine hold the margin and its slope.

Checked on random deep networks and cells against point evaluations: the margin's float
value widened by its own rounding bound, and its slope, at 400 points of every cell.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import netbound
from netbound import activations, affine, enclosure
from netbound.margin import Margin, margin_between

ACTS = ["sigmoid", "tanh", "softplus", "relu", "leaky_relu", "identity"]


def _net(seed: int) -> netbound.Network:
    rng = np.random.default_rng(seed)
    depth = int(rng.integers(2, 4))
    sizes = [2, *rng.integers(2, 12, depth).tolist(), 2]
    scale = float(rng.choice([0.5, 2.0, 8.0]))
    layers = []
    for k in range(len(sizes) - 1):
        act = str(rng.choice(ACTS)) if k < len(sizes) - 2 else "identity"
        w = rng.normal(0.0, scale / np.sqrt(sizes[k]), (sizes[k + 1], sizes[k]))
        b = rng.normal(0.0, 1.0, sizes[k + 1])
        layers.append((w.tolist(), b.tolist(), act))
    return netbound.Network.from_layers(layers)


@pytest.mark.parametrize("seed", range(40))
def test_enclosures_hold_the_margin_and_its_slope(seed: int) -> None:
    rng = np.random.default_rng(1000 + seed)
    margin = margin_between(_net(seed), "z1", "z2")
    base = np.array([[0.0, float(rng.normal(0.0, 2.0))]])
    w, c, cabs = margin.line_affine(base, 0)
    for width in (10.0, 1.0, 1e-2, 1e-5):
        lo = np.array([float(rng.normal(0.0, 3.0))])
        hi = lo + width
        flo, fhi, dlo, dhi, _, _ = affine.cells(margin, w, c, cabs, lo, hi)
        vlo, vhi, _, _, _, _ = affine.cells(margin, w, c, cabs, lo, hi, derivative=False)
        assert (vlo[0], vhi[0]) == (flo[0], fhi[0])
        t = np.linspace(lo[0], hi[0], 400)
        rows = np.zeros((t.size, 1))
        f, err, df = margin.points(w, c[rows[:, 0].astype(int)], cabs[rows[:, 0].astype(int)], t)
        assert np.all(f + err >= flo[0]), (width, f.min(), flo[0])
        assert np.all(f - err <= fhi[0]), (width, f.max(), fhi[0])
        # The slope at a point is computed without a bound: allow its rounding.
        tol = 1e-12 * (1.0 + np.abs(df))
        piecewise = any(layer.activation in ("relu", "leaky_relu") for layer in margin.hidden)
        if not piecewise:  # at a kink the point slope is one side's, the enclosure both
            assert np.all(df + tol >= dlo[0]), (width, df.min(), dlo[0])
            assert np.all(df - tol <= dhi[0]), (width, df.max(), dhi[0])


def _x5_line() -> tuple[Margin, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The margin of a PyTorch-style 2-64-64-2 tanh net with weights x5 (seed 0) and the
    first-layer form of its line x2 = 0.5."""
    rng = np.random.default_rng(0)
    sizes = [2, 64, 64, 2]
    layers = []
    for k in range(3):
        bound = 1.0 / np.sqrt(sizes[k])
        w = rng.uniform(-bound, bound, (sizes[k + 1], sizes[k])) * 5.0
        b = rng.uniform(-bound, bound, sizes[k + 1]) * 5.0
        layers.append((w.tolist(), b.tolist(), "tanh" if k < 2 else "identity"))
    margin = margin_between(netbound.Network.from_layers(layers), "z1", "z2")
    return margin, margin.line_affine(np.array([[0.0, 0.5]]), 0)


def test_tighter_than_intervals_on_a_deep_net() -> None:
    """The point of the forms: on a 2-64-64-2 tanh net, a small cell's slope enclosure is
    an order of magnitude narrower than plain interval propagation's."""
    margin, (w, c, cabs) = _x5_line()
    lo, hi = np.array([0.3]), np.array([0.31])
    _, _, plo, phi = enclosure.cells(margin, w, c, cabs, lo, hi)
    _, _, alo, ahi, _, _ = affine.cells(margin, w, c, cabs, lo, hi)
    assert (ahi - alo)[0] < 0.2 * (phi - plo)[0]


def _smooth_layers(seed: int) -> list[tuple[list[list[float]], list[float], str]]:
    rng = np.random.default_rng(seed)
    sizes = [2, *rng.integers(3, 24, int(rng.integers(2, 4))).tolist(), 2]
    scale = float(rng.choice([0.5, 2.0, 8.0, 30.0]))
    layers = []
    for k in range(len(sizes) - 1):
        act = str(rng.choice(["sigmoid", "tanh"])) if k < len(sizes) - 2 else "identity"
        w = rng.normal(0.0, scale / np.sqrt(sizes[k]), (sizes[k + 1], sizes[k]))
        b = rng.normal(0.0, 1.0, sizes[k + 1])
        layers.append((w.tolist(), b.tolist(), act))
    return layers


def _smooth_line(
    net_seed: int, seed: int
) -> tuple[Margin, Any, np.random.Generator, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """A random sigmoid/tanh net's margin, its 60-digit mpmath oracle along a random line
    x2 = const, the generator that drew the line, and the line's first-layer form."""
    from far_field_oracle import FarOracle

    layers = _smooth_layers(net_seed)
    margin = margin_between(netbound.Network.from_layers(layers), "z1", "z2")
    rng = np.random.default_rng(seed)
    x2 = float(rng.normal(0.0, 3.0))
    oracle = FarOracle(layers, x2, dps=60)
    return margin, oracle, rng, margin.line_affine(np.array([[0.0, x2]]), 0)


@pytest.mark.parametrize("seed", range(12))
def test_centre_value_and_its_rounding_bound_against_mpmath(seed: int) -> None:
    """The centre value of each cell is the margin at ``0.5 lo + 0.5 hi`` within the
    returned rounding bound, and the enclosure holds the margin there, both checked at 60
    digits (mpmath, not netbound)."""
    margin, oracle, rng, (w, c, cabs) = _smooth_line(3000 + seed, seed)
    lo = rng.normal(0.0, 4.0, 6)
    hi = lo + np.array([20.0, 3.0, 1.0, 1e-2, 1e-6, 1e-12])
    rows = np.zeros(lo.size, dtype=np.intp)
    got = affine.cells(margin, w, c[rows], cabs[rows], lo, hi)
    centre = 0.5 * lo + 0.5 * hi
    for k in range(lo.size):
        exact = oracle.margin(float(centre[k]))
        assert abs(got.centre[k] - exact) <= got.centre_err[k], (k, got.centre[k], exact)
        assert got.flo[k] <= exact <= got.fhi[k], (k, got.flo[k], exact, got.fhi[k])
        assert got.centre_err[k] <= 1e-9 * (1.0 + abs(got.centre[k]))


@pytest.mark.parametrize("seed", range(12))
def test_a_priori_rounding_bound_holds_at_60_digits(seed: int) -> None:
    """``Margin.line_rounding`` bounds the error of the computed margin at any point of a
    line, near and far (checked at 60 digits with mpmath), and is at least the point's own
    bound from ``Margin.points``, which holds too."""
    margin, oracle, rng, (w, c, cabs) = _smooth_line(5000 + seed, seed)
    bound = margin.line_rounding(w, c, cabs)
    assert bound is not None
    alpha, beta = bound
    t = np.concatenate([rng.normal(0.0, 3.0, 20), [1e3, -1e6, 1e9, 0.0]])
    rows = np.zeros(t.size, dtype=np.intp)
    f, own, _ = margin.points(w, c[rows], cabs[rows], t, derivative=False)
    loose = alpha[0] + beta * np.abs(t)
    assert np.all(loose >= own)
    for k in range(t.size):
        exact = oracle.margin(float(t[k]))
        assert abs(f[k] - exact) <= loose[k], (k, t[k], f[k], exact, loose[k])
        assert abs(f[k] - exact) <= own[k], (k, t[k], f[k], exact, own[k])


def test_no_a_priori_bound_for_unbounded_units() -> None:
    relu = ([[1.0, 2.0], [3.0, 4.0]], [0.0, 1.0], "relu")
    out = ([[1.0, -1.0], [2.0, 1.0]], [0.0, 0.0], "identity")
    net = netbound.Network.from_layers([relu, out])
    margin = margin_between(net, "z1", "z2")
    w, c, cabs = margin.line_affine(np.array([[0.0, 1.0]]), 0)
    assert margin.line_rounding(w, c, cabs) is None


def _chord_cases(act: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Centres and half-widths of unit ranges: on either side of 0, across it, saturated far
    out, from 1e-12 wide to thousands."""
    rng = np.random.default_rng(seed)
    n = 120
    a = rng.normal(0.0, 3.0, n)
    a[:10] = [0.0, -0.0, 20.0, -40.0, 300.0, -360.0, 700.0, 1e4, 1.5, -0.3]
    ends = 10.0 ** rng.uniform(-12.0, 3.5, n)
    ends[:10] = [5.0, 1e-3, 25.0, 1.0, 10.0, 400.0, 1.0, 2e4, 1e-12, 0.0]
    scale = 2.0 if act == "sigmoid" else 1.0  # sigmoid bends over a range twice as wide
    return a * scale, ends * scale


@pytest.mark.parametrize("act", ["tanh", "sigmoid"])
@pytest.mark.parametrize("seed", range(3))
def test_chord_relaxation_holds_and_is_tight_at_40_digits(act: str, seed: int) -> None:
    """The chord forms of a unit, ``act(p) = mu + lam (p - a) +- rho`` on ``[a - ends,
    a + ends]``, against mpmath at 40 digits: every sampled point and the exact extrema of
    ``act(p) - lam (p - a)`` (at the range's ends, at 0 and where act' = lam, solved in
    mpmath) lie inside, and ``rho`` exceeds half the exact range by rounding only."""
    import mpmath

    mpmath.mp.dps = 40
    a, ends = _chord_cases(act, seed)
    aa = np.abs(a)
    near = activations.value_and_slope(act, aa - ends)[0]
    far = activations.value_and_slope(act, aa + ends)[0]
    one, zero = np.ones_like(a), np.zeros_like(a)
    mu, lam, rho, _ = affine._chord_forms(act, a, aa, one, zero, zero, ends, near, far)

    def f(p: Any) -> Any:
        return mpmath.tanh(p) if act == "tanh" else 1 / (1 + mpmath.exp(-p))

    rng = np.random.default_rng(100 + seed)
    for k in range(a.size):
        lo, hi = float(a[k] - ends[k]), float(a[k] + ends[k])
        slope = mpmath.mpf(float(lam[k]))
        points = [mpmath.mpf(x) for x in np.linspace(lo, hi, 41)]
        points += [mpmath.mpf(x) for x in rng.uniform(lo, hi, 40)]
        if lo < 0.0 < hi:
            points.append(mpmath.mpf(0))
        if 0 < slope < (1 if act == "tanh" else mpmath.mpf(1) / 4):
            # act'(p) = slope: tanh' = 1 - tanh^2, sigmoid' = s (1 - s).
            if act == "tanh":
                star = mpmath.atanh(mpmath.sqrt(1 - slope))
            else:
                s = (1 + mpmath.sqrt(1 - 4 * slope)) / 2
                star = mpmath.log(s / (1 - s))
            points += [p for p in (star, -star) if lo <= p <= hi]
        g = [f(p) - slope * (p - mpmath.mpf(float(a[k]))) for p in points]
        top, bottom = max(g), min(g)
        centre, radius = mpmath.mpf(float(mu[k])), mpmath.mpf(float(rho[k]))
        assert bottom >= centre - radius, (act, k, a[k], ends[k])
        assert top <= centre + radius, (act, k, a[k], ends[k])
        assert radius <= (top - bottom) / 2 + 1e-13 * (1 + slope * (abs(a[k]) + ends[k])), (
            act,
            k,
            float(radius),
            float((top - bottom) / 2),
        )


def test_chords_keep_wide_cells_of_a_saturating_net_tight() -> None:
    """On the 2-64-64-2 tanh net with weights x5, cells 2 and 5 wide across which many units
    bend, and on which the margin stays above 2.7, are proven positive (a Taylor form at the
    centre encloses them 60 to 250 times wider than the margin's range, and excludes
    neither); on every cell the enclosure holds the margin at 2001 points."""
    margin, (w, c, cabs) = _x5_line()
    lo = np.array([2.0, 3.0, -3.0, -1.0, -6.0])
    hi = lo + np.array([2.0, 5.0, 1.0, 1.5, 4.0])
    rows = np.zeros(lo.size, dtype=np.intp)
    enc = affine.cells(margin, w, c[rows], cabs[rows], lo, hi, derivative=False)
    assert np.all(enc.flo[:2] > 0.0), (enc.flo, enc.fhi)
    for k in range(lo.size):
        t = np.linspace(lo[k], hi[k], 2001)
        idx = np.zeros(t.size, dtype=np.intp)
        f, err, _ = margin.points(w, c[idx], cabs[idx], t, derivative=False)
        assert np.all(f + err >= enc.flo[k]), k
        assert np.all(f - err <= enc.fhi[k]), k


@pytest.mark.parametrize("seed", range(10))
def test_back_substituted_enclosures_hold_at_60_digits(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On random sigmoid, tanh and ReLU nets of two and three hidden layers, the enclosures
    with back-substitution hold the margin at 60 digits (mpmath, not netbound) at 12 points
    of every cell, including its ends; they are never wider than the forward forms' alone,
    and narrower in sum, so that the back-substituted bound is what is checked."""
    from far_field_oracle import FarOracle

    layers = _smooth_layers(7000 + seed)
    rng = np.random.default_rng(seed)
    if seed % 2:  # a ReLU layer among the smooth ones
        k = int(rng.integers(0, len(layers) - 1))
        layers = [(w2, b2, "relu" if i == k else act) for i, (w2, b2, act) in enumerate(layers)]
    margin = margin_between(netbound.Network.from_layers(layers), "z1", "z2")
    x2 = float(rng.normal(0.0, 3.0))
    oracle = FarOracle(layers, x2, dps=60)
    w, c, cabs = margin.line_affine(np.array([[0.0, x2]]), 0)
    lo = rng.normal(0.0, 4.0, 8)
    hi = lo + np.array([20.0, 6.0, 3.0, 1.0, 0.3, 1e-2, 1e-6, 1e-12])
    rows = np.zeros(lo.size, dtype=np.intp)
    got = affine.cells(margin, w, c[rows], cabs[rows], lo, hi, derivative=False)
    monkeypatch.setattr(affine, "BACK_SUBSTITUTE", False)
    forward = affine.cells(margin, w, c[rows], cabs[rows], lo, hi, derivative=False)
    assert np.all(got.fhi - got.flo <= forward.fhi - forward.flo)
    assert np.sum(got.fhi - got.flo) < np.sum(forward.fhi - forward.flo)
    for k in range(lo.size):
        for t in np.concatenate([[lo[k], hi[k]], rng.uniform(lo[k], hi[k], 10)]):
            exact = oracle.margin(float(t))
            assert got.flo[k] <= exact <= got.fhi[k], (k, t, got.flo[k], exact, got.fhi[k])
