"""Linear relaxations of ReLU-family layers over cells of a line, in float64 or float32.

A cell of a line is tested by enclosing the margin over it: a layer's exact pre-activations
are carried as an affine form in the line's parameter plus a proven radius, each later layer
is relaxed to such a form (:meth:`Relaxer.forward`), and the relaxations are then substituted
backwards from the readout (:meth:`Relaxer.backward`).  A cell whose enclosure excludes 0 is
dropped by :mod:`netbound.piecewise`.

These tests decide only which cells are looked at further, never a root, so they may be
computed in a cheaper format as long as their bounds stay rigorous in it: in float32 the
products cost half as much and every array half the memory traffic (the forward pass took 0.55
and the backward one 0.7 of their float64 time on 2-256-256-256-2 ReLU; the whole solve about
0.9 on one thread), at the price of looser bounds (``2^-23`` instead of ``2^-52`` per
operation), which keep a few more cells near the root (78 tests per line instead of 71 there).
The analysis is the same for both formats, with that format's unit (Higham's bounds hold in
any binary format), plus the rounding of the network's weights, biases and readout to it (a
relative ``eps`` each, taken into the dot products' gamma) and of the forms handed in
(:meth:`Relaxer.convert`).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from numpy.typing import DTypeLike

from netbound.margin import Margin
from netbound.network import FloatArray
from netbound.rounding import EPS, SAFETY, TINY

#: The format of the cell tests (float64 only to compare).
TEST_DTYPE: DTypeLike = np.float32
#: Magnitudes of the network's parameters outside which the tests stay in float64.
FLOAT32_LOW = 1e-30
FLOAT32_HIGH = 1e30
#: A bound on the absolute error of an operation whose result underflows, per format: above
#: the smallest normal number, so that it holds even where subnormals are flushed to zero.
_TINY = {np.dtype(np.float64): TINY, np.dtype(np.float32): 1e-37}
#: The safety factor of the dot products' bound ``safety (n + 2) eps``, per format: float64's
#: is netbound's own (:data:`netbound.rounding.SAFETY`); in float32 it is 1, which is still
#: twice Higham's ``gamma_(n+2)`` (``eps`` is twice the unit roundoff, and ``n u`` is at most
#: 1e-3 on any layer that fits in memory), a rigorous bound in any order of summation and
#: with fused multiply-adds, so the terms of second order that SAFETY allows for stay within
#: it.  Four times tighter bounds here mean fewer cells kept on wide layers: the rounding
#: of ``c W`` in :meth:`Relaxer.backward` doubled the enclosures' width on 256-wide ones.
_SAFETY = {np.dtype(np.float64): SAFETY, np.dtype(np.float32): 1.0}


class Relaxation(NamedTuple):
    """One layer's relaxation on each row (of a batch of cells), from :meth:`Relaxer.forward`:
    every unit's exact pre-activation lies in ``mid +- spread`` on the cell, and its
    activation in ``lam z + [0, 2 half_rho]``."""

    lam: FloatArray
    half_rho: FloatArray
    mid: FloatArray
    spread: FloatArray


def _round_up(x: FloatArray, dtype: np.dtype[Any]) -> FloatArray:
    """Nonnegative ``x`` in ``dtype``, rounded up.

    The nearest ``y`` is at most half an ulp below ``x``, and ``fl(y (1 + eps))`` is at least
    ``y`` plus an ulp (``y eps`` is one to two ulps of ``y``); below the normal range the
    format's ``tiny`` covers the difference.  (Not ``nextafter``: it makes subnormal numbers
    of zeros, whose arithmetic is many times slower on x86.)
    """
    if x.dtype == dtype:
        return x
    with np.errstate(over="ignore"):
        y = x.astype(dtype)
    y *= 1.0 + float(np.finfo(dtype).eps)
    y += _TINY[dtype]
    return y


def _fits_float32(margin: Margin) -> bool:
    """Whether every nonzero weight, bias and readout coefficient is within
    [:data:`FLOAT32_LOW`, :data:`FLOAT32_HIGH`] in magnitude: there float32 holds each to a
    relative ``eps/2`` and their products far from overflow.  (Outside, the tests fall back to
    float64.)"""
    parts = [margin.readout, np.array([margin.offset])]
    for layer in margin.hidden:
        parts += [layer.weights.ravel(), layer.biases]
    values = np.abs(np.concatenate(parts))
    nonzero = values[values != 0.0]
    return bool(np.all((nonzero >= FLOAT32_LOW) & (nonzero <= FLOAT32_HIGH)))


class Relaxer:
    """The margin's hidden layers and readout in one format, with that format's bounds.

    ``eps`` is the format's machine epsilon (twice its unit roundoff), as :data:`EPS` is
    float64's.  In float32 the weights, biases and readout are rounded to it: ``W_d`` is within
    ``eps/2 |W|`` of ``W`` (and ``|W|`` is rounded up), so a product ``W_d x`` errs from
    ``W x`` by at most ``eps |W| |x|`` more, which ``werr`` adds to each product's gamma.
    """

    def __init__(self, margin: Margin, dtype: DTypeLike | None = None) -> None:
        d: np.dtype[Any] = np.dtype(TEST_DTYPE if dtype is None else dtype)
        if d == np.float32 and not _fits_float32(margin):
            d = np.dtype(np.float64)
        self.dtype = d
        self.hidden = margin.hidden
        self.eps = float(np.finfo(d).eps)
        self.tiny = _TINY[d]
        self.safety = _SAFETY[d]
        self.act_err = SAFETY * self.eps
        self.werr = 0.0 if d == np.float64 else self.eps
        self.wt = [np.ascontiguousarray(layer.weights.T, dtype=d) for layer in self.hidden]
        self.abs_wt = [
            np.ascontiguousarray(_round_up(layer.abs_weights.T, d)) for layer in self.hidden
        ]
        self.biases = [layer.biases.astype(d) for layer in self.hidden]
        # Each layer's error of adding its biases (their rounding to the format included), with
        # the products' underflow.
        self.bias_err = [
            _round_up(
                (self.gamma(layer.n_in) + self.act_err + self.werr) * layer.abs_biases
                + self.tiny * layer.abs_weights.sum(axis=1),
                d,
            )
            for layer in self.hidden
        ]
        # For :meth:`backward`: |b| (rounded up) and the operations whose underflow it
        # allows for.
        up = 1.0 + self.eps
        self.abs_biases = [_round_up(layer.abs_biases, d) for layer in self.hidden]
        self.ops = sum(layer.weights.size + 7 * layer.weights.shape[0] for layer in self.hidden)
        self.readout = margin.readout.astype(d)
        self.readout_abs = _round_up(margin.readout_abs, d)
        self.readout_sum = float(margin.readout_abs.sum()) * up
        self.offset = np.asarray(margin.offset, dtype=d)[()]
        self.offset_abs = abs(float(margin.offset))

    def round_up(self, x: FloatArray) -> FloatArray:
        """Nonnegative ``x`` in this format, rounded up."""
        return _round_up(x, self.dtype)

    def gamma(self, n: int) -> float:
        """Relative error bound of an n-term dot product in this format (as
        :func:`netbound.rounding.gamma` in float64)."""
        return self.safety * (n + 2) * self.eps

    def convert(
        self, mid: FloatArray, slope: FloatArray, rad: FloatArray, half: FloatArray
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """A form ``z in mid + slope s +- rad`` (``|s| <= half``) given in float64, in this
        format: ``mid`` and ``slope`` rounded to nearest (within ``eps/2`` of themselves,
        or an underflow's ``tiny``), that error added to ``rad``, and ``rad`` and ``half``
        rounded up."""
        d = self.dtype
        if d == np.float64:
            return mid, slope, rad, half
        with np.errstate(over="ignore", invalid="ignore"):
            m, s = mid.astype(d), slope.astype(d)
            wide = rad + self.eps * (np.abs(mid) + np.abs(slope) * half[:, None]) + self.tiny
            wide *= 1.0 + 4.0 * EPS
        return m, s, _round_up(wide, d), _round_up(half, d)

    def relaxation(self, lam: FloatArray, half_rho: FloatArray, bound: FloatArray) -> Relaxation:
        """A relaxation made in float64 (slopes ``lam``, remainders ``[0, 2 half_rho]``, the
        pre-activations within ``+-bound``), in this format: ``lam`` rounded to nearest (an
        error :meth:`backward` allows for), the others rounded up."""
        d = self.dtype
        return Relaxation(
            lam.astype(d), _round_up(half_rho, d), np.zeros(bound.shape, d), _round_up(bound, d)
        )

    def forward(
        self,
        j: int,
        mid: FloatArray,
        slope: FloatArray,
        rad: FloatArray,
        half: FloatArray,
        record: list[Relaxation] | None = None,
    ) -> tuple[FloatArray, FloatArray]:
        """Enclosure of the margin over each piece from layer j's pre-activations, given as
        ``z(t) in mid + slope (t - centre) +- rad`` for ``|t - centre| <= half``, all in this
        format.

        The form stays affine in t through the layers after j: each unit is relaxed by its
        range, so the correlation between units is kept instead of being lost to plain
        intervals.  In exact arithmetic an activation with the range ``[l, u]`` and any
        ``lam`` in ``[low, 1]`` satisfies ``act(z) - lam z in [0, rho]``,
        ``rho = max((low - lam) l, (1 - lam) u)`` (a convex function that is 0 at 0 is largest
        at an end), hence ``act(z) in (lam mid + rho/2) + lam slope s +- (lam rad + rho/2)``.
        Rounding: ``M_r = fl(lam mid + rho/2)``, ``B_r = fl(lam slope)`` and the radius err
        by at most ``2 eps (|M_r| + |B_r| half + R_r)`` (a product and a sum each); the next
        layer's ``W M_r + b`` and ``W B_r`` err by at most ``g (|W| |M_r| + |b|)`` and
        ``g |W| |B_r|`` with ``g`` the dot product's gamma (plus ``werr``).  Both are folded
        into one nonnegative vector ``X`` that goes through ``|W|`` with the radius:
        ``R' = |W| X (1 + 2g) + g |b|`` (the computed nonnegative product is at least
        ``(1 - g)`` times the exact one).

        With ``record``, each layer's relaxation is appended to it, for :meth:`backward`.
        """
        eps, tiny = self.eps, self.tiny
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            for idx in range(j, len(self.hidden)):
                layer = self.hidden[idx]
                hcol = half[:, None]
                # m_r and b_r side by side, for one product with the next layer's weights.
                both = np.empty((2, *mid.shape), dtype=mid.dtype)
                m_r, b_r = both[0], both[1]
                identity = layer.activation == "identity"
                if not identity or record is not None:
                    # The range of each unit: mid +- spread.
                    spread = np.abs(slope) * hcol
                    spread += rad
                    spread *= 1.0 + 4.0 * eps
                    spread += 2.0 * eps * np.abs(mid)
                if identity:
                    m_r[...], b_r[...], r_r = mid, slope, rad
                    if record is not None:
                        record.append(
                            Relaxation(np.ones_like(mid), np.zeros_like(mid), mid, spread)
                        )
                else:
                    low = 0.0 if layer.activation == "relu" else layer.alpha
                    # Every unit at once, no branch: a difference of floats rounds to 0 only
                    # when they are equal, so lu > 0 (hu < 0) exactly when mid > spread
                    # (mid < -spread); there hu / (hu - lu) is >= 1 (<= 0), so lam is 1
                    # (low) and rho 0.  In between, lam is any slope in [low, 1] and rho is
                    # the rounded-up remainder for it.  A NaN range (spread 0 at mid 0, or
                    # infinite) gives NaN, which decides nothing.
                    lu = mid - spread
                    hu = mid + spread
                    lam = hu - lu
                    np.divide(hu, lam, out=lam)
                    np.clip(lam, 0.0, 1.0, out=lam)
                    if low != 0.0:
                        lam *= 1.0 - low
                        lam += low
                    lu *= low - lam
                    hu *= 1.0 - lam
                    half_rho = np.maximum(lu, hu, out=lu)
                    half_rho *= 0.5 * (1.0 + 4.0 * eps)
                    np.multiply(lam, mid, out=m_r)
                    m_r += half_rho
                    np.multiply(lam, slope, out=b_r)
                    r_r = lam * rad
                    r_r += half_rho
                    if record is not None:
                        record.append(Relaxation(lam, half_rho, mid, spread))
                x = np.abs(b_r)
                x *= hcol
                x += np.abs(m_r)
                if not identity:
                    # The rounding of m_r, b_r and r_r.
                    r_r += 2.0 * eps * (x + r_r)
                if idx + 1 == len(self.hidden):
                    break
                g = self.gamma(self.hidden[idx + 1].n_in) + self.act_err + self.werr
                x *= g
                x += r_r
                x += tiny
                x *= 1.0 + 4.0 * eps
                q = both.reshape(-1, both.shape[2]) @ self.wt[idx + 1]
                mid, slope = q[: mid.shape[0]], q[mid.shape[0] :]
                mid += self.biases[idx + 1]
                rad = x @ self.abs_wt[idx + 1]
                rad *= 1.0 + 2.0 * g
                rad += self.bias_err[idx + 1]
            g = self.gamma(len(self.readout)) + self.act_err + self.werr
            x *= g
            x += r_r
            x += tiny
            x *= 1.0 + 4.0 * eps
            f_mid = m_r @ self.readout + self.offset
            f_slope = b_r @ self.readout
            f_rad = (x @ self.readout_abs) * (1.0 + 2.0 * g)
            f_rad += g * self.offset_abs + tiny * self.readout_sum
            f_rad += np.abs(f_slope) * half
            f_rad *= 1.0 + 4.0 * eps
            f_rad += 2.0 * eps * np.abs(f_mid)
        return f_mid - f_rad, f_mid + f_rad

    def activation_bound(self, rl: Relaxation, zabs: FloatArray) -> FloatArray:
        """A bound on ``|act(z)|`` of each unit relaxed by ``rl``, given ``zabs >= |z|``:
        ``|z|`` itself (no activation here grows a magnitude), and ``lam |z| + 2 half_rho``
        by the relaxation (``lam >= 0``, off by ``5 eps`` at most, see :meth:`backward`),
        which is 0 on the units proven inactive; rounded up (``fmin``: ``|z|`` where ``lam``
        is NaN).  The second took the 256x3 ReLU net's evaluations per slice from 67 to 64.
        """
        hab = rl.lam * zabs
        hab += 2.0 * rl.half_rho
        hab *= 1.0 + 8.0 * self.eps
        return np.fmin(hab, zabs, out=hab)

    def backward(
        self,
        j: int,
        mid: FloatArray,
        slope: FloatArray,
        rad: FloatArray,
        half: FloatArray,
        record: list[Relaxation],
    ) -> tuple[FloatArray, FloatArray]:
        """Enclosure of the margin over each cell, by substituting the relaxations backwards.

        Layer j's exact pre-activations are ``z_j in mid + slope s +- rad`` for
        ``|s| <= half`` (as for :meth:`forward`, in this format), and ``record`` holds each
        layer's relaxation from that method: ``act(z_i) in lam_i z_i + [0, 2 half_rho_i]``.
        Starting from the readout ``r``, the coefficients ``g`` of layer i's activations
        give those of its pre-activations, ``c = g lam_i``, and those of layer i-1's
        activations, ``c W_i``; each remainder enters the margin with the sign of its own
        coefficient (``g half_rho_i`` is a centre, ``|g| half_rho_i`` a radius), where the
        forward form adds every remainder through ``|W|``.  Same relaxations, so never wider
        than the forward form in exact arithmetic, and often much narrower on deep nets.

        Rounding: the readout and offset (rounded differences, then rounded to this format)
        are within ``eps`` of the exact ones; ``fl(g lam)`` errs by ``eps/2 |c|`` per unit, and
        ``lam`` may be ``4 eps`` (float64's, for layer j's relaxation made there) plus
        ``eps/2`` (its rounding to this format) off the slope its remainder was derived for,
        so ``5 eps |c|`` in all, times ``|z_i|``; the n-term products ``c W_i`` and
        ``c . b_i`` by ``gamma_n`` (plus ``werr``) times ``|c| (|W_i| |h| + |b_i|)``, with
        ``|h|`` bounded by :meth:`activation_bound`, ``c . mid`` and
        ``c . slope`` likewise; the sums of remainders by ``gamma_n`` of theirs.  That error
        is doubled (for its own rounding), and underflow adds ``tiny`` per operation.
        """
        eps = self.eps
        n = mid.shape[0]
        d = self.dtype
        with np.errstate(invalid="ignore", over="ignore"):
            # |z_i| of every unit of every layer.
            zabs = [np.abs(rl.mid) + rl.spread for rl in record]
            const = np.full(n, self.offset, dtype=d)
            const_mag = np.full(n, self.offset_abs, dtype=d)
            cen = np.zeros(n, dtype=d)
            noise = np.zeros(n, dtype=d)
            err = eps * (self.offset_abs + zabs[-1] @ self.readout_abs)
            g: FloatArray = np.broadcast_to(self.readout, (n, self.readout.size))
            for i in range(len(self.hidden) - 1, j - 1, -1):
                rl = record[i - j]
                cen += np.einsum("ij,ij->i", g, rl.half_rho)
                part = np.einsum("ij,ij->i", np.abs(g), rl.half_rho)
                noise += part
                c = g * rl.lam
                ac = np.abs(c)
                gam = self.gamma(c.shape[1]) + self.werr
                err += 5.0 * eps * np.einsum("ij,ij->i", ac, zabs[i - j]) + 2.0 * gam * part
                if i == j:
                    break
                term = c @ self.biases[i]
                const += term
                const_mag += np.abs(term)
                # The products with W_i and b_i: gamma |c| (|W_i| |h| + |b_i|), one product
                # per cell (the norms of c, W_i and h alone overstate it tenfold in float32
                # on 256-wide layers).
                mag = self.activation_bound(record[i - j - 1], zabs[i - j - 1]) @ self.abs_wt[i]
                mag += self.abs_biases[i]
                err += gam * (1.0 + 2.0 * gam) * np.einsum("ij,ij->i", ac, mag)
                g = c @ self.wt[i].T
            a = np.einsum("ij,ij->i", c, mid)
            b = np.einsum("ij,ij->i", c, slope)
            noise += np.einsum("ij,ij->i", ac, rad)
            err += gam * (
                np.einsum("ij,ij->i", ac, np.abs(mid))
                + np.einsum("ij,ij->i", ac, np.abs(slope)) * half
                + 2.0 * noise
            )
            f_mid = a + const + cen
            # The sums over the layers: |cen|'s terms are within noise's.
            spread = (np.abs(b) * half + noise + 2.0 * err) * (1.0 + 4.0 * eps)
            spread += self.gamma(len(self.hidden) + 4) * (np.abs(a) + const_mag + noise)
            zmax = np.max([np.max(z, axis=1) for z in zabs], axis=0)
            spread += self.tiny * self.ops * (1.0 + zmax)
            spread[~np.isfinite(spread)] = np.nan
            spread += 2.0 * eps * np.abs(f_mid)
        return f_mid - spread, f_mid + spread
