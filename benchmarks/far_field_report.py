"""The far-field examples of the soundness issue, solved and checked against an 80-digit
oracle (mpmath; ``tests/far_field_oracle.py``).

Run as ``python benchmarks/far_field_report.py`` (not part of the test suite).  Each line:
the command's equivalent, netbound's roots with their kinds and ``complete``, the oracle's
roots in the same window, and whether every oracle root lies in a reported enclosure (or an
unresolved interval) with nothing else reported.
"""

from __future__ import annotations

import sys
from pathlib import Path

import mpmath

import netbound

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from far_field_oracle import FarOracle  # noqa: E402

SEED = netbound.load(ROOT / "sample_nets" / "seed.json")
TANH = netbound.Network.from_layers(
    [
        ([[4.0, -3.0], [4.0, 1.0], [1.0, 0.0]], [2.0, -2.0, -1.5], "tanh"),
        ([[-2.0, -3.0, -4.0], [1.0, 1.0, -4.0]], [1.0, 0.0], "identity"),
    ]
)
CASES = [
    ("solve seed.json --x2 10", SEED, 10.0, None),
    ("solve seed.json --x2 20", SEED, 20.0, None),
    ("solve seed.json --x2 10 --x1-range -60 60", SEED, 10.0, (-60.0, 60.0)),
    ("solve tanh232.json --x2 10.96", TANH, 10.96, None),
    ("solve seed.json --x2 0.5 --x1-range -1e6 1e6", SEED, 0.5, (-1e6, 1e6)),
]


def layers(net: netbound.Network) -> list[tuple[list[list[float]], list[float], str]]:
    return [(ly.weights.tolist(), ly.biases.tolist(), ly.activation) for ly in net.layers]


def main() -> None:
    for label, net, x2, window in CASES:
        (res,) = netbound.solve(net, [x2], x1_range=window)
        lo, hi = window or (-300.0, 300.0)
        refs = FarOracle(layers(net), x2).roots(max(lo, -300.0), min(hi, 300.0))
        # (netbound 0.1 had no enclosures: its roots count as points.)
        covers = [getattr(r, "enclosure", None) or (r.x1, r.x1) for r in res.roots]
        covers += list(res.unresolved)
        found = all(any(a <= ref <= b for a, b in covers) for ref in refs)  # type: ignore[misc]
        exact = len([r for r in res.roots if r.kind == "crossing"]) == len(refs)
        print(f"$ netbound {label}")
        print(
            f"  netbound: {[(r.x1, r.kind) for r in res.roots]} unresolved {list(res.unresolved)}"
        )
        print(f"            complete={res.complete}")
        print(f"  oracle:   {[mpmath.nstr(r, 17) for r in refs]}")
        print(f"  every oracle root enclosed and nothing else: {found and exact}")


if __name__ == "__main__":
    main()
