"""ONNX import: scikit-learn exports, hand-built PyTorch-layout graphs, and every refusal."""

from __future__ import annotations

import functools
import json
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import netbound
from netbound import onnx_import
from netbound.errors import MissingExtraError, NetworkFileError
from netbound.onnx_import import evaluate_onnx, import_onnx_document, load_onnx, probe_input

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

SUPPORTED = (
    "Gemm, MatMul, Conv, BatchNormalization, Add, Sub, Mul and Div by constants, Sigmoid, "
    "Tanh, Relu, LeakyRelu, Softplus and Softmax (Identity, Dropout, Cast, Constant, Flatten, "
    "Reshape, Squeeze, Unsqueeze and Transpose pass through)"
)
# The ONNX models compute in float32, netbound in float64: relative 1e-5, and absolute 1e-6
# for outputs near 0 (a float32 sigmoid of 0.0065 is off by 7e-8, 1e-5 relative).
RTOL_FLOAT32 = 1e-5
ATOL_FLOAT32 = 1e-6


# --------------------------------------------------------------------------------------------
# helpers


def _model(
    nodes: list[Any],
    inits: dict[str, Any],
    *,
    n_in: int | None = 2,
    outputs: tuple[str, ...] = ("y",),
    inputs: tuple[str, ...] = ("x",),
    shape: list[Any] | None = None,
    opset: int = 17,
    dtype: int = TensorProto.FLOAT,
) -> Any:
    tensors = []
    for name, value in inits.items():
        arr = np.asarray(value)
        if np.issubdtype(arr.dtype, np.floating):
            arr = arr.astype(np.float64 if dtype == TensorProto.DOUBLE else np.float32)
        tensors.append(numpy_helper.from_array(arr, name))
    graph = helper.make_graph(
        nodes,
        "hand_built",
        [helper.make_tensor_value_info(i, dtype, shape or [None, n_in]) for i in inputs],
        [helper.make_tensor_value_info(o, dtype, None) for o in outputs],
        tensors,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


def _save(model: Any, tmp_path: Path, name: str = "net.onnx") -> Path:
    path = tmp_path / name
    path.write_bytes(model.SerializeToString())
    return path


def _ort_run(path: Path, x: np.ndarray[Any, Any], dtype: Any = np.float32) -> Any:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return session.run(None, {name: x.astype(dtype)})


def _inputs(n: int, count: int = 1000, scale: float = 3.0, seed: int = 7) -> Any:
    """Random inputs, already rounded to float32 so both sides see the same numbers."""
    rng = np.random.default_rng(seed)
    return rng.uniform(-scale, scale, (count, n)).astype(np.float32).astype(np.float64)


def _weights(rng: np.random.Generator, *shape: int) -> Any:
    return rng.normal(0.0, 1.0, shape).astype(np.float32)


def _refusal(path: Path) -> str:
    with pytest.raises(NetworkFileError) as info:
        netbound.load(path)
    message = str(info.value)
    assert "\n" not in message
    return message


# --------------------------------------------------------------------------------------------
# scikit-learn models exported with skl2onnx


@functools.cache
def _dataset(kind: str) -> tuple[Any, Any]:
    from sklearn.datasets import load_iris, make_moons

    if kind == "binary":
        return make_moons(n_samples=200, noise=0.25, random_state=0)
    x, y = load_iris(return_X_y=True)
    return x[:, :2], y


@functools.cache
def _classifier(activation: str, kind: str) -> Any:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    x, y = _dataset(kind)
    hidden = (6,) if kind == "binary" else (5, 4)
    clf = MLPClassifier(hidden, activation=activation, max_iter=150, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(x, y)
    return clf


def _export(model: Any, n_in: int, path: Path) -> Path:
    skl2onnx = pytest.importorskip("skl2onnx")
    from skl2onnx.common.data_types import FloatTensorType

    onx = skl2onnx.convert_sklearn(
        model, initial_types=[("X", FloatTensorType([None, n_in]))], target_opset=17
    )
    path.write_bytes(onx.SerializeToString())
    return path


def _sample(kind: str) -> Any:
    """1000 inputs around the training data (and well outside it), rounded to float32."""
    x, _ = _dataset(kind)
    rng = np.random.default_rng(1)
    lo, hi = x.min(axis=0), x.max(axis=0)
    span = hi - lo
    pts = rng.uniform(lo - span, hi + span, (1000, x.shape[1]))
    return pts.astype(np.float32).astype(np.float64)


@pytest.mark.parametrize("kind", ["binary", "three"])
@pytest.mark.parametrize("activation", ["logistic", "tanh", "relu"])
def test_sklearn_classifier_matches_onnxruntime_and_sklearn(
    tmp_path: Path, activation: str, kind: str
) -> None:
    clf = _classifier(activation, kind)
    path = _export(clf, 2, tmp_path / "clf.onnx")
    net = netbound.load(path)

    hidden = {"logistic": "sigmoid", "tanh": "tanh", "relu": "relu"}[activation]
    n_hidden = len(clf.coefs_) - 1
    output = "sigmoid" if kind == "binary" else "softmax"
    assert [layer.activation for layer in net.layers] == [hidden] * n_hidden + [output]
    assert net.input_names == ("x1", "x2")
    assert net.output_names == (("z1",) if kind == "binary" else ("z1", "z2", "z3"))
    assert net.source == str(path)
    for layer, coef, intercept in zip(net.layers, clf.coefs_, clf.intercepts_, strict=True):
        # float32 in the file, widened exactly
        assert np.array_equal(layer.weights, coef.T.astype(np.float32).astype(np.float64))
        assert np.array_equal(layer.biases, intercept.astype(np.float32).astype(np.float64))

    x = _sample(kind)
    label, zipmap = _ort_run(path, x)
    ort_proba = np.array([[row[c] for c in clf.classes_] for row in zipmap])
    got = net.forward(x)
    proba = np.hstack([1.0 - got, got]) if kind == "binary" else got
    np.testing.assert_allclose(proba, ort_proba, rtol=RTOL_FLOAT32, atol=ATOL_FLOAT32)
    np.testing.assert_allclose(proba, clf.predict_proba(x), rtol=RTOL_FLOAT32, atol=ATOL_FLOAT32)
    # where the class is clear, the labels agree too
    clear = np.abs(np.sort(proba, axis=1)[:, -1] - np.sort(proba, axis=1)[:, -2]) > 1e-4
    assert np.array_equal(clf.classes_[np.argmax(proba, axis=1)][clear], label[clear])


@pytest.mark.parametrize("options", [{"zipmap": False}, {"zipmap": "columns"}, "multilabel"])
def test_sklearn_export_variants(tmp_path: Path, options: Any) -> None:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    skl2onnx = pytest.importorskip("skl2onnx")
    from skl2onnx.common.data_types import FloatTensorType

    x, y = _dataset("binary")
    clf = MLPClassifier((4,), max_iter=50, random_state=0)
    if options == "multilabel":  # sigmoid outputs, then a Binarizer for the labels
        y = np.stack([y, 1 - y, y], axis=1)
        options = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(x, y)
    onx = skl2onnx.convert_sklearn(
        clf,
        initial_types=[("X", FloatTensorType([None, 2]))],
        target_opset=17,
        options={id(clf): options},
    )
    path = tmp_path / "variant.onnx"
    path.write_bytes(onx.SerializeToString())
    net = netbound.load(path)
    assert net.output_activation == "sigmoid"
    proba = clf.predict_proba(_sample("binary"))
    got = net.forward(_sample("binary"))
    if got.shape[1] == 1:
        got = np.hstack([1.0 - got, got])
    np.testing.assert_allclose(got, proba, rtol=RTOL_FLOAT32, atol=ATOL_FLOAT32)


def test_sklearn_regressor_via_onnx(tmp_path: Path) -> None:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPRegressor

    x, y = _dataset("binary")
    reg = MLPRegressor(hidden_layer_sizes=(5,), activation="tanh", max_iter=100, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg.fit(x, y)
    path = _export(reg, 2, tmp_path / "reg.onnx")
    net = netbound.load(path)
    assert [layer.activation for layer in net.layers] == ["tanh", "identity"]
    pts = _sample("binary")
    (ort_out,) = _ort_run(path, pts)
    np.testing.assert_allclose(net.forward(pts), ort_out, rtol=RTOL_FLOAT32, atol=ATOL_FLOAT32)
    np.testing.assert_allclose(net.forward(pts)[:, 0], reg.predict(pts), rtol=1e-5, atol=1e-6)


def test_import_document_has_a_probe_from_the_model(tmp_path: Path) -> None:
    clf = _classifier("tanh", "three")
    path = _export(clf, 2, tmp_path / "iris.onnx")
    doc = import_onnx_document(path)
    assert doc["netbound"] == 1
    assert doc["inputs"] == ["x1", "x2"]
    assert doc["outputs"] == ["z1", "z2", "z3"]
    assert doc["description"] == (
        "converted from iris.onnx by netbound import; input 'X' of shape 1x2, features in C order"
    )
    assert doc["probe"]["input"] == [0.3, -0.7]
    x = np.array([doc["probe"]["input"]])
    expected = evaluate_onnx(path, x, engine="onnxruntime")[0]
    assert doc["probe"]["output"] == expected.tolist()
    np.testing.assert_allclose(sum(doc["probe"]["output"]), 1.0, rtol=1e-12)
    # the written file loads, and the loader's probe check (1e-6) passes
    written = tmp_path / "iris.json"
    written.write_text(json.dumps(doc))
    net = netbound.load(written)
    np.testing.assert_array_equal(net.forward(x), netbound.load(path).forward(x))
    # a wrong probe is still caught by the loader
    doc["probe"]["output"][0] *= 1.001
    with pytest.raises(netbound.ProbeMismatchError):
        netbound.loads(json.dumps(doc), "bad.json")


def test_binary_sklearn_model_becomes_single_sigmoid_output(tmp_path: Path) -> None:
    clf = _classifier("relu", "binary")
    path = _export(clf, 2, tmp_path / "moons.onnx")
    doc = import_onnx_document(path)
    assert doc["outputs"] == ["z1"]
    assert doc["layers"][-1]["activation"] == "sigmoid"
    assert len(doc["probe"]["output"]) == 1
    p = clf.predict_proba(np.array([doc["probe"]["input"]]))[0, 1]
    np.testing.assert_allclose(doc["probe"]["output"][0], p, rtol=1e-6)


def test_interpreter_agrees_with_onnxruntime_in_float64(tmp_path: Path) -> None:
    clf = _classifier("logistic", "three")
    path = _export(clf, 2, tmp_path / "m.onnx")
    x = _inputs(2, count=200)
    by_ort = evaluate_onnx(path, x, engine="onnxruntime")
    by_numpy = evaluate_onnx(path, x, engine="numpy")
    np.testing.assert_allclose(by_numpy, by_ort, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(netbound.load(path).forward(x), by_numpy, rtol=1e-12)


def test_probe_without_onnxruntime_uses_the_interpreter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clf = _classifier("tanh", "binary")
    path = _export(clf, 2, tmp_path / "m.onnx")
    with_ort = import_onnx_document(path)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    without = import_onnx_document(path)
    np.testing.assert_allclose(without["probe"]["output"], with_ort["probe"]["output"], rtol=1e-14)
    with pytest.raises(RuntimeError, match="onnxruntime cannot run the model in float64"):
        evaluate_onnx(path, [[0.0, 0.0]], engine="onnxruntime")


def test_probe_input_is_fixed_and_nontrivial() -> None:
    assert probe_input(2).tolist() == [0.3, -0.7]
    x = probe_input(20)
    assert len(set(x.tolist())) == 20
    assert x[8] == pytest.approx(0.35)


# --------------------------------------------------------------------------------------------
# hand-built graphs in the PyTorch exporters' layouts


def _check_against_onnxruntime(net: netbound.Network, path: Path, n_in: int) -> None:
    x = _inputs(n_in)
    (ort_out,) = _ort_run(path, x)
    got = net.forward(x)
    np.testing.assert_allclose(
        got, ort_out.reshape(got.shape), rtol=RTOL_FLOAT32, atol=ATOL_FLOAT32
    )
    np.testing.assert_allclose(got, evaluate_onnx(path, x, engine="numpy"), rtol=1e-12)


def test_gemm_transb_layout(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    w1, b1, w2, b2 = _weights(rng, 4, 3), _weights(rng, 4), _weights(rng, 2, 4), _weights(rng, 2)
    nodes = [
        helper.make_node("Gemm", ["x", "0.weight", "0.bias"], ["h"], "/0/Gemm", transB=1),
        helper.make_node("Sigmoid", ["h"], ["s"], "/1/Sigmoid"),
        helper.make_node("Gemm", ["s", "2.weight", "2.bias"], ["o"], "/2/Gemm", transB=1),
        helper.make_node("Softmax", ["o"], ["y"], "/3/Softmax", axis=1),
    ]
    inits = {"0.weight": w1, "0.bias": b1, "2.weight": w2, "2.bias": b2}
    path = _save(_model(nodes, inits, n_in=3), tmp_path)
    net = load_onnx(path)
    assert [layer.activation for layer in net.layers] == ["sigmoid", "softmax"]
    assert net.input_names == ("x1", "x2", "x3")
    assert net.output_names == ("z1", "z2")
    np.testing.assert_array_equal(net.layers[0].weights, w1.astype(np.float64))
    np.testing.assert_array_equal(net.layers[1].biases, b2.astype(np.float64))
    _check_against_onnxruntime(net, path, 3)


def test_transpose_matmul_add_layout(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    w1, b1, w2, b2 = _weights(rng, 5, 2), _weights(rng, 5), _weights(rng, 1, 5), _weights(rng, 1)
    nodes = [
        helper.make_node("Transpose", ["l1.weight"], ["w1t"], "t1", perm=[1, 0]),
        helper.make_node("MatMul", ["x", "w1t"], ["m1"], "mm1"),
        helper.make_node("Add", ["m1", "l1.bias"], ["a1"], "add1"),
        helper.make_node("Tanh", ["a1"], ["h1"], "tanh1"),
        helper.make_node("Transpose", ["l2.weight"], ["w2t"], "t2"),  # default perm reverses
        helper.make_node("MatMul", ["h1", "w2t"], ["m2"], "mm2"),
        helper.make_node("Add", ["l2.bias", "m2"], ["a2"], "add2"),  # bias on the left
        helper.make_node("Sigmoid", ["a2"], ["y"], "sig"),
    ]
    inits = {"l1.weight": w1, "l1.bias": b1, "l2.weight": w2, "l2.bias": b2}
    path = _save(_model(nodes, inits), tmp_path)
    net = load_onnx(path)
    assert [layer.activation for layer in net.layers] == ["tanh", "sigmoid"]
    assert net.output_names == ("z1",)
    np.testing.assert_array_equal(net.layers[0].weights, w1.astype(np.float64))
    np.testing.assert_array_equal(net.layers[1].weights, w2.astype(np.float64))
    _check_against_onnxruntime(net, path, 2)


def test_constant_node_weights_and_other_activations(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    w1, b1 = _weights(rng, 2, 4), _weights(rng, 4)
    w2, b2 = _weights(rng, 4, 3), _weights(rng, 3)
    w3, b3 = _weights(rng, 3, 2), _weights(rng, 2)

    def const(name: str, value: Any) -> Any:
        return helper.make_node(
            "Constant", [], [name], f"const_{name}", value=numpy_helper.from_array(value, name)
        )

    nodes = [
        const("w1", w1),
        const("b1", b1),
        helper.make_node("MatMul", ["x", "w1"], ["m1"], "mm1"),
        helper.make_node("Add", ["m1", "b1"], ["a1"], "add1"),
        helper.make_node("LeakyRelu", ["a1"], ["h1"], "leaky", alpha=0.2),
        const("w2", w2),
        helper.make_node("Constant", [], ["b2"], "const_b2", value_floats=b2.tolist()),
        helper.make_node("MatMul", ["h1", "w2"], ["m2"], "mm2"),
        helper.make_node("Add", ["m2", "b2"], ["a2"], "add2"),
        helper.make_node("Softplus", ["a2"], ["h2"], "softplus"),
        helper.make_node("Relu", ["h2"], ["h3"], "relu"),  # an activation on an activation
        const("w3", w3),
        const("b3", b3),
        helper.make_node("Gemm", ["h3", "w3", "b3"], ["y"], "out"),  # no output activation
    ]
    path = _save(_model(nodes, {}), tmp_path)
    net = load_onnx(path)
    assert [layer.activation for layer in net.layers] == [
        "leaky_relu",
        "softplus",
        "relu",
        "identity",
    ]
    assert net.layers[0].alpha == float(np.float32(0.2))
    np.testing.assert_array_equal(net.layers[2].weights, np.eye(3))
    np.testing.assert_array_equal(net.layers[3].weights, w3.T.astype(np.float64))
    assert net.to_json()["layers"][0]["alpha"] == net.layers[0].alpha
    _check_against_onnxruntime(net, path, 2)
    # Softplus has no float64 kernel in onnxruntime: the probe falls back to the interpreter
    doc = import_onnx_document(path)
    assert netbound.loads(json.dumps(doc)).n_outputs == 2


def test_gemm_attributes_and_pass_through_ops(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    w1, b1 = _weights(rng, 3, 4), _weights(rng, 1, 4)
    w2, b2 = _weights(rng, 4, 3), _weights(rng, 3)
    nodes = [
        helper.make_node("Cast", ["x"], ["xc"], "cast", to=TensorProto.FLOAT),
        helper.make_node("Flatten", ["xc"], ["xf"], "flatten", axis=1),
        helper.make_node("Gemm", ["xf", "w1", "b1"], ["g1"], "gemm1", alpha=0.5, beta=2.0),
        helper.make_node("Dropout", ["g1"], ["d1"], "dropout"),
        helper.make_node("Identity", ["d1"], ["i1"], "identity"),
        helper.make_node("Reshape", ["i1", "shape"], ["r1"], "reshape"),
        helper.make_node("Relu", ["r1"], ["h1"], "relu"),
        helper.make_node("Gemm", ["h1", "w2", "b2"], ["g2"], "gemm2", alpha=-1.5),
        helper.make_node("Softmax", ["g2"], ["y"], "softmax"),  # opset 17: axis -1
    ]
    inits = {"w1": w1, "b1": b1, "w2": w2, "b2": b2, "shape": np.array([-1, 4], np.int64)}
    path = _save(_model(nodes, inits, n_in=3), tmp_path)
    net = load_onnx(path)
    assert [layer.activation for layer in net.layers] == ["relu", "softmax"]
    np.testing.assert_array_equal(net.layers[0].weights, 0.5 * w1.T.astype(np.float64))
    np.testing.assert_array_equal(net.layers[0].biases, 2.0 * b1[0].astype(np.float64))
    _check_against_onnxruntime(net, path, 3)


def test_cast_of_constant_weights_is_folded_without_rounding(tmp_path: Path) -> None:
    rng = np.random.default_rng(8)
    w1 = rng.normal(size=(2, 3))
    nodes = [
        helper.make_node("Cast", ["w1_double"], ["w1"], "cast_w", to=TensorProto.FLOAT),
        helper.make_node("MatMul", ["x", "w1"], ["y"], "mm"),
    ]
    model = _model(nodes, {})
    model.graph.initializer.append(numpy_helper.from_array(w1, "w1_double"))
    path = _save(model, tmp_path)
    net = load_onnx(path)
    assert [layer.activation for layer in net.layers] == ["identity"]
    np.testing.assert_array_equal(net.layers[0].weights, w1.T)
    _check_against_onnxruntime(net, path, 2)


def test_opset_11_softmax_and_float64_model(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    w1, b1 = rng.normal(size=(2, 3)), rng.normal(size=3)
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["m1"]),
        helper.make_node("Add", ["m1", "b1"], ["a1"]),
        helper.make_node("Softmax", ["a1"], ["y"]),  # opset 11: default axis 1
    ]
    model = _model(nodes, {"w1": w1, "b1": b1}, opset=11, dtype=TensorProto.DOUBLE)
    path = _save(model, tmp_path)
    net = load_onnx(path)
    np.testing.assert_array_equal(net.layers[0].weights, w1.T)
    x = _inputs(2)
    (ort_out,) = _ort_run(path, x, np.float64)
    np.testing.assert_allclose(net.forward(x), ort_out, rtol=1e-12)


def test_vector_input_with_weights_on_the_left(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    w1, b1 = _weights(rng, 3, 2), _weights(rng, 3)
    nodes = [
        helper.make_node("MatMul", ["w1", "x"], ["m1"], "mm"),  # W @ x for a vector x
        helper.make_node("Add", ["m1", "b1"], ["a1"], "add"),
        helper.make_node("Sigmoid", ["a1"], ["y"], "sig"),
    ]
    path = _save(_model(nodes, {"w1": w1, "b1": b1}, shape=[2]), tmp_path)
    net = load_onnx(path)
    np.testing.assert_array_equal(net.layers[0].weights, w1.astype(np.float64))
    x = _inputs(2, count=20)
    expected = np.stack([_ort_run(path, row)[0] for row in x])
    np.testing.assert_allclose(net.forward(x), expected, rtol=RTOL_FLOAT32, atol=ATOL_FLOAT32)
    np.testing.assert_allclose(net.forward(x), evaluate_onnx(path, x), rtol=1e-12)


def test_label_tail_after_last_sigmoid_is_dropped(tmp_path: Path) -> None:
    rng = np.random.default_rng(6)
    w1, b1 = _weights(rng, 2, 1), _weights(rng, 1)
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["m1"], "mm"),
        helper.make_node("Add", ["m1", "b1"], ["a1"], "add"),
        helper.make_node("Sigmoid", ["a1"], ["p"], "sig"),
        helper.make_node("Sub", ["one", "p"], ["q"], "one_minus_p"),
        helper.make_node("Concat", ["q", "p"], ["y"], "concat", axis=1),
        helper.make_node("ArgMax", ["y"], ["label"], "argmax", axis=1),
    ]
    model = _model(nodes, {"w1": w1, "b1": b1, "one": np.float32(1.0)}, outputs=("label", "y"))
    model.graph.output[0].type.tensor_type.elem_type = TensorProto.INT64
    path = _save(model, tmp_path)
    net = load_onnx(path)
    assert net.output_names == ("z1",)
    assert net.output_activation == "sigmoid"
    x = _inputs(2)
    _, proba = _ort_run(path, x)
    np.testing.assert_allclose(
        net.forward(x)[:, 0], proba[:, 1], rtol=RTOL_FLOAT32, atol=ATOL_FLOAT32
    )


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_real_pytorch_export(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    module = torch.nn.Sequential(
        torch.nn.Linear(2, 5),
        torch.nn.Tanh(),
        torch.nn.Dropout(0.1),
        torch.nn.Linear(5, 4),
        torch.nn.LeakyReLU(0.1),
        torch.nn.Linear(4, 3),
        torch.nn.Softmax(dim=1),
    ).eval()
    path = tmp_path / "torch.onnx"
    torch.onnx.export(
        module,
        (torch.zeros(1, 2),),
        str(path),
        dynamo=False,
        input_names=["input"],
        output_names=["probs"],
        dynamic_axes={"input": {0: "batch"}, "probs": {0: "batch"}},
    )
    net = netbound.load(path)
    assert [layer.activation for layer in net.layers] == ["tanh", "leaky_relu", "softmax"]
    _check_against_onnxruntime(net, path, 2)
    from netbound.frameworks import from_torch

    direct = from_torch(module)
    assert direct.layers[1].alpha == 0.1
    assert net.layers[1].alpha == float(np.float32(0.1))  # ONNX attributes are float32
    for mine, theirs in zip(net.layers, direct.layers, strict=True):
        np.testing.assert_array_equal(mine.weights, theirs.weights)
        np.testing.assert_array_equal(mine.biases, theirs.biases)


# --------------------------------------------------------------------------------------------
# refusals


def _two_layers(middle: list[Any], first_out: str = "h", last_in: str = "h2") -> Any:
    rng = np.random.default_rng(9)
    nodes = [
        helper.make_node("Gemm", ["x", "w1", "b1"], [first_out], "gemm1", transB=1),
        *middle,
        helper.make_node("Gemm", [last_in, "w2", "b2"], ["y"], "gemm2", transB=1),
    ]
    inits = {
        "w1": _weights(rng, 3, 2),
        "b1": _weights(rng, 3),
        "w2": _weights(rng, 2, 3),
        "b2": _weights(rng, 2),
    }
    return _model(nodes, inits)


def _if_node() -> Any:
    then = helper.make_graph(
        [helper.make_node("Identity", ["h"], ["t_out"])],
        "then",
        [],
        [helper.make_tensor_value_info("t_out", TensorProto.FLOAT, None)],
    )
    other = helper.make_graph(
        [helper.make_node("Neg", ["h"], ["e_out"])],
        "else",
        [],
        [helper.make_tensor_value_info("e_out", TensorProto.FLOAT, None)],
    )
    return helper.make_node("If", ["cond"], ["h2"], "branch", then_branch=then, else_branch=other)


def _use(node: str, op: str, why: str) -> str:
    return f"node {node} ({op}) {why}; netbound reads feed-forward networks made of {SUPPORTED}"


def _unsupported(op: str, node: str) -> str:
    return (
        f"unsupported ONNX operation {op} (node {node}); netbound reads feed-forward networks "
        f"made of {SUPPORTED}"
    )


_MIDDLE_REFUSALS: list[tuple[str, list[Any], str]] = [
    ("named", [helper.make_node("Abs", ["h"], ["h2"], "/1/Abs")], _unsupported("Abs", '"/1/Abs"')),
    ("unnamed", [helper.make_node("Elu", ["h"], ["h2"])], _unsupported("Elu", "#1 (unnamed)")),
    (
        "domain",
        [helper.make_node("FusedTanh", ["h"], ["h2"], "fused", domain="com.microsoft")],
        _unsupported("FusedTanh", '"fused"'),
    ),
    (
        "maxpool",
        [helper.make_node("MaxPool", ["h"], ["h2"], "pool", kernel_shape=[1])],
        _unsupported("MaxPool", '"pool"'),
    ),
    (
        "gather",
        [helper.make_node("Gather", ["h", "idx"], ["h2"], "pick", axis=1)],
        _unsupported("Gather", '"pick"'),
    ),
    ("control flow", [_if_node()], _use('"branch"', "If", "holds a subgraph (control flow)")),
    (
        "after sigmoid",
        [
            helper.make_node("Sigmoid", ["h"], ["s"], "sig"),
            helper.make_node("Neg", ["s"], ["h2"], "neg"),
        ],
        _unsupported("Neg", '"neg"'),
    ),
    (
        "skip connection",
        [
            helper.make_node("Sigmoid", ["h"], ["s"], "sig"),
            helper.make_node("Add", ["s", "h"], ["h2"], "skip"),
        ],
        _use(
            '"skip"',
            "Add",
            "adds the outputs of two different layers (a skip connection), so the graph is "
            "not a chain of layers",
        ),
    ),
    (
        "branches",
        [
            helper.make_node("Sigmoid", ["h"], ["s"], "sig"),
            helper.make_node("Tanh", ["h"], ["t"], "tanh"),
            helper.make_node("Mul", ["s", "t"], ["h2"], "mul"),
        ],
        _use('"tanh"', "Tanh", "uses an earlier layer's output, so the graph branches"),
    ),
    (
        "matmul of data",
        [
            helper.make_node("Sigmoid", ["h"], ["s"], "sig"),
            helper.make_node("MatMul", ["s", "s"], ["h2"], "square"),
        ],
        _use(
            '"square"',
            "MatMul",
            "multiplies two values computed from the input, so it is not a layer",
        ),
    ),
    (
        "mul of data",
        [helper.make_node("Mul", ["h", "h"], ["h2"], "sq")],
        _use('"sq"', "Mul", "multiplies two values computed from the input, so it is not a layer"),
    ),
    (
        "div by data",
        [helper.make_node("Div", ["one", "h"], ["h2"], "inv")],
        _use('"inv"', "Div", "divides by a value computed from the input"),
    ),
    (
        "softmax over the batch",
        [helper.make_node("Softmax", ["h"], ["h2"], "sm", axis=0)],
        _use('"sm"', "Softmax", "normalizes over another axis than the features"),
    ),
    (
        "cast to integers",
        [helper.make_node("Cast", ["h"], ["h2"], "round", to=TensorProto.INT64)],
        _use('"round"', "Cast", "casts values computed from the input to int64"),
    ),
    (
        "negative slope",
        [helper.make_node("LeakyRelu", ["h"], ["h2"], "leaky", alpha=-0.5)],
        _use('"leaky"', "LeakyRelu", "has slope alpha=-0.5; netbound needs alpha >= 0"),
    ),
]


@pytest.mark.parametrize(
    ("middle", "message"),
    [pytest.param(m, msg, id=name) for name, m, msg in _MIDDLE_REFUSALS],
)
def test_refuses_what_is_not_affine_between_activations(
    tmp_path: Path, middle: list[Any], message: str
) -> None:
    model = _two_layers(middle)
    model.graph.initializer.extend(
        [
            numpy_helper.from_array(np.array([0], np.int64), "idx"),
            numpy_helper.from_array(np.array(True), "cond"),
            numpy_helper.from_array(np.ones(3, np.float32), "one"),
        ]
    )
    path = _save(model, tmp_path)
    assert _refusal(path) == f"{path}: {message}"


def test_refuses_softmax_before_the_last_layer(tmp_path: Path) -> None:
    path = _save(_two_layers([helper.make_node("Softmax", ["h"], ["h2"], "sm")]), tmp_path)
    assert _refusal(path) == (
        f"{path}: a Softmax is followed by layer 2; netbound allows Softmax on the output "
        "layer only"
    )


@pytest.mark.parametrize(
    ("nodes", "inits", "message"),
    [
        pytest.param(
            [helper.make_node("Gemm", ["x", "w"], ["y"], "gemm", transA=1)],
            {"w": np.ones((2, 2))},
            _use(
                '"gemm"',
                "Gemm",
                "cannot be computed on inputs of shapes 1x2, 2x2 (they do not fit)",
            ),
            id="gemm transposing the batch",
        ),
        pytest.param(
            [helper.make_node("MatMul", ["x", "w"], ["y"], "mm")],
            {"w": np.ones((3, 4))},
            _use(
                '"mm"',
                "MatMul",
                "cannot be computed on inputs of shapes 1x2, 3x4 (they do not fit)",
            ),
            id="mismatched weights",
        ),
    ],
)
def test_refuses_shapes_that_do_not_fit(
    tmp_path: Path, nodes: list[Any], inits: dict[str, Any], message: str
) -> None:
    path = _save(_model(nodes, inits), tmp_path)
    assert _refusal(path) == f"{path}: {message}"


def test_refuses_two_inputs(tmp_path: Path) -> None:
    nodes = [helper.make_node("Add", ["x", "x2"], ["y"], "add")]
    path = _save(_model(nodes, {}, inputs=("x", "x2")), tmp_path)
    assert _refusal(path) == (
        f"{path}: the model has 2 inputs (x, x2); netbound reads feed-forward networks "
        "with one input tensor"
    )


def test_refuses_several_outputs(tmp_path: Path) -> None:
    nodes = [helper.make_node("Relu", ["h"], ["h2"], "relu")]
    model = _two_layers(nodes)
    model.graph.output.append(helper.make_tensor_value_info("h2", TensorProto.FLOAT, None))
    path = _save(model, tmp_path)
    assert _refusal(path) == (
        f"{path}: the model has 2 outputs (y, h2); netbound reads a network with one output, "
        "or one whose outputs all follow its last Sigmoid or Softmax (probabilities and labels)"
    )


def test_refuses_output_independent_of_input(tmp_path: Path) -> None:
    nodes = [
        helper.make_node("Relu", ["x"], ["unused"], "relu"),
        helper.make_node("Identity", ["c"], ["y"], "id"),
    ]
    path = _save(_model(nodes, {"c": np.ones((1, 2))}), tmp_path)
    assert _refusal(path) == f"{path}: the model's output 'y' does not depend on its input 'x'"


def test_refuses_input_without_a_static_shape(tmp_path: Path) -> None:
    nodes = [helper.make_node("Sigmoid", ["x"], ["y"], "sig")]
    path = _save(_model(nodes, {}, shape=[None, 2, None]), tmp_path)
    assert _refusal(path) == (
        f"{path}: the input 'x' has shape ['?', 2, '?']; netbound needs a static shape "
        "(only the batch dimension may be left open)"
    )


def test_refuses_missing_empty_and_garbage_files(tmp_path: Path) -> None:
    missing = tmp_path / "missing.onnx"
    assert _refusal(missing) == f"{missing}: no such file"
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    assert _refusal(empty) == f"{empty}: the file is empty; expected an ONNX model"
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"\xff\xfe not a protobuf \x00\x01")
    assert _refusal(garbage).startswith(f"{garbage}: not a readable ONNX model (")
    text = tmp_path / "text.onnx"
    text.write_text('{"layers": []}')
    message = _refusal(text)
    assert message.startswith(f"{text}: ")


def test_refuses_when_onnx_is_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _save(_two_layers([helper.make_node("Relu", ["h"], ["h2"])]), tmp_path)
    monkeypatch.setitem(sys.modules, "onnx", None)
    expected = f"{path}: reading ONNX models needs the onnx package: pip install 'netbound[onnx]'"
    with pytest.raises(MissingExtraError) as info:
        netbound.load(path)
    assert str(info.value) == expected
    with pytest.raises(MissingExtraError) as info:
        import_onnx_document(path)
    assert str(info.value) == expected


def test_refuses_when_the_conversion_does_not_reproduce_the_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _save(_two_layers([helper.make_node("Relu", ["h"], ["h2"])]), tmp_path)
    got = load_onnx(path).forward([0.3, -0.7])[0]
    truth = evaluate_onnx(path, [[0.3, -0.7]], engine="numpy")[0]
    real = onnx_import._evaluate

    def off(*args: Any) -> Any:
        return real(*args) * 1.01

    monkeypatch.setattr(onnx_import, "_evaluate", off)
    with pytest.raises(NetworkFileError) as info:
        import_onnx_document(path)
    assert str(info.value) == (
        f"{path}: the converted network gives z1 = {float(got)!r} at the probe input but "
        f"the model gives {float(truth[0] * 1.01)!r}; netbound cannot read this model"
    )


def test_real_pytorch_cnn_export(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    module = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, stride=2, padding=1),
        torch.nn.BatchNorm2d(4),
        torch.nn.ReLU(),
        torch.nn.Conv2d(4, 6, 3, groups=2, dilation=2),
        torch.nn.Tanh(),
        torch.nn.Flatten(),
        torch.nn.Linear(6 * 3 * 3, 10),
    ).eval()
    with torch.no_grad():
        module[1].running_mean.uniform_(-1.0, 1.0)
        module[1].running_var.uniform_(0.5, 2.0)
    path = tmp_path / "cnn.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (torch.zeros(1, 1, 14, 14),), str(path), dynamo=False)
    net = netbound.load(path)
    assert [layer.activation for layer in net.layers] == ["relu", "tanh", "identity"]
    assert net.n_inputs == 196
    x = _inputs(196, count=20)
    with torch.no_grad():
        want = module(torch.tensor(x, dtype=torch.float32).reshape(-1, 1, 14, 14)).numpy()
    np.testing.assert_allclose(net.forward(x), want, rtol=1e-5, atol=1e-6)
