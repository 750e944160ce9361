"""Reading network files: the layered JSON, the seed's named-edge JSON and ONNX.

Every problem is a :class:`~netbound.errors.NetworkFileError` whose message names the file,
the place in it and what to do.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from netbound.activations import ACTIVATIONS
from netbound.errors import NetworkError, NetworkFileError, ProbeMismatchError
from netbound.files import read_bytes
from netbound.network import FloatArray, Layer, Network

PROBE_RTOL = 1e-6
# At most 9 digits: int() refuses strings of thousands of digits with a ValueError.
_EDGE = re.compile(r"^\s*([xyz])(\d{1,9})\s*(?:->|→)\s*([xyz])(\d{1,9})\s*$")
_UNIT = re.compile(r"^\s*([xyz])(\d{1,9})\s*$")


def load(path: str | Path) -> Network:
    """Load a network from a layered JSON, named-edge JSON, ONNX or NNet file.

    Parameters
    ----------
    path
        The file; ``.onnx`` files need the ``onnx`` extra.

    Raises
    ------
    NetworkFileError
        The file is missing, unreadable or not a valid network; the message says where.
    """
    name = str(path)
    p = Path(path)
    if p.suffix.lower() == ".onnx":
        from netbound.onnx_import import load_onnx

        return load_onnx(p)
    if p.suffix.lower() == ".nnet":
        from netbound.nnet import load_nnet

        return load_nnet(p)
    return loads(read_bytes(p), name)


def loads(raw: bytes | str | dict[str, Any], name: str = "<string>") -> Network:
    """Parse a network from the text of a JSON network file, or from its parsed document.

    ``name`` is used in messages.  Duplicate keys in an object are refused: JSON readers
    disagree on which of them wins.

    Examples
    --------
    >>> loads('{"layers": [{"weights": [[1, 2]], "biases": [0], "activation": "tanh"}]}')
    Network(2-1 tanh, inputs x1,x2, outputs z1)
    """
    if isinstance(raw, dict):
        return network_from_json(raw, name)
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise NetworkFileError(
                f"{name}: not UTF-8 text (byte {exc.start}); a network file is JSON text"
            ) from None
    elif isinstance(raw, str):
        text = raw
    else:
        raise TypeError(
            f"loads takes the JSON text (str or bytes) or its parsed dict, not "
            f"{type(raw).__name__}; call netbound.load(path) to read a file"
        )
    if not text.strip():
        raise NetworkFileError(f"{name}: the file is empty; expected a JSON network")
    try:
        doc = json.loads(text, parse_constant=_NonFinite, object_pairs_hook=_unique_keys)
    except _DuplicateKey as exc:
        raise NetworkFileError(
            f"{name}: the key {_quoted(exc.args[0])} appears twice in one object; "
            "JSON readers disagree on which one counts, so keep only one"
        ) from None
    except json.JSONDecodeError as exc:
        raise NetworkFileError(
            f"{name}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    except RecursionError:
        raise NetworkFileError(f"{name}: not valid JSON (nested too deeply)") from None
    except ValueError:  # int() refuses integers longer than sys.get_int_max_str_digits()
        raise NetworkFileError(
            f"{name}: an integer in the file has thousands of digits, far too large for a float; "
            "expected finite numbers"
        ) from None
    return network_from_json(doc, name)


class _DuplicateKey(Exception):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


class _NonFinite:
    """A NaN or Infinity token of the JSON text, kept so that the message can name its place."""

    def __init__(self, token: str) -> None:
        self.token = token

    def __repr__(self) -> str:
        return self.token


def network_from_json(doc: Any, name: str) -> Network:
    """Build a network from a parsed JSON document of either format."""
    if not isinstance(doc, dict):
        raise NetworkFileError(
            f"{name}: the top level is {_kind(doc)}; expected an object with 'layers' "
            "(layered format) or 'weights' and 'biases' (named-edge format)"
        )
    try:
        if "layers" in doc:
            return _layered(doc, name)
        if isinstance(doc.get("weights"), dict) or isinstance(doc.get("biases"), dict):
            return _named_edges(doc, name)
    except NetworkError as exc:
        if isinstance(exc, NetworkFileError):
            raise
        raise NetworkFileError(f"{name}: {exc}") from None
    raise NetworkFileError(
        f"{name}: no 'layers' list and no 'weights' object; expected the layered format "
        '("layers": [...]) or the named-edge format ("weights": {"x1->y1": ...})'
    )


def _quoted(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({json.dumps(value)})"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"a string ({json.dumps(shown)})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return f"{value!r}"


def _number(value: Any, name: str, where: str) -> float:
    if isinstance(value, _NonFinite):
        raise NetworkFileError(
            f"{name}: {where} is {value.token}; expected a finite number (JSON has no NaN or "
            "Infinity; write every weight as a finite number)"
        )
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise NetworkFileError(f"{name}: {where} is {_kind(value)}; expected a finite number")
    try:
        out = float(value)
    except OverflowError:
        raise NetworkFileError(
            f"{name}: {where} is too large for a float; expected a finite number"
        ) from None
    if not math.isfinite(out):
        raise NetworkFileError(f"{name}: {where} is {out}; expected a finite number")
    return out


def _vector(value: Any, name: str, where: str) -> FloatArray:
    if not isinstance(value, list):
        raise NetworkFileError(f"{name}: {where} is {_kind(value)}; expected a list of numbers")
    return np.array([_number(v, name, f"{where}[{i}]") for i, v in enumerate(value)], dtype=float)


def _matrix(value: Any, name: str, where: str) -> FloatArray:
    if not isinstance(value, list) or not value:
        what = "an empty list" if value == [] else _kind(value)
        raise NetworkFileError(
            f"{name}: {where} is {what}; expected a non-empty list of rows of numbers"
        )
    rows = [_vector(row, name, f"{where}[{i}]") for i, row in enumerate(value)]
    width = len(rows[0])
    if width == 0:
        raise NetworkFileError(f"{name}: {where}[0] is empty; every row needs at least one weight")
    for i, row in enumerate(rows):
        if len(row) != width:
            raise NetworkFileError(
                f"{name}: {where}[{i}] has {len(row)} entries but {where}[0] has {width}; "
                "every row of a weight matrix has the same length"
            )
    return np.array(rows, dtype=float)


def _names(value: Any, name: str, field: str, count: int, prefix: str) -> tuple[str, ...]:
    if value is None:
        return tuple(f"{prefix}{i + 1}" for i in range(count))
    if not isinstance(value, list):
        raise NetworkFileError(f"{name}: '{field}' is {_kind(value)}; expected a list of names")
    for i, v in enumerate(value):
        if not isinstance(v, str):
            raise NetworkFileError(
                f"{name}: {field}[{i}] is {_kind(v)}; expected a name (a string)"
            )
        if not v.strip():
            raise NetworkFileError(f"{name}: {field}[{i}] is empty; give every {field[:-1]} a name")
    if len(value) != count:
        raise NetworkFileError(
            f"{name}: '{field}' has {len(value)} names but the network has {count} "
            f"{field}; give one name per {field[:-1]}"
        )
    seen: set[str] = set()
    for v in value:
        if v in seen:
            raise NetworkFileError(
                f"{name}: {field[:-1]} name {json.dumps(v)} appears twice; names must be unique"
            )
        seen.add(v)
    return tuple(value)


def _layered(doc: dict[str, Any], name: str) -> Network:
    known = {
        "netbound",
        "inputs",
        "outputs",
        "input_ranges",
        "layers",
        "layout",
        "probe",
        "name",
        "description",
    }
    for key in doc:
        if key not in known:
            raise NetworkFileError(
                f"{name}: unknown top-level field {json.dumps(key)}; "
                f"the layered format has {', '.join(sorted(known))}"
            )
    version = doc.get("netbound", 1)
    if version != 1 or isinstance(version, bool):
        raise NetworkFileError(
            f"{name}: 'netbound' is {_kind(version)}; this netbound reads format version 1"
        )
    top_layout = _layout(doc.get("layout", "out_in"), name, "layout")
    raw_layers = doc["layers"]
    if not isinstance(raw_layers, list) or not raw_layers:
        what = "an empty list" if raw_layers == [] else _kind(raw_layers)
        raise NetworkFileError(f"{name}: 'layers' is {what}; expected a non-empty list of layers")
    layers: list[Layer] = []
    for k, raw in enumerate(raw_layers):
        where = f"layers[{k}]"
        if not isinstance(raw, dict):
            raise NetworkFileError(
                f"{name}: {where} is {_kind(raw)}; expected an object with "
                "'weights', 'biases' and 'activation'"
            )
        for key in raw:
            if key not in ("weights", "biases", "activation", "alpha", "layout"):
                raise NetworkFileError(
                    f"{name}: {where} has unknown field {json.dumps(key)}; a layer has "
                    "weights, biases, activation, alpha (leaky_relu) and layout"
                )
        for key in ("weights", "biases", "activation"):
            if key not in raw:
                raise NetworkFileError(f"{name}: {where} has no '{key}'")
        weights = _matrix(raw["weights"], name, f"{where}.weights")
        in_out = _layout(raw.get("layout", top_layout), name, f"{where}.layout") == "in_out"
        if in_out:
            weights = weights.T.copy()
        biases = _vector(raw["biases"], name, f"{where}.biases")
        act = raw["activation"]
        if not isinstance(act, str) or act not in ACTIVATIONS:
            raise NetworkFileError(
                f"{name}: {where}.activation is {_kind(act)}; expected one of "
                f"{', '.join(ACTIVATIONS)}"
            )
        if act == "softmax" and k != len(raw_layers) - 1:
            raise NetworkFileError(
                f'{name}: {where}.activation is "softmax", allowed on the last layer only'
            )
        alpha = 0.01
        if "alpha" in raw:
            alpha = _number(raw["alpha"], name, f"{where}.alpha")
            if alpha < 0.0:
                raise NetworkFileError(
                    f"{name}: {where}.alpha is {alpha}; a leaky_relu slope must be >= 0"
                )
        n_out = weights.shape[0]
        if len(biases) != n_out:
            if in_out:  # the file holds the matrix in x out: one column per unit
                shape = f'{n_out} columns (one per unit, in x out as "layout" is "in_out")'
                hint = ' or set "layout": "out_in"'
            else:
                shape = f"{n_out} rows (one per unit, out x in)"
                hint = ' or set "layout": "in_out"'
            raise NetworkFileError(
                f"{name}: {where}.biases has {len(biases)} entries but {where}.weights has "
                f"{shape}; give one bias per unit"
                + (hint if len(biases) == weights.shape[1] else "")
            )
        if layers and weights.shape[1] != layers[-1].n_out:
            if in_out:
                raise NetworkFileError(
                    f"{name}: {where}.weights has {weights.shape[1]} rows but "
                    f'layers[{k - 1}] has {layers[-1].n_out} units; with "layout": "in_out" '
                    "there is one row per unit of the previous layer (in x out)"
                )
            raise NetworkFileError(
                f"{name}: {where}.weights rows have {weights.shape[1]} entries but "
                f"layers[{k - 1}] has {layers[-1].n_out} units; each row holds one weight "
                'per unit of the previous layer (out x in, or set "layout": "in_out")'
            )
        layers.append(Layer(weights, biases, act, alpha))
    inputs = _names(doc.get("inputs"), name, "inputs", layers[0].n_in, "x")
    outputs = _names(doc.get("outputs"), name, "outputs", layers[-1].n_out, "z")
    ranges = _input_ranges(doc.get("input_ranges"), name, layers[0].n_in)
    net = Network(tuple(layers), inputs, outputs, source=name, input_ranges=ranges)
    if "probe" in doc:
        _check_probe(net, doc["probe"], name)
    return net


def _input_ranges(value: Any, name: str, n_inputs: int) -> tuple[tuple[float, float], ...] | None:
    """The optional ``input_ranges``: one ``[min, max]`` per input (null ends: unbounded)."""
    if value is None:
        return None
    if not isinstance(value, list) or len(value) != n_inputs:
        raise NetworkFileError(
            f"{name}: input_ranges is {_kind(value)}; expected a list of {n_inputs} "
            "[min, max] pairs, one per input"
        )
    out = []
    for i, pair in enumerate(value):
        where = f"input_ranges[{i}]"
        if not isinstance(pair, list) or len(pair) != 2:
            raise NetworkFileError(f"{name}: {where} is {_kind(pair)}; expected [min, max]")
        lo = -math.inf if pair[0] is None else _number(pair[0], name, f"{where}[0]")
        hi = math.inf if pair[1] is None else _number(pair[1], name, f"{where}[1]")
        if not lo <= hi:
            raise NetworkFileError(f"{name}: {where} is [{lo!r}, {hi!r}]; expected min <= max")
        out.append((lo, hi))
    return tuple(out)


def _layout(value: Any, name: str, where: str) -> str:
    if value not in ("out_in", "in_out"):
        raise NetworkFileError(
            f'{name}: {where} is {_kind(value)}; expected "out_in" (PyTorch) or '
            '"in_out" (scikit-learn, Keras)'
        )
    return str(value)


def _check_probe(net: Network, probe: Any, name: str) -> None:
    if not isinstance(probe, dict):
        raise NetworkFileError(
            f'{name}: \'probe\' is {_kind(probe)}; expected {{"input": [...], "output": [...]}}'
        )
    for key in ("input", "output"):
        if key not in probe:
            raise NetworkFileError(
                f"{name}: 'probe' has no '{key}'; expected {{\"input\": [...], \"output\": [...]}}"
            )
    x = _vector(probe["input"], name, "probe.input")
    y = _vector(probe["output"], name, "probe.output")
    if len(x) != net.n_inputs:
        raise NetworkFileError(
            f"{name}: probe.input has {len(x)} values but the network has {net.n_inputs} inputs"
        )
    if len(y) != net.n_outputs:
        raise NetworkFileError(
            f"{name}: probe.output has {len(y)} values but the network has {net.n_outputs} outputs"
        )
    got = net.forward(x)
    scale = np.maximum(np.abs(y), 1e-300)
    # probe.output is finite, so an infinite or NaN output (overflowing weights) is a mismatch;
    # without the isfinite, the tolerance below would be infinite or the comparison False.
    bad = ~(np.isfinite(got) & (np.abs(got - y) <= PROBE_RTOL * np.maximum(scale, np.abs(got))))
    if np.any(bad):
        j = int(np.argmax(bad))
        raise ProbeMismatchError(
            f"{name}: probe mismatch: output {net.output_names[j]} is {float(got[j])!r} for "
            f"probe.input but probe.output says {float(y[j])!r}; the weights are probably "
            'transposed or in another order (check "layout")'
        )


def _named_edges(doc: dict[str, Any], name: str) -> Network:
    for key in doc:
        if key not in ("weights", "biases"):
            raise NetworkFileError(
                f"{name}: unknown top-level field {json.dumps(key)}; the named-edge format "
                "has 'weights' and 'biases'"
            )
    for key in ("weights", "biases"):
        if key not in doc:
            example = '{"x1->y1": 0.5}' if key == "weights" else '{"y1": 0.1}'
            raise NetworkFileError(
                f"{name}: no '{key}'; the named-edge format needs an object like {example}"
            )
    weights = doc.get("weights")
    biases = doc.get("biases")
    if not isinstance(weights, dict):
        raise NetworkFileError(
            f"{name}: 'weights' is {_kind(weights)}; expected an object like {{\"x1->y1\": 0.5}}"
        )
    if not isinstance(biases, dict):
        raise NetworkFileError(
            f"{name}: 'biases' is {_kind(biases)}; expected an object like {{\"y1\": 0.1}}"
        )
    edges: dict[tuple[str, int, str, int], float] = {}
    edge_keys: dict[tuple[str, int, str, int], str] = {}
    for key, value in weights.items():
        m = _EDGE.match(key)
        if m is None or (m.group(1), m.group(3)) not in (("x", "y"), ("y", "z")):
            raise NetworkFileError(
                f'{name}: weights key {json.dumps(key)} is not an edge; write "xI->yJ" or '
                '"yI->zJ" (inputs x, hidden units y, outputs z, numbered from 1)'
            )
        a, i, b, j = m.group(1), int(m.group(2)), m.group(3), int(m.group(4))
        if i < 1 or j < 1:
            raise NetworkFileError(f"{name}: weights key {json.dumps(key)}: units count from 1")
        if (a, i, b, j) in edges:
            raise NetworkFileError(
                f"{name}: weights keys {_quoted(edge_keys[(a, i, b, j)])} and "
                f"{_quoted(key)} name the same edge; keep only one"
            )
        edges[(a, i, b, j)] = _number(value, name, f"weights[{json.dumps(key)}]")
        edge_keys[(a, i, b, j)] = key
    units: dict[tuple[str, int], float] = {}
    unit_keys: dict[tuple[str, int], str] = {}
    for key, value in biases.items():
        m = _UNIT.match(key)
        if m is None or m.group(1) == "x" or int(m.group(2)) < 1:
            raise NetworkFileError(
                f'{name}: biases key {json.dumps(key)} is not a unit; write "yJ" (hidden) '
                'or "zJ" (output), numbered from 1'
            )
        unit = (m.group(1), int(m.group(2)))
        if unit in units:
            raise NetworkFileError(
                f"{name}: biases keys {_quoted(unit_keys[unit])} and {_quoted(key)} name "
                "the same unit; keep only one"
            )
        units[unit] = _number(value, name, f"biases[{json.dumps(key)}]")
        unit_keys[unit] = key
    # The biases define the hidden and output units, the edges the inputs: an edge to a unit
    # without a bias names a unit that does not exist (a typo such as "x1->y9").
    n = {
        "x": max([i for a, i, _b, _j in edges if a == "x"] + [0]),
        "y": max([i for u, i in units if u == "y"] + [0]),
        "z": max([i for u, i in units if u == "z"] + [0]),
    }
    for (a, i, b, j), key in edge_keys.items():
        for letter, index in ((a, i), (b, j)):
            if letter != "x" and index > n[letter]:
                before = "x" if letter == "y" else "y"
                incoming = sum(1 for e in edges if e[2] == letter and e[3] == index)
                if n[letter] == 0 or (n[before] > 0 and incoming == n[before]):
                    first = next(k for k in range(1, index + 1) if (letter, k) not in units)
                    raise NetworkFileError(
                        f'{name}: missing bias "{letter}{first}"; every hidden and output unit '
                        "needs a bias (write 0 for none)"
                    )
                raise NetworkFileError(
                    f"{name}: weights key {_quoted(key)} names unknown unit {letter}{index}; "
                    f"the biases define {letter}1..{letter}{n[letter]} (add a bias for "
                    f"{letter}{index} or remove the edge)"
                )
    for letter, what in (("x", "inputs"), ("y", "hidden units"), ("z", "outputs")):
        if n[letter] == 0:
            raise NetworkFileError(f"{name}: no {what} ({letter}1, {letter}2, ...) in the file")
    # Check completeness before allocating: a key like "x99999999999->y1" must give a
    # "missing weight" message, not a MemoryError.  Among any len(edges) + 1 distinct keys one
    # is missing, so these loops stop early when the file is incomplete.
    for src, dst in (("x", "y"), ("y", "z")):
        for i in range(1, n[src] + 1):
            for j in range(1, n[dst] + 1):
                if (src, i, dst, j) not in edges:
                    raise NetworkFileError(
                        f'{name}: missing weight "{src}{i}->{dst}{j}"; every edge between '
                        "consecutive layers needs a weight (write 0 for none)"
                    )
    for letter in "yz":
        for j in range(1, n[letter] + 1):
            if (letter, j) not in units:
                raise NetworkFileError(
                    f'{name}: missing bias "{letter}{j}"; every hidden and output unit needs '
                    "a bias (write 0 for none)"
                )
    w1 = np.zeros((n["y"], n["x"]))
    w2 = np.zeros((n["z"], n["y"]))
    for (a, i, _b, j), value in edges.items():
        (w1 if a == "x" else w2)[j - 1, i - 1] = value
    b1 = np.array([units[("y", j)] for j in range(1, n["y"] + 1)], dtype=float)
    b2 = np.array([units[("z", j)] for j in range(1, n["z"] + 1)], dtype=float)
    layers = (Layer(w1, b1, "sigmoid"), Layer(w2, b2, "sigmoid"))
    return Network(
        layers,
        tuple(f"x{i + 1}" for i in range(n["x"])),
        tuple(f"z{i + 1}" for i in range(n["z"])),
        source=name,
    )
