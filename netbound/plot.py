"""A picture of the decision regions, with the traced boundary drawn exactly on top.

Needs matplotlib (the ``plot`` extra), imported only when a picture is drawn.  Drawing uses
the Agg canvas directly, without pyplot, so it never touches the user's matplotlib backend.
"""

from __future__ import annotations

import colorsys
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from netbound.boundary import Boundary
from netbound.errors import MissingExtraError, NetboundError, OptionError
from netbound.margin import Margin
from netbound.network import FloatArray, Network
from netbound.trace import (
    Box,
    Progress,
    TraceResult,
    _box_from_roots,
    _check_box,
    _plane_of,
    _rest,
    boundary_box,
    default_box,
    resolve_plane,
    trace,
    trace_boundary,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["FORMATS", "PlotInfo", "default_box", "plot", "plot_boundary", "plot_network"]

#: The file formats, by suffix.
FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}
#: matplotlib's tab10 colours; the regions use them lightened toward white.
_TAB10 = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
#: Share of white mixed into each region's colour (so the black boundary stands out).
_LIGHTEN = 0.5
#: The boundary's colour and width.
BOUNDARY_COLOR = (0.0, 0.0, 0.0)
BOUNDARY_WIDTH = 1.4
#: A closed boundary whose extent in the picture is below this many pixels is drawn as a
#: marker of this size (so that it can be seen at all).
TINY_PIXELS = 3.0
MARKER_SIZE = 6.0
#: The hatching of unresolved cells.
UNRESOLVED_HATCH = "xxxx"
UNRESOLVED_COLOR = (0.35, 0.35, 0.35)

RGB = tuple[float, float, float]


@dataclass(frozen=True, eq=False)
class PlotInfo:
    """What :func:`plot_network` drew.

    Attributes
    ----------
    path
        The file written.
    format
        ``"png"``, ``"svg"`` or ``"pdf"``.
    box
        ``(x1lo, x1hi, x2lo, x2hi)``: the axes' limits.
    trace
        The boundary curves drawn.
    labels
        The legend's name of each region, in colour order (output names; for a threshold,
        ``"z > t"`` and ``"z < t"``).
    colors
        The RGB colour (0..1) of each region, as filled.
    width, height
        The picture's size in pixels (at its dpi).
    to_pixel
        ``(a, b, c, d)``: a point's column is ``a x1 + b`` and its row ``c x2 + d``
        (see :meth:`pixel`).
    """

    path: Path
    format: str
    box: Box
    trace: TraceResult
    labels: tuple[str, ...]
    colors: tuple[RGB, ...]
    width: int
    height: int
    to_pixel: tuple[float, float, float, float]

    def pixel(self, x1: float, x2: float) -> tuple[float, float]:
        """The point ``(x1, x2)`` in the picture, as ``(row, column)`` pixel coordinates.

        Row 0 is the top; pixel ``(i, j)`` covers ``i <= row < i + 1``, ``j <= column < j + 1``
        (exact for a PNG; a PDF or SVG has the same geometry in points at the same dpi).
        """
        ax, bx, ay, by = self.to_pixel
        return ay * x2 + by, ax * x1 + bx


def _palette(n: int) -> list[RGB]:
    """``n`` distinct light colours."""
    out: list[RGB] = []
    for k in range(n):
        if n <= len(_TAB10):
            h = _TAB10[k].lstrip("#")
            rgb = tuple(int(h[i : i + 2], 16) / 255.0 for i in (0, 2, 4))
        else:
            rgb = colorsys.hsv_to_rgb(k / n, 0.75, 0.85)
        r, g, b = (_LIGHTEN + (1.0 - _LIGHTEN) * c for c in rgb)
        out.append((r, g, b))
    return out


def _format(path: Path) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        supported = ", ".join(FORMATS)
        raise OptionError(
            f"cannot tell the picture's format from {path.name!r}: "
            f"give a file name ending in {supported}"
        )
    return fmt


def _require_matplotlib() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise MissingExtraError("plotting needs matplotlib: pip install 'netbound[plot]'") from None
    return matplotlib


def _grid(box: Box, resolution: int) -> tuple[FloatArray, FloatArray]:
    """Cell centres of a ``resolution`` x ``resolution`` grid over the box (rows: x2)."""
    x1lo, x1hi, x2lo, x2hi = box
    i = (np.arange(resolution) + 0.5) / resolution
    xs = x1lo + i * (x1hi - x1lo)
    ys = x2lo + i * (x2hi - x2lo)
    gx, gy = np.meshgrid(xs, ys)
    return gx, gy


def _points(
    gx: FloatArray, gy: FloatArray, base: FloatArray, axes: tuple[int, int] = (0, 1)
) -> FloatArray:
    full = np.broadcast_to(base, (*gx.shape, base.size)).copy()
    full[..., axes[0]] = gx
    full[..., axes[1]] = gy
    return full


def _check_resolution(resolution: int, dpi: float) -> None:
    if not (isinstance(resolution, int | np.integer) and resolution >= 2):
        raise OptionError(f"resolution must be an integer >= 2, got {resolution!r}")
    if not (np.isfinite(dpi) and dpi > 0):
        raise OptionError(f"dpi must be positive, got {dpi!r}")


def plot_boundary(
    net: Network,
    *,
    between: tuple[str, str] | None = None,
    threshold: float | None = None,
    argmax: bool = False,
    decision: Literal["argmax", "argmin"] | None = None,
    solve_for: str | None = None,
    sweep: str | None = None,
    at: Mapping[str, float] | None = None,
    axes: tuple[int, int] | None = None,
) -> Boundary:
    """The boundary :func:`plot_network` draws for these options: as
    :func:`netbound.trace.resolve_plane`, except that a network of three or more outputs
    with no choice of boundary is drawn by its predicted class (argmax)."""
    undecided = not argmax and decision is None and between is None and threshold is None
    if undecided and net.n_outputs >= 3:
        decision = "argmax"
    return resolve_plane(
        net,
        between=between,
        threshold=threshold,
        argmax=argmax,
        decision=decision,
        solve_for=solve_for,
        sweep=sweep,
        at=at,
        axes=axes,
    )


def plot_network(
    net: Network,
    path: str | os.PathLike[str],
    *,
    between: tuple[str, str] | None = None,
    threshold: float | None = None,
    argmax: bool = False,
    decision: Literal["argmax", "argmin"] | None = None,
    solve_for: str | None = None,
    sweep: str | None = None,
    at: Mapping[str, float] | None = None,
    box: Sequence[float] | None = None,
    step: float | None = None,
    resolution: int = 400,
    dpi: float = 100.0,
    title: str | None = None,
    progress: Progress | None = None,
    axes: tuple[int, int] | None = None,
) -> PlotInfo:
    """Draw a network's decision regions and boundary into a PNG, SVG or PDF file.

    Each output's region (where it is the largest; the lowest with ``decision="argmin"``) is
    filled in its own colour -- for a single-output network, the two sides of the threshold
    -- from a grid of ``resolution`` squared cells; the boundary, traced by
    :func:`netbound.trace.trace_network`, is drawn on top.  The axes are named after the
    inputs, the legend after the outputs.

    Parameters
    ----------
    net
        The network.
    path
        The file to write; its suffix (``.png``, ``.svg``, ``.pdf``) picks the format.
    between
        The two outputs whose boundary is drawn (default: the first two; with three or more
        outputs and neither ``between``, ``threshold`` nor ``decision``, the boundary between
        predicted classes, as with ``argmax``).
    threshold
        For single-output networks (default 0.5 for a sigmoid output, 0 otherwise).
    argmax
        Same as ``decision="argmax"``.
    decision
        ``"argmax"`` or ``"argmin"``: draw the boundary between decided classes (where the
        largest, or the lowest, output changes).
    solve_for, sweep
        The inputs on the horizontal and the vertical axis, by name (default the first two).
    at
        Values of the other inputs, by name.
    box
        ``(x1lo, x1hi, x2lo, x2hi)`` of the horizontal and vertical input; default
        :func:`default_box`.
    step
        The trace's step (default the box's diagonal / 200).
    resolution
        Grid cells per axis for the regions.
    dpi
        Pixels per inch (the figure is 7 x 5 inches).
    title
        The title; default names the network and the boundary.
    progress
        Called with what is being done and the fraction done (see
        :func:`netbound.trace.trace_network`).
    axes
        The two inputs spanning the picture, by index (instead of ``solve_for`` and
        ``sweep``).

    Returns
    -------
    PlotInfo
        What was drawn, and where each point of the plane is in the picture.

    Raises
    ------
    OptionError
        An unsupported suffix, inconsistent options, an invalid box.
    MissingExtraError
        matplotlib is not installed.
    NetboundError
        The file cannot be written.
    """
    target = Path(path)
    fmt = _format(target)
    _check_resolution(resolution, dpi)
    _require_matplotlib()
    boundary = plot_boundary(
        net,
        between=between,
        threshold=threshold,
        argmax=argmax,
        decision=decision,
        solve_for=solve_for,
        sweep=sweep,
        at=at,
        axes=axes,
    )
    checked = _check_box(boundary_box(boundary) if box is None else box)
    result = trace_boundary(boundary, checked, step=step, progress=progress)
    gx, gy = _grid(checked, resolution)
    plane, base = _plane_of(boundary)
    points = _points(gx, gy, base, plane)
    if boundary.pair is not None:
        # A pair's boundary is drawn over every output's region.
        classes = np.argmax(net.preactivations(points), axis=-1)
        labels: tuple[str, ...] = net.output_names
    else:
        classes = boundary.classes(points)
        labels = boundary.class_names()
    if title is None:
        title = _title(net, boundary.label, boundary.at)
    return _draw(
        target,
        fmt,
        checked,
        result,
        classes,
        labels,
        (net.input_names[plane[0]], net.input_names[plane[1]]),
        title,
        dpi,
    )


def plot(
    target: Network | Margin,
    path: str | os.PathLike[str],
    *,
    box: Sequence[float] | None = None,
    step: float | None = None,
    at: dict[str, float] | None = None,
    base: Sequence[float] | FloatArray | None = None,
    resolution: int = 400,
    dpi: float = 100.0,
    title: str | None = None,
    progress: Progress | None = None,
) -> PlotInfo:
    """Draw the decision regions and boundary of a network or of a margin.

    A network is drawn as by :func:`plot_network` with its defaults.  A margin (from
    :func:`netbound.margin_between` or :func:`netbound.margin_threshold`) is drawn as its
    two sides, ``margin > 0`` and ``margin < 0``, named after its label (``z1 > z2``).

    Parameters
    ----------
    target
        A network or a margin.
    path
        The file to write: ``.png``, ``.svg`` or ``.pdf``.
    box
        ``(x1lo, x1hi, x2lo, x2hi)``; default where the boundary is.
    step
        The trace's step (default the box's diagonal / 200).
    at
        For a network: values of the inputs beyond the first two, by name.
    base
        For a margin: values of the inputs beyond the first two (all ``n_inputs`` values,
        the first two ignored, or just the others).
    resolution, dpi, title, progress
        As for :func:`plot_network`.

    Returns
    -------
    PlotInfo
        What was drawn.
    """
    if isinstance(target, Network):
        if base is not None:
            raise OptionError("give a network's other inputs by name, with at=")
        return plot_network(
            target,
            path,
            at=at,
            box=box,
            step=step,
            resolution=resolution,
            dpi=dpi,
            title=title,
            progress=progress,
        )
    if at is not None:
        raise OptionError("give a margin's other inputs as a vector, with base=")
    margin = target
    dest = Path(path)
    fmt = _format(dest)
    _check_resolution(resolution, dpi)
    _require_matplotlib()
    net = margin.network
    rest = _rest(net, base)
    if box is None:
        box = _box_from_roots(net, [margin], rest, None)
    checked = _check_box(box)
    result = trace(margin, checked, step, rest, progress=progress)
    gx, gy = _grid(checked, resolution)
    classes = np.where(margin.value(_points(gx, gy, rest)) > 0.0, 0, 1)
    above, below = margin.label.replace(" = ", " > "), margin.label.replace(" = ", " < ")
    if title is None:
        title = _title(net, margin.label, None)
    return _draw(
        dest,
        fmt,
        checked,
        result,
        classes,
        (above, below),
        (net.input_names[0], net.input_names[1]),
        title,
        dpi,
    )


def _title(net: Network, what: str, at: Mapping[str, float] | None) -> str:
    source = net.source
    name = Path(source).name if source and not source.startswith("<") else "network"
    out = f"{name}: boundary {what}"
    if at:
        out += " at " + ", ".join(f"{k}={v:g}" for k, v in at.items())
    return out


def _draw(
    path: Path,
    fmt: str,
    box: Box,
    result: TraceResult,
    classes: Any,
    labels: tuple[str, ...],
    axes: tuple[str, str],
    title: str,
    dpi: float,
) -> PlotInfo:
    # A font without a glyph for a name (an output called "z₁") must not warn on stderr:
    # matplotlib draws a box for it, which is all that can be done.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Gg]lyph.*missing", category=UserWarning)
        warnings.filterwarnings("ignore", message=".*[Mm]issing from font", category=UserWarning)
        return _draw_figure(path, fmt, box, result, classes, labels, axes, title, dpi)


def _draw_figure(
    path: Path,
    fmt: str,
    box: Box,
    result: TraceResult,
    classes: Any,
    labels: tuple[str, ...],
    axes: tuple[str, str],
    title: str,
    dpi: float,
) -> PlotInfo:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    colors = _palette(len(labels))
    image = np.asarray(colors)[classes]
    fig = Figure(figsize=(7.0, 5.0), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    x1lo, x1hi, x2lo, x2hi = box
    ax.imshow(
        image,
        extent=(x1lo, x1hi, x2lo, x2hi),
        origin="lower",
        interpolation="nearest",
        aspect="auto",
    )
    ax.set_xlim(x1lo, x1hi)
    ax.set_ylim(x2lo, x2hi)
    ax.set_xlabel(axes[0])
    ax.set_ylabel(axes[1])
    ax.set_title(title)
    handles: list[Any] = [Patch(facecolor=c, edgecolor="none") for c in colors]
    names = [*labels, "boundary"]
    handles.append(Line2D([], [], color=BOUNDARY_COLOR, linewidth=BOUNDARY_WIDTH))
    # The pixel scale before the legend takes its room: close enough to tell what is tiny.
    fig.canvas.draw()
    scale = _pixel_transform(fig, ax, box)
    tiny = _draw_curves(ax, result, (abs(scale[0]), abs(scale[2])))
    if tiny:
        handles.append(
            Line2D(
                [],
                [],
                linestyle="none",
                marker="o",
                markersize=MARKER_SIZE,
                markerfacecolor="none",
                color=BOUNDARY_COLOR,
            )
        )
        names.append(f"boundary < {TINY_PIXELS:g} px (not to scale)")
    if result.unresolved:
        _draw_unresolved(ax, result)
        handles.append(Patch(facecolor="none", edgecolor=UNRESOLVED_COLOR, hatch=UNRESOLVED_HATCH))
        names.append("unresolved")
    state = "complete" if result.complete else "NOT complete"
    fig.legend(handles, names, loc="outside right upper", title=f"picture {state}")
    fig.canvas.draw()
    to_pixel = _pixel_transform(fig, ax, box)
    try:
        fig.savefig(path, format=fmt, dpi=dpi)
    except OSError as exc:
        raise NetboundError(f"cannot write {path}: {exc.strerror or exc}") from None
    width, height = (round(float(v)) for v in fig.bbox.size)
    return PlotInfo(path, fmt, box, result, labels, tuple(colors), width, height, to_pixel)


def _draw_curves(ax: Axes, result: TraceResult, per_unit: tuple[float, float]) -> int:
    """Draw the curves; a closed one smaller than :data:`TINY_PIXELS` becomes a marker.

    Returns how many were drawn as markers.
    """
    tiny = 0
    for curve in result.curves:
        pts = curve.points
        extent = (np.ptp(pts[:, 0]) * per_unit[0], np.ptp(pts[:, 1]) * per_unit[1])
        if pts.shape[0] == 1 or (curve.closed and max(extent) < TINY_PIXELS):
            centre = pts.mean(axis=0)
            ax.plot(
                [centre[0]],
                [centre[1]],
                linestyle="none",
                marker="o",
                markersize=MARKER_SIZE,
                markerfacecolor="none",
                color=BOUNDARY_COLOR,
            )
            tiny += 1
            continue
        if curve.closed:
            pts = np.concatenate([pts, pts[:1]])
        ax.plot(pts[:, 0], pts[:, 1], color=BOUNDARY_COLOR, linewidth=BOUNDARY_WIDTH)
    return tiny


def _draw_unresolved(ax: Axes, result: TraceResult) -> None:
    """Hatch the unresolved cells, each at least a few pixels wide so that it shows."""
    from matplotlib.collections import PatchCollection
    from matplotlib.patches import Rectangle

    cells = np.array(result.unresolved, dtype=np.float64).reshape(-1, 4)
    x1lo, x1hi, x2lo, x2hi = result.box
    min_w, min_h = 0.004 * (x1hi - x1lo), 0.004 * (x2hi - x2lo)
    rects = []
    for a, b, c, d in cells.tolist():
        w, h = max(b - a, min_w), max(d - c, min_h)
        cx, cy = 0.5 * (a + b), 0.5 * (c + d)
        rects.append(Rectangle((cx - w / 2, cy - h / 2), w, h))
    ax.add_collection(
        PatchCollection(
            rects,
            facecolor="none",
            edgecolor=UNRESOLVED_COLOR,
            hatch=UNRESOLVED_HATCH,
            linewidth=0.5,
        )
    )


def _pixel_transform(fig: Figure, ax: Axes, box: Box) -> tuple[float, float, float, float]:
    """Coefficients of ``column = a x1 + b`` and ``row = c x2 + d`` in the picture."""
    x1lo, x1hi, x2lo, x2hi = box
    corners = ax.transData.transform([[x1lo, x2lo], [x1hi, x2hi]])
    height = float(fig.bbox.height)
    a = (corners[1, 0] - corners[0, 0]) / (x1hi - x1lo)
    b = corners[0, 0] - a * x1lo
    # Display coordinates count up from the bottom; rows count down from the top.
    c = -(corners[1, 1] - corners[0, 1]) / (x2hi - x2lo)
    d = (height - corners[0, 1]) - c * x2lo
    return float(a), float(b), float(c), float(d)
