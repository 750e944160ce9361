"""Reading ONNX models of feed-forward networks (the ``onnx`` extra).

A model is read in four steps.

1. **The network part.**  The graph is followed from its one input to its output, or to the
   last ``Sigmoid`` or ``Softmax`` when only label extraction follows it (scikit-learn's
   ``1 - p``, ``Concat``, ``ArgMax``, ``ZipMap``...): those do not move the decision boundary.
2. **Stages.**  Every value computed from the input belongs to a stage: the number of
   elementwise activations (Relu, Sigmoid, Tanh, LeakyRelu, Softplus, Softmax) on its path.
   Between two activations only affine operations may act on the data: Add, Sub, Mul and Div
   with a constant, MatMul, Gemm, Conv, BatchNormalization, the shape operations (Flatten,
   Reshape, Squeeze, Unsqueeze, Transpose) and Identity, Dropout, Cast.  Anything else, two
   activations on one stage (a branch) or a value combining two stages (a skip connection)
   is refused, naming the node.  Values that do not depend on the input (initializers, also
   when listed as graph inputs, ``Constant`` nodes, ``Shape`` of a static tensor) are
   computed once.
3. **Folding.**  Each affine run is one dense layer: its matrix is the run evaluated, by
   netbound's own op-by-op interpreter, on the unit vectors with every additive constant
   dropped (so a plain ``Gemm`` gives its weights exactly); its bias is the run at 0.
   The input may have any static shape (batch and singleton dimensions included): its
   features are its elements in C order, named x1..xn.
4. **Checking.**  The folded network is compared with the interpreter on the whole original
   graph at several points; a disagreement refuses the model.

The probe of an imported network is computed from the model itself: with onnxruntime on a
float64 copy of the graph when it can run it, else with the interpreter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from netbound.activations import sigmoid
from netbound.errors import MissingExtraError, NetworkFileError
from netbound.files import read_bytes
from netbound.network import FloatArray, Layer, Network

__all__ = [
    "SUPPORTED_OPS",
    "evaluate_onnx",
    "import_onnx_document",
    "load_onnx",
    "probe_input",
]

#: What the refusals say is supported.
SUPPORTED_OPS = (
    "Gemm, MatMul, Conv, BatchNormalization, Add, Sub, Mul and Div by constants, Sigmoid, "
    "Tanh, Relu, LeakyRelu, Softplus and Softmax (Identity, Dropout, Cast, Constant, Flatten, "
    "Reshape, Squeeze, Unsqueeze and Transpose pass through)"
)
_ACTIVATION_OPS = {
    "Sigmoid": "sigmoid",
    "Tanh": "tanh",
    "Relu": "relu",
    "LeakyRelu": "leaky_relu",
    "Softplus": "softplus",
    "Softmax": "softmax",
}
#: Affine operations on values computed from the input.
_AFFINE_OPS = frozenset(
    {
        "Add",
        "Sub",
        "Mul",
        "Div",
        "MatMul",
        "Gemm",
        "Conv",
        "BatchNormalization",
        "Flatten",
        "Reshape",
        "Squeeze",
        "Unsqueeze",
        "Transpose",
        "Identity",
        "Dropout",
        "Cast",
    }
)
#: Affine operations that are linear in exactly one operand (the rest must be constants).
_ONE_DATA_OPERAND = {"Mul": None, "Div": 0, "MatMul": None, "Gemm": None, "Conv": 0}
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
#: Relative agreement required between the folded network and the model's own graph.
_SELF_CHECK_RTOL = 1e-9
_SELF_CHECK_POINTS = 3
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
    input_shape: tuple[int, ...]
    input_elem: int
    end: str
    nodes: tuple[tuple[int, Any], ...]
    initializers: dict[str, np.ndarray[Any, Any]]
    opset: int

    @property
    def n_features(self) -> int:
        return int(np.prod(self.input_shape))


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
            for attr in nodes[i].attribute:
                if attr.type == onnx.AttributeProto.GRAPH:
                    raise _refuse_use(
                        _Graph(name, onnx, model, "", (), 0, end, (), {}, 1),
                        i,
                        nodes[i],
                        "holds a subgraph (control flow)",
                    )
    if data.name not in seen:
        raise NetworkFileError(
            f"{name}: the model's output {end!r} does not depend on its input {data.name!r}"
        )
    opset = next((int(o.version) for o in model.opset_import if o.domain in ("", "ai.onnx")), 1)
    kept = tuple((i, nodes[i]) for i in sorted(needed))
    elem = data.type.tensor_type.elem_type if data.type.HasField("tensor_type") else 1
    shape = _input_shape(name, data, kept, initializers)
    return _Graph(
        name=name,
        onnx=onnx,
        model=model,
        input_name=data.name,
        input_shape=shape,
        input_elem=int(elem),
        end=end,
        nodes=kept,
        initializers=initializers,
        opset=opset,
    )


def _input_shape(
    name: str, data: Any, nodes: tuple[tuple[int, Any], ...], inits: dict[str, Any]
) -> tuple[int, ...]:
    """The shape of one sample: symbolic (batch) dimensions become 1.

    A model that leaves the feature dimension open is read when its first operation on the
    input is a MatMul or Gemm with a constant weight matrix, whose rows say the width.
    """
    has_shape = data.type.HasField("tensor_type") and data.type.tensor_type.HasField("shape")
    dims = list(data.type.tensor_type.shape.dim) if has_shape else []
    shape: list[int | None] = [
        int(d.dim_value) if d.HasField("dim_value") and d.dim_value > 0 else None for d in dims
    ]
    if not has_shape:
        shape = [None, None]
    if shape and all(d is not None for d in shape[1:]) and (len(shape) > 1 or shape[0]):
        return tuple(1 if d is None else d for d in shape)
    width = None
    for _, node in nodes:
        if data.name in node.input and node.op_type in ("MatMul", "Gemm"):
            w = inits.get(node.input[1]) if len(node.input) > 1 else None
            if w is not None and w.ndim == 2:
                trans = any(a.name == "transB" and a.i for a in node.attribute)
                width = int(w.shape[1] if trans else w.shape[0])
            break
    if width is not None and len(shape) in (1, 2) and shape[-1] is None:
        return (width,) if len(shape) == 1 else (1, width)
    shown = ["?" if d is None else d for d in shape]
    raise NetworkFileError(
        f"{name}: the input {data.name!r} has shape {shown}; netbound needs a static shape "
        "(only the batch dimension may be left open)"
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


# --------------------------------------------------------------------------------------------
# The op-by-op interpreter (float64)


def _softmax(x: FloatArray, axis: int, opset: int) -> FloatArray:
    if opset >= 13:
        shifted = x - np.max(x, axis=axis, keepdims=True)
        e = np.exp(shifted)
        return np.asarray(e / np.sum(e, axis=axis, keepdims=True), dtype=np.float64)
    if axis < 0:
        axis += x.ndim
    flat = x.reshape(int(np.prod(x.shape[:axis])), -1)
    return _softmax(flat, 1, 13).reshape(x.shape)


def _axes(g: _Graph, node: Any, ins: list[Any], attrs: dict[str, Any]) -> list[int] | None:
    if len(ins) > 1 and ins[1] is not None:
        return [int(a) for a in np.asarray(ins[1]).reshape(-1)]
    if "axes" in attrs:
        return [int(a) for a in attrs["axes"]]
    return None


def _conv(x: FloatArray, w: FloatArray, b: FloatArray | None, attrs: dict[str, Any]) -> FloatArray:
    """ONNX Conv (N, C, spatial...) with groups, pads, strides, dilations and auto_pad."""
    nd = x.ndim - 2
    kernel = list(w.shape[2:])
    strides = list(attrs.get("strides", [1] * nd))
    dil = list(attrs.get("dilations", [1] * nd))
    group = int(attrs.get("group", 1))
    auto = attrs.get("auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else str(auto)
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        pads_begin, pads_end = [], []
        for d in range(nd):
            size = x.shape[2 + d]
            out = -(-size // strides[d])
            total = max(0, (out - 1) * strides[d] + (kernel[d] - 1) * dil[d] + 1 - size)
            small, large = total // 2, total - total // 2
            pads_begin.append(small if auto == "SAME_UPPER" else large)
            pads_end.append(large if auto == "SAME_UPPER" else small)
    elif auto == "VALID":
        pads_begin, pads_end = [0] * nd, [0] * nd
    else:
        pads = list(attrs.get("pads", [0] * (2 * nd)))
        pads_begin, pads_end = pads[:nd], pads[nd:]
    xp = np.pad(x, [(0, 0), (0, 0), *zip(pads_begin, pads_end, strict=True)])
    out_shape = [
        (xp.shape[2 + d] - (kernel[d] - 1) * dil[d] - 1) // strides[d] + 1 for d in range(nd)
    ]
    n, c = x.shape[:2]
    m = w.shape[0]
    cg, mg = c // group, m // group
    y = np.zeros((n, m, *out_shape))
    for offset in np.ndindex(*kernel):
        idx = tuple(
            slice(
                offset[d] * dil[d],
                offset[d] * dil[d] + (out_shape[d] - 1) * strides[d] + 1,
                strides[d],
            )
            for d in range(nd)
        )
        patch = xp[(slice(None), slice(None), *idx)]
        for gi in range(group):
            wk = w[gi * mg : (gi + 1) * mg, :, *offset]
            part = patch[:, gi * cg : (gi + 1) * cg]
            y[:, gi * mg : (gi + 1) * mg] += np.einsum("mc,nc...->nm...", wk, part)
    if b is not None:
        y += b.reshape(1, -1, *([1] * nd))
    return y


def _run_node(
    g: _Graph,
    index: int,
    node: Any,
    ins: list[np.ndarray[Any, Any] | None],
    data: list[bool] | None = None,
) -> np.ndarray[Any, Any]:
    """One node in float64 (see :func:`_compute`); numpy's shape errors name the node."""
    try:
        return _compute(g, index, node, ins, data)
    except (ValueError, IndexError, TypeError, KeyError):
        shapes = ", ".join("-" if v is None else "x".join(map(str, v.shape)) for v in ins)
        raise _refuse_use(
            g, index, node, f"cannot be computed on inputs of shapes {shapes} (they do not fit)"
        ) from None


def _compute(
    g: _Graph,
    index: int,
    node: Any,
    ins: list[np.ndarray[Any, Any] | None],
    data: list[bool] | None = None,
) -> np.ndarray[Any, Any]:
    """One node in float64.  With ``data`` (which inputs depend on the input), the linear
    part only: every term that does not depend on the input is dropped."""
    op = node.op_type
    attrs = _attrs(g, node)
    linear = data is not None
    if op == "Constant":
        return _constant_node(g, index, node)

    def arg(i: int) -> np.ndarray[Any, Any]:
        value = ins[i] if i < len(ins) else None
        if value is None:
            raise _refuse_use(g, index, node, f"has no input {i + 1}")
        return value

    def is_data(i: int) -> bool:
        return data is not None and i < len(data) and data[i]

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
        target = [int(s) for s in arg(1).reshape(-1)]
        if not int(attrs.get("allowzero", 0)):
            target = [a.shape[i] if s == 0 and i < a.ndim else s for i, s in enumerate(target)]
        return np.reshape(a, target)
    if op == "Transpose":
        perm = attrs.get("perm")
        return np.transpose(a, list(perm) if perm else None)
    if op == "Squeeze":
        axes = _axes(g, node, ins, attrs)
        return np.squeeze(a, axis=tuple(axes)) if axes is not None else np.squeeze(a)
    if op == "Unsqueeze":
        axes = _axes(g, node, ins, attrs) or []
        out = a
        rank = a.ndim + len(axes)
        for ax in sorted(ax + rank if ax < 0 else ax for ax in axes):
            out = np.expand_dims(out, ax)
        return out
    if op == "Shape":
        shape = np.array(a.shape, dtype=np.int64)
        start = int(attrs.get("start", 0))
        end = attrs.get("end")
        return shape[start : None if end is None else int(end)]
    if op in ("Add", "Sub"):
        b = arg(1)
        if linear:
            left = a if is_data(0) else np.zeros_like(a)
            right = b if is_data(1) else np.zeros_like(b)
            a, b = left, right
        return np.asarray(a + b if op == "Add" else a - b)
    if op == "Mul":
        return np.asarray(a * arg(1))
    if op == "Div":
        return np.asarray(a / arg(1))
    if op == "MatMul":
        return np.asarray(np.matmul(a, arg(1)))
    if op == "Gemm":
        left = a.T if int(attrs.get("transA", 0)) else a
        right = arg(1).T if int(attrs.get("transB", 0)) else arg(1)
        out = float(attrs.get("alpha", 1.0)) * (left @ right)
        if linear and not (is_data(0) or is_data(1)):
            out = np.zeros_like(out)
        c = ins[2] if len(ins) > 2 else None
        if c is not None and (not linear or is_data(2)):
            out = out + float(attrs.get("beta", 1.0)) * c
        return np.asarray(out)
    if op == "Conv":
        bias = ins[2] if len(ins) > 2 and not linear else None
        return _conv(a, arg(1), bias, attrs)
    if op == "BatchNormalization":
        scale, shift, mean, var = arg(1), arg(2), arg(3), arg(4)
        bn_shape = (1, -1) + (1,) * (a.ndim - 2)
        factor = scale / np.sqrt(var + float(attrs.get("epsilon", 1e-5)))
        if linear:
            return np.asarray(a * factor.reshape(bn_shape))
        return np.asarray(
            (a - mean.reshape(bn_shape)) * factor.reshape(bn_shape) + shift.reshape(bn_shape)
        )
    if op == "Sigmoid":
        return sigmoid(a)
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


def _run_constant(g: _Graph, index: int, node: Any, ins: list[Any]) -> np.ndarray[Any, Any]:
    """A node on constants only; ops the interpreter lacks go to onnx's reference."""
    try:
        return _run_node(g, index, node, ins)
    except NetworkFileError:
        pass
    try:
        from onnx.reference import ReferenceEvaluator

        helper = g.onnx.helper
        names = [f"in{k}" if v is not None else "" for k, v in enumerate(ins)]
        single = helper.make_node(node.op_type, names, list(node.output), domain=node.domain or "")
        single.attribute.extend(node.attribute)
        feeds = {n: v for n, v in zip(names, ins, strict=True) if v is not None and n}
        evaluator = ReferenceEvaluator(single)
        result: Any = evaluator.run(None, feeds)
        return np.asarray(result[0])
    except Exception:
        raise _refuse_op(g, index, node) from None


# --------------------------------------------------------------------------------------------
# Stages and folding


@dataclass
class _Plan:
    """What each node is: the stage of every value computed from the input, the activation
    nodes in order, and the constants."""

    stage: dict[str, int]
    activations: list[tuple[int, Any]]
    constants: dict[str, np.ndarray[Any, Any]]


def _plan(g: _Graph) -> _Plan:
    stage: dict[str, int] = {g.input_name: 0}
    activations: list[tuple[int, Any]] = []
    constant_names = set(g.initializers)
    for index, node in g.nodes:
        if node.domain not in ("", "ai.onnx"):
            raise _refuse_op(g, index, node)
        op = node.op_type
        present = [v for v in node.input if v]
        for v in present:
            if v not in stage and v not in constant_names:
                raise _refuse_use(g, index, node, f"uses {v!r}, which no earlier node computes")
        stages = {stage[v] for v in present if v in stage}
        if op == "Constant" or not stages or op == "Shape":
            constant_names.update(o for o in node.output if o)
            continue
        if len(stages) > 1:
            why = (
                "adds the outputs of two different layers (a skip connection), so the graph "
                "is not a chain of layers"
                if op in ("Add", "Sub")
                else "combines the outputs of two different layers, so the graph is not a "
                "chain of layers"
            )
            raise _refuse_use(g, index, node, why)
        k = stages.pop()
        if op in _ACTIVATION_OPS:
            if k != len(activations):
                raise _refuse_use(
                    g, index, node, "uses an earlier layer's output, so the graph branches"
                )
            if activations and activations[-1][1].op_type == "Softmax":
                raise _refuse_use(g, index, node, "follows a Softmax, allowed on the output only")
            activations.append((index, node))
            stage[node.output[0]] = k + 1
            continue
        if op not in _AFFINE_OPS:
            raise _refuse_op(g, index, node)
        data_args = [i for i, v in enumerate(node.input) if v and v in stage]
        if op in _ONE_DATA_OPERAND:
            want = _ONE_DATA_OPERAND[op]
            if op == "Gemm":
                data_args = [i for i in data_args if i < 2]
            if len(data_args) > 1:
                raise _refuse_use(
                    g,
                    index,
                    node,
                    "multiplies two values computed from the input, so it is not a layer",
                )
            if want is not None and data_args and data_args[0] != want:
                why = (
                    "divides by a value computed from the input"
                    if op == "Div"
                    else "takes a value computed from the input as its weights"
                )
                raise _refuse_use(g, index, node, why)
        elif op in ("BatchNormalization", "Reshape", "Squeeze", "Unsqueeze") and (data_args != [0]):
            raise _refuse_use(g, index, node, "takes a value computed from the input as a setting")
        if op == "Cast":
            to = _cast_dtype(g, int(_attrs(g, node)["to"]))
            if not np.issubdtype(to, np.floating):
                raise _refuse_use(g, index, node, f"casts values computed from the input to {to}")
        for out in node.output[:1]:
            if out:
                stage[out] = k
    if g.end not in stage:
        raise NetworkFileError(f"{g.name}: the model's output {g.end!r} is a constant")
    if stage[g.end] != len(activations):
        raise NetworkFileError(
            f"{g.name}: the model's output {g.end!r} skips the last layers; netbound reads "
            "feed-forward networks (a chain of layers)"
        )
    return _Plan(stage, activations, {})


def _interpret(g: _Graph, x: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Run the graph's network part in float64 on one sample ``x`` (the input's shape)."""
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
        if node.op_type in _ACTIVATION_OPS or node.op_type in _AFFINE_OPS:
            out = _run_node(g, index, node, ins)
        else:
            out = _run_constant(g, index, node, ins)
        env[node.output[0]] = np.asarray(out)
    return np.asarray(env[g.end], dtype=np.float64)


def _constants(g: _Graph, plan: _Plan) -> dict[str, np.ndarray[Any, Any]]:
    """Every value that does not depend on the input (Shape of a data value included),
    from one run of the whole graph at 0."""
    env: dict[str, np.ndarray[Any, Any]] = dict(g.initializers)
    env[g.input_name] = np.zeros(g.input_shape)
    for index, node in g.nodes:
        ins = [env[v] if v else None for v in node.input]
        if node.op_type in _ACTIVATION_OPS or node.op_type in _AFFINE_OPS:
            out = _run_node(g, index, node, ins)
        else:
            out = _run_constant(g, index, node, ins)
        env[node.output[0]] = np.asarray(out)
    return {k: v for k, v in env.items() if k not in plan.stage} | {
        f"shape:{k}": np.array(env[k].shape) for k in plan.stage
    }


def _run_stage(
    g: _Graph,
    plan: _Plan,
    consts: dict[str, np.ndarray[Any, Any]],
    k: int,
    start: str,
    target: str,
    points: FloatArray,
    linear: bool,
) -> FloatArray:
    """The value ``target`` (flattened) of stage ``k`` for each row of ``points`` fed in at
    ``start``: batched when the graph allows it, else point by point."""
    shape = tuple(int(d) for d in consts[f"shape:{start}"])
    want = tuple(int(d) for d in consts[f"shape:{target}"])
    nodes = [
        (i, n)
        for i, n in g.nodes
        if n.output and plan.stage.get(n.output[0]) == k and n.op_type not in _ACTIVATION_OPS
    ]

    def run(x: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        env = dict(consts)
        env[start] = x
        for index, node in nodes:
            ins = [env.get(v) if v else None for v in node.input]
            data = [bool(v) and v in plan.stage for v in node.input] if linear else None
            env[node.output[0]] = np.asarray(_run_node(g, index, node, ins, data))
        return env[target]

    count = points.shape[0]
    if target == start:
        return points.copy()
    if shape and shape[0] == 1 and want and want[0] == 1 and count > 1:
        try:
            with np.errstate(all="ignore"):
                out = run(points.reshape(count, *shape[1:]))
            if out.shape == (count, *want[1:]):
                return np.asarray(out, dtype=np.float64).reshape(count, -1)
        except Exception:  # a shape fixed to one sample: run point by point below
            pass
    rows = [np.asarray(run(p.reshape(shape)), dtype=np.float64).reshape(-1) for p in points]
    return np.stack(rows)


def _extract(g: _Graph) -> Network:
    plan = _plan(g)
    consts = _constants(g, plan)
    layers: list[Layer] = []
    start = g.input_name
    ends = [n.input[0] for _, n in plan.activations] + [g.end]
    for k, target in enumerate(ends):
        if k == len(plan.activations) and target == start and layers:
            break  # the network ends at its last activation
        n = int(np.prod(consts[f"shape:{start}"]))
        zero = _run_stage(g, plan, consts, k, start, target, np.zeros((1, n)), False)[0]
        matrix = _run_stage(g, plan, consts, k, start, target, np.eye(n), True)
        weights = np.ascontiguousarray(matrix.T)
        if k < len(plan.activations):
            index, node = plan.activations[k]
            act, alpha = _activation(g, index, node, consts, target)
            layers.append(Layer(weights, zero.copy(), act, alpha))
            start = node.output[0]
        else:
            layers.append(Layer(weights, zero.copy(), "identity"))
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


def _activation(
    g: _Graph, index: int, node: Any, consts: dict[str, Any], value: str
) -> tuple[str, float]:
    act = _ACTIVATION_OPS[node.op_type]
    alpha = 0.01
    if act == "leaky_relu":
        # a float32 attribute, widened exactly like the weights (0.1 is 0.10000000149011612)
        alpha = float(_attrs(g, node).get("alpha", 0.01))
        if alpha < 0.0 or not math.isfinite(alpha):
            raise _refuse_use(g, index, node, f"has slope alpha={alpha}; netbound needs alpha >= 0")
    if act == "softmax":
        shape = [int(d) for d in consts[f"shape:{value}"]]
        default = -1 if g.opset >= 13 else 1
        axis = int(_attrs(g, node).get("axis", default))
        axis = axis + len(shape) if axis < 0 else axis
        # opset 13 normalises along one axis, earlier opsets over all axes from ``axis`` on.
        rest = [d for i, d in enumerate(shape) if i != axis] if g.opset >= 13 else shape[:axis]
        if (
            not 0 <= axis < len(shape)
            or any(d != 1 for d in rest)
            or (axis == 0 and len(shape) > 1)
        ):
            raise _refuse_use(g, index, node, "normalizes over another axis than the features")
    return act, alpha


# --------------------------------------------------------------------------------------------
# Evaluating the model itself (for the probe and the check), independent of the folding


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
    graph = onnx.helper.make_graph(
        nodes,
        "netbound_probe",
        [onnx.helper.make_tensor_value_info(g.input_name, tp.DOUBLE, list(g.input_shape))],
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
        outs = [
            np.asarray(session.run(None, {g.input_name: r.reshape(g.input_shape)})[0], np.float64)
            for r in x
        ]
    except Exception:
        return None
    return np.stack([o.reshape(-1) for o in outs])


def _evaluate(
    g: _Graph, x: FloatArray, engine: Literal["auto", "onnxruntime", "numpy"]
) -> FloatArray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != g.n_features:
        raise ValueError(
            f"expected a batch of inputs of shape (batch, {g.n_features}), got {x.shape}"
        )
    if engine != "numpy":
        out = _evaluate_onnxruntime(g, x)
        if out is not None:
            return out.reshape(len(x), -1)
        if engine == "onnxruntime":
            raise RuntimeError(f"{g.name}: onnxruntime cannot run the model in float64")
    with np.errstate(all="ignore"):
        return np.stack([_interpret(g, row.reshape(g.input_shape)).reshape(-1) for row in x])


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


def _check_points(n: int) -> FloatArray:
    rng = np.random.default_rng(20260)
    return np.vstack([probe_input(n)[None, :], rng.normal(0.0, 1.5, (_SELF_CHECK_POINTS - 1, n))])


def _converted(g: _Graph) -> Network:
    """The folded network, checked against the interpreter at several points."""
    net = _extract(g)
    if net.n_inputs != g.n_features:
        raise NetworkFileError(
            f"{g.name}: the converted network has {net.n_inputs} inputs but the model's input "
            f"has {g.n_features} elements; netbound cannot read this model"
        )
    x = _check_points(net.n_inputs)
    expected = _evaluate(g, x, "numpy")
    for row, want in zip(x, expected, strict=True):
        _compare(g.name, net, row, want, _SELF_CHECK_RTOL)
    return net


def load_onnx(path: Path) -> Network:
    """Convert an ONNX model of a feed-forward network into a :class:`Network`.

    Parameters
    ----------
    path
        The ``.onnx`` file.

    Returns
    -------
    Network
        Inputs ``x1..xn`` (the input tensor's elements in C order), outputs ``z1..zm`` in
        the model's output order. A model ending in a one-unit Sigmoid (scikit-learn's
        binary ``MLPClassifier``) becomes a single-output sigmoid network; anything after
        the last Sigmoid or Softmax that only extracts labels is dropped.

    Raises
    ------
    MissingExtraError
        The ``onnx`` package is not installed.
    NetworkFileError
        The file is unreadable or not a feed-forward network; the message names the file
        and, for an unsupported operation, its type and node.
    """
    return _converted(_read(Path(path)))


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
        Inputs, shape ``(batch, n_inputs)``: each row is one input tensor's elements in C
        order.
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


def import_onnx_document(path: Path) -> dict[str, Any]:
    """The layered-JSON document of an ONNX model, with a probe computed from the model.

    Parameters
    ----------
    path
        The ``.onnx`` file.

    Returns
    -------
    dict
        The document ``netbound import MODEL.onnx -o NET.json`` writes; its description
        names the model's input and its shape.

    Raises
    ------
    MissingExtraError, NetworkFileError
        As :func:`load_onnx`; also when the converted network does not reproduce the model's
        outputs at the probe.
    """
    path = Path(path)
    g = _read(path)
    net = _converted(g)
    x = probe_input(net.n_inputs)
    out = _evaluate(g, x[None, :], "auto")[0]
    _compare(g.name, net, x, out, _SELF_CHECK_RTOL)
    doc = net.to_json()
    shape = "x".join(str(d) for d in g.input_shape)
    doc["description"] = (
        f"converted from {path.name} by netbound import; input {g.input_name!r} of shape "
        f"{shape}, features in C order"
    )
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
    slack = 1e-12 * float(np.max(scale, initial=0.0))
    bad = np.abs(got - expected) > rtol * np.maximum(scale, 1e-300) + slack
    if np.any(bad):
        j = int(np.argmax(bad))
        raise NetworkFileError(
            f"{name}: the converted network gives {net.output_names[j]} = {float(got[j])!r} at "
            f"the probe input but the model gives {float(expected[j])!r}; netbound cannot read "
            "this model"
        )
