"""The ``netbound`` command line: parses options, calls the library, renders the results.

Heavy imports (numpy, scipy, rich) happen inside the commands, so that ``netbound --version``
and ``--help`` answer at once.
"""

from __future__ import annotations

import functools
import itertools
import math
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

import click

from netbound import __version__
from netbound.errors import DataError, NetboundError, OptionError

if TYPE_CHECKING:
    from netbound.network import Network
    from netbound.output import Format
    from netbound.solver import SliceResult

F = TypeVar("F", bound=Callable[..., Any])


def _reports_errors(func: F) -> F:
    """Turn netbound errors into click's: bad options exit 2, bad files and data exit 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except OptionError as exc:
            raise click.UsageError(str(exc), click.get_current_context()) from None
        except NetboundError as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper  # type: ignore[return-value]


def _format_option(func: F) -> F:
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(["table", "csv", "json"]),
        default="table",
        show_default=True,
        help="table: a readable table; csv: one row per item; json: one object.",
    )(func)


def _boundary_options(func: F) -> F:
    """--between, --threshold, --argmax and --at: which boundary, at which other inputs."""
    options = [
        click.option(
            "--between",
            nargs=2,
            metavar="A B",
            default=None,
            help="The two outputs whose boundary z_A = z_B is sought (default: the first two).",
        ),
        click.option(
            "--threshold",
            type=float,
            default=None,
            metavar="T",
            help="Single-output networks: the boundary z = T (default 0.5 for a sigmoid "
            "output, else 0).",
        ),
        click.option(
            "--argmax",
            is_flag=True,
            help="Three or more outputs: where the predicted class (largest output) changes.",
        ),
        click.option(
            "--at",
            "at",
            multiple=True,
            metavar="NAME=VALUE",
            help="Value of an input beyond the first two (repeatable).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _parse_at(values: tuple[str, ...]) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in values:
        name, sep, text = item.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(f"{item!r} is not NAME=VALUE", param_hint="'--at'")
        try:
            value = float(text)
        except ValueError:
            raise click.BadParameter(
                f"{item!r}: {text!r} is not a number", param_hint="'--at'"
            ) from None
        if not math.isfinite(value):
            raise click.BadParameter(f"{item!r}: the value must be finite", param_hint="'--at'")
        out[name.strip()] = value
    return out


def _load(path: str) -> Network:
    from netbound.loading import load

    return load(path)


class _Group(click.Group):
    def main(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().main(*args, **kwargs)
        except BrokenPipeError:
            # The reader (head, less) went away: stop quietly, as Unix tools do.
            sys.stderr.close()
            sys.exit(1)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="netbound")
def main() -> None:
    """Every point of the decision boundary of a small feed-forward network, certified.

    NET is a network file: the layered JSON, the named-edge JSON of the original derivation,
    or an ONNX model (with the onnx extra).  Data goes to stdout, messages to stderr.
    Exit status: 0 success, 1 bad network file or data (or check found a difference),
    2 usage error.
    """


# -- solve ---------------------------------------------------------------------------------


def _x2_values(
    x2: tuple[float, ...],
    x2_range: tuple[float, float, int] | None,
    x2_file: str | None,
    sweep_name: str,
) -> tuple[Iterable[float], int | None]:
    given = sum([bool(x2), x2_range is not None, x2_file is not None])
    if given == 0:
        raise click.UsageError("give the x2 values: --x2 V, --x2-range START STOP NUM or --x2-file")
    if given > 1:
        raise click.UsageError("give only one of --x2, --x2-range and --x2-file")
    if x2:
        for v in x2:
            if not math.isfinite(v):
                raise click.BadParameter(f"{v!r} is not finite", param_hint="'--x2'")
        return list(x2), len(x2)
    if x2_range is not None:
        start, stop, num = x2_range
        if not (math.isfinite(start) and math.isfinite(stop)):
            raise click.BadParameter(
                f"START and STOP must be finite, got {start!r} {stop!r}", param_hint="'--x2-range'"
            )
        if num < 1:
            raise click.BadParameter(f"NUM must be >= 1, got {num}", param_hint="'--x2-range'")
        import numpy as np

        return (float(v) for v in np.linspace(start, stop, num)), num
    assert x2_file is not None
    return _read_x2_file(x2_file, sweep_name), None


def _read_x2_file(path: str, sweep_name: str) -> Iterator[float]:
    """Values from a file of one number per line, or a CSV with an x2 column; '-' is stdin."""
    label = "<stdin>" if path == "-" else path
    if path == "-":
        stream: TextIO = sys.stdin
    else:
        try:
            stream = open(path, encoding="utf-8-sig")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise DataError(f"{label}: cannot read the x2 file ({exc.strerror})") from None
    try:
        yield from _parse_x2_lines(stream, label, sweep_name)
    finally:
        if stream is not sys.stdin:
            stream.close()


def _parse_x2_lines(stream: TextIO, label: str, sweep_name: str) -> Iterator[float]:
    column: int | None = None
    first = True
    try:
        for lineno, line in enumerate(stream, start=1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            fields = [f.strip() for f in text.split(",")]
            if first:
                first = False
                try:
                    float(fields[0])
                except ValueError:
                    names = [f.strip('"') for f in fields]
                    for wanted in (sweep_name, "x2"):
                        if wanted in names:
                            column = names.index(wanted)
                            break
                    else:
                        raise DataError(
                            f"{label}:{lineno}: the header has no {sweep_name!r} column "
                            f"(columns: {', '.join(names)}); give a CSV with an x2 column or "
                            "one number per line"
                        ) from None
                    continue
            if column is None and len(fields) > 1:
                raise DataError(
                    f"{label}:{lineno}: {text!r} has several fields but the file has no header; "
                    "give one number per line or a CSV with an x2 column"
                )
            cell = fields[column or 0] if (column or 0) < len(fields) else ""
            try:
                value = float(cell)
            except ValueError:
                raise DataError(
                    f"{label}:{lineno}: {cell!r} is not a number; the x2 file holds one "
                    "number per line or a CSV with an x2 column"
                ) from None
            if not math.isfinite(value):
                raise DataError(f"{label}:{lineno}: {cell!r} is not a finite number")
            yield value
    except UnicodeDecodeError:
        raise DataError(f"{label}: not UTF-8 text; the x2 file is plain text") from None


def _progress(results: Iterator[SliceResult], total: int | None) -> Iterator[SliceResult]:
    """Show a progress bar on stderr for long sweeps when stderr is a terminal."""
    if not sys.stderr.isatty() or (total is not None and total < 2000):
        yield from results
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    columns = [
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    ]
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("solving slices", total=total)
        for r in results:
            bar.advance(task)
            yield r


@main.command()
@click.argument("net", metavar="NET")
@click.option(
    "--x2", "x2", type=float, multiple=True, metavar="V", help="An x2 value (repeatable)."
)
@click.option(
    "--x2-range",
    nargs=3,
    type=(float, float, int),
    default=None,
    metavar="START STOP NUM",
    help="NUM evenly spaced x2 values from START to STOP inclusive (like numpy.linspace).",
)
@click.option(
    "--x2-file",
    default=None,
    metavar="FILE",
    help="x2 values, one per line or a CSV with an x2 column; '-' reads stdin. Streams.",
)
@click.option(
    "--x1-range",
    nargs=2,
    type=float,
    default=None,
    metavar="LO HI",
    help="Search only LO <= x1 <= HI (default: the whole real line).",
)
@_boundary_options
@_format_option
@_reports_errors
def solve(
    net: str,
    x2: tuple[float, ...],
    x2_range: tuple[float, float, int] | None,
    x2_file: str | None,
    x1_range: tuple[float, float] | None,
    between: tuple[str, str] | None,
    threshold: float | None,
    argmax: bool,
    at: tuple[str, ...],
    fmt: Format,
) -> None:
    """Every x1 on the decision boundary of NET, for each x2.

    For each x2 value, netbound finds every x1 where the network switches between the two
    outputs (z_A = z_B), on the whole real line, and says whether that list is proven
    complete.  Roots are 'crossing' (the predicted side changes) or 'touching' (the
    boundary touches the line).  Intervals where a root could be neither excluded nor
    isolated are reported as 'unresolved', never dropped.

    \b
    Examples:
      netbound solve sample_nets/seed.json --x2 0.5
      netbound solve net.json --x2-range -1 1 21 --format csv
      seq 0 0.01 1 | netbound solve net.json --x2-file - --format json
    """
    from netbound.output import Renderer, slice_record, slice_rows, slice_table_rows
    from netbound.solver import solve_iter

    network = _load(net)
    at_values = _parse_at(at)
    sweep_name = network.input_names[1] if network.n_inputs > 1 else "x2"
    values, total = _x2_values(x2, x2_range, x2_file, sweep_name)
    results = solve_iter(
        network,
        values,
        between=between,
        threshold=threshold,
        argmax=argmax,
        at=at_values,
        x1_range=x1_range,
    )
    # solve_iter and the x2 file are lazy: take the first result before any output, so that
    # a bad option or an unreadable x2 file is reported with nothing written to stdout.
    first = next(results, None)
    if first is not None:
        results = itertools.chain([first], results)
    names = (network.input_names[0], sweep_name)
    columns = [names[1], names[0], "kind"] + (["from", "to"] if argmax else [])
    pair = _pair_label(network, between, threshold, argmax)
    header: dict[str, Any] = {
        "network": net,
        "between": pair,
        "threshold": _threshold_value(network, threshold, argmax),
        "solve_for": names[0],
        "sweep": names[1],
        "at": at_values,
        "x1_range": list(x1_range) if x1_range else None,
    }
    incomplete: list[float] = []
    title = f"{_describe(network, pair, header['threshold'])}: every {names[0]} on the boundary"
    with Renderer(
        fmt,
        sys.stdout,
        [*columns, "complete"] if fmt == "table" else columns,
        header,
        "results",
        title,
    ) as out:
        for result in _progress(results, total):
            if not result.complete:
                incomplete.append(result.x2)
            out.add(
                slice_record(result, names, argmax),
                slice_rows(result, argmax),
                slice_table_rows(result, argmax),
            )
    if incomplete and fmt != "json":
        click.echo(
            f"netbound: warning: {len(incomplete)} slice(s) not proven complete (first at "
            f"{names[1]}={incomplete[0]!r}); see --format json for the unresolved intervals",
            err=True,
        )


def _pair_label(
    network: Network, between: tuple[str, str] | None, threshold: float | None, argmax: bool
) -> list[str] | None:
    if argmax or network.n_outputs == 1:
        return None
    return list(between) if between else list(network.output_names[:2])


def _threshold_value(network: Network, threshold: float | None, argmax: bool) -> float | None:
    if argmax or network.n_outputs != 1:
        return threshold
    from netbound.margin import default_threshold

    return default_threshold(network) if threshold is None else threshold


def _describe(network: Network, pair: list[str] | None, threshold: float | None) -> str:
    if pair is not None:
        return f"{pair[0]} = {pair[1]}"
    if threshold is not None:
        return f"{network.output_names[0]} = {threshold!r}"
    return "argmax of " + ", ".join(network.output_names)


# -- constants -----------------------------------------------------------------------------


@main.command()
@click.argument("net", metavar="NET")
@click.option("--x2", "x2", type=float, required=True, metavar="V", help="The x2 value.")
@_boundary_options
@_format_option
@_reports_errors
def constants(
    net: str,
    x2: float,
    between: tuple[str, str] | None,
    threshold: float | None,
    argmax: bool,
    at: tuple[str, ...],
    fmt: Format,
) -> None:
    """The exponential sum E(x1) of a one-hidden-layer sigmoid network at one x2.

    Multiplying the margin by prod_i (1 + e^{B_i}) turns it into the sum over subsets S of
    the hidden units of C_S exp(sum_{i in S} B_i), with B_i = -(w_x1 x1 + w_x2 x2 + b).
    Lists every term (subset, C_S, its rate in x1 and its offset at this x2), the terms
    merged by equal rate, and the Descartes bound V on the number of roots (counted with
    multiplicity; the true count is V minus an even number).  For H = 3 the labels are the
    derivation's C0..C7.
    """
    from netbound.expsum import network_expsum
    from netbound.output import Renderer, json_number, number

    if argmax:
        raise click.UsageError("constants takes one boundary: use --between, not --argmax")
    if not math.isfinite(x2):
        raise click.BadParameter(f"{x2!r} is not finite", param_hint="'--x2'")
    network = _load(net)
    es = network_expsum(network, x2, between=between, threshold=threshold, at=_parse_at(at))
    header = {
        "network": net,
        "between": _pair_label(network, between, threshold, False),
        "threshold": _threshold_value(network, threshold, False),
        "x2": x2,
        "at": _parse_at(at),
        "descartes_bound": es.descartes_bound,
        "merged": [
            {"rate": m.rate, "sign": m.sign, "log_abs": json_number(m.log_abs)} for m in es.merged
        ],
    }
    title = f"E(x1) at {network.input_names[1]}={x2!r}: Descartes bound V = {es.descartes_bound}"
    columns = ["label", "subset", "coefficient", "rate", "offset"]
    with Renderer(fmt, sys.stdout, columns, header, "terms", title) as out:
        for t in es.terms:
            subset = "{" + ",".join(map(str, t.subset)) + "}"
            out.add(
                {
                    "label": t.label,
                    "subset": list(t.subset),
                    "coefficient": t.coefficient,
                    "rate": t.rate,
                    "offset": t.offset,
                },
                [[t.label, subset, number(t.coefficient), number(t.rate), number(t.offset)]],
            )
    if fmt == "table":
        merged = ", ".join(
            f"{'+' if m.sign > 0 else '-' if m.sign < 0 else '0'}@{m.rate:g}" for m in es.merged
        )
        click.echo(f"merged by rate (sign@rate, increasing rate): {merged}")


# -- eval ----------------------------------------------------------------------------------


@main.command("eval", context_settings={"ignore_unknown_options": True})
@click.argument("net", metavar="NET")
@click.argument("values", nargs=-1, type=float, metavar="V1 V2 ...")
@_boundary_options
@_format_option
@_reports_errors
def eval_command(
    net: str,
    values: tuple[float, ...],
    between: tuple[str, str] | None,
    threshold: float | None,
    argmax: bool,
    at: tuple[str, ...],
    fmt: Format,
) -> None:
    """Run NET on one input vector: every output, the margin and the predicted output.

    The quickest check that a file was loaded the way you meant.  Give one value per input,
    in the network's input order.
    """
    import numpy as np

    from netbound.margin import margin_between, margin_threshold
    from netbound.output import Renderer, number

    network = _load(net)
    if at:
        raise click.UsageError("eval takes every input as a value; --at is for solve")
    for v in values:
        if not math.isfinite(v):
            raise click.BadParameter(f"{v!r} is not finite", param_hint="'V1 V2 ...'")
    if len(values) != network.n_inputs:
        raise click.UsageError(
            f"the network has {network.n_inputs} inputs ({', '.join(network.input_names)}); "
            f"got {len(values)} value(s)"
        )
    x = np.array(values, dtype=np.float64)
    outputs = network.forward(x)
    rows = [[name, number(v)] for name, v in zip(network.input_names, values, strict=True)]
    rows += [[name, number(v)] for name, v in zip(network.output_names, outputs, strict=True)]
    header: dict[str, Any] = {
        "network": net,
        "inputs": dict(zip(network.input_names, map(float, values), strict=True)),
        "outputs": dict(zip(network.output_names, map(float, outputs), strict=True)),
    }
    if network.n_outputs == 1:
        margin = margin_threshold(network, threshold)
        t = _threshold_value(network, threshold, False)
        label = f"margin ({network.output_names[0]} vs {t!r})"
        header["threshold"] = t
    else:
        if threshold is not None:
            raise click.UsageError("--threshold is for single-output networks; use --between")
        a, b = tuple(between) if between else network.output_names[:2]
        margin = margin_between(network, a, b)
        label = f"margin (pre {a} - pre {b})"
        header["between"] = [a, b]
        header["predicted"] = network.output_names[int(np.argmax(outputs))]
        rows.append(["predicted", str(header["predicted"])])
    f = float(margin.value(x))
    header["margin"] = f
    rows.append([label, number(f)])
    with Renderer(fmt, sys.stdout, ["name", "value"], header, None, net) as out:
        out.add(None, rows)


# -- check ---------------------------------------------------------------------------------


@main.command()
@click.argument("net", metavar="NET")
@click.argument("expected", metavar="EXPECTED.csv")
@click.option(
    "--tol",
    type=float,
    default=1e-9,
    show_default=True,
    help="Largest accepted difference of a root, relative to max(1, |x1|).",
)
@_boundary_options
@_reports_errors
def check(
    net: str,
    expected: str,
    tol: float,
    between: tuple[str, str] | None,
    threshold: float | None,
    argmax: bool,
    at: tuple[str, ...],
) -> None:
    """Solve NET at the x2 values of EXPECTED.csv and compare root by root.

    EXPECTED.csv is the output of 'netbound solve --format csv' (with --argmax when it has
    from,to columns).  Prints every difference and exits 1 on any; for CI.
    """
    from netbound.checking import compare, read_expected
    from netbound.solver import solve

    if not (tol >= 0.0 and math.isfinite(tol)):
        raise click.BadParameter(f"must be a finite number >= 0, got {tol!r}", param_hint="'--tol'")
    network = _load(net)
    if network.n_inputs < 2:
        raise OptionError(
            f"the network has {network.n_inputs} input; netbound solves for x1 along lines of "
            "constant x2, which needs at least two inputs"
        )
    table = read_expected(Path(expected), network)
    results = solve(
        network,
        table.x2,
        between=between,
        threshold=threshold,
        argmax=argmax or table.argmax,
        at=_parse_at(at),
    )
    differences = compare(table, results, tol, network.input_names[1])
    for line in differences:
        click.echo(line)
    n = len(table.x2)
    if differences:
        raise click.ClickException(
            f"{expected}: {len(differences)} difference(s) in {n} slice(s) of {net}"
        )
    click.echo(f"{expected}: all {n} slice(s) match ({sum(map(len, table.roots))} roots)", err=True)


# -- import --------------------------------------------------------------------------------


@main.command("import")
@click.argument("model", metavar="MODEL.onnx")
@click.option("-o", "--output", required=True, metavar="NET.json", help="Where to write the JSON.")
@_reports_errors
def import_command(model: str, output: str) -> None:
    """Convert an ONNX model of a feed-forward network into netbound's layered JSON.

    The JSON carries a probe computed from the model, so that a later load proves the
    weights were read the right way round.  Needs the onnx extra:
    pip install 'netbound[onnx]'.
    """
    import json

    from netbound.onnx_import import import_onnx_document

    document = import_onnx_document(Path(model))
    try:
        Path(output).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise click.ClickException(f"{output}: cannot write ({exc.strerror})") from None
    layers = " -> ".join(
        f"{len(layer['weights'])} {layer['activation']}" for layer in document["layers"]
    )
    click.echo(f"wrote {output}: {len(document['inputs'])} inputs -> {layers}", err=True)


# -- trace and plot ------------------------------------------------------------------------


def _box_options(func: F) -> F:
    """--x1-range, --x2-range and --step: the box and the spacing of trace and plot."""
    options = [
        click.option(
            "--x1-range",
            nargs=2,
            type=float,
            default=None,
            metavar="LO HI",
            help="The box's x1 side (default: see below).",
        ),
        click.option(
            "--x2-range",
            nargs=2,
            type=float,
            default=None,
            metavar="LO HI",
            help="The box's x2 side (default: see below).",
        ),
        click.option(
            "--step",
            type=float,
            default=None,
            metavar="S",
            help="Largest distance between consecutive points, 0 < S <= the box's longer side, "
            "at most 100000 grid lines per side (default: the box's diagonal / 200).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _box(
    network: Network,
    x1_range: tuple[float, float] | None,
    x2_range: tuple[float, float] | None,
    between: tuple[str, str] | None,
    threshold: float | None,
    argmax: bool,
    at: dict[str, float],
) -> tuple[float, float, float, float]:
    """The box from the options, each missing side taken from where the boundary is."""
    if x1_range is not None and x2_range is not None:
        return (*x1_range, *x2_range)
    from netbound.trace import default_box

    box = default_box(network, between=between, threshold=threshold, argmax=argmax, at=at)
    x1 = x1_range if x1_range is not None else box[:2]
    x2 = x2_range if x2_range is not None else box[2:]
    return (x1[0], x1[1], x2[0], x2[1])


class _TraceProgress:
    """Draws the library's progress reports with rich on stderr: only when stderr is a
    terminal, and only once the command has run for a second."""

    def __init__(self) -> None:
        import time

        self.clock = time.monotonic
        self.start = self.clock()
        self.enabled = sys.stderr.isatty()
        self.bar: Any = None
        self.task: Any = None

    def __call__(self, stage: str, done: float) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            if self.clock() - self.start < 1.0:
                return
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            columns = [TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn()]
            self.bar = Progress(*columns, console=Console(stderr=True), transient=True)
            self.bar.start()
            self.task = self.bar.add_task(stage, total=1.0)
        self.bar.update(self.task, description=stage, completed=done)

    def __enter__(self) -> _TraceProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


_BOX_HELP = """
    The box: --x1-range and --x2-range; a side not given comes from where the boundary is:
    the bounding box (widened and padded by 10 %) of every root that the certified
    whole-line solve finds on the 11 lines x2 = -5, -4, ..., 5 and the 11 lines
    x1 = -5, ..., 5.  So the default box holds every such root, however far out, and a piece of
    every component that crosses those lines; without any root it is [-5, 5]^2.
"""


@main.command("trace", epilog=_BOX_HELP)
@click.argument("net", metavar="NET")
@_box_options
@_boundary_options
@_format_option
@_reports_errors
def trace_command(
    net: str,
    x1_range: tuple[float, float] | None,
    x2_range: tuple[float, float] | None,
    step: float | None,
    between: tuple[str, str] | None,
    threshold: float | None,
    argmax: bool,
    at: tuple[str, ...],
    fmt: Format,
) -> None:
    """The boundary curves of NET inside a box, as polylines, and what is proven.

    The whole box is searched: the certified roots on grid lines at most S apart seed the
    curves, and every grid cell in which a closed loop could hide (the margin and its
    derivatives may all vanish there) is cut into quarters, down to 2^-22 of the box's
    longer side.  Every curve is followed by predictor-corrector continuation to the box's
    edge or around its loop.  Every point is proven to lie within 1e-9 of the box's size
    from the boundary; every component in the box is among the curves, except where it
    passes through an unresolved cell (a tangency, a singular point, or a margin below what
    float64 can resolve), which is listed and makes the trace incomplete.

    CSV rows are curve,x1,x2 (curves numbered from 1; a closed curve does not repeat its
    first point), with a warning on stderr when the trace is not complete; JSON is
    {"curves": [{"closed": ..., "points": [...]}], "complete": ..., "unresolved":
    [[x1lo, x1hi, x2lo, x2hi], ...], "box": [...], "step": S}.

    \b
    Examples:
      netbound trace sample_nets/seed.json --x1-range -5 5 --x2-range -5 5 --format csv
      netbound trace sample_nets/single.json --format json
    """
    from netbound.output import Renderer, number
    from netbound.trace import trace_network

    network = _load(net)
    at_values = _parse_at(at)
    box = _box(network, x1_range, x2_range, between, threshold, argmax, at_values)
    with _TraceProgress() as progress:
        result = trace_network(
            network,
            box,
            between=between,
            threshold=threshold,
            argmax=argmax,
            at=at_values,
            step=step,
            progress=progress,
        )
    x1_name, x2_name = network.input_names[0], network.input_names[1]
    if fmt == "json":
        import json

        click.echo(json.dumps(result.to_json()))
    elif fmt == "csv":
        with Renderer("csv", sys.stdout, ["curve", x1_name, x2_name], {}) as out:
            for k, curve in enumerate(result.curves, start=1):
                out.add(None, [[str(k), number(a), number(b)] for a, b in curve.points.tolist()])
    else:
        state = "complete" if result.complete else "NOT complete"
        title = (
            f"boundary in [{box[0]:g}, {box[1]:g}] x [{box[2]:g}, {box[3]:g}], "
            f"step {result.step:.3g}, {state}"
        )
        columns = ["curve", "closed", "points", f"first ({x1_name}, {x2_name})", "last"]
        with Renderer("table", sys.stdout, columns, {}, None, title) as out:
            for k, curve in enumerate(result.curves, start=1):
                first, last = curve.points[0], curve.points[-1]
                out.add(
                    None,
                    [
                        [
                            str(k),
                            "yes" if curve.closed else "no",
                            str(len(curve.points)),
                            f"({first[0]:.6g}, {first[1]:.6g})",
                            f"({last[0]:.6g}, {last[1]:.6g})",
                        ]
                    ],
                )
    if result.everywhere:
        click.echo("netbound: the margin is zero everywhere in the box", err=True)
    elif not result.complete:
        cells = len(result.unresolved)
        where = f"{cells} unresolved cell(s)" if cells else "a curve cut short"
        click.echo(
            f"netbound: warning: the trace is not complete ({where}; --format json lists "
            "them): a boundary component may be missing there",
            err=True,
        )


@main.command("plot", epilog=_BOX_HELP)
@click.argument("net", metavar="NET")
@click.option(
    "-o",
    "--output",
    required=True,
    metavar="FILE",
    help="The picture: PNG, SVG or PDF by the file's suffix.",
)
@_box_options
@_boundary_options
@_reports_errors
def plot_command(
    net: str,
    output: str,
    x1_range: tuple[float, float] | None,
    x2_range: tuple[float, float] | None,
    step: float | None,
    between: tuple[str, str] | None,
    threshold: float | None,
    argmax: bool,
    at: tuple[str, ...],
) -> None:
    """A picture of NET's decision regions with the traced boundary on top.

    Each output's region is filled in its own colour (for a single output: the two sides
    of the threshold), the boundary curves of 'netbound trace' are drawn exactly on top,
    the axes are named after the inputs and the legend after the outputs.  Cells the
    search left unresolved are hatched, and the title says whether the picture is complete;
    a closed boundary smaller than 3 pixels is drawn as a marker.  Needs the plot extra:
    pip install 'netbound[plot]'.

    \b
    Example:
      netbound plot sample_nets/seed.json -o seed.png --x1-range -5 5 --x2-range -5 5
    """
    from netbound.plot import plot_network

    network = _load(net)
    at_values = _parse_at(at)
    box = _box(network, x1_range, x2_range, between, threshold, argmax, at_values)
    with _TraceProgress() as progress:
        info = plot_network(
            network,
            Path(output),
            between=between,
            threshold=threshold,
            argmax=argmax,
            at=at_values,
            box=box,
            step=step,
            progress=progress,
        )
    state = "complete" if info.trace.complete else "NOT complete"
    click.echo(
        f"wrote {output}: {len(info.trace.curves)} boundary curve(s) in "
        f"[{box[0]:g}, {box[1]:g}] x [{box[2]:g}, {box[3]:g}], {state}",
        err=True,
    )
    if not info.trace.complete and not info.trace.everywhere:
        click.echo(
            f"netbound: warning: {len(info.trace.unresolved)} unresolved cell(s), hatched in "
            "the picture: a boundary component may be missing there",
            err=True,
        )
