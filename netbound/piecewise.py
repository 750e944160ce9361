"""Exact solving of piecewise-affine margins (ReLU, leaky ReLU and identity hidden units).

Along a line ``t -> base + t e_axis`` such a margin is piecewise affine: its kinks are where
some unit's pre-activation crosses 0.  Layer by layer, every piece of the line on which all
units so far are affine is cut where a unit of the next layer changes sign; on the final
pieces the margin is ``a + b t`` and its root is ``-a / b``.

The work follows the pieces near the boundary, in bounded memory:

* on each piece the pre-activations of the next layer are enclosed rigorously (the affine
  form at the piece's ends, widened by a bound on its rounding error); each later layer is
  relaxed to an affine form in t plus a proven remainder, and a piece on which the margin's
  enclosure so found excludes 0 is dropped with everything below it;
* a piece with many kinks is first tested in cells of a few kinks (:func:`group_levels`);
* only units whose sign is not fixed on the piece are looked at for kinks (no dense table
  of every unit's kink on every piece);
* pieces are handled depth first in blocks of at most ``budget`` (pieces x units) elements,
  so the memory does not grow with the number of lines or pieces.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from netbound.margin import Margin
from netbound.network import FloatArray
from netbound.relaxation import Relaxation, Relaxer
from netbound.rounding import EPS, IntArray, gamma

#: More kept pieces than this (over a batch of lines) and the caller falls back to bisection.
MAX_PIECES = 2_000_000
#: A coefficient below this many rounding units of its magnitude is taken as exactly zero.
ZERO_ULPS = 64.0
#: The first level of :func:`group_levels` has at least this many kinks per cell ...
GROUP_MIN = 8
#: ... and on wide layers about this many cells per line.
GROUP_CELLS = 16
#: Elements (pieces x units) per block of pieces: 2 MiB per array.
BLOCK_ELEMENTS = 1 << 18
#: Cells the forward relaxation keeps are tested again by back-substitution
#: (:meth:`netbound.relaxation.Relaxer.backward`); off only to compare.
BACK_SUBSTITUTE = True


@dataclass
class Pieces:
    """Affine pieces ``a + b t`` on ``[lo, hi]`` of many lines (``line`` says which).

    Sorted by line, then position.  Pieces on which the margin provably has no root may be
    missing: neighbours are adjacent only where one's ``hi`` is the other's ``lo``.
    ``examined`` counts, per line, the pieces enclosed on the way (the evaluations).
    """

    lo: FloatArray
    hi: FloatArray
    line: IntArray
    a: FloatArray
    b: FloatArray
    a_mag: FloatArray
    b_mag: FloatArray
    examined: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))


def pieces(
    margin: Margin,
    w: FloatArray,
    c: FloatArray,
    cabs: FloatArray,
    lo: FloatArray,
    hi: FloatArray,
    budget: int = BLOCK_ELEMENTS,
) -> Pieces | None:
    """The affine pieces of a piecewise-affine margin on ``[lo[i], hi[i]]`` of each line that
    may hold a root.

    ``w``, ``c`` and ``cabs`` are the lines' first-layer form (:meth:`Margin.line_affine`);
    ``budget`` bounds the elements (pieces x units) of each block.  Returns None when the kept
    pieces would exceed :data:`MAX_PIECES`.
    """
    n = c.shape[0]
    examined = np.zeros(n, dtype=np.int64)
    if not margin.hidden:
        return Pieces(
            lo.copy(),
            hi.copy(),
            np.arange(n),
            c[:, 0].copy(),
            np.full(n, w[0]),
            cabs[:, 0].copy(),
            np.full(n, abs(w[0])),
            examined + 1,
        )
    walk = _Walk(margin, budget, examined)
    rows = max(1, budget // c.shape[1])
    pb = np.broadcast_to(w, c.shape)
    for s in range(0, n, rows):
        b = slice(s, s + rows)
        walk.descend(0, lo[b], hi[b], np.arange(n)[b], c[b], pb[b], (cabs[b], np.abs(w)))
        if walk.kept > MAX_PIECES:
            return None
    if not walk.out:
        empty = np.empty(0)
        return Pieces(empty, empty, np.empty(0, np.intp), empty, empty, empty, empty, examined)
    parts = [np.concatenate(col) for col in zip(*walk.out, strict=True)]
    order = np.lexsort((parts[0], parts[2]))
    p_lo, p_hi, p_line, a, b_, a_mag, b_mag = (x[order] for x in parts)
    return Pieces(p_lo, p_hi, p_line, a, b_, a_mag, b_mag, examined)


def group_levels(width: int) -> tuple[int, ...]:
    """The sizes (in kinks) of the cells a piece of a layer ``width`` units wide is tested in.

    A piece with more kinks than the first size is first cut into cells of that many kinks,
    each tested; a surviving cell with more than the next (half as many) is cut likewise, and
    so on down to 4, before the survivors are cut at every kink.  The first size is
    :data:`GROUP_MIN`, or on wide layers the power of two at or below ``width /
    GROUP_CELLS``: about as many cells per line as on narrower layers, where cells of 8 kinks
    would be many and mostly excluded.  (Evaluations per line, 2-256-256-256-2 ReLU: 72 with
    a first size of 8, 65 with 16; 2-128-128-128-2: 62 with 8, 68 with 16.)  Cells of 2 kinks
    saved no evaluations: half of them survived, and a test of the next layer's pieces is
    cheaper (one layer less to relax); without them both nets took about 8% less time.
    """
    first = max(GROUP_MIN, 1 << max(0, (width // GROUP_CELLS).bit_length() - 1))
    return tuple(first >> i for i in range(first.bit_length() - 2))


def _gains(margin: Margin) -> list[float]:
    """Relative error bounds of each layer's pre-activations, per unit of magnitude.

    The computed ``A + B t`` of layer k errs from the exact pre-activation by at most
    ``G_k (A_mag + B_mag |t|)``: layer k's dot products add gamma_n, a child's sparse
    correction and evaluating at ``t`` add gamma_2 four times, and the error of layer k-1
    counts twice -- once carried through ``|W|`` and once more where a kink computed a
    rounding error away puts a unit on the wrong side, where its value is itself within
    that error of 0 (ReLU is 1-Lipschitz).
    """
    gains = [2.0 * gamma(2)]
    for layer in margin.hidden[1:]:
        gains.append(2.0 * gains[-1] + gamma(layer.n_in) + 4.0 * gamma(2))
    return gains


#: Magnitudes bounding the rounding of ``pa`` and ``pb``: on the first layer the arrays
#: ``(|c| terms, |w|)``; beyond it, per piece, ``(s_a, s_b)`` with the bounds
#: ``s_a N + |bias|`` and ``s_b N`` (``N`` the norms of the rows of ``|W|``).
Mags = tuple[FloatArray, FloatArray]


def _take(k: int, mags: Mags, rows: Any) -> Mags:
    """The magnitude bounds of some rows of layer k's pieces (on the first layer the second
    array is per unit, shared by every row)."""
    return mags[0][rows], mags[1] if k == 0 else mags[1][rows]


class _Walk:
    """Depth-first descent through the layers, collecting the pieces that may hold a root."""

    def __init__(self, margin: Margin, budget: int, examined: IntArray) -> None:
        self.margin = margin
        self.hidden = margin.hidden
        self.budget = budget
        self.examined = examined
        self.gains = _gains(margin)
        # Row norms of |W|, rounded up: |W| @ v <= N ||v|| for v >= 0 (Cauchy-Schwarz), so a
        # magnitude bound costs a vector norm per piece instead of a matrix product.
        self.norms = [
            np.sqrt(np.sum(layer.weights**2, axis=1)) * (1.0 + gamma(layer.n_in))
            for layer in self.hidden
        ]
        self.bias_max = [float(np.max(layer.abs_biases)) for layer in self.hidden]
        self.levels = [group_levels(layer.n_out) for layer in self.hidden]
        # The later layers' relaxations, in the format of the cell tests.
        self.relaxer = Relaxer(margin)
        self.out: list[tuple[FloatArray, ...]] = []
        self.kept = 0

    def _error(self, k: int, mags: Mags, reach: FloatArray, extra: float = 0.0) -> FloatArray:
        """Per piece, a bound on the rounding error of every unit of layer k's ``pa + pb t``
        for ``|t| <= reach``; ``extra`` is a relative error (per magnitude) beyond float64's."""
        with np.errstate(invalid="ignore", over="ignore"):
            if k == 0:
                ma, mb = np.max(mags[0], axis=1), np.full(reach.shape, np.max(mags[1]))
            else:
                top = float(np.max(self.norms[k]))
                ma = mags[0] * top + self.bias_max[k]
                mb = mags[1] * top
            # B exactly 0 (no t-term) even on an infinite piece.
            err: FloatArray = (self.gains[k] + extra) * (ma + np.where(mb == 0.0, 0.0, mb * reach))
        return err

    def _slope_mags(self, k: int, mags: Mags, src: IntArray, slope: FloatArray) -> Mags:
        """Bounds on ``|slope| pa_mag`` and ``|slope| pb_mag`` as the next layer's ``(s_a, s_b)``:
        their Euclidean norms, rounded up."""
        sq = slope * slope
        if k == 0:
            cabs, aw = mags[0][src], mags[1]
            sa = np.einsum("ij,ij->i", sq, cabs * cabs)
            sb = sq @ (aw * aw)
        else:
            n, bias = self.norms[k], self.hidden[k].abs_biases
            quad = sq @ np.stack([n * n, 2.0 * n * bias, bias * bias], axis=1)
            s_a, s_b = mags[0][src], mags[1][src]
            sa = s_a * s_a * quad[:, 0] + s_a * quad[:, 1] + quad[:, 2]
            sb = s_b * s_b * quad[:, 0]
        up = 1.0 + gamma(slope.shape[1] + 4)
        return np.sqrt(sa) * up, np.sqrt(sb) * up

    def _unit_mags(self, k: int, mags: Mags, src: IntArray) -> Mags:
        """:meth:`_slope_mags` for slopes bounded by 1 on every unit: looser, but no
        product with each piece's slopes (for the test only)."""
        if k == 0:
            cabs = mags[0][src]
            sa = np.einsum("ij,ij->i", cabs, cabs)
            sb = np.full(src.size, float(mags[1] @ mags[1]))
        else:
            n, bias = self.norms[k], self.hidden[k].abs_biases
            nn, nb, bb = float(n @ n), 2.0 * float(n @ bias), float(bias @ bias)
            s_a, s_b = mags[0][src], mags[1][src]
            sa = s_a * s_a * nn + s_a * nb + bb
            sb = s_b * s_b * nn
        up = 1.0 + gamma(self.norms[k].size + 4)
        return np.sqrt(sa) * up, np.sqrt(sb) * up

    def _final_mags(self, k: int, mags: Mags, src: IntArray, slope: FloatArray) -> Mags:
        """``|slope| pa_mag @ |r| + |offset|`` and ``|slope| pb_mag @ |r|``, rounded up."""
        m = self.margin
        r = m.readout_abs
        aslope = np.abs(slope)
        if k == 0:
            a_mag = (aslope * mags[0][src]) @ r
            b_mag = aslope @ (mags[1] * r)
        else:
            n, bias = self.norms[k], self.hidden[k].abs_biases
            both = aslope @ np.stack([n * r, bias * r], axis=1)
            a_mag = mags[0][src] * both[:, 0] + both[:, 1]
            b_mag = mags[1][src] * both[:, 0]
        up = 1.0 + gamma(slope.shape[1] + 2)
        return (a_mag + m.offset_abs) * up, b_mag * up

    def descend(
        self,
        k: int,
        lo: FloatArray,
        hi: FloatArray,
        line: IntArray,
        pa: FloatArray,
        pb: FloatArray,
        mags: Mags,
        group: int = 0,
    ) -> None:
        """Pieces on which layers before k are affine; ``pa + pb t`` is layer k's input.

        On each piece the units of layer k with a proven sign are affine; the others are
        relaxed (``relu(p)`` lies in ``lam p + [0, rho]`` for ``p`` in ``[l, u]``,
        ``lam = u / (u - l)``, ``rho = -lam l``), which carries the next layer (or the
        margin) as an affine form plus a small interval: a piece whose form excludes 0 is
        dropped.  The rest are cut at the kinks of their undecided units; a child's next
        layer is the parent's product over the decided units plus a sparse correction.

        A piece with more than ``levels[group]`` kinks (a whole line at the first layer;
        ``levels`` is :func:`group_levels` of layer k's width) is first cut at every
        ``levels[group]``-th kink only: the cells, still on layer k, are tested the same way
        (with the next level), and only the survivors are cut at every kink.  Not on the last
        hidden layer, whose pieces are finished at the cost of a test.  (The descent into the
        cells holds this call's frame: the tables it no longer needs are freed first.)
        """
        layer = self.hidden[k]
        self.examined += np.bincount(line, minlength=self.examined.size)
        plo, phi = self._pre_range(k, lo, hi, pa, pb, mags)
        if layer.activation == "identity":
            low = 1.0
            unstable = np.zeros(plo.shape, dtype=bool)
        else:
            low = 0.0 if layer.activation == "relu" else layer.alpha
            unstable = ~((plo > 0.0) | (phi < 0.0))  # NaN: undecided
        last = k + 1 == len(self.hidden)
        keep, decided, bound, final = self._relaxed(
            k, lo, hi, pa, pb, mags, plo, phi, unstable, low
        )
        del plo, phi
        if not np.all(keep):
            lo, hi, pa, pb, unstable = (x[keep] for x in (lo, hi, pa, pb, unstable))
            line, decided, bound = line[keep], decided[keep], bound[keep]
            mags = _take(k, mags, keep)
            final = tuple(x[keep] for x in final)
        if lo.size == 0:
            return
        piece, unit, t, kin = _kinks(lo, hi, pa, pb, unstable)
        if group < len(self.levels[k]) and not last:
            size = self.levels[k][group]
            coarse = np.bincount(piece[kin], minlength=lo.size) > size
            if np.any(coarse):
                fine = ~coarse
                unstable, decided, bound = unstable[fine], decided[fine], bound[fine]
                self._cells(k, lo, hi, line, pa, pb, mags, coarse, piece[kin], t[kin], group)
                lo, hi, pa, pb = (x[fine] for x in (lo, hi, pa, pb))
                line = line[fine]
                mags = _take(k, mags, fine)
                if lo.size == 0:
                    return
                piece, unit, t, kin = _kinks(lo, hi, pa, pb, unstable)
        if last:
            base_a, base_b, next_mags = final[0], final[1], (final[2], final[3])
        else:
            base_a, base_b, next_mags = self._decided_product(k, pa, pb, mags, decided, bound)
        c_lo, c_hi, parent = _split(lo, hi, piece[kin], t[kin])
        start = np.searchsorted(piece, np.arange(lo.size + 1))
        count = np.diff(start)
        if last and count[parent].sum() * 8 > parent.size * pa.shape[1]:
            # Most units undecided (a whole line cut at the last hidden layer): one sweep
            # along each piece instead of a product per child.
            r = self.margin.readout
            swept = _sweep(r, pa, pb, base_a, base_b, low, piece, unit, t, kin, c_lo, c_hi, parent)
            if swept is not None:
                # A child's a (b) is the first child's plus a sequential sum of at most n
                # terms ((1 - low) r_u pa_u), whose magnitudes a_mag (b_mag) bounds: the
                # sum's rounding adds at most gamma_n (a_mag + b_mag |t|), and the last
                # addition an ulp.
                self._finish(
                    c_lo,
                    c_hi,
                    line[parent],
                    swept[0],
                    swept[1],
                    next_mags[0][parent],
                    next_mags[1][parent],
                    extra=gamma(2 * pa.shape[1]),
                )
                return
        rows = max(1, self.budget // pa.shape[1])
        for s0 in range(0, c_lo.size, rows):
            sub = slice(s0, s0 + rows)
            src = parent[sub]
            s_lo, s_hi = c_lo[sub], c_hi[sub]
            mags_c = (next_mags[0][src], next_mags[1][src])
            reps = count[src]
            if reps.sum() * 8 > reps.size * pa.shape[1]:
                # Most units undecided (a whole line cut at the first layer): dense products.
                ua, ub = pa[src], pb[src]
                slope_d = np.where(ua + ub * _inside(s_lo, s_hi)[:, None] > 0.0, 1.0, low)
                va, vb = slope_d * ua, slope_d * ub
                if last:
                    m = self.margin
                    a_d, b_d = va @ m.readout + m.offset, vb @ m.readout
                    self._finish(s_lo, s_hi, line[src], a_d, b_d, mags_c[0], mags_c[1])
                    continue
                nxt = self.hidden[k + 1]
                na_d, nb_d = va @ nxt.weights.T + nxt.biases, vb @ nxt.weights.T
                self.descend(k + 1, s_lo, s_hi, line[src], na_d, nb_d, mags_c)
                continue
            # The child's slope of each undecided unit of its parent, at the child's midpoint.
            indptr = np.concatenate([[0], np.cumsum(reps)])
            owner = np.repeat(np.arange(src.size), reps)
            pair = np.repeat(start[src] - indptr[:-1], reps) + np.arange(indptr[-1])
            pp, uu = piece[pair], unit[pair]
            mid = _inside(s_lo, s_hi)[owner]
            ua, ub = pa[pp, uu], pb[pp, uu]
            slope = np.where(ua + ub * mid > 0.0, 1.0, low)
            ca, cb = slope * ua, slope * ub
            if last:
                r = self.margin.readout[uu]
                a = base_a[src] + np.bincount(owner, ca * r, minlength=src.size)
                b = base_b[src] + np.bincount(owner, cb * r, minlength=src.size)
                self._finish(s_lo, s_hi, line[src], a, b, mags_c[0], mags_c[1])
                continue
            # The correction as a dense product (zeros add nothing to it or to its rounding
            # bound): these children are few, and BLAS takes about as long as a sparse product.
            corr = np.zeros((2 * src.size, pa.shape[1]))
            corr[owner, uu] = ca
            corr[src.size + owner, uu] = cb
            q = corr @ self.hidden[k + 1].weights.T
            na, nb = base_a[src] + q[: src.size], base_b[src] + q[src.size :]
            self.descend(k + 1, s_lo, s_hi, line[src], na, nb, mags_c)

    def _cells(
        self,
        k: int,
        lo: FloatArray,
        hi: FloatArray,
        line: IntArray,
        pa: FloatArray,
        pb: FloatArray,
        mags: Mags,
        coarse: NDArray[np.bool_],
        piece: IntArray,
        t: FloatArray,
        group: int,
    ) -> None:
        """Cut the ``coarse`` pieces at every ``levels[group]``-th of their kinks ``t``
        (of piece ``piece``, sorted by piece and position) and descend into the cells on the
        same layer, with the next level."""
        sel = coarse[piece]
        ps, ts = piece[sel], t[sel]
        rank = np.arange(ps.size) - np.searchsorted(ps, ps)
        size = self.levels[k][group]
        cut = rank % size == size - 1
        g_lo, g_hi, parent = _split(lo, hi, ps[cut], ts[cut])
        # _split keeps every piece; only the coarse ones' cells are wanted here.
        wanted = coarse[parent]
        g_lo, g_hi, parent = g_lo[wanted], g_hi[wanted], parent[wanted]
        rows = max(1, self.budget // pa.shape[1])
        for s0 in range(0, g_lo.size, rows):
            src = parent[s0 : s0 + rows]
            self.descend(
                k,
                g_lo[s0 : s0 + rows],
                g_hi[s0 : s0 + rows],
                line[src],
                pa[src],
                pb[src],
                _take(k, mags, src),
                group=group + 1,
            )

    def _relaxed(
        self,
        k: int,
        lo: FloatArray,
        hi: FloatArray,
        pa: FloatArray,
        pb: FloatArray,
        mags: Mags,
        plo: FloatArray,
        phi: FloatArray,
        unstable: NDArray[np.bool_],
        low: float,
    ) -> tuple[NDArray[np.bool_], FloatArray, FloatArray, tuple[FloatArray, ...]]:
        """Which pieces may hold a root, by the relaxed affine form of the next layer (or
        the margin); also each unit's slope where decided (0 where not), a bound on its
        slope on every child, and on the last hidden layer the margin's product over the
        decided units (``base_a``, ``base_b``) and its magnitude bounds."""
        m = self.margin
        last = k + 1 == len(self.hidden)
        if low == 0.0:
            # ReLU: 1 where plo > 0, else 0 (an undecided unit has plo <= 0 or NaN).
            decided = (plo > 0.0).astype(np.float64)
            bound = (~(phi < 0.0)).astype(np.float64)  # |slope| <= 1 on every child
        else:
            decided = np.where(plo > 0.0, 1.0, low)
            decided[unstable] = 0.0
            bound = np.where(unstable, 1.0, np.abs(decided))
        piece, unit = np.nonzero(unstable)
        lo_u, hi_u = plo[piece, unit], phi[piece, unit]
        # A unit without finite bounds (on an infinite piece) relaxes to NaN: its piece is
        # kept whatever the others give, so they are not relaxed at all.
        unbounded = ~(np.isfinite(lo_u) & np.isfinite(hi_u))
        open_ = np.zeros(lo.size, dtype=bool)
        if np.any(unbounded):
            open_[piece[unbounded]] = True
            bounded = ~open_[piece]
            piece, unit, lo_u, hi_u = piece[bounded], unit[bounded], lo_u[bounded], hi_u[bounded]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            # relu(p) - lam p on [l, u] is largest at an end; with the rounded lam that is
            # max(-lam l, (1 - lam) u), and the rounding of lam itself moves lam p by a few
            # ulps of max(|l|, |u|) either way.
            lam = hi_u / (hi_u - lo_u)
            rho = np.maximum(-lam * lo_u, (1.0 - lam) * hi_u) * (1.0 + 4.0 * EPS)
            lam = low + (1.0 - low) * lam
            rho = (1.0 - low) * rho
            half_rho = 0.5 * rho
            rho_rad = half_rho + 4.0 * EPS * np.maximum(np.abs(lo_u), np.abs(hi_u))
        finite = np.isfinite(lo) & np.isfinite(hi)
        with np.errstate(invalid="ignore"):
            centre = np.where(finite, 0.5 * lo + 0.5 * hi, 0.0)
            half = np.where(finite, (0.5 * hi - 0.5 * lo) * (1.0 + 4.0 * EPS), np.inf)
        half = half + 2.0 * EPS * np.abs(centre)
        reach = np.maximum(np.abs(lo), np.abs(hi))
        if last:
            r = m.readout
            base_a = (decided * pa) @ r + m.offset
            base_b = (decided * pb) @ r
            n = lo.size
            ra = lam * pa[piece, unit] * r[unit]
            rb = lam * pb[piece, unit] * r[unit]
            a = base_a + np.bincount(piece, ra, minlength=n)
            b = base_b + np.bincount(piece, rb, minlength=n)
            rc = np.bincount(piece, half_rho * r[unit], minlength=n)
            rr = np.bincount(piece, rho_rad * np.abs(r[unit]), minlength=n) * (1.0 + 4.0 * EPS)
            a_mag, b_mag = self._final_mags(k, mags, np.arange(n), bound)
            g = self.gains[-1] * 2.0 + gamma(len(r)) + 4.0 * gamma(2)
            with np.errstate(invalid="ignore", over="ignore"):
                err = g * (a_mag + np.where(b_mag == 0.0, 0.0, b_mag * reach))
                mid = a + b * centre + rc
                rad = np.abs(b) * half
                rad = np.where(np.isnan(rad) & (b_mag == 0.0), 0.0, rad) + rr + err
                keep = ~((mid - rad > 0.0) | (mid + rad < 0.0)) | open_
            return keep, decided, bound, (base_a, base_b, a_mag, b_mag)
        n = lo.size
        keep = np.ones(n, dtype=bool)
        if np.any(finite):
            # The relaxed form of the next layer's pre-activations, only on finite pieces:
            # one product of the relaxed slopes (lam on the undecided units) with the parts
            # of pa and pb; an n-term dot product like the children's, within ``err``.
            f = np.flatnonzero(finite)
            sel = finite[piece]
            fp = np.searchsorted(f, piece[sel])
            shape = (f.size, pa.shape[1])
            uu = unit[sel]
            relax = decided[f]
            relax[fp, uu] = lam[sel]
            rx = self.relaxer
            d = rx.dtype
            with np.errstate(invalid="ignore", over="ignore"):
                # In the cell tests' format (:mod:`netbound.relaxation`): beyond float64's
                # error, the product (gamma, werr), rounding the parts to it, adding the
                # biases and evaluating at the centre (4 eps) err by at most those relative
                # errors of the magnitudes that bound float64's (``extra``); and the centre,
                # rounded to the format, moves by up to eps |centre|, which widens ``half``.
                parts = np.empty((2 * f.size, pa.shape[1]), dtype=d)
                np.multiply(relax, pa[f], out=parts[: f.size])
                np.multiply(relax, pb[f], out=parts[f.size :])
                # The remainders' centres rho/2 go into the same product: its rounding on
                # them, and that of adding them, is within gamma_n |W| rho_rad (and eps in
                # the format's), covered with rr.
                parts[fp, uu] += half_rho[sel]
                q = parts @ rx.wt[k + 1]
                qa, qb = q[: f.size], q[f.size :]
                qa += rx.biases[k + 1]
                radii: FloatArray = np.zeros(shape, dtype=d)
                radii[fp, uu] = rx.round_up(rho_rad[sel])
                rr = radii @ rx.abs_wt[k + 1]
                f_mags = self._unit_mags(k, mags, f)
                g = rx.gamma(shape[1]) + rx.werr
                err = self._error(k + 1, f_mags, reach[f], extra=g + 4.0 * rx.eps)
                centre_d = centre[f].astype(d)
                mid = qa + qb * centre_d[:, None]
                # rr's product is at least (1 - g) times the exact one, and q's rounding on
                # the remainders' centres is within g of it; each nonnegative term is rounded
                # up by eps more, for the sum's own rounding.
                rad = rr * (1.0 + 2.0 * g + 3.0 * rx.eps)
                rad += (rx.round_up(err) * (1.0 + rx.eps))[:, None]
                # The biases' rounding to the format, and underflow.
                rad += rx.bias_err[k + 1]
                half_d = rx.round_up(half[f] + rx.eps * np.abs(centre[f]))
                record: list[Relaxation] = []
                flo, fhi = rx.forward(k + 1, mid, qb, rad, half_d, record)
                # Where the forward form keeps a cell, back-substitution keeps the sign of
                # every remainder, this layer's included, and may still exclude it.
                rest = np.flatnonzero(~((flo > 0.0) | (fhi < 0.0)) & ~open_[f])
                if rest.size and BACK_SUBSTITUTE:
                    rows = f[rest]
                    at = np.full(f.size, -1)
                    at[rest] = np.arange(rest.size)
                    mine = at[fp] >= 0
                    half_k = np.zeros((rest.size, shape[1]))
                    half_k[at[fp[mine]], uu[mine]] = half_rho[sel][mine]
                    bound_k = np.maximum(np.abs(plo[rows]), np.abs(phi[rows]))
                    own = rx.relaxation(relax[rest], half_k, bound_k)
                    err_k = self._error(k, _take(k, mags, rows), reach[rows])[:, None]
                    blo, bhi = rx.backward(
                        k,
                        *rx.convert(
                            pa[rows] + pb[rows] * centre[rows, None], pb[rows], err_k, half[rows]
                        ),
                        [own, *(Relaxation(*(x[rest] for x in rl)) for rl in record)],
                    )
                    # Both hold the margin; in float32 the forward form can be the narrower
                    # on narrow cells, where rounding dominates.
                    flo[rest] = np.fmax(flo[rest], blo)
                    fhi[rest] = np.fmin(fhi[rest], bhi)
            keep[f] = ~((flo > 0.0) | (fhi < 0.0))
            keep |= open_
        return keep, decided, bound, ()

    def _decided_product(
        self,
        k: int,
        pa: FloatArray,
        pb: FloatArray,
        mags: Mags,
        decided: FloatArray,
        bound: FloatArray,
    ) -> tuple[FloatArray, FloatArray, Mags]:
        """The next layer's product over the decided units (``base_a``, ``base_b``), for the
        pieces' children, and magnitude bounds valid for every child."""
        nxt = self.hidden[k + 1]
        parts = np.empty((2 * pa.shape[0], pa.shape[1]))
        np.multiply(decided, pa, out=parts[: pa.shape[0]])
        np.multiply(decided, pb, out=parts[pa.shape[0] :])
        base = parts @ nxt.weights.T
        base_a, base_b = base[: pa.shape[0]], base[pa.shape[0] :]
        base_a += nxt.biases
        return base_a, base_b, self._slope_mags(k, mags, np.arange(pa.shape[0]), bound)

    def _pre_range(
        self, k: int, lo: FloatArray, hi: FloatArray, pa: FloatArray, pb: FloatArray, mags: Mags
    ) -> tuple[FloatArray, FloatArray]:
        """Rigorous range of layer k's exact pre-activations over each piece, from the
        computed ``pa + pb t`` at the piece's centre, its half-width and the rounding bound."""
        with np.errstate(invalid="ignore", over="ignore"):
            finite = np.isfinite(lo) & np.isfinite(hi)
            centre = np.where(finite, 0.5 * lo + 0.5 * hi, 0.0)
            half = np.where(finite, (0.5 * hi - 0.5 * lo) * (1.0 + 4.0 * EPS), np.inf)
            half = half + 2.0 * EPS * np.abs(centre)
            reach = np.maximum(np.abs(lo), np.abs(hi))
            err = self._error(k, mags, reach)
            mid = pb * centre[:, None]
            mid += pa
            rad = np.abs(pb)
            rad *= half[:, None]
            if not np.all(finite):
                # An infinite piece with B exactly 0 is a single value.
                rad[np.isnan(rad)] = 0.0
            rad += err[:, None]
            lo_ = mid - rad
            mid += rad
        return lo_, mid

    def _finish(
        self,
        lo: FloatArray,
        hi: FloatArray,
        line: IntArray,
        a: FloatArray,
        b: FloatArray,
        a_mag: FloatArray,
        b_mag: FloatArray,
        extra: float = 0.0,
    ) -> None:
        """Keep the final pieces whose ``a + b t`` may be 0; ``extra`` is a relative error
        bound of ``a`` and ``b`` (per ``a_mag``, ``b_mag``) beyond the products'."""
        m = self.margin
        self.examined += np.bincount(line, minlength=self.examined.size)
        g = 2.0 * self.gains[-1] + gamma(len(m.readout)) + 4.0 * gamma(2) + extra
        with np.errstate(invalid="ignore", over="ignore"):
            ends = np.stack([a + b * lo, a + b * hi])
            exact = b_mag == 0.0
            ends = np.where(exact, a, ends)
            reach = np.maximum(np.abs(lo), np.abs(hi))
            err = g * (a_mag + np.where(exact, 0.0, b_mag * reach))
            excluded = (np.min(ends, axis=0) - err > 0.0) | (np.max(ends, axis=0) + err < 0.0)
        keep = ~excluded
        self.kept += int(np.count_nonzero(keep))
        self.out.append(
            (lo[keep], hi[keep], line[keep], a[keep], b[keep], a_mag[keep], b_mag[keep])
        )


def _inside(lo: FloatArray, hi: FloatArray) -> FloatArray:
    """A point inside each piece, also for infinite ends."""
    with np.errstate(invalid="ignore"):
        mid = 0.5 * lo + 0.5 * hi
    mid = np.where(np.isneginf(lo) & np.isfinite(hi), hi - 1.0, mid)
    mid = np.where(np.isposinf(hi) & np.isfinite(lo), lo + 1.0, mid)
    return np.where(np.isneginf(lo) & np.isposinf(hi), 0.0, mid)


def _kinks(
    lo: FloatArray, hi: FloatArray, pa: FloatArray, pb: FloatArray, unstable: NDArray[np.bool_]
) -> tuple[IntArray, IntArray, FloatArray, IntArray]:
    """The undecided (piece, unit) pairs, each unit's kink, and which pairs have their kink
    inside their piece (sorted by piece, then position)."""
    piece, unit = np.nonzero(unstable)
    num, den = pa[piece, unit], pb[piece, unit]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = -num / den
    kin = np.flatnonzero((den != 0.0) & (t > lo[piece]) & (t < hi[piece]))
    return piece, unit, t, kin[_sorted(lo.size, piece[kin], t[kin])]


def _sweep(
    r: FloatArray,
    pa: FloatArray,
    pb: FloatArray,
    base_a: FloatArray,
    base_b: FloatArray,
    low: float,
    piece: IntArray,
    unit: IntArray,
    t: FloatArray,
    kin: IntArray,
    c_lo: FloatArray,
    c_hi: FloatArray,
    parent: IntArray,
) -> tuple[FloatArray, FloatArray] | None:
    """The margin's ``a`` and ``b`` on every child (as cut by :func:`_split`, with parents
    ``parent``) of pieces of the last hidden layer: the first child's from the undecided
    pairs ``(piece, unit)``; each next child's adds the change of the units whose kinks ``t``
    it has passed (the pairs ``kin``, sorted by piece and position).

    A unit whose kink is inside its piece is below it on the left for ``pb > 0`` (slope
    ``low``) and above it for ``pb < 0`` (slope 1), then the other way; the others keep one
    side on the whole piece, the side of the piece's midpoint.  (Not the first child's: that
    child may be an ulp wide, at a kink that rounds to the piece's end, where ``pa + pb t``
    is rounding noise.)  None if the children do not follow the kinks.
    """
    n = base_a.size
    cp, ct = piece[kin], t[kin]
    runs = np.ones(cp.size, dtype=bool)
    runs[:-1] = (cp[1:] != cp[:-1]) | (ct[1:] != ct[:-1])
    children = 1 + np.bincount(cp[runs], minlength=n)
    if not np.array_equal(children, np.bincount(parent, minlength=n)):
        return None
    first = np.cumsum(children) - children
    ua, ub = pa[piece, unit], pb[piece, unit]
    ru = r[unit]
    mid = _inside(c_lo[first], c_hi[first + children - 1])
    slope = np.where(ua + ub * mid[piece] > 0.0, 1.0, low)
    up = ub[kin] > 0.0
    slope[kin] = np.where(up, low, 1.0)
    a0 = base_a + np.bincount(piece, slope * ua * ru, minlength=n)
    b0 = base_b + np.bincount(piece, slope * ub * ru, minlength=n)
    step = np.where(up, 1.0 - low, low - 1.0)
    count = np.bincount(cp, minlength=n)
    rank = np.arange(cp.size) - np.repeat(np.cumsum(count) - count, count)
    width = int(rank.max()) + 1 if cp.size else 1
    a = np.repeat(a0, children)
    b = np.repeat(b0, children)
    later = np.ones(c_lo.size, dtype=bool)
    later[first] = False
    for out, coef in ((a, ua), (b, ub)):
        table = np.zeros((n, width))
        table[cp, rank] = step * coef[kin] * ru[kin]
        np.cumsum(table, axis=1, out=table)
        out[later] += table[cp[runs], rank[runs]]
    return a, b


def _sorted(n: int, piece: IntArray, t: FloatArray) -> IntArray:
    """The order of the kinks ``t`` by piece, then position, for ``piece`` in ``0..n-1``
    already nondecreasing: one row per piece, sorted along the rows."""
    count = np.bincount(piece, minlength=n)
    width = int(count.max()) if piece.size else 0
    first = np.cumsum(count) - count
    rank = np.arange(piece.size) - np.repeat(first, count)
    table = np.full((n, width), np.inf)
    table[piece, rank] = t
    by_row = np.argsort(table, axis=1, kind="stable")
    order: IntArray = (first[:, None] + by_row)[np.arange(width)[None, :] < count[:, None]]
    return order


def _split(
    lo: FloatArray, hi: FloatArray, piece: IntArray, cuts: FloatArray
) -> tuple[FloatArray, FloatArray, IntArray]:
    """Cut piece ``piece[j]`` at ``cuts[j]`` (inside it; sorted by piece, then position); the
    new pieces, in order, and their parents."""
    n = lo.size
    count = np.bincount(piece, minlength=n)
    first = np.cumsum(count) - count
    at = 2 * np.arange(n) + first  # where each piece's points start: lo, its cuts, hi
    owner = np.repeat(np.arange(n), count + 2)
    points = np.empty(owner.size)
    points[at] = lo
    points[at + count + 1] = hi
    points[at[piece] + 1 + np.arange(piece.size) - first[piece]] = cuts
    keep = (owner[1:] == owner[:-1]) & (points[1:] > points[:-1])
    start = np.flatnonzero(keep)
    return points[start], points[start + 1], owner[start]


@dataclass
class PiecewiseRoots:
    """Roots found on pieces: points, their line and kind (0 crossing, 1 touching), and
    intervals on which the margin is identically zero."""

    t: FloatArray
    line: IntArray
    kind: IntArray
    zero_lo: FloatArray
    zero_hi: FloatArray
    zero_line: IntArray


def roots(p: Pieces) -> PiecewiseRoots:
    """Every root of the margin on its pieces (pieces sorted by line, then position)."""
    zero_b = np.abs(p.b) <= ZERO_ULPS * EPS * p.b_mag
    zero_a = np.abs(p.a) <= ZERO_ULPS * EPS * p.a_mag
    b = np.where(zero_b, 0.0, p.b)
    a = np.where(zero_a & zero_b, 0.0, p.a)
    flat_zero = (b == 0.0) & (a == 0.0)
    # A piece between two zero pieces that it touches is zero too: the margin is continuous
    # and affine on it, and 0 at both ends.  (Kinks of two layers that coincide in exact
    # arithmetic can leave such a piece an ulp wide, with coefficients of rounding noise.)
    same_line = p.line[1:] == p.line[:-1]
    touches = same_line & (p.hi[:-1] == p.lo[1:])
    between = np.zeros(p.lo.size, dtype=bool)
    between[1:-1] = touches[:-1] & touches[1:] & flat_zero[:-2] & flat_zero[2:]
    if np.any(between):
        a, b = np.where(between, 0.0, a), np.where(between, 0.0, b)
        flat_zero |= between
    with np.errstate(divide="ignore", invalid="ignore"):
        t = -a / b
    # A root within rounding of a piece's end is snapped to that end (a kink), so that the
    # two pieces meeting there report the very same point, once.
    # Pieces on which the margin provably has no root may be missing (a gap): a root computed
    # a rounding error beyond the end next to a gap is still on this piece.
    new_line = p.line[1:] != p.line[:-1]
    gap = ~new_line & (p.hi[:-1] != p.lo[1:])
    first = np.ones(p.lo.size, dtype=bool)
    first[1:] = new_line
    last = np.ones(p.lo.size, dtype=bool)
    last[:-1] = new_line
    gap_lo = np.concatenate([[False], gap])
    gap_hi = np.concatenate([gap, [False]])
    with np.errstate(invalid="ignore"):
        # The root -a/b is uncertain by the rounding of a and b over |b|: with huge
        # cancelling terms that is far more than a few ulps of t.
        spread = ZERO_ULPS * EPS * (p.a_mag + p.b_mag * np.abs(t)) / np.abs(b)
        tol = np.fmax(ZERO_ULPS * EPS * np.maximum(1.0, np.abs(t)), spread)
        near_lo = ~first & (np.abs(t - p.lo) <= tol)
        near_hi = ~last & (np.abs(t - p.hi) <= tol)
        on = (b != 0.0) & (((t >= p.lo) & (t <= p.hi)) | near_lo | near_hi)
    # Next to a flat piece the margin at the kink is that piece's value a'.  Where a' is 0 the
    # root is part of the zero interval (reported apart).  Where it is not, a root within
    # rounding of the kink is none if this piece moves away from 0, and if it moves towards 0
    # a crossing just inside this piece, at ``kink - a' / b`` by continuity: better
    # conditioned than -a/b, whose rounding can put it on or beyond the kink.
    prev_const = np.concatenate([[False], (b == 0.0)[:-1]]) & ~gap_lo
    next_const = np.concatenate([(b == 0.0)[1:], [False]]) & ~gap_hi
    prev_a = np.concatenate([[0.0], a[:-1]])
    next_a = np.concatenate([a[1:], [0.0]])
    inside_lo = near_lo & prev_const & (np.sign(b) == -np.sign(prev_a)) & (prev_a != 0.0)
    inside_hi = near_hi & next_const & (np.sign(b) == np.sign(next_a)) & (next_a != 0.0)
    near_lo &= ~inside_lo
    near_hi &= ~inside_hi
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(inside_lo, p.lo - prev_a / b, np.where(inside_hi, p.hi - next_a / b, t))
    t = np.where(inside_lo | inside_hi, np.minimum(np.maximum(t, p.lo), p.hi), t)
    t = np.where(near_lo, p.lo, np.where(near_hi, p.hi, t))
    # At a kink the sides' signs decide: different, a crossing; equal, a touching root.
    prev_b = np.concatenate([[0.0], b[:-1]])
    next_b = np.concatenate([b[1:], [0.0]])
    left = np.where(near_lo & ~gap_lo, -np.sign(prev_b), -np.sign(b))
    right = np.where(near_hi & ~gap_hi, np.sign(next_b), np.sign(b))
    touching = (near_lo | near_hi) & (left == right) & (left != 0.0)
    keep = on & ~(near_lo & prev_const) & ~(near_hi & next_const)
    order = np.lexsort((t[keep], p.line[keep]))
    t_out, line_out, kind = t[keep][order], p.line[keep][order], touching[keep][order]
    # The same root seen from pieces narrower than the rounding (kinks closer than a few
    # ulps) is reported once.
    unique = np.ones(t_out.size, dtype=bool)
    close = np.abs(np.diff(t_out)) <= 2.0 * ZERO_ULPS * EPS * np.maximum(1.0, np.abs(t_out[1:]))
    unique[1:] = (line_out[1:] != line_out[:-1]) | ~close
    return PiecewiseRoots(
        t_out[unique],
        line_out[unique],
        kind[unique].astype(np.intp),
        p.lo[flat_zero],
        p.hi[flat_zero],
        p.line[flat_zero],
    )


def merge_intervals(
    lo: FloatArray, hi: FloatArray, line: IntArray
) -> tuple[FloatArray, FloatArray, IntArray]:
    """Merge overlapping or touching intervals of the same line (sorted by line, then lo)."""
    if lo.size == 0:
        return lo, hi, line
    new = np.ones(lo.size, dtype=bool)
    new[1:] = (line[1:] != line[:-1]) | (lo[1:] > hi[:-1])
    starts = np.flatnonzero(new)
    ends = np.append(starts[1:], lo.size) - 1
    return lo[starts], hi[ends], line[starts]
