"""The network model and the activations: forward pass, JSON round trip, derivatives, ranges."""

from __future__ import annotations

import itertools
import json
import math
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

import netbound
from netbound import Layer, Network, activations
from netbound.activations import (
    ACTIVATIONS,
    BOUNDED,
    PIECEWISE_AFFINE,
    apply,
    derivative,
    derivative_range,
    inverse,
    range_of,
)
from netbound.errors import NetworkError
from netbound.loading import network_from_json
from netbound.rounding import ACT_ERR, EPS, TINY

PROPERTY = settings(max_examples=100, deadline=None)
ELEMENTWISE = ("sigmoid", "tanh", "relu", "leaky_relu", "softplus", "identity")
INF = math.inf

# The layered example of the README.
W1 = [[0.5, -1.2], [1.0, 0.3], [-0.7, 2.0]]
B1 = [0.1, -0.2, 0.05]
W2 = [[1.0, -2.0, 0.5], [-1.0, 1.5, 0.2]]
B2 = [0.0, 0.3]


def seed_net() -> Network:
    return Network.from_layers([(W1, B1, "sigmoid"), (W2, B2, "sigmoid")])


# --------------------------------------------------------------------------- plain-Python formulas


def py_sigmoid(u: float) -> float:
    if u >= 0.0:
        return 1.0 / (1.0 + math.exp(-u))
    e = math.exp(u)
    return e / (1.0 + e)


def py_softplus(u: float) -> float:
    return max(u, 0.0) + math.log1p(math.exp(-abs(u)))


def py_act(name: str, u: float, alpha: float = 0.01) -> float:
    if name == "sigmoid":
        return py_sigmoid(u)
    if name == "tanh":
        return math.tanh(u)
    if name == "relu":
        return max(u, 0.0)
    if name == "leaky_relu":
        return u if u >= 0.0 else alpha * u
    if name == "softplus":
        return py_softplus(u)
    assert name == "identity"
    return u


def py_softmax(us: list[float]) -> list[float]:
    m = max(us)
    e = [math.exp(u - m) for u in us]
    s = sum(e)
    return [v / s for v in e]


def eye_net(n: int, activation: str, alpha: float = 0.01) -> Network:
    """A one-layer network whose output is ``activation(x)``."""
    layer = Layer(np.eye(n), np.zeros(n), activation, alpha)
    return Network(
        (layer,), tuple(f"x{i + 1}" for i in range(n)), tuple(f"z{i + 1}" for i in range(n))
    )


# --------------------------------------------------------------------------- forward pass


def test_forward_by_hand() -> None:
    """The 2-3-2 sigmoid network at x = (0.3, -0.7), with the arithmetic written out."""
    x1, x2 = 0.3, -0.7
    # Hidden pre-activations: w[j][0] * x1 + w[j][1] * x2 + b[j].
    u1 = 0.5 * 0.3 + (-1.2) * (-0.7) + 0.1  # 0.15 + 0.84 + 0.1 = 1.09
    u2 = 1.0 * 0.3 + 0.3 * (-0.7) + (-0.2)  # 0.3 - 0.21 - 0.2 = -0.11
    u3 = (-0.7) * 0.3 + 2.0 * (-0.7) + 0.05  # -0.21 - 1.4 + 0.05 = -1.56
    assert (u1, u2, u3) == pytest.approx((1.09, -0.11, -1.56), abs=1e-15)
    y1 = 1.0 / (1.0 + math.exp(-u1))
    y2 = 1.0 / (1.0 + math.exp(-u2))
    y3 = 1.0 / (1.0 + math.exp(-u3))
    # Output pre-activations.
    p1 = 1.0 * y1 + (-2.0) * y2 + 0.5 * y3 + 0.0
    p2 = (-1.0) * y1 + 1.5 * y2 + 0.2 * y3 + 0.3
    z1 = 1.0 / (1.0 + math.exp(-p1))
    z2 = 1.0 / (1.0 + math.exp(-p2))

    net = seed_net()
    assert net.preactivations([x1, x2]).tolist() == pytest.approx([p1, p2], rel=1e-14)
    assert net.forward([x1, x2]).tolist() == pytest.approx([z1, z2], rel=1e-14)
    # The values themselves (50-digit mpmath, rounded to 15 digits).
    assert [y1, y2, y3] == pytest.approx(
        [0.748381721607064, 0.472527695655406, 0.173646647019005], abs=1e-15
    )
    assert [p1, p2] == pytest.approx([-0.109850346194246, 0.295139151279846], abs=1e-15)
    assert [z1, z2] == pytest.approx([0.472564996312287, 0.573253814144094], abs=1e-15)


def test_forward_properties() -> None:
    net = seed_net()
    assert net.n_inputs == 2
    assert net.n_outputs == 2
    assert net.output_activation == "sigmoid"
    assert net.input_names == ("x1", "x2")
    assert net.output_names == ("z1", "z2")
    assert net.source == "<network>"


@pytest.mark.parametrize("activation", ELEMENTWISE)
@PROPERTY
@given(
    us=st.lists(
        st.floats(min_value=-800.0, max_value=800.0, allow_subnormal=False), min_size=1, max_size=6
    )
)
def test_activation_forward_matches_formula(activation: str, us: list[float]) -> None:
    got = eye_net(len(us), activation).forward(us).tolist()
    expected = [py_act(activation, u) for u in us]
    assert got == pytest.approx(expected, rel=1e-13, abs=1e-300)


@PROPERTY
@given(
    us=st.lists(st.floats(min_value=-50.0, max_value=50.0), min_size=1, max_size=6),
    alpha=st.floats(min_value=0.0, max_value=3.0),
)
def test_leaky_relu_alpha(us: list[float], alpha: float) -> None:
    got = eye_net(len(us), "leaky_relu", alpha).forward(us).tolist()
    assert got == pytest.approx([py_act("leaky_relu", u, alpha) for u in us], rel=1e-15, abs=0)


@PROPERTY
@given(
    us=st.lists(
        st.floats(min_value=-800.0, max_value=800.0, allow_subnormal=False), min_size=1, max_size=6
    )
)
def test_softmax_matches_formula(us: list[float]) -> None:
    got = eye_net(len(us), "softmax").forward(us)
    assert got.tolist() == pytest.approx(py_softmax(us), rel=1e-12, abs=1e-300)
    assert float(np.sum(got)) == pytest.approx(1.0, rel=1e-14)


@pytest.mark.parametrize(
    ("activation", "u", "expected"),
    [
        ("sigmoid", 0.0, 0.5),
        ("sigmoid", 2.0, 1.0 / (1.0 + math.exp(-2.0))),
        ("tanh", 0.5, math.tanh(0.5)),
        ("tanh", -3.0, math.tanh(-3.0)),
        ("relu", -2.0, 0.0),
        ("relu", 2.5, 2.5),
        ("leaky_relu", -2.0, -0.02),
        ("leaky_relu", 2.0, 2.0),
        ("softplus", 0.0, math.log(2.0)),
        ("softplus", 1.0, math.log(1.0 + math.e)),
        ("softplus", -1.0, math.log(1.0 + math.exp(-1.0))),
        ("identity", -7.25, -7.25),
    ],
)
def test_activation_values(activation: str, u: float, expected: float) -> None:
    assert float(apply(activation, np.array(u))) == pytest.approx(expected, rel=1e-15)


def test_softmax_values() -> None:
    e = [math.exp(1.0), math.exp(2.0), math.exp(3.0)]
    expected = [v / sum(e) for v in e]
    got = apply("softmax", np.array([1.0, 2.0, 3.0]))
    assert got.tolist() == pytest.approx(expected, rel=1e-15)
    # Along the last axis of a batch, row by row.
    batch = apply("softmax", np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]))
    assert batch[0].tolist() == pytest.approx(expected, rel=1e-15)
    assert batch[1].tolist() == pytest.approx([1 / 3, 1 / 3, 1 / 3], rel=1e-15)


def test_unknown_activation() -> None:
    with pytest.raises(ValueError, match=r"unknown activation 'gelu'"):
        apply("gelu", np.zeros(2))


@pytest.mark.parametrize("out", [1, 2, 4])
def test_batch_shapes(out: int) -> None:
    rng = np.random.default_rng(1)
    net = Network.from_layers(
        [
            (rng.normal(size=(3, 2)), rng.normal(size=3), "tanh"),
            (rng.normal(size=(out, 3)), rng.normal(size=out), "softmax" if out > 1 else "sigmoid"),
        ]
    )
    x = rng.normal(size=(5, 7, 2))
    y = net.forward(x)
    assert y.shape == (5, 7, out)
    assert y.dtype == np.float64
    assert net.preactivations(x).shape == (5, 7, out)
    for i in range(5):
        for j in range(7):
            assert y[i, j].tolist() == pytest.approx(net.forward(x[i, j]).tolist(), rel=1e-13)
    assert net.forward(x[0, 0]).shape == (out,)
    assert net.forward(x[0]).shape == (7, out)
    assert net.forward(np.zeros((0, 2))).shape == (0, out)
    assert net.forward([[0.1, 0.2]]).shape == (1, out)  # nested lists are fine


def test_forward_accepts_integers() -> None:
    net = seed_net()
    assert net.forward([1, 2]).tolist() == net.forward([1.0, 2.0]).tolist()


# --------------------------------------------------------------------------- huge inputs


def no_warnings(f: Callable[[], Any]) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return f()


@pytest.mark.parametrize("scale", [1e6, 1e100, 1e300])
def test_seed_net_huge_inputs(scale: float) -> None:
    """Hidden sigmoids saturate to exactly 0 or 1; the outputs are then exact limits."""
    net = seed_net()
    got = no_warnings(lambda: net.forward([scale, scale]))
    # u1 = 0.5 s - 1.2 s + 0.1 -> -inf, u2 = 1.3 s -> +inf, u3 = 1.3 s -> +inf: y = (0, 1, 1).
    expected = [py_sigmoid(-2.0 + 0.5), py_sigmoid(1.5 + 0.2 + 0.3)]
    assert got.tolist() == pytest.approx(expected, rel=1e-15)
    got = no_warnings(lambda: net.forward([-scale, -scale]))
    # u1 -> +inf, u2 -> -inf, u3 -> -inf: y = (1, 0, 0).
    assert got.tolist() == pytest.approx([py_sigmoid(1.0), py_sigmoid(-1.0 + 0.3)], rel=1e-15)


@pytest.mark.parametrize(
    ("activation", "expected"),
    [
        ("sigmoid", [1.0, 0.0]),
        ("tanh", [1.0, -1.0]),
        ("relu", [1e6, 0.0]),
        ("leaky_relu", [1e6, -1e4]),
        ("softplus", [1e6, 0.0]),
        ("identity", [1e6, -1e6]),
        ("softmax", [1.0, 0.0]),
    ],
)
def test_activation_huge_inputs(activation: str, expected: list[float]) -> None:
    net = eye_net(2, activation)
    got = no_warnings(lambda: net.forward([1e6, -1e6]))
    assert got.tolist() == expected
    batch = no_warnings(lambda: net.forward(np.array([[1e6, -1e6]] * 3)))
    assert batch.tolist() == [expected] * 3


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_overflowing_preactivations_do_not_warn(activation: str) -> None:
    """Weights and inputs whose products overflow to inf give no RuntimeWarning."""
    net = Network.from_layers(
        [([[1e300]], [0.0], "identity"), ([[1e300], [-1e300]], [0.0, 0.0], activation)]
    )
    got = no_warnings(lambda: net.forward([1e300]))
    assert got.shape == (2,)
    if activation != "softmax":
        assert got.tolist() == [py_act(activation, INF), py_act(activation, -INF)]


@pytest.mark.parametrize("hidden", ELEMENTWISE)
def test_huge_inputs_hidden_layer(hidden: str) -> None:
    net = Network.from_layers(
        [([[1.0, -1.0], [0.5, 0.5]], [0.0, 0.0], hidden), ([[1.0, -1.0]], [0.0], "sigmoid")]
    )
    x = np.array([[1e6, -1e6], [-1e6, 1e6], [1e6, 1e6]])
    got = no_warnings(lambda: net.forward(x))
    assert np.all(np.isfinite(got))
    for row, out in zip(x, got, strict=True):
        h = [py_act(hidden, row[0] - row[1]), py_act(hidden, 0.5 * row[0] + 0.5 * row[1])]
        assert float(out[0]) == pytest.approx(py_sigmoid(h[0] - h[1]), rel=1e-15)


# --------------------------------------------------------------------------- JSON round trip


finite = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False)


@st.composite
def networks(draw: st.DrawFn) -> Network:
    sizes = draw(st.lists(st.integers(1, 4), min_size=2, max_size=5))
    layers = []
    for k, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        last = k == len(sizes) - 2
        act = draw(st.sampled_from(ACTIVATIONS if last else ELEMENTWISE))
        w = np.array(draw(st.lists(finite, min_size=n_in * n_out, max_size=n_in * n_out)))
        b = np.array(draw(st.lists(finite, min_size=n_out, max_size=n_out)))
        alpha = draw(st.floats(0.0, 2.0)) if act == "leaky_relu" else 0.01
        layers.append(Layer(w.reshape(n_out, n_in), b, act, alpha))
    names = st.text(min_size=1, max_size=4).filter(lambda s: s.strip() != "")
    inputs = draw(st.lists(names, min_size=sizes[0], max_size=sizes[0], unique=True))
    outputs = draw(st.lists(names, min_size=sizes[-1], max_size=sizes[-1], unique=True))
    return Network(tuple(layers), tuple(inputs), tuple(outputs))


def assert_same(a: Network, b: Network) -> None:
    assert len(a.layers) == len(b.layers)
    for la, lb in zip(a.layers, b.layers, strict=True):
        assert la.weights.tolist() == lb.weights.tolist()
        assert la.biases.tolist() == lb.biases.tolist()
        assert la.activation == lb.activation
        if la.activation == "leaky_relu":
            assert la.alpha == lb.alpha
    assert a.input_names == b.input_names
    assert a.output_names == b.output_names


@PROPERTY
@given(net=networks())
def test_to_json_round_trip(net: Network) -> None:
    doc = net.to_json()
    assert doc["netbound"] == 1
    assert set(doc) == {"netbound", "inputs", "outputs", "layers"}
    for entry, layer in zip(doc["layers"], net.layers, strict=True):
        expected_keys = {"weights", "biases", "activation"}
        if layer.activation == "leaky_relu":
            expected_keys.add("alpha")
        assert set(entry) == expected_keys
    assert_same(network_from_json(doc, "doc"), net)
    # Through the text, exactly (floats round-trip through repr).
    text = json.dumps(doc)
    again = network_from_json(json.loads(text), "text")
    assert_same(again, net)
    assert again.source == "text"
    x = np.linspace(-1.0, 1.0, net.n_inputs)
    np.testing.assert_array_equal(no_warnings(lambda: again.forward(x)), net.forward(x))


def test_to_json_seed() -> None:
    assert seed_net().to_json() == {
        "netbound": 1,
        "inputs": ["x1", "x2"],
        "outputs": ["z1", "z2"],
        "layers": [
            {"weights": W1, "biases": B1, "activation": "sigmoid"},
            {"weights": W2, "biases": B2, "activation": "sigmoid"},
        ],
    }


# --------------------------------------------------------------------------- from_layers


def test_from_layers_names() -> None:
    net = Network.from_layers(
        [(np.eye(2), [0.0, 0.0], "identity")], input_names=["a", "b"], output_names=["p", "q"]
    )
    assert net.input_names == ("a", "b")
    assert net.output_names == ("p", "q")
    assert net.forward([3.0, 4.0]).tolist() == [3.0, 4.0]


def test_from_layers_accepts_arrays_tuples_and_integers() -> None:
    net = Network.from_layers([(np.array([[1, 2]]), (3,), "relu")])
    assert net.layers[0].weights.dtype == np.float64
    assert net.layers[0].weights.tolist() == [[1.0, 2.0]]
    assert net.forward([1.0, 1.0]).tolist() == [6.0]


@pytest.mark.parametrize(
    ("layers", "expected"),
    [
        pytest.param(
            [([[1.0, 2.0]], [0.0], "relu"), ([[1.0, 2.0]], [0.0], "relu")],
            "layers[1].weights has 2 columns but layers[0] has 1 units; each row holds one "
            "weight per unit of the previous layer (out x in)",
            id="shapes",
        ),
        pytest.param(
            [([[1.0, 2.0]], [0.0, 1.0], "relu")],
            "layers[0].biases has 2 entries but weights has 1 rows (one per unit, out x in); "
            "give one bias per unit",
            id="biases",
        ),
        pytest.param(
            [([[1.0], [math.nan]], [0.0, 0.0], "relu")],
            "layers[0].weights[1][0] is nan; expected a finite number",
            id="nan",
        ),
        pytest.param(
            [([[1.0]], [math.inf], "relu")],
            "layers[0].biases[0] is inf; expected a finite number",
            id="inf-bias",
        ),
        pytest.param(
            [([[1.0]], [0.0], "swish")],
            "layers[0].activation is 'swish'; expected one of "
            "sigmoid, tanh, relu, leaky_relu, softplus, identity, softmax",
            id="activation",
        ),
        pytest.param(
            [([[1.0]], [0.0], "leaky_relu", -0.5)],
            "layers[0].alpha is -0.5; a leaky_relu slope must be >= 0",
            id="alpha",
        ),
        pytest.param(
            [([[1.0]], [0.0], "softmax"), ([[1.0]], [0.0], "identity")],
            'layers[0].activation is "softmax", allowed on the last layer only',
            id="softmax-inside",
        ),
        pytest.param(
            [([1.0], [0.0], "relu")],
            "layers[0].weights has 1 dimension(s); expected 2",
            id="1d-weights",
        ),
        pytest.param([], "a network needs at least one layer", id="none"),
        pytest.param(
            [("w", "b")],
            "layers[0] is tuple; expected a Layer or a tuple "
            "(weights, biases, activation[, alpha])",
            id="short-tuple",
        ),
    ],
)
def test_from_layers_checks(layers: list[Any], expected: str) -> None:
    with pytest.raises(NetworkError) as info:
        Network.from_layers(layers)
    assert str(info.value) == expected


def test_network_errors_are_value_errors() -> None:
    with pytest.raises(ValueError, match="at least one layer"):
        Network.from_layers([])


def test_from_layers_checks_names() -> None:
    with pytest.raises(NetworkError) as info:
        Network.from_layers([([[1.0]], [0.0], "relu")], input_names=["a", "b"])
    assert str(info.value) == "2 input name(s) for 1 input(s); give one name per input"
    with pytest.raises(NetworkError) as info:
        Network.from_layers([([[1.0], [2.0]], [0.0, 0.0], "relu")], output_names=["p", "p"])
    assert str(info.value) == "output name 'p' appears twice; names must be unique"


def test_network_validates_itself_when_built_directly() -> None:
    layer = Layer(np.ones((3, 2)), np.zeros(3), "tanh")
    with pytest.raises(NetworkError) as info:
        Network((layer, layer), ("x1", "x2"), ("z1", "z2", "z3"))
    assert str(info.value) == (
        "layers[1].weights has 2 columns but layers[0] has 3 units; each row holds one weight "
        "per unit of the previous layer (out x in)"
    )


def test_from_layers_builds_leaky_relu_with_its_slope() -> None:
    net = Network.from_layers([([[1.0, 0.0]], [0.0], "leaky_relu", 0.25)])
    assert net.layers[0].alpha == 0.25
    assert net.forward([-2.0, 0.0]).tolist() == [-0.5]
    assert Network.from_layers([net.layers[0]]) == net


def test_equal_networks_compare_equal_whatever_their_source(tmp_path: Path) -> None:
    a = Network.from_layers([([[1.0, 2.0]], [0.5], "tanh")])
    b = netbound.loads(json.dumps(a.to_json()), "copy.json")
    assert a == b
    assert hash(a) == hash(b)
    assert a != Network.from_layers([([[1.0, 2.5]], [0.5], "tanh")])
    assert a != Network.from_layers([([[1.0, 2.0]], [0.5], "tanh")], input_names=["p", "q"])


def test_repr_is_short_and_names_the_shape() -> None:
    big = Network.from_layers(
        [(np.ones((500, 2)), np.zeros(500), "relu"), (np.ones((3, 500)), np.zeros(3), "softmax")]
    )
    assert repr(big) == "Network(2-500-3 relu/softmax, inputs x1,x2, outputs z1,z2,z3)"
    assert repr(big.layers[0]) == "Layer(500x2, relu)"


# --------------------------------------------------------------------------- derivatives


def mp_derivative(name: str, u: float) -> float:
    """First derivative of an activation, to 50 digits."""
    mpmath = pytest.importorskip("mpmath")
    with mpmath.workdps(50):
        x = mpmath.mpf(u)
        if name in ("sigmoid", "softplus"):
            s = 1 / (1 + mpmath.exp(-x))
            s_neg = 1 / (1 + mpmath.exp(x))  # 1 - s, without cancellation at 50 digits
            d1 = s if name == "softplus" else s * s_neg
        else:
            d1 = 1 / mpmath.cosh(x) ** 2
        return float(d1)


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "softplus"])
@PROPERTY
@given(u=st.floats(min_value=-700.0, max_value=700.0))
def test_smooth_derivatives_accurate(name: str, u: float) -> None:
    """Relative accuracy on both sides, far into the tails (no 1 - s cancellation)."""
    d1 = mp_derivative(name, u)
    assert float(derivative(name, np.array(u))) == pytest.approx(d1, rel=1e-13, abs=1e-305)


@PROPERTY
@given(u=st.floats(min_value=-750.0, max_value=750.0))
def test_sigmoid_within_its_rounding_bound(u: float) -> None:
    """The sigmoid within ACT_ERR of 50-digit mpmath, on both sides and into the tails, where
    it underflows."""
    mpmath = pytest.importorskip("mpmath")
    with mpmath.workdps(50):
        exact = 1 / (1 + mpmath.exp(-mpmath.mpf(u)))
        got = float(no_warnings(lambda: activations.sigmoid(np.array(u))))
        assert abs(got - exact) <= ACT_ERR * abs(exact) + TINY


def test_sigmoid_is_scipys_expit() -> None:
    """Computed without scipy.special (its import costs each process 25 MiB), bit for bit."""
    expit = pytest.importorskip("scipy.special").expit
    u = np.random.default_rng(0).normal(0.0, 30.0, (50, 40))
    assert_array_equal(activations.sigmoid(u), expit(u))
    assert float(activations.sigmoid(0.5)) == float(expit(0.5))


def test_sigmoid_limits() -> None:
    u = np.array([-INF, -800.0, -0.0, 0.0, 800.0, INF, np.nan])
    got = no_warnings(lambda: activations.sigmoid(u))
    assert got.tolist()[:6] == [0.0, 0.0, 0.5, 0.5, 1.0, 1.0]
    assert np.isnan(got[6])


@pytest.mark.parametrize("name", ["sigmoid", "tanh"])
def test_bounded_derivative_symmetric_in_tails(name: str) -> None:
    u = np.array([0.5, 20.0, 37.6, 100.0, 300.0])
    assert derivative(name, u).tolist() == derivative(name, -u).tolist()
    assert np.all(derivative(name, u) > 0.0)  # not cancelled to 0


@pytest.mark.parametrize(
    ("name", "u", "expected"),
    [
        ("sigmoid", 0.0, 0.25),
        ("tanh", 0.0, 1.0),
        ("softplus", 0.0, 0.5),
        ("relu", -1.0, 0.0),
        ("relu", 0.0, 1.0),  # the right derivative at the kink
        ("relu", 2.0, 1.0),
        ("leaky_relu", -1.0, 0.01),
        ("leaky_relu", 0.0, 1.0),
        ("identity", -3.0, 1.0),
        ("sigmoid", INF, 0.0),
        ("sigmoid", -INF, 0.0),
        ("tanh", INF, 0.0),
        ("softplus", -INF, 0.0),
        ("softplus", INF, 1.0),
    ],
)
def test_derivative_values(name: str, u: float, expected: float) -> None:
    assert float(no_warnings(lambda: derivative(name, np.array(u)))) == expected


@pytest.mark.parametrize("name", ELEMENTWISE)
@PROPERTY
@given(u=st.floats(min_value=-30.0, max_value=30.0))
def test_derivative_matches_difference_quotient(name: str, u: float) -> None:
    h = 1e-6
    if name in ("relu", "leaky_relu") and abs(u) <= h:
        return  # the kink
    f = lambda v: float(apply(name, np.array(v), 0.2))  # noqa: E731
    numeric = (f(u + h) - f(u - h)) / (2 * h)
    assert float(derivative(name, np.array(u), 0.2)) == pytest.approx(numeric, abs=1e-7)


def test_softmax_has_no_elementwise_derivative() -> None:
    with pytest.raises(ValueError, match="has no elementwise derivative"):
        derivative("softmax", np.zeros(2))
    with pytest.raises(ValueError, match="has no elementwise derivative"):
        derivative_range("softmax", np.zeros(2), np.ones(2))


def mp_value_and_slope(name: str, u: float) -> tuple[float, float]:
    """An activation and its slope at ``u``, to 50 digits (then rounded to float)."""
    mpmath = pytest.importorskip("mpmath")
    if math.isinf(u):
        lim = (1.0 if u > 0 else 0.0) if name == "sigmoid" else math.copysign(1.0, u)
        return lim, 0.0
    with mpmath.workdps(50):
        x = mpmath.mpf(u)
        if name == "sigmoid":
            s, s_neg = 1 / (1 + mpmath.exp(-x)), 1 / (1 + mpmath.exp(x))
            return float(s), float(s * s_neg)
        return float(mpmath.tanh(x)), float(1 / mpmath.cosh(x) ** 2)


#: Points where the one-exponential formulas are weakest: tanh's cancellation near 0, the
#: exponential's cap, and past it.
SHARP = [0.0, -0.0, 1e-300, 1e-17, 3e-9, 1e-3, 0.3, 0.55, 20.0, 349.9, 350.0, 351.0, 699.0]
SHARP += [700.0, 701.0, 745.0, 800.0, 1e6, INF]
smooth_points = st.floats(-800.0, 800.0) | st.sampled_from(SHARP + [-x for x in SHARP])


@pytest.mark.parametrize("name", ["sigmoid", "tanh"])
@PROPERTY
@given(u=smooth_points)
def test_value_and_slope_within_their_stated_error(name: str, u: float) -> None:
    """The value within ``ACT_ERR |act(u)| + SLOPE_ERR act'(u)`` (plus TINY at the cap), the
    slope to a few ulps, and past the exponential's cap an upper bound within 4 e^-700."""
    v, d = activations.value_and_slope(name, np.array([u]))
    exact_v, exact_d = mp_value_and_slope(name, u)
    tol = ACT_ERR * abs(exact_v) + activations.SLOPE_ERR * exact_d + TINY
    assert abs(float(v[0]) - exact_v) <= tol, (u, float(v[0]), exact_v)
    cap = activations.EXP_CAP if name == "sigmoid" else 0.5 * activations.EXP_CAP
    if abs(u) < cap:
        assert float(d[0]) == pytest.approx(exact_d, rel=8 * EPS, abs=0.0)
    else:
        assert exact_d <= float(d[0]) <= exact_d + 4.0 * math.exp(-activations.EXP_CAP)


@pytest.mark.parametrize("name", ["sigmoid", "tanh"])
@PROPERTY
@given(a=smooth_points, b=smooth_points, ts=st.lists(st.floats(0.0, 1.0), max_size=6))
def test_range_and_slopes_enclose_values_and_slopes(
    name: str, a: float, b: float, ts: list[float]
) -> None:
    """At the ends, at 0 if inside, and between: every value in the range up to the relative
    ACT_ERR (and TINY) left to the caller, every slope in the slope range up to its rounding."""
    lo, hi = min(a, b), max(a, b)
    vlo, vhi, slo, shi = (
        float(x[0]) for x in activations.range_and_slopes(name, np.array([lo]), np.array([hi]))
    )
    assert vlo <= vhi
    assert 0.0 <= slo <= shi
    inner = [min(max(lo + t * (hi - lo), lo), hi) for t in ts] if math.isfinite(hi - lo) else []
    for u in [lo, hi, *([0.0] if lo <= 0.0 <= hi else []), *inner]:
        exact_v, exact_d = mp_value_and_slope(name, u)
        assert vlo - ACT_ERR * abs(vlo) - TINY <= exact_v <= vhi + ACT_ERR * abs(vhi) + TINY
        assert slo * (1.0 - 8 * EPS) <= exact_d <= shi * (1.0 + 8 * EPS), (u, exact_d, slo, shi)


def test_range_and_slopes_of_other_activations_are_the_separate_ones() -> None:
    lo, hi = np.array([-2.0, 0.5]), np.array([1.0, 3.0])
    for name in ("relu", "leaky_relu", "softplus", "identity"):
        got = activations.range_and_slopes(name, lo, hi, 0.1)
        want = (*range_of(name, lo, hi, 0.1), *derivative_range(name, lo, hi, 0.1))
        for g, w in zip(got, want, strict=True):
            np.testing.assert_array_equal(g, w)
    with pytest.raises(ValueError, match="not 'relu'"):
        activations.value_and_slope("relu", lo)


# --------------------------------------------------------------------------- interval ranges


def ulps(x: np.ndarray | float, n: int = 4) -> np.ndarray:
    return n * np.spacing(np.abs(np.asarray(x, dtype=np.float64)))


endpoint = st.floats(min_value=-60.0, max_value=60.0) | st.sampled_from([0.0, -0.0, 1e-300])
intervals = st.tuples(endpoint, endpoint).map(sorted)
fractions = st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=1, max_size=8)


def points(lo: float, hi: float, ts: list[float]) -> np.ndarray:
    u = np.array([lo + t * (hi - lo) for t in ts] + [lo, hi, 0.0])
    return u[(u >= lo) & (u <= hi)]


def test_derivative_range_is_ordered_where_rounding_lifts_the_slope() -> None:
    # Regression (found by the property below): sigmoid'(2.4e-12) is computed an ulp above
    # sigmoid'(0) = 0.25, which gave the range [0.25 + 2^-54, 0.25].
    assert float(derivative("sigmoid", np.array(2.3953136707091427e-12))) > 0.25
    dlo, dhi = derivative_range("sigmoid", np.array(0.0), np.array(2.3953136707091427e-12))
    assert (float(dlo), float(dhi)) == (0.25, 0.25)


@pytest.mark.parametrize("name", ELEMENTWISE)
@PROPERTY
@given(interval=intervals, ts=fractions, alpha=st.floats(0.0, 2.0))
def test_derivative_range_encloses_derivative(
    name: str, interval: list[float], ts: list[float], alpha: float
) -> None:
    lo, hi = interval
    dlo, dhi = derivative_range(name, np.array(lo), np.array(hi), alpha)
    assert float(dlo) <= float(dhi)
    u = points(lo, hi, ts)
    if name in ("relu", "leaky_relu") and lo < hi:
        # derivative() gives the right derivative at the kink: at u = hi it is the slope of the
        # function to the right of the interval, which the interval's slope range need not hold.
        u = u[u < hi]
    d = derivative(name, u, alpha)
    assert np.all(d >= dlo - ulps(dlo)), (u, d, dlo)
    assert np.all(d <= dhi + ulps(dhi)), (u, d, dhi)
    # The bounds are tight.
    if name in ("relu", "leaky_relu"):
        # The slopes on the interval: the left one where it reaches left of (or onto) the kink,
        # the right one where it reaches right of (or onto) it.
        low = alpha if name == "leaky_relu" else 0.0
        slopes = [low] * (lo < 0.0 or hi <= 0.0) + [1.0] * (hi > 0.0 or lo >= 0.0)
        assert (float(dlo), float(dhi)) == (min(slopes), max(slopes))
    else:
        # Both bounds are derivative values at points of the closed interval.
        at = np.array([lo, hi, *([0.0] if lo <= 0.0 <= hi else [])])
        candidates = derivative(name, at, alpha)
        assert np.min(np.abs(candidates - dlo)) <= ulps(dlo), (candidates, dlo)
        assert np.min(np.abs(candidates - dhi)) <= ulps(dhi), (candidates, dhi)


@pytest.mark.parametrize("name", ELEMENTWISE)
@PROPERTY
@given(interval=intervals, ts=fractions)
def test_derivative_range_encloses_secant_slopes(
    name: str, interval: list[float], ts: list[float]
) -> None:
    """The mean-value property the solver relies on: every slope between two points is in range."""
    lo, hi = interval
    dlo, dhi = derivative_range(name, np.array(lo), np.array(hi))
    u = np.unique(points(lo, hi, ts))
    a, b = np.meshgrid(u, u)
    keep = b - a > 1e-3
    a, b = a[keep], b[keep]
    slopes = (apply(name, b) - apply(name, a)) / (b - a)
    assert np.all(slopes >= dlo - 1e-9)
    assert np.all(slopes <= dhi + 1e-9)


@pytest.mark.parametrize(
    ("name", "lo", "hi", "expected"),
    [
        ("relu", -1.0, 0.0, (0.0, 0.0)),  # constant on [-1, 0]
        ("relu", 0.0, 1.0, (1.0, 1.0)),
        ("relu", -1.0, 1.0, (0.0, 1.0)),
        ("relu", 0.0, 0.0, (0.0, 1.0)),  # both one-sided slopes at the kink
        ("leaky_relu", -1.0, 1.0, (0.01, 1.0)),
        ("leaky_relu", -2.0, -1.0, (0.01, 0.01)),
        ("sigmoid", -1.0, 2.0, (py_sigmoid(2.0) * py_sigmoid(-2.0), 0.25)),
        (
            "sigmoid",
            1.0,
            2.0,
            (py_sigmoid(2.0) * py_sigmoid(-2.0), py_sigmoid(1.0) * py_sigmoid(-1.0)),
        ),
        (
            "sigmoid",
            -2.0,
            -1.0,
            (py_sigmoid(2.0) * py_sigmoid(-2.0), py_sigmoid(1.0) * py_sigmoid(-1.0)),
        ),
        ("sigmoid", -INF, INF, (0.0, 0.25)),
        ("tanh", -INF, -1.0, (0.0, 1.0 - math.tanh(1.0) ** 2)),
        ("softplus", -1.0, 3.0, (py_sigmoid(-1.0), py_sigmoid(3.0))),
        ("softplus", -INF, INF, (0.0, 1.0)),
        ("identity", -INF, INF, (1.0, 1.0)),
    ],
)
def test_derivative_range_values(
    name: str, lo: float, hi: float, expected: tuple[float, float]
) -> None:
    dlo, dhi = no_warnings(lambda: derivative_range(name, np.array(lo), np.array(hi)))
    assert (float(dlo), float(dhi)) == pytest.approx(expected, rel=1e-15)


def test_derivative_range_vectorized() -> None:
    lo = np.array([-1.0, 1.0, -3.0])
    hi = np.array([1.0, 2.0, -2.0])
    dlo, dhi = derivative_range("tanh", lo, hi)
    for k in range(3):
        one = derivative_range("tanh", lo[k : k + 1], hi[k : k + 1])
        assert (dlo[k], dhi[k]) == (one[0][0], one[1][0])


@pytest.mark.parametrize("name", ELEMENTWISE)
@PROPERTY
@given(interval=intervals, ts=fractions, alpha=st.floats(0.0, 2.0))
def test_range_of_encloses_values(
    name: str, interval: list[float], ts: list[float], alpha: float
) -> None:
    lo, hi = interval
    rlo, rhi = range_of(name, np.array(lo), np.array(hi), alpha)
    assert float(rlo) == float(apply(name, np.array(lo), alpha))
    assert float(rhi) == float(apply(name, np.array(hi), alpha))
    v = apply(name, points(lo, hi, ts), alpha)
    assert np.all(v >= rlo - ulps(rlo))
    assert np.all(v <= rhi + ulps(rhi))


@pytest.mark.parametrize(
    ("name", "alpha", "expected"),
    [
        ("sigmoid", 0.01, (0.0, 1.0)),
        ("tanh", 0.01, (-1.0, 1.0)),
        ("relu", 0.01, (0.0, INF)),
        ("leaky_relu", 0.01, (-INF, INF)),
        ("leaky_relu", 0.0, (0.0, INF)),  # a zero slope: no 0 * inf = NaN
        ("softplus", 0.01, (0.0, INF)),
        ("identity", 0.01, (-INF, INF)),
    ],
)
def test_range_of_whole_line(name: str, alpha: float, expected: tuple[float, float]) -> None:
    rlo, rhi = no_warnings(lambda: range_of(name, np.array(-INF), np.array(INF), alpha))
    assert (float(rlo), float(rhi)) == expected


# --------------------------------------------------------------------------- inverse


@pytest.mark.parametrize(
    ("name", "values"),
    [
        ("sigmoid", st.floats(min_value=1e-300, max_value=1.0, exclude_max=True)),
        ("tanh", st.floats(min_value=-1.0, max_value=1.0, exclude_min=True, exclude_max=True)),
        ("softplus", st.floats(min_value=1e-300, max_value=1e300)),
        ("relu", st.floats(min_value=1e-300, max_value=1e300)),
        ("leaky_relu", st.floats(min_value=-1e300, max_value=1e300)),
        ("identity", st.floats(min_value=-1e300, max_value=1e300)),
    ],
)
@PROPERTY
@given(data=st.data())
def test_inverse_round_trip(
    name: str, values: st.SearchStrategy[float], data: st.DataObject
) -> None:
    t = data.draw(values)
    u = inverse(name, t, 0.5)
    assert u is not None
    assert math.isfinite(u)
    back = float(apply(name, np.array(u), 0.5))
    assert back == pytest.approx(t, rel=1e-12, abs=1e-15 if name in BOUNDED else 0.0)


@pytest.mark.parametrize(
    ("name", "t", "expected"),
    [
        ("sigmoid", 0.5, 0.0),
        ("sigmoid", 1.0 / (1.0 + math.exp(-2.0)), 2.0),
        ("tanh", 0.0, 0.0),
        ("identity", -3.5, -3.5),
        ("relu", 2.0, 2.0),
        ("leaky_relu", -0.02, -2.0),
        ("softplus", math.log(2.0), 0.0),
    ],
)
def test_inverse_values(name: str, t: float, expected: float) -> None:
    assert inverse(name, t) == pytest.approx(expected, rel=1e-14, abs=1e-15)


@pytest.mark.parametrize(
    ("name", "t", "alpha"),
    [
        ("sigmoid", 0.0, 0.01),
        ("sigmoid", 1.0, 0.01),
        ("sigmoid", -0.5, 0.01),
        ("sigmoid", 1.5, 0.01),
        ("tanh", 1.0, 0.01),
        ("tanh", -1.0, 0.01),
        ("tanh", 2.0, 0.01),
        ("softplus", 0.0, 0.01),
        ("softplus", -1.0, 0.01),
        ("relu", 0.0, 0.01),  # attained on all of (-inf, 0]: no single pre-activation
        ("relu", -1.0, 0.01),
        ("leaky_relu", -1.0, 0.0),  # a zero slope never reaches negative values
        ("softmax", 0.5, 0.01),
    ],
)
def test_inverse_outside_range(name: str, t: float, alpha: float) -> None:
    assert inverse(name, t, alpha) is None


# --------------------------------------------------------------------------- the catalogue


def test_activation_catalogue() -> None:
    """The README lists these activations; the sets classify them."""
    assert set(ACTIVATIONS) == {*ELEMENTWISE, "softmax"}
    assert frozenset({"sigmoid", "tanh"}) == BOUNDED
    assert frozenset({"relu", "leaky_relu", "identity"}) == PIECEWISE_AFFINE
    assert activations.softplus(np.array(0.0)) == pytest.approx(math.log(2.0))


@pytest.mark.parametrize("name", ELEMENTWISE)
@PROPERTY
@given(u=st.floats(min_value=-1e3, max_value=1e3), v=st.floats(min_value=-1e3, max_value=1e3))
def test_activations_monotone(name: str, u: float, v: float) -> None:
    """Every activation is non-decreasing (what range_of relies on)."""
    lo, hi = sorted((u, v))
    assert float(apply(name, np.array(lo))) <= float(apply(name, np.array(hi)))
