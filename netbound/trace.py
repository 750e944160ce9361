"""The decision boundary inside a box, as polylines traced along the curves ``f(x_a, x_b) = 0``.

Method (predictor-corrector continuation on the margin restricted to the plane of two inputs,
the first two by default; docs/trace.md gives the proofs):

1. Seeds.  :func:`netbound.solve_lines` finds every root on grid lines ``x_b = const`` spaced
   at most ``step`` apart across the box, and on the lines ``x_a = const`` likewise, in one
   vectorized call per direction.  Every component of the boundary that crosses one of these
   lines has a seed on it.  A component that crosses none is a closed loop inside one grid
   cell; :func:`netbound.region.search` finds it (interval enclosures, cells cut down to a
   floor, crossings of the cutting segments isolated with proof) or reports its cell as
   unresolved.
2. Tracing.  Along ``f = 0`` the tangent is perpendicular to ``grad f``; it is oriented by the
   gradient (``t = J grad f / |grad f|``, with the positive side always on the same hand), so a
   step that lands on a neighbouring branch, whose gradient points the other way, shows up as a
   reversed tangent.  Each step predicts along the tangent and corrects by Newton's method along
   the gradient (``x <- x - f grad f / |grad f|^2``), polished to the rounding floor.  A step is
   rejected and halved when the corrector needs too many iterations or does not contract, moves
   the point more than a quarter of the step, or the tangent turns more than :data:`MAX_TURN`;
   it grows again after easy steps, never beyond ``step``.  The cubic Hermite interpolant of
   each step must also stay on the curve (at a quarter, half and three quarters of it, to
   0.3 % of the step): a step that skipped a small feature fails there.  A piecewise-affine
   boundary (ReLU networks) is straight between corners: a step must not turn at all, and a
   corner is located exactly (the end of the straight continuation, by bisection, and the way
   on, the root on a small circle around it).
3. Ends.  A curve ends where it leaves the box (the last point is the root of the margin on the
   edge line, found by :func:`netbound.solve_lines`, so it lies exactly on the edge), where it
   returns to its seed (a closed curve), or where the step collapses (a singular point, where
   the gradient vanishes).  A trace that comes back onto its own track away from its seed has
   crossed onto another branch, which a regular curve cannot do: it ends there.  Each seed is
   traced in both directions.  A seed at a singular point cannot be proven (no sign
   change): its cell is unresolved.
4. Accuracy and proof.  Every point is polished to the rounding floor of the margin, about
   ``eps * (sum of |terms| / |grad f| + |x|)``, and then proven within 1e-9 of the box's size
   from the boundary by a sign change of the margin (evaluated in extended precision with a
   rigorous error bound) across a segment of that half-length through it.  Points that fail
   are dropped and their grid cells reported as unresolved; curves are cut at every unresolved
   cell.
5. Bookkeeping.  A seed within ``step / 100`` of a traced curve (measured to the cubic Hermite
   interpolant of its points, far more accurate than the chords, and never more than half the
   distance to the seed's neighbours on its own line) is not traced again; a curve traced from a
   seed that all lies on earlier curves is dropped.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import combinations
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from netbound import region
from netbound.boundary import Boundary, decision_of
from netbound.errors import OptionError
from netbound.margin import Margin, forward_tangent
from netbound.network import FloatArray, Layer, Network
from netbound.solver import LineSolution, solve_lines
from netbound.sweeps import check_limit, input_limit

Box = tuple[float, float, float, float]
#: A rectangle ``(alo, ahi, blo, bhi)`` of the plane.
Rect = tuple[float, float, float, float]

#: Largest turn of the tangent over one step (radians); a larger turn rejects the step.
MAX_TURN = math.radians(20.0)
#: Turn per step the step control aims at.
TARGET_TURN = math.radians(8.0)
#: Largest turn over one step of a piecewise-affine boundary (larger turns are corners).
PIECEWISE_TURN = 1e-7
#: Largest turn at a corner (of a ReLU network's boundary) or a singular point.
MAX_CORNER_TURN = math.radians(170.0)
CORNER_STEP = 2.0**-24
#: A point is on a straight piece of a piecewise-affine boundary within this fraction of the
#: box's size (corner search).
CORNER_TOLERANCE = 1e-12
#: Samples on the circle around a corner.
CIRCLE_SAMPLES = 64
#: A curve ends (stalls) when the step falls below this fraction of ``step``.
STALL_STEP = 2.0**-34
#: Newton iterations of the corrector.
MAX_NEWTON = 8
#: Seeds within this fraction of ``step`` of a traced curve are on it.
CLAIM_FRACTION = 0.01
#: Largest distance from the curve of the cubic Hermite interpolant of a step, at a quarter,
#: half and three quarters of it, relative to the step's length.  A well-resolved step (a turn
#: of at most 20 degrees) is off by a few 1e-4.
HERMITE_TOLERANCE = 0.003
#: Points of the Hermite interpolant per step used to measure distances to a curve.
HERMITE_SUBDIVISIONS = 8
#: Default step: the box's diagonal over this.
DEFAULT_DIVISIONS = 200
#: A trace that comes within this fraction of ``step`` of its own earlier track, running the
#: same way, has crossed onto another branch.
LASSO = 0.02
#: Largest number of points of one trace (a guard; never reached by a well-posed trace).
MAX_POINTS = 200_000
#: Largest number of seeding lines per direction.
MAX_LINES = 100_000
#: A seed whose gradient is below this fraction of the sum of its terms' magnitudes is singular.
SINGULAR = 1e-6
#: Relative accuracy (to the box's size) the corrector polishes to, and the floor it accepts
#: when rounding stops its progress, plus :data:`NOISE` units of rounding of the coordinates
#: and of the margin.
POLISH = 1e-14
FLOOR = 1e-11
NOISE = 16.0
EPS = float(np.finfo(np.float64).eps)
#: Every traced point is proven to lie within this fraction of the box's size (its diagonal)
#: from the boundary.
PROOF_DISTANCE = 1e-9


@dataclass(frozen=True, eq=False)
class Curve:
    """One connected piece of the boundary inside the box.

    Attributes
    ----------
    points
        Array ``(n, 2)`` of points on the boundary (coordinates of the two inputs spanning
        the plane), in order along the curve, no two consecutive ones farther apart than the
        trace's ``step``.  A closed curve does not repeat its first point: the segment from
        the last point back to the first closes it.
    closed
        The curve is a loop inside the box.
    between
        The two outputs the curve separates (``z_a = z_b``), when known; ``None`` for a
        threshold or a bare margin.
    """

    points: FloatArray
    closed: bool
    between: tuple[str, str] | None = None

    def __repr__(self) -> str:
        kind = "closed" if self.closed else "open"
        pair = "" if self.between is None else f", between={self.between!r}"
        return f"Curve({kind}, {self.points.shape[0]} points{pair})"


@dataclass(frozen=True, eq=False)
class TraceResult:
    """The boundary curves inside a box.

    Attributes
    ----------
    curves
        The curves, each a polyline of points proven to lie on the boundary (within 1e-9 of
        the box's size).
    box
        ``(x1lo, x1hi, x2lo, x2hi)`` (the two inputs spanning the plane).
    step
        The largest distance between consecutive points of a curve.
    complete
        Proven: every component of the boundary inside the box is among ``curves`` (no
        rectangle is unresolved, no trace was cut short).
    everywhere
        The margin is identically zero in the plane: every point is on the boundary (and
        ``curves`` is empty).
    max_distance
        The largest distance of a point from the boundary, estimated as ``|f| / |grad f|``.
    unresolved
        Rectangles ``(x1lo, x1hi, x2lo, x2hi)`` where the boundary could be neither excluded
        nor traced with proof (a tangency, a singular point, a margin below the resolution of
        floating point); curves stop at their edges.
    """

    curves: tuple[Curve, ...]
    box: Box
    step: float
    complete: bool
    everywhere: bool
    max_distance: float
    unresolved: tuple[Rect, ...] = ()

    def __repr__(self) -> str:
        points = sum(c.points.shape[0] for c in self.curves)
        box = ", ".join(f"{v:g}" for v in self.box)
        return (
            f"TraceResult({len(self.curves)} curves, {points} points, box=({box}), "
            f"step={self.step:.3g}, complete={self.complete}, "
            f"unresolved={len(self.unresolved)}, everywhere={self.everywhere})"
        )

    def to_json(self, axes: tuple[str, str] | None = None) -> dict[str, object]:
        """The document of ``netbound trace --format json``; with ``axes``, the names of the
        inputs along the box's two sides, as ``solve_for`` and ``sweep`` (as in ``solve``).

        Examples
        --------
        >>> import numpy as np
        >>> r = TraceResult((Curve(np.array([[0.0, 1.0], [0.5, 1.5]]), False),),
        ...                 (0.0, 1.0, 1.0, 2.0), 1.0, True, False, 0.0)
        >>> r.to_json()  # doctest: +NORMALIZE_WHITESPACE
        {'curves': [{'closed': False, 'points': [[0.0, 1.0], [0.5, 1.5]]}], 'complete': True,
         'unresolved': [], 'box': [0.0, 1.0, 1.0, 2.0], 'step': 1.0}
        >>> r  # doctest: +NORMALIZE_WHITESPACE
        TraceResult(1 curves, 2 points, box=(0, 1, 1, 2), step=1, complete=True,
                    unresolved=0, everywhere=False)
        """
        doc: dict[str, object] = {
            "curves": [{"closed": c.closed, "points": c.points.tolist()} for c in self.curves],
            "complete": self.complete,
            "unresolved": [list(r) for r in self.unresolved],
            "box": list(self.box),
            "step": self.step,
        }
        if axes is not None:
            doc["solve_for"], doc["sweep"] = axes
        return doc


# -- the margin in the plane ------------------------------------------------------------------


class _Plane:
    """The margin as a function of ``(x1, x2)`` (other inputs fixed): value and gradient."""

    def __init__(self, margin: Margin, rest: FloatArray, axes: tuple[int, int] = (0, 1)) -> None:
        self.readout = margin.readout
        self.offset = margin.offset
        cols = list(axes)
        others = rest.copy()
        others[cols] = 0.0
        #: The first hidden layer, or None when the margin is affine in the inputs.
        self.first: Layer | None = None
        self.hidden: tuple[Layer, ...] = ()
        if margin.hidden:
            self.first = margin.hidden[0]
            self.w: FloatArray = np.ascontiguousarray(self.first.weights[:, cols])
            self.b: FloatArray = self.first.weights @ others + self.first.biases
            self.hidden = margin.hidden
        else:
            self.w = np.ascontiguousarray(margin.readout[None, cols])
            self.b = np.array([margin.readout @ others + margin.offset])

    def eval(self, p: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Margin ``(...)`` and gradient ``(..., 2)`` at points ``p`` of shape ``(..., 2)``."""
        with np.errstate(over="ignore", invalid="ignore", under="ignore"):
            u = p @ self.w.T + self.b
            first = self.first
            if first is None:
                g: FloatArray = np.broadcast_to(self.w[0], p.shape).copy()
                f0: FloatArray = u[..., 0]
                return f0, g
            v, dv = forward_tangent(self.hidden, u, np.broadcast_to(self.w, (*u.shape, 2)))
            f: FloatArray = v @ self.readout + self.offset
            g = self.readout @ dv
        return f, g

    def eval_with_magnitude(self, p: FloatArray) -> tuple[float, FloatArray, float]:
        """Margin, gradient and the sum of the magnitudes of the margin's terms at one point
        (which bounds the margin's rounding error, relative to ``EPS``)."""
        with np.errstate(over="ignore", invalid="ignore", under="ignore"):
            u = p @ self.w.T + self.b
            first = self.first
            if first is None:
                mag = float(np.abs(self.w[0]) @ np.abs(p) + abs(float(self.b[0])))
                return float(u[0]), self.w[0].copy(), mag
            v, dv = forward_tangent(self.hidden, u, self.w)
            terms = float(np.abs(self.readout) @ np.abs(v)) + abs(self.offset)
            g: FloatArray = self.readout @ dv
            return float(v @ self.readout + self.offset), g, terms

    def gradient_scale(self, p: FloatArray) -> float:
        """The sum of the magnitudes of the terms of the gradient at one point ``p``.

        The gradient is small against it only where its terms cancel: at a singular point
        of the boundary (a double root of the margin), not merely where the network is flat.
        """
        with np.errstate(over="ignore", invalid="ignore", under="ignore"):
            aw = np.abs(self.w)
            first = self.first
            if first is None:
                return float(np.sum(aw))
            u = p @ self.w.T + self.b
            _, dv = forward_tangent(self.hidden, u, aw, absolute=True)
            return float(np.sum(np.abs(self.readout) @ dv))

    def distance(self, p: FloatArray) -> FloatArray:
        """Estimated distance ``|f| / |grad f|`` of points ``(..., 2)`` from the boundary."""
        f, g = self.eval(p)
        with np.errstate(divide="ignore", invalid="ignore"):
            d: FloatArray = np.abs(f) / np.hypot(g[..., 0], g[..., 1])
        return np.where(f == 0.0, 0.0, d)


def _hermite_basis(s: FloatArray) -> FloatArray:
    """Weights ``(..., 4)`` of ``p0, L t0, p1, L t1`` in the cubic Hermite interpolant at ``s``.

    ``L`` is the chord's length: with unit tangents ``t0``, ``t1`` the interpolant runs from
    ``p0`` to ``p1`` with derivatives ``L t0`` and ``L t1``.
    """
    s2, s3 = s * s, s * s * s
    return np.stack([2 * s3 - 3 * s2 + 1, s3 - 2 * s2 + s, -2 * s3 + 3 * s2, s3 - s2], axis=-1)


_HERMITE_CHECK = _hermite_basis(np.array([0.25, 0.5, 0.75]))


def _tangent(g: FloatArray, direction: float) -> FloatArray | None:
    norm = math.hypot(float(g[0]), float(g[1]))
    if not (norm > 0.0 and math.isfinite(norm)):
        return None
    return np.array([-g[1], g[0]]) * (direction / norm)


# -- geometry of polylines ----------------------------------------------------------------------


def _hermite(points: FloatArray, tangents: FloatArray, closed: bool) -> FloatArray:
    """The points of the cubic Hermite interpolant, :data:`HERMITE_SUBDIVISIONS` per segment."""
    if points.shape[0] < 2:
        return points
    p0, t0 = points, tangents
    if closed:
        p1, t1 = np.roll(points, -1, axis=0), np.roll(tangents, -1, axis=0)
    else:
        p0, t0, p1, t1 = points[:-1], tangents[:-1], points[1:], tangents[1:]
    length = np.hypot(*(p1 - p0).T)[:, None, None]
    h = _hermite_basis(np.linspace(0.0, 1.0, HERMITE_SUBDIVISIONS + 1)[:-1])[None, :, :, None]
    dense = (
        h[..., 0, :] * p0[:, None, :]
        + h[..., 1, :] * length * t0[:, None, :]
        + h[..., 2, :] * p1[:, None, :]
        + h[..., 3, :] * length * t1[:, None, :]
    ).reshape(-1, 2)
    end = points[:1] if closed else points[-1:]
    out: FloatArray = np.concatenate([dense, end])
    return out


def _distance_to_polyline(x: FloatArray, poly: FloatArray, chunk: int = 256) -> FloatArray:
    """Distance from each point ``x`` ``(m, 2)`` to the polyline ``poly`` ``(k, 2)``."""
    out = np.full(x.shape[0], np.inf)
    if x.shape[0] == 0 or poly.shape[0] == 0:
        return out
    if poly.shape[0] == 1:
        out[:] = np.hypot(*(x - poly[0]).T)
        return out
    a, d = poly[:-1], poly[1:] - poly[:-1]
    dd = np.einsum("ij,ij->i", d, d)
    dd = np.where(dd > 0.0, dd, 1.0)
    for start in range(0, x.shape[0], chunk):
        xs = x[start : start + chunk]
        rel = xs[:, None, :] - a[None, :, :]
        lam = np.clip(np.einsum("mkj,kj->mk", rel, d) / dd, 0.0, 1.0)
        diff = rel - lam[:, :, None] * d[None, :, :]
        out[start : start + chunk] = np.sqrt(np.min(np.einsum("mkj,mkj->mk", diff, diff), axis=1))
    return out


# -- the tracer ---------------------------------------------------------------------------------


class _Visited:
    """The segments a trace has made, hashed by cells of the step's size."""

    def __init__(self, origin: FloatArray, step: float) -> None:
        self.origin = origin
        self.step = step
        self.cells: dict[tuple[int, int], list[int]] = {}
        self.segments: list[tuple[FloatArray, FloatArray]] = []
        #: Arc length of the trace at the end of each segment (after a leading 0).
        self.length: list[float] = [0.0]

    def _key(self, x: FloatArray) -> tuple[int, int]:
        k = np.floor((x - self.origin) / self.step)
        return int(k[0]), int(k[1])

    def add(self, a: FloatArray, b: FloatArray) -> None:
        index = len(self.segments)
        self.segments.append((a, b))
        self.length.append(self.length[-1] + math.hypot(*(b - a)))
        for key in {self._key(a), self._key(b)}:
            self.cells.setdefault(key, []).append(index)

    def revisits(self, q: FloatArray, tq: FloatArray) -> int:
        """The first segment at least three steps back that ``q`` lies on, running the same
        way (-1 for none)."""
        i, j = self._key(q)
        recent = self.length[-1] - 3.0 * self.step
        found = -1
        for di in (-1, 0, 1):
            for dj in (-1, 0, 1):
                for index in self.cells.get((i + di, j + dj), ()):
                    if self.length[index + 1] > recent:
                        continue
                    a, b = self.segments[index]
                    d = b - a
                    dd = float(d @ d)
                    if dd == 0.0:
                        continue
                    lam = min(1.0, max(0.0, float((q - a) @ d) / dd))
                    near = math.hypot(*(q - a - lam * d)) <= LASSO * self.step
                    if near and float(tq @ d) > 0.9 * math.sqrt(dd):
                        found = index if found < 0 else min(found, index)
        return found


@dataclass
class _Traced:
    points: FloatArray
    tangents: FloatArray
    closed: bool
    dense: FloatArray
    lo: FloatArray
    hi: FloatArray


@dataclass
class _Frame:
    """What every part of the tracer shares: the plane, the box and the step's limits."""

    margin: Margin
    plane: _Plane
    rest: FloatArray
    axes: tuple[int, int]
    lo: FloatArray
    hi: FloatArray
    step: float

    def __post_init__(self) -> None:
        self.size = float(np.hypot(*(self.hi - self.lo)))
        self.hmax = 0.96 * self.step
        self.chord_max = 0.99 * self.step
        self.slack = 1e-13 * self.size
        self.piecewise = self.margin.piecewise_affine
        # A piecewise-affine boundary is straight between corners: any turn is a corner, and
        # a step's chord lies on the curve.
        self.hermite_tol = 1e-10 if self.piecewise else HERMITE_TOLERANCE
        self.corner_tol = CORNER_TOLERANCE * self.size
        self.cos_max = math.cos(PIECEWISE_TURN if self.piecewise else MAX_TURN)

    def inside(self, q: FloatArray) -> bool:
        return bool(np.all(q >= self.lo - self.slack) and np.all(q <= self.hi + self.slack))


class _Corrector:
    """Newton's corrector: back onto the curve along the gradient."""

    def __init__(self, frame: _Frame) -> None:
        self.frame = frame
        self.plane = frame.plane
        self.size = frame.size

    def __call__(self, q0: FloatArray) -> tuple[FloatArray, float, float] | None:
        """Correct ``q0`` onto the curve along the gradient.

        Returns the point, the first correction's length and the contraction (the second
        correction over the first), or None when the iteration fails to converge.
        """
        q = q0
        deltas: list[float] = []
        floor = math.inf
        for k in range(MAX_NEWTON):
            f, g, mag = self.plane.eval_with_magnitude(q)
            gg = float(g @ g)
            fv = float(f)
            if not (math.isfinite(fv) and math.isfinite(gg) and gg > 0.0):
                return None
            with np.errstate(over="ignore", invalid="ignore"):
                d = (fv / gg) * g
            if not np.all(np.isfinite(d)):
                return None
            q = q - d
            dn = math.hypot(float(d[0]), float(d[1]))
            deltas.append(dn)
            # The rounding floor: the coordinates' own resolution and the distance that the
            # rounding error of f amounts to.
            reach = float(np.max(np.abs(q)))
            floor = FLOOR * self.size + NOISE * EPS * (reach + float(mag) / math.sqrt(gg))
            if dn <= POLISH * self.size + NOISE * EPS * reach:
                break
            if k >= 1 and dn > 0.5 * deltas[-2]:
                if dn <= floor:
                    break
                return None
        else:
            if deltas[-1] > floor:
                return None
        # Below the rounding floor the corrections are noise: no contraction to measure.
        noisy = len(deltas) < 2 or deltas[1] <= floor
        contraction = 0.0 if noisy else deltas[1] / deltas[0]
        return q, deltas[0], contraction


class _StepControl:
    """One predictor-corrector step, accepted only when the curve is resolved, and the next
    step's length from the turn of the last one."""

    def __init__(self, frame: _Frame, corrector: _Corrector) -> None:
        self.frame = frame
        self.plane = frame.plane
        self.newton = corrector

    def grow(self, h: float, turn: float, hard: bool) -> float:
        """The next step after one that turned by ``turn`` (``hard``: Newton strained)."""
        grow = 2.0 if turn < 0.5 * TARGET_TURN else TARGET_TURN / turn
        grow = min(2.0, max(0.5, grow))
        if hard:
            grow = min(grow, 1.0)
        return min(self.frame.hmax, h * grow)

    def __call__(
        self, p: FloatArray, tp: FloatArray, h: float, direction: float
    ) -> tuple[FloatArray, FloatArray, float, bool] | None:
        """One predictor-corrector step, or None when it is rejected."""
        res = self.newton(p + h * tp)
        if res is None:
            return None
        q, d1, contraction = res
        _, g = self.plane.eval(q)
        tq = _tangent(g, direction)
        if tq is None:
            return None
        c = q - p
        length = math.hypot(float(c[0]), float(c[1]))
        if length == 0.0 or length > self.frame.chord_max:
            return None
        cos_turn = float(np.clip(tq @ tp, -1.0, 1.0))
        cos_chord = float(c @ tp) / length
        turn = math.acos(cos_turn)
        if d1 > 0.25 * h or contraction > 0.5 or length < 0.5 * h:
            return None
        if cos_turn < self.frame.cos_max or cos_chord < self.frame.cos_max:
            return None
        # The cubic through p and q with their tangents must stay on the curve: a step that
        # skipped a feature (the tip of a hairpin, a gap between two branches) fails here.
        inner = _HERMITE_CHECK[:, :1] * p + _HERMITE_CHECK[:, 1:2] * length * tp
        inner = inner + _HERMITE_CHECK[:, 2:3] * q + _HERMITE_CHECK[:, 3:4] * length * tq
        off = float(np.max(self.plane.distance(inner)))
        if not off <= self.frame.hermite_tol * length + self.frame.corner_tol:
            return None
        return q, tq, turn, contraction > 0.25


class _Corners:
    """The corners of a piecewise-affine boundary (ReLU networks)."""

    def __init__(self, frame: _Frame) -> None:
        self.frame = frame
        self.plane = frame.plane

    def _on_curve(self, x: FloatArray) -> bool:
        return bool(self.plane.distance(x) <= CORNER_TOLERANCE * self.frame.size)

    def __call__(
        self, p: FloatArray, tp: FloatArray, h: float, direction: float
    ) -> tuple[FloatArray, FloatArray, float] | None:
        """The next corner of a piecewise-affine boundary, and the tangent beyond it.

        Between corners the boundary of a piecewise-affine margin is straight: the corner is
        the end of the straight continuation ``p + s tp``, found by bisection on ``s``; the
        way on is the root on a small circle around it.
        """
        if self._on_curve(p + h * tp):
            return None
        lo, hi = 0.0, h
        for _ in range(60):
            m = 0.5 * (lo + hi)
            if self._on_curve(p + m * tp):
                lo = m
            else:
                hi = m
        corner = p + lo * tp
        radius = CORNER_STEP * self.frame.step
        found = self._circle(corner, tp, radius, direction)
        if found is None:
            return None
        q, t_out, new_direction = found
        # The corner exactly: where the straight piece through p meets the one through q.
        cross = float(tp[0] * t_out[1] - tp[1] * t_out[0])
        if abs(cross) > 1e-3:
            d = q - p
            s = float(d[0] * t_out[1] - d[1] * t_out[0]) / cross
            exact = p + s * tp
            if math.hypot(*(exact - corner)) <= 2.0 * radius:
                corner = exact
        return corner, t_out, new_direction

    def _circle(
        self, c: FloatArray, tp: FloatArray, r: float, direction: float
    ) -> tuple[FloatArray, FloatArray, float] | None:
        """The boundary's way on from ``c``: the root on the circle of radius ``r`` around it
        that turns least from ``tp`` (never back the way the curve came).

        Returns the root, the tangent there (pointing on) and the direction that orients it
        (reversed after passing straight through a crossing of two branches).
        """
        n = CIRCLE_SAMPLES
        base = math.atan2(float(tp[1]), float(tp[0]))
        ang = base + 2.0 * np.pi * np.arange(n + 1) / n
        f, _ = self.plane.eval(c + r * np.stack([np.cos(ang), np.sin(ang)], axis=1))
        change = np.flatnonzero(np.signbit(f[:-1]) != np.signbit(f[1:]))
        if change.size == 0:
            return None
        a, b = ang[change], ang[change + 1]
        fa = f[change]
        for _ in range(50):
            m = 0.5 * (a + b)
            fm, _ = self.plane.eval(c + r * np.stack([np.cos(m), np.sin(m)], axis=1))
            same = np.signbit(fm) == np.signbit(fa)
            a = np.where(same, m, a)
            fa = np.where(same, fm, fa)
            b = np.where(same, b, m)
        m = 0.5 * (a + b)
        dirs = np.stack([np.cos(m), np.sin(m)], axis=1)
        dots = dirs @ tp
        ok = dots > math.cos(MAX_CORNER_TURN)
        if not np.any(ok):
            return None
        d = dirs[int(np.argmax(np.where(ok, dots, -np.inf)))]
        q = c + r * d
        _, g = self.plane.eval(q)
        t = _tangent(g, direction)
        if t is None:
            return None
        if float(t @ d) < 0.0:
            t, direction = -t, -direction
        return q, t, direction


class _BoxExit:
    """Where a curve leaves the box: exactly on the edge, by the certified 1-D solver."""

    def __init__(self, frame: _Frame) -> None:
        self.frame = frame
        self.plane = frame.plane

    def __call__(
        self, p: FloatArray, tp: FloatArray, q: FloatArray, tq: FloatArray, direction: float
    ) -> tuple[FloatArray, FloatArray] | None:
        """Where the curve between ``p`` (inside) and ``q`` (outside) leaves the box."""
        length = math.hypot(*(q - p))
        best: tuple[float, FloatArray] | None = None
        for k in (0, 1):
            j = 1 - k
            for bound, outside in (
                (self.frame.lo[k], q[k] < self.frame.lo[k]),
                (self.frame.hi[k], q[k] > self.frame.hi[k]),
            ):
                if not outside:
                    continue
                s, e = self._hermite_exit(p, tp, q, tq, length, k, float(bound))
                tau = float(np.clip(e[j], self.frame.lo[j], self.frame.hi[j]))
                r = length + self.frame.slack
                window = (
                    max(float(self.frame.lo[j]), tau - r),
                    min(float(self.frame.hi[j]), tau + r),
                )
                if not window[0] < window[1]:
                    continue
                base = self.frame.rest.copy()
                axes = self.frame.axes
                base[axes[k]] = bound
                sol = solve_lines(self.frame.margin, base[None, :], axis=axes[j], window=window)[0]
                if not sol.roots:
                    continue
                roots = np.array([t for t, _ in sol.roots])
                root = float(roots[np.argmin(np.abs(roots - e[j]))])
                if abs(root - e[j]) > 0.05 * length + self.frame.slack:
                    continue
                xe = np.empty(2)
                xe[k], xe[j] = bound, root
                if math.hypot(*(xe - p)) > self.frame.chord_max:
                    continue
                if best is None or s < best[0]:
                    best = (s, xe)
        if best is None:
            return None
        xe = best[1]
        _, g = self.plane.eval(xe)
        te = _tangent(g, direction)
        return xe, (tq if te is None else te)

    @staticmethod
    def _hermite_exit(
        p: FloatArray,
        tp: FloatArray,
        q: FloatArray,
        tq: FloatArray,
        length: float,
        k: int,
        bound: float,
    ) -> tuple[float, FloatArray]:
        """The Hermite arc from ``p`` to ``q``: parameter and point where coordinate k = bound."""

        def point(s: float) -> FloatArray:
            h = _hermite_basis(np.array(s))
            out: FloatArray = h[0] * p + h[1] * length * tp + h[2] * q + h[3] * length * tq
            return out

        a, b = 0.0, 1.0
        inside_sign = math.copysign(1.0, float(p[k]) - bound) if p[k] != bound else None
        if inside_sign is None:
            return 0.0, p.copy()
        for _ in range(60):
            m = 0.5 * (a + b)
            if math.copysign(1.0, float(point(m)[k]) - bound) == inside_sign:
                a = m
            else:
                b = m
        return b, point(b)


class _Tracer:
    """Traces curves from seeds: steps, corners and the box's edge, put together."""

    def __init__(self, frame: _Frame) -> None:
        self.frame = frame
        self.plane = frame.plane
        self.newton = _Corrector(frame)
        self.step_once = _StepControl(frame, self.newton)
        self.corner = _Corners(frame)
        self.exit = _BoxExit(frame)
        #: Set when a trace reached :data:`MAX_POINTS` (the result is then not complete).
        self.truncated = False

    def march(
        self, p0: FloatArray, t0: FloatArray, direction: float
    ) -> tuple[list[FloatArray], list[FloatArray], bool]:
        """Trace from ``p0`` along ``t0`` until the box edge, a stall or the return to ``p0``."""
        pts, tans = [p0], [t0]
        p, tp = p0, t0
        h = self.frame.hmax
        visited = _Visited(self.frame.lo, self.frame.step)
        while len(pts) < MAX_POINTS:
            step = self.step_once(p, tp, h, direction)
            corner = False
            if step is None:
                # A smooth curve always has a small enough step, except at a singular point,
                # where the curve ends (passing it could cross onto another branch).
                found = self.corner(p, tp, h, direction) if self.frame.piecewise else None
                if found is None:
                    h *= 0.5
                    if h < STALL_STEP * self.frame.step:
                        return pts, tans, False
                    continue
                q, tq, direction = found
                turn, hard, corner = 0.0, True, True
            else:
                q, tq, turn, hard = step
            c = q - p
            if len(pts) >= 3:
                cc = float(c @ c)
                lam = float((p0 - p) @ c) / cc
                if 0.0 <= lam <= 1.0 and float(t0 @ c) > 0.0:
                    miss = math.hypot(*(p0 - (p + lam * c)))
                    if miss <= 0.1 * math.sqrt(cc):
                        if math.hypot(*(p - p0)) <= 1e-9 * self.frame.step:
                            pts.pop()
                            tans.pop()
                        return pts, tans, True
            if not self.frame.inside(q):
                clip = self.exit(p, tp, q, tq if not corner else tp, direction)
                if clip is None:
                    if corner:
                        return pts, tans, False
                    h *= 0.5
                    if h < STALL_STEP * self.frame.step:
                        return pts, tans, False
                    continue
                xe, te = clip
                if math.hypot(*(xe - p)) > 1e-12 * self.frame.size:
                    pts.append(xe)
                    tans.append(te)
                return pts, tans, False
            back = visited.revisits(q, tq)
            if back == 0:
                # Back at its start (just short of it): the curve is closed.
                if math.hypot(*(p - p0)) > self.frame.chord_max:
                    pts.append(q)
                    tans.append(tq)
                return pts, tans, True
            if back > 0:
                # Back on its own track away from its start: a regular curve cannot do this,
                # so the trace has crossed onto another branch.  End it before the crossing.
                return pts, tans, False
            pts.append(np.clip(q, self.frame.lo, self.frame.hi))
            tans.append(tq)
            visited.add(pts[-2], pts[-1])
            if not corner:
                h = self.step_once.grow(h, turn, hard)
            p, tp = pts[-1], tq
        self.truncated = True
        return pts, tans, False

    def curve(self, seed: FloatArray) -> _Traced:
        """Trace the curve through ``seed`` in both directions."""
        _, g = self.plane.eval(seed)
        t = _tangent(g, 1.0)
        if t is None or math.hypot(*g) <= SINGULAR * self.plane.gradient_scale(seed):
            # A singular point (the gradient vanishes: a double root, where the boundary
            # touches zero without crossing): its tangent is undefined; keep the point.
            return self.traced(seed[None, :], np.zeros((1, 2)), False)
        fwd, ftan, closed = self.march(seed, t, 1.0)
        if closed:
            return self.traced(np.array(fwd), np.array(ftan), True)
        back, btan, _ = self.march(seed, -t, -1.0)
        pts = np.array(back[:0:-1] + fwd)
        tans = np.concatenate([-np.array(btan[:0:-1]).reshape(-1, 2), np.array(ftan)])
        return self.traced(pts, tans, False)

    def traced(self, pts: FloatArray, tans: FloatArray, closed: bool) -> _Traced:
        # A piecewise-affine boundary is straight between its corners, which are points.
        dense = pts if self.frame.piecewise else _hermite(pts, tans, closed)
        if self.frame.piecewise and closed and pts.shape[0] > 1:
            dense = np.concatenate([pts, pts[:1]])
        return _Traced(pts, tans, closed, dense, dense.min(axis=0), dense.max(axis=0))


#: More unresolved cells than this from the search are reported as the grid cells holding them.
MAX_FINE_CELLS = 1000
#: Nearest vertices of a traced curve's interpolant examined per point by :func:`_near`.
NEAR_VERTICES = 8


def _near(points: FloatArray, tol: FloatArray, traced: _Traced) -> NDArray[np.bool_]:
    """Which points lie within ``tol`` of a traced curve's Hermite interpolant.

    Only the segments at the few vertices nearest each point are measured (a k-d tree finds
    them): a point within ``tol`` of the interpolant is within ``tol`` plus half a segment of
    one of that segment's ends.  A point whose nearest vertices all belong to other segments
    is reported as not near, which only costs a trace that the caller then finds duplicated.
    """
    from scipy.spatial import cKDTree

    out = np.zeros(points.shape[0], dtype=bool)
    if points.shape[0] == 0:
        return out
    reach = float(np.max(tol))
    box_ok = np.all((points >= traced.lo - reach) & (points <= traced.hi + reach), axis=1)
    idx = np.flatnonzero(box_ok)
    if not idx.size:
        return out
    dense = traced.dense
    if dense.shape[0] == 1:
        out[idx] = np.hypot(*(points[idx] - dense[0]).T) <= tol[idx]
        return out
    seg = np.diff(dense, axis=0)
    half = 0.5 * float(np.max(np.hypot(seg[:, 0], seg[:, 1])))
    k = min(NEAR_VERTICES, dense.shape[0])
    dist, near = cKDTree(dense).query(points[idx], k=k, distance_upper_bound=reach + half)
    dist, near = np.asarray(dist).reshape(idx.size, k), np.asarray(near).reshape(idx.size, k)
    found = np.isfinite(dist)
    best = np.full(idx.size, np.inf)
    x = points[idx]
    for first in (near - 1, near):
        ok = found & (first >= 0) & (first < dense.shape[0] - 1)
        j = np.where(ok, first, 0)
        a, d = dense[j], seg[j]
        dd = np.einsum("mkj,mkj->mk", d, d)
        rel = x[:, None, :] - a
        with np.errstate(invalid="ignore", divide="ignore"):
            lam = np.clip(np.einsum("mkj,mkj->mk", rel, d) / np.where(dd > 0.0, dd, 1.0), 0, 1)
        diff = rel - lam[..., None] * d
        dist_seg = np.sqrt(np.einsum("mkj,mkj->mk", diff, diff))
        best = np.minimum(best, np.min(np.where(ok, dist_seg, np.inf), axis=1))
    out[idx] = best <= tol[idx]
    return out


# -- seeds --------------------------------------------------------------------------------------


@dataclass
class _Seeds:
    points: list[FloatArray]
    gaps: list[float]
    straight: list[FloatArray]
    everywhere: bool
    #: The grid: lines ``x_a = grid[0][i]`` and ``x_b = grid[1][j]``.
    grid: list[FloatArray]
    unresolved: list[Rect]


def _line_seeds(
    tracer: _Tracer, sols: Sequence[LineSolution], fixed: FloatArray, axis: int, out: _Seeds
) -> None:
    """Seeds from the roots on lines where coordinate ``1 - axis`` is ``fixed[i]``.

    An unresolved interval on a line makes the rectangle it spans across the neighbouring
    lines unresolved; Newton's corrector from its middle still gives a seed.
    """
    other = 1 - axis
    frame = tracer.frame
    for i, (value, sol) in enumerate(zip(fixed, sols, strict=True)):
        if sol.everywhere:
            out.straight.append(_straight(frame, axis, float(value)))
            continue
        ts = [t for t, _ in sol.roots]
        for lo, hi in sol.unresolved:
            rect = [0.0, 0.0, 0.0, 0.0]
            rect[2 * axis] = max(lo, float(frame.lo[axis]))
            rect[2 * axis + 1] = min(hi, float(frame.hi[axis]))
            rect[2 * other] = float(fixed[max(i - 1, 0)])
            rect[2 * other + 1] = float(fixed[min(i + 1, fixed.size - 1)])
            out.unresolved.append((rect[0], rect[1], rect[2], rect[3]))
            if not (np.isfinite(lo) and np.isfinite(hi)):
                continue
            x = np.empty(2)
            x[axis], x[other] = 0.5 * (lo + hi), value
            res = tracer.newton(x)
            near = res is not None and math.hypot(*(res[0] - x)) <= frame.step
            if res is not None and near and frame.inside(res[0]):
                ts.append(float(res[0][axis]))
        ts.sort()
        for k, t in enumerate(ts):
            gap = min(
                t - ts[k - 1] if k > 0 else math.inf,
                ts[k + 1] - t if k + 1 < len(ts) else math.inf,
            )
            x = np.empty(2)
            x[axis], x[other] = t, value
            out.points.append(np.clip(x, frame.lo, frame.hi))
            out.gaps.append(gap)


def _straight(frame: _Frame, axis: int, value: float) -> FloatArray:
    """The points of the line (coordinate ``1 - axis`` = value) across the box."""
    lo, hi = float(frame.lo[axis]), float(frame.hi[axis])
    n = max(2, math.ceil((hi - lo) / frame.chord_max) + 1)
    pts = np.empty((n, 2))
    pts[:, axis] = np.linspace(lo, hi, n)
    pts[:, 1 - axis] = value
    return pts


#: Where the interior grid lines sit within their spacing (the golden section): off the round
#: numbers, so that a boundary lying along ``x = 0`` (within rounding) is not also a grid line.
GRID_PHASE = 0.5 * (3.0 - math.sqrt(5.0))


def _lines(lo: float, hi: float, step: float) -> FloatArray:
    """The box's two edges and interior lines ``lo + (k + GRID_PHASE) h``, ``h <= step``."""
    m = math.ceil((hi - lo) / step)
    if m + 1 > MAX_LINES:
        need = f"it would need {m + 1} lines per direction (at most {MAX_LINES})"
        raise OptionError(
            f"step={step!r} is too small for the box: {need}",
            cli=f"--step {step!r} is too small for the box: {need}",
        )
    m = max(m, 1)
    h = (hi - lo) / m
    inner = lo + (np.arange(m) + GRID_PHASE) * h
    return np.concatenate([[lo], inner[inner < hi], [hi]])


#: Grid lines solved per call when progress is reported (so that it moves on a slow network).
LINES_PER_REPORT = 16


def _seeds(tracer: _Tracer, progress: Progress | None = None) -> _Seeds:
    frame = tracer.frame
    out = _Seeds([], [], [], False, [], [])
    grid = [_lines(float(frame.lo[k]), float(frame.hi[k]), frame.step) for k in (0, 1)]
    out.grid = grid
    total = grid[0].size + grid[1].size
    done = 0
    for axis in (0, 1):
        other = 1 - axis
        fixed = grid[other]
        base = np.tile(frame.rest, (fixed.size, 1))
        base[:, frame.axes[other]] = fixed
        window = (float(frame.lo[axis]), float(frame.hi[axis]))
        chunk = fixed.size if progress is None else LINES_PER_REPORT
        sol: list[LineSolution] = []
        for start in range(0, fixed.size, chunk):
            rows = base[start : start + chunk]
            sol += solve_lines(frame.margin, rows, axis=frame.axes[axis], window=window)
            done += rows.shape[0]
            if progress is not None:
                progress("solving grid lines", done / total)
        if all(s.everywhere for s in sol):
            out.everywhere = True
            return out
        _line_seeds(tracer, sol, fixed, axis, out)
    return out


def _search_seeds(frame: _Frame, seeds: _Seeds, progress: Progress | None) -> None:
    """Add the seeds of components that cross no grid line (closed loops inside a cell)."""
    report = None if progress is None else (lambda x: progress("searching cells", x))
    if report is not None:
        report(0.0)
    grid_a, grid_b = seeds.grid
    found = region.search(frame.margin, frame.rest, frame.axes, grid_a, grid_b, progress=report)
    lost = found.unresolved
    if len(lost) > MAX_FINE_CELLS:
        # Too many to list one by one: the grid cells that hold them.
        centres = np.array(lost).reshape(-1, 2, 2).mean(axis=2)
        lost = sorted({_cell_of(seeds.grid, c) for c in centres})
    seeds.unresolved.extend(lost)
    if report is not None:
        report(1.0)
    if not found.seeds.size:
        return
    seeds.points.extend(np.clip(found.seeds, frame.lo, frame.hi))
    seeds.gaps.extend(found.gaps.tolist())


# -- what is proven -----------------------------------------------------------------------------


def _bounded_values(frame: _Frame, pts: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The margin at points ``(n, 2)`` and a rigorous bound on its error."""
    return region.wide_values(frame.margin, frame.rest, frame.axes, pts)


def _proven(frame: _Frame, pts: FloatArray) -> NDArray[np.bool_]:
    """Points proven within :data:`PROOF_DISTANCE` of the box's size from the boundary.

    The margin's sign, with its rounding error bounded, is opposite at the two ends of a
    segment of that half-length through the point: a root lies on it.  The segment runs
    along the gradient, or else (at a corner of a piecewise-affine boundary, or where the
    margin is zero on a whole piece) along an axis or a diagonal.
    """
    ok = np.zeros(pts.shape[0], dtype=bool)
    if pts.shape[0] == 0:
        return ok
    _, g = frame.plane.eval(pts)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        norm = np.hypot(g[:, 0], g[:, 1])
        n = g / norm[:, None]
    usable = np.isfinite(norm) & (norm > 0.0)
    n = np.where(usable[:, None], n, np.array([1.0, 0.0]))
    delta = PROOF_DISTANCE * frame.size
    others = region.DIRECTIONS / np.hypot(*region.DIRECTIONS.T)[:, None]
    for k in range(1 + others.shape[0]):
        todo = np.flatnonzero(~ok)
        if not todo.size:
            break
        d = n[todo] if k == 0 else others[k - 1]
        fb, eb = _bounded_values(frame, pts[todo] - delta * d)
        fa, ea = _bounded_values(frame, pts[todo] + delta * d)
        ok[todo] = ((fb + eb < 0.0) & (fa - ea > 0.0)) | ((fb - eb > 0.0) & (fa + ea < 0.0))
    return ok


def _inside_any(pts: FloatArray, rects: FloatArray) -> NDArray[np.bool_]:
    """Which points lie in (or on the edge of) any rectangle ``(k, 4)``."""
    out = np.zeros(pts.shape[0], dtype=bool)
    for start in range(0, rects.shape[0], 512):
        r = rects[start : start + 512]
        a = (pts[:, None, 0] >= r[None, :, 0]) & (pts[:, None, 0] <= r[None, :, 1])
        b = (pts[:, None, 1] >= r[None, :, 2]) & (pts[:, None, 1] <= r[None, :, 3])
        out |= np.any(a & b, axis=1)
    return out


def _cell_of(grid: list[FloatArray], p: FloatArray) -> Rect:
    """The grid cell holding the point ``p``."""
    out = []
    for k in (0, 1):
        i = int(np.clip(np.searchsorted(grid[k], p[k]), 1, grid[k].size - 1))
        out += [float(grid[k][i - 1]), float(grid[k][i])]
    return out[0], out[1], out[2], out[3]


def _runs(keep: NDArray[np.bool_], closed: bool) -> list[NDArray[np.intp]]:
    """Index runs of consecutive kept points (a closed curve's run may wrap around)."""
    n = keep.size
    if np.all(keep):
        return [np.arange(n)]
    order = np.arange(n)
    if closed:
        start = int(np.flatnonzero(~keep)[0])
        order = np.roll(order, -start)
    runs: list[NDArray[np.intp]] = []
    current: list[int] = []
    for i in order.tolist():
        if keep[i]:
            current.append(i)
        elif current:
            runs.append(np.array(current))
            current = []
    if current:
        runs.append(np.array(current))
    return runs


def _only_proven(
    frame: _Frame, curves: list[_Traced], grid: list[FloatArray], unresolved: list[Rect]
) -> list[Curve]:
    """The curves cut to their proven points outside the unresolved rectangles.

    A point that cannot be proven makes its grid cell unresolved (added to ``unresolved``).
    """
    out: list[Curve] = []
    for t in curves:
        pts = t.points
        proven = _proven(frame, pts)
        for k in np.flatnonzero(~proven).tolist():
            cell = _cell_of(grid, pts[k])
            if not unresolved or unresolved[-1] != cell:
                unresolved.append(cell)
    rects = np.array(sorted(set(unresolved))).reshape(-1, 4)
    for t in curves:
        pts = t.points
        keep = _proven(frame, pts)
        if rects.size:
            keep &= ~_inside_any(pts, rects)
        if np.all(keep):
            out.append(Curve(pts, t.closed))
            continue
        for run in _runs(keep, t.closed):
            if run.size >= 2:
                out.append(Curve(pts[run], False))
    return out


# -- the public entry points --------------------------------------------------------------------

#: Called with what is being done and the fraction of it done.
Progress = Callable[[str, float], None]


def _check_box(box: Sequence[float], limit: float = math.inf) -> Box:
    """The box as floats; refused unless finite, ordered and within ``limit`` (the inputs'
    overflow limit, :func:`netbound.sweeps.input_limit`)."""
    if len(box) != 4:
        raise OptionError(f"a box is (x1lo, x1hi, x2lo, x2hi), got {len(box)} numbers")
    x1lo, x1hi, x2lo, x2hi = (float(v) for v in box)
    for axis, lo, hi in (("x1", x1lo, x1hi), ("x2", x2lo, x2hi)):
        flag = f"--{axis}-range"
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise OptionError(
                f"box: the {axis} range ({lo!r}, {hi!r}) must be finite",
                cli=f"{flag} must be finite, got {lo!r} {hi!r}",
            )
        if not lo < hi:
            raise OptionError(
                f"box: the {axis} range ({lo!r}, {hi!r}) needs lo < hi",
                cli=f"{flag} needs LO < HI, got {lo!r} {hi!r}",
            )
        for v in (lo, hi):
            check_limit(v, limit, f"box: the {axis} range's end", cli=flag)
    return x1lo, x1hi, x2lo, x2hi


def _check_step(step: float | None, box: Box) -> float:
    """The step: default the box's diagonal / 200; at most the box's longer side."""
    x1lo, x1hi, x2lo, x2hi = box
    longest = max(x1hi - x1lo, x2hi - x2lo)
    if step is None:
        return math.hypot(x1hi - x1lo, x2hi - x2lo) / DEFAULT_DIVISIONS
    s = float(step)
    if not (math.isfinite(s) and s > 0.0):
        raise OptionError(
            f"step={s!r}: must be a positive number",
            cli=f"--step must be a positive number, got {s!r}",
        )
    if s > longest:
        raise OptionError(
            f"step={s!r} is larger than the box (its longer side is {longest:g}): "
            f"give 0 < step <= {longest:g}",
            cli=f"--step {s!r} is larger than the box (its longer side is {longest:g}): "
            f"give 0 < S <= {longest:g}",
        )
    return s


def _check_axes(net: Network, axes: tuple[int, int]) -> tuple[int, int]:
    n = net.n_inputs
    if n < 2:
        raise OptionError(f"the network has {n} input; tracing needs at least two inputs")
    a, b = (int(k) for k in axes)
    if not (0 <= a < n and 0 <= b < n) or a == b:
        raise OptionError(
            f"axes must be two different inputs among 0..{n - 1}, got ({axes[0]}, {axes[1]})"
        )
    return a, b


def _rest(net: Network, base: ArrayLike | None, axes: tuple[int, int] = (0, 1)) -> FloatArray:
    n = net.n_inputs
    axes = _check_axes(net, axes)
    if base is None:
        if n > 2:
            raise OptionError(
                f"the network has {n} inputs: give the values of the inputs beyond the two axes"
            )
        return np.zeros(2)
    b = np.asarray(base, dtype=np.float64).ravel()
    others = [k for k in range(n) if k not in axes]
    if b.size == n:
        rest = b.copy()
    elif b.size == n - 2:
        rest = np.zeros(n)
        rest[others] = b
    else:
        raise OptionError(
            f"base has {b.size} values; the network has {n} inputs (give {n} or {n - 2})"
        )
    if not np.all(np.isfinite(rest[others])):
        raise OptionError("the values of the inputs beyond the two axes must be finite")
    rest[list(axes)] = 0.0
    return rest


def trace(
    margin: Margin,
    box: Sequence[float],
    step: float | None = None,
    base: ArrayLike | None = None,
    *,
    axes: tuple[int, int] = (0, 1),
    progress: Progress | None = None,
) -> TraceResult:
    """The curves of ``margin = 0`` inside a box of two inputs.

    Parameters
    ----------
    margin
        The margin (see :func:`netbound.margin_between`, :func:`netbound.margin_threshold`).
    box
        ``(alo, ahi, blo, bhi)`` of the two inputs ``axes``, finite, with ``lo < hi``.
    step
        The largest distance between consecutive points; default the box's diagonal / 200;
        at most the box's longer side.  Grid lines are spaced at most ``step`` apart in
        each direction.
    base
        Values of the other inputs: a vector of all ``n_inputs`` values (the two at ``axes``
        ignored) or of the ``n_inputs - 2`` others.  Required when there are any.
    axes
        The two inputs spanning the plane (default the first two).
    progress
        Called with what is being done and the fraction done (the library never prints).

    Returns
    -------
    TraceResult
        The curves and the rectangles left unresolved.  Every point is proven to lie within
        1e-9 of the box's size from the boundary; every component of the boundary in the
        box is among the curves, except where it passes through an unresolved rectangle.

    Raises
    ------
    OptionError
        The box or the step is invalid, or ``base`` or ``axes`` do not fit the network.

    Examples
    --------
    >>> import netbound
    >>> from netbound.trace import trace
    >>> net = netbound.Network.from_layers([([[1.0, 1.0]], [0.0], "sigmoid")])
    >>> result = trace(netbound.margin_threshold(net), (-1.0, 1.0, -1.0, 1.0))
    >>> [(c.closed, c.points[0].tolist(), c.points[-1].tolist()) for c in result.curves]
    [(False, [1.0, -1.0], [-1.0, 1.0])]
    >>> result.complete, result.unresolved
    (True, ())
    """
    checked = _check_box(box, input_limit(margin.network))
    step = _check_step(step, checked)
    rest = _rest(margin.network, base, axes)
    axes = _check_axes(margin.network, axes)
    x1lo, x1hi, x2lo, x2hi = checked
    frame = _Frame(
        margin,
        _Plane(margin, rest, axes),
        rest,
        axes,
        np.array([x1lo, x2lo]),
        np.array([x1hi, x2hi]),
        step,
    )
    tracer = _Tracer(frame)
    if progress is not None:
        progress("solving grid lines", 0.0)
    seeds = _seeds(tracer, progress)
    if seeds.everywhere:
        return TraceResult((), checked, step, True, True, 0.0)
    _search_seeds(frame, seeds, progress)

    traced: list[_Traced] = []
    for line in seeds.straight:
        tangent = line[1] - line[0]
        tangents = np.tile(tangent / np.hypot(*tangent), (line.shape[0], 1))
        traced.append(tracer.traced(line, tangents, False))

    points = np.array(seeds.points).reshape(-1, 2)
    tol = np.minimum(CLAIM_FRACTION * step, 0.5 * np.array(seeds.gaps))
    claimed = np.zeros(points.shape[0], dtype=bool)
    # A seed that cannot be proven on the boundary (where float64 cannot tell the margin's
    # sign) is not traced: its grid cell is unresolved.
    unproven = ~_proven(frame, points)
    for k in np.flatnonzero(unproven).tolist():
        seeds.unresolved.append(_cell_of(seeds.grid, points[k]))
    claimed |= unproven
    rects = np.array(seeds.unresolved).reshape(-1, 4)
    if rects.size:
        claimed |= _inside_any(points, rects)
    for t in traced:
        claimed |= _near(points, tol, t)
    kept = list(traced)
    for i in range(points.shape[0]):
        if progress is not None and i % 16 == 0:
            progress("tracing curves", i / points.shape[0])
        if claimed[i]:
            continue
        new = tracer.curve(points[i])
        claimed[i] = True
        todo = np.flatnonzero(~claimed)
        claimed[todo] |= _near(points[todo], tol[todo], new)
        # Within the seed's own tolerance (bounded by its distance to its neighbours), so that
        # a loop nested close inside another is not taken for it.
        dup_tol = np.full(new.points.shape[0], tol[i])
        covered = np.zeros(new.points.shape[0], dtype=bool)
        for old in kept:
            covered |= _near(new.points, dup_tol, old)
        if kept and np.all(covered):
            continue
        kept.append(new)

    unresolved = list(seeds.unresolved)
    curves = tuple(_only_proven(frame, kept, seeds.grid, unresolved))
    cells = tuple(sorted(set(unresolved)))
    if progress is not None:
        progress("tracing curves", 1.0)
    return TraceResult(
        curves,
        checked,
        step,
        not cells and not tracer.truncated,
        False,
        _max_distance(frame.plane, curves),
        cells,
    )


def _max_distance(plane: _Plane, curves: Sequence[Curve]) -> float:
    if not curves:
        return 0.0
    return float(max(np.max(plane.distance(c.points)) for c in curves))


def resolve_plane(
    net: Network,
    *,
    between: tuple[str, str] | None = None,
    threshold: float | None = None,
    argmax: bool = False,
    decision: Literal["argmax", "argmin"] | None = None,
    solve_for: str | None = None,
    sweep: str | None = None,
    at: Mapping[str, float] | None = None,
    axes: tuple[int, int] | None = None,
) -> Boundary:
    """The boundary and the plane of :func:`trace_network`'s options, checked once.

    The plane is spanned by the solved-for input (horizontal, ``x1`` of a box) and the swept
    one (vertical, ``x2``).  ``axes`` (input indices) is the older way to name them.
    """
    decision = decision_of(argmax, decision)
    if net.n_inputs < 2:
        raise OptionError(
            f"the network has {net.n_inputs} input; tracing needs at least two inputs",
            cli=f"the network has {net.n_inputs} input; trace and plot need at least two",
        )
    if axes is not None:
        a, b = _check_axes(net, axes)
        names = net.input_names
        if (solve_for not in (None, names[a])) or (sweep not in (None, names[b])):
            raise OptionError(
                f"axes={tuple(axes)!r} contradicts solve_for={solve_for!r}, sweep={sweep!r}; "
                "give only one of them"
            )
        solve_for, sweep = names[a], names[b]
    return Boundary.resolve(
        net,
        between=between,
        threshold=threshold,
        decision=decision,
        solve_for=solve_for,
        sweep=sweep,
        at=at,
    )


def _plane_of(boundary: Boundary) -> tuple[tuple[int, int], FloatArray]:
    """The plane's two inputs and the input vector with the fixed inputs filled in."""
    if boundary.sweep is None:
        n = boundary.network.n_inputs
        raise OptionError(f"the network has {n} input; tracing needs at least two inputs")
    return (boundary.solve_for, boundary.sweep), boundary.bases([0.0])[0]


def trace_network(
    net: Network,
    box: Sequence[float],
    *,
    between: tuple[str, str] | None = None,
    threshold: float | None = None,
    argmax: bool = False,
    decision: Literal["argmax", "argmin"] | None = None,
    solve_for: str | None = None,
    sweep: str | None = None,
    at: Mapping[str, float] | None = None,
    step: float | None = None,
    axes: tuple[int, int] | None = None,
    progress: Progress | None = None,
) -> TraceResult:
    """The decision boundary of a network inside a box, as curves.

    The boundary is chosen as :func:`netbound.solve` chooses it (see
    :meth:`netbound.Boundary.resolve`).

    Parameters
    ----------
    net
        The network.
    box
        ``(x1lo, x1hi, x2lo, x2hi)``: ``x1`` is the solved-for input, ``x2`` the swept one.
    between
        The two outputs (by name); default the first two.
    threshold
        For single-output networks (default 0.5 for a sigmoid output, 0 otherwise).
    argmax
        Same as ``decision="argmax"``.
    decision
        ``"argmax"`` or ``"argmin"``: the boundary between decided classes (the largest or
        the lowest output): the pieces of each pair's boundary where that pair is on top
        (at the bottom for argmin), cut exactly at the junctions.
    solve_for, sweep
        The inputs spanning the plane, by name (default the first two): the horizontal and
        the vertical axis.
    at
        Values of the other inputs, by name.
    step
        The largest distance between consecutive points (default the box's diagonal / 200;
        at most the box's longer side).
    axes
        The two inputs spanning the plane, by index (instead of ``solve_for`` and ``sweep``).
    progress
        Called with what is being done and the fraction done.

    Returns
    -------
    TraceResult
        The curves; with a decision or ``between``, each curve names its two outputs.  With a
        decision the unresolved rectangles are those of every pair.

    Raises
    ------
    OptionError
        Inconsistent options (as :func:`netbound.solve`), an invalid box or step.
    """
    boundary = resolve_plane(
        net,
        between=between,
        threshold=threshold,
        argmax=argmax,
        decision=decision,
        solve_for=solve_for,
        sweep=sweep,
        at=at,
        axes=axes,
    )
    return trace_boundary(boundary, box, step=step, progress=progress)


def trace_boundary(
    boundary: Boundary,
    box: Sequence[float],
    *,
    step: float | None = None,
    progress: Progress | None = None,
) -> TraceResult:
    """:func:`trace_network` of a resolved :class:`netbound.Boundary`, in the plane of its
    solved-for (``x1``) and swept (``x2``) inputs."""
    net = boundary.network
    axes, base = _plane_of(boundary)
    names = net.output_names
    if not boundary.by_class:
        result = trace(boundary.margins[0], box, step, base, axes=axes, progress=progress)
        if boundary.pair is None:
            return result
        pair = boundary.pair
        curves = tuple(replace(c, between=(pair[0], pair[1])) for c in result.curves)
        return replace(result, curves=curves)
    sign = _sign(boundary)
    pieces: list[Curve] = []
    results = []
    pairs = list(combinations(range(len(names)), 2))
    for (a, b), margin in zip(pairs, boundary.margins, strict=True):
        label = f"({names[a]} = {names[b]})"
        report = None if progress is None else _labelled(progress, label)
        res = trace(margin, box, step, base, axes=axes, progress=report)
        results.append(res)
        plane = _Plane(margin, base, axes)
        top = _Top(net, base, axes, a, b, sign)
        for c in res.curves:
            for piece in _on_top_pieces(plane, top, c):
                pieces.append(replace(piece, between=(names[a], names[b])))
    first = results[0]
    return TraceResult(
        tuple(pieces),
        first.box,
        first.step,
        all(r.complete for r in results),
        all(r.everywhere for r in results),
        max((r.max_distance for r in results), default=0.0),
        tuple(sorted({cell for r in results for cell in r.unresolved})),
    )


def _sign(boundary: Boundary) -> float:
    """+1 when the largest output decides, -1 when the lowest does."""
    return -1.0 if boundary.decision == "argmin" else 1.0


def _labelled(progress: Progress, label: str) -> Progress:
    """A progress callback that names what it reports on."""

    def report(stage: str, done: float) -> None:
        progress(f"{stage} {label}", done)

    return report


@dataclass(frozen=True)
class _Top:
    """Whether the pair ``(a, b)`` decides (is the largest, or with ``sign = -1`` the lowest
    pair of outputs) at points of the plane."""

    net: Network
    base: FloatArray
    axes: tuple[int, int]
    a: int
    b: int
    sign: float

    def excess(self, xs: FloatArray) -> FloatArray:
        """How far the best other output beats the pair at points ``(n, 2)`` (> 0: it wins)."""
        full = np.tile(self.base, (xs.shape[0], 1))
        full[:, list(self.axes)] = xs
        pre = self.sign * self.net.preactivations(full)
        top = np.maximum(pre[:, self.a], pre[:, self.b])
        others = np.delete(pre, [self.a, self.b], axis=1)
        if others.shape[1] == 0:
            return np.full(xs.shape[0], -np.inf)
        scale = np.max(np.abs(pre), axis=1) + 1.0
        out: FloatArray = np.max(others, axis=1) - top - 1e-12 * scale
        return out


def _on_top_pieces(plane: _Plane, top: _Top, curve: Curve) -> list[Curve]:
    """The pieces of a pair's curve where the pair decides, cut at the junctions."""
    pts = curve.points
    keep = top.excess(pts) <= 0.0
    if np.all(keep):
        return [curve]
    if not np.any(keep):
        return []
    if curve.closed:
        start = int(np.flatnonzero(~keep)[0])
        pts = np.concatenate([pts[start:], pts[:start], pts[start : start + 1]])
        keep = np.concatenate([keep[start:], keep[:start], keep[start : start + 1]])
    out = []
    n = pts.shape[0]
    i = 0
    while i < n:
        if not keep[i]:
            i += 1
            continue
        j = i
        while j + 1 < n and keep[j + 1]:
            j += 1
        run = [pts[k] for k in range(i, j + 1)]
        if i > 0:
            run.insert(0, _junction(plane, top, pts[i], pts[i - 1]))
        if j + 1 < n:
            run.append(_junction(plane, top, pts[j], pts[j + 1]))
        out.append(Curve(np.array(run), False))
        i = j + 1
    return out


def _project(plane: _Plane, x: FloatArray) -> FloatArray:
    """Newton's iteration along the gradient from ``x`` onto the curve (x itself on failure)."""
    q = x
    for _ in range(MAX_NEWTON):
        f, g = plane.eval(q)
        gg = float(g @ g)
        if not (math.isfinite(float(f)) and gg > 0.0 and math.isfinite(gg)):
            return x
        q = q - (float(f) / gg) * g
    return q


def _junction(plane: _Plane, top: _Top, kept: FloatArray, dropped: FloatArray) -> FloatArray:
    """The point between two points of a pair's curve where a third output takes over."""
    lo, hi = 0.0, 1.0
    best = kept
    for _ in range(45):
        m = 0.5 * (lo + hi)
        x = _project(plane, kept + m * (dropped - kept))
        if top.excess(x[None, :])[0] <= 0.0:
            lo, best = m, x
        else:
            hi = m
    return best


def default_box(
    net: Network,
    *,
    between: tuple[str, str] | None = None,
    threshold: float | None = None,
    argmax: bool = False,
    decision: Literal["argmax", "argmin"] | None = None,
    solve_for: str | None = None,
    sweep: str | None = None,
    at: Mapping[str, float] | None = None,
    axes: tuple[int, int] | None = None,
) -> Box:
    """A box that shows where the boundary is.

    The certified roots on the 11 lines ``x2 = -5, -4, ..., 5`` (each over the whole real line
    of x1) and the 11 lines ``x1 = -5, ..., 5`` (over the whole line of x2) are points of the
    boundary; the box is their bounding box, widened to at least a quarter of its longer side
    (and 1) in each direction and padded by 10 %.  So it holds every root, near or far, that
    the whole-line solve finds on those lines, and a piece of every component crossing them.
    Without any root it is ``[-5, 5]^2``.

    Parameters
    ----------
    net, between, threshold, argmax, decision, solve_for, sweep, at, axes
        As for :func:`trace_network` (``x1`` is the solved-for input, ``x2`` the swept one).

    Returns
    -------
    tuple of float
        ``(x1lo, x1hi, x2lo, x2hi)``.
    """
    boundary = resolve_plane(
        net,
        between=between,
        threshold=threshold,
        argmax=argmax,
        decision=decision,
        solve_for=solve_for,
        sweep=sweep,
        at=at,
        axes=axes,
    )
    return boundary_box(boundary)


def boundary_box(boundary: Boundary) -> Box:
    """:func:`default_box` of a resolved :class:`netbound.Boundary`."""
    axes, base = _plane_of(boundary)
    net = boundary.network
    if not boundary.by_class:
        return _box_from_roots(net, boundary.margins, base, None, axes)
    sign = _sign(boundary)
    tops = [_Top(net, base, axes, a, b, sign) for a, b in combinations(range(net.n_outputs), 2)]
    return _box_from_roots(net, boundary.margins, base, tops, axes)


#: The largest finite double: the default box is clamped to it.
_HUGE = float(np.finfo(np.float64).max)


def _box_from_roots(
    net: Network,
    margins: Sequence[Margin],
    base: FloatArray,
    tops: Sequence[_Top] | None,
    axes: tuple[int, int] = (0, 1),
) -> Box:
    lines = np.linspace(-5.0, 5.0, 11)
    found: list[FloatArray] = []
    for k, margin in enumerate(margins):
        mine: list[FloatArray] = []
        for axis in (0, 1):
            other = 1 - axis
            rows = np.tile(base, (lines.size, 1))
            rows[:, axes[other]] = lines
            sols = solve_lines(margin, rows, axis=axes[axis])
            for value, sol in zip(lines, sols, strict=True):
                for t, _ in sol.roots:
                    x = np.empty(2)
                    x[axis], x[other] = t, value
                    mine.append(x)
        if tops is not None and mine:
            pts = np.array(mine)
            mine = list(pts[tops[k].excess(pts) <= 0.0])
        found.extend(mine)
    if not found:
        return (-5.0, 5.0, -5.0, 5.0)
    pts = np.array(found)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    with np.errstate(over="ignore", invalid="ignore"):
        # Halved before subtracting, so that roots near the largest double do not overflow.
        span = 2.0 * (0.5 * hi - 0.5 * lo)
        need = max(0.25 * float(np.max(span)), 1.0)
        widen = np.maximum(need - span, 0.0) / 2.0
        lo, hi = lo - widen, hi + widen
        pad = 0.1 * (0.5 * hi - 0.5 * lo) * 2.0
        lo = np.clip(lo - pad, -_HUGE, _HUGE)
        hi = np.clip(hi + pad, -_HUGE, _HUGE)
    return float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])
