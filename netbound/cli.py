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
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import click

from netbound import __version__
from netbound.errors import NetboundError, OptionError

if TYPE_CHECKING:
    from netbound.boundary import Boundary
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
            raise click.UsageError(exc.cli or str(exc), click.get_current_context()) from None
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
            "--argmin",
            is_flag=True,
            help="Cost networks: where the decision (the lowest output) changes.",
        ),
        click.option(
            "--at",
            "at",
            multiple=True,
            metavar="NAME=VALUE",
            help="Value of an input that is neither solved for nor swept (repeatable).",
        ),
        click.option(
            "--at-file",
            default=None,
            metavar="FILE",
            help="Values of the other inputs: a JSON object or a one-row CSV with a header.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _parse_at(values: tuple[str, ...], at_file: str | None = None) -> dict[str, float]:
    """--at-file's values, then --at's (which take precedence)."""
    out: dict[str, float] = {}
    if at_file is not None:
        from netbound.boundary import read_at_file

        out.update(read_at_file(at_file))
    given: dict[str, str] = {}
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
        if name.strip() in given:
            raise click.BadParameter(
                f"{name.strip()} is given twice ({given[name.strip()]} and {item}); give each "
                "input once",
                param_hint="'--at'",
            )
        given[name.strip()] = item
        out[name.strip()] = value
    return out


def _decision(argmax: bool, argmin: bool) -> Literal["argmax", "argmin"] | None:
    if argmax and argmin:
        raise click.UsageError("give only one of --argmax and --argmin")
    return "argmax" if argmax else "argmin" if argmin else None


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
    from netbound.heap import keep_freed_memory

    keep_freed_memory()


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
    help="Search only LO <= x1 <= HI for the solved-for input (default: the whole real "
    "line; for an NNet file, the input's [min, max]).",
)
@click.option(
    "--solve-for",
    default=None,
    metavar="NAME",
    help="The input solved for (default: the first input).",
)
@click.option(
    "--sweep",
    default=None,
    metavar="NAME",
    help="The input --x2, --x2-range and --x2-file give values to (default: the second).",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="Solve on at most N processes or threads (default: every CPU). Networks with "
    "32x32 or more weights between hidden layers use forked worker processes (Linux) on 512 "
    "or more slices at once, elsewhere threads from 128x128; smaller ones one thread.",
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
    solve_for: str | None,
    sweep: str | None,
    workers: int | None,
    between: tuple[str, str] | None,
    threshold: float | None,
    argmax: bool,
    argmin: bool,
    at: tuple[str, ...],
    at_file: str | None,
    fmt: Format,
) -> None:
    """Every x1 on the decision boundary of NET, for each x2.

    For each x2 value, netbound finds every x1 where the network switches between the two
    outputs (z_A = z_B), on the whole real line, and says whether that list is proven
    complete.  Roots are 'crossing' (the predicted side changes) or 'touching' (the
    boundary touches the line).  Intervals where a root could be neither excluded nor
    isolated are reported as 'unresolved', never dropped.  --solve-for and --sweep choose
    any two inputs for the roles of x1 and x2.

    \b
    Examples:
      netbound solve sample_nets/seed.json --x2 0.5
      netbound solve net.json --x2-range -1 1 21 --format csv
      seq 0 0.01 1 | netbound solve net.json --x2-file - --format json
      netbound solve acas.nnet --argmin --solve-for x2 --sweep x1 --at-file rest.json --x2 0
    """
    from netbound.boundary import Boundary
    from netbound.output import Renderer, slice_columns, slice_record, slice_table_rows, slices_csv
    from netbound.slices import solve_boundary
    from netbound.sweeps import input_limit

    network = _load(net)
    at_values = _parse_at(at, at_file)
    limit = input_limit(network)
    _check_window(x1_range, at_values, limit)
    boundary = Boundary.resolve(
        network,
        between=between,
        threshold=threshold,
        decision=_decision(argmax, argmin),
        solve_for=solve_for,
        sweep=sweep,
        at=at_values,
        x1_range=x1_range,
    )
    sweep_name = boundary.sweep_name or "x2"
    values, total = _x2_values(x2, x2_range, x2_file, sweep_name, limit)
    results = solve_boundary(boundary, values, workers=workers, processes=True)
    # solve_boundary and the x2 file are lazy: take the first result before any output, so
    # that a bad option or an unreadable x2 file is reported with nothing written to stdout.
    first = next(results, None)
    if first is not None:
        results = itertools.chain([first], results)
    names = (boundary.solve_for_name, sweep_name)
    by_class = boundary.by_class
    columns = slice_columns(names, by_class, enclosures=enclosures)
    if fmt == "table":
        columns = [*columns[: 5 if by_class else 3], "complete"]
    header: dict[str, Any] = {"network": net, **boundary.header()}
    notes = _SliceNotes()
    title = f"{boundary.label}: every {names[0]} on the boundary"
    with Renderer(fmt, sys.stdout, columns, header, "results", title) as out:
        for result in _progress(results, total):
            notes.add(result)
            if fmt == "csv":
                out.add_text(slices_csv((result,), by_class, enclosures, all_slices))
            elif fmt == "json":
                out.add(slice_record(result, names, by_class), ())
            else:
                out.add(None, (), slice_table_rows(result, by_class))
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
    argmin: bool,
    at: tuple[str, ...],
    at_file: str | None,
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
    from netbound.boundary import Boundary
    from netbound.expsum import network_expsum
    from netbound.output import Renderer, json_number, number

    if argmax or argmin:
        flag = "--argmax" if argmax else "--argmin"
        raise click.UsageError(f"constants takes one boundary: use --between, not {flag}")
    if not math.isfinite(x2):
        raise click.BadParameter(f"{x2!r} is not finite", param_hint="'--x2'")
    from netbound.sweeps import check_limit, input_limit

    network = _load(net)
    at_values = _parse_at(at, at_file)
    limit = input_limit(network)
    _check_window(None, at_values, limit)
    try:
        check_limit(x2, limit)
    except OptionError as exc:
        raise click.BadParameter(str(exc), param_hint="'--x2'") from None
    boundary = Boundary.resolve(network, between=between, threshold=threshold, at=at_values)
    es = network_expsum(network, x2, between=between, threshold=threshold, at=at_values)
    header = {
        "network": net,
        "between": boundary.header()["between"],
        "threshold": boundary.threshold,
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
    argmin: bool,
    at: tuple[str, ...],
    at_file: str | None,
    fmt: Format,
) -> None:
    """Run NET on one input vector: every output, the margin and the decided output.

    The quickest check that a file was loaded the way you meant.  Give one value per input,
    in the network's input order; inputs given by --at or --at-file are left out of the
    list.  With --argmax or --argmin the decided output is the largest or the lowest.
    """
    import numpy as np

    from netbound.boundary import Boundary
    from netbound.output import Renderer, number

    network = _load(net)
    at_values = _parse_at(at, at_file)
    for v in values:
        if not math.isfinite(v):
            raise click.BadParameter(f"{v!r} is not finite", param_hint="'V1 V2 ...'")
    for name in at_values:
        if name not in network.input_names:
            raise OptionError(
                f"--at names unknown input {name!r}; the network's inputs are "
                f"{', '.join(network.input_names)}"
            )
    free = [name for name in network.input_names if name not in at_values]
    if len(values) != len(free):
        given = f" besides --at ({', '.join(at_values)})" if at_values else ""
        raise click.UsageError(
            f"the network has {network.n_inputs} inputs ({', '.join(network.input_names)}); "
            f"got {len(values)} value(s){given}, expected one for each of {', '.join(free)}"
            if at_values
            else f"the network has {network.n_inputs} inputs "
            f"({', '.join(network.input_names)}); got {len(values)} value(s)"
        )
    by_name = dict(zip(free, values, strict=True)) | at_values
    from netbound.sweeps import check_limit, input_limit

    limit = input_limit(network)
    try:
        for name in network.input_names:
            check_limit(by_name[name], limit, name)
    except OptionError as exc:
        raise click.UsageError(str(exc)) from None
    x = np.array([by_name[name] for name in network.input_names], dtype=np.float64)
    if network.n_outputs > 1 and threshold is not None:
        raise click.UsageError("--threshold is for single-output networks; use --between")
    boundary = Boundary.resolve(
        network,
        between=between,
        threshold=threshold,
        decision=_decision(argmax, argmin),
        solve_for=network.input_names[0],
        sweep=network.input_names[1] if network.n_inputs > 1 else None,
        at={k: float(x[i]) for i, k in enumerate(network.input_names) if i > 1},
    )
    outputs = network.forward(x)
    rows = [[name, number(float(v))] for name, v in zip(network.input_names, x, strict=True)]
    rows += [[name, number(v)] for name, v in zip(network.output_names, outputs, strict=True)]
    header: dict[str, Any] = {
        "network": net,
        "inputs": dict(zip(network.input_names, map(float, x), strict=True)),
        "outputs": dict(zip(network.output_names, map(float, outputs), strict=True)),
    }
    if boundary.decision == "threshold":
        label = f"margin ({network.output_names[0]} vs {boundary.threshold!r})"
        header["threshold"] = boundary.threshold
    elif boundary.pair is not None:
        a, b = boundary.pair
        label = f"margin (pre {a} - pre {b})"
        header["between"] = [a, b]
        header["predicted"] = network.output_names[int(np.argmax(outputs))]
        rows.append(["predicted", str(header["predicted"])])
    else:
        header["decision"] = boundary.decision
        header["predicted"] = network.output_names[int(boundary.classes(x))]
        rows.append([f"predicted ({boundary.decision})", str(header["predicted"])])
    if boundary.pair is not None or boundary.decision == "threshold":
        f = float(boundary.margins[0].value(x))
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
@click.option(
    "--solve-for",
    default=None,
    metavar="NAME",
    help="The input solved for, as the CSV was written (default: the first input).",
)
@click.option(
    "--sweep",
    default=None,
    metavar="NAME",
    help="The swept input, as the CSV was written (default: the second).",
)
@_boundary_options
@_reports_errors
def check(
    net: str,
    expected: str,
    tol: float,
    x1_range: tuple[float, float] | None,
    solve_for: str | None,
    sweep: str | None,
    between: tuple[str, str] | None,
    threshold: float | None,
    argmax: bool,
    argmin: bool,
    at: tuple[str, ...],
    at_file: str | None,
) -> None:
    """Solve NET at the x2 values of EXPECTED.csv and compare root by root.

    EXPECTED.csv is the output of 'netbound solve --format csv' ('-' reads stdin), with
    the same --x1-range, --at, --solve-for, --sweep, --between or --threshold it was
    written with; from,to
    columns mean --argmax, lo,hi columns (--enclosures) are read too, and --all-slices rows
    (x2,,none and x2,,everywhere) are checked as well.  Prints every difference on stdout
    and exits 1 on any; for CI.
    """
    from netbound.boundary import Boundary
    from netbound.checking import compare, read_expected
    from netbound.slices import solve_iter
    from netbound.sweeps import input_limit

    if not (tol >= 0.0 and math.isfinite(tol)):
        raise click.BadParameter(f"must be a finite number >= 0, got {tol!r}", param_hint="'--tol'")
    network = _load(net)
    if network.n_inputs < 2:
        raise OptionError(
            f"the network has {network.n_inputs} input; netbound solves for x1 along lines of "
            "constant x2, which needs at least two inputs"
        )
    at_values = _parse_at(at, at_file)
    _check_window(x1_range, at_values, input_limit(network))
    axes = Boundary.resolve(network, solve_for=solve_for, sweep=sweep, at=at_values)
    names = (axes.solve_for_name, axes.sweep_name or network.input_names[1])
    table = read_expected(expected, network, names)
    decision = _decision(argmax, argmin)
    results = solve_iter(
        network,
        table.x2,
        between=between,
        threshold=threshold,
        decision="argmax" if decision is None and table.argmax else decision,
        solve_for=solve_for,
        sweep=sweep,
        at=at_values,
        x1_range=x1_range,
    )
    progress = _progress(results, len(table.slices), "checking slices")
    differences = compare(table, progress, tol, names[1])
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
@click.argument("model", metavar="MODEL.onnx|MODEL.nnet")
@click.option("-o", "--output", required=True, metavar="NET.json", help="Where to write the JSON.")
@_reports_errors
def import_command(model: str, output: str) -> None:
    """Convert an ONNX model or an NNet file into netbound's layered JSON.

    The JSON carries a probe computed from the model, so that a later load proves the
    weights were read the right way round; an NNet file's input bounds become
    input_ranges.  ONNX needs the onnx extra: pip install 'netbound[onnx]'.
    """
    import json

    if _same_file(model, output):
        raise click.BadParameter(
            f"{output} is the model itself; write the JSON to another file",
            param_hint="'-o'",
        )
    if Path(model).suffix.lower() == ".nnet":
        from netbound.nnet import import_nnet_document

        document = import_nnet_document(Path(model))
    else:
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


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return Path(a).resolve() == Path(b).resolve()


# -- export --------------------------------------------------------------------------------


@main.command("export")
@click.argument("net", metavar="NET")
@click.option(
    "-o",
    "--output",
    required=True,
    metavar="FILE.nnet|FILE.onnx",
    help="Where to write; the format follows the suffix.",
)
@click.option(
    "--dtype",
    type=click.Choice(["float64", "float32"]),
    default="float64",
    show_default=True,
    help="ONNX only: the weights' type (onnxruntime runs LeakyRelu and Softplus in float32 only).",
)
@_reports_errors
def export_command(net: str, output: str, dtype: str) -> None:
    """Write NET as an NNet file (ReLU networks with a linear output) or an ONNX model.

    So that a boundary found here can be cross-checked in a verifier.

    \b
    Examples:
      netbound export net.json -o net.nnet
      netbound export net.json -o net.onnx
    """
    from netbound.export import export

    network = _load(net)
    export(network, output, dtype)
    click.echo(f"wrote {output}", err=True)


# -- along ---------------------------------------------------------------------------------


@main.command("along")
@click.argument("net", metavar="NET")
@click.option(
    "--from",
    "start",
    required=True,
    metavar="A",
    help="The first point: 0.1,0.2,... or a .json list, .csv row or .npy file.",
)
@click.option("--to", "end", required=True, metavar="B", help="The second point, as --from.")
@click.option("--line", is_flag=True, help="Search the whole line through A and B.")
@click.option(
    "--points", is_flag=True, help="CSV: add the coordinates of each point (input names)."
)
@click.option(
    "--between",
    nargs=2,
    metavar="A B",
    default=None,
    help="The decision is which of the two outputs is larger.",
)
@click.option(
    "--threshold", type=float, default=None, metavar="T", help="Single-output networks: z = T."
)
@click.option("--argmax", is_flag=True, help="The largest output decides (the default).")
@click.option("--argmin", is_flag=True, help="Cost networks: the lowest output decides.")
@_format_option
@_reports_errors
def along_command(
    net: str,
    start: str,
    end: str,
    line: bool,
    points: bool,
    between: tuple[str, str] | None,
    threshold: float | None,
    argmax: bool,
    argmin: bool,
    fmt: Format,
) -> None:
    """Every point of the segment from A to B where NET's decision changes, proven complete.

    t = 0 is A and t = 1 is B (with --line, the whole line: any t).  Each change gives t,
    the point and the decided class on each side; 'touching' means the decision is tied
    there without changing.

    \b
    Examples:
      netbound along net.json --from 0,0 --to 1,1
      netbound along mnist.onnx --from a.npy --to b.npy --format json
    """
    from netbound.along import along, read_point
    from netbound.output import Renderer, number
    from netbound.sweeps import input_limit

    network = _load(net)
    limit, names = input_limit(network), network.input_names
    a = read_point(start, network.n_inputs, "--from", limit, names)
    b = read_point(end, network.n_inputs, "--to", limit, names)
    result = along(
        network,
        a,
        b,
        line=line,
        between=between,
        threshold=threshold,
        decision=_decision(argmax, argmin),
    )
    if fmt == "json":
        import json

        click.echo(json.dumps(result.to_json(net)))
    else:
        columns = ["t", "from", "to", "kind"]
        if points and fmt == "csv":
            columns += list(network.input_names)
        title = f"{result.boundary.label} along {'the line' if line else 'the segment'}"
        with Renderer(fmt, sys.stdout, columns, {}, None, title) as out:
            for c in result.changes:
                row = [number(c.t), c.from_output, c.to_output, c.kind]
                if points and fmt == "csv":
                    row += [number(float(v)) for v in c.point]
                out.add(None, [row])
    if result.everywhere:
        click.echo("netbound: warning: the margin is zero everywhere on the line", err=True)
    elif not result.complete:
        click.echo(
            f"netbound: warning: not proven complete: {len(result.unresolved)} unresolved "
            "interval(s); see --format json",
            err=True,
        )


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
        click.option(
            "--solve-for",
            default=None,
            metavar="NAME",
            help="The input on the horizontal axis, x1 of the box (default: the first input).",
        ),
        click.option(
            "--sweep",
            default=None,
            metavar="NAME",
            help="The input on the vertical axis, x2 of the box (default: the second input).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _box(
    boundary: Boundary,
    x1_range: tuple[float, float] | None,
    x2_range: tuple[float, float] | None,
) -> tuple[float, float, float, float]:
    """The box from the options, each missing side taken from where the boundary is."""
    if x1_range is not None and x2_range is not None:
        return (*x1_range, *x2_range)
    from netbound.trace import boundary_box

    box = boundary_box(boundary)
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
    solve_for: str | None,
    sweep: str | None,
    between: tuple[str, str] | None,
    threshold: float | None,
    argmax: bool,
    argmin: bool,
    at: tuple[str, ...],
    at_file: str | None,
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
    [[x1lo, x1hi, x2lo, x2hi], ...], "box": [...], "step": S, "solve_for": NAME,
    "sweep": NAME}, the last two naming the inputs along the box's sides.

    \b
    Examples:
      netbound trace sample_nets/seed.json --x1-range -5 5 --x2-range -5 5 --format csv
      netbound trace sample_nets/single.json --format json
    """
    from netbound.output import Renderer, number
    from netbound.trace import resolve_plane, trace_boundary

    network = _load(net)
    boundary = resolve_plane(
        network,
        between=between,
        threshold=threshold,
        decision=_decision(argmax, argmin),
        solve_for=solve_for,
        sweep=sweep,
        at=_parse_at(at, at_file),
    )
    box = _box(boundary, x1_range, x2_range)
    with _TraceProgress() as progress:
        result = trace_boundary(boundary, box, step=step, progress=progress)
    x1_name, x2_name = boundary.solve_for_name, str(boundary.sweep_name)
    if fmt == "json":
        import json

        click.echo(json.dumps(result.to_json((x1_name, x2_name))))
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
    solve_for: str | None,
    sweep: str | None,
    between: tuple[str, str] | None,
    threshold: float | None,
    argmax: bool,
    argmin: bool,
    at: tuple[str, ...],
    at_file: str | None,
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
    from netbound.plot import plot_boundary, plot_network

    network = _load(net)
    at_values = _parse_at(at, at_file)
    decision = _decision(argmax, argmin)
    options: dict[str, Any] = {
        "between": between,
        "threshold": threshold,
        "decision": decision,
        "solve_for": solve_for,
        "sweep": sweep,
        "at": at_values,
    }
    box = _box(plot_boundary(network, **options), x1_range, x2_range)
    with _TraceProgress() as progress:
        info = plot_network(
            network,
            Path(output),
            **options,
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
