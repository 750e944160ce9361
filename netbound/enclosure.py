"""Enclosures of the margin and its slope over cells of a line, by interval propagation.

The first layer is affine in ``t``, so its range over a cell is exact up to rounding; every
activation is monotone, so its range is that of its ends; each later layer is an interval
product (:func:`netbound.rounding.idot`), widened by a bound on its rounding.  Plain interval
propagation loses the correlation between units; :mod:`netbound.affine` keeps it.
"""

from __future__ import annotations

import numpy as np

from netbound import activations
from netbound.margin import Margin
from netbound.network import FloatArray, Layer
from netbound.rounding import ACT_ERR, TINY, gamma, idot, imul


def cells(
    margin: Margin,
    w: FloatArray,
    c: FloatArray,
    cabs: FloatArray,
    lo: FloatArray,
    hi: FloatArray,
    derivative: bool = True,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Enclosures ``[flo, fhi]`` of the margin and ``[dlo, dhi]`` of its derivative on cells.

    Plain interval propagation, widened at every layer by a bound on the rounding error,
    so that a root can never be excluded by floating-point error.  With
    ``derivative=False`` only the margin is enclosed (the last two arrays are empty).
    """
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        if not margin.hidden:
            a = w[0] * lo + c[:, 0]
            b = w[0] * hi + c[:, 0]
            e = gamma(1) * (np.abs(w[0]) * np.maximum(np.abs(lo), np.abs(hi)) + cabs[:, 0])
            d = np.full_like(lo, w[0])
            return np.minimum(a, b) - e, np.maximum(a, b) + e, d, d
        # First layer, exact up to rounding: u = w t + c at both ends, each end widened by
        # its own rounding bound (a huge cell keeps a tight end near 0).
        g = gamma(2)
        aw = np.abs(w)
        ua = w * lo[:, None] + c
        ub = w * hi[:, None] + c
        gc = g * cabs
        ea = aw * (g * np.abs(lo))[:, None] + gc
        eb = aw * (g * np.abs(hi))[:, None] + gc
        plo = np.minimum(ua - ea, ub - eb)
        phi = np.maximum(ua + ea, ub + eb)
        dplo: FloatArray = np.broadcast_to(w, plo.shape)
        vlo, vhi, dvlo, dvhi = _activate_cells(margin.hidden[0], plo, phi, dplo, dplo, derivative)
        for layer in margin.hidden[1:]:
            # The activation's own rounding (ACT_ERR relative, TINY absolute) is covered here.
            g = gamma(layer.n_in) + ACT_ERR
            bias_err = g * np.abs(layer.biases) + TINY * np.abs(layer.weights).sum(axis=1)
            plo, phi = idot(layer.weights, vlo, vhi, gamma=g)
            plo = plo + (layer.biases - bias_err)
            phi = phi + (layer.biases + bias_err)
            dplo, dphi = idot(layer.weights, dvlo, dvhi, gamma=g) if derivative else (plo, phi)
            if derivative:
                tiny = TINY * np.abs(layer.weights).sum(axis=1)
                dplo, dphi = dplo - tiny, dphi + tiny
            vlo, vhi, dvlo, dvhi = _activate_cells(layer, plo, phi, dplo, dphi, derivative)
        n = len(margin.readout)
        g = gamma(n) + ACT_ERR
        r = margin.readout[None, :]
        flo, fhi = idot(r, vlo, vhi, margin.readout_abs[None, :], g)
        fe = g * margin.offset_abs + TINY * float(margin.readout_abs.sum())
        if derivative:
            dlo, dhi = idot(r, dvlo, dvhi, margin.readout_abs[None, :], g)
            de = TINY * float(margin.readout_abs.sum())
            return (
                flo[:, 0] + (margin.offset - fe),
                fhi[:, 0] + (margin.offset + fe),
                dlo[:, 0] - de,
                dhi[:, 0] + de,
            )
    empty = np.empty(0)
    return flo[:, 0] + (margin.offset - fe), fhi[:, 0] + (margin.offset + fe), empty, empty


def _activate_cells(
    layer: Layer,
    plo: FloatArray,
    phi: FloatArray,
    dplo: FloatArray,
    dphi: FloatArray,
    derivative: bool,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Enclosures of a layer's outputs and their slopes from those of its pre-activations.

    Not widened for the activation's own rounding (relative ACT_ERR, absolute TINY): the
    next layer's interval product covers it.
    """
    act = layer.activation
    if derivative or act in activations.BOUNDED:
        # (Bounded units take one exponential per end for the range and the slopes: cheaper
        # than the range alone.)
        alo, ahi, slo, shi = activations.range_and_slopes(act, plo, phi, layer.alpha)
    else:
        alo, ahi = activations.range_of(act, plo, phi, layer.alpha)
    if not derivative:
        return alo, ahi, alo, ahi
    dvlo, dvhi = imul(slo, shi, dplo, dphi)
    return alo, ahi, dvlo, dvhi
