"""Certified root isolation of the margin along lines, vectorized over all lines at once.

The method (see ``NOTES-certified-roots.md``):

1. Tails.  On the rays ``t >= R`` and ``t <= -R`` the margin is enclosed in an affine form
   (:meth:`Margin.rays`); ``R`` doubles until the sign there is proven.
2. Cells.  ``[-R, R]`` is cut at the first layer's kinks and saturation points.  On each cell
   the margin and its derivative are enclosed (interval and mean-value forms).  A cell whose
   enclosure excludes 0 has no root; a cell on which the margin is monotone has exactly one
   root if the end values differ in sign and none otherwise; every other cell is bisected.
   All cells of all lines are evaluated in one batch per round.
3. Polishing.  Isolated crossings are refined together by Chandrupatla's method
   (``scipy.optimize.elementwise.find_root``).
4. Tangencies.  Cells that shrink to the tangency scale while the margin at their midpoint is
   within its rounding error are merged; the extremum in each cluster (a root of ``f'``) is a
   ``touching`` root if the margin there is within its error, else the cluster is reported
   as ``unresolved``.

Margins of ReLU-family networks are piecewise affine along a line and are solved exactly
instead, piece by piece (:mod:`netbound.piecewise`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import combinations, islice
from typing import Literal, NamedTuple

import numpy as np
from numpy.typing import NDArray

from netbound import piecewise
from netbound.errors import OptionError
from netbound.margin import EPS, IntArray, Margin, margin_between, margin_threshold
from netbound.network import FloatArray, Network

Kind = Literal["crossing", "touching"]
#: Width below which a cell whose midpoint value is lost in rounding stops being split
#: (relative to max(1, |t|)): the scale at which a double root becomes a cluster.
TANGENCY_SCALE = 1e-7
MAX_ROUNDS = 400
MAX_RADIUS_DOUBLINGS = 80
CHUNK = 8192
#: Elements (cells x units) per evaluation block: about 128 KiB per temporary array.
BLOCK_ELEMENTS = 12288


class Root(NamedTuple):
    """One point of the boundary on a line.

    Attributes
    ----------
    x1
        The root (the value of the solved-for input).
    kind
        ``"crossing"`` (the margin changes sign) or ``"touching"`` (a double root).
    from_output, to_output
        With ``argmax``: the predicted class before and after the root (increasing x1).
    enclosure
        ``(lo, hi)``: an interval proven to hold exactly this root (for ``touching``, the
        only extremum of the margin there); ``x1`` lies inside it.
    """

    x1: float
    kind: Kind
    from_output: str | None = None
    to_output: str | None = None
    enclosure: tuple[float, float] | None = None


@dataclass(frozen=True)
class LineSolution:
    """Roots of the margin along one line, in the line's own coordinate."""

    roots: tuple[tuple[float, Kind], ...]
    unresolved: tuple[tuple[float, float], ...]
    everywhere: bool
    complete: bool
    evaluations: int


@dataclass(frozen=True)
class SliceResult:
    """The boundary on the line ``x2 = const``.

    Attributes
    ----------
    x2
        The value of the swept input.
    roots
        Sorted roots.
    unresolved
        ``(lo, hi)`` intervals that may hold a root that could be neither excluded nor
        isolated; an infinite end means a ray.
    everywhere
        The margin is identically zero along the line.
    complete
        Proven: no root lies outside ``roots`` and ``unresolved``.
    evaluations
        Margin evaluations spent on this line (points and cell enclosures).
    """

    x2: float
    roots: tuple[Root, ...]
    unresolved: tuple[tuple[float, float], ...]
    everywhere: bool
    complete: bool
    evaluations: int = field(default=0, compare=False)


# -- the certified solver ---------------------------------------------------------------------


@dataclass
class _Cells:
    lo: FloatArray
    hi: FloatArray
    line: IntArray
    flo: FloatArray
    elo: FloatArray
    fhi: FloatArray
    ehi: FloatArray

    def take(self, mask: NDArray[np.bool_] | IntArray) -> _Cells:
        return _Cells(
            self.lo[mask],
            self.hi[mask],
            self.line[mask],
            self.flo[mask],
            self.elo[mask],
            self.fhi[mask],
            self.ehi[mask],
        )

    @staticmethod
    def concat(parts: Sequence[_Cells]) -> _Cells:
        if not parts:
            empty = np.empty(0)
            return _Cells(empty, empty, np.empty(0, np.intp), empty, empty, empty, empty)
        return _Cells(*(np.concatenate([getattr(p, name) for p in parts]) for name in _CELL_FIELDS))


_CELL_FIELDS = ("lo", "hi", "line", "flo", "elo", "fhi", "ehi")


#: Memory for the per-line arrays of one chunk of lines.
CHUNK_BYTES = 64 << 20
#: Float values held per first-layer breakpoint of a line while it is solved (its kinks and
#: saturation points, the cells cut at them and their temporaries), measured with margin.
LINE_VALUES = 16


def chunk_size(margin: Margin, budget_bytes: int = CHUNK_BYTES) -> int:
    """Lines to solve at once so that their per-line arrays fit in ``budget_bytes``.

    A line holds about :data:`LINE_VALUES` floats per first-layer breakpoint (two per unit);
    everything else is evaluated in blocks of a fixed size, so peak memory is bounded by the
    budget whatever the number of lines.
    """
    units = margin.hidden[0].n_out if margin.hidden else 1
    per_line = 8 * LINE_VALUES * (2 * units + 2)
    return int(max(1, min(CHUNK, budget_bytes // per_line)))


class _Line:
    """A margin restricted to a batch of lines, with an evaluation counter per line.

    Evaluations run in blocks whose temporaries fit in the processor's cache: numpy makes a
    full pass over memory per operation, so a block of a few hundred kilobytes is several
    times faster per element than one large batch.
    """

    def __init__(self, margin: Margin, base: FloatArray, axis: int) -> None:
        self.margin = margin
        self.w, self.c, self.cabs = margin.line_affine(base, axis)
        self.n = base.shape[0]
        self.count = np.zeros(self.n, dtype=np.int64)
        width = max([self.w.size] + [layer.n_out for layer in margin.hidden])
        self.block = max(256, BLOCK_ELEMENTS // width)

    def _blocks(self, size: int) -> list[slice]:
        return [slice(k, k + self.block) for k in range(0, max(size, 1), self.block)]

    def points(
        self, t: FloatArray, line: IntArray, derivative: bool = False
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        self.count += np.bincount(line, minlength=self.n)
        parts = [
            self.margin.points(self.w, self.c[line[b]], self.cabs[line[b]], t[b], derivative)
            for b in self._blocks(t.size)
        ]
        if len(parts) == 1:
            return parts[0]
        f, e, d = zip(*parts, strict=True)
        return np.concatenate(f), np.concatenate(e), np.concatenate(d)

    def cells(
        self, lo: FloatArray, hi: FloatArray, line: IntArray, derivative: bool = True
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        self.count += np.bincount(line, minlength=self.n)
        parts = [
            self.margin.cells(self.w, self.c[line[b]], self.cabs[line[b]], lo[b], hi[b], derivative)
            for b in self._blocks(lo.size)
        ]
        if len(parts) == 1:
            return parts[0]
        a, b_, c, d = zip(*parts, strict=True)
        return np.concatenate(a), np.concatenate(b_), np.concatenate(c), np.concatenate(d)

    def value(self, t: FloatArray, line: IntArray) -> FloatArray:
        return self.points(t, line)[0]


def _split_points(lo: FloatArray, hi: FloatArray) -> FloatArray:
    """Where to split cells: the midpoint, or the geometric mean for a cell spanning many
    orders of magnitude on one side of 0 (so that [1, 1e150] takes tens of rounds, not
    hundreds)."""
    mid = 0.5 * (lo + hi)
    with np.errstate(invalid="ignore", over="ignore"):
        wide_pos = (lo > 0.0) & (hi > 64.0 * lo)
        wide_neg = (hi < 0.0) & (lo < 64.0 * hi)
        geo = np.sqrt(np.abs(lo)) * np.sqrt(np.abs(hi))
    out: FloatArray = np.where(wide_pos, geo, np.where(wide_neg, -geo, mid))
    return out


def _check_window(window: tuple[float, float] | None) -> None:
    if window is None:
        return
    lo, hi = window
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise OptionError(f"--x1-range must be finite, got {lo!r} {hi!r}")
    if not lo < hi:
        raise OptionError(f"--x1-range needs LO < HI, got {lo!r} {hi!r}")


@dataclass
class _Flat:
    """Roots of many lines as flat lists: line i's roots are ``t[bounds[i]:bounds[i+1]]``."""

    t: list[float]
    kind: list[Kind]
    bounds: list[int]
    unresolved: list[list[tuple[float, float]]]
    everywhere: list[bool]
    counts: list[int]


def solve_lines(
    margin: Margin,
    base: FloatArray,
    axis: int = 0,
    window: tuple[float, float] | None = None,
) -> list[LineSolution]:
    """Every root of ``margin`` along the lines ``base + t * e_axis``.

    Parameters
    ----------
    margin
        The margin (see :func:`netbound.margin.margin_between`).
    base
        Array ``(lines, n_inputs)``; the entry at ``axis`` is ignored.
    axis
        The input that varies along the lines.
    window
        Search only ``lo <= t <= hi``; default the whole real line.

    Returns
    -------
    list of LineSolution
        One per line, in order.
    """
    flat = _solve_flat(margin, base, axis, window)
    b = flat.bounds
    return [
        LineSolution(
            tuple(zip(flat.t[b[i] : b[i + 1]], flat.kind[b[i] : b[i + 1]], strict=True)),
            tuple(sorted(flat.unresolved[i])),
            flat.everywhere[i],
            not flat.unresolved[i],
            flat.counts[i],
        )
        for i in range(len(flat.counts))
    ]


def _solve_flat(
    margin: Margin,
    base: FloatArray,
    axis: int,
    window: tuple[float, float] | None,
) -> _Flat:
    """The certified solver; see the module's docstring."""
    _check_window(window)
    base = np.atleast_2d(np.asarray(base, dtype=np.float64))
    lines = _Line(margin, base, axis)
    n = lines.n
    unresolved: list[list[tuple[float, float]]] = [[] for _ in range(n)]
    everywhere = np.zeros(n, dtype=bool)
    if n == 0:
        return _Flat([], [], [0], [], [], [])

    if margin.piecewise_affine:
        exact = _solve_piecewise(lines, window)
        if exact is not None:
            return exact

    # Along some lines the margin provably does not depend on t: it is a constant there.
    constant = margin.constant_along(lines.w, lines.c)
    if np.any(constant):
        idx = np.flatnonzero(constant)
        f, err, _ = lines.points(np.zeros(idx.size), idx)
        everywhere[idx] = np.abs(f) <= err

    if window is None:
        lo_edge, hi_edge, ray_lo, ray_hi = _tails(lines)
        for i in np.flatnonzero(~np.isfinite(ray_lo) & ~constant):
            unresolved[i].append((-np.inf, float(lo_edge[i])))
        for i in np.flatnonzero(~np.isfinite(ray_hi) & ~constant):
            unresolved[i].append((float(hi_edge[i]), np.inf))
    else:
        lo_edge = np.full(n, float(window[0]))
        hi_edge = np.full(n, float(window[1]))
    # No cells on constant lines.
    hi_edge = np.where(constant, lo_edge, hi_edge)

    cells = _initial_cells(lines, lo_edge, hi_edge)
    brackets: list[_Cells] = []
    stuck: list[_Cells] = []
    for _ in range(MAX_ROUNDS):
        if cells.lo.size == 0:
            break
        # Most cells are excluded by the plain enclosure of f alone: drop them before the
        # costlier enclosure of f' and the midpoint evaluation.
        flo, fhi, _, _ = lines.cells(cells.lo, cells.hi, cells.line, derivative=False)
        cells = cells.take(~((flo > 0.0) | (fhi < 0.0)))  # a NaN enclosure excludes nothing
        if cells.lo.size == 0:
            break
        mid = _split_points(cells.lo, cells.hi)
        fm, em, _ = lines.points(mid, cells.line)
        flo, fhi, dlo, dhi = lines.cells(cells.lo, cells.hi, cells.line)
        # Mean-value form f(X) in f(m) + f'(X) (X - m); keep the tighter enclosure.
        # (mid is not always the centre: the farther end bounds |X - m|.)
        half = np.maximum(mid - cells.lo, cells.hi - mid) * (1.0 + 4.0 * EPS)
        slope = np.maximum(np.abs(dlo), np.abs(dhi))
        with np.errstate(invalid="ignore", over="ignore"):
            mv = slope * half
            flo = np.fmax(flo, fm - em - mv)
            fhi = np.fmin(fhi, fm + em + mv)
        excluded = (flo > 0.0) | (fhi < 0.0)
        monotone = ~excluded & ((dlo > 0.0) | (dhi < 0.0))
        change = (cells.flo >= 0.0) != (cells.fhi >= 0.0)
        crossing = monotone & change
        # An exact zero at a shared end is counted once: sign(0) is taken as +.
        brackets.append(cells.take(crossing))
        undecided = ~excluded & ~monotone
        scale = np.maximum(1.0, np.abs(mid))
        width = cells.hi - cells.lo
        tiny = width <= 8.0 * EPS * scale
        at_tangency = (np.abs(fm) <= em) & (width <= TANGENCY_SCALE * scale)
        # Splitting cannot help once the enclosure is as narrow as the rounding error.
        flat = (fhi - flo) <= 4.0 * em + 1e-300
        lost = ~np.isfinite(mid) | ~np.isfinite(flo) | ~np.isfinite(fhi)
        stop = undecided & (
            tiny | at_tangency | flat | lost | (mid <= cells.lo) | (mid >= cells.hi)
        )
        if np.any(stop):
            stuck.append(cells.take(stop))
        split = undecided & ~stop
        parent = cells.take(split)
        m = mid[split]
        fmid, emid = fm[split], em[split]
        left = _Cells(parent.lo, m, parent.line, parent.flo, parent.elo, fmid, emid)
        right = _Cells(m, parent.hi, parent.line, fmid, emid, parent.fhi, parent.ehi)
        cells = _Cells.concat([left, right])
        # A child needs no evaluation if its end values and the parent's slope bound s
        # already exclude 0: f >= (f(a) + f(b) - s (b - a)) / 2 on [a, b], likewise above.
        s = np.tile(slope[split], 2)
        with np.errstate(invalid="ignore", over="ignore"):
            reach = s * (cells.hi - cells.lo) * (1.0 + 4.0 * EPS)
            low = 0.5 * ((cells.flo - cells.elo) + (cells.fhi - cells.ehi) - reach)
            high = 0.5 * ((cells.flo + cells.elo) + (cells.fhi + cells.ehi) + reach)
        cells = cells.take(~((low > 0.0) | (high < 0.0)))
    else:
        stuck.append(cells)

    crossing_cells = _Cells.concat(brackets)
    t_cross, line_cross = _polish(lines, crossing_cells)
    t_extra: list[float] = []
    line_extra: list[int] = []
    kind_extra: list[int] = []
    if stuck:
        _tangencies(lines, _Cells.concat(stuck), t_extra, line_extra, kind_extra, unresolved)
    t_all = np.concatenate([t_cross, np.array(t_extra, dtype=np.float64)])
    line_all = np.concatenate([line_cross, np.array(line_extra, dtype=np.intp)])
    kind_all = np.concatenate([np.zeros(t_cross.size, np.intp), np.array(kind_extra, np.intp)])
    order = np.lexsort((kind_all, t_all, line_all))
    t_all, line_all, kind_all = t_all[order], line_all[order], kind_all[order]
    # The same root found from two adjacent cells is reported once (a crossing first).
    dup = np.zeros(t_all.size, dtype=bool)
    dup[1:] = (line_all[1:] == line_all[:-1]) & (
        np.abs(np.diff(t_all)) <= 4.0 * EPS * np.maximum(1.0, np.abs(t_all[1:]))
    )
    t_all, line_all, kind_all = t_all[~dup], line_all[~dup], kind_all[~dup]
    return _Flat(
        t_all.tolist(),
        [_KINDS[k] for k in kind_all.tolist()],
        np.searchsorted(line_all, np.arange(n + 1)).tolist(),
        unresolved,
        everywhere.tolist(),
        lines.count.tolist(),
    )


_KINDS: tuple[Kind, Kind] = ("crossing", "touching")


def _solve_piecewise(lines: _Line, window: tuple[float, float] | None) -> _Flat | None:
    """Exact roots of a ReLU-family margin from its affine pieces (None: too many pieces)."""
    n = lines.n
    lo = np.full(n, -np.inf if window is None else float(window[0]))
    hi = np.full(n, np.inf if window is None else float(window[1]))
    p = piecewise.pieces(lines.margin, lines.w, lines.c, lines.cabs, lo, hi)
    if p is None:
        return None
    lines.count += p.examined
    r = piecewise.roots(p)
    t = r.t
    # One Newton step against the network itself removes the rounding of -a/b.
    if t.size:
        f, _, df = lines.points(t, r.line, derivative=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = np.where(df != 0.0, f / df, 0.0)
        small = np.abs(step) <= 1e-9 * np.maximum(1.0, np.abs(t))
        t = np.where(small & (r.kind == 0), t - step, t)
    zlo, zhi, zline = piecewise.merge_intervals(r.zero_lo, r.zero_hi, r.zero_line)
    whole = (zlo == lo[zline]) & (zhi == hi[zline])
    everywhere = np.zeros(n, dtype=bool)
    everywhere[zline[whole]] = True
    unresolved: list[list[tuple[float, float]]] = [[] for _ in range(n)]
    for a, b, i in zip(
        zlo[~whole].tolist(), zhi[~whole].tolist(), zline[~whole].tolist(), strict=True
    ):
        unresolved[i].append((a, b))
    order = np.lexsort((t, r.line))
    # Each root's kind is confirmed against the network itself: a crossing a few ulps from a
    # kink looks like a touching root to the rounded piece coefficients.
    t, line, kind = _merge_close_roots(lines, t[order], r.line[order], r.kind[order])
    return _Flat(
        t.tolist(),
        [_KINDS[k] for k in kind.tolist()],
        np.searchsorted(line, np.arange(n + 1)).tolist(),
        unresolved,
        everywhere.tolist(),
        lines.count.tolist(),
    )


#: Roots of one line closer than this (relative to max(1, |t|)) are candidates for being one
#: root seen twice: kinks a few ulps apart make pieces whose coefficients are lost in rounding.
MERGE_SCALE = 1e-6
#: Distance (relative to max(1, |t|)) at which the sides of a root are first looked at.
SIDE_SCALE = 1e-12


def _merge_close_roots(
    lines: _Line, t: FloatArray, line: IntArray, kind: IntArray
) -> tuple[FloatArray, IntArray, IntArray]:
    """Classify each root by the margin's signs on its two sides (different: crossing;
    equal: touching), after merging neighbours that are one root seen twice: between them
    the margin never leaves its rounding error."""
    if t.size == 0:
        return t, line, kind
    scale = np.maximum(1.0, np.abs(t))
    if t.size > 1:
        gap = np.diff(t)
        near = (line[1:] == line[:-1]) & (gap <= MERGE_SCALE * scale[1:])
        mid = 0.5 * (t[1:] + t[:-1])
        f, e, _ = lines.points(mid[near], line[1:][near])
        same = np.zeros(near.size, dtype=bool)
        same[near] = np.abs(f) <= e
    else:
        same = np.zeros(0, dtype=bool)
    start = np.ones(t.size, dtype=bool)
    start[1:] = ~same
    first = np.flatnonzero(start)
    last = np.append(first[1:], t.size) - 1
    g_lo, g_hi, g_line = t[first], t[last], line[first]
    out_t = t[(first + last) // 2]
    side = _side_signs(lines, g_lo, g_hi, g_line, SIDE_SCALE * scale[first])
    known = (side[0] != 0.0) & (side[1] != 0.0)
    out_kind = np.where(known, np.where(side[0] == side[1], 1, 0), kind[first])
    return out_t, g_line, out_kind


def _side_signs(
    lines: _Line, lo: FloatArray, hi: FloatArray, line: IntArray, scale: FloatArray
) -> FloatArray:
    """The margin's sign just left of ``lo`` and just right of ``hi`` (0 where it stays
    within rounding up to 1000 ``scale`` away), shape (2, n)."""
    side = np.zeros((2, lo.size))
    for step in (1.0, 10.0, 100.0, 1000.0):
        d = step * scale
        f, e, _ = lines.points(np.concatenate([lo - d, hi + d]), np.tile(line, 2))
        known = (np.abs(f) > e).reshape(2, -1)
        side = np.where((side == 0.0) & known, np.sign(f).reshape(2, -1), side)
    return side


def _tails(lines: _Line) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Radii beyond which the margin's sign is proven, per line and side.

    Returns the search edges ``-R_left``, ``R_right`` and, for each side, the proven sign
    (nan where no radius up to the limit proved it: that ray stays unresolved).
    """
    w, c = lines.w, lines.c
    n = lines.n
    nz = w != 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        reach = np.where(nz, (np.abs(c) + 2.0) / np.abs(np.where(nz, w, 1.0)), 0.0)
    # Radii stay far below overflow, so that every enclosure on [-R, R] is finite.
    start = np.minimum(np.maximum(1.0, reach.max(axis=1)), 1e150)
    edges = []
    signs = []
    for direction in (-1.0, 1.0):
        radius = start.copy()
        sign = np.full(n, np.nan)
        todo = np.arange(n)
        for _ in range(MAX_RADIUS_DOUBLINGS):
            if todo.size == 0:
                break
            lines.count[todo] += 1
            s, _ = lines.margin.rays(direction * w, c[todo], lines.cabs[todo], radius[todo])
            done = s != 0.0
            sign[todo[done]] = s[done]
            todo = todo[~done]
            radius[todo] *= 2.0
        radius[todo] /= 2.0
        edges.append(direction * radius)
        signs.append(sign)
    return edges[0], edges[1], signs[0], signs[1]


def _initial_cells(lines: _Line, lo_edge: FloatArray, hi_edge: FloatArray) -> _Cells:
    """Cells cut at the first layer's kinks and the edges of its units' linear regimes."""
    w, c = lines.w, lines.c
    nz = w != 0.0
    offsets = np.array([-1.5, 1.5])
    with np.errstate(divide="ignore", invalid="ignore"):
        pts = (offsets[None, None, :] - c[:, :, None]) / np.where(nz, w, np.nan)[None, :, None]
    pts = pts.reshape(lines.n, -1)
    inside = (pts > lo_edge[:, None]) & (pts < hi_edge[:, None])
    pts = np.where(inside, pts, np.nan)
    pts = np.concatenate([lo_edge[:, None], hi_edge[:, None], pts], axis=1)
    pts.sort(axis=1)
    valid = ~np.isnan(pts)
    line_of = np.broadcast_to(np.arange(lines.n)[:, None], pts.shape)
    flat_t = pts[valid]
    flat_line = line_of[valid]
    # Consecutive valid points of the same line bound a cell.
    same = flat_line[1:] == flat_line[:-1]
    wide = flat_t[1:] > flat_t[:-1]
    idx = np.flatnonzero(same & wide)
    # Most cells are excluded by their enclosure alone: the margin is evaluated only at the
    # points that bound a remaining cell, each point once (neighbours share its value).
    flo, fhi, _, _ = lines.cells(flat_t[idx], flat_t[idx + 1], flat_line[idx], derivative=False)
    idx = idx[~((flo > 0.0) | (fhi < 0.0))]
    needed = np.zeros(flat_t.size, dtype=bool)
    needed[idx] = needed[idx + 1] = True
    f = np.zeros(flat_t.size)
    e = np.zeros(flat_t.size)
    f[needed], e[needed], _ = lines.points(flat_t[needed], flat_line[needed])
    return _Cells(
        flat_t[idx], flat_t[idx + 1], flat_line[idx], f[idx], e[idx], f[idx + 1], e[idx + 1]
    )


def _polish(lines: _Line, cells: _Cells) -> tuple[FloatArray, IntArray]:
    """Refine every bracketed crossing at once to near machine precision."""
    lo, hi, line = cells.lo, cells.hi, cells.line
    at_lo = cells.flo == 0.0
    at_hi = (cells.fhi == 0.0) & ~at_lo
    inner = ~at_lo & ~at_hi
    t = np.where(at_lo, lo, hi).astype(np.float64)
    if np.any(inner):
        from scipy.optimize import elementwise  # imported here: it is slow to import

        res = elementwise.find_root(lines.value, (lo[inner], hi[inner]), args=(line[inner],))
        # BLAS may round a batch of another shape differently, so an end value within
        # rounding of 0 can change sign when find_root evaluates it again: the root is then
        # that end (the one of smaller |f|).
        failed = ~res.success | ~np.isfinite(res.x)
        nearest = np.where(
            np.abs(cells.flo[inner]) <= np.abs(cells.fhi[inner]), lo[inner], hi[inner]
        )
        t[inner] = np.where(failed, nearest, res.x)
    return t, line


def _tangencies(
    lines: _Line,
    stuck: _Cells,
    t_out: list[float],
    line_out: list[int],
    kind_out: list[int],
    unresolved: list[list[tuple[float, float]]],
) -> None:
    """Merge adjacent undecided cells; classify each cluster as touching or unresolved."""
    order = np.lexsort((stuck.lo, stuck.line))
    lo, hi, line = piecewise.merge_intervals(stuck.lo[order], stuck.hi[order], stuck.line[order])
    # The extremum: bisect f' over the cluster where it changes sign, else take the end or
    # midpoint of least |f|.
    probe = np.stack([lo, 0.5 * (lo + hi), hi])
    _, _, dprobe = lines.points(probe.ravel(), np.tile(line, 3), derivative=True)
    dprobe = dprobe.reshape(3, -1)
    a, b = lo.copy(), hi.copy()
    da = dprobe[0]
    for _ in range(60):
        m = 0.5 * (a + b)
        _, _, dm = lines.points(m, line, derivative=True)
        go_right = (dm > 0.0) == (da > 0.0)
        a = np.where(go_right, m, a)
        da = np.where(go_right, dm, da)
        b = np.where(go_right, b, m)
    has_turn = (dprobe[0] > 0.0) != (dprobe[2] > 0.0)
    candidates = np.stack([lo, 0.5 * (lo + hi), hi, 0.5 * (a + b)])
    fc, ec, _ = lines.points(candidates.ravel(), np.tile(line, 4))
    fc, ec = fc.reshape(4, -1), ec.reshape(4, -1)
    pick = np.where(has_turn, 3, np.argmin(np.abs(fc[:3]), axis=0))
    cols = np.arange(lo.size)
    x_star, f_star, e_star = candidates[pick, cols], fc[pick, cols], ec[pick, cols]
    # Within resolution: the extremum's value is lost in rounding, or smaller than the
    # margin can change across the cluster (a kink touching zero, resolved to a few ulps).
    slope = np.maximum(np.abs(dprobe[0]), np.abs(dprobe[2]))
    within = np.abs(f_star) <= e_star + (hi - lo) * slope
    scale = np.maximum(1.0, np.abs(x_star))
    # A point tangency turns (f' changes sign) in a narrow cluster; a flat piece does not.
    narrow = has_turn & ((hi - lo) <= 1e4 * TANGENCY_SCALE * scale)
    # The sign on each side, just outside the cluster, where it is no longer lost in rounding.
    side = np.zeros((2, lo.size))
    for step in (1.0, 4.0, 16.0, 64.0, 256.0):
        d = step * np.maximum(hi - lo, TANGENCY_SCALE * scale)
        pts = np.concatenate([lo - d, hi + d])
        fo, eo, _ = lines.points(pts, np.tile(line, 2))
        known = (np.abs(fo) > eo).reshape(2, -1)
        side = np.where((side == 0.0) & known, np.sign(fo).reshape(2, -1), side)
    for k in range(lo.size):
        i = int(line[k])
        if within[k] and narrow[k] and side[0, k] != 0.0 and abs(side[1, k]) == 1.0:
            t_out.append(float(x_star[k]))
            line_out.append(i)
            kind_out.append(1 if side[0, k] == side[1, k] else 0)
        else:
            unresolved[i].append((float(lo[k]), float(hi[k])))


# -- the public entry point -------------------------------------------------------------------


def resolve_at(net: Network, at: dict[str, float] | None) -> dict[int, float]:
    at = dict(at or {})
    fixed: dict[int, float] = {}
    for name, value in at.items():
        if name not in net.input_names:
            raise OptionError(
                f"--at names unknown input {name!r}; the network's inputs are "
                f"{', '.join(net.input_names)}"
            )
        index = net.input_names.index(name)
        if index < 2:
            raise OptionError(
                f"--at {name}: {name} is the solved or swept input; "
                f"--at sets only inputs beyond the first two"
            )
        if not np.isfinite(value):
            raise OptionError(f"--at {name}={value!r}: the value must be finite")
        fixed[index] = float(value)
    missing = [net.input_names[k] for k in range(2, net.n_inputs) if k not in fixed]
    if missing:
        raise OptionError(
            "the network has inputs beyond x1 and x2 with no value: give "
            + " ".join(f"--at {m}=VALUE" for m in missing)
        )
    return fixed


def boundary_margins(
    net: Network,
    between: tuple[str, str] | None,
    threshold: float | None,
    argmax: bool,
) -> list[Margin]:
    if net.n_inputs < 2:
        raise OptionError(
            f"the network has {net.n_inputs} input; netbound solves for x1 along lines of "
            "constant x2, which needs at least two inputs"
        )
    if argmax:
        if between is not None or threshold is not None:
            raise OptionError("--argmax cannot be combined with --between or --threshold")
        if net.n_outputs < 2:
            raise OptionError("--argmax needs a network with two or more outputs")
        names = net.output_names
        return [margin_between(net, a, b) for a, b in combinations(names, 2)]
    if net.n_outputs == 1:
        if between is not None:
            raise OptionError("--between needs two outputs; this network has one (use --threshold)")
        return [margin_threshold(net, threshold)]
    if threshold is not None:
        raise OptionError(
            f"--threshold is for single-output networks; this one has {net.n_outputs} "
            "outputs (use --between A B)"
        )
    a, b = between if between is not None else net.output_names[:2]
    return [margin_between(net, a, b)]


def sweep_bases(net: Network, x2: FloatArray, fixed: dict[int, float]) -> FloatArray:
    base = np.zeros((x2.size, net.n_inputs))
    base[:, 1] = x2
    for k, v in fixed.items():
        base[:, k] = v
    return base


def solve_iter(
    network: Network,
    x2: Iterable[float],
    *,
    between: tuple[str, str] | None = None,
    threshold: float | None = None,
    argmax: bool = False,
    at: dict[str, float] | None = None,
    x1_range: tuple[float, float] | None = None,
    chunk: int = CHUNK,
) -> Iterator[SliceResult]:
    """Like :func:`solve`, but lazily: slices are solved ``chunk`` at a time.

    Memory stays bounded however long ``x2`` is; results come out in input order.
    """
    margins = boundary_margins(network, between, threshold, argmax)
    fixed = resolve_at(network, at)
    _check_window(x1_range)
    if chunk < 1:
        raise OptionError(f"chunk must be >= 1, got {chunk}")
    values = iter(x2)
    while True:
        block = np.fromiter(islice(values, chunk), dtype=np.float64)
        if block.size == 0:
            return
        bad = ~np.isfinite(block)
        if np.any(bad):
            raise OptionError(f"x2 value {block[bad][0]!r} is not finite")
        base = sweep_bases(network, block, fixed)
        if argmax:
            yield from _argmax_results(network, margins, base, block, x1_range)
        else:
            flat = _solve_flat(margins[0], base, 0, x1_range)
            b = flat.bounds
            # Root is a NamedTuple: tuple.__new__ skips its per-call argument handling.
            new = tuple.__new__
            roots = [new(Root, (t, k, None, None, None)) for t, k in zip(flat.t, flat.kind, strict=True)]
            for i, value in enumerate(block.tolist()):
                yield SliceResult(
                    value,
                    tuple(roots[b[i] : b[i + 1]]),
                    tuple(sorted(flat.unresolved[i])) if flat.unresolved[i] else (),
                    flat.everywhere[i],
                    not flat.unresolved[i],
                    flat.counts[i],
                )


def solve(
    network: Network,
    x2: Iterable[float],
    *,
    between: tuple[str, str] | None = None,
    threshold: float | None = None,
    argmax: bool = False,
    at: dict[str, float] | None = None,
    x1_range: tuple[float, float] | None = None,
) -> list[SliceResult]:
    """Every x1 on the decision boundary, for each x2, certified.

    Parameters
    ----------
    network
        The network (see :func:`netbound.load`).
    x2
        Values of the second input; one result per value, in order.
    between
        The two outputs whose boundary ``z_a = z_b`` is sought; default the first two.
    threshold
        For single-output networks: the boundary is ``z = threshold`` (default 0.5 for a
        sigmoid output, 0 otherwise).
    argmax
        Find where the predicted class (the largest output) changes instead.
    at
        Values of the inputs beyond the first two, by name.
    x1_range
        Search only ``lo <= x1 <= hi``; default the whole real line.

    Returns
    -------
    list of SliceResult
        One per x2 value.

    Examples
    --------
    >>> import netbound
    >>> net = netbound.Network.from_layers([([[1.0, 1.0]], [0.0], "sigmoid")])
    >>> [r.x1 for r in netbound.solve(net, [0.5])[0].roots]
    [-0.5]
    """
    return list(
        solve_iter(
            network,
            x2,
            between=between,
            threshold=threshold,
            argmax=argmax,
            at=at,
            x1_range=x1_range,
        )
    )


def _argmax_results(
    net: Network,
    margins: list[Margin],
    base: FloatArray,
    x2: FloatArray,
    window: tuple[float, float] | None,
) -> Iterator[SliceResult]:
    """Where the largest output changes: pairwise roots at which the pair is on top."""
    names = net.output_names
    per_pair = [solve_lines(m, base, 0, window) for m in margins]
    pairs = list(combinations(range(len(names)), 2))
    for s in range(base.shape[0]):
        found: list[Root] = []
        unresolved: list[tuple[float, float]] = []
        complete = True
        evaluations = 0
        for (a, b), sols in zip(pairs, per_pair, strict=True):
            sol = sols[s]
            evaluations += sol.evaluations
            complete &= sol.complete
            if sol.everywhere:
                continue
            for t, kind in sol.roots:
                root = _class_change(net, base[s], t, a, b, kind)
                if root is not None:
                    found.append(root)
            for lo, hi in sol.unresolved:
                if not _dominated(net, margins, base[s], lo, hi, a, b):
                    unresolved.append((lo, hi))
        found.sort(key=lambda r: r.x1)
        yield SliceResult(
            float(x2[s]),
            tuple(found),
            tuple(sorted(unresolved)),
            False,
            complete and not unresolved,
            evaluations,
        )


def _class_change(
    net: Network, base: FloatArray, t: float, a: int, b: int, kind: Kind
) -> Root | None:
    """The class change at a root of ``pre_a - pre_b``, or None if another class is on top."""
    x = base.copy()
    x[0] = t
    pre = net.preactivations(x[None, :])[0]
    scale = float(np.max(np.abs(pre))) + 1.0
    tol = 1e-9 * scale
    top = max(pre[a], pre[b])
    others = np.delete(pre, [a, b])
    if others.size and np.max(others) > top + tol:
        return None
    names = net.output_names
    step = 1e-7 * max(1.0, abs(t))
    xs = np.stack([x, x])
    xs[0, 0], xs[1, 0] = t - step, t + step
    side = np.argmax(net.preactivations(xs), axis=1)
    left, right = names[int(side[0])], names[int(side[1])]
    if kind == "crossing" and left == right:
        left, right = (names[b], names[a]) if side[1] == a else (names[a], names[b])
    return Root(t, kind, left, right)


def _dominated(
    net: Network,
    margins: list[Margin],
    base: FloatArray,
    lo: float,
    hi: float,
    a: int,
    b: int,
) -> bool:
    """True when some third output is provably above both a and b on ``[lo, hi]``."""
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return False
    pairs = list(combinations(range(net.n_outputs), 2))
    for c in range(net.n_outputs):
        if c in (a, b):
            continue
        above = True
        for other in (a, b):
            key = (min(c, other), max(c, other))
            margin = margins[pairs.index(key)]
            w, cc, cabs = margin.line_affine(base[None, :], 0)
            flo, fhi, _, _ = margin.cells(w, cc, cabs, np.array([lo]), np.array([hi]))
            # margin is pre_key0 - pre_key1; c above other means its sign favours c.
            proven = flo[0] > 0.0 if key[0] == c else fhi[0] < 0.0
            above &= bool(proven)
        if above:
            return True
    return False


# -- the design's method, kept as the baseline ------------------------------------------------


def solve_grid(
    network: Network,
    x2: Sequence[float],
    *,
    between: tuple[str, str] | None = None,
    threshold: float | None = None,
    at: dict[str, float] | None = None,
    x1_range: tuple[float, float] = (-50.0, 50.0),
    points: int = 2001,
) -> list[SliceResult]:
    """The design's original method: sign changes on a grid, refined by ``brentq``.

    Kept as the baseline of the benchmarks.  It misses pairs of roots closer than the grid
    step, every tangency and everything outside ``x1_range``, so ``complete`` is False.
    """
    from scipy.optimize import brentq

    margin = boundary_margins(network, between, threshold, False)[0]
    fixed = resolve_at(network, at)
    grid = np.linspace(x1_range[0], x1_range[1], points)
    out = []
    for value in x2:
        base = sweep_bases(network, np.array([float(value)]), fixed)[0]
        xs = np.tile(base, (points, 1))
        xs[:, 0] = grid
        f = margin.value(xs)
        idx = np.flatnonzero(np.signbit(f[:-1]) != np.signbit(f[1:]))
        one = _scalar(margin, base)
        found = [
            Root(float(brentq(one, grid[i], grid[i + 1], xtol=1e-15)), "crossing") for i in idx
        ]
        out.append(SliceResult(float(value), tuple(found), (), False, False, points))
    return out


def _scalar(margin: Margin, base: FloatArray) -> Callable[[float], float]:
    def f(t: float) -> float:
        x = base.copy()
        x[0] = t
        return float(margin.value(x))

    return f
