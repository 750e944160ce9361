"""Proofs of the margin's sign on the rays ``t >= R`` and ``t <= -R`` of a line.

Each quantity is carried as ``[qlo, qhi] + [blo, bhi] t`` for ``t >= R``: linear layers keep
that form exactly, a saturating unit becomes a constant interval, a ReLU-family or softplus
unit whose input has a proven sign stays affine.  For one hidden layer whose margin tends to
exactly 0, the slowest exponential term decides instead (:func:`_asymptotic_sign`).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from netbound import activations
from netbound.margin import Margin
from netbound.network import FloatArray, Layer
from netbound.rounding import EPS, SAFETY, TINY, gamma, idot, mm, mv

#: Doublings of the radius tried before a ray is left unresolved.
MAX_RADIUS_DOUBLINGS = 80


def rays(
    margin: Margin, w: FloatArray, c: FloatArray, cabs: FloatArray, radius: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Where the margin's sign is proven on the ray ``t >= radius`` (per line).

    Each quantity is carried as ``[qlo, qhi] + [blo, bhi] * t`` for ``t >= radius > 0``:
    linear layers keep that form exactly; a saturating unit becomes a constant interval;
    a ReLU-family or softplus unit whose input has a proven sign keeps the affine form
    (softplus(q) = q + softplus(-q), the second term a small interval).  Returns the sign
    on the whole ray (+1, -1, or 0 when not proven) and the margin's limit slope bound.

    Call it with ``-w`` for the ray ``t <= -radius``.
    """
    n_lines = c.shape[0]
    r = radius[:, None]
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        e = gamma(1) * (cabs + np.abs(c))
        qlo, qhi = c - e, c + e
        we = gamma(1) * np.abs(w)
        blo = np.broadcast_to(w - we, c.shape).copy()
        bhi = np.broadcast_to(w + we, c.shape).copy()
        if not margin.hidden:
            return _ray_sign(qlo[:, 0], qhi[:, 0], blo[:, 0], bhi[:, 0], radius), blo[:, 0]
        ok = np.ones(n_lines, dtype=bool)
        for k, layer in enumerate(margin.hidden):
            if k > 0:
                aw = np.abs(layer.weights)
                mag = np.maximum(np.abs(qlo), np.abs(qhi))
                bmag = np.maximum(np.abs(blo), np.abs(bhi))
                qlo, qhi = idot(layer.weights, qlo, qhi)
                e = gamma(layer.n_in) * (mm(mag, aw) + np.abs(layer.biases))
                qlo, qhi = qlo + layer.biases - e, qhi + layer.biases + e
                blo, bhi = idot(layer.weights, blo, bhi)
                be = gamma(layer.n_in) * (mm(bmag, aw))
                blo, bhi = blo - be, bhi + be
            qlo, qhi, blo, bhi, good = _ray_activate(layer, qlo, qhi, blo, bhi, r)
            ok &= good
        n = len(margin.readout)
        mag = np.maximum(np.abs(qlo), np.abs(qhi))
        bmag = np.maximum(np.abs(blo), np.abs(bhi))
        flo, fhi = idot(margin.readout[None, :], qlo, qhi)
        fe = gamma(n) * (mv(mag, margin.readout_abs) + margin.offset_abs)
        slo, shi = idot(margin.readout[None, :], blo, bhi)
        se = gamma(n) * (mv(bmag, margin.readout_abs))
        sign = _ray_sign(
            flo[:, 0] + margin.offset - fe,
            fhi[:, 0] + margin.offset + fe,
            slo[:, 0] - se,
            shi[:, 0] + se,
            radius,
        )
    sign = np.where(ok, sign, 0.0)
    if np.any(sign == 0.0) and _saturating_single_layer(margin):
        todo = sign == 0.0
        sign[todo] = _asymptotic_sign(margin, w, c[todo], radius[todo])
    return sign, slo[:, 0] - se


def _saturating_single_layer(margin: Margin) -> bool:
    return (
        len(margin.hidden) == 1
        and margin.hidden[0].activation in activations.BOUNDED
        and bool(margin.parts)
    )


def _asymptotic_sign(
    margin: Margin, w: FloatArray, c: FloatArray, radius: FloatArray
) -> FloatArray:
    """The sign on the ray ``t >= R`` from the exponential decay of each unit to its limit.

    For one hidden layer of saturating units the margin is ``L + sum_i A_i g_i(t)``, with
    ``L`` its limit and ``g_i = sigma(-(rho_i t + q_i))`` decaying like ``e^{-rho_i t}``
    (sigmoid: rho = |w|; tanh(u) = +-(1 - 2 sigma(-2|u|)): rho = 2|w|).  When ``L`` is
    exactly 0 -- a limit computed exactly from the weights as fractions -- the slowest
    decaying terms decide the sign, once they outweigh all faster ones at ``t = R``.
    """
    from fractions import Fraction

    layer = margin.hidden[0]
    tanh = layer.activation == "tanh"
    m = 2.0 if tanh else 1.0
    k = 2.0 if tanh else 1.0
    out = np.zeros(c.shape[0])
    if np.any(w == 0.0):
        return out  # a constant unit's value is not exact: no exact limit
    lim = np.where(w > 0.0, 1.0, -1.0 if tanh else 0.0)
    exact = -Fraction(margin.level)
    for sign, row, bias in margin.parts:
        total = Fraction(bias) + sum(
            (Fraction(float(x)) * Fraction(float(y)) for x, y in zip(row, lim, strict=True)),
            Fraction(0),
        )
        exact += sign * total
    if exact != 0:
        return out  # a nonzero limit is proven by the interval test once R is large
    d = margin.readout
    live = d != 0.0
    if not np.any(live):
        return out
    s = np.sign(w)
    rho = m * np.abs(w)
    with np.errstate(over="ignore", under="ignore", divide="ignore"):
        # log |A_i| and the sign of A_i (the deviation from the limit is -sgn(w) k g_i).
        log_a = np.log(np.abs(d) * k)[None, :] - m * s[None, :] * c
        sign_a = -s * np.sign(d)
        z_r = m * (np.abs(w)[None, :] * radius[:, None] + s[None, :] * c)
        shrink = 1.0 / (1.0 + np.exp(-z_r))
        slow = np.min(np.where(live, rho, np.inf))
        lead = live & (rho == slow)
        scale = np.max(np.where(lead[None, :], log_a, -np.inf), axis=1, keepdims=True)
        a = np.exp(log_a - scale)
        g_lo = np.where(sign_a > 0.0, a * shrink, -a)
        g_hi = np.where(sign_a > 0.0, a, -a * shrink)
        lead_lo = np.sum(np.where(lead, g_lo, 0.0), axis=1)
        lead_hi = np.sum(np.where(lead, g_hi, 0.0), axis=1)
        rest = np.sum(
            np.where(live & ~lead, np.exp(log_a - scale - (rho - slow) * radius[:, None]), 0.0),
            axis=1,
        )
        # The faster terms are bounded by ``rest``; 1e-9 of the leading ones is a heuristic
        # allowance (far above) for the rounding of the exponentials computed here.
        slack = 1e-9 * (np.abs(lead_lo) + np.abs(lead_hi)) + rest
        ok = np.all(z_r > 0.0, axis=1)
    out[ok & (lead_lo > slack)] = 1.0
    out[ok & (lead_hi < -slack)] = -1.0
    return out


def _ray_sign(
    qlo: FloatArray, qhi: FloatArray, blo: FloatArray, bhi: FloatArray, radius: FloatArray
) -> FloatArray:
    # f(t) >= qlo + blo * t >= qlo + blo * R on t >= R when blo >= 0; likewise above.
    positive = (blo >= 0.0) & (qlo + blo * radius > 0.0)
    negative = (bhi <= 0.0) & (qhi + bhi * radius < 0.0)
    out = np.zeros_like(qlo)
    out[positive] = 1.0
    out[negative] = -1.0
    return np.where(np.isfinite(qlo) & np.isfinite(qhi), out, 0.0)


def _ray_activate(
    layer: Layer,
    qlo: FloatArray,
    qhi: FloatArray,
    blo: FloatArray,
    bhi: FloatArray,
    r: FloatArray,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, NDArray[np.bool_]]:
    """Apply an activation to ``[qlo, qhi] + [blo, bhi] t`` on ``t >= r``."""
    # Range of q over the ray.
    low = np.where(blo >= 0.0, qlo + blo * r, -np.inf)
    high = np.where(bhi <= 0.0, qhi + bhi * r, np.inf)
    act, alpha = layer.activation, layer.alpha
    zero = np.zeros_like(qlo)
    if act in activations.BOUNDED:
        vlo, vhi = activations.range_of(act, low, high, alpha)
        ve = SAFETY * EPS * np.maximum(np.abs(vlo), np.abs(vhi)) + TINY
        good = np.ones(qlo.shape[0], dtype=bool)
        return vlo - ve, vhi + ve, zero, zero.copy(), good
    if act == "identity":
        return qlo, qhi, blo, bhi, np.ones(qlo.shape[0], dtype=bool)
    nonneg = low >= 0.0
    nonpos = high <= 0.0
    constant = (blo == 0.0) & (bhi == 0.0)
    good = np.all(nonneg | nonpos | constant, axis=1)
    if act in ("relu", "leaky_relu"):
        slope = 0.0 if act == "relu" else alpha
        # On a constant interval the unit's range is exact; otherwise the sign is proven.
        clo, chi = activations.range_of(act, qlo, qhi, alpha)
        out_lo = np.where(nonneg, qlo, np.where(nonpos, slope * qlo, clo))
        out_hi = np.where(nonneg, qhi, np.where(nonpos, slope * qhi, chi))
        out_blo = np.where(nonneg, blo, np.where(nonpos, slope * blo, 0.0))
        out_bhi = np.where(nonneg, bhi, np.where(nonpos, slope * bhi, 0.0))
        return out_lo, out_hi, out_blo, out_bhi, good
    # softplus: q + softplus(-q) where q >= low > 0; softplus(q) in [0, softplus(high)] where
    # q <= high <= 0; a constant interval maps exactly.
    tail_pos = activations.softplus(-np.where(nonneg, low, 0.0))
    tail_neg = activations.softplus(np.where(nonpos, high, 0.0))
    clo, chi = activations.range_of(act, qlo, qhi, alpha)
    affine = nonneg & ~constant
    out_lo = np.where(constant, clo, np.where(affine, qlo, 0.0))
    out_hi = np.where(constant, chi, np.where(affine, qhi + tail_pos, tail_neg))
    out_blo = np.where(affine, blo, 0.0)
    out_bhi = np.where(affine, bhi, 0.0)
    e = SAFETY * EPS * (np.abs(out_lo) + np.abs(out_hi)) + TINY
    return out_lo - e, out_hi + e, out_blo, out_bhi, good


def proven_radii(
    margin: Margin, w: FloatArray, c: FloatArray, cabs: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, NDArray[np.int64]]:
    """Radii beyond which the margin's sign is proven, per line and side.

    ``w``, ``c`` and ``cabs`` give the lines' first layer as in :meth:`Margin.line_affine`.
    Returns the search edges ``-R_left``, ``R_right``, for each side the proven sign (nan
    where no radius up to the limit proved it: that ray stays unresolved), and the ray
    enclosures spent per line.
    """
    n = c.shape[0]
    spent = np.zeros(n, dtype=np.int64)
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
            spent[todo] += 1
            s, _ = rays(margin, direction * w, c[todo], cabs[todo], radius[todo])
            done = s != 0.0
            sign[todo[done]] = s[done]
            todo = todo[~done]
            radius[todo] *= 2.0
        radius[todo] /= 2.0
        edges.append(direction * radius)
        signs.append(sign)
    return edges[0], edges[1], signs[0], signs[1], spent
