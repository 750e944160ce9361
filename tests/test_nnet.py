"""The NNet format (reader, exporter) and an ACAS-like stand-in read from NNet and from a
4-D-input ONNX, solved with --argmin and checked against an independent grid bisection."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner, Result
from numpy.testing import assert_allclose

import netbound
from netbound.cli import main
from netbound.errors import NetboundError, NetworkFileError
from netbound.export import nnet_text
from netbound.nnet import loads_nnet

ENV: dict[str, str | None] = {"COLUMNS": "200", "NO_COLOR": "1"}


def run(*args: str) -> Result:
    return CliRunner(env=ENV).invoke(main, list(args), prog_name="netbound")


def ok(*args: str) -> Result:
    result = run(*args)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result


# -- the stand-in: 5 inputs, 50-50 ReLU, 5 scores; its own arithmetic --------------------------


class Acas:
    """A 5-50-50-5 ReLU network with input normalisation and an output affine map."""

    def __init__(self, seed: int = 5) -> None:
        rng = np.random.default_rng(seed)
        sizes = [5, 50, 50, 5]
        self.w = [rng.normal(0.0, 1.0 / np.sqrt(a), (b, a)) for a, b in itertools.pairwise(sizes)]
        self.b = [rng.normal(0.0, 0.3, b) for b in sizes[1:]]
        self.mins = np.array([0.0, -3.14, -3.14, 100.0, 0.0])
        self.maxs = np.array([60000.0, 3.14, 3.14, 1200.0, 1200.0])
        self.means = np.array([19791.0, 0.0, 0.0, 650.0, 600.0, 7.5])
        self.ranges = np.array([60261.0, 6.28, 6.28, 1100.0, 1200.0, 373.9])

    def scores(self, x: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """The NNet semantics: clip, normalise, ReLU layers, linear output, denormalise."""
        v = (np.clip(x, self.mins, self.maxs) - self.means[:5]) / self.ranges[:5]
        for k, (w, b) in enumerate(zip(self.w, self.b, strict=True)):
            v = v @ w.T + b
            if k < len(self.w) - 1:
                v = np.maximum(v, 0.0)
        return v * self.ranges[5] + self.means[5]

    def nnet(self) -> str:
        def row(values: Any) -> str:
            return ",".join(repr(float(v)) for v in values) + ","

        lines = ["// ACAS-like stand-in, random weights", "// written by the test"]
        lines += ["3,5,5,50,", "5,50,50,5,", "0,", row(self.mins), row(self.maxs)]
        lines += [row(self.means), row(self.ranges)]
        for w, b in zip(self.w, self.b, strict=True):
            lines += [row(r) for r in w]
            lines += [row([v]) for v in b]
        return "\n".join(lines) + "\n"

    def onnx(self) -> Any:
        """[1, 1, 1, 5] input, a Sub node normalising, initializers listed as graph inputs."""
        onnx = pytest.importorskip("onnx")
        from onnx import TensorProto, helper, numpy_helper

        inits = {
            "mean": self.means[:5].reshape(1, 1, 1, 5),
            "range": self.ranges[:5].reshape(1, 1, 1, 5),
            "shape": np.array([1, 5], np.int64),
            "out_range": np.array([self.ranges[5]]),
            "out_mean": np.array([self.means[5]]),
        }
        nodes = [
            helper.make_node("Sub", ["x", "mean"], ["centred"], "normalise"),
            helper.make_node("Div", ["centred", "range"], ["scaled"]),
            helper.make_node("Reshape", ["scaled", "shape"], ["h0"]),
        ]
        for k, (w, b) in enumerate(zip(self.w, self.b, strict=True)):
            inits[f"W{k}"], inits[f"B{k}"] = w.T.copy(), b
            nodes.append(helper.make_node("MatMul", [f"h{k}", f"W{k}"], [f"m{k}"]))
            nodes.append(helper.make_node("Add", [f"m{k}", f"B{k}"], [f"a{k}"]))
            if k < len(self.w) - 1:
                nodes.append(helper.make_node("Relu", [f"a{k}"], [f"h{k + 1}"]))
        nodes.append(helper.make_node("Mul", ["a2", "out_range"], ["scaled_out"]))
        nodes.append(helper.make_node("Add", ["scaled_out", "out_mean"], ["y"]))
        tensors = [numpy_helper.from_array(np.asarray(v), k) for k, v in inits.items()]
        inputs = [helper.make_tensor_value_info("x", TensorProto.DOUBLE, [1, 1, 1, 5])]
        inputs += [
            helper.make_tensor_value_info(
                t.name, TensorProto.INT64 if t.name == "shape" else TensorProto.DOUBLE, t.dims
            )
            for t in tensors
        ]
        graph = helper.make_graph(
            nodes,
            "acas",
            inputs,
            [helper.make_tensor_value_info("y", TensorProto.DOUBLE, [1, 5])],
            tensors,
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
        model.ir_version = 7
        onnx.checker.check_model(model)
        return model


def grid_changes(
    acas: Acas, axis: int, base: np.ndarray[Any, Any], lo: float, hi: float
) -> list[tuple[float, int, int]]:
    """Where the lowest score changes along ``base + t e_axis``: a dense grid, each change
    bisected to the float resolution (independent of netbound)."""

    def cls(t: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        x = np.tile(base, (t.size, 1))
        x[:, axis] = t
        return np.argmin(acas.scores(x), axis=1)

    ts = np.linspace(lo, hi, 200001)
    c = cls(ts)
    out = []
    for i in np.flatnonzero(c[1:] != c[:-1]):
        a, b = ts[i], ts[i + 1]
        ca = c[i]
        for _ in range(200):
            m = 0.5 * (a + b)
            if m in (a, b):
                break
            if cls(np.array([m]))[0] == ca:
                a = m
            else:
                b = m
        out.append((0.5 * (a + b), int(ca), int(c[i + 1])))
    return out


@pytest.fixture(scope="module")
def acas() -> Acas:
    return Acas()


@pytest.fixture(scope="module")
def acas_files(acas: Acas, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("acas")
    nnet = d / "acas.nnet"
    nnet.write_text(acas.nnet(), encoding="utf-8")
    model = d / "acas.onnx"
    model.write_bytes(acas.onnx().SerializeToString())
    return nnet, model


def test_reader_folds_normalisation_and_output_map(acas: Acas, acas_files: Any) -> None:
    net = netbound.load(acas_files[0])
    rng = np.random.default_rng(0)
    x = rng.uniform(acas.mins, acas.maxs, (200, 5))
    assert_allclose(net.forward(x), acas.scores(x), rtol=1e-10, atol=1e-9)
    assert net.input_ranges == tuple(zip(acas.mins.tolist(), acas.maxs.tolist(), strict=True))
    assert [layer.activation for layer in net.layers] == ["relu", "relu", "identity"]


def test_onnx_with_4d_input_and_sub_node_matches(acas: Acas, acas_files: Any) -> None:
    ort = pytest.importorskip("onnxruntime")
    net = netbound.load(acas_files[1])
    assert net.n_inputs == 5
    rng = np.random.default_rng(1)
    x = rng.uniform(acas.mins, acas.maxs, (50, 5))
    session = ort.InferenceSession(str(acas_files[1]), providers=["CPUExecutionProvider"])
    want = np.stack([session.run(None, {"x": r.reshape(1, 1, 1, 5)})[0][0] for r in x])
    assert_allclose(net.forward(x), want, rtol=1e-12, atol=1e-10)


@pytest.mark.parametrize("which", ["nnet", "onnx"])
@pytest.mark.parametrize(
    ("solve_for", "sweep", "value", "at"),
    [
        ("x2", "x1", 20000.0, {"x3": 0.4, "x4": 500.0, "x5": 700.0}),
        ("x3", "x2", -1.0, {"x1": 5000.0, "x4": 900.0, "x5": 300.0}),
    ],
)
def test_argmin_matches_grid_bisection(
    acas: Acas,
    acas_files: Any,
    which: str,
    solve_for: str,
    sweep: str,
    value: float,
    at: dict[str, float],
) -> None:
    path = acas_files[0] if which == "nnet" else acas_files[1]
    axis = int(solve_for[1:]) - 1
    lo, hi = float(acas.mins[axis]), float(acas.maxs[axis])
    args = ["solve", str(path), "--argmin", "--solve-for", solve_for, "--sweep", sweep]
    args += ["--x2", repr(value), "--format", "json"]
    args += [item for k, v in at.items() for item in ("--at", f"{k}={v}")]
    if which == "onnx":
        args += ["--x1-range", repr(lo), repr(hi)]
    doc = json.loads(ok(*args).stdout)
    assert doc["x1_range"] == [lo, hi]  # an NNet input's [min, max] is the default window
    assert (doc["solve_for"], doc["sweep"], doc["decision"]) == (solve_for, sweep, "argmin")
    (result,) = doc["results"]
    assert result["complete"]
    base = np.zeros(5)
    base[int(sweep[1:]) - 1] = value
    for k, v in at.items():
        base[int(k[1:]) - 1] = v
    want = grid_changes(acas, axis, base, lo, hi)
    assert want, "the line should cross the decision boundary"
    got = [(r[solve_for], r["from"], r["to"]) for r in result["roots"]]
    assert len(got) == len(want)
    for (t, a, b), (u, ca, cb) in zip(got, want, strict=True):
        assert abs(t - u) <= 1e-9 * max(1.0, abs(u))
        assert (a, b) == (f"z{ca + 1}", f"z{cb + 1}")


def test_import_nnet_writes_ranges_and_a_probe(acas: Acas, acas_files: Any, tmp_path: Path) -> None:
    out = tmp_path / "acas.json"
    result = ok("import", str(acas_files[0]), "-o", str(out))
    assert result.stderr == f"wrote {out}: 5 inputs -> 50 relu -> 50 relu -> 5 identity\n"
    doc = json.loads(out.read_text())
    assert doc["input_ranges"] == [[lo, hi] for lo, hi in zip(acas.mins, acas.maxs, strict=True)]
    assert_allclose(
        doc["probe"]["output"], acas.scores(np.array(doc["probe"]["input"])), rtol=1e-12
    )
    net = netbound.load(out)
    assert net.input_ranges == netbound.load(acas_files[0]).input_ranges


def test_export_nnet_round_trip_through_the_reader(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    net = netbound.Network.from_layers(
        [
            (rng.normal(size=(6, 3)), rng.normal(size=6), "relu"),
            (rng.normal(size=(4, 6)), rng.normal(size=4), "identity"),  # folded into the next
            (rng.normal(size=(2, 4)), rng.normal(size=2), "identity"),
        ]
    )
    path = tmp_path / "net.nnet"
    ok("export", _write(net, tmp_path / "net.json"), "-o", str(path))
    back = netbound.load(path)
    x = rng.normal(0.0, 5.0, (100, 3))
    assert_allclose(back.forward(x), net.forward(x), rtol=1e-12, atol=1e-12)
    assert back.input_ranges == ((-np.inf, np.inf),) * 3
    assert [layer.activation for layer in back.layers] == ["relu", "identity"]


def test_export_onnx_round_trip_through_onnxruntime_and_the_importer(tmp_path: Path) -> None:
    ort = pytest.importorskip("onnxruntime")
    rng = np.random.default_rng(6)
    for act in ("sigmoid", "tanh", "relu", "leaky_relu", "softplus"):
        net = netbound.Network.from_layers(
            [
                (rng.normal(size=(5, 3)), rng.normal(size=5), act),
                (rng.normal(size=(3, 5)), rng.normal(size=3), "softmax"),
            ]
        )
        x = rng.normal(size=(20, 3))
        path = tmp_path / f"{act}.onnx"
        ok("export", _write(net, tmp_path / f"{act}.json"), "-o", str(path))
        back = netbound.load(path)
        if act == "leaky_relu":  # ONNX holds the slope as a float32 attribute
            assert back.layers[0].alpha == float(np.float32(net.layers[0].alpha))
            first = net.layers[0]
            net = netbound.Network(
                (
                    netbound.Layer(first.weights, first.biases, act, back.layers[0].alpha),
                    *net.layers[1:],
                ),
                net.input_names,
                net.output_names,
            )
        assert_allclose(back.forward(x), net.forward(x), rtol=1e-13)
        # onnxruntime has float64 kernels for these; float32 for the others
        dtype = "float64" if act in ("sigmoid", "tanh", "relu") else "float32"
        if dtype == "float32":
            ok("export", str(tmp_path / f"{act}.json"), "-o", str(path), "--dtype", "float32")
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        got = session.run(None, {"x": x.astype(dtype)})[0]
        assert_allclose(got, net.forward(x), rtol=1e-12 if dtype == "float64" else 2e-5, atol=1e-7)


def _write(net: netbound.Network, path: Path) -> str:
    path.write_text(json.dumps(net.to_json()), encoding="utf-8")
    return str(path)


def test_export_refusals(tmp_path: Path) -> None:
    tanh = netbound.Network.from_layers(
        [([[1.0, 2.0]], [0.0], "tanh"), ([[1.0]], [0.0], "identity")]
    )
    with pytest.raises(
        NetboundError, match=r"^NNet holds ReLU hidden layers only; layer 1 is tanh"
    ):
        nnet_text(tanh)
    result = run("export", _write(tanh, tmp_path / "t.json"), "-o", str(tmp_path / "t.nnet"))
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: NNet holds ReLU hidden layers only; layer 1 is tanh (export it to .onnx instead)\n"
    )
    result = run("export", str(tmp_path / "t.json"), "-o", str(tmp_path / "t.txt"))
    assert result.stderr == (
        f"Error: {tmp_path / 't.txt'}: unknown format .txt; give a .nnet or .onnx file\n"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "",
            "<nnet>: the file ends before the header line (layers, inputs, outputs, largest "
            "layer); expected 4 number(s) there",
        ),
        (
            "// c\n1,2,1\n",
            "<nnet>:2: the header line (layers, inputs, outputs, largest layer) has 3 value(s); "
            "expected 4",
        ),
        (
            "1,2,1,2,\n2,1,\n0,\n-1,-1,\n1,1,\n0,0,0,\n1,0,1,\n",
            "<nnet>: the range of input 2 is 0; normalising divides by it",
        ),
        (
            "1,2,1,2,\n2,1,\n0,\n-1,-1,\n1,1,\n0,0,0,\n1,1,1,\n1,abc,\n0,\n",
            "<nnet>:8: layer 1 weight row 1: 'abc' is not a number",
        ),
        (
            "1,2,1,2,\n3,1,\n",
            "<nnet>: the layer sizes [3, 1] do not start with the 2 inputs and end with the 1 "
            "outputs of the header",
        ),
        (
            "1,2,1,2,\n2,1,\n0,\n-1,-1,\n1,1,\n0,0,0,\n1,1,1,\n1,2,\n0,\n7,\n",
            "<nnet>:10: unexpected data after the last layer's biases; the header says 1 layer(s)",
        ),
    ],
)
def test_reader_refusals_name_the_line(text: str, message: str) -> None:
    with pytest.raises(NetworkFileError) as info:
        loads_nnet(text)
    assert str(info.value) == message
