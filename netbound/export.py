"""Writing a network for other tools: the NNet text format and ONNX.

A boundary found by netbound can then be cross-checked in a verifier (Marabou, NNV and
NeuralVerification.jl read NNet; most tools read ONNX).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from netbound.errors import NetboundError, NetworkFileError
from netbound.network import FloatArray, Network

__all__ = ["export", "export_nnet", "export_onnx", "nnet_text", "onnx_model"]

#: What NNet writes for an input without a stated bound (readers take it as unbounded).
_NO_BOUND = 1.0e300
_ONNX_ACTIVATIONS = {
    "sigmoid": "Sigmoid",
    "tanh": "Tanh",
    "relu": "Relu",
    "leaky_relu": "LeakyRelu",
    "softplus": "Softplus",
    "softmax": "Softmax",
}


def _affine_relu_layers(net: Network) -> list[tuple[FloatArray, FloatArray]]:
    """The network as ReLU layers and a linear output, identity hidden layers folded into
    the next layer."""
    out: list[tuple[FloatArray, FloatArray]] = []
    pending: tuple[FloatArray, FloatArray] | None = None
    for k, layer in enumerate(net.layers):
        w, b = layer.weights, layer.biases
        if pending is not None:
            w, b = w @ pending[0], w @ pending[1] + b
            pending = None
        last = k == len(net.layers) - 1
        if last:
            if layer.activation != "identity":
                raise NetboundError(
                    f"NNet holds a linear output layer; this network's output is "
                    f"{layer.activation} (export it to .onnx instead)"
                )
            out.append((w, b))
        elif layer.activation == "identity":
            pending = (w, b)
        elif layer.activation == "relu":
            out.append((w, b))
        else:
            raise NetboundError(
                f"NNet holds ReLU hidden layers only; layer {k + 1} is {layer.activation} "
                "(export it to .onnx instead)"
            )
    return out


def _num(v: float) -> str:
    return repr(float(v))


def nnet_text(net: Network, comment: str | None = None) -> str:
    """The NNet text of a ReLU network with a linear output.

    The inputs' bounds are ``net.input_ranges`` (1e300 for none), the normalisation the
    identity (means 0, ranges 1), so that every reader computes the network as it is.

    Raises
    ------
    NetboundError
        A hidden layer is not ReLU or identity, or the output is not linear.
    """
    layers = _affine_relu_layers(net)
    sizes = [net.n_inputs] + [w.shape[0] for w, _ in layers]
    ranges = net.input_ranges or tuple((-math.inf, math.inf) for _ in range(net.n_inputs))
    mins = [max(lo, -_NO_BOUND) for lo, _ in ranges]
    maxs = [min(hi, _NO_BOUND) for _, hi in ranges]
    lines = [f"// {line}" for line in (comment or "written by netbound export").splitlines()]
    lines.append(f"// inputs: {', '.join(net.input_names)}; outputs: {', '.join(net.output_names)}")
    lines.append(f"{len(layers)},{net.n_inputs},{net.n_outputs},{max(sizes)},")
    lines.append(",".join(map(str, sizes)) + ",")
    lines.append("0,")
    lines.append(",".join(map(_num, mins)) + ",")
    lines.append(",".join(map(_num, maxs)) + ",")
    lines.append(",".join(["0.0"] * (net.n_inputs + 1)) + ",")
    lines.append(",".join(["1.0"] * (net.n_inputs + 1)) + ",")
    for w, b in layers:
        lines.extend(",".join(map(_num, row)) + "," for row in w)
        lines.extend(_num(v) + "," for v in b)
    return "\n".join(lines) + "\n"


def onnx_model(net: Network, dtype: str = "float64") -> Any:
    """An ONNX model of the network: one ``Gemm`` and one activation node per layer.

    The input ``x`` has shape ``[N, n_inputs]``, the output ``z`` ``[N, n_outputs]``;
    ``dtype`` is ``"float64"`` (the weights exactly) or ``"float32"`` (rounded).
    ONNX stores a LeakyRelu slope as a float32 attribute, so ``alpha`` is rounded to
    float32.  onnxruntime has no float64 kernel for ``LeakyRelu`` and ``Softplus``: a float64 model
    with them is valid ONNX that netbound reads back, but onnxruntime refuses to run it.

    Raises
    ------
    MissingExtraError
        The ``onnx`` package is not installed.
    """
    from netbound.onnx_import import _onnx

    onnx = _onnx("export")
    helper, numpy_helper = onnx.helper, onnx.numpy_helper
    if dtype not in ("float64", "float32"):
        raise ValueError(f"dtype={dtype!r}: expected 'float64' or 'float32'")
    elem = onnx.TensorProto.DOUBLE if dtype == "float64" else onnx.TensorProto.FLOAT
    nodes, inits = [], []
    value = "x"
    for k, layer in enumerate(net.layers):
        w = numpy_helper.from_array(layer.weights.astype(dtype), f"W{k}")
        b = numpy_helper.from_array(layer.biases.astype(dtype), f"B{k}")
        inits += [w, b]
        pre = f"pre{k}"
        nodes.append(helper.make_node("Gemm", [value, f"W{k}", f"B{k}"], [pre], transB=1))
        value = pre
        act = layer.activation
        if act == "identity":
            continue
        attrs: dict[str, Any] = {}
        if act == "leaky_relu":
            attrs["alpha"] = float(layer.alpha)
        if act == "softmax":
            attrs["axis"] = -1
        nodes.append(helper.make_node(_ONNX_ACTIVATIONS[act], [pre], [f"act{k}"], **attrs))
        value = f"act{k}"
    nodes.append(helper.make_node("Identity", [value], ["z"]))
    graph = helper.make_graph(
        nodes,
        "netbound_export",
        [helper.make_tensor_value_info("x", elem, ["N", net.n_inputs])],
        [helper.make_tensor_value_info("z", elem, ["N", net.n_outputs])],
        inits,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="netbound"
    )
    model.ir_version = 8
    return model


def export_nnet(net: Network, path: str | Path) -> None:
    """Write ``net`` as an NNet file (ReLU hidden layers, linear output)."""
    _write(Path(path), nnet_text(net).encode("utf-8"))


def export_onnx(net: Network, path: str | Path, dtype: str = "float64") -> None:
    """Write ``net`` as an ONNX model (any network netbound reads)."""
    _write(Path(path), onnx_model(net, dtype).SerializeToString())


def export(net: Network, path: str | Path, dtype: str = "float64") -> None:
    """Write ``net`` in the format named by the file's suffix: ``.nnet`` or ``.onnx``."""
    suffix = Path(path).suffix.lower()
    if suffix == ".nnet":
        export_nnet(net, path)
    elif suffix == ".onnx":
        export_onnx(net, path, dtype)
    else:
        shown = suffix or "(no suffix)"
        raise NetboundError(f"{path}: unknown format {shown}; give a .nnet or .onnx file")


def _write(path: Path, data: bytes) -> None:
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise NetworkFileError(f"{path}: cannot write ({exc.strerror})") from None
