"""The values of a sweep: evenly spaced ranges and files of values, both produced lazily.

Nothing here holds more than one block of values, so ``--x2-range 0 1 1000000000000`` or a
file of 10^8 lines starts at once and runs in bounded memory.  Every refusal names the
user's own text and, for files, the line.
"""

from __future__ import annotations

import csv
import math
import sys
from collections.abc import Iterator
from typing import TextIO

import numpy as np

from netbound.errors import DataError, OptionError
from netbound.network import Network

#: Values generated per numpy call.
BLOCK = 65536
#: The largest NUM of a range: beyond 2**53 the index itself is no longer exact.
MAX_COUNT = 2**53
#: Longest piece of a bad line quoted in a message.
SHOWN = 80
#: Largest magnitude any pre-activation may reach.  The solver multiplies two quantities of
#: this size (a width by a slope bound), so their product must stay below the float maximum
#: (1.8e308); at 1e200 the seed network already overflows there.  A heuristic bound.
PREACTIVATION_LIMIT = 1e150


def shorten(text: str, width: int = SHOWN) -> str:
    """``text`` cut to about ``width`` characters, saying how long it was.

    >>> shorten("x" * 1000, 20)
    "'xxxxxxxxxxxxxxxxxxxx...' (1000 characters)"
    """
    if len(text) <= width:
        return repr(text)
    return f"{text[:width]!r}"[:-1] + f"...' ({len(text)} characters)"


def cut(text: str, width: int = SHOWN) -> str:
    """Like :func:`shorten`, without the quotes."""
    if len(text) <= width:
        return text
    return f"{text[:width]}... ({len(text)} characters)"


def count(text: str) -> int:
    """NUM of a range: a positive integer, written ``1000`` or ``1e6``.

    >>> count("1e6")
    1000000
    """
    try:
        value = int(text)
    except ValueError:
        try:
            as_float = float(text)
        except ValueError:
            raise OptionError(f"NUM must be a positive integer, got {shorten(text)}") from None
        if not (math.isfinite(as_float) and as_float.is_integer()):
            raise OptionError(f"NUM must be a positive integer, got {shorten(text)}") from None
        value = int(as_float)
    if value < 1:
        raise OptionError(f"NUM must be a positive integer, got {text}")
    if value > MAX_COUNT:
        raise OptionError(f"NUM must be at most 2**53 = {MAX_COUNT}, got {text}")
    return value


def evenly_spaced(start: float, stop: float, num: int) -> Iterator[float]:
    """``numpy.linspace(start, stop, num)``, value for value, generated a block at a time.

    Any finite ``start`` and ``stop`` work, even when ``stop - start`` overflows.

    >>> list(evenly_spaced(0.0, 1.0, 5))
    [0.0, 0.25, 0.5, 0.75, 1.0]
    >>> list(evenly_spaced(-1e308, 1e308, 3))
    [-1e+308, 0.0, 1e+308]
    """
    if not (math.isfinite(start) and math.isfinite(stop)):
        raise OptionError(f"START and STOP must be finite, got {start!r} {stop!r}")
    if num < 1:
        raise OptionError(f"NUM must be a positive integer, got {num}")
    if num == 1:
        yield float(start)
        return
    div = num - 1
    delta = stop - start
    for first in range(0, num, BLOCK):
        i = np.arange(first, min(num, first + BLOCK), dtype=np.float64)
        if math.isfinite(delta):
            # numpy.linspace's own formula, so that values match it bit for bit.
            step = delta / div
            y = i / div * delta + start if step == 0.0 else i * step + start
        else:  # stop - start overflows: interpolate between the ends instead
            t = i / div
            y = start * (1.0 - t) + stop * t
        if first + BLOCK >= num:
            y[-1] = stop
        yield from y.tolist()


def input_limit(network: Network) -> float:
    """The largest ``|x|`` an input may take so that no pre-activation can overflow.

    A bound on the growth through the layers: each layer's pre-activations are at most its
    largest absolute row sum times the largest value entering it, plus its largest bias;
    sigmoid, tanh and softmax reset the bound to 1.

    >>> net = Network.from_layers([([[2.0, 3.0]], [1.0], "identity")])
    >>> f"{input_limit(net):.3g}"
    '2e+149'
    """
    growth = 1.0  # pre-activation bound per unit of input magnitude, over the layers so far
    offset = 0.0
    worst = 1.0
    for layer in network.layers:
        norm = float(np.max(np.sum(np.abs(layer.weights), axis=1)))
        bias = float(np.max(np.abs(layer.biases)))
        growth, offset = growth * norm, offset * norm + bias
        worst = max(worst, growth)
        if layer.activation in ("sigmoid", "tanh", "softmax"):
            growth, offset = 0.0, 1.0
    return PREACTIVATION_LIMIT / worst


def check_limit(value: float, limit: float, what: str = "", cli: str | None = None) -> None:
    """Refuse ``value`` if ``|value| > limit``, naming the user's value and the limit, as
    ``what`` (and as ``cli`` on the command line, if that differs)."""
    if abs(value) > limit:
        rest = (
            f"{value!r} is too large for this network (its pre-activations would overflow); "
            f"give values with magnitude <= {limit:.3g}"
        )
        raise OptionError(
            f"{what + ' ' if what else ''}{rest}", cli=None if cli is None else f"{cli} {rest}"
        )


def read_values(
    stream: TextIO, label: str, column: str, limit: float = math.inf
) -> Iterator[float]:
    """The values of a file of one number per line, or of a CSV with a ``column`` column.

    Blank lines and lines starting with ``#`` are skipped; quoted fields are read as CSV.
    The file is read line by line, so the values start before the file ends.

    Raises
    ------
    DataError
        A value is not a finite number, the header has no such column, or the file is not
        UTF-8 text; the message gives the line number and the text, cut to 80 characters.
    """
    index: int | None = None
    first = True
    lineno = 0
    try:
        for lineno, line in enumerate(stream, start=1):
            try:  # the common case: one plain number per line
                value = float(line)
            except ValueError:
                pass
            else:
                if index in (None, 0) and math.isfinite(value) and abs(value) <= limit:
                    first = False
                    yield value
                    continue
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            if len(text) > 10_000:  # no number or header is this long: do not parse it
                raise DataError(
                    f"{label}:{lineno}: {shorten(text)} is not a number; the file holds one "
                    f"number per line or a CSV with an {column} column"
                )
            fields = _fields(text)
            if first:
                first = False
                if not _is_number(fields[0]):
                    index = _header(fields, column, label, lineno)
                    continue
            if index is None and len(fields) > 1:
                raise DataError(
                    f"{label}:{lineno}: {shorten(text)} has {len(fields)} fields but the file "
                    f"has no header; give one number per line or a CSV with an {column} column"
                )
            cell = fields[index or 0] if (index or 0) < len(fields) else ""
            try:
                value = float(cell)
            except ValueError:
                raise DataError(
                    f"{label}:{lineno}: {shorten(cell)} is not a number; the file holds one "
                    f"number per line or a CSV with an {column} column"
                ) from None
            if not math.isfinite(value):
                raise DataError(f"{label}:{lineno}: {shorten(cell)} is not a finite number")
            if abs(value) > limit:
                raise DataError(
                    f"{label}:{lineno}: {cell} is too large for this network (its "
                    f"pre-activations would overflow); give values with magnitude <= {limit:.3g}"
                )
            yield value
    except UnicodeDecodeError:
        raise DataError(
            f"{label}:{lineno + 1}: not UTF-8 text; the file holds numbers as plain text"
        ) from None
    except csv.Error as exc:
        raise DataError(f"{label}:{lineno}: not a valid CSV line ({exc})") from None


def open_values(path: str, column: str, limit: float = math.inf) -> Iterator[float]:
    """:func:`read_values` of the file at ``path``; ``-`` is standard input."""
    label = "<stdin>" if path == "-" else path
    if path == "-":
        yield from read_values(sys.stdin, label, column, limit)
        return
    try:
        stream = open(path, encoding="utf-8-sig", newline="")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise DataError(f"{label}: cannot read the {column} file ({exc.strerror})") from None
    with stream:
        yield from read_values(stream, label, column, limit)


def _fields(text: str) -> list[str]:
    if '"' not in text:
        return [f.strip() for f in text.split(",")]
    return [f.strip() for f in next(csv.reader([text], skipinitialspace=True))]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _header(fields: list[str], column: str, label: str, lineno: int) -> int:
    for wanted in (column, "x2"):
        if wanted in fields:
            return fields.index(wanted)
    raise DataError(
        f"{label}:{lineno}: the header has no {column!r} column (columns: "
        f"{cut(', '.join(fields))}); give a CSV with an {column} column or one number "
        "per line"
    )
