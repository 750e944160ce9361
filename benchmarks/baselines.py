"""The two uncertified baselines the benchmarks compare netbound against.

Both evaluate the margin with their own plain-numpy forward pass (nothing of netbound's solver),
search only the window [-50, 50] and miss pairs of roots closer than the grid step:

* :func:`design_loop` -- the design card's method: per slice, the margin on a 2001-point grid,
  then ``scipy.optimize.brentq`` on every sign change, in a Python loop;
* :func:`vectorized_grid` -- what a numpy user writes: the grid for many slices in one batch,
  then ``scipy.optimize.elementwise.find_root`` on every sign change at once.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import brentq, elementwise

import netbound

FloatArray = NDArray[np.float64]
WINDOW = (-50.0, 50.0)
POINTS = 2001
#: Grid values (slices x points x widest layer) per batch of the vectorized grid: 8 MiB.
BATCH_ELEMENTS = 1_000_000


def _act(name: str, p: FloatArray, alpha: float) -> FloatArray:
    if name == "sigmoid":
        return 0.5 * (1.0 + np.tanh(0.5 * p))
    if name == "tanh":
        return np.tanh(p)
    if name == "relu":
        return np.maximum(p, 0.0)
    if name == "leaky_relu":
        return np.where(p >= 0.0, p, alpha * p)
    if name == "softplus":
        return np.logaddexp(0.0, p)
    return p


class NumpyMargin:
    """The margin ``pre_z1 - pre_z2`` (one output: ``pre - act^-1(threshold)``) in numpy."""

    def __init__(self, net: netbound.Network) -> None:
        self.hidden = [(lay.weights, lay.biases, lay.activation, lay.alpha) for lay in net.layers]
        last = self.hidden.pop()
        w, b, act = last[0], last[1], last[2]
        if w.shape[0] == 1:  # threshold 0.5 for a sigmoid output, 0 otherwise: level 0
            self.row, self.bias = w[0], float(b[0])
        else:
            self.row, self.bias = w[0] - w[1], float(b[0] - b[1])
        self.act = act
        self.width = max([2, *(w.shape[0] for w, *_ in self.hidden)])

    def __call__(self, t: FloatArray, x2: FloatArray) -> FloatArray:
        """The margin at ``(t, x2)``, elementwise over broadcast arrays."""
        t, x2 = np.broadcast_arrays(np.asarray(t, float), np.asarray(x2, float))
        v = np.stack([t, x2], axis=-1)
        for w, b, act, alpha in self.hidden:
            v = _act(act, v @ w.T + b, alpha)
        out: FloatArray = v @ self.row + self.bias
        return out


def design_loop(margin: NumpyMargin, x2s: FloatArray) -> list[list[float]]:
    """Per slice: the grid, then ``brentq`` on each sign change (and exact zeros of the grid)."""
    grid = np.linspace(*WINDOW, POINTS)
    out = []
    for x2 in x2s.tolist():
        f = margin(grid, np.float64(x2))
        idx = np.flatnonzero(np.sign(f[:-1]) * np.sign(f[1:]) < 0)
        roots = grid[f == 0.0].tolist()
        scalar = _scalar(margin, x2)
        roots += [brentq(scalar, grid[i], grid[i + 1], xtol=1e-15) for i in idx]
        out.append(sorted(roots))
    return out


def _scalar(margin: NumpyMargin, x2: float) -> Callable[[float], float]:
    one_x2 = np.array([x2])

    def f(t: float) -> float:
        return float(margin(np.array([t]), one_x2)[0])

    return f


def vectorized_grid(margin: NumpyMargin, x2s: FloatArray) -> list[list[float]]:
    """The grid for all slices (in batches that fit in memory), then one ``find_root`` call
    on every bracket of every slice."""
    grid = np.linspace(*WINDOW, POINTS)
    batch = max(1, BATCH_ELEMENTS // (POINTS * margin.width))
    lines, lefts, zero_lines, zeros = [], [], [], []
    for start in range(0, x2s.size, batch):
        f = margin(grid[None, :], x2s[start : start + batch, None])
        s, i = np.nonzero(np.sign(f[:, :-1]) * np.sign(f[:, 1:]) < 0)
        lines.append(s + start)
        lefts.append(i)
        zs, zi = np.nonzero(f == 0.0)
        zero_lines.append(zs + start)
        zeros.append(grid[zi])
    line, left = np.concatenate(lines), np.concatenate(lefts)
    roots = np.empty(0)
    if line.size:
        res = elementwise.find_root(margin, (grid[left], grid[left + 1]), args=(x2s[line],))
        roots = res.x
    line = np.concatenate([line, *zero_lines])
    t = np.concatenate([roots, *zeros])
    order = np.lexsort((t, line))
    bounds = np.searchsorted(line[order], np.arange(x2s.size + 1)).tolist()
    ts = t[order].tolist()
    return [ts[bounds[k] : bounds[k + 1]] for k in range(x2s.size)]
