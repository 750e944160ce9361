"""The ``netbound`` command line: parses options, calls the library, renders the results.

Heavy imports (numpy, scipy, rich) happen inside the commands, so that ``netbound --version``
and ``--help`` answer at once.
"""

from __future__ import annotations

import errno
import functools
import itertools
import math
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from netbound import __version__
from netbound.errors import NetboundError, OptionError

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
        if name.strip() in out:
            raise click.BadParameter(
                f"{name.strip()} is given twice ({name.strip()}={out[name.strip()]!r} and "
                f"{item}); give each input once",
                param_hint="'--at'",
            )
        out[name.strip()] = value
    return out


def _load(path: str) -> Network:
    from netbound.loading import load

    return load(path)


#: Exit status when the reader of stdout goes away (``netbound ... | head``): success, as the
#: output that was wanted has been delivered.
CLOSED_PIPE_EXIT = 0
INTERRUPTED_EXIT = 130
#: Errors of writing to stdout that are reported as one line (exit 1).
_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EBADF, errno.EROFS}


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that the final flush at exit cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass  # not a real file (a test's buffer): nothing is flushed to a device at exit


class _Group(click.Group):
    def main(self, *args: Any, **kwargs: Any) -> Any:
        if sys.stderr is not None:
            # Messages name the user's files and units: never fail on an encoding.
            reconfigure = getattr(sys.stderr, "reconfigure", None)
            if reconfigure is not None:
                reconfigure(errors="backslashreplace")
        if sys.stdout is None:  # started with stdout closed (>&-)
            if sys.stderr is not None:
                sys.stderr.write(
                    "Error: standard output is closed; redirect it to a file or /dev/null\n"
                )
            sys.exit(1)
        return super().main(*args, **kwargs)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            value = super().invoke(ctx)
            sys.stdout.flush()  # a full disk shows here, not in the interpreter's exit
            return value
        except BrokenPipeError:
            # The reader (head, less) went away: stop quietly, as Unix tools do.
            _silence_stdout()
            raise click.exceptions.Exit(CLOSED_PIPE_EXIT) from None
        except KeyboardInterrupt:
            _silence_stdout()
            click.echo("\nnetbound: interrupted", err=True)
            raise click.exceptions.Exit(INTERRUPTED_EXIT) from None
        except OSError as exc:
            if exc.errno not in _WRITE_ERRNOS:
                raise
            _silence_stdout()
            raise click.ClickException(f"cannot write the output ({exc.strerror or exc})") from None
        except UnicodeEncodeError as exc:
            _silence_stdout()
            shown = exc.object[exc.start : exc.end]
            raise click.ClickException(
                f"cannot write {shown!a} in the output's encoding ({exc.encoding}); set "
                "PYTHONIOENCODING=utf-8, or use --format json, which escapes it"
            ) from None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="netbound")
def main() -> None:
    """Every point of the decision boundary of a small feed-forward network, certified.

    NET is a network file: the layered JSON, the named-edge JSON of the original derivation,
    or an ONNX model (with the onnx extra).  Data goes to stdout, messages to stderr.
    Exit status: 0 success (also when the reader of a pipe stops early, as head does),
    1 bad network file or data, unwritable output, or check found a difference;
    2 usage error; 130 interrupted.
    """


# -- solve ---------------------------------------------------------------------------------


def _x2_values(
    x2: tuple[float, ...],
    x2_range: tuple[float, float, str] | None,
    x2_file: str | None,
    sweep_name: str,
    limit: float = math.inf,
) -> tuple[Iterable[float], int | None]:
    """The sweep's values, lazily, and their number when known in advance."""
    from netbound import sweeps

    given = sum([bool(x2), x2_range is not None, x2_file is not None])
    if given == 0:
        raise click.UsageError("give the x2 values: --x2 V, --x2-range START STOP NUM or --x2-file")
    if given > 1:
        raise click.UsageError("give only one of --x2, --x2-range and --x2-file")
    try:
        if x2:
            for v in x2:
                if not math.isfinite(v):
                    raise click.BadParameter(f"{v!r} is not finite", param_hint="'--x2'")
                sweeps.check_limit(v, limit)
            return list(x2), len(x2)
        if x2_range is not None:
            start, stop, text = x2_range
            num = sweeps.count(text)
            if not (math.isfinite(start) and math.isfinite(stop)):
                raise click.BadParameter(
                    f"START and STOP must be finite, got {start!r} {stop!r}",
                    param_hint="'--x2-range'",
                )
            sweeps.check_limit(start, limit, "START")
            sweeps.check_limit(stop, limit, "STOP")
            return sweeps.evenly_spaced(start, stop, num), num
    except OptionError as exc:
        hint = "'--x2'" if x2 else "'--x2-range'"
        raise click.BadParameter(str(exc), param_hint=hint) from None
    assert x2_file is not None
    return sweeps.open_values(x2_file, sweep_name, limit), None


def _check_window(x1_range: tuple[float, float] | None, at: dict[str, float], limit: float) -> None:
    """--x1-range and --at values small enough that no pre-activation overflows."""
    from netbound import sweeps

    try:
        for v in x1_range or ():
            sweeps.check_limit(v, limit, "--x1-range")
        for name, v in at.items():
            sweeps.check_limit(v, limit, f"--at {name}")
    except OptionError as exc:
        raise click.UsageError(str(exc)) from None


#: Seconds a command runs before its progress bar appears.
PROGRESS_AFTER = 1.0


def _progress(
    results: Iterator[SliceResult], total: int | None, what: str = "solving slices"
) -> Iterator[SliceResult]:
    """Show a progress bar on stderr when stderr is a terminal and the work lasts more than
    PROGRESS_AFTER seconds (a timer starts the bar, so a slow first chunk shows it too)."""
    if not _isatty(sys.stderr):
        yield from results
        return
    import threading

    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = [
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn() if total is None else TimeRemainingColumn(),
    ]
    bar = Progress(*columns, console=Console(stderr=True), transient=True)
    task = bar.add_task(what, total=total)
    timer = threading.Timer(PROGRESS_AFTER, bar.start)
    timer.daemon = True
    timer.start()
    try:
        for r in results:
            bar.advance(task)
            yield r
    finally:
        timer.cancel()
        timer.join()
        bar.stop()


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


@main.command()
@click.argument("net", metavar="NET")
@click.option(
    "--x2", "x2", type=float, multiple=True, metavar="V", help="An x2 value (repeatable)."
)
@click.option(
    "--x2-range",
    nargs=3,
    type=(float, float, str),
    default=None,
    metavar="START STOP NUM",
    help="NUM evenly spaced x2 values from START to STOP inclusive (like numpy.linspace); "
    "NUM is a positive integer (1000 or 1e3). Generated lazily.",
)
@click.option(
    "--x2-file",
    default=None,
    metavar="FILE",
    help="x2 values, one per line or a CSV with an x2 column; '-' reads stdin. Streams.",
)
@click.option(
    "--all-slices",
    is_flag=True,
    help="CSV: also a row x2,,none for each slice without roots and x2,,everywhere for a "
    "margin that is zero on the whole line.",
)
@click.option(
    "--enclosures",
    is_flag=True,
    help="CSV: add lo,hi columns, the interval proven to hold exactly that root.",
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
    x2_range: tuple[float, float, str] | None,
    x2_file: str | None,
    all_slices: bool,
    enclosures: bool,
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
    from netbound.output import Renderer, slice_columns, slice_record, slice_table_rows, slices_csv
    from netbound.solver import solve_iter
    from netbound.sweeps import input_limit

    network = _load(net)
    at_values = _parse_at(at)
    limit = input_limit(network)
    _check_window(x1_range, at_values, limit)
    sweep_name = network.input_names[1] if network.n_inputs > 1 else "x2"
    values, total = _x2_values(x2, x2_range, x2_file, sweep_name, limit)
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
    columns = slice_columns(names, argmax, enclosures=enclosures)
    if fmt == "table":
        columns = [*columns[: 5 if argmax else 3], "complete"]
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
    notes = _SliceNotes()
    title = f"{_describe(network, pair, header['threshold'])}: every {names[0]} on the boundary"
    with Renderer(fmt, sys.stdout, columns, header, "results", title) as out:
        for result in _progress(results, total):
            notes.add(result)
            if fmt == "csv":
                out.add_text(slices_csv((result,), argmax, enclosures, all_slices))
            elif fmt == "json":
                out.add(slice_record(result, names, argmax), ())
            else:
                out.add(None, (), slice_table_rows(result, argmax))
    notes.warn(names[1], fmt)


class _SliceNotes:
    """What solve says on stderr after the data: slices not proven complete, and slices
    whose margin is zero on the whole line (always, since a CSV without --all-slices cannot
    show them)."""

    def __init__(self) -> None:
        self.incomplete: list[float] = []
        self.everywhere: list[float] = []

    def add(self, result: SliceResult) -> None:
        if not result.complete:
            self.incomplete.append(result.x2)
        if result.everywhere:
            self.everywhere.append(result.x2)

    def warn(self, sweep: str, fmt: Format) -> None:
        if self.everywhere:
            more = f" and {len(self.everywhere) - 1} more slice(s)" if self.everywhere[1:] else ""
            click.echo(
                f"netbound: warning: the margin is zero on the whole line at "
                f"{sweep}={self.everywhere[0]!r}{more}: every point there is on the boundary",
                err=True,
            )
        if self.incomplete and fmt != "json":
            click.echo(
                f"netbound: warning: {len(self.incomplete)} slice(s) not proven complete (first "
                f"at {sweep}={self.incomplete[0]!r}); see --format json for the unresolved "
                "intervals",
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
    from netbound.sweeps import check_limit, input_limit

    network = _load(net)
    at_values = _parse_at(at)
    limit = input_limit(network)
    _check_window(None, at_values, limit)
    try:
        check_limit(x2, limit)
    except OptionError as exc:
        raise click.BadParameter(str(exc), param_hint="'--x2'") from None
    es = network_expsum(network, x2, between=between, threshold=threshold, at=at_values)
    header = {
        "network": net,
        "between": _pair_label(network, between, threshold, False),
        "threshold": _threshold_value(network, threshold, False),
        "x2": x2,
        "at": at_values,
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
    in the network's input order; --at NAME=VALUE gives inputs by name instead (those after
    the positional values).  The margin is that of --between (default the first two
    outputs) or --threshold; with --argmax it is the margin between the two largest outputs.
    """
    import numpy as np

    from netbound.margin import margin_between, margin_threshold
    from netbound.output import Renderer, number

    network = _load(net)
    for v in values:
        if not math.isfinite(v):
            raise click.BadParameter(f"{v!r} is not finite", param_hint="'V1 V2 ...'")
    named = _parse_at(at)
    if len(values) > network.n_inputs:
        raise click.UsageError(
            f"the network has {network.n_inputs} inputs ({', '.join(network.input_names)}); "
            f"got {len(values)} value(s)"
        )
    given = dict(zip(network.input_names, values, strict=False))
    for name, v in named.items():
        if name not in network.input_names:
            raise click.BadParameter(
                f"{name} is not an input; the network's inputs are "
                f"{', '.join(network.input_names)}",
                param_hint="'--at'",
            )
        if name in given:
            raise click.BadParameter(
                f"{name} is already given as a value ({given[name]!r})", param_hint="'--at'"
            )
        given[name] = v
    missing = [name for name in network.input_names if name not in given]
    if missing:
        raise click.UsageError(
            f"the network has {network.n_inputs} inputs ({', '.join(network.input_names)}); "
            f"give a value for {', '.join(missing)} (as V1 V2 ... or --at NAME=VALUE)"
        )
    inputs = [given[name] for name in network.input_names]
    from netbound.sweeps import check_limit, input_limit

    limit = input_limit(network)
    try:
        for name, v in zip(network.input_names, inputs, strict=True):
            check_limit(v, limit, name)
    except OptionError as exc:
        raise click.UsageError(str(exc)) from None
    x = np.array(inputs, dtype=np.float64)
    outputs = network.forward(x)
    rows = [[name, number(v)] for name, v in zip(network.input_names, inputs, strict=True)]
    rows += [[name, number(v)] for name, v in zip(network.output_names, outputs, strict=True)]
    header: dict[str, Any] = {
        "network": net,
        "inputs": dict(zip(network.input_names, map(float, inputs), strict=True)),
        "outputs": dict(zip(network.output_names, map(float, outputs), strict=True)),
    }
    if argmax:
        if between is not None or threshold is not None:
            raise click.UsageError("--argmax cannot be combined with --between or --threshold")
        if network.n_outputs < 2:
            raise click.UsageError("--argmax needs a network with two or more outputs")
        order = np.argsort(-network.preactivations(x), kind="stable")
        between = (network.output_names[int(order[0])], network.output_names[int(order[1])])
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
    help="Largest accepted difference of a root, relative to max(1, |x1|); a root inside "
    "the solved root's enclosure is accepted too.",
)
@click.option(
    "--x1-range",
    nargs=2,
    type=float,
    default=None,
    metavar="LO HI",
    help="Search only LO <= x1 <= HI, as the CSV was written.",
)
@_boundary_options
@_reports_errors
def check(
    net: str,
    expected: str,
    tol: float,
    x1_range: tuple[float, float] | None,
    between: tuple[str, str] | None,
    threshold: float | None,
    argmax: bool,
    at: tuple[str, ...],
) -> None:
    """Solve NET at the x2 values of EXPECTED.csv and compare root by root.

    EXPECTED.csv is the output of 'netbound solve --format csv' ('-' reads stdin), with
    the same --x1-range, --at, --between or --threshold it was written with; from,to
    columns mean --argmax, lo,hi columns (--enclosures) are read too, and --all-slices rows
    (x2,,none and x2,,everywhere) are checked as well.  Prints every difference on stdout
    and exits 1 on any; for CI.
    """
    from netbound.checking import compare, read_expected
    from netbound.solver import solve_iter
    from netbound.sweeps import input_limit

    if not (tol >= 0.0 and math.isfinite(tol)):
        raise click.BadParameter(f"must be a finite number >= 0, got {tol!r}", param_hint="'--tol'")
    network = _load(net)
    if network.n_inputs < 2:
        raise OptionError(
            f"the network has {network.n_inputs} input; netbound solves for x1 along lines of "
            "constant x2, which needs at least two inputs"
        )
    at_values = _parse_at(at)
    _check_window(x1_range, at_values, input_limit(network))
    table = read_expected(expected, network)
    results = solve_iter(
        network,
        table.x2,
        between=between,
        threshold=threshold,
        argmax=argmax or table.argmax,
        at=at_values,
        x1_range=x1_range,
    )
    progress = _progress(results, len(table.slices), "checking slices")
    differences = compare(table, progress, tol, network.input_names[1])
    label = "<stdin>" if expected == "-" else expected
    for line in differences:
        click.echo(line)
    n = len(table.slices)
    if differences:
        raise click.ClickException(
            f"{label}: {len(differences)} difference(s) in {n} slice(s) of {net}"
        )
    click.echo(f"{label}: all {n} slice(s) match ({table.n_roots} roots)", err=True)


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

    if _same_file(model, output):
        raise click.BadParameter(
            f"{output} is the model itself; write the JSON to another file",
            param_hint="'-o'",
        )
    document = import_onnx_document(Path(model))
    try:
        Path(output).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise click.ClickException(f"{output}: cannot write ({exc.strerror})") from None
    layers = " -> ".join(
        f"{len(layer['weights'])} {layer['activation']}" for layer in document["layers"]
    )
    click.echo(f"wrote {output}: {len(document['inputs'])} inputs -> {layers}", err=True)


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return Path(a).resolve() == Path(b).resolve()


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
            help="The box's x1 side (default: where the boundary is).",
        ),
        click.option(
            "--x2-range",
            nargs=2,
            type=float,
            default=None,
            metavar="LO HI",
            help="The box's x2 side (default: where the boundary is).",
        ),
        click.option(
            "--step",
            type=float,
            default=None,
            metavar="S",
            help="Largest distance between consecutive points (default: the box's diagonal "
            "/ 200); every boundary piece that crosses a line x2 = const spaced S apart is found.",
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


@main.command("trace")
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
    """The boundary curves of NET inside a box, as polylines.

    Seeds every curve from the certified roots on lines x2 = const (and x1 = const) spaced at
    most S apart, then follows it by predictor-corrector continuation to the box's edge or
    back to its start (a closed loop).  Every point lies on the boundary to within 1e-9 of
    the box's size.  CSV rows are curve,x1,x2 (curves numbered from 1; a closed curve does
    not repeat its first point); JSON is {"curves": [{"closed": ..., "points": [...]}]}.

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
    result = trace_network(
        network, box, between=between, threshold=threshold, argmax=argmax, at=at_values, step=step
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
        title = (
            f"boundary in [{box[0]:g}, {box[1]:g}] x [{box[2]:g}, {box[3]:g}], "
            f"step {result.step:.3g}"
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
        click.echo(
            "netbound: warning: some seeding lines had unresolved intervals or a curve was "
            "cut short; the curves may be incomplete",
            err=True,
        )


@main.command("plot")
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
    the axes are named after the inputs and the legend after the outputs.  Needs the plot
    extra: pip install 'netbound[plot]'.

    \b
    Example:
      netbound plot sample_nets/seed.json -o seed.png --x1-range -5 5 --x2-range -5 5
    """
    from netbound.plot import plot_network

    network = _load(net)
    at_values = _parse_at(at)
    box = _box(network, x1_range, x2_range, between, threshold, argmax, at_values)
    info = plot_network(
        network,
        Path(output),
        between=between,
        threshold=threshold,
        argmax=argmax,
        at=at_values,
        box=box,
        step=step,
    )
    click.echo(
        f"wrote {output}: {len(info.trace.curves)} boundary curve(s) in "
        f"[{box[0]:g}, {box[1]:g}] x [{box[2]:g}, {box[3]:g}]",
        err=True,
    )
