"""Certified root isolation of the margin along lines, vectorized over all lines at once.

The method (``docs/proofs.md`` says what each step proves and assumes):

1. Search edges (:func:`_search_edges`).  On the rays ``t >= R`` and ``t <= -R`` the
   margin's sign is proven by :func:`netbound.tails.proven_radii`; a window is searched up to
   it.  Lines along which the margin does not depend on ``t`` are decided as a whole.
2. Bisection rounds (:func:`_bisection_round`).  ``[-R, R]`` is cut at the first layer's
   kinks and saturation points.  On each cell the margin and its slope are enclosed
   (interval, mean-value and Taylor-model forms).  A cell whose enclosure excludes 0 has no
   root; a cell whose slope has a proven sign holds exactly one root when its end values
   have proven opposite signs; every other cell is bisected, until float64 can no longer
   decide it.  All cells of all lines are evaluated in one batch per round.
3. Assembly (:func:`_assemble`).  Brackets are polished by Chandrupatla's method
   (``scipy.optimize.elementwise.find_root``) and given proven enclosures; the cells float64
   could not decide are settled in ball arithmetic (:mod:`netbound.ball`) or reported
   unresolved.

Margins of ReLU-family networks are piecewise affine along a line and are solved from their
pieces instead (:mod:`netbound.piecewise`); their roots are then certified here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

import numpy as np
from numpy.typing import NDArray

from netbound import affine, ball, enclosure, piecewise, tails
from netbound.errors import OptionError
from netbound.margin import Margin
from netbound.network import FloatArray
from netbound.rounding import EPS, IntArray

Kind = Literal["crossing", "touching"]
#: Width below which a cell whose midpoint value is lost in rounding stops being split
#: (relative to max(1, |t|)): the scale at which a double root becomes a cluster.
TANGENCY_SCALE = 1e-7
MAX_ROUNDS = 400
#: Most cut points a line starts with (wide first layers have two per unit).
INITIAL_POINTS = 34
#: A crossing's enclosure wider than this (relative to max(1, |t|)) is shrunk in ball
#: arithmetic (a heuristic threshold: any float inside a narrower one is within 2.5e-10 of
#: the root; float64 places a well-conditioned root far better still).
REFINE_SCALE = 2.5e-10
#: Half-widths (in units of eps * max(1, |t|)) tried in turn when certifying a root found by
#: the piecewise-affine solver, after a first guess from where the margin should leave its
#: rounding bound (:func:`_certify_flat`).  The last three serve a root that the others
#: cannot certify: its point values unproven beyond 4096 ulps, and a neighbouring crossing
#: within 2^20 ulps (so that both are inside the wider spans).
CERTIFY_STEPS = (4.0, 64.0, 4096.0, 2.0**20, 2.0**30, 2.0**14, 2.0**16, 2.0**18)
CHUNK = 8192
#: Cells on which both enclosures are tried before the cheaper one is chosen.
PROBE_CELLS = 256
#: Elements (cells x units) per evaluation block: about 128 KiB per temporary array.
BLOCK_ELEMENTS = 12288
#: A cell across which a first-layer pre-activation moves by more than this is "wide": the
#: Taylor models' linearisation gains little there over plain intervals, which cost half
#: (tanh bends over about 1; 1 was 11-13% faster than 4 on the 64-wide tanh benchmark nets,
#: the same on the 128-wide sigmoid one).
WIDE_REACH = 1.0
#: A point value more than this many times the a-priori rounding bound takes that bound; a
#: smaller one gets its own.  At 8, every decision that compares a value with its bound comes
#: out as with the point's own bound: an undecided cell's enclosure holds 0 and the true
#: value, so a value that large can be neither within its bound nor on an enclosure as narrow
#: as four bounds (a cell too flat to split).
LOOSE_FACTOR = 8.0
#: Newton steps that polish a root of the piecewise-affine solver.
NEWTON_STEPS = 3
#: Most parts per half of a cell cut by point values (:func:`_children`).
MAX_PARTS = 4
#: Where the probe of the first cells excludes at least this share of them, the others are
#: enclosed without their slopes (:func:`_first_enclosures`).
FIRST_EXCLUDED = 0.5


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
        self.base, self.axis = base, axis
        self.w, self.c, self.cabs = margin.line_affine(base, axis)
        self.n = base.shape[0]
        self.count = np.zeros(self.n, dtype=np.int64)
        self._balls: dict[int, ball.BallLine] = {}
        width = max([self.w.size] + [layer.n_out for layer in margin.hidden])
        self.block = max(256, BLOCK_ELEMENTS // width)
        self.deep = len(margin.hidden) >= 2 and max(h.n_out for h in margin.hidden) >= 16
        self.wmax = float(np.max(np.abs(self.w), initial=0.0))
        #: Whether wide cells get plain intervals (decided by a probe on the first wide cells).
        self.wide_plain: bool | None = None
        #: The lines' a-priori rounding bound (:meth:`Margin.line_rounding`): None until first
        #: needed, False where the network has none.
        self._loose: tuple[FloatArray, float] | Literal[False] | None = None

    def ball(self, i: int) -> ball.BallLine:
        """Line ``i`` in ball arithmetic (needs python-flint: see :func:`ball.available`)."""
        if i not in self._balls:
            self._balls[i] = ball.BallLine(self.margin, self.base[i], self.axis)
        return self._balls[i]

    def _blocks(self, size: int) -> list[slice]:
        return [slice(k, k + self.block) for k in range(0, max(size, 1), self.block)]

    def points(
        self, t: FloatArray, line: IntArray, derivative: bool = False, bound: bool = True
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """The margin, a bound on its rounding error (with ``bound``) and its slope (with
        ``derivative``) at points ``t`` of lines ``line``.

        Where the margin is far above the lines' a-priori rounding bound
        (:meth:`Margin.line_rounding`, more than :data:`LOOSE_FACTOR` times), that bound is
        returned and only values are computed: about half the cost.  Elsewhere the bound is
        each point's own, as tight as :meth:`Margin.points` makes it.
        """
        self.count += np.bincount(line, minlength=self.n)
        if bound and not derivative:
            if self._loose is None:
                self._loose = self.margin.line_rounding(self.w, self.c, self.cabs) or False
            if self._loose:
                alpha, beta = self._loose
                f = self._evaluate(t, line, False, False)[0]
                with np.errstate(over="ignore", invalid="ignore"):
                    e = alpha[line] + beta * np.abs(t)
                    tight = np.flatnonzero(~(np.abs(f) > LOOSE_FACTOR * e))
                if tight.size:
                    f[tight], e[tight], _ = self._evaluate(t[tight], line[tight], False, True)
                return f, e, np.empty(0)
        return self._evaluate(t, line, derivative, bound)

    def _evaluate(
        self, t: FloatArray, line: IntArray, derivative: bool, bound: bool
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        parts = [
            self.margin.points(self.w, self.c[line[b]], self.cabs[line[b]], t[b], derivative, bound)
            for b in self._blocks(t.size)
        ]
        if len(parts) == 1:
            return parts[0]
        f, e, d = zip(*parts, strict=True)
        return np.concatenate(f), np.concatenate(e), np.concatenate(d)

    def cells(
        self,
        lo: FloatArray,
        hi: FloatArray,
        line: IntArray,
        derivative: bool = True,
        plain: bool | NDArray[np.bool_] | None = None,
    ) -> affine.CellEnclosure:
        """Enclosures of the margin (and its slope) on cells, one evaluation each.

        For two or more hidden layers with 16 or more units in one: the Taylor models of
        :mod:`netbound.affine`, which keep the correlation between layers and also give the
        margin's value at each cell's centre.  Otherwise plain interval propagation
        (:mod:`netbound.enclosure`), which is tight for one hidden layer and cheaper on small
        deep nets; its centre values are NaN (not computed).  ``plain`` overrides the choice:
        True or False for every cell, or a mask of the cells that get plain intervals.
        """
        if isinstance(plain, np.ndarray):
            if not np.any(plain) or np.all(plain):
                return self.cells(lo, hi, line, derivative, bool(np.any(plain)))
            i_p, i_t = np.flatnonzero(plain), np.flatnonzero(~plain)
            ep = self.cells(lo[i_p], hi[i_p], line[i_p], derivative, True)
            et = self.cells(lo[i_t], hi[i_t], line[i_t], derivative, False)
            out = affine.CellEnclosure(*(np.empty(lo.size if x.size else 0) for x in et))
            for o, x, y in zip(out, ep, et, strict=True):
                if o.size:
                    o[i_p], o[i_t] = x, y
            return out
        self.count += np.bincount(line, minlength=self.n)
        use_tm = self.deep if plain is None else not plain
        parts = []
        for b in self._blocks(lo.size):
            w, c, cabs = self.w, self.c[line[b]], self.cabs[line[b]]
            if use_tm:
                parts.append(affine.cells(self.margin, w, c, cabs, lo[b], hi[b], derivative))
                continue
            enc = enclosure.cells(self.margin, w, c, cabs, lo[b], hi[b], derivative)
            nan = np.full(lo[b].shape, np.nan)
            parts.append(affine.CellEnclosure(*enc, nan, nan))
        if len(parts) == 1:
            return parts[0]
        return affine.CellEnclosure(*(np.concatenate(x) for x in zip(*parts, strict=True)))

    def value(self, t: FloatArray, line: IntArray) -> FloatArray:
        return self.points(t, line, bound=False)[0]


def _split_points(lo: FloatArray, hi: FloatArray) -> FloatArray:
    """Where to split cells: the midpoint, or the geometric mean for a cell spanning many
    orders of magnitude on one side of 0 (so that [1, 1e150] takes tens of rounds, not
    hundreds)."""
    mid = 0.5 * lo + 0.5 * hi  # as the Taylor models' centre
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
        raise OptionError(
            f"window=({lo!r}, {hi!r}): both ends must be finite",
            cli=f"--x1-range must be finite, got {lo!r} {hi!r}",
        )
    if not lo < hi:
        raise OptionError(
            f"window=({lo!r}, {hi!r}): needs lo < hi",
            cli=f"--x1-range needs LO < HI, got {lo!r} {hi!r}",
        )


@dataclass
class _Flat:
    """Roots of many lines as flat lists: line i's roots are ``t[bounds[i]:bounds[i+1]]``."""

    t: list[float]
    kind: list[Kind]
    bounds: list[int]
    unresolved: list[list[tuple[float, float]]]
    everywhere: list[bool]
    counts: list[int]
    #: Proven enclosures of the roots, parallel to ``t``.
    lo: list[float] = field(default_factory=list)
    hi: list[float] = field(default_factory=list)


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
    if lines.n == 0:
        return _Flat([], [], [0], [], [], [])
    if margin.piecewise_affine:
        exact = _solve_piecewise(lines, window)
        if exact is not None:
            return exact
    search = _search_edges(lines, window)
    found = _Found()
    cells, first = _initial_cells(lines, search.lo, search.hi)
    for _ in range(MAX_ROUNDS):
        if cells.lo.size == 0:
            break
        cells = _bisection_round(lines, cells, found, first)
        first = None
    else:
        found.stuck.append(cells)
    return _assemble(lines, search, found)


@dataclass
class _Search:
    """Where each line is searched: ``[lo, hi]`` (empty on constant lines), and what is
    already known outside the cells: unresolved rays, everywhere-zero and constant lines."""

    lo: FloatArray
    hi: FloatArray
    unresolved: list[list[tuple[float, float]]]
    everywhere: NDArray[np.bool_]


@dataclass
class _Found:
    """What the bisection rounds found: crossing brackets (with a lower bound on the
    margin's slope in each) and cells that float64 could not decide."""

    brackets: list[_Cells] = field(default_factory=list)
    slopes: list[FloatArray] = field(default_factory=list)
    stuck: list[_Cells] = field(default_factory=list)


def _search_edges(lines: _Line, window: tuple[float, float] | None) -> _Search:
    """The search interval of each line: the window, or ``[-R, R]`` beyond which the tails'
    signs are proven (unproven rays are unresolved).  Lines along which the margin provably
    does not depend on t are decided here, as a whole."""
    n = lines.n
    unresolved: list[list[tuple[float, float]]] = [[] for _ in range(n)]
    everywhere = np.zeros(n, dtype=bool)
    # Two values that differ by more than their rounding bounds prove a line not constant;
    # only the other lines need the whole-line interval test.
    ends = np.repeat(np.array([[-1.0, 1.0]]), n, axis=0).ravel()
    f, err, _ = lines.points(ends, np.repeat(np.arange(n), 2))
    f, err = f.reshape(n, 2), err.reshape(n, 2)
    maybe = ~(np.abs(f[:, 0] - f[:, 1]) > err[:, 0] + err[:, 1])
    constant = np.zeros(n, dtype=bool)
    if np.any(maybe):
        constant[maybe] = lines.margin.constant_along(lines.w, lines.c[maybe])
    lo_edge, hi_edge, ray_lo, ray_hi, spent = tails.proven_radii(
        lines.margin, lines.w, lines.c, lines.cabs
    )
    lines.count += spent
    if window is None:
        for i in np.flatnonzero(~np.isfinite(ray_lo) & ~constant):
            unresolved[i].append((-np.inf, float(lo_edge[i])))
        for i in np.flatnonzero(~np.isfinite(ray_hi) & ~constant):
            unresolved[i].append((float(hi_edge[i]), np.inf))
    else:
        # Beyond a proven tail radius there is no root: a window reaching past it is searched
        # only up to it (a margin there may be far below any precision, e^-1e6 at 1e6).
        w_lo, w_hi = float(window[0]), float(window[1])
        lo_edge = np.where(np.isfinite(ray_lo) & (lo_edge > w_lo), lo_edge, w_lo)
        hi_edge = np.where(np.isfinite(ray_hi) & (hi_edge < w_hi), hi_edge, w_hi)
        lo_edge = np.minimum(lo_edge, w_hi)
        hi_edge = np.maximum(hi_edge, lo_edge)
    if np.any(constant):
        idx = np.flatnonzero(constant)
        f, err, _ = lines.points(np.zeros(idx.size), idx)
        whole = (-np.inf, np.inf) if window is None else (float(window[0]), float(window[1]))
        for i in idx[np.abs(f) <= err].tolist():
            # float64 cannot tell this constant from 0: ball arithmetic decides, or nothing.
            sign = lines.ball(i).sign_at(0.0) if ball.available() else None
            if sign == 0:
                everywhere[i] = True
            elif sign is None:
                unresolved[i].append(whole)
    return _Search(lo_edge, np.where(constant, lo_edge, hi_edge), unresolved, everywhere)


def _bisection_round(
    lines: _Line, cells: _Cells, found: _Found, enc: affine.CellEnclosure | None = None
) -> _Cells:
    """Decide or split every cell once; returns the children that still need a look.

    A crossing is accepted only where the margin's signs at both ends are proven (larger
    than their rounding bounds) and its slope has a proven sign; a cell that float64 cannot
    decide goes to ``found.stuck``.
    """
    if enc is None and not lines.deep:
        # Most cells are excluded by the plain enclosure of f alone: drop them before the
        # costlier enclosure of f' and the midpoint evaluation.
        pre = lines.cells(cells.lo, cells.hi, cells.line, derivative=False)
        cells = cells.take(~pre.excludes_zero())
        if cells.lo.size == 0:
            return cells
    mid = _split_points(cells.lo, cells.hi)
    if enc is None:
        plain = _plain_cells(lines, cells) if lines.deep else None
        enc = lines.cells(cells.lo, cells.hi, cells.line, plain=plain)
    flo, fhi, dlo, dhi, fm, em = enc
    # The Taylor models give the value at the centre; elsewhere (plain intervals, or a split
    # at the geometric mean) it is evaluated, but only where the enclosures alone leave the
    # cell open.  A decided cell has no children, and its NaN (plain) or centre value only
    # feeds the mean-value form below, whose radius bounds the distance to both ends from the
    # centre as from the split point.
    other = ~(mid == 0.5 * cells.lo + 0.5 * cells.hi) | np.isnan(fm)
    other &= ~((flo > 0.0) | (fhi < 0.0) | (dlo > 0.0) | (dhi < 0.0))
    if np.any(other):
        fm, em = fm.copy(), em.copy()
        fm[other], em[other], _ = lines.points(mid[other], cells.line[other])
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
    # The sign at an end is known only where the value exceeds its rounding bound.
    known = (np.abs(cells.flo) > cells.elo) & (np.abs(cells.fhi) > cells.ehi)
    crossing = monotone & known & ((cells.flo > 0.0) != (cells.fhi > 0.0))
    found.brackets.append(cells.take(crossing))
    found.slopes.append(np.minimum(np.abs(dlo), np.abs(dhi))[crossing])
    undecided = ~excluded & ~monotone
    scale = np.maximum(1.0, np.abs(mid))
    width = cells.hi - cells.lo
    tiny = width <= 8.0 * EPS * scale
    at_tangency = (np.abs(fm) <= em) & (width <= TANGENCY_SCALE * scale)
    # Splitting cannot help once the enclosure is as narrow as the rounding error.
    flat = (fhi - flo) <= 4.0 * em + 1e-300
    lost = ~np.isfinite(mid) | ~np.isfinite(flo) | ~np.isfinite(fhi)
    stop = undecided & (tiny | at_tangency | flat | lost | (mid <= cells.lo) | (mid >= cells.hi))
    # A monotone cell with an end value lost in rounding holds at most one root, which
    # float64 cannot place: no split of it would prove that end's sign.
    stop |= monotone & ~known
    if np.any(stop):
        found.stuck.append(cells.take(stop))
    split = undecided & ~stop
    parent = cells.take(split)
    children, s = _children(lines, parent, mid[split], fm[split], em[split], slope[split])
    # A child needs no evaluation if its end values and the parent's slope bound s
    # already exclude 0: f >= (f(a) + f(b) - s (b - a)) / 2 on [a, b], likewise above.
    with np.errstate(invalid="ignore", over="ignore"):
        reach = s * (children.hi - children.lo) * (1.0 + 4.0 * EPS)
        low = 0.5 * ((children.flo - children.elo) + (children.fhi - children.ehi) - reach)
        high = 0.5 * ((children.flo + children.elo) + (children.fhi + children.ehi) + reach)
    return children.take(~((low > 0.0) | (high < 0.0)))


def _children(
    lines: _Line, parent: _Cells, m: FloatArray, fm: FloatArray, em: FloatArray, slope: FloatArray
) -> tuple[_Cells, FloatArray]:
    """The children of split cells, and the parent's slope bound for each.

    A cell is cut at ``m`` into two halves; a cell whose values at both ends and at ``m``
    have one proven sign, but whose slope bound allows 0 within it, is cut into ``2 q``
    parts, ``q <= MAX_PARTS`` per half, so that the parent's slope bound can prune the parts
    from their end values alone (:func:`_bisection_round`): a point value costs a fraction
    of a cell's enclosure, and far from a root such a cell is usually settled by its points.
    """
    n = parent.lo.size
    if n == 0:
        return parent, slope
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        fmin = np.minimum(np.minimum(np.abs(parent.flo), np.abs(parent.fhi)), np.abs(fm))
        same = ((parent.flo > 0.0) == (parent.fhi > 0.0)) & ((parent.flo > 0.0) == (fm > 0.0))
        known = (np.abs(parent.flo) > parent.elo) & (np.abs(parent.fhi) > parent.ehi)
        known &= np.abs(fm) > em
        want = np.ceil((parent.hi - parent.lo) * slope / (4.0 * fmin))
    q = np.where(same & known & (want > 1.0), np.minimum(want, MAX_PARTS), 1.0).astype(np.intp)
    # Every parent's cut points in order: lo, q - 1 points, m, q - 1 points, hi.
    size = 2 * q + 1
    start = np.cumsum(size) - size
    total = int(size.sum())
    lo_, f_, e_ = np.empty(total), np.empty(total), np.empty(total)
    lo_[start], f_[start], e_[start] = parent.lo, parent.flo, parent.elo
    lo_[start + q], f_[start + q], e_[start + q] = m, fm, em
    last = start + 2 * q
    lo_[last], f_[last], e_[last] = parent.hi, parent.fhi, parent.ehi
    extra = 2 * (q - 1)
    if extra.any():
        owner = np.repeat(np.arange(n), extra)
        k = np.arange(owner.size) - np.repeat(np.cumsum(extra) - extra, extra)
        qo = q[owner]
        left = k < qo - 1
        j = np.where(left, k + 1, k - qo + 2) / qo
        a = np.where(left, parent.lo[owner], m[owner])
        b = np.where(left, m[owner], parent.hi[owner])
        t = a + (b - a) * j
        pos = start[owner] + k + 1 + ~left
        lo_[pos] = t
        f_[pos], e_[pos], _ = lines.points(t, parent.line[owner])
    # Children run between consecutive cut points of the same parent.
    keep = np.ones(total - 1, dtype=bool)
    keep[last[:-1]] = False
    owner = np.repeat(np.arange(n), 2 * q)
    children = _Cells(
        lo_[:-1][keep],
        lo_[1:][keep],
        parent.line[owner],
        f_[:-1][keep],
        e_[:-1][keep],
        f_[1:][keep],
        e_[1:][keep],
    )
    return children, slope[owner]


def _plain_cells(lines: _Line, cells: _Cells) -> NDArray[np.bool_] | None:
    """Which cells of a deep net get plain intervals rather than Taylor models: the wide
    ones (see :data:`WIDE_REACH`), on nets where :func:`_probe` of them favours plain
    intervals (decided once per batch of lines, from at least a quarter probe)."""
    wide = (cells.hi - cells.lo) * lines.wmax > WIDE_REACH
    idx = np.flatnonzero(wide)
    if lines.wide_plain is None and idx.size >= PROBE_CELLS // 4:
        lines.wide_plain = _probe(lines, cells.lo[idx], cells.hi[idx], cells.line[idx], True)[0]
    return wide if lines.wide_plain else None


def _probe(
    lines: _Line, lo: FloatArray, hi: FloatArray, line: IntArray, derivative: bool
) -> tuple[bool, affine.CellEnclosure, affine.CellEnclosure]:
    """Both enclosures, Taylor models and plain intervals, of the first :data:`PROBE_CELLS`
    cells, and whether the plain ones, at about half the cost, decide at least 90% as many
    (:meth:`~netbound.affine.CellEnclosure.decides`)."""
    k = min(lo.size, PROBE_CELLS)
    tm = lines.cells(lo[:k], hi[:k], line[:k], derivative, plain=False)
    pl = lines.cells(lo[:k], hi[:k], line[:k], derivative, plain=True)
    return _plain_pays(pl.decides(), tm.decides()), tm, pl


def _plain_pays(plain: NDArray[np.bool_], tm: NDArray[np.bool_]) -> bool:
    """Whether plain intervals, at about half the cost of Taylor models, settle at least 90%
    as many of the probed cells (``plain`` and ``tm``: the cells each settles)."""
    return bool(np.count_nonzero(plain) >= 0.9 * np.count_nonzero(tm))


def _assemble(lines: _Line, search: _Search, found: _Found) -> _Flat:
    """Polish the brackets into roots with proven enclosures, settle the stuck cells in ball
    arithmetic, and gather everything per line."""
    unresolved = search.unresolved
    cells = _Cells.concat(found.brackets)
    slopes = np.concatenate(found.slopes) if found.slopes else np.empty(0)
    t, line = _polish(lines, cells)
    lo, hi = _enclose(lines, cells, slopes, t)
    roots = _Roots(t, line, np.zeros(t.size, np.intp), lo, hi)
    if found.stuck:
        roots = roots.join(_escalate(lines, _Cells.concat(found.stuck), unresolved))
    roots = roots.sorted_unique()
    unresolved = [ball.merged(u) for u in unresolved]
    return _Flat(
        roots.t.tolist(),
        [_KINDS[k] for k in roots.kind.tolist()],
        np.searchsorted(roots.line, np.arange(lines.n + 1)).tolist(),
        unresolved,
        search.everywhere.tolist(),
        lines.count.tolist(),
        roots.lo.tolist(),
        roots.hi.tolist(),
    )


@dataclass
class _Roots:
    """Roots of many lines as parallel arrays (kind 0 crossing, 1 touching)."""

    t: FloatArray
    line: IntArray
    kind: IntArray
    lo: FloatArray
    hi: FloatArray

    def join(self, other: _Roots) -> _Roots:
        return _Roots(
            *(np.concatenate([getattr(self, k), getattr(other, k)]) for k in _ROOT_FIELDS)
        )

    def take(self, mask: NDArray[np.bool_] | IntArray) -> _Roots:
        return _Roots(*(getattr(self, k)[mask] for k in _ROOT_FIELDS))

    def sorted_unique(self) -> _Roots:
        """Sorted by line and t; the same root found from two adjacent cells (an exact zero at
        their shared end, or enclosures that overlap) is kept once, a crossing first."""
        r = self.take(np.lexsort((self.kind, self.t, self.line)))
        dup = np.zeros(r.t.size, dtype=bool)
        dup[1:] = (r.line[1:] == r.line[:-1]) & (r.lo[1:] <= r.hi[:-1])
        return r.take(~dup)


_ROOT_FIELDS = ("t", "line", "kind", "lo", "hi")


def _enclose(
    lines: _Line, cells: _Cells, slopes: FloatArray, t: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """A proven enclosure of the one root in each bracket, around its polished value ``t``.

    On a bracket the margin is monotone with ``|f'| >= s``, so the root r satisfies
    ``s |t - r| <= |f(t) - f(r)| = |f(t)|``, and ``|f(t)|`` is at most the computed value plus
    its rounding bound.  Where that leaves the root less well placed than float64 can place
    it (``REFINE_SCALE``) and ball arithmetic is at hand, the enclosure is shrunk there to a
    few ulps.
    """
    if t.size == 0:
        return t.copy(), t.copy()
    f, err, _ = lines.points(t, cells.line)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        radius = (np.abs(f) + err) / slopes * (1.0 + 8.0 * EPS)
    radius = np.where(np.isfinite(radius), radius, np.inf)
    lo = np.maximum(cells.lo, np.nextafter(t - radius, -np.inf))
    hi = np.minimum(cells.hi, np.nextafter(t + radius, np.inf))
    loose = (hi - lo) > REFINE_SCALE * np.maximum(1.0, np.abs(t))
    if np.any(loose):
        # The bracket's slope bound is loose on a wide bracket; on the enclosure just found,
        # which holds the root, a tighter one gives a narrower enclosure by the same argument.
        idx = np.flatnonzero(loose)
        _, _, dlo, dhi, *_ = lines.cells(lo[idx], hi[idx], cells.line[idx])
        tight = np.where((dlo > 0.0) | (dhi < 0.0), np.minimum(np.abs(dlo), np.abs(dhi)), 0.0)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            r2 = (np.abs(f[idx]) + err[idx]) / np.maximum(tight, slopes[idx]) * (1.0 + 8.0 * EPS)
        lo[idx] = np.maximum(lo[idx], np.nextafter(t[idx] - r2, -np.inf))
        hi[idx] = np.minimum(hi[idx], np.nextafter(t[idx] + r2, np.inf))
        loose = (hi - lo) > REFINE_SCALE * np.maximum(1.0, np.abs(t))
    if np.any(loose) and ball.available():
        sign_lo = np.where(cells.flo > 0.0, 1, -1)
        for k in np.flatnonzero(loose).tolist():
            a, b = ball.refine(
                lines.ball(int(cells.line[k])),
                float(lo[k]),
                float(hi[k]),
                int(sign_lo[k]),
                float(t[k]),
            )
            lo[k], hi[k] = a, b
            t[k] = min(max(t[k], a), b) if b - a > 4.0 * np.spacing(abs(a)) else 0.5 * a + 0.5 * b
    return lo, hi


def _escalate(lines: _Line, stuck: _Cells, unresolved: list[list[tuple[float, float]]]) -> _Roots:
    """Settle the cells float64 could not decide, merged into clusters, in ball arithmetic.

    Without python-flint every cluster is unresolved: float64 has nothing more to say there.
    """
    order = np.lexsort((stuck.lo, stuck.line))
    lo, hi, line = piecewise.merge_intervals(stuck.lo[order], stuck.hi[order], stuck.line[order])
    rows: list[tuple[float, int, int, float, float]] = []
    for a, b, i in zip(lo.tolist(), hi.tolist(), line.tolist(), strict=True):
        if not ball.available():
            unresolved[i].append((a, b))
            continue
        bl = lines.ball(i)
        before = bl.evaluations
        got = ball.isolate(bl, a, b)
        for x, y, sign in got.crossings:
            if x == y:
                rows.append((x, i, 0, x, y))
                continue
            ex, ey = ball.refine(bl, x, y, sign, 0.5 * x + 0.5 * y)
            rows.append((0.5 * ex + 0.5 * ey, i, 0, ex, ey))
        rows.extend((x, i, 1, a_, b_) for a_, b_, x in got.touching)
        unresolved[i].extend(got.unresolved)
        lines.count[i] += bl.evaluations - before
    if not rows:
        e = np.empty(0)
        return _Roots(e, np.empty(0, np.intp), np.empty(0, np.intp), e, e)
    t, li, k, a_, b_ = zip(*rows, strict=True)
    return _Roots(
        np.array(t), np.array(li, np.intp), np.array(k, np.intp), np.array(a_), np.array(b_)
    )


def _certify_flat(lines: _Line, flat: _Flat, reach: FloatArray) -> _Flat:
    """Proven enclosures for roots found another way (the exact piecewise-affine solver).

    A crossing at ``t`` is kept with the enclosure ``[t - d, t + d]`` for the smallest ``d``
    of a few (growing from a few ulps) at which the margin's end values have proven opposite
    signs; a touching root likewise where they have the same proven sign.  A root that
    cannot be certified so is reported unresolved around ``t``.

    ``reach`` (parallel to ``flat.t``, NaN where unknown) is where the margin is expected to
    leave its rounding bound (:func:`_reach`).  Where it is known, the first half-width
    tried is the power of two (in those units) at or above twice it, and the growing ones
    not above that are skipped: on a wide network they would all fail.  (Not where that
    half-width reaches halfway to another root of the line.)
    """
    t = np.array(flat.t, dtype=np.float64)
    n = len(flat.counts)
    line = np.repeat(np.arange(n), np.diff(flat.bounds))
    kind = np.array([_KINDS.index(k) for k in flat.kind], dtype=np.intp)
    lo = np.full(t.size, np.nan)
    hi = np.full(t.size, np.nan)
    todo = np.ones(t.size, dtype=bool)
    scale = np.maximum(1.0, np.abs(t))
    growing = int(np.argmax(CERTIFY_STEPS))
    with np.errstate(divide="ignore", invalid="ignore"):
        guess = np.exp2(np.ceil(np.log2(2.0 * reach / (EPS * scale))))
    guess = np.clip(guess, CERTIFY_STEPS[0], CERTIFY_STEPS[growing])  # NaN stays NaN
    # No guess that reaches halfway to a neighbouring root of the line: there the ladder's
    # narrower steps keep the two enclosures apart.
    gap = np.full(t.size, np.inf)
    if t.size > 1:
        apart = np.where(line[1:] == line[:-1], np.diff(t), np.inf)
        gap[1:] = apart
        gap[:-1] = np.minimum(gap[:-1], apart)
    guess[guess * EPS * scale >= 0.5 * gap] = np.nan
    # Each pass: a half-width per root, NaN where that root skips it (the guess where there
    # is none; the growing steps not above the guess).
    passes = [guess]
    for s, step in enumerate(CERTIFY_STEPS):
        passes.append(
            np.where(step <= guess, np.nan, step) if s <= growing else np.full_like(t, step)
        )
    for half_width in passes:
        if not np.any(todo):
            break
        idx = np.flatnonzero(todo & ~np.isnan(half_width))
        if idx.size == 0:
            continue
        d = half_width[idx] * EPS * scale[idx]
        a, b = t[idx] - d, t[idx] + d
        f, e, _ = lines.points(np.concatenate([a, b]), np.tile(line[idx], 2))
        fa, fb, ea, eb = f[: idx.size], f[idx.size :], e[: idx.size], e[idx.size :]
        known = (np.abs(fa) > ea) & (np.abs(fb) > eb)
        # The sign change proves a root in [a, b].  That it is the only one rests on the
        # piece analysis that found t, where the interval slope cannot show it: across a
        # kink relu' is enclosed as [0, 1], so the slope's enclosure holds 0.
        cross = (kind[idx] == 0) & known & ((fa > 0.0) != (fb > 0.0))
        touch = (kind[idx] == 1) & known & ((fa > 0.0) == (fb > 0.0))
        ok = cross | touch
        lo[idx[ok]], hi[idx[ok]] = a[ok], b[ok]
        todo[idx[ok]] = False
    for k in np.flatnonzero(todo).tolist():
        d = max(CERTIFY_STEPS) * EPS * scale[k]
        flat.unresolved[int(line[k])].append((float(t[k] - d), float(t[k] + d)))
    keep = ~todo
    line_kept = line[keep]
    return _Flat(
        t[keep].tolist(),
        [_KINDS[k] for k in kind[keep].tolist()],
        np.searchsorted(line_kept, np.arange(n + 1)).tolist(),
        [sorted(u) for u in flat.unresolved],
        flat.everywhere,
        lines.count.tolist(),
        lo[keep].tolist(),
        hi[keep].tolist(),
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
    # Newton steps against the network itself remove the rounding of -a/b.  Up to three: a
    # root snapped onto a kink takes its first step with the slope at the kink, which is
    # neither side's (relu' there is taken as 1), and only the next steps land on the root.
    # A root whose step was within a few ulps has converged and takes no more.
    moving = np.flatnonzero(r.kind == 0)
    reach = np.full(t.size, np.nan)
    for _ in range(NEWTON_STEPS):
        if moving.size == 0:
            break
        tm = t[moving]
        f, e, df = lines.points(tm, r.line[moving], derivative=True)
        reach[moving] = _reach(e, df)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = np.where(df != 0.0, f / df, 0.0)
        scale = np.maximum(1.0, np.abs(tm))
        small = np.abs(step) <= 1e-9 * scale
        t[moving] = np.where(small, tm - step, tm)
        moving = moving[small & (np.abs(step) > 4.0 * EPS * np.abs(tm))]
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
    t, line, kind, reach = _merge_close_roots(
        lines, t[order], r.line[order], r.kind[order], reach[order]
    )
    t, line, kind, reach = _refute_touching(lines, t, line, kind, reach, unresolved, lo, hi)
    flat = _Flat(
        t.tolist(),
        [_KINDS[k] for k in kind.tolist()],
        np.searchsorted(line, np.arange(n + 1)).tolist(),
        unresolved,
        everywhere.tolist(),
        lines.count.tolist(),
    )
    return _certify_flat(lines, flat, reach)


def _reach(err: FloatArray, slope: FloatArray) -> FloatArray:
    """Distance from a root at which the margin is expected to leave its rounding bound:
    the bound ``err`` over the slope's magnitude there (NaN where the slope is 0).

    Only a guide to where certifying points start (:func:`_side_signs`,
    :func:`_certify_flat`): on a wide network the rounding bound is many orders of
    magnitude above the actual error, and the points nearer than this would all be
    evaluated in vain.  A guess that is wrong costs tightness or points, never soundness.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        out: FloatArray = np.where(slope != 0.0, err / np.abs(slope), np.nan)
    return out


#: Roots of one line closer than this (relative to max(1, |t|)) are candidates for being one
#: root seen twice: kinks a few ulps apart make pieces whose coefficients are lost in rounding.
MERGE_SCALE = 1e-6
#: Distance (relative to max(1, |t|)) at which the sides of a root are first looked at.
SIDE_SCALE = 1e-12


def _merge_close_roots(
    lines: _Line, t: FloatArray, line: IntArray, kind: IntArray, reach: FloatArray
) -> tuple[FloatArray, IntArray, IntArray, FloatArray]:
    """Classify each root by the margin's signs on its two sides (different: crossing;
    equal: touching), after merging neighbours that are one root seen twice: between them
    the margin never leaves its rounding error.  ``reach`` (:func:`_reach`) guides the
    sides' first distance; a merged root has the largest of its parts'."""
    if t.size == 0:
        return t, line, kind, reach
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
    g_reach = np.fmax.reduceat(reach, first)
    side = _side_signs(lines, g_lo, g_hi, g_line, SIDE_SCALE * scale[first], g_reach)
    known = (side[0] != 0.0) & (side[1] != 0.0)
    out_kind = np.where(known, np.where(side[0] == side[1], 1, 0), kind[first])
    return out_t, g_line, out_kind, g_reach


#: Distances (relative to max(1, |t|)) at which the crossings near a refuted touching root
#: are looked for (:func:`_refute_touching`).
REFUTE_SCALES = 10.0 ** np.arange(-12.0, -5.0)
#: Bisection steps that locate each of those crossings.
REFUTE_STEPS = 80


def _refute_touching(
    lines: _Line,
    t: FloatArray,
    line: IntArray,
    kind: IntArray,
    reach: FloatArray,
    unresolved: list[list[tuple[float, float]]],
    lo: FloatArray,
    hi: FloatArray,
) -> tuple[FloatArray, IntArray, IntArray, FloatArray]:
    """Touching roots at which the margin is provably not 0, replaced by what is there.

    The piece analysis snaps a root within its coefficients' rounding of a kink onto it, and
    that rounding (``ZERO_ULPS`` ulps of the magnitudes summed into them) can exceed the
    distance of a close pair of crossings from the kink: both are then snapped onto it and
    seen as one touching root, whose sides have one sign.  A point value at the kink is far
    more precise.  Where it has a proven sign ``s``, the margin is searched on both sides, at
    :data:`REFUTE_SCALES`, for the opposite sign: a side where it is found holds a crossing,
    located by bisection between proven signs.  Where neither side shows it, the root is
    reported unresolved over the searched span: no crossing was seen, and none is claimed
    absent.  Only the lines' windows ``[lo, hi]`` are searched.  The roots kept keep their
    ``reach`` (:func:`_reach`); the crossings found have none (NaN).
    """
    touching = np.flatnonzero(kind == 1)
    if touching.size == 0:
        return t, line, kind, reach
    f, e, _ = lines.points(t[touching], line[touching])
    wrong = np.abs(f) > e
    if not np.any(wrong):
        return t, line, kind, reach
    idx = touching[wrong]
    t0, l0, s0 = t[idx], line[idx], np.sign(f[wrong])
    scale = np.maximum(1.0, np.abs(t0))
    new_t: list[FloatArray] = []
    new_line: list[IntArray] = []
    brackets: list[tuple[FloatArray, FloatArray]] = []
    found = np.zeros(idx.size, dtype=bool)
    for direction in (-1.0, 1.0):
        # Probes at growing distance; last[i] is the last point with the sign s0 (the root
        # itself to start with), far[i] the first with the opposite sign.
        last = t0.copy()
        far = np.full(idx.size, np.nan)
        for rel in REFUTE_SCALES:
            open_ = np.isnan(far)
            if not np.any(open_):
                break
            probe = t0[open_] + direction * rel * scale[open_]
            # Past the window's end the search stops on that side.
            edge = lo[l0[open_]] if direction < 0.0 else hi[l0[open_]]
            probe = np.where(direction * (probe - edge) > 0.0, edge, probe)
            fp, ep, _ = lines.points(probe, l0[open_])
            proven = np.abs(fp) > ep
            same = proven & (np.sign(fp) == s0[open_])
            other = proven & ~same
            sel = np.flatnonzero(open_)
            last[sel[same]] = probe[same]
            far[sel[other]] = probe[other]
        hit = np.flatnonzero(~np.isnan(far))
        a, b, ln, sign = last[hit], far[hit], l0[hit], s0[hit]
        # Bisection keeps a proven sign s0 at a and the opposite at b; a bracket whose
        # midpoint's sign is not proven is as narrow as point values can make it.
        active = np.ones(hit.size, dtype=bool)
        for _ in range(REFUTE_STEPS):
            mid = 0.5 * a + 0.5 * b
            active &= (mid != a) & (mid != b)
            if not np.any(active):
                break
            sel = np.flatnonzero(active)
            fm, em, _ = lines.points(mid[sel], ln[sel])
            proven = np.abs(fm) > em
            same = proven & (np.sign(fm) == sign[sel])
            a[sel[same]] = mid[sel[same]]
            b[sel[proven & ~same]] = mid[sel[proven & ~same]]
            active[sel[~proven]] = False
        # Newton steps from the bracket's middle, kept inside it, land on the float root
        # (where the enclosure is certified at a few ulps, as for the other roots).
        root = 0.5 * a + 0.5 * b
        lo_b, hi_b = np.minimum(a, b), np.maximum(a, b)
        for _ in range(NEWTON_STEPS):
            fr, _, dfr = lines.points(root, ln, derivative=True)
            with np.errstate(divide="ignore", invalid="ignore"):
                cand = root - fr / dfr
            root = np.where((cand >= lo_b) & (cand <= hi_b), cand, root)
        new_t.append(root)
        new_line.append(ln)
        brackets.append((lo_b, hi_b))
        found[hit] = True
    span = REFUTE_SCALES[-1] * scale
    for k in np.flatnonzero(~found).tolist():
        i = int(l0[k])
        a_k, b_k = max(float(t0[k] - span[k]), lo[i]), min(float(t0[k] + span[k]), hi[i])
        unresolved[i].append((float(a_k), float(b_k)))
    keep = np.ones(t.size, dtype=bool)
    keep[idx] = False
    found_t, found_line = np.concatenate(new_t), np.concatenate(new_line)
    b_lo = np.concatenate([x[0] for x in brackets])
    b_hi = np.concatenate([x[1] for x in brackets])
    # A crossing that the piece analysis found too is kept once: a root of the same line in
    # the bracket (widened by a few ulps) is taken to be it, as the two could not be told
    # apart there.
    old_t, old_line = t[keep], line[keep]
    pad = CERTIFY_STEPS[1] * EPS * np.maximum(1.0, np.abs(found_t))
    inside = (old_t[None, :] >= (b_lo - pad)[:, None]) & (old_t[None, :] <= (b_hi + pad)[:, None])
    seen = np.any(inside & (old_line[None, :] == found_line[:, None]), axis=1)
    out_t = np.concatenate([old_t, found_t[~seen]])
    out_line = np.concatenate([old_line, found_line[~seen]])
    out_kind = np.concatenate([kind[keep], np.zeros(int(np.count_nonzero(~seen)), np.intp)])
    out_reach = np.concatenate([reach[keep], np.full(int(np.count_nonzero(~seen)), np.nan)])
    order = np.lexsort((out_t, out_line))
    return out_t[order], out_line[order], out_kind[order], out_reach[order]


def _side_signs(
    lines: _Line,
    lo: FloatArray,
    hi: FloatArray,
    line: IntArray,
    scale: FloatArray,
    reach: FloatArray,
) -> FloatArray:
    """The margin's sign just left of ``lo`` and just right of ``hi`` (0 where it stays
    within rounding up to 1000 ``scale`` away), shape (2, n).  The distances below half of
    ``reach`` (:func:`_reach`) are not tried, but for the last."""
    side = np.zeros((2, lo.size))
    steps = (1.0, 10.0, 100.0, 1000.0)
    for step in steps:
        todo = np.flatnonzero(np.any(side == 0.0, axis=0))
        if step < steps[-1]:
            todo = todo[~(step * scale[todo] < 0.5 * reach[todo])]
        if todo.size == 0:
            continue
        d = step * scale[todo]
        f, e, _ = lines.points(np.concatenate([lo[todo] - d, hi[todo] + d]), np.tile(line[todo], 2))
        known = (np.abs(f) > e).reshape(2, -1)
        part = side[:, todo]
        side[:, todo] = np.where((part == 0.0) & known, np.sign(f).reshape(2, -1), part)
    return side


def _initial_cells(
    lines: _Line, lo_edge: FloatArray, hi_edge: FloatArray
) -> tuple[_Cells, affine.CellEnclosure | None]:
    """Cells cut at the first layer's kinks and the edges of its units' linear regimes, less
    those their enclosures exclude; on deep nets also those enclosures, slopes included,
    for the first bisection round (see :func:`_first_enclosures`)."""
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
    if pts.shape[1] > INITIAL_POINTS:
        # A wide layer would start every line with hundreds of cells; keep evenly spaced ones
        # of its sorted cut points (the edges among them): bisection refines where needed.
        count = np.sum(~np.isnan(pts), axis=1)
        pick = np.rint(
            np.linspace(0.0, 1.0, INITIAL_POINTS)[None, :] * (count[:, None] - 1)
        ).astype(np.intp)
        pts = np.take_along_axis(pts, pick, axis=1)
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
    enc = None
    if lines.deep:
        out, enc = _first_enclosures(lines, flat_t[idx], flat_t[idx + 1], flat_line[idx])
        keep = ~out
        idx = idx[keep]
        if enc is not None:
            enc = affine.CellEnclosure(*(x[keep] for x in enc))
    else:
        first = lines.cells(flat_t[idx], flat_t[idx + 1], flat_line[idx], derivative=False)
        idx = idx[~first.excludes_zero()]
    needed = np.zeros(flat_t.size, dtype=bool)
    needed[idx] = needed[idx + 1] = True
    f = np.zeros(flat_t.size)
    e = np.zeros(flat_t.size)
    f[needed], e[needed], _ = lines.points(flat_t[needed], flat_line[needed])
    cells = _Cells(
        flat_t[idx], flat_t[idx + 1], flat_line[idx], f[idx], e[idx], f[idx + 1], e[idx + 1]
    )
    return cells, enc


def _first_enclosures(
    lines: _Line, lo: FloatArray, hi: FloatArray, line: IntArray
) -> tuple[NDArray[np.bool_], affine.CellEnclosure | None]:
    """Which of the first cells of a deep net's lines provably hold no root, and, where most
    do not, the enclosures of the margin and its slope on every cell, from which the first
    bisection round decides or splits the others without evaluating them again.

    Plain intervals, at about half the cost of Taylor models, are as tight on some nets and
    far looser on others: both are tried on the first :data:`PROBE_CELLS` cells
    (:func:`_probe`; there the two are intersected), and the rest get plain intervals where
    those decided at least 90% as many.  Where the probe excludes at least
    :data:`FIRST_EXCLUDED` of its cells, the rest are enclosed without their slopes (half
    the cost), and the few that remain are evaluated again in the first round.
    """
    decide_plain, tm, pl = _probe(lines, lo, hi, line, derivative=True)
    k = tm.flo.size
    both = affine.CellEnclosure(
        np.fmax(tm.flo, pl.flo),
        np.fmin(tm.fhi, pl.fhi),
        np.fmax(tm.dlo, pl.dlo),
        np.fmin(tm.dhi, pl.dhi),
        tm.centre,
        tm.centre_err,
    )
    out = both.excludes_zero()
    slopes = bool(np.count_nonzero(out) < FIRST_EXCLUDED * k)
    # Without slopes, what counts is the cells each excludes.
    plain = decide_plain if slopes else _plain_pays(pl.excludes_zero(), tm.excludes_zero())
    if k < lo.size:
        rest = lines.cells(lo[k:], hi[k:], line[k:], slopes, plain)
        out = np.concatenate([out, rest.excludes_zero()])
        if slopes:
            both = affine.CellEnclosure(*(np.concatenate(x) for x in zip(both, rest, strict=True)))
    return out, both if slopes else None


def _polish(lines: _Line, cells: _Cells) -> tuple[FloatArray, IntArray]:
    """Refine every bracketed crossing at once to near machine precision."""
    lo, hi, line = cells.lo, cells.hi, cells.line
    if lo.size == 0:
        return lo.copy(), line
    from scipy.optimize import elementwise  # imported here: it is slow to import

    res = elementwise.find_root(lines.value, (lo, hi), args=(line,))
    # BLAS may round a batch of another shape differently, so find_root can see an end value
    # with the other sign: the estimate is then the end of smaller |f| (the enclosure that
    # follows is proven either way).
    failed = ~res.success | ~np.isfinite(res.x)
    nearest = np.where(np.abs(cells.flo) <= np.abs(cells.fhi), lo, hi)
    t: FloatArray = np.where(failed, nearest, res.x)
    return t, line


__all__ = ["LineSolution", "Root", "SliceResult", "solve_lines"]
