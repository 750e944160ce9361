"""Import and ``along`` time for a 784-128-10 ReLU MLP (MNIST-sized), from ONNX and NNet.

Builds the model with onnx.helper (float32 weights, input [1, 1, 28, 28] flattened by a
Reshape, as exporters write it), then times ``netbound.load`` and ``netbound.along`` between
two random images, and checks the changes against a dense grid of 10^5 points.

    python benchmarks/bench_along.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from onnx import TensorProto, helper, numpy_helper

import netbound
from netbound.export import export_nnet


def model(seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    w1 = rng.normal(0.0, 1.0 / 28.0, (784, 128)).astype(np.float32)
    b1 = rng.normal(0.0, 0.1, 128).astype(np.float32)
    w2 = rng.normal(0.0, 1.0 / np.sqrt(128), (128, 10)).astype(np.float32)
    b2 = rng.normal(0.0, 0.1, 10).astype(np.float32)
    nodes = [
        helper.make_node("Reshape", ["image", "shape"], ["flat"]),
        helper.make_node("Gemm", ["flat", "w1", "b1"], ["h"]),
        helper.make_node("Relu", ["h"], ["r"]),
        helper.make_node("Gemm", ["r", "w2", "b2"], ["logits"]),
    ]
    inits = [
        numpy_helper.from_array(v, k)
        for k, v in {
            "shape": np.array([1, 784], np.int64),
            "w1": w1,
            "b1": b1,
            "w2": w2,
            "b2": b2,
        }.items()
    ]
    graph = helper.make_graph(
        nodes,
        "mlp",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 1, 28, 28])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 10])],
        inits,
    )
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return bytes(m.SerializeToString())


def best(f, repeat: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as d:
        onnx_path = Path(d) / "mlp.onnx"
        onnx_path.write_bytes(model())
        net = netbound.load(onnx_path)
        nnet_path = Path(d) / "mlp.nnet"
        export_nnet(net, nnet_path)
        t_onnx = best(lambda: netbound.load(onnx_path), args.repeat)
        t_nnet = best(lambda: netbound.load(nnet_path), args.repeat)
        rng = np.random.default_rng(1)
        while True:  # two "images" the network classifies differently
            a, b = rng.normal(0.0, 3.0, (2, 784))
            if np.argmax(net.forward(a)) != np.argmax(net.forward(b)):
                break
        result = netbound.along(net, a, b)
        t_along = best(lambda: netbound.along(net, a, b), args.repeat)
        t_line = best(lambda: netbound.along(net, a, b, line=True), args.repeat)
        ts = np.linspace(0.0, 1.0, 100001)
        cls = np.argmax(net.forward(a + ts[:, None] * (b - a)), axis=1)
        grid = int(np.count_nonzero(cls[1:] != cls[:-1]))
    print(f"import ONNX 784-128-10:  {t_onnx * 1e3:8.1f} ms")
    print(f"import NNet 784-128-10:  {t_nnet * 1e3:8.1f} ms")
    print(
        f"along segment:           {t_along * 1e3:8.1f} ms  ({len(result.changes)} changes, "
        f"complete={result.complete}; grid of 1e5 points sees {grid})"
    )
    print(f"along whole line:        {t_line * 1e3:8.1f} ms")


if __name__ == "__main__":
    main()
