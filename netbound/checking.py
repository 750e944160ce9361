"""Comparing solutions with an expected CSV written by ``netbound solve --format csv``."""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

from netbound.errors import DataError
from netbound.network import Network
from netbound.solver import SliceResult


@dataclass
class Expected:
    """The roots an expected CSV lists, grouped by x2 in file order."""

    x2: list[float] = field(default_factory=list)
    roots: list[list[tuple[float, str, str, str]]] = field(default_factory=list)
    argmax: bool = False


def read_expected(path: Path, network: Network) -> Expected:
    """Read an expected CSV (header ``x2,x1,kind`` in the network's input names).

    Raises
    ------
    DataError
        The file is missing, has another header, or a row is malformed.
    """
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise DataError(f"{name}: cannot read the expected CSV ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise DataError(f"{name}: not UTF-8 text; expected a CSV from 'netbound solve'") from None
    rows = list(csv.reader(text.splitlines()))
    if not rows:
        raise DataError(f"{name}: empty; expected the CSV written by 'netbound solve --format csv'")
    sweep, solve_for = network.input_names[1], network.input_names[0]
    header = [h.strip() for h in rows[0]]
    plain = [sweep, solve_for, "kind"]
    out = Expected(argmax=header == [*plain, "from", "to"])
    if header != plain and not out.argmax:
        raise DataError(
            f"{name}:1: header is {','.join(header)!r}; expected {','.join(plain)!r} "
            f"(or with ',from,to' for --argmax), as 'netbound solve --format csv' writes it"
        )
    index: dict[float, int] = {}
    for lineno, row in enumerate(rows[1:], start=2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != len(header):
            raise DataError(
                f"{name}:{lineno}: {len(row)} fields, expected {len(header)} ({','.join(header)})"
            )
        try:
            x2, x1 = float(row[0]), float(row[1])
        except ValueError:
            raise DataError(f"{name}:{lineno}: {row[0]!r} or {row[1]!r} is not a number") from None
        if not (math.isfinite(x2) and math.isfinite(x1)):
            raise DataError(f"{name}:{lineno}: values must be finite")
        kind = row[2].strip()
        if kind not in ("crossing", "touching"):
            raise DataError(f"{name}:{lineno}: kind {kind!r} is neither 'crossing' nor 'touching'")
        extra = (row[3].strip(), row[4].strip()) if out.argmax else ("", "")
        if x2 not in index:
            index[x2] = len(out.x2)
            out.x2.append(x2)
            out.roots.append([])
        out.roots[index[x2]].append((x1, kind, *extra))
    if not out.x2:
        raise DataError(f"{name}: no rows; nothing to check")
    return out


def compare(expected: Expected, results: list[SliceResult], tol: float, sweep: str) -> list[str]:
    """Lines describing every difference between expected roots and solved ones."""
    lines: list[str] = []
    for x2, want, got in zip(expected.x2, expected.roots, results, strict=True):
        where = f"{sweep}={x2!r}"
        have = [(r.x1, r.kind, r.from_output or "", r.to_output or "") for r in got.roots]
        want_sorted = sorted(want)
        if len(have) != len(want_sorted):
            lines.append(
                f"{where}: expected {len(want_sorted)} root(s) "
                f"{[w[0] for w in want_sorted]}, got {len(have)} {[h[0] for h in have]}"
            )
        else:
            for w, h in zip(want_sorted, have, strict=True):
                if abs(w[0] - h[0]) > tol * max(1.0, abs(w[0])):
                    lines.append(
                        f"{where}: root {w[0]!r} is now {h[0]!r} "
                        f"(differs by {abs(w[0] - h[0]):.3g} > tol {tol:g})"
                    )
                elif w[1:] != h[1:]:
                    lines.append(f"{where}: root {w[0]!r} was {w[1:]}, now {h[1:]}")
        if not got.complete:
            lines.append(f"{where}: not proven complete (unresolved {list(got.unresolved)})")
    return lines
