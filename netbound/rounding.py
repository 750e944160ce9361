"""Rounding-error bounds and interval products in float64, shared by every enclosure.

The bounds are first order: Higham's ``gamma_n = n u / (1 - n u)`` for an n-term dot
product (N. J. Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed., SIAM 2002,
sec. 3.1), times a safety factor for the terms of second order; interval products are taken
in midpoint-radius form (S. M. Rump, "Fast and parallel interval arithmetic", BIT 39, 1999).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from netbound import activations
from netbound.network import FloatArray, Layer

EPS = float(np.finfo(np.float64).eps)
TINY = 1e-300
#: Safety factor on every rounding bound: the bounds below are first-order.
SAFETY = 4.0
#: Relative error bound of an activation (and of a slope product) in floating point.
ACT_ERR = SAFETY * EPS
IntArray = NDArray[np.intp]


def gamma(n: int) -> float:
    """Relative error bound of an n-term dot product in floating point (Higham's gamma_n)."""
    return SAFETY * (n + 2) * EPS


def propagate(layer: Layer, pre: FloatArray, err: FloatArray) -> FloatArray:
    """Bound on the output error of a layer's activation from an input error ``err``."""
    return activations.slope_bound(layer.activation, pre, err, layer.alpha) * err


def imul(
    alo: FloatArray, ahi: FloatArray, blo: FloatArray, bhi: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Interval product ``[alo, ahi] * [blo, bhi]`` for a non-negative first factor.

    (Activation slopes are never negative: every activation here is monotone.)  Each end is
    the smaller (larger) of its two candidate products: rounding is monotone, so that is the
    rounded exact end, found without a data-dependent branch (``np.where`` on a random mask
    is several times slower).  A NaN product (``0 * inf`` after an overflow) gives a NaN end,
    which decides nothing.
    """
    return np.minimum(blo * alo, blo * ahi), np.maximum(bhi * alo, bhi * ahi)


def mm(a: FloatArray, w: FloatArray) -> FloatArray:
    """``a @ w.T`` for a batch of rows."""
    out: FloatArray = a @ w.T
    return out


def mv(a: FloatArray, r: FloatArray) -> FloatArray:
    """``a @ r`` for a batch of rows."""
    out: FloatArray = a @ r
    return out


def idot(
    weights: FloatArray,
    lo: FloatArray,
    hi: FloatArray,
    abs_weights: FloatArray | None = None,
    gamma: float = 0.0,
) -> tuple[FloatArray, FloatArray]:
    """Interval of ``weights @ v`` for ``v`` in ``[lo, hi]`` (batched over leading axes).

    Midpoint-radius form ``W m +- |W| r`` (two products instead of four), with ``m`` and
    ``r`` from ``s = lo + hi`` and ``d = hi - lo``.  The radius is rounded up to cover the
    rounding of ``m`` and ``r`` and by ``gamma (|m| + r)``: with ``gamma`` the relative error
    of the dot product plus that of ``v`` itself, this bounds every rounding error of the
    layer.  ``abs_weights`` may be any bound on ``|W|`` (default ``|W|``).
    """
    total = lo + hi
    spread_in = (hi - lo) * (0.5 * (1.0 + 4.0 * EPS + gamma)) + np.abs(total) * (
        0.5 * (2.0 * EPS + gamma)
    )
    centre = 0.5 * mm(total, weights)
    spread = mm(spread_in, np.abs(weights) if abs_weights is None else abs_weights)
    return centre - spread, centre + spread


def idot_unbounded(
    weights: FloatArray, lo: FloatArray, hi: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Exact-form interval of ``weights @ v`` where ``v`` may have infinite ends.

    Rows of ``v`` go in blocks: the products are a (rows, out, in) temporary.
    """
    w = weights[None, :, :]
    out_lo = np.empty((lo.shape[0], weights.shape[0]))
    out_hi = np.empty_like(out_lo)
    rows = max(1, (1 << 16) // weights.size)
    for k in range(0, lo.shape[0], rows):
        a, b = lo[k : k + rows, None, :], hi[k : k + rows, None, :]
        with np.errstate(invalid="ignore"):
            out_lo[k : k + rows] = np.where(w > 0.0, w * a, np.where(w < 0.0, w * b, 0.0)).sum(-1)
            out_hi[k : k + rows] = np.where(w > 0.0, w * b, np.where(w < 0.0, w * a, 0.0)).sum(-1)
    return out_lo, out_hi
