"""Activation functions: values, derivatives and their exact ranges over intervals.

Every activation here is monotone non-decreasing, so its range over ``[lo, hi]`` is
``[act(lo), act(hi)]``.  ``softmax`` acts on a whole layer; the margin never needs it,
since a shared strictly increasing output map does not move the boundary.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "softplus", "identity", "softmax")
#: Activations that are bounded, so their units saturate as the input goes to +-infinity.
BOUNDED = frozenset({"sigmoid", "tanh"})
#: Activations whose networks are piecewise affine along a line.
PIECEWISE_AFFINE = frozenset({"relu", "leaky_relu", "identity"})
#: The largest slope of each bounded activation, at 0.
MAX_SLOPE = {"sigmoid": 0.25, "tanh": 1.0}


def sigmoid(u: FloatArray) -> FloatArray:
    """``1 / (1 + exp(-u))``, as scipy.special.expit computes it (bit for bit), without
    importing scipy.special: about 25 MiB in each process.  For ``u < 0``, an exponential
    off by a relative ``eta`` gives a relative error of at most ``eta + eps``; where it
    overflows (``u < -709``), 0."""
    e = np.array(u, dtype=np.float64)  # a copy to work in, also of a 0-d array
    np.negative(e, out=e)
    with np.errstate(over="ignore"):
        np.exp(e, out=e)
    e += 1.0
    np.divide(1.0, e, out=e)
    return e


def softplus(u: FloatArray) -> FloatArray:
    """Stable ``log(1 + exp(u))``."""
    return np.logaddexp(0.0, u)


def _sigmoid_slope(u: FloatArray) -> FloatArray:
    """sigmoid'(u) = e / (1 + e)^2 with e = exp(-|u|): one exponential that cannot overflow,
    accurate for both signs, unlike s * (1 - s), which cancels to 0 for u > 37 while
    sigmoid'(-u) is still about 1e-17."""
    e = np.exp(-np.abs(u))
    one_e = 1.0 + e
    return np.asarray(e / (one_e * one_e), dtype=np.float64)


def apply(name: str, u: FloatArray, alpha: float = 0.01) -> FloatArray:
    """Apply activation ``name`` elementwise (``softmax`` along the last axis)."""
    if name == "sigmoid":
        return sigmoid(u)
    if name == "tanh":
        return np.tanh(u)
    if name == "relu":
        return np.maximum(u, 0.0)
    if name == "leaky_relu":
        if alpha == 0.0:  # 0 * -inf would be NaN
            return np.maximum(u, 0.0)
        return np.where(u >= 0.0, u, alpha * u)
    if name == "softplus":
        return softplus(u)
    if name == "identity":
        return u
    if name == "softmax":
        shifted = u - np.max(u, axis=-1, keepdims=True)
        e = np.exp(shifted)
        return np.asarray(e / np.sum(e, axis=-1, keepdims=True), dtype=np.float64)
    raise ValueError(f"unknown activation {name!r}")


def derivative(name: str, u: FloatArray, alpha: float = 0.01) -> FloatArray:
    """Derivative of an elementwise activation (the right derivative at a ReLU kink)."""
    if name == "sigmoid":
        return _sigmoid_slope(u)
    if name == "tanh":  # 1 - tanh(u)^2 = 4 sigmoid'(2u), without the cancellation
        # (clipped: near 0 the rounding of e / (1 + e)^2 can give 1 + eps, above tanh' <= 1)
        return np.minimum(4.0 * _sigmoid_slope(2.0 * np.asarray(u, dtype=np.float64)), 1.0)
    if name == "relu":
        return (u >= 0.0).astype(np.float64)
    if name == "leaky_relu":
        return np.where(u >= 0.0, 1.0, alpha)
    if name == "softplus":
        return sigmoid(u)
    if name == "identity":
        return np.ones_like(u)
    raise ValueError(f"activation {name!r} has no elementwise derivative")


def slope_bound(name: str, u: FloatArray, radius: FloatArray, alpha: float = 0.01) -> FloatArray:
    """The largest slope of the activation on ``[u - radius, u + radius]``.

    Bounds how far an error of ``radius`` in the input moves the output: far more tightly
    than the global Lipschitz constant in a saturated tail, where values are tiny.
    """
    if name in BOUNDED:
        near = np.maximum(np.abs(u) - radius, 0.0)
        return derivative(name, near, alpha)
    if name == "softplus":
        return sigmoid(u + radius)
    if name in ("relu", "leaky_relu"):
        low_slope = 0.0 if name == "relu" else alpha
        return np.where(u + radius > 0.0, max(1.0, low_slope), low_slope)
    return np.ones_like(u)


def inverse(name: str, t: float, alpha: float = 0.01) -> float | None:
    """The pre-activation at which the activation equals ``t``; None where there is none."""
    if name == "sigmoid":
        return float(np.log(t) - np.log1p(-t)) if 0.0 < t < 1.0 else None
    if name == "tanh":
        return float(np.arctanh(t)) if -1.0 < t < 1.0 else None
    if name == "identity":
        return t
    if name == "leaky_relu":
        if t >= 0.0:
            return t
        return t / alpha if alpha > 0.0 else None
    if name == "softplus":
        return float(t + np.log(-np.expm1(-t))) if t > 0.0 else None
    if name == "relu":
        return t if t > 0.0 else None
    return None


def range_of(
    name: str, lo: FloatArray, hi: FloatArray, alpha: float = 0.01
) -> tuple[FloatArray, FloatArray]:
    """Exact range of a monotone activation over ``[lo, hi]`` (infinite ends allowed)."""
    return apply(name, lo, alpha), apply(name, hi, alpha)


#: :func:`value_and_slope` computes tanh as ``(1 - e) / (1 + e)``, ``e = exp(-2|u|)``, which
#: cancels near 0: its error is at most ``ACT_ERR |tanh u|`` plus this times ``tanh'(u)``.
SLOPE_ERR = 2.0 * float(np.finfo(np.float64).eps)
#: Exponentials are taken of at most ``-EXP_CAP``: numpy's exp is several times slower where
#: its result is subnormal or 0 (past 708), which is most ends of a wide cell in a saturated
#: net.  A value or slope computed at the cap is off by at most ``4 exp(-EXP_CAP)``, under the
#: absolute rounding allowance ``TINY`` of :mod:`netbound.rounding`; a slope there is an
#: upper bound only.
EXP_CAP = 700.0


def value_and_slope(name: str, u: FloatArray) -> tuple[FloatArray, FloatArray]:
    """``act(u)`` and ``act'(u)`` of sigmoid or tanh from one exponential, ``e = exp(-|u|)``
    (sigmoid) or ``exp(-2|u|)`` (tanh), where separate calls take two or three.

    sigmoid is ``1 / (1 + e)`` or ``e / (1 + e)`` and its slope ``e / (1 + e)^2``: no
    cancellation, relative error a few ulps.  tanh is ``(1 - e) / (1 + e)`` with the sign of
    ``u`` and its slope ``4 e / (1 + e)^2`` (at most 1).  With ``e`` off by a relative ``eta``
    the value moves by ``eta e 2 / (1 + e)^2 = eta tanh'(u) / 2``, and the three roundings add
    ``3u`` relative: so the value's error is at most ``ACT_ERR |tanh u| +`` :data:`SLOPE_ERR`
    ``tanh'(u)`` for an exponential good to ``eta <= 4 eps``.  The slope has no cancellation.
    Past :data:`EXP_CAP` both are the values at the cap.  (np.tanh would be one call more,
    and on processors without AVX-512 it costs two to three times np.exp.)
    """
    z = np.abs(u)
    if name == "tanh":
        e = np.exp(-2.0 * np.minimum(z, 0.5 * EXP_CAP))
        d = 1.0 + e
        v = np.copysign((1.0 - e) / d, u)
        return v, np.minimum(4.0 * e / (d * d), 1.0)
    if name == "sigmoid":
        e = np.exp(-np.minimum(z, EXP_CAP))
        d = 1.0 + e
        r = 1.0 / d
        return np.where(u >= 0.0, r, e * r), e * (r * r)
    raise ValueError(f"value_and_slope is for sigmoid and tanh, not {name!r}")


def range_and_slopes(
    name: str, lo: FloatArray, hi: FloatArray, alpha: float = 0.01
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """:func:`range_of` and :func:`derivative_range` together: for sigmoid and tanh from one
    exponential per end (:func:`value_and_slope`), the range's ends moved out by
    :data:`SLOPE_ERR` times their slopes, so that, as with :func:`range_of`, only a relative
    error of the values (and an absolute one below ``TINY``) is left to the caller."""
    if name not in BOUNDED:
        return (*range_of(name, lo, hi, alpha), *derivative_range(name, lo, hi, alpha))
    vlo, slo = value_and_slope(name, lo)
    vhi, shi = value_and_slope(name, hi)
    vlo = vlo - SLOPE_ERR * slo
    vhi = vhi + SLOPE_ERR * shi
    # The slopes are even and decrease in |u|: the largest at 0 if [lo, hi] holds it, else
    # at the end nearer 0; the smallest at the farther end, 0 if that is past the cap (where
    # the computed slope is only an upper bound).
    smax = np.where((lo < 0.0) & (hi > 0.0), MAX_SLOPE[name], np.maximum(slo, shi))
    cap = EXP_CAP if name == "sigmoid" else 0.5 * EXP_CAP
    smin = np.where(np.maximum(np.abs(lo), np.abs(hi)) < cap, np.minimum(slo, shi), 0.0)
    return vlo, vhi, smin, smax


def derivative_range(
    name: str, lo: FloatArray, hi: FloatArray, alpha: float = 0.01
) -> tuple[FloatArray, FloatArray]:
    """Range of the activation's derivative over ``[lo, hi]``.

    sigmoid' and tanh' are even and decrease in ``|u|``; softplus' is sigmoid, increasing;
    the ReLU family's derivative jumps at 0, so an interval holding 0 gets both slopes.
    """
    if name in BOUNDED:
        far = np.maximum(np.abs(lo), np.abs(hi))
        near = np.maximum(np.maximum(lo, -hi), 0.0)  # the distance from 0 to [lo, hi]
        d_far, d_near = derivative(name, far, alpha), derivative(name, near, alpha)
        # Rounding can put the computed slope an ulp above its value at 0 (sigmoid' of
        # 2.4e-12 comes out as 0.25 + 2^-54): keep the ends ordered.
        return np.minimum(d_far, d_near), d_near
    if name == "softplus":
        return sigmoid(lo), sigmoid(hi)
    if name in ("relu", "leaky_relu"):
        low_slope = 0.0 if name == "relu" else alpha
        dlo = np.where(lo >= 0.0, 1.0, low_slope)
        dhi = np.where(hi > 0.0, 1.0, low_slope)
        return np.minimum(dlo, dhi), np.maximum(dlo, dhi)
    if name == "identity":
        return np.ones_like(lo), np.ones_like(hi)
    raise ValueError(f"activation {name!r} has no elementwise derivative")
