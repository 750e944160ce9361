"""Networks from fitted scikit-learn and PyTorch models in memory."""

from __future__ import annotations

import functools
import json
import sys
import warnings
from typing import Any

import numpy as np
import pytest

import netbound
from netbound.errors import MissingExtraError, NetboundError
from netbound.frameworks import from_sklearn, from_torch

sklearn = pytest.importorskip("sklearn")
from sklearn.datasets import load_iris, make_moons, make_regression  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.neural_network import MLPClassifier, MLPRegressor  # noqa: E402

HIDDEN = {"logistic": "sigmoid", "tanh": "tanh", "relu": "relu", "identity": "identity"}


def _fit(model: Any, x: Any, y: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(x, y)


@functools.cache
def _data(kind: str) -> tuple[Any, Any]:
    if kind == "binary":
        return make_moons(n_samples=200, noise=0.25, random_state=0)
    if kind == "three":
        x, y = load_iris(return_X_y=True)
        return x[:, :2], y
    x, y = make_regression(n_samples=100, n_features=3, n_targets=2, random_state=0)
    return x, y


def _grid(x: Any, count: int = 1000) -> Any:
    rng = np.random.default_rng(3)
    lo, hi = x.min(axis=0), x.max(axis=0)
    return rng.uniform(lo - (hi - lo), hi + (hi - lo), (count, x.shape[1]))


# --------------------------------------------------------------------------------------------
# scikit-learn


@pytest.mark.parametrize("activation", ["logistic", "tanh", "relu", "identity"])
def test_binary_classifier_is_one_logistic_unit(activation: str) -> None:
    x, y = _data("binary")
    clf = _fit(MLPClassifier((6, 3), activation=activation, max_iter=100, random_state=0), x, y)
    net = from_sklearn(clf)
    assert [layer.activation for layer in net.layers] == [HIDDEN[activation]] * 2 + ["sigmoid"]
    assert net.input_names == ("x1", "x2")
    assert net.output_names == ("z1",)
    assert net.source == "<MLPClassifier>"
    assert net.layers[0].weights.shape == (6, 2)  # out x in
    np.testing.assert_array_equal(net.layers[0].weights, clf.coefs_[0].T)
    pts = _grid(x)
    np.testing.assert_allclose(net.forward(pts)[:, 0], clf.predict_proba(pts)[:, 1], rtol=1e-12)


@pytest.mark.parametrize("activation", ["logistic", "tanh", "relu"])
def test_three_class_classifier_is_softmax(activation: str) -> None:
    x, y = _data("three")
    clf = _fit(MLPClassifier((5,), activation=activation, max_iter=100, random_state=0), x, y)
    net = from_sklearn(clf)
    assert [layer.activation for layer in net.layers] == [HIDDEN[activation], "softmax"]
    assert net.output_names == ("z1", "z2", "z3")
    pts = _grid(x)
    np.testing.assert_allclose(net.forward(pts), clf.predict_proba(pts), rtol=1e-12, atol=1e-300)


def test_regressor_is_identity_output() -> None:
    x, y = _data("regression")
    reg = _fit(MLPRegressor(hidden_layer_sizes=(4,), max_iter=50, random_state=0), x, y)
    net = from_sklearn(reg)
    assert [layer.activation for layer in net.layers] == ["relu", "identity"]
    assert net.input_names == ("x1", "x2", "x3")
    assert net.output_names == ("z1", "z2")
    assert net.source == "<MLPRegressor>"
    pts = _grid(x)
    np.testing.assert_allclose(net.forward(pts), reg.predict(pts), rtol=1e-12, atol=1e-9)


def test_sklearn_network_round_trips_through_json() -> None:
    x, y = _data("three")
    clf = _fit(MLPClassifier((4,), activation="tanh", max_iter=50, random_state=0), x, y)
    net = from_sklearn(clf)
    again = netbound.loads(json.dumps(net.to_json()))
    pts = _grid(x, 50)
    np.testing.assert_array_equal(again.forward(pts), net.forward(pts))


def test_from_sklearn_refuses_other_models() -> None:
    x, y = _data("binary")
    model = _fit(LogisticRegression(), x, y)
    with pytest.raises(NetboundError) as info:
        from_sklearn(model)
    assert str(info.value) == (
        "from_sklearn reads a fitted MLPClassifier or MLPRegressor; got LogisticRegression"
    )
    with pytest.raises(NetboundError) as info:
        from_sklearn("model.pkl")
    assert str(info.value) == "from_sklearn reads a fitted MLPClassifier or MLPRegressor; got str"


def test_from_sklearn_refuses_unfitted_model() -> None:
    with pytest.raises(NetboundError) as info:
        from_sklearn(MLPClassifier())
    assert str(info.value) == "from_sklearn: the MLPClassifier is not fitted; call fit() first"


def test_from_sklearn_refuses_exp_output() -> None:
    x, y = _data("binary")
    reg = _fit(MLPRegressor(loss="poisson", hidden_layer_sizes=(3,), max_iter=5), x, y + 1.0)
    with pytest.raises(NetboundError) as info:
        from_sklearn(reg)
    assert str(info.value) == (
        "from_sklearn: the MLPRegressor's output activation 'exp' is not supported; "
        "netbound reads logistic, softmax and identity outputs"
    )


def test_from_sklearn_refuses_unknown_hidden_activation_and_bad_weights() -> None:
    x, y = _data("binary")
    clf = _fit(MLPClassifier((3,), max_iter=5, random_state=0), x, y)
    clf.activation = "gelu"
    with pytest.raises(NetboundError) as info:
        from_sklearn(clf)
    assert str(info.value) == (
        "from_sklearn: the MLPClassifier's hidden activation 'gelu' is not supported; "
        "use logistic, tanh, relu or identity"
    )
    clf.activation = "relu"
    clf.coefs_[1][0, 0] = np.nan
    with pytest.raises(NetboundError) as info:
        from_sklearn(clf)
    assert str(info.value) == (
        "from_sklearn: the MLPClassifier's layer 2 has a weight or bias that is not a finite number"
    )


# --------------------------------------------------------------------------------------------
# PyTorch


def test_from_torch_without_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(MissingExtraError) as info:
        from_torch(object())
    assert str(info.value) == "from_torch needs PyTorch, which is not installed (pip install torch)"


@pytest.fixture
def torch() -> Any:
    module = pytest.importorskip("torch")
    module.manual_seed(0)
    return module


def _torch_out(module: Any, torch: Any, x: Any) -> Any:
    with torch.no_grad():
        return module.double()(torch.from_numpy(x)).numpy()


def test_from_torch_matches_module(torch: Any) -> None:
    nn = torch.nn
    module = nn.Sequential(
        nn.Flatten(),
        nn.Linear(2, 5),
        nn.Sigmoid(),
        nn.Dropout(0.5),
        nn.Linear(5, 4),
        nn.Tanh(),
        nn.Sequential(nn.Linear(4, 4, bias=False), nn.LeakyReLU(0.05)),
        nn.Linear(4, 3),
        nn.ReLU(),
        nn.Linear(3, 3),
        nn.Softplus(),
        nn.Linear(3, 3),
        nn.Identity(),
        nn.Softmax(dim=-1),
    ).eval()
    net = from_torch(module)
    assert [layer.activation for layer in net.layers] == [
        "sigmoid",
        "tanh",
        "leaky_relu",
        "relu",
        "softplus",
        "softmax",
    ]
    assert net.layers[2].alpha == 0.05
    np.testing.assert_array_equal(net.layers[2].biases, np.zeros(4))
    assert net.input_names == ("x1", "x2")
    assert net.output_names == ("z1", "z2", "z3")
    assert net.source == "<Sequential>"
    np.testing.assert_array_equal(net.layers[0].weights, module[1].weight.detach().double().numpy())
    x = np.random.default_rng(0).uniform(-4, 4, (1000, 2))
    np.testing.assert_allclose(net.forward(x), _torch_out(module, torch, x), rtol=1e-12)
    again = netbound.loads(json.dumps(net.to_json()))
    np.testing.assert_array_equal(again.forward(x), net.forward(x))


def test_from_torch_float32_module_within_float32_precision(torch: Any) -> None:
    nn = torch.nn
    module = nn.Sequential(nn.Linear(3, 6), nn.Tanh(), nn.Linear(6, 1), nn.Sigmoid()).eval()
    net = from_torch(module)
    x = np.random.default_rng(1).uniform(-3, 3, (1000, 3)).astype(np.float32)
    with torch.no_grad():
        expected = module(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(net.forward(x.astype(np.float64)), expected, rtol=1e-5, atol=1e-6)


def test_from_torch_identity_layers(torch: Any) -> None:
    nn = torch.nn
    module = nn.Sequential(
        nn.Linear(2, 3), nn.Linear(3, 2), nn.ReLU(), nn.Sigmoid(), nn.Linear(2, 1)
    )
    net = from_torch(module)
    assert [layer.activation for layer in net.layers] == [
        "identity",
        "relu",
        "sigmoid",
        "identity",
    ]
    np.testing.assert_array_equal(net.layers[2].weights, np.eye(2))
    x = np.random.default_rng(2).uniform(-4, 4, (200, 2))
    np.testing.assert_allclose(net.forward(x), _torch_out(module, torch, x), rtol=1e-12)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda nn: nn.Linear(2, 2),
            "from_torch reads an nn.Sequential; got Linear",
        ),
        (
            lambda nn: nn.Sequential(nn.Linear(2, 3), nn.ELU(), nn.Linear(3, 1)),
            "from_torch: layer 1 (ELU) is not supported; netbound reads nn.Sequential of "
            "Linear, Sigmoid, Tanh, ReLU, LeakyReLU, Softplus (beta=1), Softmax (over the "
            "features), Identity, Dropout and Flatten",
        ),
        (
            lambda nn: nn.Sequential(nn.Linear(2, 3), nn.Sequential(nn.Conv1d(1, 1, 1))),
            "from_torch: layer 1.0 (Conv1d) is not supported; netbound reads nn.Sequential of "
            "Linear, Sigmoid, Tanh, ReLU, LeakyReLU, Softplus (beta=1), Softmax (over the "
            "features), Identity, Dropout and Flatten",
        ),
        (
            lambda nn: nn.Sequential(nn.Linear(2, 3), nn.Softplus(beta=2.0)),
            "from_torch: layer 1 (Softplus) has beta=2.0; only beta=1 is supported",
        ),
        (
            lambda nn: nn.Sequential(nn.Linear(2, 3), nn.Softmax(dim=0)),
            "from_torch: layer 1 (Softmax) normalizes over dim=0; netbound needs the "
            "features' dimension (dim=-1 or 1)",
        ),
        (
            lambda nn: nn.Sequential(nn.Linear(2, 3), nn.LeakyReLU(-0.5)),
            "from_torch: layer 1 (LeakyReLU) has negative_slope=-0.5; netbound needs a slope >= 0",
        ),
        (
            lambda nn: nn.Sequential(nn.Linear(2, 3), nn.Softmax(dim=1), nn.Linear(3, 2)),
            "from_torch: layer 2 (Linear) follows a Softmax, allowed on the output only",
        ),
        (
            lambda nn: nn.Sequential(nn.Flatten(0), nn.Linear(2, 3)),
            "from_torch: layer 0 (Flatten) has start_dim=0, end_dim=-1; only the default "
            "Flatten(1, -1) is supported",
        ),
        (
            lambda nn: nn.Sequential(nn.Sigmoid(), nn.Linear(2, 3)),
            "from_torch: layer 0 (Sigmoid) comes before any Linear, so the number of inputs "
            "is unknown",
        ),
        (
            lambda nn: nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(4, 1)),
            "from_torch: layer 2 (Linear) takes 4 features but the previous layer gives 3",
        ),
        (lambda nn: nn.Sequential(), "from_torch: the nn.Sequential is empty"),
        (
            lambda nn: nn.Sequential(nn.Dropout(), nn.Identity()),
            "from_torch: the nn.Sequential has no Linear layer",
        ),
    ],
)
def test_from_torch_refusals(torch: Any, build: Any, message: str) -> None:
    with pytest.raises(NetboundError) as info:
        from_torch(build(torch.nn))
    assert str(info.value) == message


def test_from_torch_refuses_non_finite_weights(torch: Any) -> None:
    module = torch.nn.Sequential(torch.nn.Linear(2, 1))
    with torch.no_grad():
        module[0].bias[0] = float("inf")
    with pytest.raises(NetboundError) as info:
        from_torch(module)
    assert str(info.value) == (
        "from_torch: layer 0 (Linear) has a weight or bias that is not a finite number"
    )
