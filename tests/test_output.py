"""The Renderer and the slice records (netbound/output.py): streaming CSV, valid JSON, tables."""

from __future__ import annotations

import csv
import io
import json
import math
import os
from typing import Any

import pytest

from netbound.output import (
    FORMATS,
    Renderer,
    json_number,
    number,
    slice_record,
    slice_rows,
    slice_table_rows,
)
from netbound.solver import Root, SliceResult

HEADER: dict[str, Any] = {"network": "net.json", "between": ["z1", "z2"], "at": {}, "x": None}


def _record(k: int) -> dict[str, Any]:
    return {"x2": k / 3, "roots": [{"x1": -k * 0.1, "kind": "crossing"}], "complete": True}


def _rows(k: int) -> list[list[str]]:
    return [[number(k / 3), number(-k * 0.1), "crossing"]]


# -- CSV ---------------------------------------------------------------------------------------


def test_csv_streams_rows_as_they_come() -> None:
    out = io.StringIO()
    with Renderer("csv", out, ["x2", "x1", "kind"], HEADER, "results") as r:
        assert out.getvalue() == "x2,x1,kind\n"  # the header before any row
        for k in range(3):
            r.add(_record(k), _rows(k))
            # Each add is written at once, not held until the end.
            lines = out.getvalue().splitlines()
            assert len(lines) == 2 + k
            assert lines[-1] == ",".join(_rows(k)[0])
    text = out.getvalue()
    assert list(csv.reader(io.StringIO(text))) == [["x2", "x1", "kind"]] + [
        _rows(k)[0] for k in range(3)
    ]
    assert "\r" not in text


def test_csv_several_rows_per_record_and_none() -> None:
    out = io.StringIO()
    with Renderer("csv", out, ["a", "b"], HEADER) as r:
        r.add(None, [["1", "2"], ["3", "4"]])
        r.add(None, [])
        r.add(None, [["5", "6"]])
    assert out.getvalue() == "a,b\n1,2\n3,4\n5,6\n"


def test_csv_quotes_fields_with_commas() -> None:
    out = io.StringIO()
    with Renderer("csv", out, ["label", "subset"], HEADER) as r:
        r.add(None, [["C6", "{1,2}"], ["C0", "{}"]])
    assert list(csv.reader(io.StringIO(out.getvalue()))) == [
        ["label", "subset"],
        ["C6", "{1,2}"],
        ["C0", "{}"],
    ]


def test_csv_numbers_round_trip() -> None:
    values = [0.1, -1.903570835377091, 1e-300, 5e-324, 1.7976931348623157e308, -0.0, 3.0]
    for v in values:
        assert float(number(v)) == v
        assert number(v) == repr(v)
    assert math.copysign(1.0, float(number(-0.0))) == -1.0


# -- JSON --------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [0, 1, 5])
def test_json_document_is_valid(n: int) -> None:
    out = io.StringIO()
    with Renderer("json", out, ["x2", "x1", "kind"], HEADER, "results") as r:
        for k in range(n):
            r.add(_record(k), _rows(k))
    text = out.getvalue()
    doc = json.loads(text)
    assert list(doc) == [*HEADER, "results"]
    assert {k: doc[k] for k in HEADER} == HEADER
    assert doc["results"] == [_record(k) for k in range(n)]
    assert text.endswith("}\n")
    # One record per line: a long sweep can be followed as it streams.
    assert sum(1 for line in text.splitlines() if line.lstrip().startswith('{"x2"')) == n


def test_json_records_stream() -> None:
    out = io.StringIO()
    with Renderer("json", out, ["x2"], HEADER, "results") as r:
        head = out.getvalue()
        assert head.startswith("{\n")
        assert '"results": [' in head
        r.add(_record(1), _rows(1))
        assert json.dumps(_record(1)) in out.getvalue()


def test_json_without_list_key() -> None:
    out = io.StringIO()
    with Renderer("json", out, ["name", "value"], {"a": 1, "b": [1.5, None]}, None) as r:
        r.add(None, [["a", "1"]])
    assert json.loads(out.getvalue()) == {"a": 1, "b": [1.5, None]}


def test_json_records_none_are_skipped() -> None:
    out = io.StringIO()
    with Renderer("json", out, ["x2"], HEADER, "results") as r:
        r.add(None, [["ignored"]])
        r.add(_record(2), _rows(2))
        r.add(None, [])
    assert json.loads(out.getvalue())["results"] == [_record(2)]


def test_json_number() -> None:
    assert json_number(1.5) == 1.5
    assert json_number(-math.inf) is None
    assert json_number(math.inf) is None
    assert json_number(math.nan) is None


# -- table -------------------------------------------------------------------------------------


def test_table_drawn_at_the_end() -> None:
    out = io.StringIO()
    with Renderer("table", out, ["x2", "x1", "kind"], HEADER, "results", "the title") as r:
        r.add(_record(1), _rows(1))
        assert out.getvalue() == ""  # drawn on exit
        r.add(_record(2), _rows(2), [["2/3", "shown instead", "crossing"]])
    text = out.getvalue()
    assert "the title" in text
    for word in ("x2", "x1", "kind", number(1 / 3), number(-0.1), "shown instead"):
        assert word in text
    assert number(2 / 3) not in text  # table_rows replace the CSV rows in the table


def test_error_inside_leaves_json_unfinished() -> None:
    """A failure mid-stream must not look like a complete, valid document."""
    out = io.StringIO()
    renderer = Renderer("json", out, ["x2"], HEADER, "results")
    renderer.__enter__()
    renderer.add(_record(1), _rows(1))
    renderer.__exit__(RuntimeError, RuntimeError("boom"), None)
    assert json.dumps(_record(1)) in out.getvalue()
    with pytest.raises(json.JSONDecodeError):
        json.loads(out.getvalue())


def test_formats() -> None:
    assert FORMATS == ("table", "csv", "json")


# -- slice records -----------------------------------------------------------------------------


def _slice(**kw: Any) -> SliceResult:
    fields: dict[str, Any] = {
        "x2": 0.5,
        "roots": (Root(-1.25, "crossing"), Root(0.75, "touching")),
        "unresolved": (),
        "everywhere": False,
        "complete": True,
    }
    fields.update(kw)
    return SliceResult(**fields)


def test_slice_record_contract_keys() -> None:
    rec = slice_record(_slice(), ("x1", "x2"), argmax=False)
    assert list(rec) == ["x2", "roots", "unresolved", "everywhere", "complete"]
    assert rec["roots"] == [{"x1": -1.25, "kind": "crossing"}, {"x1": 0.75, "kind": "touching"}]
    assert rec["unresolved"] == []
    assert json.loads(json.dumps(rec)) == rec


def test_slice_record_uses_input_names() -> None:
    rec = slice_record(_slice(), ("a", "b"), argmax=False)
    assert rec["b"] == 0.5
    assert "x2" not in rec
    assert rec["roots"][0] == {"a": -1.25, "kind": "crossing"}


def test_infinite_unresolved_ends_become_null() -> None:
    result = _slice(
        roots=(),
        unresolved=((-math.inf, -40.0), (1.0, 1.0000001), (64.0, math.inf)),
        complete=False,
    )
    out = io.StringIO()
    with Renderer("json", out, ["x2", "x1", "kind"], HEADER, "results") as r:
        r.add(slice_record(result, ("x1", "x2"), False), slice_rows(result, False))
    text = out.getvalue()
    assert "Infinity" not in text
    assert "NaN" not in text
    rec = json.loads(text)["results"][0]
    assert rec["unresolved"] == [[None, -40.0], [1.0, 1.0000001], [64.0, None]]
    assert rec["complete"] is False
    # The CSV has no row for an unresolved interval; the table shows it.
    assert slice_rows(result, False) == []
    table = slice_table_rows(result, False)
    assert [row[2] for row in table] == ["unresolved"] * 3
    assert table[0][1] == "[-inf, -40.0]"
    assert all(row[-1] == "no" for row in table)


def test_argmax_rows_and_record() -> None:
    result = _slice(
        roots=(Root(-1.0, "crossing", "a", "b"), Root(2.0, "crossing", "b", "c")),
    )
    rec = slice_record(result, ("x1", "x2"), argmax=True)
    assert rec["roots"][1] == {"x1": 2.0, "kind": "crossing", "from": "b", "to": "c"}
    assert slice_rows(result, True) == [
        ["0.5", "-1.0", "crossing", "a", "b"],
        ["0.5", "2.0", "crossing", "b", "c"],
    ]
    assert slice_table_rows(result, True)[0] == ["0.5", "-1.0", "crossing", "a", "b", "yes"]


def test_table_rows_for_empty_and_everywhere() -> None:
    assert slice_table_rows(_slice(roots=()), False) == [["0.5", "none", "", "yes"]]
    assert slice_table_rows(_slice(roots=(), complete=False), True) == [
        ["0.5", "none", "", "", "", "no"]
    ]
    assert slice_table_rows(_slice(roots=(), everywhere=True), False) == [
        ["0.5", "every x1", "everywhere", "yes"]
    ]


def test_rows_into_a_pipe_are_flushed_at_once(tmp_path: Any) -> None:
    read_end, write_end = os.pipe()
    with (
        os.fdopen(write_end, "w") as pipe,
        os.fdopen(read_end, "r") as reader,
        Renderer("csv", pipe, ["a", "b"], HEADER) as r,
    ):
        r.add(None, [["1", "2"]])
        # Readable before the renderer ends: nothing waits in the buffer.
        assert os.read(reader.fileno(), 100) == b"a,b\n1,2\n"
    with (tmp_path / "out.csv").open("w") as file:
        r = Renderer("csv", file, ["a", "b"], HEADER)
        assert not r._live  # a file is flushed by time, not row by row
