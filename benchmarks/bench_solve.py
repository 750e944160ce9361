"""netbound.solve against the design's grid + brentq baseline, on 10^4 slices per network.

Run as ``python benchmarks/bench_solve.py [--slices N]`` (not part of the test suite).

Baseline (the original design's method), per slice, in a Python loop: evaluate the margin on a
2001-point grid of [-50, 50] with numpy, then ``scipy.optimize.brentq`` on every sign change.
netbound: one ``netbound.solve`` call over all slices; its start-up (the time of a 1-slice
call) is subtracted.  "agree" is the fraction of slices on which both report the same
crossings inside [-50, 50] (to 1e-8); "nb only" counts roots inside [-50, 50] that netbound
found and the grid missed.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import brentq

import netbound

ROOT = Path(__file__).resolve().parent.parent
GRID = np.linspace(-50.0, 50.0, 2001)
AGREE_TOL = 1e-8


def seed_net() -> netbound.Network:
    path = ROOT / "sample_nets" / "seed.json"
    if path.exists():
        return netbound.load(path)
    cases = json.loads((ROOT / "tests" / "data" / "reference_roots.json").read_text())
    case = next(c for c in cases if c["name"].startswith("seed232"))
    return netbound.loads(json.dumps(case["net"]), case["name"])


def tanh_net() -> netbound.Network:
    rng = np.random.default_rng(2024)
    w1 = rng.normal(0.0, 2.0, (8, 2))
    b1 = -w1[:, 0] * rng.uniform(-4.0, 4.0, 8)
    w2 = rng.normal(0.0, 1.5, (2, 8))
    b2 = rng.normal(0.0, 0.5, 2)
    return netbound.Network.from_layers([(w1, b1, "tanh"), (w2, b2, "sigmoid")])


def deep_net() -> netbound.Network:
    rng = np.random.default_rng(7)
    w1 = rng.normal(0.0, 2.5, (6, 2))
    b1 = -w1[:, 0] * rng.uniform(-4.0, 4.0, 6)
    w2 = rng.normal(0.0, 1.5, (5, 6))
    b2 = rng.normal(0.0, 1.0, 5)
    w3 = rng.normal(0.0, 1.5, (2, 5))
    b3 = rng.normal(0.0, 0.5, 2)
    return netbound.Network.from_layers(
        [(w1, b1, "sigmoid"), (w2, b2, "tanh"), (w3, b3, "sigmoid")]
    )


def _act(name: str, p: np.ndarray) -> np.ndarray:
    if name == "sigmoid":
        return 0.5 * (1.0 + np.tanh(0.5 * p))
    if name == "tanh":
        return np.tanh(p)
    if name == "relu":
        return np.maximum(p, 0.0)
    return p


class NumpyMargin:
    """The margin pre_z1 - pre_z2 in plain numpy (the baseline's own evaluation)."""

    def __init__(self, net: netbound.Network) -> None:
        self.layers = [(layer.weights, layer.biases, layer.activation) for layer in net.layers]

    def __call__(self, x1: np.ndarray, x2: float) -> np.ndarray:
        v = np.column_stack([x1, np.full_like(x1, x2)])
        for w, b, act in self.layers[:-1]:
            v = _act(act, v @ w.T + b)
        w, b, _ = self.layers[-1]
        pre = v @ w.T + b
        return pre[:, 0] - pre[:, 1]


def baseline(margin: NumpyMargin, x2s: np.ndarray) -> list[list[float]]:
    out = []
    for x2 in x2s:
        f = margin(GRID, float(x2))
        idx = np.nonzero(np.sign(f[:-1]) * np.sign(f[1:]) < 0)[0]
        roots = [float(GRID[i]) for i in np.nonzero(f == 0.0)[0]]

        def scalar(t: float, x2: float = float(x2)) -> float:
            return float(margin(np.array([t]), x2)[0])

        for i in idx:
            roots.append(brentq(scalar, GRID[i], GRID[i + 1]))
        out.append(sorted(roots))
    return out


def agree(a: list[float], b: list[float]) -> bool:
    return len(a) == len(b) and all(abs(x - y) <= AGREE_TOL for x, y in zip(a, b, strict=True))


def bench(name: str, net: netbound.Network, slices: int) -> dict[str, Any]:
    x2s = np.linspace(-3.0, 3.0, slices)
    margin = NumpyMargin(net)
    t0 = time.perf_counter()
    base = baseline(margin, x2s)
    t_base = time.perf_counter() - t0

    netbound.solve(net, [0.123])  # warm-up: imports, caches
    starts = []
    for _ in range(3):
        t0 = time.perf_counter()
        netbound.solve(net, [0.123])
        starts.append(time.perf_counter() - t0)
    t_start = min(starts)
    t0 = time.perf_counter()
    results = netbound.solve(net, x2s)
    t_raw = time.perf_counter() - t0
    t_nb = max(t_raw - t_start, 1e-9)

    inside = [
        [r.x1 for r in res.roots if r.kind == "crossing" and -50.0 <= r.x1 <= 50.0]
        for res in results
    ]
    same = sum(agree(a, b) for a, b in zip(base, inside, strict=True))
    nb_only = sum(max(0, len(b) - len(a)) for a, b in zip(base, inside, strict=True))
    return {
        "net": name,
        "slices": slices,
        "base_us": 1e6 * t_base / slices,
        "nb_us": 1e6 * t_nb / slices,
        "startup_ms": 1e3 * t_start,
        "raw_s": t_raw,
        "ratio": t_base / t_nb,
        "evals": sum(r.evaluations for r in results) / slices,
        "complete": sum(r.complete for r in results) / slices,
        "agree": same / slices,
        "nb_only": nb_only,
        "roots": sum(len(r.roots) for r in results) / slices,
        "outside": sum(1 for r in results for root in r.roots if not -50.0 <= root.x1 <= 50.0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=10_000)
    args = parser.parse_args()
    nets = [
        ("seed 2-3-2 sigmoid", seed_net()),
        ("2-8-2 tanh", tanh_net()),
        ("2-6-5-2 sigmoid/tanh", deep_net()),
    ]
    rows = [bench(name, net, args.slices) for name, net in nets]
    head = (
        f"{'network':<22} {'slices':>7} {'baseline us/slice':>18} {'netbound us/slice':>18} "
        f"{'baseline/netbound':>18} {'evals/slice':>12} {'complete':>9} {'agree':>7} "
        f"{'nb-only roots':>14} {'roots |x1|>50':>14}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        print(
            f"{r['net']:<22} {r['slices']:>7} {r['base_us']:>18.1f} {r['nb_us']:>18.1f} "
            f"{r['ratio']:>18.2f} {r['evals']:>12.1f} {r['complete']:>9.2%} {r['agree']:>7.2%} "
            f"{r['nb_only']:>14} {r['outside']:>14}"
        )
    print(
        "\nnetbound start-up (1-slice call, subtracted): "
        + ", ".join(f"{r['net']}: {r['startup_ms']:.1f} ms" for r in rows)
    )
    print(
        "netbound wall time of the whole call: "
        + ", ".join(f"{r['net']}: {r['raw_s']:.3f} s" for r in rows)
    )
    print(
        "agree: same crossings inside [-50, 50] to 1e-8; nb-only roots: found by netbound "
        "inside [-50, 50] but missed by the grid; roots |x1|>50: outside the baseline's window"
    )


if __name__ == "__main__":
    main()
