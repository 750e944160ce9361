"""Enclosures of the margin over rectangles of a plane, and the certified search of a box for
every piece of the boundary that lines across it could miss.

The plane is spanned by two inputs (``axes``); every other input is fixed.  In it the first
layer is affine, ``u = W_a x_a + W_b x_b + c``, so its range over a rectangle is exact up to
rounding; later layers are enclosed by interval arithmetic (midpoint-radius form), every
interval widened by a bound on the rounding error, and the two partial derivatives are
carried along by forward-mode interval differentiation.  So an enclosure always holds the
exact margin and gradient of the network over the rectangle, whatever floating point does.

The search (after Plantinga & Vegter, "Isotopic approximation of implicit curves and
surfaces", 2004) rests on one fact: a component of ``f = 0`` that crosses none of a set of
lines lies inside one cell that they cut the box into, and is then a closed curve around a
region where ``f`` keeps one sign.  Along any direction ``d``, ``f`` rises and falls again
across that region, so its derivative along ``d`` takes both signs in the cell.  A cell
therefore needs a closer look only while its enclosure of ``f`` holds 0 and so do those of
the derivatives along both axes and both diagonals.
Such a cell is cut in four; the two cutting segments are solved by the certified 1-D solver
(their roots are seeds for the tracer), and the four quarters are examined in turn, down to a
floor below which a cell is reported as unresolved.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from netbound import activations
from netbound.margin import Margin
from netbound.network import FloatArray, Layer

EPS = float(np.finfo(np.float64).eps)
TINY = 1e-300
#: Safety factor on the first-order rounding bounds below.
SAFETY = 4.0
#: Cells smaller than this fraction of the box's longer side are not cut further: still
#: undecided there, they are unresolved.  A closed loop is found once a cutting line passes
#: through it, so loops down to about this size are found; the traced points are proven to
#: 1e-9 of the box's size, which leaves a loop at the floor a few hundred such widths across.
FLOOR = 2.0**-22
#: A cell is cut across one axis only when that axis's extent accounts for this many times
#: more of the margin's enclosure than the other's.
ANISOTROPY = 4.0
#: Largest number of enclosures (of cells and of pieces of segments) one search may spend:
#: a guard for a boundary that is singular along a whole curve (a line of double roots), and
#: for huge networks whose enclosures stay loose.  What is left when it is spent is
#: unresolved.
MAX_CELLS = 300_000
#: Elements (cells x units) per evaluation block (keeps temporaries in the cache).
BLOCK_ELEMENTS = 16384

Rect = tuple[float, float, float, float]
#: The directions along which derivatives are enclosed: the two axes and the two diagonals.
#: Along a direction where the derivative keeps one sign over a cell, every line crosses the
#: boundary at most once there, so no closed component fits in the cell; the diagonals catch
#: the corners of piecewise-affine boundaries, where neither partial keeps its sign.
DIRECTIONS = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [1.0, -1.0]])


def _gamma(n: int) -> float:
    """Relative error bound of an n-term dot product (Higham's gamma_n, with a safety factor)."""
    return SAFETY * (n + 2) * EPS


def _idot(weights: FloatArray, lo: FloatArray, hi: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Interval of ``v @ weights.T`` for ``v`` in ``[lo, hi]``, widened for rounding.

    Midpoint-radius form ``W m +- |W| r``; ``gamma (|m| + r) |W|`` covers the rounding of the
    products and sums, the factors on ``r`` and ``m`` that of the midpoint and radius.
    """
    g = _gamma(weights.shape[1])
    total = lo + hi
    radius = (hi - lo) * (0.5 * (1.0 + 4.0 * EPS + g)) + np.abs(total) * (0.5 * (2.0 * EPS + g))
    centre = 0.5 * (total @ weights.T)
    spread = radius @ np.abs(weights).T + TINY
    return centre - spread, centre + spread


def _scale(
    slo: FloatArray, shi: FloatArray, dlo: FloatArray, dhi: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """``[slo, shi] * [dlo, dhi]`` for a non-negative first factor (a monotone unit's slope)."""
    return dlo * np.where(dlo < 0.0, shi, slo), dhi * np.where(dhi > 0.0, shi, slo)


def _widen(lo: FloatArray, hi: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Widen by the rounding of an activation or slope evaluated in floating point."""
    e = SAFETY * EPS * np.maximum(np.abs(lo), np.abs(hi)) + TINY
    return lo - e, hi + e


class PlaneEnclosure:
    """Enclosures of the margin and its two partial derivatives over rectangles of a plane.

    Parameters
    ----------
    margin
        The margin.
    rest
        All ``n_inputs`` values; the entries at ``axes`` are ignored.
    axes
        The two inputs spanning the plane.
    """

    def __init__(self, margin: Margin, rest: FloatArray, axes: tuple[int, int]) -> None:
        self.margin = margin
        weights, biases = margin.first_layer()
        others = np.asarray(rest, dtype=np.float64).copy()
        others[list(axes)] = 0.0
        self.w: FloatArray = np.ascontiguousarray(weights[:, list(axes)])
        self.c: FloatArray = weights @ others + biases
        # Rounding of c: an n-term dot product plus a bias.
        self.c_err: FloatArray = _gamma(weights.shape[1]) * (
            np.abs(weights) @ np.abs(others) + np.abs(biases)
        )
        self.hidden: tuple[Layer, ...] = margin.hidden
        width = max([self.w.shape[0]] + [layer.n_out for layer in margin.hidden])
        self.block = max(64, BLOCK_ELEMENTS // width)

    def __call__(
        self, alo: FloatArray, ahi: FloatArray, blo: FloatArray, bhi: FloatArray
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """Enclosures over the rectangles ``[alo, ahi] x [blo, bhi]``.

        Returns ``flo, fhi`` (the margin) and ``glo, ghi`` of shape ``(n, 4)``: the
        derivatives along :data:`DIRECTIONS` (the two axes and the two diagonals).
        """
        parts = [
            self._block(alo[s], ahi[s], blo[s], bhi[s])
            for s in (slice(k, k + self.block) for k in range(0, max(alo.size, 1), self.block))
        ]
        if len(parts) == 1:
            return parts[0]
        f0, f1, g0, g1 = (np.concatenate(p) for p in zip(*parts, strict=True))
        return f0, f1, g0, g1

    def _block(
        self, alo: FloatArray, ahi: FloatArray, blo: FloatArray, bhi: FloatArray
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        with np.errstate(over="ignore", invalid="ignore", under="ignore"):
            ma, mb = 0.5 * (alo + ahi), 0.5 * (blo + bhi)
            ra = (ahi - alo) * (0.5 * (1.0 + 4.0 * EPS)) + EPS * np.abs(ma)
            rb = (bhi - blo) * (0.5 * (1.0 + 4.0 * EPS)) + EPS * np.abs(mb)
            wa, wb = self.w[:, 0], self.w[:, 1]
            centre = ma[:, None] * wa + mb[:, None] * wb + self.c
            g = _gamma(3)
            spread = (
                ra[:, None] * np.abs(wa)
                + rb[:, None] * np.abs(wb)
                + g * (np.abs(ma)[:, None] * np.abs(wa) + np.abs(mb)[:, None] * np.abs(wb))
                + g * np.abs(self.c)
                + self.c_err
                + TINY
            )
            ulo, uhi = centre - spread, centre + spread
            # Derivatives of u along each direction: (directions, units), widened for the
            # rounding of the diagonal sums.
            seed = DIRECTIONS @ self.w.T
            seed_err = 2.0 * EPS * np.abs(seed)
            n = ulo.shape[0]
            dlo = np.broadcast_to(seed - seed_err, (n, *seed.shape))
            dhi = np.broadcast_to(seed + seed_err, (n, *seed.shape))
            if not self.hidden:
                return ulo[:, 0], uhi[:, 0], dlo[:, :, 0].copy(), dhi[:, :, 0].copy()
            layer = self.hidden[0]
            vlo, vhi = _widen(*activations.range_of(layer.activation, ulo, uhi, layer.alpha))
            for k, layer in enumerate(self.hidden):
                if k > 0:
                    plo, phi = _idot(layer.weights, vlo, vhi)
                    bias_err = _gamma(layer.n_in) * np.abs(layer.biases)
                    ulo, uhi = plo + layer.biases - bias_err, phi + layer.biases + bias_err
                    dlo, dhi = _idot(layer.weights, dlo, dhi)
                    vlo, vhi = _widen(
                        *activations.range_of(layer.activation, ulo, uhi, layer.alpha)
                    )
                slo, shi = _widen(
                    *activations.derivative_range(layer.activation, ulo, uhi, layer.alpha)
                )
                slo = np.maximum(slo, 0.0)
                dlo, dhi = _scale(slo[:, None, :], shi[:, None, :], dlo, dhi)
            r = self.margin.readout[None, :]
            flo, fhi = _idot(r, vlo, vhi)
            off = self.margin.offset
            fe = _gamma(r.shape[1]) * abs(off)
            glo, ghi = _idot(r, dlo, dhi)
        return flo[:, 0] + (off - fe), fhi[:, 0] + (off + fe), glo[:, :, 0], ghi[:, :, 0]

    def value(self, a: FloatArray, b: FloatArray) -> FloatArray:
        """The margin at points ``(a, b)`` in floating point (no error bound)."""
        with np.errstate(over="ignore", invalid="ignore", under="ignore"):
            v = a[:, None] * self.w[:, 0] + b[:, None] * self.w[:, 1] + self.c
            if not self.hidden:
                out: FloatArray = v[:, 0]
                return out
            v = self.hidden[0].activate(v)
            for layer in self.hidden[1:]:
                v = layer.activate(v @ layer.weights.T + layer.biases)
            out = v @ self.margin.readout + self.margin.offset
        return out

    def ranges(
        self, alo: FloatArray, ahi: FloatArray, blo: FloatArray, bhi: FloatArray
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """Like calling the enclosure, with the margin's range tightened by the mean value form.

        The margin's enclosure is the tighter of the plain one and the mean-value form
        ``f(m) + G_a [-r_a, r_a] + G_b [-r_b, r_b]`` (``G`` the gradient's enclosure over the
        rectangle, ``f(m)`` enclosed at its centre): near a critical point the gradient is
        small and the mean-value form's width shrinks like the square of the cell's size,
        where the plain form, which loses the correlation between units, shrinks only like
        its size.
        """
        flo, fhi, glo, ghi = self(alo, ahi, blo, bhi)
        ma, mb = 0.5 * (alo + ahi), 0.5 * (blo + bhi)
        clo, chi, _, _ = self(ma, ma, mb, mb)
        with np.errstate(over="ignore", invalid="ignore"):
            # The centre m is the rounded midpoint: the radii reach both ends from it.
            ra = np.maximum(ahi - ma, ma - alo) * (1.0 + 4.0 * EPS)
            rb = np.maximum(bhi - mb, mb - blo) * (1.0 + 4.0 * EPS)
            ga = np.maximum(np.abs(glo[:, 0]), np.abs(ghi[:, 0]))
            gb = np.maximum(np.abs(glo[:, 1]), np.abs(ghi[:, 1]))
            spread = (ga * ra + gb * rb) * (1.0 + 8.0 * EPS) + TINY
            flo = np.maximum(flo, clo - spread)
            fhi = np.minimum(fhi, chi + spread)
        return flo, fhi, glo, ghi

    def undecided(
        self, alo: FloatArray, ahi: FloatArray, blo: FloatArray, bhi: FloatArray
    ) -> NDArray[np.bool_]:
        """Rectangles that may hold a closed component: the margin may vanish, and so may its
        derivative along each of :data:`DIRECTIONS`.  A NaN enclosure counts as undecided.
        """
        return self.classify(alo, ahi, blo, bhi)[0]

    def classify(
        self, alo: FloatArray, ahi: FloatArray, blo: FloatArray, bhi: FloatArray
    ) -> tuple[NDArray[np.bool_], FloatArray, FloatArray]:
        """:meth:`undecided`, and how much of the margin's enclosure each axis's extent
        accounts for (the two terms of the mean-value form): the axis to cut."""
        flo, fhi, glo, ghi = self.ranges(alo, ahi, blo, bhi)
        # A weak sign suffices: along a direction where f never increases (or never
        # decreases) a loop around a region where f is not zero cannot close; and a slope
        # that underflows to 0 far out in a unit's saturation is still never positive.
        signed = np.any((glo >= 0.0) | (ghi <= 0.0), axis=1)
        out: NDArray[np.bool_] = ~(flo > 0.0) & ~(fhi < 0.0) & ~signed
        with np.errstate(over="ignore", invalid="ignore"):
            ta = np.maximum(np.abs(glo[:, 0]), np.abs(ghi[:, 0])) * (ahi - alo)
            tb = np.maximum(np.abs(glo[:, 1]), np.abs(ghi[:, 1])) * (bhi - blo)
        return out, ta, tb

    def signs(self, a: FloatArray, b: FloatArray) -> FloatArray:
        """The margin's proven sign at points (+1, -1, or 0 where rounding cannot tell)."""
        flo, fhi, _, _ = self(a, a, b, b)
        out: FloatArray = np.where(flo > 0.0, 1.0, np.where(fhi < 0.0, -1.0, 0.0))
        return out


@dataclass
class SearchResult:
    """What the search of a box found beyond its grid lines.

    Attributes
    ----------
    seeds
        Points ``(k, 2)`` of the boundary, in the plane's coordinates, on the segments that
        cut undecided cells.
    gaps
        Each seed's distance to its nearest neighbour on the same cutting line (inf when
        alone): how close another piece of the boundary runs beside it.
    unresolved
        Rectangles ``(a_lo, a_hi, b_lo, b_hi)`` that may hold a component not found.
    cells
        Cell enclosures computed.
    """

    seeds: FloatArray
    gaps: FloatArray
    unresolved: list[Rect]
    cells: int


def _ends(
    along: int, s_lo: FloatArray, s_hi: FloatArray, value: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """The rectangles ``(alo, ahi, blo, bhi)`` of segments along axis ``along``."""
    return (s_lo, s_hi, value, value) if along == 0 else (value, value, s_lo, s_hi)


def _point(along: int, s: FloatArray, value: FloatArray) -> tuple[FloatArray, FloatArray]:
    return (s, value) if along == 0 else (value, s)


def segment_roots(
    enclose: PlaneEnclosure,
    along: int,
    value: FloatArray,
    lo: FloatArray,
    hi: FloatArray,
    across: tuple[FloatArray, FloatArray],
    floor: float,
    budget: list[int],
) -> tuple[FloatArray, list[Rect]]:
    """The boundary's crossings of segments, isolated with proof, and what is unresolved.

    A segment runs along axis ``along`` over ``[lo, hi]`` at ``value`` of the other axis.  It
    holds no crossing when the margin's enclosure excludes 0, or when the margin is monotone
    along it (the derivative's enclosure keeps one sign, 0 allowed) and its proven signs at
    both ends agree; exactly one when monotone with opposite signs at the ends (its zeros
    then form one point or one interval).  Otherwise it is halved, down
    to ``floor``; a piece still undecided there makes the rectangle it spans across
    ``across`` (per segment) unresolved.  A monotone piece whose end is within rounding of 0
    gives that end as its crossing.  ``budget[0]`` is the number of enclosures still allowed;
    pieces left when it is spent are unresolved.

    Returns the crossings ``(k, 2)``, located by bisection to the last bit, and the
    unresolved rectangles.
    """
    if value.size == 0:
        return np.empty((0, 2)), []
    tlo, thi = across
    s_lo, s_hi, v = lo.copy(), hi.copy(), value.copy()
    sign_lo = enclose.signs(*_point(along, s_lo, v))
    sign_hi = enclose.signs(*_point(along, s_hi, v))
    bracket_lo: list[FloatArray] = []
    bracket_hi: list[FloatArray] = []
    bracket_v: list[FloatArray] = []
    ends: list[FloatArray] = []
    unresolved: list[Rect] = []
    while s_lo.size:
        budget[0] -= s_lo.size
        flo, fhi, glo, ghi = enclose.ranges(*_ends(along, s_lo, s_hi, v))
        dlo, dhi = glo[:, along], ghi[:, along]
        none = (flo > 0.0) | (fhi < 0.0)
        mono = (dlo >= 0.0) | (dhi <= 0.0)
        proven = (sign_lo != 0.0) & (sign_hi != 0.0)
        cross = ~none & mono & proven & (sign_lo != sign_hi)
        at_end = ~none & mono & ~proven
        rest = ~none & ~mono
        bracket_lo.append(s_lo[cross])
        bracket_hi.append(s_hi[cross])
        bracket_v.append(v[cross])
        end = np.where(sign_lo[at_end] == 0.0, s_lo[at_end], s_hi[at_end])
        ends.append(np.stack(_point(along, end, v[at_end]), axis=1))
        small = rest & ((s_hi - s_lo <= floor) | (budget[0] < 2 * s_lo.size))
        for k in np.flatnonzero(small).tolist():
            r = [0.0, 0.0, 0.0, 0.0]
            r[2 * along], r[2 * along + 1] = float(s_lo[k]), float(s_hi[k])
            r[2 - 2 * along], r[3 - 2 * along] = float(tlo[k]), float(thi[k])
            unresolved.append((r[0], r[1], r[2], r[3]))
        go = rest & ~small
        s_lo, s_hi, v, tlo, thi = s_lo[go], s_hi[go], v[go], tlo[go], thi[go]
        sign_lo, sign_hi = sign_lo[go], sign_hi[go]
        mid = 0.5 * (s_lo + s_hi)
        sign_mid = enclose.signs(*_point(along, mid, v))
        s_lo, s_hi = np.concatenate([s_lo, mid]), np.concatenate([mid, s_hi])
        v, tlo, thi = np.tile(v, 2), np.tile(tlo, 2), np.tile(thi, 2)
        sign_lo = np.concatenate([sign_lo, sign_mid])
        sign_hi = np.concatenate([sign_mid, sign_hi])
    a, b, c = np.concatenate(bracket_lo), np.concatenate(bracket_hi), np.concatenate(bracket_v)
    if a.size:
        positive_lo = enclose.value(*_point(along, a, c)) > 0.0
        for _ in range(64):
            m = 0.5 * (a + b)
            same = (enclose.value(*_point(along, m, c)) > 0.0) == positive_lo
            a, b = np.where(same, m, a), np.where(same, b, m)
    found = np.stack(_point(along, 0.5 * (a + b), c), axis=1)
    return np.concatenate([found, *ends]).reshape(-1, 2), unresolved


def line_gaps(points: FloatArray, along: int) -> FloatArray:
    """For points on lines along axis ``along`` (the other coordinate equal on a line), the
    distance from each to its nearest neighbour on the same line (inf when alone)."""
    n = points.shape[0]
    out = np.full(n, np.inf)
    if n < 2:
        return out
    t, v = points[:, along], points[:, 1 - along]
    order = np.lexsort((t, v))
    ts, vs = t[order], v[order]
    same = vs[1:] == vs[:-1]
    step = np.where(same, ts[1:] - ts[:-1], np.inf)
    gap = np.minimum(np.concatenate([[np.inf], step]), np.concatenate([step, [np.inf]]))
    out[order] = gap
    return out


def search(
    margin: Margin,
    rest: FloatArray,
    axes: tuple[int, int],
    grid_a: FloatArray,
    grid_b: FloatArray,
    progress: Callable[[float], None] | None = None,
) -> SearchResult:
    """Find the boundary's components that cross none of the grid lines.

    The grid lines ``x_a = grid_a[i]`` and ``x_b = grid_b[j]`` (sorted, spanning the box) are
    assumed solved by the caller.  Each grid cell whose enclosures hold 0 for the margin and
    both partials is cut in four, the crossings of the two cutting segments isolated
    (:func:`segment_roots`), and so on down to :data:`FLOOR` of the box's longer side.

    Parameters
    ----------
    margin, rest, axes
        As for :class:`PlaneEnclosure`.
    grid_a, grid_b
        The grid lines along each axis.
    progress
        Called with the fraction of the floor's depth reached.

    Returns
    -------
    SearchResult
        The seeds on cutting segments and the unresolved rectangles.
    """
    enclose = PlaneEnclosure(margin, rest, axes)
    ia, ib = np.meshgrid(np.arange(grid_a.size - 1), np.arange(grid_b.size - 1), indexing="ij")
    alo, ahi = grid_a[ia.ravel()], grid_a[ia.ravel() + 1]
    blo, bhi = grid_b[ib.ravel()], grid_b[ib.ravel() + 1]
    floor = FLOOR * max(float(grid_a[-1] - grid_a[0]), float(grid_b[-1] - grid_b[0]))
    seeds: list[FloatArray] = []
    gaps: list[FloatArray] = []
    unresolved: list[Rect] = []
    count = alo.size
    budget = [MAX_CELLS - count]
    keep, ta, tb = enclose.classify(alo, ahi, blo, bhi)
    alo, ahi, blo, bhi, ta, tb = alo[keep], ahi[keep], blo[keep], bhi[keep], ta[keep], tb[keep]
    start = max(float(np.max(ahi - alo, initial=0.0)), float(np.max(bhi - blo, initial=0.0)))
    depth = max(1.0, float(np.log2(max(start, floor) / floor)))
    level = 0
    while alo.size:
        # Cut the side whose extent accounts for most of the enclosure's width, or both when
        # they are within a factor ANISOTROPY: a long thin feature along one axis (two
        # boundaries close together, the valley between them) is then resolved by slicing
        # across it only, at a cost that does not grow with its length.
        can_a, can_b = (ahi - alo) > floor, (bhi - blo) > floor
        want_a = ~(ta * ANISOTROPY < tb)
        want_b = ~(tb * ANISOTROPY < ta)
        cut_a = can_a & (want_a | ~can_b)
        cut_b = can_b & (want_b | ~can_a)
        small = ~(cut_a | cut_b)
        if budget[0] < 4 * alo.size:
            small[:] = True
        for k in np.flatnonzero(small).tolist():
            unresolved.append((float(alo[k]), float(ahi[k]), float(blo[k]), float(bhi[k])))
        big = ~small
        alo, ahi, blo, bhi = alo[big], ahi[big], blo[big], bhi[big]
        cut_a, cut_b = cut_a[big], cut_b[big]
        if not alo.size:
            break
        am, bm = 0.5 * (alo + ahi), 0.5 * (blo + bhi)
        # The cutting segments: x_b = bm across [alo, ahi], and x_a = am across [blo, bhi].
        for along, cut, value, lo, hi, across in (
            (0, cut_b, bm, alo, ahi, (blo, bhi)),
            (1, cut_a, am, blo, bhi, (alo, ahi)),
        ):
            found, lost = segment_roots(
                enclose,
                along,
                value[cut],
                lo[cut],
                hi[cut],
                (across[0][cut], across[1][cut]),
                floor,
                budget,
            )
            seeds.append(found)
            gaps.append(line_gaps(found, along))
            unresolved.extend(lost)
        # Children: the lower halves (or the whole side where it is not cut), and the upper
        # halves of the sides that are cut.
        a0_hi = np.where(cut_a, am, ahi)
        b0_hi = np.where(cut_b, bm, bhi)
        both = cut_a & cut_b
        alo, ahi, blo, bhi = (
            np.concatenate([alo, am[cut_a], alo[cut_b], am[both]]),
            np.concatenate([a0_hi, ahi[cut_a], a0_hi[cut_b], ahi[both]]),
            np.concatenate([blo, blo[cut_a], bm[cut_b], bm[both]]),
            np.concatenate([b0_hi, b0_hi[cut_a], bhi[cut_b], bhi[both]]),
        )
        count += alo.size
        budget[0] -= alo.size
        keep, ta, tb = enclose.classify(alo, ahi, blo, bhi)
        alo, ahi, blo, bhi, ta, tb = alo[keep], ahi[keep], blo[keep], bhi[keep], ta[keep], tb[keep]
        level += 1
        if progress is not None:
            progress(min(1.0, level / depth))
    pts = np.concatenate([np.empty((0, 2)), *seeds])
    return SearchResult(pts, np.concatenate([np.empty(0), *gaps]), unresolved, count)


# -- proven signs at points ------------------------------------------------------------------

#: The extended type of the point evaluations (80-bit on x86; float64 where the platform has
#: no wider type, which keeps the bounds rigorous, only looser).
WIDE = np.longdouble
WIDE_EPS = float(np.finfo(WIDE).eps)
#: Relative error of an activation evaluated in :data:`WIDE` (a few units in the last place
#: of ``exp``, ``log1p`` and ``tanh``, and the division).
WIDE_ACT_ERR = 16.0 * WIDE_EPS
#: Largest slope of each activation (its Lipschitz constant, at most 1 for leaky ReLU).
_LIPSCHITZ = {"sigmoid": 0.25, "tanh": 1.0, "relu": 1.0, "leaky_relu": 1.0, "softplus": 1.0}


def _wide_activate(name: str, u: NDArray[np.longdouble], alpha: float) -> NDArray[np.longdouble]:
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        if name == "sigmoid":
            e = np.exp(-np.abs(u))
            out: NDArray[np.longdouble] = np.where(u >= 0, 1 / (1 + e), e / (1 + e))
            return out
        if name == "tanh":
            return np.tanh(u)
        if name == "relu":
            return np.maximum(u, 0)
        if name == "leaky_relu":
            return np.where(u >= 0, u, WIDE(alpha) * u)
        if name == "softplus":
            return np.maximum(u, 0) + np.log1p(np.exp(-np.abs(u)))
    return u  # identity


def wide_values(
    margin: Margin, rest: FloatArray, axes: tuple[int, int], pts: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """The margin at points ``(n, 2)`` of the plane and a rigorous bound on its error.

    Evaluated in :data:`WIDE` precision from the exact float64 weights and inputs: its
    rounding bound is about 2000 times below float64's, so that a sign can be proven at two
    points much closer together than float64 evaluation allows.  Each layer's error is
    carried forward through the activation's Lipschitz constant; the readout's own float64
    rounding (a difference of two output rows) is included.
    """
    n = pts.shape[0]
    x = np.tile(np.asarray(rest, dtype=WIDE), (n, 1))
    x[:, axes[0]] = pts[:, 0]
    x[:, axes[1]] = pts[:, 1]
    err = np.zeros_like(x)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        v = x
        for layer in margin.hidden:
            w = layer.weights.astype(WIDE)
            aw = np.abs(w)
            g = SAFETY * (layer.n_in + 2) * WIDE_EPS
            p = v @ w.T + layer.biases.astype(WIDE)
            perr = err @ aw.T + g * (np.abs(v) @ aw.T + np.abs(layer.biases).astype(WIDE))
            v = _wide_activate(layer.activation, p, layer.alpha)
            lip = WIDE(_LIPSCHITZ.get(layer.activation, 1.0))
            err = lip * perr + WIDE_ACT_ERR * np.abs(v) + WIDE(TINY)
        r = margin.readout.astype(WIDE)
        k = r.size
        g = SAFETY * (k + 2) * WIDE_EPS
        f = v @ r + WIDE(margin.offset)
        ferr = (
            err @ np.abs(r)
            + g * (np.abs(v) @ np.abs(r) + abs(WIDE(margin.offset)))
            + 2.0 * EPS * (np.abs(v) @ np.abs(r) + WIDE(margin.offset_abs))
        )
    return np.asarray(f, dtype=np.float64), np.asarray(ferr * (1 + 4 * EPS), dtype=np.float64)
