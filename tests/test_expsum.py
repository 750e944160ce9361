"""The exponential sum E(x1) of a one-hidden-layer sigmoid network (docs/expsum.md).

* E(x1) = f(x1) * prod_i (1 + e^{B_i}) on random networks, with B_i = -(w_x1 x1 + w_x2 x2 + b)
  (the minus covers the whole sum, unlike the derivation's equations 6-8);
* the derivation's eight constants C0..C7 for H = 3, by their formulas;
* Descartes' rule: the number of roots netbound finds, counted with multiplicity, is at most
  the bound V, and has V's parity when the solution is complete.
"""

from __future__ import annotations

import math
from itertools import combinations, pairwise

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from scipy.special import expit

import netbound
from netbound.errors import OptionError
from netbound.expsum import MAX_UNITS, SEED_LABELS, ExpSum, expsum
from netbound.margin import margin_between, margin_threshold

Weights = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    derandomize=True,
)


def _net(w1: np.ndarray, b1: np.ndarray, w2: np.ndarray, b2: np.ndarray) -> netbound.Network:
    return netbound.Network.from_layers([(w1, b1, "sigmoid"), (w2, b2, "sigmoid")])


def _reference(
    w1: np.ndarray, b1: np.ndarray, w2: np.ndarray, b2: np.ndarray, x1: float, x2: float
) -> tuple[float, float]:
    """f(x1) * prod(1 + e^{B_i}) computed directly, and the scale of its rounding error.

    The scale is the sum over subsets of |terms| with each C_S replaced by the sum of the
    magnitudes it is made of (sum_{j not in S} |d_j| + |Δb|): the size of the numbers that
    cancel in f, so that a root of E (where E is tiny) is compared at the right scale.
    """
    d = w2[0] - w2[1]
    delta_b = b2[1] - b2[0]
    big_b = -(w1[:, 0] * x1 + w1[:, 1] * x2 + b1)
    f = float(np.sum(d * expit(-big_b)) - delta_b)
    product = float(np.prod(1.0 + np.exp(big_b)))
    scale = 0.0
    h = len(d)
    for size in range(h + 1):
        for subset in combinations(range(h), size):
            outside = [j for j in range(h) if j not in subset]
            magnitude = sum(abs(d[j]) for j in outside) + abs(delta_b)
            scale += magnitude * math.exp(sum(big_b[i] for i in subset))
    return f * product, scale


def _weights(h_min: int, h_max: int, bound: float) -> st.SearchStrategy[Weights]:
    finite = st.floats(-bound, bound, allow_nan=False, allow_infinity=False)

    @st.composite
    def build(draw: st.DrawFn) -> Weights:
        h = draw(st.integers(h_min, h_max))
        w1 = np.array(draw(st.lists(finite, min_size=2 * h, max_size=2 * h))).reshape(h, 2)
        b1 = np.array(draw(st.lists(finite, min_size=h, max_size=h)))
        w2 = np.array(draw(st.lists(finite, min_size=2 * h, max_size=2 * h))).reshape(2, h)
        b2 = np.array(draw(st.lists(finite, min_size=2, max_size=2)))
        return w1, b1, w2, b2

    return build()


# -- E = f * prod(1 + e^B) ---------------------------------------------------------------------


@SETTINGS
@given(
    weights=_weights(1, 6, 6.0),
    x2=st.floats(-4.0, 4.0),
    x1s=st.lists(st.floats(-30.0, 30.0), min_size=1, max_size=6),
)
def test_e_is_margin_times_product(weights: Weights, x2: float, x1s: list[float]) -> None:
    w1, b1, w2, b2 = weights
    net = _net(w1, b1, w2, b2)
    es = expsum(margin_between(net, "z1", "z2"), np.array([0.0, x2]))
    h = len(b1)
    assert len(es.terms) == 2**h
    got = es.value(np.array(x1s))
    assert got.shape == (len(x1s),)
    for x1, value in zip(x1s, got, strict=True):
        want, scale = _reference(w1, b1, w2, b2, x1, x2)
        if not (math.isfinite(want) and math.isfinite(scale) and scale < 1e300):
            continue  # e^B overflowed: E is for display only there
        assert math.isfinite(value)
        np.testing.assert_allclose(value, want, rtol=0.0, atol=1e-9 * scale)
        # E and f have the same sign wherever the sign is not lost in rounding.
        if abs(want) > 1e-6 * scale:
            assert np.sign(value) == np.sign(want)


@SETTINGS
@given(weights=_weights(1, 6, 6.0), x2=st.floats(-4.0, 4.0))
def test_terms_follow_the_formulas(weights: Weights, x2: float) -> None:
    """Each term is C_S exp(offset_S + rate_S x1) with the C_S and B_i of docs/expsum.md."""
    w1, b1, w2, b2 = weights
    es = expsum(margin_between(_net(w1, b1, w2, b2), "z1", "z2"), np.array([0.0, x2]))
    h = len(b1)
    d = w2[0] - w2[1]
    delta_b = b2[1] - b2[0]
    seen = set()
    for t in es.terms:
        assert t.subset == tuple(sorted(t.subset))
        assert all(1 <= i <= h for i in t.subset)
        seen.add(t.subset)
        s = [i - 1 for i in t.subset]
        outside = [j for j in range(h) if j not in s]
        assert t.coefficient == pytest.approx(sum(d[j] for j in outside) - delta_b, abs=1e-12)
        assert t.rate == pytest.approx(-sum(w1[i, 0] for i in s), abs=1e-12)
        assert t.offset == pytest.approx(-sum(w1[i, 1] * x2 + b1[i] for i in s), abs=1e-12)
        if h == 3:
            assert t.label == SEED_LABELS[t.subset]
        else:
            assert t.label == "C{" + ",".join(map(str, t.subset)) + "}"
    assert len(seen) == 2**h


def test_seed_constants_c0_to_c7() -> None:
    """The derivation's eight constants, on a 2-3-2 network with distinct weights."""
    w1 = np.array([[0.7, -1.3], [-2.1, 0.4], [1.9, 2.6]])
    b1 = np.array([0.3, -1.1, 0.8])
    w2 = np.array([[1.5, -0.6, 2.2], [-0.9, 1.7, 0.35]])
    b2 = np.array([0.45, -0.2])
    d1, d2, d3 = w2[0] - w2[1]
    delta_b = b2[1] - b2[0]
    want = {
        "C0": d1 + d2 + d3 - delta_b,
        "C1": d2 + d3 - delta_b,
        "C2": d1 + d3 - delta_b,
        "C3": d1 + d2 - delta_b,
        "C4": d1 - delta_b,
        "C5": d2 - delta_b,
        "C6": d3 - delta_b,
        "C7": -delta_b,
    }
    subsets = {
        "C0": (),
        "C1": (1,),
        "C2": (2,),
        "C3": (3,),
        "C4": (2, 3),
        "C5": (1, 3),
        "C6": (1, 2),
        "C7": (1, 2, 3),
    }
    x2 = 0.75
    es = expsum(margin_between(_net(w1, b1, w2, b2), "z1", "z2"), np.array([0.0, x2]))
    terms = {t.label: t for t in es.terms}
    assert set(terms) == set(want)
    # B_i = -(w_x1 x1 + w_x2 x2 + b): rate -w_x1 per unit, offset -(w_x2 x2 + b) at x1 = 0.
    big_b_rate = -w1[:, 0]
    big_b_offset = -(w1[:, 1] * x2 + b1)
    for label, c in want.items():
        t = terms[label]
        assert t.subset == subsets[label]
        assert t.coefficient == pytest.approx(c, abs=1e-14)
        idx = [i - 1 for i in t.subset]
        assert t.rate == pytest.approx(float(np.sum(big_b_rate[idx])), abs=1e-14)
        assert t.offset == pytest.approx(float(np.sum(big_b_offset[idx])), abs=1e-14)
    # The derivation's equations 6-8 (B_i = -w x1 + w x2 + b) give other offsets: not these.
    wrong = -w1[:, 0] * 0.0 + w1[:, 1] * x2 + b1
    assert terms["C7"].offset != pytest.approx(float(np.sum(wrong)), abs=1e-3)
    # And E vanishes where the network's outputs are equal.
    net = _net(w1, b1, w2, b2)
    for result in netbound.solve(net, [x2]):
        for root in result.roots:
            value = es.value(np.array([root.x1]))[0]
            scale = sum(
                abs(t.coefficient) * math.exp(t.offset + t.rate * root.x1) for t in es.terms
            )
            assert abs(value) <= 1e-12 * scale


def test_seed_file_constants() -> None:
    """sample_nets/seed.json at x2 = 0.5, by hand from docs/expsum.md."""
    net = netbound.load("sample_nets/seed.json")
    es = expsum(margin_between(net, "z1", "z2"), np.array([0.0, 0.5]))
    got = {t.label: (t.coefficient, t.rate, t.offset) for t in es.terms}
    assert got == {
        "C0": (2.0, 0.0, 0.0),
        "C1": (-2.0, -3.0, -3.0),
        "C2": (-2.0, 3.0, -3.0),
        "C3": (4.0, -0.5, 1.0),
        "C4": (0.0, 2.5, -2.0),
        "C5": (0.0, -3.5, -2.0),
        "C6": (-6.0, 0.0, -6.0),
        "C7": (-4.0, -0.5, -5.0),
    }
    # Merged by rate: C0 + C6 at rate 0, C3 + C7 at rate -0.5; zero terms have sign 0.
    merged = {m.rate: m for m in es.merged}
    assert list(merged) == sorted(merged)
    assert merged[0.0].sign == 1
    assert merged[0.0].log_abs == pytest.approx(math.log(2.0 - 6.0 * math.exp(-6.0)), rel=1e-14)
    assert merged[-0.5].sign == 1
    assert merged[-0.5].log_abs == pytest.approx(math.log(4 * math.e - 4 * math.exp(-5.0)))
    assert merged[2.5].sign == 0
    assert merged[2.5].log_abs == -math.inf
    assert [m.sign for m in es.merged if m.sign] == [-1, 1, 1, -1]
    assert es.descartes_bound == 2
    assert len(netbound.solve(net, [0.5])[0].roots) == 2


def test_threshold_margin() -> None:
    """A single sigmoid output against a threshold: Δb = act^-1(T) - b_out."""
    w1 = np.array([[1.2, -0.4], [-0.7, 0.9]])
    b1 = np.array([0.1, -0.5])
    net = netbound.Network.from_layers([(w1, b1, "sigmoid"), ([[2.0, -1.5]], [0.25], "sigmoid")])
    t = 0.3
    es = expsum(margin_threshold(net, t), np.array([0.0, 0.4]))
    delta_b = math.log(t / (1 - t)) - 0.25
    coefficients = {t.subset: t.coefficient for t in es.terms}
    assert coefficients[()] == pytest.approx(2.0 - 1.5 - delta_b, abs=1e-14)
    assert coefficients[(1,)] == pytest.approx(-1.5 - delta_b, abs=1e-14)
    assert coefficients[(1, 2)] == pytest.approx(-delta_b, abs=1e-14)


def test_value_overflows_to_inf_not_error() -> None:
    w1 = np.array([[-10.0, 0.0]])
    es = expsum(
        margin_between(
            _net(w1, np.zeros(1), np.array([[1.0], [0.0]]), np.array([0.0, 2.0])), "z1", "z2"
        ),
        np.array([0.0, 0.0]),
    )
    out = es.value(np.array([0.0, 100.0, -100.0]))
    assert np.isfinite(out[0])
    assert np.isfinite(out[2])
    assert np.isinf(out[1]) or abs(out[1]) > 1e300


@pytest.mark.parametrize(
    ("layers", "message"),
    [
        (
            [([[1.0, 0.0]], [0.0], "tanh"), ([[1.0], [2.0]], [0.0, 0.0], "identity")],
            "tanh -> identity",
        ),
        (
            [
                ([[1.0, 0.0]], [0.0], "sigmoid"),
                ([[1.0]], [0.0], "sigmoid"),
                ([[1.0], [2.0]], [0.0, 0.0], "sigmoid"),
            ],
            "sigmoid -> sigmoid -> sigmoid",
        ),
        ([([[1.0, 0.0], [2.0, 1.0]], [0.0, 0.0], "identity")], "identity"),
    ],
)
def test_not_one_sigmoid_layer(layers: list[tuple[object, object, str]], message: str) -> None:
    net = netbound.Network.from_layers(layers)  # type: ignore[arg-type]
    with pytest.raises(OptionError, match="one hidden layer of sigmoid units") as info:
        expsum(margin_between(net, "z1", "z2"), np.zeros(2))
    assert message in str(info.value)


def test_too_many_units() -> None:
    h = MAX_UNITS + 1
    w1 = np.ones((h, 2))
    net = _net(w1, np.zeros(h), np.ones((2, h)), np.zeros(2))
    with pytest.raises(OptionError, match=f"H = {h} hidden units is too many"):
        expsum(margin_between(net, "z1", "z2"), np.zeros(2))


# -- Descartes' rule ---------------------------------------------------------------------------


def _generic(es: ExpSum, w1: np.ndarray, b2: np.ndarray, w2: np.ndarray) -> bool:
    """No coefficient lost in cancellation, so that float signs are the exact signs."""
    d = w2[0] - w2[1]
    size = float(np.sum(np.abs(d)) + abs(b2[1] - b2[0]))
    if any(abs(t.coefficient) <= 1e-6 * size for t in es.terms):
        return False
    for m in es.merged:
        group = [t for t in es.terms if t.rate == m.rate]
        top = max(t.offset for t in group)
        total = sum(abs(t.coefficient) * math.exp(t.offset - top) for t in group)
        if m.log_abs - top < math.log(1e-6 * total):
            return False
    rates = sorted({t.rate for t in es.terms})
    return all(b - a > 1e-6 for a, b in pairwise(rates))


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    derandomize=True,
)
@given(weights=_weights(1, 4, 5.0), x2=st.floats(-3.0, 3.0))
def test_descartes_bound(weights: Weights, x2: float) -> None:
    w1, b1, w2, b2 = weights
    net = _net(w1, b1, w2, b2)
    es = expsum(margin_between(net, "z1", "z2"), np.array([0.0, x2]))
    assume(_generic(es, w1, b2, w2))
    (result,) = netbound.solve(net, [x2])
    assert not result.everywhere
    crossings = sum(1 for r in result.roots if r.kind == "crossing")
    touchings = sum(1 for r in result.roots if r.kind == "touching")
    # With multiplicity: a crossing is at least simple, a touching root at least double.
    assert crossings + 2 * touchings <= es.descartes_bound
    if result.complete and not result.unresolved:
        # A crossing has odd multiplicity, a touching root even: the count's parity is the
        # parity of the crossings, which must be V's.
        assert crossings % 2 == es.descartes_bound % 2


def test_descartes_bound_is_tight_on_the_seed() -> None:
    net = netbound.load("sample_nets/seed.json")
    values = [-0.5, 0.0, 0.5, 1.0, 2.0, -2.0]
    for result in netbound.solve(net, values):
        es = expsum(margin_between(net, "z1", "z2"), np.array([0.0, result.x2]))
        assert len(result.roots) <= es.descartes_bound
        assert len(result.roots) % 2 == es.descartes_bound % 2
