"""An independent oracle for the far field, where hidden units saturate (a test helper).

Nothing here imports netbound.  The margin of a network given as layer lists
``[(W out x in, b, activation), ...]`` (``pre_a - pre_b`` of its two outputs) is evaluated in
mpmath at ``dps`` digits, enough to see margins of 1e-18 to 1e-300 between O(1) outputs.
The roots are found by a scan whose points are dense in every first-layer unit's transition
region and spread geometrically beyond, then bisected in mpmath to ``dps`` digits.

Its limits: two roots closer than the scan's local step are missed (the far-field families
of the tests have well separated roots), and where the margin is zero to 15 times ``dps``
digits its sign is unknown and no root is looked for.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import mpmath

Layers = Sequence[tuple[Any, ...]]


def _act(name: str, p: Any) -> Any:
    if name == "sigmoid":
        return 1 / (1 + mpmath.exp(-p))
    if name == "tanh":
        return mpmath.tanh(p)
    if name == "identity":
        return p
    if name == "relu":
        return p if p > 0 else mpmath.mpf(0)
    raise ValueError(name)


@dataclass
class FarOracle:
    layers: Layers
    x2: float
    dps: int = 80

    def margin(self, x1: Any) -> Any:
        with mpmath.workdps(max(self.dps, mpmath.mp.dps)):
            v = [mpmath.mpf(x1), mpmath.mpf(self.x2)]
            for w, b, act in self.layers[:-1]:
                v = [
                    _act(
                        act,
                        mpmath.fsum(mpmath.mpf(a) * x for a, x in zip(row, v, strict=True)) + bj,
                    )
                    for row, bj in zip(w, b, strict=True)
                ]
            w, b, _ = self.layers[-1]
            pre = [
                mpmath.fsum(mpmath.mpf(a) * x for a, x in zip(row, v, strict=True)) + bj
                for row, bj in zip(w, b, strict=True)
            ]
            return pre[0] - pre[1]

    def sign(self, x1: Any) -> int:
        """The margin's sign, at up to 15 times ``dps`` digits; 0 where even that sees 0."""
        for scale in (1, 5, 15):
            with mpmath.workdps(self.dps * scale):
                f = self.margin(x1)
            if f != 0:
                return 1 if f > 0 else -1
        return 0

    def scan_points(self, lo: float, hi: float) -> list[float]:
        w, b, _ = self.layers[0]
        pts = {lo, hi}
        n = 400
        pts.update(lo + (hi - lo) * k / n for k in range(n + 1))
        for (a1, a2), bj in zip(w, b, strict=True):
            if a1 == 0:
                continue
            centre = -(a2 * self.x2 + bj) / a1
            half = 60.0 / abs(a1)
            for k in range(-240, 241):
                x = centre + half * k / 240
                if lo < x < hi:
                    pts.add(x)
            # Geometric spread beyond the transition region, for tails that balance late.
            for k in range(1, 60):
                for x in (centre + half * 1.15**k, centre - half * 1.15**k):
                    if lo < x < hi:
                        pts.add(x)
        return sorted(pts)

    def roots(self, lo: float, hi: float) -> list[Any]:
        """The sign changes of the margin on ``[lo, hi]``, each to ``dps`` digits."""
        pts = self.scan_points(lo, hi)
        signs = [self.sign(x) for x in pts]
        out: list[Any] = []
        for (a, sa), (b, sb) in itertools.pairwise(zip(pts, signs, strict=True)):
            # A sign of 0 is a margin below every precision tried: no root is claimed there.
            if sa != 0 and sb != 0 and sa != sb:
                out.append(self._bisect(a, b, sa))
        return out

    def _bisect(self, a: float, b: float, sa: int) -> Any:
        with mpmath.workdps(self.dps):
            lo, hi = mpmath.mpf(a), mpmath.mpf(b)
            for _ in range(90):
                m = (lo + hi) / 2
                s = self.sign(m)
                if s == 0:
                    return m
                if s == sa:
                    lo = m
                else:
                    hi = m
            return (lo + hi) / 2
