"""Rendering results as a rich table, CSV or JSON: one renderer serves every command.

A command describes its output once -- the JSON header fields, a list of records for the
JSON document and, for each record, the rows of the CSV and of the table -- and
:class:`Renderer` writes whichever format was asked for.  CSV rows and JSON records are
written as they come, so long sweeps stream in bounded memory; the table is drawn at the end.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Sequence
from typing import Any, Literal, TextIO

from netbound.solver import SliceResult

Format = Literal["table", "csv", "json"]
FORMATS: tuple[Format, ...] = ("table", "csv", "json")


def number(value: float) -> str:
    """Shortest round-trip text of a float (``repr``)."""
    return repr(float(value))


def json_number(value: float) -> float | None:
    """A float for JSON; infinite ends (rays) become null."""
    return float(value) if math.isfinite(value) else None


class Renderer:
    """Writes one command's output in one format.

    Parameters
    ----------
    fmt
        ``table``, ``csv`` or ``json``.
    out
        Where to write (stdout in the CLI).
    columns
        Column names of the CSV and the table.
    header
        The JSON document's fields before the list of records.
    list_key
        The JSON field that holds the records (None: the document is ``header`` alone).
    title
        The table's title.
    """

    def __init__(
        self,
        fmt: Format,
        out: TextIO,
        columns: Sequence[str],
        header: dict[str, Any],
        list_key: str | None = None,
        title: str | None = None,
    ) -> None:
        self.fmt = fmt
        self.out = out
        self.columns = list(columns)
        self.header = header
        self.list_key = list_key
        self.title = title
        self._rows: list[list[str]] = []
        self._records = 0
        self._csv = csv.writer(out, lineterminator="\n") if fmt == "csv" else None

    def __enter__(self) -> Renderer:
        if self._csv is not None:
            self._csv.writerow(self.columns)
        elif self.fmt == "json":
            fields = [f"{json.dumps(k)}: {json.dumps(v)}" for k, v in self.header.items()]
            if self.list_key is None:
                self.out.write("{\n  " + ",\n  ".join(fields) + "\n}\n")
            else:
                fields.append(f"{json.dumps(self.list_key)}: [")
                self.out.write("{\n  " + ",\n  ".join(fields))
        return self

    def add(
        self,
        record: dict[str, Any] | None,
        rows: Sequence[Sequence[str]],
        table_rows: Sequence[Sequence[str]] | None = None,
    ) -> None:
        """Add one record (JSON) with its CSV rows; the table shows ``table_rows`` or the rows."""
        if self._csv is not None:
            self._csv.writerows(rows)
            self.out.flush()
        elif self.fmt == "json":
            if record is not None:
                sep = "\n    " if self._records == 0 else ",\n    "
                self.out.write(sep + json.dumps(record))
                self._records += 1
        else:
            self._rows.extend(list(r) for r in (rows if table_rows is None else table_rows))

    def __exit__(self, *exc: object) -> None:
        if exc[0] is not None:
            self.out.flush()
            return
        if self.fmt == "json" and self.list_key is not None:
            self.out.write(("\n  " if self._records else "") + "]\n}\n")
        elif self.fmt == "table":
            from rich.console import Console
            from rich.table import Table

            table = Table(title=self.title, title_justify="left")
            for name in self.columns:
                table.add_column(name, overflow="fold")
            for row in self._rows:
                table.add_row(*row)
            Console(file=self.out, soft_wrap=False).print(table)
        self.out.flush()


def slice_record(result: SliceResult, names: tuple[str, str], argmax: bool) -> dict[str, Any]:
    """The JSON record of one slice (CONTRACT section 3)."""
    solve_for, sweep = names
    roots = []
    for r in result.roots:
        entry: dict[str, Any] = {solve_for: r.x1, "kind": r.kind}
        if argmax:
            entry["from"] = r.from_output
            entry["to"] = r.to_output
        roots.append(entry)
    return {
        sweep: result.x2,
        "roots": roots,
        "unresolved": [[json_number(lo), json_number(hi)] for lo, hi in result.unresolved],
        "everywhere": result.everywhere,
        "complete": result.complete,
    }


def slice_rows(result: SliceResult, argmax: bool) -> list[list[str]]:
    """CSV rows of one slice: one per root."""
    rows = []
    for r in result.roots:
        row = [number(result.x2), number(r.x1), r.kind]
        if argmax:
            row += [r.from_output or "", r.to_output or ""]
        rows.append(row)
    return rows


def slice_table_rows(result: SliceResult, argmax: bool) -> list[list[str]]:
    """Table rows of one slice: its roots, its unresolved intervals, or a line saying none."""
    extra = ["", ""] if argmax else []
    rows = [[*row, "yes" if result.complete else "no"] for row in slice_rows(result, argmax)]
    for lo, hi in result.unresolved:
        rows.append(
            [number(result.x2), f"[{number(lo)}, {number(hi)}]", "unresolved", *extra, "no"]
        )
    if result.everywhere:
        rows.append([number(result.x2), "every x1", "everywhere", *extra, "yes"])
    elif not rows:
        rows.append([number(result.x2), "none", "", *extra, "yes" if result.complete else "no"])
    return rows
