"""Time ``trace_network`` on the sample networks (default box and the seed in [-5, 5]^2).

Run from the repository root: ``python3 benchmarks/bench_trace.py``.  Prints, per network, the
best of three wall times, the curves, the points, and whether the trace is complete.
"""

from __future__ import annotations

import time
from pathlib import Path

import netbound
from netbound.trace import default_box, trace_network

ROOT = Path(__file__).resolve().parent.parent


def _time(net: netbound.Network, box: tuple[float, float, float, float]) -> None:
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        result = trace_network(net, box)
        best = min(best, time.perf_counter() - start)
    points = sum(len(c.points) for c in result.curves)
    complete = getattr(result, "complete", None)
    name = Path(net.source or "?").name
    box_text = "[" + ", ".join(f"{v:.3g}" for v in box) + "]"
    print(
        f"{name:20s} {box_text:34s} {1e3 * best:8.1f} ms  {len(result.curves):3d} curves "
        f"{points:6d} points  complete={complete}"
    )


def main() -> None:
    seed = netbound.load(ROOT / "sample_nets" / "seed.json")
    _time(seed, (-5.0, 5.0, -5.0, 5.0))
    for path in sorted((ROOT / "sample_nets").glob("*.json")):
        net = netbound.load(path)
        argmax = net.n_outputs >= 3
        _time(net, default_box(net, argmax=argmax) if not argmax else default_box(net))


if __name__ == "__main__":
    main()
