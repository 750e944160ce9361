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
  (:func:`curvature_bound`), and ``|d| <= |b| h + r``.
* The slope in ``t`` is carried the same way: ``act'(p)`` lies in ``act'(a) +- M2 (|b| h + r)``,
  and its product with the slope form of ``p`` goes into a form again.

Where plain interval propagation loses a factor of about sqrt(width) per layer (each unit's
range is taken independently), these forms lose only the second-order remainder.
"""

from __future__ import annotations

import numpy as np

from netbound import activations
from netbound.margin import Margin
from netbound.network import FloatArray, Layer
from netbound.rounding import ACT_ERR, EPS, SAFETY, TINY, gamma

#: Rounding of the few operations that build each form's remainder.
UP = 1.0 + 8.0 * EPS


def curvature_bound(name: str, near: FloatArray, alpha: float = 0.01) -> FloatArray:
    """A bound on ``|act''(u)|`` over every ``u`` with ``|u| >= near``.

    sigmoid'' = sigmoid' (1 - 2 sigmoid), so ``|sigmoid''| <= sigmoid'``, which decreases in
    ``|u|``; tanh'' = -2 tanh tanh', so ``|tanh''| <= 2 tanh'``; softplus'' = sigmoid'.  The
    ReLU family and identity have no curvature off their kink (see :func:`_activate`).
    """
    if name == "sigmoid" or name == "softplus":
        return activations.derivative("sigmoid", near, alpha) * UP
    if name == "tanh":
        return 2.0 * activations.derivative("tanh", near, alpha) * UP
    return np.zeros_like(near)


def _curvature(name: str, u: FloatArray) -> FloatArray:
    """The second derivative: sigmoid'' = -sigmoid' tanh(u / 2), tanh'' = -2 tanh tanh',
    softplus'' = sigmoid'; 0 for the rest."""
    if name == "sigmoid":
        return -activations.derivative("sigmoid", u) * np.tanh(0.5 * u)
    if name == "tanh":
        return -2.0 * np.tanh(u) * activations.derivative("tanh", u)
    if name == "softplus":
        return activations.derivative("sigmoid", u)
    return np.zeros_like(u)


def _third_bound(name: str, near: FloatArray) -> FloatArray:
    """A bound on the third derivative for ``|u| >= near``: for sigmoid it is
    sigmoid' (1 - 6s + 6s^2), and ``|1 - 6s + 6s^2| <= 1`` on [0, 1]; for tanh it is
    -2 tanh' (1 - 3 tanh^2), at most ``4 tanh'``; for softplus, sigmoid''."""
    if name in ("sigmoid", "softplus"):
        return activations.derivative("sigmoid", near) * UP
    if name == "tanh":
        return 4.0 * activations.derivative("tanh", near) * UP
    return np.zeros_like(near)


def _activate(
    layer: Layer,
    a: FloatArray,
    b: FloatArray,
    r: FloatArray,
    da: FloatArray,
    db: FloatArray,
    dr: FloatArray,
    h: FloatArray,
    slope: bool = True,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """The forms of a layer's outputs and their slopes from those of its pre-activations
    (with ``slope=False`` the slope forms are passed through untouched)."""
    act, alpha = layer.activation, layer.alpha
    reach = (np.abs(b) * h + r) * UP  # |p - a| on the cell
    if act in ("relu", "leaky_relu"):
        low = 0.0 if act == "relu" else alpha
        up = a - reach >= 0.0
        down = a + reach <= 0.0
        # Across the kink: the whole range as a constant form, the slope as [low, 1].
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
    else:
        near = np.maximum(np.abs(a) - reach, 0.0)
        m2 = curvature_bound(act, near, alpha)
        k = activations.derivative(act, a, alpha)
        va = layer.activate(a)
        vb = k * b
        vr = (
            (k * r + 0.5 * m2 * reach * reach) * UP + ACT_ERR * (np.abs(va) + np.abs(vb) * h) + TINY
        )
        if not slope:
            return va, vb, vr, da, db, dr
        # The slope act'(p) = k + k2 (p - a) + R2 with |R2| <= M3 reach^2 / 2, as a form.
        k2 = _curvature(act, a)
        beta = k2 * b
        kappa = (np.abs(k2) * r + 0.5 * _third_bound(act, near) * reach * reach) * UP
        kappa = kappa + ACT_ERR * (np.abs(k) + np.abs(beta) * h)
        # Its product with the slope of p: (k + beta s +- kappa) (da + db s +- dr).
        ga = k * da
        gb = k * db + beta * da
        gr = (
            (
                np.abs(beta * db) * h * h
                + k * dr
                + np.abs(beta) * h * dr
                + kappa * (np.abs(da) + np.abs(db) * h + dr)
            )
            * UP
            + 2.0 * ACT_ERR * (np.abs(ga) + (np.abs(k * db) + np.abs(beta * da)) * h)
            + TINY
        )
        return va, vb, vr, ga, gb, gr
    return va, vb, vr, ga, gb, gr


def _linear(
    weights: FloatArray,
    abs_weights: FloatArray,
    bias: FloatArray,
    bias_abs: FloatArray,
    a: FloatArray,
    b: FloatArray,
    r: FloatArray,
    h: FloatArray,
    n: int,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    g = gamma(n)
    pa: FloatArray = a @ weights.T + bias
    pb: FloatArray = b @ weights.T
    pr: FloatArray = (r @ abs_weights.T) * UP + g * (
        np.abs(a) @ abs_weights.T + bias_abs + (np.abs(b) @ abs_weights.T) * h
    )
    return pa, pb, pr


def cells(
    margin: Margin,
    w: FloatArray,
    c: FloatArray,
    cabs: FloatArray,
    lo: FloatArray,
    hi: FloatArray,
    derivative: bool = True,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Enclosures ``[flo, fhi]`` of the margin and ``[dlo, dhi]`` of its slope on cells.

    ``w`` (units,), ``c`` and ``cabs`` (cells, units) describe each cell's line as in
    :meth:`Margin.line_affine`; a NaN bound (an overflow) excludes nothing.  With
    ``derivative=False`` only the margin is enclosed (the last two arrays are empty).
    """
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        m = 0.5 * lo + 0.5 * hi
        h = (np.maximum(m - lo, hi - m) * UP)[:, None]
        mc = m[:, None]
        if not margin.hidden:
            f = w[0] * m + c[:, 0]
            e = gamma(2) * (np.abs(w[0] * m) + cabs[:, 0] + np.abs(c[:, 0]))
            spread = np.abs(w[0]) * h[:, 0] * UP + e
            d = np.full_like(lo, w[0])
            return f - spread, f + spread, d, d
        a = w * mc + c
        b: FloatArray = np.broadcast_to(w, a.shape)
        r = gamma(2) * (np.abs(w) * np.abs(mc) + cabs + np.abs(c))
        da: FloatArray = np.broadcast_to(w, a.shape)
        zero = np.zeros_like(a)
        a, b, r, da, db, dr = _activate(margin.hidden[0], a, b, r, da, zero, zero, h, derivative)
        for layer in margin.hidden[1:]:
            aw = np.abs(layer.weights)
            babs = np.abs(layer.biases)
            a, b, r = _linear(layer.weights, aw, layer.biases, babs, a, b, r, h, layer.n_in)
            if derivative:
                nob = np.zeros_like(layer.biases)
                da, db, dr = _linear(layer.weights, aw, nob, nob, da, db, dr, h, layer.n_in)
            a, b, r, da, db, dr = _activate(layer, a, b, r, da, db, dr, h, derivative)
        n = len(margin.readout)
        row = margin.readout[None, :]
        rabs = margin.readout_abs[None, :]
        off = np.array([margin.offset])
        offabs = np.array([margin.offset_abs])
        fa, fb, fr = _linear(row, rabs, off, offabs, a, b, r, h, n)
        fs = (np.abs(fb) * h + fr)[:, 0] * UP
        if not derivative:
            empty = np.empty(0)
            return fa[:, 0] - fs, fa[:, 0] + fs, empty, empty
        zero1 = np.zeros(1)
        ga, gb, gr = _linear(row, rabs, zero1, zero1, da, db, dr, h, n)
        gs = (np.abs(gb) * h + gr)[:, 0] * UP
        return fa[:, 0] - fs, fa[:, 0] + fs, ga[:, 0] - gs, ga[:, 0] + gs
