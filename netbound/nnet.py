"""Reading the Stanford NNet text format (Marabou, Reluplex, NNV, NeuralVerification.jl).

The file, after its ``//`` comment lines, holds comma-separated lines: the number of layers,
inputs, outputs and the largest layer size; the size of every layer (inputs first); an unused
flag; the inputs' minima and maxima; the means and ranges of the inputs and, last, of the
outputs; then per layer one line per unit of weights and one line per unit of bias.  The
network clips each input to ``[min, max]``, normalises it to ``(x - mean) / range``, applies
ReLU hidden layers and a linear output layer, and maps the outputs back by
``y * range + mean``.

netbound folds the normalisation into the first layer and the output map into the last, so
the :class:`Network` computes the file's function on the box of ``[min, max]``.  Outside it the
file's network is constant along an input (clipping) while the folded one is not: the box is
kept as ``Network.input_ranges``, the default search window.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from netbound.errors import NetworkFileError
from netbound.files import read_bytes
from netbound.network import FloatArray, Layer, Network

__all__ = ["load_nnet", "loads_nnet"]

#: Bounds at least this large in a file (exporters write huge numbers for "none") mean
#: the input is unbounded on that side.
UNBOUNDED = 1e300


class _Lines:
    """The data lines of a file, read one at a time with their line numbers."""

    def __init__(self, text: str, name: str) -> None:
        self.name = name
        self.rows = [
            (k, line.strip())
            for k, line in enumerate(text.splitlines(), start=1)
            if line.strip() and not line.lstrip().startswith("//")
        ]
        self.at = 0

    def numbers(self, count: int, what: str) -> FloatArray:
        if self.at >= len(self.rows):
            raise NetworkFileError(
                f"{self.name}: the file ends before {what}; expected {count} number(s) there"
            )
        lineno, line = self.rows[self.at]
        self.at += 1
        fields = [f.strip() for f in line.split(",")]
        if fields and fields[-1] == "":
            fields.pop()
        if len(fields) != count:
            raise NetworkFileError(
                f"{self.name}:{lineno}: {what} has {len(fields)} value(s); expected {count}"
            )
        out = np.empty(count)
        for i, f in enumerate(fields):
            try:
                out[i] = float(f)
            except ValueError:
                shown = f if len(f) <= 30 else f[:27] + "..."
                raise NetworkFileError(
                    f"{self.name}:{lineno}: {what}: {shown!r} is not a number"
                ) from None
            if math.isnan(out[i]):
                raise NetworkFileError(f"{self.name}:{lineno}: {what}: {f!r} is not a number")
        return out


def loads_nnet(text: str, name: str = "<nnet>") -> Network:
    """A :class:`Network` from the text of an NNet file (see the module's docstring).

    Raises
    ------
    NetworkFileError
        The text is not a valid NNet network; the message names the line.

    Examples
    --------
    >>> text = '''// a 2-1 network
    ... 1,2,1,2,
    ... 2,1,
    ... 0,
    ... -1,-1,
    ... 1,1,
    ... 0,0,0,
    ... 1,1,1,
    ... 2.0,3.0,
    ... 0.5,
    ... '''
    >>> net = loads_nnet(text)
    >>> net.forward([[1.0, 1.0]]).tolist(), net.input_ranges
    ([[5.5]], ((-1.0, 1.0), (-1.0, 1.0)))
    """
    lines = _Lines(text, name)
    head = lines.numbers(4, "the header line (layers, inputs, outputs, largest layer)")
    if not all(float(v).is_integer() and v >= 1 for v in head):
        raise NetworkFileError(
            f"{name}: the header line holds {head.tolist()}; expected four positive integers"
        )
    n_layers, n_in, n_out, _ = (int(v) for v in head)
    sizes_raw = lines.numbers(n_layers + 1, "the layer sizes")
    if not all(float(v).is_integer() and v >= 1 for v in sizes_raw):
        raise NetworkFileError(
            f"{name}: the layer sizes are {sizes_raw.tolist()}; expected positive integers"
        )
    sizes = [int(v) for v in sizes_raw]
    if sizes[0] != n_in or sizes[-1] != n_out:
        raise NetworkFileError(
            f"{name}: the layer sizes {sizes} do not start with the {n_in} inputs and end "
            f"with the {n_out} outputs of the header"
        )
    lines.at += 1  # the unused flag line
    mins = lines.numbers(n_in, "the input minima")
    maxs = lines.numbers(n_in, "the input maxima")
    means = lines.numbers(n_in + 1, "the means (inputs, then the output)")
    ranges = lines.numbers(n_in + 1, "the ranges (inputs, then the output)")
    for where, values in (("the means", means), ("the ranges", ranges)):
        if not np.all(np.isfinite(values)):
            raise NetworkFileError(f"{name}: {where} hold a value that is not finite")
    if np.any(ranges == 0.0):
        k = int(np.flatnonzero(ranges == 0.0)[0])
        what = f"input {k + 1}" if k < n_in else "the output"
        raise NetworkFileError(f"{name}: the range of {what} is 0; normalising divides by it")
    layers: list[Layer] = []
    for k in range(n_layers):
        rows = [
            lines.numbers(sizes[k], f"layer {k + 1} weight row {j + 1}")
            for j in range(sizes[k + 1])
        ]
        bias = [lines.numbers(1, f"layer {k + 1} bias {j + 1}")[0] for j in range(sizes[k + 1])]
        w, b = np.array(rows), np.array(bias)
        if not (np.all(np.isfinite(w)) and np.all(np.isfinite(b))):
            raise NetworkFileError(f"{name}: layer {k + 1} has a weight or bias that is not finite")
        layers.append(Layer(w, b, "relu" if k < n_layers - 1 else "identity"))
    if lines.at < len(lines.rows):
        lineno, _ = lines.rows[lines.at]
        raise NetworkFileError(
            f"{name}:{lineno}: unexpected data after the last layer's biases; the header "
            f"says {n_layers} layer(s)"
        )
    # (x - mean) / range feeds the first layer: fold it into its weights and biases.
    first = layers[0]
    scale = 1.0 / ranges[:n_in]
    w0 = first.weights * scale
    layers[0] = Layer(w0, first.biases - w0 @ means[:n_in], first.activation)
    # y * range + mean leaves the last layer.
    last = layers[-1]
    layers[-1] = Layer(
        last.weights * ranges[n_in], last.biases * ranges[n_in] + means[n_in], last.activation
    )
    lo = np.where(mins <= -UNBOUNDED, -np.inf, mins)
    hi = np.where(maxs >= UNBOUNDED, np.inf, maxs)
    if np.any(lo > hi):
        k = int(np.flatnonzero(lo > hi)[0])
        raise NetworkFileError(
            f"{name}: input {k + 1} has minimum {mins[k]!r} above its maximum {maxs[k]!r}"
        )
    return Network(
        tuple(layers),
        tuple(f"x{i + 1}" for i in range(n_in)),
        tuple(f"z{i + 1}" for i in range(n_out)),
        source=name,
        input_ranges=tuple((float(a), float(c)) for a, c in zip(lo, hi, strict=True)),
    )


def load_nnet(path: str | Path) -> Network:
    """Read an ``.nnet`` file (see :func:`loads_nnet`)."""
    p = Path(path)
    raw = read_bytes(p)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise NetworkFileError(f"{p}: not UTF-8 text; an NNet file is plain text") from None
    return loads_nnet(text, str(p))


def import_nnet_document(path: str | Path) -> dict[str, Any]:
    """The layered-JSON document of an NNet file, with a probe computed by the file's own
    arithmetic (clip, normalise, ReLU layers, denormalise) independently of the folding."""
    p = Path(path)
    net = load_nnet(p)
    raw = read_bytes(p).decode("utf-8-sig")
    x = _probe_point(net)
    doc = net.to_json()
    doc["description"] = f"converted from {p.name} by netbound import"
    doc["probe"] = {"input": x.tolist(), "output": evaluate_nnet(raw, x).tolist()}
    return doc


def _probe_point(net: Network) -> FloatArray:
    """A point inside the input box (its centre, nudged off symmetric values)."""
    assert net.input_ranges is not None
    out = []
    for k, (lo, hi) in enumerate(net.input_ranges):
        frac = 0.37 + 0.11 * (k % 5)
        if math.isfinite(lo) and math.isfinite(hi):
            out.append(lo + frac * (hi - lo))
        elif math.isfinite(lo):
            out.append(lo + frac)
        elif math.isfinite(hi):
            out.append(hi - frac)
        else:
            out.append(frac - 0.5)
    return np.array(out)


def evaluate_nnet(text: str, x: FloatArray) -> FloatArray:
    """The NNet file's network at ``x``, computed the file's own way (clipping included)."""
    rows = [
        [float(f) for f in line.strip().rstrip(",").split(",")]
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("//")
    ]
    n_layers, n_in = int(rows[0][0]), int(rows[0][1])
    sizes = [int(v) for v in rows[1]]
    mins, maxs, means, ranges = (np.array(r) for r in rows[3:7])
    v = (np.clip(x, mins, maxs) - means[:n_in]) / ranges[:n_in]
    at = 7
    for k in range(n_layers):
        w = np.array(rows[at : at + sizes[k + 1]])
        at += sizes[k + 1]
        b = np.array([r[0] for r in rows[at : at + sizes[k + 1]]])
        at += sizes[k + 1]
        v = w @ v + b
        if k < n_layers - 1:
            v = np.maximum(v, 0.0)
    out: FloatArray = v * ranges[n_in] + means[n_in]
    return out
