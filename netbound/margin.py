"""The margin along a line, at points and over intervals, with rigorous error bounds.

The margin of a network between outputs a and b is ``f = pre_a - pre_b``, the difference of
the output layer's pre-activations; for a threshold on a single output it is
``pre - act^-1(threshold)``.  Either way it is a linear readout ``r . v + r0`` of the last
hidden layer ``v``, which is how it is evaluated here: folding the readout into one row keeps
the correlation between ``pre_a`` and ``pre_b`` that an interval evaluation of each would lose.

Along a line (every input fixed but one, ``t``), the first layer is affine in ``t``:
``u = w t + c``.  Three evaluations live here, each vectorized over many lines and points:

* :meth:`Margin.points` -- ``f``, ``df/dt`` and a bound on the floating-point error of ``f``;
* :meth:`Margin.cells` -- enclosures of ``f`` and ``df/dt`` over intervals ``[lo, hi]``;
* :meth:`Margin.rays` -- enclosures of ``f`` over the rays ``t >= R`` and ``t <= -R``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from netbound import activations
from netbound.errors import OptionError
from netbound.network import FloatArray, Layer, Network

EPS = float(np.finfo(np.float64).eps)
TINY = 1e-300
#: Safety factor on every rounding bound: the bounds below are first-order.
SAFETY = 4.0
#: Relative error bound of an activation (and of a slope product) in floating point.
ACT_ERR = SAFETY * EPS
IntArray = NDArray[np.intp]


def _gamma(n: int) -> float:
    """Relative error bound of an n-term dot product in floating point (Higham's gamma_n)."""
    return SAFETY * (n + 2) * EPS


def _propagate(layer: Layer, pre: FloatArray, err: FloatArray) -> FloatArray:
    """Bound on the output error of a layer's activation from an input error ``err``."""
    return activations.slope_bound(layer.activation, pre, err, layer.alpha) * err


def _imul(
    alo: FloatArray, ahi: FloatArray, blo: FloatArray, bhi: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Interval product ``[alo, ahi] * [blo, bhi]`` for a non-negative first factor.

    (Activation slopes are never negative: every activation here is monotone.)
    """
    return blo * np.where(blo < 0.0, ahi, alo), bhi * np.where(bhi > 0.0, ahi, alo)


def _mm(a: FloatArray, w: FloatArray) -> FloatArray:
    """``a @ w.T`` for a batch of rows."""
    out: FloatArray = a @ w.T
    return out


def _mv(a: FloatArray, r: FloatArray) -> FloatArray:
    """``a @ r`` for a batch of rows."""
    out: FloatArray = a @ r
    return out


def _idot(
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
    centre = 0.5 * _mm(total, weights)
    spread = _mm(spread_in, np.abs(weights) if abs_weights is None else abs_weights)
    return centre - spread, centre + spread


def _idot_unbounded(
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


@dataclass(frozen=True, eq=False)
class Margin:
    """The margin of a network as a function of its inputs.

    Build one with :func:`margin_between` or :func:`margin_threshold`.
    """

    network: Network
    hidden: tuple[Layer, ...]
    readout: FloatArray
    readout_abs: FloatArray
    offset: float
    offset_abs: float
    label: str
    #: The readout as signed (row, bias) parts of the output layer and the threshold level,
    #: kept unrounded for the exact limit of the margin in :meth:`rays`.
    parts: tuple[tuple[int, FloatArray, float], ...] = ()
    level: float = 0.0

    @property
    def piecewise_affine(self) -> bool:
        """True when every hidden unit is ReLU-family or identity."""
        return all(layer.activation in activations.PIECEWISE_AFFINE for layer in self.hidden)

    def first_layer(self) -> tuple[FloatArray, FloatArray]:
        """Weights and biases of the first layer that acts on the inputs (or of the readout)."""
        if self.hidden:
            return self.hidden[0].weights, self.hidden[0].biases
        return self.readout[None, :], np.array([self.offset])

    def value(self, x: ArrayLike) -> FloatArray:
        """The margin at inputs ``x`` of shape ``(..., n_inputs)``."""
        v = np.asarray(x, dtype=np.float64)
        with np.errstate(over="ignore", invalid="ignore"):
            for layer in self.hidden:
                v = layer.activate(_mm(v, layer.weights) + layer.biases)
            out: FloatArray = _mv(v, self.readout) + self.offset
        return out

    def gradient(self, x: ArrayLike) -> FloatArray:
        """Gradient of the margin with respect to every input, shape ``(..., n_inputs)``."""
        v = np.asarray(x, dtype=np.float64)
        n = v.shape[-1]
        jac: FloatArray = np.broadcast_to(np.eye(n), (*v.shape[:-1], n, n))
        with np.errstate(over="ignore", invalid="ignore"):
            for layer in self.hidden:
                pre = _mm(v, layer.weights) + layer.biases
                slope = activations.derivative(layer.activation, pre, layer.alpha)
                jac = slope[..., :, None] * np.einsum("mk,...kn->...mn", layer.weights, jac)
                v = layer.activate(pre)
            grad: FloatArray = np.einsum("...kn,k->...n", jac, self.readout)
        return grad

    # -- along lines ------------------------------------------------------------------------

    def line_affine(self, base: FloatArray, axis: int) -> tuple[FloatArray, FloatArray, FloatArray]:
        """First-layer affine form ``u = w t + c`` of the lines through ``base`` along ``axis``.

        Returns ``w`` (units,), ``c`` (lines, units) and ``cabs`` (lines, units), a bound on
        the magnitudes summed into ``c`` (for its rounding error).
        """
        weights, biases = self.first_layer()
        w = weights[:, axis].copy()
        rest = weights.copy()
        rest[:, axis] = 0.0
        c = _mm(base, rest) + biases
        cabs = _mm(np.abs(base), np.abs(rest)) + np.abs(biases)
        return w, c, cabs

    def constant_along(self, w: FloatArray, c: FloatArray) -> NDArray[np.bool_]:
        """Lines along which the margin provably does not depend on ``t`` at all.

        Whole-line interval propagation: a first-layer unit with ``w = 0`` has a single
        value, a ReLU whose input range is ``<= 0`` is constant 0, and the margin is constant
        exactly when its range over the whole line is a single point.
        """
        if not self.hidden:
            return np.full(c.shape[0], w[0] == 0.0)
        lo = np.where(w == 0.0, c, -np.inf)
        hi = np.where(w == 0.0, c, np.inf)
        with np.errstate(over="ignore", invalid="ignore"):
            for k, layer in enumerate(self.hidden):
                if k > 0:
                    lo, hi = _idot_unbounded(layer.weights, lo, hi)
                    lo, hi = lo + layer.biases, hi + layer.biases
                lo, hi = activations.range_of(layer.activation, lo, hi, layer.alpha)
            flo, fhi = _idot_unbounded(self.readout[None, :], lo, hi)
        same: NDArray[np.bool_] = flo[:, 0] == fhi[:, 0]
        return same

    def _first(
        self, w: FloatArray, c: FloatArray, cabs: FloatArray, t: FloatArray
    ) -> tuple[FloatArray, FloatArray]:
        u = w * t[:, None] + c
        err = _gamma(1) * (np.abs(w) * np.abs(t)[:, None] + cabs + np.abs(c))
        return u, err

    def points(
        self,
        w: FloatArray,
        c: FloatArray,
        cabs: FloatArray,
        t: FloatArray,
        derivative: bool = True,
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Margin, a bound on its rounding error, and its derivative at points of lines.

        ``c`` and ``cabs`` are per point (rows already gathered for each point's line).
        With ``derivative=False`` the third array is empty (the slopes are not computed).
        """
        with np.errstate(over="ignore", invalid="ignore", under="ignore"):
            if not self.hidden:
                f = w[0] * t + c[:, 0]
                err = _gamma(1) * (np.abs(w[0] * t) + cabs[:, 0])
                return f, err, np.full_like(t, w[0])
            u, err = self._first(w, c, cabs, t)
            layer = self.hidden[0]
            v = layer.activate(u)
            dv = activations.derivative(layer.activation, u, layer.alpha) * w if derivative else u
            err = _propagate(layer, u, err) + SAFETY * EPS * np.abs(v) + TINY
            for layer in self.hidden[1:]:
                p = _mm(v, layer.weights) + layer.biases
                aw = np.abs(layer.weights)
                perr = _mm(err, aw) + _gamma(layer.n_in) * (
                    _mm(np.abs(v), aw) + np.abs(layer.biases)
                )
                v = layer.activate(p)
                if derivative:
                    dp = _mm(dv, layer.weights)
                    dv = activations.derivative(layer.activation, p, layer.alpha) * dp
                err = _propagate(layer, p, perr) + SAFETY * EPS * np.abs(v) + TINY
            f = _mv(v, self.readout) + self.offset
            ferr = _mv(err, self.readout_abs) + _gamma(len(self.readout)) * (
                _mv(np.abs(v), self.readout_abs) + self.offset_abs
            )
            df = _mv(dv, self.readout) if derivative else np.empty(0)
        return f, ferr, df

    def cells(
        self,
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
            if not self.hidden:
                a = w[0] * lo + c[:, 0]
                b = w[0] * hi + c[:, 0]
                e = _gamma(1) * (np.abs(w[0]) * np.maximum(np.abs(lo), np.abs(hi)) + cabs[:, 0])
                d = np.full_like(lo, w[0])
                return np.minimum(a, b) - e, np.maximum(a, b) + e, d, d
            # First layer, exact up to rounding: u = w t + c at both ends, each end widened by
            # its own rounding bound (a huge cell keeps a tight end near 0).
            g = _gamma(2)
            aw = np.abs(w)
            ua = w * lo[:, None] + c
            ub = w * hi[:, None] + c
            gc = g * cabs
            ea = aw * (g * np.abs(lo))[:, None] + gc
            eb = aw * (g * np.abs(hi))[:, None] + gc
            plo = np.minimum(ua - ea, ub - eb)
            phi = np.maximum(ua + ea, ub + eb)
            dplo: FloatArray = np.broadcast_to(w, plo.shape)
            vlo, vhi, dvlo, dvhi = _activate_cells(self.hidden[0], plo, phi, dplo, dplo, derivative)
            for layer in self.hidden[1:]:
                # The activation's own rounding (ACT_ERR relative, TINY absolute) is covered here.
                g = _gamma(layer.n_in) + ACT_ERR
                bias_err = g * np.abs(layer.biases) + TINY * np.abs(layer.weights).sum(axis=1)
                plo, phi = _idot(layer.weights, vlo, vhi, gamma=g)
                plo = plo + (layer.biases - bias_err)
                phi = phi + (layer.biases + bias_err)
                dplo, dphi = _idot(layer.weights, dvlo, dvhi, gamma=g) if derivative else (plo, phi)
                if derivative:
                    tiny = TINY * np.abs(layer.weights).sum(axis=1)
                    dplo, dphi = dplo - tiny, dphi + tiny
                vlo, vhi, dvlo, dvhi = _activate_cells(layer, plo, phi, dplo, dphi, derivative)
            n = len(self.readout)
            g = _gamma(n) + ACT_ERR
            r = self.readout[None, :]
            flo, fhi = _idot(r, vlo, vhi, self.readout_abs[None, :], g)
            fe = g * self.offset_abs + TINY * float(self.readout_abs.sum())
            if derivative:
                dlo, dhi = _idot(r, dvlo, dvhi, self.readout_abs[None, :], g)
                de = TINY * float(self.readout_abs.sum())
                return (
                    flo[:, 0] + (self.offset - fe),
                    fhi[:, 0] + (self.offset + fe),
                    dlo[:, 0] - de,
                    dhi[:, 0] + de,
                )
        empty = np.empty(0)
        return flo[:, 0] + (self.offset - fe), fhi[:, 0] + (self.offset + fe), empty, empty

    def rays(
        self, w: FloatArray, c: FloatArray, cabs: FloatArray, radius: FloatArray
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
            e = _gamma(1) * (cabs + np.abs(c))
            qlo, qhi = c - e, c + e
            we = _gamma(1) * np.abs(w)
            blo = np.broadcast_to(w - we, c.shape).copy()
            bhi = np.broadcast_to(w + we, c.shape).copy()
            if not self.hidden:
                return self._ray_sign(qlo[:, 0], qhi[:, 0], blo[:, 0], bhi[:, 0], radius), blo[:, 0]
            ok = np.ones(n_lines, dtype=bool)
            for k, layer in enumerate(self.hidden):
                if k > 0:
                    aw = np.abs(layer.weights)
                    mag = np.maximum(np.abs(qlo), np.abs(qhi))
                    bmag = np.maximum(np.abs(blo), np.abs(bhi))
                    qlo, qhi = _idot(layer.weights, qlo, qhi)
                    e = _gamma(layer.n_in) * (_mm(mag, aw) + np.abs(layer.biases))
                    qlo, qhi = qlo + layer.biases - e, qhi + layer.biases + e
                    blo, bhi = _idot(layer.weights, blo, bhi)
                    be = _gamma(layer.n_in) * (_mm(bmag, aw))
                    blo, bhi = blo - be, bhi + be
                qlo, qhi, blo, bhi, good = _ray_activate(layer, qlo, qhi, blo, bhi, r)
                ok &= good
            n = len(self.readout)
            mag = np.maximum(np.abs(qlo), np.abs(qhi))
            bmag = np.maximum(np.abs(blo), np.abs(bhi))
            flo, fhi = _idot(self.readout[None, :], qlo, qhi)
            fe = _gamma(n) * (_mv(mag, self.readout_abs) + self.offset_abs)
            slo, shi = _idot(self.readout[None, :], blo, bhi)
            se = _gamma(n) * (_mv(bmag, self.readout_abs))
            sign = self._ray_sign(
                flo[:, 0] + self.offset - fe,
                fhi[:, 0] + self.offset + fe,
                slo[:, 0] - se,
                shi[:, 0] + se,
                radius,
            )
        sign = np.where(ok, sign, 0.0)
        if np.any(sign == 0.0) and self._saturating_single_layer():
            todo = sign == 0.0
            sign[todo] = self._asymptotic_sign(w, c[todo], radius[todo])
        return sign, slo[:, 0] - se

    def _saturating_single_layer(self) -> bool:
        return (
            len(self.hidden) == 1
            and self.hidden[0].activation in activations.BOUNDED
            and bool(self.parts)
        )

    def _asymptotic_sign(self, w: FloatArray, c: FloatArray, radius: FloatArray) -> FloatArray:
        """The sign on the ray ``t >= R`` from the exponential decay of each unit to its limit.

        For one hidden layer of saturating units the margin is ``L + sum_i A_i g_i(t)``, with
        ``L`` its limit and ``g_i = sigma(-(rho_i t + q_i))`` decaying like ``e^{-rho_i t}``
        (sigmoid: rho = |w|; tanh(u) = +-(1 - 2 sigma(-2|u|)): rho = 2|w|).  When ``L`` is
        exactly 0 -- a limit computed exactly from the weights as fractions -- the slowest
        decaying terms decide the sign, once they outweigh all faster ones at ``t = R``.
        """
        from fractions import Fraction

        layer = self.hidden[0]
        tanh = layer.activation == "tanh"
        m = 2.0 if tanh else 1.0
        k = 2.0 if tanh else 1.0
        out = np.zeros(c.shape[0])
        if np.any(w == 0.0):
            return out  # a constant unit's value is not exact: no exact limit
        lim = np.where(w > 0.0, 1.0, -1.0 if tanh else 0.0)
        exact = -Fraction(self.level)
        for sign, row, bias in self.parts:
            total = Fraction(bias) + sum(
                (Fraction(float(x)) * Fraction(float(y)) for x, y in zip(row, lim, strict=True)),
                Fraction(0),
            )
            exact += sign * total
        if exact != 0:
            return out  # a nonzero limit is proven by the interval test once R is large
        d = self.readout
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
            margin = 1e-9 * (np.abs(lead_lo) + np.abs(lead_hi)) + rest
            ok = np.all(z_r > 0.0, axis=1)
        out[ok & (lead_lo > margin)] = 1.0
        out[ok & (lead_hi < -margin)] = -1.0
        return out

    @staticmethod
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
    alo, ahi = activations.range_of(layer.activation, plo, phi, layer.alpha)
    if not derivative:
        return alo, ahi, alo, ahi
    slo, shi = activations.derivative_range(layer.activation, plo, phi, layer.alpha)
    dvlo, dvhi = _imul(slo, shi, dplo, dphi)
    return alo, ahi, dvlo, dvhi


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


def _readout_rows(net: Network) -> tuple[tuple[Layer, ...], FloatArray, FloatArray]:
    last = net.layers[-1]
    return net.layers[:-1], last.weights, last.biases


def margin_between(net: Network, a: str, b: str) -> Margin:
    """The margin ``pre_a - pre_b`` between outputs ``a`` and ``b`` (by name).

    Raises
    ------
    OptionError
        An output name is unknown, the two are the same, or the output activation is not
        strictly increasing (so ``z_a = z_b`` is not ``pre_a = pre_b``).
    """
    names = net.output_names
    for name in (a, b):
        if name not in names:
            raise OptionError(
                f"unknown output {name!r}; the network's outputs are {', '.join(names)}"
            )
    if a == b:
        raise OptionError(f"--between needs two different outputs, got {a} twice")
    if net.output_activation == "relu":
        raise OptionError(
            "the output activation is relu, which is not strictly increasing: z_a = z_b holds "
            "on whole regions where both are 0; netbound solves pre-activation boundaries only "
            "for sigmoid, tanh, softmax, softplus, leaky_relu and identity outputs"
        )
    hidden, weights, biases = _readout_rows(net)
    i, j = names.index(a), names.index(b)
    readout = weights[i] - weights[j]
    offset = float(biases[i] - biases[j])
    # A correctly rounded difference errs by at most eps of itself, so the rounding bounds
    # scale with |W_a - W_b| (exactly 0 where the two rows agree), not |W_a| + |W_b|.
    return Margin(
        network=net,
        hidden=hidden,
        readout=readout,
        readout_abs=np.abs(readout) * (1.0 + 2.0 * EPS),
        offset=offset,
        offset_abs=abs(offset) * (1.0 + 2.0 * EPS),
        label=f"{a} = {b}",
        parts=((1, weights[i], float(biases[i])), (-1, weights[j], float(biases[j]))),
    )


def default_threshold(net: Network) -> float:
    """The default threshold of a single-output network: 0.5 for sigmoid, else 0."""
    return 0.5 if net.output_activation == "sigmoid" else 0.0


def margin_threshold(net: Network, threshold: float | None = None, output: int = 0) -> Margin:
    """The margin ``pre - act^-1(threshold)`` of one output against a threshold.

    Raises
    ------
    OptionError
        The threshold is outside the output activation's range.
    """
    t = default_threshold(net) if threshold is None else float(threshold)
    last = net.layers[-1]
    if last.activation == "softmax":
        raise OptionError(
            "a softmax output of one unit is constant (1); use --between with two outputs"
        )
    level = activations.inverse(last.activation, t, last.alpha)
    if level is None or not np.isfinite(level):
        raise OptionError(
            f"threshold {t!r} is outside the range of the {last.activation} output; "
            + {
                "sigmoid": "give a value strictly between 0 and 1",
                "tanh": "give a value strictly between -1 and 1",
            }.get(last.activation, "give a value the output can take")
        )
    hidden, weights, biases = _readout_rows(net)
    name = net.output_names[output]
    return Margin(
        network=net,
        hidden=hidden,
        readout=weights[output].copy(),
        readout_abs=np.abs(weights[output]),
        offset=float(biases[output] - level),
        offset_abs=float(abs(biases[output]) + abs(level)),
        label=f"{name} = {t!r}",
        parts=((1, weights[output], float(biases[output])),),
        level=float(level),
    )
