"""Comparing solutions with an expected CSV written by ``netbound solve --format csv``.

The file's columns are those ``solve`` writes (docs/output-formats.md): the swept input,
the solved-for input and ``kind``, then ``from,to`` (``--argmax``) and ``lo,hi``
(``--enclosures``).  Rows of one slice are consecutive with strictly increasing roots, so a
slice ends where the swept value changes, where a root does not increase (the same value
given twice), or after a ``none`` or ``everywhere`` row (``--all-slices``).
"""

from __future__ import annotations

import csv
import math
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from netbound.errors import DataError
from netbound.network import Network
from netbound.solver import SliceResult
from netbound.sweeps import cut, shorten

ROOT_KINDS = ("crossing", "touching")
SLICE_KINDS = ("none", "everywhere")
#: Roots listed in full in a message; more are summarised.
LISTED = 6


@dataclass(frozen=True)
class ExpectedRoot:
    x1: float
    kind: str
    from_output: str = ""
    to_output: str = ""
    enclosure: tuple[float, float] | None = None


@dataclass
class ExpectedSlice:
    """One slice of the expected file: its roots, or a row saying it has none or is all boundary."""

    x2: float
    roots: list[ExpectedRoot] = field(default_factory=list)
    everywhere: bool = False
    empty: bool = False  # an explicit ``none`` row


@dataclass
class Expected:
    """The slices an expected CSV lists, in file order."""

    slices: list[ExpectedSlice] = field(default_factory=list)
    argmax: bool = False
    enclosures: bool = False

    @property
    def x2(self) -> list[float]:
        return [s.x2 for s in self.slices]

    @property
    def n_roots(self) -> int:
        return sum(len(s.roots) for s in self.slices)


def read_expected(
    path: Path | str, network: Network, names: tuple[str, str] | None = None
) -> Expected:
    """Read an expected CSV (header ``x2,x1,kind`` in the network's input names); ``-`` is stdin.

    ``names`` are the solved-for and the swept input (default the first two inputs), the
    second and the first column.

    Raises
    ------
    DataError
        The file is missing, has another header, or a row is malformed.
    """
    name = "<stdin>" if str(path) == "-" else str(path)
    try:
        text = sys.stdin.read() if str(path) == "-" else Path(path).read_text("utf-8-sig")
    except OSError as exc:
        raise DataError(f"{name}: cannot read the expected CSV ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise DataError(f"{name}: not UTF-8 text; expected a CSV from 'netbound solve'") from None
    try:
        rows = list(csv.reader(text.splitlines()))
    except csv.Error as exc:
        raise DataError(f"{name}: not a valid CSV ({exc})") from None
    if not rows:
        raise DataError(f"{name}: empty; expected the CSV written by 'netbound solve --format csv'")
    solve_for, sweep = names or (network.input_names[0], network.input_names[1])
    header = [h.strip() for h in rows[0]]
    plain = [sweep, solve_for, "kind"]
    out = Expected()
    extra = header[3:]
    if header[:3] == plain and extra in (
        [],
        ["from", "to"],
        ["lo", "hi"],
        ["from", "to", "lo", "hi"],
    ):
        out.argmax = "from" in extra
        out.enclosures = "lo" in extra
    else:
        raise DataError(
            f"{name}:1: header is {cut(','.join(header))!r}; expected {','.join(plain)!r} "
            "(then ',from,to' for --argmax and ',lo,hi' for --enclosures), as "
            "'netbound solve --format csv' writes it; for other axes give check the "
            "--solve-for and --sweep the file was written with"
        )
    current: ExpectedSlice | None = None
    for lineno, row in enumerate(rows[1:], start=2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != len(header):
            raise DataError(
                f"{name}:{lineno}: {len(row)} fields, expected {len(header)} ({','.join(header)})"
            )
        x2 = _float(row[0], name, lineno, sweep)
        kind = row[2].strip()
        if kind in SLICE_KINDS:
            if row[1].strip():
                raise DataError(
                    f"{name}:{lineno}: a {kind!r} row has no {solve_for} value, got "
                    f"{shorten(row[1].strip())}"
                )
            out.slices.append(
                ExpectedSlice(x2, everywhere=kind == "everywhere", empty=kind == "none")
            )
            current = None
            continue
        if kind not in ROOT_KINDS:
            raise DataError(
                f"{name}:{lineno}: kind {shorten(kind)} is none of crossing, touching, none, "
                "everywhere"
            )
        x1 = _float(row[1], name, lineno, solve_for)
        pair = (row[3].strip(), row[4].strip()) if out.argmax else ("", "")
        enclosure = None
        if out.enclosures and (row[-2].strip() or row[-1].strip()):
            enclosure = (
                _float(row[-2], name, lineno, "lo"),
                _float(row[-1], name, lineno, "hi"),
            )
        root = ExpectedRoot(x1, kind, *pair, enclosure)
        if current is None or current.x2 != x2 or x1 <= current.roots[-1].x1:
            current = ExpectedSlice(x2)
            out.slices.append(current)
        current.roots.append(root)
    if not out.slices:
        raise DataError(f"{name}: no rows; nothing to check")
    return out


def _float(text: str, name: str, lineno: int, column: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise DataError(
            f"{name}:{lineno}: {column} {shorten(text.strip())} is not a number"
        ) from None
    if not math.isfinite(value):
        raise DataError(f"{name}:{lineno}: {column} {text.strip()} is not a finite number")
    return value


def _listed(values: Iterable[float]) -> str:
    items = [repr(v) for v in values]
    if not items:
        return "none"
    if len(items) > LISTED:
        return ", ".join(items[:LISTED]) + f", ... ({len(items)} in all)"
    return ", ".join(items)


def _describe(root: ExpectedRoot | tuple[str, str, str]) -> str:
    kind, a, b = (
        (root.kind, root.from_output, root.to_output) if isinstance(root, ExpectedRoot) else root
    )
    return f"{kind} from {a} to {b}" if a or b else kind


def _matches(
    want: ExpectedRoot, got: float, enclosure: tuple[float, float] | None, tol: float
) -> bool:
    if abs(want.x1 - got) <= tol * max(1.0, abs(want.x1)):
        return True
    if enclosure is not None and enclosure[0] <= want.x1 <= enclosure[1]:
        return True
    return want.enclosure is not None and want.enclosure[0] <= got <= want.enclosure[1]


def compare(
    expected: Expected, results: Iterable[SliceResult], tol: float, sweep: str
) -> list[str]:
    """Lines describing every difference between expected roots and solved ones.

    An expected root matches a solved one within ``tol`` relative to ``max(1, |x1|)``, or
    when it lies in the solved root's enclosure (the interval proven to hold it).
    """
    lines: list[str] = []
    for want, got in zip(expected.slices, results, strict=True):
        where = f"{sweep}={want.x2!r}"
        if want.everywhere or got.everywhere:
            if want.everywhere != got.everywhere:
                lines.append(
                    f"{where}: expected the margin to be zero on the whole line, but it is not"
                    if want.everywhere
                    else f"{where}: the margin is now zero on the whole line (expected "
                    f"{_listed(r.x1 for r in want.roots)})"
                )
            continue
        have = got.roots
        if len(have) != len(want.roots):
            wanted = _listed(r.x1 for r in want.roots)
            lines.append(
                f"{where}: expected {len(want.roots)} root(s) ({wanted}), "
                f"got {len(have)} ({_listed(r.x1 for r in have)})"
            )
        else:
            for w, h in zip(want.roots, have, strict=True):
                if not _matches(w, h.x1, h.enclosure, tol):
                    lines.append(
                        f"{where}: root {w.x1!r} is now {h.x1!r} "
                        f"(differs by {abs(w.x1 - h.x1):.3g} > tol {tol:g})"
                    )
                    continue
                now = (h.kind, h.from_output or "", h.to_output or "")
                if (w.kind, w.from_output, w.to_output) != now:
                    lines.append(f"{where}: root {w.x1!r} was {_describe(w)}, now {_describe(now)}")
        if not got.complete:
            spans = ", ".join(f"[{lo!r}, {hi!r}]" for lo, hi in got.unresolved)
            lines.append(f"{where}: not proven complete (unresolved {spans})")
    return lines
