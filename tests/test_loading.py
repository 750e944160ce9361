"""The network-file loaders (README, "Network files"): every validation message, both formats, fuzz.

Every message is asserted verbatim: users read these, scripts may grep them, and a message that
changes by accident is a contract change.
"""

from __future__ import annotations

import copy
import itertools
import json
import math
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import netbound
from netbound import (
    NetboundError,
    Network,
    NetworkFileError,
    ProbeMismatchError,
    load,
    loads,
)
from netbound.loading import network_from_json

NON_FINITE_TOKEN = (
    "; expected a finite number (JSON has no NaN or Infinity; "
    "write every weight as a finite number)"
)
NAME = "net.json"

Doc = dict[str, Any]

# The layered example of the README (2 inputs, 3 sigmoid hidden units, 2 sigmoid outputs).
W1 = [[0.5, -1.2], [1.0, 0.3], [-0.7, 2.0]]
B1 = [0.1, -0.2, 0.05]
W2 = [[1.0, -2.0, 0.5], [-1.0, 1.5, 0.2]]
B2 = [0.0, 0.3]


def seed_doc() -> Doc:
    return {
        "netbound": 1,
        "inputs": ["x1", "x2"],
        "outputs": ["z1", "z2"],
        "layers": [
            {"weights": copy.deepcopy(W1), "biases": list(B1), "activation": "sigmoid"},
            {"weights": copy.deepcopy(W2), "biases": list(B2), "activation": "sigmoid"},
        ],
    }


def edge_doc() -> Doc:
    """The same network in the seed's named-edge format."""
    weights: dict[str, float] = {}
    for j, row in enumerate(W1):
        for i, w in enumerate(row):
            weights[f"x{i + 1}->y{j + 1}"] = w
    for j, row in enumerate(W2):
        for i, w in enumerate(row):
            weights[f"y{i + 1}->z{j + 1}"] = w
    biases = {f"y{j + 1}": b for j, b in enumerate(B1)} | {f"z{j + 1}": b for j, b in enumerate(B2)}
    return {"weights": weights, "biases": biases}


def load_doc(doc: Any) -> Network:
    return loads(json.dumps(doc), NAME)


def message(doc: Any) -> str:
    """The message of the NetworkFileError raised for ``doc``, without the file name."""
    with pytest.raises(NetworkFileError) as info:
        load_doc(doc)
    text = str(info.value)
    assert text.startswith(f"{NAME}: ")
    return text[len(NAME) + 2 :]


def sigmoid(u: float) -> float:
    return 1.0 / (1.0 + math.exp(-u)) if u >= 0 else math.exp(u) / (1.0 + math.exp(u))


def seed_forward(x1: float, x2: float) -> list[float]:
    hidden = [sigmoid(w[0] * x1 + w[1] * x2 + b) for w, b in zip(W1, B1, strict=True)]
    return [
        sigmoid(sum(w * h for w, h in zip(row, hidden, strict=True)) + b)
        for row, b in zip(W2, B2, strict=True)
    ]


# --------------------------------------------------------------------------- document editing


Path_ = tuple[str | int, ...]


def _parent(doc: Any, path: Path_) -> Any:
    node = doc
    for key in path[:-1]:
        node = node[key]
    return node


def setting(path: Path_, value: Any) -> Callable[[Doc], Doc]:
    def edit(doc: Doc) -> Doc:
        _parent(doc, path)[path[-1]] = value
        return doc

    return edit


def deleting(path: Path_) -> Callable[[Doc], Doc]:
    def edit(doc: Doc) -> Doc:
        del _parent(doc, path)[path[-1]]
        return doc

    return edit


def both(*edits: Callable[[Doc], Doc]) -> Callable[[Doc], Doc]:
    def edit(doc: Doc) -> Doc:
        for e in edits:
            doc = e(doc)
        return doc

    return edit


# --------------------------------------------------------------------------- the raw text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(
            "{not json",
            "not valid JSON (line 1, column 2: Expecting property name enclosed in double quotes)",
            id="not-json",
        ),
        pytest.param(
            '{"layers": [1, 2}',
            "not valid JSON (line 1, column 17: Expecting ',' delimiter)",
            id="bad-bracket",
        ),
        pytest.param(
            '{\n  "layers": []\n}\n{}',
            "not valid JSON (line 4, column 1: Extra data)",
            id="extra-data-line-4",
        ),
        pytest.param(
            "weights: [1, 2]",
            "not valid JSON (line 1, column 1: Expecting value)",
            id="yaml-ish",
        ),
        pytest.param(b"", "the file is empty; expected a JSON network", id="empty-bytes"),
        pytest.param("", "the file is empty; expected a JSON network", id="empty-str"),
        pytest.param(
            b" \n\t\r\n  ", "the file is empty; expected a JSON network", id="whitespace-only"
        ),
        pytest.param(
            b"\xef\xbb\xbf", "the file is empty; expected a JSON network", id="utf8-bom-only"
        ),
        pytest.param(
            b'{"layers": \xff}',
            "not UTF-8 text (byte 11); a network file is JSON text",
            id="not-utf8",
        ),
        pytest.param(
            '{"weights": {"x1->y1": \xe9}}'.encode("latin-1"),
            "not UTF-8 text (byte 23); a network file is JSON text",
            id="latin-1",
        ),
        pytest.param(
            '{"layers": []}'.encode("utf-16"),
            "not UTF-8 text (byte 0); a network file is JSON text",
            id="utf-16",
        ),
        pytest.param(
            '{"layers": [{"weights": [[NaN]], "biases": [0], "activation": "relu"}]}',
            "layers[0].weights[0][0] is NaN" + NON_FINITE_TOKEN,
            id="NaN-token",
        ),
        pytest.param(
            '{"layers": [{"weights": [[1, Infinity]], "biases": [0], "activation": "relu"}]}',
            "layers[0].weights[0][1] is Infinity" + NON_FINITE_TOKEN,
            id="Infinity-token",
        ),
        pytest.param(
            '{"weights": {"x1->y1": -Infinity}, "biases": {}}',
            'weights["x1->y1"] is -Infinity' + NON_FINITE_TOKEN,
            id="minus-Infinity-token",
        ),
        pytest.param(
            '{"layers": [{"weights": [[1e400]], "biases": [0], "activation": "relu"}]}',
            "layers[0].weights[0][0] is inf; expected a finite number",
            id="float-literal-overflows",
        ),
        pytest.param(
            '{"layers": [{"weights": [[1]], "biases": [-2e308], "activation": "relu"}]}',
            "layers[0].biases[0] is -inf; expected a finite number",
            id="negative-float-literal-overflows",
        ),
        pytest.param(
            '{"layers": [{"weights": [[1, 1' + "0" * 400 + ']], "biases": [0], '
            '"activation": "relu"}]}',
            "layers[0].weights[0][1] is too large for a float; expected a finite number",
            id="huge-int-overflows-float",
        ),
        pytest.param(
            '{"layers": [{"weights": [[1' + "0" * 5000 + ']], "biases": [0], '
            '"activation": "relu"}]}',
            "an integer in the file has thousands of digits, far too large for a float; "
            "expected finite numbers",
            id="int-beyond-pythons-digit-limit",
        ),
        pytest.param("[" * 100_000, "not valid JSON (nested too deeply)", id="nested-too-deeply"),
        pytest.param(
            "\ufeff{}",
            "not valid JSON (line 1, column 1: Unexpected UTF-8 BOM (decode using utf-8-sig))",
            id="bom-in-str",
        ),
    ],
)
def test_text_messages(raw: str | bytes, expected: str) -> None:
    with pytest.raises(NetworkFileError) as info:
        loads(raw, NAME)
    assert str(info.value) == f"{NAME}: {expected}"


def test_default_name_in_messages() -> None:
    with pytest.raises(NetworkFileError, match=re.escape("<string>: the file is empty")):
        loads("")


def test_bytes_and_str_and_bom_load_alike() -> None:
    text = json.dumps(seed_doc())
    nets = [
        loads(text, NAME),
        loads(text.encode(), NAME),
        loads(b"\xef\xbb\xbf" + text.encode(), NAME),
        loads("\n\n  " + text + "\n", NAME),
    ]
    for net in nets:
        assert net.layers[0].weights.tolist() == W1
        assert net.source == NAME


# --------------------------------------------------------------------------- the top level

TOP_LEVEL = (
    "expected an object with 'layers' (layered format) or 'weights' and 'biases' "
    "(named-edge format)"
)


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        pytest.param([1, 2], f"the top level is a list; {TOP_LEVEL}", id="list"),
        pytest.param("net", f'the top level is a string ("net"); {TOP_LEVEL}', id="string"),
        pytest.param(3, f"the top level is 3; {TOP_LEVEL}", id="int"),
        pytest.param(2.5, f"the top level is 2.5; {TOP_LEVEL}", id="float"),
        pytest.param(None, f"the top level is null; {TOP_LEVEL}", id="null"),
        pytest.param(True, f"the top level is a boolean (true); {TOP_LEVEL}", id="bool"),
        pytest.param(
            {},
            "no 'layers' list and no 'weights' object; expected the layered format "
            '("layers": [...]) or the named-edge format ("weights": {"x1->y1": ...})',
            id="empty-object",
        ),
        pytest.param(
            {"weights": [[1.0]], "biases": [0.0]},
            "no 'layers' list and no 'weights' object; expected the layered format "
            '("layers": [...]) or the named-edge format ("weights": {"x1->y1": ...})',
            id="layer-without-layers-list",
        ),
    ],
)
def test_top_level_messages(doc: Any, expected: str) -> None:
    assert message(doc) == expected


# --------------------------------------------------------------------------- layered format

ACTS = "sigmoid, tanh, relu, leaky_relu, softplus, identity, softmax"
NUMBER = "expected a finite number"
LAYER_OBJECT = "expected an object with 'weights', 'biases' and 'activation'"
ROWS = "expected a non-empty list of rows of numbers"
LAYOUT = 'expected "out_in" (PyTorch) or "in_out" (scikit-learn, Keras)'
TOP_FIELDS = "description, input_ranges, inputs, layers, layout, name, netbound, outputs, probe"
LAYER_FIELDS = "a layer has weights, biases, activation, alpha (leaky_relu) and layout"
PREV = "each row holds one weight per unit of the previous layer"


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        # the 'layers' list
        pytest.param(
            setting(("layers",), []),
            "'layers' is an empty list; expected a non-empty list of layers",
            id="empty-layers",
        ),
        pytest.param(
            setting(("layers",), {"weights": W1}),
            "'layers' is an object; expected a non-empty list of layers",
            id="layers-object",
        ),
        pytest.param(
            setting(("layers",), None),
            "'layers' is null; expected a non-empty list of layers",
            id="layers-null",
        ),
        pytest.param(
            setting(("layers", 1), 5),
            f"layers[1] is 5; {LAYER_OBJECT}",
            id="layer-int",
        ),
        pytest.param(
            setting(("layers", 0), [[1.0, 2.0]]),
            f"layers[0] is a list; {LAYER_OBJECT}",
            id="layer-list",
        ),
        pytest.param(
            setting(("layers", 0), "dense"),
            f'layers[0] is a string ("dense"); {LAYER_OBJECT}',
            id="layer-string",
        ),
        # missing and unknown fields
        pytest.param(deleting(("layers", 0, "weights")), "layers[0] has no 'weights'", id="no-w"),
        pytest.param(deleting(("layers", 1, "biases")), "layers[1] has no 'biases'", id="no-b"),
        pytest.param(
            deleting(("layers", 1, "activation")), "layers[1] has no 'activation'", id="no-act"
        ),
        pytest.param(
            setting(("layers", 0, "bias"), [0.0, 0.0, 0.0]),
            f'layers[0] has unknown field "bias"; {LAYER_FIELDS}',
            id="unknown-layer-field",
        ),
        pytest.param(
            setting(("layers", 1, "Activation"), "sigmoid"),
            f'layers[1] has unknown field "Activation"; {LAYER_FIELDS}',
            id="unknown-layer-field-case",
        ),
        pytest.param(
            setting(("weights",), {"x1->y1": 1.0}),
            f'unknown top-level field "weights"; the layered format has {TOP_FIELDS}',
            id="unknown-top-field-mixed-formats",
        ),
        pytest.param(
            setting(("input",), ["a", "b"]),
            f'unknown top-level field "input"; the layered format has {TOP_FIELDS}',
            id="unknown-top-field-typo",
        ),
        # format version
        pytest.param(
            setting(("netbound",), 2),
            "'netbound' is 2; this netbound reads format version 1",
            id="version-2",
        ),
        pytest.param(
            setting(("netbound",), "1"),
            "'netbound' is a string (\"1\"); this netbound reads format version 1",
            id="version-string",
        ),
        pytest.param(
            setting(("netbound",), True),
            "'netbound' is a boolean (true); this netbound reads format version 1",
            id="version-true",
        ),
        # weight matrices
        pytest.param(
            setting(("layers", 0, "weights"), []),
            f"layers[0].weights is an empty list; {ROWS}",
            id="weights-empty",
        ),
        pytest.param(
            setting(("layers", 0, "weights"), 0.5),
            f"layers[0].weights is 0.5; {ROWS}",
            id="weights-number",
        ),
        pytest.param(
            setting(("layers", 0, "weights"), {"x1": [1.0]}),
            f"layers[0].weights is an object; {ROWS}",
            id="weights-object",
        ),
        pytest.param(
            setting(("layers", 0, "weights"), [0.5, -1.2]),
            "layers[0].weights[0] is 0.5; expected a list of numbers",
            id="weights-flat",
        ),
        pytest.param(
            setting(("layers", 0, "weights"), [[], []]),
            "layers[0].weights[0] is empty; every row needs at least one weight",
            id="weights-empty-rows",
        ),
        pytest.param(
            setting(("layers", 0, "weights", 1), [1.0]),
            "layers[0].weights[1] has 1 entries but layers[0].weights[0] has 2; "
            "every row of a weight matrix has the same length",
            id="ragged-short",
        ),
        pytest.param(
            setting(("layers", 1, "weights", 1), [1.0, 2.0, 3.0, 4.0]),
            "layers[1].weights[1] has 4 entries but layers[1].weights[0] has 3; "
            "every row of a weight matrix has the same length",
            id="ragged-long",
        ),
        pytest.param(
            setting(("layers", 0, "weights", 2), []),
            "layers[0].weights[2] has 0 entries but layers[0].weights[0] has 2; "
            "every row of a weight matrix has the same length",
            id="ragged-empty-row",
        ),
        # non-numeric entries, named by their place
        pytest.param(
            setting(("layers", 1, "weights", 0, 2), "0.5"),
            f'layers[1].weights[0][2] is a string ("0.5"); {NUMBER}',
            id="weight-string",
        ),
        pytest.param(
            setting(("layers", 1, "weights", 0, 2), True),
            f"layers[1].weights[0][2] is a boolean (true); {NUMBER}",
            id="weight-true",
        ),
        pytest.param(
            setting(("layers", 1, "weights", 0, 2), False),
            f"layers[1].weights[0][2] is a boolean (false); {NUMBER}",
            id="weight-false",
        ),
        pytest.param(
            setting(("layers", 1, "weights", 0, 2), None),
            f"layers[1].weights[0][2] is null; {NUMBER}",
            id="weight-null",
        ),
        pytest.param(
            setting(("layers", 1, "weights", 0, 2), [0.5]),
            f"layers[1].weights[0][2] is a list; {NUMBER}",
            id="weight-list",
        ),
        pytest.param(
            setting(("layers", 1, "weights", 0, 2), {"value": 0.5}),
            f"layers[1].weights[0][2] is an object; {NUMBER}",
            id="weight-object",
        ),
        pytest.param(
            setting(("layers", 0, "weights", 2, 1), "w" * 60),
            f'layers[0].weights[2][1] is a string ("{"w" * 37}..."); {NUMBER}',
            id="weight-long-string-shortened",
        ),
        pytest.param(
            setting(("layers", 0, "weights", 0, 0), 10**400),
            f"layers[0].weights[0][0] is too large for a float; {NUMBER}",
            id="weight-huge-int",
        ),
        pytest.param(
            setting(("layers", 0, "weights", 0, 0), -(10**309)),
            f"layers[0].weights[0][0] is too large for a float; {NUMBER}",
            id="weight-huge-negative-int",
        ),
        # biases
        pytest.param(
            setting(("layers", 0, "biases"), 0.1),
            "layers[0].biases is 0.1; expected a list of numbers",
            id="biases-number",
        ),
        pytest.param(
            setting(("layers", 0, "biases"), {"y1": 0.1}),
            "layers[0].biases is an object; expected a list of numbers",
            id="biases-object",
        ),
        pytest.param(
            setting(("layers", 0, "biases", 1), None),
            f"layers[0].biases[1] is null; {NUMBER}",
            id="bias-null",
        ),
        pytest.param(
            setting(("layers", 0, "biases"), [0.1, -0.2]),
            "layers[0].biases has 2 entries but layers[0].weights has 3 rows "
            '(one per unit, out x in); give one bias per unit or set "layout": "in_out"',
            id="bias-count-with-in_out-hint",
        ),
        pytest.param(
            setting(("layers", 0, "biases"), [0.1, -0.2, 0.3, 0.4]),
            "layers[0].biases has 4 entries but layers[0].weights has 3 rows "
            "(one per unit, out x in); give one bias per unit",
            id="bias-count-without-hint",
        ),
        pytest.param(
            setting(("layers", 0, "biases"), []),
            "layers[0].biases has 0 entries but layers[0].weights has 3 rows "
            "(one per unit, out x in); give one bias per unit",
            id="bias-count-empty",
        ),
        pytest.param(
            both(
                setting(("layers", 0, "layout"), "in_out"),
                setting(("layers", 0, "biases"), [0.1, 0.2, 0.3]),
            ),
            "layers[0].biases has 3 entries but layers[0].weights has 2 columns "
            '(one per unit, in x out as "layout" is "in_out"); give one bias per unit '
            'or set "layout": "out_in"',
            id="bias-count-in_out-layer-with-hint",
        ),
        pytest.param(
            both(
                setting(("layout",), "in_out"),
                setting(("layers", 0, "biases"), [0.1]),
            ),
            "layers[0].biases has 1 entries but layers[0].weights has 2 columns "
            '(one per unit, in x out as "layout" is "in_out"); give one bias per unit',
            id="bias-count-in_out-top-without-hint",
        ),
        # shapes between layers
        pytest.param(
            setting(("layers", 1, "weights"), [[1.0, -2.0], [-1.0, 1.5]]),
            "layers[1].weights rows have 2 entries but layers[0] has 3 units; "
            f'{PREV} (out x in, or set "layout": "in_out")',
            id="shape-mismatch",
        ),
        pytest.param(
            setting(
                ("layers", 1, "weights"),
                [[1.0, -2.0, 0.5, 0.0], [-1.0, 1.5, 0.2, 0.0]],
            ),
            "layers[1].weights rows have 4 entries but layers[0] has 3 units; "
            f'{PREV} (out x in, or set "layout": "in_out")',
            id="shape-mismatch-wider",
        ),
        pytest.param(
            both(
                setting(("layers", 1, "layout"), "in_out"),
                setting(("layers", 1, "weights"), [[1.0, -2.0], [0.5, -1.0]]),
            ),
            "layers[1].weights has 2 rows but layers[0] has 3 units; "
            'with "layout": "in_out" there is one row per unit of the previous layer (in x out)',
            id="shape-mismatch-in_out",
        ),
        # activations
        pytest.param(
            setting(("layers", 0, "activation"), "gelu"),
            f'layers[0].activation is a string ("gelu"); expected one of {ACTS}',
            id="unknown-activation",
        ),
        pytest.param(
            setting(("layers", 0, "activation"), "Sigmoid"),
            f'layers[0].activation is a string ("Sigmoid"); expected one of {ACTS}',
            id="activation-case-sensitive",
        ),
        pytest.param(
            setting(("layers", 1, "activation"), None),
            f"layers[1].activation is null; expected one of {ACTS}",
            id="activation-null",
        ),
        pytest.param(
            setting(("layers", 1, "activation"), ["sigmoid"]),
            f"layers[1].activation is a list; expected one of {ACTS}",
            id="activation-list",
        ),
        pytest.param(
            setting(("layers", 0, "activation"), "softmax"),
            'layers[0].activation is "softmax", allowed on the last layer only',
            id="softmax-not-last",
        ),
        pytest.param(
            both(
                setting(("layers", 0, "activation"), "leaky_relu"),
                setting(("layers", 0, "alpha"), -0.5),
            ),
            "layers[0].alpha is -0.5; a leaky_relu slope must be >= 0",
            id="negative-alpha",
        ),
        pytest.param(
            setting(("layers", 0, "alpha"), "0.1"),
            f'layers[0].alpha is a string ("0.1"); {NUMBER}',
            id="alpha-string",
        ),
        pytest.param(
            setting(("layers", 0, "alpha"), None),
            f"layers[0].alpha is null; {NUMBER}",
            id="alpha-null",
        ),
        # layout
        pytest.param(
            setting(("layout",), "row_major"),
            f'layout is a string ("row_major"); {LAYOUT}',
            id="top-layout-bad",
        ),
        pytest.param(
            setting(("layout",), None),
            f"layout is null; {LAYOUT}",
            id="top-layout-null",
        ),
        pytest.param(
            setting(("layers", 1, "layout"), "IN_OUT"),
            f'layers[1].layout is a string ("IN_OUT"); {LAYOUT}',
            id="layer-layout-bad",
        ),
        pytest.param(
            setting(("layers", 0, "layout"), 1),
            f"layers[0].layout is 1; {LAYOUT}",
            id="layer-layout-int",
        ),
    ],
)
def test_layered_messages(edit: Callable[[Doc], Doc], expected: str) -> None:
    assert message(edit(seed_doc())) == expected


def test_first_problem_is_reported() -> None:
    """Problems are reported in document order: layer 0 before layer 1."""
    doc = seed_doc()
    doc["layers"][0]["weights"][1][0] = "a"
    doc["layers"][1]["weights"][0][0] = "b"
    assert message(doc) == f'layers[0].weights[1][0] is a string ("a"); {NUMBER}'


def test_seed_document_loads() -> None:
    net = load_doc(seed_doc())
    assert isinstance(net, Network)
    assert net.layers[0].weights.tolist() == W1
    assert net.layers[0].biases.tolist() == B1
    assert net.layers[1].weights.tolist() == W2
    assert net.layers[1].biases.tolist() == B2
    assert [layer.activation for layer in net.layers] == ["sigmoid", "sigmoid"]
    assert net.input_names == ("x1", "x2")
    assert net.output_names == ("z1", "z2")
    assert net.n_inputs == 2
    assert net.n_outputs == 2
    assert net.source == NAME
    assert net.forward([0.3, -0.7]).tolist() == pytest.approx(seed_forward(0.3, -0.7), rel=1e-14)


def test_optional_fields_accepted() -> None:
    doc = seed_doc()
    doc["name"] = "seed"
    doc["description"] = "the derivation's network"
    doc["layout"] = "out_in"
    doc["layers"][0]["layout"] = "out_in"
    net = load_doc(doc)
    assert net.layers[0].weights.tolist() == W1


def test_integers_are_numbers() -> None:
    doc = seed_doc()
    doc["layers"][0]["weights"] = [[1, -2], [0, 3], [4, 5]]
    doc["layers"][0]["biases"] = [0, 1, -1]
    net = load_doc(doc)
    assert net.layers[0].weights.dtype == np.float64
    assert net.layers[0].weights.tolist() == [[1.0, -2.0], [0.0, 3.0], [4.0, 5.0]]


@pytest.mark.parametrize(
    "activation", ["sigmoid", "tanh", "relu", "leaky_relu", "softplus", "identity", "softmax"]
)
def test_every_activation_accepted_last(activation: str) -> None:
    doc = seed_doc()
    doc["layers"][1]["activation"] = activation
    assert load_doc(doc).output_activation == activation


@pytest.mark.parametrize(
    "activation", ["sigmoid", "tanh", "relu", "leaky_relu", "softplus", "identity"]
)
def test_every_elementwise_activation_accepted_hidden(activation: str) -> None:
    doc = seed_doc()
    doc["layers"][0]["activation"] = activation
    assert load_doc(doc).layers[0].activation == activation


def test_alpha() -> None:
    doc = seed_doc()
    doc["layers"][0]["activation"] = "leaky_relu"
    assert load_doc(doc).layers[0].alpha == 0.01  # the default slope
    doc["layers"][0]["alpha"] = 0.2
    assert load_doc(doc).layers[0].alpha == 0.2
    doc["layers"][0]["alpha"] = 0
    assert load_doc(doc).layers[0].alpha == 0.0  # a zero slope is allowed: relu


def test_softmax_only_layer() -> None:
    doc = {"layers": [{"weights": [[1.0], [2.0]], "biases": [0.0, 0.0], "activation": "softmax"}]}
    net = load_doc(doc)
    assert net.forward([0.0]).tolist() == [0.5, 0.5]


# --------------------------------------------------------------------------- layout


def transposed(m: list[list[float]]) -> list[list[float]]:
    return [list(col) for col in zip(*m, strict=True)]


def test_top_level_in_out_equals_transposed_out_in() -> None:
    doc = seed_doc()
    doc["layout"] = "in_out"
    for layer in doc["layers"]:
        layer["weights"] = transposed(layer["weights"])
    net = load_doc(doc)
    ref = load_doc(seed_doc())
    for a, b in zip(net.layers, ref.layers, strict=True):
        assert a.weights.tolist() == b.weights.tolist()
        assert a.weights.flags.c_contiguous
    x = np.array([[0.3, -0.7], [2.0, 1.0], [-5.0, 4.0]])
    assert net.forward(x).tolist() == ref.forward(x).tolist()


def test_layer_in_out_equals_transposed_out_in() -> None:
    doc = seed_doc()
    doc["layers"][1]["layout"] = "in_out"
    doc["layers"][1]["weights"] = transposed(W2)
    net = load_doc(doc)
    assert net.layers[0].weights.tolist() == W1
    assert net.layers[1].weights.tolist() == W2


def test_layer_layout_overrides_top_level() -> None:
    doc = seed_doc()
    doc["layout"] = "in_out"
    doc["layers"][0]["weights"] = transposed(W1)  # follows the top level
    doc["layers"][1]["layout"] = "out_in"  # overrides it
    net = load_doc(doc)
    assert net.layers[0].weights.tolist() == W1
    assert net.layers[1].weights.tolist() == W2


def test_in_out_of_a_row_vector() -> None:
    """A 1-unit layer stored in x out is a column."""
    doc = {
        "layout": "in_out",
        "layers": [{"weights": [[1.0], [2.0], [3.0]], "biases": [0.5], "activation": "identity"}],
    }
    net = load_doc(doc)
    assert net.n_inputs == 3
    assert net.n_outputs == 1
    assert net.forward([1.0, 1.0, 1.0]).tolist() == [6.5]


# --------------------------------------------------------------------------- names


def test_default_names() -> None:
    doc = seed_doc()
    del doc["inputs"], doc["outputs"]
    doc["layers"][1]["weights"] = [[1.0, 2.0, 3.0]] * 4
    doc["layers"][1]["biases"] = [0.0] * 4
    net = load_doc(doc)
    assert net.input_names == ("x1", "x2")
    assert net.output_names == ("z1", "z2", "z3", "z4")


def test_null_names_mean_default() -> None:
    doc = seed_doc()
    doc["inputs"] = None
    assert load_doc(doc).input_names == ("x1", "x2")


def test_custom_names() -> None:
    doc = seed_doc()
    doc["inputs"] = ["petal length", "Länge"]
    doc["outputs"] = ["setosa", "versicolor"]
    net = load_doc(doc)
    assert net.input_names == ("petal length", "Länge")
    assert net.output_names == ("setosa", "versicolor")


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        pytest.param(
            "inputs",
            ["a", "b", "c"],
            "'inputs' has 3 names but the network has 2 inputs; give one name per input",
            id="inputs-too-many",
        ),
        pytest.param(
            "outputs",
            ["z1"],
            "'outputs' has 1 names but the network has 2 outputs; give one name per output",
            id="outputs-too-few",
        ),
        pytest.param(
            "outputs",
            [],
            "'outputs' has 0 names but the network has 2 outputs; give one name per output",
            id="outputs-empty-list",
        ),
        pytest.param(
            "inputs",
            ["a", "a"],
            'input name "a" appears twice; names must be unique',
            id="inputs-duplicate",
        ),
        pytest.param(
            "outputs",
            ["yes", "yes"],
            'output name "yes" appears twice; names must be unique',
            id="outputs-duplicate",
        ),
        pytest.param(
            "inputs",
            ["x1", ""],
            "inputs[1] is empty; give every input a name",
            id="inputs-empty-name",
        ),
        pytest.param(
            "outputs",
            ["  ", "z2"],
            "outputs[0] is empty; give every output a name",
            id="outputs-blank-name",
        ),
        pytest.param(
            "inputs",
            ["x1", 2],
            "inputs[1] is 2; expected a name (a string)",
            id="inputs-number-name",
        ),
        pytest.param(
            "outputs",
            [None, "z2"],
            "outputs[0] is null; expected a name (a string)",
            id="outputs-null-name",
        ),
        pytest.param(
            "inputs",
            "x1,x2",
            "'inputs' is a string (\"x1,x2\"); expected a list of names",
            id="inputs-string",
        ),
        pytest.param(
            "outputs",
            {"z1": 0},
            "'outputs' is an object; expected a list of names",
            id="outputs-object",
        ),
    ],
)
def test_name_messages(field: str, value: Any, expected: str) -> None:
    doc = seed_doc()
    doc[field] = value
    assert message(doc) == expected


# --------------------------------------------------------------------------- probe


def probe_doc(inputs: list[float], outputs: list[float]) -> Doc:
    doc = seed_doc()
    doc["probe"] = {"input": inputs, "output": outputs}
    return doc


def test_probe_matches() -> None:
    x = [0.3, -0.7]
    net = load_doc(probe_doc(x, seed_forward(*x)))
    assert net.layers[0].weights.tolist() == W1


def test_probe_tolerance_is_relative_1e_6() -> None:
    x = [0.3, -0.7]
    y = seed_forward(*x)
    load_doc(probe_doc(x, [y[0] * (1 + 5e-7), y[1] * (1 - 5e-7)]))
    with pytest.raises(ProbeMismatchError):
        load_doc(probe_doc(x, [y[0] * (1 + 2e-6), y[1]]))


def test_probe_mismatch_message() -> None:
    x = [0.3, -0.7]
    y = seed_forward(*x)
    wrong = [y[0], y[1] + 0.01]
    got = float(load_doc(seed_doc()).forward(x)[1])
    with pytest.raises(ProbeMismatchError) as info:
        load_doc(probe_doc(x, wrong))
    assert isinstance(info.value, NetworkFileError)
    assert str(info.value) == (
        f"{NAME}: probe mismatch: output z2 is {got!r} for probe.input but probe.output says "
        f"{wrong[1]!r}; the weights are probably transposed or in another order "
        '(check "layout")'
    )


def test_probe_mismatch_names_the_output() -> None:
    doc = probe_doc([0.3, -0.7], [0.0, 0.0])
    doc["outputs"] = ["cat", "dog"]
    with pytest.raises(ProbeMismatchError, match=re.escape("probe mismatch: output cat is ")):
        load_doc(doc)


def test_probe_catches_a_transposed_square_layer() -> None:
    """The reason the probe exists: a transposed square layer loads silently otherwise."""
    w = [[1.0, 2.0], [-3.0, 0.5]]
    x = [0.25, -1.5]
    right = [w[0][0] * x[0] + w[0][1] * x[1], w[1][0] * x[0] + w[1][1] * x[1]]
    doc = {
        "layers": [{"weights": w, "biases": [0.0, 0.0], "activation": "identity"}],
        "probe": {"input": x, "output": right},
    }
    assert load_doc(doc).forward(x).tolist() == right
    doc["layout"] = "in_out"  # now z1 = 1 * 0.25 + (-3) * (-1.5) = 4.75
    expected = "probe mismatch: output z1 is 4.75 for probe.input but probe.output says -2.75"
    with pytest.raises(ProbeMismatchError, match=re.escape(expected)):
        load_doc(doc)


def test_probe_zero_output() -> None:
    doc = {
        "layers": [{"weights": [[1.0, -1.0]], "biases": [0.0], "activation": "relu"}],
        "probe": {"input": [1.0, 3.0], "output": [0.0]},
    }
    assert load_doc(doc).forward([1.0, 3.0]).tolist() == [0.0]


@pytest.mark.parametrize(
    ("first", "second", "shown"),
    [
        pytest.param([[1e300], [-1e300]], [[1.0, 1.0]], "nan", id="inf-minus-inf"),
        pytest.param([[1e300]], [[1e300]], "inf", id="inf"),
        pytest.param([[1e300]], [[-1e300]], "-inf", id="minus-inf"),
    ],
)
def test_probe_non_finite_output_is_a_mismatch(
    first: list[list[float]], second: list[list[float]], shown: str
) -> None:
    """Weights that overflow give infinite or NaN outputs, which must not pass the probe."""
    doc = {
        "layers": [
            {"weights": first, "biases": [0.0] * len(first), "activation": "identity"},
            {"weights": second, "biases": [0.0], "activation": "identity"},
        ],
        "probe": {"input": [1e300], "output": [0.0]},
    }
    with pytest.raises(ProbeMismatchError) as info:
        load_doc(doc)
    assert str(info.value).startswith(f"{NAME}: probe mismatch: output z1 is {shown} for ")


def test_probe_overflowing_softmax_no_warning() -> None:
    doc = {
        "layers": [
            {"weights": [[1e300]], "biases": [0.0], "activation": "identity"},
            {"weights": [[1e300], [1e300]], "biases": [0.0, 0.0], "activation": "softmax"},
        ],
        "probe": {"input": [1e300], "output": [0.5, 0.5]},
    }
    with pytest.raises(ProbeMismatchError, match=re.escape("output z1 is nan")):
        load_doc(doc)


PROBE_SHAPE = 'expected {"input": [...], "output": [...]}'


@pytest.mark.parametrize(
    ("probe", "expected"),
    [
        pytest.param(
            {"input": [0.3, -0.7, 1.0], "output": [0.5, 0.5]},
            "probe.input has 3 values but the network has 2 inputs",
            id="input-too-long",
        ),
        pytest.param(
            {"input": [], "output": [0.5, 0.5]},
            "probe.input has 0 values but the network has 2 inputs",
            id="input-empty",
        ),
        pytest.param(
            {"input": [0.3, -0.7], "output": [0.5]},
            "probe.output has 1 values but the network has 2 outputs",
            id="output-too-short",
        ),
        pytest.param([0.3, -0.7], f"'probe' is a list; {PROBE_SHAPE}", id="probe-list"),
        pytest.param(None, f"'probe' is null; {PROBE_SHAPE}", id="probe-null"),
        pytest.param(
            {"output": [0.5, 0.5]}, f"'probe' has no 'input'; {PROBE_SHAPE}", id="no-input"
        ),
        pytest.param(
            {"input": [0.3, -0.7]}, f"'probe' has no 'output'; {PROBE_SHAPE}", id="no-output"
        ),
        pytest.param(
            {"input": 0.3, "output": [0.5, 0.5]},
            "probe.input is 0.3; expected a list of numbers",
            id="input-number",
        ),
        pytest.param(
            {"input": [0.3, "x"], "output": [0.5, 0.5]},
            f'probe.input[1] is a string ("x"); {NUMBER}',
            id="input-string-entry",
        ),
        pytest.param(
            {"input": [0.3, -0.7], "output": [0.5, None]},
            f"probe.output[1] is null; {NUMBER}",
            id="output-null-entry",
        ),
        pytest.param(
            {"input": [0.3, -0.7], "output": {"z1": 0.5}},
            "probe.output is an object; expected a list of numbers",
            id="output-object",
        ),
    ],
)
def test_probe_messages(probe: Any, expected: str) -> None:
    doc = seed_doc()
    doc["probe"] = probe
    with pytest.raises(NetworkFileError) as info:
        load_doc(doc)
    assert not isinstance(info.value, ProbeMismatchError)
    assert str(info.value) == f"{NAME}: {expected}"


# --------------------------------------------------------------------------- named-edge format


def test_named_edges_full_network() -> None:
    net = load_doc(edge_doc())
    ref = load_doc(seed_doc())
    assert net.layers[0].weights.tolist() == W1
    assert net.layers[0].biases.tolist() == B1
    assert net.layers[1].weights.tolist() == W2
    assert net.layers[1].biases.tolist() == B2
    assert [layer.activation for layer in net.layers] == ["sigmoid", "sigmoid"]
    assert net.input_names == ("x1", "x2")
    assert net.output_names == ("z1", "z2")
    assert net.source == NAME
    x = np.array([[0.3, -0.7], [10.0, -3.0]])
    assert net.forward(x).tolist() == ref.forward(x).tolist()
    assert net.forward([0.3, -0.7]).tolist() == pytest.approx(seed_forward(0.3, -0.7), rel=1e-14)


def test_named_edges_key_order_does_not_matter() -> None:
    doc = edge_doc()
    doc["weights"] = dict(reversed(doc["weights"].items()))
    doc = {"biases": dict(reversed(doc["biases"].items())), "weights": doc["weights"]}
    assert load_doc(doc).layers[1].weights.tolist() == W2


def test_named_edges_unicode_arrow_and_spaces() -> None:
    doc = edge_doc()
    arrows = ["→", " -> ", "->", " → "]
    doc["weights"] = {
        k.replace("->", arrows[i % len(arrows)]): v
        for i, (k, v) in enumerate(doc["weights"].items())
    }
    assert "x1→y1" in doc["weights"]
    assert "x2 -> y1" in doc["weights"]
    doc["biases"] = {f" {k} ": v for k, v in doc["biases"].items()}
    net = load_doc(doc)
    assert net.layers[0].weights.tolist() == W1
    assert net.layers[1].biases.tolist() == B2


def test_named_edges_one_hidden_unit_one_output() -> None:
    doc = {"weights": {"x1->y1": 2.0, "y1->z1": -1.0}, "biases": {"y1": 0.5, "z1": 0.25}}
    net = load_doc(doc)
    assert net.n_inputs == 1
    assert net.n_outputs == 1
    assert net.forward([1.0]).tolist() == pytest.approx([sigmoid(-sigmoid(2.5) + 0.25)])


def test_named_edges_integers_and_leading_zeros() -> None:
    doc = {"weights": {"x01->y1": 2, "y1->z001": -1}, "biases": {"y1": 0, "z1": 1}}
    net = load_doc(doc)
    assert net.layers[0].weights.tolist() == [[2.0]]
    assert net.layers[1].weights.tolist() == [[-1.0]]


EDGE_HINT = 'write "xI->yJ" or "yI->zJ" (inputs x, hidden units y, outputs z, numbered from 1)'
UNIT_HINT = 'write "yJ" (hidden) or "zJ" (output), numbered from 1'
MISSING_EDGE = "every edge between consecutive layers needs a weight (write 0 for none)"
MISSING_BIAS = "every hidden and output unit needs a bias (write 0 for none)"


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        pytest.param(
            deleting(("weights", "x2->y3")),
            f'missing weight "x2->y3"; {MISSING_EDGE}',
            id="missing-input-edge",
        ),
        pytest.param(
            deleting(("weights", "y3->z2")),
            f'missing weight "y3->z2"; {MISSING_EDGE}',
            id="missing-output-edge",
        ),
        pytest.param(
            setting(("weights", "x3->y1"), 1.0),
            f'missing weight "x3->y2"; {MISSING_EDGE}',
            id="extra-input-needs-all-its-edges",
        ),
        pytest.param(
            setting(("weights", "y1->z3"), 1.0),
            'weights key "y1->z3" names unknown unit z3; the biases define z1..z2 '
            "(add a bias for z3 or remove the edge)",
            id="extra-output-needs-all-its-edges",
        ),
        pytest.param(
            deleting(("biases", "z2")),
            f'missing bias "z2"; {MISSING_BIAS}',
            id="missing-output-bias",
        ),
        pytest.param(
            deleting(("biases", "y1")),
            f'missing bias "y1"; {MISSING_BIAS}',
            id="missing-hidden-bias",
        ),
        pytest.param(
            setting(("biases", "y4"), 0.0),
            f'missing weight "x1->y4"; {MISSING_EDGE}',
            id="bias-of-unknown-unit",
        ),
        pytest.param(
            setting(("biases", "z99999999"), 0.0),
            f'missing weight "y1->z3"; {MISSING_EDGE}',
            id="huge-unit-number",
        ),
        pytest.param(
            setting(("weights", "x999999999->y999999999"), 0.0),
            'weights key "x999999999->y999999999" names unknown unit y999999999; the biases '
            "define y1..y3 (add a bias for y999999999 or remove the edge)",
            id="huge-edge-numbers-no-memory-error",
        ),
        pytest.param(
            setting(("weights", "x1->z1"), 0.0),
            f'weights key "x1->z1" is not an edge; {EDGE_HINT}',
            id="skipping-edge",
        ),
        pytest.param(
            setting(("weights", "y1->y2"), 0.0),
            f'weights key "y1->y2" is not an edge; {EDGE_HINT}',
            id="hidden-to-hidden",
        ),
        pytest.param(
            setting(("weights", "z1->y1"), 0.0),
            f'weights key "z1->y1" is not an edge; {EDGE_HINT}',
            id="backward-edge",
        ),
        pytest.param(
            setting(("weights", "w1"), 0.0),
            f'weights key "w1" is not an edge; {EDGE_HINT}',
            id="not-an-edge",
        ),
        pytest.param(
            setting(("weights", "x1-y1"), 0.0),
            f'weights key "x1-y1" is not an edge; {EDGE_HINT}',
            id="single-dash",
        ),
        pytest.param(
            setting(("weights", "X1->Y1"), 0.0),
            f'weights key "X1->Y1" is not an edge; {EDGE_HINT}',
            id="upper-case",
        ),
        pytest.param(
            setting(("weights", "x1->y" + "1" * 5000), 0.0),
            f'weights key "x1->y{"1" * 5000}" is not an edge; {EDGE_HINT}',
            id="thousands-of-digits",
        ),
        pytest.param(
            setting(("weights", "x0->y1"), 0.0),
            'weights key "x0->y1": units count from 1',
            id="edge-from-unit-0",
        ),
        pytest.param(
            setting(("weights", "y1->z0"), 0.0),
            'weights key "y1->z0": units count from 1',
            id="edge-to-unit-0",
        ),
        pytest.param(
            setting(("biases", "q3"), 0.0),
            f'biases key "q3" is not a unit; {UNIT_HINT}',
            id="bias-q3",
        ),
        pytest.param(
            setting(("biases", "x1"), 0.0),
            f'biases key "x1" is not a unit; {UNIT_HINT}',
            id="bias-of-input",
        ),
        pytest.param(
            setting(("biases", "y0"), 0.0),
            f'biases key "y0" is not a unit; {UNIT_HINT}',
            id="bias-unit-0",
        ),
        pytest.param(
            setting(("biases", "x1->y1"), 0.0),
            f'biases key "x1->y1" is not a unit; {UNIT_HINT}',
            id="bias-keyed-by-edge",
        ),
        pytest.param(
            setting(("weights", "x1->y1"), "0.5"),
            f'weights["x1->y1"] is a string ("0.5"); {NUMBER}',
            id="weight-string",
        ),
        pytest.param(
            setting(("weights", "y2->z1"), None),
            f'weights["y2->z1"] is null; {NUMBER}',
            id="weight-null",
        ),
        pytest.param(
            setting(("weights", "y2->z1"), True),
            f'weights["y2->z1"] is a boolean (true); {NUMBER}',
            id="weight-bool",
        ),
        pytest.param(
            setting(("weights", "y2->z1"), 10**400),
            f'weights["y2->z1"] is too large for a float; {NUMBER}',
            id="weight-huge-int",
        ),
        pytest.param(
            setting(("biases", "z1"), [0.0]),
            f'biases["z1"] is a list; {NUMBER}',
            id="bias-list",
        ),
        pytest.param(
            setting(("activation",), "tanh"),
            'unknown top-level field "activation"; '
            "the named-edge format has 'weights' and 'biases'",
            id="unknown-top-field",
        ),
        pytest.param(
            deleting(("biases",)),
            "no 'biases'; the named-edge format needs an object like {\"y1\": 0.1}",
            id="no-biases",
        ),
        pytest.param(
            setting(("biases",), [0.1, 0.2]),
            "'biases' is a list; expected an object like {\"y1\": 0.1}",
            id="biases-list",
        ),
        pytest.param(
            setting(("weights",), None),
            "'weights' is null; expected an object like {\"x1->y1\": 0.5}",
            id="weights-null",
        ),
        pytest.param(
            deleting(("weights",)),
            "no 'weights'; the named-edge format needs an object like {\"x1->y1\": 0.5}",
            id="no-weights",
        ),
        pytest.param(
            setting(("weights",), {}),
            "no inputs (x1, x2, ...) in the file",
            id="no-inputs",
        ),
        pytest.param(
            setting(("weights",), {"x1->y1": 1.0}),
            f'missing weight "x1->y2"; {MISSING_EDGE}',  # the biases name y1, y2, y3
            id="only-one-edge",
        ),
    ],
)
def test_named_edge_messages(edit: Callable[[Doc], Doc], expected: str) -> None:
    assert message(edit(edge_doc())) == expected


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        pytest.param(
            {"weights": {"x1->y1": 1.0}, "biases": {"y1": 0.0}},
            "no outputs (z1, z2, ...) in the file",
            id="no-outputs",
        ),
        pytest.param(
            {"weights": {}, "biases": {"z1": 0.0}},
            "no inputs (x1, x2, ...) in the file",
            id="no-inputs-nor-hidden",
        ),
        pytest.param(
            {"weights": {"x1->y1": 1.0, "y1->z1": 1.0}, "biases": {"y1": 0.0}},
            f'missing bias "z1"; {MISSING_BIAS}',
            id="missing-only-bias",
        ),
    ],
)
def test_named_edge_small_messages(doc: Doc, expected: str) -> None:
    assert message(doc) == expected


# --------------------------------------------------------------------------- files


def test_load_file(tmp_path: Path) -> None:
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(seed_doc()))
    for arg in (path, str(path)):
        net = load(arg)
        assert net.source == str(path)
        assert net.layers[1].weights.tolist() == W2
    assert netbound.load is load


def test_load_named_edge_file(tmp_path: Path) -> None:
    path = tmp_path / "seed-edges.json"
    path.write_text(json.dumps(edge_doc(), ensure_ascii=False).replace("->", "→"))
    assert load(path).layers[0].weights.tolist() == W1


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.json"
    with pytest.raises(NetworkFileError) as info:
        load(path)
    assert str(info.value) == f"{path}: no such file"


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(NetworkFileError) as info:
        load(tmp_path)
    assert str(info.value) == f"{tmp_path}: is a directory, not a network file"


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads unreadable files"
)
def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "secret.json"
    path.write_text("{}")
    path.chmod(0)
    try:
        with pytest.raises(NetworkFileError) as info:
            load(path)
    finally:
        path.chmod(0o600)
    assert str(info.value) == f"{path}: cannot read the file (Permission denied)"


def test_file_messages_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"layers": [{"weights": [[1, "a"]], "biases": [0], "activation": "relu"}]}')
    with pytest.raises(NetworkFileError) as info:
        load(path)
    assert str(info.value) == f'{path}: layers[0].weights[0][1] is a string ("a"); {NUMBER}'


def test_error_hierarchy() -> None:
    assert issubclass(NetworkFileError, NetboundError)
    assert issubclass(ProbeMismatchError, NetworkFileError)


# --------------------------------------------------------------------------- fuzz

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

VOCAB = [
    "netbound",
    "inputs",
    "outputs",
    "layers",
    "layout",
    "probe",
    "input",
    "output",
    "weights",
    "biases",
    "activation",
    "alpha",
    "in_out",
    "out_in",
    "name",
    "x1->y1",
    "x2->y1",
    "y1->z1",
    "x1→y2",
    "y1",
    "y2",
    "z1",
    "x1",
    *("sigmoid", "tanh", "relu", "leaky_relu", "softplus", "identity", "softmax"),
]

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats()  # NaN and infinities become NaN / Infinity tokens
    | st.floats(min_value=-10, max_value=10)
    | st.text(max_size=8)
    | st.sampled_from(VOCAB)
)
keys = st.sampled_from(VOCAB) | st.text(max_size=6)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=4),
    max_leaves=20,
)


def check_loads(raw: str | bytes, doc: Any = None) -> Network | None:
    """Load ``raw``: a Network, or a one-line NetworkFileError naming the file; nothing else."""
    try:
        net = loads(raw, "fuzz.json")
    except NetworkFileError as exc:
        text = str(exc)
        assert text.startswith("fuzz.json: ")
        assert "\n" not in text
        if doc is not None and _finite_json(doc):  # the parsed document gives the same verdict
            with pytest.raises(NetworkFileError, match=re.escape(text[len("fuzz.json: ") :])):
                network_from_json(doc, "fuzz.json")
        return None
    assert isinstance(net, Network)
    assert net.layers
    assert len(net.input_names) == net.n_inputs
    assert len(net.output_names) == net.n_outputs
    for before, after in zip(net.layers, net.layers[1:], strict=False):
        assert after.n_in == before.n_out
    assert net.forward(np.zeros(net.n_inputs)).shape == (net.n_outputs,)
    return net


def _finite_json(doc: Any) -> bool:
    """Whether ``doc`` holds no NaN or infinity (which the text only has as rejected tokens)."""
    try:
        json.dumps(doc, allow_nan=False)
    except ValueError:
        return False
    return True


def _paths(node: Any, prefix: Path_ = ()) -> Iterator[Path_]:
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _paths(value, (*prefix, i))


def probed_seed_doc() -> Doc:
    doc = seed_doc()
    doc["probe"] = {"input": [0.3, -0.7], "output": seed_forward(0.3, -0.7)}
    return doc


def mixed_doc() -> Doc:
    return {
        "layout": "in_out",
        "layers": [
            {"weights": [[1.0, -1.0], [0.5, 2.0]], "biases": [0.0, 0.1], "activation": "tanh"},
            {
                "weights": [[1.0, 0.0, 2.0], [0.0, 1.0, -1.0]],
                "biases": [0.0, 0.0, 0.0],
                "activation": "leaky_relu",
                "alpha": 0.1,
            },
            {
                "weights": [[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]],
                "biases": [0.0, 0.0],
                "activation": "softmax",
                "layout": "out_in",
            },
        ],
    }


@FUZZ
@given(doc=json_values)
def test_fuzz_random_json(doc: Any) -> None:
    check_loads(json.dumps(doc), doc)


@FUZZ
@given(doc=st.dictionaries(keys, json_values, max_size=5))
def test_fuzz_random_objects(doc: Doc) -> None:
    check_loads(json.dumps(doc), doc)


@FUZZ
@given(raw=st.binary(max_size=200))
def test_fuzz_random_bytes(raw: bytes) -> None:
    check_loads(raw)


@FUZZ
@given(raw=st.text(max_size=200))
def test_fuzz_random_text(raw: str) -> None:
    check_loads(raw)
    check_loads(raw.encode("utf-8", "surrogatepass"))


@FUZZ
@given(
    raw=st.sampled_from([json.dumps(seed_doc()), json.dumps(edge_doc())]),
    data=st.data(),
)
def test_fuzz_damaged_text(raw: str, data: st.DataObject) -> None:
    """Valid files with a few bytes cut out or replaced."""
    blob = bytearray(raw.encode())
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(blob) - 1))
        if data.draw(st.booleans()):
            del blob[i]
        else:
            blob[i] = data.draw(st.integers(0, 255))
    check_loads(bytes(blob))


@FUZZ
@given(
    base=st.sampled_from([probed_seed_doc, edge_doc, mixed_doc]),
    data=st.data(),
)
def test_fuzz_mutated_documents(base: Callable[[], Doc], data: st.DataObject) -> None:
    doc: Any = base()
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        path = data.draw(st.sampled_from(list(_paths(doc))), label="path")
        op = data.draw(st.sampled_from(["delete", "replace", "insert"]), label="op")
        value = data.draw(json_values, label="value")
        if not path:
            doc = value
            continue
        parent = _parent(doc, path)
        if op == "delete":
            del parent[path[-1]]
        elif op == "replace":
            parent[path[-1]] = value
        elif isinstance(parent, dict):
            parent[data.draw(keys, label="key")] = value
        else:
            parent.insert(path[-1], value)
    check_loads(json.dumps(doc), doc)


@FUZZ
@given(doc=st.sampled_from([probed_seed_doc, edge_doc, mixed_doc]).map(lambda f: f()))
def test_fuzz_bases_are_valid(doc: Doc) -> None:
    assert check_loads(json.dumps(doc), doc) is not None


finite = st.floats(min_value=-5.0, max_value=5.0, allow_nan=False, allow_subnormal=False)
name_text = st.text(min_size=1, max_size=5).filter(lambda s: s.strip() != "")


@st.composite
def layered_documents(draw: st.DrawFn) -> tuple[Doc, list[np.ndarray]]:
    """A valid layered document with random shapes, activations, layouts and names."""
    sizes = draw(st.lists(st.integers(1, 4), min_size=2, max_size=5))
    top_layout = draw(st.sampled_from([None, "out_in", "in_out"]))
    doc: Doc = {"layers": []}
    if top_layout is not None:
        doc["layout"] = top_layout
    matrices = []
    for k, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        last = k == len(sizes) - 2
        choices = ["sigmoid", "tanh", "relu", "leaky_relu", "softplus", "identity"]
        act = draw(st.sampled_from([*choices, "softmax"] if last else choices))
        w = draw(
            st.lists(st.lists(finite, min_size=n_in, max_size=n_in), min_size=n_out, max_size=n_out)
        )
        b = draw(st.lists(finite, min_size=n_out, max_size=n_out))
        layer: Doc = {"activation": act, "biases": b}
        layout = draw(st.sampled_from([None, "out_in", "in_out"]))
        if layout is not None:
            layer["layout"] = layout
        effective = layout or top_layout or "out_in"
        layer["weights"] = transposed(w) if effective == "in_out" else w
        if act == "leaky_relu" and draw(st.booleans()):
            layer["alpha"] = draw(st.floats(0.0, 1.0))
        doc["layers"].append(layer)
        matrices.append(np.array(w, dtype=float))
    if draw(st.booleans()):
        doc["inputs"] = draw(st.lists(name_text, min_size=sizes[0], max_size=sizes[0], unique=True))
    if draw(st.booleans()):
        doc["outputs"] = draw(
            st.lists(name_text, min_size=sizes[-1], max_size=sizes[-1], unique=True)
        )
    return doc, matrices


@FUZZ
@given(case=layered_documents(), x=st.lists(finite, min_size=4, max_size=4))
def test_fuzz_valid_documents_load(case: tuple[Doc, list[np.ndarray]], x: list[float]) -> None:
    doc, matrices = case
    net = check_loads(json.dumps(doc), doc)
    assert net is not None
    for layer, raw, w in zip(net.layers, doc["layers"], matrices, strict=True):
        assert layer.weights.tolist() == w.tolist()
        assert layer.biases.tolist() == raw["biases"]
        assert layer.activation == raw["activation"]
        assert layer.alpha == raw.get("alpha", 0.01)
    n_in = matrices[0].shape[1]
    assert net.input_names == tuple(doc.get("inputs", [f"x{i + 1}" for i in range(n_in)]))
    n_out = matrices[-1].shape[0]
    assert net.output_names == tuple(doc.get("outputs", [f"z{i + 1}" for i in range(n_out)]))
    # A probe computed from the network itself passes; the same probe on a perturbed output fails.
    probe_x = x[:n_in]
    probe_y = net.forward(probe_x).tolist()
    doc["probe"] = {"input": probe_x, "output": probe_y}
    assert check_loads(json.dumps(doc), doc) is not None
    j = len(probe_y) - 1
    doc["probe"]["output"][j] = probe_y[j] + 1e-3 * max(1.0, abs(probe_y[j]))
    with pytest.raises(ProbeMismatchError):
        load_doc(doc)
    # The document round-trips through Network.to_json.
    again = network_from_json(json.loads(json.dumps(net.to_json())), "again")
    for a, b in zip(again.layers, net.layers, strict=True):
        assert a.weights.tolist() == b.weights.tolist()
        assert a.alpha == b.alpha


# --------------------------------------------------------------------------- edges of the format


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        pytest.param(
            setting(("weights", "x1->y9"), 1.0),
            'weights key "x1->y9" names unknown unit y9; the biases define y1..y3 '
            "(add a bias for y9 or remove the edge)",
            id="extra-edge-to-unknown-hidden-unit",
        ),
        pytest.param(
            setting(("weights", "x1→y1"), 1.0),
            'weights keys "x1->y1" and "x1→y1" name the same edge; keep only one',
            id="same-edge-twice",
        ),
        pytest.param(
            setting(("biases", " y1"), 1.0),
            'biases keys "y1" and " y1" name the same unit; keep only one',
            id="same-bias-twice",
        ),
    ],
)
def test_named_edge_typos_are_named(edit: Callable[[Doc], Doc], expected: str) -> None:
    assert message(edit(edge_doc())) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            '{"layers": [{"weights": [[1, 2]], "biases": [0], "biases": [5], '
            '"activation": "tanh"}]}',
            'the key "biases" appears twice in one object; JSON readers disagree on which one '
            "counts, so keep only one",
            id="layered",
        ),
        pytest.param(
            '{"weights": {"x1->y1": 1, "x1->y1": 2}, "biases": {}}',
            'the key "x1->y1" appears twice in one object; JSON readers disagree on which one '
            "counts, so keep only one",
            id="named-edge",
        ),
    ],
)
def test_duplicate_keys_are_refused(text: str, expected: str) -> None:
    with pytest.raises(NetworkFileError) as info:
        loads(text, NAME)
    assert str(info.value) == f"{NAME}: {expected}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[[1, NaN]]", "layers[0].weights[0][1] is NaN"),
        ("[[1, 2], [-Infinity, 3]]", "layers[0].weights[1][0] is -Infinity"),
        ("[[1, 2], [1e999, 3]]", "layers[0].weights[1][0] is inf"),
    ],
)
def test_non_finite_weights_are_refused_with_their_place(text: str, expected: str) -> None:
    doc = f'{{"layers": [{{"weights": {text}, "biases": [0] , "activation": "tanh"}}]}}'
    if text.count("[") == 3:
        doc = doc.replace('"biases": [0]', '"biases": [0, 0]')
    with pytest.raises(NetworkFileError) as info:
        loads(doc, NAME)
    assert str(info.value).startswith(f"{NAME}: {expected}; expected a finite number")


def test_loads_takes_a_parsed_document() -> None:
    doc = seed_doc()
    assert loads(copy.deepcopy(doc), NAME) == loads(json.dumps(doc), NAME)


def test_loads_refuses_other_types_saying_what_to_call() -> None:
    with pytest.raises(TypeError, match=r"not PosixPath; call netbound.load\(path\)"):
        loads(Path("net.json"))  # type: ignore[arg-type]


def test_two_loads_of_one_file_are_equal(tmp_path: Path) -> None:
    path = tmp_path / "net.json"
    path.write_text(json.dumps(seed_doc()))
    copy_path = tmp_path / "copy.json"
    copy_path.write_text(json.dumps(seed_doc(), indent=2))
    assert netbound.load(path) == netbound.load(path) == netbound.load(copy_path)


def test_input_ranges_are_read_and_checked() -> None:
    doc = {
        "layers": [{"weights": [[1.0, 2.0]], "biases": [0.0], "activation": "identity"}],
        "input_ranges": [[-1.0, 1.0], [None, 3.0]],
    }
    net = netbound.loads(json.dumps(doc))
    assert net.input_ranges == ((-1.0, 1.0), (-math.inf, 3.0))
    assert net.to_json()["input_ranges"] == [[-1.0, 1.0], [None, 3.0]]
    doc["input_ranges"] = [[2.0, 1.0], [0.0, 1.0]]
    with pytest.raises(NetworkFileError) as info:
        netbound.loads(json.dumps(doc), "n.json")
    assert str(info.value) == "n.json: input_ranges[0] is [2.0, 1.0]; expected min <= max"
    doc["input_ranges"] = [[0.0, 1.0]]
    with pytest.raises(NetworkFileError) as info:
        netbound.loads(json.dumps(doc), "n.json")
    assert str(info.value) == (
        "n.json: input_ranges is a list; expected a list of 2 [min, max] pairs, one per input"
    )
