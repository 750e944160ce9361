"""First-order Taylor models of the margin over cells of a line: affine forms that keep the
correlation between units from layer to layer.

Along a line every unit is a function of one variable ``t``.  On a cell ``[lo, hi]`` with
midpoint ``m`` and half-width ``h``, each unit is carried as ``a + b s + [-r, r]`` with
``s = t - m`` in ``[-h, h]``: ``a`` and ``b`` are floats, ``r`` bounds everything else —
the linearisation error of each activation and every rounding error.  (Berz & Makino,
"Verified integration of ODEs and flows using differential algebraic methods on high-order
Taylor models", Reliable Computing 4, 1998; here only to first order.)

* A linear layer maps forms exactly: ``W a + bias``, ``W b``, ``|W| r``, plus the rounding of
  those products (Higham's gamma_n bound, as in :mod:`netbound.margin`).
* An activation is linearised at the centre: ``act(a + d) = act(a) + act'(a) d + R`` with
  ``|R| <= M2 d^2 / 2``, ``M2`` a bound on ``|act''|`` over the unit's input range
  (``_C2``), and ``|d| <= |b| h + r``.
* The slope in ``t`` is carried the same way: ``act'(p)`` lies in ``act'(a) +- M2 (|b| h + r)``,
  and its product with the slope form of ``p`` goes into a form again.

Where plain interval propagation loses a factor of about sqrt(width) per layer (each unit's
range is taken independently), these forms lose only the second-order remainder.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from netbound import activations
from netbound.margin import Margin
from netbound.network import FloatArray, Layer
from netbound.rounding import ACT_ERR, EPS, SAFETY, TINY, gamma

SLOPE_ERR = activations.SLOPE_ERR

#: Rounding of the few operations that build each form's remainder.
UP = 1.0 + 8.0 * EPS


#: Exponentials are taken of ``-min(z, EXP_CAP)`` (see :data:`netbound.activations.EXP_CAP`).
EXP_CAP = activations.EXP_CAP
#: What the cap may add to a slope: ``4 exp(-700)`` bounds sigmoid' and tanh' (and their
#: ``|act''|``) wherever the cap applies, and so bounds the error of a capped slope value.
SLOPE_FLOOR = 4.0 * float(np.exp(-EXP_CAP))
#: The centre's act'' comes from its value (``-2 tanh tanh'``, ``sigmoid' (1 - 2 sigmoid)``),
#: whose error is ``ACT_ERR`` relative plus ``SLOPE_ERR tanh'`` absolute
#: (:func:`netbound.activations.value_and_slope`): so act'' is off by at most this times act'.
K2_ERR = 2.0 * (ACT_ERR + SLOPE_ERR)


def _sigmoid_slope(z: FloatArray) -> FloatArray:
    """sigmoid'(u) = ``e / (1 + e)^2`` with ``e = exp(-z)``, ``z = |u|``, as in
    :mod:`netbound.activations`; for ``z > EXP_CAP`` it is the value at the cap, an upper
    bound within :data:`SLOPE_FLOOR`."""
    e = np.exp(-np.minimum(z, EXP_CAP))
    one_e = 1.0 + e
    out: FloatArray = e / (one_e * one_e)
    return out


def _slope(act: str, z: FloatArray) -> FloatArray:
    """``act'(u)`` at ``z = |u|`` with one exponential: tanh' = 4 sigmoid'(2u), without the
    cancellation of 1 - tanh^2 (clipped at tanh' <= 1); sigmoid' for sigmoid and softplus
    (softplus'' = sigmoid').  Capped as :func:`_sigmoid_slope`."""
    if act == "tanh":
        return np.minimum(4.0 * _sigmoid_slope(2.0 * z), 1.0)
    return _sigmoid_slope(z)


class _Smooth(NamedTuple):
    """What the linearisation of a smooth unit at its centre ``a`` needs."""

    va: FloatArray  #: act(a)
    k: FloatArray  #: act'(a)
    k2: FloatArray  #: act''(a)
    dn: FloatArray  #: an upper bound on act' over [a - reach, a + reach] (softplus: on sigmoid')
    #: act at the end of that range nearer 0 (sigmoid and tanh; None for softplus)
    other: FloatArray | None
    #: The absolute part of the errors of ``va`` and of ``other`` (tanh near 0).
    va_err: FloatArray | float
    other_err: FloatArray | float


def _smooth_terms(
    act: str, a: FloatArray, aa: FloatArray, reach: FloatArray, ends: FloatArray
) -> _Smooth:
    """:class:`_Smooth` of a unit with centre ``a`` (``aa = |a|``) and reach ``reach``.

    sigmoid and tanh take one exponential for the centre and one for the end nearer 0
    (:func:`netbound.activations.value_and_slope`): their slopes are even and decrease in
    ``|u|``, so the slope there bounds the slope on the whole range.  That end is
    ``ends`` from ``a``: the reach moved out for the end's own rounding.  sigmoid'' =
    sigmoid' (1 - 2 sigmoid), tanh'' = -2 tanh tanh' (off by at most :data:`K2_ERR` act');
    softplus' = sigmoid and softplus'' = sigmoid'.  Slopes below :data:`SLOPE_FLOOR` may come
    out as up to that much (the cap).
    """
    if act == "softplus":
        va = activations.softplus(a)
        k = activations.apply("sigmoid", a)
        dn = _slope(act, np.maximum(aa - reach, 0.0))
        return _Smooth(va, k, _slope(act, aa), dn, None, 0.0, 0.0)
    va, k = activations.value_and_slope(act, a)
    k2 = -2.0 * va * k if act == "tanh" else k * (1.0 - 2.0 * va)
    other, so = activations.value_and_slope(act, a - np.copysign(ends, a))
    # Where the range holds 0 the largest slope is act'(0).
    dn = np.where(aa > ends, so, activations.MAX_SLOPE[act])
    if act == "tanh":
        return _Smooth(va, k, k2, dn, other, SLOPE_ERR * k, SLOPE_ERR * so)
    return _Smooth(va, k, k2, dn, other, 0.0, 0.0)


#: ``|act''| <= C2 d`` and ``|act'''| <= C3 d`` for ``|u| >= near``, with ``d`` the fourth value
#: of :func:`_smooth_terms` (decreasing in ``|u|``): sigmoid'' = sigmoid' (1 - 2 sigmoid) and
#: sigmoid''' = sigmoid' (1 - 6s + 6s^2), both factors at most 1 in size on [0, 1];
#: tanh'' = -2 tanh tanh' and tanh''' = -2 tanh' (1 - 3 tanh^2); softplus'' = sigmoid'.
_C2 = {"sigmoid": 1.0, "softplus": 1.0, "tanh": 2.0}
_C3 = {"sigmoid": 1.0, "softplus": 1.0, "tanh": 4.0}

Forms = tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]


def _activate(
    layer: Layer,
    a: FloatArray,
    b: FloatArray,
    r: FloatArray,
    da: FloatArray,
    db: FloatArray | None,
    dr: FloatArray | None,
    h: FloatArray,
    slope: bool = True,
    e: FloatArray | None = None,
) -> tuple[Forms, FloatArray | None]:
    """The forms of a layer's outputs and their slopes from those of its pre-activations.

    With ``slope=False`` the slope forms are passed through untouched; ``db`` and ``dr`` None
    stand for zeros (the first layer, whose slope ``da`` is exact).  ``e``, a bound on the
    rounding error of the centre values ``a`` alone, is carried to the outputs' (for smooth
    activations and identity; None otherwise).
    """
    act = layer.activation
    bh = np.abs(b) * h
    reach = (bh + r) * UP  # |p - a| on the cell
    if act not in _C2:
        forms = _activate_affine_pieces(layer, a, b, r, da, db, dr, h, reach, slope)
        return forms, e if act == "identity" else None
    aa = np.abs(a)
    # The ends a -+ reach, widened by their own rounding.
    ends = reach + 2.0 * EPS * aa
    sm = _smooth_terms(act, a, aa, reach, ends)
    va, k, k2, dn = sm.va, sm.k, sm.k2, sm.dn
    if e is not None:
        # The centre value's own error: act' on [a - e, a + e] is at most dn when
        # e <= reach (sigmoid' and tanh' decrease in |u|), else at most its global maximum.
        cap = 1.0 if act == "softplus" else np.where(e <= reach, dn, activations.MAX_SLOPE[act])
        e = cap * e * UP + ACT_ERR * np.abs(va) + sm.va_err + TINY
    reach2 = reach * reach
    vb = k * b
    kbh = k * bh  # |vb| h, as k >= 0
    # (SLOPE_FLOOR reach: what a capped k may be off, times |p - a|.)
    vr = (k * r + (0.5 * _C2[act] * UP) * dn * reach2 + SLOPE_FLOOR * reach) * UP
    vr = vr + ACT_ERR * (np.abs(va) + kbh) + sm.va_err + TINY
    # Where the unit's whole range over the cell is narrower than the form's remainder (a
    # wide cell across the unit's bend), carry the range instead, as a constant form around
    # the same centre value (the ends as above).
    if sm.other is not None:
        # sigmoid and tanh rise fastest towards 0 (their slopes are even and decrease in |u|),
        # so the end nearer 0 is the farther from act(a) in value.  The other gap exceeds
        # the computed one by at most the errors of both values: the 2 |va| below.
        other = sm.other
        spread = np.abs(va - other) * UP + ACT_ERR * (np.abs(other) + 2.0 * np.abs(va))
        spread = spread + (sm.va_err + sm.other_err) + TINY
    else:
        lo = layer.activate(a - ends)
        hi = layer.activate(a + ends)
        spread = np.maximum(hi - va, va - lo) * UP + ACT_ERR * (np.abs(lo) + np.abs(hi)) + TINY
    narrow = spread < vr
    if np.any(narrow):
        vb = np.where(narrow, 0.0, vb)
        vr = np.where(narrow, spread, vr)
    if not slope:
        return (va, vb, vr, da, _zeros(db, da), _zeros(dr, da)), e
    # The slope act'(p) = k + k2 (p - a) + R2 with |R2| <= M3 reach^2 / 2 is the form
    # k + beta s +- kappa (beta = k2 b); its product with the slope of p, da + db s +- dr,
    # is ga + gb s +- gr.
    ak2 = np.abs(k2)
    q = ak2 * bh  # |beta| h
    kappa = (ak2 * r + (0.5 * _C3[act] * UP) * dn * reach2 + SLOPE_FLOOR * (1.0 + 2.0 * reach)) * UP
    kappa = kappa + ACT_ERR * (k + q) + K2_ERR * k * reach
    # Likewise act' lies in [act'(|a| + reach), act'(near)] on the cell (sigmoid' and tanh'
    # are even and decrease in |u|): a constant factor where that is narrower than kappa.
    if act != "softplus":  # softplus' is not even: no cheap range, the form is kept
        shi = dn * UP
        # A lower bound on act' at the far end: the capped value less what the cap adds.
        slo = (_slope(act, aa + ends) - SLOPE_FLOOR) * (1.0 - 8.0 * EPS)
        wide = 0.5 * (shi - slo) * UP < kappa
        if np.any(wide):
            k = np.where(wide, 0.5 * slo + 0.5 * shi, k)
            kappa = np.where(wide, 0.5 * (shi - slo) * UP + ACT_ERR * shi, kappa)
            k2 = np.where(wide, 0.0, k2)
            q = np.where(wide, 0.0, q)
    dah = np.abs(da)
    ga = k * da
    beta = k2 * b
    if db is None or dr is None:
        gb = beta * da
        gr = kappa * dah * UP + 2.0 * ACT_ERR * (np.abs(ga) + q * dah) + TINY
        return (va, vb, vr, ga, gb, gr), e
    dbh = np.abs(db) * h
    gb = k * db + beta * da
    gr = (q * dbh + (k + q) * dr + kappa * (dah + dbh + dr)) * UP
    gr = gr + 2.0 * ACT_ERR * (np.abs(ga) + k * dbh + q * dah) + TINY
    return (va, vb, vr, ga, gb, gr), e


def _zeros(x: FloatArray | None, like: FloatArray) -> FloatArray:
    return np.zeros_like(like) if x is None else x


def _activate_affine_pieces(
    layer: Layer,
    a: FloatArray,
    b: FloatArray,
    r: FloatArray,
    da: FloatArray,
    db_: FloatArray | None,
    dr_: FloatArray | None,
    h: FloatArray,
    reach: FloatArray,
    slope: bool,
) -> Forms:
    """:func:`_activate` for the ReLU family and identity: affine off the kink; across it
    the whole range as a constant form, and the slope as ``[low, 1]``."""
    act, alpha = layer.activation, layer.alpha
    db, dr = _zeros(db_, da), _zeros(dr_, da)
    if act not in ("relu", "leaky_relu"):
        return a, b, r, da, db, dr
    low = 0.0 if act == "relu" else alpha
    up = a - reach >= 0.0
    down = a + reach <= 0.0
    vlo, vhi = activations.range_of(act, a - reach, a + reach, alpha)
    k = np.where(up, 1.0, np.where(down, low, 0.5 * (1.0 + low)))
    kappa = np.where(up | down, 0.0, 0.5 * (1.0 - low))
    fixed = up | down
    va = np.where(fixed, k * a, 0.5 * (vlo + vhi))
    vb = np.where(fixed, k * b, 0.0)
    vr = np.where(fixed, k * r, 0.5 * (vhi - vlo)) * UP + SAFETY * EPS * np.abs(va) + TINY
    if not slope:
        return va, vb, vr, da, db, dr
    # Slope: (k +- kappa) (da + db s +- dr).
    ga = k * da
    gb = k * db
    gr = (
        (k * dr + kappa * (np.abs(da) + np.abs(db) * h + dr)) * UP
        + ACT_ERR * (np.abs(ga) + np.abs(gb) * h)
        + TINY
    )
    return va, vb, vr, ga, gb, gr


def _linear(
    weights: FloatArray,
    abs_weights: FloatArray,
    bias: FloatArray | None,
    bias_abs: FloatArray | None,
    a: FloatArray,
    b: FloatArray,
    r: FloatArray,
    h: FloatArray,
    n: int,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """A linear layer on forms.  The remainder ``|W| r`` and the rounding of ``W a`` and of
    ``W b s`` (gamma_n times ``|W| |a|`` and ``|W| |b| h``) are one product of ``|W|`` with
    their non-negative sum, rounded up by gamma_{n+4} (a sum of non-negative terms)."""
    g = gamma(n)
    pa: FloatArray = a @ weights.T
    pb: FloatArray = b @ weights.T
    spread = r + g * (np.abs(a) + np.abs(b) * h)
    pr: FloatArray = (spread @ abs_weights.T) * (1.0 + gamma(n + 4))
    if bias is not None and bias_abs is not None:
        pa = pa + bias
        pr = pr + g * bias_abs
    return pa, pb, pr


class CellEnclosure(NamedTuple):
    """Enclosures over cells: the margin in ``[flo, fhi]``, its slope in ``[dlo, dhi]``
    (empty arrays when not asked for), and the margin's computed value at each cell's centre
    ``0.5 lo + 0.5 hi`` with a bound on that value's rounding error (NaN where a ReLU-family
    unit makes the centre value part of a relaxation)."""

    flo: FloatArray
    fhi: FloatArray
    dlo: FloatArray
    dhi: FloatArray
    centre: FloatArray
    centre_err: FloatArray

    def excludes_zero(self) -> NDArray[np.bool_]:
        """Cells on which the margin provably has no root (a NaN bound excludes nothing)."""
        out: NDArray[np.bool_] = (self.flo > 0.0) | (self.fhi < 0.0)
        return out

    def decides(self) -> NDArray[np.bool_]:
        """Cells these enclosures settle alone: no root, or (with the slope) monotone."""
        if self.dlo.size == 0:
            return self.excludes_zero()
        out: NDArray[np.bool_] = self.excludes_zero() | (self.dlo > 0.0) | (self.dhi < 0.0)
        return out


def cells(
    margin: Margin,
    w: FloatArray,
    c: FloatArray,
    cabs: FloatArray,
    lo: FloatArray,
    hi: FloatArray,
    derivative: bool = True,
) -> CellEnclosure:
    """Enclosures of the margin and of its slope on cells, and its value at their centres.

    ``w`` (units,), ``c`` and ``cabs`` (cells, units) describe each cell's line as in
    :meth:`Margin.line_affine`; a NaN bound (an overflow) excludes nothing.  With
    ``derivative=False`` only the margin is enclosed (``dlo`` and ``dhi`` are empty).
    """
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        m = 0.5 * lo + 0.5 * hi
        h = (np.maximum(m - lo, hi - m) * UP)[:, None]
        mc = m[:, None]
        if not margin.hidden:
            f = w[0] * m + c[:, 0]
            e0 = gamma(2) * (np.abs(w[0] * m) + cabs[:, 0] + np.abs(c[:, 0]))
            spread = np.abs(w[0]) * h[:, 0] * UP + e0
            d = np.full_like(lo, w[0])
            return CellEnclosure(f - spread, f + spread, d, d, f, e0)
        a = w * mc + c
        b: FloatArray = np.broadcast_to(w, a.shape)
        r = gamma(2) * (np.abs(w) * np.abs(mc) + cabs + np.abs(c))
        da: FloatArray = np.broadcast_to(w, a.shape)
        db: FloatArray | None = None
        dr: FloatArray | None = None
        e: FloatArray | None = r
        (a, b, r, da, db, dr), e = _activate(
            margin.hidden[0], a, b, r, da, db, dr, h, derivative, e
        )
        for layer in margin.hidden[1:]:
            aw, n = layer.abs_weights, layer.n_in
            if e is not None:
                e = _rounding(aw, layer.abs_biases, a, e, n)
            a, b, r = _linear(layer.weights, aw, layer.biases, layer.abs_biases, a, b, r, h, n)
            if derivative:
                da, db, dr = _linear(layer.weights, aw, None, None, da, db, dr, h, n)
            (a, b, r, da, db, dr), e = _activate(layer, a, b, r, da, db, dr, h, derivative, e)
        n = len(margin.readout)
        row = margin.readout[None, :]
        rabs = margin.readout_abs[None, :]
        off = np.array([margin.offset])
        offabs = np.array([margin.offset_abs])
        fe = np.full(lo.shape, np.nan) if e is None else _rounding(rabs, offabs, a, e, n)[:, 0]
        fa, fb, fr = _linear(row, rabs, off, offabs, a, b, r, h, n)
        fc = fa[:, 0]
        fs = (np.abs(fb) * h + fr)[:, 0] * UP
        if not derivative:
            empty = np.empty(0)
            return CellEnclosure(fc - fs, fc + fs, empty, empty, fc, fe)
        ga, gb, gr = _linear(row, rabs, None, None, da, db, dr, h, n)
        gs = (np.abs(gb) * h + gr)[:, 0] * UP
        return CellEnclosure(fc - fs, fc + fs, ga[:, 0] - gs, ga[:, 0] + gs, fc, fe)


def _rounding(
    abs_weights: FloatArray, bias_abs: FloatArray, a: FloatArray, e: FloatArray, n: int
) -> FloatArray:
    """The rounding bound of a linear layer's centre values ``W a + bias`` from that of ``a``
    (``e``): ``|W| e`` plus gamma_n of ``|W| |a| + |bias|``, as in :meth:`Margin.points`."""
    g = gamma(n)
    out: FloatArray = ((e + g * np.abs(a)) @ abs_weights.T) * (1.0 + gamma(n + 4)) + g * bias_abs
    return out
