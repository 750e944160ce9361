"""Every point of a segment (or a whole line) through the input space where the decision
changes, proven complete like :func:`netbound.solve`.

The line ``x = A + t (B - A)`` is folded into the network's first layer, which gives a
network of the single input ``t``; the certified solver then finds every root of its margins
along ``t`` (on ``[0, 1]`` for the segment, on the real line with ``line=True``).  This works
for every activation netbound reads and for any number of inputs.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from netbound.boundary import Boundary
from netbound.errors import DataError, OptionError
from netbound.network import FloatArray, Layer, Network
from netbound.slices import class_roots
from netbound.solver import Kind, _solve_flat
from netbound.sweeps import check_limit, input_limit

__all__ = ["AlongResult", "Change", "along", "line_network", "read_point"]


@dataclass(frozen=True)
class Change:
    """One point where the decision changes along the line.

    Attributes
    ----------
    t
        The line's parameter: the point is ``start + t (end - start)``.
    point
        The input vector there.
    from_output, to_output
        The decided class before and after (increasing t); equal for a ``touching`` root.
    kind
        ``"crossing"`` or ``"touching"``.
    enclosure
        ``(lo, hi)`` in t proven to hold exactly this root, when the solver gives one.
    """

    t: float
    point: FloatArray
    from_output: str
    to_output: str
    kind: Kind
    enclosure: tuple[float, float] | None = None

    def __repr__(self) -> str:
        return (
            f"Change(t={self.t!r}, {self.from_output!r} -> {self.to_output!r}, kind={self.kind!r})"
        )


@dataclass(frozen=True)
class AlongResult:
    """The decision changes along one segment or line.

    Attributes
    ----------
    start, end
        The points A and B.
    line
        True: the whole line through A and B was searched, else the segment ``0 <= t <= 1``.
    changes
        Sorted by t.
    unresolved
        ``(lo, hi)`` intervals of t that may hold a change that could be neither excluded
        nor isolated.
    everywhere
        The margin is identically zero along the line (pair or threshold decisions).
    complete
        Proven: no change lies outside ``changes`` and ``unresolved``.
    boundary
        What was solved (the decision, on the network of t).
    """

    start: FloatArray
    end: FloatArray
    line: bool
    changes: tuple[Change, ...]
    unresolved: tuple[tuple[float, float], ...]
    everywhere: bool
    complete: bool
    boundary: Boundary

    def __repr__(self) -> str:
        return (
            f"AlongResult({len(self.changes)} change(s), unresolved={len(self.unresolved)}, "
            f"complete={self.complete}, line={self.line})"
        )

    def to_json(self, network: str | None = None) -> dict[str, Any]:
        """The JSON document ``netbound along --format json`` prints."""
        from netbound.output import json_number

        return {
            "network": network,
            "decision": self.boundary.label,
            "from": self.start.tolist(),
            "to": self.end.tolist(),
            "line": self.line,
            "results": [
                {
                    "t": c.t,
                    "point": c.point.tolist(),
                    "from": c.from_output,
                    "to": c.to_output,
                    "kind": c.kind,
                    "enclosure": list(c.enclosure) if c.enclosure is not None else None,
                }
                for c in self.changes
            ],
            "unresolved": [[json_number(a), json_number(b)] for a, b in self.unresolved],
            "everywhere": self.everywhere,
            "complete": self.complete,
        }


def _vector(value: ArrayLike, name: str, n: int) -> FloatArray:
    if isinstance(value, str | bytes):
        raise OptionError(f"{name}={value!r}: expected a sequence of numbers, got a string")
    try:
        v = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise OptionError(f"{name}: expected a sequence of {n} numbers") from None
    if v.ndim != 1 or v.size != n:
        raise OptionError(
            f"{name}: expected {n} numbers (one per input), got an array of shape {v.shape}"
        )
    if not np.all(np.isfinite(v)):
        k = int(np.flatnonzero(~np.isfinite(v))[0])
        raise OptionError(f"{name}[{k}] is {float(v[k])!r}; every coordinate must be finite")
    return v


def line_network(network: Network, start: FloatArray, end: FloatArray) -> Network:
    """The network of one input t computing ``network(start + t (end - start))``."""
    first = network.layers[0]
    d = end - start
    w = (first.weights @ d)[:, None]
    b = first.weights @ start + first.biases
    layers = (Layer(w, b, first.activation, first.alpha), *network.layers[1:])
    return Network(layers, ("t",), network.output_names, source=network.source)


def along(
    network: Network,
    start: ArrayLike,
    end: ArrayLike,
    *,
    line: bool = False,
    between: tuple[str, str] | None = None,
    threshold: float | None = None,
    decision: Literal["argmax", "argmin"] | None = None,
) -> AlongResult:
    """Every point between ``start`` and ``end`` where the network's decision changes.

    Parameters
    ----------
    network
        The network.
    start, end
        Two input vectors A and B (one value per input).
    line
        Search the whole line through A and B instead of the segment.
    between, threshold, decision
        The decision, as in :func:`netbound.solve`.  Default: the largest output
        (``"argmax"``) for two or more outputs, the threshold for one output.

    Returns
    -------
    AlongResult
        The changes with t, the point and the classes on each side.

    Raises
    ------
    OptionError
        A point of the wrong size, with a non-finite coordinate or one so large that the
        network's pre-activations could overflow, A equal to B, or an inconsistent decision.

    Examples
    --------
    >>> net = Network.from_layers([([[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0], "identity")])
    >>> result = along(net, [0.0, 1.0], [1.0, 0.0])
    >>> [(c.t, c.from_output, c.to_output) for c in result.changes], result.complete
    ([(0.5, 'z2', 'z1')], True)
    """
    if not isinstance(network, Network):
        raise TypeError(
            f"along takes a Network, got {type(network).__name__}; load a file first with "
            "netbound.load(path)"
        )
    a = _vector(start, "start", network.n_inputs)
    b = _vector(end, "end", network.n_inputs)
    if np.array_equal(a, b):
        raise OptionError("start and end are the same point; give two different points")
    # Past the overflow limit the rounding bounds no longer hold (a 128x128 leaky-ReLU net
    # gave no change, complete, on a segment at 1e160 that holds two).  The segment's points
    # are convex combinations of A and B, so checking those covers it.
    limit = input_limit(network)
    for what, point in (("start", a), ("end", b)):
        _check_within(point, limit, what, network.input_names)
    if decision is None and between is None and threshold is None and network.n_outputs > 1:
        decision = "argmax"
    net_t = line_network(network, a, b)
    boundary = Boundary.resolve(net_t, between=between, threshold=threshold, decision=decision)
    window = None if line else (0.0, 1.0)
    base = np.zeros((1, 1))
    d = b - a
    names = boundary.class_names()
    if boundary.by_class:
        ((roots, unresolved, complete, _),) = class_roots(boundary, base, 0, window)
        changes = tuple(
            Change(
                r.x1,
                a + r.x1 * d,
                r.from_output or "",
                r.to_output or "",
                r.kind,
                r.enclosure,
            )
            for r in roots
        )
        return AlongResult(
            a, b, line, changes, tuple(unresolved), False, complete and not unresolved, boundary
        )
    flat = _solve_flat(boundary.margins[0], base, 0, window)
    lo = getattr(flat, "lo", None)
    hi = getattr(flat, "hi", None)
    out = []
    for i, (t, kind) in enumerate(zip(flat.t, flat.kind, strict=True)):
        step = 1e-7 * max(1.0, abs(t))
        sides = boundary.classes(np.array([[t - step], [t + step]]))
        left, right = names[int(sides[0])], names[int(sides[1])]
        if kind == "crossing" and left == right:
            f = boundary.margins[0].value(np.array([[t + step]]))
            right = names[0] if float(np.asarray(f).reshape(-1)[0]) > 0.0 else names[1]
            left = names[1] if right == names[0] else names[0]
        enclosure = (lo[i], hi[i]) if lo is not None and hi is not None else None
        out.append(Change(t, a + t * d, left, right, kind, enclosure))
    pending = tuple(sorted(flat.unresolved[0]))
    return AlongResult(a, b, line, tuple(out), pending, flat.everywhere[0], not pending, boundary)


def read_point(
    text: str,
    n_inputs: int,
    option: str = "--from",
    limit: float = math.inf,
    names: Sequence[str] = (),
) -> FloatArray:
    """A point given inline (``0.1,0.2,...``) or as a file (.json list, .csv row, .npy).

    ``limit`` is the largest magnitude a coordinate may have (the network's
    :func:`~netbound.sweeps.input_limit`); ``names`` the inputs' names for that message.

    Raises
    ------
    DataError
        The file cannot be read or holds something else.
    OptionError
        The point has the wrong number of values, or one beyond ``limit``.
    """
    p = Path(text)
    suffix = p.suffix.lower()
    if suffix in (".json", ".csv", ".npy") or p.is_file():
        values = _read_point_file(p, suffix)
        label = str(p)
    else:
        try:
            values = [float(v) for v in text.split(",")]
        except ValueError:
            raise OptionError(
                f"{option} {text[:80]!r}: not a list of numbers (0.1,0.2,...) nor a "
                ".json, .csv or .npy file"
            ) from None
        label = option
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    if v.size != n_inputs:
        raise OptionError(
            f"{label}: the point has {v.size} value(s); the network has {n_inputs} inputs"
        )
    if not np.all(np.isfinite(v)):
        k = int(np.flatnonzero(~np.isfinite(v))[0])
        raise OptionError(
            f"{label}: value {k + 1} is {float(v[k])!r}; every coordinate must be finite"
        )
    _check_within(v, limit, label, names)
    return v


def _check_within(point: FloatArray, limit: float, label: str, names: Sequence[str]) -> None:
    """Refuse a point with a coordinate beyond ``limit``, naming it by ``label`` and the
    input's name (or its position where ``names`` has none)."""
    for k, x in enumerate(point.tolist()):
        check_limit(x, limit, f"{label} {names[k] if k < len(names) else f'value {k + 1}'}:")


def _read_point_file(p: Path, suffix: str) -> list[float]:
    try:
        if suffix == ".npy":
            arr = np.load(p, allow_pickle=False)
            if not np.issubdtype(arr.dtype, np.number):
                raise DataError(f"{p}: holds {arr.dtype} values; expected numbers")
            return [float(v) for v in np.asarray(arr, dtype=np.float64).reshape(-1)]
        text = p.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise DataError(f"{p}: cannot read the point ({exc.strerror or exc})") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"{p}: not a readable point file ({str(exc)[:80]})") from None
    if suffix == ".json":
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(f"{p}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
        flat = np.asarray(doc, dtype=object).reshape(-1) if isinstance(doc, list) else None
        if flat is None or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in flat
        ):
            raise DataError(f"{p}: expected a JSON list of numbers")
        return [float(v) for v in flat]
    rows = [r for r in csv.reader(io.StringIO(text)) if any(c.strip() for c in r)]
    numeric = []
    for r in rows:
        try:
            numeric.append([float(c) for c in r])
        except ValueError:
            continue  # a header
    if len(numeric) != 1:
        raise DataError(
            f"{p}: expected one row of numbers (after an optional header), got {len(numeric)}"
        )
    return numeric[0]
