"""The margin along one line in rigorous ball arithmetic, for what float64 cannot decide.

Every quantity here is a ball ``[m +- r]`` of Arb (via python-flint) that provably holds the
exact value: the inputs (floats, hence exact), each operation and each elementary function
are enclosed with their rounding (F. Johansson, "Arb: efficient arbitrary-precision
midpoint-radius interval arithmetic", IEEE Trans. Computers 66, 2017).  Where hidden units
saturate, the margin is a difference of O(1) numbers that agree to 1e-18 or 1e-300; a ball
evaluation at enough bits still sees its sign, where float64 sees only rounding noise.

The precision starts at :data:`PRECISIONS` ``[0]`` bits and is doubled, per evaluation, until
the sign it is asked for is decided or :data:`PRECISIONS` ``[-1]`` bits are spent.  python-flint
is an optional dependency (the ``exact`` extra): without it :func:`available` is False and the
solver reports what float64 cannot decide as unresolved.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from netbound.margin import Margin
from netbound.network import FloatArray, Layer

#: Working precisions in bits, tried in turn: a sign not decided at the last is unresolved.
EPS = float(np.finfo(np.float64).eps)
PRECISIONS = (96, 192, 384, 768, 1536, 3072, 6144)
#: Ball evaluations one undecided interval may spend before the rest of it is unresolved:
#: ``WORK`` weight multiplications' worth, but never fewer than ``MIN_EVALUATIONS`` nor more
#: than ``MAX_EVALUATIONS`` (an evaluation of a 2-3-2 net takes about 0.06 ms, one of a
#: 2-64-64-2 net about 4 ms).
WORK = 300_000
MIN_EVALUATIONS = 64
MAX_EVALUATIONS = 3000
#: Bisections of an enclosure in :func:`refine` (53 halve any float interval of one binade).
MAX_BISECTIONS = 120

Arb = Any  # flint.arb: python-flint ships no type information


def available() -> bool:
    """True when python-flint (Arb) is installed."""
    return importlib.util.find_spec("flint") is not None


@contextmanager
def _precision(bits: int) -> Iterator[None]:
    from flint import ctx

    old = ctx.prec
    ctx.prec = bits
    try:
        yield
    finally:
        ctx.prec = old


def _endpoints(x: Arb) -> tuple[Arb, Arb]:
    from flint import arb

    if x.rad() == 0:
        return x, x
    return arb(x.lower()), arb(x.upper())


def _act_point(name: str, alpha: float, x: Arb) -> Arb:
    from flint import arb

    if name == "sigmoid":
        return 1 / (1 + (-x).exp())
    if name == "tanh":
        return x.tanh()
    if name == "softplus":
        return x.exp().log1p()  # Arb's exponents do not overflow
    if name == "identity":
        return x
    if name == "relu":
        if x >= 0:
            return x
        if x <= 0:
            return arb(0)
        return x.nonnegative_part()
    if name == "leaky_relu":
        if x >= 0:
            return x
        if x <= 0:
            return alpha * x
        return (alpha * x).union(x)
    raise ValueError(f"no ball form of activation {name!r}")


def _activate(name: str, alpha: float, x: Arb) -> Arb:
    """The activation's range over the ball ``x`` (every activation here is monotone)."""
    if x.rad() == 0 or name in ("identity", "relu", "leaky_relu"):
        return _act_point(name, alpha, x)
    lo, hi = _endpoints(x)
    return _act_point(name, alpha, lo).union(_act_point(name, alpha, hi))


def _split(name: str, alpha: float, x: Arb) -> tuple[int, Arb]:
    """The activation over the ball ``x`` as ``L + d``: ``L`` its limit (0 or +-1) on the
    side of 0 that ``x`` is on, ``d`` the deviation from it, with its own exponent.

    1 - sigmoid(x) = sigmoid(-x) and tanh(x) -+ 1 = -+2 sigmoid(-+2x) (Higham, "Accuracy and
    Stability of Numerical Algorithms", 2nd ed., sec. 1.7 on avoiding cancellation): a
    saturated unit's deviation keeps its relative accuracy, where ``L + d`` would round it
    away; the limits are summed exactly in the next layer.
    """
    if name == "sigmoid" and x > 0:
        return 1, -_activate("sigmoid", alpha, -x)
    if name == "tanh" and x > 0:
        return 1, -2 * _activate("sigmoid", alpha, -2 * x)
    if name == "tanh" and x < 0:
        return -1, 2 * _activate("sigmoid", alpha, 2 * x)
    return 0, _activate(name, alpha, x)


def _even_slope(name: str, x: Arb) -> Arb:
    """sigmoid' or tanh' at a point: e / (1 + e)^2 with e = exp(-|x|), and 4e / (1 + e)^2
    with e = exp(-2|x|) (both even, decreasing in |x|)."""
    if name == "sigmoid":
        e = (-abs(x)).exp()
        return e / ((1 + e) * (1 + e))
    e = (-2 * abs(x)).exp()
    return 4 * e / ((1 + e) * (1 + e))


def _slope(name: str, alpha: float, x: Arb) -> Arb:
    """The activation's derivative over the ball ``x``."""
    from flint import arb

    if name in ("sigmoid", "tanh"):
        if x.rad() == 0:
            return _even_slope(name, x)
        return _even_slope(name, x.abs_lower()).union(_even_slope(name, x.abs_upper()))
    if name == "softplus":
        return _activate("sigmoid", alpha, x)
    if name == "identity":
        return arb(1)
    low = arb(0) if name == "relu" else arb(alpha)
    if x > 0:
        return arb(1)
    if x < 0:
        return low
    return low.union(arb(1))


def _column(values: Sequence[Any]) -> Arb:
    from flint import arb_mat

    return arb_mat([[x] for x in values])


@dataclass
class _Exact:
    """The line's coefficients as balls at one precision."""

    w: list[Arb]
    c: list[Arb]
    layers: list[tuple[Arb, list[Arb], Layer]]
    readout: Arb
    offset: Arb


def _sign(x: Arb) -> int | None:
    """+1 or -1 when proven, 0 when ``x`` is exactly zero, None when undecided."""
    if x > 0:
        return 1
    if x < 0:
        return -1
    if x.is_zero():
        return 0
    return None


@dataclass
class BallLine:
    """The margin of ``margin`` along ``base + t e_axis``, in ball arithmetic.

    ``evaluations`` counts the ball evaluations made (each at whatever precision).
    """

    margin: Margin
    base: FloatArray
    axis: int
    evaluations: int = 0
    _cache: dict[int, _Exact] = field(default_factory=dict, repr=False)

    def _exact(self) -> _Exact:
        from flint import arb, arb_mat, ctx

        bits = int(ctx.prec)
        cached = self._cache.get(bits)
        if cached is not None:
            return cached
        m = self.margin
        # The readout and its offset, exactly from the output rows (not their float difference).
        n_last = m.hidden[-1].n_out if m.hidden else m.network.n_inputs
        r = [arb(0)] * n_last
        off = arb(0) - arb(m.level)
        for sign, row, bias in m.parts:
            r = [acc + sign * arb(float(x)) for acc, x in zip(r, row, strict=True)]
            off = off + sign * arb(float(bias))
        if not m.parts:
            r = [arb(float(x)) for x in m.readout]
            off = arb(m.offset)
        base = [arb(float(x)) for x in self.base]
        if m.hidden:
            first = m.hidden[0]
            weights, biases = first.weights, first.biases
        else:
            weights, biases = np.array([[0.0] * len(base)]), np.zeros(1)
        w = [arb(float(weights[j, self.axis])) for j in range(weights.shape[0])]
        c = []
        for j in range(weights.shape[0]):
            acc = arb(float(biases[j]))
            for k, x in enumerate(base):
                if k != self.axis:
                    acc += arb(float(weights[j, k])) * x
            c.append(acc)
        layers = [
            (arb_mat(layer.weights.tolist()), [arb(float(b)) for b in layer.biases], layer)
            for layer in m.hidden[1:]
        ]
        if not m.hidden:
            # The readout acts on the inputs: one identity "unit" per input, t on the axis.
            w = [arb(1) if k == self.axis else arb(0) for k in range(len(base))]
            c = [arb(0) if k == self.axis else x for k, x in enumerate(base)]
        out = _Exact(w, c, layers, arb_mat([r]), off)
        self._cache[bits] = out
        return out

    def evaluate(self, t: Arb, slope: bool = False) -> tuple[Arb, Arb | None]:
        """The margin (and with ``slope``, its derivative in t) over the ball ``t``."""

        self.evaluations += 1
        ex = self._exact()
        u = [wj * t + cj for wj, cj in zip(ex.w, ex.c, strict=True)]
        first = self.margin.hidden[0] if self.margin.hidden else None
        if first is None:
            limits, v = [0] * len(u), u
            dv = list(ex.w)
        else:
            act, alpha = first.activation, first.alpha
            limits, v = map(list, zip(*(_split(act, alpha, x) for x in u), strict=True))
            dv = (
                [_slope(act, alpha, x) * wj for x, wj in zip(u, ex.w, strict=True)] if slope else []
            )
        for weights, biases, layer in ex.layers:
            # The limits' part of each sum first, exactly where it cancels, then the deviations.
            p = weights * _column(limits)
            q = weights * _column(v)
            pre = [(p[j, 0] + biases[j]) + q[j, 0] for j in range(len(biases))]
            if slope:
                dp = weights * _column(dv)
                dv = [
                    _slope(layer.activation, layer.alpha, x) * dp[j, 0] for j, x in enumerate(pre)
                ]
            limits, v = map(
                list, zip(*(_split(layer.activation, layer.alpha, x) for x in pre), strict=True)
            )
        f = ((ex.readout * _column(limits))[0, 0] + ex.offset) + (ex.readout * _column(v))[0, 0]
        df = (ex.readout * _column(dv))[0, 0] if slope else None
        return f, df

    # -- decisions, each raising the precision until it is made --------------------------------

    def sign_at(self, t: float) -> int | None:
        """The margin's sign at the float ``t``: +1, -1, 0 (exactly zero), None (undecided
        at the last precision)."""
        from flint import arb

        for bits in PRECISIONS:
            with _precision(bits):
                s = _sign(self.evaluate(arb(t))[0])
            if s is not None:
                return s
        return None

    def slope_sign_at(self, t: float) -> int | None:
        """The sign of the margin's derivative at ``t`` (None when undecided)."""
        from flint import arb

        for bits in PRECISIONS:
            with _precision(bits):
                d = self.evaluate(arb(t), slope=True)[1]
            s = _sign(d)
            if s is not None:
                return s
        return None

    def cell(self, lo: float, hi: float) -> tuple[bool, int]:
        """Whether ``[lo, hi]`` provably holds no root, and the sign of the derivative there
        (+1, -1 when proven, else 0).  The precision is raised while the midpoint's value is
        lost in rounding."""
        from flint import arb

        mid = 0.5 * lo + 0.5 * hi
        ball = arb(lo).union(arb(hi))
        for bits in PRECISIONS:
            with _precision(bits):
                fm = self.evaluate(arb(mid))[0]
                if fm.contains(0) and not fm.is_zero() and bits != PRECISIONS[-1]:
                    continue
                ft, dt = self.evaluate(ball, slope=True)
                assert dt is not None
                mv = fm + dt * (ball - arb(mid))
                enclosure = mv.intersection(ft) if mv.overlaps(ft) else mv
                excluded = bool(enclosure > 0 or enclosure < 0)
                monotone = 1 if dt > 0 else (-1 if dt < 0 else 0)
                return excluded, monotone
        raise AssertionError("unreachable: the last precision always returns")


@dataclass
class Isolation:
    """What ball arithmetic proved on one interval of a line.

    ``crossings``: ``(lo, hi, s)`` each holding exactly one sign change, the margin's sign
    being ``s`` left of it (a simple root; ``lo == hi`` and ``s == 0`` for a root that is a
    float exactly); ``touching``: ``(lo, hi, x)`` where the margin's
    derivative changes sign once and the margin does not, and its value there is zero to the
    last precision; ``unresolved``: the rest that could not be decided.
    """

    crossings: list[tuple[float, float, int]] = field(default_factory=list)
    touching: list[tuple[float, float, float]] = field(default_factory=list)
    unresolved: list[tuple[float, float]] = field(default_factory=list)


#: Width (relative to max(1, |t|), in units of eps) below which a cell is not split: the
#: float solver's resolution, so that a double root at 0 is not chased down to 1e-308.
RESOLUTION = 8.0


def _at_resolution(lo: float, hi: float) -> bool:
    mid = 0.5 * lo + 0.5 * hi
    scale = max(1.0, abs(lo), abs(hi))
    return not lo < mid < hi or (hi - lo) <= RESOLUTION * EPS * scale


def isolate(line: BallLine, lo: float, hi: float) -> Isolation:
    """Every root of the margin in ``[lo, hi]``, by bisection in ball arithmetic.

    A cell is dropped when the enclosure of the margin (the tighter of the direct and the
    mean-value form) excludes 0; a cell on which the derivative has a proven sign holds one
    root exactly when its end values have proven opposite signs; every other cell is split,
    down to float resolution.  What stays undecided there is merged and classified by
    :func:`_classify`.
    """
    out = Isolation()
    work = [(lo, hi)]
    stuck: list[tuple[float, float]] = []
    weights = sum(layer.weights.size for layer in line.margin.hidden) + line.margin.readout.size
    budget = line.evaluations + min(MAX_EVALUATIONS, max(MIN_EVALUATIONS, WORK // weights))
    while work:
        if line.evaluations > budget:
            out.unresolved.extend(work)
            break
        a, b = work.pop()
        excluded, monotone = line.cell(a, b)
        if excluded:
            continue
        if monotone:
            sa, sb = line.sign_at(a), line.sign_at(b)
            if sa == 0:
                out.crossings.append((a, a, 0))
            if sb == 0:
                out.crossings.append((b, b, 0))
            if sa and sb:
                if sa != sb:
                    out.crossings.append((a, b, sa))
                continue
            if sa == 0 or sb == 0:
                continue  # monotone: the exact zero at the end is the cell's only root
        if _at_resolution(a, b):
            stuck.append((a, b))
            continue
        m = 0.5 * a + 0.5 * b
        work.append((m, b))
        work.append((a, m))
    for a, b in merged(stuck):
        _classify(line, a, b, out)
    return out


def merged(cells: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """Sorted intervals, those that touch or overlap merged into one."""
    out: list[tuple[float, float]] = []
    for a, b in sorted(cells):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _classify(line: BallLine, a: float, b: float, out: Isolation) -> None:
    """A cluster of cells at float resolution: a crossing, a touching root, or unresolved."""
    sa, sb = line.sign_at(a), line.sign_at(b)
    if sa is None or sb is None:
        out.unresolved.append((a, b))
        return
    if sa == 0 or sb == 0:
        # An exact zero at an end, of a kind (crossing or not) that is not known here.
        out.unresolved.append((a, b))
        return
    _, monotone = line.cell(a, b)
    if sa != sb:
        if monotone:
            out.crossings.append((a, b, sa))
        else:
            out.unresolved.append((a, b))
        return
    da, db = line.slope_sign_at(a), line.slope_sign_at(b)
    # Same sign at both ends; the derivative turns once inside (a cluster at float resolution
    # is a few ulps wide) towards zero: the margin touches 0 there to the last precision.
    if da is not None and db is not None and da * db < 0 and da == -sa:
        out.touching.append((a, b, 0.5 * a + 0.5 * b))
    else:
        out.unresolved.append((a, b))


def refine(line: BallLine, lo: float, hi: float, sign_lo: int, x: float) -> tuple[float, float]:
    """Shrink ``[lo, hi]``, holding exactly one root with the margin's sign ``sign_lo`` left of
    it, to a few ulps around the root: first outward from the estimate ``x``, then by
    bisection.  Returns the enclosure (exact end values are proven, never guessed)."""
    x = min(max(x, lo), hi)
    for step in (1.0, 4.0, 64.0, 4096.0):
        d = step * float(np.spacing(abs(x)))
        left, right = x - d, x + d
        if lo < left and line.sign_at(left) == sign_lo:
            lo = left
        if right < hi and line.sign_at(right) == -sign_lo:
            hi = right
        if lo == left and hi == right:
            break
    for _ in range(MAX_BISECTIONS):
        if _at_resolution(lo, hi):
            break
        m = 0.5 * lo + 0.5 * hi
        s = line.sign_at(m)
        if s is None:
            break
        if s == 0:
            return m, m
        if s == sign_lo:
            lo = m
        else:
            hi = m
    return lo, hi
