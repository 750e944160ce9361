"""An independent, slow reference root finder for netbound's margin (a test helper, not a test).

Nothing here imports netbound: the network is given as plain layer lists
``[(W out x in, b, activation), ...]`` (or ``(W, b, activation, alpha)`` for ``leaky_relu``).

The margin along the line (x1 varies, the other inputs fixed) is
``f(x1) = pre_a - pre_b`` (two outputs) or ``f(x1) = pre - act^-1(threshold)`` (one output),
evaluated in mpmath at ``dps`` digits (default 40) on the exact binary values of the weights.

How every root on the whole real line is found:

* **Tails.**  For x1 -> +-inf every unit's pre-activation is written as ``a*x1 + b + r`` with
  ``|r| <= rho`` (exact for the first layer); a saturating unit (sigmoid, tanh) with ``a != 0``
  contributes its limit once ``|pre| >= T`` (remainder ``e^-T``), a ReLU-family unit is affine
  once its sign is fixed.  This gives a radius ``R`` beyond which the margin is
  ``A*x1 + B + r`` with a known sign: no root lies outside ``[-R, R]``.
* **Piecewise-affine nets** (ReLU / leaky ReLU / identity hidden layers): the kinks are found
  layer by layer exactly (the pre-activations are affine between the kinks found so far), and
  the margin is affine between consecutive kinks, so each root is a linear interpolation.
* **Other nets**: a float64 scan (own vectorized forward pass with derivative and a forward
  rounding-error estimate) on a grid that is dense in every first-layer unit's transition
  region, refined adaptively wherever the margin is not locally close to linear relative to its
  distance from zero; then every sign change is bracketed and polished in mpmath, and every
  region where the float sign is uncertain or the margin dips toward zero is analysed in
  mpmath (extrema located as roots of f', their values decide: two roots, a double root, or
  none).

Roots closer together than float64 can resolve (the margin between them is below ~64 times
the float rounding estimate) are reported as *clusters*; a crossing whose float conditioning
(rounding estimate / |f'|) exceeds 2.5e-10 relative (a quarter of the 1e-9 tolerance) is
marked *fragile*.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import mpmath
import numpy as np

EPS = float(np.finfo(np.float64).eps)
SMOOTH = frozenset({"sigmoid", "tanh", "softplus"})
PIECEWISE = frozenset({"relu", "leaky_relu", "identity"})
#: Float samples per unit of first-layer pre-activation in the initial scan.
SAMPLES_PER_UNIT = 8
#: First-layer pre-activation range |u| <= SCAN_T sampled densely per unit.
SCAN_T = 40.0
MAX_REFINE = 90
MAX_REGION_POINTS = 300

LayerSpec = tuple[Any, ...]


# -- the problem ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    """A margin along a line: layers (float64 arrays), fixed inputs 2..n, the readout."""

    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]
    acts: tuple[str, ...]
    alphas: tuple[float, ...]
    fixed: tuple[float, ...]
    ia: int
    ib: int | None
    threshold: float | None

    @property
    def hidden(self) -> range:
        return range(len(self.weights) - 1)


def make_spec(
    layers: Sequence[LayerSpec],
    x2: float,
    at: Sequence[float] = (),
    between: tuple[int, int] | None = None,
    threshold: float | None = None,
) -> Spec:
    """Describe the margin of ``layers`` along the line ``x2 = const`` (inputs 3.. = ``at``).

    ``between`` are output indices (default (0, 1)); single-output nets use ``threshold``
    (default 0.5 for a sigmoid output, 0 otherwise).
    """
    ws, bs, acts, alphas = [], [], [], []
    for layer in layers:
        w, b, act = layer[0], layer[1], layer[2]
        alpha = float(layer[3]) if len(layer) > 3 else 0.01
        ws.append(np.array(w, dtype=np.float64).reshape(len(w), -1))
        bs.append(np.array(b, dtype=np.float64))
        acts.append(str(act))
        alphas.append(alpha)
    fixed = (float(x2), *(float(v) for v in at))
    if ws[0].shape[1] != 1 + len(fixed):
        raise ValueError(f"the net has {ws[0].shape[1]} inputs, got {1 + len(fixed)} values")
    n_out = ws[-1].shape[0]
    if n_out == 1:
        if threshold is None:
            threshold = 0.5 if acts[-1] == "sigmoid" else 0.0
        return Spec(tuple(ws), tuple(bs), tuple(acts), tuple(alphas), fixed, 0, None, threshold)
    ia, ib = between if between is not None else (0, 1)
    return Spec(tuple(ws), tuple(bs), tuple(acts), tuple(alphas), fixed, ia, ib, None)


def _mp_inverse(act: str, t: float, alpha: float) -> mpmath.mpf:
    t_mp = mpmath.mpf(t)
    if act == "sigmoid":
        return mpmath.log(t_mp / (1 - t_mp))
    if act == "tanh":
        return mpmath.atanh(t_mp)
    if act == "softplus":
        return mpmath.log(mpmath.expm1(t_mp))
    if act == "leaky_relu" and t < 0:
        return t_mp / alpha
    return t_mp


# -- mpmath evaluation ------------------------------------------------------------------------


def _mp_act(act: str, p: mpmath.mpf, alpha: float) -> tuple[mpmath.mpf, mpmath.mpf]:
    """Value and derivative of an activation, accurate in both tails."""
    if act == "sigmoid":
        if p >= 0:
            e = mpmath.exp(-p)
            return 1 / (1 + e), e / (1 + e) ** 2
        e = mpmath.exp(p)
        return e / (1 + e), e / (1 + e) ** 2
    if act == "tanh":
        return mpmath.tanh(p), mpmath.sech(p) ** 2
    if act == "relu":
        return (p, mpmath.mpf(1)) if p > 0 else (mpmath.mpf(0), mpmath.mpf(0))
    if act == "leaky_relu":
        return (p, mpmath.mpf(1)) if p > 0 else (alpha * p, mpmath.mpf(alpha))
    if act == "softplus":
        s, _ = _mp_act("sigmoid", p, alpha)
        return (p + mpmath.log1p(mpmath.exp(-p)) if p > 0 else mpmath.log1p(mpmath.exp(p))), s
    if act == "identity":
        return p, mpmath.mpf(1)
    raise ValueError(f"unknown activation {act!r}")


class MpMargin:
    """The margin of a :class:`Spec` in mpmath, with its derivative in x1."""

    def __init__(self, spec: Spec, dps: int = 40) -> None:
        self.spec = spec
        self.dps = dps
        with mpmath.workdps(dps):
            self.w = [[[mpmath.mpf(float(v)) for v in row] for row in w] for w in spec.weights]
            self.b = [[mpmath.mpf(float(v)) for v in b] for b in spec.biases]
            self.fixed = [mpmath.mpf(v) for v in spec.fixed]
            last_w, last_b = self.w[-1], self.b[-1]
            if spec.ib is None:
                assert spec.threshold is not None
                self.offset = _mp_inverse(spec.acts[-1], spec.threshold, spec.alphas[-1])
                self.row = list(last_w[spec.ia])
                self.bias = last_b[spec.ia] - self.offset
            else:
                self.offset = mpmath.mpf(0)
                self.row = [
                    wa - wb for wa, wb in zip(last_w[spec.ia], last_w[spec.ib], strict=True)
                ]
                self.bias = last_b[spec.ia] - last_b[spec.ib]
        self.calls = 0

    def pre_activations(self, x: Any) -> list[list[mpmath.mpf]]:
        """Pre-activations of every layer at x1 = x."""
        self.calls += 1
        with mpmath.workdps(self.dps):
            v = [mpmath.mpf(x), *self.fixed]
            out = []
            n = len(self.w)
            for k in range(n):
                pre = [
                    mpmath.fsum(wv * vv for wv, vv in zip(row, v, strict=True)) + bj
                    for row, bj in zip(self.w[k], self.b[k], strict=True)
                ]
                out.append(pre)
                if k < n - 1:
                    act, alpha = self.spec.acts[k], self.spec.alphas[k]
                    v = [_mp_act(act, p, alpha)[0] for p in pre]
            return out

    def __call__(self, x: Any) -> mpmath.mpf:
        return self.value_and_slope(x)[0]

    def value_and_slope(self, x: Any) -> tuple[mpmath.mpf, mpmath.mpf]:
        f, df, _ = self.evaluate(x)
        return f, df

    def evaluate(self, x: Any) -> tuple[mpmath.mpf, mpmath.mpf, mpmath.mpf]:
        """Margin, its slope, and the scale of its terms (sum of |readout terms|)."""
        self.calls += 1
        with mpmath.workdps(self.dps):
            v = [mpmath.mpf(x), *self.fixed]
            dv = [mpmath.mpf(1)] + [mpmath.mpf(0)] * len(self.fixed)
            for k in range(len(self.w) - 1):
                act, alpha = self.spec.acts[k], self.spec.alphas[k]
                nv, ndv = [], []
                for row, bj in zip(self.w[k], self.b[k], strict=True):
                    p = mpmath.fsum(wv * vv for wv, vv in zip(row, v, strict=True)) + bj
                    dp = mpmath.fsum(wv * dd for wv, dd in zip(row, dv, strict=True))
                    a, da = _mp_act(act, p, alpha)
                    nv.append(a)
                    ndv.append(da * dp)
                v, dv = nv, ndv
            # the margin is the readout row r . v + r0 (the difference of the two output rows,
            # exact in mp): identical rows cancel exactly instead of to rounding
            terms = [r * vv for r, vv in zip(self.row, v, strict=True)]
            f = mpmath.fsum(terms) + self.bias
            df = mpmath.fsum(r * dd for r, dd in zip(self.row, dv, strict=True))
            scale = abs(self.bias) + mpmath.fsum(abs(t) for t in terms)
            return f, df, scale

    def is_zero(self, f: Any, scale: Any) -> bool:
        """|f| is below the working precision relative to the size of its terms."""
        return bool(abs(f) <= self.rel * scale)

    def zero_at(self, x: Any) -> bool:
        f, _, scale = self.evaluate(x)
        return self.is_zero(f, scale)

    def slope(self, x: Any) -> mpmath.mpf:
        return self.value_and_slope(x)[1]

    @property
    def rel(self) -> mpmath.mpf:
        """Relative size below which a value is zero at the working precision."""
        return mpmath.mpf(10) ** (-(self.dps - 10))


# -- float64 evaluation with a rounding-error estimate -----------------------------------------


def _np_sigmoid(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    e = np.exp(-np.abs(p))
    s = np.where(p >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    return s, e / (1.0 + e) ** 2


def _np_act(act: str, p: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    if act == "sigmoid":
        return _np_sigmoid(p)
    if act == "tanh":
        t = np.tanh(p)
        c = np.cosh(np.minimum(np.abs(p), 350.0))
        return t, 1.0 / (c * c)
    if act == "relu":
        return np.maximum(p, 0.0), (p > 0).astype(np.float64)
    if act == "leaky_relu":
        return np.where(p > 0, p, alpha * p), np.where(p > 0, 1.0, alpha)
    if act == "softplus":
        return np.logaddexp(0.0, p), _np_sigmoid(p)[0]
    if act == "identity":
        return p, np.ones_like(p)
    raise ValueError(act)


def _np_lipschitz(act: str, p: np.ndarray, err: np.ndarray, alpha: float) -> np.ndarray:
    """Largest |act'| over [p - err, p + err]."""
    if act in ("sigmoid", "tanh"):
        near = np.maximum(np.abs(p) - err, 0.0)
        return _np_act(act, near, alpha)[1]
    if act == "softplus":
        return _np_sigmoid(p + err)[0]
    return np.ones_like(p) if act != "leaky_relu" else np.full_like(p, max(1.0, alpha))


def float_margin(spec: Spec, xs: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Float64 margin, its derivative and an estimate of its rounding error at points ``xs``."""
    x = np.atleast_1d(np.asarray(xs, dtype=np.float64))
    n = x.shape[0]
    v = np.empty((n, 1 + len(spec.fixed)))
    v[:, 0] = x
    v[:, 1:] = spec.fixed
    dv = np.zeros_like(v)
    dv[:, 0] = 1.0
    err = np.zeros_like(v)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        for w, b, act, alpha in zip(
            spec.weights[:-1], spec.biases[:-1], spec.acts[:-1], spec.alphas[:-1], strict=True
        ):
            aw = np.abs(w)
            pre = v @ w.T + b
            dpre = dv @ w.T
            gamma = (w.shape[1] + 2) * EPS
            perr = err @ aw.T + gamma * (np.abs(v) @ aw.T + np.abs(b))
            val, der = _np_act(act, pre, alpha)
            lip = _np_lipschitz(act, pre, perr, alpha)
            v, dv = val, der * dpre
            err = lip * perr + 4 * EPS * np.abs(val)
        # the readout row r . v + r0 (the difference of the two output rows, in float)
        w, b = spec.weights[-1], spec.biases[-1]
        if spec.ib is None:
            row, r0 = w[spec.ia], b[spec.ia] - _float_offset(spec)
        else:
            row, r0 = w[spec.ia] - w[spec.ib], b[spec.ia] - b[spec.ib]
        f = v @ row + r0
        gamma = (row.shape[0] + 3) * EPS
        e = err @ np.abs(row) + gamma * (np.abs(v) @ np.abs(row) + abs(r0))
        return f, dv @ row, e


def _float_offset(spec: Spec) -> float:
    assert spec.threshold is not None
    with mpmath.workdps(30):
        return float(_mp_inverse(spec.acts[-1], spec.threshold, spec.alphas[-1]))


# -- tails ------------------------------------------------------------------------------------


def _tail(spec: Spec, sigma: int, big_t: float) -> tuple[float, int] | None:
    """(R, sign of the margin for sigma * x1 >= R), or None if the limit is not resolved."""
    with mpmath.workdps(60):
        n_in = 1 + len(spec.fixed)
        a = [mpmath.mpf(1)] + [mpmath.mpf(0)] * (n_in - 1)
        b = [mpmath.mpf(0)] + [mpmath.mpf(v) for v in spec.fixed]
        rho = [mpmath.mpf(0)] * n_in
        radius = mpmath.mpf(1)
        tail_sat = {"sigmoid": mpmath.exp(-big_t), "tanh": 2 * mpmath.exp(-2 * big_t)}
        last = len(spec.weights) - 1
        for k, (w, bias) in enumerate(zip(spec.weights, spec.biases, strict=True)):
            wm = [[mpmath.mpf(float(x)) for x in row] for row in w]
            pa = [mpmath.fsum(wj * aj for wj, aj in zip(row, a, strict=True)) for row in wm]
            pb = [
                mpmath.fsum(wj * bj for wj, bj in zip(row, b, strict=True)) + mpmath.mpf(float(c))
                for row, c in zip(wm, bias, strict=True)
            ]
            pr = [mpmath.fsum(abs(wj) * rj for wj, rj in zip(row, rho, strict=True)) for row in wm]
            if k == last:
                break
            act, alpha = spec.acts[k], spec.alphas[k]
            a, b, rho = [], [], []
            for aj, bj, rj in zip(pa, pb, pr, strict=True):
                direction = (1 if sigma * aj > 0 else -1) if aj != 0 else 0
                if act in ("sigmoid", "tanh"):
                    if direction:
                        radius = max(radius, (big_t + abs(bj) + rj) / abs(aj))
                        lim = 1 if direction > 0 else (0 if act == "sigmoid" else -1)
                        a.append(mpmath.mpf(0))
                        b.append(mpmath.mpf(lim))
                        rho.append(tail_sat[act])
                    else:
                        a.append(mpmath.mpf(0))
                        b.append(_mp_act(act, bj, alpha)[0])
                        rho.append(rj * (mpmath.mpf(1) / 4 if act == "sigmoid" else 1))
                elif act == "softplus":
                    if direction:
                        radius = max(radius, (big_t + abs(bj) + rj) / abs(aj))
                        if direction > 0:
                            a.append(aj)
                            b.append(bj)
                        else:
                            a.append(mpmath.mpf(0))
                            b.append(mpmath.mpf(0))
                        rho.append(rj + mpmath.exp(-big_t))
                    else:
                        a.append(mpmath.mpf(0))
                        b.append(_mp_act(act, bj, alpha)[0])
                        rho.append(rj)
                elif act in ("relu", "leaky_relu"):
                    slope = 0 if act == "relu" else alpha
                    if direction:
                        radius = max(radius, (abs(bj) + rj) / abs(aj) * (1 + mpmath.mpf(10) ** -9))
                        scale = 1 if direction > 0 else slope
                    elif bj > rj:
                        scale = 1
                    elif bj < -rj:
                        scale = slope
                    else:
                        a.append(mpmath.mpf(0))
                        b.append(max(bj, slope * bj))
                        rho.append(rj)
                        continue
                    a.append(scale * aj)
                    b.append(scale * bj)
                    rho.append(scale * rj)
                elif act == "identity":
                    a.append(aj)
                    b.append(bj)
                    rho.append(rj)
                else:
                    raise ValueError(act)
        ia, ib = spec.ia, spec.ib
        if ib is None:
            with mpmath.workdps(60):
                off = _mp_inverse(spec.acts[-1], spec.threshold or 0.0, spec.alphas[-1])
            big_a, big_b, big_r = pa[ia], pb[ia] - off, pr[ia]
        else:
            big_a, big_b, big_r = pa[ia] - pa[ib], pb[ia] - pb[ib], pr[ia] + pr[ib]
        if big_a != 0:
            radius = max(radius, (abs(big_b) + big_r) / abs(big_a) * 1.000001 + 1)
            sign = 1 if sigma * big_a > 0 else -1
        elif abs(big_b) > 2 * big_r and big_b != 0:
            sign = 1 if big_b > 0 else -1
        else:
            return None
        return float(radius) * (1 + 1e-9) + 1.0, sign


def tails(spec: Spec) -> tuple[tuple[float, int], tuple[float, int]] | None:
    """((R-, sign at -inf), (R+, sign at +inf)), or None for a degenerate limit."""
    out = []
    for sigma in (-1, 1):
        got = None
        for big_t in (40.0, 100.0, 300.0, 700.0):
            got = _tail(spec, sigma, big_t)
            if got is not None:
                break
        if got is None:
            return None
        out.append(got)
    return out[0], out[1]


# -- results ----------------------------------------------------------------------------------


@dataclass
class RefCrossing:
    x: float
    x_mp: Any
    slope: float
    err: float  # float64 rounding estimate of the margin at x
    fragile: bool
    reach: float = 0.0  # distance from x beyond which float64 signs the margin on both sides

    @property
    def conditioning(self) -> float:
        """Float-limited accuracy of the root: rounding estimate / |slope|."""
        return self.err / abs(self.slope) if self.slope else math.inf


@dataclass
class RefCluster:
    lo: float
    hi: float
    crossings: int  # real crossings inside (0 for a double root or a near miss)
    real: bool  # a root exists in it (double root or pair of crossings)
    note: str = ""


@dataclass
class Reference:
    crossings: list[RefCrossing] = field(default_factory=list)
    clusters: list[RefCluster] = field(default_factory=list)
    everywhere: bool = False
    well_posed: bool = True
    why_not: str = ""
    window: tuple[float, float] = (-math.inf, math.inf)
    sign_left: int = 0
    sign_right: int = 0
    method: str = ""
    mp_calls: int = 0

    @property
    def roots(self) -> list[float]:
        return [c.x for c in self.crossings]


# -- mpmath one-dimensional solvers ------------------------------------------------------------


def _bracket_root(g: Any, a: Any, b: Any, ga: Any, gb: Any, rel: Any) -> Any:
    """A root of g in [a, b] (ga, gb of opposite signs): Illinois with bisection fallback."""
    side = 0
    for _ in range(400):
        width = b - a
        if width <= rel * max(1, abs(a), abs(b)):
            break
        x = (a * gb - b * ga) / (gb - ga) if gb != ga else (a + b) / 2
        if not (a < x < b) or side == 3 or side == -3:
            x = (a + b) / 2
            side = 0
        gx = g(x)
        if gx == 0:
            return x
        if (gx > 0) == (ga > 0):
            a, ga = x, gx
            side = side - 1 if side <= 0 else -1
            if side <= -2:
                gb = gb / 2
        else:
            b, gb = x, gx
            side = side + 1 if side >= 0 else 1
            if side >= 2:
                ga = ga / 2
    return a if abs(ga) < abs(gb) else b


def _sgn(v: Any) -> int:
    return 1 if v > 0 else (-1 if v < 0 else 0)


# -- the reference ----------------------------------------------------------------------------


def reference_roots(
    layers: Sequence[LayerSpec],
    x2: float,
    at: Sequence[float] = (),
    between: tuple[int, int] | None = None,
    threshold: float | None = None,
    dps: int = 40,
) -> Reference:
    """Every root of the margin along ``x2 = const`` on the whole real line (see module doc)."""
    spec = make_spec(layers, x2, at, between, threshold)
    mpf = MpMargin(spec, dps)
    if _identically_zero(mpf):
        ref = Reference(method="zero", everywhere=True)
    elif not np.any(spec.weights[0][:, 0] != 0):
        ref = _constant(spec, mpf)
    elif all(a in PIECEWISE for a in spec.acts[:-1]):
        ref = _piecewise(spec, mpf)
    else:
        ref = _scan(spec, mpf)
    ref.mp_calls = mpf.calls
    return ref


def _identically_zero(mpf: MpMargin) -> bool:
    """The margin vanishes (to working precision) at 9 spread-out points."""
    with mpmath.workdps(mpf.dps):
        pts = [-1e4, -37.3, -2.9, -0.31, 0.0, 0.27, 3.3, 41.0, 1.1e4]
        return all(mpf.zero_at(x) for x in pts)


def _constant(spec: Spec, mpf: MpMargin) -> Reference:
    with mpmath.workdps(mpf.dps):
        v, _, scale = mpf.evaluate(0)
        f, _, e = float_margin(spec, [0.0])
        ref = Reference(method="constant")
        if mpf.is_zero(v, scale):
            ref.everywhere = True
        ref.sign_left = ref.sign_right = _sgn(v)
        if not ref.everywhere and abs(f[0]) <= 8 * e[0]:
            ref.well_posed = False
            ref.why_not = "constant margin within float rounding of 0"
        return ref


def _finish(
    spec: Spec,
    mpf: MpMargin,
    ref: Reference,
    crossings: list[Any],
    doubles: list[Any],
    misses: list[tuple[Any, Any]],
) -> Reference:
    """Turn mp roots into crossings and clusters.

    Events (crossings, double roots, near misses with |f| below ~64 float rounding estimates)
    that float64 cannot tell apart -- the margin between consecutive ones stays below 64 times
    the rounding estimate -- form one cluster; it is *real* if it holds a root.
    """
    with mpmath.workdps(mpf.dps):
        events: list[tuple[Any, str]] = [(x, "c") for x in set(crossings)]
        events += [(x, "d") for x in set(doubles)]
        for x, fx in misses:
            _, _, e = float_margin(spec, [float(x)])
            if abs(fx) < 64 * e[0]:
                events.append((x, "m"))
        events.sort(key=lambda ev: ev[0])
        xs = np.array([float(x) for x, _ in events])
        errs = float_margin(spec, xs)[2] if len(xs) else np.zeros(0)
        groups: list[list[int]] = []
        for i in range(len(events)):
            if groups:
                j = groups[-1][-1]
                tol = 64 * max(errs[i], errs[j]) + 1e-300
                if _max_abs_between(mpf, events[j][0], events[i][0]) < tol:
                    groups[-1].append(i)
                    continue
            groups.append([i])
        for g in groups:
            kinds = [events[i][1] for i in g]
            lo, hi = float(events[g[0]][0]), float(events[g[-1]][0])
            if kinds == ["c"]:
                x = events[g[0]][0]
                slope = _weaker_slope(mpf, x)
                err = float(errs[g[0]])
                cond = err / abs(slope) if slope else math.inf
                reach = _noise_reach(spec, mpf, x)
                scale = max(1.0, abs(float(x)))
                # fragile: float64 cannot place the root to ~1e-9 (conditioning), or the margin
                # stays within rounding of 0 much further from the root than its slope says
                # (a kink onto a near-zero piece: float64 cannot tell 1 crossing from 3 there)
                fragile = cond > 2.5e-10 * scale or reach > max(100 * cond, 1e-14 * scale)
                ref.crossings.append(RefCrossing(float(x), x, slope, err, fragile, reach))
                continue
            n_cross = kinds.count("c")
            real = n_cross > 0 or "d" in kinds
            if kinds == ["d"]:
                note = "double root"
            elif kinds == ["m"]:
                x = events[g[0]][0]
                note = f"near miss: |f| = {mpmath.nstr(abs(mpf(x)), 3)} at the extremum"
            else:
                note = (
                    f"{n_cross} crossings, {kinds.count('d')} double roots, "
                    f"{kinds.count('m')} near misses closer than float64 resolves"
                )
            ref.clusters.append(RefCluster(lo, hi, n_cross, real, note))
        for c in ref.clusters:
            if c.hi - c.lo > 1e-6 * max(1.0, abs(c.lo)):
                ref.well_posed = False
                ref.why_not = f"the margin is within float rounding of 0 on [{c.lo}, {c.hi}]"
    return ref


def _noise_reach(spec: Spec, mpf: MpMargin, x: Any) -> float:
    """How far from the root x the margin stays within 8 float rounding estimates of 0:
    the smallest probed distance (1e-16 .. 1e-6, relative) beyond which both sides are
    signed in float64; inf if one side is not signed by 1e-6 (a near-zero plateau)."""
    scale = max(1.0, abs(float(x)))
    reach = 0.0
    for side in (-1.0, 1.0):
        for k in range(16, 5, -1):
            d = 10.0**-k * scale
            p = float(x) + side * d
            if p == float(x):
                continue
            if abs(mpf(p)) > 8 * float_margin(spec, [p])[2][0]:
                reach = max(reach, d)
                break
        else:
            return math.inf
    return reach


def _weaker_slope(mpf: MpMargin, x: Any) -> float:
    """The one-sided slope of smaller magnitude at x (they differ at a ReLU kink)."""
    delta = mpmath.mpf(10) ** (-(mpf.dps // 2)) * max(1, abs(x))
    left, right = mpf.slope(x - delta), mpf.slope(x + delta)
    return float(left if abs(left) < abs(right) else right)


def _max_abs_between(mpf: MpMargin, lo: Any, hi: Any) -> float:
    """max |f| sampled at 9 interior points of [lo, hi]."""
    return max(abs(float(mpf(lo + (hi - lo) * k / 10))) for k in range(1, 10))


# -- piecewise-affine networks -----------------------------------------------------------------


def _segments_zeros(pts: list[Any], vals: list[Any]) -> list[Any]:
    """Zeros of the piecewise-affine function with values ``vals`` at ``pts`` (affine between
    consecutive points and beyond both ends)."""
    out = []
    for k in range(len(pts) - 1):
        va, vb = vals[k], vals[k + 1]
        if va == 0:
            out.append(pts[k])
        elif va * vb < 0:
            out.append(pts[k] - va * (pts[k + 1] - pts[k]) / (vb - va))
    if vals[-1] == 0:
        out.append(pts[-1])
    m = (vals[1] - vals[0]) / (pts[1] - pts[0])
    if m != 0:
        x = pts[0] - vals[0] / m
        if x < pts[0]:
            out.append(x)
    m = (vals[-1] - vals[-2]) / (pts[-1] - pts[-2])
    if m != 0:
        x = pts[-1] - vals[-1] / m
        if x > pts[-1]:
            out.append(x)
    return out


def _with_sentinels(kinks: list[Any]) -> list[Any]:
    if not kinks:
        return [mpmath.mpf(-1), mpmath.mpf(1)]
    return [kinks[0] - 1, *kinks, kinks[-1] + 1]


def _dedupe(xs: list[Any], rel: Any) -> list[Any]:
    out: list[Any] = []
    for x in sorted(xs):
        if not out or x - out[-1] > rel * max(1, abs(x)):
            out.append(x)
    return out


def _piecewise(spec: Spec, mpf: MpMargin) -> Reference:
    ref = Reference(method="piecewise")
    with mpmath.workdps(mpf.dps):
        rel = mpf.rel
        kinks: list[Any] = []
        for k in spec.hidden:
            if spec.acts[k] == "identity":
                continue
            pts = _with_sentinels(kinks)
            pres = [mpf.pre_activations(x)[k] for x in pts]
            new = []
            for j in range(spec.weights[k].shape[0]):
                new += _segments_zeros(pts, [p[j] for p in pres])
            kinks = _dedupe(kinks + new, rel)
        pts = _with_sentinels(kinks)
        evals = [mpf.evaluate(x) for x in pts]
        raw = [v for v, _, _ in evals]
        # a kink's position carries the working precision's rounding, so the margin at a
        # kink where it vanishes is ~1e-40 times the slopes beside it, not 0
        vals = []
        for k, (v, _, sc) in enumerate(evals):
            slopes = [
                abs((raw[j + 1] - raw[j]) / (pts[j + 1] - pts[j]))
                for j in (k - 1, k)
                if 0 <= j < len(pts) - 1
            ]
            room = sc + max(slopes) * max(1, abs(pts[k]))
            vals.append(mpmath.mpf(0) if mpf.is_zero(v, room) else v)
        m_left = (vals[1] - vals[0]) / (pts[1] - pts[0])
        m_right = (vals[-1] - vals[-2]) / (pts[-1] - pts[-2])
        ref.sign_left = _sgn(-m_left) if m_left != 0 else _sgn(vals[0])
        ref.sign_right = _sgn(m_right) if m_right != 0 else _sgn(vals[-1])
        if all(v == 0 for v in vals):
            ref.everywhere = True
            return ref
        crossings, doubles, misses = [], [], []
        lo_w, hi_w = pts[0], pts[-1]
        for x in _segments_zeros(pts, vals):
            lo_w, hi_w = min(lo_w, x - 1), max(hi_w, x + 1)
        ref.window = (float(lo_w), float(hi_w))
        # signs just left and right of each point
        for k, x in enumerate(pts):
            if vals[k] != 0:
                continue
            left = vals[k - 1] if k > 0 else -m_left
            right = vals[k + 1] if k + 1 < len(vals) else m_right
            if left == 0 or right == 0:
                ref.well_posed = False
                ref.why_not = f"margin identically 0 on a segment next to {mpmath.nstr(x, 8)}"
                continue
            (crossings if _sgn(left) != _sgn(right) else doubles).append(x)
        for k in range(len(pts) - 1):
            va, vb = vals[k], vals[k + 1]
            if va * vb < 0:
                crossings.append(pts[k] - va * (pts[k + 1] - pts[k]) / (vb - va))
        if m_left != 0 and vals[0] != 0:
            x = pts[0] - vals[0] / m_left
            if x < pts[0]:
                crossings.append(x)
        if m_right != 0 and vals[-1] != 0:
            x = pts[-1] - vals[-1] / m_right
            if x > pts[-1]:
                crossings.append(x)
        if (m_left == 0 and vals[0] == 0) or (m_right == 0 and vals[-1] == 0):
            ref.well_posed = False
            ref.why_not = "margin identically 0 on a ray"
        # near misses: kinks where the margin comes within float rounding of 0
        for k in range(1, len(pts) - 1):
            va, vk, vb = vals[k - 1], vals[k], vals[k + 1]
            if (
                vk != 0
                and _sgn(va) == _sgn(vk) == _sgn(vb)
                and abs(vk) < abs(va)
                and abs(vk) < abs(vb)
            ):
                misses.append((pts[k], vk))
        _check_float_tails(spec, ref)
        return _finish(spec, mpf, ref, crossings, doubles, misses)


def _check_float_tails(spec: Spec, ref: Reference) -> None:
    lo, hi = ref.window
    f, _, e = float_margin(spec, [lo, hi])
    if np.any(np.abs(f) <= 8 * e):
        ref.well_posed = False
        ref.why_not = "margin at the window's ends is within float rounding of 0"


# -- other networks: scan + mpmath -------------------------------------------------------------


def _initial_grid(spec: Spec, lo: float, hi: float) -> np.ndarray:
    parts = [np.linspace(lo, hi, 2001)]
    for sgn in (-1.0, 1.0):
        top = math.log10(max(abs(lo if sgn < 0 else hi), 1e-3))
        parts.append(sgn * np.logspace(-3, top, max(2, int((top + 3) * 20))))
    w0 = spec.weights[0]
    c0 = spec.biases[0] + w0[:, 1:] @ np.asarray(spec.fixed)
    u = np.linspace(-SCAN_T, SCAN_T, int(2 * SCAN_T * SAMPLES_PER_UNIT) + 1)
    for wj, cj in zip(w0[:, 0], c0, strict=True):
        if wj == 0:
            continue
        if spec.acts[0] in SMOOTH:
            parts.append((u - cj) / wj)
        else:
            t = -cj / wj
            parts.append(t + np.array([-1.0, -1e-3, 0.0, 1e-3, 1.0]) / abs(wj))
    xs = np.concatenate(parts)
    xs = xs[np.isfinite(xs) & (xs >= lo) & (xs <= hi)]
    return np.unique(np.concatenate([xs, [lo, hi]]))


def _flags(xs: np.ndarray, f: np.ndarray, d: np.ndarray, conf: np.ndarray) -> np.ndarray:
    """Intervals to split: not close to linear relative to their distance from zero."""
    h = np.diff(xs)
    fa, fb, da, db = f[:-1], f[1:], d[:-1], d[1:]
    scale = np.maximum(1.0, np.abs(xs[:-1]))
    lin = np.maximum(np.abs(fa + da * h - fb), np.abs(fb - db * h - fa))
    both = conf[:-1] & conf[1:]
    same = both & (fa * fb > 0)
    opp = both & (fa * fb < 0)
    flag = same & (lin > 0.25 * np.minimum(np.abs(fa), np.abs(fb))) & (h > 1e-13 * scale)
    flag |= opp & ((da * db <= 0) | (lin > 0.5 * np.abs(fb - fa))) & (h > 1e-13 * scale)
    one = conf[:-1] ^ conf[1:]
    flag |= one & (h > 1e-10 * scale)
    return flag


def _scan(spec: Spec, mpf: MpMargin) -> Reference:
    ref = Reference(method="scan")
    tl = tails(spec)
    if tl is None:
        ref.well_posed = False
        ref.why_not = "the margin's limit at +-inf is 0 (degenerate)"
        return ref
    (r_lo, ref.sign_left), (r_hi, ref.sign_right) = tl
    lo, hi = -r_lo, r_hi
    ref.window = (lo, hi)
    xs = _initial_grid(spec, lo, hi)
    f, d, e = float_margin(spec, xs)
    for _ in range(MAX_REFINE):
        conf = np.abs(f) > 8 * e
        flag = _flags(xs, f, d, conf)
        if not flag.any():
            break
        mids = 0.5 * (xs[:-1][flag] + xs[1:][flag])
        fm, dm, em = float_margin(spec, mids)
        xs = np.concatenate([xs, mids])
        order = np.argsort(xs, kind="stable")
        xs, f, d, e = (
            xs[order],
            np.concatenate([f, fm])[order],
            np.concatenate([d, dm])[order],
            np.concatenate([e, em])[order],
        )
    conf = np.abs(f) > 8 * e
    if not (conf[0] and conf[-1]):
        ref.well_posed = False
        ref.why_not = "margin at the window's ends is within float rounding of 0"
    if not conf.any():
        # the margin is within rounding of 0 everywhere sampled
        with mpmath.workdps(mpf.dps):
            if all(mpf.zero_at(x) for x in np.linspace(lo, hi, 7)):
                ref.everywhere = True
                return ref
        ref.well_posed = False
        ref.why_not = "margin within float rounding of 0 everywhere sampled"
        return ref
    # regions to analyse in mpmath: runs of uncertain points, still-flagged same-sign intervals
    flag = _flags(xs, f, d, conf)
    same = conf[:-1] & conf[1:] & (f[:-1] * f[1:] > 0)
    n = len(xs)
    marks = np.zeros(n, dtype=bool)  # points inside regions
    marks |= ~conf
    for i in np.nonzero(flag & same)[0]:
        marks[i] = marks[i + 1] = True
    regions: list[tuple[int, int]] = []
    i = 0
    while i < n:
        if not marks[i]:
            i += 1
            continue
        j = i
        while j + 1 < n and marks[j + 1]:
            j += 1
        a = i - 1 if (i > 0 and not conf[i]) else i
        b = j + 1 if (j + 1 < n and not conf[j]) else j
        a, b = max(a, 0), min(b, n - 1)
        regions.append((a, b))
        i = j + 1
    crossings: list[Any] = []
    doubles: list[Any] = []
    misses: list[tuple[Any, Any]] = []
    with mpmath.workdps(mpf.dps):
        rel = mpmath.mpf(10) ** (-(mpf.dps - 6))
        covered = np.zeros(n, dtype=bool)
        for a, b in regions:
            covered[a:b] = True
            idx = np.arange(a, b + 1)
            if len(idx) > MAX_REGION_POINTS:
                keep = np.unique(np.linspace(0, len(idx) - 1, MAX_REGION_POINTS).astype(int))
                idx = idx[keep]
            _mp_region(mpf, [xs[k] for k in idx], rel, crossings, doubles, misses)
        for k in np.nonzero(conf[:-1] & conf[1:] & (f[:-1] * f[1:] < 0) & ~covered[:-1])[0]:
            a, b = mpmath.mpf(xs[k]), mpmath.mpf(xs[k + 1])
            fa, fb = mpf(a), mpf(b)
            if fa * fb < 0:
                crossings.append(_bracket_root(mpf, a, b, fa, fb, rel))
            else:
                _mp_region(mpf, [xs[k], xs[k + 1]], rel, crossings, doubles, misses)
    return _finish(spec, mpf, ref, crossings, doubles, misses)


def _mp_region(
    mpf: MpMargin,
    pts: list[float],
    rel: Any,
    crossings: list[Any],
    doubles: list[Any],
    misses: list[tuple[Any, Any]],
) -> None:
    """Roots of f among the sample points ``pts`` (sorted), decided in mpmath."""
    xs = [mpmath.mpf(p) for p in pts]
    vd = [mpf.evaluate(x) for x in xs]
    vals = [v for v, _, _ in vd]
    ders = [s for _, s, _ in vd]
    zero = [mpf.is_zero(v, sc) for v, _, sc in vd]
    for k, x in enumerate(xs):
        if zero[k]:
            left = vals[k - 1] if k > 0 else -ders[k]
            right = vals[k + 1] if k + 1 < len(xs) else ders[k]
            if _sgn(left) != _sgn(right):
                crossings.append(x)
            else:
                doubles.append(x)
    for k in range(len(xs) - 1):
        a, b, fa, fb, da, db = xs[k], xs[k + 1], vals[k], vals[k + 1], ders[k], ders[k + 1]
        if zero[k] or zero[k + 1]:
            continue
        if fa * fb < 0:
            if da * db >= 0:
                crossings.append(_bracket_root(mpf, a, b, fa, fb, rel))
                continue
            # a sign change with an extremum inside: split there
            xe = _bracket_root(mpf.slope, a, b, da, db, rel)
            fe = mpf(xe)
            if mpf.zero_at(xe):
                crossings.append(xe)
            elif fe * fa < 0:
                crossings.append(_bracket_root(mpf, a, xe, fa, fe, rel))
            else:
                crossings.append(_bracket_root(mpf, xe, b, fe, fb, rel))
            continue
        s = _sgn(fa)
        if not (s * da < 0 < s * db):
            continue
        xe = _bracket_root(mpf.slope, a, b, da, db, rel)
        fe = mpf(xe)
        if mpf.zero_at(xe):
            doubles.append(xe)
        elif _sgn(fe) != s:
            crossings.append(_bracket_root(mpf, a, xe, fa, fe, rel))
            crossings.append(_bracket_root(mpf, xe, b, fe, fb, rel))
        else:
            misses.append((xe, fe))


# -- checks used by the tests -------------------------------------------------------------------


def sign_change_near(spec: Spec, x: float, radius: float, dps: int = 40) -> bool:
    """Does the mp margin change sign (or vanish) in [x - radius, x + radius]?"""
    mpf = MpMargin(spec, dps)
    with mpmath.workdps(dps):
        pts = [mpmath.mpf(x) + mpmath.mpf(radius) * k / 4 for k in range(-4, 5)]
        evals = [mpf.evaluate(p) for p in pts]
        vals = [v for v, _, _ in evals]
        if any(mpf.is_zero(v, sc) for v, _, sc in evals):
            return True
        return any(_sgn(a) != _sgn(b) for a, b in itertools.pairwise(vals))


def mp_value(spec: Spec, x: float, dps: int = 40) -> float:
    mpf = MpMargin(spec, dps)
    with mpmath.workdps(dps):
        return float(mpf(x))


def layers_from_json(net: dict[str, Any]) -> list[LayerSpec]:
    """Layer lists from a layered-JSON network document (out x in)."""
    out: list[LayerSpec] = []
    top = net.get("layout", "out_in")
    for layer in net["layers"]:
        w = np.array(layer["weights"], dtype=np.float64)
        if layer.get("layout", top) == "in_out":
            w = w.T
        entry: LayerSpec = (w.tolist(), list(map(float, layer["biases"])), layer["activation"])
        if "alpha" in layer:
            entry = (*entry, float(layer["alpha"]))
        out.append(entry)
    return out
