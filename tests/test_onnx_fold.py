"""ONNX folding: models built with onnx.helper for every folded operation and input shape,
each compared with onnxruntime (float32 models, 1e-6 relative to the output's scale)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import netbound

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

RTOL = 1e-6
F32 = np.float32


def _w(rng: np.random.Generator, *shape: int, dtype: Any = F32) -> Any:
    return rng.normal(0.0, 1.0, shape).astype(dtype)


def _model(
    nodes: list[Any],
    inits: dict[str, Any],
    shape: list[Any],
    *,
    opset: int = 17,
    inits_as_inputs: bool = False,
) -> Any:
    tensors = [numpy_helper.from_array(np.asarray(v), k) for k, v in inits.items()]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)]
    if inits_as_inputs:  # the older IR lists every initializer as a graph input too
        inputs += [
            helper.make_tensor_value_info(
                t.name, helper.np_dtype_to_tensor_dtype(np.asarray(inits[t.name]).dtype), t.dims
            )
            for t in tensors
        ]
    graph = helper.make_graph(
        nodes,
        "fold",
        inputs,
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["M", "K"])],
        tensors,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


def _sub_div_gemm(rng: np.random.Generator) -> Any:
    nodes = [
        helper.make_node("Sub", ["x", "mean"], ["a"]),
        helper.make_node("Div", ["a", "range"], ["b"]),
        helper.make_node("Gemm", ["b", "w1", "c1"], ["h"], transB=1, alpha=0.7, beta=1.3),
        helper.make_node("Relu", ["h"], ["r"]),
        # the data as Gemm's B operand: (2x4) @ r.T -> 2x1, transposed back
        helper.make_node("Gemm", ["w2", "r"], ["o"], transB=1),
        helper.make_node("Transpose", ["o"], ["ot"], perm=[1, 0]),
        helper.make_node("Mul", ["ot", "scale"], ["m"]),
        helper.make_node("Add", ["shift", "m"], ["y"]),
    ]
    inits = {
        "mean": _w(rng, 3),
        "range": np.abs(_w(rng, 3)) + F32(0.5),
        "w1": _w(rng, 4, 3),
        "c1": _w(rng, 4),
        "w2": _w(rng, 2, 4),
        "scale": _w(rng, 2),
        "shift": _w(rng, 1, 2),
    }
    return _model(nodes, inits, [1, 3])


def _gemm_trans_a(rng: np.random.Generator) -> Any:
    nodes = [
        helper.make_node("Gemm", ["x", "w1"], ["h"], transA=1),
        helper.make_node("Sigmoid", ["h"], ["s"]),
        helper.make_node("MatMul", ["s", "w2"], ["y"]),
    ]
    return _model(nodes, {"w1": _w(rng, 3, 4), "w2": _w(rng, 4, 2)}, [3, 1])


def _conv2d(rng: np.random.Generator) -> Any:
    nodes = [
        helper.make_node(
            "Conv", ["x", "k", "kb"], ["c"], pads=[1, 0, 1, 2], strides=[2, 1], dilations=[1, 2]
        ),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("Flatten", ["r"], ["f"]),
        helper.make_node("Gemm", ["f", "w", "b"], ["g"], transB=1),
        helper.make_node("Softmax", ["g"], ["y"], axis=-1),
    ]
    # small logits (see _tf_like_nhwc)
    w = F32(0.2) * _w(rng, 4, 27)
    inits = {"k": _w(rng, 3, 2, 3, 3), "kb": _w(rng, 3), "w": w, "b": _w(rng, 4)}
    return _model(nodes, inits, ["N", 2, 5, 5])


def _conv_groups_batchnorm(rng: np.random.Generator) -> Any:
    nodes = [
        helper.make_node("Conv", ["x", "k"], ["c"], group=2, auto_pad="SAME_UPPER", strides=[2, 2]),
        helper.make_node("BatchNormalization", ["c", "s", "b", "m", "v"], ["n"], epsilon=1e-3),
        helper.make_node("Tanh", ["n"], ["t"]),
        helper.make_node("Reshape", ["t", "shape"], ["f"]),
        helper.make_node("MatMul", ["f", "w"], ["y"]),
    ]
    inits = {
        "k": _w(rng, 4, 2, 3, 3),
        "s": _w(rng, 4),
        "b": _w(rng, 4),
        "m": _w(rng, 4),
        "v": np.abs(_w(rng, 4)) + F32(0.1),
        "shape": np.array([1, -1], np.int64),
        "w": _w(rng, 36, 3),
    }
    return _model(nodes, inits, [1, 4, 6, 6])


def _conv1d(rng: np.random.Generator) -> Any:
    nodes = [
        helper.make_node("Conv", ["x", "k"], ["c"], pads=[1, 1]),
        helper.make_node("LeakyRelu", ["c"], ["r"], alpha=0.2),
        helper.make_node("Flatten", ["r"], ["f"]),
        helper.make_node("MatMul", ["f", "w"], ["y"]),
    ]
    return _model(nodes, {"k": _w(rng, 3, 2, 2), "w": _w(rng, 24, 2)}, [1, 2, 7])


def _squeeze_unsqueeze_4d(rng: np.random.Generator) -> Any:
    nodes = [
        helper.make_node("Squeeze", ["x", "axes12"], ["s"]),
        helper.make_node("Unsqueeze", ["s", "axes0"], ["u"]),
        helper.make_node("Reshape", ["u", "shape"], ["r"]),
        helper.make_node("MatMul", ["r", "w1"], ["h"]),
        helper.make_node("Relu", ["h"], ["a"]),
        helper.make_node("Gemm", ["a", "w2", "b2"], ["y"]),
    ]
    inits = {
        "axes12": np.array([1, 2], np.int64),
        "axes0": np.array([0], np.int64),
        "shape": np.array([1, 5], np.int64),
        "w1": _w(rng, 5, 6),
        "w2": _w(rng, 6, 3),
        "b2": _w(rng, 3),
    }
    return _model(nodes, inits, [1, 1, 1, 5], inits_as_inputs=True)


def _tf_like_nhwc(rng: np.random.Generator) -> Any:
    nodes = [
        helper.make_node("Transpose", ["x"], ["nchw"], perm=[0, 3, 1, 2]),
        helper.make_node("Conv", ["nchw", "k", "kb"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("Transpose", ["r"], ["nhwc"], perm=[0, 2, 3, 1]),
        helper.make_node("Reshape", ["nhwc", "shape"], ["f"]),
        helper.make_node("Cast", ["f"], ["f32"], to=TensorProto.FLOAT),
        helper.make_node("MatMul", ["f32", "w"], ["m"]),
        helper.make_node("Add", ["m", "b"], ["g"]),
        helper.make_node("Softmax", ["g"], ["y"]),
    ]
    inits = {
        "k": _w(rng, 3, 2, 3, 3),
        "kb": _w(rng, 3),
        "shape": np.array([-1, 48], np.int64),
        # small logits: a softmax of large float32 logits amplifies their rounding (1e-6 of
        # a logit of 10 is a relative error of 1e-5 in the probabilities)
        "w": F32(0.1) * _w(rng, 48, 3),
        "b": _w(rng, 3),
    }
    return _model(nodes, inits, ["batch", 4, 4, 2])


def _constants_float16_dropout(rng: np.random.Generator) -> Any:
    w1 = _w(rng, 3, 4, dtype=np.float16)
    nodes = [
        helper.make_node("Constant", [], ["w1h"], value=numpy_helper.from_array(w1, "w1h")),
        helper.make_node("Cast", ["w1h"], ["w1"], to=TensorProto.FLOAT),
        helper.make_node("Identity", ["x"], ["xi"]),
        helper.make_node("MatMul", ["xi", "w1"], ["h"]),
        helper.make_node("Add", ["h", "b1"], ["hb"]),
        helper.make_node("Dropout", ["hb"], ["d"]),
        helper.make_node("Softplus", ["d"], ["s"]),
        helper.make_node("Gemm", ["s", "w2"], ["y"], transB=1),
    ]
    inits = {"b1": _w(rng, 4), "w2": _w(rng, 2, 4)}
    return _model(nodes, inits, [None, 3])


CASES: dict[str, Callable[[np.random.Generator], Any]] = {
    "sub-div-gemm-attributes": _sub_div_gemm,
    "gemm-transA": _gemm_trans_a,
    "conv2d-pads-strides-dilations": _conv2d,
    "conv-groups-batchnorm-same": _conv_groups_batchnorm,
    "conv1d-leaky": _conv1d,
    "squeeze-unsqueeze-4d-initializers-as-inputs": _squeeze_unsqueeze_4d,
    "tf-like-nhwc-transpose": _tf_like_nhwc,
    "constant-float16-cast-dropout": _constants_float16_dropout,
}


def _input_shape(model: Any) -> list[int]:
    dims = model.graph.input[0].type.tensor_type.shape.dim
    return [d.dim_value if d.HasField("dim_value") else 1 for d in dims]


@pytest.mark.parametrize("case", list(CASES))
def test_folded_network_matches_onnxruntime(tmp_path: Path, case: str) -> None:
    model = CASES[case](np.random.default_rng(sorted(CASES).index(case)))
    onnx.checker.check_model(model)
    path = tmp_path / f"{case}.onnx"
    path.write_bytes(model.SerializeToString())
    net = netbound.load(path)
    shape = _input_shape(model)
    n = int(np.prod(shape))
    assert net.n_inputs == n
    x = np.random.default_rng(3).normal(0.0, 1.5, (40, n)).astype(F32)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    want = np.stack([session.run(None, {"x": row.reshape(shape)})[0].reshape(-1) for row in x])
    got = net.forward(x.astype(np.float64))
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=RTOL * float(np.max(np.abs(want))))
    # The importer's own interpreter of the graph agrees in float64.
    from netbound.onnx_import import evaluate_onnx

    np.testing.assert_allclose(
        got, evaluate_onnx(path, x.astype(np.float64), engine="numpy"), rtol=1e-9, atol=1e-12
    )
