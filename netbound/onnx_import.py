"""Reading ONNX models of feed-forward networks (the ``onnx`` extra).

A model is read by tracing its graph symbolically from its one input: every value computed
from the input is kept as an affine function ``h_k @ A + c`` of the output ``h_k`` of the
latest activation, and each activation closes a layer ``act(A.T @ h_k + c)``. Weights come
from initializers and ``Constant`` nodes (float32 is widened to float64 exactly); ``Transpose``,
``Cast``, ``Reshape`` and ``Identity`` of constants are folded.

The network ends at the graph's output, or at the last ``Sigmoid`` or ``Softmax`` when only
label extraction follows it (scikit-learn's ``1 - p`` ``Sub`` and ``Concat``, ``ArgMax``,
``ZipMap``, ...): those do not move the decision boundary.

The probe of an imported network is computed from the model itself, independently of the
layer extraction: with onnxruntime on a float64 copy of the graph when onnxruntime is
installed and can run it, else with a small numpy interpreter of the supported operations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import expit

from netbound.errors import MissingExtraError, NetworkFileError
from netbound.files import read_bytes
from netbound.network import FloatArray, Layer, Network

__all__ = [
    "SUPPORTED_OPS",
    "evaluate_onnx",
    "import_onnx_document",
    "load_onnx",
    "onnx_probe",
    "probe_input",
]

#: What the refusals say is supported.
SUPPORTED_OPS = (
    "Gemm, MatMul, Add, Sigmoid, Tanh, Relu, LeakyRelu, Softplus and Softmax "
    "(Identity, Dropout, Flatten, Reshape and Cast pass through)"
)
_ACTIVATION_OPS = {
    "Sigmoid": "sigmoid",
    "Tanh": "tanh",
    "Relu": "relu",
    "LeakyRelu": "leaky_relu",
    "Softplus": "softplus",
    "Softmax": "softmax",
}
_PASS_OPS = frozenset({"Identity", "Dropout", "Flatten", "Reshape", "Cast"})
_LAYER_OPS = frozenset({"Gemm", "MatMul", "Add", *_ACTIVATION_OPS})
#: Operations that may follow the last Sigmoid or Softmax and are dropped with it:
#: label extraction and the packaging of the probabilities.
_TAIL_OPS = frozenset(
    {
        "Sub",
        "Concat",
        "ArgMax",
        "ZipMap",
        "ArrayFeatureExtractor",
        "LabelEncoder",
        "Binarizer",
        "Slice",
        "Split",
        "Gather",
        "Reshape",
        "Cast",
        "Identity",
        "Flatten",
        "Squeeze",
        "Unsqueeze",
        "Dropout",
        "Shape",
        "Constant",
    }
)
#: Relative agreement required between the extracted network and the model's own graph.
_SELF_CHECK_RTOL = 1e-9
_PROBE_VALUES = (0.3, -0.7, 1.1, -0.2, 0.6, -1.3, 0.9, -0.4)
_MISSING_EXTRA = "reading ONNX models needs the onnx package: pip install 'netbound[onnx]'"


def _onnx(name: str) -> Any:
    """The ``onnx`` module, or a :class:`MissingExtraError` naming the extra."""
    try:
        import onnx
    except ImportError:
        raise MissingExtraError(f"{name}: {_MISSING_EXTRA}") from None
    return onnx


# --------------------------------------------------------------------------------------------
# Reading the model and finding the part of the graph that is the network


@dataclass(frozen=True)
class _Graph:
    """The part of an ONNX graph between its data input and the network's end."""

    name: str
    onnx: Any
    model: Any
    input_name: str
    input_rank: int
    input_width: int | None
    end: str
    nodes: tuple[tuple[int, Any], ...]
    initializers: dict[str, FloatArray | np.ndarray[Any, Any]]
    opset: int


def _label(index: int, node: Any) -> str:
    return f'"{node.name}"' if node.name else f"#{index} (unnamed)"


def _refuse_op(g: _Graph, index: int, node: Any) -> NetworkFileError:
    return NetworkFileError(
        f"{g.name}: unsupported ONNX operation {node.op_type} (node {_label(index, node)}); "
        f"netbound reads feed-forward networks made of {SUPPORTED_OPS}"
    )


def _refuse_use(g: _Graph, index: int, node: Any, why: str) -> NetworkFileError:
    return NetworkFileError(
        f"{g.name}: node {_label(index, node)} ({node.op_type}) {why}; netbound reads "
        f"feed-forward networks made of {SUPPORTED_OPS}"
    )


def _read(path: Path) -> _Graph:
    name = str(path)
    onnx = _onnx(name)
    raw = read_bytes(path)
    if not raw:
        raise NetworkFileError(f"{name}: the file is empty; expected an ONNX model")
    try:
        model = onnx.load_from_string(raw)
        if any(t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer):
            onnx.external_data_helper.load_external_data_for_model(model, str(path.parent))
    except Exception as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise NetworkFileError(f"{name}: not a readable ONNX model ({reason})") from None
    return _analyse(onnx, model, name)


def _analyse(onnx: Any, model: Any, name: str) -> _Graph:
    graph = model.graph
    nodes = list(graph.node)
    initializers: dict[str, Any] = {}
    for tensor in graph.initializer:
        try:
            initializers[tensor.name] = _widen(onnx.numpy_helper.to_array(tensor))
        except Exception as exc:
            raise NetworkFileError(
                f"{name}: cannot read initializer {tensor.name!r} ({exc})"
            ) from None
    data_inputs = [v for v in graph.input if v.name not in initializers]
    if not data_inputs:
        raise NetworkFileError(
            f"{name}: the model has no input; expected an ONNX model of a feed-forward network"
        )
    if len(data_inputs) > 1:
        names = ", ".join(v.name for v in data_inputs)
        raise NetworkFileError(
            f"{name}: the model has {len(data_inputs)} inputs ({names}); netbound reads "
            "feed-forward networks with one input tensor"
        )
    data = data_inputs[0]
    dims = list(data.type.tensor_type.shape.dim) if data.type.HasField("tensor_type") else []
    has_shape = data.type.HasField("tensor_type") and data.type.tensor_type.HasField("shape")
    rank = len(dims) if has_shape else 2
    if rank not in (1, 2):
        raise NetworkFileError(
            f"{name}: the input {data.name!r} has {rank} dimensions; netbound reads networks "
            "whose input is a vector or a batch of vectors (batch x features)"
        )
    width: int | None = None
    if has_shape and dims[-1].HasField("dim_value") and dims[-1].dim_value > 0:
        width = int(dims[-1].dim_value)
    if not graph.output:
        raise NetworkFileError(f"{name}: the model has no output")
    producer: dict[str, int] = {}
    for i, node in enumerate(nodes):
        for out in node.output:
            if out:
                producer[out] = i
    end = _find_end(name, nodes, producer, [o.name for o in graph.output])
    needed: set[int] = set()
    stack = [end]
    seen: set[str] = set()
    while stack:
        value = stack.pop()
        if value in seen:
            continue
        seen.add(value)
        if value in producer:
            i = producer[value]
            needed.add(i)
            stack.extend(v for v in nodes[i].input if v)
    if data.name not in seen:
        raise NetworkFileError(
            f"{name}: the model's output {end!r} does not depend on its input {data.name!r}"
        )
    opset = next((int(o.version) for o in model.opset_import if o.domain in ("", "ai.onnx")), 1)
    return _Graph(
        name=name,
        onnx=onnx,
        model=model,
        input_name=data.name,
        input_rank=rank,
        input_width=width,
        end=end,
        nodes=tuple((i, nodes[i]) for i in sorted(needed)),
        initializers=initializers,
        opset=opset,
    )


def _find_end(name: str, nodes: list[Any], producer: dict[str, int], outputs: list[str]) -> str:
    """The value the network ends at: the last Sigmoid/Softmax if only labels follow it."""
    last = [
        i
        for i, n in enumerate(nodes)
        if n.op_type in ("Sigmoid", "Softmax") and n.domain in ("", "ai.onnx") and n.output
    ]
    if last:
        s = last[-1]
        head = nodes[s].output[0]
        after: set[int] = set()
        frontier = {head}
        while frontier:
            hit = {i for i, n in enumerate(nodes) if i not in after and frontier & set(n.input)}
            after |= hit
            frontier = {out for i in hit for out in nodes[i].output if out}
        tail_only = all(nodes[i].op_type in _TAIL_OPS for i in after)
        covered = all(o == head or producer.get(o) in after for o in outputs)
        if tail_only and covered:
            return str(head)
    if len(outputs) != 1:
        raise NetworkFileError(
            f"{name}: the model has {len(outputs)} outputs ({', '.join(outputs)}); netbound reads "
            "a network with one output, or one whose outputs all follow its last Sigmoid or "
            "Softmax (probabilities and labels)"
        )
    return outputs[0]


def _widen(array: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    if np.issubdtype(array.dtype, np.floating):
        return np.asarray(array, dtype=np.float64)
    return np.asarray(array)


def _constant_node(g: _Graph, index: int, node: Any) -> np.ndarray[Any, Any]:
    onnx = g.onnx
    for attr in node.attribute:
        if attr.name == "value":
            return _widen(onnx.numpy_helper.to_array(attr.t))
        if attr.name == "value_float":
            return np.array(attr.f, dtype=np.float64)
        if attr.name == "value_floats":
            return np.array(list(attr.floats), dtype=np.float64)
        if attr.name == "value_int":
            return np.array(attr.i, dtype=np.int64)
        if attr.name == "value_ints":
            return np.array(list(attr.ints), dtype=np.int64)
    raise _refuse_use(g, index, node, "holds no numeric tensor")


def _attrs(g: _Graph, node: Any) -> dict[str, Any]:
    return {a.name: g.onnx.helper.get_attribute_value(a) for a in node.attribute}


def _cast_dtype(g: _Graph, to: int) -> np.dtype[Any]:
    dtype: np.dtype[Any] = np.dtype(g.onnx.helper.tensor_dtype_to_np_dtype(to))
    return dtype


def _cast(x: np.ndarray[Any, Any], to: np.dtype[Any]) -> np.ndarray[Any, Any]:
    """A Cast: the network computes in float64, so a cast to float32 does not round."""
    return x.astype(np.float64 if np.issubdtype(to, np.floating) else to)


def _softmax_axis_ok(g: _Graph, node: Any, rank: int) -> bool:
    default = -1 if g.opset >= 13 else 1
    axis = int(_attrs(g, node).get("axis", default))
    if axis < 0:
        axis += rank
    return axis == rank - 1


# --------------------------------------------------------------------------------------------
# Layer extraction


@dataclass(frozen=True)
class _Affine:
    """``h_stage @ a + c`` for the output ``h_stage`` of activation stage ``stage``.

    ``a is None`` means the identity, ``c is None`` zero; ``width`` is the number of
    features (unknown only for the raw input of a model without a static shape).
    """

    stage: int
    a: FloatArray | None
    c: FloatArray | None
    width: int | None
    rank: int

    def matrix(self) -> FloatArray:
        if self.a is not None:
            return self.a
        assert self.width is not None
        return np.eye(self.width)

    def offset(self) -> FloatArray:
        if self.c is not None:
            return self.c
        assert self.width is not None
        return np.zeros(self.width)


_Value = _Affine | np.ndarray[Any, Any]


def _extract(g: _Graph) -> Network:
    values: dict[str, _Value] = dict(g.initializers)
    values[g.input_name] = _Affine(0, None, None, g.input_width, g.input_rank)
    layers: list[Layer] = []
    for index, node in g.nodes:
        if node.domain not in ("", "ai.onnx"):
            raise _refuse_op(g, index, node)
        args: list[_Value | None] = []
        for v in node.input:
            if not v:
                args.append(None)
            elif v in values:
                args.append(values[v])
            else:
                raise _refuse_use(g, index, node, f"uses {v!r}, which no earlier node computes")
        result = _extract_node(g, index, node, args, layers)
        values[node.output[0]] = result
    end = values[g.end]
    if not isinstance(end, _Affine):
        raise NetworkFileError(f"{g.name}: the model's output {g.end!r} is a constant")
    if end.stage != len(layers):
        raise NetworkFileError(
            f"{g.name}: the model's output {g.end!r} skips the last layers; netbound reads "
            "feed-forward networks (a chain of layers)"
        )
    if end.a is not None or end.c is not None or not layers:
        if end.width is None:
            raise NetworkFileError(f"{g.name}: the model computes nothing from its input")
        layers.append(Layer(end.matrix().T.copy(), end.offset().copy(), "identity"))
    for k, layer in enumerate(layers):
        if layer.activation == "softmax" and k != len(layers) - 1:
            raise NetworkFileError(
                f"{g.name}: a Softmax is followed by layer {k + 2}; netbound allows Softmax on "
                "the output layer only"
            )
        if not (np.all(np.isfinite(layer.weights)) and np.all(np.isfinite(layer.biases))):
            raise NetworkFileError(
                f"{g.name}: layer {k + 1} has a weight or bias that is not a finite number"
            )
    n_in, n_out = layers[0].n_in, layers[-1].n_out
    return Network(
        tuple(layers),
        tuple(f"x{i + 1}" for i in range(n_in)),
        tuple(f"z{i + 1}" for i in range(n_out)),
        source=g.name,
    )


def _extract_node(
    g: _Graph, index: int, node: Any, args: list[_Value | None], layers: list[Layer]
) -> _Value:
    op = node.op_type
    data = [a for a in args if isinstance(a, _Affine)]
    if op == "Constant":
        return _constant_node(g, index, node)
    if not data:
        return _fold(g, index, node, args)
    if op in _ACTIVATION_OPS:
        return _activation(g, index, node, data[0], layers)
    if op in ("Identity", "Dropout"):
        if args[0] is not data[0]:
            raise _refuse_use(g, index, node, "takes a value computed from the input as a setting")
        return data[0]
    if op == "Transpose":
        raise _refuse_use(g, index, node, "transposes values computed from the input")
    if op == "Cast":
        to = _cast_dtype(g, int(_attrs(g, node)["to"]))
        if not np.issubdtype(to, np.floating):
            raise _refuse_use(g, index, node, f"casts values computed from the input to {to}")
        return data[0]
    if op == "Flatten":
        return _flatten(g, index, node, data[0])
    if op == "Reshape":
        return _reshape(g, index, node, args)
    if op == "Gemm":
        return _gemm(g, index, node, args)
    if op == "MatMul":
        return _matmul(g, index, node, args)
    if op == "Add":
        return _add(g, index, node, args)
    raise _refuse_op(g, index, node)


def _fold(g: _Graph, index: int, node: Any, args: list[_Value | None]) -> np.ndarray[Any, Any]:
    """Fold an operation on constants (a transposed weight matrix, a cast, ...)."""
    op = node.op_type
    consts = [a for a in args if isinstance(a, np.ndarray)]
    if op not in ("Transpose", "Cast", "Identity", "Reshape") or not consts:
        raise _refuse_op(g, index, node)
    x = consts[0]
    attrs = _attrs(g, node)
    if op == "Transpose":
        perm = attrs.get("perm")
        return np.transpose(x, list(perm) if perm else None)
    if op == "Cast":
        return _cast(x, _cast_dtype(g, int(attrs["to"])))
    if op == "Identity":
        return x
    return _interpret_reshape(x, consts[1] if len(consts) > 1 else None, attrs)


def _activation(g: _Graph, index: int, node: Any, v: _Affine, layers: list[Layer]) -> _Affine:
    if v.stage != len(layers):
        raise _refuse_use(g, index, node, "uses an earlier layer's output, so the graph branches")
    if layers and layers[-1].activation == "softmax":
        raise _refuse_use(g, index, node, "follows a Softmax, allowed on the output only")
    if v.width is None:
        raise _refuse_use(g, index, node, "acts on the input, whose width the model leaves open")
    act = _ACTIVATION_OPS[node.op_type]
    alpha = 0.01
    if act == "leaky_relu":
        # a float32 attribute, widened exactly like the weights (0.1 is 0.10000000149011612)
        alpha = float(_attrs(g, node).get("alpha", 0.01))
        if alpha < 0.0 or not math.isfinite(alpha):
            raise _refuse_use(g, index, node, f"has slope alpha={alpha}; netbound needs alpha >= 0")
    if act == "softmax" and not _softmax_axis_ok(g, node, v.rank):
        raise _refuse_use(g, index, node, "normalizes over another axis than the features")
    layers.append(Layer(v.matrix().T.copy(), v.offset().copy(), act, alpha))
    return _Affine(len(layers), None, None, v.width, v.rank)


def _times(g: _Graph, index: int, node: Any, v: _Affine, m: np.ndarray[Any, Any]) -> _Affine:
    """``v @ m`` for a constant matrix ``m`` (in x out)."""
    if m.ndim != 2:
        raise _refuse_use(g, index, node, f"multiplies by a {m.ndim}-dimensional constant")
    m = np.asarray(m, dtype=np.float64)
    width = m.shape[0] if v.width is None else v.width
    if m.shape[0] != width:
        raise _refuse_use(
            g, index, node, f"multiplies {width} features by a {m.shape[0]}x{m.shape[1]} matrix"
        )
    a = m if v.a is None else v.a @ m
    c = None if v.c is None else v.c @ m
    return _Affine(v.stage, a, c, int(m.shape[1]), v.rank)


def _plus(g: _Graph, index: int, node: Any, v: _Affine, b: np.ndarray[Any, Any]) -> _Affine:
    """``v + b`` for a constant ``b`` broadcast along the features."""
    b = np.asarray(b, dtype=np.float64)
    if v.width is None or b.ndim > 2 or any(d != 1 for d in b.shape[:-1]):
        raise _refuse_use(g, index, node, f"adds a constant of shape {list(b.shape)}")
    flat = b.reshape(-1)
    if flat.size == 1:
        flat = np.full(v.width, flat[0])
    if flat.size != v.width:
        raise _refuse_use(g, index, node, f"adds {flat.size} biases to {v.width} features")
    c = flat if v.c is None else v.c + flat
    return _Affine(v.stage, v.a, c, v.width, max(v.rank, b.ndim))


def _gemm(g: _Graph, index: int, node: Any, args: list[_Value | None]) -> _Affine:
    attrs = _attrs(g, node)
    x, w = args[0], args[1]
    bias = args[2] if len(args) > 2 else None
    if not isinstance(x, _Affine) or isinstance(w, _Affine) or isinstance(bias, _Affine):
        raise _refuse_use(g, index, node, "needs the input as A and constant B and C")
    if int(attrs.get("transA", 0)) or x.rank != 2:
        raise _refuse_use(g, index, node, "transposes the batch of inputs (transA=1)")
    assert w is not None
    m = w.T if int(attrs.get("transB", 0)) else w
    alpha = float(attrs.get("alpha", 1.0))
    beta = float(attrs.get("beta", 1.0))
    out = _times(g, index, node, x, alpha * np.asarray(m, dtype=np.float64))
    if bias is not None:
        out = _plus(g, index, node, out, beta * np.asarray(bias, dtype=np.float64))
    return out


def _matmul(g: _Graph, index: int, node: Any, args: list[_Value | None]) -> _Affine:
    left, right = args[0], args[1]
    if isinstance(left, _Affine) and isinstance(right, np.ndarray):
        return _times(g, index, node, left, right)
    if isinstance(right, _Affine) and isinstance(left, np.ndarray):
        if right.rank != 1 or left.ndim != 2:
            raise _refuse_use(
                g, index, node, "multiplies a batch of inputs by a matrix from the left"
            )
        return _times(g, index, node, right, left.T)
    raise _refuse_use(
        g, index, node, "multiplies two values computed from the input, so it is not a layer"
    )


def _add(g: _Graph, index: int, node: Any, args: list[_Value | None]) -> _Affine:
    left, right = args[0], args[1]
    if isinstance(left, _Affine) and isinstance(right, np.ndarray):
        return _plus(g, index, node, left, right)
    if isinstance(right, _Affine) and isinstance(left, np.ndarray):
        return _plus(g, index, node, right, left)
    assert isinstance(left, _Affine)
    assert isinstance(right, _Affine)
    if left.stage != right.stage or left.width != right.width or left.width is None:
        raise _refuse_use(
            g,
            index,
            node,
            "adds the outputs of two different layers (a skip connection), so the graph "
            "is not a chain of layers",
        )
    a = left.matrix() + right.matrix()
    c = left.offset() + right.offset()
    return _Affine(left.stage, a, c, left.width, max(left.rank, right.rank))


def _flatten(g: _Graph, index: int, node: Any, v: _Affine) -> _Affine:
    axis = int(_attrs(g, node).get("axis", 1))
    if v.rank == 2 and axis in (1, -1):
        return v
    if v.rank == 1 and axis == 0:
        return _Affine(v.stage, v.a, v.c, v.width, 2)
    raise _refuse_use(g, index, node, f"flattens along axis {axis}, mixing the batch in")


def _reshape(g: _Graph, index: int, node: Any, args: list[_Value | None]) -> _Affine:
    v, shape = args[0], args[1] if len(args) > 1 else None
    if not isinstance(v, _Affine) or not isinstance(shape, np.ndarray):
        raise _refuse_use(g, index, node, "needs the input as data and a constant shape")
    target = [int(s) for s in shape.reshape(-1)]
    zero_ok = not int(_attrs(g, node).get("allowzero", 0))
    rank = _reshaped_rank(v.rank, v.width, target, zero_ok)
    if rank is None:
        raise _refuse_use(g, index, node, f"reshapes the features to {target}")
    known = v.width if v.width is not None or target[-1] <= 0 else target[-1]
    return _Affine(v.stage, v.a, v.c, known, rank)


def _reshaped_rank(rank: int, width: int | None, target: list[int], zero_ok: bool) -> int | None:
    """The rank after a Reshape to ``target``, if it keeps one row of features per sample."""
    if not target or target == [-1, -1]:
        return None
    last = target[-1]
    features = {-1} | ({width} if width is not None else ({last} if last > 0 else set()))
    same = last in features or (zero_ok and last == 0)
    if rank == 2 and len(target) == 2:
        return 2 if same and target[0] in ({0, -1} if zero_ok else {-1}) else None
    if rank == 1 and len(target) == 1:
        return 1 if same else None
    if rank == 1 and len(target) == 2:
        return 2 if last in features and target[0] in (1, -1) else None
    return None


# --------------------------------------------------------------------------------------------
# Evaluating the model itself (for the probe), independent of the layer extraction


def _interpret_reshape(
    x: np.ndarray[Any, Any], shape: np.ndarray[Any, Any] | None, attrs: dict[str, Any]
) -> np.ndarray[Any, Any]:
    if shape is None:
        return x
    target = [int(s) for s in shape.reshape(-1)]
    if not int(attrs.get("allowzero", 0)):
        target = [x.shape[i] if s == 0 and i < x.ndim else s for i, s in enumerate(target)]
    return np.reshape(x, target)


def _softmax(x: FloatArray, axis: int, opset: int) -> FloatArray:
    if opset >= 13:
        shifted = x - np.max(x, axis=axis, keepdims=True)
        e = np.exp(shifted)
        return np.asarray(e / np.sum(e, axis=axis, keepdims=True), dtype=np.float64)
    if axis < 0:
        axis += x.ndim
    flat = x.reshape(int(np.prod(x.shape[:axis])), -1)
    return _softmax(flat, 1, 13).reshape(x.shape)


def _interpret(g: _Graph, x: FloatArray) -> FloatArray:
    """Run the graph's network part in float64 on one sample or batch ``x``."""
    env: dict[str, np.ndarray[Any, Any]] = dict(g.initializers)
    env[g.input_name] = x
    for index, node in g.nodes:
        if node.domain not in ("", "ai.onnx"):
            raise _refuse_op(g, index, node)
        missing = [v for v in node.input if v and v not in env]
        if missing:
            raise _refuse_use(
                g, index, node, f"uses {missing[0]!r}, which no earlier node computes"
            )
        ins = [env[v] if v else None for v in node.input]
        env[node.output[0]] = np.asarray(_run_node(g, index, node, ins))
    return np.asarray(env[g.end], dtype=np.float64)


def _run_node(
    g: _Graph, index: int, node: Any, ins: list[np.ndarray[Any, Any] | None]
) -> np.ndarray[Any, Any]:
    """One node of :func:`_interpret`, in float64."""
    op = node.op_type
    attrs = _attrs(g, node)
    if op == "Constant":
        return _constant_node(g, index, node)

    def arg(i: int) -> np.ndarray[Any, Any]:
        value = ins[i] if i < len(ins) else None
        if value is None:
            raise _refuse_use(g, index, node, f"has no input {i + 1}")
        return value

    a = arg(0)
    if op in ("Identity", "Dropout"):
        return a
    if op == "Cast":
        return _cast(a, _cast_dtype(g, int(attrs["to"])))
    if op == "Flatten":
        axis = int(attrs.get("axis", 1))
        axis = axis + a.ndim if axis < 0 else axis
        return a.reshape(int(np.prod(a.shape[:axis])), -1)
    if op == "Reshape":
        return _interpret_reshape(a, arg(1), attrs)
    if op == "Transpose":
        perm = attrs.get("perm")
        return np.transpose(a, list(perm) if perm else None)
    if op == "Gemm":
        left = a.T if int(attrs.get("transA", 0)) else a
        right = arg(1).T if int(attrs.get("transB", 0)) else arg(1)
        out: np.ndarray[Any, Any] = float(attrs.get("alpha", 1.0)) * (left @ right)
        if len(ins) > 2 and ins[2] is not None:
            out = out + float(attrs.get("beta", 1.0)) * ins[2]
        return out
    if op == "MatMul":
        return np.asarray(np.matmul(a, arg(1)))
    if op == "Add":
        return np.asarray(np.add(a, arg(1)))
    if op == "Sigmoid":
        return np.asarray(expit(a))
    if op == "Tanh":
        return np.asarray(np.tanh(a))
    if op == "Relu":
        return np.asarray(np.maximum(a, 0.0))
    if op == "LeakyRelu":
        return np.where(a >= 0.0, a, float(attrs.get("alpha", 0.01)) * a)
    if op == "Softplus":
        return np.asarray(np.logaddexp(0.0, a))
    if op == "Softmax":
        default = -1 if g.opset >= 13 else 1
        return _softmax(a, int(attrs.get("axis", default)), g.opset)
    raise _refuse_op(g, index, node)


def _float64_model(g: _Graph) -> Any:
    """A copy of the network part of the graph computing in float64."""
    onnx = g.onnx
    tp = onnx.TensorProto
    narrow = {tp.FLOAT, tp.FLOAT16, tp.BFLOAT16}
    nodes = []
    used: set[str] = set()
    for _, node in g.nodes:
        new = onnx.NodeProto()
        new.CopyFrom(node)
        for attr in new.attribute:
            if new.op_type == "Cast" and attr.name == "to" and attr.i in narrow:
                attr.i = tp.DOUBLE
            if new.op_type == "Constant" and attr.name == "value" and attr.t.data_type in narrow:
                arr = onnx.numpy_helper.to_array(attr.t).astype(np.float64)
                attr.t.CopyFrom(onnx.numpy_helper.from_array(arr, attr.t.name))
            if new.op_type == "Constant" and attr.name in ("value_float", "value_floats"):
                arr = np.asarray(onnx.helper.get_attribute_value(attr), dtype=np.float64)
                new.attribute.remove(attr)
                new.attribute.append(
                    onnx.helper.make_attribute("value", onnx.numpy_helper.from_array(arr))
                )
                break
        used.update(new.input)
        nodes.append(new)
    inits = [onnx.numpy_helper.from_array(v, k) for k, v in g.initializers.items() if k in used]
    shape: list[Any] = [None, g.input_width] if g.input_rank == 2 else [g.input_width]
    graph = onnx.helper.make_graph(
        nodes,
        "netbound_probe",
        [onnx.helper.make_tensor_value_info(g.input_name, tp.DOUBLE, shape)],
        [onnx.helper.make_tensor_value_info(g.end, tp.DOUBLE, None)],
        inits,
    )
    model = onnx.helper.make_model(graph, opset_imports=list(g.model.opset_import))
    model.ir_version = max(int(g.model.ir_version), 4)
    return model


def _evaluate_onnxruntime(g: _Graph, x: FloatArray) -> FloatArray | None:
    try:
        import onnxruntime
    except ImportError:
        return None
    try:
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        session = onnxruntime.InferenceSession(
            _float64_model(g).SerializeToString(), options, providers=["CPUExecutionProvider"]
        )
        rows = [x] if g.input_rank == 2 else list(x)
        outs = [np.asarray(session.run(None, {g.input_name: r})[0], np.float64) for r in rows]
    except Exception:
        return None
    return outs[0] if g.input_rank == 2 else np.stack(outs)


def _evaluate(
    g: _Graph, x: FloatArray, engine: Literal["auto", "onnxruntime", "numpy"]
) -> FloatArray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"expected a batch of inputs (2 dimensions), got shape {x.shape}")
    if engine != "numpy":
        out = _evaluate_onnxruntime(g, x)
        if out is not None:
            return out.reshape(len(x), -1)
        if engine == "onnxruntime":
            raise RuntimeError(f"{g.name}: onnxruntime cannot run the model in float64")
    if g.input_rank == 2:
        return _interpret(g, x).reshape(len(x), -1)
    return np.stack([_interpret(g, row).reshape(-1) for row in x])


# --------------------------------------------------------------------------------------------
# Public functions


def probe_input(n: int) -> FloatArray:
    """The fixed, non-trivial input vector at which imported networks are probed.

    Examples
    --------
    >>> probe_input(3).tolist()
    [0.3, -0.7, 1.1]
    """
    return np.array(
        [_PROBE_VALUES[i % len(_PROBE_VALUES)] + 0.05 * (i // len(_PROBE_VALUES)) for i in range(n)]
    )


def load_onnx(path: Path) -> Network:
    """Convert an ONNX model of a feed-forward network into a :class:`Network`.

    Parameters
    ----------
    path
        The ``.onnx`` file.

    Returns
    -------
    Network
        Inputs ``x1..xn``, outputs ``z1..zm`` in the model's output order. A model ending in
        a one-unit Sigmoid (scikit-learn's binary ``MLPClassifier``) becomes a single-output
        sigmoid network; anything after the last Sigmoid or Softmax that only extracts
        labels is dropped.

    Raises
    ------
    MissingExtraError
        The ``onnx`` package is not installed.
    NetworkFileError
        The file is unreadable or not a feed-forward network; the message names the file
        and, for an unsupported operation, its type and node.
    """
    g = _read(Path(path))
    net = _extract(g)
    x = probe_input(net.n_inputs)[None, :]
    expected = _evaluate(g, x, "numpy")[0]
    _compare(g.name, net, x[0], expected, _SELF_CHECK_RTOL)
    return net


def evaluate_onnx(
    path: Path,
    x: ArrayLike,
    engine: Literal["auto", "onnxruntime", "numpy"] = "auto",
) -> FloatArray:
    """The model's outputs, up to where the network ends, in float64.

    Parameters
    ----------
    path
        The ``.onnx`` file.
    x
        Inputs, shape ``(batch, n_inputs)``.
    engine
        ``"onnxruntime"`` runs a float64 copy of the graph with onnxruntime, ``"numpy"``
        netbound's own interpreter of the supported operations; ``"auto"`` tries onnxruntime
        first.

    Returns
    -------
    numpy.ndarray
        Shape ``(batch, n_outputs)``: what :meth:`Network.forward` of the imported network
        computes (probabilities for classifiers, not labels).
    """
    return _evaluate(_read(Path(path)), np.asarray(x, dtype=np.float64), engine)


def onnx_probe(path: Path, network: Network) -> dict[str, list[float]]:
    """A ``probe`` for the imported ``network``, computed from the model itself.

    Parameters
    ----------
    path
        The ``.onnx`` file ``network`` was converted from.
    network
        The converted network (for its number of inputs).

    Returns
    -------
    dict
        ``{"input": [...], "output": [...]}``: the model's float64 outputs at
        :func:`probe_input`.
    """
    x = probe_input(network.n_inputs)
    out = evaluate_onnx(Path(path), x[None, :])[0]
    return {"input": x.tolist(), "output": [float(v) for v in out]}


def import_onnx_document(path: Path) -> dict[str, Any]:
    """The layered-JSON document of an ONNX model, with a probe computed from the model.

    Parameters
    ----------
    path
        The ``.onnx`` file.

    Returns
    -------
    dict
        The document ``netbound import MODEL.onnx -o NET.json`` writes.

    Raises
    ------
    MissingExtraError, NetworkFileError
        As :func:`load_onnx`; also when the converted network does not reproduce the model's
        outputs at the probe.
    """
    path = Path(path)
    g = _read(path)
    net = _extract(g)
    x = probe_input(net.n_inputs)
    out = _evaluate(g, x[None, :], "auto")[0]
    _compare(g.name, net, x, out, _SELF_CHECK_RTOL)
    doc = net.to_json()
    doc["description"] = f"converted from {path.name} by netbound import"
    doc["probe"] = {"input": x.tolist(), "output": [float(v) for v in out]}
    return doc


def _compare(name: str, net: Network, x: FloatArray, expected: FloatArray, rtol: float) -> None:
    got = net.forward(x)
    if got.shape != expected.shape:
        raise NetworkFileError(
            f"{name}: the converted network has {got.size} outputs but the model computes "
            f"{expected.size} values; netbound cannot read this model"
        )
    scale = np.maximum(np.abs(got), np.abs(expected))
    bad = np.abs(got - expected) > rtol * np.maximum(scale, 1e-300)
    if np.any(bad):
        j = int(np.argmax(bad))
        raise NetworkFileError(
            f"{name}: the converted network gives {net.output_names[j]} = {float(got[j])!r} at "
            f"the probe input but the model gives {float(expected[j])!r}; netbound cannot read "
            "this model"
        )
