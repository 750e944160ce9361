"""The design's original method, kept as a baseline: sign changes on a grid, refined by brentq.

It misses pairs of roots closer than the grid step, every tangency and everything outside its
window, so its results are never ``complete``.  Not part of netbound's API.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy.optimize import brentq

from netbound.boundary import Boundary
from netbound.margin import Margin
from netbound.network import FloatArray, Network
from netbound.solver import Root, SliceResult


def solve_grid(
    network: Network,
    x2: Sequence[float],
    *,
    between: tuple[str, str] | None = None,
    threshold: float | None = None,
    at: dict[str, float] | None = None,
    x1_range: tuple[float, float] = (-50.0, 50.0),
    points: int = 2001,
) -> list[SliceResult]:
    """Roots of the margin on a ``points``-point grid of ``x1_range``, one result per x2."""
    boundary = Boundary.resolve(network, between=between, threshold=threshold, at=at)
    margin = boundary.margins[0]
    grid = np.linspace(x1_range[0], x1_range[1], points)
    out = []
    for value in x2:
        base = boundary.bases([float(value)])[0]
        xs = np.tile(base, (points, 1))
        xs[:, 0] = grid
        f = margin.value(xs)
        idx = np.flatnonzero(np.signbit(f[:-1]) != np.signbit(f[1:]))
        one = _scalar(margin, base)
        found = [
            Root(float(brentq(one, grid[i], grid[i + 1], xtol=1e-15)), "crossing") for i in idx
        ]
        out.append(SliceResult(float(value), tuple(found), (), False, False, points))
    return out


def _scalar(margin: Margin, base: FloatArray) -> Callable[[float], float]:
    def f(t: float) -> float:
        x = base.copy()
        x[0] = t
        return float(margin.value(x))

    return f


if __name__ == "__main__":
    import netbound

    net = netbound.load("sample_nets/seed.json")
    x2 = [-1.0, 0.5]
    for grid, exact in zip(solve_grid(net, x2), netbound.solve(net, x2), strict=True):
        print(grid.x2, [r.x1 for r in grid.roots], [r.x1 for r in exact.roots])
