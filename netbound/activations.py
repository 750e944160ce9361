"""Activation functions: values, derivatives and their exact ranges over intervals.

Every activation here is monotone non-decreasing, so its range over ``[lo, hi]`` is
``[act(lo), act(hi)]``.  ``softmax`` acts on a whole layer; the margin never needs it,
since a shared strictly increasing output map does not move the boundary.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.special import expit

FloatArray = NDArray[np.float64]

ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "softplus", "identity", "softmax")
#: Activations that are bounded, so their units saturate as the input goes to +-infinity.
BOUNDED = frozenset({"sigmoid", "tanh"})
#: Activations whose networks are piecewise affine along a line.
PIECEWISE_AFFINE = frozenset({"relu", "leaky_relu", "identity"})


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
        return np.asarray(expit(u), dtype=np.float64)
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
        return np.asarray(expit(u), dtype=np.float64)
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
        return np.asarray(expit(u + radius), dtype=np.float64)
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
        return np.asarray(expit(lo), dtype=np.float64), np.asarray(expit(hi), dtype=np.float64)
    if name in ("relu", "leaky_relu"):
        low_slope = 0.0 if name == "relu" else alpha
        dlo = np.where(lo >= 0.0, 1.0, low_slope)
        dhi = np.where(hi > 0.0, 1.0, low_slope)
        return np.minimum(dlo, dhi), np.maximum(dlo, dhi)
    if name == "identity":
        return np.ones_like(lo), np.ones_like(hi)
    raise ValueError(f"activation {name!r} has no elementwise derivative")
