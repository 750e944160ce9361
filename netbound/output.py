"""Rendering results as a rich table, CSV or JSON: one renderer serves every command.

A command describes its output once -- the JSON header fields, a list of records for the
JSON document and, for each record, the rows of the CSV and of the table -- and
:class:`Renderer` writes whichever format was asked for.  Everything streams in bounded
memory: CSV rows and JSON records are written as they come, and a table longer than
:data:`TABLE_BLOCK` rows is written as plain aligned columns, block by block.  The formats
are described in docs/output-formats.md.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import stat
import time
from collections.abc import Sequence
from typing import Any, Literal, TextIO

from netbound.solver import SliceResult

Format = Literal["table", "csv", "json"]
FORMATS: tuple[Format, ...] = ("table", "csv", "json")
#: Rows a table holds before it is written as plain columns, block by block.
TABLE_BLOCK = 2000
#: Longest wait between flushes of a streamed output, in seconds.
FLUSH_EVERY = 0.2


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
        self._widths: list[int] | None = None  # set once the table streams as plain columns
        self._records = 0
        self._csv = csv.writer(out, lineterminator="\n") if fmt == "csv" else None
        self._flushed = time.monotonic()
        self._live = _is_live(out)

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
        elif self.fmt == "json":
            if record is not None:
                sep = "\n    " if self._records == 0 else ",\n    "
                self.out.write(sep + json.dumps(record))
                self._records += 1
        else:
            self._rows.extend(list(r) for r in (rows if table_rows is None else table_rows))
            if len(self._rows) >= TABLE_BLOCK:
                self._write_plain()
        self._maybe_flush()

    def add_text(self, text: str) -> None:
        """Add CSV rows already joined into text (a batch of rows, each ending in a newline)."""
        if self._csv is None:
            raise ValueError("add_text writes CSV text; this renderer writes " + self.fmt)
        self.out.write(text)
        self._maybe_flush()

    def _maybe_flush(self) -> None:
        """Flush at once into a terminal or a pipe (someone may be reading as it runs), else
        (a file) at most every FLUSH_EVERY seconds."""
        now = time.monotonic()
        if self._live or now - self._flushed >= FLUSH_EVERY:
            self.out.flush()
            self._flushed = now

    def __exit__(self, *exc: object) -> None:
        if exc[0] is not None:
            return
        if self.fmt == "json" and self.list_key is not None:
            self.out.write(("\n  " if self._records else "") + "]\n}\n")
        elif self.fmt == "table" and (self._widths is not None or not self._write_rich()):
            self._write_plain()
        self.out.flush()

    def _write_rich(self) -> bool:
        """Draw the buffered rows as a rich table; False if it would not fit the width."""
        from rich import box
        from rich.console import Console
        from rich.table import Table

        widths = _widths(self.columns, self._rows)
        console = Console(file=self.out, soft_wrap=False)
        if sum(widths) + 3 * len(widths) + 1 > console.width:
            return False
        encodable = _encodable(self.out, "┃━")
        table = Table(
            title=self.title, title_justify="left", box=box.HEAVY_HEAD if encodable else box.ASCII
        )
        for name, width in zip(self.columns, widths, strict=True):
            table.add_column(name, no_wrap=True, min_width=width)
        for row in self._rows:
            table.add_row(*row)
        cells = "".join(self.columns) + "".join("".join(row) for row in self._rows)
        if encodable and _encodable(self.out, cells + (self.title or "")):
            console.print(table)
        else:  # an ASCII or Latin-1 terminal: draw in ASCII, escape what it cannot show
            text = io.StringIO()
            Console(file=text, width=console.width, no_color=True).print(table)
            self.out.write(_escaped(self.out, text.getvalue()))
        return True

    def _write_plain(self) -> None:
        """Write the buffered rows as plain aligned columns (never folding a value)."""
        new = _widths(self.columns, self._rows)
        lines: list[str] = []
        if self._widths is None:
            self._widths = new
            if self.title:
                lines.append(self.title)
            lines.append(_line(self.columns, new))
            lines.append(_line(["-" * w for w in new], new))
        else:
            self._widths = [max(a, b) for a, b in zip(self._widths, new, strict=True)]
        lines.extend(_line(row, self._widths) for row in self._rows)
        self._rows.clear()
        self.out.write(_escaped(self.out, "\n".join(lines) + "\n"))


def _widths(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> list[int]:
    widths = [len(c) for c in columns]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    return widths


def _line(cells: Sequence[str], widths: Sequence[int]) -> str:
    return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()


def _is_live(out: TextIO) -> bool:
    """Whether ``out`` is a terminal, a pipe or a socket: something read while it is written."""
    try:
        mode = os.fstat(out.fileno()).st_mode
    except (AttributeError, ValueError, OSError, io.UnsupportedOperation):
        return False
    return out.isatty() or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


def _encodable(out: TextIO, text: str) -> bool:
    encoding = getattr(out, "encoding", None) or "utf-8"
    try:
        text.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def _escaped(out: TextIO, text: str) -> str:
    """``text`` with what the output's encoding cannot hold written as escapes (``\\u2082``)."""
    encoding = getattr(out, "encoding", None) or "utf-8"
    try:
        return text.encode(encoding, "backslashreplace").decode(encoding)
    except LookupError:
        return text


def _csv_field(text: str) -> str:
    """One CSV field, quoted when it must be (as csv.writer does)."""
    if any(c in text for c in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def slice_columns(names: tuple[str, str], argmax: bool, *, enclosures: bool = False) -> list[str]:
    """CSV columns of solve: sweep, solved-for, kind, [from, to], [lo, hi]."""
    solve_for, sweep = names
    return [
        sweep,
        solve_for,
        "kind",
        *(["from", "to"] if argmax else []),
        *(["lo", "hi"] if enclosures else []),
    ]


def slice_record(result: SliceResult, names: tuple[str, str], argmax: bool) -> dict[str, Any]:
    """The JSON record of one slice (see docs/output-formats.md)."""
    solve_for, sweep = names
    roots = []
    for r in result.roots:
        entry: dict[str, Any] = {solve_for: r.x1, "kind": r.kind}
        if argmax:
            entry["from"] = r.from_output
            entry["to"] = r.to_output
        if r.enclosure is not None:
            entry["enclosure"] = [r.enclosure[0], r.enclosure[1]]
        roots.append(entry)
    return {
        sweep: result.x2,
        "roots": roots,
        "unresolved": [[json_number(lo), json_number(hi)] for lo, hi in result.unresolved],
        "everywhere": result.everywhere,
        "complete": result.complete,
    }


def slice_rows(
    result: SliceResult, argmax: bool, *, enclosures: bool = False, all_slices: bool = False
) -> list[list[str]]:
    """CSV rows of one slice: one per root; with ``all_slices`` also ``x2,,none`` and
    ``x2,,everywhere`` rows."""
    return list(csv.reader(io.StringIO(slices_csv([result], argmax, enclosures, all_slices))))


def slices_csv(
    results: Sequence[SliceResult],
    argmax: bool,
    enclosures: bool = False,
    all_slices: bool = False,
) -> str:
    """The CSV rows of several slices as one text, one line per root.

    With ``all_slices`` a slice without roots gives ``x2,,none`` and a slice whose margin is
    zero on the whole line ``x2,,everywhere``, so that every slice appears in the file.
    """
    blank = "," * ((2 if argmax else 0) + (2 if enclosures else 0))
    lines: list[str] = []
    append = lines.append
    for result in results:
        x2 = repr(result.x2)
        if result.everywhere or not result.roots:
            if all_slices:
                append(f"{x2},,{'everywhere' if result.everywhere else 'none'}{blank}")
            continue
        if not (argmax or enclosures):
            lines.extend([f"{x2},{r.x1!r},{r.kind}" for r in result.roots])
            continue
        for r in result.roots:
            line = f"{x2},{r.x1!r},{r.kind}"
            if argmax:
                line += f",{_csv_field(r.from_output or '')},{_csv_field(r.to_output or '')}"
            if enclosures:
                line += ",," if r.enclosure is None else f",{r.enclosure[0]!r},{r.enclosure[1]!r}"
            append(line)
    return "\n".join(lines) + "\n" if lines else ""


def slice_table_rows(result: SliceResult, argmax: bool) -> list[list[str]]:
    """Table rows of one slice: its roots, its unresolved intervals, or a line saying none."""
    extra = ["", ""] if argmax else []
    complete = "yes" if result.complete else "no"
    rows = [
        [number(result.x2), number(r.x1), r.kind]
        + ([r.from_output or "", r.to_output or ""] if argmax else [])
        + [complete]
        for r in result.roots
    ]
    for lo, hi in result.unresolved:
        rows.append(
            [number(result.x2), f"[{number(lo)}, {number(hi)}]", "unresolved", *extra, "no"]
        )
    if result.everywhere:
        rows.append([number(result.x2), "every x1", "everywhere", *extra, "yes"])
    elif not rows:
        rows.append([number(result.x2), "none", "", *extra, complete])
    return rows
