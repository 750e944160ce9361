"""Exact solving of piecewise-affine margins (ReLU, leaky ReLU and identity hidden units).

Along a line ``t -> base + t e_axis`` such a margin is piecewise affine: its kinks are where
some unit's pre-activation crosses 0.  Layer by layer, every piece of the line on which all
units so far are affine is cut where a unit of the next layer changes sign; on the final
pieces the margin is ``a + b t`` and its root is ``-a / b``.  All pieces of all lines are
handled as flat arrays, layer by layer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from netbound.margin import EPS, IntArray, Margin
from netbound.network import FloatArray

#: More pieces than this (over a batch of lines) and the caller falls back to bisection.
MAX_PIECES = 2_000_000
#: A coefficient below this many rounding units of its magnitude is taken as exactly zero.
ZERO_ULPS = 64.0


@dataclass
class Pieces:
    """Affine pieces ``a + b t`` on ``[lo, hi]`` of many lines (``line`` says which)."""

    lo: FloatArray
    hi: FloatArray
    line: IntArray
    a: FloatArray
    b: FloatArray
    a_mag: FloatArray
    b_mag: FloatArray


def pieces(
    margin: Margin,
    w: FloatArray,
    c: FloatArray,
    cabs: FloatArray,
    lo: FloatArray,
    hi: FloatArray,
) -> Pieces | None:
    """The affine pieces of a piecewise-affine margin on ``[lo[i], hi[i]]`` of each line.

    ``w``, ``c`` and ``cabs`` are the lines' first-layer form (:meth:`Margin.line_affine`).
    Returns None when the pieces would exceed :data:`MAX_PIECES`.
    """
    n = c.shape[0]
    line = np.arange(n)
    p_lo, p_hi = lo.copy(), hi.copy()
    # Pre-activations of the current layer as A + B t, with magnitudes for rounding bounds.
    if margin.hidden:
        pa, pb = c.copy(), np.broadcast_to(w, c.shape).copy()
    else:
        pa, pb = c[:, :1].copy(), np.broadcast_to(w[:1], (n, 1)).copy()
    pa_mag, pb_mag = cabs[:, : pa.shape[1]].copy(), np.abs(pb)
    va, vb, va_mag, vb_mag = pa, pb, pa_mag, pb_mag
    for k, layer in enumerate(margin.hidden):
        if k > 0:
            aw = np.abs(layer.weights)
            pa, pb = va @ layer.weights.T + layer.biases, vb @ layer.weights.T
            pa_mag = va_mag @ aw.T + np.abs(layer.biases)
            pb_mag = vb_mag @ aw.T
        p_lo, p_hi, line, pa, pb, pa_mag, pb_mag = _cut(p_lo, p_hi, line, pa, pb, pa_mag, pb_mag)
        if p_lo.size > MAX_PIECES:
            return None
        mid = _inside(p_lo, p_hi)
        positive = (pa + pb * mid[:, None]) > 0.0
        low = 0.0 if layer.activation == "relu" else layer.alpha
        slope = 1.0 if layer.activation == "identity" else np.where(positive, 1.0, low)
        va, vb = slope * pa, slope * pb
        va_mag, vb_mag = np.abs(slope) * pa_mag, np.abs(slope) * pb_mag
    if margin.hidden:
        a = va @ margin.readout + margin.offset
        b = vb @ margin.readout
        a_mag = va_mag @ margin.readout_abs + margin.offset_abs
        b_mag = vb_mag @ margin.readout_abs
    else:
        a, b, a_mag, b_mag = pa[:, 0], pb[:, 0], pa_mag[:, 0], pb_mag[:, 0]
    return Pieces(p_lo, p_hi, line, a, b, a_mag, b_mag)


def _inside(lo: FloatArray, hi: FloatArray) -> FloatArray:
    """A point inside each piece, also for infinite ends."""
    with np.errstate(invalid="ignore"):
        mid = 0.5 * lo + 0.5 * hi
    mid = np.where(np.isneginf(lo) & np.isfinite(hi), hi - 1.0, mid)
    mid = np.where(np.isposinf(hi) & np.isfinite(lo), lo + 1.0, mid)
    return np.where(np.isneginf(lo) & np.isposinf(hi), 0.0, mid)


def _cut(
    lo: FloatArray,
    hi: FloatArray,
    line: IntArray,
    pa: FloatArray,
    pb: FloatArray,
    pa_mag: FloatArray,
    pb_mag: FloatArray,
) -> tuple[FloatArray, FloatArray, IntArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """Cut every piece where a unit's pre-activation ``A + B t`` changes sign inside it."""
    with np.errstate(divide="ignore", invalid="ignore"):
        t = -pa / pb
    inside = (pb != 0.0) & (t > lo[:, None]) & (t < hi[:, None])
    piece, _unit = np.nonzero(inside)
    cuts = t[inside]
    # Each piece's ends and its cuts, sorted within the piece, bound the new pieces.
    owner = np.concatenate([np.arange(lo.size), np.arange(lo.size), piece])
    points = np.concatenate([lo, hi, cuts])
    order = np.lexsort((points, owner))
    owner, points = owner[order], points[order]
    keep = (owner[1:] == owner[:-1]) & (points[1:] > points[:-1])
    start = np.flatnonzero(keep)
    src = owner[start]
    return (
        points[start],
        points[start + 1],
        line[src],
        pa[src],
        pb[src],
        pa_mag[src],
        pb_mag[src],
    )


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
    with np.errstate(divide="ignore", invalid="ignore"):
        t = -a / b
    # A root within rounding of a piece's end is snapped to that end (a kink), so that the
    # two pieces meeting there report the very same point, once.
    first = np.ones(p.lo.size, dtype=bool)
    first[1:] = p.line[1:] != p.line[:-1]
    last = np.ones(p.lo.size, dtype=bool)
    last[:-1] = p.line[1:] != p.line[:-1]
    with np.errstate(invalid="ignore"):
        # The root -a/b is uncertain by the rounding of a and b over |b|: with huge
        # cancelling terms that is far more than a few ulps of t.
        spread = ZERO_ULPS * EPS * (p.a_mag + p.b_mag * np.abs(t)) / np.abs(b)
        tol = np.fmax(ZERO_ULPS * EPS * np.maximum(1.0, np.abs(t)), spread)
        near_lo = ~first & (np.abs(t - p.lo) <= tol)
        near_hi = ~last & (np.abs(t - p.hi) <= tol)
        on = (b != 0.0) & (((t >= p.lo) & (t <= p.hi)) | near_lo | near_hi)
    t = np.where(near_lo, p.lo, np.where(near_hi, p.hi, t))
    # At a kink the sides' signs decide: different, a crossing; equal, a touching root.
    prev_b = np.concatenate([[0.0], b[:-1]])
    next_b = np.concatenate([b[1:], [0.0]])
    left = np.where(near_lo, -np.sign(prev_b), -np.sign(b))
    right = np.where(near_hi, np.sign(next_b), np.sign(b))
    touching = (near_lo | near_hi) & (left == right) & (left != 0.0)
    # A root at the end of a flat zero piece is part of that interval (reported apart), not
    # a root; next to a flat nonzero piece there is none: the margin at the kink is that
    # piece's value.
    prev_const = np.concatenate([[False], (b == 0.0)[:-1]])
    next_const = np.concatenate([(b == 0.0)[1:], [False]])
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
