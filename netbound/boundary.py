"""What is solved: one boundary of a network, resolved once from the user's choices.

A :class:`Boundary` holds the decision (two outputs, a threshold on one output, or the
largest / lowest output), which input is solved for, which one is swept, the values of every
other input, the search window and the margins the solver works on.  ``solve``, ``along``,
``eval`` and the command line build one with :meth:`Boundary.resolve` and read everything
from it, so the choice is checked in one place and described the same way everywhere.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from netbound.errors import DataError, OptionError
from netbound.margin import Margin, default_threshold, margin_between, margin_threshold
from netbound.network import FloatArray, Network

__all__ = ["Boundary", "Decision", "read_at_file"]

Decision = Literal["pair", "threshold", "argmax", "argmin"]


def _input_index(net: Network, name: str, parameter: str, flag: str) -> int:
    if name not in net.input_names:
        known = ", ".join(net.input_names)
        raise OptionError(
            f"{parameter}={name!r}: unknown input; the network's inputs are {known}",
            cli=f"{flag} names unknown input {name!r}; the network's inputs are {known}",
        )
    return net.input_names.index(name)


def _window(value: Any) -> tuple[float, float] | None:
    if value is None:
        return None
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise OptionError(
            f"x1_range={value!r}: expected two numbers (lo, hi)",
            cli=f"--x1-range expects two numbers LO HI, got {value!r}",
        ) from None
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise OptionError(
            f"x1_range=({lo!r}, {hi!r}): both ends must be finite",
            cli=f"--x1-range must be finite, got {lo!r} {hi!r}",
        )
    if not lo < hi:
        raise OptionError(
            f"x1_range=({lo!r}, {hi!r}): needs lo < hi",
            cli=f"--x1-range needs LO < HI, got {lo!r} {hi!r}",
        )
    return (lo, hi)


@dataclass(frozen=True, eq=False)
class Boundary:
    """One boundary of a network, with the line family it is solved along.

    Build it with :meth:`resolve`; every field is then consistent with the network.

    Attributes
    ----------
    network
        The network.
    decision
        ``"pair"`` (``z_a = z_b``), ``"threshold"`` (``z = t``, one output), ``"argmax"`` or
        ``"argmin"`` (where the largest or lowest output changes).
    pair
        The two outputs of a ``"pair"`` boundary, else None.
    threshold
        The level of a ``"threshold"`` boundary (its default filled in), else None.
    solve_for
        Index of the input solved for.
    sweep
        Index of the swept input, or None for a one-input network.
    fixed
        ``(index, value)`` of every other input, in input order.
    window
        The search window of the solved-for input, or None for the whole real line.
    margins
        One margin for a pair or threshold; for argmax/argmin one per pair of outputs, in
        ``itertools.combinations`` order.

    Examples
    --------
    >>> net = Network.from_layers([([[1.0, 2.0, 0.5], [0.0, 1.0, -1.0]], [0.0, 0.1], "identity")])
    >>> b = Boundary.resolve(net, solve_for="x3", sweep="x1", at={"x2": 0.25})
    >>> (b.solve_for_name, b.sweep_name, b.at, b.label)
    ('x3', 'x1', {'x2': 0.25}, 'z1 = z2')
    >>> b.bases([1.0]).tolist()
    [[1.0, 0.25, 0.0]]
    """

    network: Network
    decision: Decision
    pair: tuple[str, str] | None
    threshold: float | None
    solve_for: int
    sweep: int | None
    fixed: tuple[tuple[int, float], ...]
    window: tuple[float, float] | None
    margins: tuple[Margin, ...]

    @classmethod
    def resolve(
        cls,
        network: Network,
        *,
        between: tuple[str, str] | None = None,
        threshold: float | None = None,
        decision: Literal["argmax", "argmin"] | None = None,
        solve_for: str | None = None,
        sweep: str | None = None,
        at: Mapping[str, float] | None = None,
        x1_range: tuple[float, float] | None = None,
    ) -> Boundary:
        """Check the choices against ``network`` and fix every default.

        Parameters
        ----------
        network
            The network.
        between
            Two output names (default the first two, for networks of two or more outputs).
        threshold
            Single-output networks: the boundary ``z = threshold`` (default 0.5 for a sigmoid
            output, 0 otherwise).
        decision
            ``"argmax"`` or ``"argmin"``: where the largest or lowest output changes.
        solve_for, sweep
            Input names (default the first and the second input).
        at
            Values of every other input, by name.
        x1_range
            The search window ``(lo, hi)`` of the solved-for input; default the whole real
            line, or the input's ``[min, max]`` when the network file gives one (NNet).

        Raises
        ------
        OptionError
            An inconsistent choice; the message names the parameter and its value.
        """
        if not isinstance(network, Network):
            raise TypeError(
                f"expected a Network, got {type(network).__name__}; load a file first with "
                "netbound.load(path)"
            )
        net = network
        kind, pair, level, margins = _decision(net, between, threshold, decision)
        solve = 0
        if solve_for is not None:
            solve = _input_index(net, solve_for, "solve_for", "--solve-for")
        if sweep is None:
            swept: int | None = (0 if solve == 1 else 1) if net.n_inputs > 1 else None
        else:
            swept = _input_index(net, sweep, "sweep", "--sweep")
            if swept == solve:
                name = net.input_names[solve]
                raise OptionError(
                    f"sweep={name!r}: the swept input must differ from solve_for={name!r}",
                    cli=f"--sweep {name}: the swept input must differ from the solved one "
                    f"(--solve-for {name})",
                )
        fixed = _fixed(net, at, solve, swept)
        window = _window(x1_range)
        ranges = getattr(net, "input_ranges", None)
        if window is None and ranges is not None:
            lo, hi = ranges[solve]
            if math.isfinite(lo) and math.isfinite(hi) and lo < hi:
                window = (float(lo), float(hi))
        return cls(net, kind, pair, level, solve, swept, fixed, window, margins)

    # -- names and descriptions -----------------------------------------------------------

    @property
    def solve_for_name(self) -> str:
        return self.network.input_names[self.solve_for]

    @property
    def sweep_name(self) -> str | None:
        return None if self.sweep is None else self.network.input_names[self.sweep]

    @property
    def at(self) -> dict[str, float]:
        """The fixed inputs by name."""
        return {self.network.input_names[k]: v for k, v in self.fixed}

    @property
    def by_class(self) -> bool:
        """True for argmax and argmin: roots carry the classes on each side."""
        return self.decision in ("argmax", "argmin")

    @property
    def label(self) -> str:
        """``"z1 = z2"``, ``"z = 0.5"``, ``"argmax of z1, z2, z3"``."""
        names = self.network.output_names
        if self.pair is not None:
            return f"{self.pair[0]} = {self.pair[1]}"
        if self.decision == "threshold":
            return f"{names[0]} = {self.threshold!r}"
        return f"{self.decision} of " + ", ".join(names)

    def header(self) -> dict[str, Any]:
        """The JSON fields that say what was solved: ``between``, ``threshold``, ``decision``
        (argmax and argmin only), ``solve_for``, ``sweep``, ``at``, ``x1_range``."""
        head: dict[str, Any] = {
            "between": list(self.pair) if self.pair is not None else None,
            "threshold": self.threshold,
        }
        if self.by_class:
            head["decision"] = self.decision
        return head | {
            "solve_for": self.solve_for_name,
            "sweep": self.sweep_name,
            "at": self.at,
            "x1_range": list(self.window) if self.window is not None else None,
        }

    def __repr__(self) -> str:
        return (
            f"Boundary({self.label!r}, solve_for={self.solve_for_name!r}, "
            f"sweep={self.sweep_name!r}, at={self.at!r}, window={self.window!r})"
        )

    # -- lines and classes ----------------------------------------------------------------

    def bases(self, values: ArrayLike) -> FloatArray:
        """Input vectors ``(len(values), n_inputs)`` of the lines at these swept values
        (the solved-for entry is 0)."""
        v = np.asarray(values, dtype=np.float64).reshape(-1)
        base = np.zeros((v.size, self.network.n_inputs))
        if self.sweep is not None:
            base[:, self.sweep] = v
        for k, value in self.fixed:
            base[:, k] = value
        return base

    def point(self, solved: float, swept: float) -> FloatArray:
        """The input vector at these values of the solved-for and swept inputs."""
        x: FloatArray = self.bases([swept])[0]
        x[self.solve_for] = solved
        return x

    def classes(self, x: ArrayLike) -> np.ndarray[Any, np.dtype[np.intp]]:
        """The decided class index at inputs ``x`` (..., n_inputs).

        argmax / argmin: the index of the largest / lowest output.  A pair ``(a, b)``: 0 where
        ``pre_a > pre_b``, else 1.  A threshold: 0 above, 1 below.
        """
        pre = self.network.preactivations(x)
        out: np.ndarray[Any, np.dtype[np.intp]]
        if self.decision == "argmax":
            out = np.argmax(pre, axis=-1)
        elif self.decision == "argmin":
            out = np.argmin(pre, axis=-1)
        else:
            out = np.where(np.asarray(self.margins[0].value(x)) > 0.0, 0, 1).astype(np.intp)
        return out

    def class_names(self) -> tuple[str, ...]:
        """Names of the classes :meth:`classes` returns, by index."""
        names = self.network.output_names
        if self.by_class:
            return names
        if self.pair is not None:
            return self.pair
        return (f"{names[0]} > {self.threshold!r}", f"{names[0]} < {self.threshold!r}")


def decision_of(
    argmax: bool, decision: Literal["argmax", "argmin"] | None
) -> Literal["argmax", "argmin"] | None:
    """The decision given the older ``argmax=True`` way or as ``decision``; both at once must
    agree."""
    if argmax and decision not in (None, "argmax"):
        raise OptionError(f"argmax=True contradicts decision={decision!r}")
    return "argmax" if argmax else decision


def _decision(
    net: Network,
    between: tuple[str, str] | None,
    threshold: float | None,
    decision: str | None,
) -> tuple[Decision, tuple[str, str] | None, float | None, tuple[Margin, ...]]:
    if decision is not None:
        if decision not in ("argmax", "argmin"):
            raise OptionError(f"decision={decision!r}: expected 'argmax', 'argmin' or None")
        flag = f"--{decision}"
        if between is not None or threshold is not None:
            raise OptionError(
                f"decision={decision!r} cannot be combined with between or threshold",
                cli=f"{flag} cannot be combined with --between or --threshold",
            )
        if net.n_outputs < 2:
            raise OptionError(
                f"decision={decision!r} needs a network with two or more outputs",
                cli=f"{flag} needs a network with two or more outputs",
            )
        names = net.output_names
        margins = tuple(margin_between(net, a, b) for a, b in combinations(names, 2))
        return decision, None, None, margins  # type: ignore[return-value]
    if net.n_outputs == 1:
        if between is not None:
            raise OptionError(
                f"between={tuple(between)!r}: needs two outputs; this network has one "
                "(give threshold)",
                cli="--between needs two outputs; this network has one (use --threshold)",
            )
        if threshold is not None and not math.isfinite(float(threshold)):
            raise OptionError(f"threshold={threshold!r}: must be finite")
        margin = margin_threshold(net, threshold)
        level = default_threshold(net) if threshold is None else float(threshold)
        return "threshold", None, level, (margin,)
    if threshold is not None:
        raise OptionError(
            f"threshold={threshold!r} is for single-output networks; this one has "
            f"{net.n_outputs} outputs (give between=(A, B))",
            cli=f"--threshold is for single-output networks; this one has {net.n_outputs} "
            "outputs (use --between A B)",
        )
    if between is None:
        a, b = net.output_names[:2]
    else:
        if isinstance(between, str) or len(tuple(between)) != 2:
            raise OptionError(f"between={between!r}: expected two output names (A, B)")
        a, b = (str(v) for v in between)
    return "pair", (a, b), None, (margin_between(net, a, b),)


def _fixed(
    net: Network, at: Mapping[str, float] | None, solve: int, sweep: int | None
) -> tuple[tuple[int, float], ...]:
    given: dict[int, float] = {}
    for name, value in dict(at or {}).items():
        k = _input_index(net, name, "at", "--at")
        if k in (solve, sweep):
            raise OptionError(
                f"at={{{name!r}: {value!r}}}: {name} is the solved or swept input; at sets "
                "only the other inputs",
                cli=f"--at {name}: {name} is the solved or swept input; --at sets only the "
                "other inputs",
            )
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise OptionError(f"at={{{name!r}: {value!r}}}: the value must be a number") from None
        if not math.isfinite(v):
            raise OptionError(
                f"at={{{name!r}: {value!r}}}: the value must be finite",
                cli=f"--at {name}={value!r}: the value must be finite",
            )
        given[k] = v
    missing = [
        net.input_names[k]
        for k in range(net.n_inputs)
        if k not in given and k not in (solve, sweep)
    ]
    if missing:
        names = ", ".join(missing)
        raise OptionError(
            f"at: no value for the input(s) {names}; give at={{name: value}} for each",
            cli="the network has inputs with no value: give "
            + " ".join(f"--at {m}=VALUE" for m in missing)
            + " (or --at-file FILE)",
        )
    return tuple(sorted(given.items()))


def read_at_file(path: str | Path) -> dict[str, float]:
    """Input values by name from a JSON object or a one-row CSV with a header.

    Raises
    ------
    DataError
        The file cannot be read or holds something else; the message names the file.
    """
    label = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise DataError(f"{label}: cannot read the --at file ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise DataError(f"{label}: not UTF-8 text; the --at file is JSON or CSV") from None
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            doc = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise DataError(f"{label}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
        items: Iterable[tuple[str, Any]] = doc.items()
    else:
        rows = [r for r in csv.reader(io.StringIO(stripped)) if any(c.strip() for c in r)]
        if len(rows) != 2:
            raise DataError(
                f"{label}: expected a JSON object or a CSV of a header and one row, got "
                f"{len(rows)} CSV row(s)"
            )
        header, row = rows
        if len(header) != len(row):
            raise DataError(
                f"{label}: the header has {len(header)} field(s) but the row has {len(row)}"
            )
        items = zip((h.strip() for h in header), (c.strip() for c in row), strict=True)
    out: dict[str, float] = {}
    for name, value in items:
        if name in out:
            raise DataError(f"{label}: input {name!r} is given twice")
        try:
            number = float(value) if not isinstance(value, bool) else math.nan
        except (TypeError, ValueError):
            number = math.nan
        if not math.isfinite(number):
            shown = repr(value)[:40]
            raise DataError(f"{label}: the value of {name!r} ({shown}) is not a finite number")
        out[str(name)] = number
    return out


# -- the former helpers of trace, plot and expsum (positional, argmax only) -----------------


def boundary_margins(
    net: Network, between: tuple[str, str] | None, threshold: float | None, argmax: bool
) -> list[Margin]:
    """The margins of a boundary with the first two inputs as the plane (see
    :meth:`Boundary.resolve`); errors in the command line's terms."""
    if net.n_inputs < 2:
        raise OptionError(
            f"the network has {net.n_inputs} input; netbound solves for x1 along lines of "
            "constant x2, which needs at least two inputs"
        )
    try:
        return list(_decision(net, between, threshold, "argmax" if argmax else None)[3])
    except OptionError as exc:
        raise OptionError(exc.cli or str(exc)) from None


def resolve_at(net: Network, at: Mapping[str, float] | None) -> dict[int, float]:
    """Values of the inputs beyond the first two, by index; errors in the command line's
    terms."""
    try:
        return dict(_fixed(net, at, 0, 1 if net.n_inputs > 1 else None))
    except OptionError as exc:
        raise OptionError(exc.cli or str(exc)) from None


def sweep_bases(net: Network, x2: FloatArray, fixed: Mapping[int, float]) -> FloatArray:
    """Input vectors of the lines at these x2 values (x1 = 0)."""
    base = np.zeros((np.size(x2), net.n_inputs))
    base[:, 1] = x2
    for k, v in fixed.items():
        base[:, k] = v
    return base
