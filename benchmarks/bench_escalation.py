"""How often the solver leaves float64 for ball arithmetic (python-flint), per 10^4 slices.

Run as ``python benchmarks/bench_escalation.py [--slices N]`` (not part of the test suite).

Counts per 10^4 slices, over N slices of each network: the intervals that float64 could not
decide and that went to :func:`netbound.ball.isolate`, the crossing enclosures shrunk by
:func:`netbound.ball.refine`, and the ball evaluations spent in all; and the time per slice.
The ordinary nets are those of ``bench_solve.py`` (x2 in [-3, 3]); the far-field set is the
seed network at |x2| in [8, 30] and the far-field reference cases of ``tests/data``.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from bench_solve import deep_net, seed_net, tanh_net

import netbound
from netbound import ball

ROOT = Path(__file__).resolve().parent.parent
COUNTS: Counter[str] = Counter()


def _counting(name: str, func: Any) -> Any:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        COUNTS[name] += 1
        return func(*args, **kwargs)

    return wrapper


def _install() -> None:
    ball.isolate = _counting("isolate", ball.isolate)  # type: ignore[assignment]
    ball.refine = _counting("refine", ball.refine)  # type: ignore[assignment]
    evaluate = ball.BallLine.evaluate
    ball.BallLine.evaluate = _counting("ball evaluations", evaluate)  # type: ignore[method-assign]


def run(name: str, net: netbound.Network, x2: np.ndarray, window: Any = None) -> None:
    COUNTS.clear()
    t0 = time.perf_counter()
    res = netbound.solve(net, x2, x1_range=window)
    dt = time.perf_counter() - t0
    scale = 1e4 / x2.size
    complete = sum(r.complete for r in res) / len(res)
    print(
        f"| {name} | {x2.size} | {COUNTS['isolate'] * scale:.0f} | {COUNTS['refine'] * scale:.0f}"
        f" | {COUNTS['ball evaluations'] * scale:.0f} | {1e6 * dt / x2.size:.1f} | {complete:.1%} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=10_000)
    args = parser.parse_args()
    if not ball.available():
        raise SystemExit("python-flint is not installed: pip install 'netbound[exact]'")
    _install()
    print("| net | slices | isolate | refine | ball evals | µs/slice | complete |")
    print("|---|---|---|---|---|---|---|")
    x2 = np.linspace(-3.0, 3.0, args.slices)
    for name, net in (
        ("seed 2-3-2", seed_net()),
        ("2-8-2 tanh", tanh_net()),
        ("2-6-5-2", deep_net()),
    ):
        run(name, net, x2)
    far = np.concatenate(
        [np.linspace(8.0, 30.0, args.slices // 20), np.linspace(-30.0, -8.0, args.slices // 20)]
    )
    run("seed, |x2| in [8, 30]", seed_net(), far)
    for case in json.loads((ROOT / "tests" / "data" / "farfield_roots.json").read_text()):
        net = netbound.loads(json.dumps(case["net"]), case["name"])
        run(
            f"far field {case['name']}",
            net,
            np.array(case["x2"], dtype=float),
            tuple(case["x1_range"]),
        )


if __name__ == "__main__":
    main()
