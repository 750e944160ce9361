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
* A sigmoid or tanh unit is relaxed by its chord over its input range ``[a - d, a + d]``,
  ``|d| <= |b| h + r``: ``act(p) = mu + lam (p - a) + R``, with ``R`` bounded exactly from
  the activation's convex and concave parts (:func:`_chord`).  A softplus unit is
  linearised at the centre: ``act(a + d) = act(a) + act'(a) d + R`` with ``|R| <= M2 d^2 /
  2``, ``M2`` a bound on ``|act''|`` over the unit's input range (``_C2``).
* The slope in ``t`` is carried the same way: ``act'(p)`` lies in ``act'(a) +- M2 (|b| h + r)``,
  and its product with the slope form of ``p`` goes into a form again.
* With the slopes, the margin's computed value at the cell's centre (a point value for the
  bisection) is carried too, apart from the forms' constants, with its rounding bound.

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


def _chord(
    act: str, a: FloatArray, ends: FloatArray, near: FloatArray, far: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """A linear relaxation of sigmoid or tanh units with centres ``a >= 0`` over their input
    ranges ``[lo, hi] = [a - ends, a + ends]``: ``act(p) = mu + lam (p - a) + R`` with
    ``|R| <= rho`` for every ``p`` in the range.  ``near`` and ``far``: act at ``lo`` and
    ``hi``.  (A unit with ``a < 0`` is mirrored first: tanh is odd, sigmoid(-p) = 1 -
    sigmoid(p).)

    ``lam`` is the chord's slope; any value would be sound, since what is bounded is the
    range of ``g(p) = act(p) - lam (p - a)`` itself.  Both activations are concave above 0
    and convex below.  On ``[max(lo, 0), hi]`` ``g`` is concave and peaks where ``act' =
    lam``, at ``p* >= 0``; if ``p*`` lies beyond the part, ``g`` is monotone on it and peaks
    at the nearer end.  On ``[lo, 0]`` (where ``lo < 0``) ``g`` is convex with its lowest
    point at ``-p*`` or at ``lo``.  Elsewhere extrema are at ends: ``lo``, ``0`` and ``hi``.
    ``p*`` comes without an exponential: ``act'(p*) = lam`` gives ``e* = exp(-2 p*) = lam /
    (1 + r)^2`` with ``r = sqrt(1 - lam)`` for tanh (sigmoid: ``exp(-p*) = 4 lam / (1 +
    r)^2``, ``r = sqrt(1 - 4 lam)``), and ``act(p*)`` follows from ``e*`` as in
    :func:`netbound.activations.value_and_slope`.

    Rounding, by one bound for all of it (``F = a + ends`` bounds every ``|p - a|`` and
    ``p*`` used): each value of act is within ``ACT_ERR + SLOPE_ERR`` (``|act| <= 1``,
    ``act' <= 1``), each product ``lam x`` within three ulps of ``lam F``.  ``p*`` is the
    point ``-log(e*) / 2`` of the computed ``e*`` (its value is taken there), missed by the
    float ``p*`` by a few ulps (``lam`` times that in ``g``), and ``g'`` there is within
    ``16 eps lam`` of 0, so the true peak exceeds ``g(p*)`` by at most that times the span
    ``2 ends``; the monotone case near the part's ends is off by second order only; and
    ``mu`` is rounded by at most 2 eps of ``|g| <= 1 + lam F``.

    Where the unit's range spans its bend, this is far tighter than the Taylor form at the
    centre, whose remainder grows with the square of the range (on the 2-64-64-2 tanh net
    with weights x5 the first cells' enclosures exclude 84% of them instead of 46%).  CROWN
    takes tangents and chords of the same activations (Zhang et al., "Efficient neural
    network robustness certification with general activation functions", NeurIPS 2018); here
    one slope serves both bounds, as a Taylor model's remainder needs.
    """
    with np.errstate(all="ignore"):
        lo, hi = a - ends, a + ends
        top = activations.MAX_SLOPE[act]
        # (TINY: an empty range, ends = 0, gets slope 0.)
        lam = np.minimum(np.maximum((far - near) / (2.0 * ends + TINY), 0.0), top)
        if act == "tanh":
            root = 1.0 + np.sqrt(1.0 - lam)
            e = lam / (root * root)
            star = -0.5 * np.log(e)
            vpos = (1.0 - e) / (1.0 + e)
            vneg, zero = -vpos, 0.0
        else:
            root = 1.0 + np.sqrt(1.0 - 4.0 * lam)
            e = (4.0 * lam) / (root * root)
            star = -np.log(e)
            vpos = 1.0 / (1.0 + e)
            vneg, zero = e * vpos, 0.5
        shift = lam * ends
        g_lo, g_hi = near + shift, far - shift
        g0 = zero + lam * a
        # g(p*) is the largest value of g on all of [0, inf) and g(-p*) the smallest on
        # (-inf, 0]: adding either to the candidates is always sound, and tight unless p*
        # lies outside [lo, hi], or -p* below lo (then the end; on a narrow range the
        # rounding of lam alone can put p* far outside).  g(0) counts only where lo < 0.
        peak = np.where(star > hi, g_hi, np.where(star < lo, g_lo, vpos - lam * (star - a)))
        pit = np.where(-star < lo, g_lo, vneg + lam * (star + a))
        ghi = np.maximum(np.maximum(peak, g_lo), g0)
        glo = np.minimum(np.minimum(pit, g_hi), np.where(lo < 0.0, g0, g_lo))
        # Every |g| <= 1 + lam F and each value is good to (ACT_ERR + SLOPE_ERR + 8 eps) times
        # that; 2 eps more for mu's own rounding; 16 eps lam over the span 2 ends for g'(p*).
        each = ACT_ERR + SLOPE_ERR + 10.0 * EPS
        unc = each + lam * (each * a + (each + 32.0 * EPS) * ends)
        mu = 0.5 * (ghi + glo)
        rho = (0.5 * (ghi - glo) + unc) * UP
    return mu, lam, rho


class _Centred(NamedTuple):
    """A smooth unit at its centre ``a``: what its slope form and the Taylor form need."""

    va: FloatArray  #: act(a)
    k: FloatArray  #: act'(a)
    k2: FloatArray  #: act''(a)
    #: The absolute part of the error of ``va`` (tanh near 0).
    va_err: FloatArray | float


def _centred(act: str, a: FloatArray) -> _Centred:
    """:class:`_Centred` from one exponential (:func:`netbound.activations.value_and_slope`):
    sigmoid'' = sigmoid' (1 - 2 sigmoid), tanh'' = -2 tanh tanh' (off by at most
    :data:`K2_ERR` act'); softplus' = sigmoid and softplus'' = sigmoid'."""
    if act == "softplus":
        k = activations.apply("sigmoid", a)
        return _Centred(activations.softplus(a), k, _slope(act, np.abs(a)), 0.0)
    va, k = activations.value_and_slope(act, a)
    if act == "tanh":
        return _Centred(va, k, -2.0 * va * k, SLOPE_ERR * k)
    return _Centred(va, k, k * (1.0 - 2.0 * va), 0.0)


#: ``|act''| <= C2 d`` and ``|act'''| <= C3 d`` on a unit's range, with ``d`` an upper bound
#: on act' there (``dn`` of :func:`_activate`): sigmoid'' = sigmoid' (1 - 2 sigmoid) and
#: sigmoid''' = sigmoid' (1 - 6s + 6s^2), both factors at most 1 in size on [0, 1];
#: tanh'' = -2 tanh tanh' and tanh''' = -2 tanh' (1 - 3 tanh^2); softplus'' = sigmoid'.
_C2 = {"sigmoid": 1.0, "softplus": 1.0, "tanh": 2.0}
_C3 = {"sigmoid": 1.0, "softplus": 1.0, "tanh": 4.0}

Forms = tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]


class Relaxed(NamedTuple):
    """How a layer's value forms came from its pre-activations' ``p = a + b s + delta``: each
    unit's output is ``const + lam (b s + delta) + R`` with ``|R| <= own`` (its own
    remainder, with every rounding but that of the forward ``lam r``), which
    back-substitution (:func:`_back_substituted`) takes up."""

    lam: FloatArray | float
    own: FloatArray | float


class Centre(NamedTuple):
    """The computed values of a layer's units at the cell's centre and a bound on their
    rounding error.  ``value`` None: they are the forms' constants (up to the first sigmoid
    or tanh layer, whose chords have other constants)."""

    value: FloatArray | None
    err: FloatArray


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
    centre: Centre | None = None,
) -> tuple[Forms, Centre | None, Relaxed]:
    """The forms of a layer's outputs and their slopes from those of its pre-activations,
    and how the value forms relax each unit (:class:`Relaxed`).

    With ``slope=False`` the slope forms are passed through untouched; ``db`` and ``dr`` None
    stand for zeros (the first layer, whose slope ``da`` is exact).  ``centre``, the centre
    values and their rounding bound, is carried to the outputs' (for smooth activations and
    identity; None otherwise).  Sigmoid and tanh units get their chords
    (:func:`_chord_forms`), softplus units Taylor forms at the centre.
    """
    act = layer.activation
    bh = np.abs(b) * h
    reach = (bh + r) * UP  # |p - a| on the cell
    if act not in _C2:
        forms, relaxed = _activate_affine_pieces(layer, a, b, r, da, db, dr, h, reach, slope)
        return forms, centre if act == "identity" else None, relaxed
    aa = np.abs(a)
    # The ends a -+ reach, widened by their own rounding.
    ends = reach + 2.0 * EPS * aa
    # act, act' and act'' at the centre: for the slope forms, softplus's Taylor forms and the
    # first layer's centre values (the forms' constants there).
    need = slope or act == "softplus" or (centre is not None and centre.value is None)
    cen = _centred(act, a) if need else None
    if act == "softplus":
        assert cen is not None  # softplus takes no chords
        dn = _slope(act, np.maximum(aa - reach, 0.0))  # sigmoid' bounds softplus''
        lo, hi = layer.activate(a - ends), layer.activate(a + ends)
        spread = np.maximum(hi - cen.va, cen.va - lo) * UP
        spread = spread + ACT_ERR * (np.abs(lo) + np.abs(hi)) + TINY
        const, vb, vr, relaxed = _taylor_forms(layer, b, r, bh, reach, cen, dn, spread)
        far_slope = None
    else:
        # Mirrored to |a|: act at the range's end nearer 0 (its slope bounds act' on the
        # whole range, as sigmoid' and tanh' are even and decrease in |u|) and at the other.
        near, near_slope = activations.value_and_slope(act, aa - ends)
        far, far_slope = activations.value_and_slope(act, aa + ends)
        dn = np.where(aa > ends, near_slope, activations.MAX_SLOPE[act])
        const, vb, vr, relaxed = _chord_forms(act, a, aa, b, r, bh, ends, near, far)
    if centre is not None:
        centre = _centre_out(act, centre, a, ends, cen, dn)
    if not slope:
        return (const, vb, vr, da, _zeros(db, da), _zeros(dr, da)), centre, relaxed
    assert cen is not None  # computed whenever slope forms are asked for
    # The slope act'(p) = k + k2 (p - a) + R2 with |R2| <= M3 reach^2 / 2 is the form
    # k + beta s +- kappa (beta = k2 b); its product with the slope of p, da + db s +- dr,
    # is ga + gb s +- gr.
    k, k2 = cen.k, cen.k2
    ak2 = np.abs(k2)
    q = ak2 * bh  # |beta| h
    reach2 = reach * reach
    kappa = (ak2 * r + (0.5 * _C3[act] * UP) * dn * reach2 + SLOPE_FLOOR * (1.0 + 2.0 * reach)) * UP
    kappa = kappa + ACT_ERR * (k + q) + K2_ERR * k * reach
    # Likewise act' lies in [act'(|a| + reach), act'(near)] on the cell (sigmoid' and tanh'
    # are even and decrease in |u|): a constant factor where that is narrower than kappa.
    if far_slope is not None:  # softplus' is not even: no cheap range, the form is kept
        shi = dn * UP
        # A lower bound on act' at the far end: the capped value less what the cap adds.
        slo = (far_slope - SLOPE_FLOOR) * (1.0 - 8.0 * EPS)
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
        return (const, vb, vr, ga, gb, gr), centre, relaxed
    dbh = np.abs(db) * h
    gb = k * db + beta * da
    gr = (q * dbh + (k + q) * dr + kappa * (dah + dbh + dr)) * UP
    gr = gr + 2.0 * ACT_ERR * (np.abs(ga) + k * dbh + q * dah) + TINY
    return (const, vb, vr, ga, gb, gr), centre, relaxed


def _taylor_forms(
    layer: Layer,
    b: FloatArray,
    r: FloatArray,
    bh: FloatArray,
    reach: FloatArray,
    cen: _Centred,
    dn: FloatArray,
    spread: FloatArray,
) -> tuple[FloatArray, FloatArray, FloatArray, Relaxed]:
    """The value forms ``(constant, slope, remainder)`` of softplus units linearised at the
    centre: ``act(a + d) = act(a) + act'(a) d + R`` with ``|R| <= M2 d^2 / 2``; where the
    unit's whole range over the cell, ``act(a) +- spread``, is narrower than that
    remainder, the range instead, as a constant form around the centre value."""
    act = layer.activation
    va, k = cen.va, cen.k
    vb = k * b
    # (SLOPE_FLOOR reach: what a capped k may be off, times |p - a|.)
    own = ((0.5 * _C2[act] * UP) * dn * (reach * reach) + SLOPE_FLOOR * reach) * UP
    own = own + ACT_ERR * (np.abs(va) + k * bh) + cen.va_err + TINY
    vr = k * r * UP + own
    narrow = spread < vr
    lam: FloatArray = k
    if np.any(narrow):
        vb = np.where(narrow, 0.0, vb)
        vr = np.where(narrow, spread, vr)
        lam = np.where(narrow, 0.0, k)
        own = np.where(narrow, spread, own)
    return va, vb, vr, Relaxed(lam, own)


def _chord_forms(
    act: str,
    a: FloatArray,
    aa: FloatArray,
    b: FloatArray,
    r: FloatArray,
    bh: FloatArray,
    ends: FloatArray,
    near: FloatArray,
    far: FloatArray,
) -> tuple[FloatArray, FloatArray, FloatArray, Relaxed]:
    """The value forms ``(constant, slope, remainder)`` of sigmoid or tanh units from their
    chords (:func:`_chord`), computed on the units mirrored to ``aa = |a|``: ``near`` and
    ``far`` are act at ``aa -+ ends``.  The chord is never looser than the Taylor form at the
    centre or the constant range beyond rounding, and far tighter across a bend."""
    mu, lam, rho = _chord(act, aa, ends, near, far)
    below = np.signbit(a)  # tanh(-p) = -tanh(p), sigmoid(-p) = 1 - sigmoid(p)
    if act == "tanh":
        mu = np.where(below, -mu, mu)
    else:
        mu = np.where(below, 1.0 - mu, mu)
        rho = rho + EPS  # the rounding of 1 - mu
    own = rho * UP + ACT_ERR * lam * bh + TINY  # with the rounding of lam b
    return mu, lam * b, lam * r * UP + own, Relaxed(lam, own)


def _centre_out(
    act: str,
    centre: Centre,
    a: FloatArray,
    ends: FloatArray,
    cen: _Centred | None,
    dn: FloatArray,
) -> Centre:
    """A smooth layer's centre values and their error bound from its inputs' ``centre``.

    The exact centre input lies in the unit's range (the forms hold it at ``s = 0``), and
    so does the computed one, within ``err`` of it, wherever it is inside the range's ends:
    there act' between the two is at most ``dn`` (sigmoid' and tanh' decrease in ``|u|``),
    elsewhere at most its global maximum (1 for softplus).  Sigmoid and tanh units' forms
    have constants other than the centre values (chords), so those are kept apart.
    """
    top = 1.0 if act == "softplus" else activations.MAX_SLOPE[act]
    if centre.value is None:
        assert cen is not None  # computed whenever the centre values are the forms' constants
        v, v_err = cen.va, cen.va_err
        cap: FloatArray | float = top if act == "softplus" else dn
    else:
        x = centre.value
        if act == "softplus":
            v, v_err, cap = activations.softplus(x), 0.0, top
        else:
            v, s = activations.value_and_slope(act, x)
            v_err = SLOPE_ERR * s if act == "tanh" else 0.0
            cap = np.where((x >= a - ends) & (x <= a + ends), dn, top)
    err = cap * centre.err * UP + ACT_ERR * np.abs(v) + v_err + TINY
    apart = act != "softplus" or centre.value is not None
    return Centre(v if apart else None, err)


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
) -> tuple[Forms, Relaxed]:
    """:func:`_activate` for the ReLU family and identity: affine off the kink; across it
    the whole range as a constant form, and the slope as ``[low, 1]``."""
    act, alpha = layer.activation, layer.alpha
    db, dr = _zeros(db_, da), _zeros(dr_, da)
    if act not in ("relu", "leaky_relu"):
        return (a, b, r, da, db, dr), Relaxed(1.0, 0.0)
    low = 0.0 if act == "relu" else alpha
    up = a - reach >= 0.0
    down = a + reach <= 0.0
    vlo, vhi = activations.range_of(act, a - reach, a + reach, alpha)
    k = np.where(up, 1.0, np.where(down, low, 0.5 * (1.0 + low)))
    kappa = np.where(up | down, 0.0, 0.5 * (1.0 - low))
    fixed = up | down
    va = np.where(fixed, k * a, 0.5 * (vlo + vhi))
    vb = np.where(fixed, k * b, 0.0)
    # (The rounding of k a and k b: alpha is not a power of 2.)
    own = np.where(fixed, 0.0, 0.5 * (vhi - vlo) * UP) + SAFETY * EPS * np.abs(va)
    own = own + ACT_ERR * np.abs(vb) * h + TINY
    vr = np.where(fixed, k * r * UP, 0.0) + own
    relaxed = Relaxed(np.where(fixed, k, 0.0), own)
    if not slope:
        return (va, vb, vr, da, db, dr), relaxed
    # Slope: (k +- kappa) (da + db s +- dr).
    ga = k * da
    gb = k * db
    gr = (
        (k * dr + kappa * (np.abs(da) + np.abs(db) * h + dr)) * UP
        + ACT_ERR * (np.abs(ga) + np.abs(gb) * h)
        + TINY
    )
    return (va, vb, vr, ga, gb, gr), relaxed


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
    ``derivative=False`` only the margin is enclosed (``dlo`` and ``dhi`` are empty, and
    the centre values' error bounds NaN).
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
        # The centre values serve the bisection with slopes; without, they are not computed.
        centre: Centre | None = Centre(None, r) if derivative else None
        # Per layer, for back-substitution: the rounding of its pre-activations' forms (the
        # first layer's: r) and how its units were relaxed.
        rounded: list[FloatArray | float] = [r]
        (a, b, r, da, db, dr), centre, relaxed = _activate(
            margin.hidden[0], a, b, r, da, db, dr, h, derivative, centre
        )
        steps = [relaxed]
        for layer in margin.hidden[1:]:
            aw, n = layer.abs_weights, layer.n_in
            if centre is not None:
                centre = _centre_linear(
                    layer.weights, aw, layer.biases, layer.abs_biases, a, centre
                )
            if BACK_SUBSTITUTE:
                rounded.append(_linear_rounding(aw, layer.abs_biases, a, b, h, n))
            a, b, r = _linear(layer.weights, aw, layer.biases, layer.abs_biases, a, b, r, h, n)
            if derivative:
                da, db, dr = _linear(layer.weights, aw, None, None, da, db, dr, h, n)
            (a, b, r, da, db, dr), centre, relaxed = _activate(
                layer, a, b, r, da, db, dr, h, derivative, centre
            )
            steps.append(relaxed)
        n = len(margin.readout)
        row = margin.readout[None, :]
        rabs = margin.readout_abs[None, :]
        off = np.array([margin.offset])
        offabs = np.array([margin.offset_abs])
        fa, fb, fr = _linear(row, rabs, off, offabs, a, b, r, h, n)
        fc = fa[:, 0]
        if centre is None:
            value, fe = fc, np.full(lo.shape, np.nan)
        else:
            out = _centre_linear(row, rabs, off, offabs, a, centre)
            value = fc if out.value is None else out.value[:, 0]
            fe = out.err[:, 0]
        fs = (np.abs(fb) * h + fr)[:, 0] * UP
        if BACK_SUBSTITUTE:
            back = _back_substituted(margin, steps, rounded, a, b, h)
            fs = np.fmin(fs, (np.abs(fb[:, 0]) * h[:, 0] + back) * UP)
        if not derivative:
            empty = np.empty(0)
            return CellEnclosure(fc - fs, fc + fs, empty, empty, value, fe)
        ga, gb, gr = _linear(row, rabs, None, None, da, db, dr, h, n)
        gs = (np.abs(gb) * h + gr)[:, 0] * UP
        return CellEnclosure(fc - fs, fc + fs, ga[:, 0] - gs, ga[:, 0] + gs, value, fe)


#: Whether :func:`cells` also bounds the value remainders by back-substitution
#: (:func:`_back_substituted`) and keeps the tighter of the two enclosures.
BACK_SUBSTITUTE = True


def _linear_rounding(
    abs_weights: FloatArray,
    bias_abs: FloatArray,
    a: FloatArray,
    b: FloatArray,
    h: FloatArray,
    n: int,
) -> FloatArray:
    """A bound on the rounding of a linear layer's forms ``W a + bias`` and ``W b`` (what
    :func:`_linear` adds to ``|W| r``), from the largest ``|a| + |b| h`` of each cell and
    each row's sum of ``|W|``: no product of ``|W|`` with a matrix."""
    g = gamma(n)
    top = np.max(np.abs(a) + np.abs(b) * h, axis=1, keepdims=True)
    out: FloatArray = (g * (1.0 + gamma(n + 4))) * top * abs_weights.sum(axis=1) + g * bias_abs
    return out


def _back_substituted(
    margin: Margin,
    steps: list[Relaxed],
    rounded: list[FloatArray | float],
    a: FloatArray,
    b: FloatArray,
    h: FloatArray,
) -> FloatArray:
    """A bound on the margin's remainder over each cell by back-substitution: every unit's
    own remainder enters with the coefficient of its own path to the readout, signs and
    cancellations kept, where the forward forms push each through ``|W|``.

    The margin is ``fa + fb s + readout . e_L + E_out`` with ``e_k = lam_k (W_k e_{k-1} +
    E_k) + R_k`` (:class:`Relaxed`; ``E_k`` the rounding of layer k's pre-activation forms,
    ``E_1`` the first layer's ``r``), so its remainder is at most ``|E_out| + sum_k (|c_k|
    . own_k + |c_k lam_k| . |E_k|)`` with ``c_L = readout`` and ``c_{k-1} = (c_k lam_k) W_k``.
    Each ``c_k`` is computed in float: its error is carried as a bound ``err`` (gamma_n of
    ``max |c_k lam_k|`` and the inherited error, times the column sums of ``|W_k|``), and
    the sums of non-negative terms are rounded up by gamma of their count.  Zonotopes take
    this view of the same relaxations (Singh et al., "Fast and effective robustness
    certification", NeurIPS 2018).
    """
    hidden = margin.hidden
    readout_abs, offset_abs = margin.readout_abs[None, :], np.array([margin.offset_abs])
    total = _linear_rounding(readout_abs, offset_abs, a, b, h, len(margin.readout))[:, 0]
    c: FloatArray = margin.readout[None, :]
    err: FloatArray | float = 0.0
    terms = 1
    for k in range(len(hidden) - 1, -1, -1):
        lam, own = steps[k].lam, steps[k].own
        size = hidden[k].n_out
        bound = np.abs(c) + err
        total = total + np.sum(bound * own, axis=1)
        cl = c * lam
        # |c lam| with the error of c and the rounding of the product.
        total = total + np.sum((bound * lam) * (1.0 + 2.0 * EPS) * rounded[k], axis=1)
        terms += 2 * size
        if k == 0:
            break
        weights = hidden[k].weights
        spread = gamma(size) * np.max(np.abs(cl), axis=1) + np.max(
            np.abs(err * lam) + 2.0 * EPS * np.abs(cl), axis=1
        )
        err = spread[:, None] * hidden[k].abs_weights.sum(axis=0)[None, :]
        c = cl @ weights
    out: FloatArray = total * (1.0 + gamma(terms)) + TINY * terms
    return out


def _centre_linear(
    weights: FloatArray,
    abs_weights: FloatArray,
    bias: FloatArray,
    bias_abs: FloatArray,
    a: FloatArray,
    centre: Centre,
) -> Centre:
    """A linear layer's centre values (``a``, the forms' constants, where they are the
    centre values) and their rounding bound (:func:`_rounding`)."""
    x = a if centre.value is None else centre.value
    err = _rounding(abs_weights, bias_abs, x, centre.err, weights.shape[1])
    if centre.value is None:
        return Centre(None, err)
    return Centre(centre.value @ weights.T + bias, err)


def _rounding(
    abs_weights: FloatArray, bias_abs: FloatArray, a: FloatArray, e: FloatArray, n: int
) -> FloatArray:
    """The rounding bound of a linear layer's centre values ``W a + bias`` from that of ``a``
    (``e``): ``|W| e`` plus gamma_n of ``|W| |a| + |bias|``, as in :meth:`Margin.points`."""
    g = gamma(n)
    out: FloatArray = ((e + g * np.abs(a)) @ abs_weights.T) * (1.0 + gamma(n + 4)) + g * bias_abs
    return out
