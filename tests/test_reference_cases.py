"""netbound.solve against the independently computed roots of tests/data/reference_roots.json.

The rules are those of the cases' README: a root counts as found when
``|found - ref| <= 1e-9 * max(1, |ref|)``; a cluster (a double root of the reference) is covered
by anything netbound reports within 1e-6 of it (a root or an unresolved interval); netbound
reports no crossing that is neither a reference root nor in a cluster.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import netbound

DATA = Path(__file__).parent / "data" / "reference_roots.json"
CASES: list[dict[str, Any]] = json.loads(DATA.read_text())
ROOT_RTOL = 1e-9
CLUSTER_SLACK = 1e-6


def _slices() -> list[Any]:
    out = []
    for case in CASES:
        for x2, expected in zip(case["x2"], case["expected"], strict=True):
            out.append(pytest.param(case, x2, expected, id=f"{case['name']}-x2={x2!r}"))
    return out


def _tol(ref: float) -> float:
    return ROOT_RTOL * max(1.0, abs(ref))


def _near_cluster(lo: float, hi: float, clusters: list[tuple[float, float]]) -> bool:
    """Does [lo, hi] come within CLUSTER_SLACK of a cluster?"""
    return any(lo <= c_hi + CLUSTER_SLACK and hi >= c_lo - CLUSTER_SLACK for c_lo, c_hi in clusters)


@pytest.mark.parametrize(("case", "x2", "expected"), _slices())
def test_reference_slice(case: dict[str, Any], x2: float, expected: dict[str, Any]) -> None:
    net = netbound.loads(json.dumps(case["net"]), case["name"])
    at = {name: 0.25 for name in net.input_names[2:]}
    between = tuple(case["between"]) if case["between"] else None
    (res,) = netbound.solve(net, [x2], between=between, threshold=case["threshold"], at=at or None)
    roots = [float(r) for r in expected["roots"]]
    clusters = [(float(lo), float(hi)) for lo, hi in expected["clusters"]]
    crossings = [r.x1 for r in res.roots if r.kind == "crossing"]
    shown = (
        f"{case['name']} x2={x2!r}: expected roots {roots} clusters {clusters}; got "
        f"{[(r.x1, r.kind) for r in res.roots]} unresolved {list(res.unresolved)} "
        f"complete={res.complete} everywhere={res.everywhere}"
    )
    assert res.x2 == x2
    assert res.roots == tuple(sorted(res.roots, key=lambda r: r.x1)), shown

    missing = [r for r in roots if not any(abs(c - r) <= _tol(r) for c in crossings)]
    assert not missing, f"reference roots not found: {missing}\n{shown}"

    covers = [(r.x1, r.x1) for r in res.roots] + [tuple(u) for u in res.unresolved]
    uncovered = [c for c in clusters if not _near_cluster(c[0], c[1], covers)]
    assert not uncovered, f"clusters not covered: {uncovered}\n{shown}"

    extra = [
        r
        for r in res.roots
        if not any(abs(r.x1 - ref) <= _tol(ref) for ref in roots)
        and not _near_cluster(r.x1, r.x1, clusters)
    ]
    assert not extra, f"roots that are no reference root: {extra}\n{shown}"

    doubled = [r for r in roots if sum(abs(c - r) <= _tol(r) for c in crossings) > 1]
    assert not doubled, f"reference roots reported more than once: {doubled}\n{shown}"

    if "everywhere" in expected:
        assert res.everywhere == expected["everywhere"], shown
    if not clusters:
        assert res.complete, f"not certified complete on a case without clusters\n{shown}"
